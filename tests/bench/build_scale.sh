#!/usr/bin/env bash
# Benchmark (not a test): a FileMetaBuild of a local folder of FILES images (default
# 1,000,000), on SQLite and on PostgreSQL, with a release build of `loupe serve` and its
# in-process workers. Reports listing + registering time (from the job's log) and the
# header-probe throughput (the rest of the job) separately.
#
#   tests/bench/build_scale.sh                  # 1,000,000 files, both engines
#   FILES=100000 ENGINES=sqlite tests/bench/build_scale.sh
#   FILES=100000 ENGINES=s3 tests/bench/build_scale.sh   # the same folder served by s3s-fs, SQLite metadata
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/loupe-target}"
FILES="${FILES:-1000000}"
ENGINES="${ENGINES:-sqlite postgres}"
# One task loop runs the listing first and the probes after it, so the two are timed apart.
WORKERS="${WORKERS:-1}"
PORT="${PORT:-18081}"
cache="$HOME/.cache/loupe-bench"
images="$cache/images-$FILES"

cargo build --release --locked -p loupe --quiet
bin="$CARGO_TARGET_DIR/release/loupe"

if [ ! -f "$images/.complete" ]; then
  echo "writing $FILES images to $images (once)" >&2
  python3 - "$images" "$FILES" <<'PY'
import os, sys, zlib, struct
root, count = sys.argv[1], int(sys.argv[2])
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
def png(w, h):
    raw = b"".join(b"\x00" + bytes([(x * 7 + y) % 256 for x in range(w * 3)]) for y in range(h))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
bodies = [png(8 + i % 8, 8 + i % 5) for i in range(40)]
for i in range(count):
    d = os.path.join(root, f"{i // 1000:04d}")
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"{i:07d}.png"), "wb") as f:
        f.write(bodies[i % 40])
open(os.path.join(root, ".complete"), "w").close()
PY
fi

# Leave no server behind, whatever happens.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

json() { sed -E "s/.*\"$1\":\"?([^\",}]+)\"?.*/\1/"; }

bench_engine() {
  local engine="$1" url="$2" dir server key dataset job started uri connection=""
  dir="$(mktemp -d)"
  LOUPE_PREPARE_LOCAL_MODEL=false LOUPE_DATA_DIR="$dir" LOUPE_LISTEN="127.0.0.1:$PORT" LOUPE_DATABASE_URL="$url" LOUPE_LOG_LEVEL=warn \
    LOUPE_LOCAL_ROOTS="$cache" LOUPE_WORKERS="$WORKERS" "$bin" serve >"$dir/out" 2>"$dir/err" &
  server=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  key="$(tail -n 1 "$dir/out")"
  local api="http://127.0.0.1:$PORT/api/v1" auth="Authorization: Bearer $key"
  uri="file://$images"
  if [ "$engine" = s3 ]; then
    connection="$(curl -sf -X POST "$api/connections" -H "$auth" -H 'Content-Type: application/json' -d "{
      \"ConnectionName\": \"s3s\", \"ConnectionType\": \"ObjectStorage\",
      \"Configs\": {\"Region\": \"us-east-1\", \"Endpoint\": \"http://127.0.0.1:$S3_PORT\", \"AddressingStyle\": \"path\"},
      \"Secrets\": {\"AccessKeyId\": \"bench\", \"AccessKeySecret\": \"bench-secret\"}}" | json ConnectionId)"
    uri="s3://bench"
  fi
  local connection_json=null
  [ -n "$connection" ] && connection_json="\"$connection\""
  dataset="$(curl -sf -X POST "$api/datasets" -H "$auth" -H 'Content-Type: application/json' \
    -d "{\"Name\": \"scale\", \"Uri\": \"$uri\", \"ConnectionId\": $connection_json}" | json DatasetId)"
  started=$(date +%s.%N)
  curl -sf -X POST "$api/datasets/$dataset/versions" -H "$auth" -H 'Content-Type: application/json' -d '{}' >/dev/null
  job="$(curl -sf "$api/datasets/$dataset/datasetjobs" -H "$auth" | json DatasetJobId)"
  until curl -sf "$api/datasets/$dataset/datasetjobs/$job" -H "$auth" | grep -q '"FinishTime":"'; do sleep 0.5; done
  local finished status listed total probe
  finished=$(date +%s.%N)
  status="$(curl -sf "$api/datasets/$dataset/datasetjobs/$job" -H "$auth")"
  listed="$(curl -sf "$api/datasets/$dataset/datasetjobs/$job/logs?MaxResults=100" -H "$auth" \
    | grep -oE 'listed [0-9]+ images in [0-9.]+ s' | awk '{print $5}')"
  kill "$server"; wait "$server" 2>/dev/null || true
  total=$(echo "$finished - $started" | bc)
  probe=$(echo "$FILES / ($total - $listed)" | bc)
  printf '| %-10s | %9s | %s | %10s s | %10.1f s | %12s |\n' "$engine" "$FILES" \
    "$(echo "$status" | json Status)" "$listed" "$total" "$probe"
  rm -rf "$dir"
}

echo "FileMetaBuild of $FILES local PNG files; $WORKERS in-process workers; $(nproc) cores shared by loupe and the database"
echo
echo "| engine     |     files | status | list + register | whole job | probe files/s |"
echo "|------------|----------:|--------|----------------:|----------:|--------------:|"
for engine in $ENGINES; do
  case "$engine" in
    sqlite) bench_engine sqlite "" ;;
    s3)
      # s3s-fs serves a folder whose subfolders are buckets; the bucket is the image folder.
      S3_PORT="${S3_PORT:-19000}"
      s3root="$(mktemp -d)"
      ln -s "$images" "$s3root/bench"
      "${LOUPE_TEST_S3S_FS:-$HOME/.cache/loupe-test/bin/s3s-fs}" --host 127.0.0.1 --port "$S3_PORT" \
        --access-key bench --secret-key bench-secret "$s3root" >/dev/null 2>&1 &
      s3s=$!
      for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null && break; sleep 0.1; done
      bench_engine s3 ""
      kill "$s3s"; rm -rf "$s3root" ;;
    postgres)
      pg="${LOUPE_BENCH_DATABASE_URL:-}"
      if [ -z "$pg" ]; then
        psql -q -h 127.0.0.1 -U postgres -d postgres -c 'DROP DATABASE IF EXISTS loupe_bench_build' -c 'CREATE DATABASE loupe_bench_build' 2>/dev/null
        pg="postgres://postgres@127.0.0.1:5432/loupe_bench_build"
      fi
      bench_engine postgres "$pg" ;;
    *) echo "unknown engine $engine" >&2; exit 2 ;;
  esac
done
