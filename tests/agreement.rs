//! Agreement with Wireshark: every shared capture that has RTP is analysed and
//! its streams compared with `tshark -q -z rtp,streams` (tshark 4.0.17) from
//! the ground-truth files: packets and lost equal; max delta, mean and max
//! jitter within 1% or 0.01 ms. Where we differ on purpose, the difference is
//! listed in `KNOWN_DIFFERENCES` with the reason, and the test checks that
//! the difference is still exactly that.

use crate::support::shared_captures;
use crate::support::tshark::{agrees, parse_rtp_streams_row, RtpStreamRow};
use std::path::Path;
use voxprobe::analyze::{analyze_file, AnalyzeConfig, FileAnalysis, StreamRecord};

/// Parses the rows of the `rtp,streams` section: the heuristic one when the
/// ground truth has it (it is a superset), else the SDP-driven default.
fn tshark_streams(groundtruth: &str) -> Vec<RtpStreamRow> {
    let section = |title: &str| -> Option<Vec<RtpStreamRow>> {
        let start = groundtruth.find(title)?;
        let body = &groundtruth[start..];
        let mut rows = Vec::new();
        for line in body.lines().skip(2) {
            if line.trim().is_empty() || line.starts_with("##") {
                break;
            }
            rows.push(parse_rtp_streams_row(line)?);
        }
        Some(rows)
    };
    section("## rtp,streams (with -o rtp.heuristic_rtp:TRUE)")
        .or_else(|| section("## rtp,streams (default, SDP-driven)"))
        .unwrap_or_default()
}

/// Streams where we differ from tshark on purpose, other than the
/// observation-point rule in `compare`: (capture, SSRC, source, the packet
/// count we report instead (`None`: no stream), why). The test checks that
/// what we report is exactly that.
const KNOWN_DIFFERENCES: &[(&str, u32, &str, Option<u64>, &str)] = &[
    (
        "sip-rtp/sip-rtp-fax-t38-g711a-megaco.pcap",
        0x0EAF_0EAF,
        "10.35.60.100:15580",
        Some(1838 + 2010),
        "after the T.38 re-INVITE (answered 488) the gateway keeps sending PCMA RTP with this SSRC on \
         the same port; tshark follows the SDP and dissects those 2010 packets as T.38 UDPTL (its \
         6 'lost' are among them), we count them as the RTP their bytes are, with no loss",
    ),
    (
        "gtp/gtpu-ipv6-inner-qinq.pcap",
        0x32B5_AB35,
        "[2607:fc20:4052:39e:490a:ea4d:17fe:e09c]:49120",
        None,
        "a single RTP-looking packet with no signalling: our heuristic needs two consecutive packets \
         of one SSRC before it calls a flow RTP (one packet is indistinguishable from noise); \
         tshark's heuristic takes any one packet",
    ),
];

