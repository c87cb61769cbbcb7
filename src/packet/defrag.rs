//! IPv4 and IPv6 fragment reassembly, bounded in every dimension.
//!
//! A [`Defragmenter`] holds the datagrams whose fragments are still arriving,
//! keyed by (source, destination, protocol, identification) as RFC 791 and
//! RFC 8200 §4.5 define. It owns one buffer per pending datagram and nothing
//! else: a fragment is copied into its datagram's buffer at its offset, and the
//! byte ranges received are kept in a small list beside it. Buffers of
//! finished datagrams go back to a free list (at most [`MAX_FREE_BUFFERS`]),
//! so steady fragmented traffic allocates nothing.
//!
//! Limits ([`DefragConfig`]): bytes buffered over all datagrams, datagrams
//! pending, fragments per datagram, and a timeout on packet time counted from
//! the first fragment (30 s, as RFC 8200 §4.5 and Linux `ipfrag_time`). A
//! datagram can never exceed [`MAX_DATAGRAM_BYTES`]. Overlapping fragments drop
//! the datagram (RFC 5722 for IPv6; the same rule for IPv4 blocks the classic
//! overlap evasion); an exact duplicate is ignored (a SPAN port often sees a
//! fragment twice). Everything dropped is counted in [`ReassemblyCounters`] by
//! reason.
//!
//! The byte cap counts bytes stored. Idle capacity is bounded apart: a reused
//! buffer keeps at most 64 KiB, and at most [`MAX_FREE_BUFFERS`] wait idle.
//!
//! Pending datagrams live in a `Vec` searched linearly: fragmented traffic is
//! rare next to the plain path, pending datagrams complete within
//! milliseconds, and a scan of a few entries beats hashing.

use super::ip::Fragment;
use super::ReassemblyCounters;
use crate::time::PacketTime;
use std::net::IpAddr;

/// Largest reassembled payload: the IPv4 total length and the IPv6 payload
/// length are 16-bit fields.
pub const MAX_DATAGRAM_BYTES: usize = 65_535;

/// Finished buffers kept for reuse. 16 × 64 KiB bounds what is kept idle.
pub const MAX_FREE_BUFFERS: usize = 16;

/// Fragment offsets are in 8-byte units, so every fragment but the last
/// carries a multiple of 8 bytes.
const FRAGMENT_UNIT: usize = 8;

/// Limits of the fragment reassembler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefragConfig {
    /// Bytes buffered over all pending datagrams; past it the oldest datagrams
    /// are evicted. Default 16 MiB (256 full-size datagrams).
    pub max_buffered_bytes: usize,
    /// Datagrams pending at once; past it the oldest is evicted. Default 1024.
    pub max_datagrams: usize,
    /// Fragments per datagram; one more drops the datagram. Default 128: a
    /// 65535-byte datagram over the IPv4 minimum MTU of 576 takes 118.
    pub max_fragments_per_datagram: usize,
    /// A datagram not complete this long after its first fragment (packet
    /// time) is dropped. Default 30 s.
    pub timeout_ns: i64,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            max_buffered_bytes: 16 * 1024 * 1024,
            max_datagrams: 1024,
            max_fragments_per_datagram: 128,
            timeout_ns: 30 * 1_000_000_000,
        }
    }
}

/// Identifies the datagram a fragment belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragmentKey {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Transport protocol (IPv4 protocol, IPv6 fragment header's next header).
    pub protocol: u8,
    /// Identification.
    pub id: u32,
}

/// Why a fragment was refused. The frame carrying it is malformed at
/// [`super::Layer::Fragment`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FragmentError {
    /// A fragment other than the last whose length is not a multiple of 8.
    #[error("fragment length is not a multiple of 8")]
    BadLength,
    /// It overlaps a fragment already received (the datagram is dropped).
    #[error("fragment overlaps another")]
    Overlap,
    /// It ends past 65535 bytes (the datagram is dropped).
    #[error("fragment ends past 65535 bytes")]
    Oversize,
    /// Its end disagrees with the datagram's last fragment (dropped).
    #[error("fragment disagrees with the last fragment's end")]
    Inconsistent,
    /// The datagram already has the maximum number of fragments (dropped).
    #[error("too many fragments in one datagram")]
    TooManyFragments,
}

