#!/usr/bin/env python3
"""Generate h5batch's committed sample data and reference outputs.

Run from anywhere (paths are relative to this script's folder):

    python3 scripts/make_reference.py

Writes into ``../data`` (i.e. ``<repo>/data``):

* ``weights.h5``    -- float32 parameters whose top-level dataset names are
  PyTorch state-dict keys (``fc1.weight``, ``fc1.bias``, ``prelu.weight``,
  ``fc2.weight``, ``fc2.bias``, ``fc1_keras.weight`` = ``fc1.weight``
  transposed to the Keras ``[in, out]`` layout, ``fc1_keras.bias``,
  ``prelu32.weight``, ``prelu1.weight``, ``nan.weight``/``nan.bias``
  where ``nan.weight[3, 5]`` is NaN, ``naninf.weight``/``naninf.bias``
  [16, 32]/[16] where ``naninf.weight[2, 7]`` is NaN, ``naninf.weight[9, 4]``
  is +Inf and ``naninf.bias[12]`` is NaN, ``naninf_keras.weight`` its
  transpose, ``prelu32_nan.weight`` [32] whose element 6 is NaN, and
  ``prelu1_nan.weight`` = [NaN]).
* ``sample.h5``     -- the demo input ``/features`` [10000, 32] float32.
* ``cases.h5``      -- test inputs (special values, several storage layouts
  and filters, ranks 1..3, every supported stored number type including
  float16 and big-endian types, plus a vlen-string and a compound dataset
  that h5batch must reject, and a sparse dataset whose unwritten chunks read
  as its fill value, 7.5, and ``/naninf_input`` [40, 32] in 8-row chunks,
  normals with exact zeros, a NaN, infinities and a tiny value in the column
  that meets the +Inf weight of ``naninf.weight``, and ``/norm_input`` [24, 32]
  for the normalization layers: non-finite rows, constant rows, a row far from 0).
* ``cases.json``    -- the manifest the Swift tests read: each case names an
  input dataset and a list of stages in exactly h5batch's pipeline schema
  (a stage is a bare name string or a one-key object name -> parameters).
* ``references.h5`` -- the expected output of every case, stored at
  ``"/" + case name``.

How the references are computed
-------------------------------
The references are computed independently of the Swift code, in float64
with numpy (under ``np.errstate(all="ignore")``), by a small interpreter
that walks the very same stage lists that are written into cases.json.
Inputs are read back from the written cases.h5 / sample.h5 (so the values
are exactly the values AS STORED -- e.g. after rounding to float16 or
narrowing to int8 -- converted exactly to float64), and weights are read
back from weights.h5 (float32 converted exactly to float64).

Stage semantics follow PyTorch; every stage acts on the LAST dimension and
all leading dimensions are rows:

* ``linear``     y = x . W^T + b   (layout "torch", W is [out, in], default)
                 y = x . W   + b   (layout "keras", W is [in, out])
                 Computed as an explicit elementwise product-and-sum in
                 float64 (not BLAS), so NaN/Inf propagate per IEEE 754:
                 any NaN term gives NaN, +Inf and -Inf terms give NaN.
* ``relu``       max(x, 0); NaN in -> NaN out.
* ``leaky_relu`` x if x > 0 else x * negative_slope (default 0.01); NaN
                 stays NaN and -inf with slope 0 gives NaN (-inf * 0).
* ``prelu``      x if x > 0 else w * x, with w from a weight dataset (one
                 value, or one per feature of the last dimension), an
                 inline ``value``, or the default 0.25.
* ``elu``        x if x > 0 else alpha * expm1(x) (alpha default 1.0); NaN
                 stays NaN, -inf -> -alpha.
* ``sigmoid``    1 / (1 + exp(-x)).
* ``tanh``       np.tanh(x).
* ``silu``       x / (1 + exp(-x)), PyTorch's formula: -inf gives NaN.
* ``gelu``       approximate "none" (default): x/2 * erfc(-x/sqrt(2)) (math.erfc,
                 equal to x/2 * (1 + erf(x/sqrt(2))) but without its cancellation
                 in the negative tail); approximate "tanh": x/2 * (1 + tanh(u)),
                 u = sqrt(2/pi) * (x + 0.044715 x^3), computed as the equal
                 x / (1 + exp(-2u)) for the same reason. -inf gives NaN, as in
                 PyTorch (-inf * 0).
* ``softplus``   x if beta*x > threshold else log1p(exp(beta*x)) / beta
                 (beta 1, threshold 20 by default).
* ``hardtanh``   x clamped to [min_val, max_val] (-1, 1); NaN stays NaN.
* ``softmax``    over the last dimension: exp(x - max) / sum(exp(x - max)); a
                 row with NaN, +inf or only -inf becomes NaN.
* ``layer_norm`` torch.nn.functional.layer_norm over the last dimension, in
                 float64 by PyTorch itself (weight, bias optional; eps 1e-5).
* ``batch_norm`` torch.nn.functional.batch_norm(training=False) on (rows,
                 features), in float64 by PyTorch itself.

The sign of zero in outputs is not meant to be significant (relu(-0.0) is
stored as +0.0 here; leaky_relu/prelu/elu of -0.0 give -0.0).

Everything is deterministic (fixed seeds with ``np.random.default_rng``).
All HDF5 files are written with ``libver="earliest"`` so that the Debian
libhdf5 1.10.8 used by the Swift side can read them (h5py bundles a newer
HDF5).  The script asserts that the total size of everything it writes
into data/ is below 5,100,000 bytes.
"""

