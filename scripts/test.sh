#!/usr/bin/env bash
# The project's test command: bash scripts/test.sh
#
# Tests run against real strongSwan charon daemons started by internal/lab
# (each in its own network namespace), so this needs root. As root it first
# installs every Debian package any test needs (scripts/deps.sh) and builds
# the newest strongSwan's root and the Debian stable root (the package's
# install test), before any test runs.
# The protocol engine (vici/) runs with the race detector.
#
# Two passes: every package against the system's strongSwan, then the
# packages whose tests use the lab again against the newest strongSwan
# (Debian testing's, from a root built once with debootstrap, see
# `vicish lab root`). TEST_DAEMONS="system" or "newest" runs one pass only.
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything any test needs, installed before any test runs: strongSwan for
# the lab, debootstrap for the newest strongSwan's root, OpenSSH for ssh://,
# Prometheus for promtool, systemd for systemd-analyze, jq and openssl for
# the pipelines docs/ shows. scripts/deps.sh holds the one list.
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
if ! vicish_deps_install test.sh && [ "$(id -u)" = 0 ]; then
	exit 1
fi
if ! command -v go >/dev/null; then
	echo "test.sh: the Go toolchain is missing (see go.mod for the version); install it from https://go.dev/dl/" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "test.sh: warning: not root, so the lab (real charon daemons) cannot start; lab tests will skip (or fail with CI=true)" >&2
fi
echo "test.sh: $(go version); CI=${CI:-}"

# Per go test run; keeps a hung test from eating the CI budget.
timeout=${TEST_TIMEOUT:-5m}
daemons=${TEST_DAEMONS:-system newest}
status=0
all=$(go list -e ./...)
engine=$(printf '%s\n' "$all" | grep -E '/vici(/|$)' || true)
labpkg=$(printf '%s\n' "$all" | grep -E '/internal/lab$' || true)
others=$(printf '%s\n' "$all" | grep -v -E '/vici(/|$)|/internal/lab$' || true)
# Packages whose tests start a lab (they import internal/lab/labtest).
labusers=$(go list -e -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... |
	awk '/ github.com\/vicish\/vicish\/internal\/lab\/labtest( |$)/ {print $1}')

run() {
	echo "test.sh: go test $*"
	go test "$@" || status=1
}

daemon_version() { # $1 = system|newest
	if [ "$1" = newest ]; then
		sed -n 's/^strongswan //p' /var/cache/vicish-lab/testing/.vicish-lab-root 2>/dev/null || echo '?'
	else
		dpkg-query -W -f='${Version}' strongswan-charon 2>/dev/null || echo '?'
	fi
}

# The newest strongSwan's root (Debian testing's, built once per machine with
# debootstrap, a few minutes; later runs only check it). Both passes need it:
# the first has tests that mix system and newest daemons.
newest_root=ok
if ! go run ./cmd/vicish lab root; then
	newest_root=failed
	echo "test.sh: could not build the newest strongSwan's root; tests that use it will fail" >&2
	if [ "$(id -u)" = 0 ] || [ "${CI:-}" = true ]; then
		status=1
	fi
fi

# The Debian stable root that scripts/debian's install test installs the
# package into (built once per machine like the newest root, cached beside
# it under /var/cache/vicish-lab; later runs only check it).
if ! go run ./scripts/debian root; then
	echo "test.sh: could not build the Debian stable root; the package's install test will fail" >&2
	if [ "$(id -u)" = 0 ] || [ "${CI:-}" = true ]; then
		status=1
	fi
fi

for daemon in $daemons; do
	export VICISH_LAB_DAEMON=$daemon
	begin=$SECONDS
	case $daemon in
	system)
		echo "test.sh: ==== pass: every package, lab daemons = system strongSwan $(daemon_version system) (VICISH_LAB_DAEMON=system)"
		if [ -n "$labpkg" ]; then
			# -v shows each lab's sockets, daemon versions and what the
			# real daemons answered.
			run -count=1 -timeout "$timeout" -v $labpkg
		fi
		if [ -n "$engine" ]; then
			# shellcheck disable=SC2086
			run -race -count=1 -timeout "$timeout" $engine
		fi
		if [ -n "$others" ]; then
			# shellcheck disable=SC2086
			run -count=1 -timeout "$timeout" $others
		fi
		;;
	newest)
		echo "test.sh: ==== pass: packages that use the lab, lab daemons = newest strongSwan (VICISH_LAB_DAEMON=newest)"
		if [ "$newest_root" != ok ]; then
			echo "test.sh: the newest strongSwan's root is not available (see above)" >&2
			continue
		fi
		echo "test.sh: newest strongSwan $(daemon_version newest)"
		if [ -n "$labpkg" ]; then
			run -count=1 -timeout "$timeout" -v $labpkg
		fi
		rest=$(printf '%s\n' "$labusers" | grep -v -E '/internal/lab$' || true)
		if [ -n "$rest" ]; then
			# shellcheck disable=SC2086
			run -count=1 -timeout "$timeout" $rest
		fi
		;;
	*)
		echo "test.sh: TEST_DAEMONS: unknown daemon $daemon (use system and/or newest)" >&2
		status=1
		;;
	esac
	echo "test.sh: ==== pass $daemon took $((SECONDS - begin)) s"
done
if [ "$status" = 0 ]; then
	echo "test.sh: all tests passed"
else
	echo "test.sh: FAILED" >&2
fi
exit "$status"
