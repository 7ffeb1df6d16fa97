import Foundation

/// Loads pipeline files: YAML (`.yaml`, `.yml`) or JSON (`.json`), one schema.
///
/// Every key is checked: an unknown key, a wrong type or a bad value is an `H5BatchError(.usage)`
/// naming the file, the line and the key path, so a typo is never silently ignored.
public enum PipelineFile {
    /// Reads and validates the pipeline file at `path`; relative paths inside it resolve
    /// against its folder.
    public static func load(_ path: String) throws -> PipelineConfig {
        if Format(path: path) == .onnx {
            var config = PipelineConfig(stages: try ONNXModel.stages(path: path))
            config.name = defaultName(forFile: path)
            return config
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw H5BatchError(.notFound, "pipeline file \(path) does not exist")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw H5BatchError(.notFound, "cannot read pipeline file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw H5BatchError(.usage, "\(path): the pipeline file is not UTF-8 text")
        }
        let folder = (path as NSString).deletingLastPathComponent
        var config = try parse(text, format: Format(path: path), path: path, baseFolder: folder)
        if config.name == nil { config.name = defaultName(forFile: path) }
        return config
    }

    /// A pipeline's name when its file gives none: the file's name without its extension.
    public static func defaultName(forFile path: String) -> String {
        ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// The pipeline file's syntax.
    public enum Format: Sendable {
        /// YAML 1.1 (libyaml through Yams) or JSON; or an ONNX model, which stands for a
        /// pipeline of its stages (`ONNXModel`).
        case yaml, json, onnx

        /// The format a file name implies: `.json` is JSON, `.onnx` a model, everything else YAML.
        public init(path: String) {
            let name = path.lowercased()
            self = name.hasSuffix(".json") ? .json : name.hasSuffix(".onnx") ? .onnx : .yaml
        }
    }

    /// Parses pipeline text; `path` names it in errors, `baseFolder` anchors relative paths.
    public static func parse(_ text: String, format: Format, path: String, baseFolder: String) throws -> PipelineConfig {
        precondition(format != .onnx, "PipelineFile.parse reads pipeline text; load an .onnx file with PipelineFile.load")
        let root = try ConfigDocument.parse(text, json: format == .json, path: path)
        let reader = PipelineFileReader(path: path, baseFolder: baseFolder)
        return try reader.pipeline(root)
    }
}

// MARK: - Decoding

extension PipelineFile {
    /// Every stage name a pipeline file may use, in the order error messages list them
    /// (`StageRegistry`'s order).
    public static var stageNames: [String] { StageRegistry.names }
}

/// Reads a parsed pipeline document into a `PipelineConfig`, checking every key and value.
struct PipelineFileReader {
    let path: String
    let baseFolder: String

    func fail(_ node: ConfigNode, _ key: String, _ message: String) -> H5BatchError {
        H5BatchError(.usage, "\(path):\(node.line): \(key): \(message)")
    }

    func pipeline(_ root: ConfigNode) throws -> PipelineConfig {
        let top = try fields(root, "pipeline", allowed: ["name", "input", "output", "run", "stages"])
        guard let stagesNode = top["stages"] else {
            throw H5BatchError(.usage, "\(path):\(root.line): stages: missing (a list of stages)")
        }
        var config = PipelineConfig(stages: try stages(stagesNode))
        if let node = top["name"], !node.isNull {
            let name = try string(node, "name")
            guard !name.isEmpty, name.count <= 200, !name.contains(where: \.isNewline) else {
                throw fail(node, "name", "expected a name of 1 to 200 characters on one line")
            }
            config.name = name
        }
        if let node = top["input"], !node.isNull { config.input = try input(node) }
        if let node = top["output"], !node.isNull { config.output = try output(node) }
        if let node = top["run"], !node.isNull { config.run = try run(node) }
        return config
    }

    // MARK: Sections

    func input(_ node: ConfigNode) throws -> PipelineConfig.Input {
        let f = try fields(node, "input", allowed: ["file", "dataset", "datasets"])
        guard let file = f["file"] else { throw fail(node, "input.file", "missing") }
        var datasets: [String]?
        if let node = f["datasets"] {
            if f["dataset"] != nil { throw fail(node, "input", "give dataset or datasets, not both") }
            switch node.value {
            case .list(let items):
                guard !items.isEmpty else { throw fail(node, "input.datasets", "expected at least one dataset path or pattern") }
                datasets = try items.enumerated().map { try datasetPath($0.element, "input.datasets[\($0.offset)]") }
            default:
                datasets = [try datasetPath(node, "input.datasets")]
            }
        }
        return PipelineConfig.Input(file: try resolvedPath(file, "input.file"),
                                    dataset: try f["dataset"].map { try datasetPath($0, "input.dataset") },
                                    datasets: datasets)
    }

    func output(_ node: ConfigNode) throws -> PipelineConfig.Output {
        let f = try fields(node, "output", allowed: ["file", "dataset", "dtype", "chunk_rows", "compression", "level", "shuffle", "codec"])
        var output = PipelineConfig.Output()
        output.file = try f["file"].map { try resolvedPath($0, "output.file") }
        output.dataset = try f["dataset"].map { try datasetPath($0, "output.dataset") }
        if let n = f["dtype"] {
            output.dtype = try choice(n, "output.dtype", [StorageType.float16, .float32, .float64])
        }
        if let n = f["chunk_rows"] { output.chunkRows = try rows(n, "output.chunk_rows") }
        if let n = f["compression"] {
            output.compression = n.isNull ? .none : try choice(n, "output.compression", PipelineConfig.Compression.allCases)
        }
        if let n = f["level"] {
            output.level = try integer(n, "output.level", min: Int(Int32.min), max: Int(Int32.max))
            if f["compression"] == nil { output.compression = .gzip }
        }
        if let n = f["shuffle"] { output.shuffle = try boolean(n, "output.shuffle") }
        if let n = f["codec"] { output.codec = try string(n, "output.codec") }
        // What each codec takes is the codec's to say (ChunkCompression).
        if let problem = output.chunkCompression.problem() {
            throw fail(f[problem.field] ?? node, "output.\(problem.field)", problem.reason)
        }
        return output
    }

    func run(_ node: ConfigNode) throws -> PipelineConfig.Run {
        let f = try fields(node, "run", allowed: ["mode", "batch_rows", "workers", "memory_limit", "stats"])
        var run = PipelineConfig.Run()
        if let n = f["stats"] { run.stats = try boolean(n, "run.stats") }
        if let n = f["mode"] { run.mode = try choice(n, "run.mode", PipelineConfig.Mode.allCases) }
        if let n = f["batch_rows"] { run.batchRows = try rows(n, "run.batch_rows") }
        if let n = f["workers"] {
            if case .scalar("auto", _) = n.value { run.workers = nil } else {
                run.workers = try integer(n, "run.workers", min: 1, max: 1024, expected: "a positive integer or auto")
            }
        }
        if let n = f["memory_limit"] {
            let text = try scalarText(n, "run.memory_limit", expected: "a size like 4GiB or a percentage like 80%")
            guard let limit = MemoryLimit(parsing: text) else {
                throw fail(n, "run.memory_limit", "\(quote(text)) is not a size like 4GiB or a percentage like 80%")
            }
            run.memoryLimit = limit
        }
        return run
    }

    // MARK: Stages

    func stages(_ node: ConfigNode) throws -> [StageConfig] {
        guard case .list(let items) = node.value else {
            throw fail(node, "stages", "expected a list of stages, got \(node.kindName)")
        }
        return try items.enumerated().flatMap { index, item in
            let key = "stages[\(index)]"
            if let model = try modelFile(item, key) { return try modelStages(model, item, key) }
            return [try stage(item, key)]
        }
    }

    /// The file of an `onnx: { file: model.onnx }` entry, or nil for any other stage.
    func modelFile(_ node: ConfigNode, _ key: String) throws -> String? {
        guard case .map(let entries) = node.value, entries.count == 1, let entry = entries.first, entry.key == "onnx" else { return nil }
        let p = try fields(entry.value, "\(key).onnx", allowed: ["file"])
        guard let file = p["file"] else { throw fail(entry.value, "\(key).onnx.file", "missing (the .onnx model file)") }
        return try resolvedPath(file, "\(key).onnx.file")
    }

    /// The stages an `onnx:` entry stands for: its model's, read now (`ONNXModel`).
    func modelStages(_ model: String, _ node: ConfigNode, _ key: String) throws -> [StageConfig] {
        do {
            return try ONNXModel.stages(path: model)
        } catch let error as H5BatchError {
            throw H5BatchError(error.kind, "\(path):\(node.line): \(key).onnx: \(error.message)")
        }
    }

    func stage(_ node: ConfigNode, _ key: String) throws -> StageConfig {
        let name: String
        let parameters: ConfigNode?
        switch node.value {
        case .scalar(let text, _):
            name = text
            parameters = nil
        case .map(let entries):
            guard entries.count == 1, let entry = entries.first else {
                throw fail(node, key, "a stage is a name or a one-key mapping of name to parameters, got \(entries.count) keys")
            }
            name = entry.key
            parameters = entry.value.isNull ? nil : entry.value
        case .list:
            throw fail(node, key, "a stage is a name or a one-key mapping of name to parameters, got a list")
        }
        guard let kind = StageRegistry.kind(named: name) else {
            throw fail(node, key, "unknown stage \(quote(name)) (known: \(PipelineFile.stageNames.joined(separator: ", ")))")
        }
        return StageConfig(try kind.init(StageEntry(reader: self, node: node, parameters: parameters, key: "\(key).\(name)")))
    }

    // MARK: Typed values

    func fields(_ node: ConfigNode, _ key: String, allowed: [String]) throws -> [String: ConfigNode] {
        guard case .map(let entries) = node.value else {
            throw fail(node, key, "expected a mapping, got \(node.kindName)")
        }
        var result: [String: ConfigNode] = [:]
        for entry in entries {
            guard allowed.contains(entry.key) else {
                let known = allowed.isEmpty ? "it takes no parameters" : "known: \(allowed.joined(separator: ", "))"
                throw H5BatchError(.usage, "\(path):\(entry.keyLine): \(key): unknown key \(quote(entry.key)) (\(known))")
            }
            result[entry.key] = entry.value
        }
        return result
    }

    func scalarText(_ node: ConfigNode, _ key: String, expected: String) throws -> String {
        guard case .scalar(let text, _) = node.value, !node.isNull else {
            throw fail(node, key, "expected \(expected), got \(node.kindName)")
        }
        return text
    }

    /// A file or dataset name: not empty, and without control characters (a NUL would cut the
    /// name short where it reaches C, a newline would split error messages).
    func string(_ node: ConfigNode, _ key: String) throws -> String {
        let text = try scalarText(node, key, expected: "a string")
        guard !text.isEmpty else { throw fail(node, key, "must not be empty") }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw fail(node, key, "\(quote(text)) contains a control character")
        }
        return text
    }

    func resolvedPath(_ node: ConfigNode, _ key: String) throws -> String {
        let text = try string(node, key)
        if text.hasPrefix("/") || baseFolder.isEmpty { return text }
        return (baseFolder as NSString).appendingPathComponent(text)
    }

    func datasetPath(_ node: ConfigNode, _ key: String) throws -> String {
        let text = try string(node, key)
        let components = text.split(separator: "/")
        guard components.count > 0 else { throw fail(node, key, "\(quote(text)) is not a dataset path") }
        // libhdf5 reads "." as the group itself, but h5batch looks datasets up link by link, so
        // such a name would be created and then not found.
        guard !components.contains(".") else {
            throw fail(node, key, "\(quote(text)) has a '.' component; give the path without it")
        }
        return text
    }

    func integer(_ node: ConfigNode, _ key: String, min: Int, max: Int = Int.max,
                 expected: String = "an integer") throws -> Int {
        guard case .scalar(let text, quoted: false) = node.value, let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
            throw fail(node, key, "expected \(expected), got \(node.kindName)")
        }
        guard value >= min, value <= max else {
            let range = max == Int.max ? "at least \(min)" : "from \(min) to \(max)"
            throw fail(node, key, "\(value) is out of range (\(range))")
        }
        return value
    }

