import CHDF5

/// A failed libhdf5 call, described from HDF5's own error stack.
///
/// HDF5's automatic error printing is off on every thread h5batch calls it from, so nothing is
/// printed behind the caller's back; the stack is read here instead (`H5Ewalk2`) and condensed
/// into one line plus a `reason` callers can map to an exit code.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// What the failure means to a caller, read from the minor error codes on the stack.
    public enum Reason: Sendable, Equatable {
        /// No such file, dataset or group (exit 66).
        case notFound
        /// The file exists but this process may not read it.
        case unreadable
        /// The file is not HDF5 (exit 65).
        case notHDF5
        /// The file is HDF5 but damaged or truncated (exit 65).
        case corrupt
        /// A filter (inflate, checksum) failed on stored bytes (exit 65).
        case filterFailed
        /// Reading or writing failed at the system's level: disk full, I/O error (exit 74).
        case io
        /// Creating something that exists (exit 73).
        case alreadyExists
        /// Stored values libhdf5 cannot convert to float32 (exit 65).
        case typeConversion
        /// Anything else: the caller's context decides the exit code.
        case other
    }

    /// What h5batch was doing, e.g. "open dataset /features in data/sample.h5".
    public let operation: String
    /// The most specific message on HDF5's error stack (where the error was detected).
    public let detail: String
    /// What the failure means; it decides the `H5BatchError.Kind` (`H5BatchError.init(_:otherwise:)`).
    public let reason: Reason

    /// An error from its parts, for failures h5batch finds itself or classifies again.
    public init(operation: String, detail: String, reason: Reason) {
        self.operation = operation
        self.detail = detail
        self.reason = reason
    }

    /// `cannot OPERATION: DETAIL`, or `cannot OPERATION` when there is no detail.
    public var description: String {
        detail.isEmpty ? "cannot \(operation)" : "cannot \(operation): \(detail)"
    }
}

// MARK: - Checking return codes

/// Turns HDF5's failure convention (a negative return) into a thrown `HDF5Error`.
@discardableResult
func check(_ status: herr_t, _ operation: @autoclosure () -> String) throws -> herr_t {
    if status < 0 { throw HDF5Error.fromStack(operation: operation()) }
    return status
}

/// Checks a call that returns an identifier (negative on failure).
func checkID(_ id: hid_t, _ operation: @autoclosure () -> String) throws -> hid_t {
    if id < 0 { throw HDF5Error.fromStack(operation: operation()) }
    return id
}

/// Checks a tri-state call (`htri_t`: negative failure, zero false, positive true).
func checkBool(_ value: htri_t, _ operation: @autoclosure () -> String) throws -> Bool {
    if value < 0 { throw HDF5Error.fromStack(operation: operation()) }
    return value > 0
}

// MARK: - Reading the error stack

private final class StackFrames {
    var frames: [(major: hid_t, minor: hid_t, desc: String)] = []
}

extension HDF5Error {
    /// Builds an error from the calling thread's HDF5 error stack, then clears the stack.
    static func fromStack(operation: String) -> HDF5Error {
        let collected = StackFrames()
        let context = Unmanaged.passUnretained(collected).toOpaque()
        _ = H5Ewalk2(h5b_E_DEFAULT(), H5E_WALK_UPWARD, { _, frame, context in
            guard let frame, let context else { return 0 }
            let sink = Unmanaged<StackFrames>.fromOpaque(context).takeUnretainedValue()
            let desc = frame.pointee.desc.map { String(cString: $0) } ?? ""
            sink.frames.append((frame.pointee.maj_num, frame.pointee.min_num, desc))
            return 0
        }, context)
        _ = H5Eclear2(h5b_E_DEFAULT())
        let frames = collected.frames
        var detail = frames.first.map { cleanDetail($0.desc) } ?? ""
        var reason = classify(frames.map { ($0.major, $0.minor) }, systemError: frames.first?.desc.contains("errno = ") ?? false)
        // Detected inside the file's own structures (a local heap, a B-tree, an object header,
        // the metadata cache), a failure is damage whatever the frames above it say: a lookup
        // that meets it also reports "object not found", which would read as a missing dataset.
        if reason == .notFound || reason == .other, let first = frames.first, structuralMajors.contains(message(of: first.major)) {
            reason = .corrupt
        }
        // An address or a fill value "out of range" (a chunk placed in the space libhdf5 keeps
        // for itself, say) comes from the file's own numbers, not from the disk: no errno.
        if reason != .corrupt, let first = frames.first, !first.desc.contains("errno = "),
           message(of: first.minor) == "Out of range", ["Low-level I/O", "Property lists"].contains(message(of: first.major)) {
            reason = .corrupt
        }
        // libhdf5's own words for damage ("wrong B-tree signature") do not say the file is bad.
        if reason == .corrupt && !detail.hasPrefix("the file is") {
            detail = detail.isEmpty ? "the file is damaged" : "the file is damaged (\(detail))"
        }
        return HDF5Error(operation: operation, detail: detail, reason: reason)
    }

