#!/usr/bin/python3
"""latent beside the real TensorFlow Recommenders MovieLens-100K tutorials.

Runs, in one invocation, the TFRS tutorials themselves (TensorFlow, TFRS and
tf-keras from PyPI, in build/tfrs-venv; bench/tfrs_tutorials.py rebuilds each
notebook's model) and `latent train` with the closest settings, on the same
train/test splits, for each protocol and seed, and prints one table per
protocol with PASS/FAIL lines.

Split
    The tutorials' own: tf.random.set_seed(seed), ratings.shuffle(100_000,
    seed=seed, reshuffle_each_iteration=False), the first 80,000 ratings
    train, the next 20,000 test; all 100,000 ratings of MovieLens 100K,
    built from u.data in its order (tfds stores them in another order, so
    seed 42 is not the notebooks' exact split; bench/tfrs_tutorials.py's
    docstring). The tutorials use seed 42; --seeds N runs 42 .. 41+N.
    tfrs_tutorials.py --write-split writes it as train.csv/test.csv (raw
    user and movie ids), latent trains on it with `--split-in DIR`, and
    each TFRS run reports a digest of the split it trained on, which must
    equal the files' (else the run stops).

Protocols (TFRS side: tfrs_tutorials.py's docstring cites each notebook)
    basic-retrieval    basic_retrieval.ipynb: id embeddings of 32, Adagrad
                       0.1, batch 8192 (test 4096), 3 epochs; test top-100.
                       latent: --dim 32 --optimizer adagrad --learning-rate
                       0.1 --batch-size 8192 --epochs 3 --negatives in-batch.
    side-features      context_features.ipynb with timestamps: the query
                       tower adds a timestamp bucket embedding and the
                       normalized timestamp, the candidate tower the title's
                       words (TextVectorization, averaged embeddings), each
                       projected by Dense(32); batch 2048, 3 epochs; test
                       top-100. latent: the same inputs, the title's words
                       from MovieLens's own attributes (--item-features
                       title:text) and each rating's time as the query's
                       context (--context-features timestamp:timestamp:
                       1000 buckets of equal counts and the normalized
                       time), the embeddings summed instead of projected.
    side-features-baseline
                       the same notebook's baseline without timestamps (the
                       query is the user id alone, then Dense(32)). latent
                       as side-features without --context-features.
    deep-retrieval     deep_recommenders.ipynb's [64, 32] towers over the
                       side-features embeddings, batch 2048, metrics only in
                       evaluation. The notebook trains 300 epochs; that is
                       too long for 3 seeds on 2 cores (TFRS took 3.8 s an
                       epoch here), so the TFRS model and latent train
                       --deep-epochs epochs (default 50). latent: --layers
                       64,32 --item-features title:text --context-features
                       timestamp:timestamp --batch-size 2048
                       --no-train-metrics.
    ranking            basic_ranking.ipynb: embeddings of 32, Dense(256
                       relu), Dense(64 relu), Dense(1), MSE, batch 8192,
                       3 epochs; test RMSE. latent: --retrieval-weight 0
                       --rating-weight 1 --rating-layers 256,64
                       --no-train-metrics (TFRS computes no retrieval
                       metric here).
    multitask-rating, multitask-retrieval, multitask-joint
                       multitask.ipynb with rating/retrieval weights 1/0,
                       0/1 and 1/1: embeddings of 32, a rating model
                       Dense(256 relu), Dense(128 relu), Dense(1) (the
                       notebook's; basic_ranking's is 256, 64), batch 8192,
                       3 epochs; test top-100 and RMSE. latent:
                       --rating-weight A --retrieval-weight B
                       --rating-layers 256,128. (--protocols multitask
                       selects all three.)
    Every protocol: Adagrad with learning rate 0.1 (Keras' initial
    accumulator 0.1 is latent's default), `--seed S --threads 2`.

    TFRS keys movies by title (1,664 distinct titles; the 18 titles that
    two ids share get one embedding), latent by id (1,682). TFRS's
    FactorizedTopK gets the candidates as a dataset, so it streams their
    embeddings through the current tower at every batch (an exact top-k over
    all 1,682 movies); latent's test metrics also rank all movies. Both
    rank the user's training movies too (as TFRS does).

What is measured
    * TFRS fit s: the wall time of model.fit(...) alone (with the first
      epoch's tf.function tracing, and, where the notebook keeps them, the
      running top-k metrics of the training batches; not the data set
      building or the evaluation).
    * latent train s: `train_seconds` of its --metrics-out file (the
      training loop with its running metrics, and the test metrics after
      the last epoch: `--validation-freq` is the number of epochs, so that
      latent, as TFRS, evaluates once after training); latent wall s: the whole
      `latent train` process (start, loading the CSVs, training, the test
      metrics, writing). TFRS wall s: the whole tfrs_tutorials.py process,
      interpreter and `import tensorflow` included.
    * speed-up: TFRS fit s / latent train s (the mean row divides the means).
    * top-100: factorized_top_k/top_100_categorical_accuracy of
      model.evaluate(cached_test) against latent's test top_100; RMSE:
      root_mean_squared_error against latent's test RMSE.
    Both run with 2 threads: TFRS with TF_USE_LEGACY_KERAS=1,
    OMP_NUM_THREADS=2, TF_NUM_INTRAOP_THREADS=2, TF_NUM_INTEROP_THREADS=2,
    TF_CPP_MIN_LOG_LEVEL=2; latent with --threads 2. Run on a quiet machine:
    the report prints the CPUs' busy fraction before the first run and the
    load averages.

Targets (PASS/FAIL per protocol, on the means over seeds; --check turns a
FAIL into exit status 1)
    * latent test top-100 >= TFRS test top-100 - 0.01, where the model
      trains retrieval (every protocol but ranking and multitask-rating);
    * latent test RMSE <= TFRS test RMSE + 0.01, where it trains ratings
      (ranking, multitask-rating, multitask-joint);
    * speed-up >= 20.
    The figure of the task a model does not train (multitask-rating's
    top-100, multitask-retrieval's RMSE) is printed, not targeted. A latent
    run that fails (for instance a flag this build does not know yet) is an
    error row, and its protocol's targets FAIL.

A --seeds 3 run of every protocol took about half an hour on a quiet machine
(about 10 minutes a seed, nearly all of it TFRS).

Usage (from anywhere; paths default relative to the repository root)::

    /usr/bin/python3 bench/tfrs_bench.py [--seeds 3] [--protocols a,b]
        [--latent build/bin/latent] [--data ../shared/data/ml-100k]
        [--deep-epochs N] [--json FILE] [--check]

The first run creates build/tfrs-venv (`python3 -m venv`, then `pip install
tensorflow tensorflow-recommenders tf-keras pandas`) with /usr/bin/python3, or
the python3 on PATH when that one is not a Python TensorFlow supports.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "bench"))

from tutorial_bench import BenchError, cpu_busy_fraction, run_child  # noqa: E402

TUTORIALS = REPO_ROOT / "bench" / "tfrs_tutorials.py"
VENV = REPO_ROOT / "build" / "tfrs-venv"
PIP_PACKAGES = ["tensorflow", "tensorflow-recommenders", "tf-keras", "pandas"]
PYTHONS_TF_SUPPORTS = ((3, 10), (3, 13))  # TensorFlow 2.21's wheels
TFRS_ENV = {"TF_USE_LEGACY_KERAS": "1", "OMP_NUM_THREADS": "2", "TF_NUM_INTRAOP_THREADS": "2",
            "TF_NUM_INTEROP_THREADS": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
FIRST_SEED = 42
DEEP_EPOCHS_DEFAULT = 50
TOP_100_TOLERANCE = 0.01
RMSE_TOLERANCE = 0.01
SPEEDUP_TARGET = 20.0

COMMON = ("--dim", "32", "--optimizer", "adagrad", "--learning-rate", "0.1")


@dataclass(frozen=True)
class Protocol:
    name: str
    tfrs: str                   # the TFRS model, in short
    latent: str                 # latent's model, in short
    latent_args: tuple          # besides --data, --split-in, --seed, --threads, ...
    metrics: tuple              # of "top_100", "rmse": the columns
    targeted: tuple             # the metrics with a target
    note: str = ""              # the table's note on each seed's row


def multitask(name: str, rating: int, retrieval: int, targeted: tuple) -> Protocol:
    return Protocol(
        name, f"multitask.ipynb, rating weight {rating}, retrieval weight {retrieval}: "
              f"ids 32, rating MLP 256,128, Adagrad 0.1, batch 8192, 3 epochs",
        f"ids 32, --rating-weight {rating} --retrieval-weight {retrieval} "
        f"--rating-layers 256,128",
        COMMON + ("--batch-size", "8192", "--epochs", "3", "--negatives", "in-batch",
                  "--rating-weight", str(rating), "--retrieval-weight", str(retrieval),
                  "--rating-layers", "256,128"),
        ("top_100", "rmse"), targeted)


PROTOCOLS = {p.name: p for p in [
    Protocol("basic-retrieval",
             "basic_retrieval.ipynb: ids 32, Adagrad 0.1, batch 8192, 3 epochs",
             "ids 32, in-batch softmax, the same settings",
             COMMON + ("--batch-size", "8192", "--epochs", "3", "--negatives", "in-batch"),
             ("top_100",), ("top_100",)),
    Protocol("side-features",
             "context_features.ipynb: ids 32 + timestamp bucket embedding + normalized "
             "timestamp | title id + title words, Dense(32) each, Adagrad 0.1, batch 2048, "
             "3 epochs",
             "ids 32, the title's words (--item-features title:text) and the rating's time "
             "(--context-features timestamp:timestamp)",
             COMMON + ("--batch-size", "2048", "--epochs", "3", "--negatives", "in-batch",
                       "--item-features", "title:text", "--context-features",
                       "timestamp:timestamp"),
             ("top_100",), ("top_100",)),
    Protocol("side-features-baseline",
             "context_features.ipynb's baseline (use_timestamps=False): ids 32 | title id + "
             "title words, Dense(32) each, Adagrad 0.1, batch 2048, 3 epochs",
             "ids 32 and the title's words (--item-features title:text)",
             COMMON + ("--batch-size", "2048", "--epochs", "3", "--negatives", "in-batch",
                       "--item-features", "title:text"),
             ("top_100",), ("top_100",)),
    Protocol("deep-retrieval",
             "deep_recommenders.ipynb [64, 32]: the side-features embeddings, Dense(64 relu), "
             "Dense(32), Adagrad 0.1, batch 2048, EPOCHS epochs (the notebook: 300)",
             "ids 32, the title's words and the rating's time, --layers 64,32",
             COMMON + ("--batch-size", "2048", "--negatives", "in-batch", "--layers", "64,32",
                       "--item-features", "title:text", "--context-features",
                       "timestamp:timestamp", "--no-train-metrics"),
             ("top_100",), ("top_100",)),
    Protocol("ranking",
             "basic_ranking.ipynb: ids 32, MLP 256,64 -> rating, MSE, Adagrad 0.1, batch 8192, "
             "3 epochs",
             "ids 32, --retrieval-weight 0 --rating-weight 1 --rating-layers 256,64",
             COMMON + ("--batch-size", "8192", "--epochs", "3", "--retrieval-weight", "0",
                       "--rating-weight", "1", "--rating-layers", "256,64",
                       "--no-train-metrics"),
             ("rmse",), ("rmse",)),
    multitask("multitask-rating", 1, 0, ("rmse",)),
    multitask("multitask-retrieval", 0, 1, ("top_100",)),
    multitask("multitask-joint", 1, 1, ("top_100", "rmse")),
]}
ALIASES = {"multitask": ["multitask-rating", "multitask-retrieval", "multitask-joint"]}
METRIC_LABEL = {"top_100": "top-100", "rmse": "RMSE"}


def progress(text: str) -> None:
    """Progress note on stderr, so stdout keeps only the report."""
    print(f"[tfrs_bench] {text}", file=sys.stderr, flush=True)


# ---- the venv ------------------------------------------------------------

def python_version(python: str) -> tuple | None:
    try:
        out = subprocess.run([python, "-c", "import sys, venv; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return tuple(int(x) for x in out.stdout.split())


def venv_ready(venv: Path) -> bool:
    python = venv / "bin" / "python"
    if not python.exists():
        return False
    check = subprocess.run([str(python), "-c", "import tensorflow_recommenders, tf_keras, pandas"],
                           capture_output=True, env={**os.environ, **TFRS_ENV})
    return check.returncode == 0


def ensure_venv(venv: Path) -> Path:
    """venv's python, after creating the venv and installing TFRS if needed."""
    if venv_ready(venv):
        return venv / "bin" / "python"
    lo, hi = PYTHONS_TF_SUPPORTS
    candidates = ["/usr/bin/python3", shutil.which("python3")]
    base = next((p for p in candidates if p and lo <= (python_version(p) or (0, 0)) <= hi), None)
    if base is None:
        raise BenchError(f"no python3 of {lo[0]}.{lo[1]} to {hi[0]}.{hi[1]} with venv found "
                         f"(tried {', '.join(p for p in candidates if p)})")
    progress(f"creating {venv} with {base} and installing {' '.join(PIP_PACKAGES)} "
             f"(a few minutes) ...")
    if not (venv / "bin" / "python").exists():
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q"] + PIP_PACKAGES)
    if pip.returncode != 0 or not venv_ready(venv):
        raise BenchError(f"installing {' '.join(PIP_PACKAGES)} into {venv} failed")
    return venv / "bin" / "python"


