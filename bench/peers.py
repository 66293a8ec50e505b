"""The benchmarks' one environment for the peers they run side by side with
latent: build/peers-venv, a virtual environment of Debian's /usr/bin/python3
with what each benchmark needs from PyPI (implicit, hnswlib, faiss-cpu, ...),
made or completed on first use and kept. Nothing of it is part of latent."""

import pathlib
import subprocess
import sys


def peers_python(venv: pathlib.Path, packages: dict) -> pathlib.Path:
    """The venv's python, with `packages` ({module to import: pip requirement})
    installed into it when one of them does not import yet."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import " + ", ".join(packages)]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"installing {', '.join(packages.values())} into {venv}", file=sys.stderr, flush=True)
    if not python.exists():
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *packages.values()], check=True)
    return python
