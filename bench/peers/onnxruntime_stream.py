"""h5py + ONNX Runtime (CPU), streaming: read 8192 rows, run the workload's ONNX model, write them.

The model is the workload's stages as an ONNX graph (see make_onnx.py): --model loads a file
written once beforehand, as compare.py does, so that neither onnx nor PyTorch is imported here;
without --model it is built in memory from the workload and --weights. An InferenceSession with
default options (CPUExecutionProvider, one intra-op thread per core) runs it over 8192-row
slices read with h5py; reading and writing are on the main thread, one after the other. The
output is fsynced once closed, as h5batch does with its own.

    python3 onnxruntime_stream.py --workload relu|mlp|gzip --input IN.h5 --output OUT.h5
                                  [--weights W.h5] [--model MODEL.onnx]
"""
import h5py
import onnxruntime as ort

from common import CHUNK_ROWS as BATCH, DATASET, fsync, output_chunks, output_options, parse_args


def main():
    args = parse_args(__doc__, model=True)

    with h5py.File(args.input, "r") as fin, h5py.File(args.output, "w") as fout:
        x_in = fin[DATASET]
        rows, features = x_in.shape
        if args.model:
            model = args.model
        else:
            from make_onnx import onnx_model
            model = onnx_model(args.workload, features, args.weights).SerializeToString()
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        width = session.get_outputs()[0].shape[1]
        y_out = fout.create_dataset(DATASET, (rows, width), dtype="f4", chunks=output_chunks(rows, width),
                                    **output_options(args.workload))
        for start in range(0, rows, BATCH):
            (y,) = session.run(None, {"x": x_in[start:start + BATCH]})
            y_out[start:start + BATCH] = y
    fsync(args.output)


if __name__ == "__main__":
    main()
