import CHDF5

/// The filters h5batch puts on a dataset it writes: a codec (or none) with its settings, and the
/// shuffle, as `output.compression`, `output.level`, `output.shuffle` and `output.codec` (or
/// `generate --compression` and `--shuffle`) give them. The one place they become HDF5 filters.
public struct ChunkCompression: Sendable, Equatable, CustomStringConvertible {
    /// The codecs h5batch writes (every one it reads).
    public enum Codec: String, Sendable, Equatable, CaseIterable {
        /// HDF5 filters 1 (deflate), 32000, 32015, 32004, 32008 and 32001 (docs/PIPELINES.md#output).
        case gzip, lzf, zstd, lz4, bitshuffle, blosc
    }

    /// nil: no compression (the shuffle filter alone, when `shuffle`).
    public var codec: Codec?
    /// nil: the codec's default (gzip 4, zstd 3, blosc 5, bitshuffle's zstd 3); LZF and LZ4 have none.
    public var level: Int?
    /// Byte shuffle first: HDF5's shuffle filter, or Blosc's own.
    public var shuffle: Bool
    /// Blosc's inner codec (blosclz, lz4 (default), lz4hc, zlib, zstd) or Bitshuffle's (lz4
    /// (default), zstd); nil for the default.
    public var inner: String?

    /// No compression, no shuffle.
    public static let none = ChunkCompression(nil)

    /// Settings as given; `problem()` says whether the codec takes them.
    public init(_ codec: Codec?, level: Int? = nil, shuffle: Bool = false, inner: String? = nil) {
        self.codec = codec
        self.level = level
        self.shuffle = shuffle
        self.inner = inner
    }

    var implementation: (any ChunkCodec.Type)? { codec.map { Codecs.codec(named: $0.rawValue)! } }
    /// What no codec takes: no level, no inner codec, HDF5's shuffle filter.
    var settings: CodecSettings { implementation?.settings ?? CodecSettings() }
    private var codecName: String { codec?.rawValue ?? "no compression" }

    /// The level chunks are written with (nil when the codec has none).
    var effectiveLevel: Int? {
        // Bitshuffle's levels are its Zstd's.
        if codec == .bitshuffle && effectiveInner != "zstd" { return nil }
        return level ?? settings.defaultLevel
    }
    /// The inner codec chunks are written with (nil when the codec has none).
    var effectiveInner: String? { inner ?? settings.innerCodecs.first }

    /// Why these settings do not fit the codec, as `field: reason` (fields named as in a
    /// pipeline file), or nil when they do.
    public func problem() -> (field: String, reason: String)? {
        let settings = settings
        if let level {
            guard let levels = settings.levels else {
                return ("level", "\(codecName) has no levels; leave level out")
            }
            guard levels.contains(level) else {
                return ("level", "\(level) is out of range (from \(levels.lowerBound) to \(levels.upperBound))")
            }
            if codec == .bitshuffle, effectiveInner != "zstd" {
                return ("level", "bitshuffle has levels with its zstd codec only (codec: zstd)")
            }
        }
        if let inner, !settings.innerCodecs.contains(inner) {
            return settings.innerCodecs.isEmpty
                ? ("codec", "\(codecName) has no inner codec; codec applies to blosc and bitshuffle")
                : ("codec", "\(codecName) compresses with \(settings.innerCodecs.joined(separator: ", ")), not \(inner)")
        }
        if shuffle, settings.shuffle == .notApplicable {
            return ("shuffle", "\(codecName) transposes bits itself; leave shuffle out")
        }
        return nil
    }

    /// `shuffle, zstd(3)`-style names of the filters, as `inspect` shows them, or `none`.
    public var description: String {
        let names = filterDescriptions(elementSize: 4, chunkBytes: 1 << 20)
        return names.isEmpty ? "none" : names.joined(separator: ", ")
    }

    /// The filters of a dataset written with these settings, in pipeline order: HDF5's shuffle
    /// (where the codec does not shuffle itself), then the codec.
    func filters(elementSize: Int, chunkBytes: Int) -> [FilterSpec] {
        let byteShuffle = shuffle && settings.shuffle == .hdf5Filter
        var filters = byteShuffle ? [FilterSpec(id: Int(H5Z_FILTER_SHUFFLE), parameters: [UInt32(elementSize)], optional: false)] : []
        if let implementation {
            filters.append(FilterSpec(id: implementation.filterID,
                                      parameters: implementation.parameters(for: self, elementSize: elementSize, chunkBytes: chunkBytes),
                                      // h5py registers LZF optional: a chunk that does not shrink is stored as it is.
                                      optional: codec == .lzf))
        }
        return filters
    }

    func filterDescriptions(elementSize: Int, chunkBytes: Int) -> [String] {
        filters(elementSize: elementSize, chunkBytes: chunkBytes).map { Dataset.Filter(id: $0.id, name: "", parameters: $0.parameters).description }
    }

    /// Parses `CODEC` or `CODEC:LEVEL` (`zstd`, `zstd:5`, `blosc:9`), as `generate --compression`
    /// takes it; nil with the reason when it is not one.
    public static func parse(_ text: String, shuffle: Bool) -> Result<ChunkCompression, ParseError> {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let names = Codec.allCases.map(\.rawValue).joined(separator: ", ")
        guard parts.count <= 2, let codec = Codec(rawValue: String(parts[0])) else {
            return .failure(ParseError(message: "--compression must be one of \(names), with :LEVEL where the codec has levels"))
        }
        var compression = ChunkCompression(codec, shuffle: shuffle)
        if parts.count == 2 {
            guard let level = Int(parts[1]) else { return .failure(ParseError(message: "--compression \(text): the level must be a number")) }
            compression.level = level
        }
        if let problem = compression.problem() {
            return .failure(ParseError(message: "--compression \(text): " + problem.reason))
        }
        return .success(compression)
    }

    /// Why `parse` refused its text.
    public struct ParseError: Error, Sendable {
        /// One line for the user, naming the option.
        public let message: String
    }
}

/// One filter of a dataset h5batch creates.
struct FilterSpec: Sendable, Equatable {
    let id: Int
    let parameters: [UInt32]
    /// HDF5's H5Z_FLAG_OPTIONAL: a chunk the filter fails on is stored without it.
    let optional: Bool
}
