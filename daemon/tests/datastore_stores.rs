//! The resource datastore suite, run on the in-memory store and on a real etcd (started by
//! the harness): CAS create/replace/delete, apply and concurrent read-modify-write, pool
//! overlap checks against stored pools, typed watches with resync after compaction; plus node
//! liveness on etcd.

use std::sync::Arc;
use std::time::Duration;

use margay_daemon::datastore::{Datastore, DatastoreError, ResourceEvent, ResourceWatcher};
use margay_daemon::resources::{Kind, Node, NodeSpecDoc, Resource, ResourceName, parse_yaml};
use margay_ipam::Keys;
use margay_ipam::kv::Store;
use margay_ipam::kv::etcd::{EtcdConfig, EtcdStore};
use margay_ipam::kv::memory::MemStore;
use margay_tests::{Etcd, TestDir, wait_until_async};

const EXAMPLE: &str = r#"
apiVersion: margay.io/v1
kind: IPPool
metadata: {name: default-ipv4}
spec: {cidr: 10.244.0.0/16, blockSize: 26, encapsulation: auto, natOutgoing: true}
---
apiVersion: margay.io/v1
kind: BGPConfiguration
metadata: {name: default}
spec: {asNumber: 64512, nodeMesh: true}
---
apiVersion: margay.io/v1
kind: BGPPeer
metadata: {name: tor-r1}
spec: {peerIP: 172.18.0.1, asNumber: 65001, nodeSelector: "rack == 'r1'"}
---
apiVersion: margay.io/v1
kind: Node
metadata: {name: node-a}
spec: {bgp: {ipv4Address: 172.18.1.10/24}, labels: {rack: r1}}
"#;

fn one(yaml: &str) -> Resource {
    parse_yaml(yaml).unwrap().remove(0)
}

fn pool(name: &str, cidr: &str) -> Resource {
    one(&format!(
        "apiVersion: margay.io/v1\nkind: IPPool\nmetadata: {{name: {name}}}\nspec: {{cidr: {cidr}}}\n"
    ))
}

async fn next_events<S: Store>(watcher: &mut ResourceWatcher<S>) -> Vec<ResourceEvent> {
    tokio::time::timeout(Duration::from_secs(10), watcher.next())
        .await
        .expect("resource events within 10 s")
}

async fn create_get_list_delete<S: Store>(ds: Datastore<S>) {
    let resources = parse_yaml(EXAMPLE).unwrap();
    for r in &resources {
        ds.create(r).await.unwrap();
    }
    let again = ds.create(&resources[0]).await.unwrap_err();
    assert_eq!(again.to_string(), "IPPool/default-ipv4 already exists");
    let (all, _) = ds.list(None).await.unwrap();
    assert_eq!(all.len(), 4);
    let (peers, _) = ds.list(Some(Kind::BgpPeer)).await.unwrap();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].resource, resources[2]);
    let node = ds.get(Kind::Node, "node-a").await.unwrap().unwrap();
    assert_eq!(node.resource, resources[3]);
    let raw = ds
        .store()
        .get("/margay/v1/resources/Node/node-a")
        .await
        .unwrap()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&raw.value).unwrap();
    assert_eq!(json["kind"], "Node");
    assert_eq!(json["spec"]["labels"]["rack"], "r1");
    ds.delete(Kind::Node, "node-a", Some(node.revision))
        .await
        .unwrap();
    assert_eq!(ds.get(Kind::Node, "node-a").await.unwrap(), None);
    let gone = ds.delete(Kind::Node, "node-a", None).await.unwrap_err();
    assert_eq!(gone.to_string(), "Node/node-a not found");
}

async fn replace_is_compare_and_swap<S: Store>(ds: Datastore<S>) {
    let v1 = pool("p", "10.1.0.0/16");
    let r1 = ds.create(&v1).await.unwrap();
    let v2 = one(
        "apiVersion: margay.io/v1\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.1.0.0/16, disabled: true}\n",
    );
    let r2 = ds.replace(&v2, r1).await.unwrap();
    let stale = ds.replace(&v1, r1).await.unwrap_err();
    assert!(
        matches!(stale, DatastoreError::Conflict { expected, current, .. } if expected == r1 && current == r2),
        "{stale}"
    );
    assert!(matches!(
        ds.delete(Kind::IpPool, "p", Some(r1)).await,
        Err(DatastoreError::Conflict { .. })
    ));
    let r3 = ds.apply(&v1).await.unwrap();
    assert!(r3 > r2);
    assert_eq!(
        ds.get(Kind::IpPool, "p").await.unwrap().unwrap().resource,
        v1
    );
}

async fn overlapping_pools_are_refused<S: Store>(ds: Datastore<S>) {
    ds.create(&pool("a", "10.0.0.0/16")).await.unwrap();
    let err = ds.apply(&pool("b", "10.0.128.0/17")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "IPPool/b conflicts with stored resources: IPPool/a and IPPool/b: spec.cidr 10.0.0.0/16 overlaps spec.cidr 10.0.128.0/17"
    );
    // Changing a pool does not conflict with its own stored version.
    ds.apply(&pool("a", "10.0.0.0/15")).await.unwrap();
    ds.apply(&pool("c", "10.2.0.0/16")).await.unwrap();
}

