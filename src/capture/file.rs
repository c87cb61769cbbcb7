//! Capture files: pcap (µs/ns, either byte order) and pcapng, memory-mapped.
//!
//! [`CaptureFile`] owns the file's bytes: a read-only memory map, or (for a
//! pipe, or when mapping fails) a copy read into memory. [`FrameReader`] walks
//! those bytes and yields borrowed [`Frame`]s; it is the one code path for
//! both, and it runs on any `&[u8]` (the fuzz target feeds it arbitrary bytes).
//!
//! The format comes from the magic bytes, never from the file name: pcap in
//! both byte orders with µs (a1b2c3d4) or ns (a1b23c4d) timestamps, and pcapng
//! (section header 0a0d0d0a, either byte order, any number of sections). Common
//! formats that are neither (NetMon, snoop, gzip...) are named in the error.
//!
//! Framing uses `pcap-parser`, which never reads past its input. pcapng packet
//! blocks are framed with its generic block parser and their fixed fields read
//! here, so the per-frame path allocates nothing (its EPB parser would collect
//! the options into a `Vec`).
//!
//! Contract: frames come in file order, numbered from 1 as Wireshark numbers
//! them. When the file is cut short or corrupt, every complete frame before the
//! bad record or block is yielded, then [`FrameReader::stop`] says at which byte
//! and why, and iteration ends. Nothing is ever allocated from a length field,
//! and every step consumes bytes or ends, so no input makes the reader panic,
//! loop or grow without bound (the interface table is capped at
//! [`MAX_INTERFACES`]).

use super::{CaptureError, Frame, LinkType, ReadStop};
use crate::time::PacketTime;
use pcap_parser::nom;
use pcap_parser::pcapng::{
    parse_interfacedescriptionblock_be, parse_interfacedescriptionblock_le,
    parse_sectionheaderblock, parse_unknownblock_be, parse_unknownblock_le, OptionCode,
    PcapNGOption,
};
use pcap_parser::{parse_pcap_frame, parse_pcap_frame_be, PcapError};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest captured length accepted in a pcap record: 262144, the limit
/// Wireshark applies to every link type we decode. A larger value means the
/// record header is garbage (there is no other consistency check in pcap), so
/// reading stops there as Wireshark does.
pub const MAX_PCAP_CAPLEN_BYTES: u32 = 262_144;

/// Most interfaces one pcapng section may describe. Real files have a handful;
/// the cap bounds the interface table on hostile input (each entry is a few
/// dozen bytes).
pub const MAX_INTERFACES: usize = 65_536;

/// Bytes read between two releases of a mapped file's pages.
pub const RELEASE_STEP: usize = 16 << 20;

/// The container format, detected from the magic bytes (never the file name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap.
    Pcap {
        /// Timestamps in nanoseconds (magic a1b23c4d) rather than microseconds.
        nanos: bool,
        /// File written big-endian.
        big_endian: bool,
    },
    /// pcapng.
    Pcapng,
}

/// Magic numbers and fixed sizes of the two formats.
mod magic {
    /// pcap, µs timestamps, as the bytes appear in a big-endian file.
    pub const PCAP_MICROS: [u8; 4] = [0xa1, 0xb2, 0xc3, 0xd4];
    /// pcap, ns timestamps, big-endian bytes.
    pub const PCAP_NANOS: [u8; 4] = [0xa1, 0xb2, 0x3c, 0x4d];
    /// The pcap global header.
    pub const PCAP_HEADER_LEN: usize = 24;
    /// The pcap record header: ts_sec, ts_frac, caplen, origlen.
    pub const PCAP_RECORD_HEADER_LEN: usize = 16;
    /// pcapng Section Header Block type: a palindrome, the same in both orders.
    pub const SHB: u32 = 0x0A0D_0D0A;
    /// pcapng Interface Description Block.
    pub const IDB: u32 = 0x0000_0001;
    /// pcapng obsolete Packet Block.
    pub const PB: u32 = 0x0000_0002;
    /// pcapng Simple Packet Block.
    pub const SPB: u32 = 0x0000_0003;
    /// pcapng Enhanced Packet Block.
    pub const EPB: u32 = 0x0000_0006;
    /// Type and the two length fields around every pcapng block body.
    pub const BLOCK_OVERHEAD: usize = 12;
    /// EPB body before the data: if_id, ts_high, ts_low, caplen, origlen.
    pub const EPB_FIXED: usize = 20;
    /// Obsolete PB body before the data: if_id(2), drops(2), ts_high, ts_low, caplen, len.
    pub const PB_FIXED: usize = 20;
    /// SPB body before the data: origlen.
    pub const SPB_FIXED: usize = 4;
}

/// The bytes of an open file: mapped, or read into memory when mapping is not
/// possible.
enum Bytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(map) => map,
            Bytes::Read(vec) => vec,
        }
    }
}

/// An open, memory-mapped capture file.
///
/// The map assumes nobody truncates or rewrites the file while it is open; see
/// [`CaptureFile::open`].
pub struct CaptureFile {
    path: PathBuf,
    bytes: Bytes,
    start: Start,
    /// Bytes at the start of the map already handed back to the OS.
    released: std::cell::Cell<usize>,
}

