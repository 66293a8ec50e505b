"""The Python module and the CLI give identical results for the same data,
model, parameters and seed: the same library does the work behind both."""

import csv
import io
import json
import subprocess

import numpy as np
import pandas as pd
import pytest

import latent

from conftest import BUNDLED, CLI


def cli(*args):
    if not CLI.exists():
        pytest.fail(f"the CLI is not built at {CLI} (set LATENT_CLI)")
    done = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def cli_flags(params):
    flags = []
    for name, value in params.items():
        flag = "--" + name.replace("_", "-")
        flags += [flag] if value is True else [flag, value]
    return flags


MODELS = [
    ("two-tower", dict(epochs=2, batch_size=256, learning_rate=0.1, seed=5)),
    ("als", dict(epochs=3, regularization=10, alpha=2, seed=5)),
    ("bpr", dict(epochs=4, threads=1, seed=5)),  # one thread: Hogwild with more is not repeatable
    ("ease", dict(regularization=100)),
    ("popularity", dict()),
]


@pytest.mark.parametrize("kind,params", MODELS, ids=[m[0] for m in MODELS])
def test_same_model_from_a_dataframe_and_from_the_cli(small_csv, tmp_path, kind, params):
    path = tmp_path / "cli.latent"
    cli("train", "--data", small_csv, "--model", kind, *cli_flags(params), "--out", path, "-q")
    from_cli = latent.load(path)

    data = latent.Dataset.from_dataframe(pd.read_csv(small_csv))
    model = latent.Model(kind, **params)
    model.fit(data, verbose=False)

    assert model.users == from_cli.users and model.items == from_cli.items
    np.testing.assert_array_equal(model.user_embeddings()[0], from_cli.user_embeddings()[0])
    np.testing.assert_array_equal(model.item_embeddings()[0], from_cli.item_embeddings()[0])
    assert model.config == from_cli.config

    # What `latent recommend` prints is what recommend() returns.
    users = model.users[:3]
    out = cli("recommend", path, *sum((["--user", u] for u in users), []), "--k", 10,
              "--exclude-seen")
    rows = list(csv.DictReader(io.StringIO(out)))
    frame = model.recommend(users, k=10, exclude_seen=True, as_frame=True)
    assert [int(r["item"]) for r in rows] == frame.item.tolist()
    assert [float(r["score"]) for r in rows] == [float(f"{s:.6g}") for s in frame.score]


def test_tutorial_model_equals_the_cli_on_titles(tutorial_model, tmp_path):
    path = tmp_path / "movies.latent"
    cli("train", "--data", BUNDLED, "--rating-above", 3, "--item-key", "title", "--dim", 64,
        "--optimizer", "adagrad", "--learning-rate", 0.5, "--batch-size", 4096, "--epochs", 3,
        "--negatives", "in-batch", "--out", path, "-q")
    from_cli = latent.load(path)
    assert from_cli.items == tutorial_model.items
    np.testing.assert_array_equal(from_cli.item_embeddings()[0], tutorial_model.item_embeddings()[0])
    np.testing.assert_array_equal(from_cli.user_embeddings()[0], tutorial_model.user_embeddings()[0])

    # The exported .npy files and id lists are the Python arrays and lists.
    cli("embeddings", path, "--out-dir", tmp_path / "emb")
    items, item_ids = tutorial_model.item_embeddings()
    np.testing.assert_array_equal(np.load(tmp_path / "emb" / "item_embeddings.npy"), items)
    assert (tmp_path / "emb" / "items.tsv").read_text(encoding="utf-8").splitlines() == item_ids

    cli("scores", path, "--out", tmp_path / "scores.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "scores.npy"), tutorial_model.scores())

    cli("pairs", path, "--threshold", 0.8, "--out", tmp_path / "pairs.csv")
    pairs = pd.read_csv(tmp_path / "pairs.csv", keep_default_na=False)
    ours = tutorial_model.similar_pairs(0.8)
    assert pairs.item_a.tolist() == ours.Movie_A.tolist()
    assert pairs.item_b.tolist() == ours.Movie_B.tolist()
    np.testing.assert_allclose(pairs.similarity, ours.similarity, atol=1e-6)

    out = cli("similar", path, "--item", "Toy Story (1995)", "--k", 5)
    similar = pd.read_csv(io.StringIO(out), keep_default_na=False)
    ids, _ = tutorial_model.similar_items("Toy Story (1995)", k=5)
    assert similar.similar_item.tolist() == ids.tolist()


def test_evaluate_equals_the_cli(small_csv, tmp_path):
    params = dict(epochs=3, seed=9)
    cli("evaluate", "--data", small_csv, "--model", "als", *cli_flags(params), "--split",
        "per-user", "--test-fraction", 0.25, "--k", "5,10", "--json", tmp_path / "e.json", "-q")
    expected = json.loads((tmp_path / "e.json").read_text())

    data = latent.Dataset.from_dataframe(pd.read_csv(small_csv))
    split = data.split("per-user", test_fraction=0.25, seed=9)  # the CLI splits with --seed
    model = latent.Model("als", **params)
    model.fit(data, split=split, verbose=False)
    got = model.evaluate(split, k=[5, 10])
    for key in ("users", "test_pairs", "coverage", "at_k"):
        assert got[key] == expected[key]
