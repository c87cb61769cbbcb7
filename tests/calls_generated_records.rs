//! Call records of the analyser against the generated call truth: every
//! time, code, outcome and party of 15 calls exact to the nanosecond, MOS
//! ordered by impairment, and 200 bulk calls counted by outcome.
//!
//! The truth is `captures/calls.expected.json` (its `call_definitions` field
//! says exactly what each value is); `tests/calls_generated.rs` already shows
//! that tshark puts every INVITE, 18x, 2xx, BYE and final response at the
//! times it names.

use crate::support::project_dir;
use std::collections::BTreeMap;
use voxprobe::analyze::{analyze_file, AnalyzeConfig};
use voxprobe::call::record::EndedBy;
use voxprobe::call::{Direction, Outcome};
use voxprobe::synth::{generate, ExpectedCapture, Scenario};

fn load_calls_truth() -> ExpectedCapture {
    let path = project_dir().join("captures").join("calls.expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Both sides derive durations from the same µs packet times.
fn same(ours: Option<f64>, truth: Option<f64>) -> bool {
    match (ours, truth) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() < 1e-6,
        _ => false,
    }
}

#[test]
fn call_records_match_the_generated_truth() {
    let truth = load_calls_truth();
    let path = project_dir().join("captures").join("calls.pcap");
    let a = analyze_file(&path, &AnalyzeConfig::default(), &mut |_| {})
        .unwrap_or_else(|e| panic!("calls.pcap: {e}"));
    // One record per Call-ID: the retransmitted INVITEs are not calls.
    assert_eq!(
        a.calls.len(),
        truth.calls.len(),
        "records: {:?}",
        a.calls.iter().map(|c| &c.call.call_id).collect::<Vec<_>>()
    );
    for want in &truth.calls {
        let ctx = &want.name;
        let got = a
            .calls
            .iter()
            .find(|c| c.call.call_id == want.call_id)
            .unwrap_or_else(|| panic!("{ctx}: no record for Call-ID {}", want.call_id));
        assert_eq!(got.outcome.as_str(), want.outcome, "{ctx}: outcome");
        assert_eq!(got.call.final_code, want.final_code, "{ctx}: final_code");
        assert_eq!(
            got.call.invite_time.as_nanos(),
            want.invite_time_ns,
            "{ctx}: invite_time"
        );
        assert_eq!(
            got.call.ringing_time().map(|t| t.as_nanos()),
            want.ringing_time_ns,
            "{ctx}: ringing_time"
        );
        assert_eq!(
            got.call.answer_time().map(|t| t.as_nanos()),
            want.answer_time_ns,
            "{ctx}: answer_time"
        );
        // `end_time` is null in the truth for the call without BYE and for
        // the INVITE that never got a response: signalling never ended them.
        // The record says so (no signalling end, `ended_by` not BYE/final
        // response) and closes the answered one at its last media packet.
        assert_eq!(
            got.call.end_time().map(|t| t.as_nanos()),
            want.end_time_ns,
            "{ctx}: end_time"
        );
        match want.end_time_ns {
            Some(_) => {
                assert_eq!(got.end_time, got.call.end_time(), "{ctx}: end time");
                assert!(
                    same(got.duration_s(), want.duration_s),
                    "{ctx}: duration_s {:?} vs {:?}",
                    got.duration_s(),
                    want.duration_s
                );
            }
            None => {
                assert!(
                    !matches!(got.ended_by, EndedBy::Bye | EndedBy::FinalResponse),
                    "{ctx}: {:?}",
                    got.ended_by
                );
                let last_media = got.streams.iter().map(|s| s.report.last_time).max();
                if got.outcome == Outcome::Answered && last_media.is_some() {
                    assert_eq!(got.ended_by, EndedBy::MediaInactivity, "{ctx}");
                    assert_eq!(
                        got.end_time, last_media,
                        "{ctx}: end at the last media packet"
                    );
                }
            }
        }
        assert!(
            same(got.setup_ms(), want.setup_ms),
            "{ctx}: setup_ms {:?} vs {:?}",
            got.setup_ms(),
            want.setup_ms
        );
        assert!(
            same(got.pdd_ms(), want.pdd_ms),
            "{ctx}: pdd_ms {:?} vs {:?}",
            got.pdd_ms(),
            want.pdd_ms
        );
        assert!(
            same(got.answer_delay_ms(), want.answer_delay_ms),
            "{ctx}: answer_delay_ms {:?} vs {:?}",
            got.answer_delay_ms(),
            want.answer_delay_ms
        );
        assert_eq!(
            got.call.hangup_by.map(|s| s.as_str()),
            want.hangup_by.as_deref(),
            "{ctx}: hangup_by"
        );
        assert_eq!(got.call.q850_cause, want.q850_cause, "{ctx}: q850_cause");
        let mos_caller_to_callee = got.mos(Direction::CallerToCallee);
        let mos_callee_to_caller = got.mos(Direction::CalleeToCaller);
        // MOS exists exactly for the directions that carried media.
        let has = |dir: &str| {
            let caller = format!("{}:", want.caller_ip);
            want.streams
                .iter()
                .any(|s| s.src.starts_with(&caller) == (dir == "fwd"))
        };
        assert_eq!(
            mos_caller_to_callee.is_some(),
            has("fwd"),
            "{ctx}: MOS caller -> callee"
        );
        assert_eq!(
            mos_callee_to_caller.is_some(),
            has("bwd"),
            "{ctx}: MOS callee -> caller"
        );
        for mos in [mos_caller_to_callee, mos_callee_to_caller]
            .into_iter()
            .flatten()
        {
            assert!((1.0..=4.5).contains(&mos), "{ctx}: MOS {mos} out of range");
        }
    }
}

#[test]
fn mos_follows_the_generated_impairment_order() {
    // Ordered by the caller -> callee direction (the impaired one; the other
    // is clean in all five calls), with the rule of the truth
    // (`mos_order_rule`): late packets of a fixed 50 ms jitter buffer count as
    // lost — our `fixed_50ms` rating. The headline (adaptive buffer) MOS
    // absorbs the jitter call's spikes, so it must order the four calls
    // impaired by loss alone, and rate the jitter call above its 50 ms MOS.
    let truth = load_calls_truth();
    let path = project_dir().join("captures").join("calls.pcap");
    let a = analyze_file(&path, &AnalyzeConfig::default(), &mut |_| {}).unwrap();
    let rated: Vec<(String, f64, f64)> = truth
        .mos_order
        .iter()
        .map(|name| {
            let want = truth.calls.iter().find(|c| &c.name == name).unwrap();
            let got = a
                .calls
                .iter()
                .find(|c| c.call.call_id == want.call_id)
                .unwrap();
            let dir = got
                .direction(Direction::CallerToCallee)
                .expect("answered with media");
            let main = got
                .streams
                .iter()
                .find(|s| s.key == dir.main_stream)
                .unwrap();
            let q = main.report.quality.as_ref().expect("a rated codec");
            (name.clone(), q.buffers[0].mos, q.mos)
        })
        .collect();
    for w in rated.windows(2) {
        assert!(
            w[0].1 > w[1].1,
            "50 ms-buffer MOS should fall from {} ({:.3}) to {} ({:.3}); all: {rated:?}",
            w[0].0,
            w[0].1,
            w[1].0,
            w[1].1
        );
    }
    for w in rated[..rated.len() - 1].windows(2) {
        assert!(w[0].2 > w[1].2, "adaptive MOS should fall: {rated:?}");
    }
    let jitter = rated.last().unwrap();
    assert!(
        jitter.2 > jitter.1,
        "the adaptive buffer absorbs what the 50 ms one drops: {jitter:?}"
    );
}

#[test]
fn calls_bulk_outcomes_are_counted_exactly() {
    let dir = std::env::temp_dir().join(format!("voxprobe-calls-bulk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("calls-bulk-200.pcap");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let truth = generate(Scenario::CallsBulk { calls: 200 }, 1, file).unwrap();
    let a = analyze_file(&path, &AnalyzeConfig::default(), &mut |_| {}).unwrap();
    let count = |it: &mut dyn Iterator<Item = String>| {
        let mut m = BTreeMap::new();
        for k in it {
            *m.entry(k).or_insert(0u64) += 1;
        }
        m
    };
    let ours = count(&mut a.calls.iter().map(|c| c.outcome.as_str().to_owned()));
    assert_eq!(a.calls.len(), truth.calls.len());
    let want = count(&mut truth.calls.iter().map(|c| c.outcome.clone()));
    assert_eq!(ours, want, "outcomes");
    for want in &truth.calls {
        let got = a
            .calls
            .iter()
            .find(|c| c.call.call_id == want.call_id)
            .unwrap();
        assert_eq!(got.call.final_code, want.final_code, "{}", want.name);
        assert_eq!(
            got.call.answer_time().map(|t| t.as_nanos()),
            want.answer_time_ns,
            "{}",
            want.name
        );
        assert_eq!(
            got.call.end_time().map(|t| t.as_nanos()),
            want.end_time_ns,
            "{}",
            want.name
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn fixed_buffers_discard_exactly_the_generated_late_packets() {
    // The `jitter` call's caller -> callee stream has delay spikes of 97 and
    // 141 ms: a fixed 50 ms buffer discards the packets the generator counted,
    // a 200 ms buffer none; the call is diagnosed with high jitter.
    let truth = load_calls_truth();
    let path = project_dir().join("captures").join("calls.pcap");
    let a = analyze_file(&path, &AnalyzeConfig::default(), &mut |_| {}).unwrap();
    let mut checked = 0;
    for want in truth.calls.iter().filter(|c| c.late_50ms.is_some()) {
        let got = a
            .calls
            .iter()
            .find(|c| c.call.call_id == want.call_id)
            .unwrap();
        for (dir, w50, w200) in [
            (
                Direction::CallerToCallee,
                want.late_50ms.as_ref().unwrap().caller_to_callee,
                want.late_200ms.as_ref().unwrap().caller_to_callee,
            ),
            (
                Direction::CalleeToCaller,
                want.late_50ms.as_ref().unwrap().callee_to_caller,
                want.late_200ms.as_ref().unwrap().callee_to_caller,
            ),
        ] {
            let Some(d) = got.direction(dir) else {
                continue;
            };
            let main = got.streams.iter().find(|s| s.key == d.main_stream).unwrap();
            let jb = &main.report.jitter_buffers;
            assert_eq!(
                (jb[0].late, jb[1].late),
                (w50, w200),
                "{}: {dir:?}",
                want.name
            );
            checked += 1;
        }
        if want.name == "jitter" {
            assert!(
                got.diagnosis.contains(&"high_jitter"),
                "{:?}",
                got.diagnosis
            );
        }
    }
    assert!(checked > 0);
    let jitter = truth.calls.iter().find(|c| c.name == "jitter").unwrap();
    assert!(jitter.late_50ms.as_ref().unwrap().caller_to_callee > 0);
}
