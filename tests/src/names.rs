//! Unique names for namespaces and directories: `mg-<tag>-<pid>-<counter>`, so that tests
//! running in parallel (threads of one binary, or several binaries) never clash, and so that a
//! namespace left behind by a killed test process can be recognised by its dead PID and swept.

use std::sync::atomic::{AtomicU32, Ordering};

/// Every namespace the harness creates starts with this.
pub const NAME_PREFIX: &str = "mg-";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh name `mg-<tag>-<pid>-<n>`; `tag` is shortened so names stay readable.
pub(crate) fn unique(tag: &str) -> String {
    let tag: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(12)
        .collect();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{NAME_PREFIX}{tag}-{}-{n}", std::process::id())
}

/// The PID encoded in a harness name, if it is one.
pub(crate) fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let mut parts = rest.rsplitn(3, '-');
    let _counter: u32 = parts.next()?.parse().ok()?;
    parts.next()?.parse().ok()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Harness namespaces that belong to process `pid` (used to prove that a test cleaned up).
pub fn leftovers_of(pid: u32) -> Vec<String> {
    crate::netns::list()
        .into_iter()
        .filter(|n| owner_pid(n) == Some(pid))
        .collect()
}

/// Deletes harness namespaces whose owning test process no longer exists (it was killed before
/// its guards could run). Called once per process when the first namespace is made.
pub fn sweep_stale() {
    for name in crate::netns::list() {
        if let Some(pid) = owner_pid(&name)
            && !alive(pid)
        {
            crate::netns::destroy(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_carry_pid_and_parse_back() {
        let a = unique("bird-peer");
        let b = unique("bird-peer");
        assert_ne!(a, b);
        assert_eq!(owner_pid(&a), Some(std::process::id()));
        assert!(a.starts_with("mg-birdpeer-"));
    }

    #[test]
    fn foreign_names_have_no_owner() {
        assert_eq!(owner_pid("blue"), None);
        assert_eq!(owner_pid("mg-x-notapid-1"), None);
    }
}