import json
import math
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "data"))

WEIGHTS_FILE = "weights.h5"
SAMPLE_FILE = "sample.h5"
CASES_FILE = "cases.h5"
REFERENCES_FILE = "references.h5"
MANIFEST_FILE = "cases.json"

SIZE_LIMIT = 5_100_000  # 5.0 MB until the normalization layers (issue 16) added 96 KB
FEATURES = 32
HIDDEN = 64
OUTPUTS = 16


def path(name):
    return os.path.join(DATA, name)


def h5_write(name):
    """Open a data file for writing in the oldest (1.10-readable) format."""
    return h5py.File(path(name), "w", libver="earliest")


# ---------------------------------------------------------------------------
# weights.h5
# ---------------------------------------------------------------------------

def linear_init(rng, out_features, in_features):
    """Like torch.nn.Linear: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias."""
    bound = 1.0 / math.sqrt(in_features)
    w = rng.uniform(-bound, bound, size=(out_features, in_features))
    b = rng.uniform(-bound, bound, size=(out_features,))
    return w.astype(np.float32), b.astype(np.float32)


def distinct_prelu(rng, n):
    w = rng.uniform(0.05, 0.5, size=n).astype(np.float32)
    assert len(np.unique(w)) == n, "PReLU weights must be distinct per feature"
    return w


def make_weights():
    rng = np.random.default_rng(20240601)
    fc1_w, fc1_b = linear_init(rng, HIDDEN, FEATURES)       # [64, 32], [64]
    prelu_w = distinct_prelu(rng, HIDDEN)                    # [64]
    fc2_w, fc2_b = linear_init(rng, OUTPUTS, HIDDEN)         # [16, 64], [16]
    prelu32_w = distinct_prelu(rng, FEATURES)                # [32]
    prelu1_w = np.array([0.3], dtype=np.float32)             # [1]
    nan_w, nan_b = linear_init(rng, OUTPUTS, FEATURES)       # [16, 32], [16]
    nan_w[3, 5] = np.nan

    tensors = {
        "fc1.weight": fc1_w,
        "fc1.bias": fc1_b,
        "prelu.weight": prelu_w,
        "fc2.weight": fc2_w,
        "fc2.bias": fc2_b,
        "fc1_keras.weight": np.ascontiguousarray(fc1_w.T),  # [32, 64]
        "fc1_keras.bias": fc1_b.copy(),
        "prelu32.weight": prelu32_w,
        "prelu1.weight": prelu1_w,
        "nan.weight": nan_w,
        "nan.bias": nan_b,
    }
    # Non-finite parameters (issue 4): drawn from their own generator and appended after the
    # tensors above, so every earlier tensor keeps its values and its place in the file.
    rng2 = np.random.default_rng(20240605)
    naninf_w, naninf_b = linear_init(rng2, OUTPUTS, FEATURES)  # [16, 32], [16]
    naninf_w[2, 7] = np.nan      # output column 2: NaN for every row
    naninf_w[9, 4] = np.inf      # output column 9: sign(x[:, 4]) * Inf, NaN where x[:, 4] is 0 or NaN
    naninf_b[12] = np.nan        # output column 12: NaN for every row
    prelu32_nan_w = distinct_prelu(rng2, FEATURES)
    prelu32_nan_w[6] = np.nan    # feature 6: NaN wherever x <= 0 (or NaN), x where x > 0
    tensors.update({
        "naninf.weight": naninf_w,
        "naninf.bias": naninf_b,
        "naninf_keras.weight": np.ascontiguousarray(naninf_w.T),  # [32, 16]
        "prelu32_nan.weight": prelu32_nan_w,
        "prelu1_nan.weight": np.array([np.nan], dtype=np.float32),
    })
    # Normalization layers (issue 16), again from their own generator after everything above:
    # LayerNorm affines for rows of 32, 64 and 16 features, and BatchNorm running statistics
    # and affines for 32 and 64 features, as a trained nn.Module would hold them.
    rng3 = np.random.default_rng(20240610)
    for width in (32, 64, 16):
        tensors[f"ln{width}.weight"] = rng3.uniform(0.5, 1.5, size=width).astype(np.float32)
        tensors[f"ln{width}.bias"] = rng3.uniform(-0.5, 0.5, size=width).astype(np.float32)
    for width in (32, 64):
        tensors[f"bn{width}.running_mean"] = rng3.normal(0.0, 0.5, size=width).astype(np.float32)
        tensors[f"bn{width}.running_var"] = rng3.uniform(0.2, 3.0, size=width).astype(np.float32)
        tensors[f"bn{width}.weight"] = rng3.uniform(0.5, 1.5, size=width).astype(np.float32)
        tensors[f"bn{width}.bias"] = rng3.uniform(-0.5, 0.5, size=width).astype(np.float32)
    with h5_write(WEIGHTS_FILE) as f:
        for name, t in tensors.items():
            assert t.dtype == np.float32
            f.create_dataset(name, data=t)


# ---------------------------------------------------------------------------
# sample.h5
# ---------------------------------------------------------------------------

def make_sample():
    rng = np.random.default_rng(20240602)
    x = rng.standard_normal((10000, FEATURES)).astype(np.float32)
    with h5_write(SAMPLE_FILE) as f:
        f.create_dataset("features", data=x, chunks=(1000, FEATURES))


