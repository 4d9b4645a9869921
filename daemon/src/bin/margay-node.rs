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
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // SIGTERM and SIGINT are how margay-node is stopped gracefully: a blocked mask inherited
    // from whatever started it would leave them pending forever.
    let mut stop_signals = nix::sys::signal::SigSet::empty();
    stop_signals.add(nix::sys::signal::Signal::SIGTERM);
    stop_signals.add(nix::sys::signal::Signal::SIGINT);
    if let Err(e) = stop_signals.thread_unblock() {
        eprintln!("margay-node: unblocking SIGTERM/SIGINT: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("margay-node: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(margay_daemon::agent::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("margay-node: {e}");
            ExitCode::FAILURE
        }
    }
}
