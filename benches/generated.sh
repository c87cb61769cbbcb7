# Shared by the bench scripts (sourced, from the project's root).

# need PROGRAM HINT: stops the script with HINT when PROGRAM is missing.
need() {
    command -v "$1" >/dev/null 2>&1 || { echo "$(basename "$0"): $1 not found; $2" >&2; exit 2; }
}

# generated_capture STEM STAMP DESCRIPTION GENCAP-ARGS...: builds voxprobe and
# the generator, and makes bench-out/STEM.pcap with its truth
# bench-out/STEM.expected.json unless bench-out/STEM.stamp says they were
# made with STAMP. Sets PCAP, JSON and FRAMES (frames in the capture).
generated_capture() {
    local stem=$1 stamp=$2 description=$3
    shift 3
    PCAP=bench-out/$stem.pcap
    JSON=bench-out/$stem.expected.json
    cargo build --release --quiet --bin voxprobe --example gencap
    mkdir -p bench-out
    if [ ! -f "$PCAP" ] || [ "$(cat "bench-out/$stem.stamp" 2>/dev/null)" != "$stamp" ]; then
        echo "generating $PCAP ($description)..."
        target/release/examples/gencap "$@" -o "$PCAP" --expected "$JSON"
        echo "$stamp" > "bench-out/$stem.stamp"
    fi
    FRAMES=$(grep -m1 -o '"frames": [0-9]*' "$JSON" | grep -o '[0-9]*$')
}
