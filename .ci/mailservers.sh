#!/usr/bin/env bash
# Real mail servers for the integration suite (go test -tags integration):
# Postfix, Dovecot and Mailpit on loopback addresses only, with a throwaway CA.
#
#   .ci/mailservers.sh start   install (apt-get, go install) if missing, generate
#                              certificates once, write configs, start, wait for ports
#   .ci/mailservers.sh stop    stop only what start started (pid files)
#   .ci/mailservers.sh env     print the KEY=VALUE settings the tests read
#   .ci/mailservers.sh status  say what is running
#   .ci/mailservers.sh postfix stop|abort|start
#                              stop (abort: abruptly) or start only Postfix, for
#                              the fault-survival test
#
# By hand:  .ci/mailservers.sh start
#           go test -race -tags integration -count=1 -run Integration ./mailsession/
#           .ci/mailservers.sh stop
# (the tests read $JMAIL_IT_DIR/env themselves; `eval "$(.ci/mailservers.sh env)"`
# works too). start leaves servers that already run alone: stop, then start,
# to apply a changed configuration.
#
# Everything lives in the state directory ${JMAIL_IT_DIR:-/tmp/jmail-it}, outside
# the repository: certificates, configs, queues, maildirs, logs, the Mailpit
# binary. Run it as root (Postfix and Dovecot drop privileges themselves).
# The system Postfix and Dovecot instances are never configured or started: ours
# run with their own config (postfix -c DIR, dovecot -c FILE).
#
# Endpoints (all loopback; the tests read them from `env`):
#   Postfix  127.0.0.1:2525        plain relay, no STARTTLS, no AUTH (delivers to
#                                  jmail.test only: the starttls.required target)
#            127.0.0.{1,2,3,4}:2587 submission: STARTTLS, AUTH required after TLS
#            127.0.0.{1,2,3,4}:2465 SMTPS (implicit TLS), AUTH required
#            SASL through Dovecot's auth socket; delivery to Dovecot over LMTP.
#   Dovecot  127.0.0.{1,2,3,4}:2110 POP3 (STLS)     :2995 POP3S
#            127.0.0.{1,2,3,4}:2143 IMAP (STARTTLS) :2993 IMAPS
#            passwd-file users, maildir under the state directory.
#            Mechanisms PLAIN LOGIN SCRAM-SHA-1 SCRAM-SHA-256 (passwd-file) and
#            XOAUTH2 OAUTHBEARER (oauth2 passdb: tokens are checked at
#            http://127.0.0.1:2081/introspect, which the test serves); Postfix
#            submission offers the same through Dovecot's SASL.
#            Dovecot treats 127.0.0.1 -> 127.0.0.1 as secure (plaintext login
#            allowed); 127.0.0.2 is the production-like address (LOGINDISABLED
#            before STARTTLS, -ERR [AUTH] before STLS).
#   Mailpit  127.0.0.1:3025 SMTP (STARTTLS required, AUTH), 127.0.0.1:3110 POP3
#            (plain, AUTH), 127.0.0.1:3080 HTTP API (/api/v1/...).
#
# Certificates: ca.pem (trusted by the tests through SSL_CERT_FILE) signs
# server.pem for localhost, 127.0.0.1, 127.0.0.2 -- NOT 127.0.0.3, so connecting
# to 127.0.0.3 is a host-name mismatch with an otherwise trusted certificate.
# 127.0.0.4 serves untrusted.pem (SAN 127.0.0.4, localhost) signed by a second
# CA nobody trusts: the untrusted-certificate case.
#
# Users (passwd-file, login = full address), all in domain jmail.test; the
# password of USER is "USER-secret". Mailpit: user mailpit / mailpit-secret.
#
# Trace headers (checked by hand with swaks and curl): a message submitted to
# Postfix and delivered over LMTP is stored by Dovecot with exactly these
# header fields prepended, in this order, before the submitted bytes:
#   Return-Path: <envelope sender>                      (Dovecot LMTP)
#   Delivered-To: <recipient>                           (Dovecot LMTP)
#   Received: from mail.jmail.test by mail.jmail.test with LMTP id ...
#   	(envelope-from <...>) for <...>; date            (Dovecot LMTP, folded)
#   Received: from HELO (localhost [127.0.0.1]) by mail.jmail.test (Postfix)
#   	with ESMTPSA id QUEUEID for <...>; date          (Postfix, folded;
#   	ESMTP/ESMTPS/ESMTPSA as the client used TLS and AUTH)
# Postfix also adds Message-Id and Date when missing and strips Bcc (clients on
# 127.0.0.1 are "local"); the library always writes Message-Id and Date.
# Mailpit stores the submitted bytes with two header fields prepended:
#   Return-Path: <envelope sender>
#   Received: from HELO (unknown [127.0.0.1]) by HOST (Mailpit) with SMTP for <...>; date
# The tests strip exactly those leading fields and compare the rest byte for byte.
set -euo pipefail

