//! JSON lines output: one object per line, each with a `"type"`.
//!
//! The field names are a contract users script against (DESIGN.md, "JSON
//! output contract"): existing names never change meaning; new fields may be
//! added.

use crate::analyze::{StreamRecord, Summary};
use crate::call::signal_log::{Ladder, SignalLog};
use crate::call::{CallRecord, Direction};
use crate::media::quality::StreamQuality;
use crate::media::rtcp::RtcpReport;
use crate::media::stream::LOSS_RUN_BUCKETS;
use crate::media::stream::{IntervalSample, JITTER_BUFFER_NAMES};
use crate::time::PacketTime;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

/// Serialises a time as RFC 3339 with microseconds.
pub fn serialize_time<S: serde::Serializer>(t: &PacketTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&t.rfc3339_micros())
}

/// Serialises a value by its `Display`.
pub fn serialize_display<T: std::fmt::Display, S: serde::Serializer>(
    v: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Serialises a unit enum by its `Debug` name in lower case (`Udp` → `udp`).
pub fn serialize_debug_lower<T: std::fmt::Debug, S: serde::Serializer>(
    v: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:?}").to_ascii_lowercase())
}

/// A `"stream"` record.
#[derive(Serialize)]
struct StreamLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    file: &'a Path,
    ssrc: u32,
    src: String,
    dst: String,
    observation: String,
    payload_type: u8,
    codec: String,
    clock_rate: u32,
    payload_types: &'a [u8],
    packets: u64,
    expected: u64,
    lost: i64,
    lost_percent: f64,
    duplicates: u64,
    out_of_order: u64,
    seq_errors: u64,
    seq_wraps: u32,
    ssrc_changes: u32,
    max_delta_ms: f64,
    mean_delta_ms: f64,
    mean_jitter_ms: f64,
    max_jitter_ms: f64,
    markers: u64,
    telephone_events: u64,
    comfort_noise: u64,
    payload_bytes: u64,
    loss_runs: &'a [u64; LOSS_RUN_BUCKETS],
    max_loss_run: u64,
    first_frame: u64,
    first_time: String,
    last_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtcp: Option<&'a RtcpReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    direction: Option<&'static str>,
    mos: Option<f64>,
    r_factor: Option<f64>,
    mos_jb: Option<BTreeMap<&'static str, f64>>,
    quality: Option<&'a StreamQuality>,
    jitter_buffers: BTreeMap<&'static str, JitterBufferLine>,
    intervals: &'a [IntervalSample],
    intervals_dropped: u64,
}

/// What one emulated jitter buffer did.
#[derive(Serialize)]
struct JitterBufferLine {
    played: u64,
    late: u64,
    late_percent: f64,
    mean_delay_ms: f64,
    max_delay_ms: f64,
}

/// The codec label of a stream: the encoding name, or `RTPType-N` for a
/// dynamic payload type with no SDP (the label Wireshark uses).
pub fn codec_label(name: Option<&str>, payload_type: u8) -> String {
    match name {
        Some(n) => n.to_owned(),
        None => format!("RTPType-{payload_type}"),
    }
}

