#!/usr/bin/env bash
# Runs Loupe's whole test suite: formatting, clippy, unit tests, the store conformance
# suite and the API tests on both PostgreSQL and SQLite, and the command-line tests.
#
# PostgreSQL: uses $LOUPE_TEST_DATABASE_URL if set, else the server on 127.0.0.1:5432
# if one answers, else installs PostgreSQL with apt-get and starts a throwaway cluster
# on 127.0.0.1:55432 (stopped again when the suite ends).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# Builds live outside the clone so every run (and CI's fresh clones) reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/loupe-target}"
# Incremental caches of every test binary grow the target dir by tens of GB and only
# speed up edit-compile loops, which this script is not.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

say() { printf '==> %s\n' "$*" >&2; }

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# shellcheck source=lib/throwaway_postgres.sh
source tests/lib/throwaway_postgres.sh

if [ -z "${LOUPE_TEST_DATABASE_URL:-}" ]; then
  if port_answers 5432; then
    export LOUPE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
  else
    start_throwaway_postgres 55432 "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
  fi
fi
say "PostgreSQL for tests: ${LOUPE_TEST_DATABASE_URL%%\?*}"

# A real S3 server for the storage and build tests, built once and kept outside the clone.
S3S_FS="${LOUPE_TEST_S3S_FS:-$HOME/.cache/loupe-test/bin/s3s-fs}"
if [ ! -x "$S3S_FS" ]; then
  say "installing s3s-fs 0.14.1, a real S3 server for the tests (once)"
  CARGO_TARGET_DIR="$HOME/.cache/loupe-test/s3s-target" \
    cargo install s3s-fs --version 0.14.1 --features binary --locked --root "$HOME/.cache/loupe-test" --quiet
  S3S_FS="$HOME/.cache/loupe-test/bin/s3s-fs"
fi
export LOUPE_TEST_S3S_FS="$S3S_FS"

# Vector databases and other servers the adapter tests talk to: each script installs
# its server once (outside the clone) and exports where the tests find it.
mkdir -p "$HOME/.cache/loupe-test"
for backend in tests/backends/*.sh; do
  [ -e "$backend" ] || continue
  # shellcheck source=/dev/null
  source "$backend"
done

if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy"
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings

say "cargo test"
cargo test --workspace --locked

say "NEON kernels: loupe-vector's kernel and exact-search tests on aarch64 under qemu"
cargo test --locked -p loupe-vector --lib --test exact --target aarch64-unknown-linux-gnu
