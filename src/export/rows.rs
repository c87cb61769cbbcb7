//! The rows of the ClickHouse tables, made from the probe's records. Their
//! fields follow the columns of [`super::schema`] one for one (the client
//! checks names and types against `DESCRIBE TABLE` before it inserts), and
//! they serialise both to ClickHouse's RowBinary and, for the spool, to
//! JSON and back.
//!
//! Times are microseconds since the epoch (`DateTime64(6)`), addresses are
//! IPv6 (IPv4 mapped), and a call's UUID is a name-based UUID of its Call-ID
//! and INVITE time: the same call from the same capture always gets the same
//! one, so a retried insert or a second analysis of a file replaces rows
//! instead of adding them.

use super::alerts::{QualityAlert, Severity, Thresholds};
use super::labels::Labeller;
use crate::analyze::StreamRecord;
use crate::call::dialog::LadderEntry;
use crate::call::signal_log::SignalEntry;
use crate::call::{CallRecord, Direction, Outcome, VolteMetrics};
use crate::time::PacketTime;
use clickhouse::Row;
use serde::{Deserialize, Serialize};
use serde_repr::{Deserialize_repr, Serialize_repr};
use std::net::{IpAddr, Ipv6Addr};
use uuid::Uuid;

/// The namespace of call UUIDs (a fixed random UUID: only voxprobe makes them).
const CALL_NAMESPACE: Uuid = Uuid::from_u128(0x6f0c_5a8e_2d3b_4c1e_9a7f_51b2_c8d4_e603);

/// The stable UUID of a call.
pub fn call_uuid(call_id: &str, invite_time: PacketTime) -> Uuid {
    let mut name = Vec::with_capacity(call_id.len() + 21);
    name.extend_from_slice(call_id.as_bytes());
    name.push(0);
    name.extend_from_slice(invite_time.as_nanos().to_string().as_bytes());
    Uuid::new_v5(&CALL_NAMESPACE, &name)
}

/// `DateTime64(6)` value of a packet time.
fn micros(t: PacketTime) -> i64 {
    t.as_nanos().div_euclid(1000)
}

/// An address as a ClickHouse `IPv6` (IPv4 mapped).
fn ipv6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn f32_opt(v: Option<f64>) -> Option<f32> {
    // Narrowing is the point: the columns are Float32.
    #[allow(clippy::cast_possible_truncation)]
    v.map(|v| v as f32)
}

#[allow(clippy::cast_possible_truncation)]
fn f32_of(v: f64) -> f32 {
    v as f32
}

/// `outcome` as its `Enum8` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize_repr, Deserialize_repr)]
#[repr(i8)]
pub enum OutcomeCode {
    /// answered
    Answered = 1,
    /// busy
    Busy = 2,
    /// no_answer
    NoAnswer = 3,
    /// rejected
    Rejected = 4,
    /// cancelled
    Cancelled = 5,
    /// failed
    Failed = 6,
    /// timed_out
    TimedOut = 7,
}

impl From<Outcome> for OutcomeCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Answered => OutcomeCode::Answered,
            Outcome::Busy => OutcomeCode::Busy,
            Outcome::NoAnswer => OutcomeCode::NoAnswer,
            Outcome::Rejected => OutcomeCode::Rejected,
            Outcome::Cancelled => OutcomeCode::Cancelled,
            Outcome::Failed => OutcomeCode::Failed,
            Outcome::TimedOut => OutcomeCode::TimedOut,
        }
    }
}

/// `severity` as its `Enum8` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize_repr, Deserialize_repr)]
#[repr(i8)]
pub enum SeverityCode {
    /// warning
    Warning = 1,
    /// critical
    Critical = 2,
}

