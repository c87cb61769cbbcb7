//! A minimal classic-pcap writer: microsecond timestamps, little-endian,
//! LINKTYPE_ETHERNET, one Ethernet/IPv4/UDP frame per record.
//!
//! Frames are built in one reused buffer and streamed to any [`Write`], so a
//! capture of millions of packets never sits in memory. The IPv4 header
//! checksum is computed (RFC 791 §3.1); the UDP checksum is 0, which RFC 768
//! allows over IPv4 ("no checksum").

use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Classic pcap magic for microsecond timestamps, as written little-endian.
const PCAP_MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// LINKTYPE_ETHERNET.
const LINKTYPE_ETHERNET: u32 = 1;
/// Snap length announced in the file header (no frame is cut).
const SNAPLEN: u32 = 65_535;
/// Ethernet II header: two MACs and the EtherType.
const ETHERNET_HEADER_LEN: usize = 14;
/// IPv4 header without options.
const IPV4_HEADER_LEN: usize = 20;
/// UDP header.
const UDP_HEADER_LEN: usize = 8;
/// Largest UDP payload that fits one IPv4 packet.
pub const MAX_UDP_PAYLOAD: usize = 65_535 - IPV4_HEADER_LEN - UDP_HEADER_LEN;

/// Writes a pcap file record by record.
pub struct PcapWriter<W: Write> {
    out: W,
    frame: Vec<u8>,
    ip_id: u16,
    frames: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte file header.
    ///
    /// # Errors
    /// Errors of `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&PCAP_MAGIC_MICROS.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes()); // version 2.4
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0.
        h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            frame: Vec::with_capacity(2048),
            ip_id: 0,
            frames: 0,
        })
    }

    /// Writes one UDP datagram captured at `time_us` (µs since the epoch).
    ///
    /// # Errors
    /// Errors of the underlying writer.
    ///
    /// # Panics
    /// If `payload` is longer than [`MAX_UDP_PAYLOAD`] or `time_us` is negative.
    pub fn write_udp(
        &mut self,
        time_us: i64,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: &[u8],
    ) -> io::Result<()> {
        assert!(payload.len() <= MAX_UDP_PAYLOAD, "UDP payload too long");
        let udp_len = UDP_HEADER_LEN + payload.len();
        let mut l4 = Vec::with_capacity(udp_len);
        l4.extend_from_slice(&src.port().to_be_bytes());
        l4.extend_from_slice(&dst.port().to_be_bytes());
        l4.extend_from_slice(&(udp_len as u16).to_be_bytes());
        l4.extend_from_slice(&[0, 0]);
        l4.extend_from_slice(payload);
        self.write_ipv4(time_us, *src.ip(), *dst.ip(), 17, &l4)
    }

    /// Writes one Ethernet/IPv4/TCP frame with `flags` (TCP header byte 13)
    /// and a correct TCP checksum; window 65535, no options.
    #[allow(clippy::too_many_arguments)]
    pub fn write_tcp(
        &mut self,
        time_us: i64,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        let mut l4 = Vec::with_capacity(20 + payload.len());
        l4.extend_from_slice(&src.port().to_be_bytes());
        l4.extend_from_slice(&dst.port().to_be_bytes());
        l4.extend_from_slice(&seq.to_be_bytes());
        l4.extend_from_slice(&ack.to_be_bytes());
        l4.push(5 << 4); // data offset 5 words
        l4.push(flags);
        l4.extend_from_slice(&65_535u16.to_be_bytes());
        l4.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent
        l4.extend_from_slice(payload);
        let mut pseudo = Vec::with_capacity(12 + l4.len());
        pseudo.extend_from_slice(&src.ip().octets());
        pseudo.extend_from_slice(&dst.ip().octets());
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(&l4);
        let sum = ipv4_checksum(&pseudo);
        l4[16..18].copy_from_slice(&sum.to_be_bytes());
        self.write_ipv4(time_us, *src.ip(), *dst.ip(), 6, &l4)
    }

    fn write_ipv4(
        &mut self,
        time_us: i64,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: u8,
        l4: &[u8],
    ) -> io::Result<()> {
        assert!(time_us >= 0, "pcap time before the epoch");
        let ip_len = IPV4_HEADER_LEN + l4.len();
        let f = &mut self.frame;
        f.clear();
        // Ethernet: locally administered MACs derived from the addresses.
        f.extend_from_slice(&mac(dst));
        f.extend_from_slice(&mac(src));
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        // IPv4.
        let ip_start = f.len();
        f.push(0x45); // version 4, IHL 5
        f.push(0xb8); // DSCP EF (46), as voice is usually marked
        f.extend_from_slice(&(ip_len as u16).to_be_bytes());
        f.extend_from_slice(&self.ip_id.to_be_bytes());
        f.extend_from_slice(&0x4000u16.to_be_bytes()); // DF, offset 0
        f.push(64); // TTL
        f.push(protocol);
        f.extend_from_slice(&[0, 0]); // checksum, below
        f.extend_from_slice(&src.octets());
        f.extend_from_slice(&dst.octets());
        let sum = ipv4_checksum(&f[ip_start..ip_start + IPV4_HEADER_LEN]);
        f[ip_start + 10..ip_start + 12].copy_from_slice(&sum.to_be_bytes());
        // Transport header and payload.
        f.extend_from_slice(l4);
        debug_assert_eq!(f.len(), ETHERNET_HEADER_LEN + ip_len);
        self.ip_id = self.ip_id.wrapping_add(1);

        let mut rec = [0u8; 16];
        let secs = (time_us / 1_000_000) as u32;
        let micros = (time_us % 1_000_000) as u32;
        let len = f.len() as u32;
        rec[0..4].copy_from_slice(&secs.to_le_bytes());
        rec[4..8].copy_from_slice(&micros.to_le_bytes());
        rec[8..12].copy_from_slice(&len.to_le_bytes());
        rec[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&rec)?;
        self.out.write_all(f)?;
        self.frames += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    /// Errors of the final flush.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A locally administered unicast MAC carrying the IPv4 address: 02:00:a.b.c.d.
fn mac(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

/// The RFC 791 header checksum: one's complement of the one's complement sum
/// of the header's 16-bit words (checksum field zero while summing).
pub fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_rfc1071_style_example() {
        // The classic worked example (Wikipedia "IPv4 header checksum"):
        // 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ipv4_checksum(&h), 0xb861);
    }

    #[test]
    fn writes_header_and_one_record() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let src = SocketAddrV4::new([192, 0, 2, 1].into(), 4000);
        let dst = SocketAddrV4::new([192, 0, 2, 2].into(), 5000);
        w.write_udp(1_000_000_123_456, src, dst, b"hello").unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(&bytes[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 1);
        let rec = &bytes[24..40];
        assert_eq!(u32::from_le_bytes(rec[0..4].try_into().unwrap()), 1_000_000);
        assert_eq!(u32::from_le_bytes(rec[4..8].try_into().unwrap()), 123_456);
        let frame = &bytes[40..];
        assert_eq!(frame.len(), 14 + 20 + 8 + 5);
        // A header whose checksum is right sums to zero.
        assert_eq!(ipv4_checksum(&frame[14..34]), 0);
        assert_eq!(&frame[34..36], &4000u16.to_be_bytes());
        assert_eq!(&frame[38..40], &13u16.to_be_bytes());
        assert_eq!(&frame[42..], b"hello");
    }
}
