#!/usr/bin/python3
"""Throughput and latency of ``latent serve`` under wrk, and the memory it holds per model.

Two cases, each a separate server process with one model:

ml-100k
    The TFRS tutorial's two-tower model on MovieLens 100K (ratings > 3, titles
    as items, dim 64, in-batch softmax, Adagrad 0.5, batch 4096, 3 epochs),
    trained and saved with ``latent train``: 942 users x 1,664 items.
synthetic-1m
    A model file of random 64-d embeddings for 1,000,000 items and 10,000
    users (``latent_synthetic_model``), served with the same exact search.
als-1m-index
    The ALS model (d 64) of bench/index_bench.py's catalog (``latent synth
    --users 200000 --items 1000000 --pairs 10000000 --zipf 0.8``: 963,832
    items occur) with its HNSW index (``latent index``, default settings,
    ``--index-ef`` queries' effort); both are made once under
    build/bench-data/index-1000000/ (bench/catalog.py). After the runs,
    recall@10 of the server's own ``:predict`` answers for 1,000 random users
    against its exact search of the same users (``:recommend`` with
    ``"exact": true``).

For each: ``latent serve`` starts on a loopback port; wrk (Debian's ``wrk``
package) sends TF Serving ``:predict`` requests, one random known user each
(``{"instances": ["<id>"]}``, top-10, as a saved TFRS BruteForce index
answers), over keep-alive connections (default 64 connections, 2 threads,
a 2 s warm-up, then --repeat measurements of 10 s); every non-2xx answer or
socket error is counted. The load generator runs on the same machine as the
server, and so does anything else running there: each run prints the CPU
(in cores, averaged over the run) used by the server, by wrk and by every
other process (from /proc/stat), because tail latency on 2 cores moves
with other processes' load.

Printed per case: requests/s, p50 and p99 latency (wrk's latency
percentiles, from its Lua ``done`` hook), errors, and the server's resident
memory (VmRSS) right after it loaded the model and after the run, beside
``latent_model_bytes`` (the model's arrays, from ``/metrics``).

Targets (from issue 4, for ml-100k): >= 20,000 requests/s and p99 < 5 ms;
(from issue 13, for als-1m-index): >= 10,000 requests/s, p99 < 10 ms and
recall@10 >= 0.95.

Run from the repository root after building (``scripts/build.sh``):

    /usr/bin/python3 bench/serve_bench.py            # both cases
    /usr/bin/python3 bench/serve_bench.py --cases ml-100k --duration 30
"""

import argparse
import json
import os
import pathlib
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WRK_SCRIPT = r"""
local users = {}
local path = "/v1/models/%(model)s:predict"
local headers = {["Content-Type"] = "application/json"}

function init(args)
  for line in io.lines("%(users)s") do users[#users + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  local u = users[math.random(#users)]
  return wrk.format("POST", path, headers, '{"instances": ["' .. u .. '"]}')
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%%d duration_us=%%d p50_us=%%d p99_us=%%d max_us=%%d "
                         .. "status_errors=%%d socket_errors=%%d\n",
                         summary.requests, summary.duration, latency:percentile(50),
                         latency:percentile(99), latency.max, e.status,
                         e.connect + e.read + e.write + e.timeout))
end
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def busy_seconds():
    """CPU seconds all processes spent since boot (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def process_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def children_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def http_get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


def run(cmd, **kw):
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def start_server(latent, base, name, threads, batch_min_items):
    cmd = [latent, "serve", "--model_name", name, "--model_base_path", base,
           "--rest_api_host", "127.0.0.1", "--rest_api_port", "0",
           "--file_system_poll_wait_seconds", "0"]
    if threads is not None:
        cmd += ["--rest_api_num_threads", str(threads)]
    if batch_min_items is not None:
        cmd += ["--batch_min_items", str(batch_min_items)]
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        sys.stdout.write("  server: " + line)
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))
    raise SystemExit("latent serve did not start")


