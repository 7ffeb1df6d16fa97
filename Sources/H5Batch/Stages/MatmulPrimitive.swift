import CDNNL
import Foundation

/// One linear stage's products on oneDNN's matmul primitive: `y = x·W + b` with the weights
/// reordered once into the blocked layout the primitive's kernels read, and the bias added by
/// those kernels while each output block is still in registers.
///
/// Measured on one core of an AVX-512 Zen 5 at the MLP's 256-row tiles: 230 GFLOP/s against
/// 210 for `dnnl_sgemm` on the same products, which repacks the weights on every call and
/// leaves the bias to a second pass (docs/PERFORMANCE.md). Where oneDNN has no brgemm kernels
/// (below AVX-512, or capped with `DNNL_MAX_CPU_ISA`) it picks its sgemm-based matmul, so the
/// kernels are still chosen by CPU features; the weights then stay in their stored layout
/// (`packedLayout`).
///
/// A primitive is compiled for one tile height; the heights a run uses (the chain's tile, and
/// the shorter last tile of a batch) each get theirs, made once and kept. All of them read
/// the same packed weights, and each row's result does not depend on the tile's height
/// (`GEMMTests` checks it), so the output does not depend on where batches end. Every product
/// runs on the calling thread (`GEMM.singleThreaded`), with the scratch space its caller owns.
final class MatmulPrimitive: @unchecked Sendable {
    /// The tile height whose primitive chooses the weights' layout: the chain's usual tile
    /// (`StageChain.tileRows` for rows of up to 1024 values).
    static let referenceRows = 256

    private let inFeatures: Int
    private let outFeatures: Int
    private let hasBias: Bool
    private let layout: Linear.Layout
    /// Guards `state` (an NSLock, as elsewhere in h5batch, which ThreadSanitizer understands).
    private let lock = NSLock()
    private var state: State

    private struct State {
        var weight: [Float]
        var bias: [Float]?
        var packed: PackedWeights?
        var primitives: [Int: Compiled] = [:]
    }