impl CaptureFile {
    /// Opens and maps `path`, detecting the format from its magic bytes.
    ///
    /// A regular file is memory-mapped; anything else (a pipe, a FIFO,
    /// `/dev/stdin`), or a file the OS refuses to map, is read into memory.
    /// Like ripgrep, this trusts that the file is not truncated while mapped:
    /// if another process shortens it, touching the lost pages raises SIGBUS.
    /// Capture files are normally finished; a file still being appended to is
    /// safe (the map covers the length seen at open time).
    ///
    /// # Errors
    /// I/O errors, an unknown format, a damaged header, or (pcap) a link type
    /// the decoder does not support.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let io = |source| CaptureError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let bytes = if meta.is_file() {
            if meta.len() == 0 {
                return Err(unknown_format(path, "empty file".to_owned()));
            }
            // SAFETY: the map is read-only and private to this process, and we
            // never create a `&mut` into it. The remaining hazard is another
            // process truncating or rewriting the file while it is mapped: the
            // bytes may change under us (they are only ever read through
            // bounds-checked parsers, so that gives wrong frames, not UB in our
            // code) and pages past a truncation raise SIGBUS. That is the same
            // trade-off ripgrep makes for its mmap searcher; capture files are
            // finished files, and the method docs state the assumption.
            match unsafe { memmap2::Mmap::map(&file) } {
                Ok(map) => {
                    #[cfg(unix)]
                    {
                        // Only a hint; reading works the same if it fails.
                        let _ = map.advise(memmap2::Advice::Sequential);
                    }
                    Bytes::Mapped(map)
                }
                Err(_) => Bytes::Read(read_all(&mut file).map_err(io)?),
            }
        } else {
            Bytes::Read(read_all(&mut file).map_err(io)?)
        };
        let start = Start::detect(path, bytes.as_slice())?;
        Ok(CaptureFile {
            path: path.to_owned(),
            bytes,
            start,
            released: std::cell::Cell::new(0),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the file in bytes.
    pub fn len(&self) -> u64 {
        self.bytes.as_slice().len() as u64
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.as_slice().is_empty()
    }

    /// The detected container format.
    pub fn format(&self) -> Format {
        self.start.format()
    }

    /// Tells the OS that the mapped bytes before `offset` have been read, so
    /// their pages leave this process's resident set: a 50 GB capture is
    /// analysed in the memory of the part being read, not of the whole file.
    /// Frames already read stay valid (see the SAFETY note). A no-op for files
    /// read into memory and on systems without `madvise`.
    pub fn release_before(&self, offset: u64) {
        const PAGE: usize = 4096;
        let Bytes::Mapped(map) = &self.bytes else {
            return;
        };
        let end = usize::try_from(offset).unwrap_or(usize::MAX).min(map.len()) / PAGE * PAGE;
        let start = self.released.get();
        if end <= start {
            return;
        }
        #[cfg(unix)]
        {
            // SAFETY: the map is a private, read-only mapping of a regular file
            // that this process never writes. MADV_DONTNEED only drops our page
            // table entries for the range; a later access faults the same file
            // contents back in (it is not anonymous memory, so nothing reads as
            // zeros). Slices borrowed from the range therefore keep their bytes,
            // and the range lies inside the map (`end <= map.len()`).
            let advised = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
            };
            // Only a hint: on failure the pages simply stay resident.
            let _ = advised;
        }
        self.released.set(end);
    }

    /// [`CaptureFile::release_before`] `offset` once [`RELEASE_STEP`]
    /// bytes or more were read since the last release: cheap enough to call
    /// after every frame, and bounded in bytes whatever the frames' sizes.
    pub fn release_behind(&self, offset: u64) {
        let read = usize::try_from(offset).unwrap_or(usize::MAX);
        if read.saturating_sub(self.released.get()) >= RELEASE_STEP {
            self.release_before(offset);
        }
    }

    /// The frames, in file order.
    pub fn frames(&self) -> FrameReader<'_> {
        FrameReader::from_start(self.bytes.as_slice(), self.start)
    }
}

/// Reads a non-regular file (pipe, FIFO) to its end.
fn read_all(file: &mut File) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn unknown_format(path: &Path, detected: String) -> CaptureError {
    CaptureError::UnknownFormat {
        path: path.to_owned(),
        detected,
    }
}

/// What the header said, checked once by [`Start::detect`].
#[derive(Clone, Copy, Debug)]
enum Start {
    Pcap {
        big_endian: bool,
        nanos: bool,
        link: LinkType,
    },
    Pcapng,
}

impl Start {
    fn format(self) -> Format {
        match self {
            Start::Pcap {
                big_endian, nanos, ..
            } => Format::Pcap { nanos, big_endian },
            Start::Pcapng => Format::Pcapng,
        }
    }

    /// Detects the format from the magic bytes and checks the file header.
    fn detect(path: &Path, bytes: &[u8]) -> Result<Start, CaptureError> {
        let Some(&head) = bytes.first_chunk::<4>() else {
            let detected = if bytes.is_empty() {
                "empty file".to_owned()
            } else {
                format!(
                    "only {} bytes, too short for any capture format",
                    bytes.len()
                )
            };
            return Err(unknown_format(path, detected));
        };
        let mut reversed = head;
        reversed.reverse();
        let (big_endian, nanos) = if head == magic::PCAP_MICROS || reversed == magic::PCAP_MICROS {
            (head == magic::PCAP_MICROS, false)
        } else if head == magic::PCAP_NANOS || reversed == magic::PCAP_NANOS {
            (head == magic::PCAP_NANOS, true)
        } else if u32::from_le_bytes(head) == magic::SHB {
            return Start::check_first_section(path, bytes);
        } else {
            return Err(unknown_format(path, name_other_format(bytes, head)));
        };
        let Some(header) = bytes.first_chunk::<{ magic::PCAP_HEADER_LEN }>() else {
            return Err(CaptureError::CorruptHeader {
                path: path.to_owned(),
                offset: 0,
                reason: format!(
                    "the file ends inside the {}-byte pcap header ({} bytes)",
                    magic::PCAP_HEADER_LEN,
                    bytes.len()
                ),
            });
        };
        // The link type is the low 16 bits of the last header field; the high
        // bits may carry FCS information (libpcap's LT_LINKTYPE).
        let network = [header[20], header[21], header[22], header[23]];
        let network = if big_endian {
            u32::from_be_bytes(network)
        } else {
            u32::from_le_bytes(network)
        };
        let link = LinkType::from_number(network & 0xFFFF);
        if !link.is_supported() {
            return Err(CaptureError::UnsupportedLinkType {
                path: path.to_owned(),
                link,
            });
        }
        Ok(Start::Pcap {
            big_endian,
            nanos,
            link,
        })
    }

    /// Checks that the file opens with a readable pcapng section header.
    fn check_first_section(path: &Path, bytes: &[u8]) -> Result<Start, CaptureError> {
        match Section::parse(bytes) {
            Ok(_) => Ok(Start::Pcapng),
            Err(reason) => Err(CaptureError::CorruptHeader {
                path: path.to_owned(),
                offset: 0,
                reason,
            }),
        }
    }
}

/// Names a non-pcap format from its first bytes, for the error message.
fn name_other_format(bytes: &[u8], head: [u8; 4]) -> String {
    let named = match &head {
        b"GMBU" => "Microsoft NetMon 2.x capture",
        b"RTSS" => "Microsoft NetMon 1.x capture",
        [0x1f, 0x8b, ..] => "gzip-compressed; gunzip it first",
        [0x28, 0xb5, 0x2f, 0xfd] => "zstd-compressed; unzstd it first",
        [0xfd, b'7', b'z', b'X'] => "xz-compressed; unxz it first",
        [b'B', b'Z', b'h', _] => "bzip2-compressed; bunzip2 it first",
        [0xa1, 0xb2, 0xcd, 0x34] | [0x34, 0xcd, 0xb2, 0xa1] => {
            "Kuznetzov's modified pcap, which voxprobe does not read"
        }
        b"XCP\0" => "NetXRay/Sniffer capture",
        _ if bytes.starts_with(b"snoop\0\0\0") => "Sun snoop capture",
        _ => return format!("magic 0x{:08x}", u32::from_be_bytes(head)),
    };
    named.to_owned()
}

/// How an interface's 64-bit pcapng timestamps map to time.
#[derive(Clone, Copy, Debug)]
struct Clock {
    /// Ticks per second (10^n or 2^n, from `if_tsresol`).
    per_sec: u64,
    /// How the sub-second ticks become nanoseconds.
    scale: Scale,
    /// `if_tsoffset`: seconds added to every timestamp.
    offset_secs: i64,
}

#[derive(Clone, Copy, Debug)]
enum Scale {
    /// nanos = frac * n (ticks of 1 ns or coarser, decimal).
    Mul(u64),
    /// nanos = frac / n (decimal ticks finer than 1 ns).
    Div(u64),
    /// nanos = frac * 1e9 / per_sec (binary ticks).
    Ratio,
}