# ---- the runs ------------------------------------------------------------

def csv_digest(split_dir: Path) -> str:
    """SHA-256 of the "user,item" lines of train.csv then test.csv, as
    tfrs_tutorials.py hashes the split it trains on."""
    h = hashlib.sha256()
    for name in ("train.csv", "test.csv"):
        with (split_dir / name).open() as f:
            next(f)
            for line in f:
                user, item = line.split(",", 2)[:2]
                h.update(f"{user},{item}\n".encode())
    return h.hexdigest()


def finite(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def latent_metric(metrics: dict, name: str) -> float | None:
    """top_100 or rmse of latent's --metrics-out file: the top-level test
    figures, else the last epoch's."""
    last = (metrics.get("epochs") or [{}])[-1]
    if name == "top_100":
        for test in (metrics.get("test"), last.get("test")):
            if isinstance(test, dict) and finite(test.get("top_100")) is not None:
                return finite(test["top_100"])
        return None
    for where in (metrics, last, metrics.get("test") or {}, last.get("test") or {}):
        for key in ("test_rmse", "rmse"):
            if isinstance(where, dict) and finite(where.get(key)) is not None:
                return finite(where[key])
    return None


def run_tfrs(python: Path, data: Path, proto: Protocol, seed: int, deep_epochs: int,
             digest: str, workdir: Path) -> dict:
    cmd = [str(python), str(TUTORIALS), "--data", str(data), "--protocol", proto.name,
           "--seed", str(seed)]
    if proto.name == "deep-retrieval":
        cmd += ["--epochs", str(deep_epochs)]
    res = run_child(cmd, cwd=workdir, env={**os.environ, **TFRS_ENV})
    if res.returncode != 0:
        return {"error": error_line(res.stderr, res.returncode), "wall_seconds": res.wall_seconds}
    try:
        out = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as e:
        return {"error": f"stdout is not JSON: {e}", "wall_seconds": res.wall_seconds}
    if out.get("split_digest") != digest:
        raise BenchError(f"TFRS {proto.name} seed {seed} trained on another split than the "
                         f"files given to latent ({out.get('split_digest')} != {digest})")
    out.update(wall_seconds=res.wall_seconds, max_rss_kb=res.max_rss_kb)
    return out


def run_latent(latent: Path, data: Path, proto: Protocol, seed: int, split_dir: Path,
               deep_epochs: int, workdir: Path) -> dict:
    metrics_file = workdir / f"latent-{proto.name}-{seed}.metrics.json"
    metrics_file.unlink(missing_ok=True)
    cmd = [str(latent), "train", "--model", "two-tower", "--data", str(data),
           "--split-in", str(split_dir)] + list(proto.latent_args)
    if proto.name == "deep-retrieval":
        cmd += ["--epochs", str(deep_epochs)]
    # The test metrics once, after the last epoch, as TFRS evaluates after fit.
    epochs = cmd[len(cmd) - 1 - cmd[::-1].index("--epochs") + 1]
    cmd += ["--validation-freq", epochs]
    cmd += ["--seed", str(seed), "--threads", "2", "--metrics-out", str(metrics_file), "-q"]
    res = run_child(cmd, cwd=workdir)
    run = {"command": " ".join(cmd), "wall_seconds": res.wall_seconds,
           "max_rss_kb": res.max_rss_kb}
    if res.returncode != 0:
        run["error"] = error_line(res.stderr, res.returncode)
        return run
    try:
        metrics = json.loads(metrics_file.read_text())
    except (OSError, ValueError) as e:
        run["error"] = f"cannot read --metrics-out: {e}"
        return run
    run.update(train_seconds=finite(metrics.get("train_seconds")),
               top_100=latent_metric(metrics, "top_100"), rmse=latent_metric(metrics, "rmse"),
               metrics=metrics)
    for name in proto.targeted:
        if run[name] is None:
            run["error"] = f"no test {METRIC_LABEL[name]} in its --metrics-out file"
    return run


def error_line(stderr: str, returncode: int) -> str:
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    text = (errors or lines or ["(no message)"])[-1]
    return f"exit {returncode}: {text[:200]}"


# ---- the report ----------------------------------------------------------

def mean_of(runs: list[dict], key: str) -> float | None:
    xs = [r[key] for r in runs if "error" not in r and r.get(key) is not None]
    return statistics.fmean(xs) if xs and len(xs) == len(runs) else None


def fmt(x, spec: str) -> str:
    return "–" if x is None else format(x, spec)


def print_table(proto: Protocol, rows: list[dict], deep_epochs: int) -> dict:
    """One protocol's markdown table; returns its means."""
    tfrs_text = proto.tfrs.replace("EPOCHS", str(deep_epochs))
    print(f"\n## {proto.name}\n\nTFRS: {tfrs_text}. latent: {proto.latent}.\n")
    head = ["seed"]
    for m in proto.metrics:
        head += [f"TFRS {METRIC_LABEL[m]}", f"latent {METRIC_LABEL[m]}"]
    head += ["TFRS fit s", "latent train s", "speed-up", "TFRS wall s", "latent wall s", "note"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["--:"] * (len(head) - 2) + ["---"]) + "|")

    def line(label, t, lat, note=""):
        cells = [label]
        for m in proto.metrics:
            cells += [fmt(t.get(m), ".4f"), fmt(lat.get(m), ".4f")]
        tf_s, lat_s = t.get("fit_seconds"), lat.get("train_seconds")
        speed = tf_s / lat_s if tf_s and lat_s else None
        cells += [fmt(tf_s, ".2f"), fmt(lat_s, ".3f"), fmt(speed, ".1f") + ("x" if speed else ""),
                  fmt(t.get("wall_seconds"), ".1f"), fmt(lat.get("wall_seconds"), ".2f")]
        notes = [f"{side} error: {r['error']}" for side, r in (("TFRS", t), ("latent", lat))
                 if "error" in r]
        cells.append("; ".join(notes) or note)
        print("| " + " | ".join(cells) + " |")
        return speed

    for row in rows:
        row["speedup"] = line(str(row["seed"]), row["tfrs"], row["latent"], proto.note)
    tfrs_runs = [r["tfrs"] for r in rows]
    latent_runs = [r["latent"] for r in rows]
    means = {"tfrs": {k: mean_of(tfrs_runs, k) for k in ("fit_seconds", "wall_seconds")
                      + proto.metrics},
             "latent": {k: mean_of(latent_runs, k) for k in ("train_seconds", "wall_seconds")
                        + proto.metrics}}
    means["speedup"] = line("mean", means["tfrs"], means["latent"])
    return means


