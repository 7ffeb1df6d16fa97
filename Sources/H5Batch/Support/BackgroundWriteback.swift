import CHDF5
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file being written back to disk on a thread of its own, and drops what is on disk
/// from the page cache, so that the final fsync has almost nothing left to do and the output
/// does not fill the page cache.
///
/// Why a thread: starting writeback (`sync_file_range(SYNC_FILE_RANGE_WRITE)`) waits for room in
/// the disk's request queue. Called on the I/O lane after each batch, that wait stalled reads
/// and writes: on one machine it saved 0.3 s of a 1 GiB run's final fsync, on another it cost
/// up to 2.6 s. Here the lane only posts a request and never blocks; the thread sleeps in the
/// kernel instead, and requests that arrive meanwhile merge into one.
///
/// Why drop: a write into page-cache pages the kernel has to find first costs far more than the
/// copy. On this project's VMs, writing 1 GiB into fresh page cache took 2.5–3.5 s of system
/// time, and 0.4 s when the pages written 64 MiB earlier were written back and dropped, so
/// the kernel reuses them (docs/ARCHITECTURE.md). A batch job's output is not read back soon,
/// and dropping it also spares the page cache that holds the input.
///
/// The file is opened again, read-only, by path: a descriptor of its own that holds none of
/// libhdf5's locks, so the thread may outlive libhdf5's handle, or the rename of the file.
/// Best effort throughout: a file that cannot be opened, or a system that refuses, only means
/// the final fsync has more to do. Dropping skips dirty pages, so it never loses data.
final class BackgroundWriteback: Sendable {
    private let worker: Worker

    /// Nil when the file cannot be opened (the fsync still makes it durable).
    init?(path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        worker = Worker(descriptor: descriptor)
        let worker = self.worker
        let thread = Thread { worker.serve() }
        thread.name = "h5batch.writeback"
        thread.start()
    }

    /// Asks for what the file holds now to be written back; returns at once.
    func request() { worker.post(stop: false) }

    /// Stops the thread (after the write-back it may be starting) and closes the descriptor.
    deinit { worker.post(stop: true); worker.waitUntilFinished() }

    /// The thread's side, kept apart so that the thread does not keep its owner alive.
    private final class Worker: @unchecked Sendable {
        private let descriptor: Int32
        private let condition = NSCondition()
        private var requested = false
        private var stopping = false
        private let finished = DispatchSemaphore(value: 0)

        init(descriptor: Int32) { self.descriptor = descriptor }

        func post(stop: Bool) {
            condition.lock()
            if stop { stopping = true } else { requested = true }
            condition.signal()
            condition.unlock()
        }

        func serve() {
            // Bytes before `dropped` are on disk and out of the cache; writeback has been
            // started up to `started`. The newest `window` bytes stay cached, so waiting for
            // their writes is rarely needed.
            let window = 64 << 20
            var started = 0, dropped = 0
            condition.lock()
            while true {
                while !requested && !stopping { condition.wait() }
                if stopping { break }
                requested = false
                condition.unlock()
                var status = stat()
                if fstat(descriptor, &status) == 0 {
                    let end = Int(status.st_size)
                    if end > started {
                        _ = sync_file_range(descriptor, Int64(started), Int64(end - started), H5B_SYNC_FILE_RANGE_WRITE)
                        started = end
                    }
                    if end - window > dropped {
                        let range = (Int64(dropped), Int64(end - window - dropped))
                        if sync_file_range(descriptor, range.0, range.1, H5B_SYNC_FILE_RANGE_WAIT_ALL) == 0 {
                            _ = posix_fadvise(descriptor, off_t(range.0), off_t(range.1), POSIX_FADV_DONTNEED)
                        }
                        dropped = end - window
                    }
                }
                condition.lock()
            }
            condition.unlock()
            close(descriptor)
            finished.signal()
        }

        func waitUntilFinished() { finished.wait() }
    }
}
