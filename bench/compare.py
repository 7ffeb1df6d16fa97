#!/usr/bin/env python3
"""Benchmark h5batch against the tools a user would otherwise run, and against hardware floors.

What it measures
----------------
Three standard workloads over a float32 dataset of ROWS x 256 (default 1,048,576 rows = 1 GiB),
stored in chunks of 8192 rows and generated with `h5batch generate --seed 1`:

  relu  uncompressed input -> relu -> uncompressed output
  mlp   uncompressed input -> linear 256->1024 (+bias) -> relu -> linear 1024->256 (+bias)
        -> uncompressed output
  gzip  gzip-4 + shuffle input -> relu -> leaky_relu(0.01) -> gzip-4 + shuffle output

Each workload is run by every entry:

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
                   oneDNN, BLIS) and of MKL through PyTorch (bench/peers/torch_gemm_floor.py)

Every entry is a separate process, measured the same way from outside: wall time from spawn to
exit, and the child's own peak RSS (ru_maxrss from wait4). Both are taken by bench/measure.c, a
tiny launcher: a process spawned straight from this Python driver would start with the driver's
own peak RSS as its ru_maxrss (see measure.c). The one exception is the sgemm floor's time,
which is its own measurement of the compute: each candidate library runs in its own process,
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

PyTorch and ONNX Runtime are optional: when `import torch` (or onnxruntime) fails in the Python
running this script, their entries are skipped with a line saying why, and the run goes on.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
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

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PEERS = BENCH / "peers"
DEFAULT_ROWS = 1 << 20
FEATURES = 256
HIDDEN = 1024
CHUNK_ROWS = 8192
DATASET = "/x"
LEAKY_SLOPE = np.float32(0.01)
WORKLOADS = ("relu", "mlp", "gzip")
TOOLS = ("h5batch", "h5batch-stats", "h5batch-full", "h5py-stream", "h5py-full", "dask", "torch", "onnxruntime", "floor")
PEER_TOOLS = ("h5py-stream", "h5py-full", "dask", "torch", "onnxruntime")  # what a user would run instead
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


def input_matches(path: Path, rows: int, compressed: bool) -> bool:
    try:
        with h5py.File(path, "r") as f:
            d = f[DATASET]
            return (d.shape == (rows, FEATURES) and d.dtype == np.float32
                    and d.chunks == (min(CHUNK_ROWS, rows), FEATURES)
                    and (d.compression == "gzip") == compressed and d.shuffle == compressed)
    except (OSError, KeyError):
        return False


def generate_input(h5batch: Path, path: Path, rows: int, compressed: bool) -> None:
    if input_matches(path, rows, compressed):
        return
    command = [str(h5batch), "generate", str(path), "--dataset", DATASET,
               "--shape", f"{rows}x{FEATURES}", "--chunk-rows", str(CHUNK_ROWS), "--seed", "1"]
    if compressed:
        command += ["--compression", "gzip:4", "--shuffle"]
    command.append("--force")
    progress(f"generating {path.name}: {shlex.join(command)}")
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


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
}


PROBE = """\
import importlib, json, sys
found = {"versions": {}, "errors": {}}
for name in sys.argv[1:]:
    try:
        found["versions"][name] = importlib.import_module(name).__version__
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


