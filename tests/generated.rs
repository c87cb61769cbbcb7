//! The generated captures under `captures/`: reproducible from their seeds,
//! analysed to exactly the counts the generator decided, and confirmed by
//! tshark.
//!
//! Jitter tolerance: the expected JSON holds RFC 3550 jitter computed from
//! the generator's own send timestamps and arrival times (its
//! `jitter_definition` says exactly how); the analyser follows Wireshark,
//! which differs only in how marker packets enter the running mean, so
//! jitter must agree within 1 % + 0.01 ms. Streams with telephone-event
//! packets are skipped for jitter (`wireshark_jitter_comparable` is false:
//! Wireshark takes an event packet's arrival as the next audio packet's
//! reference).

use crate::support::project_dir;
use crate::support::tshark::{self, agrees};
use std::collections::BTreeMap;
use std::path::PathBuf;
use voxprobe::analyze::{analyze_file, AnalyzeConfig};
use voxprobe::synth::{generate, ExpectedCapture, ExpectedStream, Scenario};

/// The committed captures: (file stem, scenario, seed), as `captures/README.md`
/// documents them.
const COMMITTED: [(&str, &str, u64); 2] = [
    ("impairments", "impairments", 1),
    ("sip-call", "sip-call", 2),
];

/// Largest committed capture (keeps the repository small).
const MAX_CAPTURE_BYTES: usize = 300_000;

fn capture_path(stem: &str) -> PathBuf {
    project_dir().join("captures").join(format!("{stem}.pcap"))
}

fn expected_path(stem: &str) -> PathBuf {
    project_dir()
        .join("captures")
        .join(format!("{stem}.expected.json"))
}

