"""Export the MLP workload's model to ONNX with PyTorch, as a model user does: torch.onnx.export.

The model is torch_stream.py's nn.Sequential (Linear 256->1024, ReLU, Linear 1024->256) loaded
with the weights file's fc1/fc2 tensors, so it computes exactly what the mlp workload computes.
torch.onnx.export runs with its defaults (the torch.export-based exporter, which needs the
onnxscript package; its default opset; the weights in MODEL.onnx.data beside the model), plus
the one thing a model user must add for batch inference: a dynamic batch dimension "rows".
The input is named "x" and the output "y".

Prints one JSON line: the torch version, the opset and the op types of the exported graph.

    python3 export_onnx.py --weights W.h5 --output MODEL.onnx
"""
import argparse
import json

import onnx
import torch

from torch_stream import model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()

    net = model("mlp", args.weights)
    example = torch.zeros(2, net[0].in_features)
    torch.onnx.export(net, (example,), args.output, input_names=["x"], output_names=["y"],
                      dynamic_shapes=({0: torch.export.Dim("rows")},))

    exported = onnx.load(args.output, load_external_data=False)
    opset = next(o.version for o in exported.opset_import if o.domain in ("", "ai.onnx"))
    print(json.dumps({"exporter": f"torch.onnx.export (torch {torch.__version__})", "opset": opset,
                      "nodes": [n.op_type for n in exported.graph.node]}))


if __name__ == "__main__":
    main()
