import Foundation
import ONNXProto
import SwiftProtobuf

/// An `.onnx` file, parsed with SwiftProtobuf: its graph, the opset it was exported for, and
/// its tensors (initializers and `Constant` nodes) decoded to float32 on demand.
struct ONNXModelFile {
    /// The file's path, for messages.
    let path: String
    /// The model's graph.
    let graph: Onnx_GraphProto
    /// The version of the default (`ai.onnx`) operator set the nodes follow.
    let opset: Int

    /// Reads and parses `path`: exit 66 when it cannot be read, 65 when it is not a well-formed
    /// ONNX model (damaged or truncated).
    init(path: String) throws {
        self.path = path
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw H5BatchError(.notFound, "cannot read model file \(path): \(FileManager.default.fileExists(atPath: path) ? "not readable" : "no such file")")
        }
        let model: Onnx_ModelProto
        do {
            model = try Onnx_ModelProto(serializedBytes: data)
        } catch {
            throw H5BatchError(.data, "\(path) is not a valid ONNX model (damaged or truncated: \(error))")
        }
        guard model.hasGraph, !model.graph.node.isEmpty else {
            throw H5BatchError(.data, "\(path) is not a valid ONNX model: it holds no graph (damaged or truncated?)")
        }
        graph = model.graph
        guard let defaultSet = model.opsetImport.first(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" }) else {
            throw H5BatchError(.data, "\(path) imports no version of the default ONNX operator set")
        }
        opset = Int(defaultSet.version)
    }

    /// The folder external data are read from: the model's own.
    var folder: String { (path as NSString).deletingLastPathComponent }

    /// The files the model's tensors (initializers and `Constant` values) keep their data in
    /// (`model.onnx.data`, say), each once, in the order the tensors name them: the files a
    /// stage reads besides the model. Locations `externalBytes` would refuse are left out.
    var externalDataFiles: [String] {
        let tensors = graph.initializer + graph.node.flatMap { $0.attribute.map(\.t) }
        var seen = Set<String>()
        return tensors.filter { $0.dataLocation == .external }.compactMap { tensor in
            guard let location = tensor.externalData.first(where: { $0.key == "location" })?.value, !location.isEmpty,
                  !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else { return nil }
            let file = (folder as NSString).appendingPathComponent(location)
            return seen.insert(file).inserted ? file : nil
        }
    }
}

// MARK: - Tensors

