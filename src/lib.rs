//! voxprobe: a passive probe for voice over IP and VoLTE.
//!
//! Data flows one way: [`capture`] yields borrowed frames, [`packet`] decodes
//! them to transport payloads (reassembling where needed), [`proto`] parses
//! protocols from borrowed bytes, [`media`] measures RTP streams, and
//! [`analyze`] drives it all over capture files. See `DESIGN.md` in the
//! repository for the whole plan.

#![deny(missing_docs)]

pub mod analyze;
pub mod call;
pub mod capture;
pub mod config;
pub mod export;
pub mod extract;
#[cfg(target_os = "linux")]
pub mod live;
pub mod log;
pub mod media;
pub mod packet;
pub mod pipeline;
pub mod privacy;
pub mod process;
pub mod proto;
pub mod synth;
pub mod time;
