#!/usr/bin/python3
"""`latent recommend --all-users` at the MovieLens-20M shape against the plain
product it rests on, and against implicit, in one run.

The model: ALS (64 factors, latent's defaults) trained on `latent synth`'s
default data (138,000 users x 26,000 items x 10M pairs, seed 42), made once
into build/bench-data/. Then, on the same vectors:

  latent      `latent recommend MODEL --all-users --k 10 --exclude-seen --out FILE`,
              the whole command (loading the model, ranking every user with
              their seen items excluded, writing 1.38M CSV lines), best of --runs;
  sgemm       numpy's OpenBLAS computing the users x items^T scores alone
              (no selection, no exclusion, no output), 8,192 users at a time,
              on the same number of threads (bench/all_users_peers.py);
  implicit    implicit 0.7.3's recommend for every user, N=10, seen filtered.

GFLOP/s counts the product's 2 x users x items x 64 operations for every
column; latent's target is >= 50% of the sgemm figure.

    cmake --build build --target latent_cli latent_python
    /usr/bin/python3 bench/all_users_bench.py [--threads 2] [--runs 3]

The peers run in build/peers-venv (made by bench/scale_bench.py or here).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from peers import peers_python  # noqa: E402
from scale_bench import PEERS  # noqa: E402  (implicit, threadpoolctl)


def run(cmd, env=None):
    done = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"all_users_bench.py: {' '.join(map(str, cmd))} failed:\n{done.stderr}")
    return done.stdout


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--build", default=str(ROOT / "build"))
    a = p.parse_args()
    build = pathlib.Path(a.build)
    cli = build / "bin" / "latent"
    work = build / "bench-data"
    work.mkdir(parents=True, exist_ok=True)
    data, model = work / "synth-default.csv", work / "als-synth-default.latent"
    if not data.exists():
        run([cli, "synth", "--out", data])
    if not model.exists():
        run([cli, "train", "--data", data, "--model", "als", "--dim", "64", "--out", model, "-q"])
    python = peers_python(build / "peers-venv", PEERS)

    with tempfile.TemporaryDirectory() as tmp:
        vectors = pathlib.Path(tmp) / "vectors.npz"
        export = ("import latent, numpy as np, sys\n"
                  "m = latent.load(sys.argv[1])\n"
                  "u, uid = m.user_embeddings(); v, iid = m.item_embeddings()\n"
                  "np.savez(sys.argv[2], users=u, items=v, user_ids=np.array(uid[1:], dtype=str),\n"
                  "         item_ids=np.array(iid[1:], dtype=str))\n")
        env = dict(os.environ, PYTHONPATH=str(build / "python"))
        run(["/usr/bin/python3", "-c", export, model, vectors], env)

        out = pathlib.Path(tmp) / "all.csv"
        latent_runs = []
        for _ in range(a.runs):
            t = time.perf_counter()
            run([cli, "recommend", model, "--all-users", "--k", "10", "--exclude-seen",
                 "--threads", str(a.threads), "--out", out])
            latent_runs.append(time.perf_counter() - t)
        lines = sum(1 for _ in open(out)) - 1
        peers = json.loads(run([python, ROOT / "bench" / "all_users_peers.py", "--vectors",
                                vectors, "--data", data, "--threads", str(a.threads)],
                               dict(os.environ, OPENBLAS_NUM_THREADS=str(a.threads))))
        import numpy as np
        z = np.load(vectors)
        users, items, dim = z["users"].shape[0] - 1, z["items"].shape[0], z["users"].shape[1]
    system = json.loads(run([cli, "info", "--system", "--json"]))
    flops = 2.0 * users * items * dim
    latent_s = min(latent_runs)
    print(f"cpu: {system['cpu']}; latent: {system['blas_kernels']} kernels; numpy: "
          + ", ".join(f"{b['internal_api']} {b['version']} {b['architecture']}" for b in peers["blas"])
          + f"; {a.threads} threads; load average at end {open('/proc/loadavg').read().split()[0]}")
    print(f"{users:,} users x {items:,} items x {dim}; latent wrote {lines:,} lines\n")
    print(f"{'':<58}{'seconds':>10}{'GFLOP/s':>10}{'of sgemm':>10}")
    rows = [("latent recommend --all-users --exclude-seen (whole command)", latent_s),
            ("sgemm alone (numpy, 8,192 users a block)", peers["sgemm_seconds"]),
            (f"implicit {peers['implicit']} recommend, all users, seen filtered",
             peers["implicit_seconds"])]
    for label, seconds in rows:
        print(f"{label:<58}{seconds:>10.2f}{flops / seconds / 1e9:>10.1f}"
              f"{peers['sgemm_seconds'] / seconds:>10.2f}")
    print(f"\nlatent runs: {', '.join(f'{s:.2f}' for s in latent_runs)} s; sgemm passes: "
          f"{', '.join(f'{s:.2f}' for s in peers['sgemm_passes'])} s; target: latent >= 0.50 of "
          f"sgemm")


if __name__ == "__main__":
    main()
