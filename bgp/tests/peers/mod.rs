//! Real BGP daemons as test peers of margay, shared by the interop test files: a link of two
//! namespaces (IPv4 and IPv6 addresses on both ends), and BIRD, FRR or GoBGP on the far end,
//! configured for a session with us and able to originate and withdraw prefixes.

#![allow(dead_code)] // each test file uses part of this

use std::net::IpAddr;
use std::time::Duration;

use margay_bgp::speaker::NeighborConfig;
use margay_bgp::transport::PeerTransport;
use margay_tests::{Bird, Frr, GoBgp, Netns, TestDir};

/// Deadline for things that must happen (sessions coming up, routes arriving).
pub const DEADLINE: Duration = Duration::from_secs(30);
/// Our BGP identifier and IPv4 address on the link.
pub const OUR_ID: &str = "10.0.0.1";
/// The peer's BGP identifier and IPv4 address on the link.
pub const PEER_ID: &str = "10.0.0.2";
/// Our IPv6 address on the link.
pub const OUR_V6: &str = "fd00::1";
/// The peer's IPv6 address on the link.
pub const PEER_V6: &str = "fd00::2";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Daemon {
    Bird,
    Frr,
    GoBgp,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Family {
    V4,
    V6,
}

/// Two namespaces on a veth, both with an IPv4 and an IPv6 address; the session runs over
/// the `transport` family's addresses.
pub struct Link {
    pub us: Netns,
    pub peer: Netns,
    pub us_addr: IpAddr,
    pub peer_addr: IpAddr,
}

pub fn link(tag: &str, transport: Family) -> Link {
    let us = Netns::new(&format!("{tag}us"));
    let peer = Netns::new(&format!("{tag}pe"));
    us.veth_to(&peer, "eth0", "eth0");
    us.addr_add("eth0", &format!("{OUR_ID}/24"));
    peer.addr_add("eth0", &format!("{PEER_ID}/24"));
    us.addr_add("eth0", &format!("{OUR_V6}/64"));
    peer.addr_add("eth0", &format!("{PEER_V6}/64"));
    let (a, b) = match transport {
        Family::V4 => (OUR_ID, PEER_ID),
        Family::V6 => (OUR_V6, PEER_V6),
    };
    Link {
        us,
        peer,
        us_addr: a.parse().unwrap(),
        peer_addr: b.parse().unwrap(),
    }
}

/// Our neighbor configuration for the link's peer: sessions from our link address, a 1 s
/// connect retry.
pub fn our_neighbor(link: &Link, peer_asn: u32) -> NeighborConfig {
    let mut neighbor = NeighborConfig::new(link.peer_addr, peer_asn);
    neighbor.transport = PeerTransport {
        local_addr: Some(link.us_addr),
        ..Default::default()
    };
    neighbor.connect_retry = Duration::from_secs(1);
    neighbor
}

/// What the peer daemon is told beyond the basics.
#[derive(Debug, Clone, Default)]
pub struct PeerOptions {
    pub passive: bool,
    pub password: Option<&'static str>,
    /// (keepalive, hold) in seconds.
    pub timers: Option<(u16, u16)>,
    /// Prefixes the peer originates from the start (IPv4 and IPv6).
    pub originate: Vec<&'static str>,
}

pub enum PeerDaemon {
    Bird(Bird, Vec<&'static str>),
    Frr(Frr, u32),
    GoBgp(GoBgp),
}

fn is_v6(prefix: &str) -> bool {
    prefix.contains(':')
}

impl PeerDaemon {
    pub fn start(
        daemon: Daemon,
        link: &Link,
        dir: &TestDir,
        peer_asn: u32,
        our_asn: u32,
        opts: &PeerOptions,
    ) -> Self {
        let (us, me) = (link.us_addr, link.peer_addr);
        match daemon {
            Daemon::Bird => {
                let mut extra = String::new();
                if opts.passive {
                    extra.push_str("passive on; ");
                }
                if let Some(key) = opts.password {
                    extra.push_str(&format!("password \"{key}\"; "));
                }
                if let Some((keepalive, hold)) = opts.timers {
                    extra.push_str(&format!("hold time {hold}; keepalive time {keepalive}; "));
                }
                // The other family's next hop, which the session's addresses cannot give.
                if us.is_ipv4() {
                    extra.push_str(&format!(
                        "ipv6 {{ import all; export all; next hop address {PEER_V6}; }}; "
                    ));
                } else {
                    extra.push_str(&format!(
                        "ipv4 {{ import all; export all; next hop address {PEER_ID}; }}; "
                    ));
                }
                let mut config = format!(
                    "{}protocol bgp margay from peer_t {{ local {me} as {peer_asn}; neighbor {us} as {our_asn}; {extra}}}\n",
                    Bird::base_config(PEER_ID)
                );
                for (i, prefix) in opts.originate.iter().enumerate() {
                    let channel = if is_v6(prefix) { "ipv6" } else { "ipv4" };
                    config.push_str(&format!(
                        "protocol static orig{i} {{ {channel}; route {prefix} blackhole; }}\n"
                    ));
                }
                PeerDaemon::Bird(
                    Bird::start(&link.peer, dir, "bird", &config),
                    opts.originate.clone(),
                )
            }
            Daemon::Frr => {
                let mut config = Frr::base_config(peer_asn, PEER_ID);
                config.push_str(&format!(
                    " neighbor {us} remote-as {our_asn}\n neighbor {us} timers connect 1\n"
                ));
                if opts.passive {
                    config.push_str(&format!(" neighbor {us} passive\n"));
                }
                if let Some(key) = opts.password {
                    config.push_str(&format!(" neighbor {us} password {key}\n"));
                }
                if let Some((keepalive, hold)) = opts.timers {
                    config.push_str(&format!(" neighbor {us} timers {keepalive} {hold}\n"));
                }
                config.push_str(" address-family ipv4 unicast\n");
                config.push_str(&format!("  neighbor {us} activate\n"));
                for prefix in opts.originate.iter().filter(|p| !is_v6(p)) {
                    config.push_str(&format!("  network {prefix}\n"));
                }
                config.push_str(" exit-address-family\n address-family ipv6 unicast\n");
                config.push_str(&format!("  neighbor {us} activate\n"));
                for prefix in opts.originate.iter().filter(|p| is_v6(p)) {
                    config.push_str(&format!("  network {prefix}\n"));
                }
                config.push_str(" exit-address-family\n");
                PeerDaemon::Frr(Frr::start(&link.peer, dir, "frr", &config), peer_asn)
            }
            Daemon::GoBgp => {
                let mut config = GoBgp::global(peer_asn, PEER_ID);
                config.push_str(&GoBgp::neighbor(&us.to_string(), our_asn, opts.passive));
                if let Some((keepalive, hold)) = opts.timers {
                    config = config
                        .replace("hold-time = 9", &format!("hold-time = {hold}"))
                        .replace(
                            "keepalive-interval = 3",
                            &format!("keepalive-interval = {keepalive}"),
                        );
                }
                let gobgp = GoBgp::start(&link.peer, dir, "gobgp", &config);
                for prefix in &opts.originate {
                    gobgp.announce(prefix);
                }
                PeerDaemon::GoBgp(gobgp)
            }
        }
    }

    /// Their view of the session with us: `Ok` when Established.
    pub fn established(&self, us: IpAddr) -> Result<(), String> {
        let state = match self {
            PeerDaemon::Bird(bird, _) => bird.protocol("margay").map(|p| p.info),
            PeerDaemon::Frr(frr, _) => frr.neighbor_state(&us.to_string()),
            PeerDaemon::GoBgp(gobgp) => gobgp.neighbor_state(&us.to_string()),
        };
        match state {
            Some(s) if s.eq_ignore_ascii_case("established") || s.starts_with("Established") => {
                Ok(())
            }
            other => Err(format!("peer daemon sees {other:?}")),
        }
    }

    /// Whether the peer holds `prefix` learned from us (`via` our address).
    pub fn has_route(&self, prefix: &str) -> bool {
        let family = if is_v6(prefix) { "ipv6" } else { "ipv4" };
        match self {
            PeerDaemon::Bird(bird, _) => bird
                .routes_for(prefix)
                .iter()
                .any(|r| r.protocol == "margay"),
            PeerDaemon::Frr(frr, _) => frr.prefixes(family).iter().any(|p| p == prefix),
            PeerDaemon::GoBgp(gobgp) => gobgp.prefixes(family).iter().any(|p| p == prefix),
        }
    }

    /// Stops originating `prefix` (one of `PeerOptions::originate`).
    pub fn withdraw(&self, prefix: &str) {
        match self {
            PeerDaemon::Bird(bird, originate) => {
                let i = originate
                    .iter()
                    .position(|p| *p == prefix)
                    .expect("an originated prefix");
                bird.birdc(&format!("disable orig{i}")).unwrap();
            }
            PeerDaemon::Frr(frr, asn) => {
                let family = if is_v6(prefix) { "ipv6" } else { "ipv4" };
                let router = format!("router bgp {asn}");
                let af = format!("address-family {family} unicast");
                let no_network = format!("no network {prefix}");
                frr.configure(&[&router, &af, &no_network]).unwrap();
            }
            PeerDaemon::GoBgp(gobgp) => gobgp.withdraw(prefix),
        }
    }

    /// The peer's log, for failure messages.
    pub fn describe(&self) -> String {
        match self {
            PeerDaemon::Bird(bird, _) => bird.birdc("show route").unwrap_or_else(|e| e.to_string()),
            PeerDaemon::Frr(frr, _) => frr.vtysh("show bgp all").unwrap_or_else(|e| e.to_string()),
            PeerDaemon::GoBgp(gobgp) => {
                let v4 = gobgp
                    .cli(&["global", "rib", "-a", "ipv4"])
                    .unwrap_or_else(|e| e.to_string());
                let v6 = gobgp
                    .cli(&["global", "rib", "-a", "ipv6"])
                    .unwrap_or_else(|e| e.to_string());
                format!("{v4}\n{v6}")
            }
        }
    }
}
