"""A model registered by the test suite alone (tests/registry/
cooccurrence_model.cpp, compiled into this build of the module) reaches the
Python front end with no edit to it: model_names(), model_params(), the
Model docstring, keyword arguments and their checks, fit, recommend, fold-in
and tune."""

import pandas as pd
import pytest

import latent


@pytest.fixture()
def data():
    frame = pd.DataFrame({"user": list("aabbbccddd"), "item": [1, 2, 1, 2, 3, 3, 4, 3, 4, 1]})
    return latent.Dataset.from_dataframe(frame)


def test_it_is_listed_with_its_parameters():
    assert latent.model_names()[-1] == "cooccurrence"
    params = latent.model_params("cooccurrence")
    own = params[params.model == "cooccurrence"]
    assert list(own.keyword) == ["shrink", "power", "binary"]
    assert list(own.default) == ["2", "1", "true"]
    assert "every model" in set(params.model)
    doc = latent.Model.__doc__
    assert "cooccurrence: Test-only item co-occurrence model" in doc
    assert "shrink=2, >= 0: Added to an item's count before normalising" in doc


def test_keywords_are_checked_and_train(data):
    with pytest.raises(ValueError, match=r'parameter power = "9" is outside \[0, 4\]'):
        latent.Model("cooccurrence", power=9)
    with pytest.raises(ValueError, match="parameter alpha does not apply to model cooccurrence"):
        latent.Model("cooccurrence", alpha=1)
    model = latent.Model("cooccurrence", shrink=1, binary=False)
    model.fit(data, verbose=False)
    assert model.config == {"shrink": 1.0, "power": 1.0, "binary": False}
    items, scores = model.recommend("a", k=2, exclude_seen=True)
    assert list(items) == [3, 4]
    assert scores[0] == pytest.approx(2 / 4 + 1 / 3)
    folded, _ = model.recommend_for_items([4], k=1)
    assert list(folded) == [3]


def test_tune_searches_its_default_grid():
    # Two taste groups, as the C++ tests' tiny fixture.
    rows = [(f"u{u}", (u > 15) * 10 + 1 + (u * 3 + j * 7) % 10)
            for u in range(1, 31) for j in range(6)]
    data = latent.Dataset.from_dataframe(pd.DataFrame(rows, columns=["user", "item"]))
    model = latent.Model("cooccurrence", power=1)
    report = model.tune(data, trials=10, verbose=False)
    assert report["search_space"] == {"shrink": ["0", "2", "10"]}
    assert len(report["trials"]) == 3
    best = report["best"]["params"]
    assert model.params == {"power": 1, "shrink": float(best["shrink"])}
    assert model.config["shrink"] == float(best["shrink"])
