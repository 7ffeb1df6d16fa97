#!/usr/bin/env python3
"""Benchmark h5batch against the tools a user would otherwise run, and against hardware floors.

What it measures
----------------
Standard workloads over one float32 dataset of ROWS x 256 (default 1,048,576 rows = 1 GiB),
stored in chunks of 8192 rows and generated with `h5batch generate --seed 1`:

  relu    uncompressed input -> relu -> uncompressed output
  mlp     uncompressed input -> linear 256->1024 (+bias) -> relu -> linear 1024->256 (+bias)
          -> uncompressed output
  gzip    gzip-4 + shuffle input -> relu -> leaky_relu(0.01) -> gzip-4 + shuffle output
  zstd    the same data stored by h5py + hdf5plugin as Zstd-3 + shuffle -> relu -> leaky_relu(0.01)
          -> Zstd-3 + shuffle output; peers h5py and dask, both with hdf5plugin
  onnx    the mlp workload's model exported by torch.onnx.export (bench/peers/export_onnx.py),
          run by `h5batch run MODEL.onnx` and by h5py + ONNX Runtime, against h5batch on the
          hand-written mlp pipeline
  codecs  uncompressed input -> relu -> leaky_relu(0.01) -> h5batch's output written with each
          codec of the CODECS table below: a table of time, output size and ratio

The first four are run by every entry that applies:

  h5batch          `h5batch run PIPELINE` (mini-batch mode, batch 8192, workers auto)
  h5batch --mode full
  h5py stream      bench/peers/h5py_stream.py: h5py + numpy loop over 8192-row slices
  h5py full        bench/peers/h5py_full.py: read everything, compute, write
  dask             bench/peers/dask_array.py: dask.array + to_hdf5, threaded scheduler
  torch            bench/peers/torch_stream.py: h5py + a PyTorch nn.Sequential over 8192-row slices
  onnxruntime      bench/peers/onnxruntime_stream.py: h5py + an ONNX Runtime session over the
                   same slices (the model written once by bench/peers/make_onnx.py)
  floor copy       (relu, gzip) bench/floors.c: raw chunks in -> out, no decoding, fsync
  floor sgemm      (mlp) the best GEMM on the machine alone on the MLP's FLOPs, no I/O: the
                   fastest of bench/floors.c built against each installed library (OpenBLAS,
                   oneDNN's dnnl_sgemm, BLIS), of oneDNN's matmul primitive called as h5batch
                   calls it (`floors-onednn matmul`: 256-row tiles, weights packed once, bias
                   fused), and of MKL through PyTorch (bench/peers/torch_gemm_floor.py)

The zstd workload runs h5batch (both modes), h5py stream, h5py full, dask and the copy floor.
The onnx workload runs h5batch on mlp's pipeline file, `h5batch run MODEL.onnx`, and the ONNX
Runtime peer on the same .onnx file with its best settings (intra-op threads = cores, every
graph optimization, large slices: ORT_BEST_BATCH_ROWS). Before a workload that needs a feature h5batch may
lack (Zstd, an output codec, ONNX models), h5batch runs it once on a 256-row input; if that
fails, the h5batch entries are skipped with a line quoting h5batch's error, and the peers run.

Every entry is a separate process, measured the same way from outside: wall time from spawn to
exit, and the child's own peak RSS (ru_maxrss from wait4). Both are taken by bench/measure.c, a
tiny launcher: a process spawned straight from this Python driver would start with the driver's
own peak RSS as its ru_maxrss (see measure.c). The one exception is the sgemm floor's time,
which is its own measurement of the compute: each candidate GEMM runs in its own process,
tries two threading schemes and reports the faster, and the floor is the fastest candidate of
each repetition. Repetitions are interleaved round-robin (repetition 1 of every entry, then
repetition 2, ...), so that machine noise hits all entries alike. The output is deleted and
dirty pages are written back (sync) before every run; the page cache is not dropped, so inputs
are read from a warm cache. Every entry that writes an output fsyncs it before it exits
(h5batch, the copy floor, and each peer once it has closed its file), so a durable output is
compared with a durable one.

How to read it
--------------
Per workload a table lists the median wall time with its min-max over the repetitions, the
throughput in MB/s of input (10^6 bytes of float32 input per second), the largest peak RSS seen,
and "x h5batch": the entry's median time divided by h5batch's (mini-batch) median time. A value
above 1 means h5batch is that many times faster. The target checks below the tables are the
goals the project set itself for the default size; at other sizes fixed costs (process start,
Python imports, the runtime) weigh differently, so read small runs as smoke tests only.

After the first repetition of each workload, every output is compared with the h5py full
output (rtol 1e-4, atol 1e-5) on a strided sample of rows; a mismatch stops the run.

The Python entries run without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in their environment
(only those two entries are removed): some machines set them as a workaround for old OpenBLAS
builds, and they would pin numpy's recent OpenBLAS to older kernels. h5batch and the C floors
keep the environment as it is.

Usage
-----
  python3 bench/compare.py                       # all workloads, 3 repetitions, 1 GiB each
  python3 bench/compare.py --rows 65536 --repeat 1 --workloads relu
  python3 bench/compare.py --json results.json --markdown results.md
  python3 bench/compare.py --workloads zstd,codecs,onnx --rows 65536 --repeat 1   # smoke test
  python3 bench/compare.py --workloads gzip --baseline before.json   # no worse than before.json

PyTorch and ONNX Runtime are optional: when `import torch` (or onnxruntime) fails in the Python
running this script, their entries are skipped with a line saying why, and the run goes on.
The same for hdf5plugin (the zstd and codecs workloads) and for torch + onnxscript (the onnx
workload, whose model PyTorch exports).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import NoReturn

import h5py
import numpy as np

try:  # registers Zstd, LZ4, Bitshuffle and Blosc with h5py's HDF5: the zstd and codecs workloads
    import hdf5plugin
    HDF5PLUGIN_MISSING = None
except ImportError as missing:
    hdf5plugin = None
    HDF5PLUGIN_MISSING = f"`import hdf5plugin` failed in {sys.executable}: {missing}"

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PEERS = BENCH / "peers"
DEFAULT_ROWS = 1 << 20
FEATURES = 256
HIDDEN = 1024
CHUNK_ROWS = 8192
DATASET = "/x"
LEAKY_SLOPE = np.float32(0.01)
WORKLOADS = ("relu", "mlp", "gzip", "zstd", "onnx", "codecs")
TOOLS = ("h5batch", "h5batch-stats", "h5batch-full", "h5batch-onnx", "h5py-stream", "h5py-full", "dask",
         "torch", "onnxruntime", "floor")
PEER_TOOLS = ("h5py-stream", "h5py-full", "dask", "torch", "onnxruntime")  # what a user would run instead
ZSTD_LEVEL = 3  # the zstd workload's input and output, as peers/common.py writes it too
H5Z_SHUFFLE, H5Z_DEFLATE, H5Z_ZSTD = 2, 1, 32015  # HDF5 filter ids
# The ONNX Runtime peer's slices in the onnx workload, where it gets its best settings (with
# intra-op threads = cores and every graph optimization): whole stored chunks, and large. From
# 8,192 to 65,536 rows its times were level within the noise (64 MiB input, 2 cores); beyond
# that, only memory grows (the hidden layer is 4 KiB per row).
ORT_BEST_BATCH_ROWS = 4 * CHUNK_ROWS

# The codec table (workload `codecs`): h5batch writes the same output once per row, each codec
# at its default level, with shuffle where it helps (bitshuffle shuffles bits itself). Edit
# this table to add or drop a codec: (row label, the pipeline's output options).
CODECS = [
    ("none", {"compression": "none"}),
    ("gzip + shuffle", {"compression": "gzip", "shuffle": True}),
    ("lzf + shuffle", {"compression": "lzf", "shuffle": True}),
    ("zstd + shuffle", {"compression": "zstd", "shuffle": True}),
    ("lz4 + shuffle", {"compression": "lz4", "shuffle": True}),
    ("bitshuffle", {"compression": "bitshuffle"}),
    ("blosc + shuffle", {"compression": "blosc", "shuffle": True}),
]
RTOL, ATOL = 1e-4, 1e-5
MIB = 1 << 20
# Set on some machines as a workaround for old OpenBLAS builds (the system's, which h5batch
# and the C floors use); removed for the Python entries, whose numpy has its own OpenBLAS.
OPENBLAS_WORKAROUND = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# --------------------------------------------------------------------------- entries


@dataclass
class Entry:
    """One command measured on one workload."""

    key: str  # tool key, e.g. "h5batch-full"
    label: str  # row label in the table
    argv: list[str]
    output: Path | None  # deleted before each run; None for the sgemm floor
    self_timed: bool = False  # the sgemm floor reports its own compute time
    env: dict[str, str] | None = None  # None: compare.py's own environment
    candidates: list[Entry] = field(default_factory=list)  # the sgemm floor: one per GEMM library
    seconds: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)  # spawn to exit, timed by the launcher
    outside: list[float] = field(default_factory=list)  # the same, timed here (launcher included)
    rss_kib: list[int] = field(default_factory=list)
    output_bytes: int | None = None
    reports: list[dict] = field(default_factory=list)  # the JSON line a floor printed, per run

    @property
    def report(self) -> dict | None:
        return self.reports[-1] if self.reports else None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_mib(self) -> float:
        return max(self.rss_kib) / 1024


@dataclass
class Workload:
    name: str
    input: Path
    pipeline: Path
    weights: Path
    entries: list[Entry] = field(default_factory=list)
    planned: dict[str, str] = field(default_factory=dict)  # key -> label, before selection and skips
    unsupported: dict[str, str] = field(default_factory=dict)  # codecs: row label -> h5batch's error
    notes: list[str] = field(default_factory=list)  # printed under the table

    def entry(self, key: str) -> Entry | None:
        return next((e for e in self.entries if e.key == key), None)


@dataclass
class Check:
    workload: str
    target: str
    measured: str
    passed: bool | None  # None: not measured (an entry was not selected)

    @property
    def status(self) -> str:
        return {True: "PASS", False: "FAIL", None: "SKIP"}[self.passed]


# --------------------------------------------------------------------------- setup


def fail(message: str) -> NoReturn:
    print(f"compare.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def wait_for(path: Path, seconds: float = 120) -> None:
    """The h5batch binary may be rebuilt under us: give it a moment to reappear."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            fail(f"{path} does not exist (build it with `make build`, or pass --h5batch)")
        time.sleep(2)


