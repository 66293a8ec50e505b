"""Data sets from pandas DataFrames, numpy arrays or files, and splits.

Only conversion and validation of pandas/numpy input live here; vocabularies,
filters, the item metadata join and splits are the C++ library's."""

import errno
import glob
import os

import numpy as np
import pandas as pd

from . import _latent
from ._ids import IdMap

_DEFAULTS = _latent.defaults()
# The column names the loaders look for when none is given (dataset.hpp).
_COLUMNS = _DEFAULTS["columns"]


def _pick(frame, given, defaults, role, source, required):
    if given is not None:
        if given not in frame.columns:
            raise _latent.NotFoundError(
                f"{source}: no {role} column {given!r}; its columns: {list(frame.columns)}")
        return given
    for name in defaults:
        if name in frame.columns:
            return name
    if required:
        raise _latent.NotFoundError(
            f"{source}: no {role} column: name it with {role}_col= (looked for "
            f"{', '.join(map(repr, defaults))}; its columns: {list(frame.columns)})")
    return None


def _first_bad(series, bad_mask):
    return series.index[np.asarray(bad_mask)][0]


def _id_values(series, source, column):
    """A column of ids as an int64/uint64 array, or an object array of
    str/int; ValueError naming the column and row for anything else."""
    missing = series.isna()
    if missing.any():
        raise ValueError(f"{source}: column {column!r} has a missing id (NaN/None) at row "
                         f"{_first_bad(series, missing)!r}; drop or fill those rows first")
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise ValueError(f"{source}: column {column!r} has dtype bool; ids must be integers "
                         "or strings")
    if pd.api.types.is_integer_dtype(dtype):
        unsigned = pd.api.types.is_unsigned_integer_dtype(dtype)
        return series.to_numpy(dtype=np.uint64 if unsigned else np.int64)
    if pd.api.types.is_float_dtype(dtype):
        raise ValueError(f"{source}: column {column!r} has dtype {dtype}; ids must be integers "
                         "or strings (.astype('int64') if they are whole numbers)")
    if (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)):
        values = series.astype(object).to_numpy()
        if pd.api.types.infer_dtype(values, skipna=False) in ("string", "integer"):
            return values
        # Something else is in there: find the first offender for the message.
        ok = np.fromiter((isinstance(v, (str, int, np.integer))
                          and not isinstance(v, (bool, np.bool_)) for v in values),
                         dtype=bool, count=len(values))
        if not ok.all():
            label = _first_bad(series, ~ok)
            value = series.loc[label]
            if isinstance(value, pd.Series):  # duplicate labels
                value = values[int(np.argmin(ok))]
            raise ValueError(f"{source}: column {column!r} holds {value!r} "
                             f"({type(value).__name__}) at row {label!r}; ids must be "
                             "integers or strings")
        return values
    raise ValueError(f"{source}: column {column!r} has dtype {dtype}; ids must be integers "
                     "or strings")


def _number_values(series, source, column, integer=False):
    dtype = series.dtype
    if integer and pd.api.types.is_datetime64_any_dtype(dtype):
        missing = series.isna()
        if missing.any():
            raise ValueError(f"{source}: column {column!r} has a missing time (NaT) at row "
                             f"{_first_bad(series, missing)!r}")
        # Unix seconds, the unit of MovieLens timestamps.
        times = series.dt.tz_convert("UTC") if getattr(dtype, "tz", None) else series
        return (times.to_numpy(dtype="datetime64[s]").astype(np.int64))
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        what = "integers or datetimes" if integer else "numbers"
        raise ValueError(f"{source}: column {column!r} has dtype {dtype}; it must hold {what}")
    missing = series.isna()
    if missing.any():
        raise ValueError(f"{source}: column {column!r} has a missing value (NaN) at row "
                         f"{_first_bad(series, missing)!r}")
    if integer:
        if not pd.api.types.is_integer_dtype(dtype):
            raise ValueError(f"{source}: column {column!r} has dtype {dtype}; timestamps "
                             "must be integers or datetimes")
        return series.to_numpy(dtype=np.int64)
    values = series.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"{source}: column {column!r} holds {values[bad][0]!r} at row "
                         f"{_first_bad(series, bad)!r}; values must be finite")
    return values


