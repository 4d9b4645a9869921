//! BGP wire codec throughput: decoding and encoding 4096-octet UPDATEs packed with IPv4 /24
//! NLRI, and with IPv6 /64 routes in MP_REACH_NLRI (RFC 4760). Throughput is reported per
//! route ("elem"), so ns per NLRI = 1e9 / (elem/s); the target for IPv4 decoding is ≤ 5 ns.
//!
//! Before criterion's wall-clock timings, each case is also timed in on-CPU nanoseconds of
//! the benchmark thread (`/proc/thread-self/schedstat`), which a loaded machine does not
//! inflate: the line `cpu: ... ns per route` on stderr.
//!
//! Run: `cargo bench -p margay-bench --bench bgp_codec` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use margay_bgp::wire::{
    self, AfiSafi, AsPath, Attribute, Ipv4Nlri, Ipv4Prefix, Ipv6Nlri, Ipv6Prefix, Message, MpNlri,
    MpReach, NextHop, Nlri, Origin, PathAttribute, PeerType, SessionContext, Update, nlri,
};

const MAX: usize = wire::MAX_MESSAGE_LEN;

fn ctx() -> SessionContext {
    SessionContext {
        four_octet_as: true,
        peer_type: PeerType::External,
        ..SessionContext::default()
    }
}

fn base_attributes() -> Vec<PathAttribute> {
    vec![
        Attribute::Origin(Origin::Igp).into(),
        Attribute::AsPath(AsPath::sequence([64512, 4_200_000_001])).into(),
    ]
}

/// An UPDATE of at most 4096 octets with as many consecutive /24s as fit.
fn ipv4_update() -> (Message, usize) {
    let mut update = Update {
        attributes: base_attributes(),
        ..Update::default()
    };
    update
        .attributes
        .push(Attribute::NextHop(Ipv4Addr::new(192, 0, 2, 1)).into());
    let fixed = Message::Update(update.clone())
        .to_bytes(&ctx())
        .expect("encodes")
        .len();
    let count = (MAX - fixed) / 4;
    update.nlri = (0..count)
        .map(|i| {
            let addr = Ipv4Addr::from(0x0a00_0000 + (u32::try_from(i).expect("small") << 8));
            Ipv4Nlri::new(Ipv4Prefix::new(addr, 24).expect("/24"))
        })
        .collect();
    (Message::Update(update), count)
}

/// An UPDATE of at most 4096 octets with as many /64s in MP_REACH_NLRI as fit.
fn ipv6_update() -> (Message, usize) {
    let reach = |nlri: Vec<Ipv6Nlri>| {
        let mut attributes = base_attributes();
        attributes.push(
            Attribute::MpReachNlri(MpReach {
                family: AfiSafi::IPV6_UNICAST,
                next_hop: NextHop::Ipv6 {
                    global: "2001:db8::1".parse().expect("addr"),
                    link_local: None,
                },
                nlri: MpNlri::Ipv6(nlri),
            })
            .into(),
        );
        Message::Update(Update {
            attributes,
            ..Update::default()
        })
    };
    let fixed = reach(Vec::new()).to_bytes(&ctx()).expect("encodes").len() + 1; // + Extended Length
    let count = (MAX - fixed) / 9;
    let nlri = (0..count)
        .map(|i| {
            let addr =
                Ipv6Addr::from(0x2001_0db8_0000_0000_0000_0000_0000_0000u128 + ((i as u128) << 64));
            Nlri::new(Ipv6Prefix::new(addr, 64).expect("/64"))
        })
        .collect();
    (reach(nlri), count)
}

/// On-CPU nanoseconds of this thread so far (first field of `/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs `f` for about a second of CPU and prints the on-CPU time per route.
fn cpu_time_per_route(label: &str, routes: usize, mut f: impl FnMut()) {
    let Some(start) = thread_cpu_ns() else {
        eprintln!("cpu: {label}: /proc/thread-self/schedstat not readable, skipped");
        return;
    };
    let mut iterations = 0u64;
    let mut now = start;
    while now - start < 1_000_000_000 {
        for _ in 0..100 {
            f();
        }
        iterations += 100;
        now = thread_cpu_ns().unwrap_or(u64::MAX);
    }
    let per_route = (now - start) as f64 / (iterations as f64 * routes as f64);
    eprintln!("cpu: {label}: {per_route:.2} ns per route ({iterations} runs)");
}

fn bench(c: &mut Criterion) {
    let ctx = ctx();
    for (name, (message, count)) in [
        ("ipv4_24", ipv4_update()),
        ("ipv6_64_mp_reach", ipv6_update()),
    ] {
        let bytes = message.to_bytes(&ctx).expect("encodes");
        assert!(
            bytes.len() <= MAX && bytes.len() > MAX - 16,
            "{name}: {} octets",
            bytes.len()
        );
        eprintln!("{name}: {} routes in a {}-octet UPDATE", count, bytes.len());
        cpu_time_per_route(&format!("update_{name}/decode"), count, || {
            black_box(wire::decode(black_box(&bytes), &ctx).expect("decodes"));
        });
        let mut scratch = BytesMut::with_capacity(MAX);
        cpu_time_per_route(&format!("update_{name}/encode"), count, || {
            scratch.clear();
            black_box(&message)
                .encode(&ctx, &mut scratch)
                .expect("encodes");
        });

        let mut group = c.benchmark_group(format!("update_{name}"));
        group.throughput(Throughput::Elements(u64::try_from(count).expect("small")));
        group.bench_function("decode", |b| {
            b.iter(|| wire::decode(black_box(&bytes), &ctx).expect("decodes"));
        });
        group.bench_function("decode_and_validate", |b| {
            b.iter(|| {
                wire::decode(black_box(&bytes), &ctx)
                    .expect("decodes")
                    .validate(&ctx)
            });
        });
        let mut out = BytesMut::with_capacity(MAX);
        group.bench_function("encode", |b| {
            b.iter(|| {
                out.clear();
                black_box(&message).encode(&ctx, &mut out).expect("encodes");
            });
        });
        group.finish();
    }

    // The NLRI field alone: the per-route cost without message overhead.
    let (Message::Update(u), count) = ipv4_update() else {
        unreachable!("an UPDATE")
    };
    let field = Message::Update(Update {
        nlri: u.nlri,
        ..Update::default()
    })
    .to_bytes(&ctx)
    .expect("encodes");
    let field = field.slice(23..);
    cpu_time_per_route("nlri_field_ipv4_24/decode", count, || {
        black_box(nlri::decode_ipv4(black_box(&field), false).expect("decodes"));
    });
    let mut group = c.benchmark_group("nlri_field_ipv4_24");
    group.throughput(Throughput::Elements(u64::try_from(count).expect("small")));
    group.bench_function("decode", |b| {
        b.iter(|| nlri::decode_ipv4(black_box(&field), false).expect("decodes"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
