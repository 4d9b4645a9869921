//! node-join (issue 7, item 5): how fast a new margay-node's block is routed everywhere, and
//! what an idle margay-node costs in memory.
//!
//! For each cluster size N: N − 1 margay-node processes in their own namespaces on one LAN
//! (one bridge, 10.0.0.0/24), etcd on the bridge, an IPPool (`auto`, /26 blocks), the default
//! full iBGP node mesh. Once every node routes every other node's block, a new node joins:
//! the clock starts just before its process is spawned and stops when its block (its
//! `blackhole` route) is in the kernel FIB of every other node. Each node's FIB is read
//! through one netlink socket per namespace, opened once (a dump of protocol-77 routes every
//! 5 ms, only of the nodes that have not shown the route yet). The LAN's ARP entries are
//! static (see [`static_arp`]: the kernel's neighbour table is shared by all namespaces and
//! would overflow at about 32 nodes). The joined node is then stopped
//! and deleted (`margayctl delete node`) and the cluster is N − 1 again before the next join.
//! After the joins, VmRSS and VmHWM of every idle node come from `/proc/PID/status`.
//!
//! Targets: ≤ 1 s to join at N = 50, ≤ 20 MB RSS per idle node. Run (release, as root):
//!
//! ```text
//! cargo build --release -p margay-daemon --bins -p margay-bench --bin node-join
//! target/release/node-join [--sizes 10,25,50] [--joins 3]
//! ```

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use ipnetwork::IpNetwork;
use margay_bench::bgperf::procstat::ProcSample;
use margay_bench::bgperf::report::median;
use margay_daemon::fib::codec::Owner;
use margay_daemon::fib::route::Target;
use margay_daemon::fib::transport::Transport;
use margay_daemon::fib::{FibError, PROTOCOL};
use margay_tests::{Etcd, Lan, MargayNode, Margayctl, Netns, NodeOptions, PodPool, TestDir};

/// The main routing table.
const MAIN_TABLE: u32 = 254;
/// Between two sweeps over the nodes' FIBs.
const POLL: Duration = Duration::from_millis(5);
/// etcd's address on the bridge (inside the switch namespace).
const ETCD_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const MIB: f64 = 1024.0 * 1024.0;

/// Node-join convergence and idle RSS of margay-node clusters on one LAN.
#[derive(Debug, Parser)]
#[command(name = "node-join", about)]
struct Args {
    /// Cluster sizes N (the cluster runs N − 1 nodes; the N-th joins).
    #[arg(long, value_delimiter = ',', default_value = "10,25,50")]
    sizes: Vec<usize>,
    /// Joins per size (the median is reported).
    #[arg(long, default_value_t = 3)]
    joins: usize,
    /// Seconds a cluster may take to settle, and a join to be routed everywhere.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// margay-node's log filter (debug logging of 50 nodes costs measurable CPU).
    #[arg(long, default_value = "warn")]
    log_level: String,
}

/// One netlink route socket inside each node's namespace.
struct Fibs {
    sockets: Vec<Transport>,
    owner: Owner,
}

impl Fibs {
    /// Opens a socket in each namespace (registered with the current runtime).
    fn open(hosts: &[Netns]) -> Result<Fibs> {
        let runtime = tokio::runtime::Handle::current();
        let sockets = hosts
            .iter()
            .map(|host| {
                host.run_in(|| {
                    let _entered = runtime.enter();
                    Transport::open(1)
                })
                .with_context(|| format!("netlink socket in {}", host.name()))
            })
            .collect::<Result<_>>()?;
        Ok(Fibs {
            sockets,
            owner: Owner {
                protocol: PROTOCOL,
                table: MAIN_TABLE,
                metric: 0,
            },
        })
    }

    /// The destinations of node `i`'s protocol-77 routes, and its own blocks (blackholes).
    async fn read(&mut self, i: usize) -> Result<(BTreeSet<IpNetwork>, BTreeSet<IpNetwork>)> {
        let routes = self.sockets[i]
            .dump(&self.owner)
            .await
            .map_err(|e: FibError| anyhow::anyhow!("route dump of node {i}: {e}"))?;
        let own = routes
            .iter()
            .filter(|k| matches!(&k.route, Some(r) if r.target == Target::Blackhole))
            .map(|k| k.dst)
            .collect();
        Ok((routes.into_iter().map(|k| k.dst).collect(), own))
    }

