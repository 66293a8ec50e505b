"""The TensorFlow Recommenders (TFRS) MovieLens-100K tutorials, run for real.

Run by bench/tfrs_bench.py inside build/tfrs-venv (TensorFlow, TFRS,
tf-keras, pandas); one protocol and one seed per process, a JSON object on
stdout. Not a latent test: it measures the library that latent is compared
with.

    build/tfrs-venv/bin/python bench/tfrs_tutorials.py --protocol basic-retrieval --seed 42
    build/tfrs-venv/bin/python bench/tfrs_tutorials.py --seed 42 --write-split DIR

Environment (bench/tfrs_bench.py sets it): TF_USE_LEGACY_KERAS=1 (TFRS needs
Keras 2: tf.keras is then tf-keras), OMP_NUM_THREADS=2,
TF_NUM_INTRAOP_THREADS=2, TF_NUM_INTEROP_THREADS=2 (this script also passes
those two to tf.config.threading), TF_CPP_MIN_LOG_LEVEL=2.

Data
    tfds cannot download here, so the equivalents of tfds'
    `movielens/100k-ratings` (user_id and movie_id as strings, movie_title,
    user_rating float32, timestamp int64) and `movielens/100k-movies`
    (movie_id, movie_title) are built as tf.data.Datasets from u.data and
    u.item (latin-1) of --data, in u.data's and u.item's order. tfds stores
    the ratings in another order, so the split below is not the tutorials'
    own split of seed 42, but one made the same way.

Split (every tutorial)
    tf.random.set_seed(seed); shuffled = ratings.shuffle(100_000, seed=seed,
    reshuffle_each_iteration=False); train = shuffled.take(80_000); test =
    shuffled.skip(80_000).take(20_000). The tutorials use seed 42.
    --write-split DIR writes that split as DIR/train.csv and DIR/test.csv
    (header user,item,rating,timestamp; raw MovieLens user and movie ids)
    for `latent train --split-in DIR`. The split is made on the full
    records and then mapped to each tutorial's fields (the tutorials map
    first: a shuffle's order does not depend on the elements, so it is the
    same split). The JSON carries `split_digest`, the SHA-256 of the
    "user,item\\n" lines of train then test, which tfrs_bench.py checks
    against the files it gave latent.

Protocols (tensorflow/recommenders, docs/examples/*.ipynb; the models as the
notebooks write them, with today's Keras layer names: StringLookup,
Discretization, Normalization(axis=None) with its output reshaped to a
column, TextVectorization, as the current notebooks do)
    basic-retrieval   basic_retrieval.ipynb: user id and movie title
                      StringLookup + Embedding(vocab + 1, 32) towers,
                      tasks.Retrieval with FactorizedTopK over
                      movies.batch(128).map(movie_model) (a dataset, which
                      TFRS wraps in a Streaming layer: every batch's top-k
                      recomputes all 1,682 candidates' embeddings with the
                      current tower; a BruteForce index would keep the
                      untrained tower's), metrics in training too;
                      Adagrad(0.1);
                      train.shuffle(100_000).batch(8192).cache(),
                      test.batch(4096).cache(); 3 epochs.
    side-features     context_features.ipynb ("Taking advantage of context
                      features"), use_timestamps=True: query = Dense(32) of
                      [user id Embedding(32), Embedding(1001, 32) of the
                      timestamp's Discretization into np.linspace(min, max,
                      1000) buckets, the Normalization of the timestamp
                      (adapted on all timestamps)]; candidate = Dense(32) of
                      [title id Embedding(32), TextVectorization(max_tokens
                      10,000, adapted on the titles) -> Embedding(10,000, 32,
                      mask_zero) -> GlobalAveragePooling1D]; FactorizedTopK
                      as above, metrics in training too; Adagrad(0.1);
                      train.shuffle(100_000).batch(2048) (not cached, so it
                      reshuffles every epoch), test.batch(4096).cache();
                      3 epochs.
    side-features-baseline
                      the same notebook's baseline, use_timestamps=False:
                      the query is the user id embedding alone (then
                      Dense(32)); the candidate as above.
    deep-retrieval    deep_recommenders.ipynb, the [64, 32] model: the
                      side-features query and candidate embeddings (with
                      timestamps) followed by Dense(64, relu), Dense(32) in
                      each tower; metrics only in evaluation
                      (compute_metrics=not training); Adagrad(0.1);
                      batches as side-features. The notebook trains 300
                      epochs and validates every 5 (validation_data=
                      cached_test, validation_freq=5) and reports the last
                      validation top-100. Here fit runs --epochs epochs
                      (tfrs_bench.py passes --deep-epochs) without
                      validation, and the test top-100 is evaluated once
                      after it: the same figure at epoch 300, without the
                      60 validation passes inside the timed fit.
    ranking           basic_ranking.ipynb: user and title Embedding(32);
                      Dense(256, relu), Dense(64, relu), Dense(1) over their
                      concatenation; tasks.Ranking(MeanSquaredError,
                      [RootMeanSquaredError]); Adagrad(0.1); batches 8192
                      (cached) / 4096; 3 epochs.
    multitask-rating, multitask-retrieval, multitask-joint
                      multitask.ipynb with (rating_weight, retrieval_weight)
                      = (1, 0), (0, 1), (1, 1): the basic towers (32), a
                      rating model Dense(256, relu), Dense(128, relu),
                      Dense(1) over the concatenated embeddings, tasks.Ranking
                      and tasks.Retrieval (FactorizedTopK, metrics in
                      training too); loss = rating_weight * rating loss +
                      retrieval_weight * retrieval loss; Adagrad(0.1);
                      batches 8192 (cached) / 4096; 3 epochs.

Measured
    fit_seconds: the wall time of model.fit(...) alone (it includes tracing
    the tf.functions in the first epoch, as any Keras user pays it; not the
    dataset building, vocabularies or evaluation); epoch_seconds from a
    callback. metrics: model.evaluate(cached_test, return_dict=True), whose
    factorized_top_k/top_100_categorical_accuracy is `top_100` and
    root_mean_squared_error `rmse` in the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import time
from pathlib import Path

PROTOCOLS = ("basic-retrieval", "side-features", "side-features-baseline", "deep-retrieval",
             "ranking", "multitask-rating", "multitask-retrieval", "multitask-joint")
MULTITASK_WEIGHTS = {"multitask-rating": (1.0, 0.0), "multitask-retrieval": (0.0, 1.0),
                     "multitask-joint": (1.0, 1.0)}
# Hyper-parameters per protocol, as the notebooks set them (epochs of
# deep-retrieval: --epochs overrides the notebook's 300).
SETTINGS = {
    "basic-retrieval": dict(source="basic_retrieval.ipynb", dim=32, learning_rate=0.1,
                            train_batch=8192, test_batch=4096, epochs=3, cached_train=True,
                            train_metrics=True),
    "side-features": dict(source="context_features.ipynb (use_timestamps=True)", dim=32,
                          learning_rate=0.1, train_batch=2048, test_batch=4096, epochs=3,
                          cached_train=False, train_metrics=True),
    "side-features-baseline": dict(source="context_features.ipynb (use_timestamps=False)",
                                   use_timestamps=False, dim=32, learning_rate=0.1,
                                   train_batch=2048, test_batch=4096, epochs=3,
                                   cached_train=False, train_metrics=True),
    "deep-retrieval": dict(source="deep_recommenders.ipynb (layer_sizes [64, 32])", dim=32,
                           layers=[64, 32], learning_rate=0.1, train_batch=2048,
                           test_batch=4096, epochs=300, cached_train=False,
                           train_metrics=False),
    "ranking": dict(source="basic_ranking.ipynb", dim=32, rating_layers=[256, 64],
                    learning_rate=0.1, train_batch=8192, test_batch=4096, epochs=3,
                    cached_train=True, train_metrics=False),
}
for _name, (_rw, _tw) in MULTITASK_WEIGHTS.items():
    SETTINGS[_name] = dict(source=f"multitask.ipynb (rating_weight {_rw:g}, "
                                  f"retrieval_weight {_tw:g})",
                           dim=32, rating_layers=[256, 128], rating_weight=_rw,
                           retrieval_weight=_tw, learning_rate=0.1, train_batch=8192,
                           test_batch=4096, epochs=3, cached_train=True, train_metrics=True)

TOP_100 = "factorized_top_k/top_100_categorical_accuracy"
RMSE = "root_mean_squared_error"


def load_movielens(data: Path):
    """u.data and u.item as numpy columns shaped like tfds' movielens/100k-*."""
    import numpy as np
    import pandas as pd
    ratings = pd.read_csv(data / "u.data", sep="\t", header=None,
                          names=["user", "item", "rating", "timestamp"])
    items = pd.read_csv(data / "u.item", sep="|", header=None, encoding="latin-1",
                        usecols=[0, 1], names=["item", "title"])
    title_of = dict(zip(items["item"], items["title"]))
    rating_columns = {
        "user_id": ratings["user"].astype(str).to_numpy(dtype=object),
        "movie_id": ratings["item"].astype(str).to_numpy(dtype=object),
        "movie_title": np.array([title_of[i] for i in ratings["item"]], dtype=object),
        "user_rating": ratings["rating"].to_numpy(dtype=np.float32),
        "timestamp": ratings["timestamp"].to_numpy(dtype=np.int64),
    }
    movie_columns = {
        "movie_id": items["item"].astype(str).to_numpy(dtype=object),
        "movie_title": items["title"].to_numpy(dtype=object),
    }
    return rating_columns, movie_columns


