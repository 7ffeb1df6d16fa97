import CHDF5

/// The numeric type a dataset stores, as HDF5 describes it.
public struct ElementType: Sendable, Equatable, CustomStringConvertible {
    /// Integer, float, or something h5batch cannot read as numbers.
    public enum Kind: Sendable, Equatable {
        /// The numeric classes h5batch reads (any width, either byte order).
        case signedInteger, unsignedInteger, float
        /// Strings, compounds, enums, references…: nothing h5batch converts to numbers.
        case unsupported(String)
    }

    /// What the values are.
    public let kind: Kind
    /// Bytes per element.
    public let size: Int
    /// Stored big-endian (`H5T_ORDER_BE`).
    public let isBigEndian: Bool
    /// Every bit used, no offset, and for floats the IEEE 754 field layout of that size: the
    /// encodings h5batch decodes itself. Others (bit fields, VAX or custom floats) are left to
    /// HDF5's conversion.
    public let hasStandardLayout: Bool

    /// A type from its parts; `hasStandardLayout` defaults to true, as for the types h5batch
    /// writes.
    public init(kind: Kind, size: Int, isBigEndian: Bool = false, hasStandardLayout: Bool = true) {
        self.kind = kind
        self.size = size
        self.isBigEndian = isBigEndian
        self.hasStandardLayout = hasStandardLayout
    }

    /// True for integers and floats: the types h5batch can read as float32.
    public var isNumeric: Bool {
        if case .unsupported = kind { return false }
        return true
    }

    /// numpy-like names: `float32`, `int16`, `uint8`, with `-be` for big-endian storage.
    public var description: String {
        let base: String
        switch kind {
        case .signedInteger: base = "int\(size * 8)"
        case .unsignedInteger: base = "uint\(size * 8)"
        case .float: base = "float\(size * 8)"
        case .unsupported(let name): return name
        }
        return isBigEndian && size > 1 ? base + "-be" : base
    }

    /// Whether a float type has the IEEE 754 binary16/32/64 fields for its size.
    private static func isIEEE(_ type: hid_t, size: Int) -> Bool {
        var sign = 0, exponentPosition = 0, exponentSize = 0, mantissaPosition = 0, mantissaSize = 0
        guard H5Tget_fields(type, &sign, &exponentPosition, &exponentSize, &mantissaPosition, &mantissaSize) >= 0 else {
            return false
        }
        let fields = [sign, exponentPosition, exponentSize, mantissaPosition, mantissaSize]
        let expected: [Int: ([Int], Int)] = [2: ([15, 10, 5, 0, 10], 15), 4: ([31, 23, 8, 0, 23], 127),
                                              8: ([63, 52, 11, 0, 52], 1023)]
        guard let (layout, bias) = expected[size] else { return false }
        return fields == layout && H5Tget_ebias(type) == bias && H5Tget_norm(type) == H5T_NORM_IMPLIED
    }

