//! Scenarios: which streams, calls and impairments a capture holds, and the
//! loop that writes them in arrival order while the truth is accounted.

use super::calls::{self, CallPlan};
use super::pcap_writer::PcapWriter;
use super::rng::Rng;
use super::sip::{self, Dialog, Party, Request, Rtpmap, SenderReport};
use super::source::{
    DtmfEvent, GilbertElliott, Impairments, Segment, Source, SourceSpec, Talkspurts,
};
use super::truth::{
    ExpectedCapture, StreamIdentity, StreamTruth, CALL_DEFINITIONS, JITTER_DEFINITION,
    MOS_ORDER_RULE,
};
use super::volte;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::net::SocketAddrV4;

/// 2026-01-01T00:00:00Z in µs: the start of every generated capture.
pub const BASE_TIME_US: i64 = 1_767_225_600 * 1_000_000;
/// Packet time of every generated stream.
pub(super) const PTIME_US: i64 = 20_000;
/// G.711 at 8 kHz: timestamp units (and payload bytes) per 20 ms packet.
pub(super) const G711_SAMPLES: u32 = 160;
/// Tag of the expected-results JSON format.
pub const EXPECTED_FORMAT: &str = "voxprobe-synth-expected/1";
/// Default packet count of the `throughput` scenario.
pub const DEFAULT_THROUGHPUT_PACKETS: u64 = 5_000_000;
/// Packets per stream the `throughput` scenario aims for (50 s at 20 ms).
const THROUGHPUT_PACKETS_PER_STREAM: u64 = 2_500;
/// Most concurrent streams of the `throughput` scenario.
const THROUGHPUT_MAX_STREAMS: u64 = 2_000;
/// Default call count of the `calls-bulk` scenario.
pub const DEFAULT_BULK_CALLS: u64 = 1_000;

/// A named recipe for a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Eight concurrent G.711 streams without signalling, one impairment each:
    /// clean (with talkspurts), 5 % random loss, burst loss, 30 ms jitter,
    /// swaps, duplicates, sequence wrap, SSRC change.
    Impairments,
    /// One SIP call (INVITE/100/180/200/ACK … BYE/200) with SDP, 10 s of PCMA
    /// both ways, two RFC 4733 digits from the caller, 2 % loss callee →
    /// caller, RTCP SR every 5 s each way.
    SipCall,
    /// Many concurrent clean-ish streams (0.2 % loss, ≤ 1 ms jitter), about
    /// `packets` RTP packets in all, for benchmarks.
    Throughput {
        /// Packets aimed for (a little less arrives: 0.2 % are lost).
        packets: u64,
    },
    /// Fifteen SIP calls between five user agents, one outcome or behaviour
    /// each (answered with either side hanging up, busy, no answer, rejected,
    /// cancelled, failed, timed out, early media, re-INVITE, no BYE, INVITE
    /// retransmission) and five answered calls with graded media impairments
    /// for MOS ordering; truth per call (see [`super::truth::ExpectedCall`]).
    Calls,
    /// `calls` overlapping SIP calls with 2-5 s of G.711 both ways, most
    /// answered, a realistic mix of failures, for benchmarks.
    CallsBulk {
        /// Calls in the capture.
        calls: u64,
    },
    /// Seven VoLTE calls (GTPv2-C, Gx, Rx, SIP, RTP in GTP-U), three
    /// answered and one failing at each leg; truth per call (see
    /// [`super::volte::ExpectedVolteCall`]).
    Volte,
    /// `calls` overlapping VoLTE calls without media, for benchmarks.
    VolteBulk {
        /// Calls in the capture.
        calls: u64,
    },
}

impl Scenario {
    /// Names accepted by [`Scenario::from_name`].
    pub const NAMES: [&'static str; 7] = [
        "impairments",
        "sip-call",
        "throughput",
        "calls",
        "calls-bulk",
        "volte",
        "volte-bulk",
    ];

