"""The big synthetic catalog the index and serving benchmarks share (issue 13).

`latent synth --users U --items N --pairs P --zipf Z` and the models latent
trains on it (d 64), made once under build/bench-data/index-N/ and reused by
every later run with the same shape.
"""

import pathlib
import subprocess
import sys
import time


def _run(cmd):
    t = time.perf_counter()
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{done.stderr}{done.stdout}")
    return done.stdout, time.perf_counter() - t


def add_arguments(parser):
    """The catalog's shape as command-line options, the same in every benchmark
    that shares it (--zipf stays a string: it names the cached files)."""
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--pairs", type=int, default=10_000_000)
    parser.add_argument("--zipf", default="0.8",
                        help="synth's item popularity exponent (0.8: 96%% of 1M items occur in "
                             "10M pairs; synth's default 1.0 leaves out 24%%)")


class Catalog:
    def __init__(self, build, items, users, pairs, zipf, say=print):
        self.cli = pathlib.Path(build) / "bin" / "latent"
        self.work = pathlib.Path(build) / "bench-data" / f"index-{items}"
        self.work.mkdir(parents=True, exist_ok=True)
        self.tag = f"u{users}-p{pairs}-z{zipf}"
        self.data = self.work / f"synth-{self.tag}.csv"
        self.say = say
        if not self.data.exists():
            out, s = _run([self.cli, "synth", "--users", users, "--items", items, "--pairs", pairs,
                           "--zipf", zipf, "--out", self.data])
            say(f"synth: {s:.1f} s: {out.strip()}")

    @classmethod
    def from_args(cls, build, args, say=print):
        """The catalog add_arguments' options describe."""
        return cls(build, args.items, args.users, args.pairs, args.zipf, say)

    def model(self, kind, two_tower_epochs=5):
        """The model of `kind` (als, two-tower) trained on the catalog, d 64."""
        epochs = f"-e{two_tower_epochs}" if kind == "two-tower" else ""
        path = self.work / f"{kind}-d64-{self.tag}{epochs}.latent"
        if not path.exists():
            # two-tower's running train metrics score every batch against the
            # whole catalog: hours at 1M items, and they change no weight.
            extra = (["--no-train-metrics", "--epochs", two_tower_epochs]
                     if kind == "two-tower" else [])
            _, s = _run([self.cli, "train", "--data", self.data, "--model", kind, "--dim", "64",
                         *extra, "--out", path, "-q"])
            self.say(f"train {kind}: {s:.1f} s")
        return path

    def users(self):
        """The user ids that occur in the data, in file order of first appearance."""
        seen = {}
        with open(self.data) as f:
            next(f)  # header
            for line in f:
                seen.setdefault(line[:line.index(",")], None)
        return list(seen)