    /// Reads the description of an HDF5 datatype identifier.
    static func describing(_ type: hid_t) throws -> ElementType {
        let cls = H5Tget_class(type)
        let size = H5Tget_size(type)
        guard cls.rawValue >= 0, size > 0 else { throw HDF5Error.fromStack(operation: "read a datatype") }
        let bigEndian = H5Tget_order(type) == H5T_ORDER_BE
        let fullWidth = H5Tget_precision(type) == size * 8 && H5Tget_offset(type) == 0
        switch cls {
        case H5T_INTEGER, H5T_FLOAT:
            let number = cls == H5T_FLOAT
                ? ElementType(kind: .float, size: size, isBigEndian: bigEndian, hasStandardLayout: fullWidth && isIEEE(type, size: size))
                : ElementType(kind: H5Tget_sign(type) == H5T_SGN_2 ? .signedInteger : .unsignedInteger, size: size,
                              isBigEndian: bigEndian, hasStandardLayout: fullWidth)
            // Reads convert to float32 through libhdf5; a number it has no conversion for (a
            // damaged exponent size, say) would fail every read as if the disk had.
            var conversion: UnsafeMutablePointer<H5T_cdata_t>? = nil
            guard H5Tfind(type, h5b_T_NATIVE_FLOAT(), &conversion) != nil else {
                _ = H5Eclear2(h5b_E_DEFAULT())
                return ElementType(kind: .unsupported("unconvertible \(number)"), size: size)
            }
            return number
        case H5T_STRING: return ElementType(kind: .unsupported("string"), size: size)
        case H5T_COMPOUND: return ElementType(kind: .unsupported("compound"), size: size)
        case H5T_ENUM: return ElementType(kind: .unsupported("enum"), size: size)
        case H5T_ARRAY: return ElementType(kind: .unsupported("array"), size: size)
        case H5T_VLEN: return ElementType(kind: .unsupported("variable-length"), size: size)
        case H5T_REFERENCE: return ElementType(kind: .unsupported("reference"), size: size)
        case H5T_OPAQUE: return ElementType(kind: .unsupported("opaque"), size: size)
        case H5T_BITFIELD: return ElementType(kind: .unsupported("bitfield"), size: size)
        case H5T_TIME: return ElementType(kind: .unsupported("time"), size: size)
        default: return ElementType(kind: .unsupported("unknown type"), size: size)
        }
    }
}

/// The stored type of a dataset h5batch creates.
public enum StorageType: String, Sendable, CaseIterable {
    /// IEEE floats of 2, 4 and 8 bytes, little-endian.
    case float16, float32, float64
    /// Integers of 1 to 8 bytes, little-endian (`h5batch generate` only; outputs are floats).
    case int8, int16, int32, int64, uint8, uint16, uint32, uint64

    /// Bytes per element: 1, 2, 4 or 8.
    public var size: Int {
        switch self {
        case .int8, .uint8: return 1
        case .float16, .int16, .uint16: return 2
        case .float32, .int32, .uint32: return 4
        case .float64, .int64, .uint64: return 8
        }
    }

    /// The in-memory (native byte order) float16 type, for writing halves h5batch converted
    /// itself: libhdf5 1.10's float → half conversion drops the carry when rounding up to the
    /// next power of two (0.24997 becomes 0.125; h5py issue #819), so h5batch never asks it to.
    static func makeNativeHalfType() throws -> Handle {
        let type = Handle(try checkID(H5Tcopy(h5b_T_NATIVE_FLOAT()), "copy a datatype"), closer: H5Tclose)
        try check(H5Tset_fields(type.id, 15, 10, 5, 0, 10), "define float16")
        try check(H5Tset_precision(type.id, 16), "define float16")
        try check(H5Tset_ebias(type.id, 15), "define float16")
        try check(H5Tset_size(type.id, 2), "define float16")
        return type
    }

    /// A new file datatype (little-endian), closed by the returned handle.
    func makeFileType() throws -> Handle {
        let base: hid_t
        switch self {
        case .float16, .float32: base = h5b_T_IEEE_F32LE()
        case .float64: base = h5b_T_IEEE_F64LE()
        case .int8: base = h5b_T_STD_I8LE()
        case .int16: base = h5b_T_STD_I16LE()
        case .int32: base = h5b_T_STD_I32LE()
        case .int64: base = h5b_T_STD_I64LE()
        case .uint8: base = h5b_T_STD_U8LE()
        case .uint16: base = h5b_T_STD_U16LE()
        case .uint32: base = h5b_T_STD_U32LE()
        case .uint64: base = h5b_T_STD_U64LE()
        }
        let type = Handle(try checkID(H5Tcopy(base), "copy a datatype"), closer: H5Tclose)
        if self == .float16 {
            // IEEE 754 binary16, the layout numpy and h5py use for float16.
            try check(H5Tset_fields(type.id, 15, 10, 5, 0, 10), "define float16")
            try check(H5Tset_precision(type.id, 16), "define float16")
            try check(H5Tset_ebias(type.id, 15), "define float16")
            try check(H5Tset_size(type.id, 2), "define float16")
        }
        return type
    }
}
