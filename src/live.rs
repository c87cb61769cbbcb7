//! The live run: frames from network interfaces (AF_PACKET rings) or from a
//! capture file replayed at its own pace, through one [`Analyzer`], until
//! told to stop; calls are handed on as they close, so what the run holds
//! is what is in progress.
//!
//! Logs go through `tracing`: the start, interfaces going down and coming
//! back (rate-limited per interface), a status line every
//! [`Settings::status_every`], the kernel's counters at the end.

use crate::analyze::StageCounters;
use crate::analyze::{
    Analyzer, CallUpdate, FileAnalysis, InterfaceCounters, StreamRecord, StreamSamples,
};
use crate::call::signal_log::SignalEntry;
use crate::call::CallRecord;
use crate::capture::afpacket::{LiveError, Ring};
use crate::capture::{CaptureError, CaptureFile, Frame};
use crate::export::pcap::PcapFrameWriter;
use crate::export::prometheus::RunStatus;
use crate::pipeline::{CaptureStage, PipelineConfig};
use crate::time::PacketTime;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the frames come from.
pub enum Source {
    /// Open rings, one per interface, read by this thread.
    Interfaces(Vec<Ring>),
    /// Interfaces read through libpcap (`--engine pcap`).
    #[cfg(feature = "libpcap")]
    Pcap(Vec<crate::capture::libpcap::PcapLive>),
    /// A capture file played at `speed` times its pace (0: at once).
    Replay {
        /// The file.
        path: PathBuf,
        /// The pace factor.
        speed: f64,
        /// Passes over the file (0: until stopped). Each pass after the
        /// first is moved on in time by the file's span and `loop_gap`, so
        /// its calls are new calls, not retransmissions of the last pass's.
        loops: u64,
        /// Packet time between one pass's last frame and the next's first:
        /// long enough for everything of a pass to time out first. It
        /// passes at once, not at the replay's pace.
        loop_gap: Duration,
    },
}

impl Source {
    /// What the records name as their `file`: the replayed file, or
    /// `interface:NAME[,NAME...]`.
    pub fn name(&self) -> PathBuf {
        match self {
            Source::Interfaces(rings) => {
                let names: Vec<&str> = rings.iter().map(Ring::interface).collect();
                PathBuf::from(format!("interface:{}", names.join(",")))
            }
            #[cfg(feature = "libpcap")]
            Source::Pcap(captures) => {
                let names: Vec<&str> = captures.iter().map(|c| c.interface()).collect();
                PathBuf::from(format!("interface:{}", names.join(",")))
            }
            Source::Replay { path, .. } => path.clone(),
        }
    }
}

/// When the run stops and how often it reports.
pub struct Settings {
    /// Frames after which it stops.
    pub max_frames: u64,
    /// Wall-clock time at which it stops.
    pub deadline: Option<Instant>,
    /// Set (by a signal handler) to stop it.
    pub stop: Arc<AtomicBool>,
    /// Set by SIGHUP: the next hand-over asks for a reload
    /// ([`Closed::reload`]); the run goes on (the default action of SIGHUP
    /// would end it without a report).
    pub hangup: Arc<AtomicBool>,
    /// How often closed calls are handed on.
    pub emit_every: Duration,
    /// How often a status line is logged while frames come.
    pub status_every: Duration,
    /// Also write every frame analysed to this pcap file (nanosecond
    /// times), as captured (VLAN tags the kernel took off put back).
    pub write_to: Option<PathBuf>,
    /// Hand DIAMETER and GTPv2-C messages on as they come (for export)
    /// instead of keeping them for the end (for ladders).
    pub hand_on_signals: bool,
    /// Batches and queue between the capture stage and the analysis.
    pub pipeline: PipelineConfig,
    /// Report the calls in progress this often; `None`: not at all.
    pub call_updates: Option<CallUpdates>,
    /// Hand on the 5-second samples of running streams, labelling their
    /// calls with this (carrier, agent); `None`: nobody wants them.
    pub sample_labels: Option<SampleLabels>,
}