fn stream_line<'a>(file: &'a Path, s: &'a StreamRecord) -> StreamLine<'a> {
    let r = &s.report;
    StreamLine {
        kind: "stream",
        file,
        ssrc: s.key.ssrc,
        src: s.key.src.to_string(),
        dst: s.key.dst.to_string(),
        observation: s.key.observation.to_string(),
        payload_type: r.payload_type,
        codec: codec_label(r.codec, r.payload_type),
        clock_rate: r.clock_rate,
        payload_types: &r.payload_types,
        packets: r.packets,
        expected: r.expected,
        lost: r.lost,
        lost_percent: r.lost_percent,
        duplicates: r.duplicates,
        out_of_order: r.out_of_order,
        seq_errors: r.seq_errors,
        seq_wraps: r.seq_wraps,
        ssrc_changes: r.ssrc_changes,
        max_delta_ms: r.max_delta_ms,
        mean_delta_ms: r.mean_delta_ms,
        mean_jitter_ms: r.mean_jitter_ms,
        max_jitter_ms: r.max_jitter_ms,
        markers: r.markers,
        telephone_events: r.telephone_events,
        comfort_noise: r.comfort_noise,
        payload_bytes: r.payload_bytes,
        loss_runs: &r.loss_runs,
        max_loss_run: r.max_loss_run,
        first_frame: s.first_frame,
        first_time: r.first_time.rfc3339_micros().to_string(),
        last_time: r.last_time.rfc3339_micros().to_string(),
        rtcp: s.rtcp.as_ref(),
        call_id: s.call.as_ref().map(|c| c.call_id.as_str()),
        direction: s.call.as_ref().map(|c| c.direction.as_str()),
        mos: r.quality.as_ref().map(|q| q.mos),
        r_factor: r.quality.as_ref().map(|q| q.r),
        mos_jb: r
            .quality
            .as_ref()
            .map(|q| q.buffers.iter().map(|b| (b.buffer, b.mos)).collect()),
        quality: r.quality.as_ref(),
        jitter_buffers: JITTER_BUFFER_NAMES
            .iter()
            .zip(&r.jitter_buffers)
            .map(|(name, jb)| {
                (
                    *name,
                    JitterBufferLine {
                        played: jb.played,
                        late: jb.late,
                        late_percent: jb.late_percent(),
                        mean_delay_ms: jb.mean_delay_ms,
                        max_delay_ms: jb.max_delay_ms,
                    },
                )
            })
            .collect(),
        intervals: &r.intervals,
        intervals_dropped: r.intervals_dropped,
    }
}

/// Writes one `"stream"` line.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_stream(out: &mut dyn Write, file: &Path, s: &StreamRecord) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &stream_line(file, s))?;
    out.write_all(b"\n")
}

/// Writes one `"interval"` line per 5-second sample a running stream
/// completed (a live capture's provisional samples; the stream's final
/// record has them all, rated with the whole stream).
///
/// # Errors
/// I/O errors of `out`.
pub fn write_samples(
    out: &mut dyn Write,
    file: &Path,
    s: &crate::analyze::StreamSamples,
) -> io::Result<()> {
    #[derive(Serialize)]
    struct IntervalLine<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        file: &'a Path,
        call_id: Option<&'a str>,
        direction: Option<&'static str>,
        ssrc: u32,
        src: String,
        dst: String,
        codec: String,
        #[serde(flatten)]
        sample: &'a IntervalSample,
    }
    let r = &s.stream.report;
    for sample in &r.intervals {
        let line = IntervalLine {
            kind: "interval",
            file,
            call_id: s.stream.call.as_ref().map(|c| c.call_id.as_str()),
            direction: s.stream.call.as_ref().map(|c| c.direction.as_str()),
            ssrc: s.stream.key.ssrc,
            src: s.stream.key.src.to_string(),
            dst: s.stream.key.dst.to_string(),
            codec: codec_label(r.codec, r.payload_type),
            sample,
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes one `"call_update"` line per call in progress.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_call_updates(
    out: &mut dyn Write,
    file: &Path,
    updates: &[crate::analyze::CallUpdate],
) -> io::Result<()> {
    #[derive(Serialize)]
    struct UpdateLine<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        file: &'a Path,
        #[serde(flatten)]
        update: &'a crate::analyze::CallUpdate,
    }
    for update in updates {
        serde_json::to_writer(
            &mut *out,
            &UpdateLine {
                kind: "call_update",
                file,
                update,
            },
        )?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes the `"summary"` line.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_summary(out: &mut dyn Write, summary: &Summary) -> io::Result<()> {
    #[derive(Serialize)]
    struct SummaryLine<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(flatten)]
        summary: &'a Summary,
    }
    serde_json::to_writer(
        &mut *out,
        &SummaryLine {
            kind: "summary",
            summary,
        },
    )?;
    out.write_all(b"\n")
}

/// A `"call"` record.
#[derive(Serialize)]
struct CallLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    file: &'a Path,
    call_id: &'a str,
    from: &'a str,
    to: &'a str,
    from_user: Option<&'a str>,
    to_user: Option<&'a str>,
    caller_ip: String,
    callee_ip: String,
    caller_user_agent: Option<&'a str>,
    callee_user_agent: Option<&'a str>,
    asserted_identity: Option<&'a str>,
    icid: Option<&'a str>,
    outcome: &'static str,
    state: crate::call::dialog::CallState,
    final_code: Option<u16>,
    final_reason: Option<&'a str>,
    q850_cause: Option<u16>,
    hangup_by: Option<&'static str>,
    ended_by: crate::call::record::EndedBy,
    invite_time: String,
    ringing_time: Option<String>,
    answer_time: Option<String>,
    end_time: Option<String>,
    setup_ms: Option<f64>,
    pdd_ms: Option<f64>,
    answer_delay_ms: Option<f64>,
    duration_s: Option<f64>,
    media_duration_s: Option<f64>,
    codec: Option<&'a str>,
    codecs: &'a [String],
    messages: u32,
    retransmissions: u32,
    reinvites: u32,
    mos_caller_to_callee: Option<f64>,
    mos_callee_to_caller: Option<f64>,
    quality: Option<&'static str>,
    diagnosis: &'a [&'static str],
    caller_to_callee: Option<&'a crate::call::record::DirectionSummary>,
    callee_to_caller: Option<&'a crate::call::record::DirectionSummary>,
    streams: Vec<serde_json::Value>,
    intervals: Vec<CallInterval<'a>>,
    #[serde(flatten)]
    volte: Option<VolteLine<'a>>,
}

