#!/usr/bin/python3
"""What the ratings that issue 3's quality protocol drops are worth.

The protocol (bench/quality_bench.py) keeps ratings > 3 as positives, holds
out a seeded per-user 20% of them as test, and ranks every item except the
user's training positives. The 43,898 ratings <= 3 of those users take no
part: a movie the user watched and rated 2 can be recommended, and counts as
a miss. This bench measures, on the very same split, how much of the quality
gap is information rather than model, with one fixed model (EASE, computed in
numpy, lambda chosen on validation):

    protocol       training positives only, as every row of quality_bench
    exclude rated  the same model; the user's ratings <= 3 are also left out
                   of the ranking (what "drop movies the user already saw"
                   means in the tutorial)
    weak positives the ratings <= 3 also train the model, as rows of weight w
                   in the user x item matrix, and are left out of the ranking

Every choice (lambda, w) is made on a per-user 20% validation split of the
training part (seed + 1, as `latent tune` does); the test part is scored once
per row. NDCG@10 is latent's definition (binary relevance, ideal DCG over
min(10, |test items|)), over users with a test item; its standard error is
that of the mean over those users (how far a split's luck can move a figure).

Usage:  /usr/bin/python3 bench/rated_below_bench.py [--data ../shared/data/ml-100k]
Needs the build's Python module (build/python) for the split, numpy, pandas.
Run time: about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "build" / "python"))
import latent  # noqa: E402

K = 10
LAMBDAS = [100, 200, 300, 500, 800]
WEIGHTS = [0.25, 0.5, 0.75, 1.0]


def matrix(frame: pd.DataFrame, users: dict, items: dict) -> np.ndarray:
    m = np.zeros((len(users), len(items)))
    m[frame.user.map(users).to_numpy(), frame.item.map(items).to_numpy()] = 1.0
    return m


def ease_scores(x: np.ndarray, lam: float) -> np.ndarray:
    gram = x.T @ x
    gram[np.diag_indices_from(gram)] += lam
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)
    b[np.diag_indices_from(b)] = 0.0
    return x @ b


def user_ndcg(scores: np.ndarray, excluded: np.ndarray, test: np.ndarray) -> np.ndarray:
    """NDCG@K of every user with a test item."""
    rows = np.flatnonzero(test.sum(1) > 0)
    s = np.where(excluded[rows] > 0, -np.inf, scores[rows])
    top = np.argsort(-s, axis=1, kind="stable")[:, :K]
    discount = 1.0 / np.log2(np.arange(2, K + 2))
    dcg = (np.take_along_axis(test[rows], top, 1) * discount).sum(1)
    ideal = np.cumsum(discount)[np.minimum(test[rows].sum(1), K).astype(int) - 1]
    return dcg / ideal


def ndcg(scores: np.ndarray, excluded: np.ndarray, test: np.ndarray) -> float:
    return float(user_ndcg(scores, excluded, test).mean())


class Part:
    """One train/test pair as dense matrices over the whole vocabulary."""

    def __init__(self, train, test, below, users, items):
        self.train = matrix(train, users, items)
        self.test = matrix(test, users, items)
        known = below[below.user.isin(users.keys()) & below.item.isin(items.keys())]
        self.below = matrix(known, users, items)
        self.below *= 1.0 - self.train  # a pair rated both ways counts as a positive

    def users(self, lam: float, weight: float, exclude_below: bool) -> np.ndarray:
        x = self.train + weight * self.below
        excluded = self.train + (self.below if exclude_below else 0.0)
        return user_ndcg(ease_scores(x, lam), excluded, self.test)

    def score(self, lam: float, weight: float, exclude_below: bool) -> float:
        return float(self.users(lam, weight, exclude_below).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(REPO_ROOT.parent / "shared" / "data" / "ml-100k"))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    data = latent.load_dataset(args.data, rating_above=3)
    outer = data.split("per-user", 0.2, seed=args.seed)
    inner = latent.Dataset.from_dataframe(outer.train).split("per-user", 0.2, seed=args.seed + 1)
    ratings = pd.read_csv(Path(args.data) / "u.data", sep="\t",
                          names=["user", "item", "rating", "timestamp"])
    below = ratings[ratings.rating <= 3]

    frame = data.to_frame()
    users = {u: i for i, u in enumerate(np.unique(frame.user))}
    items = {v: i for i, v in enumerate(np.unique(frame.item))}
    validation = Part(inner.train, inner.test, below, users, items)
    test = Part(outer.train, outer.test, below, users, items)
    print(f"split: {len(outer.train)} train / {len(outer.test)} test positives, "
          f"{int(test.below.sum())} ratings <= 3 of the same users and items; validation: "
          f"{len(inner.train)} / {len(inner.test)}; {int((test.test.sum(1) > 0).sum())} test users")

    rows = [("protocol", [0.0], False), ("exclude rated", [0.0], True),
            ("weak positives", WEIGHTS, True)]
    print(f"| EASE (numpy) | chosen on validation | validation NDCG@{K} | test NDCG@{K} "
          "| its standard error |")
    print("|---|---|---|---|---|")
    for label, weights, exclude in rows:
        trials = [(validation.score(lam, w, exclude), lam, w) for w in weights for lam in LAMBDAS]
        best, lam, w = max(trials)
        chosen = f"lambda {lam}" + (f", w {w}" if len(weights) > 1 else "")
        per_user = test.users(lam, w, exclude)
        error = per_user.std(ddof=1) / np.sqrt(len(per_user))
        print(f"| {label} | {chosen} | {best:.4f} | {per_user.mean():.4f} | {error:.4f} |",
              flush=True)


if __name__ == "__main__":
    main()
