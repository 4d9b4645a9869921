//! Connection collision detection (RFC 4271 §6.8, RFC 6286 §2.3), as a pure decision.
//!
//! When both speakers connect at once there are two TCP connections for one peer. Once the
//! remote BGP Identifier is known (an OPEN arrived on one of them while the other is in
//! OpenConfirm, or OpenSent), exactly one survives: "the connection initiated by the BGP
//! speaker with the larger BGP Identifier" (§6.8). The driver sends event 23
//! (OpenCollisionDump) to the loser's FSM, which answers with Cease / Connection Collision
//! Resolution.

use std::net::Ipv4Addr;

use super::State;

/// Which of the two connections survives a collision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Survivor {
    /// The connection we opened (outgoing).
    LocallyInitiated,
    /// The connection the peer opened (incoming).
    RemotelyInitiated,
}

/// Resolves a collision (RFC 4271 §6.8 step 3): "If the value of the local BGP Identifier is
/// less than the remote one, the local system closes the BGP connection that already exists
/// ... and accepts the BGP connection initiated by the remote system", and vice versa.
/// Identifiers compare as 4-octet unsigned integers (step 2). RFC 6286 §2.3: with equal
/// identifiers (allowed for eBGP), the connection initiated by the larger AS survives.
pub fn resolve_collision(
    local_id: Ipv4Addr,
    local_asn: u32,
    remote_id: Ipv4Addr,
    remote_asn: u32,
) -> Survivor {
    let (local, remote) = (u32::from(local_id), u32::from(remote_id));
    let local_wins = if local == remote {
        local_asn > remote_asn
    } else {
        local > remote
    };
    if local_wins {
        Survivor::LocallyInitiated
    } else {
        Survivor::RemotelyInitiated
    }
}

/// True if a connection in `state` takes part in collision detection when an OPEN arrives on
/// the other one (RFC 4271 §6.8: OpenConfirm always; OpenSent only if the remote BGP
/// Identifier is known by other means, which margay does not assume; an Established
/// connection always wins, as CollisionDetectEstablishedState is off by default).
pub fn takes_part(state: State) -> bool {
    state == State::OpenConfirm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_local_identifier_keeps_locally_initiated_connection() {
        let low = Ipv4Addr::new(10, 0, 0, 1);
        let high = Ipv4Addr::new(10, 0, 0, 2);
        assert_eq!(
            resolve_collision(high, 1, low, 1),
            Survivor::LocallyInitiated
        );
        assert_eq!(
            resolve_collision(low, 1, high, 1),
            Survivor::RemotelyInitiated
        );
    }

    #[test]
    fn identifiers_compare_as_unsigned_integers() {
        // 128.0.0.1 > 127.255.255.255 as u32 (a signed compare would flip it).
        let a = Ipv4Addr::new(128, 0, 0, 1);
        let b = Ipv4Addr::new(127, 255, 255, 255);
        assert_eq!(resolve_collision(a, 1, b, 1), Survivor::LocallyInitiated);
    }

    #[test]
    fn equal_identifiers_fall_back_to_the_larger_as() {
        let id = Ipv4Addr::new(192, 0, 2, 1);
        assert_eq!(
            resolve_collision(id, 65002, id, 65001),
            Survivor::LocallyInitiated
        );
        assert_eq!(
            resolve_collision(id, 65001, id, 65002),
            Survivor::RemotelyInitiated
        );
    }

    #[test]
    fn only_open_confirm_takes_part() {
        assert!(takes_part(State::OpenConfirm));
        assert!(!takes_part(State::Established));
        assert!(!takes_part(State::OpenSent));
    }
}
