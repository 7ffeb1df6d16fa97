"""h5py + numpy, streaming: read 8192 rows, compute them in numpy, write them, repeat.

This is the loop most users write first (see the top of the project README). Memory stays
at a few batches; reading, computing and writing happen one after another on one thread,
except that numpy's matrix products use OpenBLAS's own threads.

    python3 h5py_stream.py --workload relu|mlp|gzip --input IN.h5 --output OUT.h5 [--weights W.h5]
"""
import h5py
import numpy as np

from common import CHUNK_ROWS as BATCH, DATASET, load_weights, output_chunks, output_options, parse_args


def main():
    args = parse_args(__doc__)

    if args.workload == "mlp":
        w1, b1, w2, b2 = load_weights(args.weights)
        w1t, w2t = w1.T, w2.T
        width = w2t.shape[1]
    with h5py.File(args.input, "r") as fin, h5py.File(args.output, "w") as fout:
        x_in = fin[DATASET]
        rows = x_in.shape[0]
        if args.workload != "mlp":
            width = x_in.shape[1]
        y_out = fout.create_dataset(DATASET, (rows, width), dtype="f4", chunks=output_chunks(rows, width),
                                    **output_options(args.workload))
        for start in range(0, rows, BATCH):
            x = x_in[start:start + BATCH]
            if args.workload == "relu":
                np.maximum(x, 0, out=x)
                y = x
            elif args.workload == "gzip":
                np.maximum(x, 0, out=x)
                np.multiply(x, np.float32(0.01), out=x, where=x < 0)  # leaky_relu(0.01)
                y = x
            else:
                h = x @ w1t
                h += b1
                np.maximum(h, 0, out=h)
                y = h @ w2t
                y += b2
            y_out[start:start + BATCH] = y


if __name__ == "__main__":
    main()
