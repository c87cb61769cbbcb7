//! The generated VoLTE capture (`captures/volte.pcap`, scenario `volte`,
//! seed 4): it regenerates byte for byte, our DIAMETER and GTPv2-C decoders
//! read every message without a problem, and the analyser's VoLTE legs
//! equal the generator's truth call by call.

use crate::generated::assert_regenerates;
use crate::support::project_dir;
use std::net::{IpAddr, Ipv4Addr};
use voxprobe::analyze::{analyze_file, AnalyzeConfig, FileAnalysis};
use voxprobe::call::signal_log::{Ladder, Role};
use voxprobe::call::CallRecord;
use voxprobe::proto::diameter::Message;
use voxprobe::proto::gtpv2;
use voxprobe::synth::volte::{MME, PCRF, PCSCF, PGW_C, SGW_C};
use voxprobe::synth::{ExpectedCapture, ExpectedVolteCall, Scenario};

const STEM: &str = "volte";
const SEED: u64 = 4;
const MAX_BYTES: usize = 400_000;

fn expected() -> ExpectedCapture {
    let path = project_dir().join("captures/volte.expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("expected JSON")
}

fn analysis() -> FileAnalysis {
    let path = project_dir().join("captures/volte.pcap");
    analyze_file(&path, &AnalyzeConfig::default(), &mut |_| {}).expect("analysis")
}

/// The analysed call of a generated one.
fn call_of<'a>(a: &'a FileAnalysis, want: &ExpectedVolteCall) -> &'a CallRecord {
    a.calls
        .iter()
        .find(|c| c.call.call_id == want.call_id)
        .unwrap_or_else(|| panic!("{}: no call {}", want.name, want.call_id))
}

fn pcap() -> Vec<u8> {
    std::fs::read(project_dir().join("captures/volte.pcap")).expect("committed capture")
}

/// (IP protocol, source port, destination port, L4 payload) of each frame of
/// a classic Ethernet/IPv4 pcap as the generator writes it (no options).
fn frames(pcap: &[u8]) -> Vec<(u8, u16, u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = 24;
    while at < pcap.len() {
        let len = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        let f = &pcap[at + 16..at + 16 + len];
        let ip = &f[14..];
        let proto = ip[9];
        let l4 = &ip[20..];
        let port = |o: usize| u16::from_be_bytes([l4[o], l4[o + 1]]);
        let header = if proto == 6 { 20 } else { 8 };
        out.push((proto, port(0), port(2), &l4[header..]));
        at += 16 + len;
    }
    out
}

#[test]
fn volte_capture_regenerates_byte_for_byte() {
    assert_regenerates(STEM, Scenario::Volte, SEED, MAX_BYTES);
}

#[test]
fn our_decoders_read_every_generated_message_cleanly() {
    let pcap = pcap();
    let (mut diameter, mut gtp) = (0u64, 0u64);
    for (proto, sport, dport, payload) in frames(&pcap) {
        if proto == 6 && (sport == 3868 || dport == 3868) && !payload.is_empty() {
            let m = Message::parse(payload).expect("DIAMETER message");
            assert_eq!(m.anomaly_count, 0, "{m:?}");
            assert!(m.session_id.is_some());
            diameter += 1;
        } else if proto == 17 && sport == 2123 {
            let p = gtpv2::Packet::new_checked(payload).expect("GTPv2-C message");
            let s = gtpv2::summarize(&p);
            assert!(s.anomalies.is_empty(), "{s:?}");
            match s.message_type {
                32 => {
                    assert!(s.imsi.is_some() && s.msisdn.is_some(), "{s:?}");
                    assert_eq!(s.bearers[0].ebi, Some(5));
                    assert_eq!(s.bearers[0].qos.map(|q| q.qci), Some(5));
                }
                33 => assert!(s.ue_ipv4.is_some(), "{s:?}"),
                95 => {
                    let q = s.bearers[0].qos.expect("bearer QoS");
                    assert_eq!(q.qci, 1);
                    assert!(q.gbr_uplink_kbps > 0 && q.gbr_downlink_kbps > 0);
                    assert_eq!(s.bearers[0].fteids.len(), 2);
                }
                96 | 100 => assert!(s.cause.is_some()),
                99 => assert_eq!(s.ebis, [6], "{s:?}"),
                t => panic!("unexpected GTPv2-C message type {t}"),
            }
            gtp += 1;
        }
    }
    let e = expected();
    assert_eq!((diameter, gtp), (e.diameter_messages, e.gtpv2_messages));
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-6,
        (None, None) => true,
        _ => false,
    }
}

