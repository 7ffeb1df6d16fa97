"""What the three peer scripts share: the workloads' command line, output layout and weights."""
import argparse

import h5py

CHUNK_ROWS = 8192
DATASET = "x"
WORKLOADS = ["relu", "mlp", "gzip"]


def parse_args(doc):
    """The peers' shared command line: --workload, --input, --output, --weights."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--workload", required=True, choices=WORKLOADS)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--weights")
    return parser.parse_args()


def output_options(workload):
    """Filters of the output, the same as the workload's h5batch pipeline."""
    if workload == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    return {}


def output_chunks(rows, width):
    """The output's chunk shape: 8192 rows, as the workload's h5batch pipeline writes."""
    return (min(CHUNK_ROWS, max(rows, 1)), width)


def load_weights(path):
    """The MLP's (fc1.weight, fc1.bias, fc2.weight, fc2.bias), weights in PyTorch's [out, in]."""
    with h5py.File(path, "r") as w:
        return tuple(w[name][()] for name in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"))
