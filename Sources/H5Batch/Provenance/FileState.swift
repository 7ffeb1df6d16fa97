import Foundation

/// What `stat` says of a file: enough to tell, without reading it, that it has not changed.
///
/// Writing a file through any API moves its change time (`ctime`), which, unlike the
/// modification time, no program can set back; replacing it (a copy renamed over it) gives it
/// another inode. Equal states therefore mean the same content, short of someone resetting the
/// system clock or editing the disk underneath the file system.
public struct FileState: Codable, Equatable, Sendable {
    /// The file's size in bytes.
    public var bytes: Int
    /// Modification time, nanoseconds since 1970.
    public var modifiedNanoseconds: Int
    /// Status change time, nanoseconds since 1970.
    public var changedNanoseconds: Int
    /// The file's inode number (`st_ino`).
    public var inode: UInt64
    /// The device the file is on (`st_dev`).
    public var device: UInt64

    /// The state of the file at `path` now; throws `H5BatchError(.notFound)`.
    public init(path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw H5BatchError(.notFound, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        bytes = Int(info.st_size)
        modifiedNanoseconds = Int(info.st_mtim.tv_sec) * 1_000_000_000 + Int(info.st_mtim.tv_nsec)
        changedNanoseconds = Int(info.st_ctim.tv_sec) * 1_000_000_000 + Int(info.st_ctim.tv_nsec)
        inode = UInt64(info.st_ino)
        device = UInt64(info.st_dev)
    }

    /// What happened to the file since `earlier`, as a predicate ("was modified"), or nil.
    func difference(from earlier: FileState) -> String? {
        if inode != earlier.inode || device != earlier.device { return "was replaced by another file" }
        if bytes != earlier.bytes { return "changed size (\(formatCount(earlier.bytes)) → \(formatCount(bytes)) bytes)" }
        if modifiedNanoseconds != earlier.modifiedNanoseconds { return "was modified" }
        if changedNanoseconds != earlier.changedNanoseconds { return "changed status (written to, or its permissions or links changed)" }
        return nil
    }
}
