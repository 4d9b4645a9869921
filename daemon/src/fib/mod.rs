//! `daemon::fib`: the only writer of margay's kernel routes (DESIGN §4).
//!
//! - [`route`]: routes as data, built from the route decision.
//! - [`codec`]: `RTM_NEWROUTE`/`RTM_DELROUTE`/dump requests (pure, on netlink-packet-route).
//! - [`wire`]: what the kernel sends back — headers, errors, routes — read from the bytes.
//! - [`plan`]: list-diff-apply against the kernel view (pure).
//! - [`transport`]: many messages per send on a raw netlink socket, errors by sequence number.
//! - [`writer`]: the task owning the sockets: requests, notifications, periodic resync.
//! - [`protocol`]: protocol number 77 and its `rt_protos.d` registration.
//!
//! Routes carry protocol 77 (`ip route show proto margay`); changes are `NLM_F_REPLACE`
//! (make-before-break), never delete-then-add; new routes are `NLM_F_EXCL` so that a route of
//! another protocol at the same key is reported, not taken over.

pub mod codec;
mod error;
pub mod hash;
pub mod plan;
pub mod protocol;
pub mod route;
pub mod transport;
pub mod wire;
mod writer;

pub use error::{FibError, RouteFailure, errno};
pub use protocol::{PROTOCOL, PROTOCOL_NAME, RT_PROTOS_DIR, register_protocol};
pub use route::{Devices, FibRoute, NextHop, Target};
pub use writer::{ApplyReport, FibChange, FibConfig, FibHandle, FibStats, FibWriter};