def compile_c(workdir: Path, name: str, flags: list[str], binary_name: str | None = None) -> Path:
    """Compile bench/NAME.c into the work dir unless the binary is newer than the source."""
    source, binary = BENCH / f"{name}.c", workdir / (binary_name or name)
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    command = ["gcc", "-O2", str(source), *flags, "-o", str(binary)]
    progress(f"building {binary.name}: {shlex.join(command)}")
    built = subprocess.run(command, capture_output=True, text=True)
    if built.returncode != 0:
        fail(f"building {source} failed:\n{built.stderr}")
    return binary


def build_tools(workdir: Path) -> tuple[Path, Path]:
    """The floors (HDF5 + OpenBLAS) and the measuring launcher (plain C)."""
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "hdf5", "openblas"],
                           capture_output=True, text=True)
    if flags.returncode != 0:
        fail(f"pkg-config hdf5 openblas failed (run `make deps`): {flags.stderr.strip()}")
    floors = compile_c(workdir, "floors", [*flags.stdout.split(), "-lpthread"])
    return floors, compile_c(workdir, "measure", [])


# The sgemm floor's other GEMM libraries: floors.c built once per library (see its top
# comment), when a test program against the library compiles and links.
OPTIONAL_GEMMS = {
    "onednn": ("oneDNN (libdnnl-dev)", ["-DFLOORS_ONEDNN", "-fopenmp", "-ldnnl"],
               "#include <oneapi/dnnl/dnnl.h>\nint main(void) { return dnnl_version() == 0; }\n"),
    "blis": ("BLIS (libblis-dev)", ["-DFLOORS_BLIS", "-lblis", "-lm"],
             "#include <blis.h>\nint main(void) { return bli_info_get_version_str() == 0; }\n"),
}


