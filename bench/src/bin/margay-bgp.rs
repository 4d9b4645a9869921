//! `margay-bgp`: margay's BGP speaker on its own, for benchmarks against BIRD, GoBGP and FRR
//! (the node agent embeds the same speaker). Every neighbor is passive; with `--role rr` the
//! neighbors are route-reflector clients (iBGP), with `--role rs` plain eBGP neighbors (margay
//! prepends its AS and sets itself as next hop; it is not an RFC 7947 transparent route
//! server). Runs until SIGTERM or SIGINT.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use margay_bgp::speaker::{NeighborConfig, SpeakerConfig, SpeakerHandle};
use margay_bgp::wire::AfiSafi;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    /// eBGP neighbors.
    Rs,
    /// iBGP route-reflector clients.
    Rr,
}

/// margay's BGP speaker as a standalone route server or reflector.
#[derive(Debug, Parser)]
#[command(name = "margay-bgp", version, about)]
struct Args {
    /// Our AS number.
    #[arg(long)]
    asn: u32,
    /// Our BGP identifier.
    #[arg(long)]
    router_id: Ipv4Addr,
    /// Address to listen on (port 179).
    #[arg(long)]
    listen: IpAddr,
    /// How the neighbors are treated.
    #[arg(long, value_enum, default_value = "rs")]
    role: Role,
    /// A neighbor, `ADDRESS:ASN` (repeat for more).
    #[arg(long = "neighbor", value_parser = parse_neighbor)]
    neighbors: Vec<(IpAddr, u32)>,
}

fn parse_neighbor(text: &str) -> Result<(IpAddr, u32), String> {
    let (address, asn) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("neighbor {text:?} is not ADDRESS:ASN"))?;
    let address = address
        .parse()
        .map_err(|e| format!("neighbor address {address:?}: {e}"))?;
    let asn = asn
        .parse()
        .map_err(|e| format!("neighbor AS {asn:?}: {e}"))?;
    Ok((address, asn))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.neighbors.is_empty() {
        bail!("no --neighbor given");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let speaker = SpeakerHandle::spawn(SpeakerConfig {
            listen: Some(SocketAddr::new(args.listen, 179)),
            ..SpeakerConfig::new(args.asn, args.router_id)
        })
        .context("starting the speaker")?;
        for (address, asn) in &args.neighbors {
            let mut neighbor = NeighborConfig::new(*address, *asn);
            neighbor.passive = true;
            neighbor.families = vec![AfiSafi::IPV4_UNICAST];
            neighbor.route_reflector_client = args.role == Role::Rr;
            speaker
                .add_neighbor(neighbor)
                .await
                .with_context(|| format!("neighbor {address}"))?;
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        speaker
            .shutdown(false)
            .await
            .context("stopping the speaker")
    })
}
