//! margay-daemon: the node agent `margay-node` and the configuration CLI `margayctl`.
//!
//! Modules are added by the issues that build them: datastore resources and watches, the
//! route decision, the FIB writer, the local API.
pub mod api;
pub mod config;
pub mod datastore;
pub mod etcd;
pub mod fib;
pub mod peering;
pub mod resources;
pub mod routing;
pub mod underlay;
