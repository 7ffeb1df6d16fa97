import Foundation
import Yams
// libyaml itself (Yams' C target), for its event parser: see `ConfigDocument.yamlNestingProblem`.
import CYaml

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
            return quote(text)
        }
    }
}

/// Text from a pipeline file, quoted for a one-line error message: control characters escaped
/// (a key or a value may hold a newline), and shortened when long.
func quote(_ text: String) -> String {
    let limit = 80
    let scalars = text.unicodeScalars
    var result = "'"
    for scalar in scalars.prefix(limit) {
        if scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}" {
            result += scalar.escaped(asASCII: true)
        } else {
            result.unicodeScalars.append(scalar)
        }
    }
    return result + (scalars.count > limit ? "…' (\(scalars.count) characters)" : "'")
}

/// Reads a pipeline file's text into a `ConfigNode` tree.
enum ConfigDocument {
    /// The deepest nesting of mappings and lists either format accepts. Pipeline files need 4
    /// levels; the readers recurse, so a deeper document is refused before it is read.
    static let maximumDepth = 64

    /// Parses YAML, or JSON when `json` is true (strict JSON, with line numbers in errors).
    /// Errors are `H5BatchError(.usage)` naming `path` and the line.
    static func parse(_ text: String, json: Bool, path: String) throws -> ConfigNode {
        if json {
            var reader = JSONReader(text: text, path: path)
            return try reader.readDocument()
        }
        // Yams composes nodes recursively (about 4 KiB of stack a level in a debug build; libyaml
        // stops only at 1000 levels), so the depth is checked first, without recursion.
        if let line = yamlNestingProblem(text) {
            throw H5BatchError(.usage, "\(path):\(line): malformed YAML: nested deeper than \(maximumDepth) levels")
        }
        let root: Node?
        do {
            // Tags are never used, so no resolver: Yams would otherwise match every scalar
            // against its regular expressions, again each time it hashes a key.
            root = try Yams.compose(yaml: text, .basic)
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
            var keys: Set<String> = []
            for (key, value) in mapping {
                let keyLine = key.mark?.line ?? line
                guard case .scalar(let scalar) = key else {
                    throw H5BatchError(.usage, "\(path):\(keyLine): keys must be plain names")
                }
                guard keys.insert(scalar.string).inserted else {
                    throw H5BatchError(.usage, "\(path):\(keyLine): duplicate key \(quote(scalar.string))")
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
        let lastLine = max(1, text.utf8.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 } - (text.hasSuffix("\n") ? 1 : 0))
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let during = context.map { " \($0.text) that starts on line \(min($0.mark.line, lastLine))" } ?? ""
            return "\(min(mark.line, lastLine)): malformed YAML: \(problem)\(during)"
        case .reader(let problem, _, _, _):
            return " malformed YAML: \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "\(context.mark.line): duplicate key \(quote(duplicates.first ?? ""))"
        default:
            return " malformed YAML: \(String(describing: error).split(whereSeparator: \.isNewline).first ?? "")"
        }
    }

    /// The line where `text` first nests mappings and lists deeper than `maximumDepth`, or nil.
    /// It walks libyaml's events, which needs no recursion. Malformed YAML stops the walk and is
    /// left for Yams to report, except libyaml's own nesting limit (its scanner reads up to 1024
    /// characters ahead, so `[[[[…` can meet that limit before the first event).
    static func yamlNestingProblem(_ text: String) -> Int? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        var utf8 = Array(text.utf8)
        return utf8.withUnsafeMutableBufferPointer { buffer -> Int? in
            guard let start = buffer.baseAddress else { return nil }
            yaml_parser_set_input_string(&parser, start, buffer.count)
            var depth = 0
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    depth += 1
                    if depth > maximumDepth { return Int(event.start_mark.line) + 1 }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    depth -= 1
                case YAML_STREAM_END_EVENT:
                    return nil
                default:
                    break
                }
            }
            let problem = parser.problem.map { String(cString: $0) } ?? ""
            return problem.hasPrefix("Maximum nesting level") ? Int(parser.problem_mark.line) + 1 : nil
        }
    }
}
