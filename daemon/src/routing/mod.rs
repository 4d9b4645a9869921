//! The route decision of DESIGN §3: for every Pod block, which kernel route this node wants,
//! and why.
//!
//! ```text
//!  DecisionInput ─────────────► decide() ─────────────► Decision
//!   local node (underlay/len)                            routes:  dst → Via + Reason
//!   pools (encapsulation)                                unrouted: dst → Reason
//!   remote nodes (blocks, underlay, VTEP)                vtep_peers (neighbour + FDB entries)
//!   BGP paths per prefix (next hop, connected, peer)
//! ```
//!
//! Pure: no sockets, no clock. The node agent feeds it the datastore's view and the speaker's
//! Loc-RIB, and hands the result to [`crate::fib`] (routes) and `margay_vxlan` (VTEP peers).
//! Every route and every block left without one carries a [`Reason`] that `margayctl` shows.
//! [`Dataplane`] is the I/O edge that applies a decision (VTEP entries, then routes).

mod dataplane;
mod decide;
mod input;
mod output;

pub use dataplane::{Dataplane, DataplaneError, DataplaneReport};
pub use decide::decide;
pub use input::{
    BgpPath, DecisionInput, Encapsulation, EncapsulationParseError, LocalNode, Pool, RemoteNode,
    VtepAddr,
};
pub use output::{Decision, DesiredRoute, Reason, Via};

#[cfg(test)]
mod tests;
