//! Finding the node's underlay address: the address (and, just as important, the prefix
//! length) that the node peers from, that VXLAN encapsulates from, and that cross-subnet
//! decisions compare against (DESIGN §3). The methods are calico-node's autodetection methods:
//!
//! | method | picks |
//! |---|---|
//! | `first-found` | the first global address on an interface that is not virtual (loopback, Pod veths, tunnels, bridges of container runtimes) |
//! | `interface=REGEX` | the first global address on an interface whose whole name matches REGEX |
//! | `cidr=CIDR` | the first global address inside CIDR |
//! | `can-reach=IP` | the source address the kernel would use to reach IP |
//!
//! A host address (`/32`, `/128`) is refused: with it every other node looks like it is on
//! another subnet and cross-subnet mode would silently encapsulate everything.
//!
//! This module is pure; [`netlink`] reads the kernel's addresses and routes for it.

pub mod netlink;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnetwork::IpNetwork;
use regex::Regex;

/// Interface names `first-found` never picks (whole-name matches), as in calico-node.
const VIRTUAL_INTERFACES: &str = r"^(lo|docker.*|cbr.*|dummy.*|virbr.*|lxcbr.*|lxc.*|veth.*|cali.*|tunl.*|flannel.*|kube-ipvs.*|cni.*|vxlan.*|wireguard.*|nodelocaldns.*|mgp.*|br-.*)$";

/// How to find the underlay address.
#[derive(Debug, Clone)]
pub enum DetectionMethod {
    /// The first address on a non-virtual interface.
    FirstFound,
    /// The first address on an interface whose whole name matches `pattern`.
    Interface {
        /// The pattern as given.
        pattern: String,
        /// The pattern anchored at both ends.
        regex: Regex,
    },
    /// The first address inside the CIDR.
    Cidr(IpNetwork),
    /// The source address of the route to this destination.
    CanReach(IpAddr),
}

impl fmt::Display for DetectionMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DetectionMethod::FirstFound => write!(f, "first-found"),
            DetectionMethod::Interface { pattern, .. } => write!(f, "interface={pattern}"),
            DetectionMethod::Cidr(cidr) => write!(f, "cidr={cidr}"),
            DetectionMethod::CanReach(ip) => write!(f, "can-reach={ip}"),
        }
    }
}

impl PartialEq for DetectionMethod {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl serde::Serialize for DetectionMethod {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl FromStr for DetectionMethod {
    type Err = UnderlayError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: String| UnderlayError::BadMethod {
            method: s.to_owned(),
            why,
        };
        match s.split_once('=') {
            None if s == "first-found" => Ok(DetectionMethod::FirstFound),
            Some(("interface", pattern)) => Regex::new(&format!("^(?:{pattern})$"))
                .map(|regex| DetectionMethod::Interface {
                    pattern: pattern.to_owned(),
                    regex,
                })
                .map_err(|e| bad(format!("not a regular expression: {e}"))),
            Some(("cidr", cidr)) => cidr
                .parse()
                .map(DetectionMethod::Cidr)
                .map_err(|e| bad(format!("not a CIDR: {e}"))),
            Some(("can-reach", ip)) => ip
                .parse()
                .map(DetectionMethod::CanReach)
                .map_err(|e| bad(format!("not an IP address: {e}"))),
            _ => Err(bad(
                "expected first-found, interface=REGEX, cidr=CIDR or can-reach=IP".into(),
            )),
        }
    }
}

/// Address family of the underlay being looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    fn matches(self, ip: IpAddr) -> bool {
        matches!(
            (self, ip),
            (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_))
        )
    }
}

/// An address configured on an interface, as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// Interface name.
    pub interface: String,
    /// Interface index.
    pub ifindex: u32,
    /// Address with its prefix length.
    pub address: IpNetwork,
    /// Whether the address has global scope (not link-local, not host).
    pub global: bool,
}

impl fmt::Display for InterfaceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.interface, self.address)
    }
}

/// The node's underlay: where it is, and how big its subnet is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Underlay {
    /// The uplink interface.
    pub interface: String,
    /// Its index.
    pub ifindex: u32,
    /// Address and prefix length.
    pub address: IpNetwork,
}

/// Why no underlay address could be chosen.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum UnderlayError {
    /// The method string does not parse.
    #[error("underlay detection method {method:?}: {why}")]
    BadMethod {
        /// What was given.
        method: String,
        /// What is wrong with it.
        why: String,
    },
    /// Nothing matched.
    #[error("underlay detection {method}: no {family:?} address matches (addresses seen: {seen})")]
    NoMatch {
        /// The method used.
        method: String,
        /// The family looked for.
        family: Family,
        /// What the kernel had, `iface addr/len, ...`.
        seen: String,
    },
    /// The match is a host address.
    #[error(
        "underlay address {address} on {interface} is a host address (/{len}): cross-subnet \
routing needs the real subnet length; configure the interface with its subnet's prefix"
    )]
    HostPrefix {
        /// The address.
        address: IpNetwork,
        /// Its interface.
        interface: String,
        /// Its prefix length.
        len: u8,
    },
    /// The kernel has no route to the can-reach target.
    #[error("underlay detection can-reach={target}: {why}")]
    Unreachable {
        /// The destination.
        target: IpAddr,
        /// What the kernel said.
        why: String,
    },
    /// Talking to the kernel failed.
    #[error("underlay detection: netlink: {0}")]
    Netlink(String),
}

