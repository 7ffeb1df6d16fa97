"""h5py + PyTorch (CPU), streaming: read 8192 rows, run the workload's nn.Sequential, write them.

What a model user writes: the stages as an nn.Sequential (for the MLP, nn.Linear layers loaded
with the weights file's fc1/fc2 tensors), run under torch.inference_mode() over 8192-row
slices read with h5py. torch.from_numpy and Tensor.numpy share memory with the arrays h5py
reads and writes, so nothing is copied between the two. PyTorch keeps its default threads
(one per core) for its own kernels (MKL for the products); reading and writing are on the
main thread, one after the other. The output is fsynced once closed, as h5batch does with
its own.

    python3 torch_stream.py --workload relu|mlp|gzip|zstd --input IN.h5 --output OUT.h5 [--weights W.h5]
"""
import h5py
import torch
from torch import nn

from common import CHUNK_ROWS as BATCH, DATASET, fsync, load_weights, output_chunks, output_options, parse_args


def model(workload, weights_path):
    """The workload's stages as an nn.Sequential, in evaluation mode."""
    if workload == "relu":
        return nn.Sequential(nn.ReLU()).eval()
    if workload in ("gzip", "zstd"):
        return nn.Sequential(nn.ReLU(), nn.LeakyReLU(0.01)).eval()
    w1, b1, w2, b2 = (torch.from_numpy(a) for a in load_weights(weights_path))
    fc1, fc2 = nn.Linear(w1.shape[1], w1.shape[0]), nn.Linear(w2.shape[1], w2.shape[0])
    with torch.no_grad():
        for layer, weight, bias in ((fc1, w1, b1), (fc2, w2, b2)):
            layer.weight.copy_(weight)  # [out, in], as stored
            layer.bias.copy_(bias)
    return nn.Sequential(fc1, nn.ReLU(), fc2).eval()


def main():
    args = parse_args(__doc__)

    net = model(args.workload, args.weights)
    with h5py.File(args.input, "r") as fin, h5py.File(args.output, "w") as fout, torch.inference_mode():
        x_in = fin[DATASET]
        rows = x_in.shape[0]
        width = net(torch.zeros(1, x_in.shape[1])).shape[1]
        y_out = fout.create_dataset(DATASET, (rows, width), dtype="f4", chunks=output_chunks(rows, width),
                                    **output_options(args.workload))
        for start in range(0, rows, BATCH):
            x = torch.from_numpy(x_in[start:start + BATCH])
            y_out[start:start + BATCH] = net(x).numpy()
    fsync(args.output)


if __name__ == "__main__":
    main()
