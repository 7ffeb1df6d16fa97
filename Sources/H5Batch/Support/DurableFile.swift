import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// File operations that are on disk when they return: written, renamed or removed, and the
/// folder entry synced too, so a power cut right after cannot undo them.
public enum DurableFile {
    /// Writes `data` to `path` through a temporary file and a rename: readers (and a crash) see
    /// the old content or the new, never a mix.
    public static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw H5BatchError(.io, "cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        try sync(temporary)
        guard rename(temporary, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw H5BatchError(.io, "cannot rename \(temporary) to \(path): \(message)")
        }
        try syncFolder(of: path)
    }

    /// Renames `source` to `destination` and syncs the folder.
    static func move(_ source: String, to destination: String) throws {
        guard Glibc.rename(source, destination) == 0 else {
            throw H5BatchError(.io, "cannot rename \(source) to \(destination): \(String(cString: strerror(errno)))")
        }
        try syncFolder(of: destination)
    }

    /// Removes `path` if it exists and syncs the folder.
    static func remove(_ path: String) throws {
        if unlink(path) != 0 {
            guard errno == ENOENT else {
                throw H5BatchError(.io, "cannot remove \(path): \(String(cString: strerror(errno)))")
            }
            return
        }
        try syncFolder(of: path)
    }

    /// Makes a file's content durable. `fsync`
    static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw H5BatchError(.io, "cannot open \(path) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw H5BatchError(.io, "cannot sync \(path) to disk: \(String(cString: strerror(errno)))") }
    }

    /// Makes the entries of the folder holding `path` durable.
    static func syncFolder(of path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try sync(folder.isEmpty ? "." : folder)
    }
}
