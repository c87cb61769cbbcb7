//! Rating a stream with the E-model: loss after each emulated jitter buffer,
//! burstiness from the loss-run histogram, delay from RTCP or a default, and
//! the codec's impairment from the codec table.
//!
//! For each buffer `b`: Ppl = (network loss + packets `b` discarded as late) /
//! expected; Ta = one-way network delay + `b`'s mean buffering delay. The
//! one-way network delay is half the RTCP round trip measured for the stream
//! when RTCP gave one, else [`QualityConfig::default_one_way_delay_ms`].
//! BurstR comes from the network loss runs (late discards are not in the
//! histogram: they are spread by nature). The headline MOS is the adaptive
//! buffer's; the fixed 50 ms and 200 ms buffers show what a phone with a
//! small or a deep buffer would have heard.

use super::emodel::{self, CodecTable};
use super::stream::{StreamReport, HEADLINE_BUFFER, JITTER_BUFFERS, JITTER_BUFFER_NAMES};
use serde::Serialize;

/// Inputs of the rating that are not measured.
#[derive(Clone, Debug)]
pub struct QualityConfig {
    /// Codec impairment values (G.113 by default, overridable).
    pub codecs: CodecTable,
    /// One-way network delay assumed when RTCP gives no round trip (ms).
    pub default_one_way_delay_ms: f64,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            codecs: CodecTable::default(),
            // A national call over a managed IP network; G.114 recommends
            // under 150 ms one way, typical carrier paths are 20–60 ms.
            default_one_way_delay_ms: 40.0,
        }
    }
}

/// MOS and R with one jitter buffer.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct BufferRating {
    /// Jitter buffer name.
    pub buffer: &'static str,
    /// MOS (G.107 Annex B on the narrowband-equivalent R).
    pub mos: f64,
    /// R on the narrowband scale.
    pub r: f64,
    /// Packet loss the buffer left, % (network loss + late discards).
    pub loss_percent: f64,
    /// Mouth-to-ear delay used, ms.
    pub delay_ms: f64,
}

/// The E-model rating of a stream.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StreamQuality {
    /// Codec table row used.
    pub codec: &'static str,
    /// Its band (`narrowband`, `wideband`, `fullband`).
    pub band: &'static str,
    /// Headline MOS (adaptive buffer).
    pub mos: f64,
    /// Headline R, narrowband scale.
    pub r: f64,
    /// Headline R on the codec's own scale (up to 129 wideband, 148 fullband).
    pub r_band: f64,
    /// Burst ratio from the loss runs.
    pub burst_ratio: f64,
    /// Network loss before any buffer, %.
    pub network_loss_percent: f64,
    /// One-way network delay used, ms.
    pub network_delay_ms: f64,
    /// Where that delay came from: `rtcp` or `default`.
    pub delay_source: &'static str,
    /// The rating with each emulated buffer, in the order of the stream's
    /// `jitter_buffers`.
    pub buffers: [BufferRating; JITTER_BUFFERS],
}

/// Quality label of a MOS: Excellent ≥ 4.3, Good ≥ 4.0, Fair ≥ 3.6, Poor ≥
/// 3.1, Bad ≥ 2.6, else Unacceptable.
pub fn label(mos: f64) -> &'static str {
    match mos {
        m if m >= 4.3 => "excellent",
        m if m >= 4.0 => "good",
        m if m >= 3.6 => "fair",
        m if m >= 3.1 => "poor",
        m if m >= 2.6 => "bad",
        _ => "unacceptable",
    }
}

