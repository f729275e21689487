#!/usr/bin/env bash
# Search at scale (issue 6): a generated version of 1,000,000 file metas with about ten
# tags each from a vocabulary of 1,000 (Zipf frequencies), loaded straight into the
# tables, with 512-d and 384-d vectors of the same files in the embedded store; times tag
# include-any/all/exclude with a sort and MaxResults=100, a 5-predicate DSL query, a
# vector top-100 within a tag filter and a text query end to end with the local ConSE
# encoder, and prints p50/p99 against the targets, on PostgreSQL and SQLite. Release
# build. Needs about 10 GB of disk and 8 GB of memory; loading takes a few minutes per
# engine.
#
# PostgreSQL: $LOUPE_TEST_DATABASE_URL if set; otherwise a throwaway cluster with the
# memory settings of a database server (shared_buffers 2GB), so the figures do not
# depend on a shared test server's defaults (128MB) or on its other clients.
#
# usage: tests/bench/search.sh [FILES] [REPS] [ENGINES]   (default 1000000 200 postgres,sqlite)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/loupe-target}"
say() { printf '==> %s\n' "$*" >&2; }

# Globals, not locals: the EXIT trap that stops the cluster runs after the function returns.
PG_BIN="" PG_DATA="" PG_RUN=()
PG_SETTINGS="-c shared_buffers=2GB -c effective_cache_size=8GB -c work_mem=32MB -c maintenance_work_mem=1GB \
-c max_wal_size=8GB -c random_page_cost=1.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"

stop_postgres() {
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DATA"
}

start_postgres() {
  local port=55433
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    say "PostgreSQL is not installed: apt-get install postgresql, or set LOUPE_TEST_DATABASE_URL"
    exit 1
  fi
  PG_BIN="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")"
  PG_DATA="$(mktemp -d /tmp/loupe-bench-pg.XXXXXX)"
  if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root: the cluster belongs to the postgres user.
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
    chown postgres "$PG_DATA"
    PG_RUN=(runuser -u postgres --)
  fi
  say "starting a throwaway PostgreSQL cluster on 127.0.0.1:$port ($PG_SETTINGS)"
  trap stop_postgres EXIT
  "${PG_RUN[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust >/dev/null
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/log" -w -t 60 \
    -o "-p $port -k $PG_DATA -c listen_addresses=127.0.0.1 $PG_SETTINGS" start >/dev/null
  export LOUPE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

engines="${3:-postgres,sqlite}"
if [[ "$engines" == *postgres* && -z "${LOUPE_TEST_DATABASE_URL:-}" ]]; then
  start_postgres
fi

say "building the benchmark (release)"
cargo build --release --quiet -p loupe-tests --example search_bench
say "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
RUST_LOG=warn "$CARGO_TARGET_DIR/release/examples/search_bench" "${1:-1000000}" "${2:-200}" "$engines"
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
