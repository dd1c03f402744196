//! The inbox exchange: how anyone drops one message into a profile's public
//! inbox address (`docs/protocol.md` § 11).
//!
//! An inbox address is the onion service of a random ed25519 key of its
//! own, never derived from (or linkable to) the profile's identity. The
//! dropper dials it, runs the normal session handshake as a one-time
//! identity made for that one message, sends one [`InboxMessage::Drop`],
//! reads one [`InboxMessage::Answer`] and closes. This is not a contact
//! session: no `Hello`, no [`crate::PeerMessage`] at all.
//!
//! Layout of one encoded message: `version: u8 ‖ postcard(InboxMessage)`,
//! the same framing as [`crate::wire`], with its own version list.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::limits::{MAX_DROP_BODY, MAX_INBOX_MESSAGE};

/// Inbox exchange versions this build speaks, newest last.
///
/// REMOVING ELEMENTS FROM THIS LIST BREAKS OLDER PEERS.
pub const SUPPORTED_VERSIONS: &[u8] = &[1];
/// The version we send.
pub const CURRENT_VERSION: u8 = 1;

/// One message of the inbox exchange. Tags are postcard's, by position:
/// never reorder.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InboxMessage {
    /// Dropper → inbox: the one message, and where to answer it if at all.
    Drop {
        /// The text (at most [`MAX_DROP_BODY`] bytes of UTF-8).
        body: String,
        /// Where the dropper may be answered, if they want to be.
        reply: Option<ReplyTo>,
    },
    /// Inbox → dropper: what became of the drop.
    Answer(DropAnswer),
}

/// An address a dropper leaves for an answer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReplyTo {
    /// What kind of address it is.
    pub kind: ReplyKind,
    /// Its public key (the onion address).
    pub key: [u8; 32],
    /// A TCP hint, as in links (tests, LAN).
    pub tcp: Option<SocketAddr>,
}

impl std::fmt::Debug for ReplyTo {
    // An address: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReplyTo({:?}, ..)", self.kind)
    }
}

/// The kind of a [`ReplyTo`] address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum ReplyKind {
    /// The dropper's own inbox: an answer is a drop there.
    Inbox,
    /// The dropper's contact link: the owner may send a contact request
    /// (which reveals the owner's own identity to the dropper).
    Contact,
}

/// What the inbox did with a drop.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum DropAnswer {
    /// Stored (durably) in the inbox.
    Stored,
    /// Refused: the inbox holds as many messages as it keeps.
    Full,
    /// Refused: too many drops lately; try later.
    Busy,
}

impl std::fmt::Debug for InboxMessage {
    // Never prints message text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InboxMessage::Drop { body, reply } => write!(
                f,
                "Drop({} bytes, reply: {})",
                body.len(),
                match reply {
                    Some(r) => format!("{:?}", r.kind),
                    None => "none".into(),
                }
            ),
            InboxMessage::Answer(a) => write!(f, "Answer({a:?})"),
        }
    }
}

impl InboxMessage {
    fn validate(&self) -> Result<(), Error> {
        match self {
            InboxMessage::Drop { body, .. } if body.len() > MAX_DROP_BODY => Err(Error::TooLarge {
                object: "inbox message",
                len: body.len(),
                max: MAX_DROP_BODY,
            }),
            InboxMessage::Drop { body, .. } if body.trim().is_empty() => Err(Error::Decode {
                object: "inbox message",
                reason: "empty",
            }),
            _ => Ok(()),
        }
    }
}

/// Encode a message of the inbox exchange.
pub fn encode(msg: &InboxMessage) -> Result<Vec<u8>, Error> {
    msg.validate()?;
    let out = postcard::to_extend(msg, vec![CURRENT_VERSION]).map_err(|_| Error::Decode {
        object: "inbox message",
        reason: "cannot encode",
    })?;
    if out.len() > MAX_INBOX_MESSAGE {
        return Err(Error::TooLarge {
            object: "inbox message",
            len: out.len(),
            max: MAX_INBOX_MESSAGE,
        });
    }
    Ok(out)
}

/// Decode a received message of the inbox exchange.
pub fn decode(bytes: &[u8]) -> Result<InboxMessage, Error> {
    if bytes.len() > MAX_INBOX_MESSAGE {
        return Err(Error::TooLarge {
            object: "inbox message",
            len: bytes.len(),
            max: MAX_INBOX_MESSAGE,
        });
    }
    let (&version, rest) = bytes.split_first().ok_or(Error::Decode {
        object: "inbox message",
        reason: "empty",
    })?;
    if !SUPPORTED_VERSIONS.contains(&version) {
        return Err(Error::UnsupportedVersion {
            object: "inbox message",
            version,
        });
    }
    let msg: InboxMessage = crate::wire::decode_exact("inbox message", rest)?;
    msg.validate()?;
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drop(body: &str, reply: Option<ReplyTo>) -> InboxMessage {
        InboxMessage::Drop {
            body: body.into(),
            reply,
        }
    }

    #[test]
    fn round_trips_and_limits() {
        let reply = ReplyTo {
            kind: ReplyKind::Inbox,
            key: [7; 32],
            tcp: Some("127.0.0.1:9".parse().unwrap()),
        };
        for m in [
            drop("hello ✊", None),
            drop("x", Some(reply)),
            drop(&"a".repeat(MAX_DROP_BODY), Some(reply)),
            InboxMessage::Answer(DropAnswer::Stored),
            InboxMessage::Answer(DropAnswer::Busy),
        ] {
            assert_eq!(decode(&encode(&m).unwrap()).unwrap(), m);
        }
        let err = encode(&drop(&"a".repeat(MAX_DROP_BODY + 1), None)).unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
        assert!(encode(&drop("  ", None)).is_err());
        // Trailing bytes, unknown versions and tags are refused.
        let mut b = encode(&drop("hi", None)).unwrap();
        b.push(0);
        assert!(decode(&b).is_err());
        assert!(matches!(
            decode(&[2, 1, 0]),
            Err(Error::UnsupportedVersion { .. })
        ));
        assert!(decode(&[1, 9]).is_err());
        assert!(decode(&[]).is_err());
        // An oversized body is refused on receipt too.
        let big =
            postcard::to_extend(&drop(&"a".repeat(MAX_DROP_BODY + 1), None), vec![1]).unwrap();
        assert!(decode(&big).is_err());
    }

    #[test]
    fn vectors_from_docs() {
        #[derive(serde::Deserialize)]
        struct V {
            name: String,
            hex: String,
        }
        let vs: Vec<V> =
            serde_json::from_str(include_str!("../../../docs/vectors/inbox.json")).unwrap();
        assert_eq!(vs.len(), 5);
        for v in vs {
            let m = match v.name.as_str() {
                "drop" => drop("hi", None),
                "drop_reply_inbox" => drop(
                    "hi",
                    Some(ReplyTo {
                        kind: ReplyKind::Inbox,
                        key: [0x0a; 32],
                        tcp: None,
                    }),
                ),
                "answer_stored" => InboxMessage::Answer(DropAnswer::Stored),
                "answer_full" => InboxMessage::Answer(DropAnswer::Full),
                "answer_busy" => InboxMessage::Answer(DropAnswer::Busy),
                other => panic!("unknown vector {other}"),
            };
            let hex = data_encoding::HEXLOWER.encode(&encode(&m).unwrap());
            assert_eq!(hex, v.hex, "{}", v.name);
            assert_eq!(
                decode(&data_encoding::HEXLOWER.decode(v.hex.as_bytes()).unwrap()).unwrap(),
                m
            );
        }
    }
}
