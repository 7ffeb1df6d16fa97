import CHDF5
import Foundation

/// Joins shard outputs into one dataset, in row order: as an HDF5 virtual dataset that maps
/// the shards' rows (no data copied, source paths relative to the output), or as a regular
/// dataset with the rows copied (`copy`).
///
/// Before writing anything it checks that the sources fit together: the same rank, the same
/// dimensions after the first and the same stored type; and, for shards h5batch wrote (their
/// `h5batch_shard` attribute), that every shard of the run is there once, their rows cover the
/// first dimension exactly once, and they were made by one pipeline from one state of one input.
public struct ShardMerge {
    /// One source, in the order the merge places it.
    public struct Source: Sendable, Equatable {
        /// The source's file, as given.
        public let file: String
        /// The dataset's path in `file`.
        public let dataset: String
        /// The dataset's shape.
        public let shape: [Int]
        /// The stored type, numpy-style.
        public let dtype: String
        /// Where h5batch placed it, when it is a shard h5batch wrote.
        public let placement: ShardPlacement?
        /// The first-dimension index of the merged dataset where its rows start.
        public let firstIndex: Int
    }

    /// The sources, in the order their rows appear in the merged dataset.
    public let sources: [Source]
    /// The merged shape: the sources' first dimensions added up, the other dimensions shared.
    public let shape: [Int]
    /// The stored type every source has, numpy-style.
    public let dtype: String
    /// The provenance of the whole, when every source is an h5batch shard of one run.
    let provenance: Provenance?

    /// Opens and checks `sources` (`FILE`, `DATASET` pairs); throws `H5BatchError` naming the
    /// first problem. Shards h5batch wrote are ordered by their placement; other datasets are
    /// taken in the order given.
    /// A nil dataset names the file's only dataset.
    public static func plan(_ sources: [(file: String, dataset: String?)]) throws -> ShardMerge {
        guard !sources.isEmpty else { throw H5BatchError(.usage, "merge: name at least one shard (FILE:DATASET)") }
        return try IOLane().sync {
            try translatingHDF5Errors(otherwise: .data) { try ShardMerge(opening: sources) }
        }
    }

    private struct Opened {
        let file: String
        let dataset: Dataset
        let placement: ShardPlacement?
        let provenance: Provenance?
    }

    private init(opening named: [(file: String, dataset: String?)]) throws {
        var opened: [Opened] = []
        for (file, given) in named {
            let handle = try HDF5File.open(file)
            let name: String
            if let given {
                name = given
            } else {
                let all = try handle.datasetPaths()
                guard all.count == 1 else {
                    throw H5BatchError(.usage, "merge: \(file) holds \(all.count) datasets; name one as \(file):DATASET")
                }
                name = all[0]
            }
            guard try handle.hasDataset(name) else {
                throw H5BatchError(.notFound, "merge: \(file) has no dataset \(name)")
            }
            let dataset = try handle.dataset(name)
            if dataset.layout == .virtual { try dataset.checkVirtualSources() }
            let placement = try dataset.stringAttribute(ShardPlacement.attribute)
            opened.append(Opened(file: file, dataset: dataset, placement: try placement.map { text in
                guard let value = ShardPlacement.parse(text) else {
                    throw H5BatchError(.data, "merge: the \(ShardPlacement.attribute) attribute of \(name) in \(file) is not one h5batch wrote: \(text.prefix(200))")
                }
                return value
            }, provenance: try Provenance.read(from: dataset)))
        }
        let first = opened[0].dataset
        for source in opened {
            let dataset = source.dataset
            let label = "\(source.file):\(dataset.name)"
            guard dataset.rank >= 1 else {
                throw H5BatchError(.data, "merge: \(label) is a scalar; datasets are joined along their first dimension")
            }
            guard dataset.rank >= 2 || opened.count == 1 else {
                throw H5BatchError(.data, "merge: \(label) has shape \(shapeText(dataset.shape)); shards are joined along the first dimension, which needs rank 2 or more")
            }
            guard dataset.rank == first.rank, Array(dataset.shape.dropFirst()) == Array(first.shape.dropFirst()) else {
                throw H5BatchError(.data, "merge: \(label) has shape \(shapeText(dataset.shape)), which does not fit \(shapeText(first.shape)) of \(opened[0].file):\(first.name) (all but the first dimension must agree)")
            }
            guard dataset.elementType.description == first.elementType.description else {
                throw H5BatchError(.data, "merge: \(label) stores \(dataset.elementType.description), but \(opened[0].file):\(first.name) stores \(first.elementType.description)")
            }
        }
        for (index, source) in opened.enumerated() {
            for other in opened[..<index] where OutputTarget.sameFile(other.file, source.file) && other.dataset.name == source.dataset.name {
                throw H5BatchError(.usage, "merge: \(source.file):\(source.dataset.name) is named twice")
            }
        }

        let placed = opened.filter { $0.placement != nil }
        var ordered = opened
        if !placed.isEmpty {
            guard placed.count == opened.count else {
                let plain = opened.first { $0.placement == nil }!
                throw H5BatchError(.usage, "merge: \(plain.file):\(plain.dataset.name) is not an h5batch shard (no \(ShardPlacement.attribute) attribute) but \(placed[0].file) is; merge the shards of one run, or only plain datasets")
            }
            ordered = try Self.checkCoverage(opened)
        }
        var firstIndex = 0
        var sources: [Source] = []
        for source in ordered {
            sources.append(Source(file: source.file, dataset: source.dataset.name, shape: source.dataset.shape,
                                  dtype: source.dataset.elementType.description, placement: source.placement,
                                  firstIndex: firstIndex))
            firstIndex += source.dataset.shape[0]
        }
        self.sources = sources
        shape = [firstIndex] + first.shape.dropFirst()
        dtype = first.elementType.description
        provenance = try placed.isEmpty ? nil : Self.combinedProvenance(ordered)
        openDatasets = ordered.map(\.dataset)
    }

