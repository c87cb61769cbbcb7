//! The capture stage on a thread of its own: it reads the rings, copies
//! the frames into batches and hands them to the analysis over a bounded
//! channel. The ring reader never waits for the analysis: when the channel
//! is full the frames are dropped and counted here (the stage's drop
//! counter, beside the kernel's), and the ring keeps being emptied.
//! Batches come back on a second channel and are reused, so the steady
//! state allocates nothing.

use crate::analyze::InterfaceCounters;
use crate::capture::afpacket::{LinkEvent, LiveError, Ring};
use crate::capture::{Frame, LinkType};
use crate::log::RateLimit;
use crate::time::PacketTime;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How batches are sized and how many may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Frames per batch at most.
    pub batch_frames: usize,
    /// Batches waiting for the analysis at most (the channel's capacity).
    pub queue_batches: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            batch_frames: 512,
            queue_batches: 256,
        }
    }
}

/// Where a frame of a batch is, and what the ring said of it.
#[derive(Clone, Copy, Debug)]
struct FrameMeta {
    start: usize,
    len: usize,
    time: PacketTime,
    orig_len: u32,
    link: LinkType,
    interface: u32,
    number: u64,
}

/// Frames copied out of the ring.
#[derive(Debug, Default)]
pub struct Batch {
    bytes: Vec<u8>,
    frames: Vec<FrameMeta>,
}

impl Batch {
    fn push(&mut self, f: &Frame<'_>) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(f.data);
        self.frames.push(FrameMeta {
            start,
            len: f.data.len(),
            time: f.time,
            orig_len: f.orig_len,
            link: f.link,
            interface: f.interface,
            number: f.number,
        });
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.frames.clear();
    }

    /// Frames in it.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// No frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The frames, in capture order.
    pub fn frames(&self) -> impl Iterator<Item = Frame<'_>> {
        self.frames.iter().filter_map(|m| {
            Some(Frame {
                data: self.bytes.get(m.start..m.start + m.len)?,
                time: m.time,
                orig_len: m.orig_len,
                link: m.link,
                interface: m.interface,
                number: m.number,
            })
        })
    }
}

/// What the capture stage counted.
#[derive(Debug, Default)]
pub struct StageCounters {
    /// Frames handed to the analysis.
    pub frames_sent: AtomicU64,
    /// Frames dropped because the analysis's queue was full.
    pub frames_dropped: AtomicU64,
    /// The kernel's counters per interface, as last read (every second).
    pub interfaces: Mutex<Vec<InterfaceCounters>>,
}

/// The running capture stage.
pub struct CaptureStage {
    /// Batches of frames, in capture order.
    pub batches: Receiver<Batch>,
    recycle: Sender<Batch>,
    /// What it counted.
    pub counters: Arc<StageCounters>,
    /// Set to stop it (the run's stop, or enough frames).
    pub stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Option<LiveError>>>,
}

