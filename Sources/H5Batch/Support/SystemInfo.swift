import Foundation

/// Facts about the machine and the process that runs choose and report with.
public enum SystemInfo {
    /// Memory the process may use: physical memory, or the cgroup (container) limit if lower.
    public static var availableMemory: Int {
        let physical = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
           let limit = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0 {
            return min(physical, limit)
        }
        return physical
    }

    /// Cores this process may run on.
    public static var activeCores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// The process's peak resident set size so far: `VmHWM`, the high-water mark of this
    /// process's own address space. (`getrusage`'s `ru_maxrss` also counts the parent's size at
    /// the time of fork, which inflates it when a large program starts h5batch.)
    public static var peakResidentBytes: Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") {
            return kib * 1024
        }
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss) * 1024
    }

    /// Threads in this process now (from /proc), for showing the pool stays fixed.
    public static var threadCount: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
    }
}

/// Monotonic time in seconds, for phase timings.
@inline(__always)
func now() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}
