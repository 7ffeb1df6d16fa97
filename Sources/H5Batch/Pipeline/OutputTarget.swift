import Foundation

/// Checks and commits the output file: never over an existing file without `--force`, never
/// over the input, and only complete files under the output's name.
enum OutputTarget {
    /// Validates that `path` can be written, creating its folder if needed; returns the path.
    static func check(_ path: String, input: String, force: Bool) throws -> String {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue {
                throw H5BatchError(.cannotCreate, "output \(path) is a directory")
            }
            guard force else {
                throw H5BatchError(.cannotCreate, "output \(path) already exists (pass --force to replace it)")
            }
        }
        let folder = (path as NSString).deletingLastPathComponent
        let parent = folder.isEmpty ? "." : folder
        if !manager.fileExists(atPath: parent) {
            do {
                try manager.createDirectory(atPath: parent, withIntermediateDirectories: true)
            } catch {
                throw H5BatchError(.cannotCreate, "cannot create the output folder \(parent)")
            }
        }
        guard manager.isWritableFile(atPath: parent) else {
            throw H5BatchError(.cannotCreate, "cannot write the output \(path): folder \(parent) is not writable")
        }
        return path
    }

    /// Moves a finished partial file into place durably: fsync the file, rename, fsync the folder.
    static func commit(partial: String, to path: String) throws {
        try fsyncPath(partial)
        guard rename(partial, path) == 0 else {
            throw H5BatchError(.io, "cannot rename \(partial) to \(path): \(String(cString: strerror(errno)))")
        }
        let folder = (path as NSString).deletingLastPathComponent
        try fsyncPath(folder.isEmpty ? "." : folder)
    }

    private static func fsyncPath(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw H5BatchError(.io, "cannot open \(path) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw H5BatchError(.io, "cannot sync \(path) to disk: \(String(cString: strerror(errno)))") }
    }

    /// Whether two paths name the same file (also through links and `..`).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var statA = stat(), statB = stat()
        if stat(a, &statA) == 0, stat(b, &statB) == 0 {
            return statA.st_dev == statB.st_dev && statA.st_ino == statB.st_ino
        }
        return URL(fileURLWithPath: a).standardizedFileURL.path == URL(fileURLWithPath: b).standardizedFileURL.path
    }
}