def split(tf, ratings, seed: int):
    """The tutorials' split (module docstring)."""
    tf.random.set_seed(seed)
    shuffled = ratings.shuffle(100_000, seed=seed, reshuffle_each_iteration=False)
    return shuffled.take(80_000), shuffled.skip(80_000).take(20_000)


def columns(ds) -> dict:
    """Every element of a small dataset of dicts, as numpy columns."""
    batch = next(iter(ds.batch(1 << 20)))
    return {k: v.numpy() for k, v in batch.items()}


def split_digest(train_cols: dict, test_cols: dict) -> str:
    h = hashlib.sha256()
    for cols in (train_cols, test_cols):
        for u, i in zip(cols["user_id"], cols["movie_id"]):
            h.update(u + b"," + i + b"\n")
    return h.hexdigest()


def write_split(cols: dict, path: Path) -> None:
    with path.open("w") as f:
        f.write("user,item,rating,timestamp\n")
        for u, i, r, t in zip(cols["user_id"], cols["movie_id"], cols["user_rating"],
                              cols["timestamp"]):
            rating = int(r) if float(r).is_integer() else float(r)
            f.write(f"{u.decode()},{i.decode()},{rating},{int(t)}\n")


def timeline_callback(tf):
    """A Keras callback that notes when fit's training and epochs begin and
    end (perf_counter times)."""
    class Timeline(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.events = []

        def on_train_begin(self, logs=None):
            self.events.append(("train_begin", time.perf_counter()))

        def on_epoch_begin(self, epoch, logs=None):
            self.events.append(("epoch_begin", time.perf_counter()))

        def on_epoch_end(self, epoch, logs=None):
            self.events.append(("epoch_end", time.perf_counter()))

        def on_train_end(self, logs=None):
            self.events.append(("train_end", time.perf_counter()))

        def epoch_seconds(self):
            begins = [t for e, t in self.events if e == "epoch_begin"]
            ends = [t for e, t in self.events if e == "epoch_end"]
            return [e - b for b, e in zip(begins, ends)]
    return Timeline()


def build_model(tf, tfrs, np, protocol: str, s: dict, ratings, movies):
    """The protocol's tfrs.Model, as its notebook defines it."""
    titles = movies.map(lambda x: x["movie_title"])
    unique_movie_titles = np.unique(np.concatenate(list(titles.batch(1_000))))
    unique_user_ids = np.unique(np.concatenate(list(
        ratings.batch(1_000_000).map(lambda x: x["user_id"]))))
    dim = s["dim"]

    def id_embedding(vocabulary):
        return tf.keras.Sequential([
            tf.keras.layers.StringLookup(vocabulary=vocabulary, mask_token=None),
            tf.keras.layers.Embedding(len(vocabulary) + 1, dim),
        ])

    if protocol == "basic-retrieval":
        user_model = id_embedding(unique_user_ids)
        movie_model = id_embedding(unique_movie_titles)
        task = tfrs.tasks.Retrieval(metrics=tfrs.metrics.FactorizedTopK(
            candidates=titles.batch(128).map(movie_model)))

        class MovielensModel(tfrs.Model):
            def __init__(self, user_model, movie_model):
                super().__init__()
                self.movie_model = movie_model
                self.user_model = user_model
                self.task = task

            def compute_loss(self, features, training=False):
                user_embeddings = self.user_model(features["user_id"])
                positive_movie_embeddings = self.movie_model(features["movie_title"])
                return self.task(user_embeddings, positive_movie_embeddings)

        return MovielensModel(user_model, movie_model)

    if protocol in ("side-features", "side-features-baseline", "deep-retrieval"):
        timestamps = np.concatenate(list(ratings.map(lambda x: x["timestamp"]).batch(100)))
        timestamp_buckets = np.linspace(timestamps.min(), timestamps.max(), num=1000)

        use_timestamps = s.get("use_timestamps", True)

        class UserModel(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.user_embedding = id_embedding(unique_user_ids)
                if use_timestamps:
                    self.timestamp_embedding = tf.keras.Sequential([
                        tf.keras.layers.Discretization(timestamp_buckets.tolist()),
                        tf.keras.layers.Embedding(len(timestamp_buckets) + 1, 32),
                    ])
                    self.normalized_timestamp = tf.keras.layers.Normalization(axis=None)
                    self.normalized_timestamp.adapt(timestamps)

            def call(self, inputs):
                if not use_timestamps:
                    return self.user_embedding(inputs["user_id"])
                return tf.concat([
                    self.user_embedding(inputs["user_id"]),
                    self.timestamp_embedding(inputs["timestamp"]),
                    tf.reshape(self.normalized_timestamp(inputs["timestamp"]), (-1, 1)),
                ], axis=1)

        class MovieModel(tf.keras.Model):
            def __init__(self):
                super().__init__()
                max_tokens = 10_000
                self.title_embedding = id_embedding(unique_movie_titles)
                self.title_vectorizer = tf.keras.layers.TextVectorization(max_tokens=max_tokens)
                self.title_text_embedding = tf.keras.Sequential([
                    self.title_vectorizer,
                    tf.keras.layers.Embedding(max_tokens, 32, mask_zero=True),
                    tf.keras.layers.GlobalAveragePooling1D(),
                ])
                self.title_vectorizer.adapt(titles)

            def call(self, titles):
                return tf.concat([
                    self.title_embedding(titles),
                    self.title_text_embedding(titles),
                ], axis=1)

        def tower(embedding_model, layer_sizes):
            dense = tf.keras.Sequential()
            for size in layer_sizes[:-1]:
                dense.add(tf.keras.layers.Dense(size, activation="relu"))
            for size in layer_sizes[-1:]:
                dense.add(tf.keras.layers.Dense(size))
            return tf.keras.Sequential([embedding_model, dense])

        # context_features: one Dense(32) projection; deep_recommenders:
        # QueryModel/CandidateModel(layer_sizes), ReLU between layers.
        layer_sizes = s.get("layers", [32])
        metrics_in_training = s["train_metrics"]

        class MovielensModel(tfrs.models.Model):
            def __init__(self):
                super().__init__()
                self.query_model = tower(UserModel(), layer_sizes)
                self.candidate_model = tower(MovieModel(), layer_sizes)
                self.task = tfrs.tasks.Retrieval(metrics=tfrs.metrics.FactorizedTopK(
                    candidates=titles.batch(128).map(self.candidate_model)))

            def compute_loss(self, features, training=False):
                query_embeddings = self.query_model({
                    "user_id": features["user_id"],
                    "timestamp": features["timestamp"],
                })
                movie_embeddings = self.candidate_model(features["movie_title"])
                if metrics_in_training:
                    return self.task(query_embeddings, movie_embeddings)
                return self.task(query_embeddings, movie_embeddings,
                                 compute_metrics=not training)

        return MovielensModel()

    if protocol == "ranking":
        # basic_ranking builds its title vocabulary from the ratings.
        unique_rated_titles = np.unique(np.concatenate(list(
            ratings.batch(1_000_000).map(lambda x: x["movie_title"]))))

        class RankingModel(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.user_embeddings = id_embedding(unique_user_ids)
                self.movie_embeddings = id_embedding(unique_rated_titles)
                self.ratings = tf.keras.Sequential([
                    tf.keras.layers.Dense(256, activation="relu"),
                    tf.keras.layers.Dense(64, activation="relu"),
                    tf.keras.layers.Dense(1),
                ])

            def call(self, inputs):
                user_id, movie_title = inputs
                return self.ratings(tf.concat([self.user_embeddings(user_id),
                                               self.movie_embeddings(movie_title)], axis=1))

        class MovielensModel(tfrs.models.Model):
            def __init__(self):
                super().__init__()
                self.ranking_model = RankingModel()
                self.task = tfrs.tasks.Ranking(
                    loss=tf.keras.losses.MeanSquaredError(),
                    metrics=[tf.keras.metrics.RootMeanSquaredError()])

            def compute_loss(self, features, training=False):
                rating_predictions = self.ranking_model(
                    (features["user_id"], features["movie_title"]))
                return self.task(labels=features["user_rating"], predictions=rating_predictions)

        return MovielensModel()

    rating_weight, retrieval_weight = MULTITASK_WEIGHTS[protocol]

    class MovielensModel(tfrs.models.Model):
        def __init__(self, rating_weight: float, retrieval_weight: float) -> None:
            super().__init__()
            self.movie_model = id_embedding(unique_movie_titles)
            self.user_model = id_embedding(unique_user_ids)
            self.rating_model = tf.keras.Sequential([
                tf.keras.layers.Dense(256, activation="relu"),
                tf.keras.layers.Dense(128, activation="relu"),
                tf.keras.layers.Dense(1),
            ])
            self.rating_task = tfrs.tasks.Ranking(
                loss=tf.keras.losses.MeanSquaredError(),
                metrics=[tf.keras.metrics.RootMeanSquaredError()])
            self.retrieval_task = tfrs.tasks.Retrieval(metrics=tfrs.metrics.FactorizedTopK(
                candidates=titles.batch(128).map(self.movie_model)))
            self.rating_weight = rating_weight
            self.retrieval_weight = retrieval_weight

        def call(self, features):
            user_embeddings = self.user_model(features["user_id"])
            movie_embeddings = self.movie_model(features["movie_title"])
            return (user_embeddings, movie_embeddings,
                    self.rating_model(tf.concat([user_embeddings, movie_embeddings], axis=1)))

        def compute_loss(self, features, training=False):
            ratings = features.pop("user_rating")
            user_embeddings, movie_embeddings, rating_predictions = self(features)
            rating_loss = self.rating_task(labels=ratings, predictions=rating_predictions)
            retrieval_loss = self.retrieval_task(user_embeddings, movie_embeddings)
            return self.rating_weight * rating_loss + self.retrieval_weight * retrieval_loss

    return MovielensModel(rating_weight, retrieval_weight)


# The fields each notebook keeps of the ratings.
FIELDS = {
    "basic-retrieval": ("movie_title", "user_id"),
    "side-features": ("movie_title", "user_id", "timestamp"),
    "side-features-baseline": ("movie_title", "user_id", "timestamp"),
    "deep-retrieval": ("movie_title", "user_id", "timestamp"),
    "ranking": ("movie_title", "user_id", "user_rating"),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path,
                   default=Path(__file__).resolve().parent.parent.parent / "shared" / "data"
                   / "ml-100k", help="MovieLens 100K directory (u.data, u.item)")
    p.add_argument("--protocol", choices=PROTOCOLS, help="the tutorial to run")
    p.add_argument("--seed", type=int, default=42, help="split and global TF seed (default 42)")
    p.add_argument("--epochs", type=int, default=None,
                   help="override the notebook's epochs (tfrs_bench.py: deep-retrieval only)")
    p.add_argument("--write-split", type=Path, metavar="DIR",
                   help="write DIR/train.csv and DIR/test.csv (raw ids) and exit")
    p.add_argument("--verbose", action="store_true", help="Keras progress bars on stderr")
    args = p.parse_args(argv)
    if args.protocol is None and args.write_split is None:
        p.error("give --protocol or --write-split")
    if args.epochs is not None and args.epochs <= 0:
        p.error("--epochs must be positive")

    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(
        int(os.environ.get("TF_NUM_INTRAOP_THREADS", "2")))
    tf.config.threading.set_inter_op_parallelism_threads(
        int(os.environ.get("TF_NUM_INTEROP_THREADS", "2")))
    tf.get_logger().setLevel("ERROR")

    rating_columns, movie_columns = load_movielens(args.data)
    ratings = tf.data.Dataset.from_tensor_slices(rating_columns)
    movies = tf.data.Dataset.from_tensor_slices(movie_columns)
    full_train, full_test = split(tf, ratings, args.seed)
    train_cols, test_cols = columns(full_train), columns(full_test)
    digest = split_digest(train_cols, test_cols)

    if args.write_split is not None:
        args.write_split.mkdir(parents=True, exist_ok=True)
        write_split(train_cols, args.write_split / "train.csv")
        write_split(test_cols, args.write_split / "test.csv")
        print(json.dumps({"seed": args.seed, "train_pairs": len(train_cols["user_id"]),
                          "test_pairs": len(test_cols["user_id"]), "split_digest": digest}))
        return 0

    import tensorflow_recommenders as tfrs
    protocol = args.protocol
    s = dict(SETTINGS[protocol])
    if args.epochs is not None:
        s["epochs"] = args.epochs
    fields = FIELDS.get(protocol, ("movie_title", "user_id", "user_rating"))

    def keep(x):
        return {k: x[k] for k in fields}

    ratings_kept = ratings.map(keep)
    train, test = full_train.map(keep), full_test.map(keep)
    model = build_model(tf, tfrs, np, protocol, s, ratings_kept, movies)
    model.compile(optimizer=tf.keras.optimizers.Adagrad(learning_rate=s["learning_rate"]))

    train_batches = train.shuffle(100_000).batch(s["train_batch"])
    if s["cached_train"]:
        train_batches = train_batches.cache()
    cached_test = test.batch(s["test_batch"]).cache()

    timeline = timeline_callback(tf)
    verbose = 2 if args.verbose else 0
    with contextlib.redirect_stdout(sys.stderr):  # Keras prints its progress on stdout
        start_fit = time.perf_counter()
        history = model.fit(train_batches, epochs=s["epochs"], verbose=verbose,
                            callbacks=[timeline])
        fit_seconds = time.perf_counter() - start_fit
        start = time.perf_counter()
        metrics = model.evaluate(cached_test, return_dict=True, verbose=verbose)
        evaluate_seconds = time.perf_counter() - start

    metrics = {k: float(v) for k, v in metrics.items()}
    last_epoch = {k: float(v[-1]) for k, v in history.history.items()}
    out = {
        "protocol": protocol, "seed": args.seed, "settings": s,
        "fit_seconds": fit_seconds, "epoch_seconds": timeline.epoch_seconds(),
        # When fit's callbacks ran, in seconds from the call to fit, and its return.
        "fit_timeline": [[e, t - start_fit] for e, t in timeline.events]
        + [["fit_returned", fit_seconds]],
        "evaluate_seconds": evaluate_seconds,
        "top_100": metrics.get(TOP_100), "rmse": metrics.get(RMSE),
        "metrics": metrics, "train_last_epoch": last_epoch,
        "train_pairs": len(train_cols["user_id"]), "test_pairs": len(test_cols["user_id"]),
        "split_digest": digest,
        "versions": {"tensorflow": tf.__version__,
                     "tensorflow_recommenders": tfrs.__version__,
                     "python": sys.version.split()[0]},
        "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                    "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
