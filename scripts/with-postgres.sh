#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL server, then stops it.
#
#   scripts/with-postgres.sh cargo test -p fairsync-postgres
#
# The server listens on 127.0.0.1 only, on a free port, with its data in a
# temporary directory that is removed on exit (also on failure). The command
# finds it in FAIRSYNC_PG_URL. If FAIRSYNC_PG_URL is set already, no server
# is started and the command runs against that one.
#
# Needs Debian's (or Ubuntu's) `postgresql` package and installs it with
# apt-get if it is missing. PostgreSQL refuses to run as root, so as root
# the server runs as the `postgres` user (created by the package).
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi

if [ -n "${FAIRSYNC_PG_URL:-}" ]; then
    exec "$@"
fi

find_bindir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return 0
    fi
    return 1
}

if ! bindir="$(find_bindir)"; then
    echo "with-postgres: installing PostgreSQL with apt-get" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "with-postgres: PostgreSQL is missing and installing it needs root" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The package would start a cluster of its own; nothing here needs it.
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    bindir="$(find_bindir)"
fi

as_server_user=()
if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    fi
    as_server_user=(runuser -u postgres --)
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fairsync-pg.XXXXXX")"
cleanup() {
    local status=$?
    if [ -f "$tmp/data/postmaster.pid" ]; then
        "${as_server_user[@]}" "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "${#as_server_user[@]}" -gt 0 ]; then
    chown postgres "$tmp"
fi

# A free loopback port: one that nothing answers on.
port=""
for _ in $(seq 1 200); do
    candidate=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
        port="$candidate"
        break
    fi
done
if [ -z "$port" ]; then
    echo "with-postgres: no free port found" >&2
    exit 1
fi

"${as_server_user[@]}" "$bindir/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 \
    --no-sync >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; exit 1; }
# fsync off: the data is thrown away, and the tests measure locking, not disks.
if ! "${as_server_user[@]}" "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null; then
    cat "$tmp/server.log" >&2
    exit 1
fi

export FAIRSYNC_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') at $FAIRSYNC_PG_URL" >&2
set +e
"$@"
status=$?
set -e
exit "$status"
