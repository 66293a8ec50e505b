"""Importing latent makes its OpenMP threads sleep while they wait, as the
CLI's do (include/latent/openmp_wait.hpp), unless the user chose otherwise.
libgomp prints the settings it loaded with when OMP_DISPLAY_ENV is set."""

import os
import re
import subprocess
import sys


def loaded_settings(**env):
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    clean.update(env, OMP_DISPLAY_ENV="verbose")
    done = subprocess.run([sys.executable, "-c", "import latent, os; print(os.environ['OMP_WAIT_POLICY'])"],
                          capture_output=True, text=True, env=clean)
    assert done.returncode == 0, done.stderr
    return dict(re.findall(r"^\s+(OMP_WAIT_POLICY|GOMP_SPINCOUNT) = '([^']*)'", done.stderr,
                           re.MULTILINE)), done.stdout.strip()


def test_threads_sleep_while_they_wait_by_default():
    settings, seen = loaded_settings()
    assert settings == {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0"}
    assert seen == "passive"


def test_the_users_choice_wins():
    settings, _ = loaded_settings(OMP_WAIT_POLICY="active")
    assert settings["OMP_WAIT_POLICY"] == "ACTIVE"
