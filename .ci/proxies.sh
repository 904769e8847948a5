#!/usr/bin/env bash
# Real proxies for the integration suite's proxy tests
# (mailsession/integration_proxy_test.go): Dante's danted (SOCKS5, no
# authentication, as JavaMail's mail.<p>.socks.* keys speak it) and tinyproxy
# (HTTP CONNECT with Basic authentication, for mail.<p>.proxy.*), on loopback
# high ports only.
#
#   .ci/proxies.sh start   install (apt-get) if missing, write configs, start, wait for ports
#   .ci/proxies.sh stop    stop what start started (pid files)
#   .ci/proxies.sh env     print the KEY=VALUE settings the tests read
#   .ci/proxies.sh status  say what is running
#
# Everything lives in ${JMAIL_PROXY_DIR:-/tmp/jmail-proxy}. Run it as root
# (apt-get; both daemons drop privileges to nobody). The system instances of
# the packages are never configured or started: installing runs with a
# policy-rc.d that refuses service starts, and ours run with their own config.
#
# Endpoints:
#   danted     127.0.0.1:11080  SOCKS5, method none, clients from 127.0.0.0/8,
#                               CONNECT to 127.0.0.0/8 only
#   tinyproxy  127.0.0.1:18888  HTTP CONNECT, BasicAuth jmail / jmail-proxy-secret,
#                               ConnectPort limited to the mail servers' ports
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${JMAIL_PROXY_DIR:-/tmp/jmail-proxy}
SOCKS_ADDR=127.0.0.1 SOCKS_PORT=11080
HTTP_ADDR=127.0.0.1 HTTP_PORT=18888
HTTP_USER=jmail HTTP_PASSWORD=jmail-proxy-secret
# The ports of .ci/mailservers.sh a tunnel may reach.
CONNECT_PORTS="2525 2587 2465 2110 2995 2143 2993 3025 3110"
WAIT_SECONDS=${JMAIL_IT_WAIT:-60}

log() { echo "proxies: $*" >&2; }
die() { echo "proxies: error: $*" >&2; exit 1; }

pid_alive() { [ -s "$1" ] && kill -0 "$(tr -d ' \n' <"$1")" 2>/dev/null; }

