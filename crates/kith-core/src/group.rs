//! Private groups: the signed messages members relay to each other
//! (`docs/protocol.md` § 14).
//!
//! A group message is written and signed by its author and carried by any
//! member: a relayer cannot forge or alter it. Each author's messages form a
//! chain: message `seq` names the id(s) of the author's previous message(s),
//! so a replica can tell that something is missing and ask for it
//! (`kith-sync`).
//!
//! Layout of one encoded message:
//! `version: u8 ‖ postcard(GroupContent) ‖ signature: [u8; 64]`, where the
//! signature is the author's ed25519 signature (strict verification) over
//! `SIGNATURE_CONTEXT ‖ version ‖ postcard(GroupContent)`, and the message id
//! is `SHA-256(ID_CONTEXT ‖ whole encoding)`. A [`GroupMessage`] value exists
//! only signed by us or decoded and verified: holding one means its
//! signature, bounds and chain shape have been checked.

use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::clock::Timestamp;
use crate::identity::{IdentityKey, IdentityKeypair};
use crate::limits::MAX_DISPLAY_NAME;

/// Group message versions this build speaks, newest last.
///
/// REMOVING ELEMENTS FROM THIS LIST BREAKS OLDER PEERS.
pub const SUPPORTED_VERSIONS: &[u8] = &[1];
/// The version we write.
pub const CURRENT_VERSION: u8 = 1;

/// Prefix of the signed bytes (domain separation from every other signature
/// made with an identity key).
pub const SIGNATURE_CONTEXT: &[u8] = b"kith group message v1\0";
/// Prefix of the hashed bytes that give a message its id.
pub const ID_CONTEXT: &[u8] = b"kith group message id v1\0";
/// Prefix of the hashed bytes that give a profile's blog its id
/// ([`GroupId::blog_of`]).
pub const BLOG_ID_CONTEXT: &[u8] = b"kith blog id v1\0";

/// Largest encoded group message, in bytes (with its signature). Small
/// enough that a batch of them fits a peer message. A blog's
/// [`GroupBody::Reblog`] carries a whole post within this bound too: a
/// reblog of the largest post leaves room for a few KiB of its own text
/// (`docs/protocol.md` § 17).
pub const MAX_GROUP_MESSAGE: usize = 12 * 1024;
/// Longest text of a post, in bytes of UTF-8.
pub const MAX_GROUP_TEXT: usize = 8 * 1024;
/// Longest group name, in bytes of UTF-8 (a display name's limit).
pub const MAX_GROUP_NAME: usize = MAX_DISPLAY_NAME;
/// Longest group description, in bytes of UTF-8.
pub const MAX_GROUP_DESCRIPTION: usize = 512;
/// Latest timestamp a message may carry (2^53 ms, about the year 287 000):
/// keeps the reconciliation's time deltas far from overflow.
pub const MAX_GROUP_TIMESTAMP: u64 = 1 << 53;
/// Most previous-message ids one message may name (more than one only
/// where the author's own devices forked the chain).
pub const MAX_GROUP_PREVIOUS: usize = 4;
/// Most authors a forum creator's hidden list names
/// ([`GroupBody::Hidden`]): 256 keys fit a message with room to spare.
pub const MAX_HIDDEN: usize = 256;

/// What a group's first message makes it: a private group (`Create`), a
/// forum (`CreateForum`) or a profile's blog (`CreateBlog`). The same
/// signed, relayed, reconciled messages; a different membership and sync
/// policy (`docs/protocol.md` §§ 15, 16, 17).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupKind {
    /// A private group: only its creator adds and removes members.
    Group,
    /// A forum: any member invites its contacts; nobody removes.
    Forum,
    /// A profile's blog: its owner posts and reblogs, its contacts
    /// comment; its id is derived from the owner's key.
    Blog,
}

/// A group's id: 32 random bytes chosen by its creator.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupId(pub [u8; 32]);

impl GroupId {
    /// A fresh random id.
    pub fn random<R: rand_core::CryptoRngCore + ?Sized>(rng: &mut R) -> Self {
        let mut b = [0_u8; 32];
        rng.fill_bytes(&mut b);
        GroupId(b)
    }

    /// The id of the blog of the profile whose identity key is `owner`:
    /// `SHA-256(BLOG_ID_CONTEXT ‖ owner)`. Every contact knows it without
    /// an invitation, and a blog's `CreateBlog` is valid only in the blog
    /// of its author, so nobody else can open it.
    pub fn blog_of(owner: &[u8; 32]) -> Self {
        let mut h = Sha256::new();
        h.update(BLOG_ID_CONTEXT);
        h.update(owner);
        GroupId(h.finalize().into())
    }

    /// Lowercase hex, as shown to scripts.
    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }
}

impl std::fmt::Debug for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GroupId({}..)", &self.to_hex()[..8])
    }
}

/// A group message's id: the hash of its signed encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupMessageId(pub [u8; 32]);

impl GroupMessageId {
    /// The id of a message's signed encoding (whether or not it verifies):
    /// lets a replica skip what it has before checking any signature.
    pub fn of(encoded: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(ID_CONTEXT);
        h.update(encoded);
        GroupMessageId(h.finalize().into())
    }

    /// Lowercase hex, as shown to scripts.
    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }
}

impl std::fmt::Debug for GroupMessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GroupMessageId({}..)", &self.to_hex()[..16])
    }
}

