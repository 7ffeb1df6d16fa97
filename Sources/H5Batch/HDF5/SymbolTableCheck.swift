import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Checks the addresses in a file's group index before libhdf5 follows them.
///
/// libhdf5 1.10 bounds every metadata read with `address + size <= end of file`, a sum that
/// wraps around for an address near 2⁶⁴. So a damaged address there (0xFF… is what a byte run
/// overwritten with 0xFF gives) passes the check, and the read copies from far outside its buffer:
/// opening `/x` or listing the datasets killed h5batch (and h5dump, h5ls) with SIGSEGV inside
/// `H5F__accum_read`. The fuzz tests found three such places, all in the index of an old-style
/// group: the symbol-table message's B-tree and local-heap addresses, the heap's data address,
/// and the B-tree's child addresses.
///
/// This walks that index from the root group, as libhdf5 would, reading only the few bytes of
/// each structure, and refuses an address outside the file before libhdf5 sees it. It knows the
/// layout libhdf5 1.10 and h5py write by default (superblock version 0 or 1, 8-byte addresses
/// and lengths, version 1 object headers, symbol-table groups); anything else (a newer superblock,
/// a structure with a wrong signature) is left to libhdf5, which reports those itself.
enum SymbolTableCheck {
    private static let undefined = UInt64.max
    /// Structures visited at most, so that a huge file costs bounded time.
    private static let maximumVisits = 100_000

