//! VoLTE correlation on the shared open5gs captures: SIP calls joined to
//! their Gx RAR/RAA, QCI 1 dedicated bearer (Create Bearer) and the AMR-WB
//! RTP inside that bearer's GTP-U tunnels; a registration's subscriber tied
//! to its Rx AAR and Gx CCR.

use crate::support::shared_captures;
use std::path::Path;
use voxprobe::analyze::{analyze_file, AnalyzeConfig, FileAnalysis};

fn analyze(shared: &Path, name: &str) -> FileAnalysis {
    analyze_file(
        &shared.join("volte").join(name),
        &AnalyzeConfig::default(),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Per file: the Create Bearer Response times, ms, as tshark shows them
/// (`gtpv2.response_time` of the four Create Bearer Responses: two UEs, two
/// hops each), and whether the UEs' RTP uses the dedicated bearer's TEIDs.
/// In `volte-call-ipsec-both-ends` (tshark: `gtp && rtp`) both UEs send and
/// receive AMR-WB on TEIDs 0x2–0x8, 0x71, 0x79, none of the Create Bearer
/// F-TEIDs (0x5, 0x6, 0x9–0xc, 0x72, 0x7a): the media stays on the default
/// bearer.
///
/// Last, whether the other end's legs are found too: both ends are UEs of
/// the same core in all three, but in the cancelled call nothing names the
/// callee's bearer (no media in it, no subscriber in the capture), so it is
/// left unjoined rather than guessed.
const CALLS: [(&str, [f64; 4], bool, bool); 3] = [
    (
        "volte-call-gx-rar-cbr-amrwb.pcapng",
        [229.027457, 225.357193, 229.883838, 225.561364],
        true,
        true,
    ),
    (
        "volte-call-ipsec-both-ends.pcapng",
        [225.745947, 209.354991, 226.692642, 209.650529],
        false,
        true,
    ),
    (
        "volte-call-ipsec-to-nonipsec-cancel.pcapng",
        [219.888701, 232.287875, 221.332766, 232.694153],
        true,
        false,
    ),
];

#[test]
fn volte_calls_join_gx_bearer_and_rtp() {
    let Some(shared) = shared_captures("volte calls") else {
        return;
    };
    for (name, latencies, media_in_bearer, both_ues) in CALLS {
        let a = analyze(&shared, name);
        let joined: Vec<_> = a.calls.iter().filter(|c| c.volte.is_some()).collect();
        assert_eq!(joined.len(), 1, "{name}: calls with VoLTE legs");
        let call = joined[0];
        let legs = call.volte.as_ref().unwrap();
        let gx = legs.ue.gx_leg.as_ref().expect("gx leg");
        assert_eq!(gx.command, "rar", "{name}");
        assert_eq!(gx.result_code, Some(2001), "{name}");
        assert!(gx.latency_ms.is_some(), "{name}: RAR → RAA");
        let bearer = legs.ue.bearer_leg.as_ref().expect("bearer leg");
        assert_eq!(bearer.qci, Some(1), "{name}");
        assert_eq!(bearer.cause, Some(16), "{name}");
        let ms = bearer.request_to_response_ms.expect("bearer latency");
        assert!(
            latencies.iter().any(|l| (l - ms).abs() < 0.001),
            "{name}: Create Bearer latency {ms} not among tshark's {latencies:?}"
        );
        let rtp = legs.ue.rtp_leg.as_ref().expect("rtp leg");
        assert!(
            rtp.uplink
                .iter()
                .all(|s| s.codec == Some("AMR-WB") && s.packets > 0),
            "{name}: {rtp:?}"
        );
        assert!(!rtp.uplink.is_empty(), "{name}: uplink RTP in GTP-U");
        if !media_in_bearer {
            assert!(!rtp.in_bearer(), "{name}");
            assert!(
                call.diagnosis.contains(&"volte_media_outside_bearer"),
                "{name}: {:?}",
                call.diagnosis
            );
        }
        let in_bearer: Vec<_> = rtp
            .uplink
            .iter()
            .chain(&rtp.downlink)
            .filter(|s| s.in_bearer)
            .collect();
        assert_eq!(
            !in_bearer.is_empty(),
            media_in_bearer,
            "{name}: streams inside the bearer"
        );
        for s in &in_bearer {
            assert!(
                bearer.uplink_teids.contains(&s.teid) || bearer.downlink_teids.contains(&s.teid),
                "{name}"
            );
            assert_eq!(s.codec, Some("AMR-WB"), "{name}");
            assert!(s.packets > 0, "{name}");
        }
        assert!(legs.ue.ue_ip.is_some(), "{name}: UE IP");
        let metrics = voxprobe::call::VolteMetrics::of(call).expect("metrics");
        assert_eq!(metrics.bearer_setup_time_ms, Some(ms), "{name}");
        assert_eq!(metrics.gx_policy_time_ms, gx.latency_ms, "{name}");
        assert!(metrics.total_call_duration_ms.is_some(), "{name}");
        assert_eq!(a.summary.volte.calls_with_legs, 1, "{name}");
        let remote = legs.remote_ue.as_deref();
        assert_eq!(remote.is_some(), both_ues, "{name}: the other UE's legs");
        assert_eq!(
            a.summary.volte.bearer_joined,
            1 + u64::from(both_ues),
            "{name}"
        );
        if let Some(r) = remote {
            // Its own address, Gx session and bearer set-up, media from it.
            assert!(
                r.ue_ip.is_some() && r.ue_ip != legs.ue.ue_ip,
                "{name}: {r:?}"
            );
            let rgx = r.gx_leg.as_ref().expect("remote gx leg");
            assert_eq!(
                (rgx.command, rgx.result_code),
                ("rar", Some(2001)),
                "{name}"
            );
            assert_ne!(rgx.session_id, gx.session_id, "{name}: its own Gx session");
            let rb = r.bearer_leg.as_ref().expect("remote bearer leg");
            assert_ne!(rb.request_frame, bearer.request_frame, "{name}");
            let rms = rb.request_to_response_ms.expect("remote bearer latency");
            assert!(
                latencies.iter().any(|l| (l - rms).abs() < 0.001) && rms != ms,
                "{name}: remote Create Bearer latency {rms} vs tshark's {latencies:?}"
            );
            let rrtp = r.rtp_leg.as_ref().expect("remote rtp leg");
            assert!(
                !rrtp.uplink.is_empty()
                    && rrtp
                        .uplink
                        .iter()
                        .all(|s| s.codec == Some("AMR-WB") && s.packets > 0),
                "{name}: {rrtp:?}"
            );
            assert_eq!(rrtp.in_bearer(), media_in_bearer, "{name}");
            let ours: Vec<u32> = rtp.uplink.iter().map(|s| s.teid).collect();
            assert!(
                rrtp.uplink.iter().all(|s| !ours.contains(&s.teid)),
                "{name}: the UEs' uplinks are apart"
            );
        } else {
            assert_eq!(
                a.summary.volte.bearer_unmatched, 2,
                "{name}: the callee's two hops"
            );
        }

        let mut out = Vec::new();
        voxprobe::export::json::write_call(&mut out, Path::new(name), call).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        for key in ["sip_leg", "gx_leg", "bearer_leg", "rtp_leg", "metrics"] {
            assert!(!v[key].is_null(), "{name}: JSON {key}");
        }
    }
}

#[test]
fn ims_registration_ties_subscriber_to_rx_and_gx() {
    let Some(shared) = shared_captures("ims registration") else {
        return;
    };
    let a = analyze(&shared, "ims-register-rx-aar-gx-ccr-cx.pcapng");
    let ims_ip: std::net::IpAddr = "192.168.101.2".parse().unwrap();
    let sub = a
        .subscribers
        .iter()
        .find(|s| s.subscriber.ue_ips.contains(&ims_ip))
        .unwrap_or_else(|| panic!("no subscriber with {ims_ip}: {:#?}", a.subscribers));
    // IMSI and QCIs from the Create Session Requests (tshark: e212.imsi,
    // gtpv2.bearer_qos_label_qci: 9 then 5), UE IPs from
    // the PAA of both Create Session Responses and the CCRs' Framed-IP.
    assert_eq!(&*sub.subscriber.imsi, "001011234567895");
    let internet_ip: std::net::IpAddr = "192.168.100.6".parse().unwrap();
    assert!(sub.subscriber.ue_ips.contains(&internet_ip));
    let qcis: Vec<_> = sub.subscriber.bearers.iter().map(|b| b.qci).collect();
    assert_eq!(qcis, [Some(9), Some(5)], "internet and IMS default bearers");
    assert!(sub.subscriber.control_teids.iter().all(|t| *t != 0));
    assert_eq!(
        sub.rx_sessions,
        ["pcscf.ims.mnc001.mcc001.3gppnetwork.org;3347407368;1"]
    );
    assert!(sub
        .gx_sessions
        .iter()
        .any(|s| s == "pgw.epc.mnc001.mcc001.3gppnetwork.org;1587107357;10;app_gx"));
}
