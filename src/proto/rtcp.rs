//! RTCP compound packets (RFC 3550 §6, RFC 3611 XR).
//!
//! STUB: to be written (helper C).

/// Whether a UDP payload plausibly starts an RTCP compound packet: version 2
/// and a first packet type of SR (200) or RR (201), as RFC 3550 §6.1 requires,
/// or any RTCP type 192–223 to be lenient with broken stacks.
pub fn looks_like_rtcp(payload: &[u8]) -> bool {
    payload.len() >= 8 && payload[0] >> 6 == 2 && (192..=223).contains(&payload[1])
}
