//! The daemons under test and how each is configured for a benchmark shape: every neighbor
//! passive (our speakers connect), the BGP routes kept out of the kernel (only BGP is
//! measured), Graceful Restart understood (so the daemon ends its initial table with
//! End-of-RIB, RFC 4724 §2, which the monitors wait for before the clock starts), and each
//! neighbor either a route-server client (RFC 7947: routes passed on without the server's AS
//! or next hop) or a route-reflector client (RFC 4456).
//!
//! Adding a daemon is one [`Dut`] variant, its config writer and its [`RunningDut`] arm; margay
//! joins here once its speaker exists.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use margay_tests::{Bird, Frr, GoBgp, Netns, TestDir};

/// Hold time offered by the daemons under test, seconds.
const HOLD_TIME: u16 = 90;

/// A daemon under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Dut {
    /// BIRD 2 (`bird`).
    Bird,
    /// GoBGP (`gobgpd`).
    Gobgp,
    /// FRR (`zebra` + `bgpd`).
    Frr,
}

impl Dut {
    /// Every daemon under test, in table order.
    pub const ALL: [Dut; 3] = [Dut::Bird, Dut::Gobgp, Dut::Frr];

    /// The name in tables.
    pub fn label(self) -> &'static str {
        match self {
            Dut::Bird => "BIRD",
            Dut::Gobgp => "GoBGP",
            Dut::Frr => "FRR",
        }
    }

    /// The installed version: the last word of the first line of `--version` (which BIRD
    /// prints as "BIRD version 2.0.12", gobgpd and bgpd as "NAME version X.Y.Z").
    pub fn version(self) -> String {
        let program = match self {
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
    Bird(Bird),
    Gobgp(GoBgp),
    Frr(Frr),
}

impl RunningDut {
    /// The processes whose CPU time and memory are the daemon's cost.
    pub fn pids(&mut self) -> Vec<u32> {
        match self {
            RunningDut::Bird(b) => vec![b.process().pid()],
            RunningDut::Gobgp(g) => vec![g.process().pid()],
            RunningDut::Frr(f) => vec![f.bgpd().pid(), f.zebra().pid()],
        }
    }

    /// The last lines of the daemon's log, for error messages.
    pub fn log_tail(&mut self, lines: usize) -> String {
        match self {
            RunningDut::Bird(b) => b.process().log_tail(lines),
            RunningDut::Gobgp(g) => g.process().log_tail(lines),
            RunningDut::Frr(f) => f.bgpd().log_tail(lines),
        }
    }
}

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
