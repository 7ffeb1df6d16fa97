import Foundation

/// An exclusive claim on an output path for one run: `OUTPUT.lock` beside it, held with
/// `flock` for as long as the run writes.
///
/// The kernel drops a `flock` when its process dies, so a lock file left by a killed run never
/// blocks the next one: that run takes the file over. The file holds the holder's process id,
/// so a refused run can say who is writing.
final class OutputLock {
    let path: String
    private var descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    /// Claims `output`, or throws `H5BatchError(.busy)` naming the process that holds it.
    static func acquire(for output: String) throws -> OutputLock {
        let path = RunFiles(output: output).lock
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw cannotCreate(path, reason: errno) }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let reason = errno
                let holder = holderDescription(fd)
                close(fd)
                if reason == EWOULDBLOCK { throw busy(output, holder: holder) }
                throw H5BatchError(.io, "cannot lock \(path): \(String(cString: strerror(reason)))")
            }
            // The holder may have removed the file between our open and our flock: then this
            // lock is on a deleted file, and the path must be claimed afresh.
            var held = stat(), current = stat()
            guard fstat(fd, &held) == 0, stat(path, &current) == 0,
                  held.st_dev == current.st_dev, held.st_ino == current.st_ino else {
                close(fd)
                continue
            }
            let record = "\(getpid())\n"
            guard ftruncate(fd, 0) == 0, pwrite(fd, record, record.utf8.count, 0) == record.utf8.count else {
                let message = String(cString: strerror(errno))
                unlink(path)
                close(fd)
                throw H5BatchError(.cannotCreate, "cannot write the lock file \(path): \(message)")
            }
            return OutputLock(path: path, descriptor: fd)
        }
    }

    /// "process 1234", or "another process" when the file does not say.
    private static func holderDescription(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = pread(fd, &buffer, buffer.count, 0)
        return holderDescription(count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : "")
    }

    private static func holderDescription(_ record: String) -> String {
        if let pid = Int32(record.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 {
            return "process \(pid)"
        }
        return "another process"
    }

    private static func cannotCreate(_ path: String, reason: Int32) -> H5BatchError {
        H5BatchError(.cannotCreate, "cannot create the lock file \(path): \(String(cString: strerror(reason)))")
    }

    private static func busy(_ output: String, holder: String) -> H5BatchError {
        H5BatchError(.busy, "output \(output) is being written by another h5batch run (\(holder)); try again once it has finished")
    }

    // MARK: - Looking without taking it (h5batch check)

    /// Whether a lock file is there and whether a process holds it.
    enum State: String {
        /// No lock file.
        case none
        /// A lock file left by a run that ended: the next run takes it over.
        case free
        /// Another run is writing the output.
        case held
        /// `/proc/locks` cannot be read.
        case unknown
    }

    /// The state of `output`'s lock, read from `/proc/locks` (which lists every lock with its
    /// file's device and inode) rather than by trying to take it; when held, the holder as the
    /// lock file names it.
    static func status(of output: String) -> (state: State, holder: String?) {
        let path = RunFiles(output: output).lock
        var info = stat()
        guard stat(path, &info) == 0 else { return (.none, nil) }
        guard let locks = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return (.unknown, nil) }
        let device = UInt64(info.st_dev)
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)
        let minor = (device & 0xff) | ((device >> 12) & ~0xff)
        let key = String(format: "%02llx:%02llx:%llu", major, minor, UInt64(info.st_ino))
        // "1: FLOCK  ADVISORY  WRITE 4242 fe:00:16222904 0 EOF"; waiters read "1: -> FLOCK …".
        let held = locks.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count >= 6 && fields[1] == "FLOCK" && fields[5] == key
        }
        guard held else { return (.free, nil) }
        return (.held, holderDescription((try? String(contentsOfFile: path, encoding: .utf8)) ?? ""))
    }

    /// What `acquire` would throw when the output's folder exists (a run claims the output
    /// first), found without taking the lock: a lock file it cannot open, or a lock another
    /// process holds. nil when the folder does not exist yet.
    static func refusal(for output: String) -> H5BatchError? {
        guard OutputTarget.folderExists(for: output) else { return nil }
        let path = RunFiles(output: output).lock
        let exists = FileManager.default.fileExists(atPath: path)
        if access(exists ? path : OutputTarget.folder(of: output), W_OK) != 0 { return cannotCreate(path, reason: errno) }
        let status = status(of: output)
        guard status.state == .held else { return nil }
        return busy(output, holder: status.holder ?? "another process")
    }

    /// Removes the lock file, then lets go of the lock (in that order, so a waiting run that
    /// opened the old file notices it is gone). Idempotent.
    func release() {
        guard descriptor >= 0 else { return }
        unlink(path)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
