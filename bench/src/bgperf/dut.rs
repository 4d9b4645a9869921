//! The daemons under test and how each is configured for a benchmark shape: every neighbor
//! passive (our speakers connect), the BGP routes kept out of the kernel (only BGP is
//! measured), Graceful Restart understood (so the daemon ends its initial table with
//! End-of-RIB, RFC 4724 §2, which the monitors wait for before the clock starts), and each
//! neighbor either a route-server client (RFC 7947: routes passed on without the server's AS
//! or next hop) or a route-reflector client (RFC 4456).
//!
//! Adding a daemon is one [`Dut`] variant, its config writer and its [`RunningDut`] arm.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use margay_tests::{Bird, Frr, GoBgp, Netns, Process, TestDir, wait_until};

/// Hold time offered by the daemons under test, seconds.
const HOLD_TIME: u16 = 90;

/// A daemon under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Dut {
    /// margay's speaker on its own (`margay-bgp`, built next to this binary).
    Margay,
    /// BIRD 2 (`bird`).
    Bird,
    /// GoBGP (`gobgpd`).
    Gobgp,
    /// FRR (`zebra` + `bgpd`).
    Frr,
}

impl Dut {
    /// Every daemon under test, in table order.
    pub const ALL: [Dut; 4] = [Dut::Margay, Dut::Bird, Dut::Gobgp, Dut::Frr];

    /// The name in tables.
    pub fn label(self) -> &'static str {
        match self {
            Dut::Margay => "margay",
            Dut::Bird => "BIRD",
            Dut::Gobgp => "GoBGP",
            Dut::Frr => "FRR",
        }
    }

    /// The installed version: the last word of the first line of `--version` (which BIRD
    /// prints as "BIRD version 2.0.12", gobgpd and bgpd as "NAME version X.Y.Z", margay-bgp
    /// as "margay-bgp X.Y.Z").
    pub fn version(self) -> String {
        let margay = margay_bgp_path();
        let program = match self {
            Dut::Margay => margay.to_str().unwrap_or("margay-bgp"),
            Dut::Bird => "bird",
            Dut::Gobgp => "gobgpd",
            Dut::Frr => "/usr/lib/frr/bgpd",
        };
        match std::process::Command::new(program)
            .arg("--version")
            .output()
        {
            Ok(out) => {
                let text = [out.stdout, out.stderr].concat();
                String::from_utf8_lossy(&text)
                    .lines()
                    .next()
                    .and_then(|l| l.split_whitespace().last())
                    .map_or_else(|| "unknown".into(), str::to_owned)
            }
            Err(e) => format!("({program} not runnable: {e})"),
        }
    }

    /// Writes the config for `setup` and starts the daemon inside `ns`; returns once it
    /// answers its control interface.
    pub fn start(self, ns: &Netns, dir: &TestDir, setup: &DutSetup) -> RunningDut {
        match self {
            Dut::Margay => RunningDut::Margay(start_margay(ns, dir, setup)),
            Dut::Bird => RunningDut::Bird(Bird::start(ns, dir, "bird", &bird_config(setup))),
            Dut::Gobgp => RunningDut::Gobgp(GoBgp::start(ns, dir, "gobgpd", &gobgp_config(setup))),
            Dut::Frr => RunningDut::Frr(Frr::start(ns, dir, "frr", &frr_config(setup))),
        }
    }
}

/// How the daemon under test treats its neighbors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Route server: eBGP, every neighbor a route-server client.
    RouteServer,
    /// Route reflector: iBGP, every neighbor a route-reflector client.
    RouteReflector,
}

/// One neighbor of the daemon under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbor {
    pub address: Ipv4Addr,
    pub asn: u32,
}

/// Everything a config writer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DutSetup {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub role: Role,
    pub neighbors: Vec<Neighbor>,
}

/// A started daemon under test (its guards stop it on drop).
#[derive(Debug)]
pub enum RunningDut {
    Margay(Process),
    Bird(Bird),
    Gobgp(GoBgp),
    Frr(Frr),
}

