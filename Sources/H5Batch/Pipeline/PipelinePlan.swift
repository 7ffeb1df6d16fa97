import Foundation

/// What a pipeline will do, worked out without running it: the input, the widths through every
/// stage, the work per row, and how the input will be read.
public struct PipelinePlan: Sendable {
    public let inputFile: String
    public let inputDataset: String
    public let inputShape: [Int]
    public let inputType: String
    public let rows: Int
    /// Logical input bytes (rows × features × stored element size).
    public let inputBytes: Int
    /// `widths[0]` is the input width; `widths[i + 1]` the width after stage `i`.
    public let widths: [Int]
    public let stageDescriptions: [String]
    public let flopsPerRow: Int
    public let linearFlopsPerRow: Int
    /// "raw chunks" or "hyperslab".
    public let inputPath: String

    /// Opens the input and the weights of `config` and checks every stage (`H5BatchError` as
    /// `run` would report it).
    public static func make(_ config: PipelineConfig) throws -> PipelinePlan {
        guard config.input != nil else {
            throw H5BatchError(.usage, "no input: set input.file in the pipeline file or pass --input FILE[:DATASET]")
        }
        return try DispatchQueue(label: "h5batch.io").sync {
            let job = try PreparedJob(config: config)
            let input = job.input
            return PipelinePlan(inputFile: job.inputFile, inputDataset: input.name, inputShape: input.shape,
                                inputType: input.elementType.description, rows: input.rowCount,
                                inputBytes: input.rowCount * input.featureCount * input.elementType.size,
                                widths: job.chain.widths, stageDescriptions: job.chain.stages.map(\.description),
                                flopsPerRow: job.chain.flopsPerRow, linearFlopsPerRow: job.chain.linearFlopsPerRow,
                                inputPath: BatchReader(dataset: input).pathDescription)
        }
    }

    /// The stage chain in one line, e.g. `linear(256 → 1024) → relu → linear(1024 → 256)`.
    public var stages: String {
        stageDescriptions.isEmpty ? "(no stages: a copy)" : stageDescriptions.joined(separator: " → ")
    }

    public var description: String {
        "\(inputFile):\(inputDataset) [\(inputShape.map(String.init).joined(separator: "x")) \(inputType)] → \(stages)"
    }
}