/// A row of `calls`.
#[derive(Clone, Debug, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CallRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub call_uuid: Uuid,
    pub version: u64,
    pub probe: String,
    pub source: String,
    pub call_id: String,
    pub invite_time: i64,
    pub ringing_time: Option<i64>,
    pub answer_time: Option<i64>,
    pub end_time: Option<i64>,
    pub from_uri: String,
    pub to_uri: String,
    pub from_user: String,
    pub to_user: String,
    pub caller_ip: Ipv6Addr,
    pub caller_port: u16,
    pub callee_ip: Ipv6Addr,
    pub callee_port: u16,
    pub caller_user_agent: String,
    pub callee_user_agent: String,
    pub carrier: String,
    pub agent: String,
    pub outcome: OutcomeCode,
    pub state: String,
    pub final_code: u16,
    pub final_reason: String,
    pub q850_cause: Option<u16>,
    pub hangup_by: String,
    pub ended_by: String,
    pub setup_ms: Option<f64>,
    pub pdd_ms: Option<f64>,
    pub answer_delay_ms: Option<f64>,
    pub duration_s: Option<f64>,
    pub media_duration_s: Option<f64>,
    pub codec: String,
    pub codecs: Vec<String>,
    pub messages: u32,
    pub retransmissions: u32,
    pub reinvites: u32,
    pub streams: u16,
    pub mos: Option<f32>,
    pub mos_caller_to_callee: Option<f32>,
    pub mos_callee_to_caller: Option<f32>,
    pub lost_percent: Option<f32>,
    pub jitter_ms: Option<f32>,
    pub quality: String,
    pub diagnosis: Vec<String>,
    pub icid: String,
    pub imsi: String,
    pub msisdn: String,
    pub ue_ip: Option<Ipv6Addr>,
    pub volte_state: String,
    pub failed_leg: String,
    pub state_reason: String,
    pub rx_session_id: String,
    pub gx_session_id: String,
    pub bearer_teid: Option<u32>,
    pub rx_authorization_ms: Option<f64>,
    pub gx_policy_ms: Option<f64>,
    pub bearer_setup_ms: Option<f64>,
    pub volte_legs: String,
}

/// A row of `media_streams`.
#[derive(Clone, Debug, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct StreamRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub call_uuid: Uuid,
    pub version: u64,
    pub probe: String,
    pub call_id: String,
    pub carrier: String,
    pub direction: String,
    pub ssrc: u32,
    pub src_ip: Ipv6Addr,
    pub src_port: u16,
    pub dst_ip: Ipv6Addr,
    pub dst_port: u16,
    pub observation: String,
    pub payload_type: u8,
    pub codec: String,
    pub clock_rate: u32,
    pub first_time: i64,
    pub last_time: i64,
    pub packets: u64,
    pub expected: u64,
    pub lost: i64,
    pub lost_percent: f32,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub seq_errors: u64,
    pub max_loss_run: u64,
    pub max_delta_ms: f32,
    pub mean_jitter_ms: f32,
    pub max_jitter_ms: f32,
    pub late_percent: f32,
    pub mos: Option<f32>,
    pub r_factor: Option<f32>,
    pub rtt_ms: Option<f32>,
}

/// A row of `quality_intervals`.
#[derive(Clone, Debug, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct IntervalRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub call_uuid: Uuid,
    pub version: u64,
    pub probe: String,
    pub call_id: String,
    pub carrier: String,
    pub agent: String,
    pub direction: String,
    pub codec: String,
    pub ssrc: u32,
    pub interval_start: u32,
    pub packets: u64,
    pub expected: u64,
    pub lost: i64,
    pub lost_percent: f32,
    pub mean_jitter_ms: f32,
    pub max_jitter_ms: f32,
    pub late: u64,
    pub mos: Option<f32>,
    pub r_factor: Option<f32>,
}

/// A row of `signaling`.
#[derive(Clone, Debug, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SignalingRow {
    pub time: i64,
    pub version: u64,
    pub probe: String,
    pub frame: u64,
    pub protocol: String,
    pub src_ip: Ipv6Addr,
    pub src_port: u16,
    pub dst_ip: Ipv6Addr,
    pub dst_port: u16,
    pub transport: String,
    pub label: String,
    pub retransmission: bool,
    #[serde(with = "clickhouse::serde::uuid")]
    pub call_uuid: Uuid,
    pub call_id: String,
    pub icid: String,
    pub session_id: String,
    pub imsi: String,
    pub teid: Option<u32>,
    pub gtp_sequence: Option<u32>,
    pub origin_host: String,
    pub src_role: String,
    pub dst_role: String,
}

