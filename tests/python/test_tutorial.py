"""examples/tutorial.py runs end to end: always on the bundled data set, and
on MovieLens 100K when it is present (it is never copied into the project)."""

import os
import re
import subprocess
import sys

import pytest

from conftest import BUNDLED, CLI, SOURCE_DIR, ml100k_dir

TUTORIAL = SOURCE_DIR / "examples" / "tutorial.py"


def run(*args):
    done = subprocess.run([sys.executable, str(TUTORIAL), *args], capture_output=True,
                          text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def top_lists(out):
    """The (title, score) lists of steps 4 and 5, as `latent quickstart` and
    the tutorial both print them."""
    lists = []
    for number in (4, 5):
        block = out.split(f"\n[{number}] ")[1].split("\n[")[0]
        lists.append(re.findall(r"^ +\d+\. (.*?) +(-?\d+\.\d{4})$", block, re.M))
    return lists


def same_as_quickstart(out, data):
    done = subprocess.run([str(CLI), "quickstart", "--data", str(data)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    ours, theirs = top_lists(out), top_lists(done.stdout)
    assert len(ours[0]) == 10 and len(ours[1]) == 10
    assert ours == theirs


def test_tutorial_on_the_bundled_data():
    out = run()
    same_as_quickstart(out, BUNDLED)
    assert "Epoch 3/3" in out
    assert "user 42 rated" in out and "0 of them in this list" in out
    assert "item embeddings 9738 x 64" in out
    assert "top-10 from the matrix equals recommend()" in out
    assert "the loaded model's top-10 is identical" in out


def test_tutorial_on_movielens_100k():
    directory = ml100k_dir()
    if not (directory / "u.data").exists():
        pytest.skip(f"MovieLens 100K not found at {directory} (set LATENT_ML100K to its "
                    "directory); skipping")
    out = run("--data", str(directory), "--quiet")
    # The tutorial's shapes: 942 users and 1,664 distinct titles, plus OOV rows.
    assert "user embeddings 943 x 64, item embeddings 1665 x 64" in out
    assert "top-10 from the matrix equals recommend()" in out
    assert "the loaded model's top-10 is identical" in out
    same_as_quickstart(out, directory)
