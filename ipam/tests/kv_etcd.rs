//! The etcd side of the key-value layer that the generic suite cannot show: TLS with client
//! certificates (generated here with the `openssl` CLI), user/password auth with a role
//! limited to the margay prefix, a watch that resumes across an etcd restart, and liveness
//! keys bound to a lease.

use std::sync::Arc;
use std::time::{Duration, Instant};

use margay_ipam::kv::etcd::{EtcdConfig, EtcdStore, TlsFiles};
use margay_ipam::kv::lease::LivenessKey;
use margay_ipam::kv::watch::{WatchUpdate, Watcher};
use margay_ipam::kv::{Event, Op, Store, StoreError, Txn, TxnOutcome};
use margay_tests::{Etcd, EtcdOptions, TestDir, run_ok, wait_until_async};

async fn put<S: Store>(store: &S, key: &str, value: &str) -> Result<i64, StoreError> {
    match store
        .txn(Txn::guarded(
            vec![],
            vec![Op::Put(key.into(), value.as_bytes().to_vec())],
        ))
        .await?
    {
        TxnOutcome::Committed { revision } => Ok(revision),
        other => panic!("unguarded put: {other:?}"),
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all made by openssl.
struct Pki {
    ca: std::path::PathBuf,
    server: (std::path::PathBuf, std::path::PathBuf),
    client: (std::path::PathBuf, std::path::PathBuf),
}

fn make_pki(dir: &TestDir) -> Pki {
    let f = |name: &str| dir.file(name).to_string_lossy().into_owned();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca_req = vec!["openssl", "req", "-x509"];
    ca_req.extend(ec);
    let (ca_key, ca_crt) = (f("ca.key"), f("ca.crt"));
    ca_req.extend([
        "-keyout",
        &ca_key,
        "-out",
        &ca_crt,
        "-days",
        "1",
        "-subj",
        "/CN=margay-test-ca",
    ]);
    run_ok(&ca_req);
    let leaf = |name: &str, cn: &str, ext: &str| {
        let (key, csr, crt) = (
            f(&format!("{name}.key")),
            f(&format!("{name}.csr")),
            f(&format!("{name}.crt")),
        );
        let ext_file = dir
            .write(&format!("{name}.ext"), ext)
            .to_string_lossy()
            .into_owned();
        let subj = format!("/CN={cn}");
        let mut req = vec!["openssl", "req"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
        run_ok(&req);
        run_ok(&[
            "openssl",
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "1",
            "-extfile",
            &ext_file,
        ]);
        (crt.into(), key.into())
    };
    let server = leaf(
        "server",
        "etcd",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n",
    );
    let client = leaf(
        "client",
        "margay-node",
        "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n",
    );
    Pki {
        ca: ca_crt.into(),
        server,
        client,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_client_certificates() {
    let dir = TestDir::new("kv-tls");
    let pki = make_pki(&dir);
    let s = |p: &std::path::PathBuf| p.to_string_lossy().into_owned();
    let etcd = Etcd::start_with(
        &dir,
        EtcdOptions {
            tls: true,
            extra_args: vec![
                format!("--cert-file={}", s(&pki.server.0)),
                format!("--key-file={}", s(&pki.server.1)),
                format!("--trusted-ca-file={}", s(&pki.ca)),
                "--client-cert-auth".into(),
            ],
            etcdctl_args: vec![
                format!("--cacert={}", s(&pki.ca)),
                format!("--cert={}", s(&pki.client.0)),
                format!("--key={}", s(&pki.client.1)),
            ],
            ..Default::default()
        },
    );
    assert!(etcd.endpoint().starts_with("https://127.0.0.1:"));
    let mut config = EtcdConfig::new([etcd.endpoint()]);
    config.tls = Some(TlsFiles {
        ca_file: pki.ca.clone(),
        client_cert: Some(pki.client.clone()),
        server_name: None,
    });
    let store = EtcdStore::connect(&config).await.expect("TLS connect");
    let revision = put(&store, "/margay/v1/tls-probe", "ok")
        .await
        .expect("write over TLS");
    let got = store.get("/margay/v1/tls-probe").await.unwrap().unwrap();
    assert_eq!(
        (got.value.as_slice(), got.mod_revision),
        (&b"ok"[..], revision)
    );
    assert_eq!(
        etcd.ctl(&["get", "--print-value-only", "/margay/v1/tls-probe"])
            .unwrap()
            .trim(),
        "ok"
    );

    // Without a client certificate the server refuses the handshake.
    let mut anonymous = config.clone();
    anonymous.tls = Some(TlsFiles {
        ca_file: pki.ca.clone(),
        client_cert: None,
        server_name: None,
    });
    anonymous.request_timeout = Duration::from_secs(2);
    let refused = EtcdStore::connect(&anonymous)
        .await
        .unwrap()
        .get("/margay/v1/tls-probe")
        .await;
    assert!(
        refused.is_err(),
        "a client without certificate was served: {refused:?}"
    );
    // A client that does not trust the server's CA refuses the server.
    let mut distrustful = config.clone();
    distrustful.tls = Some(TlsFiles {
        ca_file: pki.client.0.clone(),
        client_cert: Some(pki.client.clone()),
        server_name: None,
    });
    distrustful.request_timeout = Duration::from_secs(2);
    let rejected = EtcdStore::connect(&distrustful)
        .await
        .unwrap()
        .get("/margay/v1/tls-probe")
        .await;
    assert!(
        rejected.is_err(),
        "an untrusted server was accepted: {rejected:?}"
    );
    // Plain http to a TLS endpoint is a configuration error, not a silent downgrade.
    let plain = EtcdStore::connect(&EtcdConfig::new([etcd.endpoint().replace("https", "http")]))
        .await
        .unwrap();
    assert!(plain.get("/margay/v1/tls-probe").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_password_auth_limits_a_node_to_the_margay_prefix() {
    let dir = TestDir::new("kv-auth");
    let etcd = Etcd::start(&dir);
    for args in [
        &["user", "add", "root:rootpw"][..],
        &["role", "add", "margay-node"],
        &[
            "role",
            "grant-permission",
            "margay-node",
            "--prefix=true",
            "readwrite",
            "/margay/",
        ],
        &["user", "add", "node-a:nodepw"],
        &["user", "grant-role", "node-a", "margay-node"],
        &["auth", "enable"],
    ] {
        etcd.ctl(args)
            .unwrap_or_else(|e| panic!("etcdctl {args:?}: {e}"));
    }
    let mut config = EtcdConfig::new([etcd.endpoint()]);
    config.user = Some(("node-a".into(), "nodepw".into()));
    let store = EtcdStore::connect(&config).await.expect("login as node-a");
    put(&store, "/margay/v1/resources/Node/node-a", "{}")
        .await
        .expect("node-a writes under /margay/");
    assert!(
        store
            .get("/margay/v1/resources/Node/node-a")
            .await
            .unwrap()
            .is_some()
    );
    let outside = put(&store, "/elsewhere", "x").await;
    assert!(
        matches!(outside, Err(StoreError::Refused(_))),
        "{outside:?}"
    );

    let mut wrong = config.clone();
    wrong.user = Some(("node-a".into(), "guess".into()));
    let err = EtcdStore::connect(&wrong)
        .await
        .expect_err("a wrong password must not log in");
    assert!(err.to_string().contains("authentication failed"), "{err}");
    let anonymous = EtcdStore::connect(&EtcdConfig::new([etcd.endpoint()]))
        .await
        .unwrap();
    assert!(matches!(
        anonymous.get("/margay/v1/resources/Node/node-a").await,
        Err(StoreError::Refused(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_across_an_etcd_restart_without_gaps_or_duplicates() {
    let dir = TestDir::new("kv-watch-restart");
    let mut etcd = Etcd::start(&dir);
    let store = Arc::new(
        EtcdStore::connect(&EtcdConfig::new([etcd.endpoint()]))
            .await
            .unwrap(),
    );
    let (_, mut watcher) = Watcher::list_and_watch(Arc::clone(&store), "/margay/v1/resources/")
        .await
        .unwrap();
    put(&*store, "/margay/v1/resources/BGPPeer/a", "1")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let next = async |watcher: &mut Watcher<EtcdStore>| match tokio::time::timeout(
        Duration::from_secs(20),
        watcher.next(),
    )
    .await
    .expect("watch update within 20 s")
    {
        WatchUpdate::Events(events) => events,
        WatchUpdate::Resync(l) => panic!("no compaction happened, yet a resync: {l:?}"),
    };
    seen.extend(next(&mut watcher).await);
    etcd.stop();
    etcd.start_again();
    let wrote = Instant::now();
    let mut writes = 0;
    // The client reconnects on its own; the first writes may race it.
    while writes < 2 {
        let key = format!("/margay/v1/resources/BGPPeer/after-{writes}");
        match put(&*store, &key, "2").await {
            Ok(_) => writes += 1,
            Err(e) if e.is_transient() && wrote.elapsed() < Duration::from_secs(15) => {
                wait_until_async(
                    Duration::from_secs(5),
                    "etcd to answer etcdctl",
                    async || {
                        etcd.ctl(&["endpoint", "health"])
                            .map(drop)
                            .map_err(|e| e.to_string())
                    },
                )
                .await;
            }
            Err(e) => panic!("writing after restart: {e}"),
        }
    }
    while seen.len() < 3 {
        seen.extend(next(&mut watcher).await);
    }
    let keys: Vec<&str> = seen.iter().map(Event::key).collect();
    assert_eq!(
        keys,
        [
            "/margay/v1/resources/BGPPeer/a",
            "/margay/v1/resources/BGPPeer/after-0",
            "/margay/v1/resources/BGPPeer/after-1",
        ]
    );
}

fn key_on_lease(etcd: &Etcd, key: &str) -> Result<bool, String> {
    let out = etcd
        .ctl(&["get", key, "-w", "json"])
        .map_err(|e| e.to_string())?;
    Ok(out.contains("\"lease\":"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_key_lives_with_its_holder_and_comes_back_after_lease_loss() {
    let dir = TestDir::new("kv-liveness");
    let etcd = Etcd::start(&dir);
    let store = EtcdStore::connect(&EtcdConfig::new([etcd.endpoint()]))
        .await
        .unwrap();
    let key = "/margay/v1/liveness/node-a";
    let ttl = Duration::from_secs(3);
    let held = LivenessKey::hold(&store, key, b"node-a".to_vec(), ttl)
        .await
        .unwrap();
    let first_lease = held.lease_id().expect("lease granted");
    assert!(
        key_on_lease(&etcd, key).unwrap(),
        "the key is bound to a lease"
    );
    // Kept alive: the key is still there after two TTLs.
    let since = Instant::now();
    let mut lost_at = None;
    wait_until_async(Duration::from_secs(20), "two TTLs to pass", async || {
        if !key_on_lease(&etcd, key)? {
            lost_at.get_or_insert(since.elapsed());
        }
        if since.elapsed() > ttl * 2 {
            Ok(())
        } else {
            Err(format!("{:?} elapsed", since.elapsed()))
        }
    })
    .await;
    assert_eq!(lost_at, None, "the key vanished while its holder lived");
    assert_eq!(
        held.lease_id(),
        Some(first_lease),
        "kept alive on the same lease"
    );
    assert!(
        key_on_lease(&etcd, key).unwrap(),
        "key lost while its holder lives"
    );
    // Someone revokes the lease (or it expired while etcd was away): the holder re-grants.
    etcd.ctl(&["lease", "revoke", &format!("{first_lease:x}")])
        .unwrap();
    wait_until_async(
        Duration::from_secs(20),
        "the key back on a new lease",
        async || {
            let lease = held.lease_id();
            match (lease, key_on_lease(&etcd, key)?) {
                (Some(id), true) if id != first_lease => Ok(()),
                other => Err(format!("lease/key present: {other:?}")),
            }
        },
    )
    .await;
    // Released: gone at once. A holder that just dies: gone after the TTL.
    held.release().await.unwrap();
    assert!(
        etcd.ctl(&["get", key, "--print-value-only"])
            .unwrap()
            .trim()
            .is_empty()
    );
    let crashed = LivenessKey::hold(&store, key, b"node-a".to_vec(), ttl)
        .await
        .unwrap();
    drop(crashed);
    wait_until_async(
        Duration::from_secs(20),
        "the key to expire with its lease",
        async || {
            let value = etcd
                .ctl(&["get", key, "--print-value-only"])
                .map_err(|e| e.to_string())?;
            if value.trim().is_empty() {
                Ok(())
            } else {
                Err(format!("still there: {value}"))
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_list_with_a_dead_member_still_serves() {
    let dir = TestDir::new("kv-endpoints");
    let etcd = Etcd::start(&dir);
    // A port nothing listens on: bind, note it, close.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let store = EtcdStore::connect(&EtcdConfig::new([dead, etcd.endpoint()]))
        .await
        .unwrap();
    for i in 0..20 {
        let key = format!("/margay/v1/probe/{i}");
        put(&store, &key, "x")
            .await
            .unwrap_or_else(|e| panic!("request {i} failed with one live endpoint: {e}"));
    }
    assert_eq!(store.list("/margay/v1/probe/").await.unwrap().kvs.len(), 20);
}
