//! Media shards (`--workers N`): the statistics of RTP streams on worker
//! threads, each owning a [`StreamTable`] for the flows that hash to it.
//! The classifier hands them its media batches split by flow (a flow's
//! packets always reach the same shard, in arrival order) over bounded
//! channels, and every endpoint SDP announces goes to every shard on the
//! same channels, so a shard sees the same packets and the same SDP, in the
//! same order, as a single table would: the results are the same, only
//! computed on more cores. Finished streams, samples and counts come back
//! when asked (every tick, and at the end).

use super::payload::PayloadMap;
use super::table::{
    FinishedStream, StreamTable, StreamTableConfig, StreamTableCounters, MAX_BATCH,
};
use super::{Counted, MediaPacket};
use crate::packet::Endpoint;
use crate::time::PacketTime;
use std::hash::BuildHasher;
use std::sync::mpsc::{self, Receiver, SyncSender};

/// What a shard is told.
enum Order {
    Packets(Vec<MediaPacket>),
    Learn(Endpoint, PayloadMap, PacketTime),
    Timeout(PacketTime),
    Take { samples: bool },
    Finish,
}

/// What a shard answers.
enum Answer {
    Taken {
        finished: Vec<FinishedStream>,
        samples: Vec<FinishedStream>,
        counted: Counted,
        active: usize,
    },
    Finished {
        streams: Vec<FinishedStream>,
        counters: StreamTableCounters,
        counted: Counted,
    },
}

struct Shard {
    orders: SyncSender<Order>,
    answers: Receiver<Answer>,
    /// Batches the shard is done with, to be filled again (the steady
    /// state allocates nothing).
    spare: Receiver<Vec<MediaPacket>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Packets gathered for it from the current batch.
    pending: Vec<MediaPacket>,
}

/// The shards of one run.
pub struct Shards {
    shards: Vec<Shard>,
    hasher: foldhash::fast::RandomState,
    /// RTP packets counted in streams, reported but not yet taken.
    counted: Counted,
    /// Streams active, as last reported.
    active: usize,
}

/// Batches a shard's channel holds before the classifier waits.
const QUEUE: usize = 1024;

impl Shards {
    /// Starts `workers` shards, each with `config` (its stream cap divided
    /// among them).
    ///
    /// # Errors
    /// When a thread cannot be started.
    pub fn new(workers: usize, config: &StreamTableConfig) -> std::io::Result<Shards> {
        let workers = workers.max(1);
        let mut shards = Vec::with_capacity(workers);
        for i in 0..workers {
            let mut config = config.clone();
            config.max_streams = config.max_streams.div_ceil(workers);
            let (orders, inbox) = mpsc::sync_channel(QUEUE);
            let (outbox, answers) = mpsc::channel();
            let (give_back, spare) = mpsc::channel();
            let thread = std::thread::Builder::new()
                .name(format!("media-{i}"))
                .spawn(move || serve(StreamTable::new(config), &inbox, &outbox, &give_back))?;
            shards.push(Shard {
                orders,
                answers,
                thread: Some(thread),
                spare,
                pending: Vec::with_capacity(MAX_BATCH),
            });
        }
        Ok(Shards {
            shards,
            hasher: foldhash::fast::RandomState::default(),
            counted: Counted::default(),
            active: 0,
        })
    }

    fn shard_of(&self, p: &MediaPacket) -> usize {
        let h = self.hasher.hash_one((p.observation, p.src, p.dst));
        (h % self.shards.len() as u64) as usize
    }

