"""Side features from Python (issue 16): latent.Features from a DataFrame, a
file or MovieLens's own attributes; the two-tower model's towers; cold-start
queries; the same answers as the CLI's for the same model file; and errors
that name the feature."""

import subprocess

import numpy as np
import pandas as pd
import pytest

import latent

from conftest import BUNDLED, CLI, ml100k_dir


@pytest.fixture(scope="session")
def ratings_data(ratings):
    return latent.Dataset.from_dataframe(ratings, rating_above=3)


@pytest.fixture(scope="session")
def movie_features(movies):
    """movies.csv with genres as lists and a year column (NaN when absent)."""
    frame = movies.copy()
    frame["genres"] = frame["genres"].str.split("|")
    frame["year"] = pd.to_numeric(frame["title"].str.extract(r"\((\d{4})\)\s*$")[0],
                                  errors="coerce")
    return frame


def test_items_from_a_dataframe_give_cold_start_neighbours(ratings_data, movie_features,
                                                           tmp_path):
    features = latent.Features(movie_features, {"genres": "multi", "year": "numeric:buckets=8"},
                               id="movieId")
    model = latent.Model("two-tower", epochs=1, item_ids=False, threads=2)
    model.fit(ratings_data, item_features=features, verbose=False)
    assert model.training["item_features"]["columns"] == "genres:multi,year:numeric:buckets=8"
    new_item = {"genres": ["Animation", "Children", "Comedy"], "year": 2019}
    ids, sims = model.similar_to_features(new_item, k=5)
    assert len(ids) == 5 and np.all(np.diff(sims) <= 0)
    # The new item's vector is what the search compares by cosine.
    v = model.item_vector_for_features(new_item)
    items, item_ids = model.item_embeddings()
    row = list(item_ids).index(ids[0])
    cosine = items[row] @ v / (np.linalg.norm(items[row]) * np.linalg.norm(v))
    assert cosine == pytest.approx(sims[0], rel=1e-5)
    # The same model file gives the CLI's answer.
    path = tmp_path / "m.latent"
    model.save(path)
    out = subprocess.run([str(CLI), "similar", str(path), "--item-features",
                          "genres=Animation|Children|Comedy", "--item-features", "year=2019",
                          "--k", "5"], capture_output=True, text=True, check=True).stdout
    cli_ids = [int(line.split(",")[1]) for line in out.splitlines()[1:]]
    assert cli_ids == [int(i) for i in ids]
    frame = latent.load(path).similar_to_features(new_item, k=3, as_frame=True)
    assert list(frame.columns) == ["item", "similar_item", "similarity", "rank"]


def test_users_from_a_dataframe_with_layers(ratings_data, ratings):
    users = pd.DataFrame({"userId": sorted(ratings["userId"].unique())})
    users["segment"] = ["s%d" % (u % 3) for u in users["userId"]]
    users["score"] = [float(u % 7) if u % 5 else np.nan for u in users["userId"]]
    model = latent.Model("two-tower", epochs=1, layers=[32, 16], user_ids=False, threads=2)
    model.fit(ratings_data, user_features=latent.Features(users, "segment:categorical,score:numeric"),
              verbose=False)
    assert model.dim == 16
    assert model.config["layers"] == "32,16"
    ids, scores = model.recommend_for_features({"segment": "s1", "score": 3}, k=4)
    assert len(ids) == 4
    # Missing and unseen values are allowed: OOV, not errors.
    ids, _ = model.recommend_for_features({"segment": "s99", "score": None}, k=4)
    assert len(ids) == 4


def test_features_from_a_file_and_from_movielens(ratings_data, tmp_path):
    model = latent.Model("two-tower", epochs=1, threads=2)
    model.fit(ratings_data, item_features=latent.Features(BUNDLED, "genres:multi,tags:multi"),
              verbose=False)
    assert model.training["item_features"]["known_with_features"] == len(ratings_data.items)
    path = tmp_path / "users.tsv"
    path.write_text("id\tgroup\n1\ta\n2\tb\n3\ta\n")
    model.fit(ratings_data, user_features=latent.Features(path, {"group": "categorical"}),
              verbose=False)
    assert model.training["user_features"]["known_with_features"] == 3


