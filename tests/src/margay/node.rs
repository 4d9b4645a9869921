//! `MargayNode`: one margay-node (the real binary) inside a host namespace, with its own API
//! socket and log in the test directory. Its state is read the way a user reads it:
//! `margayctl node status -o json` and `margayctl node routes -o json` against its socket
//! (typed as the API's own [`NodeStatus`] and [`RouteStatus`]).
//!
//! Stopping it with SIGTERM reports the exit code (read from the zombie's `/proc/PID/stat`
//! before it is reaped, so the harness `Process` needs no change); starting it again reuses
//! the same name, namespace, socket and options.

use std::path::{Path, PathBuf};
use std::time::Duration;

use margay_daemon::api::{NodeStatus, RouteStatus};
use nix::sys::signal::Signal;
use serde::de::DeserializeOwned;

use crate::netns::Netns;
use crate::process::Process;
use crate::testdir::TestDir;
use crate::wait::{try_wait_until, wait_until};

use super::bins::workspace_bin;
use super::ctl::margayctl_command;

/// How long a node may take from start to answering on its API socket.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a node may take to exit after SIGTERM.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Log filter: our crates at debug, dependencies (etcd client, HTTP/2) at info.
const LOG_LEVEL: &str =
    "info,margay_daemon=debug,margay_bgp=debug,margay_vxlan=debug,margay_node=debug";
/// Lines of log shown in failure messages.
const TAIL: usize = 20;

/// How to run one margay-node.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    name: String,
    etcd_endpoint: String,
    underlay: String,
    as_number: Option<u32>,
    labels: Vec<(String, String)>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    log_level: String,
}

impl NodeOptions {
    /// Node `name` using etcd at `etcd_endpoint`, underlay `interface=eth0`.
    pub fn new(name: &str, etcd_endpoint: &str) -> Self {
        NodeOptions {
            name: name.to_owned(),
            etcd_endpoint: etcd_endpoint.to_owned(),
            underlay: "interface=eth0".to_owned(),
            as_number: None,
            labels: Vec::new(),
            env: Vec::new(),
            args: Vec::new(),
            log_level: LOG_LEVEL.to_owned(),
        }
    }

    /// The underlay detection method (`interface=REGEX`, `cidr=CIDR`, `can-reach=IP`, ...).
    pub fn underlay(mut self, method: &str) -> Self {
        method.clone_into(&mut self.underlay);
        self
    }

    /// This node's AS number (`--as-number`).
    pub fn as_number(mut self, asn: u32) -> Self {
        self.as_number = Some(asn);
        self
    }

