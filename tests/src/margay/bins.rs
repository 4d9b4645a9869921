//! Where the workspace's binaries (margay-node, margayctl) are: in cargo's output directory,
//! next to the test executable's `deps/` directory (or next to a binary of this crate such as
//! the lab, in target/debug or target/release), in `MARGAY_BIN_DIR` when set, else on `PATH`.

use std::path::PathBuf;

/// Overrides where the binaries are looked for.
const BIN_DIR_ENV: &str = "MARGAY_BIN_DIR";

/// The path of workspace binary `name`; panics naming where it looked and how to build it.
pub fn workspace_bin(name: &str) -> PathBuf {
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
