# Milvus for the vector-database adapter tests: milvus-lite 3.2.2 (PyPI), whose
# `milvus-lite server` speaks the Milvus 2.x gRPC API over TCP. Its server imports the
# protocol stubs of pymilvus, which milvus-lite does not declare, so both are pinned.
# Installed once into a venv outside the clone; the tests start it themselves on a free port.
# Sourced by tests/run.sh (set -euo pipefail, from the repo root).

milvus_venv="$HOME/.cache/loupe-test/venv-milvus"
milvus_lite="$milvus_venv/bin/milvus-lite"
if [ ! -x "$milvus_lite" ] || ! "$milvus_venv/bin/python" -c 'import milvus_lite, pymilvus' >/dev/null 2>&1; then
  printf '==> %s\n' "installing milvus-lite 3.2.2 and pymilvus 3.0.2 into $milvus_venv (once)" >&2
  python3 -m venv "$milvus_venv"
  "$milvus_venv/bin/pip" install --quiet --disable-pip-version-check 'milvus-lite==3.2.2' 'pymilvus==3.0.2'
fi
export LOUPE_TEST_MILVUS_LITE="$milvus_lite"
