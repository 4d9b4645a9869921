//! margay-vxlan: the VXLAN tunnel endpoint (`vxlan.margay`) of a node and its per-remote-VTEP
//! neighbour and FDB entries (RFC 7348 encapsulation, programmed through netlink).
