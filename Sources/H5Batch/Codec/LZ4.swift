import CLZ4

/// LZ4, HDF5 filter 32004 (hdf5plugin's `LZ4`), in the plugin's framing (H5Zlz4.c): the
/// decoded size (8 bytes, big-endian), the block size (4 bytes), then per block its stored size
/// (4 bytes) and its bytes: LZ4 data, or the block itself when LZ4 did not shrink it (stored
/// size = block size). The parameter is the block size, 0 for the plugin's default of 1 GiB,
/// which is one block per chunk.
final class LZ4: ChunkCodec {
    static let filterID = 32004
    static let name = "lz4"
    static var settings: CodecSettings { CodecSettings() }

    private static let headerBytes = 12
    private static let defaultBlockBytes = 1 << 30

    init() {}

    static func parameters(for compression: ChunkCompression, elementSize: Int, chunkBytes: Int) -> [UInt32] { [0] }

    static func describe(_ parameters: [UInt32]) -> String {
        guard let block = parameters.first, block > 0 else { return "lz4" }
        return "lz4(blocks of \(formatCount(Int(block))) bytes)"
    }

    static func decodedSize(of source: UnsafeRawBufferPointer, parameters: [UInt32]) -> Int? {
        source.bigEndian(UInt64.self, at: 0).flatMap { Int(exactly: $0) }
    }

    func decode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Bool {
        guard let total = source.bigEndian(UInt64.self, at: 0), total == destination.count,
              let header = source.bigEndian(UInt32.self, at: 8) else { return false }
        let blockBytes = min(Int(header), destination.count)
        // liblz4 counts in Int32.
        guard blockBytes > 0 || destination.count == 0, blockBytes <= Int(Int32.max) else { return false }
        var read = Self.headerBytes, written = 0
        while written < destination.count {
            let expected = min(blockBytes, destination.count - written)
            guard let stored = source.bigEndian(UInt32.self, at: read).map(Int.init) else { return false }
            read += 4
            // liblz4 counts in Int32: a stored size over 2 GiB is damage, not a block it could read.
            guard stored <= source.count - read, stored <= Int(Int32.max) else { return false }
            let target = destination.baseAddress! + written
            if stored == expected {
                target.copyMemory(from: source.baseAddress! + read, byteCount: expected)
            } else {
                let produced = LZ4_decompress_safe((source.baseAddress! + read).assumingMemoryBound(to: CChar.self),
                                                   target.assumingMemoryBound(to: CChar.self), Int32(stored), Int32(expected))
                guard produced == expected else { return false }
            }
            read += stored
            written += expected
        }
        return true
    }

    func bound(_ count: Int, parameters: [UInt32]) -> Int {
        let block = Self.blockBytes(count, parameters)
        let blocks = count.units(of: max(block, 1))
        return Self.headerBytes + blocks * (4 + Int(LZ4_compressBound(Int32(block))))
    }

    func encode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Int? {
        let block = Self.blockBytes(source.count, parameters)
        destination.storeBigEndian(UInt64(source.count), at: 0)
        destination.storeBigEndian(UInt32(block), at: 8)
        var read = 0, written = Self.headerBytes
        while read < source.count {
            let length = min(block, source.count - read)
            let from = source.baseAddress! + read
            let to = destination.baseAddress! + written + 4
            let room = Int32(clamping: destination.count - written - 4)
            var stored = Int(LZ4_compress_default(from.assumingMemoryBound(to: CChar.self), to.assumingMemoryBound(to: CChar.self),
                                                  Int32(length), room))
            // As the plugin: a block LZ4 does not shrink is stored as it is.
            if stored == 0 || stored >= length {
                to.copyMemory(from: from, byteCount: length)
                stored = length
            }
            destination.storeBigEndian(UInt32(stored), at: written)
            written += 4 + stored
            read += length
        }
        return written
    }

    private static func blockBytes(_ count: Int, _ parameters: [UInt32]) -> Int {
        let configured = parameters.first.flatMap { $0 > 0 ? Int($0) : nil } ?? defaultBlockBytes
        // liblz4 compresses at most LZ4_MAX_INPUT_SIZE (about 2 GiB) at once.
        return min(configured, count, Int(LZ4_MAX_INPUT_SIZE))
    }
}
