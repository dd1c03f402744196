//! Links: `kith://<56-char address>[?tcp=IP:PORT]` (a contact link) and
//! `kith://<56-char address>?inbox[&tcp=IP:PORT]` (an inbox link).
//!
//! A contact link is what a person shares (as text or as a QR code) so that
//! others can add them; an inbox link is a public address where anyone can
//! drop a message (`docs/protocol.md` § 11). Both carry the address and
//! optional transport hints. The two are never confused: a contact link
//! parser refuses an inbox link, and the other way round, each with a
//! message saying what the link is; [`Link::parse`] takes either. Parsing is
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

    /// Parse a contact link, strictly. Surrounding white space is ignored.
    /// An inbox link is refused, with a message saying so.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match Link::parse(s)? {
            Link::Contact(l) => Ok(l),
            Link::Inbox(_) => Err(Error::BadLink(
                "this is an inbox link: drop a message there with `kith drop`, it cannot be added as a contact",
            )),
        }
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

/// A parsed inbox link: `kith://<address>?inbox[&tcp=IP:PORT]`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct InboxLink {
    /// The inbox's address (its own key, not the owner's identity).
    pub address: OnionAddress,
    /// Where to reach it with the TCP transport (tests and LAN), if given.
    pub tcp: Option<SocketAddr>,
}

impl InboxLink {
    /// Parse an inbox link, strictly. A contact link is refused, with a
    /// message saying so.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match Link::parse(s)? {
            Link::Inbox(l) => Ok(l),
            Link::Contact(_) => Err(Error::BadLink(
                "this is a contact link, not an inbox link (an inbox link ends in ?inbox)",
            )),
        }
    }
}

impl std::str::FromStr for InboxLink {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl std::fmt::Display for InboxLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SCHEME}{}?{INBOX_MARKER}", self.address)?;
        if let Some(tcp) = self.tcp {
            write!(f, "&tcp={tcp}")?;
        }
        Ok(())
    }
}

/// The query parameter (without a value) that marks an inbox link.
pub const INBOX_MARKER: &str = "inbox";

/// Either kind of link, as typed or scanned.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Link {
    /// A contact link.
    Contact(ContactLink),
    /// An inbox link.
    Inbox(InboxLink),
}

impl Link {
    /// Parse either kind of link, strictly. Surrounding white space is
    /// ignored.
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
        let mut tcp = None;
        let mut inbox = false;
        if let Some(q) = query {
            for (i, pair) in q.split('&').enumerate() {
                if pair == INBOX_MARKER {
                    // The marker comes first, once: one spelling per link.
                    if i != 0 {
                        return Err(Error::BadLink("the inbox marker comes first"));
                    }
                    inbox = true;
                    continue;
                }
                let (k, v) = pair
                    .split_once('=')
                    .ok_or(Error::BadLink("parameter without '='"))?;
                match k {
                    "tcp" => {
                        if tcp.is_some() {
                            return Err(Error::BadLink("tcp given twice"));
                        }
                        let sa: SocketAddr = v
                            .parse()
                            .map_err(|_| Error::BadLink("tcp is not IP:PORT"))?;
                        if sa.port() == 0 {
                            return Err(Error::BadLink("tcp port 0"));
                        }
                        tcp = Some(sa);
                    }
                    _ => return Err(Error::BadLink("unknown parameter")),
                }
            }
        }
        Ok(if inbox {
            Link::Inbox(InboxLink { address, tcp })
        } else {
            Link::Contact(ContactLink { address, tcp })
        })
    }
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Link::Contact(l) => l.fmt(f),
            Link::Inbox(l) => l.fmt(f),
        }
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

    #[test]
    fn inbox_links_are_never_contact_links() {
        let l = InboxLink::parse(&format!("kith://{A}?inbox")).unwrap();
        assert_eq!(l.tcp, None);
        assert_eq!(l.to_string(), format!("kith://{A}?inbox"));
        let t = InboxLink::parse(&format!("kith://{A}?inbox&tcp=127.0.0.1:9")).unwrap();
        assert_eq!(t.tcp, Some("127.0.0.1:9".parse().unwrap()));
        assert_eq!(InboxLink::parse(&t.to_string()).unwrap(), t);
        assert_eq!(Link::parse(&t.to_string()).unwrap(), Link::Inbox(t.clone()));
        // Each parser refuses the other kind, saying what it is.
        let e = ContactLink::parse(&t.to_string()).unwrap_err();
        assert!(e.to_string().contains("inbox link"), "{e}");
        let e = InboxLink::parse(&format!("kith://{A}")).unwrap_err();
        assert!(e.to_string().contains("contact link"), "{e}");
        assert!(matches!(
            Link::parse(&format!("kith://{A}")).unwrap(),
            Link::Contact(_)
        ));
        for s in [
            format!("kith://{A}?inbox&inbox"),
            format!("kith://{A}?tcp=127.0.0.1:9&inbox"),
            format!("kith://{A}?inbox=1"),
            format!("kith://{A}?Inbox"),
            format!("kith://{A}?inbox&"),
        ] {
            assert!(Link::parse(&s).is_err(), "accepted {s:?}");
        }
    }
}
