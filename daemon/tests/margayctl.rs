//! `margayctl` against a real etcd: apply, get in every output format, create/replace
//! refusals, an invalid file rejected with the field named and nothing written, mode set,
//! delete, ipam show and check; every error exits non-zero.

use std::process::Command;

use margay_tests::{Etcd, TestDir};

const RESOURCES: &str = r#"
apiVersion: margay.io/v1
kind: IPPool
metadata: {name: default-ipv4}
spec: {cidr: 10.244.0.0/16, blockSize: 26, encapsulation: auto}
---
apiVersion: margay.io/v1
kind: BGPPeer
metadata: {name: tor-r1}
spec: {peerIP: 172.18.0.1, asNumber: 65001, nodeSelector: "rack == 'r1'", holdTime: 9}
"#;

/// One valid pool and one with a block size out of range: the whole file must be refused.
const HALF_INVALID: &str = r#"
apiVersion: margay.io/v1
kind: IPPool
metadata: {name: second}
spec: {cidr: 10.245.0.0/16}
---
apiVersion: margay.io/v1
kind: IPPool
metadata: {name: broken}
spec: {cidr: 10.246.0.0/16, blockSize: 40}
"#;

struct Ctl {
    endpoint: String,
}

impl Ctl {
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_margayctl"))
            .env_clear()
            .env("MARGAY_ETCD_ENDPOINTS", &self.endpoint)
            .args(args)
            .output()
            .expect("running margayctl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "margayctl {args:?} failed: {err}");
        out
    }

    fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(!ok, "margayctl {args:?} should have failed: {out}");
        err
    }
}

#[test]
fn resources_round_trip_and_bad_input_writes_nothing() {
    let dir = TestDir::new("margayctl");
    let etcd = Etcd::start(&dir);
    let ctl = Ctl {
        endpoint: etcd.endpoint(),
    };
    let file = dir.write("cluster.yaml", RESOURCES);
    let file = file.to_str().unwrap();

    let applied = ctl.ok(&["apply", "-f", file]);
    assert!(
        applied.contains("IPPool/default-ipv4 applied")
            && applied.contains("BGPPeer/tor-r1 applied"),
        "{applied}"
    );
    // Stored where DESIGN §6 says, as JSON.
    let raw = etcd
        .ctl(&[
            "get",
            "/margay/v1/resources/IPPool/default-ipv4",
            "--print-value-only",
        ])
        .unwrap();
    assert!(raw.contains("\"cidr\":\"10.244.0.0/16\""), "{raw}");

    let table = ctl.ok(&["get", "ippools"]);
    assert!(
        table.contains("default-ipv4") && table.contains("IPPool"),
        "{table}"
    );
    let yaml = ctl.ok(&["get", "IPPool", "default-ipv4", "-o", "yaml"]);
    assert!(
        yaml.contains("encapsulation: auto") && yaml.contains("blockSize: 26"),
        "{yaml}"
    );
    let json = ctl.ok(&["get", "bgppeer", "-o", "json"]);
    let peers: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(peers[0]["spec"]["peerIP"], "172.18.0.1");
    assert!(ctl.ok(&["get", "bgppeer", "-o", "wide"]).contains("65001"));

    assert!(
        ctl.fails(&["create", "-f", file])
            .contains("IPPool/default-ipv4 already exists")
    );

    // A file with one bad document: refused, the field and value named, nothing written.
    let bad = dir.write("bad.yaml", HALF_INVALID);
    let err = ctl.fails(&["apply", "-f", bad.to_str().unwrap()]);
    assert!(
        err.contains("spec.blockSize") && err.contains("40") && err.contains("nothing written"),
        "{err}"
    );
    let pools = ctl.ok(&["get", "ippool"]);
    assert!(
        !pools.contains("second") && !pools.contains("broken"),
        "{pools}"
    );

    // Mode switch, re-validated like any document; a bad mode is refused.
    assert!(
        ctl.ok(&["mode", "set", "vxlan", "--pool", "default-ipv4"])
            .contains("encapsulation vxlan")
    );
    assert!(
        ctl.ok(&["get", "ippool", "default-ipv4", "-o", "yaml"])
            .contains("encapsulation: vxlan")
    );
    let err = ctl.fails(&["mode", "set", "tunnel"]);
    assert!(err.contains("tunnel"), "{err}");
    assert!(
        ctl.ok(&["get", "ippool", "default-ipv4", "-o", "yaml"])
            .contains("encapsulation: vxlan")
    );

    let usage = ctl.ok(&["ipam", "show"]);
    assert!(usage.contains("10.244.0.0/16"), "{usage}");
    ctl.ok(&["ipam", "check"]);

    assert!(
        ctl.ok(&["delete", "bgppeer", "tor-r1"])
            .contains("BGPPeer/tor-r1 deleted")
    );
    assert!(
        ctl.fails(&["get", "bgppeer", "tor-r1"])
            .contains("BGPPeer/tor-r1 not found")
    );
    assert!(
        ctl.fails(&["get", "widgets"])
            .contains("unknown kind \"widgets\"")
    );
}

#[test]
fn missing_or_unreachable_etcd_is_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_margayctl"))
        .env_clear()
        .args(["get", "ippool"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("etcdEndpoints: required"),
        "{err}"
    );
    let unreachable = Ctl {
        endpoint: "http://127.0.0.1:1".into(),
    };
    let err = unreachable.fails(&["get", "ippool"]);
    assert!(err.contains("127.0.0.1:1"), "{err}");
}
