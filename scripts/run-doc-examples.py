#!/usr/bin/python3
"""Runs the examples of README.md and docs/*.md, so that they cannot rot.

    /usr/bin/python3 scripts/run-doc-examples.py [--latent build/bin/latent]
        [--python /usr/bin/python3 --python-path build/python] [PAGE.md ...]

What runs, per page, in a fresh temporary directory that holds `data`
(a link to the bundled data/), with the binary's folder first on PATH:
  - every ```console block: each line starting with "$ " (with its "\\"
    continuation lines) is a command, run by bash in document order; the
    other lines are the output as measured when the page was written, which
    is not compared (scores move with the CPU's BLAS kernels), except that a
    command whose output shows a "latent: error:" line must exit 1 with that
    line, word for word, on stderr;
  - every ```python block, all of a page's blocks as one script after its
    console blocks (so Python may read a model the CLI saved), when
    --python-path is given.
Commands that start MPI ranks (a line with `mpirun`) run with ASan's leak
check off: Open MPI keeps MPI_Init's allocations past MPI_Finalize.
A block right after the line `<!-- not run: REASON -->` is left out (say why:
it needs MovieLens 100K, a server, ...). Each command must exit 0; the first
that does not fails the run with the page, the command and its stderr.
ctest's docs.examples_run runs this on every page.
"""

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\w*)\s*$")


def blocks(text):
    """(language, lines, skipped) of each fenced block, in order."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        skipped = i > 0 and lines[i - 1].startswith("<!-- not run:")
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        yield m.group(1), lines[i + 1:j], skipped
        i = j + 1


def console_commands(lines):
    """(command, the "latent: error:" line of its shown output or None) of each "$ " line."""
    commands, current = [], None
    for line in lines:
        if current is not None:
            current += "\n" + line
            if not line.endswith("\\"):
                commands.append([current, None])
                current = None
        elif line.startswith("$ "):
            if line.endswith("\\"):
                current = line[2:]
            else:
                commands.append([line[2:], None])
        elif commands and commands[-1][1] is None and line.startswith("latent: error:"):
            commands[-1][1] = line
    return [tuple(c) for c in commands]


def run_page(page, args):
    text = page.read_text(encoding="utf-8")
    console, python = [], []
    for language, lines, skipped in blocks(text):
        if skipped:
            continue
        if language == "console":
            console += console_commands(lines)
        elif language == "python":
            python.append("\n".join(lines))
    if not console and not (python and args.python_path):
        return 0
    env = dict(os.environ)
    env["PATH"] = f"{pathlib.Path(args.latent).resolve().parent}:{env.get('PATH', '')}"
    env["LC_ALL"] = "C.UTF-8"
    if args.python_path:
        env["PYTHONPATH"] = str(pathlib.Path(args.python_path).resolve())
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    name = page.relative_to(ROOT)
    with tempfile.TemporaryDirectory(prefix="latent-doc-") as work:
        os.symlink(ROOT / "data", pathlib.Path(work) / "data")
        start = time.monotonic()
        steps = [("bash", ["bash", "-c", c], c, first) for c, first in console]
        if python and args.python_path:
            script = "\n\n".join(python)
            steps.append(("python", [args.python, "-c", script], "the page's python blocks", None))
        for kind, argv, shown, first in steps:
            step_env = env
            if "mpirun" in shown:
                # Open MPI keeps MPI_Init's allocations past MPI_Finalize by
                # design: an ASan build's leak check would fail every rank at
                # exit (the mpi ctest entries turn it off the same way).
                step_env = dict(env)
                step_env["ASAN_OPTIONS"] = ":".join(
                    filter(None, [env.get("ASAN_OPTIONS", ""), "detect_leaks=0"]))
            done = subprocess.run(argv, cwd=work, env=step_env, capture_output=True, text=True)
            if first is not None:
                # An example of an error: exit 1 with that message, word for word.
                errors = [l for l in done.stderr.splitlines() if l.startswith("latent: error:")]
                got = errors[0] if errors else done.stderr.strip()[-300:]
                if done.returncode != 1 or got != first:
                    print(f"{name}: this example should fail with\n  {first}\nbut exited "
                          f"{done.returncode} with\n  {got}\n  {shown}", file=sys.stderr)
                    return 1
                continue
            if done.returncode != 0:
                print(f"{name}: this {kind} example exited {done.returncode}:\n  {shown}\n"
                      f"stderr:\n{done.stderr[-3000:]}", file=sys.stderr)
                return 1
        print(f"{name}: {len(console)} commands"
              f"{', python' if python and args.python_path else ''} ran "
              f"({time.monotonic() - start:.1f} s)")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latent", default=str(ROOT / "build" / "bin" / "latent"))
    parser.add_argument("--python", default="/usr/bin/python3")
    parser.add_argument("--python-path", help="build/python; without it python blocks are "
                        "not run")
    parser.add_argument("pages", nargs="*", type=pathlib.Path)
    args = parser.parse_args()
    pages = [p.resolve() for p in args.pages] or \
        [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    failed = sum(run_page(p, args) for p in pages)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
