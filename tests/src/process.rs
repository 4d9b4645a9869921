//! `Process`: a daemon started by a test, inside a namespace (`ip netns exec` execs, so the
//! child's PID is the daemon's own) or on the root namespace's loopback. Its stdout and stderr
//! go to `<testdir>/<label>.log`; on drop it gets SIGTERM, then SIGKILL, and is reaped; if the
//! test is failing, the tail of its log is printed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a process gets to exit after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);
/// Lines of log printed when a test fails.
const TAIL_LINES: usize = 30;

/// A running child process, killed by PID on drop.
#[derive(Debug)]
pub struct Process {
    child: Child,
    label: String,
    log: PathBuf,
}

impl Process {
    /// Starts `argv` (inside namespace `netns` when given) logging to `<log_dir>/<label>.log`.
    pub fn spawn(netns: Option<&str>, log_dir: &Path, label: &str, argv: &[&str]) -> Self {
        let log = log_dir.join(format!("{label}.log"));
        let out = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let err = out.try_clone().expect("cloning log file handle");
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).args(argv);
                c
            }
            None => {
                let mut c = Command::new(argv[0]);
                c.args(&argv[1..]);
                c
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {label} ({}): {e}", argv.join(" ")));
        Process {
            child,
            label: label.to_owned(),
            log,
        }
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The label given at spawn.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Path of the combined stdout/stderr log.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Sends a signal (e.g. SIGSTOP to freeze a BGP peer, SIGCONT to resume it).
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid() as i32), signal)
            .unwrap_or_else(|e| panic!("signalling {} ({}): {e}", self.label, self.pid()));
    }

    /// Whether the process is still running (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process at once (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the process: SIGTERM, then SIGKILL after a grace period; reaps it.
    pub fn stop(&mut self) {
        if !self.is_running() {
            return;
        }
        let _ = kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM);
        let exited = crate::wait::try_wait_until(TERM_GRACE, || {
            if self.is_running() {
                Err("still running after SIGTERM".into())
            } else {
                Ok(())
            }
        });
        if exited.is_err() {
            self.kill();
        }
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "---- last {TAIL_LINES} lines of {} (pid {}, {}) ----\n{}\n----",
                self.label,
                self.pid(),
                self.log.display(),
                self.log_tail(TAIL_LINES)
            );
        }
    }
}
