//! The messages peers exchange inside an encrypted session.
//!
//! Layout of one encoded message: `version: u8 ‖ postcard(PeerMessage)`.
//! Each message travels in one session record, so [`MAX_MESSAGE`] stays below
//! the session's record payload limit. The limits are in [`crate::limits`],
//! shared with the store. This module is the only place that
//! touches postcard for peer data; every decoder goes through [`decode`],
//! which checks the size before anything is parsed, rejects unknown versions
//! and unknown variants, rejects trailing bytes and enforces the field limits.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::clock::Timestamp;
use crate::intro::IntroductionMessage;
use crate::limits::MAX_DISPLAY_NAME;
pub use crate::limits::{MAX_ACK_IDS, MAX_BODY, MAX_MESSAGE};
use crate::meet::MeetMessage;

/// Wire versions this build speaks, newest last.
///
/// REMOVING ELEMENTS FROM THIS LIST BREAKS OLDER PEERS.
pub const SUPPORTED_VERSIONS: &[u8] = &[1];
/// The version we send.
pub const CURRENT_VERSION: u8 = 1;

/// A message's globally unique id, chosen at random by its author.
///
/// The receiver deduplicates on it, so a message redelivered after a crash is
/// shown once.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct MessageId(pub [u8; 16]);

impl MessageId {
    /// A fresh random id.
    pub fn random<R: rand_core::CryptoRngCore + ?Sized>(rng: &mut R) -> Self {
        let mut b = [0_u8; 16];
        rng.fill_bytes(&mut b);
        MessageId(b)
    }

    /// Lowercase hex, as shown to scripts.
    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }
}

impl std::fmt::Debug for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MessageId({})", self.to_hex())
    }
}

/// Every message a peer can send, after the session handshake.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PeerMessage {
    /// Sent first by the dialing side.
    Hello(Hello),
    /// The answer to [`PeerMessage::Hello`].
    Welcome(Welcome),
    /// A chat message.
    Text(Text),
    /// Acknowledges that messages were durably stored by the receiver.
    Ack(Vec<MessageId>),
    /// "This link is alive": sent by either side of a session after
    /// [`KEEPALIVE_AFTER_SECS`] without sending anything else. Carries nothing.
    Keepalive,
    /// One step of meeting in person (`docs/protocol.md` § 7): sent only on
    /// a session opened for the meeting, never in a contact's session.
    Meet(MeetMessage),
    /// One step of an introduction (`docs/protocol.md` § 8): sent only in
    /// a session between accepted contacts.
    Introduction(IntroductionMessage),
    /// How to reach the sender from now on (`docs/protocol.md` § 9): sent
    /// by each side at the start of every session between accepted
    /// contacts.
    Reach(Reach),
}

/// The sender's contacts-only address, and the key the receiver must
/// authorize on its own contacts-only address for the sender (see
/// [`crate::reach`]).
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reach {
    /// The public key of the sender's contacts service: its onion address.
    pub contacts_service: [u8; 32],
    /// The sender's discovery key for the receiver's contacts service.
    pub discovery_key: crate::reach::DiscoveryKey,
}

impl std::fmt::Debug for Reach {
    // An address: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reach(..)")
    }
}

/// A session that has sent nothing for this many seconds sends a
/// [`PeerMessage::Keepalive`].
pub const KEEPALIVE_AFTER_SECS: u64 = 30;
/// A session that has received nothing (not even a keepalive) for this many
/// seconds is dead: the receiver closes it and redials.
pub const SILENT_LIMIT_SECS: u64 = 100;

/// The dialer introduces itself. Its address is already authenticated by the
/// session handshake; this carries what the other side needs to show a
/// contact request and to dial back.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The name the dialer suggests for itself (shown on a contact request).
    pub name: String,
    /// Where the dialer listens on the TCP transport, when it uses one.
    pub tcp_hint: Option<SocketAddr>,
}

/// Whether the responder treats the dialer as a contact.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Welcome {
    /// Both sides are contacts: messages may flow.
    Accepted,
    /// The request is waiting for the responder's user; the dialer closes.
    Pending,
}

/// A chat message.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    /// Its id, for deduplication and acknowledgement.
    pub id: MessageId,
    /// When the author wrote it (author's clock).
    pub sent_at: Timestamp,
    /// The text.
    pub body: String,
}

