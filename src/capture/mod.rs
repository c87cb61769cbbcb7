//! Packet sources: capture files ([`mod@file`]) and live interfaces
//! ([`afpacket`], Linux).
//!
//! A source yields borrowed [`Frame`]s in capture order: the bytes as captured
//! (never copied), the packet time, the original length on the wire, and the
//! link type of the interface the frame came from. Everything downstream decodes
//! from these borrowed bytes.
//!
//! Contract of every source: frames come in file order; a source never panics on
//! its input; when it cannot go on (truncated file, corrupt block) it says where
//! (byte offset) and why through [`ReadStop`], after every frame before that
//! point has been yielded.

#[cfg(target_os = "linux")]
pub mod afpacket;
pub mod file;
#[cfg(feature = "libpcap")]
pub mod libpcap;

pub use file::CaptureFile;

use crate::time::PacketTime;
use std::fmt;
use std::path::PathBuf;

/// A link-layer type, by its LINKTYPE_* number (tcpdump.org/linktypes.html).
///
/// Unknown values are data, not errors: a pcapng file may have one interface we
/// cannot decode beside others we can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// LINKTYPE_NULL (0): BSD loopback, 4-byte host-order address family.
    Null,
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_RAW (101) and the historic DLT_RAW values 12 and 14: raw IPv4 or IPv6.
    RawIp,
    /// LINKTYPE_LOOP (108): like NULL, but the family is big-endian.
    Loop,
    /// LINKTYPE_LINUX_SLL (113): Linux cooked capture v1.
    LinuxSll,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_LINUX_SLL2 (276): Linux cooked capture v2.
    LinuxSll2,
    /// Any other link type number.
    Unknown(u32),
}

impl LinkType {
    /// The link type for a LINKTYPE_* number.
    pub fn from_number(n: u32) -> Self {
        match n {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::RawIp,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            other => LinkType::Unknown(other),
        }
    }

    /// The LINKTYPE_* number (101 for every raw-IP variant).
    pub fn number(self) -> u32 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::RawIp => 101,
            LinkType::Loop => 108,
            LinkType::LinuxSll => 113,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::LinuxSll2 => 276,
            LinkType::Unknown(n) => n,
        }
    }

    /// Whether the packet decoder understands this link type.
    pub fn is_supported(self) -> bool {
        !matches!(self, LinkType::Unknown(_))
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            LinkType::Null => "NULL/loopback",
            LinkType::Ethernet => "Ethernet",
            LinkType::RawIp => "raw IP",
            LinkType::Loop => "OpenBSD loopback",
            LinkType::LinuxSll => "Linux cooked (SLL)",
            LinkType::Ipv4 => "raw IPv4",
            LinkType::Ipv6 => "raw IPv6",
            LinkType::LinuxSll2 => "Linux cooked v2 (SLL2)",
            LinkType::Unknown(_) => "unknown",
        };
        write!(f, "{name} (link type {})", self.number())
    }
}

/// One captured frame, borrowed from the source.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// The captured bytes (at most the snap length).
    pub data: &'a [u8],
    /// Capture time.
    pub time: PacketTime,
    /// Length of the packet on the wire; larger than `data.len()` when the
    /// capture's snap length cut it.
    pub orig_len: u32,
    /// Link type of the interface this frame was captured on.
    pub link: LinkType,
    /// Interface index within the file (0 for pcap).
    pub interface: u32,
    /// 1-based frame number, as Wireshark numbers frames.
    pub number: u64,
}

impl Frame<'_> {
    /// Whether the snap length cut this frame short.
    pub fn is_snaplen_truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.orig_len)
    }
}

/// Where and why reading a file stopped before its end. Every frame before
/// `offset` was yielded; nothing after it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadStop {
    /// Byte offset in the file of the first byte that could not be used.
    pub offset: u64,
    /// What was wrong there, for the user ("file ends inside a record ...").
    pub reason: String,
}

/// Errors that prevent reading a capture file at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or mapped.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The magic bytes are not pcap or pcapng.
    #[error("{path}: not a pcap or pcapng file ({detected}); convert it first, e.g. `editcap -F pcap IN OUT` or `tshark -r IN -w OUT -F pcapng`")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// What the magic bytes look like ("Microsoft NetMon 2.x capture", "magic 0x12345678", "empty file").
        detected: String,
    },
    /// The file's only link type is one the decoder does not support.
    #[error("{path}: {link} is not supported; supported link types are Ethernet, Linux cooked (SLL, SLL2), raw IPv4/IPv6 and NULL/loopback")]
    UnsupportedLinkType {
        /// The file.
        path: PathBuf,
        /// The link type found.
        link: LinkType,
    },
    /// The header itself is damaged, so no frame can be read.
    #[error("{path}: corrupt file header at byte {offset}: {reason}")]
    CorruptHeader {
        /// The file.
        path: PathBuf,
        /// Byte offset of the problem.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}
