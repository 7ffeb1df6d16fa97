"""h5py + numpy, streaming: read 8192 rows, compute them in numpy, write them, repeat.

This is the loop most users write first (see the top of the project README). Memory stays
at a few batches; reading, computing and writing happen one after another on one thread,
except that numpy's matrix products use OpenBLAS's own threads. The output is fsynced once
closed, as h5batch does with its own.

    python3 h5py_stream.py --workload relu|mlp|gzip|zstd --input IN.h5 --output OUT.h5 [--weights W.h5]
"""
import h5py

from common import (CHUNK_ROWS as BATCH, DATASET, compute, fsync, load_weights, output_chunks, output_options,
                    parse_args)


def main():
    args = parse_args(__doc__)

    weights = load_weights(args.weights) if args.workload == "mlp" else None
    with h5py.File(args.input, "r") as fin, h5py.File(args.output, "w") as fout:
        x_in = fin[DATASET]
        rows = x_in.shape[0]
        width = weights[2].shape[0] if weights else x_in.shape[1]  # fc2.weight is [out, in]
        y_out = fout.create_dataset(DATASET, (rows, width), dtype="f4", chunks=output_chunks(rows, width),
                                    **output_options(args.workload))
        for start in range(0, rows, BATCH):
            y_out[start:start + BATCH] = compute(args.workload, x_in[start:start + BATCH], weights)
    fsync(args.output)


if __name__ == "__main__":
    main()
