//! A watch that survives: it resumes from the revision after the last event it delivered when
//! the stream breaks, and re-lists (delivering a full [`WatchUpdate::Resync`]) when that
//! revision was compacted away meanwhile (DESIGN §6). It connects lazily, on the first `next`.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::backoff::Backoff;
use super::{Event, Listing, Store, WatchItem};

/// What the consumer gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchUpdate {
    /// Changes since the previous update.
    Events(Vec<Event>),
    /// History was lost: this is the whole state now; replace everything under the prefix.
    Resync(Listing),
}

/// A resuming, re-listing watch of one prefix.
#[derive(Debug)]
pub struct Watcher<S> {
    store: Arc<S>,
    prefix: String,
    next_revision: i64,
    stream: Option<mpsc::Receiver<WatchItem>>,
    backoff: Backoff,
}

impl<S: Store> Watcher<S> {
    /// Lists `prefix` and returns the listing plus a watcher for everything after it.
    pub async fn list_and_watch(
        store: Arc<S>,
        prefix: &str,
    ) -> Result<(Listing, Self), super::StoreError> {
        let listing = store.list(prefix).await?;
        let watcher = Self::after_revision(store, prefix, listing.revision);
        Ok((listing, watcher))
    }

    /// A watcher delivering changes after `revision` (a revision the consumer has seen).
    pub fn after_revision(store: Arc<S>, prefix: &str, revision: i64) -> Self {
        Watcher {
            store,
            prefix: prefix.to_owned(),
            next_revision: revision + 1,
            stream: None,
            backoff: Backoff::reconnects(),
        }
    }

    /// The revision the next event will have at least.
    pub fn next_revision(&self) -> i64 {
        self.next_revision
    }

    /// The next update. Never fails: while the store is away it retries with backoff (the
    /// caller keeps working with the state it has, as DESIGN §6 asks).
    pub async fn next(&mut self) -> WatchUpdate {
        loop {
            let stream = match &mut self.stream {
                Some(stream) => stream,
                None => match self.store.watch(&self.prefix, self.next_revision).await {
                    Ok(stream) => self.stream.insert(stream),
                    Err(error) => {
                        tracing::warn!(prefix = %self.prefix, %error, "watch failed; retrying");
                        self.backoff.wait().await;
                        continue;
                    }
                },
            };
            match stream.recv().await {
                Some(WatchItem::Events(events)) if events.is_empty() => continue,
                Some(WatchItem::Events(events)) => {
                    self.backoff.reset();
                    if let Some(last) = events.last() {
                        self.next_revision = last.mod_revision() + 1;
                    }
                    return WatchUpdate::Events(events);
                }
                Some(WatchItem::Compacted { compact_revision }) => {
                    tracing::info!(
                        prefix = %self.prefix,
                        wanted = self.next_revision,
                        compact_revision,
                        "watch revision compacted; re-listing"
                    );
                    self.stream = None;
                    loop {
                        match self.store.list(&self.prefix).await {
                            Ok(listing) => {
                                self.next_revision = listing.revision + 1;
                                self.backoff.reset();
                                return WatchUpdate::Resync(listing);
                            }
                            Err(error) => {
                                tracing::warn!(prefix = %self.prefix, %error, "re-list failed; retrying");
                                self.backoff.wait().await;
                            }
                        }
                    }
                }
                None => {
                    tracing::info!(prefix = %self.prefix, from = self.next_revision, "watch stream ended; resuming");
                    self.stream = None;
                    self.backoff.wait().await;
                }
            }
        }
    }
}