/// A row of `quality_alerts`.
#[derive(Clone, Debug, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct AlertRow {
    pub time: i64,
    pub version: u64,
    pub probe: String,
    #[serde(with = "clickhouse::serde::uuid")]
    pub call_uuid: Uuid,
    pub call_id: String,
    pub carrier: String,
    pub agent: String,
    pub direction: String,
    pub metric: String,
    pub severity: SeverityCode,
    pub value: f64,
    pub threshold: f64,
}

/// Rows for every table, made together from what one step of a run
/// produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    /// `calls`.
    pub calls: Vec<CallRow>,
    /// `media_streams`.
    pub streams: Vec<StreamRow>,
    /// `quality_intervals`.
    pub intervals: Vec<IntervalRow>,
    /// `signaling`.
    pub signaling: Vec<SignalingRow>,
    /// `quality_alerts`.
    pub alerts: Vec<AlertRow>,
}

impl Rows {
    /// Rows in all tables.
    pub fn len(&self) -> usize {
        self.calls.len()
            + self.streams.len()
            + self.intervals.len()
            + self.signaling.len()
            + self.alerts.len()
    }

    /// No rows at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What every row of one run carries, and how calls are labelled.
#[derive(Clone, Debug)]
pub struct RowContext {
    /// The probe's name (`probe` column).
    pub probe: String,
    /// Carrier and agent of a call.
    pub labels: Labeller,
    /// Per-call quality alert thresholds.
    pub thresholds: Thresholds,
}

/// The identity of a call that its streams, samples and alerts repeat.
struct CallKeys<'a> {
    uuid: Uuid,
    call_id: &'a str,
    carrier: &'a str,
    agent: &'a str,
}

impl RowContext {
    /// Adds the rows of one closed call: the call, its streams and their
    /// samples, its SIP messages (when its ladder was kept), and its quality
    /// alerts (also returned, for the log and the alerts file).
    pub fn add_call(
        &self,
        rows: &mut Rows,
        source: &str,
        version: u64,
        r: &CallRecord,
    ) -> Vec<QualityAlert> {
        let c = &r.call;
        let keys = CallKeys {
            uuid: call_uuid(&c.call_id, c.invite_time),
            call_id: &c.call_id,
            carrier: self.labels.carrier(c),
            agent: self.labels.agent(c),
        };
        rows.calls.push(self.call_row(source, version, r, &keys));
        for s in &r.streams {
            self.add_stream(rows, version, s, Some(&keys));
        }
        for e in r.ladder() {
            rows.signaling.push(SignalingRow {
                call_uuid: keys.uuid,
                call_id: keys.call_id.to_owned(),
                icid: c.icid().unwrap_or_default().to_owned(),
                ..self.message_row(version, "sip", e)
            });
        }
        let alerts = self.thresholds.evaluate(r);
        for a in &alerts {
            rows.alerts.push(AlertRow {
                time: micros(a.time),
                version,
                probe: self.probe.clone(),
                call_uuid: keys.uuid,
                call_id: keys.call_id.to_owned(),
                carrier: keys.carrier.to_owned(),
                agent: keys.agent.to_owned(),
                direction: a.direction.as_str().to_owned(),
                metric: a.metric.to_owned(),
                severity: match a.severity {
                    Severity::Warning => SeverityCode::Warning,
                    Severity::Critical => SeverityCode::Critical,
                },
                value: a.value,
                threshold: a.threshold,
            });
        }
        alerts
    }

    /// Adds the rows of a stream no call claimed.
    pub fn add_orphan_stream(&self, rows: &mut Rows, version: u64, s: &StreamRecord) {
        self.add_stream(rows, version, s, None);
    }

