#!/usr/bin/python3
"""latent vs PyTorch on the TensorFlow Recommenders MovieLens retrieval tutorials.

Runs, in the same invocation and on the same machine state, latent's two-tower
trainer (``latent train --model two-tower``) and the PyTorch re-implementation
of the TFRS model (``bench/torch_two_tower.py``) with identical settings, and
prints a table of times and accuracies for two protocols:

tutorial
    The TFRS quickstart model (dim 64, Adagrad lr 0.5, batch 4096, 3 epochs)
    on ratings > 3 only (55,375 pairs), every pair used for training. Accuracy
    is the *running* train top-100 categorical accuracy of epoch 3 (what Keras
    prints). Both tools reshuffle the pairs every epoch; this metric depends on
    that (a fixed order, as in TFRS's cached pipelines, gives ~0.02 less).
basic-retrieval
    TFRS basic-retrieval protocol: all 100,000 ratings, random 80/20 split
    (``--test-fraction 0.2``), dim 32, Adagrad lr 0.1, batch 8192, 3 epochs.
    Accuracy is the test top-100 categorical accuracy after training.

Both use ``--threads`` threads (default 2) and each is repeated for seeds
1..``--seeds``; the table shows every seed and the mean.

What is measured
    * ``train s``: the training loop only, as reported by each tool
      (latent: ``train_seconds`` of its ``--metrics-out`` file; PyTorch:
      ``train_seconds`` of its JSON output). Both include the running train
      top-k metrics, as Keras computes them; neither includes data loading or
      test evaluation.
    * ``ratio``: torch train seconds / latent train seconds (per seed; the mean
      row divides the mean times).
    * ``wall s``: wall time of the whole process (start-up, data loading,
      training, evaluation, writing output; for PyTorch this includes the
      interpreter and ``import torch``).
    * ``peak MB``: the child's maximum resident set size, from the rusage that
      ``os.wait4`` returns for that child alone.
    * ``latent quickstart --data DIR``: wall time and peak RSS of one run.

Targets (printed with PASS/FAIL; ``--check`` turns a FAIL into exit status 1)
    * latent is >= 10x faster than PyTorch in training-loop time, on the mean
      over seeds, for every protocol run;
    * basic-retrieval: latent's test top-100, averaged over seeds, is >= 0.225;
    * tutorial: latent's running train top-100 (epoch 3), averaged over seeds,
      is within 0.02 of PyTorch's.

Usage (from anywhere; paths default relative to the repository root)::

    /usr/bin/python3 bench/tutorial_bench.py [--seeds 3] [--latent build/bin/latent]
        [--data ../shared/data/ml-100k] [--json results.json]

The PyTorch side runs under ``--python`` (default: this interpreter if it can
import torch, else /usr/bin/python3).

The PyTorch baseline is allocator-tuned by default. On glibc every B x B score
matrix (64 MB at batch 4096, 256 MB at 8192) is above the mmap threshold, so
PyTorch maps, page-faults and unmaps each one on every use, which roughly
doubles its training time here (tutorial ~7.5 s instead of ~4.5 s,
basic-retrieval ~16.5 s instead of ~7 s). So that the speed-up is measured
against the stronger baseline, the PyTorch runs (only they) get
MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ of 4 GiB, which keep those
blocks in the heap for reuse; this trades memory for time (higher peak RSS).
``--torch-plain-malloc`` measures PyTorch with the inherited environment
instead, and ``--torch-env NAME=VALUE`` adds further variables.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TORCH_SCRIPT = REPO_ROOT / "bench" / "torch_two_tower.py"


@dataclass(frozen=True)
class Protocol:
    name: str
    description: str
    rating_above: float | None
    test_fraction: float | None
    dim: int
    learning_rate: float
    batch_size: int
    epochs: int
    split: str          # "train" (running train metric of the last epoch) or "test"
    metric: str = "top_100"

    def common_args(self, seed: int, threads: int) -> list[str]:
        """Arguments understood identically by `latent train` and torch_two_tower.py."""
        args = []
        if self.rating_above is not None:
            args += ["--rating-above", fmt_number(self.rating_above)]
        args += ["--dim", str(self.dim), "--learning-rate", fmt_number(self.learning_rate),
                 "--batch-size", str(self.batch_size), "--epochs", str(self.epochs),
                 "--seed", str(seed), "--threads", str(threads)]
        if self.test_fraction is not None:
            args += ["--test-fraction", fmt_number(self.test_fraction)]
        return args


PROTOCOLS = {
    "tutorial": Protocol(
        name="tutorial",
        description="rating > 3, all pairs train, dim 64, adagrad 0.5, batch 4096, 3 epochs; "
                    "running train top-100 of epoch 3",
        rating_above=3, test_fraction=None, dim=64, learning_rate=0.5, batch_size=4096,
        epochs=3, split="train"),
    "basic-retrieval": Protocol(
        name="basic-retrieval",
        description="all ratings, 80/20 split, dim 32, adagrad 0.1, batch 8192, 3 epochs; "
                    "test top-100",
        rating_above=None, test_fraction=0.2, dim=32, learning_rate=0.1, batch_size=8192,
        epochs=3, split="test"),
}

# glibc malloc settings for the PyTorch runs (see the module docstring).
TORCH_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(4 << 30), "MALLOC_TRIM_THRESHOLD_": str(4 << 30)}

ACCURACY_TARGET_BASIC = 0.225
ACCURACY_TOLERANCE_TUTORIAL = 0.02
SPEEDUP_TARGET = 10.0


def fmt_number(x: float) -> str:
    """3 -> "3", 0.5 -> "0.5" (no trailing ".0" on the command line)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