extension ONNXModelFile {
    /// `tensor`'s values as float32 with its shape: float32, float16, bfloat16 or float64 (and
    /// the integer types small constants such as axes use), from `raw_data`, the typed fields,
    /// or external data beside the model. Every size is checked (exit 65).
    func decode(_ tensor: Onnx_TensorProto, what: String) throws -> (shape: [Int], values: [Float]) {
        func bad(_ why: String) -> H5BatchError { H5BatchError(.data, "\(what) in \(path) \(why)") }
        let shape = tensor.dims.map { Int(truncatingIfNeeded: $0) }
        guard tensor.dims.allSatisfy({ $0 >= 0 }), let count = elementCount(shape), count <= Int.max / 8 else {
            throw bad("has shape \(shapeText(shape))")
        }
        guard let type = Onnx_TensorProto.DataType(rawValue: Int(tensor.dataType)), let encoding = Self.encoding(type) else {
            throw bad("holds \(Self.typeName(tensor.dataType)) values; h5batch reads float32, float16, bfloat16 and float64 tensors")
        }
        if tensor.dataLocation == .external {
            let bytes = try externalBytes(tensor, expected: count * encoding.size, bad)
            return (shape, bytes.withUnsafeBytes { encoding.decode($0, count: count) })
        }
        if tensor.hasRawData {
            guard tensor.rawData.count == count * encoding.size else {
                throw bad("has \(tensor.rawData.count) bytes of data; shape \(shapeText(shape)) of \(Self.typeName(tensor.dataType)) needs \(count * encoding.size)")
            }
            return (shape, tensor.rawData.withUnsafeBytes { encoding.decode($0, count: count) })
        }
        let values: [Float]
        switch type {
        case .float: values = tensor.floatData
        case .double: values = tensor.doubleData.map { Float($0) }
        case .float16: values = tensor.int32Data.map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) }
        case .bfloat16: values = tensor.int32Data.map { Float(bitPattern: UInt32(UInt16(truncatingIfNeeded: $0)) << 16) }
        case .int64: values = tensor.int64Data.map { Float($0) }
        default: values = tensor.int32Data.map { Float($0) }
        }
        guard values.count == count else { throw bad("has \(values.count) values; shape \(shapeText(shape)) needs \(count)") }
        return (shape, values)
    }

    /// How a type's values are laid out in `raw_data` and external files; nil for types h5batch
    /// does not read.
    private static func encoding(_ type: Onnx_TensorProto.DataType) -> TensorEncoding? {
        switch type {
        case .float: return .float(.float32)
        case .float16: return .float(.float16)
        case .bfloat16: return .float(.bfloat16)
        case .double: return .float(.float64)
        case .int64: return .integer(8)
        case .int32: return .integer(4)
        default: return nil
        }
    }

    static func typeName(_ raw: Int32) -> String {
        guard let type = Onnx_TensorProto.DataType(rawValue: Int(raw)) else { return "type \(raw)" }
        return "\(type)"
    }

    /// The bytes an external tensor names (`location`, `offset`, `length`), read from a file in
    /// the model's folder. The location may not leave that folder.
    private func externalBytes(_ tensor: Onnx_TensorProto, expected: Int, _ bad: (String) -> H5BatchError) throws -> Data {
        var entries: [String: String] = [:]
        for entry in tensor.externalData { entries[entry.key] = entry.value }
        guard let location = entries["location"], !location.isEmpty else { throw bad("is external but names no location") }
        guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
            throw bad("names external data at \(location), outside the model's folder")
        }
        guard let offset = Int(entries["offset"] ?? "0"), offset >= 0 else { throw bad("has external offset \(entries["offset"]!)") }
        let length = try entries["length"].map { text -> Int in
            guard let value = Int(text), value >= 0 else { throw bad("has external length \(text)") }
            return value
        } ?? expected
        guard length == expected else { throw bad("has \(length) bytes of external data; its shape and type need \(expected)") }
        let file = (folder as NSString).appendingPathComponent(location)
        guard let handle = FileHandle(forReadingAtPath: file) else {
            throw H5BatchError(.notFound, "cannot read \(file), the external data of \(path)")
        }
        defer { try? handle.close() }
        do {
            let size = try handle.seekToEnd()
            guard UInt64(offset) + UInt64(length) <= size else {
                throw bad("needs bytes \(offset)..<\(offset + length) of \(location), which has \(size) (truncated?)")
            }
            try handle.seek(toOffset: UInt64(offset))
            let bytes = try handle.read(upToCount: length) ?? Data()
            guard bytes.count == length else { throw bad("read \(bytes.count) of \(length) bytes from \(location)") }
            return bytes
        } catch let error as H5BatchError {
            throw error
        } catch {
            throw H5BatchError(.io, "cannot read \(file): \(error.localizedDescription)")
        }
    }
}

/// How a tensor's elements are stored: a float encoding, or a little-endian signed integer of
/// some bytes (small constants: axes, exponents).
private enum TensorEncoding {
    case float(StoredFloat)
    case integer(Int)

    var size: Int {
        switch self {
        case .float(let encoding): return encoding.size
        case .integer(let bytes): return bytes
        }
    }

    func decode(_ bytes: UnsafeRawBufferPointer, count: Int) -> [Float] {
        switch self {
        case .float(let encoding): return encoding.decode(bytes, count: count)
        case .integer(8): return (0..<count).map { Float(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
        case .integer: return (0..<count).map { Float(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
        }
    }
}
