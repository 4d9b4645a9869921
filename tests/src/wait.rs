//! Polling with a deadline: the only way tests wait for something. A probe returns `Ok(value)`
//! when the condition holds and `Err(state)` describing what it saw otherwise; on timeout the
//! last state seen goes into the failure message.

use std::time::{Duration, Instant};

/// How often a condition is probed.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Polls `probe` until it returns `Ok` or `timeout` passes; returns the last state on timeout.
pub fn try_wait_until<T>(
    timeout: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return Ok(value),
            Err(state) if Instant::now() >= deadline => return Err(state),
            Err(_) => std::thread::sleep(POLL_INTERVAL),
        }
    }
}

/// Polls `probe` until it returns `Ok`; panics after `timeout` with `what` and the last state.
pub fn wait_until<T>(timeout: Duration, what: &str, probe: impl FnMut() -> Result<T, String>) -> T {
    try_wait_until(timeout, probe).unwrap_or_else(|state| {
        panic!("timed out after {timeout:?} waiting for {what}; last state seen:\n{state}")
    })
}

/// [`wait_until`] for async code: the probe is an async closure (it may await, e.g. a query
/// to a task on the same runtime), and the polling sleeps are tokio sleeps, so the tasks the
/// test waits on keep running.
pub async fn wait_until_async<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(state) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last state seen:\n{state}")
            }
            Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_value_once_condition_holds() {
        let mut n = 0;
        let v = wait_until(Duration::from_secs(5), "n to reach 3", || {
            n += 1;
            if n >= 3 {
                Ok(n)
            } else {
                Err(format!("n = {n}"))
            }
        });
        assert_eq!(v, 3);
    }

    #[test]
    fn timeout_reports_last_state() {
        let r: Result<(), String> =
            try_wait_until(Duration::from_millis(60), || Err("still red".into()));
        assert_eq!(r, Err("still red".into()));
    }

    #[test]
    #[should_panic(expected = "waiting for the light to turn green; last state seen:\nred")]
    fn wait_until_panics_with_what_and_state() {
        wait_until(Duration::from_millis(30), "the light to turn green", || {
            Err::<(), _>("red".into())
        });
    }
}
