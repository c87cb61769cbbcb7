//! Call scenarios: SIP dialogs with known outcomes and their media, and the
//! per-call truth (times, codes, outcome, streams) decided by the schedule.
//!
//! A [`Call`] writes one dialog: each method puts one SIP message on the
//! plan at an exact time and records what that message means for the call
//! (first INVITE, first 18x, answer, end, hang-up side, Q.850 cause), so the
//! expected JSON follows from the generator's decisions, never from parsing
//! its output. [`CallPlan::report`] adds the RTP streams' truth once the
//! capture is written.
//!
//! `calls` is a fixed catalogue (one behaviour per call, committed as
//! `captures/calls.pcap`); `calls-bulk` draws N overlapping calls with a
//! realistic mix of outcomes for benchmarks.

use super::rng::Rng;
use super::scenario::{hex, Audio, Control, ControlKind, Plan, BASE_TIME_US, PTIME_US};
use super::sip::{sdp_audio, CallLeg, Rtpmap, Txn, UserAgent};
use super::source::Impairments;
use super::truth::{DirectionCounts, ExpectedCall, StreamTruth, JITTER_BUFFERS_MS};
use crate::time::PacketTime;
use std::net::{Ipv4Addr, SocketAddrV4};

const PCMU: Rtpmap = Rtpmap {
    pt: 0,
    encoding: "PCMU/8000",
    fmtp: None,
};
const PCMA: Rtpmap = Rtpmap {
    pt: 8,
    encoding: "PCMA/8000",
    fmtp: None,
};
const EVENTS: Rtpmap = Rtpmap {
    pt: 101,
    encoding: "telephone-event/8000",
    fmtp: Some("0-16"),
};

/// SIP domain of every AOR.
const DOMAIN: &str = "example.com";
/// Send slots per direction of the calls in the MOS ordering (2 s): loss
/// percentages are then exact packet counts.
const MOS_SLOTS: u64 = 100;
/// Background network jitter of every generated call, µs (uniform 0..=this).
const BACKGROUND_JITTER_US: i64 = 1_000;

/// The truth of one call, decided while its messages are scheduled.
pub(super) struct CallPlan {
    name: String,
    behaviour: String,
    impairment: String,
    leg: CallLeg,
    invite_us: Option<i64>,
    ringing_us: Option<i64>,
    answer_us: Option<i64>,
    end_us: Option<i64>,
    final_code: Option<u16>,
    final_reason: Option<String>,
    q850_cause: Option<u16>,
    hangup_by: Option<&'static str>,
    cancelled: bool,
    callee_spoke: bool,
    codecs: Vec<&'static str>,
    sip_messages: u64,
    invite_retransmissions: u64,
    impaired_direction: Option<&'static str>,
    /// Part of the MOS ordering.
    mos_ranked: bool,
    /// (stream truth index, caller → callee).
    streams: Vec<(usize, bool)>,
}

/// The outcome class of a final response (see `CALL_DEFINITIONS`).
fn outcome(final_code: Option<u16>, cancelled: bool) -> &'static str {
    match final_code {
        None => "timed_out",
        Some(200..=299) => "answered",
        Some(486 | 600) => "busy",
        Some(480 | 408) => "no_answer",
        Some(487) if cancelled => "cancelled",
        Some(300..=499 | 603) => "rejected",
        Some(_) => "failed",
    }
}

fn rfc3339(us: i64) -> String {
    PacketTime::from_nanos(us * 1000)
        .rfc3339_micros()
        .to_string()
}

fn diff_ms(later: Option<i64>, earlier: Option<i64>) -> Option<f64> {
    Some((later? - earlier?) as f64 / 1000.0)
}

