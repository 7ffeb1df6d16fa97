"""What the peer scripts share: the workloads' command line, output layout, weights and fsync."""
import argparse
import os

import h5py
import numpy as np

CHUNK_ROWS = 8192
DATASET = "x"
WORKLOADS = ["relu", "mlp", "gzip", "zstd"]
ZSTD_LEVEL = 3


def parse_args(doc, model=False):
    """The peers' shared command line: --workload, --input, --output, --weights (and --model).

    The zstd workload imports hdf5plugin here, which registers its filters with h5py's HDF5,
    so that every peer reads and writes Zstd the way an h5py user does.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--workload", required=True, choices=WORKLOADS)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--weights")
    if model:
        parser.add_argument("--model", help="the workload's .onnx file (default: build it in memory)")
        parser.add_argument("--batch-rows", type=int, default=CHUNK_ROWS,
                            help=f"rows per model run, a multiple of {CHUNK_ROWS} (default {CHUNK_ROWS})")
        parser.add_argument("--intra-op-threads", type=int, default=0,
                            help="ONNX Runtime's intra-op threads (default 0: its own choice)")
    args = parser.parse_args()
    if args.workload == "zstd":
        import hdf5plugin  # noqa: F401 (importing it registers the filters)
    return args


def output_options(workload):
    """Filters of the output, the same as the workload's h5batch pipeline."""
    if workload == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if workload == "zstd":
        import hdf5plugin
        return {**hdf5plugin.Zstd(clevel=ZSTD_LEVEL), "shuffle": True}
    return {}


def output_chunks(rows, width):
    """The output's chunk shape: 8192 rows, as the workload's h5batch pipeline writes."""
    return (min(CHUNK_ROWS, max(rows, 1)), width)


def fsync(path):
    """Flush the closed output to disk, as h5batch and the copy floor do with theirs."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_weights(path):
    """The MLP's (fc1.weight, fc1.bias, fc2.weight, fc2.bias), weights in PyTorch's [out, in]."""
    with h5py.File(path, "r") as w:
        return tuple(w[name][()] for name in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"))


def compute(workload, x, weights=None):
    """The workload's stages on float32 rows `x` (overwritten), as a numpy user writes them.

    Pass `x` as an expression, not a variable the caller keeps: the MLP then frees its input
    before the second product, as a careful whole-array script would.
    """
    if workload in ("relu", "gzip", "zstd"):
        np.maximum(x, 0, out=x)
        if workload != "relu":
            np.multiply(x, np.float32(0.01), out=x, where=x < 0)  # leaky_relu(0.01)
        return x
    w1, b1, w2, b2 = weights
    h = x @ w1.T
    del x
    h += b1
    np.maximum(h, 0, out=h)
    y = h @ w2.T
    del h
    y += b2
    return y
