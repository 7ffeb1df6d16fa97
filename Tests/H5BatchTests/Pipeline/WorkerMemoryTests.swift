import CZstd
import Testing
@testable import H5Batch

/// What a worker's state grows to (`WorkerState.estimatedBytes`) against what the libraries it
/// calls really keep.
@Suite("Worker memory")
struct WorkerMemoryTests {
    /// The bytes a libzstd compression context holds once it has compressed `chunk` at `level`,
    /// and a decompression context once it has decompressed the result.
    static func zstdContextBytes(_ chunk: [UInt8], level: Int32) throws -> Int {
        let compressor = try #require(ZSTD_createCCtx()), decompressor = try #require(ZSTD_createDCtx())
        defer { ZSTD_freeCCtx(compressor); ZSTD_freeDCtx(decompressor) }
        var frame = [UInt8](repeating: 0, count: ZSTD_compressBound(chunk.count))
        let size = ZSTD_compressCCtx(compressor, &frame, frame.count, chunk, chunk.count, level)
        #expect(ZSTD_isError(size) == 0)
        var back = [UInt8](repeating: 0, count: chunk.count)
        #expect(ZSTD_decompressDCtx(decompressor, &back, back.count, frame, size) == chunk.count && back == chunk)
        return ZSTD_sizeof_CCtx(compressor) + ZSTD_sizeof_DCtx(decompressor)
    }

    @Test("a worker's estimate holds the Zstd contexts its codecs keep, which grow with the level",
          arguments: [3, 19])
    func zstdContexts(level: Int) throws {
        let rows = 1024, width = 256, chunkBytes = rows * width * 4
        let chunk = CodecTests.sample(chunkBytes, seed: 7)
        let held = try Self.zstdContextBytes(chunk, level: Int32(level))
        let compression = ChunkCompression(.zstd, level: level)
        let layout = try #require(RawChunkLayout(shape: [rows, width], chunks: [rows, width], elementSize: 4,
                                                 filters: compression.filters(elementSize: 4, chunkBytes: chunkBytes)))
        let encoder = ChunkEncoder(layout: layout, type: .float32, totalRows: rows, rowWidth: width)
        let chain = try StageChain([ReLU()], inputWidth: width)
        let plain = WorkerState.estimatedBytes(chain: chain, rows: rows, decoder: nil, encoder: nil)
        let estimate = WorkerState.estimatedBytes(chain: chain, rows: rows, decoder: nil, encoder: encoder)
        // At level 19 libzstd keeps over 10 MiB for a 1 MiB chunk.
        #expect(level < 19 || held > 10 << 20)
        #expect(estimate - plain >= held, "estimate \(estimate - plain) bytes for codecs holding \(held)")
        #expect(estimate - plain < 2 * held + (1 << 20), "estimate \(estimate - plain) bytes, far over the \(held) held")
    }
}