class BenchError(RuntimeError):
    pass


@dataclass
class ChildResult:
    cmd: list[str]
    returncode: int
    wall_seconds: float
    max_rss_kb: int
    stdout: str
    stderr: str


def run_child(cmd: list[str], cwd: Path | None = None,
              env: dict[str, str] | None = None) -> ChildResult:
    """Run cmd to completion; wall time and the child's own peak RSS (os.wait4)."""
    sys.stdout.flush()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                    cwd=cwd, env=env)
        except OSError as e:
            raise BenchError(f"cannot run {cmd[0]}: {e}") from e
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped by wait4
        out.seek(0)
        err.seek(0)
        return ChildResult(cmd=cmd, returncode=proc.returncode, wall_seconds=wall,
                           max_rss_kb=int(usage.ru_maxrss),  # kilobytes on Linux
                           stdout=out.read().decode("utf-8", "replace"),
                           stderr=err.read().decode("utf-8", "replace"))


def check_ok(res: ChildResult, what: str) -> None:
    if res.returncode != 0:
        tail = "\n".join(res.stderr.strip().splitlines()[-15:])
        raise BenchError(f"{what} failed with exit status {res.returncode}\n"
                         f"  command: {' '.join(res.cmd)}\n  stderr (tail):\n{tail}")


def pick_metric(metrics: dict, proto: Protocol, tool: str) -> float:
    """The protocol's accuracy from a tool's metrics JSON (both tools share the layout)."""
    try:
        if proto.split == "train":
            return float(metrics["epochs"][-1]["train"][proto.metric])
        # latent reports test metrics per epoch (last epoch = result); torch at top level.
        test = metrics.get("test") or metrics["epochs"][-1]["test"]
        return float(test[proto.metric])
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise BenchError(f"{tool}: no {proto.split} {proto.metric} in its metrics output "
                         f"({type(e).__name__}: {e})") from e


def train_seconds(metrics: dict, tool: str) -> float:
    try:
        return float(metrics["train_seconds"])
    except (KeyError, TypeError, ValueError) as e:
        raise BenchError(f"{tool}: metrics output has no numeric train_seconds") from e


@dataclass
class ToolRun:
    train_seconds: float
    wall_seconds: float
    max_rss_kb: int
    accuracy: float
    metrics: dict = field(repr=False)

    def to_json(self) -> dict:
        return {"train_seconds": self.train_seconds, "wall_seconds": self.wall_seconds,
                "max_rss_kb": self.max_rss_kb, "accuracy": self.accuracy,
                "metrics": self.metrics}