const NANOS_PER_SEC: u64 = 1_000_000_000;

impl Clock {
    /// The clock for an `if_tsresol` byte: bit 7 clear means 10^-n seconds per
    /// tick, set means 2^-n. None when the tick count per second does not fit
    /// 64 bits (n > 19 decimal, n > 63 binary): no 64-bit timestamp can use it.
    fn new(tsresol: u8, offset_secs: i64) -> Option<Clock> {
        let exp = u32::from(tsresol & 0x7f);
        let (per_sec, scale) = if tsresol & 0x80 == 0 {
            let per_sec = 10u64.checked_pow(exp)?;
            let scale = if per_sec <= NANOS_PER_SEC {
                Scale::Mul(NANOS_PER_SEC / per_sec)
            } else {
                Scale::Div(per_sec / NANOS_PER_SEC)
            };
            (per_sec, scale)
        } else {
            (1u64.checked_shl(exp)?, Scale::Ratio)
        };
        Some(Clock {
            per_sec,
            scale,
            offset_secs,
        })
    }

    fn time(&self, ticks: u64) -> PacketTime {
        // per_sec >= 1 by construction (10^0 or 2^0 at least).
        let secs = ticks / self.per_sec;
        let frac = ticks % self.per_sec;
        let nanos = match self.scale {
            // frac < per_sec <= 1e9 / n, so the product stays below 1e9.
            Scale::Mul(n) => frac.saturating_mul(n),
            Scale::Div(n) => frac / n,
            // frac < per_sec, so the quotient stays below 1e9.
            Scale::Ratio => {
                let n = u128::from(frac) * u128::from(NANOS_PER_SEC) / u128::from(self.per_sec);
                u64::try_from(n).unwrap_or(0)
            }
        };
        let secs = i64::try_from(secs)
            .unwrap_or(i64::MAX)
            .saturating_add(self.offset_secs);
        PacketTime::from_parts(secs, u32::try_from(nanos).unwrap_or(0))
    }
}

/// A pcap record time: whole seconds plus a fraction in µs or ns. A fraction of
/// a second or more (seen in broken writers) carries into the seconds.
fn pcap_time(secs: u32, frac: u32, nanos: bool) -> PacketTime {
    let per_sec: u32 = if nanos { 1_000_000_000 } else { 1_000_000 };
    let secs = i64::from(secs) + i64::from(frac / per_sec);
    let frac = frac % per_sec;
    let frac_nanos = if nanos { frac } else { frac * 1_000 };
    PacketTime::from_parts(secs, frac_nanos)
}

/// A pcapng interface, as its Interface Description Block described it.
#[derive(Clone, Copy, Debug)]
struct Interface {
    clock: Clock,
    /// 0 means no limit.
    snaplen: u32,
}

/// A parsed Section Header Block: byte order and length.
struct Section {
    big_endian: bool,
    block_len: usize,
}

impl Section {
    /// Parses the section header block at the start of `bytes`.
    fn parse(bytes: &[u8]) -> Result<Section, String> {
        match parse_sectionheaderblock(bytes) {
            Ok((rest, shb)) => {
                if shb.block_len1 != shb.block_len2 {
                    return Err(format!(
                        "section header block lengths disagree ({} at its start, {} at its end)",
                        shb.block_len1, shb.block_len2
                    ));
                }
                if shb.block_len1 % 4 != 0 {
                    return Err(format!(
                        "section header block length {} is not a multiple of 4",
                        shb.block_len1
                    ));
                }
                Ok(Section {
                    big_endian: shb.big_endian(),
                    block_len: bytes.len() - rest.len(),
                })
            }
            Err(nom::Err::Incomplete(_)) => Err(format!(
                "the file ends inside a section header block ({} bytes left)",
                bytes.len()
            )),
            Err(_) => Err(
                "unreadable section header block (bad byte-order magic or a length below 28)"
                    .to_owned(),
            ),
        }
    }
}

/// State of a pcapng reader: the current section's byte order and interfaces.
#[derive(Debug, Default)]
struct NgState {
    big_endian: bool,
    interfaces: Vec<Interface>,
    /// Time of the last frame, for Simple Packet Blocks (they carry none).
    last_time: PacketTime,
}

impl NgState {
    fn u32_at(&self, bytes: &[u8], at: usize) -> Option<u32> {
        let field = bytes.get(at..)?.first_chunk::<4>()?;
        Some(if self.big_endian {
            u32::from_be_bytes(*field)
        } else {
            u32::from_le_bytes(*field)
        })
    }

    fn u16_at(&self, bytes: &[u8], at: usize) -> Option<u16> {
        let field = bytes.get(at..)?.first_chunk::<2>()?;
        Some(if self.big_endian {
            u16::from_be_bytes(*field)
        } else {
            u16::from_le_bytes(*field)
        })
    }

    /// `if_tsresol` and `if_tsoffset` from an IDB's options, read in the
    /// section's byte order (pcap-parser reads the offset as little-endian
    /// whatever the section says, so it is decoded here).
    fn clock_options(&self, options: &[PcapNGOption<'_>]) -> (u8, i64) {
        let mut tsresol = 6;
        let mut tsoffset = 0;
        for option in options {
            match option.code {
                OptionCode::EndOfOpt => break,
                OptionCode::IfTsresol if option.len >= 1 => {
                    if let Some(&b) = option.value.first() {
                        tsresol = b;
                    }
                }
                OptionCode::IfTsoffset if option.len >= 8 => {
                    if let Some(&raw) = option.value.first_chunk::<8>() {
                        tsoffset = if self.big_endian {
                            i64::from_be_bytes(raw)
                        } else {
                            i64::from_le_bytes(raw)
                        };
                    }
                }
                _ => {}
            }
        }
        (tsresol, tsoffset)
    }
}

/// Reads frames from the bytes of a capture file; usable on any byte slice (the
/// fuzz target feeds it arbitrary bytes).
pub struct FrameReader<'a> {
    bytes: &'a [u8],
    /// Byte offset of the next record or block; never past `bytes.len()`.
    pos: usize,
    kind: Kind,
    /// Link type per interface id; one entry for pcap.
    links: Vec<LinkType>,
    /// Frames yielded so far (the last frame's number).
    number: u64,
    done: bool,
    stop: Option<ReadStop>,
}

#[derive(Debug)]
enum Kind {
    Pcap {
        big_endian: bool,
        nanos: bool,
        link: LinkType,
    },
    Pcapng(NgState),
}

impl<'a> FrameReader<'a> {
    /// A reader over `bytes`; `path` is only used in error messages.
    ///
    /// # Errors
    /// As [`CaptureFile::open`], minus I/O.
    pub fn new(path: &Path, bytes: &'a [u8]) -> Result<Self, CaptureError> {
        let start = Start::detect(path, bytes)?;
        Ok(FrameReader::from_start(bytes, start))
    }