def build_gemm_floors(workdir: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """floors built against each optional GEMM library that is installed.

    Returns {library: binary} and, for the libraries left out, {label: why}.
    """
    hdf5 = subprocess.run(["pkg-config", "--cflags", "--libs", "hdf5"],
                          capture_output=True, text=True, check=True).stdout.split()
    built, missing = {}, {}
    for library, (label, flags, test_program) in OPTIONAL_GEMMS.items():
        test = subprocess.run(["gcc", "-x", "c", "-", *flags, "-o", os.devnull],
                              input=test_program, capture_output=True, text=True)
        if test.returncode != 0:
            first_error = next((line for line in test.stderr.splitlines() if "error" in line), "")
            missing[f"sgemm floor: {label}"] = f"a test program does not build: {first_error.strip()}"
            continue
        built[library] = compile_c(workdir, "floors", [*flags, *hdf5, "-lpthread"], f"floors-{library}")
    return built, missing


def input_matches(path: Path, rows: int, filters: set[int], chunk_rows: int = CHUNK_ROWS) -> bool:
    """Whether `path` holds the rows x 256 float32 input in its chunks, with exactly these filters."""
    try:
        with h5py.File(path, "r") as f:
            d = f[DATASET]
            plist = d.id.get_create_plist()
            stored = {plist.get_filter(i)[0] for i in range(plist.get_nfilters())}
            return (d.shape == (rows, FEATURES) and d.dtype == np.float32
                    and d.chunks == (min(chunk_rows, rows), FEATURES) and stored == filters)
    except (OSError, KeyError):
        return False


def generate_input(h5batch: Path, path: Path, rows: int, compressed: bool) -> None:
    if input_matches(path, rows, {H5Z_SHUFFLE, H5Z_DEFLATE} if compressed else set()):
        return
    command = [str(h5batch), "generate", str(path), "--dataset", DATASET,
               "--shape", f"{rows}x{FEATURES}", "--chunk-rows", str(CHUNK_ROWS), "--seed", "1"]
    if compressed:
        command += ["--compression", "gzip:4", "--shuffle"]
    command.append("--force")
    progress(f"generating {path.name}: {shlex.join(command)}")
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def write_zstd_input(plain: Path, path: Path) -> None:
    """`plain`'s data stored as Zstd + shuffle by h5py + hdf5plugin, the way the zstd workload's
    users have it, in the same chunks; rewritten when missing, different or older than `plain`."""
    with h5py.File(plain, "r") as f:
        rows, chunk_rows = f[DATASET].shape[0], f[DATASET].chunks[0]
    if (input_matches(path, rows, {H5Z_SHUFFLE, H5Z_ZSTD}, chunk_rows)
            and path.stat().st_mtime >= plain.stat().st_mtime):
        return
    progress(f"writing {path}: {plain.name}'s data as Zstd level {ZSTD_LEVEL} + shuffle (h5py + hdf5plugin)")
    partial = path.with_name(path.name + ".tmp")
    with h5py.File(plain, "r") as fin, h5py.File(partial, "w") as fout:
        source = fin[DATASET]
        target = fout.create_dataset(DATASET, source.shape, np.float32, chunks=source.chunks,
                                     **hdf5plugin.Zstd(clevel=ZSTD_LEVEL), shuffle=True)
        for start in range(0, rows, chunk_rows):
            target[start:start + chunk_rows] = source[start:start + chunk_rows]
    partial.replace(path)


def write_weights(path: Path) -> None:
    """nn.Linear-style weights: uniform in +-1/sqrt(fan_in), stored [out, in] like PyTorch."""
    shapes = {"fc1.weight": (HIDDEN, FEATURES), "fc1.bias": (HIDDEN,),
              "fc2.weight": (FEATURES, HIDDEN), "fc2.bias": (FEATURES,)}
    try:
        with h5py.File(path, "r") as f:
            if all(f[name].shape == shape for name, shape in shapes.items()):
                return
    except (OSError, KeyError):
        pass
    rng = np.random.default_rng(0)
    partial = path.with_name(path.name + ".tmp")
    with h5py.File(partial, "w", libver="earliest") as f:
        for name, shape in shapes.items():
            fan_in = FEATURES if name.startswith("fc1") else HIDDEN
            bound = 1 / np.sqrt(fan_in)
            f[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    partial.replace(path)


PIPELINES = {
    "relu": """\
input:  {{ file: input.h5, dataset: /x }}
output: {{ file: out/relu-h5batch.h5, dataset: /x, chunk_rows: {chunk} }}
run:    {{ mode: minibatch, batch_rows: {chunk}, workers: auto }}
stages:
  - relu
""",
    "mlp": """\
input:  {{ file: input.h5, dataset: /x }}
output: {{ file: out/mlp-h5batch.h5, dataset: /x, chunk_rows: {chunk} }}
run:    {{ mode: minibatch, batch_rows: {chunk}, workers: auto }}
stages:
  - linear: {{ file: weights.h5, weight: fc1.weight, bias: fc1.bias }}
  - relu
  - linear: {{ file: weights.h5, weight: fc2.weight, bias: fc2.bias }}
""",
    "gzip": """\
input:  {{ file: input-gzip.h5, dataset: /x }}
output: {{ file: out/gzip-h5batch.h5, dataset: /x, chunk_rows: {chunk},
          compression: gzip, level: 4, shuffle: true }}
run:    {{ mode: minibatch, batch_rows: {chunk}, workers: auto }}
stages:
  - relu
  - leaky_relu: {{ negative_slope: 0.01 }}
""",
    "zstd": """\
input:  {{ file: input-zstd.h5, dataset: /x }}
output: {{ file: out/zstd-h5batch.h5, dataset: /x, chunk_rows: {chunk},
          compression: zstd, level: {level}, shuffle: true }}
run:    {{ mode: minibatch, batch_rows: {chunk}, workers: auto }}
stages:
  - relu
  - leaky_relu: {{ negative_slope: 0.01 }}
""",
}
PIPELINES["onnx"] = PIPELINES["mlp"]  # the hand-written pipeline the ONNX model is measured against

# One pipeline per row of CODECS: the zstd workload's stages on the uncompressed input.
CODEC_PIPELINE = """\
input:  {{ file: input.h5, dataset: /x }}
output: {{ file: out/codecs-{key}.h5, dataset: /x, chunk_rows: {chunk}, {options} }}
run:    {{ mode: minibatch, batch_rows: {chunk}, workers: auto }}
stages:
  - relu
  - leaky_relu: {{ negative_slope: 0.01 }}
"""


def flow_yaml(options: dict) -> str:
    """Output options as the inside of a YAML flow mapping: `compression: zstd, shuffle: true`."""
    return ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in options.items())


def codec_key(label: str) -> str:
    """The entry key of a CODECS row, e.g. codec-zstd-shuffle: also names its pipeline and output."""
    return "codec-" + re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


PROBE = """\
import importlib, json, sys
found = {"versions": {}, "errors": {}}
for name in sys.argv[1:]:
    try:
        found["versions"][name] = getattr(importlib.import_module(name), "__version__", "?")
    except Exception as error:
        found["errors"][name] = f"{type(error).__name__}: {error}"
try:
    import numpy, threadpoolctl
    found["blas"] = [info for info in threadpoolctl.threadpool_info() if info.get("user_api") == "blas"]
except Exception as error:
    found["blas"] = f"{type(error).__name__}: {error}"
print(json.dumps(found))
"""


def python_environment() -> dict[str, str]:
    """The Python entries' environment: compare.py's without the OpenBLAS workaround."""
    return {k: v for k, v in os.environ.items() if k not in OPENBLAS_WORKAROUND}


def probe_python(modules: list[str]) -> dict:
    """Import `modules` in the Python that runs the peers, and ask threadpoolctl about numpy's BLAS.

    Returns {"versions": {module: version}, "errors": {module: why it failed}, "blas": [...]}.
    """
    done = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True,
                          env=python_environment())
    if done.returncode != 0:
        fail(f"{sys.executable} could not run the import probe:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def onnx_models(workdir: Path, names: list[str], inputs: dict[str, Path], weights: Path,
                probe: dict) -> str | None:
    """Write WORKDIR/WORKLOAD.onnx for the ONNX Runtime peer where missing or older than the weights.

    Returns why the peer cannot run, or None.
    """
    newest_source = max(weights.stat().st_mtime, (PEERS / "make_onnx.py").stat().st_mtime)
    for name in names:
        model = workdir / f"{name}.onnx"
        if model.exists() and model.stat().st_mtime >= newest_source:
            continue
        if "onnx" in probe["errors"]:
            return f"{model} is missing and `import onnx` failed in {sys.executable}: {probe['errors']['onnx']}"
        command = [sys.executable, str(PEERS / "make_onnx.py"), "--workload", name,
                   "--input", str(inputs[name]), "--output", str(model), "--weights", str(weights)]
        progress(f"writing {model.name}: {shlex.join(command)}")
        subprocess.run(command, check=True, env=python_environment())
    return None


def export_onnx_model(workdir: Path, weights: Path, probe: dict) -> tuple[Path | None, str]:
    """WORKDIR/mlp-torch.onnx: the mlp workload's model as torch.onnx.export writes it
    (peers/export_onnx.py), exported again when missing or older than the weights or the scripts.

    Returns (the model, what was exported, for the notes), or (None, why it cannot be exported).
    """
    model, summary = workdir / "mlp-torch.onnx", workdir / "mlp-torch.json"
    sources = (weights, PEERS / "export_onnx.py", PEERS / "torch_stream.py")
    if not (model.exists() and summary.exists()
            and model.stat().st_mtime >= max(p.stat().st_mtime for p in sources)):
        for module in ("torch", "onnxscript", "onnx"):
            if module in probe["errors"]:
                return None, (f"PyTorch exports its model, and `import {module}` failed in "
                              f"{sys.executable}: {probe['errors'][module]}")
        command = [sys.executable, str(PEERS / "export_onnx.py"), "--weights", str(weights),
                   "--output", str(model)]
        progress(f"exporting {model.name}: {shlex.join(command)}")
        done = subprocess.run(command, capture_output=True, text=True, env=python_environment())
        if done.returncode != 0:
            fail(f"exporting the mlp model to ONNX failed: {shlex.join(command)}\n{done.stderr[-3000:]}")
        summary.write_text(done.stdout.splitlines()[-1] + "\n")
    exported = json.loads(summary.read_text())
    return model, (f"model: {model.name}, written by {exported['exporter']} with its defaults "
                   f"(opset {exported['opset']}, nodes {', '.join(exported['nodes'])}).")


PROBE_ROWS = 256  # the tiny input h5batch is tried on before a workload that needs a new feature