    /// A node label (`--labels k=v,...`).
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.to_owned(), value.to_owned()));
        self
    }

    /// An environment variable for the process (e.g. a `MARGAY_*` setting).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// One more command-line argument.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    /// The log filter (`--log-level`).
    pub fn log_level(mut self, filter: &str) -> Self {
        filter.clone_into(&mut self.log_level);
        self
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The etcd endpoint.
    pub fn etcd_endpoint(&self) -> &str {
        &self.etcd_endpoint
    }

    /// The full command line for a node whose API socket is `socket`: `env K=V ... margay-node
    /// FLAGS` (`env` execs, so the PID is margay-node's own).
    fn argv(&self, socket: &Path) -> Vec<String> {
        let mut argv = vec!["env".to_owned()];
        argv.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        argv.push(workspace_bin("margay-node").display().to_string());
        let flags = [
            ("--node-name", self.name.clone()),
            ("--etcd-endpoints", self.etcd_endpoint.clone()),
            ("--underlay", self.underlay.clone()),
            ("--api-socket", socket.display().to_string()),
            ("--log-level", self.log_level.clone()),
        ];
        for (flag, value) in flags {
            argv.push(flag.to_owned());
            argv.push(value);
        }
        if let Some(asn) = self.as_number {
            argv.push("--as-number".to_owned());
            argv.push(asn.to_string());
        }
        if !self.labels.is_empty() {
            argv.push("--labels".to_owned());
            argv.push(
                self.labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        argv.extend(self.args.iter().cloned());
        argv
    }
}

/// A running (or stopped) margay-node.
#[derive(Debug)]
pub struct MargayNode {
    options: NodeOptions,
    netns: String,
    log_dir: PathBuf,
    socket: PathBuf,
    process: Option<Process>,
    starts: u32,
}

impl MargayNode {
    /// Starts margay-node in `ns`; returns once it answers `node status` on its socket.
    pub fn start(ns: &Netns, dir: &TestDir, options: NodeOptions) -> Self {
        let socket = dir.file(&format!("{}.sock", options.name));
        let mut node = MargayNode {
            netns: ns.name().to_owned(),
            log_dir: dir.path().to_owned(),
            socket,
            process: None,
            starts: 0,
            options,
        };
        node.start_again();
        node
    }

    /// Starts it (again, after [`MargayNode::sigterm_and_wait`]) with the same options and
    /// socket; returns once it answers `node status`.
    pub fn start_again(&mut self) {
        assert!(
            self.process.is_none(),
            "margay-node {} is already running",
            self.name()
        );
        self.starts += 1;
        let label = format!("{}-{}", self.options.name, self.starts);
        let argv = self.options.argv(&self.socket);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.process = Some(Process::spawn(
            Some(&self.netns),
            &self.log_dir,
            &label,
            &argv,
        ));
        wait_until(
            READY_TIMEOUT,
            &format!(
                "margay-node {} to answer on {}",
                self.name(),
                self.socket.display()
            ),
            || {
                self.check_running()?;
                self.try_status()
            },
        );
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.options.name
    }

    /// The options it runs with.
    pub fn options(&self) -> &NodeOptions {
        &self.options
    }

    /// The namespace it runs in.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// Its API socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The running process's PID.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Process::pid)
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(Process::is_running)
    }

    /// The last `n` lines of the current run's log.
    pub fn log_tail(&self, n: usize) -> String {
        self.process
            .as_ref()
            .map(|p| p.log_tail(n))
            .unwrap_or_default()
    }

    /// The current run's log file.
    pub fn log_path(&self) -> Option<&Path> {
        self.process.as_ref().map(Process::log_path)
    }

    /// `Err` with the log tail when the process is not running (for probes).
    fn check_running(&mut self) -> Result<(), String> {
        let name = self.options.name.clone();
        match self.process.as_mut() {
            Some(p) => {
                if p.is_running() {
                    Ok(())
                } else {
                    Err(format!("margay-node {name} exited:\n{}", p.log_tail(TAIL)))
                }
            }
            None => Err(format!("margay-node {name} is not started")),
        }
    }

    /// `margayctl node <what> -o json` against this node's socket, parsed.
    fn query<T: DeserializeOwned>(&self, what: &str) -> Result<T, String> {
        query_socket(&self.socket, what)
    }

    /// `margayctl node status`, or why it could not be had.
    pub fn try_status(&self) -> Result<NodeStatus, String> {
        self.query("status")
    }

    /// `margayctl node status`; panics (with the log tail) if the node does not answer.
    pub fn status(&self) -> NodeStatus {
        self.try_status()
            .unwrap_or_else(|e| panic!("{e}\nlog of {}:\n{}", self.name(), self.log_tail(TAIL)))
    }

    /// `margayctl node routes`, or why it could not be had.
    pub fn try_routes(&self) -> Result<Vec<RouteStatus>, String> {
        self.query("routes")
    }

    /// `margayctl node routes`; panics (with the log tail) if the node does not answer.
    pub fn routes(&self) -> Vec<RouteStatus> {
        self.try_routes()
            .unwrap_or_else(|e| panic!("{e}\nlog of {}:\n{}", self.name(), self.log_tail(TAIL)))
    }

    /// Waits until exactly `n` sessions exist and all are Established; returns that status.
    pub fn wait_established(&self, n: usize, timeout: Duration) -> NodeStatus {
        wait_until(
            timeout,
            &format!("{n} Established sessions on {}", self.name()),
            || {
                let status = self.try_status()?;
                let up = status
                    .sessions
                    .iter()
                    .filter(|s| s.state == "Established")
                    .count();
                if up == n && status.sessions.len() == n {
                    Ok(status)
                } else {
                    Err(format!(
                        "sessions: {:#?}\nproblems: {:?}\nlog:\n{}",
                        status.sessions,
                        status.problems,
                        self.log_tail(TAIL)
                    ))
                }
            },
        )
    }

    /// Waits until the node reports no problems (`node status` → `problems` empty).
    pub fn wait_no_problems(&self, timeout: Duration) {
        wait_until(
            timeout,
            &format!("{} to report no problems", self.name()),
            || {
                let status = self.try_status()?;
                if status.problems.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{:#?}", status.problems))
                }
            },
        );
    }

    /// Waits until the node has its VTEP and at least one affine block; returns that status.
    pub fn wait_ready(&self, timeout: Duration) -> NodeStatus {
        wait_until(
            timeout,
            &format!("{} to have a VTEP and a block", self.name()),
            || {
                let status = self.try_status()?;
                if status.vtep.is_some() && !status.blocks.is_empty() {
                    Ok(status)
                } else {
                    Err(format!("{status:#?}\nlog:\n{}", self.log_tail(TAIL)))
                }
            },
        )
    }

    /// Waits until the node is ready ([`MargayNode::wait_ready`]) and returns its one block
    /// (panics if it has several: scenarios give each node a single block).
    pub fn wait_single_block(&self, timeout: Duration) -> ipnetwork::IpNetwork {
        let status = self.wait_ready(timeout);
        assert_eq!(
            status.blocks.len(),
            1,
            "{} should have one block: {:?}",
            self.name(),
            status.blocks
        );
        status.blocks[0]
    }

    /// Waits until `check` accepts the node's routes (`Err` = what is still wrong); returns
    /// what `check` returned.
    pub fn wait_routes<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&[RouteStatus]) -> Result<T, String>,
    ) -> T {
        wait_until(timeout, &format!("{what} on {}", self.name()), || {
            let routes = self.try_routes()?;
            check(&routes).map_err(|wrong| format!("{wrong}\nroutes: {routes:#?}"))
        })
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit code (128 + signal
    /// when a signal ended it). Panics with the log tail if it does not exit in time.
    pub fn sigterm_and_wait(&mut self) -> i32 {
        let mut process = self
            .process
            .take()
            .unwrap_or_else(|| panic!("margay-node {} is not running", self.name()));
        let pid = process.pid();
        process.signal(Signal::SIGTERM);
        let code = try_wait_until(EXIT_TIMEOUT, || zombie_exit_code(pid));
        let code = code.unwrap_or_else(|state| {
            let tail = process.log_tail(TAIL);
            process.kill();
            panic!(
                "margay-node {} did not exit within {EXIT_TIMEOUT:?} of SIGTERM ({state}):\n{tail}",
                self.name()
            )
        });
        // Reaps it; the exit code was read above, while it was a zombie.
        assert!(!process.is_running(), "pid {pid} exited but was not reaped");
        code
    }
}

/// The exit code of `pid` once it is a zombie (its parent, this process, has not reaped it):
/// field 52 of `/proc/PID/stat` holds the wait status (proc(5), Linux ≥ 3.5).
fn zombie_exit_code(pid: u32) -> Result<i32, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    // Fields after the command name (which may hold spaces) start at field 3, the state.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    match fields.first() {
        Some(&"Z") => {}
        state => return Err(format!("pid {pid} is still running (state {state:?})")),
    }
    let status: i32 = fields
        .get(52 - 3)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| format!("no exit code in {path}: {stat}"))?;
    let signal = status & 0x7f;
    Ok(if signal == 0 {
        (status >> 8) & 0xff
    } else {
        128 + signal
    })
}

/// `margayctl node <what> -o json --socket <socket>`, parsed (for a margay-node started
/// without [`MargayNode`], e.g. one that must not be waited for).
pub fn query_socket<T: DeserializeOwned>(socket: &Path, what: &str) -> Result<T, String> {
    let socket = socket.display().to_string();
    let args = ["node", what, "-o", "json", "--socket", socket.as_str()];
    let out = margayctl_command(None, &[])
        .args(args)
        .output()
        .map_err(|e| format!("running margayctl {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "margayctl {} ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "margayctl {} printed what is not its JSON ({e}): {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
