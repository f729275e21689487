#!/usr/bin/env bash
# Load benchmark (not a test): an authenticated GET of one dataset, served by a release
# build of `loupe serve`, on SQLite and on PostgreSQL, driven by wrk on the same machine.
#
#   tests/bench/get_dataset.sh            # both engines
#   ENGINES=sqlite DURATION=30s tests/bench/get_dataset.sh
#
# PostgreSQL: $LOUPE_BENCH_DATABASE_URL (default: a fresh database `loupe_bench` on
# 127.0.0.1:5432, dropped and re-created by this script with psql).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/loupe-target}"
ENGINES="${ENGINES:-sqlite postgres}"
DURATION="${DURATION:-20s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"
PORT="${PORT:-18080}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --locked -p loupe --quiet
bin="$CARGO_TARGET_DIR/release/loupe"

# Leave no server behind, whatever happens.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

bench_engine() {
  local engine="$1" url="$2" dir server key dataset
  dir="$(mktemp -d)"
  LOUPE_PREPARE_LOCAL_MODEL=false LOUPE_DATA_DIR="$dir" LOUPE_LISTEN="127.0.0.1:$PORT" LOUPE_DATABASE_URL="$url" LOUPE_LOG_LEVEL=warn \
    "$bin" serve >"$dir/out" 2>"$dir/err" &
  server=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  key="$(tail -n 1 "$dir/out")"
  dataset="$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/datasets" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"Name": "bench", "DatasetType": "Logical"}' \
    | sed -E 's/.*"DatasetId":"([^"]+)".*/\1/')"
  # Warm up the pool and caches, then measure.
  wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -H "Authorization: Bearer $key" \
    "http://127.0.0.1:$PORT/api/v1/datasets/$dataset" >/dev/null
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $key" \
    "http://127.0.0.1:$PORT/api/v1/datasets/$dataset" >"$dir/wrk"
  kill "$server"; wait "$server" 2>/dev/null || true
  local rps p50 p99 non2xx
  rps="$(awk '/Requests\/sec/ {print $2}' "$dir/wrk")"
  p50="$(awk '$1 == "50%" {print $2}' "$dir/wrk")"
  p99="$(awk '$1 == "99%" {print $2}' "$dir/wrk")"
  non2xx="$(awk '/Non-2xx/ {print $NF}' "$dir/wrk")"
  printf '| %-10s | %10s | %8s | %8s | %s |\n' "$engine" "$rps" "$p50" "$p99" "${non2xx:-0}"
  rm -rf "$dir"
}

echo "GET /api/v1/datasets/{id} with a bearer key; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; $(nproc) cores shared by server, database and wrk"
echo
echo "| engine     | requests/s |      p50 |      p99 | non-2xx |"
echo "|------------|-----------:|---------:|---------:|--------:|"
for engine in $ENGINES; do
  case "$engine" in
    sqlite) bench_engine sqlite "" ;;
    postgres)
      pg="${LOUPE_BENCH_DATABASE_URL:-}"
      if [ -z "$pg" ]; then
        psql -q -h 127.0.0.1 -U postgres -d postgres -c 'DROP DATABASE IF EXISTS loupe_bench' -c 'CREATE DATABASE loupe_bench'
        pg="postgres://postgres@127.0.0.1:5432/loupe_bench"
      fi
      bench_engine postgres "$pg" ;;
    *) echo "unknown engine $engine" >&2; exit 2 ;;
  esac
done
