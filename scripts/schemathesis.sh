#!/usr/bin/env bash
# Property-based test of `latent serve` against its OpenAPI description
# (docs/openapi.yaml, as the server serves it at /openapi.yaml) with
# schemathesis: it generates valid and invalid requests for every operation
# and checks each answer (no 5xx, documented status, Content-Type, headers
# and schema; 405 with Allow for other methods; invalid data rejected).
#
#   scripts/schemathesis.sh [schemathesis run options...]
#
# Needs a build (build/bin/latent, or $LATENT_CLI). schemathesis comes from
# PyPI into a test-only virtual environment ($LATENT_SCHEMATHESIS_VENV,
# default build/schemathesis-venv), made on the first run; nothing of it is
# part of the product. It trains a small model on the bundled data, serves
# it on a free loopback port and prints schemathesis' summary; the exit code
# is schemathesis'. Options: LATENT_SCHEMATHESIS_EXAMPLES (default 100 per
# operation and phase), LATENT_SCHEMATHESIS_SEED (default 1); extra arguments
# go to `schemathesis run` (e.g. --max-time 60, --phases fuzzing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli="${LATENT_CLI:-$root/build/bin/latent}"
venv="${LATENT_SCHEMATHESIS_VENV:-$root/build/schemathesis-venv}"
examples="${LATENT_SCHEMATHESIS_EXAMPLES:-100}"
seed="${LATENT_SCHEMATHESIS_SEED:-1}"

if [[ ! -x "$cli" ]]; then
  echo "schemathesis.sh: no $cli; build first (scripts/build.sh) or set LATENT_CLI" >&2
  exit 2
fi
if [[ ! -x "$venv/bin/schemathesis" ]]; then
  echo "schemathesis.sh: installing schemathesis into $venv" >&2
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis>=4,<5"
fi

work="$(mktemp -d)"
server=""
cleanup() {
  if [[ -n "$server" ]]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The tutorial's data keyed by title, so the description's examples (user
# "42", "Star Wars: Episode IV - A New Hope (1977)") are known ids.
mkdir -p "$work/movies/1"
"$cli" train --data "$root/data/ml-latest-small" --rating-above 3 --item-key title \
  --model als --dim 16 --out "$work/movies/1/model.latent" -q
"$cli" serve --model_name movies --model_base_path "$work/movies" --rest_api_host 127.0.0.1 \
  --rest_api_port 0 --file_system_poll_wait_seconds 0 >"$work/serve.log" 2>&1 &
server=$!
port=""
for _ in $(seq 600); do
  port="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/serve.log" | head -1)"
  [[ -n "$port" ]] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "schemathesis.sh: the server did not start" >&2; exit 1; }

status=0
# From the scratch folder: schemathesis writes its state (.schemathesis/)
# into the current one.
(cd "$work" && "$venv/bin/schemathesis" --config-file "$root/scripts/schemathesis.toml" run \
  "http://127.0.0.1:$port/openapi.yaml" --checks all --max-examples "$examples" --seed "$seed" \
  --workers 1 --no-color --generation-database :memory: "$@") || status=$?
# The server must have survived it all.
if ! kill -0 "$server" 2>/dev/null; then
  echo "schemathesis.sh: latent serve died:" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
exit "$status"
