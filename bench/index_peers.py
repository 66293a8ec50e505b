"""The peers of latent's approximate index on the same vectors: hnswlib and faiss.

Run by bench/index_bench.py inside build/peers-venv (hnswlib, faiss-cpu and
numpy from PyPI); alone:

    build/peers-venv/bin/python bench/index_peers.py --dir EXPORT --json peers.json

EXPORT is what `latent_bench_index --export EXPORT` writes: items.npy (the
item vectors; file row i is latent's item row i + 1), queries.npy and
truth.npy (latent's exact top-k as item rows, int32). Every recall here is
against that exact top-k, computed the way latent_bench_index computes its
own: the mean over queries of the share of the exact top-k found. With
query_rows.npy (bench/similar_bench.py writes it) each query is that item
row's own vector, and the peers search k + 1 and drop the item itself, as
latent's similar-items search leaves it out.

  hnswlib       space "ip" (the inner-product graph, as latent's), the same m
                and ef_construction, built on --build-threads, searched on 1
                thread (set_num_threads(1)) for each ef, all queries in one call;
  faiss HNSW    IndexHNSWFlat with METRIC_INNER_PRODUCT, same m and
                ef_construction, efSearch per ef;
  faiss IVF-PQ  IVF{nlist},PQ{d/2}x4fs (fast-scan, 4-bit codes, 2 dims per
                code) with RFlat re-ranking (IndexRefineFlat over the raw
                vectors), for each nprobe and k_factor;
  faiss exact   IndexFlatIP: faiss's exact search, a peer of latent's.

faiss searches run with faiss.omp_set_num_threads(1) and builds with
--build-threads. Each search of all the queries is timed as the fastest of
--passes passes (5; fewer once 5 s have gone on them), as latent_bench_index
times latent's. --index-dir DIR loads each index from DIR when it is there
(its build seconds then null) and else saves it there: index_bench.py's
rounds after the first, and --reuse-index. Each search's process CPU time
is reported beside its wall time (cpu/wall near 1.0: one thread did it).
Bytes per item: the index as the library writes it to a file (hnswlib:
vectors, links and labels; faiss: whatever the index holds), divided by the
items.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np


def recall(labels, truth):
    """Mean over queries of |labels ∩ truth| / |truth| (truth's -1 padding left out)."""
    valid = truth >= 0
    hit = np.zeros(truth.shape, dtype=bool)
    for j in range(labels.shape[1]):
        hit |= (labels[:, j:j + 1] == truth) & valid
    want = valid.sum(axis=1)
    keep = want > 0
    return float((hit.sum(axis=1)[keep] / want[keep]).mean())


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


PASS_BUDGET = 5.0  # seconds; as latent_bench_index's kPassBudget


def timed_search(fn, a):
    """fn's answer and the wall and CPU seconds of its fastest pass, of up to
    a.passes passes (fewer once PASS_BUDGET seconds have gone on them): how
    latent_bench_index times latent's searches."""
    out, best_wall, best_cpu = timed(fn)
    spent = best_wall
    for _ in range(a.passes - 1):
        if spent >= PASS_BUDGET:
            break
        _, wall, cpu = timed(fn)
        spent += wall
        if wall < best_wall:
            best_wall, best_cpu = wall, cpu
    return out, best_wall, best_cpu


def kept_index(a, name):
    """Where --index-dir keeps this peer's index (m, ef_construction and, for
    IVF, nlist in the name), or None without --index-dir."""
    if not a.index_dir:
        return None
    return os.path.join(a.index_dir, f"{name}-m{a.m}-efc{a.ef_construction}-nlist{a.nlist}.index")


def file_bytes(write):
    with tempfile.TemporaryDirectory(dir=os.environ.get("INDEX_PEERS_TMP")) as tmp:
        path = os.path.join(tmp, "index")
        write(path)
        return os.path.getsize(path)


def asked(a):
    """How many neighbours to ask a peer for: one more when the query items
    are to be left out of their own answers."""
    return a.k + (a.self_rows is not None)


def without_self(labels, a):
    """labels (item rows, -1 for none) with each query's own row dropped when
    a.self_rows is given, cut to k."""
    if a.self_rows is None:
        return labels
    out = np.full((labels.shape[0], a.k), -1, dtype=labels.dtype)
    for q, (found, me) in enumerate(zip(labels, a.self_rows)):
        kept = found[found != me][:a.k]
        out[q, :len(kept)] = kept
    return out


def row(setting, labels, truth, wall, cpu, n):
    return {"setting": setting, "recall": recall(labels, truth), "seconds": wall,
            "cpu_seconds": cpu, "queries_per_second": n / wall}


def run_hnswlib(items, queries, truth, a):
    import hnswlib
    n, d = items.shape
    index = hnswlib.Index(space="ip", dim=d)
    saved = kept_index(a, "hnswlib")
    if saved and os.path.exists(saved):
        index.load_index(saved, max_elements=n)
        build = None
    else:
        index.init_index(max_elements=n, ef_construction=a.ef_construction, M=a.m,
                         random_seed=42)
        index.set_num_threads(a.build_threads)
        _, build, _ = timed(lambda: index.add_items(items, np.arange(1, n + 1)))
        if saved:
            index.save_index(saved)
    index.set_num_threads(1)
    rows = []
    for ef in a.ef:
        index.set_ef(max(ef, asked(a)))
        (labels, _), wall, cpu = timed_search(lambda: index.knn_query(queries, k=asked(a)), a)
        labels = without_self(labels.astype(np.int64), a)
        rows.append(row(f"ef {ef}", labels, truth, wall, cpu, len(queries)))
        print(f"  hnswlib ef {ef}: recall {rows[-1]['recall']:.4f}, "
              f"{rows[-1]['queries_per_second']:.0f} queries/s", file=sys.stderr)
    size = file_bytes(index.save_index)
    return {"name": f"hnswlib {getattr(hnswlib, '__version__', '')}".strip(),
            "build_seconds": build, "bytes_per_item": size / n, "rows": rows}


def run_faiss_hnsw(items, queries, truth, a):
    import faiss
    n, d = items.shape
    saved = kept_index(a, "faiss-hnsw")
    if saved and os.path.exists(saved):
        index, build = faiss.read_index(saved), None
    else:
        index = faiss.IndexHNSWFlat(d, a.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = a.ef_construction
        faiss.omp_set_num_threads(a.build_threads)
        _, build, _ = timed(lambda: index.add(items))
        if saved:
            faiss.write_index(index, saved)
    faiss.omp_set_num_threads(1)
    rows = []
    for ef in a.ef:
        index.hnsw.efSearch = max(ef, asked(a))
        (_, labels), wall, cpu = timed_search(lambda: index.search(queries, asked(a)), a)
        labels = without_self(np.where(labels >= 0, labels + 1, -1), a)
        rows.append(row(f"ef {ef}", labels, truth, wall, cpu, len(queries)))
        print(f"  faiss HNSW ef {ef}: recall {rows[-1]['recall']:.4f}, "
              f"{rows[-1]['queries_per_second']:.0f} queries/s", file=sys.stderr)
    size = file_bytes(lambda p: faiss.write_index(index, p))
    return {"name": f"faiss {faiss.__version__} HNSWFlat", "build_seconds": build,
            "bytes_per_item": size / n, "rows": rows}


def run_faiss_ivfpq(items, queries, truth, a):
    import faiss
    n, d = items.shape
    nlist = a.nlist or max(16, 1 << int(np.log2(4 * np.sqrt(n))))
    spec = f"IVF{nlist},PQ{d // 2}x4fs,RFlat"
    saved = kept_index(a, "faiss-ivfpq")
    if saved and os.path.exists(saved):
        index, train, add = faiss.read_index(saved), None, None
    else:
        index = faiss.index_factory(d, spec, faiss.METRIC_INNER_PRODUCT)
        faiss.omp_set_num_threads(a.build_threads)
        rng = np.random.default_rng(1)
        sample = items[rng.choice(n, size=min(n, max(64 * nlist, 100_000)), replace=False)]
        _, train, _ = timed(lambda: index.train(sample))
        _, add, _ = timed(lambda: index.add(items))
        if saved:
            faiss.write_index(index, saved)
    faiss.omp_set_num_threads(1)
    ivf = faiss.extract_index_ivf(index)
    rows = []
    for nprobe in a.nprobe:
        for k_factor in a.k_factor:
            ivf.nprobe = nprobe
            index.k_factor = k_factor
            (_, labels), wall, cpu = timed_search(lambda: index.search(queries, asked(a)), a)
            labels = without_self(np.where(labels >= 0, labels + 1, -1), a)
            rows.append(row(f"nprobe {nprobe} k_factor {k_factor}", labels, truth, wall, cpu,
                            len(queries)))
            print(f"  faiss {spec} nprobe {nprobe} k_factor {k_factor}: recall "
                  f"{rows[-1]['recall']:.4f}, {rows[-1]['queries_per_second']:.0f} queries/s",
                  file=sys.stderr)
    size = file_bytes(lambda p: faiss.write_index(index, p))
    return {"name": f"faiss {faiss.__version__} {spec}",
            "build_seconds": None if train is None else train + add,
            "train_seconds": train, "bytes_per_item": size / n, "rows": rows}


def run_faiss_flat(items, queries, truth, a):
    import faiss
    n, d = items.shape
    index = faiss.IndexFlatIP(d)
    index.add(items)
    faiss.omp_set_num_threads(1)
    (_, labels), wall, cpu = timed_search(lambda: index.search(queries, asked(a)), a)
    labels = without_self(np.where(labels >= 0, labels + 1, -1), a)
    return {"name": f"faiss {faiss.__version__} IndexFlatIP (exact)", "build_seconds": 0.0,
            "bytes_per_item": d * 4.0, "rows": [row("exact", labels, truth, wall, cpu,
                                                    len(queries))]}


def ints(text):
    return [int(x) for x in text.split(",") if x]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True, help="latent_bench_index --export's directory")
    p.add_argument("--json", required=True)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--build-threads", type=int, default=2)
    p.add_argument("--ef", type=ints, default=ints("10,20,40,80,160,320"))
    p.add_argument("--passes", type=int, default=5,
                   help="time each search as the fastest of this many passes (fewer once 5 s "
                        "have gone on them)")
    p.add_argument("--nlist", type=int, default=0, help="IVF lists (0: 4 sqrt(n), a power of 2)")
    p.add_argument("--nprobe", type=ints, default=ints("8,16,32,64,128"))
    p.add_argument("--k-factor", type=ints, default=ints("10"),
                   help="IVF-PQ: candidates re-ranked exactly, as a multiple of k")
    p.add_argument("--peers", default="hnswlib,faiss-hnsw,faiss-ivfpq,faiss-flat")
    p.add_argument("--index-dir",
                   help="load each index from this directory when it is there (build seconds "
                        "then null), else build it and save it there")
    a = p.parse_args()
    if a.passes < 1:
        p.error(f"--passes {a.passes}: must be at least 1")

    items = np.ascontiguousarray(np.load(os.path.join(a.dir, "items.npy")), dtype=np.float32)
    queries = np.ascontiguousarray(np.load(os.path.join(a.dir, "queries.npy")), dtype=np.float32)
    truth = np.load(os.path.join(a.dir, "truth.npy")).astype(np.int64)
    a.k = truth.shape[1]
    own = os.path.join(a.dir, "query_rows.npy")
    a.self_rows = np.load(own).astype(np.int64) if os.path.exists(own) else None
    runs = {"hnswlib": run_hnswlib, "faiss-hnsw": run_faiss_hnsw,
            "faiss-ivfpq": run_faiss_ivfpq, "faiss-flat": run_faiss_flat}
    out = {}
    for name in a.peers.split(","):
        print(f"index_peers.py: {name}...", file=sys.stderr)
        out[name] = runs[name](items, queries, truth, a)
        with open(a.json, "w") as f:  # what is done so far survives a later failure
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
