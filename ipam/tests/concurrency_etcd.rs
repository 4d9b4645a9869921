//! Concurrency and crash tests against a real etcd, with allocator PROCESSES
//! (`margay-ipam-alloc`): many nodes at once, kill -9 at random points, etcd restarted
//! mid-run. Each checks the store afterwards with `check` and, where something was left
//! behind, that `release` returns it to clean.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnetwork::IpNetwork;
use margay_ipam::kv::etcd::{EtcdConfig, EtcdStore};
use margay_ipam::{Ipam, IpamConfig, Keys};
use margay_tests::{Etcd, Process, TestDir, wait_until};
use rand::Rng;

const ALLOCATOR: &str = env!("CARGO_BIN_EXE_margay-ipam-alloc");

/// One committed assignment as the allocator printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reported {
    handle: String,
    addr: IpAddr,
    block: IpNetwork,
}

fn reported(process: &Process) -> Vec<Reported> {
    process
        .log()
        .lines()
        .filter_map(|line| {
            let mut parts = line.strip_prefix("assigned ")?.split(' ');
            Some(Reported {
                handle: parts.next()?.to_owned(),
                addr: parts.next()?.parse().ok()?,
                block: parts.next()?.parse().ok()?,
            })
        })
        .collect()
}

fn spawn_allocator(
    dir: &TestDir,
    etcd: &Etcd,
    label: &str,
    node: &str,
    pool: &str,
    count: usize,
    handles: &str,
) -> Process {
    spawn_allocator_with(dir, etcd, label, node, pool, count, handles, &[])
}

