//! `margay-lab`: the README's main command. Until the node agent exists it runs the harness
//! demo: two namespaces, BIRD learns a route from GoBGP, and the result is printed.

use std::time::Duration;

use clap::Parser;
use margay_tests::{PeeredPair, TestDir};

/// Build a small lab in network namespaces and show what it does.
#[derive(Debug, Parser)]
#[command(name = "margay-lab", version, about)]
struct Args {
    /// The prefix GoBGP announces.
    #[arg(long, default_value = "10.9.0.0/24")]
    prefix: String,
}

fn main() {
    let args = Args::parse();
    let dir = TestDir::new("lab");
    println!(
        "building: namespace {{gobgpd AS65001 10.0.0.1}} ── veth ── {{BIRD AS65002 10.0.0.2}}"
    );
    let pair = PeeredPair::gobgp(&dir, &args.prefix);
    let kernel = pair.wait_installed(&args.prefix, Duration::from_secs(20));
    println!("\nBIRD `show protocols` in {}:", pair.right.name());
    println!(
        "{}",
        pair.bird
            .birdc("show protocols")
            .unwrap_or_else(|e| e.to_string())
    );
    println!("BIRD `show route`:");
    println!(
        "{}",
        pair.bird
            .birdc("show route")
            .unwrap_or_else(|e| e.to_string())
    );
    println!(
        "kernel route in {} (`ip route show proto bird`):\n  {kernel}",
        pair.right.name()
    );
    println!("\nlab torn down (namespaces and daemons removed).");
}
