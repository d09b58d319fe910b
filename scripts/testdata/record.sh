#!/bin/bash
# Makes the recordings the runbooks' hermetic tests replay (*_test.star:
# fake.daemon().replay("testdata/NAME.jsonl")): real sessions with the
# daemons of a failover lab (vicish lab up --topology 3), saved by
# vicish --record. Run as root from the repository root when the runbooks
# or the daemons change what they exchange:
#   bash scripts/testdata/record.sh [system|newest]
set -euo pipefail
daemon=${1:-system}
out=scripts/testdata
dir=/tmp/vicish-rec
bin=$(mktemp -d)
go build -o "$bin/vicish" ./cmd/vicish
vicish=$bin/vicish
$vicish lab down --dir "$dir" >/dev/null 2>&1 || true
$vicish lab up --topology 3 --dir "$dir" --daemon "$daemon" >/dev/null
trap '$vicish lab down --dir "$dir" >/dev/null; rm -r "$bin"' EXIT
a=unix://$dir/a/charon.vici b=unix://$dir/b/charon.vici c=unix://$dir/c/charon.vici
$vicish --uri "$a" -c 'vici.initiate(child="net", ike="primary")'
$vicish --uri "$a" --record $out/status.jsonl scripts/status.star --detail >/dev/null
$vicish --uri "$a" --record $out/fleet-status.jsonl scripts/fleet-status.star "$a" "$b" "$c" >/dev/null || true
$vicish --uri "$a" --record $out/metrics.jsonl scripts/metrics.star "$a" "$b" "$c" >/dev/null
# The hook, while primary goes down and up again.
$vicish --uri "$a" --record $out/ike-updown.jsonl scripts/hooks/ike-updown.star >/dev/null 2>&1 &
hook=$!
sleep 1
$vicish --uri "$a" -c 'vici.terminate(ike="primary")'
$vicish --uri "$a" -c 'vici.initiate(child="net", ike="primary")'
sleep 1
kill -TERM $hook
wait $hook || true
$vicish --uri "$a" --record $out/failover.jsonl scripts/failover.star primary backup >/dev/null
chmod 644 $out/*.jsonl
