#!/usr/bin/env bash
# Configures and builds latent in ./build (Release, warnings as errors).
#   scripts/build.sh            everything: library, CLI, Python module, tests, benchmarks
#   scripts/build.sh TARGET...  only those targets and what they need
#                               (quickstart.sh builds just the CLI: `latent_cli`)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLATENT_WERROR=ON >/dev/null
targets=()
for target in "$@"; do targets+=(--target "$target"); done
cmake --build "$root/build" -j 2 "${targets[@]}"