#[allow(clippy::too_many_arguments)]
fn spawn_allocator_with(
    dir: &TestDir,
    etcd: &Etcd,
    label: &str,
    node: &str,
    pool: &str,
    count: usize,
    handles: &str,
    extra: &[&str],
) -> Process {
    let count = count.to_string();
    let endpoint = etcd.endpoint();
    Process::spawn(
        None,
        dir.path(),
        label,
        &[
            ALLOCATOR,
            "--endpoint",
            &endpoint,
            "--node",
            node,
            "--pool",
            pool,
            "--count",
            &count,
            "--handle-prefix",
            handles,
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .collect::<Vec<&str>>(),
    )
}

fn wait_all_done(processes: &mut [Process], timeout: Duration) {
    wait_until(timeout, "every allocator to finish", || {
        let running: Vec<String> = processes
            .iter_mut()
            .filter_map(|p| {
                p.is_running()
                    .then(|| format!("{} at {} lines", p.label(), reported(p).len()))
            })
            .collect();
        if running.is_empty() {
            Ok(())
        } else {
            Err(format!("still running: {running:?}"))
        }
    });
    for p in processes.iter() {
        assert!(
            p.log().lines().any(|l| l.starts_with("done ")),
            "{} did not finish:\n{}",
            p.label(),
            p.log_tail(20)
        );
    }
}

async fn connect(etcd: &Etcd) -> Ipam<EtcdStore> {
    let store = EtcdStore::connect(&EtcdConfig::new([etcd.endpoint()]))
        .await
        .unwrap();
    Ipam::new(Arc::new(store), Keys::default(), IpamConfig::default())
}

/// handle → address, from the blocks in the store.
async fn stored_assignments(ipam: &Ipam<EtcdStore>) -> BTreeMap<String, IpAddr> {
    let mut map = BTreeMap::new();
    for stored in ipam.blocks().await.unwrap() {
        for (ordinal, alloc) in &stored.block.allocations {
            let previous = map.insert(alloc.handle.clone(), stored.block.addr(*ordinal));
            assert!(
                previous.is_none(),
                "handle {} holds two addresses",
                alloc.handle
            );
        }
    }
    map
}

/// Every process's blocks are its own: no block reported by two allocators, and the store
/// says each block belongs to the node that used it.
async fn assert_blocks_disjoint(
    ipam: &Ipam<EtcdStore>,
    per_node: &BTreeMap<String, Vec<Reported>>,
) {
    let mut owner: HashMap<IpNetwork, &str> = HashMap::new();
    for (node, lines) in per_node {
        for r in lines {
            if let Some(other) = owner.insert(r.block, node)
                && other != node
            {
                panic!("block {} used by {other} and {node}", r.block);
            }
        }
    }
    for (block, node) in owner {
        let stored = ipam
            .block(&block)
            .await
            .unwrap()
            .expect("used block exists");
        assert_eq!(
            stored.block.affinity.as_deref(),
            Some(node),
            "block {block}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_allocator_processes_share_a_pool_without_collisions() {
    let dir = TestDir::new("ipam-8x1000");
    let etcd = Etcd::start(&dir);
    let mut processes: Vec<Process> = (0..8)
        .map(|i| {
            spawn_allocator(
                &dir,
                &etcd,
                &format!("alloc-{i}"),
                &format!("node-{i}"),
                "10.40.0.0/18",
                1000,
                &format!("n{i}"),
            )
        })
        .collect();
    wait_all_done(&mut processes, Duration::from_secs(120));
    let per_node: BTreeMap<String, Vec<Reported>> = processes
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("node-{i}"), reported(p)))
        .collect();
    let all: Vec<&Reported> = per_node.values().flatten().collect();
    assert_eq!(all.len(), 8000);
    let addrs: BTreeSet<IpAddr> = all.iter().map(|r| r.addr).collect();
    assert_eq!(
        addrs.len(),
        8000,
        "8000 assignments, {} distinct addresses",
        addrs.len()
    );
    let ipam = connect(&etcd).await;
    assert_blocks_disjoint(&ipam, &per_node).await;
    let stored = stored_assignments(&ipam).await;
    for r in &all {
        assert_eq!(stored.get(&r.handle), Some(&r.addr), "{}", r.handle);
    }
    let live: BTreeSet<String> = all.iter().map(|r| r.handle.clone()).collect();
    let report = ipam.check(Some(&live)).await.unwrap();
    assert!(report.is_clean(), "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocators_killed_at_random_points_leave_only_what_check_reports() {
    let dir = TestDir::new("ipam-kill9");
    let etcd = Etcd::start(&dir);
    let ipam = connect(&etcd).await;
    let mut rng = rand::rng();
    let mut live = BTreeSet::new();
    for round in 0..3 {
        let mut processes = Vec::new();
        let mut kill_at = Vec::new();
        for i in 0..4 {
            let handles = format!("r{round}-n{i}");
            // /28 blocks: a claim every 16 addresses, so some kills land inside claims.
            processes.push(spawn_allocator_with(
                &dir,
                &etcd,
                &format!("round{round}-alloc{i}"),
                &format!("node-{i}"),
                "10.41.0.0/20",
                400,
                &handles,
                &["--block-size", "28"],
            ));
            kill_at.push(rng.random_range(0..200usize));
        }
        for (p, at) in processes.iter_mut().zip(&kill_at) {
            wait_until(
                Duration::from_secs(30),
                "the allocator to reach its kill point",
                || {
                    let n = reported(p).len();
                    if n >= *at {
                        Ok(())
                    } else {
                        Err(format!("{} at {n} of {at}:\n{}", p.label(), p.log_tail(3)))
                    }
                },
            );
            p.kill();
        }
        // What each killed process had confirmed, and the one handle it may have had in flight.
        let mut in_flight = BTreeSet::new();
        for (i, p) in processes.iter().enumerate() {
            let lines = reported(p);
            in_flight.insert(format!("r{round}-n{i}-{}", lines.len()));
            live.extend(lines.into_iter().map(|r| r.handle));
        }
        let report = ipam.check(Some(&live)).await.unwrap();
        let leaked: BTreeSet<String> = report.leaked.iter().map(|l| l.handle.clone()).collect();
        assert!(
            leaked.is_subset(&in_flight),
            "leaked {leaked:?}, but only {in_flight:?} were in flight"
        );
        for orphan in &report.orphan_affinities {
            assert_eq!(orphan.state, "pending", "{orphan:?}");
            assert!(orphan.block_owner.is_none(), "{orphan:?}");
        }
        let pending_nodes: BTreeSet<&str> = report
            .orphan_affinities
            .iter()
            .map(|o| o.node.as_str())
            .collect();
        assert_eq!(
            pending_nodes.len(),
            report.orphan_affinities.len(),
            "one interrupted claim per node at most"
        );
        assert!(report.handle_mismatches.is_empty(), "{report:#?}");
        assert!(report.unconfirmed_blocks.is_empty(), "{report:#?}");
        assert!(report.corrupt.is_empty(), "{report:#?}");
        // The store agrees with every confirmed assignment.
        let stored = stored_assignments(&ipam).await;
        for handle in &live {
            assert!(
                stored.contains_key(handle),
                "{handle} was confirmed but is gone"
            );
        }
        let extra: BTreeSet<&String> = stored.keys().filter(|h| !live.contains(*h)).collect();
        assert_eq!(
            extra,
            leaked.iter().collect(),
            "check reports exactly the unconfirmed addresses"
        );
        let outcome = ipam.release(&report).await.unwrap();
        assert_eq!(outcome.released_addresses, report.leaked.len());
        assert_eq!(outcome.deleted_affinities, report.orphan_affinities.len());
        assert!(outcome.skipped.is_empty(), "{outcome:?}");
        let after = ipam.check(Some(&live)).await.unwrap();
        assert!(after.is_clean(), "round {round}: {after:#?}");
        eprintln!(
            "round {round}: killed at {kill_at:?}; leaked {}, interrupted claims {}",
            report.leaked.len(),
            report.orphan_affinities.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocators_resume_after_etcd_restarts_mid_run() {
    let dir = TestDir::new("ipam-etcd-restart");
    let mut etcd = Etcd::start(&dir);
    let mut processes: Vec<Process> = (0..4)
        .map(|i| {
            spawn_allocator(
                &dir,
                &etcd,
                &format!("alloc-{i}"),
                &format!("node-{i}"),
                "10.42.0.0/20",
                600,
                &format!("n{i}"),
            )
        })
        .collect();
    for p in processes.iter_mut() {
        wait_until(Duration::from_secs(30), "allocators under way", || {
            let n = reported(p).len();
            if n >= 100 {
                Ok(())
            } else {
                Err(format!("{} at {n}", p.label()))
            }
        });
    }
    etcd.stop();
    let at_stop: Vec<usize> = processes.iter().map(|p| reported(p).len()).collect();
    etcd.start_again();
    wait_all_done(&mut processes, Duration::from_secs(120));
    let per_node: BTreeMap<String, Vec<Reported>> = processes
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("node-{i}"), reported(p)))
        .collect();
    let all: Vec<&Reported> = per_node.values().flatten().collect();
    assert_eq!(all.len(), 2400);
    let handles: BTreeSet<&str> = all.iter().map(|r| r.handle.as_str()).collect();
    assert_eq!(handles.len(), 2400, "every handle reported once");
    let addrs: BTreeSet<IpAddr> = all.iter().map(|r| r.addr).collect();
    assert_eq!(addrs.len(), 2400);
    let retried = processes
        .iter()
        .filter(|p| p.log().contains("retrying"))
        .count();
    assert!(
        retried > 0,
        "no allocator saw the outage (stopped at {at_stop:?})"
    );
    let ipam = connect(&etcd).await;
    assert_blocks_disjoint(&ipam, &per_node).await;
    let stored = stored_assignments(&ipam).await;
    assert_eq!(
        stored.len(),
        2400,
        "no address assigned twice to a retried handle"
    );
    for r in &all {
        assert_eq!(stored.get(&r.handle), Some(&r.addr), "{}", r.handle);
    }
    let live: BTreeSet<String> = handles.iter().map(|h| h.to_string()).collect();
    let report = ipam.check(Some(&live)).await.unwrap();
    assert!(report.is_clean(), "{report:#?}");
}
