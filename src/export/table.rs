//! The terminal table: streams in columns like `tshark -z rtp,streams`, then
//! the packet counters.

use super::json::codec_label;
use crate::analyze::{FileAnalysis, Summary};
use crate::packet::Layer;
use comfy_table::{presets, CellAlignment, ColumnConstraint, Table};
use std::io::{self, Write};

/// Writes the stream table of one file.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_streams(out: &mut dyn Write, analysis: &FileAnalysis) -> io::Result<()> {
    let start = analysis.summary.first_frame_time;
    let mut t = Table::new();
    t.load_style(presets::NOTHING);
    t.set_header([
        "Start(s)",
        "End(s)",
        "Source",
        "Destination",
        "SSRC",
        "Seen",
        "Payload",
        "Pkts",
        "Lost",
        "Dup",
        "Late",
        "MaxΔ(ms)",
        "MeanJit(ms)",
        "MaxJit(ms)",
        "Problems",
    ]);
    for s in &analysis.streams {
        let r = &s.report;
        let rel = |t: crate::time::PacketTime| match start {
            Some(s0) => format!("{:.6}", t.millis_since(s0) / 1000.0),
            None => String::new(),
        };
        let mut problems = Vec::new();
        if r.lost > 0 {
            problems.push("loss");
        }
        if r.duplicates > 0 {
            problems.push("dup");
        }
        if r.out_of_order > 0 {
            problems.push("order");
        }
        if r.ssrc_changes > 0 {
            problems.push("ssrc");
        }
        if r.clock_rate == 0 {
            problems.push("clock?");
        }
        t.add_row([
            rel(r.first_time),
            rel(r.last_time),
            s.key.src.to_string(),
            s.key.dst.to_string(),
            format!("{:#010X}", s.key.ssrc).replace("0X", "0x"),
            s.key.observation.to_string(),
            codec_label(r.codec, r.payload_type),
            r.packets.to_string(),
            format!("{} ({:.1}%)", r.lost, r.lost_percent),
            r.duplicates.to_string(),
            r.out_of_order.to_string(),
            format!("{:.3}", r.max_delta_ms),
            format!("{:.3}", r.mean_jitter_ms),
            format!("{:.3}", r.max_jitter_ms),
            problems.join(","),
        ]);
    }
    for i in [0, 1, 7, 8, 9, 10, 11, 12, 13] {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    if let Some(c) = t.column_mut(14) {
        c.set_constraint(ColumnConstraint::ContentWidth);
    }
    writeln!(
        out,
        "== {}: {} RTP streams",
        analysis.summary.file.display(),
        analysis.streams.len()
    )?;
    if !analysis.streams.is_empty() {
        writeln!(out, "{t}")?;
    }
    Ok(())
}

/// Writes the packet counters of one file.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_summary(out: &mut dyn Write, s: &Summary) -> io::Result<()> {
    let p = &s.packets;
    writeln!(
        out,
        "packets: {} total, {} decoded, {} not for us, {} malformed, {} truncated",
        p.total,
        p.decoded,
        p.not_for_us,
        p.malformed_total(),
        p.truncated_total()
    )?;
    let by_layer = |f: &dyn Fn(Layer) -> u64| {
        Layer::ALL
            .iter()
            .filter(|l| f(**l) > 0)
            .map(|l| format!("{} {}", l.name(), f(*l)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if p.malformed_total() > 0 {
        writeln!(
            out,
            "  malformed by layer: {}",
            by_layer(&|l| p.malformed(l))
        )?;
    }
    if p.truncated_total() > 0 {
        writeln!(
            out,
            "  truncated by layer: {}",
            by_layer(&|l| p.truncated(l))
        )?;
    }
    let pr = &s.protocols;
    writeln!(
        out,
        "messages: {} RTP, {} RTCP, {} SIP ({} with SDP), {} DIAMETER, {} GTPv2-C",
        pr.rtp, pr.rtcp, pr.sip, pr.sdp, pr.diameter, pr.gtpv2
    )?;
    for (link, frames) in &s.unsupported_link_types {
        writeln!(
            out,
            "warning: {frames} frames on link type {link}, which is not supported, were skipped"
        )?;
    }
    if let Some(stop) = &s.stopped {
        writeln!(
            out,
            "warning: reading stopped at byte {}: {}; everything before it was analysed",
            stop.offset, stop.reason
        )?;
    }
    Ok(())
}
