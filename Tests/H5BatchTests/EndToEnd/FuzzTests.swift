import Foundation
import Testing
@testable import H5Batch

// MARK: - Settings and randomness

/// Fuzz sizes and seed. `make test` uses the defaults; `make fuzz` raises the counts (and picks a
/// new seed) through the environment. Every case draws from its own stream of the seed, so a
/// failure names the seed and the case number that reproduce it.
enum FuzzSettings {
    static func count(_ name: String, _ fallback: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) } ?? fallback
    }

    /// Mutated pipeline files parsed (and, when they load, run) in process.
    static var pipelineFiles: Int { count("H5BATCH_FUZZ_ITERATIONS", 10_000) }
    /// Mutated pipeline files run through the built binary.
    static var binaryPipelineFiles: Int { count("H5BATCH_FUZZ_BINARY_ITERATIONS", 200) }
    /// Distinct configurations among the loaded pipeline files that are also run in process (a
    /// run takes ~40 ms in a debug build; `make fuzz` runs them all).
    static var pipelineRuns: Int { count("H5BATCH_FUZZ_RUNS", 200) }
    /// Damaged HDF5 files, each inspected and run through the built binary.
    static var hdf5Files: Int { count("H5BATCH_FUZZ_HDF5_ITERATIONS", 100) }

    static let seed: UInt64 = {
        guard let text = ProcessInfo.processInfo.environment["H5BATCH_FUZZ_SEED"], !text.isEmpty else {
            return 0x6835_6261_7463_6821
        }
        if text.hasPrefix("0x") { return UInt64(text.dropFirst(2), radix: 16) ?? 0 }
        return UInt64(text) ?? 0
    }()

    static let seedText = "0x" + String(seed, radix: 16)

    /// `H5BATCH_FUZZ_CASE=N` runs case N alone (with the seed that failed) and keeps its file.
    static let onlyCase: Int? = ProcessInfo.processInfo.environment["H5BATCH_FUZZ_CASE"].flatMap { Int($0) }

    /// The case numbers to run out of `count`.
    static func cases(_ count: Int) -> [Int] { onlyCase.map { [$0] } ?? Array(0..<count) }

    /// Failing cases are kept here (the folder is not removed), and so is the case being run,
    /// so that one that kills the test process can still be found.
    static let keptCases = NSTemporaryDirectory() + "h5batch-fuzz"
}

/// SplitMix64: small, fast and the same on every platform and toolchain (the standard library's
/// `random(in:using:)` may change how it draws from a generator, so it is not used).
struct SplitMix64 {
    private var state: UInt64

    /// The generator for case `stream` of `seed`.
    init(seed: UInt64, stream: UInt64 = 0) {
        state = seed ^ (stream &* 0xD1B5_4A32_D192_ED03)
        _ = next()
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 0..<bound (bound > 0).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func pick<T>(_ options: [T]) -> T { options[below(options.count)] }

    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    /// An index chosen by weight.
    mutating func weighted(_ weights: [Int]) -> Int {
        var roll = below(weights.reduce(0, +))
        for (index, weight) in weights.enumerated() {
            if roll < weight { return index }
            roll -= weight
        }
        return weights.count - 1
    }
}

// MARK: - Pipeline seeds

/// A well-formed pipeline file that mutations start from. Data paths are absolute, so the
/// mutated file works from any folder.
struct PipelineSeed: Sendable {
    let name: String
    let format: PipelineFile.Format
    let text: String

    var fileExtension: String { format == .json ? "json" : "yaml" }

    static let all: [PipelineSeed] = {
        func absolute(_ text: String) -> String {
            text.replacingOccurrences(of: "../../data/", with: Repo.data + "/")
                .replacingOccurrences(of: "../data/", with: Repo.data + "/")
        }
        var originals: [PipelineSeed] = []
        let files = ["demo.yaml"] + ((try? FileManager.default.contentsOfDirectory(atPath: Repo.config + "/examples")) ?? [])
            .sorted().map { "examples/" + $0 }
        for name in files where name.hasSuffix(".yaml") || name.hasSuffix(".json") {
            let text = try! String(contentsOfFile: Repo.config + "/" + name, encoding: .utf8)
            originals.append(PipelineSeed(name: name, format: PipelineFile.Format(path: name), text: absolute(text)))
        }
        // Every key and every kind of value at least once.
        originals.append(PipelineSeed(name: "every-key.yaml", format: .yaml, text: """
        input: { file: \(Repo.data)/sample.h5, dataset: /features }
        output:
          file: out.h5
          dataset: /g/out
          dtype: float16
          chunk_rows: 1_500
          compression: none
          level: 9
          shuffle: True
        run: { mode: full, batch_rows: 3000, workers: 2, memory_limit: 512MiB }
        stages:
          - prelu: { value: -0.5 }
          - linear: { file: \(Repo.data)/weights.h5, weight: /fc1_keras.weight, bias: fc1_keras.bias, layout: keras }
          - leaky_relu:
          - prelu
          - elu: { alpha: 2e-1 }
          - linear: { file: "\(Repo.data)/weights.h5", weight: 'fc2.weight', bias: null }

        """))
        var all = originals
        for seed in originals {
            let root = try! ConfigDocument.parse(seed.text, json: seed.format == .json, path: seed.name)
            all.append(PipelineSeed(name: seed.name + " as JSON", format: .json, text: renderJSON(root, indent: "") + "\n"))
            all.append(PipelineSeed(name: seed.name + " as compact JSON", format: .json, text: renderJSON(root, indent: nil)))
            all.append(PipelineSeed(name: seed.name + " as block YAML", format: .yaml, text: renderYAML(root, indent: "")))
        }
        return all
    }()

    static let yaml = all.filter { $0.format == .yaml }
    static let json = all.filter { $0.format == .json }

    /// A scalar as JSON: unquoted numbers, booleans and null stay bare, everything else is a string.
    private static func jsonScalar(_ text: String, quoted: Bool) -> String {
        if !quoted {
            if ["", "~", "null"].contains(text) { return "null" }
            if ["true", "false"].contains(text) { return text }
            if text.range(of: #"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$"#, options: .regularExpression) != nil {
                return text
            }
        }
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case _ where scalar.value < 0x20: escaped += String(format: "\\u%04x", scalar.value)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }

    /// JSON text of a tree; `indent` nil gives one line.
    static func renderJSON(_ node: ConfigNode, indent: String?) -> String {
        let inner = indent.map { $0 + "  " }
        let open = inner.map { "\n" + $0 } ?? ""
        let close = indent.map { "\n" + $0 } ?? ""
        switch node.value {
        case .scalar(let text, let quoted):
            return jsonScalar(text, quoted: quoted)
        case .list(let items):
            if items.isEmpty { return "[]" }
            return "[" + open + items.map { renderJSON($0, indent: inner) }.joined(separator: "," + (open.isEmpty ? " " : open)) + close + "]"
        case .map(let entries):
            if entries.isEmpty { return "{}" }
            let parts = entries.map { jsonScalar($0.key, quoted: true) + ": " + renderJSON($0.value, indent: inner) }
            return "{" + open + parts.joined(separator: "," + (open.isEmpty ? " " : open)) + close + "}"
        }
    }

