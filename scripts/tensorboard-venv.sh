#!/usr/bin/env bash
# The test-only virtual environment with TensorBoard (from PyPI; Debian 12
# has no python3 package of it) that tests/python/test_tensorboard.py reads
# `latent train --tensorboard` logs with. scripts/test.sh runs this before
# ctest. Made once, in $LATENT_TENSORBOARD_VENV (default
# build/tensorboard-venv), and kept: a rerun with tensorboard importable
# there does nothing. Nothing of it is part of the product.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${LATENT_TENSORBOARD_VENV:-$root/build/tensorboard-venv}"
# The version the test was written against: the projector plugin's TSV
# reader it calls is not public API.
spec="tensorboard==2.21.*"

if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c "import tensorboard" 2>/dev/null; then
  exit 0
fi
echo "tensorboard-venv.sh: installing $spec into $venv" >&2
# Debian's python3 (python3-venv, from scripts/install-deps.sh), as for the tests.
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "$spec"