/// Picks the underlay among `addrs` (in kernel order). For `can-reach`, `route_source` is the
/// source address the kernel chose for the route to the target.
pub fn choose(
    method: &DetectionMethod,
    family: Family,
    addrs: &[InterfaceAddress],
    route_source: Option<IpAddr>,
) -> Result<Underlay, UnderlayError> {
    let virtual_interfaces = Regex::new(VIRTUAL_INTERFACES).expect("valid built-in regex");
    let usable = |a: &&InterfaceAddress| a.global && family.matches(a.address.ip());
    let picked = addrs.iter().filter(usable).find(|a| match method {
        DetectionMethod::FirstFound => !virtual_interfaces.is_match(&a.interface),
        DetectionMethod::Interface { regex, .. } => regex.is_match(&a.interface),
        DetectionMethod::Cidr(cidr) => cidr.contains(a.address.ip()),
        DetectionMethod::CanReach(_) => Some(a.address.ip()) == route_source,
    });
    let Some(found) = picked else {
        let seen: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        return Err(UnderlayError::NoMatch {
            method: method.to_string(),
            family,
            seen: if seen.is_empty() {
                "none".into()
            } else {
                seen.join(", ")
            },
        });
    };
    let len = found.address.prefix();
    let host_len = if found.address.is_ipv4() { 32 } else { 128 };
    if len == host_len {
        return Err(UnderlayError::HostPrefix {
            address: found.address,
            interface: found.interface.clone(),
            len,
        });
    }
    Ok(Underlay {
        interface: found.interface.clone(),
        ifindex: found.ifindex,
        address: found.address,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(interface: &str, ifindex: u32, cidr: &str) -> InterfaceAddress {
        InterfaceAddress {
            interface: interface.into(),
            ifindex,
            address: cidr.parse().unwrap(),
            global: !cidr.starts_with("127.") && !cidr.starts_with("fe80"),
        }
    }

    fn host() -> Vec<InterfaceAddress> {
        vec![
            addr("lo", 1, "127.0.0.1/8"),
            addr("docker0", 2, "172.17.0.1/16"),
            addr("cali1234", 3, "169.254.1.1/32"),
            addr("eth0", 4, "fe80::1/64"),
            addr("eth0", 4, "172.18.1.10/24"),
            addr("eth0", 4, "fd00:18:1::10/64"),
            addr("eth1", 5, "10.99.0.5/16"),
            addr("vxlan.margay", 6, "10.244.3.0/32"),
        ]
    }

    fn pick(method: &str, family: Family) -> Result<Underlay, UnderlayError> {
        choose(&method.parse().unwrap(), family, &host(), None)
    }

    #[test]
    fn first_found_skips_loopback_and_virtual_interfaces() {
        let u = pick("first-found", Family::V4).unwrap();
        assert_eq!(
            (u.interface.as_str(), u.address.to_string()),
            ("eth0", "172.18.1.10/24".into())
        );
    }

    #[test]
    fn first_found_ipv6_skips_link_local() {
        let u = pick("first-found", Family::V6).unwrap();
        assert_eq!(u.address.to_string(), "fd00:18:1::10/64");
    }

    #[test]
    fn interface_regex_matches_whole_names() {
        assert_eq!(
            pick("interface=eth1", Family::V4)
                .unwrap()
                .address
                .to_string(),
            "10.99.0.5/16"
        );
        assert_eq!(
            pick("interface=eth.*", Family::V4).unwrap().interface,
            "eth0"
        );
        // "th0" is inside "eth0" but not the whole name.
        assert!(matches!(
            pick("interface=th0", Family::V4),
            Err(UnderlayError::NoMatch { .. })
        ));
    }

    #[test]
    fn cidr_picks_the_address_inside() {
        assert_eq!(
            pick("cidr=10.0.0.0/8", Family::V4).unwrap().interface,
            "eth1"
        );
    }

    #[test]
    fn can_reach_picks_the_route_source() {
        let method = "can-reach=172.18.2.10".parse().unwrap();
        let u = choose(
            &method,
            Family::V4,
            &host(),
            Some("10.99.0.5".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(u.interface, "eth1");
    }

    #[test]
    fn host_prefix_is_refused_with_a_clear_error() {
        let addrs = vec![addr("eth0", 2, "172.18.1.10/32")];
        let err = choose(&DetectionMethod::FirstFound, Family::V4, &addrs, None).unwrap_err();
        assert!(matches!(err, UnderlayError::HostPrefix { len: 32, .. }));
        assert!(
            err.to_string()
                .contains("172.18.1.10/32 on eth0 is a host address"),
            "{err}"
        );
    }

    #[test]
    fn no_match_lists_what_was_seen() {
        let err = pick("cidr=192.168.0.0/16", Family::V4).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("cidr=192.168.0.0/16"), "{text}");
        assert!(text.contains("eth0 172.18.1.10/24"), "{text}");
    }

    #[test]
    fn bad_methods_name_the_value_and_the_problem() {
        for (method, why) in [
            ("first", "expected first-found"),
            ("interface=(", "not a regular expression"),
            ("cidr=10.0.0.0/33", "not a CIDR"),
            ("can-reach=router", "not an IP address"),
        ] {
            let err = method.parse::<DetectionMethod>().unwrap_err().to_string();
            assert!(err.contains(method) && err.contains(why), "{method}: {err}");
        }
    }
}
