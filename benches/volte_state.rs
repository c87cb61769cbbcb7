//! The correlation stage on its own: signalling messages per second on one
//! core, and heap bytes per active call with every VoLTE leg.
//!
//! Generates the `volte-bulk` scenario in memory (`CALLS` calls, default
//! 100 000, seed 1: starts spread over 10 s, every answered call up from
//! about 13 s to 20.5 s of the capture, no media), decodes its frames once
//! (link, IP, TCP/SCTP reassembly: the decode stage, timed apart), then
//! times [`Analyzer::handle_datagram`] over every payload plus
//! [`Analyzer::finish`] (the joins). That is the stage DESIGN.md gives to the
//! correlator thread: SIP/DIAMETER/GTPv2-C parsing, dialogs, transactions,
//! subscribers, the correlator's indices and the message log for ladders.
//!
//! Memory is the heap in use (a counting global allocator), taken when the
//! most calls are active, minus the heap before the first message, divided
//! by the active calls; what the failed calls left behind is charged to the
//! active ones. The target is `<= 2048` bytes per call (issue 4).
//!
//! Run with `bash benches/volte.sh` (pins one core) or
//! `CALLS=100000 cargo bench --bench volte_state`.

use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;
use voxprobe::analyze::{AnalyzeConfig, Analyzer};
use voxprobe::capture::file::FrameReader;
use voxprobe::packet::{Datagram, Decoder, Endpoint, Observation, Transport, Verdict};
use voxprobe::synth::{generate, Scenario};
use voxprobe::time::PacketTime;

struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to mimalloc (the allocator of the `voxprobe`
// binary) unchanged and only counts the sizes it was asked for.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = IN_USE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(now, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { MiMalloc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: same contract as ours.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            let now =
                IN_USE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
            PEAK.fetch_max(now, Relaxed);
        } else {
            IN_USE.fetch_sub(layout.size() - new_size, Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A decoded payload kept for the timed pass (its bytes in one arena).
struct Payload {
    time: PacketTime,
    frame: u64,
    src: Endpoint,
    dst: Endpoint,
    transport: Transport,
    observation: Observation,
    sctp_ppid: u32,
    range: std::ops::Range<usize>,
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let calls: u64 = std::env::var("CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut pcap = Vec::new();
    generate(Scenario::VolteBulk { calls }, 1, &mut pcap).expect("generating into memory");
    println!(
        "capture: volte-bulk, {calls} calls, seed 1, {} MB in memory",
        pcap.len() / 1_000_000
    );

    // As `analyze` runs without `--ladder` and a live probe that exports each
    // message as it comes: no per-call copy of the messages. LADDERS=1 keeps
    // them, as `analyze --ladder` does.
    let mut config = AnalyzeConfig::default();
    config.calls.keep_ladders = std::env::var("LADDERS").is_ok_and(|v| v == "1");
    println!(
        "ladders (every message kept per call): {}",
        if config.calls.keep_ladders {
            "kept"
        } else {
            "not kept"
        }
    );
    let started = Instant::now();
    let mut decoder = Decoder::new(config.decoder.clone());
    let mut arena = Vec::new();
    let mut payloads = Vec::new();
    let reader = FrameReader::new(Path::new("volte-bulk"), &pcap).expect("own capture");
    let mut frames = 0u64;
    for frame in reader {
        frames += 1;
        decoder.decode(&frame, &mut |dg: &Datagram<'_>| {
            let start = arena.len();
            arena.extend_from_slice(dg.payload);
            payloads.push(Payload {
                time: dg.time,
                frame: dg.frame,
                src: dg.src,
                dst: dg.dst,
                transport: dg.transport,
                observation: dg.observation,
                sctp_ppid: dg.sctp_ppid,
                range: start..arena.len(),
            });
            Verdict::Ours
        });
    }
    let decode_secs = started.elapsed().as_secs_f64();
    drop(pcap);

    let baseline = IN_USE.load(Relaxed);
    let mut analyzer = Analyzer::new(&config);
    let mut most_active = 0usize;
    let mut heap_at_most_active = 0usize;
    let started = Instant::now();
    // ONLY_PORT=5060 (SIP), 3868 (DIAMETER) or 2123 (GTPv2-C) feeds one
    // protocol alone: how the state divides between them.
    let only: Option<u16> = std::env::var("ONLY_PORT").ok().and_then(|v| v.parse().ok());
    for (i, p) in payloads.iter().enumerate() {
        if only.is_some_and(|o| p.src.port != o && p.dst.port != o) {
            continue;
        }
        analyzer.handle_datagram(&Datagram {
            time: p.time,
            frame: p.frame,
            src: p.src,
            dst: p.dst,
            transport: p.transport,
            observation: p.observation,
            payload: arena.get(p.range.clone()).unwrap_or_default(),
            sctp_ppid: p.sctp_ppid,
        });
        if i % 1024 == 0 {
            let active = analyzer.active_calls();
            if active > most_active {
                most_active = active;
                heap_at_most_active = IN_USE.load(Relaxed);
            }
        }
    }
    let feed_secs = started.elapsed().as_secs_f64();
    let before_finish = IN_USE.load(Relaxed);
    let started = Instant::now();
    let analysis = analyzer.finish("volte-bulk".into(), 0, None);
    let finish_secs = started.elapsed().as_secs_f64();
    let stage_secs = feed_secs + finish_secs;

    let p = &analysis.summary.protocols;
    let messages = p.sip + p.diameter + p.gtpv2;
    let with_legs = analysis
        .calls
        .iter()
        .filter(|c| c.volte.as_ref().is_some_and(|v| v.ue.rx_leg.is_some()))
        .count();
    let state = heap_at_most_active.saturating_sub(baseline);
    let per_call = state as f64 / most_active.max(1) as f64;
    // Without SIP (ONLY_PORT=3868 or 2123) no call is ever active: the state
    // left at the end of the capture, per generated call, says what that
    // protocol keeps.
    let per_generated_call = before_finish.saturating_sub(baseline) as f64 / calls.max(1) as f64;
    println!(
        "frames: {frames}; payloads: {}; messages: {} SIP + {} DIAMETER + {} GTPv2-C = {messages}",
        payloads.len(),
        p.sip,
        p.diameter,
        p.gtpv2
    );
    println!(
        "calls: {} ({with_legs} with an Rx leg); most active at once: {most_active}",
        analysis.calls.len()
    );
    // Every generated call sends an AAR: a call without its Rx leg means
    // state was evicted, and the memory figure would flatter.
    if with_legs != analysis.calls.len() || analysis.calls.len() as u64 != calls {
        println!(
            "WARNING: not every call was joined to its legs; see the summary's volte counters"
        );
    }
    println!(
        "decode stage: {decode_secs:.3} s ({:.0} frames/s)",
        frames as f64 / decode_secs
    );
    println!("correlation stage: {feed_secs:.3} s messages + {finish_secs:.3} s joins at the end");
    println!(
        "heap: {:.1} MB of state with the most calls active; {:.1} MB before the joins; peak {:.1} MB (all figures minus the {:.1} MB of decoded payloads held by the bench)",
        state as f64 / 1e6,
        before_finish.saturating_sub(baseline) as f64 / 1e6,
        PEAK.load(Relaxed).saturating_sub(baseline) as f64 / 1e6,
        baseline as f64 / 1e6
    );
    println!();
    println!("{:<40} {:>12} {:>12}", "metric", "measured", "target");
    println!(
        "{:<40} {:>12.0} {:>12}",
        "signalling messages/s, one core",
        messages as f64 / stage_secs,
        ">= 500000"
    );
    if most_active > 0 {
        println!(
            "{:<40} {:>12.0} {:>12}",
            "heap bytes per active call", per_call, "<= 2048"
        );
    } else {
        println!(
            "{:<40} {:>12.0} {:>12}",
            "no SIP: heap bytes at the end per call", per_generated_call, "-"
        );
    }
}
