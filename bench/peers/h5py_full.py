"""h5py + numpy, whole dataset: read everything, compute on the whole array, write it.

Memory is the size of the data (the MLP holds its 1024-wide hidden layer for every row).
numpy's matrix products use OpenBLAS's own threads; everything else is one thread. The output
is fsynced once closed, as h5batch does with its own.

    python3 h5py_full.py --workload relu|mlp|gzip|zstd --input IN.h5 --output OUT.h5 [--weights W.h5]
"""
import h5py

from common import DATASET, compute, fsync, load_weights, output_chunks, output_options, parse_args


def main():
    args = parse_args(__doc__)

    weights = load_weights(args.weights) if args.workload == "mlp" else None
    with h5py.File(args.input, "r") as fin:
        y = compute(args.workload, fin[DATASET][()], weights)

    rows, width = y.shape
    with h5py.File(args.output, "w") as fout:
        fout.create_dataset(DATASET, data=y, chunks=output_chunks(rows, width), **output_options(args.workload))
    fsync(args.output)


if __name__ == "__main__":
    main()
