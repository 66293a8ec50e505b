#!/usr/bin/python3
"""PyTorch re-implementation of the TensorFlow Recommenders MovieLens retrieval model.

This is the baseline that ``bench/tutorial_bench.py`` compares latent's two-tower
training against. It mirrors, as closely as PyTorch allows, the model of the TFRS
retrieval tutorials (https://www.tensorflow.org/recommenders/examples/basic_retrieval):

Data (MovieLens 100K, ``--data DIR``)
    ``u.data`` (tab-separated user, item, rating, timestamp) and ``u.item``
    ('|'-separated, Latin-1, id|title|...). Items are keyed by *title*, as TFRS
    does: the item vocabulary is the sorted distinct titles of all 1,682 movies
    of u.item (1,664 titles), and row 0 of the item table is an out-of-vocabulary
    row, so the table has 1,665 rows. The user vocabulary is the sorted distinct
    user ids of the kept rows, again behind an OOV row 0. ``--rating-above T``
    keeps only rows with rating > T (omitted: every row is kept).
    ``--test-fraction F`` splits the kept rows at random (seeded by ``--seed``),
    F of them for testing; the TFRS basic-retrieval tutorial uses 80/20 of all
    100,000 ratings.

Model
    One embedding table per tower, (n_users + 1, dim) and (n_items + 1, dim),
    initialised uniform(-0.05, 0.05) like the Keras "uniform" initialiser.

Loss (tfrs.tasks.Retrieval)
    Per batch of B (user, item) pairs, scores = U[users] @ I[items].T (B x B);
    softmax cross-entropy with the diagonal as labels, *summed* over the batch
    (Keras ``CategoricalCrossentropy(from_logits=True, reduction=SUM)``).

Optimizer
    Adagrad, learning rate ``--learning-rate``, initial accumulator 0.1,
    epsilon 1e-7 (TF's defaults: var -= lr * g / (sqrt(acc) + eps)). The tables
    are dense parameters: PyTorch updates every row, but a row with a zero
    gradient keeps both its accumulator and its value, which is exactly TF's
    sparse (IndexedSlices) Adagrad update.

Batches
    ``--batch-size`` pairs, ``--epochs`` passes, the training pairs reshuffled
    every epoch (seeded); the last partial batch is kept. ``--shuffle once``
    shuffles a single time and reuses that order every epoch, which is what the
    TFRS tutorials' ``train.shuffle(...).batch(...).cache()`` pipeline does, and
    ``--shuffle none`` keeps file order (the TFRS quickstart's
    ``ratings.batch(4096)``). The order matters for the *running* train metric:
    with a fixed order, epoch 3's top-100 comes out about 0.02 lower than with a
    fresh shuffle per epoch (tutorial settings: ~0.34 against ~0.36).

Metrics (tfrs.metrics.FactorizedTopK)
    Top-1/5/10/50/100 categorical accuracy against all 1,664 title rows (the OOV
    row is not a candidate): a (user, true item) pair is a hit at k iff fewer
    than k candidates score *strictly* higher than the true item. The true
    item's score is read from the same score matrix as the candidates' so that
    rounding never ranks an item above itself.
    Train metrics are *running* metrics as Keras reports them: computed in each
    batch's forward pass (with the embeddings before that batch's update) and
    averaged over all pairs of the epoch. Test metrics are computed once, after
    training, over every test pair.

Loss reported per epoch
    ``loss`` is the mean over the epoch's batches of the summed batch loss (the
    running mean that Keras' progress bar shows). ``last_batch_loss`` is the
    loss of the epoch's final (possibly partial) batch, which is what a TFRS
    ``History`` object records, since ``tfrs.Model.train_step`` returns the
    batch loss rather than a running mean.

Timing
    ``train_seconds`` is the wall time (time.perf_counter) of the training loop
    only: no data loading, no model construction, no test evaluation. It includes
    the running train metrics unless ``--no-train-metrics`` is given (Keras
    computes them, so they are on by default). ``--threads N`` calls
    ``torch.set_num_threads(N)``. With glibc's default malloc settings every
    B x B score matrix is mmapped, page-faulted and unmapped on each use, which
    about doubles the time here; ``tutorial_bench.py`` therefore runs this
    script with MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296
    (set them the same way to reproduce its figures standalone).

Output
    One JSON object on stdout::

        {"train_seconds": float,
         "epochs": [{"epoch": 1, "loss": float, "last_batch_loss": float,
                     "seconds": float, "train": {"top_1": ..., "top_100": ...} | null},
                    ...],
         "test": {"top_1": ..., ..., "top_100": ...} | null,
         "pairs": <number of training pairs>,
         "config": {...the settings used...}}

Example (the TFRS retrieval tutorial's settings)::

    /usr/bin/python3 bench/torch_two_tower.py --data ../shared/data/ml-100k \\
        --rating-above 3 --dim 64 --learning-rate 0.5 --batch-size 4096 \\
        --epochs 3 --seed 1 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

TOP_KS = (1, 5, 10, 50, 100)


def load_movielens_100k(data_dir: str, rating_above: float | None):
    """Return (user_rows, item_rows, n_users, n_items) for the kept ratings.

    Rows are int64 arrays of embedding-table row indices; row 0 is OOV in both
    tables, so vocabulary entry i lives in row i + 1.
    """
    item_path = os.path.join(data_dir, "u.item")
    data_path = os.path.join(data_dir, "u.data")
    for path in (item_path, data_path):
        if not os.path.isfile(path):
            raise SystemExit(f"torch_two_tower: missing MovieLens 100K file {path}")

    # u.item: id|title|release date|... in Latin-1. Several ids share a title.
    title_of_id: dict[int, str] = {}
    with open(item_path, encoding="latin-1") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("|")
            title_of_id[int(fields[0])] = fields[1]
    titles = sorted(set(title_of_id.values()))
    title_row = {t: i + 1 for i, t in enumerate(titles)}
    max_id = max(title_of_id)
    item_row_of_id = np.zeros(max_id + 1, dtype=np.int64)
    for movie_id, title in title_of_id.items():
        item_row_of_id[movie_id] = title_row[title]

    ratings = np.loadtxt(data_path, dtype=np.int64, delimiter="\t", ndmin=2)
    users, items, stars = ratings[:, 0], ratings[:, 1], ratings[:, 2]
    if rating_above is not None:
        keep = stars > rating_above
        users, items = users[keep], items[keep]
    if users.size == 0:
        raise SystemExit("torch_two_tower: no ratings left after filtering")
    if items.max() > max_id or (item_row_of_id[items] == 0).any():
        raise SystemExit("torch_two_tower: u.data refers to a movie id missing from u.item")

    user_ids, user_index = np.unique(users, return_inverse=True)  # sorted distinct ids
    user_rows = user_index.astype(np.int64) + 1
    item_rows = item_row_of_id[items]
    return user_rows, item_rows, len(user_ids), len(titles)


class TopKCounter:
    """Accumulates FactorizedTopK hits over (query embedding, true item row) pairs."""

    def __init__(self) -> None:
        self.ks = torch.tensor(TOP_KS, dtype=torch.int64)
        self.hits = torch.zeros(len(TOP_KS), dtype=torch.int64)
        self.pairs = 0

    @torch.no_grad()
    def update(self, query: torch.Tensor, item_rows: torch.Tensor, item_table: torch.Tensor) -> None:
        candidates = item_table[1:]                    # exclude the OOV row
        scores = query @ candidates.T                  # (B, n_items)
        true = scores.gather(1, (item_rows - 1).unsqueeze(1))
        greater = (scores > true).sum(dim=1)           # candidates strictly above the truth
        self.hits += (greater.unsqueeze(1) < self.ks.unsqueeze(0)).sum(dim=0)
        self.pairs += int(query.shape[0])

    def result(self) -> dict[str, float]:
        return {f"top_{k}": (int(h) / self.pairs if self.pairs else 0.0)
                for k, h in zip(TOP_KS, self.hits.tolist())}


def evaluate(user_table, item_table, user_rows, item_rows, chunk: int = 8192) -> dict[str, float]:
    counter = TopKCounter()
    with torch.no_grad():
        for start in range(0, user_rows.shape[0], chunk):
            u = user_rows[start:start + chunk]
            counter.update(user_table[u], item_rows[start:start + chunk], item_table)
    return counter.result()


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="PyTorch re-implementation of the TFRS MovieLens retrieval model "
                    "(two embedding towers, in-batch softmax, Adagrad).")
    p.add_argument("--data", required=True, help="MovieLens 100K directory (u.data, u.item)")
    p.add_argument("--rating-above", type=float, default=None,
                   help="keep only ratings strictly above this value (default: keep all)")
    p.add_argument("--test-fraction", type=float, default=0.0,
                   help="fraction of the kept rows held out for testing (default 0: no test set)")
    p.add_argument("--dim", type=int, default=64, help="embedding dimension (default 64)")
    p.add_argument("--learning-rate", type=float, default=0.5, help="Adagrad learning rate (default 0.5)")
    p.add_argument("--batch-size", type=int, default=4096, help="pairs per batch (default 4096)")
    p.add_argument("--epochs", type=int, default=3, help="passes over the training pairs (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed for initialisation, split and shuffling")
    p.add_argument("--shuffle", choices=("epoch", "once", "none"), default="epoch",
                   help="reshuffle every epoch (default), shuffle once and keep that order "
                        "(TFRS .shuffle().batch().cache()), or keep file order")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads(N)")
    p.add_argument("--train-metrics", dest="train_metrics", action="store_true", default=True,
                   help="compute running train top-k metrics inside the timed loop (default)")
    p.add_argument("--no-train-metrics", dest="train_metrics", action="store_false",
                   help="skip the running train metrics")
    args = p.parse_args(argv)
    if not 0.0 <= args.test_fraction < 1.0:
        p.error("--test-fraction must be in [0, 1)")
    for name in ("dim", "batch_size", "epochs"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if args.learning_rate <= 0:
        p.error("--learning-rate must be positive")
    if args.threads is not None and args.threads <= 0:
        p.error("--threads must be positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    # ---- data (not timed) -------------------------------------------------
    user_rows, item_rows, n_users, n_items = load_movielens_100k(args.data, args.rating_above)
    n = user_rows.shape[0]
    n_test = int(round(args.test_fraction * n))
    if n_test > 0:
        order = np.random.default_rng(args.seed).permutation(n)
        test_idx, train_idx = order[:n_test], order[n_test:]
    else:
        test_idx, train_idx = np.empty(0, dtype=np.int64), np.arange(n)
    train_users = torch.from_numpy(user_rows[train_idx].copy())
    train_items = torch.from_numpy(item_rows[train_idx].copy())
    test_users = torch.from_numpy(user_rows[test_idx].copy())
    test_items = torch.from_numpy(item_rows[test_idx].copy())
    n_train = train_users.shape[0]
    if n_train == 0:
        raise SystemExit("torch_two_tower: no training pairs")

    # ---- model: Keras Embedding(..., embeddings_initializer="uniform") ------
    user_table = torch.nn.Parameter(torch.empty(n_users + 1, args.dim).uniform_(-0.05, 0.05))
    item_table = torch.nn.Parameter(torch.empty(n_items + 1, args.dim).uniform_(-0.05, 0.05))
    optimizer = torch.optim.Adagrad([user_table, item_table], lr=args.learning_rate,
                                    lr_decay=0.0, weight_decay=0.0,
                                    initial_accumulator_value=0.1, eps=1e-7)
    shuffle_gen = torch.Generator().manual_seed(args.seed)
    bs = args.batch_size
    labels_full = torch.arange(bs)

    # ---- training loop (timed) --------------------------------------------
    epochs = []
    perm = torch.arange(n_train) if args.shuffle == "none" else None
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        t_epoch = time.perf_counter()
        if args.shuffle == "epoch" or perm is None:
            perm = torch.randperm(n_train, generator=shuffle_gen)
        counter = TopKCounter() if args.train_metrics else None
        loss_total, batches, last_loss = 0.0, 0, 0.0
        for start in range(0, n_train, bs):
            idx = perm[start:start + bs]
            b_users, b_items = train_users[idx], train_items[idx]
            query = F.embedding(b_users, user_table)
            cand = F.embedding(b_items, item_table)
            scores = query @ cand.T
            b = scores.shape[0]
            labels = labels_full if b == bs else torch.arange(b)
            loss = F.cross_entropy(scores, labels, reduction="sum")
            if counter is not None:
                # Keras computes the metrics from this forward pass, before the update.
                counter.update(query.detach(), b_items, item_table.detach())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            last_loss = float(loss.item())
            loss_total += last_loss
            batches += 1
        epochs.append({
            "epoch": epoch,
            "loss": loss_total / batches,
            "last_batch_loss": last_loss,
            "seconds": time.perf_counter() - t_epoch,
            "train": counter.result() if counter is not None else None,
        })
    train_seconds = time.perf_counter() - t0

    # ---- test evaluation (not timed) --------------------------------------
    test = None
    if test_users.shape[0] > 0:
        test = evaluate(user_table.detach(), item_table.detach(), test_users, test_items)

    result = {
        "train_seconds": train_seconds,
        "epochs": epochs,
        "test": test,
        "pairs": int(n_train),
        "config": {
            "data": os.path.abspath(args.data),
            "rating_above": args.rating_above,
            "test_fraction": args.test_fraction,
            "test_pairs": int(test_users.shape[0]),
            "users": int(n_users),
            "items": int(n_items),
            "dim": args.dim,
            "learning_rate": args.learning_rate,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "seed": args.seed,
            "shuffle": args.shuffle,
            "threads": torch.get_num_threads(),
            "train_metrics": args.train_metrics,
            "torch": torch.__version__,
        },
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