/// What a group message says. Tags are postcard's, by position: never
/// reorder; add new kinds at the end.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum GroupBody {
    /// The creator's first message: the group's name and description.
    Create {
        /// 1–[`MAX_GROUP_NAME`] bytes, not only white space.
        name: String,
        /// At most [`MAX_GROUP_DESCRIPTION`] bytes.
        description: String,
    },
    /// A text post (a reply when the message has a parent).
    Post {
        /// 1–[`MAX_GROUP_TEXT`] bytes, not only white space.
        text: String,
    },
    /// The author adds a member (an invitation that was accepted).
    Add {
        /// The member's identity key.
        member: [u8; 32],
    },
    /// The author removes a member: later messages are not sent to them.
    Remove {
        /// The member's identity key.
        member: [u8; 32],
    },
    /// The author leaves the group (the creator's `Leave` dissolves it).
    Leave,
    /// The author's reaction to a message of the group, replacing its
    /// previous one to it; `None` takes it back.
    React {
        /// The message reacted to.
        target: GroupMessageId,
        /// The emoji (valid by construction), or `None`.
        emoji: Option<crate::chat::Emoji>,
    },
    /// A forum creator's first message: the forum's name and description
    /// (a forum, not a private group, `docs/protocol.md` § 16).
    CreateForum {
        /// 1–[`MAX_GROUP_NAME`] bytes, not only white space.
        name: String,
        /// At most [`MAX_GROUP_DESCRIPTION`] bytes.
        description: String,
    },
    /// A forum creator's list of authors whose posts members' apps hide;
    /// the creator's list with the greatest `seq` is in force (it replaces
    /// the earlier ones whole).
    Hidden {
        /// At most [`MAX_HIDDEN`] identity keys (valid points), strictly
        /// ascending.
        authors: Vec<[u8; 32]>,
    },
    /// A blog owner's first message (`docs/protocol.md` § 17): only at
    /// `seq` 0, in the group [`GroupId::blog_of`] its author.
    CreateBlog,
    /// A blog owner passes on another blog's post: the whole signed post,
    /// still verifiable as its author's, with the owner's own words.
    /// Only in its author's own blog, without a parent.
    Reblog {
        /// The original's signed encoding: a top-level `Post` (no parent)
        /// in the blog of its author ([`GroupId::blog_of`]), not the
        /// reblog's own blog. A reblog is never the original of another
        /// (it is not a `Post`): one level deep.
        #[serde(with = "serde_bytes")]
        original: Vec<u8>,
        /// At most [`MAX_GROUP_TEXT`] bytes; may be empty.
        text: String,
    },
}

impl GroupBody {
    /// The kind of group this message opens, if it is a group's first
    /// message (`Create` or `CreateForum`).
    pub fn opens(&self) -> Option<GroupKind> {
        match self {
            GroupBody::Create { .. } => Some(GroupKind::Group),
            GroupBody::CreateForum { .. } => Some(GroupKind::Forum),
            GroupBody::CreateBlog => Some(GroupKind::Blog),
            _ => None,
        }
    }
}

impl std::fmt::Debug for GroupBody {
    // Never prints text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupBody::Create { name, description } => {
                write!(f, "Create({} + {} bytes)", name.len(), description.len())
            }
            GroupBody::Post { text } => write!(f, "Post({} bytes)", text.len()),
            GroupBody::Add { .. } => f.write_str("Add(..)"),
            GroupBody::Remove { .. } => f.write_str("Remove(..)"),
            GroupBody::Leave => f.write_str("Leave"),
            GroupBody::React { target, .. } => write!(f, "React({target:?})"),
            GroupBody::CreateForum { name, description } => {
                write!(
                    f,
                    "CreateForum({} + {} bytes)",
                    name.len(),
                    description.len()
                )
            }
            GroupBody::Hidden { authors } => write!(f, "Hidden({} authors)", authors.len()),
            GroupBody::CreateBlog => f.write_str("CreateBlog"),
            GroupBody::Reblog { original, text } => {
                write!(f, "Reblog({} + {} bytes)", original.len(), text.len())
            }
        }
    }
}

/// The signed part of a group message.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct GroupContent {
    /// The group it belongs to.
    pub group: GroupId,
    /// The author's identity key (a valid ed25519 point).
    pub author: [u8; 32],
    /// The author's sequence number in this group, from 0.
    pub seq: u64,
    /// The author's previous message(s) in this group: empty exactly for
    /// `seq` 0, otherwise 1–[`MAX_GROUP_PREVIOUS`] ids in ascending order.
    pub previous: Vec<GroupMessageId>,
    /// The message this one replies to, if any (any author's).
    pub parent: Option<GroupMessageId>,
    /// When the author wrote it, by the author's clock.
    pub timestamp: Timestamp,
    /// What it says.
    pub body: GroupBody,
}

impl GroupContent {
    /// The bounds and chain shape every message must have.
    fn validate(&self) -> Result<(), Error> {
        self.validate_in(false)
    }

