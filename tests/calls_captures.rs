//! Calls on the shared captures, checked against tshark's ground truth:
//! one call per Call-ID with an INVITE, SIP requests and responses counted
//! by method and status exactly as tshark counts them, every SDP-announced
//! RTP stream tied to its call, and the particular calls the captures are
//! known for (codec changes on re-INVITE, 37 dialogs over segmented TCP,
//! SIP over SCTP and inside GTP-U, the failure codes of aaa.pcap).

use crate::support::shared_captures;
use std::collections::BTreeMap;
use std::path::Path;
use voxprobe::analyze::{analyze_file, AnalyzeConfig, FileAnalysis};
use voxprobe::call::{Direction, Outcome};

fn analyze(shared: &Path, name: &str) -> FileAnalysis {
    let mut config = AnalyzeConfig::default();
    if name.contains("6060") {
        config.decoder.sip_tcp_ports.push(6060);
    }
    analyze_file(&shared.join(name), &config, &mut |_| {}).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn groundtruth(shared: &Path, name: &str) -> String {
    std::fs::read_to_string(shared.join("groundtruth").join(format!("{name}.txt"))).unwrap()
}

/// "Call-IDs with INVITE: N".
fn tshark_calls(gt: &str) -> Option<usize> {
    gt.lines()
        .find_map(|l| l.strip_prefix("Call-IDs with INVITE:"))
        .and_then(|n| n.trim().parse().ok())
}

/// The "SIP messages (method | status | cseq-method : count)" table as
/// (requests by method, responses by "code METHOD").
fn tshark_sip_table(gt: &str) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let mut requests = BTreeMap::new();
    let mut responses = BTreeMap::new();
    let mut lines = gt
        .lines()
        .skip_while(|l| !l.starts_with("## SIP messages (method"));
    lines.next();
    for line in lines.take_while(|l| !l.trim().is_empty() && !l.starts_with("##")) {
        let Some((key, count)) = line.rsplit_once(':') else {
            continue;
        };
        let count: u64 = count.trim().parse().unwrap();
        let parts: Vec<&str> = key.split('|').map(str::trim).collect();
        if let [method, status, cseq_method] = parts[..] {
            if method.is_empty() {
                *responses
                    .entry(format!("{status} {cseq_method}"))
                    .or_insert(0) += count;
            } else {
                *requests.entry(method.to_owned()).or_insert(0) += count;
            }
        }
    }
    (requests, responses)
}

fn sip_captures(shared: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for category in ["odd", "rtcp", "sip-rtp", "sip-tcp", "volte"] {
        let mut files: Vec<_> = std::fs::read_dir(shared.join("groundtruth").join(category))
            .unwrap()
            .flatten()
            .map(|e| {
                format!(
                    "{category}/{}",
                    e.file_name().to_string_lossy().trim_end_matches(".txt")
                )
            })
            .collect();
        files.sort();
        out.extend(files.into_iter().filter(|f| !f.contains("netmon")));
    }
    out
}

/// SDP-announced streams that belong to no SIP call, and why.
const NOT_SIP_MEDIA: &[(&str, &str, &str)] = &[(
    "rtcp/sip-g711a-rtcp-sr-rr-noise.pcap",
    "200.57.7.202:30000",
    "announced by MGCP (frames 2945-2946 carry SDP without SIP), not by a SIP call",
)];

