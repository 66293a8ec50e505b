#!/usr/bin/env bash
# The first command of the README: install what is missing, build, and run
# the TFRS MovieLens tutorial workflow on the bundled data set.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
# Only the CLI: the tests, benchmarks and Python module build in the second
# command (scripts/test.sh), so the first shows something in minutes.
"$root/scripts/build.sh" latent_cli
"$root/build/bin/latent" quickstart "$@"
