/// A heap block of Float32 values with one owner at a time.
///
/// It is `Sendable` because a run hands each buffer from one stage of the pipeline to the next
/// (I/O lane → worker → I/O lane) and never lets two of them hold it at once; the hand-offs go
/// through Dispatch queues, which order the memory accesses.
public final class FloatBuffer: @unchecked Sendable {
    /// How many Float32 values the buffer holds.
    public let capacity: Int
    private let base: UnsafeMutablePointer<Float>
    /// The buffer this one is a window into (kept alive by it), or nil when it owns its memory.
    private let parent: FloatBuffer?

    /// Allocates `capacity` values aligned to 64 bytes (a cache line, and AVX-512's width).
    public init(capacity: Int) {
        self.capacity = capacity
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, capacity) * MemoryLayout<Float>.stride, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(1, capacity))
        parent = nil
    }

    /// A window of `capacity` values into `parent` starting at `offset`, sharing its memory.
    public init(viewing parent: FloatBuffer, offset: Int, capacity: Int) {
        precondition(offset >= 0 && offset + capacity <= parent.capacity, "FloatBuffer: window out of range")
        self.capacity = capacity
        base = parent.base + offset
        self.parent = parent
    }

    deinit {
        if parent == nil { UnsafeMutableRawPointer(base).deallocate() }
    }

    /// The first `count` values.
    public func prefix(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        precondition(count <= capacity, "FloatBuffer: \(count) values requested of \(capacity)")
        return UnsafeMutableBufferPointer(start: base, count: count)
    }

    /// `count` values starting at `offset`.
    public func slice(_ offset: Int, _ count: Int) -> UnsafeMutableBufferPointer<Float> {
        precondition(offset >= 0 && offset + count <= capacity, "FloatBuffer: slice out of range")
        return UnsafeMutableBufferPointer(start: base + offset, count: count)
    }

    /// The buffer's size in bytes: `capacity × 4`.
    public var bytes: Int { capacity * MemoryLayout<Float>.stride }

    /// Touches every page now, so the memory is resident from the start rather than whenever
    /// a run's timing first reaches it: peak memory becomes the bound, the same every run.
    func prefault() {
        UnsafeMutableRawPointer(base).initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }
}
