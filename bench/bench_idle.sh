#!/bin/bash
# bench_idle.sh BINARY [SECONDS]: how often an idle capture's loop wakes up,
# and its CPU, on the local stack (scripts/stack up first). An idle capture
# should sleep until something is due (a feedback, a log line, the metrics
# refresh), not poll. Prints the main thread's context switches per second
# (/proc/PID/status) and the process's CPU ticks over SECONDS (default 20).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/.stack/env"
bin=$1 secs=${2:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/capture.json" <<J
{"name":"bench-idle","config":{"database.hostname":"\${env:PGHOST}","database.port":"\${env:PGPORT}",
"database.user":"\${env:PGUSER}","database.password":"\${env:PGPASSWORD}","database.dbname":"\${env:PGDATABASE}",
"topic.prefix":"benchidle","table.include.list":"public.users","slot.name":"bench_idle",
"publication.name":"bench_idle_pub","publication.autocreate.mode":"filtered","snapshot.mode":"no_data",
"datapipe.exactly.once":"false","kafka.bootstrap.servers":"\${env:KAFKA_BOOTSTRAP_SERVERS}",
"kafka.security.protocol":"SASL_SSL","kafka.sasl.mechanism":"PLAIN","kafka.ssl.ca.location":"\${env:KAFKA_CA_FILE}",
"kafka.sasl.username":"\${env:KAFKA_ADMIN_USER}","kafka.sasl.password":"\${env:KAFKA_ADMIN_PASSWORD}"}}
J
"$bin" capture --config "$tmp/capture.json" >"$tmp/capture.log" 2>&1 &
pid=$!
sleep 8
kill -0 "$pid" 2>/dev/null || { cat "$tmp/capture.log"; exit 1; }
ctx() { awk '/^voluntary_ctxt_switches|^nonvoluntary_ctxt_switches/{s+=$2} END{print s}' "/proc/$pid/status"; }
cpu() { awk '{print $14+$15}' "/proc/$pid/stat"; }
c0=$(ctx) t0=$(cpu)
sleep "$secs"
c1=$(ctx) t1=$(cpu)
kill "$pid"; wait "$pid" || true
psql -qAtc "SELECT pg_drop_replication_slot('bench_idle') FROM pg_replication_slots WHERE slot_name = 'bench_idle'" >/dev/null
echo "idle capture ($bin): main thread $(( (c1 - c0) / secs )) wakeups/s, $(( t1 - t0 )) CPU ticks in $secs s"
