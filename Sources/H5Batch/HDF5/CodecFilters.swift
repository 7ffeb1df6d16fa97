import CHDF5
import Foundation

/// h5batch's codecs registered with libhdf5 (`H5Zregister`), so that libhdf5 applies them
/// where h5batch's workers do not: creating a compressed dataset, the hyperslab path, `merge
/// --copy`, a dataset whose chunks split rows. No plugin needs to be installed.
///
/// Registration wins over an installed plugin, deterministically: libhdf5 looks for a plugin
/// only for a filter that is not registered, and `H5Zregister` replaces one that a plugin
/// registered before. Every codec here reads and writes the plugins' own format, so a file
/// is the same whichever of the two handled it.
enum CodecFilters {
    /// Registers the codecs once, before the first HDF5 call (`enterHDF5`).
    static var registered: Void { _ = registrationFailures }

    /// Why a codec is not registered, by filter identifier: empty unless `H5Zregister` failed.
    /// Such a codec stays unregistered: `H5Zfilter_avail` then reports its filter missing (unless
    /// a plugin provides it), and a run stops with the unavailable-filter error (exit 69) that
    /// gives this reason rather than blaming a missing plugin.
    static let registrationFailures: [Int: String] = {
        var failures: [Int: String] = [:]
        for (slot, codec) in registeredCodecs.enumerated() {
            if let failure = register(filterID: codec.filterID, name: names[slot], filter: trampolines[slot]) {
                failures[codec.filterID] = "h5batch could not register its \(codec.name) codec with libhdf5 (\(failure))"
            }
        }
        return failures
    }()

    /// Registers `filter` as filter `filterID` with libhdf5; what went wrong when it did not.
    static func register(filterID: Int, name: UnsafePointer<CChar>, filter: H5Z_func_t) -> String? {
        var filterClass = H5Z_class2_t(version: Int32(H5Z_CLASS_T_VERS), id: H5Z_filter_t(filterID),
                                       encoder_present: 1, decoder_present: 1, name: name,
                                       can_apply: nil, set_local: nil, filter: filter)
        guard H5Zregister(&filterClass) < 0 else { return nil }
        return HDF5Error.fromStack(operation: "register filter \(filterID) (H5Zregister)").description
    }

    /// The filters' names, as files record them. libhdf5 keeps the pointers (and frees its own
    /// table at exit), so they live as long as the process, held here where LeakSanitizer sees them;
    /// never written after they are made.
    nonisolated(unsafe) private static let names: [UnsafeMutablePointer<CChar>] = registeredCodecs.map { codec in
        guard let name = strdup("h5batch \(codec.name)") else { fatalError("strdup failed (out of memory)") }
        return name
    }

    /// Every codec but deflate: libhdf5 refuses to replace a filter below 256 ("unable to modify
    /// predefined filters"), so gzip chunks on its path go through its own deflate filter (zlib).
    private static let registeredCodecs = Codecs.all.filter { $0.filterID != Deflate.filterID }

    /// libhdf5 calls a filter without saying which it is: one C function per codec, by slot.
    private static let trampolines: [H5Z_func_t] = [
        { apply(0, $0, $1, $2, $3, $4, $5) }, { apply(1, $0, $1, $2, $3, $4, $5) },
        { apply(2, $0, $1, $2, $3, $4, $5) }, { apply(3, $0, $1, $2, $3, $4, $5) },
        { apply(4, $0, $1, $2, $3, $4, $5) }, { apply(5, $0, $1, $2, $3, $4, $5) },
        { apply(6, $0, $1, $2, $3, $4, $5) }, { apply(7, $0, $1, $2, $3, $4, $5) },
    ]

