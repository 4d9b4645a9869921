//! Topology builders: the shapes of DESIGN §8 built from namespaces, veth pairs and bridges.
//!
//! ```text
//!  Lan:      host0 ─┐                 TwoLans:  lan A ── router ── lan B
//!            host1 ─┼─ switch (br0)             (the router knows no Pod routes)
//!            host2 ─┘
//!  Racks:    rack r = hosts ── switch ── ToR r ──┐
//!                                                ├─ spine switch (ToRs route node subnets
//!            rack s = hosts ── switch ── ToR s ──┘   statically; BGP is the test's business)
//!  Pod:      pod ns (eth0 a.b.c.d/32, default via 169.254.1.1 = host veth MAC) ── veth ──
//!            host (route a.b.c.d/32 dev <veth>)
//! ```
//!
//! Every host's uplink is `eth0`; a router's legs are `eth0`, `eth1`, ...

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};

use ipnetwork::Ipv4Network;

use crate::netns::Netns;

/// The link-local gateway every Pod routes through (as in Calico).
pub const POD_GATEWAY: &str = "169.254.1.1";

fn parse_subnet(cidr: &str) -> Ipv4Network {
    cidr.parse()
        .unwrap_or_else(|e| panic!("topology: subnet {cidr:?} is not an IPv4 CIDR: {e}"))
}

fn nth(subnet: Ipv4Network, n: u32) -> Ipv4Addr {
    subnet
        .nth(n)
        .unwrap_or_else(|| panic!("topology: {subnet} has no address number {n}"))
}

/// Hosts on one L2 segment (a bridge inside a switch namespace).
#[derive(Debug)]
pub struct Lan {
    /// The hosts, each with `eth0` on the segment.
    pub hosts: Vec<Netns>,
    /// The hosts' addresses, in order.
    pub addrs: Vec<Ipv4Addr>,
    /// The subnet.
    pub subnet: Ipv4Network,
    /// The namespace holding the bridge `br0`.
    pub switch: Netns,
    ports: u32,
}

impl Lan {
    /// `n` hosts on `subnet`, host i at address number `10 + i` (e.g. 10.0.0.10, .11, ...).
    pub fn new(tag: &str, n: usize, subnet: &str) -> Self {
        let subnet = parse_subnet(subnet);
        let switch = Netns::new(&format!("{tag}sw"));
        switch.bridge_add("br0");
        let mut lan = Lan {
            hosts: Vec::new(),
            addrs: Vec::new(),
            subnet,
            switch,
            ports: 0,
        };
        for i in 0..n {
            let host = Netns::new(&format!("{tag}h{i}"));
            let addr = nth(subnet, 10 + i as u32);
            lan.attach(&host, "eth0", addr);
            lan.hosts.push(host);
            lan.addrs.push(addr);
        }
        lan
    }

    /// Connects `ns` to the segment through interface `ifname` with address `addr`.
    pub fn attach(&mut self, ns: &Netns, ifname: &str, addr: Ipv4Addr) {
        let port = format!("p{}", self.ports);
        self.ports += 1;
        self.switch.veth_to(ns, &port, ifname);
        self.switch.enslave(&port, "br0");
        ns.addr_add(ifname, &format!("{addr}/{}", self.subnet.prefix()));
    }

    /// Address number `n` of the subnet.
    pub fn addr(&self, n: u32) -> Ipv4Addr {
        nth(self.subnet, n)
    }
}

/// Two LANs joined by a router namespace that forwards between them and knows no Pod routes.
#[derive(Debug)]
pub struct TwoLans {
    /// The first LAN (router at address .254 on `eth0`).
    pub a: Lan,
    /// The second LAN (router at address .254 on `eth1`).
    pub b: Lan,
    /// The router.
    pub router: Netns,
}

impl TwoLans {
    /// `n_a` hosts on `subnet_a` and `n_b` on `subnet_b`; hosts route everything via the router.
    pub fn new(tag: &str, n_a: usize, subnet_a: &str, n_b: usize, subnet_b: &str) -> Self {
        let mut a = Lan::new(&format!("{tag}a"), n_a, subnet_a);
        let mut b = Lan::new(&format!("{tag}b"), n_b, subnet_b);
        let router = Netns::new(&format!("{tag}rt"));
        router.sysctl("net.ipv4.ip_forward", "1");
        let (gw_a, gw_b) = (a.addr(254), b.addr(254));
        a.attach(&router, "eth0", gw_a);
        b.attach(&router, "eth1", gw_b);
        for host in &a.hosts {
            host.route_add(&format!("default via {gw_a}"));
        }
        for host in &b.hosts {
            host.route_add(&format!("default via {gw_b}"));
        }
        TwoLans { a, b, router }
    }
}

