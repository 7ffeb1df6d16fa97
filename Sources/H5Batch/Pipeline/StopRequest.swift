import Synchronization

/// Asks a running pipeline to stop: it reads nothing more, finishes and writes the batches in
/// flight, saves a checkpoint and throws `H5BatchError(.stopped)`. Safe to call from any
/// thread, e.g. a signal handler's queue.
public final class StopRequest: Sendable {
    private let signal = Atomic<Int32>(0)

    /// A request not made yet.
    public init() {}

    /// Records the request; returns false if one was made before (the caller may then give up
    /// waiting). `signal` is the signal that asked (SIGINT, SIGTERM), or 0.
    @discardableResult
    public func request(signal number: Int32) -> Bool {
        signal.compareExchange(expected: 0, desired: number == 0 ? -1 : number, ordering: .relaxed).exchanged
    }

    /// True once `request(signal:)` has been called, from any thread.
    public var isRequested: Bool { signal.load(ordering: .relaxed) != 0 }

    /// The signal that asked, if one did.
    public var signalNumber: Int32? {
        let value = signal.load(ordering: .relaxed)
        return value > 0 ? value : nil
    }
}
