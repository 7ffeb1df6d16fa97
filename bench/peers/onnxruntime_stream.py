"""h5py + ONNX Runtime (CPU), streaming: read a slice of rows, run the workload's ONNX model, write it.

The model is the workload's stages as an ONNX graph: --model loads a file written once
beforehand, as compare.py does (make_onnx.py's graph for the relu, mlp and gzip workloads, the
file torch.onnx.export wrote for the onnx workload), so that neither onnx nor PyTorch is
imported here; without --model it is built in memory from the workload and --weights. The
model's own input name is used, whatever the exporter called it.

An InferenceSession runs it over slices of --batch-rows rows (default 8192, one stored chunk)
read with h5py; reading and writing are on the main thread, one after the other. The session
has ONNX Runtime's default options (CPUExecutionProvider, one intra-op thread per physical
core, every graph optimization) unless --intra-op-threads sets the thread count; the level of
graph optimizations is set to all explicitly either way. The output is fsynced once closed, as
h5batch does with its own.

    python3 onnxruntime_stream.py --workload relu|mlp|gzip|zstd --input IN.h5 --output OUT.h5
                                  [--weights W.h5] [--model MODEL.onnx]
                                  [--batch-rows N] [--intra-op-threads N]
"""
import sys

import h5py
import onnxruntime as ort

from common import CHUNK_ROWS, DATASET, fsync, output_chunks, output_options, parse_args


def session(model, intra_op_threads):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if intra_op_threads > 0:
        options.intra_op_num_threads = intra_op_threads
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def main():
    args = parse_args(__doc__, model=True)
    if args.batch_rows < 1 or args.batch_rows % CHUNK_ROWS:
        sys.exit(f"--batch-rows must be a positive multiple of {CHUNK_ROWS} (whole stored chunks)")
    batch = args.batch_rows

    with h5py.File(args.input, "r") as fin, h5py.File(args.output, "w") as fout:
        x_in = fin[DATASET]
        rows, features = x_in.shape
        if args.model:
            model = args.model
        else:
            from make_onnx import onnx_model
            model = onnx_model(args.workload, features, args.weights).SerializeToString()
        runner = session(model, args.intra_op_threads)
        input_name = runner.get_inputs()[0].name
        width = runner.get_outputs()[0].shape[1]
        y_out = fout.create_dataset(DATASET, (rows, width), dtype="f4", chunks=output_chunks(rows, width),
                                    **output_options(args.workload))
        for start in range(0, rows, batch):
            (y,) = runner.run(None, {input_name: x_in[start:start + batch]})
            y_out[start:start + batch] = y
    fsync(args.output)


if __name__ == "__main__":
    main()