impl FragmentError {
    /// Stable label for counters.
    pub fn reason(self) -> &'static str {
        match self {
            FragmentError::BadLength => "bad_length",
            FragmentError::Overlap => "overlap",
            FragmentError::Oversize => "oversize",
            FragmentError::Inconsistent => "inconsistent",
            FragmentError::TooManyFragments => "too_many_fragments",
        }
    }
}

/// What became of a fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum Insert {
    /// Stored (or an exact duplicate, ignored); the datagram is not complete.
    Held,
    /// The datagram is complete: its payload. Give the buffer back with
    /// [`Defragmenter::recycle`] once decoded.
    Complete(Vec<u8>),
}

#[derive(Debug)]
struct Pending {
    key: FragmentKey,
    first: PacketTime,
    buf: Vec<u8>,
    /// Byte ranges received, `(start, end)`, no two overlapping.
    ranges: Vec<(usize, usize)>,
    received: usize,
    /// Payload length, known once the last fragment arrived.
    total: Option<usize>,
}

/// Reassembles IP fragments into datagrams.
#[derive(Debug, Default)]
pub struct Defragmenter {
    config: DefragConfig,
    pending: Vec<Pending>,
    buffered: usize,
    free_bufs: Vec<Vec<u8>>,
    free_ranges: Vec<Vec<(usize, usize)>>,
}

impl Defragmenter {
    /// A reassembler with these limits.
    pub fn new(config: DefragConfig) -> Self {
        Defragmenter {
            config,
            ..Defragmenter::default()
        }
    }

