#!/usr/bin/env bash
# The second command of the README: install what is missing, build, and run
# the whole test suite. Tests that need MovieLens 100K read it from
# ../shared/data/ml-100k (or $LATENT_ML100K) and skip with a message when absent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j 2
