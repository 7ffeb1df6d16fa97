import CZstd

/// Zstandard, HDF5 filter 32015 (hdf5plugin's `Zstd`): each chunk is one zstd frame, the
/// parameter is the level. A worker keeps its decompression and compression contexts, so no
/// chunk allocates them.
final class Zstd: ChunkCodec {
    static let filterID = 32015
    static let name = "zstd"
    static var settings: CodecSettings { CodecSettings(levels: 1...22, defaultLevel: 3) }

    private let decompressor: OpaquePointer
    private let compressor: OpaquePointer

    init() {
        guard let decompressor = ZSTD_createDCtx(), let compressor = ZSTD_createCCtx() else {
            fatalError("libzstd could not allocate its contexts (out of memory)")
        }
        self.decompressor = decompressor
        self.compressor = compressor
    }

    deinit {
        ZSTD_freeDCtx(decompressor)
        ZSTD_freeCCtx(compressor)
    }

    static func parameters(for compression: ChunkCompression, elementSize: Int, chunkBytes: Int) -> [UInt32] {
        [UInt32(compression.effectiveLevel!)]
    }

    static func describe(_ parameters: [UInt32]) -> String { "zstd(\(level(parameters)))" }

    /// The level the parameters record: a C `int`, as hdf5plugin reads it (negative levels are
    /// zstd's fast ones); 3, hdf5plugin's default, when they record none.
    static func level(_ parameters: [UInt32]) -> Int32 { parameters.first.map { Int32(bitPattern: $0) } ?? 3 }

    static func decodedSize(of source: UnsafeRawBufferPointer, parameters: [UInt32]) -> Int? {
        let size = ZSTD_getFrameContentSize(source.baseAddress, source.count)
        // ZSTD_CONTENTSIZE_UNKNOWN and ZSTD_CONTENTSIZE_ERROR are the two largest values.
        guard size < UInt64.max - 1 else { return nil }
        return Int(exactly: size)
    }

    func decode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Bool {
        let size = ZSTD_decompressDCtx(decompressor, destination.baseAddress, destination.count, source.baseAddress, source.count)
        return ZSTD_isError(size) == 0 && size == destination.count
    }

    /// The decompression context, and for encoding the compression context libzstd sizes for a
    /// chunk at its level: tens of MiB from level 9 on a MiB chunk, more at higher levels.
    static func workspaceBytes(chunkBytes: Int, parameters: [UInt32], encoding: Bool) -> Int {
        let decoding = ZSTD_estimateDCtxSize()
        guard encoding else { return decoding }
        return decoding + ZSTD_estimateCCtxSize_usingCParams(ZSTD_getCParams(level(parameters), UInt64(chunkBytes), 0))
    }

    func bound(_ count: Int, parameters: [UInt32]) -> Int { ZSTD_compressBound(count) }

    func encode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Int? {
        let size = ZSTD_compressCCtx(compressor, destination.baseAddress, destination.count, source.baseAddress, source.count,
                                     Self.level(parameters))
        precondition(ZSTD_isError(size) == 0, "libzstd: \(String(cString: ZSTD_getErrorName(size)))")
        return size
    }
}