impl CallPlan {
    /// The call's expected JSON entry, with the truth of its streams.
    pub(super) fn report(&self, truths: &[StreamTruth]) -> ExpectedCall {
        let invite_us = self.invite_us.expect("every call starts with an INVITE");
        let mut late = [DirectionCounts::default(); JITTER_BUFFERS_MS.len()];
        let mut streams = Vec::new();
        for &(truth, forward) in &self.streams {
            let t = &truths[truth];
            let Some(report) = t.report() else { continue };
            let (counts, margin_us) = t.late_packets();
            debug_assert!(
                margin_us >= 1_000,
                "{}: an arrival lies {margin_us} µs from its playout time",
                report.name
            );
            for (d, n) in late.iter_mut().zip(counts) {
                if forward {
                    d.caller_to_callee += n;
                } else {
                    d.callee_to_caller += n;
                }
            }
            streams.push(report);
        }
        let has_media = !streams.is_empty();
        ExpectedCall {
            name: self.name.clone(),
            behaviour: self.behaviour.clone(),
            impairment: self.impairment.clone(),
            call_id: self.leg.call_id.clone(),
            from_uri: self.leg.aor(true),
            to_uri: self.leg.aor(false),
            from_user: self.leg.caller.user.clone(),
            to_user: self.leg.callee.user.clone(),
            caller_ip: self.leg.caller.ip.to_string(),
            callee_ip: self.leg.callee.ip.to_string(),
            caller_user_agent: Some(self.leg.caller.product.to_owned()),
            callee_user_agent: self
                .callee_spoke
                .then(|| self.leg.callee.product.to_owned()),
            invite_time: rfc3339(invite_us),
            invite_time_ns: invite_us * 1000,
            ringing_time: self.ringing_us.map(rfc3339),
            ringing_time_ns: self.ringing_us.map(|t| t * 1000),
            answer_time: self.answer_us.map(rfc3339),
            answer_time_ns: self.answer_us.map(|t| t * 1000),
            end_time: self.end_us.map(rfc3339),
            end_time_ns: self.end_us.map(|t| t * 1000),
            setup_ms: diff_ms(self.answer_us, self.invite_us),
            pdd_ms: diff_ms(self.ringing_us, self.invite_us),
            answer_delay_ms: diff_ms(self.answer_us, self.ringing_us),
            duration_s: diff_ms(self.end_us, self.answer_us).map(|ms| ms / 1000.0),
            final_code: self.final_code,
            final_reason: self.final_reason.clone(),
            q850_cause: self.q850_cause,
            hangup_by: self.hangup_by.map(str::to_owned),
            outcome: outcome(self.final_code, self.cancelled).to_owned(),
            codecs: self.codecs.iter().map(|c| (*c).to_owned()).collect(),
            sip_messages: self.sip_messages,
            invite_retransmissions: self.invite_retransmissions,
            impaired_direction: self.impaired_direction.map(str::to_owned),
            late_50ms: has_media.then_some(late[0]),
            late_200ms: has_media.then_some(late[1]),
            streams,
        }
    }
}

/// Names of the MOS-ranked calls, best first, by `MOS_ORDER_RULE`.
pub(super) fn mos_order(plans: &[CallPlan], calls: &[ExpectedCall]) -> Vec<String> {
    let mut ranked: Vec<(u64, u64, &str)> = plans
        .iter()
        .zip(calls)
        .filter(|(p, c)| p.mos_ranked && c.outcome == "answered")
        .map(|(_, c)| {
            let caller_ip = format!("{}:", c.caller_ip);
            let forward = c.streams.iter().filter(|s| s.src.starts_with(&caller_ip));
            let (lost, run) = forward.fold((0, 0), |(l, r), s| {
                (l + s.lost.max(0) as u64, r.max(s.max_loss_run))
            });
            let late = c.late_50ms.map_or(0, |d| d.caller_to_callee);
            (lost + late, run, c.name.as_str())
        })
        .collect();
    ranked.sort();
    ranked.into_iter().map(|(_, _, n)| n.to_owned()).collect()
}

/// Media of one call: where each side receives.
#[derive(Clone, Copy)]
struct Media {
    caller: SocketAddrV4,
    callee: SocketAddrV4,
}

/// What the network does to one direction of a call's media.
#[derive(Clone, Default)]
struct Network {
    words: String,
    impairments: Impairments,
    lost_slots: Vec<u64>,
    extra_delay_us: Vec<i64>,
}

fn background() -> Network {
    Network {
        words: "0..1 ms jitter".into(),
        impairments: Impairments {
            jitter_us: BACKGROUND_JITTER_US,
            clean_head: 1,
            ..Impairments::default()
        },
        ..Network::default()
    }
}

/// One dialog being scheduled.
struct Call<'p> {
    plan: &'p mut Plan,
    rng: &'p mut Rng,
    t0_us: i64,
    c: CallPlan,
    invite_branch: String,
    offer: String,
    answer: String,
    media: Media,
    caller_cseq: u32,
    callee_cseq: u32,
    sdp_sessions: (u64, u64),
}

