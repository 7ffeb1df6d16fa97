import ArgumentParser
import Foundation
import H5Batch

extension H5BatchCommand {
    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join shard outputs into one dataset, in row order: an HDF5 virtual dataset (no data copied), or a regular one with --copy.",
            discussion: "Shards written by `run --shard` are ordered by the rows they hold, and must all be there, each once, from one run; other datasets are joined in the order given. Shapes (but the first dimension) and stored types must agree. The virtual dataset names its sources relative to the output's folder: move the folder as a whole, and keep the shards beside the output. A SHARD without :DATASET uses the file's only dataset."
        )

        @Option(help: ArgumentHelp("The merged file, and optionally its dataset (default: the first shard's dataset name).", valueName: "file[:dataset]"))
        var output: String

        @Flag(help: "Write a regular dataset holding the rows (streamed, chunked and compressed like the first shard) instead of a virtual dataset.")
        var copy = false

        @Flag(help: "Replace the output file if it exists.")
        var force = false

        @Argument(help: ArgumentHelp("The shard datasets.", valueName: "shard[:dataset]"))
        var shards: [String] = []

        func validate() throws {
            if shards.isEmpty { throw ValidationError("name at least one shard (FILE[:DATASET])") }
        }

        func run() throws {
            let sources = shards.map { text -> (file: String, dataset: String?) in
                let target = FileAndDataset(text)
                return (target.file, target.dataset)
            }
            let merge = try ShardMerge.plan(sources)
            let target = FileAndDataset(output)
            let dataset = target.dataset ?? merge.sources[0].dataset
            let outcome = try merge.write(to: target.file, dataset: dataset, copy: copy, force: force)
            let what = copy ? "a dataset of \(formatBytes(outcome.bytesCopied)) copied" : "a virtual dataset (no data copied)"
            let count = merge.sources.count
            print("merged \(count) \(count == 1 ? "dataset" : "datasets") [\(merge.shape.map(String.init).joined(separator: "x")) \(merge.dtype)] into \(outcome.path):\(outcome.dataset) as \(what) in \(String(format: "%.2f", outcome.seconds)) s")
        }
    }
}
