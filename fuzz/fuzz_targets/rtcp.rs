#![no_main]
//! RTCP compound parsing and the RTCP tracker on arbitrary bytes: never
//! panic, every view stays inside its packet, and the tracker's counters
//! account for every compound fed to it.
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use voxprobe::media::rtcp::RtcpTracker;
use voxprobe::packet::{Endpoint, Observation};
use voxprobe::proto::rtcp::{self, Body};
use voxprobe::time::PacketTime;

fn touch(body: Body<'_>) {
    match body {
        Body::SenderReport(sr) => {
            let _ = (
                sr.ssrc(),
                sr.ntp_timestamp(),
                sr.ntp_middle(),
                sr.rtp_timestamp(),
            );
            let _ = (sr.packet_count(), sr.octet_count(), sr.extension().len());
            for b in sr.report_blocks() {
                let _ = b.repr();
            }
        }
        Body::ReceiverReport(rr) => {
            let _ = (rr.ssrc(), rr.extension().len());
            for b in rr.report_blocks() {
                let _ = (b.ssrc(), b.fraction_lost(), b.cumulative_lost(), b.jitter());
                let _ = (b.extended_highest_seq(), b.lsr(), b.dlsr(), b.repr());
            }
        }
        Body::SourceDescription(sdes) => {
            for chunk in sdes.chunks() {
                let _ = (chunk.ssrc(), chunk.cname());
                for item in chunk.items() {
                    let _ = (item.item_type, item.value.len());
                }
            }
        }
        Body::Goodbye(bye) => {
            let _ = bye.ssrcs().count();
            let _ = bye.reason();
        }
        Body::App(app) => {
            let _ = (app.subtype(), app.ssrc(), app.name(), app.data().len());
        }
        Body::TransportFeedback(fb) | Body::PayloadFeedback(fb) => {
            let _ = (fb.fmt(), fb.sender_ssrc(), fb.media_ssrc(), fb.fci().len());
        }
        Body::ExtendedReport(xr) => {
            let _ = xr.ssrc();
            for block in xr.blocks() {
                let _ = (block.block_type(), block.kind(), block.type_specific());
                let _ = (block.length_words(), block.content().len());
                let _ = block.receiver_reference_time();
                let _ = block.dlrr().count();
                if let Some(s) = block.statistics_summary() {
                    let _ = s.repr();
                }
                if let Some(v) = block.voip_metrics() {
                    let r = v.repr();
                    let _ = (r.mos_lq(), r.mos_cq(), r.r_factor(), r.plc(), r.jb_rate());
                    let _ = (
                        r.signal_level_dbm0(),
                        r.noise_level_dbm0(),
                        r.loss_rate_pct(),
                    );
                }
            }
        }
        Body::Unknown(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = rtcp::looks_like_rtcp(data);
    let mut consumed = 0;
    for item in rtcp::compound(data) {
        let Ok(packet) = item else { break };
        consumed += packet.len();
        assert!(consumed <= data.len());
        assert_eq!(packet.as_bytes().len(), packet.len());
        assert!(packet.body().len() + packet.padding_len() + rtcp::HEADER_LEN == packet.len());
        let _ = (
            packet.version(),
            packet.count(),
            packet.packet_type(),
            packet.length_words(),
        );
        if let Ok(body) = packet.parse() {
            touch(body);
        }
    }

    let a = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 5001);
    let b = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 6001);
    let mut tracker = RtcpTracker::new(8);
    // Twice, both directions: the second pass matches LSRs against the first.
    tracker.handle_packet(
        PacketTime::from_nanos(1_000_000_000),
        a,
        b,
        Observation::Plain,
        data,
    );
    tracker.handle_packet(
        PacketTime::from_nanos(2_000_000_000),
        b,
        a,
        Observation::Plain,
        data,
    );
    let c = tracker.counters();
    assert_eq!(c.compound_packets + c.malformed, 2);
    assert!(tracker.source_count() <= 8);
    for ssrc in [0u32, 1, u32::MAX] {
        let _ = tracker.report_for(Observation::Plain, a.ip, ssrc, 8000);
        let _ = tracker.report_for(Observation::Plain, b.ip, ssrc, 0);
    }
});
