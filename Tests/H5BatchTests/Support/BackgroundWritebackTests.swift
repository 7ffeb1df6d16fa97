import Foundation
import Testing
@testable import H5Batch

@Suite("background writeback")
struct BackgroundWritebackTests {
    /// Descriptors of this process open on `path` (other tests open files meanwhile, so only
    /// this one's are counted).
    private static func descriptors(on path: String) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return entries.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) == path }.count
    }

    @Test("a file written past the cached window reads back whole, and the thread and its descriptor go with their owner")
    func writesBackAndStops() throws {
        let folder = TemporaryFolder()
        let path = folder.file("out.bin")
        let handle = try #require(FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: path, contents: nil); return path }()))
        var writeback = BackgroundWriteback(path: path)
        #expect(writeback != nil)
        #expect(Self.descriptors(on: path) == 2)
        // 160 MiB in 4 MiB pieces, more than the 64 MiB the thread leaves cached, so it also
        // waits for and drops the older pieces while the writes go on.
        let piece = 4 << 20
        for index in 0..<40 {
            handle.write(Data(repeating: UInt8(index), count: piece))
            writeback?.request()
        }
        try handle.synchronize()
        try handle.close()
        writeback = nil
        #expect(Self.descriptors(on: path) == 0, "the writeback's descriptor was not closed")

        let data = try #require(FileManager.default.contents(atPath: path))
        #expect(data.count == 40 * piece)
        for index in 0..<40 {
            #expect(data[index * piece] == UInt8(index) && data[(index + 1) * piece - 1] == UInt8(index))
        }
    }

    @Test("a file that cannot be opened: no writeback, nothing else changes")
    func missingFile() {
        #expect(BackgroundWriteback(path: "/nonexistent/h5batch/out.h5") == nil)
    }
}
