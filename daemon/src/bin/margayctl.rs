//! `margayctl`: the configuration CLI, in the habits of kubectl and calicoctl. Every error
//! exits non-zero with a message naming what was wrong; a file with any invalid document writes
//! nothing. `node status` and `node routes` ask the local margay-node over its API socket
//! (`margay_daemon::api`); everything else talks to etcd.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use margay_daemon::api::{self, Reply, Request, render};
use margay_daemon::config::{DEFAULT_API_SOCKET, Settings};
use margay_daemon::datastore::{Datastore, DatastoreError};
use margay_daemon::resources::{
    Kind, Resource, parse_json, parse_yaml, to_json, to_yaml, validate_set,
};
use margay_ipam::kv::etcd::EtcdStore;
use margay_ipam::{Ipam, IpamConfig, Keys, NodeRelease};

/// margayctl: manage margay resources and IPAM in etcd.
#[derive(Debug, Parser)]
#[command(name = "margayctl", version)]
struct Cli {
    #[command(flatten)]
    etcd: EtcdArgs,
    #[command(subcommand)]
    command: Command,
}

/// Where etcd is (flags, or the same `MARGAY_ETCD_*` variables margay-node reads).
#[derive(Debug, clap::Args)]
struct EtcdArgs {
    /// etcd client URLs, comma-separated.
    #[arg(
        long,
        global = true,
        env = "MARGAY_ETCD_ENDPOINTS",
        value_delimiter = ','
    )]
    etcd_endpoints: Option<Vec<String>>,
    /// Key prefix [default: /margay/v1/].
    #[arg(long, global = true, env = "MARGAY_ETCD_PREFIX")]
    etcd_prefix: Option<String>,
    /// CA certificate of etcd's server certificate (turns TLS on).
    #[arg(long, global = true, env = "MARGAY_ETCD_CA_FILE")]
    etcd_ca_file: Option<PathBuf>,
    /// Client certificate.
    #[arg(long, global = true, env = "MARGAY_ETCD_CERT_FILE")]
    etcd_cert_file: Option<PathBuf>,
    /// Client key.
    #[arg(long, global = true, env = "MARGAY_ETCD_KEY_FILE")]
    etcd_key_file: Option<PathBuf>,
    /// etcd user.
    #[arg(long, global = true, env = "MARGAY_ETCD_USERNAME")]
    etcd_username: Option<String>,
    /// File holding the etcd user's password.
    #[arg(long, global = true, env = "MARGAY_ETCD_PASSWORD_FILE")]
    etcd_password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    /// NAME and KIND columns.
    Table,
    /// The table with each resource's spec.
    Wide,
    /// YAML documents.
    Yaml,
    /// A JSON array.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or update the resources of a YAML file.
    Apply {
        /// The file (`-` for standard input).
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
    },
    /// Create the resources of a YAML file; fails on any that exists.
    Create {
        /// The file.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
    },
    /// Replace the resources of a YAML file; fails on any that does not exist.
    Replace {
        /// The file.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
    },
    /// Delete the resources of a YAML file, or one resource by kind and name.
    Delete {
        /// The file.
        #[arg(short = 'f', long = "filename", conflicts_with_all = ["kind", "name"])]
        file: Option<PathBuf>,
        /// Kind (IPPool, BGPConfiguration, BGPPeer, Node, IPAMConfig; case-insensitive).
        kind: Option<String>,
        /// Name.
        name: Option<String>,
    },
    /// Show resources.
    Get {
        /// Kind (case-insensitive; plural accepted).
        kind: String,
        /// Name (all when absent).
        name: Option<String>,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: Output,
    },
    /// IP address management.
    Ipam {
        #[command(subcommand)]
        command: IpamCommand,
    },
    /// Encapsulation mode of IP pools.
    Mode {
        #[command(subcommand)]
        command: ModeCommand,
    },
    /// Ask the margay-node of this machine (over its local API socket).
    Node {
        #[command(subcommand)]
        command: NodeCommand,
    },
    /// Print the client version.
    Version,
    /// Print a shell completion script.
    Completion {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
enum IpamCommand {
    /// Per-pool totals, in use and free (and per block with --blocks).
    Show {
        /// List every block.
        #[arg(long)]
        blocks: bool,
    },
    /// Report inconsistencies: leaked or stale allocations, affinities without blocks...
    Check,
    /// Repair what `check` reports.
    Release,
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// The node, its BGP sessions (peer, type, state, since, prefixes) and its problems.
    Status(NodeArgs),
    /// Every block with the route chosen for it and why.
    Routes(NodeArgs),
}

/// Where the node's API socket is and how to print its answer.
#[derive(Debug, clap::Args)]
struct NodeArgs {
    /// margay-node's API socket.
    #[arg(long, env = "MARGAY_API_SOCKET", default_value = DEFAULT_API_SOCKET)]
    socket: PathBuf,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: NodeOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum NodeOutput {
    /// Aligned columns.
    Table,
    /// The API's JSON, indented.
    Json,
}

#[derive(Debug, Subcommand)]
enum ModeCommand {
    /// Set the encapsulation (none, vxlan, cross-subnet, auto) of one pool or of all.
    Set {
        /// The mode.
        mode: String,
        /// Only this pool.
        #[arg(long)]
        pool: Option<String>,
    },
}

fn kind_of(text: &str) -> anyhow::Result<Kind> {
    let wanted = text.to_ascii_lowercase();
    Kind::ALL
        .into_iter()
        .find(|k| {
            let name = k.as_str().to_ascii_lowercase();
            wanted == name || wanted == format!("{name}s")
        })
        .ok_or_else(|| {
            let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            anyhow!(
                "unknown kind {text:?}: expected one of {}",
                kinds.join(", ")
            )
        })
}

fn read_resources(file: &PathBuf) -> anyhow::Result<Vec<Resource>> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    let resources = parse_yaml(&text).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow!(
            "{}: nothing written:\n  {}",
            file.display(),
            lines.join("\n  ")
        )
    })?;
    validate_set(&resources).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow!(
            "{}: nothing written:\n  {}",
            file.display(),
            lines.join("\n  ")
        )
    })?;
    if resources.is_empty() {
        bail!("{}: no resources in the file", file.display());
    }
    Ok(resources)
}