    /// A row count: at least 1, at most `PipelineConfig.maximumRows`.
    func rows(_ node: ConfigNode, _ key: String) throws -> Int {
        let value = try integer(node, key, min: 1)
        guard value <= PipelineConfig.maximumRows else {
            throw fail(node, key, "\(value) is out of range (at most \(PipelineConfig.maximumRows), that is 2^30 rows)")
        }
        return value
    }

    func number(_ node: ConfigNode, _ key: String) throws -> Double {
        guard case .scalar(let text, quoted: false) = node.value, let value = Double(text), value.isFinite else {
            // 1e400 is a number, written as one: only too large for a float64.
            if case .scalar(let text, quoted: false) = node.value, let value = Double(text), value.isInfinite,
               !text.lowercased().contains("inf") {
                throw fail(node, key, "\(text) is out of float range")
            }
            throw fail(node, key, "expected a finite number, got \(node.kindName)")
        }
        return value
    }

    /// A number that float32 holds as a finite value (stage parameters are float32).
    func float(_ node: ConfigNode, _ key: String) throws -> Double {
        let value = try number(node, key)
        guard Float(value).isFinite else { throw fail(node, key, "\(value) is beyond float32's range") }
        return value
    }

    func boolean(_ node: ConfigNode, _ key: String) throws -> Bool {
        if case .scalar(let text, quoted: false) = node.value {
            if ["true", "True", "TRUE"].contains(text) { return true }
            if ["false", "False", "FALSE"].contains(text) { return false }
        }
        throw fail(node, key, "expected true or false, got \(node.kindName)")
    }

