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
            guard fd >= 0 else {
                throw H5BatchError(.cannotCreate, "cannot create the lock file \(path): \(String(cString: strerror(errno)))")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let reason = errno
                let holder = holderDescription(fd)
                close(fd)
                if reason == EWOULDBLOCK {
                    throw H5BatchError(.busy, "output \(output) is being written by another h5batch run (\(holder)); try again once it has finished")
                }
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
        let text = count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : ""
        if let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 {
            return "process \(pid)"
        }
        return "another process"
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
