//! The terminal table: streams in columns like `tshark -z rtp,streams`, then
//! the packet counters.

use super::json::codec_label;
use crate::analyze::{FileAnalysis, StreamRecord, Summary};
use crate::call::signal_log::{Ladder, SignalLog};
use crate::call::{CallRecord, Direction, Outcome};
use crate::packet::Layer;
use comfy_table::{presets, CellAlignment, ColumnConstraint, Table};
use std::io::{self, Write};

/// Writes the call table of one file: one row per call, then the call summary.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_calls(out: &mut dyn Write, analysis: &FileAnalysis) -> io::Result<()> {
    let start = analysis.summary.first_frame_time;
    let mut t = Table::new();
    t.load_style(presets::NOTHING);
    t.set_header([
        "Start(s)",
        "From",
        "To",
        "Outcome",
        "Code",
        "Setup(ms)",
        "Dur(s)",
        "Codec",
        "MOS→",
        "MOS←",
        "Loss→%",
        "Loss←%",
        "MaxJit→",
        "MaxJit←",
        "Diagnosis",
    ]);
    let opt = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
    };
    for r in &analysis.calls {
        let c = &r.call;
        let rel = start.map_or(0.0, |s0| c.invite_time.millis_since(s0) / 1000.0);
        let dir = |d: Direction| r.direction(d);
        let party = |user: Option<&str>, uri: &str| user.unwrap_or(uri).to_owned();
        t.add_row([
            format!("{rel:.3}"),
            party(c.from_user(), c.from()),
            party(c.to_user(), c.to()),
            r.outcome.as_str().to_owned(),
            c.final_code
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
            opt(r.setup_ms(), 0),
            opt(r.duration_s(), 1),
            r.codecs.join(">"),
            opt(r.mos(Direction::CallerToCallee), 2),
            opt(r.mos(Direction::CalleeToCaller), 2),
            opt(dir(Direction::CallerToCallee).map(|d| d.lost_percent), 1),
            opt(dir(Direction::CalleeToCaller).map(|d| d.lost_percent), 1),
            opt(dir(Direction::CallerToCallee).map(|d| d.max_jitter_ms), 1),
            opt(dir(Direction::CalleeToCaller).map(|d| d.max_jitter_ms), 1),
            r.diagnosis.join(","),
        ]);
    }
    for i in [0, 4, 5, 6, 8, 9, 10, 11, 12, 13] {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    writeln!(
        out,
        "== {}: {} calls",
        analysis.summary.file.display(),
        analysis.calls.len()
    )?;
    if !analysis.calls.is_empty() {
        writeln!(out, "{t}")?;
    }
    let s = CallSummary::of(&analysis.calls);
    if s.calls > 0 {
        writeln!(
            out,
            "calls: {} ({} answered, ASR {:.1}%), {}",
            s.calls,
            s.answered,
            s.asr_percent(),
            s.by_outcome
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(o, n)| format!("{} {n}", o.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        if let Some(p) = s.setup_percentiles() {
            writeln!(
                out,
                "setup time (ms): p50 {:.0}, p90 {:.0}, p99 {:.0}",
                p[0], p[1], p[2]
            )?;
        }
        if let Some((mean, min, good)) = s.mos_figures() {
            writeln!(
                out,
                "MOS: mean {mean:.2}, min {min:.2}, {good:.1}% of directions ≥ 4.0"
            )?;
        }
        write_volte_summary(out, &analysis.calls)?;
    }
    Ok(())
}

/// The VoLTE lines of the summary: calls with VoLTE legs, how many succeeded,
/// failed (at some leg) or were cancelled, and the latency percentiles of
/// each leg.
fn write_volte_summary(out: &mut dyn Write, calls: &[CallRecord]) -> io::Result<()> {
    let volte: Vec<_> = calls
        .iter()
        .filter_map(|c| c.volte.as_ref().map(|v| (c, v)))
        .collect();
    if volte.is_empty() {
        return Ok(());
    }
    let cancelled = volte
        .iter()
        .filter(|(c, _)| c.outcome == Outcome::Cancelled)
        .count();
    let failed = volte
        .iter()
        .filter(|(c, v)| v.failed_leg.is_some() && c.outcome != Outcome::Cancelled)
        .count();
    let ok = volte.len() - failed - cancelled;
    writeln!(
        out,
        "VoLTE calls: {} ({ok} successful, {failed} failed, {cancelled} cancelled; success rate {:.1}%)",
        volte.len(),
        ok as f64 * 100.0 / volte.len() as f64
    )?;
    let legs: [(&str, Vec<f64>); 3] = [
        (
            "bearer setup",
            volte
                .iter()
                .filter_map(|(_, v)| v.ue.bearer_leg.as_ref()?.request_to_response_ms)
                .collect(),
        ),
        (
            "Rx authorisation",
            volte
                .iter()
                .filter_map(|(_, v)| v.ue.rx_leg.as_ref()?.aar_to_aaa_ms)
                .collect(),
        ),
        (
            "Gx policy",
            volte
                .iter()
                .filter_map(|(_, v)| v.ue.gx_leg.as_ref()?.latency_ms)
                .collect(),
        ),
    ];
    for (name, mut ms) in legs {
        if ms.is_empty() {
            continue;
        }
        ms.sort_by(f64::total_cmp);
        writeln!(
            out,
            "  {name} (ms): p50 {:.1}, p90 {:.1}, p99 {:.1} over {}",
            nearest_rank(&ms, 0.5),
            nearest_rank(&ms, 0.9),
            nearest_rank(&ms, 0.99),
            ms.len()
        )?;
    }
    Ok(())
}

/// The nearest-rank percentile `p` (0–1) of sorted, non-empty `v`.
fn nearest_rank(v: &[f64], p: f64) -> f64 {
    v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

/// Figures over the calls of a run, for the summary lines.
pub struct CallSummary {
    /// Calls.
    pub calls: usize,
    /// Answered calls.
    pub answered: usize,
    /// Calls by outcome.
    pub by_outcome: Vec<(Outcome, usize)>,
    setup_ms: Vec<f64>,
    mos: Vec<f64>,
}

impl CallSummary {
    /// The figures of `calls`.
    pub fn of(calls: &[CallRecord]) -> Self {
        let by_outcome = Outcome::ALL
            .iter()
            .map(|o| (*o, calls.iter().filter(|c| c.outcome == *o).count()))
            .collect();
        let mut setup_ms: Vec<f64> = calls.iter().filter_map(CallRecord::setup_ms).collect();
        setup_ms.sort_by(f64::total_cmp);
        let mos = calls
            .iter()
            .flat_map(|c| {
                [
                    c.mos(Direction::CallerToCallee),
                    c.mos(Direction::CalleeToCaller),
                ]
            })
            .flatten()
            .collect();
        CallSummary {
            calls: calls.len(),
            answered: calls
                .iter()
                .filter(|c| c.outcome == Outcome::Answered)
                .count(),
            by_outcome,
            setup_ms,
            mos,
        }
    }

    /// Answer-seizure ratio: answered / attempts, percent.
    pub fn asr_percent(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.answered as f64 * 100.0 / self.calls as f64
        }
    }

    /// Setup time p50, p90, p99 (nearest rank).
    pub fn setup_percentiles(&self) -> Option<[f64; 3]> {
        let v = &self.setup_ms;
        if v.is_empty() {
            return None;
        }
        Some([
            nearest_rank(v, 0.5),
            nearest_rank(v, 0.9),
            nearest_rank(v, 0.99),
        ])
    }

    /// Mean MOS, minimum MOS, share of directions with MOS ≥ 4.0 (percent).
    pub fn mos_figures(&self) -> Option<(f64, f64, f64)> {
        if self.mos.is_empty() {
            return None;
        }
        let n = self.mos.len() as f64;
        Some((
            self.mos.iter().sum::<f64>() / n,
            self.mos.iter().copied().fold(f64::INFINITY, f64::min),
            self.mos.iter().filter(|m| **m >= 4.0).count() as f64 * 100.0 / n,
        ))
    }
}

/// Writes the ladder of one call: its SIP messages in time order between the
/// signalling endpoints.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_ladder(out: &mut dyn Write, r: &CallRecord, signals: &SignalLog) -> io::Result<()> {
    let c = &r.call;
    writeln!(
        out,
        "== call {} ({} → {}), {}",
        c.call_id,
        c.from(),
        c.to(),
        r.outcome.as_str()
    )?;
    let ladder = Ladder::of(r, signals);
    let t0 = ladder.messages.first().map(|(_, e)| e.time);
    for (protocol, e) in &ladder.messages {
        let rel = t0.map_or(0.0, |t0| e.time.millis_since(t0) / 1000.0);
        writeln!(
            out,
            "{rel:>10.3}  {protocol:<8} {:>32} -> {:<32} {}{}",
            ladder.label(e.src),
            ladder.label(e.dst),
            e.label,
            if e.retransmission {
                "  (retransmission)"
            } else {
                ""
            }
        )?;
    }
    if c.ladder_overflow > 0 {
        writeln!(out, "({} more messages not kept)", c.ladder_overflow)?;
    }
    Ok(())
}

/// Writes the stream table of one file.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_streams(out: &mut dyn Write, analysis: &FileAnalysis) -> io::Result<()> {
    let start = analysis.summary.first_frame_time;
    let streams: Vec<&StreamRecord> = analysis.all_streams().collect();
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
    for s in &streams {
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
        streams.len()
    )?;
    if !streams.is_empty() {
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

/// The ranking of `voxprobe report`, worst mean MOS first.
///
/// # Errors
/// I/O errors of `out`.
pub fn write_report(
    out: &mut dyn Write,
    by: &str,
    rows: &[super::report::ReportRow],
) -> io::Result<()> {
    let mut t = Table::new();
    t.load_style(presets::NOTHING);
    let mut header = vec![by.to_owned()];
    header.extend(
        [
            "Calls",
            "Answered",
            "ASR%",
            "Rated",
            "MOS avg",
            "MOS min",
            "MOS med",
            "≥4.0%",
            "<3.0%",
            "Loss%",
            "Jitter(ms)",
            "Setup p50",
            "p90",
            "p99",
        ]
        .map(str::to_owned),
    );
    t.set_header(header);
    let opt = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
    };
    let percent = |v: Option<f64>| opt(v.map(|v| v * 100.0), 1);
    for r in rows {
        let key = if r.key.is_empty() { "(none)" } else { &r.key };
        t.add_row([
            key.to_owned(),
            r.calls.to_string(),
            r.answered.to_string(),
            percent(Some(r.asr)),
            r.rated.to_string(),
            opt(r.mos_mean, 2),
            opt(r.mos_min, 2),
            opt(r.mos_median, 2),
            percent(r.mos_good_share),
            percent(r.mos_poor_share),
            opt(r.lost_percent_mean, 2),
            opt(r.jitter_ms_mean, 2),
            opt(r.setup_ms_p50, 0),
            opt(r.setup_ms_p90, 0),
            opt(r.setup_ms_p99, 0),
        ]);
    }
    for i in 1..t.column_count() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    writeln!(out, "{t}")
}
