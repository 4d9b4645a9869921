//! Where the workspace's binaries (margay-node, margayctl) are: in cargo's output directory,
//! next to the test executable's `deps/` directory (or next to a binary of this crate such as
//! the lab, in target/debug or target/release), in `MARGAY_BIN_DIR` when set, else on `PATH`.
//!
//! `cargo test -p margay-tests` does not rebuild margay-daemon's binaries: when a source file of
//! the crates they are built from is newer than the binary found, a warning says so (shown
//! with the output of a failing test).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

/// Overrides where the binaries are looked for.
const BIN_DIR_ENV: &str = "MARGAY_BIN_DIR";
/// Source directories (relative to the workspace) the binaries are built from.
const SOURCES: [&str; 4] = ["daemon/src", "bgp/src", "vxlan/src", "ipam/src"];

/// Binaries found so far (each is looked up, and checked for staleness, once per process).
static FOUND: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();

/// The path of workspace binary `name`; panics naming where it looked and how to build it.
pub fn workspace_bin(name: &str) -> PathBuf {
    let found = FOUND.get_or_init(Default::default);
    let mut found = found
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    found
        .entry(name.to_owned())
        .or_insert_with(|| {
            let path = search(name);
            warn_if_stale(&path);
            path
        })
        .clone()
}

fn search(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        dirs.push(dir.into());
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        dirs.push(dir.to_owned());
        if let Some(up) = dir.parent() {
            dirs.push(up.to_owned());
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found in {dirs:?}: build it with \
                 `cargo build -p margay-daemon --bins` (`cargo test --workspace` does)"
            )
        })
}

/// The newest modification time of a file under `dir`.
fn newest(dir: &Path) -> Option<(SystemTime, PathBuf)> {
    let mut best: Option<(SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let candidate = if path.is_dir() {
            newest(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .map(|t| (t, path))
        };
        if let Some(c) = candidate
            && best.as_ref().is_none_or(|b| c.0 > b.0)
        {
            best = Some(c);
        }
    }
    best
}

/// A source file of the workspace newer than `binary`, if any (outside a source checkout,
/// e.g. an installed binary, there is nothing to compare with).
fn newer_source(binary: &Path) -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let built = std::fs::metadata(binary).and_then(|m| m.modified()).ok()?;
    SOURCES
        .iter()
        .filter_map(|dir| newest(&workspace.join(dir)))
        .filter(|(changed, _)| *changed > built)
        .max_by_key(|(changed, _)| *changed)
        .map(|(_, source)| source)
}

/// Warns when a source of the workspace is newer than `binary`.
fn warn_if_stale(binary: &Path) {
    if let Some(source) = newer_source(binary) {
        eprintln!(
            "warning: {} is older than {}: rebuild it with `cargo build -p margay-daemon --bins`",
            binary.display(),
            source.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_binary_older_than_the_sources_is_stale_and_a_new_one_is_not() {
        let dir = crate::testdir::TestDir::new("bins");
        let binary = dir.write("margay-node", "");
        let file = std::fs::File::options().write(true).open(&binary).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1))
            .unwrap();
        let source = newer_source(&binary).expect("the sources are newer than 1970");
        assert!(source.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()));
        file.set_modified(SystemTime::now() + Duration::from_secs(3600))
            .unwrap();
        assert_eq!(newer_source(&binary), None);
    }
}
