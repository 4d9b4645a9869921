//! How `scripts/lab down` finds the running lab: the lab writes a state file (its PID, its
//! directory, the namespaces it made) while it runs and removes it when it has torn down.
//! `down` asks the running lab to stop (SIGTERM, so its guards tear everything down), and
//! removes what a lab that died without tearing down (SIGKILL, a crash) left: its namespaces
//! with everything running in them, its etcd data and its directory.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// Where the running lab's state file is (`/run` is emptied on reboot, as are namespaces).
pub const STATE_FILE: &str = "/run/margay-lab.json";

/// How long a running lab gets to tear down after SIGTERM.
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// What the running lab wrote about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    /// PID of the `margay-lab` process.
    pub pid: u32,
    /// Its directory (configs, logs, API sockets).
    pub dir: PathBuf,
    /// Every namespace it made.
    pub namespaces: Vec<String>,
}

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another lab is still running.
    #[error(
        "a lab is already running (pid {pid}, state file {path}); stop it with `scripts/lab down`"
    )]
    Running {
        /// Its PID.
        pid: u32,
        /// The state file.
        path: PathBuf,
    },
    /// Reading, writing or removing the file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a lab state.
    #[error("{path} is not a lab state file ({source}); remove it by hand")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// The lab did not exit after SIGTERM.
    #[error("the lab (pid {pid}) did not exit within {TEARDOWN_TIMEOUT:?} of SIGTERM")]
    Stuck {
        /// Its PID.
        pid: u32,
    },
}

/// The state file of the running lab; removed on drop.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// Writes `state` to `path`, refusing if a live lab already owns it (a file left by a
    /// lab that died is replaced).
    pub fn create(path: &Path, state: &LabState) -> Result<StateFile, StateError> {
        ensure_none_running(path)?;
        let json = serde_json::to_string_pretty(state).expect("a lab state is plain data");
        std::fs::write(path, json).map_err(|source| StateError::Io {
            action: "writing",
            path: path.to_owned(),
            source,
        })?;
        Ok(StateFile {
            path: path.to_owned(),
        })
    }
}

impl Drop for StateFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `Err` if the state file at `path` names a lab that is still running.
pub fn ensure_none_running(path: &Path) -> Result<(), StateError> {
    match read(path)? {
        Some(old) if lab_alive(old.pid) => Err(StateError::Running {
            pid: old.pid,
            path: path.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Reads the state file, `None` if there is none.
pub fn read(path: &Path) -> Result<Option<LabState>, StateError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| StateError::Corrupt {
                path: path.to_owned(),
                source,
            }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io {
            action: "reading",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Whether `pid` is a live `margay-lab` (not merely a reused PID).
fn lab_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.trim() == "margay-lab")
}

/// What `down` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownOutcome {
    /// No state file: nothing was running.
    NothingRunning,
    /// The running lab tore itself down after SIGTERM.
    Stopped {
        /// Its PID.
        pid: u32,
    },
    /// The lab was gone; these namespaces (of its list) were still there and were removed.
    CleanedUp {
        /// Its PID.
        pid: u32,
        /// Namespaces removed.
        removed: Vec<String>,
    },
}

/// Stops the lab described by the state file at `path` and removes whatever it left behind.
pub fn down(path: &Path) -> Result<DownOutcome, StateError> {
    let Some(state) = read(path)? else {
        return Ok(DownOutcome::NothingRunning);
    };
    let mut stopped = false;
    if lab_alive(state.pid) {
        let _ = kill(Pid::from_raw(state.pid as i32), Signal::SIGTERM);
        crate::wait::try_wait_until(TEARDOWN_TIMEOUT, || {
            if lab_alive(state.pid) {
                Err("still running".to_owned())
            } else {
                Ok(())
            }
        })
        .map_err(|_| StateError::Stuck { pid: state.pid })?;
        stopped = true;
    }
    let removed = remove_leftovers(&state);
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(source) => {
            return Err(StateError::Io {
                action: "removing",
                path: path.to_owned(),
                source,
            });
        }
    }
    Ok(if stopped && removed.is_empty() {
        DownOutcome::Stopped { pid: state.pid }
    } else {
        DownOutcome::CleanedUp {
            pid: state.pid,
            removed,
        }
    })
}

/// Removes what the lab process `state.pid` made and left: its namespaces (those listed and
/// any other carrying its PID) with everything running in them, its etcd data directories
/// (`/dev/shm/mg-etcd-<pid>-<n>`), its test directories and `state.dir`. Returns the namespaces
/// removed.
pub fn remove_leftovers(state: &LabState) -> Vec<String> {
    let existing = crate::netns::list();
    let mut namespaces: Vec<String> = state
        .namespaces
        .iter()
        .filter(|ns| existing.contains(ns))
        .cloned()
        .collect();
    for ns in crate::names::leftovers_of(state.pid) {
        if !namespaces.contains(&ns) {
            namespaces.push(ns);
        }
    }
    for ns in &namespaces {
        crate::netns::destroy(ns);
    }
    for root in ["/dev/shm", crate::testdir::ROOT] {
        remove_owned_entries(Path::new(root), state.pid);
    }
    if !state.dir.as_os_str().is_empty() {
        let _ = std::fs::remove_dir_all(&state.dir);
    }
    namespaces
}

/// Removes the entries of `root` named `mg-<tag>-<pid>-<n>` (harness names) of process `pid`.
fn remove_owned_entries(root: &Path, pid: u32) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        if crate::names::owner_pid(&entry.file_name().to_string_lossy()) == Some(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(pid: u32, dir: &Path) -> LabState {
        LabState {
            pid,
            dir: dir.join("lab"),
            namespaces: vec!["mg-nonexistent-0-0".into()],
        }
    }

    #[test]
    fn state_round_trips_and_is_removed_on_drop() {
        let dir = crate::TestDir::new("labstate");
        let path = dir.file("state.json");
        let written = state(1, dir.path());
        {
            let _file = StateFile::create(&path, &written).unwrap();
            assert_eq!(read(&path).unwrap(), Some(written));
        }
        assert_eq!(read(&path).unwrap(), None);
    }

    #[test]
    fn down_without_a_state_file_says_nothing_runs() {
        let dir = crate::TestDir::new("labdown");
        assert_eq!(
            down(&dir.file("none.json")).unwrap(),
            DownOutcome::NothingRunning
        );
    }

    #[test]
    fn down_after_a_dead_lab_cleans_up_and_removes_the_file() {
        let dir = crate::TestDir::new("labdead");
        let path = dir.file("state.json");
        let lab_dir = dir.subdir("lab");
        // PID 0 is never a process: this lab is dead.
        let dead = state(0, dir.path());
        std::fs::write(&path, serde_json::to_string(&dead).unwrap()).unwrap();
        let file = StateFile::create(&path, &dead).expect("a dead lab's file is replaced");
        // The lab "dies" without removing its file.
        std::mem::forget(file);
        assert_eq!(
            down(&path).unwrap(),
            DownOutcome::CleanedUp {
                pid: 0,
                removed: vec![]
            }
        );
        assert!(!path.exists() && !lab_dir.exists());
    }

    #[test]
    fn corrupt_state_is_named() {
        let dir = crate::TestDir::new("labbad");
        let path = dir.write("state.json", "{not json");
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("is not a lab state file"), "{err}");
    }
}
