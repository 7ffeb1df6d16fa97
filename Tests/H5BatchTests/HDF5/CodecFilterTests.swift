import Foundation
import Testing
@testable import H5Batch

/// libhdf5's own calls to h5batch's codecs (`CodecFilters`): the hyperslab path, where libhdf5
/// decodes a chunk and then copies a whole chunk's bytes out of what the codec returned.
@Suite("Codec filters in libhdf5")
struct CodecFilterTests {
    /// A well-formed stream of `codec` (a zstd frame, a zlib stream) holding `bytes` bytes.
    static func stream(_ codec: ChunkCompression.Codec, of bytes: Int) -> [UInt8] {
        let type = Codecs.codec(named: codec.rawValue)!, instance = type.init(), content = [UInt8](repeating: 7, count: bytes)
        let parameters = type.parameters(for: ChunkCompression(codec), elementSize: 4, chunkBytes: bytes)
        var stream = [UInt8](repeating: 0, count: instance.bound(bytes, parameters: parameters))
        let size = content.withUnsafeBytes { source in stream.withUnsafeMutableBytes { instance.encode(source, into: $0, parameters: parameters)! } }
        return Array(stream.prefix(size))
    }

    @Test("a chunk whose valid stream holds fewer bytes than a chunk is damaged, not read past its end",
          arguments: [ChunkCompression.Codec.zstd, .lz4], [false, true])
    func shortChunk(codec: ChunkCompression.Codec, shuffle: Bool) throws {
        let folder = TemporaryFolder()
        let path = folder.file("short.h5")
        let file = try HDF5File.create(path)
        // Chunks that split rows: libhdf5 decodes them, not the workers.
        let dataset = try file.createDataset("x", type: .float32, shape: [6, 4],
                                             layout: .init(chunks: [3, 2], compression: ChunkCompression(codec, shuffle: shuffle)))
        let values = (0..<24).map(Float.init)
        try values.withUnsafeBufferPointer { try dataset.write(rows: 0..<6, from: $0) }
        // A well-formed stream of 8 bytes where the chunk's 24 bytes were.
        try Self.stream(codec, of: 8).withUnsafeBytes { try dataset.writeStoredChunk(at: [3, 2], bytes: $0) }
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
        #expect(error?.reason == .filterFailed && error?.detail.hasPrefix("it is corrupt (its \(Codecs.codec(named: codec.rawValue)!.streamName) stream does not decode to 24 bytes)") == true, "\(String(describing: error))")
        #expect(error?.operation.contains("rows 3..<6, columns 2..<4") == true, "\(String(describing: error))")
        #expect(throws: HDF5Error.self) { try reopened.readAll() }
    }

    @Test("gzip on libhdf5's path: a chunk whose valid stream is shorter is read as garbage (libhdf5's own deflate filter)")
    func shortGzipChunk() throws {
        let folder = TemporaryFolder()
        let path = folder.file("short.h5")
        let file = try HDF5File.create(path)
        let dataset = try file.createDataset("x", type: .float32, shape: [6, 4], layout: .init(chunks: [3, 2], compression: ChunkCompression(.gzip)))
        try (0..<24).map(Float.init).withUnsafeBufferPointer { try dataset.write(rows: 0..<6, from: $0) }
        try Self.stream(.gzip, of: 8).withUnsafeBytes { try dataset.writeStoredChunk(at: [3, 2], bytes: $0) }
        try file.close()
        let reopened = try HDF5File.open(path).dataset("x")
        var rows = [Float](repeating: 0, count: 8)
        // libhdf5 refuses to replace its deflate filter (H5Zregister: filters below 256 are
        // predefined), and that filter returns a shorter chunk than the chunk's size without
        // complaint. Once h5batch decodes these chunks itself, this read fails as above.
        withKnownIssue("libhdf5's deflate filter reads a short gzip chunk past its end") {
            #expect(throws: HDF5Error.self) {
                try rows.withUnsafeMutableBufferPointer { try reopened.read(rows: 3..<5, into: $0) }
            }
        }
    }

    @Test("a failed H5Zregister says so: libhdf5's reason, and the codec it leaves unregistered")
    func failedRegistration() {
        // libhdf5 refuses filter identifiers below 256, so registering deflate's always fails.
        let failure = "h5batch".withCString { name in
            CodecFilters.register(filterID: Deflate.filterID, name: name, filter: { _, _, _, _, _, _ in 0 })
        }
        #expect(failure == "cannot register filter 1 (H5Zregister): unable to modify predefined filters", "\(String(describing: failure))")
        // Every codec h5batch registers did register here.
        #expect(CodecFilters.registrationFailures.isEmpty, "\(CodecFilters.registrationFailures)")
    }
}
