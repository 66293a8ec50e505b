#!/usr/bin/python3
"""latent on a quiet and on a busy machine: how its threads wait for work.

latent's executables make libgomp's threads spin 10,000 times, then sleep,
while they wait (``GOMP_SPINCOUNT=10000``, see include/latent/openmp_wait.hpp).
Before, they ran with libgomp's default, which spins 300,000 times at every
barrier before sleeping; the benchmark gets that behaviour back with
``GOMP_SPINCOUNT=300000`` (a variable the user may set, which latent then
leaves alone), so every side runs the same binary in the same invocation.

For each workload it runs, alternately and ``--repeats`` times each:

    spin     GOMP_SPINCOUNT=300000, --threads 2   (libgomp's default: how latent ran before)
    default  latent's default now, --threads 2
    passive  OMP_WAIT_POLICY=passive, --threads 2 (sleep at once)
    1 thread latent's default now, --threads 1   (the floor a busy machine
             should not fall below)

on a quiet machine, then again with ``--competitors`` CPU-bound processes
(default 1: a second process that wants a whole core) running beside it.
It prints the median wall time and CPU time (user + system) of each, and
the ratios spin / default and passive / default (above 1: the default is
faster). A quiet machine is what the process sees when the
benchmark's competitors are off; other load on the machine shows in the
load average printed with each block.

Workloads (MovieLens 100K when ../shared/data/ml-100k exists, else the
bundled MovieLens latest-small; ratings > 3, titles as item ids):
    two-tower   latent train (its defaults)
    als         latent train --model als
    bpr         latent train --model bpr
    quickstart  latent quickstart (the README's first command's last step)

Usage::

    /usr/bin/python3 bench/contention_bench.py [--repeats 3] [--competitors 1]
        [--latent build/bin/latent] [--workloads two-tower,als,bpr,quickstart]
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

CONFIGS = [
    ("spin", {"GOMP_SPINCOUNT": "300000"}, 2),
    ("default", {}, 2),
    ("passive", {"OMP_WAIT_POLICY": "passive"}, 2),
    ("1 thread", {}, 1),
]


def data_dir():
    ml100k = ROOT.parent / "shared" / "data" / "ml-100k"
    return ml100k if ml100k.is_dir() else ROOT / "data" / "ml-latest-small"


def command(latent, workload, threads, data, out_dir):
    if workload == "quickstart":
        return [latent, "quickstart", "--data", str(data), "--threads", str(threads)]
    model = {"two-tower": "two-tower", "als": "als", "bpr": "bpr"}[workload]
    return [latent, "train", "--data", str(data), "--rating-above", "3", "--item-key", "title",
            "--model", model, "--threads", str(threads), "--out", str(out_dir / "m.latent")]


def run_once(cmd, extra_env):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(extra_env)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err}")
    return wall, usage.ru_utime + usage.ru_stime


def start_competitors(n):
    spin = "while True:\n    pass\n"
    return [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(n)]


def stop(procs):
    for p in procs:
        p.kill()
        p.wait()


def measure(args, workload, data, out_dir):
    times = {name: [] for name, _, _ in CONFIGS}
    for _ in range(args.repeats):
        for name, env, threads in CONFIGS:  # alternate, so drift hits all alike
            times[name].append(run_once(command(args.latent, workload, threads, data, out_dir), env))
    return {name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
            for name, runs in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latent", default=str(ROOT / "build" / "bin" / "latent"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--competitors", type=int, default=1)
    parser.add_argument("--workloads", default="two-tower,als,bpr,quickstart")
    args = parser.parse_args()
    data = data_dir()
    workloads = args.workloads.split(",")
    print(f"data: {data}; cores: {os.cpu_count()}; repeats: {args.repeats}; "
          f"medians of wall and CPU (user+system) seconds")
    print(f"{'workload':<11} {'machine':<15} " +
          " ".join(f"{name + ' wall':>14} {name + ' cpu':>13}" for name, _, _ in CONFIGS) +
          f" {'spin/default':>13} {'passive/default':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = pathlib.Path(tmp)
        for machine in ("quiet", f"busy (+{args.competitors} cpu)"):
            competitors = start_competitors(args.competitors) if machine != "quiet" else []
            try:
                for workload in workloads:
                    load = os.getloadavg()[0]
                    r = measure(args, workload, data, out_dir)
                    print(f"{workload:<11} {machine:<15} " +
                          " ".join(f"{r[name][0]:>14.2f} {r[name][1]:>13.2f}"
                                   for name, _, _ in CONFIGS) +
                          f" {r['spin'][0] / r['default'][0]:>12.2f}x"
                          f" {r['passive'][0] / r['default'][0]:>15.2f}x   (load {load:.1f})",
                          flush=True)
            finally:
                stop(competitors)


if __name__ == "__main__":
    main()
