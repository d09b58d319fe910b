#!/usr/bin/env bash
# Demo (placeholder until the runbooks exist): start a lab of two real
# strongSwan gateways, ask gateway a for its version and statistics, bring up
# the tunnel a<->b, show it, and take the lab down again. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

packages="strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins strongswan-pki iproute2"
if [ ! -x /usr/lib/ipsec/charon ] || ! command -v swanctl >/dev/null \
   || [ ! -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] || ! command -v ip >/dev/null; then
	if [ "$(id -u)" != 0 ]; then
		echo "demo.sh: strongSwan is missing; as root run: apt-get install -y $packages" >&2
		exit 1
	fi
	echo "demo.sh: installing strongSwan ($packages)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q $packages </dev/null
fi
if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: the lab needs root (network namespaces, mounts): run it as root" >&2
	exit 1
fi

work=$(mktemp -d /tmp/vicish-demo-XXXXXX)
labctl="$work/labctl"
lab="$work/lab"
cleanup() {
	"$labctl" down --dir "$lab" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$labctl" ./internal/lab/cmd/labctl
"$labctl" up --dir "$lab" --topology 2
sock="unix://$lab/a/charon.vici"
# swanctl reads the socket (and its plugin list) from the gateway's own config.
export STRONGSWAN_CONF="$lab/a/strongswan.conf"

step() { printf '\n== %s\n' "$*"; }
step "gateway a: version (swanctl --version --daemon --uri $sock)"
swanctl --version --daemon --uri "$sock"
step "gateway a: statistics"
swanctl --stats --uri "$sock"
step "gateway a: initiate connection ab, child net"
swanctl --initiate --ike ab --child net --uri "$sock"
step "gateway a: SAs"
swanctl --list-sas --uri "$sock"
step "taking the lab down"
"$labctl" down --dir "$lab"