async fn concurrent_read_modify_write_loses_nothing<S: Store>(ds: Datastore<S>) {
    let node = one("apiVersion: margay.io/v1\nkind: Node\nmetadata: {name: n}\nspec: {}\n");
    ds.create(&node).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..6 {
        let ds = ds.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..4 {
                ds.update(Kind::Node, "n", |r| {
                    let Resource::Node(n) = r else {
                        unreachable!("stored under Node/")
                    };
                    let mut doc: NodeSpecDoc = n.doc().clone();
                    doc.labels.insert(format!("t{t}-{i}"), "x".into());
                    Ok(Resource::Node(
                        Node::validate(ResourceName::new("n", "metadata.name").unwrap(), doc)
                            .unwrap(),
                    ))
                })
                .await
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let Resource::Node(n) = ds.get(Kind::Node, "n").await.unwrap().unwrap().resource else {
        panic!()
    };
    assert_eq!(
        n.labels.len(),
        24,
        "every CAS update survived: {:?}",
        n.labels.keys()
    );
}

async fn watch_is_typed_and_resyncs_after_compaction<S: Store>(ds: Datastore<S>) {
    ds.create(&pool("a", "10.0.0.0/16")).await.unwrap();
    let (items, mut watcher) = ds.list_and_watch().await.unwrap();
    assert_eq!(items.len(), 1);
    let peer = one(
        "apiVersion: margay.io/v1\nkind: BGPPeer\nmetadata: {name: rr}\nspec: {peerSelector: has(rr)}\n",
    );
    ds.create(&peer).await.unwrap();
    match next_events(&mut watcher).await.as_slice() {
        [ResourceEvent::Upserted(s)] => assert_eq!(s.resource, peer),
        other => panic!("{other:?}"),
    }
    ds.delete(Kind::IpPool, "a", None).await.unwrap();
    match next_events(&mut watcher).await.as_slice() {
        [
            ResourceEvent::Deleted {
                kind: Kind::IpPool,
                name,
            },
        ] => assert_eq!(name, "a"),
        other => panic!("{other:?}"),
    }
    // A watcher that fell behind a compaction gets the whole state instead.
    let (_, revision) = ds.list(None).await.unwrap();
    let mut behind = ResourceWatcher::after_revision(Arc::clone(ds.store()), ds.keys(), revision);
    ds.create(&pool("b", "10.1.0.0/16")).await.unwrap();
    let last = ds.create(&pool("c", "10.2.0.0/16")).await.unwrap();
    ds.store().compact(last).await.unwrap();
    match next_events(&mut behind).await.as_slice() {
        [ResourceEvent::Resync(items)] => {
            let ids: Vec<String> = items.iter().map(|s| s.resource.id()).collect();
            assert_eq!(ids, ["BGPPeer/rr", "IPPool/b", "IPPool/c"]);
        }
        other => panic!("{other:?}"),
    }
}

macro_rules! datastore_suite {
    ($module:ident, $setup:path) => {
        mod $module {
            use super::*;
            datastore_suite!(@tests $setup;
                create_get_list_delete,
                replace_is_compare_and_swap,
                overlapping_pools_are_refused,
                concurrent_read_modify_write_loses_nothing,
                watch_is_typed_and_resyncs_after_compaction,
            );
        }
    };
    (@tests $setup:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (_guard, store) = $setup().await;
                super::$name(Datastore::new(store, Keys::default())).await;
            }
        )*
    };
}

async fn memory() -> ((), Arc<MemStore>) {
    ((), Arc::new(MemStore::new()))
}

async fn etcd() -> ((Etcd, TestDir), Arc<EtcdStore>) {
    let dir = TestDir::new("datastore");
    let etcd = Etcd::start(&dir);
    let store = EtcdStore::connect(&EtcdConfig::new([etcd.endpoint()]))
        .await
        .unwrap();
    ((etcd, dir), Arc::new(store))
}

datastore_suite!(on_memory, memory);
datastore_suite!(on_etcd, etcd);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_liveness_follows_the_lease() {
    let ((etcd, _dir), store) = etcd().await;
    let ds = Datastore::new(store, Keys::default());
    let alive = ds
        .announce_liveness("node-a", Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        ds.live_nodes().await.unwrap(),
        ["node-a".to_string()].into()
    );
    drop(alive);
    // The holder is gone without revoking: etcd expires the lease and deletes the key.
    wait_until_async(
        Duration::from_secs(15),
        "node-a's liveness key to expire",
        async || {
            let out = etcd
                .ctl(&["get", "/margay/v1/liveness/node-a", "--print-value-only"])
                .map_err(|e| e.to_string())?;
            if out.trim().is_empty() {
                Ok(())
            } else {
                Err(format!("still there: {out}"))
            }
        },
    )
    .await;
    assert!(ds.live_nodes().await.unwrap().is_empty());
}
