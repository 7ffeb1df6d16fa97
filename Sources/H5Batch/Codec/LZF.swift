import CLZF

/// LZF, HDF5 filter 32000 (h5py's own `compression="lzf"`): each chunk is one LZF block. h5py
/// registers the filter optional, and LZF gives up on a chunk that would not shrink, so such a
/// chunk is stored unfiltered (its filter-mask bit set). The parameters are h5py's: filter
/// revision, LZF version, chunk bytes.
final class LZF: ChunkCodec {
    static let filterID = 32000
    static let name = "lzf"
    static var settings: CodecSettings { CodecSettings() }

    init() {}

    static func parameters(for compression: ChunkCompression, elementSize: Int, chunkBytes: Int) -> [UInt32] {
        // h5py's H5PY_FILTER_LZF_VERSION and LZF_VERSION (liblzf 3.6's 0x0105).
        [4, 0x0105, UInt32(chunkBytes)]
    }

    static func describe(_ parameters: [UInt32]) -> String { "lzf" }

    static func decodedSize(of source: UnsafeRawBufferPointer, parameters: [UInt32]) -> Int? {
        parameters.count > 2 && parameters[2] > 0 ? Int(parameters[2]) : nil
    }

    func decode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Bool {
        guard source.count > 0, let sourceCount = UInt32(exactly: source.count),
              let destinationCount = UInt32(exactly: destination.count) else { return false }
        return lzf_decompress(source.baseAddress, sourceCount, destination.baseAddress, destinationCount) == destinationCount
    }

    /// LZF output that would not fit in the input's size is not kept.
    func bound(_ count: Int, parameters: [UInt32]) -> Int { count }

    func encode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Int? {
        let size = lzf_compress(source.baseAddress, UInt32(source.count), destination.baseAddress, UInt32(source.count))
        return size == 0 ? nil : Int(size)
    }
}
