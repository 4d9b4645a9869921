//! `Bird`: BIRD 2 (what Calico runs) inside a test namespace, configured from a template, with
//! typed views of `birdc show protocols` and `birdc show route`.

use std::path::PathBuf;
use std::time::Duration;

use crate::cmd::{CmdError, run};
use crate::netns::Netns;
use crate::process::Process;
use crate::testdir::TestDir;

const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// One row of `birdc show protocols`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirdProtocol {
    /// Protocol instance name.
    pub name: String,
    /// Protocol type (`BGP`, `Kernel`, ...).
    pub proto: String,
    /// `up`, `start`, `down`...
    pub state: String,
    /// The info column (`Established`, `Active  Socket: Connection refused`, ...).
    pub info: String,
}

/// One route of `birdc show route`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirdRoute {
    /// The prefix, e.g. `10.9.0.0/24`.
    pub prefix: String,
    /// The protocol it came from.
    pub protocol: String,
    /// Whether it is the best (exported) route of its prefix.
    pub primary: bool,
    /// Next hops (`via` addresses); empty for device or blackhole routes.
    pub next_hops: Vec<String>,
}

/// A running BIRD.
#[derive(Debug)]
pub struct Bird {
    process: Process,
    socket: PathBuf,
}

impl Bird {
    /// The start of a BIRD config for tests: logging to stderr, the router id, device scanning,
    /// kernel protocols that install every best route into the namespace's main tables, and a
    /// BGP template `peer_t` with fast connect timers and all IPv4/IPv6 unicast routes in and
    /// out. Append `protocol bgp NAME from peer_t { ... }` blocks and static routes to it.
    pub fn base_config(router_id: &str) -> String {
        format!(
            r#"log stderr all;
router id {router_id};
timeformat protocol "%F_%T";
protocol device {{ scan time 10; }}
protocol kernel kernel4 {{ ipv4 {{ import none; export all; }}; merge paths on; }}
protocol kernel kernel6 {{ ipv6 {{ import none; export all; }}; merge paths on; }}
template bgp peer_t {{
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 5;
  ipv4 {{ import all; export all; }};
  ipv6 {{ import all; export all; }};
}}
"#
        )
    }

    /// Writes `config` and starts BIRD inside `ns`; returns once `birdc` answers.
    pub fn start(ns: &Netns, dir: &TestDir, label: &str, config: &str) -> Self {
        Self::start_with_args(ns, dir, label, config, &[])
    }

    /// [`Bird::start`] with more `bird` flags (e.g. `-R`: graceful restart recovery).
    pub fn start_with_args(
        ns: &Netns,
        dir: &TestDir,
        label: &str,
        config: &str,
        extra: &[&str],
    ) -> Self {
        let conf = dir.write(&format!("{label}.conf"), config);
        let socket = dir.file(&format!("{label}.ctl"));
        let pidfile = dir.file(&format!("{label}.pid"));
        let mut argv = vec![
            "bird",
            "-f",
            "-c",
            conf.to_str().expect("utf-8 path"),
            "-s",
            socket.to_str().expect("utf-8 path"),
            "-P",
            pidfile.to_str().expect("utf-8 path"),
        ];
        argv.extend_from_slice(extra);
        let mut bird = Bird {
            process: ns.spawn(dir, label, &argv),
            socket,
        };
        crate::wait::wait_until(
            READY_TIMEOUT,
            &format!("BIRD {label} to answer birdc"),
            || {
                if !bird.process.is_running() {
                    return Err(format!("bird exited:\n{}", bird.process.log_tail(20)));
                }
                bird.birdc("show status").map_err(|e| e.to_string())
            },
        );
        bird
    }

    /// Runs a `birdc` command; returns its output.
    pub fn birdc(&self, command: &str) -> Result<String, CmdError> {
        let mut argv = vec!["birdc", "-s", self.socket.to_str().expect("utf-8 path")];
        argv.extend(command.split_whitespace());
        run(&argv)
    }

    fn birdc_ok(&self, command: &str) -> String {
        self.birdc(command).unwrap_or_else(|e| panic!("{e}"))
    }

    /// All protocols and their states.
    pub fn protocols(&self) -> Vec<BirdProtocol> {
        parse_protocols(&self.birdc_ok("show protocols"))
    }

    /// The protocol called `name`, if configured.
    pub fn protocol(&self, name: &str) -> Option<BirdProtocol> {
        self.protocols().into_iter().find(|p| p.name == name)
    }

