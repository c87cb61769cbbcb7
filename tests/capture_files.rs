//! The capture file reader on every shared capture, against capinfos.
//!
//! Each `groundtruth/<category>/<file>.txt` holds capinfos output for
//! `captures/<category>/<file>`; the reader must find the same number of
//! packets, the same first and last packet times, and (pcapng) the same
//! packets per interface. The files that are not readable to the end say so
//! through `stop()`, and the NetMon file is refused by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use voxprobe::capture::file::Format;
use voxprobe::capture::{CaptureError, CaptureFile, LinkType, ReadStop};
use voxprobe::time::PacketTime;

/// What capinfos said about one file.
#[derive(Debug, Default)]
struct Capinfos {
    packets: Option<u64>,
    first: Option<String>,
    last: Option<String>,
    interfaces: Option<usize>,
    /// Packets per interface, from the "Interface #n info" sections.
    per_interface: BTreeMap<u32, u64>,
}

fn parse_capinfos(text: &str) -> Capinfos {
    let mut info = Capinfos::default();
    let mut current_interface = None;
    for line in text.lines() {
        let value = |key: &str| line.strip_prefix(key).map(|v| v.trim().to_owned());
        if let Some(v) = value("Number of packets:") {
            info.packets = v.parse().ok();
        } else if let Some(v) = value("First packet time:") {
            info.first = Some(v);
        } else if let Some(v) = value("Last packet time:") {
            info.last = Some(v);
        } else if let Some(v) = value("Number of interfaces in file:") {
            info.interfaces = v.parse().ok();
        } else if let Some(v) = value("Interface #") {
            current_interface = v.trim_end_matches(" info:").parse().ok();
        } else if let (Some(n), Some(v)) = (
            current_interface,
            line.trim().strip_prefix("Number of packets = "),
        ) {
            if let Ok(count) = v.parse() {
                info.per_interface.insert(n, count);
            }
        } else if line.starts_with("## ") && line != "## capinfos" {
            break;
        }
    }
    info
}

/// capinfos prints "2014-12-09 17:16:09.924505488" in local time (UTC on the
/// machine that made the ground truth); we compare to the microsecond, in the
/// form `PacketTime::rfc3339_micros` prints.
fn capinfos_time_to_rfc3339_micros(capinfos: &str) -> Option<String> {
    let (date_time, frac) = capinfos.split_once('.').unwrap_or((capinfos, ""));
    if date_time.len() != 19 {
        return None;
    }
    let mut micros: String = frac.chars().take(6).collect();
    while micros.len() < 6 {
        micros.push('0');
    }
    Some(format!(
        "{}T{}.{micros}Z",
        &date_time[..10],
        &date_time[11..]
    ))
}

/// Every (capture, ground truth) pair under `shared`.
fn ground_truth_files(shared: &Path) -> Vec<(String, PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let truth = shared.join("groundtruth");
    let mut categories: Vec<_> = std::fs::read_dir(&truth)
        .expect("groundtruth folder is readable")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    categories.sort();
    for category in categories {
        let mut files: Vec<_> = std::fs::read_dir(&category)
            .expect("category folder is readable")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        files.sort();
        let cat = category
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        for txt in files {
            let capture_name = txt
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            let name = format!("{cat}/{capture_name}");
            out.push((name.clone(), shared.join(&name), txt));
        }
    }
    out
}

/// What reading a whole file gave.
struct ReadAll {
    frames: u64,
    first: Option<PacketTime>,
    last: Option<PacketTime>,
    per_interface: BTreeMap<u32, u64>,
    links: Vec<LinkType>,
    interfaces: Vec<LinkType>,
    snaplen_truncated: u64,
    stop: Option<ReadStop>,
    offset: u64,
    format: Format,
}

fn read_all(path: &Path) -> Result<ReadAll, CaptureError> {
    let file = CaptureFile::open(path)?;
    let mut frames = file.frames();
    let mut all = ReadAll {
        frames: 0,
        first: None,
        last: None,
        per_interface: BTreeMap::new(),
        links: Vec::new(),
        interfaces: Vec::new(),
        snaplen_truncated: 0,
        stop: None,
        offset: 0,
        format: file.format(),
    };
    for frame in frames.by_ref() {
        all.frames += 1;
        assert_eq!(
            frame.number,
            all.frames,
            "{}: frame numbers",
            path.display()
        );
        all.first = Some(all.first.map_or(frame.time, |t| t.min(frame.time)));
        all.last = Some(all.last.map_or(frame.time, |t| t.max(frame.time)));
        *all.per_interface.entry(frame.interface).or_default() += 1;
        if !all.links.contains(&frame.link) {
            all.links.push(frame.link);
        }
        if frame.is_snaplen_truncated() {
            all.snaplen_truncated += 1;
        }
    }
    all.interfaces = frames.interfaces().to_vec();
    all.stop = frames.stop().cloned();
    all.offset = frames.offset();
    Ok(all)
}