def prepare(args: argparse.Namespace) -> list[Workload]:
    """Build the floors; generate inputs, weights, pipelines and models that are missing or stale.

    A peer whose Python packages cannot be imported is left out, with a line saying why
    (args.skipped, also in the report).
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
    args.probe = probe_python(optional)

    plain, gzipped, weights = workdir / "input.h5", workdir / "input-gzip.h5", workdir / "weights.h5"
    if {"relu", "mlp"} & set(args.workloads):
        generate_input(args.h5batch, plain, args.rows, compressed=False)
    if "gzip" in args.workloads:
        generate_input(args.h5batch, gzipped, args.rows, compressed=True)
    write_weights(weights)
    inputs = {name: gzipped if name == "gzip" else plain for name in args.workloads}

    unavailable = {}  # tool key -> why it cannot run
    for key in ("torch", "onnxruntime"):
        if key in args.probe["errors"]:
            unavailable[key] = f"`import {key}` failed in {sys.executable}: {args.probe['errors'][key]}"
    if "onnxruntime" in args.tools and "onnxruntime" not in unavailable:
        why = onnx_models(workdir, args.workloads, inputs, weights, args.probe)
        if why:
            unavailable["onnxruntime"] = why
    if mlp_floor and "torch" in unavailable:
        args.skipped["sgemm floor: MKL via PyTorch"] = unavailable["torch"]
    for label, why in args.skipped.items():
        progress(f"skipping {label}: {why}")

    workloads = []
    for name in args.workloads:
        pipeline = workdir / f"{name}.yaml"
        pipeline.write_text(f"# h5batch benchmark workload '{name}', written by bench/compare.py\n"
                            + PIPELINES[name].format(chunk=CHUNK_ROWS))
        source = inputs[name]
        workload = Workload(name, source, pipeline, weights)

        def out(key: str) -> Path:
            return workdir / "out" / f"{name}-{key}.h5"

        def h5batch(key: str, label: str, *extra: str) -> Entry:
            return Entry(key, label, [str(args.h5batch), "run", str(pipeline),
                                      "--output", str(out(key)), *extra, "--force"], out(key))

        def peer(key: str, label: str, script: str, *extra: str) -> Entry:
            argv = [sys.executable, str(PEERS / script), "--workload", name,
                    "--input", str(source), "--output", str(out(key))]
            if name == "mlp":
                argv += ["--weights", str(weights)]
            return Entry(key, label, [*argv, *extra], out(key), env=python_environment())

        candidates = [
            h5batch("h5batch", "h5batch"),
            h5batch("h5batch-full", "h5batch --mode full", "--mode", "full"),
            peer("h5py-stream", "h5py stream", "h5py_stream.py"),
            peer("h5py-full", "h5py full", "h5py_full.py"),
            peer("dask", "dask.array", "dask_array.py"),
            peer("torch", "h5py + PyTorch", "torch_stream.py"),
            peer("onnxruntime", "h5py + ONNX Runtime", "onnxruntime_stream.py",
                 "--model", str(workdir / f"{name}.onnx")),
        ]
        if name == "mlp":
            # What counting every stage's statistics costs (the output is the same).
            candidates.insert(1, h5batch("h5batch-stats", "h5batch --stats", "--stats"))
            shape = [str(args.rows), str(FEATURES), str(HIDDEN), str(FEATURES)]
            gemms = [Entry(library, f"sgemm {library}", [str(binary), "sgemm", *shape], None,
                           self_timed=True) for library, binary in gemm_floors.items()]
            if "torch" not in unavailable:
                script = [sys.executable, str(PEERS / "torch_gemm_floor.py"), *shape]
                gemms.append(Entry("torch", "sgemm torch", script, None, self_timed=True,
                                   env=python_environment()))
            candidates.append(Entry("floor", "floor: best sgemm", [], None, self_timed=True,
                                    candidates=gemms))
        else:
            candidates.append(Entry("floor", "floor: raw chunk copy",
                                    [str(floors), "copy", str(source), DATASET, str(out("floor"))],
                                    out("floor")))
        for e in candidates:
            if e.key in args.tools and e.key in unavailable and e.label not in args.skipped:
                args.skipped[e.label] = unavailable[e.key]
                progress(f"skipping {e.label}: {unavailable[e.key]}")
        workload.entries = [e for e in candidates if e.key in args.tools and e.key not in unavailable]
        workloads.append(workload)
    return workloads


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
    """The sgemm floor once: every candidate library in turn; the floor is the fastest of them."""
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
    if workload.name == "mlp":
        with h5py.File(workload.weights, "r") as w:
            h = np.maximum(x @ w["fc1.weight"][()].T + w["fc1.bias"][()], 0)
            return h @ w["fc2.weight"][()].T + w["fc2.bias"][()]
    y = np.maximum(x, 0)
    if workload.name == "gzip":
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


GEMM_NAMES = {"openblas": "OpenBLAS", "onednn": "oneDNN", "blis": "BLIS", "mkl": "MKL", "torch": "PyTorch"}


def gemm_name(report: dict) -> str:
    """A GEMM floor candidate as the notes name it, e.g. "OpenBLAS 0.3.21 (Haswell kernels)"."""
    name = f"{GEMM_NAMES.get(report.get('library'), report.get('library'))} {report.get('version', '?')}"
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
    return (f"† sgemm floor: the fastest of {len(ran)} GEMM libraries, each timing its own compute "
            f"in two threading schemes: {gemm_name(best.report)}, {scheme}, "
            f"{gflops(floor.seconds):.1f} GFLOP/s. Every candidate, GFLOP/s with library threads / "
            f"worker threads: {each}. Process wall time {statistics.median(floor.wall):.3f} s "
            f"for all of them.")


def notes(workload: Workload, rows: int) -> list[str]:
    out = []
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
    missing = [key for key in PEER_TOOLS if workload.entry(key) is None]
    if missing and check.passed is not None:
        check.measured += f"; not run: {', '.join(missing)}"
    return check


def checks(workloads: list[Workload], rows: int) -> list[Check]:
    """Issue 13's targets, plus the full mode's memory and the gzip output's size."""
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
            theirs = w.entry("dask")
            if ours and theirs:
                ratio = ours.output_bytes / theirs.output_bytes
                found.append(Check(w.name, "h5batch output size within 5% of dask's",
                                   f"{ratio:.3f} ({ours.output_bytes:,} B vs {theirs.output_bytes:,} B)",
                                   abs(ratio - 1) <= 0.05))
            else:
                found.append(Check(w.name, "h5batch output size within 5% of dask's",
                                   "not measured", None))
    for w in workloads:
        e = w.entry("h5batch")
        found.append(Check(f"memory ({w.name})", "h5batch peak RSS ≤ 160 MiB",
                           f"{e.peak_mib:,.1f} MiB" if e else "not measured",
                           e.peak_mib <= 160 if e else None))
    for w in workloads:
        e = w.entry("h5batch-full")
        width = FEATURES + HIDDEN if w.name == "mlp" else FEATURES
        limit = 1.1 * rows * width * 4 / MIB
        found.append(Check(f"memory ({w.name})",
                           f"h5batch full peak ≤ 1.1 × {rows:,}×{width}×4 B = {limit:,.1f} MiB",
                           f"{e.peak_mib:,.1f} MiB ({e.peak_mib / limit * 1.1:.2f}× tensors)" if e
                           else "not measured", e.peak_mib <= limit if e else None))
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
    right = {1, 2, 3, 4}
    for w in workloads:
        rows = table_rows(w, args.rows)
        text += ["", f"== {w.name} ==", text_table(HEADERS, rows, right), *notes(w, args.rows)]
        md += ["", f"### {w.name}", "", markdown_table(HEADERS, rows, right), ""]
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
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    workloads = prepare(args)
    facts = machine_facts(args.h5batch, args.probe)
    run_all(workloads, args)
    found = checks(workloads, args.rows)
    text, md = report(workloads, facts, args, found)
    print(text)
    if args.json:
        save_json(args.json, workloads, facts, args, found)
    if args.markdown:
        args.markdown.write_text(md)


if __name__ == "__main__":
    main()
