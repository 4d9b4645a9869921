//! FIB writer benchmark (issue 6): margay's batched writer against `ip -batch`, in the same
//! run, inside fresh network namespaces.
//!
//! - install and remove N routes (100 000 and 1 000 000 by default), margay vs `ip -batch`;
//! - a no-op resync of N routes (dump, diff, nothing to send);
//! - netlink messages sent when one remote node changes its underlay address, through the
//!   route decision and `set_all` (full diff) and through `update` (one change), for tables
//!   of 10 000 and 100 000 nodes: must not grow with the table.
//!
//! Targets: ≥ 200 000 routes/s installed and ≥ 2× `ip -batch`; no-op resync of 100 000 routes
//! ≤ 150 ms. Run (release):
//!
//! ```text
//! cargo run --release -p margay-bench --bin fib-bench -- [--runs 5] [--sizes 100000,1000000]
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use ipnetwork::IpNetwork;
use margay_daemon::fib::{
    Devices, FibChange, FibConfig, FibHandle, FibRoute, FibWriter, NextHop, Target,
};
use margay_daemon::routing::{
    BgpPath, DecisionInput, Encapsulation, LocalNode, Pool, RemoteNode, decide,
};
use margay_tests::{Netns, TestDir};

const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

struct Args {
    runs: usize,
    sizes: Vec<usize>,
    batch: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        runs: 5,
        sizes: vec![100_000, 1_000_000],
        batch: FibConfig::default().batch,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--runs" => args.runs = value.parse().with_context(|| format!("--runs {value:?}"))?,
            "--batch" => {
                args.batch = value
                    .parse()
                    .with_context(|| format!("--batch {value:?}"))?
            }
            "--sizes" => {
                args.sizes = value
                    .split(',')
                    .map(|s| s.parse().with_context(|| format!("--sizes: {s:?}")))
                    .collect::<Result<_>>()?
            }
            other => bail!("unknown flag {other:?} (known: --runs N, --sizes N[,N..], --batch N)"),
        }
    }
    ensure!(
        args.runs > 0 && args.batch > 0,
        "--runs and --batch must be positive"
    );
    Ok(args)
}

/// The i-th /32 of 100.64.0.0/10.
fn dst(i: usize) -> IpNetwork {
    let base = u32::from(Ipv4Addr::new(100, 64, 0, 0));
    IpNetwork::new(IpAddr::V4(Ipv4Addr::from(base + i as u32)), 32).expect("valid /32")
}

fn routes(n: usize) -> Vec<FibRoute> {
    let hop = NextHop {
        gateway: GATEWAY.into(),
        oif: None,
        onlink: false,
    };
    (0..n).map(|i| FibRoute::via(dst(i), vec![hop])).collect()
}

/// A host namespace with `eth0` 10.0.0.1/8 towards a peer.
fn host(tag: &str) -> (Netns, Netns) {
    let host = Netns::new(tag);
    let peer = Netns::new(&format!("{tag}p"));
    host.veth_to(&peer, "eth0", "eth0");
    host.addr_add("eth0", "10.0.0.1/8");
    peer.addr_add("eth0", "10.0.0.2/8");
    (host, peer)
}

fn config(batch: usize) -> FibConfig {
    FibConfig {
        batch,
        register_in: None,
        resync_interval: Duration::from_secs(3600),
        ..FibConfig::default()
    }
}

