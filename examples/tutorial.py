#!/usr/bin/env python3
"""The TensorFlow Recommenders MovieLens retrieval tutorial, step by step, with
latent: ratings read with pandas, a two-tower model trained by the C++
library, results as numpy arrays and pandas DataFrames.

    export PYTHONPATH=build/python
    /usr/bin/python3 examples/tutorial.py              # the bundled MovieLens latest-small
    /usr/bin/python3 examples/tutorial.py --data DIR   # e.g. MovieLens 100K (ml-100k/)

Each step prints what it found and how long it took; the script checks, as it
goes, that the score matrix agrees with recommend(), that no seen movie is
recommended with exclude_seen, and that the saved and loaded model
recommends identically, and exits with status 1 if not.
"""

import argparse
import csv
import pathlib
import sys
import tempfile
import time

import numpy as np
import pandas as pd

import latent

BUNDLED = pathlib.Path(__file__).resolve().parent.parent / "data" / "ml-latest-small"


def read_movielens(directory):
    """(ratings, movies) DataFrames with the tutorial's column names, from a
    MovieLens 100K or MovieLens latest directory."""
    d = pathlib.Path(directory)
    if (d / "u.data").exists():
        ratings = pd.read_csv(d / "u.data", sep="\t",
                              names=["user_id", "movie_id", "rating", "timestamp"])
        # u.item is '|'-separated Latin-1 without quoting.
        movies = pd.read_csv(d / "u.item", sep="|", encoding="latin-1", header=None,
                             usecols=[0, 1], names=["movie_id", "movie_title"],
                             quoting=csv.QUOTE_NONE)
    elif (d / "ratings.csv").exists():
        ratings = pd.read_csv(d / "ratings.csv").rename(
            columns={"userId": "user_id", "movieId": "movie_id"})
        movies = pd.read_csv(d / "movies.csv", usecols=["movieId", "title"]).rename(
            columns={"movieId": "movie_id", "title": "movie_title"})
    else:
        raise SystemExit(f"{d}: neither u.data (MovieLens 100K) nor ratings.csv "
                         "(MovieLens latest); pass a MovieLens directory with --data")
    return ratings, movies


class Steps:
    def __init__(self):
        self.n = 0
        self.t = 0.0

    def begin(self, title):
        self.n += 1
        self.t = time.perf_counter()
        print(f"\n[{self.n}] {title}")

    def end(self):
        print(f"    ({1000 * (time.perf_counter() - self.t):.1f} ms)")


