import Testing
@testable import H5Batch

@Suite("H5BatchError: kinds and exit codes")
struct H5BatchErrorTests {
    @Test("an exit code reads back to the kind that gives it, as check's refusal needs")
    func exitCodesReadBack() {
        let kinds: [H5BatchError.Kind] = [.usage, .data, .notFound, .cannotCreate, .io, .busy, .unavailable, .stopped(signal: 15)]
        #expect(kinds.map { H5BatchError($0, "").exitCode } == [64, 65, 66, 73, 74, 75, 69, 143])
        for kind in kinds {
            #expect(H5BatchError.kind(forExitCode: H5BatchError(kind, "").exitCode) == kind)
        }
        #expect(H5BatchError.kind(forExitCode: 0) == nil && H5BatchError.kind(forExitCode: 1) == nil)
    }
}
