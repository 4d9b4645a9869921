//! The VTEP on the kernel: `vxlan.margay` created or validated (recreated when its identity
//! differs), and the neighbour and FDB entries of every remote VTEP reconciled (list, diff,
//! apply) — through rtnetlink, one request per call (a handful of objects per node, unlike the
//! route table).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use futures::TryStreamExt;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::LinkAttribute;
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use rtnetlink::{Handle, LinkUnspec, LinkVxlan};
use tracing::{info, warn};

use crate::config::{RemoteVtep, VtepConfig};
use crate::device::{DeviceState, WantedDevice};
use crate::entries::{EntryPlan, plan_entries};
use crate::error::{VtepError, errno_of, netlink};
use crate::mac::Mac;
use crate::mtu::vtep_mtu;

const ENOENT: i32 = 2;
const ENODEV: i32 = 19;
const EAFNOSUPPORT: i32 = 97;

/// Opens an rtnetlink connection in the calling thread's network namespace and spawns its
/// driver on the current tokio runtime.
pub fn connect() -> std::io::Result<Handle> {
    let (connection, handle, _) = rtnetlink::new_connection()?;
    tokio::spawn(connection);
    Ok(handle)
}

/// What happened to the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAction {
    /// It was there and right.
    Unchanged,
    /// It did not exist.
    Created,
    /// It existed with another identity (the differences).
    Recreated(Vec<String>),
    /// MTU, MAC or up flag set in place.
    Updated,
}

/// What one reconcile did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    /// The device.
    pub device: DeviceAction,
    /// The entries written and removed.
    pub entries: EntryPlan,
}

/// This node's VTEP.
#[derive(Debug)]
pub struct Vtep {
    handle: Handle,
    config: VtepConfig,
    uplink: u32,
    uplink_name: String,
    mtu: u32,
    ifindex: u32,
}

impl Vtep {
    /// Finds the uplink, derives the MTU, and creates, fixes or recreates the device.
    pub async fn ensure(
        handle: Handle,
        config: VtepConfig,
    ) -> Result<(Vtep, DeviceAction), VtepError> {
        let (uplink, uplink_name, uplink_mtu) = find_uplink(&handle, &config).await?;
        let mtu = vtep_mtu(uplink_mtu, config.local, config.mtu)?;
        let mut vtep = Vtep {
            handle,
            config,
            uplink,
            uplink_name,
            mtu,
            ifindex: 0,
        };
        let action = vtep.ensure_device().await?;
        Ok((vtep, action))
    }

    /// The device's interface index (for VXLAN routes).
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The device's MTU.
    pub fn mtu(&self) -> u32 {
        self.mtu
    }

    /// The uplink's interface index.
    pub fn uplink(&self) -> u32 {
        self.uplink
    }

    /// The configuration.
    pub fn config(&self) -> &VtepConfig {
        &self.config
    }

    fn wanted(&self) -> WantedDevice {
        WantedDevice {
            vni: self.config.vni.get(),
            port: self.config.port,
            local: self.config.local,
            uplink: self.uplink,
            mtu: self.mtu,
            mac: self.config.mac,
        }
    }

