import Foundation
import Testing
@testable import H5Batch

/// libhdf5's own calls to h5batch's codecs (`CodecFilters`): the hyperslab path, where libhdf5
/// decodes a chunk and then copies a whole chunk's bytes out of what the codec returned.
@Suite("Codec filters in libhdf5")
struct CodecFilterTests {
    /// A zstd frame holding `bytes` bytes.
    static func zstdFrame(of bytes: Int) -> [UInt8] {
        let codec = Zstd(), content = [UInt8](repeating: 7, count: bytes)
        var frame = [UInt8](repeating: 0, count: codec.bound(bytes, parameters: [3]))
        let size = content.withUnsafeBytes { source in frame.withUnsafeMutableBytes { codec.encode(source, into: $0, parameters: [3])! } }
        return Array(frame.prefix(size))
    }

    @Test("a chunk whose valid stream holds fewer bytes than a chunk is damaged, not read past its end",
          arguments: [false, true])
    func shortChunk(shuffle: Bool) throws {
        let folder = TemporaryFolder()
        let path = folder.file("short.h5")
        let file = try HDF5File.create(path)
        // Chunks that split rows: libhdf5 decodes them, not the workers.
        let dataset = try file.createDataset("x", type: .float32, shape: [6, 4],
                                             layout: .init(chunks: [3, 2], compression: ChunkCompression(.zstd, shuffle: shuffle)))
        let values = (0..<24).map(Float.init)
        try values.withUnsafeBufferPointer { try dataset.write(rows: 0..<6, from: $0) }
        // A well-formed zstd frame of 8 bytes where the chunk's 24 bytes were.
        try Self.zstdFrame(of: 8).withUnsafeBytes { try dataset.writeStoredChunk(at: [3, 2], bytes: $0) }
        try file.close()

        let reopened = try HDF5File.open(path).dataset("x")
        var rows = [Float](repeating: 0, count: 8)
        // The first two rows do not touch the damaged chunk.
        try rows.withUnsafeMutableBufferPointer { try reopened.read(rows: 0..<2, into: $0) }
        #expect(rows == Array(values[0..<8]))
        let error = #expect(throws: HDF5Error.self) {
            try rows.withUnsafeMutableBufferPointer { try reopened.read(rows: 3..<5, into: $0) }
        }
        // Exit 65, naming the chunk.
        #expect(error?.reason == .filterFailed && error?.detail.hasPrefix("it is corrupt") == true, "\(String(describing: error))")
        #expect(error?.operation.contains("rows 3..<6, columns 2..<4") == true, "\(String(describing: error))")
        #expect(throws: HDF5Error.self) { try reopened.readAll() }
    }
}