    /// Block-style YAML text of a tree (scalars that were quoted stay double-quoted).
    static func renderYAML(_ node: ConfigNode, indent: String) -> String {
        func scalar(_ text: String, _ quoted: Bool) -> String { quoted ? jsonScalar(text, quoted: true) : text }
        switch node.value {
        case .scalar(let text, let quoted):
            return indent + scalar(text, quoted) + "\n"
        case .list(let items):
            if items.isEmpty { return indent + "[]\n" }
            return items.map { item -> String in
                if case .scalar(let text, let quoted) = item.value { return indent + "- " + scalar(text, quoted) + "\n" }
                let body = renderYAML(item, indent: indent + "  ")
                return indent + "- " + body.dropFirst(indent.count + 2)
            }.joined()
        case .map(let entries):
            if entries.isEmpty { return indent + "{}\n" }
            return entries.map { entry -> String in
                let key = indent + entry.key + ":"
                switch entry.value.value {
                case .scalar(let text, let quoted): return key + " " + scalar(text, quoted) + "\n"
                case .list(let items) where items.isEmpty: return key + " []\n"
                case .map(let inner) where inner.isEmpty: return key + " {}\n"
                default: return key + "\n" + renderYAML(entry.value, indent: indent + "  ")
                }
            }.joined()
        }
    }
}

// MARK: - Mutations

/// Mutates pipeline text: bytes, lines, numbers, words, nesting and size.
struct PipelineMutator {
    var random: SplitMix64
    let json: Bool

    static let interestingBytes: [UInt8] = Array("{}[]:,\"'-#&*!|>%@`?\\ \n\t\r.0_".utf8) + [0x00, 0x7F, 0xC3, 0xFF, 0x0B, 0xE2]
    static let extremes = ["0", "-1", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                           "1e308", "-1e308", "1e309", "nan", "NaN", ".nan", ".inf", "-.inf", "inf", "-inf",
                           "99999999999999999999", "18446744073709551616", "4.9e-324", "1e-400", "-0", "0.0",
                           "1_0", "1__0", "_", "0x10", "0o17", "+5", "1.5", "1024", "1025", "2147483648",
                           "4294967296", "1073741824", "1099511627776"]
    static let keywords = ["input", "output", "run", "stages", "file", "dataset", "dtype", "chunk_rows", "compression",
                           "level", "shuffle", "mode", "batch_rows", "workers", "memory_limit", "linear", "relu",
                           "leaky_relu", "prelu", "elu", "weight", "bias", "layout", "negative_slope", "alpha", "value",
                           "float16", "float32", "float64", "int8", "none", "gzip", "minibatch", "full", "auto",
                           "torch", "keras", "true", "false", "True", "null", "~", "yes", "no", "on", "''", "\"\"",
                           "80%", "0%", "100%", "101%", "1e-9%", "nan%", "4GiB", "0B", "1B", "1e400GiB", "-1MiB",
                           "9999999TiB", "1e-300", "/features", "/", "//", ".", "..", "fc1.weight", "fc2.weight",
                           "fc2.bias", "prelu.weight", "prelu1.weight", "nan.weight", "/rank3", "/rank1", "/strings",
                           "/compound", "/sparse", "/types/int8", "/types/float16", "/dev/null",
                           Repo.data, Repo.data + "/sample.h5", Repo.data + "/weights.h5", Repo.data + "/cases.h5",
                           Repo.data + "/cases.json", "&a", "*a", "!!str", "!!int 5", "? x", "- y", "{x: 1}", "[1, 2]",
                           "|", ">", "'unterminated", "\"a\\nb\"", "a\tb", "ä", "\u{1F600}"]
    static let depths = [10, 63, 64, 65, 100, 999, 1000, 1001, 3000, 20_000]

    /// One to three mutations of `text`, with a description of each.
    mutating func mutate(_ text: [UInt8]) -> (bytes: [UInt8], steps: [String]) {
        var bytes = text
        var steps: [String] = []
        let count = 1 + random.weighted([70, 20, 10])
        for _ in 0..<count {
            steps.append(mutateOnce(&bytes))
        }
        return (bytes, steps)
    }

    private mutating func position(_ bytes: [UInt8], inclusiveEnd: Bool = false) -> Int {
        bytes.isEmpty ? 0 : random.below(bytes.count + (inclusiveEnd ? 1 : 0))
    }

    private mutating func mutateOnce(_ bytes: inout [UInt8]) -> String {
        switch random.weighted([12, 10, 10, 8, 4, 6, 5, 6, 5, 15, 15, 2, 1, 1]) {
        case 0:
            guard !bytes.isEmpty else { return "flip: empty" }
            let at = position(bytes), bit = random.below(8)
            bytes[at] ^= 1 << UInt8(bit)
            return "flip bit \(bit) of byte \(at)"
        case 1:
            guard !bytes.isEmpty else { return "replace: empty" }
            let at = position(bytes), byte = random.pick(Self.interestingBytes)
            bytes[at] = byte
            return "byte \(at) = 0x\(String(byte, radix: 16))"
        case 2:
            let at = position(bytes, inclusiveEnd: true)
            let inserted = (0..<(1 + random.below(3))).map { _ in random.pick(Self.interestingBytes) }
            bytes.insert(contentsOf: inserted, at: at)
            return "insert \(inserted.map { "0x" + String($0, radix: 16) }) at \(at)"
        case 3:
            guard !bytes.isEmpty else { return "delete: empty" }
            let at = position(bytes), length = min(bytes.count - at, 1 + random.below(8))
            bytes.removeSubrange(at..<at + length)
            return "delete \(length) bytes at \(at)"
        case 4:
            let at = position(bytes, inclusiveEnd: true)
            bytes.removeSubrange(at...)
            return "truncate to \(at) bytes"
        case 5, 6, 7:
            var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
            guard lines.count > 1 else { return "lines: one line" }
            let a = random.below(lines.count), b = random.below(lines.count)
            let what: String
            switch random.below(3) {
            case 0: lines.insert(lines[a], at: b); what = "duplicate line \(a + 1) before line \(b + 1)"
            case 1: lines.swapAt(a, b); what = "swap lines \(a + 1) and \(b + 1)"
            default: lines.remove(at: a); what = "delete line \(a + 1)"
            }
            bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            return what
        case 8:
            // Shift one line's indentation (YAML structure) or add a tab.
            var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
            let at = random.below(lines.count)
            let prefix: [UInt8] = random.pick([Array("  ".utf8), Array(" ".utf8), Array("\t".utf8), Array("- ".utf8)])
            if random.chance(50), lines[at].first == UInt8(ascii: " ") {
                lines[at].removeFirst(min(lines[at].count, 1 + random.below(2)))
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
                return "dedent line \(at + 1)"
            }
            lines[at].insert(contentsOf: prefix, at: 0)
            bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            return "indent line \(at + 1) with \(String(decoding: prefix, as: UTF8.self).debugDescription)"
        case 9:
            let numbers = tokens(in: bytes, number: true)
            guard let token = numbers.isEmpty ? nil : random.pick(numbers) else { return "numbers: none" }
            let replacement = random.pick(Self.extremes)
            bytes.replaceSubrange(token, with: Array(replacement.utf8))
            return "number at \(token.lowerBound) = \(replacement)"
        case 10:
            let words = tokens(in: bytes, number: false)
            guard let token = words.isEmpty ? nil : random.pick(words) else { return "words: none" }
            let replacement = random.chance(80) ? random.pick(Self.keywords) : random.pick(Self.extremes)
            bytes.replaceSubrange(token, with: Array(replacement.utf8))
            return "word at \(token.lowerBound) = \(replacement)"
        case 11:
            return nest(&bytes)
        case 12:
            return enlarge(&bytes)
        default:
            // Another seed's text spliced in: mixes formats and sections.
            let other = Array(random.pick(PipelineSeed.all).text.utf8)
            let from = position(other), length = min(other.count - from, 1 + random.below(200))
            let at = position(bytes, inclusiveEnd: true)
            bytes.insert(contentsOf: other[from..<from + length], at: at)
            return "splice \(length) bytes of another seed at \(at)"
        }
    }

