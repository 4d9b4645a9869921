//! The routing information bases of RFC 4271 §3.2 and the decision process of §9.1, pure and
//! sans-IO: the session driver feeds it decoded UPDATEs and session events, and takes out
//! UPDATEs to send per peer and Loc-RIB changes for the node agent.
//!
//! ```text
//!  peer UPDATE ──► Adj-RIB-In (per peer, pre-policy) ──► loop checks + import policy
//!                                                             │ usable paths
//!  originate() ──────────────────────────────────────────────►▼
//!                         Loc-RIB: every path per prefix, ranked (decision.rs), ECMP set
//!                             │ change log (prefixes)
//!            ┌────────────────┴─────────────────┐
//!            ▼                                  ▼
//!   drain_changes(): LocRibChange        poll_updates(peer): advertisement rules
//!   (best, multipath, every path)        (export.rs) + export policy → Adj-RIB-Out
//!                                        → packed UPDATEs (pack.rs), End-of-RIB
//! ```
//!
//! | file | owns |
//! |---|---|
//! | `attrs.rs`, `intern.rs` | normalised route attributes, hash-consed (one `Arc` per distinct set) |
//! | `prefix.rs`, `hasher.rs`, `runs.rs` | per-family glue, the keyed hasher, the prefix tables (neighbours in neighbouring buckets, sharded) |
//! | `table.rs` | Adj-RIB-In / Loc-RIB storage, per-peer export state and the change log |
//! | `adj_out.rs` | one peer's Adj-RIB-Out: prefix → handle of the attribute set sent |
//! | `decision.rs` | RFC 4271 §9.1.2 ranking and the multipath set |
//! | `ingest.rs` | UPDATE → Adj-RIB-In → Loc-RIB, loop detection, import policy, max-prefix |
//! | `restart.rs` | graceful restart, helper side: stale routes (RFC 4724 §4.2) |
//! | `export.rs`, `pack.rs`, `output.rs` | advertisement rules, UPDATE packing, per-peer output, route refresh, subscriber |
//!
//! Not here (see `docs/bgp-rib.md`): ADD-PATH (RFC 7911) paths, graceful restart as the
//! restarting speaker (deferral), IGP cost (§9.1.2.2 e), confederations.

mod adj_out;
mod attrs;
mod decision;
mod export;
mod hasher;
mod ingest;
mod intern;
mod output;
mod pack;
mod peer;
mod prefix;
mod restart;
mod runs;
mod table;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use crate::policy::{MaxPrefixEvent, Policy};
use crate::wire::{AfiSafi, FamilySet, Ipv4Prefix, Ipv6Prefix, PeerType};

pub use attrs::{DEFAULT_LOCAL_PREF, OpaqueAttribute, RouteAttrs};
pub use decision::{DecisionConfig, PathSource, Ranking, SourceKind, rank};
pub use hasher::{PrefixHashBuilder, PrefixHasher};
pub use ingest::IngestReport;
pub use intern::AttrTable;
pub use output::{LocRibChange, RouteView};
pub use peer::{NextHopMode, PeerConfig, PeerId, PeerUp};
pub use prefix::{Prefix, RibPrefix};

use peer::{Peer, Session};
use table::FamilyTable;

/// Speaker-wide RIB settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RibConfig {
    pub local_asn: u32,
    /// Our BGP Identifier.
    pub router_id: Ipv4Addr,
    /// Route-reflector cluster id (RFC 4456 §7); the router id when reflecting without one.
    pub cluster_id: Option<Ipv4Addr>,
    /// Largest ECMP set; 1 for a single best path.
    pub max_paths: usize,
    /// Compare MED across neighbour ASes (RFC 4271 §9.1.2.2 c leaves it to configuration).
    pub always_compare_med: bool,
}

impl RibConfig {
    /// Single best path, MED compared within a neighbour AS, no explicit cluster id.
    pub fn new(local_asn: u32, router_id: Ipv4Addr) -> Self {
        RibConfig {
            local_asn,
            router_id,
            cluster_id: None,
            max_paths: 1,
            always_compare_med: false,
        }
    }
}

