# Makes the pgvector extension available on the test PostgreSQL ($LOUPE_TEST_DATABASE_URL)
# and exports LOUPE_TEST_PGVECTOR=1 for the pgvector adapter's tests.
#
# Sourced by tests/run.sh (set -euo pipefail, repo root). When `vector` is already
# installable this does nothing. Otherwise it builds pgvector 0.8.0 from Debian trixie's
# SOURCE package (Debian 12 ships no pgvector for PostgreSQL 15) against
# postgresql-server-dev-<major> with PGXS and installs it into that server's directories.
# The source and the build are kept under $HOME/.cache/loupe-test/pgvector, so a rerun
# (or a fresh throwaway cluster of tests/run.sh) only runs `make install` again.
# Needs root for apt-get and `make install`; it can run alone too:
#   LOUPE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bash tests/backends/pgvector.sh

# Run alone, it needs the strict mode tests/run.sh gives it when sourced.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then set -euo pipefail; fi

pgvector_say() { printf '==> pgvector: %s\n' "$*" >&2; }

pgvector_psql() { psql "$LOUPE_TEST_DATABASE_URL" -X -Atq -v ON_ERROR_STOP=1 -c "$1"; }

# Whether CREATE EXTENSION vector would work: the server lists it as available. Asking
# pg_available_extensions changes nothing on the server, unlike a trial CREATE EXTENSION.
pgvector_available() {
  [ "$(pgvector_psql "select count(*) from pg_available_extensions where name = 'vector'")" = 1 ]
}

pgvector_install() {
  local cache="$HOME/.cache/loupe-test/pgvector"
  local version="0.8.0"
  local major pg_config src apt_dir
  # The server's own major version picks the headers and directories: with a throwaway
  # cluster of tests/run.sh the first pg_config on PATH may belong to another version.
  major="$(pgvector_psql "show server_version_num")"
  major="$((major / 10000))"
  pg_config="/usr/lib/postgresql/$major/bin/pg_config"
  if [ ! -d "/usr/lib/postgresql/$major/lib" ]; then
    pgvector_say "PostgreSQL $major answers at ${LOUPE_TEST_DATABASE_URL%%\?*} but is not installed on this machine; install pgvector on that server yourself"
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    pgvector_say "the vector extension is missing and installing it needs root: run tests/backends/pgvector.sh as root, or install pgvector for PostgreSQL $major"
    return 1
  fi
  if [ ! -x "$pg_config" ] || [ ! -e "/usr/include/postgresql/$major/server/pg_config.h" ] \
    || ! command -v make >/dev/null || ! command -v gcc >/dev/null; then
    pgvector_say "installing postgresql-server-dev-$major and build tools with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-server-dev-$major" make gcc >/dev/null
  fi

  src="$cache/pgvector-$version"
  if [ ! -e "$cache/pgvector_$version.orig.tar.gz" ]; then
    pgvector_say "downloading the pgvector $version source package from Debian trixie (once)"
    mkdir -p "$cache"
    # A private apt state: the machine's own sources, lists and caches stay untouched.
    apt_dir="$(mktemp -d)"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts" "$apt_dir/prefs"
    printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n' \
      >"$apt_dir/sources.list"
    local apt_opts=(
      -o "Dir::Etc::SourceList=$apt_dir/sources.list"
      -o "Dir::Etc::SourceParts=$apt_dir/parts"
      -o "Dir::Etc::PreferencesParts=$apt_dir/prefs"
      -o "Dir::State::Lists=$apt_dir/lists"
      -o "Dir::Cache=$apt_dir/cache"
      # apt's _apt user cannot write under root's home; the download is still verified.
      -o "APT::Sandbox::User=root"
    )
    apt-get "${apt_opts[@]}" update -qq
    (cd "$cache" && apt-get "${apt_opts[@]}" source --download-only -qq "pgvector=$version-1")
    rm -rf "$apt_dir"
  fi
  if [ ! -e "$src/Makefile" ]; then
    # Debian's only patch to the upstream tarball drops -march=native, as OPTFLAGS="" does.
    rm -rf "$src.tmp" && mkdir -p "$src.tmp"
    tar -xf "$cache/pgvector_$version.orig.tar.gz" -C "$src.tmp" --strip-components=1
    mv "$src.tmp" "$src"
  fi

  pgvector_say "building pgvector $version for PostgreSQL $major"
  # OPTFLAGS="" drops -march=native, so the build also runs on other CPUs of the pool.
  make -s -C "$src" PG_CONFIG="$pg_config" OPTFLAGS="" >/dev/null
  make -s -C "$src" PG_CONFIG="$pg_config" OPTFLAGS="" install >/dev/null
}

pgvector_setup() {
  if [ -z "${LOUPE_TEST_DATABASE_URL:-}" ]; then
    pgvector_say "LOUPE_TEST_DATABASE_URL is not set: run tests/run.sh, or set it to a PostgreSQL URL"
    return 1
  fi
  if ! command -v psql >/dev/null; then
    pgvector_say "installing postgresql-client with apt-get (psql probes the extension)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null
  fi
  if ! pgvector_available; then
    pgvector_install
    if ! pgvector_available; then
      pgvector_say "pgvector was built and installed but the server does not list it"
      return 1
    fi
  fi
  pgvector_say "extension $(pgvector_psql "select default_version from pg_available_extensions where name = 'vector'") available"
  export LOUPE_TEST_PGVECTOR=1
}

pgvector_setup
