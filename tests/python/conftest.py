"""Shared fixtures of the Python suite. ctest runs it with PYTHONPATH pointing
at build/python and LATENT_CLI at the built CLI (tests/CMakeLists.txt); run
by hand:

    PYTHONPATH=build/python LATENT_CLI=build/bin/latent /usr/bin/python3 -m pytest -q tests/python
"""

import os
import pathlib

import pandas as pd
import pytest

import latent

SOURCE_DIR = pathlib.Path(os.environ.get("LATENT_SOURCE_DIR",
                                         pathlib.Path(__file__).resolve().parents[2]))
BUNDLED = SOURCE_DIR / "data" / "ml-latest-small"
CLI = pathlib.Path(os.environ.get("LATENT_CLI", SOURCE_DIR / "build" / "bin" / "latent"))


def ml100k_dir():
    """MovieLens 100K lives outside the project (its license forbids copying
    it in): $LATENT_ML100K, else ../shared/data/ml-100k."""
    return pathlib.Path(os.environ.get("LATENT_ML100K")
                        or os.environ.get("LATENT_ML100K_DEFAULT")
                        or SOURCE_DIR.parent / "shared" / "data" / "ml-100k")


@pytest.fixture(scope="session")
def ratings():
    return pd.read_csv(BUNDLED / "ratings.csv")


@pytest.fixture(scope="session")
def movies():
    return pd.read_csv(BUNDLED / "movies.csv")


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory, ratings):
    """The first 6,000 bundled ratings as a CSV file: small enough that every
    model (EASE included) trains in well under a second."""
    path = tmp_path_factory.mktemp("small") / "ratings.csv"
    ratings.head(6000).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def titles(ratings, movies):
    """The tutorial's data: bundled ratings > 3 with movies keyed by title."""
    return latent.Dataset.from_dataframe(ratings, items=movies, item_key="title", rating_above=3)


@pytest.fixture(scope="session")
def tiny():
    """Three users, four items, string ids."""
    frame = pd.DataFrame({"user": ["ann", "ann", "bob", "bob", "cid", "cid"],
                          "item": ["a", "b", "b", "c", "c", "d"],
                          "rating": [5.0, 4.0, 5.0, 2.0, 4.0, 5.0]})
    return latent.Dataset.from_dataframe(frame)


@pytest.fixture(scope="session")
def tutorial_model(titles):
    """The tutorial's two-tower model on the bundled data."""
    model = latent.Model("two-tower", dim=64, optimizer="adagrad", learning_rate=0.5,
                         batch_size=4096, epochs=3, negatives="in-batch")
    model.fit(titles, verbose=False)
    return model
