//! The generated call captures: `captures/calls.pcap` regenerates from its
//! seed, its per-call truth is what each call claims to exercise, and tshark
//! (4.0) agrees with the truth wherever it can speak: SIP message counts per
//! method and status code, retransmissions, the time of every message that
//! defines a call's invite/ringing/answer/end, and RTP packets, loss, max
//! delta and jitter per stream.
//!
//! The comparison of the analyser's call records with this truth waits for
//! the call module: see `tests/calls_generated_records.rs.txt`.

use crate::support::project_dir;
use crate::support::tshark;
use std::collections::BTreeMap;
use std::path::PathBuf;
use voxprobe::synth::{generate, ExpectedCall, ExpectedCapture, Scenario};

/// The committed call capture and its seed, as `captures/README.md` says.
const STEM: &str = "calls";
const SEED: u64 = 3;
/// Largest committed call capture.
const MAX_CAPTURE_BYTES: usize = 400_000;

fn capture_path() -> PathBuf {
    project_dir().join("captures").join(format!("{STEM}.pcap"))
}

fn expected_path() -> PathBuf {
    project_dir()
        .join("captures")
        .join(format!("{STEM}.expected.json"))
}

fn load_expected() -> ExpectedCapture {
    let path = expected_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn call<'a>(e: &'a ExpectedCapture, name: &str) -> &'a ExpectedCall {
    e.calls
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no call {name}"))
}

#[test]
fn committed_calls_capture_regenerates_byte_for_byte() {
    crate::generated::assert_regenerates(STEM, Scenario::Calls, SEED, MAX_CAPTURE_BYTES);
}

#[test]
fn every_call_exercises_what_it_claims() {
    let e = load_expected();
    let outcomes: BTreeMap<&str, (&str, Option<u16>)> = e
        .calls
        .iter()
        .map(|c| (c.name.as_str(), (c.outcome.as_str(), c.final_code)))
        .collect();
    let want = [
        ("basic", "answered", Some(200)),
        ("callee-hangup", "answered", Some(200)),
        ("q850-bye", "answered", Some(200)),
        ("busy", "busy", Some(486)),
        ("no-answer", "no_answer", Some(480)),
        ("rejected-403", "rejected", Some(403)),
        ("rejected-603", "rejected", Some(603)),
        ("cancelled", "cancelled", Some(487)),
        ("failed-503", "failed", Some(503)),
        ("early-media", "answered", Some(200)),
        ("re-invite", "answered", Some(200)),
        ("no-bye", "answered", Some(200)),
        ("invite-retransmit", "answered", Some(200)),
        ("jitter", "answered", Some(200)),
        ("invite-timeout", "timed_out", None),
    ];
    assert_eq!(outcomes.len(), want.len(), "{outcomes:?}");
    for (name, outcome, code) in want {
        assert_eq!(outcomes[name], (outcome, code), "{name}");
    }
    let ids: std::collections::BTreeSet<&str> =
        e.calls.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(ids.len(), e.calls.len(), "distinct Call-IDs");

    assert_eq!(call(&e, "basic").hangup_by.as_deref(), Some("caller"));
    assert_eq!(
        call(&e, "callee-hangup").hangup_by.as_deref(),
        Some("callee")
    );
    assert_eq!(call(&e, "q850-bye").q850_cause, Some(16));
    assert_eq!(call(&e, "cancelled").hangup_by.as_deref(), Some("caller"));
    assert_eq!(call(&e, "re-invite").codecs, ["PCMU", "PCMA"]);
    assert_eq!(call(&e, "re-invite").streams.len(), 4);
    let no_bye = call(&e, "no-bye");
    assert!(no_bye.end_time.is_none() && no_bye.duration_s.is_none());
    assert!(no_bye.hangup_by.is_none());
    assert_eq!(call(&e, "invite-retransmit").invite_retransmissions, 1);
    let timeout = call(&e, "invite-timeout");
    assert_eq!(timeout.invite_retransmissions, 6);
    assert!(timeout.callee_user_agent.is_none() && timeout.end_time.is_none());

    // Early media: the callee's stream starts before the answer.
    let early = call(&e, "early-media");
    let answer_us = early.answer_time_ns.unwrap() / 1000;
    let callee_stream = early
        .streams
        .iter()
        .find(|s| s.name.ends_with("callee-to-caller"))
        .unwrap();
    assert!(callee_stream.first_time_us < answer_us);
    assert_eq!(early.pdd_ms, Some(300.0), "the 183 counts as ringing");

    // Derived durations follow from the times.
    for c in &e.calls {
        let ms = |a: Option<i64>, b: Option<i64>| Some((a? - b?) as f64 / 1e6);
        assert_eq!(
            c.setup_ms,
            ms(c.answer_time_ns, Some(c.invite_time_ns)),
            "{}",
            c.name
        );
        assert_eq!(
            c.pdd_ms,
            ms(c.ringing_time_ns, Some(c.invite_time_ns)),
            "{}",
            c.name
        );
        assert_eq!(
            c.answer_delay_ms,
            ms(c.answer_time_ns, c.ringing_time_ns),
            "{}",
            c.name
        );
        assert_eq!(
            c.duration_s,
            ms(c.end_time_ns, c.answer_time_ns).map(|x| x / 1000.0),
            "{}",
            c.name
        );
    }

    // MOS ordering: graded impairments caller -> callee, same length each.
    assert_eq!(
        e.mos_order,
        [
            "basic",
            "callee-hangup",
            "q850-bye",
            "invite-retransmit",
            "jitter"
        ]
    );
    let forward = |name: &str| {
        let c = call(&e, name);
        c.streams
            .iter()
            .find(|s| s.name.ends_with(":caller-to-callee"))
            .unwrap()
            .clone()
    };
    assert_eq!(forward("basic").lost, 0);
    assert_eq!(forward("callee-hangup").lost, 1);
    let (random, bursty) = (forward("q850-bye"), forward("invite-retransmit"));
    assert_eq!((random.lost, random.max_loss_run), (5, 1));
    assert_eq!((bursty.lost, bursty.max_loss_run), (5, 5));
    let jitter = call(&e, "jitter");
    let late = jitter.late_50ms.unwrap();
    assert_eq!((late.caller_to_callee, late.callee_to_caller), (10, 0));
    assert_eq!(
        jitter.late_200ms.unwrap(),
        voxprobe::synth::DirectionCounts::default()
    );
    assert!(forward("jitter").max_delta_ms > 50.0 && forward("jitter").max_delta_ms < 200.0);
    for name in &e.mos_order {
        let c = call(&e, name);
        assert_eq!(c.codecs, ["PCMU"], "{name}");
        for s in &c.streams {
            assert_eq!(s.sent, 100, "{name}/{}", s.name);
        }
    }
}