    /// Bytes of words: letters, digits, `_`, `.`, `/`, `%`, `-`; and of numbers.
    private static let wordBytes: [Bool] = (0..<256).map { byte in
        let c = UnicodeScalar(UInt8(byte))
        return c.properties.isASCIIHexDigit || ("a"..."z").contains(c) || ("A"..."Z").contains(c) || "_./%-".unicodeScalars.contains(c)
    }
    private static let numberBytes: [Bool] = (0..<256).map { byte in
        "0123456789.-_e".unicodeScalars.contains(UnicodeScalar(UInt8(byte)))
    }

    /// Ranges of numbers, or of other words, in `bytes`.
    private func tokens(in bytes: [UInt8], number: Bool) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var index = 0
        while index < bytes.count {
            guard Self.wordBytes[Int(bytes[index])] else { index += 1; continue }
            let start = index
            var allNumeric = true, hasDigit = false
            while index < bytes.count, Self.wordBytes[Int(bytes[index])] {
                allNumeric = allNumeric && Self.numberBytes[Int(bytes[index])]
                hasDigit = hasDigit || (bytes[index] >= 0x30 && bytes[index] <= 0x39)
                index += 1
            }
            if (allNumeric && hasDigit) == number { ranges.append(start..<index) }
        }
        return ranges
    }

    /// Deep nesting: a whole document, or a nested value spliced into the text.
    private mutating func nest(_ bytes: inout [UInt8]) -> String {
        let depth = random.pick(Self.depths)
        let closed = random.chance(80)
        let kind = random.below(json ? 2 : 4)
        var nested: String
        switch kind {
        case 0:
            nested = String(repeating: "[", count: depth) + "1" + (closed ? String(repeating: "]", count: depth) : "")
        case 1:
            nested = String(repeating: json ? "{\"a\": " : "{a: ", count: depth) + "1" + (closed ? String(repeating: "}", count: depth) : "")
        case 2:
            // Block mappings, one space deeper per level (the text grows with depth squared).
            let levels = min(depth, 1100)
            nested = "\n" + (0..<levels).map { String(repeating: " ", count: $0 + 1) + "a:" }.joined(separator: "\n") + " 1\n"
        default:
            nested = String(repeating: "- ", count: depth) + "relu"
        }
        if random.chance(50) {
            let document: String
            switch (json, kind) {
            case (true, _): document = "{\"stages\": [\"relu\"], \"run\": " + nested + "}"
            case (false, 2): document = "stages: [relu]\nrun:" + nested
            case (false, 3): document = "stages:\n" + nested + "\n"
            default: document = "stages: [relu]\nrun: " + nested + "\n"
            }
            bytes = Array(document.utf8)
            return "document nested \(depth) deep (kind \(kind), closed \(closed))"
        }
        let at = position(bytes, inclusiveEnd: true)
        bytes.insert(contentsOf: Array(nested.utf8), at: at)
        return "nesting \(depth) deep (kind \(kind), closed \(closed)) inserted at \(at)"
    }

    /// Huge files: long comments, whitespace, scalars, key lists and stage lists.
    private mutating func enlarge(_ bytes: inout [UInt8]) -> String {
        let size = random.pick([10_000, 10_000, 100_000, 100_000, 100_000, 1_000_000])
        switch random.below(5) {
        case 0:
            let filler = json ? String(repeating: " \n\t", count: size / 3) : "\n#" + String(repeating: "x", count: size) + "\n"
            bytes.append(contentsOf: Array(filler.utf8))
            return "append \(size) bytes of comment or whitespace"
        case 1:
            let long = String(repeating: "a", count: size)
            let document = json ? "{\"input\": {\"file\": \"\(long)\", \"dataset\": \"\(long)\"}, \"stages\": [\"relu\"]}"
                                : "input: { file: \(long), dataset: \(long) }\nstages: [relu]\n"
            bytes = Array(document.utf8)
            return "file and dataset names of \(size) bytes"
        case 2:
            let keys = size / 20
            let entries = (0..<keys).map { json ? "\"k\($0)\": \($0)" : "k\($0): \($0)" }.joined(separator: ", ")
            let document = json ? "{\"stages\": [\"relu\"], \"run\": {\(entries)}}" : "stages: [relu]\nrun: {\(entries)}\n"
            bytes = Array(document.utf8)
            return "a mapping of \(keys) keys"
        case 3:
            // Stages that load but do nothing but an identity: the run stays cheap, the list long.
            let count = size / 50
            let stage = json ? "{\"prelu\": {\"value\": 1}}" : "{prelu: {value: 1}}"
            let list = "[" + Array(repeating: stage, count: count).joined(separator: ", ") + (random.chance(50) ? ", oops]" : "]")
            let document = json ? "{\"input\": {\"file\": \"\(Repo.data)/sample.h5\"}, \"stages\": \(list)}"
                                : "input: {file: \(Repo.data)/sample.h5}\nstages: \(list)\n"
            bytes = Array(document.utf8)
            return "a list of \(count) stages"
        default:
            var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
            let at = random.below(lines.count)
            let copies = size / max(1, lines[at].count + 1)
            lines.insert(contentsOf: Array(repeating: lines[at], count: min(copies, 20_000)), at: at)
            bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            return "line \(at + 1) repeated \(min(copies, 20_000)) times"
        }
    }
}

/// One generated pipeline file.
struct PipelineCase {
    let index: Int
    let seed: PipelineSeed
    let bytes: [UInt8]
    let steps: [String]

    var format: PipelineFile.Format { seed.format }

    /// Case `index` of `stream` (each test uses its own stream so they do not repeat each other).
    static func make(_ index: Int, stream: UInt64) -> PipelineCase {
        var random = SplitMix64(seed: FuzzSettings.seed ^ stream, stream: UInt64(index))
        // Alternate the formats so both are always well represented.
        let seed = random.pick(index % 2 == 1 ? PipelineSeed.json : PipelineSeed.yaml)
        var mutator = PipelineMutator(random: random, json: seed.format == .json)
        let (bytes, steps) = mutator.mutate(Array(seed.text.utf8))
        return PipelineCase(index: index, seed: seed, bytes: bytes, steps: steps)
    }

    /// Everything needed to reproduce a failure, with the mutated text (shortened when huge)
    /// and where the whole file was kept.
    func report(_ problem: String) -> String {
        try? FileManager.default.createDirectory(atPath: FuzzSettings.keptCases, withIntermediateDirectories: true)
        let kept = FuzzSettings.keptCases + "/failed-\(FuzzSettings.seedText)-\(index).\(seed.fileExtension)"
        _ = FileManager.default.createFile(atPath: kept, contents: Data(bytes))
        let text = String(decoding: bytes.prefix(3000), as: UTF8.self)
        let more = bytes.count > 3000 ? "\n… (\(bytes.count) bytes in all)" : ""
        return """
        \(problem)
        seed \(FuzzSettings.seedText), case \(index), from \(seed.name), mutations: \(steps.joined(separator: "; "))
        kept at \(kept); mutated text:
        \(text)\(more)
        """
    }
}

