"""The MLP's GEMM floor through PyTorch: MKL's sgemm (on x86), a candidate of compare.py's floor.

The same measurement as `floors sgemm` (bench/floors.c), made with torch.mm: [ROWS,IN] x
[IN,HIDDEN] then [ROWS,HIDDEN] x [HIDDEN,OUT], weights stored [out,in] like nn.Linear's (used
through a transposed view, no copy), in batches of 8192 rows, no I/O, no bias, no activation,
the products written into buffers allocated and touched before timing. Two ways:
  (a) "library-threads": torch.set_num_threads(ncores), batches one after another;
  (b) "worker-threads": torch.set_num_threads(1), ncores Python threads (torch.mm releases the
      GIL) each taking their share of the batches with their own buffers.
Prints one JSON line with the same keys as floors sgemm; "seconds" and "gflops" are those of
the faster way, named by "best".

    python3 torch_gemm_floor.py ROWS IN HIDDEN OUT
"""
import json
import os
import re
import sys
import threading
import time

import torch

BATCH_ROWS = 8192


class Buffers:
    """One batch: x [B,in], h [B,hidden], y [B,out]."""

    def __init__(self, features, hidden, out):
        self.x = torch.rand(BATCH_ROWS, features) - 0.5
        self.h = torch.zeros(BATCH_ROWS, hidden)
        self.y = torch.zeros(BATCH_ROWS, out)


def mlp_batch(b, w1, w2, rows):
    torch.mm(b.x[:rows], w1.t(), out=b.h[:rows])
    torch.mm(b.h[:rows], w2.t(), out=b.y[:rows])


def time_library_threads(sizes, w1, w2, cores):
    """(a) all cores inside the library, batches in sequence."""
    torch.set_num_threads(cores)
    b = Buffers(w1.shape[1], w1.shape[0], w2.shape[0])
    mlp_batch(b, w1, w2, sizes[0])  # warm-up: thread pool, page faults
    start = time.perf_counter()
    for rows in sizes:
        mlp_batch(b, w1, w2, rows)
    return time.perf_counter() - start


def time_worker_threads(sizes, w1, w2, cores):
    """(b) one library thread per worker, ncores workers sharing the batches."""
    torch.set_num_threads(1)
    ready = threading.Barrier(cores + 1)

    def work(first):
        b = Buffers(w1.shape[1], w1.shape[0], w2.shape[0])
        mlp_batch(b, w1, w2, sizes[0])  # warm-up
        ready.wait()  # all ready: timing starts
        for rows in sizes[first::cores]:
            mlp_batch(b, w1, w2, rows)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(cores)]
    for worker in workers:
        worker.start()
    ready.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    return time.perf_counter() - start


def library():
    """The library torch.mm uses on this build, and its version where PyTorch says it."""
    if not torch.backends.mkl.is_available():
        return {"library": "torch", "version": torch.__version__, "kernels": None}
    found = re.search(r"Math Kernel Library Version ([0-9.]+)", torch.__config__.show())
    return {"library": "mkl", "version": found.group(1) if found else "?", "kernels": None,
            "via": f"torch {torch.__version__}"}


def main():
    if len(sys.argv) != 5 or not all(a.isdigit() and int(a) > 0 for a in sys.argv[1:]):
        sys.exit("usage: torch_gemm_floor.py ROWS IN HIDDEN OUT (positive integers)")
    rows, features, hidden, out = map(int, sys.argv[1:])
    cores = len(os.sched_getaffinity(0))
    sizes = [min(BATCH_ROWS, rows - k) for k in range(0, rows, BATCH_ROWS)]
    w1 = (torch.rand(hidden, features) - 0.5) * 0.125  # [out, in], like nn.Linear
    w2 = (torch.rand(out, hidden) - 0.5) * 0.0625

    with torch.inference_mode():
        a = time_library_threads(sizes, w1, w2, cores)
        b = time_worker_threads(sizes, w1, w2, cores)
    best = min(a, b)
    flops = 2.0 * rows * (features * hidden + hidden * out)
    print(json.dumps({"floor": "sgemm", **library(), "rows": rows, "in": features, "hidden": hidden,
                      "out": out, "cores": cores, "batch_rows": BATCH_ROWS, "seconds": round(best, 6),
                      "gflops": round(flops / best / 1e9, 2),
                      "best": "library-threads" if a <= b else "worker-threads",
                      "library_threads_seconds": round(a, 6), "worker_threads_seconds": round(b, 6)}))


if __name__ == "__main__":
    main()
