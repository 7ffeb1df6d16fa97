/// HDF5's shuffle filter: byte `j` of element `i` is stored at `j·n + i`, grouping bytes of
/// equal significance so deflate finds the repetition in exponents and high bytes.
enum ByteShuffle {
    /// Undoes the shuffle of `count` elements of `size` bytes.
    static func unshuffle(_ source: UnsafeRawPointer, into destination: UnsafeMutableRawPointer, count: Int, size: Int) {
        switch size {
        case 1:
            destination.copyMemory(from: source, byteCount: count)
        case 4:
            let planes = source.assumingMemoryBound(to: UInt8.self)
            let out = destination.assumingMemoryBound(to: UInt32.self)
            let b0 = planes, b1 = planes + count, b2 = planes + 2 * count, b3 = planes + 3 * count
            for i in 0..<count {
                out[i] = UInt32(b0[i]) | UInt32(b1[i]) << 8 | UInt32(b2[i]) << 16 | UInt32(b3[i]) << 24
            }
        default:
            let planes = source.assumingMemoryBound(to: UInt8.self)
            let out = destination.assumingMemoryBound(to: UInt8.self)
            for j in 0..<size {
                let plane = planes + j * count
                for i in 0..<count { out[i * size + j] = plane[i] }
            }
        }
    }

    /// Shuffles `count` elements of `size` bytes.
    static func shuffle(_ source: UnsafeRawPointer, into destination: UnsafeMutableRawPointer, count: Int, size: Int) {
        switch size {
        case 1:
            destination.copyMemory(from: source, byteCount: count)
        case 4:
            let values = source.assumingMemoryBound(to: UInt32.self)
            let planes = destination.assumingMemoryBound(to: UInt8.self)
            let b0 = planes, b1 = planes + count, b2 = planes + 2 * count, b3 = planes + 3 * count
            for i in 0..<count {
                let v = values[i]
                b0[i] = UInt8(truncatingIfNeeded: v)
                b1[i] = UInt8(truncatingIfNeeded: v >> 8)
                b2[i] = UInt8(truncatingIfNeeded: v >> 16)
                b3[i] = UInt8(truncatingIfNeeded: v >> 24)
            }
        default:
            let bytes = source.assumingMemoryBound(to: UInt8.self)
            let planes = destination.assumingMemoryBound(to: UInt8.self)
            for j in 0..<size {
                let plane = planes + j * count
                for i in 0..<count { plane[i] = bytes[i * size + j] }
            }
        }
    }
}
