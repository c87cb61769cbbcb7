//! The media path allocates nothing per packet: once a stream exists, a frame
//! going through decode, classification, RTP parsing and stream statistics
//! makes no heap allocation. Counted by the test binary's global allocator,
//! per thread, so other tests running at the same time do not interfere.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use voxprobe::analyze::{AnalyzeConfig, Analyzer};
use voxprobe::capture::file::FrameReader;
use voxprobe::synth::{generate, Scenario};

/// Counts allocations made by the current thread, then defers to the system allocator.
pub struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counter is a const-initialised thread-local
// `Cell` without a destructor, so touching it never allocates or re-enters.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn rtp_frames_of_known_streams_allocate_nothing() {
    let mut pcap = Vec::new();
    // 40 concurrent G.711 streams, light loss: the throughput benchmark's traffic.
    generate(Scenario::Throughput { packets: 40_000 }, 7, &mut pcap).unwrap();
    let frames: Vec<_> = FrameReader::new(Path::new("generated"), &pcap)
        .unwrap()
        .collect();
    let mut analyzer = Analyzer::new(&AnalyzeConfig::default());
    // Warm-up: every stream is created (and the tables have grown) in the
    // first quarter.
    let warm = frames.len() / 4;
    for f in &frames[..warm] {
        analyzer.handle_frame(f);
    }
    let before = allocations();
    // The counter works: creating 40 streams and growing the tables allocated.
    assert!(
        before > 40,
        "only {before} allocations counted during warm-up"
    );
    for f in &frames[warm..] {
        analyzer.handle_frame(f);
    }
    let per_frame = (allocations() - before) as f64 / (frames.len() - warm) as f64;
    assert_eq!(
        allocations() - before,
        0,
        "{} frames after warm-up made {per_frame:.3} allocations per frame",
        frames.len() - warm
    );
    let result = analyzer.finish("generated".into(), pcap.len() as u64, None);
    assert!(result.summary.protocols.rtp as usize >= frames.len() * 9 / 10);
}
