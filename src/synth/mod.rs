//! Synthetic captures with exact ground truth, reproducible by seed.
//!
//! [`generate`] writes a classic pcap (Ethernet/IPv4/UDP) of a named
//! [`Scenario`] and returns an [`ExpectedCapture`]: for every RTP stream, the
//! counts an analyser must report (packets, expected, lost, duplicates,
//! out-of-order, wraps, SSRC changes, loss runs, markers, events) computed from
//! what the generator *decided*, not by analysing its own output, plus jitter
//! by a documented definition ([`truth::JITTER_DEFINITION`]).
//!
//! Determinism: the only randomness is this module's own xoshiro256**
//! ([`rng`]), the only clock is the scenario's fixed start
//! ([`scenario::BASE_TIME_US`]), and packets are ordered by (arrival time,
//! source, decision order). The same scenario and seed give the same bytes on
//! every machine; `tests/generated.rs` checks the committed captures.
//!
//! Streaming: packets are decided per sender in send order and released in
//! arrival order through a small per-sender heap, so a 5-million-packet
//! capture never sits in memory (see [`source`]).
//!
//! ```
//! use voxprobe::synth::{generate, Scenario};
//! let mut pcap = Vec::new();
//! let truth = generate(Scenario::Impairments, 1, &mut pcap).unwrap();
//! assert_eq!(truth.streams.len(), 9); // 8 senders, one changes SSRC
//! assert!(pcap.len() < 300_000);
//! ```

mod calls;
pub mod pcap_writer;
pub mod rng;
pub mod scenario;
pub mod sip;
pub mod source;
pub mod truth;
pub mod volte;

pub use scenario::{generate, Scenario};
pub use truth::{DirectionCounts, ExpectedCall, ExpectedCapture, ExpectedStream};
pub use volte::ExpectedVolteCall;
