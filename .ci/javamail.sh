#!/usr/bin/env bash
# The JavaMail oracle of the integration suite: Debian's libmail-java
# (JavaMail 1.6, javax.mail) and libjakarta-mail-java (Jakarta Mail 2.0,
# jakarta.mail) under the installed Java, with the small harness in
# .ci/javamail/ compiled for each into a state directory outside the
# repository.
#
#   .ci/javamail.sh install   install the packages if missing (apt-get), compile
#   .ci/javamail.sh compile   compile the harness only
#   .ci/javamail.sh env       print the settings the tests read (KEY=value lines)
#
# State: $JMAIL_JAVAMAIL_DIR (default /tmp/jmail-javamail).
set -euo pipefail
cd "$(dirname "$0")/.."

state=${JMAIL_JAVAMAIL_DIR:-/tmp/jmail-javamail}
src=.ci/javamail/JavaMailSend.java
javax_jars=/usr/share/java/javax.mail.jar:/usr/share/java/javax.activation.jar
jakarta_jars=/usr/share/java/jakarta-mail.jar:/usr/share/java/jakarta-activation.jar

jars_present() {
	local IFS=:
	for j in $javax_jars $jakarta_jars; do
		[ -f "$j" ] || return 1
	done
}

install_packages() {
	if jars_present && command -v javac >/dev/null; then
		return
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "javamail: the JavaMail jars are missing and installing them needs root:" >&2
		echo "  apt-get install -y --no-install-recommends libmail-java libjakarta-mail-java" >&2
		exit 1
	fi
	local pkgs=(libmail-java libjakarta-mail-java)
	command -v javac >/dev/null || pkgs+=(default-jdk-headless)
	mkdir -p "$state"
	.ci/apt-install.sh "$state/apt.log" "${pkgs[@]}"
	jars_present || { echo "javamail: packages installed but jars not found; see dpkg -L libmail-java" >&2; exit 1; }
}

compile() {
	local flavour=$1 jars=$2 dir="$state/$1"
	rm -rf "$dir"
	mkdir -p "$dir/src"
	if [ "$flavour" = jakarta ]; then
		sed 's/\bjavax\.mail\./jakarta.mail./g; s/javax\.mail (JavaMail 1\.6)/jakarta.mail (Jakarta Mail 2.0)/' "$src" >"$dir/src/JavaMailSend.java"
	else
		cp "$src" "$dir/src/JavaMailSend.java"
	fi
	javac -nowarn -encoding UTF-8 -cp "$jars" -d "$dir/classes" "$dir/src/JavaMailSend.java"
}

compile_all() {
	mkdir -p "$state"
	compile javax "$javax_jars"
	compile jakarta "$jakarta_jars"
	echo "javamail: harness compiled into $state ($(java -version 2>&1 | head -1))"
}

case "${1:-}" in
install)
	install_packages
	compile_all
	;;
compile)
	compile_all
	;;
env)
	jars_present || { echo "javamail: jars missing; run .ci/javamail.sh install" >&2; exit 1; }
	[ -f "$state/javax/classes/JavaMailSend.class" ] && [ -f "$state/jakarta/classes/JavaMailSend.class" ] ||
		{ echo "javamail: harness not compiled; run .ci/javamail.sh install" >&2; exit 1; }
	echo "JMAIL_JAVAMAIL_CP=$javax_jars:$state/javax/classes"
	echo "JMAIL_JAKARTAMAIL_CP=$jakarta_jars:$state/jakarta/classes"
	echo "JMAIL_JAVAMAIL_STATE=$state"
	;;
*)
	echo "usage: $0 install|compile|env" >&2
	exit 2
	;;
esac
