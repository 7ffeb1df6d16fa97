import CKernels
import Foundation
import Testing
@testable import H5Batch

/// CKernels at every ISA level this CPU runs: each level gives the baseline level's result (bit
/// for bit: element-wise kernels never fuse or reorder, and softmax's, layer_norm's and the
/// statistics' sums keep one order in every level), and the kernels compute the formulas of `Functional.exp`,
/// `expm1` and `erfc` and the conversions of Swift's `Float16`.
@Suite("Vector kernels at every ISA level")
struct VectorKernelTests {
    /// The levels this CPU runs, baseline first.
    static var levels: [UnsafePointer<ck_kernels>] { (0...2).compactMap { ck_level(rawValue: $0).flatMap(ckernels_table_for) } }
    static var baseline: ck_kernels { levels[0].pointee }
    static let lengths = [0, 1, 7, 15, 17, 1000]

    /// NaN (quiet, signalling, with payloads, negative), ±∞, ±0, subnormals, huge and tiny
    /// values, values at the kernels' clamps, then a spread of ordinary values.
    static let specials: [Float] = [
        .nan, -.nan, Float(bitPattern: 0x7fa0_0001), Float(bitPattern: 0xffc1_2345), .infinity, -.infinity, 0, -0.0,
        .leastNonzeroMagnitude, -.leastNonzeroMagnitude, Float(bitPattern: 0x0001_16C2), -Float(bitPattern: 0x0001_16C2),  // ±1e-40, subnormal
        .leastNormalMagnitude, -.leastNormalMagnitude,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 3e38, -3e38, 1e30, -1e30, 1e-30, -1e-30, 1e-8, -1e-8,
        -87.3, -87.31, -87.0, -87.01, 88, 88.01, 88.72, 88.73, 89, -10, -10.01, 10, 10.01, 20, 20.01, 0.75, -0.75,
        0.346_57, -0.346_57, 1, -1, 0.5, -0.5, 65504, 65520, -65520, 6e-8, 3e-8, 2.98e-8,
    ]

