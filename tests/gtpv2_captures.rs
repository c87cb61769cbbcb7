//! GTPv2-C on real captures: every message sent to or from UDP port 2123 is
//! decoded by `proto::gtpv2`; counts by message type agree with tshark's
//! ground truth (the "GTPv2-C message types" section of
//! `groundtruth/<capture>.txt`), every response pairs with its request with
//! tshark's response time, and specific values come out as tshark shows them.

use crate::support::{shared_captures, tshark};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::path::Path;
use voxprobe::capture::CaptureFile;
use voxprobe::packet::{Decoder, DecoderConfig, Endpoint, Transport, Verdict};
use voxprobe::proto::gtpv2::{Gtpv2Tracker, Kind, MessageSummary, Transaction};
use voxprobe::time::PacketTime;

const GTPV2_PORT: u16 = 2123;

/// Captures with GTPv2-C (all of them have a ground-truth section).
const CAPTURES: &[&str] = &[
    "gtp/gtpv2-attach-detach-20-sessions-sll.pcapng",
    "gtp/gtpv2-csr-dsr-minimal.pcap",
    "gtp/gtpv2-nsa-csr-mbr-diameter-tcp-sll.pcap",
    "gtp/gtpv2-s8-roaming-csr-dsr.pcapng",
    "volte/ims-register-rx-aar-gx-ccr-cx.pcapng",
    "volte/volte-call-gx-rar-cbr-amrwb.pcapng",
    "volte/volte-call-ipsec-both-ends.pcapng",
    "volte/volte-call-ipsec-to-nonipsec-cancel.pcapng",
];

/// One decoded message with where it came from.
struct Seen {
    frame: u64,
    src: Endpoint,
    dst: Endpoint,
    summary: MessageSummary,
    transaction: Option<Transaction>,
}

struct Run {
    messages: Vec<Seen>,
    tracker: Gtpv2Tracker,
}

fn run(path: &Path) -> Run {
    let file = CaptureFile::open(path).unwrap_or_else(|e| panic!("{e}"));
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut datagrams: Vec<(u64, PacketTime, Endpoint, Endpoint, Vec<u8>)> = Vec::new();
    for frame in file.frames() {
        decoder.decode(&frame, &mut |dg| {
            if dg.transport == Transport::Udp
                && (dg.src.port == GTPV2_PORT || dg.dst.port == GTPV2_PORT)
            {
                datagrams.push((dg.frame, dg.time, dg.src, dg.dst, dg.payload.to_vec()));
                Verdict::Ours
            } else {
                Verdict::NotForUs
            }
        });
        decoder.handle_timeout(frame.time);
    }
    let mut tracker = Gtpv2Tracker::default();
    let mut messages = Vec::new();
    for (frame, time, src, dst, payload) in datagrams {
        tracker.handle_datagram(time, src, dst, &payload, &mut |summary, transaction| {
            messages.push(Seen {
                frame,
                src,
                dst,
                summary,
                transaction,
            })
        });
        tracker.handle_timeout(time);
    }
    Run { messages, tracker }
}

