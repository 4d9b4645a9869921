//! `Margayctl`: the CLI run inside a namespace that reaches etcd (where etcd listens, or any
//! node), with the endpoint given as `MARGAY_ETCD_ENDPOINTS`; every other `MARGAY_*` variable
//! of the test's environment is removed so the test alone decides what the CLI sees.

use std::process::{Command, Output};

use crate::netns::Netns;
use crate::testdir::TestDir;

use super::bins::workspace_bin;

/// margayctl against one etcd, from one namespace.
#[derive(Debug, Clone)]
pub struct Margayctl {
    netns: String,
    endpoint: String,
}

/// Runs `margayctl` (`netns`: inside that namespace) with only the given `MARGAY_*` variables.
pub(super) fn margayctl_command(netns: Option<&str>, env: &[(&str, &str)]) -> Command {
    let bin = workspace_bin("margayctl");
    let mut command = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    for (key, _) in std::env::vars() {
        if key.starts_with("MARGAY_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    command
}

/// `margayctl ARGS` as one line, for messages.
fn shown(args: &[&str]) -> String {
    format!("margayctl {}", args.join(" "))
}

impl Margayctl {
    /// margayctl inside `ns`, talking to etcd at `endpoint` (`http://IP:PORT`).
    pub fn new(ns: &Netns, endpoint: &str) -> Self {
        Margayctl {
            netns: ns.name().to_owned(),
            endpoint: endpoint.to_owned(),
        }
    }

    /// The etcd endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Runs `margayctl ARGS` and returns what happened, success or not.
    pub fn run(&self, args: &[&str]) -> Output {
        margayctl_command(
            Some(&self.netns),
            &[("MARGAY_ETCD_ENDPOINTS", &self.endpoint)],
        )
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", shown(args)))
    }

    /// Runs `margayctl ARGS`; returns stdout, panics with stderr if it failed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{} failed ({}): {}{stdout}",
            shown(args),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs `margayctl ARGS`, which must fail; returns stderr, panics if it succeeded.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "{} should have failed, printed: {}",
            shown(args),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Writes `yaml` to `<dir>/<file>` and applies it; returns what margayctl printed.
    pub fn apply(&self, dir: &TestDir, file: &str, yaml: &str) -> String {
        let path = dir.write(file, yaml);
        self.ok(&["apply", "-f", path.to_str().expect("utf-8 test path")])
    }
}
