//! Hostile traffic, generated: a churn of RTP-looking flows (hundreds of
//! thousands of one-packet "streams" and of short ones) must leave the
//! stream and probation tables at their caps, with what they refused
//! counted, and a real call in the same capture measured as if alone.
//! Likewise floods of IP fragments, abused TCP segments and SCTP chunks,
//! and protocol bombs: each kind counted by its reason, the real calls
//! reported exactly as without them, and the probe's peak memory within
//! what its caps allow.

use crate::support::clickhouse::temp_dir;
use crate::support::project_dir;
use serde_json::Value;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::path::Path;
use std::process::Command;
use voxprobe::synth::pcap_writer::{ipv4_checksum, PcapWriter};

/// The records of a classic pcap (µs, one link type): (seconds,
/// microseconds, the record's 16-byte header and data).
fn records(pcap: &[u8]) -> Vec<(u32, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let word = |i: usize| u32::from_le_bytes(pcap[at + i..at + i + 4].try_into().unwrap());
        let (sec, usec, len) = (word(0), word(4), word(8) as usize);
        out.push((sec, usec, pcap[at..at + 16 + len].to_vec()));
        at += 16 + len;
    }
    out
}

/// The time of a capture's first record, µs since the epoch.
fn first_time_us(pcap: &[u8]) -> i64 {
    let (sec, usec, _) = &records(pcap)[0];
    i64::from(*sec) * 1_000_000 + i64::from(*usec)
}

/// The records of `capture` and of `extra` (the same link type and time
/// precision) in one capture, in time order, under `capture`'s header.
fn merged(capture: &[u8], extra: &[u8]) -> Vec<u8> {
    let mut all = records(extra);
    all.extend(records(capture));
    all.sort_by_key(|r| (r.0, r.1));
    let mut out = capture[..24].to_vec();
    for (_, _, r) in all {
        out.extend_from_slice(&r);
    }
    out
}

/// `calls` (a capture) with `churn` packets of RTP-looking flows merged in
/// during its first seconds: each flow `per_flow` packets long.
fn churned(calls: &[u8], churn: u32, per_flow: u16) -> Vec<u8> {
    let t0 = first_time_us(calls);
    let mut w = voxprobe::synth::pcap_writer::PcapWriter::new(Vec::new()).unwrap();
    let mut flow = 0u32;
    let mut written = 0u32;
    while written < churn {
        // Distinct sources: 198.18.0.0/15 addresses, even ports from 10000
        // (clear of the ports of GTP-U, SIP and the rest).
        let src = SocketAddrV4::new(
            Ipv4Addr::from(0xc612_0000 | (flow >> 8)),
            10_000 + 2 * (flow & 0xff) as u16,
        );
        let dst = SocketAddrV4::new(Ipv4Addr::new(198, 19, 0, 1), 30_000);
        for seq in 0..per_flow {
            let mut rtp = vec![0x80, 0];
            rtp.extend_from_slice(&seq.to_be_bytes());
            rtp.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            rtp.extend_from_slice(&(0x1000_0000 | flow).to_be_bytes());
            rtp.extend(std::iter::repeat_n(0xff, 160));
            // Spread over the call's first 2 s, 20 ms between a flow's packets.
            let time = t0 + i64::from(written % 100_000) * 20 + i64::from(seq) * 20_000;
            w.write_udp(time, src, dst, &rtp).unwrap();
            written += 1;
        }
        flow += 1;
    }
    merged(calls, &w.finish().unwrap())
}

/// What one `voxprobe analyze --format json -q` run gave, with the peak
/// resident memory of the probe's process.
struct Run {
    code: Option<i32>,
    records: Vec<Value>,
    stderr: String,
    peak_rss: u64,
}

/// Runs a program and reports, last on stderr, its peak resident memory
/// (`ru_maxrss` of the child, KiB). `analyze` does not log its peak (only
/// `capture` does), and it cannot be taken from this process's own
/// `wait4`: at exec, Linux folds the memory high-water mark of the process
/// that spawned a program into that program's `ru_maxrss`, and this test
/// process (every test at once) can be far bigger than a probe. `python3`
/// starts small (about 10 MiB, below any probe's peak) and spawns it.
const MEASURED: &str = "import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stderr.write('peak_rss_kib=%d\\n' % peak)
sys.exit(code if code >= 0 else 128 - code)
";

fn run_probe(file: &Path, extra: &[&str]) -> Run {
    let out = Command::new("python3")
        .args(["-c", MEASURED, env!("CARGO_BIN_EXE_voxprobe")])
        .args(["analyze", "--format", "json", "-q"])
        .arg(file)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let peak_kib: u64 = stderr
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("peak_rss_kib="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory reported: {stderr}"));
    Run {
        code: out.status.code(),
        records: crate::support::json_lines(&out.stdout),
        stderr,
        peak_rss: peak_kib * 1024,
    }
}

/// The records of a run that must succeed, and its peak resident memory.
fn analyze_measured(file: &Path, extra: &[&str]) -> (Vec<Value>, u64) {
    let run = run_probe(file, extra);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    (run.records, run.peak_rss)
}

fn analyze(file: &Path, extra: &[&str]) -> Vec<Value> {
    analyze_measured(file, extra).0
}

/// The summary record.
fn summary(records: &[Value]) -> &Value {
    records
        .iter()
        .find(|r| r["type"] == "summary")
        .expect("the summary")
}

/// `capture` with `extra` merged in, written to `dir/name`.
fn write_merged(dir: &Path, name: &str, capture: &[u8], extra: &[u8]) -> std::path::PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, merged(capture, extra)).unwrap();
    file
}

/// `base` (counters of the calls-only run) with `deltas` added at their
/// paths (`a.b` for nested counters; maps that list only what was seen get
/// the key). Compared whole, a counter the flood moved that is not listed
/// fails the comparison as surely as a wrong count.
fn plus(base: &Value, deltas: &[(&str, u64)]) -> Value {
    let mut v = base.clone();
    for &(path, delta) in deltas {
        let mut at = &mut v;
        for key in path.split('.') {
            let map = at
                .as_object_mut()
                .unwrap_or_else(|| panic!("{path}: not an object"));
            at = map.entry(key).or_insert(Value::from(0u64));
        }
        *at = Value::from(at.as_u64().unwrap_or_else(|| panic!("{path}")) + delta);
    }
    v
}

/// A call record without the file's name and frame numbers (a merged
/// capture changes those and nothing else).
fn unplaced(call: &Value) -> Value {
    let mut call = call.clone();
    if let Some(o) = call.as_object_mut() {
        o.remove("file");
    }
    for s in call["streams"].as_array_mut().into_iter().flatten() {
        if let Some(o) = s.as_object_mut() {
            o.remove("file");
            o.remove("first_frame");
        }
    }
    call
}

/// Every call of `alone` is in `records` in the same order and the same in
/// every field, and the only other calls are those `added` names.
fn assert_calls_as_alone(records: &[Value], alone: &[Value], added: &dyn Fn(&Value) -> bool) {
    let got: Vec<Value> = records
        .iter()
        .filter(|r| r["type"] == "call" && !added(r))
        .map(unplaced)
        .collect();
    let want: Vec<Value> = alone
        .iter()
        .filter(|r| r["type"] == "call")
        .map(unplaced)
        .collect();
    assert_eq!(got.len(), want.len());
    for (got, want) in got.iter().zip(&want) {
        assert_eq!(got, want, "call {}", want["call_id"]);
    }
}

/// Room, beyond the calls-only run's peak, the capture's own pages and what
/// the caps let the decoder hold, for what else a flood's run allocates:
/// the allocator's slack and arenas, the counters and output.
const SLACK: u64 = 8 << 20;

/// Prints a flood's peak resident memory and asserts it is within the
/// calls-only run's peak, plus the capture file (mapped, and with fewer
/// than the 65 536 frames after which `analyze` releases the pages read,
/// all of it resident at the end), plus `held` (what the caps let the
/// decoder hold), plus [`SLACK`].
fn assert_peak_within(flood: &str, peak: u64, alone_peak: u64, file: &Path, held: u64) {
    let file_len = std::fs::metadata(file).unwrap().len();
    println!("{flood}: peak {} MiB", peak >> 20);
    let bound = alone_peak + file_len + held + SLACK;
    assert!(
        peak <= bound,
        "{flood}: peak {} MiB over {} MiB: calls alone {} MiB, capture {} MiB, \
         caps {} MiB, slack {} MiB",
        peak >> 20,
        bound >> 20,
        alone_peak >> 20,
        file_len >> 20,
        held >> 20,
        SLACK >> 20
    );
}

