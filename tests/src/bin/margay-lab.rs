//! `margay-lab` (run it as `scripts/lab`): builds a two-rack margay cluster in network
//! namespaces (BIRD top-of-rack routers, etcd, margay-node on every node, Pods), prints the
//! nodes' BGP status, one node's routes with their reasons and a Pod-to-Pod ping matrix, then
//! stays up with the next commands to try until Ctrl-C, SIGTERM or `margay-lab down`.
//!
//! - `margay-lab`: build, print, stay up; tear down on SIGINT/SIGTERM/SIGHUP.
//! - `margay-lab --once`: build, print, tear down; exit 1 if any Pod could not ping another.
//! - `margay-lab down`: stop the running lab (found through its state file) and remove
//!   whatever a lab that died left behind.
//!
//! A signal while the lab is still being built removes everything this process made (its
//! namespaces carry its PID) and exits at once, without waiting for the build to finish.

use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use clap::{Parser, Subcommand};
use margay_tests::lab::report::{self, heading};
use margay_tests::lab::state::{self, DownOutcome, STATE_FILE, StateFile};
use margay_tests::lab::{Lab, LabOptions};
use tokio::signal::unix::{SignalKind, signal};

/// Build a two-rack margay cluster in network namespaces and show it working.
#[derive(Debug, Parser)]
#[command(name = "margay-lab", version, about)]
struct Args {
    /// Build, print everything, tear down and exit (non-zero if any ping failed).
    #[arg(long)]
    once: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stop the running lab and remove everything it made.
    Down,
}

/// Where the process is, for the signal thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Building and printing: a signal removes what this process made and exits.
    Building,
    /// Up and waiting: a signal wakes the main thread, which drops the lab.
    Running,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Down) = args.command {
        return down();
    }
    // Handlers, not a blocked mask: the daemons the lab starts inherit the signal mask, and
    // must still see the SIGTERM that stops them. Handlers are reset by exec.
    let phase = Arc::new(Mutex::new(Phase::Building));
    let (stop_tx, stop_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    {
        let phase = Arc::clone(&phase);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime for signals");
            runtime.block_on(async {
                let streams = [
                    SignalKind::interrupt(),
                    SignalKind::terminate(),
                    SignalKind::hangup(),
                ]
                .map(|kind| signal(kind).expect("installing a signal handler"));
                let [mut int, mut term, mut hup] = streams;
                let _ = ready_tx.send(());
                loop {
                    let name = tokio::select! {
                        _ = int.recv() => "SIGINT",
                        _ = term.recv() => "SIGTERM",
                        _ = hup.recv() => "SIGHUP",
                    };
                    let phase = phase.lock().expect("phase lock");
                    if *phase == Phase::Building {
                        eprintln!("\nmargay-lab: {name}: removing what was built so far");
                        // The build fails under the cleanup's feet: its panic is no news.
                        std::panic::set_hook(Box::new(|_| {}));
                        abandon_build();
                        eprintln!("margay-lab: removed.");
                        std::process::exit(130);
                    }
                    let _ = stop_tx.send(name);
                }
            });
        });
    }
    if ready_rx.recv().is_err() {
        eprintln!("margay-lab: could not install signal handlers");
        return ExitCode::FAILURE;
    }
    up(args.once, &phase, &stop_rx)
}

fn up(once: bool, phase: &Mutex<Phase>, stop: &mpsc::Receiver<&'static str>) -> ExitCode {
    let state_path = std::path::Path::new(STATE_FILE);
    if !once && let Err(e) = state::ensure_none_running(state_path) {
        eprintln!("margay-lab: {e}");
        return ExitCode::FAILURE;
    }
    let options = LabOptions::default();
    println!(
        "margay lab: {} racks × {} nodes (BIRD ToR per rack, eBGP, node mesh off), etcd, {} Pods \
         per node; building…",
        options.racks, options.nodes_per_rack, options.pods_per_node
    );
    let lab = Lab::build(&options);
    // Registered before printing, so `scripts/lab down` finds a lab that is still printing.
    let state_file = if once {
        None
    } else {
        match StateFile::create(state_path, &lab.state()) {
            Ok(file) => Some(file),
            Err(e) => {
                eprintln!("margay-lab: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let margayctl = margay_tests::margay::workspace_bin("margayctl");
    let margayctl = margayctl.canonicalize().unwrap_or(margayctl);
    println!("{}", heading("the lab"));
    print!("{}", report::layout(&lab));
    for node in &lab.nodes {
        println!(
            "{}",
            heading(&format!(
                "margayctl node status — {} ({})",
                node.name,
                lab.host(node).name()
            ))
        );
        println!("{}", report::node_status(&margayctl, lab.margay(node)));
    }
    let shown = &lab.nodes[0];
    println!(
        "{}",
        heading(&format!(
            "margayctl node routes — {}: every route and why it was chosen",
            shown.name
        ))
    );
    println!("{}", report::node_routes(&margayctl, lab.margay(shown)));
    println!("{}", heading("Pod-to-Pod ping"));
    let pings = lab.ping_matrix();
    println!("{pings}");
    for (from, to, result) in pings.failures() {
        println!("✗ {from} → {to}: {result}");
    }
    if once {
        println!("\n--once: tearing down.");
        drop(lab);
        return if pings.all_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    println!("{}", heading("next"));
    print!("{}", report::next_commands(&lab, &margayctl));
    *phase.lock().expect("phase lock") = Phase::Running;
    let signal = stop
        .recv()
        .map_or("the signal thread ended".to_owned(), |s| s.to_string());
    println!("\nmargay-lab: {signal}: tearing down…");
    drop(lab);
    drop(state_file);
    println!("margay-lab: torn down (namespaces, daemons and files removed).");
    ExitCode::SUCCESS
}

/// Removes what this process made while building (the same cleanup `down` does for a lab
/// that died), from the signal thread.
fn abandon_build() {
    let own = state::LabState {
        pid: std::process::id(),
        dir: std::path::PathBuf::new(),
        namespaces: margay_tests::leftovers_of(std::process::id()),
    };
    state::remove_leftovers(&own);
}

fn down() -> ExitCode {
    match state::down(std::path::Path::new(STATE_FILE)) {
        Ok(DownOutcome::NothingRunning) => {
            println!("margay-lab: no lab is running (no {STATE_FILE}).");
            ExitCode::SUCCESS
        }
        Ok(DownOutcome::Stopped { pid }) => {
            println!("margay-lab: the lab (pid {pid}) has torn itself down.");
            ExitCode::SUCCESS
        }
        Ok(DownOutcome::CleanedUp { pid, removed }) => {
            println!(
                "margay-lab: the lab (pid {pid}) was gone; removed what it left: {} namespaces{}",
                removed.len(),
                if removed.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", removed.join(" "))
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("margay-lab down: {e}");
            ExitCode::FAILURE
        }
    }
}
