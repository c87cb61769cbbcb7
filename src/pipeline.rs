//! The capture stage on threads of its own (one per ring: with
//! `--fanout`, several rings share an interface's load): each reads its
//! ring, copies the frames into batches and hands them to the analysis over
//! one bounded channel. The ring reader never waits for the analysis: when the channel
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

/// Frames copied out of a ring.
#[derive(Debug, Default)]
pub struct Batch {
    bytes: Vec<u8>,
    frames: Vec<FrameMeta>,
    /// The reader it goes back to.
    reader: usize,
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
pub struct SharedStageCounters {
    /// Frames handed to the analysis.
    pub frames_sent: AtomicU64,
    /// Frames dropped because the analysis's queue was full.
    pub frames_dropped: AtomicU64,
    /// The kernel's counters of each reader's ring, as last read (every
    /// second).
    rings: Mutex<Vec<InterfaceCounters>>,
}

impl SharedStageCounters {
    /// The kernel's counters of each ring, as last read.
    pub fn rings(&self) -> Vec<InterfaceCounters> {
        self.rings.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The kernel's counters per interface (the rings of one interface
    /// summed), as last read.
    pub fn interfaces(&self) -> Vec<InterfaceCounters> {
        let rings = self.rings.lock().map(|r| r.clone()).unwrap_or_default();
        let mut out: Vec<InterfaceCounters> = Vec::new();
        for r in rings.into_iter().filter(|r| !r.interface.is_empty()) {
            match out.iter_mut().find(|o| o.interface == r.interface) {
                Some(o) => {
                    o.received += r.received;
                    o.dropped += r.dropped;
                    o.ring_freezes += r.ring_freezes;
                    // Every ring of an interface sees it go down.
                    o.link_downs = o.link_downs.max(r.link_downs);
                }
                None => out.push(r),
            }
        }
        out
    }
}

/// The running capture stage.
pub struct CaptureStage {
    /// Batches of frames, in capture order per ring.
    pub batches: Receiver<Batch>,
    recycle: Vec<Sender<Batch>>,
    /// What it counted.
    pub counters: Arc<SharedStageCounters>,
    /// Set to stop it (the run's stop, or enough frames).
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Option<LiveError>>>,
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
        let counters = Arc::new(SharedStageCounters {
            rings: Mutex::new(vec![InterfaceCounters::default(); rings.len()]),
            ..SharedStageCounters::default()
        });
        let mut recycle = Vec::with_capacity(rings.len());
        let mut threads = Vec::with_capacity(rings.len());
        let readers = rings.len().max(1);
        for (index, ring) in rings.into_iter().enumerate() {
            let (give_back, reuse) = mpsc::channel();
            let reader = Reader {
                index,
                send: send.clone(),
                reuse,
                // Every batch that may exist: its share of those queued,
                // the one being filled, and the one being analysed.
                budget: config.queue_batches.max(1).div_ceil(readers) + 2,
                made: 0,
                batch_frames: config.batch_frames.max(1),
                counters: counters.clone(),
                stop: stop.clone(),
            };
            recycle.push(give_back);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("capture-{index}"))
                    .spawn(move || reader.run(ring))?,
            );
        }
        Ok(CaptureStage {
            batches,
            recycle,
            counters,
            stop,
            threads,
        })
    }

    /// Gives a batch back for reuse once analysed.
    pub fn give_back(&self, mut batch: Batch) {
        batch.clear();
        if let Some(reader) = self.recycle.get(batch.reader) {
            let _ = reader.send(batch);
        }
    }

    /// Stops the reader; the batches it still hands over (what the
    /// kernel had captured) keep coming until [`CaptureStage::batches`]
    /// disconnects.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Waits for the reader to end (after [`CaptureStage::stop`] and the
    /// last batch), returning why reading failed, if it did.
    pub fn join(self) -> Option<LiveError> {
        self.stop();
        let mut failure = None;
        for thread in self.threads {
            let ended = thread
                .join()
                .unwrap_or_else(|_| Some(LiveError::Engine("a capture thread panicked".into())));
            failure = failure.or(ended);
        }
        failure
    }
}

/// A reader thread's state (its ring is passed to [`Reader::run`], so the
/// ring can hand frames to `self.accept`).
struct Reader {
    index: usize,
    send: SyncSender<Batch>,
    reuse: Receiver<Batch>,
    budget: usize,
    made: usize,
    batch_frames: usize,
    counters: Arc<SharedStageCounters>,
    stop: Arc<AtomicBool>,
}

impl Reader {
    fn run(mut self, mut ring: Ring) -> Option<LiveError> {
        let mut link_log = RateLimit::new(5, Duration::from_secs(60));
        let mut batch = self.empty_batch();
        let mut last_counters = Instant::now();
        let failure = loop {
            if self.stop.load(Ordering::Relaxed) {
                break None;
            }
            if let Err(e) = Ring::wait_any(std::slice::from_ref(&ring), Duration::from_millis(100))
            {
                break Some(e);
            }
            if let Err(e) = ring.next_block(Duration::ZERO, &mut |f| self.accept(f, &mut batch)) {
                break Some(e);
            }
            if let Some(event) = ring.take_event() {
                log_link_event(&ring, event, &mut link_log);
            }
            // Whatever came in this pass goes now: latency over batch size.
            if batch.as_ref().is_some_and(|b| !b.is_empty()) {
                self.hand_over(&mut batch);
            }
            if last_counters.elapsed() >= Duration::from_secs(1) {
                last_counters = Instant::now();
                if let Err(e) = self.read_counters(&mut ring) {
                    break Some(e);
                }
            }
        };
        if failure.is_none() {
            // What the kernel captured before the stop, still in its open
            // block: handed over waiting for room (the analysis is still
            // taking batches).
            let mut rest = Batch {
                reader: self.index,
                ..Batch::default()
            };
            let wait = ring.block_timeout() * 2;
            if ring.drain(wait, &mut |f| rest.push(f)).is_ok() && !rest.is_empty() {
                self.counters
                    .frames_sent
                    .fetch_add(rest.len() as u64, Ordering::Relaxed);
                let _ = self.send.send(rest);
            }
        }
        let _ = self.read_counters(&mut ring);
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
            return Some(Batch {
                reader: self.index,
                ..Batch::default()
            });
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

    fn read_counters(&self, ring: &mut Ring) -> Result<(), LiveError> {
        let counters = crate::live::interface_counters(ring)?;
        if let Ok(mut all) = self.counters.rings.lock() {
            if let Some(slot) = all.get_mut(self.index) {
                *slot = counters;
            }
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
