//! Writing frames back out as a pcap file (nanosecond timestamps), for
//! `voxprobe extract`: the frames of one call, as captured.

use crate::capture::{Frame, LinkType};
use std::io::{self, Write};

/// Nanosecond-resolution pcap magic (written in little-endian order).
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// Snap length announced in the header: Wireshark's largest.
const SNAPLEN: u32 = 262_144;

/// Writes frames of one link type to a pcap stream.
pub struct PcapFrameWriter<W: Write> {
    out: W,
    link: LinkType,
    frames: u64,
}

impl<W: Write> PcapFrameWriter<W> {
    /// Starts a pcap stream for frames of `link`.
    ///
    /// # Errors
    /// I/O errors of `out`.
    pub fn new(mut out: W, link: LinkType) -> io::Result<Self> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&MAGIC_NANOS.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&SNAPLEN.to_le_bytes());
        header.extend_from_slice(&link.number().to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapFrameWriter {
            out,
            link,
            frames: 0,
        })
    }

    /// The link type of this file.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Writes one frame as captured. Frames of another link type cannot go
    /// into this file: `Ok(false)`.
    ///
    /// # Errors
    /// I/O errors of `out`.
    pub fn write_frame(&mut self, frame: &Frame<'_>) -> io::Result<bool> {
        if frame.link != self.link {
            return Ok(false);
        }
        let nanos = frame.time.as_nanos();
        let secs = nanos.div_euclid(1_000_000_000);
        let sub = nanos.rem_euclid(1_000_000_000) as u32;
        let caplen = u32::try_from(frame.data.len())
            .unwrap_or(u32::MAX)
            .min(SNAPLEN);
        let mut record = [0u8; 16];
        record[0..4].copy_from_slice(&u32::try_from(secs.max(0)).unwrap_or(u32::MAX).to_le_bytes());
        record[4..8].copy_from_slice(&sub.to_le_bytes());
        record[8..12].copy_from_slice(&caplen.to_le_bytes());
        record[12..16].copy_from_slice(&frame.orig_len.max(caplen).to_le_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(&frame.data[..caplen as usize])?;
        self.frames += 1;
        Ok(true)
    }

    /// Frames written.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    /// I/O errors of `out`.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::file::FrameReader;
    use crate::time::PacketTime;
    use std::path::Path;

    #[test]
    fn frames_round_trip_through_the_reader() {
        let frames = [
            Frame {
                data: &[1, 2, 3, 4],
                time: PacketTime::from_parts(1_700_000_000, 123_456_789),
                orig_len: 60,
                link: LinkType::Ethernet,
                interface: 0,
                number: 1,
            },
            Frame {
                data: &[9; 20],
                time: PacketTime::from_parts(1_700_000_001, 5),
                orig_len: 20,
                link: LinkType::Ethernet,
                interface: 0,
                number: 2,
            },
        ];
        let mut w = PcapFrameWriter::new(Vec::new(), LinkType::Ethernet).unwrap();
        for f in &frames {
            assert!(w.write_frame(f).unwrap());
        }
        let other = Frame {
            link: LinkType::RawIp,
            ..frames[0]
        };
        assert!(!w.write_frame(&other).unwrap());
        let bytes = w.finish().unwrap();
        let back: Vec<_> = FrameReader::new(Path::new("t"), &bytes).unwrap().collect();
        assert_eq!(back.len(), 2);
        for (a, b) in back.iter().zip(&frames) {
            assert_eq!(
                (a.data, a.time, a.orig_len, a.link),
                (b.data, b.time, b.orig_len, b.link)
            );
        }
    }
}
