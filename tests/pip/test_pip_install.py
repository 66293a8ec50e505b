"""`pip install .` from the checkout into fresh virtual environments: one made
by the python3 first on PATH (pyenv's, where there is one) and one by
Debian's /usr/bin/python3, each with numpy and pandas from PyPI and nothing
from Debian's Python packages. The wheel is built once per Python ABI
(`pip wheel` of the checkout: scikit-build-core, a full build of the
library) and installed into every environment of that ABI; then the
tutorial (examples/tutorial.py on the bundled MovieLens latest-small: two-tower
fit, recommend, save, load) runs from a directory outside the checkout, so
that it imports the installed package.

Slow (a Release build of the library): ctest runs it as pip.install, label
pip, alone on the machine's cores. Where PyPI cannot be reached it skips,
except on CI (CI=true), where it must run. Run by hand:

    /usr/bin/python3 -m pytest -q tests/pip

LATENT_PIP_WORK (ctest: build/tests/pip) holds the environments and wheels,
made anew each run, and pip's cache, kept across runs (it only saves the
downloads, seconds; where the package index sends no caching headers, as
this machine's does, pip stores nothing in it). Each run builds the wheel
from scratch.
"""

import os
import pathlib
import re
import shutil
import subprocess

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("LATENT_SOURCE_DIR",
                                         pathlib.Path(__file__).resolve().parents[2]))
TUTORIAL = SOURCE_DIR / "examples" / "tutorial.py"
ON_CI = os.environ.get("CI") == "true"


def project_version():
    text = (SOURCE_DIR / "CMakeLists.txt").read_text()
    return re.search(r"project\(latent\s+VERSION\s+([0-9][0-9.]*)", text).group(1)


def clean_env(work):
    """The environment of every pip and python run: no PYTHONPATH (it would
    import the build tree's latent), pip's cache under the work directory,
    and as many build jobs as the machine has cores unless told otherwise."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_CACHE_DIR"] = str(work / "cache")
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
    return env


def run(args, env, cwd, timeout=1200):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout)


def tail(done, lines=30):
    return "\n".join((done.stdout + done.stderr).splitlines()[-lines:])


def interpreters(env, cwd):
    """(name, python) for pyenv's python3 (the first on PATH) and Debian's,
    once each when they are the same interpreter."""
    found, seen = [], set()
    for name, python in (("python3-on-path", shutil.which("python3", path=env.get("PATH"))),
                         ("debian", "/usr/bin/python3")):
        if python is None or not pathlib.Path(python).exists():
            continue
        done = run([python, "-c", "import os, sys; print(os.path.realpath(sys.executable))"],
                   env, cwd, timeout=60)
        assert done.returncode == 0, tail(done)
        real = done.stdout.strip()
        if real not in seen:
            seen.add(real)
            found.append((name, python))
    return found


def abi(python, env, cwd):
    """What decides whether a wheel built by one interpreter installs into
    another (same implementation, version and ABI flags on this machine)."""
    done = run([python, "-c", "import sys; print(sys.implementation.cache_tag, sys.abiflags)"],
               env, cwd, timeout=60)
    assert done.returncode == 0, tail(done)
    return done.stdout.strip()


def skip_or_fail(message):
    """Skips (ctest reports it skipped: SKIP_REGULAR_EXPRESSION matches the
    prefix), except on CI, which must run the test."""
    if ON_CI:
        pytest.fail(f"{message}\n(CI=true: this test must run on CI)")
    pytest.skip(f"pip.install skipped: {message}")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = pathlib.Path(os.environ.get("LATENT_PIP_WORK") or tmp_path_factory.mktemp("pip"))
    for fresh in ("venvs", "wheels", "run"):
        shutil.rmtree(work / fresh, ignore_errors=True)
        (work / fresh).mkdir(parents=True)
    return work


@pytest.fixture(scope="module")
def venvs(work):
    """{name: python of a fresh venv with latent installed from a wheel of the
    checkout}, the wheel built by the first venv of each ABI."""
    env, cwd = clean_env(work), work / "run"
    made, wheels = {}, {}
    for name, base in interpreters(env, cwd):
        venv = work / "venvs" / name
        done = run([base, "-m", "venv", venv], env, cwd, timeout=300)
        if done.returncode != 0:
            skip_or_fail(f"{base} -m venv failed (python3-venv missing?): {tail(done, 5)}")
        python = venv / "bin" / "python"
        if not made:
            # Short timeouts: an unreachable index fails here in seconds, not
            # after pip's default retries.
            done = run([python, "-m", "pip", "download", "--no-deps", "--timeout", "15",
                        "--retries", "1", "-d", work / "run" / "probe", "scikit-build-core"],
                       env, cwd, timeout=300)
            if done.returncode != 0:
                skip_or_fail(f"pip cannot reach PyPI for the build's packages: {tail(done, 5)}")
        key = abi(python, env, cwd)
        if key not in wheels:
            out = work / "wheels" / name
            done = run([python, "-m", "pip", "wheel", "--no-deps", "-w", out, SOURCE_DIR],
                       env, cwd)
            assert done.returncode == 0, f"pip wheel of the checkout failed:\n{tail(done, 60)}"
            (built,) = out.glob("latent-*.whl")
            wheels[key] = built
        done = run([python, "-m", "pip", "install", wheels[key]], env, cwd, timeout=900)
        assert done.returncode == 0, f"pip install {wheels[key].name} failed:\n{tail(done)}"
        made[name] = python
    return made


def test_wheel_is_named_with_the_project_version(venvs, work):
    version = project_version()
    for wheel in (work / "wheels").glob("*/*.whl"):
        assert wheel.name.startswith(f"latent-{version}-"), wheel.name
    for python in venvs.values():
        done = run([python, "-c", "import importlib.metadata as m; print(m.version('latent'))"],
                   clean_env(work), work / "run", timeout=60)
        assert done.stdout.strip() == version, tail(done)


@pytest.mark.parametrize("name", ["python3-on-path", "debian"])
def test_tutorial_runs_from_the_installed_package(venvs, work, name):
    if name not in venvs:
        pytest.skip("the python3 on PATH is /usr/bin/python3: one environment covers both")
    python, env, cwd = venvs[name], clean_env(work), work / "run"
    # The package, numpy and pandas come from the environment: none of
    # Debian's Python packages, nothing from the checkout or the build tree.
    done = run([python, "-c", "import latent, numpy, pandas; "
                "print(latent.__file__, numpy.__file__, pandas.__file__, sep='\\n')"],
               env, cwd, timeout=120)
    assert done.returncode == 0, tail(done)
    venv = python.parent.parent
    for path in done.stdout.split():
        assert pathlib.Path(path).is_relative_to(venv), (path, venv)

    done = run([python, TUTORIAL, "--quiet"], env, cwd, timeout=300)
    assert done.returncode == 0, tail(done, 60)
    out = done.stdout
    assert "item embeddings 9738 x 64" in out
    assert "top-10 from the matrix equals recommend()" in out
    assert "the loaded model's top-10 is identical" in out