STATE=${JMAIL_IT_DIR:-/tmp/jmail-it}
HERE=$(cd "$(dirname "$0")" && pwd)
MAILPIT_VERSION=v1.33.1
DOMAIN=jmail.test
USERS="alice bob carol dave erin frank grace heidi ivan judy mallory load fault oscar victor walter scram oauth"
MAILPIT_USER=mailpit
# Addresses: .1 relaxed loopback, .2 production-like, .3 name mismatch, .4 untrusted CA.
ADDRS="127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4"
P_RELAY=2525 P_SUBMISSION=2587 P_SMTPS=2465
D_POP3=2110 D_POP3S=2995 D_IMAP=2143 D_IMAPS=2993
M_SMTP=3025 M_POP3=3110 M_HTTP=3080
# The OAuth2 token-introspection endpoint Dovecot asks: served by the test.
OAUTH_PORT=2081
WAIT_SECONDS=${JMAIL_IT_WAIT:-60}

log() { echo "mailservers: $*" >&2; }
die() { echo "mailservers: error: $*" >&2; exit 1; }

pid_alive() { [ -s "$1" ] && kill -0 "$(tr -d ' \n' <"$1")" 2>/dev/null; }

install_packages() {
	local need=()
	command -v postfix >/dev/null || need+=(postfix)
	command -v dovecot >/dev/null || need+=(dovecot-core)
	[ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
	[ -x /usr/lib/dovecot/pop3 ] || need+=(dovecot-pop3d)
	[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
	command -v openssl >/dev/null || need+=(openssl)
	command -v curl >/dev/null || need+=(curl)
	[ ${#need[@]} -eq 0 ] && return 0
	log "apt-get install ${need[*]}"
	# Postfix asks how to configure the system instance: we never use it.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	"$HERE/apt-install.sh" "$STATE/apt.log" "${need[@]}" || die "apt-get install failed"
}

install_mailpit() {
	MAILPIT="$STATE/bin/mailpit"
	[ -x "$MAILPIT" ] && return 0
	log "go install github.com/axllent/mailpit@$MAILPIT_VERSION (takes a minute or two)"
	mkdir -p "$STATE/bin"
	GOBIN="$STATE/bin" GOFLAGS=-buildvcs=false go install "github.com/axllent/mailpit@$MAILPIT_VERSION" >"$STATE/mailpit-build.log" 2>&1 ||
		{ tail -n 30 "$STATE/mailpit-build.log" >&2; die "building mailpit failed"; }
}

# make_cert NAME CA SAN: a P-256 key and certificate NAME.pem/NAME.key signed by CA.
make_cert() {
	local name=$1 ca=$2 san=$3 d="$STATE/certs"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$d/$name.key" -out "$d/$name.csr" -subj "/CN=localhost" 2>/dev/null
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' "$san" >"$d/$name.ext"
	openssl x509 -req -in "$d/$name.csr" -CA "$d/$ca.pem" -CAkey "$d/$ca.key" -CAcreateserial \
		-days 30 -sha256 -extfile "$d/$name.ext" -out "$d/$name.pem" 2>/dev/null
	rm -f "$d/$name.csr" "$d/$name.ext"
}

make_ca() {
	local name=$1 cn=$2 d="$STATE/certs"
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$d/$name.key" -out "$d/$name.pem" -days 30 -subj "/CN=$cn" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

certificates() {
	local d="$STATE/certs"
	if ! [ -s "$d/server.pem" ] || ! [ -s "$d/untrusted.pem" ] ||
		! openssl x509 -checkend 86400 -noout -in "$d/server.pem" >/dev/null 2>&1; then
		log "generating throwaway CAs and certificates in $d"
		mkdir -p "$d"
		make_ca ca "jmail integration test CA"
		make_ca untrusted-ca "jmail untrusted CA"
		make_cert server ca "DNS:localhost,IP:127.0.0.1,IP:127.0.0.2"
		make_cert untrusted untrusted-ca "DNS:localhost,IP:127.0.0.4"
		chmod 640 "$d"/*.key
		chgrp dovecot "$d"/*.key 2>/dev/null || true
	fi
	# SSL_CERT_FILE replaces Go's trust roots: the bundle keeps the system's
	# so that the go command itself still reaches the module proxy.
	cat /etc/ssl/certs/ca-certificates.crt "$d/ca.pem" >"$d/trust.pem" 2>/dev/null || cp "$d/ca.pem" "$d/trust.pem"
	chmod 644 "$d"/*.pem
}

# render SRC DST: copy a template, replacing @NAME@ with the shell variable NAME.
render() {
	local src=$1 dst=$2 line
	local -a vars=(STATE DOMAIN P_RELAY P_SUBMISSION P_SMTPS D_POP3 D_POP3S D_IMAP D_IMAPS MAIL_UID MAIL_GID OAUTH_PORT)
	local sedargs=() v
	for v in "${vars[@]}"; do sedargs+=(-e "s|@$v@|${!v}|g"); done
	sed "${sedargs[@]}" "$src" >"$dst"
}

configure() {
	MAIL_UID=$(id -u mail) MAIL_GID=$(id -g mail)
	mkdir -p "$STATE/postfix/etc" "$STATE/postfix/spool" "$STATE/postfix/data" \
		"$STATE/dovecot/run" "$STATE/dovecot/state" "$STATE/mail" "$STATE/mailpit"
	chown mail:mail "$STATE/mail"
	chown postfix "$STATE/postfix/data"
	# Postfix programs that drop privileges (postsuper at start after an
	# abort, postlogd) write this log as the postfix user.
	touch "$STATE/postfix/maillog"
	chown postfix:postfix "$STATE/postfix/maillog"

	render "$HERE/mailservers/dovecot.conf" "$STATE/dovecot/dovecot.conf"
	render "$HERE/mailservers/oauth2.conf.ext" "$STATE/dovecot/oauth2.conf.ext"
	local u users="" vmail=""
	for u in $USERS; do
		users+="$u@$DOMAIN:{PLAIN}$u-secret::::::"$'\n'
		vmail+="$u@$DOMAIN OK"$'\n'
	done
	printf '%s' "$users" >"$STATE/dovecot/users"
	chgrp dovecot "$STATE/dovecot/users" && chmod 640 "$STATE/dovecot/users"

	render "$HERE/mailservers/main.cf" "$STATE/postfix/etc/main.cf"
	render "$HERE/mailservers/master.cf" "$STATE/postfix/etc/master.cf"
	printf '%s' "$vmail" >"$STATE/postfix/etc/vmailbox"

	printf '%s:%s-secret\n' "$MAILPIT_USER" "$MAILPIT_USER" >"$STATE/mailpit/auth"
	chmod 600 "$STATE/mailpit/auth"
}

start_dovecot() {
	if pid_alive "$STATE/dovecot/run/master.pid"; then log "dovecot already running"; return 0; fi
	log "starting dovecot"
	# Output redirected: a daemon holding the caller's stderr hangs a piping caller.
	dovecot -c "$STATE/dovecot/dovecot.conf" </dev/null >>"$STATE/dovecot/start.log" 2>&1 ||
		{ cat "$STATE/dovecot/start.log" >&2; die "dovecot failed to start"; }
}

postfix_cmd() { postfix -c "$STATE/postfix/etc" "$@" </dev/null >>"$STATE/postfix/start.log" 2>&1; }

start_postfix() {
	if pid_alive "$STATE/postfix/spool/pid/master.pid"; then log "postfix already running"; return 0; fi
	log "starting postfix"
	postfix_cmd check || { cat "$STATE/postfix/start.log" >&2; die "postfix check failed"; }
	postfix_cmd start || { cat "$STATE/postfix/start.log" >&2; die "postfix failed to start"; }
}

start_mailpit() {
	if pid_alive "$STATE/mailpit/pid"; then log "mailpit already running"; return 0; fi
	log "starting mailpit"
	local c="$STATE/certs"
	nohup "$MAILPIT" \
		--database "$STATE/mailpit/mailpit.db" \
		--listen "127.0.0.1:$M_HTTP" \
		--smtp "127.0.0.1:$M_SMTP" \
		--smtp-auth-file "$STATE/mailpit/auth" \
		--smtp-tls-cert "$c/server.pem" --smtp-tls-key "$c/server.key" \
		--smtp-require-starttls \
		--smtp-disable-rdns \
		--pop3 "127.0.0.1:$M_POP3" \
		--pop3-auth-file "$STATE/mailpit/auth" \
		--disable-version-check \
		</dev/null >>"$STATE/mailpit/mailpit.log" 2>&1 &
	echo $! >"$STATE/mailpit/pid"
}

wait_port() {
	local addr=$1 port=$2 what=$3 deadline=$((SECONDS + WAIT_SECONDS))
	until (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || die "$what on $addr:$port did not answer within ${WAIT_SECONDS}s (logs in $STATE)"
		sleep 0.2
	done
}

wait_all() {
	local a
	for a in $ADDRS; do
		wait_port "$a" $P_SUBMISSION "postfix submission"
		wait_port "$a" $P_SMTPS "postfix smtps"
		wait_port "$a" $D_POP3 "dovecot pop3"
		wait_port "$a" $D_POP3S "dovecot pop3s"
		wait_port "$a" $D_IMAP "dovecot imap"
		wait_port "$a" $D_IMAPS "dovecot imaps"
	done
	wait_port 127.0.0.1 $P_RELAY "postfix relay"
	wait_port 127.0.0.1 $M_SMTP "mailpit smtp"
	wait_port 127.0.0.1 $M_POP3 "mailpit pop3"
	wait_port 127.0.0.1 $M_HTTP "mailpit http"
}

print_env() {
	cat <<ENV
JMAIL_IT_DIR=$STATE
SSL_CERT_FILE=$STATE/certs/trust.pem
JMAIL_IT_TRUST=$STATE/certs/trust.pem
JMAIL_IT_CA=$STATE/certs/ca.pem
JMAIL_IT_DOMAIN=$DOMAIN
JMAIL_IT_USERS=$(echo $USERS | tr ' ' ',')
JMAIL_IT_PASSWORD_SUFFIX=-secret
JMAIL_IT_HOST=127.0.0.1
JMAIL_IT_STRICT_HOST=127.0.0.2
JMAIL_IT_MISMATCH_HOST=127.0.0.3
JMAIL_IT_UNTRUSTED_HOST=127.0.0.4
JMAIL_IT_POSTFIX_RELAY_PORT=$P_RELAY
JMAIL_IT_POSTFIX_SUBMISSION_PORT=$P_SUBMISSION
JMAIL_IT_POSTFIX_SMTPS_PORT=$P_SMTPS
JMAIL_IT_POSTFIX_CONF=$STATE/postfix/etc
JMAIL_IT_DOVECOT_POP3_PORT=$D_POP3
JMAIL_IT_DOVECOT_POP3S_PORT=$D_POP3S
JMAIL_IT_DOVECOT_IMAP_PORT=$D_IMAP
JMAIL_IT_DOVECOT_IMAPS_PORT=$D_IMAPS
JMAIL_IT_DOVECOT_CONF=$STATE/dovecot/dovecot.conf
JMAIL_IT_OAUTH_INTROSPECT=127.0.0.1:$OAUTH_PORT
JMAIL_IT_MAILPIT_SMTP_PORT=$M_SMTP
JMAIL_IT_MAILPIT_POP3_PORT=$M_POP3
JMAIL_IT_MAILPIT_HTTP=http://127.0.0.1:$M_HTTP
JMAIL_IT_MAILPIT_USER=$MAILPIT_USER
JMAIL_IT_MAILPIT_PASSWORD=$MAILPIT_USER-secret
JMAIL_IT_POSTFIX_CTL=$HERE/mailservers.sh
ENV
}

cmd_start() {
	[ "$(id -u)" = 0 ] || die "run as root (Postfix and Dovecot need it to drop privileges)"
	mkdir -p "$STATE"
	chmod 755 "$STATE"
	install_packages
	install_mailpit
	certificates
	configure
	start_dovecot
	start_postfix
	start_mailpit
	wait_all
	print_env >"$STATE/env"
	log "all servers answer; settings in $STATE/env"
}

# wait_gone PIDFILE PID NAME: wait until a stopped daemon has really exited,
# so that an immediate start does not find it "already running".
wait_gone() {
	local pid=$2 deadline=$((SECONDS + 30))
	while kill -0 "$pid" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || die "$3 (pid $pid) did not exit within 30s"
		sleep 0.1
	done
	rm -f "$1"
}

stop_postfix() {
	local f="$STATE/postfix/spool/pid/master.pid" pid
	if pid_alive "$f"; then
		pid=$(tr -d ' \n' <"$f")
		log "stopping postfix"
		postfix_cmd stop || true
		wait_gone "$f" "$pid" postfix
	fi
}

cmd_stop() {
	local f pid
	f="$STATE/mailpit/pid"
	if pid_alive "$f"; then
		pid=$(cat "$f")
		log "stopping mailpit"
		kill "$pid" 2>/dev/null || true
		wait_gone "$f" "$pid" mailpit
	fi
	stop_postfix
	f="$STATE/dovecot/run/master.pid"
	if pid_alive "$f"; then
		pid=$(cat "$f")
		log "stopping dovecot"
		kill "$pid" 2>/dev/null || true
		wait_gone "$f" "$pid" dovecot
	fi
}

# Used by the fault-survival test: stop/start only our Postfix instance.
cmd_postfix() {
	case ${1:-} in
	stop) stop_postfix ;;
	abort)
		# Abrupt stop: every smtpd process dies at once, connections break.
		local f="$STATE/postfix/spool/pid/master.pid" pid
		if pid_alive "$f"; then
			pid=$(tr -d ' \n' <"$f")
			postfix_cmd abort || true
			wait_gone "$f" "$pid" postfix
		fi
		;;
	start)
		start_postfix
		wait_port 127.0.0.1 $P_SUBMISSION "postfix submission"
		wait_port 127.0.0.1 $P_SMTPS "postfix smtps"
		;;
	*) die "usage: $0 postfix start|stop|abort" ;;
	esac
}

cmd_status() {
	local n
	for n in "mailpit:$STATE/mailpit/pid" "postfix:$STATE/postfix/spool/pid/master.pid" "dovecot:$STATE/dovecot/run/master.pid"; do
		if pid_alive "${n#*:}"; then echo "${n%%:*} running"; else echo "${n%%:*} stopped"; fi
	done
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
env) print_env ;;
status) cmd_status ;;
postfix) shift; cmd_postfix "$@" ;;
*) echo "usage: $0 start|stop|env|status|postfix start|stop|abort" >&2; exit 2 ;;
esac
