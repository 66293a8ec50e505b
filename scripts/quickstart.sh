#!/usr/bin/env bash
# The first command of the README: install what is missing, build, and run
# the TFRS MovieLens tutorial workflow on the bundled data set.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
"$root/build/bin/latent" quickstart "$@"
