//! Introductions: the messages by which a contact (the *introducer*) puts
//! two of its contacts in touch (`docs/protocol.md` § 8).
//!
//! Every step travels in the existing session between the introducer and
//! one side, as [`crate::PeerMessage::Introduction`]. The two sides never
//! talk to each other until both accepted: the offer names the other side
//! but does not carry its address; only [`IntroductionMessage::Link`], sent
//! once both accepted, does.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_DISPLAY_NAME, MAX_INTRODUCTION_NOTE};

/// An introduction's id: 16 random bytes chosen by the introducer. It names
/// the introduction in both of the introducer's sessions and in each side's
/// answers; it means nothing outside the sessions with that introducer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IntroductionId(pub [u8; 16]);

impl IntroductionId {
    /// A fresh random id.
    pub fn random<R: rand_core::CryptoRngCore + ?Sized>(rng: &mut R) -> Self {
        let mut b = [0_u8; 16];
        rng.fill_bytes(&mut b);
        IntroductionId(b)
    }

    /// Lowercase hex (32 characters), as commands take and print it.
    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }

    /// Parse [`IntroductionId::to_hex`]'s form (either case).
    pub fn parse_hex(s: &str) -> Option<Self> {
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.trim().as_bytes())
            .ok()?;
        Some(IntroductionId(bytes.try_into().ok()?))
    }
}

impl std::fmt::Debug for IntroductionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IntroductionId({})", self.to_hex())
    }
}

/// One step of an introduction. Tags are postcard's, by position: never
/// reorder.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntroductionMessage {
    /// Introducer → each side: "I would like to introduce you to `name`".
    /// Carries no address.
    Offer(Offer),
    /// Side → introducer: this side's user accepted.
    Accept {
        /// Which introduction.
        id: IntroductionId,
    },
    /// Side → introducer: this side's user declined.
    Decline {
        /// Which introduction.
        id: IntroductionId,
    },
    /// Introducer → each side, only once both accepted: the other side's
    /// contact link. The side adds it as an accepted contact.
    Link(IntroductionLink),
    /// Introducer → a side: the introduction did not happen (the other
    /// declined, it expired, or the introducer withdrew it). Says nothing
    /// more. Also the introducer's acknowledgement of a `Decline`.
    Off {
        /// Which introduction.
        id: IntroductionId,
    },
    /// Side → introducer: a `Link` or an `Off` was stored; the introducer
    /// stops resending it and forgets this side's part.
    Done {
        /// Which introduction.
        id: IntroductionId,
    },
}

/// An introduction offered to one side.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// Which introduction.
    pub id: IntroductionId,
    /// The other side's name, as the introducer knows it (peer text: shown
    /// sanitized, never trusted).
    pub name: String,
    /// The introducer's note, possibly empty.
    pub note: String,
}

/// The other side's contact link, sent once both sides accepted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntroductionLink {
    /// Which introduction.
    pub id: IntroductionId,
    /// The other side's identity key (its onion address).
    pub address: [u8; 32],
    /// The other side's name, as the introducer knows it.
    pub name: String,
    /// Where the other side listens on TCP, if the introducer knows it.
    pub tcp_hint: Option<SocketAddr>,
}

impl IntroductionMessage {
    /// The introduction this step belongs to.
    pub fn id(&self) -> IntroductionId {
        match self {
            IntroductionMessage::Offer(o) => o.id,
            IntroductionMessage::Link(l) => l.id,
            IntroductionMessage::Accept { id }
            | IntroductionMessage::Decline { id }
            | IntroductionMessage::Off { id }
            | IntroductionMessage::Done { id } => *id,
        }
    }

    /// The step's name, for logs (never its names or note).
    pub fn step(&self) -> &'static str {
        match self {
            IntroductionMessage::Offer(_) => "offer",
            IntroductionMessage::Accept { .. } => "accept",
            IntroductionMessage::Decline { .. } => "decline",
            IntroductionMessage::Link(_) => "link",
            IntroductionMessage::Off { .. } => "off",
            IntroductionMessage::Done { .. } => "done",
        }
    }

    /// Check the field limits the type system does not.
    pub(crate) fn validate(&self) -> Result<(), crate::Error> {
        let check = |object, len, max| {
            if len > max {
                Err(crate::Error::TooLarge { object, len, max })
            } else {
                Ok(())
            }
        };
        match self {
            IntroductionMessage::Offer(o) => {
                check("introduced name", o.name.len(), MAX_DISPLAY_NAME)?;
                check("introduction note", o.note.len(), MAX_INTRODUCTION_NOTE)
            }
            IntroductionMessage::Link(l) => {
                check("introduced name", l.name.len(), MAX_DISPLAY_NAME)
            }
            _ => Ok(()),
        }
    }
}

impl std::fmt::Debug for IntroductionMessage {
    // Never prints names, notes or addresses.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({:?})", self.step(), self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse() {
        let id = IntroductionId([0xab; 16]);
        assert_eq!(id.to_hex(), "ab".repeat(16));
        assert_eq!(IntroductionId::parse_hex(&"AB".repeat(16)), Some(id));
        assert_eq!(IntroductionId::parse_hex("abab"), None);
        assert_eq!(IntroductionId::parse_hex(&"zz".repeat(16)), None);
    }

    #[test]
    fn debug_hides_names_and_notes() {
        let m = IntroductionMessage::Offer(Offer {
            id: IntroductionId([1; 16]),
            name: "Secret Name".into(),
            note: "secret note".into(),
        });
        let s = format!("{m:?}");
        assert!(!s.contains("ecret"), "{s}");
        assert!(s.starts_with("offer("));
    }
}
