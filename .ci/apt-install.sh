#!/usr/bin/env bash
# .ci/apt-install.sh LOG PACKAGE...: install Debian packages for the CI
# stacks without letting their scripts start the system daemons (on system
# ports, all interfaces): a policy-rc.d that exits 101 refuses every start
# while apt-get runs (one that exists already is kept). apt-get update runs
# first: an old package list may name versions the mirror no longer has.
# Output goes to LOG; on failure its tail is shown.
set -euo pipefail
log=$1
shift
[ $# -gt 0 ] || exit 0
created_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\n# jmail integration set-up: refuse service starts during apt-get\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	created_policy=1
fi
rc=0
{
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
} >"$log" 2>&1 || rc=$?
[ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d
if [ $rc -ne 0 ]; then
	tail -n 30 "$log" >&2
	echo "apt-install: apt-get install $* failed (log: $log)" >&2
	exit $rc
fi