#[test]
fn calls_bulk_is_deterministic_and_mostly_answered() {
    let run = |seed| {
        let mut v = Vec::new();
        let truth = generate(Scenario::CallsBulk { calls: 60 }, seed, &mut v).unwrap();
        (v, truth)
    };
    let (a, truth) = run(1);
    assert_eq!(a, run(1).0);
    assert_ne!(a, run(2).0);
    assert_eq!(truth.calls.len(), 60);
    let answered = truth
        .calls
        .iter()
        .filter(|c| c.outcome == "answered")
        .count();
    assert!((36..60).contains(&answered), "{answered} of 60 answered");
    let sip: u64 = truth.calls.iter().map(|c| c.sip_messages).sum();
    assert_eq!(sip, truth.sip_messages);
    let streams: usize = truth.calls.iter().map(|c| c.streams.len()).sum();
    assert_eq!(streams, truth.streams.len());
    assert_eq!(streams, 2 * answered);
}

/// tshark on the committed calls capture, or a visible skip.
fn tshark(args: &[&str], what: &str) -> Option<String> {
    tshark::run(args, &capture_path(), what)
}

/// `-z sip,stat`: (messages, resent, status code → count, method → count).
fn parse_sip_stat(out: &str) -> (u64, u64, BTreeMap<u16, u64>, BTreeMap<String, u64>) {
    let number = |prefix: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {prefix:?} in {out}"))
    };
    let (mut codes, mut methods) = (BTreeMap::new(), BTreeMap::new());
    for line in out.lines() {
        let Some((left, right)) = line.split_once(':') else {
            continue;
        };
        let Some(count) = right
            .trim()
            .strip_suffix("Packets")
            .and_then(|n| n.trim().parse::<u64>().ok())
        else {
            continue;
        };
        let left = left.trim();
        match left.strip_prefix("SIP ") {
            Some(status) => {
                let code = status[..3].parse().expect("status code");
                codes.insert(code, count);
            }
            None => {
                methods.insert(left.to_owned(), count);
            }
        }
    }
    (
        number("Number of SIP messages:"),
        number("Number of resent SIP messages:"),
        codes,
        methods,
    )
}

