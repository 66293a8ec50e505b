"""Data sets from DataFrames, arrays and the loaders; filters; splits."""

import numpy as np
import pandas as pd
import pytest

import latent

from conftest import BUNDLED


def test_dataframe_equals_the_loader_on_the_bundled_data(ratings, movies):
    from_frame = latent.Dataset.from_dataframe(ratings, items=movies, item_key="title",
                                               rating_above=3)
    from_file = latent.load_dataset(BUNDLED, rating_above=3, item_key="title")
    assert from_frame.users == from_file.users
    assert from_frame.items == from_file.items
    assert from_frame.item_titles == from_file.item_titles
    pd.testing.assert_frame_equal(from_frame.to_frame(), from_file.to_frame())
    assert len(from_frame) == int((ratings.rating > 3).sum())
    assert from_frame.rows_read == len(ratings)


def test_default_columns_int_ids_and_optional_columns(ratings):
    data = latent.Dataset.from_dataframe(ratings.head(100))
    frame = data.to_frame()
    assert list(frame.columns) == ["user", "item", "rating", "timestamp"]
    assert frame.user.dtype == np.int64 and frame.item.dtype == np.int64
    # Input order and raw ids are kept.
    assert frame.item.tolist() == ratings.movieId.head(100).tolist()
    assert frame.rating.tolist() == ratings.rating.head(100).tolist()
    assert frame.timestamp.tolist() == ratings.timestamp.head(100).tolist()
    assert data.users == sorted(set(ratings.userId.head(100)))


def test_string_ids_weights_and_datetimes():
    frame = pd.DataFrame({"who": ["x", "y", "x"], "what": ["p", "q", "q"],
                          "w": [1.0, 0.5, 2.0],
                          "when": pd.to_datetime(["1970-01-01 00:00:10", "1970-01-02", "2000-01-01"])})
    data = latent.Dataset.from_dataframe(frame, user_col="who", item_col="what", weight_col="w",
                                         timestamp_col="when")
    assert data.users == ["x", "y"]
    out = data.to_frame()
    assert out.user.tolist() == ["x", "y", "x"]
    assert out.weight.tolist() == [1.0, 0.5, 2.0]
    assert out.timestamp.tolist() == [10, 86400, 946684800]


def test_categorical_and_pandas_string_ids():
    frame = pd.DataFrame({"user": pd.Categorical(["a", "b"]),
                          "item": pd.array(["i", "j"], dtype="string")})
    data = latent.Dataset.from_dataframe(frame)
    assert data.users == ["a", "b"] and data.items == ["i", "j"]


def test_from_arrays_matches_from_dataframe():
    users = np.array([3, 1, 3, 2])
    items = np.array(["b", "a", "c", "a"])
    ratings = np.array([5.0, 3.0, 4.0, 5.0])
    data = latent.Dataset.from_arrays(users, items, ratings=ratings, rating_above=3)
    assert data.users == [2, 3]
    assert data.to_frame().item.tolist() == ["b", "c", "a"]
    assert len(latent.Dataset.from_arrays([1, 2], [7, 8])) == 2


def test_catalog_by_id_keeps_every_item_and_titles(ratings, movies):
    data = latent.Dataset.from_dataframe(ratings.head(50), items=movies)
    assert data.items == sorted(movies.movieId)
    assert data.item_titles[0] == ""
    row = data.items.index(1) + 1
    assert data.item_titles[row] == "Toy Story (1995)"


