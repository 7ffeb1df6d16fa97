import CHDF5

/// A failed libhdf5 call, described from HDF5's own error stack.
///
/// HDF5's automatic error printing is off on every thread h5batch calls it from, so nothing is
/// printed behind the caller's back; the stack is read here instead (`H5Ewalk2`) and condensed
/// into one line plus a `reason` callers can map to an exit code.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// What the failure means to a caller, read from the minor error codes on the stack.
    public enum Reason: Sendable, Equatable {
        case notFound
        /// The file exists but this process may not read it.
        case unreadable
        case notHDF5
        case corrupt
        case filterFailed
        case io
        case alreadyExists
        case typeConversion
        case other
    }

    /// What h5batch was doing, e.g. "open dataset /features in data/sample.h5".
    public let operation: String
    /// The most specific message on HDF5's error stack (where the error was detected).
    public let detail: String
    public let reason: Reason

    public init(operation: String, detail: String, reason: Reason) {
        self.operation = operation
        self.detail = detail
        self.reason = reason
    }

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
        let detail = frames.first.map { cleanDetail($0.desc) } ?? ""
        return HDF5Error(operation: operation, detail: detail,
                         reason: classify(frames.map { ($0.major, $0.minor) }))
    }

    private static func classify(_ codes: [(major: hid_t, minor: hid_t)]) -> Reason {
        let minors = Set(codes.map(\.minor))
        let majors = Set(codes.map(\.major))
        if minors.contains(h5b_E_NOTHDF5()) { return .notHDF5 }
        if minors.contains(h5b_E_TRUNCATED()) || minors.contains(h5b_E_BADFILE())
            || minors.contains(h5b_E_CANTDECODE()) { return .corrupt }
        if majors.contains(h5b_E_PLINE()) || minors.contains(h5b_E_CANTFILTER()) { return .filterFailed }
        if minors.contains(h5b_E_NOTFOUND()) { return .notFound }
        if minors.contains(h5b_E_EXISTS()) || minors.contains(h5b_E_FILEEXISTS()) { return .alreadyExists }
        if minors.contains(h5b_E_CANTCONVERT()) || minors.contains(h5b_E_BADTYPE()) { return .typeConversion }
        if majors.contains(h5b_E_IO()) || minors.contains(h5b_E_READERROR())
            || minors.contains(h5b_E_WRITEERROR()) || minors.contains(h5b_E_SEEKERROR())
            || minors.contains(h5b_E_CLOSEERROR()) || minors.contains(h5b_E_NOSPACE()) { return .io }
        return .other
    }

    /// One short line: HDF5's low-level I/O messages carry time, descriptor, buffer address and
    /// sizes; of those only the system's own error message helps a user.
    private static func cleanDetail(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: " ")
        guard let marker = line.range(of: "error message = '"),
              let end = line[marker.upperBound...].firstIndex(of: "'") else { return line }
        let what = line[..<(line.firstIndex(of: ":") ?? line.endIndex)]
        return "\(what): \(line[marker.upperBound..<end])"
    }
}

import Foundation
