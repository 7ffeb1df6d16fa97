#!/usr/bin/env python3
"""Generate the ONNX and safetensors fixtures under ``data/onnx`` (PyTorch makes them all).

Run from anywhere: ``/work/venv/bin/python scripts/make_onnx_fixtures.py`` (torch, onnx,
onnxscript, safetensors, h5py, numpy).

Each ``nn.Sequential`` stack in MODELS is exported by both of PyTorch's exporters:

* ``NAME-ts13.onnx``, ``NAME-ts17.onnx``: the TorchScript exporter (``dynamo=False``) at opsets
  13 and 17 (opset 13 decomposes LayerNorm; both decompose GELU into Div/Erf/Add/Mul/Mul);
* ``NAME-dy18.onnx``, ``NAME-dy20.onnx``: the default ``torch.export`` exporter at opsets 18
  and 20 (it folds an eval BatchNorm into the Gemm before it; opset 20 has ``Gelu``);
* ``NAME.safetensors``: the stack's ``state_dict`` (``safetensors.torch.save_file``).

The stacks: ``mlp`` (Linear, ReLU, Linear), ``activations`` (every activation, PReLU with one
and with 12 slopes, Flatten, Dropout), ``gelu`` (exact and tanh GELU, SiLU, ReLU6), ``norm``
(LayerNorm and an eval BatchNorm after Linear layers) and ``matmul`` (``x @ W + b``).

``references.h5`` holds ``/input`` [37, 6] float32 (row 3 all NaN, row 10 one NaN) and, for each
stack, ``/NAME`` = PyTorch's own output for it (eval mode, float32). ``/mlp_f16``, ``/mlp_bf16``
are the outputs of ``mlp`` with its parameters rounded to float16 / bfloat16 first;
``/relu_mlp_softmax`` is softmax(mlp(relu(input))); ``/gemm_attributes`` and
``/clip_attributes``, ``/layernorm_by_hand`` are numpy's outputs for the hand-written graphs
(handwritten_models).

Further files:

* ``mlp-f16.onnx``, ``mlp-bf16.onnx``, ``mlp-f64.onnx``: ``mlp-ts17.onnx`` with its initializers
  rewritten as float16 / bfloat16 raw data, and float64 in ``double_data`` (typed fields);
  ``mlp-typed.onnx`` with float32 initializers in ``float_data`` instead of ``raw_data``,
  ``mlp-f16-typed.onnx`` / ``mlp-bf16-typed.onnx`` with float16 / bfloat16 bits in ``int32_data``;
* ``mlp.f16.safetensors``, ``mlp.bf16.safetensors``, ``mlp.f64.safetensors``: mlp's state dict
  in those dtypes;
* ``mlp-external.onnx`` + ``mlp-external.bin``: the initializers as external data beside the model;
* negative: ``residual.onnx`` (x + Linear(x)), ``conv.onnx`` (a Conv1d), ``two-inputs.onnx``,
  ``truncated.onnx`` (the first half of ``mlp-ts17.onnx``), ``external-short.onnx`` whose
  ``external-short.bin`` is shorter than its initializers say.
"""
import os
import shutil

import h5py
import numpy as np
import onnx
import torch
from onnx import numpy_helper
from safetensors.torch import save_file
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "onnx")
IN_FEATURES = 6
ROWS = 37


