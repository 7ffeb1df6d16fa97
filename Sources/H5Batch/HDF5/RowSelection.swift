/// A rectangular block of a dataspace: `start` and `count` per dimension.
public struct Block: Equatable, Sendable {
    /// The first coordinate in each dimension.
    public var start: [Int]
    /// The extent in each dimension.
    public var count: [Int]
}

/// Maps a range of flat rows onto the blocks of a dataset of any rank.
///
/// h5batch sees a dataset of shape `[d0, …, dk, w]` as `d0·…·dk` rows of `w` values (the row width)
/// in row-major order. A row range generally cuts through the leading dimensions, so it becomes up
/// to `2·k+1` blocks; selected together (in order) they read as one contiguous run of rows.
public enum RowSelection {
    /// Blocks covering `rows` of a dataset with leading dimensions `leading` and `rowWidth` values
    /// per row. Rank 1 (no leading dimensions) has exactly one row.
    public static func blocks(rows: Range<Int>, leading: [Int], rowWidth: Int) -> [Block] {
        guard !rows.isEmpty else { return [] }
        guard !leading.isEmpty else { return [Block(start: [0], count: [rowWidth])] }
        return leadingBlocks(rows.lowerBound, rows.upperBound, leading[...]).map {
            Block(start: $0.start + [0], count: $0.count + [rowWidth])
        }
    }

    private static func leadingBlocks(_ start: Int, _ end: Int, _ dims: ArraySlice<Int>) -> [Block] {
        if dims.count == 1 { return [Block(start: [start], count: [end - start])] }
        let inner = dims.dropFirst()
        let innerRows = inner.reduce(1, *)
        var first = start / innerRows, startOffset = start % innerRows
        let last = end / innerRows, endOffset = end % innerRows
        func prefixed(_ index: Int, _ blocks: [Block]) -> [Block] {
            blocks.map { Block(start: [index] + $0.start, count: [1] + $0.count) }
        }
        if first == last {
            return prefixed(first, leadingBlocks(startOffset, endOffset, inner))
        }
        var result: [Block] = []
        if startOffset > 0 {
            result += prefixed(first, leadingBlocks(startOffset, innerRows, inner))
            first += 1
            startOffset = 0
        }
        if last > first {
            result.append(Block(start: [first] + inner.map { _ in 0 }, count: [last - first] + Array(inner)))
        }
        if endOffset > 0 {
            result += prefixed(last, leadingBlocks(0, endOffset, inner))
        }
        return result
    }
}