/// (ssrc, packets, lost) of the call's streams.
fn call_streams(records: &[serde_json::Value]) -> Vec<(u64, u64, i64)> {
    let call = records
        .iter()
        .find(|r| r["type"] == "call")
        .expect("the call");
    let mut v: Vec<(u64, u64, i64)> = call["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["ssrc"].as_u64().unwrap(),
                s["packets"].as_u64().unwrap(),
                s["lost"].as_i64().unwrap(),
            )
        })
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn stream_churn_stays_within_the_caps_and_real_calls_stay_whole() {
    let dir = temp_dir("churn");
    let call = std::fs::read(project_dir().join("captures/sip-call.pcap")).unwrap();
    let alone = analyze(&project_dir().join("captures/sip-call.pcap"), &[]);
    let cap = 5_000u64;
    let cap_arg = ["--max-streams", "5000"];

    // 200 000 one-packet flows: each waits in probation; past the cap they
    // are turned away, counted; the call (its endpoints from SDP) is whole.
    let one = dir.join("one-packet.pcap");
    std::fs::write(&one, churned(&call, 200_000, 1)).unwrap();
    let records = analyze(&one, &cap_arg);
    assert_eq!(call_streams(&records), call_streams(&alone));
    let summary = records.iter().find(|r| r["type"] == "summary").unwrap();
    let rejected = summary["streams"]["heuristic_rejected"].as_u64().unwrap();
    assert_eq!(
        rejected, 200_000,
        "every probation packet is counted as rejected: {summary}"
    );
    assert_eq!(
        summary["streams"]["streams_created"].as_u64().unwrap(),
        2,
        "{summary}"
    );

    // 40 000 flows of three packets: each becomes a stream until the table
    // is full; the rest are refused, counted, packet by packet.
    let short = dir.join("short.pcap");
    std::fs::write(&short, churned(&call, 120_000, 3)).unwrap();
    let records = analyze(&short, &cap_arg);
    let summary = records.iter().find(|r| r["type"] == "summary").unwrap();
    let s = &summary["streams"];
    let created = s["streams_created"].as_u64().unwrap();
    assert!(created <= cap + 2, "{s}");
    let refused = s["streams_refused_table_full"].as_u64().unwrap();
    assert!(refused > 0, "{s}");
    // Every stream the table held is reported, no more than the cap.
    let reported = records.iter().filter(|r| r["type"] == "stream").count() as u64
        + records
            .iter()
            .filter(|r| r["type"] == "call")
            .map(|c| c["streams"].as_array().unwrap().len() as u64)
            .sum::<u64>();
    assert_eq!(reported, created, "{s}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `calls` with `invites` INVITEs with random Call-IDs and no answer merged
/// in over its span (from other hosts), `per_second` of them a second.
fn invite_flood(calls: &[u8], invites: u32, per_second: u32) -> Vec<u8> {
    let t0 = first_time_us(calls);
    let mut w = voxprobe::synth::pcap_writer::PcapWriter::new(Vec::new()).unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for n in 0..invites {
        // xorshift: random-looking Call-IDs, the same every run.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let src = SocketAddrV4::new(Ipv4Addr::from(0xc612_0000 | (n & 0xffff)), 5060);
        let dst = SocketAddrV4::new(Ipv4Addr::new(198, 19, 0, 9), 5060);
        let invite = format!(
            "INVITE sip:victim@198.19.0.9 SIP/2.0\r\nVia: SIP/2.0/UDP {src};branch=z9hG4bK{x:x}\r\n\
             From: <sip:scan@{ip}>;tag={n}\r\nTo: <sip:victim@198.19.0.9>\r\nCall-ID: {x:016x}@flood\r\n\
             CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            ip = src.ip()
        );
        let time = t0 + i64::from(n) * 1_000_000 / i64::from(per_second);
        w.write_udp(time, src, dst, invite.as_bytes()).unwrap();
    }
    merged(calls, &w.finish().unwrap())
}

#[test]
fn an_invite_flood_keeps_the_call_table_capped_and_real_calls_whole() {
    let dir = temp_dir("invite-flood");
    // 48 s of real calls, and 240 000 INVITEs nobody answers over its
    // first 48 s (5 000 a second, random Call-IDs), with room for 10 000
    // calls: the flood fills the table in 2 s and keeps it full.
    let calls = std::fs::read(project_dir().join("captures/calls.pcap")).unwrap();
    let alone = analyze(&project_dir().join("captures/calls.pcap"), &[]);
    let flood = dir.join("flood.pcap");
    std::fs::write(&flood, invite_flood(&calls, 240_000, 5_000)).unwrap();
    let records = analyze(&flood, &["--max-calls", "10000"]);
    let summary = records.iter().find(|r| r["type"] == "summary").unwrap();
    let sip = &summary["sip"];
    // Every real call is there, as when alone.
    let real: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["type"] == "call" && !r["call_id"].as_str().unwrap().ends_with("@flood"))
        .collect();
    let want: Vec<&serde_json::Value> = alone.iter().filter(|r| r["type"] == "call").collect();
    assert_eq!(real.len(), want.len(), "{sip}");
    for (got, want) in real.iter().zip(&want) {
        for field in ["call_id", "outcome", "final_code", "setup_ms", "duration_s"] {
            assert_eq!(got[field], want[field], "{field}");
        }
        // The same streams (but for the file's name and frame numbers).
        assert_eq!(unplaced(got)["streams"], unplaced(want)["streams"]);
    }
    assert_eq!(sip["calls_refused_table_full"], 0, "{sip}");
    // The flood was given up as it came, counted, and never held more than
    // the table's room: every dialog made was given up or reported. (The
    // capture's own INVITE that never gets an answer is given up like the
    // flood's, again at each retransmission; its last one is reported.)
    let evicted = sip["unanswered_evicted"].as_u64().unwrap();
    let reported = records.iter().filter(|r| r["type"] == "call").count() as u64;
    assert_eq!(sip["calls"].as_u64().unwrap(), evicted + reported, "{sip}");
    assert!(reported <= 10_000, "{reported}");
    assert!(evicted >= 240_000 - 10_000, "{sip}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An INVITE (Call-ID `id`) whose SDP announces `m_lines` audio streams.
fn sdp_bomb(id: &str, m_lines: usize) -> Vec<u8> {
    let mut sdp =
        String::from("v=0\r\no=- 1 1 IN IP4 198.18.9.9\r\ns=-\r\nc=IN IP4 198.18.9.9\r\nt=0 0\r\n");
    for i in 0..m_lines {
        sdp.push_str(&format!(
            "m=audio {} RTP/AVP 0 8 101\r\n",
            20_000 + 2 * (i % 20_000)
        ));
    }
    format!(
        "INVITE sip:bomb@198.19.0.9 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.9.9:5060;branch=z9hG4bKbomb\r\n\
         From: <sip:bomb@198.18.9.9>;tag=1\r\nTo: <sip:bomb@198.19.0.9>\r\nCall-ID: {id}\r\n\
         CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

#[test]
fn protocol_bombs_are_turned_away_and_the_rest_is_analysed() {
    let dir = temp_dir("bombs");
    let call = std::fs::read(project_dir().join("captures/sip-call.pcap")).unwrap();
    let alone = analyze(&project_dir().join("captures/sip-call.pcap"), &[]);
    let t0 = first_time_us(&call) + 500_000;
    let mut w = voxprobe::synth::pcap_writer::PcapWriter::new(Vec::new()).unwrap();
    let a = SocketAddrV4::new(Ipv4Addr::new(198, 18, 9, 9), 5060);
    let b = SocketAddrV4::new(Ipv4Addr::new(198, 19, 0, 9), 5060);
    // An SDP announcing 1 500 streams in one datagram.
    w.write_udp(t0, a, b, &sdp_bomb("sdp-bomb@flood", 1_500))
        .unwrap();
    // A "SIP message" of 4 000 header lines.
    let mut headers = String::from("OPTIONS sip:x@198.19.0.9 SIP/2.0\r\n");
    for i in 0..4_000 {
        headers.push_str(&format!("X-Filler-{i}: y\r\n"));
    }
    headers.push_str("\r\n");
    w.write_udp(
        t0 + 1000,
        a,
        b,
        &headers.as_bytes()[..headers.len().min(60_000)],
    )
    .unwrap();
    // GTPv2-C messages whose IEs claim more than they hold.
    let gtp_a = SocketAddrV4::new(Ipv4Addr::new(198, 18, 9, 10), 2123);
    let gtp_b = SocketAddrV4::new(Ipv4Addr::new(198, 19, 0, 10), 2123);
    for i in 0..100u16 {
        let mut m = vec![0x48, 32, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        // IMSI IE claiming 60 000 bytes.
        m.extend_from_slice(&[1, 0xea, 0x60, 0, 0x21, 0x43]);
        let len = (m.len() - 4) as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        m[8..10].copy_from_slice(&i.to_be_bytes());
        w.write_udp(t0 + 2000 + i64::from(i), gtp_a, gtp_b, &m)
            .unwrap();
    }
    let mut bytes = merged(&call, &w.finish().unwrap());
    // A last record that claims 4 GB.
    let claim_at = bytes.len();
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(b"not four gigabytes");
    let file = dir.join("bombs.pcap");
    std::fs::write(&file, &bytes).unwrap();

    let run = run_probe(&file, &[]);
    let err = &run.stderr;
    // The 4 GB record stops the reading, named by its offset (exit 3: read
    // in part); everything before it was analysed.
    assert_eq!(run.code, Some(3), "{err}");
    assert!(
        err.contains(&format!("stopped at byte {claim_at}")),
        "{err}"
    );
    let records = run.records;
    // The real call is measured as when alone.
    let real = records
        .iter()
        .find(|r| r["type"] == "call" && r["call_id"] != "sdp-bomb@flood")
        .expect("the real call");
    let want = alone.iter().find(|r| r["type"] == "call").unwrap();
    for field in [
        "call_id",
        "outcome",
        "final_code",
        "setup_ms",
        "duration_s",
        "mos_caller_to_callee",
    ] {
        assert_eq!(real[field], want[field], "{field}");
    }
    // The SDP bomb is a call like any other, its announced streams capped.
    assert!(records.iter().any(|r| r["call_id"] == "sdp-bomb@flood"));
    let summary = records.iter().find(|r| r["type"] == "summary").unwrap();
    let gtp_malformed: u64 = summary["gtpv2"]["malformed"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(serde_json::Value::as_u64)
        .sum();
    let ie_anomalies: u64 = summary["gtpv2"]["ie_anomalies"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(serde_json::Value::as_u64)
        .sum();
    assert!(gtp_malformed + ie_anomalies >= 100, "{}", summary["gtpv2"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Frames `PcapWriter` does not write (IP fragments, IPv6, SCTP), built by
/// hand into a capture that `merged` takes.
struct Frames {
    pcap: Vec<u8>,
}

/// Where an IP fragment goes in its datagram.
#[derive(Clone, Copy)]
struct Frag {
    id: u32,
    /// Bytes (a multiple of 8).
    offset: u32,
    more: bool,
}

impl Frag {
    const fn new(id: u32, offset: u32, more: bool) -> Frag {
        Frag { id, offset, more }
    }
}

/// An IP packet that is not a fragment.
const WHOLE: Frag = Frag::new(0, 0, false);

impl Frames {
    fn new() -> Self {
        Frames {
            pcap: PcapWriter::new(Vec::new()).unwrap().finish().unwrap(),
        }
    }

    fn ethernet(&mut self, time_us: i64, ethertype: u16, packet: &[u8]) {
        let mut frame = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
        frame.extend_from_slice(&ethertype.to_be_bytes());
        frame.extend_from_slice(packet);
        let len = u32::try_from(frame.len()).unwrap();
        let secs = u32::try_from(time_us / 1_000_000).unwrap();
        let micros = u32::try_from(time_us % 1_000_000).unwrap();
        for word in [secs, micros, len, len] {
            self.pcap.extend_from_slice(&word.to_le_bytes());
        }
        self.pcap.extend_from_slice(&frame);
    }

    /// An IPv4 packet, a fragment when `frag` says so (its id is cut to 16
    /// bits).
    fn ipv4(
        &mut self,
        time_us: i64,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: u8,
        frag: Frag,
        payload: &[u8],
    ) {
        assert!(frag.offset.is_multiple_of(8) && frag.offset / 8 < 8192);
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&u16::try_from(20 + payload.len()).unwrap().to_be_bytes());
        p.extend_from_slice(&(frag.id as u16).to_be_bytes());
        let field = (u16::from(frag.more) << 13) | (frag.offset / 8) as u16;
        p.extend_from_slice(&field.to_be_bytes());
        p.extend_from_slice(&[64, protocol, 0, 0]);
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&dst.octets());
        let sum = ipv4_checksum(&p);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p.extend_from_slice(payload);
        self.ethernet(time_us, 0x0800, &p);
    }

    /// An IPv6 packet whose only extension header is a fragment header.
    fn ipv6_fragment(
        &mut self,
        time_us: i64,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        next: u8,
        frag: Frag,
        payload: &[u8],
    ) {
        assert!(frag.offset.is_multiple_of(8) && frag.offset < 65_536);
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&u16::try_from(8 + payload.len()).unwrap().to_be_bytes());
        p.extend_from_slice(&[44, 64]);
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&dst.octets());
        p.extend_from_slice(&[next, 0]);
        p.extend_from_slice(&(frag.offset as u16 | u16::from(frag.more)).to_be_bytes());
        p.extend_from_slice(&frag.id.to_be_bytes());
        p.extend_from_slice(payload);
        self.ethernet(time_us, 0x86dd, &p);
    }

    /// An SCTP packet over IPv4: the common header (checksum 0: the probe
    /// does not check it), then `chunks`.
    fn sctp(
        &mut self,
        time_us: i64,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        vtag: u32,
        chunks: &[u8],
    ) {
        let mut p = Vec::with_capacity(12 + chunks.len());
        p.extend_from_slice(&src.port().to_be_bytes());
        p.extend_from_slice(&dst.port().to_be_bytes());
        p.extend_from_slice(&vtag.to_be_bytes());
        p.extend_from_slice(&[0; 4]);
        p.extend_from_slice(chunks);
        self.ipv4(time_us, *src.ip(), *dst.ip(), 132, WHOLE, &p);
    }

    fn finish(self) -> Vec<u8> {
        self.pcap
    }
}

/// One UDP fragment from the fragment flood's host to its target, over
/// IPv6 or IPv4.
fn fragment(f: &mut Frames, time_us: i64, v6: bool, frag: Frag, payload: &[u8]) {
    if v6 {
        let src = Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, 0, 1);
        let dst = Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, 0, 2);
        f.ipv6_fragment(time_us, src, dst, 17, frag, payload);
    } else {
        let (src, dst) = (Ipv4Addr::new(198, 18, 30, 1), Ipv4Addr::new(198, 19, 0, 50));
        f.ipv4(time_us, src, dst, 17, frag, payload);
    }
}

/// A UDP header (checksum 0) and `payload`.
fn udp_datagram(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(8 + payload.len());
    d.extend_from_slice(&src_port.to_be_bytes());
    d.extend_from_slice(&dst_port.to_be_bytes());
    d.extend_from_slice(&u16::try_from(8 + payload.len()).unwrap().to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(payload);
    d
}

/// An OPTIONS request of about `size` bytes (a long header pads it).
fn sip_options(call_id: &str, size: usize) -> Vec<u8> {
    let head = format!(
        "OPTIONS sip:probe@198.19.0.50 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.30.1:5060;branch=z9hG4bK{call_id}\r\n\
         From: <sip:ping@198.18.30.1>;tag=1\r\nTo: <sip:probe@198.19.0.50>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
    );
    let pad = size.saturating_sub(head.len() + 40);
    format!(
        "{head}X-Padding: {}\r\nContent-Length: 0\r\n\r\n",
        "p".repeat(pad)
    )
    .into_bytes()
}

#[test]
fn ip_fragment_floods_are_dropped_by_reason_within_the_caps() {
    let dir = temp_dir("fragments");
    let calls = std::fs::read(project_dir().join("captures/calls.pcap")).unwrap();
    let (alone, alone_peak) = analyze_measured(&project_dir().join("captures/calls.pcap"), &[]);
    // The reassembler's defaults (`--max-fragment-bytes` is the first).
    let cfg = voxprobe::packet::DefragConfig::default();
    let (cap_bytes, cap_datagrams) = (cfg.max_buffered_bytes, cfg.max_datagrams);
    let per_datagram = cfg.max_fragments_per_datagram;
    let t0 = first_time_us(&calls);
    let mut f = Frames::new();
    let filler = [0x55u8; 1480];
    // Every kind alternates IPv4 and IPv6 (its fragment header) and has
    // identifications of its own.

    // 1. The byte cap: 1 000 datagrams whose one fragment sits at the far
    // end (offset 64 000), so each holds a 65 480-byte buffer. 256 fit in
    // 16 MiB; each further one evicts the oldest.
    let far = 64_000u32;
    let far_end = far as usize + filler.len();
    let far_n = 1_000usize;
    let far_fit = cap_bytes / far_end;
    for i in 0..far_n {
        let frag = Frag::new(10_000 + i as u32, far, true);
        fragment(&mut f, t0 + 50 * i as i64, i % 2 == 1, frag, &filler);
    }
    // The far datagrams left room for this much more.
    let room = cap_bytes - far_fit * far_end;

    // 2. Beside them (each needing far less than `room`, never more than
    // one pending at once): overlaps, oversize, too many fragments,
    // inconsistent ends, bad lengths, and two real datagrams.
    let t1 = t0 + 100_000;
    let overlaps = 100u32;
    for i in 0..overlaps {
        let v6 = i % 2 == 1;
        let t = t1 + 10 * i64::from(i);
        let id = 20_000 + i;
        fragment(&mut f, t, v6, Frag::new(id, 0, true), &filler);
        // Bytes 1000..2480 again over 1000..1480.
        fragment(&mut f, t + 1, v6, Frag::new(id, 1000, true), &filler);
    }
    let t2 = t1 + 10_000;
    let oversized = 100u32;
    for i in 0..oversized {
        let v6 = i % 2 == 1;
        let t = t2 + 10 * i64::from(i);
        let id = 30_000 + i;
        // A datagram started, then a fragment ending at 66 480.
        fragment(&mut f, t, v6, Frag::new(id, 0, true), &filler);
        fragment(&mut f, t + 1, v6, Frag::new(id, 65_000, true), &filler);
        // And one alone at the highest offset there is (65 528).
        let lone = Frag::new(31_000 + i, 65_528, false);
        fragment(&mut f, t + 2, v6, lone, &filler[..16]);
    }
    let t3 = t2 + 10_000;
    let too_many = 10u32;
    for i in 0..too_many {
        let v6 = i % 2 == 1;
        // One 8-byte fragment more than a datagram may have.
        for k in 0..=per_datagram as u32 {
            let frag = Frag::new(40_000 + i, 8 * k, true);
            let t = t3 + 1_000 * i64::from(i) + i64::from(k);
            fragment(&mut f, t, v6, frag, &filler[..8]);
        }
    }
    let t4 = t3 + 20_000;
    let inconsistent = 10u32;
    let bad_length = 10u32;
    for i in 0..inconsistent {
        let v6 = i % 2 == 1;
        let t = t4 + 10 * i64::from(i);
        let id = 41_000 + i;
        // The last fragment ends at 808; then one claims to go on past it.
        fragment(&mut f, t, v6, Frag::new(id, 800, false), &filler[..8]);
        fragment(&mut f, t + 1, v6, Frag::new(id, 808, true), &filler[..8]);
        // Not a multiple of 8, and more to come.
        let frag = Frag::new(42_000 + i, 0, true);
        fragment(&mut f, t + 2, v6, frag, &filler[..13]);
    }
    // Two real OPTIONS of 3 000 bytes in three fragments (the second sent
    // twice, as a SPAN port may), reassembled amid the flood.
    let t5 = t4 + 10_000;
    let mut real_fragments = 0u64;
    for (n, v6) in [false, true].into_iter().enumerate() {
        let datagram = udp_datagram(5060, 5060, &sip_options(&format!("frag-{n}@flood"), 3_000));
        assert!(
            datagram.len() < room,
            "a real datagram fits beside the far ones"
        );
        let pieces: Vec<&[u8]> = datagram.chunks(filler.len()).collect();
        let mut t = t5 + 1_000 * n as i64;
        for (k, piece) in pieces.iter().enumerate() {
            let offset = u32::try_from(k * filler.len()).unwrap();
            let frag = Frag::new(50_000, offset, k + 1 < pieces.len());
            let copies = if k == 1 { 2 } else { 1 };
            for _ in 0..copies {
                fragment(&mut f, t, v6, frag, piece);
                t += 10;
            }
        }
        real_fragments += pieces.len() as u64;
    }

    // 3. The datagram cap: 4 000 first fragments (16 bytes) that never get
    // a second. 768 fill the table beside the 256 far datagrams (in the
    // room the bytes cap leaves); each further one evicts the oldest (the
    // far ones first, then its own kind); the last 1 024 time out.
    let t6 = t5 + 10_000;
    let unfinished = 4_000u32;
    let beside = cap_datagrams - far_fit;
    assert!(beside * 16 <= room && unfinished as usize >= cap_datagrams);
    for i in 0..unfinished {
        let frag = Frag::new(i, 0, true);
        fragment(
            &mut f,
            t6 + 100 * i64::from(i),
            i % 2 == 1,
            frag,
            &filler[..16],
        );
    }
    // All this within the first second; the capture runs on for 48 s, past
    // the 30 s timeout.
    assert!(t6 + 100 * i64::from(unfinished) < t0 + 1_000_000);
    assert!(records(&calls).last().unwrap().0 as i64 * 1_000_000 > t0 + 32_000_000);

    let file = write_merged(&dir, "fragments.pcap", &calls, &f.finish());
    let (records, peak) = analyze_measured(&file, &[]);
    let s = summary(&records);
    let base = summary(&alone);
    let n = |x: usize| x as u64;
    assert_eq!(
        s["reassembly"],
        plus(
            &base["reassembly"],
            &[
                (
                    "fragments",
                    n(far_n)
                        + u64::from(overlaps)
                        + u64::from(oversized)
                        + u64::from(too_many) * n(per_datagram)
                        + u64::from(inconsistent)
                        + real_fragments
                        + u64::from(unfinished)
                ),
                ("fragments_duplicate", 2),
                ("fragments_bad_length", u64::from(bad_length)),
                ("reassembled", 2),
                ("dropped_timeout", n(cap_datagrams)),
                ("dropped_memory_cap", n(far_n - far_fit)),
                ("dropped_datagram_cap", u64::from(unfinished) - n(beside)),
                ("dropped_overlap", u64::from(overlaps)),
                ("dropped_oversize", 2 * u64::from(oversized)),
                ("dropped_inconsistent", u64::from(inconsistent)),
                ("dropped_too_many_fragments", u64::from(too_many)),
            ]
        ),
        "{}",
        s["reassembly"]
    );
    // Each refused fragment's frame is malformed at the fragment layer.
    let refused = overlaps + 2 * oversized + too_many + inconsistent + bad_length;
    assert_eq!(
        s["packets"]["malformed"],
        plus(
            &base["packets"]["malformed"],
            &[("fragment", u64::from(refused))]
        )
    );
    // The two reassembled OPTIONS were read as SIP.
    assert_eq!(
        s["sip"]["requests"],
        plus(&base["sip"]["requests"], &[("OPTIONS", 2)])
    );
    assert_calls_as_alone(&records, &alone, &|_| false);
    // Held at most: the byte cap, and the reused buffers kept idle (at
    // most 16 of up to 64 KiB).
    let held = cap_bytes as u64 + 16 * 64 * 1024;
    assert_peak_within("fragment flood", peak, alone_peak, &file, held);
    let _ = std::fs::remove_dir_all(&dir);
}

type Pcap = PcapWriter<Vec<u8>>;

/// TCP flags (header byte 13).
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const FIN_ACK: u8 = 0x11;
const RST: u8 = 0x04;

/// One TCP connection written segment by segment: the next sequence number
/// of each direction, the client's first.
struct Conn {
    client: SocketAddrV4,
    server: SocketAddrV4,
    next: [u32; 2],
}

impl Conn {
    /// SYN, SYN-ACK and ACK from `t`, 100 µs apart.
    fn open(w: &mut Pcap, t: i64, client: SocketAddrV4, server: SocketAddrV4) -> Conn {
        let isn = [1_000u32, 900_000];
        w.write_tcp(t, client, server, isn[0], 0, SYN, &[]).unwrap();
        w.write_tcp(t + 100, server, client, isn[1], isn[0] + 1, SYN | ACK, &[])
            .unwrap();
        w.write_tcp(t + 200, client, server, isn[0] + 1, isn[1] + 1, ACK, &[])
            .unwrap();
        Conn {
            client,
            server,
            next: [isn[0] + 1, isn[1] + 1],
        }
    }

    /// `data` at sequence number `seq` of one direction (the stream's next
    /// number left as it is).
    fn segment_at(&self, w: &mut Pcap, t: i64, from_client: bool, seq: u32, data: &[u8]) {
        let (src, dst, ack) = if from_client {
            (self.client, self.server, self.next[1])
        } else {
            (self.server, self.client, self.next[0])
        };
        w.write_tcp(t, src, dst, seq, ack, PSH_ACK, data).unwrap();
    }

    /// `data` as the next bytes of one direction, in one segment.
    fn send(&mut self, w: &mut Pcap, t: i64, from_client: bool, data: &[u8]) {
        let d = usize::from(!from_client);
        self.segment_at(w, t, from_client, self.next[d], data);
        self.next[d] = self.next[d].wrapping_add(data.len() as u32);
    }

    /// `data` as the next bytes from the client, in segments of `mss`
    /// bytes, `step` µs apart from `t`.
    fn stream(&mut self, w: &mut Pcap, t: i64, step: i64, data: &[u8], mss: usize) {
        for (i, piece) in data.chunks(mss).enumerate() {
            self.send(w, t + step * i as i64, true, piece);
        }
    }

    /// FIN from the client, FIN from the server, the last ACK.
    fn close(&mut self, w: &mut Pcap, t: i64) {
        let [c, s] = self.next;
        w.write_tcp(t, self.client, self.server, c, s, FIN_ACK, &[])
            .unwrap();
        w.write_tcp(t + 100, self.server, self.client, s, c + 1, FIN_ACK, &[])
            .unwrap();
        w.write_tcp(t + 200, self.client, self.server, c + 1, s + 1, ACK, &[])
            .unwrap();
        self.next = [c + 1, s + 1];
    }
}

/// A DIAMETER AVP (M flag), padded to 4 bytes.
fn avp(code: u32, data: &[u8]) -> Vec<u8> {
    let mut a = code.to_be_bytes().to_vec();
    a.push(0x40);
    a.extend_from_slice(&u32::try_from(8 + data.len()).unwrap().to_be_bytes()[1..]);
    a.extend_from_slice(data);
    while !a.len().is_multiple_of(4) {
        a.push(0);
    }
    a
}

/// A DIAMETER request (base application) of `command` holding `avps`.
fn diameter_request(command: u32, hop_by_hop: u32, avps: &[u8]) -> Vec<u8> {
    let len = u32::try_from(20 + avps.len()).unwrap();
    let mut m = vec![1];
    m.extend_from_slice(&len.to_be_bytes()[1..]);
    m.push(0x80);
    m.extend_from_slice(&command.to_be_bytes()[1..]);
    m.extend_from_slice(&0u32.to_be_bytes());
    m.extend_from_slice(&hop_by_hop.to_be_bytes());
    m.extend_from_slice(&hop_by_hop.to_be_bytes());
    m.extend_from_slice(avps);
    m
}

/// Origin-Host and Origin-Realm.
fn diameter_origin() -> Vec<u8> {
    let mut a = avp(264, b"peer.flood.example");
    a.extend(avp(296, b"flood.example"));
    a
}

/// A Device-Watchdog-Request.
fn dwr(hop_by_hop: u32) -> Vec<u8> {
    diameter_request(280, hop_by_hop, &diameter_origin())
}

/// A SIP message over TCP between `client` and `server` in dialog
/// `call_id` (no body).
fn sip_tcp_message(
    first_line: &str,
    cseq: &str,
    call_id: &str,
    client: SocketAddrV4,
    server: SocketAddrV4,
    to_tag: bool,
) -> Vec<u8> {
    format!(
        "{first_line}\r\nVia: SIP/2.0/TCP {client};branch=z9hG4bK{cseq_n}\r\n\
         From: <sip:alice@{ci}>;tag=a1\r\nTo: <sip:bob@{si}>{tag}\r\nCall-ID: {call_id}\r\n\
         CSeq: {cseq}\r\nContact: <sip:alice@{client};transport=tcp>\r\nMax-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n",
        cseq_n = cseq.split(' ').next().unwrap(),
        ci = client.ip(),
        si = server.ip(),
        tag = if to_tag { ";tag=b1" } else { "" },
    )
    .into_bytes()
}

#[test]
fn tcp_segment_abuse_is_counted_and_a_sip_over_tcp_call_survives() {
    let dir = temp_dir("tcp-abuse");
    let calls = std::fs::read(project_dir().join("captures/calls.pcap")).unwrap();
    let (alone, alone_peak) = analyze_measured(&project_dir().join("captures/calls.pcap"), &[]);
    let cfg = voxprobe::packet::tcp::TcpConfig::default();
    let t0 = first_time_us(&calls);
    let s = |a, b, c, d, port| SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), port);
    let sip_server = s(198, 19, 0, 20, 5060);
    let diameter_server = s(198, 19, 0, 20, 3868);
    let mut w = PcapWriter::new(Vec::new()).unwrap();

    // A real call over one TCP connection, its INVITE's segment sent twice.
    let client = s(198, 18, 200, 1, 40_001);
    let call_id = "tcp-call@198.18.200.1";
    let mut real = Conn::open(&mut w, t0 + 1_000_000, client, sip_server);
    let msg = |line: &str, cseq: &str, to_tag| {
        sip_tcp_message(line, cseq, call_id, client, sip_server, to_tag)
    };
    let invite = msg("INVITE sip:bob@198.19.0.20 SIP/2.0", "1 INVITE", false);
    let invite_seq = real.next[0];
    real.send(&mut w, t0 + 1_001_000, true, &invite);
    real.segment_at(&mut w, t0 + 1_100_000, true, invite_seq, &invite);
    real.send(
        &mut w,
        t0 + 1_200_000,
        false,
        &msg("SIP/2.0 200 OK", "1 INVITE", true),
    );
    real.send(
        &mut w,
        t0 + 1_210_000,
        true,
        &msg("ACK sip:bob@198.19.0.20 SIP/2.0", "1 ACK", true),
    );
    // Two guessed bytes 1 GiB ahead on the call's own connection (out of the
    // window: dropped), two more 1 MiB ahead (held, but the stream is never
    // made to skip its real data for them: the BYE 7.7 s later is delivered
    // and they are dropped at the close).
    let spoofed = 2u64;
    real.segment_at(
        &mut w,
        t0 + 1_250_000,
        true,
        real.next[0].wrapping_add(1 << 30),
        b"zz",
    );
    real.segment_at(
        &mut w,
        t0 + 1_260_000,
        true,
        real.next[0].wrapping_add(1 << 20),
        b"zz",
    );

    // Out of window: 1 GiB ahead, one segment more than the out-of-order
    // buffer holds, 1 MiB apart: each dropped, none held, no gap. 5.7 s later
    // a keep-alive at the stream's next byte is read in step. Then the
    // stream moves 100 MiB ahead (as after capture loss of more than a
    // window): of `FOLLOW_SEGMENTS` segments each continuing the one before,
    // the first are dropped and the last, an OPTIONS, is followed (a gap).
    let mut window = Conn::open(
        &mut w,
        t0 + 1_300_000,
        s(198, 18, 201, 1, 41_001),
        sip_server,
    );
    let base = window.next[0];
    let held = cfg.max_out_of_order_segments as u32;
    let junk = [b'z'; 100];
    for i in 0..=held {
        let seq = base.wrapping_add((1 << 30) + (i << 20));
        window.segment_at(
            &mut w,
            t0 + 1_301_000 + 1_000 * i64::from(i),
            true,
            seq,
            &junk,
        );
    }
    window.send(&mut w, t0 + 7_000_000, true, b"\r\n\r\n");
    assert!(t0 + 7_000_000 - (t0 + 1_302_000) > cfg.reorder_timeout_ns / 1_000);
    let follow = u32::from(voxprobe::packet::tcp::FOLLOW_SEGMENTS);
    let far = window.next[0].wrapping_add(100 << 20);
    for k in 0..follow - 1 {
        let seq = far.wrapping_add(k * 100);
        window.segment_at(&mut w, t0 + 7_100_000 + i64::from(k), true, seq, &junk);
    }
    let options = sip_tcp_message(
        "OPTIONS sip:bob@198.19.0.20 SIP/2.0",
        "1 OPTIONS",
        "window-follow@198.18.201.1",
        window.client,
        sip_server,
        false,
    );
    let followed_at = far.wrapping_add((follow - 1) * 100);
    window.segment_at(&mut w, t0 + 7_101_000, true, followed_at, &options);
    let far_gap = u64::from(followed_at.wrapping_sub(window.next[0]));

    // Overlaps on DIAMETER: three DWRs (bytes B) as B[0..40], B[120..]
    // (out of order), B[20..140] (20 bytes again, and 20 of the held
    // segment), then all of B again.
    let overlap = Conn::open(
        &mut w,
        t0 + 1_500_000,
        s(198, 18, 202, 1, 42_001),
        diameter_server,
    );
    let b: Vec<u8> = (1..=3).flat_map(dwr).collect();
    assert!(
        b.len() > 140 && b.len() / 3 <= 112,
        "two DWRs in 140 bytes, three past it"
    );
    let base = overlap.next[0];
    let at = |k: u32| base.wrapping_add(k);
    overlap.segment_at(&mut w, t0 + 1_501_000, true, at(0), &b[..40]);
    overlap.segment_at(&mut w, t0 + 1_502_000, true, at(120), &b[120..]);
    overlap.segment_at(&mut w, t0 + 1_503_000, true, at(20), &b[20..140]);
    overlap.segment_at(&mut w, t0 + 1_504_000, true, at(0), &b);

    // Over the total byte cap: 300 connections each holding 64 out-of-order
    // segments of 4 000 bytes (within its own limits: 256 000 bytes, 64
    // segments) after a 1-byte hole, 76.8 MB in all. Once all connections
    // together hold the cap the rest are dropped; a RST closes each after.
    let held_conns = 300u32;
    let seg_len = 4_000usize;
    let per_conn = cfg.max_out_of_order_segments as u32;
    let chunk = vec![b'm'; seg_len];
    for c in 0..held_conns {
        let t = t0 + 3_000_000 + 1_500 * i64::from(c);
        let client = s(198, 18, 205, 1 + (c / 200) as u8, 45_000 + (c % 200) as u16);
        let conn = Conn::open(&mut w, t, client, sip_server);
        for k in 0..per_conn {
            let seq = conn.next[0].wrapping_add(1 + k * seg_len as u32);
            conn.segment_at(&mut w, t + 300 + 10 * i64::from(k), true, seq, &chunk);
        }
        w.write_tcp(
            t0 + 3_600_000 + 10 * i64::from(c),
            client,
            sip_server,
            conn.next[0],
            0,
            RST,
            &[],
        )
        .unwrap();
    }
    // The call's 2 spoofed bytes in the window are held meanwhile.
    let held_segments = ((cfg.max_total_buffered_bytes as u64 - spoofed) / seg_len as u64)
        .min(u64::from(held_conns * per_conn));
    let capped_segments = u64::from(held_conns * per_conn) - held_segments;
    assert!(capped_segments > 0, "the flood passes the cap");

    // Endless streams without a message boundary, 16 MiB each: on 5060 a
    // request whose header lines never end, on 3868 a header claiming
    // 16 MiB and then bytes that never start a plausible one. Opened now,
    // streamed after the connection flood (so that their pages are still
    // resident when the connection table is at its largest: `analyze`
    // releases those read every 65 536 frames).
    let endless = 16 << 20;
    let mut sip_junk = b"OPTIONS sip:endless@198.19.0.20 SIP/2.0\r\n".to_vec();
    let mut k = 0;
    while sip_junk.len() < endless {
        sip_junk.extend_from_slice(format!("X-Filler-{k:07}: y\r\n").as_bytes());
        k += 1;
    }
    let mut sip_endless = Conn::open(
        &mut w,
        t0 + 2_000_000,
        s(198, 18, 203, 1, 43_001),
        sip_server,
    );
    let mut diameter_junk = vec![1, 0xff, 0xff, 0xfc, 0x80];
    diameter_junk.resize(endless, 0x5a);
    let mut diameter_endless = Conn::open(
        &mut w,
        t0 + 2_500_000,
        s(198, 18, 204, 1, 44_001),
        diameter_server,
    );

    // 70 000 new connections (SYN only, half to each port) while 5 are
    // tracked: the table fills to its cap, the rest are refused.
    let flood = 70_000u32;
    let open_before = 5;
    // The n-th flooding client and the server it calls (SIP or DIAMETER).
    let flooder = |n: u32| {
        let src = SocketAddrV4::new(
            Ipv4Addr::from(0xc612_8000 + (n >> 14)),
            1024 + (n & 0x3fff) as u16,
        );
        (
            src,
            if n.is_multiple_of(2) {
                sip_server
            } else {
                diameter_server
            },
        )
    };
    for n in 0..flood {
        let (src, dst) = flooder(n);
        w.write_tcp(t0 + 5_000_000 + 2 * i64::from(n), src, dst, n, 0, SYN, &[])
            .unwrap();
    }
    // The last ten refused SYNs sent again: the same connections, counted
    // once; their segments each.
    let resent = 10u32;
    for n in flood - resent..flood {
        let (src, dst) = flooder(n);
        w.write_tcp(t0 + 5_200_000 + i64::from(n), src, dst, n, 0, SYN, &[])
            .unwrap();
    }

    sip_endless.stream(&mut w, t0 + 6_000_000, 10, &sip_junk, 1460);
    diameter_endless.stream(&mut w, t0 + 6_500_000, 10, &diameter_junk, 1460);

    // The call goes on and ends; the connection closes.
    real.send(
        &mut w,
        t0 + 9_000_000,
        true,
        &msg("BYE sip:bob@198.19.0.20 SIP/2.0", "2 BYE", true),
    );
    real.send(
        &mut w,
        t0 + 9_010_000,
        false,
        &msg("SIP/2.0 200 OK", "2 BYE", true),
    );
    real.close(&mut w, t0 + 9_100_000);

    let segments = w.frames();
    let file = write_merged(&dir, "tcp.pcap", &calls, &w.finish().unwrap());
    let (records, peak) = analyze_measured(&file, &[]);
    let sm = summary(&records);
    let base = summary(&alone);
    let (l, held) = (b.len() as u64, u64::from(held));
    let refused = u64::from(flood) + open_before - cfg.max_connections as u64;
    assert_eq!(
        sm["tcp"],
        plus(
            &base["tcp"],
            &[
                ("segments", segments),
                (
                    "connections_opened",
                    cfg.max_connections as u64 + u64::from(held_conns)
                ),
                ("connections_refused", refused),
                ("refused_segments", refused + u64::from(resent)),
                ("connections_closed", 1 + u64::from(held_conns)),
                // The call's five messages, the three DWRs, each once, and
                // the OPTIONS the window's stream was followed to.
                ("pdus", 5 + 3 + 1),
                // The overlaps, the INVITE again.
                ("retransmitted_bytes", (20 + 20 + l) + invite.len() as u64),
                // The overlap, the spoof in the call's window, and what the
                // total cap let the byte flood hold.
                ("out_of_order_segments", 1 + 1 + held_segments),
                ("gaps", 1),
                ("gap_bytes", far_gap),
                (
                    "skipped_bytes",
                    sip_junk.len() as u64 + diameter_junk.len() as u64
                ),
                ("resyncs", 2),
                ("sip_keepalives", 1),
                ("sip_headers_too_long", 1),
                ("diameter_bad_header", 1),
                // The call's spoofed bytes at its close, the byte flood at
                // its RSTs.
                (
                    "dropped_bytes_at_close",
                    spoofed + held_segments * seg_len as u64
                ),
                // The spoof 1 GiB ahead of the call, the window's junk,
                // the followed run but its last.
                (
                    "out_of_window_segments",
                    1 + (held + 1) + u64::from(follow - 1)
                ),
                ("out_of_window_jumps", 1),
                ("dropped_memory_cap_segments", capped_segments),
                ("dropped_memory_cap_bytes", capped_segments * seg_len as u64),
            ]
        ),
        "{}",
        sm["tcp"]
    );
    // The DWRs were read once each.
    assert_eq!(
        sm["protocols"]["diameter"],
        base["protocols"]["diameter"].as_u64().unwrap() + 3
    );
    assert_eq!(
        sm["diameter"]["messages"],
        base["diameter"]["messages"].as_u64().unwrap() + 3
    );
    // The TCP call is there, whole, its messages each once.
    assert_eq!(
        sm["sip"]["requests"],
        plus(
            &base["sip"]["requests"],
            &[("INVITE", 1), ("ACK", 1), ("BYE", 1), ("OPTIONS", 1)]
        )
    );
    assert_eq!(
        sm["sip"]["responses"],
        plus(
            &base["sip"]["responses"],
            &[("200 INVITE", 1), ("200 BYE", 1)]
        )
    );
    let call = records
        .iter()
        .find(|r| r["call_id"] == call_id)
        .expect("the call over TCP");
    for (field, want) in [
        ("outcome", serde_json::json!("answered")),
        ("final_code", serde_json::json!(200)),
        ("ended_by", serde_json::json!("bye")),
        ("hangup_by", serde_json::json!("caller")),
        ("messages", serde_json::json!(5)),
        ("retransmissions", serde_json::json!(0)),
        ("setup_ms", serde_json::json!(199.0)),
        ("duration_s", serde_json::json!(7.8)),
    ] {
        assert_eq!(call[field], want, "{field}: {call}");
    }
    assert_calls_as_alone(&records, &alone, &|c| c["call_id"] == call_id);
    // Held at most: 1.5 KiB per tracked connection (its 352-byte entry in
    // a hash table kept at most 7/8 full and doubled as it grows, the
    // smaller tables it outgrew that the allocator has not handed back yet:
    // 1.4 to 1.5 KiB a connection measured from 8 192 to 65 536 of them),
    // and what all connections together may buffer: the total cap, not
    // the per-direction cap times the connections that carried data (305
    // of them here, 150 MiB), plus for each segment held out of order its
    // 40-byte slot and its allocation's header (64 bytes, rounded up).
    // Buffering the endless streams (32 MiB) would overflow it.
    let held_bytes = cfg.max_connections as u64 * 1536
        + cfg.max_total_buffered_bytes as u64
        + u64::from(held_conns * per_conn) * 64;
    assert_peak_within("tcp abuse", peak, alone_peak, &file, held_bytes);
    let _ = std::fs::remove_dir_all(&dir);
}

/// SCTP DATA chunk flags: B(eginning) and E(nding) of a user message.
const B: u8 = 0x02;
const E: u8 = 0x01;

/// A DATA chunk (RFC 9260 §3.3.1), padded to 4 bytes; PPID 46 (DIAMETER).
fn data_chunk(flags: u8, tsn: u32, stream: u16, user: &[u8]) -> Vec<u8> {
    let mut c = vec![0, flags];
    c.extend_from_slice(&u16::try_from(16 + user.len()).unwrap().to_be_bytes());
    c.extend_from_slice(&tsn.to_be_bytes());
    c.extend_from_slice(&stream.to_be_bytes());
    c.extend_from_slice(&[0, 0]);
    c.extend_from_slice(&46u32.to_be_bytes());
    c.extend_from_slice(user);
    while !c.len().is_multiple_of(4) {
        c.push(0);
    }
    c
}

#[test]
fn sctp_chunk_abuse_is_counted_and_diameter_over_sctp_is_still_decoded() {
    let dir = temp_dir("sctp-abuse");
    let calls = std::fs::read(project_dir().join("captures/calls.pcap")).unwrap();
    let (alone, alone_peak) = analyze_measured(&project_dir().join("captures/calls.pcap"), &[]);
    let cfg = voxprobe::packet::sctp::SctpConfig::default();
    let t0 = first_time_us(&calls);
    let server = SocketAddrV4::new(Ipv4Addr::new(198, 19, 0, 30), 3868);
    let peer = SocketAddrV4::new(Ipv4Addr::new(198, 18, 40, 1), 3868);
    let mut f = Frames::new();
    let mut packets = 0u64;
    // One DATA chunk per packet, from `peer` on association `vtag`.
    let mut send = |f: &mut Frames, t: i64, vtag: u32, chunk: &[u8]| {
        f.sctp(t, peer, server, vtag, chunk);
        packets += 1;
    };
    // What the hostile chunks carry: a DIAMETER header whose length (16 MiB)
    // lies, counted malformed wherever it is delivered.
    let mut lie = dwr(0xbad);
    lie[1..4].copy_from_slice(&[0xff, 0xff, 0xfc]);
    lie.truncate(20);

    // A real peer: a DWR in one chunk (TSN 100), another in two fragments.
    let real = 0x1001;
    send(&mut f, t0, real, &data_chunk(B | E, 100, 0, &dwr(1)));
    let second = dwr(2);
    let (head, tail) = second.split_at(24);
    send(&mut f, t0 + 100, real, &data_chunk(B, 101, 0, head));
    send(&mut f, t0 + 200, real, &data_chunk(E, 102, 0, tail));

    // Chunks whose length (3) is below a chunk header.
    let broken = 10u64;
    for i in 0..broken {
        send(&mut f, t0 + 10_000 + i as i64, 0x1008, &[0, B | E, 0, 3]);
    }

    // A message past the size cap (256 KiB): fragments of 60 000 bytes;
    // the fifth would make it 300 000, and the partial message is dropped.
    let big = vec![0x5au8; 60_000];
    let too_big = (cfg.max_message_bytes / big.len()) as u32 + 1;
    for tsn in 1..=too_big {
        let flags = if tsn == 1 { B } else { 0 };
        send(
            &mut f,
            t0 + 50_000 + i64::from(tsn),
            0x1002,
            &data_chunk(flags, tsn, 0, &big),
        );
    }

    // Partial messages past the byte cap (16 MiB): 600 first fragments of
    // 60 000 bytes on as many streams; 279 fit, the rest are dropped; the
    // held ones time out after 10 s.
    let first_fragments = 600u32;
    let fit = (cfg.max_total_bytes / big.len()) as u64;
    for i in 0..first_fragments {
        let chunk = data_chunk(B, 1 + i, i as u16, &big);
        send(&mut f, t0 + 100_000 + 100 * i64::from(i), 0x1003, &chunk);
    }

    // TSNs far out of the duplicate window, behind the highest seen (by
    // 1 000) and 2^31 ahead (as far behind, in serial arithmetic): each
    // counted, and delivered (better twice than lost).
    let far = 50u32;
    send(
        &mut f,
        t0 + 500_000,
        0x1004,
        &data_chunk(B | E, 5_000, 0, &lie),
    );
    for i in 0..far {
        let t = t0 + 500_100 + 10 * i64::from(i);
        send(&mut f, t, 0x1004, &data_chunk(B | E, 4_000 - i, 0, &lie));
        let ahead = 5_000u32.wrapping_add((1 << 31) + 10 + i);
        send(&mut f, t + 5, 0x1004, &data_chunk(B | E, ahead, 0, &lie));
    }

    // 100 TSNs, then all of them again: not delivered twice.
    let dups = 100u32;
    for round in 0..2 {
        for tsn in 1..=dups {
            let t = t0 + 600_000 + 10_000 * round + 10 * i64::from(tsn);
            send(&mut f, t, 0x1005, &data_chunk(B | E, tsn, 0, &lie));
        }
    }

    // 20 000 associations while 5 are tracked (the real one, the big
    // message's, the partials', the far TSNs', the duplicates'): the
    // duplicate table fills to its cap; chunks of the others are delivered
    // unchecked, counted.
    let associations = 20_000u32;
    let tracked_before = 5;
    for n in 0..associations {
        let chunk = data_chunk(B | E, 1, 0, &lie);
        send(
            &mut f,
            t0 + 1_000_000 + 10 * i64::from(n),
            0x2000_0000 + n,
            &chunk,
        );
    }
    // The real peer's first DWR again: its association was tracked before
    // the table filled, so the retransmission is caught.
    send(
        &mut f,
        t0 + 3_000_000,
        real,
        &data_chunk(B | E, 100, 0, &dwr(1)),
    );
    // A peer new after the table filled: its DWR and the retransmission of
    // it are both delivered.
    for k in 0..2 {
        send(
            &mut f,
            t0 + 3_100_000 + k,
            0x1006,
            &data_chunk(B | E, 1, 0, &dwr(3)),
        );
    }

    // Once the big partials have timed out: 1 500 first fragments on as
    // many streams of one (untracked) association, never completed. 1 024
    // are held, the rest refused; the held ones time out.
    let never = 1_500u32;
    assert!(t0 + 13_000_000 > t0 + 160_000 + cfg.partial_timeout_ns / 1_000 + 2_000_000);
    for i in 0..never {
        let chunk = data_chunk(B, 1 + i, i as u16, &[0x6b; 64]);
        send(&mut f, t0 + 13_000_000 + 100 * i64::from(i), 0x1007, &chunk);
    }

    let file = write_merged(&dir, "sctp.pcap", &calls, &f.finish());
    let (records, peak) = analyze_measured(&file, &[]);
    let s = summary(&records);
    let base = summary(&alone);
    let held_partials = cfg.max_partial_messages as u64;
    let untracked = u64::from(associations) - (cfg.max_associations as u64 - tracked_before);
    let delivered_lies = 1 + 2 * u64::from(far) + u64::from(dups) + u64::from(associations);
    let big_len = big.len() as u64;
    assert_eq!(
        s["sctp"],
        plus(
            &base["sctp"],
            &[
                ("packets", packets),
                ("malformed_packets", broken),
                ("data_chunks", packets - broken),
                // Four DWRs (one twice) and the lies.
                ("messages", 4 + delivered_lies),
                ("reassembled_messages", 1),
                ("duplicate_tsns", u64::from(dups) + 1),
                ("tsn_out_of_window", 2 * u64::from(far)),
                ("untracked_associations", untracked + 2 + u64::from(never)),
                (
                    "fragments",
                    2 + u64::from(too_big - 1) + fit + held_partials
                ),
                ("partials_refused", u64::from(never) - held_partials),
                ("total_bytes_exceeded", u64::from(first_fragments) - fit),
                ("message_too_big", 1),
                ("partials_timed_out", fit + held_partials),
                (
                    "partial_bytes_dropped",
                    u64::from(too_big - 1) * big_len + fit * big_len + held_partials * 64
                ),
            ]
        ),
        "{}",
        s["sctp"]
    );
    // The four DWRs decoded; each lie counted malformed (its frame too),
    // and so is each broken packet.
    assert_eq!(
        s["protocols"]["diameter"],
        base["protocols"]["diameter"].as_u64().unwrap() + 4
    );
    let d = &s["diameter"];
    assert_eq!(
        d["messages"],
        base["diameter"]["messages"].as_u64().unwrap() + 4
    );
    assert_eq!(
        d["malformed_by_reason"],
        plus(
            &base["diameter"]["malformed_by_reason"],
            &[("bad_length", delivered_lies)]
        )
    );
    assert_eq!(
        d["malformed"],
        base["diameter"]["malformed"].as_u64().unwrap() + delivered_lies
    );
    assert_eq!(
        s["packets"]["malformed"],
        plus(
            &base["packets"]["malformed"],
            &[("sctp", broken), ("diameter", delivered_lies)]
        )
    );
    assert_calls_as_alone(&records, &alone, &|_| false);
    // Held at most: the byte cap of partial messages, and 1 KiB per
    // association and per partial message tracked (a 96-byte entry in a
    // hash table, with its spare buckets, the tables it outgrew and the
    // allocator's commit granularity: 0.55 to 0.65 KiB an association
    // measured from 2 000 to 16 384 of them). Holding all 36 MB of the
    // first fragments instead of 16 MiB would overflow it.
    let held = cfg.max_total_bytes as u64
        + 1024 * (cfg.max_associations + cfg.max_partial_messages) as u64;
    assert_peak_within("sctp abuse", peak, alone_peak, &file, held);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn diameter_sip_and_rtcp_bombs_are_counted_and_the_calls_stay_whole() {
    let dir = temp_dir("bombs-tcp");
    let calls = std::fs::read(project_dir().join("captures/calls.pcap")).unwrap();
    let (alone, alone_peak) = analyze_measured(&project_dir().join("captures/calls.pcap"), &[]);
    let cfg = voxprobe::packet::tcp::TcpConfig::default();
    let t0 = first_time_us(&calls);
    let s = |a, b, c, d, port| SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), port);
    let mut w = PcapWriter::new(Vec::new()).unwrap();

    // DIAMETER over TCP, 20 messages of each kind: grouped AVPs
    // (Proxy-Info) nested 100 deep, past the walk's 8 levels; an AVP whose
    // length runs 64 KiB past the message; one whose length (4) is below
    // its own header; 4 stray bytes after the last AVP. Each message is
    // kept (its header is sound), its AVP error counted.
    let bombs = 20u64;
    let mut nested = avp(284, &[]);
    for _ in 1..100 {
        nested = avp(284, &nested);
    }
    let past_end = {
        let mut a = avp(263, b"sess;1;past-end");
        a.extend_from_slice(&[0, 0, 1, 0xbf, 0x40, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        a
    };
    let below_header = [0, 0, 1, 0xbf, 0x40, 0, 0, 4];
    let stray = [0, 0, 1, 0xbf];
    let mut diameter = Conn::open(
        &mut w,
        t0 + 1_000_000,
        s(198, 18, 220, 1, 45_001),
        s(198, 19, 0, 40, 3868),
    );
    let mut hop = 0;
    for tail in [&nested[..], &past_end, &below_header, &stray] {
        for _ in 0..bombs {
            hop += 1;
            let mut avps = diameter_origin();
            avps.extend_from_slice(tail);
            let t = t0 + 1_001_000 + 100 * hop as i64;
            diameter.send(&mut w, t, true, &diameter_request(272, hop, &avps));
        }
    }
    let diameter_bombs = 4 * bombs;

    // A 10 MiB "SIP message" over TCP, from two clients: an INVITE whose
    // Content-Length says 10 MiB follows (and 10 MiB of SDP-like lines do).
    let body_len = 10 << 20;
    let mut big = format!(
        "INVITE sip:big@198.19.0.40 SIP/2.0\r\nVia: SIP/2.0/TCP 198.18.220.2:46001;branch=z9hG4bKbig\r\n\
         From: <sip:big@198.18.220.2>;tag=1\r\nTo: <sip:big@198.19.0.40>\r\nCall-ID: big@flood\r\n\
         CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {body_len}\r\n\r\n"
    )
    .into_bytes();
    let head = big.len();
    while big.len() < head + body_len {
        big.extend_from_slice(b"a=rtpmap:0 PCMU/8000\r\n");
    }
    big.truncate(head + body_len - 2);
    big.extend_from_slice(b"\r\n");
    let big_bombs = 2u64;
    for k in 0..big_bombs {
        let t = t0 + 2_000_000 + 200_000 * k as i64;
        let client = s(198, 18, 220, 2, 46_001 + k as u16);
        let mut sip = Conn::open(&mut w, t, client, s(198, 19, 0, 40, 5060));
        sip.stream(&mut w, t + 1_000, 10, &big, 1460);
    }

    // RTCP compounds on the RTCP ports of a real call's stream while it
    // runs (192.0.2.10:40000 ↔ 198.51.100.20:50000, its SDP's): a receiver
    // report claiming 256 KiB; a sound one followed by an SDES claiming as
    // much.
    let rtcp_bombs = 25u64;
    let (caller, callee) = (s(192, 0, 2, 10, 40_001), s(198, 51, 100, 20, 50_001));
    let lying = [0x80, 201, 0xff, 0xff, 0x12, 0x34, 0x56, 0x78];
    let mut after_sound = vec![0x80, 201, 0, 1, 0x12, 0x34, 0x56, 0x78];
    after_sound.extend_from_slice(&[0x81, 202, 0xff, 0xff, 0x12, 0x34, 0x56, 0x78]);
    for i in 0..rtcp_bombs as i64 {
        let t = t0 + 2_500_000 + 20_000 * i;
        w.write_udp(t, caller, callee, &lying).unwrap();
        w.write_udp(t + 10_000, caller, callee, &after_sound)
            .unwrap();
    }

    let segments = w.frames() - 2 * rtcp_bombs;
    let file = write_merged(&dir, "bombs.pcap", &calls, &w.finish().unwrap());
    let (records, peak) = analyze_measured(&file, &[]);
    let sm = summary(&records);
    let base = summary(&alone);
    // The SIP messages are refused by their Content-Length, before any of
    // them is buffered; everything after their start is skipped looking
    // for the next message (none starts).
    assert_eq!(
        sm["tcp"],
        plus(
            &base["tcp"],
            &[
                ("segments", segments),
                ("connections_opened", 1 + big_bombs),
                ("pdus", diameter_bombs),
                ("sip_bad_content_length", big_bombs),
                ("resyncs", big_bombs),
                ("skipped_bytes", big_bombs * big.len() as u64),
            ]
        ),
        "{}",
        sm["tcp"]
    );
    assert_eq!(sm["sip"]["requests"], base["sip"]["requests"]);
    let d = &sm["diameter"];
    let bd = &base["diameter"];
    let more =
        |field: &str, n: u64| assert_eq!(d[field], bd[field].as_u64().unwrap() + n, "{field}: {d}");
    more("messages", diameter_bombs);
    more("malformed", 0);
    more("messages_with_avp_errors", diameter_bombs);
    more("avp_errors", diameter_bombs);
    more("depth_limit_hits", bombs);
    assert_eq!(
        d["avp_errors_by_reason"],
        plus(
            &bd["avp_errors_by_reason"],
            &[
                ("too_deep", bombs),
                ("avp_bad_length", 2 * bombs),
                ("avp_too_short", bombs)
            ]
        )
    );
    assert_eq!(
        sm["protocols"]["diameter"],
        base["protocols"]["diameter"].as_u64().unwrap() + diameter_bombs
    );
    // Each RTCP compound malformed, the sound report before the bad one
    // counted; the call's streams measured as when alone.
    assert_eq!(
        sm["rtcp"],
        plus(
            &base["rtcp"],
            &[
                ("malformed", 2 * rtcp_bombs),
                ("malformed_by_reason.bad_length", 2 * rtcp_bombs),
                ("packets.rr", rtcp_bombs),
            ]
        ),
        "{}",
        sm["rtcp"]
    );
    assert_eq!(
        sm["packets"]["malformed"],
        plus(&base["packets"]["malformed"], &[("rtcp", 2 * rtcp_bombs)])
    );
    assert_calls_as_alone(&records, &alone, &|_| false);
    // Held at most: the buffer cap of both directions of the three
    // connections. Buffering the SIP messages (20 MiB) would overflow it.
    let held = 3 * 2 * cfg.max_buffered_bytes as u64;
    assert_peak_within("protocol bombs", peak, alone_peak, &file, held);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn what_is_still_incomplete_when_the_capture_ends_is_reported_as_held() {
    // A capture that ends in the middle of things: three IP datagrams with
    // only their first fragment, and a TCP connection with out-of-order
    // bytes waiting for a hole, all in the last second (nothing times out).
    let dir = temp_dir("held-at-end");
    let calls = std::fs::read(project_dir().join("captures/calls.pcap")).unwrap();
    let end_us = records(&calls)
        .last()
        .map(|(s, us, _)| i64::from(*s) * 1_000_000 + i64::from(*us))
        .unwrap();
    let mut frames = Frames::new();
    let payload = udp_datagram(40_000, 5060, &[b'x'; 992]);
    for id in 1..=3 {
        fragment(
            &mut frames,
            end_us - 500_000 + i64::from(id),
            false,
            Frag::new(id, 0, true),
            &payload,
        );
    }
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    let client = SocketAddrV4::new(Ipv4Addr::new(198, 18, 201, 1), 40_002);
    let server = SocketAddrV4::new(Ipv4Addr::new(198, 19, 0, 20), 5060);
    let conn = Conn::open(&mut w, end_us - 400_000, client, server);
    conn.segment_at(
        &mut w,
        end_us - 300_000,
        true,
        conn.next[0] + 10,
        &[b'y'; 100],
    );
    let extra = merged(&frames.finish(), &w.finish().unwrap());
    let file = write_merged(&dir, "held.pcap", &calls, &extra);
    let records = analyze(&file, &[]);
    let held = &summary(&records)["held_at_end"];
    assert_eq!(held["ip_datagrams"], 3, "{held}");
    assert_eq!(held["ip_bytes"], 3 * payload.len() as u64, "{held}");
    assert_eq!(held["tcp_connections"], 1, "{held}");
    assert_eq!(held["tcp_bytes"], 100, "{held}");
    assert_eq!(held["sctp_messages"], 0, "{held}");
    // Not counted as dropped: the run ended first.
    assert_eq!(summary(&records)["reassembly"]["dropped_timeout"], 0);
    let alone = analyze(&project_dir().join("captures/calls.pcap"), &[]);
    assert!(summary(&alone)["held_at_end"]
        .as_object()
        .unwrap()
        .values()
        .all(|v| v == 0));
}
