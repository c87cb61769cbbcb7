#!/usr/bin/env bash
# Live capture speed: `tcpreplay --topspeed` plays generated calls onto one
# end of a veth pair inside a network namespace this script creates (nothing
# outside it is a target) while `voxprobe capture` reads the other end
# through its TPACKET_V3 ring; prints packets/s offered by tcpreplay,
# received by the kernel socket, analysed by the probe, dropped because the
# ring was full, dropped by the capture stage (the analysis behind), and the
# CPU of the capture thread (ring reading) and of the rest (the analysis).
#
# Needs root, tcpreplay and iproute2. Environment: CALLS (default 1000) sizes
# the generated capture (bench-out/calls-$CALLS.pcap, as benches/calls.sh
# makes it); LOOPS (default 5) plays it that many times; RING_BLOCKS
# (default 64, 1 MiB each).
set -euo pipefail

cd "$(dirname "$0")/.."
CALLS=${CALLS:-1000}
LOOPS=${LOOPS:-5}
RING_BLOCKS=${RING_BLOCKS:-64}
SEED=1
OUT=bench-out
NS=vxp-bench-$$
. benches/generated.sh

need tcpreplay "apt-get install tcpreplay"
need ip "apt-get install iproute2"
[ "$(id -u)" = 0 ] || { echo "capture.sh: needs root (network namespace, AF_PACKET)" >&2; exit 2; }

generated_capture "calls-$CALLS" "calls-bulk $SEED $CALLS" "$CALLS calls, seed $SEED" \
    --scenario calls-bulk --seed "$SEED" --calls "$CALLS"
echo "capture: $PCAP, $FRAMES frames, played $LOOPS times"

cleanup() {
    [ -n "${PROBE:-}" ] && kill -TERM "$PROBE" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link add vx0 type veth peer name vx1
ip -n "$NS" link set vx0 up
ip -n "$NS" link set vx1 up

ERR=$OUT/capture.err
ip netns exec "$NS" target/release/voxprobe capture -i vx1 --ring-blocks "$RING_BLOCKS" \
    --format json --log-format json > "$OUT/capture.out" 2> "$ERR" &
PROBE=$!
for _ in $(seq 100); do grep -q "capturing on" "$ERR" && break; sleep 0.05; done
grep -q "capturing on" "$ERR" || { cat "$ERR" >&2; exit 1; }

# CPU ticks of the capture thread, and of the whole process.
thread_ticks() {
    for t in /proc/"$PROBE"/task/*; do
        [ "$(cat "$t/comm")" = capture ] && awk '{ print $14 + $15 }' "$t/stat"
    done
}
ticks() { awk '{ print $14 + $15 }' "/proc/$PROBE/stat"; }
hz=$(getconf CLK_TCK)
cpu0=$(ticks)
reader0=$(thread_ticks)
t0=$(date +%s.%N)
replay=$(ip netns exec "$NS" tcpreplay --topspeed --loop "$LOOPS" -i vx0 "$PCAP" 2>&1)
t1=$(date +%s.%N)
sleep 0.5 # the last block is handed over after its timeout
cpu1=$(ticks)
reader1=$(thread_ticks)
kill -TERM "$PROBE"
wait "$PROBE" || true
PROBE=

secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
sent=$(echo "$replay" | grep -o 'Actual: [0-9]* packets' | grep -o '[0-9]*')
# The last value of a field in the probe's JSON log lines (the final counters come after any status line).
field() { grep -o "\"$1\":[0-9]*" "$ERR" | tail -1 | grep -o '[0-9]*$'; }
received=$(field received)
# The kernel's count, from the summary record's interfaces.
dropped=$(grep -o '"interfaces":\[{[^]]*' "$OUT/capture.out" | grep -o '"dropped":[0-9]*' | tail -1 | grep -o '[0-9]*$')
stage_dropped=$(grep -o '"frames_dropped":[0-9]*' "$OUT/capture.out" | tail -1 | grep -o '[0-9]*$')
analysed=$(field frames)
cores() { awk -v c="$1" -v h="$hz" -v s="$secs" 'BEGIN { printf "%.2f", c / h / s }'; }
reader_cores=$(cores "$((reader1 - reader0))")
analysis_cores=$(cores "$((cpu1 - cpu0 - (reader1 - reader0)))")
rate() { awk -v n="$1" -v s="$secs" 'BEGIN { printf "%.0f", n / s }'; }

echo "replay: ${secs} s"
printf '%-44s %12s %12s\n' stage packets "packets/s"
printf '%-44s %12s %12s\n' "offered (tcpreplay --topspeed)" "$sent" "$(rate "$sent")"
printf '%-44s %12s %12s\n' "received by the socket (kernel count)" "$received" "$(rate "$received")"
printf '%-44s %12s %12s\n' "dropped, ring full (kernel count)" "$dropped" ""
printf '%-44s %12s %12s\n' "dropped, analysis queue full (capture stage)" "$stage_dropped" ""
printf '%-44s %12s %12s\n' "analysed by voxprobe" "$analysed" "$(rate "$analysed")"
echo "voxprobe CPU during the replay: capture thread $reader_cores cores, analysis $analysis_cores cores"
