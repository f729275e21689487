# A throwaway PostgreSQL cluster for the test suite and the benchmarks, sourced by
# tests/run.sh and tests/bench/search.sh (set -euo pipefail).
#
# start_throwaway_postgres PORT [SETTINGS] installs PostgreSQL with apt-get when none is
# installed (as root), starts a cluster in a temporary folder on 127.0.0.1:PORT with the
# server SETTINGS (`-c name=value …`), exports LOUPE_TEST_DATABASE_URL, and stops and
# removes the cluster when the shell exits.

# Globals, not locals: the EXIT trap that stops the cluster runs after the function returns.
PG_BIN="" PG_DATA="" PG_RUN=()

stop_throwaway_postgres() {
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DATA"
}

start_throwaway_postgres() {
  local port="$1" settings="${2:-}"
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
      printf '==> %s\n' "no PostgreSQL answers on 127.0.0.1:5432 and none is installed; install postgresql (apt-get install postgresql) or set LOUPE_TEST_DATABASE_URL" >&2
      exit 1
    fi
    printf '==> %s\n' "installing PostgreSQL with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  PG_BIN="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")"
  PG_DATA="$(mktemp -d /tmp/loupe-pg.XXXXXX)"
  if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root: the cluster belongs to the postgres user.
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
    chown postgres "$PG_DATA"
    PG_RUN=(runuser -u postgres --)
  fi
  printf '==> %s\n' "starting a throwaway PostgreSQL cluster on 127.0.0.1:$port $settings" >&2
  trap stop_throwaway_postgres EXIT
  "${PG_RUN[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust >/dev/null
  # $settings is split into words on purpose: it is a list of `-c name=value`.
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/log" -w -t 60 \
    -o "-p $port -k $PG_DATA -c listen_addresses=127.0.0.1 $settings" start >/dev/null
  export LOUPE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}
