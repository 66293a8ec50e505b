#!/usr/bin/python3
"""latent's approximate index beside hnswlib and faiss on a big catalog, in one run (issue 13).

The catalog: `latent synth --users U --items N --pairs P` (N = 1,000,000 by
default), and on it the models latent trains (ALS and two-tower, d 64), made
once under build/bench-data/index-N/. For each model, on its item vectors and
--queries random users' vectors:

  latent        build/bench/latent_bench_index: its exact search (top_k, one
                thread, all queries in one call: the baseline of every
                "x exact"), then HnswIndex built on --build-threads and searched
                on 1 thread for each --ef; and again with each user's seen items
                excluded (recall against the exact search with that exclusion);
  hnswlib       space "ip", the same m / ef_construction, 1 search thread;
  faiss HNSW    IndexHNSWFlat, METRIC_INNER_PRODUCT, the same m / ef_construction;
  faiss IVF-PQ  IVF{4 sqrt(N) down to a power of 2},PQ32x4fs,RFlat: fast-scan codes, exact re-ranking
                of k_factor x 10 candidates, for each --nprobe;
  faiss exact   IndexFlatIP on 1 thread, a peer of latent's exact search;

(the peers: bench/index_peers.py in build/peers-venv, hnswlib and faiss-cpu
from PyPI, on the vectors latent_bench_index exports). Every recall@10 is
against latent's exact top 10; queries/s are on one thread, each search of
all the queries timed as the fastest of --passes passes (5; fewer once 5 s have
gone on them), latent's and the peers' alike; build seconds on
--build-threads; bytes per item are the index's memory with the raw float
vectors (latent's graph plus the model's vectors; hnswlib's and faiss's
index files, which hold both).

    cmake --build build --target latent_cli latent_bench_index
    /usr/bin/python3 bench/index_bench.py                     # 1,000,000 items
    /usr/bin/python3 bench/index_bench.py --items 100000      # a quick run

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
PEERS = {"hnswlib": "hnswlib", "faiss": "faiss-cpu", "numpy": "numpy"}
sys.path.insert(0, str(ROOT / "bench"))
from catalog import Catalog, add_arguments as catalog_arguments  # noqa: E402
from peers import peers_python  # noqa: E402


def say(*args):
    print(*args, file=sys.stderr, flush=True)


def run(cmd, env=None):
    t = time.perf_counter()
    done = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"index_bench.py: {' '.join(map(str, cmd))} failed:\n{done.stderr}{done.stdout}")
    return done.stdout, time.perf_counter() - t


def seconds(s):
    """A build time for the table: "-" when not measured (a reused graph)."""
    return "-" if s is None else f"{s:.1f}"


def load():
    return open("/proc/loadavg").read().split()[0]


def positive(text):
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return n


def forget(graph, peer_dir):
    """Removes latent's kept graph and the peers' kept indexes."""
    graph.unlink(missing_ok=True)
    if peer_dir.is_dir():
        for f in peer_dir.iterdir():
            f.unlink()
        peer_dir.rmdir()


def faster(a, b):
    """Two rounds' figures as one: each timing (a dict with queries_per_second)
    the faster round's, a build time the round that measured one, the rest the
    first round's. The searches are deterministic, so recall is the same."""
    if isinstance(a, dict) and isinstance(b, dict):
        if "queries_per_second" in a and "queries_per_second" in b:
            return a if a["queries_per_second"] >= b["queries_per_second"] else b
        out = {k: faster(v, b[k]) if k in b else v for k, v in a.items()}
        if "build_seconds" in a and a["build_seconds"] is None:
            out["build_seconds"] = b.get("build_seconds")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [faster(x, y) for x, y in zip(a, b)]
    return a


def fastest(rounds):
    out = rounds[0]
    for r in rounds[1:]:
        out = faster(out, r)
    out["rounds"] = len(rounds)
    return out