// MARK: - HDF5 files

/// A small HDF5 file the reader fuzz mutates: `/x` is the input (48 rows of 8 values, or
/// 6 x 8 x 8), `/w` eight PReLU weights.
struct HDF5Seed: Sendable {
    let name: String
    let bytes: [UInt8]

    /// One file per storage the reader meets: contiguous, chunked, shuffle + gzip, float16,
    /// integers, rank 3, and chunks that split rows (the hyperslab path).
    static func make(in folder: String) throws -> [HDF5Seed] {
        typealias Layout = HDF5File.DatasetLayout
        let specs: [(String, StorageType, [Int], Layout)] = [
            ("contiguous", .float32, [48, 8], Layout()),
            ("chunked", .float32, [48, 8], Layout(chunks: [16, 8])),
            ("gzip-shuffle", .float32, [48, 8], Layout(chunks: [16, 8], gzipLevel: 4, shuffle: true)),
            ("float16-gzip", .float16, [48, 8], Layout(chunks: [16, 8], gzipLevel: 1)),
            ("int16-shuffle", .int16, [48, 8], Layout(chunks: [16, 8], shuffle: true)),
            ("uint8-contiguous", .uint8, [48, 8], Layout()),
            ("int64-rank3-gzip", .int64, [6, 8, 8], Layout(chunks: [2, 8, 8], gzipLevel: 6, shuffle: true)),
            ("float64-split-rows", .float64, [48, 8], Layout(chunks: [16, 4])),
        ]
        return try specs.map { name, type, shape, layout in
            let path = folder + "/seed-\(name).h5"
            let file = try HDF5File.create(path)
            let x = try file.createDataset("/x", type: type, shape: shape, layout: layout)
            let rows = shape.dropLast().reduce(1, *)
            let values = (0..<rows * 8).map { Float(($0 * 7) % 23) }
            try values.withUnsafeBufferPointer { try x.write(rows: 0..<rows, from: $0) }
            let w = try file.createDataset("/w", type: .float32, shape: [8])
            let weights: [Float] = [0.25, -1, 0.5, 2, 0, 1, -0.5, 0.125]
            try weights.withUnsafeBufferPointer { try w.write(rows: 0..<1, from: $0) }
            try file.close()
            return HDF5Seed(name: name, bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        }
    }
}

/// Damages HDF5 bytes: bit flips, runs of 0x00, 0xFF or noise, extreme integers, truncation.
struct HDF5Mutator {
    var random: SplitMix64

    static let integers: [UInt64] = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000,
                                     0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF]

    /// Most of a small file is metadata, and the first KiB (superblock, root group, the
    /// first object headers) is where damage matters most, so it is hit more often.
    private mutating func position(_ count: Int) -> Int {
        random.chance(40) ? random.below(min(count, 1024)) : random.below(count)
    }

    mutating func mutate(_ original: [UInt8]) -> (bytes: [UInt8], steps: [String]) {
        var bytes = original
        var steps: [String] = []
        for _ in 0..<(1 + random.weighted([60, 30, 10])) where !bytes.isEmpty {
            switch random.weighted([25, 15, 15, 10, 25, 10]) {
            case 0:
                let flips = 1 + random.below(4)
                var spots: [String] = []
                for _ in 0..<flips {
                    let at = position(bytes.count), bit = random.below(8)
                    bytes[at] ^= 1 << UInt8(bit)
                    spots.append("\(at).\(bit)")
                }
                steps.append("flip bits \(spots.joined(separator: ", "))")
            case 1, 2:
                let fill: UInt8 = random.chance(50) ? 0x00 : 0xFF
                let at = position(bytes.count), length = min(bytes.count - at, 1 + random.below(64))
                bytes.replaceSubrange(at..<at + length, with: repeatElement(fill, count: length))
                steps.append("\(length) bytes of 0x\(String(fill, radix: 16)) at \(at)")
            case 3:
                let at = position(bytes.count), length = min(bytes.count - at, 1 + random.below(16))
                for offset in at..<at + length { bytes[offset] = UInt8(truncatingIfNeeded: random.next()) }
                steps.append("\(length) random bytes at \(at)")
            case 4:
                let value = random.pick(Self.integers), width = random.pick([1, 2, 4, 8])
                let at = position(bytes.count)
                for offset in 0..<min(width, bytes.count - at) {
                    bytes[at + offset] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(offset)))
                }
                steps.append("\(width)-byte 0x\(String(value, radix: 16)) at \(at)")
            default:
                let length = random.below(bytes.count)
                bytes.removeSubrange(length...)
                steps.append("truncate to \(length) bytes")
            }
        }
        return (bytes, steps)
    }
}

/// One damaged HDF5 file.
struct HDF5Case {
    let index: Int
    let seed: HDF5Seed
    let bytes: [UInt8]
    let steps: [String]

    /// Case `index`: the seeds in turn, each damaged its own way.
    static func make(_ index: Int, seeds: [HDF5Seed]) -> HDF5Case {
        let seed = seeds[index % seeds.count]
        var mutator = HDF5Mutator(random: SplitMix64(seed: FuzzSettings.seed ^ 3, stream: UInt64(index)))
        let (bytes, steps) = mutator.mutate(seed.bytes)
        return HDF5Case(index: index, seed: seed, bytes: bytes, steps: steps)
    }

    var description: String { "seed \(FuzzSettings.seedText), case \(index): \(seed.name).h5 with \(steps.joined(separator: "; "))" }

    /// Keeps the file and describes the case.
    func report(_ problem: String) -> String {
        try? FileManager.default.createDirectory(atPath: FuzzSettings.keptCases, withIntermediateDirectories: true)
        let kept = FuzzSettings.keptCases + "/failed-\(FuzzSettings.seedText)-\(index)-\(seed.name).h5"
        writeScratch(kept, bytes)
        return "\(problem)\n\(description)\nkept at \(kept)"
    }
}

/// The innermost frames of a crash of the built `h5batch`, from gdb (nil without gdb, or
/// with `H5BATCH_FUZZ_GDB=0`).
func crashBacktrace(_ arguments: [String], folder: String, tag: String) -> String? {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb"),
          ProcessInfo.processInfo.environment["H5BATCH_FUZZ_GDB"] != "0",
          let result = try? runChild(["-batch", "-nx", "-ex", "run", "-ex", "bt 12", "--args", Repo.binary] + arguments,
                                     executable: "/usr/bin/gdb", folder: folder, tag: tag + "-gdb", timeout: 120) else { return nil }
    let frames = result.stdout.split(separator: "\n").filter { $0.hasPrefix("#") || $0.contains("received signal") }
    return frames.map { line in
        // "#3  0x... in H5D__chunk_lookup (...) from /lib/.../libhdf5_serial.so.103": the
        // function and the library it lives in.
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let inIndex = parts.firstIndex(of: "in"), inIndex + 1 < parts.count else { return String(line) }
        let library = parts.firstIndex(of: "from").map { " (\(parts[$0 + 1].split(separator: "/").last ?? ""))" } ?? ""
        return "\(parts[0]) \(parts[inIndex + 1])\(library)"
    }.joined(separator: " <- ")
}