#[test]
fn analyser_volte_legs_equal_the_generated_truth() {
    let e = expected();
    assert_eq!(e.volte_calls.len(), 7);
    let a = analysis();
    let p = &a.summary.protocols;
    assert_eq!(
        (p.sip, p.diameter, p.gtpv2),
        (e.sip_messages, e.diameter_messages, e.gtpv2_messages)
    );
    assert_eq!(a.summary.diameter.malformed, 0);
    assert_eq!(a.summary.diameter.avp_errors, 0);
    assert!(a.summary.gtpv2.malformed.is_empty());
    assert!(a.summary.gtpv2.ie_anomalies.is_empty());
    assert_eq!(
        a.calls.len(),
        e.volte_calls.len(),
        "one call per generated call"
    );
    for want in &e.volte_calls {
        let ctx = &want.name;
        let rec = call_of(&a, want);
        let legs = rec
            .volte
            .as_ref()
            .unwrap_or_else(|| panic!("{ctx}: no VoLTE legs"));
        assert_eq!(
            legs.ue.imsi.as_deref(),
            Some(want.imsi.as_str()),
            "{ctx}: imsi"
        );
        assert_eq!(
            legs.ue.msisdn.as_deref(),
            Some(want.msisdn.as_str()),
            "{ctx}: msisdn"
        );
        assert_eq!(
            legs.ue.ue_ip.map(|ip| ip.to_string()),
            Some(want.ue_ip.clone()),
            "{ctx}: ue_ip"
        );
        assert_eq!(
            legs.icid.as_deref(),
            Some(want.icid.as_str()),
            "{ctx}: icid"
        );
        let rx = legs.ue.rx_leg.as_ref().expect("rx leg");
        assert_eq!(
            rx.af_charging_identifier.as_deref(),
            Some(want.icid.as_str())
        );
        assert_eq!(rx.media_components, 1, "{ctx}: MCDs");
        assert!(
            close(rx.aar_to_aaa_ms, Some(want.rx_aar_to_aaa_ms)),
            "{ctx}: AAR→AAA {:?} vs {}",
            rx.aar_to_aaa_ms,
            want.rx_aar_to_aaa_ms
        );
        assert_eq!(rx.result_code, Some(want.rx_result), "{ctx}: rx result");
        let end = rx.termination.as_ref();
        assert!(
            close(end.and_then(|e| e.str_to_sta_ms), want.rx_str_to_sta_ms),
            "{ctx}: STR→STA {end:?} vs {:?}",
            want.rx_str_to_sta_ms
        );
        if want.rx_str_to_sta_ms.is_some() {
            let end = end.expect("the STR");
            assert_eq!(end.result_code, Some(2001), "{ctx}: STA result");
            assert_eq!(end.termination_cause, Some(1), "{ctx}: DIAMETER_LOGOUT");
            assert!(end.request_frame > rx.request_frame, "{ctx}: STR frame");
        }
        match want.gx_rar_to_raa_ms {
            Some(ms) => {
                let gx = legs.ue.gx_leg.as_ref().expect("gx leg");
                assert_eq!(gx.command, "rar", "{ctx}");
                assert_eq!(gx.qci, Some(1), "{ctx}: rule QCI");
                assert!(
                    close(gx.latency_ms, Some(ms)),
                    "{ctx}: RAR→RAA {:?} vs {ms}",
                    gx.latency_ms
                );
                assert_eq!(gx.result_code, want.gx_result, "{ctx}: gx result");
            }
            None => assert!(
                legs.ue.gx_leg.as_ref().is_none_or(|g| g.command != "rar"),
                "{ctx}: no RAR was sent"
            ),
        }
        match want.bearer_request_to_response_ms {
            Some(ms) => {
                let b = legs.ue.bearer_leg.as_ref().expect("bearer leg");
                assert_eq!(b.qci, want.bearer_qci, "{ctx}: bearer QCI");
                assert_eq!(b.cause, want.bearer_cause, "{ctx}: bearer cause");
                assert!(
                    close(b.request_to_response_ms, Some(ms)),
                    "{ctx}: CBR→CBResp {:?} vs {ms}",
                    b.request_to_response_ms
                );
                assert!(b
                    .uplink_teids
                    .contains(&want.bearer_uplink_teid.expect("uplink TEID")));
                if let Some(t) = want.bearer_downlink_teid {
                    assert_eq!(b.ebi, Some(6), "{ctx}: EBI");
                    assert!(b.downlink_teids.contains(&t), "{ctx}: downlink TEID");
                }
                let deletion = b.deletion.as_ref();
                assert!(
                    close(
                        deletion.and_then(|d| d.request_to_response_ms),
                        want.bearer_delete_ms
                    ),
                    "{ctx}: Delete Bearer {deletion:?} vs {:?}",
                    want.bearer_delete_ms
                );
                if want.bearer_delete_ms.is_some() {
                    let d = deletion.expect("the Delete Bearer");
                    assert_eq!(d.cause, Some(16), "{ctx}: Delete Bearer cause");
                    assert!(d.request_frame > b.request_frame, "{ctx}: DBR frame");
                }
            }
            None => {
                // No Create Bearer was sent for this call (its Rx or Gx leg
                // failed first): its known subscriber has no voice bearer.
                assert!(
                    legs.ue.bearer_leg.is_none(),
                    "{ctx}: no bearer was requested"
                );
            }
        }
        assert_eq!(
            legs.failed_leg,
            want.failed_leg.as_deref(),
            "{ctx}: failed_leg"
        );
        // The reason quotes the failing leg's own code.
        let reason = legs.state_reason.as_deref().unwrap_or_default();
        let quoted = match want.failed_leg.as_deref() {
            Some("rx") => want.rx_result.to_string(),
            Some("gx") => want.gx_result.map(|c| c.to_string()).unwrap_or_default(),
            Some("bearer") => want.bearer_cause.map(|c| c.to_string()).unwrap_or_default(),
            Some(_) => want.final_code.to_string(),
            None => "BYE".to_owned(),
        };
        assert!(
            reason.contains(&quoted) && !quoted.is_empty(),
            "{ctx}: state_reason {reason:?} should quote {quoted}"
        );
        assert_eq!(
            rec.call.final_code,
            Some(want.final_code),
            "{ctx}: final code"
        );
        assert!(close(rec.setup_ms(), want.setup_ms), "{ctx}: setup_ms");
        if want.rtp_uplink > 0 {
            let rtp = legs.ue.rtp_leg.as_ref().expect("rtp leg");
            assert!(rtp.in_bearer(), "{ctx}: media in the dedicated bearer");
            let up: u64 = rtp.uplink.iter().map(|s| s.packets).sum();
            let down: u64 = rtp.downlink.iter().map(|s| s.packets).sum();
            assert_eq!(
                (up, down),
                (want.rtp_uplink, want.rtp_downlink),
                "{ctx}: RTP"
            );
        }
    }
}

