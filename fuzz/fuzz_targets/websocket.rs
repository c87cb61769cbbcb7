#![no_main]
//! WebSocket frame headers, unmasking and the handshake helpers on arbitrary
//! bytes, then the same bytes as a TCP stream through `Framing::WebSocket`:
//! never panic, lengths stay consistent, PDUs stay within the byte cap, and
//! every PDU is counted as a WebSocket message.
//!
//! Stream input: after the first byte (`split`), the rest is cut into
//! segments of `1 + split % 64` bytes, alternating direction every segment
//! when `split` is odd; a leading handshake is added when bit 7 of `split`
//! is set, so both the handshake and the hunt after a pickup are reached.
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use voxprobe::packet::tcp::{Framing, TcpConfig, TcpFlags, TcpReassembler};
use voxprobe::packet::Endpoint;
use voxprobe::proto::websocket::{self, FrameHeader};
use voxprobe::time::PacketTime;

const GET: &[u8] = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: sip\r\n\r\n";

fn check_header(data: &[u8]) {
    match FrameHeader::parse(data) {
        Ok(h) => {
            assert!((2..=websocket::MAX_HEADER_LEN).contains(&h.header_len));
            assert!(h.header_len <= data.len());
            assert!(h.payload_len >> 63 == 0);
            if h.opcode.is_control() {
                assert!(h.fin && h.payload_len <= websocket::MAX_CONTROL_PAYLOAD);
            }
            if let Some(total) = h.frame_len() {
                assert!(total >= h.header_len);
            }
        }
        Err(websocket::Error::Incomplete { needed }) => {
            assert!(needed > data.len() && needed <= websocket::MAX_HEADER_LEN);
        }
        Err(e) => {
            let _ = e.reason();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check_header(data);
    // Unmasking twice gives the input back, from any offset.
    let mut copy = data.to_vec();
    let key = [0x12, 0x34, 0x56, 0x78];
    let offset = data.first().map_or(0, |&b| usize::from(b));
    websocket::unmask(&mut copy, key, offset);
    websocket::unmask(&mut copy, key, offset);
    assert_eq!(copy, data);
    let _ = websocket::starts_http(data);
    let _ = websocket::http_status(data);
    let _ = websocket::is_sip_upgrade_request(data);
    if let Some(n) = websocket::http_header_len(data) {
        assert!(n <= data.len());
    }
    if let Some(v) = websocket::http_header(data, "upgrade") {
        let (a, b) = (data.as_ptr() as usize, v.as_ptr() as usize);
        assert!(v.is_empty() || (b >= a && b + v.len() <= a + data.len()));
    }

    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let cfg = TcpConfig {
        max_connections: 2,
        max_buffered_bytes: 1024,
        max_out_of_order_segments: 4,
        max_sip_header_bytes: 256,
        ..TcpConfig::default()
    };
    let cap = cfg.max_buffered_bytes;
    let mut r = TcpReassembler::new(cfg);
    let client = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 43380);
    let server = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 8080);
    let mut seq = [1000u32, 9000u32];
    let mut pdus = 0u64;
    let mut feed = |r: &mut TcpReassembler, dir: usize, payload: &[u8]| {
        let (src, dst) = if dir == 0 { (client, server) } else { (server, client) };
        r.handle_segment(
            PacketTime::from_nanos(0),
            src,
            dst,
            seq[dir],
            TcpFlags::default(),
            payload,
            Framing::WebSocket,
            &mut |pdu| {
                assert!(pdu.len() <= cap, "PDU of {} bytes", pdu.len());
                pdus += 1;
            },
        );
        seq[dir] = seq[dir].wrapping_add(payload.len() as u32);
    };
    if split & 0x80 != 0 {
        feed(&mut r, 0, GET);
    }
    let size = 1 + usize::from(split % 64);
    for (i, chunk) in rest.chunks(size).enumerate() {
        let dir = if split & 1 == 1 { i % 2 } else { 0 };
        feed(&mut r, dir, chunk);
    }
    let c = r.counters();
    assert_eq!(c.pdus, c.websocket_messages);
    assert_eq!(c.pdus, pdus);
});