/// A RIB operation that cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RibError {
    #[error("max_paths must be at least 1, got {0}")]
    MaxPaths(usize),
    #[error("no peer {0} in the RIB")]
    UnknownPeer(PeerId),
    #[error("a peer with address {0} is already configured")]
    DuplicatePeer(IpAddr),
    #[error("too many peers: the RIB holds at most {max}")]
    TooManyPeers { max: usize },
    #[error("{peer} ({address}) is not established")]
    PeerNotUp { peer: PeerId, address: IpAddr },
    #[error("{peer} ({address}) is already established")]
    PeerAlreadyUp { peer: PeerId, address: IpAddr },
    #[error(
        "UPDATE from {peer} carries ADD-PATH path identifiers (RFC 7911), which the RIB does not store; do not negotiate ADD-PATH receive"
    )]
    AddPathNotSupported { peer: PeerId },
    #[error(
        "{peer} ({address}): address and AS are session-level; remove and add the peer to change them"
    )]
    SessionLevelChange { peer: PeerId, address: IpAddr },
}

/// The configured peers, indexed by [`PeerId`] (slot 0 is [`PeerId::LOCAL`]).
#[derive(Debug, Default)]
pub(crate) struct Peers {
    slots: Vec<Option<Peer>>,
    clients: usize,
}

impl Peers {
    pub fn get(&self, id: PeerId) -> Option<&Peer> {
        self.slots.get(id.index())?.as_ref()
    }

    fn get_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        self.slots.get_mut(id.index())?.as_mut()
    }

    fn iter(&self) -> impl Iterator<Item = (PeerId, &Peer)> {
        self.slots.iter().enumerate().filter_map(|(i, p)| {
            let id = PeerId(u16::try_from(i).ok()?);
            Some((id, p.as_ref()?))
        })
    }
}

/// What ranking and the advertisement rules read: configuration and peers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Env<'a> {
    pub config: &'a RibConfig,
    pub peers: &'a Peers,
}

/// The RIB taken apart for one operation over both families: what every family reads
/// ([`Env`]) beside what each writes.
pub(crate) struct Parts<'a> {
    pub env: Env<'a>,
    pub interned: &'a mut AttrTable,
    pub v4: &'a mut FamilyTable<Ipv4Prefix>,
    pub v6: &'a mut FamilyTable<Ipv6Prefix>,
}

impl Env<'_> {
    /// Our cluster id if we reflect (an explicit id, or any client configured).
    pub fn cluster_id(&self) -> Option<Ipv4Addr> {
        self.config
            .cluster_id
            .or((self.peers.clients > 0).then_some(self.config.router_id))
    }

    fn source(&self, id: PeerId) -> PathSource {
        match self.peers.get(id) {
            Some(peer) => PathSource {
                peer: id,
                kind: match peer.kind {
                    PeerType::External => SourceKind::External,
                    PeerType::Internal => SourceKind::Internal,
                },
                router_id: peer.router_id().unwrap_or(Ipv4Addr::UNSPECIFIED),
                address: peer.config.address,
            },
            None => PathSource {
                peer: id,
                kind: SourceKind::Local,
                router_id: self.config.router_id,
                address: IpAddr::V4(self.config.router_id),
            },
        }
    }

    /// [`Env::rank`] as the tables take it.
    pub fn ranker(&self) -> impl Fn(&[(PeerId, &RouteAttrs)]) -> Ranking + use<'_> {
        |paths| self.rank(paths)
    }

    pub fn rank(&self, paths: &[(PeerId, &RouteAttrs)]) -> Ranking {
        let candidates: Vec<(PathSource, &RouteAttrs)> = paths
            .iter()
            .map(|(peer, attrs)| (self.source(*peer), *attrs))
            .collect();
        decision::rank(
            &candidates,
            &DecisionConfig {
                local_asn: self.config.local_asn,
                always_compare_med: self.config.always_compare_med,
                max_paths: self.config.max_paths,
            },
        )
    }
}

/// The RIB of one speaker: both unicast families.
#[derive(Debug)]
pub struct Rib {
    pub(crate) config: RibConfig,
    pub(crate) peers: Peers,
    pub(crate) interned: AttrTable,
    pub(crate) v4: FamilyTable<Ipv4Prefix>,
    pub(crate) v6: FamilyTable<Ipv6Prefix>,
}