def targets_for(proto: Protocol, rows: list[dict], means: dict) -> list[tuple[str, bool]]:
    errors = [f"{side} seed {r['seed']}: {r[side]['error']}" for r in rows
              for side in ("tfrs", "latent") if "error" in r[side]]
    if errors:
        return [(f"{proto.name}: no comparison ({'; '.join(errors)})", False)]
    out = []
    t, lat = means["tfrs"], means["latent"]
    if "top_100" in proto.targeted:
        ok = lat["top_100"] >= t["top_100"] - TOP_100_TOLERANCE
        out.append((f"{proto.name}: latent test top-100 {lat['top_100']:.4f} >= TFRS "
                    f"{t['top_100']:.4f} - {TOP_100_TOLERANCE}", ok))
    if "rmse" in proto.targeted:
        ok = lat["rmse"] <= t["rmse"] + RMSE_TOLERANCE
        out.append((f"{proto.name}: latent test RMSE {lat['rmse']:.4f} <= TFRS "
                    f"{t['rmse']:.4f} + {RMSE_TOLERANCE}", ok))
    speed = means["speedup"]
    out.append((f"{proto.name}: speed-up (TFRS fit s / latent train s) "
                f"{fmt(speed, '.1f')}x >= {SPEEDUP_TARGET:g}x",
                speed is not None and speed >= SPEEDUP_TARGET))
    return out


