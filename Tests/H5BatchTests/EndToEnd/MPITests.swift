import Foundation
import Testing
@testable import H5Batch

@Suite("mpirun: 3 ranks on this machine, each its own shard", .tags(.endToEnd))
struct MPITests {
    /// `mpirun` from Open MPI (`make test` installs openmpi-bin when it is missing).
    static let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test("mpirun -np 3 h5batch run --shard auto, then merge: bit for bit a single process's output")
    func threeRanks() throws {
        guard let mpirun = Self.mpirun else {
            Issue.record("mpirun is not installed: install openmpi-bin (make test does)")
            return
        }
        let folder = TemporaryFolder()
        let input = folder.file("in.h5")
        let generated = try runBinary(["generate", input, "--dataset", "x", "--shape", "50000x32", "--chunk-rows", "2048", "--seed", "9"])
        #expect(generated.status == 0, "\(generated.stderr)")
        let pipeline = mlpPipeline(in: folder, input: input, output: folder.file("shards/out.h5"))

        // Three ranks on two cores (--oversubscribe); one worker each, so they do not fight over
        // the cores more than they must. Root may run it in a container like this one.
        var arguments = ["-np", "3", "--oversubscribe"]
        if getuid() == 0 { arguments.append("--allow-run-as-root") }
        arguments += [Repo.binary, "run", pipeline, "--shard", "auto", "--workers", "1"]
        let log = try runTool(mpirun, arguments,
                              in: folder.path)
        #expect(!log.contains("(exit "), "\(log)")
        for rank in 0..<3 {
            #expect(FileManager.default.fileExists(atPath: folder.file("shards/out-shard-\(rank)-of-3.h5")), "\(log)")
        }

        let merged = folder.file("shards/merged.h5")
        let merge = try runBinary(["merge", "--output", merged] + (0..<3).map { folder.file("shards/out-shard-\($0)-of-3.h5") })
        #expect(merge.status == 0, "\(merge.stderr)")
        let single = try runBinary(["run", pipeline, "--output", folder.file("single.h5")])
        #expect(single.status == 0, "\(single.stderr)")

        let expected = try readDataset(folder.file("single.h5"), "/y"), actual = try readDataset(merged, "/y")
        #expect(actual.shape == expected.shape)
        #expect(bits(actual.values) == bits(expected.values))
        // Each rank took its own rows, and said where they came from.
        for rank in 0..<3 {
            let shard = try HDF5File.open(folder.file("shards/out-shard-\(rank)-of-3.h5"))
            let placement = try shard.dataset("/y").stringAttribute(ShardPlacement.attribute).flatMap(ShardPlacement.parse)
            #expect(placement?.index == rank && placement?.count == 3)
        }
    }
}
