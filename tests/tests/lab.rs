//! The lab (`scripts/lab`, the README's main command) built once, as the binary builds it:
//! two racks of two margay nodes behind BIRD ToRs. Keeps the lab working in CI: every node's
//! ToR session is Established, rack neighbours are routed directly and the other rack natively
//! via the ToR (both checked by `Lab::build`), what the lab prints can be had, and every Pod
//! reaches every other Pod.

use std::time::Duration;

use margay_tests::lab::report;
use margay_tests::lab::{Lab, LabOptions};
use margay_tests::margay::workspace_bin;

#[test]
fn lab_builds_and_every_pod_pings_every_other_pod() {
    let lab = Lab::build(&LabOptions::default());
    assert_eq!(lab.nodes.len(), 4);
    assert_eq!(lab.pods().len(), 8);
    for node in &lab.nodes {
        let status = lab
            .margay(node)
            .wait_established(1, Duration::from_secs(10));
        let tor = lab.racks.racks[node.rack].tor_addr.to_string();
        assert_eq!(
            status.sessions[0].peer.to_string(),
            tor,
            "{}: {status:#?}",
            node.name
        );
    }
    let margayctl = workspace_bin("margayctl");
    let status = report::node_status(&margayctl, lab.margay(&lab.nodes[0]));
    assert!(status.contains("Established"), "{status}");
    let routes = report::node_routes(&margayctl, lab.margay(&lab.nodes[0]));
    assert!(routes.contains("native"), "{routes}");
    let layout = report::layout(&lab);
    for ns in lab.namespaces() {
        // Every namespace but the switches' is listed.
        if !ns.contains("sw") {
            assert!(layout.contains(&ns), "{ns} missing from:\n{layout}");
        }
    }
    let next = report::next_commands(&lab, &margayctl);
    assert!(next.contains("mode set vxlan"), "{next}");
    assert!(next.contains("disable tor1"), "{next}");

    let pings = lab.ping_matrix();
    assert_eq!(pings.pairs(), 8 * 7);
    assert!(pings.all_ok(), "{pings}\n{:#?}", pings.failures());
}
