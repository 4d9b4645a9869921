//! margay-daemon: the node agent `margay-node` and the configuration CLI `margayctl`.
//!
//! - [`agent`]: margay-node's run loop, wiring everything below together.
//! - [`config`], [`underlay`]: the node's settings and its underlay address.
//! - [`resources`], [`datastore`], [`etcd`]: cluster resources in etcd.
//! - [`peering`]: which BGP sessions a node has.
//! - [`routing`], [`fib`]: the route decision and the kernel route writer.
//! - [`api`]: the local unix-socket API that `margayctl node` talks to.
//! - [`health`]: `/metrics`, `/livez`, `/readyz`.
pub mod agent;
pub mod api;
pub mod config;
pub mod datastore;
pub mod etcd;
pub mod fib;
pub mod health;
pub mod peering;
pub mod resources;
pub mod routing;
pub mod underlay;