/// Rates a stream in place: fills `report.quality` and each interval's MOS and
/// R. Streams whose codec is not in the table (video, unknown dynamic types)
/// are left unrated. `rtt_ms` is the RTCP round trip measured for the stream.
pub fn rate_stream(report: &mut StreamReport, rtt_ms: Option<f64>, config: &QualityConfig) {
    let Some(codec) = report.codec.and_then(|name| config.codecs.lookup(name)) else {
        return;
    };
    let (network_delay_ms, delay_source) = match rtt_ms {
        Some(rtt) if rtt.is_finite() && rtt >= 0.0 => (rtt / 2.0, "rtcp"),
        _ => (config.default_one_way_delay_ms, "default"),
    };
    let expected = report.expected.max(1);
    let network_lost = report.lost.max(0) as u64;
    let burst_ratio = emodel::burst_ratio(&report.loss_runs, report.expected, network_lost);
    let rate = |lost: u64, expected: u64, delay_ms: f64| {
        let loss_percent = (lost as f64 * 100.0 / expected.max(1) as f64).min(100.0);
        let rating = emodel::rate(
            codec,
            &emodel::Direction::new(loss_percent, burst_ratio, delay_ms),
        );
        (rating, loss_percent)
    };
    let buffers = std::array::from_fn(|i| {
        let jb = report.jitter_buffers[i];
        let delay_ms = network_delay_ms + jb.mean_delay_ms;
        let (rating, loss_percent) = rate(network_lost + jb.late, expected, delay_ms);
        BufferRating {
            buffer: JITTER_BUFFER_NAMES[i],
            mos: rating.mos,
            r: rating.r_narrowband,
            loss_percent,
            delay_ms,
        }
    });
    let headline = emodel::rate(
        codec,
        &emodel::Direction::new(
            buffers[HEADLINE_BUFFER].loss_percent,
            burst_ratio,
            buffers[HEADLINE_BUFFER].delay_ms,
        ),
    );
    let headline_delay = buffers[HEADLINE_BUFFER].delay_ms;
    for sample in &mut report.intervals {
        if sample.expected == 0 {
            continue;
        }
        let lost = sample.lost.max(0) as u64 + sample.late[HEADLINE_BUFFER];
        let (rating, _) = rate(lost, sample.expected, headline_delay);
        sample.mos = Some(rating.mos);
        sample.r = Some(rating.r_narrowband);
    }
    report.quality = Some(StreamQuality {
        codec: codec.name,
        band: codec.band.name(),
        mos: headline.mos,
        r: headline.r_narrowband,
        r_band: headline.r,
        burst_ratio,
        network_loss_percent: network_lost as f64 * 100.0 / expected as f64,
        network_delay_ms,
        delay_source,
        buffers,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_thresholds() {
        assert_eq!(label(4.41), "excellent");
        assert_eq!(label(4.0), "good");
        assert_eq!(label(3.7), "fair");
        assert_eq!(label(3.2), "poor");
        assert_eq!(label(2.7), "bad");
        assert_eq!(label(1.5), "unacceptable");
    }
}

#[cfg(test)]
mod jitter_tests {
    use super::*;
    use crate::media::{MediaPacket, PayloadInfo, StreamStats};
    use crate::packet::{Endpoint, Observation};
    use crate::proto::rtp::Repr;
    use crate::time::PacketTime;

    /// A 30 s PCMU stream whose packets suffer a random delay of up to
    /// `jitter_ms` (made up, seeded; arrival order follows the delays).
    fn rated(jitter_ms: f64) -> StreamQuality {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let ep = Endpoint::new([192, 0, 2, 1].into(), 4000);
        let mut arrivals: Vec<(i64, u16)> = (0..1500u16)
            .map(|i| {
                let sent_ns = i64::from(i) * 20_000_000;
                (sent_ns + (rnd() * jitter_ms * 1e6) as i64, i)
            })
            .collect();
        arrivals.sort();
        let pkt = |(at, seq): (i64, u16)| MediaPacket {
            time: PacketTime::from_nanos(1_700_000_000_000_000_000 + at),
            frame: 0,
            src: ep,
            dst: ep,
            observation: Observation::Plain,
            rtp: Repr {
                marker: seq == 0,
                payload_type: 0,
                sequence: seq,
                timestamp: u32::from(seq) * 160,
                ssrc: 1,
                payload_len: 160,
                padding_len: 0,
                header_len: 12,
            },
        };
        let pcmu = PayloadInfo::from_static(0);
        let mut stats = StreamStats::new(&pkt(arrivals[0]), pcmu);
        for a in &arrivals[1..] {
            stats.handle_packet(&pkt(*a), pcmu);
        }
        let mut report = stats.report();
        rate_stream(&mut report, None, &QualityConfig::default());
        report.quality.expect("PCMU is rated")
    }

    #[test]
    fn mos_falls_monotonically_with_jitter() {
        let levels = [0.0, 30.0, 60.0, 120.0, 240.0];
        let q: Vec<StreamQuality> = levels.iter().map(|&j| rated(j)).collect();
        for (w, l) in q.windows(2).zip(levels.windows(2)) {
            // Every buffer rates more jitter no better, the 50 ms one strictly
            // worse once jitter exceeds it, and the headline (adaptive) too.
            for b in 0..JITTER_BUFFERS {
                assert!(
                    w[1].buffers[b].mos <= w[0].buffers[b].mos + 1e-9,
                    "{l:?} buffer {b}: {q:#?}"
                );
            }
            assert!(
                w[1].mos < w[0].mos,
                "adaptive MOS at {l:?}: {} then {}",
                w[0].mos,
                w[1].mos
            );
        }
        assert!(q[0].mos > 4.3, "clean G.711 with PLC: {}", q[0].mos);
        // A fixed buffer pays for jitter in loss or, when its first packet
        // came late and anchored it deep, in delay: either way less MOS.
        for b in 0..2 {
            assert!(
                q[4].buffers[b].mos < q[0].buffers[b].mos,
                "buffer {b}: {:#?}",
                q[4].buffers
            );
        }
    }
}
