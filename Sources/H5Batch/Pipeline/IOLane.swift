import Foundation

/// The serial lane a run's libhdf5 calls go through: opening, reading, writing, flushing.
///
/// libhdf5's thread-safe build serializes every call behind one global lock, so several
/// threads calling it would only queue on that lock. A run therefore keeps every HDF5 call on
/// one lane and hands the workers nothing but buffers; the lane reads ahead and writes behind
/// while they compute. Each run (and each `check`, `merge` or `generate`) has a lane of its own.
struct IOLane: Sendable {
    private let queue = DispatchQueue(label: "h5batch.io")

    /// Runs `body` on the lane and returns its result.
    func sync<T>(_ body: () throws -> T) rethrows -> T { try queue.sync(execute: body) }
}
