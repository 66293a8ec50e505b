"""Bad input gives a Python exception with a clear message, never a crash."""

import numpy as np
import pandas as pd
import pytest

import latent


def frame(**columns):
    base = {"user": [1, 2, 3], "item": [10, 11, 12], "rating": [4.0, 5.0, 3.0]}
    base.update(columns)
    return pd.DataFrame(base)


# ---- DataFrames and arrays ------------------------------------------------------

def test_wrong_column_names():
    with pytest.raises(KeyError, match=r"no user column 'uid'; its columns: \['user', 'item', 'rating'\]"):
        latent.Dataset.from_dataframe(frame(), user_col="uid")
    with pytest.raises(KeyError, match=r"no item column: name it with item_col="):
        latent.Dataset.from_dataframe(pd.DataFrame({"user": [1], "thing": [2]}))
    with pytest.raises(KeyError, match="no weight column 'w'"):
        latent.Dataset.from_dataframe(frame(), weight_col="w")
    items = pd.DataFrame({"item": [10], "title": ["Ten"]})
    with pytest.raises(KeyError, match="no title column 'name'"):
        latent.Dataset.from_dataframe(frame(), items=items, items_title_col="name")


def test_wrong_dtypes():
    with pytest.raises(ValueError, match=r"column 'user' has dtype float64; ids must be integers or strings"):
        latent.Dataset.from_dataframe(frame(user=[1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"column 'item' has dtype bool"):
        latent.Dataset.from_dataframe(frame(item=[True, False, True]))
    with pytest.raises(ValueError, match=r"column 'item' holds 2.5 \(float\) at row 1"):
        latent.Dataset.from_dataframe(frame(item=["a", 2.5, "c"]))
    with pytest.raises(ValueError, match=r"column 'rating' has dtype object; it must hold numbers"):
        latent.Dataset.from_dataframe(frame(rating=["good", "bad", "ok"]))
    with pytest.raises(ValueError, match=r"column 'timestamp' has dtype float64; timestamps must be integers"):
        latent.Dataset.from_dataframe(frame(timestamp=[1.5, 2.0, 3.0]))


def test_nan_ids_and_values_name_the_row():
    with pytest.raises(ValueError, match=r"column 'user' has a missing id \(NaN/None\) at row 'b'"):
        latent.Dataset.from_dataframe(frame(user=[1, None, 3]).set_axis(["a", "b", "c"]))
    with pytest.raises(ValueError, match=r"column 'item' has a missing id \(NaN/None\) at row 2"):
        latent.Dataset.from_dataframe(frame(item=["x", "y", np.nan]))
    with pytest.raises(ValueError, match=r"column 'rating' has a missing value \(NaN\) at row 0"):
        latent.Dataset.from_dataframe(frame(rating=[np.nan, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"column 'weight' holds inf at row 1"):
        latent.Dataset.from_dataframe(frame(weight=[1.0, np.inf, 1.0]))


def test_values_the_library_rejects_name_row_and_column():
    with pytest.raises(ValueError, match=r'DataFrame: row 1: weight -1 is not a finite number >= 0 \(column "w"\)'):
        latent.Dataset.from_dataframe(frame(w=[1.0, -1.0, 1.0]), weight_col="w")
    with pytest.raises(ValueError, match=r'row 0: empty user id \(column "user"\)'):
        latent.Dataset.from_dataframe(frame(user=["", "b", "c"]))
    with pytest.raises(ValueError, match=r"no rows left after filtering on rating > 5 \(3 rows read\)"):
        latent.Dataset.from_dataframe(frame(), rating_above=5)
    with pytest.raises(ValueError, match=r"filtering on rating > 3 needs ratings"):
        latent.Dataset.from_dataframe(frame().drop(columns="rating"), rating_above=3)
    items = pd.DataFrame({"item": [10, 11], "title": ["Ten", "Eleven"]})
    with pytest.raises(KeyError, match=r'row 2: item id "12" \(column "item"\) is not in the item metadata DataFrame'):
        latent.Dataset.from_dataframe(frame(), items=items)
    items = pd.DataFrame({"item": [10, 11, 12, 10], "title": ["a", "b", "c", "d"]})
    with pytest.raises(ValueError, match=r'row 3: duplicate item id "10" \(first in row 0'):
        latent.Dataset.from_dataframe(frame(), items=items)
    with pytest.raises(ValueError, match=r"unknown item key \"name\" \(valid: id, title\)"):
        latent.Dataset.from_dataframe(frame(), item_key="name")
    with pytest.raises(ValueError, match="items by title need item metadata"):
        latent.Dataset.from_dataframe(frame(), item_key="title")


def test_empty_frames():
    with pytest.raises(ValueError, match="DataFrame has no rows"):
        latent.Dataset.from_dataframe(frame().iloc[:0])
    with pytest.raises(ValueError, match="item metadata DataFrame has no rows"):
        latent.Dataset.from_dataframe(frame(), items=pd.DataFrame({"item": [], "title": []}))
    with pytest.raises(TypeError, match="needs a pandas DataFrame, got dict"):
        latent.Dataset.from_dataframe({"user": [1], "item": [2]})


def test_wrong_array_shapes():
    with pytest.raises(ValueError, match=r"users must be a 1-D array, got shape \(2, 2\)"):
        latent.Dataset.from_arrays(np.ones((2, 2), dtype=int), [1, 2])
    with pytest.raises(ValueError, match="items has 3 values for 2 users"):
        latent.Dataset.from_arrays([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="ratings has 1 values for 2 users"):
        latent.Dataset.from_arrays([1, 2], [1, 2], ratings=[1.0])
    with pytest.raises(ValueError, match="arrays has no rows"):
        latent.Dataset.from_arrays([], [])


def test_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        latent.load_dataset(tmp_path / "nowhere.csv")
    (tmp_path / "r.csv").write_text("user,item\n1,2\n")
    with pytest.raises(FileNotFoundError, match="movies.csv"):
        latent.load_dataset(tmp_path / "r.csv", items=tmp_path / "movies.csv")
    path = tmp_path / "bad.csv"
    path.write_text("user,item,rating\n1,2,x\n")
    with pytest.raises(ValueError, match=r"bad.csv: line 2: .*rating"):
        latent.load_dataset(path)
    with pytest.raises(KeyError, match=r"bad.csv.*no_such"):
        latent.load_dataset(path, user_col="no_such")


def test_split_errors(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match="train.csv"):
        tiny.read_split(tmp_path / "no_split")
    with pytest.raises(ValueError, match=r"unknown split \"sideways\"; valid: random, per-user, last-k"):
        tiny.split("sideways")
    with pytest.raises(ValueError, match="fraction"):
        tiny.split("per-user", test_fraction=1.5)
    with pytest.raises(ValueError, match="timestamps"):
        tiny.split("last-k")


# ---- Models -------------------------------------------------------------------

def test_model_and_parameter_errors(tiny):
    with pytest.raises(ValueError, match=r'unknown model "svd"; valid models: als, bpr, ease, gf-cf, popularity, two-tower'):
        latent.Model("svd")
    with pytest.raises(ValueError, match=r"parameter learning-rate does not apply to model als; its parameters: dim, regularization, .*rated-weight.*write the names with _ for -"):
        latent.Model("als", learning_rate=0.1)
    with pytest.raises(ValueError, match=r'parameter dim = "ten" is not an integer'):
        latent.Model("als", dim="ten")
    with pytest.raises(ValueError, match=r"parameter dim = \[1\] \(list\) is not a bool, int, float or str"):
        latent.Model("als", dim=[1])
    with pytest.raises(ValueError, match="dim"):
        latent.Model("als", dim=0)
    with pytest.raises(ValueError, match=r"not trained: call fit\(\) first"):
        latent.Model("als").recommend(1)
    with pytest.raises(TypeError, match="fit needs a latent.Dataset, got DataFrame"):
        latent.Model("als").fit(pd.DataFrame({"user": [1], "item": [2]}))
    with pytest.raises(ValueError, match=r"test fraction 1.5.* is outside \[0, 1\)"):
        latent.Model("als").fit(tiny, test_fraction=1.5, verbose=False)


@pytest.fixture(scope="module")
def als(tiny):
    model = latent.Model("als", epochs=2, dim=4)
    model.fit(tiny, verbose=False)
    return model


def test_unknown_ids_are_key_errors(als):
    with pytest.raises(KeyError, match=r'unknown user id "zed" \(the model knows 3 users\)'):
        als.recommend("zed")
    with pytest.raises(latent.NotFoundError, match='zed'):
        als.recommend(["ann", "zed"])
    with pytest.raises(KeyError, match='"nope"'):
        als.similar_items("nope")
    with pytest.raises(KeyError, match='"nope"'):
        als.item_embedding("nope")
    with pytest.raises(KeyError, match='"nope"'):
        als.recommend("ann", allow=["nope"])
    with pytest.raises(KeyError):
        als.user_embedding("zed")


def test_bad_query_values(als):
    with pytest.raises(ValueError, match=r"user id 1.5 \(float\) is not an id"):
        als.recommend(1.5)
    with pytest.raises(ValueError, match=r"user id None \(NoneType\) is not an id"):
        als.recommend([None])
    with pytest.raises(ValueError, match="k must be > 0, got 0"):
        als.recommend("ann", k=0)
    with pytest.raises(ValueError, match=r"users must be one id or a 1-D list of ids, got shape \(1, 1\)"):
        als.recommend(np.array([["ann"]]))
    with pytest.raises(ValueError, match=r"threshold 2.* is outside \[-1, 1\]"):
        als.similar_pairs(2.0)
    with pytest.raises(ValueError, match="k must be > 0"):
        als.similar_items("a", k=-1)


def test_evaluate_needs_a_split_of_the_models_data(als, titles):
    split = titles.split("per-user")
    with pytest.raises(ValueError, match="other user or item vocabularies than the model"):
        als.evaluate(split)
    with pytest.raises(TypeError, match="needs a latent.Split"):
        als.evaluate("test.csv")


def test_model_file_errors(tmp_path, als):
    with pytest.raises(FileNotFoundError, match="missing.latent"):
        latent.load(tmp_path / "missing.latent")
    path = tmp_path / "model.latent"
    als.save(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="model.latent"):
        latent.load(path)
    path.write_bytes(b"\x01\x02")
    with pytest.raises(ValueError, match="model.latent"):
        latent.load(path)
    with pytest.raises(OSError):
        als.save(tmp_path / "no" / "such" / "dir" / "m.latent")


# ---- Misuse found by the hardening pass (issue 11) ------------------------------

def _tiny_model():
    data = latent.Dataset.from_dataframe(
        pd.DataFrame({"user": ["a", "b", "c", "a"], "item": ["x", "y", "x", "z"]}))
    model = latent.Model("als", epochs=1, dim=4)
    model.fit(data, verbose=False)
    return model


def test_ids_that_are_not_text():
    # A lone surrogate (os.fsdecode of undecodable bytes) has no UTF-8.
    with pytest.raises(ValueError, match="not valid Unicode text"):
        latent.Dataset.from_dataframe(pd.DataFrame({"user": ["\udcff", "b"], "item": ["x", "y"]}))
    with pytest.raises(ValueError, match=r"user id '\\ud800' is not valid Unicode text"):
        _tiny_model().recommend("\ud800")
    # A NUL byte inside an id is refused, not kept silently.
    with pytest.raises(ValueError, match=r'id "a\\x00b" holds a NUL byte at offset 1'):
        latent.Dataset.from_dataframe(pd.DataFrame({"user": ["a\0b", "b"], "item": ["x", "y"]}))


def test_huge_k_is_capped_like_any_k_above_the_catalog():
    model = _tiny_model()
    ids, _ = model.recommend("a", k=10**18)
    assert sorted(ids) == ["x", "y", "z"]
    with pytest.raises(ValueError, match="k must be > 0"):
        model.recommend("a", k=-10**18)
    with pytest.raises(TypeError, match=r"k must be an int, got float"):
        model.recommend("a", k=2.5)


def test_private_functions_refuse_none_instead_of_crashing():
    with pytest.raises(TypeError, match="incompatible function arguments"):
        latent._latent.fit(None, "als", {}, 0.0, None, None, False, None)


def test_similar_items_of_a_popularity_model_is_refused():
    data = latent.Dataset.from_dataframe(
        pd.DataFrame({"user": ["a", "b", "c", "a"], "item": ["x", "y", "x", "z"]}))
    model = latent.Model("popularity")
    model.fit(data, verbose=False)
    with pytest.raises(ValueError, match="a popularity model has no item similarity"):
        model.similar_items("x")
