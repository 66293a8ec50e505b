#!/usr/bin/env bash
# The second command of the README: install what is missing, build, and run
# the whole test suite, then its C++ layers under ASan+UBSan. Tests that
# need MovieLens 100K read it from ../shared/data/ml-100k (or $LATENT_ML100K)
# and skip with a message when absent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh" --test
"$root/scripts/build.sh"
# TensorBoard's reader for tests/python/test_tensorboard.py, from PyPI into
# build/tensorboard-venv (once; kept for reruns).
"$root/scripts/tensorboard-venv.sh"
cd "$root/build"
ctest --output-on-failure -j 2
# Then the C++ test layers again under AddressSanitizer + UBSan in
# ./build-asan (scripts/sanitize.sh asan-ci: every ctest entry but the
# python.* ones; docs/sanitizers.md has what that adds and why).
cd "$root"
"$root/scripts/sanitize.sh" asan-ci
