"""The peers' side of bench/gowalla_bench.py, run in build/peers-venv (implicit
0.7.3, numpy, scipy, threadpoolctl from PyPI): implicit's ALS or BPR on the
NGCF / LightGCN Gowalla split, scored by the papers' protocol in numpy.

  data      DIR/train.txt.gz and DIR/test.txt.gz, one line per user
            ("user item item ...", 0-based ids); the CSR of train.txt is the
            users x items matrix implicit trains on (ones, float32).
  model     implicit.cpu.als.AlternatingLeastSquares or
            implicit.cpu.bpr.BayesianPersonalizedRanking with implicit's
            defaults (random_state --seed, --threads training threads, its
            BLAS limited to 1 thread through threadpoolctl, as implicit asks);
            with --tune, --trials points of a small grid (GRIDS below; a
            seeded sample when the grid is bigger) are each trained on 80% of
            every user's train.txt items and scored on the other 20% (seeded,
            per user: round(0.2 n) items, at most n - 1), the best by
            Recall@20 on that validation part is retrained on all of
            train.txt. test.txt takes no part in the choice.
  metrics   for every user of test.txt: the user's factors times every item's
            (implicit's BPR keeps its item bias as the last item column, and a
            1 in the users'), the user's train.txt items set to -inf, the top
            20 by score; Recall@20 = hits / |test items|; NDCG@20 with binary
            relevance, IDCG over min(20, |test items|); means over the users.

    build/peers-venv/bin/python bench/gowalla_peers.py --data DIR --model als
        [--tune --trials 12] [--seed 42] [--threads 0] [--json out.json]

Prints one JSON object (also written to --json): recall, ndcg, train_seconds
(the final fit), the parameters, and with --tune every trial's validation
Recall@20 and the search's seconds.
"""

import argparse
import gzip
import itertools
import json
import os
import pathlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import threadpoolctl

import implicit
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking

K = 20
# implicit 0.7.3's defaults, written out so the JSON says what ran.
DEFAULTS = {
    "als": {"factors": 100, "regularization": 0.01, "alpha": 1.0, "iterations": 15},
    "bpr": {"factors": 100, "learning_rate": 0.01, "regularization": 0.01, "iterations": 100},
}
# The --tune grids: factors, regularization, and alpha (ALS) or the learning
# rate (BPR); the iterations stay at implicit's defaults.
GRIDS = {
    "als": {"factors": [64, 128, 256], "regularization": [0.01, 0.1, 1.0, 10.0],
            "alpha": [1.0, 5.0, 10.0, 20.0]},
    "bpr": {"factors": [64, 128, 256], "regularization": [0.0001, 0.001, 0.01],
            "learning_rate": [0.01, 0.05, 0.1]},
}


def read_user_lines(path: pathlib.Path) -> dict[int, np.ndarray]:
    """{user: its distinct items} of one `user item item ...` file."""
    users = {}
    with gzip.open(path, "rt") if path.suffix == ".gz" else open(path) as f:
        for line in f:
            ids = line.split()
            if len(ids) > 1:
                users[int(ids[0])] = np.unique(np.array(ids[1:], dtype=np.int64))
    return users


def to_csr(rows: dict[int, np.ndarray], n_users: int, n_items: int) -> sp.csr_matrix:
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    for u, items in rows.items():
        indptr[u + 1] = len(items)
    indptr = np.cumsum(indptr)
    indices = np.empty(indptr[-1], dtype=np.int32)
    for u, items in rows.items():
        indices[indptr[u]:indptr[u + 1]] = items
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(n_users, n_items))


def validation_split(train: sp.csr_matrix, seed: int, fraction: float = 0.2):
    """(fit, validation): per user, a seeded round(fraction * n) of the user's
    items (at most n - 1; users with one item keep it) moved to validation."""
    rng = np.random.default_rng(seed)
    fit_rows, val_rows = {}, {}
    for u in range(train.shape[0]):
        items = train.indices[train.indptr[u]:train.indptr[u + 1]]
        n = len(items)
        if n == 0:
            continue
        n_val = min(int(np.floor(fraction * n + 0.5)), n - 1)
        order = rng.permutation(n)
        fit_rows[u] = np.sort(items[order[n_val:]])
        if n_val:
            val_rows[u] = np.sort(items[order[:n_val]])
    return (to_csr(fit_rows, *train.shape), to_csr(val_rows, *train.shape))


