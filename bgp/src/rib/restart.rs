//! Graceful restart, helper side (RFC 4724 §4.2): when a peer that advertised the Graceful
//! Restart capability loses its session without a NOTIFICATION, its routes of the families it
//! preserves stay in the Adj-RIB-In and the Loc-RIB, marked stale, and keep being used and
//! exported unchanged ("the Receiving Speaker MUST retain the routes received from the Restarting
//! Speaker for all the address families that were previously received in the Graceful Restart
//! Capability, and MUST mark them as stale routing information"). A route the peer sends again
//! replaces the stale one; End-of-RIB for a family, the restart timer
//! ([`Rib::sweep_stale`]) or a capability without the F bit withdraws the rest.
//!
//! The stale mark is a per-peer, per-family set of prefixes (`FamilyTable::stale`), empty
//! outside a restart: the route entries do not grow.

use crate::wire::{AfiSafi, FamilySet};

use super::peer::PeerId;
use super::prefix::Prefix;
use super::{Parts, Rib, RibError};

impl Rib {
    /// The session with `id` ended without a NOTIFICATION and the peer advertised Graceful
    /// Restart for the families in `keep`: like [`Rib::peer_down`], except that its routes of
    /// those families stay, marked stale, and keep taking part in the decision process and in
    /// export (nothing changes downstream). Routes already stale (a second failure before
    /// End-of-RIB) stay stale.
    pub fn peer_down_graceful(&mut self, id: PeerId, keep: &[AfiSafi]) -> Result<(), RibError> {
        let mut families = FamilySet::EMPTY;
        keep.iter().for_each(|f| families.insert(*f));
        self.end_session(id, families)
    }

    /// Withdraws `id`'s stale routes of `family` (all families with `None`), as withdrawals
    /// from the peer would: the restart timer expired, or the new session's Graceful Restart
    /// capability lacks the F bit for the family (RFC 4724 §4.2). Returns how many.
    pub fn sweep_stale(&mut self, id: PeerId, family: Option<AfiSafi>) -> Result<usize, RibError> {
        self.peer(id)?;
        let Parts {
            env,
            interned,
            v4,
            v6,
        } = self.parts();
        let mut swept = 0;
        if family.is_none_or(|f| f == AfiSafi::IPV4_UNICAST) {
            swept += v4.sweep_stale(id, &env.ranker());
        }
        if family.is_none_or(|f| f == AfiSafi::IPV6_UNICAST) {
            swept += v6.sweep_stale(id, &env.ranker());
        }
        if swept > 0 {
            interned.sweep();
        }
        let holds_stale = v4.stale_len(id) + v6.stale_len(id) > 0;
        if let Some(peer) = self.peers.get_mut(id)
            && !holds_stale
        {
            peer.restarting_router_id = None;
        }
        Ok(swept)
    }

    /// Whether `id`'s route to `prefix` is stale.
    pub fn is_stale(&self, id: PeerId, prefix: Prefix) -> Result<bool, RibError> {
        self.peer(id)?;
        Ok(match prefix {
            Prefix::V4(p) => self.v4.is_stale(id, &p),
            Prefix::V6(p) => self.v6.is_stale(id, &p),
        })
    }

    /// `id`'s stale routes, both families.
    pub fn stale_count(&self, id: PeerId) -> Result<usize, RibError> {
        self.peer(id)?;
        Ok(self.v4.stale_len(id) + self.v6.stale_len(id))
    }
}