# ---------------------------------------------------------------------------
# cases.h5
# ---------------------------------------------------------------------------

SPECIAL_VALUES = [
    np.nan, np.inf, -np.inf, 0.0, -0.0,
    1e-30, -1e-30, 1e-8, -1e-8, 1e-3, -1e-3,
    0.5, -0.5, 1.0, -1.0, 10.0, -10.0, 100.0, -100.0, -1000.0,
    1e30, -1e30, 3.0e38, -3.0e38,
]

TYPE_SPECS = [
    # name, numpy dtype
    ("int8", "<i1"), ("int16", "<i2"), ("int32", "<i4"), ("int64", "<i8"),
    ("uint8", "<u1"), ("uint16", "<u2"), ("uint32", "<u4"), ("uint64", "<u8"),
    ("float16", "<f2"), ("float32", "<f4"), ("float64", "<f8"),
    ("int16be", ">i2"), ("uint32be", ">u4"),
    ("float32be", ">f4"), ("float64be", ">f8"),
]


def make_special(rng):
    """[64, 32]: rows 0-23 hold every special value in every row and column
    (x[i, j] = specials[(i + j) % 24]); rows 24-47 are a random half/half mix
    of specials and normals; rows 48-63 are plain standard normals."""
    n_rows, n_spec = 64, len(SPECIAL_VALUES)
    assert n_spec == 24
    specials = np.array(SPECIAL_VALUES, dtype=np.float64)
    x = rng.standard_normal((n_rows, FEATURES))
    for i in range(24):
        for j in range(FEATURES):
            x[i, j] = specials[(i + j) % n_spec]
    pick = rng.integers(0, n_spec, size=(24, FEATURES))
    use = rng.random((24, FEATURES)) < 0.5
    x[24:48] = np.where(use, specials[pick], x[24:48])
    x32 = x.astype(np.float32)
    # float32 must represent every special (3e38 < FLT_MAX, 1e-30 is normal).
    assert np.isfinite(x32[np.isfinite(x)]).all()
    assert np.signbit(x32[0, 4])  # -0.0 survived
    return x32


def make_special_linear(rng):
    x = rng.standard_normal((48, FEATURES))
    x[3, 9] = np.nan
    x[7, 2] = np.inf
    x[11, 30] = -np.inf
    x[15, 0] = np.inf
    x[15, 17] = -np.inf
    big = np.zeros(FEATURES, dtype=bool)
    big[rng.choice(FEATURES, size=8, replace=False)] = True
    signs = np.where(rng.random(FEATURES) < 0.5, -1.0, 1.0)
    x[20] = np.where(big, signs * 1e20, x[20])
    x32 = x.astype(np.float32)
    finite = x32[np.isfinite(x32)]
    assert np.abs(finite).max() <= np.float32(1e20)
    return x32


def make_naninf_input():
    """[40, 32] normals. Column 4 meets the +Inf weight naninf.weight[9, 4]: it holds
    +0.0 (row 5), -0.0 (row 6), NaN (row 10), -Inf (row 12), +Inf (row 13) and a tiny
    1e-30 (row 14); row 8 is all zeros; row 16 is all negative (so relu gives 0
    and elu gives alpha * expm1)."""
    rng = np.random.default_rng(20240606)
    x = rng.standard_normal((40, FEATURES))
    x[5, 4] = 0.0
    x[6, 4] = -0.0
    x[8, :] = 0.0
    x[10, 4] = np.nan
    x[12, 4] = -np.inf
    x[13, 4] = np.inf
    x[14, 4] = 1e-30
    x[16, :] = -np.abs(x[16, :]) - 0.1
    x32 = x.astype(np.float32)
    assert np.signbit(x32[6, 4]) and x32[14, 4] != 0
    return x32


def make_norm_input():
    """[24, 32] for the normalization layers: row 0 holds a NaN, row 1 +Inf, row 2 -Inf, row 3
    both infinities; row 4 is all zeros and row 5 constant (variance 0: the output is the bias);
    row 6 sits at 1000 with a spread of 0.01 (a mean far from 0, where a one-pass variance
    cancels); row 7 spans 1e15; the rest are normals."""
    rng = np.random.default_rng(20240611)
    x = rng.standard_normal((24, FEATURES))
    x[0, 3] = np.nan
    x[1, 9] = np.inf
    x[2, 0] = -np.inf
    x[3, 5], x[3, 6] = np.inf, -np.inf
    x[4, :] = 0.0
    x[5, :] = 7.0
    x[6, :] = 1000.0 + 0.01 * rng.standard_normal(FEATURES)
    x[7, :] *= 1e15
    return x.astype(np.float32)


def make_type_data(rng, dtype):
    dt = np.dtype(dtype)
    shape = (200, FEATURES)
    if dt.kind == "i":
        return rng.integers(-100, 101, size=shape).astype(dt)
    if dt.kind == "u":
        return rng.integers(0, 201, size=shape).astype(dt)
    assert dt.kind == "f"
    return (rng.standard_normal(shape) * 3.0).astype(dt)


