//! `Etcd`: a real etcd (Debian `etcd-server`) for a test, on the root namespace's loopback with
//! free ports (or inside a test namespace), data on /dev/shm with `--unsafe-no-fsync`, healthy
//! before `start` returns. It can be stopped and started again on the same data and ports, for
//! tests of what happens while the datastore is away.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use crate::cmd::run;
use crate::netns::Netns;
use crate::process::Process;
use crate::testdir::TestDir;

/// How long etcd may take to become healthy.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How to run etcd beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct EtcdOptions {
    /// Run inside this namespace (by name), listening on `listen_ip` with the standard ports.
    pub netns: Option<String>,
    /// The address to listen on; loopback when not given.
    pub listen_ip: Option<IpAddr>,
    /// Serve clients over TLS: `--cert-file`, `--key-file`, `--trusted-ca-file` and
    /// `--client-cert-auth` are the caller's `extra_args`; this only switches the URL scheme.
    pub tls: bool,
    /// More `etcd` flags.
    pub extra_args: Vec<String>,
    /// Flags `etcdctl` needs to talk to this etcd (certificates, user) in health checks.
    pub etcdctl_args: Vec<String>,
}

/// A running etcd, stopped and its data removed on drop.
#[derive(Debug)]
pub struct Etcd {
    process: Option<Process>,
    options: EtcdOptions,
    log_dir: PathBuf,
    data_dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    starts: u32,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("finding a free loopback port")
}

impl Etcd {
    /// Starts etcd on loopback with free ports.
    pub fn start(dir: &TestDir) -> Self {
        Self::start_with(dir, EtcdOptions::default())
    }

    /// Starts etcd inside `ns`, listening on `ip` (ports 2379/2380, free in a new namespace).
    pub fn start_in(dir: &TestDir, ns: &Netns, ip: IpAddr) -> Self {
        Self::start_with(
            dir,
            EtcdOptions {
                netns: Some(ns.name().to_owned()),
                listen_ip: Some(ip),
                ..Default::default()
            },
        )
    }

    /// Starts etcd with `options`.
    pub fn start_with(dir: &TestDir, options: EtcdOptions) -> Self {
        let (client_port, peer_port) = match options.netns {
            Some(_) => (2379, 2380),
            None => (free_port(), free_port()),
        };
        let data_dir = PathBuf::from("/dev/shm").join(crate::names::unique("etcd"));
        let mut etcd = Etcd {
            process: None,
            options,
            log_dir: dir.path().to_owned(),
            data_dir,
            client_port,
            peer_port,
            starts: 0,
        };
        etcd.start_again();
        etcd
    }

    fn ip(&self) -> IpAddr {
        self.options
            .listen_ip
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    fn url(&self, port: u16) -> String {
        let scheme = if self.options.tls { "https" } else { "http" };
        match self.ip() {
            IpAddr::V4(ip) => format!("{scheme}://{ip}:{port}"),
            IpAddr::V6(ip) => format!("{scheme}://[{ip}]:{port}"),
        }
    }

    /// The client URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> String {
        self.url(self.client_port)
    }

    /// Runs `etcdctl` against this etcd (in its namespace when it has one).
    pub fn ctl(&self, args: &[&str]) -> Result<String, crate::cmd::CmdError> {
        let endpoint = format!("--endpoints={}", self.endpoint());
        let mut argv: Vec<&str> = Vec::new();
        if let Some(ns) = &self.options.netns {
            argv.extend(["ip", "netns", "exec", ns.as_str()]);
        }
        argv.extend([
            "etcdctl",
            "--dial-timeout=1s",
            "--command-timeout=3s",
            endpoint.as_str(),
        ]);
        argv.extend(self.options.etcdctl_args.iter().map(String::as_str));
        argv.extend_from_slice(args);
        run(&argv)
    }

    /// Starts (again) on the same data directory and ports; returns once healthy.
    pub fn start_again(&mut self) {
        assert!(self.process.is_none(), "etcd is already running");
        self.starts += 1;
        let name = "margay-test";
        let peer = self.url(self.peer_port).replace("https://", "http://");
        let client = self.endpoint();
        let mut argv: Vec<String> = vec![
            "etcd".into(),
            format!("--name={name}"),
            format!("--data-dir={}", self.data_dir.display()),
            format!("--listen-client-urls={client}"),
            format!("--advertise-client-urls={client}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster={name}={peer}"),
            "--unsafe-no-fsync".into(),
            "--logger=zap".into(),
            "--log-level=warn".into(),
        ];
        argv.extend(self.options.extra_args.iter().cloned());
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let label = format!("etcd-{}", self.starts);
        let mut process =
            Process::spawn(self.options.netns.as_deref(), &self.log_dir, &label, &argv);
        let ready = crate::wait::try_wait_until(READY_TIMEOUT, || {
            if !process.is_running() {
                return Ok(Err(format!("etcd exited:\n{}", process.log_tail(20))));
            }
            match self.ctl(&["endpoint", "health"]) {
                Ok(_) => Ok(Ok(())),
                Err(e) => Err(e.to_string()),
            }
        });
        match ready {
            Ok(Ok(())) => self.process = Some(process),
            Ok(Err(state)) | Err(state) => {
                panic!("etcd at {client} did not become healthy: {state}")
            }
        }
    }

    /// Stops etcd (SIGTERM, then SIGKILL); data and ports are kept for `start_again`.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }

    /// Kills etcd at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// PID of the running etcd.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Process::pid)
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
