"""The peers' side of bench/all_users_bench.py, run in its virtual environment
(numpy and implicit from PyPI): on the vectors and seen pairs of the model
latent ranked,

  sgemm    the plain product users x items^T that top-K needs, with numpy's
           OpenBLAS on --threads threads, 8,192 users at a time into one
           reused buffer (the whole 138,000 x 26,000 matrix is 14 GB): the
           best of 2 passes, the first touching the buffer;
  implicit implicit 0.7.3's recommend for every user at once (N=10, seen
           items filtered), its factors set to latent's.

Prints one JSON object.
"""

import argparse
import json
import time

import numpy as np
import scipy.sparse as sp
import threadpoolctl

import implicit
from implicit.cpu.als import AlternatingLeastSquares


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vectors", required=True, help="npz with users, items, user_ids, item_ids")
    p.add_argument("--data", required=True, help="the CSV the model was trained on")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--k", type=int, default=10)
    a = p.parse_args()
    z = np.load(a.vectors)
    users, items = z["users"], z["items"]

    chunk = 8192
    out = np.empty((chunk, items.shape[0]), dtype=np.float32)
    items_t = items.T
    passes = []
    with threadpoolctl.threadpool_limits(a.threads, user_api="blas"):
        for _ in range(2):
            t = time.perf_counter()
            for s in range(0, users.shape[0], chunk):
                block = users[s:s + chunk]
                np.matmul(block, items_t, out=out[:len(block)])
            passes.append(time.perf_counter() - t)
    del out

    # Seen pairs as the model's rows: ids in the CSV are the vocabularies' strings.
    pairs = np.loadtxt(a.data, delimiter=",", skiprows=1, dtype=np.int64)
    user_row = np.full(int(pairs[:, 0].max()) + 1, -1, dtype=np.int64)
    item_row = np.full(int(pairs[:, 1].max()) + 1, -1, dtype=np.int64)
    for table, ids in ((user_row, z["user_ids"]), (item_row, z["item_ids"])):
        known = np.array([i.isdigit() and int(i) < len(table) for i in ids])
        table[np.array([int(i) for i in ids[known]])] = np.nonzero(known)[0]
    rows, cols = user_row[pairs[:, 0]], item_row[pairs[:, 1]]
    del pairs
    seen = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                         shape=(users.shape[0], items.shape[0]))
    model = AlternatingLeastSquares(factors=users.shape[1], num_threads=a.threads)
    model.user_factors, model.item_factors = users, items
    query = np.arange(1, users.shape[0], dtype=np.int32)  # every known user (row 0: OOV)
    t = time.perf_counter()
    ids, _ = model.recommend(query, seen[query], N=a.k, filter_already_liked_items=True)
    implicit_s = time.perf_counter() - t
    blas = [{k: v for k, v in lib.items() if k in ("internal_api", "version", "architecture")}
            for lib in threadpoolctl.threadpool_info() if lib.get("internal_api") == "openblas"]
    print(json.dumps({"sgemm_seconds": min(passes), "sgemm_passes": passes,
                      "implicit_seconds": implicit_s, "implicit": implicit.__version__,
                      "implicit_filled": int((ids >= 0).sum()), "blas": blas}))


if __name__ == "__main__":
    main()