def test_errors_name_the_feature(ratings_data, movie_features, tiny):
    plain = latent.Model("two-tower", epochs=1)
    plain.fit(tiny, verbose=False)
    with pytest.raises(ValueError, match=r'no user features \(such as "age"\)'):
        plain.recommend_for_features({"age": 30})
    with pytest.raises(ValueError, match=r'no item features \(such as "genres"\)'):
        plain.similar_to_features({"genres": "Drama"})
    features = latent.Features(movie_features, {"genres": "multi"}, id="movieId")
    model = latent.Model("two-tower", epochs=1)
    model.fit(ratings_data, item_features=features, verbose=False)
    with pytest.raises(ValueError, match=r'"director" is not one of the model\'s item features: '
                                         r'genres'):
        model.similar_to_features({"director": "Ozu"})
    with pytest.raises(ValueError, match=r"a list of feature values holds 3"):
        model.similar_to_features({"genres": ["Drama", 3]})
    with pytest.raises(TypeError, match=r"features must be a dict"):
        model.similar_to_features(["Drama"])
    with pytest.raises(ValueError, match=r"als takes no side features"):
        latent.Model("als").fit(ratings_data, item_features=features, verbose=False)
    with pytest.raises(ValueError, match=r"column 'genre' is not in the DataFrame's columns"):
        latent.Model("two-tower").fit(
            ratings_data, item_features=latent.Features(movie_features, "genre:multi",
                                                        id="movieId"), verbose=False)
    with pytest.raises(TypeError, match=r"item_features must be a latent.Features"):
        latent.Model("two-tower").fit(ratings_data, item_features="genres:multi", verbose=False)
    with pytest.raises(ValueError, match=r"parameter layers = \[32, 'x'\] is not a list of ints"):
        latent.Model("two-tower", layers=[32, "x"])


@pytest.mark.skipif(not (ml100k_dir() / "u.data").exists(),
                    reason="MovieLens 100K not found (set LATENT_ML100K); skipping")
def test_ml100k_users_and_items_from_their_attributes():
    data = latent.load_dataset(str(ml100k_dir()), rating_above=3)
    model = latent.Model("two-tower", epochs=1, threads=2)
    model.fit(data, user_features=latent.Features(ml100k_dir(), "age:numeric,occupation:categorical"),
              item_features=latent.Features(ml100k_dir(), "genres:multi,title:text"), verbose=False)
    ids, _ = model.recommend_for_features({"age": 24, "occupation": "student"}, k=3)
    assert len(ids) == 3


def test_context_features_take_each_ratings_time(ratings_data, ratings):
    model = latent.Model("two-tower", epochs=1, threads=2)
    model.fit(ratings_data, test_fraction=0.2, context_features={"timestamp": "timestamp"},
              verbose=False)
    assert model.training["context_features"] == "timestamp:timestamp"
    assert model.history["test_top_100"].iloc[-1] > 0
    ids, _ = model.recommend_for_features({"timestamp": "2015-06-01"}, k=5)
    assert len(ids) == 5
    with pytest.raises(ValueError, match='no column "hour"'):
        model.fit(ratings_data, context_features="hour:numeric", verbose=False)
    with pytest.raises(TypeError, match="context_features"):
        model.fit(ratings_data, context_features=["timestamp"], verbose=False)
    untimed = latent.Dataset.from_dataframe(ratings[["userId", "movieId"]].head(500))
    with pytest.raises(ValueError, match="no timestamps"):
        model.fit(untimed, context_features="timestamp:timestamp", verbose=False)