impl CaptureStage {
    /// Starts reading `rings` on a thread of their own until `stop` is set
    /// (or a ring fails).
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(
        rings: Vec<Ring>,
        config: PipelineConfig,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<CaptureStage> {
        let (send, batches) = mpsc::sync_channel(config.queue_batches.max(1));
        let (recycle, reuse) = mpsc::channel();
        let counters = Arc::new(StageCounters::default());
        let reader = Reader {
            rings,
            send,
            reuse,
            // Every batch that exists: those queued, the one being filled,
            // and the one being analysed.
            budget: config.queue_batches.max(1) + 2,
            made: 0,
            batch_frames: config.batch_frames.max(1),
            counters: counters.clone(),
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || reader.run())?;
        Ok(CaptureStage {
            batches,
            recycle,
            counters,
            stop,
            thread: Some(thread),
        })
    }

    /// Gives a batch back for reuse once analysed.
    pub fn give_back(&self, mut batch: Batch) {
        batch.clear();
        let _ = self.recycle.send(batch);
    }

    /// Stops the reader; the batches it still hands over (what the
    /// kernel had captured) keep coming until [`CaptureStage::batches`]
    /// disconnects.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Waits for the reader to end (after [`CaptureStage::stop`] and the
    /// last batch), returning why reading failed, if it did.
    pub fn join(mut self) -> Option<LiveError> {
        self.stop();
        let thread = self.thread.take()?;
        thread
            .join()
            .unwrap_or_else(|_| Some(LiveError::Engine("the capture thread panicked".into())))
    }
}

/// The reader thread's state.
struct Reader {
    rings: Vec<Ring>,
    send: SyncSender<Batch>,
    reuse: Receiver<Batch>,
    budget: usize,
    made: usize,
    batch_frames: usize,
    counters: Arc<StageCounters>,
    stop: Arc<AtomicBool>,
}

impl Reader {
    fn run(mut self) -> Option<LiveError> {
        // Out of `self`, so a ring can hand frames to `self.accept`.
        let mut rings = std::mem::take(&mut self.rings);
        let mut link_log: Vec<RateLimit> = rings
            .iter()
            .map(|_| RateLimit::new(5, Duration::from_secs(60)))
            .collect();
        let mut batch = self.empty_batch();
        let mut last_counters = Instant::now();
        let failure = loop {
            if self.stop.load(Ordering::Relaxed) {
                break None;
            }
            if let Err(e) = Ring::wait_any(&rings, Duration::from_millis(100)) {
                break Some(e);
            }
            let mut failed = None;
            for (ring, limit) in rings.iter_mut().zip(&mut link_log) {
                if let Err(e) = ring.next_block(Duration::ZERO, &mut |f| self.accept(f, &mut batch))
                {
                    failed = Some(e);
                    break;
                }
                if let Some(event) = ring.take_event() {
                    log_link_event(ring, event, limit);
                }
            }
            if let Some(e) = failed {
                break Some(e);
            }
            // Whatever came in this pass goes now: latency over batch size.
            if batch.as_ref().is_some_and(|b| !b.is_empty()) {
                self.hand_over(&mut batch);
            }
            if last_counters.elapsed() >= Duration::from_secs(1) {
                last_counters = Instant::now();
                if let Err(e) = self.read_counters(&mut rings) {
                    break Some(e);
                }
            }
        };
        if failure.is_none() {
            // What the kernel captured before the stop, still in its open
            // block: handed over waiting for room (the analysis is still
            // taking batches).
            for ring in &mut rings {
                let mut rest = Batch::default();
                let wait = ring.block_timeout() * 2;
                if ring.drain(wait, &mut |f| rest.push(f)).is_ok() && !rest.is_empty() {
                    self.counters
                        .frames_sent
                        .fetch_add(rest.len() as u64, Ordering::Relaxed);
                    let _ = self.send.send(rest);
                }
            }
        }
        let _ = self.read_counters(&mut rings);
        failure
    }

    /// One frame from a ring: into the batch, which goes to the analysis
    /// when full; dropped and counted when every batch is in flight (the
    /// analysis is behind).
    fn accept(&mut self, f: &Frame<'_>, batch: &mut Option<Batch>) {
        if batch.is_none() {
            *batch = self.empty_batch();
        }
        match batch {
            Some(b) => {
                b.push(f);
                if b.len() >= self.batch_frames {
                    self.hand_over(batch);
                }
            }
            None => {
                self.counters.frames_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A batch to fill: one given back, else a new one while under the
    /// budget, else none (the frames are dropped until one comes back).
    fn empty_batch(&mut self) -> Option<Batch> {
        if let Ok(b) = self.reuse.try_recv() {
            return Some(b);
        }
        if self.made < self.budget {
            self.made += 1;
            return Some(Batch::default());
        }
        None
    }

    fn hand_over(&mut self, batch: &mut Option<Batch>) {
        if let Some(b) = batch.take() {
            let n = b.len() as u64;
            match self.send.try_send(b) {
                Ok(()) => {
                    self.counters.frames_sent.fetch_add(n, Ordering::Relaxed);
                }
                Err(TrySendError::Full(mut b)) | Err(TrySendError::Disconnected(mut b)) => {
                    self.counters.frames_dropped.fetch_add(n, Ordering::Relaxed);
                    b.clear();
                    *batch = Some(b);
                    return;
                }
            }
        }
        *batch = self.empty_batch();
    }

    fn read_counters(&self, rings: &mut [Ring]) -> Result<(), LiveError> {
        let counters = rings
            .iter_mut()
            .map(crate::live::interface_counters)
            .collect::<Result<Vec<_>, _>>()?;
        if let Ok(mut c) = self.counters.interfaces.lock() {
            *c = counters;
        }
        Ok(())
    }
}

fn log_link_event(ring: &Ring, event: LinkEvent, limit: &mut RateLimit) {
    let Some(suppressed) = limit.allow(Instant::now()) else {
        return;
    };
    let interface = ring.interface();
    match event {
        LinkEvent::Down => tracing::warn!(
            interface,
            suppressed,
            "{interface}: interface down; capture resumes when it is back"
        ),
        LinkEvent::Up { after } => tracing::warn!(
            interface,
            gap_s = after.as_secs_f64(),
            suppressed,
            "{interface}: interface back after {:.1} s (nothing captured meanwhile); capture resumed",
            after.as_secs_f64()
        ),
    }
}
