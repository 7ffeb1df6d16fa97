/// A growable heap block of bytes with one owner at a time (see `FloatBuffer`).
final class ByteBuffer: @unchecked Sendable {
    private(set) var capacity = 0
    private var base: UnsafeMutableRawPointer?

    init(capacity: Int = 0) { reserve(capacity) }

    deinit { base?.deallocate() }

    /// Makes room for `count` bytes; contents are not kept when it grows.
    func reserve(_ count: Int) {
        guard count > capacity else { return }
        base?.deallocate()
        base = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        capacity = count
    }

    var pointer: UnsafeMutableRawPointer {
        if base == nil { reserve(64) }
        return base!
    }

    /// Touches every page now (see `FloatBuffer.prefault`).
    func prefault() {
        guard let base else { return }
        base.initializeMemory(as: UInt8.self, repeating: 0, count: capacity)
    }

    func bytes(_ offset: Int, _ count: Int) -> UnsafeMutableRawBufferPointer {
        precondition(offset >= 0 && offset + count <= capacity, "ByteBuffer: range out of bounds")
        return UnsafeMutableRawBufferPointer(start: pointer + offset, count: count)
    }
}
