/// One HDF5 compression filter that h5batch applies itself: on the workers, to raw chunks
/// (`ChunkDecoder`, `ChunkEncoder`), and inside libhdf5 through `CodecFilters` (dataset creation,
/// the hyperslab path, `merge --copy`).
///
/// A codec is one file conforming to this protocol plus its entry in `Codecs.all`. Everything
/// a chunk needs is in its filter's parameters (the `cd_values` the file records), so a decoder
/// reads any file h5py, hdf5plugin or PyTables wrote and an encoder writes what they read.
///
/// Instances keep state between calls (contexts, scratch) and are not shared: each worker owns
/// one of each (`CodecSet`).
protocol ChunkCodec: AnyObject, SendableMetatype {
    /// HDF5's filter identifier (1 deflate, 32015 zstd, …).
    static var filterID: Int { get }
    /// The name in `output.compression`, `generate --compression` and messages.
    static var name: String { get }
    /// What `level`, `shuffle` and `codec` mean for it, and their defaults.
    static var settings: CodecSettings { get }
    /// What a damaged chunk's message calls its bytes: "its zstd stream does not decode".
    static var streamName: String { get }

    init()

    /// The filter's parameters for chunks of `chunkBytes` bytes of `elementSize`-byte elements,
    /// compressed with `compression` (whose settings `CodecSettings.validate` accepted).
    static func parameters(for compression: ChunkCompression, elementSize: Int, chunkBytes: Int) -> [UInt32]
    /// How `inspect` names the filter with `parameters`: `zstd(level 3)`, ….
    static func describe(_ parameters: [UInt32]) -> String
    /// The bytes `source` decodes to, from its header or the parameters; nil when neither says.
    /// For libhdf5's calls, which do not know a chunk's size.
    static func decodedSize(of source: UnsafeRawBufferPointer, parameters: [UInt32]) -> Int?

    /// Decodes `source` into exactly `destination.count` bytes; false when the stream is
    /// damaged or does not hold exactly that many.
    func decode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Bool
    /// The memory one instance keeps (contexts, scratch) once it has decoded, or with
    /// `encoding` encoded, chunks of `chunkBytes` bytes with `parameters`: a worker's share
    /// of the memory estimate (`WorkerState.estimatedBytes`).
    static func workspaceBytes(chunkBytes: Int, parameters: [UInt32], encoding: Bool) -> Int
    /// The most bytes `encode` can produce for `count` input bytes.
    func bound(_ count: Int, parameters: [UInt32]) -> Int
    /// Encodes `source` into `destination` (at least `bound` bytes); the size, or nil when the
    /// codec stores such a chunk unfiltered instead (LZF, when it does not shrink).
    func encode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Int?
}

extension ChunkCodec {
    static var streamName: String { name }
    static func decodedSize(of source: UnsafeRawBufferPointer, parameters: [UInt32]) -> Int? { nil }
    /// Codecs that keep no more than a few KiB.
    static func workspaceBytes(chunkBytes: Int, parameters: [UInt32], encoding: Bool) -> Int { 0 }
}

/// What a codec's `level`, `shuffle` and `codec` settings mean.
struct CodecSettings: Sendable {
    /// The levels it takes, nil when it has none.
    var levels: ClosedRange<Int>?
    var defaultLevel: Int?
    /// Inner codecs (`output.codec`), the default first; empty when it has none.
    var innerCodecs: [String] = []
    /// How `shuffle: true` is applied.
    var shuffle: ShuffleKind = .hdf5Filter

    enum ShuffleKind: Sendable {
        /// HDF5's shuffle filter before the codec.
        case hdf5Filter
        /// The codec's own byte shuffle (Blosc).
        case inside
        /// The codec transposes bits itself (Bitshuffle): `shuffle` does not apply.
        case notApplicable
    }
}

/// The codecs h5batch reads and writes, and where to find them.
enum Codecs {
    /// Every codec, in the order messages list them.
    static let all: [any ChunkCodec.Type] = [Deflate.self, LZF.self, Zstd.self, LZ4.self, Bitshuffle.self, Blosc.self]

    static func codec(filterID: Int) -> (any ChunkCodec.Type)? { all.first { $0.filterID == filterID } }
    static func codec(named name: String) -> (any ChunkCodec.Type)? { all.first { $0.name == name } }

    /// `gzip, lzf, zstd, lz4, bitshuffle and blosc`, for messages.
    static var nameList: String {
        let names = all.map { $0.name }
        return names.dropLast().joined(separator: ", ") + " and " + names.last!
    }
}

/// One instance of each codec, made on first use: a worker's (or libhdf5's) codec state.
final class CodecSet {
    private var instances: [Int: any ChunkCodec] = [:]
    /// The deflate codec, held directly: the gzip path takes no lookup.
    let deflate = Deflate()

    init() { instances[Deflate.filterID] = deflate }

    /// The codec for filter `id`; nil when h5batch has none.
    func codec(_ id: Int) -> (any ChunkCodec)? {
        if let made = instances[id] { return made }
        guard let type = Codecs.codec(filterID: id) else { return nil }
        let made = type.init()
        instances[id] = made
        return made
    }
}

// MARK: - Big-endian fields of the LZ4 and Bitshuffle framings

extension UnsafeRawBufferPointer {
    /// The big-endian integer of `T` at `offset`, or nil past the end.
    func bigEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T? {
        guard offset >= 0, offset + MemoryLayout<T>.size <= count else { return nil }
        return T(bigEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    func storeBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
    }
}
