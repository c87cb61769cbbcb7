//! DIAMETER on real captures: every DIAMETER message the real pipeline hands
//! over (TCP PDUs on port 3868 framed by the reassembler, SCTP user messages
//! with PPID 46/47 or port 3868, as `analyze::classify` routes them) is
//! summarised; counts by (application, command, request/answer) agree with
//! tshark's ground truth (the "## DIAMETER messages" section of
//! `groundtruth/<capture>.txt`), every answer finds its request, and named
//! frames give the values tshark shows for them.

use crate::support::shared_captures;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use voxprobe::capture::CaptureFile;
use voxprobe::packet::{Datagram, Decoder, DecoderConfig, Transport, Verdict};
use voxprobe::proto::diameter::summary::{Message, SubscriptionIdType};
use voxprobe::proto::diameter::transactions::{Matched, TransactionCounters, Transactions};
use voxprobe::proto::diameter::DiameterCounters;

/// Captures with a "## DIAMETER messages" ground-truth section.
const CAPTURES: &[&str] = &[
    "diameter/diameter-gx-gy-s6a-sctp-1ue.pcapng",
    "diameter/diameter-gx-gy-s6a-sctp-32ue.pcapng",
    "diameter/diameter-gy-ccr-tcp.pcap",
    "gtp/gtpv2-nsa-csr-mbr-diameter-tcp-sll.pcap",
    "volte/ims-register-rx-aar-gx-ccr-cx.pcapng",
    "volte/volte-call-gx-rar-cbr-amrwb.pcapng",
    "volte/volte-call-ipsec-both-ends.pcapng",
    "volte/volte-call-ipsec-to-nonipsec-cancel.pcapng",
    "odd/truncated-file-mid-block-diameter.pcapng",
];

const DIAMETER_PORT: u16 = 3868;

/// One message as the pipeline delivered it.
struct Seen {
    frame: u64,
    message: Message,
    matched: Option<Matched>,
}

struct Run {
    seen: Vec<Seen>,
    counters: DiameterCounters,
}

/// Whether `analyze::classify` routes this datagram to DIAMETER (default
/// configuration: port 3868, PPID 46/47).
fn is_diameter(dg: &Datagram<'_>) -> bool {
    let port = dg.src.port == DIAMETER_PORT || dg.dst.port == DIAMETER_PORT;
    match dg.transport {
        Transport::Tcp => port,
        Transport::Sctp => port || matches!(dg.sctp_ppid, 46 | 47),
        Transport::Udp => false,
    }
}

fn run(path: &Path) -> Run {
    let file = CaptureFile::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut tx = Transactions::default();
    let mut seen = Vec::new();
    let mut counters = DiameterCounters::default();
    for frame in file.frames() {
        decoder.decode(&frame, &mut |dg| {
            if !is_diameter(dg) {
                return Verdict::NotForUs;
            }
            match Message::parse(dg.payload) {
                Ok(message) => {
                    counters.count_message(&message);
                    let matched =
                        tx.handle_message(dg.time, dg.frame, &message.header, dg.src, dg.dst);
                    seen.push(Seen {
                        frame: dg.frame,
                        message,
                        matched,
                    });
                }
                Err(e) => counters.count_malformed(e),
            }
            Verdict::Ours
        });
        decoder.handle_timeout(frame.time);
        tx.handle_timeout(frame.time);
    }
    counters.transactions = tx.finish();
    Run { seen, counters }
}

/// Parses `app=16777238 cmd=272 REQ over sctp : 2` lines of the DIAMETER
/// section into counts by (app, cmd, request), summed over transports.
fn expected_counts(groundtruth: &str) -> Option<BTreeMap<(u32, u32, bool), u64>> {
    let mut lines = groundtruth.lines();
    lines.find(|l| l.starts_with("## DIAMETER messages"))?;
    let mut out = BTreeMap::new();
    for line in lines.take_while(|l| !l.starts_with("## ")) {
        let Some((left, n)) = line.split_once(" : ") else {
            continue;
        };
        let mut words = left.split_whitespace();
        let app = words.next()?.strip_prefix("app=")?.parse().ok()?;
        let cmd = words.next()?.strip_prefix("cmd=")?.parse().ok()?;
        let request = match words.next()? {
            "REQ" => true,
            "ANS" => false,
            _ => return None,
        };
        let n: u64 = n.trim().parse().ok()?;
        *out.entry((app, cmd, request)).or_default() += n;
    }
    Some(out)
}

