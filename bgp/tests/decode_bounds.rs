//! Arbitrary bytes never make the decoder panic, and never make it allocate more than a
//! small multiple of the input: the memory a peer can make us hold is bounded by what it sent.
//!
//! Allocation is measured with a counting global allocator, which needs `unsafe` (the
//! `GlobalAlloc` trait is unsafe to implement); it forwards to the system allocator and does
//! nothing else. This file is its own test binary with a single test, so no other test's
//! allocations are counted.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use margay_bgp::wire::{self, SessionContext};
use proptest::prelude::*;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the GlobalAlloc
// contract; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout, forwarded.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes allocated at the peak of `f`, above what was allocated before it.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

/// A well-framed message of `kind` with an arbitrary body (so the body decoders run), or
/// plain arbitrary bytes.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let framed =
        (1u8..=5, proptest::collection::vec(any::<u8>(), 0..=4077)).prop_map(|(kind, body)| {
            let mut m = vec![0xff; 16];
            m.extend_from_slice(
                &u16::try_from(19 + body.len())
                    .unwrap_or(u16::MAX)
                    .to_be_bytes(),
            );
            m.push(kind);
            m.extend_from_slice(&body);
            m
        });
    prop_oneof![3 => framed, 1 => proptest::collection::vec(any::<u8>(), 0..=600)]
}

/// Allowed peak: a constant plus a multiple of the input (decoded values hold at most a
/// few pointers' worth per input octet).
fn budget(len: usize) -> usize {
    16 * 1024 + 64 * len
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_decode_without_panic_within_a_memory_budget(bits in any::<u8>(), bytes in input()) {
        let ctx = SessionContext::from_octet(bits);
        let len = bytes.len();
        let mut buf = BytesMut::from(&bytes[..]);
        let peak = peak_during(|| {
            while let Ok(Some(decoded)) = wire::decode_from(&mut buf, &ctx) {
                let (_message, verdict) = decoded.validate(&ctx);
                let _ = verdict.notification();
            }
            let _ = wire::decode(&bytes, &ctx);
        });
        prop_assert!(peak <= budget(len), "{peak} bytes allocated for {len} input bytes");
    }
}
