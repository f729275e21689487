#!/usr/bin/env bash
# Pipeline overhead of SemanticIndex: indexing throughput against the OpenAI-compatible
# test server with a fixed 20 ms latency per image, MaxConcurrency 32, one image per
# request (theoretical 1,600 files/s), on PostgreSQL and SQLite. Release build.
#
# usage: tests/bench/pipeline.sh [FILES]   (default 9600)
set -euo pipefail
# PostgreSQL: $LOUPE_TEST_DATABASE_URL, else the server on 127.0.0.1:5432 (as tests/run.sh).

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/loupe-target}"
printf '==> building the benchmark (release)\n' >&2
cargo build --release --quiet -p loupe-tests --example pipeline
printf '==> cpu: %s, %s cores\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$(nproc)" >&2
RUST_LOG=warn "$CARGO_TARGET_DIR/release/examples/pipeline" "${1:-9600}"