class MatMulStack(nn.Module):
    """Products written as ``x @ W + b`` (MatMul and Add in ONNX; ``W`` is ``[in, out]``)."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(IN_FEATURES, 8) * 0.4)
        self.b1 = nn.Parameter(torch.randn(8) * 0.1)
        self.w2 = nn.Parameter(torch.randn(8, 5) * 0.4)

    def forward(self, v):
        return torch.relu(v @ self.w1 + self.b1) @ self.w2


def models():
    torch.manual_seed(16)
    batch_norm = nn.BatchNorm1d(12)
    with torch.no_grad():  # running statistics that are not the identity
        batch_norm.running_mean.uniform_(-0.5, 0.5)
        batch_norm.running_var.uniform_(0.5, 2.0)
        batch_norm.weight.uniform_(0.5, 1.5)
        batch_norm.bias.uniform_(-0.3, 0.3)
    layer_norm = nn.LayerNorm(12)
    with torch.no_grad():
        layer_norm.weight.uniform_(0.5, 1.5)
        layer_norm.bias.uniform_(-0.3, 0.3)
    matmul = MatMulStack()
    return {
        "matmul": matmul,
        "mlp": nn.Sequential(nn.Linear(IN_FEATURES, 16), nn.ReLU(), nn.Linear(16, 4)),
        "activations": nn.Sequential(
            nn.Flatten(), nn.Linear(IN_FEATURES, 12), nn.LeakyReLU(0.2), nn.Linear(12, 12), nn.ELU(0.7),
            nn.PReLU(12), nn.Dropout(0.3), nn.Linear(12, 10), nn.Sigmoid(), nn.Linear(10, 10), nn.Tanh(),
            nn.Linear(10, 9), nn.Softplus(), nn.Linear(9, 9), nn.Hardtanh(-0.5, 0.8), nn.PReLU(),
            nn.Linear(9, 5), nn.Softmax(dim=-1)),
        "gelu": nn.Sequential(
            nn.Linear(IN_FEATURES, 12), nn.GELU(), nn.Linear(12, 12), nn.GELU(approximate="tanh"),
            nn.Linear(12, 8), nn.SiLU(), nn.Linear(8, 3), nn.ReLU6()),
        "norm": nn.Sequential(
            nn.Linear(IN_FEATURES, 12), layer_norm, nn.ReLU(), nn.Linear(12, 12), batch_norm, nn.ReLU(),
            nn.Linear(12, 4)),
    }


def export_all(name, model, x):
    model.eval()
    for opset in (13, 17):
        torch.onnx.export(model, (x,), os.path.join(OUT, f"{name}-ts{opset}.onnx"), dynamo=False,
                          opset_version=opset, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "rows"}, "y": {0: "rows"}})
    for opset in (18, 20):
        program = torch.onnx.export(model, (x,), dynamo=True, opset_version=opset,
                                    dynamic_shapes=({0: torch.export.Dim("rows")},))
        program.save(os.path.join(OUT, f"{name}-dy{opset}.onnx"), external_data=False)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              os.path.join(OUT, f"{name}.safetensors"))


def rewritten(source, destination, convert):
    model = onnx.load(source)
    for index, initializer in enumerate(model.graph.initializer):
        model.graph.initializer[index].CopyFrom(convert(numpy_helper.to_array(initializer), initializer.name))
    onnx.save(model, destination)


def bfloat16_tensor(values, name):
    bits = (np.asarray(values, dtype=np.float32).view(np.uint32) + 0x7FFF
            + ((np.asarray(values, dtype=np.float32).view(np.uint32) >> 16) & 1)) >> 16
    tensor = onnx.TensorProto(name=name, data_type=onnx.TensorProto.BFLOAT16, dims=list(values.shape))
    tensor.raw_data = bits.astype("<u2").tobytes()
    return tensor


def typed_tensor(values, name, data_type):
    tensor = onnx.TensorProto(name=name, data_type=data_type, dims=list(values.shape))
    if data_type == onnx.TensorProto.FLOAT16:  # the bits of each value in int32_data
        tensor.int32_data.extend(values.astype(np.float16).view(np.uint16).ravel().tolist())
    elif data_type == onnx.TensorProto.BFLOAT16:
        tensor.int32_data.extend(np.frombuffer(bfloat16_tensor(values, name).raw_data, dtype="<u2").tolist())
    elif data_type == onnx.TensorProto.DOUBLE:
        tensor.double_data.extend(values.astype(np.float64).ravel().tolist())
    else:
        tensor.float_data.extend(values.astype(np.float32).ravel().tolist())
    return tensor


def handwritten_models(x):
    """Graphs no PyTorch exporter writes but ONNX allows, built with onnx.helper, and their
    outputs computed with numpy in float64: ``gemm-attributes.onnx`` (opset 13: Gemm with
    alpha 0.5, beta 2, transB 0 and a [1, 5] bias, Clip with bounds from Constant inputs, Gemm
    with a one-value bias, Softmax) and ``clip-attributes.onnx`` (opset 10: Clip's bounds as
    attributes, Softmax over axis 1, LeakyRelu with its default slope), and
    ``layernorm-by-hand.onnx`` (opset 18: LayerNorm decomposed with its operands swapped)."""
    from onnx import TensorProto, helper
    rng = np.random.default_rng(16)
    b1 = rng.normal(size=(IN_FEATURES, 5)).astype(np.float32)
    c1 = rng.normal(size=(1, 5)).astype(np.float32)
    b2 = rng.normal(size=(3, 5)).astype(np.float32)
    c2 = np.array([0.25], dtype=np.float32)
    rows = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", IN_FEATURES])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", 3])
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "b1", "c1"], ["g1"], alpha=0.5, beta=2.0, transB=0),
         helper.make_node("Constant", [], ["low"], value=numpy_helper.from_array(np.array(-0.7, dtype=np.float32))),
         helper.make_node("Constant", [], ["high"], value_float=0.9),
         helper.make_node("Clip", ["g1", "low", "high"], ["clipped"]),
         helper.make_node("Gemm", ["clipped", "b2", "c2"], ["g2"], transB=1),
         helper.make_node("Softmax", ["g2"], ["y"], axis=-1)],
        "gemm_attributes", [rows], [out],
        [numpy_helper.from_array(v, n) for v, n in ((b1, "b1"), (c1, "c1"), (b2, "b2"), (c2, "c2"))])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(OUT, "gemm-attributes.onnx"))

    def softmax(v):
        e = np.exp(v - v.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    xd = x.astype(np.float64)
    g1 = 0.5 * xd @ b1 + 2.0 * c1
    gemm_reference = softmax(np.clip(g1, -0.7, 0.9) @ b2.T.astype(np.float64) + 0.25)

    w = rng.normal(size=(4, IN_FEATURES)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w"], ["g"], transB=1),
         helper.make_node("LeakyRelu", ["g"], ["leaky"]),
         helper.make_node("Clip", ["leaky"], ["clipped"], min=-0.5, max=0.5),
         helper.make_node("Softmax", ["clipped"], ["y"], axis=1)],
        "clip_attributes", [rows], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", 4])],
        [numpy_helper.from_array(w, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)]), os.path.join(OUT, "clip-attributes.onnx"))
    g = xd @ w.T.astype(np.float64)
    clip_reference = softmax(np.clip(np.where(g > 0, g, 0.01 * g), -0.5, 0.5))

    # LayerNorm written out at opset 18 (ReduceMean's axes as an input), operands swapped, x·x
    # for the square, eps 1e-3 as an initializer, a weight and no bias.
    w0 = rng.normal(size=(8, IN_FEATURES)).astype(np.float32)
    c0 = rng.normal(size=(8,)).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, size=(8,)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w0", "c0"], ["h"], transB=1),
         helper.make_node("ReduceMean", ["h", "axes"], ["mean"]),
         helper.make_node("Sub", ["h", "mean"], ["centred"]),
         helper.make_node("Mul", ["centred", "centred"], ["squared"]),
         helper.make_node("ReduceMean", ["squared", "axes"], ["variance"]),
         helper.make_node("Add", ["eps", "variance"], ["shifted"]),
         helper.make_node("Sqrt", ["shifted"], ["deviation"]),
         helper.make_node("Div", ["centred", "deviation"], ["normal"]),
         helper.make_node("Mul", ["gamma", "normal"], ["y"])],
        "layer_norm_by_hand", [rows], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", 8])],
        [numpy_helper.from_array(w0, "w0"), numpy_helper.from_array(c0, "c0"), numpy_helper.from_array(gamma, "gamma"),
         numpy_helper.from_array(np.array([-1], dtype=np.int64), "axes"),
         numpy_helper.from_array(np.array(1e-3, dtype=np.float32), "eps")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), os.path.join(OUT, "layernorm-by-hand.onnx"))
    h = xd @ w0.T.astype(np.float64) + c0
    centred = h - h.mean(axis=-1, keepdims=True)
    layer_norm_reference = gamma * centred / np.sqrt((centred ** 2).mean(axis=-1, keepdims=True) + np.float64(np.float32(1e-3)))
    return {"gemm_attributes": gemm_reference, "clip_attributes": clip_reference, "layernorm_by_hand": layer_norm_reference}


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(7)
    x = torch.randn(ROWS, IN_FEATURES)
    x[3, :] = float("nan")
    x[10, 2] = float("nan")
    references = {"input": x.numpy()}
    stacks = models()
    for name, model in stacks.items():
        model.eval()
        with torch.no_grad():
            references[name] = model(x).numpy()
        export_all(name, model, x)

    mlp = stacks["mlp"]
    with torch.no_grad():  # an onnx: stage between pipeline stages: relu, the model, softmax
        references["relu_mlp_softmax"] = torch.softmax(mlp(torch.relu(x)), dim=-1).numpy()
    base = os.path.join(OUT, "mlp-ts17.onnx")
    rewritten(base, os.path.join(OUT, "mlp-f16.onnx"),
              lambda v, n: numpy_helper.from_array(v.astype(np.float16), n))
    rewritten(base, os.path.join(OUT, "mlp-bf16.onnx"), lambda v, n: bfloat16_tensor(v, n))
    rewritten(base, os.path.join(OUT, "mlp-f64.onnx"), lambda v, n: typed_tensor(v, n, onnx.TensorProto.DOUBLE))
    rewritten(base, os.path.join(OUT, "mlp-typed.onnx"), lambda v, n: typed_tensor(v, n, onnx.TensorProto.FLOAT))
    rewritten(base, os.path.join(OUT, "mlp-f16-typed.onnx"), lambda v, n: typed_tensor(v, n, onnx.TensorProto.FLOAT16))
    rewritten(base, os.path.join(OUT, "mlp-bf16-typed.onnx"), lambda v, n: typed_tensor(v, n, onnx.TensorProto.BFLOAT16))
    for dtype, suffix in ((torch.float16, "f16"), (torch.bfloat16, "bf16"), (torch.float64, "f64")):
        state = {k: v.to(dtype).contiguous() for k, v in mlp.state_dict().items()}
        save_file(state, os.path.join(OUT, f"mlp.{suffix}.safetensors"))
        if dtype != torch.float64:
            rounded = nn.Sequential(nn.Linear(IN_FEATURES, 16), nn.ReLU(), nn.Linear(16, 4))
            rounded.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})
            with torch.no_grad():
                references[f"mlp_{suffix}"] = rounded(x).numpy()

    external = onnx.load(base)
    onnx.save_model(external, os.path.join(OUT, "mlp-external.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="mlp-external.bin", size_threshold=0)
    short = onnx.load(base)
    onnx.save_model(short, os.path.join(OUT, "external-short.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="external-short.bin", size_threshold=0)
    with open(os.path.join(OUT, "external-short.bin"), "r+b") as f:
        f.truncate(os.path.getsize(os.path.join(OUT, "external-short.bin")) - 40)
    with open(base, "rb") as f:
        data = f.read()
    with open(os.path.join(OUT, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(IN_FEATURES, IN_FEATURES)

        def forward(self, v):
            return v + self.fc(v)

    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(IN_FEATURES, 3)
            self.b = nn.Linear(IN_FEATURES, 3)

        def forward(self, u, v):
            return self.a(u) * self.b(v)

    conv = nn.Sequential(nn.Conv1d(1, 2, 3), nn.Flatten())
    for name, model, args in (("residual", Residual(), (x,)), ("conv", conv, (x.unsqueeze(1),)),
                              ("two-inputs", TwoInputs(), (x, x))):
        model.eval()
        torch.onnx.export(model, args, os.path.join(OUT, f"{name}.onnx"), dynamo=False, opset_version=17)

    references.update(handwritten_models(x.numpy()))

    with h5py.File(os.path.join(OUT, "references.h5"), "w") as f:
        for name, values in references.items():
            f.create_dataset(name, data=values.astype(np.float32))


if __name__ == "__main__":
    main()
