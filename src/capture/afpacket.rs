//! Live capture from a network interface: an AF_PACKET socket with a
//! TPACKET_V3 receive ring mapped into our memory.
//!
//! The kernel fills fixed-size blocks of the ring with frames and hands a
//! block over when it is full or when its timeout passes; we read the frames
//! in place (no copy, no system call per packet) and give the block back.
//! When every block is ours the kernel drops packets and counts them:
//! [`Ring::kernel_counters`] reads those counts (`tp_packets`, `tp_drops`,
//! `tp_freeze_q_cnt`).
//!
//! The kernel removes the VLAN tag of a frame it received tagged and reports
//! it beside the frame; [`Ring::next_block`] puts it back, in a buffer of its
//! own, so a frame reads as it was on the wire.
//!
//! This is the one place voxprobe needs `unsafe`: the socket options, the
//! mapping and the reads of the kernel's block and frame headers. Each block
//! says why it holds.

use super::{Frame, LinkType};
use crate::time::PacketTime;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{fence, Ordering};
use std::time::Duration;

/// How the ring is laid out and what the socket listens to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingConfig {
    /// Bytes per block (a multiple of the page size; default 1 MiB).
    pub block_size: u32,
    /// Blocks in the ring (default 64: 64 MiB of buffer).
    pub block_count: u32,
    /// A block is handed over after this long even when not full (default
    /// 100 ms): the latest a quiet link's packets wait.
    pub block_timeout_ms: u32,
    /// Listen to every frame on the wire, not only those for this host.
    pub promiscuous: bool,
    /// Join this `PACKET_FANOUT` group (hash of the flow, IP fragments
    /// reassembled first) so several rings share the interface's load.
    pub fanout_group: Option<u16>,
    /// A classic BPF program (`--filter`), attached before the socket is
    /// bound: no frame it rejects ever reaches the ring. Empty: none.
    pub filter: Vec<BpfInstruction>,
}

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInstruction {
    /// Opcode.
    pub code: u16,
    /// Jump if true.
    pub jt: u8,
    /// Jump if false.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

impl RingConfig {
    /// The frame count the kernel is told (frames of 2 KiB: TPACKET_V3
    /// packs frames of any size, but checks the count), when the layout is
    /// one a ring can have.
    ///
    /// # Errors
    /// A block size that is not a positive multiple of the page size, no
    /// blocks, or more than 64 GiB in all.
    pub fn frame_count(&self) -> Result<u32, LiveError> {
        let page = 4096u32;
        if self.block_size == 0 || !self.block_size.is_multiple_of(page) {
            return Err(LiveError::Config(format!(
                "block size {} is not a positive multiple of {page}",
                self.block_size
            )));
        }
        if self.block_count == 0 {
            return Err(LiveError::Config("no blocks".into()));
        }
        (self.block_size / 2048)
            .checked_mul(self.block_count)
            .filter(|_| u64::from(self.block_size) * u64::from(self.block_count) <= 1 << 36)
            .ok_or_else(|| {
                LiveError::Config(format!(
                    "{} blocks of {} bytes is more than a ring can hold (64 GiB)",
                    self.block_count, self.block_size
                ))
            })
    }
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            block_size: 1 << 20,
            block_count: 64,
            block_timeout_ms: 100,
            promiscuous: true,
            fanout_group: None,
            filter: Vec::new(),
        }
    }
}

/// What the kernel counted for the socket since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct KernelCounters {
    /// Packets the socket received (including those dropped).
    pub packets: u64,
    /// Packets dropped because the ring was full.
    pub drops: u64,
    /// Times the ring was frozen full.
    pub freeze_queue: u64,
}

/// A change of the interface's state seen by the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// It went down: no packets until it comes back.
    Down,
    /// Packets arrive again, this long after it went down.
    Up {
        /// How long nothing could be captured.
        after: Duration,
    },
}

/// Why a live capture could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The interface is unknown.
    #[error("interface {0:?} not found (`ip link` lists the interfaces)")]
    NoInterface(String),
    /// The interface's hardware type has no link type we decode.
    #[error("interface {interface:?} has hardware type {arphrd}, which voxprobe does not decode (Ethernet, loopback and raw IP interfaces are supported)")]
    UnsupportedInterface {
        /// Interface name.
        interface: String,
        /// ARPHRD_* number from `/sys/class/net/IFACE/type`.
        arphrd: u32,
    },
    /// A bad ring layout.
    #[error("ring layout: {0}")]
    Config(String),
    /// The libpcap engine failed (its own message).
    #[error("{0}")]
    Engine(String),
    /// A system call failed.
    #[error("{what} on interface {interface:?}: {source}{hint}")]
    Os {
        /// Which step.
        what: &'static str,
        /// Interface name.
        interface: String,
        /// The error.
        source: io::Error,
        /// What to do about it.
        hint: &'static str,
    },
}