    async fn ensure_device(&mut self) -> Result<DeviceAction, VtepError> {
        let name = self.config.name.clone();
        let found = self
            .handle
            .link()
            .get()
            .match_name(name.clone())
            .execute()
            .try_next()
            .await;
        let existing = match found {
            Ok(Some(msg)) => Some(DeviceState::from_link(&msg)),
            Ok(None) => None,
            Err(e) if errno_of(&e) == Some(ENODEV) => None,
            Err(e) => return Err(netlink(format!("get link {name}"))(e)),
        };
        let want = self.wanted();
        let action = match existing {
            None => {
                self.create().await?;
                DeviceAction::Created
            }
            Some(state) => {
                let drift = state.drift(&want);
                if !drift.recreate.is_empty() {
                    warn!(device = %name, differences = ?drift.recreate, "VTEP does not match; recreating it");
                    self.handle
                        .link()
                        .del(state.ifindex)
                        .execute()
                        .await
                        .map_err(netlink(format!("delete link {name}")))?;
                    self.create().await?;
                    DeviceAction::Recreated(drift.recreate)
                } else if drift.set_in_place {
                    self.ifindex = state.ifindex;
                    let msg = LinkUnspec::new_with_index(state.ifindex)
                        .mtu(want.mtu)
                        .address(want.mac.octets().to_vec())
                        .up()
                        .build();
                    self.handle
                        .link()
                        .set(msg)
                        .execute()
                        .await
                        .map_err(netlink(format!("set mtu/mac/up on {name}")))?;
                    DeviceAction::Updated
                } else {
                    self.ifindex = state.ifindex;
                    DeviceAction::Unchanged
                }
            }
        };
        if action != DeviceAction::Unchanged {
            info!(device = %name, ifindex = self.ifindex, mtu = self.mtu, mac = %want.mac, ?action, "VTEP device ready");
        }
        self.ensure_address().await?;
        self.set_loose_rp_filter()?;
        if self.config.tx_checksum_offload_off && action != DeviceAction::Unchanged {
            self.tx_checksum_off().await?;
        }
        Ok(action)
    }

    async fn create(&mut self) -> Result<(), VtepError> {
        let c = &self.config;
        let mut builder = LinkVxlan::new(&c.name, c.vni.get())
            .dev(self.uplink)
            .port(c.port)
            .learning(false);
        builder = match c.local {
            IpAddr::V4(a) => builder.local(a),
            IpAddr::V6(a) => builder.local6(a),
        };
        let msg = builder
            .mtu(self.mtu)
            .address(c.mac.octets().to_vec())
            .up()
            .build();
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(netlink(format!("create {}", c.name)))?;
        let created = self
            .handle
            .link()
            .get()
            .match_name(c.name.clone())
            .execute()
            .try_next()
            .await;
        let msg = created.map_err(netlink(format!("get link {}", c.name)))?;
        self.ifindex = msg.map(|m| m.header.index).unwrap_or_default();
        Ok(())
    }

