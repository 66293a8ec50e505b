"""Vocabulary rows <-> raw ids, for turning the C++ results (arrays of rows)
into arrays of ids. Row 0 of every vocabulary is the out-of-vocabulary row."""

import numpy as np

#: How latent names the out-of-vocabulary row (Keras StringLookup's token).
OOV = "[UNK]"


class IdMap:
    """The ids of a vocabulary in row order (row r is ids[r - 1])."""

    def __init__(self, known_ids):
        self.known = known_ids  # list of int or str, rows 1..n
        self.integer = all(isinstance(i, int) for i in known_ids)
        if self.integer:
            # Row 0 (OOV) has no integer id; it is never a result.
            self.array = np.array([0] + known_ids, dtype=np.int64)
        else:
            self.array = np.empty(len(known_ids) + 1, dtype=object)
            self.array[0] = OOV
            self.array[1:] = known_ids

    def rows_to_ids(self, rows):
        """Ids of `rows` (any shape); rows < 0 (padding of a short top-k)
        become None, in an object array."""
        rows = np.asarray(rows)
        missing = rows < 0
        ids = self.array[np.where(missing, 0, rows)]
        if missing.any():
            ids = ids.astype(object)
            ids[missing] = None
        return ids

    def with_oov(self):
        """Ids of every row, OOV first: what the embedding matrices' rows are."""
        return [OOV] + list(self.known)