install_packages() {
	local need=()
	[ -x /usr/sbin/danted ] || need+=(dante-server)
	[ -x /usr/bin/tinyproxy ] || need+=(tinyproxy)
	[ ${#need[@]} -eq 0 ] && return 0
	log "apt-get install ${need[*]}"
	# Their package scripts would start danted on 1080 and tinyproxy on
	# 8888 on all interfaces: apt-install.sh refuses service starts.
	"$HERE/apt-install.sh" "$STATE/apt.log" "${need[@]}" || die "apt-get install failed"
}

configure() {
	cat >"$STATE/danted.conf" <<EOF
# Written by .ci/proxies.sh: loopback only, no authentication.
logoutput: $STATE/danted.log
internal: $SOCKS_ADDR port = $SOCKS_PORT
external: 127.0.0.1
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
	from: 127.0.0.0/8 to: 0.0.0.0/0
}
socks pass {
	from: 127.0.0.0/8 to: 127.0.0.0/8
	command: connect
	protocol: tcp
	log: connect disconnect error
}
socks block {
	from: 0.0.0.0/0 to: 0.0.0.0/0
}
EOF
	{
		echo "# Written by .ci/proxies.sh: loopback only, Basic authentication."
		echo "Port $HTTP_PORT"
		echo "Listen $HTTP_ADDR"
		echo "Timeout 120"
		echo "MaxClients 64"
		echo "Allow 127.0.0.1"
		echo "BasicAuth $HTTP_USER $HTTP_PASSWORD"
		echo "LogFile \"$STATE/tinyproxy.log\""
		echo "LogLevel Info"
		echo "PidFile \"$STATE/tinyproxy.pid\""
		echo "DisableViaHeader Yes"
		for p in $CONNECT_PORTS; do echo "ConnectPort $p"; done
	} >"$STATE/tinyproxy.conf"
	touch "$STATE/danted.log" "$STATE/tinyproxy.log"
	chown nobody "$STATE/danted.log" "$STATE/tinyproxy.log" 2>/dev/null || true
}

start_danted() {
	pid_alive "$STATE/danted.pid" && return 0
	# -D: detach; output redirected so the daemon never holds our stdout/stderr.
	/usr/sbin/danted -D -f "$STATE/danted.conf" -p "$STATE/danted.pid" </dev/null >>"$STATE/danted.out" 2>&1 ||
		{ tail -n 20 "$STATE/danted.out" "$STATE/danted.log" >&2; die "danted did not start"; }
}

start_tinyproxy() {
	pid_alive "$STATE/tinyproxy.pid" && return 0
	# tinyproxy writes its pid file as the unprivileged user.
	chown nobody "$STATE" 2>/dev/null || true
	/usr/bin/tinyproxy -c "$STATE/tinyproxy.conf" </dev/null >>"$STATE/tinyproxy.out" 2>&1 ||
		{ tail -n 20 "$STATE/tinyproxy.out" "$STATE/tinyproxy.log" >&2; die "tinyproxy did not start"; }
}

wait_port() {
	local addr=$1 port=$2 what=$3 deadline=$((SECONDS + WAIT_SECONDS))
	until (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || die "$what on $addr:$port did not answer within ${WAIT_SECONDS}s (logs in $STATE)"
		sleep 0.2
	done
}

wait_pidfile() {
	local f=$1 what=$2 deadline=$((SECONDS + WAIT_SECONDS))
	until pid_alive "$f"; do
		[ $SECONDS -lt $deadline ] || die "$what wrote no pid file $f within ${WAIT_SECONDS}s"
		sleep 0.2
	done
}

stop_one() {
	local f=$1 what=$2 pid deadline
	pid_alive "$f" || { rm -f "$f"; return 0; }
	pid=$(tr -d ' \n' <"$f")
	log "stop $what (pid $pid)"
	kill "$pid" 2>/dev/null || true
	deadline=$((SECONDS + 10))
	while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
	rm -f "$f"
}

print_env() {
	cat <<ENV
JMAIL_IT_PROXY_DIR=$STATE
JMAIL_IT_SOCKS=$SOCKS_ADDR:$SOCKS_PORT
JMAIL_IT_HTTP_PROXY=$HTTP_ADDR:$HTTP_PORT
JMAIL_IT_HTTP_PROXY_USER=$HTTP_USER
JMAIL_IT_HTTP_PROXY_PASSWORD=$HTTP_PASSWORD
ENV
}

case "${1:-}" in
start)
	[ "$(id -u)" -eq 0 ] || die "run as root (apt-get)"
	mkdir -p "$STATE"
	install_packages
	configure
	start_danted
	start_tinyproxy
	wait_port $SOCKS_ADDR $SOCKS_PORT danted
	wait_port $HTTP_ADDR $HTTP_PORT tinyproxy
	wait_pidfile "$STATE/danted.pid" danted
	wait_pidfile "$STATE/tinyproxy.pid" tinyproxy
	print_env >"$STATE/env"
	log "danted on $SOCKS_ADDR:$SOCKS_PORT, tinyproxy on $HTTP_ADDR:$HTTP_PORT"
	;;
stop)
	stop_one "$STATE/danted.pid" danted
	stop_one "$STATE/tinyproxy.pid" tinyproxy
	;;
env)
	print_env
	;;
status)
	for p in danted tinyproxy; do
		if pid_alive "$STATE/$p.pid"; then echo "$p running"; else echo "$p stopped"; fi
	done
	;;
*)
	echo "usage: $0 start|stop|env|status" >&2
	exit 2
	;;
esac
