"""What an HNSW graph costs to search, apart from how fast a search runs:
the items scored per query at each ef, and the recall@10 they buy.

Queries/s on this shared machine move by a third from minute to minute;
the items a search scores do not. So graphs are compared here under one
search, faiss's (its `hnsw_stats.ndis` counts the bottom level's scored
items), each graph loaded into a faiss `IndexHNSWFlat` over the same
vectors: latent's index files as they are, and graphs faiss builds itself
with and without its `prune_headroom`.

    build/peers-venv/bin/python bench/graph_cost.py EXPORT \
        [--latent-index FILE ...] [--faiss-index FILE ...] [--faiss-headroom 0.2,0]
        [--queries 3000] [--ef 10,16,32]

EXPORT is what `latent_bench_index --export` writes (bench/index_bench.py
keeps it in build/bench-data: items.npy, queries.npy, truth.npy). Runs in
build/peers-venv (faiss-cpu from PyPI, as index_bench.py installs it).
Not a test.
"""

import argparse
import os
import struct
import time

import numpy as np

from index_peers import recall  # the peers' recall@k, padding left out


def read_latent_index(path):
    """latent's HnswIndex file (src/hnsw_index.cpp's FileHeader, then the
    levels, the level-0 lists and the upper lists, all int32)."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:8] != b"LATENTIX":
        raise SystemExit(f"{path}: not a latent index file")
    rows, _dim = struct.unpack_from("<QQ", b, 24)
    (m,) = struct.unpack_from("<I", b, 48)
    entry, max_level, l0_size, upper_size = struct.unpack_from("<iiQQ", b, 72)
    at = 96
    levels = np.frombuffer(b, np.int32, rows, at)
    at += 4 * rows
    level0 = np.frombuffer(b, np.int32, l0_size, at).reshape(rows, 2 * m + 1)
    at += 4 * l0_size
    upper = np.frombuffer(b, np.int32, upper_size, at)
    return m, entry, max_level, levels, level0, upper


def faiss_from_latent(faiss, items, path):
    """The graph of a latent index file as a faiss IndexHNSWFlat over
    `items` (latent row r is faiss row r - 1)."""
    m, entry, max_level, levels, level0, upper = read_latent_index(path)
    n = items.shape[0]
    if levels.shape[0] != n + 1:
        raise SystemExit(f"{path}: {levels.shape[0] - 1} items, the export has {n}")
    index = faiss.IndexHNSWFlat(items.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    h = index.hnsw
    cum = faiss.vector_to_array(h.cum_nneighbor_per_level)
    lv = levels[1:].astype(np.int32)
    offsets = np.zeros(n + 1, np.uint64)
    offsets[1:] = np.cumsum(cum[lv + 1])
    neighbors = np.full(int(offsets[-1]), -1, np.int32)
    start = offsets[:-1].astype(np.int64)
    count = level0[1:, 0]
    filled = np.arange(2 * m)[None, :] < count[:, None]
    slots = start[:, None] + np.arange(2 * m)[None, :]
    neighbors[slots[filled]] = level0[1:, 1:][filled] - 1
    at = 0
    for r in np.nonzero(levels > 0)[0]:
        for level in range(1, levels[r] + 1):
            part = upper[at:at + m + 1]
            at += m + 1
            s = int(start[r - 1]) + int(cum[level])
            neighbors[s:s + part[0]] = part[1:1 + part[0]] - 1
    index.storage.add(items)
    index.ntotal = n
    faiss.copy_array_to_vector(lv + 1, h.levels)
    faiss.copy_array_to_vector(offsets, h.offsets)
    faiss.copy_array_to_vector(neighbors, h.neighbors)
    h.entry_point = int(entry - 1)
    h.max_level = int(max_level)
    return index


def bottom_level(faiss, index):
    """Mean bottom-level links per item, and the items no bottom-level list
    links to (no search reaches them but through an upper level)."""
    h = index.hnsw
    nb = faiss.vector_to_array(h.neighbors)
    off = faiss.vector_to_array(h.offsets).astype(np.int64)
    width = int(faiss.vector_to_array(h.cum_nneighbor_per_level)[1])
    lists = nb[off[:-1, None] + np.arange(width)[None, :]]
    linked = np.zeros(index.ntotal, bool)
    linked[lists[lists >= 0]] = True
    return float((lists >= 0).sum(1).mean()), int((~linked).sum())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("export")
    p.add_argument("--latent-index", action="append", default=[])
    p.add_argument("--faiss-index", action="append", default=[], help="a faiss HNSW index file")
    p.add_argument("--faiss-headroom", default="", help="faiss builds, one per prune_headroom")
    p.add_argument("--build-threads", type=int, default=2)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--queries", type=int, default=3000)
    p.add_argument("--ef", default="10,16,32")
    a = p.parse_args()
    import faiss

    items = np.ascontiguousarray(np.load(os.path.join(a.export, "items.npy")), np.float32)
    queries = np.ascontiguousarray(np.load(os.path.join(a.export, "queries.npy"))[:a.queries],
                                   np.float32)
    truth = np.load(os.path.join(a.export, "truth.npy"))[:a.queries]
    graphs = [(os.path.basename(f), lambda f=f: (faiss_from_latent(faiss, items, f), None))
              for f in a.latent_index]
    graphs += [(os.path.basename(f), lambda f=f: (faiss.read_index(f), None)) for f in a.faiss_index]
    for headroom in [float(x) for x in a.faiss_headroom.split(",") if x]:
        def build(headroom=headroom):
            index = faiss.IndexHNSWFlat(items.shape[1], a.m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = a.ef_construction
            index.hnsw.prune_headroom = headroom
            faiss.omp_set_num_threads(a.build_threads)
            t = time.perf_counter()
            index.add(items)
            return index, time.perf_counter() - t
        graphs.append((f"faiss {faiss.__version__} prune_headroom {headroom}", build))

    print(f"{items.shape[0]:,} items, {len(queries):,} queries, top 10; faiss's search on each graph")
    print(f"{'graph':48} {'ef':>4} {'recall@10':>10} {'scored/query':>13} "
          f"{'links/item':>11} {'unlinked':>9}")
    for name, make in graphs:
        index, seconds = make()
        if seconds is not None:
            threads = f"{a.build_threads} thread" + ("s" if a.build_threads != 1 else "")
            print(f"{name}: built in {seconds:.1f} s on {threads}", flush=True)
        links, unlinked = bottom_level(faiss, index)
        faiss.omp_set_num_threads(1)
        for ef in [int(x) for x in a.ef.split(",")]:
            index.hnsw.efSearch = ef
            faiss.cvar.hnsw_stats.reset()
            _, labels = index.search(queries, 10)
            scored = faiss.cvar.hnsw_stats.ndis / len(queries)
            print(f"{name:48} {ef:>4} {recall(labels + 1, truth):>10.4f} {scored:>13.0f} "
                  f"{links:>11.2f} {unlinked:>9,}", flush=True)


if __name__ == "__main__":
    main()