def _device_frame():
    """Items 1-20 watched on the phone, 21-40 on the tv: only the device says which."""
    rows = []
    for u in range(1, 41):
        for j in range(20):
            item = 1 + (u * 7 + j * 3) % 20 + (j % 2) * 20
            rows.append((u, item, "tv" if item > 20 else "phone"))
    return pd.DataFrame(rows, columns=["user", "item", "device"])


def test_a_column_of_the_data_is_a_context_feature():
    frame = _device_frame()
    data = latent.Dataset.from_dataframe(frame, context_cols=["device"])
    assert list(data.to_frame()["device"]) == list(frame["device"])
    split = data.split(test_fraction=0.2, seed=3)
    assert set(split.test["device"]) <= {"phone", "tv"}
    model = latent.Model("two-tower", epochs=30, dim=16, learning_rate=0.2, negatives="catalog",
                         threads=1)
    model.fit(data, split=split, context_features={"device": "categorical"}, verbose=False)
    assert model.training["context_features"] == "device:categorical"
    tv, _ = model.recommend(3, k=10, context={"device": "tv"})
    phone, _ = model.recommend(3, k=10, context={"device": "phone"})
    assert sum(int(i) > 20 for i in tv) >= 9
    assert sum(int(i) > 20 for i in phone) <= 1

    # A missing value is missing, not the text "nan"; a column that is not
    # there, or was not kept, is named.
    gaps = frame.astype({"device": object})
    gaps.loc[0, "device"] = None
    assert latent.Dataset.from_dataframe(gaps, context_cols="device").to_frame()["device"][0] == ""
    with pytest.raises(latent.NotFoundError, match="'page'"):
        latent.Dataset.from_dataframe(frame, context_cols=["page"])
    with pytest.raises(ValueError, match='no column "device".*context_cols'):
        model.fit(latent.Dataset.from_dataframe(frame), context_features="device:categorical",
                  verbose=False)


def test_a_warm_start_continues_a_model_with_context(ratings_data):
    model = latent.Model("two-tower", epochs=1, threads=2)
    model.fit(ratings_data, context_features={"timestamp": "timestamp"}, verbose=False)
    more = latent.Model("two-tower", epochs=1, threads=2)
    more.fit(ratings_data, init=model, context_features={"timestamp": "timestamp"}, verbose=False)
    assert more.training["warm_start"]["init_users"] == len(model.users)
    assert more.training["context_features"] == "timestamp:timestamp"
    ids, _ = more.recommend(model.users[0], k=5, context={"timestamp": "2017-01-01"})
    assert len(ids) == 5
    with pytest.raises(ValueError, match="takes the context features timestamp:timestamp"):
        latent.Model("two-tower", epochs=1).fit(ratings_data, init=model, verbose=False)


def test_a_known_users_recommendations_in_a_context(ratings_data):
    model = latent.Model("two-tower", epochs=2, threads=2)
    model.fit(ratings_data, context_features={"timestamp": "timestamp"}, verbose=False)
    users = list(model.users[:2])
    early, _ = model.recommend(users, k=5, context={"timestamp": "1997-01-01"})
    late, _ = model.recommend(users, k=5, context={"timestamp": "2017-01-01"})
    assert early.shape == (2, 5) and late.shape == (2, 5)
    assert (early != late).any()
    frame = model.recommend(users[0], k=3, context={"timestamp": "2017-01-01"}, as_frame=True)
    assert list(frame["user"]) == [users[0]] * 3
    with pytest.raises(ValueError, match="hour"):
        model.recommend(users[0], context={"hour": 3})
    with pytest.raises(TypeError, match="context"):
        model.recommend(users[0], context="timestamp=5")
    plain = latent.Model("two-tower", epochs=1, threads=2)
    plain.fit(ratings_data, verbose=False)
    with pytest.raises(ValueError, match="no context features"):
        plain.recommend(users[0], context={"timestamp": "2017-01-01"})
