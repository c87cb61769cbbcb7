//! The frame decoder over the shared real captures, against tshark ground truth
//! (`captures/groundtruth/`). Each file is read with `CaptureFile` and every
//! frame decoded with a callback that records what it was given and calls SIP
//! (by its first line) and RTP-looking UDP ours.
//!
//! Skips visibly when the shared captures are absent.

use crate::support::shared_captures;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use voxprobe::capture::CaptureFile;
use voxprobe::packet::{
    Datagram, Decoder, DecoderConfig, Endpoint, FrameClass, Layer, Observation, Transport, Verdict,
};
use voxprobe::proto::sip::looks_like_sip;

/// One payload the decoder delivered, owned.
#[derive(Clone, Debug)]
struct Seen {
    frame: u64,
    src: Endpoint,
    dst: Endpoint,
    transport: Transport,
    observation: Observation,
    payload: Vec<u8>,
}

impl Seen {
    fn is_sip(&self) -> bool {
        looks_like_sip(&self.payload)
    }
}

/// A whole file through the decoder.
struct Run {
    frames: u64,
    classes: Vec<FrameClass>,
    seen: Vec<Seen>,
    decoder: Decoder,
}

impl Run {
    fn count(&self, f: impl Fn(&Seen) -> bool) -> usize {
        self.seen.iter().filter(|s| f(s)).count()
    }

    fn assert_counts_add_up(&self, name: &str) {
        let c = self.decoder.counters();
        assert_eq!(c.total, self.frames, "{name}: total vs frames read");
        assert_eq!(
            c.total,
            c.decoded + c.not_for_us + c.malformed_total() + c.truncated_total(),
            "{name}: classes do not add up: {c:?}"
        );
        assert_eq!(self.classes.len() as u64, self.frames, "{name}");
    }
}

/// Our verdict: SIP by its start line, RTP by version 2 on UDP; the rest not for us.
fn verdict(dg: &Datagram<'_>) -> Verdict {
    let rtp_like = dg.transport == Transport::Udp
        && dg.payload.len() >= 12
        && dg.payload.first().is_some_and(|b| b >> 6 == 2);
    if looks_like_sip(dg.payload) || rtp_like {
        Verdict::Ours
    } else {
        Verdict::NotForUs
    }
}

fn open(path: &Path) -> Option<CaptureFile> {
    Some(CaptureFile::open(path).unwrap_or_else(|e| panic!("{e}")))
}

fn run_path(path: &Path) -> Option<Run> {
    let file = open(path)?;
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut seen = Vec::new();
    let mut classes = Vec::new();
    let mut frames = 0;
    for frame in file.frames() {
        frames += 1;
        let class = decoder.decode(&frame, &mut |dg| {
            seen.push(Seen {
                frame: dg.frame,
                src: dg.src,
                dst: dg.dst,
                transport: dg.transport,
                observation: dg.observation,
                payload: dg.payload.to_vec(),
            });
            verdict(dg)
        });
        classes.push(class);
        decoder.handle_timeout(frame.time);
    }
    Some(Run {
        frames,
        classes,
        seen,
        decoder,
    })
}

fn run(rel: &str) -> Option<Run> {
    let dir = shared_captures(rel)?;
    run_path(&dir.join(rel))
}

fn all_captures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "groundtruth") {
                    stack.push(p);
                }
            } else if p
                .extension()
                .is_some_and(|e| e == "pcap" || e == "pcapng" || e == "cap")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_shared_capture_decodes_and_counts_add_up() {
    let Some(dir) = shared_captures("decode every shared capture") else {
        return;
    };
    let mut decoded_files = 0;
    for path in all_captures(&dir) {
        let name = path.display().to_string();
        // The NetMon file is rejected by the reader, by design.
        if name.contains("netmon2") {
            continue;
        }
        let Some(run) = run_path(&path) else {
            return;
        };
        run.assert_counts_add_up(&name);
        decoded_files += 1;
    }
    assert!(decoded_files >= 50, "only {decoded_files} files decoded");
}

/// Ground truth: 140 frames, each ERSPAN-style GRE (transparent Ethernet
/// bridging) carrying Ethernet/IPv4/UDP SIP.
#[test]
fn sip_in_erspan_gre() {
    let Some(run) = run("odd/sip-in-erspan-gre.pcapng") else {
        return;
    };
    run.assert_counts_add_up("erspan");
    assert_eq!(
        run.count(|s| s.transport == Transport::Udp && s.is_sip()),
        140
    );
    assert_eq!(run.decoder.counters().decoded, 140);
}

/// Ground truth (tshark `ip.flags.mf`, `ip.frag_offset`): 108 frames; 40 first
/// fragments of outer IPv4 datagrams and 36 last fragments (the last fragments
/// of 4 datagrams, e.g. id 0x7495 in frame 56, are not in the capture), so 36
/// datagrams reassembled; 68 G-PDUs carry inner IPv4 (UDP or TCP/HTTP).
/// Nothing is malformed.
#[test]
fn gtpu_over_fragmented_ipv4() {
    let Some(run) = run("gtp/gtpu-v1-ip-fragmented.pcap") else {
        return;
    };
    run.assert_counts_add_up("gtpu-frag");
    let c = run.decoder.counters();
    assert_eq!((c.malformed_total(), c.truncated_total()), (0, 0), "{c:?}");
    let r = run.decoder.reassembly_counters();
    assert_eq!((r.fragments, r.reassembled), (76, 36), "{r:?}");
    assert_eq!(run.decoder.pending_datagrams(), 4);
    assert!(run
        .seen
        .iter()
        .all(|s| matches!(s.observation, Observation::GtpU { .. })));
}

