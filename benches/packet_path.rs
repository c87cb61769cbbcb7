//! The per-packet cost of the media path, on a synthetic capture of ~100k RTP
//! packets (the `throughput` scenario of `voxprobe::synth`, seed 1, 40
//! concurrent G.711 streams with 0.2 % loss):
//!
//! - `analyzer/handle_frame`: everything from an Ethernet frame to stream
//!   statistics (decode, classify, RTP parse, stream table, statistics);
//! - `rtp/repr_parse`: `proto::rtp::Repr::parse` alone, on the UDP payloads;
//! - `stream_stats/handle_packet`: `media::StreamStats::handle_packet` alone.
//!
//! Throughput is in elements = packets. Run with `cargo bench --bench packet_path`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use voxprobe::analyze::{AnalyzeConfig, Analyzer};
use voxprobe::capture::file::FrameReader;
use voxprobe::capture::Frame;
use voxprobe::media::{MediaPacket, PayloadInfo, StreamStats};
use voxprobe::packet::{Endpoint, Observation};
use voxprobe::proto::rtp;
use voxprobe::synth::{generate, Scenario};
use voxprobe::time::PacketTime;

/// RTP packets aimed for.
const PACKETS: u64 = 100_000;

fn capture() -> Vec<u8> {
    let mut pcap = Vec::with_capacity(PACKETS as usize * 240);
    generate(Scenario::Throughput { packets: PACKETS }, 1, &mut pcap).expect("in-memory pcap");
    pcap
}

/// A UDP datagram of the synthetic capture: (time, source, destination, payload).
type Datagram<'a> = (PacketTime, Endpoint, Endpoint, &'a [u8]);

/// Walks the synthetic pcap directly (its own fixed layout: 24-byte file
/// header, 16-byte records, Ethernet + 20-byte IPv4 + UDP), so the parser and
/// statistics benchmarks do not depend on the capture reader.
fn datagrams(pcap: &[u8]) -> Vec<Datagram<'_>> {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let le = |o: usize| u32::from_le_bytes(pcap[o..o + 4].try_into().expect("4 bytes"));
        let (secs, micros, len) = (le(at), le(at + 4), le(at + 8) as usize);
        let frame = &pcap[at + 16..at + 16 + len];
        at += 16 + len;
        let ip = |o: usize| {
            IpAddr::V4(Ipv4Addr::new(
                frame[o],
                frame[o + 1],
                frame[o + 2],
                frame[o + 3],
            ))
        };
        let port = |o: usize| u16::from_be_bytes([frame[o], frame[o + 1]]);
        let time = PacketTime::from_parts(i64::from(secs), micros * 1000);
        out.push((
            time,
            Endpoint::new(ip(26), port(34)),
            Endpoint::new(ip(30), port(36)),
            &frame[42..],
        ));
    }
    out
}

fn bench(c: &mut Criterion) {
    let pcap = capture();
    let datagrams = datagrams(&pcap);
    let n = datagrams.len() as u64;

    let mut group = c.benchmark_group("packet_path");
    group.throughput(Throughput::Elements(n));
    group.sample_size(20);

    match FrameReader::new(Path::new("synth-throughput.pcap"), &pcap) {
        Ok(reader) => {
            let frames: Vec<Frame<'_>> = reader.collect();
            assert_eq!(frames.len() as u64, n, "the reader yields every frame");
            let config = AnalyzeConfig::default();
            group.bench_function("analyzer/handle_frame", |b| {
                b.iter(|| {
                    let mut analyzer = Analyzer::new(&config);
                    for f in &frames {
                        analyzer.handle_frame(black_box(f));
                    }
                    analyzer
                })
            });
        }
        Err(e) => eprintln!(
            "SKIP analyzer/handle_frame: the capture reader cannot read the synthetic pcap: {e}"
        ),
    }

    group.bench_function("rtp/repr_parse", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for (_, _, _, payload) in &datagrams {
                if let Ok(r) = rtp::Repr::parse(black_box(payload)) {
                    sum = sum.wrapping_add(u64::from(r.sequence));
                }
            }
            sum
        })
    });

    // Packets as the media path sees them, each tagged with its stream.
    let mut ssrcs: Vec<u32> = Vec::new();
    let packets: Vec<(usize, MediaPacket, PayloadInfo)> = datagrams
        .iter()
        .enumerate()
        .map(|(i, &(time, src, dst, payload))| {
            let repr = rtp::Repr::parse(payload).expect("synthetic RTP parses");
            let stream = match ssrcs.iter().position(|&s| s == repr.ssrc) {
                Some(k) => k,
                None => {
                    ssrcs.push(repr.ssrc);
                    ssrcs.len() - 1
                }
            };
            let pkt = MediaPacket {
                time,
                frame: i as u64 + 1,
                src,
                dst,
                observation: Observation::Plain,
                rtp: repr,
            };
            (stream, pkt, PayloadInfo::from_static(repr.payload_type))
        })
        .collect();
    group.bench_function("stream_stats/handle_packet", |b| {
        b.iter(|| {
            let mut stats: Vec<Option<StreamStats>> = vec![None; ssrcs.len()];
            for (k, pkt, info) in &packets {
                match &mut stats[*k] {
                    Some(s) => s.handle_packet(black_box(pkt), *info),
                    slot => *slot = Some(StreamStats::new(pkt, *info)),
                }
            }
            stats
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