    /// As [`Self::validate`]; `in_reblog` for a reblog's original, which
    /// must be a post: a `Reblog` there is refused before its own original
    /// is looked at, so a message of nested reblogs costs one level of
    /// decoding, not one per level.
    fn validate_in(&self, in_reblog: bool) -> Result<(), Error> {
        let bad = |reason| {
            Err(Error::Decode {
                object: "group message",
                reason,
            })
        };
        if self.timestamp.0 > MAX_GROUP_TIMESTAMP {
            return bad("timestamp out of range");
        }
        if (self.seq == 0) != self.previous.is_empty() {
            return bad("previous ids must be empty exactly at seq 0");
        }
        if self.previous.len() > MAX_GROUP_PREVIOUS {
            return Err(Error::TooLarge {
                object: "group message previous ids",
                len: self.previous.len(),
                max: MAX_GROUP_PREVIOUS,
            });
        }
        if self.previous.windows(2).any(|w| w[0] >= w[1]) {
            return bad("previous ids not strictly ascending");
        }
        let text = |s: &str, object, max, may_be_empty: bool| {
            if s.len() > max {
                Err(Error::TooLarge {
                    object,
                    len: s.len(),
                    max,
                })
            } else if !may_be_empty && s.trim().is_empty() {
                Err(Error::Decode {
                    object,
                    reason: "empty",
                })
            } else {
                Ok(())
            }
        };
        match &self.body {
            GroupBody::Create { name, description }
            | GroupBody::CreateForum { name, description } => {
                if self.seq != 0 {
                    return bad("create is not the author's first message");
                }
                // The author's blog id is its blog's alone: a group or
                // forum there would stand in for the blog.
                if self.group == GroupId::blog_of(&self.author) {
                    return bad("a group's id is its author's blog id");
                }
                text(name, "group name", MAX_GROUP_NAME, false)?;
                text(
                    description,
                    "group description",
                    MAX_GROUP_DESCRIPTION,
                    true,
                )
            }
            GroupBody::Post { text: t } => text(t, "group post", MAX_GROUP_TEXT, false),
            GroupBody::Add { member } | GroupBody::Remove { member } => {
                IdentityKey::from_bytes(member).map(|_| ())
            }
            GroupBody::Hidden { authors } => {
                if authors.len() > MAX_HIDDEN {
                    return Err(Error::TooLarge {
                        object: "forum hidden list",
                        len: authors.len(),
                        max: MAX_HIDDEN,
                    });
                }
                if authors.windows(2).any(|w| w[0] >= w[1]) {
                    return bad("hidden authors not strictly ascending");
                }
                authors
                    .iter()
                    .try_for_each(|a| IdentityKey::from_bytes(a).map(|_| ()))
            }
            GroupBody::CreateBlog => {
                if self.seq != 0 {
                    return bad("create is not the author's first message");
                }
                if self.group != GroupId::blog_of(&self.author) {
                    return bad("a blog's id is not its author's");
                }
                Ok(())
            }
            GroupBody::Reblog { original, text: t } => {
                if self.group != GroupId::blog_of(&self.author) {
                    return bad("a reblog is not in its author's blog");
                }
                if self.parent.is_some() {
                    return bad("a reblog has a parent");
                }
                if in_reblog {
                    return Err(Error::Decode {
                        object: "reblog original",
                        reason: "a reblog, not a post",
                    });
                }
                text(t, "reblog text", MAX_GROUP_TEXT, true)?;
                let original = GroupMessage::decode_in(original, true)?;
                Self::reblog_original(&original, self.group)
            }
            // The emoji is valid by construction.
            GroupBody::Leave | GroupBody::React { .. } => Ok(()),
        }
    }

    /// What a verified `original` must be to be reblogged into the blog
    /// `into`: a top-level post in its author's blog, another blog.
    fn reblog_original(original: &GroupMessage, into: GroupId) -> Result<(), Error> {
        let bad = |reason| {
            Err(Error::Decode {
                object: "reblog original",
                reason,
            })
        };
        let c = original.content();
        if !matches!(c.body, GroupBody::Post { .. }) {
            return bad("not a post");
        }
        if c.parent.is_some() {
            return bad("a comment, not a post");
        }
        if c.group != GroupId::blog_of(&c.author) {
            return bad("not in its author's blog");
        }
        if c.group == into {
            return bad("a post of the same blog");
        }
        Ok(())
    }

    fn encode_unsigned(&self) -> Result<Vec<u8>, Error> {
        postcard::to_extend(self, vec![CURRENT_VERSION]).map_err(|_| Error::Decode {
            object: "group message",
            reason: "cannot encode",
        })
    }
}

fn signed_input(unsigned: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_CONTEXT.len() + unsigned.len());
    m.extend_from_slice(SIGNATURE_CONTEXT);
    m.extend_from_slice(unsigned);
    m
}

fn message_id(encoded: &[u8]) -> GroupMessageId {
    GroupMessageId::of(encoded)
}

/// A signed group message whose signature, bounds and chain shape have been
/// checked. Made by [`GroupMessage::sign`] or [`GroupMessage::decode`].
#[derive(Clone, PartialEq, Eq)]
pub struct GroupMessage {
    content: GroupContent,
    author: IdentityKey,
    encoded: Vec<u8>,
    id: GroupMessageId,
}

impl std::fmt::Debug for GroupMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupMessage")
            .field("id", &self.id)
            .field("seq", &self.content.seq)
            .field("body", &self.content.body)
            .finish_non_exhaustive()
    }
}

impl GroupMessage {
    /// Sign `content` as `author`. The content's `author` field must be
    /// `author`'s public key.
    pub fn sign(author: &IdentityKeypair, content: GroupContent) -> Result<Self, Error> {
        let key = author.public();
        if content.author != key.to_bytes() {
            return Err(Error::Decode {
                object: "group message",
                reason: "author is not the signing key",
            });
        }
        content.validate()?;
        let mut encoded = content.encode_unsigned()?;
        let sig = author.sign(&signed_input(&encoded));
        encoded.extend_from_slice(&sig);
        if encoded.len() > MAX_GROUP_MESSAGE {
            return Err(Error::TooLarge {
                object: "group message",
                len: encoded.len(),
                max: MAX_GROUP_MESSAGE,
            });
        }
        let id = message_id(&encoded);
        Ok(GroupMessage {
            content,
            author: key,
            encoded,
            id,
        })
    }