def score(user_factors: np.ndarray, item_factors: np.ndarray, exclude: sp.csr_matrix,
          truth: sp.csr_matrix, threads: int, chunk: int = 1024) -> tuple[float, float, int]:
    """(Recall@K, NDCG@K, users): mean over the users with a truth item, ranking
    every item but the user's `exclude` items; blocks of `chunk` users on
    `threads` threads (numpy's product and partition release the GIL)."""
    users = np.nonzero(np.diff(truth.indptr))[0]
    discount = 1.0 / np.log2(np.arange(2, K + 2))
    ideal = np.cumsum(discount)
    items_t = np.ascontiguousarray(item_factors.T)

    def block_sums(block: np.ndarray) -> tuple[float, float]:
        scores = user_factors[block] @ items_t
        ex = exclude[block]
        scores[np.repeat(np.arange(len(block)), np.diff(ex.indptr)), ex.indices] = -np.inf
        # The K largest by score, ties by the smaller item id: every item at or
        # above the row's K-th largest score (np.partition of the values is ~3x
        # faster than np.argpartition here), sorted by row, score down, id up.
        kth = np.partition(scores, scores.shape[1] - K, axis=1)[:, scores.shape[1] - K]
        rows, cols = np.nonzero(scores >= kth[:, None])
        order = np.lexsort((cols, -scores[rows, cols], rows))
        starts = np.searchsorted(rows[order], np.arange(len(block)))
        top = cols[order][starts[:, None] + np.arange(K)]
        t = truth[block]
        n_truth = np.diff(t.indptr)
        relevant = np.zeros(scores.shape, dtype=bool)
        relevant[np.repeat(np.arange(len(block)), n_truth), t.indices] = True
        hits = np.take_along_axis(relevant, top, axis=1)
        return (float((hits.sum(axis=1) / n_truth).sum()),
                float(((hits * discount).sum(axis=1) / ideal[np.minimum(n_truth, K) - 1]).sum()))

    blocks = [users[s:s + chunk] for s in range(0, len(users), chunk)]
    with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
        sums = list(pool.map(block_sums, blocks))
    return (sum(r for r, _ in sums) / len(users), sum(n for _, n in sums) / len(users),
            len(users))


def train(model: str, params: dict, matrix: sp.csr_matrix, seed: int, threads: int):
    """(user factors, item factors, seconds) of one implicit fit."""
    cls = AlternatingLeastSquares if model == "als" else BayesianPersonalizedRanking
    m = cls(**params, random_state=seed, num_threads=threads)
    start = time.perf_counter()
    m.fit(matrix, show_progress=False)
    seconds = time.perf_counter() - start
    return np.asarray(m.user_factors), np.asarray(m.item_factors), seconds


def grid_points(model: str, trials: int, seed: int) -> tuple[list[dict], int]:
    grid = GRIDS[model]
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    if trials < len(points):
        pick = np.random.default_rng(seed).choice(len(points), trials, replace=False)
        points_used = [points[i] for i in sorted(pick)]
    else:
        points_used = points
    return points_used, len(points)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="directory of train.txt.gz and test.txt.gz")
    p.add_argument("--model", choices=["als", "bpr"], required=True)
    p.add_argument("--tune", action="store_true", help="search GRIDS[model] on a validation split")
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=0, help="implicit's threads (0: all cores)")
    p.add_argument("--json", help="also write the result to this file")
    a = p.parse_args()
    data = pathlib.Path(a.data)

    train_rows = read_user_lines(data / "train.txt.gz")
    test_rows = read_user_lines(data / "test.txt.gz")
    n_users = max(max(train_rows), max(test_rows)) + 1
    n_items = int(max(max(v.max() for v in train_rows.values()),
                      max(v.max() for v in test_rows.values()))) + 1
    train_m = to_csr(train_rows, n_users, n_items)
    test_m = to_csr(test_rows, n_users, n_items)

    result = {"model": a.model, "implicit": implicit.__version__, "seed": a.seed,
              "users": n_users, "items": n_items, "train_pairs": int(train_m.nnz),
              "test_pairs": int(test_m.nnz)}
    params = dict(DEFAULTS[a.model])
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        if a.tune:
            start = time.perf_counter()
            fit_m, val_m = validation_split(train_m, a.seed)
            points, grid_size = grid_points(a.model, a.trials, a.seed)
            trials = []
            for i, point in enumerate(points):
                trial_params = dict(params, **point)
                u, v, seconds = train(a.model, trial_params, fit_m, a.seed, a.threads)
                recall, ndcg, _ = score(u, v, fit_m, val_m, a.threads)
                trials.append({"params": point, "validation_recall": recall,
                               "validation_ndcg": ndcg, "train_seconds": seconds})
                print(f"{a.model} trial {i + 1}/{len(points)} {point}: validation "
                      f"Recall@{K} {recall:.4f} ({seconds:.1f} s)", file=sys.stderr, flush=True)
            best = max(trials, key=lambda t: t["validation_recall"])
            params.update(best["params"])
            result.update(grid=GRIDS[a.model], grid_size=grid_size, trials=trials,
                          chosen=best["params"], validation_recall=best["validation_recall"],
                          validation_pairs=int(val_m.nnz), fit_pairs=int(fit_m.nnz))
        u, v, seconds = train(a.model, params, train_m, a.seed, a.threads)
        recall, ndcg, users = score(u, v, train_m, test_m, a.threads)
        if a.tune:
            result["search_seconds"] = time.perf_counter() - start
        blas = [{k: lib.get(k) for k in ("internal_api", "version", "num_threads")}
                for lib in threadpoolctl.threadpool_info() if lib.get("user_api") == "blas"]
    result.update(params=params, recall=recall, ndcg=ndcg, test_users=users,
                  train_seconds=seconds, blas=blas)
    text = json.dumps(result)
    if a.json:
        pathlib.Path(a.json).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
