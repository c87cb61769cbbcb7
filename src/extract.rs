//! `voxprobe extract`: every packet of one call, from one or more capture
//! files, written to one pcap, the way engineers hand a call to a vendor.
//!
//! Two passes per file: the analysis finds the call (its Call-ID, media
//! streams and time span), then the frames are decoded again and kept when
//! they carry a SIP message of that Call-ID or RTP/RTCP between the call's
//! media endpoints during the call. Frames are written as captured (outer
//! layers and tunnels included). Over TCP, the frame that completes a SIP
//! message is kept; segments that only carry part of one are not (yet).

use crate::analyze::{analyze_file, AnalyzeConfig};
use crate::call::CallRecord;
use crate::capture::{CaptureError, CaptureFile};
use crate::export::pcap::PcapFrameWriter;
use crate::packet::{Datagram, Decoder, Endpoint, Transport, Verdict};
use crate::proto::sip;
use crate::time::PacketTime;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Media may start this long before the INVITE's SDP was seen or end this
/// long after the call ended and still be the call's.
const MEDIA_SLACK_NS: i64 = 5 * 1_000_000_000;

/// What an extraction wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtractSummary {
    /// Files in which the call was found.
    pub files_with_call: usize,
    /// Frames written.
    pub frames_written: u64,
    /// Frames with SIP of the call.
    pub sip_frames: u64,
    /// Frames with its RTP or RTCP.
    pub media_frames: u64,
    /// Frames of the call that could not be written because their link type
    /// differs from the first frame's (a pcap file has one link type).
    pub frames_skipped_link_type: u64,
}

/// Why an extraction failed.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// A capture file could not be read.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// No file holds the call.
    #[error("no call with Call-ID {call_id:?} in {files}; `voxprobe analyze --format json FILE` lists the calls")]
    NotFound {
        /// The Call-ID asked for.
        call_id: String,
        /// The files searched.
        files: String,
    },
    /// The output file could not be written.
    #[error("{path}: {source}")]
    Output {
        /// The output file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Decides which datagrams belong to one call.
struct CallSelector {
    call_id: Vec<u8>,
    media: Vec<(Endpoint, Endpoint)>,
    from: PacketTime,
    until: PacketTime,
}

impl CallSelector {
    fn new(record: &CallRecord) -> Self {
        let mut media = Vec::new();
        for s in &record.streams {
            let (src, dst) = (s.key.src, s.key.dst);
            media.push((src, dst));
            // RTCP beside RTP (RFC 3550 §11), both ways.
            let next = |e: Endpoint| Endpoint::new(e.ip, e.port.wrapping_add(1));
            media.push((next(src), next(dst)));
            media.push((next(dst), next(src)));
        }
        media.sort();
        media.dedup();
        let last_media = record.streams.iter().map(|s| s.report.last_time).max();
        let end = [record.end_time, last_media, Some(record.call.last_activity)]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(record.call.invite_time);
        CallSelector {
            call_id: record.call.call_id.as_bytes().to_vec(),
            media,
            from: record.call.invite_time.add_nanos(-MEDIA_SLACK_NS),
            until: end.add_nanos(MEDIA_SLACK_NS),
        }
    }

    /// `Some(true)` for the call's SIP, `Some(false)` for its media, `None` otherwise.
    fn select(&self, dg: &Datagram<'_>) -> Option<bool> {
        if sip::looks_like_sip(dg.payload) {
            let msg = sip::parse(dg.payload).ok()?;
            return (msg.headers.call_id == Some(self.call_id.as_slice())).then_some(true);
        }
        if dg.transport != Transport::Udp || dg.time < self.from || dg.time > self.until {
            return None;
        }
        self.media
            .binary_search(&(dg.src, dg.dst))
            .is_ok()
            .then_some(false)
    }
}

/// Writes every frame of the call `call_id` found in `files` to `out`.
///
/// # Errors
/// A file that cannot be read, a call that is in none of them, or an output
/// that cannot be written.
pub fn extract_call(
    files: &[PathBuf],
    config: &AnalyzeConfig,
    call_id: &str,
    out: &Path,
) -> Result<ExtractSummary, ExtractError> {
    let mut summary = ExtractSummary::default();
    let mut selected: Vec<(&PathBuf, CallSelector)> = Vec::new();
    for path in files {
        let analysis = analyze_file(path, config, &mut |_| {})?;
        if let Some(record) = analysis.calls.iter().find(|c| c.call.call_id == call_id) {
            selected.push((path, CallSelector::new(record)));
        }
    }
    if selected.is_empty() {
        return Err(ExtractError::NotFound {
            call_id: call_id.to_owned(),
            files: files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    summary.files_with_call = selected.len();
    let output = |source| ExtractError::Output {
        path: out.to_owned(),
        source,
    };
    let mut writer: Option<PcapFrameWriter<BufWriter<File>>> = None;
    for (path, selector) in &selected {
        let file = CaptureFile::open(path)?;
        let mut decoder = Decoder::new(config.decoder.clone());
        for frame in file.frames() {
            let mut kind = None;
            decoder.decode(&frame, &mut |dg| {
                if let Some(k) = selector.select(dg) {
                    kind = Some(kind.unwrap_or(false) || k);
                }
                Verdict::Ours
            });
            let Some(is_sip) = kind else { continue };
            if writer.is_none() {
                let f = File::create(out).map_err(output)?;
                writer = Some(PcapFrameWriter::new(BufWriter::new(f), frame.link).map_err(output)?);
            }
            let Some(w) = writer.as_mut() else { continue };
            if w.write_frame(&frame).map_err(output)? {
                summary.frames_written += 1;
                if is_sip {
                    summary.sip_frames += 1;
                } else {
                    summary.media_frames += 1;
                }
            } else {
                summary.frames_skipped_link_type += 1;
            }
        }
    }
    if let Some(w) = writer {
        w.finish().map_err(output)?;
    }
    Ok(summary)
}
