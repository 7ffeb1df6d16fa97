import CHDF5

// MARK: - Rows as stored: copied without converting their type (h5batch merge --copy)

extension HDF5File {
    /// Creates a dataset of `shape` storing `template`'s type, chunked and filtered like it when
    /// it is chunked (a virtual or compact template gives chunks of about 1 MiB instead).
    /// Its chunk cache holds a few chunks, so that a chunk the rows of two sources share is
    /// written once. `H5Dcreate2`
    func createDataset(_ name: String, likeTemplate template: Dataset, shape: [Int]) throws -> Dataset {
        enterHDF5()
        let what = "create dataset \(name) in \(path)"
        let fileType = Handle(try checkID(H5Dget_type(template.handle.id), what), closer: H5Tclose)
        let creation: Handle
        var chunks: [Int]?
        switch template.layout {
        case .chunked(let templateChunks):
            creation = Handle(try checkID(H5Dget_create_plist(template.handle.id), what), closer: H5Pclose)
            chunks = templateChunks
        case .contiguous:
            creation = try makePropertyList(h5b_P_DATASET_CREATE(), "dataset creation")
        case .virtual, .compact:
            creation = try makePropertyList(h5b_P_DATASET_CREATE(), "dataset creation")
            let rowBytes = shape.dropFirst().reduce(template.elementType.size, *)
            let rows = max(1, (1 << 20) / max(1, rowBytes))
            var dims = ([min(rows, max(1, shape[0]))] + shape.dropFirst()).map { hsize_t(max(1, $0)) }
            try check(H5Pset_chunk(creation.id, Int32(dims.count), &dims), what)
            chunks = dims.map { Int($0) }
        }
        let space = try makeDataspace(shape)
        let linkCreation = try makePropertyList(h5b_P_LINK_CREATE(), "link creation")
        try check(H5Pset_create_intermediate_group(linkCreation.id, 1), what)
        let access = try makePropertyList(h5b_P_DATASET_ACCESS(), "dataset access")
        if let chunks {
            let chunkBytes = chunks.reduce(template.elementType.size, *)
            try check(H5Pset_chunk_cache(access.id, 12421, max(1 << 20, 4 * chunkBytes), 1.0), what)
        }
        let id = try checkID(H5Dcreate2(handle.id, name, fileType.id, space.id, linkCreation.id, creation.id, access.id), what)
        return try Dataset(file: self, name: name, handle: Handle(id, closer: H5Dclose))
    }
}

extension Dataset {
    /// Reads first-dimension indices `indices` as stored (this dataset's own type, no
    /// conversion) into `buffer`, which holds them. `H5Dread`
    func readStored(firstIndices indices: Range<Int>, into buffer: UnsafeMutableRawPointer) throws {
        enterHDF5()
        let what = "read indices \(indices.lowerBound + firstIndexOffset)..<\(indices.upperBound + firstIndexOffset) of \(name) in \(file.path)"
        let (memory, selection) = try selectFirstIndices(indices, what)
        let type = Handle(try checkID(H5Dget_type(handle.id), what), closer: H5Tclose)
        let status = CodecFilters.decodingChunks(of: codecChunkBytes) {
            H5Dread(handle.id, type.id, memory.id, selection.id, h5b_P_DEFAULT(), buffer)
        }
        if status < 0 {
            throw HDF5Error.fromStack(operation: what)
        }
    }

    /// Writes first-dimension indices `indices` from `buffer`, holding values stored as
    /// `source` stores them. `H5Dwrite`
    func writeStored(firstIndices indices: Range<Int>, from buffer: UnsafeRawPointer, typeOf source: Dataset) throws {
        enterHDF5()
        let what = "write indices \(indices.lowerBound)..<\(indices.upperBound) of \(name) in \(file.path)"
        let (memory, selection) = try selectFirstIndices(indices, what)
        let type = Handle(try checkID(H5Dget_type(source.handle.id), what), closer: H5Tclose)
        try check(CodecFilters.decodingChunks(of: codecChunkBytes) {
            H5Dwrite(handle.id, type.id, memory.id, selection.id, h5b_P_DEFAULT(), buffer)
        }, what)
    }

    private func selectFirstIndices(_ indices: Range<Int>, _ what: String) throws -> (memory: Handle, file: Handle) {
        let count = [indices.count] + shape.dropFirst()
        let memory = try makeDataspace(count)
        let selection = Handle(try checkID(H5Dget_space(handle.id), what), closer: H5Sclose)
        var start = storedCoordinates([indices.lowerBound] + [Int](repeating: 0, count: rank - 1)).map { hsize_t($0) }
        var size = count.map { hsize_t($0) }
        try check(H5Sselect_hyperslab(selection.id, H5S_SELECT_SET, &start, nil, &size, nil), what)
        return (memory, selection)
    }
}
