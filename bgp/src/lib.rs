//! margay-bgp: margay's own BGP speaker.
//!
//! Layers, from the wire up (each a module of its own, see `docs/bgp-codec.md`):
//! the pure wire codec ([`wire`]: RFC 4271, 4760, 5492, 6793, 7606, ...), the pure session
//! FSM ([`fsm`]: RFC 4271 §8), the tokio TCP transport ([`transport`]), and later the RIB and
//! the speaker API. This crate knows nothing of etcd, netlink or Kubernetes.

pub mod fsm;
pub mod policy;
pub mod rib;
pub mod session;
pub mod speaker;
pub mod transport;
pub mod wire;
