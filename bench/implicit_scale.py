"""The `implicit` library's side of bench/scale_bench.py: the same figures as
build/bench/latent_bench_scale measures, on the same data, with implicit
0.7.3 (from PyPI, in the benchmark's own virtual environment; run by
scale_bench.py, not by hand):

  - ALS (conjugate gradient, 3 steps), 64 factors, 5 iterations: the median
    of the per-iteration times implicit's fit callback reports;
  - BPR, 64 factors, 3 epochs: the median per-epoch time from its callback
    (or the whole fit / epochs where the callback gives none);
  - top-10 for 10,000 random users with their seen items excluded
    (`recommend(users, user_items[users], N=10)` on the ALS model): median of 5;
  - the process's peak RSS (ru_maxrss) after all of it.

Input: latent synth's CSV (user,item with row-number ids). Output: one JSON
object on stdout; implicit's BLAS (via threadpoolctl) is part of it.
"""

import argparse
import json
import resource
import statistics
import time

import numpy as np
import scipy.sparse as sp
import threadpoolctl

import implicit
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--als-iterations", type=int, default=5)
    p.add_argument("--bpr-epochs", type=int, default=3)
    p.add_argument("--queries", type=int, default=10_000)
    p.add_argument("--top-k-runs", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()

    t = time.perf_counter()
    pairs = np.loadtxt(a.data, delimiter=",", skiprows=1, dtype=np.int32)
    users, items = pairs[:, 0], pairs[:, 1]
    del pairs
    # Row and column 0 stay empty, as latent's out-of-vocabulary rows.
    user_items = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)),
                               shape=(int(users.max()) + 1, int(items.max()) + 1))
    del users, items
    load_s = time.perf_counter() - t

    als_times = []
    als = AlternatingLeastSquares(factors=a.dim, iterations=a.als_iterations, use_cg=True,
                                  calculate_training_loss=False, num_threads=a.threads,
                                  random_state=a.seed, dtype=np.float32)
    als.cg_steps = 3  # its default; not a constructor argument in 0.7.3
    als.fit(user_items, show_progress=False,
            callback=lambda iteration, seconds, loss: als_times.append(seconds))

    bpr_times = []
    bpr = BayesianPersonalizedRanking(factors=a.dim, iterations=a.bpr_epochs,
                                      num_threads=a.threads, random_state=a.seed)
    t = time.perf_counter()
    bpr.fit(user_items, show_progress=False,
            callback=lambda epoch, seconds, *rest: bpr_times.append(seconds))
    bpr_total = time.perf_counter() - t
    if len(bpr_times) != a.bpr_epochs:
        bpr_times = [bpr_total / a.bpr_epochs]
    del bpr

    rng = np.random.default_rng(a.seed)
    n_users = user_items.shape[0] - 1
    query = rng.choice(np.arange(1, n_users + 1, dtype=np.int32), size=min(a.queries, n_users),
                       replace=False)
    seen = user_items[query]
    top_times = []
    filled = 0
    for _ in range(a.top_k_runs):
        t = time.perf_counter()
        ids, _scores = als.recommend(query, seen, N=10, filter_already_liked_items=True)
        top_times.append(time.perf_counter() - t)
        filled = int((ids >= 0).sum())

    blas = [{k: v for k, v in lib.items() if k in ("internal_api", "version", "architecture",
                                                    "num_threads", "filepath")}
            for lib in threadpoolctl.threadpool_info()]
    print(json.dumps({
        "implicit": implicit.__version__,
        "numpy": np.__version__,
        "blas": blas,
        "load_seconds": load_s,
        "als_seconds_per_iteration": statistics.median(als_times),
        "bpr_seconds_per_epoch": statistics.median(bpr_times),
        "top10_seconds": statistics.median(top_times),
        "top10_filled": filled,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    main()