def run_latent(latent: Path, data: Path, proto: Protocol, seed: int, threads: int,
               workdir: Path) -> ToolRun:
    model_file = workdir / f"latent-{proto.name}-{seed}.model"
    metrics_file = workdir / f"latent-{proto.name}-{seed}.metrics.json"
    cmd = [str(latent), "train", "--data", str(data), "--format", "ml-100k",
           "--item-key", "title", "--model", "two-tower", "--optimizer", "adagrad",
           "--negatives", "in-batch"]  # TFRS tasks.Retrieval, as the PyTorch model trains
    cmd += proto.common_args(seed, threads)
    cmd += ["--out", str(model_file), "--metrics-out", str(metrics_file), "--quiet"]
    res = run_child(cmd, cwd=workdir)
    check_ok(res, f"latent train ({proto.name}, seed {seed})")
    try:
        metrics = json.loads(metrics_file.read_text())
    except (OSError, ValueError) as e:
        raise BenchError(f"latent train ({proto.name}, seed {seed}): cannot read "
                         f"--metrics-out file {metrics_file}: {e}") from e
    for f in (model_file, metrics_file):
        f.unlink(missing_ok=True)
    return ToolRun(train_seconds(metrics, "latent"), res.wall_seconds, res.max_rss_kb,
                   pick_metric(metrics, proto, "latent"), metrics)


def run_torch(python: str, data: Path, proto: Protocol, seed: int, threads: int,
              workdir: Path, env: dict[str, str] | None) -> ToolRun:
    cmd = [python, str(TORCH_SCRIPT), "--data", str(data)] + proto.common_args(seed, threads)
    res = run_child(cmd, cwd=workdir, env=env)
    check_ok(res, f"torch_two_tower.py ({proto.name}, seed {seed})")
    try:
        metrics = json.loads(res.stdout)
    except ValueError as e:
        raise BenchError(f"torch_two_tower.py ({proto.name}, seed {seed}): "
                         f"stdout is not JSON: {e}") from e
    return ToolRun(train_seconds(metrics, "torch"), res.wall_seconds, res.max_rss_kb,
                   pick_metric(metrics, proto, "torch"), metrics)


def mean(xs):
    return statistics.fmean(xs) if xs else float("nan")


def print_protocol_table(proto: Protocol, runs: list[dict], threads: int) -> dict:
    """Print one protocol's table; return its mean row."""
    print(f"\n== {proto.name}: {proto.description}; {threads} threads")
    header = (f"{'seed':>6}  {'latent train s':>14}  {'torch train s':>13}  {'ratio':>7}  "
              f"{'latent wall s':>13}  {'torch wall s':>12}  {'latent peak MB':>14}  "
              f"{'torch peak MB':>13}  {'latent ' + proto.split + ' top-100':>22}  "
              f"{'torch ' + proto.split + ' top-100':>21}")
    print(header)
    print("-" * len(header))

    def row(label, lt, tt, ratio, lw, tw, lm, tm, la, ta):
        print(f"{label:>6}  {lt:>14.3f}  {tt:>13.3f}  {ratio:>6.1f}x  {lw:>13.3f}  {tw:>12.3f}  "
              f"{lm:>14.1f}  {tm:>13.1f}  {la:>22.4f}  {ta:>21.4f}")

    for r in runs:
        lat, tor = r["latent"], r["torch"]
        row(str(r["seed"]), lat.train_seconds, tor.train_seconds, r["ratio"],
            lat.wall_seconds, tor.wall_seconds, lat.max_rss_kb / 1024, tor.max_rss_kb / 1024,
            lat.accuracy, tor.accuracy)
    m = {
        "latent_train_seconds": mean([r["latent"].train_seconds for r in runs]),
        "torch_train_seconds": mean([r["torch"].train_seconds for r in runs]),
        "latent_wall_seconds": mean([r["latent"].wall_seconds for r in runs]),
        "torch_wall_seconds": mean([r["torch"].wall_seconds for r in runs]),
        "latent_max_rss_kb": max(r["latent"].max_rss_kb for r in runs),
        "torch_max_rss_kb": max(r["torch"].max_rss_kb for r in runs),
        "latent_accuracy": mean([r["latent"].accuracy for r in runs]),
        "torch_accuracy": mean([r["torch"].accuracy for r in runs]),
    }
    m["ratio"] = (m["torch_train_seconds"] / m["latent_train_seconds"]
                  if m["latent_train_seconds"] > 0 else float("inf"))
    row("mean", m["latent_train_seconds"], m["torch_train_seconds"], m["ratio"],
        m["latent_wall_seconds"], m["torch_wall_seconds"], m["latent_max_rss_kb"] / 1024,
        m["torch_max_rss_kb"] / 1024, m["latent_accuracy"], m["torch_accuracy"])
    print("(ratio = torch train s / latent train s; peak MB on the mean row is the maximum)")
    return m