    /// The sources' datasets, kept open for `copy` (which reads them on its own lane; libhdf5 is
    /// thread-safe, and only one lane uses them at a time).
    private let openDatasets: [Dataset]

    /// Orders shards by their placement and checks them: one run's shard count, every index
    /// once, ranges that tile the first dimension, row counts that match.
    private static func checkCoverage(_ shards: [Opened]) throws -> [Opened] {
        let count = shards[0].placement!.count, extent = shards[0].placement!.extent
        for shard in shards {
            let placement = shard.placement!
            guard placement.count == count, placement.extent == extent else {
                throw H5BatchError(.usage, "merge: \(shard.file) is shard \(placement.index) of \(placement.count) over \(placement.extent) indices, \(shards[0].file) is shard \(shards[0].placement!.index) of \(count) over \(extent): they come from different runs")
            }
            guard placement.batchRows == shards[0].placement!.batchRows else {
                throw H5BatchError(.usage, "merge: \(shard.file) was made in batches of \(placement.batchRows) rows, \(shards[0].file) in batches of \(shards[0].placement!.batchRows): they come from different runs")
            }
            guard placement.end - placement.start == shard.dataset.shape[0] else {
                throw H5BatchError(.data, "merge: \(shard.file):\(shard.dataset.name) holds \(shard.dataset.shape[0]) indices along its first dimension, but its \(ShardPlacement.attribute) attribute says \(placement.start)..<\(placement.end)")
            }
        }
        var byIndex: [Int: Opened] = [:]
        for shard in shards {
            if let twin = byIndex[shard.placement!.index] {
                throw H5BatchError(.usage, "merge: shard \(shard.placement!.index) of \(count) is given twice: \(twin.file) and \(shard.file)")
            }
            byIndex[shard.placement!.index] = shard
        }
        let missing = (0..<count).filter { byIndex[$0] == nil }
        guard missing.isEmpty else {
            let list = missing.prefix(10).map(String.init).joined(separator: ", ") + (missing.count > 10 ? ", …" : "")
            throw H5BatchError(.usage, "merge: \(missing.count) of the run's \(count) shards are missing (shard \(list)); every shard must be merged, each once")
        }
        let ordered = shards.sorted { $0.placement!.start != $1.placement!.start ? $0.placement!.start < $1.placement!.start : $0.placement!.index < $1.placement!.index }
        var next = 0
        for shard in ordered {
            let placement = shard.placement!
            guard placement.start == next else {
                let what = placement.start > next ? "indices \(next)..<\(placement.start) are in no shard" : "indices \(placement.start)..<\(next) are in two shards"
                throw H5BatchError(.data, "merge: the shards do not cover the first dimension exactly once: \(what) (at \(shard.file))")
            }
            next = placement.end
        }
        guard next == extent else {
            throw H5BatchError(.data, "merge: the shards cover indices 0..<\(next) of \(extent)")
        }
        return ordered
    }

