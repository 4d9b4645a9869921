//! Smoke test of the bgperf tooling at a small scale (a few seconds): the feeder → monitor
//! ceiling, BIRD as route server, and BIRD reflecting for a handful of clients, each in
//! namespaces of its own. It checks the tooling works end to end, not how fast anything is
//! (speed is what `cargo run --release -p margay-bench --bin bgperf` reports).

use std::time::Duration;

use margay_bench::bgperf::RunOptions;
use margay_bench::bgperf::dut::Dut;
use margay_bench::bgperf::route_reflector::{self, ReflectorShape};
use margay_bench::bgperf::route_server::{self, Subject};
use margay_bench::bgperf::updates::FeedOrder;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

const OPTS: RunOptions = RunOptions {
    establish_timeout: Duration::from_secs(30),
    converge_timeout: Duration::from_secs(30),
    feed_order: FeedOrder::Sorted,
};

#[test]
fn ceiling_delivers_every_prefix_and_costs_no_daemon() {
    let sample = route_server::run(&runtime(), Subject::Ceiling, 5_000, &OPTS)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(sample.cost.is_none(), "{sample:?}");
    assert!(sample.convergence > Duration::ZERO, "{sample:?}");
}

#[test]
fn a_shuffled_feed_delivers_every_prefix() {
    let opts = RunOptions {
        feed_order: FeedOrder::Shuffled,
        ..OPTS
    };
    let sample = route_server::run(&runtime(), Subject::Daemon(Dut::Bird), 5_000, &opts)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(sample.convergence > Duration::ZERO, "{sample:?}");
}

#[test]
fn bird_route_server_passes_every_prefix_and_its_cost_is_read() {
    let sample = route_server::run(&runtime(), Subject::Daemon(Dut::Bird), 5_000, &OPTS)
        .unwrap_or_else(|e| panic!("{e}"));
    let cost = sample.cost.expect("a daemon has a cost");
    assert!(
        cost.peak_rss >= cost.baseline_rss && cost.baseline_rss > 0,
        "{cost:?}"
    );
}

#[test]
fn bird_reflects_every_clients_prefixes_to_all_others() {
    let shape = ReflectorShape {
        clients: 5,
        per_client: 4,
    };
    let sample =
        route_reflector::run(&runtime(), Dut::Bird, shape, &OPTS).unwrap_or_else(|e| panic!("{e}"));
    assert!(sample.cost.peak_rss > 0, "{sample:?}");
}