def parse_protocols(text: str | None, p: argparse.ArgumentParser) -> list[Protocol]:
    if not text:
        return list(PROTOCOLS.values())
    names = []
    for name in (n.strip() for n in text.split(",") if n.strip()):
        expanded = ALIASES.get(name, [name])
        for n in expanded:
            if n not in PROTOCOLS:
                p.error(f"unknown protocol {n!r}; choose from "
                        f"{', '.join(list(PROTOCOLS) + list(ALIASES))}")
            if n not in names:
                names.append(n)
    return [PROTOCOLS[n] for n in names]


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="latent beside the real TensorFlow Recommenders MovieLens-100K tutorials.")
    p.add_argument("--latent", type=Path, default=REPO_ROOT / "build" / "bin" / "latent",
                   help="latent executable (default: build/bin/latent in the repository)")
    p.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "ml-100k",
                   help="MovieLens 100K directory (default: ../shared/data/ml-100k relative to "
                        "the repository)")
    p.add_argument("--seeds", type=int, default=3,
                   help=f"seeds {FIRST_SEED}..{FIRST_SEED - 1}+N (default 3)")
    p.add_argument("--protocols", default=None,
                   help=f"comma-separated, of {', '.join(list(PROTOCOLS) + list(ALIASES))} "
                        f"(default: all)")
    p.add_argument("--deep-epochs", type=int, default=DEEP_EPOCHS_DEFAULT,
                   help=f"epochs of deep-retrieval for both (default {DEEP_EPOCHS_DEFAULT}; "
                        f"the notebook: 300)")
    p.add_argument("--venv", type=Path, default=VENV,
                   help="the TFRS venv, created when missing (default build/tfrs-venv)")
    p.add_argument("--json", type=Path, default=None, help="also write all results to FILE")
    p.add_argument("--check", action="store_true",
                   help="exit with status 1 if a target line says FAIL")
    args = p.parse_args(argv)
    if args.seeds <= 0:
        p.error("--seeds must be positive")
    if args.deep_epochs <= 0:
        p.error("--deep-epochs must be positive")
    args.protocol_list = parse_protocols(args.protocols, p)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    data, latent = args.data.resolve(), args.latent.resolve()
    if not (data / "u.data").is_file() or not (data / "u.item").is_file():
        print(f"tfrs_bench: MovieLens 100K not found at {data} (need u.data and u.item); "
              f"pass --data DIR", file=sys.stderr)
        return 2
    if not latent.is_file() or not os.access(latent, os.X_OK):
        print(f"tfrs_bench: latent executable not found at {latent}; build it or pass "
              f"--latent PATH", file=sys.stderr)
        return 2
    seeds = list(range(FIRST_SEED, FIRST_SEED + args.seeds))
    started = time.perf_counter()
    try:
        python = ensure_venv(args.venv)
    except (BenchError, subprocess.CalledProcessError) as e:
        print(f"tfrs_bench: {e}", file=sys.stderr)
        return 1

    built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(latent.stat().st_mtime))
    busy = cpu_busy_fraction()
    load_start = os.getloadavg()[0]
    results = {"latent": str(latent), "latent_built": built, "data": str(data),
               "python": str(python), "tfrs_env": TFRS_ENV, "seeds": seeds,
               "deep_epochs": args.deep_epochs, "cpu_count": os.cpu_count(),
               "cpu_busy_before": busy, "load_average_start": load_start,
               "splits": {}, "protocols": {}, "targets": []}
    targets = []
    try:
        with tempfile.TemporaryDirectory(prefix="tfrs-bench-") as tmp:
            workdir = Path(tmp)
            digests = {}
            for seed in seeds:
                split_dir = workdir / f"split-{seed}"
                progress(f"split of seed {seed} ...")
                res = run_child([str(python), str(TUTORIALS), "--data", str(data),
                                 "--seed", str(seed), "--write-split", str(split_dir)],
                                cwd=workdir, env={**os.environ, **TFRS_ENV})
                if res.returncode != 0:
                    raise BenchError(f"writing the split of seed {seed} failed: "
                                     f"{error_line(res.stderr, res.returncode)}")
                written = json.loads(res.stdout.strip().splitlines()[-1])
                digests[seed] = csv_digest(split_dir)
                if written["split_digest"] != digests[seed]:
                    raise BenchError(f"split {split_dir}: the files do not hash as written")
                results["splits"][seed] = written

            print("# latent beside the TensorFlow Recommenders MovieLens-100K tutorials\n")
            print(f"Data: {data}; latent: {latent} (built {built}); TFRS: {python}; "
                  f"seeds {seeds}; 2 threads each; {os.cpu_count()} CPUs; "
                  f"CPUs {fmt(busy and busy * 100, '.0f')}% busy before the first run, "
                  f"load average {load_start:.1f}.")
            if busy is not None and busy > 0.25:
                print("WARNING: the CPUs were busy before the benchmark; other work on this "
                      "machine inflates the timings.")
            versions_shown = False
            for proto in args.protocol_list:
                rows = []
                for seed in seeds:
                    progress(f"{proto.name} seed {seed}: TFRS ...")
                    t = run_tfrs(python, data, proto, seed, args.deep_epochs, digests[seed],
                                 workdir)
                    progress(f"{proto.name} seed {seed}: latent ...")
                    lat = run_latent(latent, data, proto, seed, workdir / f"split-{seed}",
                                     args.deep_epochs, workdir)
                    rows.append({"seed": seed, "tfrs": t, "latent": lat})
                if not versions_shown and any("versions" in r["tfrs"] for r in rows):
                    v = next(r["tfrs"]["versions"] for r in rows if "versions" in r["tfrs"])
                    print(f"TensorFlow {v['tensorflow']}, TensorFlow Recommenders "
                          f"{v['tensorflow_recommenders']}, Python {v['python']}.")
                    results["versions"] = v
                    versions_shown = True
                means = print_table(proto, rows, args.deep_epochs)
                targets += targets_for(proto, rows, means)
                results["protocols"][proto.name] = {
                    "tfrs": proto.tfrs.replace("EPOCHS", str(args.deep_epochs)),
                    "latent": proto.latent, "latent_args": list(proto.latent_args),
                    "runs": rows, "mean": means}
    except BenchError as e:
        print(f"\ntfrs_bench: {e}", file=sys.stderr)
        return 1

    total = time.perf_counter() - started
    load_end = os.getloadavg()[0]
    results.update(total_seconds=total, load_average_end=load_end)
    print(f"\nTotal run time {total:.0f} s; load average {load_start:.1f} at the start, "
          f"{load_end:.1f} at the end.")
    print("\n## Targets (means over seeds)\n")
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
