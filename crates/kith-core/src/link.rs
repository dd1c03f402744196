//! Contact links: `kith://<56-char address>[?tcp=IP:PORT]`.
//!
//! A link is what a person shares (as text or as a QR code) so that others can
//! add them. It carries the address and optional transport hints. Parsing is
//! strict: one scheme, no path, no fragment, only known parameters, each once,
//! and hints that are literal socket addresses (never host names: Kith does
//! no DNS lookups of peers).

use std::net::SocketAddr;

use crate::Error;
use crate::address::OnionAddress;

/// The URI scheme of contact links.
pub const SCHEME: &str = "kith://";
/// The longest link we accept, in bytes.
pub const MAX_LINK_LEN: usize = 256;

/// A parsed contact link.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ContactLink {
    /// The contact's address.
    pub address: OnionAddress,
    /// Where to reach them with the TCP transport (tests and LAN), if given.
    pub tcp: Option<SocketAddr>,
}

impl ContactLink {
    /// A link with no hints.
    pub fn new(address: OnionAddress) -> Self {
        ContactLink { address, tcp: None }
    }

    /// Parse a link, strictly. Surrounding white space is ignored.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        if s.len() > MAX_LINK_LEN {
            return Err(Error::BadLink("too long"));
        }
        let scheme_len = SCHEME.len();
        // `get`, not indexing: the text may split a character at that byte.
        if !s
            .get(..scheme_len)
            .is_some_and(|p| p.eq_ignore_ascii_case(SCHEME))
        {
            return Err(Error::BadLink("a link starts with kith://"));
        }
        let rest = &s[scheme_len..];
        if rest.contains('#') {
            return Err(Error::BadLink("unexpected '#'"));
        }
        let (addr, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let addr = addr.strip_suffix('/').unwrap_or(addr);
        if addr.contains('/') {
            return Err(Error::BadLink("unexpected path after the address"));
        }
        let address = OnionAddress::parse(addr)?;
        let mut link = ContactLink::new(address);
        if let Some(q) = query {
            for pair in q.split('&') {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or(Error::BadLink("parameter without '='"))?;
                match k {
                    "tcp" => {
                        if link.tcp.is_some() {
                            return Err(Error::BadLink("tcp given twice"));
                        }
                        let sa: SocketAddr = v
                            .parse()
                            .map_err(|_| Error::BadLink("tcp is not IP:PORT"))?;
                        if sa.port() == 0 {
                            return Err(Error::BadLink("tcp port 0"));
                        }
                        link.tcp = Some(sa);
                    }
                    _ => return Err(Error::BadLink("unknown parameter")),
                }
            }
        }
        Ok(link)
    }

    /// The payload of this link's QR code: the link text itself.
    pub fn qr_payload(&self) -> String {
        self.to_string()
    }
}

impl std::str::FromStr for ContactLink {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl std::fmt::Display for ContactLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SCHEME}{}", self.address)?;
        if let Some(tcp) = self.tcp {
            write!(f, "?tcp={tcp}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd";

    #[test]
    fn round_trip() {
        let l = ContactLink::parse(&format!("kith://{A}")).unwrap();
        assert_eq!(l.tcp, None);
        assert_eq!(l.to_string(), format!("kith://{A}"));
        let l = ContactLink::parse(&format!("  kith://{A}.onion?tcp=127.0.0.1:9101\n")).unwrap();
        assert_eq!(l.tcp, Some("127.0.0.1:9101".parse().unwrap()));
        assert_eq!(ContactLink::parse(&l.to_string()).unwrap(), l);
        let l6 = ContactLink::parse(&format!("kith://{A}?tcp=[::1]:80")).unwrap();
        assert_eq!(ContactLink::parse(&l6.qr_payload()).unwrap(), l6);
    }

    #[test]
    fn junk_rejected() {
        let bad_checksum = A.replace("pg6m", "pg6n");
        for s in [
            String::new(),
            "kith://".into(),
            format!("http://{A}"),
            format!("kith:/{A}"),
            format!("kith://{bad_checksum}"),
            format!("kith://{A}/x"),
            format!("kith://{A}#frag"),
            format!("kith://{A}?tcp=localhost:80"),
            format!("kith://{A}?tcp=127.0.0.1"),
            format!("kith://{A}?tcp=127.0.0.1:0"),
            format!("kith://{A}?tcp=127.0.0.1:1&tcp=127.0.0.1:2"),
            format!("kith://{A}?evil=1"),
            format!("kith://{A}?tcp"),
            format!("kith://{A}{}", "a".repeat(300)),
            // A version-2 byte with a valid-looking length.
            "kith://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac".into(),
        ] {
            assert!(ContactLink::parse(&s).is_err(), "accepted {s:?}");
        }
    }
}
