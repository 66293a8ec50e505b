#!/usr/bin/python3
"""Recommendation quality of every latent model on MovieLens 100K (issue 3).

Protocol
    MovieLens 100K, positives = rating > 3 (55,375 pairs). Per user, a seeded
    random 20% of that user's positives are held out as test (users with < 2
    positives keep everything in train), i.e.

        latent evaluate --data DIR --rating-above 3 --split per-user \\
            --test-fraction 0.2 --seed 42 --model MODEL

    Metrics at K = 10 over every known item except the user's training items
    (latent's definitions: include/latent/evaluation.hpp): NDCG@10,
    Recall@10, Precision@10, MAP@10, HitRate@10, and catalog coverage of the
    top-10 lists.

For every model (popularity, als, bpr, ease, two-tower) two rows:
    defaults  ``latent evaluate`` with latent's default hyper-parameters;
    tuned     ``latent tune`` with the same outer split: it searches its
              default grid for the model (``--trials`` points at most) on a
              per-user 20% validation split of the TRAINING part only, picks
              by validation NDCG@10, retrains the best on the whole training
              part and scores it on the test part. The test part never takes
              part in the choice.
The two-tower model has a third row: its defaults with the items' side
features (``--item-features genres:multi,year:numeric:buckets=10,title:text``,
MovieLens's own attributes, beside the ids; issue 16): warm items must not
be hurt by them.
A second table repeats the defaults rows with ``--exclude-rated``: the
ratings <= 3 that the protocol drops are also left out of each user's
ranking (they are seen, and ``recommend --exclude-seen`` leaves them out);
and, for every model but BPR, a ``latent tune --exclude-rated`` row whose
grid also searches ``--rated-weight`` (0, 0.25, 0.5, 1: those ratings train
the model as weak positives of that weight). The peers' figures neither
train on nor leave out those ratings, so that table is not compared with the
references or the targets; bench/rated_below_bench.py measures the same
effect on one numpy EASE.
``train s`` is the training time of the reported model (for tuned rows, the
retrain on the whole training part); ``search s`` is the wall time of the
whole ``latent tune`` run (every trial, the retrain and the test scoring).

Reference rows are the issue's figures, measured with the Python libraries
(implicit, numpy EASE, TFRS) on such a split; they give NDCG@10, Recall@10
and Precision@10 only. Note that latent's Recall@10 divides the hits by
|T(u)|, every test item of the user; the reference Recall@10 is higher than
latent's for the same ranking when it divides by min(10, |T(u)|) (its
popularity row has Recall@10 0.150 for NDCG@10 0.149 and Precision@10 0.114,
where latent's popularity gives 0.149 / 0.103 / 0.113), so NDCG@10 and
Precision@10 are the columns to compare.

Targets (NDCG@10; printed with PASS/FAIL, ``--check`` makes a FAIL exit 1):
    ALS >= 0.30, EASE >= 0.31, BPR >= 0.21, two-tower >= 0.28 (each with
    latent's defaults), and the best latent row (defaults or tuned) >= 0.33.

Usage (paths default relative to the repository root)::

    /usr/bin/python3 bench/quality_bench.py [--latent build/bin/latent]
        [--data ../shared/data/ml-100k] [--models als,ease] [--trials bpr=4]
        [--json results.json] [--check]

Run time: about one to two minutes on 2 cores, most of it in the BPR and
two-tower searches (a BPR fit with the default 800 epochs takes ~1-3 s here,
two-tower's 5 epochs ~2-4 s; more when other work shares the cores); change
their trial counts with ``--trials``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS = ["popularity", "als", "bpr", "ease", "two-tower"]
# The two-tower model's extra row: its items' genres, year and title words.
ITEM_FEATURES = "genres:multi,year:numeric:buckets=10,title:text"
# Trials of `latent tune` per model: ALS and EASE fits take ~0.1 s, so their
# whole default grids (30 and 8 points); BPR (up to 800 epochs) and two-tower
# (up to 10 epochs) fits take 0.5-5 s on 2 busy cores, so a seeded sample of
# 16 of BPR's 64 points and 12 of two-tower's 36 (the whole grids take ~1 and
# ~2.5 minutes there: `--trials bpr=64,two-tower=36`).
DEFAULT_TRIALS = {"popularity": 1, "als": 30, "ease": 8, "bpr": 16, "two-tower": 12}
# Models that can train on the ratings <= 3 as weak positives (`--rated-weight`;
# BPR trains on distinct pairs), and the weights `latent tune` tries for them.
RATED_WEIGHT_MODELS = ["popularity", "als", "ease", "two-tower"]
RATED_WEIGHTS = ["0", "0.25", "0.5", "1"]
METRICS = [("ndcg", "NDCG@10"), ("recall", "Recall@10"), ("precision", "Precision@10"),
           ("map", "MAP@10"), ("hit_rate", "HitRate@10")]

# (model, settings, NDCG@10, Recall@10, Precision@10) from issue 3.
REFERENCES = [
    ("popularity", "Python reference", 0.149, 0.150, 0.114),
    ("implicit ALS", "defaults", 0.219, 0.232, 0.153),
    ("implicit ALS", "best grid: reg 50, alpha 10", 0.322, 0.334, 0.228),
    ("implicit BPR", "defaults", 0.202, 0.214, 0.143),
    ("EASE (numpy)", "lambda 200", 0.317, 0.328, 0.225),
    ("two-tower (TFRS)", "tutorial settings", 0.030, 0.044, 0.024),
    ("two-tower (TFRS)", "best of 8 TFRS settings", 0.084, 0.095, 0.060),
]

# (label, model whose defaults row is checked or None for the best row, threshold)
TARGETS = [("ALS defaults", "als", 0.30), ("EASE defaults", "ease", 0.31),
           ("BPR defaults", "bpr", 0.21), ("two-tower defaults", "two-tower", 0.28),
           ("best latent model", None, 0.33)]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(cmd: list[str]) -> float:
    """Runs cmd, exits with its stderr on failure; returns the wall seconds."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"quality_bench: `{' '.join(cmd)}` failed with exit code {proc.returncode}:\n"
                 f"{proc.stderr.strip()}")
    return seconds


