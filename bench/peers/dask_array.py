"""dask.array: a lazy array over the HDF5 dataset in 8192-row chunks, stored with to_hdf5.

dask's default threaded scheduler runs the chunks on one thread per core. h5py lets only
one thread into libhdf5 at a time, so reading, decompressing, compressing and writing are
serialized; numpy's own work (and its OpenBLAS threads) runs in parallel. The output is
fsynced once to_hdf5 has closed it, as h5batch does with its own.

    python3 dask_array.py --workload relu|mlp|gzip|zstd --input IN.h5 --output OUT.h5 [--weights W.h5]
"""
import dask.array as da
import h5py
import numpy as np

from common import CHUNK_ROWS, DATASET, fsync, load_weights, output_chunks, output_options, parse_args


def main():
    args = parse_args(__doc__)

    with h5py.File(args.input, "r") as fin:
        dset = fin[DATASET]
        x = da.from_array(dset, chunks=(CHUNK_ROWS, dset.shape[1]))
        if args.workload == "relu":
            y = da.maximum(x, 0)
        elif args.workload in ("gzip", "zstd"):
            y = da.maximum(x, 0)
            y = da.where(y > 0, y, y * np.float32(0.01))  # leaky_relu(0.01)
        else:
            w1, b1, w2, b2 = load_weights(args.weights)
            y = da.maximum(x @ w1.T + b1, 0) @ w2.T + b2
        y = y.astype(np.float32)
        rows, width = y.shape
        da.to_hdf5(args.output, "/" + DATASET, y, chunks=output_chunks(rows, width), **output_options(args.workload))
    fsync(args.output)


if __name__ == "__main__":
    main()
