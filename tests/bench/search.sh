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

# shellcheck source=../lib/throwaway_postgres.sh
source tests/lib/throwaway_postgres.sh
PG_SETTINGS="-c shared_buffers=2GB -c effective_cache_size=8GB -c work_mem=32MB -c maintenance_work_mem=1GB \
-c max_wal_size=8GB -c random_page_cost=1.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"

engines="${3:-postgres,sqlite}"
if [[ "$engines" == *postgres* && -z "${LOUPE_TEST_DATABASE_URL:-}" ]]; then
  start_throwaway_postgres 55433 "$PG_SETTINGS"
fi

say "building the benchmark (release)"
cargo build --release --quiet -p loupe-tests --example search_bench
say "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
RUST_LOG=warn "$CARGO_TARGET_DIR/release/examples/search_bench" "${1:-1000000}" "${2:-200}" "$engines"
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
