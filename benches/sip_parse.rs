//! SIP message parsing rate: `proto::sip::parse` plus the header helpers a
//! call record needs (Call-ID, From/To tags, CSeq, Via branch, Reason, ICID),
//! on real messages copied from the shared captures:
//!
//! - `sip/invite_volte`: `volte/volte-call-gx-rar-cbr-amrwb.pcapng` frame 42,
//!   a 2162-byte IMS INVITE with SDP (24 header fields);
//! - `sip/ok_sdp`: `sip-rtp/sip-rtp-g711a-rfc2833-dtmf.cap` frame 20, a
//!   200 OK with SDP;
//! - `sip/invite_small`: same capture, frame 16, an INVITE without body;
//! - `sip/response_480`: `sip-rtp/sip-register-invite-failures-aaa.pcap`
//!   frame 621, a 480 with a Q.850 Reason.
//!
//! `sip/parse_only_*` time `parse` alone.
//!
//! Throughput is in elements = messages. Run with `cargo bench --bench sip_parse`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use voxprobe::proto::sip;

const VOLTE_INVITE: &[u8] = include_bytes!("../tests/fixtures/sip/volte-invite.sip");
const DTMF_OK: &[u8] = include_bytes!("../tests/fixtures/sip/dtmf-200-ok.sip");
const DTMF_INVITE: &[u8] = include_bytes!("../tests/fixtures/sip/dtmf-invite.sip");
const AAA_480: &[u8] = include_bytes!("../tests/fixtures/sip/aaa-480.sip");

/// What a call record takes from one message: parse, then the helpers.
/// Returns a number depending on every result so nothing is optimised away.
fn digest(msg: &[u8]) -> usize {
    let Ok(m) = sip::parse(msg) else {
        return 0;
    };
    let h = &m.headers;
    let mut n = h.call_id.map_or(0, <[u8]>::len);
    fn tag(v: Option<&[u8]>) -> usize {
        v.and_then(sip::parse_name_addr)
            .and_then(|a| a.tag)
            .map_or(0, <[u8]>::len)
    }
    n += tag(h.from) + tag(h.to);
    n += m.cseq().map_or(0, |c| c.number as usize);
    n += h
        .via
        .and_then(sip::parse_via)
        .and_then(|v| v.branch)
        .map_or(0, <[u8]>::len);
    n += h
        .reason
        .and_then(|r| sip::parse_reason(r, Some("Q.850")))
        .and_then(|r| r.cause)
        .map_or(0, usize::from);
    n += h
        .p_charging_vector
        .and_then(sip::parse_icid)
        .map_or(0, <[u8]>::len);
    n + m.body.len()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sip");
    g.throughput(Throughput::Elements(1));
    for (name, msg) in [
        ("invite_volte", VOLTE_INVITE),
        ("ok_sdp", DTMF_OK),
        ("invite_small", DTMF_INVITE),
        ("response_480", AAA_480),
    ] {
        assert!(digest(msg) > 0, "{name} does not parse");
        g.bench_function(name, |b| b.iter(|| digest(black_box(msg))));
    }
    for (name, msg) in [
        ("parse_only_invite_volte", VOLTE_INVITE),
        ("parse_only_invite_small", DTMF_INVITE),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| sip::parse(black_box(msg)).map(|m| m.header_count))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
