//! The tokio side of BGP sessions: the connection's message I/O ([`io`]), one driver task per
//! peer running the pure FSM of `crate::fsm` ([`peer`]), and the listener shared by all peers
//! ([`manager`]).

pub mod budget;
pub mod io;
pub mod manager;
pub mod peer;

pub use budget::RouteBudget;
pub use manager::{SessionError, SessionManager};
pub use peer::{PeerCommand, PeerConfig, PeerEvent, PeerHandle, PeerStatus};
