import Foundation

/// Standard error, shared by log lines and the live progress line.
///
/// On a terminal the progress line is redrawn in place (carriage return, erase line); a log
/// line erases it, is written, and the progress line is drawn again below it, so the two never
/// interleave. Every write is one `write(2)` under a lock, so lines from different threads
/// never mix.
final class Console: @unchecked Sendable {
    static let standardError = Console(descriptor: STDERR_FILENO)

    let descriptor: Int32
    /// Whether the descriptor is a terminal that understands the erase-line sequence.
    let isTerminal: Bool
    private let lock = NSLock()
    private var status: String?

    init(descriptor: Int32) {
        self.descriptor = descriptor
        let term = ProcessInfo.processInfo.environment["TERM"] ?? ""
        isTerminal = isatty(descriptor) == 1 && term != "dumb"
    }

    /// Writes `text` as a line of its own.
    func line(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        if let status {
            write(Self.eraseLine + text + "\n" + status)
        } else {
            write(text + "\n")
        }
    }

    /// Shows `text` as the live line (cut to the terminal's width), or removes it (nil).
    func setStatus(_ text: String?) {
        lock.lock()
        defer { lock.unlock() }
        let shown = text.map { String($0.prefix(max(20, terminalColumns() - 1))) }
        guard shown != status else { return }
        write(Self.eraseLine + (shown ?? ""))
        status = shown
    }

    private static let eraseLine = "\r\u{1B}[2K"

    private func terminalColumns() -> Int {
        var size = winsize()
        guard ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }  // stderr gone: nothing better to do
            bytes = bytes.dropFirst(written)
        }
    }
}