def probe_inputs(args: argparse.Namespace) -> dict[str, Path]:
    """The tiny inputs of h5batch_error, in WORKDIR/probe: plain, and as Zstd + shuffle."""
    folder = args.workdir / "probe"
    folder.mkdir(exist_ok=True)
    plain, zstd = folder / "input.h5", folder / "input-zstd.h5"
    if not input_matches(plain, PROBE_ROWS, set(), PROBE_ROWS // 2):
        subprocess.run([str(args.h5batch), "generate", str(plain), "--dataset", DATASET,
                        "--shape", f"{PROBE_ROWS}x{FEATURES}", "--chunk-rows", str(PROBE_ROWS // 2),
                        "--seed", "1", "--force"], check=True, stdout=subprocess.DEVNULL)
    if hdf5plugin is not None:
        write_zstd_input(plain, zstd)
    return {"plain": plain, "zstd": zstd}


def h5batch_error(args: argparse.Namespace, entry: Entry, tiny: Path) -> str | None:
    """Run an h5batch entry's own command on a tiny input instead of its own, into a scratch
    output: None when it succeeds, otherwise h5batch's error line and exit code. This is how
    compare.py finds out whether this h5batch supports what a workload needs, rather than
    failing in the middle of a run."""
    out = args.workdir / "probe" / "out.h5"
    argv = entry.argv[1:]  # run FILE [--input IN] --output OUT [options] --force
    argv[argv.index("--output") + 1] = f"{out}:{DATASET}"
    if "--input" in argv:
        argv[argv.index("--input") + 1] = f"{tiny}:{DATASET}"
    else:
        argv[2:2] = ["--input", f"{tiny}:{DATASET}"]
    done = subprocess.run([str(args.h5batch), *argv], capture_output=True, text=True, timeout=600)
    out.unlink(missing_ok=True)
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    said = next((line for line in reversed(lines) if line.startswith("error:")), lines[-1] if lines else "")
    return f"{said} (exit {done.returncode})"


def prepare(args: argparse.Namespace) -> list[Workload]:
    """Build the floors; generate inputs, weights, pipelines and models that are missing or stale.

    A peer whose Python packages cannot be imported is left out, with a line saying why
    (args.skipped, also in the report); so are h5batch's entries where this h5batch lacks what
    the workload needs (h5batch_error), and whole workloads whose inputs cannot be made.
    """
    workdir: Path = args.workdir
    (workdir / "out").mkdir(parents=True, exist_ok=True)
    (workdir / "logs").mkdir(exist_ok=True)
    floors, args.measure = build_tools(workdir)
    args.skipped = {}  # label -> why, for the report
    gemm_floors = {"openblas": floors}
    mlp_floor = "floor" in args.tools and "mlp" in args.workloads
    if mlp_floor:
        built, missing = build_gemm_floors(workdir)
        gemm_floors.update(built)
        args.skipped.update(missing)
    wait_for(args.h5batch)
    optional = ["torch"] if "torch" in args.tools or mlp_floor else []
    if "onnxruntime" in args.tools:
        optional += ["onnxruntime", "onnx"]  # onnx writes the models, onnxruntime runs them
    if "onnx" in args.workloads:
        optional += ["torch", "onnxscript", "onnx"]  # torch.onnx.export needs all three
    args.probe = probe_python(list(dict.fromkeys(optional)))

    plain, weights = workdir / "input.h5", workdir / "weights.h5"
    inputs = {"relu": plain, "mlp": plain, "gzip": workdir / "input-gzip.h5",
              "zstd": workdir / "input-zstd.h5", "onnx": plain, "codecs": plain}
    dropped = {}  # workload -> why it cannot run at all
    if hdf5plugin is None:
        dropped.update({name: HDF5PLUGIN_MISSING for name in ("zstd", "codecs")})
    if any(inputs[name] == plain or name == "zstd" for name in args.workloads):
        generate_input(args.h5batch, plain, args.rows, compressed=False)
    if "gzip" in args.workloads:
        generate_input(args.h5batch, inputs["gzip"], args.rows, compressed=True)
    if "zstd" in args.workloads and "zstd" not in dropped:
        write_zstd_input(plain, inputs["zstd"])
    write_weights(weights)

    unavailable = {}  # tool key -> why it cannot run
    for key in ("torch", "onnxruntime"):
        if key in args.probe["errors"]:
            unavailable[key] = f"`import {key}` failed in {sys.executable}: {args.probe['errors'][key]}"
    if "onnxruntime" in args.tools and "onnxruntime" not in unavailable:
        own_models = [name for name in args.workloads if name in ("relu", "mlp", "gzip")]
        why = onnx_models(workdir, own_models, inputs, weights, args.probe)
        if why:
            unavailable["onnxruntime"] = why
    model, exported = None, ""
    if "onnx" in args.workloads:
        model, exported = export_onnx_model(workdir, weights, args.probe)
        if model is None:
            dropped["onnx"] = exported
    if mlp_floor and "torch" in unavailable:
        args.skipped["sgemm floor: MKL via PyTorch"] = unavailable["torch"]
    for name in args.workloads:
        if name in dropped:
            args.skipped[f"workload {name}"] = dropped[name]
    for label, why in args.skipped.items():
        progress(f"skipping {label}: {why}")

    workloads = []
    for name in args.workloads:
        if name in dropped:
            continue
        pipeline = workdir / f"{name}.yaml"
        if name != "codecs":
            pipeline.write_text(f"# h5batch benchmark workload '{name}', written by bench/compare.py\n"
                                + PIPELINES[name].format(chunk=CHUNK_ROWS, level=ZSTD_LEVEL))
        workload = Workload(name, inputs[name], pipeline, weights)
        if name == "onnx":
            workload.notes.append(exported)
        candidates = workload_entries(workload, args, floors, gemm_floors, unavailable, model)
        workload.planned = {e.key: e.label for e in candidates}
        selected = [e for e in candidates if tool_of(e) in args.tools]
        blocked = h5batch_blocks(workload, selected, args)
        for e in selected:
            why = unavailable.get(e.key) or blocked.get(e.key)
            if why is None:
                workload.entries.append(e)
                continue
            label = e.label if e.key in unavailable else f"{e.label} ({name})"
            if label not in args.skipped:
                args.skipped[label] = why
                progress(f"skipping {label}: {why}")
        workloads.append(workload)
    return workloads


def tool_of(entry: Entry) -> str:
    """The --tools key that selects an entry: its own key, or h5batch for the codec table's rows."""
    return "h5batch" if entry.key.startswith("codec-") else entry.key


def workload_entries(workload: Workload, args: argparse.Namespace, floors: Path,
                     gemm_floors: dict[str, Path], unavailable: dict[str, str],
                     model: Path | None) -> list[Entry]:
    """Every entry a workload runs, before --tools and skips: see the top of this file."""
    name, source, pipeline, workdir = workload.name, workload.input, workload.pipeline, args.workdir

    def out(key: str) -> Path:
        return workdir / "out" / f"{name}-{key}.h5"

    def h5batch(key: str, label: str, *extra: str, file: Path = pipeline) -> Entry:
        return Entry(key, label, [str(args.h5batch), "run", str(file),
                                  "--output", str(out(key)), *extra, "--force"], out(key))

    def peer(key: str, label: str, script: str, *extra: str) -> Entry:
        computes = "mlp" if name == "onnx" else name  # the onnx workload is the MLP
        argv = [sys.executable, str(PEERS / script), "--workload", computes,
                "--input", str(source), "--output", str(out(key))]
        if computes == "mlp":
            argv += ["--weights", str(workload.weights)]
        return Entry(key, label, [*argv, *extra], out(key), env=python_environment())

    copy_floor = Entry("floor", "floor: raw chunk copy",
                       [str(floors), "copy", str(source), DATASET, str(out("floor"))], out("floor"))
    if name == "codecs":
        entries = []
        for label, options in CODECS:
            key = codec_key(label)
            codec_pipeline = workdir / f"{key}.yaml"
            codec_pipeline.write_text(
                f"# h5batch benchmark, codec table row '{label}', written by bench/compare.py\n"
                + CODEC_PIPELINE.format(chunk=CHUNK_ROWS, key=key, options=flow_yaml(options)))
            entries.append(h5batch(key, label, file=codec_pipeline))
        return entries
    if name == "onnx":
        cores = len(os.sched_getaffinity(0))
        return [
            h5batch("h5batch", "h5batch (pipeline file)"),
            Entry("h5batch-onnx", "h5batch run MODEL.onnx",
                  [str(args.h5batch), "run", str(model), "--input", f"{source}:{DATASET}",
                   "--output", f"{out('h5batch-onnx')}:{DATASET}", "--batch-rows", str(CHUNK_ROWS),
                   "--force"], out("h5batch-onnx")),
            peer("onnxruntime", "h5py + ONNX Runtime (MODEL.onnx)", "onnxruntime_stream.py",
                 "--model", str(model), "--batch-rows", str(ORT_BEST_BATCH_ROWS),
                 "--intra-op-threads", str(cores)),
        ]
    if name == "zstd":
        return [
            h5batch("h5batch", "h5batch"),
            h5batch("h5batch-full", "h5batch --mode full", "--mode", "full"),
            peer("h5py-stream", "h5py + hdf5plugin stream", "h5py_stream.py"),
            peer("h5py-full", "h5py + hdf5plugin full", "h5py_full.py"),
            peer("dask", "dask.array + hdf5plugin", "dask_array.py"),
            copy_floor,
        ]
    entries = [
        h5batch("h5batch", "h5batch"),
        h5batch("h5batch-full", "h5batch --mode full", "--mode", "full"),
        peer("h5py-stream", "h5py stream", "h5py_stream.py"),
        peer("h5py-full", "h5py full", "h5py_full.py"),
        peer("dask", "dask.array", "dask_array.py"),
        peer("torch", "h5py + PyTorch", "torch_stream.py"),
        peer("onnxruntime", "h5py + ONNX Runtime", "onnxruntime_stream.py",
             "--model", str(workdir / f"{name}.onnx")),
    ]
    if name != "mlp":
        return [*entries, copy_floor]
    # What counting every stage's statistics costs (the output is the same).
    entries.insert(1, h5batch("h5batch-stats", "h5batch --stats", "--stats"))
    shape = [str(args.rows), str(FEATURES), str(HIDDEN), str(FEATURES)]
    gemms = []
    for library, binary in gemm_floors.items():
        gemms.append(Entry(library, f"sgemm {library}", [str(binary), "sgemm", *shape], None, self_timed=True))
        if library == "onednn":  # and the primitive h5batch's linear stages run on
            gemms.append(Entry("onednn-matmul", "matmul onednn", [str(binary), "matmul", *shape], None,
                               self_timed=True))
    if "torch" not in unavailable:
        script = [sys.executable, str(PEERS / "torch_gemm_floor.py"), *shape]
        gemms.append(Entry("torch", "sgemm torch", script, None, self_timed=True, env=python_environment()))
    return [*entries, Entry("floor", "floor: best sgemm", [], None, self_timed=True, candidates=gemms)]


# What h5batch must support for a workload's entries to run (the codec table names each row's).
NEW_FEATURES = {"zstd": "Zstd input or output", "onnx": "ONNX models"}


def h5batch_blocks(workload: Workload, selected: list[Entry], args: argparse.Namespace) -> dict[str, str]:
    """{entry key: why} for the h5batch entries this h5batch cannot run yet.

    The zstd, codecs and onnx workloads need features h5batch gained later (issues 15 and 16):
    each h5batch entry is first run as it will be, but on a 256-row input. A codec h5batch
    cannot write stays a row of the codec table, marked as not supported.
    """
    ours = [e for e in selected if tool_of(e).startswith("h5batch")]
    if workload.name not in ("zstd", "codecs", "onnx") or not ours:
        return {}
    progress(f"[{workload.name}] trying h5batch on a {PROBE_ROWS}-row input first")
    tiny = probe_inputs(args)["zstd" if workload.name == "zstd" else "plain"]
    blocked = {}
    for e in ours:
        why = h5batch_error(args, e, tiny)
        if why is None:
            continue
        if workload.name == "codecs":
            workload.unsupported[e.label] = why
        feature = NEW_FEATURES.get(workload.name, f"{e.label} output")
        blocked[e.key] = f"h5batch does not support {feature} yet: {why}"
    return blocked


# --------------------------------------------------------------------------- measuring


def remove_output(path: Path | None) -> None:
    if path is None:
        return
    for p in (path, path.with_name(path.name + ".partial")):
        p.unlink(missing_ok=True)


def warm(path: Path) -> None:
    """Read a file once so that every entry starts from the same warm page cache."""
    with open(path, "rb", buffering=0) as f:
        while f.read(16 * MIB):
            pass


def run_floor(entry: Entry, log: Path, args: argparse.Namespace) -> None:
    """The sgemm floor once: every candidate in turn; the floor is the fastest of them."""
    for candidate in entry.candidates:
        run_once(candidate, log.with_name(f"{log.stem}-{candidate.key}.log"), args)
    fastest = min(entry.candidates, key=lambda c: c.seconds[-1])
    entry.seconds.append(fastest.seconds[-1])
    entry.wall.append(sum(c.wall[-1] for c in entry.candidates))
    entry.outside.append(sum(c.outside[-1] for c in entry.candidates))
    entry.rss_kib.append(max(c.rss_kib[-1] for c in entry.candidates))
    entry.reports.append({**fastest.report, "candidates": [c.report for c in entry.candidates]})


def run_once(entry: Entry, log: Path, args: argparse.Namespace) -> None:
    """Run the entry once through the measure launcher (see bench/measure.c for why)."""
    if entry.candidates:
        run_floor(entry, log, args)
        return
    remove_output(entry.output)
    os.sync()  # write back the previous run's dirty pages before the clock starts
    if entry.key.startswith("h5batch"):
        wait_for(args.h5batch)
    result = log.with_suffix(".rusage.json")
    with open(log, "wb") as sink:
        start = time.perf_counter()
        process = subprocess.Popen([str(args.measure), str(result), *entry.argv],
                                   stdout=sink, stderr=subprocess.STDOUT, env=entry.env)
        _, status, _ = os.wait4(process.pid, 0)
        outside = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    if process.returncode != 0:
        fail(f"{entry.label} exited with {process.returncode}: {shlex.join(entry.argv)}\n"
             f"--- {log} ---\n{text[-4000:]}")
    usage = json.loads(result.read_text())
    json_lines = [line for line in text.splitlines() if line.startswith("{")]
    if json_lines:
        entry.reports.append(json.loads(json_lines[-1]))
    seconds = usage["wall_seconds"]
    if entry.self_timed:
        if not entry.report or "seconds" not in entry.report:
            fail(f"{entry.label} printed no timing: {text[-2000:]}")
        seconds = float(entry.report["seconds"])
    entry.seconds.append(seconds)
    entry.wall.append(usage["wall_seconds"])
    entry.outside.append(outside)
    entry.rss_kib.append(usage["maxrss_kib"])  # the child's own ru_maxrss, KiB on Linux
    if entry.output is not None:
        entry.output_bytes = entry.output.stat().st_size


def run_all(workloads: list[Workload], args: argparse.Namespace) -> None:
    for workload in workloads:
        warm(workload.input)
        # The sgemm floor times its own compute, so it need not share the rounds; and its
        # candidates allocate up to 700 MiB (PyTorch's), which the VM hands back to the host on
        # exit, so whichever process ran next paid page faults the others did not (h5batch's MLP
        # measured 3.8 s alone and 4.6 s right after it). It runs after the rounds instead.
        interleaved = [e for e in workload.entries if not e.candidates]
        after = [e for e in workload.entries if e.candidates]

        def run(entry: Entry, rep: int) -> None:
            log = args.workdir / "logs" / f"{workload.name}-{entry.key}.log"
            run_once(entry, log, args)
            progress(f"[{workload.name} {rep}/{args.repeat}] {entry.label:<22} "
                     f"{entry.seconds[-1]:8.3f} s  {entry.rss_kib[-1] / 1024:8.1f} MiB")

        for rep in range(1, args.repeat + 1):
            for entry in interleaved:
                run(entry, rep)
            if rep == 1:
                verify(workload)
        for entry in after:
            for rep in range(1, args.repeat + 1):
                run(entry, rep)
        if not args.keep_outputs:  # up to 6 GiB per workload at the default size
            for entry in workload.entries:
                remove_output(entry.output)


# --------------------------------------------------------------------------- sanity check


def sample(path: Path, rows: int) -> np.ndarray:
    """A strided sample of about 512 rows, plus the last row."""
    step = max(1, rows // 512)
    with h5py.File(path, "r", rdcc_nbytes=64 * MIB) as f:
        d = f[DATASET]
        if d.dtype != np.float32:
            fail(f"{path}: dtype {d.dtype}, expected float32")
        return np.concatenate([d[0:rows:step], d[rows - 1:rows]]) if rows else d[()]


def numpy_reference(workload: Workload, rows: int) -> np.ndarray:
    """The expected output on the sampled rows, computed here (when h5py full was not run)."""
    x = sample(workload.input, rows)
    if workload.name in ("mlp", "onnx"):
        with h5py.File(workload.weights, "r") as w:
            h = np.maximum(x @ w["fc1.weight"][()].T + w["fc1.bias"][()], 0)
            return h @ w["fc2.weight"][()].T + w["fc2.bias"][()]
    y = np.maximum(x, 0)
    if workload.name != "relu":  # gzip, zstd and codecs: leaky_relu(0.01) next
        y = np.where(y > 0, y, y * LEAKY_SLOPE)
    return y


def verify(workload: Workload) -> None:
    with h5py.File(workload.input, "r") as f:
        rows = f[DATASET].shape[0]
    reference_entry = workload.entry("h5py-full")
    if reference_entry is not None:
        reference, against = sample(reference_entry.output, rows), "h5py full"
    else:
        reference, against = numpy_reference(workload, rows), "numpy in compare.py"
    for entry in workload.entries:
        if entry.output is None or entry is reference_entry or entry.key == "floor":
            continue  # the copy floor's output is its input, unchanged
        got = sample(entry.output, rows)
        if got.shape != reference.shape:
            fail(f"SANITY CHECK FAILED ({workload.name}): {entry.label} output sample has shape "
                 f"{got.shape}, {against} has {reference.shape}")
        if not np.allclose(got, reference, rtol=RTOL, atol=ATOL, equal_nan=True):
            worst = np.nanmax(np.abs(got.astype(np.float64) - reference))
            fail(f"SANITY CHECK FAILED ({workload.name}): {entry.label} output differs from "
                 f"{against} (max abs difference {worst:.3g}, rtol {RTOL}, atol {ATOL}) "
                 f"in {entry.output}")
    progress(f"[{workload.name}] sanity check: outputs match {against} on {len(reference)} "
             f"sampled rows (rtol {RTOL}, atol {ATOL})")


# --------------------------------------------------------------------------- reporting


def blas_kernels(probe: dict) -> str:
    """What threadpoolctl saw of numpy's BLAS in the peers' Python: library, version, kernels."""
    found = probe.get("blas")
    if not isinstance(found, list):
        return f"? ({found})"
    return "; ".join(f"{i.get('internal_api', '?')} {i.get('version') or '?'}, "
                     f"{i.get('architecture') or '?'} kernels, {i.get('threading_layer') or '?'} "
                     f"{i.get('num_threads')} threads" for i in found) or "none loaded"


def linked_gemm(binary: Path) -> str:
    """The GEMM libraries a binary is linked against, as ldd lists them."""
    try:
        listed = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    names = [line.split()[0] for line in listed.splitlines()
             if any(lib in line for lib in ("openblas", "libblas", "dnnl", "blis", "mkl"))]
    return ", ".join(names) or "none"


def machine_facts(h5batch: Path, probe: dict) -> dict[str, str]:
    def first(path: str, key: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"

    def command(*argv: str) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            return (done.stdout.strip() or done.stderr.strip()).splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        numpy_blas = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # numpy < 2 or an unusual build
        numpy_blas = "?"
    mem_kib = first("/proc/meminfo", "MemTotal").split()[0]
    facts = {
        "cpu": first("/proc/cpuinfo", "model name"),
        "cores": f"{len(os.sched_getaffinity(0))} usable of {os.cpu_count()}",
        "memory": f"{int(mem_kib) / MIB:.1f} GiB" if mem_kib.isdigit() else "?",
        "kernel": platform.release(),
        "h5batch": command(str(h5batch), "--version"),
        "python": platform.python_version(),
        "h5py": h5py.version.version,
        "numpy": f"{np.__version__} ({numpy_blas})",
        "numpy BLAS (threadpoolctl)": blas_kernels(probe),
        "dask": version("dask"),
        "torch": version("torch"),
        "onnxruntime": version("onnxruntime"),
        "HDF5 (h5py)": h5py.version.hdf5_version,
        "HDF5 (h5batch, floors)": command("pkg-config", "--modversion", "hdf5"),
        "GEMM library (h5batch)": linked_gemm(h5batch),
        "OpenBLAS (system, floors)": command("pkg-config", "--modversion", "openblas"),
    }
    threads = {k: v for k, v in os.environ.items()
               if k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    if threads:
        facts["environment"] = " ".join(f"{k}={v}" for k, v in sorted(threads.items()))
    workaround = {k: os.environ[k] for k in OPENBLAS_WORKAROUND if k in os.environ}
    if workaround:
        facts["OpenBLAS workaround"] = (" ".join(f"{k}={v}" for k, v in workaround.items())
                                        + " (kept for h5batch and the C floors, removed for Python)")
    return facts


def table_rows(workload: Workload, rows: int) -> list[list[str]]:
    base = workload.entry("h5batch")
    input_mb = rows * FEATURES * 4 / 1e6
    lines = []
    for e in workload.entries:
        label = e.label + (" †" if e.self_timed else "")
        spread = f"{e.median:.3f} ({min(e.seconds):.3f}–{max(e.seconds):.3f})"
        speed = f"{input_mb / e.median:,.0f}" if e.median > 0 else "—"
        ratio = f"{e.median / base.median:.2f}×" if base and base.median > 0 else "—"
        lines.append([label, spread, speed, f"{e.peak_mib:,.1f}", ratio])
    return lines


HEADERS = ["entry", "median s (min–max)", "MB/s of input", "peak RSS MiB", "× h5batch"]


def codec_rows(workload: Workload, rows: int) -> list[list[str]]:
    """The codec table: one row per CODECS entry, in its order, measured or not supported."""
    input_bytes = rows * FEATURES * 4
    lines = []
    for label, options in CODECS:
        e = workload.entry(codec_key(label))
        settings = flow_yaml(options)
        if e is None:
            why = "not supported by this h5batch" if label in workload.unsupported else "not run"
            lines.append([label, settings, why, "—", "—", "—", "—"])
            continue
        spread = f"{e.median:.3f} ({min(e.seconds):.3f}–{max(e.seconds):.3f})"
        lines.append([label, settings, spread, f"{input_bytes / 1e6 / e.median:,.0f}",
                      f"{e.output_bytes / MIB:,.1f}", f"{input_bytes / e.output_bytes:.2f}",
                      f"{e.peak_mib:,.1f}"])
    return lines


CODEC_HEADERS = ["codec", "output options", "median s (min–max)", "MB/s of input", "output MiB",
                 "ratio", "peak RSS MiB"]


GEMM_NAMES = {"openblas": "OpenBLAS", "onednn": "oneDNN", "blis": "BLIS", "mkl": "MKL", "torch": "PyTorch"}


def gemm_name(report: dict) -> str:
    """A GEMM floor candidate as the notes name it, e.g. "OpenBLAS 0.3.21 (Haswell kernels)", or
    "oneDNN 2.6.3 matmul, bias fused (brg:avx512_core kernels)" when a library has two candidates."""
    name = f"{GEMM_NAMES.get(report.get('library'), report.get('library'))} {report.get('version', '?')}"
    if report.get("api"):
        name += f" {report['api']}"
    if report.get("bias"):
        name += ", bias fused"
    if report.get("kernels"):
        name += f" ({report['kernels']} kernels)"
    if report.get("via"):
        name += f" via {report['via']}"
    return name


def floor_note(floor: Entry, rows: int) -> str:
    """The sgemm floor: which library and scheme won, and every candidate's GFLOP/s."""
    flops = 2 * rows * (FEATURES * HIDDEN + HIDDEN * FEATURES)

    def gflops(seconds: list[float]) -> float:
        return flops / statistics.median(seconds) / 1e9

    ran = [c for c in floor.candidates if c.reports]
    best = min(ran, key=lambda c: c.median)
    scheme = min(("library-threads", "worker-threads"),
                 key=lambda s: statistics.median(r[f"{s.replace('-', '_')}_seconds"] for r in best.reports))
    each = "; ".join(f"{gemm_name(c.report)} "
                     f"{gflops([r['library_threads_seconds'] for r in c.reports]):.1f} / "
                     f"{gflops([r['worker_threads_seconds'] for r in c.reports]):.1f}" for c in ran)
    return (f"† sgemm floor: the fastest of {len(ran)} GEMM candidates, each timing its own compute "
            f"in two threading schemes: {gemm_name(best.report)}, {scheme}, "
            f"{gflops(floor.seconds):.1f} GFLOP/s. Every candidate, GFLOP/s with library threads / "
            f"worker threads: {each}. Process wall time {statistics.median(floor.wall):.3f} s "
            f"for all of them.")


def notes(workload: Workload, rows: int) -> list[str]:
    out = list(workload.notes)
    if workload.name == "codecs":
        out.append(f"codecs: ReLU then LeakyReLU(0.01) on the uncompressed input, h5batch mini-batch, "
                   f"each codec at its default level; ratio = input bytes ({rows:,} × {FEATURES} × 4) / "
                   f"output file bytes.")
        out += [f"not supported: {label}: {why}" for label, why in workload.unsupported.items()]
        return out
    floor = workload.entry("floor")
    if workload.name == "mlp" and floor and floor.reports:
        flops = 2 * rows * (FEATURES * HIDDEN + HIDDEN * FEATURES)
        text = floor_note(floor, rows)
        base = workload.entry("h5batch")
        if base:
            text += f" h5batch: {flops / base.median / 1e9:.1f} GFLOP/s effective, I/O included."
        out.append(text)
    sizes = [f"{e.label} {e.output_bytes / MIB:,.1f} MiB" for e in workload.entries
             if e.output_bytes is not None]
    if sizes:
        out.append("output sizes: " + ", ".join(sizes) + ".")
    return out


def ratio_check(workload: Workload, target: str, a: Entry | None, b: Entry | None,
                limit: float, at_most: bool) -> Check:
    """a's median time / b's against the limit: at most or at least."""
    if a is None or b is None:
        return Check(workload.name, target, "not measured", None)
    ratio = a.median / b.median
    passed = ratio <= limit if at_most else ratio >= limit
    return Check(workload.name, target,
                 f"{ratio:.2f}× ({a.label} {a.median:.3f} s / {b.label} {b.median:.3f} s)", passed)


def peer_check(workload: Workload, target: str, limit: float) -> Check:
    """The fastest peer measured against h5batch: its median / h5batch's at least `limit`."""
    peers = [e for e in workload.entries if e.key in PEER_TOOLS]
    fastest = min(peers, key=lambda e: e.median, default=None)
    check = ratio_check(workload, target, fastest, workload.entry("h5batch"), limit, at_most=False)
    missing = [key for key in PEER_TOOLS if key in workload.planned and workload.entry(key) is None]
    if missing and check.passed is not None:
        check.measured += f"; not run: {', '.join(missing)}"
    return check


def size_check(workload: Workload, ours: Entry | None, theirs: Entry | None) -> Check:
    """h5batch's output within 5% of a peer's, written with the same filters and chunks."""
    target = f"h5batch output size within 5% of {theirs.label if theirs else 'the peer'}'s"
    if not (ours and theirs):
        return Check(workload.name, target, "not measured", None)
    ratio = ours.output_bytes / theirs.output_bytes
    return Check(workload.name, target,
                 f"{ratio:.3f} ({ours.output_bytes:,} B vs {theirs.output_bytes:,} B)", abs(ratio - 1) <= 0.05)


def memory_check(workload: Workload, key: str) -> Check:
    e = workload.entry(key)
    return Check(f"memory ({workload.name})", f"{workload.planned[key]} peak RSS ≤ 160 MiB",
                 f"{e.peak_mib:,.1f} MiB" if e else "not measured", e.peak_mib <= 160 if e else None)


def checks(workloads: list[Workload], rows: int, baseline: dict | None = None) -> list[Check]:
    """Issues 13, 15 and 16's targets, the full mode's memory, the compressed outputs' sizes,
    and, with --baseline, that h5batch's figures are no worse than a previous run's."""
    found = []
    for w in workloads:
        ours, floor = w.entry("h5batch"), w.entry("floor")
        if w.name == "relu":
            found.append(ratio_check(w, "h5batch ≤ 1.1 × floor copy", ours, floor, 1.1, True))
            found.append(peer_check(w, "fastest peer ≥ 1 × h5batch (h5batch no slower)", 1.0))
        elif w.name == "mlp":
            found.append(peer_check(w, "fastest peer ≥ 2 × h5batch", 2.0))
            found.append(ratio_check(w, "h5batch ≤ 1.25 × floor sgemm (best GEMM)", ours, floor, 1.25, True))
            found.append(ratio_check(w, "h5batch --stats ≤ 1.1 × h5batch", w.entry("h5batch-stats"), ours, 1.1, True))
        elif w.name == "gzip":
            found.append(peer_check(w, "fastest peer ≥ 4 × h5batch", 4.0))
            found.append(size_check(w, ours, w.entry("dask")))
        elif w.name == "zstd":
            found.append(peer_check(w, "fastest peer ≥ 2.5 × h5batch", 2.5))
            found.append(size_check(w, ours, w.entry("dask")))
        elif w.name == "onnx":
            model = w.entry("h5batch-onnx")
            found.append(ratio_check(w, "h5batch run MODEL.onnx ≤ 1.05 × the pipeline file", model, ours,
                                     1.05, True))
            found.append(ratio_check(w, "h5py + ONNX Runtime ≥ 2 × h5batch run MODEL.onnx",
                                     w.entry("onnxruntime"), model, 2.0, False))
    for w in workloads:
        for key in ("h5batch", "h5batch-onnx"):
            if key in w.planned:
                found.append(memory_check(w, key))
    for w in workloads:
        if "h5batch-full" not in w.planned:
            continue
        e = w.entry("h5batch-full")
        width = FEATURES + HIDDEN if w.name == "mlp" else FEATURES
        limit = 1.1 * rows * width * 4 / MIB
        found.append(Check(f"memory ({w.name})",
                           f"h5batch full peak ≤ 1.1 × {rows:,}×{width}×4 B = {limit:,.1f} MiB",
                           f"{e.peak_mib:,.1f} MiB ({e.peak_mib / limit * 1.1:.2f}× tensors)" if e
                           else "not measured", e.peak_mib <= limit if e else None))
    if baseline is not None:
        found += baseline_checks(workloads, baseline)
    return found


# How much worse than a --baseline run a figure may be before it counts as worse: time moves
# between runs on a shared machine (medians of separate sessions, not interleaved); memory
# and output sizes hardly move.
BASELINE_TIME_SLACK, BASELINE_SIZE_SLACK = 1.10, 1.02


def baseline_checks(workloads: list[Workload], baseline: dict) -> list[Check]:
    """h5batch's own figures against the same entry in a previous run's --json: the median
    time, the peak RSS and the output size, each within its slack of the baseline's.
    Workloads and entries the baseline lacks are skipped (parse_args refused another size)."""
    found = []
    for w in workloads:
        before_entries = baseline["workloads"].get(w.name, {})
        for e in w.entries:
            before = before_entries.get(e.key)
            if not (tool_of(e).startswith("h5batch") and before):
                continue
            figures = [("median time", e.median, before["median_seconds"], "s", BASELINE_TIME_SLACK),
                       ("peak RSS", e.peak_mib, max(before["peak_rss_kib"]) / 1024, "MiB", BASELINE_SIZE_SLACK)]
            if e.output_bytes is not None and before.get("output_bytes"):
                figures.append(("output size", e.output_bytes / MIB, before["output_bytes"] / MIB, "MiB",
                                BASELINE_SIZE_SLACK))
            for what, now, then, unit, slack in figures:
                found.append(Check(f"baseline ({w.name})", f"{e.label}: {what} ≤ {slack} × baseline",
                                   f"{now / then:.2f}× ({now:,.3f} {unit} vs {then:,.3f} {unit})",
                                   now <= slack * then))
    return found


def text_table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def markdown_table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    align = ["---:" if i in right else "---" for i in range(len(headers))]
    return "\n".join("| " + " | ".join(r) + " |" for r in [headers, align, *rows])


def report(workloads: list[Workload], facts: dict[str, str], args: argparse.Namespace,
           found: list[Check]) -> tuple[str, str]:
    size = f"{args.rows:,} rows × {FEATURES} float32 = {args.rows * FEATURES * 4 / MIB:,.0f} MiB"
    intro = (f"{size} per workload, {args.repeat} repetition(s) interleaved, warm page cache "
             f"(nothing dropped), median wall time per process.")
    machine = "; ".join(f"{k}: {v}" for k, v in facts.items())
    text, md = [f"machine: {machine}", intro], ["**Machine:** " + machine, "", intro]
    for label, why in args.skipped.items():
        text.append(f"skipped: {label}: {why}")
        md += ["", f"Skipped: {label}: {why}"]
    for w in workloads:
        if w.name == "codecs":
            headers, rows, right = CODEC_HEADERS, codec_rows(w, args.rows), {2, 3, 4, 5, 6}
        else:
            headers, rows, right = HEADERS, table_rows(w, args.rows), {1, 2, 3, 4}
        text += ["", f"== {w.name} ==", text_table(headers, rows, right), *notes(w, args.rows)]
        md += ["", f"### {w.name}", "", markdown_table(headers, rows, right), ""]
        md += [n + "  " for n in notes(w, args.rows)]
    check_rows = [[c.status, c.workload, c.target, c.measured] for c in found]
    check_headers = ["status", "workload", "target", "measured"]
    text += ["", "== targets ==", text_table(check_headers, check_rows, set())]
    md += ["", "### Targets", "", markdown_table(check_headers, check_rows, set())]
    if args.rows != DEFAULT_ROWS:
        caveat = (f"note: the targets are set for --rows {DEFAULT_ROWS:,}; at {args.rows:,} rows "
                  f"fixed costs (process start, imports, runtime) skew them.")
        text.append(caveat)
        md += ["", caveat]
    tally = {s: sum(c.status == s for c in found) for s in ("PASS", "FAIL", "SKIP")}
    summary = f"targets: {tally['PASS']} PASS, {tally['FAIL']} FAIL, {tally['SKIP']} SKIP"
    text.append(summary)
    md += ["", summary]
    return "\n".join(text), "\n".join(md) + "\n"


def save_json(path: Path, workloads: list[Workload], facts: dict[str, str],
              args: argparse.Namespace, found: list[Check]) -> None:
    data = {
        "machine": facts,
        "rows": args.rows,
        "repeat": args.repeat,
        "cache": "warm",
        "skipped": args.skipped,
        "unsupported": {w.name: w.unsupported for w in workloads if w.unsupported},
        "workloads": {
            w.name: {
                e.key: {"label": e.label, "argv": e.argv, "seconds": e.seconds,
                        "wall_seconds": e.wall, "outside_seconds": e.outside,
                        "median_seconds": e.median,
                        "peak_rss_kib": e.rss_kib, "output_bytes": e.output_bytes,
                        "self_timed": e.self_timed, "report": e.report,
                        "candidates": {c.key: {"label": c.label, "argv": c.argv, "seconds": c.seconds,
                                               "wall_seconds": c.wall, "peak_rss_kib": c.rss_kib,
                                               "reports": c.reports} for c in e.candidates}}
                for e in w.entries
            }
            for w in workloads
        },
        "checks": [{"workload": c.workload, "target": c.target, "measured": c.measured,
                    "status": c.status} for c in found],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark h5batch against h5py, dask and hardware floors.",
        epilog="See the docstring at the top of this file for how to read the results.")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS,
                        help=f"rows of 256 float32 values per input (default {DEFAULT_ROWS:,})")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per entry (default 3)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/h5batch-bench"),
                        help="where inputs, outputs, floors and logs go (default /tmp/h5batch-bench)")
    parser.add_argument("--h5batch", type=Path, default=REPO / ".build/release/h5batch",
                        help="the h5batch binary (default: the repository's release build)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help=f"comma-separated subset of {','.join(WORKLOADS)}")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated subset of {','.join(TOOLS)}")
    parser.add_argument("--keep-outputs", action="store_true",
                        help="keep each entry's last output in WORKDIR/out (default: delete them "
                             "once a workload is done)")
    parser.add_argument("--json", type=Path, help="also save the results as JSON here")
    parser.add_argument("--markdown", type=Path, help="also save the tables as Markdown here")
    parser.add_argument("--baseline", type=Path,
                        help="a previous run's --json: also check that h5batch's figures are no worse "
                             f"(time at most {BASELINE_TIME_SLACK} ×, memory and output size "
                             f"{BASELINE_SIZE_SLACK} × the baseline's)")
    args = parser.parse_args(argv)

    def subset(text: str, allowed: tuple[str, ...], option: str) -> list[str]:
        chosen = [t.strip() for t in text.split(",") if t.strip()]
        unknown = [t for t in chosen if t not in allowed]
        if unknown or not chosen:
            parser.error(f"{option}: unknown {', '.join(unknown) or '(empty)'}; "
                         f"choose from {', '.join(allowed)}")
        return [t for t in allowed if t in chosen]  # canonical order

    args.workloads = subset(args.workloads, WORKLOADS, "--workloads")
    args.tools = subset(args.tools, TOOLS, "--tools")
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.workdir = args.workdir.resolve()
    args.h5batch = args.h5batch.absolute()
    if args.baseline:
        try:
            args.baseline = json.loads(args.baseline.read_text())
        except (OSError, ValueError) as error:
            parser.error(f"--baseline: cannot read {args.baseline}: {error}")
        if args.baseline.get("rows") != args.rows:
            parser.error(f"--baseline was measured at --rows {args.baseline.get('rows')}, "
                         f"this run is at --rows {args.rows}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    workloads = prepare(args)
    facts = machine_facts(args.h5batch, args.probe)
    run_all(workloads, args)
    found = checks(workloads, args.rows, args.baseline)
    text, md = report(workloads, facts, args, found)
    print(text)
    if args.json:
        save_json(args.json, workloads, facts, args, found)
    if args.markdown:
        args.markdown.write_text(md)


if __name__ == "__main__":
    main()