#[test]
fn tshark_sip_statistics_match_the_truth() {
    let Some(out) = tshark(
        &["-n", "-q", "-z", "sip,stat"],
        "SIP statistics of calls.pcap",
    ) else {
        return;
    };
    let e = load_expected();
    let (messages, resent, codes, methods) = parse_sip_stat(&out);
    assert_eq!(messages, e.sip_messages, "SIP messages");
    assert_eq!(
        messages,
        e.calls.iter().map(|c| c.sip_messages).sum::<u64>()
    );
    let retransmissions: u64 = e.calls.iter().map(|c| c.invite_retransmissions).sum();
    assert_eq!(resent, retransmissions, "resent SIP messages");
    assert_eq!(codes, e.sip_responses, "status codes");
    assert_eq!(methods, e.sip_requests, "request methods");
}

/// Exact ns from tshark's `frame.time_epoch` (`1767225600.012345000`).
fn epoch_ns(s: &str) -> i64 {
    let (secs, frac) = s.split_once('.').expect("epoch with fraction");
    let frac = format!("{frac:0<9}");
    secs.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
}

#[test]
fn tshark_places_every_call_event_where_the_truth_says() {
    let fields = [
        "frame.time_epoch",
        "sip.Call-ID",
        "sip.Method",
        "sip.Status-Code",
        "sip.CSeq.seq",
        "sip.CSeq.method",
        "sip.resend",
    ];
    let mut args = vec!["-n", "-Y", "sip", "-T", "fields", "-E", "separator=|"];
    for f in &fields {
        args.extend(["-e", f]);
    }
    let Some(out) = tshark(&args, "call event times in calls.pcap") else {
        return;
    };
    let e = load_expected();
    #[derive(Default)]
    struct Seen {
        messages: u64,
        invite: Option<i64>,
        ringing: Option<i64>,
        answer: Option<i64>,
        end: Option<i64>,
        final_code: Option<u16>,
        resent: u64,
    }
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f.len(), fields.len(), "{line}");
        let t = epoch_ns(f[0]);
        let s = seen.entry(f[1].to_owned()).or_default();
        s.messages += 1;
        let initial_invite = f[5] == "INVITE" && f[4] == "1";
        let resent = f[6] == "1" || f[6] == "True";
        s.resent += u64::from(resent);
        match (f[2], f[3].parse::<u16>().ok()) {
            ("INVITE", _) if initial_invite => {
                s.invite.get_or_insert(t);
            }
            ("BYE", _) => {
                s.end.get_or_insert(t);
            }
            ("", Some(code)) if initial_invite => {
                if (180..=189).contains(&code) {
                    s.ringing.get_or_insert(t);
                }
                if code >= 200 && s.final_code.is_none() {
                    s.final_code = Some(code);
                    if code < 300 {
                        s.answer = Some(t);
                    } else {
                        s.end = Some(t);
                    }
                }
            }
            _ => {}
        }
    }
    assert_eq!(seen.len(), e.calls.len(), "Call-IDs seen by tshark");
    for c in &e.calls {
        let s = &seen[&c.call_id];
        let ctx = &c.name;
        assert_eq!(s.messages, c.sip_messages, "{ctx}: messages");
        assert_eq!(s.resent, c.invite_retransmissions, "{ctx}: resent");
        assert_eq!(s.invite, Some(c.invite_time_ns), "{ctx}: invite_time");
        assert_eq!(s.ringing, c.ringing_time_ns, "{ctx}: ringing_time");
        assert_eq!(s.answer, c.answer_time_ns, "{ctx}: answer_time");
        assert_eq!(s.end, c.end_time_ns, "{ctx}: end_time");
        assert_eq!(s.final_code, c.final_code, "{ctx}: final_code");
    }
}

#[test]
fn tshark_rtp_streams_match_every_calls_streams() {
    let Some(out) = tshark(
        &[
            "-n",
            "-q",
            "-z",
            "rtp,streams",
            "-o",
            "rtp.heuristic_rtp:TRUE",
        ],
        "RTP streams of calls.pcap",
    ) else {
        return;
    };
    let e = load_expected();
    let rows = tshark::parse_rtp_streams(&out);
    assert_eq!(rows.len(), e.streams.len(), "tshark rows {rows:?}");
    let per_call: usize = e.calls.iter().map(|c| c.streams.len()).sum();
    assert_eq!(per_call, e.streams.len(), "every stream belongs to a call");
    for c in &e.calls {
        for want in &c.streams {
            let ctx = format!("{}/{}", c.name, want.name);
            tshark::assert_row_matches(&rows, want, &ctx, true);
        }
    }
}
