#!/usr/bin/python3
"""latent's data loader beside pyarrow's and polars' CSV readers on one big file, in one run (issue 15).

The file: `latent synth --users U --items I --pairs N` (by default 100,000,000
pairs of 1,380,000 users and 260,000 items: ten times the MovieLens-20M
shape), "user,item" rows, made once under build/bench-data/loader-N/ with its
gzip (gzip -6). For the plain file and for the gzip file, each reader runs in
its own process, one after the other, on --threads threads:

  latent   build/bench/latent_bench_loader: load_dataset, as `latent train
           --data FILE` loads (ids mapped to vocabulary rows, sorted)
  pyarrow  pyarrow.csv.read_csv, then dictionary_encode of both id columns
  polars   polars.read_csv, then a categorical cast of both id columns

(the peers: bench/loader_peers.py in build/peers-venv, pyarrow and polars from
PyPI). Each row gives rows/s, MB/s of the file as stored (compressed bytes for
gzip) and of its text, and the process's peak resident memory (the kernel's
count, from wait4); latent's row also gives the bytes of what it loaded (the
interaction arrays and the vocabularies) and peak memory against them. The
target (issue 15): latent at least as fast as the faster peer, and its peak
memory at most 1.3x what it loaded.

    cmake --build build --target latent_cli latent_bench_loader
    /usr/bin/python3 bench/loader_bench.py                        # 100,000,000 rows
    /usr/bin/python3 bench/loader_bench.py --pairs 10000000       # a quick run

Run it on a quiet machine: the script prints the load average at the start and end.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from peers import peers_python  # noqa: E402

PEERS = {"pyarrow": "pyarrow", "polars": "polars"}


def say(*args):
    print(*args, file=sys.stderr, flush=True)


def measured(cmd):
    """Runs cmd; returns (the JSON line it prints last, its peak RSS in bytes,
    as the kernel counted it for that one process: wait4's ru_maxrss)."""
    cmd = [str(c) for c in cmd]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: stdout into the pipe, stderr as ours
        os.dup2(write_end, 1)
        os.close(read_end)
        os.close(write_end)
        try:
            os.execv(cmd[0], cmd)
        finally:
            os._exit(127)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        out = pipe.read()
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"loader_bench.py: {' '.join(cmd)} failed (see above)")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss * 1024


def make_files(args):
    directory = ROOT / "build" / "bench-data" / f"loader-{args.pairs}"
    directory.mkdir(parents=True, exist_ok=True)
    plain = directory / "pairs.csv"
    packed = directory / "pairs.csv.gz"
    if not plain.exists():
        say(f"writing {plain} ...")
        tmp = plain.with_suffix(".tmp.csv")
        cmd = [args.latent, "synth", "--out", tmp, "--users", args.users, "--items", args.items,
               "--pairs", args.pairs]
        subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL)
        tmp.rename(plain)
    if not packed.exists():
        say(f"writing {packed} ...")
        tmp = packed.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            subprocess.run(["gzip", "-6", "-c", plain], stdout=out, check=True)
        tmp.rename(packed)
    return plain, packed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000_000)
    parser.add_argument("--users", type=int, default=1_380_000)
    parser.add_argument("--items", type=int, default=260_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--latent", default=str(ROOT / "build" / "bin" / "latent"))
    parser.add_argument("--loader", default=str(ROOT / "build" / "bench" / "latent_bench_loader"))
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()

    python = peers_python(ROOT / "build" / "peers-venv", PEERS)
    versions = subprocess.run(
        [python, "-c", "import pyarrow, polars; print(pyarrow.__version__, polars.__version__)"],
        capture_output=True, text=True, check=True).stdout.split()
    plain, packed = make_files(args)
    start_load = os.getloadavg()[0]
    began = time.time()
    text_bytes = plain.stat().st_size

    rows = []
    for path in (plain, packed):
        stored = path.stat().st_size
        runs = [
            ("latent", [args.loader, "--data", path, "--threads", args.threads]),
            (f"pyarrow {versions[0]}", [python, ROOT / "bench" / "loader_peers.py", "pyarrow",
                                        path, args.threads]),
            (f"polars {versions[1]}", [python, ROOT / "bench" / "loader_peers.py", "polars",
                                       path, args.threads]),
        ]
        for name, cmd in runs:
            say(f"{name} on {path.name} ...")
            result, peak = measured(cmd)
            if result["rows"] != args.pairs:
                sys.exit(f"{name} read {result['rows']} rows of {path}, expected {args.pairs}")
            row = {"reader": name, "file": path.name, "seconds": result["seconds"],
                   "rows_per_s": args.pairs / result["seconds"],
                   "stored_mb_per_s": stored / 1e6 / result["seconds"],
                   "text_mb_per_s": text_bytes / 1e6 / result["seconds"],
                   "peak_rss_mb": peak / 1e6, "users": result["users"], "items": result["items"]}
            if "array_bytes" in result:
                loaded = result["array_bytes"] + result["vocabulary_bytes"]
                row["loaded_mb"] = loaded / 1e6
                row["peak_over_loaded"] = peak / loaded
            rows.append(row)

    print(f"# Loading {args.pairs:,} rows (user,item; {args.users:,} users, {args.items:,} items), "
          f"{args.threads} threads\n")
    print(f"Files: {plain} ({text_bytes / 1e6:,.0f} MB), {packed.name} "
          f"({packed.stat().st_size / 1e6:,.0f} MB); {os.cpu_count()} CPUs; load average "
          f"{start_load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
          f"total run time {time.time() - began:.0f} s.\n")
    print("| reader | file | seconds | M rows/s | MB/s stored | MB/s text | peak RSS MB | "
          "loaded MB | peak / loaded |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        loaded = f"{r['loaded_mb']:,.0f}" if "loaded_mb" in r else "–"
        ratio = f"{r['peak_over_loaded']:.2f}" if "peak_over_loaded" in r else "–"
        print(f"| {r['reader']} | {r['file']} | {r['seconds']:.2f} | {r['rows_per_s'] / 1e6:.1f} | "
              f"{r['stored_mb_per_s']:,.0f} | {r['text_mb_per_s']:,.0f} | {r['peak_rss_mb']:,.0f} | "
              f"{loaded} | {ratio} |")
    print()
    verdicts = []
    for name in (plain.name, packed.name):
        mine = [r for r in rows if r["file"] == name and r["reader"] == "latent"][0]
        peers = [r for r in rows if r["file"] == name and r["reader"] != "latent"]
        best = min(peers, key=lambda r: r["seconds"])
        ok = mine["seconds"] <= best["seconds"]
        verdicts.append(ok and mine["peak_over_loaded"] <= 1.3)
        print(f"{'PASS' if ok else 'FAIL'} speed on {name}: latent {mine['seconds']:.2f} s, "
              f"{best['seconds'] / mine['seconds']:.2f}x the faster peer ({best['reader']}, "
              f"{best['seconds']:.2f} s)")
        print(f"{'PASS' if mine['peak_over_loaded'] <= 1.3 else 'FAIL'} memory on {name}: peak "
              f"RSS {mine['peak_rss_mb']:,.0f} MB = {mine['peak_over_loaded']:.2f}x the "
              f"{mine['loaded_mb']:,.0f} MB loaded (target <= 1.3x)")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
