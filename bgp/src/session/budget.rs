//! Back-pressure on received routes: a bound on the routes that peer tasks have decoded and
//! handed to the speaker but the speaker has not yet taken in.
//!
//! A peer task decodes faster than the RIB applies routes: without a bound, a full table sent
//! at once sits decoded in the event queue (about 16 octets per prefix, a million-prefix table
//! 16 MB) while the RIB works through it. With a [`RouteBudget`], a peer task stops reading
//! its socket while the queued routes are at the limit (TCP then slows the peer down, as
//! with any receiver that does not read) and reads on once the speaker has caught up. Its
//! commands, timers and writes go on meanwhile.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Routes queued towards the speaker, shared by every peer task of a speaker.
#[derive(Debug)]
pub struct RouteBudget {
    queued: AtomicUsize,
    limit: usize,
    notify: Notify,
}

impl RouteBudget {
    /// A budget that pauses reading once `limit` routes are queued (at least 1).
    pub fn new(limit: usize) -> RouteBudget {
        RouteBudget {
            queued: AtomicUsize::new(0),
            limit: limit.max(1),
            notify: Notify::new(),
        }
    }

    /// A peer task queued `routes` more.
    pub(crate) fn queue(&self, routes: usize) {
        self.queued.fetch_add(routes, Ordering::AcqRel);
    }

    /// The speaker took in `routes` of the queued ones.
    pub fn take(&self, routes: usize) {
        let before = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(routes))
            })
            .unwrap_or_else(|q| q);
        if before >= self.limit && before.saturating_sub(routes) < self.limit {
            self.notify.notify_waiters();
        }
    }

    /// Routes queued now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Whether peer tasks should stop reading.
    pub fn exhausted(&self) -> bool {
        self.queued() >= self.limit
    }

    /// Returns once the queued routes are below the limit.
    pub async fn below_limit(&self) {
        loop {
            // Registered before the check: a `take` between the check and the await still
            // wakes this waiter.
            let notified = self.notify.notified();
            if !self.exhausted() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn poll_once(future: std::pin::Pin<&mut impl Future<Output = ()>>) -> Poll<()> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_waiter_resumes_once_the_speaker_takes_routes_below_the_limit() {
        let budget = RouteBudget::new(100);
        budget.queue(60);
        assert!(!budget.exhausted());
        assert_eq!(poll_once(pin!(budget.below_limit())), Poll::Ready(()));
        budget.queue(60);
        assert!(budget.exhausted());
        let mut waiter = pin!(budget.below_limit());
        assert_eq!(poll_once(waiter.as_mut()), Poll::Pending, "120 of 100");
        budget.take(10);
        assert_eq!(poll_once(waiter.as_mut()), Poll::Pending, "110 of 100");
        budget.take(60);
        assert_eq!(poll_once(waiter.as_mut()), Poll::Ready(()), "50 of 100");
        budget.take(1000);
        assert_eq!(budget.queued(), 0, "taking more than queued saturates");
    }
}
