/// Every failure h5batch reports: one line of text and the sysexits code it maps to.
public struct H5BatchError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong; it decides `exitCode`.
    public enum Kind: Sendable, Equatable {
        /// A usage or pipeline-file error (EX_USAGE, 64).
        case usage
        /// Input data h5batch cannot use: not HDF5, damaged, unsupported type, wrong shape (EX_DATAERR, 65).
        case data
        /// A file or dataset named by the pipeline or the command line does not exist or cannot
        /// be read (EX_NOINPUT, 66).
        case notFound
        /// The output cannot be created (EX_CANTCREAT, 73).
        case cannotCreate
        /// Reading or writing failed while running (EX_IOERR, 74).
        case io
        /// Another run is writing the same output; try again later (EX_TEMPFAIL, 75).
        case busy
        /// The data is fine but needs something this machine lacks, such as an HDF5 filter whose
        /// plugin is not installed (EX_UNAVAILABLE, 69).
        case unavailable
        /// Stopped on request, by `signal` (SIGINT, SIGTERM): 128 + the signal's number, as
        /// shells report a process the signal ended.
        case stopped(signal: Int32)
    }

    /// What went wrong.
    public let kind: Kind
    /// One line for people, without the `error: ` prefix the CLI adds.
    public let message: String

    /// An error of `kind` with `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }

    /// The process exit status for this error (sysexits.h).
    public var exitCode: Int32 {
        switch kind {
        case .usage: return 64
        case .data: return 65
        case .notFound: return 66
        case .cannotCreate: return 73
        case .io: return 74
        case .busy: return 75
        case .unavailable: return 69
        case .stopped(let signal): return 128 + signal
        }
    }

    /// The kind that ends a process with exit status `code` (`exitCode` read backwards), or nil
    /// when no kind does.
    public static func kind(forExitCode code: Int32) -> Kind? {
        if code > 128 { return .stopped(signal: code - 128) }
        let kinds: [Kind] = [.usage, .data, .notFound, .cannotCreate, .io, .busy, .unavailable]
        return kinds.first { H5BatchError($0, "").exitCode == code }
    }

    /// Classifies an HDF5 failure; `otherwise` is the kind used when HDF5's stack does not say.
    public init(_ error: HDF5Error, otherwise: Kind) {
        switch error.reason {
        case .notFound, .unreadable: kind = .notFound
        case .notHDF5, .corrupt, .filterFailed, .typeConversion: kind = .data
        case .io: kind = .io
        case .alreadyExists: kind = .cannotCreate
        case .other: kind = otherwise
        }
        message = error.description
    }
}

/// Runs `body`, turning any `HDF5Error` into an `H5BatchError` of the kind its reason implies.
func translatingHDF5Errors<T>(otherwise: H5BatchError.Kind, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as HDF5Error {
        throw H5BatchError(error, otherwise: otherwise)
    }
}