    /// The scenario called `name`; `size` is the packet count of `throughput`
    /// (default [`DEFAULT_THROUGHPUT_PACKETS`]) and the call count of
    /// `calls-bulk` (default [`DEFAULT_BULK_CALLS`]), ignored by the others.
    pub fn from_name(name: &str, size: Option<u64>) -> Option<Scenario> {
        match name {
            "impairments" => Some(Scenario::Impairments),
            "sip-call" => Some(Scenario::SipCall),
            "throughput" => Some(Scenario::Throughput {
                packets: size.unwrap_or(DEFAULT_THROUGHPUT_PACKETS),
            }),
            "calls" => Some(Scenario::Calls),
            "calls-bulk" => Some(Scenario::CallsBulk {
                calls: size.unwrap_or(DEFAULT_BULK_CALLS),
            }),
            "volte" => Some(Scenario::Volte),
            "volte-bulk" => Some(Scenario::VolteBulk {
                calls: size.unwrap_or(volte::DEFAULT_VOLTE_BULK_CALLS),
            }),
            _ => None,
        }
    }

    /// The scenario's name.
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Impairments => "impairments",
            Scenario::SipCall => "sip-call",
            Scenario::Throughput { .. } => "throughput",
            Scenario::Calls => "calls",
            Scenario::CallsBulk { .. } => "calls-bulk",
            Scenario::Volte => "volte",
            Scenario::VolteBulk { .. } => "volte-bulk",
        }
    }

    fn plan(&self, seed: u64) -> Plan {
        let mut rng = Rng::new(seed);
        match *self {
            Scenario::Impairments => impairments(&mut rng),
            Scenario::SipCall => sip_call(&mut rng),
            Scenario::Throughput { packets } => throughput(&mut rng, packets),
            Scenario::Calls => calls::calls(&mut rng),
            Scenario::CallsBulk { calls } => calls::calls_bulk(&mut rng, calls),
            Scenario::Volte | Scenario::VolteBulk { .. } => {
                unreachable!("VoLTE scenarios are written by volte::")
            }
        }
    }
}