def _require_file(path):
    """A missing file, or a glob pattern that matches none, is a
    FileNotFoundError here, not the library's NotFound (which Python sees as
    a KeyError, the right thing for ids)."""
    path = os.fspath(path)
    if os.path.exists(path):
        return path
    if glob.has_magic(path):
        if not glob.glob(path):
            raise FileNotFoundError(errno.ENOENT, "no file matches this pattern", path)
        return path
    raise FileNotFoundError(errno.ENOENT, "no such file or directory", path)


def _column_list(columns, what):
    """A list of column names: None is none, a str is one."""
    if columns is None:
        return []
    if isinstance(columns, str):
        return [columns]
    try:
        return list(columns)
    except TypeError:
        raise TypeError(f"{what} must be a list of column names, got "
                        f"{type(columns).__name__}") from None


def _text_values(frame, col, source):
    """Column col of frame as a list of str, a missing value as ''."""
    if col not in frame.columns:
        raise _latent.NotFoundError(f"{source}: no context column {col!r}; its columns: "
                                    f"{list(frame.columns)}")
    return frame[col].astype("string").fillna("").tolist()


class Dataset:
    """Interactions with their user and item vocabularies (row 0 of each is
    OOV), as latent trains on them. Build one with from_dataframe,
    from_arrays or latent.load_dataset."""

    def __init__(self, native):
        self._native = native
        self._users = IdMap(native.user_ids())
        self._items = IdMap(native.item_ids())

    @classmethod
    def from_dataframe(cls, frame, user_col=None, item_col=None, rating_col=None,
                       timestamp_col=None, weight_col=None, items=None, items_id_col=None,
                       items_title_col=None, rating_above=None, item_key="id",
                       source="DataFrame", context_cols=None):
        """Interactions from a pandas DataFrame.

        frame: one row per interaction. user_col / item_col: the id columns
        (ints or strs; default: the first of user_id, userId, user and of
        item_id, movieId, movie_id, item). rating_col / timestamp_col /
        weight_col: optional (default: the column named rating, timestamp,
        weight when present); timestamps are integers or datetimes (stored
        as Unix seconds); a weight scales its pair's loss (two-tower) or is
        ALS's r. items: an optional DataFrame of item metadata joined on the
        item id (items_id_col: default the item column's name when present,
        else the first column; items_title_col: default title, movie_title,
        name, else the second column); it is then the item vocabulary, the
        whole catalog. rating_above: keep rows with rating > T. item_key:
        "id", or "title" to key items by the metadata's titles.
        context_cols: columns kept as each pair's context (their values as
        text; a missing value is ''), for fit's context_features other than
        the timestamp (the device, the page).
        """
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"from_dataframe needs a pandas DataFrame, got {type(frame).__name__}")
        if len(frame) == 0:
            raise ValueError(f"{source} has no rows")
        user_col = _pick(frame, user_col, _COLUMNS["user"], "user", source, True)
        item_col = _pick(frame, item_col, _COLUMNS["item"], "item", source, True)
        rating_col = _pick(frame, rating_col, _COLUMNS["rating"], "rating", source, False)
        timestamp_col = _pick(frame, timestamp_col, _COLUMNS["timestamp"], "timestamp", source,
                              False)
        weight_col = _pick(frame, weight_col, _COLUMNS["weight"], "weight", source, False)
        if rating_above is not None and rating_col is None:
            raise ValueError(f"{source}: filtering on rating > {rating_above} needs ratings, and "
                             f"it has no rating column (name one with rating_col=; its columns: "
                             f"{list(frame.columns)})")
        names = {"user": str(user_col), "item": str(item_col)}
        catalog_ids = catalog_titles = None
        if items is not None:
            catalog = "item metadata DataFrame"
            if not isinstance(items, pd.DataFrame):
                raise TypeError(f"items must be a pandas DataFrame, got {type(items).__name__}")
            if len(items) == 0:
                raise ValueError(f"{catalog} has no rows")
            if items_id_col is None:
                items_id_col = item_col if item_col in items.columns else items.columns[0]
            elif items_id_col not in items.columns:
                raise _latent.NotFoundError(f"{catalog}: no item id column {items_id_col!r}; "
                                            f"its columns: {list(items.columns)}")
            if items_title_col is None:
                items_title_col = next((c for c in _COLUMNS["title"] if c in items.columns), None)
                if items_title_col is None:
                    if len(items.columns) < 2:
                        raise _latent.NotFoundError(f"{catalog}: no title column; its columns: "
                                                    f"{list(items.columns)}")
                    items_title_col = items.columns[1]
            elif items_title_col not in items.columns:
                raise _latent.NotFoundError(f"{catalog}: no title column {items_title_col!r}; "
                                            f"its columns: {list(items.columns)}")
            catalog_ids = _id_values(items[items_id_col], catalog, str(items_id_col))
            titles = items[items_title_col]
            if titles.isna().any():
                # A movie without a title is an empty title, as in a CSV file.
                titles = titles.fillna("")
            catalog_titles = titles.astype(object).to_numpy()
            names.update(catalog=catalog, catalog_id=str(items_id_col),
                         catalog_title=str(items_title_col))
        columns = {}
        for role, col in (("rating", rating_col), ("timestamp", timestamp_col),
                          ("weight", weight_col)):
            if col is not None:
                names[role] = str(col)
                columns[role] = _number_values(frame[col], source, str(col),
                                               integer=role == "timestamp")
        context = [(str(col), _text_values(frame, col, source))
                   for col in _column_list(context_cols, "context_cols")]
        native = _latent.dataset_from_columns(
            users=_id_values(frame[user_col], source, str(user_col)),
            items=_id_values(frame[item_col], source, str(item_col)),
            ratings=columns.get("rating"), timestamps=columns.get("timestamp"),
            weights=columns.get("weight"), catalog_ids=catalog_ids,
            catalog_titles=catalog_titles,
            rating_above=None if rating_above is None else float(rating_above),
            item_key=item_key, source=source, names=names, context=context)
        return cls(native)

    @classmethod
    def from_arrays(cls, users, items, ratings=None, timestamps=None, weights=None,
                    rating_above=None):
        """Interactions from parallel 1-D arrays (or lists): user ids, item
        ids (ints or strs) and optional ratings, timestamps, weights."""
        arrays = {"users": users, "items": items, "ratings": ratings,
                  "timestamps": timestamps, "weights": weights}
        columns = {}
        for name, values in arrays.items():
            if values is None:
                continue
            a = np.asarray(values) if not isinstance(values, pd.Series) else values.to_numpy()
            if a.ndim != 1:
                raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}")
            if len(a) != len(columns.get("users", a)):
                raise ValueError(f"{name} has {len(a)} values for {len(columns['users'])} users")
            columns[name] = a
        frame = pd.DataFrame({"user": columns["users"], "item": columns["items"]})
        for name, col in (("ratings", "rating"), ("timestamps", "timestamp"),
                          ("weights", "weight")):
            if name in columns:
                frame[col] = columns[name]
        return cls.from_dataframe(frame, "user", "item",
                                  "rating" if "ratings" in columns else None,
                                  "timestamp" if "timestamps" in columns else None,
                                  "weight" if "weights" in columns else None,
                                  rating_above=rating_above, source="arrays")

    def __len__(self):
        return len(self._native)

    def __repr__(self):
        seen = f" (+{self.seen_only_pairs} seen only)" if self.seen_only_pairs else ""
        return (f"<latent.Dataset {self.description}: {len(self)} interactions{seen}, "
                f"{len(self.users)} users, {len(self.items)} items>")

    @property
    def seen_only_pairs(self):
        """Rows the rating filter dropped whose user and item are known: not
        trained on (unless a model's rated_weight says so), but seen, so
        recommend(exclude_seen=True) leaves them out."""
        return self._native.seen_only_pairs

    @property
    def description(self):
        return self._native.description

    @property
    def rows_read(self):
        """Rows read before filtering."""
        return self._native.rows_read

    @property
    def users(self):
        """Known user ids in row order (row r is users[r - 1]; row 0 is OOV)."""
        return self._users.known

    @property
    def items(self):
        """Known item ids (or titles, when keyed by title) in row order."""
        return self._items.known

    @property
    def item_titles(self):
        """The title of every item row ('' for OOV), or [] without metadata."""
        return self._native.item_titles()

    def _frame(self, columns):
        frame = pd.DataFrame({"user": self._users.rows_to_ids(columns["user"]),
                              "item": self._items.rows_to_ids(columns["item"])})
        for name in ("rating", "timestamp", "weight"):
            if columns[name] is not None:
                frame[name] = columns[name]
        for name, values in columns["context"].items():
            frame[name] = values
        return frame

    def to_frame(self):
        """The kept interactions as a DataFrame of raw ids (user, item and
        rating/timestamp/weight and the context columns when present), in
        input order."""
        return self._frame(self._native.columns())

    def split(self, method=_DEFAULTS["split_method"], test_fraction=_DEFAULTS["test_fraction"],
              last_k=_DEFAULTS["last_k"], seed=_DEFAULTS["seed"]):
        """A train/test split (the CLI's --split, --test-fraction, --last-k):
        "random" (a fraction of all interactions), "per-user" (a fraction of
        each user's distinct items) or "last-k" (each user's k latest by
        timestamp). Every test user keeps training data."""
        return Split(self, _latent.make_split(self._native, method, float(test_fraction),
                                              int(last_k), int(seed)))

    def read_split(self, directory):
        """The split that Split.to_csv (or `latent split`) wrote to directory."""
        directory = os.fspath(directory)
        for name in ("train.csv", "test.csv"):
            _require_file(os.path.join(directory, name))
        return Split(self, _latent.read_split(self._native, directory))


