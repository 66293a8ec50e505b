"""Warm start from Python: Model.fit(data, init=..., update=...), from a
trained model or a saved file, as `latent train --init` does."""

import numpy as np
import pandas as pd
import pytest

import latent


def frame(pairs):
    return pd.DataFrame(pairs, columns=["user", "item"])


OLD = frame([("ann", "a"), ("ann", "b"), ("bob", "b"), ("bob", "c"), ("cid", "c"),
             ("cid", "d"), ("dee", "a"), ("dee", "d")])
NEW = frame([("ann", "e"), ("eve", "a"), ("eve", "e"), ("bob", "e")])


def trained(kind="als", **params):
    model = latent.Model(kind, dim=4, **params)
    model.fit(latent.Dataset.from_dataframe(OLD), verbose=False)
    return model


def test_warm_start_keeps_rows_and_appends_new_ids(tmp_path):
    old = trained(regularization=0.1, epochs=5)
    path = tmp_path / "als.latent"
    old.save(path)
    loaded = latent.load(path)
    loaded.fit(latent.Dataset.from_dataframe(NEW), init=loaded, verbose=False)
    assert loaded.users[:len(old.users)] == old.users
    assert loaded.items[:len(old.items)] == old.items
    assert loaded.users[len(old.users):] == ["eve"]
    assert loaded.items[len(old.items):] == ["e"]
    assert loaded.config == old.config  # the saved parameters
    assert loaded.metrics is not None
    ids, _ = loaded.recommend("eve", k=2)
    assert len(ids) == 2
    # cid had no new pairs: their vector is the saved one.
    np.testing.assert_array_equal(loaded.user_embedding("cid"), old.user_embedding("cid"))
    # A path is an init too.
    again = latent.Model("als")
    again.fit(latent.Dataset.from_dataframe(NEW), init=path, verbose=False)
    assert again.items[-1] == "e"


def test_update_users_keeps_the_item_vectors():
    old = trained(regularization=0.1, epochs=5)
    model = latent.Model("als")
    model.fit(latent.Dataset.from_dataframe(frame([("eve", "a"), ("ann", "c")])), init=old,
              update="users", verbose=False)
    np.testing.assert_array_equal(model.item_embeddings()[0], old.item_embeddings()[0])
    assert model.users[-1] == "eve"


def test_bad_warm_starts_are_value_errors():
    old = trained(regularization=0.1, epochs=5)
    data = latent.Dataset.from_dataframe(NEW)
    with pytest.raises(ValueError, match="holds a model of kind als, and the model to train is bpr"):
        latent.Model("bpr").fit(data, init=old, verbose=False)
    with pytest.raises(ValueError, match="dim = 8"):
        latent.Model("als", dim=8).fit(data, init=old, verbose=False)
    with pytest.raises(ValueError, match="update users keeps the item side"):
        latent.Model("als").fit(data, init=old, update="users", verbose=False)
    with pytest.raises(ValueError, match="all, users"):
        latent.Model("als").fit(data, init=old, update="items", verbose=False)
    with pytest.raises(ValueError, match="not trained"):
        latent.Model("als").fit(data, init=latent.Model("als"), verbose=False)