/// Writes the capture of `scenario` with `seed` to `out` as classic pcap and
/// returns what an analyser should find in it. Nothing is kept per packet:
/// memory is bounded by the number of streams and their delay spread.
///
/// # Errors
/// Errors of `out`.
pub fn generate<W: Write>(scenario: Scenario, seed: u64, out: W) -> io::Result<ExpectedCapture> {
    match scenario {
        Scenario::Volte => return volte::volte(seed, out),
        Scenario::VolteBulk { calls } => return volte::volte_bulk(seed, calls, out),
        _ => {}
    }
    let mut plan = scenario.plan(seed);
    let call_plans = std::mem::take(&mut plan.calls);
    let count_sip = !call_plans.is_empty();
    let mut sip_requests: BTreeMap<String, u64> = BTreeMap::new();
    let mut sip_responses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut truths: Vec<StreamTruth> = plan.identities.into_iter().map(StreamTruth::new).collect();
    let mut sources: Vec<Source> = plan
        .sources
        .into_iter()
        .map(|(spec, rng)| Source::new(spec, rng))
        .collect();
    let mut controls = plan.controls;
    controls.sort_by_key(|c| c.time_us); // stable: equal times keep plan order

    let mut w = PcapWriter::new(out)?;
    let mut ready: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();
    for (i, s) in sources.iter_mut().enumerate() {
        if let Some(t) = s.peek_time() {
            ready.push(Reverse((t, i)));
        }
    }
    let mut buf = Vec::with_capacity(1500);
    let (mut rtp, mut rtcp, mut sip_messages) = (0u64, 0u64, 0u64);
    let mut next_control = 0;
    loop {
        let rtp_time = ready.peek().map(|Reverse((t, _))| *t);
        let control = controls.get(next_control);
        match (control, rtp_time) {
            (Some(c), t) if t.is_none_or(|t| c.time_us <= t) => {
                next_control += 1;
                match &c.kind {
                    ControlKind::Sip(text) => {
                        sip_messages += 1;
                        if count_sip {
                            count_sip_message(text, &mut sip_requests, &mut sip_responses);
                        }
                        w.write_udp(c.time_us, c.src, c.dst, text.as_bytes())?;
                    }
                    ControlKind::Rtcp {
                        source,
                        receives,
                        cname,
                    } => {
                        rtcp += 1;
                        let s = &sources[*source];
                        let spec = s.spec();
                        let clock = u64::from(G711_SAMPLES) * 1_000_000 / PTIME_US as u64;
                        let elapsed = (c.time_us - spec.start_us).max(0) as u64;
                        let seg = spec.segments[0];
                        let sent = s.sent(0);
                        let block = receives.map(|r| {
                            let t = &truths[r];
                            let (ext, lost, fraction, jitter) = t.report_block();
                            (t.identity().ssrc, fraction, lost, ext, jitter)
                        });
                        sip::rtcp_sr(
                            &SenderReport {
                                ssrc: seg.ssrc,
                                time_us: c.time_us,
                                rtp_timestamp: seg
                                    .start_timestamp
                                    .wrapping_add((elapsed * clock / 1_000_000) as u32),
                                packets: sent as u32,
                                octets: (sent * spec.payload_len as u64) as u32,
                                block,
                                cname,
                            },
                            &mut buf,
                        );
                        w.write_udp(c.time_us, c.src, c.dst, &buf)?;
                    }
                }
            }
            (_, Some(_)) => {
                let Some(Reverse((_, i))) = ready.pop() else {
                    break;
                };
                let s = &mut sources[i];
                let Some(p) = s.pop() else { continue };
                let seg = s.spec().segments[p.segment];
                truths[seg.truth].handle_arrival(s.arrival(&p));
                s.build_rtp(&p, &mut buf);
                let id = truths[seg.truth].identity();
                w.write_udp(p.time_us, id.src, id.dst, &buf)?;
                rtp += 1;
                if let Some(t) = s.peek_time() {
                    ready.push(Reverse((t, i)));
                }
            }
            (None, None) => break,
            (Some(_), None) => unreachable!("handled by the first arm"),
        }
    }
    for s in &sources {
        for (k, seg) in s.spec().segments.iter().enumerate() {
            truths[seg.truth].set_sent(s.sent(k));
        }
    }
    let frames = w.frames();
    w.finish()?;
    let calls: Vec<_> = call_plans.iter().map(|c| c.report(&truths)).collect();
    let mos_order = calls::mos_order(&call_plans, &calls);
    let (call_definitions, mos_order_rule) = match (calls.is_empty(), mos_order.is_empty()) {
        (true, _) => (String::new(), String::new()),
        (false, true) => (CALL_DEFINITIONS.to_owned(), String::new()),
        (false, false) => (CALL_DEFINITIONS.to_owned(), MOS_ORDER_RULE.to_owned()),
    };
    Ok(ExpectedCapture {
        format: EXPECTED_FORMAT.to_owned(),
        scenario: scenario.name().to_owned(),
        seed,
        frames,
        rtp_packets: rtp,
        rtcp_packets: rtcp,
        sip_messages,
        jitter_definition: JITTER_DEFINITION.to_owned(),
        streams: truths.iter().filter_map(StreamTruth::report).collect(),
        sip_requests,
        sip_responses,
        call_definitions,
        calls,
        mos_order,
        mos_order_rule,
        ..ExpectedCapture::default()
    })
}

/// Counts a SIP message by method or status code (its start line).
fn count_sip_message(
    text: &str,
    requests: &mut BTreeMap<String, u64>,
    responses: &mut BTreeMap<u16, u64>,
) {
    let line = text.split("\r\n").next().unwrap_or_default();
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let code = rest.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        *responses.entry(code).or_default() += 1;
    } else {
        let method = line.split(' ').next().unwrap_or_default();
        *requests.entry(method.to_owned()).or_default() += 1;
    }
}

/// What a scenario decided before any packet is written.
pub(super) struct Plan {
    pub(super) sources: Vec<(SourceSpec, Rng)>,
    pub(super) identities: Vec<StreamIdentity>,
    pub(super) controls: Vec<Control>,
    /// Calls whose truth is reported (call scenarios only).
    pub(super) calls: Vec<CallPlan>,
}

/// A non-RTP datagram at a fixed time.
pub(super) struct Control {
    pub(super) time_us: i64,
    pub(super) src: SocketAddrV4,
    pub(super) dst: SocketAddrV4,
    pub(super) kind: ControlKind,
}

