import CHDF5

/// An open dataset: its shape, stored type, storage layout, and row-range I/O as Float32.
///
/// Rows are the product of the leading dimensions; the last dimension holds one row's values.
/// Rows are read as Float32, HDF5 converting from whatever is stored (any integer width,
/// float16/32/64, either byte order); they are written from Float32, or from float16 values
/// h5batch converted itself (`write(rows:halves:)`).
public final class Dataset {
    /// One filter in the dataset's pipeline (`H5Pget_filter2`).
    public struct Filter: Sendable, Equatable, CustomStringConvertible {
        /// HDF5's filter identifier (`H5Z_filter_t`: 1 deflate, 2 shuffle, …).
        public let id: Int
        /// The name the file records for the filter; may be empty.
        public let name: String
        /// The filter's client data values (`cd_values`; for deflate, the level), at most 8.
        public let parameters: [UInt32]
        /// Whether libhdf5 can apply the filter in this process: built in, registered, or its
        /// plugin found (`H5Zfilter_avail`, which loads a plugin when it can).
        public var isAvailable = true
        /// `gzip(LEVEL)`, `shuffle`, `fletcher32`, …; other filters by recorded name and id.
        public var description: String {
            switch id {
            case Int(H5Z_FILTER_SHUFFLE): return "shuffle"
            case Int(H5Z_FILTER_FLETCHER32): return "fletcher32"
            case Int(H5Z_FILTER_SZIP): return "szip"
            case Int(H5Z_FILTER_NBIT): return "nbit"
            case Int(H5Z_FILTER_SCALEOFFSET): return "scaleoffset"
            default:
                // gzip(N), zstd(N), blosc(lz4, level 5, shuffle), …: the codec's own name for it.
                if let codec = Codecs.codec(filterID: id) { return codec.describe(parameters) }
                return name.isEmpty ? "filter \(id)" : "\(name) (\(id))"
            }
        }
    }

    /// How the dataset's values are stored (`H5Pget_layout`); `.chunked` holds the chunk dimensions.
    public enum Layout: Sendable, Equatable {
        /// Stored in one block, in the object header, or mapped from other datasets (`H5Pset_virtual`).
        case contiguous, compact, virtual
        /// Stored in chunks of these dimensions.
        case chunked([Int])
    }

    /// The file the dataset was opened from.
    public let file: HDF5File
    /// The dataset's path in the file, e.g. `/features`.
    public let name: String
    let handle: Handle
    /// The shape this object reads and writes: `storedShape`, or a window of it along the first
    /// dimension (`window(firstIndices:)`).
    public let shape: [Int]
    /// The dataset's whole shape in the file.
    public let storedShape: [Int]
    /// Where this object's index 0 along the first dimension is in the stored dataset.
    public let firstIndexOffset: Int
    /// The stored element type.
    public let elementType: ElementType
    /// The storage layout.
    public let layout: Layout
    /// The filter pipeline, in the order HDF5 applies it when writing.
    public let filters: [Filter]

