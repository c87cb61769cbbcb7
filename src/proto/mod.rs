//! Protocol parsers: pure functions from bytes to borrowed views.
//!
//! Binary formats follow one contract (see `rtp`): `Packet::new_checked`
//! validates every length the getters rely on, after which no getter panics;
//! errors are small `Copy` values whose `reason()` is a stable label.

pub mod bytes;
pub mod diameter;
pub mod gtpv2;
pub mod rtcp;
pub mod rtp;
pub mod sdp;
pub mod sip;
pub mod websocket;