/// One rack: hosts on a LAN behind a top-of-rack router.
#[derive(Debug)]
pub struct Rack {
    /// Hosts and their switch.
    pub lan: Lan,
    /// The top-of-rack router: `eth0` on the rack LAN (address .1), `eth1` on the spine.
    pub tor: Netns,
    /// The ToR's address on the rack LAN.
    pub tor_addr: Ipv4Addr,
    /// The ToR's address on the spine.
    pub spine_addr: Ipv4Addr,
}

/// Racks of hosts, each behind its own ToR router; the ToRs share a spine segment and route
/// the racks' subnets to each other with static routes (the underlay). Rack r's LAN is
/// `172.18.<r+1>.0/24` (ToR .1, hosts .10+), the spine `172.18.0.0/24` (ToR r at .<r+1>).
#[derive(Debug)]
pub struct Racks {
    /// The racks.
    pub racks: Vec<Rack>,
    /// The spine switch.
    pub spine: Lan,
}

impl Racks {
    /// `n_racks` racks of `hosts_per_rack` hosts.
    pub fn new(tag: &str, n_racks: usize, hosts_per_rack: usize) -> Self {
        let mut spine = Lan::new(&format!("{tag}sp"), 0, "172.18.0.0/24");
        let mut racks = Vec::new();
        for r in 0..n_racks {
            let mut lan = Lan::new(
                &format!("{tag}r{r}"),
                hosts_per_rack,
                &format!("172.18.{}.0/24", r + 1),
            );
            let tor = Netns::new(&format!("{tag}tor{r}"));
            tor.sysctl("net.ipv4.ip_forward", "1");
            let tor_addr = lan.addr(1);
            lan.attach(&tor, "eth0", tor_addr);
            let spine_addr = spine.addr(r as u32 + 1);
            spine.attach(&tor, "eth1", spine_addr);
            for host in &lan.hosts {
                host.route_add(&format!("default via {tor_addr}"));
            }
            racks.push(Rack {
                lan,
                tor,
                tor_addr,
                spine_addr,
            });
        }
        for (r, rack) in racks.iter().enumerate() {
            for (s, other) in racks.iter().enumerate() {
                if r != s {
                    rack.tor
                        .route_add(&format!("{} via {}", other.lan.subnet, other.spine_addr));
                }
            }
        }
        Racks { racks, spine }
    }
}

static POD_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A Pod: a namespace behind a veth to its host, with a /32 and a default route via the
/// link-local gateway 169.254.1.1 (the Calico way), bound to the host veth's MAC by a permanent
/// neighbour entry, so it works whether or not the host has the route proxy ARP would need.
/// Until the CNI plugin exists, this is how scenarios make Pods.
#[derive(Debug)]
pub struct Pod {
    /// The Pod's namespace (`eth0` inside).
    pub ns: Netns,
    /// The Pod's address.
    pub ip: Ipv4Addr,
    /// The host side of the veth, in the host namespace.
    pub host_if: String,
}

impl Pod {
    /// Creates a Pod with address `ip` on `host`, and the host's `/32` route to it.
    pub fn new(host: &Netns, ip: &str) -> Self {
        let ip: Ipv4Addr = ip
            .parse()
            .unwrap_or_else(|e| panic!("Pod: address {ip:?} is not IPv4: {e}"));
        let ns = Netns::new("pod");
        let host_if = format!("mgp{}", POD_COUNTER.fetch_add(1, Ordering::Relaxed));
        host.veth_to(&ns, &host_if, "eth0");
        ns.addr_add("eth0", &format!("{ip}/32"));
        ns.route_add(&format!("{POD_GATEWAY} dev eth0 scope link"));
        ns.route_add(&format!("default via {POD_GATEWAY} dev eth0"));
        let link = host.ip(&format!("-br link show {host_if}"));
        let host_mac = link
            .split_whitespace()
            .nth(2)
            .unwrap_or_else(|| panic!("no MAC in `ip -br link show {host_if}`: {link}"));
        ns.ip(&format!(
            "neigh replace {POD_GATEWAY} lladdr {host_mac} dev eth0 nud permanent"
        ));
        host.sysctl("net.ipv4.ip_forward", "1");
        host.route_add(&format!("{ip}/32 dev {host_if} scope link"));
        Pod { ns, ip, host_if }
    }

    /// Pings `dst` `count` times (0.2 s apart, 1 s deadline per reply); the ping output on
    /// failure.
    pub fn ping(&self, dst: Ipv4Addr, count: u32) -> Result<String, String> {
        self.ns
            .try_exec(&[
                "ping",
                "-n",
                "-q",
                "-c",
                &count.to_string(),
                "-i",
                "0.2",
                "-W",
                "1",
                &dst.to_string(),
            ])
            .map_err(|e| e.to_string())
    }
}
