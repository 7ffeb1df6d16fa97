import Foundation

/// A fixed set of compute workers, one serial Dispatch queue each.
///
/// Serial queues fed only non-blocking work never make libdispatch add threads, so the pool
/// stays exactly `count` threads wide however long the I/O lane takes.
final class WorkerPool: Sendable {
    private let queues: [DispatchQueue]

    init(count: Int) {
        queues = (0..<count).map { DispatchQueue(label: "h5batch.worker.\($0)", qos: .userInitiated) }
    }

    var count: Int { queues.count }

    func submit(to worker: Int, _ work: @escaping @Sendable () -> Void) {
        queues[worker].async(execute: work)
    }
}

/// Completions posted by workers and collected by the I/O lane.
final class Mailbox<Message: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var messages: [Message] = []

    func post(_ message: Message) {
        condition.lock()
        messages.append(message)
        condition.signal()
        condition.unlock()
    }

    /// Every message posted so far, waiting for at least one when `wait` is true.
    func take(wait: Bool) -> [Message] {
        condition.lock()
        defer { condition.unlock() }
        while wait && messages.isEmpty { condition.wait() }
        let taken = messages
        messages.removeAll(keepingCapacity: true)
        return taken
    }
}
