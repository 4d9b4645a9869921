//! `margay-node`: the per-node networking agent (one per Kubernetes node, host network).

use clap::Parser;

/// margay-node: BGP, VXLAN fallback and Pod routing for one Kubernetes node.
#[derive(Debug, Parser)]
#[command(name = "margay-node", version, about, long_about = None)]
struct Args {
    /// Configuration file (YAML); environment `MARGAY_*` and flags override it.
    #[arg(long, short = 'c', env = "MARGAY_CONFIG")]
    config: Option<std::path::PathBuf>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    eprintln!(
        "margay-node: the node agent is not built yet (config {:?}); see the open issues",
        args.config
    );
    std::process::ExitCode::from(2)
}