    /// Decode and verify a message as relayed by anyone: size, version,
    /// canonical encoding, bounds, chain shape and the author's signature.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode_in(bytes, false)
    }

    /// As [`Self::decode`]; `in_reblog` when `bytes` are a reblog's
    /// original ([`GroupContent::validate_in`]).
    fn decode_in(bytes: &[u8], in_reblog: bool) -> Result<Self, Error> {
        if bytes.len() > MAX_GROUP_MESSAGE {
            return Err(Error::TooLarge {
                object: "group message",
                len: bytes.len(),
                max: MAX_GROUP_MESSAGE,
            });
        }
        let Some(unsigned_len) = bytes.len().checked_sub(64) else {
            return Err(Error::Decode {
                object: "group message",
                reason: "too short",
            });
        };
        let (unsigned, sig) = bytes.split_at(unsigned_len);
        let (&version, body) = unsigned.split_first().ok_or(Error::Decode {
            object: "group message",
            reason: "too short",
        })?;
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(Error::UnsupportedVersion {
                object: "group message",
                version,
            });
        }
        let content: GroupContent = crate::wire::decode_exact("group message", body)?;
        content.validate_in(in_reblog)?;
        // One message, one encoding: otherwise one signed message could be
        // relayed under several ids (postcard reads overlong varints).
        if content.encode_unsigned()? != unsigned {
            return Err(Error::Decode {
                object: "group message",
                reason: "not the canonical encoding",
            });
        }
        let author = IdentityKey::from_bytes(&content.author)?;
        let sig: [u8; 64] = sig.try_into().map_err(|_| Error::Decode {
            object: "group message",
            reason: "too short",
        })?;
        author
            .verifying_key()
            .verify_strict(&signed_input(unsigned), &Signature::from_bytes(&sig))
            .map_err(|_| Error::BadSignature)?;
        Ok(GroupMessage {
            content,
            author,
            encoded: bytes.to_vec(),
            id: message_id(bytes),
        })
    }

    /// The message's id.
    pub fn id(&self) -> GroupMessageId {
        self.id
    }

    /// The signed content.
    pub fn content(&self) -> &GroupContent {
        &self.content
    }

    /// The author (whose signature was checked).
    pub fn author(&self) -> IdentityKey {
        self.author
    }

    /// The whole signed encoding, as relayed.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    /// A reblog's original, verified when this message was (signature,
    /// bounds, a top-level post in another blog); `None` for any other
    /// message.
    pub fn reblog_original(&self) -> Option<GroupMessage> {
        match &self.content.body {
            // Checked by `validate` when this message was signed or
            // decoded: decoding again cannot fail.
            GroupBody::Reblog { original, .. } => GroupMessage::decode(original).ok(),
            _ => None,
        }
    }

    /// The author's signature.
    pub fn signature(&self) -> [u8; 64] {
        let mut s = [0_u8; 64];
        s.copy_from_slice(&self.encoded[self.encoded.len() - 64..]);
        s
    }
}

/// Largest sync frame carried in a [`crate::wire::PeerMessage::GroupSync`]
/// (`kith-sync`'s frames are bounded by it).
pub const MAX_SYNC_FRAME: usize = 40 * 1024;

/// A member invites a contact (tag 18): the group's first message,
/// signed by the creator, names the group and describes it. Only a private
/// group's creator invites to it; any member of a forum invites to the
/// forum. Acknowledged by `Ack(id)`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInvite {
    /// The invitation's id (for `Ack`).
    pub id: crate::wire::MessageId,
    /// The creator's `Create` or `CreateForum` message, as signed (checked
    /// by the receiver: [`GroupInvite::open`]).
    #[serde(with = "serde_bytes")]
    pub create: Vec<u8>,
}

impl std::fmt::Debug for GroupInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GroupInvite({:?}, {} bytes)", self.id, self.create.len())
    }
}

