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
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: folder(of: path), isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Creates the output's folder if needed and checks it is writable.
    static func prepareFolder(for path: String) throws {
        let manager = FileManager.default
        let parent = folder(of: path)
        if !manager.fileExists(atPath: parent) {
            do {
                try manager.createDirectory(atPath: parent, withIntermediateDirectories: true)
            } catch {
                throw cannotCreateFolder(parent)
            }
        }
        guard manager.isWritableFile(atPath: parent) else { throw unwritableFolder(parent, output: path) }
    }

    /// What `prepareFolder` would throw, found without creating anything: a folder that cannot
    /// be created, or one that is not writable.
    static func folderRefusal(for path: String) -> H5BatchError? {
        let manager = FileManager.default
        let parent = folder(of: path)
        if folderExists(for: path) {
            return manager.isWritableFile(atPath: parent) ? nil : unwritableFolder(parent, output: path)
        }
        // The nearest folder that exists must be a writable folder for the rest to be made.
        var ancestor = parent
        while !manager.fileExists(atPath: ancestor) {
            let up = (ancestor as NSString).deletingLastPathComponent
            if up.isEmpty { ancestor = "."; break }
            if up == ancestor { break }
            ancestor = up
        }
        var isDirectory: ObjCBool = false
        let usable = manager.fileExists(atPath: ancestor, isDirectory: &isDirectory) && isDirectory.boolValue
            && manager.isWritableFile(atPath: ancestor)
        return usable ? nil : cannotCreateFolder(parent)
    }

    /// What a run would find at `path`, seen without taking the lock or creating anything.
    static func state(of path: String, force: Bool) -> PipelinePlan.OutputState {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let lock = OutputLock.status(of: path)
        let files = RunFiles(output: path)
        return PipelinePlan.OutputState(path: path, exists: exists, isDirectory: exists && isDirectory.boolValue, force: force,
                                        folder: folder(of: path), folderExists: folderExists(for: path),
                                        lock: lock.state.rawValue, lockHolder: lock.holder,
                                        partialExists: FileManager.default.fileExists(atPath: files.partial),
                                        checkpointExists: FileManager.default.fileExists(atPath: files.checkpoint))
    }

    /// The folder `path` goes in: `.` for a bare file name.
    static func folder(of path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        return folder.isEmpty ? "." : folder
    }

    private static func cannotCreateFolder(_ folder: String) -> H5BatchError {
        H5BatchError(.cannotCreate, "cannot create the output folder \(folder)")
    }

    private static func unwritableFolder(_ folder: String, output path: String) -> H5BatchError {
        H5BatchError(.cannotCreate, "cannot write the output \(path): folder \(folder) is not writable")
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