impl<'p> Call<'p> {
    /// A call from `caller` to `callee` starting `start_us` after the capture
    /// start, with media at `ports` (caller, callee).
    fn new(
        plan: &'p mut Plan,
        rng: &'p mut Rng,
        name: &str,
        behaviour: &str,
        (caller, callee): (&UserAgent, &UserAgent),
        start_us: i64,
        ports: (u16, u16),
    ) -> Self {
        let leg = CallLeg {
            call_id: format!("{}@{}", hex(rng, 16), caller.ip),
            caller_tag: hex(rng, 10),
            callee_tag: hex(rng, 10),
            caller: caller.clone(),
            callee: callee.clone(),
            domain: DOMAIN,
        };
        let invite_branch = hex(rng, 12);
        let sdp_sessions = (
            rng.range(1_000_000, 4_000_000_000),
            rng.range(1_000_000, 4_000_000_000),
        );
        let media = Media {
            caller: SocketAddrV4::new(caller.ip, ports.0),
            callee: SocketAddrV4::new(callee.ip, ports.1),
        };
        let offer = sdp_audio(
            &caller.user,
            sdp_sessions.0,
            sdp_sessions.0,
            media.caller,
            &[PCMU, PCMA, EVENTS],
        );
        let answer = sdp_audio(
            &callee.user,
            sdp_sessions.1,
            sdp_sessions.1,
            media.callee,
            &[PCMU, EVENTS],
        );
        Call {
            plan,
            rng,
            t0_us: BASE_TIME_US + start_us,
            c: CallPlan {
                name: name.to_owned(),
                behaviour: behaviour.to_owned(),
                impairment: "none".into(),
                leg,
                invite_us: None,
                ringing_us: None,
                answer_us: None,
                end_us: None,
                final_code: None,
                final_reason: None,
                q850_cause: None,
                hangup_by: None,
                cancelled: false,
                callee_spoke: false,
                codecs: Vec::new(),
                sip_messages: 0,
                invite_retransmissions: 0,
                impaired_direction: None,
                mos_ranked: false,
                streams: Vec::new(),
            },
            invite_branch,
            offer,
            answer,
            media,
            caller_cseq: 1,
            callee_cseq: 101,
            sdp_sessions,
        }
    }

    fn at(&self, ms: i64) -> i64 {
        self.t0_us + ms * 1000
    }

    fn push(&mut self, ms: i64, from_caller: bool, text: String) {
        let (a, b) = (self.c.leg.caller.sip(), self.c.leg.callee.sip());
        let (src, dst) = if from_caller { (a, b) } else { (b, a) };
        self.c.callee_spoke |= !from_caller;
        self.c.sip_messages += 1;
        self.plan.controls.push(Control {
            time_us: self.at(ms),
            src,
            dst,
            kind: ControlKind::Sip(text),
        });
    }

