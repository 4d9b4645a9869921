//! TCP transport for BGP sessions: where the FSM's connection events (RFC 4271 §8.1.4,
//! `Tcp_CR_Acked` / `Tcp_CR_Invalid` / `TcpConnectionConfirmed`) come from.
//!
//! - outgoing connections to port 179, bound to a configured source address (RFC 4271 §8.2.1.2
//!   leaves it to the implementation; a node peers from its underlay address);
//! - a listener that hands over connections only from configured peers and closes any other at
//!   once, with a log line (RFC 4271 §8.2.1: "the local system ... MAY ... accept a connection
//!   only from a configured peer");
//! - TCP MD5 signatures per peer on both connecting and listening sockets (RFC 2385);
//! - the Generalized TTL Security Mechanism (RFC 5082) as an option: send with TTL 255, accept
//!   only TTL ≥ 256 − hops. One listening socket serves peers with different settings: it
//!   checks the lowest minimum any configured peer needs, and each accepted connection then
//!   checks its own peer's (see [`Listener::allow_peer`]);
//! - IPv4 and IPv6.

mod sockopt;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpSocket, TcpStream};

pub use sockopt::MD5_MAX_KEY_LEN;

/// The BGP port (RFC 4271 §8.2.1).
pub const BGP_PORT: u16 = 179;

/// A TCP MD5 key (RFC 2385); never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Md5Key(Vec<u8>);

impl Md5Key {
    /// A key of 1 to 80 bytes.
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, TransportConfigError> {
        let key = key.into();
        if key.is_empty() || key.len() > MD5_MAX_KEY_LEN {
            return Err(TransportConfigError::Md5KeyLength(key.len()));
        }
        Ok(Md5Key(key))
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Md5Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Md5Key(<{} bytes>)", self.0.len())
    }
}

/// GTSM: how many hops away a peer may be (1 = directly connected), RFC 5082 §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlSecurity(u8);

impl TtlSecurity {
    /// Peers at most `hops` (1..=254) hops away.
    pub fn hops(hops: u8) -> Result<Self, TransportConfigError> {
        if hops == 0 || hops == 255 {
            return Err(TransportConfigError::TtlSecurityHops(hops));
        }
        Ok(TtlSecurity(hops))
    }

    /// The lowest TTL accepted: 255 − hops + 1.
    pub fn min_ttl(self) -> u8 {
        255 - self.0 + 1
    }
}

/// A transport setting that cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransportConfigError {
    /// MD5 keys are 1 to 80 bytes.
    #[error("TCP MD5 key must be 1 to {MD5_MAX_KEY_LEN} bytes, got {0}")]
    Md5KeyLength(usize),
    /// GTSM hop counts are 1 to 254.
    #[error("TTL security hop count must be 1 to 254, got {0}")]
    TtlSecurityHops(u8),
}

/// Per-peer transport settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerTransport {
    /// Source address of outgoing connections (the node's underlay address).
    pub local_addr: Option<IpAddr>,
    /// TCP MD5 key shared with the peer.
    pub md5_key: Option<Md5Key>,
    /// GTSM, off when `None`.
    pub ttl_security: Option<TtlSecurity>,
}

fn apply_stream_options<S: AsFd>(socket: &S, peer: IpAddr, opts: &PeerTransport) -> io::Result<()> {
    let fd = socket.as_fd();
    if let Some(key) = &opts.md5_key {
        sockopt::set_md5_key(fd, peer, Some(key.bytes()))?;
    }
    if let Some(gtsm) = opts.ttl_security {
        sockopt::set_ttl(fd, peer.is_ipv6(), Some(255))?;
        sockopt::set_min_ttl(fd, peer.is_ipv6(), gtsm.min_ttl())?;
    }
    Ok(())
}