    /// Waits until every node in `nodes` routes every other one's blocks.
    async fn settled(&mut self, nodes: &[usize], timeout: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            let mut tables = Vec::new();
            for &i in nodes {
                tables.push(self.read(i).await?);
            }
            let missing: Vec<String> = nodes
                .iter()
                .zip(&tables)
                .filter_map(|(i, (routed, own))| {
                    let absent = tables
                        .iter()
                        .flat_map(|(_, other_own)| other_own)
                        .filter(|b| !own.contains(b) && !routed.contains(b))
                        .count();
                    (own.is_empty() || absent > 0)
                        .then(|| format!("node {i}: {} own, {absent} missing", own.len()))
                })
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!("cluster not settled after {timeout:?}: {missing:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// From `t0`, waits until node `new`'s block is in the FIB of every node of `others`;
    /// returns the time it reached the last one.
    async fn joined(
        &mut self,
        new: usize,
        others: &[usize],
        t0: Instant,
        timeout: Duration,
    ) -> Result<Join> {
        let mut block = None;
        let mut claimed = Duration::ZERO;
        let mut pending: Vec<usize> = others.to_vec();
        let mut last = Duration::ZERO;
        loop {
            if block.is_none() {
                block = self.read(new).await?.1.into_iter().next();
                claimed = t0.elapsed();
            }
            if let Some(b) = block {
                let mut still = Vec::new();
                for i in pending {
                    if self.read(i).await?.0.contains(&b) {
                        last = t0.elapsed();
                    } else {
                        still.push(i);
                    }
                }
                pending = still;
                if pending.is_empty() {
                    return Ok(Join {
                        block: b,
                        claimed,
                        routed: last,
                    });
                }
            }
            if t0.elapsed() > timeout {
                bail!(
                    "after {timeout:?}: new block {block:?}, not yet routed on nodes {pending:?}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until no node of `nodes` routes `block`.
    async fn gone(&mut self, block: IpNetwork, nodes: &[usize], timeout: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            let mut still = Vec::new();
            for &i in nodes {
                if self.read(i).await?.0.contains(&block) {
                    still.push(i);
                }
            }
            if still.is_empty() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!("{block} still routed on nodes {still:?} after {timeout:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// One join.
#[derive(Debug, Clone, Copy)]
struct Join {
    /// The new node's block.
    block: IpNetwork,
    /// From its start to its own `blackhole` route (registered, block claimed, FIB written).
    claimed: Duration,
    /// From its start to the block being routed on every other node.
    routed: Duration,
}

/// What one cluster size measured.
#[derive(Debug)]
struct SizeResult {
    n: usize,
    joins: Vec<Join>,
    rss: Vec<u64>,
    hwm: Vec<u64>,
}

/// The MAC address of `ifname` in `ns`.
fn mac(ns: &Netns, ifname: &str) -> Result<String> {
    let link = ns.ip(&format!("-br link show {ifname}"));
    link.split_whitespace()
        .nth(2)
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "no MAC in `ip -br link show {ifname}` of {}: {link}",
                ns.name()
            )
        })
}

/// Permanent neighbour entries between every host of the LAN and etcd (`ip -batch` per
/// namespace). The kernel's neighbour table is shared by all namespaces and its limit
/// (`gc_thresh3`, 1024 by default) is a root-namespace setting the harness never touches: a
/// 50-node full mesh would need about 2 500 ARP entries, and past the limit new ones fail
/// with ENOBUFS. Permanent entries are not counted against it.
fn static_arp(lan: &Lan, dir: &TestDir) -> Result<()> {
    let macs: Vec<String> = lan
        .hosts
        .iter()
        .map(|h| mac(h, "eth0"))
        .collect::<Result<_>>()?;
    let etcd_mac = mac(&lan.switch, "br0")?;
    let entry = |addr: Ipv4Addr, mac: &str, dev: &str| {
        format!("neigh replace {addr} lladdr {mac} dev {dev} nud permanent\n")
    };
    for (i, host) in lan.hosts.iter().enumerate() {
        let mut batch = entry(ETCD_ADDR, &etcd_mac, "eth0");
        for (j, (addr, mac)) in lan.addrs.iter().zip(&macs).enumerate() {
            if i != j {
                batch += &entry(*addr, mac, "eth0");
            }
        }
        let file = dir.write(&format!("neigh-{i}.batch"), &batch);
        host.ip(&format!("-batch {}", file.display()));
    }
    let batch: String = lan
        .addrs
        .iter()
        .zip(&macs)
        .map(|(addr, mac)| entry(*addr, mac, "br0"))
        .collect();
    let file = dir.write("neigh-switch.batch", &batch);
    lan.switch.ip(&format!("-batch {}", file.display()));
    Ok(())
}

fn node_name(i: usize) -> String {
    format!("node{i:02}")
}

fn measure(args: &Args, n: usize) -> Result<SizeResult> {
    ensure!(n >= 2, "a cluster size must be at least 2, got {n}");
    let timeout = Duration::from_secs(args.timeout);
    let dir = TestDir::new(&format!("nodejoin{n}"));
    let lan = Lan::new(&format!("nj{n}"), n - 1 + args.joins, "10.0.0.0/24");
    lan.switch.addr_add("br0", &format!("{ETCD_ADDR}/24"));
    static_arp(&lan, &dir)?;
    let etcd = Etcd::start_in(&dir, &lan.switch, IpAddr::V4(ETCD_ADDR));
    let endpoint = etcd.endpoint();
    let ctl = Margayctl::new(&lan.switch, &endpoint);
    ctl.apply(
        &dir,
        "pool.yaml",
        &PodPool::new("bench-pool", "10.244.0.0/16", 26).yaml("auto"),
    );
    let options = |i: usize| NodeOptions::new(&node_name(i), &endpoint).log_level(&args.log_level);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut fibs = runtime.block_on(async { Fibs::open(&lan.hosts) })?;
    let cluster: Vec<usize> = (0..n - 1).collect();
    let started = Instant::now();
    let mut nodes: Vec<MargayNode> = cluster
        .iter()
        .map(|&i| MargayNode::start(&lan.hosts[i], &dir, options(i)))
        .collect();
    runtime.block_on(fibs.settled(&cluster, timeout))?;
    eprintln!(
        "N={n}: {} nodes started and settled in {:.1} s",
        n - 1,
        started.elapsed().as_secs_f64()
    );

    let mut joins = Vec::new();
    for j in 0..args.joins {
        let new = n - 1 + j;
        let t0 = Instant::now();
        let (mut joiner, routed) = std::thread::scope(|scope| {
            let host = &lan.hosts[new];
            let (dir, opts) = (&dir, options(new));
            let start = scope.spawn(move || MargayNode::start(host, dir, opts));
            let routed = runtime.block_on(fibs.joined(new, &cluster, t0, timeout));
            let joiner = start
                .join()
                .map_err(|_| anyhow::anyhow!("starting {} panicked", node_name(new)));
            joiner.map(|node| (node, routed))
        })?;
        let join = routed?;
        eprintln!(
            "N={n}: join {}: {} claimed {} after {:.1} ms, routed on all {} others after {:.1} ms",
            j + 1,
            node_name(new),
            join.block,
            join.claimed.as_secs_f64() * 1e3,
            n - 1,
            join.routed.as_secs_f64() * 1e3
        );
        joins.push(join);
        joiner.sigterm_and_wait();
        ctl.ok(&["delete", "node", &node_name(new)]);
        runtime.block_on(fibs.gone(join.block, &cluster, timeout))?;
    }

    let (mut rss, mut hwm) = (Vec::new(), Vec::new());
    for node in &mut nodes {
        let pid = node
            .pid()
            .with_context(|| format!("{} is not running", node.name()))?;
        let sample = ProcSample::read(pid)?;
        rss.push(sample.rss);
        hwm.push(sample.peak_rss);
    }
    Ok(SizeResult { n, joins, rss, hwm })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn table(results: &[SizeResult]) -> String {
    let mut out = String::from(
        "| N | join → routed on all N−1 (median) | min – max | own block claimed (median) | \
         joins | idle VmRSS median | VmRSS max | VmHWM max |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        let routed: Vec<f64> = r.joins.iter().map(|j| millis(j.routed)).collect();
        let (min, max) = routed
            .iter()
            .fold((f64::MAX, 0.0_f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        out += &format!(
            "| {} | {:.0} ms | {min:.0} – {max:.0} ms | {:.0} ms | {} | {:.1} MiB | {:.1} MiB | \
             {:.1} MiB |\n",
            r.n,
            median(routed.iter().copied()).unwrap_or(f64::NAN),
            median(r.joins.iter().map(|j| millis(j.claimed))).unwrap_or(f64::NAN),
            routed.len(),
            median(r.rss.iter().map(|b| mib(*b))).unwrap_or(f64::NAN),
            mib(r.rss.iter().copied().max().unwrap_or(0)),
            mib(r.hwm.iter().copied().max().unwrap_or(0)),
        );
    }
    out
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.joins > 0, "--joins must be at least 1");
    ensure!(
        args.sizes.iter().all(|&n| n - 1 + args.joins <= 200),
        "--sizes: at most 200 hosts fit the LAN 10.0.0.0/24 (N − 1 + joins)"
    );
    let mut results = Vec::new();
    for &n in &args.sizes {
        results.push(measure(&args, n).with_context(|| format!("cluster size {n}"))?);
    }
    println!("{}", table(&results));
    let at_max = results.iter().max_by_key(|r| r.n);
    if let Some(r) = at_max {
        let join = median(r.joins.iter().map(|j| j.routed.as_secs_f64())).unwrap_or(f64::NAN);
        let rss = results
            .iter()
            .flat_map(|r| r.rss.iter().copied())
            .max()
            .unwrap_or(0);
        println!(
            "targets: join ≤ 1 s at N = 50: {:.3} s at N = {} ({}); idle RSS ≤ 20 MB per node: \
             max {:.1} MiB ({})",
            join,
            r.n,
            if join <= 1.0 { "met" } else { "not met" },
            mib(rss),
            if rss as f64 <= 20e6 { "met" } else { "not met" },
        );
    }
    Ok(())
}
