//! The socket options no crate exposes: TCP MD5 signatures (RFC 2385) and the minimum-TTL
//! check of the Generalized TTL Security Mechanism (RFC 5082). This is the only module of
//! margay-bgp with `unsafe` code: two `setsockopt(2)` calls on a borrowed, open socket.

#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Longest key the kernel takes (`TCP_MD5SIG_MAXKEYLEN` in `linux/tcp.h`).
pub const MD5_MAX_KEY_LEN: usize = 80;

/// `struct tcp_md5sig` of `linux/tcp.h`; libc has the option number but not the struct.
#[repr(C)]
struct TcpMd5Sig {
    tcpm_addr: libc::sockaddr_storage,
    tcpm_flags: u8,
    tcpm_prefixlen: u8,
    tcpm_keylen: u16,
    tcpm_ifindex: libc::c_int,
    tcpm_key: [u8; MD5_MAX_KEY_LEN],
}

fn setsockopt<T>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `fd` is an open socket for the duration of the borrow, `value` points to a
    // properly initialised `T` and the length passed is exactly its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Installs (or, with `None`, removes) the TCP MD5 key for segments to and from `peer` on the
/// socket. On a listening socket it applies to connections accepted from `peer`.
pub fn set_md5_key(fd: BorrowedFd<'_>, peer: IpAddr, key: Option<&[u8]>) -> io::Result<()> {
    let key = key.unwrap_or_default();
    if key.len() > MD5_MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "TCP MD5 key is {} bytes, the kernel takes at most {MD5_MAX_KEY_LEN}",
                key.len()
            ),
        ));
    }
    // SAFETY: all-zero bytes are a valid value of this plain C struct.
    let mut sig: TcpMd5Sig = unsafe { zeroed() };
    let storage = (&mut sig.tcpm_addr as *mut libc::sockaddr_storage).cast::<u8>();
    match peer {
        IpAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in.
            unsafe { storage.cast::<libc::sockaddr_in>().write(sin) };
        }
        IpAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in6.
            unsafe { storage.cast::<libc::sockaddr_in6>().write(sin6) };
        }
    }
    sig.tcpm_keylen = key.len() as u16;
    sig.tcpm_key[..key.len()].copy_from_slice(key);
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig)
}

/// Sets the TTL (IPv4) or hop limit (IPv6) of outgoing packets; `None` returns to the
/// system default (the value −1 of ip(7) and ipv6(7)).
pub fn set_ttl(fd: BorrowedFd<'_>, ipv6: bool, ttl: Option<u8>) -> io::Result<()> {
    let value = ttl.map_or(-1, libc::c_int::from);
    if ipv6 {
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &value)
    } else {
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_TTL, &value)
    }
}

/// Makes the kernel drop incoming packets whose TTL / hop limit is below `min` (RFC 5082 §3).
pub fn set_min_ttl(fd: BorrowedFd<'_>, ipv6: bool, min: u8) -> io::Result<()> {
    let value = libc::c_int::from(min);
    if ipv6 {
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, &value)
    } else {
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_MINTTL, &value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn struct_layout_matches_linux_tcp_h() {
        // 128 (sockaddr_storage) + 1 + 1 + 2 + 4 + 80 = 216 bytes.
        assert_eq!(size_of::<TcpMd5Sig>(), 216);
    }

    #[test]
    fn md5_key_set_and_removed_on_a_socket() {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer: IpAddr = "127.0.0.2".parse().unwrap();
        set_md5_key(socket.as_fd(), peer, Some(b"margay")).unwrap();
        set_md5_key(socket.as_fd(), peer, None).unwrap();
    }

    #[test]
    fn overlong_md5_key_is_refused_with_its_length() {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = set_md5_key(
            socket.as_fd(),
            "127.0.0.2".parse().unwrap(),
            Some(&[b'k'; 81]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("81 bytes"), "{err}");
    }
}