/// A TPACKET_V3 receive ring on one interface.
pub struct Ring {
    fd: OwnedFd,
    block_timeout: Duration,
    map: NonNull<u8>,
    map_len: usize,
    block_size: usize,
    block_count: usize,
    next_block: usize,
    interface: String,
    link: LinkType,
    frames: u64,
    /// Which of the capture's interfaces this is (the frames' `interface`).
    index: u32,
    /// When the interface went down (wall clock, as frames are stamped),
    /// while no frame from after that came.
    down_at: Option<PacketTime>,
    /// The first frame stamped after `down_at`.
    back_at: Option<PacketTime>,
    link_downs: u64,
    event: Option<LinkEvent>,
    counters: KernelCounters,
    /// A frame with its VLAN tag put back.
    retagged: Vec<u8>,
}

const PERMISSION_HINT: &str = " (live capture needs root or the CAP_NET_RAW capability, and CAP_NET_ADMIN for promiscuous mode)";

/// The link type of an interface, from its hardware type in sysfs.
///
/// # Errors
/// When the interface is unknown or of a type voxprobe does not decode.
pub fn link_type_of(interface: &str) -> Result<LinkType, LiveError> {
    let path = format!("/sys/class/net/{interface}/type");
    let text =
        std::fs::read_to_string(&path).map_err(|_| LiveError::NoInterface(interface.to_owned()))?;
    let arphrd: u32 = text.trim().parse().unwrap_or(u32::MAX);
    match arphrd {
        // ARPHRD_ETHER, ARPHRD_LOOPBACK (frames carry an Ethernet header).
        1 | 772 => Ok(LinkType::Ethernet),
        // ARPHRD_NONE (tun), ARPHRD_RAWIP: the frame starts at the IP header.
        65534 | 519 => Ok(LinkType::RawIp),
        _ => Err(LiveError::UnsupportedInterface {
            interface: interface.to_owned(),
            arphrd,
        }),
    }
}