class Split:
    """A train/test partition of a Dataset's interactions."""

    def __init__(self, data, native):
        self.data = data
        self._native = native

    def __repr__(self):
        train, test = self._native.sizes()
        return f"<latent.Split {train} train / {test} test interactions>"

    @property
    def train(self):
        """The train part as a DataFrame of raw ids."""
        return self.data._frame(self._native.columns("train"))

    @property
    def test(self):
        """The test part as a DataFrame of raw ids."""
        return self.data._frame(self._native.columns("test"))

    def to_csv(self, directory):
        """Writes directory/train.csv and directory/test.csv with raw ids."""
        self._native.write(os.fspath(directory))


def load_dataset(data, format="auto", delimiter=None, header=True, user_col=None,
                 item_col=None, rating_col=None, timestamp_col=None, weight_col=None,
                 items=None, items_id_col=None, items_title_col=None, rating_above=None,
                 item_key="id", context_cols=None):
    """Reads a MovieLens directory (ml-100k, ml-latest), a CSV/TSV file or a
    user-lines file (format="user-lines": "user item item ..." per line, as
    NGCF and LightGCN ship their data) with the library's loader; the
    arguments are the CLI's data flags. A file ending in .gz (or starting
    with gzip's magic bytes) is decompressed as it is read. data may be a
    glob pattern ("logs/part-*.csv"): its CSV/TSV files are read as one
    table, in byte order of their paths. CSV/TSV files are read in chunks on
    every core, never whole (docs/data.md, "Big files and part files").
    context_cols: columns kept as each pair's context, as in
    Dataset.from_dataframe."""
    return Dataset(_load(data, None, locals())[0])