    /// The whole run's provenance from its shards', after checking they agree: one version,
    /// pipeline, weights and input, the input in one state. The values digest is the sum of the
    /// shards' (each hashes its rows as the rows they are in the input): a single run's.
    private static func combinedProvenance(_ shards: [Opened]) throws -> Provenance? {
        let all = shards.compactMap(\.provenance)
        guard all.count == shards.count, let first = all.first else { return nil }
        let pipeline = try all.map { try pipelineWithoutShard($0.recipe.config) }
        for (index, provenance) in all.enumerated() {
            let file = shards[index].file
            func differ(_ what: String) -> H5BatchError {
                H5BatchError(.data, "merge: \(file) and \(shards[0].file) were made \(what); they are not shards of one run")
            }
            if provenance.recipe.version != first.recipe.version { throw differ("by different h5batch versions") }
            if provenance.recipe.source != first.recipe.source { throw differ("from different inputs (\(provenance.recipe.source), \(first.recipe.source))") }
            if pipeline[index] != pipeline[0] { throw differ("by different pipelines") }
            if provenance.recipe.weightsFingerprint != first.recipe.weightsFingerprint { throw differ("with different weights") }
            if provenance.sourceFingerprint.file != first.sourceFingerprint.file {
                throw differ("from the input in different states (it changed between the shards' runs)")
            }
        }
        var digest: UInt64 = 0
        for provenance in all {
            let prefix = "xxh64-rows:", text = provenance.sourceFingerprint.values
            guard text.hasPrefix(prefix), let value = UInt64(text.dropFirst(prefix.count), radix: 16) else {
                throw H5BatchError(.data, "merge: a shard's h5batch_source_fingerprint holds no digest h5batch wrote (\(text.prefix(40)))")
            }
            digest = digest &+ value
        }
        var recipe = first.recipe
        let shardZero = shards.first { $0.placement!.index == 0 }!.provenance!
        recipe.config = configWithoutShard(shardZero.recipe.config, batchRows: shards[0].placement!.batchRows)
        let shape = [shards[0].placement!.extent] + first.sourceFingerprint.shape.dropFirst()
        return Provenance(recipe: recipe,
                          sourceFingerprint: SourceFingerprint(digest: digest, shape: shape, file: first.sourceFingerprint.file),
                          created: Provenance.timestamp())
    }

    /// A shard's resolved pipeline without what differs between the shards of one run: the
    /// shard, the batch rows (a last shard's are fewer; the placements' whole-run batch rows
    /// are compared instead) and the output's chunk rows (a shard's chunks fit its rows).
    private static func pipelineWithoutShard(_ config: String) throws -> String {
        let edited = editedConfig(config) { object in
            edit(&object, "run") { $0["shard"] = nil; $0["batch_rows"] = nil }
            edit(&object, "output") { $0["chunk_rows"] = nil }
        }
        guard let edited else { throw H5BatchError(.data, "merge: a shard's h5batch_config attribute is not JSON") }
        return edited
    }

    /// Shard 0's resolved pipeline with its shard taken out and the whole run's batch rows:
    /// what a single run would record.
    private static func configWithoutShard(_ config: String, batchRows: Int) -> String {
        editedConfig(config) { object in
            edit(&object, "run") { $0["shard"] = nil; $0["batch_rows"] = batchRows }
        } ?? config
    }

