#!/usr/bin/env bash
# Builds vicish's Debian package from this checkout:
#
#   bash scripts/package.sh            # writes dist/vicish_VERSION_ARCH.deb and prints its path
#   bash scripts/package.sh -out DIR   # into DIR instead
#
# It needs the Go toolchain go.mod names, git and dpkg-deb (any Debian
# system); no network beyond the Go module proxy for modules not yet in the
# module cache. The version is the checkout's commit's (see
# internal/version); DEBFULLNAME and DEBEMAIL name the package's maintainer
# (default: the commit's committer). What goes where: docs/install.md and
# scripts/debian/main.go. Check it with `lintian dist/vicish_*.deb`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v go >/dev/null; then
	echo "package.sh: the Go toolchain is missing (see go.mod for the version); install it from https://go.dev/dl/" >&2
	exit 1
fi
exec go run ./scripts/debian "$@"
