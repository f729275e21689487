# The NEON kernels are checked on aarch64 under user-mode qemu: the aarch64 standard
# library (rustup), a cross linker and qemu-user, installed once. Sourced by
# tests/run.sh (set -euo pipefail, repo root), which then runs loupe-vector's kernel and
# exact-search tests for aarch64-unknown-linux-gnu.

if ! command -v rustup >/dev/null; then
  printf '==> %s\n' "rustup is needed to add the aarch64 standard library for the NEON kernel tests: install Rust with rustup" >&2
  exit 1
fi
if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  printf '==> %s\n' "adding the aarch64 standard library with rustup (once)" >&2
  rustup target add aarch64-unknown-linux-gnu >/dev/null
fi
if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    printf '==> %s\n' "qemu-user and gcc-aarch64-linux-gnu are missing and this is not root: apt-get install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross" >&2
    exit 1
  fi
  printf '==> %s\n' "installing qemu-user and an aarch64 cross linker with apt-get (once)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null
fi
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
