# Elasticsearch for the vector-database adapter tests. No registry ships a real
# Elasticsearch 8 (or OpenSearch) server, so this installs noida-db 0.2.3 (PyPI), which
# emulates the Elasticsearch 8.15 REST API: dense_vector, knn with filter, script_score
# with dotProduct, _bulk, _delete_by_query, analysed text fields and the error shapes.
# Installed once into a venv outside the clone; the tests start it themselves on a free port.
# Sourced by tests/run.sh (set -euo pipefail, from the repo root).

noida_venv="$HOME/.cache/loupe-test/noida-venv"
noida_db="$noida_venv/bin/noida-db"
if [ ! -x "$noida_db" ] || ! compgen -G "$noida_venv/lib/python3*/site-packages/noida_db-0.2.3.dist-info" >/dev/null; then
  printf '==> %s\n' "installing noida-db 0.2.3 into $noida_venv (once)" >&2
  python3 -m venv "$noida_venv"
  "$noida_venv/bin/pip" install --quiet --disable-pip-version-check 'noida-db==0.2.3'
fi
export LOUPE_TEST_NOIDA_DB="$noida_db"
