#!/usr/bin/env bash
# VoLTE signalling analysis speed and memory per call.
#
# Builds release, generates bench-out/volte-$CALLS.pcap (`synth` scenario
# `volte-bulk`, seed 1: $CALLS VoLTE calls all overlapping in time, starts
# spread over 10 s, no media; per call Create Session, Gx CCR-I/CCA-I, SIP
# INVITE dialog, Rx AAR/AAA, Gx RAR/RAA, Create Bearer; 80 % answered, the
# rest failing at Rx, Gx, the bearer or SIP) if it is missing, then runs
#   voxprobe analyze --format json
# pinned to one core under /usr/bin/time and prints signalling messages per
# second end to end (pcap to JSON; SIP + DIAMETER + GTPv2-C decoded, from the
# summary) and peak RSS per call; then replays the capture through `capture`
# (the live path, every call concurrent) and prints its peak RSS next to the
# systemd unit's MemoryMax. Then runs the `volte_state` bench on the
# same calls, pinned to one core: the correlation stage alone (messages/s)
# and heap per active call, next to the targets (>= 500 k messages/s,
# <= 2 KB per call).
#
# Environment: CALLS (default 100000) sizes the capture.
set -euo pipefail

cd "$(dirname "$0")/.."
CALLS=${CALLS:-100000}
SEED=1
OUT=bench-out
. benches/generated.sh

need taskset "install util-linux"
[ -x /usr/bin/time ] || { echo "volte.sh: /usr/bin/time not found; install GNU time" >&2; exit 2; }

generated_capture "volte-$CALLS" "volte-bulk-held-20s-released $SEED $CALLS" "$CALLS calls, seed $SEED" \
    --scenario volte-bulk --seed "$SEED" --calls "$CALLS"
frames=$FRAMES
size=$(stat -c %s "$PCAP")
echo "capture: $PCAP, $CALLS calls, $frames frames, $((size / 1000000)) MB"

t0=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$OUT/volte.rss" \
    taskset -c 0 target/release/voxprobe analyze --format json "$PCAP" > "$OUT/volte.out"
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
rss_kb=$(tail -1 "$OUT/volte.rss")
protocols=$(grep -o '"protocols":{[^}]*}' "$OUT/volte.out" | tail -1)
count() { echo "$protocols" | grep -o "\"$1\":[0-9]*" | grep -o '[0-9]*$'; }
sip=$(count sip); diameter=$(count diameter); gtpv2=$(count gtpv2)
messages=$((sip + diameter + gtpv2))
calls_found=$(grep -c '"type":"call"' "$OUT/volte.out" || true)

echo "  decoded: $sip SIP + $diameter DIAMETER + $gtpv2 GTPv2-C = $messages messages; $calls_found calls"
echo "  time: ${secs} s (1 core), peak RSS: $((rss_kb / 1024)) MB"
echo
printf '%-40s %12s\n' "end to end (pcap to JSON)" measured
printf '%-40s %12s\n' "signalling messages/s, one core" \
    "$(awk -v n="$messages" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')"
printf '%-40s %12s\n' "peak RSS per call, bytes" \
    "$(awk -v k="$rss_kb" -v c="$CALLS" 'BEGIN { printf "%.0f", k * 1024 / c }')"

# The live path: the same calls replayed through `capture` at top speed (all
# of them concurrent), its peak memory against the systemd unit's MemoryMax.
/usr/bin/time -f '%M' -o "$OUT/volte-live.rss" \
    target/release/voxprobe capture --replay "$PCAP" --speed 0 --format json \
    > /dev/null 2> "$OUT/volte-live.err"
live_kb=$(tail -1 "$OUT/volte-live.rss")
limit=$(grep -o '^MemoryMax=.*' systemd/voxprobe.service | cut -d= -f2)
printf '%-40s %12s\n' "live replay, $CALLS concurrent calls: peak RSS" "$((live_kb / 1024)) MB (unit MemoryMax $limit)"
echo
echo "correlation stage alone (cargo bench --bench volte_state):"
CALLS=$CALLS taskset -c 0 cargo bench --quiet --bench volte_state