    /// `systemError`: the innermost frame is the file driver reporting a failed system call
    /// (it carries errno), which is an I/O error whatever the frames above it say.
    private static func classify(_ codes: [(major: hid_t, minor: hid_t)], systemError: Bool = false) -> Reason {
        let minors = Set(codes.map(\.minor))
        let majors = Set(codes.map(\.major))
        if minors.contains(h5b_E_NOTHDF5()) { return .notHDF5 }
        if minors.contains(h5b_E_TRUNCATED()) || minors.contains(h5b_E_BADFILE())
            || minors.contains(h5b_E_CANTDECODE()) { return .corrupt }
        if systemError { return .io }
        // Damaged metadata in a file that opened: an address past the end of the file, a
        // malformed object header message, or a metadata block that does not load (a wrong
        // signature, say). The lookups that meet them also put "object not found" on the stack,
        // but a path that is simply missing never fails a lookup: it answers "no".
        if minors.contains(where: { damageMessages.contains(message(of: $0)) }) { return .corrupt }
        if majors.contains(h5b_E_PLINE()) || minors.contains(h5b_E_CANTFILTER()) { return .filterFailed }
        if minors.contains(h5b_E_NOTFOUND()) { return .notFound }
        if minors.contains(h5b_E_EXISTS()) || minors.contains(h5b_E_FILEEXISTS()) { return .alreadyExists }
        if minors.contains(h5b_E_CANTCONVERT()) || minors.contains(h5b_E_BADTYPE()) { return .typeConversion }
        if majors.contains(h5b_E_IO()) || minors.contains(h5b_E_READERROR())
            || minors.contains(h5b_E_WRITEERROR()) || minors.contains(h5b_E_SEEKERROR())
            || minors.contains(h5b_E_CLOSEERROR()) || minors.contains(h5b_E_NOSPACE()) { return .io }
        return .other
    }

    /// The texts of libhdf5's minor error codes for damaged metadata: `H5E_OVERFLOW`,
    /// `H5E_BADMESG`, `H5E_CANTLOAD` and `H5E_CANTPROTECT`. The shim has no getters for these codes (the macros
    /// read libhdf5's globals, which Swift 6 will not touch), so they are told apart by text.
    private static let damageMessages: Set<String> = [
        "Address overflowed", "Unrecognized message", "Unable to load metadata into cache",
        "Unable to protect metadata",
    ]

    /// The texts of libhdf5's major error codes for the file's structures: `H5E_HEAP`,
    /// `H5E_BTREE`, `H5E_OHDR` and `H5E_CACHE`.
    private static let structuralMajors: Set<String> = ["Heap", "B-Tree node", "Object header", "Object cache"]

    /// The text libhdf5 registered for an error code (`H5Eget_msg`).
    private static func message(of code: hid_t) -> String {
        var buffer = [CChar](repeating: 0, count: 128)
        guard H5Eget_msg(code, nil, &buffer, buffer.count) > 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// One short line: HDF5's low-level I/O messages carry time, descriptor, buffer address and
    /// sizes; of those only the system's own error message helps a user.
    private static func cleanDetail(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: " ")
        if let truncated = truncationDetail(line) { return truncated }
        if let overflow = overflowDetail(line) { return overflow }
        // "ran off the end of the buffer: current p = 0x…, p_size = 32, p_end = 0x…": addresses
        // of this process's memory mean nothing to a user.
        if line.hasPrefix("ran off the end of the buffer") { return "ran off the end of the buffer" }
        guard let marker = line.range(of: "error message = '"),
              let end = line[marker.upperBound...].firstIndex(of: "'") else { return line }
        let what = line[..<(line.firstIndex(of: ":") ?? line.endIndex)]
        return "\(what): \(line[marker.upperBound..<end])"
    }

    /// HDF5's "truncated file: eof = 4000, sblock->base_addr = 0, stored_eof = 1284016" in a
    /// user's terms: "the file is truncated: it has 4,000 of its 1,284,016 bytes".
    static func truncationDetail(_ line: String) -> String? {
        guard line.hasPrefix("truncated file:"),
              let eof = number(after: "eof", in: line), let stored = number(after: "stored_eof", in: line) else { return nil }
        return "the file is truncated: it has \(formatCount(eof)) of its \(formatCount(stored)) bytes"
    }

    /// HDF5's "addr overflow, addr = 8629, size = 1532, eoa = 9906" (metadata or a chunk index
    /// that points past the end the file declares): "the file is damaged: it refers to bytes
    /// 8,629..<10,161, past its end at 9,906".
    static func overflowDetail(_ line: String) -> String? {
        guard line.hasPrefix("addr overflow"), let address = number(after: "addr", in: line),
              let size = number(after: "size", in: line), let end = number(after: "eoa", in: line) else { return nil }
        return "the file is damaged: it refers to bytes \(formatCount(address))..<\(formatCount(address + size)), past its end at \(formatCount(end))"
    }

    /// The decimal number after "KEY = " in `line`, where KEY follows a space (so "eof" is not
    /// found inside "stored_eof").
    private static func number(after key: String, in line: String) -> Int? {
        var searchStart = line.startIndex
        while let range = line.range(of: key + " = ", range: searchStart..<line.endIndex) {
            if range.lowerBound == line.startIndex || line[line.index(before: range.lowerBound)] == " " {
                return Int(line[range.upperBound...].prefix { $0.isNumber })
            }
            searchStart = range.upperBound
        }
        return nil
    }
}

import Foundation
