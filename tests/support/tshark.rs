//! tshark as the reference: running it (or skipping visibly when it is not
//! installed) and reading its `-z rtp,streams` table.

use std::path::Path;
use std::process::Command;

/// One row of `tshark -q -z rtp,streams`.
#[derive(Debug, Clone)]
pub struct RtpStreamRow {
    /// `ip:port` (`[ip]:port` for IPv6), as `Endpoint` displays it.
    pub src: String,
    /// Destination, likewise.
    pub dst: String,
    /// SSRC.
    pub ssrc: u32,
    /// The Payload column (it may hold spaces: "g711A, telephone-event").
    pub payload: String,
    /// Pkts.
    pub packets: u64,
    /// Lost (negative with duplicates).
    pub lost: i64,
    /// Max Delta (ms).
    pub max_delta_ms: f64,
    /// Mean Jitter (ms).
    pub mean_jitter_ms: f64,
    /// Max Jitter (ms).
    pub max_jitter_ms: f64,
}

/// Parses one row; `None` for headers and other lines.
pub fn parse_rtp_streams_row(line: &str) -> Option<RtpStreamRow> {
    let mut t: Vec<&str> = line.split_whitespace().collect();
    if t.last() == Some(&"X") {
        t.pop();
    }
    let n = t.len();
    if n < 16 || !t[6].starts_with("0x") {
        return None;
    }
    let endpoint = |ip: &str, port: &str| {
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    };
    Some(RtpStreamRow {
        src: endpoint(t[2], t[3]),
        dst: endpoint(t[4], t[5]),
        ssrc: u32::from_str_radix(t[6].trim_start_matches("0x"), 16).ok()?,
        payload: t[7..n - 9].join(" "),
        packets: t[n - 9].parse().ok()?,
        lost: t[n - 8].parse().ok()?,
        max_delta_ms: t[n - 4].parse().ok()?,
        mean_jitter_ms: t[n - 2].parse().ok()?,
        max_jitter_ms: t[n - 1].parse().ok()?,
    })
}

/// Every row of a `-z rtp,streams` output.
pub fn parse_rtp_streams(out: &str) -> Vec<RtpStreamRow> {
    out.lines().filter_map(parse_rtp_streams_row).collect()
}

/// The agreement the issue asks for: within 0.01 ms or within 1 %.
pub fn agrees(ours: f64, theirs: f64) -> bool {
    let d = (ours - theirs).abs();
    d <= 0.01 || d <= theirs.abs() * 0.01
}

/// Runs `tshark ARGS -r CAPTURE` and returns its standard output, or prints
/// a visible skip naming `what` and returns `None` when tshark is not
/// installed.
pub fn run(args: &[&str], capture: &Path, what: &str) -> Option<String> {
    let Ok(version) = Command::new("tshark").arg("--version").output() else {
        super::skip(&format!("{what}: tshark is not installed"));
        return None;
    };
    assert!(version.status.success());
    let out = Command::new("tshark")
        .args(args)
        .arg("-r")
        .arg(capture)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "{what}: tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// tshark's count of the frames matching `filter` and the sum of `field`
/// over them (less `less_each` per value: e.g. 8 for the UDP header in
/// `udp.length`), or `None` (skipped visibly) without tshark.
pub fn sum_field(
    capture: &Path,
    filter: &str,
    field: &str,
    less_each: u64,
    what: &str,
) -> Option<(u64, u64)> {
    let out = run(
        &["-n", "-Y", filter, "-T", "fields", "-e", field],
        capture,
        what,
    )?;
    let mut count = 0;
    let mut sum = 0;
    for line in out.lines() {
        // A frame with several messages lists its values comma-separated.
        for value in line.split(',').filter(|v| !v.is_empty()) {
            count += 1;
            sum += value.trim().parse::<u64>().expect("a number") - less_each;
        }
    }
    Some((count, sum))
}

/// The arguments of tshark's RTP stream table with the RTP heuristic on.
pub const RTP_STREAMS: &[&str] = &[
    "-n",
    "-q",
    "-z",
    "rtp,streams",
    "-o",
    "rtp.heuristic_rtp:TRUE",
];

/// Checks tshark's row for a generated stream against the generator's
/// truth: packets and lost equal, max delta to tshark's three decimals, and
/// (when `check_jitter`) mean and max jitter within [`agrees`].
pub fn assert_row_matches(
    rows: &[RtpStreamRow],
    want: &voxprobe::synth::ExpectedStream,
    ctx: &str,
    check_jitter: bool,
) {
    let row = rows
        .iter()
        .find(|r| r.src == want.src && r.dst == want.dst && r.ssrc == want.ssrc)
        .unwrap_or_else(|| panic!("{ctx}: tshark has no such stream"));
    assert_eq!(row.packets, want.packets, "{ctx}: packets");
    // tshark's Lost is last − first + 1 − packets with its own wrap logic;
    // with no loss at the ends it equals ours.
    assert_eq!(row.lost, want.lost, "{ctx}: lost");
    // tshark prints three decimals.
    assert!(
        (row.max_delta_ms - want.max_delta_ms).abs() <= 0.0015,
        "{ctx}: max delta {} vs {}",
        row.max_delta_ms,
        want.max_delta_ms
    );
    if check_jitter {
        assert!(
            agrees(row.mean_jitter_ms, want.mean_jitter_ms),
            "{ctx}: mean jitter {} vs {}",
            row.mean_jitter_ms,
            want.mean_jitter_ms
        );
        assert!(
            agrees(row.max_jitter_ms, want.max_jitter_ms),
            "{ctx}: max jitter {} vs {}",
            row.max_jitter_ms,
            want.max_jitter_ms
        );
    }
}
