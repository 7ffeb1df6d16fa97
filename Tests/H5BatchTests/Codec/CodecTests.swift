import CKernels
import CZstd
import Foundation
import Testing
@testable import H5Batch

/// Each codec on its own: what it encodes decodes back exactly, for every element size and for
/// chunks whose element count is not a multiple of 8 (Bitshuffle's rest); damaged or mis-sized
/// input is refused, never decoded into something; the bit transpose is the same at every ISA
/// level; settings are checked per codec. Files written by h5py + hdf5plugin are read in
/// `CodecRunTests`.
@Suite("Codecs")
struct CodecTests {
    /// Bytes that look like stored floats: a few repeated patterns and noise, so every codec
    /// finds something to compress and something it cannot.
    static func sample(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { i in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return i % 4 == 3 ? 0x3F : UInt8(truncatingIfNeeded: state >> (i % 3 == 0 ? 60 : 33))
        }
    }

    /// The parameters h5batch writes for `codec` at its defaults (and the inner codecs of Blosc and Bitshuffle).
    static func parameterSets(_ codec: any ChunkCodec.Type, elementSize: Int, chunkBytes: Int) -> [[UInt32]] {
        let compression = ChunkCompression.Codec(rawValue: codec.name)!
        let inners = codec.settings.innerCodecs.isEmpty ? [nil] : codec.settings.innerCodecs.map { Optional($0) }
        return inners.flatMap { inner in
            [false, true].compactMap { shuffle -> [UInt32]? in
                let settings = ChunkCompression(compression, shuffle: shuffle, inner: inner)
                guard settings.problem() == nil else { return nil }
                return codec.parameters(for: settings, elementSize: elementSize, chunkBytes: chunkBytes)
            }
        }
    }

