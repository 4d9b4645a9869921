//! What a daemon costs, read from procfs (proc(5)): CPU time from `/proc/PID/stat` (utime and
//! stime, fields 14 and 15, in clock ticks of `USER_HZ`, counting every thread) and memory from
//! `/proc/PID/status` (`VmRSS` now, `VmHWM` the peak resident set since the process started).

use std::time::Duration;

/// Clock ticks per second in `/proc/PID/stat`: the kernel reports in `USER_HZ`, which is 100
/// on every Linux architecture margay runs on (proc(5), `sysconf(_SC_CLK_TCK)`).
const USER_HZ: u64 = 100;

/// A procfs file could not be read or did not have the expected shape.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: no field {field} in {text:?}")]
    Field {
        path: String,
        field: &'static str,
        text: String,
    },
}

/// One reading of a process's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcSample {
    /// User plus system CPU time so far.
    pub cpu: Duration,
    /// Resident set now, in bytes.
    pub rss: u64,
    /// Peak resident set since start, in bytes.
    pub peak_rss: u64,
}

impl ProcSample {
    /// Reads the counters of `pid`.
    pub fn read(pid: u32) -> Result<Self, ProcError> {
        let stat_path = format!("/proc/{pid}/stat");
        let stat = read(&stat_path)?;
        let status_path = format!("/proc/{pid}/status");
        let status = read(&status_path)?;
        Ok(ProcSample {
            cpu: cpu_time(&stat).ok_or_else(|| ProcError::Field {
                path: stat_path,
                field: "utime/stime",
                text: stat.clone(),
            })?,
            rss: status_kib(&status, "VmRSS:")
                .ok_or_else(|| field(&status_path, "VmRSS", &status))?
                * 1024,
            peak_rss: status_kib(&status, "VmHWM:")
                .ok_or_else(|| field(&status_path, "VmHWM", &status))?
                * 1024,
        })
    }

    /// The sum over several processes (FRR's bgpd and zebra).
    pub fn read_all(pids: &[u32]) -> Result<Self, ProcError> {
        pids.iter().try_fold(ProcSample::default(), |sum, pid| {
            let s = ProcSample::read(*pid)?;
            Ok(ProcSample {
                cpu: sum.cpu + s.cpu,
                rss: sum.rss + s.rss,
                peak_rss: sum.peak_rss + s.peak_rss,
            })
        })
    }
}

fn read(path: &str) -> Result<String, ProcError> {
    std::fs::read_to_string(path).map_err(|source| ProcError::Read {
        path: path.to_owned(),
        source,
    })
}

fn field(path: &str, field: &'static str, text: &str) -> ProcError {
    ProcError::Field {
        path: path.to_owned(),
        field,
        text: text.to_owned(),
    }
}

/// utime + stime from a `/proc/PID/stat` line. The command name (field 2) is in parentheses
/// and may hold spaces, so fields are counted from the last `)`: state is field 3.
fn cpu_time(stat: &str) -> Option<Duration> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// The value of a `Key:   1234 kB` line of `/proc/PID/status`, in KiB.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_counts_from_the_last_parenthesis() {
        // A line in the layout of proc(5) whose command name holds a space and a parenthesis.
        let stat = "4242 (bi) rd) S 1 4242 4242 0 -1 4194560 2185 0 0 0 37 12 0 0 20 0 1 0 \
                    123456 12345678 3456 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(cpu_time(stat), Some(Duration::from_millis(490)));
        assert_eq!(cpu_time("4242 (bird S 1"), None);
    }

    #[test]
    fn status_values_are_in_kib() {
        let status = "Name:\tbird\nVmHWM:\t   14336 kB\nVmRSS:\t   9216 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(14336));
        assert_eq!(status_kib(status, "VmRSS:"), Some(9216));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_this_process() {
        let s = ProcSample::read(std::process::id()).unwrap();
        assert!(s.peak_rss >= s.rss && s.rss > 0, "{s:?}");
    }
}