impl std::fmt::Debug for PeerMessage {
    // Never prints message text or names.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerMessage::Hello(_) => f.write_str("Hello(..)"),
            PeerMessage::Welcome(w) => write!(f, "Welcome({w:?})"),
            PeerMessage::Text(t) => write!(f, "Text({:?}, {} bytes)", t.id, t.body.len()),
            PeerMessage::Ack(ids) => write!(f, "Ack({} ids)", ids.len()),
            PeerMessage::Keepalive => f.write_str("Keepalive"),
            PeerMessage::Meet(m) => write!(f, "Meet({m:?})"),
            PeerMessage::Introduction(m) => write!(f, "Introduction({m:?})"),
            PeerMessage::Reach(_) => f.write_str("Reach(..)"),
        }
    }
}

impl PeerMessage {
    /// Check the field limits that the type system does not.
    fn validate(&self) -> Result<(), Error> {
        let check = |object, len, max| {
            if len > max {
                Err(Error::TooLarge { object, len, max })
            } else {
                Ok(())
            }
        };
        match self {
            PeerMessage::Hello(h) => check("name", h.name.len(), MAX_DISPLAY_NAME),
            PeerMessage::Welcome(_) => Ok(()),
            PeerMessage::Text(t) => check("message body", t.body.len(), MAX_BODY),
            PeerMessage::Ack(ids) => {
                check("ack", ids.len(), MAX_ACK_IDS)?;
                if ids.is_empty() {
                    return Err(Error::Decode {
                        object: "ack",
                        reason: "empty",
                    });
                }
                Ok(())
            }
            PeerMessage::Keepalive | PeerMessage::Meet(_) | PeerMessage::Reach(_) => Ok(()),
            PeerMessage::Introduction(m) => m.validate(),
        }
    }
}

/// Encode a message for sending.
pub fn encode(msg: &PeerMessage) -> Result<Vec<u8>, Error> {
    msg.validate()?;
    let mut out = vec![CURRENT_VERSION];
    out = postcard::to_extend(msg, out).map_err(|_| Error::Decode {
        object: "peer message",
        reason: "cannot encode",
    })?;
    if out.len() > MAX_MESSAGE {
        return Err(Error::TooLarge {
            object: "peer message",
            len: out.len(),
            max: MAX_MESSAGE,
        });
    }
    Ok(out)
}

/// Decode a received message.
pub fn decode(bytes: &[u8]) -> Result<PeerMessage, Error> {
    if bytes.len() > MAX_MESSAGE {
        return Err(Error::TooLarge {
            object: "peer message",
            len: bytes.len(),
            max: MAX_MESSAGE,
        });
    }
    let (&version, rest) = bytes.split_first().ok_or(Error::Decode {
        object: "peer message",
        reason: "empty",
    })?;
    if !SUPPORTED_VERSIONS.contains(&version) {
        return Err(Error::UnsupportedVersion {
            object: "peer message",
            version,
        });
    }
    let msg: PeerMessage = decode_exact("peer message", rest)?;
    msg.validate()?;
    Ok(msg)
}

