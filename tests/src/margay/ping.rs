//! Pod-to-Pod pings with the loss counted per ICMP sequence number: a burst
//! (`ping -i 0.01 -c N`, waits for every reply) or a continuous 10 ms ping started before a
//! change and stopped (SIGINT) after it. `-D -O` timestamps every reply and reports each
//! unanswered request, so the log shows when the loss happened.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::process::Process;
use crate::testdir::TestDir;
use crate::topology::Pod;
use crate::wait::try_wait_until;

/// Interval between echo requests.
const INTERVAL: &str = "0.01";
/// How long a burst waits for the last reply.
const LINGER_SECONDS: &str = "1";
/// How long ping may take to print its summary after SIGINT.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// What a ping run saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PingStats {
    /// Echo requests sent (ping's summary).
    pub transmitted: u32,
    /// Distinct sequence numbers answered.
    pub received: u32,
    /// Sequence numbers without a reply although a later one was answered: lost.
    pub lost: Vec<u32>,
    /// Requests after the last answered one (in flight when a continuous ping was stopped;
    /// lost in a burst, which waits for its replies).
    pub unanswered_at_end: u32,
    /// ICMP errors received (`From 10.0.0.1 icmp_seq=5 Destination Host Unreachable`).
    pub errors: Vec<String>,
    /// The longest time between two consecutive replies (a flip that loses k packets shows
    /// about (k + 1) intervals).
    pub longest_gap: Option<Duration>,
    /// Average round-trip time (ping's `rtt min/avg/max/mdev` line); `None` without replies.
    pub rtt_avg: Option<Duration>,
}

impl PingStats {
    /// Every request not answered, wherever it was.
    pub fn unanswered(&self) -> u32 {
        self.transmitted.saturating_sub(self.received)
    }

    /// Parses ping's output (`-n -D -O`).
    pub fn parse(output: &str) -> Result<PingStats, String> {
        let mut stats = PingStats::default();
        let mut replied = BTreeSet::new();
        let mut last_reply_at: Option<f64> = None;
        let mut longest_gap = 0.0_f64;
        let mut summary = false;
        for line in output.lines() {
            if let Some(transmitted) = line
                .split(" packets transmitted")
                .next()
                .filter(|_| line.contains(" packets transmitted"))
            {
                stats.transmitted = transmitted
                    .trim()
                    .parse()
                    .map_err(|e| format!("bad ping summary {line:?}: {e}"))?;
                summary = true;
            } else if line.contains("bytes from") {
                let Some(seq) = field(line, "icmp_seq=") else {
                    continue;
                };
                if !replied.insert(seq) {
                    continue; // (DUP!)
                }
                if let Some(at) = timestamp(line) {
                    if let Some(before) = last_reply_at {
                        longest_gap = longest_gap.max(at - before);
                    }
                    last_reply_at = Some(at);
                }
            } else if let Some(rtt) = line.strip_prefix("rtt min/avg/max/mdev = ") {
                stats.rtt_avg = rtt
                    .split('/')
                    .nth(1)
                    .and_then(|ms| ms.parse::<f64>().ok())
                    .map(|ms| Duration::from_secs_f64(ms / 1e3));
            } else if line.contains("From ") && line.contains("icmp_seq=") {
                stats.errors.push(line.trim().to_owned());
            }
        }
        if !summary {
            return Err(format!("no ping summary in:\n{output}"));
        }
        stats.received = replied.len() as u32;
        let last = replied.last().copied().unwrap_or(0);
        stats.lost = (1..last).filter(|s| !replied.contains(s)).collect();
        stats.unanswered_at_end = stats.transmitted.saturating_sub(last);
        stats.longest_gap = last_reply_at.map(|_| Duration::from_secs_f64(longest_gap));
        Ok(stats)
    }
}

/// The number after `key` (`icmp_seq=` → 12).
fn field(line: &str, key: &str) -> Option<u32> {
    let rest = &line[line.find(key)? + key.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The `-D` timestamp `[1795690466.183272]` at the start of a line, in seconds.
fn timestamp(line: &str) -> Option<f64> {
    line.strip_prefix('[')?.split(']').next()?.parse().ok()
}

impl fmt::Display for PingStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sent, {} answered, {} lost {:?}, {} unanswered at the end, {} ICMP errors",
            self.transmitted,
            self.received,
            self.lost.len(),
            self.lost,
            self.unanswered_at_end,
            self.errors.len()
        )?;
        if let Some(gap) = self.longest_gap {
            write!(
                f,
                ", longest gap between replies {:.1} ms",
                gap.as_secs_f64() * 1e3
            )?;
        }
        Ok(())
    }
}

