"""Write the workload's stages as an ONNX model, for the ONNX Runtime peer (onnxruntime_stream.py).

Built with the onnx helper API from the weights file, so no PyTorch is needed: Gemm (transB=1,
weights [out, in] as stored) / Relu / Gemm for the MLP, Relu for relu, Relu / LeakyRelu(0.01)
for gzip. Input "x" and output "y" are float32 [rows, width] with a dynamic batch dimension
"rows"; the input's width is read from --input. compare.py writes WORKDIR/WORKLOAD.onnx with
this once, as a model user exports a model once and then loads it.

    python3 make_onnx.py --workload relu|mlp|gzip --input IN.h5 --output MODEL.onnx [--weights W.h5]
"""
import h5py
import onnx
from onnx import TensorProto, helper, numpy_helper

from common import DATASET, load_weights, parse_args

OPSET = 17


def onnx_model(workload, features, weights_path=None):
    """The workload's stages as an onnx.ModelProto over rows of `features` float32 values."""
    initializers, nodes, width = [], [], features
    if workload == "mlp":
        w1, b1, w2, b2 = load_weights(weights_path)
        for name, array in (("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)):
            initializers.append(numpy_helper.from_array(array, name))
        nodes += [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
                  helper.make_node("Relu", ["h"], ["r"]),
                  helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1)]
        width = w2.shape[0]
    elif workload == "relu":
        nodes.append(helper.make_node("Relu", ["x"], ["y"]))
    else:
        nodes += [helper.make_node("Relu", ["x"], ["r"]),
                  helper.make_node("LeakyRelu", ["r"], ["y"], alpha=0.01)]
    graph = helper.make_graph(
        nodes, workload,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", width])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model)
    return model


def main():
    args = parse_args(__doc__)

    with h5py.File(args.input, "r") as fin:
        features = fin[DATASET].shape[1]
    onnx.save(onnx_model(args.workload, features, args.weights), args.output)


if __name__ == "__main__":
    main()
