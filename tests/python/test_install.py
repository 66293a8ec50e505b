"""docs/python.md's two ways into a virtual environment made with
--system-site-packages (so it sees Debian's numpy and pandas) both work:
a .pth file pointing at the build tree, and `cmake --install` of the python
component into the environment."""

import os
import pathlib
import subprocess
import sys

import pytest

BUILD = pathlib.Path(os.environ.get("LATENT_BUILD_DIR", "build"))
CMAKE = os.environ.get("LATENT_CMAKE", "cmake")

CHECK = ("import latent, sys; "
         "d = latent.Dataset.from_arrays([1, 2, 2], [3, 3, 4]); "
         "m = latent.Model('popularity'); m.fit(d, verbose=False); "
         "print(latent.__file__); print(m.recommend(1, k=1)[0].tolist())")


def make_venv(path):
    done = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                           str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot make a virtual environment (python3-venv missing?): {done.stderr}")
    return path / "bin" / "python"


def run_in(python, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(python), "-c", CHECK], capture_output=True, text=True, cwd=cwd,
                          env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def site_packages(python):
    return pathlib.Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())


def test_pth_file_points_a_venv_at_the_build_tree(tmp_path):
    python = make_venv(tmp_path / "venv")
    (site_packages(python) / "latent-build.pth").write_text(str((BUILD / "python").resolve()) + "\n")
    where, top = run_in(python, tmp_path)
    assert pathlib.Path(where).parent == (BUILD / "python" / "latent").resolve()
    assert top == "[3]"


def test_cmake_install_into_a_venv(tmp_path):
    python = make_venv(tmp_path / "venv")
    subprocess.run([CMAKE, "--install", str(BUILD), "--component", "python", "--prefix",
                    str(tmp_path / "venv")], capture_output=True, text=True, check=True)
    where, top = run_in(python, tmp_path)
    assert pathlib.Path(where).parent == site_packages(python) / "latent"
    assert top == "[3]"