    fn invite_txn(&self) -> Txn<'_> {
        Txn {
            method: "INVITE",
            cseq: 1,
            branch: &self.invite_branch,
            from_caller: true,
            to_tag: false,
        }
    }

    /// The initial INVITE; again, a retransmission (same bytes, same branch).
    fn invite(&mut self, ms: i64) {
        let text = self
            .c
            .leg
            .request(&self.invite_txn(), &[], Some(&self.offer));
        match self.c.invite_us {
            None => self.c.invite_us = Some(self.at(ms)),
            Some(_) => self.c.invite_retransmissions += 1,
        }
        self.push(ms, true, text);
    }

    /// A response of the callee to the initial INVITE, with the SDP answer if
    /// `sdp`, and a `Reason: Q.850` header if `q850` is given.
    fn respond(&mut self, ms: i64, code: u16, reason: &str, sdp: bool, q850: Option<(u16, &str)>) {
        let extra: Vec<String> = q850
            .map(|(cause, text)| format!("Reason: Q.850;cause={cause};text=\"{text}\""))
            .into_iter()
            .collect();
        let body = sdp.then_some(self.answer.as_str());
        let text = self
            .c
            .leg
            .response(&self.invite_txn(), code, reason, &extra, body);
        let t = self.at(ms);
        if (180..=189).contains(&code) && self.c.ringing_us.is_none() {
            self.c.ringing_us = Some(t);
        }
        if code >= 200 && self.c.final_code.is_none() {
            self.c.final_code = Some(code);
            self.c.final_reason = Some(reason.to_owned());
            if code < 300 {
                self.c.answer_us = Some(t);
                self.c.codecs.push("PCMU");
            } else {
                self.c.end_us = Some(t);
                if let Some((cause, _)) = q850 {
                    self.c.q850_cause = Some(cause);
                }
            }
        }
        self.push(ms, false, text);
    }

    /// INVITE, 100 Trying 30 ms later, 180 Ringing at `ring_ms`, 200 OK with
    /// SDP at `answer_ms`, ACK 30 ms after it.
    fn answered(&mut self, ring_ms: i64, answer_ms: i64) {
        self.invite(0);
        self.respond(30, 100, "Trying", false, None);
        self.respond(ring_ms, 180, "Ringing", false, None);
        self.respond(answer_ms, 200, "OK", true, None);
        self.ack(answer_ms + 30);
    }

    /// ACK of the 2xx (its own transaction: a new branch).
    fn ack(&mut self, ms: i64) {
        let branch = hex(self.rng, 12);
        let txn = Txn {
            method: "ACK",
            cseq: self.caller_cseq,
            branch: &branch,
            from_caller: true,
            to_tag: true,
        };
        let text = self.c.leg.request(&txn, &[], None);
        self.push(ms, true, text);
    }

    /// ACK of a non-2xx final response (part of the INVITE transaction: same
    /// branch, RFC 3261 §17.1.1.3).
    fn ack_failure(&mut self, ms: i64) {
        let txn = Txn {
            to_tag: true,
            method: "ACK",
            ..self.invite_txn()
        };
        let text = self.c.leg.request(&txn, &[], None);
        self.push(ms, true, text);
    }

    /// A final failure response and its ACK 20 ms later.
    fn fail(&mut self, ms: i64, code: u16, reason: &str, q850: Option<(u16, &str)>) {
        self.respond(ms, code, reason, false, q850);
        self.ack_failure(ms + 20);
    }

    /// CANCEL from the caller, 200 to it, 487 to the INVITE, ACK.
    fn cancel(&mut self, ms: i64) {
        let txn = Txn {
            method: "CANCEL",
            ..self.invite_txn()
        };
        let text = self.c.leg.request(&txn, &[], None);
        let ok = self.c.leg.response(&txn, 200, "OK", &[], None);
        self.push(ms, true, text);
        self.push(ms + 25, false, ok);
        self.c.cancelled = true;
        self.c.hangup_by = Some("caller");
        self.fail(ms + 30, 487, "Request Terminated", None);
    }

    /// BYE from the caller or the callee, 200 OK 40 ms later.
    fn bye(&mut self, ms: i64, by_caller: bool, q850: Option<(u16, &str)>) {
        let cseq = if by_caller {
            self.caller_cseq += 1;
            self.caller_cseq
        } else {
            self.callee_cseq += 1;
            self.callee_cseq
        };
        let branch = hex(self.rng, 12);
        let txn = Txn {
            method: "BYE",
            cseq,
            branch: &branch,
            from_caller: by_caller,
            to_tag: true,
        };
        let extra: Vec<String> = q850
            .map(|(cause, text)| format!("Reason: Q.850;cause={cause};text=\"{text}\""))
            .into_iter()
            .collect();
        let text = self.c.leg.request(&txn, &extra, None);
        self.push(ms, by_caller, text);
        let ok = self.c.leg.response(&txn, 200, "OK", &[], None);
        self.push(ms + 40, !by_caller, ok);
        self.c.end_us = Some(self.at(ms));
        self.c.hangup_by = Some(if by_caller { "caller" } else { "callee" });
        self.c.q850_cause = q850.map(|(cause, _)| cause);
    }

    /// A re-INVITE from the caller moving the media to PCMA on new ports
    /// (both sides), with 100, 200 (SDP) and ACK.
    fn reinvite(&mut self, ms: i64, ports: (u16, u16)) {
        self.caller_cseq += 1;
        let branch = hex(self.rng, 12);
        self.media = Media {
            caller: SocketAddrV4::new(*self.media.caller.ip(), ports.0),
            callee: SocketAddrV4::new(*self.media.callee.ip(), ports.1),
        };
        let (sa, sb) = self.sdp_sessions;
        let offer = sdp_audio(
            &self.c.leg.caller.user,
            sa,
            sa + 1,
            self.media.caller,
            &[PCMA, EVENTS],
        );
        let answer = sdp_audio(
            &self.c.leg.callee.user,
            sb,
            sb + 1,
            self.media.callee,
            &[PCMA, EVENTS],
        );
        let txn = Txn {
            method: "INVITE",
            cseq: self.caller_cseq,
            branch: &branch,
            from_caller: true,
            to_tag: true,
        };
        let texts = [
            (0, true, self.c.leg.request(&txn, &[], Some(&offer))),
            (
                20,
                false,
                self.c.leg.response(&txn, 100, "Trying", &[], None),
            ),
            (
                60,
                false,
                self.c.leg.response(&txn, 200, "OK", &[], Some(&answer)),
            ),
        ];
        for (at, from_caller, text) in texts {
            self.push(ms + at, from_caller, text);
        }
        self.c.codecs.push("PCMA");
        self.ack(ms + 90);
    }

    /// One direction of media: `slots` packets of `payload_type` from
    /// `start_ms`, through `net`.
    fn rtp(&mut self, forward: bool, start_ms: i64, slots: u64, payload_type: u8, net: Network) {
        let (src, dst) = if forward {
            (self.media.caller, self.media.callee)
        } else {
            (self.media.callee, self.media.caller)
        };
        let s = self.plan.add_audio(
            self.rng,
            Audio {
                name: "",
                impairment: "",
                src,
                dst,
                payload_type,
                start_us: self.at(start_ms),
                slots,
                impairments: net.impairments,
            },
            None,
        );
        let spec = &mut self.plan.sources[s].0;
        spec.lost_slots = net.lost_slots;
        spec.extra_delay_us = net.extra_delay_us;
        let truth = spec.segments[0].truth;
        let dir = if forward {
            "caller-to-callee"
        } else {
            "callee-to-caller"
        };
        let again = self.c.streams.iter().filter(|(_, f)| *f == forward).count();
        let id = &mut self.plan.identities[truth];
        id.name = match again {
            0 => format!("{}:{dir}", self.c.name),
            n => format!("{}:{dir}:{}", self.c.name, n + 1),
        };
        id.impairment = net.words;
        self.c.streams.push((truth, forward));
    }

    /// Media both ways after the answer at `answer_ms` (callee from +20 ms,
    /// caller from +40 ms after its ACK), `slots` each; returns the end of
    /// the later direction, ms.
    fn talk(&mut self, answer_ms: i64, slots: u64, forward: Network, backward: Network) -> i64 {
        self.rtp(false, answer_ms + 20, slots, 0, backward);
        self.rtp(true, answer_ms + 40, slots, 0, forward);
        answer_ms + 40 + slots as i64 * PTIME_US / 1000
    }

    /// Marks the call as part of the MOS ordering with impairment `label`
    /// caller → callee.
    fn ranked(&mut self, label: &str) {
        self.c.impairment = label.to_owned();
        self.c.mos_ranked = true;
        self.c.impaired_direction = Some("caller_to_callee");
    }

    fn done(self) {
        self.plan.calls.push(self.c);
    }
}