async fn datastore(args: &EtcdArgs) -> anyhow::Result<Datastore<EtcdStore>> {
    let settings = Settings {
        etcd_endpoints: args.etcd_endpoints.clone(),
        etcd_prefix: args.etcd_prefix.clone(),
        etcd_ca_file: args.etcd_ca_file.clone(),
        etcd_cert_file: args.etcd_cert_file.clone(),
        etcd_key_file: args.etcd_key_file.clone(),
        etcd_username: args.etcd_username.clone(),
        etcd_password_file: args.etcd_password_file.clone(),
        ..Settings::default()
    };
    let config = settings.etcd_config()?;
    let (store, keys) = margay_daemon::etcd::open(&config).await?;
    Ok(Datastore::new(store, keys))
}

fn print_resources(resources: &[Resource], output: Output) {
    match output {
        Output::Yaml => {
            let docs: Vec<String> = resources.iter().map(to_yaml).collect();
            print!("{}", docs.join("---\n"));
        }
        Output::Json => {
            let docs: Vec<serde_json::Value> = resources
                .iter()
                .map(|r| serde_json::from_str(&to_json(r)).expect("our own JSON"))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&docs).expect("plain data")
            );
        }
        Output::Table | Output::Wide => {
            let width = resources
                .iter()
                .map(|r| r.name().as_str().len())
                .max()
                .unwrap_or(4)
                .max(4);
            let spec_header = if output == Output::Wide {
                "   SPEC"
            } else {
                ""
            };
            println!("{:<width$}   {:<16}{spec_header}", "NAME", "KIND");
            for r in resources {
                let spec = if output == Output::Wide {
                    let doc: serde_json::Value =
                        serde_json::from_str(&to_json(r)).expect("our own JSON");
                    format!("   {}", doc["spec"])
                } else {
                    String::new()
                };
                println!(
                    "{:<width$}   {:<16}{spec}",
                    r.name().as_str(),
                    r.kind().as_str()
                );
            }
        }
    }
}