/// Waits until the writer has caught up with notifications (and any resync they caused).
async fn settle(fib: &FibHandle) -> Result<()> {
    loop {
        let stats = fib.stats().await?;
        if !stats.resync_pending {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

struct MargayRun {
    install: Duration,
    resync: Duration,
    remove: Duration,
    sends: usize,
}

fn margay_run(n: usize, batch: usize) -> Result<MargayRun> {
    let (ns, _peer) = host("fbm");
    let table = routes(n);
    ns.block_on(async move {
        let writer = FibWriter::start(config(batch)).await?;
        let fib = writer.handle.clone();
        fib.set_all(Vec::new()).await?;
        let t = Instant::now();
        let report = fib.set_all(table).await?;
        let install = t.elapsed();
        ensure!(
            report.created == n && report.failed.is_empty(),
            "install: {report:?}"
        );
        settle(&fib).await?;
        let t = Instant::now();
        let report = fib.resync().await?;
        let resync = t.elapsed();
        ensure!(
            report.messages == 0 && report.unchanged == n,
            "no-op resync sent something: {report:?}"
        );
        let t = Instant::now();
        let removed = fib.set_all(Vec::new()).await?;
        let remove = t.elapsed();
        ensure!(
            removed.deleted == n && removed.failed.is_empty(),
            "remove: {removed:?}"
        );
        settle(&fib).await?;
        Ok(MargayRun {
            install,
            resync,
            remove,
            sends: report_sends(n, batch),
        })
    })
}

fn report_sends(n: usize, batch: usize) -> usize {
    n.div_ceil(batch)
}

fn ip_batch_run(dir: &TestDir, n: usize) -> Result<(Duration, Duration)> {
    let (ns, _peer) = host("fbi");
    let add = dir.file(&format!("add-{n}.batch"));
    let del = dir.file(&format!("del-{n}.batch"));
    let mut add_text = String::with_capacity(n * 48);
    let mut del_text = String::with_capacity(n * 32);
    for i in 0..n {
        add_text.push_str(&format!("route add {} via {GATEWAY} proto 77\n", dst(i)));
        del_text.push_str(&format!("route del {}\n", dst(i)));
    }
    std::fs::write(&add, add_text)?;
    std::fs::write(&del, del_text)?;
    let run = |file: &std::path::Path| -> Result<Duration> {
        let t = Instant::now();
        let out = std::process::Command::new("ip")
            .args(["-n", ns.name(), "-batch"])
            .arg(file)
            .output()?;
        let elapsed = t.elapsed();
        ensure!(
            out.status.success(),
            "ip -batch failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(elapsed)
    };
    let install = run(&add)?;
    let remove = run(&del)?;
    Ok((install, remove))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Remote nodes in the one-node-change table (each owns one block, routed directly).
const NODES: usize = 1000;

/// One remote node changes its underlay address, in a table of `table` routes: 1000 nodes
/// on our subnet (one direct route each, a distinct gateway each) and the rest of the blocks
/// learned over BGP from the ToR (native routes). Messages through the decision and
/// `set_all` (full diff), and through `update` (the one change).
///
/// (Not 100 000 nodes with one gateway each: IPv4 `fib_info`s are hashed without the gateway,
/// so the kernel's insert time grows quadratically with distinct gateways on one device —
/// 10 000 of them take ~2 s to install, for `ip` as for us.)
fn one_node_change(table: usize, batch: usize) -> Result<(usize, usize, Duration)> {
    let (ns, _peer) = host("fbo");
    let eth0 = ns
        .ip("-o link show eth0")
        .split(':')
        .next()
        .and_then(|i| i.trim().parse().ok())
        .context("eth0 index")?;
    let underlay = |i: usize| {
        IpAddr::V4(Ipv4Addr::from(
            u32::from(Ipv4Addr::new(10, 1, 0, 0)) + i as u32,
        ))
    };
    let block = |i: usize| {
        let base = u32::from(Ipv4Addr::new(100, 64, 0, 0)) + (i as u32) * 16;
        IpNetwork::new(IpAddr::V4(Ipv4Addr::from(base)), 28).expect("valid /28")
    };
    let tor = BgpPath {
        next_hop: GATEWAY.into(),
        connected: true,
        peer: GATEWAY.into(),
    };
    let mut input = DecisionInput {
        local: LocalNode {
            name: "me".into(),
            underlay: "10.0.0.1/8".parse()?,
            blocks: vec![],
        },
        pools: vec![Pool {
            cidr: "100.64.0.0/10".parse()?,
            encapsulation: Encapsulation::Auto,
        }],
        nodes: (0..NODES)
            .map(|i| RemoteNode {
                name: format!("n{i}"),
                underlay: underlay(i),
                vtep: None,
                blocks: vec![block(i)],
            })
            .collect(),
        bgp: (NODES..table).map(|i| (block(i), vec![tor])).collect(),
    };
    let devices = Devices {
        uplink: Some(eth0),
        vxlan: 0,
    };
    let to_fib = |input: &DecisionInput| -> Vec<FibRoute> {
        decide(input)
            .routes
            .values()
            .map(|r| FibRoute::from_desired(r, devices))
            .collect()
    };
    let before = to_fib(&input);
    ensure!(
        before.len() == table,
        "decision gave {} routes, not {table}",
        before.len()
    );
    let moved = NODES / 2;
    input.nodes[moved].underlay = underlay(NODES + 7);
    let after = to_fib(&input);
    let changed = after
        .iter()
        .find(|r| r.dst == block(moved))
        .cloned()
        .context("changed route")?;
    ns.block_on(async move {
        let writer = FibWriter::start(config(batch)).await?;
        let fib = writer.handle.clone();
        let installed = fib.set_all(before).await?;
        ensure!(
            installed.created == table && installed.failed.is_empty(),
            "{installed:?}"
        );
        settle(&fib).await?;
        let t = Instant::now();
        let full = fib.set_all(after).await?;
        let full_time = t.elapsed();
        ensure!(
            full.replaced == 1 && full.unchanged == table - 1,
            "{full:?}"
        );
        let mut back = changed.clone();
        if let Target::Via(hops) = &mut back.target {
            hops[0].gateway = underlay(moved);
        }
        let one = fib.update(vec![FibChange::Upsert(back)]).await?;
        ensure!(one.replaced == 1, "{one:?}");
        Ok((full.messages, one.messages, full_time))
    })
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let dir = TestDir::new("fib-bench");
    println!(
        "fib-bench: runs {} (median reported), batch {} routes per send",
        args.runs, args.batch
    );
    for &n in &args.sizes {
        let (mut mi, mut mr, mut ms, mut ii, mut ir) = (vec![], vec![], vec![], vec![], vec![]);
        let mut sends = 0;
        for run in 0..args.runs {
            let m = margay_run(n, args.batch)
                .with_context(|| format!("margay run {run} with {n} routes"))?;
            let (i_add, i_del) = ip_batch_run(&dir, n)
                .with_context(|| format!("ip -batch run {run} with {n} routes"))?;
            eprintln!(
                "  run {run}: n={n} margay install {:?} remove {:?} resync {:?} | ip -batch install {:?} remove {:?}",
                m.install, m.remove, m.resync, i_add, i_del
            );
            sends = m.sends;
            mi.push(m.install);
            mr.push(m.remove);
            ms.push(m.resync);
            ii.push(i_add);
            ir.push(i_del);
        }
        let (mi, mr, ms, ii, ir) = (median(mi), median(mr), median(ms), median(ii), median(ir));
        println!("routes {n}:");
        println!(
            "  margay   install {:>8.1} ms  {:>9.0} routes/s   ({sends} sends)",
            mi.as_secs_f64() * 1e3,
            rate(n, mi)
        );
        println!(
            "  margay   remove  {:>8.1} ms  {:>9.0} routes/s",
            mr.as_secs_f64() * 1e3,
            rate(n, mr)
        );
        println!(
            "  ip -batch install {:>7.1} ms  {:>9.0} routes/s",
            ii.as_secs_f64() * 1e3,
            rate(n, ii)
        );
        println!(
            "  ip -batch remove  {:>7.1} ms  {:>9.0} routes/s",
            ir.as_secs_f64() * 1e3,
            rate(n, ir)
        );
        println!(
            "  speed-up install {:.2}x  remove {:.2}x",
            ii.as_secs_f64() / mi.as_secs_f64(),
            ir.as_secs_f64() / mr.as_secs_f64()
        );
        println!("  no-op resync {:>8.1} ms", ms.as_secs_f64() * 1e3);
    }
    for table in [10_000, 100_000] {
        let (full, one, full_time) = one_node_change(table, args.batch)?;
        println!(
            "one of {NODES} nodes changes underlay, table of {table} routes: set_all sends {full} messages (diff took {:.1} ms), update sends {one} (incl. 1 barrier each)",
            full_time.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
