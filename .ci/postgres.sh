#!/usr/bin/env bash
# A PostgreSQL cluster of its own for the outbox's integration tests
# (mailsession/outbox/integration_postgres_test.go): Debian's PostgreSQL,
# initialised in a temporary directory, listening on loopback only, and
# removed again by stop. The system cluster of the package is never
# configured or started.
#
#   .ci/postgres.sh start   install (apt-get) if missing, initdb, start, create the database
#   .ci/postgres.sh stop    stop the cluster and remove its directory
#   .ci/postgres.sh env     print the KEY=VALUE settings the tests read
#   .ci/postgres.sh status  say whether it runs
#
# Run it as root (apt-get); the server runs as the postgres user, which
# owns ${JMAIL_PG_DIR:-/tmp/jmail-pg}. Endpoint: 127.0.0.1:15432, database
# jmail, user jmail (password jmail-pg-secret, scram-sha-256).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${JMAIL_PG_DIR:-/tmp/jmail-pg}
ADDR=127.0.0.1 PORT=15432
DB=jmail USER_NAME=jmail PASSWORD=jmail-pg-secret
WAIT_SECONDS=${JMAIL_IT_WAIT:-60}

log() { echo "postgres: $*" >&2; }
die() { echo "postgres: error: $*" >&2; exit 1; }

bindir() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && { echo "$d"; return 0; }
	done
	return 1
}

install_packages() {
	bindir >/dev/null && return 0
	log "apt-get install postgresql"
	# Its package scripts would create and start the system cluster on
	# 5432: apt-install.sh refuses service starts.
	mkdir -p "$(dirname "$STATE")"
	"$HERE/apt-install.sh" "$(dirname "$STATE")/jmail-pg-apt.log" postgresql || die "apt-get install failed"
}

as_pg() { runuser -u postgres -- "$@"; }

running() { [ -d "$STATE/data" ] && as_pg "$BIN/pg_ctl" -D "$STATE/data" status >/dev/null 2>&1; }

start() {
	[ "$(id -u)" -eq 0 ] || die "run as root (apt-get, runuser)"
	install_packages
	BIN=$(bindir) || die "no PostgreSQL binaries under /usr/lib/postgresql"
	id postgres >/dev/null 2>&1 || die "no postgres user (the postgresql package creates it)"
	if running; then
		log "already running in $STATE"
		print_env >"$STATE/env"
		return 0
	fi
	rm -rf "$STATE"
	mkdir -p "$STATE"
	chown postgres "$STATE"
	chmod 700 "$STATE"
	printf '%s\n' "$PASSWORD" >"$STATE/pwfile"
	chown postgres "$STATE/pwfile"
	as_pg "$BIN/initdb" -D "$STATE/data" -U "$USER_NAME" --pwfile="$STATE/pwfile" \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync >"$STATE/initdb.log" 2>&1 ||
		{ tail -n 20 "$STATE/initdb.log" >&2; die "initdb failed"; }
	rm -f "$STATE/pwfile"
	# Loopback only; the socket in our directory, not /var/run/postgresql.
	# fsync off: the tests kill clients, never the server.
	as_pg "$BIN/pg_ctl" -D "$STATE/data" -l "$STATE/server.log" -w -t "$WAIT_SECONDS" \
		-o "-c listen_addresses=$ADDR -p $PORT -k $STATE -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >"$STATE/pg_ctl.log" 2>&1 ||
		{ tail -n 30 "$STATE/server.log" "$STATE/pg_ctl.log" >&2; die "the server did not start"; }
	as_pg "$BIN/createdb" -h "$STATE" -p "$PORT" -U "$USER_NAME" "$DB" ||
		die "createdb $DB failed"
	print_env >"$STATE/env"
	log "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on $ADDR:$PORT, database $DB, in $STATE"
}

stop() {
	BIN=$(bindir) || { rm -rf "$STATE"; return 0; }
	if running; then
		log "stop"
		as_pg "$BIN/pg_ctl" -D "$STATE/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			as_pg "$BIN/pg_ctl" -D "$STATE/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$STATE"
}

print_env() {
	echo "JMAIL_IT_POSTGRES=postgres://$USER_NAME:$PASSWORD@$ADDR:$PORT/$DB?sslmode=disable"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) print_env ;;
status)
	if BIN=$(bindir) && running; then echo "postgres running"; else echo "postgres stopped"; fi
	;;
*)
	echo "usage: $0 start|stop|env|status" >&2
	exit 2
	;;
esac