    init(file: HDF5File, name: String, handle: Handle) throws {
        self.file = file
        self.name = name
        self.handle = handle
        let what = "read the description of \(name) in \(file.path)"
        let space = Handle(try checkID(H5Dget_space(handle.id), what), closer: H5Sclose)
        let rank = Int(H5Sget_simple_extent_ndims(space.id))
        guard rank >= 0 else { throw HDF5Error.fromStack(operation: what) }
        var dims = [hsize_t](repeating: 0, count: rank)
        var maxDims = [hsize_t](repeating: 0, count: rank)
        try check(H5Sget_simple_extent_dims(space.id, &dims, &maxDims), what)
        // libhdf5 does not check this when it opens a dataset: a damaged dimension (found by
        // flipping a byte of a dataset's header) reads as 10¹² rows of fill values, a run that
        // never ends instead of an error.
        let text = { (values: [hsize_t]) in
            "[" + values.map { $0 == hsize_t.max ? "unlimited" : String($0) }.joined(separator: ", ") + "]"
        }
        if zip(dims, maxDims).contains(where: { $0 > $1 }) {
            throw HDF5Error(operation: what, detail: "the file is damaged: the dataset's shape \(text(dims)) exceeds its maximum shape \(text(maxDims))",
                            reason: .corrupt)
        }
        // Element counts and byte sizes must fit in an Int (a sparse dataset may claim more).
        let elements = dims.reduce((value: UInt64(1), overflow: false)) { total, dim in
            let product = total.value.multipliedReportingOverflow(by: UInt64(dim))
            return (product.partialValue, total.overflow || product.overflow)
        }
        if elements.overflow || elements.value > UInt64(Int.max) / 16 {
            throw HDF5Error(operation: what, detail: "its shape \(text(dims)) holds more elements than h5batch can address",
                            reason: .corrupt)
        }
        shape = dims.map { Int($0) }
        storedShape = shape
        firstIndexOffset = 0
        let type = Handle(try checkID(H5Dget_type(handle.id), what), closer: H5Tclose)
        elementType = try ElementType.describing(type.id)
        // Numbers wider than 16 bytes do not occur in practice, but a damaged size field makes
        // them (a float32 read as 251 bytes): libhdf5 then copies each chunk out of a buffer that
        // size would need, past its end, and the process crashed.
        if elementType.isNumeric && elementType.size > 16 {
            throw HDF5Error(operation: what, detail: "it stores \(elementType.size)-byte numbers, wider than the 16 bytes h5batch reads "
                            + "(is the file damaged?)", reason: .typeConversion)
        }
        let creation = Handle(try checkID(H5Dget_create_plist(handle.id), what), closer: H5Pclose)
        switch H5Pget_layout(creation.id) {
        case H5D_CHUNKED:
            var chunk = [hsize_t](repeating: 0, count: max(rank, 1))
            guard H5Pget_chunk(creation.id, Int32(rank), &chunk) >= 0 else { throw HDF5Error.fromStack(operation: what) }
            // libhdf5 refuses to create chunks larger than a fixed dimension, but does not check
            // when it opens one: a damaged chunk dimension crashed h5batch inside H5Dread.
            let chunks = Array(chunk.prefix(rank))
            if zip(chunks, maxDims).contains(where: { $0 == 0 || ($1 != hsize_t.max && $0 > max($1, 1)) }) {
                throw HDF5Error(operation: what, detail: "the file is damaged: chunks of \(text(chunks)) do not fit the dataset's maximum shape \(text(maxDims))",
                                reason: .corrupt)
            }
            // HDF5 chunks hold less than 4 GiB.
            let chunkBytes = chunks.reduce(UInt64(elementType.size)) { total, dim in
                let product = total.multipliedReportingOverflow(by: UInt64(dim))
                return product.overflow ? UInt64.max : product.partialValue
            }
            if chunkBytes >= 1 << 32 {
                throw HDF5Error(operation: what, detail: "the file is damaged: chunks of \(text(chunks)) hold 4 GiB or more, more than HDF5 allows",
                                reason: .corrupt)
            }
            layout = .chunked(chunks.map { Int($0) })
        case H5D_COMPACT: layout = .compact
        case H5D_VIRTUAL: layout = .virtual
        case H5D_CONTIGUOUS: layout = .contiguous
        default: throw HDF5Error.fromStack(operation: what)
        }
        let count = H5Pget_nfilters(creation.id)
        guard count >= 0 else { throw HDF5Error.fromStack(operation: what) }
        var filters: [Filter] = []
        for index in 0..<UInt32(count) {
            var flags: UInt32 = 0
            var parameterCount = 8
            var parameters = [UInt32](repeating: 0, count: 8)
            var nameBuffer = [CChar](repeating: 0, count: 64)
            var config: UInt32 = 0
            let id = H5Pget_filter2(creation.id, index, &flags, &parameterCount, &parameters,
                                    nameBuffer.count, &nameBuffer, &config)
            guard id >= 0 else { throw HDF5Error.fromStack(operation: what) }
            let name = String(decoding: nameBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            var filter = Filter(id: Int(id), name: name, parameters: Array(parameters.prefix(min(parameterCount, 8))))
            // Negative is an error finding out, positive available: only 0 says it is missing.
            if H5Zfilter_avail(id) == 0 { filter.isAvailable = false; _ = H5Eclear2(h5b_E_DEFAULT()) }
            filters.append(filter)
        }
        self.filters = filters
    }

    private init(windowOf base: Dataset, firstIndices range: Range<Int>) {
        file = base.file
        name = base.name
        handle = base.handle
        storedShape = base.storedShape
        firstIndexOffset = base.firstIndexOffset + range.lowerBound
        shape = [range.count] + base.shape.dropFirst()
        elementType = base.elementType
        layout = base.layout
        filters = base.filters
    }

    /// The same dataset seen through a window of its first dimension: `range` (within `shape[0]`)
    /// becomes indices 0..<range.count, and every read and write goes to the stored rows behind
    /// them. For a shard of a run. Rank 2 or more.
    public func window(firstIndices range: Range<Int>) -> Dataset {
        precondition(rank >= 2 && range.lowerBound >= 0 && range.upperBound <= shape[0], "window \(range) outside \(shape)")
        return Dataset(windowOf: self, firstIndices: range)
    }

    /// The stored row that this object's row 0 is (rows counted as in `rowCount`).
    public var rowOffset: Int { firstIndexOffset * storedShape.dropFirst().dropLast().reduce(1, *) }

    /// `coordinates` of this object in the stored dataset's coordinates.
    func storedCoordinates(_ coordinates: [Int]) -> [Int] {
        guard firstIndexOffset != 0, !coordinates.isEmpty else { return coordinates }
        return [coordinates[0] + firstIndexOffset] + coordinates.dropFirst()
    }

    /// Describes `rows` of this object as the stored dataset's rows, for messages.
    func storedRowsText(_ rows: Range<Int>) -> String {
        "rows \(rows.lowerBound + rowOffset)..<\(rows.upperBound + rowOffset)"
    }

    // MARK: - Geometry

    /// The number of dimensions (0 for a scalar dataset).
    public var rank: Int { shape.count }
    /// Values per row (the row width): the last dimension.
    public var rowWidth: Int { shape.last ?? 1 }
    /// The leading dimensions, whose product is the row count.
    public var leadingShape: [Int] { Array(shape.dropLast()) }
    /// Rows: the product of the leading dimensions (a rank-1 dataset is one row).
    public var rowCount: Int { leadingShape.reduce(1, *) }
    /// The chunk dimensions, or nil when the dataset is not chunked.
    public var chunkShape: [Int]? {
        if case .chunked(let chunks) = layout { return chunks }
        return nil
    }
    /// The bytes a chunk holds before its filters, when libhdf5 decodes it with one of h5batch's
    /// registered codecs and at most the shuffle (which keeps the size) besides: what that codec
    /// must decode each chunk to (`CodecFilters.decodingChunks`). nil otherwise.
    var codecChunkBytes: Int? {
        guard let chunks = chunkShape else { return nil }
        let codecs = filters.filter { $0.id != Deflate.filterID && Codecs.codec(filterID: $0.id) != nil }
        guard codecs.count == 1, filters.count - codecs.count == filters.filter({ $0.id == Int(H5Z_FILTER_SHUFFLE) }).count else { return nil }
        return chunks.reduce(elementType.size, *)
    }

    /// `contiguous`, `compact`, `virtual` or `chunks AxB`, as `inspect` and `check` print it.
    public var storageDescription: String {
        switch layout {
        case .contiguous: return "contiguous"
        case .compact: return "compact"
        case .virtual: return "virtual"
        case .chunked(let chunks): return "chunks " + chunks.map(String.init).joined(separator: "x")
        }
    }

    // MARK: - Row I/O

    /// Reads `rows` into `buffer` (which holds at least `rows.count * rowWidth` values),
    /// converting the stored type to Float32. `H5Dread`
    public func read(rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        enterHDF5()
        let what = "read \(storedRowsText(rows)) of \(name) in \(file.path)"
        precondition(buffer.count >= rows.count * rowWidth, "buffer too small for \(what)")
        guard !rows.isEmpty else { return }
        let (memory, selection) = try selectRows(rows, what)
        let status = CodecFilters.decodingChunks(of: codecChunkBytes) {
            H5Dread(handle.id, h5b_T_NATIVE_FLOAT(), memory.id, selection.id, h5b_P_DEFAULT(), buffer.baseAddress)
        }
        if status < 0 {
            // Name the damaged chunk, not just the batch (see Dataset+Damage.swift).
            throw locatingDamage(HDF5Error.fromStack(operation: what),
                                 in: RowSelection.blocks(rows: rows, leading: leadingShape, rowWidth: rowWidth)
                                     .map { Block(start: storedCoordinates($0.start), count: $0.count) })
        }
    }

    /// Writes `rows` from `buffer`, converting Float32 to the stored type. `H5Dwrite`
    public func write(rows: Range<Int>, from buffer: UnsafeBufferPointer<Float>) throws {
        enterHDF5()
        let what = "write \(storedRowsText(rows)) of \(name) in \(file.path)"
        precondition(buffer.count >= rows.count * rowWidth, "buffer too small for \(what)")
        guard !rows.isEmpty else { return }
        let (memory, selection) = try selectRows(rows, what)
        try check(CodecFilters.decodingChunks(of: codecChunkBytes) {
            H5Dwrite(handle.id, h5b_T_NATIVE_FLOAT(), memory.id, selection.id, h5b_P_DEFAULT(), buffer.baseAddress)
        }, what)
    }

    /// Writes `rows` from native float16 values (converted by the caller: see
    /// `StorageType.makeNativeHalfType`). `H5Dwrite`
    func write(rows: Range<Int>, halves buffer: UnsafeRawBufferPointer) throws {
        enterHDF5()
        let what = "write \(storedRowsText(rows)) of \(name) in \(file.path)"
        precondition(buffer.count >= rows.count * rowWidth * 2, "buffer too small for \(what)")
        guard !rows.isEmpty else { return }
        let half = try StorageType.makeNativeHalfType()
        let (memory, selection) = try selectRows(rows, what)
        try check(CodecFilters.decodingChunks(of: codecChunkBytes) {
            H5Dwrite(handle.id, half.id, memory.id, selection.id, h5b_P_DEFAULT(), buffer.baseAddress)
        }, what)
    }

    /// The whole dataset as Float32 (for weights and small data).
    public func readAll() throws -> [Float] {
        enterHDF5()
        let what = "read \(name) in \(file.path)"
        let count = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        guard count > 0 else { return values }
        if shape != storedShape {
            try values.withUnsafeMutableBufferPointer { try read(rows: 0..<rowCount, into: $0) }
            return values
        }
        let status = values.withUnsafeMutableBufferPointer { buffer in
            CodecFilters.decodingChunks(of: codecChunkBytes) {
                H5Dread(handle.id, h5b_T_NATIVE_FLOAT(), h5b_S_ALL(), h5b_S_ALL(), h5b_P_DEFAULT(), buffer.baseAddress)
            }
        }
        if status < 0 {
            throw locatingDamage(HDF5Error.fromStack(operation: what), in: [Block(start: shape.map { _ in 0 }, count: shape)])
        }
        return values
    }

    private func selectRows(_ rows: Range<Int>, _ what: String) throws -> (memory: Handle, file: Handle) {
        let blocks = RowSelection.blocks(rows: rows, leading: leadingShape, rowWidth: rowWidth)
        // A memory space of the block's own shape lets HDF5 see both selections as the same
        // shape and copy whole runs; a flat one makes it map chunks element by element (~20×
        // slower). Several blocks (a range cutting through leading dimensions) must stay flat.
        let memory = try makeDataspace(blocks.count == 1 ? blocks[0].count : [rows.count * rowWidth])
        let selection = Handle(try checkID(H5Dget_space(handle.id), what), closer: H5Sclose)
        for (index, block) in blocks.enumerated() {
            var start = storedCoordinates(block.start).map { hsize_t($0) }
            var count = block.count.map { hsize_t($0) }
            let op = index == 0 ? H5S_SELECT_SET : H5S_SELECT_OR
            try check(H5Sselect_hyperslab(selection.id, op, &start, nil, &count, nil), what)
        }
        return (memory, selection)
    }

    // MARK: - Attributes

    /// Sets a UTF-8 string attribute, replacing any attribute of that name. `H5Acreate2`
    public func setAttribute(_ attribute: String, string value: String) throws {
        enterHDF5()
        let what = "write attribute \(attribute) of \(name)"
        try deleteAttributeIfPresent(attribute, what)
        let type = Handle(try checkID(H5Tcopy(h5b_T_C_S1()), what), closer: H5Tclose)
        let bytes = Array(value.utf8)
        try check(H5Tset_size(type.id, max(1, bytes.count)), what)
        try check(H5Tset_cset(type.id, H5T_CSET_UTF8), what)
        let space = try makeDataspace([])
        let attr = Handle(try checkID(H5Acreate2(handle.id, attribute, type.id, space.id, h5b_P_DEFAULT(),
                                                 h5b_P_DEFAULT()), what), closer: H5Aclose)
        let padded = bytes.isEmpty ? [UInt8(0)] : bytes
        try padded.withUnsafeBufferPointer { _ = try check(H5Awrite(attr.id, type.id, $0.baseAddress), what) }
    }

    /// Sets a float64 attribute holding `values` (a scalar when there is one value). `H5Acreate2`
    public func setAttribute(_ attribute: String, doubles values: [Double], scalar: Bool = false) throws {
        enterHDF5()
        let what = "write attribute \(attribute) of \(name)"
        try deleteAttributeIfPresent(attribute, what)
        let space = try makeDataspace(scalar && values.count == 1 ? [] : [values.count])
        let attr = Handle(try checkID(H5Acreate2(handle.id, attribute, h5b_T_IEEE_F64LE(), space.id,
                                                 h5b_P_DEFAULT(), h5b_P_DEFAULT()), what), closer: H5Aclose)
        try values.withUnsafeBufferPointer {
            _ = try check(H5Awrite(attr.id, h5b_T_NATIVE_DOUBLE(), $0.baseAddress), what)
        }
    }

    /// Reads a string attribute (fixed or variable length); nil when there is none, or when the
    /// attribute holds something other than a string.
    public func stringAttribute(_ attribute: String) throws -> String? {
        enterHDF5()
        let what = "read attribute \(attribute) of \(name)"
        guard try checkBool(H5Aexists(handle.id, attribute), what) else { return nil }
        let attr = Handle(try checkID(H5Aopen(handle.id, attribute, h5b_P_DEFAULT()), what), closer: H5Aclose)
        let type = Handle(try checkID(H5Aget_type(attr.id), what), closer: H5Tclose)
        guard H5Tget_class(type.id) == H5T_STRING else { return nil }
        if try checkBool(H5Tis_variable_str(type.id), what) {
            var pointer: UnsafeMutablePointer<CChar>? = nil
            try check(H5Aread(attr.id, type.id, &pointer), what)
            defer { if pointer != nil { H5free_memory(pointer) } }
            return pointer.map { String(cString: $0) }
        }
        let size = H5Tget_size(type.id)
        var bytes = [UInt8](repeating: 0, count: size + 1)
        try check(H5Aread(attr.id, type.id, &bytes), what)
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    private func deleteAttributeIfPresent(_ attribute: String, _ what: String) throws {
        if try checkBool(H5Aexists(handle.id, attribute), what) {
            try check(H5Adelete(handle.id, attribute), what)
        }
    }
}
