#if _endian(big)
#error("h5batch's element conversions assume a little-endian host (x86-64, arm64)")
#endif

/// Converts between stored element bytes and Float32, with the rounding HDF5's own conversions
/// use (round to nearest), so the raw-chunk path and HDF5's path give the same numbers.
enum ElementConversion {
    /// Whether `type` can be decoded here (everything else goes through HDF5's conversion).
    static func canDecode(_ type: ElementType) -> Bool {
        guard type.hasStandardLayout else { return false }
        switch type.kind {
        case .float: return [2, 4, 8].contains(type.size)
        case .signedInteger, .unsignedInteger: return [1, 2, 4, 8].contains(type.size)
        case .unsupported: return false
        }
    }

    /// Decodes `count` elements of `type` at `source` into Float32.
    static func decode(_ source: UnsafeRawPointer, type: ElementType, count: Int, into out: UnsafeMutablePointer<Float>) {
        let swap = type.isBigEndian
        switch (type.kind, type.size) {
        case (.float, 4):
            let p = source.assumingMemoryBound(to: UInt32.self)
            if swap {
                for i in 0..<count { out[i] = Float(bitPattern: p[i].byteSwapped) }
            } else if UnsafeRawPointer(out) != source {
                UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
            }
        case (.float, 8):
            let p = source.assumingMemoryBound(to: UInt64.self)
            if swap { for i in 0..<count { out[i] = Float(Double(bitPattern: p[i].byteSwapped)) } }
            else { for i in 0..<count { out[i] = Float(Double(bitPattern: p[i])) } }
        case (.float, 2):
            let p = source.assumingMemoryBound(to: UInt16.self)
            if swap { for i in 0..<count { out[i] = halfToFloat(p[i].byteSwapped) } }
            else { for i in 0..<count { out[i] = halfToFloat(p[i]) } }
        case (.signedInteger, 1):
            let p = source.assumingMemoryBound(to: Int8.self)
            for i in 0..<count { out[i] = Float(p[i]) }
        case (.unsignedInteger, 1):
            let p = source.assumingMemoryBound(to: UInt8.self)
            for i in 0..<count { out[i] = Float(p[i]) }
        case (.signedInteger, 2):
            let p = source.assumingMemoryBound(to: UInt16.self)
            if swap { for i in 0..<count { out[i] = Float(Int16(bitPattern: p[i].byteSwapped)) } }
            else { for i in 0..<count { out[i] = Float(Int16(bitPattern: p[i])) } }
        case (.unsignedInteger, 2):
            let p = source.assumingMemoryBound(to: UInt16.self)
            if swap { for i in 0..<count { out[i] = Float(p[i].byteSwapped) } }
            else { for i in 0..<count { out[i] = Float(p[i]) } }
        case (.signedInteger, 4):
            let p = source.assumingMemoryBound(to: UInt32.self)
            if swap { for i in 0..<count { out[i] = Float(Int32(bitPattern: p[i].byteSwapped)) } }
            else { for i in 0..<count { out[i] = Float(Int32(bitPattern: p[i])) } }
        case (.unsignedInteger, 4):
            let p = source.assumingMemoryBound(to: UInt32.self)
            if swap { for i in 0..<count { out[i] = Float(p[i].byteSwapped) } }
            else { for i in 0..<count { out[i] = Float(p[i]) } }
        case (.signedInteger, 8):
            let p = source.assumingMemoryBound(to: UInt64.self)
            if swap { for i in 0..<count { out[i] = Float(Int64(bitPattern: p[i].byteSwapped)) } }
            else { for i in 0..<count { out[i] = Float(Int64(bitPattern: p[i])) } }
        case (.unsignedInteger, 8):
            let p = source.assumingMemoryBound(to: UInt64.self)
            if swap { for i in 0..<count { out[i] = Float(p[i].byteSwapped) } }
            else { for i in 0..<count { out[i] = Float(p[i]) } }
        default:
            preconditionFailure("ElementConversion: cannot decode \(type)")
        }
    }

    /// Encodes `count` Float32 values as little-endian `type` at `destination`.
    static func encode(_ values: UnsafePointer<Float>, count: Int, as type: StorageType, into destination: UnsafeMutableRawPointer) {
        switch type {
        case .float32:
            if UnsafeRawPointer(values) != UnsafeRawPointer(destination) {
                destination.copyMemory(from: values, byteCount: count * 4)
            }
        case .float64:
            let p = destination.assumingMemoryBound(to: Double.self)
            for i in 0..<count { p[i] = Double(values[i]) }
        case .float16:
            let p = destination.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { p[i] = floatToHalf(values[i]) }
        default:
            preconditionFailure("ElementConversion: h5batch writes float16, float32 or float64, not \(type)")
        }
    }

    @inline(__always)
    static func halfToFloat(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    @inline(__always)
    static func floatToHalf(_ value: Float) -> UInt16 { Float16(value).bitPattern }
}
