#!/usr/bin/env bash
# same_as_one.sh LATENT SAME_MODEL MPIEXEC NP TOLERANCE DATA -- TRAIN_FLAGS...
# Trains one model as one process and again on NP ranks (MPIEXEC
# --allow-run-as-root --oversubscribe -np NP, one thread each) from the same
# DATA (a quoted glob of part files) and flags, then checks with SAME_MODEL
# that the two models are the same (bit for bit with TOLERANCE 0, else
# within it relative). TOLERANCE "quality:TEST_CSV:WITHIN" compares their
# FactorizedTopK@100 on TEST_CSV instead (same_model --quality). The distributed run
# must print nothing but its own lines and leave one model file.
set -euo pipefail
latent=$1 same_model=$2 mpiexec=$3 np=$4 tolerance=$5 data=$6
shift 7
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$latent" train --data "$data" "$@" --quiet --out "$work/one.latent"
"$mpiexec" --allow-run-as-root --oversubscribe -np "$np" "$latent" train --data "$data" "$@" --threads 1 --quiet --out "$work/ranks.latent"
if [[ $tolerance == quality:* ]]; then
  IFS=: read -r _ test within <<<"$tolerance"
  "$same_model" "$work/one.latent" "$work/ranks.latent" --quality "$test" "$within"
else
  "$same_model" "$work/one.latent" "$work/ranks.latent" "$tolerance"
fi
"$latent" info "$work/ranks.latent" | grep -F '"ranks":'
