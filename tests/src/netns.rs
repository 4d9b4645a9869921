//! `Netns`: a network namespace owned by a test. Created with `ip netns add` (the root
//! namespace is never configured), and on drop every process inside it is killed by PID before
//! the namespace is deleted — `ip netns del` alone only removes the name while a process still
//! holds the namespace and its veths alive.

use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use crate::cmd::{CmdError, run, run_ok};
use crate::process::Process;
use crate::testdir::TestDir;

/// Where `ip netns` keeps its named namespaces.
const NETNS_DIR: &str = "/run/netns";

static SWEEP: Once = Once::new();

/// A network namespace, deleted (with everything running in it) on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a namespace named `mg-<tag>-<pid>-<n>` with loopback up.
    pub fn new(tag: &str) -> Self {
        SWEEP.call_once(crate::names::sweep_stale);
        let name = crate::names::unique(tag);
        run_ok(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.ip("link set lo up");
        ns
    }

    /// The namespace's name, for `ip -n` / `ip netns exec`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `argv` inside the namespace; returns stdout or an error with the output.
    pub fn try_exec(&self, argv: &[&str]) -> Result<String, CmdError> {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(argv);
        run(&full)
    }

    /// Runs `argv` inside the namespace; panics if it fails.
    pub fn exec(&self, argv: &[&str]) -> String {
        self.try_exec(argv)
            .unwrap_or_else(|e| panic!("in {}: {e}", self.name))
    }

    /// Runs `ip -n <ns> <args>` (args split on whitespace); panics if it fails.
    pub fn ip(&self, args: &str) -> String {
        let mut full = vec!["ip", "-n", &self.name];
        full.extend(args.split_whitespace());
        run_ok(&full)
    }

    /// Sets a sysctl inside the namespace (e.g. `net.ipv4.ip_forward`, `1`).
    pub fn sysctl(&self, key: &str, value: &str) {
        self.exec(&["sysctl", "-qw", &format!("{key}={value}")]);
    }

    /// Reads a sysctl inside the namespace.
    pub fn sysctl_get(&self, key: &str) -> String {
        self.exec(&["sysctl", "-n", key]).trim().to_owned()
    }

    /// Adds an address (`10.0.0.1/24` or `fd00::1/64`, IPv6 without duplicate address
    /// detection, so it is usable at once) and sets the link up.
    pub fn addr_add(&self, ifname: &str, cidr: &str) {
        let nodad = if cidr.contains(':') { " nodad" } else { "" };
        self.ip(&format!("addr add {cidr} dev {ifname}{nodad}"));
        self.link_up(ifname);
    }

    /// Sets a link up.
    pub fn link_up(&self, ifname: &str) {
        self.ip(&format!("link set {ifname} up"));
    }

    /// Adds a route: `route_add("10.1.0.0/24 via 10.0.0.254")`.
    pub fn route_add(&self, spec: &str) {
        let family = if spec.contains(':') { "-6 " } else { "" };
        self.ip(&format!("{family}route add {spec}"));
    }

    /// The routes of the main table (`ip route show` with extra args, e.g. `proto bird`).
    pub fn routes(&self, args: &str) -> String {
        self.ip(&format!("route show {args}"))
    }

    /// Creates a veth pair with `local` here and `remote` in `other`, both up.
    pub fn veth_to(&self, other: &Netns, local: &str, remote: &str) {
        self.ip(&format!(
            "link add {local} type veth peer name {remote} netns {}",
            other.name
        ));
        self.link_up(local);
        other.link_up(remote);
    }

    /// Creates a bridge (an L2 segment), up, with no STP delay.
    pub fn bridge_add(&self, name: &str) {
        self.ip(&format!(
            "link add {name} type bridge forward_delay 0 stp_state 0"
        ));
        self.link_up(name);
    }

    /// Puts `ifname` into `bridge`.
    pub fn enslave(&self, ifname: &str, bridge: &str) {
        self.ip(&format!("link set {ifname} master {bridge}"));
        self.link_up(ifname);
    }

    /// Starts `argv` inside the namespace with its output logged to `<dir>/<label>.log`.
    pub fn spawn(&self, dir: &TestDir, label: &str, argv: &[&str]) -> Process {
        Process::spawn(Some(&self.name), dir.path(), label, argv)
    }

    /// A `TcpExt` counter of the namespace's `/proc/net/netstat` (e.g. `TCPMD5Failure`).
    pub fn tcp_ext(&self, counter: &str) -> u64 {
        let netstat = self.exec(&["cat", "/proc/net/netstat"]);
        let mut rows = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
        let (names, values) = (
            rows.next().unwrap_or_default(),
            rows.next().unwrap_or_default(),
        );
        names
            .split_whitespace()
            .zip(values.split_whitespace())
            .find(|(name, _)| *name == counter)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_else(|| panic!("no TcpExt counter {counter} in {}: {netstat}", self.name))
    }

    /// PIDs of every process inside the namespace.
    pub fn pids(&self) -> Vec<u32> {
        pids(&self.name)
    }

    /// Runs `f` on a fresh thread that has entered this namespace (for netlink sockets and
    /// tokio runtimes that must live inside it), and returns its result. The calling thread
    /// and the rest of the process stay where they are.
    pub fn run_in<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        let path = Path::new(NETNS_DIR).join(&self.name);
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let file = std::fs::File::open(&path)
                        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
                    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                        .unwrap_or_else(|e| panic!("entering {}: {e}", path.display()));
                    f()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Netns {
    /// Runs `future` to completion on a single-threaded tokio runtime inside this namespace:
    /// sockets the future opens (netlink, BGP sessions, listeners) live in the namespace. The
    /// calling thread enters the namespace for the duration and returns to its own after, even
    /// if the future panics; the future need not be `Send`.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        let _inside = self.enter_current_thread();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("building a tokio runtime")
            .block_on(future)
    }

    /// Moves the calling thread into this namespace until the guard drops.
    fn enter_current_thread(&self) -> ThreadNetnsGuard {
        let own =
            std::fs::File::open("/proc/thread-self/ns/net").expect("opening this thread's netns");
        let path = Path::new(NETNS_DIR).join(&self.name);
        let target = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        nix::sched::setns(&target, nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("entering {}: {e}", path.display()));
        ThreadNetnsGuard { own }
    }
}

