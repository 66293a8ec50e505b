#!/usr/bin/env bash
# Configures and builds latent in ./build (Release, warnings as errors).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLATENT_WERROR=ON >/dev/null
cmake --build "$root/build" -j 2