def make_cases_inputs():
    rng = np.random.default_rng(20240603)
    with h5_write(CASES_FILE) as f:
        f.create_dataset("special", data=make_special(rng), chunks=(16, FEATURES))
        f.create_dataset("special_linear", data=make_special_linear(rng))

        normal = rng.standard_normal((1000, FEATURES)).astype(np.float32)
        f.create_dataset("normal_chunked", data=normal, chunks=(128, FEATURES))
        f.create_dataset("normal_contiguous", data=normal)
        f.create_dataset("normal_gzip", data=normal, chunks=(100, FEATURES),
                         compression="gzip", compression_opts=4, shuffle=True)

        f.create_dataset("rank1", data=rng.standard_normal(FEATURES).astype(np.float32))
        f.create_dataset("rank3",
                         data=rng.standard_normal((10, 37, FEATURES)).astype(np.float32),
                         chunks=(3, 10, FEATURES))

        types = f.create_group("types")
        for name, dtype in TYPE_SPECS:
            data = make_type_data(rng, dtype)
            ds = types.create_dataset(name, data=data, dtype=np.dtype(dtype),
                                      chunks=(64, FEATURES))
            assert ds.dtype == np.dtype(dtype), (name, ds.dtype)

        # Unsupported types, for error tests.
        f.create_dataset("strings", data=["alpha", "beta", "gamma", "delta"],
                         dtype=h5py.string_dtype(encoding="utf-8"))
        compound_t = np.dtype([("id", "<i4"), ("value", "<f8"), ("flag", "u1")])
        compound = np.zeros(4, dtype=compound_t)
        compound["id"] = [1, 2, 3, 4]
        compound["value"] = [0.5, -1.25, 2.0, 3.75]
        compound["flag"] = [1, 0, 1, 0]
        f.create_dataset("compound", data=compound)
        # Chunks 0 and 5 of 10 written; the rest never allocated and read as the fill value.
        sparse = f.create_dataset("sparse", shape=(100, 4), dtype="<f4", chunks=(10, 4), fillvalue=7.5)
        sparse[0:10] = np.arange(-20, 20, dtype=np.float32).reshape(10, 4)
        sparse[50:60] = np.arange(0, 40, dtype=np.float32).reshape(10, 4)
        # Appended last, from its own generator: the datasets above keep their values.
        f.create_dataset("naninf_input", data=make_naninf_input(), chunks=(8, FEATURES))
        f.create_dataset("norm_input", data=make_norm_input(), chunks=(5, FEATURES))


# ---------------------------------------------------------------------------
# Cases (manifest) and the float64 reference interpreter
# ---------------------------------------------------------------------------

def linear_stage(weight, bias=None, layout=None):
    params = {"file": WEIGHTS_FILE, "weight": weight}
    if bias is not None:
        params["bias"] = bias
    if layout is not None:
        params["layout"] = layout
    return {"linear": params}


MLP = [
    linear_stage("fc1.weight", "fc1.bias"),
    "relu",
    {"prelu": {"file": WEIGHTS_FILE, "weight": "prelu.weight"}},
    {"leaky_relu": {"negative_slope": 0.01}},
    linear_stage("fc2.weight", "fc2.bias", layout="torch"),
    {"elu": {"alpha": 1.0}},
]


