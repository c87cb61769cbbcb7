//! JSON lines output: one object per line, each with a `"type"`.
//!
//! The field names are a contract users script against (DESIGN.md, "JSON
//! output contract"): existing names never change meaning; new fields may be
//! added.

use crate::analyze::{StreamRecord, Summary};
use crate::media::rtcp::RtcpReport;
use crate::media::stream::LOSS_RUN_BUCKETS;
use serde::Serialize;
use std::io::{self, Write};
use std::path::Path;

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
}

/// The codec label of a stream: the encoding name, or `RTPType-N` for a
/// dynamic payload type with no SDP (the label Wireshark uses).
pub fn codec_label(name: Option<&str>, payload_type: u8) -> String {
    match name {
        Some(n) => n.to_owned(),
        None => format!("RTPType-{payload_type}"),
    }
}

/// Writes one `"stream"` line.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_stream(out: &mut dyn Write, file: &Path, s: &StreamRecord) -> io::Result<()> {
    let r = &s.report;
    let line = StreamLine {
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
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
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