fn ua(user: &str, display: &str, ip: [u8; 4], product: &'static str) -> UserAgent {
    UserAgent {
        user: user.into(),
        display: display.into(),
        ip: Ipv4Addr::from(ip),
        product,
    }
}

/// `n` distinct slots in `lo..hi`, no two adjacent (independent losses).
fn spread_slots(rng: &mut Rng, n: usize, lo: u64, hi: u64) -> Vec<u64> {
    let mut v: Vec<u64> = Vec::with_capacity(n);
    while v.len() < n {
        let s = rng.range(lo, hi - 1);
        if v.iter().all(|&x| x.abs_diff(s) > 1) {
            v.push(s);
        }
    }
    v.sort_unstable();
    v
}

/// Extra delay (ms) of each slot of the jitter call: two delay spikes that
/// drain by less than a packet time per packet (so nothing is reordered),
/// peaking at 97 and 141 ms; slots not listed get none.
const JITTER_SPIKES: [(u64, &[i64]); 2] = [
    (30, &[97, 84, 71, 58, 45, 32, 19, 6]),
    (62, &[141, 124, 107, 90, 73, 56, 39, 22, 5]),
];

/// The committed `calls` scenario (see `captures/README.md`).
pub(super) fn calls(rng: &mut Rng) -> Plan {
    let mut plan = Plan::new();
    let alice = ua(
        "alice",
        "Alice",
        [192, 0, 2, 10],
        "Linphone Desktop/5.2.5 (belle-sip/5.2.4)",
    );
    let bob = ua(
        "bob",
        "Bob",
        [198, 51, 100, 20],
        "Yealink SIP-T46S 66.86.0.15",
    );
    let carol = ua(
        "carol",
        "Carol",
        [192, 0, 2, 30],
        "Grandstream GXP2170 1.0.11.23",
    );
    let dave = ua("dave", "Dave", [198, 51, 100, 40], "Zoiper rv2.10.19.6");
    let frank = ua("frank", "Frank", [203, 0, 113, 99], "Cisco-CP8845/14.2.1");
    // Each call: start (ms), ports (caller, callee) from its index.
    let mut k = 0u16;
    let mut next = |start_ms: i64, rng: &mut Rng| {
        let ports = (40_000 + 100 * k, 50_000 + 100 * k);
        k += 1;
        (start_ms * 1000 + rng.below(1000) as i64, ports)
    };

    // 0: answered, clean, caller hangs up.
    let (t, p) = next(0, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "basic",
        "answered (INVITE, 100, 180, 200, ACK), 2 s of PCMU both ways, BYE from the caller",
        (&alice, &bob),
        t,
        p,
    );
    c.answered(210, 2_210);
    c.ranked("clean");
    let end = c.talk(2_210, MOS_SLOTS, background(), background());
    c.bye(end + 100, true, None);
    c.done();

    // 1: answered, 1 % loss, callee hangs up.
    let (t, p) = next(1_300, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "callee-hangup",
        "answered, BYE from the callee",
        (&carol, &dave),
        t,
        p,
    );
    c.answered(180, 1_900);
    c.ranked("loss-1pct");
    let lost = spread_slots(c.rng, 1, 10, 90);
    let fwd = Network {
        words: "0..1 ms jitter; 1 packet of 100 lost (1 %)".into(),
        lost_slots: lost,
        ..background()
    };
    let end = c.talk(1_900, MOS_SLOTS, fwd, background());
    c.bye(end + 100, false, None);
    c.done();

    // 2: answered, 5 % random loss, BYE with a Q.850 Reason.
    let (t, p) = next(2_700, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "q850-bye",
        "answered, BYE from the caller with Reason: Q.850;cause=16",
        (&bob, &alice),
        t,
        p,
    );
    c.answered(240, 3_100);
    c.ranked("loss-5pct");
    let lost = spread_slots(c.rng, 5, 10, 90);
    let fwd = Network {
        words: "0..1 ms jitter; 5 single packets of 100 lost (5 %, random)".into(),
        lost_slots: lost,
        ..background()
    };
    let end = c.talk(3_100, MOS_SLOTS, fwd, background());
    c.bye(end + 100, true, Some((16, "Normal call clearing")));
    c.done();

    // 3: busy.
    let (t, p) = next(3_900, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "busy",
        "486 Busy Here with Reason: Q.850;cause=17, ACK",
        (&dave, &carol),
        t,
        p,
    );
    c.invite(0);
    c.respond(30, 100, "Trying", false, None);
    c.fail(120, 486, "Busy Here", Some((17, "User busy")));
    c.done();

    // 4: no answer: rings 20 s, then 480.
    let (t, p) = next(4_600, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "no-answer",
        "180, then 480 Temporarily Unavailable after 20 s of ringing (Q.850 cause 19), ACK",
        (&alice, &dave),
        t,
        p,
    );
    c.invite(0);
    c.respond(30, 100, "Trying", false, None);
    c.respond(190, 180, "Ringing", false, None);
    c.fail(
        20_190,
        480,
        "Temporarily Unavailable",
        Some((19, "No answer from user (user alerted)")),
    );
    c.done();

    // 5: rejected with 403.
    let (t, p) = next(5_500, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "rejected-403",
        "100, then 403 Forbidden, ACK",
        (&carol, &bob),
        t,
        p,
    );
    c.invite(0);
    c.respond(30, 100, "Trying", false, None);
    c.fail(80, 403, "Forbidden", None);
    c.done();

    // 6: rejected with 603 while ringing.
    let (t, p) = next(6_800, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "rejected-603",
        "180, then 603 Decline after 3 s (Q.850 cause 21), ACK",
        (&bob, &carol),
        t,
        p,
    );
    c.invite(0);
    c.respond(30, 100, "Trying", false, None);
    c.respond(200, 180, "Ringing", false, None);
    c.fail(3_200, 603, "Decline", Some((21, "Call rejected")));
    c.done();

    // 7: cancelled while ringing.
    let (t, p) = next(8_200, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "cancelled",
        "180, CANCEL from the caller after 4 s, 200 to the CANCEL, 487 to the INVITE, ACK",
        (&dave, &alice),
        t,
        p,
    );
    c.invite(0);
    c.respond(30, 100, "Trying", false, None);
    c.respond(220, 180, "Ringing", false, None);
    c.cancel(4_220);
    c.done();

    // 8: failed with 503.
    let (t, p) = next(9_400, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "failed-503",
        "100, then 503 Service Unavailable, ACK",
        (&alice, &carol),
        t,
        p,
    );
    c.invite(0);
    c.respond(30, 100, "Trying", false, None);
    c.fail(150, 503, "Service Unavailable", None);
    c.done();

    // 9: early media: 183 with SDP, callee media before the 200.
    let (t, p) = next(10_100, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "early-media",
        "183 Session Progress with SDP, 0.5 s of callee media before the 200, then 1 s both ways, BYE from the caller",
        (&bob, &dave),
        t,
        p,
    );
    c.invite(0);
    c.respond(25, 100, "Trying", false, None);
    c.respond(300, 183, "Session Progress", true, None);
    c.rtp(false, 320, 75, 0, background());
    c.respond(820, 200, "OK", true, None);
    c.ack(850);
    c.rtp(true, 860, 50, 0, background());
    c.bye(1_960, true, None);
    c.done();

    // 10: re-INVITE: PCMU, then PCMA on new ports.
    let (t, p) = next(11_600, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "re-invite",
        "answered with PCMU, 0.8 s both ways; re-INVITE from the caller moves both sides to PCMA on new ports (new SSRCs), 0.8 s more, BYE from the caller",
        (&carol, &alice),
        t,
        p,
    );
    c.answered(150, 1_150);
    c.talk(1_150, 40, background(), background());
    c.reinvite(1_990, (p.0 + 50, p.1 + 50));
    c.rtp(false, 2_070, 40, 8, background());
    c.rtp(true, 2_100, 40, 8, background());
    c.bye(3_000, true, None);
    c.done();

    // 11: answered, no BYE in the capture.
    let (t, p) = next(12_900, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "no-bye",
        "answered, 1 s of media both ways, then nothing: no BYE in the capture (33 s of capture follow)",
        (&dave, &bob),
        t,
        p,
    );
    c.answered(200, 1_200);
    c.talk(1_200, 50, background(), background());
    c.done();

    // 12: INVITE retransmitted once (the first copy never reached the
    // callee), answered; 5 % bursty loss.
    let (t, p) = next(14_200, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "invite-retransmit",
        "INVITE retransmitted after 500 ms (same branch and bytes), then 100, 180, 200, ACK; BYE from the caller",
        (&bob, &carol),
        t,
        p,
    );
    c.invite(0);
    c.invite(500);
    c.respond(530, 100, "Trying", false, None);
    c.respond(700, 180, "Ringing", false, None);
    c.respond(2_700, 200, "OK", true, None);
    c.ack(2_730);
    c.ranked("loss-5pct-bursty");
    let start = c.rng.range(10, 85);
    let fwd = Network {
        words: "0..1 ms jitter; 5 consecutive packets of 100 lost (5 %, one burst)".into(),
        lost_slots: (start..start + 5).collect(),
        ..background()
    };
    let end = c.talk(2_700, MOS_SLOTS, fwd, background());
    c.bye(end + 100, true, None);
    c.done();

    // 13: answered, delay spikes over 50 ms (below 200 ms) caller → callee.
    let (t, p) = next(15_800, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "jitter",
        "answered; caller -> callee delay spikes of 97 and 141 ms: late for a 50 ms jitter buffer, in time for a 200 ms one",
        (&carol, &dave),
        t,
        p,
    );
    c.answered(170, 1_500);
    c.ranked("jitter-spikes");
    let mut extra = vec![0i64; MOS_SLOTS as usize];
    for (from, spike) in JITTER_SPIKES {
        for (k, ms) in spike.iter().enumerate() {
            extra[from as usize + k] = ms * 1000;
        }
    }
    let fwd = Network {
        words: "0..1 ms jitter; extra delay spikes from slot 30 (97 ms, -13 ms per packet) and slot 62 (141 ms, -17 ms per packet)".into(),
        extra_delay_us: extra,
        ..background()
    };
    let end = c.talk(1_500, MOS_SLOTS, fwd, background());
    c.bye(end + 250, false, None);
    c.done();

    // 14: INVITE to an unreachable UA, retransmitted by Timer A (RFC 3261
    // §17.1.1.2: 0.5, 1, 2, 4, 8, 16 s), never answered.
    let (t, p) = next(17_000, rng);
    let mut c = Call::new(
        &mut plan,
        rng,
        "invite-timeout",
        "INVITE to an unreachable UA, retransmitted 6 times (Timer A, 0.5 s doubling); no response",
        (&alice, &frank),
        t,
        p,
    );
    for ms in [0, 500, 1_500, 3_500, 7_500, 15_500, 31_500] {
        c.invite(ms);
    }
    c.done();
    plan
}

