# Labelled images for the local model's quality test: Debian's tuxpaint-stamps-default,
# 796 PNG photo cut-outs whose folders under stamps/ are their categories. Installed once
# with apt-get; exports the stamps folder. Sourced by tests/run.sh (set -euo pipefail,
# from the repo root).

tuxpaint_stamps=/usr/share/tuxpaint/stamps
if [ ! -d "$tuxpaint_stamps/animals" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    printf '==> %s\n' "tuxpaint-stamps-default is not installed and this is not root: apt-get install tuxpaint-stamps-default" >&2
    exit 1
  fi
  printf '==> %s\n' "installing tuxpaint-stamps-default with apt-get (once)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tuxpaint-stamps-default >/dev/null
fi
export LOUPE_TEST_TUXPAINT_STAMPS="$tuxpaint_stamps"