    /// Adds a DIAMETER or GTPv2-C message, or a SIP message of no call.
    pub fn add_signal(&self, rows: &mut Rows, version: u64, s: &SignalEntry) {
        let role = |r: Option<crate::call::signal_log::Role>| {
            r.map(|r| r.name().to_owned()).unwrap_or_default()
        };
        rows.signaling.push(SignalingRow {
            icid: s.icid.clone().unwrap_or_default(),
            session_id: s.session_id.clone().unwrap_or_default(),
            imsi: s.imsi.clone().unwrap_or_default(),
            teid: s.teid,
            gtp_sequence: s.gtp_sequence,
            origin_host: s.origin_host.clone().unwrap_or_default(),
            src_role: role(s.roles.map(|r| r.0)),
            dst_role: role(s.roles.map(|r| r.1)),
            call_id: s.call_id.clone().unwrap_or_default(),
            ..self.message_row(version, s.protocol, &s.entry)
        });
    }

    /// The row of one message with what every protocol has; the keys empty.
    fn message_row(&self, version: u64, protocol: &str, e: &LadderEntry) -> SignalingRow {
        SignalingRow {
            time: micros(e.time),
            version,
            probe: self.probe.clone(),
            frame: e.frame,
            protocol: protocol.to_owned(),
            src_ip: ipv6(e.src.ip),
            src_port: e.src.port,
            dst_ip: ipv6(e.dst.ip),
            dst_port: e.dst.port,
            transport: format!("{:?}", e.transport).to_ascii_lowercase(),
            label: e.label.clone(),
            retransmission: e.retransmission,
            call_uuid: Uuid::nil(),
            call_id: String::new(),
            icid: String::new(),
            session_id: String::new(),
            imsi: String::new(),
            teid: None,
            gtp_sequence: None,
            origin_host: String::new(),
            src_role: String::new(),
            dst_role: String::new(),
        }
    }