    func choice<T: RawRepresentable>(_ node: ConfigNode, _ key: String, _ options: [T]) throws -> T where T.RawValue == String {
        let names = options.map(\.rawValue)
        guard case .scalar(let text, _) = node.value, let value = options.first(where: { $0.rawValue == text }) else {
            throw fail(node, key, "expected one of \(names.joined(separator: ", ")), got \(node.kindName)")
        }
        return value
    }
}

// MARK: - One stage's entry

/// One stage's entry in a pipeline file, as its `StageSpec` reads it: the parameters it allows,
/// and typed values whose errors name the file, the line and the key path
/// (`stages[2].elu.alpha`), so each stage's file parses its own entry in one place.
struct StageEntry {
    let reader: PipelineFileReader
    /// The whole entry (a bare name, or the one-key mapping).
    let node: ConfigNode
    /// The parameters' mapping; nil for a bare name or a null value.
    let parameters: ConfigNode?
    /// `stages[N].name`, the prefix of every key in errors.
    let key: String

    /// The node errors point at when a parameter is missing: the parameters, or the entry.
    var anchor: ConfigNode { parameters ?? node }

    /// The parameters by name; any key not in `allowed` is a usage error listing them.
    func fields(_ allowed: [String]) throws -> [String: ConfigNode] {
        guard let parameters else { return [:] }
        return try reader.fields(parameters, key, allowed: allowed)
    }