async fn pools(store: &Datastore<EtcdStore>) -> anyhow::Result<Vec<margay_ipam::Pool>> {
    let (pools, _) = store.list(Some(Kind::IpPool)).await?;
    Ok(pools
        .into_iter()
        .filter_map(|s| match s.resource {
            Resource::IpPool(p) => Some(p.to_ipam_pool()),
            _ => None,
        })
        .collect())
}

fn ipam(store: &Datastore<EtcdStore>) -> Ipam<EtcdStore> {
    Ipam::new(
        Arc::clone(store.store()),
        Keys::clone(store.keys()),
        IpamConfig::default(),
    )
}

/// Deletes one resource. A Node also gives its IPAM blocks, addresses and affinities back to
/// the pools; when the Node is already gone but blocks of it remain, those are still released,
/// so an interrupted `delete node` can simply be run again.
async fn delete(store: &Datastore<EtcdStore>, kind: Kind, name: &str) -> anyhow::Result<()> {
    let deleted = store.delete(kind, name, None).await;
    if kind != Kind::Node {
        deleted?;
        println!("{kind}/{name} deleted");
        return Ok(());
    }
    let already_gone = match deleted {
        Ok(()) => {
            println!("{kind}/{name} deleted");
            false
        }
        Err(DatastoreError::NotFound { .. }) => true,
        Err(e) => return Err(e.into()),
    };
    let released = ipam(store).release_node(name).await.with_context(|| {
        format!(
            "Node/{name}: releasing its IPAM blocks (run `margayctl delete node {name}` again \
             to finish)"
        )
    })?;
    if already_gone {
        if released == NodeRelease::default() {
            bail!("Node/{name} not found (and it holds no IPAM blocks)");
        }
        println!("Node/{name} was already deleted");
    }
    let blocks: Vec<String> = released.blocks.iter().map(ToString::to_string).collect();
    let listed = if blocks.is_empty() {
        String::new()
    } else {
        format!(" ({})", blocks.join(", "))
    };
    println!(
        "released {} of {name}{listed}: {}, {}",
        plural(blocks.len(), "block", "blocks"),
        plural(released.addresses, "address", "addresses"),
        plural(released.affinities, "affinity", "affinities"),
    );
    Ok(())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Asks the node on `socket`; its error replies become errors naming the socket.
async fn ask_node(socket: &Path, request: Request) -> anyhow::Result<Reply> {
    match api::call(socket, &request).await? {
        Reply::Error { message } => bail!("margay-node on {}: {message}", socket.display()),
        reply => Ok(reply),
    }
}

fn print_json<T: serde::Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("plain data")
    );
}

async fn node_command(command: NodeCommand) -> anyhow::Result<()> {
    match command {
        NodeCommand::Status(args) => {
            let Reply::Status(status) = ask_node(&args.socket, Request::Status).await? else {
                bail!(
                    "margay-node on {}: status answered with another reply",
                    args.socket.display()
                );
            };
            match args.output {
                NodeOutput::Json => print_json(&status),
                NodeOutput::Table => {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    print!("{}", render::status_table(&status, now));
                }
            }
        }
        NodeCommand::Routes(args) => {
            let Reply::Routes(routes) = ask_node(&args.socket, Request::Routes).await? else {
                bail!(
                    "margay-node on {}: routes answered with another reply",
                    args.socket.display()
                );
            };
            match args.output {
                NodeOutput::Json => print_json(&routes),
                NodeOutput::Table => print!("{}", render::routes_table(&routes)),
            }
        }
    }
    Ok(())
}

