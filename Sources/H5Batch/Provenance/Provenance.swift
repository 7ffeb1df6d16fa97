import Foundation

/// How an output was made, stored as string attributes on its dataset: h5batch's version, the
/// resolved pipeline, the source dataset, a fingerprint of the source and one of the weights,
/// and when it was made. `--skip-if-fresh` compares them with what a run would use now.
public struct Provenance: Equatable, Sendable {
    /// What the output was made with: it is fresh when these are what a run would use now.
    public struct Recipe: Equatable, Sendable {
        /// The h5batch version that made the output (`H5BatchVersion.string`).
        public var version: String
        /// `PipelineConfig.resolvedJSON`: the pipeline with every default and path resolved.
        public var config: String
        /// `FILE:DATASET`, the file's path absolute.
        public var source: String
        /// `xxh64:…` of every stage's parameters as loaded (float32), in stage order.
        public var weightsFingerprint: String
    }

    /// What the output was made with.
    public var recipe: Recipe
    /// The source's values digest, shape and file state when the run began.
    public var sourceFingerprint: SourceFingerprint
    /// ISO 8601, UTC.
    public var created: String

    static let attributes = (version: "h5batch_version", config: "h5batch_config", source: "h5batch_source",
                             sourceFingerprint: "h5batch_source_fingerprint",
                             weightsFingerprint: "h5batch_weights_fingerprint", created: "h5batch_created")

    func write(to dataset: Dataset) throws {
        let names = Self.attributes
        try dataset.setAttribute(names.version, string: recipe.version)
        try dataset.setAttribute(names.config, string: recipe.config)
        try dataset.setAttribute(names.source, string: recipe.source)
        try dataset.setAttribute(names.sourceFingerprint, string: sourceFingerprint.json)
        try dataset.setAttribute(names.weightsFingerprint, string: recipe.weightsFingerprint)
        try dataset.setAttribute(names.created, string: created)
    }

    /// The provenance `dataset` carries, or nil when it carries none (or an unreadable one).
    static func read(from dataset: Dataset) throws -> Provenance? {
        let names = Self.attributes
        guard let version = try dataset.stringAttribute(names.version),
              let config = try dataset.stringAttribute(names.config),
              let source = try dataset.stringAttribute(names.source),
              let fingerprintText = try dataset.stringAttribute(names.sourceFingerprint),
              let fingerprint = SourceFingerprint(json: fingerprintText),
              let weights = try dataset.stringAttribute(names.weightsFingerprint),
              let created = try dataset.stringAttribute(names.created) else { return nil }
        return Provenance(recipe: Recipe(version: version, config: config, source: source, weightsFingerprint: weights),
                          sourceFingerprint: fingerprint, created: created)
    }

    static func timestamp(_ date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}

/// A source dataset's fingerprint: its values' digest (`RowDigest`), its shape, and the state of
/// its file when the run began.
///
/// The file's state answers "unchanged?" without reading the data; when it differs (the file
/// was touched, copied or rewritten), the values' digest decides, at the cost of one read.
public struct SourceFingerprint: Codable, Equatable, Sendable {
    /// `xxh64-rows:` and 16 hex digits.
    public var values: String
    /// The source dataset's shape.
    public var shape: [Int]
    /// The source file's state when the run began.
    public var file: FileState

    init(digest: UInt64, shape: [Int], file: FileState) {
        values = Self.valuesText(digest)
        self.shape = shape
        self.file = file
    }

    static func valuesText(_ digest: UInt64) -> String {
        "xxh64-rows:" + hexDigits(digest)
    }

    init?(json: String) {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let value = try? decoder.decode(SourceFingerprint.self, from: Data(json.utf8)) else { return nil }
        self = value
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // A struct of strings and integers always encodes.
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }
}

extension StageChain {
    /// `xxh64:…` of every stage's parameters, in order: the weights a file held when loaded.
    var parameterFingerprint: String {
        var digest: UInt64 = 0
        for (index, stage) in stages.enumerated() {
            for (part, values) in stage.parameters.enumerated() {
                let term = values.withUnsafeBytes { XXHash64.hash($0, seed: UInt64(index) << 8 | UInt64(part)) }
                digest = digest &* 0x100_0000_01B3 &+ term  // order-dependent
            }
        }
        return "xxh64:" + hexDigits(digest)
    }
}

/// `value` as 16 lowercase hex digits, zero-padded: a digest's fixed-width text.
func hexDigits(_ value: UInt64) -> String {
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}
