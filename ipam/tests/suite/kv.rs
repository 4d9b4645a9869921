//! Key-value layer tests of the suite: transaction semantics and watches.

use std::sync::Arc;

use margay_ipam::kv::watch::{WatchUpdate, Watcher};
use margay_ipam::kv::{Compare, Event, Op, Store, Txn, TxnOutcome};

use super::put;

pub async fn txn_create_update_delete_by_cas<S: Store>(store: Arc<S>) {
    let key = "/t/k".to_string();
    let create = Txn::guarded(
        vec![Compare::Absent(key.clone())],
        vec![Op::Put(key.clone(), b"1".to_vec())],
    );
    let TxnOutcome::Committed { revision } = store.txn(create.clone()).await.unwrap() else {
        panic!("create failed")
    };
    let again = store.txn(create).await.unwrap();
    let TxnOutcome::Conflict { current } = again else {
        panic!("second create committed")
    };
    let kv = current[0]
        .1
        .clone()
        .expect("conflict returns the current value");
    assert_eq!(
        (kv.value.as_slice(), kv.mod_revision, kv.version),
        (&b"1"[..], revision, 1)
    );
    let stale = Txn::guarded(
        vec![Compare::ModRevision(key.clone(), revision - 1)],
        vec![Op::Put(key.clone(), b"2".to_vec())],
    );
    assert!(matches!(
        store.txn(stale).await.unwrap(),
        TxnOutcome::Conflict { .. }
    ));
    let update = Txn::guarded(
        vec![Compare::ModRevision(key.clone(), revision)],
        vec![Op::Put(key.clone(), b"2".to_vec())],
    );
    let TxnOutcome::Committed { revision: r2 } = store.txn(update).await.unwrap() else {
        panic!()
    };
    assert!(r2 > revision);
    let got = store.get(&key).await.unwrap().unwrap();
    assert_eq!((got.value.as_slice(), got.version), (&b"2"[..], 2));
    let delete = Txn::guarded(
        vec![Compare::ModRevision(key.clone(), r2)],
        vec![Op::Delete(key.clone())],
    );
    assert!(matches!(
        store.txn(delete).await.unwrap(),
        TxnOutcome::Committed { .. }
    ));
    assert_eq!(store.get(&key).await.unwrap(), None);
    let listing = store.list("/t/").await.unwrap();
    assert!(listing.kvs.is_empty() && listing.revision > r2);
}

async fn next_update<S: Store>(watcher: &mut Watcher<S>) -> WatchUpdate {
    tokio::time::timeout(std::time::Duration::from_secs(10), watcher.next())
        .await
        .expect("watch update within 10 s")
}

pub async fn watcher_delivers_events_and_resyncs_after_compaction<S: Store>(store: Arc<S>) {
    put(&*store, "/w/a", "1").await;
    put(&*store, "/other", "x").await;
    let (listing, mut watcher) = Watcher::list_and_watch(Arc::clone(&store), "/w/")
        .await
        .unwrap();
    assert_eq!(listing.kvs.len(), 1);
    put(&*store, "/w/b", "2").await;
    let WatchUpdate::Events(events) = next_update(&mut watcher).await else {
        panic!("expected events")
    };
    assert_eq!(events.len(), 1);
    assert!(matches!(&events[0], Event::Put(kv) if kv.key == "/w/b" && kv.value == b"2"));
    // A second watcher that is behind: it last saw the listing's revision; meanwhile more
    // writes happen and history is compacted past what it needs.
    let mut behind = Watcher::after_revision(Arc::clone(&store), "/w/", listing.revision);
    put(&*store, "/w/c", "3").await;
    let delete = Txn::guarded(vec![], vec![Op::Delete("/w/a".into())]);
    store.txn(delete).await.unwrap();
    let now = put(&*store, "/w/d", "4").await;
    store.compact(now).await.unwrap();
    match next_update(&mut behind).await {
        WatchUpdate::Resync(listing) => {
            let keys: Vec<&str> = listing.kvs.iter().map(|kv| kv.key.as_str()).collect();
            assert_eq!(keys, ["/w/b", "/w/c", "/w/d"]);
            assert!(listing.revision >= now);
        }
        other => panic!("expected a resync after compaction, got {other:?}"),
    }
    put(&*store, "/w/e", "5").await;
    let WatchUpdate::Events(events) = next_update(&mut behind).await else {
        panic!()
    };
    assert_eq!(events.iter().map(|e| e.key()).collect::<Vec<_>>(), ["/w/e"]);
    // The first watcher was never behind: it sees c, the delete of a, d, e in order.
    let mut seen = Vec::new();
    while seen.len() < 4 {
        match next_update(&mut watcher).await {
            WatchUpdate::Events(events) => seen.extend(events.iter().map(|e| match e {
                Event::Put(kv) => format!("put {}", kv.key),
                Event::Delete { key, .. } => format!("delete {key}"),
            })),
            WatchUpdate::Resync(_) => panic!("an up-to-date watcher must not resync"),
        }
    }
    assert_eq!(seen, ["put /w/c", "delete /w/a", "put /w/d", "put /w/e"]);
}