    /// `length` values: the specials, then values of every magnitude from a fixed generator.
    static func values(_ length: Int, seed: UInt64 = 1) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        return (0..<length).map { i in
            if i < specials.count { return specials[i] }
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let unit = Float(state >> 40) / Float(1 << 24)  // [0, 1)
            switch (state >> 20) % 4 {
            case 0: return (unit - 0.5) * 12  // where the activations bend
            case 1: return (unit - 0.5) * 200  // past exp's clamps
            case 2: return Float(bitPattern: UInt32(truncatingIfNeeded: state >> 7))  // any bits at all
            default: return (unit - 0.5) * 1e-3
            }
        }
    }

    /// Equal bits, or both NaN (which NaN an arithmetic operation returns is not specified).
    static func same(_ a: [Float], _ b: [Float]) -> String? {
        guard a.count == b.count else { return "\(a.count) values, expected \(b.count)" }
        for i in a.indices where !(a[i].bitPattern == b[i].bitPattern || (a[i].isNaN && b[i].isNaN)) {
            return "[\(i)]: \(a[i]) (0x\(String(a[i].bitPattern, radix: 16))), expected \(b[i]) (0x\(String(b[i].bitPattern, radix: 16)))"
        }
        return nil
    }

    /// Runs `kernel` of every level on a copy of `input` and checks each against the baseline.
    static func checkLevels(_ label: String, _ input: [Float], _ kernel: (ck_kernels, UnsafeMutablePointer<Float>?, Int) -> Void) {
        var expected = input
        expected.withUnsafeMutableBufferPointer { kernel(baseline, $0.baseAddress, $0.count) }
        for level in levels.dropFirst() {
            var got = input
            got.withUnsafeMutableBufferPointer { kernel(level.pointee, $0.baseAddress, $0.count) }
            #expect(same(got, expected) == nil, "\(label), \(String(cString: level.pointee.name)), \(input.count) values: \(same(got, expected) ?? "")")
        }
    }

    /// The element-wise activations as the Swift code computed them before the kernels.
    static var activations: [(String, (ck_kernels, UnsafeMutablePointer<Float>?, Int) -> Void, (Float) -> Float)] { [
        ("relu", { $0.relu($1, $2) }, { !($0 <= 0) ? $0 : 0 }),
        ("leaky_relu", { $0.leaky_relu($1, $2, 0.01) }, { $0 > 0 ? $0 : $0 * 0.01 }),
        ("leaky_relu 0", { $0.leaky_relu($1, $2, 0) }, { $0 > 0 ? $0 : $0 * 0 }),
        ("elu", { $0.elu($1, $2, 1) }, { $0 > 0 ? $0 : 1 * Functional.expm1($0) }),
        ("elu 0.5", { $0.elu($1, $2, 0.5) }, { $0 > 0 ? $0 : 0.5 * Functional.expm1($0) }),
        ("sigmoid", { $0.sigmoid($1, $2) }, { 1 / (1 + Functional.exp(-$0)) }),
        ("tanh", { $0.tanh($1, $2) }, { v in
            let e = Functional.expm1(2 * (v < -10 ? -10 : (v > 10 ? 10 : v)))
            return e / (e + 2)
        }),
        ("silu", { $0.silu($1, $2) }, { $0 / (1 + Functional.exp(-$0)) }),
        ("gelu", { $0.gelu($1, $2) }, { 0.5 * $0 * Functional.erfc(-$0 * 0.707_106_77) }),
        ("gelu tanh", { $0.gelu_tanh($1, $2) }, { v in
            let u = 0.797_884_56 * (v + 0.044_715 * v * v * v)
            return v / (1 + Functional.exp(-2 * u))
        }),
        ("softplus", { $0.softplus($1, $2, 1, 20) }, { softplus($0, beta: 1, threshold: 20) }),
        ("softplus 2, 5", { $0.softplus($1, $2, 2, 5) }, { softplus($0, beta: 2, threshold: 5) }),
        ("hardtanh", { $0.hardtanh($1, $2, -1, 1) }, { $0 < -1 ? -1 : ($0 > 1 ? 1 : $0) }),
        ("hardtanh -0.5, 2", { $0.hardtanh($1, $2, -0.5, 2) }, { $0 < -0.5 ? -0.5 : ($0 > 2 ? 2 : $0) }),
    ] }

    static func softplus(_ v: Float, beta: Float, threshold: Float) -> Float {
        let a = v * beta
        let y = Functional.exp(a < 0 ? a : -a)
        let s = y / (2 + y), s2 = s * s
        let series = 1 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 * (1.0 / 11 + s2 * (1.0 / 13))))))
        return a > threshold ? v : ((a > 0 ? a : 0) + 2 * s * series) / beta
    }

    @Test("the CPU's level, H5BATCH_MAX_ISA's cap, and the names")
    func levelChoice() throws {
        let best = ckernels_cpu_best_level()
        #expect(Self.levels.count == Int(best.rawValue) + 1)
        #expect(ckernels_table_for(.CK_LEVEL_BASELINE) != nil)
        #expect(["avx512", "avx2", "sse2", "baseline"].contains(VectorKernels.isa))
        #expect(VectorKernels.cpuISA == String(cString: ckernels_table_for(best)!.pointee.name))
        #expect(ckernels_level_for_cap(nil) == best)
        #expect(ckernels_level_for_cap("bogus") == best)
        #expect(ckernels_level_for_cap("AVX2") == best)  // names are lower case
        #expect(ckernels_level_for_cap("baseline") == .CK_LEVEL_BASELINE)
        #expect(ckernels_level_for_cap("sse2") == .CK_LEVEL_BASELINE)
        #expect(ckernels_level_for_cap("avx2") == (best == .CK_LEVEL_AVX512 ? .CK_LEVEL_AVX2 : best))
        #expect(ckernels_level_for_cap("avx512") == best)
        // The level in use is the one H5BATCH_MAX_ISA asks for (none in a plain test run).
        let cap = ProcessInfo.processInfo.environment["H5BATCH_MAX_ISA"]
        let chosen = cap.map { ckernels_level_for_cap($0) } ?? best
        #expect(VectorKernels.isa == String(cString: ckernels_table_for(chosen)!.pointee.name))
        for (index, level) in Self.levels.enumerated() { #expect(level.pointee.level.rawValue == index) }
    }

    @Test("element-wise activations: every level as the baseline, and the baseline as the Swift formulas")
    func activations() {
        for (name, kernel, formula) in Self.activations {
            for length in Self.lengths + [Self.specials.count] {
                let input = Self.values(length)
                Self.checkLevels(name, input, kernel)
                var got = input
                got.withUnsafeMutableBufferPointer { kernel(Self.baseline, $0.baseAddress, $0.count) }
                #expect(Self.same(got, input.map(formula)) == nil, "\(name) against the Swift formula: \(Self.same(got, input.map(formula)) ?? "")")
            }
        }
    }

    @Test("the public Functional forms run the active level")
    func functionalUsesKernels() throws {
        let input = Self.values(1000)
        let active = ckernels_active()!.pointee
        var expected = input
        expected.withUnsafeMutableBufferPointer { active.gelu($0.baseAddress!, $0.count) }
        #expect(Self.same(Functional.gelu(input), expected) == nil)
        var rows = input
        rows.withUnsafeMutableBufferPointer { active.softmax($0.baseAddress!, 10, 100) }
        #expect(Self.same(Functional.softmax(input, width: 100), rows) == nil)
    }

    @Test("prelu per feature and softmax by rows")
    func rowKernels() {
        for width in [1, 7, 15, 16, 17, 100, 1000] {
            for rows in [0, 1, 3] {
                let input = Self.values(rows * width, seed: UInt64(width))
                let weight = Self.values(width, seed: 99).map { $0.isNaN ? 0.25 : $0 }
                weight.withUnsafeBufferPointer { w in
                    Self.checkLevels("prelu width \(width)", input) { k, p, n in k.prelu(p, rows, width, w.baseAddress!) }
                }
                Self.checkLevels("softmax width \(width)", input) { k, p, n in k.softmax(p, rows, width) }
                // Finite rows, so every row has a real softmax to check against.
                let finite = input.map { $0.isFinite ? max(-100, min(100, $0)) : 1 }
                Self.checkLevels("finite softmax width \(width)", finite) { k, p, n in k.softmax(p, rows, width) }
                var got = finite
                got.withUnsafeMutableBufferPointer { Self.baseline.softmax($0.baseAddress!, rows, width) }
                for row in 0..<rows {
                    let r = finite[(row * width)..<((row + 1) * width)]
                    let largest = r.max()!
                    let sum = r.reduce(0.0) { $0 + Double(Functional.exp($1 - largest)) }
                    for j in 0..<width {
                        let expected = Double(Functional.exp(r[row * width + j] - largest)) / sum
                        #expect(abs(Double(got[row * width + j]) - expected) <= 3e-7 * expected + 1e-37, "softmax row \(row)")
                    }
                }
            }
        }
        // A row holding NaN or +∞ becomes NaN; a row of −∞ too.
        for row: [Float] in [[1, .nan, 2], [1, .infinity, 2], [-.infinity, -.infinity, -.infinity]] {
            Self.checkLevels("softmax \(row)", row) { k, p, n in k.softmax(p, 1, 3) }
            let y = Functional.softmax(row, width: 3)
            #expect(y.allSatisfy { $0.isNaN })
        }
    }

    @Test("layer_norm and batch_norm's scale and shift by rows")
    func normalizationKernels() {
        for width in [1, 7, 15, 16, 17, 33, 100, 1000] {
            for rows in [0, 1, 3] {
                let input = Self.values(rows * width, seed: UInt64(width) + 7)
                // Finite rows of ordinary size, so the moments are real numbers to compare.
                let finite = input.map { $0.isFinite ? max(-1e6, min(1e6, $0)) : 1 }
                let weight = Self.values(width, seed: 98).map { $0.isFinite ? max(-4, min(4, $0)) : 0.5 }
                let bias = Self.values(width, seed: 97).map { $0.isFinite ? max(-4, min(4, $0)) : -0.5 }
                weight.withUnsafeBufferPointer { w in
                    bias.withUnsafeBufferPointer { b in
                        for data in [input, finite] {
                            Self.checkLevels("layer_norm width \(width)", data) { k, p, n in k.layer_norm(p, rows, width, 1e-5, nil, nil) }
                            Self.checkLevels("affine layer_norm width \(width)", data) { k, p, n in
                                k.layer_norm(p, rows, width, 1e-5, w.baseAddress, b.baseAddress)
                            }
                            Self.checkLevels("scale_shift width \(width)", data) { k, p, n in
                                k.scale_shift(rows, width, w.baseAddress!, b.baseAddress!, p)
                            }
                        }
                    }
                }
                // Against a plain double computation: each row's mean 0 and variance 1.
                var got = finite
                got.withUnsafeMutableBufferPointer { Self.baseline.layer_norm($0.baseAddress!, rows, width, 1e-5, nil, nil) }
                for row in 0..<rows {
                    let r = finite[(row * width)..<((row + 1) * width)].map(Double.init)
                    let mean = r.reduce(0, +) / Double(width)
                    let variance = r.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(width)
                    for j in 0..<width {
                        let expected = (r[j] - mean) / (variance + 1e-5).squareRoot()
                        #expect(abs(Double(got[row * width + j]) - expected) <= 1e-6 * max(1, abs(expected)), "layer_norm row \(row)")
                    }
                }
            }
        }
        // NaN or ±∞ anywhere in a row makes the whole row NaN.
        for row: [Float] in [[1, .nan, 2], [1, .infinity, 2], [-.infinity, 0, 1]] {
            Self.checkLevels("layer_norm \(row)", row) { k, p, n in k.layer_norm(p, 1, 3, 1e-5, nil, nil) }
            #expect(Functional.layerNorm(row, width: 3).allSatisfy { $0.isNaN })
        }
    }

    // MARK: - Conversions

    /// Calls `decode` of `table` on `bytes` (at an odd address when `offset` is 1).
    static func decode(_ table: ck_kernels, _ bytes: [UInt8], kind: Int, size: Int, bigEndian: Bool, offset: Int = 0) -> [Float] {
        let count = bytes.count / size
        var padded = [UInt8](repeating: 0, count: offset) + bytes
        var out = [Float](repeating: -1, count: count)
        padded.withUnsafeMutableBytes { source in
            out.withUnsafeMutableBufferPointer { o in
                #expect(table.decode(Int32(kind), size, bigEndian ? 1 : 0, source.baseAddress.map { $0 + offset }, count, o.baseAddress) == 1)
            }
        }
        return out
    }

    /// The Swift conversion of one element, as ElementConversion did it before the kernels.
    static func reference(_ bytes: ArraySlice<UInt8>, kind: Int, size: Int, bigEndian: Bool) -> Float {
        let ordered = bigEndian ? Array(bytes.reversed()) : Array(bytes)
        let bits = ordered.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
        switch (kind, size) {
        case (CK_KIND_FLOAT, 2): return Float(Float16(bitPattern: UInt16(bits)))
        case (CK_KIND_FLOAT, 4): return Float(bitPattern: UInt32(bits))
        case (CK_KIND_FLOAT, 8): return Float(Double(bitPattern: bits))
        case (CK_KIND_SIGNED, 1): return Float(Int8(truncatingIfNeeded: bits))
        case (CK_KIND_SIGNED, 2): return Float(Int16(truncatingIfNeeded: bits))
        case (CK_KIND_SIGNED, 4): return Float(Int32(truncatingIfNeeded: bits))
        case (CK_KIND_SIGNED, 8): return Float(Int64(bitPattern: bits))
        case (CK_KIND_UNSIGNED, 1): return Float(UInt8(truncatingIfNeeded: bits))
        case (CK_KIND_UNSIGNED, 2): return Float(UInt16(truncatingIfNeeded: bits))
        case (CK_KIND_UNSIGNED, 4): return Float(UInt32(truncatingIfNeeded: bits))
        default: return Float(bits)
        }
    }

    /// Bytes of every kind of value for elements of `size` bytes: the specials' bits, then the
    /// fixed generator's.
    static func elementBytes(count: Int, size: Int) -> [UInt8] {
        var state: UInt64 = 12345
        var bytes = [UInt8]()
        for i in 0..<count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            var bits = state ^ (state >> 29)
            if i < specials.count {
                let value = specials[i]
                bits = size == 8 ? Double(value).bitPattern : (size == 2 ? UInt64(Float16(value).bitPattern) : UInt64(value.bitPattern))
            }
            for b in 0..<size { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * b))) }
        }
        return bytes
    }

    @Test("decode: every type and byte order, aligned or not, in place; every level bit for bit as Swift's conversions")
    func decodeEveryType() {
        let types = [(CK_KIND_FLOAT, 2), (CK_KIND_FLOAT, 4), (CK_KIND_FLOAT, 8)]
            + [1, 2, 4, 8].flatMap { [(CK_KIND_SIGNED, $0), (CK_KIND_UNSIGNED, $0)] }
        for (kind, size) in types {
            for count in Self.lengths {
                let bytes = Self.elementBytes(count: count, size: size)
                for bigEndian in [false, true] {
                    let expected = (0..<count).map { Self.reference(bytes[($0 * size)..<(($0 + 1) * size)], kind: kind, size: size, bigEndian: bigEndian) }
                    for level in Self.levels {
                        let name = "\(String(cString: level.pointee.name)) kind \(kind) size \(size)\(bigEndian ? " big-endian" : "") × \(count)"
                        for offset in [0, 1] {
                            let got = Self.decode(level.pointee, bytes, kind: kind, size: size, bigEndian: bigEndian, offset: offset)
                            #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "\(name) offset \(offset)")
                        }
                        if size == 4 && count > 0 {  // in place, as the raw-chunk reader decodes 4-byte types
                            var buffer = bytes.withUnsafeBytes { [Float]($0.bindMemory(to: Float.self)) }
                            buffer.withUnsafeMutableBufferPointer { p in
                                _ = level.pointee.decode(Int32(kind), 4, bigEndian ? 1 : 0, p.baseAddress!, count, p.baseAddress!)
                            }
                            #expect(buffer.map(\.bitPattern) == expected.map(\.bitPattern), "\(name) in place")
                        }
                    }
                }
            }
        }
        var unused: [Float] = [0]
        #expect(Self.baseline.decode(Int32(CK_KIND_FLOAT), 3, 0, [UInt8](repeating: 0, count: 3), 1, &unused) == 0)
    }

    @Test("float16 decode: all 65,536 halves at every level, bit for bit as Swift's Float16")
    func halfToFloatExhaustive() {
        let halves = (0...UInt16.max).map { $0 }
        let expected = halves.map { Float(Float16(bitPattern: $0)).bitPattern }
        for level in Self.levels {
            var out = [Float](repeating: 0, count: halves.count)
            halves.withUnsafeBytes { h in
                out.withUnsafeMutableBufferPointer { _ = level.pointee.decode(Int32(CK_KIND_FLOAT), 2, 0, h.baseAddress!, halves.count, $0.baseAddress!) }
            }
            #expect(out.map(\.bitPattern) == expected, "\(String(cString: level.pointee.name))")
        }
    }

    @Test("float16 encode: every rounding boundary and a spread of all floats, at every level, bit for bit as Swift's Float16")
    func floatToHalf() {
        // Around every half's upper rounding boundary (the midpoint to the next half): the
        // midpoint itself and its float neighbours, for both signs; then every 65,537th float.
        var inputs = [Float]()
        for h in UInt16(0)..<0x7c00 {
            let low = Float(Float16(bitPattern: h)), high = Float(Float16(bitPattern: h + 1))
            let middle = low + (high - low) / 2
            for x in [middle.nextDown, middle, middle.nextUp] { inputs += [x, -x] }
        }
        inputs += stride(from: UInt64(0), through: UInt64(UInt32.max), by: 65_537).map { Float(bitPattern: UInt32($0)) }
        inputs += Self.specials + [65519.99, 65520, 65536, Float(bitPattern: 0x7f80_0001), Float(bitPattern: 0x7f80_2001)]
        let expected = inputs.map { Float16($0).bitPattern }
        for level in Self.levels {
            var out = [UInt16](repeating: 0, count: inputs.count)
            inputs.withUnsafeBufferPointer { f in
                out.withUnsafeMutableBytes { _ = level.pointee.encode(2, f.baseAddress!, inputs.count, $0.baseAddress!) }
            }
            let first = out.indices.first { out[$0] != expected[$0] }
            #expect(first == nil, "\(String(cString: level.pointee.name)): \(first.map { "\(inputs[$0]) → 0x\(String(out[$0], radix: 16)), expected 0x\(String(expected[$0], radix: 16))" } ?? "")")
        }
        // float64 out, float32 a copy; other sizes refused.
        for length in Self.lengths {
            let input = Self.values(length)
            for level in Self.levels {
                var doubles = [Double](repeating: 0, count: length), floats = [Float](repeating: 0, count: length)
                input.withUnsafeBufferPointer { f in
                    doubles.withUnsafeMutableBytes { _ = level.pointee.encode(8, f.baseAddress!, length, $0.baseAddress!) }
                    floats.withUnsafeMutableBytes { _ = level.pointee.encode(4, f.baseAddress!, length, $0.baseAddress!) }
                }
                #expect(doubles.map(\.bitPattern) == input.map { Double($0).bitPattern })
                #expect(floats.map(\.bitPattern) == input.map(\.bitPattern))
            }
        }
        var unused: [UInt8] = [0]
        #expect(Self.baseline.encode(1, [Float](repeating: 0, count: 1), 1, &unused) == 0)
    }

    @Test("shuffle and unshuffle: every size, every level, as HDF5's definition")
    func shuffle() {
        for size in [1, 2, 3, 4, 5, 8, 16] {
            for count in Self.lengths {
                let bytes = (0..<(count * size)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 8 &+ 7) }
                var planes = [UInt8](repeating: 0, count: bytes.count)
                for i in 0..<count { for j in 0..<size { planes[j * count + i] = bytes[i * size + j] } }
                for level in Self.levels {
                    let name = "\(String(cString: level.pointee.name)) size \(size) × \(count)"
                    var shuffled = [UInt8](repeating: 0, count: bytes.count), back = shuffled
                    bytes.withUnsafeBytes { s in
                        shuffled.withUnsafeMutableBytes { level.pointee.shuffle(s.baseAddress, $0.baseAddress, count, size) }
                    }
                    planes.withUnsafeBytes { s in
                        back.withUnsafeMutableBytes { level.pointee.unshuffle(s.baseAddress, $0.baseAddress, count, size) }
                    }
                    #expect(shuffled == planes, "\(name) shuffle")
                    #expect(back == bytes, "\(name) unshuffle")
                }
            }
        }
    }

    // MARK: - Statistics

    struct Counted: Equatable {
        var zeros = [Int32](), negatives = [Int32](), finite = [Int32]()
        var minimum = [UInt32](), maximum = [UInt32](), sum = [UInt32](), squares = [UInt32]()
    }

    static func count(_ table: ck_kernels, _ values: [Float], rows: Int, width: Int, shift: [Float]) -> Counted {
        var zeros = [Int32](repeating: -1, count: width), negatives = zeros, finite = zeros
        var minimum = [Float](repeating: .nan, count: width), maximum = minimum, sum = minimum, squares = minimum
        zeros.withUnsafeMutableBufferPointer { z in
        negatives.withUnsafeMutableBufferPointer { n in
        finite.withUnsafeMutableBufferPointer { f in
        minimum.withUnsafeMutableBufferPointer { lo in
        maximum.withUnsafeMutableBufferPointer { hi in
        sum.withUnsafeMutableBufferPointer { s in
        squares.withUnsafeMutableBufferPointer { q in
            var out = ck_stats_out(zeros: z.baseAddress, negatives: n.baseAddress, finite: f.baseAddress, minimum: lo.baseAddress,
                                   maximum: hi.baseAddress, sum: s.baseAddress, squares: q.baseAddress)
            table.stats_count(values, rows, width, shift, &out)
        }}}}}}}
        return Counted(zeros: zeros, negatives: negatives, finite: finite, minimum: minimum.map(\.bitPattern),
                       maximum: maximum.map(\.bitPattern), sum: sum.map(\.bitPattern), squares: squares.map(\.bitPattern))
    }

    @Test("stats counting: every level bit for bit as the baseline, and as a plain count feature by feature")
    func statsCount() {
        for width in [1, 3, 4, 5, 7, 8, 15, 16, 17, 33, 100, 1025] {
            for rows in [0, 1, 7, 16, 17, 256] {  // whole and partial tiles (16 rows from width 1024 on)
                let values = Self.values(rows * width, seed: UInt64(width * 1000 + rows)).map { $0.magnitude > 1e30 && !$0.isInfinite ? $0 / 1e20 : $0 }
                let shift = (0..<width).map { f in rows > 0 && values[f].isFinite ? values[f] : 0 }
                let expected = Self.count(Self.baseline, values, rows: rows, width: width, shift: shift)
                for level in Self.levels.dropFirst() {
                    #expect(Self.count(level.pointee, values, rows: rows, width: width, shift: shift) == expected,
                            "\(String(cString: level.pointee.name)) \(rows)×\(width)")
                }
                // The same sums, row by row, in Swift.
                var plain = Counted()
                for f in 0..<width {
                    let column = (0..<rows).map { values[$0 * width + f] }, finite = column.filter(\.isFinite)
                    plain.zeros.append(Int32(column.filter { $0 == 0 }.count))
                    plain.negatives.append(Int32(column.filter { $0 < 0 }.count))
                    plain.finite.append(Int32(finite.count))
                    plain.minimum.append((finite.min() ?? .infinity).bitPattern)
                    plain.maximum.append((finite.max() ?? -.infinity).bitPattern)
                    plain.sum.append(finite.reduce(Float(0)) { $0 + ($1 - shift[f]) }.bitPattern)
                    plain.squares.append(finite.reduce(Float(0)) { $0 + ($1 - shift[f]) * ($1 - shift[f]) }.bitPattern)
                }
                #expect(plain == expected, "\(rows)×\(width)")
            }
        }
    }
}
