//! libpcap: the fallback capture engine (`--engine pcap`, for interfaces or
//! kernels where the AF_PACKET ring cannot be used), and the compiler of
//! `--filter` expressions into the classic BPF programs both engines attach.
//! Built with the `libpcap` cargo feature (it links the system's libpcap).

use super::{Frame, LinkType};
use crate::time::PacketTime;
use std::time::Duration;

/// Why a libpcap capture could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// libpcap refused an operation on an interface.
    #[error("{interface}: {what}: {source}{hint}")]
    Interface {
        /// The interface.
        interface: String,
        /// The step that failed.
        what: &'static str,
        /// libpcap's error.
        source: pcap::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// The filter expression does not compile.
    #[error("--filter {expression:?}: {source}")]
    Filter {
        /// The expression.
        expression: String,
        /// libpcap's error.
        source: pcap::Error,
    },
}

/// Compiles a filter expression (tcpdump syntax) for a link type into the
/// classic BPF instructions the kernel runs on a socket.
///
/// # Errors
/// When the expression does not compile.
pub fn compile_filter(
    expression: &str,
    link: LinkType,
) -> Result<Vec<super::afpacket::BpfInstruction>, PcapError> {
    let failed = |source| PcapError::Filter {
        expression: expression.to_owned(),
        source,
    };
    let dead = pcap::Capture::dead_with_precision(
        pcap::Linktype(i32::try_from(link.number()).unwrap_or(1)),
        pcap::Precision::Micro,
    )
    .map_err(failed)?;
    let program = dead.compile(expression, true).map_err(failed)?;
    // libpcap prints each instruction as "code jt jf k".
    program
        .get_instructions()
        .iter()
        .map(|insn| {
            let text = insn.to_string();
            let mut fields = text.split(' ');
            let mut next = || fields.next().and_then(|f| f.parse::<u64>().ok());
            match (next(), next(), next(), next()) {
                (Some(code), Some(jt), Some(jf), Some(k)) => Ok(super::afpacket::BpfInstruction {
                    code: u16::try_from(code).unwrap_or(u16::MAX),
                    jt: u8::try_from(jt).unwrap_or(u8::MAX),
                    jf: u8::try_from(jf).unwrap_or(u8::MAX),
                    k: u32::try_from(k).unwrap_or(u32::MAX),
                }),
                _ => Err(failed(pcap::Error::PcapError(format!(
                    "unexpected instruction text {text:?}"
                )))),
            }
        })
        .collect()
}

/// How a libpcap capture is opened.
#[derive(Clone, Debug)]
pub struct PcapConfig {
    /// Promiscuous mode.
    pub promiscuous: bool,
    /// Bytes kept of each frame.
    pub snaplen: u32,
    /// The kernel buffer, bytes.
    pub buffer_bytes: u32,
    /// A filter expression, if any.
    pub filter: Option<String>,
}

/// One interface captured through libpcap.
pub struct PcapLive {
    capture: pcap::Capture<pcap::Active>,
    interface: String,
    link: LinkType,
    index: u32,
    frames: u64,
}

