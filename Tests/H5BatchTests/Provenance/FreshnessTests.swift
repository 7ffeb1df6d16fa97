import Foundation
import Testing
@testable import H5Batch

/// `Freshness.check` against outputs made in-process by `PipelineRunner`: what a run would
/// use now (its recipe, the input's file state and shape) compared with the provenance the
/// output carries.
@Suite("Freshness: up to date, stale, unknown")
struct FreshnessTests {
    /// An input, a weights file and a pipeline reading both, writing `out.h5:/y`.
    final class Fixture {
        let folder = TemporaryFolder()
        let input: String, weights: String, output: String
        let events = EventLog()

        init() throws {
            input = folder.file("in.h5")
            weights = folder.file("weights.h5")
            output = folder.file("out.h5")
            try makeInput()
            try makeWeights()
        }

        func makeInput(rows: Int = 64, seed: UInt64 = 1) throws {
            var options = SyntheticData.Options(shape: [rows, 3])
            options.chunkRows = 16
            options.seed = seed
            options.force = true
            try SyntheticData.generate(path: input, dataset: "/x", options: options)
        }

        /// nn.Linear(3, 2) weights ([out, in]), scaled by `scale`; rewritten in place.
        func makeWeights(scale: Float = 1) throws {
            let file = try HDF5File.create(weights)
            let weight = try file.createDataset("/w", type: .float32, shape: [2, 3])
            let values: [Float] = [0.5, -1, 0.25, 2, 0.125, -0.75].map { $0 * scale }
            try values.withUnsafeBufferPointer { try weight.write(rows: 0..<2, from: $0) }
            try file.close()
        }

        func config(alpha: Double = 1) -> PipelineConfig {
            var config = PipelineConfig(input: .init(file: input, dataset: "/x"), output: .init(file: output, dataset: "/y"),
                                        stages: [.linear(file: weights, weight: "/w", bias: nil, layout: .torch), .elu(alpha: alpha)])
            config.run.batchRows = 16
            config.run.workers = 2
            return config
        }

        @discardableResult
        func run(_ config: PipelineConfig? = nil, skipIfFresh: Bool = false) throws -> RunReport {
            var options = PipelineRunner.Options(force: true, onEvent: events.sink)
            options.skipIfFresh = skipIfFresh
            return try PipelineRunner(config: config ?? self.config(), options: options).run()
        }

        /// `Freshness.check` of the output against what a run of `config` would use now, the
        /// way `PipelineRunner` forms it; also how often the input's values were read.
        func check(_ config: PipelineConfig? = nil) throws -> (freshness: Freshness, digests: Int) {
            let config = config ?? self.config()
            let job = try PreparedJob(config: config, rawChunkIO: true)
            var digests = 0
            let freshness = try Freshness.check(
                output: output, dataset: "/y", expected: job.recipe, sourceState: try #require(job.identity.inputState),
                sourceShape: job.input.shape, onEvent: events.sink,
                digest: {
                    digests += 1
                    return try SourceDigester(reader: job.reader, batchRows: job.batchRows, workers: 2).digest()
                })
            return (freshness, digests)
        }
    }

    @Test("an output checked against the input, weights and pipeline it was made from is up to date, without reading the input")
    func fresh() throws {
        let fixture = try Fixture()
        try fixture.run()
        let (freshness, digests) = try fixture.check()
        guard case .upToDate(let reason) = freshness else {
            Issue.record("not up to date: \(freshness)")
            return
        }
        #expect(reason.hasPrefix("made "), "\(reason)")
        #expect(reason.hasSuffix("from the same input, pipeline, weights and h5batch version"), "\(reason)")
        #expect(digests == 0)
    }

