//! margay-node's configuration precedence, through the real binary: file < MARGAY_* < flags,
//! and a bad value stops it with a message naming the setting.

use std::process::Command;

use margay_tests::TestDir;

fn margay_node(dir: &TestDir, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let file = dir.write(
        "node.yaml",
        "nodeName: from-file\netcdEndpoints: [\"http://127.0.0.1:2379\"]\n\
underlay: interface=eth1\nlabels: {rack: r1}\nasNumber: 65001\n",
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_margay-node"));
    command.env_clear().arg("--config").arg(file).args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("running margay-node");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn file_then_environment_then_flags() {
    let dir = TestDir::new("node-config");
    let (ok, out, err) = margay_node(&dir, &[], &["--print-config"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("nodeName: from-file") && out.contains("asNumber: 65001"),
        "{out}"
    );
    assert!(out.contains("underlay: interface=eth1"), "{out}");

    let env = [
        ("MARGAY_NODE_NAME", "from-env"),
        ("MARGAY_AS_NUMBER", "65010"),
    ];
    let (ok, out, err) = margay_node(&dir, &env, &["--print-config"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("nodeName: from-env") && out.contains("asNumber: 65010"),
        "{out}"
    );
    assert!(out.contains("rack: r1"), "the file's labels stay: {out}");

    let (ok, out, err) = margay_node(&dir, &env, &["--print-config", "--node-name", "from-flag"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("nodeName: from-flag") && out.contains("asNumber: 65010"),
        "{out}"
    );
}

#[test]
fn a_bad_value_stops_the_node_naming_the_setting() {
    let dir = TestDir::new("node-config-bad");
    let (ok, _, err) = margay_node(
        &dir,
        &[("MARGAY_UNDERLAY", "cidr=10.0.0.0/99")],
        &["--print-config"],
    );
    assert!(!ok);
    assert!(err.contains("underlay: \"cidr=10.0.0.0/99\""), "{err}");
}
