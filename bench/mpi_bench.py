#!/usr/bin/python3
"""Distributed training on MPI ranks against one process, on this machine (issue 15, item 3).

The data: the MovieLens-20M shape (`latent synth --users 138000 --items 26000
--pairs 20000000`), split line by line, round robin, into 8 part files with
the header "user,item" (as logs split by time are: every part holds some
pairs of nearly every user), made once under the work directory (default
/tmp/latent-mpi-bench) and reused. For each model of --models, the same
`latent train --data 'DIR/part-*.csv' --model M --threads 1` twice:

  1 rank   one process
  N ranks  mpirun --allow-run-as-root --oversubscribe --bind-to B -np N
           (each rank reads files r, r+N, ...; rank 0 writes the model)

als runs --epochs (default 5) with its other defaults; two-tower runs
--two-tower-epochs (default 1) on --two-tower-pairs pairs (default the same
20M) with its defaults and --two-tower-flags. The N-rank run goes first: a model that does not
train on several ranks is skipped with a note before its 1-rank run is spent.

Printed per run, from the command and the model file's training metadata
(`latent info --json`): wall seconds of the whole command, CPU seconds of it
(every process, mpirun's included), the cores other processes used meanwhile
(/proc/stat), train_seconds, epoch 1 and the mean of the later epochs
(epoch 1's bytes include regrouping the pairs, its seconds do not), wall
minus train (loading, agreeing on vocabularies, regrouping, the trainer's
setup, gathering and saving the model), and
the compute rate in pairs per second per rank per epoch, which a scaling
model needs; for N ranks, the bytes the ranks sent (from the metadata). Then
the speed-up of N ranks over one in seconds per epoch and in train_seconds,
and the target (informational; the exit status is 0 either way): a speed-up
of at least 1.7x per epoch with 2 ranks.

    cmake --build build --target latent_cli
    /usr/bin/python3 bench/mpi_bench.py                      # als and two-tower
    /usr/bin/python3 bench/mpi_bench.py --models als --epochs 3
    /usr/bin/python3 bench/mpi_bench.py --models two-tower --two-tower-pairs 2000000 \
        --two-tower-flags "--batch-size 4096"        # the TFRS tutorial's batch

The latent binary is copied into the work directory first and the copy runs,
so that rebuilding the tree meanwhile changes nothing. Run it on a quiet
machine: with two cores, any other process takes a rank's core.
"""

import argparse
import hashlib
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def say(*args):
    print(*args, file=sys.stderr, flush=True)