/// Calls in progress reported every `every`, their parties rewritten by
/// `party` (privacy settings).
pub struct CallUpdates {
    /// How often.
    pub every: Duration,
    /// Rewrites a party (a SIP user or URI).
    pub party: Box<dyn Fn(&str) -> String>,
}

/// Gives a call's carrier and agent.
pub type SampleLabels = Box<dyn Fn(&crate::call::dialog::Dialog) -> (String, String)>;

/// What a run hands on as it goes.
#[derive(Debug, Default)]
pub struct Closed {
    /// Calls that closed, with their streams.
    pub calls: Vec<CallRecord>,
    /// Streams no call claimed.
    pub streams: Vec<StreamRecord>,
    /// DIAMETER and GTPv2-C messages since the last hand-over (when
    /// [`Settings::hand_on_signals`]).
    pub signals: Vec<SignalEntry>,
    /// 5-second samples of running streams (when
    /// [`Settings::sample_labels`]).
    pub samples: Vec<StreamSamples>,
    /// The calls in progress, when an update was due.
    pub updates: Vec<CallUpdate>,
    /// SIGHUP came since the last hand-over: reload what can change.
    pub reload: bool,
    /// What the run counted so far.
    pub status: RunStatus,
}

/// How a run ended.
pub struct Outcome {
    /// What was still in the analyser at the end (calls handed on before
    /// are not in it).
    pub analysis: FileAnalysis,
    /// Frames analysed.
    pub frames: u64,
    /// Bytes of those frames.
    pub bytes: u64,
    /// Calls handed on before the end.
    pub calls_reported: u64,
    /// Why reading interfaces stopped, when a ring failed (what came before
    /// is in `analysis`).
    pub failure: Option<LiveError>,
}

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An interface could not be read at all.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// The replayed file could not be read.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// The capture thread could not be started.
    #[error("cannot start the capture thread: {source}")]
    Thread {
        /// The error.
        source: std::io::Error,
    },
    /// The file to write frames to could not be created.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Runs `analyzer` over `source` until `settings` say stop, handing closed
