import Foundation

/// Reads the end-of-allocation address straight from an HDF5 file's superblock on disk.
///
/// HDF5 updates it when it flushes the file, with the rest of the metadata, so comparing it with
/// the value a checkpoint recorded tells whether the file's metadata on disk is still the
/// checkpoint's or has been (partly) rewritten by a later flush.
enum Superblock {
    /// The end-of-allocation address of the version 0 or 1 superblock (the format h5batch
    /// writes) at the start of the file at `path`; nil for another format or an unreadable file.
    static func endOfAllocation(ofFileAt path: String) -> Int? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 56)
        guard pread(fd, &bytes, bytes.count, 0) == bytes.count,
              bytes[0..<8].elementsEqual([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]),
              bytes[13] == 8 else { return nil }  // 8-byte addresses
        // Version 1 adds four bytes (indexed-storage K and padding) before the addresses:
        // base, free-space info, then end of allocation.
        let addresses: Int
        switch bytes[8] {
        case 0: addresses = 24
        case 1: addresses = 28
        default: return nil
        }
        let field = bytes[(addresses + 16)..<(addresses + 24)]
        return Int(field.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
}