    /// `key.parameter`, or `key` itself for nil: the key path errors name.
    func keyPath(_ parameter: String?) -> String { parameter.map { "\(key).\($0)" } ?? key }

    /// A usage error at `node` for `parameter` (nil: the stage itself).
    func fail(_ node: ConfigNode, _ parameter: String?, _ message: String) -> H5BatchError {
        reader.fail(node, keyPath(parameter), message)
    }

    /// A finite number.
    func number(_ node: ConfigNode, _ parameter: String) throws -> Double { try reader.number(node, keyPath(parameter)) }
    /// A number float32 holds as a finite value.
    func float(_ node: ConfigNode, _ parameter: String) throws -> Double { try reader.float(node, keyPath(parameter)) }
    /// One of `options`, by raw value.
    func choice<T: RawRepresentable>(_ node: ConfigNode, _ parameter: String, _ options: [T]) throws -> T where T.RawValue == String {
        try reader.choice(node, keyPath(parameter), options)
    }
    /// A file path, resolved against the pipeline file's folder.
    func path(_ node: ConfigNode, _ parameter: String) throws -> String { try reader.resolvedPath(node, keyPath(parameter)) }
    /// A dataset (tensor) name.
    func dataset(_ node: ConfigNode, _ parameter: String) throws -> String { try reader.datasetPath(node, keyPath(parameter)) }
}
