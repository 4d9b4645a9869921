//! The VTEP device as the kernel reports it, and how it differs from what we want. Pure.
//!
//! Identity fields (kind, VNI, port, local address, uplink, learning) can only be fixed by
//! recreating the device; MTU, MAC and the up flag are changed in place.

use std::net::IpAddr;

use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};

use crate::mac::Mac;

/// The fields of a VXLAN device that margay cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceState {
    /// Interface index.
    pub ifindex: u32,
    /// Whether the device is a VXLAN device at all.
    pub is_vxlan: bool,
    /// VNI.
    pub vni: Option<u32>,
    /// UDP port.
    pub port: Option<u16>,
    /// Local (outer source) address.
    pub local: Option<IpAddr>,
    /// Index of the underlying device.
    pub uplink: Option<u32>,
    /// Whether the bridge FDB learns remote MACs.
    pub learning: Option<bool>,
    /// MTU.
    pub mtu: Option<u32>,
    /// MAC.
    pub mac: Option<Mac>,
    /// Administratively up.
    pub up: bool,
}

/// What the device must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedDevice {
    /// VNI.
    pub vni: u32,
    /// UDP port.
    pub port: u16,
    /// Local address.
    pub local: IpAddr,
    /// Uplink index.
    pub uplink: u32,
    /// MTU.
    pub mtu: u32,
    /// MAC.
    pub mac: Mac,
}

/// How far a device is from what we want.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Drift {
    /// Identity fields that differ (`"vni 100 != 4096"`): the device must be recreated.
    pub recreate: Vec<String>,
    /// Whether MTU, MAC or up must be set in place.
    pub set_in_place: bool,
}

impl DeviceState {
    /// Reads a `RTM_NEWLINK` message.
    pub fn from_link(msg: &LinkMessage) -> DeviceState {
        let mut s = DeviceState {
            ifindex: msg.header.index,
            is_vxlan: false,
            vni: None,
            port: None,
            local: None,
            uplink: None,
            learning: None,
            mtu: None,
            mac: None,
            up: msg.header.flags.contains(LinkFlags::Up),
        };
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::Mtu(m) => s.mtu = Some(*m),
                LinkAttribute::Address(a) => s.mac = Mac::try_from(a.as_slice()).ok(),
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        match info {
                            LinkInfo::Kind(InfoKind::Vxlan) => s.is_vxlan = true,
                            LinkInfo::Data(InfoData::Vxlan(data)) => s.read_vxlan(data),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        s
    }

    fn read_vxlan(&mut self, data: &[InfoVxlan]) {
        for d in data {
            match d {
                InfoVxlan::Id(v) => self.vni = Some(*v),
                InfoVxlan::Port(p) => self.port = Some(*p),
                InfoVxlan::Local(a) => self.local = Some(IpAddr::V4(*a)),
                InfoVxlan::Local6(a) => self.local = Some(IpAddr::V6(*a)),
                InfoVxlan::Link(l) => self.uplink = Some(*l),
                InfoVxlan::Learning(l) => self.learning = Some(*l),
                _ => {}
            }
        }
    }

    /// Compares with what we want.
    pub fn drift(&self, want: &WantedDevice) -> Drift {
        let mut recreate = Vec::new();
        if !self.is_vxlan {
            recreate.push("not a vxlan device".to_owned());
        }
        fn field<T: PartialEq + std::fmt::Debug>(
            out: &mut Vec<String>,
            name: &str,
            have: Option<T>,
            want: T,
        ) {
            if have.as_ref() != Some(&want) {
                out.push(format!("{name} {have:?} != {want:?}"));
            }
        }
        field(&mut recreate, "vni", self.vni, want.vni);
        field(&mut recreate, "port", self.port, want.port);
        field(&mut recreate, "local", self.local, want.local);
        field(&mut recreate, "uplink", self.uplink, want.uplink);
        field(&mut recreate, "learning", self.learning, false);
        let set_in_place = self.mtu != Some(want.mtu) || self.mac != Some(want.mac) || !self.up;
        Drift {
            recreate,
            set_in_place,
        }
    }
}

#[cfg(test)]
mod tests {
    use rtnetlink::LinkVxlan;

    use super::*;

    fn want() -> WantedDevice {
        WantedDevice {
            vni: 4096,
            port: 4789,
            local: "10.0.0.1".parse().unwrap(),
            uplink: 2,
            mtu: 1450,
            mac: Mac::from_node_name("a"),
        }
    }

    fn built(vni: u32, learning: bool, mtu: u32) -> LinkMessage {
        let w = want();
        let mut msg = LinkVxlan::new("vxlan.margay", vni)
            .dev(w.uplink)
            .port(w.port)
            .local("10.0.0.1".parse().unwrap())
            .learning(learning)
            .mtu(mtu)
            .address(w.mac.octets().to_vec())
            .up()
            .build();
        msg.header.index = 9;
        msg
    }

    #[test]
    fn matching_device_has_no_drift() {
        let s = DeviceState::from_link(&built(4096, false, 1450));
        assert_eq!(s.ifindex, 9);
        assert_eq!(s.drift(&want()), Drift::default(), "{s:?}");
    }

    #[test]
    fn identity_changes_recreate_and_mtu_is_set_in_place() {
        let d = DeviceState::from_link(&built(100, true, 1450)).drift(&want());
        assert_eq!(
            d.recreate,
            ["vni Some(100) != 4096", "learning Some(true) != false"]
        );
        let d = DeviceState::from_link(&built(4096, false, 1400)).drift(&want());
        assert!(d.recreate.is_empty() && d.set_in_place, "{d:?}");
    }
}
