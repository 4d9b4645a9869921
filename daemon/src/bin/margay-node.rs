//! `margay-node`: the per-node networking agent (one per Kubernetes node, host network).

use std::process::ExitCode;

use clap::Parser;
use margay_daemon::config::{NodeConfig, Settings};

/// margay-node: BGP, VXLAN fallback and Pod routing for one Kubernetes node.
///
/// Settings come from the --config file, then MARGAY_* environment variables, then flags,
/// each overriding the one before.
#[derive(Debug, Parser)]
#[command(name = "margay-node", version, about, long_about)]
struct Args {
    #[command(flatten)]
    settings: Settings,

    /// Print the resolved configuration as YAML and exit.
    #[arg(long)]
    print_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match NodeConfig::load(args.settings) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("margay-node: configuration: {e}");
            return ExitCode::from(2);
        }
    };
    if args.print_config {
        match serde_yaml_ng::to_string(&config) {
            Ok(yaml) => {
                print!("{yaml}");
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("margay-node: printing the configuration: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!(
        "margay-node: node {}: configuration is valid, but the node agent itself is not built \
         yet (see the open issues); use --print-config to inspect the configuration",
        config.node_name
    );
    ExitCode::from(2)
}
