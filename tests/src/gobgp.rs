//! `GoBgp`: gobgpd inside a test namespace, driven and queried with the `gobgp` CLI (its JSON
//! output). The API listens on 127.0.0.1:50051 of the namespace, so instances never clash.

use std::time::Duration;

use crate::cmd::CmdError;
use crate::netns::Netns;
use crate::process::Process;
use crate::testdir::TestDir;

const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A running gobgpd.
#[derive(Debug)]
pub struct GoBgp {
    process: Process,
    netns: String,
}

impl GoBgp {
    /// A gobgpd TOML config: global AS and router id, and one neighbor per `(address, asn)`
    /// (see [`GoBgp::neighbor`]).
    pub fn config(asn: u32, router_id: &str, neighbors: &[(&str, u32)]) -> String {
        let mut conf = Self::global(asn, router_id);
        for (address, peer_as) in neighbors {
            conf.push_str(&Self::neighbor(address, *peer_as, false));
        }
        conf
    }

    /// The `[global.config]` section.
    pub fn global(asn: u32, router_id: &str) -> String {
        format!("[global.config]\n  as = {asn}\n  router-id = \"{router_id}\"\n")
    }

    /// A `[[neighbors]]` section: IPv4 and IPv6 unicast, 1 s connect retry, hold time 9 s;
    /// `passive` waits for the peer to connect.
    pub fn neighbor(address: &str, peer_as: u32, passive: bool) -> String {
        format!(
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{address}\"\n    \
peer-as = {peer_as}\n  [neighbors.timers.config]\n    connect-retry = 1\n    hold-time = 9\n    \
keepalive-interval = 3\n  [neighbors.transport.config]\n    passive-mode = {passive}\n  \
[[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv4-unicast\"\n  \
[[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv6-unicast\"\n"
        )
    }

    /// Writes `config` and starts gobgpd inside `ns`; returns once the CLI answers.
    pub fn start(ns: &Netns, dir: &TestDir, label: &str, config: &str) -> Self {
        Self::start_with_args(ns, dir, label, config, &[])
    }

    /// [`GoBgp::start`] with more gobgpd flags (e.g. `--log-level=debug`).
    pub fn start_with_args(
        ns: &Netns,
        dir: &TestDir,
        label: &str,
        config: &str,
        extra: &[&str],
    ) -> Self {
        let conf = dir.write(&format!("{label}.toml"), config);
        let mut argv = vec![
            "gobgpd",
            "-f",
            conf.to_str().expect("utf-8 path"),
            "--api-hosts=127.0.0.1:50051",
            "--pprof-disable",
        ];
        argv.extend_from_slice(extra);
        let mut gobgp = GoBgp {
            process: ns.spawn(dir, label, &argv),
            netns: ns.name().to_owned(),
        };
        crate::wait::wait_until(READY_TIMEOUT, &format!("gobgpd {label} to answer"), || {
            if !gobgp.process.is_running() {
                return Err(format!("gobgpd exited:\n{}", gobgp.process.log_tail(20)));
            }
            gobgp.cli(&["global"]).map_err(|e| e.to_string())
        });
        gobgp
    }

    /// Runs the `gobgp` CLI inside the namespace.
    pub fn cli(&self, args: &[&str]) -> Result<String, CmdError> {
        let mut argv = vec!["ip", "netns", "exec", &self.netns, "gobgp"];
        argv.extend_from_slice(args);
        crate::cmd::run(&argv)
    }

    /// Runs `gobgp -j ARGS` and parses the JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["-j"];
        full.extend_from_slice(args);
        let out = self.cli(&full).unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("gobgp {args:?} gave non-JSON ({e}): {out}"))
    }

    /// Originates `prefix` (e.g. `10.9.0.0/24` or `fd00:9::/64`) from the global RIB.
    pub fn announce(&self, prefix: &str) {
        let afi = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        self.cli(&["global", "rib", "add", prefix, "-a", afi])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Withdraws a prefix it originated.
    pub fn withdraw(&self, prefix: &str) {
        let afi = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        self.cli(&["global", "rib", "del", prefix, "-a", afi])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The session state of `neighbor` as gobgp names it (`established`, `active`, ...).
    pub fn neighbor_state(&self, neighbor: &str) -> Option<String> {
        let v = self.json(&["neighbor", neighbor]);
        // gobgp prints the API enum: a name in some versions, its number in others.
        const STATES: [&str; 7] = [
            "unknown",
            "idle",
            "connect",
            "active",
            "opensent",
            "openconfirm",
            "established",
        ];
        v.pointer("/state/session_state").map(|s| match s {
            serde_json::Value::String(s) => s.to_lowercase(),
            serde_json::Value::Number(n) => n
                .as_u64()
                .and_then(|n| STATES.get(n as usize))
                .map_or_else(|| n.to_string(), |s| (*s).to_owned()),
            other => other.to_string(),
        })
    }

    /// Prefixes in the global RIB for `afi` (`ipv4` or `ipv6`).
    pub fn prefixes(&self, afi: &str) -> Vec<String> {
        let v = self.json(&["global", "rib", "-a", afi]);
        v.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// gobgpd's process.
    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }
}