// MARK: - Child processes

/// How a child process ended.
struct ChildResult {
    let status: Int32
    /// Killed by a signal (`status` is then the signal number).
    let signaled: Bool
    let timedOut: Bool
    let stdout: String
    let stderr: String

    var outcome: String {
        if timedOut { return "timed out" }
        return signaled ? "killed by signal \(status)" : "exit \(status)"
    }

    /// Nil when the result is one of `allowed` statuses and, on failure, exactly one `error:`
    /// line on stderr and nothing on stdout; otherwise what is wrong.
    func problem(allowed: Set<Int32>) -> String? {
        if signaled || timedOut { return "\(outcome) (a crash); stderr: \(stderr.suffix(2000))" }
        guard allowed.contains(status) else { return "exit \(status), allowed \(allowed.sorted()); stderr: \(stderr.suffix(2000))" }
        if status == 0 { return stderr.isEmpty ? nil : "exit 0 with stderr: \(stderr.suffix(2000))" }
        let lines = stderr.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 2, lines[1].isEmpty, lines[0].hasPrefix("error: ") else {
            return "exit \(status): stderr is not exactly one 'error:' line: \(stderr.prefix(2000).debugDescription)"
        }
        return stdout.isEmpty ? nil : "exit \(status) with stdout: \(stdout.prefix(500))"
    }
}

