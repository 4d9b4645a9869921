//! Data plane scenarios of issue 6 on namespaces: the route decision (inputs given as data, as
//! the node agent will feed it), applied by [`Dataplane`] (VTEP entries, then routes through
//! the FIB writer) on every node, with Pods pinging across.
//!
//! - one L2 subnet, three nodes: `cross-subnet` and `auto` route directly, the VTEP sends
//!   nothing;
//! - two subnets joined by a router without Pod routes: `vxlan`, `cross-subnet`, `auto` cross
//!   encapsulated (UDP 4789, VNI 4096 seen on the router), direct inside a subnet; `none` does
//!   not cross and says why;
//! - mode switches under a 10 ms ping in both directions lose nothing;
//! - a writer restart adopts routes and entries, sweeps stale ones, and restores a route
//!   deleted by hand.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use ipnetwork::IpNetwork;
use margay_daemon::fib::{FibConfig, FibWriter};
use margay_daemon::routing::{
    BgpPath, Dataplane, DataplaneReport, Decision, DecisionInput, Encapsulation, LocalNode, Pool,
    RemoteNode, VtepAddr, decide,
};
use margay_tests::{Lan, Netns, Pod, Process, TestDir, TwoLans, wait_until};
use margay_vxlan::{Mac, Vtep, VtepConfig};

const POOL: &str = "10.244.0.0/16";

/// One node of a scenario: its namespace, underlay address (with prefix length), block,
/// tunnel address and Pod.
struct NodeSpec {
    name: String,
    underlay: IpNetwork,
    block: IpNetwork,
    tunnel: IpAddr,
}

/// Node `i` of a scenario: block `10.244.<i>.0/26`, tunnel address `10.244.<i>.0`, a Pod at
/// `10.244.<i>.5`.
fn spec(i: usize, addr: std::net::Ipv4Addr, prefix: u8) -> NodeSpec {
    NodeSpec {
        name: format!("node-{i}"),
        underlay: IpNetwork::new(addr.into(), prefix).unwrap(),
        block: format!("10.244.{i}.0/26").parse().unwrap(),
        tunnel: format!("10.244.{i}.0").parse().unwrap(),
    }
}

fn pod_ip(i: usize) -> String {
    format!("10.244.{i}.5")
}

/// The decision input of node `me`: every other node, the pool in `mode`, and the BGP paths a
/// full iBGP mesh would give (next hop = the owner's underlay address, connected when it is on
/// our subnet).
fn input_for(specs: &[NodeSpec], me: usize, mode: Encapsulation) -> DecisionInput {
    let local = &specs[me];
    let others = specs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != me)
        .map(|(_, s)| s);
    let mut bgp = BTreeMap::new();
    let mut nodes = Vec::new();
    for s in others {
        let hop = s.underlay.ip();
        bgp.insert(
            s.block,
            vec![BgpPath {
                next_hop: hop,
                connected: local.underlay.contains(hop),
                peer: hop,
            }],
        );
        nodes.push(RemoteNode {
            name: s.name.clone(),
            underlay: hop,
            vtep: Some(VtepAddr {
                tunnel_ip: s.tunnel,
                mac: Mac::from_node_name(&s.name),
            }),
            blocks: vec![s.block],
        });
    }
    DecisionInput {
        local: LocalNode {
            name: local.name.clone(),
            underlay: local.underlay,
            blocks: vec![local.block],
        },
        pools: vec![Pool {
            cidr: POOL.parse().unwrap(),
            encapsulation: mode,
        }],
        nodes,
        bgp,
    }
}

type Reply = mpsc::Sender<Result<(Decision, DataplaneReport), String>>;

/// A stand-in for the node agent's data plane half: a thread inside the node's namespace
/// running the VTEP and the FIB writer, applying decisions on request.
struct Agent {
    tx: Option<tokio::sync::mpsc::UnboundedSender<(DecisionInput, Reply)>>,
    thread: Option<JoinHandle<()>>,
}