def load_train_test(data, test_file, format="auto", delimiter=None, header=True, user_col=None,
                    item_col=None, rating_col=None, timestamp_col=None, weight_col=None,
                    items=None, items_id_col=None, items_title_col=None, rating_above=None,
                    item_key="id", context_cols=None):
    """Reads a data set that comes with its own test file (as `latent evaluate
    --test-file` does): data is the train part, test_file the test part, in
    the same format; their ids share one vocabulary. Returns the Split, whose
    .data is the Dataset of both. Every test pair's user must have training
    pairs; the error names the test file, line and id otherwise."""
    native_data, native_split = _load(data, test_file, locals())
    return Split(Dataset(native_data), native_split)


def _load(data, test_file, args):
    path = _require_file(data)
    if test_file is not None:
        test_file = _require_file(test_file)
    items = args["items"]
    if items is not None:
        _require_file(items)
    rating_above = args["rating_above"]
    return _latent.load_dataset(
        data=path, format=args["format"], delimiter=args["delimiter"] or "",
        header=bool(args["header"]), user_col=str(args["user_col"] or ""),
        item_col=str(args["item_col"] or ""), rating_col=str(args["rating_col"] or ""),
        timestamp_col=str(args["timestamp_col"] or ""), weight_col=str(args["weight_col"] or ""),
        items_file=os.fspath(items or ""), items_id_col=str(args["items_id_col"] or ""),
        items_title_col=str(args["items_title_col"] or ""),
        rating_above=None if rating_above is None else float(rating_above),
        item_key=args["item_key"], test_file=os.fspath(test_file or ""),
        context_cols=[str(c) for c in _column_list(args["context_cols"], "context_cols")])
