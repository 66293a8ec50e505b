#!/usr/bin/python3
"""latent against the `implicit` library at the MovieLens-20M shape, in one run.

On the same synthetic data (`latent synth` with its defaults: 138,000 users,
26,000 items, 10M pairs, seed 42), with 64 factors and --threads threads:

  latent (before)  build/bench/latent_bench_scale on the BLAS kernels OpenBLAS
                   picks by itself (OPENBLAS_CORETYPE set to that pick, here
                   only): latent as it ran before it chose the kernels by the
                   CPU's instruction sets (src/detail/blas.hpp). Left out when
                   OpenBLAS's own pick is the one latent keeps.
  latent           the same binary as users run it.
  implicit 0.7.3   bench/implicit_scale.py in build/peers-venv (made here on
                   the first run: implicit from PyPI, its OpenBLAS one thread).

ALS (conjugate gradient) seconds per iteration, BPR seconds per epoch, top-10
for 10,000 users with seen items excluded, and each process's peak RSS; the
ratio columns are implicit / latent (higher: latent faster or smaller).

    cmake --build build --target latent_cli latent_bench_scale
    /usr/bin/python3 bench/scale_bench.py [--threads 2] [--runs 1]

With --runs N each side runs N times, interleaved, and the table shows medians.
Run it on a quiet machine: the script prints the load average at the start.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from peers import peers_python  # noqa: E402

IMPLICIT = "implicit==0.7.3"
PEERS = {"implicit": IMPLICIT, "threadpoolctl": "threadpoolctl"}


def run_json(cmd, env=None):
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"scale_bench.py: {' '.join(map(str, cmd))} failed:\n{done.stderr}{done.stdout}")
    return done.stdout


def run_latent(binary, threads, env):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run_json([binary, "--threads", str(threads), "--json", out.name], env)
        j = json.load(open(out.name))
    return {"als": j["als_seconds_per_iteration_median"], "bpr": j["bpr_seconds_per_epoch_median"],
            "top10": j["top10_seconds_median"], "peak": j["peak_rss_mb"], "system": j["system"]}


def run_implicit(python, data, threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    j = json.loads(run_json([python, ROOT / "bench" / "implicit_scale.py", "--data", data,
                             "--threads", str(threads)], env))
    return {"als": j["als_seconds_per_iteration"], "bpr": j["bpr_seconds_per_epoch"],
            "top10": j["top10_seconds"], "peak": j["peak_rss_mb"], "blas": j["blas"],
            "version": j["implicit"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--build", default=str(ROOT / "build"))
    p.add_argument("--venv", default=None, help="implicit's environment (default: BUILD/peers-venv)")
    a = p.parse_args()
    build = pathlib.Path(a.build)
    bench = build / "bench" / "latent_bench_scale"
    cli = build / "bin" / "latent"
    for f in (bench, cli):
        if not f.exists():
            sys.exit(f"scale_bench.py: {f} is missing: "
                     "cmake --build build --target latent_cli latent_bench_scale")
    python = peers_python(pathlib.Path(a.venv) if a.venv else build / "peers-venv", PEERS)
    data = build / "bench-data" / "synth-default.csv"
    if not data.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        run_json([cli, "synth", "--out", data])

    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    system = json.loads(run_json([cli, "info", "--system", "--json"], clean))
    sides = {}
    if system["blas_chosen_by"] == "latent":
        before = dict(clean, OPENBLAS_CORETYPE=system["blas_openblas_pick"])
        sides["latent (before)"] = lambda: run_latent(bench, a.threads, before)
    sides["latent"] = lambda: run_latent(bench, a.threads, clean)
    sides[f"{IMPLICIT.replace('==', ' ')}"] = lambda: run_implicit(python, data, a.threads)

    load = open("/proc/loadavg").read().split()[0]
    print(f"cpu: {system['cpu']}; 1-minute load average at start {load}; {a.threads} threads; "
          f"{a.runs} run(s) each, interleaved")
    runs = {name: [] for name in sides}
    for r in range(a.runs):
        for name, run in sides.items():
            runs[name].append(run())
            print(f"  run {r + 1}: {name} done", file=sys.stderr)

    def med(name, key):
        return statistics.median(x[key] for x in runs[name])

    names = list(sides)
    peer = names[-1]
    for name in names[:-1]:
        print(f"{name}: {runs[name][0]['system']['blas_kernels']} kernels "
              f"(chosen by {runs[name][0]['system']['blas_chosen_by']})")
    for lib in runs[peer][0]["blas"]:
        print(f"{peer}: {lib.get('internal_api')} {lib.get('version')} "
              f"{lib.get('architecture')} kernels, {lib.get('num_threads')} thread(s)")
    rows = [("ALS (CG) per iteration, s", "als", 3), ("BPR per epoch, s", "bpr", 3),
            ("top-10 for 10,000 users, seen excluded, s", "top10", 3),
            ("peak memory (ru_maxrss), MiB", "peak", 1)]
    header = f"\n{'':<44}" + "".join(f"{n:>18}" for n in names)
    header += "".join(f"{peer.split()[0] + ' / ' + n:>28}" for n in names[:-1])
    print(header)
    for label, key, digits in rows:
        line = f"{label:<44}" + "".join(f"{med(n, key):>18.{digits}f}" for n in names)
        line += "".join(f"{med(peer, key) / med(n, key):>27.2f}x" for n in names[:-1])
        print(line)
    if "latent (before)" in runs:
        print("\nlatent / latent (before), speed-up: " + ", ".join(
            f"{key} {med('latent (before)', key) / med('latent', key):.2f}x"
            for _, key, _ in rows[:3]))


if __name__ == "__main__":
    main()