impl Agent {
    fn start(ns: &Netns, spec: &NodeSpec) -> Agent {
        let path = format!("/run/netns/{}", ns.name());
        let mut vtep_config = VtepConfig::for_node(&spec.name, spec.underlay.ip());
        vtep_config.tunnel_address = Some(spec.tunnel);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(DecisionInput, Reply)>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let thread = std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("opening {path}: {e}"));
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("entering {path}: {e}"));
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let started = async {
                    let handle = margay_vxlan::connect().map_err(|e| e.to_string())?;
                    let (vtep, _) = Vtep::ensure(handle, vtep_config)
                        .await
                        .map_err(|e| e.to_string())?;
                    let writer = FibWriter::start(FibConfig::default())
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok::<_, String>((vtep, writer))
                };
                let (vtep, FibWriter { handle, task }) = match started.await {
                    Ok(parts) => parts,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                let mut dataplane = Dataplane::new(vtep, handle);
                while let Some((input, reply)) = rx.recv().await {
                    let decision = decide(&input);
                    let result = dataplane
                        .apply(&decision)
                        .await
                        .map(|r| (decision, r))
                        .map_err(|e| e.to_string());
                    let _ = reply.send(result);
                }
                drop(dataplane);
                task.await
                    .expect("writer task")
                    .expect("writer stops cleanly");
            });
        });
        ready_rx
            .recv()
            .expect("agent thread")
            .unwrap_or_else(|e| panic!("agent for {} did not start: {e}", spec.name));
        Agent {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    fn apply(&self, input: DecisionInput) -> (Decision, DataplaneReport) {
        let (reply, answer) = mpsc::channel();
        self.tx
            .as_ref()
            .unwrap()
            .send((input, reply))
            .expect("agent alive");
        answer
            .recv()
            .expect("agent answers")
            .unwrap_or_else(|e| panic!("apply failed: {e}"))
    }

    /// Stops the writer (routes and entries stay in the kernel).
    fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.tx.take();
        let joined = self.thread.take().map(JoinHandle::join);
        if let Some(Err(panic)) = joined
            && !std::thread::panicking()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn apply_all(agents: &[Agent], specs: &[NodeSpec], mode: Encapsulation) -> Vec<Decision> {
    (0..agents.len())
        .map(|i| agents[i].apply(input_for(specs, i, mode)).0)
        .collect()
}

fn counter(ns: &Netns, dev: &str, name: &str) -> u64 {
    let path = format!("/sys/class/net/{dev}/statistics/{name}");
    ns.exec(&["cat", &path])
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn margay_routes(ns: &Netns) -> String {
    ns.routes("proto 77")
}

/// Nodes on one LAN, each with a Pod and a running agent. Fields drop in order: the agents
/// (threads inside the namespaces) first, the LAN last.
struct LanCluster {
    agents: Vec<Agent>,
    pods: Vec<Pod>,
    specs: Vec<NodeSpec>,
    lan: Lan,
}

impl LanCluster {
    fn new(tag: &str, n: usize) -> Self {
        let lan = Lan::new(tag, n, "10.0.0.0/24");
        let specs: Vec<NodeSpec> = (0..n).map(|i| spec(i, lan.addrs[i], 24)).collect();
        let pods = (0..n)
            .map(|i| Pod::new(&lan.hosts[i], &pod_ip(i)))
            .collect();
        let agents = (0..n)
            .map(|i| Agent::start(&lan.hosts[i], &specs[i]))
            .collect();
        LanCluster {
            agents,
            pods,
            specs,
            lan,
        }
    }
}

fn ping_ok(from: &Pod, to: &Pod) {
    if let Err(out) = from.ping(to.ip, 3) {
        panic!("{} cannot reach {}: {out}", from.ip, to.ip);
    }
}

#[test]
fn one_subnet_three_nodes_route_directly_and_the_vtep_stays_silent() {
    let LanCluster {
        lan,
        specs,
        pods,
        agents,
    } = LanCluster::new("dp1", 3);
    for mode in [Encapsulation::CrossSubnet, Encapsulation::Auto] {
        let decisions = apply_all(&agents, &specs, mode);
        for (i, d) in decisions.iter().enumerate() {
            for (j, s) in specs.iter().enumerate().filter(|(j, _)| *j != i) {
                assert_eq!(
                    d.routes[&s.block].reason.to_string(),
                    "same subnet",
                    "{mode}: node {i} → block of {j}"
                );
            }
        }
        let routes = margay_routes(&lan.hosts[0]);
        for want in [
            "blackhole 10.244.0.0/26",
            "10.244.1.0/26 via 10.0.0.11 dev eth0",
            "10.244.2.0/26 via 10.0.0.12 dev eth0",
        ] {
            assert!(
                routes.contains(want),
                "{mode}: missing {want:?} in\n{routes}"
            );
        }
        for (a, b) in [(0, 1), (1, 2), (2, 0)] {
            ping_ok(&pods[a], &pods[b]);
        }
        for host in &lan.hosts {
            assert_eq!(
                (
                    counter(host, "vxlan.margay", "tx_packets"),
                    counter(host, "vxlan.margay", "tx_bytes")
                ),
                (0, 0),
                "{mode}"
            );
        }
    }
}

/// Starts tcpdump on the router's leg towards LAN A and waits until it listens.
fn capture_vxlan(dir: &TestDir, router: &Netns) -> Process {
    let tcpdump = router.spawn(
        dir,
        "tcpdump",
        &["tcpdump", "-n", "-l", "-i", "eth0", "udp", "port", "4789"],
    );
    wait_until(Duration::from_secs(10), "tcpdump listening", || {
        let log = tcpdump.log();
        if log.contains("listening on eth0") {
            Ok(())
        } else {
            Err(log)
        }
    });
    tcpdump
}

#[test]
fn two_subnets_cross_encapsulated_except_in_mode_none() {
    let dir = TestDir::new("dp-two-subnets");
    let two = TwoLans::new("dp2", 2, "10.0.1.0/24", 1, "10.0.2.0/24");
    let hosts = [&two.a.hosts[0], &two.a.hosts[1], &two.b.hosts[0]];
    let specs = [
        spec(1, two.a.addrs[0], 24),
        spec(2, two.a.addrs[1], 24),
        spec(3, two.b.addrs[0], 24),
    ];
    let pods: Vec<Pod> = (0..3).map(|i| Pod::new(hosts[i], &pod_ip(i + 1))).collect();
    let agents: Vec<Agent> = (0..3).map(|i| Agent::start(hosts[i], &specs[i])).collect();
    let tcpdump = capture_vxlan(&dir, &two.router);
    let (a0, b0) = (hosts[0], hosts[2]);

    for mode in [
        Encapsulation::Vxlan,
        Encapsulation::CrossSubnet,
        Encapsulation::Auto,
    ] {
        let decisions = apply_all(&agents, &specs, mode);
        let routes = margay_routes(a0);
        assert!(
            routes.contains("10.244.3.0/26 via 10.244.3.0 dev vxlan.margay onlink"),
            "{mode}:\n{routes}"
        );
        let within = if mode == Encapsulation::Vxlan {
            "10.244.2.0/26 via 10.244.2.0 dev vxlan.margay onlink"
        } else {
            "10.244.2.0/26 via 10.0.1.11 dev eth0"
        };
        assert!(
            routes.contains(within),
            "{mode}: missing {within:?} in\n{routes}"
        );
        let why = decisions[0].routes[&specs[2].block].reason.to_string();
        assert!(why.starts_with("vxlan: "), "{mode}: {why}");

        let (tx_a, tx_b) = (
            counter(a0, "vxlan.margay", "tx_packets"),
            counter(b0, "vxlan.margay", "tx_packets"),
        );
        ping_ok(&pods[0], &pods[2]);
        ping_ok(&pods[2], &pods[1]);
        ping_ok(&pods[0], &pods[1]);
        assert!(
            counter(a0, "vxlan.margay", "tx_packets") >= tx_a + 3,
            "{mode}: node A sent no VXLAN packets"
        );
        assert!(
            counter(b0, "vxlan.margay", "tx_packets") >= tx_b + 6,
            "{mode}: node B sent no VXLAN packets"
        );
    }
    wait_until(
        Duration::from_secs(10),
        "VXLAN with VNI 4096 on the router's wire",
        || {
            let log = tcpdump.log();
            let hit = log.lines().any(|l| {
                l.contains("10.0.1.10.")
                    && l.contains("> 10.0.2.10.4789: VXLAN")
                    && l.contains("vni 4096")
            });
            if hit { Ok(()) } else { Err(log) }
        },
    );

    // none: the mesh's next hop for the other subnet is not connected; no route, and why.
    let decisions = apply_all(&agents, &specs, Encapsulation::None);
    assert_eq!(
        decisions[0].unrouted[&specs[2].block].to_string(),
        "none: BGP next hop 10.0.2.10 not directly connected"
    );
    assert!(decisions[0].vtep_peers.is_empty());
    let routes = margay_routes(a0);
    assert!(!routes.contains("10.244.3.0/26"), "{routes}");
    assert!(
        routes.contains("10.244.2.0/26 via 10.0.1.11"),
        "inside the subnet the mesh path is used:\n{routes}"
    );
    assert!(
        pods[0].ping(pods[2].ip, 1).is_err(),
        "none must not cross the router"
    );
    ping_ok(&pods[0], &pods[1]);
    let fdb = a0.exec(&["bridge", "fdb", "show", "dev", "vxlan.margay"]);
    assert!(
        !fdb.contains("dst"),
        "no VTEP entries without a VXLAN-capable pool: {fdb}"
    );
}

/// Packets received so far by a Pod.
fn received(pod: &Pod) -> u64 {
    counter(&pod.ns, "eth0", "rx_packets")
}

/// Starts `ping -i 0.01 -c count` from `from` to `to`.
fn fast_ping(dir: &TestDir, label: &str, from: &Pod, to: &Pod, count: u32) -> Process {
    from.ns.spawn(
        dir,
        label,
        &[
            "ping",
            "-n",
            "-q",
            "-i",
            "0.01",
            "-W",
            "1",
            "-c",
            &count.to_string(),
            &to.ip.to_string(),
        ],
    )
}

fn wait_finished(ping: &mut Process, count: u32) {
    wait_until(Duration::from_secs(60), "ping finished", || {
        if ping.is_running() {
            Err(ping.log_tail(3))
        } else {
            Ok(())
        }
    });
    let log = ping.log();
    let want = format!("{count} packets transmitted, {count} received");
    assert!(
        log.contains(&want),
        "{}: lost packets:\n{log}",
        ping.label()
    );
}

/// Waits until both Pods received `more` packets since the last call.
fn let_traffic_flow(pods: &[&Pod], more: u64, what: &str) {
    let start: Vec<u64> = pods.iter().map(|p| received(p)).collect();
    wait_until(Duration::from_secs(10), what, || {
        let now: Vec<u64> = pods.iter().map(|p| received(p)).collect();
        if now.iter().zip(&start).all(|(n, s)| *n >= s + more) {
            Ok(())
        } else {
            Err(format!("received {start:?} → {now:?}"))
        }
    });
}

#[test]
fn mode_switches_under_a_10ms_ping_lose_nothing() {
    use Encapsulation::*;
    let dir = TestDir::new("dp-switch");
    let LanCluster {
        lan,
        specs,
        pods,
        agents,
    } = LanCluster::new("dp3", 2);
    apply_all(&agents, &specs, Auto);
    ping_ok(&pods[0], &pods[1]);

    const COUNT: u32 = 1000;
    let mut there = fast_ping(&dir, "ping-0-to-1", &pods[0], &pods[1], COUNT);
    let mut back = fast_ping(&dir, "ping-1-to-0", &pods[1], &pods[0], COUNT);
    let both = [&pods[0], &pods[1]];
    let_traffic_flow(&both, 20, "pings running");
    // Every direction of every switch that keeps the Pods reachable.
    let switches = [Vxlan, Auto, Vxlan, CrossSubnet, Vxlan, Auto];
    for (step, mode) in switches.into_iter().enumerate() {
        assert!(
            there.is_running() && back.is_running(),
            "pings ended before switch {step} to {mode}; raise COUNT"
        );
        apply_all(&agents, &specs, mode);
        // Counted from after the switch: only VXLAN routes make the VTEP send.
        let base = counter(&lan.hosts[0], "vxlan.margay", "tx_packets");
        let_traffic_flow(&both, 30, &format!("traffic after switch {step} to {mode}"));
        let tx = counter(&lan.hosts[0], "vxlan.margay", "tx_packets");
        assert_eq!(
            tx > base,
            mode == Vxlan,
            "switch {step} to {mode}: VTEP tx {base} → {tx}"
        );
    }
    wait_finished(&mut there, COUNT);
    wait_finished(&mut back, COUNT);
}

#[test]
fn writer_restart_adopts_sweeps_and_restores() {
    let dir = TestDir::new("dp-restart");
    let LanCluster {
        lan,
        specs,
        pods,
        mut agents,
    } = LanCluster::new("dp4", 2);
    apply_all(&agents, &specs, Encapsulation::Vxlan);
    let host = &lan.hosts[0];
    let before = margay_routes(host);
    ping_ok(&pods[0], &pods[1]);

    const COUNT: u32 = 400;
    let mut ping = fast_ping(&dir, "ping-across-restart", &pods[0], &pods[1], COUNT);
    let_traffic_flow(&[&pods[0]], 20, "ping running");
    agents.remove(0).stop();
    assert_eq!(
        margay_routes(host),
        before,
        "stopping the writer leaves its routes"
    );
    // Left behind by an older incarnation: a route and the entries of a node that is gone.
    host.route_add("10.244.77.0/26 via 10.244.77.0 dev vxlan.margay onlink proto 77");
    host.ip("neigh add 10.244.77.0 lladdr 0e:00:00:00:00:77 dev vxlan.margay nud permanent");
    host.exec(&[
        "bridge",
        "fdb",
        "add",
        "0e:00:00:00:00:77",
        "dev",
        "vxlan.margay",
        "dst",
        "10.0.0.77",
        "self",
        "permanent",
    ]);

    let restarted = Agent::start(host, &specs[0]);
    let (_, report) = restarted.apply(input_for(&specs, 0, Encapsulation::Vxlan));
    let r = &report.routes;
    assert_eq!(
        (r.created, r.replaced, r.deleted, r.unchanged),
        (0, 0, 1, 2),
        "adopted, stale swept: {r:?}"
    );
    let e = &report.entries.entries;
    assert!(
        e.neigh_set.is_empty() && e.fdb_set.is_empty(),
        "entries adopted: {e:?}"
    );
    assert_eq!(
        (e.neigh_del.len(), e.fdb_del.len()),
        (1, 1),
        "stale entries swept: {e:?}"
    );
    assert_eq!(margay_routes(host), before);
    let_traffic_flow(&[&pods[0]], 20, "ping after restart");
    wait_finished(&mut ping, COUNT);

    host.ip("route del 10.244.1.0/26");
    wait_until(
        Duration::from_secs(5),
        "route deleted by hand restored",
        || {
            let routes = margay_routes(host);
            if routes == before {
                Ok(())
            } else {
                Err(routes)
            }
        },
    );
    ping_ok(&pods[0], &pods[1]);
}

#[test]
fn deleted_vtep_comes_back_with_its_entries_and_routes() {
    let LanCluster {
        lan,
        specs,
        pods,
        agents,
    } = LanCluster::new("dp5", 2);
    apply_all(&agents, &specs, Encapsulation::Vxlan);
    let host = &lan.hosts[0];
    let before = margay_routes(host);
    assert!(
        before.contains("10.244.1.0/26 via 10.244.1.0 dev vxlan.margay onlink"),
        "{before}"
    );
    ping_ok(&pods[0], &pods[1]);

    host.ip("link del vxlan.margay");
    assert!(
        !margay_routes(host).contains("vxlan.margay"),
        "the kernel drops the routes with the device"
    );
    let (_, report) = agents[0].apply(input_for(&specs, 0, Encapsulation::Vxlan));
    assert_eq!(report.entries.device, margay_vxlan::DeviceAction::Created);
    assert_eq!(
        (
            report.entries.entries.neigh_set.len(),
            report.entries.entries.fdb_set.len()
        ),
        (1, 1)
    );
    assert_eq!(
        margay_routes(host),
        before,
        "routes restored: {:?}",
        report.routes
    );
    ping_ok(&pods[0], &pods[1]);
}