def show(ids, scores):
    for rank, (item, score) in enumerate(zip(ids, scores), 1):
        print(f"    {rank:2}. {item:<60} {score:8.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(BUNDLED),
                        help="MovieLens directory (ml-100k or ml-latest layout); default: bundled")
    parser.add_argument("--user", type=int, default=42, help="user to recommend for")
    parser.add_argument("--threads", type=int, default=0, help="threads (0: all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()
    t0 = time.perf_counter()
    step = Steps()
    failures = []

    step.begin("Load ratings with pandas, join titles, keep rating > 3")
    ratings, movies = read_movielens(args.data)
    positives = ratings[ratings["rating"] > 3]
    print(f"    {len(ratings)} ratings read from {args.data}, {len(positives)} above 3; "
          f"{len(movies)} movies")
    step.end()

    step.begin("Vocabularies (one OOV row each, like Keras StringLookup)")
    # Users from the kept ratings; movies by title from the whole movies table.
    # Given every rating and the filter (not the positives alone), the data set
    # also knows the movies each user rated 3 or less, so exclude_seen drops
    # those as well: they were watched, though they are not trained on.
    data = latent.Dataset.from_dataframe(ratings, user_col="user_id", item_col="movie_id",
                                         items=movies, items_title_col="movie_title",
                                         item_key="title", rating_above=3)
    print(f"    users: {len(data.users)} ids -> {len(data.users) + 1} rows; "
          f"titles: {len(data.items)} ids -> {len(data.items) + 1} rows")
    step.end()

    step.begin("Train the two-tower model (dim 64, in-batch softmax, Adagrad 0.5, "
               "batch 4096, 3 epochs)")
    model = latent.Model("two-tower", dim=64, optimizer="adagrad", learning_rate=0.5,
                         batch_size=4096, epochs=3, negatives="in-batch", threads=args.threads)
    history = model.fit(data, verbose=not args.quiet)
    print(history[["loss", "top_1", "top_10", "top_100"]].to_string(float_format="%.4f"))
    step.end()

    user = args.user
    step.begin(f"Top-10 movies for user {user}")
    ids, scores = model.recommend(user, k=10, threads=args.threads)
    show(ids, scores)
    step.end()

    step.begin(f"Top-10 for user {user} without the movies they already rated")
    unseen_ids, unseen_scores = model.recommend(user, k=10, exclude_seen=True,
                                                threads=args.threads)
    show(unseen_ids, unseen_scores)
    rated = ratings[ratings.user_id == user]
    seen = set(movies.set_index("movie_id").loc[rated.movie_id, "movie_title"])
    overlap = seen & set(unseen_ids)
    print(f"    user {user} rated {len(rated)} movies, {int((rated.rating > 3).sum())} above 3; "
          f"{len(overlap)} of them in this list")
    if overlap:
        failures.append(f"exclude_seen recommended seen movies: {sorted(overlap)}")
    step.end()

    step.begin("Embedding matrices and one movie's embedding")
    user_embeddings, user_ids = model.user_embeddings()
    item_embeddings, item_ids = model.item_embeddings()
    print(f"    user embeddings {user_embeddings.shape[0]} x {user_embeddings.shape[1]}, "
          f"item embeddings {item_embeddings.shape[0]} x {item_embeddings.shape[1]} "
          f"(row 0: {item_ids[0]})")
    movie = ids[0]
    vector = model.item_embedding(movie)
    print(f"    \"{movie}\": [{', '.join(f'{v:.4f}' for v in vector[:6])}, ...] "
          f"({len(vector)} values)")
    step.end()

    step.begin("Similar movies: top-5 for that movie, and all pairs with cosine > 0.8")
    show(*model.similar_items(movie, k=5, threads=args.threads))
    pairs = model.similar_pairs(0.8, threads=args.threads)
    print(f"    {len(pairs)} pairs with cosine > 0.8")
    if len(pairs):
        print(pairs.head(5).to_string(index=False, float_format="%.4f"))
    step.end()

    step.begin("Full user x item score matrix; its row for the user gives the same top-10")
    matrix = model.scores(threads=args.threads)
    row = matrix[user_ids.index(user)].copy()
    row[0] = -np.inf  # column 0 is the OOV movie
    top = np.argsort(-row, kind="stable")[:10]
    same = [item_ids[c] for c in top] == list(ids)
    print(f"    scores {matrix.shape[0]} x {matrix.shape[1]}; top-10 from the matrix "
          f"{'equals' if same else 'DIFFERS FROM'} recommend()")
    if not same:
        failures.append("the score matrix's top-10 differs from recommend()")
    step.end()

    step.begin("Save, load, and recommend again")
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "movies.latent"
        model.save(path)
        loaded = latent.load(path)
        again = loaded.recommend(user, k=10, threads=args.threads)
        again_unseen = loaded.recommend(user, k=10, exclude_seen=True, threads=args.threads)
        identical = (np.array_equal(again[0], ids) and np.array_equal(again[1], scores)
                     and np.array_equal(again_unseen[0], unseen_ids)
                     and np.array_equal(again_unseen[1], unseen_scores))
        print(f"    {path.name} ({path.stat().st_size} bytes); the loaded model's top-10 is "
              f"{'identical' if identical else 'DIFFERENT'}")
    if not identical:
        failures.append("the loaded model recommends differently")
    step.end()

    print(f"\ntutorial finished in {time.perf_counter() - t0:.2f} s")
    if failures:
        print("self-check failed: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