    async fn ensure_address(&self) -> Result<(), VtepError> {
        let Some(addr) = self.config.tunnel_address else {
            return Ok(());
        };
        let len = if addr.is_ipv4() { 32 } else { 128 };
        let mut stale = Vec::new();
        let mut present = false;
        let mut list = self
            .handle
            .address()
            .get()
            .set_link_index_filter(self.ifindex)
            .execute();
        while let Some(msg) = list
            .try_next()
            .await
            .map_err(netlink("list VTEP addresses"))?
        {
            let have = msg.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            });
            match have {
                Some(ip) if ip == addr && msg.header.prefix_len == len => present = true,
                // IPv6 link-local addresses belong to the kernel.
                Some(IpAddr::V6(v6)) if v6.is_unicast_link_local() => {}
                Some(_) => stale.push(msg),
                None => {}
            }
        }
        for msg in stale {
            self.handle
                .address()
                .del(msg)
                .execute()
                .await
                .map_err(netlink("remove stale VTEP address"))?;
        }
        if !present {
            let add = self.handle.address().add(self.ifindex, addr, len).replace();
            add.execute()
                .await
                .map_err(netlink(format!("add {addr}/{len} to {}", self.config.name)))?;
        }
        Ok(())
    }

    /// Loose reverse-path filtering on the VTEP and the uplink (DESIGN §4: strict mode drops
    /// packets while the two ends of a flow have flipped differently).
    fn set_loose_rp_filter(&self) -> Result<(), VtepError> {
        if !self.config.local.is_ipv4() {
            return Ok(());
        }
        for dev in [&self.config.name, &self.uplink_name] {
            let path = std::path::PathBuf::from(format!("/proc/sys/net/ipv4/conf/{dev}/rp_filter"));
            if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == "2") {
                continue;
            }
            std::fs::write(&path, "2").map_err(|source| VtepError::Sysctl {
                path: path.clone(),
                source,
            })?;
            info!(device = %dev, "rp_filter set to 2 (loose)");
        }
        Ok(())
    }

    /// `ethtool -K <dev> tx off` (there is no netlink attribute for offload features in
    /// rtnetlink; the ethtool netlink family is a separate generic-netlink protocol).
    async fn tx_checksum_off(&self) -> Result<(), VtepError> {
        let device = self.config.name.clone();
        let out = tokio::process::Command::new("ethtool")
            .args(["-K", &device, "tx", "off"])
            .output()
            .await;
        let err = |message: String| VtepError::Ethtool {
            device: device.clone(),
            message,
        };
        let out = out.map_err(|e| err(e.to_string()))?;
        if !out.status.success() {
            return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
        }
        info!(device = %device, "TX checksum offload off");
        Ok(())
    }

    /// Makes the device right (recreating it if it was deleted or changed) and the neighbour
    /// and FDB entries exactly those of `peers`. Call it before installing routes via the
    /// peers, so the kernel never has to resolve a VXLAN next hop.
    pub async fn reconcile(&mut self, peers: &[RemoteVtep]) -> Result<ReconcileReport, VtepError> {
        let device = self.ensure_device().await?;
        let (neigh, fdb) = self.list_entries().await?;
        let plan = plan_entries(peers, &neigh, &fdb);
        self.apply(&plan).await?;
        if !plan.is_empty() {
            info!(
                written = plan.neigh_set.len() + plan.fdb_set.len(),
                removed = plan.neigh_del.len() + plan.fdb_del.len(),
                "VTEP entries reconciled"
            );
        }
        Ok(ReconcileReport {
            device,
            entries: plan,
        })
    }

    async fn list_entries(
        &self,
    ) -> Result<(BTreeMap<IpAddr, Mac>, BTreeSet<(Mac, IpAddr)>), VtepError> {
        let mut neigh = BTreeMap::new();
        let mut fdb = BTreeSet::new();
        for family in [
            AddressFamily::Inet,
            AddressFamily::Inet6,
            AddressFamily::Bridge,
        ] {
            let mut list = self
                .handle
                .neighbours()
                .get()
                .set_address_family(family)
                .execute();
            loop {
                let msg = match list.try_next().await {
                    Ok(Some(msg)) => msg,
                    Ok(None) => break,
                    Err(e) if errno_of(&e) == Some(EAFNOSUPPORT) => break,
                    Err(e) => return Err(netlink(format!("list {family:?} neighbours"))(e)),
                };
                if msg.header.ifindex != self.ifindex {
                    continue;
                }
                let (ip, mac) = entry_fields(&msg);
                match (family, ip, mac) {
                    (AddressFamily::Bridge, Some(ip), Some(mac)) => {
                        fdb.insert((mac, ip));
                    }
                    (AddressFamily::Inet | AddressFamily::Inet6, Some(ip), Some(mac))
                        if msg.header.state == NeighbourState::Permanent =>
                    {
                        neigh.insert(ip, mac);
                    }
                    _ => {}
                }
            }
        }
        Ok((neigh, fdb))
    }

    async fn apply(&self, plan: &EntryPlan) -> Result<(), VtepError> {
        let n = self.handle.neighbours();
        for (ip, mac) in &plan.neigh_set {
            let req = n
                .add(self.ifindex, *ip)
                .state(NeighbourState::Permanent)
                .link_layer_address(&mac.octets())
                .replace();
            req.execute()
                .await
                .map_err(netlink(format!("neighbour {ip} lladdr {mac}")))?;
        }
        for (mac, dst) in &plan.fdb_set {
            let req = n
                .add_bridge(self.ifindex, &mac.octets())
                .destination(*dst)
                .flags(NeighbourFlags::Own)
                .state(NeighbourState::Permanent)
                .replace();
            req.execute()
                .await
                .map_err(netlink(format!("fdb {mac} dst {dst}")))?;
        }
        for (ip, mac) in &plan
            .fdb_del
            .iter()
            .map(|(m, ip)| (*ip, *m))
            .collect::<Vec<_>>()
        {
            let msg = entry_message(AddressFamily::Bridge, self.ifindex, Some(*ip), *mac);
            ignore_gone(n.del(msg).execute().await)
                .map_err(netlink(format!("remove fdb {mac} dst {ip}")))?;
        }
        for (ip, mac) in &plan.neigh_del {
            let family = if ip.is_ipv4() {
                AddressFamily::Inet
            } else {
                AddressFamily::Inet6
            };
            let msg = entry_message(family, self.ifindex, Some(*ip), *mac);
            ignore_gone(n.del(msg).execute().await)
                .map_err(netlink(format!("remove neighbour {ip}")))?;
        }
        Ok(())
    }
}

