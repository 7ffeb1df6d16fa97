import Foundation

/// Whether an existing output is what a run would make now: `--skip-if-fresh`.
///
/// The output is fresh when its provenance names the same h5batch version, resolved pipeline,
/// source dataset and weights (their values as loaded), and the source's values are the same.
/// The source's file state decides that without reading it when nothing about the file
/// changed; otherwise its values are read and their digest compared.
enum Freshness: Equatable {
    case upToDate(String)
    case stale(String)
    /// The output carries no h5batch provenance (or none this check can read): it may not be
    /// h5batch's to replace.
    case unknown(String)

    /// Checks the output at `path` (dataset `dataset`) against `expected`, whose source
    /// fingerprint is to be computed: `sourceState` is the source file's state now, `digest`
    /// reads the source for its values' digest (called only when the state differs).
    ///
    /// For a shard (`shard`), the output must also hold the same rows of the input (its
    /// `h5batch_shard`), and the input's file must be in the state the shard was made from:
    /// shards are merged only when all come from one state of the input, so a shard whose
    /// input file changed is made again rather than vouched for by its values.
    static func check(output path: String, dataset: String, expected: Provenance.Recipe, sourceState: FileState,
                      sourceShape: [Int], shard: ShardPlacement? = nil, onEvent: (@Sendable (RunEvent) -> Void)?,
                      digest: () throws -> UInt64) throws -> Freshness {
        let recorded: Provenance
        do {
            let file = try HDF5File.open(path)
            defer { try? file.close() }
            guard try file.hasDataset(dataset) else { return .unknown("it has no dataset \(dataset)") }
            let output = try file.dataset(dataset)
            guard let provenance = try Provenance.read(from: output) else {
                return .unknown("its dataset \(dataset) carries no h5batch provenance")
            }
            // A merged virtual dataset is only as good as its sources.
            if output.layout == .virtual {
                do { try output.checkVirtualSources() } catch let error as HDF5Error { return .stale(error.detail) }
            }
            if let shard, try output.stringAttribute(ShardPlacement.attribute).flatMap(ShardPlacement.parse) != shard {
                return .stale("it holds other rows of the input than shard \(shard.index) of \(shard.count) now takes")
            }
            recorded = provenance
        } catch let error as H5BatchError {
            return .unknown("cannot read it (\(error.message))")
        } catch {
            return .unknown("cannot read it (\(error))")
        }
        let made = recorded.recipe
        if made.version != expected.version {
            return .stale("it was made by h5batch \(made.version), this is \(expected.version)")
        }
        // The source first: the resolved pipeline names the input too.
        if made.source != expected.source { return .stale("it was made from \(made.source)") }
        if made.config != expected.config { return .stale("the pipeline changed") }
        if made.weightsFingerprint != expected.weightsFingerprint { return .stale("the weights changed") }
        let old = recorded.sourceFingerprint
        if old.shape != sourceShape { return .stale("the input's shape changed (\(shapeText(old.shape)) → \(shapeText(sourceShape)))") }
        let same = "made \(recorded.created) from the same input, pipeline, weights and h5batch version"
        guard let change = sourceState.difference(from: old.file) else { return .upToDate(same) }
        if shard != nil { return .stale("the input's file \(change) since this shard was made, and a run's shards must all come from one state of it") }
        let input = String(expected.source[..<(expected.source.lastIndex(of: ":") ?? expected.source.endIndex)])
        onEvent?(.comparingSourceValues(path: input, reason: change))
        guard SourceFingerprint.valuesText(try digest()) == old.values else {
            return .stale("the input's values changed")
        }
        return .upToDate("\(same) (the input's file \(change), but not its values)")
    }
}