/// Decode one postcard value that must use every byte.
///
/// The single sanctioned postcard decoding entry point: `postcard::from_bytes`
/// silently ignores trailing bytes.
pub fn decode_exact<'a, T: Deserialize<'a>>(
    object: &'static str,
    bytes: &'a [u8],
) -> Result<T, Error> {
    let (value, rest) = postcard::take_from_bytes(bytes).map_err(|_| Error::Decode {
        object,
        reason: "malformed",
    })?;
    if !rest.is_empty() {
        return Err(Error::Decode {
            object,
            reason: "trailing bytes",
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intro::{IntroductionId, IntroductionLink, Offer};

    fn intro(m: IntroductionMessage) -> PeerMessage {
        PeerMessage::Introduction(m)
    }

    fn text(body: &str) -> PeerMessage {
        PeerMessage::Text(Text {
            id: MessageId([9; 16]),
            sent_at: Timestamp(1_700_000_000_000),
            body: body.into(),
        })
    }

    #[test]
    fn round_trips() {
        for m in [
            PeerMessage::Hello(Hello {
                name: "Ana".into(),
                tcp_hint: Some("127.0.0.1:9101".parse().unwrap()),
            }),
            PeerMessage::Welcome(Welcome::Pending),
            text("salut ✊"),
            PeerMessage::Ack(vec![MessageId([1; 16]), MessageId([2; 16])]),
            intro(IntroductionMessage::Done {
                id: IntroductionId([3; 16]),
            }),
        ] {
            assert_eq!(decode(&encode(&m).unwrap()).unwrap(), m);
        }
    }

    #[test]
    fn vectors_from_docs() {
        #[derive(serde::Deserialize)]
        struct V {
            name: String,
            hex: String,
        }
        let vs: Vec<V> =
            serde_json::from_str(include_str!("../../../docs/vectors/wire.json")).unwrap();
        let expected = |name: &str| match name {
            "text" => text("hi"),
            "ack" => PeerMessage::Ack(vec![MessageId([9; 16])]),
            "hello" => PeerMessage::Hello(Hello {
                name: "A".into(),
                tcp_hint: None,
            }),
            "welcome_accepted" => PeerMessage::Welcome(Welcome::Accepted),
            "keepalive" => PeerMessage::Keepalive,
            "reach" => PeerMessage::Reach(Reach {
                contacts_service: [0x0a; 32],
                discovery_key: crate::reach::DiscoveryKey([0x0b; 32]),
            }),
            "meet_offer" => PeerMessage::Meet(MeetMessage::Offer { ephemeral: [3; 32] }),
            "meet_answer" => PeerMessage::Meet(MeetMessage::Answer {
                ephemeral: [4; 32],
                confirm: [5; 32],
            }),
            "meet_confirm" => PeerMessage::Meet(MeetMessage::Confirm { confirm: [6; 32] }),
            "meet_done" => PeerMessage::Meet(MeetMessage::Done),
            "meet_abort_not_ready" => {
                PeerMessage::Meet(MeetMessage::Abort(crate::meet::AbortReason::NotReady))
            }
            "introduction_offer" => intro(IntroductionMessage::Offer(Offer {
                id: IntroductionId([7; 16]),
                name: "B".into(),
                note: "hi".into(),
            })),
            "introduction_accept" => intro(IntroductionMessage::Accept {
                id: IntroductionId([7; 16]),
            }),
            "introduction_decline" => intro(IntroductionMessage::Decline {
                id: IntroductionId([7; 16]),
            }),
            "introduction_link" => intro(IntroductionMessage::Link(IntroductionLink {
                id: IntroductionId([7; 16]),
                address: [8; 32],
                name: "B".into(),
                tcp_hint: Some("127.0.0.1:9102".parse().unwrap()),
            })),
            "introduction_off" => intro(IntroductionMessage::Off {
                id: IntroductionId([7; 16]),
            }),
            "introduction_done" => intro(IntroductionMessage::Done {
                id: IntroductionId([7; 16]),
            }),
            other => panic!("unknown vector {other}"),
        };
        for v in vs {
            let bytes = hex::decode(&v.hex).unwrap();
            assert_eq!(decode(&bytes).unwrap(), expected(&v.name), "{}", v.name);
            assert_eq!(encode(&expected(&v.name)).unwrap(), bytes, "{}", v.name);
        }
    }

    #[test]
    fn rejects_bad_input() {
        let good = encode(&text("hi")).unwrap();
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            decode(&trailing),
            Err(Error::Decode {
                reason: "trailing bytes",
                ..
            })
        ));
        let mut v2 = good.clone();
        v2[0] = 2;
        assert!(matches!(
            decode(&v2),
            Err(Error::UnsupportedVersion { version: 2, .. })
        ));
        assert!(decode(&[]).is_err());
        assert!(decode(&[1, 200]).is_err()); // unknown variant
        assert!(decode(&[1, 5, 9]).is_err()); // unknown meet step
        assert!(decode(&[1, 5, 4, 9]).is_err()); // unknown abort reason
        assert!(decode(&[1, 5, 0, 3, 3]).is_err()); // a short key
        assert!(decode(&[1, 6, 6]).is_err()); // unknown introduction step
        assert!(decode(&[1, 6, 1, 7, 7]).is_err()); // a short introduction id
        assert!(decode(&good[..good.len() - 1]).is_err());
        assert!(matches!(
            decode(&vec![1; MAX_MESSAGE + 1]),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            encode(&text(&"x".repeat(MAX_BODY + 1))),
            Err(Error::TooLarge { .. })
        ));
        assert!(encode(&PeerMessage::Ack(vec![])).is_err());
        // A length prefix claiming far more than present must not allocate or panic.
        assert!(
            decode(&[
                1, 2, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0xff, 0xff, 0xff, 0x0f
            ])
            .is_err()
        );
    }

    #[test]
    fn largest_messages_fit() {
        use crate::limits::{
            ACK_OVERHEAD, HELLO_OVERHEAD, INTRODUCTION_LINK_OVERHEAD, INTRODUCTION_OFFER_OVERHEAD,
            MAX_DISPLAY_NAME, MAX_INTRODUCTION_NOTE, TEXT_OVERHEAD,
        };
        use std::net::{Ipv6Addr, SocketAddr};
        let text = PeerMessage::Text(Text {
            id: MessageId([0xff; 16]),
            sent_at: Timestamp(u64::MAX),
            // Multi-byte characters, exactly MAX_BODY bytes.
            body: "é".repeat(MAX_BODY / 2),
        });
        let hello = PeerMessage::Hello(Hello {
            name: "x".repeat(MAX_DISPLAY_NAME),
            tcp_hint: Some(SocketAddr::new(Ipv6Addr::from([0xff; 16]).into(), 65535)),
        });
        let ack = PeerMessage::Ack(vec![MessageId([0xff; 16]); MAX_ACK_IDS]);
        let offer = intro(IntroductionMessage::Offer(Offer {
            id: IntroductionId([0xff; 16]),
            name: "x".repeat(MAX_DISPLAY_NAME),
            note: "é".repeat(MAX_INTRODUCTION_NOTE / 2),
        }));
        let link = intro(IntroductionMessage::Link(IntroductionLink {
            id: IntroductionId([0xff; 16]),
            address: [0xff; 32],
            name: "x".repeat(MAX_DISPLAY_NAME),
            tcp_hint: Some(SocketAddr::new(Ipv6Addr::from([0xff; 16]).into(), 65535)),
        }));
        for (m, most) in [
            (
                offer,
                MAX_DISPLAY_NAME + MAX_INTRODUCTION_NOTE + INTRODUCTION_OFFER_OVERHEAD,
            ),
            (link, MAX_DISPLAY_NAME + INTRODUCTION_LINK_OVERHEAD),
            (text, MAX_BODY + TEXT_OVERHEAD),
            (hello, MAX_DISPLAY_NAME + HELLO_OVERHEAD),
            (ack, MAX_ACK_IDS * 16 + ACK_OVERHEAD),
        ] {
            let bytes = encode(&m).unwrap();
            assert!(bytes.len() <= most, "{m:?}: {} > {most}", bytes.len());
            assert!(bytes.len() <= MAX_MESSAGE);
            assert_eq!(decode(&bytes).unwrap(), m);
        }
        assert!(
            encode(&PeerMessage::Hello(Hello {
                name: "x".repeat(MAX_DISPLAY_NAME + 1),
                tcp_hint: None,
            }))
            .is_err()
        );
        assert!(encode(&PeerMessage::Ack(vec![MessageId([0; 16]); MAX_ACK_IDS + 1])).is_err());
        let long_note = intro(IntroductionMessage::Offer(Offer {
            id: IntroductionId([0; 16]),
            name: "B".into(),
            note: "x".repeat(MAX_INTRODUCTION_NOTE + 1),
        }));
        assert!(matches!(encode(&long_note), Err(Error::TooLarge { .. })));
        // The same bytes from a peer are refused by the decoder too.
        let mut bytes = encode(&intro(IntroductionMessage::Offer(Offer {
            id: IntroductionId([0; 16]),
            name: "B".into(),
            note: String::new(),
        })))
        .unwrap();
        bytes.pop();
        bytes.extend_from_slice(&[0x81, 0x04]); // note length 513
        bytes.extend(std::iter::repeat_n(b'x', MAX_INTRODUCTION_NOTE + 1));
        assert!(matches!(decode(&bytes), Err(Error::TooLarge { .. })));
    }

    #[test]
    fn debug_hides_body() {
        assert!(!format!("{:?}", text("secret words")).contains("secret"));
    }
}