    @Test("encode then decode gives the bytes back, for element sizes 1 to 8 and any element count",
          arguments: Codecs.all.map { $0.name })
    func roundTrip(_ name: String) throws {
        let type = try #require(Codecs.codec(named: name))
        let codec = type.init()
        for size in [1, 2, 4, 8] {
            for count in [8, 175, 1400, 5000] {
                let bytes = count * size
                let input = Self.sample(bytes, seed: UInt64(count * size))
                for parameters in Self.parameterSets(type, elementSize: size, chunkBytes: bytes) {
                    var encoded = [UInt8](repeating: 0, count: codec.bound(bytes, parameters: parameters))
                    let encodedSize = input.withUnsafeBytes { source in
                        encoded.withUnsafeMutableBytes { codec.encode(source, into: $0, parameters: parameters) }
                    }
                    // Only LZF keeps a chunk as it is (when it would not shrink).
                    guard let encodedSize else { #expect(name == "lzf"); continue }
                    #expect(encodedSize <= encoded.count)
                    let stored = Array(encoded.prefix(encodedSize))
                    var decoded = [UInt8](repeating: 0xAA, count: bytes)
                    let ok = stored.withUnsafeBytes { source in
                        decoded.withUnsafeMutableBytes { codec.decode(source, into: $0, parameters: parameters) }
                    }
                    #expect(ok && decoded == input, "\(name) \(parameters) size \(size) count \(count)")
                    let announced = stored.withUnsafeBytes { type.decodedSize(of: $0, parameters: parameters) }
                    #expect(announced == nil || announced == bytes, "\(name) \(parameters)")
                    // One byte more or less than the stream holds is refused.
                    for wrong in [bytes - 1, bytes + 1] {
                        var other = [UInt8](repeating: 0, count: wrong)
                        let accepted = stored.withUnsafeBytes { source in
                            other.withUnsafeMutableBytes { codec.decode(source, into: $0, parameters: parameters) }
                        }
                        #expect(!accepted, "\(name) \(parameters) decoded into \(wrong) bytes, not \(bytes)")
                    }
                }
            }
        }
    }

    @Test("a damaged stream (overwritten, or cut short) does not decode", arguments: Codecs.all.map { $0.name })
    func damaged(_ name: String) throws {
        let type = try #require(Codecs.codec(named: name))
        let codec = type.init()
        let bytes = 4 * 1400
        // Compressible, so that LZF keeps its encoding too.
        let input = (0..<bytes).map { UInt8(($0 / 8) % 11) }
        for parameters in Self.parameterSets(type, elementSize: 4, chunkBytes: bytes) {
            var encoded = [UInt8](repeating: 0, count: codec.bound(bytes, parameters: parameters))
            let size = try #require(input.withUnsafeBytes { source in
                encoded.withUnsafeMutableBytes { codec.encode(source, into: $0, parameters: parameters) }
            })
            for damage in [[UInt8](repeating: 0xFF, count: size), Array(encoded.prefix(size / 2)), []] {
                var decoded = [UInt8](repeating: 0, count: bytes)
                let ok = damage.withUnsafeBytes { source in
                    decoded.withUnsafeMutableBytes { codec.decode(source, into: $0, parameters: parameters) }
                }
                #expect(!ok, "\(name) \(parameters): \(damage.count) damaged bytes decoded")
            }
        }
    }

    @Test("the Bitshuffle transpose is the same at every ISA level, and undone by its inverse")
    func bitTranspose() throws {
        let levels = (0...2).compactMap { ck_level(rawValue: $0).flatMap(ckernels_table_for) }
        for size in [1, 2, 3, 4, 8, 16] {
            for count in [8, 16, 128, 1024, 2048] {
                let input = Self.sample(count * size, seed: UInt64(size + count))
                var results: [[UInt8]] = []
                for level in levels {
                    var out = [UInt8](repeating: 0, count: input.count), scratch = out, back = out
                    level.pointee.bitshuffle(input, &out, &scratch, count, size)
                    level.pointee.bitunshuffle(out, &back, &scratch, count, size)
                    #expect(back == input, "level \(level.pointee.level) size \(size) count \(count)")
                    results.append(out)
                }
                #expect(results.allSatisfy { $0 == results[0] }, "levels differ at size \(size) count \(count)")
                // Bit plane 0 of a block holds bit 0 of the first byte of every element, in order.
                let planeBytes = count / 8
                var plane = [UInt8](repeating: 0, count: planeBytes)
                for element in 0..<count where input[element * size] & 1 != 0 { plane[element / 8] |= 1 << UInt8(element % 8) }
                #expect(Array(results[0].prefix(planeBytes)) == plane, "size \(size) count \(count)")
            }
        }
    }

    @Test("settings are checked per codec, with the field to blame")
    func settingsChecked() {
        #expect(ChunkCompression(.gzip, level: 12).problem()! == ("level", "12 is out of range (from 1 to 9)"))
        #expect(ChunkCompression(.zstd, level: 22).problem() == nil)
        #expect(ChunkCompression(.zstd, level: 23).problem()! == ("level", "23 is out of range (from 1 to 22)"))
        #expect(ChunkCompression(.lz4, level: 1).problem()! == ("level", "lz4 has no levels; leave level out"))
        #expect(ChunkCompression(.lzf, level: 1).problem()! == ("level", "lzf has no levels; leave level out"))
        #expect(ChunkCompression(.blosc, level: 0, inner: "zstd").problem() == nil)
        #expect(ChunkCompression(.blosc, inner: "snappy").problem()!
                == ("codec", "blosc compresses with lz4, blosclz, lz4hc, zlib, zstd, not snappy"))
        #expect(ChunkCompression(.zstd, inner: "lz4").problem()! == ("codec", "zstd has no inner codec; codec applies to blosc and bitshuffle"))
        #expect(ChunkCompression(.bitshuffle, shuffle: true).problem()! == ("shuffle", "bitshuffle transposes bits itself; leave shuffle out"))
        #expect(ChunkCompression(.bitshuffle, level: 5).problem()! == ("level", "bitshuffle has levels with its zstd codec only (codec: zstd)"))
        #expect(ChunkCompression(.bitshuffle, level: 5, inner: "zstd").problem() == nil)
    }

    @Test("the filters each setting writes, as inspect names them")
    func filterNames() {
        let cases: [(ChunkCompression, String)] = [
            (.none, "none"), (ChunkCompression(nil, shuffle: true), "shuffle"),
            (ChunkCompression(.gzip), "gzip(4)"), (ChunkCompression(.gzip, level: 6, shuffle: true), "shuffle, gzip(6)"),
            (ChunkCompression(.lzf, shuffle: true), "shuffle, lzf"), (ChunkCompression(.zstd), "zstd(3)"),
            (ChunkCompression(.zstd, level: 9, shuffle: true), "shuffle, zstd(9)"), (ChunkCompression(.lz4), "lz4"),
            (ChunkCompression(.bitshuffle), "bitshuffle(lz4)"), (ChunkCompression(.bitshuffle, inner: "zstd"), "bitshuffle(zstd 3)"),
            (ChunkCompression(.blosc), "blosc(lz4, level 5, no shuffle)"),
            (ChunkCompression(.blosc, level: 9, shuffle: true, inner: "zstd"), "blosc(zstd, level 9, shuffle)"),
        ]
        for (compression, name) in cases { #expect(compression.description == name) }
    }

    @Test("generate --compression: CODEC or CODEC:LEVEL, checked like output.compression")
    func parseGenerateCompression() throws {
        #expect(try ChunkCompression.parse("zstd:5", shuffle: true).get() == ChunkCompression(.zstd, level: 5, shuffle: true))
        #expect(try ChunkCompression.parse("lzf", shuffle: false).get() == ChunkCompression(.lzf))
        func message(_ text: String) -> String? {
            if case .failure(let error) = ChunkCompression.parse(text, shuffle: false) { return error.message }
            return nil
        }
        #expect(message("lz4:3") == "--compression lz4:3: lz4 has no levels; leave level out")
        #expect(message("gzip:0") == "--compression gzip:0: 0 is out of range (from 1 to 9)")
        #expect(message("zfp") == "--compression must be one of gzip, lzf, zstd, lz4, bitshuffle, blosc, with :LEVEL where the codec has levels")
        #expect(message("zstd:x") == "--compression zstd:x: the level must be a number")
    }
}