def build_cases():
    cases = []

    def add(name, inp, stages, **extra):
        case = {"name": name, "input": inp, "stages": stages}
        case.update(extra)
        cases.append(case)

    s = "/special"
    add("relu/special", s, ["relu"])
    add("leaky_relu_default/special", s, ["leaky_relu"])
    add("leaky_relu_slope_0p2/special", s, [{"leaky_relu": {"negative_slope": 0.2}}])
    add("leaky_relu_slope_0/special", s, [{"leaky_relu": {"negative_slope": 0.0}}])
    add("prelu_file_per_feature/special", s,
        [{"prelu": {"file": WEIGHTS_FILE, "weight": "prelu32.weight"}}])
    add("prelu_file_single/special", s,
        [{"prelu": {"file": WEIGHTS_FILE, "weight": "prelu1.weight"}}])
    add("prelu_value_0p1/special", s, [{"prelu": {"value": 0.1}}])
    add("prelu_default/special", s, ["prelu"])
    add("elu_default/special", s, ["elu"])
    add("elu_alpha_0p5/special", s, [{"elu": {"alpha": 0.5}}])

    sl = "/special_linear"
    add("linear_bias/special_linear", sl, [linear_stage("fc1.weight", "fc1.bias")])
    add("linear_nobias/special_linear", sl, [linear_stage("fc1.weight")])
    add("linear_keras/special_linear", sl,
        [linear_stage("fc1_keras.weight", "fc1_keras.bias", layout="keras")])
    add("linear_nan_weight/special_linear", sl, [linear_stage("nan.weight", "nan.bias")])

    # Non-finite weights (issue 4): NaN and +Inf in the weight, NaN in the bias, NaN PReLU
    # slopes, propagated as PyTorch does (x*NaN = NaN, 0*Inf = NaN, relu(NaN) = NaN).
    ni = "/naninf_input"
    naninf = linear_stage("naninf.weight", "naninf.bias")
    add("linear_naninf/naninf_input", ni, [naninf])
    add("linear_naninf_relu/naninf_input", ni, [naninf, "relu"])
    add("linear_naninf_leaky_elu/naninf_input", ni,
        [naninf, {"leaky_relu": {"negative_slope": 0.1}}, {"elu": {"alpha": 0.5}}])
    add("linear_naninf_keras_relu_prelu_nan/naninf_input", ni,
        [linear_stage("naninf_keras.weight", "naninf.bias", layout="keras"), "relu",
         {"prelu": {"file": WEIGHTS_FILE, "weight": "prelu1_nan.weight"}}])
    add("linear_naninf_relu/special_linear", sl, [naninf, "relu"])
    add("prelu_nan_weight/special", s,
        [{"prelu": {"file": WEIGHTS_FILE, "weight": "prelu32_nan.weight"}}])
    add("prelu_nan_single/special", s,
        [{"prelu": {"file": WEIGHTS_FILE, "weight": "prelu1_nan.weight"}}])
    add("prelu_nan_weight/naninf_input", ni,
        [{"prelu": {"file": WEIGHTS_FILE, "weight": "prelu32_nan.weight"}},
         linear_stage("fc1.weight", "fc1.bias"), "relu"])

    # Issue 7's activations: defaults and parameters on the special values, fused after a
    # linear stage, and through whole MLPs.
    add("sigmoid/special", s, ["sigmoid"])
    add("tanh/special", s, ["tanh"])
    add("silu/special", s, ["silu"])
    add("gelu/special", s, ["gelu"])
    add("gelu_tanh/special", s, [{"gelu": {"approximate": "tanh"}}])
    add("softplus/special", s, ["softplus"])
    add("softplus_beta2_threshold5/special", s, [{"softplus": {"beta": 2, "threshold": 5}}])
    add("hardtanh/special", s, ["hardtanh"])
    add("hardtanh_m2_0p5/special", s, [{"hardtanh": {"min_val": -2, "max_val": 0.5}}])
    add("softmax/special", s, ["softmax"])
    add("softmax/special_linear", sl, ["softmax"])
    for stage in ["sigmoid", "tanh", "silu", "gelu", {"gelu": {"approximate": "tanh"}},
                  {"softplus": {"beta": 0.5}}, {"hardtanh": {"min_val": -0.5, "max_val": 2}}, "softmax"]:
        name = stage if isinstance(stage, str) else next(iter(stage)) + "_param"
        add(f"linear_{name}/special_linear", sl, [linear_stage("fc1.weight", "fc1.bias"), stage])
    add("linear_naninf_softmax/naninf_input", ni, [naninf, "softmax"])
    mlp_new = [linear_stage("fc1.weight", "fc1.bias"), "gelu",
               linear_stage("fc2.weight", "fc2.bias", layout="torch"), "softmax"]
    for inp in ["normal_chunked", "rank3"]:
        add("mlp_gelu_softmax/" + inp, "/" + inp, mlp_new)
    add("mlp_silu_tanh/normal_gzip", "/normal_gzip",
        [linear_stage("fc1.weight", "fc1.bias"), "silu", linear_stage("fc2.weight", "fc2.bias", layout="torch"),
         "tanh", {"softplus": {"beta": 2}}, {"hardtanh": {"min_val": 0.1, "max_val": 0.9}}, "sigmoid"])

    # Issue 16's normalization layers, with PyTorch itself as the reference: alone on the
    # special values (NaN and infinite rows), with and without their affine; after a linear
    # stage (layer_norm in its epilogue, batch_norm folded into its weights, in both layouts
    # and without a bias), where they cannot fold (after an activation) and before a linear stage.
    def layer_norm(width=None, weight=True, bias=True, eps=None):
        params = {}
        if width is not None:
            params["file"] = WEIGHTS_FILE
            if weight:
                params["weight"] = f"ln{width}.weight"
            if bias:
                params["bias"] = f"ln{width}.bias"
        if eps is not None:
            params["eps"] = eps
        return {"layer_norm": params} if params else "layer_norm"

    def batch_norm(width, affine=True, eps=None):
        params = {"file": WEIGHTS_FILE, "running_mean": f"bn{width}.running_mean",
                  "running_var": f"bn{width}.running_var"}
        if affine:
            params.update({"weight": f"bn{width}.weight", "bias": f"bn{width}.bias"})
        if eps is not None:
            params["eps"] = eps
        return {"batch_norm": params}

    fc1 = linear_stage("fc1.weight", "fc1.bias")
    no = "/norm_input"
    add("batch_norm/special", s, [batch_norm(32)])
    add("layer_norm/norm_input", no, [layer_norm()])
    add("layer_norm_affine/norm_input", no, [layer_norm(32)])
    add("layer_norm_weight_eps/norm_input", no, [layer_norm(32, bias=False, eps=0.1)])
    add("layer_norm_bias/norm_input", no, [layer_norm(32, weight=False)])
    add("batch_norm_stats_only/norm_input", no, [batch_norm(32, affine=False, eps=1e-3)])
    add("linear_layer_norm/norm_input", no, [fc1, layer_norm(64)])
    add("linear_batch_norm/norm_input", no, [fc1, batch_norm(64)])
    add("linear_keras_batch_norm/norm_input", no,
        [linear_stage("fc1_keras.weight", "fc1_keras.bias", layout="keras"), batch_norm(64)])
    add("linear_nobias_batch_norm_relu/norm_input", no, [linear_stage("fc1.weight"), batch_norm(64), "relu"])
    add("linear_relu_batch_norm/norm_input", no, [fc1, "relu", batch_norm(64, affine=False)])
    add("layer_norm_linear/norm_input", no, [layer_norm(32), fc1, "relu"])
    mlp_norms = [fc1, batch_norm(64), "relu", linear_stage("fc2.weight", "fc2.bias"), layer_norm(16), "gelu"]
    add("mlp_norms/norm_input", no, mlp_norms)

    for inp in ["normal_chunked", "normal_contiguous", "normal_gzip", "rank1", "rank3"]:
        add("mlp/" + inp, "/" + inp, MLP)
    for name, _ in TYPE_SPECS:
        add("mlp/types/" + name, "/types/" + name, MLP)

    add("demo/features", "/features", MLP, inputs_file=SAMPLE_FILE)

    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


