//! Hostile traffic, generated: a churn of RTP-looking flows (hundreds of
//! thousands of one-packet "streams" and of short ones) must leave the
//! stream and probation tables at their caps, with what they refused
//! counted, and a real call in the same capture measured as if alone.

use crate::support::clickhouse::temp_dir;
use crate::support::project_dir;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;

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

fn analyze(file: &std::path::Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args(["analyze", "--format", "json", "-q"])
        .arg(file)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    crate::support::json_lines(&out.stdout)
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
        let strip = |v: &serde_json::Value| {
            let mut v = v.clone();
            for s in v.as_array_mut().into_iter().flatten() {
                if let Some(o) = s.as_object_mut() {
                    o.remove("file");
                    o.remove("first_frame");
                }
            }
            v
        };
        assert_eq!(strip(&got["streams"]), strip(&want["streams"]));
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

    let out = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args(["analyze", "--format", "json", "-q"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // The 4 GB record stops the reading, named by its offset (exit 3: read
    // in part); everything before it was analysed.
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("stopped at byte {claim_at}")),
        "{err}"
    );
    let records: Vec<serde_json::Value> = crate::support::json_lines(&out.stdout);
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