/// The VoLTE part of a `"call"` record, present only when the correlator
/// joined legs to the call.
#[derive(Serialize)]
struct VolteLine<'a> {
    imsi: Option<&'a str>,
    msisdn: Option<&'a str>,
    ue_ip: Option<String>,
    volte_state: crate::call::VolteState,
    failed_leg: Option<&'static str>,
    state_reason: Option<&'a str>,
    sip_leg: SipLeg<'a>,
    rx_leg: Option<&'a crate::call::volte::RxLeg>,
    gx_leg: Option<&'a crate::call::volte::GxLeg>,
    bearer_leg: Option<&'a crate::call::volte::BearerLeg>,
    rtp_leg: Option<&'a crate::call::volte::RtpLeg>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_ue: Option<&'a crate::call::volte::UeLegs>,
    metrics: crate::call::VolteMetrics,
}

/// The SIP leg's keys (the rest of the call record describes it).
#[derive(Serialize)]
struct SipLeg<'a> {
    call_id: &'a str,
    icid: Option<&'a str>,
}

fn volte_line(r: &CallRecord) -> Option<VolteLine<'_>> {
    let legs = r.volte.as_ref()?;
    Some(VolteLine {
        imsi: legs.ue.imsi.as_deref(),
        msisdn: legs.ue.msisdn.as_deref(),
        ue_ip: legs.ue.ue_ip.map(|ip| ip.to_string()),
        volte_state: legs.state,
        failed_leg: legs.failed_leg,
        state_reason: legs.state_reason.as_deref(),
        sip_leg: SipLeg {
            call_id: &r.call.call_id,
            icid: r.call.icid.as_deref(),
        },
        rx_leg: legs.ue.rx_leg.as_ref(),
        gx_leg: legs.ue.gx_leg.as_ref(),
        bearer_leg: legs.ue.bearer_leg.as_ref(),
        rtp_leg: legs.ue.rtp_leg.as_ref(),
        remote_ue: legs.remote_ue.as_deref(),
        metrics: crate::call::VolteMetrics::of(r)?,
    })
}

/// One 5-second sample of one direction of a call.
#[derive(Serialize)]
struct CallInterval<'a> {
    direction: &'static str,
    #[serde(flatten)]
    sample: &'a IntervalSample,
}

