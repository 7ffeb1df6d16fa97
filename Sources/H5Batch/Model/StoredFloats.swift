import Foundation

/// The floating-point encodings weight files store, each turned into float32 the way PyTorch's
/// `.float()` does (float64 rounds to nearest; float16 and bfloat16 widen exactly).
enum StoredFloat: Sendable {
    case float16, bfloat16, float32, float64

    /// Bytes per value.
    var size: Int {
        switch self {
        case .float16, .bfloat16: return 2
        case .float32: return 4
        case .float64: return 8
        }
    }

    /// `count` little-endian values of this encoding from `bytes`, as float32; `bytes` holds
    /// exactly `count * size` bytes (the caller checked the bounds).
    func decode(_ bytes: UnsafeRawBufferPointer, count: Int) -> [Float] {
        precondition(bytes.count == count * size, "StoredFloat.decode: \(bytes.count) bytes for \(count) values")
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch self {
            case .float32:
                for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .float64:
                for i in 0..<count { out[i] = Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
            case .float16:
                for i in 0..<count { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
            case .bfloat16:
                // bfloat16 is float32's upper half.
                for i in 0..<count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
            }
            initialized = count
        }
    }
}

/// The number of values a tensor of `shape` holds, or nil when a dimension is negative or the
/// product overflows (a damaged header).
func elementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        if overflow { return nil }
        count = product
    }
    return count
}

/// "holds N tensors: a, b, …" for a missing-name message: `names` with the ones closest to
/// `wanted` (edit distance) first, at most `limit` of them.
func closestNamesListing(_ names: [String], to wanted: String, limit: Int = 12) -> String {
    guard !names.isEmpty else { return "holds no tensors" }
    let ranked = names.map { (name: $0, distance: editDistance($0, wanted)) }
        .sorted { ($0.distance, $0.name) < ($1.distance, $1.name) }
        .map(\.name)
    let shown = ranked.prefix(limit).joined(separator: ", ")
    let more = names.count > limit ? ", … (\(names.count - limit) more)" : ""
    return "holds \(names.count) tensor\(names.count == 1 ? "" : "s"), closest first: \(shown)\(more)"
}

/// Levenshtein distance over Unicode scalars.
func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
    guard !x.isEmpty else { return y.count }
    guard !y.isEmpty else { return x.count }
    var previous = Array(0...y.count)
    var current = [Int](repeating: 0, count: y.count + 1)
    for i in 1...x.count {
        current[0] = i
        for j in 1...y.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[y.count]
}
