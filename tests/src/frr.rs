//! `Frr`: FRR 8 (zebra + bgpd) inside a test namespace. The daemons run as user `frr` (as root
//! they refuse: "not part of vty group") with every socket, pid file and config in a state
//! directory of the test's own; queries go through `vtysh --vty_socket` and its JSON output.

use std::path::PathBuf;
use std::time::Duration;

use crate::cmd::{CmdError, run, run_ok};
use crate::netns::Netns;
use crate::process::Process;
use crate::testdir::TestDir;

const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A running FRR (zebra and bgpd).
#[derive(Debug)]
pub struct Frr {
    bgpd: Process,
    zebra: Process,
    state_dir: PathBuf,
}

impl Frr {
    /// The start of a bgpd config for tests: traditional defaults (no eBGP policy
    /// requirement), logging to stdout, and `router bgp ASN` with the router id. Append
    /// neighbor and address-family lines (they belong to the `router bgp` block).
    pub fn base_config(asn: u32, router_id: &str) -> String {
        format!(
            "frr defaults traditional\nhostname frr\nlog stdout debugging\n\
router bgp {asn}\n bgp router-id {router_id}\n no bgp ebgp-requires-policy\n \
no bgp network import-check\n timers bgp 3 9\n"
        )
    }

    /// Starts zebra, then bgpd with `bgpd_config`, inside `ns`; returns once vtysh answers.
    pub fn start(ns: &Netns, dir: &TestDir, label: &str, bgpd_config: &str) -> Self {
        let state_dir = dir.subdir(label);
        let path = |name: &str| {
            state_dir
                .join(name)
                .to_str()
                .expect("utf-8 path")
                .to_owned()
        };
        std::fs::write(path("zebra.conf"), "hostname zebra\nlog stdout\n").expect("zebra.conf");
        std::fs::write(path("bgpd.conf"), bgpd_config).expect("bgpd.conf");
        run_ok(&[
            "chown",
            "-R",
            "frr:frr",
            state_dir.to_str().expect("utf-8 path"),
        ]);
        let common = |daemon: &str| -> Vec<String> {
            vec![
                format!("/usr/lib/frr/{daemon}"),
                "-u".into(),
                "frr".into(),
                "-g".into(),
                "frr".into(),
                "-z".into(),
                path("zserv.api"),
                "-i".into(),
                path(&format!("{daemon}.pid")),
                "--vty_socket".into(),
                path(""),
                "-f".into(),
                path(&format!("{daemon}.conf")),
                "-P".into(),
                "0".into(),
                "--log".into(),
                "stdout".into(),
            ]
        };
        let zebra_argv = common("zebra");
        let zebra_argv: Vec<&str> = zebra_argv.iter().map(String::as_str).collect();
        let mut zebra = ns.spawn(dir, &format!("{label}-zebra"), &zebra_argv);
        let zserv = state_dir.join("zserv.api");
        crate::wait::wait_until(READY_TIMEOUT, "zebra's zserv socket", || {
            if !zebra.is_running() {
                return Err(format!("zebra exited:\n{}", zebra.log_tail(20)));
            }
            if zserv.exists() {
                Ok(())
            } else {
                Err("no zserv.api yet".into())
            }
        });
        let bgpd_argv = common("bgpd");
        let bgpd_argv: Vec<&str> = bgpd_argv.iter().map(String::as_str).collect();
        let bgpd = ns.spawn(dir, &format!("{label}-bgpd"), &bgpd_argv);
        let mut frr = Frr {
            bgpd,
            zebra,
            state_dir,
        };
        crate::wait::wait_until(
            READY_TIMEOUT,
            &format!("FRR {label} bgpd to answer vtysh"),
            || {
                if !frr.bgpd.is_running() {
                    return Err(format!("bgpd exited:\n{}", frr.bgpd.log_tail(20)));
                }
                frr.vtysh("show bgp summary json")
                    .map_err(|e| e.to_string())
            },
        );
        frr
    }

    /// Runs one vtysh command against bgpd and zebra.
    pub fn vtysh(&self, command: &str) -> Result<String, CmdError> {
        let socket_dir = format!("{}/", self.state_dir.display());
        run(&["vtysh", "--vty_socket", &socket_dir, "-c", command])
    }

    /// Applies configuration lines (`configure terminal` first, one `-c` per line).
    pub fn configure(&self, lines: &[&str]) -> Result<String, CmdError> {
        let socket_dir = format!("{}/", self.state_dir.display());
        let mut argv = vec![
            "vtysh",
            "--vty_socket",
            &socket_dir,
            "-c",
            "configure terminal",
        ];
        for line in lines {
            argv.extend(["-c", line]);
        }
        run(&argv)
    }

    /// Runs a vtysh command that prints JSON and parses it.
    pub fn json(&self, command: &str) -> serde_json::Value {
        let out = self.vtysh(command).unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("vtysh `{command}` gave non-JSON ({e}): {out}"))
    }

    /// The BGP state of neighbor `peer` (`Established`, `Active`, ...), if configured.
    pub fn neighbor_state(&self, peer: &str) -> Option<String> {
        let v = self.json(&format!("show bgp neighbors {peer} json"));
        v.get(peer)?.get("bgpState")?.as_str().map(str::to_owned)
    }

    /// Waits until neighbor `peer` is Established; fails with its state and bgpd's log.
    pub fn wait_established(&self, peer: &str, timeout: Duration) {
        crate::wait::wait_until(
            timeout,
            &format!("FRR neighbor {peer} to be Established"),
            || match self.neighbor_state(peer) {
                Some(s) if s == "Established" => Ok(()),
                other => Err(format!("{other:?}\nlog:\n{}", self.bgpd.log_tail(10))),
            },
        )
    }

    /// Prefixes in bgpd's table for `afi` (`ipv4` or `ipv6`).
    pub fn prefixes(&self, afi: &str) -> Vec<String> {
        let v = self.json(&format!("show bgp {afi} unicast json"));
        v.get("routes")
            .and_then(|r| r.as_object())
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// bgpd's process (to stop, freeze or read its log).
    pub fn bgpd(&mut self) -> &mut Process {
        &mut self.bgpd
    }

    /// zebra's process.
    pub fn zebra(&mut self) -> &mut Process {
        &mut self.zebra
    }
}
