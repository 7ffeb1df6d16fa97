import Foundation

/// Checks and commits the output file: never over an existing file without `--force`, never
/// over the input, and only complete files under the output's name.
enum OutputTarget {
    /// Checks, without touching anything, that `path` may be written: not one of the files the
    /// run reads (`reads`: input, weights), not a folder, not an existing file unless `force`.
    static func check(_ path: String, reads: [String], force: Bool) throws {
        if let source = reads.first(where: { sameFile(path, $0) }) {
            throw H5BatchError(.usage, "the output file \(path) is \(source), which this run reads; write to a new file")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue {
                throw H5BatchError(.cannotCreate, "output \(path) is a directory")
            }
            guard force else {
                throw H5BatchError(.cannotCreate, "output \(path) already exists (pass --force to replace it)")
            }
        }
    }

    /// Whether the folder `path` goes in exists already.
    static func folderExists(for path: String) -> Bool {
        let folder = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: folder.isEmpty ? "." : folder, isDirectory: &isDirectory)
            && isDirectory.boolValue
    }

    /// Creates the output's folder if needed and checks it is writable.
    static func prepareFolder(for path: String) throws {
        let manager = FileManager.default
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
    }

    /// Moves a finished partial file into place durably: fsync the file, rename, fsync the folder.
    static func commit(partial: String, to path: String) throws {
        try DurableFile.sync(partial)
        try DurableFile.move(partial, to: path)
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