impl Rib {
    pub(crate) fn parts(&mut self) -> Parts<'_> {
        let Rib {
            config,
            peers,
            interned,
            v4,
            v6,
        } = self;
        Parts {
            env: Env { config, peers },
            interned,
            v4,
            v6,
        }
    }

    pub fn new(config: RibConfig) -> Result<Rib, RibError> {
        if config.max_paths == 0 {
            return Err(RibError::MaxPaths(0));
        }
        Ok(Rib {
            config,
            peers: Peers {
                slots: vec![None],
                clients: 0,
            },
            interned: AttrTable::default(),
            v4: FamilyTable::new(),
            v6: FamilyTable::new(),
        })
    }

    pub fn config(&self) -> &RibConfig {
        &self.config
    }

    /// Adds a peer (down until [`Rib::peer_up`]). iBGP when its AS is ours.
    pub fn add_peer(&mut self, config: PeerConfig) -> Result<PeerId, RibError> {
        if self
            .peers
            .iter()
            .any(|(_, p)| p.config.address == config.address)
        {
            return Err(RibError::DuplicatePeer(config.address));
        }
        let slot = match self.peers.slots.iter().skip(1).position(Option::is_none) {
            Some(i) => i + 1,
            None => self.peers.slots.len(),
        };
        let max = usize::from(u16::MAX);
        let id = PeerId(u16::try_from(slot).map_err(|_| RibError::TooManyPeers { max })?);
        let kind = if config.remote_asn == self.config.local_asn {
            PeerType::Internal
        } else {
            PeerType::External
        };
        let clients_before = self.peers.clients;
        if config.route_reflector_client && kind == PeerType::Internal {
            self.peers.clients += 1;
        }
        let peer = Peer {
            config,
            kind,
            session: None,
            restarting_router_id: None,
        };
        if slot == self.peers.slots.len() {
            self.peers.slots.push(Some(peer));
        } else {
            self.peers.slots[slot] = Some(peer);
        }
        self.v4.ensure_peer(id);
        self.v6.ensure_peer(id);
        self.reflection_changed(clients_before);
        Ok(id)
    }

    /// Removes a peer, purging its routes first if it is up or holds stale ones.
    pub fn remove_peer(&mut self, id: PeerId) -> Result<PeerConfig, RibError> {
        let peer = self.peers.get(id).ok_or(RibError::UnknownPeer(id))?;
        if peer.is_up() || peer.restarting_router_id.is_some() {
            self.peer_down(id)?;
        }
        let clients_before = self.peers.clients;
        let peer = self.peers.slots[id.index()]
            .take()
            .ok_or(RibError::UnknownPeer(id))?;
        if peer.config.route_reflector_client && peer.kind == PeerType::Internal {
            self.peers.clients -= 1;
        }
        self.reflection_changed(clients_before);
        Ok(peer.config)
    }

    /// Whether we reflect changed with the client count: every established peer's export
    /// is re-evaluated.
    fn reflection_changed(&mut self, clients_before: usize) {
        if (clients_before == 0) != (self.peers.clients == 0) && self.config.cluster_id.is_none() {
            self.refresh_all_exports();
        }
    }

    fn refresh_all_exports(&mut self) {
        let up: Vec<(PeerId, FamilySet)> = self
            .peers
            .iter()
            .filter_map(|(id, p)| Some((id, p.session.as_ref()?.families)))
            .collect();
        for (id, families) in up {
            self.restart_export(id, families, false);
        }
    }

    fn restart_export(&mut self, id: PeerId, families: FamilySet, end_of_rib: bool) {
        if families.contains(AfiSafi::IPV4_UNICAST) {
            self.v4.start_full_export(id, end_of_rib);
        }
        if families.contains(AfiSafi::IPV6_UNICAST) {
            self.v6.start_full_export(id, end_of_rib);
        }
    }

    fn peer(&self, id: PeerId) -> Result<&Peer, RibError> {
        self.peers.get(id).ok_or(RibError::UnknownPeer(id))
    }

    /// The peer's session, or the error saying it is down.
    fn session(&self, id: PeerId) -> Result<&Session, RibError> {
        let peer = self.peer(id)?;
        peer.session.as_ref().ok_or(RibError::PeerNotUp {
            peer: id,
            address: peer.config.address,
        })
    }

    pub fn peer_config(&self, id: PeerId) -> Result<&PeerConfig, RibError> {
        Ok(&self.peer(id)?.config)
    }

    /// Replaces a peer's policies without a session reset: import policy is re-run over its
    /// Adj-RIB-In (kept pre-policy for this), and the whole Loc-RIB is re-evaluated for
    /// export to it.
    pub fn set_policies(
        &mut self,
        id: PeerId,
        import: Policy,
        export: Policy,
    ) -> Result<(), RibError> {
        let peer = self.peers.get_mut(id).ok_or(RibError::UnknownPeer(id))?;
        peer.config.import = import;
        peer.config.export = export;
        let holds_stale = peer.restarting_router_id.is_some();
        if let Some(families) = peer.session.as_ref().map(|s| s.families) {
            self.reimport(id);
            self.restart_export(id, families, false);
        } else if holds_stale {
            self.reimport(id);
        }
        Ok(())
    }

    /// Applies a changed peer configuration without a session reset: policies, next-hop
    /// mode and addresses, reflector-client status and max-prefix are RIB-level, so import is
    /// re-run over the Adj-RIB-In and export re-evaluated (for every peer when the
    /// reflector-client status changed, as reflection to the others depends on it). The
    /// address and AS are session-level: changing them is refused here (remove and add the
    /// peer). Returns the max-prefix events the new limit gives for the routes held.
    pub fn reconfigure_peer(
        &mut self,
        id: PeerId,
        config: PeerConfig,
    ) -> Result<Vec<MaxPrefixEvent>, RibError> {
        let clients_before = self.peers.clients;
        let peer = self.peers.get_mut(id).ok_or(RibError::UnknownPeer(id))?;
        if (peer.config.address, peer.config.remote_asn) != (config.address, config.remote_asn) {
            return Err(RibError::SessionLevelChange {
                peer: id,
                address: peer.config.address,
            });
        }
        let was_client = peer.config.route_reflector_client && peer.kind == PeerType::Internal;
        let is_client = config.route_reflector_client && peer.kind == PeerType::Internal;
        peer.config = config;
        let families = peer.session.as_ref().map(|s| s.families);
        let holds_stale = peer.restarting_router_id.is_some();
        match (was_client, is_client) {
            (false, true) => self.peers.clients += 1,
            (true, false) => self.peers.clients -= 1,
            _ => {}
        }
        let mut report = IngestReport::default();
        if (clients_before == 0) != (self.peers.clients == 0) && self.config.cluster_id.is_none() {
            // A cluster id appeared or went: the CLUSTER_LIST loop check and reflection
            // change for every peer.
            let up: Vec<PeerId> = self
                .peers
                .iter()
                .filter(|(_, p)| p.is_up() || p.restarting_router_id.is_some())
                .map(|(id, _)| id)
                .collect();
            up.into_iter().for_each(|peer| self.reimport(peer));
            self.refresh_all_exports();
        } else if families.is_some() || holds_stale {
            self.reimport(id);
            if was_client != is_client {
                self.refresh_all_exports();
            } else if let Some(families) = families {
                self.restart_export(id, families, false);
            }
        }
        if families.is_some() {
            self.check_max_prefix(id, &mut report);
        }
        Ok(report.max_prefix)
    }

    /// A session reached Established: its export starts with the whole Loc-RIB, then
    /// End-of-RIB per family (RFC 4724 §4).
    pub fn peer_up(&mut self, id: PeerId, up: PeerUp) -> Result<(), RibError> {
        let peer = self.peers.get_mut(id).ok_or(RibError::UnknownPeer(id))?;
        if peer.is_up() {
            return Err(RibError::PeerAlreadyUp {
                peer: id,
                address: peer.config.address,
            });
        }
        let mut families = FamilySet::EMPTY;
        up.families.iter().for_each(|f| families.insert(*f));
        peer.session = Some(Session {
            router_id: up.router_id,
            local_address: up.local_address,
            context: up.context,
            families,
            warned: FamilySet::EMPTY,
        });
        peer.restarting_router_id = None;
        self.restart_export(id, families, true);
        Ok(())
    }

    /// A session left Established: every route learned from it is withdrawn from the
    /// Loc-RIB and its Adj-RIB-Out is forgotten (RFC 4271 §9: "the routes ... are removed").
    /// Also for a peer that is down after [`Rib::peer_down_graceful`]: its stale routes are
    /// withdrawn (the restart is given up).
    pub fn peer_down(&mut self, id: PeerId) -> Result<(), RibError> {
        if self.peer(id)?.restarting_router_id.is_some() {
            self.sweep_stale(id, None)?;
            return Ok(());
        }
        self.end_session(id, FamilySet::EMPTY)
    }

    /// Ends `id`'s session: its routes of the `stale` families stay, marked stale (RFC 4724
    /// §4.2), the others are withdrawn; its Adj-RIB-Out is forgotten.
    fn end_session(&mut self, id: PeerId, stale: FamilySet) -> Result<(), RibError> {
        let router_id = self.session(id)?.router_id;
        let Parts { env, v4, v6, .. } = self.parts();
        if stale.contains(AfiSafi::IPV4_UNICAST) {
            v4.mark_stale(id);
        } else {
            v4.purge(id, &env.ranker());
        }
        if stale.contains(AfiSafi::IPV6_UNICAST) {
            v6.mark_stale(id);
        } else {
            v6.purge(id, &env.ranker());
        }
        v4.stop_export(id);
        v6.stop_export(id);
        let holds_stale = v4.stale_len(id) + v6.stale_len(id) > 0;
        if let Some(peer) = self.peers.get_mut(id) {
            peer.session = None;
            peer.restarting_router_id = holds_stale.then_some(router_id);
        }
        self.v4.compact_log();
        self.v6.compact_log();
        self.interned.sweep();
        Ok(())
    }

    /// Originates `prefix` from this node with `attrs` (next hop `None`: ours towards each
    /// peer), replacing an earlier origination of it.
    pub fn originate(&mut self, prefix: Prefix, attrs: RouteAttrs) {
        let attrs = self.interned.intern(attrs);
        let Parts { env, v4, v6, .. } = self.parts();
        match prefix {
            Prefix::V4(p) => ingest::originate(v4, &env, p, attrs),
            Prefix::V6(p) => ingest::originate(v6, &env, p, attrs),
        }
    }

    /// Withdraws a locally originated prefix; false if it was not originated.
    pub fn withdraw_local(&mut self, prefix: Prefix) -> bool {
        let Parts { env, v4, v6, .. } = self.parts();
        match prefix {
            Prefix::V4(p) => ingest::withdraw_local(v4, &env, p),
            Prefix::V6(p) => ingest::withdraw_local(v6, &env, p),
        }
    }

    /// Distinct interned attribute sets.
    pub fn attribute_sets(&self) -> usize {
        self.interned.len()
    }

    /// Prefixes in the Loc-RIB of `family`.
    pub fn loc_rib_len(&self, family: AfiSafi) -> usize {
        match family {
            AfiSafi::IPV4_UNICAST => self.v4.loc_rib_len(),
            AfiSafi::IPV6_UNICAST => self.v6.loc_rib_len(),
            _ => 0,
        }
    }

    /// Routes in `peer`'s Adj-RIB-In for `family` (pre-policy).
    pub fn adj_rib_in_len(&self, id: PeerId, family: AfiSafi) -> Result<usize, RibError> {
        self.peer(id)?;
        Ok(match family {
            AfiSafi::IPV4_UNICAST => self.v4.received_len(id),
            AfiSafi::IPV6_UNICAST => self.v6.received_len(id),
            _ => 0,
        })
    }

    /// Routes in `peer`'s Adj-RIB-Out for `family`.
    pub fn adj_rib_out_len(&self, id: PeerId, family: AfiSafi) -> Result<usize, RibError> {
        self.peer(id)?;
        Ok(match family {
            AfiSafi::IPV4_UNICAST => self.v4.exports[id.index()].adj_out.len(),
            AfiSafi::IPV6_UNICAST => self.v6.exports[id.index()].adj_out.len(),
            _ => 0,
        })
    }

    /// The route `peer` sent for `prefix`, as received (pre-policy).
    pub fn adj_rib_in(
        &self,
        id: PeerId,
        prefix: Prefix,
    ) -> Result<Option<Arc<RouteAttrs>>, RibError> {
        self.peer(id)?;
        Ok(match prefix {
            Prefix::V4(p) => self.v4.received(id, &p).cloned(),
            Prefix::V6(p) => self.v6.received(id, &p).cloned(),
        })
    }

    /// What `peer` was last sent for `prefix`.
    pub fn adj_rib_out(
        &self,
        id: PeerId,
        prefix: Prefix,
    ) -> Result<Option<Arc<RouteAttrs>>, RibError> {
        self.peer(id)?;
        Ok(match prefix {
            Prefix::V4(p) => self.v4.exports[id.index()].adj_out.get(&p).cloned(),
            Prefix::V6(p) => self.v6.exports[id.index()].adj_out.get(&p).cloned(),
        })
    }
}

#[cfg(test)]
mod tests;