    /// Datagrams pending.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Bytes buffered over all pending datagrams.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Adds the fragment `frag` with its `data` to the datagram `key`.
    ///
    /// # Errors
    /// The fragment is refused (see [`FragmentError`]); every drop is counted.
    pub fn insert(
        &mut self,
        now: PacketTime,
        key: FragmentKey,
        frag: Fragment,
        data: &[u8],
        counters: &mut ReassemblyCounters,
    ) -> Result<Insert, FragmentError> {
        let start = usize::try_from(frag.offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(data.len());
        if frag.more && !data.len().is_multiple_of(FRAGMENT_UNIT) {
            counters.fragments_bad_length += 1;
            return Err(FragmentError::BadLength);
        }
        let mut found = self.pending.iter().position(|p| p.key == key);
        if let Some(i) = found {
            if self.expired(&self.pending[i], now) {
                self.drop_at(i);
                counters.dropped_timeout += 1;
                found = None;
            }
        }
        if end > MAX_DATAGRAM_BYTES {
            if let Some(i) = found {
                self.drop_at(i);
            }
            counters.dropped_oversize += 1;
            return Err(FragmentError::Oversize);
        }
        let i = match found {
            Some(i) => i,
            None => self.start(now, key, counters),
        };
        let p = &mut self.pending[i];
        if p.ranges.iter().any(|&(s, e)| s == start && e == end) {
            counters.fragments_duplicate += 1;
            return Ok(Insert::Held);
        }
        let refuse = if p.ranges.len() >= self.config.max_fragments_per_datagram {
            counters.dropped_too_many_fragments += 1;
            Some(FragmentError::TooManyFragments)
        } else if p.ranges.iter().any(|&(s, e)| start < e && s < end) {
            counters.dropped_overlap += 1;
            Some(FragmentError::Overlap)
        } else if !consistent(p, end, frag.more) {
            counters.dropped_inconsistent += 1;
            Some(FragmentError::Inconsistent)
        } else {
            None
        };
        if let Some(e) = refuse {
            self.drop_at(i);
            return Err(e);
        }
        let grow = end.saturating_sub(self.pending[i].buf.len());
        let i = match self.make_room(i, grow, counters) {
            Some(i) => i,
            None => {
                // This datagram alone is over the cap: it was dropped.
                return Ok(Insert::Held);
            }
        };
        let p = &mut self.pending[i];
        if p.buf.capacity() < end {
            // Doubling as `Vec` would, but never past the largest datagram:
            // left to `resize`, in-order fragments would take a buffer from
            // 47 360 bytes to 94 720, and a buffer kept for reuse past 64 KiB.
            let cap = end
                .max(p.buf.capacity().saturating_mul(2))
                .min(MAX_DATAGRAM_BYTES);
            p.buf.reserve_exact(cap - p.buf.len());
        }
        if p.buf.len() < end {
            p.buf.resize(end, 0);
        }
        if let Some(dst) = p.buf.get_mut(start..end) {
            dst.copy_from_slice(data);
        }
        self.buffered += grow;
        p.ranges.push((start, end));
        p.received += data.len();
        if !frag.more {
            p.total = Some(end);
        }
        counters.fragments += 1;
        if p.total == Some(p.received) {
            let p = self.pending.swap_remove(i);
            self.release(p.buf.len());
            self.keep_ranges(p.ranges);
            counters.reassembled += 1;
            return Ok(Insert::Complete(p.buf));
        }
        Ok(Insert::Held)
    }

    /// Gives back the buffer of a [`Insert::Complete`] datagram for reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.free_bufs.len() < MAX_FREE_BUFFERS {
            buf.clear();
            self.free_bufs.push(buf);
        }
    }

    /// Drops datagrams whose first fragment is older than the timeout at `now`.
    pub fn handle_timeout(&mut self, now: PacketTime, counters: &mut ReassemblyCounters) {
        let mut i = 0;
        while i < self.pending.len() {
            if self.expired(&self.pending[i], now) {
                self.drop_at(i);
                counters.dropped_timeout += 1;
            } else {
                i += 1;
            }
        }
    }

    fn expired(&self, p: &Pending, now: PacketTime) -> bool {
        now.as_nanos().saturating_sub(p.first.as_nanos()) > self.config.timeout_ns
    }

    /// A new pending datagram (evicting the oldest when at the cap); its index.
    fn start(
        &mut self,
        now: PacketTime,
        key: FragmentKey,
        counters: &mut ReassemblyCounters,
    ) -> usize {
        while !self.pending.is_empty() && self.pending.len() >= self.config.max_datagrams.max(1) {
            if let Some(oldest) = self.oldest(None) {
                self.drop_at(oldest);
                counters.dropped_datagram_cap += 1;
            }
        }
        let buf = self.free_bufs.pop().unwrap_or_default();
        let ranges = self.free_ranges.pop().unwrap_or_default();
        self.pending.push(Pending {
            key,
            first: now,
            buf,
            ranges,
            received: 0,
            total: None,
        });
        self.pending.len() - 1
    }

    /// Evicts the oldest other datagrams until `grow` more bytes fit; returns
    /// the (possibly moved) index of datagram `i`, or `None` when it alone is
    /// over the cap and was dropped. Evictions are counted.
    fn make_room(
        &mut self,
        mut i: usize,
        grow: usize,
        counters: &mut ReassemblyCounters,
    ) -> Option<usize> {
        while self.buffered + grow > self.config.max_buffered_bytes {
            counters.dropped_memory_cap += 1;
            match self.oldest(Some(i)) {
                Some(victim) => {
                    let key = self.pending[i].key;
                    self.drop_at(victim);
                    i = self.pending.iter().position(|p| p.key == key)?;
                }
                None => {
                    self.drop_at(i);
                    return None;
                }
            }
        }
        Some(i)
    }

    /// Index of the datagram with the oldest first fragment, except `skip`.
    fn oldest(&self, skip: Option<usize>) -> Option<usize> {
        self.pending
            .iter()
            .enumerate()
            .filter(|(j, _)| Some(*j) != skip)
            .min_by_key(|(_, p)| p.first)
            .map(|(j, _)| j)
    }

    fn drop_at(&mut self, i: usize) {
        if i < self.pending.len() {
            let p = self.pending.swap_remove(i);
            self.release(p.buf.len());
            self.recycle(p.buf);
            self.keep_ranges(p.ranges);
        }
    }

    /// Takes `len` bytes off the buffered count (they always were counted).
    fn release(&mut self, len: usize) {
        debug_assert!(self.buffered >= len);
        self.buffered = self.buffered.saturating_sub(len);
    }

    fn keep_ranges(&mut self, mut ranges: Vec<(usize, usize)>) {
        if self.free_ranges.len() < MAX_FREE_BUFFERS {
            ranges.clear();
            self.free_ranges.push(ranges);
        }
    }
}

