#!/usr/bin/env bash
# bench/bench_encode.sh - the event encoding micro-benchmark (bench/bench_encode.c):
# events/s of each path over REPEAT runs (median and range), then each path's
# instructions per event under callgrind. No servers. Prints, asserts nothing.
#
#   bench/bench_encode.sh BINARY      (`make bench-encode` builds BINARY, then runs this)
#   env: EVENTS=100000 REPEAT=3 CG_EVENTS=20000 PATHS="json json-noschema avro avro-unwrap json-txmeta avro-txmeta"
#
# Instructions per event: callgrind runs BINARY --events CG_EVENTS --path P with
# --toggle-collect='bench_timed*', so it counts only inside bench_timed(), the
# loop the wall clock times (the * takes in a clone the compiler may make of it).
# Building the pgoutput input, binding the tables and the warm-up transaction
# are outside it. The run's "summary" Ir divided by CG_EVENTS is the figure. It
# equals, within a few thousand Ir per run, the other way of getting it (Ir of a
# run of N events minus Ir of a run with --events 0, over N), because the input
# does not depend on N. Counts are deterministic but for the wall-clock
# timestamps in each event: two runs agree to a few parts per million.
set -euo pipefail

BIN=${1:?usage: bench/bench_encode.sh BINARY}
EVENTS=${EVENTS:-100000}
REPEAT=${REPEAT:-3}
CG_EVENTS=${CG_EVENTS:-20000}
PATHS=${PATHS:-json json-noschema avro avro-unwrap json-txmeta avro-txmeta}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# commas: 1234567 -> 1,234,567
commas() { printf '%s' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|[,.]\)/\1,\2\3/;ta'; }

echo "bench_encode: $EVENTS change events per path, $REPEAT runs each (wall clock)"
for ((r = 1; r <= REPEAT; r++)); do
  for p in $PATHS; do
    "$BIN" --events "$EVENTS" --path "$p" | awk -v p="$p" '$1 == p' >> "$TMP/runs"
  done
done
# columns of a result line: path events seconds events/s ns/event cpu-ns/event key-B value-B rec/ev
printf '%-14s %10s %22s %12s %12s %8s %8s\n' path "events/s" "(min - max)" "ns/event" "cpu ns/ev" "key B" "value B"
for p in $PATHS; do
  read -r med lo hi ns cpu kb vb < <(awk -v p="$p" '$1 == p { e[++n] = $4; w[n] = $5; c[n] = $6; kb = $7; vb = $8 }
    function median(a, k,   i, j, t) {
      for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
      return k % 2 ? a[(k+1)/2] : (a[k/2] + a[k/2+1]) / 2
    }
    END { m = median(e, n); lo = e[1]; hi = e[n]; printf "%.0f %.0f %.0f %.0f %.0f %.1f %.1f\n", m, lo, hi, median(w, n), median(c, n), kb, vb }' "$TMP/runs")
  printf '%-14s %10s %22s %12s %12s %8s %8s\n' "$p" "$(commas "$med")" "($(commas "$lo") - $(commas "$hi"))" \
    "$(commas "$ns")" "$(commas "$cpu")" "$kb" "$vb"
done

if ! command -v valgrind >/dev/null; then
  echo "bench_encode: valgrind not found (Debian: apt-get install valgrind): instructions per event skipped" >&2
  exit 0
fi
echo
echo "bench_encode: instructions per change event (callgrind, $CG_EVENTS events, bench_timed only)"
printf '%-14s %14s %16s\n' path "Ir/event" "Ir of the run"
for p in $PATHS; do
  valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$p" --toggle-collect='bench_timed*' \
    "$BIN" --events "$CG_EVENTS" --path "$p" > "$TMP/cg.$p.out" 2> "$TMP/cg.$p.err" ||
    { cat "$TMP/cg.$p.err" >&2; exit 1; }
  ir=$(awk '$1 == "summary:" { print $2 }' "$TMP/cg.$p")
  printf '%-14s %14s %16s\n' "$p" "$(commas "$(awk -v i="$ir" -v n="$CG_EVENTS" 'BEGIN { printf "%.0f", n ? i / n : 0 }')")" \
    "$(commas "$ir")"
done