def busy_seconds():
    """CPU seconds every process on the machine spent since boot (not idle, not iowait)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def make_parts(latent, work, users, items, pairs, parts):
    """The part files of one shape (made once): synth's rows dealt round robin."""
    directory = work / f"data-{users}x{items}-{pairs}-{parts}parts"
    if directory.exists():
        return directory
    tmp = work / (directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    whole = tmp / "all.csv"
    say(f"writing {pairs:,} pairs into {parts} part files under {directory} ...")
    subprocess.run([str(latent), "synth", "--users", str(users), "--items", str(items),
                    "--pairs", str(pairs), "--out", str(whole)], check=True, stdout=subprocess.DEVNULL)
    outs = [open(tmp / f"part-{k}.csv", "w") for k in range(parts)]
    with open(whole) as src:
        src.readline()  # synth's own header
        for out in outs:
            out.write("user,item\n")
        for n, line in enumerate(src):
            outs[n % parts].write(line)
    for out in outs:
        out.close()
    whole.unlink()
    tmp.rename(directory)
    return directory


def train(args, latent, data, model, ranks, epochs, log):
    """Runs one training; returns its measurements, or None with the error text."""
    out = args.work / f"{model}-{data.name}-{ranks}ranks.latent"
    out.unlink(missing_ok=True)
    extra = args.two_tower_flags.split() if model == "two-tower" else []
    cmd = [str(latent), "train", "--data", str(data / "part-*.csv"), "--model", model,
           "--epochs", str(epochs), "--threads", "1", "--out", str(out), "--quiet"] + extra
    if ranks > 1:
        cmd = [args.mpirun, "--allow-run-as-root", "--oversubscribe", "--bind-to", args.bind_to,
               "-np", str(ranks)] + cmd
    say("$ " + " ".join(cmd))
    busy0, cpu0, t0 = busy_seconds(), children_seconds(), time.monotonic()
    with open(log, "w") as errors:
        done = subprocess.run(cmd, stdout=errors, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    cpu = children_seconds() - cpu0
    other = max(0.0, (busy_seconds() - busy0 - cpu) / wall)
    if done.returncode != 0:
        return None, pathlib.Path(log).read_text()
    info = json.loads(subprocess.run([str(latent), "info", "--json", str(out)], check=True,
                                     capture_output=True, text=True).stdout)["training"]
    seconds = [e["seconds"] for e in info["epochs"]]
    later = seconds[1:] or seconds
    per_epoch = sum(later) / len(later)
    run = {"model": model, "ranks": ranks, "pairs": info["train_pairs"], "epochs": len(seconds),
           "wall": wall, "cpu": cpu, "other_cores": other, "train_seconds": info["train_seconds"],
           "epoch_seconds": seconds, "first_epoch": seconds[0], "per_epoch": per_epoch,
           "outside_training": wall - info["train_seconds"],
           "pairs_per_rank_s": info["train_pairs"] / ranks / per_epoch}
    if "distributed" in info:
        d = info["distributed"]
        sent = d["bytes_sent_by_epoch"]
        later_sent = sent[1:] or sent
        run.update(bytes_by_epoch=sent, bytes_by_rank=d["bytes_sent_by_rank"],
                   bytes_per_epoch=sum(later_sent) / len(later_sent))
    return run, None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="als,two-tower", help="comma-separated")
    p.add_argument("--epochs", type=int, default=5, help="als's epochs")
    p.add_argument("--two-tower-epochs", type=int, default=1)
    p.add_argument("--users", type=int, default=138_000)
    p.add_argument("--items", type=int, default=26_000)
    p.add_argument("--pairs", type=int, default=20_000_000)
    p.add_argument("--two-tower-pairs", type=int, help="pairs of two-tower's data (default --pairs)")
    p.add_argument("--two-tower-flags", default="",
                   help="more flags of two-tower's runs, e.g. \"--batch-size 4096\"")
    p.add_argument("--parts", type=int, default=8, help="part files")
    p.add_argument("--ranks", type=int, default=2)
    # Open MPI binds each rank to a core by default when there are at most 2
    # ranks; with one thread per rank that is right, and "none" measured the
    # same here (within noise), so the default stays. "none" lets a rank
    # move off a core that another process wants.
    p.add_argument("--bind-to", default="core", help="mpirun --bind-to: core, socket, none")
    p.add_argument("--latent", default=str(ROOT / "build" / "bin" / "latent"))
    p.add_argument("--mpirun", default="mpirun")
    p.add_argument("--work", type=pathlib.Path, default=pathlib.Path("/tmp/latent-mpi-bench"))
    p.add_argument("--json", help="also write the runs here")
    args = p.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    latent = args.work / "latent"
    shutil.copy2(args.latent, latent)
    digest = hashlib.sha256(latent.read_bytes()).hexdigest()[:12]
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(args.latent).st_mtime))
    mpirun_version = subprocess.run([args.mpirun, "--version"], capture_output=True,
                                    text=True).stdout.splitlines()[0]
    began, load_before = time.time(), os.getloadavg()

    runs, notes, shapes = [], [], {}
    for model in args.models.split(","):
        pairs = (args.two_tower_pairs or args.pairs) if model == "two-tower" else args.pairs
        epochs = args.two_tower_epochs if model == "two-tower" else args.epochs
        data = make_parts(latent, args.work, args.users, args.items, pairs, args.parts)
        shapes[model] = (pairs, data)
        log = args.work / f"{model}-{args.ranks}ranks.log"
        many, error = train(args, latent, data, model, args.ranks, epochs, log)
        if many is None:
            if "does not train" in error:
                line = next(l for l in error.splitlines() if "does not train" in l)
                notes.append(f"{model}: skipped, its {args.ranks}-rank run refused: {line.strip()}")
                say(notes[-1])
                continue
            sys.exit(f"mpi_bench.py: the {args.ranks}-rank {model} run failed (log: {log}):\n{error}")
        log = args.work / f"{model}-1rank.log"
        one, error = train(args, latent, data, model, 1, epochs, log)
        if one is None:
            sys.exit(f"mpi_bench.py: the 1-rank {model} run failed (log: {log}):\n{error}")
        runs += [one, many]

    print(f"# latent train on 1 and {args.ranks} MPI ranks, --threads 1 each\n")
    print(f"Machine: {os.cpu_count()} CPUs (nproc), load average {load_before[0]:.2f} "
          f"{load_before[1]:.2f} {load_before[2]:.2f} before the runs, {os.getloadavg()[0]:.2f} "
          f"after; total run time {time.time() - began:.0f} s.")
    print(f"latent: {args.latent} (built {built}, sha256 {digest}...), run as its copy {latent}; "
          f"{mpirun_version}, --bind-to {args.bind_to}.")
    for model, (pairs, data) in shapes.items():
        flags = f" with {args.two_tower_flags}" if model == "two-tower" and args.two_tower_flags else ""
        print(f"Data of {model}{flags}: {pairs:,} pairs of {args.users:,} users and {args.items:,} items "
              f"(latent synth), {args.parts} part files in {data}.")
    for note in notes:
        print(f"Note: {note}")
    print()
    print("| model | ranks | pairs | epochs | wall s | CPU s | other cores | train s | epoch 1 s | "
          "s/epoch (later) | wall - train s | M pairs/s/rank |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in runs:
        print(f"| {r['model']} | {r['ranks']} | {r['pairs']:,} | {r['epochs']} | {r['wall']:.2f} | "
              f"{r['cpu']:.2f} | {r['other_cores']:.2f} | {r['train_seconds']:.2f} | "
              f"{r['first_epoch']:.2f} | {r['per_epoch']:.3f} | {r['outside_training']:.2f} | "
              f"{r['pairs_per_rank_s'] / 1e6:.2f} |")
    print("\n(s/epoch (later): the mean of epochs 2.., or the one epoch; wall - train: loading, "
          "vocabularies, regrouping, the trainer's setup, gathering and saving the model)")
    distributed = [r for r in runs if "bytes_by_epoch" in r]
    if distributed:
        print()
        print("| model | ranks | epoch 1 MB, with regrouping | MB/epoch (later), all ranks | "
              "per rank | MB/s over an epoch (later) | MB sent by each rank, whole run |")
        print("|---|--:|--:|--:|--:|--:|---|")
        for r in distributed:
            by_rank = ", ".join(f"{b / 1e6:,.1f}" for b in r["bytes_by_rank"])
            print(f"| {r['model']} | {r['ranks']} | {r['bytes_by_epoch'][0] / 1e6:,.1f} | "
                  f"{r['bytes_per_epoch'] / 1e6:,.1f} | {r['bytes_per_epoch'] / r['ranks'] / 1e6:,.1f} | "
                  f"{r['bytes_per_epoch'] / r['per_epoch'] / 1e6:,.1f} | {by_rank} |")
    print()
    for one, many in zip(runs[0::2], runs[1::2]):
        epoch_speedup = one["per_epoch"] / many["per_epoch"]
        print(f"{one['model']}: speed-up of {many['ranks']} ranks: {epoch_speedup:.2f}x per epoch "
              f"({one['per_epoch']:.3f} s -> {many['per_epoch']:.3f} s), "
              f"{one['train_seconds'] / many['train_seconds']:.2f}x in train_seconds, "
              f"{one['wall'] / many['wall']:.2f}x in wall time")
        print(f"{'PASS' if epoch_speedup >= 1.7 else 'FAIL'} {one['model']}: speed-up per epoch "
              f">= 1.7x with {many['ranks']} ranks ({epoch_speedup:.2f}x)")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"runs": runs, "notes": notes}, indent=1))


if __name__ == "__main__":
    main()
