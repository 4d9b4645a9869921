//! Reads what underlay detection needs from the kernel over rtnetlink: every interface
//! address with its prefix length and scope, and, for `can-reach`, the source address of the
//! route to the target (`ip route get`).

use std::collections::HashMap;
use std::net::IpAddr;

use futures::TryStreamExt;
use ipnetwork::IpNetwork;
use netlink_packet_route::address::{AddressAttribute, AddressScope};
use netlink_packet_route::link::LinkAttribute;
use netlink_packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::RouteMessageBuilder;

use super::{DetectionMethod, Family, InterfaceAddress, Underlay, UnderlayError, choose};

fn netlink_error(e: impl std::fmt::Display) -> UnderlayError {
    UnderlayError::Netlink(e.to_string())
}

/// Finds the underlay in the current network namespace.
pub async fn detect(method: &DetectionMethod, family: Family) -> Result<Underlay, UnderlayError> {
    let (connection, handle, _) = rtnetlink::new_connection().map_err(netlink_error)?;
    let connection = tokio::spawn(connection);
    let result = async {
        let addrs = interface_addresses(&handle).await?;
        let route_source = match method {
            DetectionMethod::CanReach(target) => Some(route_source(&handle, *target).await?),
            _ => None,
        };
        choose(method, family, &addrs, route_source)
    }
    .await;
    connection.abort();
    result
}

/// Every address of every interface, in the kernel's order.
pub async fn interface_addresses(
    handle: &rtnetlink::Handle,
) -> Result<Vec<InterfaceAddress>, UnderlayError> {
    let names: HashMap<u32, String> = handle
        .link()
        .get()
        .execute()
        .map_ok(|link| {
            let name = link.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(name) => Some(name.clone()),
                _ => None,
            });
            (link.header.index, name.unwrap_or_default())
        })
        .try_collect()
        .await
        .map_err(netlink_error)?;
    let messages: Vec<_> = handle
        .address()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(netlink_error)?;
    let mut addrs = Vec::new();
    for msg in messages {
        // IFA_LOCAL is the interface's own address on point-to-point links; IFA_ADDRESS
        // otherwise.
        let ip = msg
            .attributes
            .iter()
            .find_map(|a| match a {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            })
            .or_else(|| {
                msg.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                })
            });
        let Some(ip) = ip else { continue };
        let address = IpNetwork::new(ip, msg.header.prefix_len).map_err(netlink_error)?;
        addrs.push(InterfaceAddress {
            interface: names.get(&msg.header.index).cloned().unwrap_or_default(),
            ifindex: msg.header.index,
            address,
            global: msg.header.scope == AddressScope::Universe,
        });
    }
    Ok(addrs)
}

/// The source address the kernel would use to reach `target`.
async fn route_source(handle: &rtnetlink::Handle, target: IpAddr) -> Result<IpAddr, UnderlayError> {
    let unreachable = |why: String| UnderlayError::Unreachable { target, why };
    let len = if target.is_ipv4() { 32 } else { 128 };
    let query = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(target, len)
        .map_err(|e| unreachable(e.to_string()))?
        .build();
    let routes: Vec<_> = handle
        .route()
        .get(query)
        .execute()
        .try_collect()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    routes
        .iter()
        .flat_map(|r| &r.attributes)
        .find_map(|a| match a {
            RouteAttribute::PrefSource(RouteAddress::Inet(ip)) => Some(IpAddr::V4(*ip)),
            RouteAttribute::PrefSource(RouteAddress::Inet6(ip)) => Some(IpAddr::V6(*ip)),
            _ => None,
        })
        .ok_or_else(|| unreachable("the route to it has no source address".into()))
}
