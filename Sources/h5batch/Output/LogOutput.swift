import ArgumentParser
import Foundation
import Logging

/// How `h5batch run` writes its log lines on standard error.
enum LogFormat: String, CaseIterable, ExpressibleByArgument {
    /// `note: …`, `error: …`, `progress: …`: for people.
    case text
    /// One JSON object per line with `time`, `level`, `event` and `message`: for journals and
    /// log collectors.
    case json

    /// The format `--log-format` asks for, read before the command line is parsed, so that
    /// even a parse error is logged in it.
    static func requested(in arguments: [String]) -> LogFormat {
        for (index, argument) in arguments.enumerated() {
            if argument == "--log-format", index + 1 < arguments.count { return LogFormat(rawValue: arguments[index + 1]) ?? .text }
            if argument.hasPrefix("--log-format=") { return LogFormat(rawValue: String(argument.dropFirst(13))) ?? .text }
        }
        return .text
    }
}

/// The CLI's logger; `LogOutput.bootstrap` decides where its lines go.
let log = Logger(label: "h5batch")

enum LogOutput {
    private(set) nonisolated(unsafe) static var format = LogFormat.text

    /// Sends every `Logger` to standard error in `format`. Call once, before logging.
    static func bootstrap(_ format: LogFormat) {
        Self.format = format
        LoggingSystem.bootstrap { _ in ConsoleLogHandler(format: format, console: .standardError) }
    }
}

/// Writes log events as text or JSON lines through a `Console`.
///
/// Every event carries `event` metadata naming what happened (`note`, `progress`, `done`,
/// `error`, …); in text the line is `LABEL: message`, the label being `progress` for progress
/// lines and the level's word otherwise (`note` for notice).
struct ConsoleLogHandler: LogHandler {
    let format: LogFormat
    let console: Console
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .info

    init(format: LogFormat, console: Console) {
        self.format = format
        self.console = console
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        let name = fields.removeValue(forKey: "event").map { "\($0)" } ?? event.level.word
        switch format {
        case .text:
            console.line("\(name == "progress" ? name : event.level.word): \(event.message)")
        case .json:
            var line = "{\"time\":" + JSONText.string(Self.timestamp())
            line += ",\"level\":" + JSONText.string(event.level.rawValue)
            line += ",\"event\":" + JSONText.string(name)
            line += ",\"message\":" + JSONText.string(event.message.description)
            for key in fields.keys.sorted() {
                line += "," + JSONText.string(key) + ":" + JSONText.value(fields[key]!)
            }
            console.line(line + "}")
        }
    }

    private static func timestamp() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        var seconds = time.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, time.tv_nsec / 1_000_000)
    }
}

extension Logger.Level {
    /// The word text lines start with.
    var word: String {
        switch self {
        case .trace, .debug: return "debug"
        case .info: return "info"
        case .notice: return "note"
        case .warning: return "warning"
        case .error, .critical: return "error"
        }
    }
}

/// JSON text for log values: numbers stay numbers (metadata carries them as
/// `.stringConvertible`), everything else becomes a string.
enum JSONText {
    static func value(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): return string(text)
        case .stringConvertible(let item):
            switch item {
            case let number as Int: return String(number)
            case let number as Double: return number.isFinite ? "\(number)" : "null"
            case let flag as Bool: return flag ? "true" : "false"
            default: return string(item.description)
            }
        case .array(let items): return "[" + items.map(Self.value).joined(separator: ",") + "]"
        case .dictionary(let entries):
            return "{" + entries.keys.sorted().map { string($0) + ":" + Self.value(entries[$0]!) }.joined(separator: ",") + "}"
        }
    }

    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
