#!/usr/bin/env bash
# The project's test command: bash scripts/test.sh
#
# Tests run against real strongSwan charon daemons started by internal/lab
# (each in its own network namespace), so this needs root. If charon or
# swanctl is missing and we are root, strongSwan is installed with apt-get.
# The protocol engine (vici/) runs with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

packages="strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins strongswan-pki iproute2"
if [ ! -x /usr/lib/ipsec/charon ] || ! command -v swanctl >/dev/null \
   || [ ! -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] || ! command -v ip >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "test.sh: installing strongSwan ($packages)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		# shellcheck disable=SC2086
		apt-get install -y -q $packages
	else
		echo "test.sh: strongSwan is missing; as root run: apt-get install -y $packages" >&2
	fi
fi
if ! command -v go >/dev/null; then
	echo "test.sh: the Go toolchain is missing (see go.mod for the version); install it from https://go.dev/dl/" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "test.sh: warning: not root, so the lab (real charon daemons) cannot start; lab tests will skip (or fail with CI=true)" >&2
fi
echo "test.sh: $(go version); strongSwan $(dpkg-query -W -f='${Version}' strongswan-charon 2>/dev/null || echo '?'); CI=${CI:-}"

# Per go test run; keeps a hung test from eating the CI budget (15 min).
timeout=${TEST_TIMEOUT:-5m}
status=0
all=$(go list -e ./...)
engine=$(printf '%s\n' "$all" | grep -E '/vici(/|$)' || true)
labpkg=$(printf '%s\n' "$all" | grep -E '/internal/lab$' || true)
others=$(printf '%s\n' "$all" | grep -v -E '/vici(/|$)|/internal/lab$' || true)

run() {
	echo "test.sh: go test $*"
	go test "$@" || status=1
}
if [ -n "$labpkg" ]; then
	# -v shows each lab's sockets and what the real daemons answered.
	run -count=1 -timeout "$timeout" -v $labpkg
fi
if [ -n "$engine" ]; then
	# shellcheck disable=SC2086
	run -race -count=1 -timeout "$timeout" $engine
else
	echo "test.sh: no vici package yet, skipping the engine tests"
fi
if [ -n "$others" ]; then
	# shellcheck disable=SC2086
	run -count=1 -timeout "$timeout" $others
fi
if [ "$status" = 0 ]; then
	echo "test.sh: all tests passed"
else
	echo "test.sh: FAILED" >&2
fi
exit "$status"