    /// Waits until BGP protocol `name` is Established; fails with its state and BIRD's log.
    pub fn wait_established(&self, name: &str, timeout: Duration) {
        crate::wait::wait_until(
            timeout,
            &format!("BIRD protocol {name} to be Established"),
            || match self.protocol(name) {
                Some(p) if p.info.starts_with("Established") => Ok(()),
                other => Err(format!("{other:?}\nlog:\n{}", self.process.log_tail(10))),
            },
        )
    }

    /// Every route in BIRD's tables (`show route all` tables, IPv4 and IPv6).
    pub fn routes(&self) -> Vec<BirdRoute> {
        parse_routes(&self.birdc_ok("show route"))
    }

    /// Routes for `prefix`.
    pub fn routes_for(&self, prefix: &str) -> Vec<BirdRoute> {
        self.routes()
            .into_iter()
            .filter(|r| r.prefix == prefix)
            .collect()
    }

    /// Asks BIRD to re-read its configuration file after `config` replaced it.
    pub fn reconfigure(&self, dir: &TestDir, label: &str, config: &str) {
        dir.write(&format!("{label}.conf"), config);
        let out = self.birdc_ok("configure");
        assert!(out.contains("Reconfigur"), "birdc configure: {out}");
    }

    /// The process (to stop, signal or read its log).
    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }
}

fn parse_protocols(output: &str) -> Vec<BirdProtocol> {
    output
        .lines()
        .skip_while(|l| !l.starts_with("Name"))
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split_whitespace();
            let name = cols.next()?.to_owned();
            let proto = cols.next()?.to_owned();
            let _table = cols.next()?;
            let state = cols.next()?.to_owned();
            let _since = cols.next()?;
            let info = cols.collect::<Vec<_>>().join(" ");
            Some(BirdProtocol {
                name,
                proto,
                state,
                info,
            })
        })
        .collect()
}

fn parse_routes(output: &str) -> Vec<BirdRoute> {
    let mut routes: Vec<BirdRoute> = Vec::new();
    let mut prefix = String::new();
    for line in output.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("via ") {
            if let (Some(route), Some(hop)) = (routes.last_mut(), rest.split_whitespace().next()) {
                route.next_hops.push(hop.to_owned());
            }
            continue;
        }
        let Some(bracket) = trimmed.find('[') else {
            continue;
        };
        let head: Vec<&str> = trimmed[..bracket].split_whitespace().collect();
        if !line.starts_with(char::is_whitespace) {
            match head.first() {
                Some(p) if p.contains('/') => prefix = (*p).to_owned(),
                _ => continue,
            }
        }
        let protocol = trimmed[bracket + 1..]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_end_matches(']')
            .to_owned();
        let after = &trimmed[bracket..];
        let primary = after
            .split(']')
            .nth(1)
            .is_some_and(|s| s.trim_start().starts_with('*'));
        routes.push(BirdRoute {
            prefix: prefix.clone(),
            protocol,
            primary,
            next_hops: Vec::new(),
        });
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_protocols_table() {
        let out = "BIRD 2.0.12 ready.\nName       Proto      Table      State  Since         Info\n\
device1    Device     ---        up     2026-11-26_08:00:00  \n\
gobgp      BGP        ---        up     2026-11-26_08:00:01  Established   \n\
tor        BGP        ---        start  2026-11-26_08:00:01  Active        Socket: Connection refused\n";
        let p = parse_protocols(out);
        assert_eq!(p.len(), 3);
        assert_eq!(p[1].info, "Established");
        assert_eq!(p[2].state, "start");
        assert_eq!(p[2].info, "Active Socket: Connection refused");
    }

    #[test]
    fn parses_routes_with_alternates_and_next_hops() {
        let out = [
            "BIRD 2.0.12 ready.",
            "Table master4:",
            "10.9.0.0/24          unicast [gobgp 08:24:09.123] * (100) [AS65001i]",
            "\tvia 10.0.0.2 on eth0",
            "                     unicast [frr 08:24:10.000] (100) [AS65002i]",
            "\tvia 10.0.0.3 on eth0",
            "10.0.0.0/24          unicast [direct1 08:24:00.000] * (240)",
            "\tdev eth0",
        ]
        .join("\n");
        let out = out.as_str();
        let r = parse_routes(out);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].prefix, "10.9.0.0/24");
        assert!(r[0].primary);
        assert_eq!(r[0].next_hops, vec!["10.0.0.2"]);
        assert_eq!(r[1].prefix, "10.9.0.0/24");
        assert_eq!(r[1].protocol, "frr");
        assert!(!r[1].primary);
        assert_eq!(r[2].protocol, "direct1");
        assert!(r[2].next_hops.is_empty());
    }
}