#[test]
fn diameter_message_counts_match_tshark() {
    let Some(dir) = shared_captures("diameter_message_counts_match_tshark") else {
        return;
    };
    for name in CAPTURES {
        let truth_path = dir.join("groundtruth").join(format!("{name}.txt"));
        let truth = std::fs::read_to_string(&truth_path)
            .unwrap_or_else(|e| panic!("{}: {e}", truth_path.display()));
        let expected = expected_counts(&truth)
            .unwrap_or_else(|| panic!("{}: no DIAMETER section", truth_path.display()));
        let r = run(&dir.join(name));
        let c = &r.counters;
        let ours: BTreeMap<(u32, u32, bool), u64> = c
            .by_kind
            .iter()
            .map(|(k, &n)| ((k.application_id, k.command_code, k.request), n))
            .collect();
        assert_eq!(ours, expected, "{name}: messages by (app, cmd, request)");
        assert_eq!(c.malformed, 0, "{name}: {:?}", c.malformed_by_reason);
        assert_eq!(
            c.messages_with_avp_errors, 0,
            "{name}: {:?}",
            c.avp_errors_by_reason
        );
        assert_eq!(c.depth_limit_hits, 0, "{name}");
        let requests: u64 = expected.iter().filter(|(k, _)| k.2).map(|(_, n)| n).sum();
        let answers: u64 = expected.iter().filter(|(k, _)| !k.2).map(|(_, n)| n).sum();
        assert_eq!(
            c.transactions,
            TransactionCounters {
                requests,
                answered: answers,
                ..TransactionCounters::default()
            },
            "{name}: every request answered, every answer matched"
        );
        for s in &r.seen {
            assert!(
                s.message.application.is_some() && s.message.command.is_some(),
                "{name} frame {}: unnamed {:?}",
                s.frame,
                s.message.header
            );
        }
    }
}

fn message(run: &Run, frame: u64) -> &Seen {
    run.seen
        .iter()
        .find(|s| s.frame == frame)
        .unwrap_or_else(|| panic!("no DIAMETER message in frame {frame}"))
}

#[test]
fn rx_aar_and_aaa_values() {
    let name = "volte/ims-register-rx-aar-gx-ccr-cx.pcapng";
    let Some(dir) = shared_captures("rx_aar_and_aaa_values") else {
        return;
    };
    let r = run(&dir.join(name));
    // Frame 173: Rx AAR from the P-CSCF for the signalling path (tshark:
    // Media-Type 4 CONTROL, Specific-Actions 1,2,3,4,5,6,12, two pairs of
    // SIP flows, no AF-Charging-Identifier).
    let aar = &message(&r, 173).message;
    assert_eq!(aar.command, Some("AAR"));
    assert_eq!(aar.application, Some("Rx"));
    assert_eq!(
        aar.session_id.as_deref(),
        Some("pcscf.ims.mnc001.mcc001.3gppnetwork.org;3347407368;1")
    );
    assert_eq!(aar.framed_ip, Some(Ipv4Addr::new(192, 168, 101, 2)));
    assert_eq!(aar.specific_actions, vec![1, 2, 3, 4, 5, 6, 12]);
    assert_eq!(aar.af_charging_identifier, None);
    assert_eq!(aar.subscription_ids.len(), 1);
    assert_eq!(
        aar.subscription_ids[0].data.as_deref(),
        Some("sip:001011234567895@ims.mnc001.mcc001.3gppnetwork.org")
    );
    assert_eq!(aar.media_components.len(), 1);
    let mc = &aar.media_components[0];
    assert_eq!((mc.number, mc.media_type), (Some(1), Some(4)));
    assert_eq!(
        mc.flow_descriptions,
        vec![
            "permit out ip from 192.168.101.2 5060 to 10.4.128.21 5060",
            "permit in ip from 10.4.128.21 5060 to 192.168.101.2 5060",
            "permit out ip from 192.168.101.2 5061 to 10.4.128.21 5061",
            "permit in ip from 10.4.128.21 5061 to 192.168.101.2 5061",
        ]
    );
    assert_eq!(aar.header.hop_by_hop, 0x24b9_3cc8);
    assert_eq!(aar.header.end_to_end, 0x2082_a44c);
    // Frame 178: its AAA, Result-Code 2001 from the PCRF.
    let aaa = message(&r, 178);
    assert_eq!(aaa.message.command, Some("AAA"));
    assert_eq!(aaa.message.result_code, Some(2001));
    assert_eq!(
        aaa.message.origin_host.as_deref(),
        Some("pcrf.epc.mnc001.mcc001.3gppnetwork.org")
    );
    let m = aaa.matched.expect("AAA matched");
    assert_eq!(m.request_frame, 173);
    assert!(m.latency_ms >= 0.0, "{m:?}");
    // Frame 45: the Gx CCR over SCTP carries the UE's IPv6 address (tshark:
    // Framed-IPv6-Prefix 03 80 fd1f76f3da9b0101 0000000000000001, a /128;
    // the reserved byte is 3, ignored as RFC 3162 §2.3 says).
    let ccr = &message(&r, 45).message;
    assert_eq!((ccr.application, ccr.command), (Some("Gx"), Some("CCR")));
    assert_eq!(
        ccr.framed_ipv6_prefix,
        Some(("fd1f:76f3:da9b:101::1".parse().unwrap(), 128))
    );
    // Frame 304: the Cx UAA answers with Experimental-Result 10415/2001
    // (DIAMETER_FIRST_REGISTRATION, TS 29.229 §6.2.1.1).
    let uaa = message(&r, 304);
    assert_eq!(
        (uaa.message.application, uaa.message.command),
        (Some("Cx"), Some("UAA"))
    );
    assert_eq!(uaa.message.result_code, None);
    assert_eq!(uaa.message.experimental_result_code, Some(2001));
    assert_eq!(uaa.message.experimental_result_vendor, Some(10415));
    assert_eq!(uaa.matched.map(|m| m.request_frame), Some(183));
}