    /// Hands a batch over, each packet to its flow's shard.
    pub fn handle_batch(&mut self, pkts: &[MediaPacket]) {
        for p in pkts {
            let i = self.shard_of(p);
            if let Some(s) = self.shards.get_mut(i) {
                s.pending.push(*p);
            }
        }
        for s in &mut self.shards {
            if !s.pending.is_empty() {
                let empty = s
                    .spare
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(MAX_BATCH));
                let batch = std::mem::replace(&mut s.pending, empty);
                let _ = s.orders.send(Order::Packets(batch));
            }
        }
    }

    /// Tells every shard an endpoint SDP announced.
    pub fn learn_endpoint(&self, endpoint: Endpoint, payloads: &PayloadMap, now: PacketTime) {
        for s in &self.shards {
            let _ = s.orders.send(Order::Learn(endpoint, payloads.clone(), now));
        }
    }

    /// Finishes idle streams at `now` in every shard.
    pub fn handle_timeout(&self, now: PacketTime) {
        for s in &self.shards {
            let _ = s.orders.send(Order::Timeout(now));
        }
    }

    /// The streams finished since the last call and, with `samples`, the
    /// samples running streams completed; after every batch sent before.
    pub fn take(&mut self, samples: bool) -> (Vec<FinishedStream>, Vec<FinishedStream>) {
        for s in &self.shards {
            let _ = s.orders.send(Order::Take { samples });
        }
        let (mut finished, mut taken) = (Vec::new(), Vec::new());
        self.active = 0;
        for s in &self.shards {
            if let Ok(Answer::Taken {
                finished: f,
                samples: t,
                counted,
                active,
            }) = s.answers.recv()
            {
                finished.extend(f);
                taken.extend(t);
                self.counted += counted;
                self.active += active;
            }
        }
        (finished, taken)
    }

    /// RTP packets counted in streams since the last call.
    pub fn take_counted(&mut self) -> Counted {
        std::mem::take(&mut self.counted)
    }

    /// Streams active as of the last [`Shards::take`].
    pub fn active_streams(&self) -> usize {
        self.active
    }

    /// Ends the shards: every stream (finished or active) and the summed
    /// counters, and the RTP packets counted not yet taken.
    pub fn finish(mut self) -> (Vec<FinishedStream>, StreamTableCounters, Counted) {
        for s in &self.shards {
            let _ = s.orders.send(Order::Finish);
        }
        let mut all = Vec::new();
        let mut counters = StreamTableCounters::default();
        let mut counted = self.take_counted();
        for s in &mut self.shards {
            if let Ok(Answer::Finished {
                streams,
                counters: c,
                counted: n,
            }) = s.answers.recv()
            {
                all.extend(streams);
                counters.add(&c);
                counted += n;
            }
            if let Some(t) = s.thread.take() {
                let _ = t.join();
            }
        }
        (all, counters, counted)
    }
}

/// A shard's loop: orders in, answers out, until `Finish` (or the
/// classifier is gone).
fn serve(
    mut table: StreamTable,
    inbox: &Receiver<Order>,
    outbox: &mpsc::Sender<Answer>,
    give_back: &mpsc::Sender<Vec<MediaPacket>>,
) {
    let mut counted = Counted::default();
    while let Ok(order) = inbox.recv() {
        match order {
            Order::Packets(mut pkts) => {
                for chunk in pkts.chunks(MAX_BATCH) {
                    counted += table.handle_batch(chunk);
                }
                pkts.clear();
                let _ = give_back.send(pkts);
            }
            Order::Learn(endpoint, payloads, now) => table.learn_endpoint(endpoint, payloads, now),
            Order::Timeout(now) => table.handle_timeout(now),
            Order::Take { samples } => {
                let answer = Answer::Taken {
                    finished: table.take_finished(),
                    samples: if samples {
                        table.take_completed_samples()
                    } else {
                        Vec::new()
                    },
                    counted: std::mem::take(&mut counted),
                    active: table.active_streams(),
                };
                if outbox.send(answer).is_err() {
                    return;
                }
            }
            Order::Finish => {
                let (streams, counters) = table.finish();
                let _ = outbox.send(Answer::Finished {
                    streams,
                    counters,
                    counted,
                });
                return;
            }
        }
    }
}
