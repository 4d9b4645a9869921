//! The tokio side of a BGP session: the connection's message I/O ([`io`]), driven by the pure
//! FSM of `crate::fsm`.

pub mod io;
