import CDeflate

/// A libdeflate compressor and decompressor for the zlib streams HDF5's deflate filter stores.
///
/// libdeflate objects keep state between calls, so each worker owns one `Deflate`.
final class Deflate {
    private var compressor: OpaquePointer?
    private var compressorLevel = -1
    private let decompressor: OpaquePointer

    init() {
        guard let decompressor = libdeflate_alloc_decompressor() else {
            fatalError("libdeflate could not allocate a decompressor (out of memory)")
        }
        self.decompressor = decompressor
    }

    deinit {
        libdeflate_free_decompressor(decompressor)
        if let compressor { libdeflate_free_compressor(compressor) }
    }

    /// Inflates `source` into exactly `destination.count` bytes; false when the stream is
    /// corrupt or does not hold exactly that many bytes.
    func inflate(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        var produced = 0
        let result = libdeflate_zlib_decompress(decompressor, source.baseAddress, source.count,
                                                destination.baseAddress, destination.count, &produced)
        return result == LIBDEFLATE_SUCCESS && produced == destination.count
    }

    /// The most bytes `deflate` can produce for `count` input bytes.
    func bound(_ count: Int, level: Int) -> Int {
        libdeflate_zlib_compress_bound(compressor(level), count)
    }

    /// Deflates `source` into `destination` (at least `bound` bytes); returns the size.
    func deflate(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, level: Int) -> Int {
        let size = libdeflate_zlib_compress(compressor(level), source.baseAddress, source.count,
                                            destination.baseAddress, destination.count)
        precondition(size > 0, "libdeflate: the destination is smaller than the bound")
        return size
    }

    private func compressor(_ level: Int) -> OpaquePointer {
        if level != compressorLevel {
            if let compressor { libdeflate_free_compressor(compressor) }
            guard let made = libdeflate_alloc_compressor(Int32(level)) else {
                fatalError("libdeflate could not allocate a level-\(level) compressor (out of memory)")
            }
            compressor = made
            compressorLevel = level
        }
        return compressor!
    }
}

/// HDF5's built-in deflate filter (1), `gzip` in h5batch. libhdf5 applies it without help, so
/// `CodecFilters` leaves it alone.
extension Deflate: ChunkCodec {
    static var filterID: Int { 1 }
    static var name: String { "gzip" }
    static var streamName: String { "deflate" }
    static var settings: CodecSettings { CodecSettings(levels: 1...9, defaultLevel: 4) }

    static func parameters(for compression: ChunkCompression, elementSize: Int, chunkBytes: Int) -> [UInt32] {
        [UInt32(compression.effectiveLevel!)]
    }

    static func describe(_ parameters: [UInt32]) -> String { "gzip(\(parameters.first ?? 0))" }

    func decode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Bool {
        inflate(source, into: destination)
    }

    func bound(_ count: Int, parameters: [UInt32]) -> Int { bound(count, level: Self.level(parameters)) }

    func encode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Int? {
        deflate(source, into: destination, level: Self.level(parameters))
    }

    /// The level the parameters record; libdeflate's levels go to 12, HDF5's to 9.
    private static func level(_ parameters: [UInt32]) -> Int { Int(min(parameters.first ?? 4, 9)) }
}
