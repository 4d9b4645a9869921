//! Bounded exponential backoff with jitter, for CAS conflicts and reconnects.

use std::time::Duration;

use rand::Rng;

/// Doubling delays from `initial` up to `max`, each with ±50 % jitter so racing writers spread.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    initial: Duration,
    max: Duration,
}

impl Backoff {
    /// A backoff from `initial` to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            next: initial,
            initial,
            max,
        }
    }

    /// For CAS conflicts: 1 ms to 100 ms.
    pub fn conflicts() -> Self {
        Self::new(Duration::from_millis(1), Duration::from_millis(100))
    }

    /// For reconnects: 50 ms to 2 s.
    pub fn reconnects() -> Self {
        Self::new(Duration::from_millis(50), Duration::from_secs(2))
    }

    /// The next delay (and advances).
    pub fn delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        let jitter = rand::rng().random_range(0.5..1.5);
        base.mul_f64(jitter)
    }

    /// Waits for the next delay.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.delay()).await;
    }

    /// Back to the initial delay (after a success).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}
