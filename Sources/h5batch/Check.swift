import ArgumentParser
import Foundation
import H5Batch

extension H5BatchCommand {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a pipeline and print its plan without running it: shapes, FLOPs, I/O paths, memory for both modes, the output.",
            discussion: "Opens the input and the weights as `run` would and creates nothing. Takes the overrides of `run` that change the plan. Exits 0 when the run would start; otherwise prints the plan and then the error `run` would stop with, with its exit code. A pipeline, input or weights `run` cannot use is one error line, as with `run`."
        )

        @OptionGroup var pipeline: PipelineArguments

        @OptionGroup var settings: RunSettings

        @Flag(help: "Plan as `run --force` would: an existing output file is replaced.")
        var force = false

        @Flag(help: "Print the plan as JSON.")
        var json = false

        func run() throws {
            var config = try pipeline.load()
            try settings.apply(to: &config)
            let plan = try PipelinePlan.make(config, force: force)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                encoder.keyEncodingStrategy = .convertToSnakeCase
                print(String(decoding: try encoder.encode(plan), as: UTF8.self))
            } else {
                print(PlanText(plan: plan, pipeline: pipeline.pipeline).lines.joined(separator: "\n"))
            }
            if let error = plan.error {
                // The plan first, then the error line, also when both go to one pipe.
                fflush(nil)
                throw error
            }
        }
    }
}

/// `h5batch check`'s plain-text plan: labelled sections with aligned columns.
struct PlanText {
    let plan: PipelinePlan
    let pipeline: String

    var lines: [String] {
        var out: [String] = []
        func section(_ label: String, _ values: [String]) {
            for (index, value) in values.enumerated() {
                out.append(((index == 0 ? label : "").padding(toLength: 12, withPad: " ", startingAt: 0) + value).trimmingTrailingSpaces())
            }
        }
        let input = plan.input
        let output = plan.output
        let run = plan.run

        section("pipeline", [pipeline])
        section("input", [
            "\(input.file):\(input.dataset)",
            "\(shape(input.shape)) \(input.dtype), \(plural(input.rows, "row")) of \(formatCount(input.width)), \(formatBytes(input.bytes))",
            "\(input.storage), \(filters(input.filters))",
            "read path: \(input.path)" + (input.chunkRows.map { " (\(formatCount($0))-row chunks, decoded by the workers)" } ?? " (libhdf5 reads and converts)"),
        ] + (plan.datasetCount > 1 ? ["1 of \(plan.datasetCount) datasets (input.datasets): this one is planned, every one fits the stages"] : [])
          + (input.shard.map { ["shard \($0.index) of \($0.count): indices \(formatCount($0.start))..<\(formatCount($0.end)) of \(formatCount($0.extent)) along the first dimension"] } ?? []))
        out.append("")
        out += stageTable()
        out.append("")
        section("output", [
            "\(output.file ?? "(none: set output.file or pass --output)"):\(output.dataset)",
            "\(shape(output.shape)) \(output.dtype), \(formatBytes(output.bytes))",
            (output.chunks.map { "chunks \(shape($0))" } ?? "contiguous") + ", \(filters(output.filters))",
            "write path: \(output.path)" + (output.path == "raw chunks" ? " (encoded by the workers)" : " (libhdf5 converts, filters and writes)"),
        ])
        out.append("")
        let rounding = run.batchRows == run.batchRowsSetting ? "" :
            " (run.batch_rows \(formatCount(run.batchRowsSetting)), rounded to whole \(formatCount(input.chunkRows ?? 1))-row input chunks)"
        section("run", [
            "\(run.mode.rawValue), batches of \(plural(run.batchRows, "row"))\(rounding), \(plural(run.batches, "batch", "batches"))",
            plural(run.workers, "worker") + (run.workersSetting == "auto" ? " (auto: one per active core)" : "")
                + ", each product on its worker's thread: \(plural(run.workers * run.gemm.threadsPerCall, "compute thread")) on \(plural(run.cores, "core"))",
            "GEMM: \(run.gemm.library) \(run.gemm.version), \(run.gemm.isa) kernels (the CPU offers \(run.gemm.cpuVectors));"
                + " activations and conversions: \(run.vectorKernels) kernels",
        ] + (run.gemm.warning.map { ["warning: " + $0] } ?? []) + [
            output.chunks == nil ? "output not chunked (no rows)" : "output chunks of \(plural(output.chunkRows, "row"))",
        ])
        out.append("")
        out += memoryLines()
        out.append("")
        out += targetLines()
        out.append("")
        if let refusal = plan.refusal {
            section("verdict", ["the run would stop (exit \(refusal.exitCode)): \(refusal.message)"])
        } else {
            section("verdict", ["the run would start"])
        }
        return out
    }

