"""Models: train with the library's fit, answer with numpy arrays and pandas
DataFrames. Every computation is the C++ library's; this file only maps
Python arguments to its parameters and vocabulary rows to ids."""

import json
import math
import operator
import os
import re
import sys
import warnings

import numpy as np
import pandas as pd

from . import _latent
from ._data import Dataset, Split, _require_file
from ._features import Features
from ._ids import IdMap

_INT32_MAX = 2**31 - 1


def _k(k, name="k"):
    """A count such as k as the C++ side takes it: an int (TypeError
    naming it otherwise), clamped to 32 bits so that a huge k reaches the
    library's rule (capped at the known items) rather than an overflow."""
    if isinstance(k, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, got bool")
    try:
        k = operator.index(k)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(k).__name__} ({k!r})") from None
    return max(min(k, _INT32_MAX), -_INT32_MAX)


def _param_text(name, value):
    # bool before int: True is an int in Python.
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and name in _LIST_PARAMS:  # layers=[64, 32]
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            raise ValueError(f"parameter {name} = {value!r} is not a list of ints")
        return ",".join(str(int(v)) for v in value)
    raise ValueError(f"parameter {name} = {value!r} ({type(value).__name__}) is not a "
                     "bool, int, float or str")


def _feature_args(user_features, item_features, context_features):
    """fit's and tune's feature arguments, checked, as the native calls take
    them: each side's FeatureTable (or None) and the context declaration."""
    for name, value in (("user_features", user_features), ("item_features", item_features)):
        if value is not None and not isinstance(value, Features):
            raise TypeError(f"{name} must be a latent.Features, got {type(value).__name__}")
    if isinstance(context_features, dict):
        context_features = ",".join(f"{n}:{t}" for n, t in context_features.items())
    elif context_features is None:
        context_features = ""
    elif not isinstance(context_features, str):
        raise TypeError(f"context_features must be a dict of name -> type or a declaration "
                        f"str, got {type(context_features).__name__}")
    return (None if user_features is None else user_features._native("users"),
            None if item_features is None else item_features._native("items"),
            context_features)


def _params(kwargs):
    """Keyword arguments -> the library's parameter names (the CLI flags
    without --: learning_rate -> learning-rate); None means the default."""
    return {name.replace("_", "-"): _param_text(name, value)
            for name, value in kwargs.items() if value is not None}


_SPECS = json.loads(_latent.model_specs())
# The keywords that take a list of ints (type "ints": layers=[64, 32]).
_LIST_PARAMS = {p["python_name"] for m in _SPECS["models"] for p in m["params"]
                if p["type"] == "ints"}
_DEFAULTS = _latent.defaults()


def _reraise_with_python_names(error):
    text = str(error)
    if text.startswith("parameter "):
        return ValueError(text + " (in Python, write the names with _ for -)")
    return error


def model_names():
    """The models latent can train."""
    return list(_latent.model_names())


def system_info():
    """What latent runs on in this process, as `latent info --system --json`:
    the CPU, the BLAS kernels in use and who chose them (blas_kernels,
    blas_chosen_by, blas_openblas_pick), latent's own loops, threads, and
    warnings (a dict)."""
    return json.loads(_latent.system_info())


def model_params(model=None):
    """The parameters of every model (or of one), from the library's model
    registry: a DataFrame with one row per parameter (model, keyword, flag,
    type, default, allowed values, help). The rows whose model is "every
    model" are accepted by all models (rated_weight: by those that train on
    pair weights)."""
    rows = []
    for spec in _SPECS["models"]:
        if model is not None and spec["name"] != model:
            continue
        for p in spec["params"]:
            rows.append((spec["name"], p))
    if model is not None and not rows and model not in model_names():
        raise ValueError(f'unknown model "{model}"; valid models: {", ".join(model_names())}')
    rows += [("every model", p) for p in _SPECS["common"]]
    return pd.DataFrame([{"model": m, "keyword": p["python_name"], "flag": p["flag"],
                          "type": p["type"], "default": p["default"], "allowed": p["range"],
                          "help": p["help"]} for m, p in rows])