/// Ground truth: frames 1+2 and 4+5 are two fragmented INVITEs (UDP lengths
/// 1699 and 1879, so 1691 and 1871 bytes of SIP), each delivered whole once.
#[test]
fn sip_ipv6_fragments_delivered_whole_once() {
    let Some(run) = run("odd/sip-ipv6-fragments-sll-amrwb.pcap") else {
        return;
    };
    run.assert_counts_add_up("ipv6-frag");
    let invites: Vec<&Seen> = run
        .seen
        .iter()
        .filter(|s| s.payload.starts_with(b"INVITE "))
        .collect();
    assert_eq!(invites.len(), 2);
    assert_eq!(invites[0].frame, 2);
    assert_eq!(invites[1].frame, 5);
    assert_eq!(
        (invites[0].payload.len(), invites[1].payload.len()),
        (1691, 1871)
    );
    assert!(invites.iter().all(|s| s.src.ip.is_ipv6()));
    assert_eq!(run.decoder.reassembly_counters().reassembled, 2);
    assert_eq!(run.decoder.counters().malformed_total(), 0);
}

/// Ground truth: frames 1–4 are UDP (BACnet, SAP/SDP) under two 802.1Q tags,
/// frame 5 is ARP.
#[test]
fn qinq_udp_delivered() {
    let Some(run) = run("odd/qinq-sap-sdp.pcap") else {
        return;
    };
    run.assert_counts_add_up("qinq");
    let frames: Vec<u64> = run.seen.iter().map(|s| s.frame).collect();
    assert_eq!(frames, vec![1, 2, 3, 4]);
    assert_eq!(run.classes[4], FrameClass::NotForUs);
}

/// Ground truth: 32 frames, all SIP over UDP in PPPoE/PPP.
#[test]
fn sip_over_pppoe() {
    let Some(run) = run("odd/sip-pppoe-info-dtmf.pcap") else {
        return;
    };
    run.assert_counts_add_up("pppoe");
    assert_eq!(
        run.count(|s| s.transport == Transport::Udp && s.is_sip()),
        32
    );
    assert_eq!(run.decoder.counters().decoded, 32);
}

/// Ground truth: 4 SIP messages over TCP port 5090 (not a configured SIP
/// port: the flow is learned from its first bytes), 2 inside IP-in-IP. The
/// capture starts mid-connection (no SYN).
#[test]
fn sip_tcp_in_ipip() {
    let Some(run) = run("odd/sip-tcp-in-ipip.pcap") else {
        return;
    };
    run.assert_counts_add_up("ipip");
    assert!(
        run.classes.iter().all(|c| *c == FrameClass::Decoded),
        "{:?}",
        run.classes
    );
    assert_eq!(
        run.count(|s| s.transport == Transport::Tcp && s.is_sip()),
        4
    );
}

/// Ground truth: frame 1 is QinQ, IPv4, GTP-U, inner IPv6 UDP; frame 2 the
/// same with inner IPv6 ESP.
#[test]
fn gtpu_inner_ipv6_under_qinq() {
    let Some(run) = run("gtp/gtpu-ipv6-inner-qinq.pcap") else {
        return;
    };
    run.assert_counts_add_up("gtpu-ipv6");
    assert_eq!(run.seen.len(), 1);
    let s = &run.seen[0];
    assert_eq!((s.frame, s.transport), (1, Transport::Udp));
    assert_eq!(s.observation, Observation::GtpU { teid: 0x1280_8fb8 });
    assert!(s.src.ip.is_ipv6());
    assert_eq!(run.classes[1], FrameClass::NotForUs);
}

/// Ground truth: each of the 4 AMR-WB streams has 54 packets, 27 inside
/// GTP-U on each of two tunnels (S1-U and S5-U) — two observations of one
/// stream. SIP over UDP: 22 frames outside GTP-U, 15 inside; SIP over TCP
/// inside GTP-U in frames 34 and 129 (UE → P-CSCF port 5060).
#[test]
fn volte_rtp_inside_gtpu_two_observations() {
    let Some(run) = run("volte/volte-call-gx-rar-cbr-amrwb.pcapng") else {
        return;
    };
    run.assert_counts_add_up("volte");
    let mut by_observation: BTreeMap<Observation, usize> = BTreeMap::new();
    for s in &run.seen {
        if s.src.port == 31226 && s.dst.port == 50056 && s.transport == Transport::Udp {
            *by_observation.entry(s.observation).or_default() += 1;
        }
    }
    let expected: BTreeMap<Observation, usize> = [
        (Observation::GtpU { teid: 0x1c }, 27),
        (Observation::GtpU { teid: 0xb1 }, 27),
    ]
    .into_iter()
    .collect();
    assert_eq!(by_observation, expected);
    let sip_udp = |plain: bool| {
        run.count(|s| {
            s.transport == Transport::Udp
                && s.is_sip()
                && (s.observation == Observation::Plain) == plain
        })
    };
    assert_eq!((sip_udp(true), sip_udp(false)), (22, 15));
    assert_eq!(
        (run.classes[33], run.classes[128]),
        (FrameClass::Decoded, FrameClass::Decoded)
    );
    assert_eq!(run.decoder.counters().malformed_total(), 0);
}

/// Ground truth: 24 frames, every record cut by the snap length; frame 1's
/// TCP header (with options) is cut. SMTP is not for us.
#[test]
fn snaplen_truncated_tcp() {
    let Some(run) = run("odd/snaplen-truncated-tcp.pcap") else {
        return;
    };
    run.assert_counts_add_up("snaplen");
    let c = run.decoder.counters();
    assert_eq!(c.total, 24);
    assert_eq!(c.truncated(Layer::Tcp), 1);
    assert_eq!(run.classes[0], FrameClass::Truncated(Layer::Tcp));
    assert_eq!(c.not_for_us, 23);
}