extension CodecTests {
    @Test("Zstd's level is a signed int, as hdf5plugin records it: -5 is a fast level, not the slowest")
    func zstdNegativeLevel() throws {
        let codec = Zstd()
        let input = Self.sample(1 << 16, seed: 11)
        func encodedSize(_ level: Int32) -> Int {
            var encoded = [UInt8](repeating: 0, count: codec.bound(input.count, parameters: []))
            return input.withUnsafeBytes { source in
                encoded.withUnsafeMutableBytes { codec.encode(source, into: $0, parameters: [UInt32(bitPattern: level)])! }
            }
        }
        // What libzstd itself makes at level -5.
        var direct = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let expected = ZSTD_compress(&direct, direct.count, input, input.count, -5)
        #expect(ZSTD_isError(expected) == 0 && encodedSize(-5) == expected)
        #expect(Zstd.describe([UInt32(bitPattern: -5)]) == "zstd(-5)")
    }
}

/// Parameters from files other writers made: decoded when they describe a decodable chunk,
/// refused (never a crash) when they do not.
@Suite("Codecs: other writers' parameters")
struct ForeignParameterTests {
    static let bitshuffleNone = Repo.data + "/bitshuffle_none.h5"

    @Test("Bitshuffle without compression (hdf5plugin's cname='none') reads, through libhdf5 and the workers, and writes the same bytes")
    func bitshuffleWithoutCompression() throws {
        let file = try HDF5File.open(Self.bitshuffleNone)
        let dataset = try file.dataset("x"), expected = try file.dataset("expected").readAll()
        #expect(try dataset.readAll() == expected)
        let parameters = dataset.filters[0].parameters
        #expect(parameters.count > 4 && parameters[4] == 0, "\(parameters)")
        let codec = Bitshuffle()
        var stored = [UInt8](repeating: 0, count: 280), decoded = [UInt8](repeating: 0, count: 280)
        _ = try stored.withUnsafeMutableBytes { try dataset.readStoredChunk(at: [10, 0], into: $0.baseAddress!) }
        #expect(stored.withUnsafeBytes { source in decoded.withUnsafeMutableBytes { codec.decode(source, into: $0, parameters: parameters) } })
        let values = Array(expected[70..<140])
        #expect(decoded == values.withUnsafeBytes { Array($0) })
        // Encoding gives back the bytes hdf5plugin stored.
        var encoded = [UInt8](repeating: 0, count: codec.bound(280, parameters: parameters))
        let size = values.withUnsafeBytes { source in encoded.withUnsafeMutableBytes { codec.encode(source, into: $0, parameters: parameters) } }
        #expect(size == 280 && Array(encoded.prefix(280)) == stored)
        // A compression h5batch does not know: left unfiltered, not a crash.
        #expect(values.withUnsafeBytes { source in encoded.withUnsafeMutableBytes { codec.encode(source, into: $0, parameters: [0, 4, 4, 0, 7]) } } == nil)
    }

    @Test("Blosc with fewer than 7 parameters (as PyTables can write) encodes with the plugin's defaults", arguments: [0, 3, 4, 5, 6])
    func bloscShortParameters(count: Int) throws {
        let codec = Blosc(), source = CodecTests.sample(4000, seed: 3)
        let parameters = Array([UInt32(2), 2, 4, 4000, 5, 1, 0].prefix(count))
        var encoded = [UInt8](repeating: 0, count: codec.bound(source.count, parameters: parameters))
        let size = try #require(source.withUnsafeBytes { from in encoded.withUnsafeMutableBytes { codec.encode(from, into: $0, parameters: parameters) } })
        var decoded = [UInt8](repeating: 0, count: source.count)
        #expect(encoded.prefix(size).withUnsafeBytes { from in decoded.withUnsafeMutableBytes { codec.decode(from, into: $0, parameters: parameters) } })
        #expect(decoded == source)
    }

    @Test("an LZ4 block whose stored size is over 2 GiB is damage, not a trap")
    func lz4HugeStoredBlock() throws {
        // 2 GiB + 1 MiB of address space, of which only the header's page is ever touched.
        let length = (1 << 31) + (1 << 20)
        let memory = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let memory, memory != MAP_FAILED else { Issue.record("mmap failed"); return }
        defer { munmap(memory, length) }
        let source = UnsafeMutableRawBufferPointer(start: memory, count: length)
        source.storeBigEndian(UInt64(1 << 20), at: 0)
        source.storeBigEndian(UInt32(1 << 20), at: 8)
        source.storeBigEndian(UInt32(1 << 31) + 5, at: 12)
        var destination = [UInt8](repeating: 0, count: 1 << 20)
        #expect(!destination.withUnsafeMutableBytes { LZ4().decode(UnsafeRawBufferPointer(source), into: $0, parameters: [0]) })
    }
}
