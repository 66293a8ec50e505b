"""The ranking task from Python (issue 16): a two-tower model trained with
rating_weight predicts ratings with Model.predict, reports the test RMSE,
keeps its rating network through save and load, and gives the CLI's answers
for the same model file."""

import subprocess

import numpy as np
import pytest

import latent

from conftest import BUNDLED, CLI


@pytest.fixture(scope="session")
def rated(ratings):
    return latent.Dataset.from_dataframe(ratings)


@pytest.fixture(scope="session")
def ranking_model(rated):
    model = latent.Model("two-tower", dim=32, learning_rate=0.1, batch_size=1024, epochs=3,
                         retrieval_weight=0, rating_weight=1, rating_layers=[64, 16], threads=2)
    model.fit(rated, test_fraction=0.2, verbose=False)
    return model


def test_predict_gives_ratings_better_than_the_mean(ranking_model, ratings):
    assert ranking_model.predicts_ratings
    last = ranking_model.training["epochs"][-1]
    assert "test_rmse" in last and "train_rmse" in last
    # The RMSE of predicting every rating by the mean is the ratings' std.
    assert last["test_rmse"] < ratings["rating"].std() - 0.05
    users = ratings["userId"].astype(str).head(500).tolist()
    items = ratings["movieId"].astype(str).head(500).tolist()
    predicted = ranking_model.predict(users, items)
    assert predicted.dtype == np.float32 and predicted.shape == (500,)
    assert 0.5 < predicted.mean() < 5.5
    one = ranking_model.predict(users[3], items[3])
    assert one == pytest.approx(predicted[3])


def test_save_load_and_the_cli_agree(ranking_model, tmp_path):
    path = tmp_path / "rating.latent"
    ranking_model.save(path)
    loaded = latent.load(path)
    assert loaded.predicts_ratings
    users, items = ["1", "1", "42"], ["1", "50", "260"]
    np.testing.assert_array_equal(loaded.predict(users, items), ranking_model.predict(users, items))
    out = subprocess.run([CLI, "predict", str(path), "--user", "1", "--item", "50"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "user,item,rating"
    assert float(out[1].split(",")[2]) == pytest.approx(float(loaded.predict("1", "50")), abs=1e-5)


def test_a_model_without_a_rating_task_predicts_its_ranking_scores(tiny):
    model = latent.Model("two-tower", epochs=1, threads=1)
    model.fit(tiny, verbose=False)
    assert not model.predicts_ratings
    ids, scores = model.recommend("ann", k=1)
    assert model.predict("ann", ids[0]) == pytest.approx(scores[0], abs=1e-5)


def test_errors(ranking_model, ratings):
    with pytest.raises(ValueError, match="2 users for 1 items"):
        ranking_model.predict(["1", "2"], ["1"])
    with pytest.raises(KeyError, match="nope"):
        ranking_model.predict("1", "nope")
    clicks = latent.Dataset.from_dataframe(ratings[["userId", "movieId"]].head(200))
    with pytest.raises(ValueError, match="needs ratings"):
        latent.Model("two-tower", rating_weight=1, epochs=1).fit(clicks, verbose=False)
    with pytest.raises(ValueError, match="nothing to train"):
        latent.Model("two-tower", retrieval_weight=0, epochs=1).fit(clicks, verbose=False)


def test_tune_chooses_by_the_rmse_with_features(rated):
    model = latent.Model("two-tower", dim=16, batch_size=1024, epochs=2, rating_weight=1,
                         rating_layers=[32], threads=2)
    report = model.tune(rated, grid={"learning_rate": [0.01, 0.3]}, metric="rmse",
                        item_features=latent.Features(BUNDLED, "genres:multi"), verbose=False)
    trials = report["trials"]
    assert len(trials) == 2
    assert report["best"]["value"] == trials["value"].min()
    assert "rmse" in report["best"]["test"]
    assert model.training["item_features"]["columns"] == "genres:multi"
    with pytest.raises(ValueError, match="rating_weight 0 trains no rating task|rating-weight 0"):
        latent.Model("two-tower", epochs=1).tune(rated, metric="rmse", verbose=False)