/// Opens a connection to `peer` with `opts` (source address, MD5, GTSM).
pub async fn connect(peer: SocketAddr, opts: &PeerTransport) -> io::Result<TcpStream> {
    let socket = if peer.is_ipv6() {
        TcpSocket::new_v6()?
    } else {
        TcpSocket::new_v4()?
    };
    apply_stream_options(&socket, peer.ip(), opts)?;
    if let Some(local) = opts.local_addr {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    let stream = socket.connect(peer).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A BGP listener that accepts only configured peers.
#[derive(Debug)]
pub struct Listener {
    listener: TcpListener,
    peers: Arc<Mutex<HashMap<IpAddr, PeerTransport>>>,
}

impl Listener {
    /// Listens on `addr` (e.g. `0.0.0.0:179`, `[::]:179`, or a node address).
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let socket = if addr.is_ipv6() {
            TcpSocket::new_v6()?
        } else {
            TcpSocket::new_v4()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        Ok(Listener {
            listener: socket.listen(128)?,
            peers: Arc::default(),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections from `peer` from now on, with its MD5 key installed on the
    /// listening socket (so the handshake itself is signed) and its GTSM setting.
    pub fn allow_peer(&self, peer: IpAddr, opts: PeerTransport) -> io::Result<()> {
        let fd = self.listener.as_fd();
        let had_key = self
            .lock_peers()
            .get(&peer)
            .is_some_and(|o| o.md5_key.is_some());
        match &opts.md5_key {
            Some(key) => sockopt::set_md5_key(fd, peer, Some(key.bytes()))?,
            // Removing a key that is not there fails with ENOENT: only remove a real one.
            None if had_key => sockopt::set_md5_key(fd, peer, None)?,
            None => {}
        }
        self.lock_peers().insert(peer, opts);
        self.apply_listener_ttl()
    }

    /// The listening socket's GTSM settings: segments that arrive before `accept` (the
    /// handshake, and data queued behind it) are checked against the listener's minimum TTL,
    /// so it is the lowest any configured peer needs (0 while some peer has no GTSM); each
    /// accepted connection then gets its own peer's minimum. Our SYN-ACK leaves with TTL 255
    /// as soon as one peer uses GTSM (RFC 5082 §3).
    fn apply_listener_ttl(&self) -> io::Result<()> {
        let (any_gtsm, min_ttl) = {
            let peers = self.lock_peers();
            let mins = peers
                .values()
                .map(|o| o.ttl_security.map_or(0, TtlSecurity::min_ttl));
            (
                peers.values().any(|o| o.ttl_security.is_some()),
                mins.min().unwrap_or(0),
            )
        };
        let fd = self.listener.as_fd();
        let ipv6 = self.listener.local_addr()?.is_ipv6();
        sockopt::set_ttl(fd, ipv6, any_gtsm.then_some(255))?;
        sockopt::set_min_ttl(fd, ipv6, min_ttl)
    }

    /// Stops accepting `peer` and removes its MD5 key.
    pub fn forget_peer(&self, peer: IpAddr) -> io::Result<()> {
        if let Some(opts) = self.lock_peers().remove(&peer)
            && opts.md5_key.is_some()
        {
            sockopt::set_md5_key(self.listener.as_fd(), peer, None)?;
        }
        self.apply_listener_ttl()
    }

    fn lock_peers(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, PeerTransport>> {
        self.peers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for the next connection from a configured peer. Connections from any other
    /// address are closed at once and logged.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        loop {
            let (stream, remote) = self.listener.accept().await?;
            let opts = self.lock_peers().get(&canonical(remote.ip())).cloned();
            match opts {
                Some(opts) => {
                    if let Some(gtsm) = opts.ttl_security {
                        let fd = stream.as_fd();
                        sockopt::set_ttl(fd, remote.is_ipv6(), Some(255))?;
                        sockopt::set_min_ttl(fd, remote.is_ipv6(), gtsm.min_ttl())?;
                    }
                    stream.set_nodelay(true)?;
                    return Ok((stream, remote));
                }
                None => {
                    tracing::warn!(peer = %remote, "connection from an unconfigured address refused");
                    drop(stream);
                }
            }
        }
    }
}

/// IPv4 peers reaching an IPv6 listener appear as `::ffff:a.b.c.d`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_key_lengths_are_checked() {
        assert_eq!(Md5Key::new(""), Err(TransportConfigError::Md5KeyLength(0)));
        assert_eq!(
            Md5Key::new(vec![1; 81]),
            Err(TransportConfigError::Md5KeyLength(81))
        );
        assert!(Md5Key::new("tor-secret").is_ok());
    }

    #[test]
    fn md5_key_is_never_printed() {
        let key = Md5Key::new("tor-secret").unwrap();
        assert_eq!(format!("{key:?}"), "Md5Key(<10 bytes>)");
    }

    #[test]
    fn gtsm_min_ttl_follows_rfc5082() {
        assert_eq!(TtlSecurity::hops(1).unwrap().min_ttl(), 255);
        assert_eq!(TtlSecurity::hops(2).unwrap().min_ttl(), 254);
        assert_eq!(
            TtlSecurity::hops(0),
            Err(TransportConfigError::TtlSecurityHops(0))
        );
    }

    #[test]
    fn mapped_ipv4_peers_are_canonicalised() {
        let mapped: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        assert_eq!(canonical(mapped), "10.0.0.2".parse::<IpAddr>().unwrap());
    }

    #[tokio::test]
    async fn unconfigured_peer_is_closed_and_configured_one_accepted() {
        let listener = Listener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        listener
            .allow_peer("127.0.0.1".parse().unwrap(), PeerTransport::default())
            .unwrap();
        let stranger = PeerTransport {
            local_addr: Some("127.0.0.9".parse().unwrap()),
            ..Default::default()
        };
        let friend = PeerTransport {
            local_addr: Some("127.0.0.1".parse().unwrap()),
            ..Default::default()
        };
        let mut refused = connect(addr, &stranger).await.unwrap();
        let accepted = connect(addr, &friend).await.unwrap();
        let (server_side, remote) = listener.accept().await.unwrap();
        assert_eq!(remote, accepted.local_addr().unwrap());
        drop(server_side);
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 1];
        assert_eq!(
            refused.read(&mut buf).await.unwrap(),
            0,
            "stranger should see the connection closed"
        );
    }
}