def best_at(rows, target):
    """The fastest row with recall >= target, or None."""
    ok = [r for r in rows if r["recall"] >= target]
    return max(ok, key=lambda r: r["queries_per_second"]) if ok else None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    catalog_arguments(p)
    p.add_argument("--queries", type=int, default=10_000)
    p.add_argument("--two-tower-epochs", type=int, default=5,
                   help="two-tower's epochs (about 3 minutes each at 10M pairs on 2 cores)")
    p.add_argument("--models", default="als,two-tower")
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--build-threads", type=int, default=2)
    p.add_argument("--ef", default="10,20,40,80,160")
    p.add_argument("--passes", type=positive, default=5,
                   help="time every search of all the queries as the fastest of this many passes "
                        "(fewer once 5 s have gone on them), latent's and the peers'")
    p.add_argument("--nprobe", default="8,16,32,64,128")
    p.add_argument("--k-factor", default="10")
    p.add_argument("--hnsw-single-ef", type=int, default=0,
                   help="also time latent's index one query per call at this ef (0: skip)")
    p.add_argument("--peers", default="hnswlib,faiss-hnsw,faiss-ivfpq,faiss-flat")
    p.add_argument("--exact-single", type=int, default=100,
                   help="queries to time one call each on latent's exact search (0: skip)")
    p.add_argument("--no-filtered", action="store_true",
                   help="skip the searches that exclude each user's seen items")
    p.add_argument("--rounds", type=positive, default=3,
                   help="measure latent and the peers this many times, in turn, and keep each "
                        "setting's fastest round: the machine's speed drifts between processes "
                        "(the graphs are built once)")
    p.add_argument("--reuse-index", action="store_true",
                   help="keep the graphs (latent's and the peers') in the bench data directory "
                        "and load them on the next run (their build times are then not "
                        "measured): for trying search changes")
    p.add_argument("--build", default=str(ROOT / "build"))
    a = p.parse_args()

    build = pathlib.Path(a.build)
    cli, bench = build / "bin" / "latent", build / "bench" / "latent_bench_index"
    for f in (cli, bench):
        if not f.exists():
            sys.exit(f"index_bench.py: {f} is missing: "
                     "cmake --build build --target latent_cli latent_bench_index")
    python = peers_python(build / "peers-venv", PEERS) if a.peers else None
    catalog = Catalog.from_args(build, a, say)
    work, tag = catalog.work, catalog.tag

    system = json.loads(run([cli, "info", "--system", "--json"])[0])
    say(f"cpu: {system['cpu']}; 1-minute load average at start {load()}")
    start_load = load()
    results = {}
    for kind in a.models.split(","):
        model = catalog.model(kind, a.two_tower_epochs)
        export = work / f"export-{kind}-{tag}"
        export.mkdir(exist_ok=True)
        # Rounds after the first load the graphs the first built: latent's
        # and the peers', kept in the bench data directory, under names of
        # this run's own unless --reuse-index keeps them for the next run.
        keep = a.reuse_index or a.rounds > 1
        kept = "" if a.reuse_index else "-this-run"
        graph = work / f"{kind}-m{a.m}-efc{a.ef_construction}{kept}.index"
        peer_dir = work / f"peers-{pathlib.Path(model).stem}{kept}"
        if not a.reuse_index:
            forget(graph, peer_dir)
        if keep:
            peer_dir.mkdir(exist_ok=True)
        lat_rounds, peer_rounds = [], []
        for round_ in range(a.rounds):
            say(f"{kind}: latent_bench_index (round {round_ + 1} of {a.rounds})...")
            latent_out, s = run([bench, "--model", model, "--queries", a.queries, "--m", a.m,
                                 "--ef-construction", a.ef_construction, "--build-threads",
                                 a.build_threads, "--ef", a.ef, "--passes", a.passes,
                                 "--hnsw-single-ef", a.hnsw_single_ef, "--exact-single",
                                 a.exact_single if round_ == 0 else 0,
                                 *(["--no-filtered"] if a.no_filtered else []),
                                 *(["--export", export] if round_ == 0 else []),
                                 *(["--index-file", graph] if keep else []), "--json",
                                 export / "latent.json"])
            say(latent_out.rstrip())
            say(f"  ({s:.0f} s)")
            lat_rounds.append(json.load(open(export / "latent.json")))
            if a.peers:
                say(f"{kind}: index_peers.py (round {round_ + 1} of {a.rounds})...")
                env = dict(os.environ, OMP_NUM_THREADS=str(a.build_threads),
                           INDEX_PEERS_TMP=str(work))
                _, s = run([python, ROOT / "bench" / "index_peers.py", "--dir", export, "--json",
                            export / "peers.json", "--m", a.m, "--ef-construction",
                            a.ef_construction, "--build-threads", a.build_threads, "--ef", a.ef,
                            "--passes", a.passes, "--nprobe", a.nprobe, "--k-factor",
                            a.k_factor, "--peers", a.peers,
                            *(["--index-dir", peer_dir] if keep else [])], env)
                say(f"  ({s:.0f} s)")
                peer_rounds.append(json.load(open(export / "peers.json")))
        if not a.reuse_index:
            forget(graph, peer_dir)
        results[kind] = (fastest(lat_rounds), fastest(peer_rounds) if peer_rounds else {})

    print(f"cpu: {system['cpu']}; latent: {system['blas_kernels']} kernels; 1-minute load "
          f"average {start_load} at start, {load()} at end")
    for kind, (lat, peers) in results.items():
        exact_qps = lat["exact"]["queries_per_second"]
        vec = lat["vector_bytes_per_item"]
        print(f"\n{kind} (d {lat['dim']}): {lat['items']:,} items, {lat['queries']:,} query "
              f"users, top {lat['k']}; search on 1 thread, the fastest of "
              f"{lat.get('passes', 1)} passes in {lat['rounds']} round"
              f"{'s' if lat['rounds'] > 1 else ''}; builds on "
              f"{lat['build_threads']} "
              f"threads; x exact = queries/s over latent's exact search's")
        print(f"{'setting':<58}{'recall@10':>10}{'queries/s':>11}{'build s':>9}"
              f"{'bytes/item':>11}{'x exact':>10}")

        def line(setting, recall, qps, build_s, bytes_item):
            b = seconds(build_s)
            print(f"{setting:<58}{recall:>10.4f}{qps:>11.0f}{b:>9}{bytes_item:>11.0f}"
                  f"{qps / exact_qps:>9.2f}x")

        line("latent exact (top_k, all queries in one call)", 1.0, exact_qps, None, vec)
        single = lat["exact_single"]
        if single["queries"]:
            line(f"latent exact, one query per call ({single['queries']} queries)", 1.0,
                 single["queries_per_second"], None, vec)
        if "faiss-flat" in peers:
            r = peers["faiss-flat"]["rows"][0]
            line(peers["faiss-flat"]["name"], r["recall"], r["queries_per_second"], None, vec)
        per_item = lat["graph_bytes_per_item"] + vec
        by_lib = {"latent hnsw": lat["hnsw"]}
        for r in lat["hnsw"]:
            line(f"latent hnsw m {lat['m']} efc {lat['ef_construction']} ef {r['ef']}",
                 r["recall"], r["queries_per_second"], lat["build_seconds"], per_item)
        hs = lat.get("hnsw_single", {})
        if hs.get("queries"):
            line(f"latent hnsw ef {hs['ef']}, one query per call ({hs['queries']} queries)",
                 hs["recall"], hs["queries_per_second"], lat["build_seconds"], per_item)
        for name in ("hnswlib", "faiss-hnsw", "faiss-ivfpq"):
            if name not in peers:
                continue
            peer = peers[name]
            by_lib[peer["name"]] = peer["rows"]
            for r in peer["rows"]:
                line(f"{peer['name']} {r['setting']}", r["recall"], r["queries_per_second"],
                     peer["build_seconds"], peer["bytes_per_item"])
        if "hnsw_seen" in lat:
            ex = lat["exact_seen"]["queries_per_second"]
            print(f"each user's seen items excluded (latent only; x exact = over the exact "
                  f"search with the same exclusion, {ex:.0f} queries/s):")
            for r in lat["hnsw_seen"]:
                print(f"{'latent hnsw ef ' + str(r['ef']) + ', seen excluded':<58}"
                      f"{r['recall']:>10.4f}{r['queries_per_second']:>11.0f}"
                      f"{seconds(lat['build_seconds']):>9}{per_item:>11.0f}"
                      f"{r['queries_per_second'] / ex:>9.2f}x")
        for target in (0.9, 0.95, 0.99):
            parts = []
            for lib, rows in by_lib.items():
                b = best_at(rows, target)
                parts.append(f"{lib}: " + ("none" if b is None else
                                           f"{b['queries_per_second']:.0f} q/s "
                                           f"({b.get('setting', 'ef ' + str(b.get('ef')))})"))
            print(f"fastest at recall@10 >= {target}: " + "; ".join(parts))


if __name__ == "__main__":
    main()