/// calls (with their streams) and streams of no call to `on_closed` as they
/// come.
///
/// # Errors
/// When the replayed file cannot be opened, or reading the kernel's
/// counters at the end fails; a ring failing mid-run ends it with
/// [`Outcome::failure`] instead.
pub fn run(
    source: Source,
    analyzer: Analyzer,
    settings: &Settings,
    on_closed: &mut dyn FnMut(Closed),
) -> Result<Outcome, RunError> {
    let going = || {
        !settings.stop.load(Ordering::Relaxed)
            && settings.deadline.is_none_or(|d| Instant::now() < d)
    };
    let link = match &source {
        Source::Interfaces(rings) => rings.first().map(Ring::link),
        #[cfg(feature = "libpcap")]
        Source::Pcap(captures) => captures.first().map(|c| c.link()),
        Source::Replay { .. } => None,
    };
    let writer = match &settings.write_to {
        Some(path) => {
            let open = |link| {
                std::fs::File::create(path)
                    .and_then(|f| PcapFrameWriter::new(std::io::BufWriter::new(f), link))
                    .map_err(|source| RunError::Write {
                        path: path.display().to_string(),
                        source,
                    })
            };
            Some(open(link.unwrap_or(crate::capture::LinkType::Ethernet))?)
        }
        None => None,
    };
    let mut feed = Feed {
        analyzer,
        settings,
        writer,
        frames_not_written: 0,
        frames: 0,
        bytes: 0,
        calls_reported: 0,
        last_emit: Instant::now(),
        last_update: Instant::now(),
        last_frame: None,
        interfaces: Vec::new(),
        stage_dropped: 0,
        last_status: Instant::now(),
        frames_at_status: 0,
    };
    let mut interfaces = Vec::new();
    let mut capture_stage = None;
    let name = source.name();
    // Interfaces are always stopped with traffic still flowing; a replay
    // only when stopped before the file's end.
    let mut cut_short = !matches!(source, Source::Replay { .. });
    let (file_bytes, stopped, failure) = match source {
        Source::Interfaces(rings) => {
            let names: Vec<&str> = rings.iter().map(Ring::interface).collect();
            let names = names.join(",");
            let stage =
                CaptureStage::start(rings, settings.pipeline, Arc::new(AtomicBool::new(false)))
                    .map_err(|source| RunError::Thread { source })?;
            tracing::info!(interfaces = %names, "capturing on {names}; SIGINT or SIGTERM ends it");
            loop {
                if !going() || feed.frames >= settings.max_frames {
                    stage.stop();
                }
                match stage.batches.recv_timeout(Duration::from_millis(100)) {
                    Ok(batch) => {
                        for f in batch.frames() {
                            feed.take(&f, on_closed);
                        }
                        stage.give_back(batch);
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    // The reader ended: stopped and drained, or failed.
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
                if feed.tick_due() {
                    feed.stage_dropped = stage.counters.frames_dropped.load(Ordering::Relaxed);
                    feed.interfaces = stage.counters.interfaces();
                    feed.tick(on_closed);
                }
            }
            let counters = stage.counters.clone();
            let failure = stage.join();
            let stage_counters = StageCounters {
                frames_sent: counters.frames_sent.load(Ordering::Relaxed),
                frames_dropped: counters.frames_dropped.load(Ordering::Relaxed),
            };
            tracing::info!(
                sent = stage_counters.frames_sent,
                dropped = stage_counters.frames_dropped,
                "capture stage: {} frames handed to the analysis, {} dropped (the analysis fell behind)",
                stage_counters.frames_sent,
                stage_counters.frames_dropped
            );
            capture_stage = Some(stage_counters);
            let rings = counters.rings();
            if rings.len() > counters.interfaces().len() {
                for (i, r) in rings.iter().enumerate() {
                    tracing::info!(
                        interface = r.interface,
                        ring = i,
                        received = r.received,
                        "{} ring {i}: {} received",
                        r.interface,
                        r.received
                    );
                }
            }
            let final_counters = counters.interfaces();
            for c in final_counters {
                tracing::info!(
                    interface = c.interface,
                    received = c.received,
                    dropped = c.dropped,
                    ring_freezes = c.ring_freezes,
                    link_downs = c.link_downs,
                    "{}: kernel: {} received, {} dropped (ring full), {} ring freezes; interface down {} times",
                    c.interface,
                    c.received,
                    c.dropped,
                    c.ring_freezes,
                    c.link_downs
                );
                interfaces.push(c);
            }
            if let Some(e) = &failure {
                tracing::error!(error = %e, "capture ended: {e}");
            }
            (None, None, failure)
        }
        #[cfg(feature = "libpcap")]
        Source::Pcap(mut captures) => {
            let names: Vec<&str> = captures.iter().map(|c| c.interface()).collect();
            let names = names.join(",");
            tracing::info!(interfaces = %names, engine = "pcap", "capturing on {names} through libpcap; SIGINT or SIGTERM ends it");
            let failure = read_pcap(&mut captures, &mut feed, on_closed, &going);
            for capture in &mut captures {
                // What the kernel queued before the stop.
                if failure.is_none() {
                    let _ = capture.next_frames(usize::MAX, &mut |f| feed.take(f, on_closed));
                }
                match pcap_counters(capture) {
                    Ok(c) => {
                        tracing::info!(
                            interface = c.interface,
                            received = c.received,
                            dropped = c.dropped,
                            "{}: kernel: {} received, {} dropped",
                            c.interface,
                            c.received,
                            c.dropped
                        );
                        interfaces.push(c);
                    }
                    Err(e) => tracing::error!(error = %e, "{e}"),
                }
            }
            if let Some(e) = &failure {
                tracing::error!(error = %e, "capture ended: {e}");
            }
            (None, None, failure)
        }
        Source::Replay {
            path,
            speed,
            loops,
            loop_gap,
        } => {
            // Opened again for every pass: its pages are released as it is
            // read, from the start of each pass.
            let mut file = CaptureFile::open(&path)?;
            let pace = if speed > 0.0 {
                format!("{speed}× its pace")
            } else {
                "top speed".to_owned()
            };
            let passes = match loops {
                0 => "until stopped".to_owned(),
                1 => "once".to_owned(),
                n => format!("{n} times"),
            };
            tracing::info!(
                file = %path.display(),
                speed,
                loops,
                "replaying {} at {pace}, {passes}; SIGINT or SIGTERM ends it",
                path.display()
            );
            let started = Instant::now();
            let mut first: Option<PacketTime> = None;
            // Packet time added to the frames of the current pass, and the
            // part of it that is gaps (not paced).
            let mut shift = 0i64;
            let mut gaps = 0i64;
            let mut pass = 1u64;
            let gap = i64::try_from(loop_gap.as_nanos()).unwrap_or(i64::MAX);
            loop {
                let mut reader = file.frames();
                let mut last = None;
                while let Some(frame) = reader.next() {
                    if !going() || feed.frames >= settings.max_frames {
                        cut_short = true;
                        break;
                    }
                    let frame = Frame {
                        time: frame.time.add_nanos(shift),
                        ..frame
                    };
                    last = Some(frame.time);
                    let t0 = *first.get_or_insert(frame.time);
                    if speed > 0.0 {
                        pace_until(started, t0, frame.time.add_nanos(-gaps), speed, &going);
                    }
                    feed.take(&frame, on_closed);
                    file.release_behind(reader.offset());
                }
                let end = (Some(reader.offset()), reader.stop().cloned(), None);
                drop(reader);
                let done = cut_short || (loops != 0 && pass >= loops) || end.1.is_some();
                let (false, Some(last), Some(t0)) = (done, last, first) else {
                    break end;
                };
                // The next pass starts a gap after this one's last frame,
                // when everything of this pass has timed out.
                shift = last
                    .as_nanos()
                    .saturating_sub(t0.as_nanos())
                    .saturating_add(gap);
                gaps = gaps.saturating_add(gap);
                feed.analyzer.advance_to(t0.add_nanos(shift));
                pass += 1;
                file = CaptureFile::open(&path)?;
            }
        }
    };
    let frames = feed.frames;
    tracing::info!(frames, "{frames} frames analysed");
    if let Some(w) = feed.writer.take() {
        let written = w.frames();
        match w.finish() {
            Ok(_) => tracing::info!(
                written,
                not_written = feed.frames_not_written,
                "{written} frames written ({} of another link type or after a write error were not)",
                feed.frames_not_written
            ),
            Err(e) => tracing::error!(error = %e, "finishing the written capture: {e}"),
        }
    }
    tracing::info!(
        calls_early = feed.calls_reported,
        "{} calls reported as they closed, the rest at the end",
        feed.calls_reported
    );
    let bytes = file_bytes.unwrap_or(feed.bytes);
    let last_frame = feed.last_frame.map(|(t, _)| t);
    let mut analysis = feed.analyzer.finish(name, bytes, stopped.as_ref());
    analysis.summary.interfaces = interfaces;
    analysis.summary.capture_stage = capture_stage;
    if let (true, Some(last)) = (cut_short, last_frame) {
        for call in &mut analysis.calls {
            call.end_by_shutdown(last);
        }
    }
    Ok(Outcome {
        analysis,
        frames,
        bytes: feed.bytes,
        calls_reported: feed.calls_reported,
        failure,
    })
}

/// Waits until the frame at `time` is due: `speed` times faster than the
/// capture's pace since `t0`, counted from `started`.
fn pace_until(
    started: Instant,
    t0: PacketTime,
    time: PacketTime,
    speed: f64,
    going: &dyn Fn() -> bool,
) {
    let offset = time.as_nanos().saturating_sub(t0.as_nanos()).max(0);
    // A pace so slow its due time cannot be written waits until stopped.
    let wait = Duration::try_from_secs_f64(offset as f64 / 1e9 / speed).ok();
    let due = wait
        .and_then(|w| started.checked_add(w))
        .unwrap_or(started + Duration::from_secs(365 * 24 * 3600));
    // Sleep in short steps so a signal or the deadline is heard.
    while going() && Instant::now() < due {
        std::thread::sleep((due - Instant::now()).min(Duration::from_millis(100)));
    }
}

/// Reads libpcap captures until `going` says stop or one fails.
#[cfg(feature = "libpcap")]
fn read_pcap(
    captures: &mut [crate::capture::libpcap::PcapLive],
    feed: &mut Feed<'_>,
    on_closed: &mut dyn FnMut(Closed),
    going: &dyn Fn() -> bool,
) -> Option<LiveError> {
    while going() && feed.frames < feed.settings.max_frames {
        if let Err(e) =
            crate::capture::libpcap::PcapLive::wait_any(captures, Duration::from_millis(100))
        {
            return Some(LiveError::Engine(e.to_string()));
        }
        for capture in captures.iter_mut() {
            let read = capture.next_frames(4096, &mut |f| feed.take(f, on_closed));
            if let Err(e) = read {
                return Some(LiveError::Engine(e.to_string()));
            }
        }
        if feed.tick_due() {
            match captures.iter_mut().map(pcap_counters).collect() {
                Ok(counters) => feed.interfaces = counters,
                Err(e) => return Some(e),
            }
            feed.tick(on_closed);
        }
    }
    None
}

/// The kernel's counters of a libpcap capture so far (drops by the
/// interface counted with those for want of buffer room).
#[cfg(feature = "libpcap")]
fn pcap_counters(
    capture: &mut crate::capture::libpcap::PcapLive,
) -> Result<InterfaceCounters, LiveError> {
    let (received, dropped, if_dropped) = capture
        .counters()
        .map_err(|e| LiveError::Engine(e.to_string()))?;
    Ok(InterfaceCounters {
        interface: capture.interface().to_owned(),
        received,
        dropped: dropped + if_dropped,
        ring_freezes: 0,
        link_downs: 0,
    })
}

/// The kernel's counters of a ring so far.
pub(crate) fn interface_counters(ring: &mut Ring) -> Result<InterfaceCounters, LiveError> {
    let kernel = ring.kernel_counters()?;
    Ok(InterfaceCounters {
        interface: ring.interface().to_owned(),
        received: kernel.packets,
        dropped: kernel.drops,
        ring_freezes: kernel.freeze_queue,
        link_downs: ring.link_downs(),
    })
}

/// The analyser and what the run counts around it.
struct Feed<'a> {
    analyzer: Analyzer,
    settings: &'a Settings,
    /// Where frames are also written (`--write`), until a write fails.
    writer: Option<PcapFrameWriter<std::io::BufWriter<std::fs::File>>>,
    frames_not_written: u64,
    frames: u64,
    bytes: u64,
    calls_reported: u64,
    last_emit: Instant,
    /// When calls in progress were last reported.
    last_update: Instant,
    /// Packet time of the last frame and when it came.
    last_frame: Option<(PacketTime, Instant)>,
    /// The kernel's counters per interface, as last read.
    interfaces: Vec<InterfaceCounters>,
    /// Frames the capture stage dropped so far.
    stage_dropped: u64,
    last_status: Instant,
    frames_at_status: u64,
}

impl Feed<'_> {
    /// When due, hands on the calls that closed, the messages logged and
    /// the counters. Packet time runs on from the last frame by the wall
    /// clock, so calls close and counters move on an idle link too.
    /// A hand-over is due every `emit_every`, and at once after SIGHUP.
    fn tick_due(&self) -> bool {
        self.last_emit.elapsed() >= self.settings.emit_every
            || self.settings.hangup.load(Ordering::Relaxed)
    }

    fn tick(&mut self, on_closed: &mut dyn FnMut(Closed)) {
        if !self.tick_due() {
            return;
        }
        self.last_emit = Instant::now();
        let Some((time, at)) = self.last_frame else {
            return;
        };
        let elapsed = i64::try_from(at.elapsed().as_nanos()).unwrap_or(i64::MAX);
        let (calls, streams) = self.analyzer.take_closed(time.add_nanos(elapsed));
        self.calls_reported += calls.len() as u64;
        let signals = if self.settings.hand_on_signals {
            self.analyzer.take_signals()
        } else {
            Vec::new()
        };
        let samples = match &self.settings.sample_labels {
            Some(label) => self.analyzer.take_completed_samples(label.as_ref()),
            None => Vec::new(),
        };
        let updates = match &self.settings.call_updates {
            Some(u) if self.last_update.elapsed() >= u.every => {
                self.last_update = Instant::now();
                self.analyzer
                    .call_updates(time.add_nanos(elapsed), u.party.as_ref())
            }
            _ => Vec::new(),
        };
        let (packets, protocols) = self.analyzer.counters();
        let status = RunStatus {
            frames: self.frames,
            bytes: self.bytes,
            active_calls: self.analyzer.active_calls(),
            active_streams: self.analyzer.active_streams(),
            packets: packets.clone(),
            protocols: protocols.clone(),
            interfaces: self.interfaces.clone(),
            stage_dropped: self.stage_dropped,
        };
        on_closed(Closed {
            calls,
            streams,
            signals,
            samples,
            updates,
            reload: self.settings.hangup.swap(false, Ordering::Relaxed),
            status,
        });
    }

    /// One frame: analysed, then, when due, the closed calls handed on and
    /// a status line.
    fn take(&mut self, frame: &Frame<'_>, on_closed: &mut dyn FnMut(Closed)) {
        if self.frames >= self.settings.max_frames {
            return;
        }
        self.frames += 1;
        self.bytes += frame.data.len() as u64;
        // Numbered in the order analysed (as the frames of `--write` are),
        // not per ring: several rings each count from one.
        let frame = &Frame {
            number: self.frames,
            ..*frame
        };
        self.analyzer.handle_frame(frame);
        if let Some(w) = &mut self.writer {
            match w.write_frame(frame) {
                Ok(true) => {}
                Ok(false) => self.frames_not_written += 1,
                Err(e) => {
                    tracing::error!(error = %e, "writing frames: {e}; no more frames are written");
                    self.writer = None;
                    self.frames_not_written += 1;
                }
            }
        } else if self.settings.write_to.is_some() {
            self.frames_not_written += 1;
        }
        let since_status = self.last_status.elapsed();
        if since_status >= self.settings.status_every {
            let frames = self.frames;
            let rate = (frames - self.frames_at_status) as f64 / since_status.as_secs_f64();
            let (calls, streams) = (self.analyzer.active_calls(), self.analyzer.active_streams());
            tracing::info!(
                frames,
                frames_per_s = rate.round(),
                active_calls = calls,
                active_streams = streams,
                calls_reported = self.calls_reported,
                "{frames} frames ({rate:.0}/s), {calls} calls and {streams} streams in progress, {} calls reported",
                self.calls_reported
            );
            (self.last_status, self.frames_at_status) = (Instant::now(), frames);
        }
        self.last_frame = Some((frame.time, Instant::now()));
        self.tick(on_closed);
    }
}