#[test]
fn calls_and_sip_counts_match_tshark() {
    let Some(shared) = shared_captures("calls against tshark") else {
        return;
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for name in sip_captures(&shared) {
        let gt = groundtruth(&shared, &name);
        let Some(want_calls) = tshark_calls(&gt) else {
            continue;
        };
        let a = analyze(&shared, &name);
        checked += 1;
        if a.calls.len() != want_calls {
            problems.push(format!(
                "{name}: {} calls, tshark has {want_calls} Call-IDs with INVITE",
                a.calls.len()
            ));
        }
        let (requests, responses) = tshark_sip_table(&gt);
        if a.summary.sip.requests != requests {
            problems.push(format!(
                "{name}: requests {:?}, tshark {requests:?}",
                a.summary.sip.requests
            ));
        }
        if a.summary.sip.responses != responses {
            problems.push(format!(
                "{name}: responses {:?}, tshark {responses:?}",
                a.summary.sip.responses
            ));
        }
    }
    assert!(checked >= 25, "only {checked} captures with calls");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn sdp_announced_streams_belong_to_their_calls() {
    let Some(shared) = shared_captures("streams tied to calls") else {
        return;
    };
    for name in sip_captures(&shared) {
        let gt = groundtruth(&shared, &name);
        // tshark's default rtp,streams section lists the streams SDP announced.
        let Some(section) = gt.split("## rtp,streams (default, SDP-driven)").nth(1) else {
            continue;
        };
        let rows: Vec<(String, String)> = section
            .lines()
            .skip(2)
            .take_while(|l| !l.trim().is_empty() && !l.starts_with("##"))
            .filter_map(|l| {
                let t: Vec<&str> = l.split_whitespace().collect();
                (t.len() > 6).then(|| (format!("{}:{}", t[2], t[3]), t[6].to_ascii_lowercase()))
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let a = analyze(&shared, &name);
        for (src, ssrc) in rows {
            if let Some((_, _, why)) = NOT_SIP_MEDIA
                .iter()
                .find(|(n, s, _)| *n == name && *s == src)
            {
                eprintln!("{name}: stream {src} {ssrc} not tied to a call: {why}");
                continue;
            }
            let ours: Vec<_> = a
                .all_streams()
                .filter(|s| s.key.src.to_string() == src && format!("{:#010x}", s.key.ssrc) == ssrc)
                .collect();
            assert!(!ours.is_empty(), "{name}: stream {src} {ssrc} not found");
            for s in ours {
                assert!(
                    s.call.is_some(),
                    "{name}: stream {src} {ssrc} belongs to no call"
                );
            }
        }
    }
}

#[test]
fn known_calls_of_the_shared_captures() {
    let Some(shared) = shared_captures("known calls") else {
        return;
    };
    // Re-INVITE changes the codec: two media segments.
    for (name, codecs) in [
        (
            "sip-rtp/sip-rtp-reinvite-pcmu-to-g722.pcap",
            ["PCMU", "G722"],
        ),
        (
            "sip-rtp/sip-rtp-reinvite-pcmu-to-opus.pcap",
            ["PCMU", "opus"],
        ),
    ] {
        let a = analyze(&shared, name);
        assert_eq!(a.calls.len(), 1, "{name}");
        let c = &a.calls[0];
        assert_eq!(c.codecs, codecs, "{name}");
        assert!(c.call.reinvites >= 1, "{name}");
        assert_eq!(c.streams.len(), 4, "{name}: two segments each way");
        assert_eq!(c.outcome, Outcome::Answered);
    }
    // 37 INVITE dialogs over segmented and coalesced TCP.
    let a = analyze(&shared, "sip-tcp/sip-tcp-6060-segmented-37invites.pcap");
    assert_eq!(a.calls.len(), 37);
    assert!(
        a.calls
            .iter()
            .filter(|c| c.outcome == Outcome::Answered)
            .count()
            >= 30
    );
    // SIP over SCTP: INVITE answered 403.
    let a = analyze(&shared, "sip-tcp/sip-sctp-sll.pcap");
    assert_eq!(a.calls.len(), 1);
    assert_eq!(
        (a.calls[0].call.final_code, a.calls[0].outcome),
        (Some(403), Outcome::Rejected)
    );
    // VoLTE: SIP inside GTP-U and outside; the AMR-WB streams at every
    // observation point belong to the call, in both directions.
    let a = analyze(&shared, "volte/volte-call-gx-rar-cbr-amrwb.pcapng");
    assert_eq!(a.calls.len(), 1);
    let c = &a.calls[0];
    assert_eq!(c.outcome, Outcome::Answered);
    assert!(c.caller_to_callee.is_some() && c.callee_to_caller.is_some());
    // tshark's 4 streams (2 hops × 2 directions), each seen inside two GTP-U
    // tunnels (S1-U and S5 TEIDs): 8 observations.
    assert_eq!(c.streams.len(), 8);
    assert!(c.streams.iter().all(|s| matches!(
        s.key.observation,
        voxprobe::packet::Observation::GtpU { .. }
    )));
    // aaa.pcap: the failures by code, authentication retries folded into their call.
    let a = analyze(&shared, "sip-rtp/sip-register-invite-failures-aaa.pcap");
    let codes: Vec<_> = a
        .calls
        .iter()
        .map(|c| (c.call.final_code, c.outcome))
        .collect();
    assert_eq!(
        codes,
        [
            (Some(408), Outcome::NoAnswer),
            (Some(403), Outcome::Rejected),
            (Some(403), Outcome::Rejected),
            (Some(480), Outcome::NoAnswer),
        ]
    );
    assert!(
        a.calls[1].call.attempts >= 2,
        "407 then a new INVITE with credentials"
    );
    // Early media before the 480: after the 183 with SDP the caller
    // (192.168.1.2) sends 9 packets to the callee's announced port.
    assert_eq!(
        a.calls[3].caller_to_callee.as_ref().map(|d| d.packets),
        Some(9)
    );
    assert!(a.calls[3].call.ringing_time().is_some());
    // DTMF capture: one answered call and one declined (603).
    let a = analyze(&shared, "sip-rtp/sip-rtp-g711a-rfc2833-dtmf.cap");
    let outcomes: Vec<_> = a.calls.iter().map(|c| c.outcome).collect();
    assert!(
        outcomes.contains(&Outcome::Answered) && outcomes.contains(&Outcome::Rejected),
        "{outcomes:?}"
    );
    let answered = a
        .calls
        .iter()
        .find(|c| c.outcome == Outcome::Answered)
        .unwrap();
    assert!(answered.mos(Direction::CallerToCallee).is_none() || answered.setup_ms().is_some());
    assert!(answered.setup_ms().unwrap() > 0.0);
}