    /// A reader over bytes whose header `start` describes.
    fn from_start(bytes: &'a [u8], start: Start) -> Self {
        let (kind, pos, links) = match start {
            Start::Pcap {
                big_endian,
                nanos,
                link,
            } => (
                Kind::Pcap {
                    big_endian,
                    nanos,
                    link,
                },
                magic::PCAP_HEADER_LEN,
                vec![link],
            ),
            // The section header is read again by the block loop.
            Start::Pcapng => (Kind::Pcapng(NgState::default()), 0, Vec::new()),
        };
        FrameReader {
            bytes,
            pos: pos.min(bytes.len()),
            kind,
            links,
            number: 0,
            done: false,
            stop: None,
        }
    }

    /// Bytes consumed so far (for progress reporting).
    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// Set once reading has ended before the end of the file.
    pub fn stop(&self) -> Option<&ReadStop> {
        self.stop.as_ref()
    }

    /// Link types of the interfaces described so far (index = interface id).
    /// For pcapng, the interfaces of the current section.
    pub fn interfaces(&self) -> &[LinkType] {
        &self.links
    }

    /// The next pcap record.
    #[inline]
    fn next_pcap(
        &mut self,
        big_endian: bool,
        nanos: bool,
        link: LinkType,
    ) -> Result<Option<Frame<'a>>, ReadStop> {
        let start = self.pos;
        let rest = self.bytes.get(start..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(None);
        }
        let caplen = match rest.get(8..12).and_then(|b| b.first_chunk::<4>()) {
            Some(&b) if big_endian => u32::from_be_bytes(b),
            Some(&b) => u32::from_le_bytes(b),
            None => {
                return Err(stop_at(
                    start,
                    format!(
                        "the file ends inside a {}-byte record header ({} bytes left); it was cut short",
                        magic::PCAP_RECORD_HEADER_LEN,
                        rest.len()
                    ),
                ))
            }
        };
        if caplen > MAX_PCAP_CAPLEN_BYTES {
            return Err(stop_at(
                start,
                format!(
                    "record {} claims {caplen} captured bytes, more than the {MAX_PCAP_CAPLEN_BYTES} any capture tool writes; the file is corrupt from here",
                    self.number.saturating_add(1)
                ),
            ));
        }
        let parsed = if big_endian {
            parse_pcap_frame_be(rest)
        } else {
            parse_pcap_frame(rest)
        };
        match parsed {
            Ok((after, record)) => {
                self.pos = start + (rest.len() - after.len());
                self.number = self.number.saturating_add(1);
                Ok(Some(Frame {
                    data: record.data,
                    time: pcap_time(record.ts_sec, record.ts_usec, nanos),
                    orig_len: record.origlen,
                    link,
                    interface: 0,
                    number: self.number,
                }))
            }
            Err(e) => Err(stop_at(
                start,
                match e {
                    nom::Err::Incomplete(_) => format!(
                        "record {} needs {caplen} captured bytes but only {} remain after its header; the file was cut short",
                        self.number.saturating_add(1),
                        rest.len().saturating_sub(magic::PCAP_RECORD_HEADER_LEN)
                    ),
                    _ => format!("unreadable record {}", self.number.saturating_add(1)),
                },
            )),
        }
    }

    /// The next packet from a pcapng file, skipping non-packet blocks.
    fn next_pcapng(&mut self) -> Result<Option<Frame<'a>>, ReadStop> {
        let Kind::Pcapng(state) = &mut self.kind else {
            return Ok(None);
        };
        loop {
            let start = self.pos;
            let rest = self.bytes.get(start..).unwrap_or_default();
            let Some(&head) = rest.first_chunk::<4>() else {
                if rest.is_empty() {
                    return Ok(None);
                }
                return Err(stop_at(
                    start,
                    format!(
                        "the file ends inside a block header ({} bytes left); it was cut short",
                        rest.len()
                    ),
                ));
            };
            if u32::from_le_bytes(head) == magic::SHB {
                let section = Section::parse(rest).map_err(|reason| stop_at(start, reason))?;
                state.big_endian = section.big_endian;
                state.interfaces.clear();
                self.links.clear();
                self.pos = start + section.block_len;
                continue;
            }
            let block_type = state.u32_at(rest, 0).unwrap_or_default();
            let framed = if state.big_endian {
                parse_unknownblock_be(rest)
            } else {
                parse_unknownblock_le(rest)
            };
            let (after, block) = match framed {
                Ok(ok) => ok,
                Err(e) => {
                    return Err(stop_at(
                        start,
                        block_frame_error(e, block_type, rest, state),
                    ))
                }
            };
            if block.block_len1 != block.block_len2 {
                return Err(stop_at(
                    start,
                    format!(
                        "{} lengths disagree ({} at its start, {} at its end): the length field lies or the file is corrupt from here",
                        block_name(block_type),
                        block.block_len1,
                        block.block_len2
                    ),
                ));
            }
            if block.block_len1 % 4 != 0 {
                return Err(stop_at(
                    start,
                    format!(
                        "{} length {} is not a multiple of 4; the file is corrupt from here",
                        block_name(block_type),
                        block.block_len1
                    ),
                ));
            }
            let block_len = rest.len() - after.len();
            let body = block.data;
            let frame = match block_type {
                magic::EPB => Some(enhanced_packet(state, &self.links, body)),
                magic::SPB => Some(simple_packet(state, &self.links, body)),
                magic::PB => Some(obsolete_packet(state, &self.links, body)),
                magic::IDB => {
                    let whole = rest.get(..block_len).unwrap_or_default();
                    describe_interface(state, &mut self.links, whole)
                        .map_err(|reason| stop_at(start, reason))?;
                    None
                }
                // Comments, name resolution, interface statistics, decryption
                // secrets, custom and unknown blocks carry no packets.
                _ => None,
            };
            match frame {
                None => self.pos = start + block_len,
                Some(Err(reason)) => return Err(stop_at(start, reason)),
                Some(Ok(mut frame)) => {
                    self.pos = start + block_len;
                    self.number = self.number.saturating_add(1);
                    frame.number = self.number;
                    state.last_time = frame.time;
                    return Ok(Some(frame));
                }
            }
        }
    }
}

impl<'a> Iterator for FrameReader<'a> {
    type Item = Frame<'a>;

    #[inline]
    fn next(&mut self) -> Option<Frame<'a>> {
        if self.done {
            return None;
        }
        let step = match self.kind {
            Kind::Pcap {
                big_endian,
                nanos,
                link,
            } => self.next_pcap(big_endian, nanos, link),
            Kind::Pcapng(_) => self.next_pcapng(),
        };
        match step {
            Ok(Some(frame)) => Some(frame),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(stop) => {
                self.done = true;
                self.stop = Some(stop);
                None
            }
        }
    }
}

fn stop_at(offset: usize, reason: String) -> ReadStop {
    ReadStop {
        offset: offset as u64,
        reason,
    }
}

