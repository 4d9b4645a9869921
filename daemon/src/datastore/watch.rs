//! Typed resource events on top of the resuming, re-listing [`Watcher`].

use std::sync::Arc;

use margay_ipam::Keys;
use margay_ipam::kv::watch::{WatchUpdate, Watcher};
use margay_ipam::kv::{Event, Store};

use super::{StoredResource, decode};
use crate::resources::{Kind, ResourceError};

/// A change to the resources.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceEvent {
    /// Created or replaced.
    Upserted(Box<StoredResource>),
    /// Deleted.
    Deleted {
        /// Its kind.
        kind: Kind,
        /// Its name.
        name: String,
    },
    /// History was lost (compaction): this is everything now; drop what is not in it.
    Resync(Vec<StoredResource>),
    /// A stored value that does not decode (written by something else); skipped.
    Invalid(ResourceError),
}

/// Watches every resource kind.
#[derive(Debug)]
pub struct ResourceWatcher<S> {
    inner: Watcher<S>,
    keys: Keys,
}

impl<S: Store> ResourceWatcher<S> {
    /// Changes after `revision`.
    pub fn after_revision(store: Arc<S>, keys: &Keys, revision: i64) -> Self {
        ResourceWatcher {
            inner: Watcher::after_revision(store, &keys.resources(), revision),
            keys: keys.clone(),
        }
    }

    /// The next batch of events (never fails; retries while the store is away).
    pub async fn next(&mut self) -> Vec<ResourceEvent> {
        match self.inner.next().await {
            WatchUpdate::Events(events) => events.iter().map(|e| self.typed(e)).collect(),
            WatchUpdate::Resync(listing) => {
                let mut items = Vec::new();
                let mut invalid = Vec::new();
                for kv in &listing.kvs {
                    match decode(kv) {
                        Ok(item) => items.push(item),
                        Err(e) => invalid.push(ResourceEvent::Invalid(e)),
                    }
                }
                let mut events = vec![ResourceEvent::Resync(items)];
                events.extend(invalid);
                events
            }
        }
    }

    fn typed(&self, event: &Event) -> ResourceEvent {
        match event {
            Event::Put(kv) => match decode(kv) {
                Ok(item) => ResourceEvent::Upserted(Box::new(item)),
                Err(e) => ResourceEvent::Invalid(e),
            },
            Event::Delete { key, .. } => {
                let rest = key.strip_prefix(&self.keys.resources()).unwrap_or(key);
                let (kind, name) = rest.split_once('/').unwrap_or((rest, ""));
                match Kind::parse(kind) {
                    Some(kind) => ResourceEvent::Deleted {
                        kind,
                        name: name.to_owned(),
                    },
                    None => ResourceEvent::Invalid(ResourceError {
                        origin: key.clone(),
                        resource: None,
                        message: format!("deleted key of unknown kind {kind:?}"),
                    }),
                }
            }
        }
    }
}
