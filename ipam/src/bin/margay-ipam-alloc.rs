//! `margay-ipam-alloc`: assigns N addresses for one node from one pool against etcd, printing
//! one line per committed assignment (`assigned <handle> <addr> <block>`), then `done <n>`.
//! Transient datastore errors are retried (with the same handle, so a lost reply cannot
//! produce a second address) for up to `--retry-for` seconds. The concurrency, crash and
//! restart tests run several of these at once and kill them at random points.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use ipnetwork::IpNetwork;
use margay_ipam::kv::backoff::Backoff;
use margay_ipam::kv::etcd::{EtcdConfig, EtcdStore};
use margay_ipam::{Ipam, IpamConfig, IpamError, Keys, Pool};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Assign addresses for one node (test and benchmark tool)"
)]
struct Args {
    /// etcd endpoint (repeat for several).
    #[arg(long = "endpoint", required = true)]
    endpoints: Vec<String>,
    /// Key prefix.
    #[arg(long, default_value = margay_ipam::keys::DEFAULT_PREFIX)]
    prefix: String,
    /// Node name.
    #[arg(long)]
    node: String,
    /// Pool CIDR.
    #[arg(long)]
    pool: IpNetwork,
    /// Block prefix length (default 26 / 122).
    #[arg(long)]
    block_size: Option<u8>,
    /// Number of addresses.
    #[arg(long)]
    count: usize,
    /// Handles are `<handle-prefix>-<i>`.
    #[arg(long)]
    handle_prefix: String,
    /// Give up after this long without datastore progress.
    #[arg(long, default_value_t = 30)]
    retry_for: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let pool = Pool::new(args.pool, args.block_size)
        .with_context(|| format!("--pool {} --block-size {:?}", args.pool, args.block_size))?;
    let store = EtcdStore::connect(&EtcdConfig::new(args.endpoints.clone())).await?;
    let ipam = Ipam::new(
        Arc::new(store),
        Keys::new(&args.prefix),
        IpamConfig::default(),
    );
    let allocator = ipam.allocator(&args.node, vec![pool.clone()])?;
    let family = pool.family();
    let mut out = std::io::stdout().lock();
    for i in 0..args.count {
        let handle = format!("{}-{i}", args.handle_prefix);
        let mut backoff = Backoff::reconnects();
        let mut failing_since: Option<Instant> = None;
        let assignment = loop {
            match allocator.assign(&handle, family).await {
                Ok(a) => break a,
                Err(IpamError::Store(e)) if e.is_transient() => {
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > Duration::from_secs(args.retry_for) {
                        bail!(
                            "{handle}: datastore unavailable for {}s: {e}",
                            args.retry_for
                        );
                    }
                    eprintln!("{handle}: {e}; retrying");
                    backoff.wait().await;
                }
                Err(e) => return Err(e).with_context(|| format!("assigning for {handle}")),
            }
        };
        writeln!(
            out,
            "assigned {handle} {} {}",
            assignment.addr, assignment.block
        )?;
        out.flush()?;
    }
    writeln!(out, "done {}", args.count)?;
    Ok(())
}