impl RunningDut {
    /// The processes whose CPU time and memory are the daemon's cost.
    pub fn pids(&mut self) -> Vec<u32> {
        match self {
            RunningDut::Margay(p) => vec![p.pid()],
            RunningDut::Bird(b) => vec![b.process().pid()],
            RunningDut::Gobgp(g) => vec![g.process().pid()],
            RunningDut::Frr(f) => vec![f.bgpd().pid(), f.zebra().pid()],
        }
    }

    /// The last lines of the daemon's log, for error messages.
    pub fn log_tail(&mut self, lines: usize) -> String {
        match self {
            RunningDut::Margay(p) => p.log_tail(lines),
            RunningDut::Bird(b) => b.process().log_tail(lines),
            RunningDut::Gobgp(g) => g.process().log_tail(lines),
            RunningDut::Frr(f) => f.bgpd().log_tail(lines),
        }
    }
}

/// Where `margay-bgp` is: next to the running executable (cargo builds every binary of
/// margay-bench into the same directory).
fn margay_bgp_path() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("margay-bgp")))
        .unwrap_or_else(|| PathBuf::from("margay-bgp"))
}

/// margay's standalone speaker (`bench/src/bin/margay-bgp.rs`): every neighbor passive, IPv4
/// unicast, no kernel; `--role rs` is plain eBGP (margay prepends its AS and sets itself as
/// next hop: it is not a transparent RFC 7947 route server), `--role rr` makes every neighbor
/// a route-reflector client. Ready once it listens on port 179.
fn start_margay(ns: &Netns, dir: &TestDir, setup: &DutSetup) -> Process {
    let exe = margay_bgp_path();
    assert!(
        exe.exists(),
        "{} not found: build it with `cargo build --release -p margay-bench --bins`",
        exe.display()
    );
    let role = match setup.role {
        Role::RouteServer => "rs",
        Role::RouteReflector => "rr",
    };
    let mut argv: Vec<String> = vec![
        exe.to_string_lossy().into_owned(),
        "--asn".into(),
        setup.asn.to_string(),
        "--router-id".into(),
        setup.router_id.to_string(),
        "--listen".into(),
        "0.0.0.0".into(),
        "--role".into(),
        role.into(),
    ];
    for n in &setup.neighbors {
        argv.push("--neighbor".into());
        argv.push(format!("{}:{}", n.address, n.asn));
    }
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut process = ns.spawn(dir, "margay-bgp", &argv);
    wait_until(MARGAY_READY, "margay-bgp to listen on port 179", || {
        if !process.is_running() {
            return Err(format!("margay-bgp exited:\n{}", process.log_tail(20)));
        }
        match ns.try_exec(&["ss", "-Hltn", "sport = :179"]) {
            Ok(out) if !out.trim().is_empty() => Ok(()),
            other => Err(format!("no listener yet: {other:?}")),
        }
    });
    process
}

/// How long margay-bgp may take to listen.
const MARGAY_READY: Duration = Duration::from_secs(10);

/// BIRD 2: no kernel protocol (routes stay in BIRD), warnings only in the log.
fn bird_config(setup: &DutSetup) -> String {
    let client = match setup.role {
        Role::RouteServer => "rs client",
        Role::RouteReflector => "rr client",
    };
    let mut conf = format!(
        "log stderr all;\nrouter id {};\nprotocol device {{ scan time 10; }}\n\
template bgp client_t {{\n  local as {};\n  direct;\n  debug {{ states, events }};\n  passive on;\n  hold time {HOLD_TIME};\n  {client};\n  \
ipv4 {{ import all; export all; gateway direct; }};\n}}\n",
        setup.router_id, setup.asn
    );
    for (i, n) in setup.neighbors.iter().enumerate() {
        let _ = writeln!(
            conf,
            "protocol bgp n{i} from client_t {{ neighbor {} as {}; }}",
            n.address, n.asn
        );
    }
    conf
}