def _typed(model, name, text):
    """A parameter's text as the Python value of its type in the registry."""
    spec = next((s for s in _SPECS["models"] if s["name"] == model), {"params": []})
    for p in spec["params"] + _SPECS["common"]:
        if p["name"] == name:
            if p["type"] == "int":
                return int(text)
            if p["type"] == "float":
                return float(text)
            if p["type"] == "bool":
                return text in ("true", "1")
            if p["type"] == "ints":
                return [int(v) for v in text.split(",")] if text else []
    return text


def _params_doc():
    """The Model docstring's parameter section, generated from the registry."""
    def line(p):
        allowed = f", {p['range']}" if p["range"] else ""
        return f"        {p['python_name']}={p['default']}{allowed}: {p['help']}"

    parts = ["\n    Parameters by model (keyword=default, allowed values: what it does):\n"]
    for spec in _SPECS["models"]:
        parts.append(f"    {spec['name']}: {spec['summary']}")
        parts += [line(p) for p in spec["params"]] or ["        (no parameters of its own)"]
    parts.append("    every model:")
    parts += [line(p) for p in _SPECS["common"]]
    return "\n".join(parts) + "\n"


def _history(epochs):
    """One row per epoch, from fit's reports or a model file's training
    metadata (where absent values are left out)."""
    rows = []
    for e in epochs:
        loss = e.get("loss")
        row = {"epoch": e["epoch"], "loss": math.nan if loss is None else loss,
               "seconds": e["seconds"]}
        accuracy = e.get("sampled_accuracy")
        if accuracy is not None and not math.isnan(accuracy):
            row["sampled_accuracy"] = accuracy
        for prefix, key in (("", "train"), ("test_", "test")):
            if e.get(key) is not None:
                # top_1, top_5, ... in the order of k (a model file stores them sorted by name).
                ordered = sorted(e[key].items(), key=lambda kv: int(kv[0].split("_")[1]))
                row.update({prefix + name: value for name, value in ordered})
        rows.append(row)
    return pd.DataFrame(rows).set_index("epoch") if rows else pd.DataFrame()