/// Whether a fragment ending at `end` fits what is known of the datagram's
/// length: nothing past the last fragment, and one last fragment only.
fn consistent(p: &Pending, end: usize, more: bool) -> bool {
    match (p.total, more) {
        (Some(total), true) => end <= total,
        (Some(_), false) => false,
        (None, true) => true,
        (None, false) => p.ranges.iter().all(|&(_, e)| e <= end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(id: u32) -> FragmentKey {
        FragmentKey {
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            protocol: 17,
            id,
        }
    }

    fn frag(offset: u32, more: bool) -> Fragment {
        Fragment {
            id: 0,
            offset,
            more,
        }
    }

    fn t(secs: i64) -> PacketTime {
        PacketTime::from_parts(secs, 0)
    }

    /// Made-up payload: 0..40 in three fragments of 16, 16 and 8 bytes.
    fn payload() -> Vec<u8> {
        (0u8..40).collect()
    }

    #[test]
    fn in_order() {
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut c = ReassemblyCounters::default();
        let p = payload();
        assert_eq!(
            d.insert(t(0), key(1), frag(0, true), &p[..16], &mut c),
            Ok(Insert::Held)
        );
        assert_eq!(
            d.insert(t(0), key(1), frag(16, true), &p[16..32], &mut c),
            Ok(Insert::Held)
        );
        assert_eq!(
            d.insert(t(0), key(1), frag(32, false), &p[32..], &mut c),
            Ok(Insert::Complete(p.clone()))
        );
        assert_eq!((c.fragments, c.reassembled), (3, 1));
        assert_eq!((d.pending(), d.buffered_bytes()), (0, 0));
    }

    #[test]
    fn out_of_order_and_duplicate() {
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut c = ReassemblyCounters::default();
        let p = payload();
        assert_eq!(
            d.insert(t(0), key(1), frag(32, false), &p[32..], &mut c),
            Ok(Insert::Held)
        );
        assert_eq!(
            d.insert(t(0), key(1), frag(16, true), &p[16..32], &mut c),
            Ok(Insert::Held)
        );
        assert_eq!(
            d.insert(t(0), key(1), frag(16, true), &p[16..32], &mut c),
            Ok(Insert::Held)
        );
        assert_eq!(c.fragments_duplicate, 1);
        // Another datagram's fragment does not mix in.
        assert_eq!(
            d.insert(t(0), key(2), frag(0, true), &p[..16], &mut c),
            Ok(Insert::Held)
        );
        let Ok(Insert::Complete(buf)) = d.insert(t(0), key(1), frag(0, true), &p[..16], &mut c)
        else {
            panic!("not complete");
        };
        assert_eq!(buf, p);
        d.recycle(buf);
        assert_eq!(d.pending(), 1);
        // The recycled buffer serves the next datagram.
        assert_eq!(d.free_bufs.len(), 1);
        d.insert(t(0), key(3), frag(0, true), &p[..8], &mut c)
            .unwrap();
        assert_eq!(d.free_bufs.len(), 0);
    }

    #[test]
    fn overlap_drops_datagram() {
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut c = ReassemblyCounters::default();
        let p = payload();
        d.insert(t(0), key(1), frag(0, true), &p[..16], &mut c)
            .unwrap();
        assert_eq!(
            d.insert(t(0), key(1), frag(8, true), &p[8..24], &mut c),
            Err(FragmentError::Overlap)
        );
        assert_eq!(
            (c.dropped_overlap, d.pending(), d.buffered_bytes()),
            (1, 0, 0)
        );
    }

    #[test]
    fn bad_length_oversize_and_inconsistent() {
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut c = ReassemblyCounters::default();
        let p = payload();
        assert_eq!(
            d.insert(t(0), key(1), frag(0, true), &p[..15], &mut c),
            Err(FragmentError::BadLength)
        );
        assert_eq!(
            d.insert(t(0), key(1), frag(65_528, false), &p[..16], &mut c),
            Err(FragmentError::Oversize)
        );
        d.insert(t(0), key(1), frag(8, false), &p[..8], &mut c)
            .unwrap();
        assert_eq!(
            d.insert(t(0), key(1), frag(16, true), &p[..8], &mut c),
            Err(FragmentError::Inconsistent)
        );
        assert_eq!(
            (
                c.fragments_bad_length,
                c.dropped_oversize,
                c.dropped_inconsistent
            ),
            (1, 1, 1)
        );
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn timeout_drops_on_handle_timeout_and_on_reuse_of_key() {
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut c = ReassemblyCounters::default();
        let p = payload();
        d.insert(t(0), key(1), frag(0, true), &p[..16], &mut c)
            .unwrap();
        d.handle_timeout(t(30), &mut c);
        assert_eq!((d.pending(), c.dropped_timeout), (1, 0));
        d.handle_timeout(t(31), &mut c);
        assert_eq!((d.pending(), c.dropped_timeout), (0, 1));
        // A stale datagram with the same key is not completed by a late fragment.
        d.insert(t(100), key(2), frag(0, true), &p[..16], &mut c)
            .unwrap();
        assert_eq!(
            d.insert(t(200), key(2), frag(16, false), &p[16..24], &mut c),
            Ok(Insert::Held)
        );
        assert_eq!((d.pending(), c.dropped_timeout), (1, 2));
    }

    #[test]
    fn memory_cap_evicts_oldest() {
        let config = DefragConfig {
            max_buffered_bytes: 40,
            ..DefragConfig::default()
        };
        let mut d = Defragmenter::new(config);
        let mut c = ReassemblyCounters::default();
        let p = payload();
        d.insert(t(0), key(1), frag(0, true), &p[..16], &mut c)
            .unwrap();
        d.insert(t(1), key(2), frag(0, true), &p[..16], &mut c)
            .unwrap();
        assert_eq!(d.buffered_bytes(), 32);
        d.insert(t(2), key(3), frag(0, true), &p[..16], &mut c)
            .unwrap();
        assert_eq!(
            (c.dropped_memory_cap, d.pending(), d.buffered_bytes()),
            (1, 2, 32)
        );
        assert!(d.pending.iter().all(|p| p.key != key(1)));
        // One datagram alone over the cap is dropped.
        let mut d = Defragmenter::new(DefragConfig {
            max_buffered_bytes: 8,
            ..DefragConfig::default()
        });
        assert_eq!(
            d.insert(t(0), key(1), frag(0, true), &p[..16], &mut c),
            Ok(Insert::Held)
        );
        assert_eq!((d.pending(), d.buffered_bytes()), (0, 0));
    }

    #[test]
    fn buffers_grow_in_order_without_passing_the_largest_datagram() {
        // 45 in-order fragments of 1480 bytes, the last one short: 65 528
        // bytes. Doubling from 47 360 would reserve 94 720.
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut c = ReassemblyCounters::default();
        let piece = [7u8; 1480];
        for k in 0..44 {
            let offset = 1480 * k;
            d.insert(t(0), key(1), frag(offset, true), &piece, &mut c)
                .unwrap();
            assert!(d.pending[0].buf.capacity() <= MAX_DATAGRAM_BYTES, "{k}");
        }
        let Ok(Insert::Complete(buf)) =
            d.insert(t(0), key(1), frag(1480 * 44, false), &piece[..408], &mut c)
        else {
            panic!("not complete");
        };
        assert_eq!(buf.len(), 65_528);
        assert!(buf.capacity() <= MAX_DATAGRAM_BYTES);
        // So a buffer kept for reuse holds at most 64 KiB.
        d.recycle(buf);
        assert!(d.free_bufs[0].capacity() <= MAX_DATAGRAM_BYTES);
    }

    #[test]
    fn datagram_and_fragment_caps() {
        let mut d = Defragmenter::new(DefragConfig {
            max_datagrams: 2,
            max_fragments_per_datagram: 2,
            ..DefragConfig::default()
        });
        let mut c = ReassemblyCounters::default();
        let p = payload();
        for id in 1..=3 {
            d.insert(t(i64::from(id)), key(id), frag(0, true), &p[..8], &mut c)
                .unwrap();
        }
        assert_eq!((d.pending(), c.dropped_datagram_cap), (2, 1));
        d.insert(t(5), key(3), frag(8, true), &p[8..16], &mut c)
            .unwrap();
        assert_eq!(
            d.insert(t(5), key(3), frag(16, true), &p[16..24], &mut c),
            Err(FragmentError::TooManyFragments)
        );
        assert_eq!((d.pending(), c.dropped_too_many_fragments), (1, 1));
    }
}
