//! The IPAM / key-value suite on a real etcd (one per test, started by the harness on
//! loopback with free ports, data on /dev/shm).

mod suite;

use std::sync::Arc;

use margay_ipam::kv::etcd::{EtcdConfig, EtcdStore};
use margay_tests::{Etcd, TestDir};

async fn etcd() -> ((Etcd, TestDir), Arc<EtcdStore>) {
    let dir = TestDir::new("ipam-etcd");
    let etcd = Etcd::start(&dir);
    let store = EtcdStore::connect(&EtcdConfig::new([etcd.endpoint()]))
        .await
        .expect("connecting to the test etcd");
    ((etcd, dir), Arc::new(store))
}

suite_tests!(etcd);
