#!/usr/bin/env bash
# Fuzzes latent's input parsers with libFuzzer (docs/fuzzing.md).
#   scripts/fuzz.sh [TARGET|all] [MINUTES]
# TARGET: csv, model_file, rest_api, model_config, index_file, or all (default), each
# for MINUTES (default 10). Builds the fuzzers with clang in ./build-fuzz
# (LATENT_FUZZ=ON: -fsanitize=fuzzer,address,undefined), then runs each
# target on a working copy of its seed corpus, so tests/fuzz/corpus stays
# as committed:
#   build-fuzz/fuzz-work/TARGET/corpus   the growing corpus (kept across runs)
#   build-fuzz/fuzz-work/TARGET/crashes  crashing, leaking or slow inputs
#   build-fuzz/fuzz-work/TARGET/log.txt  libFuzzer's output
# Environment: LATENT_FUZZ_JOBS targets at once (default 1),
# LATENT_BUILD_JOBS compile jobs (default 1), LATENT_FUZZ_ARGS extra
# libFuzzer flags. Needs clang and its runtime: scripts/install-deps.sh --fuzz.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
all_targets=(csv model_file rest_api model_config index_file)
which="${1:-all}"
minutes="${2:-10}"
if [[ "$which" == "all" ]]; then
  targets=("${all_targets[@]}")
elif [[ " ${all_targets[*]} " == *" $which "* ]]; then
  targets=("$which")
else
  echo "fuzz.sh: unknown target '$which' (targets: ${all_targets[*]} all)" >&2
  exit 2
fi
if ! [[ "$minutes" =~ ^[0-9]+$ ]] || ((minutes < 1)); then
  echo "fuzz.sh: MINUTES must be a positive whole number, got '$minutes'" >&2
  exit 2
fi

# The largest input each target takes: a few times its largest seed.
declare -A max_len=([csv]=4096 [model_file]=16384 [rest_api]=2048 [model_config]=2048
                   [index_file]=16384)

cxx="${LATENT_FUZZ_CXX:-$(command -v clang++ || command -v clang++-14 || echo clang++)}"
if ! command -v "$cxx" >/dev/null; then
  echo "fuzz.sh: $cxx not found; run scripts/install-deps.sh --fuzz" >&2
  exit 1
fi
if ! "$cxx" -print-file-name=libclang_rt.fuzzer-x86_64.a | grep -q /; then
  echo "fuzz.sh: libFuzzer (libclang_rt.fuzzer) not found for $cxx; run scripts/install-deps.sh --fuzz" >&2
  exit 1
fi

build="$root/build-fuzz"
mkdir -p "$build"
# One build at a time in build-fuzz: a second fuzz.sh (another target) waits
# here instead of running ninja in the same directory at once.
exec 9>"$build/.fuzz-build.lock"
flock 9
# -O1 with line tables: quick to build, stack traces with file:line; no
# NDEBUG, so assertions hold while fuzzing.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
  -DLATENT_FUZZ=ON -DLATENT_BUILD_TESTS=OFF -DLATENT_BUILD_BENCH=OFF \
  -DLATENT_BUILD_PYTHON=OFF >/dev/null
fuzzers=()
for t in "${targets[@]}"; do fuzzers+=("${t}_fuzzer"); done
cmake --build "$build" -j "${LATENT_BUILD_JOBS:-1}" --target "${fuzzers[@]}"
flock -u 9
exec 9>&-

# The targets write their input to files under TMPDIR; tmpfs spares the disk.
if [[ -z "${TMPDIR:-}" && -d /dev/shm && -w /dev/shm ]]; then export TMPDIR=/dev/shm; fi

run() {
  local t="$1" work="$build/fuzz-work/$1"
  mkdir -p "$work/corpus" "$work/crashes"
  cp -n "$root/tests/fuzz/corpus/$t/"* "$work/corpus/"
  local dict=()
  if [[ -f "$root/tests/fuzz/$t.dict" ]]; then dict=("-dict=$root/tests/fuzz/$t.dict"); fi
  # -timeout: one input taking this long (s) is a hang; -rss_limit_mb: a
  # memory blow-up; -max_total_time: the run's length. Leaks are findings too.
  local rc=0
  # shellcheck disable=SC2086
  "$build/fuzz/${t}_fuzzer" "$work/corpus" "${dict[@]}" -max_len="${max_len[$t]}" \
    -timeout=10 -rss_limit_mb=2048 -max_total_time=$((minutes * 60)) -print_final_stats=1 \
    -artifact_prefix="$work/crashes/" ${LATENT_FUZZ_ARGS:-} >"$work/log.txt" 2>&1 || rc=$?
  echo "$rc" >"$work/exit"
}

summary() {
  local t="$1" work="$build/fuzz-work/$1"
  local rc
  rc=$(cat "$work/exit" 2>/dev/null || echo "?")
  local execs last files bytes
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log.txt" | grep -o '[0-9]*$' || true)
  last=$(grep -E '^#[0-9]+' "$work/log.txt" | grep 'cov:' | tail -1 || true)
  files=$(find "$work/corpus" -type f | wc -l)
  bytes=$(du -sb "$work/corpus" | cut -f1)
  echo "== $t: ${execs:-?} executions; $(grep -o 'cov: [0-9]* ft: [0-9]*' <<<"$last" || echo 'cov: ? ft: ?'); corpus $files files, $bytes bytes"
  if [[ "$rc" != 0 ]] || [[ -n "$(ls -A "$work/crashes")" ]]; then
    echo "   FINDING (exit $rc): see $work/log.txt; inputs in $work/crashes/:"
    ls "$work/crashes" | sed 's/^/     /'
    echo "   To keep it as a regression test: copy the input to tests/fuzz/crashes/$t/"
    echo "   (named for the bug), rebuild, and see 'ctest -R fuzz.$t' fail; then fix the library."
    return 1
  fi
}

jobs_at_once="${LATENT_FUZZ_JOBS:-1}"
for t in "${targets[@]}"; do
  echo "fuzzing $t for $minutes min (log: $build/fuzz-work/$t/log.txt)"
  rm -f "$build/fuzz-work/$t/exit"
  run "$t" &
  while (($(jobs -rp | wc -l) >= jobs_at_once)); do wait -n || true; done
done
wait
status=0
for t in "${targets[@]}"; do summary "$t" || status=1; done
exit "$status"
