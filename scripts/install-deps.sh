#!/usr/bin/env bash
# Installs the Debian 12 packages latent needs, only those missing.
#   scripts/install-deps.sh          build dependencies (and what configuring the tests needs)
#   scripts/install-deps.sh --test   also what only running the tests needs (a browser)
#   scripts/install-deps.sh --bench  also what the benchmarks compare against
#   scripts/install-deps.sh --fuzz   also clang and libFuzzer, for scripts/fuzz.sh
#                                    (optional: the normal build and the corpus
#                                    replay tests need neither)
#   scripts/install-deps.sh --tsan   also clang and LLVM's OpenMP (scripts/sanitize.sh tsan)
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config   # toolchain
  libopenblas-dev                    # sgemm for training and exact search
  nlohmann-json3-dev                 # model file header, metrics JSON
  libcli11-dev                       # command line parsing
  libfmt-dev                         # formatting of messages and output
  libxxhash-dev                      # model file checksum
  zlib1g-dev                         # gzip input
  libopenmpi-dev openmpi-bin         # distributed training (mpirun -np N latent train): MPI is
                                     # what clusters schedule (Slurm, Kubernetes MPI operators);
                                     # optional at build time, the build says when it is missing
  libhnswlib-dev                     # builds the approximate index's graph (header-only)
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
  python3-venv                       # the test of docs/python.md's virtual-environment install
  # tests/server/test_openapi.py: checks the server's answers against
  # docs/openapi.yaml, which needs a YAML parser and a JSON Schema validator
  python3-yaml python3-jsonschema
)
for option in "$@"; do
  case "$option" in
    # What only running the tests needs (scripts/test.sh asks for it); the
    # first command (quickstart.sh) does without it.
    --test)
      # tests/e2e/report_render.py: `latent report`'s page opened in a real
      # browser, headless (its script runs, the screenshot is not blank)
      packages+=(chromium)
      ;;
    --bench)
      packages+=(python3-torch time      # the PyTorch baseline, peak memory
                 wrk                     # HTTP load generator of bench/serve_bench.py
                 libblis4-openmp)        # BLIS, the other BLAS bench/gemm_bench.py measures
      ;;
    --fuzz)
      packages+=(clang-14                # libFuzzer and the sanitizers are clang's
                 libclang-rt-14-dev      # libclang_rt.fuzzer, asan, ubsan
                 libomp-14-dev)          # OpenMP for clang
      ;;
    # The ThreadSanitizer build: LLVM's OpenMP runtime has the Archer tool
    # that makes OpenMP synchronisation visible to TSan; libgomp has none.
    --tsan)
      packages+=(clang-14 libomp-14-dev)
      ;;
    *)
      echo "install-deps.sh: unknown option '$option' (--test, --bench, --fuzz, --tsan)" >&2
      exit 2
      ;;
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
# Another apt (unattended-upgrades, a second terminal) may hold the lock: wait
# for it up to 10 minutes, saying so, rather than failing with apt's exit 100.
# `install` waits by itself (DPkg::Lock::Timeout); `update` does not, so it
# is retried while apt names a lock.
lock_timeout=600
apt_update() {
  local waited=0 out
  until out=$($sudo apt-get -qq update 2>&1); do
    if ! grep -q "Could not get lock" <<<"$out" || ((waited >= lock_timeout)); then
      echo "$out" >&2
      return 100
    fi
    if ((waited == 0)); then
      echo "Waiting up to $((lock_timeout / 60)) minutes for another package manager:" \
        "$(grep -m1 "Could not get lock" <<<"$out" | sed 's/^E: //')" >&2
    fi
    sleep 5
    waited=$((waited + 5))
  done
  [[ -z "$out" ]] || echo "$out" >&2
}
apt_update
echo "Installing (waiting for the package lock if another apt holds it)..." >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=$lock_timeout install -y -qq \
  --no-install-recommends "${missing[@]}" >&2
