#!/usr/bin/env bash
# Installs the Debian 12 packages latent needs, only those missing.
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --bench  also what the benchmarks compare against
#   scripts/install-deps.sh --tsan   also clang and LLVM's OpenMP (scripts/sanitize.sh tsan)
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config   # toolchain
  libopenblas-dev                    # sgemm for training and exact search
  nlohmann-json3-dev                 # model file header, metrics JSON
  libcli11-dev                       # command line parsing
  libfmt-dev                         # formatting of messages and output
  libxxhash-dev                      # model file checksum
  libgtest-dev                       # tests
  clang-format-14                    # the formatting check of the test suite (pinned major)
  libboost-dev                       # latent serve: HTTP server on Boost.Beast/Asio (header-only),
                                     # an event loop on a few I/O threads, not a thread per connection
  libcpp-httplib-dev                 # the server tests' HTTP client only (not used by latent serve)
  python3-numpy                      # tests check numpy reads our .npy and model files
  # The Python module, built for Debian's /usr/bin/python3 as part of the
  # normal build, and its pytest suite (run by ctest):
  pybind11-dev python3-dev           # the extension's headers and CMake config
  python3-pandas                     # DataFrames in and out of the module
  python3-pytest                     # the Python tests
  python3-venv                       # the test of the README's virtual-environment install
)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(python3-torch time  # the PyTorch baseline, peak memory
                        wrk) ;;             # HTTP load generator of bench/serve_bench.py
    # The ThreadSanitizer build: LLVM's OpenMP runtime has the Archer tool
    # that makes OpenMP synchronisation visible to TSan; libgomp has none.
    --tsan) packages+=(clang-14 libomp-14-dev) ;;
    *) echo "install-deps: unknown option $arg (--bench, --tsan)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "Installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
