#!/usr/bin/python3
"""Recommendation quality on Gowalla, the NGCF / LightGCN split (issue 14): latent
beside implicit and the published figures, in one run.

Protocol (the papers'; ../shared/data/gowalla/README.md)
    train.txt.gz and test.txt.gz, one line per user (``user item item ...``):
    29,858 users, 40,981 items, 810,128 training and 217,242 test pairs.
    Train on train.txt only; for every user of test.txt rank every item but
    the user's training items; Recall@20 = hits in the top 20 / |test items|,
    NDCG@20 with binary relevance and IDCG over min(20, |test items|), both
    averaged over the 29,858 users. latent runs it as one command:

        latent evaluate --data DIR/train.txt.gz --format user-lines \\
            --test-file DIR/test.txt.gz --model MODEL --k 20

Rows
    latent, defaults  that command for popularity, als, bpr, two-tower, gf-cf
                      and ease. EASE needs one 40,982^2 float32 matrix (6.7
                      GB); its default limit is half of the machine's memory,
                      so on a smaller machine the row shows its refusal;
                      ``--ease-memory-gb N`` sets the limit.
    latent, tuned     (``--tune``) als and gf-cf: ``latent tune --data
                      train.txt.gz --trials N --metric recall --k 20`` on the
                      train file alone (``latent tune`` takes no
                      ``--test-file``: it splits off a per-user 20% of
                      train.txt as its own test part and chooses on a per-user
                      20% validation part of the rest), then ``latent evaluate
                      --test-file`` with the parameters it chose. test.txt
                      takes no part in the choice.
    implicit          implicit 0.7.3's ALS and BPR (bench/gowalla_peers.py in
                      build/peers-venv, made by bench/peers.py on first use;
                      its BLAS on 1 thread through threadpoolctl, its own
                      training on every core as latent's) with implicit's
                      defaults, trained on the CSR of train.txt and scored in
                      numpy by the same protocol; with ``--tune``, the same
                      trial budget over a small grid (factors, regularization,
                      alpha or learning rate) chosen by Recall@20 on a seeded
                      per-user 20% of train.txt, then retrained on all of it.
    published         LightGCN, NGCF, Mult-VAE (He et al., SIGIR 2020,
                      Table 3) and GF-CF (Shen et al., CIKM 2021): not run.

Columns: ``train s`` is the fit of the scored model (latent's ``train_seconds``;
implicit's ``fit``); ``wall s`` the whole command, loading the data and scoring
the 29,858 users included (tuned rows: the whole search plus the final
evaluate); ``peak RSS`` the command's maximum resident set (``/usr/bin/time -f
%M``; tuned latent rows: the larger of tune and evaluate). implicit's wall
includes the numpy scoring (~20-40 s here), which is not implicit's own.

Target (printed as PASS/FAIL; ``--check`` exits 1 on FAIL): the best latent
row with defaults has Recall@20 >= 0.1830 (LightGCN's published figure) and
its evaluate command, training and scoring, took under 60 s of wall time.

``--ml100k`` adds a second table: MovieLens 100K under issue 3's protocol
(``latent evaluate --data ../shared/data/ml-100k --rating-above 3 --split
per-user --test-fraction 0.2 --seed 42 --model M --k 10``) for als, bpr,
ease, two-tower and gf-cf, beside the figures of docs/benchmarks.md's issue-3
table (BEFORE_ML100K below).

Usage (paths default relative to the repository root)::

    /usr/bin/python3 bench/gowalla_bench.py [--latent build/bin/latent]
        [--data ../shared/data/gowalla] [--models als,gf-cf,implicit-als]
        [--tune] [--trials 12] [--ease-memory-gb 16] [--ml100k]
        [--json results.json] [--check]

Needs /usr/bin/time (``bash scripts/install-deps.sh --bench``) and, for the
implicit rows, network access on the first run (pip into build/peers-venv).

Run time on this 2-core machine, shared with builds (measured at load averages
2-7): 3-8 minutes without ``--tune`` (latent BPR's 800 epochs 45-185 s and
two-tower's 40-150 s of it, implicit's two rows 1-2 minutes), about 10 s more
with ``--ml100k``, and 18-26 minutes more with ``--tune`` (21-32 minutes in
all: implicit BPR's search ~9 minutes, implicit ALS's 4-8, gf-cf's 3.5-6, most
of implicit's in the numpy scoring of each trial's validation part).
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
sys.path.insert(0, str(REPO_ROOT / "bench"))
from peers import peers_python  # noqa: E402
from scale_bench import PEERS  # noqa: E402  (implicit 0.7.3, threadpoolctl)

K = 20
LATENT_MODELS = ["popularity", "als", "bpr", "two-tower", "gf-cf", "ease"]
PEER_MODELS = {"implicit-als": "als", "implicit-bpr": "bpr"}
TUNED_LATENT = ["als", "gf-cf"]
ML100K_MODELS = ["als", "bpr", "ease", "two-tower", "gf-cf"]
TARGET_RECALL = 0.1830
TARGET_WALL_S = 60.0

# (model, source, Recall@20, NDCG@20): published on this split, not run here.
REFERENCES = [
    ("LightGCN", "published: He et al., SIGIR 2020, Table 3", 0.1830, 0.1554),
    ("NGCF", "published: He et al., SIGIR 2020, Table 3", 0.1570, 0.1327),
    ("Mult-VAE", "published: He et al., SIGIR 2020, Table 3", 0.1641, 0.1335),
    ("GF-CF", "published: Shen et al., CIKM 2021", 0.1849, 0.1518),
]

# MovieLens 100K "before" figures: the `defaults` rows (NDCG@10, Recall@10) of
# docs/benchmarks.md, "The classic models (issue 3)", as of commit 511fa4e
# (that table last edited in 4390db7; the BPR row measured in 9d9c4bb, the
# others in 24111fd), printed by `/usr/bin/python3 bench/quality_bench.py`,
# whose defaults rows run the same `latent evaluate` command as --ml100k.
# gf-cf did not exist then.
BEFORE_ML100K = {"als": (0.322, 0.263), "bpr": (0.294, 0.239), "ease": (0.322, 0.262),
                 "two-tower": (0.290, 0.237)}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(cmd: list[str], tmp: str, env: dict | None = None) -> dict:
    """Runs cmd under /usr/bin/time -f %M: {ok, wall, rss_mb, stdout, stderr}."""
    rss_file = os.path.join(tmp, "rss.txt")
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, *map(str, cmd)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - start
    rss_lines = Path(rss_file).read_text().split() if os.path.exists(rss_file) else []
    rss = int(rss_lines[-1]) / 1024.0 if rss_lines and rss_lines[-1].isdigit() else None
    return {"ok": proc.returncode == 0, "code": proc.returncode, "wall": wall, "rss_mb": rss,
            "stdout": proc.stdout, "stderr": proc.stderr}


def error_line(done: dict) -> str:
    lines = [l for l in done["stderr"].strip().splitlines() if l.strip()]
    errors = [l for l in lines if "error" in l.lower()]
    return (errors or lines or [f"exit code {done['code']}"])[-1].strip()


def at_k(result: dict, k: int) -> dict:
    for m in result["at_k"]:
        if m["k"] == k:
            return m
    raise KeyError(f"no metrics at k={k}")


def latent_evaluate(latent: Path, data_flags: list[str], model: str, flags: list[str],
                    k: int, tmp: str) -> dict:
    """One `latent evaluate`: recall, ndcg, train_seconds, wall, rss_mb (or error)."""
    out = os.path.join(tmp, "evaluate.json")
    if os.path.exists(out):
        os.remove(out)
    done = timed([latent, "evaluate", *data_flags, "--model", model, *flags, "--k", str(k),
                  "--json", out, "-q"], tmp)
    r = {"wall_seconds": done["wall"], "peak_rss_mb": done["rss_mb"]}
    if not done["ok"]:
        r["error"] = error_line(done)
        return r
    ev = json.loads(Path(out).read_text())
    m = at_k(ev, k)
    r.update(recall=m["recall"], ndcg=m["ndcg"], train_seconds=ev["train_seconds"],
             config=ev.get("config"), users=ev.get("users"))
    return r


def latent_tuned(latent: Path, data_flags: list[str], eval_flags: list[str], model: str,
                 trials: int, tmp: str) -> dict:
    """`latent tune` on train.txt alone, then `latent evaluate --test-file` with its choice."""
    out = os.path.join(tmp, "tune.json")
    done = timed([latent, "tune", *data_flags, "--model", model, "--trials", str(trials),
                  "--metric", "recall", "--k", str(K), "--json", out, "-q"], tmp)
    if not done["ok"]:
        return {"error": "tune: " + error_line(done), "wall_seconds": done["wall"],
                "peak_rss_mb": done["rss_mb"]}
    tu = json.loads(Path(out).read_text())
    params = tu["best"]["params"]
    flags = [f for name, value in params.items() if name != "seed"
             for f in (f"--{name}", str(value))]
    r = latent_evaluate(latent, eval_flags, model, flags, K, tmp)
    r["wall_seconds"] += done["wall"]
    r["tune_wall_seconds"] = done["wall"]
    rss = [x for x in (r["peak_rss_mb"], done["rss_mb"]) if x is not None]
    r["peak_rss_mb"] = max(rss) if rss else None
    chosen = " ".join(f"{n}={v}" for n, v in params.items() if n != "seed")
    r["settings"] = (f"tuned ({len(tu['trials'])} of {tu['grid_size']} grid points, "
                     f"validation Recall@20 {tu['best']['value']:.4f}): {chosen}")
    r["chosen"] = params
    r["validation_recall"] = tu["best"]["value"]
    r["tune_trials"] = [{"params": t["params"], "value": t["value"],
                         "train_seconds": t["train_seconds"]} for t in tu["trials"]]
    return r


def peer_row(python: Path, data: Path, model: str, tune: bool, trials: int, seed: int,
             tmp: str) -> dict:
    out = os.path.join(tmp, "peer.json")
    cmd = [python, REPO_ROOT / "bench" / "gowalla_peers.py", "--data", data, "--model", model,
           "--seed", str(seed), "--json", out]
    if tune:
        cmd += ["--tune", "--trials", str(trials)]
    done = timed(cmd, tmp)
    r = {"wall_seconds": done["wall"], "peak_rss_mb": done["rss_mb"]}
    if not done["ok"]:
        r["error"] = error_line(done)
        return r
    j = json.loads(Path(out).read_text())
    r.update(recall=j["recall"], ndcg=j["ndcg"], train_seconds=j["train_seconds"],
             params=j["params"], implicit=j["implicit"], users=j["test_users"])
    p = j["params"]
    knobs = ("alpha", p.get("alpha")) if model == "als" else ("lr", p.get("learning_rate"))
    described = (f"factors {p['factors']}, reg {p['regularization']:g}, {knobs[0]} "
                 f"{knobs[1]:g}, {p['iterations']} iterations")
    if tune:
        r["settings"] = (f"tuned ({len(j['trials'])} of {j['grid_size']} grid points, "
                         f"validation Recall@20 {j['validation_recall']:.4f}): {described}")
        r["trials"] = j["trials"]
        r["search_seconds"] = j["search_seconds"]
    else:
        r["settings"] = f"defaults ({described})"
    return r


def peer_label(r: dict, name: str) -> str:
    """"implicit 0.7.3 ALS" (the version the peer reported; none when it failed)."""
    version = r.get("implicit")
    return f"implicit {version + ' ' if version else ''}{PEER_MODELS[name].upper()}"


def fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def markdown(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    """A markdown table padded so it reads aligned as plain text too."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]

    def line(cells):
        return "| " + " | ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 1) + ":" if i in right else "-" * (w + 2)
                         for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def gowalla_table(rows: list[dict]) -> str:
    header = ["model", "settings", "Recall@20", "NDCG@20", "train s", "wall s", "peak RSS MB"]
    cells = []
    for r in rows:
        settings = r["settings"] + (f": {r['error']}" if r.get("error") else "")
        cells.append([r["model"], settings, fmt(r.get("recall"), ".4f"), fmt(r.get("ndcg"), ".4f"),
                      fmt(r.get("train_seconds"), ".1f"), fmt(r.get("wall_seconds"), ".1f"),
                      fmt(r.get("peak_rss_mb"), ".0f")])
    return markdown(header, cells, {2, 3, 4, 5, 6})


