import CBlosc

/// Blosc, HDF5 filter 32001 (hdf5plugin's and PyTables' `Blosc`), through libblosc: each chunk
/// is one Blosc buffer, which records its own inner codec (blosclz, lz4, lz4hc, zlib or zstd)
/// and shuffle (none, byte or bit). The parameters are the plugin's: filter revision, Blosc
/// format version, element size, chunk bytes, level, shuffle (0, 1 byte, 2 bit), inner codec.
///
/// h5batch calls libblosc's context functions with one thread: the workers are the parallelism,
/// and no global Blosc state is shared between them.
final class Blosc: ChunkCodec {
    static let filterID = 32001
    static let name = "blosc"
    static var settings: CodecSettings {
        CodecSettings(levels: 0...9, defaultLevel: 5, innerCodecs: ["lz4", "blosclz", "lz4hc", "zlib", "zstd"], shuffle: .inside)
    }

    init() {}

    static func parameters(for compression: ChunkCompression, elementSize: Int, chunkBytes: Int) -> [UInt32] {
        let code = blosc_compname_to_compcode(compression.effectiveInner!)
        precondition(code >= 0, "libblosc lacks the \(compression.effectiveInner!) codec")
        return [2, UInt32(BLOSC_VERSION_FORMAT), UInt32(elementSize), UInt32(chunkBytes),
                UInt32(compression.effectiveLevel!), compression.shuffle ? UInt32(BLOSC_SHUFFLE) : UInt32(BLOSC_NOSHUFFLE), UInt32(code)]
    }

    static func describe(_ parameters: [UInt32]) -> String {
        guard parameters.count > 6 else { return "blosc" }
        var name: UnsafePointer<CChar>?
        let inner = blosc_compcode_to_compname(Int32(clamping: parameters[6]), &name) >= 0 && name != nil
            ? String(cString: name!) : "codec \(parameters[6])"
        let shuffle = ["no shuffle", "shuffle", "bitshuffle"][safe: Int(parameters[5])] ?? "shuffle \(parameters[5])"
        return "blosc(\(inner), level \(parameters[4]), \(shuffle))"
    }

    static func decodedSize(of source: UnsafeRawBufferPointer, parameters: [UInt32]) -> Int? {
        var bytes = 0
        guard source.count >= Int(BLOSC_MIN_HEADER_LENGTH), blosc_cbuffer_validate(source.baseAddress, source.count, &bytes) == 0 else { return nil }
        return bytes
    }

    func decode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Bool {
        // libblosc trusts the sizes in a buffer's header; validate them against the input first.
        guard Self.decodedSize(of: source, parameters: parameters) == destination.count else { return false }
        return blosc_decompress_ctx(source.baseAddress, destination.baseAddress, destination.count, 1) == destination.count
    }

    func bound(_ count: Int, parameters: [UInt32]) -> Int { count + Int(BLOSC_MAX_OVERHEAD) }

    func encode(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, parameters: [UInt32]) -> Int? {
        // The plugin's defaults for the parameters a writer left out (PyTables records fewer):
        // element size 1, level 5, byte shuffle, blosclz.
        var name: UnsafePointer<CChar>?
        guard blosc_compcode_to_compname(Int32(clamping: parameters[safe: 6] ?? UInt32(BLOSC_BLOSCLZ)), &name) >= 0, let name else {
            return nil
        }
        let size = blosc_compress_ctx(Int32(clamping: min(parameters[safe: 4] ?? 5, 9)), Int32(clamping: parameters[safe: 5] ?? UInt32(BLOSC_SHUFFLE)),
                                      Int(parameters[safe: 2] ?? 1), source.count,
                                      source.baseAddress, destination.baseAddress, destination.count, name, 0, 1)
        precondition(size > 0, "libblosc: the destination is smaller than the bound")
        return Int(size)
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
