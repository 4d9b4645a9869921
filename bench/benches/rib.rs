//! RIB ingest benchmark: N IPv4 /24 prefixes from one eBGP feeder into Adj-RIB-In + Loc-RIB,
//! exported to one eBGP monitor peer (Adj-RIB-Out + packed UPDATEs), for N = 100 000 and
//! 1 000 000. Pure RIB work: no sockets, no encoding of the output UPDATEs (the session
//! driver does that).
//!
//! Before the criterion timings, one build per N is measured for memory, two ways:
//! - live heap bytes by a counting global allocator (exact bytes requested, no allocator
//!   overhead), and
//! - the process RSS delta from `/proc/self/statm` (what the kernel charges, allocator
//!   overhead and fragmentation included).
//!
//! The feed is shaped like a bgperf feeder: UPDATEs of up to 4096 octets (~1000 /24s each),
//! every UPDATE with its own AS path (so ~1000 distinct attribute sets per million prefixes).
//!
//! Run: `cargo bench -p margay-bench --bench rib` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group};
use margay_bgp::rib::{PeerConfig, PeerId, PeerUp, Rib, RibConfig};
use margay_bgp::wire::{
    AfiSafi, AsPath, Attribute, Ipv4Nlri, Ipv4Prefix, Origin, PathAttribute, SessionContext, Update,
};

/// Counts live heap bytes; the only unsafe code is the `GlobalAlloc` forwarding to the
/// system allocator, which has no other way to be written.
mod counting {
    #![allow(unsafe_code)]

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub struct Counting;

    static LIVE: AtomicUsize = AtomicUsize::new(0);

    // SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
    // `System`'s guarantees carry over; the counter is only bookkeeping.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
            // SAFETY: forwarded as received.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            // SAFETY: forwarded as received.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
            // SAFETY: forwarded as received.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            // SAFETY: forwarded as received.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    pub fn live_bytes() -> usize {
        LIVE.load(Ordering::Relaxed)
    }
}

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

const LOCAL_AS: u32 = 64512;
const FEEDER_AS: u32 = 65001;
const MONITOR_AS: u32 = 65002;
/// /24s per UPDATE: 4 octets each, 1000 fit a 4096-octet message with the attributes.
const PER_UPDATE: usize = 1000;

/// How the fed /24s lie in the address space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Consecutive, as bgperf feeds them.
    Consecutive,
    /// Every eighth /24: no two share a run of the RIB's tables (`bgp/src/rib/runs.rs`), the
    /// worst case for their memory.
    Spread,
}

impl Layout {
    const SPACING_BITS: [u32; 2] = [8, 11];

    fn prefix(self, i: u32) -> Ipv4Prefix {
        let shift = Self::SPACING_BITS[self as usize];
        Ipv4Prefix::new(Ipv4Addr::from((1u32 << 24) + (i << shift)), 24).expect("/24")
    }
}

fn feed(n: usize, layout: Layout) -> Vec<Update> {
    let prefixes: Vec<Ipv4Prefix> = (0..n as u32).map(|i| layout.prefix(i)).collect();
    prefixes
        .chunks(PER_UPDATE)
        .enumerate()
        .map(|(i, chunk)| Update {
            withdrawn: Vec::new(),
            attributes: vec![
                PathAttribute::from(Attribute::Origin(Origin::Igp)),
                Attribute::AsPath(AsPath::sequence([FEEDER_AS, 100_000 + i as u32])).into(),
                Attribute::NextHop(Ipv4Addr::new(192, 0, 2, 1)).into(),
            ],
            nlri: chunk.iter().map(|p| Ipv4Nlri::new(*p)).collect(),
        })
        .collect()
}

fn up(rib: &mut Rib, addr: Ipv4Addr, asn: u32) -> PeerId {
    let id = rib
        .add_peer(PeerConfig::new(IpAddr::V4(addr), asn))
        .expect("peer");
    rib.peer_up(
        id,
        PeerUp {
            router_id: addr,
            local_address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 254)),
            context: SessionContext {
                four_octet_as: true,
                ..SessionContext::default()
            },
            families: vec![AfiSafi::IPV4_UNICAST],
        },
    )
    .expect("up");
    id
}

/// A RIB with the feeder (and the monitor, if asked) established.
fn rib(with_monitor: bool) -> (Rib, PeerId, Option<PeerId>) {
    let mut rib =
        Rib::new(RibConfig::new(LOCAL_AS, Ipv4Addr::new(192, 0, 2, 254))).expect("config");
    let feeder = up(&mut rib, Ipv4Addr::new(192, 0, 2, 1), FEEDER_AS);
    let monitor = with_monitor.then(|| up(&mut rib, Ipv4Addr::new(192, 0, 2, 2), MONITOR_AS));
    (rib, feeder, monitor)
}

