import Foundation
import Testing
@testable import H5Batch

/// XXH64 against the reference implementation, and the row digest built on it.
@Suite("XXH64 and the row digest")
struct XXHashTests {
    /// Bytes, a seed, and the hash Python's `xxhash.xxh64_intdigest(bytes, seed)` gives.
    struct Reference: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let seed: UInt64
        let hash: UInt64
        var testDescription: String { "\(name), seed \(seed)" }
    }

    /// Lengths around the 4-, 8- and 32-byte steps of the algorithm, and a seed above 2⁶³.
    static let references = [
        Reference(name: "b''", bytes: [], seed: 0, hash: 0xef46_db37_51d8_e999),
        Reference(name: "b'a'", bytes: Array("a".utf8), seed: 0, hash: 0xd24e_c4f1_a98c_6e5b),
        Reference(name: "b'abc'", bytes: Array("abc".utf8), seed: 7, hash: 0x9e75_5206_1566_76d7),
        Reference(name: "bytes(range(31))", bytes: (0..<31).map { UInt8($0) }, seed: 1, hash: 0xf031_031d_6597_7dfc),
        Reference(name: "bytes(range(32))", bytes: (0..<32).map { UInt8($0) }, seed: 0, hash: 0xcbf5_9c51_16ff_32b4),
        Reference(name: "bytes(range(100))", bytes: (0..<100).map { UInt8($0) }, seed: 12345, hash: 0x028b_a1ae_2de4_de27),
        Reference(name: "bytes(range(256))*3", bytes: Array(repeating: (0..<256).map { UInt8($0) }, count: 3).flatMap { $0 },
                  seed: 9_223_372_036_854_775_813, hash: 0xb643_ede3_3a84_f457),
    ]

    @Test("matches the reference implementation", arguments: references)
    func matchesReference(_ reference: Reference) {
        let hash = reference.bytes.withUnsafeBytes { XXHash64.hash($0, seed: reference.seed) }
        #expect(hash == reference.hash, "got \(String(hash, radix: 16)), expected \(String(reference.hash, radix: 16))")
    }

    @Test("bytes at an unaligned address hash the same", arguments: references)
    func unalignedBytes(_ reference: Reference) {
        let padded: [UInt8] = [0xAA] + reference.bytes + [0x55]
        let hash = padded.withUnsafeBytes { XXHash64.hash(UnsafeRawBufferPointer(rebasing: $0[1..<(1 + reference.bytes.count)]), seed: reference.seed) }
        #expect(hash == reference.hash)
    }

    /// Rows of `width` float32 values, all different.
    static func rows(_ count: Int, width: Int) -> [Float] {
        (0..<count * width).map { Float(sin(Double($0) * 0.37) * 100) }
    }

    static func digest(_ values: [Float], width: Int, rows: Range<Int>) -> UInt64 {
        values.withUnsafeBufferPointer { buffer in
            RowDigest.sum(buffer.baseAddress! + rows.lowerBound * width, rows: rows.count, width: width, firstRow: rows.lowerBound)
        }
    }

    @Test("the row digest is a sum: rows in two parts add up to the whole, whatever the split",
          arguments: [3, 9, 16])  // rows of 12, 36 and 64 bytes
    func rowDigestAddsUp(width: Int) {
        let count = 11
        let values = Self.rows(count, width: width)
        let whole = Self.digest(values, width: width, rows: 0..<count)
        // By definition: XXH64 of each row's bytes seeded with its number, summed with wrapping.
        var expected: UInt64 = 0
        for row in 0..<count {
            let term = values[row * width..<(row + 1) * width].withUnsafeBytes { XXHash64.hash($0, seed: UInt64(row)) }
            expected = expected &+ term
        }
        #expect(whole == expected)
        for split in [0, 1, 5, count - 1, count] {
            let parts = Self.digest(values, width: width, rows: 0..<split) &+ Self.digest(values, width: width, rows: split..<count)
            #expect(parts == whole, "split at row \(split)")
        }
        #expect(Self.digest(values, width: width, rows: 0..<0) == 0)
    }

    @Test("swapped rows, or one value changed, change the row digest")
    func rowDigestSeesOrderAndValues() {
        let width = 9, count = 8
        let values = Self.rows(count, width: width)
        let whole = Self.digest(values, width: width, rows: 0..<count)
        var swapped = values
        for column in 0..<width { swapped.swapAt(2 * width + column, 6 * width + column) }
        #expect(Self.digest(swapped, width: width, rows: 0..<count) != whole)
        var changed = values
        changed[5 * width + 4] = changed[5 * width + 4].nextUp
        #expect(Self.digest(changed, width: width, rows: 0..<count) != whole)
    }
}