    init(weight: [Float], bias: [Float]?, inFeatures: Int, outFeatures: Int, layout: Linear.Layout) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        hasBias = bias != nil
        self.layout = layout
        state = State(weight: weight, bias: bias)
    }

    /// Bytes of the packed weights (a copy of the weights in the kernels' layout, padded to
    /// their blocks): what the first product allocates, once per stage.
    var packedWeightBytes: Int {
        guard inFeatures > 0, outFeatures > 0 else { return 0 }
        var chosen = packedLayout()
        return dnnl_memory_desc_get_size(&chosen)
    }

    /// The weights' layout in the packed copy: the blocked layout the kernels ask for (brgemm,
    /// on AVX-512), else the layout they are stored in. oneDNN's sgemm-based matmul (AVX2 and
    /// below) asks for a plain layout too, but not always the stored one: on an AVX2 cap it
    /// chose the untransposed `[in, out]` for PyTorch's `[out, in]`, 86 GFLOP/s against 112
    /// for the stored layout (one Zen 5 core, the MLP's shapes).
    private func packedLayout() -> dnnl_memory_desc_t {
        let descriptor = Self.primitiveDescriptor(rows: Self.referenceRows, inFeatures: inFeatures, outFeatures: outFeatures,
                                                  weights: nil, hasBias: hasBias)
        defer { dnnl_primitive_desc_destroy(descriptor) }
        let preferred = dnnl_primitive_desc_query_md(descriptor, dnnl_query_weights_md, 0).pointee
        if preferred.format_kind == dnnl_blocked && preferred.format_desc.blocking.inner_nblks > 0 { return preferred }
        return Self.weightsDescriptor(inFeatures: inFeatures, outFeatures: outFeatures, tag: storedTag)
    }

    /// The stored layout as a oneDNN tag for the `in × out` matrix.
    private var storedTag: dnnl_format_tag_t { layout == .torch ? dnnl_ba : dnnl_ab }

    /// Scratch bytes one product of `rows` rows needs (`multiply`'s `scratchpad`).
    func scratchpadBytes(rows: Int) -> Int {
        guard rows > 0, inFeatures > 0, outFeatures > 0 else { return 0 }
        return compiled(rows: rows).scratchpadBytes
    }

    /// `y = x·W + b` for `rows` rows of `inFeatures` values into `rows × outFeatures` values,
    /// on the calling thread. `scratchpad` holds at least `scratchpadBytes(rows:)` bytes.
    func multiply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>,
                  scratchpad: UnsafeMutableRawPointer?) {
        let primitive = compiled(rows: rows)
        precondition(primitive.scratchpadBytes == 0 || scratchpad != nil, "matmul: no scratchpad for \(rows) rows")
        GEMM.singleThreaded()
        // The memory objects and the stream only name this call's buffers and thread; made per
        // call (cheap next to a tile's product), they are never shared between workers.
        var (sourceDescriptor, destinationDescriptor, scratchpadDescriptor) =
            (primitive.sourceDescriptor, primitive.destinationDescriptor, primitive.scratchpadDescriptor)
        var source: dnnl_memory_t?, destination: dnnl_memory_t?, scratch: dnnl_memory_t?, stream: dnnl_stream_t?
        Self.check(dnnl_memory_create(&source, &sourceDescriptor, GEMM.engine, UnsafeMutableRawPointer(mutating: x)),
                   "creating the source memory")
        Self.check(dnnl_memory_create(&destination, &destinationDescriptor, GEMM.engine, y), "creating the destination memory")
        if primitive.scratchpadBytes > 0 {
            Self.check(dnnl_memory_create(&scratch, &scratchpadDescriptor, GEMM.engine, scratchpad), "creating the scratchpad memory")
        }
        Self.check(dnnl_stream_create(&stream, GEMM.engine, dnnl_stream_default_flags.rawValue), "creating a stream")
        defer {
            dnnl_stream_destroy(stream)
            dnnl_memory_destroy(source)
            dnnl_memory_destroy(destination)
            if let scratch { dnnl_memory_destroy(scratch) }
        }
        var arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: source), dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: primitive.weights),
                         dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: destination)]
        if let bias = primitive.bias { arguments.append(dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: bias)) }
        if let scratch { arguments.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratch)) }
        Self.check(dnnl_primitive_execute(primitive.primitive, stream, Int32(arguments.count), arguments),
                   "running the matmul for \(rows)×\(inFeatures)·\(inFeatures)×\(outFeatures)")
    }

    // MARK: - Compiling

    /// The primitive for `rows`-row tiles, made on first use.
    private func compiled(rows: Int) -> Compiled {
        lock.withLock {
            if let primitive = state.primitives[rows] { return primitive }
            if state.packed == nil { state.packed = pack() }
            let packed = state.packed!
            let descriptor = Self.primitiveDescriptor(rows: rows, inFeatures: inFeatures, outFeatures: outFeatures,
                                                      weights: packed.descriptor, hasBias: packed.bias != nil)
            let primitive = Compiled(descriptor, packed: packed, rows: rows, outFeatures: outFeatures)
            state.primitives[rows] = primitive
            return primitive
        }
    }

    /// Copies the weights into `packedLayout()` (reordering them when it is blocked), and keeps
    /// the bias; the copies given at init are not needed after this.
    private func pack() -> PackedWeights {
        var plain = Self.weightsDescriptor(inFeatures: inFeatures, outFeatures: outFeatures, tag: storedTag)
        let packed = PackedWeights(descriptor: packedLayout(), bias: state.bias, outFeatures: outFeatures)
        state.weight.withUnsafeMutableBufferPointer { weight in
            var reorder: dnnl_primitive_desc_t?, primitive: dnnl_primitive_t?, source: dnnl_memory_t?, stream: dnnl_stream_t?
            var target = packed.descriptor
            Self.check(dnnl_reorder_primitive_desc_create(&reorder, &plain, GEMM.engine, &target, GEMM.engine, nil), "planning the weights' reorder")
            Self.check(dnnl_primitive_create(&primitive, reorder), "creating the weights' reorder")
            Self.check(dnnl_memory_create(&source, &plain, GEMM.engine, weight.baseAddress), "creating the weights' memory")
            Self.check(dnnl_stream_create(&stream, GEMM.engine, dnnl_stream_default_flags.rawValue), "creating a stream")
            defer {
                dnnl_stream_destroy(stream)
                dnnl_memory_destroy(source)
                dnnl_primitive_destroy(primitive)
                dnnl_primitive_desc_destroy(reorder)
            }
            GEMM.singleThreaded()
            let arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: source), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: packed.memory)]
            Self.check(dnnl_primitive_execute(primitive, stream, 2, arguments), "reordering the weights")
        }
        state.weight = []
        state.bias = nil
        return packed
    }

    /// A matmul descriptor for `rows × inFeatures · inFeatures × outFeatures`: weights in
    /// `weights`' layout, or the one the kernels prefer when nil. The bias is `1 × outFeatures`.
    private static func primitiveDescriptor(rows: Int, inFeatures: Int, outFeatures: Int, weights: dnnl_memory_desc_t?,
                                            hasBias: Bool) -> dnnl_primitive_desc_t {
        var source = matrixDescriptor(rows, inFeatures), destination = matrixDescriptor(rows, outFeatures)
        var bias = matrixDescriptor(1, outFeatures)
        var weights = weights ?? weightsDescriptor(inFeatures: inFeatures, outFeatures: outFeatures, tag: dnnl_format_tag_any)
        var operation = dnnl_matmul_desc_t()
        if hasBias {
            check(dnnl_matmul_desc_init(&operation, &source, &weights, &bias, &destination),
                  "describing a \(rows)×\(inFeatures)·\(inFeatures)×\(outFeatures) matmul")
        } else {
            check(dnnl_matmul_desc_init(&operation, &source, &weights, nil, &destination),
                  "describing a \(rows)×\(inFeatures)·\(inFeatures)×\(outFeatures) matmul")
        }
        var attributes: dnnl_primitive_attr_t?
        check(dnnl_primitive_attr_create(&attributes), "creating matmul attributes")
        defer { dnnl_primitive_attr_destroy(attributes) }
        // The caller's scratch space, so that nothing is allocated per call or kept per thread.
        check(dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user), "choosing the matmul's scratchpad")
        var descriptor: dnnl_primitive_desc_t?
        check(dnnl_primitive_desc_create(&descriptor, &operation, attributes, GEMM.engine, nil),
              "planning a \(rows)×\(inFeatures)·\(inFeatures)×\(outFeatures) matmul")
        return descriptor!
    }

    private static func matrixDescriptor(_ rows: Int, _ columns: Int) -> dnnl_memory_desc_t {
        descriptor(rows, columns, tag: dnnl_ab)
    }

    private static func weightsDescriptor(inFeatures: Int, outFeatures: Int, tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
        descriptor(inFeatures, outFeatures, tag: tag)
    }

    private static func descriptor(_ rows: Int, _ columns: Int, tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
        var dimensions: dnnl_dims_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        dimensions.0 = dnnl_dim_t(rows)
        dimensions.1 = dnnl_dim_t(columns)
        var descriptor = dnnl_memory_desc_t()
        withUnsafePointer(to: &dimensions) { pointer in
            pointer.withMemoryRebound(to: dnnl_dim_t.self, capacity: 2) { dims in
                check(dnnl_memory_desc_init_by_tag(&descriptor, 2, dims, dnnl_f32, tag), "describing a \(rows)×\(columns) matrix")
            }
        }
        return descriptor
    }

    /// oneDNN fails only on arguments h5batch built (shapes, layouts) or when out of memory:
    /// both are bugs or a dead process, not a data error.
    static func check(_ status: dnnl_status_t, _ what: String) {
        precondition(status == dnnl_success, "oneDNN failed \(what): status \(status.rawValue)")
    }
}

