//! Every shared capture through the whole analyser: the SIP messages found
//! equal tshark's count (ground truth "SIP summary"), over UDP, TCP (with
//! segmentation and retransmissions), WebSocket, SCTP, IPv6 fragments, ERSPAN, PPPoE,
//! IP-in-IP and GTP-U; and no frame of a real capture is called malformed.

use crate::support::shared_captures;
use voxprobe::analyze::{analyze_file, AnalyzeConfig};

/// Captures where we find fewer SIP messages than tshark, and why. Empty
/// since SIP over WebSocket (`sip-tcp/sip-websocket-and-udp.pcap`: 11 of its
/// 39 messages) is decoded.
const KNOWN_DIFFERENCES: &[(&str, u64, &str)] = &[];

fn tshark_sip_messages(groundtruth: &str) -> u64 {
    groundtruth
        .lines()
        .find_map(|l| l.strip_prefix("SIP messages: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn sip_messages_match_tshark_and_nothing_is_malformed() {
    let Some(shared) = shared_captures("SIP message counts") else {
        return;
    };
    let mut checked = 0;
    let mut problems = Vec::new();
    for category in [
        "diameter", "gtp", "odd", "rtcp", "sip-rtp", "sip-tcp", "volte",
    ] {
        let dir = shared.join("groundtruth").join(category);
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        files.sort_by_key(|e| e.file_name());
        for f in files {
            let name = format!(
                "{category}/{}",
                f.file_name().to_string_lossy().trim_end_matches(".txt")
            );
            if name.ends_with(".cap") && name.contains("netmon") {
                continue; // not a capture file: rejected, tested in cli.rs
            }
            let truth = std::fs::read_to_string(f.path()).unwrap();
            let mut config = AnalyzeConfig::default();
            if name.contains("6060") {
                // tshark needed `-d tcp.port==6060,sip` for this one too.
                config.decoder.sip_tcp_ports.push(6060);
            }
            let a = analyze_file(&shared.join(&name), &config, &mut |_| {})
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let theirs = tshark_sip_messages(&truth);
            let ours = a.summary.protocols.sip;
            let expected = match KNOWN_DIFFERENCES.iter().find(|(n, _, _)| *n == name) {
                Some((_, ours_instead, why)) => {
                    eprintln!(
                        "{name}: {ours_instead} SIP messages where tshark has {theirs}: {why}"
                    );
                    *ours_instead
                }
                None => theirs,
            };
            if ours != expected {
                problems.push(format!(
                    "{name}: {ours} SIP messages, expected {expected} (tshark {theirs})"
                ));
            }
            let p = &a.summary.packets;
            if p.malformed_total() != 0 {
                problems.push(format!("{name}: {} frames malformed", p.malformed_total()));
            }
            assert_eq!(
                p.total,
                p.decoded + p.not_for_us + p.malformed_total() + p.truncated_total(),
                "{name}: frame classes do not add up"
            );
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} captures checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