class Weights:
    """Reads float32 parameters back from the written files as float64."""

    def __init__(self):
        self._cache = {}

    def get(self, file, name):
        key = (file, name)
        if key not in self._cache:
            with h5py.File(path(file), "r") as f:
                ds = f[name]
                assert ds.dtype == np.float32, (file, name, ds.dtype)
                self._cache[key] = ds[()].astype(np.float64)
        return self._cache[key]


def ref_linear(x, p, weights):
    w = weights.get(p["file"], p["weight"])
    layout = p.get("layout", "torch")
    if layout == "keras":
        w = np.ascontiguousarray(w.T)  # [in, out] -> [out, in]
    else:
        assert layout == "torch", layout
    out_f, in_f = w.shape
    assert x.shape[-1] == in_f, (x.shape, w.shape)
    lead = x.shape[:-1]
    rows = x.reshape(-1, in_f)
    y = np.empty((rows.shape[0], out_f), dtype=np.float64)
    block = 1024
    for start in range(0, rows.shape[0], block):
        r = rows[start:start + block]
        # Explicit products and sum (no BLAS) so IEEE NaN/Inf rules hold.
        y[start:start + block] = (r[:, None, :] * w[None, :, :]).sum(axis=-1)
    if "bias" in p:
        b = weights.get(p["file"], p["bias"])
        assert b.shape == (out_f,)
        y = y + b
    return y.reshape(lead + (out_f,))


def ref_relu(x, p, weights):
    assert not p
    return np.where(np.isnan(x), np.nan, np.where(x > 0, x, 0.0))


def ref_leaky_relu(x, p, weights):
    slope = float(p.get("negative_slope", 0.01))
    return np.where(x > 0, x, x * slope)  # NaN > 0 is False -> NaN*slope = NaN


def ref_prelu(x, p, weights):
    if "weight" in p:
        w = weights.get(p["file"], p["weight"])
        assert w.ndim == 1 and w.shape[0] in (1, x.shape[-1]), (w.shape, x.shape)
    elif "value" in p:
        w = np.array([float(p["value"])])
    else:
        w = np.array([0.25])
    return np.where(x > 0, x, w * x)     # broadcasts over the last dimension


def ref_elu(x, p, weights):
    alpha = float(p.get("alpha", 1.0))
    return np.where(x > 0, x, alpha * np.expm1(x))


def ref_sigmoid(x, p, weights):
    assert not p
    return 1.0 / (1.0 + np.exp(-x))


def ref_tanh(x, p, weights):
    assert not p
    return np.tanh(x)


def ref_silu(x, p, weights):
    assert not p
    return x / (1.0 + np.exp(-x))


ERFC = np.vectorize(math.erfc, otypes=[np.float64])


def ref_gelu(x, p, weights):
    approximate = p.get("approximate", "none")
    if approximate == "none":
        return 0.5 * x * ERFC(-x / math.sqrt(2.0))
    assert approximate == "tanh", approximate
    u = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)
    return x / (1.0 + np.exp(-2.0 * u))


