#!/usr/bin/python3
"""sgemm speed at latent's shapes: latent's GEMM path, Debian's OpenBLAS as it
configures itself, the same OpenBLAS forced to each of the kernels this CPU
runs, and BLIS.

On CPUs newer than Debian 12's OpenBLAS 0.3.21 (Intel family 6 model 207,
for one) OpenBLAS does not recognise the model and falls back to its
Prescott (SSE3) kernels; latent then chooses the kernels by the CPU's
instruction sets itself (src/detail/blas.hpp). This measures all of it at
the shapes latent multiplies, single-threaded as latent calls BLAS (one
BLAS thread under each of its own threads):

    two-tower batch    512 pairs x 9,742 catalog items x d     (A B^T, the catalog softmax)
    in-batch           900 users x 1,100 items x d             (A B^T, distinct ids of a batch)
    top-K block        1,024 users x 4,096 items x d           (A B^T, exact search)
    ALS Gramian        d x d over 26,000 rows                  (A^T A)
    EASE Gram          1,682 x 1,682 over 943 users            (A^T A, d does not apply)

for d in 32, 64, 128. Each runs in a child process of its own (OpenBLAS
reads OPENBLAS_CORETYPE when it loads, so forcing it needs a new process; the
variable is set here in those children only, never for latent's). latent's
path is build/bench/latent_bench_gemm_path (bench/gemm_path.cpp), calling
latent's own sgemm wrappers. The figure is the best of repeated calls
lasting at least 0.3 s, in GFLOP/s (2mnk / s), and the best of --repeats
rounds (3), each running every child once in a rotated order, so that a
moment of load on a shared machine does not land on one column only. "best
forced" is the fastest of the forced runs for each shape; the target is
latent / best forced >= 0.90.

    cmake --build build --target latent_bench_gemm_path
    /usr/bin/python3 bench/gemm_bench.py [--blis /usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4]

BLIS is Debian's libblis4-openmp (or -pthread; scripts/install-deps.sh
--bench installs it); without it its column is left out.
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


def forced_coretypes():
    """The OpenBLAS kernels with AVX or later that this CPU runs, read from
    /proc/cpuinfo here (not from latent, whose choice this checks)."""
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    avx512 = {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"} <= flags
    cores = []
    if avx512 and "avx512_bf16" in flags:
        cores.append("Cooperlake")
    if avx512:
        cores.append("SkylakeX")
    if {"avx2", "fma"} <= flags:
        cores.append("Haswell")
    if "avx" in flags:
        cores.append("Sandybridge")
    return cores or ["Prescott"]


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


def child_env(env):
    full = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    full.update(OPENBLAS_NUM_THREADS="1", BLIS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    full.update(env)
    return full


def measure(library, env):
    done = subprocess.run([sys.executable, __file__, "--child", library], env=child_env(env),
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def measure_latent(binary):
    shapes = json.dumps([list(s) for s in ALL_SHAPES])
    done = subprocess.run([binary], input=shapes, env=child_env({}), capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--latent", default="build/bench/latent_bench_gemm_path",
                        help="latent's GEMM path binary (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds; each figure is the best of them (default: %(default)s)")
    parser.add_argument("--blis", default=next((c for c in BLIS_CANDIDATES
                                                if pathlib.Path(c).exists()), None))
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if not pathlib.Path(args.latent).exists():
        sys.exit(f"gemm_bench.py: {args.latent} is missing: "
                 "cmake --build build --target latent_bench_gemm_path")
    children = {"openblas": lambda: measure(OPENBLAS, {}),
                "latent": lambda: measure_latent(args.latent)}
    for core in forced_coretypes():
        children[core] = lambda core=core: measure(OPENBLAS, {"OPENBLAS_CORETYPE": core})
    if args.blis:
        children["blis"] = lambda: measure(args.blis, {})
    best = {}
    order = list(children)
    for r in range(args.repeats):
        for name in order[r % len(order):] + order[:r % len(order)]:
            result = children[name]()
            if name not in best:
                best[name] = result
            else:
                for shape, gflops in result["gflops"].items():
                    best[name]["gflops"][shape] = max(best[name]["gflops"][shape], gflops)
    plain, latent, blis = best["openblas"], best["latent"], best.get("blis")
    forced = {core: best[core] for core in forced_coretypes()}
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    print(f"CPU: {model}")
    print(f"OpenBLAS as it loads: {plain['core']}; forced: {', '.join(forced)}; "
          f"latent: {latent['core']} (chosen by {latent['chosen_by']})")
    print(f"1 thread; GFLOP/s, best of {args.repeats} rounds of repeated calls; "
          "best forced = fastest forced core for the shape\n")
    columns = ["openblas", "best forced", "latent", "latent/forced", "latent/openblas"]
    if blis:
        columns += ["blis", "blis/forced"]
    print(f"{'shape':<22}" + "".join(f"{c:>17}" for c in columns))
    ratios = []
    for name, *_ in ALL_SHAPES:
        base = plain["gflops"][name]
        best_core = max(forced, key=lambda c: forced[c]["gflops"][name])
        best = forced[best_core]["gflops"][name]
        ours = latent["gflops"][name]
        ratios.append(ours / best)
        row = [f"{base:.1f}", f"{best:.1f} {best_core[:4]}", f"{ours:.1f}", f"{ours / best:.2f}",
               f"{ours / base:.2f}x"]
        if blis:
            row += [f"{blis['gflops'][name]:.1f}", f"{blis['gflops'][name] / best:.2f}"]
        print(f"{name:<22}" + "".join(f"{c:>17}" for c in row))
    print(f"\nlatent / best forced OpenBLAS: lowest {min(ratios):.2f}, "
          f"median {sorted(ratios)[len(ratios) // 2]:.2f} (target >= 0.90)")


if __name__ == "__main__":
    main()
