//! Where `kith run --transport tcp` may listen without `--public`.
//!
//! Plain TCP is for tests and LANs. An address that the internet can reach
//! (a public address, or the unspecified `0.0.0.0` / `::`, which listens on
//! every interface) exposes the node to anyone without Tor's cover, so it
//! needs `--public` to say the user means it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::bail;

/// Whether `ip` is loopback or private: 127.0.0.0/8, ::1, RFC 1918
/// (10/8, 172.16/12, 192.168/16), link-local (169.254/16, fe80::/10), or a
/// unique local IPv6 address (fc00::/7). IPv4-mapped IPv6 addresses count as
/// the IPv4 address they carry.
pub(crate) fn is_loopback_or_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_loopback_or_private(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_loopback_or_private(v4),
            None => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
        },
    }
}

fn v4_loopback_or_private(v4: Ipv4Addr) -> bool {
    v4.is_loopback() || v4.is_private() || v4.is_link_local()
}

/// Refuse to listen on `addr` when the internet could reach it, unless
/// `public` (`--public`) says the user means it.
pub(crate) fn check_listen(addr: SocketAddr, public: bool) -> anyhow::Result<()> {
    if public || is_loopback_or_private(addr.ip()) {
        return Ok(());
    }
    let what = if addr.ip().is_unspecified() {
        "listens on every interface, public ones included"
    } else {
        "is not a loopback or private address"
    };
    bail!(
        "refusing to listen on {addr}: it {what}, so anyone who can reach it can \
         connect, without Tor's protection; pass --public if you mean it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an IP address")
    }

    #[test]
    fn loopback_and_private_ranges() {
        for s in [
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.20",
            "169.254.3.4",
            "::1",
            "fc00::1",
            "fd12:3456:789a::1",
            "fe80::1",
            "febf::1",
            "::ffff:192.168.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback_or_private(ip(s)), "{s}");
        }
    }

    #[test]
    fn public_and_unspecified_addresses() {
        for s in [
            "0.0.0.0",
            "::",
            "8.8.8.8",
            "172.15.255.255",
            "172.32.0.0",
            "192.169.0.1",
            "11.0.0.1",
            "100.64.0.1",
            "169.253.0.1",
            "255.255.255.255",
            "2001:db8::1",
            "2a00:1450::1",
            "fec0::1",
            "fe00::1",
            "::ffff:8.8.8.8",
            "::ffff:0.0.0.0",
        ] {
            assert!(!is_loopback_or_private(ip(s)), "{s}");
        }
    }

    #[test]
    fn public_needs_the_flag() {
        let public: SocketAddr = "203.0.113.7:9101".parse().expect("addr");
        let err = check_listen(public, false)
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("--public") && err.contains("203.0.113.7:9101"),
            "{err}"
        );
        check_listen(public, true).expect("allowed with --public");
        let any: SocketAddr = "0.0.0.0:9101".parse().expect("addr");
        let err = check_listen(any, false).expect_err("refused").to_string();
        assert!(
            err.contains("every interface") && err.contains("--public"),
            "{err}"
        );
        let any6: SocketAddr = "[::]:9101".parse().expect("addr");
        assert!(check_listen(any6, false).is_err());
        for ok in [
            "127.0.0.1:9101",
            "192.168.1.5:1",
            "[::1]:9101",
            "[fd00::5]:7",
        ] {
            check_listen(ok.parse().expect("addr"), false).expect(ok);
        }
    }
}
