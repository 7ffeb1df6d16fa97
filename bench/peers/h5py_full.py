"""h5py + numpy, whole dataset: read everything, compute on the whole array, write it.

Memory is the size of the data (the MLP holds its 1024-wide hidden layer for every row).
numpy's matrix products use OpenBLAS's own threads; everything else is one thread.

    python3 h5py_full.py --workload relu|mlp|gzip --input IN.h5 --output OUT.h5 [--weights W.h5]
"""
import h5py
import numpy as np

from common import DATASET, load_weights, output_chunks, output_options, parse_args


def main():
    args = parse_args(__doc__)

    with h5py.File(args.input, "r") as fin:
        x = fin[DATASET][()]

    if args.workload == "relu":
        np.maximum(x, 0, out=x)
        y = x
    elif args.workload == "gzip":
        np.maximum(x, 0, out=x)
        np.multiply(x, np.float32(0.01), out=x, where=x < 0)  # leaky_relu(0.01)
        y = x
    else:
        w1, b1, w2, b2 = load_weights(args.weights)
        h = x @ w1.T
        del x  # free the input before the second product
        h += b1
        np.maximum(h, 0, out=h)
        y = h @ w2.T
        del h
        y += b2

    rows, width = y.shape
    with h5py.File(args.output, "w") as fout:
        fout.create_dataset(DATASET, data=y, chunks=output_chunks(rows, width), **output_options(args.workload))


if __name__ == "__main__":
    main()