/// Runs `executable` (the built `h5batch`) with `arguments`, its output going to files in
/// `folder`; killed after `timeout` seconds.
///
/// The child starts with every signal unblocked and at its default, as from a shell: a test
/// runs on a Dispatch thread that blocks most signals, and a child would inherit that mask
/// (gdb, for one, then waits forever for SIGCHLD). Hence posix_spawn, not Foundation's Process.
func runChild(_ arguments: [String], executable: String = Repo.binary, folder: String, tag: String,
              timeout: Double = 120) throws -> ChildResult {
    let outPath = folder + "/\(tag).stdout", errPath = folder + "/\(tag).stderr"
    defer {
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t(), all = sigset_t()
    sigemptyset(&none)
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    // Under the lock: a descriptor libhdf5 opened on another test's thread and not yet marked
    // close-on-exec would otherwise pass to the child with its flock (see HDF5File).
    let spawned = HDF5File.withDescriptorsSettled {
        posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
    }
    guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
    var status: Int32 = 0
    var timedOut = false
    let deadline = Date().addingTimeInterval(timeout)
    while waitpid(pid, &status, WNOHANG) == 0 {
        if Date() > deadline && !timedOut {
            timedOut = true
            kill(pid, SIGKILL)
        }
        usleep(1000)
    }
    // The wait status: low 7 bits the signal that ended it, else the exit code above them.
    let signal = status & 0x7F
    return ChildResult(status: signal == 0 ? (status >> 8) & 0xFF : signal, signaled: signal != 0,
                       timedOut: timedOut,
                       stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// Writes `bytes` to `path` (no atomic rename, no fsync: these files are scratch).
func writeScratch(_ path: String, _ bytes: [UInt8]) {
    guard let file = fopen(path, "wb") else { return }
    _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
}

/// Runs `body(index)` for every index on two threads (the machine's cores); the problems come
/// back in index order.
func concurrentProblems(_ count: Int, _ body: @Sendable (Int) -> String?) -> [String] {
    final class Collected: @unchecked Sendable {
        let lock = NSLock()
        var problems: [(Int, String)] = []
    }
    let collected = Collected()
    DispatchQueue.concurrentPerform(iterations: 2) { lane in
        for index in stride(from: lane, to: count, by: 2) {
            if let problem = body(index) {
                collected.lock.lock()
                collected.problems.append((index, problem))
                collected.lock.unlock()
            }
        }
    }
    return collected.problems.sorted { $0.0 < $1.0 }.map(\.1)
}

// MARK: - Tests

@Suite("Fuzzing", .tags(.endToEnd))
struct FuzzTests {
    /// Chains longer than this run on `tinyInput` instead of the pipeline's input: a list of
    /// 20,000 stages is a fine test of the loader, but 20,000 passes over 10,000 rows take
    /// minutes in a debug build.
    static let longChain = 64

    /// A 4 x 32 float32 dataset `/x` in `folder`, for long chains.
    static func makeTinyInput(in folder: String) throws -> String {
        let path = folder + "/tiny.h5"
        let file = try HDF5File.create(path)
        let dataset = try file.createDataset("/x", type: .float32, shape: [4, 32])
        let values = (0..<128).map { Float($0) - 64 }
        try values.withUnsafeBufferPointer { try dataset.write(rows: 0..<4, from: $0) }
        try file.close()
        return path
    }

    /// How loading one mutated file ended: the config, or nil and what is wrong (nil, nil: a
    /// clean exit-64 error).
    static func load(_ file: String) -> (config: PipelineConfig?, problem: String?) {
        do {
            return (try PipelineFile.load(file), nil)
        } catch let error as H5BatchError {
            if error.kind != .usage {
                return (nil, "load failed with \(error.kind) (exit \(error.exitCode)), not usage (64): \(error.message)")
            }
            if error.message.contains("\n") || error.message.contains("\r") {
                return (nil, "the error is not one line: \(error.message.debugDescription)")
            }
            if !error.message.hasPrefix(file) { return (nil, "the error does not name the file: \(error.message)") }
            return (nil, nil)
        } catch {
            return (nil, "load threw \(type(of: error)), not H5BatchError: \(error)")
        }
    }

    /// Files in `folder` this process still has open (`/proc/self/fd`): a file libhdf5 still
    /// holds, or a lock never released.
    static func openFiles(in folder: String) -> [String] {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return descriptors.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0) }
            .filter { $0.hasPrefix(folder + "/") }
    }

    /// How a pipeline that loaded ran in process: nil when it succeeded, or threw a one-line
    /// `H5BatchError` (of any kind: a mutated name may point at a file or dataset it cannot use)
    /// and left nothing behind: no partial or lock file, and no file still open (an HDF5 file
    /// left open crashes libhdf5's cleanup when the process exits).
    static func runInProcess(_ config: PipelineConfig, output: String, tinyInput: String) -> String? {
        var config = config
        config.output.file = output
        if config.stages.count > longChain { config.input = .init(file: tinyInput, dataset: "/x") }
        let folder = (output as NSString).deletingLastPathComponent
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        var problem: String?
        var succeeded = false
        do {
            _ = try PipelineRunner(config: config, options: .init(force: true)).run()
            succeeded = true
        } catch let error as H5BatchError {
            if error.message.contains("\n") { problem = "the run's error is not one line: \(error.message.debugDescription)" }
        } catch {
            problem = "the run threw \(type(of: error)), not H5BatchError: \(error)"
        }
        let open = openFiles(in: folder)
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        let left = after.subtracting(before).subtracting(succeeded ? [(output as NSString).lastPathComponent] : [])
        try? FileManager.default.removeItem(atPath: output)
        for name in left { try? FileManager.default.removeItem(atPath: folder + "/" + name) }
        if !open.isEmpty { problem = (problem.map { $0 + "; " } ?? "") + "still open: \(open)" }
        if !left.isEmpty { problem = (problem.map { $0 + "; " } ?? "") + "left behind: \(left.sorted())" }
        return problem
    }

    @Test("mutated pipeline files load or fail with exit 64; those that load run or fail cleanly")
    func pipelineFilesInProcess() throws {
        let count = FuzzSettings.pipelineFiles
        let folder = TemporaryFolder()
        let root = folder.path
        let tinyInput = try Self.makeTinyInput(in: root)
        try FileManager.default.createDirectory(atPath: FuzzSettings.keptCases, withIntermediateDirectories: true)
        print("pipeline fuzz: seed \(FuzzSettings.seedText), \(count) files; a case that kills the test process is left in \(FuzzSettings.keptCases)/current-*")
        let started = Date()

        // Loading: two lanes, each case in its own file (load also checks the UTF-8).
        final class Loaded: @unchecked Sendable {
            let lock = NSLock()
            var configs: [(index: Int, config: PipelineConfig)] = []
            var json = 0
        }
        let loaded = Loaded()
        let cases = FuzzSettings.cases(count)
        var problems = concurrentProblems(cases.count) { position in
            let fuzzCase = PipelineCase.make(cases[position], stream: 1)
            if FuzzSettings.onlyCase != nil { print(fuzzCase.report("case kept")) }
            // The file being loaded stays where a crash leaves it.
            let file = FuzzSettings.keptCases + "/current-\(getpid())-\(position % 2).\(fuzzCase.seed.fileExtension)"
            writeScratch(file, fuzzCase.bytes)
            let (config, problem) = Self.load(file)
            try? FileManager.default.removeItem(atPath: file)
            loaded.lock.lock()
            if let config { loaded.configs.append((fuzzCase.index, config)) }
            if fuzzCase.format == .json { loaded.json += 1 }
            loaded.lock.unlock()
            return problem.map { fuzzCase.report($0) }
        }
        let loadSeconds = Date().timeIntervalSince(started)

        // Running: each distinct configuration once (the same one can only end the same way),
        // in case order, up to the run budget.
        var seen: Set<String> = []
        var distinct: [(index: Int, config: PipelineConfig)] = []
        for (index, config) in loaded.configs.sorted(by: { $0.index < $1.index }) where seen.insert("\(config)").inserted {
            distinct.append((index, config))
        }
        // H5BATCH_FUZZ_FIRST_RUN=K skips the first K runs, for bisecting a failure that shows
        // only after many (such as one at the process's exit); each run is then printed.
        let firstRun = FuzzSettings.count("H5BATCH_FUZZ_FIRST_RUN", 0)
        let runs = distinct.prefix(FuzzSettings.pipelineRuns).dropFirst(firstRun)
        for (index, config) in runs {
            if firstRun > 0 { print("run of case \(index): \(config)") }
            let marker = FuzzSettings.keptCases + "/current-\(getpid())-run.txt"
            try? "seed \(FuzzSettings.seedText) case \(index)\n".write(toFile: marker, atomically: false, encoding: .utf8)
            if let problem = Self.runInProcess(config, output: root + "/out.h5", tinyInput: tinyInput) {
                problems.append(PipelineCase.make(index, stream: 1).report(problem))
            }
            try? FileManager.default.removeItem(atPath: marker)
        }
        print("pipeline fuzz: \(cases.count) files (\(cases.count - loaded.json) YAML, \(loaded.json) JSON) in \(String(format: "%.1f", loadSeconds)) s; \(loaded.configs.count) loaded, \(distinct.count) distinct, \(runs.count) run in process; \(String(format: "%.1f", Date().timeIntervalSince(started))) s in all")
        for problem in problems.prefix(20) { Issue.record(Comment(rawValue: problem)) }
        #expect(problems.isEmpty, "\(problems.count) of \(cases.count) mutated pipeline files failed (seed \(FuzzSettings.seedText))")
        #expect(FuzzSettings.onlyCase != nil || (loaded.json >= count / 3 && cases.count - loaded.json >= count / 3))
    }

    /// Documents nested `depth` deep in every way the two formats allow.
    static func nestedDocuments(_ depth: Int) -> [(String, PipelineFile.Format)] {
        let open = String(repeating: "[", count: depth), close = String(repeating: "]", count: depth)
        let objects = String(repeating: "{\"a\": ", count: depth) + "1" + String(repeating: "}", count: depth)
        let flowMaps = String(repeating: "{a: ", count: depth) + "1" + String(repeating: "}", count: depth)
        let blockMaps = (0..<min(depth, 3000)).map { String(repeating: " ", count: $0 + 1) + "a:" }.joined(separator: "\n") + " 1"
        return [
            ("{\"stages\": [\"relu\"], \"run\": \(open)1\(close)}", .json),
            ("{\"stages\": [\"relu\"], \"run\": \(objects)}", .json),
            ("{\"stages\": \(open)", .json),
            ("stages: [relu]\nrun: \(open)1\(close)\n", .yaml),
            ("stages: [relu]\nrun: \(flowMaps)\n", .yaml),
            ("stages: [relu]\nrun:\n\(blockMaps)\n", .yaml),
            ("stages:\n" + String(repeating: "- ", count: depth) + "relu\n", .yaml),
            ("stages: \(open)", .yaml),
        ]
    }

    @Test("nesting deeper than 64 levels is refused with exit 64, on a thread with a small stack",
          arguments: [10, 63, 64, 65, 100, 999, 1000, 1001, 5000, 100_000])
    func deepNesting(_ depth: Int) throws {
        // Yams recursing 999 levels needs more than 2 MiB of stack in a debug build; 512 KiB
        // shows that the depth is checked before anything recurses that deep.
        final class Messages: @unchecked Sendable { var all: [String] = [] }
        let messages = Messages()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            for (text, format) in Self.nestedDocuments(depth) {
                let label = "\(format == .json ? "JSON" : "YAML") nested \(depth) deep, \(text.prefix(40).debugDescription)"
                do {
                    _ = try PipelineFile.parse(text, format: format, path: "deep", baseFolder: "")
                    messages.all.append("\(label): loaded")
                } catch let error as H5BatchError {
                    // With the top-level mapping, `depth` levels under it are depth + 1 in all.
                    let nesting = error.message.contains("nested deeper than 64 levels")
                    if error.kind != .usage || error.message.contains("\n") || !error.message.hasPrefix("deep:")
                        || nesting != (depth >= 64) {
                        messages.all.append("\(label): \(error.kind) \(error.message)")
                    }
                } catch {
                    messages.all.append("\(label): \(error)")
                }
            }
            done.signal()
        }
        thread.stackSize = 512 << 10
        thread.start()
        done.wait()
        #expect(messages.all.isEmpty, "\(messages.all.joined(separator: "\n"))")
    }

    /// Each finding of the fuzzers that had to be fixed in the loader, as a fixed case: the
    /// text, its format, and a fragment of the one-line exit-64 message.
    static let loaderFindings: [(String, PipelineFile.Format, String)] = [
        // Overflowed the chunk-cache arithmetic of a run (a trap).
        ("stages: [relu]\nrun: {batch_rows: 9223372036854775807}", .yaml,
         "p:2: run.batch_rows: 9223372036854775807 is out of range (at most 1073741824, that is 2^30 rows)"),
        ("{\"stages\": [], \"output\": {\"chunk_rows\": 1073741825}}", .json, "p:1: output.chunk_rows: 1073741825 is out of range"),
        ("stages: [relu]\nrun: {batch_rows: 99999999999999999999}", .yaml, "p:2: run.batch_rows: expected an integer, got a number"),
        ("stages: [relu]\nrun: {memory_limit: 0.5B}", .yaml, "p:2: run.memory_limit: '0.5B' is not a size"),
        ("stages: [relu]\nrun: {memory_limit: 1e400GiB}", .yaml, "p:2: run.memory_limit: '1e400GiB' is not a size"),
        ("stages: [{elu: {alpha: 1e309}}]", .yaml, "p:1: stages[0].elu.alpha: 1e309 is out of float range"),
        // Text that would have split the message over lines, or cut a path short in C.
        ("{\"stages\": [], \"a\\nb\": 1}", .json, "p:1: pipeline: unknown key 'a\\nb'"),
        ("stages: [relu]\n\"a\\rb\": 1", .yaml, "p:2: pipeline: unknown key 'a\\rb'"),
        ("stages: [\"re\\nlu\"]", .yaml, "p:1: stages[0]: unknown stage 're\\nlu'"),
        ("{\"stages\": [], \"input\": {\"file\": \"a\\u0000b.h5\"}}", .json,
         "p:1: input.file: 'a\\0b.h5' contains a control character"),
        ("stages: []\noutput: {dataset: \"/x\\ty\"}", .yaml, "p:2: output.dataset: '/x\\ty' contains a control character"),
        ("{\"stages\": [], \"run\": {\"mode\": 1}, \"run\": 2}", .json, "p:1: duplicate key 'run'"),
        // Created, then not found (exit 66); the failed run's output then crashed libhdf5's
        // cleanup when the test process exited.
        ("stages: []\noutput: {dataset: /./out}", .yaml, "p:2: output.dataset: '/./out' has a '.' component"),
        // A sign is not a hex digit.
        ("{\"stages\": [\"\\u+041\"]}", .json, "p:1: malformed JSON: invalid \\u escape"),
    ]

    @Test("what the pipeline-file fuzzers found is refused with one clear line (exit 64)")
    func loaderFindingsAreRefused() {
        for (text, format, fragment) in Self.loaderFindings {
            do {
                let config = try PipelineFile.parse(text, format: format, path: "p", baseFolder: "")
                Issue.record("\(text.debugDescription) loaded: \(config)")
            } catch let error as H5BatchError {
                #expect(error.kind == .usage && error.message.contains(fragment) && !error.message.contains("\n"),
                        "\(text.debugDescription): \(error.message)")
            } catch {
                Issue.record("\(text.debugDescription): \(error)")
            }
        }
    }

    @Test("huge keys, scalars and mappings are refused in linear time with a short message")
    func hugeDocuments() throws {
        let long = String(repeating: "k", count: 1_000_000)
        let keys = (0..<50_000).map { "k\($0)" }
        let documents: [(String, PipelineFile.Format)] = [
            ("{\"stages\": [], \"\(long)\": 1}", .json),
            ("stages: []\n\(long): 1\n", .yaml),
            // Checking duplicate keys pairwise took a minute for these.
            ("{\"stages\": [], \"run\": {" + keys.map { "\"\($0)\": 1" }.joined(separator: ", ") + "}}", .json),
            ("stages: []\nrun: {" + keys.map { "\($0): 1" }.joined(separator: ", ") + "}\n", .yaml),
        ]
        for (text, format) in documents {
            let started = Date()
            let error = #expect(throws: H5BatchError.self) {
                try PipelineFile.parse(text, format: format, path: "p", baseFolder: "")
            }
            #expect(error?.kind == .usage && (error?.message.count ?? .max) < 300, "\(error?.message.prefix(400) ?? "")")
            #expect(Date().timeIntervalSince(started) < 20, "\(text.prefix(40)): \(Date().timeIntervalSince(started)) s")
        }
    }

    @Test("mutated pipeline files through h5batch run: exit 0 or 64 (65/66/73 for other files and datasets), one error line, no crash")
    func pipelineFilesThroughTheBinary() throws {
        let count = FuzzSettings.binaryPipelineFiles
        let temporary = TemporaryFolder()
        let folder = temporary.path
        let tinyInput = try Self.makeTinyInput(in: folder)
        let cases = FuzzSettings.cases(count)
        let problems = concurrentProblems(cases.count) { position in
            let fuzzCase = PipelineCase.make(cases[position], stream: 2)
            if FuzzSettings.onlyCase != nil { print(fuzzCase.report("case kept")) }
            let index = fuzzCase.index
            let file = folder + "/case-\(index).\(fuzzCase.seed.fileExtension)"
            writeScratch(file, fuzzCase.bytes)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let output = folder + "/out-\(index).h5"
            defer { try? FileManager.default.removeItem(atPath: output) }
            var arguments = ["run", file, "--output", output, "--force"]
            if let config = try? PipelineFile.load(file), config.stages.count > Self.longChain {
                arguments += ["--input", tinyInput + ":/x"]
            }
            // 64: the pipeline file. 65: a mutated name that points at another existing file or
            // dataset h5batch cannot use (a weight of the wrong shape, /strings, /dev/null, the
            // weights file as input). 66: a mutated path or dataset name that does not exist.
            // 73: a mutated output dataset name HDF5 cannot create (e.g. "." or a name below a
            // dataset). 74 and 75 cannot come from a pipeline file: each case has its own output.
            guard let result = try? runChild(arguments, folder: folder, tag: "\(index)") else {
                return fuzzCase.report("cannot start \(Repo.binary)")
            }
            return result.problem(allowed: [0, 64, 65, 66, 73]).map { fuzzCase.report($0) }
        }
        for problem in problems.prefix(20) { Issue.record(Comment(rawValue: problem)) }
        #expect(problems.isEmpty, "\(problems.count) of \(cases.count) mutated pipeline files failed (seed \(FuzzSettings.seedText))")
    }

    @Test("damaged HDF5 files: inspect and run exit 0, 65 or 66 with one error line, never a crash")
    func damagedHDF5Files() throws {
        let count = FuzzSettings.hdf5Files
        let temporary = TemporaryFolder()
        let folder = temporary.path
        let seeds = try HDF5Seed.make(in: folder)
        let relu = folder + "/relu.yaml"
        try "stages: [relu]\n".write(toFile: relu, atomically: true, encoding: .utf8)
        let cases = FuzzSettings.cases(count)
        let problems = concurrentProblems(cases.count) { position in
            let fuzzCase = HDF5Case.make(cases[position], seeds: seeds)
            if FuzzSettings.onlyCase != nil { print(fuzzCase.report("case kept")) }
            let index = fuzzCase.index
            let file = folder + "/case-\(index).h5"
            writeScratch(file, fuzzCase.bytes)
            let output = folder + "/out-\(index).h5"
            let prelu = folder + "/prelu-\(index).yaml"
            defer {
                for path in [file, output, prelu] { try? FileManager.default.removeItem(atPath: path) }
            }
            try? "stages: [{prelu: {file: \(file), weight: /w}}]\n".write(toFile: prelu, atomically: false, encoding: .utf8)
            // The damaged file as the input, and (every third case) as the weights' file.
            var runs = [["inspect", file],
                        ["run", relu, "--input", file + ":/x", "--output", output, "--force"]]
            if index % 3 == 0 {
                runs.append(["run", prelu, "--input", folder + "/seed-chunked.h5:/x", "--output", output, "--force"])
            }
            for arguments in runs {
                guard let result = try? runChild(arguments, folder: folder, tag: "\(index)", timeout: 60) else {
                    return fuzzCase.report("cannot start \(Repo.binary)")
                }
                // 65: damage h5batch or libhdf5 detected. 66: damage that hides /x or /w (a
                // flipped byte in a link name) reads as a missing dataset.
                if let problem = result.problem(allowed: [0, 65, 66]) {
                    let trace = result.signaled ? crashBacktrace(arguments, folder: folder, tag: "\(index)").map { "\nbacktrace: \($0)" } ?? "" : ""
                    return fuzzCase.report("h5batch \(arguments.joined(separator: " ")): \(problem)\(trace)")
                }
            }
            return nil
        }
        for problem in problems.prefix(20) { Issue.record(Comment(rawValue: problem)) }
        #expect(problems.isEmpty, "\(problems.count) of \(cases.count) damaged HDF5 files failed (seed \(FuzzSettings.seedText))")
    }

    /// Where the structures of a small file libhdf5 wrote are (superblock version 0, 8-byte
    /// addresses, the root group's symbol table), for damaging them on purpose.
    struct FileMap {
        let bytes: [UInt8]

        func integer(at offset: Int, width: Int = 8) -> Int {
            (0..<width).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }

        /// The offset of the first message of `type` in the version 1 object header at `header`.
        func message(_ type: Int, inHeader header: Int) -> Int? {
            var at = header + 16
            for _ in 0..<integer(at: header + 2, width: 2) {
                if integer(at: at, width: 2) == type { return at + 8 }
                at += 8 + integer(at: at + 2, width: 2)
            }
            return nil
        }

        var rootHeader: Int { integer(at: 64) }
        var symbolTable: Int { message(0x11, inHeader: rootHeader)! }
        var tree: Int { integer(at: symbolTable) }
        var heap: Int { integer(at: symbolTable + 8) }
        /// The object header of the root group's member `name` (in the first symbol-table node).
        func header(of name: String) -> Int? {
            let node = integer(at: tree + 32), heapData = integer(at: heap + 24)
            for entry in 0..<integer(at: node + 6, width: 2) {
                let at = node + 8 + 40 * entry
                let nameStart = heapData + integer(at: at)
                let nameBytes = bytes[nameStart...].prefix { $0 != 0 }
                if String(decoding: nameBytes, as: UTF8.self) == name { return integer(at: at + 8) }
            }
            return nil
        }
    }

    /// Damage that crashed libhdf5 1.10.8 itself (SIGSEGV in `H5F__accum_read`, reached from
    /// `H5Lvisit` and `H5Lexists`; h5dump and h5ls crash on these files too, and so did a
    /// 15-line C program that opens the file and calls `H5Lvisit`), found by the reader fuzz
    /// with seed 0x1234 (cases 720, 838, 920). An address of all 0xFF bytes makes libhdf5's
    /// `address + size <= end of file` check wrap around. `SymbolTableCheck` now refuses them
    /// before libhdf5 reads the group: exit 65, one line. Plus damage libhdf5 reports as a failed
    /// read, which had exit 74 (an I/O error) instead of 65.
    static let damagedStructures: [(String, @Sendable (FileMap) -> [(Int, [UInt8])], String)] = [
        // libhdf5 crashes on these three.
        ("the root group's local-heap address", { [($0.symbolTable + 8, Array(repeating: 0xFF, count: 8))] },
         "the local heap of the root group is at an undefined address"),
        ("the local heap's data address", { [($0.heap + 24, Array(repeating: 0xFF, count: 8))] },
         "the data of the local heap of the root group is at an undefined address"),
        ("the B-tree's first child address", { [($0.tree + 32, Array(repeating: 0xFF, count: 8))] },
         "the group index (symbol table) of the root group is at an undefined address"),
        // libhdf5 reports this one itself; the check names the structure.
        ("the root group's B-tree address", { [($0.symbolTable, [0x88, 0, 0, 0, 0, 0, 0, 0xFF])] },
         "the group index (B-tree) of the root group is at bytes"),
        ("/x's exponent size (85 bits in a 32-bit float: no conversion to float32)",
         { map in [(map.message(0x03, inHeader: map.header(of: "x")!)! + 13, [0x55])] },
         "holds unconvertible float32 values"),
    ]

    @Test("damaged group indexes that crash libhdf5 1.10, and unconvertible types, exit 65 with one line",
          arguments: 0..<damagedStructures.count)
    func knownLibHDF5Crashes(_ index: Int) throws {
        let (what, damage, message) = Self.damagedStructures[index]
        let folder = TemporaryFolder()
        let seed = try HDF5Seed.make(in: folder.path)[0]  // contiguous float32
        var bytes = seed.bytes
        for (offset, patch) in damage(FileMap(bytes: bytes)) { bytes.replaceSubrange(offset..<offset + patch.count, with: patch) }
        let file = folder.file("damaged.h5")
        writeScratch(file, bytes)
        let relu = folder.write("relu.yaml", "stages: [relu]\n")
        for arguments in [["inspect", file], ["run", relu, "--input", file + ":/x", "--output", folder.file("out.h5")]] {
            let result = try runChild(arguments, folder: folder.path, tag: "known")
            // inspect lists a type it cannot convert (as "unconvertible float32") without reading it.
            if arguments[0] == "inspect" && message.contains("unconvertible") {
                #expect(result.status == 0 && result.stdout.contains("unconvertible float32"), "\(what): \(result.stdout)")
                continue
            }
            #expect(result.problem(allowed: [65]) == nil && result.stderr.contains(message),
                    "\(what): h5batch \(arguments[0]): \(result.outcome), \(result.stderr)")
        }
    }

    /// Found by the reader fuzz (seed 0x4242, case 318, zeros over /x's dataspace): a rank-3
    /// chunked dataset whose middle dimension is 0, which is also a valid file (an extendible
    /// dataset nobody wrote yet). `BatchPlan.chunkCacheBytes` divides by the rows inside the first
    /// dimension, 0 here, and h5batch died with SIGILL before it noticed the dataset is empty.
    /// It now counts at least one inner row.
    @Test("a chunked rank-3 dataset with an empty middle dimension runs (0 rows) without a crash")
    func emptyMiddleDimension() throws {
        let folder = TemporaryFolder()
        let seed = try HDF5Seed.make(in: folder.path).first { $0.name == "int64-rank3-gzip" }!
        var bytes = seed.bytes
        let map = FileMap(bytes: bytes)
        // Dataspace message: version, rank, flags, 5 reserved bytes, then the dimensions.
        let space = map.message(0x01, inHeader: map.header(of: "x")!)!
        bytes.replaceSubrange(space + 16..<space + 24, with: repeatElement(0, count: 8))
        let file = folder.file("empty.h5")
        writeScratch(file, bytes)
        let relu = folder.write("relu.yaml", "stages: [relu]\n")
        let inspect = try runChild(["inspect", file], folder: folder.path, tag: "inspect")
        #expect(inspect.status == 0 && inspect.stdout.contains("6x0x8"), "\(inspect.outcome): \(inspect.stdout)")
        let result = try runChild(["run", relu, "--input", file + ":/x", "--output", folder.file("out.h5")],
                                  folder: folder.path, tag: "run")
        #expect(result.problem(allowed: [0]) == nil, "\(result.outcome): \(result.stderr.prefix(300))")
    }
}