fn ignore_gone(r: Result<(), rtnetlink::Error>) -> Result<(), rtnetlink::Error> {
    match r {
        Err(e) if errno_of(&e) == Some(ENOENT) => Ok(()),
        other => other,
    }
}

fn entry_fields(msg: &NeighbourMessage) -> (Option<IpAddr>, Option<Mac>) {
    let mut ip = None;
    let mut mac = None;
    for attr in &msg.attributes {
        match attr {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => ip = Some(IpAddr::V4(*a)),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => {
                ip = Some(IpAddr::V6(*a))
            }
            // FDB entries (AF_BRIDGE) carry the remote's address as raw bytes.
            NeighbourAttribute::Destination(NeighbourAddress::Other(raw)) => ip = raw_ip(raw),
            NeighbourAttribute::LinkLayerAddress(l) => mac = Mac::try_from(l.as_slice()).ok(),
            _ => {}
        }
    }
    (ip, mac)
}

fn raw_ip(raw: &[u8]) -> Option<IpAddr> {
    match raw.len() {
        4 => <[u8; 4]>::try_from(raw).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(raw).ok().map(IpAddr::from),
        _ => None,
    }
}

fn entry_message(
    family: AddressFamily,
    ifindex: u32,
    ip: Option<IpAddr>,
    mac: Mac,
) -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.family = family;
    msg.header.ifindex = ifindex;
    if family == AddressFamily::Bridge {
        msg.header.flags = NeighbourFlags::Own;
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.octets().to_vec()));
    }
    if let Some(ip) = ip {
        msg.attributes
            .push(NeighbourAttribute::Destination(match ip {
                IpAddr::V4(a) => NeighbourAddress::Inet(a),
                IpAddr::V6(a) => NeighbourAddress::Inet6(a),
            }));
    }
    msg
}

/// The uplink's index, name and MTU: the configured interface, or the one holding `local`.
async fn find_uplink(
    handle: &Handle,
    config: &VtepConfig,
) -> Result<(u32, String, u32), VtepError> {
    let link = match &config.uplink {
        Some(name) => {
            let found = handle
                .link()
                .get()
                .match_name(name.clone())
                .execute()
                .try_next()
                .await;
            match found {
                Ok(Some(msg)) => msg,
                Ok(None) => return Err(VtepError::UplinkNotFound(name.clone())),
                Err(e) if errno_of(&e) == Some(ENODEV) => {
                    return Err(VtepError::UplinkNotFound(name.clone()));
                }
                Err(e) => return Err(netlink(format!("get link {name}"))(e)),
            }
        }
        None => {
            let mut addrs = handle
                .address()
                .get()
                .set_address_filter(config.local)
                .execute();
            let msg = addrs
                .try_next()
                .await
                .map_err(netlink(format!("find address {}", config.local)))?;
            let index = msg
                .ok_or(VtepError::NoUplinkFor(config.local))?
                .header
                .index;
            let found = handle
                .link()
                .get()
                .match_index(index)
                .execute()
                .try_next()
                .await;
            found
                .map_err(netlink(format!("get link {index}")))?
                .ok_or(VtepError::NoUplinkFor(config.local))?
        }
    };
    let index = link.header.index;
    let mtu = link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Mtu(m) => Some(*m),
        _ => None,
    });
    let name = link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    });
    Ok((
        index,
        name.unwrap_or_default(),
        mtu.ok_or(VtepError::UplinkMtuUnknown(index))?,
    ))
}
