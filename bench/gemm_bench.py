#!/usr/bin/python3
"""sgemm speed at latent's shapes: Debian's OpenBLAS as it configures itself,
the same OpenBLAS forced to the best kernels for this CPU, and BLIS.

Groundwork for issue 17: on CPUs newer than Debian 12's OpenBLAS 0.3.21
(Intel family 6 model 207, for one) OpenBLAS does not recognise the model
and falls back to its Prescott (SSE3) kernels. This measures by how much, at
the shapes latent multiplies, single-threaded as latent calls BLAS (one BLAS
thread under each of its own threads):

    two-tower batch    512 pairs x 9,742 catalog items x d     (A B^T, the catalog softmax)
    in-batch           900 users x 1,100 items x d             (A B^T, distinct ids of a batch)
    top-K block        1,024 users x 4,096 items x d           (A B^T, exact search)
    ALS Gramian        d x d over 26,000 rows                  (A^T A)
    EASE Gram          1,682 x 1,682 over 943 users            (A^T A, d does not apply)

for d in 32, 64, 128. Each library runs in a child process of its own (the
OpenBLAS core type is read when the library loads, so forcing it needs a
new process: OPENBLAS_CORETYPE, set here in the child only). The figure is
the best of repeated calls lasting at least 0.3 s, in GFLOP/s (2mnk / s).

    /usr/bin/python3 bench/gemm_bench.py [--blis /usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4]

BLIS is Debian's libblis4-openmp (or -pthread); without it its column is
left out. Nothing of this is part of latent yet.
"""

import argparse
import ctypes
import json
import os
import pathlib
import subprocess
import sys
import time

OPENBLAS = "/usr/lib/x86_64-linux-gnu/libopenblas.so.0"
BLIS_CANDIDATES = ["/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4",
                   "/usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4",
                   "/usr/lib/x86_64-linux-gnu/libblis.so.4"]

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def shapes(d):
    # (name, m, n, k, transpose A, transpose B): C (m x n) = op(A) op(B)
    return [
        (f"two-tower batch d{d}", 512, 9742, d, False, True),
        (f"in-batch d{d}", 900, 1100, d, False, True),
        (f"top-K block d{d}", 1024, 4096, d, False, True),
        (f"ALS Gramian d{d}", d, d, 26000, True, False),
    ]


ALL_SHAPES = [s for d in (32, 64, 128) for s in shapes(d)] + [
    ("EASE Gram", 1682, 1682, 943, True, False)]


def best_coretype():
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if "avx512_bf16" in flags:
        return "Cooperlake"
    if "avx512f" in flags:
        return "SkylakeX"
    if "avx2" in flags:
        return "Haswell"
    return "Prescott"


def child(library):
    """Runs in the child: measures every shape with `library`, prints JSON."""
    import numpy as np
    lib = ctypes.CDLL(library)
    if hasattr(lib, "openblas_set_num_threads"):
        lib.openblas_set_num_threads(1)
    core = ""
    if hasattr(lib, "openblas_get_corename"):
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = lib.openblas_get_corename().decode()
    sgemm = lib.cblas_sgemm
    f = ctypes.c_float
    i = ctypes.c_int
    p = ctypes.c_void_p
    sgemm.argtypes = [i, i, i, i, i, i, f, p, i, p, i, f, p, i]
    rng = np.random.default_rng(1)
    results = {}
    for name, m, n, k, ta, tb in ALL_SHAPES:
        a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        c = np.zeros((m, n), dtype=np.float32)
        args = (ROW_MAJOR, TRANS if ta else NO_TRANS, TRANS if tb else NO_TRANS, m, n, k, 1.0,
                a.ctypes.data, a.shape[1], b.ctypes.data, b.shape[1], 0.0, c.ctypes.data, n)
        sgemm(*args)  # warm-up
        best = float("inf")
        spent = 0.0
        while spent < 0.3:
            t = time.perf_counter()
            sgemm(*args)
            dt = time.perf_counter() - t
            best = min(best, dt)
            spent += dt
        results[name] = 2.0 * m * n * k / best / 1e9
    print(json.dumps({"core": core, "gflops": results}))


def measure(library, env):
    full = dict(os.environ, OPENBLAS_NUM_THREADS="1", BLIS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    full.update(env)
    done = subprocess.run([sys.executable, __file__, "--child", library], env=full,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--blis", default=next((c for c in BLIS_CANDIDATES
                                                if pathlib.Path(c).exists()), None))
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    forced = best_coretype()
    runs = [("openblas", measure(OPENBLAS, {}))]
    runs.append((f"forced {forced}", measure(OPENBLAS, {"OPENBLAS_CORETYPE": forced})))
    if args.blis:
        runs.append(("blis", measure(args.blis, {})))
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    print(f"CPU: {model}; OpenBLAS picked {runs[0][1]['core']!r}, forced {runs[1][1]['core']!r}; "
          f"1 thread; GFLOP/s, best of repeats")
    header = f"{'shape':<22}" + "".join(f"{name:>20}" for name, _ in runs)
    header += "".join(f"{name + ' / openblas':>30}" for name, _ in runs[1:])
    print(header)
    for name, *_ in ALL_SHAPES:
        base = runs[0][1]["gflops"][name]
        row = f"{name:<22}" + "".join(f"{r['gflops'][name]:>20.1f}" for _, r in runs)
        row += "".join(f"{r['gflops'][name] / base:>29.2f}x" for _, r in runs[1:])
        print(row)


if __name__ == "__main__":
    main()