class Model:
    """A recommender: one of model_names() with its hyper-parameters as
    keyword arguments, the CLI's flag names with _ for - (listed below and by
    latent.model_params()). A parameter the model does not take, or a value
    outside its range, is a ValueError raised here, before any data is read.
    """

    def __init__(self, model="two-tower", **params):
        self.kind = model
        self.params = dict(params)
        try:
            self.config = json.loads(_latent.check_model_params(model, _params(params)))
        except ValueError as e:
            raise _reraise_with_python_names(e) from None
        self.history = None
        self.metrics = None
        self._native = None

    @classmethod
    def _from_native(cls, native, params=None):
        m = cls.__new__(cls)
        m.kind = native.kind
        m.params = dict(params or {})
        m.config = json.loads(native.config)
        m.metrics = None
        m._set_native(native)
        # Files written by fit() list per-epoch reports; the metadata is free
        # JSON otherwise (tests/data/model_v1.latent has "epochs": 3).
        epochs = m.training.get("epochs") if isinstance(m.training, dict) else None
        reports = isinstance(epochs, list) and all(
            isinstance(e, dict) and "epoch" in e and "seconds" in e for e in epochs)
        m.history = _history(epochs) if reports else pd.DataFrame()
        return m

    def _set_native(self, native):
        self._native = native
        self._users = IdMap(native.user_ids())
        self._items = IdMap(native.item_ids())

    def __repr__(self):
        state = (f"{len(self.users)} users, {len(self.items)} items, dim {self.dim}"
                 if self._native is not None else "not trained")
        return f"<latent.Model {self.kind}: {state}>"

    # ---- training ----------------------------------------------------------

    def fit(self, data, test_fraction=0.0, split=None, verbose=True, file=None,
            tensorboard=None, init=None, update="all", user_features=None, item_features=None,
            context_features=None):
        """Trains on data (a Dataset) and returns the history (also kept as
        .history, and read back from the file by latent.load), one row per
        epoch: loss, seconds, and for the two-tower model the running
        FactorizedTopK accuracy (top_1 ... top_100) and, with a test part,
        test_top_1 ... . test_fraction holds out a seeded random fraction
        (seed: the model's seed, else 42, as the CLI); split (a Split of
        data) trains on its train part and tests on its test part. verbose
        shows the Keras-style progress bar on file (default sys.stdout).
        tensorboard (a directory) writes TensorBoard logs there as `latent
        train --tensorboard` does: per-epoch scalars in train/ and
        validation/ (tags epoch_loss, epoch_factorized_top_k/top_10_
        categorical_accuracy, ...; step = epoch as in .history) and the
        embedding projector's files (docs/tensorboard.md); what the
        projector leaves out is a warning. The GIL is released while
        training; Ctrl-C stops it.

        init (a trained latent.Model of this kind, or the path of a saved
        one) warm-starts from it as `latent train --init` does: its ids keep
        their rows and vectors, data's new ids are appended, its parameters
        are the defaults of those not given, and update="users" recomputes
        only the users (ALS, EASE); docs/warm-start.md says what each model
        does. `m = latent.load(path); m.fit(new_data, init=m)` updates a
        saved model with new data.

        user_features and item_features (latent.Features) are side features
        for the two-tower model (docs/features.md): each side becomes a
        tower over its id and features, and users or items training did not
        see get vectors from their features (recommend_for_features,
        similar_to_features). context_features ({"timestamp": "timestamp"},
        or the CLI's declaration "timestamp:timestamp") makes each rating's
        time a feature of its query, as `latent train --context-features`
        (docs/features.md, Context features); another name reads the
        data's context column of that name (Dataset.from_dataframe's
        context_cols), as {"device": "categorical"}."""
        if not isinstance(data, Dataset):
            raise TypeError(f"fit needs a latent.Dataset, got {type(data).__name__} (build one "
                            "with latent.Dataset.from_dataframe)")
        if split is not None and not isinstance(split, Split):
            raise TypeError(f"split must be a latent.Split, got {type(split).__name__}")
        if split is not None and split.data is not data:
            raise ValueError("split was made from another Dataset than data")
        stream = None
        interactive = False
        if verbose:
            stream = file if file is not None else sys.stdout
            try:
                interactive = bool(stream.isatty())
            except (AttributeError, ValueError):
                interactive = False
        if tensorboard is not None:
            tensorboard = os.fspath(tensorboard)
        if init is not None and not isinstance(init, Model):
            init = load(init)
        if init is not None and init._native is None:
            raise ValueError(f"init is a {init.kind} model that is not trained: a warm start "
                             "starts from a trained or loaded model")
        if not isinstance(update, str):
            raise TypeError(f"update must be \"all\" or \"users\", got {update!r}")
        try:
            native_users, native_items, context_features = _feature_args(
                user_features, item_features, context_features)
            native, epochs, metrics, notes = _latent.fit(
                data=data._native, model=self.kind, params=_params(self.params),
                test_fraction=float(test_fraction),
                split=None if split is None else split._native, stream=stream,
                interactive=interactive, tensorboard=tensorboard,
                init=None if init is None else init._native, update=update,
                user_features=native_users, item_features=native_items,
                context_features=context_features)
        except ValueError as e:
            raise _reraise_with_python_names(e) from None
        for note in notes:
            warnings.warn(note, stacklevel=2)
        self._set_native(native)
        self.config = json.loads(native.config)
        self.metrics = json.loads(metrics)
        self.history = _history(epochs)
        return self.history

    def tune(self, data, split=None, grid=None, trials=_DEFAULTS["trials"],
             metric=_DEFAULTS["metric"], k=_DEFAULTS["k"],
             validation_fraction=_DEFAULTS["validation_fraction"], exclude_rated=False,
             verbose=True, file=None, threads=0, user_features=None, item_features=None,
             context_features=None):
        """Searches this model's hyper-parameters as `latent tune` does, and
        becomes the best model: the parameters given to the constructor stay
        fixed; the others are searched over the model's default grid (see
        latent.model_params()) or `grid` (a dict of name -> list of values,
        replacing or adding names), each trial fitted on a per-user
        validation split of split.train and scored by metric@k; the best is
        retrained on all of split.train and scored on split.test, which took
        no part in the choice. metric "rmse" chooses the smallest RMSE of a
        rating task's predicted ratings (rating_weight > 0). user_features,
        item_features and context_features as fit's, for every trial and the
        retrained model. split: a Split of data (default:
        data.split() with the model's seed). verbose prints a row per trial
        on file (default sys.stdout). Returns the report (a dict as `latent
        tune --json` writes it) with "trials" as a DataFrame."""
        if not isinstance(data, Dataset):
            raise TypeError(f"tune needs a latent.Dataset, got {type(data).__name__}")
        if split is None:
            split = data.split(seed=_latent.seed_of(_params(self.params)))
        elif not isinstance(split, Split):
            raise TypeError(f"split must be a latent.Split, got {type(split).__name__}")
        if split.data is not data:
            raise ValueError("split was made from another Dataset than data")
        searched = {}
        for name, values in (grid or {}).items():
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                raise ValueError(f"grid[{name!r}] must be a list of values, got {values!r}")
            searched[name.replace("_", "-")] = [_param_text(name, v) for v in values]
        stream = (file if file is not None else sys.stdout) if verbose else None

        label = "rmse" if metric == "rmse" else f"{metric}@{k}"

        def on_trial(t):
            chosen = " ".join(f"{n}={v}" for n, v in t["params"].items())
            print(f"trial {t['trial']}: {chosen or '(defaults)'}  {label} "
                  f"{t['value']:.4f}  ({t['seconds']:.2f} s)", file=stream, flush=True)

        try:
            native_users, native_items, context_features = _feature_args(
                user_features, item_features, context_features)
            native, report = _latent.tune(
                split=split._native, model=self.kind, fixed=_params(self.params), grid=searched,
                trials=int(trials), metric=str(metric), k=_k(k),
                validation_fraction=float(validation_fraction),
                exclude_rated=bool(exclude_rated), threads=int(threads),
                on_trial=on_trial if stream is not None else None, user_features=native_users,
                item_features=native_items, context_features=context_features)
        except ValueError as e:
            raise _reraise_with_python_names(e) from None
        report = json.loads(report)
        report["trials"] = pd.DataFrame(
            [{"trial": t["trial"], **t["params"], "value": t["value"],
              "seconds": t["train_seconds"]} for t in report["trials"]]).set_index("trial")
        self._set_native(native)
        searched_best = {n.replace("-", "_"): _typed(self.kind, n, v)
                         for n, v in report["best"]["params"].items()}
        self.params = {**searched_best, **self.params}
        self.config = json.loads(native.config)
        self.metrics = None
        self.history = _history(self.training.get("epochs", []))
        return report

    def _model(self):
        if self._native is None:
            raise ValueError(f"this {self.kind} model is not trained: call fit() first, or "
                             "latent.load() a saved one")
        return self._native

    # ---- what the model knows ---------------------------------------------

    @property
    def dim(self):
        return self._model().dim

    @property
    def users(self):
        """Known user ids in row order (row r is users[r - 1])."""
        self._model()
        return self._users.known

    @property
    def items(self):
        """Known item ids (titles when keyed by title) in row order."""
        self._model()
        return self._items.known

    @property
    def item_titles(self):
        """The title of every item row ('' for OOV), or [] without titles."""
        return self._model().item_titles()

    @property
    def training(self):
        """Training metadata: data, pairs, seconds, per-epoch metrics."""
        return json.loads(self._model().training)

    # ---- results -----------------------------------------------------------

    def _user_rows(self, users):
        native = self._model()
        dims = np.ndim(users)
        if dims == 0:
            return native.user_rows([users]), True
        if dims != 1:
            raise ValueError(f"users must be one id or a 1-D list of ids, got shape "
                             f"{np.shape(users)}")
        return native.user_rows(list(users)), False

    def _item_rows(self, items):
        if items is None:
            return None
        dims = np.ndim(items)
        if dims > 1:
            raise ValueError(f"items must be one id or a 1-D list of ids, got shape "
                             f"{np.shape(items)}")
        return self._model().item_rows([items] if dims == 0 else list(items))

    def _top(self, rows, scores, single, users=None, as_frame=False):
        ids = self._items.rows_to_ids(rows)
        if as_frame:
            k = rows.shape[1]
            keep = rows.reshape(-1) >= 0
            frame = pd.DataFrame({
                "user": np.repeat(np.asarray(users, dtype=object), k)[keep],
                "item": ids.reshape(-1)[keep],
                "score": scores.reshape(-1)[keep],
                "rank": np.tile(np.arange(1, k + 1), rows.shape[0])[keep]})
            return frame.reset_index(drop=True)
        if single:
            return ids[0], scores[0]
        return ids, scores

    def recommend(self, users, k=_DEFAULTS["k"], exclude_seen=False, allow=None, deny=None,
                  as_frame=False, threads=0, exact=False, ef=None, context=None):
        """Top-k items for one user id (1-D arrays of k ids and scores) or a
        list of user ids (2-D arrays, one row per user), best first; with
        as_frame, a DataFrame (user, item, score, rank). exclude_seen drops
        each user's training items; allow / deny: item ids (or titles) that
        alone may be / never are recommended. When fewer than k items are
        eligible, the row is padded with id None and score -inf (the ids
        array is then of dtype object); k < 1 is a ValueError and a k above
        the number of known items is capped at it (the library's rule, the
        same in the CLI and the server). Unknown ids raise
        latent.NotFoundError (a KeyError). With an index (build_index, or
        one saved with the model), the search uses it: ef is its effort for
        this call (None: the index's own), exact=True searches every item.
        context (a dict, {"timestamp": "2015-06-01"}), for a model fitted
        with context_features, is the request's: each user's query is made
        in it (docs/features.md, Context features)."""
        rows, single = self._user_rows(users)
        if context is not None:
            if not isinstance(context, dict):
                raise TypeError(f"context must be a dict of name -> value, got "
                                f"{type(context).__name__}")
            items, scores = self._model().recommend_in_context(
                rows, context, _k(k), bool(exclude_seen), self._item_rows(allow),
                self._item_rows(deny), int(threads), bool(exact), _ef(ef))
        else:
            items, scores = self._model().recommend(rows, _k(k), bool(exclude_seen),
                                                    self._item_rows(allow), self._item_rows(deny),
                                                    int(threads), bool(exact), _ef(ef))
        user_ids = [users] if single else list(users)
        return self._top(items, scores, single, user_ids, as_frame)

    def recommend_for_items(self, items, k=_DEFAULTS["k"], exclude_seen=True, allow=None, deny=None,
                            as_frame=False, threads=0, exact=False, ef=None):
        """Top-k for a user who was not in training, from the items (ids or
        titles) they interacted with, without retraining (fold-in: exact
        least squares for ALS, the items' mean for two-tower and BPR)."""
        rows = self._item_rows(items)
        top, scores = self._model().recommend_for_items(rows, _k(k), bool(exclude_seen),
                                                        self._item_rows(allow),
                                                        self._item_rows(deny), int(threads),
                                                        bool(exact), _ef(ef))
        return self._top(top, scores, True, [None], as_frame)

    def recommend_for_features(self, features, k=_DEFAULTS["k"], exclude_seen=False, allow=None,
                               deny=None, as_frame=False, threads=0, exact=False, ef=None):
        """Top-k for a user who was not in training, from their features (a
        dict of name -> value: {"age": 25, "occupation": "student"}), for a
        model fitted with user_features (docs/features.md). A feature not
        given is missing, a value training never saw is out of vocabulary;
        a name the model does not have is a ValueError naming it."""
        if not isinstance(features, dict):
            raise TypeError(f"features must be a dict of name -> value, got "
                            f"{type(features).__name__}")
        top, scores = self._model().recommend_for_features(
            features, _k(k), bool(exclude_seen), self._item_rows(allow), self._item_rows(deny),
            int(threads), bool(exact), _ef(ef))
        return self._top(top, scores, True, [None], as_frame)

    def user_vector_for_features(self, features):
        """The vector (a float32 array of dim) of a user who was not in
        training, from their features (a dict), as recommend_for_features
        ranks by: its dot product with item_embeddings()' rows are the
        scores."""
        if not isinstance(features, dict):
            raise TypeError(f"features must be a dict of name -> value, got "
                            f"{type(features).__name__}")
        return self._model().vector_for_features("users", features)

    def item_vector_for_features(self, features):
        """The vector of an item that was not in training, from its
        features (a dict): a known user's score of it is the dot product with
        user_embedding(user)."""
        if not isinstance(features, dict):
            raise TypeError(f"features must be a dict of name -> value, got "
                            f"{type(features).__name__}")
        return self._model().vector_for_features("items", features)

    def similar_to_features(self, features, k=_DEFAULTS["k"], as_frame=False, threads=0,
                            exact=False, ef=None):
        """The k items most similar by cosine to an item that was not in
        training, given by its features (a dict: {"genres": ["Comedy",
        "Drama"], "year": 2019}), for a model fitted with item_features."""
        if not isinstance(features, dict):
            raise TypeError(f"features must be a dict of name -> value, got "
                            f"{type(features).__name__}")
        rows, sims = self._model().similar_to_features(features, _k(k), int(threads),
                                                       bool(exact), _ef(ef))
        if as_frame:
            frame = self._top(rows, sims, False, [None], True)
            return frame.rename(columns={"user": "item", "item": "similar_item",
                                         "score": "similarity"})
        return self._top(rows, sims, True)

    def user_embeddings(self):
        """(array users x dim, ids in row order with latent.OOV first). The
        array is a read-only view of the model's memory (no copy); it keeps
        the model alive. For ALS/BPR these are the factors (BPR: with a
        constant column matching the item bias), for EASE the users' item
        rows."""
        return self._model().user_embeddings(), self._users.with_oov()

    def item_embeddings(self):
        """(array items x dim, ids in row order with latent.OOV first); a
        read-only view like user_embeddings()."""
        return self._model().item_embeddings(), self._items.with_oov()

    def item_embedding(self, item):
        """The embedding of one item, by id or title (a read-only view)."""
        return self._model().item_embeddings()[self._model().item_row(item)]

    def user_embedding(self, user):
        """The embedding of one user (a read-only view)."""
        return self._model().user_embeddings()[self._model().user_row(user)]

    def predict(self, users, items, threads=0):
        """The score of each (user, item) pair, as a float32 array: users[k]
        with items[k] (ids; one id each for one pair). For a model trained
        with the rating task (``rating_weight > 0``) it is the predicted
        rating, as TFRS's ranking model gives; otherwise the score
        recommend() ranks by."""
        user_rows, single = self._user_rows(users)
        item_rows = self._item_rows(items)
        if len(user_rows) != len(item_rows):
            raise ValueError(f"{len(user_rows)} users for {len(item_rows)} items: give one "
                             f"item per user")
        scores = self._model().predict(list(user_rows), list(item_rows), int(threads))
        return scores[0] if single else scores

    @property
    def predicts_ratings(self):
        """Whether predict() gives predicted ratings (a model trained with
        the rating task)."""
        return self._model().predicts_ratings()

    def scores(self, threads=0):
        """The full users x items score matrix (float32, a new array), rows
        and columns in vocabulary order including the OOV row and column 0
        (see users / items); its row's top-k is recommend()'s answer."""
        return self._model().scores(int(threads))

    def similar_items(self, item, k=_DEFAULTS["k"], as_frame=False, threads=0, exact=False,
                      ef=None):
        """The k items most similar to item (id or title) by cosine, itself
        excluded: (ids, similarities) arrays, or a DataFrame (item,
        similar_item, similarity, rank). With a similar-items index
        (build_index, or one saved with the model) the search uses it: ef is
        its effort for this call (None: the index's own), exact=True
        searches every item."""
        native = self._model()
        row = native.item_row(item)
        rows, sims = native.similar_items(row, _k(k), int(threads), bool(exact), _ef(ef))
        if as_frame:
            frame = self._top(rows, sims, False, [item], True)
            return frame.rename(columns={"user": "item", "item": "similar_item",
                                         "score": "similarity"})
        return self._top(rows, sims, True)

    def similar_pairs(self, threshold=0.8, columns=("Movie_A", "Movie_B", "similarity"),
                      threads=0, exact=False, ef=None):
        """All item pairs with cosine similarity > threshold, most similar
        first, as a DataFrame with the given column names. With a
        similar-items index, each item's neighbours are searched in it (an
        approximate answer: it may miss pairs, never misreport one; ef is
        the effort per item); exact=True compares every pair."""
        a, b, sims = self._model().similar_pairs(float(threshold), int(threads), bool(exact),
                                                 _ef(ef))
        return pd.DataFrame({columns[0]: self._items.rows_to_ids(a),
                             columns[1]: self._items.rows_to_ids(b), columns[2]: sims})

    def evaluate(self, split, k=10, exclude_train=True, exclude_rated=False, as_frame=False,
                 threads=0):
        """Ranking metrics of this model on split.test (Recall, Precision,
        NDCG, MAP, HitRate at each k, FactorizedTopK, coverage; the
        definitions are docs/evaluation.md's), the split's train items excluded
        unless exclude_train=False; exclude_rated also leaves out the items
        each user rated at or below the Dataset's rating_above (seen, as
        recommend(exclude_seen=True) leaves them out; the usual protocol
        ranks them). The model must have been trained on the
        split's Dataset (its train part). A dict as `latent evaluate --json`
        writes it, or with as_frame a DataFrame indexed by k."""
        if not isinstance(split, Split):
            raise TypeError(f"evaluate needs a latent.Split, got {type(split).__name__}")
        ks = [k] if isinstance(k, (int, np.integer)) else list(k)
        ks = [_k(x) for x in ks]
        result = json.loads(self._model().evaluate(split._native, ks, bool(exclude_train),
                                                   bool(exclude_rated), int(threads)))
        if not as_frame:
            return result
        frame = pd.DataFrame(result["at_k"]).set_index("k")
        frame.attrs.update({key: value for key, value in result.items() if key != "at_k"})
        return frame

    def save(self, path):
        """Writes the model file (atomically: a temporary file, then rename),
        and its indexes to PATH.index and PATH.similar.index when it has them
        (a stale one of an earlier model is removed)."""
        self._model().save(os.fspath(path))

    # ---- the approximate index ----------------------------------------------

    def build_index(self, m=16, ef_construction=200, ef=64, seed=42, threads=0, similar=True):
        """Builds an approximate index of the item vectors (an HNSW graph
        linked by inner product, as `latent index`) that recommend and
        recommend_for_items search from now on, and that save() writes next
        to the model; with similar (and a model whose item vectors say which
        items are alike: not popularity), a second one over the unit item
        vectors for similar_items and similar_pairs (they rank by cosine).
        m: links per item; ef_construction: build effort; ef: the default
        search effort. Returns index_info(). Not to be called while another
        thread queries the same model."""
        self._model().build_index(int(m), int(ef_construction), int(ef), int(seed), int(threads),
                                  bool(similar))
        return self.index_info()

    def drop_index(self):
        """Searches every item again, for recommendations and similar items
        (the saved index files are left as they are)."""
        self._model().drop_index()

    def index_info(self):
        """The model's index for recommendations as a dict (type, m,
        ef_construction, ef, levels, bytes), {"problem": why} when the file
        next to a loaded model could not be used, or None."""
        return json.loads(self._model().index_info())

    def similar_index_info(self):
        """The same for the index of similar items and pairs."""
        return json.loads(self._model().similar_index_info())


