"""Side features of users and items (docs/features.md), for Model.fit's
user_features and item_features."""

import os

import pandas as pd

from . import _latent


class Features:
    """The side features of users or of items, as `latent train
    --user-features / --item-features` reads them:

        Features(frame, {"genres": "multi", "year": "numeric:buckets=10"}, id="movieId")
        Features("items.csv", "genres:multi,year:numeric", id="movieId")
        Features("data/ml-100k", "age:numeric,gender:categorical")   # MovieLens's own

    source: a DataFrame (one row per id; a multi column may hold lists of
    strs; NaN and None are missing), a CSV/TSV file with a header, or a
    MovieLens directory (its own attributes: docs/features.md lists them).
    columns: a dict of name -> type with its options ("categorical",
    "multi:sep=;", "numeric:buckets=10", "timestamp", "text:max=10000"),
    or the CLI's declaration string "name:type,...". id: the id column (a
    name, or a number for a file; default: the first column)."""

    def __init__(self, source, columns, id=None):
        if isinstance(columns, dict):
            if not columns:
                raise ValueError("columns declares no feature")
            declaration = ",".join(f"{name}:{kind}" for name, kind in columns.items())
        elif isinstance(columns, str):
            declaration = columns
        else:
            raise TypeError(f"columns must be a dict of name -> type or a declaration str, got "
                            f"{type(columns).__name__}")
        self.declaration = declaration
        self.id = id
        if isinstance(source, pd.DataFrame):
            self.source = source
        elif isinstance(source, (str, os.PathLike)):
            self.source = os.fspath(source)
            if not os.path.exists(self.source):
                raise FileNotFoundError(f"{self.source}: no such file or directory")
        else:
            raise TypeError(f"source must be a DataFrame, a file or a MovieLens directory, got "
                            f"{type(source).__name__}")

    def __repr__(self):
        where = "DataFrame" if isinstance(self.source, pd.DataFrame) else self.source
        return f"<latent.Features {self.declaration} from {where}>"

    def _native(self, side):
        """The library's table of these features; side: "users" or "items"."""
        if isinstance(self.source, pd.DataFrame):
            frame = self.source
            id_col = frame.columns[0] if self.id is None else self.id
            if id_col not in frame.columns:
                raise ValueError(f"{side} features: id column {id_col!r} is not in the "
                                 f"DataFrame's columns {list(frame.columns)}")
            names = [part.split(":")[0] for part in self.declaration.split(",") if part]
            missing = [n for n in names if n not in frame.columns]
            if missing:
                raise ValueError(f"{side} features: column {missing[0]!r} is not in the "
                                 f"DataFrame's columns {list(frame.columns)}")
            ids = [v.item() if hasattr(v, "item") else v for v in frame[id_col].tolist()]
            return _latent.feature_table(self.declaration, ids,
                                         [frame[n].tolist() for n in names],
                                         f"{side} features DataFrame")
        directory = os.path.isdir(self.source)
        return _latent.load_side_features(
            self.declaration, side, "" if directory else self.source,
            "" if self.id is None else str(self.id), self.source if directory else "")