fn load_expected(stem: &str) -> ExpectedCapture {
    let path = expected_path(stem);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Regenerates a committed capture from its scenario and seed and checks it,
/// and its expected JSON, byte for byte; both stay under `max_bytes`.
pub(crate) fn assert_regenerates(stem: &str, scenario: Scenario, seed: u64, max_bytes: usize) {
    let mut pcap = Vec::new();
    let truth = generate(scenario, seed, &mut pcap).expect("writing to memory");
    let committed = std::fs::read(capture_path(stem)).expect("committed capture");
    assert!(
        committed.len() < max_bytes,
        "{stem}.pcap is {} bytes",
        committed.len()
    );
    assert!(
        pcap == committed,
        "{stem}.pcap differs from what seed {seed} generates now ({} vs {} bytes); \
         if the generator changed on purpose, regenerate as captures/README.md says",
        pcap.len(),
        committed.len()
    );
    let mut json = serde_json::to_string_pretty(&truth).expect("serialise");
    json.push('\n');
    let committed_json = std::fs::read_to_string(expected_path(stem)).expect("committed JSON");
    assert!(
        json == committed_json,
        "{stem}.expected.json differs from what seed {seed} gives now"
    );
    assert!(committed_json.len() < max_bytes);
    assert_eq!(
        (truth.scenario.as_str(), truth.seed),
        (scenario.name(), seed)
    );
}

#[test]
fn committed_captures_regenerate_byte_for_byte() {
    for (stem, scenario, seed) in COMMITTED {
        let scenario = Scenario::from_name(scenario, None).expect("known scenario");
        assert_regenerates(stem, scenario, seed, MAX_CAPTURE_BYTES);
    }
}

#[test]
fn committed_frames_are_in_arrival_order_with_valid_ipv4_checksums() {
    use voxprobe::synth::pcap_writer::ipv4_checksum;
    for (stem, _, _) in COMMITTED {
        let pcap = std::fs::read(capture_path(stem)).expect("committed capture");
        assert_eq!(
            &pcap[..4],
            &[0xd4, 0xc3, 0xb2, 0xa1],
            "{stem}: pcap µs little-endian"
        );
        let (mut at, mut last, mut frames) = (24, 0u64, 0u64);
        while at < pcap.len() {
            let le = |o: usize| u32::from_le_bytes(pcap[o..o + 4].try_into().unwrap());
            let time = u64::from(le(at)) * 1_000_000 + u64::from(le(at + 4));
            let len = le(at + 8) as usize;
            assert!(
                time >= last,
                "{stem}: frame {} goes back in time",
                frames + 1
            );
            let ip = &pcap[at + 16 + 14..at + 16 + 34];
            assert_eq!(
                ipv4_checksum(ip),
                0,
                "{stem}: frame {} IPv4 checksum",
                frames + 1
            );
            (last, at, frames) = (time, at + 16 + len, frames + 1);
        }
        assert_eq!(at, pcap.len(), "{stem}: last record complete");
        assert_eq!(frames, load_expected(stem).frames, "{stem}: frame count");
    }
}

#[test]
fn generation_is_deterministic_and_seed_dependent() {
    let run = |seed| {
        let mut v = Vec::new();
        generate(Scenario::Throughput { packets: 20_000 }, seed, &mut v).unwrap();
        v
    };
    let a = run(7);
    assert_eq!(a, run(7));
    assert_ne!(a, run(8));
}

#[test]
fn throughput_scenario_has_about_the_packets_asked_for() {
    let mut v = Vec::new();
    let truth = generate(Scenario::Throughput { packets: 50_000 }, 3, &mut v).unwrap();
    assert_eq!(truth.streams.len(), 20);
    let sent: u64 = truth.streams.iter().map(|s| s.sent).sum();
    assert_eq!(sent, 50_000);
    assert_eq!(
        truth.rtp_packets,
        truth.streams.iter().map(|s| s.packets).sum::<u64>()
    );
    // 0.2 % loss: a little under what was sent, never more.
    assert!(truth.rtp_packets <= sent && truth.rtp_packets > sent * 99 / 100);
}

#[test]
fn impairments_exercise_what_they_claim() {
    let e = load_expected("impairments");
    let by_name: BTreeMap<&str, &ExpectedStream> =
        e.streams.iter().map(|s| (s.name.as_str(), s)).collect();
    assert_eq!(by_name["clean"].lost, 0);
    assert_eq!(by_name["clean"].markers, 3);
    assert!(by_name["loss-5pct"].lost > 0);
    assert!(by_name["burst-loss"].max_loss_run >= 3);
    assert!(by_name["jitter-30ms"].out_of_order > 0);
    assert!(by_name["swap"].out_of_order > 0);
    assert!(by_name["duplicates"].duplicates > 0 && by_name["duplicates"].lost < 0);
    assert_eq!(by_name["seq-wrap"].seq_wraps, 1);
    assert_eq!(by_name["ssrc-change-2"].ssrc_changes, 1);
    assert_eq!(by_name["ssrc-change"].src, by_name["ssrc-change-2"].src);
    for s in &e.streams {
        // No loss at either end, so every packet sent is expected.
        assert_eq!(s.expected, s.sent, "{}: expected = sent", s.name);
        assert_eq!(
            s.packets as i64,
            s.sent as i64 - s.lost,
            "{}: packets = sent - lost",
            s.name
        );
    }
}

#[test]
fn analyser_reports_exactly_the_generated_truth() {
    for (stem, _, _) in COMMITTED {
        let expected = load_expected(stem);
        let analysis = analyze_file(&capture_path(stem), &AnalyzeConfig::default(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert_eq!(
            analysis.all_streams().count(),
            expected.streams.len(),
            "{stem}: streams found {:?}",
            analysis
                .all_streams()
                .map(|s| (s.key.src.to_string(), s.key.ssrc))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            analysis.summary.protocols.rtp, expected.rtp_packets,
            "{stem}: RTP packets"
        );
        assert_eq!(
            analysis.summary.protocols.sip, expected.sip_messages,
            "{stem}: SIP messages"
        );
        assert_eq!(
            analysis.summary.protocols.rtcp, expected.rtcp_packets,
            "{stem}: RTCP packets"
        );
        for want in &expected.streams {
            let got = analysis
                .all_streams()
                .find(|s| {
                    s.key.src.to_string() == want.src
                        && s.key.dst.to_string() == want.dst
                        && s.key.ssrc == want.ssrc
                })
                .unwrap_or_else(|| {
                    panic!(
                        "{stem}/{}: no stream {} -> {} ssrc {:#x}",
                        want.name, want.src, want.dst, want.ssrc
                    )
                });
            let r = &got.report;
            let ctx = format!("{stem}/{}", want.name);
            assert_eq!(r.payload_type, want.payload_type, "{ctx}: payload_type");
            assert_eq!(r.packets, want.packets, "{ctx}: packets");
            assert_eq!(r.expected, want.expected, "{ctx}: expected");
            assert_eq!(r.lost, want.lost, "{ctx}: lost");
            assert_eq!(r.duplicates, want.duplicates, "{ctx}: duplicates");
            assert_eq!(r.out_of_order, want.out_of_order, "{ctx}: out_of_order");
            assert_eq!(r.seq_errors, want.seq_errors, "{ctx}: seq_errors");
            assert_eq!(r.seq_wraps, want.seq_wraps, "{ctx}: seq_wraps");
            assert_eq!(r.ssrc_changes, want.ssrc_changes, "{ctx}: ssrc_changes");
            assert_eq!(r.loss_runs, want.loss_runs, "{ctx}: loss_runs");
            assert_eq!(r.max_loss_run, want.max_loss_run, "{ctx}: max_loss_run");
            assert_eq!(r.markers, want.markers, "{ctx}: markers");
            assert_eq!(
                r.telephone_events, want.telephone_events,
                "{ctx}: telephone_events"
            );
            assert_eq!(
                r.first_time.as_nanos(),
                want.first_time_us * 1000,
                "{ctx}: first_time"
            );
            assert_eq!(
                r.last_time.as_nanos(),
                want.last_time_us * 1000,
                "{ctx}: last_time"
            );
            // Both sides work from the same µs timestamps.
            assert!(
                (r.max_delta_ms - want.max_delta_ms).abs() < 1e-6,
                "{ctx}: max_delta {} vs {}",
                r.max_delta_ms,
                want.max_delta_ms
            );
            if want.wireshark_jitter_comparable {
                assert!(
                    agrees(r.mean_jitter_ms, want.mean_jitter_ms),
                    "{ctx}: mean jitter {} vs {}",
                    r.mean_jitter_ms,
                    want.mean_jitter_ms
                );
                assert!(
                    agrees(r.max_jitter_ms, want.max_jitter_ms),
                    "{ctx}: max jitter {} vs {}",
                    r.max_jitter_ms,
                    want.max_jitter_ms
                );
            }
        }
    }
}

#[test]
fn tshark_agrees_with_the_generated_truth() {
    for (stem, _, _) in COMMITTED {
        let expected = load_expected(stem);
        let Some(out) = tshark::run(
            tshark::RTP_STREAMS,
            &capture_path(stem),
            "tshark_agrees_with_the_generated_truth",
        ) else {
            return;
        };
        let rows = tshark::parse_rtp_streams(&out);
        assert_eq!(
            rows.len(),
            expected.streams.len(),
            "{stem}: tshark rows {rows:?}"
        );
        for want in &expected.streams {
            let ctx = format!("{stem}/{}", want.name);
            tshark::assert_row_matches(&rows, want, &ctx, want.wireshark_jitter_comparable);
        }
    }
}