def ref_softplus(x, p, weights):
    beta = float(p.get("beta", 1.0))
    threshold = float(p.get("threshold", 20.0))
    return np.where(x * beta > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def ref_hardtanh(x, p, weights):
    low, high = float(p.get("min_val", -1.0)), float(p.get("max_val", 1.0))
    return np.where(np.isnan(x), np.nan, np.clip(x, low, high))


def ref_softmax(x, p, weights):
    assert p.get("dim", -1) == -1, p
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def torch_vector(weights, p, key):
    import torch
    return torch.from_numpy(weights.get(p["file"], p[key])) if key in p else None


def ref_layer_norm(x, p, weights):
    """PyTorch itself (torch.nn.functional.layer_norm), in float64."""
    import torch
    y = torch.nn.functional.layer_norm(torch.from_numpy(x), (x.shape[-1],), torch_vector(weights, p, "weight"),
                                       torch_vector(weights, p, "bias"), float(p.get("eps", 1e-5)))
    return y.numpy()


def ref_batch_norm(x, p, weights):
    """PyTorch itself (torch.nn.functional.batch_norm, training=False) on (rows, features), in float64."""
    import torch
    rows = torch.from_numpy(x.reshape(-1, x.shape[-1]))
    y = torch.nn.functional.batch_norm(rows, torch_vector(weights, p, "running_mean"),
                                       torch_vector(weights, p, "running_var"), torch_vector(weights, p, "weight"),
                                       torch_vector(weights, p, "bias"), training=False, eps=float(p.get("eps", 1e-5)))
    return y.numpy().reshape(x.shape)


REF_STAGES = {
    "linear": ref_linear,
    "relu": ref_relu,
    "leaky_relu": ref_leaky_relu,
    "prelu": ref_prelu,
    "elu": ref_elu,
    "sigmoid": ref_sigmoid,
    "tanh": ref_tanh,
    "silu": ref_silu,
    "gelu": ref_gelu,
    "softplus": ref_softplus,
    "hardtanh": ref_hardtanh,
    "softmax": ref_softmax,
    "layer_norm": ref_layer_norm,
    "batch_norm": ref_batch_norm,
}


def run_reference(x, stages, weights):
    for stage in stages:
        if isinstance(stage, str):
            name, params = stage, {}
        else:
            assert isinstance(stage, dict) and len(stage) == 1, stage
            (name, params), = stage.items()
        x = REF_STAGES[name](x, params, weights)
        assert x.dtype == np.float64
    return x


def read_input(file, dataset):
    with h5py.File(path(file), "r") as f:
        raw = f[dataset][()]
    arr = np.asarray(raw)
    assert arr.dtype.kind in "iuf", (file, dataset, arr.dtype)
    x = arr.astype(np.float64)
    # The conversion to float64 must be exact for every stored value.
    finite = np.isfinite(x)
    if arr.dtype.kind == "f":
        assert np.array_equal(x.astype(arr.dtype)[finite], arr[finite])
    else:
        assert np.array_equal(x.astype(arr.dtype), arr)
    return x


def uses_normalization(case):
    return any(isinstance(stage, dict) and next(iter(stage)) in ("layer_norm", "batch_norm") or stage == "layer_norm"
               for stage in case["stages"])


def make_references(cases):
    weights = Weights()
    results = {}
    with h5_write(REFERENCES_FILE) as f:
        for case in cases:
            in_file = case.get("inputs_file", CASES_FILE)
            x = read_input(in_file, case["input"])
            y = run_reference(x, case["stages"], weights)
            results[case["name"]] = y
            # The big demo reference and the normalization layers' are stored as float32 (size
            # budget): rounding a float64 result to float32 moves it by 6e-8, far inside the
            # tests' tolerance.
            dtype = np.float32 if case["name"] == "demo/features" or uses_normalization(case) else np.float64
            f.create_dataset(case["name"], data=y.astype(dtype))
    return results


def check_references(results):
    eq = lambda a, b: np.array_equal(a, b, equal_nan=True)
    # Keras layout reproduces the torch layout exactly.
    assert eq(results["linear_keras/special_linear"], results["linear_bias/special_linear"])
    # A NaN weight at [3, 5] poisons output column 3 for every row, and only it.
    nanref = results["linear_nan_weight/special_linear"]
    assert np.isnan(nanref[:, 3]).all()
    base = results["linear_bias/special_linear"]
    other = np.delete(np.delete(nanref, 3, axis=1), [3, 15], axis=0)
    assert not np.isnan(other).any()   # only the NaN-input row / inf-inf row
    # NaN / Inf propagation in the linear rows.
    assert np.isnan(base[3]).all()
    assert np.isinf(base[7]).all() and np.isinf(base[11]).all()
    assert np.isnan(base[15]).any()
    assert np.isfinite(base[20]).all() and np.abs(base[20]).max() > 1e18
    assert np.isfinite(np.delete(base, [3, 7, 11, 15], axis=0)).all()
    # The three storage layouts of the same values agree exactly.
    assert eq(results["mlp/normal_chunked"], results["mlp/normal_contiguous"])
    assert eq(results["mlp/normal_chunked"], results["mlp/normal_gzip"])
    # Elementwise activations on specials: NaN stays NaN.
    nan_mask = np.isnan(read_input(CASES_FILE, "/special"))
    for name in ["relu/special", "leaky_relu_default/special", "prelu_default/special",
                 "elu_default/special"]:
        assert eq(np.isnan(results[name]), nan_mask), name
    # leaky_relu with slope 0: -inf * 0 = NaN, as in PyTorch.
    special = read_input(CASES_FILE, "/special")
    assert np.isnan(results["leaky_relu_slope_0/special"][special == -np.inf]).all()
    assert (results["elu_alpha_0p5/special"][special == -np.inf] == -0.5).all()
    # Non-finite weights (issue 4).
    x = read_input(CASES_FILE, "/naninf_input")
    y = results["linear_naninf/naninf_input"]
    assert np.isnan(y[:, 2]).all() and np.isnan(y[:, 12]).all()
    assert np.isnan(y[10]).all()                              # NaN input: the whole row
    nan9 = (x[:, 4] == 0) | np.isnan(x[:, 4])                  # 0 * Inf and NaN * Inf
    assert np.isnan(y[nan9, 9]).all() and nan9[[5, 6, 8, 10]].all()
    assert (y[~nan9, 9] == np.sign(x[~nan9, 4]) * np.inf).all()  # incl. 1e-30 * Inf = Inf
    assert y[12, 9] == -np.inf and y[13, 9] == np.inf and y[14, 9] == np.inf
    finite_rows = np.delete(np.arange(40), [10, 12, 13])
    assert np.isfinite(np.delete(y[finite_rows], [2, 9, 12], axis=1)).all()
    r = results["linear_naninf_relu/naninf_input"]
    assert eq(np.isnan(r), np.isnan(y)) and (r[y == -np.inf] == 0).all()
    assert (r[~np.isnan(r)] >= 0).all()
    le = results["linear_naninf_leaky_elu/naninf_input"]
    assert eq(np.isnan(le), np.isnan(y)) and (le[y == -np.inf] == -0.5).all()
    assert (le[y == np.inf] == np.inf).all()
    kr = results["linear_naninf_keras_relu_prelu_nan/naninf_input"]
    assert eq(np.isnan(kr), np.isnan(r) | (r == 0))            # NaN slope * 0 = NaN
    assert eq(kr[~np.isnan(kr)], r[~np.isnan(kr)])
    special = read_input(CASES_FILE, "/special")
    pn = results["prelu_nan_weight/special"]
    col6 = np.zeros_like(special, dtype=bool)
    col6[:, 6] = True
    assert eq(np.isnan(pn), np.isnan(special) | (col6 & ~(special > 0)))
    assert eq(np.isnan(results["prelu_nan_single/special"]), ~(special > 0))
    pl = results["prelu_nan_weight/naninf_input"]
    bad_rows = ~(x[:, 6] > 0) | np.isnan(x).any(axis=1)
    assert np.isnan(pl[bad_rows]).all()
    assert not np.isnan(pl[~bad_rows]).any()
    # Issue 7's activations.
    for name in ["sigmoid/special", "tanh/special", "softplus/special", "hardtanh/special"]:
        assert eq(np.isnan(results[name]), nan_mask), name
    assert (results["sigmoid/special"][special == np.inf] == 1).all()
    assert (results["sigmoid/special"][special == -np.inf] == 0).all()
    assert np.isnan(results["silu/special"][special == -np.inf]).all()
    assert np.isnan(results["gelu/special"][special == -np.inf]).all()
    assert (results["softplus/special"][special == -np.inf] == 0).all()
    ht = results["hardtanh_m2_0p5/special"]
    assert ((ht[~np.isnan(ht)] >= -2) & (ht[~np.isnan(ht)] <= 0.5)).all()
    for name in ["softmax/special", "softmax/special_linear", "linear_softmax/special_linear",
                 "linear_naninf_softmax/naninf_input", "mlp_gelu_softmax/normal_chunked"]:
        y = results[name]
        rows = ~np.isnan(y).any(axis=-1)
        assert np.allclose(y[rows].sum(axis=-1), 1.0), name
        assert (np.isnan(y).all(axis=-1) | rows).all(), name    # a row is NaN whole or not at all
    # Normalization layers (issue 16): a row with NaN or +-inf is NaN whole after layer_norm
    # and fine otherwise; batch_norm keeps NaN where the input had it, element by element.
    for name, inp in [("layer_norm/norm_input", "/norm_input"),
                      ("layer_norm_affine/norm_input", "/norm_input")]:
        x = read_input(CASES_FILE, inp)
        bad = ~np.isfinite(x).all(axis=-1)
        assert bad.any() and np.isnan(results[name][bad]).all() and np.isfinite(results[name][~bad]).all(), name
    plain = results["layer_norm/norm_input"]
    finite_rows = np.isfinite(plain).all(axis=-1)
    assert np.allclose(plain[finite_rows].mean(axis=-1), 0, atol=1e-9)
    assert eq(np.isnan(results["batch_norm/special"]), nan_mask)
    import torch
    # Variance 0: the output is the bias. PyTorch in float32 gives the same numbers on every
    # finite row of norm_input but row 6, where its float32 x*rstd - mean*rstd cancels
    # (errors near 4e-3; h5batch's double moments stay with the float64 result).
    ln = results["layer_norm_affine/norm_input"]
    bias32 = Weights().get(WEIGHTS_FILE, "ln32.bias")
    assert np.allclose(ln[4], bias32) and np.allclose(ln[5], bias32)
    x = read_input(CASES_FILE, "/norm_input")
    ok = np.isfinite(x).all(axis=-1)
    ok[6] = False
    y32 = torch.nn.functional.layer_norm(torch.from_numpy(x.astype(np.float32)), (FEATURES,)).double().numpy()
    assert np.allclose(y32[ok], results["layer_norm/norm_input"][ok], atol=2e-4), np.abs(y32[ok] - results["layer_norm/norm_input"][ok]).max()
    # All mlp outputs are finite.
    for name, y in results.items():
        if name.startswith(("mlp/", "demo/")):
            assert np.isfinite(y).all(), name
            assert y.shape[-1] == OUTPUTS, name


def write_manifest(cases):
    manifest = {
        "inputs_file": CASES_FILE,
        "references_file": REFERENCES_FILE,
        "weights_file": WEIGHTS_FILE,
        "cases": cases,
    }
    with open(path(MANIFEST_FILE), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


def main():
    os.makedirs(DATA, exist_ok=True)
    make_weights()
    make_sample()
    make_cases_inputs()
    cases = build_cases()
    write_manifest(cases)
    results = make_references(cases)
    check_references(results)

    # Every case has its reference with the right shape.
    with h5py.File(path(REFERENCES_FILE), "r") as ref:
        for case in cases:
            in_file = case.get("inputs_file", CASES_FILE)
            with h5py.File(path(in_file), "r") as f:
                in_shape = f[case["input"]].shape
            assert case["name"] in ref, case["name"]
            assert ref[case["name"]].shape == results[case["name"]].shape
            assert ref[case["name"]].shape[:-1] == in_shape[:-1], case["name"]

    written = [WEIGHTS_FILE, SAMPLE_FILE, CASES_FILE, MANIFEST_FILE, REFERENCES_FILE]
    total = 0
    for name in written:
        size = os.path.getsize(path(name))
        total += size
        print(f"{size:>10,d}  data/{name}")
    print(f"{total:>10,d}  total ({len(cases)} cases)")
    assert total < SIZE_LIMIT, f"data/ is {total} bytes, limit {SIZE_LIMIT}"


if __name__ == "__main__":
    with np.errstate(all="ignore"):
        main()