pub(super) enum ControlKind {
    Sip(String),
    /// An SR from `source`, with a report block about the truth `receives`.
    Rtcp {
        source: usize,
        receives: Option<usize>,
        cname: String,
    },
}

/// A random SSRC (never 0, which some tools treat as unset).
pub(super) fn ssrc(rng: &mut Rng) -> u32 {
    rng.range(1, u64::from(u32::MAX)) as u32
}

pub(super) fn addr(ip: [u8; 4], port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(ip.into(), port)
}

/// A plain G.711 sender: one SSRC, no events, no silence.
pub(super) struct Audio {
    pub(super) name: &'static str,
    pub(super) impairment: &'static str,
    pub(super) src: SocketAddrV4,
    pub(super) dst: SocketAddrV4,
    pub(super) payload_type: u8,
    pub(super) start_us: i64,
    pub(super) slots: u64,
    pub(super) impairments: Impairments,
}

impl Plan {
    pub(super) fn new() -> Self {
        Plan {
            sources: Vec::new(),
            identities: Vec::new(),
            controls: Vec::new(),
            calls: Vec::new(),
        }
    }

    /// Adds a sender; returns its source index. `start_seq` overrides the
    /// random first sequence number.
    pub(super) fn add_audio(&mut self, rng: &mut Rng, a: Audio, start_seq: Option<u16>) -> usize {
        let ssrc = ssrc(rng);
        let start_seq = start_seq.unwrap_or_else(|| rng.below(65_536) as u16);
        let start_timestamp = rng.next_u64() as u32;
        let truth = self.identities.len();
        self.identities.push(StreamIdentity {
            name: a.name.to_owned(),
            impairment: a.impairment.to_owned(),
            src: a.src,
            dst: a.dst,
            ssrc,
            start_seq,
            clock_rate: 8000,
            ssrc_change: false,
        });
        let spec = SourceSpec {
            payload_type: a.payload_type,
            event_payload_type: 101,
            payload_len: G711_SAMPLES as usize,
            start_us: a.start_us,
            slots: a.slots,
            ptime_us: PTIME_US,
            samples_per_packet: G711_SAMPLES,
            base_delay_us: 1_500,
            impairments: a.impairments,
            talkspurts: None,
            dtmf: Vec::new(),
            segments: vec![Segment {
                from_slot: 0,
                ssrc,
                start_seq,
                start_timestamp,
                truth,
            }],
            lost_slots: Vec::new(),
            extra_delay_us: Vec::new(),
        };
        self.sources.push((spec, rng.fork(truth as u64)));
        self.sources.len() - 1
    }

    /// From `slot` on, source `source` sends with a new SSRC, sequence and
    /// timestamp base (same 5-tuple), accounted as a new stream.
    fn change_ssrc(&mut self, rng: &mut Rng, source: usize, slot: u64, name: &'static str) {
        let ssrc = ssrc(rng);
        let start_seq = rng.below(65_536) as u16;
        let start_timestamp = rng.next_u64() as u32;
        let truth = self.identities.len();
        let mut id = self.identities[self.sources[source].0.segments[0].truth].clone();
        id.name = name.to_owned();
        id.ssrc = ssrc;
        id.start_seq = start_seq;
        id.ssrc_change = true;
        self.identities.push(id);
        self.sources[source].0.segments.push(Segment {
            from_slot: slot,
            ssrc,
            start_seq,
            start_timestamp,
            truth,
        });
    }
}

/// Slots per stream in `impairments` (2.8 s: eight streams stay under 300 KB).
const IMPAIRMENT_SLOTS: u64 = 140;