/// FRR: `bgp no-rib` keeps BGP routes out of zebra and the kernel; no advertisement interval.
fn frr_config(setup: &DutSetup) -> String {
    let client = match setup.role {
        Role::RouteServer => "route-server-client",
        Role::RouteReflector => "route-reflector-client",
    };
    let mut conf = format!(
        "frr defaults traditional\nhostname bgperf\nlog stdout warnings\nbgp no-rib\n\
router bgp {}\n bgp router-id {}\n no bgp ebgp-requires-policy\n no bgp network import-check\n",
        setup.asn, setup.router_id
    );
    for n in &setup.neighbors {
        let a = n.address;
        let _ = write!(
            conf,
            " neighbor {a} remote-as {}\n neighbor {a} passive\n neighbor {a} timers 30 {HOLD_TIME}\n \
neighbor {a} advertisement-interval 0\n",
            n.asn
        );
    }
    conf.push_str(" address-family ipv4 unicast\n");
    for n in &setup.neighbors {
        let _ = writeln!(conf, "  neighbor {} {client}", n.address);
    }
    conf.push_str(" exit-address-family\n");
    conf
}

/// GoBGP: no zebra, so nothing reaches the kernel; Graceful Restart on (BIRD and FRR are
/// helpers by default) so that it sends End-of-RIB.
fn gobgp_config(setup: &DutSetup) -> String {
    let mut conf = format!(
        "[global.config]\n  as = {}\n  router-id = \"{}\"\n",
        setup.asn, setup.router_id
    );
    for n in &setup.neighbors {
        let role = match setup.role {
            Role::RouteServer => {
                "  [neighbors.route-server.config]\n    route-server-client = true\n".to_owned()
            }
            Role::RouteReflector => format!(
                "  [neighbors.route-reflector.config]\n    route-reflector-client = true\n    \
route-reflector-cluster-id = \"{}\"\n",
                setup.router_id
            ),
        };
        let _ = write!(
            conf,
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    peer-as = {}\n  \
[neighbors.transport.config]\n    passive-mode = true\n  [neighbors.timers.config]\n    \
hold-time = {HOLD_TIME}\n    keepalive-interval = 30\n{role}  [neighbors.graceful-restart.config]\n    \
enabled = true\n    restart-time = 120\n  [[neighbors.afi-safis]]\n    \
[neighbors.afi-safis.config]\n      afi-safi-name = \"ipv4-unicast\"\n    \
[neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n",
            n.address, n.asn
        );
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(role: Role) -> DutSetup {
        DutSetup {
            asn: 65000,
            router_id: "10.0.0.2".parse().unwrap(),
            role,
            neighbors: vec![
                Neighbor {
                    address: "10.0.0.1".parse().unwrap(),
                    asn: 65001,
                },
                Neighbor {
                    address: "10.0.1.1".parse().unwrap(),
                    asn: 65002,
                },
            ],
        }
    }

    #[test]
    fn bird_route_server_has_a_passive_rs_client_per_neighbor_and_no_kernel_protocol() {
        let conf = bird_config(&setup(Role::RouteServer));
        assert!(conf.contains("rs client;"));
        assert!(conf.contains("passive on;"));
        assert!(conf.contains("protocol bgp n1 from client_t { neighbor 10.0.1.1 as 65002; }"));
        assert!(!conf.contains("kernel"));
    }

    #[test]
    fn frr_reflector_marks_every_neighbor_a_client_and_skips_the_rib() {
        let conf = frr_config(&setup(Role::RouteReflector));
        assert!(conf.contains("bgp no-rib\n"));
        assert!(conf.contains("  neighbor 10.0.0.1 route-reflector-client\n"));
        assert!(conf.contains("  neighbor 10.0.1.1 route-reflector-client\n"));
        assert!(conf.contains(" neighbor 10.0.1.1 passive\n"));
    }

    #[test]
    fn gobgp_route_server_neighbors_are_passive_clients() {
        let conf = gobgp_config(&setup(Role::RouteServer));
        assert_eq!(conf.matches("route-server-client = true").count(), 2);
        assert_eq!(conf.matches("passive-mode = true").count(), 2);
        assert!(conf.contains("peer-as = 65002"));
    }
}
