import Foundation
import Testing
import Yams
@testable import H5Batch

/// config/cluster/: the Slurm scripts run through a stand-in `sbatch` that runs what it is
/// given as Slurm would (an array's tasks with their variables, the dependent job after them);
/// the Kubernetes manifest's commands run as its pods would. Both end in the merged output of a
/// single run, bit for bit.
@Suite("config/cluster examples: a Slurm job array with a dependent merge, a Kubernetes indexed Job", .tags(.endToEnd))
struct ClusterConfigTests {
    static let folder = Repo.config + "/cluster"

    /// Records its arguments and runs the script: an --array's tasks one after another with
    /// SLURM_ARRAY_TASK_ID/COUNT/MIN set, failing like Slurm's afterok when one fails.
    static let fakeSbatch = """
    #!/bin/bash
    set -u
    echo "$*" >> "$SBATCH_LOG"
    array=""; script=""
    for argument in "$@"; do
      case "$argument" in
        --array=*) array=${argument#--array=} ;;
        --*) ;;
        *) script=$argument ;;
      esac
    done
    jobs=$(( $(wc -l < "$SBATCH_LOG") + 100 ))
    if [ -n "$array" ]; then
      first=${array%-*}; last=${array#*-}
      for ((task = first; task <= last; task++)); do
        SLURM_JOB_ID=$jobs SLURM_ARRAY_JOB_ID=$jobs SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_TASK_MIN=$first \\
          SLURM_ARRAY_TASK_MAX=$last SLURM_ARRAY_TASK_COUNT=$((last - first + 1)) SLURM_CPUS_PER_TASK=1 \\
          bash "$script" >> "$SBATCH_LOG.jobs" 2>&1 || { echo "task $task failed" >&2; exit 1; }
      done
    else
      SLURM_JOB_ID=$jobs bash "$script" >> "$SBATCH_LOG.jobs" 2>&1 || { echo "job failed" >&2; exit 1; }
    fi
    echo "$jobs;cluster"
    """

    @Test("h5batch-submit.sh: an array of 3 shards, then the merge after them, equals a single run")
    func slurm() throws {
        let root = TemporaryFolder()
        let input = root.file("in.h5")
        #expect(try runBinary(["generate", input, "--dataset", "x", "--shape", "30000x32", "--chunk-rows", "2048", "--seed", "11"]).status == 0)
        let pipeline = mlpPipeline(in: root, input: input, output: root.file("unused.h5"))
        try FileManager.default.createDirectory(atPath: root.file("bin"), withIntermediateDirectories: true)
        let sbatch = root.write("bin/sbatch", Self.fakeSbatch)
        chmod(sbatch, 0o755)
        let log = root.file("sbatch.log")
        let output = try runTool("/bin/bash", [Self.folder + "/h5batch-submit.sh"], environment: [
            "PATH": root.file("bin") + ":/usr/bin:/bin", "SBATCH_LOG": log, "PIPELINE": pipeline,
            "OUTPUT": root.file("out/merged.h5"), "SHARDS": "3", "H5BATCH": Repo.binary,
        ], in: root.path)
        let jobs = (try? String(contentsOfFile: log + ".jobs", encoding: .utf8)) ?? ""
        #expect(output.contains("shards: job 101 (array 0-2), merge: job 102 after them"), "\(output)\n\(jobs)")
        let calls = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(calls.count == 2)
        #expect(calls.first?.contains("--array=0-2") == true)
        #expect(calls.last?.contains("--dependency=afterok:101") == true)
        // The shards logged JSON, each naming its array task.
        #expect(jobs.contains("\"event\":\"shard_source\""), "\(jobs)")
        #expect(jobs.contains("SLURM_ARRAY_TASK_ID=2"))

        #expect(try runBinary(["run", pipeline, "--output", root.file("single.h5:/y")]).status == 0)
        let merged = try readDataset(root.file("out/merged.h5"), "/y")
        #expect(bits(merged.values) == bits(try readDataset(root.file("single.h5"), "/y").values))
        #expect(try HDF5File.open(root.file("out/merged.h5")).dataset("/y").layout == .virtual)
    }

    @Test("the indexed Job's pods (JOB_COMPLETION_INDEX 0…3) and then the merge Job equal a single run")
    func kubernetes() throws {
        let text = try String(contentsOfFile: Self.folder + "/h5batch-indexed-job.yaml", encoding: .utf8)
        let documents = try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
        let kinds = documents.map { $0["kind"] as? String ?? "" }
        #expect(kinds == ["ConfigMap", "Job", "Job"])
        let configMap = documents[0], shards = documents[1], merge = documents[2]
        let pipelineText = try #require(((configMap["data"] as? [String: Any])?["pipeline.yaml"]) as? String)

        func container(_ job: [String: Any]) throws -> [String: Any] {
            let template = try #require((job["spec"] as? [String: Any])?["template"] as? [String: Any])
            let containers = try #require((template["spec"] as? [String: Any])?["containers"] as? [[String: Any]])
            return try #require(containers.first)
        }
        let spec = try #require(shards["spec"] as? [String: Any])
        #expect(spec["completionMode"] as? String == "Indexed")
        let completions = try #require(spec["completions"] as? Int)
        let shardContainer = try container(shards)
        let environment = (shardContainer["env"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) {
            $0[$1["name"] as? String ?? ""] = $1["value"] as? String
        }
        #expect(environment["H5BATCH_SHARDS"] == String(completions), "H5BATCH_SHARDS must equal spec.completions")
        let command = try #require(shardContainer["command"] as? [String])
        #expect(command.contains("auto") && command.contains("--shard"))

        // The volumes: /data and /config in a temporary folder, with the ConfigMap's pipeline.
        let root = TemporaryFolder()
        for sub in ["in", "out", "config"] { try FileManager.default.createDirectory(atPath: root.file(sub), withIntermediateDirectories: true) }
        try FileManager.default.copyItem(atPath: Repo.data + "/weights.h5", toPath: root.file("weights.h5"))
        #expect(try runBinary(["generate", root.file("in/features.h5"), "--dataset", "features", "--shape", "40000x32",
                               "--chunk-rows", "2048", "--seed", "12"]).status == 0)
        let local = { (text: String) in
            text.replacingOccurrences(of: "/data/", with: root.path + "/").replacingOccurrences(of: "/config/", with: root.file("config/"))
        }
        root.write("config/pipeline.yaml", local(pipelineText))
        func run(_ command: [String], _ extra: [String: String]) throws -> ProcessResult {
            #expect(command.first == "h5batch")
            return try runBinary(command.dropFirst().map(local), environment: environment.merging(extra) { $1 })
        }
        for index in 0..<completions {
            let pod = try run(command, ["JOB_COMPLETION_INDEX": String(index)])
            #expect(pod.status == 0, "pod \(index): \(pod.stderr)")
        }
        let merged = try run(try #require(try container(merge)["command"] as? [String]), [:])
        #expect(merged.status == 0, "\(merged.stderr)")

        let single = try runBinary(["run", root.file("config/pipeline.yaml"), "--output", root.file("single.h5")])
        #expect(single.status == 0, "\(single.stderr)")
        #expect(bits(try readDataset(root.file("out/features.h5"), "/features").values)
                == bits(try readDataset(root.file("single.h5"), "/features").values))
    }
}