    /// The bytes every chunk of the dataset this thread reads or writes through libhdf5 holds
    /// once decoded (`decodingChunks(of:_:)`), as a pointer-sized integer; none when unknown.
    private static let expectedChunkBytes: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed (out of keys)")
        return key
    }()

    /// Runs `body`, which reads or writes a dataset through libhdf5 on this thread, with every
    /// chunk it decodes required to hold exactly `bytes` bytes (nil: whatever the stream says).
    /// libhdf5 copies a whole chunk's bytes out of what a filter returns, whatever its size: a
    /// damaged chunk whose stream is well-formed but shorter would be read past its end.
    static func decodingChunks<R>(of bytes: Int?, _ body: () throws -> R) rethrows -> R {
        let previous = pthread_getspecific(expectedChunkBytes)
        setExpectedChunkBytes(UnsafeRawPointer(bitPattern: bytes ?? 0))
        defer { setExpectedChunkBytes(previous) }
        return try body()
    }

    private static func setExpectedChunkBytes(_ value: UnsafeRawPointer?) {
        // Fails only for a key that does not exist, or with no memory for this thread's slots.
        precondition(pthread_setspecific(expectedChunkBytes, value) == 0, "pthread_setspecific failed (out of memory)")
    }

    /// The codec state libhdf5's calls share; they come from whichever thread calls libhdf5.
    nonisolated(unsafe) private static let codecs = CodecSet()
    private static let lock = NSLock()

    /// One filter call (`H5Z_func_t`): decodes (`H5Z_FLAG_REVERSE`) or encodes the `bytes` at
    /// `*buffer`, replacing it with a new `malloc`ed buffer; 0 on failure (libhdf5 then
    /// reports the filter failed, or stores the chunk unfiltered for an optional filter).
    private static func apply(_ slot: Int, _ flags: UInt32, _ parameterCount: Int, _ parameterValues: UnsafePointer<UInt32>?,
                              _ bytes: Int, _ bufferSize: UnsafeMutablePointer<Int>?,
                              _ buffer: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int {
        guard slot < registeredCodecs.count, let bufferSize, let buffer, let input = buffer.pointee else { return 0 }
        let type = registeredCodecs[slot]
        let parameters = parameterValues.map { Array(UnsafeBufferPointer(start: $0, count: parameterCount)) } ?? []
        let source = UnsafeRawBufferPointer(start: input, count: bytes)
        lock.lock()
        defer { lock.unlock() }
        guard let codec = codecs.codec(type.filterID) else { return 0 }
        let outputSize: Int
        let output: UnsafeMutableRawPointer
        if flags & UInt32(H5Z_FLAG_REVERSE) != 0 {
            let expected = Int(bitPattern: pthread_getspecific(expectedChunkBytes))
            guard let (made, size) = decode(source, with: codec, type, parameters: parameters,
                                            expectedBytes: expected > 0 ? expected : nil) else {
                let wanted = expected > 0 ? " to \(expected) bytes" : ""
                _ = h5b_push_filter_failure("its \(type.streamName) stream does not decode\(wanted)")
                return 0
            }
            output = made
            outputSize = size
        } else {
            let bound = codec.bound(bytes, parameters: parameters)
            guard let made = malloc(max(bound, 1)) else { return 0 }
            guard let size = codec.encode(source, into: UnsafeMutableRawBufferPointer(start: made, count: bound), parameters: parameters) else {
                free(made)
                return 0
            }
            output = made
            outputSize = size
            bufferSize.pointee = bound
        }
        free(input)
        buffer.pointee = output
        if flags & UInt32(H5Z_FLAG_REVERSE) != 0 { bufferSize.pointee = outputSize }
        return outputSize
    }

    /// Decodes a chunk into a new `malloc`ed buffer: exactly `expectedBytes` when known, else
    /// the size the stream's header or the parameters give. nil when it does not decode.
    /// HDF5 chunks hold less than 4 GiB.
    private static func decode(_ source: UnsafeRawBufferPointer, with codec: any ChunkCodec, _ type: any ChunkCodec.Type,
                               parameters: [UInt32], expectedBytes: Int?) -> (UnsafeMutableRawPointer, Int)? {
        guard let size = expectedBytes ?? type.decodedSize(of: source, parameters: parameters), size < 1 << 32,
              let made = malloc(max(size, 1)) else { return nil }
        guard codec.decode(source, into: UnsafeMutableRawBufferPointer(start: made, count: size), parameters: parameters) else {
            free(made)
            return nil
        }
        return (made, size)
    }
}
