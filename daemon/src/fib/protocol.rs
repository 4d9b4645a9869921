//! margay's route protocol number and its name for iproute2, so `ip route show proto margay`
//! works (iproute2 reads every `*.conf` in `/etc/iproute2/rt_protos.d/`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::FibError;

/// margay's `rtm_protocol`: unused by the kernel's `RTPROT_*`, iproute2's `rt_protos` and FRR's
/// `rt_protos.d/frr.conf` (checked on Debian 12, iproute2 6.1, FRR 8.4).
pub const PROTOCOL: u8 = 77;
/// Its name.
pub const PROTOCOL_NAME: &str = "margay";
/// Where iproute2 looks for extra protocol names.
pub const RT_PROTOS_DIR: &str = "/etc/iproute2/rt_protos.d";

/// Writes `<dir>/margay.conf` naming `number`, unless it already says exactly that. Written
/// to a temporary file and renamed, so concurrent writers and readers never see half a file.
/// Returns whether the file was (re)written.
pub fn register_protocol(dir: &Path, number: u8) -> Result<bool, FibError> {
    let path: PathBuf = dir.join(format!("{PROTOCOL_NAME}.conf"));
    let content = format!(
        "# written by margay-node: routes of the margay FIB writer\n{number}\t{PROTOCOL_NAME}\n"
    );
    if std::fs::read_to_string(&path).is_ok_and(|c| c == content) {
        return Ok(false);
    }
    let err = |source| FibError::Register {
        number,
        name: PROTOCOL_NAME.into(),
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    // Unique per writer, so concurrent registrations in one process never share a file.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{PROTOCOL_NAME}.conf.{}.{n}.tmp",
        std::process::id()
    ));
    std::fs::write(&tmp, &content).map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_is_idempotent() {
        let test_dir = margay_tests::TestDir::new("rt-protos");
        let dir = test_dir.path().join("rt_protos.d");
        assert!(register_protocol(&dir, 77).unwrap(), "first write");
        assert!(
            !register_protocol(&dir, 77).unwrap(),
            "second call finds it in place"
        );
        let text = std::fs::read_to_string(dir.join("margay.conf")).unwrap();
        assert!(text.lines().any(|l| l == "77\tmargay"), "{text}");
        assert!(
            register_protocol(&dir, 78).unwrap(),
            "a different number rewrites it"
        );
    }
}