def log_result(r):
    """One row's outcome, as it finishes."""
    log(f"  {r.get('error') or 'Recall@20 %.4f' % r['recall']} ({r['wall_seconds']:.1f} s wall)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latent", default=str(REPO_ROOT / "build" / "bin" / "latent"),
                        help="the latent binary (default: build/bin/latent)")
    parser.add_argument("--data", default=str(REPO_ROOT / ".." / "shared" / "data" / "gowalla"),
                        help="directory of train.txt.gz and test.txt.gz "
                        "(default: ../shared/data/gowalla)")
    all_models = LATENT_MODELS + list(PEER_MODELS)
    parser.add_argument("--models", default=",".join(all_models),
                        help=f"comma-separated subset of {','.join(all_models)}")
    parser.add_argument("--tune", action="store_true",
                        help="also the tuned rows (latent als and gf-cf, implicit ALS and BPR); "
                        "18-26 minutes more on 2 busy cores")
    parser.add_argument("--trials", type=int, default=12,
                        help="trials of each tuned row's search (default 12)")
    parser.add_argument("--ease-memory-gb", type=float,
                        help="run EASE with this memory limit (default: EASE's own, half of "
                        "the machine's memory)")
    parser.add_argument("--ml100k", action="store_true",
                        help="also MovieLens 100K, issue 3's protocol, beside the figures "
                        "before issue 14")
    parser.add_argument("--ml100k-data", default=str(REPO_ROOT / ".." / "shared" / "data" /
                                                     "ml-100k"),
                        help="MovieLens 100K directory (default: ../shared/data/ml-100k)")
    parser.add_argument("--seed", type=int, default=42,
                        help="seed of the models and of the validation splits")
    parser.add_argument("--json", help="also write every row, reference and the target here")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target FAILs")
    args = parser.parse_args()

    data = Path(args.data)
    train, test = data / "train.txt.gz", data / "test.txt.gz"
    for f in (train, test):
        if not f.is_file():
            sys.exit(f"gowalla_bench: {f} not found; pass --data DIR (the NGCF / LightGCN "
                     "Gowalla split: train.txt.gz, test.txt.gz)")
    latent = Path(args.latent)
    if not os.access(latent, os.X_OK):
        sys.exit(f"gowalla_bench: latent binary not found at {latent}; build it "
                 "(bash scripts/build.sh) or pass --latent PATH")
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("gowalla_bench: /usr/bin/time is missing (peak RSS); install it: "
                 "bash scripts/install-deps.sh --bench")
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in all_models:
            sys.exit(f"gowalla_bench: unknown model \"{m}\"; valid: {', '.join(all_models)}")
    if args.trials < 1:
        sys.exit(f"gowalla_bench: --trials {args.trials}: expected >= 1")
    if args.ml100k and not (Path(args.ml100k_data) / "u.data").is_file():
        sys.exit(f"gowalla_bench: MovieLens 100K not found at {args.ml100k_data} (no u.data); "
                 "pass --ml100k-data DIR")
    built = latent.stat().st_mtime
    cpus = os.cpu_count() or 1
    load_start = os.getloadavg()[0]
    if load_start > 0.5 * cpus:
        log(f"warning: load average {load_start:.1f} on {cpus} CPUs: other work is running, so "
            "the times are inflated (the metrics are not affected)")

    data_flags = ["--data", str(train), "--format", "user-lines"]
    eval_flags = data_flags + ["--test-file", str(test)]
    peers = [m for m in models if m in PEER_MODELS]
    python = peers_python(REPO_ROOT / "build" / "peers-venv", PEERS) if peers else None

    rows, tuned_rows = [], []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="latent-gowalla-") as tmp:
        for model in (m for m in models if m in LATENT_MODELS):
            flags, settings = ["--seed", str(args.seed)], "defaults"
            if model == "ease" and args.ease_memory_gb:
                flags += ["--memory-limit-gb", f"{args.ease_memory_gb:g}"]
                settings = f"defaults, --memory-limit-gb {args.ease_memory_gb:g}"
            log(f"latent {model}: evaluate, {settings} ...")
            r = latent_evaluate(latent, eval_flags, model, flags, K, tmp)
            rows.append({"model": f"latent {model}", "settings": settings, "kind": "defaults",
                         **r})
            log_result(r)
        for name in peers:
            log(f"{name}: defaults ...")
            r = peer_row(python, data, PEER_MODELS[name], False, args.trials, args.seed, tmp)
            label = peer_label(r, name)
            rows.append({"model": label, "kind": "peer", **{"settings": "defaults", **r}})
            log_result(r)
        if args.tune:
            for model in (m for m in models if m in TUNED_LATENT):
                log(f"latent {model}: tune ({args.trials} trials) on train.txt, then evaluate ...")
                r = latent_tuned(latent, data_flags, eval_flags, model, args.trials, tmp)
                tuned_rows.append({"model": f"latent {model}", "kind": "tuned",
                                   **{"settings": "tuned", **r}})
                log_result(r)
            for name in peers:
                log(f"{name}: tune ({args.trials} trials) on a validation split of train.txt ...")
                r = peer_row(python, data, PEER_MODELS[name], True, args.trials, args.seed, tmp)
                label = peer_label(r, name)
                tuned_rows.append({"model": label, "kind": "peer tuned",
                                   **{"settings": "tuned", **r}})
                log_result(r)
        ml_rows = []
        if args.ml100k:
            ml_flags = ["--data", args.ml100k_data, "--rating-above", "3", "--split", "per-user",
                        "--test-fraction", "0.2", "--seed", "42"]
            for model in ML100K_MODELS:
                log(f"MovieLens 100K, latent {model} ...")
                r = latent_evaluate(latent, ml_flags, model, [], 10, tmp)
                before = BEFORE_ML100K.get(model, (None, None))
                ml_rows.append({"model": model, "before_ndcg": before[0],
                                "before_recall": before[1], **r})
    total = time.perf_counter() - started
    load_end = os.getloadavg()[0]

    all_rows = rows + tuned_rows
    refs = [{"model": m, "settings": s, "recall": r, "ndcg": n, "kind": "published"}
            for m, s, r, n in REFERENCES]
    print(f"# Gowalla (NGCF / LightGCN split), Recall@20 and NDCG@20 over all items but "
          f"the user's training items\n")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(built))
    print(f"Data: {data}; latent: {latent} (built {stamp}); {cpus} CPUs; load average "
          f"{load_start:.1f} at the start, {load_end:.1f} at the end; total run time "
          f"{total:.0f} s.\n")
    if latent.stat().st_mtime != built:
        print(f"WARNING: {latent} was rebuilt during the run: the latent rows may come from two "
              "builds (run it on a copy: --latent COPY).\n")
    print(gowalla_table(all_rows + refs))

    candidates = [r for r in rows if r["kind"] == "defaults" and r.get("recall") is not None]
    target = None
    if candidates:
        best = max(candidates, key=lambda r: r["recall"])
        ok = best["recall"] >= TARGET_RECALL and best["wall_seconds"] < TARGET_WALL_S
        target = {"status": "PASS" if ok else "FAIL", "model": best["model"],
                  "recall": best["recall"], "wall_seconds": best["wall_seconds"],
                  "threshold_recall": TARGET_RECALL, "threshold_wall_seconds": TARGET_WALL_S}
        print(f"\n{target['status']}: best latent row with defaults has Recall@20 >= "
              f"{TARGET_RECALL:.4f} (LightGCN, published) and took < {TARGET_WALL_S:.0f} s "
              f"(wall of the evaluate command): {best['model']}, Recall@20 "
              f"{best['recall']:.4f}, {best['wall_seconds']:.1f} s")

    if ml_rows:
        print("\n# MovieLens 100K (rating > 3, per-user 20% test, seed 42, K = 10), latent's "
              "defaults before and after issue 14\n")
        print("Before: docs/benchmarks.md, \"The classic models (issue 3)\", defaults rows "
              "(bench/quality_bench.py).\n")
        header = ["model", "NDCG@10 before", "NDCG@10 now", "Recall@10 before",
                  "Recall@10 now", "train s", "wall s"]
        cells = [[r["model"], fmt(r["before_ndcg"], ".3f"),
                  r.get("error") or fmt(r.get("ndcg"), ".3f"), fmt(r["before_recall"], ".3f"),
                  fmt(r.get("recall"), ".3f"), fmt(r.get("train_seconds"), ".2f"),
                  fmt(r.get("wall_seconds"), ".1f")] for r in ml_rows]
        print(markdown(header, cells, {1, 2, 3, 4, 5, 6}))

    if args.json:
        Path(args.json).write_text(json.dumps({
            "protocol": {"data": str(data), "k": K, "exclude_train": True, "seed": args.seed,
                         "trials": args.trials if args.tune else None},
            "rows": all_rows, "references": refs, "target": target,
            "ml100k": ml_rows, "total_seconds": total,
            "load_average": {"start": load_start, "end": load_end, "cpus": cpus},
        }, indent=2) + "\n")
    return 1 if (args.check and (target is None or target["status"] == "FAIL")) else 0


if __name__ == "__main__":
    sys.exit(main())
