# Shared helpers for the scripts: run PostgreSQL as the postgres user when we are root, and start
# or stop a private, preloaded cluster. Source it; do not run it.
PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
SOCK_DIR=/tmp

# Run a command as the postgres OS user (root) or as ourselves (a developer laptop).
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# sudo only when needed and available
maybe_sudo() {
    if [ "$(id -u)" = 0 ] || ! command -v sudo >/dev/null; then "$@"; else sudo "$@"; fi
}

# start_cluster DIR PORT [postgresql.conf lines...]: initdb if needed, then start.
start_cluster() {
    local dir=$1 port=$2; shift 2
    if [ ! -f "$dir/PG_VERSION" ]; then
        mkdir -p "$dir"
        [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
        as_pg "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust --no-sync >/dev/null
        {
            echo "port = $port"
            echo "unix_socket_directories = '$SOCK_DIR'"
            echo "listen_addresses = ''"
            echo "shared_preload_libraries = 'pg_optimizer'"
            for line in "$@"; do echo "$line"; done
        } | as_pg tee -a "$dir/postgresql.conf" >/dev/null
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null
}

stop_cluster() {
    local dir=$1
    [ -f "$dir/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}
