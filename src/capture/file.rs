//! Capture files: pcap (µs/ns, either byte order) and pcapng, memory-mapped.
//!
//! STUB: to be written (helper A). The API below is the contract.

use super::{CaptureError, Frame, LinkType, ReadStop};
use std::path::{Path, PathBuf};

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

/// An open, memory-mapped capture file.
pub struct CaptureFile {
    path: PathBuf,
    bytes: Vec<u8>,
    format: Format,
}

impl CaptureFile {
    /// Opens and maps `path`, detecting the format from its magic bytes.
    ///
    /// # Errors
    /// I/O errors, an unknown format, a damaged header, or (pcap) a link type
    /// the decoder does not support.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let bytes = std::fs::read(path).map_err(|source| CaptureError::Io {
            path: path.to_owned(),
            source,
        })?;
        let _ = Format::Pcapng;
        Err(CaptureError::UnknownFormat {
            path: path.to_owned(),
            detected: format!("stub reader ({} bytes)", bytes.len()),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the file in bytes.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The detected container format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The frames, in file order.
    pub fn frames(&self) -> FrameReader<'_> {
        FrameReader {
            _bytes: &self.bytes,
            offset: 0,
            stop: None,
        }
    }
}

/// Reads frames from the bytes of a capture file; usable on any byte slice (the
/// fuzz target feeds it arbitrary bytes).
pub struct FrameReader<'a> {
    _bytes: &'a [u8],
    offset: u64,
    stop: Option<ReadStop>,
}

impl<'a> FrameReader<'a> {
    /// A reader over `bytes`; `path` is only used in error messages.
    ///
    /// # Errors
    /// As [`CaptureFile::open`], minus I/O.
    pub fn new(path: &Path, bytes: &'a [u8]) -> Result<Self, CaptureError> {
        Err(CaptureError::UnknownFormat {
            path: path.to_owned(),
            detected: format!("stub reader ({} bytes)", bytes.len()),
        })
    }

    /// Bytes consumed so far (for progress reporting).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Set once reading has ended before the end of the file.
    pub fn stop(&self) -> Option<&ReadStop> {
        self.stop.as_ref()
    }

    /// Link types of the interfaces described so far (index = interface id).
    pub fn interfaces(&self) -> &[LinkType] {
        &[]
    }
}

impl<'a> Iterator for FrameReader<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        None
    }
}
