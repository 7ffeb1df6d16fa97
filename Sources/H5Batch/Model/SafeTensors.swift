import Foundation

/// A `.safetensors` file (Hugging Face's format, what `safetensors.torch.save_file` writes):
/// an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
/// byte range, then the data. Read without Python; F32, F16, BF16 and F64 tensors become float32.
///
/// The whole header is checked when the file is opened, so a damaged or truncated file fails
/// there (exit 65), whichever tensor is asked for. The data are mapped, not read.
public struct SafeTensorsFile: WeightSource, Sendable {
    /// The file's path, for messages.
    public var path: String
    /// Every tensor the file holds, in the header's order (what PyTorch's `state_dict` named them).
    public var tensorNames: [String]

    private struct Entry: Sendable {
        let dtype: String
        let shape: [Int]
        let bytes: Range<Int>  // within `data`
    }

    private let entries: [String: Entry]
    private let data: Data

    /// The encodings h5batch turns into float32; other dtypes (`I64`, `BOOL`, …) may sit in the
    /// file, but a stage cannot read them.
    private static let encodings: [String: StoredFloat] = ["F32": .float32, "F16": .float16, "BF16": .bfloat16, "F64": .float64]
    private static let sizes: [String: Int] = ["F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
                                               "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
                                               "F8_E4M3": 1, "F8_E5M2": 1]

    /// Opens and checks the file at `path`: exit 66 when it cannot be read, 65 when it is not a
    /// well-formed safetensors file.
    public init(path: String) throws {
        self.path = path
        let contents: Data
        do {
            contents = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw H5BatchError(.notFound, "cannot read weights file \(path): \(FileManager.default.fileExists(atPath: path) ? "not readable" : "no such file")")
        }
        func damaged(_ why: String) -> H5BatchError {
            H5BatchError(.data, "\(path) is not a valid safetensors file: \(why)")
        }
        guard contents.count >= 8 else { throw damaged("\(contents.count) bytes, shorter than its 8-byte header length") }
        let headerLength = contents.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(contents.count - 8) else {
            throw damaged("the header length (\(headerLength) bytes) runs past the end of the file (\(contents.count) bytes; truncated?)")
        }
        let dataStart = 8 + Int(headerLength)
        let header = contents.subdata(in: 8..<dataStart)
        guard let object = try? JSONSerialization.jsonObject(with: header), let tensors = object as? [String: Any] else {
            throw damaged("its header is not a JSON object")
        }
        let dataSize = contents.count - dataStart
        var entries: [String: Entry] = [:]
        var names: [(name: String, start: Int)] = []
        for (name, value) in tensors where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shapeValues = info["shape"] as? [NSNumber], let offsets = info["data_offsets"] as? [NSNumber],
                  offsets.count == 2 else {
                throw damaged("tensor \(name) lacks a dtype, shape or data_offsets pair")
            }
            let shape = shapeValues.map(\.intValue)
            let (begin, end) = (offsets[0].intValue, offsets[1].intValue)
            guard let itemSize = Self.sizes[dtype] else { throw damaged("tensor \(name) has unknown dtype \(dtype)") }
            guard let count = elementCount(shape) else { throw damaged("tensor \(name) has shape \(shapeText(shape))") }
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw damaged("tensor \(name) spans bytes \(begin)..<\(end) of a \(dataSize)-byte data section (truncated?)")
            }
            guard count.multipliedReportingOverflow(by: itemSize) == (end - begin, false) else {
                throw damaged("tensor \(name) is \(dtype) \(shapeText(shape)) but spans \(end - begin) bytes")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, bytes: (dataStart + begin)..<(dataStart + end))
            names.append((name, begin))
        }
        self.entries = entries
        self.data = contents
        tensorNames = names.sorted { ($0.start, $0.name) < ($1.start, $1.name) }.map(\.name)
    }

    /// The tensor `name` as row-major float32 values with its shape. A missing name, or a dtype
    /// other than F32, F16, BF16 and F64, throws exit 65; a missing name's message lists the
    /// tensors the file holds, closest names first.
    public func tensor(named name: String) throws -> (shape: [Int], values: [Float]) {
        guard let entry = entries[name] else {
            throw H5BatchError(.data, "\(path) has no tensor \(name); it \(closestNamesListing(tensorNames, to: name))")
        }
        guard let encoding = Self.encodings[entry.dtype] else {
            throw H5BatchError(.data, "tensor \(name) in \(path) is \(entry.dtype); h5batch reads F32, F16, BF16 and F64 tensors")
        }
        let count = entry.bytes.count / encoding.size
        let values = data.withUnsafeBytes { all in
            encoding.decode(UnsafeRawBufferPointer(rebasing: all[entry.bytes]), count: count)
        }
        return (entry.shape, values)
    }
}
