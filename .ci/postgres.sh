# Sourced by .ci/run:  . .ci/postgres.sh
#
# Gives the tests a PostgreSQL server: installs the distribution's package
# when no server binaries are found (apt-get), starts a throwaway cluster
# on 127.0.0.1 and a free port (as the postgres user when run as root,
# since PostgreSQL refuses to run as root), creates a database and exports
#   NTCLI_TEST_POSTGRES_DSN   postgresql://postgres:…@127.0.0.1:PORT/ntcli_ci
#   NTCLI_CI_POSTGRES_DIR     the cluster's directory (data, log, socket)
# and defines ntcli_ci_postgres_stop, which stops the cluster and removes
# its directory (call it from the caller's EXIT trap if it has one).
#
# It never fails the caller: when PostgreSQL cannot be installed or
# started it says why on stderr and exports nothing, and the PostgreSQL
# tests are skipped with their reason. The password is never printed.

_ntcli_pg_log() { echo "postgres.sh: $*" >&2; }

_ntcli_pg_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

_ntcli_pg_install() {
  command -v apt-get >/dev/null 2>&1 || { _ntcli_pg_log "no apt-get to install PostgreSQL with"; return 1; }
  [ "$(id -u)" -eq 0 ] || { _ntcli_pg_log "not root: cannot install PostgreSQL"; return 1; }
  _ntcli_pg_log "installing PostgreSQL (apt-get install postgresql)"
  # The package would create and start a cluster of its own on port 5432;
  # ours is enough.
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common &&
      echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1
}

# Prints the DSN on success; runs in a subshell, so the caller's shell
# options (set -e) and variables are untouched whatever happens.
_ntcli_pg_start() (
  set +e
  bindir=$(_ntcli_pg_bindir) || { _ntcli_pg_install && bindir=$(_ntcli_pg_bindir); } ||
    { _ntcli_pg_log "PostgreSQL not installed and could not be installed"; exit 1; }
  dir=$(mktemp -d "${TMPDIR:-/tmp}/ntcli-ci-pg.XXXXXX") || exit 1
  echo "$dir" > "$1"
  as_pg() { "$@"; }
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { _ntcli_pg_log "no postgres user to run the server as"; exit 1; }
    chown postgres: "$dir" || exit 1
    if command -v runuser >/dev/null 2>&1; then
      as_pg() { runuser -u postgres -- "$@"; }
    else
      as_pg() { su -s /bin/sh postgres -c '"$0" "$@"' "$@"; }
    fi
  fi
  password=$(python3 -c 'import secrets; print(secrets.token_hex(16))') || exit 1
  (umask 077 && echo "$password" > "$dir/pwfile") && chown --reference="$dir" "$dir/pwfile" || exit 1
  if ! as_pg "$bindir/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
        --auth=scram-sha-256 -E UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
    rm -f "$dir/pwfile"
    _ntcli_pg_log "initdb failed:"; tail -5 "$dir/initdb.log" >&2
    exit 1
  fi
  rm -f "$dir/pwfile"
  for attempt in 1 2 3; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') || exit 1
    if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
          -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
          start >/dev/null 2>&1; then
      if PGPASSWORD="$password" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres ntcli_ci; then
        _ntcli_pg_log "$("$bindir/postgres" -V) for the tests at 127.0.0.1:$port/ntcli_ci"
        echo "postgresql://postgres:$password@127.0.0.1:$port/ntcli_ci"
        exit 0
      fi
      _ntcli_pg_log "createdb failed"
      exit 1
    fi
  done
  _ntcli_pg_log "the server did not start:"; tail -5 "$dir/server.log" >&2
  exit 1
)

ntcli_ci_postgres_stop() {
  local dir="${NTCLI_CI_POSTGRES_DIR:-}" bindir
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  bindir=$(_ntcli_pg_bindir) || bindir=
  if [ -n "$bindir" ] && [ -d "$dir/data" ]; then
    if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    else
      "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
  fi
  rm -rf "$dir"
  unset NTCLI_TEST_POSTGRES_DSN NTCLI_CI_POSTGRES_DIR
}

if [ -n "${NTCLI_TEST_POSTGRES_DSN:-}" ]; then
  _ntcli_pg_log "NTCLI_TEST_POSTGRES_DSN is already set: using that server"
else
  _ntcli_pg_dirfile=$(mktemp) || _ntcli_pg_dirfile=
  if [ -n "$_ntcli_pg_dirfile" ] && _ntcli_pg_dsn=$(_ntcli_pg_start "$_ntcli_pg_dirfile"); then
    export NTCLI_TEST_POSTGRES_DSN="$_ntcli_pg_dsn"
    export NTCLI_CI_POSTGRES_DIR="$(cat "$_ntcli_pg_dirfile")"
  else
    _ntcli_pg_log "no PostgreSQL for the tests: they will be skipped, saying why"
    if [ -n "$_ntcli_pg_dirfile" ] && [ -s "$_ntcli_pg_dirfile" ]; then
      NTCLI_CI_POSTGRES_DIR="$(cat "$_ntcli_pg_dirfile")" ntcli_ci_postgres_stop || true
    fi
  fi
  [ -n "$_ntcli_pg_dirfile" ] && rm -f "$_ntcli_pg_dirfile"
  unset _ntcli_pg_dsn _ntcli_pg_dirfile
fi
true
