/// A strict JSON (RFC 8259) reader that keeps line numbers, producing `ConfigNode`s.
///
/// Foundation's JSONSerialization drops positions, and YAML readers reject some valid JSON
/// (tabs), so pipeline files in JSON get this small reader of their own.
struct JSONReader {
    private let bytes: [UInt8]
    private let path: String
    private var index = 0
    private var line = 1
    private var depth = 0
    private static let maximumDepth = ConfigDocument.maximumDepth

    init(text: String, path: String) {
        self.bytes = Array(text.utf8)
        self.path = path
    }

    mutating func readDocument() throws -> ConfigNode {
        skipWhitespace()
        if index == bytes.count { throw fail("the pipeline file is empty") }
        let node = try readValue()
        skipWhitespace()
        if index < bytes.count { throw fail("unexpected text after the JSON document") }
        return node
    }

    private func fail(_ message: String) -> H5BatchError {
        H5BatchError(.usage, "\(path):\(line): malformed JSON: \(message)")
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\n"): line += 1; index += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): index += 1
            default: return
            }
        }
    }

    private mutating func readValue() throws -> ConfigNode {
        skipWhitespace()
        guard index < bytes.count else { throw fail("unexpected end of file") }
        let startLine = line
        switch bytes[index] {
        case UInt8(ascii: "{"): return try readObject()
        case UInt8(ascii: "["): return try readArray()
        case UInt8(ascii: "\""): return ConfigNode(value: .scalar(try readString(), quoted: true), line: startLine)
        case UInt8(ascii: "t"): try expectWord("true"); return ConfigNode(value: .scalar("true", quoted: false), line: startLine)
        case UInt8(ascii: "f"): try expectWord("false"); return ConfigNode(value: .scalar("false", quoted: false), line: startLine)
        case UInt8(ascii: "n"): try expectWord("null"); return ConfigNode(value: .scalar("null", quoted: false), line: startLine)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return ConfigNode(value: .scalar(try readNumber(), quoted: false), line: startLine)
        default:
            throw fail("unexpected character '\(printable(bytes[index]))'")
        }
    }

    private func printable(_ byte: UInt8) -> String {
        (0x20..<0x7f).contains(byte) ? String(UnicodeScalar(byte)) : "\\u{\(String(byte, radix: 16))}"
    }

    private mutating func expectWord(_ word: String) throws {
        let expected = Array(word.utf8)
        guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else {
            throw fail("unexpected character '\(printable(bytes[index]))'")
        }
        index += expected.count
    }

    private mutating func enter() throws {
        depth += 1
        if depth > Self.maximumDepth { throw fail("nested deeper than \(Self.maximumDepth) levels") }
    }

    private mutating func readObject() throws -> ConfigNode {
        let startLine = line
        try enter()
        defer { depth -= 1 }
        index += 1
        var entries: [(key: String, keyLine: Int, value: ConfigNode)] = []
        var keys: Set<String> = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return ConfigNode(value: .map(entries), line: startLine)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a quoted key") }
            let keyLine = line
            let key = try readString()
            guard keys.insert(key).inserted else {
                throw H5BatchError(.usage, "\(path):\(keyLine): duplicate key \(quote(key))")
            }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':' after key \(quote(key))") }
            index += 1
            entries.append((key, keyLine, try readValue()))
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of file inside an object") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; break }
            throw fail("expected ',' or '}'")
        }
        return ConfigNode(value: .map(entries), line: startLine)
    }

    private mutating func readArray() throws -> ConfigNode {
        let startLine = line
        try enter()
        defer { depth -= 1 }
        index += 1
        var items: [ConfigNode] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return ConfigNode(value: .list(items), line: startLine)
        }
        while true {
            items.append(try readValue())
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of file inside an array") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; break }
            throw fail("expected ',' or ']'")
        }
        return ConfigNode(value: .list(items), line: startLine)
    }

    private mutating func readNumber() throws -> String {
        let start = index
        func digits() -> Int {
            let from = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - from
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw fail("incomplete number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            throw fail("incomplete number")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            if digits() == 0 { throw fail("incomplete number") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            if digits() == 0 { throw fail("incomplete number") }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private mutating func readString() throws -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flushRaw() throws {
            guard !raw.isEmpty else { return }
            guard let text = String(validating: raw, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
            scalars.append(contentsOf: text.unicodeScalars)
            raw.removeAll()
        }
        while true {
            guard index < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                try flushRaw()
                return String(scalars)
            case UInt8(ascii: "\\"):
                try flushRaw()
                guard index < bytes.count else { throw fail("unterminated string") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{8}")
                case UInt8(ascii: "f"): scalars.append("\u{c}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try readHex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired surrogate in a string")
                        }
                        index += 2
                        let low = try readHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate in a string") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = UnicodeScalar(code) else { throw fail("invalid \\u escape") }
                    scalars.append(scalar)
                default:
                    throw fail("invalid escape '\\\(printable(escape))'")
                }
            default:
                if byte < 0x20 { throw fail(byte == 0x0A ? "unterminated string" : "control character in a string") }
                raw.append(byte)
            }
        }
    }

    private mutating func readHex4() throws -> UInt32 {
        // Four hex digits exactly: UInt32(_:radix:) alone would also take a sign.
        guard index + 4 <= bytes.count, bytes[index..<index + 4].allSatisfy({ UnicodeScalar($0).properties.isASCIIHexDigit }),
              let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
            throw fail("invalid \\u escape")
        }
        index += 4
        return value
    }
}
