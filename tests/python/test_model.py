"""Every call of the Model API on trained models."""

import gc
import json

import numpy as np
import pandas as pd
import pytest

import latent


def test_model_names():
    assert latent.model_names() == ["als", "bpr", "ease", "gf-cf", "popularity", "two-tower"]


@pytest.mark.parametrize("kind,params,columns", [
    ("two-tower", dict(epochs=2, batch_size=1024), ["loss", "seconds", "top_1", "top_100"]),
    ("als", dict(epochs=3, compute_loss=True), ["loss", "seconds"]),
    ("bpr", dict(epochs=3, threads=1), ["loss", "seconds", "sampled_accuracy"]),
    ("ease", dict(regularization=300), ["loss", "seconds"]),
    ("gf-cf", dict(dim=8), ["loss", "seconds"]),
    ("popularity", dict(), ["loss", "seconds"]),
])
def test_every_model_fits_and_returns_its_history(small_csv, kind, params, columns):
    data = latent.load_dataset(small_csv)
    model = latent.Model(kind, **params)
    history = model.fit(data, verbose=False)
    assert model.history is history
    assert history.index.name == "epoch"
    assert len(history) == params.get("epochs", 1)
    for c in columns:
        assert c in history.columns
    ids, scores = model.recommend(data.users[0], k=5)
    assert ids.shape == (5,) and scores.shape == (5,)
    assert np.all(np.diff(scores) <= 0)


def test_history_with_a_test_part(titles):
    model = latent.Model("two-tower", epochs=2, batch_size=4096, negatives="in-batch")
    history = model.fit(titles, test_fraction=0.1, verbose=False)
    assert {"test_top_1", "test_top_100", "top_100"} <= set(history.columns)
    assert model.metrics["test_pairs"] == round(0.1 * len(titles))