fn impairments(rng: &mut Rng) -> Plan {
    let mut plan = Plan::new();
    let clean = Impairments {
        clean_head: 5,
        clean_tail: 2,
        ..Impairments::default()
    };
    let streams: [(&str, &str, u8, Impairments); 8] = [
        ("clean", "none; talkspurts of 50 packets with 15 silent slots between (marker bit on each start)", 0, clean),
        ("loss-5pct", "independent random loss, p = 0.05", 8, Impairments { random_loss: 0.05, ..clean }),
        (
            "burst-loss",
            "Gilbert-Elliott loss: good->bad 0.04, bad->good 0.35 per packet, all bad-state packets lost",
            0,
            Impairments { burst: Some(GilbertElliott { p: 0.04, r: 0.35 }), ..clean },
        ),
        ("jitter-30ms", "extra delay uniform 0..30 ms per packet: reordering", 8, Impairments { jitter_us: 30_000, ..clean }),
        ("swap", "p = 0.06 a packet is delayed 25 ms, past its successor", 0, Impairments { swap: 0.06, ..clean }),
        ("duplicates", "p = 0.05 a packet arrives twice (copy 0.1-2 ms later)", 8, Impairments { duplicate: 0.05, ..clean }),
        ("seq-wrap", "none; first sequence number 65500, wraps to 0", 0, clean),
        ("ssrc-change", "none; at slot 70 the flow switches to a new SSRC and sequence", 0, clean),
    ];
    for (k, (name, impairment, pt, imp)) in streams.into_iter().enumerate() {
        let k8 = k as u8;
        let a = Audio {
            name,
            impairment,
            src: addr([192, 0, 2, 10 + k8], 20_000 + 2 * u16::from(k8)),
            dst: addr([198, 51, 100, 10 + k8], 30_000 + 2 * u16::from(k8)),
            payload_type: pt,
            start_us: BASE_TIME_US + k as i64 * 2_500,
            slots: IMPAIRMENT_SLOTS,
            impairments: imp,
        };
        let start_seq = (name == "seq-wrap").then_some(65_500);
        let s = plan.add_audio(rng, a, start_seq);
        match name {
            "clean" => {
                plan.sources[s].0.talkspurts = Some(Talkspurts {
                    talk: 50,
                    silence: 15,
                })
            }
            "ssrc-change" => plan.change_ssrc(rng, s, 70, "ssrc-change-2"),
            _ => {}
        }
    }
    plan
}

pub(super) fn hex(rng: &mut Rng, digits: usize) -> String {
    let mut s = format!("{:016x}", rng.next_u64());
    s.truncate(digits);
    s
}

/// Slots of media each way in `sip-call` (10 s).
const CALL_SLOTS: u64 = 500;

