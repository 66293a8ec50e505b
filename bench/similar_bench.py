#!/usr/bin/python3
"""Similar items and similar pairs on a big catalog, through the similar-items
index against the exact search, in one run (issue 13).

    /usr/bin/python3 bench/similar_bench.py [--items 1000000] [--ef 16,32,64]
        [--threshold 0.9] [--no-exact-pairs]

The catalog and its ALS model (d 64) are bench/catalog.py's, shared with
index_bench.py and serve_bench.py. `latent index` builds both graphs into a
copy of the model (its build time is the one `latent index` prints); then,
through the Python module on one thread: recall@10 of similar_items against
the exact search and items/s for each ef, and all pairs above the threshold
through the index and exactly (time, pairs, recall). `latent index` checks
its two graphs on --queries users and items, timed in C++.

Beside it, in the same run, hnswlib and faiss HNSW (bench/index_peers.py in
build/peers-venv) build their graphs on the same unit vectors with the same m
and ef_construction and answer the same items (the item itself left out):
recall@10 for each ef says whether a figure is the catalog's difficulty or
latent's graph. Their queries/s are all queries in one call, not comparable
with the per-call Python figures; --no-peers skips them.
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import numpy as np

from catalog import Catalog, add_arguments as catalog_arguments
from index_bench import PEERS
from peers import peers_python

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    catalog_arguments(ap)
    ap.add_argument("--queries", type=int, default=1000, help="items asked for similar items")
    ap.add_argument("--exact-queries", type=int, default=100,
                    help="of those, timed on the exact search (each reads every item)")
    ap.add_argument("--ef", default="16,32,64,128,256")
    ap.add_argument("--threshold", type=float, default=0.8, help="similar pairs' cosine threshold")
    ap.add_argument("--no-pairs", action="store_true", help="skip the similar pairs")
    ap.add_argument("--no-peers", action="store_true", help="skip hnswlib and faiss")
    ap.add_argument("--no-exact-pairs", action="store_true",
                    help="skip the exact pairs (every pair of items: minutes at 1M)")
    ap.add_argument("--reuse-index", action="store_true",
                    help="keep the indexes an earlier run built (their build time is then not "
                         "measured)")
    ap.add_argument("--build", default=str(ROOT / "build"))
    args = ap.parse_args()

    build = pathlib.Path(args.build)
    sys.path.insert(0, str(build / "python"))
    os.environ["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "2")
    import latent  # noqa: E402  (the build's module)

    print(f"1-minute load average at start {os.getloadavg()[0]:.2f}")
    catalog = Catalog.from_args(build, args)
    source = catalog.model("als")
    work = catalog.work / "similar"
    work.mkdir(exist_ok=True)
    model_path = work / "als.latent"
    if not model_path.exists() or model_path.stat().st_mtime < source.stat().st_mtime:
        shutil.copyfile(source, model_path)
    built = None
    similar_file = pathlib.Path(str(model_path) + ".similar.index")
    if not (args.reuse_index and similar_file.exists()):
        t = time.perf_counter()
        done = subprocess.run([str(catalog.cli), "index", str(model_path), "--check-users",
                               str(args.queries)], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"latent index failed:\n{done.stderr}")
        print(done.stdout.strip())
        print(f"latent index (both graphs, the model read and the files written): "
              f"{time.perf_counter() - t:.1f} s")
        built = re.search(r"for similar items and pairs of (\d+) items .* built in ([\d.]+) s",
                          done.stdout)

    model = latent.load(model_path)
    info = model.similar_index_info()
    _, ids = model.item_embeddings()
    known = len(ids) - 1
    step = max(1, known // args.queries)
    sample = [ids[1 + i * step] for i in range(min(args.queries, known))]

    def lists(n, **kw):
        t0 = time.perf_counter()
        out = [list(model.similar_items(item, k=10, threads=1, **kw)[0]) for item in sample[:n]]
        return out, time.perf_counter() - t0

    exact, exact_s = lists(args.exact_queries, exact=True)
    rows = [("exact (every item)", 1.0, args.exact_queries / exact_s)]
    truth_all = None
    for ef in [int(e) for e in args.ef.split(",")]:
        found, s = lists(len(sample), ef=ef)
        if truth_all is None:
            # The exact lists of every sampled item, for recall (not timed).
            truth_all = exact + lists(len(sample), exact=True)[0][len(exact):]
        hits = sum(len(set(a) & set(b)) for a, b in zip(found, truth_all))
        rows.append((f"similar-items index ef {ef}", hits / (10 * len(sample)), len(sample) / s))
    print(f"\nsimilar_items, k 10, one thread, {known} items x {model.dim}; "
          f"index m {info['m']}, ef_construction {info['ef_construction']}, "
          f"built in {built.group(2) + ' s' if built else 'an earlier run'} on 2 threads, "
          f"{info['bytes'] / known:.0f} bytes/item (+{4 * model.dim} of unit vectors)")
    print("through Python, one similar_items call per item (the C++ figures at the index's ef "
          "are latent index's check above)")
    print(f"{'search':32} {'recall@10':>10} {'items/s':>10} {'x exact':>8}")
    for name, recall, qps in rows:
        print(f"{name:32} {recall:10.4f} {qps:10.0f} {qps / rows[0][2]:7.1f}x")

    if not args.no_peers:
        peers(build, catalog, model, sample, truth_all, info, args.ef)
    if args.no_pairs:
        return
    print(f"\nsimilar pairs with cosine > {args.threshold}, 2 threads")
    t0 = time.perf_counter()
    by_index = model.similar_pairs(args.threshold, threads=2)
    index_s = time.perf_counter() - t0
    print(f"{'through the index (ef ' + str(info['ef']) + ')':32} {len(by_index):>12} pairs "
          f"{index_s:9.1f} s")
    if not args.no_exact_pairs:
        t0 = time.perf_counter()
        every = model.similar_pairs(args.threshold, threads=2, exact=True)
        exact_pairs_s = time.perf_counter() - t0
        truth = set(zip(every.iloc[:, 0], every.iloc[:, 1]))
        hits = sum((a, b) in truth for a, b in zip(by_index.iloc[:, 0], by_index.iloc[:, 1]))
        print(f"{'exact (every pair)':32} {len(every):>12} pairs {exact_pairs_s:9.1f} s")
        print(f"recall of the index's pairs: {hits / max(len(every), 1):.4f}; "
              f"{exact_pairs_s / index_s:.1f}x faster")


def peers(build, catalog, model, sample, truth, info, efs):
    """hnswlib and faiss HNSW over the model's unit item vectors, asked for
    the same items' neighbours; prints recall@10 for each ef."""
    python = peers_python(build / "peers-venv", PEERS)
    export = catalog.work / "similar" / "export"
    export.mkdir(exist_ok=True)
    vectors, ids = model.item_embeddings()
    unit = np.asarray(vectors[1:], dtype=np.float32)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-30)
    row = {item: r for r, item in enumerate(ids)}
    rows = np.array([row[item] for item in sample], dtype=np.int32)
    np.save(export / "items.npy", unit)
    np.save(export / "queries.npy", unit[rows - 1])
    np.save(export / "query_rows.npy", rows)
    np.save(export / "truth.npy", np.array([[row[i] for i in t] for t in truth], dtype=np.int32))
    done = subprocess.run([str(python), str(ROOT / "bench" / "index_peers.py"), "--dir",
                           str(export), "--json", str(export / "peers.json"), "--m",
                           str(info["m"]), "--ef-construction", str(info["ef_construction"]),
                           "--build-threads", "2", "--ef", efs, "--peers", "hnswlib,faiss-hnsw"],
                          env=dict(os.environ, OMP_NUM_THREADS="2",
                                   INDEX_PEERS_TMP=str(catalog.work)),
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"index_peers.py failed:\n{done.stderr}")
    print(f"\nthe same items' neighbours by cosine from hnswlib and faiss on the same unit "
          f"vectors (m {info['m']}, ef_construction {info['ef_construction']}; queries/s: "
          f"all queries in one call)")
    print(f"{'search':32} {'recall@10':>10} {'queries/s':>10} {'build s':>8}")
    for peer in json.load(open(export / "peers.json")).values():
        for r in peer["rows"]:
            print(f"{peer['name'] + ' ' + r['setting']:32} {r['recall']:10.4f} "
                  f"{r['queries_per_second']:10.0f} {peer['build_seconds']:8.1f}")


if __name__ == "__main__":
    main()
