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

const VOLTE_INVITE: &[u8] = b"INVITE sip:0198765432100;phone-context=ims.mnc001.mcc001.3gppnetwork.org@ims.mnc001.mcc001.3gppnetwork.org;user=phone SIP/2.0\r\n\
Route: <sip:orig@scscf.ims.mnc001.mcc001.3gppnetwork.org:6060;lr>\r\n\
Record-Route: <sip:mo@10.4.128.21;r2=on;lr=on;ftag=401181971;rm=8;did=a78.1bf>\r\n\
Record-Route: <sip:mo@10.4.128.21;transport=tcp;r2=on;lr=on;ftag=401181971;rm=8;did=a78.1bf>\r\n\
From: <tel:0298765432100>;tag=401181971\r\n\
To: <sip:0198765432100;phone-context=ims.mnc001.mcc001.3gppnetwork.org@ims.mnc001.mcc001.3gppnetwork.org;user=phone>\r\n\
CSeq: 401181964 INVITE\r\n\
Call-ID: 401181964_495972856@192.168.101.3\r\n\
Via: SIP/2.0/UDP 10.4.128.21;branch=z9hG4bKdc9b.6e71f5c2099bf99d50b39959dd326117.0;i=1\r\n\
Via: SIP/2.0/TCP 192.168.101.3:5060;rport=40762;branch=z9hG4bK559617467\r\n\
Max-Forwards: 69\r\n\
Contact: <sip:192.168.101.3:5060;alias=192.168.101.3~40762~2>;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\";+g.3gpp.mid-call;+g.3gpp.srvcc-alerting;+g.3gpp.ps2cs-srvcc-orig-pre-alerting\r\n\
P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=001010001000019C\r\n\
Allow: INVITE,ACK,CANCEL,BYE,UPDATE,PRACK,MESSAGE,REFER,NOTIFY,INFO,OPTIONS\r\n\
Content-Type: application/sdp\r\n\
Accept: application/sdp,application/3gpp-ims+xml\r\n\
P-Preferred-Service: urn:urn-7:3gpp-service.ims.icsi.mmtel\r\n\
Accept-Contact: *;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\"\r\n\
Supported: timer,100rel,replaces,histinfo,tdialog\r\n\
P-Early-Media: supported\r\n\
Content-Length: 479\r\n\
Session-Expires: 1800;refresher=uac\r\n\
P-Charging-Vector: icid-value=4956537F000001BE6900001F00000000; icid-generated-at=10.4.128.21\r\n\
P-Asserted-Identity: <tel:0298765432100>\r\n\
P-Visited-Network-ID: ims.mnc001.mcc001.3gppnetwork.org\r\n\
\r\n\
v=0\r\n\
o=- 1079 1000 IN IP4 10.4.128.21\r\n\
s=QC VOIP\r\n\
c=IN IP4 10.4.128.21\r\n\
b=AS:41\r\n\
b=RS:600\r\n\
b=RR:2000\r\n\
t=0 0\r\n\
m=audio 31226 RTP/AVP 104 102 96 97\r\n\
b=AS:41\r\n\
b=RS:600\r\n\
b=RR:2000\r\n\
a=maxptime:240\r\n\
a=rtpmap:104 AMR-WB/16000/1\r\n\
a=rtpmap:102 AMR/8000/1\r\n\
a=rtpmap:96 telephone-event/16000\r\n\
a=rtpmap:97 telephone-event/8000\r\n\
a=fmtp:104 mode-change-capability=2;max-red=0\r\n\
a=fmtp:102 mode-change-capability=2;max-red=0\r\n\
a=fmtp:96 0-15\r\n\
a=fmtp:97 0-15\r\n\
a=sendrecv\r\n\
a=rtcp:31227\r\n\
a=ptime:20\r\n"
;
const DTMF_OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.168.105.105:5060;branch=z9hG4bK48df8586c6abf.1\r\n\
Via: SIP/2.0/UDP 192.168.105.110:5060;branch=z9hG4bK12840\r\n\
Record-Route: <sip:192.168.105.105:5060;lr>\r\n\
From: 2502 <sip:2502@192.168.105.105>;tag=26598\r\n\
To: <sip:2504@192.168.105.110:5060>;tag=12860\r\n\
Call-ID: 25672@192.168.105.110\r\n\
CSeq: 20 INVITE\r\n\
Contact: <sip:2504@192.168.105.110:5060;transport=udp>\r\n\
Supported: replaces\r\n\
User-Agent: SIP IP-DECT gateway, NEC Philips Unified Solutions  \r\n\
Allow: INVITE, ACK, CANCEL, BYE, REFER, OPTIONS, INFO\r\n\
Content-Type: application/sdp\r\n\
Accept: application/sdp\r\n\
Content-Length:   264\r\n\
\r\n\
v=0\r\n\
o=SIPDECT2504 4400 1459 IN IP4 192.168.105.110\r\n\
s=-\r\n\
c=IN IP4 192.168.105.110\r\n\
t=0 0\r\n\
m=audio 4376 RTP/AVP 8 0 18 96\r\n\
a=sendrecv\r\n\
a=ptime:30\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=rtpmap:96 telephone-event/8000\r\n\
a=fmtp:96 0-15\r\n";
const DTMF_INVITE: &[u8] = b"INVITE sip:2504@192.168.105.110:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.105.105:5060;branch=z9hG4bK48df8586c6abf.1\r\n\
Via: SIP/2.0/UDP 192.168.105.110:5060;branch=z9hG4bK12840\r\n\
From: 2502 <sip:2502@192.168.105.105>;tag=26598\r\n\
To: <sip:2504@192.168.105.110:5060>\r\n\
Call-ID: 25672@192.168.105.110\r\n\
CSeq: 20 INVITE\r\n\
Contact: <sip:2502@192.168.105.105:5060;transport=udp>\r\n\
Max-Forwards: 69\r\n\
Supported: replaces\r\n\
User-Agent: SIP IP-DECT gateway, NEC Philips Unified Solutions  \r\n\
Allow: INVITE, ACK, CANCEL, BYE, REFER, OPTIONS, INFO\r\n\
Accept: application/sdp\r\n\
Record-Route: <sip:192.168.105.105:5060;lr>\r\n\
Content-Length: 0\r\n\
\r\n";
const AAA_480: &[u8] = b"SIP/2.0 480 Error\r\n\
Allow: UPDATE,REFER\r\n\
Call-ID: 11894297-4432a9f8@192.168.1.2\r\n\
Contact: <sip:212.242.33.35:5060>\r\n\
CSeq: 2 INVITE\r\n\
From: \"arik\" <sip:35104723@sip.cybercity.dk>;tag=b56e6e\r\n\
Reason: q.850;cause=21\r\n\
Server: Cirpack/v4.38e (gw_sip)\r\n\
To: <sip:35104724@sip.cybercity.dk>;tag=00-04075-1701baa2-2dfdf7c21\r\n\
Via: SIP/2.0/UDP 192.168.1.2;received=80.230.219.70;rport=5060;branch=z9hG4bKnp10144774-4725f980192.168.1.2\r\n\
Content-Length: 0\r\n\
\r\n"
;

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
