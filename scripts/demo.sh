#!/usr/bin/env bash
# The vicish demo: a failover between two real strongSwan peers.
#
# Run as root on a Debian (or Ubuntu) machine, from anywhere in the checkout:
#   bash scripts/demo.sh
#
# It installs strongSwan if it is missing, builds vicish into a temporary
# directory, starts a lab of three charon daemons in network namespaces
# (gateway a with connections "primary" to b and "backup" to c), brings the
# primary tunnel up, and then runs the ready-made scripts:
#   scripts/status.star      what gateway a has (connections, IKE_SAs, CHILD_SAs)
#   scripts/failover.star    moves CHILD_SA "net" from primary (b) to backup (c)
#   scripts/hooks/ike-updown.star  (in the background) one JSON line per IKE_SA up/down
# The lab is taken down when the demo ends, however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -t 1 ]; then
	step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	step() { printf '\n== %s\n' "$*"; }
fi
# show prints a command the way one would type it, then runs it.
show() {
	local out="\$" a
	for a in "$@"; do
		case "$a" in
		*[!A-Za-z0-9_./:=,+-]*|'') out+=" '${a//\'/\'\\\'\'}'" ;;
		*) out+=" $a" ;;
		esac
	done
	printf '%s\n' "$out"
	"$@"
}

if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: the lab needs root (network namespaces, mounts): run it as root, e.g. sudo bash scripts/demo.sh" >&2
	exit 1
fi

step "1. strongSwan"
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
vicish_deps_install demo.sh demo || exit 1
echo "strongSwan $(dpkg-query -W -f='${Version}' strongswan-charon 2>/dev/null || /usr/lib/ipsec/charon --version 2>&1 | head -1)"

step "2. build vicish"
if ! command -v go >/dev/null; then
	echo "demo.sh: the Go toolchain is missing (go.mod names the version); install it from https://go.dev/dl/" >&2
	exit 1
fi
work=$(mktemp -d /tmp/vicish-demo-XXXXXX)
vicish="$work/vicish"
lab="$work/lab"
hook_pid=""
cleanup() {
	status=$?
	if [ -n "$hook_pid" ]; then kill -TERM "$hook_pid" 2>/dev/null || true; wait "$hook_pid" 2>/dev/null || true; fi
	if [ -x "$vicish" ] && [ -d "$lab" ]; then
		step "taking the lab down"
		"$vicish" lab down --dir "$lab" || true
	fi
	rm -rf "$work"
	if [ "$status" != 0 ]; then echo "demo.sh: FAILED (exit $status)" >&2; fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
go build -o "$vicish" ./cmd/vicish
export PATH="$work:$PATH"
show vicish --version

step "3. start the lab: gateway a, its primary peer b and its backup peer c"
show vicish lab up --dir "$lab" --topology 3 | tee "$work/lab-up.txt" | sed -n '1,/^a has/p'
# Every vicish below talks to gateway a.
export VICI_URI="unix://$lab/a/charon.vici"
echo "VICI_URI=$VICI_URI"

step "4. a hook in the background: one JSON line per IKE_SA going up or down"
vicish scripts/hooks/ike-updown.star >"$work/hook.out" 2>"$work/hook.err" &
hook_pid=$!
echo "started scripts/hooks/ike-updown.star (pid $hook_pid)"
# Wait until it has registered, so it sees the first IKE_SA come up.
for _ in $(seq 50); do grep -q listening "$work/hook.err" 2>/dev/null && break; sleep 0.1; done

step "5. bring up the primary tunnel (a <-> b)"
show vicish -c 'r = vici.initiate(ike="primary", child="net", timeout=10); print("initiate primary/net:", r["success"])'

step "6. status of gateway a"
show vicish scripts/status.star

step "7. failover: dry run first (changes nothing)"
show vicish scripts/failover.star --dry-run primary backup

step "8. failover: move CHILD_SA net from primary (b) to backup (c)"
show vicish scripts/failover.star primary backup

step "9. real traffic: a UDP packet from 10.1.0.1 (a) to 10.2.0.1 (c) through the backup tunnel"
# The banner's gateway line has "netns NAME" among its fields.
netns_a=$(awk '$1 == "gateway" && $2 == "a" {for (i = 3; i < NF; i++) if ($i == "netns") {print $(i + 1); exit}}' "$work/lab-up.txt")
if [ -z "$netns_a" ]; then
	echo "demo.sh: gateway a's network namespace is not in the lab's banner ($work/lab-up.txt)" >&2
	exit 1
fi
show ip netns exec "$netns_a" bash -c 'echo vicish-demo >/dev/udp/10.2.0.1/9'
sleep 0.2

step "10. status of gateway a after the failover (the CHILD_SA counted the packet)"
show vicish scripts/status.star

step "11. what gateway c sees"
show vicish --uri "unix://$lab/c/charon.vici" -c 'print(table.sas(vici.list_sas()))'

step "12. what the hook printed"
kill -TERM "$hook_pid"
wait "$hook_pid" || true
hook_pid=""
cat "$work/hook.out"