impl Ring {
    /// Opens a ring on `interface`.
    ///
    /// # Errors
    /// An unknown or unsupported interface, a bad layout, or a refused
    /// system call (most often: not enough privilege).
    pub fn open(interface: &str, config: &RingConfig) -> Result<Ring, LiveError> {
        let link = link_type_of(interface)?;
        let frame_count = config.frame_count()?;
        let os = |what: &'static str, hint: &'static str| {
            let source = io::Error::last_os_error();
            LiveError::Os {
                what,
                interface: interface.to_owned(),
                source,
                hint,
            }
        };
        let c_name =
            CString::new(interface).map_err(|_| LiveError::NoInterface(interface.into()))?;
        // SAFETY: if_nametoindex reads a NUL-terminated string we own.
        let ifindex = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
        if ifindex == 0 {
            return Err(LiveError::NoInterface(interface.to_owned()));
        }
        let protocol = (libc::ETH_P_ALL as u16).to_be();
        // Protocol 0: the socket receives nothing until it is bound to the
        // interface (with ETH_P_ALL) once the ring and the filter are in
        // place, so no frame of another interface or that the filter
        // rejects lands in the ring first.
        // SAFETY: plain socket(2) call; the result is checked below.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        if raw < 0 {
            return Err(os("opening an AF_PACKET socket", PERMISSION_HINT));
        }
        // SAFETY: `raw` is a descriptor we just opened and own alone.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        if !config.filter.is_empty() {
            attach_filter(&fd, &config.filter).map_err(|source| LiveError::Os {
                what: "attaching the capture filter",
                interface: interface.to_owned(),
                source,
                hint: "",
            })?;
        }
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        set_option(&fd, libc::PACKET_VERSION, &version)
            .map_err(|_| os("selecting TPACKET_V3", " (the kernel needs 3.2 or later)"))?;
        let request = libc::tpacket_req3 {
            tp_block_size: config.block_size,
            tp_block_nr: config.block_count,
            // Frames are variable-sized in V3; the kernel still checks that
            // frame_size divides the block and frame_nr matches.
            tp_frame_size: 2048,
            tp_frame_nr: frame_count,
            tp_retire_blk_tov: config.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        set_option(&fd, libc::PACKET_RX_RING, &request).map_err(|_| {
            os(
                "creating the receive ring",
                " (lower --ring-blocks or --ring-block-size: the kernel could not allocate it)",
            )
        })?;
        let map_len = config.block_size as usize * config.block_count as usize;
        // SAFETY: maps the ring the kernel just allocated for this socket;
        // length and flags are those packet(7) documents for PACKET_RX_RING.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(os("mapping the receive ring", ""));
        }
        let Some(map) = NonNull::new(map.cast::<u8>()) else {
            return Err(os("mapping the receive ring", ""));
        };
        let ring = Ring {
            fd,
            block_timeout: Duration::from_millis(u64::from(config.block_timeout_ms)),
            map,
            map_len,
            block_size: config.block_size as usize,
            block_count: config.block_count as usize,
            next_block: 0,
            interface: interface.to_owned(),
            link,
            frames: 0,
            index: 0,
            down_at: None,
            back_at: None,
            link_downs: 0,
            event: None,
            counters: KernelCounters::default(),
            retagged: Vec::with_capacity(1 << 16),
        };
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
        let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        address.sll_family = libc::AF_PACKET as u16;
        address.sll_protocol = protocol;
        address.sll_ifindex = ifindex as i32;
        // SAFETY: binds our socket to an address of the right type and size.
        let bound = unsafe {
            libc::bind(
                ring.fd.as_raw_fd(),
                (&raw const address).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if bound != 0 {
            return Err(os("binding to the interface", ""));
        }
        if config.promiscuous {
            let membership = libc::packet_mreq {
                mr_ifindex: ifindex as i32,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            set_option(&ring.fd, libc::PACKET_ADD_MEMBERSHIP, &membership)
                .map_err(|_| os("entering promiscuous mode", PERMISSION_HINT))?;
        }
        if let Some(group) = config.fanout_group {
            let mode = libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_DEFRAG;
            let argument: u32 = u32::from(group) | (mode << 16);
            set_option(&ring.fd, libc::PACKET_FANOUT, &argument)
                .map_err(|_| os("joining the fanout group", ""))?;
        }
        Ok(ring)
    }

    /// Numbers this ring's frames as coming from interface `index` of a
    /// capture on several interfaces.
    pub fn set_index(&mut self, index: u32) {
        self.index = index;
    }

    /// The interface's name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Reads (and so clears) the socket's pending error. The kernel reports
    /// ENETDOWN when the interface goes down; the socket stays bound and
    /// receives again when it comes back, so that is an event, not an end.
    fn take_socket_error(&mut self) -> Result<(), LiveError> {
        let error: libc::c_int =
            get_option(&self.fd, libc::SOL_SOCKET, libc::SO_ERROR).map_err(|source| {
                LiveError::Os {
                    what: "reading the socket's error",
                    interface: self.interface.clone(),
                    source,
                    hint: "",
                }
            })?;
        match error {
            0 => Ok(()),
            libc::ENETDOWN => {
                if self.down_at.is_none() {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default();
                    self.down_at = Some(PacketTime::from_parts(
                        i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
                        now.subsec_nanos(),
                    ));
                    self.link_downs += 1;
                    self.event = Some(LinkEvent::Down);
                }
                Ok(())
            }
            e => Err(LiveError::Os {
                what: "receiving",
                interface: self.interface.clone(),
                source: io::Error::from_raw_os_error(e),
                hint: " (was the interface removed?)",
            }),
        }
    }

    /// The interface going down or coming back, once per change.
    pub fn take_event(&mut self) -> Option<LinkEvent> {
        self.event.take()
    }

    /// Times the interface went down.
    pub fn link_downs(&self) -> u64 {
        self.link_downs
    }

    /// Waits up to `timeout` until one of `rings` has a block to read
    /// (returns at once when one already has).
    ///
    /// # Errors
    /// When waiting fails other than by a signal.
    pub fn wait_any(rings: &[Ring], timeout: Duration) -> Result<(), LiveError> {
        if rings.iter().any(|r| r.block_is_ours(r.block(r.next_block))) {
            return Ok(());
        }
        let mut fds: Vec<libc::pollfd> = rings
            .iter()
            .map(|r| libc::pollfd {
                fd: r.fd.as_raw_fd(),
                events: libc::POLLIN | libc::POLLERR,
                revents: 0,
            })
            .collect();
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: polls descriptors we own through pollfds we own; the count
        // is the vector's length.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(LiveError::Os {
                    what: "waiting for packets",
                    interface: rings
                        .iter()
                        .map(|r| r.interface.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    source: e,
                    hint: "",
                });
            }
        }
        Ok(())
    }

    /// How long the kernel keeps a block open before handing it over.
    pub fn block_timeout(&self) -> Duration {
        self.block_timeout
    }

    /// The link type of its frames.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Waits up to `timeout` for the next block, hands each frame in it to
    /// `handle` in order, gives the block back, and says how many frames it
    /// held (0 when none came in time).
    ///
    /// # Errors
    /// When waiting fails (other than by a signal) or the interface went
    /// away.
    pub fn next_block(
        &mut self,
        timeout: Duration,
        handle: &mut dyn FnMut(&Frame<'_>),
    ) -> Result<usize, LiveError> {
        let block = self.block(self.next_block);
        if !self.block_is_ours(block) {
            let mut poll = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN | libc::POLLERR,
                revents: 0,
            };
            let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
            // SAFETY: polls one descriptor we own through a pollfd we own.
            let ready = unsafe { libc::poll(&raw mut poll, 1, ms) };
            if ready < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    return Ok(0);
                }
                return Err(LiveError::Os {
                    what: "waiting for packets",
                    interface: self.interface.clone(),
                    source: e,
                    hint: "",
                });
            }
            if poll.revents & libc::POLLNVAL != 0 {
                return Err(LiveError::Os {
                    what: "waiting for packets",
                    interface: self.interface.clone(),
                    source: io::Error::other("the socket is no longer valid"),
                    hint: "",
                });
            }
            if poll.revents & libc::POLLERR != 0 {
                self.take_socket_error()?;
            }
            if !self.block_is_ours(block) {
                return Ok(0);
            }
        }

        // Everything the kernel wrote in the block before handing it over is
        // visible after this fence.
        fence(Ordering::Acquire);
        let count = self.walk_block(block, handle);
        if let (Some(down), Some(back)) = (self.down_at, self.back_at) {
            let after = back.as_nanos().saturating_sub(down.as_nanos()).max(0);
            self.event = Some(LinkEvent::Up {
                after: Duration::from_nanos(after as u64),
            });
            (self.down_at, self.back_at) = (None, None);
        }
        // Our reads of the block happen before the kernel may reuse it.
        fence(Ordering::Release);
        // SAFETY: `block` points at a block header inside our mapping (see
        // `block`); writing TP_STATUS_KERNEL to its status gives it back, as
        // packet(7) prescribes.
        unsafe {
            let status = std::ptr::addr_of_mut!((*block.as_ptr()).hdr.bh1.block_status);
            std::ptr::write_volatile(status, libc::TP_STATUS_KERNEL);
        }
        self.next_block = (self.next_block + 1) % self.block_count;
        Ok(count)
    }

    fn block(&self, index: usize) -> NonNull<libc::tpacket_block_desc> {
        // SAFETY: index < block_count, so the offset stays inside the mapping
        // of block_size * block_count bytes; blocks start page-aligned.
        unsafe { self.map.add(index * self.block_size).cast() }
    }

    fn block_is_ours(&self, block: NonNull<libc::tpacket_block_desc>) -> bool {
        // SAFETY: the block header lies inside our mapping; the kernel
        // writes the status concurrently, hence the volatile read.
        let status = unsafe {
            std::ptr::read_volatile(std::ptr::addr_of!((*block.as_ptr()).hdr.bh1.block_status))
        };
        status & libc::TP_STATUS_USER != 0
    }

    fn walk_block(
        &mut self,
        block: NonNull<libc::tpacket_block_desc>,
        handle: &mut dyn FnMut(&Frame<'_>),
    ) -> usize {
        // SAFETY: the block is ours until we give it back (TP_STATUS_USER was
        // set); its header lies inside the mapping.
        let (count, first) = unsafe {
            let h = &(*block.as_ptr()).hdr.bh1;
            (h.num_pkts as usize, h.offset_to_first_pkt as usize)
        };
        // SAFETY: the block's bytes lie inside the mapping and are ours
        // until we give the block back.
        let bytes =
            unsafe { std::slice::from_raw_parts(block.as_ptr().cast::<u8>(), self.block_size) };
        let mut offset = first;
        let header_len = std::mem::size_of::<libc::tpacket3_hdr>();
        for _ in 0..count {
            let Some(header_bytes) = bytes.get(offset..offset + header_len) else {
                break;
            };
            // SAFETY: tpacket3_hdr is plain data and `header_bytes` holds
            // exactly one, inside the block; read_unaligned needs no alignment.
            let h: libc::tpacket3_hdr =
                unsafe { std::ptr::read_unaligned(header_bytes.as_ptr().cast()) };
            let start = offset + usize::from(h.tp_mac);
            let Some(data) = bytes.get(start..start + h.tp_snaplen as usize) else {
                break;
            };
            self.frames += 1;
            let time = PacketTime::from_parts(i64::from(h.tp_sec), h.tp_nsec);
            if self.down_at.is_some_and(|d| time > d) && self.back_at.is_none() {
                self.back_at = Some(time);
            }
            let vlan =
                h.tp_status & libc::TP_STATUS_VLAN_VALID != 0 && self.link == LinkType::Ethernet;
            // The tag goes back after the two MAC addresses.
            let (data, orig_len) = match data.split_at_checked(12).filter(|_| vlan) {
                Some((macs, rest)) => {
                    let tpid = if h.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                        h.hv1.tp_vlan_tpid
                    } else {
                        0x8100
                    };
                    self.retagged.clear();
                    self.retagged.extend_from_slice(macs);
                    self.retagged.extend_from_slice(&tpid.to_be_bytes());
                    self.retagged
                        .extend_from_slice(&(h.hv1.tp_vlan_tci as u16).to_be_bytes());
                    self.retagged.extend_from_slice(rest);
                    (self.retagged.as_slice(), h.tp_len.saturating_add(4))
                }
                None => (data, h.tp_len),
            };
            handle(&Frame {
                data,
                time,
                orig_len,
                link: self.link,
                interface: self.index,
                number: self.frames,
            });
            if h.tp_next_offset == 0 {
                break;
            }
            offset += h.tp_next_offset as usize;
        }
        count
    }

    /// Reads the blocks the kernel still hands over within `wait` (the
    /// frames already captured when the capture is told to stop: the open
    /// block is handed over at its timeout), at most one ring's worth.
    ///
    /// # Errors
    /// As [`Ring::next_block`].
    pub fn drain(
        &mut self,
        wait: Duration,
        handle: &mut dyn FnMut(&Frame<'_>),
    ) -> Result<usize, LiveError> {
        let mut total = 0;
        for _ in 0..self.block_count {
            let n = self.next_block(wait, handle)?;
            if n == 0 {
                break;
            }
            total += n;
        }
        Ok(total)
    }

    /// The kernel's counters for this socket so far (it resets them on each
    /// read; they are summed here).
    ///
    /// # Errors
    /// When the kernel refuses the query.
    pub fn kernel_counters(&mut self) -> Result<KernelCounters, LiveError> {
        let stats: libc::tpacket_stats_v3 =
            get_option(&self.fd, libc::SOL_PACKET, libc::PACKET_STATISTICS).map_err(|source| {
                LiveError::Os {
                    what: "reading the kernel's packet counters",
                    interface: self.interface.clone(),
                    source,
                    hint: "",
                }
            })?;
        self.counters.packets += u64::from(stats.tp_packets);
        self.counters.drops += u64::from(stats.tp_drops);
        self.counters.freeze_queue += u64::from(stats.tp_freeze_q_cnt);
        Ok(self.counters)
    }
}

