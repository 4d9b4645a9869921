//! Graceful restart bookkeeping of the speaker (RFC 4724), kept apart from the input loop:
//!
//! - as helper (§4.2): a GR-capable peer whose session ended without a NOTIFICATION keeps its
//!   routes in the RIB, stale, until it sends End-of-RIB after coming back, or until its
//!   Restart Time (then the stale timer) runs out; families the new OPEN lists without the
//!   F bit lose their stale routes at once;
//! - as restarting speaker (§4.1): route selection output (UPDATEs to peers and Loc-RIB
//!   changes to the node agent) is deferred until every Established GR-capable peer has sent
//!   End-of-RIB for each of its families, or the selection deferral timer expires.
//!
//! Pure: deadlines are `Instant`s the loop passes in and waits for.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::wire::{AfiSafi, GracefulRestart};

/// What the loop must do for a peer whose stale timer ran out.
pub(super) type Expired = Vec<IpAddr>;

#[derive(Debug, Default)]
pub(super) struct GracefulRestartState {
    /// The Graceful Restart capability each Established (or restarting) peer sent.
    peer_capability: HashMap<IpAddr, GracefulRestart>,
    /// Peers with stale routes, and when those go.
    stale_until: HashMap<IpAddr, Instant>,
    /// While we defer route selection after our own restart: until when, and which
    /// families each peer has ended with End-of-RIB.
    deferral: Option<(Instant, HashMap<IpAddr, HashSet<AfiSafi>>)>,
}

impl GracefulRestartState {
    /// A speaker that has just restarted defers selection for `deferral_time`.
    pub fn restarting(now: Instant, deferral_time: Duration) -> Self {
        GracefulRestartState {
            deferral: Some((now + deferral_time, HashMap::new())),
            ..Default::default()
        }
    }

    /// The session came up; returns the families whose stale routes must go at once because
    /// the new OPEN does not say their forwarding state was preserved (§4.2).
    pub fn established(
        &mut self,
        peer: IpAddr,
        capability: Option<GracefulRestart>,
        now: Instant,
    ) -> Vec<AfiSafi> {
        let mut sweep = Vec::new();
        if let Some(deadline) = self.stale_until.get_mut(&peer) {
            let preserved: HashSet<AfiSafi> = capability
                .iter()
                .flat_map(|c| &c.families)
                .filter(|f| f.forwarding_preserved)
                .map(|f| f.family)
                .collect();
            sweep = [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]
                .into_iter()
                .filter(|f| !preserved.contains(f))
                .collect();
            // The stale timer: the rest goes with End-of-RIB, or when this runs out.
            let restart = capability.as_ref().map_or(0, |c| c.restart_time);
            *deadline = now + Duration::from_secs(u64::from(restart.max(1)));
        }
        match capability {
            Some(c) => self.peer_capability.insert(peer, c),
            None => self.peer_capability.remove(&peer),
        };
        sweep
    }

    /// The session went down. Returns the families whose routes are kept stale (empty: purge
    /// everything, as without graceful restart).
    pub fn down(&mut self, peer: IpAddr, without_notification: bool, now: Instant) -> Vec<AfiSafi> {
        let capability = self.peer_capability.get(&peer);
        let keep: Vec<AfiSafi> = match capability {
            Some(c) if without_notification && c.restart_time > 0 => {
                c.families.iter().map(|f| f.family).collect()
            }
            _ => Vec::new(),
        };
        if keep.is_empty() {
            self.stale_until.remove(&peer);
        } else {
            let restart = capability.map_or(0, |c| c.restart_time);
            self.stale_until
                .insert(peer, now + Duration::from_secs(u64::from(restart)));
        }
        keep
    }

    /// The peer's stale routes are all gone (End-of-RIB swept them, or it was removed).
    pub fn stale_cleared(&mut self, peer: IpAddr) {
        self.stale_until.remove(&peer);
    }

    /// The peer is no longer configured.
    pub fn forget(&mut self, peer: IpAddr) {
        self.stale_until.remove(&peer);
        self.peer_capability.remove(&peer);
        if let Some((_, eor)) = self.deferral.as_mut() {
            eor.remove(&peer);
        }
    }

    /// End-of-RIB for `family` from `peer`.
    pub fn end_of_rib(&mut self, peer: IpAddr, family: AfiSafi) {
        if let Some((_, eor)) = self.deferral.as_mut() {
            eor.entry(peer).or_default().insert(family);
        }
    }

