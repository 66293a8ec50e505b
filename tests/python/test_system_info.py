"""latent.system_info() says what this process runs on: the BLAS kernels it
reports are the ones OpenBLAS really has in use (asked through ctypes, the
same loaded library), chosen to fit the CPU (src/detail/blas.hpp) unless the
user's OPENBLAS_CORETYPE holds them."""

import ctypes
import json
import os
import subprocess
import sys

import latent


def kernels_in_use():
    lib = ctypes.CDLL("libopenblas.so.0")  # already loaded by latent: the same instance
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib.openblas_get_corename().decode()


def test_reports_the_kernels_this_process_runs():
    info = latent.system_info()
    assert info["blas_kernels"] == kernels_in_use()
    for key in ("cpu", "simd", "blas", "blas_chosen_by", "blas_openblas_pick", "latent_kernels",
                "default_threads", "openmp_wait", "warnings"):
        assert key in info, key


def test_kernels_fit_the_cpu_unless_the_user_holds_them():
    script = "import json, latent; print(json.dumps(latent.system_info()))"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    left = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert left.returncode == 0, left.stderr

    info = json.loads(left.stdout)
    assert info["blas_chosen_by"] in ("OpenBLAS", "latent"), info
    assert info["warnings"] == [], info

    held = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=dict(env, OPENBLAS_CORETYPE="Prescott"))
    assert held.returncode == 0, held.stderr
    info = json.loads(held.stdout)
    assert (info["blas_kernels"], info["blas_chosen_by"]) == ("Prescott", "OPENBLAS_CORETYPE")