def test_progress_bar_is_shown_and_silenceable(tiny, capsys):
    latent.Model("two-tower", epochs=2, batch_size=2).fit(tiny)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out
    latent.Model("als", epochs=2).fit(tiny)
    assert "Epoch 2/2 - " in capsys.readouterr().out
    latent.Model("two-tower", epochs=2, batch_size=2).fit(tiny, verbose=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_recommend_one_user_many_users_and_frames(tutorial_model, titles):
    model = tutorial_model
    ids, scores = model.recommend(42, k=10)
    assert ids.shape == (10,) and scores.dtype == np.float32
    many_ids, many_scores = model.recommend([42, 1, 42], k=10)
    assert many_ids.shape == (3, 10)
    np.testing.assert_array_equal(many_ids[0], ids)
    np.testing.assert_array_equal(many_scores[2], scores)
    frame = model.recommend([42, 1], k=3, as_frame=True)
    assert list(frame.columns) == ["user", "item", "score", "rank"]
    assert frame.user.tolist() == [42] * 3 + [1] * 3
    assert frame["rank"].tolist() == [1, 2, 3] * 2
    assert frame.item.tolist()[:3] == ids[:3].tolist()
    # String ids of an integer vocabulary work too, as on the command line.
    np.testing.assert_array_equal(model.recommend("42", k=10)[0], ids)


def test_exclude_seen_drops_the_training_items(tutorial_model, titles):
    seen = set(titles.to_frame().query("user == 42").item)
    ids, _ = tutorial_model.recommend(42, k=50, exclude_seen=True)
    assert not seen & set(ids)
    all_ids, _ = tutorial_model.recommend(42, k=50)
    assert seen & set(all_ids)  # they rank high without the filter


def test_exclude_seen_drops_the_items_rated_below_the_filter_too():
    frame = pd.DataFrame({"user": ["ann", "ann", "bob", "bob", "cid"],
                          "item": ["a", "b", "a", "c", "b"],
                          "rating": [5.0, 2.0, 4.0, 5.0, 4.0]})
    data = latent.Dataset.from_dataframe(frame, rating_above=3)
    assert data.seen_only_pairs == 1 and "(+1 seen only)" in repr(data)
    model = latent.Model("popularity")
    model.fit(data, verbose=False)
    assert model.training["seen_only_pairs"] == 1  # ann's b
    ids, _ = model.recommend("ann", k=3, exclude_seen=True)
    assert ids.tolist() == ["c", None, None]  # a trained, b rated 2
    ids, _ = model.recommend("ann", k=3)
    assert set(ids.tolist()) == {"a", "b", "c"}
    # rated_weight also trains on them, as weak positives: b gains 0.25.
    weak = latent.Model("popularity", rated_weight=0.25)
    weak.fit(data, verbose=False)
    assert weak.training["rated_pairs_trained"] == 1
    (vectors, ids), (plain, _) = weak.item_embeddings(), model.item_embeddings()
    b = list(ids).index("b")
    assert vectors[b, 0] == plain[b, 0] + 0.25
    with pytest.raises(ValueError, match="rated-weight|rated_weight"):
        latent.Model("bpr", rated_weight=0.5)


def test_evaluate_can_leave_out_the_items_rated_below_the_filter(titles):
    split = titles.split("per-user", test_fraction=0.2, seed=3)
    model = latent.Model("popularity")
    model.fit(titles, split=split, verbose=False)
    usual = model.evaluate(split, k=10)
    seen = model.evaluate(split, k=10, exclude_rated=True)
    assert usual["also_excluded_pairs"] == 0 and seen["also_excluded_pairs"] > 0
    assert seen["at_k"][0]["ndcg"] > usual["at_k"][0]["ndcg"]


def test_allow_deny_and_padding(tiny):
    model = latent.Model("als", epochs=2)
    model.fit(tiny, verbose=False)
    ids, scores = model.recommend("ann", k=3, exclude_seen=True)
    # ann saw a and b: two items are left, the third slot is padding.
    assert ids.dtype == object and ids[2] is None and scores[2] == -np.inf
    assert set(ids[:2]) == {"c", "d"}
    ids, _ = model.recommend("ann", k=1, allow=["d"])
    assert ids.tolist() == ["d"]
    ids, _ = model.recommend("ann", k=4, deny=["a", "b"])
    assert None in ids.tolist() and "a" not in ids.tolist()
    frame = model.recommend(["ann", "bob"], k=3, exclude_seen=True, as_frame=True)
    assert len(frame) == 4  # padding rows are left out
    # k beyond the catalog is capped at its 4 items, not padded to a billion.
    ids, _ = model.recommend(["ann"], k=10**9)
    assert ids.shape == (1, 4)
    ids, _ = model.similar_items("a", k=10**9)
    assert ids.tolist() == [*ids[:3], None] and len(ids) == 4


def test_recommend_for_a_new_user(tutorial_model):
    liked = ["Star Wars: Episode IV - A New Hope (1977)", "Matrix, The (1999)"]
    ids, scores = tutorial_model.recommend_for_items(liked, k=10)
    assert ids.shape == (10,) and not set(liked) & set(ids)


def test_embeddings_are_read_only_views_with_ids(tutorial_model, titles):
    users, user_ids = tutorial_model.user_embeddings()
    items, item_ids = tutorial_model.item_embeddings()
    assert users.shape == (len(titles.users) + 1, 64) and items.shape == (len(titles.items) + 1, 64)
    assert user_ids[0] == latent.OOV and user_ids[1:] == titles.users
    assert item_ids[1:] == titles.items
    assert not items.flags.writeable
    with pytest.raises(ValueError):
        items[0, 0] = 1.0
    # No copy: two calls share the model's memory.
    again, _ = tutorial_model.item_embeddings()
    assert np.shares_memory(items, again)
    one = tutorial_model.item_embedding("Toy Story (1995)")
    np.testing.assert_array_equal(one, items[item_ids.index("Toy Story (1995)")])
    np.testing.assert_array_equal(tutorial_model.user_embedding(42), users[user_ids.index(42)])


def test_embedding_views_keep_a_dropped_model_alive(tiny):
    model = latent.Model("als", epochs=2, dim=8)
    model.fit(tiny, verbose=False)
    view, _ = model.item_embeddings()
    copy = np.array(view)
    del model
    gc.collect()
    junk = [np.full((64, 8), 7.0, dtype=np.float32) for _ in range(100)]
    np.testing.assert_array_equal(view, copy)
    del junk


def test_item_embedding_by_id_with_titles(ratings, movies):
    data = latent.Dataset.from_dataframe(ratings.head(3000), items=movies)
    model = latent.Model("als", epochs=2, dim=8)
    model.fit(data, verbose=False)
    np.testing.assert_array_equal(model.item_embedding(1), model.item_embedding("Toy Story (1995)"))


def test_score_matrix_rows_give_recommend(tutorial_model):
    scores = tutorial_model.scores()
    users, items = tutorial_model.users, tutorial_model.items
    assert scores.shape == (len(users) + 1, len(items) + 1) and scores.dtype == np.float32
    for user in (42, users[0], users[-1]):
        row = scores[users.index(user) + 1].copy()
        row[0] = -np.inf  # OOV column
        order = np.argsort(-row, kind="stable")[:10]
        ids, top = tutorial_model.recommend(user, k=10)
        assert [items[i - 1] for i in order] == ids.tolist()
        np.testing.assert_array_equal(row[order], top)


def test_similar_items_and_pairs(tutorial_model):
    item = "Toy Story (1995)"
    ids, sims = tutorial_model.similar_items(item, k=5)
    assert ids.shape == (5,) and item not in ids.tolist()
    items, _ = tutorial_model.item_embeddings()
    unit = items / np.maximum(np.linalg.norm(items, axis=1, keepdims=True), 1e-30)
    row = tutorial_model.items.index(item) + 1
    cos = unit @ unit[row]
    for i, s in zip(ids, sims):
        assert cos[tutorial_model.items.index(i) + 1] == pytest.approx(s, abs=1e-5)
    frame = tutorial_model.similar_items(item, k=5, as_frame=True)
    assert list(frame.columns) == ["item", "similar_item", "similarity", "rank"]
    pairs = tutorial_model.similar_pairs(0.8)
    assert list(pairs.columns) == ["Movie_A", "Movie_B", "similarity"]
    assert len(pairs) > 0 and (pairs.similarity > 0.8).all()
    assert pairs.similarity.is_monotonic_decreasing
    a, b = pairs.iloc[0].Movie_A, pairs.iloc[0].Movie_B
    ra, rb = tutorial_model.items.index(a) + 1, tutorial_model.items.index(b) + 1
    assert float(unit[ra] @ unit[rb]) == pytest.approx(pairs.iloc[0].similarity, abs=1e-5)


def test_evaluate_as_dict_and_frame(titles):
    split = titles.split("per-user", test_fraction=0.2, seed=3)
    model = latent.Model("als", epochs=3)
    model.fit(titles, split=split, verbose=False)
    result = model.evaluate(split, k=[5, 10])
    assert [m["k"] for m in result["at_k"]] == [5, 10]
    assert result["users"] == split.test.user.nunique()
    assert 0 < result["at_k"][1]["recall"] <= 1
    frame = model.evaluate(split, k=[5, 10], as_frame=True)
    assert frame.loc[10, "ndcg"] == result["at_k"][1]["ndcg"]
    assert frame.attrs["coverage"] == result["coverage"]
    with_train = model.evaluate(split, k=10, exclude_train=False)
    assert with_train["exclude_train"] is False


def test_save_load_round_trip(tutorial_model, tmp_path):
    path = tmp_path / "model.latent"
    tutorial_model.save(path)
    loaded = latent.load(path)
    assert loaded.kind == "two-tower" and loaded.dim == 64 and loaded.config == tutorial_model.config
    assert loaded.users == tutorial_model.users and loaded.items == tutorial_model.items
    for a, b in zip(loaded.item_embeddings()[0:1], tutorial_model.item_embeddings()[0:1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.user_embeddings()[0], tutorial_model.user_embeddings()[0])
    for exclude in (False, True):
        got = loaded.recommend([42, 7], k=10, exclude_seen=exclude)
        want = tutorial_model.recommend([42, 7], k=10, exclude_seen=exclude)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    assert loaded.training["train_pairs"] == tutorial_model.metrics["train_pairs"]



def test_loaded_model_keeps_its_history(tutorial_model, tmp_path):
    tutorial_model.save(tmp_path / "m.latent")
    history = latent.load(tmp_path / "m.latent").history
    pd.testing.assert_frame_equal(history.drop(columns="seconds"),
                                  tutorial_model.history.drop(columns="seconds"))


def test_an_error_in_the_progress_stream_stops_fit(tiny):
    class Broken:
        def write(self, text):
            raise RuntimeError("disk full")

        def flush(self):
            pass

    with pytest.raises(RuntimeError, match="disk full"):
        latent.Model("two-tower", epochs=2, batch_size=2).fit(tiny, file=Broken())


@pytest.mark.parametrize("verbose", [True, False])
def test_ctrl_c_stops_fit(verbose):
    """A SIGINT during a (practically endless) fit raises KeyboardInterrupt
    promptly, with or without the progress bar; run in a child process so
    the signal cannot reach pytest. Without the bar this also shows that fit
    releases the GIL: the timer thread that sends the signal runs Python
    code, and no Python code runs on the fitting thread until it ends."""
    import os
    import subprocess
    import sys
    from conftest import BUNDLED
    code = f"""
import os, signal, sys, threading
import pandas as pd, latent
data = latent.Dataset.from_dataframe(pd.read_csv({str(BUNDLED / "ratings.csv")!r}))
model = latent.Model("two-tower", epochs=100000, batch_size=4096, negatives="in-batch")
threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    model.fit(data, verbose={verbose}, file=sys.stderr)
except KeyboardInterrupt:
    print("interrupted")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "interrupted\n"


def test_loads_the_committed_version_1_model_file():
    from conftest import SOURCE_DIR
    model = latent.load(SOURCE_DIR / "tests" / "data" / "model_v1.latent")
    assert model.history.empty  # its training metadata has no per-epoch reports
    ids, scores = model.recommend(model.users[0], k=2)
    assert len(ids) == 2 and scores[0] >= scores[1]
    assert model.user_embeddings()[0].shape[1] == model.dim


@pytest.mark.parametrize("nu", [0.0, 1.0])
def test_als_fold_in_solves_the_normal_equations_with_the_row_regularization(small_csv, nu):
    # A new user's ALS row is the closed-form solve of one row's normal
    # equations; with regularization_exponent nu > 0 its regularization is
    # reg * ((|I| + alpha * n) / sqrt(|U| |I|))^nu (Rendle et al. 2021), n
    # the user's items: the numpy solve below must give the scores latent does.
    data = latent.load_dataset(small_csv)
    reg, alpha = 2.0, 4.0
    model = latent.Model("als", dim=8, regularization=reg, alpha=alpha, epochs=4,
                         regularization_exponent=nu, solver="cholesky", threads=1)
    model.fit(data, verbose=False)
    assert model.config["regularization_exponent"] == nu
    y, item_ids = model.item_embeddings()
    users, _ = model.user_embeddings()
    y = y.astype(np.float64)
    liked = list(item_ids[1:6])
    rows = [item_ids.index(i) for i in liked]
    n_users, n_items = users.shape[0] - 1, y.shape[0] - 1
    row_reg = reg * ((n_items + alpha * len(rows)) / np.sqrt(n_users * n_items)) ** nu
    liked_y = y[rows]
    a = y.T @ y + alpha * liked_y.T @ liked_y + row_reg * np.eye(8)
    x = np.linalg.solve(a, (1 + alpha) * liked_y.sum(axis=0))
    want = y @ x
    ids, scores = model.recommend_for_items(liked, k=10, exact=True)
    np.testing.assert_allclose(scores, want[[item_ids.index(i) for i in ids]], rtol=1e-4,
                               atol=1e-6)
    # The plain regularization gives other scores when nu > 0.
    plain = y @ np.linalg.solve(a - (row_reg - reg) * np.eye(8),
                                (1 + alpha) * liked_y.sum(axis=0))
    assert (nu == 0) == np.allclose(plain[[item_ids.index(i) for i in ids]], scores, rtol=1e-4)
