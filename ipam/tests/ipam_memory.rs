//! The IPAM / key-value suite on the in-memory store.

mod suite;

use std::sync::Arc;

use margay_ipam::kv::memory::MemStore;

async fn memory() -> ((), Arc<MemStore>) {
    ((), Arc::new(MemStore::new()))
}

suite_tests!(memory);

#[tokio::test]
async fn memory_watch_resumes_after_disconnect() {
    use margay_ipam::kv::watch::{WatchUpdate, Watcher};
    use margay_ipam::kv::{Op, Store, Txn};
    let store = Arc::new(MemStore::new());
    let (_, mut watcher) = Watcher::list_and_watch(Arc::clone(&store), "/w/")
        .await
        .unwrap();
    store
        .txn(Txn::guarded(
            vec![],
            vec![Op::Put("/w/a".into(), b"1".to_vec())],
        ))
        .await
        .unwrap();
    assert!(matches!(watcher.next().await, WatchUpdate::Events(e) if e.len() == 1));
    store.disconnect_watchers();
    store
        .txn(Txn::guarded(
            vec![],
            vec![Op::Put("/w/b".into(), b"2".to_vec())],
        ))
        .await
        .unwrap();
    match watcher.next().await {
        WatchUpdate::Events(e) => assert_eq!(e[0].key(), "/w/b", "resumed from the next revision"),
        other => panic!("{other:?}"),
    }
}
