import Foundation
import Yams

/// A pipeline file's document tree, the same for YAML and JSON, with the line of every node so
/// every error can point at it.
struct ConfigNode: Sendable {
    enum Value: Sendable {
        case map([(key: String, keyLine: Int, value: ConfigNode)])
        case list([ConfigNode])
        /// A scalar's text; `quoted` scalars are always strings, plain ones may be numbers,
        /// booleans or null.
        case scalar(String, quoted: Bool)
    }

    let value: Value
    let line: Int

    var isNull: Bool {
        if case .scalar(let text, quoted: false) = value {
            return ["", "~", "null", "Null", "NULL"].contains(text)
        }
        return false
    }

    /// What kind of node this is, for error messages.
    var kindName: String {
        switch value {
        case .map: return "a mapping"
        case .list: return "a list"
        case .scalar(let text, let quoted):
            if quoted { return "a string" }
            if isNull { return "null" }
            if Double(text) != nil { return "a number" }
            return "'\(text)'"
        }
    }
}

/// Reads a pipeline file's text into a `ConfigNode` tree.
enum ConfigDocument {
    /// Parses YAML, or JSON when `json` is true (strict JSON, with line numbers in errors).
    /// Errors are `H5BatchError(.usage)` naming `path` and the line.
    static func parse(_ text: String, json: Bool, path: String) throws -> ConfigNode {
        if json {
            var reader = JSONReader(text: text, path: path)
            return try reader.readDocument()
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw H5BatchError(.usage, "\(path):\(describe(error, in: text))")
        }
        guard let root else { throw H5BatchError(.usage, "\(path): the pipeline file is empty") }
        return try convert(root, path: path)
    }

    private static func convert(_ node: Node, path: String) throws -> ConfigNode {
        let line = node.mark?.line ?? 0
        switch node {
        case .scalar(let scalar):
            return ConfigNode(value: .scalar(scalar.string, quoted: scalar.style != .plain), line: line)
        case .sequence(let sequence):
            return ConfigNode(value: .list(try sequence.map { try convert($0, path: path) }), line: line)
        case .mapping(let mapping):
            var entries: [(key: String, keyLine: Int, value: ConfigNode)] = []
            for (key, value) in mapping {
                let keyLine = key.mark?.line ?? line
                guard case .scalar(let scalar) = key else {
                    throw H5BatchError(.usage, "\(path):\(keyLine): keys must be plain names")
                }
                if entries.contains(where: { $0.key == scalar.string }) {
                    throw H5BatchError(.usage, "\(path):\(keyLine): duplicate key '\(scalar.string)'")
                }
                entries.append((scalar.string, keyLine, try convert(value, path: path)))
            }
            return ConfigNode(value: .map(entries), line: line)
        case .alias:
            throw H5BatchError(.usage, "\(path):\(line): YAML aliases are not supported in pipeline files")
        }
    }

    /// `LINE: malformed YAML: …` (or ` malformed YAML: …` without a line). libyaml puts errors
    /// found at the end of input on the line after the last; they are reported on the last line.
    private static func describe(_ error: YamlError, in text: String) -> String {
        let lastLine = max(1, text.split(separator: "\n", omittingEmptySubsequences: false).count
                                - (text.hasSuffix("\n") ? 1 : 0))
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let during = context.map { " \($0.text) that starts on line \(min($0.mark.line, lastLine))" } ?? ""
            return "\(min(mark.line, lastLine)): malformed YAML: \(problem)\(during)"
        case .reader(let problem, _, _, _):
            return " malformed YAML: \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "\(context.mark.line): duplicate key '\(duplicates.first ?? "")'"
        default:
            return " malformed YAML: \(String(describing: error).split(whereSeparator: \.isNewline).first ?? "")"
        }
    }
}
