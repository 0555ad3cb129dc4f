//! Network interfaces for the hook payload (getifaddrs(3) through nix): name, one IPv4 and one IPv6
//! address each, in interface index order.
//!
//! Registers nothing. Read at each hook send: a container's addresses can change while it runs.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// One interface as the hook reports it: `{"name":"lo","ipv4":"127.0.0.1","ipv6":"::1"}`, an absent
/// address family omitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interface {
    /// Interface name (or the address label, e.g. `eth0:1`, as getifaddrs reports it).
    pub name: String,
    /// One IPv4 address: a global one if any, else a link-local one (169.254/16).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    /// One IPv6 address: a global one if any, else a link-local one (fe80::/10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
}

/// The host's interfaces in index order (down ones included), or an empty list when getifaddrs fails
/// (the hook is still sent; an error is logged with `-d`).
pub fn interfaces() -> Vec<Interface> {
    let addrs = match nix::ifaddrs::getifaddrs() {
        Ok(a) => a,
        Err(e) => {
            crate::debug!("getifaddrs: {e}");
            return Vec::new();
        }
    };
    collect(addrs.map(|a| {
        let ip = a.address.as_ref().and_then(|s| {
            if let Some(v4) = s.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        });
        // if_nametoindex fails for an interface that vanished mid-walk, or for an IPv4 label such as
        // `eth0:1`: those sort last, by name.
        let index = nix::net::if_::if_nametoindex(a.interface_name.as_str()).unwrap_or(u32::MAX);
        (index, a.interface_name, ip)
    }))
}

/// Groups `(index, name, address)` entries (several per interface: AF_PACKET, AF_INET, AF_INET6) into
/// one [`Interface`] per name, sorted by index then name, choosing one address per family.
pub fn collect(entries: impl IntoIterator<Item = (u32, String, Option<IpAddr>)>) -> Vec<Interface> {
    let mut by_name: BTreeMap<(u32, String), Interface> = BTreeMap::new();
    for (index, name, ip) in entries {
        let entry = by_name
            .entry((index, name.clone()))
            .or_insert_with(|| Interface {
                name,
                ipv4: None,
                ipv6: None,
            });
        match ip {
            Some(IpAddr::V4(a)) if better_v4(a, entry.ipv4) => entry.ipv4 = Some(a),
            Some(IpAddr::V6(a)) if better_v6(a, entry.ipv6) => entry.ipv6 = Some(a),
            _ => {}
        }
    }
    by_name.into_values().collect()
}

/// `new` replaces `old` only when there is none yet, or `old` is link-local and `new` is not
/// (RFC 3927: 169.254.0.0/16).
fn better_v4(new: Ipv4Addr, old: Option<Ipv4Addr>) -> bool {
    match old {
        None => true,
        Some(old) => old.is_link_local() && !new.is_link_local(),
    }
}

/// As [`better_v4`] for IPv6: link-local is fe80::/10 (RFC 4291 §2.5.6).
fn better_v6(new: Ipv6Addr, old: Option<Ipv6Addr>) -> bool {
    let link_local = |a: Ipv6Addr| (a.segments()[0] & 0xffc0) == 0xfe80;
    match old {
        None => true,
        Some(old) => link_local(old) && !link_local(new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_name_in_index_order_preferring_global() {
        let e =
            |i: u32, n: &str, a: Option<&str>| (i, n.to_string(), a.map(|s| s.parse().unwrap()));
        let got = collect([
            e(2, "eth0", None),
            e(1, "lo", None),
            e(3, "ifb0", None),
            e(1, "lo", Some("127.0.0.1")),
            e(2, "eth0", Some("169.254.1.1")),
            e(2, "eth0", Some("fe80::1")),
            e(2, "eth0", Some("192.0.2.2")),
            e(2, "eth0", Some("fd00::2")),
            e(2, "eth0", Some("10.0.0.1")),
            e(1, "lo", Some("::1")),
        ]);
        let names: Vec<_> = got.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["lo", "eth0", "ifb0"]);
        assert_eq!(got[1].ipv4, Some("192.0.2.2".parse().unwrap()));
        assert_eq!(got[1].ipv6, Some("fd00::2".parse().unwrap()));
        assert_eq!(
            serde_json::to_string(&got[0]).unwrap(),
            r#"{"name":"lo","ipv4":"127.0.0.1","ipv6":"::1"}"#
        );
        assert_eq!(
            serde_json::to_string(&got[2]).unwrap(),
            r#"{"name":"ifb0"}"#
        );
    }

    #[test]
    fn link_local_only_is_kept() {
        let got = collect([(5, "x".to_string(), Some("fe80::9".parse().unwrap()))]);
        assert_eq!(got[0].ipv6, Some("fe80::9".parse().unwrap()));
    }

    #[test]
    fn reads_loopback() {
        let got = interfaces();
        let lo = got.iter().find(|i| i.name == "lo").expect("lo exists");
        assert_eq!(lo.ipv4, Some(Ipv4Addr::LOCALHOST));
    }
}
