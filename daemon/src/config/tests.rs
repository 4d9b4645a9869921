use super::*;
use clap::Parser;

/// What margay-node's command line embeds.
#[derive(Debug, Parser)]
#[command(args_override_self = true)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
}

fn no_host() -> Option<String> {
    None
}

fn cli(args: &[&str]) -> Settings {
    let mut argv = vec!["margay-node"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap().settings
}

fn yaml(text: &str) -> Settings {
    serde_yaml_ng::from_str(text).unwrap()
}

#[test]
fn defaults_fill_what_is_not_given() {
    let config = cli(&[
        "--node-name",
        "node-a",
        "--etcd-endpoints",
        "http://127.0.0.1:2379",
    ])
    .validate(&no_host)
    .unwrap();
    assert_eq!(config.node_name, "node-a");
    let Datastore::Etcd(etcd) = &config.datastore else {
        panic!("{:?}", config.datastore)
    };
    assert_eq!(etcd.prefix, DEFAULT_ETCD_PREFIX);
    assert_eq!(config.underlay, DetectionMethod::FirstFound);
    assert_eq!(config.api_socket, PathBuf::from(DEFAULT_API_SOCKET));
    assert_eq!(config.metrics_listen.to_string(), DEFAULT_METRICS_LISTEN);
}

#[test]
fn flags_override_the_file() {
    let file = yaml(
        "nodeName: from-file\netcdEndpoints: [http://10.0.0.1:2379]\nunderlay: interface=eth1\n",
    );
    let flags = cli(&["--node-name", "from-flag"]);
    let config = file.overlaid_with(flags).validate(&no_host).unwrap();
    assert_eq!(config.node_name, "from-flag");
    assert_eq!(config.underlay.to_string(), "interface=eth1");
}

#[test]
fn standalone_file_datastore_needs_no_etcd() {
    let dir = std::env::temp_dir().join(format!("margay-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let resources = dir.join("cluster.yaml");
    std::fs::write(&resources, "").unwrap();
    let config = cli(&[
        "--node-name",
        "solo",
        "--datastore",
        &format!("file:{}", resources.display()),
    ])
    .validate(&no_host)
    .unwrap();
    assert_eq!(config.datastore, Datastore::File(resources));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn hostname_is_the_default_node_name() {
    let config = cli(&["--etcd-endpoints", "http://h:1"])
        .validate(&|| Some("worker-7".into()))
        .unwrap();
    assert_eq!(config.node_name, "worker-7");
}

#[test]
fn every_error_names_the_setting_and_the_value() {
    let base = [
        "--node-name",
        "n1",
        "--etcd-endpoints",
        "http://127.0.0.1:2379",
    ];
    let cases: &[(&[&str], &str)] = &[
        (
            &["--node-name", "Node_A", "--etcd-endpoints", "http://h:1"],
            "nodeName: \"Node_A\"",
        ),
        (
            &["--node-name", "n1", "--etcd-endpoints", "h:2379"],
            "etcdEndpoints: \"h:2379\"",
        ),
        (&["--datastore", "consul"], "datastore: \"consul\""),
        (
            &["--datastore", "file:/nonexistent/cluster.yaml"],
            "datastore: \"/nonexistent/cluster.yaml\" is not a readable file",
        ),
        (&["--underlay", "interface=("], "underlay: \"interface=(\""),
        (&["--underlay6", "nearest"], "underlay6: \"nearest\""),
        (&["--as-number", "0"], "asNumber: \"0\" is reserved"),
        (&["--vxlan-mtu", "600"], "vxlanMtu: \"600\""),
        (
            &["--metrics-listen", "localhost"],
            "metricsListen: \"localhost\"",
        ),
        (&["--etcd-prefix", "margay"], "etcdPrefix: \"margay\""),
        (&["--etcd-cert-file", "/etc/hostname"], "etcdKeyFile"),
        (
            &["--etcd-ca-file", "/nonexistent/ca.pem"],
            "etcdCaFile: \"/nonexistent/ca.pem\"",
        ),
        (
            &["--etcd-username", "margay"],
            "etcdUsername: \"margay\" and etcdPasswordFile go together",
        ),
        (&["--log-level", "margay=loud"], "logLevel: \"margay=loud\""),
    ];
    for (args, expected) in cases {
        let mut argv: Vec<&str> = base.to_vec();
        argv.extend_from_slice(args);
        let err = cli(&argv).validate(&no_host).unwrap_err().to_string();
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in {err:?}"
        );
    }
}

#[test]
fn etcd_endpoints_are_required_unless_standalone() {
    let err = cli(&["--node-name", "n1"])
        .validate(&no_host)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("etcdEndpoints: required"), "{err}");
}

#[test]
fn unknown_keys_in_the_file_are_rejected_by_name() {
    let err =
        serde_yaml_ng::from_str::<Settings>("nodeName: a\nundelray: first-found\n").unwrap_err();
    assert!(err.to_string().contains("undelray"), "{err}");
}

#[test]
fn bad_labels_are_rejected() {
    assert!(
        "rack=r1,broken"
            .parse::<Labels>()
            .unwrap_err()
            .contains("\"broken\"")
    );
}