def at_k(result: dict, k: int = 10) -> dict:
    for m in result["at_k"]:
        if m["k"] == k:
            return m
    sys.exit(f"quality_bench: no metrics at k={k} in {result}")


def row(model: str, settings: str, result: dict, train_s: float, search_s: float | None) -> dict:
    m = at_k(result)
    r = {"model": model, "settings": settings, "train_seconds": train_s,
         "search_seconds": search_s, "coverage": result["coverage"]}
    for key, _ in METRICS:
        r[key] = m[key]
    return r


def tuned_row(latent: Path, split: list[str], model: str, trials: int, out: str,
              extra: list[str]) -> dict:
    """`latent tune` of one model (extra: more flags); its best, scored on the test part."""
    log(f"{model}: latent tune{''.join(' ' + e for e in extra)}, {trials} trials at most ...")
    wall = run([str(latent), "tune", *split, "--model", model, "--trials", str(trials),
                "--metric", "ndcg", "--k", "10", "--json", out, "--quiet", *extra])
    tu = json.loads(Path(out).read_text())
    best = tu["best"]
    chosen = " ".join(f"{k}={v}" for k, v in best["params"].items() if k != "seed")
    flags = " ".join(e for e in extra if e.startswith("--exclude"))
    settings = (f"tuned{', ' + flags if flags else ''} ({len(tu['trials'])} of "
                f"{tu['grid_size']} grid points): {chosen or 'nothing to tune'}")
    r = row(model, settings, best["test"], best["train_seconds"], wall)
    r["validation_ndcg"] = best["value"]
    r["trials"] = tu["trials"]
    return r


