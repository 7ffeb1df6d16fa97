"""h5py + numpy, whole dataset: read everything, compute on the whole array, write it.

Memory is the size of the data (the MLP holds its 1024-wide hidden layer for every row).
numpy's matrix products use OpenBLAS's own threads; everything else is one thread.

    python3 h5py_full.py --workload relu|mlp|gzip --input IN.h5 --output OUT.h5 [--weights W.h5]
"""
import argparse

import h5py
import numpy as np

CHUNK_ROWS = 8192
DATASET = "x"


def output_options(workload):
    """Chunking and filters of the output, the same as the workload's h5batch pipeline."""
    if workload == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    return {}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", required=True, choices=["relu", "mlp", "gzip"])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--weights")
    args = parser.parse_args()

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
        with h5py.File(args.weights, "r") as w:
            w1, b1 = w["fc1.weight"][()], w["fc1.bias"][()]
            w2, b2 = w["fc2.weight"][()], w["fc2.bias"][()]
        h = x @ w1.T
        del x  # free the input before the second product
        h += b1
        np.maximum(h, 0, out=h)
        y = h @ w2.T
        del h
        y += b2

    rows, width = y.shape
    with h5py.File(args.output, "w") as fout:
        fout.create_dataset(DATASET, data=y, chunks=(min(CHUNK_ROWS, max(rows, 1)), width),
                            **output_options(args.workload))


if __name__ == "__main__":
    main()
