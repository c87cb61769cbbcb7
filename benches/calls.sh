#!/usr/bin/env bash
# End-to-end offline call analysis speed.
#
# Builds release, generates bench-out/calls-$CALLS.pcap (`synth` scenario
# `calls-bulk`, seed 1: $CALLS overlapping SIP calls, one every ~37 ms, 80 %
# answered with 2-5 s of 20 ms G.711 both ways, the rest busy, no answer,
# rejected, cancelled or failed) if it is missing, then times
#   voxprobe analyze --format json
# pinned to one core (best of $RUNS) and prints calls/s and packets/s.
#
# Environment: CALLS (default 1000) sizes the capture; RUNS (default 3).
set -euo pipefail

cd "$(dirname "$0")/.."
CALLS=${CALLS:-1000}
RUNS=${RUNS:-3}
SEED=1
OUT=bench-out
. benches/generated.sh

need taskset "install util-linux"

generated_capture "calls-$CALLS" "calls-bulk $SEED $CALLS" "$CALLS calls, seed $SEED" \
    --scenario calls-bulk --seed "$SEED" --calls "$CALLS"
frames=$FRAMES
answered=$(grep -c '"outcome": "answered"' "$JSON" || true)
size=$(stat -c %s "$PCAP")
echo "capture: $PCAP, $CALLS calls ($answered answered), $frames frames, $((size / 1000000)) MB"

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

best=""
for i in $(seq "$RUNS"); do
    t0=$(now)
    taskset -c 0 target/release/voxprobe analyze --format json "$PCAP" > "$OUT/calls.out"
    t1=$(now)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    echo "  voxprobe run $i: ${s} s"
    if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; fi
done

echo
printf '%-34s %8s %10s %10s %12s %14s\n' tool calls packets seconds calls/s packets/s
printf '%-34s %8s %10s %10s %12s %14s\n' "voxprobe (1 core, best of $RUNS)" \
    "$CALLS" "$frames" "$best" "$(rate "$CALLS" "$best")" "$(rate "$frames" "$best")"