/// The samples of both directions' main streams, in time order.
fn call_intervals(r: &CallRecord) -> Vec<CallInterval<'_>> {
    let mut out: Vec<CallInterval<'_>> = [Direction::CallerToCallee, Direction::CalleeToCaller]
        .into_iter()
        .filter_map(|d| r.direction(d).map(|s| (d, s)))
        .flat_map(|(d, s)| {
            s.intervals.iter().map(move |sample| CallInterval {
                direction: d.as_str(),
                sample,
            })
        })
        .collect();
    out.sort_by_key(|i| (i.sample.start, i.direction));
    out
}

fn time_opt(t: Option<PacketTime>) -> Option<String> {
    t.map(|t| t.rfc3339_micros().to_string())
}

/// Writes one `"call"` line with its streams.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_call(out: &mut dyn Write, file: &Path, r: &CallRecord) -> io::Result<()> {
    let c = &r.call;
    let streams = r
        .streams
        .iter()
        .map(|s| serde_json::to_value(stream_line(file, s)))
        .collect::<Result<Vec<_>, _>>()?;
    let line = CallLine {
        kind: "call",
        file,
        call_id: &c.call_id,
        from: c.from(),
        to: c.to(),
        from_user: c.from_user(),
        to_user: c.to_user(),
        caller_ip: c.caller_ip().to_string(),
        callee_ip: c.callee_ip().to_string(),
        caller_user_agent: c.caller_user_agent(),
        callee_user_agent: c.callee_user_agent(),
        asserted_identity: c.asserted_identity(),
        icid: c.icid.as_deref(),
        outcome: r.outcome.as_str(),
        state: c.state,
        final_code: c.final_code,
        final_reason: c.final_reason(),
        q850_cause: c.q850_cause,
        hangup_by: c.hangup_by.map(|s| s.as_str()),
        ended_by: r.ended_by,
        invite_time: c.invite_time.rfc3339_micros().to_string(),
        ringing_time: time_opt(c.ringing_time()),
        answer_time: time_opt(c.answer_time()),
        end_time: time_opt(r.end_time),
        setup_ms: r.setup_ms(),
        pdd_ms: r.pdd_ms(),
        answer_delay_ms: r.answer_delay_ms(),
        duration_s: r.duration_s(),
        media_duration_s: r.media_duration_s,
        codec: r.codecs.first().map(String::as_str),
        codecs: &r.codecs,
        messages: c.messages,
        retransmissions: c.retransmissions,
        reinvites: c.reinvites,
        mos_caller_to_callee: r.mos(Direction::CallerToCallee),
        mos_callee_to_caller: r.mos(Direction::CalleeToCaller),
        quality: r.quality,
        diagnosis: &r.diagnosis,
        caller_to_callee: r.caller_to_callee.as_ref(),
        callee_to_caller: r.callee_to_caller.as_ref(),
        streams,
        intervals: call_intervals(r),
        volte: volte_line(r),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

/// Writes the ladder of one call as one `"ladder"` object: the participants
/// (endpoints in order of appearance, with their role when known — UE,
/// remote, P-CSCF, PCRF, PGW, SGW, MME — and a name: the Origin-Host of a
/// DIAMETER peer, else the role) and the messages of every protocol in time
/// order.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_ladder(
    out: &mut dyn Write,
    file: &Path,
    r: &CallRecord,
    signals: &SignalLog,
) -> io::Result<()> {
    let ladder = Ladder::of(r, signals);
    let mut participants: Vec<serde_json::Value> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (_, e) in &ladder.messages {
        for ep in [e.src, e.dst] {
            let address = ep.to_string();
            if !seen.contains(&address) {
                let node = ladder.node(ep);
                participants.push(serde_json::json!({
                    "address": address,
                    "role": node.map(|n| n.role.name()),
                    "name": node.map(|n| n.name()),
                }));
                seen.push(address);
            }
        }
    }
    let messages: Vec<serde_json::Value> = ladder
        .messages
        .iter()
        .map(|(protocol, e)| {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("protocol".into(), (*protocol).into());
            }
            v
        })
        .collect();
    let line = serde_json::json!({
        "type": "ladder",
        "file": file,
        "call_id": r.call.call_id,
        "participants": participants,
        "messages": messages,
        "messages_not_kept": r.call.ladder_overflow,
    });
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}