    /// Throws `HDF5Error(.corrupt)` when the group index of the HDF5 file at `path` points
    /// outside the file.
    static func verify(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY)
        guard fd >= 0 else { return }  // HDF5File.open reports an unreadable file
        defer { _ = Glibc.close(fd) }
        var walk = Walk(fd: fd, path: path)
        try walk.run()
    }

    private struct Walk {
        let fd: Int32
        let path: String
        /// Where the superblock starts (a user block may come first) and the end of the file
        /// the superblock declares, relative to that base.
        var base: UInt64 = 0
        var end: UInt64 = 0
        var visited: Set<UInt64> = []

        init(fd: Int32, path: String) {
            self.fd = fd
            self.path = path
        }

        func read(_ count: Int, at offset: UInt64) -> [UInt8]? {
            guard offset < UInt64(Int64.max) else { return nil }
            var bytes = [UInt8](repeating: 0, count: count)
            let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return got == count ? bytes : nil
        }

        /// The bytes of a structure at `address` (relative to the base), after checking that
        /// it lies inside the file; nil when the file is shorter than the superblock claims
        /// (libhdf5 reports that as truncated).
        func structure(_ address: UInt64, _ count: Int, _ what: String) throws -> [UInt8]? {
            try require(address, UInt64(count), what)
            return read(count, at: base + address)
        }

        func require(_ address: UInt64, _ size: UInt64, _ what: String) throws {
            guard address == Self.undefinedAddress || address >= end || size > end - address else { return }
            let place = address == Self.undefinedAddress ? "an undefined address" : "bytes \(address)..<\(address &+ size)"
            throw HDF5Error(operation: "open \(path)",
                            detail: "the file is damaged: the \(what) is at \(place), outside the file's \(end) bytes",
                            reason: .corrupt)
        }

        static let undefinedAddress = SymbolTableCheck.undefined

        mutating func run() throws {
            // The superblock is at 0, 512, 1024, … (after a user block).
            var offset: UInt64 = 0
            var superblock: [UInt8]?
            while offset <= 1 << 20, let bytes = read(104, at: offset) {
                if bytes.prefix(8) == [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A] {
                    superblock = bytes
                    break
                }
                offset = offset == 0 ? 512 : offset * 2
            }
            guard let block = superblock, block[8] <= 1, block[13] == 8, block[14] == 8 else { return }
            let addresses = block[8] == 0 ? 24 : 28
            base = offset
            end = UInt64(littleEndian: block, at: addresses + 16)
            let rootEntry = addresses + 32
            guard block.count >= rootEntry + 40 else { return }
            try entry(Array(block[rootEntry..<rootEntry + 40]), "root group")
        }

        /// A symbol-table entry: its object header, and for a group the cached index addresses.
        mutating func entry(_ bytes: [UInt8], _ what: String) throws {
            let header = UInt64(littleEndian: bytes, at: 8)
            try require(header, 16, "object header of the \(what)")
            if UInt32(littleEndian: bytes, at: 16) == 1 {
                try require(UInt64(littleEndian: bytes, at: 24), 24, "group index (B-tree) of the \(what)")
                try require(UInt64(littleEndian: bytes, at: 32), 32, "local heap of the \(what)")
            }
            try group(header: header, what)
        }

        /// A version 1 object header: if it holds a symbol-table message, the group's index.
        mutating func group(header address: UInt64, _ what: String) throws {
            guard visited.insert(address).inserted, visited.count < maximumVisits,
                  let prefix = try structure(address, 16, "object header of the \(what)"), prefix[0] == 1 else { return }
            var messages = Int(UInt16(littleEndian: prefix, at: 2))
            var blocks = [(address + 16, UInt64(UInt32(littleEndian: prefix, at: 8)))]
            while let (start, length) = blocks.popLast().map({ ($0.0, $0.1) }), messages > 0, length <= 1 << 20 {
                guard let data = try structure(start, Int(length), "object header of the \(what)") else { return }
                var at = 0
                while at + 8 <= data.count, messages > 0 {
                    let type = UInt16(littleEndian: data, at: at), size = Int(UInt16(littleEndian: data, at: at + 2))
                    let body = at + 8
                    guard body + size <= data.count else { return }
                    if type == 0x10, size >= 16 {  // continuation
                        let next = UInt64(littleEndian: data, at: body), count = UInt64(littleEndian: data, at: body + 8)
                        try require(next, count, "object header of the \(what)")
                        blocks.append((next, count))
                    } else if type == 0x11, size >= 16 {  // symbol table
                        try symbolTable(tree: UInt64(littleEndian: data, at: body),
                                        heap: UInt64(littleEndian: data, at: body + 8), what)
                        return
                    }
                    messages -= 1
                    at = body + size
                }
            }
        }

        mutating func symbolTable(tree: UInt64, heap: UInt64, _ what: String) throws {
            guard let prefix = try structure(heap, 32, "local heap of the \(what)"),
                  prefix.starts(with: "HEAP".utf8) else { return }
            try require(UInt64(littleEndian: prefix, at: 24), UInt64(littleEndian: prefix, at: 8),
                        "data of the local heap of the \(what)")
            try node(tree, what, depth: 0)
        }

        /// A version 1 B-tree node of a group: inner nodes lead to nodes, leaves to symbol-table nodes.
        mutating func node(_ address: UInt64, _ what: String, depth: Int) throws {
            guard depth < 64, visited.insert(address).inserted, visited.count < maximumVisits,
                  let prefix = try structure(address, 24, "group index (B-tree) of the \(what)"),
                  prefix.starts(with: "TREE".utf8), prefix[4] == 0 else { return }
            let level = prefix[5], used = Int(UInt16(littleEndian: prefix, at: 6))
            guard let keysAndChildren = try structure(address + 24, 16 * used + 8, "group index (B-tree) of the \(what)") else { return }
            for index in 0..<used {
                let child = UInt64(littleEndian: keysAndChildren, at: 16 * index + 8)
                if level > 0 {
                    try node(child, what, depth: depth + 1)
                } else {
                    try symbols(child, what)
                }
            }
        }

        /// A symbol-table node: the entries of the group's members.
        mutating func symbols(_ address: UInt64, _ what: String) throws {
            guard visited.insert(address).inserted, visited.count < maximumVisits,
                  let prefix = try structure(address, 8, "group index (symbol table) of the \(what)"),
                  prefix.starts(with: "SNOD".utf8) else { return }
            let count = Int(UInt16(littleEndian: prefix, at: 6))
            guard let entries = try structure(address + 8, 40 * count, "group index (symbol table) of the \(what)") else { return }
            for index in 0..<count {
                try entry(Array(entries[40 * index..<40 * index + 40]), "member of a group")
            }
        }
    }
}

private extension FixedWidthInteger {
    /// The little-endian integer at `offset` in `bytes`.
    init(littleEndian bytes: [UInt8], at offset: Int) {
        var value = Self.zero
        for index in 0..<MemoryLayout<Self>.size {
            value |= Self(truncatingIfNeeded: bytes[offset + index]) << (8 * index)
        }
        self = value
    }
}
