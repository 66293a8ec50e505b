"""Importing latent makes its OpenMP threads spin briefly, then sleep while they wait, as the
CLI's do (include/latent/openmp_wait.hpp), unless the user chose otherwise.
libgomp prints the settings it loaded with when OMP_DISPLAY_ENV is set."""

import os
import re
import subprocess
import sys


def loaded_settings(**env):
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    clean.update(env, OMP_DISPLAY_ENV="verbose")
    done = subprocess.run([sys.executable, "-c", "import latent, os; print(os.environ.get('GOMP_SPINCOUNT'))"],
                          capture_output=True, text=True, env=clean)
    assert done.returncode == 0, done.stderr
    return dict(re.findall(r"^\s+(OMP_WAIT_POLICY|GOMP_SPINCOUNT) = '([^']*)'", done.stderr,
                           re.MULTILINE)), done.stdout.strip()


def test_threads_spin_briefly_then_sleep_by_default():
    settings, seen = loaded_settings()
    assert settings["GOMP_SPINCOUNT"] == "10000"
    assert seen == "10000"


def test_the_users_choice_wins():
    settings, seen = loaded_settings(OMP_WAIT_POLICY="active")
    assert settings["OMP_WAIT_POLICY"] == "ACTIVE"
    assert seen == "None"