/// Ingests the feed and works off the monitor's export; returns UPDATEs produced.
fn run(rib: &mut Rib, feeder: PeerId, monitor: Option<PeerId>, feed: &[Update]) -> usize {
    let mut sent = 0;
    for update in feed {
        rib.ingest(feeder, update).expect("ingest");
        if let Some(monitor) = monitor {
            sent += rib.poll_updates(monitor, PER_UPDATE).expect("up").len();
        }
        // The node agent's subscription, drained per input as the speaker loop does.
        sent += rib.drain_changes().len();
    }
    if let Some(monitor) = monitor {
        loop {
            let batch = rib.poll_updates(monitor, usize::MAX).expect("up");
            if batch.is_empty() {
                break;
            }
            sent += batch.len();
        }
    }
    sent
}

/// User + system CPU seconds of this process (`/proc/self/stat` utime + stime, 100 Hz
/// ticks): robust to other load on the machine, unlike wall time.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Environment variable that makes the bench binary measure one configuration and exit,
/// so that every RSS figure comes from a fresh process.
const MEASURE_ONE: &str = "MARGAY_RIB_BENCH_MEASURE";

fn measure(n: usize, with_monitor: bool, layout: Layout) {
    let updates = feed(n, layout);
    let (heap0, rss0) = (counting::live_bytes(), rss_bytes());
    let (mut rib, feeder, monitor) = rib(with_monitor);
    let (start, cpu0) = (Instant::now(), cpu_seconds());
    run(&mut rib, feeder, monitor, &updates);
    let (elapsed, cpu) = (start.elapsed(), cpu_seconds() - cpu0);
    let heap = counting::live_bytes().saturating_sub(heap0);
    let rss = rss_bytes().saturating_sub(rss0);
    let what = if with_monitor {
        "Adj-RIB-In + Loc-RIB + Adj-RIB-Out(monitor)"
    } else {
        "Adj-RIB-In + Loc-RIB"
    };
    println!(
        "rib memory n={n} {layout:?} [{what}]: heap {:.1} MB = {:.1} B/prefix, RSS delta {:.1} MB = {:.1} B/prefix, attribute sets {}, one run {:.3} s wall, {cpu:.2} s CPU",
        heap as f64 / 1e6,
        heap as f64 / n as f64,
        rss as f64 / 1e6,
        rss as f64 / n as f64,
        rib.attribute_sets(),
        elapsed.as_secs_f64(),
    );
    black_box(rib);
}

/// Runs every memory measurement in a child process of this binary.
fn report_memory() {
    let exe = std::env::current_exe().expect("own path");
    for (n, layout) in [
        (100_000usize, Layout::Consecutive),
        (1_000_000, Layout::Consecutive),
        (1_000_000, Layout::Spread),
    ] {
        for with_monitor in [false, true] {
            let status = std::process::Command::new(&exe)
                .env(MEASURE_ONE, format!("{n},{with_monitor},{layout:?}"))
                .status()
                .expect("spawn the measurement");
            assert!(
                status.success(),
                "measurement n={n} monitor={with_monitor} {layout:?}: {status}"
            );
        }
    }
}

fn ingest(c: &mut Criterion) {
    let mut group = c.benchmark_group("rib_ingest");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for n in [100_000, 1_000_000] {
        let updates = feed(n, Layout::Consecutive);
        group.throughput(criterion::Throughput::Elements(n as u64));
        group.bench_function(format!("{n}_prefixes_to_loc_rib"), |b| {
            b.iter_batched(
                || rib(false),
                |(mut rib, feeder, monitor)| {
                    black_box(run(&mut rib, feeder, monitor, &updates));
                    rib
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_function(format!("{n}_prefixes_to_monitor"), |b| {
            b.iter_batched(
                || rib(true),
                |(mut rib, feeder, monitor)| {
                    black_box(run(&mut rib, feeder, monitor, &updates));
                    rib
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, ingest);

fn main() {
    if let Ok(spec) = std::env::var(MEASURE_ONE) {
        let mut fields = spec.split(',');
        let mut field = || fields.next().expect("N,MONITOR,LAYOUT");
        let (n, with_monitor) = (field().parse().expect("N"), field() == "true");
        let layout = if field() == "Spread" {
            Layout::Spread
        } else {
            Layout::Consecutive
        };
        measure(n, with_monitor, layout);
        return;
    }
    report_memory();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