// SAFETY: a `Ring` owns its socket and its mapping of the ring alone (no
// other handle to either exists, frames borrowed from it do not outlive the
// `&mut self` calls that hand them out), so moving it to another thread (the
// capture stage's) is sound; it is not shared (no `Sync`).
unsafe impl Send for Ring {}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`; no frame
        // borrowed from it outlives `self`.
        unsafe {
            libc::munmap(self.map.as_ptr().cast(), self.map_len);
        }
    }
}

/// Reads a socket option of a plain-data type (an int, a stats struct).
fn get_option<T: Copy>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int) -> io::Result<T> {
    let mut value = std::mem::MaybeUninit::<T>::zeroed();
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes, the size of `T`, into
    // `value`; every option read here is plain data for which all-zero bytes
    // (what the kernel leaves unwritten) are valid.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            value.as_mut_ptr().cast(),
            &raw mut len,
        )
    };
    if r == 0 {
        // SAFETY: zeroed, then written by the kernel: a valid `T` (above).
        Ok(unsafe { value.assume_init() })
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_option<T>(fd: &OwnedFd, name: libc::c_int, value: &T) -> io::Result<()> {
    set_socket_option(fd, libc::SOL_PACKET, name, value)
}

/// Attaches a classic BPF program to a socket.
fn attach_filter(fd: &OwnedFd, program: &[BpfInstruction]) -> io::Result<()> {
    let instructions: Vec<libc::sock_filter> = program
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let fprog = libc::sock_fprog {
        len: u16::try_from(instructions.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "filter longer than 65535 instructions",
            )
        })?,
        // The kernel copies the instructions during the call and does not
        // write them.
        filter: instructions.as_ptr().cast_mut(),
    };
    set_socket_option(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
}

fn set_socket_option<T>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a `T` we own with its exact size, as
    // setsockopt(2) reads it.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