    fn call_row(&self, source: &str, version: u64, r: &CallRecord, keys: &CallKeys) -> CallRow {
        let c = &r.call;
        let text = |s: Option<&str>| s.unwrap_or_default().to_owned();
        let volte = r.volte.as_ref();
        let metrics = volte.and_then(|_| VolteMetrics::of(r));
        CallRow {
            call_uuid: keys.uuid,
            version,
            probe: self.probe.clone(),
            source: source.to_owned(),
            call_id: c.call_id.clone(),
            invite_time: micros(c.invite_time),
            ringing_time: c.ringing_time().map(micros),
            answer_time: c.answer_time().map(micros),
            end_time: r.end_time.map(micros),
            from_uri: c.from().to_owned(),
            to_uri: c.to().to_owned(),
            from_user: text(c.from_user()),
            to_user: text(c.to_user()),
            caller_ip: ipv6(c.caller_signalling.ip),
            caller_port: c.caller_signalling.port,
            callee_ip: ipv6(c.callee_signalling.ip),
            callee_port: c.callee_signalling.port,
            caller_user_agent: text(c.caller_user_agent()),
            callee_user_agent: text(c.callee_user_agent()),
            carrier: keys.carrier.to_owned(),
            agent: keys.agent.to_owned(),
            outcome: r.outcome.into(),
            state: enum_label(&c.state),
            final_code: c.final_code.unwrap_or(0),
            final_reason: text(c.final_reason()),
            q850_cause: c.q850_cause,
            hangup_by: c
                .hangup_by
                .map(|s| s.as_str())
                .unwrap_or_default()
                .to_owned(),
            ended_by: enum_label(&r.ended_by),
            setup_ms: r.setup_ms(),
            pdd_ms: r.pdd_ms(),
            answer_delay_ms: r.answer_delay_ms(),
            duration_s: r.duration_s(),
            media_duration_s: r.media_duration_s,
            codec: r.codecs.first().cloned().unwrap_or_default(),
            codecs: r.codecs.clone(),
            messages: c.messages,
            retransmissions: c.retransmissions,
            reinvites: c.reinvites,
            streams: u16::try_from(r.streams.len()).unwrap_or(u16::MAX),
            mos: f32_opt(r.worst(|d| d.mos, true)),
            mos_caller_to_callee: f32_opt(r.mos(Direction::CallerToCallee)),
            mos_callee_to_caller: f32_opt(r.mos(Direction::CalleeToCaller)),
            lost_percent: f32_opt(r.worst(|d| Some(d.lost_percent), false)),
            jitter_ms: f32_opt(r.worst(|d| Some(d.mean_jitter_ms), false)),
            quality: r.quality.unwrap_or_default().to_owned(),
            diagnosis: r.diagnosis.iter().map(|d| (*d).to_owned()).collect(),
            icid: text(c.icid()),
            imsi: text(volte.and_then(|v| v.ue.imsi.as_deref())),
            msisdn: text(volte.and_then(|v| v.ue.msisdn.as_deref())),
            ue_ip: volte.and_then(|v| v.ue.ue_ip).map(ipv6),
            volte_state: volte.map(|v| enum_label(&v.state)).unwrap_or_default(),
            failed_leg: text(volte.and_then(|v| v.failed_leg)),
            state_reason: text(volte.and_then(|v| v.state_reason.as_deref())),
            rx_session_id: text(
                volte.and_then(|v| v.ue.rx_leg.as_ref().map(|l| l.session_id.as_str())),
            ),
            gx_session_id: text(
                volte.and_then(|v| v.ue.gx_leg.as_ref().map(|l| l.session_id.as_str())),
            ),
            bearer_teid: volte
                .and_then(|v| v.ue.bearer_leg.as_ref())
                .and_then(|b| b.uplink_teids.first().or(b.downlink_teids.first()).copied()),
            rx_authorization_ms: metrics.as_ref().and_then(|m| m.rx_authorization_time_ms),
            gx_policy_ms: metrics.as_ref().and_then(|m| m.gx_policy_time_ms),
            bearer_setup_ms: metrics.as_ref().and_then(|m| m.bearer_setup_time_ms),
            volte_legs: volte
                .and_then(|v| {
                    serde_json::to_string(&serde_json::json!({
                        "rx_leg": v.ue.rx_leg,
                        "gx_leg": v.ue.gx_leg,
                        "bearer_leg": v.ue.bearer_leg,
                        "rtp_leg": v.ue.rtp_leg,
                        "remote_ue": v.remote_ue,
                        "metrics": metrics,
                    }))
                    .ok()
                })
                .unwrap_or_default(),
        }
    }

    fn add_stream(&self, rows: &mut Rows, version: u64, s: &StreamRecord, call: Option<&CallKeys>) {
        let r = &s.report;
        let direction = s
            .call
            .as_ref()
            .map(|c| c.direction.as_str())
            .unwrap_or_default();
        let codec = super::json::codec_label(r.codec, r.payload_type);
        let uuid = call.map_or(Uuid::nil(), |k| k.uuid);
        let call_id = call.map_or("", |k| k.call_id);
        let carrier = call.map_or("", |k| k.carrier);
        let headline = r.jitter_buffers.get(crate::media::stream::HEADLINE_BUFFER);
        rows.streams.push(StreamRow {
            call_uuid: uuid,
            version,
            probe: self.probe.clone(),
            call_id: call_id.to_owned(),
            carrier: carrier.to_owned(),
            direction: direction.to_owned(),
            ssrc: s.key.ssrc,
            src_ip: ipv6(s.key.src.ip),
            src_port: s.key.src.port,
            dst_ip: ipv6(s.key.dst.ip),
            dst_port: s.key.dst.port,
            observation: s.key.observation.to_string(),
            payload_type: r.payload_type,
            codec: codec.clone(),
            clock_rate: r.clock_rate,
            first_time: micros(r.first_time),
            last_time: micros(r.last_time),
            packets: r.packets,
            expected: r.expected,
            lost: r.lost,
            lost_percent: f32_of(r.lost_percent),
            duplicates: r.duplicates,
            out_of_order: r.out_of_order,
            seq_errors: r.seq_errors,
            max_loss_run: r.max_loss_run,
            max_delta_ms: f32_of(r.max_delta_ms),
            mean_jitter_ms: f32_of(r.mean_jitter_ms),
            max_jitter_ms: f32_of(r.max_jitter_ms),
            late_percent: f32_of(headline.map_or(0.0, |b| b.late_percent())),
            mos: f32_opt(r.quality.as_ref().map(|q| q.mos)),
            r_factor: f32_opt(r.quality.as_ref().map(|q| q.r)),
            rtt_ms: f32_opt(
                s.rtcp
                    .as_ref()
                    .and_then(|x| x.rtt.as_ref())
                    .map(|t| t.mean_ms),
            ),
        });
        self.add_intervals(rows, version, s, call);
    }
}