impl GroupInvite {
    /// The invitation's first message, verified: a `Create` signed by
    /// `from` (the contact who sent the invitation: only a private group's
    /// creator invites), or a `CreateForum` signed by anyone (the forum's
    /// creator, who need not be the member inviting).
    pub fn open(&self, from: &IdentityKey) -> Result<GroupMessage, Error> {
        let m = GroupMessage::decode(&self.create)?;
        let kind = m.content().body.opens().ok_or(Error::Decode {
            object: "group invitation",
            reason: "not a group's first message",
        })?;
        if kind == GroupKind::Blog {
            // A blog's id is known from its owner's key: nobody is invited.
            return Err(Error::Decode {
                object: "group invitation",
                reason: "a blog has no invitations",
            });
        }
        if kind == GroupKind::Group && m.author().to_bytes() != from.to_bytes() {
            return Err(Error::Decode {
                object: "group invitation",
                reason: "not from the group's creator",
            });
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> IdentityKeypair {
        IdentityKeypair::from_seed(&[1; 32])
    }

    pub(crate) fn post(seq: u64, previous: Vec<GroupMessageId>, text: &str) -> GroupContent {
        GroupContent {
            group: GroupId([7; 32]),
            author: alice().public().to_bytes(),
            seq,
            previous,
            parent: None,
            timestamp: Timestamp(1_700_000_000_000),
            body: GroupBody::Post { text: text.into() },
        }
    }

    #[test]
    fn an_invitation_opens_only_as_its_creators_first_message() {
        let create = GroupContent {
            body: GroupBody::Create {
                name: "Garden".into(),
                description: String::new(),
            },
            ..post(0, vec![], "")
        };
        let m = GroupMessage::sign(&alice(), create).unwrap();
        let invite = |bytes: &[u8]| GroupInvite {
            id: crate::wire::MessageId([1; 16]),
            create: bytes.to_vec(),
        };
        let opened = invite(m.encoded()).open(&alice().public()).unwrap();
        assert_eq!(opened.id(), m.id());
        let bob = IdentityKeypair::from_seed(&[2; 32]);
        assert!(
            invite(m.encoded()).open(&bob.public()).is_err(),
            "not the creator"
        );
        let p = GroupMessage::sign(&alice(), post(0, vec![], "a post")).unwrap();
        assert!(
            invite(p.encoded()).open(&alice().public()).is_err(),
            "not a Create"
        );
        let mut altered = m.encoded().to_vec();
        altered[5] ^= 1;
        assert!(invite(&altered).open(&alice().public()).is_err(), "altered");
        // Reactions: valid emoji only, and back again.
        let r = GroupContent {
            body: GroupBody::React {
                target: m.id(),
                emoji: Some(crate::chat::Emoji::new("👍").unwrap()),
            },
            ..post(1, vec![m.id()], "")
        };
        let r = GroupMessage::sign(&alice(), r).unwrap();
        assert_eq!(GroupMessage::decode(r.encoded()).unwrap(), r);
        let msg = crate::wire::PeerMessage::GroupInvite(invite(m.encoded()));
        let bytes = crate::wire::encode(&msg).unwrap();
        assert_eq!(crate::wire::decode(&bytes).unwrap(), msg);
        let big = crate::wire::PeerMessage::GroupSync {
            opener: false,
            frame: vec![0; MAX_SYNC_FRAME + 1],
        };
        assert!(crate::wire::encode(&big).is_err());
    }

    fn forum_create() -> GroupContent {
        GroupContent {
            body: GroupBody::CreateForum {
                name: "Commons".into(),
                description: String::new(),
            },
            ..post(0, vec![], "")
        }
    }

    #[test]
    fn a_forum_invitation_opens_from_any_member() {
        let m = GroupMessage::sign(&alice(), forum_create()).unwrap();
        assert_eq!(m.content().body.opens(), Some(GroupKind::Forum));
        assert_eq!(
            format!("{:?}", m.content().body),
            "CreateForum(7 + 0 bytes)"
        );
        let invite = GroupInvite {
            id: crate::wire::MessageId([1; 16]),
            create: m.encoded().to_vec(),
        };
        // Bob, a member but not the creator, invites: the forum's
        // CreateForum is Alice's.
        let bob = IdentityKeypair::from_seed(&[2; 32]);
        assert_eq!(invite.open(&bob.public()).unwrap().id(), m.id());
        assert_eq!(invite.open(&alice().public()).unwrap().id(), m.id());
        // Not at seq 0: refused like a Create.
        let mut late = forum_create();
        late.seq = 1;
        late.previous = vec![m.id()];
        assert!(GroupMessage::sign(&alice(), late).is_err());
        let mut empty = forum_create();
        empty.body = GroupBody::CreateForum {
            name: " ".into(),
            description: String::new(),
        };
        assert!(GroupMessage::sign(&alice(), empty).is_err());
        // A private group's Create still opens only from its creator.
        let mut g = forum_create();
        g.body = GroupBody::Create {
            name: "Garden".into(),
            description: String::new(),
        };
        let g = GroupMessage::sign(&alice(), g).unwrap();
        let invite = GroupInvite {
            create: g.encoded().to_vec(),
            ..invite
        };
        assert!(invite.open(&bob.public()).is_err());
    }

    #[test]
    fn hidden_lists_are_bounded_ascending_and_valid_points() {
        let a = alice();
        let hidden = |authors: Vec<[u8; 32]>| GroupContent {
            body: GroupBody::Hidden { authors },
            ..post(1, vec![GroupMessageId([1; 32])], "")
        };
        let key = |n: u8| IdentityKeypair::from_seed(&[n; 32]).public().to_bytes();
        let mut keys: Vec<[u8; 32]> = (1..=3).map(key).collect();
        keys.sort();
        let m = GroupMessage::sign(&a, hidden(keys.clone())).unwrap();
        assert_eq!(GroupMessage::decode(m.encoded()).unwrap(), m);
        assert_eq!(format!("{:?}", m.content().body), "Hidden(3 authors)");
        assert!(
            GroupMessage::sign(&a, hidden(vec![])).is_ok(),
            "empty: unhide all"
        );
        let mut unsorted = keys.clone();
        unsorted.reverse();
        assert!(GroupMessage::sign(&a, hidden(unsorted)).is_err());
        let twice = vec![keys[0], keys[0]];
        assert!(GroupMessage::sign(&a, hidden(twice)).is_err());
        let mut bad = [0_u8; 32];
        bad[0] = 2;
        assert_eq!(
            GroupMessage::sign(&a, hidden(vec![bad])),
            Err(Error::InvalidKey)
        );
        // The most a list may hold fits a message; one more is refused.
        let mut many: Vec<[u8; 32]> = (0..=MAX_HIDDEN as u32)
            .map(|i| {
                let mut seed = [0_u8; 32];
                seed[..4].copy_from_slice(&i.to_le_bytes());
                IdentityKeypair::from_seed(&seed).public().to_bytes()
            })
            .collect();
        many.sort();
        assert!(matches!(
            GroupMessage::sign(&a, hidden(many.clone())),
            Err(Error::TooLarge { .. })
        ));
        many.pop();
        let full = GroupMessage::sign(&a, hidden(many)).unwrap();
        assert!(full.encoded().len() <= MAX_GROUP_MESSAGE);
        assert_eq!(GroupMessage::decode(full.encoded()).unwrap(), full);
    }

    fn bob() -> IdentityKeypair {
        IdentityKeypair::from_seed(&[2; 32])
    }

    /// `who`'s message in its own blog.
    fn in_blog(
        who: &IdentityKeypair,
        seq: u64,
        previous: Vec<GroupMessageId>,
        body: GroupBody,
    ) -> GroupContent {
        GroupContent {
            group: GroupId::blog_of(&who.public().to_bytes()),
            author: who.public().to_bytes(),
            seq,
            previous,
            parent: None,
            timestamp: Timestamp(1_700_000_000_000),
            body,
        }
    }

    fn reblog(original: &GroupMessage, text: &str) -> GroupBody {
        GroupBody::Reblog {
            original: original.encoded().to_vec(),
            text: text.into(),
        }
    }

    #[test]
    fn a_blog_opens_only_in_its_owners_derived_id() {
        let a = alice();
        let owner = a.public().to_bytes();
        let id = GroupId::blog_of(&owner);
        let mut h = Sha256::new();
        h.update(b"kith blog id v1\0");
        h.update(owner);
        assert_eq!(id.0, <[u8; 32]>::from(h.finalize()));
        assert_ne!(id, GroupId::blog_of(&bob().public().to_bytes()));
        let create = GroupMessage::sign(&a, in_blog(&a, 0, vec![], GroupBody::CreateBlog)).unwrap();
        assert_eq!(create.content().body.opens(), Some(GroupKind::Blog));
        assert_eq!(GroupMessage::decode(create.encoded()).unwrap(), create);
        assert_eq!(format!("{:?}", create.content().body), "CreateBlog");
        // Not at seq 0, or in another id (a random one, or Bob's blog).
        let late = in_blog(&a, 1, vec![create.id()], GroupBody::CreateBlog);
        assert!(GroupMessage::sign(&a, late).is_err());
        let mut elsewhere = in_blog(&a, 0, vec![], GroupBody::CreateBlog);
        elsewhere.group = GroupId([7; 32]);
        assert!(GroupMessage::sign(&a, elsewhere.clone()).is_err());
        elsewhere.group = GroupId::blog_of(&bob().public().to_bytes());
        assert!(GroupMessage::sign(&a, elsewhere).is_err());
        // Nor does a group or forum open in one's blog id.
        for body in [
            GroupBody::Create {
                name: "g".into(),
                description: String::new(),
            },
            GroupBody::CreateForum {
                name: "f".into(),
                description: String::new(),
            },
        ] {
            let squat = in_blog(&a, 0, vec![], body.clone());
            assert_eq!(
                GroupMessage::sign(&a, squat),
                Err(Error::Decode {
                    object: "group message",
                    reason: "a group's id is its author's blog id",
                })
            );
            // Someone else's blog id is just an id to them (it is not
            // theirs to take, and not the owner's group either).
            let mut other = in_blog(&bob(), 0, vec![], body);
            other.author = owner;
            assert!(GroupMessage::sign(&a, other).is_ok());
        }
        // Nobody is invited to a blog, not even by its owner.
        let invite = GroupInvite {
            id: crate::wire::MessageId([1; 16]),
            create: create.encoded().to_vec(),
        };
        assert!(invite.open(&a.public()).is_err());
        assert!(invite.open(&bob().public()).is_err());
    }

    #[test]
    fn a_reblog_carries_a_verified_top_level_post_of_another_blog() {
        let (a, b) = (alice(), bob());
        let post = GroupMessage::sign(
            &a,
            in_blog(
                &a,
                1,
                vec![GroupMessageId([1; 32])],
                GroupBody::Post {
                    text: "news".into(),
                },
            ),
        )
        .unwrap();
        let rb = |body| in_blog(&b, 1, vec![GroupMessageId([2; 32])], body);
        let m = GroupMessage::sign(&b, rb(reblog(&post, ""))).unwrap();
        assert_eq!(GroupMessage::decode(m.encoded()).unwrap(), m);
        let original = m.reblog_original().unwrap();
        assert_eq!(original, post);
        assert_eq!(original.author(), a.public());
        assert!(GroupMessage::sign(&b, rb(reblog(&post, "worth reading"))).is_ok());
        assert!(post.reblog_original().is_none());
        assert!(format!("{:?}", m.content().body).starts_with("Reblog("));
        // An altered original (one byte anywhere) is refused, whoever signs
        // the reblog around it.
        for i in 0..post.encoded().len() {
            let mut bytes = post.encoded().to_vec();
            bytes[i] ^= 1;
            let body = GroupBody::Reblog {
                original: bytes,
                text: String::new(),
            };
            assert!(GroupMessage::sign(&b, rb(body)).is_err(), "byte {i}");
        }
        // A comment, a non-post, a post outside its author's blog, a post
        // of the reblogger's own blog: refused.
        let mut comment = in_blog(&a, 2, vec![post.id()], GroupBody::Post { text: "c".into() });
        comment.parent = Some(post.id());
        let comment = GroupMessage::sign(&a, comment).unwrap();
        assert!(GroupMessage::sign(&b, rb(reblog(&comment, ""))).is_err());
        let create = GroupMessage::sign(&a, in_blog(&a, 0, vec![], GroupBody::CreateBlog)).unwrap();
        assert!(GroupMessage::sign(&b, rb(reblog(&create, ""))).is_err());
        let group_post = GroupMessage::sign(&a, super::tests::post(0, vec![], "x")).unwrap();
        assert!(GroupMessage::sign(&b, rb(reblog(&group_post, ""))).is_err());
        let own = GroupMessage::sign(
            &b,
            in_blog(
                &b,
                1,
                vec![GroupMessageId([2; 32])],
                GroupBody::Post {
                    text: "mine".into(),
                },
            ),
        )
        .unwrap();
        assert!(GroupMessage::sign(&b, rb(reblog(&own, ""))).is_err());
        // One level deep: a reblog is not a post, so it is never an original,
        // and it is refused as one before its own original is decoded.
        assert_eq!(
            GroupMessage::sign(&a, in_blog(&a, 2, vec![post.id()], reblog(&m, ""))),
            Err(Error::Decode {
                object: "reblog original",
                reason: "a reblog, not a post",
            })
        );
        // Only in the reblogger's own blog, at the top level.
        let mut foreign = rb(reblog(&post, ""));
        foreign.group = GroupId([7; 32]);
        assert!(GroupMessage::sign(&b, foreign).is_err());
        let mut threaded = rb(reblog(&post, ""));
        threaded.parent = Some(post.id());
        assert!(GroupMessage::sign(&b, threaded).is_err());
        // Text bounds: empty is fine, over MAX_GROUP_TEXT is not.
        let long = "x".repeat(MAX_GROUP_TEXT + 1);
        assert!(matches!(
            GroupMessage::sign(&b, rb(reblog(&post, &long))),
            Err(Error::TooLarge { .. })
        ));
        // Garbage as the original.
        let junk = GroupBody::Reblog {
            original: vec![1; 100],
            text: String::new(),
        };
        assert!(GroupMessage::sign(&b, rb(junk)).is_err());
    }

    /// The largest post there can be (all previous ids, the latest
    /// timestamp, the longest text) still fits a reblog, with room left
    /// for the reblogger's words; the message bound holds either way.
    #[test]
    fn a_reblog_of_the_largest_post_fits_a_message() {
        let (a, b) = (alice(), bob());
        let ids = || -> Vec<GroupMessageId> {
            (1..=MAX_GROUP_PREVIOUS as u8)
                .map(|n| GroupMessageId([n; 32]))
                .collect()
        };
        let mut c = in_blog(
            &a,
            u64::MAX,
            ids(),
            GroupBody::Post {
                text: "x".repeat(MAX_GROUP_TEXT),
            },
        );
        c.timestamp = Timestamp(MAX_GROUP_TIMESTAMP);
        let big = GroupMessage::sign(&a, c).unwrap();
        let mut r = in_blog(&b, u64::MAX, ids(), reblog(&big, ""));
        r.timestamp = Timestamp(MAX_GROUP_TIMESTAMP);
        let m = GroupMessage::sign(&b, r.clone()).unwrap();
        assert!(m.encoded().len() <= MAX_GROUP_MESSAGE);
        let room = MAX_GROUP_MESSAGE - m.encoded().len();
        assert!(room >= 3 * 1024, "{room} bytes left for a reblog's text");
        assert_eq!(
            GroupMessage::decode(m.encoded())
                .unwrap()
                .reblog_original()
                .unwrap(),
            big
        );
        // Past the bound: refused with a typed error, not cut.
        r.body = reblog(&big, &"y".repeat(MAX_GROUP_TEXT));
        assert!(matches!(
            GroupMessage::sign(&b, r),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn sign_decode_round_trip() {
        let m = GroupMessage::sign(&alice(), post(0, vec![], "hi")).unwrap();
        let d = GroupMessage::decode(m.encoded()).unwrap();
        assert_eq!(d, m);
        assert_eq!(d.author(), alice().public());
        let next = GroupMessage::sign(&alice(), post(1, vec![m.id()], "again")).unwrap();
        assert_ne!(next.id(), m.id());
        assert_eq!(GroupMessage::decode(next.encoded()).unwrap(), next);
        assert_eq!(format!("{:?}", m.content().body), "Post(2 bytes)");
    }

    #[test]
    fn every_altered_byte_is_refused() {
        let m = GroupMessage::sign(&alice(), post(0, vec![], "hello group")).unwrap();
        for i in 0..m.encoded().len() {
            let mut b = m.encoded().to_vec();
            b[i] ^= 0x01;
            assert!(GroupMessage::decode(&b).is_err(), "byte {i} altered");
        }
        // Truncated or extended.
        let b = m.encoded();
        assert!(GroupMessage::decode(&b[..b.len() - 1]).is_err());
        let mut longer = b.to_vec();
        longer.push(0);
        assert!(GroupMessage::decode(&longer).is_err());
        assert!(GroupMessage::decode(&[]).is_err());
        assert!(GroupMessage::decode(&[1; 10]).is_err());
    }

    #[test]
    fn forged_author_is_refused() {
        // Mallory signs a message naming Alice as author.
        let mallory = IdentityKeypair::from_seed(&[2; 32]);
        assert!(GroupMessage::sign(&mallory, post(0, vec![], "hi")).is_err());
        let content = post(0, vec![], "hi");
        let mut bytes = content.encode_unsigned().unwrap();
        let sig = mallory.sign(&signed_input(&bytes));
        bytes.extend_from_slice(&sig);
        assert_eq!(GroupMessage::decode(&bytes), Err(Error::BadSignature));
        // A signature without the context does not verify either.
        let mut bytes = content.encode_unsigned().unwrap();
        let sig = alice().sign(&bytes);
        bytes.extend_from_slice(&sig);
        assert_eq!(GroupMessage::decode(&bytes), Err(Error::BadSignature));
    }

    #[test]
    fn altered_content_resigned_by_a_relayer_is_refused() {
        let m = GroupMessage::sign(&alice(), post(0, vec![], "original")).unwrap();
        let mut c = m.content().clone();
        c.body = GroupBody::Post {
            text: "altered".into(),
        };
        let mut bytes = c.encode_unsigned().unwrap();
        bytes.extend_from_slice(&m.signature());
        assert_eq!(GroupMessage::decode(&bytes), Err(Error::BadSignature));
    }

    #[test]
    fn chain_shape_and_bounds() {
        let a = alice();
        let id = |n| GroupMessageId([n; 32]);
        assert!(GroupMessage::sign(&a, post(1, vec![], "x")).is_err());
        assert!(GroupMessage::sign(&a, post(0, vec![id(1)], "x")).is_err());
        assert!(GroupMessage::sign(&a, post(2, vec![id(2), id(1)], "x")).is_err());
        assert!(GroupMessage::sign(&a, post(2, vec![id(1), id(1)], "x")).is_err());
        assert!(GroupMessage::sign(&a, post(2, vec![id(1), id(2)], "x")).is_ok());
        let five = (1..=5).map(id).collect();
        assert!(matches!(
            GroupMessage::sign(&a, post(9, five, "x")),
            Err(Error::TooLarge { .. })
        ));
        assert!(GroupMessage::sign(&a, post(0, vec![], " \n")).is_err());
        let long = "x".repeat(MAX_GROUP_TEXT + 1);
        assert!(matches!(
            GroupMessage::sign(&a, post(0, vec![], &long)),
            Err(Error::TooLarge { .. })
        ));
        let max = "x".repeat(MAX_GROUP_TEXT);
        let m = GroupMessage::sign(&a, post(0, vec![], &max)).unwrap();
        assert!(m.encoded().len() <= MAX_GROUP_MESSAGE);
        let mut c = post(1, vec![id(1)], "x");
        c.body = GroupBody::Create {
            name: "n".into(),
            description: String::new(),
        };
        assert!(GroupMessage::sign(&a, c).is_err());
        let mut c = post(0, vec![], "x");
        c.body = GroupBody::Add { member: [0; 32] };
        // [0; 32] is a valid (small-order) point encoding; [2, 0..] is not.
        let mut bad = [0_u8; 32];
        bad[0] = 2;
        c.body = GroupBody::Remove { member: bad };
        assert_eq!(GroupMessage::sign(&a, c), Err(Error::InvalidKey));
    }

    #[test]
    fn overlong_encoding_is_refused() {
        // seq 0 written as the overlong varint 80 00: same value, other bytes.
        let c = post(0, vec![], "hi");
        let canonical = c.encode_unsigned().unwrap();
        let seq_at = 1 + 32 + 32;
        assert_eq!(canonical[seq_at], 0);
        let mut overlong = canonical[..seq_at].to_vec();
        overlong.extend_from_slice(&[0x80, 0x00]);
        overlong.extend_from_slice(&canonical[seq_at + 1..]);
        let sig = alice().sign(&signed_input(&overlong));
        overlong.extend_from_slice(&sig);
        assert!(matches!(
            GroupMessage::decode(&overlong),
            Err(Error::Decode {
                reason: "not the canonical encoding",
                ..
            })
        ));
    }

    #[test]
    fn unknown_version_and_oversize() {
        let m = GroupMessage::sign(&alice(), post(0, vec![], "hi")).unwrap();
        let mut b = m.encoded().to_vec();
        b[0] = 2;
        assert_eq!(
            GroupMessage::decode(&b),
            Err(Error::UnsupportedVersion {
                object: "group message",
                version: 2
            })
        );
        assert!(matches!(
            GroupMessage::decode(&vec![1; MAX_GROUP_MESSAGE + 1]),
            Err(Error::TooLarge { .. })
        ));
    }

    const VECTORS_DESCRIPTION: &str = "Group messages (docs/protocol.md section 14). \
        Author from the ed25519 seed 01x32, group id 07x32. first: seq 0, a post \"hi\" at \
        1700000000000 ms; reply: seq 1 after first, replying to it, \"re\" at 1700000001000 ms. \
        forum_create: seq 0, CreateForum { name \"Commons\", description \"\" } at 1700000000000 ms \
        (docs/protocol.md section 16); hidden: seq 1 after forum_create, Hidden { authors: [the \
        key of the ed25519 seed 02x32] } at 1700000002000 ms. \
        blog_create: seq 0, CreateBlog in the blog of the seed 01x32 (group id blog_of its key) \
        at 1700000000000 ms (docs/protocol.md section 17); blog_post: seq 1 after blog_create, \
        a post \"news\" at 1700000001000 ms; reblog: by the seed 02x32 in its own blog, seq 1 \
        after its own CreateBlog at 1700000000000 ms, Reblog { original: blog_post, text: \
        \"read this\" } at 1700000002000 ms. \
        signed_hex is what the signature covers, encoded_hex the whole message, id_hex its id. \
        Written by the kith-core unit test group::tests::vectors with KITH_WRITE_VECTORS=1.";

    fn vector(m: &GroupMessage) -> serde_json::Value {
        let unsigned = &m.encoded()[..m.encoded().len() - 64];
        serde_json::json!({
            "signed_hex": hex::encode(signed_input(unsigned)),
            "encoded_hex": hex::encode(m.encoded()),
            "id_hex": m.id().to_hex(),
        })
    }

    pub(crate) fn vector_messages() -> (GroupMessage, GroupMessage) {
        let first = GroupMessage::sign(&alice(), post(0, vec![], "hi")).unwrap();
        let mut c = post(1, vec![first.id()], "re");
        c.parent = Some(first.id());
        c.timestamp = Timestamp(1_700_000_001_000);
        let reply = GroupMessage::sign(&alice(), c).unwrap();
        (first, reply)
    }

    fn forum_vector_messages() -> (GroupMessage, GroupMessage) {
        let create = GroupMessage::sign(&alice(), forum_create()).unwrap();
        let bob = IdentityKeypair::from_seed(&[2; 32]).public().to_bytes();
        let mut c = post(1, vec![create.id()], "");
        c.body = GroupBody::Hidden { authors: vec![bob] };
        c.timestamp = Timestamp(1_700_000_002_000);
        let hidden = GroupMessage::sign(&alice(), c).unwrap();
        (create, hidden)
    }

    /// Alice's blog's first message and post, and Bob's reblog of it.
    fn blog_vector_messages() -> (GroupMessage, GroupMessage, GroupMessage) {
        let (a, b) = (alice(), bob());
        let create = GroupMessage::sign(&a, in_blog(&a, 0, vec![], GroupBody::CreateBlog)).unwrap();
        let mut c = in_blog(
            &a,
            1,
            vec![create.id()],
            GroupBody::Post {
                text: "news".into(),
            },
        );
        c.timestamp = Timestamp(1_700_000_001_000);
        let post = GroupMessage::sign(&a, c).unwrap();
        let bob_create =
            GroupMessage::sign(&b, in_blog(&b, 0, vec![], GroupBody::CreateBlog)).unwrap();
        let mut c = in_blog(&b, 1, vec![bob_create.id()], reblog(&post, "read this"));
        c.timestamp = Timestamp(1_700_000_002_000);
        let reblog = GroupMessage::sign(&b, c).unwrap();
        (create, post, reblog)
    }

    /// `docs/vectors/group.json` matches this code (`KITH_WRITE_VECTORS=1`
    /// rewrites it first), and `docs/protocol.md` quotes the same bytes.
    #[test]
    fn vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/vectors/group.json");
        let (first, reply) = vector_messages();
        let (forum, hidden) = forum_vector_messages();
        let (blog_create, blog_post, reblog) = blog_vector_messages();
        let ours = serde_json::json!({
            "description": VECTORS_DESCRIPTION,
            "first": vector(&first),
            "reply": vector(&reply),
            "forum_create": vector(&forum),
            "hidden": vector(&hidden),
            "blog_create": vector(&blog_create),
            "blog_post": vector(&blog_post),
            "reblog": vector(&reblog),
        });
        if std::env::var_os("KITH_WRITE_VECTORS").is_some() {
            let json = serde_json::to_string_pretty(&ours).unwrap();
            std::fs::write(path, json + "\n").unwrap();
        }
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(file, ours);
        let all = [
            &first,
            &reply,
            &forum,
            &hidden,
            &blog_create,
            &blog_post,
            &reblog,
        ];
        for m in all {
            let v = vector(m);
            let bytes = hex::decode(v["encoded_hex"].as_str().unwrap()).unwrap();
            assert_eq!(GroupMessage::decode(&bytes).unwrap(), *m);
        }
        let doc = include_str!("../../../docs/protocol.md");
        assert_eq!(reblog.reblog_original().as_ref(), Some(&blog_post));
        let blog_id = GroupId::blog_of(&alice().public().to_bytes()).to_hex();
        assert!(
            doc.contains(&blog_id),
            "docs/protocol.md lacks the blog id {blog_id}"
        );
        for m in all {
            let v = vector(m);
            for k in ["encoded_hex", "id_hex"] {
                let hex = v[k].as_str().unwrap();
                assert!(doc.contains(hex), "docs/protocol.md lacks the {k} {hex}");
            }
        }
    }
}
