import CKernels

#if _endian(big)
#error("h5batch's element conversions assume a little-endian host (x86-64, arm64)")
#endif

/// Converts between stored element bytes and Float32, with the rounding HDF5's own conversions
/// use (round to nearest), so the raw-chunk path and HDF5's path give the same numbers.
///
/// The loops are CKernels' `decode` and `encode` (float16 through F16C where the CPU has it, an
/// exact bit-level conversion otherwise; both round like Swift's `Float16`).
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

    /// Decodes `count` elements of `type` at `source` into Float32. `out` is `source` itself
    /// (4-byte types) or does not overlap it.
    static func decode(_ source: UnsafeRawPointer, type: ElementType, count: Int, into out: UnsafeMutablePointer<Float>) {
        let kind: Int
        switch type.kind {
        case .float: kind = CK_KIND_FLOAT
        case .signedInteger: kind = CK_KIND_SIGNED
        case .unsignedInteger: kind = CK_KIND_UNSIGNED
        case .unsupported: preconditionFailure("ElementConversion: cannot decode \(type)")
        }
        guard ck_decode(Int32(kind), type.size, type.isBigEndian ? 1 : 0, source, count, out) != 0 else {
            preconditionFailure("ElementConversion: cannot decode \(type)")
        }
    }

    /// Encodes `count` Float32 values as little-endian `type` at `destination`.
    static func encode(_ values: UnsafePointer<Float>, count: Int, as type: StorageType, into destination: UnsafeMutableRawPointer) {
        guard [.float16, .float32, .float64].contains(type), ck_encode(type.size, values, count, destination) != 0 else {
            preconditionFailure("ElementConversion: h5batch writes float16, float32 or float64, not \(type)")
        }
    }
}