def test_load_dataset_csv_with_column_flags(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("u\ti\tr\n1\t10\t4\n2\t11\t2\n")
    data = latent.load_dataset(path, user_col="u", item_col="i", rating_col="r", rating_above=3)
    assert data.users == [1] and data.items == [10]


def test_load_dataset_user_lines_gzip(tmp_path):
    """NGCF's "user item item ..." lines, gzip-compressed, through the C++ loader."""
    import gzip
    path = tmp_path / "train.txt.gz"
    path.write_bytes(gzip.compress(b"0 5 6 5\n1\t6\n\n2\n0 7\n"))
    data = latent.load_dataset(path, format="user-lines")
    frame = data.to_frame()
    assert frame.user.tolist() == [0, 0, 1, 0] and frame.item.tolist() == [5, 6, 6, 7]
    assert data.users == [0, 1] and data.items == [5, 6, 7]
    assert data.rows_read == 5
    assert data.description == f"user-lines at {path}"
    with pytest.raises(ValueError, match="user-lines"):
        latent.load_dataset(path, format="user-lines", rating_above=3)
    path.write_bytes(gzip.compress(b"0 5 6\n")[:-4])
    with pytest.raises(ValueError, match="truncated gzip data"):
        latent.load_dataset(path, format="user-lines")


def test_load_dataset_reads_a_glob_of_part_files_as_one_table(tmp_path):
    """Part files (a header each, gzip or not) read as the one file they split."""
    import gzip
    whole = tmp_path / "all.csv"
    whole.write_text("user,item,rating\n1,10,4\n2,11,5\n1,12,3\n")
    (tmp_path / "part-0.csv").write_text("user,item,rating\n1,10,4\n")
    (tmp_path / "part-1.csv.gz").write_bytes(gzip.compress(b"user,item,rating\n2,11,5\n1,12,3\n"))
    parts = latent.load_dataset(tmp_path / "part-*", rating_above=3)
    one = latent.load_dataset(whole, rating_above=3)
    assert parts.to_frame().equals(one.to_frame())
    assert parts.users == one.users and parts.items == one.items
    with pytest.raises(FileNotFoundError, match="no file matches"):
        latent.load_dataset(tmp_path / "nothing-*.csv")


def test_load_train_test_reads_the_papers_protocol(tmp_path):
    """A train file and its own test file: one vocabulary, the Split as given;
    a test user without training pairs is refused naming the file."""
    import gzip
    train = tmp_path / "train.txt.gz"
    test = tmp_path / "test.txt"
    train.write_bytes(gzip.compress(b"0 5 6\n1 6 7\n2 5 7\n"))
    test.write_text("0 7\n1 5 8\n")
    split = latent.load_train_test(train, test, format="user-lines")
    assert isinstance(split, latent.Split)
    assert split.train.user.tolist() == [0, 0, 1, 1, 2, 2]
    assert split.test.user.tolist() == [0, 1, 1] and split.test.item.tolist() == [7, 5, 8]
    assert split.data.items == [5, 6, 7, 8]  # the test's new item joins the vocabulary
    model = latent.Model("popularity")
    model.fit(split.data, split=split, verbose=False)
    result = model.evaluate(split, k=1)
    assert result["test_pairs"] == 3
    test.write_text("0 7\n9 5\n")
    with pytest.raises(ValueError, match="test.txt"):
        latent.load_train_test(train, test, format="user-lines")
    with pytest.raises(FileNotFoundError):
        latent.load_train_test(train, tmp_path / "missing.txt", format="user-lines")


@pytest.mark.parametrize("method", ["random", "per-user"])
def test_splits_partition_and_round_trip(titles, tmp_path, method):
    split = titles.split(method, test_fraction=0.2, seed=7)
    train, test = split.train, split.test
    assert len(train) + len(test) == len(titles)
    assert len(test) == pytest.approx(0.2 * len(titles), rel=0.05)
    assert set(test.user) <= set(train.user)  # every test user keeps training data
    again = titles.split(method, test_fraction=0.2, seed=7)
    pd.testing.assert_frame_equal(again.test, test)
    split.to_csv(tmp_path)
    back = titles.read_split(tmp_path)
    pd.testing.assert_frame_equal(back.test.drop(columns=["rating", "timestamp"]),
                                  test.drop(columns=["rating", "timestamp"]))


def test_last_k_split_holds_out_the_latest(ratings):
    data = latent.Dataset.from_dataframe(ratings.head(2000))
    test = data.split("last-k", last_k=2).test
    head = ratings.head(2000)
    head = head[head.groupby("userId").userId.transform("size") > 2]  # others stay in train
    latest = head.sort_values("timestamp", kind="stable").groupby("userId").tail(2)
    assert len(test) == len(latest)
    assert set(zip(test.user, test.item)) == set(zip(latest.userId, latest.movieId))


def test_columns_are_read_only_views_and_frames_are_the_callers(titles):
    first, second = titles._native.columns(), titles._native.columns()
    assert not first["item"].flags.writeable
    assert np.shares_memory(first["item"], second["item"])  # no copy per call
    frame = titles.to_frame()
    frame.loc[0, "rating"] = -1.0  # the DataFrame is the caller's to change
    assert titles.to_frame().loc[0, "rating"] > 3


def test_the_binding_reads_strided_arrays():
    """numpy views with strides (a column of a 2-D array, every other value)
    reach the library as their values, not as the memory they sit in."""
    table = np.arange(12, dtype=np.float64).reshape(6, 2)
    native = latent._latent.dataset_from_columns(
        users=np.arange(6), items=np.arange(12)[::2], ratings=table[:, 1], timestamps=None,
        weights=None, catalog_ids=None, catalog_titles=None, rating_above=None, item_key="id",
        source="arrays", names={})
    data = latent.Dataset(native)
    assert data.items == [0, 2, 4, 6, 8, 10]
    assert data.to_frame().rating.tolist() == [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]