fn compare(file: &str, ours: &FileAnalysis, theirs: &[RtpStreamRow]) -> Vec<String> {
    let mut problems = Vec::new();
    for t in theirs {
        let matching: Vec<&StreamRecord> = ours
            .all_streams()
            .filter(|s| {
                s.key.ssrc == t.ssrc
                    && s.key.src.to_string() == t.src
                    && s.key.dst.to_string() == t.dst
            })
            .collect();
        let known = KNOWN_DIFFERENCES
            .iter()
            .find(|(f, ssrc, src, _, _)| *f == file && *ssrc == t.ssrc && *src == t.src);
        if let Some((_, _, _, our_packets, why)) = known {
            let ours: Option<u64> = matching.first().map(|s| s.report.packets);
            if matching.len() > 1 || ours != *our_packets {
                problems.push(format!(
                    "{file}: stream {:#010x}: known difference changed: expected our packets {our_packets:?}, got {ours:?}",
                    t.ssrc
                ));
            } else {
                eprintln!(
                    "{file}: stream {:#010x} differs from tshark on purpose: {why}",
                    t.ssrc
                );
            }
            continue;
        }
        // tshark merges the copies of a packet captured at several observation
        // points (plain and inside GTP-U tunnels, e.g. S1-U and S5) into one
        // stream, which is why it shows negative loss; we keep one stream per
        // observation point. Check that the copies add up to tshark's count
        // and that no observation point on its own shows negative loss.
        if matching.len() > 1 {
            let total: u64 = matching.iter().map(|s| s.report.packets).sum();
            let observations: std::collections::BTreeSet<_> =
                matching.iter().map(|s| s.key.observation).collect();
            let negative = matching.iter().any(|s| s.report.lost < 0);
            if total == t.packets && observations.len() == matching.len() && !negative && t.lost < 0
            {
                eprintln!(
                    "{file}: stream {} -> {} {:#010x}: tshark merges {} observation points into one stream ({} packets, lost {}); we report each",
                    t.src,
                    t.dst,
                    t.ssrc,
                    matching.len(),
                    t.packets,
                    t.lost
                );
                continue;
            }
        }
        let [s] = matching.as_slice() else {
            problems.push(format!(
                "{file}: tshark stream {} -> {} ssrc {:#010x} ({}): we have {} matching streams",
                t.src,
                t.dst,
                t.ssrc,
                t.payload,
                matching.len()
            ));
            continue;
        };
        let r = &s.report;
        let mut check = |what: &str, ok: bool, ours: String, theirs: String| {
            if !ok {
                problems.push(format!(
                    "{file}: stream {} -> {} ssrc {:#010x}: {what}: ours {ours}, tshark {theirs}",
                    t.src, t.dst, t.ssrc
                ));
            }
        };
        check(
            "packets",
            r.packets == t.packets,
            r.packets.to_string(),
            t.packets.to_string(),
        );
        check(
            "lost",
            r.lost == t.lost,
            r.lost.to_string(),
            t.lost.to_string(),
        );
        check(
            "max delta (ms)",
            agrees(r.max_delta_ms, t.max_delta_ms),
            format!("{:.3}", r.max_delta_ms),
            format!("{:.3}", t.max_delta_ms),
        );
        check(
            "mean jitter (ms)",
            agrees(r.mean_jitter_ms, t.mean_jitter_ms),
            format!("{:.3}", r.mean_jitter_ms),
            format!("{:.3}", t.mean_jitter_ms),
        );
        check(
            "max jitter (ms)",
            agrees(r.max_jitter_ms, t.max_jitter_ms),
            format!("{:.3}", r.max_jitter_ms),
            format!("{:.3}", t.max_jitter_ms),
        );
    }
    problems
}

fn rtp_bearing_captures(shared: &Path) -> Vec<(String, Vec<RtpStreamRow>)> {
    let mut out = Vec::new();
    let gt = shared.join("groundtruth");
    let mut categories: Vec<_> = std::fs::read_dir(&gt).unwrap().flatten().collect();
    categories.sort_by_key(|e| e.file_name());
    for cat in categories {
        let mut files: Vec<_> = std::fs::read_dir(cat.path()).unwrap().flatten().collect();
        files.sort_by_key(|e| e.file_name());
        for f in files {
            let text = std::fs::read_to_string(f.path()).unwrap();
            let streams = tshark_streams(&text);
            if streams.is_empty() {
                continue;
            }
            let name = f
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".txt")
                .to_owned();
            out.push((
                format!("{}/{}", cat.file_name().to_string_lossy(), name),
                streams,
            ));
        }
    }
    out
}

#[test]
fn parses_tshark_rows_with_spaces_in_payload() {
    let row = "    76.878653     96.829533 192.168.105.172  4376 192.168.105.110  4376 0x5711BF84 g711A, telephone-event   666     0 (0.0%)          29.930          30.001          30.068           0.002           1.522          15.767 ";
    let t = parse_rtp_streams_row(row).unwrap();
    assert_eq!(t.payload, "g711A, telephone-event");
    assert_eq!((t.packets, t.lost, t.ssrc), (666, 0, 0x5711_BF84));
    assert_eq!(t.max_jitter_ms, 15.767);
    let neg = "     5.002070      8.091897     10.4.128.21 31226   192.168.101.2 50056 0x4B1F94F8           AMR-WB    54   -27 (-100.0%)           0.028          58.299         176.250           0.004           1.800           4.072 X";
    let t = parse_rtp_streams_row(neg).unwrap();
    assert_eq!((t.packets, t.lost), (54, -27));
    assert_eq!(t.mean_jitter_ms, 1.8);
}

#[test]
fn streams_agree_with_tshark_on_every_shared_capture() {
    let Some(shared) = shared_captures("agreement with tshark") else {
        return;
    };
    let captures = rtp_bearing_captures(&shared);
    assert!(
        captures.len() >= 15,
        "expected the RTP-bearing captures, found {}",
        captures.len()
    );
    let mut problems = Vec::new();
    let mut compared = 0;
    for (file, theirs) in &captures {
        let analysis = analyze_file(&shared.join(file), &AnalyzeConfig::default(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        compared += theirs.len();
        problems.extend(compare(file, &analysis, theirs));
    }
    eprintln!(
        "compared {compared} tshark streams over {} captures",
        captures.len()
    );
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