fn block_name(block_type: u32) -> String {
    let name = match block_type {
        magic::SHB => "section header block",
        magic::IDB => "interface description block",
        magic::PB => "packet block",
        magic::SPB => "simple packet block",
        magic::EPB => "enhanced packet block",
        _ => return format!("block of type 0x{block_type:08x}"),
    };
    name.to_owned()
}

/// Why pcap-parser could not frame the block at the start of `rest`.
fn block_frame_error(
    e: nom::Err<PcapError<&[u8]>>,
    block_type: u32,
    rest: &[u8],
    state: &NgState,
) -> String {
    let name = block_name(block_type);
    let len = state.u32_at(rest, 4);
    match (e, len) {
        (nom::Err::Incomplete(_), Some(len)) if len as usize >= magic::BLOCK_OVERHEAD => format!(
            "{name} says it is {len} bytes long but only {} bytes remain; the file was cut short",
            rest.len()
        ),
        (nom::Err::Incomplete(_), None) => format!(
            "the file ends inside a block header ({} bytes left); it was cut short",
            rest.len()
        ),
        (_, Some(len)) => format!(
            "{name} length {len} is below the {}-byte minimum; the file is corrupt from here",
            magic::BLOCK_OVERHEAD
        ),
        (_, None) => format!("unreadable {name}"),
    }
}

/// Adds the interface an IDB describes (`whole` is the complete block).
fn describe_interface(
    state: &mut NgState,
    links: &mut Vec<LinkType>,
    whole: &[u8],
) -> Result<(), String> {
    let parsed = if state.big_endian {
        parse_interfacedescriptionblock_be(whole)
    } else {
        parse_interfacedescriptionblock_le(whole)
    };
    let Ok((_, idb)) = parsed else {
        return Err(format!(
            "interface description block {} is malformed ({} bytes, needs at least 20)",
            state.interfaces.len(),
            whole.len()
        ));
    };
    if state.interfaces.len() >= MAX_INTERFACES {
        return Err(format!(
            "more than {MAX_INTERFACES} interfaces in one section; the file is corrupt or hostile"
        ));
    }
    let (tsresol, tsoffset) = state.clock_options(&idb.options);
    let Some(clock) = Clock::new(tsresol, tsoffset) else {
        return Err(format!(
            "interface {}: if_tsresol 0x{tsresol:02x} is finer than a 64-bit timestamp can count",
            state.interfaces.len()
        ));
    };
    // The IDB link type field is 16 bits, read by pcap-parser as an i32.
    let link = u16::try_from(idb.linktype.0).map_or(LinkType::Unknown(u32::MAX), |n| {
        LinkType::from_number(u32::from(n))
    });
    state.interfaces.push(Interface {
        clock,
        snaplen: idb.snaplen,
    });
    links.push(link);
    Ok(())
}

/// The interface `id` names, or why it cannot be used.
fn interface<'s>(
    state: &'s NgState,
    links: &[LinkType],
    id: u32,
    what: &str,
) -> Result<(&'s Interface, LinkType), String> {
    let index = usize::try_from(id).unwrap_or(usize::MAX);
    match (state.interfaces.get(index), links.get(index)) {
        (Some(iface), Some(&link)) => Ok((iface, link)),
        _ => Err(format!(
            "{what} names interface {id}, but only {} interfaces were described in this section; the file is corrupt from here",
            state.interfaces.len()
        )),
    }
}

/// The fixed fields every timestamped packet block has, wherever they sit.
struct PacketFields {
    if_id: u32,
    ts: u64,
    caplen: u32,
    orig_len: u32,
}

/// Builds the frame of an Enhanced or obsolete Packet Block from its fixed
/// fields; `data_at` is where the packet bytes start in the body, `what` names
/// the block in errors.
fn packet_block_frame<'a>(
    state: &NgState,
    links: &[LinkType],
    body: &'a [u8],
    fields: Option<PacketFields>,
    data_at: usize,
    what: &str,
) -> Result<Frame<'a>, String> {
    let Some(PacketFields {
        if_id,
        ts,
        caplen,
        orig_len,
    }) = fields
    else {
        return Err(format!(
            "{what} is {} bytes, shorter than its {}-byte minimum",
            body.len() + magic::BLOCK_OVERHEAD,
            data_at + magic::BLOCK_OVERHEAD
        ));
    };
    let (iface, link) = interface(state, links, if_id, what)?;
    let data = body
        .get(data_at..)
        .and_then(|d| d.get(..usize::try_from(caplen).ok()?))
        .ok_or_else(|| {
            format!(
                "{what} claims {caplen} captured bytes but holds only {}",
                body.len().saturating_sub(data_at)
            )
        })?;
    Ok(Frame {
        data,
        time: iface.clock.time(ts),
        orig_len,
        link,
        interface: if_id,
        number: 0,
    })
}

/// An Enhanced Packet Block body: if_id, ts_high, ts_low, caplen, origlen, data, options.
#[inline]
fn enhanced_packet<'a>(
    state: &NgState,
    links: &[LinkType],
    body: &'a [u8],
) -> Result<Frame<'a>, String> {
    let fields = (|| {
        Some(PacketFields {
            if_id: state.u32_at(body, 0)?,
            ts: u64::from(state.u32_at(body, 4)?) << 32 | u64::from(state.u32_at(body, 8)?),
            caplen: state.u32_at(body, 12)?,
            orig_len: state.u32_at(body, 16)?,
        })
    })();
    packet_block_frame(
        state,
        links,
        body,
        fields,
        magic::EPB_FIXED,
        "enhanced packet block",
    )
}

/// An obsolete Packet Block body: if_id(2), drops(2), ts_high, ts_low, caplen, len, data.
fn obsolete_packet<'a>(
    state: &NgState,
    links: &[LinkType],
    body: &'a [u8],
) -> Result<Frame<'a>, String> {
    let fields = (|| {
        Some(PacketFields {
            if_id: u32::from(state.u16_at(body, 0)?),
            ts: u64::from(state.u32_at(body, 4)?) << 32 | u64::from(state.u32_at(body, 8)?),
            caplen: state.u32_at(body, 12)?,
            orig_len: state.u32_at(body, 16)?,
        })
    })();
    packet_block_frame(state, links, body, fields, magic::PB_FIXED, "packet block")
}

/// A Simple Packet Block body: origlen, data (padded). It belongs to interface
/// 0 and has no timestamp: it takes the time of the frame before it. Its
/// captured length is the smallest of the original length, the interface's
/// snap length and what the block holds.
fn simple_packet<'a>(
    state: &NgState,
    links: &[LinkType],
    body: &'a [u8],
) -> Result<Frame<'a>, String> {
    let Some(orig_len) = state.u32_at(body, 0) else {
        return Err(format!(
            "simple packet block is {} bytes, shorter than its {}-byte minimum",
            body.len() + magic::BLOCK_OVERHEAD,
            magic::SPB_FIXED + magic::BLOCK_OVERHEAD
        ));
    };
    let (iface, link) = interface(state, links, 0, "simple packet block")?;
    let held = body.get(magic::SPB_FIXED..).unwrap_or_default();
    let mut caplen = orig_len;
    if iface.snaplen != 0 {
        caplen = caplen.min(iface.snaplen);
    }
    let caplen = usize::try_from(caplen)
        .unwrap_or(usize::MAX)
        .min(held.len());
    Ok(Frame {
        data: held.get(..caplen).unwrap_or_default(),
        time: state.last_time,
        orig_len,
        link,
        interface: 0,
        number: 0,
    })
}