    /// `config` (a resolved pipeline's JSON) changed by `change`, in the same form (sorted keys,
    /// unescaped slashes); nil when it is not a JSON object.
    private static func editedConfig(_ config: String, _ change: (inout [String: Any]) -> Void) -> String? {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(config.utf8))) as? [String: Any] else { return nil }
        change(&object)
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// Changes the object under `key` of `object`, when there is one.
    private static func edit(_ object: inout [String: Any], _ key: String, _ change: (inout [String: Any]) -> Void) {
        guard var section = object[key] as? [String: Any] else { return }
        change(&section)
        object[key] = section
    }

    // MARK: - Writing

    /// What `write` did.
    public struct Outcome: Sendable, Equatable {
        /// The output file.
        public let path: String
        /// The merged dataset's path in it.
        public let dataset: String
        /// The merged dataset's shape.
        public let shape: [Int]
        /// Bytes of data copied (0 for a virtual dataset).
        public let bytesCopied: Int
        /// Wall time of `write`, in seconds.
        public let seconds: Double
    }

    /// Writes the merged dataset `dataset` to a new file at `path` (replacing one only with
    /// `force`): a virtual dataset, or with `copy` a regular one holding the rows, chunked and
    /// filtered like the first shard with rows. Atomic like a run's output (`PATH.partial`,
    /// fsync, rename); the output's folder is created if needed.
    public func write(to path: String, dataset: String, copy: Bool, force: Bool) throws -> Outcome {
        let started = now()
        try OutputTarget.check(path, reads: sources.map(\.file), force: force)
        try OutputTarget.prepareFolder(for: path)
        let lock = try OutputLock.acquire(for: path)
        defer { lock.release() }
        let partial = RunFiles(output: path).partial
        var copied = 0
        try IOLane().sync {
            do {
                try translatingHDF5Errors(otherwise: .io) {
                    let file = try HDF5File.create(partial)
                    do {
                        if copy {
                            copied = try copyRows(into: file, dataset: dataset)
                        } else {
                            try file.createVirtualDataset(dataset, typeOf: openDatasets[0], shape: shape,
                                                          sources: virtualSources(relativeTo: path))
                            // Found from where it will be read, the way libhdf5 looks.
                            try file.dataset(dataset).checkVirtualSources()
                        }
                        let merged = try file.dataset(dataset)
                        try provenance?.write(to: merged)
                        try merged.setAttribute("h5batch_merged", string: mergeRecord(copy: copy, relativeTo: path))
                        try file.close()
                    } catch {
                        file.abandon()
                        throw error
                    }
                }
                try OutputTarget.commit(partial: partial, to: path)
            } catch {
                try? FileManager.default.removeItem(atPath: partial)
                throw error
            }
        }
        return Outcome(path: path, dataset: dataset, shape: shape, bytesCopied: copied, seconds: now() - started)
    }

    /// The mappings, each source named relative to the output's folder (`output`'s folder must
    /// exist). Both sides with symbolic links resolved: the system follows a link before `..`,
    /// so a path relative to a folder reached through a link must start from where it leads.
    func virtualSources(relativeTo output: String) -> [HDF5File.VirtualSource] {
        let folder = Self.resolvedFolder(of: output)
        return sources.map { source in
            HDF5File.VirtualSource(file: relativePath(resolvedPath(source.file), from: folder), dataset: source.dataset,
                                   shape: source.shape, firstIndex: source.firstIndex)
        }
    }

    private static func resolvedFolder(of path: String) -> String {
        resolvedPath((absolutePath(path) as NSString).deletingLastPathComponent)
    }

    private func mergeRecord(copy: Bool, relativeTo output: String) -> String {
        let folder = Self.resolvedFolder(of: output)
        let object: [String: Any] = [
            "layout": copy ? "copy" : "virtual",
            "sources": sources.map { source -> [String: Any] in
                ["file": relativePath(resolvedPath(source.file), from: folder), "dataset": source.dataset,
                 "first_index": source.firstIndex, "rows": source.shape[0]]
            },
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }

    /// Copies every source's rows, as stored (no conversion), in steps of about 32 MiB.
    private func copyRows(into file: HDF5File, dataset name: String) throws -> Int {
        let template = openDatasets.first { $0.shape[0] > 0 } ?? openDatasets[0]
        let target = try file.createDataset(name, likeTemplate: template, shape: shape)
        let rowBytes = shape.dropFirst().reduce(template.elementType.size, *)
        var stepIndices = max(1, (32 << 20) / max(1, rowBytes))
        if let chunk = target.chunkShape?.first, chunk > 0 { stepIndices = max(chunk, stepIndices / chunk * chunk) }
        var buffer = [UInt8](repeating: 0, count: stepIndices * rowBytes)
        var copied = 0
        for (source, dataset) in zip(sources, openDatasets) {
            var index = 0
            while index < source.shape[0] {
                let count = min(stepIndices, source.shape[0] - index)
                try buffer.withUnsafeMutableBytes { bytes in
                    try dataset.readStored(firstIndices: index..<(index + count), into: bytes.baseAddress!)
                    try target.writeStored(firstIndices: (source.firstIndex + index)..<(source.firstIndex + index + count),
                                           from: bytes.baseAddress!, typeOf: dataset)
                }
                copied += count * rowBytes
                index += count
            }
        }
        return copied
    }
}

/// `path` absolute, with `.`, `..` and symbolic links resolved when it exists (`realpath`).
func resolvedPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return absolutePath(path) }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// `path` (absolute) relative to the absolute folder `folder`: `shards/a.h5`, `../x/a.h5`.
func relativePath(_ path: String, from folder: String) -> String {
    let target = path.split(separator: "/"), base = folder.split(separator: "/")
    var common = 0
    while common < min(target.count, base.count) && target[common] == base[common] { common += 1 }
    let parts = [String](repeating: "..", count: base.count - common) + target[common...].map(String.init)
    return parts.isEmpty ? "." : parts.joined(separator: "/")
}
