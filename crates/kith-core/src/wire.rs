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
pub use crate::chat::{Chat, DisappearSetting, DisappearTimer, Edit, Emoji, Reaction};
use crate::clock::Timestamp;
pub use crate::file::{FileChunk, FileName, FileOffer, FileStatus};
use crate::intro::IntroductionMessage;
pub use crate::limits::{MAX_ACK_IDS, MAX_BODY, MAX_MESSAGE};
use crate::limits::{MAX_CHUNKS, MAX_DELETE_IDS, MAX_DISPLAY_NAME};
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

    /// Parse [`MessageId::to_hex`]'s form (32 hex digits, either case), as
    /// commands take it (`--reply-to ID`).
    pub fn parse_hex(s: &str) -> Option<Self> {
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.trim().as_bytes())
            .ok()?;
        Some(MessageId(bytes.try_into().ok()?))
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
    /// A chat message that may answer another and carries the sender's
    /// disappearing timer (`docs/protocol.md` § 12). A receiver handles a
    /// `Text` as a `Chat` without reply, timer off.
    Chat(Chat),
    /// A reaction to a message, or its withdrawal (§ 12). Acknowledged by
    /// `Ack(id)`.
    Reaction(Reaction),
    /// "Delete these messages of mine on your side too" (§ 12): the
    /// receiver deletes those of the listed messages the sender wrote, and
    /// answers [`PeerMessage::DeleteAck`].
    Delete {
        /// The messages, 1 to [`MAX_DELETE_IDS`].
        targets: Vec<MessageId>,
    },
    /// The answer to [`PeerMessage::Delete`]: these are gone here (or were
    /// never here); the sender stops asking.
    DeleteAck {
        /// The ids of the `Delete`, 1 to [`MAX_DELETE_IDS`].
        targets: Vec<MessageId>,
    },
    /// The conversation's disappearing timer changed (§ 12). Acknowledged
    /// by `Ack(id)`.
    Disappear(DisappearSetting),
    /// A file on offer (§ 13). Acknowledged by `Ack(id)` once stored.
    FileOffer(FileOffer),
    /// One chunk of a file (§ 13).
    FileChunk(FileChunk),
    /// Receiver → sender: "send the chunks of `file` from index `from`"
    /// (§ 13): accepting an offer (`from` 0), and resuming after a cut.
    FileResume {
        /// The file.
        file: MessageId,
        /// The first chunk wanted: every one before it is stored.
        from: u32,
    },
    /// Receiver → sender: the file is received (hash checked), refused, or
    /// was corrupt (§ 13).
    FileDone {
        /// The file.
        file: MessageId,
        /// What became of it.
        status: FileStatus,
    },
    /// A new text for one of the sender's messages (§ 12). Acknowledged by
    /// `Ack(id)`.
    Edit(Edit),
    /// The creator invites the receiver to a private group (§ 15).
    /// Acknowledged by `Ack(id)`.
    GroupInvite(crate::group::GroupInvite),
    /// The invitee's answer to a [`PeerMessage::GroupInvite`] (§ 15).
    /// Acknowledged by `Ack(id)`.
    GroupAnswer {
        /// The answer's id (for `Ack`).
        id: MessageId,
        /// The group.
        group: crate::group::GroupId,
        /// Whether the invitee joins.
        accept: bool,
    },
    /// One frame of a group sync (`kith-sync`, § 14.4).
    GroupSync {
        /// Whether the sender opened this exchange: each side may open one
        /// per group, and a frame belongs to the exchange its opener flag
        /// names.
        opener: bool,
        /// The frame, at most [`crate::group::MAX_SYNC_FRAME`] bytes.
        #[serde(with = "serde_bytes")]
        frame: Vec<u8>,
    },
    /// "We are both members of this group and contacts: sync it with me
    /// directly" (§ 15), sent by a member to a contact who is a member.
    /// Acknowledged by `Ack(id)`.
    GroupReveal {
        /// The reveal's id (for `Ack`).
        id: MessageId,
        /// The group.
        group: crate::group::GroupId,
    },
    /// "I am going offline" (§ 6), sent by a node that goes offline on
    /// purpose, just before it closes the session. The receiver stops
    /// dialing the sender in the background until the sender dials it
    /// again (or something waits to be delivered): each dial to a node
    /// that is not there costs a descriptor lookup. Carries nothing.
    Goodbye,
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
            PeerMessage::Chat(c) => write!(
                f,
                "Chat({:?}, {} bytes, reply: {}, {:?})",
                c.id,
                c.body.len(),
                c.reply_to.is_some(),
                c.disappear
            ),
            PeerMessage::Reaction(r) => write!(f, "Reaction({:?})", r.id),
            PeerMessage::Delete { targets } => write!(f, "Delete({} ids)", targets.len()),
            PeerMessage::DeleteAck { targets } => write!(f, "DeleteAck({} ids)", targets.len()),
            PeerMessage::Disappear(d) => write!(f, "Disappear({:?}, {:?})", d.id, d.timer),
            PeerMessage::FileOffer(o) => {
                write!(f, "FileOffer({:?}, {} chunks)", o.id, o.chunk_count())
            }
            PeerMessage::FileChunk(c) => write!(
                f,
                "FileChunk({:?}, {}, {} bytes)",
                c.file,
                c.index,
                c.data.len()
            ),
            PeerMessage::FileResume { file, from } => write!(f, "FileResume({file:?}, {from})"),
            PeerMessage::FileDone { file, status } => write!(f, "FileDone({file:?}, {status:?})"),
            PeerMessage::Edit(e) => write!(f, "Edit({:?}, {} bytes)", e.id, e.body.len()),
            PeerMessage::GroupInvite(i) => write!(f, "{i:?}"),
            PeerMessage::GroupAnswer { id, accept, .. } => {
                write!(f, "GroupAnswer({id:?}, {accept})")
            }
            PeerMessage::GroupSync { opener, frame } => {
                write!(f, "GroupSync({opener}, {} bytes)", frame.len())
            }
            PeerMessage::GroupReveal { id, .. } => write!(f, "GroupReveal({id:?})"),
            PeerMessage::Goodbye => f.write_str("Goodbye"),
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
            PeerMessage::Keepalive
            | PeerMessage::Goodbye
            | PeerMessage::Meet(_)
            | PeerMessage::Reach(_) => Ok(()),
            PeerMessage::Introduction(m) => m.validate(),
            PeerMessage::Chat(c) => check("message body", c.body.len(), MAX_BODY),
            // Its emoji is valid by construction.
            PeerMessage::Reaction(_) | PeerMessage::Disappear(_) => Ok(()),
            PeerMessage::Delete { targets } | PeerMessage::DeleteAck { targets } => {
                check("delete", targets.len(), MAX_DELETE_IDS)?;
                if targets.is_empty() {
                    return Err(Error::Decode {
                        object: "delete",
                        reason: "empty",
                    });
                }
                Ok(())
            }
            PeerMessage::FileOffer(o) => o.validate(),
            PeerMessage::FileChunk(c) => c.validate(),
            PeerMessage::FileResume { from, .. } => {
                if *from > MAX_CHUNKS {
                    return Err(Error::Decode {
                        object: "file resume",
                        reason: "index past the largest file",
                    });
                }
                Ok(())
            }
            PeerMessage::FileDone { .. } => Ok(()),
            PeerMessage::GroupInvite(i) => check(
                "group invitation",
                i.create.len(),
                crate::group::MAX_GROUP_MESSAGE,
            ),
            PeerMessage::GroupAnswer { .. } | PeerMessage::GroupReveal { .. } => Ok(()),
            PeerMessage::GroupSync { frame, .. } => check(
                "group sync frame",
                frame.len(),
                crate::group::MAX_SYNC_FRAME,
            ),
            PeerMessage::Edit(e) => {
                check("message body", e.body.len(), MAX_BODY)?;
                if e.body.is_empty() {
                    return Err(Error::Decode {
                        object: "edit",
                        reason: "empty",
                    });
                }
                Ok(())
            }
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

    const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn offer() -> FileOffer {
        FileOffer {
            id: MessageId([0x0c; 16]),
            sent_at: Timestamp(1_700_000_000_000),
            name: FileName::sanitize("a.txt").unwrap(),
            size: 5,
            sha256: hex::decode(HELLO_SHA256).unwrap().try_into().unwrap(),
            chunk_size: crate::limits::DEFAULT_CHUNK,
            disappear: DisappearTimer::Off,
        }
    }

    /// The vectors of `docs/protocol.md` §§ 12–13, by name.
    fn conversation_vector(name: &str) -> Option<PeerMessage> {
        let chat = |reply_to, disappear| {
            PeerMessage::Chat(Chat {
                id: MessageId([9; 16]),
                sent_at: Timestamp(1_700_000_000_000),
                body: "hi".into(),
                reply_to,
                disappear,
            })
        };
        let file = MessageId([0x0c; 16]);
        Some(match name {
            "chat" => chat(None, DisappearTimer::Off),
            "chat_reply" => chat(Some(MessageId([8; 16])), DisappearTimer::SevenDays),
            "reaction" => PeerMessage::Reaction(Reaction {
                id: MessageId([0x0a; 16]),
                target: MessageId([9; 16]),
                emoji: Some(Emoji::new("👍").unwrap()),
            }),
            "reaction_removed" => PeerMessage::Reaction(Reaction {
                id: MessageId([0x0a; 16]),
                target: MessageId([9; 16]),
                emoji: None,
            }),
            "delete" => PeerMessage::Delete {
                targets: vec![MessageId([9; 16])],
            },
            "delete_ack" => PeerMessage::DeleteAck {
                targets: vec![MessageId([9; 16])],
            },
            "disappear" => PeerMessage::Disappear(DisappearSetting {
                id: MessageId([0x0b; 16]),
                set_at: Timestamp(1_700_000_000_000),
                timer: DisappearTimer::OneHour,
            }),
            "file_offer" => PeerMessage::FileOffer(offer()),
            "file_chunk" => PeerMessage::FileChunk(FileChunk {
                file,
                index: 0,
                data: b"hello".to_vec(),
            }),
            "file_resume" => PeerMessage::FileResume { file, from: 0 },
            "file_done" => PeerMessage::FileDone {
                file,
                status: FileStatus::Received,
            },
            "file_done_unavailable" => PeerMessage::FileDone {
                file,
                status: FileStatus::Unavailable,
            },
            "group_answer" => PeerMessage::GroupAnswer {
                id: MessageId([0x0e; 16]),
                group: crate::group::GroupId([7; 32]),
                accept: true,
            },
            "group_sync" => PeerMessage::GroupSync {
                opener: true,
                frame: vec![1, 2, 3],
            },
            "group_reveal" => PeerMessage::GroupReveal {
                id: MessageId([0x0f; 16]),
                group: crate::group::GroupId([7; 32]),
            },
            "edit" => PeerMessage::Edit(Edit {
                id: MessageId([0x0d; 16]),
                target: MessageId([9; 16]),
                edited_at: Timestamp(1_700_000_000_000),
                body: "hi!".into(),
            }),
            _ => return None,
        })
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
            "goodbye" => PeerMessage::Goodbye,
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
            other => conversation_vector(other).unwrap_or_else(|| panic!("unknown vector {other}")),
        };
        for v in vs {
            let bytes = hex::decode(&v.hex).unwrap();
            assert_eq!(decode(&bytes).unwrap(), expected(&v.name), "{}", v.name);
            assert_eq!(encode(&expected(&v.name)).unwrap(), bytes, "{}", v.name);
        }
    }

    /// The bytes in `docs/protocol.md`'s vector tables (`| name | message |
    /// `01 02 09×16 …` |`) are those of `docs/vectors/wire.json`, which
    /// the encoder makes (`vectors_from_docs`).
    #[test]
    fn vector_tables_in_protocol_md_match_the_encoder() {
        #[derive(serde::Deserialize)]
        struct V {
            name: String,
            hex: String,
        }
        let vs: Vec<V> =
            serde_json::from_str(include_str!("../../../docs/vectors/wire.json")).unwrap();
        let doc = include_str!("../../../docs/protocol.md");
        // `09×16` is sixteen 09s; anything else is hex.
        let expand = |cell: &str| -> Option<String> {
            let mut out = String::new();
            for tok in cell.split_whitespace() {
                match tok.split_once('×') {
                    Some((b, n)) => out.push_str(&b.repeat(n.parse().ok()?)),
                    None => out.push_str(tok),
                }
            }
            out.bytes().all(|b| b.is_ascii_hexdigit()).then_some(out)
        };
        let mut checked = vec![];
        for line in doc.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let [_, name, _, bytes, _] = cells[..] else {
                continue;
            };
            let Some(v) = vs.iter().find(|v| v.name == name) else {
                continue;
            };
            let Some(hex) = bytes
                .strip_prefix('`')
                .and_then(|b| b.strip_suffix('`'))
                .and_then(expand)
            else {
                continue;
            };
            assert_eq!(hex, v.hex, "{name}: protocol.md differs from wire.json");
            if let Some(m) = conversation_vector(name) {
                assert_eq!(hex::encode(encode(&m).unwrap()), hex, "{name}");
            }
            checked.push(name);
        }
        for n in CONVERSATION_VECTORS
            .iter()
            .chain(&["text", "introduction_link"])
        {
            assert!(checked.contains(n), "{n} has no row in protocol.md");
        }
    }

    const CONVERSATION_VECTORS: [&str; 13] = [
        "chat",
        "chat_reply",
        "reaction",
        "reaction_removed",
        "delete",
        "delete_ack",
        "disappear",
        "file_offer",
        "file_chunk",
        "file_resume",
        "file_done",
        "file_done_unavailable",
        "edit",
    ];

    #[test]
    fn conversation_messages_round_trip() {
        for n in CONVERSATION_VECTORS {
            let m = conversation_vector(n).unwrap();
            assert_eq!(decode(&encode(&m).unwrap()).unwrap(), m, "{n}");
        }
        for timer in DisappearTimer::ALL {
            let m = PeerMessage::Disappear(DisappearSetting {
                id: MessageId([1; 16]),
                set_at: Timestamp(u64::MAX),
                timer,
            });
            assert_eq!(decode(&encode(&m).unwrap()).unwrap(), m);
        }
        for status in [
            FileStatus::Received,
            FileStatus::Refused,
            FileStatus::Corrupt,
        ] {
            let m = PeerMessage::FileDone {
                file: MessageId([1; 16]),
                status,
            };
            assert_eq!(decode(&encode(&m).unwrap()).unwrap(), m);
        }
        // An old peer's Text still decodes, as before.
        assert_eq!(
            decode(&hex::decode("01020909090909090909090909090909090980d095ffbc31026869").unwrap())
                .unwrap(),
            text("hi")
        );
    }

    /// A vector's bytes with `from..to` replaced by `with`.
    fn patched(name: &str, from: usize, to: usize, with: &[u8]) -> Vec<u8> {
        let mut b = encode(&conversation_vector(name).unwrap()).unwrap();
        b.splice(from..to, with.iter().copied());
        b
    }

    #[test]
    fn hostile_conversation_messages() {
        let malformed = |b: &[u8]| {
            assert!(
                matches!(
                    decode(b),
                    Err(Error::Decode { .. } | Error::TooLarge { .. })
                ),
                "{}",
                hex::encode(b)
            )
        };
        // The vectors' layout, as the tests below patch it.
        let disappear = encode(&conversation_vector("disappear").unwrap()).unwrap();
        assert_eq!(&disappear[24..], &[0x90, 0x1c]); // 3600
        // Timers other than the six: 1 s, 2 h, u32::MAX, over u32.
        for bad in [
            &[1_u8][..],
            &[0xa0, 0x38],
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0x80, 0x80, 0x80, 0x80, 0x10],
        ] {
            malformed(&patched("disappear", 24, 26, bad));
            // And in a chat (its last field).
            let chat = encode(&conversation_vector("chat").unwrap()).unwrap();
            malformed(&patched("chat", chat.len() - 1, chat.len(), bad));
        }
        // Reactions that are not an emoji: text, a control, empty, too long.
        let emoji_at = 2 + 16 + 16 + 1; // after version, tag, id, target, Some
        for bad in [&b"\x02ok"[..], b"\x01\x1b", b"\x00", b"\x03a\xcc\x81"] {
            malformed(&patched("reaction", emoji_at, emoji_at + 5, bad));
        }
        let mut long = vec![52];
        long.extend("👍".repeat(13).bytes());
        malformed(&patched("reaction", emoji_at, emoji_at + 5, &long));
        // Deletes: none, too many (65 ids), a count that lies.
        for tag in [10_u8, 11] {
            malformed(&[1, tag, 0]);
            let mut many = vec![1, tag, 65];
            many.extend(std::iter::repeat_n(9, 65 * 16));
            malformed(&many);
            let mut lying = vec![1, tag, 64];
            lying.extend([9; 16]);
            malformed(&lying);
        }
        assert!(matches!(
            encode(&PeerMessage::Delete {
                targets: vec![MessageId([0; 16]); MAX_DELETE_IDS + 1]
            }),
            Err(Error::TooLarge { .. })
        ));
        assert!(encode(&PeerMessage::DeleteAck { targets: vec![] }).is_err());
        // File names: a path, a hidden file, a control, a bidi override.
        let offer_bytes = encode(&conversation_vector("file_offer").unwrap()).unwrap();
        let name_at = 2 + 16 + 6; // after version, tag, id, sent_at
        assert_eq!(&offer_bytes[name_at..name_at + 6], b"\x05a.txt");
        for bad in [
            "../x",
            "a/b",
            ".ssh",
            "a\x07b",
            "\u{202E}txt.exe",
            "..",
            "",
            "CON",
            "x ",
        ] {
            let mut with = vec![u8::try_from(bad.len()).unwrap()];
            with.extend(bad.bytes());
            malformed(&patched("file_offer", name_at, name_at + 6, &with));
        }
        let mut long_name = vec![0x80, 0x02]; // 256 bytes
        long_name.extend(std::iter::repeat_n(b'x', 256));
        malformed(&patched("file_offer", name_at, name_at + 6, &long_name));
        // A size over the limit (MAX_FILE_SIZE + 1 = 0x640_0001), a chunk
        // size out of range.
        let size_at = name_at + 6;
        assert_eq!(offer_bytes[size_at], 5);
        assert_eq!(crate::limits::MAX_FILE_SIZE + 1, 0x640_0001);
        malformed(&patched(
            "file_offer",
            size_at,
            size_at + 1,
            &[0x81, 0x80, 0x80, 0x32],
        ));
        let mut huge = offer();
        huge.size = u64::MAX;
        assert!(matches!(
            encode(&PeerMessage::FileOffer(huge)),
            Err(Error::TooLarge { object: "file", .. })
        ));
        let cs_at = size_at + 1 + 32;
        assert_eq!(&offer_bytes[cs_at..cs_at + 2], &[0xc0, 0x7f]); // 16 320
        for bad in [&[0_u8][..], &[0xff, 0x07], &[0x81, 0x80, 0x02]] {
            malformed(&patched("file_offer", cs_at, cs_at + 2, bad));
        }
        // Chunks: empty, over MAX_CHUNK, a length prefix claiming more than
        // is there, an index past the largest file.
        let data_at = 2 + 16 + 1;
        malformed(&patched("file_chunk", data_at, data_at + 6, &[0]));
        let mut big = vec![0x81, 0x80, 0x02]; // 32 769 bytes
        big.extend(std::iter::repeat_n(7, 32_769));
        malformed(&patched("file_chunk", data_at, data_at + 6, &big));
        malformed(&patched(
            "file_chunk",
            data_at,
            data_at + 6,
            &[0xff, 0xff, 0x01, 1, 2],
        ));
        malformed(&patched("file_chunk", 18, 19, &[0x80, 0x80, 0x80, 0x01]));
        // An edit to nothing, or longer than any message.
        let body_at = 2 + 16 + 16 + 6; // after version, tag, id, target, edited_at
        malformed(&patched("edit", body_at, body_at + 4, &[0]));
        let mut long = vec![0x81, 0x80, 0x02]; // 32 769 bytes
        long.extend(std::iter::repeat_n(b'a', 32_769));
        assert!(decode(&patched("edit", body_at, body_at + 4, &long)).is_err());
        assert!(matches!(
            encode(&PeerMessage::FileChunk(FileChunk {
                file: MessageId([0; 16]),
                index: 0,
                data: vec![0; crate::limits::MAX_CHUNK as usize + 1],
            })),
            Err(Error::TooLarge { .. })
        ));
        malformed(&patched("file_resume", 18, 19, &[0x81, 0x80, 0x80, 0x01]));
        // Unknown file status.
        malformed(&patched("file_done", 18, 19, &[4]));
        // Truncations and trailing bytes of every new message fail.
        for n in CONVERSATION_VECTORS {
            let b = encode(&conversation_vector(n).unwrap()).unwrap();
            for cut in 1..b.len() {
                assert!(decode(&b[..cut]).is_err(), "{n} cut at {cut}");
            }
            let mut t = b.clone();
            t.push(0);
            assert!(decode(&t).is_err(), "{n} with a trailing byte");
        }
    }

    #[test]
    fn largest_conversation_messages_fit() {
        use crate::limits::{
            CHAT_OVERHEAD, CHUNK_OVERHEAD, DEFAULT_CHUNK, DELETE_OVERHEAD, FILE_OFFER_OVERHEAD,
            MAX_CHUNK, MAX_FILE_NAME, MAX_REACTION, REACTION_OVERHEAD,
        };
        let chat = PeerMessage::Chat(Chat {
            id: MessageId([0xff; 16]),
            sent_at: Timestamp(u64::MAX),
            body: "é".repeat(MAX_BODY / 2),
            reply_to: Some(MessageId([0xff; 16])),
            disappear: DisappearTimer::ThirtyDays,
        });
        let reaction = PeerMessage::Reaction(Reaction {
            id: MessageId([0xff; 16]),
            target: MessageId([0xff; 16]),
            emoji: Some(Emoji::new(&"👍".repeat(12)).unwrap()),
        });
        let delete = PeerMessage::Delete {
            targets: vec![MessageId([0xff; 16]); MAX_DELETE_IDS],
        };
        let mut o = offer();
        o.id = MessageId([0xff; 16]);
        o.sent_at = Timestamp(u64::MAX);
        o.name = FileName::sanitize(&"é".repeat(MAX_FILE_NAME)).unwrap();
        o.size = crate::limits::MAX_FILE_SIZE;
        o.chunk_size = MAX_CHUNK;
        o.disappear = DisappearTimer::ThirtyDays;
        assert!(o.name.as_str().len() >= MAX_FILE_NAME - 1);
        let chunk = |len: u32| {
            PeerMessage::FileChunk(FileChunk {
                file: MessageId([0xff; 16]),
                index: MAX_CHUNKS - 1,
                data: vec![0xff; len as usize],
            })
        };
        let edit = PeerMessage::Edit(Edit {
            id: MessageId([0xff; 16]),
            target: MessageId([0xff; 16]),
            edited_at: Timestamp(u64::MAX),
            body: "é".repeat(MAX_BODY / 2),
        });
        for (m, most) in [
            (chat, MAX_BODY + CHAT_OVERHEAD),
            (edit, MAX_BODY + crate::limits::EDIT_OVERHEAD),
            (reaction, MAX_REACTION + REACTION_OVERHEAD),
            (delete, MAX_DELETE_IDS * 16 + DELETE_OVERHEAD),
            (
                PeerMessage::FileOffer(o),
                MAX_FILE_NAME + FILE_OFFER_OVERHEAD,
            ),
            (chunk(MAX_CHUNK), MAX_CHUNK as usize + CHUNK_OVERHEAD),
            (
                chunk(DEFAULT_CHUNK),
                DEFAULT_CHUNK as usize + CHUNK_OVERHEAD,
            ),
        ] {
            let bytes = encode(&m).unwrap();
            assert!(bytes.len() <= most, "{m:?}: {} > {most}", bytes.len());
            assert_eq!(decode(&bytes).unwrap(), m);
        }
    }

    #[test]
    fn message_ids_parse() {
        let id = MessageId([0xab; 16]);
        assert_eq!(MessageId::parse_hex(&id.to_hex()), Some(id));
        assert_eq!(MessageId::parse_hex(&"AB".repeat(16)), Some(id));
        assert_eq!(MessageId::parse_hex("abab"), None);
        assert_eq!(MessageId::parse_hex(&"zz".repeat(16)), None);
    }

    #[test]
    fn debug_hides_conversation_content() {
        let all = format!(
            "{:?} {:?} {:?}",
            conversation_vector("chat_reply").unwrap(),
            conversation_vector("reaction").unwrap(),
            conversation_vector("file_offer").unwrap()
        );
        for bad in ["hi", "👍", "a.txt", "2cf2"] {
            assert!(!all.contains(bad), "{bad} in {all}");
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
