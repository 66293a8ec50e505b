"""The peers of bench/loader_bench.py: read one CSV file (plain or gzip) of
user,item rows with pyarrow's or polars' multi-threaded CSV reader, then map
the user and item ids to dense rows, as latent's loader does, and print one
JSON line (rows, distinct users and items, seconds). Runs in build/peers-venv
(pyarrow and polars from PyPI); loader_bench.py measures its peak memory.

    python loader_peers.py pyarrow FILE THREADS
    python loader_peers.py polars FILE THREADS

The id-to-row mappings are each library's hash-based one, the faster of the
ones a user would write (measured at 10 million rows, 2 threads): pyarrow's
dictionary_encode (one dictionary across the table's chunks, rows in order
of first appearance) and polars' categorical cast of the ids as strings
(2.3 s against 2.6 s for rank("dense"), which sorts).
"""

import json
import os
import sys
import time


def read_pyarrow(path, threads):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as csv

    pa.set_cpu_count(threads)
    pa.set_io_thread_count(threads)
    t = time.perf_counter()
    table = csv.read_csv(path, read_options=csv.ReadOptions(use_threads=True))
    # The chunks of the result share one dictionary: its indices are rows.
    rows = {name: pc.dictionary_encode(table.column(name)) for name in ("user", "item")}
    seconds = time.perf_counter() - t
    return {"rows": table.num_rows, "users": len(rows["user"].chunk(0).dictionary),
            "items": len(rows["item"].chunk(0).dictionary), "seconds": seconds}


def read_polars(path, threads):
    os.environ["POLARS_MAX_THREADS"] = str(threads)
    import polars as pl

    t = time.perf_counter()
    frame = pl.read_csv(path)
    mapped = frame.select(
        pl.col(name).cast(pl.String).cast(pl.Categorical).to_physical() for name in ("user", "item"))
    seconds = time.perf_counter() - t
    return {"rows": mapped.height, "users": int(mapped["user"].max()) + 1,
            "items": int(mapped["item"].max()) + 1, "seconds": seconds}


def main():
    tool, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    result = {"pyarrow": read_pyarrow, "polars": read_polars}[tool](path, threads)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
