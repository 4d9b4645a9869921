//! `margayctl`: the configuration CLI, in the habits of kubectl and calicoctl.

use clap::{CommandFactory, Parser, Subcommand};

/// margayctl: manage margay resources, IPAM and node status.
#[derive(Debug, Parser)]
#[command(name = "margayctl", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the client version.
    Version,
    /// Print a shell completion script.
    Completion {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => println!("margayctl {}", env!("CARGO_PKG_VERSION")),
        Command::Completion { shell } => clap_complete::generate(
            shell,
            &mut Cli::command(),
            "margayctl",
            &mut std::io::stdout(),
        ),
    }
}