impl PcapLive {
    /// Opens `interface` (non-blocking; frames reach us within 100 ms).
    ///
    /// # Errors
    /// When libpcap cannot open or configure the interface.
    pub fn open(interface: &str, config: &PcapConfig) -> Result<PcapLive, PcapError> {
        let failed = |what: &'static str, hint: &'static str| {
            move |source| PcapError::Interface {
                interface: interface.to_owned(),
                what,
                source,
                hint,
            }
        };
        let capture = pcap::Capture::from_device(interface)
            .map_err(failed("finding the interface", " (see `ip link`)"))?
            .promisc(config.promiscuous)
            .snaplen(i32::try_from(config.snaplen).unwrap_or(65_535))
            .buffer_size(i32::try_from(config.buffer_bytes).unwrap_or(i32::MAX))
            // Not immediate mode: libpcap then uses a TPACKET_V3 ring whose
            // blocks pack frames by their size (in immediate mode every slot
            // is snap-length sized: a 64 MiB buffer held ~1000 frames and a
            // burst of 1471 lost 446). Blocks are handed over when full or
            // after this many ms.
            .timeout(100)
            .open()
            .map_err(failed(
                "opening it",
                " (it needs root or CAP_NET_RAW; CAP_NET_ADMIN for promiscuous mode)",
            ))?;
        // Non-blocking, waited for with poll(2): a blocking read on a quiet
        // link did not return at libpcap's timeout (it polls again), so it
        // would not hear a stop signal.
        let mut capture = capture
            .setnonblock()
            .map_err(failed("making it non-blocking", ""))?;
        if let Some(expression) = &config.filter {
            capture
                .filter(expression, true)
                .map_err(|source| PcapError::Filter {
                    expression: expression.clone(),
                    source,
                })?;
        }
        let link = LinkType::from_number(u32::try_from(capture.get_datalink().0).unwrap_or(0));
        Ok(PcapLive {
            capture,
            interface: interface.to_owned(),
            link,
            index: 0,
            frames: 0,
        })
    }

    /// Sets the interface index frames carry (its position on the command line).
    pub fn set_index(&mut self, index: u32) {
        self.index = index;
    }

    /// The interface.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Its link type.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Waits at most `timeout` until one of `captures` has frames.
    ///
    /// # Errors
    /// When poll(2) fails (but for an interruption by a signal).
    pub fn wait_any(captures: &[PcapLive], timeout: Duration) -> Result<(), PcapError> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let mut fds: Vec<PollFd<'_>> = captures
            .iter()
            .map(|c| PollFd::new(c.capture.as_fd(), PollFlags::POLLIN))
            .collect();
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
            Err(e) => Err(PcapError::Interface {
                interface: captures
                    .iter()
                    .map(|c| c.interface.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                what: "waiting for frames",
                source: pcap::Error::IoError(std::io::Error::from(e).kind()),
                hint: "",
            }),
        }
    }

    /// Hands the frames waiting (at most `limit`) to `on_frame`; returns
    /// how many came.
    ///
    /// # Errors
    /// When libpcap fails reading (the interface went away).
    pub fn next_frames(
        &mut self,
        limit: usize,
        on_frame: &mut dyn FnMut(&Frame<'_>),
    ) -> Result<usize, PcapError> {
        let mut n = 0;
        while n < limit {
            match self.capture.next_packet() {
                Ok(packet) => {
                    self.frames += 1;
                    let ts = packet.header.ts;
                    let nanos = u32::try_from(ts.tv_usec.clamp(0, 999_999) * 1000).unwrap_or(0);
                    let frame = Frame {
                        data: packet.data,
                        time: PacketTime::from_parts(ts.tv_sec, nanos),
                        orig_len: packet.header.len,
                        link: self.link,
                        interface: self.index,
                        number: self.frames,
                    };
                    on_frame(&frame);
                    n += 1;
                }
                Err(pcap::Error::TimeoutExpired) => break,
                Err(source) => {
                    return Err(PcapError::Interface {
                        interface: self.interface.clone(),
                        what: "reading",
                        source,
                        hint: "",
                    })
                }
            }
        }
        Ok(n)
    }

    /// The kernel's counters so far: received (what passed the filter),
    /// dropped for want of buffer room, dropped by the interface.
    ///
    /// # Errors
    /// When libpcap cannot read them.
    pub fn counters(&mut self) -> Result<(u64, u64, u64), PcapError> {
        let s = self
            .capture
            .stats()
            .map_err(|source| PcapError::Interface {
                interface: self.interface.clone(),
                what: "reading the kernel's counters",
                source,
                hint: "",
            })?;
        Ok((
            u64::from(s.received),
            u64::from(s.dropped),
            u64::from(s.if_dropped),
        ))
    }
}
