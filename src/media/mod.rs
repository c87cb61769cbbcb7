//! Media measurement: RTP stream statistics and the table of streams.
//!
//! The state here is owned by one thread (a media shard in the live pipeline,
//! the analyser offline): no locks, no allocation per packet. Input is the
//! small owned [`MediaPacket`] record, so the packet itself is never needed
//! once decoded.

pub mod emodel;
pub mod jitter_buffer;
pub mod payload;
pub mod quality;
pub mod rtcp;
pub mod shards;
pub mod stream;
pub mod table;

pub use payload::{PayloadInfo, PayloadKind, PayloadMap};
pub use stream::{StreamReport, StreamStats};
pub use table::{StreamKey, StreamTable, StreamTableConfig};

use crate::packet::{Endpoint, Observation};
use crate::proto::rtp;
use crate::time::PacketTime;

/// RTP packets counted in streams, and their bytes (RTP header, payload
/// and padding, as on the wire above UDP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    /// Packets.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl std::ops::AddAssign for Counted {
    fn add_assign(&mut self, other: Counted) {
        self.packets += other.packets;
        self.bytes += other.bytes;
    }
}

/// One RTP packet reduced to what the media path measures: fixed size,
/// `Copy`, sent in batches to the shard that owns its stream.
#[derive(Clone, Copy, Debug)]
pub struct MediaPacket {
    /// Arrival time.
    pub time: PacketTime,
    /// Frame number (for reports that point back into the capture).
    pub frame: u64,
    /// Sender.
    pub src: Endpoint,
    /// Receiver.
    pub dst: Endpoint,
    /// Observation point.
    pub observation: Observation,
    /// The RTP header fields.
    pub rtp: rtp::Repr,
}
