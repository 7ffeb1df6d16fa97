import CKernels
import CLZ4
import CZstd

/// Bitshuffle, HDF5 filter 32008 (hdf5plugin's `Bitshuffle`): blocks of elements transposed into
/// bit planes (CKernels' `bitshuffle`), each compressed with LZ4 or Zstd. The framing is the
/// reference filter's (bshuf_h5filter.c): the decoded size (8 bytes, big-endian), the block size
/// in bytes (4), then per block its compressed size (4) and bytes; the elements after the last
/// multiple of 8 are stored as they are. Without compression (parameter 4 is 0) the chunk is the
/// transposed blocks alone.
///
/// The parameters: format version (2), element size, block size in elements (0: the default,
/// about 8 KiB), compression (0 none, 2 LZ4, 3 Zstd), Zstd level.
final class Bitshuffle: ChunkCodec {
    static let filterID = 32008
    static let name = "bitshuffle"
    static var settings: CodecSettings {
        CodecSettings(levels: 1...22, defaultLevel: 3, innerCodecs: ["lz4", "zstd"], shuffle: .notApplicable)
    }

    private static let headerBytes = 12
    private static let lz4 = 2, zstd = 3

    /// One block's transposed bytes, and the transpose's own scratch.
    private let block = ByteBuffer()
    fileprivate let scratch = ByteBuffer()
    private let zstdCodec = LazyZstd()

    init() {}

    static func parameters(for compression: ChunkCompression, elementSize: Int, chunkBytes: Int) -> [UInt32] {
        // The reference filter's version (0.4, as hdf5plugin 7 records it) first, as its set_local writes it.
        let base: [UInt32] = [0, 4, UInt32(elementSize), 0]
        if compression.effectiveInner == "zstd" { return base + [UInt32(zstd), UInt32(compression.effectiveLevel!)] }
        return base + [UInt32(lz4)]
    }

    static func describe(_ parameters: [UInt32]) -> String {
        switch parameters.count > 4 ? Int(parameters[4]) : 0 {
        case lz4: return "bitshuffle(lz4)"
        case zstd: return "bitshuffle(zstd \(Zstd.level(Array(parameters.dropFirst(5)))))"
        case 0: return "bitshuffle"
        case let other: return "bitshuffle(compression \(other))"
        }
    }

    static func decodedSize(of source: UnsafeRawBufferPointer, parameters: [UInt32]) -> Int? {
        guard compression(parameters) != 0 else { return source.count }
        return source.bigEndian(UInt64.self, at: 0).flatMap { Int(exactly: $0) }
    }

    private static func compression(_ parameters: [UInt32]) -> Int { parameters.count > 4 ? Int(parameters[4]) : 0 }
    private static func elementSize(_ parameters: [UInt32]) -> Int { parameters.count > 2 ? Int(parameters[2]) : 0 }

    /// bshuf_default_block_size: 8 KiB of elements, a multiple of 8, at least 128.
    fileprivate static func defaultBlockElements(_ elementSize: Int) -> Int { max(8192 / elementSize / 8 * 8, 128) }

    func decode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Bool {
        let size = Self.elementSize(parameters)
        let compression = Self.compression(parameters)
        guard size > 0, destination.count % size == 0 else { return false }
        let count = destination.count / size
        var blockElements = parameters.count > 3 && parameters[3] > 0 ? Int(parameters[3]) : Self.defaultBlockElements(size)
        var read = 0
        if compression != 0 {
            guard compression == Self.lz4 || compression == Self.zstd,
                  let total = source.bigEndian(UInt64.self, at: 0), total == destination.count,
                  let blockBytes = source.bigEndian(UInt32.self, at: 8), blockBytes > 0, Int(blockBytes) % size == 0 else { return false }
            blockElements = Int(blockBytes) / size
            read = Self.headerBytes
        } else {
            guard source.count == destination.count else { return false }
        }
        guard blockElements % 8 == 0, blockElements > 0 else { return false }
        // No block is longer than the chunk, whatever a damaged header says; liblz4 counts in Int32.
        let longest = min(blockElements, count) * size
        guard longest <= Int(Int32.max) else { return false }
        block.reserve(longest)
        scratch.reserve(longest)
        var written = 0
        for elements in Self.blocks(count: count, blockElements: blockElements) {
            let bytes = elements * size
            let transposed: UnsafeRawPointer
            if compression == 0 {
                transposed = source.baseAddress! + read
                read += bytes
            } else {
                guard let stored = source.bigEndian(UInt32.self, at: read).map(Int.init), stored <= source.count - read - 4 else { return false }
                let input = UnsafeRawBufferPointer(start: source.baseAddress! + read + 4, count: stored)
                let output = block.bytes(0, bytes)
                if compression == Self.lz4 {
                    let produced = LZ4_decompress_safe(input.baseAddress!.assumingMemoryBound(to: CChar.self),
                                                       output.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(stored), Int32(bytes))
                    guard produced == bytes else { return false }
                } else {
                    guard zstdCodec.codec.decode(input, into: output, parameters: []) else { return false }
                }
                transposed = UnsafeRawPointer(block.pointer)
                read += 4 + stored
            }
            ck_bitunshuffle(transposed, destination.baseAddress! + written, scratch.pointer, elements, size)
            written += bytes
        }
        // The elements after the last multiple of 8, as they are.
        let rest = destination.count - written
        guard source.count - read >= rest else { return false }
        (destination.baseAddress! + written).copyMemory(from: source.baseAddress! + read, byteCount: rest)
        return true
    }

