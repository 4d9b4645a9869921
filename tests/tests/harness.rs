//! Self-tests of the harness: real daemons peer across namespaces and install routes, Pods
//! ping across topologies, etcd answers, and a panicking scenario leaves nothing behind.

use std::time::Duration;

use margay_tests::{Etcd, Lan, Netns, PeeredPair, Pod, Racks, TestDir, leftovers_of, wait_until};

#[test]
fn bird_learns_route_from_gobgp_and_installs_it() {
    let dir = TestDir::new("bird-gobgp");
    let pair = PeeredPair::gobgp(&dir, "10.9.0.0/24");
    let kernel = pair.wait_installed("10.9.0.0/24", Duration::from_secs(20));
    assert!(kernel.starts_with("10.9.0.0/24 via 10.0.0.1"), "{kernel}");
    let margay_tests::Announcer::GoBgp(gobgp) = &pair.announcer else {
        unreachable!()
    };
    assert_eq!(
        gobgp.neighbor_state("10.0.0.2").as_deref(),
        Some("established")
    );
}

#[test]
fn bird_learns_route_from_frr_and_installs_it() {
    let dir = TestDir::new("bird-frr");
    let pair = PeeredPair::frr(&dir, "10.8.0.0/24");
    let kernel = pair.wait_installed("10.8.0.0/24", Duration::from_secs(20));
    assert!(kernel.starts_with("10.8.0.0/24 via 10.0.0.1"), "{kernel}");
    let margay_tests::Announcer::Frr(frr) = &pair.announcer else {
        unreachable!()
    };
    assert_eq!(
        frr.neighbor_state("10.0.0.2").as_deref(),
        Some("Established")
    );
    assert!(frr.prefixes("ipv4").contains(&"10.8.0.0/24".to_owned()));
}

#[test]
fn etcd_put_then_get_and_survives_restart() {
    let dir = TestDir::new("etcd");
    let mut etcd = Etcd::start(&dir);
    etcd.ctl(&["put", "/margay/test", "hello"]).unwrap();
    etcd.stop();
    assert!(
        etcd.ctl(&["get", "/margay/test"]).is_err(),
        "etcd answered while stopped"
    );
    etcd.start_again();
    let got = etcd
        .ctl(&["get", "/margay/test", "--print-value-only"])
        .unwrap();
    assert_eq!(got.trim(), "hello");
}

#[test]
fn pods_ping_across_a_lan_with_static_routes() {
    let lan = Lan::new("lan", 2, "10.0.0.0/24");
    let (h0, h1) = (&lan.hosts[0], &lan.hosts[1]);
    let p0 = Pod::new(h0, "10.244.0.5");
    let p1 = Pod::new(h1, "10.244.1.5");
    h0.route_add(&format!("{}/32 via {}", p1.ip, lan.addrs[1]));
    h1.route_add(&format!("{}/32 via {}", p0.ip, lan.addrs[0]));
    p0.ping(p1.ip, 2).unwrap();
    p1.ping(p0.ip, 2).unwrap();
}

#[test]
fn hosts_in_different_racks_reach_each_other_through_the_tors() {
    let racks = Racks::new("rk", 2, 1);
    let a = &racks.racks[0].lan.hosts[0];
    let b_addr = racks.racks[1].lan.addrs[0];
    a.exec(&[
        "ping",
        "-n",
        "-q",
        "-c",
        "2",
        "-i",
        "0.2",
        "-W",
        "1",
        &b_addr.to_string(),
    ]);
    let trace = a.exec(&["ip", "route", "get", &b_addr.to_string()]);
    assert!(trace.contains("via 172.18.1.1"), "{trace}");
}

#[test]
fn ipv6_addresses_are_usable_at_once() {
    let a = Netns::new("v6a");
    let b = Netns::new("v6b");
    a.veth_to(&b, "eth0", "eth0");
    a.addr_add("eth0", "fd00::1/64");
    b.addr_add("eth0", "fd00::2/64");
    a.exec(&["ping", "-6", "-n", "-q", "-c", "1", "-W", "2", "fd00::2"]);
    assert_eq!(a.sysctl_get("net.ipv6.conf.eth0.forwarding"), "0");
}

/// Runs only as the child of `panicking_scenario_leaves_nothing_behind`: builds namespaces,
/// starts daemons, prints what it made, and panics mid-scenario.
#[test]
#[ignore = "run by panicking_scenario_leaves_nothing_behind as a child process"]
fn child_panics_mid_scenario() {
    if std::env::var_os("MARGAY_HARNESS_CHILD").is_none() {
        return;
    }
    let dir = TestDir::new("child");
    let lan = Lan::new("child", 2, "10.0.0.0/24");
    let _pod = Pod::new(&lan.hosts[0], "10.244.0.9");
    let sleeper = lan.hosts[1].spawn(&dir, "sleeper", &["sleep", "600"]);
    let etcd = Etcd::start(&dir);
    println!("OWNER {}", std::process::id());
    println!("TESTDIR {}", dir.path().display());
    for ns in lan.hosts.iter().chain([&lan.switch]) {
        println!("NETNS {}", ns.name());
    }
    println!("PID {}", sleeper.pid());
    println!("PID {}", etcd.pid().unwrap());
    etcd.ctl(&["put", "k", "v"]).unwrap();
    panic!("deliberate panic mid-scenario");
}

#[test]
fn panicking_scenario_leaves_nothing_behind() {
    let exe = std::env::current_exe().unwrap();
    let child = std::process::Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "child_panics_mid_scenario",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MARGAY_HARNESS_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(
        !child.status.success(),
        "the child scenario should have failed:\n{stdout}\n{stderr}"
    );
    assert!(stderr.contains("deliberate panic mid-scenario"), "{stderr}");
    // libtest prints "test NAME ... " before the child's first line: find tags anywhere.
    let tagged = |tag: &str| -> Vec<String> {
        let tag = format!("{tag} ");
        let values = stdout
            .lines()
            .filter_map(|l| Some(l.split(&tag).nth(1)?.trim().to_owned()));
        values.collect()
    };
    let names = tagged("NETNS");
    let pids: Vec<u32> = tagged("PID")
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(
        (names.len(), pids.len()),
        (3, 2),
        "child output:\n{stdout}\n{stderr}"
    );
    let netns_now = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_else(|_| Vec::<String>::new());
    for name in &names {
        assert!(
            !netns_now.iter().any(|n| n == name),
            "namespace {name} left behind"
        );
    }
    for pid in &pids {
        wait_until(
            Duration::from_secs(5),
            &format!("process {pid} to be gone"),
            || {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let zombie_or_gone = status.is_empty() || status.contains("State:\tZ");
                if zombie_or_gone {
                    Ok(())
                } else {
                    Err(status.lines().take(3).collect::<Vec<_>>().join(" "))
                }
            },
        );
    }
    // The child's test directory is kept for its logs, as for any failing test; not needed here.
    let _ = std::fs::remove_dir_all(&tagged("TESTDIR")[0]);
    let child_pid: u32 = tagged("OWNER")[0].parse().expect("child printed its pid");
    assert!(
        leftovers_of(child_pid).is_empty(),
        "leftovers: {:?}",
        leftovers_of(child_pid)
    );
}