def wrk(url_base, script, connections, threads, seconds):
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
           "--timeout", "30s", "-s", script, url_base]
    print("$ " + " ".join(cmd), flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    m = re.search(r"RESULT (.*)", out)
    if not m:
        raise SystemExit("wrk printed no RESULT line:\n" + out)
    return {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def post_json(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())


def served_recall(url, name, users, count, seed=7):
    """Mean share of the exact top 10 in the server's :predict answers, over `count` users."""
    picked = random.Random(seed).sample(users, min(count, len(users)))
    total = 0.0
    for start in range(0, len(picked), 100):
        batch = picked[start:start + 100]
        served = post_json(f"{url}/v1/models/{name}:predict", {"instances": batch})["predictions"]
        exact = post_json(f"{url}/v1/models/{name}:recommend",
                          {"users": batch, "k": 10, "exact": True})["recommendations"]
        for s, e in zip(served, exact):
            total += len(set(s["output_2"]) & set(e["items"])) / max(1, len(e["items"]))
    return total / len(picked)


def bench_case(args, label, base, name, users, work, indexed=False):
    latent = os.path.join(args.build, "bin", "latent")
    users_file = os.path.join(work, f"{label}.users")
    with open(users_file, "w") as f:
        f.write("\n".join(users) + "\n")
    script = os.path.join(work, f"{label}.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT % {"model": name, "users": users_file})
    proc, port = start_server(latent, base, name, args.server_threads, args.batch_min_items)
    try:
        url = f"http://127.0.0.1:{port}"
        loaded_kib = rss_kib(proc.pid)
        model_bytes = int(re.search(r'latent_model_bytes\{model="%s"\} (\d+)' % name,
                                    http_get(url + "/metrics")).group(1))
        if args.warmup > 0:
            wrk(url, script, args.connections, args.wrk_threads, args.warmup)
        rows = []
        for run_index in range(args.repeat):
            busy0, server0, wrk0, t0 = busy_seconds(), process_seconds(proc.pid), children_seconds(), time.time()
            r = wrk(url, script, args.connections, args.wrk_threads, args.duration)
            wall = time.time() - t0
            server_cores = (process_seconds(proc.pid) - server0) / wall
            wrk_cores = (children_seconds() - wrk0) / wall
            # Whatever else ran on the machine meanwhile (other builds and tests).
            other_cores = max(0.0, (busy_seconds() - busy0) / wall - server_cores - wrk_cores)
            rps = r["requests"] / (r["duration_us"] / 1e6)
            row = {"case": label, "run": run_index + 1, "requests_per_s": rps, "p50_ms": r["p50_us"] / 1000,
                   "p99_ms": r["p99_us"] / 1000, "max_ms": r["max_us"] / 1000,
                   "requests": r["requests"], "errors": r["status_errors"] + r["socket_errors"],
                   "rss_loaded_mib": loaded_kib / 1024, "rss_after_mib": rss_kib(proc.pid) / 1024,
                   "model_mib": model_bytes / 2**20,
                   "server_cores": server_cores, "wrk_cores": wrk_cores, "other_cores": other_cores}
            print(f"  {label} run {run_index + 1}: {rps:,.0f} requests/s, p50 {row['p50_ms']:.2f} ms, "
                  f"p99 {row['p99_ms']:.2f} ms, {row['errors']} errors of {r['requests']:,}; server RSS "
                  f"{row['rss_loaded_mib']:.1f} MiB loaded, {row['rss_after_mib']:.1f} MiB after; model arrays "
                  f"{row['model_mib']:.1f} MiB; CPU: server {server_cores:.2f} cores, wrk {wrk_cores:.2f}, "
                  f"other processes {other_cores:.2f}", flush=True)
            rows.append(row)
        if indexed:
            recall = served_recall(url, name, users, 1000)
            for row in rows:
                row["recall_at_10"] = recall
            print(f"  {label}: recall@10 of the server's :predict answers against its exact "
                  f"search, 1,000 random users: {recall:.4f}", flush=True)
        metrics = http_get(url + "/metrics")
        searches = int(re.search(r"^latent_search_batches_total (\d+)$", metrics, re.M).group(1))
        queries = int(re.search(r"^latent_search_batched_queries_total (\d+)$", metrics, re.M).group(1))
        if searches:
            print(f"  {label}: {searches:,} merged searches answered {queries:,} requests "
                  f"({queries / searches:.1f} per search)", flush=True)
        else:
            print(f"  {label}: one search per request (no merged searches)", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return rows


def prepare_ml100k(args, work):
    latent = os.path.join(args.build, "bin", "latent")
    if not os.path.exists(os.path.join(args.ml100k, "u.data")):
        print(f"MovieLens 100K not found at {args.ml100k} (--ml100k); skipping the ml-100k case")
        return None
    base = os.path.join(work, "movies")
    os.makedirs(os.path.join(base, "1"))
    model = os.path.join(base, "1", "model.latent")
    run([latent, "train", "--data", args.ml100k, "--rating-above", "3", "--item-key", "title",
         "--negatives", "in-batch", "--learning-rate", "0.5", "--batch-size", "4096", "--epochs", "3",
         "--out", model, "--quiet"])
    emb = os.path.join(work, "emb")
    run([latent, "embeddings", model, "--out-dir", emb], stdout=subprocess.DEVNULL)
    with open(os.path.join(emb, "users.tsv")) as f:
        users = [line.rstrip("\n") for line in f][1:]  # row 0 is [UNK]
    return base, "movies", users


def prepare_synthetic(args, work):
    base = os.path.join(work, "catalog")
    os.makedirs(os.path.join(base, "1"))
    model = os.path.join(base, "1", "model.latent")
    run([os.path.join(args.build, "bench", "latent_synthetic_model"), "--items", str(args.items),
         "--users", "10000", "--out", model])
    return base, "catalog", [str(u) for u in range(1, 10001)]


def prepare_indexed(args, work):
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from catalog import Catalog
    latent = os.path.join(args.build, "bin", "latent")
    catalog = Catalog(args.build, 1_000_000, 200_000, 10_000_000, "0.8")
    model = catalog.model("als")
    index = pathlib.Path(f"{model}.index")
    if not index.exists():
        # The recommendations' graph only: the runs ask :predict, never :similar.
        run([latent, "index", str(model), "--ef", str(args.index_ef), "--check-users", "0",
             "--no-similar"])
    described = json.loads(subprocess.run([latent, "info", str(model), "--json"], check=True,
                                          capture_output=True, text=True).stdout)["index"]
    if described.get("ef") != args.index_ef:
        raise SystemExit(f"{index} has ef {described.get('ef')}, not --index-ef {args.index_ef}: "
                         f"remove it (latent index {model} --remove) to build it again")
    base = os.path.join(work, "indexed")
    os.makedirs(os.path.join(base, "1"))
    os.symlink(model, os.path.join(base, "1", "model.latent"))
    os.symlink(index, os.path.join(base, "1", "model.latent.index"))
    return base, "indexed", catalog.users()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--ml100k", default=os.environ.get("LATENT_ML100K",
                                                      os.path.join(ROOT, "..", "shared", "data", "ml-100k")))
    p.add_argument("--cases", default="ml-100k,synthetic-1m,als-1m-index")
    p.add_argument("--index-ef", type=int, default=64,
                   help="the als-1m-index case's index effort (latent index --ef)")
    p.add_argument("--items", type=int, default=1_000_000, help="items of the synthetic case")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--server-threads", type=int,
                   help="--rest_api_num_threads of latent serve: I/O threads (default: its own, one per core)")
    p.add_argument("--batch-min-items", type=int, help="--batch_min_items of latent serve (default: its own)")
    p.add_argument("--duration", type=int, default=10, help="seconds of measurement per case")
    p.add_argument("--warmup", type=int, default=2, help="seconds of load before measuring")
    p.add_argument("--repeat", type=int, default=3, help="measurements per case, on the same server")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk (scripts/install-deps.sh --bench)")
    print(f"uptime: {os.getloadavg()} (load average); cores: {os.cpu_count()}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="latent-serve-bench-") as work:
        for case in args.cases.split(","):
            prepared = prepare_ml100k(args, work) if case == "ml-100k" else \
                prepare_synthetic(args, work) if case == "synthetic-1m" else \
                prepare_indexed(args, work) if case == "als-1m-index" else None
            if prepared is None:
                continue
            rows.extend(bench_case(args, case, *prepared, work, indexed=case == "als-1m-index"))
    print()
    print(f"{'case':<14} {'run':>3} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'RSS MiB':>8} "
          f"{'model MiB':>10} {'other CPU':>9}")
    for r in rows:
        print(f"{r['case']:<14} {r['run']:>3} {r['requests_per_s']:>10,.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
              f"{r['errors']:>7} {r['rss_loaded_mib']:>8.1f} {r['model_mib']:>10.1f} {r['other_cores']:>9.2f}")
    for r in rows:
        if r["case"] == "als-1m-index":
            print(f"target als-1m-index run {r['run']}: >= 10,000 requests/s: "
                  f"{'PASS' if r['requests_per_s'] >= 10000 else 'FAIL'}; p99 < 10 ms: "
                  f"{'PASS' if r['p99_ms'] < 10 else 'FAIL'}; recall@10 >= 0.95: "
                  f"{'PASS' if r['recall_at_10'] >= 0.95 else 'FAIL'} ({r['recall_at_10']:.4f})")
        if r["case"] == "ml-100k":
            ok_rps = r["requests_per_s"] >= 20000
            ok_p99 = r["p99_ms"] < 5
            print(f"target ml-100k run {r['run']}: >= 20,000 requests/s: {'PASS' if ok_rps else 'FAIL'}; "
                  f"p99 < 5 ms: {'PASS' if ok_p99 else 'FAIL'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