    /// One block's transposed bytes and the transpose's scratch, and Zstd's contexts for a block.
    /// A file's block size is the one its chunks' headers give; the parameters' (or the
    /// default) stands for it.
    static func workspaceBytes(chunkBytes: Int, parameters: [UInt32], encoding: Bool) -> Int {
        let size = max(elementSize(parameters), 1)
        let configured = parameters.count > 3 && parameters[3] > 0 ? Int(parameters[3]) : defaultBlockElements(size)
        let blockBytes = min(configured * size, chunkBytes)
        let zstdContexts = compression(parameters) == zstd
            ? Zstd.workspaceBytes(chunkBytes: blockBytes, parameters: parameters.count > 5 ? [parameters[5]] : [], encoding: encoding) : 0
        return 2 * blockBytes + zstdContexts
    }

    /// Element counts of the blocks `count` elements make: whole blocks, then the rest rounded
    /// down to a multiple of 8 (bshuf_blocked_wrap_fun).
    fileprivate static func blocks(count: Int, blockElements: Int) -> [Int] {
        let last = count % blockElements / 8 * 8
        return [Int](repeating: blockElements, count: count / blockElements) + (last > 0 ? [last] : [])
    }

    func bound(_ count: Int, parameters: [UInt32]) -> Int {
        let size = max(Self.elementSize(parameters), 1)
        let elements = count / size
        let blockElements = Self.defaultBlockElements(size)
        let perBlock = { (bytes: Int) in
            4 + (Self.compression(parameters) == Self.zstd ? ZSTD_compressBound(bytes) : Int(LZ4_compressBound(Int32(bytes))))
        }
        return Self.headerBytes + Self.blocks(count: elements, blockElements: blockElements).reduce(0) { $0 + perBlock($1 * size) }
            + count - elements / 8 * 8 * size
    }

    func encode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Int? {
        let size = Self.elementSize(parameters)
        let compression = Self.compression(parameters)
        precondition(size == 0 || source.count % size == 0, "Bitshuffle: h5batch writes whole elements")
        // A dataset another writer made may say anything; a chunk its parameters cannot make is left unfiltered.
        guard size > 0, [0, Self.lz4, Self.zstd].contains(compression) else { return nil }
        let count = source.count / size
        if compression == 0 { return transposeOnly(source, into: destination, elementSize: size, parameters: parameters) }
        let blockElements = Self.defaultBlockElements(size)
        destination.storeBigEndian(UInt64(source.count), at: 0)
        destination.storeBigEndian(UInt32(blockElements * size), at: 8)
        block.reserve(blockElements * size)
        scratch.reserve(blockElements * size)
        var read = 0, written = Self.headerBytes
        for elements in Self.blocks(count: count, blockElements: blockElements) {
            let bytes = elements * size
            ck_bitshuffle(source.baseAddress! + read, block.pointer, scratch.pointer, elements, size)
            let output = UnsafeMutableRawBufferPointer(start: destination.baseAddress! + written + 4, count: destination.count - written - 4)
            let stored: Int
            if compression == Self.lz4 {
                stored = Int(LZ4_compress_default(block.pointer.assumingMemoryBound(to: CChar.self),
                                                  output.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(bytes), Int32(clamping: output.count)))
                precondition(stored > 0, "liblz4: the destination is smaller than the bound")
            } else {
                let level = parameters.count > 5 ? parameters[5] : 3
                stored = zstdCodec.codec.encode(UnsafeRawBufferPointer(block.bytes(0, bytes)), into: output, parameters: [level])!
            }
            destination.storeBigEndian(UInt32(stored), at: written)
            written += 4 + stored
            read += bytes
        }
        let rest = source.count - read
        (destination.baseAddress! + written).copyMemory(from: source.baseAddress! + read, byteCount: rest)
        return written + rest
    }
}

extension Bitshuffle {
    /// Without compression (parameter 4 is 0): the transposed blocks alone, of the parameters'
    /// block size (0: the default), then the elements after the last multiple of 8 as they are.
    private func transposeOnly(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                               elementSize size: Int, parameters: [UInt32]) -> Int? {
        let configured = parameters.count > 3 && parameters[3] > 0 ? Int(parameters[3]) : Self.defaultBlockElements(size)
        guard configured % 8 == 0, destination.count >= source.count else { return nil }
        scratch.reserve(min(configured, source.count / size) * size)
        var done = 0
        for elements in Self.blocks(count: source.count / size, blockElements: configured) {
            ck_bitshuffle(source.baseAddress! + done, destination.baseAddress! + done, scratch.pointer, elements, size)
            done += elements * size
        }
        (destination.baseAddress! + done).copyMemory(from: source.baseAddress! + done, byteCount: source.count - done)
        return source.count
    }
}

/// A Zstd codec made on first use (Bitshuffle with LZ4 never needs one).
private final class LazyZstd {
    private var made: Zstd?
    var codec: Zstd {
        if let made { return made }
        let codec = Zstd()
        made = codec
        return codec
    }
}
