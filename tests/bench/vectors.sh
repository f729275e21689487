#!/usr/bin/env bash
# Vector search benchmark (not a test): Loupe's exact kernel against faiss-cpu
# IndexFlatIP and numpy on the same seeded unit vectors, with the machine's read
# bandwidth measured in the same run.
#
#   tests/bench/vectors.sh                       # 1,000,000 x 512 and 200,000 x 1536
#   SHAPES="100000x512" tests/bench/vectors.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/loupe-target}"
SHAPES="${SHAPES:-1000000x512 200000x1536}"
cache="$HOME/.cache/loupe-bench/vectors"

python3 -c "import numpy, faiss" 2>/dev/null || pip install -q numpy faiss-cpu
cargo build --release --locked -p loupe-vector --example vector_bench --quiet
bin="$CARGO_TARGET_DIR/release/examples/vector_bench"

for shape in $SHAPES; do
  n="${shape%x*}" dim="${shape#*x}"
  dir="$cache/$shape"
  mkdir -p "$dir"
  [ -f "$dir/data.f32" ] || "$bin" gen "$dir" "$n" "$dim" 42
  echo "## $n x $dim f32, top-10, 64 queries ($(nproc) cores)"
  "$bin" run "$dir" "$dim" | tee "$dir/loupe.txt"
  # Some machines set these, and they slow a current numpy: the peers get their best settings.
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 tests/bench/vectors.py "$dir" "$dim" | tee "$dir/peers.txt"
  if [ "$(awk '$1 == "top10" {print $2}' "$dir/loupe.txt")" = "$(awk '$1 == "faiss_top10" {print $2}' "$dir/peers.txt")" ]; then
    echo "same top-10 as faiss: yes"
  else
    echo "same top-10 as faiss: NO"
  fi
done