def cpu_busy_fraction(interval: float = 1.0) -> float | None:
    """Fraction of all CPUs' time spent busy over `interval` seconds (/proc/stat)."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle                               # no guest time (in user)
    try:
        total0, idle0 = sample()
        time.sleep(interval)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total1 - total0
    return 1.0 - (idle1 - idle0) / total if total > 0 else None


def progress(text: str) -> None:
    """Progress note on stderr, so stdout keeps only the report."""
    print(f"[tutorial_bench] {text}", file=sys.stderr, flush=True)


def default_python() -> str:
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    return "/usr/bin/python3"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time latent's two-tower training against a PyTorch re-implementation "
                    "of the TFRS MovieLens retrieval model.")
    p.add_argument("--latent", type=Path, default=REPO_ROOT / "build" / "bin" / "latent",
                   help="latent executable (default: build/bin/latent in the repository)")
    p.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "ml-100k",
                   help="MovieLens 100K directory (default: ../shared/data/ml-100k "
                        "relative to the repository)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per protocol, 1..N (default 3)")
    p.add_argument("--threads", type=int, default=2, help="threads for both tools (default 2)")
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), action="append",
                   help="run only this protocol (repeatable; default: both)")
    p.add_argument("--python", default=None,
                   help="interpreter with torch for the PyTorch side (default: this one if it "
                        "has torch, else /usr/bin/python3)")
    p.add_argument("--torch-env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment variable for the PyTorch runs only (repeatable)")
    p.add_argument("--torch-plain-malloc", action="store_true",
                   help="run PyTorch without the glibc malloc tuning (out-of-the-box, slower)")
    p.add_argument("--skip-quickstart", action="store_true",
                   help="do not time `latent quickstart`")
    p.add_argument("--json", type=Path, default=None, help="also write all results to FILE")
    p.add_argument("--check", action="store_true",
                   help="exit with status 1 if a target line says FAIL")
    args = p.parse_args(argv)
    if args.seeds <= 0:
        p.error("--seeds must be positive")
    if args.threads <= 0:
        p.error("--threads must be positive")
    for item in args.torch_env:
        if "=" not in item or item.startswith("="):
            p.error(f"--torch-env expects NAME=VALUE, got {item!r}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    data = args.data.resolve()
    latent = args.latent.resolve()
    if not (data / "u.data").is_file() or not (data / "u.item").is_file():
        print(f"tutorial_bench: MovieLens 100K not found at {data} (need u.data and u.item); "
              f"pass --data DIR", file=sys.stderr)
        return 2
    if not latent.is_file() or not os.access(latent, os.X_OK):
        print(f"tutorial_bench: latent executable not found at {latent}; build it "
              f"(cmake --build build) or pass --latent PATH", file=sys.stderr)
        return 2
    python = args.python or default_python()
    protocols = [PROTOCOLS[n] for n in (args.protocol or ["tutorial", "basic-retrieval"])]
    seeds = list(range(1, args.seeds + 1))
    torch_extra = {} if args.torch_plain_malloc else dict(TORCH_MALLOC_ENV)
    torch_extra.update(item.split("=", 1) for item in args.torch_env)
    torch_env = {**os.environ, **torch_extra} if torch_extra else None

    print(f"latent:  {latent}")
    print(f"torch:   {' '.join([f'{k}={v}' for k, v in torch_extra.items()] + [python, str(TORCH_SCRIPT)])}")
    print(f"data:    {data}")
    print(f"seeds:   {seeds}; threads: {args.threads}; host: {platform.node()} "
          f"({os.cpu_count()} CPUs)")
    busy_before = cpu_busy_fraction()
    if busy_before is not None and busy_before > 0.25:
        print(f"WARNING: the CPUs were {busy_before:.0%} busy just before the benchmark; "
              f"other work on this machine will inflate the timings")

    results: dict = {"latent": str(latent), "python": python, "data": str(data),
                     "torch_env": torch_extra,
                     "threads": args.threads, "seeds": seeds, "cpu_count": os.cpu_count(),
                     "cpu_busy_before": busy_before,
                     "protocols": {}, "quickstart": None, "targets": []}
    means: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="latent-bench-") as tmp:
            workdir = Path(tmp)
            for proto in protocols:
                runs = []
                for seed in seeds:
                    # Same settings, back to back, so both see the same machine state.
                    progress(f"{proto.name} seed {seed}: latent ...")
                    lat = run_latent(latent, data, proto, seed, args.threads, workdir)
                    progress(f"{proto.name} seed {seed}: torch ...")
                    tor = run_torch(python, data, proto, seed, args.threads, workdir, torch_env)
                    ratio = (tor.train_seconds / lat.train_seconds
                             if lat.train_seconds > 0 else float("inf"))
                    runs.append({"seed": seed, "latent": lat, "torch": tor, "ratio": ratio})
                means[proto.name] = print_protocol_table(proto, runs, args.threads)
                results["protocols"][proto.name] = {
                    "description": proto.description,
                    "accuracy": f"{proto.split} {proto.metric}",
                    "runs": [{"seed": r["seed"], "ratio": r["ratio"],
                              "latent": r["latent"].to_json(), "torch": r["torch"].to_json()}
                             for r in runs],
                    "mean": means[proto.name],
                }

            if not args.skip_quickstart:
                qs_dir = workdir / "quickstart"
                qs_dir.mkdir()
                progress("latent quickstart ...")
                res = run_child([str(latent), "quickstart", "--data", str(data)], cwd=qs_dir)
                check_ok(res, "latent quickstart")
                results["quickstart"] = {"wall_seconds": res.wall_seconds,
                                         "max_rss_kb": res.max_rss_kb}
                print(f"\n== latent quickstart --data {data}: wall {res.wall_seconds:.3f} s, "
                      f"peak RSS {res.max_rss_kb / 1024:.1f} MB")
    except BenchError as e:
        print(f"\ntutorial_bench: {e}", file=sys.stderr)
        return 1

    # ---- targets ----------------------------------------------------------
    targets = []
    ratios = {name: m["ratio"] for name, m in means.items()}
    targets.append((
        "latent >= 10x faster than torch (training loop, mean over seeds): "
        + ", ".join(f"{n} {r:.1f}x" for n, r in ratios.items()),
        all(r >= SPEEDUP_TARGET for r in ratios.values())))
    if "basic-retrieval" in means:
        acc = means["basic-retrieval"]["latent_accuracy"]
        targets.append((f"basic-retrieval latent test top-100 >= {ACCURACY_TARGET_BASIC} "
                        f"(mean over seeds): {acc:.4f}", acc >= ACCURACY_TARGET_BASIC))
    if "tutorial" in means:
        la, ta = means["tutorial"]["latent_accuracy"], means["tutorial"]["torch_accuracy"]
        targets.append((f"tutorial train top-100 within {ACCURACY_TOLERANCE_TUTORIAL} of torch "
                        f"(mean over seeds): latent {la:.4f}, torch {ta:.4f}, "
                        f"diff {la - ta:+.4f}", abs(la - ta) <= ACCURACY_TOLERANCE_TUTORIAL))
    print("\n== targets")
    for text, ok in targets:
        print(f"  [{'PASS' if ok else 'FAIL'}] {text}")
    results["targets"] = [{"target": t, "pass": ok} for t, ok in targets]

    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nresults written to {args.json}")
    if args.check and not all(ok for _, ok in targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