fn sip_call(rng: &mut Rng) -> Plan {
    let mut plan = Plan::new();
    let t0 = BASE_TIME_US;
    let ms = |x: i64| t0 + x * 1000;
    let caller = Party {
        user: "alice".into(),
        display: "Alice".into(),
        sip: addr([192, 0, 2, 10], 5060),
        media: addr([192, 0, 2, 10], 40_000),
        tag: hex(rng, 10),
        sdp_session: 2_890_844_526,
    };
    let callee = Party {
        user: "bob".into(),
        display: "Bob".into(),
        sip: addr([198, 51, 100, 20], 5060),
        media: addr([198, 51, 100, 20], 50_000),
        tag: hex(rng, 10),
        sdp_session: 2_890_844_730,
    };
    let dialog = Dialog {
        call_id: format!("{}@192.0.2.10", hex(rng, 16)),
        caller,
        callee,
        domain: "example.com".into(),
    };
    let payloads = [
        Rtpmap {
            pt: 8,
            encoding: "PCMA/8000",
            fmtp: None,
        },
        Rtpmap {
            pt: 101,
            encoding: "telephone-event/8000",
            fmtp: Some("0-16"),
        },
    ];
    let offer = sip::sdp(&dialog.caller, &payloads);
    let answer = sip::sdp(&dialog.callee, &payloads);
    let (invite_branch, ack_branch, bye_branch) = (hex(rng, 12), hex(rng, 12), hex(rng, 12));
    let invite = Request {
        method: "INVITE",
        cseq: 1,
        branch: &invite_branch,
        to_tag: false,
        body: Some(&offer),
    };
    let ack = Request {
        method: "ACK",
        cseq: 1,
        branch: &ack_branch,
        to_tag: true,
        body: None,
    };
    let bye = Request {
        method: "BYE",
        cseq: 2,
        branch: &bye_branch,
        to_tag: true,
        body: None,
    };
    let (a, b) = (dialog.caller.sip, dialog.callee.sip);
    let media_start_ms = 2_050;
    let media_end_ms = media_start_ms + CALL_SLOTS as i64 * 20;
    let signalling = [
        (0, true, dialog.request(true, &invite)),
        (
            40,
            false,
            dialog.response(true, 100, "Trying", &invite, None),
        ),
        (
            400,
            false,
            dialog.response(true, 180, "Ringing", &invite, None),
        ),
        (
            2_000,
            false,
            dialog.response(true, 200, "OK", &invite, Some(&answer)),
        ),
        (2_045, true, dialog.request(true, &ack)),
        (media_end_ms + 250, true, dialog.request(true, &bye)),
        (
            media_end_ms + 290,
            false,
            dialog.response(true, 200, "OK", &bye, None),
        ),
    ];
    for (at, from_caller, text) in signalling {
        let (src, dst) = if from_caller { (a, b) } else { (b, a) };
        plan.controls.push(Control {
            time_us: ms(at),
            src,
            dst,
            kind: ControlKind::Sip(text),
        });
    }

    let (am, bm) = (dialog.caller.media, dialog.callee.media);
    let light = Impairments {
        jitter_us: 3_000,
        clean_head: 5,
        clean_tail: 2,
        ..Impairments::default()
    };
    let forward = plan.add_audio(
        rng,
        Audio {
            name: "caller-to-callee",
            impairment: "0..3 ms jitter; RFC 4733 digits 1 and # from slots 200 and 260",
            src: am,
            dst: bm,
            payload_type: 8,
            start_us: ms(media_start_ms),
            slots: CALL_SLOTS,
            impairments: light,
        },
        None,
    );
    plan.sources[forward].0.dtmf = vec![
        DtmfEvent {
            slot: 200,
            event: 1,
            slots: 8,
        },
        DtmfEvent {
            slot: 260,
            event: 11,
            slots: 6,
        },
    ];
    let backward = plan.add_audio(
        rng,
        Audio {
            name: "callee-to-caller",
            impairment: "0..3 ms jitter; independent random loss p = 0.02",
            src: bm,
            dst: am,
            payload_type: 8,
            start_us: ms(media_start_ms - 30),
            slots: CALL_SLOTS,
            impairments: Impairments {
                random_loss: 0.02,
                ..light
            },
        },
        None,
    );
    // RTCP SR each way every 5 s, on the RTP port + 1.
    let rtcp = |m: SocketAddrV4| SocketAddrV4::new(*m.ip(), m.port() + 1);
    for k in 0..2 {
        let at = media_start_ms + 2_500 + 5_000 * k;
        plan.controls.push(Control {
            time_us: ms(at),
            src: rtcp(am),
            dst: rtcp(bm),
            kind: ControlKind::Rtcp {
                source: forward,
                receives: Some(1),
                cname: "alice@192.0.2.10".into(),
            },
        });
        plan.controls.push(Control {
            time_us: ms(at + 37),
            src: rtcp(bm),
            dst: rtcp(am),
            kind: ControlKind::Rtcp {
                source: backward,
                receives: Some(0),
                cname: "bob@198.51.100.20".into(),
            },
        });
    }
    plan
}

fn throughput(rng: &mut Rng, packets: u64) -> Plan {
    let mut plan = Plan::new();
    let streams = (packets / THROUGHPUT_PACKETS_PER_STREAM).clamp(1, THROUGHPUT_MAX_STREAMS);
    let per = packets / streams;
    let extra = packets % streams;
    let imp = Impairments {
        random_loss: 0.002,
        jitter_us: 1_000,
        clean_head: 5,
        clean_tail: 2,
        ..Impairments::default()
    };
    for k in 0..streams {
        let (hi, lo) = ((k / 200) as u8, (k % 200) as u8 + 1);
        plan.add_audio(
            rng,
            Audio {
                name: "throughput",
                impairment: "independent random loss p = 0.002; 0..1 ms jitter",
                src: addr([10, 1, hi, lo], 20_000),
                dst: addr([10, 2, hi, lo], 30_000),
                payload_type: if k % 2 == 0 { 0 } else { 8 },
                start_us: BASE_TIME_US + (k * PTIME_US as u64 / streams) as i64,
                slots: per + u64::from(k < extra),
                impairments: imp,
            },
            None,
        );
    }
    plan
}