/// The pool with `spec.encapsulation` set to `mode`, re-validated like any document.
fn with_mode(resource: &Resource, mode: &str) -> Result<Resource, DatastoreError> {
    let mut doc: serde_json::Value =
        serde_json::from_str(&to_json(resource)).expect("our own JSON");
    doc["spec"]["encapsulation"] = serde_json::Value::String(mode.to_owned());
    Ok(parse_json(
        &format!("mode set {mode}"),
        doc.to_string().as_bytes(),
    )?)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Version => println!("margayctl {}", env!("CARGO_PKG_VERSION")),
        Command::Completion { shell } => clap_complete::generate(
            shell,
            &mut Cli::command(),
            "margayctl",
            &mut std::io::stdout(),
        ),
        Command::Apply { file } => {
            let resources = read_resources(&file)?;
            let store = datastore(&cli.etcd).await?;
            for r in &resources {
                store.apply(r).await?;
                println!("{} applied", r.id());
            }
        }
        Command::Create { file } => {
            let resources = read_resources(&file)?;
            let store = datastore(&cli.etcd).await?;
            for r in &resources {
                store.create(r).await?;
                println!("{} created", r.id());
            }
        }
        Command::Replace { file } => {
            let resources = read_resources(&file)?;
            let store = datastore(&cli.etcd).await?;
            for r in &resources {
                let stored = store
                    .get(r.kind(), r.name().as_str())
                    .await?
                    .ok_or_else(|| anyhow!("{} not found: nothing to replace", r.id()))?;
                store.replace(r, stored.revision).await?;
                println!("{} replaced", r.id());
            }
        }
        Command::Delete { file, kind, name } => {
            let targets: Vec<(Kind, String)> = match (file, kind, name) {
                (Some(file), _, _) => read_resources(&file)?
                    .iter()
                    .map(|r| (r.kind(), r.name().as_str().to_owned()))
                    .collect(),
                (None, Some(kind), Some(name)) => vec![(kind_of(&kind)?, name)],
                _ => bail!("delete needs -f FILE, or KIND and NAME"),
            };
            let store = datastore(&cli.etcd).await?;
            for (kind, name) in targets {
                delete(&store, kind, &name).await?;
            }
        }
        Command::Get { kind, name, output } => {
            let kind = kind_of(&kind)?;
            let store = datastore(&cli.etcd).await?;
            let resources: Vec<Resource> = match name {
                Some(name) => vec![
                    store
                        .get(kind, &name)
                        .await?
                        .ok_or_else(|| anyhow!("{kind}/{name} not found"))?
                        .resource,
                ],
                None => store
                    .list(Some(kind))
                    .await?
                    .0
                    .into_iter()
                    .map(|s| s.resource)
                    .collect(),
            };
            print_resources(&resources, output);
        }
        Command::Ipam { command } => {
            let store = datastore(&cli.etcd).await?;
            let ipam = ipam(&store);
            match command {
                IpamCommand::Show { blocks } => {
                    let mut usage = ipam.show(&pools(&store).await?).await?;
                    if !blocks {
                        usage.pools.iter_mut().for_each(|p| p.blocks.clear());
                        usage.outside_pools.clear();
                    }
                    print!("{usage}");
                }
                IpamCommand::Check => {
                    let report = ipam.check(None).await?;
                    print!("{report}");
                    if !report.is_clean() {
                        bail!(
                            "IPAM is not consistent (see above; `margayctl ipam release` repairs it)"
                        );
                    }
                }
                IpamCommand::Release => {
                    let report = ipam.check(None).await?;
                    let outcome = ipam.release(&report).await?;
                    println!("{outcome:?}");
                }
            }
        }
        Command::Node { command } => node_command(command).await?,
        Command::Mode {
            command: ModeCommand::Set { mode, pool },
        } => {
            let store = datastore(&cli.etcd).await?;
            let names: Vec<String> = match pool {
                Some(pool) => vec![pool],
                None => store
                    .list(Some(Kind::IpPool))
                    .await?
                    .0
                    .into_iter()
                    .map(|s| s.resource.name().as_str().to_owned())
                    .collect(),
            };
            if names.is_empty() {
                bail!("no IP pools to set the mode of");
            }
            for name in names {
                store
                    .update(Kind::IpPool, &name, |r| with_mode(r, &mode))
                    .await?;
                println!("IPPool/{name}: encapsulation {mode}");
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("margayctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