def parse_trials(text: str | None) -> dict[str, int]:
    trials = dict(DEFAULT_TRIALS)
    for part in (text or "").split(","):
        if not part:
            continue
        name, _, n = part.partition("=")
        if name not in MODELS or not n.isdigit() or int(n) < 1:
            sys.exit(f"quality_bench: --trials \"{part}\": expected MODEL=N with MODEL one of "
                     f"{', '.join(MODELS)} and N >= 1")
        trials[name] = int(n)
    return trials


def markdown_table(rows: list[dict]) -> str:
    header = ["model", "settings"] + [label for _, label in METRICS] + ["coverage", "train s", "search s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [r["model"], r["settings"]]
        cells += ["–" if r.get(key) is None else f"{r[key]:.3f}" for key, _ in METRICS]
        cells.append("–" if r.get("coverage") is None else f"{r['coverage']:.3f}")
        cells.append("–" if r.get("train_seconds") is None else f"{r['train_seconds']:.2f}")
        cells.append("–" if r.get("search_seconds") is None else f"{r['search_seconds']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latent", default=str(REPO_ROOT / "build" / "bin" / "latent"),
                        help="the latent binary (default: build/bin/latent)")
    parser.add_argument("--data", default=str(REPO_ROOT / ".." / "shared" / "data" / "ml-100k"),
                        help="MovieLens 100K directory (default: ../shared/data/ml-100k)")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated subset of {','.join(MODELS)}")
    parser.add_argument("--trials", help="MODEL=N,... trials of latent tune per model "
                        f"(default: {','.join(f'{m}={n}' for m, n in DEFAULT_TRIALS.items())})")
    parser.add_argument("--seed", type=int, default=42, help="seed of the split (and the models)")
    parser.add_argument("--json", help="also write every row, reference and target to this file")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target FAILs")
    args = parser.parse_args()

    data = Path(args.data)
    if not (data / "u.data").is_file():
        sys.exit(f"quality_bench: MovieLens 100K not found at {data} (no u.data there). Download "
                 "ml-100k from GroupLens and pass --data DIR; it is not bundled (its license "
                 "forbids redistribution).")
    latent = Path(args.latent)
    if not os.access(latent, os.X_OK):
        sys.exit(f"quality_bench: latent binary not found at {latent}; build it "
                 "(bash scripts/build.sh) or pass --latent PATH")
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in MODELS:
            sys.exit(f"quality_bench: unknown model \"{m}\"; valid: {', '.join(MODELS)}")
    trials = parse_trials(args.trials)
    load = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    if load > 0.5 * cpus:
        log(f"warning: load average {load:.1f} on {cpus} CPUs: other work is running, so the "
            "training times are inflated (the metrics are not affected)")

    split = ["--data", str(data), "--rating-above", "3", "--split", "per-user",
             "--test-fraction", "0.2", "--seed", str(args.seed)]
    rows = []
    rated_rows = []  # the same models, ratings <= 3 also left out of the ranking
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="latent-quality-") as tmp:
        for model in models:
            out = os.path.join(tmp, f"{model}-defaults.json")
            log(f"{model}: latent evaluate with the defaults ...")
            run([str(latent), "evaluate", *split, "--model", model, "--k", "10", "--json", out,
                 "--quiet"])
            ev = json.loads(Path(out).read_text())
            rows.append(row(model, "defaults", ev, ev["train_seconds"], None))

            out = os.path.join(tmp, f"{model}-rated.json")
            log(f"{model}: latent evaluate --exclude-rated with the defaults ...")
            run([str(latent), "evaluate", *split, "--model", model, "--k", "10", "--json", out,
                 "--quiet", "--exclude-rated"])
            ev = json.loads(Path(out).read_text())
            rated_rows.append(row(model, "defaults, --exclude-rated", ev, ev["train_seconds"], None))
            if model in RATED_WEIGHT_MODELS:
                rated_rows.append(tuned_row(
                    latent, split, model, trials[model] * len(RATED_WEIGHTS),
                    os.path.join(tmp, f"{model}-rated-tune.json"),
                    ["--exclude-rated", "--grid", "rated-weight=" + ",".join(RATED_WEIGHTS)]))

            r = tuned_row(latent, split, model, trials[model],
                          os.path.join(tmp, f"{model}-tune.json"), [])
            rows.append(r)
            log(f"{model}: defaults NDCG@10 {rows[-2]['ndcg']:.4f}, tuned {r['ndcg']:.4f} "
                f"({r['search_seconds']:.1f} s search)")
            if model == "two-tower":
                # Warm items with side features (issue 16): the same model with
                # MovieLens's item attributes beside the ids.
                out = os.path.join(tmp, "two-tower-features.json")
                log(f"two-tower: latent evaluate --item-features {ITEM_FEATURES} ...")
                run([str(latent), "evaluate", *split, "--model", model, "--k", "10",
                     "--item-features", ITEM_FEATURES, "--json", out, "--quiet"])
                ev = json.loads(Path(out).read_text())
                rows.append(row(model, f"defaults, --item-features {ITEM_FEATURES}", ev,
                                ev["train_seconds"], None))
    total = time.perf_counter() - started

    print(f"# latent quality on MovieLens 100K (rating > 3, per-user 20% test, seed {args.seed}, "
          f"K = 10, train items excluded)\n")
    print(f"Data: {data}; latent: {latent}; {cpus} CPUs; total run time {total:.0f} s.\n")
    print(markdown_table(rows))
    print("\nWith `--exclude-rated`: each user's ratings <= 3 (which the protocol drops, so "
          "they are neither training nor test items) are also left out of the ranking, as "
          "`recommend --exclude-seen` leaves them out; the tuned rows also search "
          f"`--rated-weight` ({', '.join(RATED_WEIGHTS)}: those ratings train the model as weak "
          "positives). Not the protocol the peers' figures use, so not compared with them or "
          "with the targets:\n")
    print(markdown_table(rated_rows))
    print("\nReference rows (issue 3, Python libraries on such a split; Recall@10 there likely "
          "divides by min(10, |T(u)|), see --help):\n")
    ref_rows = [{"model": m, "settings": s, "ndcg": a, "recall": b, "precision": c}
                for m, s, a, b, c in REFERENCES]
    print(markdown_table(ref_rows))

    print("\nTargets (NDCG@10):\n")
    targets = []
    for label, model, threshold in TARGETS:
        if model is None:
            if not rows:
                continue
            best = max(rows, key=lambda r: r["ndcg"])
            value, where = best["ndcg"], f"{best['model']}, {best['settings']}"
        else:
            found = [r for r in rows if r["model"] == model and r["settings"] == "defaults"]
            if not found:
                continue
            tuned = [r for r in rows if r["model"] == model and r["settings"] != "defaults"]
            value = found[0]["ndcg"]
            where = f"tuned: {tuned[0]['ndcg']:.4f}" if tuned else ""
        status = "PASS" if value >= threshold else "FAIL"
        targets.append({"target": label, "threshold": threshold, "value": value,
                        "status": status, "note": where})
        print(f"- {status}: {label} >= {threshold:.2f}: {value:.4f} ({where})")

    if args.json:
        Path(args.json).write_text(json.dumps({
            "protocol": {"data": str(data), "rating_above": 3, "split": "per-user",
                         "test_fraction": 0.2, "seed": args.seed, "k": 10,
                         "exclude_train": True},
            "rows": rows,
            "exclude_rated_rows": rated_rows,
            "references": [{"model": m, "settings": s, "ndcg": a, "recall": b, "precision": c}
                           for m, s, a, b, c in REFERENCES],
            "targets": targets,
            "total_seconds": total,
        }, indent=2) + "\n")
    failed = any(t["status"] == "FAIL" for t in targets)
    return 1 if (args.check and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
