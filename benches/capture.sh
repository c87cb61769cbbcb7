#!/usr/bin/env bash
# Live capture speed: `tcpreplay --topspeed` plays generated calls onto one
# end of a veth pair inside a network namespace this script creates (nothing
# outside it is a target) while `voxprobe capture` reads the other end
# through its TPACKET_V3 ring; prints packets/s offered by tcpreplay,
# received by the kernel socket, analysed by the probe, dropped because the
# ring was full, and the CPU the probe used (one thread: ring reading and the
# whole analysis).
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

ticks() { awk '{ print $14 + $15 }' "/proc/$PROBE/stat"; }
hz=$(getconf CLK_TCK)
cpu0=$(ticks)
t0=$(date +%s.%N)
replay=$(ip netns exec "$NS" tcpreplay --topspeed --loop "$LOOPS" -i vx0 "$PCAP" 2>&1)
t1=$(date +%s.%N)
sleep 0.5 # the last block is handed over after its timeout
cpu1=$(ticks)
kill -TERM "$PROBE"
wait "$PROBE" || true
PROBE=

secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
sent=$(echo "$replay" | grep -o 'Actual: [0-9]* packets' | grep -o '[0-9]*')
# The last value of a field in the probe's JSON log lines (the final counters come after any status line).
field() { grep -o "\"$1\":[0-9]*" "$ERR" | tail -1 | grep -o '[0-9]*$'; }
received=$(field received)
dropped=$(field dropped)
analysed=$(field frames)
cores=$(awk -v c="$((cpu1 - cpu0))" -v h="$hz" -v s="$secs" 'BEGIN { printf "%.2f", c / h / s }')
rate() { awk -v n="$1" -v s="$secs" 'BEGIN { printf "%.0f", n / s }'; }

echo "replay: ${secs} s"
printf '%-44s %12s %12s\n' stage packets "packets/s"
printf '%-44s %12s %12s\n' "offered (tcpreplay --topspeed)" "$sent" "$(rate "$sent")"
printf '%-44s %12s %12s\n' "received by the socket (kernel count)" "$received" "$(rate "$received")"
printf '%-44s %12s %12s\n' "dropped, ring full (kernel count)" "$dropped" ""
printf '%-44s %12s %12s\n' "analysed by voxprobe" "$analysed" "$(rate "$analysed")"
echo "voxprobe CPU during the replay: $cores cores (one thread: ring and analysis)"