impl RowContext {
    /// Adds the 5-second samples of a stream still running (provisional
    /// rows: the stream's final record writes them again, rated with the
    /// whole stream, with a later version that replaces these).
    pub fn add_samples(&self, rows: &mut Rows, version: u64, s: &crate::analyze::StreamSamples) {
        let owner = s.owner.as_ref().zip(s.stream.call.as_ref());
        let keys = owner.map(|(o, c)| CallKeys {
            uuid: call_uuid(&c.call_id, o.invite_time),
            call_id: &c.call_id,
            carrier: &o.carrier,
            agent: &o.agent,
        });
        self.add_intervals(rows, version, &s.stream, keys.as_ref());
    }

    fn add_intervals(
        &self,
        rows: &mut Rows,
        version: u64,
        s: &StreamRecord,
        call: Option<&CallKeys>,
    ) {
        let r = &s.report;
        let direction = s
            .call
            .as_ref()
            .map(|c| c.direction.as_str())
            .unwrap_or_default();
        let codec = super::json::codec_label(r.codec, r.payload_type);
        for i in &r.intervals {
            let lost_percent = if i.expected > 0 {
                #[allow(clippy::cast_precision_loss)]
                let p = i.lost.max(0) as f64 * 100.0 / i.expected as f64;
                p
            } else {
                0.0
            };
            rows.intervals.push(IntervalRow {
                call_uuid: call.map_or(Uuid::nil(), |k| k.uuid),
                version,
                probe: self.probe.clone(),
                call_id: call.map_or("", |k| k.call_id).to_owned(),
                carrier: call.map_or("", |k| k.carrier).to_owned(),
                agent: call.map_or("", |k| k.agent).to_owned(),
                direction: direction.to_owned(),
                codec: codec.clone(),
                ssrc: s.key.ssrc,
                interval_start: u32::try_from(i.start.as_nanos().div_euclid(1_000_000_000))
                    .unwrap_or(0),
                packets: i.packets,
                expected: i.expected,
                lost: i.lost,
                lost_percent: f32_of(lost_percent),
                mean_jitter_ms: f32_of(i.mean_jitter_ms),
                max_jitter_ms: f32_of(i.max_jitter_ms),
                late: i
                    .late
                    .get(crate::media::stream::HEADLINE_BUFFER)
                    .copied()
                    .unwrap_or(0),
                mos: f32_opt(i.mos),
                r_factor: f32_opt(i.r),
            });
        }
    }
}

/// The snake_case label serde gives a unit enum.
fn enum_label<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_uuids_are_stable_and_distinct() {
        let t = PacketTime::from_parts(1_700_000_000, 123_456_000);
        let a = call_uuid("abc@host", t);
        assert_eq!(a, call_uuid("abc@host", t));
        assert_eq!(a.get_version_num(), 5);
        assert_ne!(a, call_uuid("abc@host", t.add_nanos(1000)));
        assert_ne!(a, call_uuid("abd@host", t));
    }

    #[test]
    fn times_and_addresses_convert() {
        assert_eq!(micros(PacketTime::from_parts(1, 999_999)), 1_000_999);
        assert_eq!(micros(PacketTime::from_nanos(-1)), -1);
        assert_eq!(
            ipv6("192.0.2.1".parse().unwrap()),
            "::ffff:192.0.2.1".parse::<Ipv6Addr>().unwrap()
        );
    }
}
