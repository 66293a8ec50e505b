#!/usr/bin/env bash
# expect.sh STATUS COUNT TEXT COMMAND...: runs COMMAND (an mpirun of several
# ranks) and passes when its exit status is STATUS ("nonzero": any but 0)
# and its output (stdout and stderr together) has TEXT on exactly
# COUNT lines: one error line from all the ranks, or one "ok" per rank.
# With EXPECT_ABSENT=FILE in the environment, FILE must not exist after it
# (no model file, not even a partial one). ctest's TIMEOUT is the guard
# against a rank that hangs.
set -uo pipefail
status=$1 count=$2 text=$3
shift 3
[[ -z ${EXPECT_ABSENT:-} ]] || rm -f "$EXPECT_ABSENT"
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
found=$(grep -cF -- "$text" <<<"$out")
ok=1
if [[ $status == nonzero ]]; then
  ((rc != 0)) || { echo "expect.sh: exit status 0, expected nonzero" >&2; ok=0; }
elif ((rc != status)); then
  echo "expect.sh: exit status $rc, expected $status" >&2
  ok=0
fi
if ((found != count)); then
  echo "expect.sh: the line \"$text\" appears $found times, expected $count" >&2
  ok=0
fi
if [[ -n ${EXPECT_ABSENT:-} && -e $EXPECT_ABSENT ]]; then
  echo "expect.sh: $EXPECT_ABSENT exists, and no file was to be written" >&2
  ok=0
fi
((ok)) && exit 0 || exit 1
