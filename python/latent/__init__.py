"""latent: recommender models (two-tower, ALS, BPR, EASE, popularity) from the
latent C++ library, with pandas DataFrames in and numpy arrays out.

    import latent, pandas as pd
    ratings = pd.read_csv("ratings.csv")
    data = latent.Dataset.from_dataframe(ratings, rating_above=3)
    model = latent.Model("two-tower", dim=64, epochs=3)
    history = model.fit(data)                  # a DataFrame, one row per epoch
    ids, scores = model.recommend(42, k=10, exclude_seen=True)
    model.save("movies.latent"); model = latent.load("movies.latent")
"""

import os as _os

# latent's OpenMP threads spin briefly, then sleep while they wait, as the
# CLI's do (include/latent/openmp_wait.hpp says why; the count is its
# kSpinCount). libgomp reads this once, when it is loaded: by the extension
# module below, unless another module loaded it first. A user's own
# OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "10000"

from ._latent import NotFoundError
from ._ids import OOV
from ._data import Dataset, Split, load_dataset, load_train_test
from ._features import Features
from ._model import Model, load, model_names, model_params, system_info, tune

__all__ = ["Dataset", "Features", "Split", "Model", "NotFoundError", "OOV", "load", "load_dataset",
           "load_train_test",
           "model_names", "model_params", "system_info", "tune"]