/// Pings `dst` from `pod` `count` times, 10 ms apart, waiting for the last reply.
pub fn ping_burst(pod: &Pod, dst: Ipv4Addr, count: u32) -> PingStats {
    let count = count.to_string();
    let dst = dst.to_string();
    let argv = [
        "ping",
        "-n",
        "-D",
        "-O",
        "-i",
        INTERVAL,
        "-c",
        &count,
        "-W",
        LINGER_SECONDS,
        &dst,
    ];
    let out = Command::new("ip")
        .args(["netns", "exec", pod.ns.name()])
        .args(argv)
        .output()
        .unwrap_or_else(|e| panic!("running {} in {}: {e}", argv.join(" "), pod.ns.name()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    PingStats::parse(&stdout).unwrap_or_else(|e| {
        panic!(
            "{} from {}: {e}\n{}",
            argv.join(" "),
            pod.ip,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A burst of `count` from every Pod to every other; `Err` names each pair that lost
/// anything (usable as a `wait_until` probe while routes converge).
pub fn ping_matrix(pods: &[&Pod], count: u32) -> Result<(), String> {
    let mut failed = Vec::new();
    for from in pods {
        for to in pods.iter().filter(|to| to.ip != from.ip) {
            let stats = ping_burst(from, to.ip, count);
            if stats.unanswered() > 0 || !stats.errors.is_empty() {
                failed.push(format!("{} → {}: {stats}", from.ip, to.ip));
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("\n"))
    }
}

/// A 10 ms ping running in the background from a Pod.
#[derive(Debug)]
pub struct ContinuousPing {
    process: Process,
    what: String,
}

impl ContinuousPing {
    /// Starts pinging `dst` from `pod` every 10 ms (log: `<dir>/<label>.log`).
    pub fn start(dir: &TestDir, label: &str, pod: &Pod, dst: Ipv4Addr) -> Self {
        let dst_text = dst.to_string();
        let process = pod.ns.spawn(
            dir,
            label,
            &["ping", "-n", "-D", "-O", "-i", INTERVAL, &dst_text],
        );
        ContinuousPing {
            process,
            what: format!("ping {} → {dst}", pod.ip),
        }
    }

    /// Echo requests answered so far (to wait until the ping is under way).
    pub fn replies_so_far(&self) -> usize {
        self.process
            .log()
            .lines()
            .filter(|l| l.contains("bytes from"))
            .count()
    }

    /// Stops it with SIGINT and returns what it saw.
    pub fn stop(mut self) -> PingStats {
        self.process.signal(Signal::SIGINT);
        let exited = try_wait_until(STOP_TIMEOUT, || {
            if self.process.is_running() {
                Err("still running after SIGINT".to_owned())
            } else {
                Ok(())
            }
        });
        if let Err(state) = exited {
            panic!("{}: {state}\n{}", self.what, self.process.log_tail(10));
        }
        PingStats::parse(&self.process.log()).unwrap_or_else(|e| panic!("{}: {e}", self.what))
    }
}

/// Waits until each of `pings` has `more` replies beyond what it had when called (the ping is
/// under way, or it goes on after a change); fails with the counts seen.
pub fn wait_for_replies(pings: &[&ContinuousPing], more: usize, timeout: Duration) {
    let start: Vec<usize> = pings.iter().map(|p| p.replies_so_far()).collect();
    crate::wait::wait_until(timeout, &format!("{more} more ping replies"), || {
        let now: Vec<usize> = pings.iter().map(|p| p.replies_so_far()).collect();
        if now.iter().zip(&start).all(|(n, s)| *n >= s + more) {
            Ok(())
        } else {
            let what: Vec<&str> = pings.iter().map(|p| p.what.as_str()).collect();
            Err(format!("{what:?}: replies {start:?} → {now:?}"))
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lost_sequence_numbers_gaps_and_the_tail() {
        let out = "PING 10.244.1.2 (10.244.1.2) 56(84) bytes of data.\n\
[1000.000] 64 bytes from 10.244.1.2: icmp_seq=1 ttl=62 time=0.1 ms\n\
[1000.010] no answer yet for icmp_seq=2\n\
[1000.020] no answer yet for icmp_seq=3\n\
[1000.030] 64 bytes from 10.244.1.2: icmp_seq=4 ttl=62 time=0.1 ms\n\
[1000.030] 64 bytes from 10.244.1.2: icmp_seq=4 ttl=62 time=0.1 ms (DUP!)\n\
[1000.035] From 172.18.1.1 icmp_seq=5 Destination Host Unreachable\n\
[1000.060] 64 bytes from 10.244.1.2: icmp_seq=6 ttl=62 time=0.1 ms\n\
\n--- 10.244.1.2 ping statistics ---\n\
7 packets transmitted, 3 received, +1 duplicates, +1 errors, 57% packet loss, time 70ms\n\
rtt min/avg/max/mdev = 0.100/0.250/0.400/0.050 ms\n";
        let stats = PingStats::parse(out).unwrap();
        assert_eq!(stats.transmitted, 7);
        assert_eq!(stats.received, 3);
        assert_eq!(stats.lost, vec![2, 3, 5]);
        assert_eq!(stats.unanswered_at_end, 1);
        assert_eq!(stats.unanswered(), 4);
        assert_eq!(stats.errors.len(), 1);
        let gap = stats.longest_gap.unwrap().as_secs_f64();
        assert!((gap - 0.030).abs() < 1e-6, "{gap}");
        assert_eq!(stats.rtt_avg, Some(Duration::from_micros(250)));
    }

    #[test]
    fn nothing_answered_is_all_unanswered_and_no_summary_is_an_error() {
        let out =
            "--- x ping statistics ---\n5 packets transmitted, 0 received, 100% packet loss\n";
        let stats = PingStats::parse(out).unwrap();
        assert_eq!((stats.lost.len(), stats.unanswered_at_end), (0, 5));
        assert_eq!((stats.longest_gap, stats.rtt_avg), (None, None));
        assert!(PingStats::parse("PING x\n").is_err());
    }
}
