"""`latent train --tensorboard DIR` and Model.fit(tensorboard=DIR) read back
with TensorBoard's own code: its event accumulator and record reader (both
CRCs checked), its projector config proto and the projector plugin's TSV
reader. The scalars must be the model's history (step = epoch, value = the
float32 of the reported value) and the projector must point at files with
one row per known user and item.

TensorBoard is a PyPI test tool, not a Debian package: it lives in a
virtual environment made by scripts/tensorboard-venv.sh (which scripts/test.sh
runs) at build/tensorboard-venv, or $LATENT_TENSORBOARD_PYTHON. Without it
the tests skip with that message, except on CI (CI=true), where they fail.
"""

import json
import math
import os
import pathlib
import subprocess

import numpy as np
import pytest

import latent

from conftest import BUNDLED, CLI, SOURCE_DIR

READER = pathlib.Path(__file__).with_name("tensorboard_reader.py")
TOP_K = "epoch_factorized_top_k/top_{}_categorical_accuracy"


def tensorboard_python():
    given = os.environ.get("LATENT_TENSORBOARD_PYTHON")
    build = pathlib.Path(os.environ.get("LATENT_BUILD_DIR", SOURCE_DIR / "build"))
    python = pathlib.Path(given) if given else build / "tensorboard-venv" / "bin" / "python"
    if python.exists():
        return python
    message = (f"no TensorBoard environment at {python}: run scripts/tensorboard-venv.sh "
               "(scripts/test.sh does)")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def read_log(logdir):
    done = subprocess.run([str(tensorboard_python()), str(READER), str(logdir)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def f32(x):
    return float(np.float32(x))


def expected_scalars(epochs):
    """What the log must hold, run -> tag -> [(step, value)], from the
    per-epoch reports as --metrics-out writes them."""
    train, validation = {}, {}
    for e in epochs:
        step = e["epoch"]
        for tag, value in (("epoch_loss", e.get("loss")),
                           ("epoch_sampled_accuracy", e.get("sampled_accuracy")),
                           ("epoch_seconds", e["seconds"])):
            if value is not None and not math.isnan(value):
                train.setdefault(tag, []).append((step, f32(value)))
        for run, key in ((train, "train"), (validation, "test")):
            for name, value in (e.get(key) or {}).items():
                k = int(name.split("_")[1])
                run.setdefault(TOP_K.format(k), []).append((step, f32(value)))
    return {"train": train, "validation": validation} if validation else {"train": train}


def scalars(log):
    return {run: {tag: [(step, value) for step, value, _ in events]
                  for tag, events in r["scalars"].items()}
            for run, r in log["runs"].items()}


def test_cli_two_tower_log_is_its_history(tmp_path):
    tensorboard_python()  # skip before training when there is no reader
    logdir = tmp_path / "logs"
    metrics = tmp_path / "metrics.json"
    saved = tmp_path / "model.latent"
    done = subprocess.run(
        [str(CLI), "train", "--data", str(BUNDLED), "--rating-above", "3", "--model", "two-tower",
         "--dim", "16", "--epochs", "3", "--batch-size", "2048", "--test-fraction", "0.2",
         "--tensorboard", str(logdir), "--metrics-out", str(metrics), "--out", str(saved), "-q"],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    history = json.loads(metrics.read_text())
    log = read_log(logdir)

    assert sorted(log["runs"]) == ["train", "validation"]
    for run in log["runs"].values():
        assert run["file_version"] == ["brain.Event:2"]
    assert scalars(log) == expected_scalars(history["epochs"])
    train = log["runs"]["train"]["scalars"]
    assert {TOP_K.format(k) for k in (1, 5, 10, 50, 100)} <= set(train)
    assert [step for step, _, _ in train["epoch_loss"]] == [1, 2, 3]
    # Every event is a record: file_version + one per scalar.
    assert log["runs"]["train"]["records"] == 1 + sum(len(v) for v in train.values())

    # The projector: items with ids and titles, users with ids, one row each.
    model = latent.load(saved)
    projector = {p["tensor_name"]: p for p in log["projector"]}
    assert sorted(projector) == ["item_embeddings", "user_embeddings"]
    items, users = projector["item_embeddings"], projector["user_embeddings"]
    assert items["cols"] == users["cols"] == 16
    assert items["tensor_shape"] == [items["rows"], 16]
    assert items["metadata_rows"] == items["rows"]
    assert items["metadata_header"] == ["id", "title"]
    assert users["metadata_rows"] == users["rows"] and users["metadata_header"] is None
    assert items["rows"] == len(model.items) and users["rows"] == len(model.users)
    assert items["metadata_first"] == [str(model.items[0]), model.item_titles[1]]
    np.testing.assert_array_equal(np.float32(items["first_row"]),
                                  model.item_embedding(model.items[0]))


def test_python_fit_log_is_its_history(tmp_path, titles):
    tensorboard_python()
    logdir = tmp_path / "tb"
    model = latent.Model("two-tower", dim=8, epochs=2, batch_size=4096, learning_rate=0.5)
    history = model.fit(titles, test_fraction=0.1, verbose=False, tensorboard=logdir)
    log = read_log(logdir)

    train = scalars(log)["train"]
    assert train["epoch_loss"] == [(e, f32(v)) for e, v in history["loss"].items()]
    assert train[TOP_K.format(10)] == [(e, f32(v)) for e, v in history["top_10"].items()]
    validation = scalars(log)["validation"]
    assert validation[TOP_K.format(100)] == [
        (e, f32(v)) for e, v in history["test_top_100"].items()]

    projector = {p["tensor_name"]: p for p in log["projector"]}
    items = projector["item_embeddings"]
    # Keyed by title: the ids are the titles, so one metadata column.
    assert items["rows"] == len(model.items) and items["metadata_header"] is None
    assert items["metadata_first"] == [model.items[0]]
    np.testing.assert_array_equal(np.float32(items["first_row"]),
                                  model.item_embedding(model.items[0]))
    assert projector["user_embeddings"]["rows"] == len(model.users)


def test_bpr_and_als_logs(tmp_path, titles):
    tensorboard_python()
    bpr = latent.Model("bpr", dim=8, epochs=2, threads=1)
    history = bpr.fit(titles, verbose=False, tensorboard=tmp_path / "bpr")
    train = scalars(read_log(tmp_path / "bpr"))["train"]
    assert train["epoch_sampled_accuracy"] == [
        (e, f32(v)) for e, v in history["sampled_accuracy"].items()]

    # ALS reports no loss unless asked: no epoch_loss tag, only epoch_seconds.
    als = latent.Model("als", dim=8, epochs=2)
    history = als.fit(titles, verbose=False, tensorboard=tmp_path / "als")
    train = scalars(read_log(tmp_path / "als"))["train"]
    assert "epoch_loss" not in train or not history["loss"].isna().any()
    assert [step for step, _ in train["epoch_seconds"]] == [1, 2]


def test_popularity_has_no_projector_and_says_so(tmp_path, titles):
    tensorboard_python()
    model = latent.Model("popularity")
    with pytest.warns(UserWarning, match="no embedding projector"):
        model.fit(titles, verbose=False, tensorboard=tmp_path / "pop")
    assert read_log(tmp_path / "pop")["projector"] == []
    assert not (tmp_path / "pop" / "projector_config.pbtxt").exists()


def test_a_failed_fit_leaves_no_log_directory(tmp_path, titles):
    # Training fails after the log directory was made (a diverging model is
    # refused): the directory it made is gone again.
    logdir = tmp_path / "made" / "tb"
    model = latent.Model("two-tower", dim=8, epochs=2, learning_rate=1e30)
    with pytest.raises(ValueError):
        model.fit(titles, verbose=False, tensorboard=logdir)
    assert not (tmp_path / "made").exists()


def test_cli_log_directory_errors_name_it(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    done = subprocess.run([str(CLI), "train", "--data", str(BUNDLED), "--model", "popularity",
                           "--tensorboard", str(target), "-q"], capture_output=True, text=True)
    assert done.returncode == 1
    assert str(target) in done.stderr and "cannot create directory" in done.stderr