/// The weights in the kernels' layout, and the bias, shared read-only by every primitive of a
/// stage.
private final class PackedWeights: @unchecked Sendable {
    let descriptor: dnnl_memory_desc_t
    let memory: dnnl_memory_t
    let bias: dnnl_memory_t?
    private let storage: UnsafeMutableRawPointer
    private let biasValues: UnsafeMutableBufferPointer<Float>?

    init(descriptor: dnnl_memory_desc_t, bias: [Float]?, outFeatures: Int) {
        var descriptor = descriptor
        self.descriptor = descriptor
        storage = UnsafeMutableRawPointer.allocate(byteCount: max(64, dnnl_memory_desc_get_size(&descriptor)), alignment: 64)
        var memory: dnnl_memory_t?
        MatmulPrimitive.check(dnnl_memory_create(&memory, &descriptor, GEMM.engine, storage), "creating the packed weights' memory")
        self.memory = memory!
        if let bias {
            let values = UnsafeMutableBufferPointer<Float>.allocate(capacity: bias.count)
            _ = values.initialize(from: bias)
            var dimensions: dnnl_dims_t = (1, dnnl_dim_t(outFeatures), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            var biasDescriptor = dnnl_memory_desc_t()
            withUnsafePointer(to: &dimensions) { pointer in
                pointer.withMemoryRebound(to: dnnl_dim_t.self, capacity: 2) { dims in
                    MatmulPrimitive.check(dnnl_memory_desc_init_by_tag(&biasDescriptor, 2, dims, dnnl_f32, dnnl_ab), "describing the bias")
                }
            }
            var biasMemory: dnnl_memory_t?
            MatmulPrimitive.check(dnnl_memory_create(&biasMemory, &biasDescriptor, GEMM.engine, values.baseAddress), "creating the bias memory")
            self.bias = biasMemory
            biasValues = values
        } else {
            self.bias = nil
            biasValues = nil
        }
    }

    deinit {
        dnnl_memory_destroy(memory)
        if let bias { dnnl_memory_destroy(bias) }
        storage.deallocate()
        biasValues?.deallocate()
    }
}

/// One tile height's primitive and the descriptors of its arguments.
private final class Compiled: @unchecked Sendable {
    let primitive: dnnl_primitive_t
    let packed: PackedWeights
    let sourceDescriptor: dnnl_memory_desc_t
    let destinationDescriptor: dnnl_memory_desc_t
    let scratchpadDescriptor: dnnl_memory_desc_t
    let scratchpadBytes: Int

    var weights: dnnl_memory_t { packed.memory }
    var bias: dnnl_memory_t? { packed.bias }

    /// Takes `descriptor` (and destroys it once the primitive exists).
    init(_ descriptor: dnnl_primitive_desc_t, packed: PackedWeights, rows: Int, outFeatures: Int) {
        defer { dnnl_primitive_desc_destroy(descriptor) }
        var primitive: dnnl_primitive_t?
        MatmulPrimitive.check(dnnl_primitive_create(&primitive, descriptor), "compiling the matmul for \(rows)-row tiles")
        self.primitive = primitive!
        self.packed = packed
        sourceDescriptor = dnnl_primitive_desc_query_md(descriptor, dnnl_query_src_md, 0).pointee
        destinationDescriptor = dnnl_primitive_desc_query_md(descriptor, dnnl_query_dst_md, 0).pointee
        var scratchpad = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0).pointee
        scratchpadDescriptor = scratchpad
        scratchpadBytes = dnnl_memory_desc_get_size(&scratchpad)
    }

    deinit { dnnl_primitive_destroy(primitive) }
}
