import CHDF5

/// Owns one HDF5 identifier and closes it exactly once.
///
/// Library-owned identifiers (the native types, `H5P_DEFAULT`) are never wrapped, so never closed.
final class Handle {
    let id: hid_t
    private let closer: (hid_t) -> herr_t
    private var isOpen = true

    init(_ id: hid_t, closer: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.closer = closer
    }

    /// Closes now and reports failure (a file's close flushes, so it can fail on a full disk).
    func close(_ operation: @autoclosure () -> String) throws {
        guard isOpen else { return }
        isOpen = false
        try check(closer(id), operation())
    }

    deinit {
        if isOpen { _ = closer(id) }
    }
}

/// Entry point of every public HDF5-layer operation: HDF5's error printer is per thread in the
/// thread-safe build, so it is switched off on whichever thread is about to call the library.
@inline(__always)
func enterHDF5() {
    h5b_silence_errors_on_this_thread()
    _ = CodecFilters.registered
}

/// A property list created for one call and closed after it.
func makePropertyList(_ cls: hid_t, _ what: String) throws -> Handle {
    Handle(try checkID(H5Pcreate(cls), "create \(what) property list"), closer: H5Pclose)
}

/// A simple dataspace of the given shape.
func makeDataspace(_ shape: [Int]) throws -> Handle {
    var dims = shape.map { hsize_t($0) }
    let id = dims.isEmpty ? H5Screate(H5S_SCALAR)
        : H5Screate_simple(Int32(dims.count), &dims, nil)
    return Handle(try checkID(id, "create a dataspace of shape \(shape)"), closer: H5Sclose)
}

/// Process-wide HDF5 settings.
public enum HDF5Library {
    /// Stops libhdf5 from closing leftover objects in an `atexit` handler. A file whose final
    /// flush failed (a full disk) stays registered, and libhdf5 1.10's exit-time cleanup of it
    /// crashes; a command-line tool that has already reported the error gains nothing from that
    /// cleanup. Must run before any other HDF5 call. `H5dont_atexit`
    public static func disableCleanupAtExit() {
        _ = H5dont_atexit()
    }
}