/// Returns the thread to the namespace it came from.
struct ThreadNetnsGuard {
    own: std::fs::File,
}

impl Drop for ThreadNetnsGuard {
    fn drop(&mut self) {
        if let Err(e) = nix::sched::setns(&self.own, nix::sched::CloneFlags::CLONE_NEWNET) {
            // Staying in a test namespace would misplace everything this thread does next.
            eprintln!("could not return the thread to its network namespace: {e}");
            std::process::abort();
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        destroy(&self.name);
    }
}

/// Names of all named namespaces on the machine.
pub(crate) fn list() -> Vec<String> {
    std::fs::read_dir(NETNS_DIR)
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn pids(name: &str) -> Vec<u32> {
    run(&["ip", "netns", "pids", name])
        .map(|out| {
            out.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Kills every process in the namespace (SIGKILL, by PID), waits until none is left, then
/// deletes it. Never panics: it runs in `Drop`, possibly while a test is unwinding.
pub(crate) fn destroy(name: &str) {
    let gone = crate::wait::try_wait_until(Duration::from_secs(10), || {
        let left = pids(name);
        for pid in &left {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("processes still in {name}: {left:?}"))
        }
    });
    if let Err(state) = gone {
        eprintln!("netns cleanup: {state}");
    }
    if let Err(e) = run(&["ip", "netns", "del", name]) {
        eprintln!("netns cleanup: {e}");
    }
}