#[test]
fn ladder_nodes_have_the_roles_the_generator_gave_them() {
    let e = expected();
    let a = analysis();
    let ip = |a: [u8; 4]| IpAddr::V4(Ipv4Addr::from(a));
    for want in &e.volte_calls {
        let ctx = &want.name;
        let rec = call_of(&a, want);
        let ladder = Ladder::of(rec, &a.signals);
        let roles_of = |addr: IpAddr| -> Vec<Role> {
            let mut r: Vec<Role> = ladder
                .nodes
                .iter()
                .filter(|n| n.ip == addr)
                .map(|n| n.role)
                .collect();
            r.dedup();
            r
        };
        let ue: IpAddr = want.ue_ip.parse().expect("UE IP");
        assert_eq!(roles_of(ue), [Role::Ue], "{ctx}");
        assert_eq!(
            roles_of(ip(PCSCF)),
            [Role::PCscf],
            "{ctx}: SIP peer and Rx client"
        );
        assert_eq!(roles_of(ip(PCRF)), [Role::Pcrf], "{ctx}");
        if want.gx_rar_to_raa_ms.is_some() {
            assert_eq!(roles_of(ip(PGW_C)), [Role::Pgw], "{ctx}");
        }
        if want.bearer_request_to_response_ms.is_some() {
            assert_eq!(roles_of(ip(SGW_C)), [Role::Sgw], "{ctx}: F-TEID S1-U SGW");
            assert_eq!(roles_of(ip(MME)), [Role::Mme], "{ctx}: F-TEID S1-U eNodeB");
        }
        let pcrf = ladder
            .nodes
            .iter()
            .find(|n| n.role == Role::Pcrf)
            .unwrap_or_else(|| panic!("{ctx}: no PCRF"));
        assert!(
            pcrf.host.as_deref().is_some_and(|h| h.starts_with("pcrf.")),
            "{ctx}: {pcrf:?}"
        );
    }
}
