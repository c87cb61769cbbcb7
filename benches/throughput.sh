#!/usr/bin/env bash
# End-to-end offline throughput: voxprobe against tshark on the same capture.
#
# Builds release, generates bench-out/throughput.pcap (~5 M RTP packets in
# 2000 concurrent G.711 streams, 0.2 % loss; `synth` scenario `throughput`,
# seed 1) if it is missing, then times, in the same run:
#   voxprobe analyze --format json   (pinned to one core, best of 3)
#   tshark -q -z rtp,streams          (once: it is slow)
# and prints packets, seconds, packets/s for each, the ratio, and voxprobe's
# peak RSS.
#
# Environment: PACKETS (default 5000000) sizes the capture (a different size
# regenerates it); RUNS (default 3) voxprobe runs; SKIP_TSHARK=1 skips tshark.
set -euo pipefail

cd "$(dirname "$0")/.."
PACKETS=${PACKETS:-5000000}
RUNS=${RUNS:-3}
SEED=1
OUT=bench-out
. benches/generated.sh

need taskset "install util-linux"
[ -x /usr/bin/time ] || { echo "throughput.sh: /usr/bin/time not found; apt-get install time" >&2; exit 2; }

generated_capture throughput "throughput $SEED $PACKETS" "$PACKETS packets, seed $SEED" \
    --scenario throughput --seed "$SEED" --packets "$PACKETS"
frames=$FRAMES
size=$(stat -c %s "$PCAP")
echo "capture: $PCAP, $frames frames, $((size / 1000000)) MB"

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# voxprobe: best of $RUNS on one core; peak RSS from GNU time.
best=""
rss=0
for i in $(seq "$RUNS"); do
    t0=$(now)
    /usr/bin/time -f %M -o "$OUT/voxprobe.rss" taskset -c 0 \
        target/release/voxprobe analyze --format json "$PCAP" > /dev/null
    t1=$(now)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    r=$(tail -n1 "$OUT/voxprobe.rss")
    [ "$r" -gt "$rss" ] && rss=$r
    echo "  voxprobe run $i: ${s} s"
    if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; fi
done
vox_pps=$(rate "$frames" "$best")

ts_s=""
if [ "${SKIP_TSHARK:-0}" != 1 ]; then
    need tshark "apt-get install tshark, or set SKIP_TSHARK=1"
    t0=$(now)
    # Same core as voxprobe, so the two compete on equal terms.
    taskset -c 0 tshark -n -q -z rtp,streams -o rtp.heuristic_rtp:TRUE -r "$PCAP" > "$OUT/tshark.out" 2> "$OUT/tshark.err" \
        || { echo "throughput.sh: tshark failed:" >&2; cat "$OUT/tshark.err" >&2; exit 1; }
    t1=$(now)
    ts_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
fi

echo
printf '%-34s %12s %10s %14s\n' tool packets seconds packets/s
printf '%-34s %12s %10s %14s\n' "voxprobe (1 core, best of $RUNS)" "$frames" "$best" "$vox_pps"
if [ -n "$ts_s" ]; then
    ts_pps=$(rate "$frames" "$ts_s")
    printf '%-34s %12s %10s %14s\n' "tshark -z rtp,streams (1 core, once)" "$frames" "$ts_s" "$ts_pps"
    awk -v a="$ts_s" -v b="$best" 'BEGIN { printf "voxprobe is %.1fx faster than tshark\n", a / b }'
fi
echo "voxprobe peak RSS: $((rss / 1024)) MiB ($rss KiB; the capture is memory-mapped, so its pages read count here)"
