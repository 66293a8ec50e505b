"""Model.tune runs the library's whole tuning flow, as `latent tune` does: the
same trials, choice and test figure for the same data, grid and seed; and the
registry's parameters are Python's keyword arguments, documented."""

import json
import subprocess

import pytest

import latent

from conftest import BUNDLED, CLI


@pytest.fixture(scope="module")
def bundled():
    return latent.load_dataset(BUNDLED)


def test_tune_matches_the_cli(bundled, tmp_path):
    grid = {"regularization": [1, 10], "alpha": [1, 3]}
    model = latent.Model("als", epochs=3, dim=16)
    report = model.tune(bundled, grid=grid, trials=3, verbose=False)
    out = tmp_path / "tune.json"
    done = subprocess.run(
        [str(CLI), "tune", "--data", str(BUNDLED), "--model", "als", "--epochs", "3", "--dim", "16",
         "--grid", "regularization=1,10", "--grid", "alpha=1,3", "--trials", "3", "--json",
         str(out), "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    cli = json.loads(out.read_text())
    assert list(report["trials"]["value"]) == [t["value"] for t in cli["trials"]]
    assert report["best"]["params"] == cli["best"]["params"]
    assert report["best"]["test"] == cli["best"]["test"]
    assert report["search_space"] == {"alpha": ["1", "3"], "regularization": ["1", "10"]}
    # The model became the best one, retrained on the whole train part.
    assert model.params["epochs"] == 3 and "regularization" in model.params
    assert model.config["regularization"] == float(report["best"]["params"]["regularization"])
    assert len(model.users) == len(bundled.users)


def test_tune_function_and_errors(bundled):
    small = bundled.split("random", test_fraction=0.2, seed=7)
    model, report = latent.tune("popularity", bundled, split=small, verbose=False)
    assert model.kind == "popularity" and report["grid_size"] == 1
    with pytest.raises(ValueError, match="parameter alpha does not apply to model bpr"):
        latent.Model("bpr").tune(bundled, grid={"alpha": [1, 2]}, verbose=False)
    with pytest.raises(ValueError, match="validation fraction 1.5"):
        latent.Model("als").tune(bundled, validation_fraction=1.5, verbose=False)
    with pytest.raises(ValueError, match="grid"):
        latent.Model("als").tune(bundled, grid={"alpha": 3}, verbose=False)


def test_every_parameter_is_a_documented_keyword():
    params = latent.model_params()
    doc = latent.Model.__doc__
    for name in latent.model_names():
        assert f"    {name}: " in doc
    for _, row in params.iterrows():
        assert f"{row.keyword}={row.default}" in doc
    assert {"rated_weight", "seed", "threads"} <= set(params[params.model == "every model"].keyword)
    als = latent.model_params("als")
    assert als.iloc[0].keyword == "dim" and als.iloc[0].default == "64"
    with pytest.raises(ValueError, match='unknown model "svd"'):
        latent.model_params("svd")
