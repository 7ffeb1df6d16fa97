import CKernels

/// HDF5's shuffle filter: byte `j` of element `i` is stored at `j·n + i`, grouping bytes of
/// equal significance so deflate finds the repetition in exponents and high bytes.
///
/// The loops are CKernels' `shuffle` and `unshuffle`: a copy for 1-byte elements, vector
/// loops for 2, 4 and 8 bytes, a loop per byte plane for other sizes.
enum ByteShuffle {
    /// Undoes the shuffle of `count` elements of `size` bytes.
    static func unshuffle(_ source: UnsafeRawPointer, into destination: UnsafeMutableRawPointer, count: Int, size: Int) {
        ck_unshuffle(source, destination, count, size)
    }

    /// Shuffles `count` elements of `size` bytes.
    static func shuffle(_ source: UnsafeRawPointer, into destination: UnsafeMutableRawPointer, count: Int, size: Int) {
        ck_shuffle(source, destination, count, size)
    }
}
