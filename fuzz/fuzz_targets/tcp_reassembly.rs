#![no_main]
//! TCP reassembly on arbitrary segment sequences, for both framings: never
//! panic, and every PDU delivered is framed the way its framing says.
//!
//! Input: a sequence of segments, each a 5-byte header then its payload:
//! `dir u8` (bit 0: direction, bit 1..: connection 0-3), `seq offset u16`
//! (big-endian, added to a per-direction base so segments overlap, repeat
//! and reorder), `flags u8` (bit 0 SYN, bit 1 FIN, bit 2 RST, bits 4-7 time
//! step in seconds, so reorder and idle timeouts fire), `len u8`, payload.
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use voxprobe::packet::tcp::{Framing, TcpConfig, TcpFlags, TcpReassembler};
use voxprobe::packet::Endpoint;
use voxprobe::time::PacketTime;

/// Small limits so the fuzzer reaches them.
fn config() -> TcpConfig {
    TcpConfig {
        max_connections: 3,
        max_buffered_bytes: 2048,
        max_out_of_order_segments: 4,
        max_sip_header_bytes: 512,
        reorder_timeout_ns: 5_000_000_000,
        idle_timeout_ns: 30_000_000_000,
    }
}

fn check_pdu(framing: Framing, pdu: &[u8], cap: usize) {
    assert!(
        !pdu.is_empty() && pdu.len() <= cap,
        "PDU size {}",
        pdu.len()
    );
    match framing {
        Framing::Sip => {
            // A start line, then headers ending in an empty line.
            assert!(
                pdu[0].is_ascii_uppercase(),
                "SIP PDU starts with {:#x}",
                pdu[0]
            );
            let ends =
                pdu.windows(2).any(|w| w == b"\n\n") || pdu.windows(3).any(|w| w == b"\n\r\n");
            assert!(ends, "SIP PDU without end of headers");
        }
        Framing::Diameter => {
            assert!(pdu.len() >= 20 && pdu[0] == 1, "DIAMETER header");
            let len = usize::from(pdu[1]) << 16 | usize::from(pdu[2]) << 8 | usize::from(pdu[3]);
            assert_eq!(len, pdu.len(), "DIAMETER length");
        }
        // WebSocket messages carry whatever the peer framed: only the size
        // bound above applies (the `websocket` target covers the framing).
        Framing::WebSocket => {}
    }
}

fuzz_target!(|data: &[u8]| {
    for framing in [Framing::Sip, Framing::Diameter] {
        let cfg = config();
        let cap = cfg.max_buffered_bytes;
        let mut r = TcpReassembler::new(cfg);
        let mut now = 0i64;
        let mut rest = data;
        while let [dir, s0, s1, flags, len, tail @ ..] = rest {
            let n = usize::from(*len).min(tail.len());
            let (payload, next) = tail.split_at(n);
            rest = next;
            now += i64::from(flags >> 4) * 1_000_000_000;
            let conn = u16::from(dir >> 1 & 3);
            let client = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 40_000 + conn);
            let server = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 5060);
            let (src, dst, base) = if dir & 1 == 0 {
                (client, server, 0xffff_f000u32)
            } else {
                (server, client, 1_000u32)
            };
            let seq = base.wrapping_add(u32::from(u16::from_be_bytes([*s0, *s1])));
            let f = TcpFlags {
                syn: flags & 1 != 0,
                fin: flags & 2 != 0,
                rst: flags & 4 != 0,
            };
            let time = PacketTime::from_nanos(now);
            r.handle_segment(time, src, dst, seq, f, payload, framing, &mut |pdu| {
                check_pdu(framing, pdu, cap)
            });
            if flags & 8 != 0 {
                r.handle_timeout(time);
            }
        }
        let c = r.counters();
        assert!(r.connection_count() <= 3);
        assert!(c.connections_opened >= c.connections_closed + c.connections_timed_out);
    }
});