#[cfg(test)]
mod tests {
    //! All byte arrays here are made up, built by the helpers below.
    use super::*;

    const PATH: &str = "made-up.pcap";

    fn reader(bytes: &[u8]) -> FrameReader<'_> {
        match FrameReader::new(Path::new(PATH), bytes) {
            Ok(r) => r,
            Err(e) => panic!("expected a reader, got: {e}"),
        }
    }

    fn put32(out: &mut Vec<u8>, big: bool, v: u32) {
        out.extend_from_slice(&if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }

    fn put16(out: &mut Vec<u8>, big: bool, v: u16) {
        out.extend_from_slice(&if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }

    /// A pcap file: header then (secs, frac, data, orig_len) records.
    fn pcap(big: bool, nanos: bool, link: u32, records: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        put32(&mut out, big, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        put16(&mut out, big, 2);
        put16(&mut out, big, 4);
        put32(&mut out, big, 0);
        put32(&mut out, big, 0);
        put32(&mut out, big, 65_535);
        put32(&mut out, big, link);
        for &(secs, frac, data, orig) in records {
            put32(&mut out, big, secs);
            put32(&mut out, big, frac);
            put32(&mut out, big, data.len() as u32);
            put32(&mut out, big, orig);
            out.extend_from_slice(data);
        }
        out
    }

    /// A pcapng block with its body padded to 4 bytes.
    fn block(big: bool, block_type: u32, body: &[u8]) -> Vec<u8> {
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let len = (body.len() + 12) as u32;
        let mut out = Vec::new();
        put32(&mut out, big, block_type);
        put32(&mut out, big, len);
        out.extend_from_slice(&body);
        put32(&mut out, big, len);
        out
    }

    fn shb(big: bool) -> Vec<u8> {
        let mut body = Vec::new();
        put32(&mut body, big, 0x1A2B_3C4D);
        put16(&mut body, big, 1);
        put16(&mut body, big, 0);
        body.extend_from_slice(&[0xff; 8]);
        block(big, magic::SHB, &body)
    }

    /// An IDB with the given options (code, value).
    fn idb(big: bool, link: u16, options: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        put16(&mut body, big, link);
        put16(&mut body, big, 0);
        put32(&mut body, big, 0);
        for &(code, value) in options {
            put16(&mut body, big, code);
            put16(&mut body, big, value.len() as u16);
            body.extend_from_slice(value);
            while body.len() % 4 != 0 {
                body.push(0);
            }
        }
        if !options.is_empty() {
            body.extend_from_slice(&[0; 4]);
        }
        block(big, magic::IDB, &body)
    }

    fn epb(big: bool, if_id: u32, ticks: u64, data: &[u8], orig: u32) -> Vec<u8> {
        let mut body = Vec::new();
        put32(&mut body, big, if_id);
        put32(&mut body, big, (ticks >> 32) as u32);
        put32(&mut body, big, ticks as u32);
        put32(&mut body, big, data.len() as u32);
        put32(&mut body, big, orig);
        body.extend_from_slice(data);
        block(big, magic::EPB, &body)
    }

    fn collect(r: &mut FrameReader<'_>) -> Vec<(u64, Vec<u8>, i64, u32, LinkType, u32)> {
        r.map(|f| {
            (
                f.number,
                f.data.to_vec(),
                f.time.as_nanos(),
                f.orig_len,
                f.link,
                f.interface,
            )
        })
        .collect()
    }

    #[test]
    fn reads_pcap_in_all_four_variants() {
        for big in [false, true] {
            for nanos in [false, true] {
                let frac = if nanos { 123_456_789 } else { 123_456 };
                let bytes = pcap(big, nanos, 1, &[(10, frac, b"abc", 60), (11, 0, b"de", 2)]);
                let mut r = reader(&bytes);
                let frames = collect(&mut r);
                let want_first = if nanos {
                    10_123_456_789
                } else {
                    10_123_456_000
                };
                assert_eq!(
                    frames,
                    vec![
                        (1, b"abc".to_vec(), want_first, 60, LinkType::Ethernet, 0),
                        (2, b"de".to_vec(), 11_000_000_000, 2, LinkType::Ethernet, 0),
                    ],
                    "big_endian={big} nanos={nanos}"
                );
                assert_eq!(r.stop(), None);
                assert_eq!(r.offset(), bytes.len() as u64);
                let format = Start::detect(Path::new(PATH), &bytes).map(Start::format);
                assert!(
                    matches!(format, Ok(Format::Pcap { nanos: n, big_endian: b }) if n == nanos && b == big)
                );
            }
        }
    }

    #[test]
    fn pcap_fraction_of_a_second_or_more_carries() {
        let bytes = pcap(false, false, 1, &[(1, 2_500_000, b"x", 1)]);
        let t: Vec<i64> = reader(&bytes).map(|f| f.time.as_nanos()).collect();
        assert_eq!(t, vec![3_500_000_000]);
    }

    #[test]
    fn truncated_pcap_record_stops_at_its_start() {
        let mut bytes = pcap(
            false,
            false,
            1,
            &[(1, 0, b"first", 5), (2, 0, b"second", 6)],
        );
        let second = 24 + 16 + 5;
        bytes.truncate(bytes.len() - 2);
        let mut r = reader(&bytes);
        assert_eq!(r.by_ref().count(), 1);
        let stop = r.stop().cloned();
        assert_eq!(stop.as_ref().map(|s| s.offset), Some(second as u64));
        assert!(stop.is_some_and(|s| s.reason.contains("cut short")));
        assert_eq!(r.offset(), second as u64);
        assert_eq!(r.next().map(|f| f.number), None, "stays ended");
    }

    #[test]
    fn pcap_cut_inside_record_header_stops() {
        let mut bytes = pcap(true, false, 1, &[(1, 0, b"first", 5)]);
        bytes.extend_from_slice(&[0; 7]);
        let mut r = reader(&bytes);
        assert_eq!(r.by_ref().count(), 1);
        assert_eq!(r.stop().map(|s| s.offset), Some(24 + 16 + 5));
    }

    #[test]
    fn pcap_caplen_ffffffff_stops_without_allocating() {
        let mut bytes = pcap(false, false, 1, &[(1, 0, b"ok", 2)]);
        let bad = bytes.len();
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0]);
        bytes.extend_from_slice(&[0; 64]);
        let mut r = reader(&bytes);
        assert_eq!(r.by_ref().count(), 1);
        let stop = r.stop().cloned();
        assert_eq!(stop.as_ref().map(|s| s.offset), Some(bad as u64));
        assert!(stop.is_some_and(|s| s.reason.contains("4294967295")));
    }

    #[test]
    fn snaplen_truncated_pcap_record_is_a_normal_frame() {
        let bytes = pcap(false, false, 1, &[(1, 0, b"head", 1500)]);
        let frames: Vec<_> = reader(&bytes).collect();
        assert_eq!(frames.len(), 1);
        assert!(frames.iter().all(|f| f.is_snaplen_truncated()));
    }

    #[test]
    fn unsupported_pcap_link_type_is_an_error() {
        // 147 = LINKTYPE_USER0.
        let bytes = pcap(false, false, 147, &[(1, 0, b"x", 1)]);
        let result = FrameReader::new(Path::new(PATH), &bytes);
        assert!(matches!(
            result,
            Err(CaptureError::UnsupportedLinkType {
                link: LinkType::Unknown(147),
                ..
            })
        ));
    }

    #[test]
    fn pcap_link_type_ignores_fcs_bits() {
        // Bit 26 set plus FCS length 4 in the high bits, Ethernet below.
        let bytes = pcap(false, false, 0x8400_0001, &[]);
        assert_eq!(reader(&bytes).interfaces(), &[LinkType::Ethernet]);
    }

    #[test]
    fn pcap_header_cut_short_is_corrupt_header() {
        let bytes = pcap(false, false, 1, &[]);
        let result = FrameReader::new(Path::new(PATH), &bytes[..10]);
        assert!(matches!(
            result,
            Err(CaptureError::CorruptHeader { offset: 0, .. })
        ));
    }

    #[test]
    fn names_other_formats() {
        let cases: [(&[u8], &str); 6] = [
            (b"", "empty file"),
            (b"GMBU\0\0\0\0", "NetMon 2.x"),
            (b"RTSS\0\0\0\0", "NetMon 1.x"),
            (b"snoop\0\0\0\0\0\0\x02", "snoop"),
            (&[0x1f, 0x8b, 8, 0], "gunzip it first"),
            (&[0x12, 0x34, 0x56, 0x78], "magic 0x12345678"),
        ];
        for (bytes, want) in cases {
            match FrameReader::new(Path::new(PATH), bytes) {
                Err(CaptureError::UnknownFormat { detected, .. }) => {
                    assert!(detected.contains(want), "{detected:?} lacks {want:?}")
                }
                Err(e) => panic!("{want}: wrong error {e}"),
                Ok(_) => panic!("{want}: accepted"),
            }
        }
    }

    #[test]
    fn reads_pcapng_in_both_byte_orders() {
        for big in [false, true] {
            let mut bytes = shb(big);
            bytes.extend(idb(big, 113, &[]));
            bytes.extend(block(big, 0x0000_0005, &[0; 8])); // interface statistics: skipped
            bytes.extend(epb(big, 0, 1_500_000, b"hello", 99));
            let mut r = reader(&bytes);
            assert_eq!(
                collect(&mut r),
                vec![(
                    1,
                    b"hello".to_vec(),
                    1_500_000_000,
                    99,
                    LinkType::LinuxSll,
                    0
                )],
                "big_endian={big}"
            );
            assert_eq!(r.stop(), None);
            assert_eq!(r.offset(), bytes.len() as u64);
            assert_eq!(r.interfaces(), &[LinkType::LinuxSll]);
        }
    }

    #[test]
    fn pcapng_tsresol_nanoseconds_and_binary() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, &[(9, &[9])])); // 10^-9
        bytes.extend(idb(false, 1, &[(9, &[0x80 | 20])])); // 2^-20
        bytes.extend(idb(false, 1, &[(9, &[6]), (14, &100i64.to_le_bytes())])); // tsoffset 100 s
        bytes.extend(epb(false, 0, 1_234_567_891, b"a", 1));
        bytes.extend(epb(false, 1, (3 << 20) | (1 << 19), b"b", 1));
        bytes.extend(epb(false, 2, 5, b"c", 1));
        let times: Vec<(u32, i64)> = reader(&bytes)
            .map(|f| (f.interface, f.time.as_nanos()))
            .collect();
        assert_eq!(
            times,
            vec![(0, 1_234_567_891), (1, 3_500_000_000), (2, 100_000_005_000)]
        );
    }

    #[test]
    fn pcapng_tsoffset_uses_section_byte_order() {
        let mut bytes = shb(true);
        bytes.extend(idb(true, 1, &[(14, &(-10i64).to_be_bytes())]));
        bytes.extend(epb(true, 0, 20_000_000, b"a", 1));
        let times: Vec<i64> = reader(&bytes).map(|f| f.time.as_nanos()).collect();
        assert_eq!(times, vec![10_000_000_000]);
    }

    #[test]
    fn pcapng_unsupported_link_type_yields_unknown_frames() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 147, &[]));
        bytes.extend(idb(false, 1, &[]));
        bytes.extend(epb(false, 0, 0, b"u", 1));
        bytes.extend(epb(false, 1, 0, b"e", 1));
        let mut r = reader(&bytes);
        let links: Vec<LinkType> = r.by_ref().map(|f| f.link).collect();
        assert_eq!(links, vec![LinkType::Unknown(147), LinkType::Ethernet]);
        assert_eq!(r.stop(), None);
    }

    #[test]
    fn pcapng_lying_block_length_stops_at_the_block() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, &[]));
        bytes.extend(epb(false, 0, 0, b"good", 4));
        let bad = bytes.len();
        let mut lying = epb(false, 0, 0, b"bad!bad!", 8);
        lying[4] -= 4; // the leading length now says 4 bytes less than the trailing one
        bytes.extend(lying);
        bytes.extend(epb(false, 0, 0, b"never", 5));
        let mut r = reader(&bytes);
        assert_eq!(r.by_ref().count(), 1);
        let stop = r.stop().cloned();
        assert_eq!(stop.as_ref().map(|s| s.offset), Some(bad as u64));
        assert!(stop.is_some_and(|s| s.reason.contains("lengths disagree")));
        assert_eq!(r.offset(), bad as u64);
    }

    #[test]
    fn pcapng_block_length_past_the_end_stops() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, &[]));
        let bad = bytes.len();
        let mut huge = epb(false, 0, 0, b"x", 1);
        huge[4..8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        bytes.extend(huge);
        let mut r = reader(&bytes);
        assert_eq!(r.by_ref().count(), 0);
        let stop = r.stop().cloned();
        assert_eq!(stop.as_ref().map(|s| s.offset), Some(bad as u64));
        assert!(stop.is_some_and(|s| s.reason.contains("cut short")));
    }

    #[test]
    fn pcapng_epb_caplen_beyond_its_block_stops() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, &[]));
        let bad = bytes.len();
        let mut lying = epb(false, 0, 0, b"abcd", 4);
        lying[20..24].copy_from_slice(&5000u32.to_le_bytes());
        bytes.extend(lying);
        let mut r = reader(&bytes);
        assert_eq!(r.by_ref().count(), 0);
        assert_eq!(r.stop().map(|s| s.offset), Some(bad as u64));
    }

    #[test]
    fn pcapng_epb_with_undescribed_interface_stops() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, &[]));
        bytes.extend(epb(false, 0, 0, b"ok", 2));
        let bad = bytes.len();
        bytes.extend(epb(false, 3, 0, b"who", 3));
        let mut r = reader(&bytes);
        assert_eq!(r.by_ref().count(), 1);
        let stop = r.stop().cloned();
        assert_eq!(stop.as_ref().map(|s| s.offset), Some(bad as u64));
        assert!(stop.is_some_and(|s| s.reason.contains("interface 3")));
    }

    #[test]
    fn pcapng_new_section_resets_interfaces_and_byte_order() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, &[]));
        bytes.extend(idb(false, 113, &[]));
        bytes.extend(epb(false, 1, 0, b"a", 1));
        bytes.extend(shb(true));
        bytes.extend(idb(true, 101, &[]));
        bytes.extend(epb(true, 0, 0, b"b", 1));
        let bad = bytes.len();
        bytes.extend(epb(true, 1, 0, b"c", 1));
        let mut r = reader(&bytes);
        let got: Vec<(u64, LinkType)> = r.by_ref().map(|f| (f.number, f.link)).collect();
        assert_eq!(got, vec![(1, LinkType::LinuxSll), (2, LinkType::RawIp)]);
        assert_eq!(r.interfaces(), &[LinkType::RawIp]);
        assert_eq!(r.stop().map(|s| s.offset), Some(bad as u64));
    }

    #[test]
    fn pcapng_simple_and_obsolete_packet_blocks() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, &[]));
        bytes.extend(epb(false, 0, 7_000_000, b"e", 1));
        let mut spb = Vec::new();
        put32(&mut spb, false, 3);
        spb.extend_from_slice(b"spb");
        bytes.extend(block(false, magic::SPB, &spb));
        let mut pb = Vec::new();
        put16(&mut pb, false, 0);
        put16(&mut pb, false, 0);
        put32(&mut pb, false, 0);
        put32(&mut pb, false, 9_000_000);
        put32(&mut pb, false, 2);
        put32(&mut pb, false, 80);
        pb.extend_from_slice(b"pb");
        bytes.extend(block(false, magic::PB, &pb));
        let mut r = reader(&bytes);
        let got = collect(&mut r);
        assert_eq!(
            got,
            vec![
                (1, b"e".to_vec(), 7_000_000_000, 1, LinkType::Ethernet, 0),
                (2, b"spb".to_vec(), 7_000_000_000, 3, LinkType::Ethernet, 0),
                (3, b"pb".to_vec(), 9_000_000_000, 80, LinkType::Ethernet, 0),
            ]
        );
        assert_eq!(r.stop(), None);
    }

    #[test]
    fn pcapng_corrupt_first_section_is_corrupt_header() {
        let mut bytes = shb(false);
        bytes[8..12].copy_from_slice(&[1, 2, 3, 4]); // byte-order magic
        assert!(matches!(
            FrameReader::new(Path::new(PATH), &bytes),
            Err(CaptureError::CorruptHeader { offset: 0, .. })
        ));
    }

    /// A scratch path unique to this process and test.
    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("voxprobe-{}-{name}", std::process::id()))
    }

    #[test]
    fn pages_are_released_every_step_of_bytes_read_whatever_the_frame_count() {
        // 400 frames of 60 000 bytes (24 MB): far fewer frames than any
        // count-based release would wait for; the bytes read reach a step.
        let frame = vec![0x55u8; 60_000];
        let records: Vec<(u32, u32, &[u8], u32)> =
            (0..400).map(|i| (i, 0, &frame[..], 60_000)).collect();
        let path = scratch("release-step.pcap");
        std::fs::write(&path, pcap(false, false, 1, &records)).expect("write scratch file");
        let opened = CaptureFile::open(&path);
        let _ = std::fs::remove_file(&path);
        let file = opened.expect("opens");
        let mut frames = file.frames();
        let mut released = Vec::new();
        while let Some(f) = frames.next() {
            assert_eq!(f.data.len(), frame.len());
            file.release_behind(frames.offset());
            released.push((frames.offset(), file.released.get()));
        }
        assert_eq!(released.len(), 400);
        // Nothing until a step was read, then the pages read so far, then
        // nothing until the next step.
        let first = released
            .iter()
            .position(|&(_, r)| r > 0)
            .expect("a release");
        let (offset, at) = released[first];
        assert!(offset as usize >= RELEASE_STEP && released[first - 1].0 < RELEASE_STEP as u64);
        assert_eq!(at, offset as usize / 4096 * 4096);
        assert!(released[first..]
            .iter()
            .all(|&(o, r)| r == at || o as usize - at >= RELEASE_STEP));
    }

    #[test]
    fn open_maps_a_file_and_refuses_an_empty_one() {
        let path = scratch("mapped.pcap");
        let bytes = pcap(false, false, 1, &[(1, 0, b"abc", 3)]);
        std::fs::write(&path, &bytes).expect("write scratch file");
        let opened = CaptureFile::open(&path);
        let _ = std::fs::remove_file(&path);
        let file = opened.expect("opens");
        assert!(matches!(file.bytes, Bytes::Mapped(_)));
        assert_eq!(file.len(), bytes.len() as u64);
        assert_eq!(
            file.frames().map(|f| f.data).collect::<Vec<_>>(),
            vec![b"abc"]
        );

        let empty = scratch("empty.pcap");
        std::fs::write(&empty, b"").expect("write scratch file");
        let opened = CaptureFile::open(&empty);
        let _ = std::fs::remove_file(&empty);
        assert!(matches!(
            opened,
            Err(CaptureError::UnknownFormat { detected, .. }) if detected == "empty file"
        ));
    }

    #[cfg(unix)]
    #[test]
    fn open_reads_a_fifo_into_memory() {
        let path = scratch("fifo.pcap");
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("SKIP open_reads_a_fifo_into_memory: mkfifo failed");
            return;
        }
        let bytes = pcap(true, true, 1, &[(1, 5, b"fifo", 4)]);
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || std::fs::write(path, bytes))
        };
        let opened = CaptureFile::open(&path);
        let written = writer.join();
        let _ = std::fs::remove_file(&path);
        assert!(matches!(written, Ok(Ok(()))));
        let file = opened.expect("opens");
        assert!(matches!(file.bytes, Bytes::Read(_)));
        let got: Vec<_> = file.frames().map(|f| (f.data, f.time.as_nanos())).collect();
        assert_eq!(got, vec![(&b"fifo"[..], 1_000_000_005)]);
    }

    #[test]
    fn every_prefix_of_a_valid_file_ends_cleanly() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, &[(9, &[9])]));
        bytes.extend(epb(false, 0, 1, b"one", 3));
        bytes.extend(epb(false, 0, 2, b"two", 3));
        for cut in 0..bytes.len() {
            if let Ok(mut r) = FrameReader::new(Path::new(PATH), &bytes[..cut]) {
                let n = r.by_ref().count();
                assert!(n <= 2);
                assert!(r.offset() <= cut as u64);
                assert_eq!(r.stop().is_none(), r.offset() == cut as u64, "cut {cut}");
            }
        }
    }
}