    private func stageTable() -> [String] {
        let rows = plan.input.rows
        var table: [[String]] = [["stage", "", "shape", "FLOPs/row", "FLOPs", "parameters"]]
        table.append(["input", "", shape(plan.input.shape), "", "", ""])
        for stage in plan.stageList {
            table.append(["\(stage.index)", stage.description, shape(stage.outputShape), formatCount(stage.flopsPerRow),
                          formatCount(stage.flops), stage.parameterBytes > 0 ? formatBytes(stage.parameterBytes) : "-"])
        }
        if plan.stageList.isEmpty { table.append(["", "(no stages: a copy)", "", "", "", ""]) }
        table.append(["total", "", "", formatCount(plan.flopsPerRow), formatCount(plan.flops), formatBytes(plan.parameterBytes)])
        table.append(["linear", "2·in·out", "", formatCount(plan.linearFlopsPerRow), formatCount(plan.linearFlopsPerRow * rows), ""])
        // Stage number and description share the first column; numbers are right-aligned.
        let cells = table.map { [$0[0] + ($0[1].isEmpty ? "" : " " + $0[1])] + Array($0[2...]) }
        let widths = cells[0].indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
        return cells.map { line in
            line.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column >= 2 && column <= 4 ? pad + cell : cell + pad
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
    }

    private func memoryLines() -> [String] {
        let mini = plan.memory.minibatch
        let full = plan.memory.full
        let this = { (mode: PipelineConfig.Mode) in plan.run.mode == mode ? " (this run)" : "" }
        var parts = mini.batches == 0 ? ["no batches: there are no rows"] : [
            "\(plural(mini.batches, "batch", "batches")) × \(formatBytes(mini.inputBufferBytes + mini.outputBufferBytes + mini.storedChunkBytes))"
                + " (\(plural(mini.capacityRows, "row")): input \(formatBytes(mini.inputBufferBytes)), output \(formatBytes(mini.outputBufferBytes)), stored chunks \(formatBytes(mini.storedChunkBytes)))",
            "\(plural(mini.workers, "worker")) × \(formatBytes(mini.workspaceBytes)) workspace"]
        if mini.carryBytes > 0 { parts.append("writer's carry \(formatBytes(mini.carryBytes))") }
        if mini.chunkCacheBytes > 0 { parts.append("input chunk cache \(formatBytes(mini.chunkCacheBytes))") }
        parts.append("parameters \(formatBytes(mini.parameterBytes))")
        parts.append("runtime \(formatBytes(mini.runtimeBytes))")
        var lines = [row("memory", "minibatch", "\(formatBytes(mini.totalBytes))\(this(.minibatch))")]
        lines += parts.map { row("", "", "  " + $0) }
        lines.append(row("", "full", "\(formatBytes(full.totalBytes))\(this(.full))"))
        lines += ["\(plural(full.rows, "row")): tensors \(formatBytes(full.tensorBytes))",
                  "parameters \(formatBytes(full.parameterBytes))",
                  "I/O chunk buffers \(formatBytes(full.ioBufferBytes))",
                  "runtime \(formatBytes(full.runtimeBytes))"].map { row("", "", "  " + $0) }
        let limit = "run.memory_limit \(full.limitSetting) = \(formatBytes(full.limitBytes))"
        lines.append(row("", "", "  " + (full.overLimit
            ? "over \(limit): full mode would be refused (exit 64)"
            : "within \(limit)")))
        return lines
    }

    private func row(_ label: String, _ key: String, _ value: String) -> String {
        (label.padding(toLength: 12, withPad: " ", startingAt: 0) + key.padding(toLength: 11, withPad: " ", startingAt: 0) + value)
            .trimmingTrailingSpaces()
    }

    private func targetLines() -> [String] {
        guard let target = plan.target else {
            return [row("target", "", "no output file: the run would stop (exit 64)")]
        }
        let file: String
        if target.isDirectory {
            file = "\(target.path) is a folder: the run would stop (exit 73)"
        } else if target.exists {
            file = target.force ? "\(target.path) exists: replaced once the new output is complete (--force)"
                : "\(target.path) exists: the run would stop (exit 73); --force replaces it"
        } else {
            file = "\(target.path) does not exist: a new file"
        }
        var lines = [row("target", "file", file)]
        lines.append(row("", "folder", target.folderExists ? "\(target.folder) exists" : "\(target.folder) will be created"))
        let lock: String
        switch target.lock {
        case "held": lock = "held by \(target.lockHolder ?? "another process"): another run is writing this output (exit 75)"
        case "free": lock = "\(target.path).lock left by a run that ended: the run takes it over"
        case "none": lock = "free"
        default: lock = "unknown (/proc/locks cannot be read)"
        }
        lines.append(row("", "lock", lock))
        if target.partialExists {
            lines.append(row("", "partial", RunFiles(output: target.path).partial + (target.checkpointExists ? " with a checkpoint" : "")
                             + ": a run replaces it" + (target.checkpointExists ? "; --resume continues it" : "")))
        }
        return lines
    }

    private func plural(_ count: Int, _ one: String, _ many: String? = nil) -> String {
        "\(formatCount(count)) \(count == 1 ? one : many ?? one + "s")"
    }
    private func shape(_ dims: [Int]) -> String { dims.map(String.init).joined(separator: "x") }
    private func filters(_ list: [String]) -> String { list.isEmpty ? "no filters" : list.joined(separator: ", ") }
}