Model.__doc__ += _params_doc()


def tune(model, data, split=None, grid=None, **kwargs):
    """latent.Model(model, **params).tune(data, split, grid, ...): the best
    model of a search (see Model.tune), and its report. Keyword arguments
    that Model.tune takes go to it; the others are the model's fixed
    parameters."""
    tune_args = {"trials", "metric", "k", "validation_fraction", "exclude_rated", "verbose",
                 "file", "threads"}
    m = Model(model, **{n: v for n, v in kwargs.items() if n not in tune_args})
    report = m.tune(data, split, grid, **{n: v for n, v in kwargs.items() if n in tune_args})
    return m, report


def _ef(ef):
    """A search effort for the library: None is the index's own (0)."""
    if ef is None:
        return 0
    if int(ef) <= 0:
        raise ValueError(f"ef must be positive (candidates kept per user), got {ef}")
    return int(ef)


def load(path):
    """A model saved by Model.save or `latent train --out`, with its indexes
    (PATH.index, PATH.similar.index) when there are some; an index that cannot be used is a
    warning, and the model then searches every item."""
    model = Model._from_native(_latent.Recommender.load(_require_file(path)))
    info = model.index_info()
    if info and "problem" in info:
        warnings.warn(f"searching every item: the index is not used: {info['problem']}",
                      stacklevel=2)
    info = model.similar_index_info()
    if info and "problem" in info:
        warnings.warn("similar items search every item: their index is not used: "
                      f"{info['problem']}", stacklevel=2)
    return model
