#!/usr/bin/env bash
# Builds latent with sanitizers and runs the tests under them; prints the
# time of each phase. docs/sanitizers.md says what runs where and why.
#
#   scripts/sanitize.sh [asan|asan-ci|tsan|all]      (default: all)
#
#   asan  g++, AddressSanitizer + UndefinedBehaviorSanitizer, in ./build-asan:
#         the whole suite (ctest), Python tests included (the ASan runtime
#         is preloaded into the interpreter, see tests/CMakeLists.txt).
#   asan-ci  the same build without the Python module and so without the
#         python.* tests: what scripts/test.sh (and so CI) runs after the
#         normal suite. The two pybind11 modules are the slowest part of an
#         ASan build and their tests the slowest tests under ASan; the
#         library code they call is run by the C++ layers.
#   tsan  clang++-14, ThreadSanitizer with LLVM's OpenMP runtime and its
#         Archer tool (which tells TSan about OpenMP's barriers, tasks and
#         criticals), in ./build-tsan: the server tests (ctest -L server,
#         the Beast threads, hot reload, the query batcher) and the unit
#         tests (ctest -L unit, which run the parallel kernels with 2+
#         threads: BPR Hogwild, ALS, EASE, top-K, two-tower, evaluation).
#         The Python module, contract, golden and e2e layers are not built:
#         they run the same kernels single-process through other front ends.
#
# Environment: JOBS (build parallelism, default 2), CTEST_JOBS (default 2).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
what="${1:-all}"
jobs="${JOBS:-2}"
ctest_jobs="${CTEST_JOBS:-2}"
case "$what" in
  asan | asan-ci | tsan | all) ;;
  *)
    echo "usage: scripts/sanitize.sh [asan|asan-ci|tsan|all]" >&2
    exit 2
    ;;
esac

timings=()
phase() {  # phase NAME COMMAND...: runs COMMAND, records its wall time
  local name="$1" start=$SECONDS status=0
  shift
  echo "== sanitize: $name"
  "$@" || status=$?
  timings+=("$(printf '%-22s %4d:%02d' "$name" $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)))")
  if ((status != 0)); then
    echo "== sanitize: $name FAILED (exit $status)" >&2
    report
    exit "$status"
  fi
}
report() {
  echo "== sanitize: elapsed (min:s)"
  printf '  %s\n' "${timings[@]}"
}

run_asan() {  # run_asan ON|OFF: with or without the Python module
  local dir="$root/build-asan" python="$1"
  "$root/scripts/install-deps.sh"
  # -O1: ASan's documented trade of speed against precise reports; -g1
  # gives file:line in the stacks at a fraction of -g's build time.
  CXX=g++ phase "asan configure" cmake -S "$root" -B "$dir" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
    -DLATENT_SANITIZE=address,undefined -DLATENT_WERROR=ON -DLATENT_BUILD_BENCH=OFF \
    -DLATENT_BUILD_PYTHON="$python"
  phase "asan build" cmake --build "$dir" -j "$jobs"
  # Leaks fail the test (exit 23 at exit); UB stops at the first report
  # (the build also has -fno-sanitize-recover=all).
  export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:detect_stack_use_after_return=1:strict_string_checks=1:abort_on_error=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  # Left out, by name: OutOfFileDescriptors.AcceptingPauses... runs a child
  # `latent serve` out of file descriptors, where UBSan's vptr check reports
  # "member call on address ... which does not point to an object of type
  # 'error_category'" inside Boost.System 1.74's header-only error_code
  # (boost/system/error_code.hpp:417, the static asio misc category), "memory
  # cannot be printed": the runtime's readability check needs a descriptor
  # (a pipe) and the process has none left. Why, in docs/sanitizers.md.
  phase "asan+ubsan tests" ctest --test-dir "$dir" --output-on-failure -j "$ctest_jobs" \
    -E '^OutOfFileDescriptors\.AcceptingPausesInsteadOfSpinningAndResumesWhenConnectionsClose$'
  unset ASAN_OPTIONS UBSAN_OPTIONS
}

run_tsan() {
  local dir="$root/build-tsan"
  local libdir
  "$root/scripts/install-deps.sh" --tsan
  libdir="$(llvm-config-14 --libdir 2>/dev/null || echo /usr/lib/llvm-14/lib)"
  if [[ ! -e "$libdir/libarcher.so" ]]; then
    echo "sanitize: $libdir/libarcher.so not found (Debian package libomp-14-dev)" >&2
    exit 1
  fi
  CXX=clang++-14 phase "tsan configure" cmake -S "$root" -B "$dir" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
    -DLATENT_SANITIZE=thread -DLATENT_BUILD_BENCH=OFF -DLATENT_BUILD_PYTHON=OFF
  phase "tsan build" cmake --build "$dir" -j "$jobs" --target latent_unit_tests latent_server_tests
  # Archer makes OpenMP's synchronisation visible to TSan (libomp itself is
  # not instrumented: ignore_noninstrumented_modules keeps its internals out).
  # OpenBLAS runs single-threaded: its pthreads pool hands work over through
  # spinning on plain flags, which TSan cannot see as synchronisation.
  export OMP_TOOL_LIBRARIES="$libdir/libarcher.so"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1"
  export OPENBLAS_NUM_THREADS=1
  phase "tsan tests" ctest --test-dir "$dir" --output-on-failure -j "$ctest_jobs" -L 'server|unit'
  unset OMP_TOOL_LIBRARIES TSAN_OPTIONS OPENBLAS_NUM_THREADS
}

if [[ "$what" == asan || "$what" == all ]]; then run_asan ON; fi
if [[ "$what" == asan-ci ]]; then run_asan OFF; fi
if [[ "$what" == tsan || "$what" == all ]]; then run_tsan; fi
report
