//! margay-node's local API (DESIGN §7): a root-only unix socket that `margayctl node status`
//! and `margayctl node routes` query.
//!
//! ```text
//!  margayctl ── call() ──► /run/margay/margay.sock (0600) ──► serve() ──► Handler (the agent)
//!              {"request":"status"}\n                 one task per connection
//!            ◄─ {"reply":"status","body":{..}}\n ◄──────────────────────┘
//! ```
//!
//! The protocol is newline-delimited JSON: one [`Request`] per line, answered by one [`Reply`]
//! line, any number per connection. A line that is not a request is answered with
//! [`Reply::Error`] naming what was wrong, and the connection stays open. The types are plain
//! data; the agent fills them from its state ([`RouteStatus::from_decision`] from the route
//! decision).

mod cidr_text;
mod client;
mod error;
pub mod render;
mod route_status;
mod server;
mod types;

pub use client::{CALL_TIMEOUT, call, call_with_timeout};
pub use error::ApiError;
pub use server::{ApiServer, Handler, MAX_REQUEST_LINE, serve};
pub use types::{NodeStatus, Reply, Request, RouteKind, RouteStatus, SessionStatus, VtepStatus};

#[cfg(test)]
mod tests;
