//! `PeeredPair`: the smallest BGP scenario — two namespaces on one veth, a speaker in each —
//! used by the harness self-tests and by the lab's demo mode.

use std::time::Duration;

use crate::bird::Bird;
use crate::frr::Frr;
use crate::gobgp::GoBgp;
use crate::netns::Netns;
use crate::testdir::TestDir;

/// Address of the announcing side.
pub const LEFT_ADDR: &str = "10.0.0.1";
/// Address of BIRD's side.
pub const RIGHT_ADDR: &str = "10.0.0.2";

/// Which daemon announces to BIRD.
#[derive(Debug)]
pub enum Announcer {
    /// gobgpd, AS 65001.
    GoBgp(GoBgp),
    /// FRR (zebra + bgpd), AS 65001.
    Frr(Frr),
}

/// Two namespaces joined by a veth: an announcer (AS 65001) on the left, BIRD (AS 65002) on
/// the right, in an Established eBGP session.
#[derive(Debug)]
pub struct PeeredPair {
    /// BIRD, learning routes and installing them into the right namespace's kernel table.
    pub bird: Bird,
    /// The announcing daemon.
    pub announcer: Announcer,
    /// The announcer's namespace.
    pub left: Netns,
    /// BIRD's namespace.
    pub right: Netns,
}

fn veth_pair(tag: &str) -> (Netns, Netns) {
    let left = Netns::new(&format!("{tag}l"));
    let right = Netns::new(&format!("{tag}r"));
    left.veth_to(&right, "eth0", "eth0");
    left.addr_add("eth0", &format!("{LEFT_ADDR}/24"));
    right.addr_add("eth0", &format!("{RIGHT_ADDR}/24"));
    (left, right)
}

fn start_bird(right: &Netns, dir: &TestDir) -> Bird {
    let config = format!(
        "{}protocol bgp left from peer_t {{ local {RIGHT_ADDR} as 65002; neighbor {LEFT_ADDR} as 65001; }}\n",
        Bird::base_config(RIGHT_ADDR)
    );
    Bird::start(right, dir, "bird", &config)
}

impl PeeredPair {
    /// gobgpd announcing `prefix` to BIRD.
    pub fn gobgp(dir: &TestDir, prefix: &str) -> Self {
        let (left, right) = veth_pair("gb");
        let config = GoBgp::config(65001, LEFT_ADDR, &[(RIGHT_ADDR, 65002)]);
        let gobgp = GoBgp::start(&left, dir, "gobgp", &config);
        gobgp.announce(prefix);
        let bird = start_bird(&right, dir);
        bird.wait_established("left", Duration::from_secs(20));
        PeeredPair {
            bird,
            announcer: Announcer::GoBgp(gobgp),
            left,
            right,
        }
    }

    /// FRR announcing `prefix` to BIRD.
    pub fn frr(dir: &TestDir, prefix: &str) -> Self {
        let (left, right) = veth_pair("fr");
        let config = format!(
            "{} neighbor {RIGHT_ADDR} remote-as 65002\n neighbor {RIGHT_ADDR} timers connect 1\n \
address-family ipv4 unicast\n  network {prefix}\n exit-address-family\n",
            Frr::base_config(65001, LEFT_ADDR)
        );
        let frr = Frr::start(&left, dir, "frr", &config);
        let bird = start_bird(&right, dir);
        bird.wait_established("left", Duration::from_secs(20));
        PeeredPair {
            bird,
            announcer: Announcer::Frr(frr),
            left,
            right,
        }
    }

    /// Waits until `prefix` is BIRD's best route via the left side and is installed in the
    /// right namespace's kernel table; returns that kernel route line.
    pub fn wait_installed(&self, prefix: &str, timeout: Duration) -> String {
        crate::wait::wait_until(
            timeout,
            &format!("{prefix} learned by BIRD and in the kernel"),
            || {
                let learned = self.bird.routes_for(prefix);
                let kernel = self.right.routes(&format!("{prefix} proto bird"));
                let best_via_left = learned
                    .iter()
                    .any(|r| r.primary && r.next_hops.iter().any(|h| h == LEFT_ADDR));
                if best_via_left && kernel.contains(&format!("via {LEFT_ADDR}")) {
                    Ok(kernel.trim().to_owned())
                } else {
                    Err(format!("BIRD: {learned:?}\nkernel: {kernel:?}"))
                }
            },
        )
    }
}
