//! OPEN checks and capability negotiation (RFC 4271 §6.2 and §4.2, RFC 5492, RFC 6286 §2.2,
//! RFC 6793 §4.1, RFC 4760 §8, RFC 7911 §5, RFC 8654 §3).
//!
//! Pure functions of the received OPEN and our configuration: the FSM calls
//! [`check_open`] on event 19 (BGPOpen) and either sends the NOTIFICATION of the
//! [`OpenError`] or goes on with the [`Negotiated`] session parameters.

use std::time::Duration;

use crate::wire::{
    AddPathMode, AfiSafi, Capability, FamilySet, GracefulRestart, Open, OpenError,
    OptionalParameter, PeerType, SessionContext, open::BGP_VERSION,
};

use super::SessionConfig;

/// What the two OPENs agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub peer_asn: u32,
    pub peer_bgp_id: std::net::Ipv4Addr,
    pub peer_type: PeerType,
    /// min(ours, theirs) (RFC 4271 §4.2); zero means no keepalives and no hold timer.
    pub hold_time: Duration,
    /// One third of the hold time unless configured lower (RFC 4271 §10).
    pub keepalive_time: Duration,
    pub four_octet_as: bool,
    pub extended_message: bool,
    /// Families both sides advertised; IPv4 unicast alone when the peer sent no
    /// Multiprotocol capability (RFC 4760 §8 / RFC 4271 default).
    pub families: Vec<AfiSafi>,
    pub route_refresh: bool,
    pub enhanced_route_refresh: bool,
    pub add_path_receive: FamilySet,
    pub add_path_send: FamilySet,
    /// The peer's Graceful Restart capability, if it sent one.
    pub peer_graceful_restart: Option<GracefulRestart>,
}

impl Negotiated {
    /// The codec context for this session.
    pub fn context(&self) -> SessionContext {
        SessionContext {
            four_octet_as: self.four_octet_as,
            extended_message: self.extended_message,
            add_path_receive: self.add_path_receive,
            add_path_send: self.add_path_send,
            peer_type: self.peer_type,
        }
    }
}

fn has(caps: &[&Capability], wanted: &Capability) -> bool {
    caps.contains(&wanted)
}

fn families(caps: &[&Capability]) -> Vec<AfiSafi> {
    let mp: Vec<AfiSafi> = caps
        .iter()
        .filter_map(|c| match c {
            Capability::Multiprotocol(f) => Some(*f),
            _ => None,
        })
        .collect();
    if mp.is_empty() {
        vec![AfiSafi::IPV4_UNICAST]
    } else {
        mp
    }
}

fn add_path_modes(caps: &[&Capability]) -> Vec<(AfiSafi, AddPathMode)> {
    caps.iter()
        .filter_map(|c| match c {
            Capability::AddPath(fams) => Some(fams.iter().map(|f| (f.family, f.mode))),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Checks a received OPEN against our configuration (RFC 4271 §6.2) and negotiates.
pub fn check_open(open: &Open, config: &SessionConfig) -> Result<Negotiated, OpenError> {
    // "If the version number in the Version field of the received OPEN message is not
    // supported, then the Error Subcode MUST be set to Unsupported Version Number."
    if open.version != BGP_VERSION {
        return Err(OpenError::UnsupportedVersion(open.version));
    }
    // "If one of the Optional Parameters in the OPEN message is not recognized, then the
    // Error Subcode MUST be set to Unsupported Optional Parameters."
    if let Some(kind) = open.params.iter().find_map(|p| match p {
        OptionalParameter::Unknown { kind, .. } => Some(*kind),
        OptionalParameter::Capabilities(_) => None,
    }) {
        return Err(OpenError::UnsupportedOptionalParameter(kind));
    }
    // "If the Autonomous System field of the OPEN message is unacceptable, then the Error
    // Subcode MUST be set to Bad Peer AS." With the 4-octet AS capability the AS is the
    // capability's (RFC 6793 §4.1).
    if open.asn() != config.peer_asn {
        return Err(OpenError::BadPeerAs {
            expected: config.peer_asn,
            received: open.asn(),
        });
    }
    // RFC 6286 §2.2: the BGP Identifier is a non-zero 4-octet value, and "for a BGP
    // connection with an internal peer, the BGP Identifiers ... MUST be different" (ours vs.
    // theirs). The RFC 4271 "valid unicast host address" rule is relaxed by RFC 6286.
    let peer_type = config.peer_type();
    if open.bgp_id.is_unspecified()
        || (peer_type == PeerType::Internal && open.bgp_id == config.bgp_id)
    {
        return Err(OpenError::BadBgpIdentifier(open.bgp_id));
    }
    // RFC 4271 §4.2: "Hold Time MUST be either zero or at least three seconds"; §6.2: "An
    // implementation MUST reject Hold Time values of one or two seconds."
    if matches!(open.hold_time, 1 | 2) {
        return Err(OpenError::UnacceptableHoldTime(open.hold_time));
    }

    let theirs: Vec<&Capability> = open.capabilities().collect();
    let ours: Vec<&Capability> = config.capabilities.iter().collect();
    let hold = open.hold_time.min(config.hold_time);
    let hold_time = Duration::from_secs(u64::from(hold));
    let keepalive_time = match hold {
        0 => Duration::ZERO,
        h => config
            .keepalive_time
            .map_or(Duration::from_secs(u64::from(h / 3)), |k| {
                k.min(Duration::from_secs(u64::from(h / 3)))
            }),
    };
    let four_octet_as = ours.iter().any(|c| matches!(c, Capability::FourOctetAs(_)))
        && theirs
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)));
    let their_families = families(&theirs);
    let families: Vec<AfiSafi> = families(&ours)
        .into_iter()
        .filter(|f| their_families.contains(f))
        .collect();

    // RFC 7911 §5: paths are received for a family when we advertised Receive (or Both) and
    // the peer Send (or Both), and sent in the opposite case.
    let (our_ap, their_ap) = (add_path_modes(&ours), add_path_modes(&theirs));
    let mut add_path_receive = FamilySet::EMPTY;
    let mut add_path_send = FamilySet::EMPTY;
    for (family, mode) in &our_ap {
        let peer = their_ap.iter().find(|(f, _)| f == family).map(|(_, m)| *m);
        if let Some(peer) = peer.filter(|_| families.contains(family)) {
            if mode.can_receive() && peer.can_send() {
                add_path_receive.insert(*family);
            }
            if mode.can_send() && peer.can_receive() {
                add_path_send.insert(*family);
            }
        }
    }

    Ok(Negotiated {
        peer_asn: open.asn(),
        peer_bgp_id: open.bgp_id,
        peer_type,
        hold_time,
        keepalive_time,
        four_octet_as,
        extended_message: has(&ours, &Capability::ExtendedMessage)
            && has(&theirs, &Capability::ExtendedMessage),
        families,
        route_refresh: has(&ours, &Capability::RouteRefresh)
            && has(&theirs, &Capability::RouteRefresh),
        enhanced_route_refresh: has(&ours, &Capability::EnhancedRouteRefresh)
            && has(&theirs, &Capability::EnhancedRouteRefresh),
        add_path_receive,
        add_path_send,
        peer_graceful_restart: theirs.iter().find_map(|c| match c {
            Capability::GracefulRestart(gr) => Some(gr.clone()),
            _ => None,
        }),
    })
}
