# shellcheck shell=bash
# The Debian packages vicish's scripts need, in one place. Sourced by
# scripts/demo.sh (the demo's list) and scripts/test.sh (the tests' list).
#
#   vicish_deps_install WHO [demo]
# installs what is missing (apt-get, as root) and returns 1 with the
# command to run when it cannot.

# The lab: charon, swanctl, kernel-libipsec (in libcharon-extra-plugins),
# pki, and ip for network namespaces.
vicish_demo_packages="strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins strongswan-pki iproute2"

# The tests: the lab's, plus debootstrap (the newest strongSwan's root),
# OpenSSH client and server (ssh:// URIs), prometheus (promtool, and with
# prometheus-alertmanager the alerting chain end to end), systemd
# (systemd-analyze verify of the units), jq and openssl (the docs' pipelines,
# certificate cross-checks), util-linux (unshare, mount); for the Debian
# package (scripts/debian): git (its version), lintian (the package checker)
# and man-db (rendering the manual pages).
vicish_test_packages="$vicish_demo_packages debootstrap openssh-client openssh-server prometheus prometheus-alertmanager systemd jq openssl util-linux git lintian man-db"

# vicish_deps_missing PACKAGE... prints the packages that are not installed.
vicish_deps_missing() {
	local p missing=""
	for p in "$@"; do
		if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
			missing="$missing $p"
		fi
	done
	printf '%s' "${missing# }"
}

vicish_deps_install() {
	local who=$1 list=$vicish_test_packages missing
	[ "${2:-}" = demo ] && list=$vicish_demo_packages
	if ! command -v dpkg-query >/dev/null; then
		echo "$who: not a Debian system (no dpkg-query); install the equivalents of: $list" >&2
		return 1
	fi
	# shellcheck disable=SC2086
	missing=$(vicish_deps_missing $list)
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "$who: missing packages; as root run: apt-get update && apt-get install -y $missing" >&2
		return 1
	fi
	echo "$who: installing $missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q </dev/null
	# shellcheck disable=SC2086
	apt-get install -y -q $missing </dev/null
	# shellcheck disable=SC2086
	missing=$(vicish_deps_missing $list)
	if [ -n "$missing" ]; then
		echo "$who: still missing after apt-get install: $missing" >&2
		return 1
	fi
}