#[test]
fn gx_rar_installs_qci_1_rule() {
    let name = "volte/volte-call-gx-rar-cbr-amrwb.pcapng";
    let Some(dir) = shared_captures("gx_rar_installs_qci_1_rule") else {
        return;
    };
    let r = run(&dir.join(name));
    // Frames 98 and 117: Gx RAR installing rule "ims1" (tshark: QCI 1,
    // Priority-Level 2, GBR-UL 41000, MBR-DL 41000); 107 and 118 answer them.
    for (req, ans) in [(98, 107), (117, 118)] {
        let rar = &message(&r, req).message;
        assert_eq!((rar.application, rar.command), (Some("Gx"), Some("RAR")));
        assert_eq!(rar.rules_installed.len(), 1, "frame {req}");
        let rule = &rar.rules_installed[0];
        assert_eq!(rule.name.as_deref(), Some("ims1"));
        assert_eq!(rule.qci, Some(1));
        assert_eq!(rule.arp_priority, Some(2));
        assert_eq!(rule.gbr_ul, Some(41_000));
        assert_eq!(rule.mbr_dl, Some(41_000));
        let raa = message(&r, ans);
        assert_eq!(raa.message.command, Some("RAA"));
        assert_eq!(raa.matched.map(|m| m.request_frame), Some(req));
    }
}

#[test]
fn gx_ccr_subscription_ids_and_framed_ip() {
    let name = "diameter/diameter-gx-gy-s6a-sctp-1ue.pcapng";
    let Some(dir) = shared_captures("gx_ccr_subscription_ids_and_framed_ip") else {
        return;
    };
    let r = run(&dir.join(name));
    // Frame 45: Gx CCR-Initial (tshark: Subscription-Id types 1,0 with data
    // 999991234567810 and 1234567810, Framed-IP-Address ac11f1ff).
    let ccr = &message(&r, 45).message;
    assert_eq!((ccr.application, ccr.command), (Some("Gx"), Some("CCR")));
    assert_eq!(
        ccr.session_id.as_deref(),
        Some("string;490;022;IMSI999991234567810")
    );
    assert_eq!(ccr.cc_request_type, Some(1));
    assert_eq!(ccr.cc_request_number, Some(0));
    assert_eq!(ccr.framed_ip, Some(Ipv4Addr::new(172, 17, 241, 255)));
    let ids: Vec<_> = ccr
        .subscription_ids
        .iter()
        .map(|s| (s.kind, s.data.as_deref()))
        .collect();
    assert_eq!(
        ids,
        vec![
            (Some(SubscriptionIdType::Imsi), Some("999991234567810")),
            (Some(SubscriptionIdType::E164), Some("1234567810")),
        ]
    );
    // Frame 46: the CCA, Result-Code 2001; frames 271/273: the termination.
    let cca = message(&r, 46);
    assert_eq!(cca.message.result_code, Some(2001));
    assert_eq!(cca.matched.map(|m| m.request_frame), Some(45));
    assert_eq!(message(&r, 271).message.cc_request_type, Some(3));
    assert_eq!(message(&r, 273).matched.map(|m| m.request_frame), Some(271));
}

#[test]
fn the_analyser_counts_and_pairs_diameter_like_tshark() {
    let Some(dir) = shared_captures("diameter through the analyser") else {
        return;
    };
    for name in CAPTURES {
        let truth =
            std::fs::read_to_string(dir.join("groundtruth").join(format!("{name}.txt"))).unwrap();
        let Some(want) = expected_counts(&truth) else {
            continue;
        };
        let a = voxprobe::analyze::analyze_file(&dir.join(name), &Default::default(), &mut |_| {})
            .unwrap();
        let d = &a.summary.diameter;
        for (&(app, cmd, request), &n) in &want {
            assert_eq!(
                d.count_of(app, cmd, request),
                n,
                "{name}: app {app} cmd {cmd} request {request}"
            );
        }
        let total: u64 = want.values().sum();
        assert_eq!(a.summary.protocols.diameter, total, "{name}");
        assert_eq!(d.malformed, 0, "{name}");
        let t = &d.transactions;
        assert_eq!(t.unmatched_answers, 0, "{name}: {t:?}");
        // Bytes by protocol: each message's own length, over TCP and SCTP
        // alike (tshark exits with an error on the file cut short).
        if name.starts_with("odd/truncated") {
            continue;
        }
        if let Some((messages, bytes)) = tshark_message_lengths(&dir.join(name)) {
            assert_eq!(messages, total, "{name}: tshark's messages");
            assert_eq!(a.summary.protocol_bytes.diameter, bytes, "{name}");
        }
    }
}

/// tshark's DIAMETER messages and the sum of their lengths.
fn tshark_message_lengths(capture: &std::path::Path) -> Option<(u64, u64)> {
    crate::support::tshark::sum_field(capture, "diameter", "diameter.length", 0, "diameter bytes")
}