const NETMON: &str = "odd/netmon2-format-protos-sip-malformed.cap";
const CUT_PCAP: &str = "odd/truncated-file-mid-record-sip-g711.pcap";
const CUT_PCAPNG: &str = "odd/truncated-file-mid-block-diameter.pcapng";
/// Record times jump by decades; capinfos' first packet time is wrong for it.
const ODD_TIMES: &str = "odd/sip-ipv6-udp.pcap";

#[test]
fn capture_files_match_capinfos() {
    let Some(shared) = crate::support::shared_captures("capture_files_match_capinfos") else {
        return;
    };
    let files = ground_truth_files(&shared);
    assert!(files.len() >= 50, "only {} ground truth files", files.len());
    let mut failures = Vec::new();
    for (name, capture, txt) in &files {
        let truth = parse_capinfos(&std::fs::read_to_string(txt).expect("ground truth readable"));
        if name == NETMON {
            match CaptureFile::open(capture) {
                Err(e @ CaptureError::UnknownFormat { .. }) => {
                    assert!(e.to_string().contains("NetMon"), "{name}: {e}")
                }
                Err(e) => failures.push(format!("{name}: wrong error: {e}")),
                Ok(_) => failures.push(format!("{name}: NetMon file accepted")),
            }
            continue;
        }
        let all = match read_all(capture) {
            Ok(all) => all,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let size = std::fs::metadata(capture).expect("capture exists").len();
        let want_packets = truth.packets.expect("capinfos gives a packet count");
        if all.frames != want_packets {
            failures.push(format!(
                "{name}: {} frames, capinfos {want_packets}",
                all.frames
            ));
        }
        let cut = name == CUT_PCAP || name == CUT_PCAPNG;
        match (&all.stop, cut) {
            (None, false) => {
                if all.offset != size {
                    failures.push(format!(
                        "{name}: offset {} at the end of a {size}-byte file",
                        all.offset
                    ));
                }
            }
            (Some(stop), true) => {
                if stop.offset != all.offset || stop.offset >= size || stop.reason.is_empty() {
                    failures.push(format!(
                        "{name}: odd stop {stop:?} (offset {}, size {size})",
                        all.offset
                    ));
                }
            }
            (stop, _) => failures.push(format!("{name}: unexpected stop {stop:?}")),
        }
        for (what, got, want) in [
            ("first", all.first, &truth.first),
            ("last", all.last, &truth.last),
        ] {
            let mut want = want.as_deref().and_then(capinfos_time_to_rfc3339_micros);
            if name == ODD_TIMES && what == "first" {
                // capinfos prints the last record's time (2092) as the first as
                // well, with a duration of 0; the records' seconds run 1328589362
                // (record 1, bytes 24..28: 32 aa 30 4f) up to 3867576602, so the
                // earliest is record 1's (tshark 4.0 `-e frame.time_epoch`:
                // frame 1 1328589362.251758, frame 6 3867576602.251758).
                want = Some("2012-02-07T04:36:02.251758Z".to_owned());
            }
            let got = got.map(|t| t.rfc3339_micros().to_string());
            if want != got {
                failures.push(format!(
                    "{name}: {what} packet time {got:?}, capinfos {want:?}"
                ));
            }
        }
        if all.format == Format::Pcapng {
            if truth.interfaces != Some(all.interfaces.len()) {
                failures.push(format!(
                    "{name}: {} interfaces, capinfos {:?}",
                    all.interfaces.len(),
                    truth.interfaces
                ));
            }
            let want: BTreeMap<u32, u64> = truth
                .per_interface
                .iter()
                .filter(|(_, &n)| n > 0)
                .map(|(&i, &n)| (i, n))
                .collect();
            if all.per_interface != want {
                failures.push(format!(
                    "{name}: packets per interface {:?}, capinfos {want:?}",
                    all.per_interface
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

fn open_shared(what: &str, name: &str) -> Option<ReadAll> {
    let shared = crate::support::shared_captures(what)?;
    match read_all(&shared.join(name)) {
        Ok(all) => Some(all),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn capture_files_truncated_pcap_stops_after_429_frames() {
    let Some(all) = open_shared("truncated pcap", CUT_PCAP) else {
        return;
    };
    assert_eq!(all.frames, 429);
    let stop = all.stop.expect("a stop");
    assert!(stop.offset > 24 && stop.offset < 100_003, "{stop:?}");
    assert!(stop.reason.contains("cut short"), "{stop:?}");
}

#[test]
fn capture_files_truncated_pcapng_stops_after_83_frames() {
    let Some(all) = open_shared("truncated pcapng", CUT_PCAPNG) else {
        return;
    };
    assert_eq!(all.frames, 83);
    let stop = all.stop.expect("a stop");
    assert!(stop.offset < 30_001 && stop.offset % 4 == 0, "{stop:?}");
    assert!(stop.reason.contains("cut short"), "{stop:?}");
}

#[test]
fn capture_files_netmon_is_refused_by_name() {
    let Some(shared) = crate::support::shared_captures("netmon") else {
        return;
    };
    let Err(e) = CaptureFile::open(&shared.join(NETMON)) else {
        panic!("NetMon file accepted");
    };
    assert!(matches!(e, CaptureError::UnknownFormat { .. }), "{e}");
    let message = e.to_string();
    assert!(message.contains("NetMon 2.x"), "{message}");
    assert!(
        message.contains("netmon2-format-protos-sip-malformed.cap"),
        "{message}"
    );
}

#[test]
fn capture_files_nanosecond_pcap_keeps_nanoseconds() {
    let Some(all) = open_shared("nanosecond pcap", "odd/nanosecond-pcap-tcp-handshake.pcap") else {
        return;
    };
    assert_eq!(
        all.format,
        Format::Pcap {
            nanos: true,
            big_endian: false
        }
    );
    // capinfos: first 2014-12-09 17:16:09.924505488, last 17:16:10.052115157.
    let first = all.first.expect("frames").as_nanos();
    let last = all.last.expect("frames").as_nanos();
    assert_eq!(first.rem_euclid(1_000_000_000), 924_505_488);
    assert_eq!(last.rem_euclid(1_000_000_000), 52_115_157);
    assert_eq!(
        last - first,
        127_609_669,
        "capinfos capture duration 0.127609669 s"
    );
    assert_eq!(all.links, vec![LinkType::LinuxSll]);
}

#[test]
fn capture_files_pcapng_named_pcap_is_pcapng() {
    let Some(all) = open_shared(
        "pcapng named .pcap",
        "odd/pcapng-named-dot-pcap-rtp-pcmu-sll.pcap",
    ) else {
        return;
    };
    assert_eq!(all.format, Format::Pcapng);
    assert_eq!(all.frames, 2528);
    assert_eq!(all.links, vec![LinkType::LinuxSll]);
}

#[test]
fn capture_files_link_types() {
    for (name, link) in [
        ("odd/linux-sll2-icmp-arp.pcap", LinkType::LinuxSll2),
        ("odd/raw-ip-linktype-pfcp.pcapng", LinkType::RawIp),
        ("odd/sip-rtp-h263-null-loopback.pcap", LinkType::Null),
        ("sip-tcp/sip-sctp-sll.pcap", LinkType::LinuxSll),
        ("sip-rtp/sip-rtp-g722.pcap", LinkType::Ethernet),
    ] {
        let Some(all) = open_shared("link types", name) else {
            return;
        };
        assert_eq!(all.links, vec![link], "{name}");
        assert_eq!(all.interfaces, vec![link], "{name}");
    }
}

#[test]
fn capture_files_snaplen_truncated_frames_are_flagged() {
    let Some(all) = open_shared("snaplen", "odd/snaplen-truncated-tcp.pcap") else {
        return;
    };
    assert_eq!(all.frames, 24);
    assert_eq!(all.snaplen_truncated, 24);
    assert_eq!(all.stop, None);
}

#[test]
fn capture_files_multi_interface_pcapng_uses_interface_ids() {
    for (name, ifaces) in [
        ("odd/pcapng-multi-interface-dns.pcapng", 2),
        ("odd/pcapng-2if-vlan-rtp-comments.pcapng", 2),
        ("diameter/diameter-gx-gy-s6a-sctp-1ue.pcapng", 9),
    ] {
        let Some(all) = open_shared("multi-interface pcapng", name) else {
            return;
        };
        assert_eq!(all.interfaces.len(), ifaces, "{name}");
        assert!(
            all.per_interface.keys().any(|&i| i > 0),
            "{name}: {:?}",
            all.per_interface
        );
    }
}

#[test]
fn frames_keep_their_bytes_after_the_map_is_released() {
    let path = crate::support::project_dir().join("captures/impairments.pcap");
    let file = voxprobe::capture::CaptureFile::open(&path).unwrap();
    let frames: Vec<_> = file.frames().collect();
    let copies: Vec<Vec<u8>> = frames.iter().map(|f| f.data.to_vec()).collect();
    file.release_before(file.len());
    assert_eq!(frames.len(), copies.len());
    assert!(frames
        .iter()
        .zip(&copies)
        .all(|(f, c)| f.data == c.as_slice()));
    // Reading again after the release gives the same frames.
    assert!(file
        .frames()
        .zip(&copies)
        .all(|(f, c)| f.data == c.as_slice()));
}