    /// The next deadline the loop must wake for.
    pub fn next_deadline(&self) -> Option<Instant> {
        let stale = self.stale_until.values().min().copied();
        let deferral = self.deferral.as_ref().map(|(until, _)| *until);
        match (stale, deferral) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Peers whose stale timer has run out (their stale routes must be swept).
    pub fn expired(&mut self, now: Instant) -> Expired {
        let expired: Vec<IpAddr> = self
            .stale_until
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in &expired {
            self.stale_until.remove(peer);
        }
        expired
    }

    /// Whether a route selection deferral is in progress (before [`Self::deferring`] has
    /// ended it).
    pub fn is_deferring(&self) -> bool {
        self.deferral.is_some()
    }

    /// Whether route selection output is still deferred. `established` lists the Established
    /// peers with their negotiated families.
    pub fn deferring(&mut self, established: &[(IpAddr, Vec<AfiSafi>)], now: Instant) -> bool {
        let Some((until, eor)) = &self.deferral else {
            return false;
        };
        let everyone_done = !established.is_empty()
            && established.iter().all(|(peer, families)| {
                !self.peer_capability.contains_key(peer)
                    || families
                        .iter()
                        .all(|f| eor.get(peer).is_some_and(|done| done.contains(f)))
            });
        if everyone_done || now >= *until {
            tracing::info!(
                by_timer = !everyone_done,
                "graceful restart: route selection deferral over"
            );
            self.deferral = None;
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::GracefulRestartFamily;

    fn cap(restart_time: u16, families: &[(AfiSafi, bool)]) -> GracefulRestart {
        GracefulRestart {
            restart_state: false,
            notification: false,
            restart_time,
            families: families
                .iter()
                .map(|(family, f)| GracefulRestartFamily {
                    family: *family,
                    forwarding_preserved: *f,
                })
                .collect(),
        }
    }

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));
    const V4: AfiSafi = AfiSafi::IPV4_UNICAST;
    const V6: AfiSafi = AfiSafi::IPV6_UNICAST;

    #[test]
    fn tcp_failure_of_a_gr_peer_keeps_its_families_until_the_restart_time() {
        // RFC 4724 §4.2: retain the routes of the families in the capability, mark them stale.
        let now = Instant::now();
        let mut gr = GracefulRestartState::default();
        gr.established(PEER, Some(cap(120, &[(V4, true)])), now);
        assert_eq!(gr.down(PEER, true, now), vec![V4]);
        assert_eq!(gr.next_deadline(), Some(now + Duration::from_secs(120)));
        assert!(gr.expired(now + Duration::from_secs(119)).is_empty());
        assert_eq!(gr.expired(now + Duration::from_secs(120)), vec![PEER]);
    }

    #[test]
    fn a_notification_or_no_capability_means_a_full_purge() {
        let now = Instant::now();
        let mut gr = GracefulRestartState::default();
        gr.established(PEER, Some(cap(120, &[(V4, true)])), now);
        assert!(gr.down(PEER, false, now).is_empty());
        gr.established(PEER, None, now);
        assert!(gr.down(PEER, true, now).is_empty());
        assert_eq!(gr.next_deadline(), None);
    }

    #[test]
    fn families_without_the_f_bit_after_restart_are_swept_at_once() {
        let now = Instant::now();
        let mut gr = GracefulRestartState::default();
        gr.established(PEER, Some(cap(120, &[(V4, true), (V6, true)])), now);
        gr.down(PEER, true, now);
        let sweep = gr.established(PEER, Some(cap(120, &[(V4, true), (V6, false)])), now);
        assert_eq!(sweep, vec![V6]);
    }

    #[test]
    fn deferral_ends_with_end_of_rib_from_every_gr_peer_or_the_timer() {
        // RFC 4724 §4.1.
        let now = Instant::now();
        let mut gr = GracefulRestartState::restarting(now, Duration::from_secs(60));
        gr.established(PEER, Some(cap(120, &[(V4, false)])), now);
        let up = vec![(PEER, vec![V4, V6])];
        assert!(gr.deferring(&up, now));
        gr.end_of_rib(PEER, V4);
        assert!(gr.deferring(&up, now), "still waiting for IPv6");
        gr.end_of_rib(PEER, V6);
        assert!(!gr.deferring(&up, now));

        let mut gr = GracefulRestartState::restarting(now, Duration::from_secs(60));
        assert!(gr.deferring(&[], now));
        assert!(!gr.deferring(&[], now + Duration::from_secs(60)));
    }
}
