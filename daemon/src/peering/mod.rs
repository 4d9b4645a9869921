//! Which BGP sessions a node has, derived from the datastore (DESIGN §5): the iBGP node mesh,
//! `BGPPeer`s that select this node, and the route-reflector roles from `Node` resources.

mod kind;

pub use kind::PeerKind;