/// The `type : count` lines after "## GTPv2-C message types".
fn expected_counts(groundtruth: &str) -> BTreeMap<u8, u64> {
    groundtruth
        .lines()
        .skip_while(|l| !l.starts_with("## GTPv2-C message types"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("##"))
        .filter_map(|l| {
            let (t, n) = l.split_once(':')?;
            Some((t.trim().parse().ok()?, n.trim().parse().ok()?))
        })
        .collect()
}

#[test]
fn message_types_match_tshark_and_every_response_pairs() {
    let Some(dir) = shared_captures("gtpv2 message types") else {
        return;
    };
    for name in CAPTURES {
        let truth_path = dir.join("groundtruth").join(format!("{name}.txt"));
        let truth = std::fs::read_to_string(&truth_path)
            .unwrap_or_else(|e| panic!("{}: {e}", truth_path.display()));
        let expected = expected_counts(&truth);
        assert!(!expected.is_empty(), "{name}: no GTPv2-C section");
        let r = run(&dir.join(name));
        let mut counts = BTreeMap::new();
        for m in &r.messages {
            *counts.entry(m.summary.message_type).or_insert(0u64) += 1;
        }
        assert_eq!(counts, expected, "{name}: GTPv2-C messages by type");
        let c = r.tracker.counters();
        assert!(c.malformed.is_empty(), "{name}: {:?}", c.malformed);
        assert!(c.ie_anomalies.is_empty(), "{name}: {:?}", c.ie_anomalies);
        for m in &r.messages {
            assert!(
                m.summary.anomalies.is_empty(),
                "{name} frame {}: {:?}",
                m.frame,
                m.summary.anomalies
            );
        }
        let requests: u64 = r
            .messages
            .iter()
            .filter(|m| m.summary.kind == Kind::Request)
            .count() as u64;
        let responses = r
            .messages
            .iter()
            .filter(|m| m.summary.kind == Kind::Response)
            .count() as u64;
        assert_eq!(requests, responses, "{name}");
        assert_eq!(c.answered, responses, "{name}: every response pairs");
        assert_eq!(c.unmatched_responses, 0, "{name}");
        assert_eq!(c.retransmitted_requests, 0, "{name}");
        assert_eq!(r.tracker.pending(), 0, "{name}");
        for m in &r.messages {
            if let Some(t) = &m.transaction {
                assert_eq!(
                    t.response_type,
                    t.request_type + 1,
                    "{name} frame {}",
                    m.frame
                );
                assert!(t.latency_ms >= 0.0, "{name} frame {}", m.frame);
            }
        }
    }
}

#[test]
fn attach_detach_sessions_give_imsi_ue_address_and_fteids() {
    // tshark: 20 Create Session Requests (10 attaches, each on S11 and S5),
    // all for IMSI 901707364000060; the responses give UE IPv4 10.45.0.2 to
    // 10.45.0.11, each on both legs. S11 requests carry the MME's S11 F-TEID
    // (interface 10) and the PGW's S5/S8-C (7); S5 requests the SGW's
    // S5/S8-C (6). Frame 54 → 65 takes 9.151103 ms, 57 → 62 6.420455 ms.
    let Some(dir) = shared_captures("gtpv2 attach/detach sessions") else {
        return;
    };
    let r = run(&dir.join("gtp/gtpv2-attach-detach-20-sessions-sll.pcapng"));
    let csr: Vec<&Seen> = r
        .messages
        .iter()
        .filter(|m| m.summary.message_type == 32)
        .collect();
    assert_eq!(csr.len(), 20);
    let imsis: BTreeSet<_> = csr
        .iter()
        .filter_map(|m| m.summary.imsi.as_deref())
        .collect();
    assert_eq!(imsis, BTreeSet::from(["901707364000060"]));
    for m in &csr {
        let types: Vec<u8> = m.summary.fteids.iter().map(|f| f.interface_type).collect();
        assert!(
            types == [10, 7] || types == [6],
            "frame {}: sender F-TEIDs {types:?}",
            m.frame
        );
        assert!(m.summary.apn.is_some(), "frame {}", m.frame);
        assert_eq!(m.summary.bearers.len(), 1, "frame {}", m.frame);
    }
    let by_seq: HashMap<(u32, Endpoint), &Seen> = csr
        .iter()
        .map(|m| ((m.summary.sequence, m.src), *m))
        .collect();
    let mut ue = BTreeMap::new();
    for m in r.messages.iter().filter(|m| m.summary.message_type == 33) {
        let t = m.transaction.as_ref().expect("every CS response pairs");
        assert_eq!(m.summary.accepted(), Some(true), "frame {}", m.frame);
        let req = by_seq[&(m.summary.sequence, m.dst)];
        assert_eq!(req.summary.imsi.as_deref(), Some("901707364000060"));
        let ip = m.summary.ue_ipv4.expect("PAA with IPv4");
        *ue.entry(ip).or_insert(0) += 1;
        assert!(!m.summary.fteids.is_empty(), "frame {}", m.frame);
        let b = &m.summary.bearers[0];
        assert_eq!(b.ebi, Some(5));
        assert!(b.fteids.iter().any(|f| f.ipv4.is_some() && f.teid != 0));
        let expected_ms = match (req.frame, m.frame) {
            (54, 65) => Some(9.151103),
            (57, 62) => Some(6.420455),
            _ => None,
        };
        if let Some(ms) = expected_ms {
            assert!(
                (t.latency_ms - ms).abs() < 0.001,
                "{} vs {ms}",
                t.latency_ms
            );
        }
    }
    let expected: BTreeMap<Ipv4Addr, i32> =
        (2..=11).map(|n| (Ipv4Addr::new(10, 45, 0, n), 2)).collect();
    assert_eq!(ue, expected);
}

#[test]
fn volte_create_bearer_requests_carry_a_qci1_gbr_bearer() {
    // tshark: frames 103, 104, 120, 121 are Create Bearer Requests with one
    // bearer each, QCI 1, ARP priority 2, MBR and GBR 41 kbps both ways; the
    // responses (199–202) accept them, 225–230 ms later.
    let Some(dir) = shared_captures("gtpv2 volte create bearer") else {
        return;
    };
    let r = run(&dir.join("volte/volte-call-gx-rar-cbr-amrwb.pcapng"));
    let cbr: Vec<&Seen> = r
        .messages
        .iter()
        .filter(|m| m.summary.message_type == 95)
        .collect();
    assert_eq!(
        cbr.iter().map(|m| m.frame).collect::<Vec<_>>(),
        [103, 104, 120, 121]
    );
    for m in &cbr {
        assert_eq!(m.summary.bearers.len(), 1, "frame {}", m.frame);
        let q = m.summary.bearers[0].qos.expect("bearer QoS");
        assert_eq!(q.qci, 1, "frame {}", m.frame);
        assert_eq!(q.priority_level, 2);
        assert!(q.is_gbr());
        assert_eq!((q.gbr_uplink_kbps, q.gbr_downlink_kbps), (41, 41));
        assert_eq!((q.mbr_uplink_kbps, q.mbr_downlink_kbps), (41, 41));
    }
    for m in r.messages.iter().filter(|m| m.summary.message_type == 96) {
        let t = m.transaction.as_ref().expect("paired");
        assert!(
            (225.0..231.0).contains(&t.latency_ms),
            "frame {}: {}",
            m.frame,
            t.latency_ms
        );
        assert_eq!(t.cause.map(|c| c.value), Some(16));
        assert_eq!(m.summary.bearers[0].ebi, Some(7));
        assert_eq!(m.summary.bearers[0].cause.map(|c| c.value), Some(16));
    }
}

#[test]
fn minimal_create_delete_session_decodes_fully() {
    // tshark, gtpv2-csr-dsr-minimal.pcap: CSR (frame 1) for IMSI
    // 987654112233445, APN internet, EUTRAN, serving network 987-654; CSResp
    // (frame 2) gives UE 33.23.23.1 and bearer EBI 5 with charging ID;
    // DSR/DSResp (frames 3–4) accepted.
    let Some(dir) = shared_captures("gtpv2 minimal") else {
        return;
    };
    let r = run(&dir.join("gtp/gtpv2-csr-dsr-minimal.pcap"));
    let names: Vec<&str> = r.messages.iter().map(|m| m.summary.name).collect();
    assert_eq!(
        names,
        [
            "create_session_request",
            "create_session_response",
            "delete_session_request",
            "delete_session_response"
        ]
    );
    let csr = &r.messages[0].summary;
    assert_eq!(csr.imsi.as_deref(), Some("987654112233445"));
    assert_eq!(csr.apn.as_deref(), Some("internet"));
    assert_eq!(csr.rat_type.map(|r| r.name()), Some("EUTRAN"));
    assert_eq!(
        csr.serving_network.map(|p| p.to_string()).as_deref(),
        Some("987-654")
    );
    assert!(csr.uli.is_some_and(|u| u.tai.is_some() && u.ecgi.is_some()));
    let resp = &r.messages[1].summary;
    assert_eq!(resp.accepted(), Some(true));
    assert_eq!(resp.ue_ipv4, Some(Ipv4Addr::new(33, 23, 23, 1)));
    assert_eq!(resp.bearers.len(), 1);
    assert_eq!(resp.bearers[0].ebi, Some(5));
    assert!(resp.bearers[0].charging_id.is_some());
    assert!(r.messages[1].transaction.is_some());
    assert!(r.messages[3].transaction.is_some());
    for m in &r.messages {
        assert!(m.summary.anomalies.is_empty());
    }
}

#[test]
fn response_latencies_agree_with_tshark() {
    // tshark's gtpv2.response_time on each response frame, against the
    // latency of the transaction that response completed.
    let Some(dir) = shared_captures("gtpv2 response latencies") else {
        return;
    };
    for name in CAPTURES {
        let path = dir.join(name);
        let Some(out) = tshark::run(
            &[
                "-Y",
                "gtpv2.response_time",
                "-T",
                "fields",
                "-e",
                "frame.number",
                "-e",
                "gtpv2.response_time",
            ],
            &path,
            "gtpv2 response latencies",
        ) else {
            return;
        };
        let theirs: BTreeMap<u64, f64> = out
            .lines()
            .filter_map(|l| {
                let (frame, secs) = l.split_once('\t')?;
                Some((
                    frame.trim().parse().ok()?,
                    secs.trim().parse::<f64>().ok()? * 1e3,
                ))
            })
            .collect();
        let mut ours: BTreeMap<u64, f64> = BTreeMap::new();
        for m in run(&path).messages {
            let Some(t) = m.transaction else { continue };
            // tshark 4.0 does not pair Release Access Bearers (170/171):
            // those are checked in message_types_match_tshark_and_every_response_pairs.
            if t.response_type == 171 && !theirs.contains_key(&m.frame) {
                continue;
            }
            ours.insert(m.frame, t.latency_ms);
        }
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{name}: response frames"
        );
        for (frame, ms) in &ours {
            let t = theirs[frame];
            assert!(
                tshark::agrees(*ms, t),
                "{name} frame {frame}: {ms} ms vs tshark {t} ms"
            );
        }
    }
}

#[test]
fn the_analyser_counts_and_pairs_gtpv2_like_tshark() {
    let Some(dir) = shared_captures("gtpv2 through the analyser") else {
        return;
    };
    for name in CAPTURES {
        let truth =
            std::fs::read_to_string(dir.join("groundtruth").join(format!("{name}.txt"))).unwrap();
        let want: u64 = expected_counts(&truth).values().sum();
        let a = voxprobe::analyze::analyze_file(&dir.join(name), &Default::default(), &mut |_| {})
            .unwrap();
        let g = &a.summary.gtpv2;
        assert_eq!(a.summary.protocols.gtpv2, want, "{name}");
        assert_eq!(g.messages.values().sum::<u64>(), want, "{name}");
        assert_eq!(
            (g.unmatched_responses, g.timed_out_requests),
            (0, 0),
            "{name}"
        );
        assert!(g.malformed.is_empty(), "{name}: {:?}", g.malformed);
        assert_eq!(a.summary.packets.malformed_total(), 0, "{name}");
    }
}