    @Test("a touched input whose values did not change: its values are read and compared, and the output is still up to date")
    func touchedInput() throws {
        let fixture = try Fixture()
        try fixture.run()
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: fixture.input)
        let (freshness, digests) = try fixture.check()
        guard case .upToDate(let reason) = freshness else {
            Issue.record("not up to date: \(freshness)")
            return
        }
        #expect(reason.hasSuffix("(the input's file was modified, but not its values)"), "\(reason)")
        #expect(digests == 1)
        #expect(fixture.events.all.last == .comparingSourceValues(path: absolutePath(fixture.input), reason: "was modified"))
    }

    @Test("an input rewritten with the same values (another file now) is still up to date; with other values it is stale")
    func rewrittenInput() throws {
        let fixture = try Fixture()
        try fixture.run()
        try fixture.makeInput(seed: 1)
        let same = try fixture.check()
        #expect(same.digests == 1)
        guard case .upToDate(let reason) = same.freshness else {
            Issue.record("not up to date: \(same.freshness)")
            return
        }
        #expect(reason.contains("but not its values"), "\(reason)")

        try fixture.makeInput(seed: 2)
        let other = try fixture.check()
        #expect(other.freshness == .stale("the input's values changed"))
        #expect(other.digests == 1)
    }

    @Test("changed weights make the output stale, without reading the input")
    func changedWeights() throws {
        let fixture = try Fixture()
        try fixture.run()
        try fixture.makeWeights(scale: 2)
        let (freshness, digests) = try fixture.check()
        #expect(freshness == .stale("the weights changed"))
        #expect(digests == 0)
    }

    @Test("a changed pipeline makes the output stale")
    func changedPipeline() throws {
        let fixture = try Fixture()
        try fixture.run()
        #expect(try fixture.check(fixture.config(alpha: 0.5)).freshness == .stale("the pipeline changed"))
    }

    @Test("an input with more rows makes the output stale")
    func changedShape() throws {
        let fixture = try Fixture()
        try fixture.run()
        try fixture.makeInput(rows: 80)
        let (freshness, _) = try fixture.check()
        guard case .stale(let reason) = freshness else {
            Issue.record("not stale: \(freshness)")
            return
        }
        #expect(reason.hasPrefix("the input's shape changed"), "\(reason)")
    }

    @Test("an output without h5batch provenance, or without the dataset, is unknown")
    func unknown() throws {
        let fixture = try Fixture()
        do {
            let file = try HDF5File.create(fixture.output)
            let dataset = try file.createDataset("/y", type: .float32, shape: [64, 2])
            try [Float](repeating: 1, count: 128).withUnsafeBufferPointer { try dataset.write(rows: 0..<64, from: $0) }
            try file.close()
        }
        #expect(try fixture.check().freshness == .unknown("its dataset /y carries no h5batch provenance"))
        try HDF5File.create(fixture.output).close()
        #expect(try fixture.check().freshness == .unknown("it has no dataset /y"))
    }

    @Test("PipelineRunner with skipIfFresh leaves an up-to-date output alone and remakes a stale one")
    func runnerSkipsFreshOutput() throws {
        let fixture = try Fixture()
        try fixture.run()
        let before = try readDataset(fixture.output, "/y").values
        let state = try FileState(path: fixture.output)

        let skipped = try fixture.run(skipIfFresh: true)
        #expect(skipped.upToDate)
        #expect(try FileState(path: fixture.output) == state)
        guard case .upToDate(let path, _)? = fixture.events.all.last else {
            Issue.record("no up-to-date event: \(fixture.events.all)")
            return
        }
        #expect(path == fixture.output)

        try fixture.makeWeights(scale: 2)
        let remade = try fixture.run(skipIfFresh: true)
        #expect(!remade.upToDate)
        #expect(remade.rows == 64)
        #expect(fixture.events.all.contains(.outOfDate(path: fixture.output, reason: "the weights changed")))
        let after = try readDataset(fixture.output, "/y").values
        #expect(after != before)
        // Remade from the new weights: up to date again.
        let again = try fixture.check().freshness
        guard case .upToDate = again else {
            Issue.record("the remade output is not up to date: \(again)")
            return
        }
    }
}