/// The `calls-bulk` benchmark scenario: `n` overlapping calls, one every
/// 37 ms on average, between pools of 250 phones each side.
pub(super) fn calls_bulk(rng: &mut Rng, n: u64) -> Plan {
    const PRODUCTS: [&str; 4] = [
        "Yealink SIP-T46S 66.86.0.15",
        "Grandstream GXP2170 1.0.11.23",
        "Linphone Desktop/5.2.5 (belle-sip/5.2.4)",
        "Cisco-CP8845/14.2.1",
    ];
    let phone = |side: u8, k: u64| {
        let user = format!("+4930{side}{k:06}");
        UserAgent {
            display: user.clone(),
            ip: Ipv4Addr::new(10, side, 0, k as u8 + 1),
            product: PRODUCTS[(k as usize + usize::from(side)) % PRODUCTS.len()],
            user,
        }
    };
    let callers: Vec<UserAgent> = (0..250).map(|k| phone(1, k)).collect();
    let callees: Vec<UserAgent> = (0..250).map(|k| phone(2, k)).collect();
    let mut plan = Plan::new();
    for k in 0..n {
        let start_us = (k * 37 + rng.below(30)) as i64 * 1000 + rng.below(1000) as i64;
        let caller = &callers[(k % 250) as usize];
        let callee = &callees[((k * 7 + 3) % 250) as usize];
        let slot = (k % 20_000) as u16;
        let ports = (16_384 + 2 * slot, 24_576 + 2 * slot);
        let draw = rng.below(1000);
        let mut c = Call::new(
            &mut plan,
            rng,
            &format!("call-{k}"),
            "",
            (caller, callee),
            start_us,
            ports,
        );
        let ring = c.rng.range(100, 1_500) as i64;
        c.invite(0);
        let trying = 20 + c.rng.below(40) as i64;
        c.respond(trying, 100, "Trying", false, None);
        let behaviour = match draw {
            0..800 => {
                let answer = ring + c.rng.range(500, 4_000) as i64;
                c.respond(ring, 180, "Ringing", false, None);
                c.respond(answer, 200, "OK", true, None);
                c.ack(answer + 30);
                let slots = c.rng.range(100, 250);
                let end = c.talk(answer, slots, background(), background());
                let by_caller = c.rng.chance(0.6);
                c.bye(end + 60, by_caller, None);
                "answered"
            }
            800..860 => {
                c.fail(ring, 486, "Busy Here", Some((17, "User busy")));
                "busy"
            }
            860..900 => {
                c.respond(ring, 180, "Ringing", false, None);
                let after = c.rng.range(3_000, 8_000) as i64;
                c.fail(ring + after, 480, "Temporarily Unavailable", None);
                "no answer"
            }
            900..930 => {
                if c.rng.chance(0.5) {
                    c.fail(ring, 403, "Forbidden", None);
                } else {
                    c.respond(ring, 180, "Ringing", false, None);
                    let after = c.rng.range(1_000, 4_000) as i64;
                    c.fail(ring + after, 603, "Decline", Some((21, "Call rejected")));
                }
                "rejected"
            }
            930..965 => {
                c.respond(ring, 180, "Ringing", false, None);
                let after = c.rng.range(1_000, 5_000) as i64;
                c.cancel(ring + after);
                "cancelled"
            }
            _ => {
                if c.rng.chance(0.5) {
                    c.fail(ring, 503, "Service Unavailable", None);
                } else {
                    c.fail(ring, 500, "Server Internal Error", None);
                }
                "failed"
            }
        };
        c.c.behaviour = behaviour.to_owned();
        c.done();
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_the_final_code() {
        assert_eq!(outcome(Some(200), false), "answered");
        assert_eq!(outcome(Some(486), false), "busy");
        assert_eq!(outcome(Some(600), false), "busy");
        assert_eq!(outcome(Some(480), false), "no_answer");
        assert_eq!(outcome(Some(408), false), "no_answer");
        assert_eq!(outcome(Some(487), true), "cancelled");
        assert_eq!(outcome(Some(487), false), "rejected");
        assert_eq!(outcome(Some(403), false), "rejected");
        assert_eq!(outcome(Some(302), false), "rejected");
        assert_eq!(outcome(Some(603), false), "rejected");
        assert_eq!(outcome(Some(503), false), "failed");
        assert_eq!(outcome(Some(604), false), "failed");
        assert_eq!(outcome(None, false), "timed_out");
    }

    #[test]
    fn spread_slots_are_distinct_and_not_adjacent() {
        let mut rng = Rng::new(5);
        let v = spread_slots(&mut rng, 5, 10, 90);
        assert_eq!(v.len(), 5);
        assert!(v.windows(2).all(|w| w[1] > w[0] + 1));
        assert!(v.iter().all(|s| (10..90).contains(s)));
    }

    #[test]
    fn jitter_spikes_drain_without_reordering() {
        for (_, spike) in JITTER_SPIKES {
            // Each packet is delayed less than a packet time (minus the
            // background jitter) more than the next: arrival order = send order.
            assert!(spike
                .windows(2)
                .all(|w| w[0] - w[1] < PTIME_US / 1000 - BACKGROUND_JITTER_US / 1000));
            assert!(spike.iter().all(|&ms| ms < 200));
        }
    }
}
