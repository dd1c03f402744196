//! What the store keeps: profiles, contacts, messages; and the records sealed
//! into the database.

use kith_core::chat::DisappearTimer;
pub use kith_core::wire::Reach;
use kith_core::{MessageId, Timestamp};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// A contact's id in this profile's database. Ids are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContactId(pub i64);

/// What a new profile starts with.
pub struct NewProfile {
    /// The name we show contacts.
    pub display_name: String,
    /// The ed25519 seed of the profile's identity (its onion address).
    pub identity_seed: Zeroizing<[u8; 32]>,
    /// When the profile was made.
    pub created_at: Timestamp,
}

impl std::fmt::Debug for NewProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewProfile")
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The profile stored in the database.
pub struct Profile {
    /// The name we show contacts.
    pub display_name: String,
    /// The ed25519 seed of the profile's identity. Never printed.
    pub identity_seed: Zeroizing<[u8; 32]>,
    /// When the profile was made.
    pub created_at: Timestamp,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// Where a contact relationship stands.
///
/// Not `#[non_exhaustive]`: the node matches it exhaustively, and a new
/// variant is a schema change anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContactState {
    /// We added them; they have not confirmed yet.
    Outgoing,
    /// They asked; we have not accepted yet.
    IncomingRequest,
    /// Both sides agree.
    Accepted,
    /// We declined their request.
    Declined,
    /// We blocked them.
    Blocked,
}

/// How we came to know a contact: its provenance, shown wherever the
/// contact is.
///
/// Stored sealed with the contact (schema 3). Whether the contact is
/// verified is kept beside it ([`Contact::verified`]): a contact added by
/// link becomes verified when its safety number has been compared, one met
/// in person is verified from the start.
///
/// Not `#[non_exhaustive]`: front ends match it exhaustively, and a new
/// variant is a schema change anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContactOrigin {
    /// We added them from a contact link they gave us (pasted or scanned).
    Link,
    /// We met in person and exchanged codes (the verified in-person exchange).
    MetInPerson,
    /// A contact of ours introduced us.
    Introduced {
        /// The introducer's identity key (ed25519 public key, as
        /// [`Contact::address`]); a front end shows it by that contact's
        /// alias while the introducer is still a contact.
        by: [u8; 32],
    },
    /// They sent us a contact request, which we accepted (or have not yet).
    Request,
}

/// `ContactOrigin` as schema 1 and 2 stored it, read only by the migration
/// to schema 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ContactOriginV2 {
    Link,
    InPerson,
    Introduced,
    Request,
}

impl ContactOriginV2 {
    /// Schema 3's origin for a contact stored before it: `Request` if they
    /// asked, else `Link` (we added them). No build before schema 3 made
    /// contacts in person or by introduction (nothing verified the one, the
    /// other recorded no introducer), so those are contacts we added.
    pub(crate) fn migrate(self) -> ContactOrigin {
        match self {
            ContactOriginV2::Request => ContactOrigin::Request,
            ContactOriginV2::Link | ContactOriginV2::InPerson | ContactOriginV2::Introduced => {
                ContactOrigin::Link
            }
        }
    }
}

/// A contact to add.
#[derive(Clone, PartialEq, Eq)]
pub struct NewContact {
    /// Their ed25519 public key (their onion address).
    pub address: [u8; 32],
    /// The name we gave them; unique in the profile.
    pub alias: String,
    /// Where the relationship stands.
    pub state: ContactState,
    /// How we know them.
    pub origin: ContactOrigin,
    /// Whether their identity key is verified (true for
    /// [`ContactOrigin::MetInPerson`]).
    pub verified: bool,
    /// A `host:port` where they may listen on TCP.
    pub tcp_hint: Option<String>,
    /// The name they gave themselves.
    pub their_name: Option<String>,
    /// When we added them.
    pub added_at: Timestamp,
}

impl std::fmt::Debug for NewContact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewContact")
            .field("state", &self.state)
            .field("origin", &OriginKind(&self.origin))
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

/// Prints an origin without the introducer's key.
struct OriginKind<'a>(&'a ContactOrigin);

impl std::fmt::Debug for OriginKind<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            ContactOrigin::Link => "Link",
            ContactOrigin::MetInPerson => "MetInPerson",
            ContactOrigin::Introduced { .. } => "Introduced { .. }",
            ContactOrigin::Request => "Request",
        })
    }
}

/// A stored contact.
#[derive(Clone, PartialEq, Eq)]
pub struct Contact {
    /// Its id.
    pub id: ContactId,
    /// Their ed25519 public key (their onion address).
    pub address: [u8; 32],
    /// The name we gave them; unique in the profile.
    pub alias: String,
    /// Where the relationship stands.
    pub state: ContactState,
    /// How we know them.
    pub origin: ContactOrigin,
    /// Whether their identity key is verified: met in person, or their
    /// safety number compared and marked as verified.
    pub verified: bool,
    /// A `host:port` where they may listen on TCP.
    pub tcp_hint: Option<String>,
    /// The name they gave themselves.
    pub their_name: Option<String>,
    /// When we added them.
    pub added_at: Timestamp,
    /// When we last had a session with them.
    pub last_seen: Option<Timestamp>,
    /// How they told us to reach them from now on (their contacts-only
    /// address, and their key for ours), once they have.
    pub reach: Option<Reach>,
}

impl std::fmt::Debug for Contact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contact")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("origin", &OriginKind(&self.origin))
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// The contact wrote it.
    In,
    /// We wrote it.
    Out,
}

/// Where a message stands. Outgoing: `Queued` → `Sent` → `Delivered`, never
/// backwards. Incoming: always `Received`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MessageState {
    /// Ours, stored, not yet handed to a session.
    Queued,
    /// Ours, written to a session, not yet acknowledged.
    Sent,
    /// Ours, acknowledged as stored by the contact.
    Delivered,
    /// Theirs, stored here.
    Received,
}

impl MessageState {
    /// Progress of an outgoing message; `None` for states outgoing messages never take.
    pub(crate) fn outgoing_rank(self) -> Option<u8> {
        match self {
            MessageState::Queued => Some(0),
            MessageState::Sent => Some(1),
            MessageState::Delivered => Some(2),
            MessageState::Received => None,
        }
    }
}

/// A stored message.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// The conversation.
    pub contact: ContactId,
    /// Its author-chosen id.
    pub msg_id: MessageId,
    /// Ours or theirs.
    pub direction: Direction,
    /// The text.
    pub body: String,
    /// Where it stands.
    pub state: MessageState,
    /// When its author wrote it (their clock, for incoming messages).
    pub sent_at: Timestamp,
    /// When it was stored here.
    pub stored_at: Timestamp,
    /// When the contact acknowledged it (ours only).
    pub delivered_at: Option<Timestamp>,
    /// Whether we have read it (always true for ours).
    pub read: bool,
    /// What it is: text, a timer change, a file (schema 4).
    pub kind: MessageKind,
    /// The message it answers, if any (resolve it with
    /// [`crate::Store::quote`]).
    pub reply_to: Option<MessageId>,
    /// The disappearing timer it was sent with.
    pub disappear: DisappearTimer,
    /// When it disappears (removed from the store), if it does.
    pub expires_at: Option<Timestamp>,
    /// The reactions to it: at most one per side.
    pub reactions: Vec<ReactionView>,
    /// Whether its text was edited (`body` is the edit's), and when.
    pub edited: Option<Edited>,
}

/// The edit in force of an edited message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edited {
    /// When its author edited it (their clock, for incoming messages).
    pub at: Timestamp,
    /// Ours: whether the contact acknowledged the edit (until then it is
    /// sent at every session). Theirs: always true.
    pub delivered: bool,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("contact", &self.contact)
            .field("msg_id", &self.msg_id)
            .field("direction", &self.direction)
            .field("state", &self.state)
            .field("read", &self.read)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// What a message of a conversation is.
///
/// Not `#[non_exhaustive]`: front ends match it, and a new kind is a
/// schema change anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MessageKind {
    /// Text (the body), possibly answering another message.
    Text,
    /// "The disappearing timer is now …": a line shown to both sides, set
    /// by its author (`Direction::Out`: we did).
    Timer(DisappearTimer),
    /// A file (see [`crate::Store::file`]); the body is empty.
    File,
    /// A tombstone: the message was deleted and its content is gone. Kept
    /// so that a quote of it reads "deleted message" and a redelivery of it
    /// is not shown again. Not listed by [`crate::Store::messages`].
    Deleted(Deletion),
}

/// How a message was deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Deletion {
    /// By us, here only.
    ForMe,
    /// By us, for both: the contact has not confirmed yet (a `Delete` is
    /// sent at every session until it does).
    ForEveryonePending,
    /// By us, for both, and the contact confirmed it removed it.
    ForEveryoneDone,
    /// By the contact, who wrote it, for both.
    ByThem,
}

/// A reaction to a message, as shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReactionView {
    /// Who reacted: `Out` for us.
    pub by: Direction,
    /// The emoji.
    pub emoji: String,
}

/// What a reply's quoted message is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Quote {
    /// The message, as it is.
    Message(Message),
    /// It was deleted: show "deleted message".
    Deleted,
    /// We never had it, or it disappeared or was cleared: show "message not
    /// available".
    Unknown,
}

/// Whether a conversation's history outlives the app.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HistoryPolicy {
    /// Kept (the default).
    #[default]
    Keep,
    /// Deleted when the app closes ([`crate::Store::clear_session_histories`]).
    Session,
}

/// A conversation's settings (`conversations.sealed`, schema 4). A
/// contact without a row has the defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSettings {
    /// The disappearing timer in force.
    pub disappear: DisappearTimer,
    /// When it was set (a logical clock: `kith_core::chat::DisappearSetting`).
    pub disappear_set_at: Timestamp,
    /// Keep the history, or delete it when the app closes.
    pub history: HistoryPolicy,
}

/// Where a file transfer stands.
///
/// Not `#[non_exhaustive]`: front ends match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FileState {
    /// Offered: theirs, not accepted (or refused) yet; ours, not asked for
    /// yet.
    Offered,
    /// Chunks flowing: theirs, accepted, `next` is the next chunk we need;
    /// ours, the contact asked from `next`.
    Transferring,
    /// Complete: theirs, every chunk stored and the SHA-256 checked; ours,
    /// the contact confirmed it.
    Complete,
    /// Refused: by us (theirs) or by the contact (ours). No chunk of theirs
    /// is kept.
    Refused,
    /// The assembled chunks did not have the offer's SHA-256 (checked here
    /// for theirs, reported by the contact for ours); theirs are dropped.
    Corrupt,
    /// Theirs: the contact deleted it before sending it whole (its
    /// `FileDone(Unavailable)`); what we had of it is dropped.
    Unavailable,
}

/// A file of a conversation.
#[derive(Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The conversation.
    pub contact: ContactId,
    /// The file's id (its message id).
    pub id: MessageId,
    /// Ours or theirs.
    pub direction: Direction,
    /// Its (safe) name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of the whole file.
    pub sha256: [u8; 32],
    /// Bytes per chunk (the last one may be shorter).
    pub chunk_size: u32,
    /// How many chunks it has.
    pub chunks: u32,
    /// Chunks done: theirs, stored here (all of them before `next`); ours,
    /// what the contact has according to its last `FileResume`.
    pub next: u32,
    /// Where the transfer stands.
    pub state: FileState,
}

impl FileInfo {
    /// Bytes done, from `next` (for a progress bar).
    pub fn bytes_done(&self) -> u64 {
        (u64::from(self.next) * u64::from(self.chunk_size)).min(self.size)
    }
}

impl std::fmt::Debug for FileInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileInfo")
            .field("contact", &self.contact)
            .field("id", &self.id)
            .field("direction", &self.direction)
            .field("state", &self.state)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// What became of a received chunk ([`crate::Store::store_chunk`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkStored {
    /// Stored; `next` is the next chunk wanted.
    Stored {
        /// The next chunk wanted.
        next: u32,
    },
    /// That was the last chunk and the whole has the offer's SHA-256: the
    /// file is complete (answer `FileDone(Received)`).
    Complete,
    /// That was the last chunk and the whole does not have the offer's
    /// SHA-256: every chunk is dropped (answer `FileDone(Corrupt)`).
    Corrupt,
    /// Not stored, nothing changed: the peer sent what it must not.
    Refused(ChunkRefusal),
}

/// Why a chunk was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkRefusal {
    /// No such file of theirs in this conversation.
    UnknownFile,
    /// The file is not being received (not accepted, refused, complete).
    NotReceiving,
    /// Not the next chunk wanted (a repeat, or one past a gap).
    OutOfOrder {
        /// The chunk wanted.
        expected: u32,
    },
    /// Its length is not what the offer says for its index.
    WrongLength,
}

/// A contact as a contact list shows it: the contact, its newest message
/// and how many of its messages are unread.
///
/// Made by [`crate::Store::contact_summaries`] without reading the rest of
/// the conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactSummary {
    /// The contact.
    pub contact: Contact,
    /// Its newest message (the last one stored), if any.
    pub last: Option<Message>,
    /// How many incoming messages of the conversation are unread.
    pub unread: u64,
}

/// The outcome of storing an incoming message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Stored now: show it.
    New(Message),
    /// Stored before (a redelivery): do not show it again, but acknowledge it.
    Duplicate,
}

// ---- Sealed records: the plaintexts inside the database's sealed columns. ----

/// `profile.sealed`.
#[derive(Serialize, Deserialize)]
pub(crate) struct ProfileRecord {
    pub(crate) display_name: String,
    pub(crate) identity_seed: [u8; 32],
    pub(crate) created_at: Timestamp,
}

impl Drop for ProfileRecord {
    fn drop(&mut self) {
        self.identity_seed.zeroize();
    }
}

/// `contacts.sealed` (schema 3).
#[derive(Serialize, Deserialize)]
pub(crate) struct ContactRecord {
    pub(crate) address: [u8; 32],
    pub(crate) alias: String,
    pub(crate) state: ContactState,
    pub(crate) origin: ContactOrigin,
    pub(crate) verified: bool,
    pub(crate) tcp_hint: Option<String>,
    pub(crate) their_name: Option<String>,
    pub(crate) added_at: Timestamp,
    pub(crate) last_seen: Option<Timestamp>,
    pub(crate) reach: Option<Reach>,
}

impl ContactRecord {
    pub(crate) fn into_contact(self, id: ContactId) -> Contact {
        Contact {
            id,
            address: self.address,
            alias: self.alias,
            state: self.state,
            origin: self.origin,
            verified: self.verified,
            tcp_hint: self.tcp_hint,
            their_name: self.their_name,
            added_at: self.added_at,
            last_seen: self.last_seen,
            reach: self.reach,
        }
    }

    pub(crate) fn from_contact(c: &Contact) -> ContactRecord {
        ContactRecord {
            address: c.address,
            alias: c.alias.clone(),
            state: c.state,
            origin: c.origin,
            verified: c.verified,
            tcp_hint: c.tcp_hint.clone(),
            their_name: c.their_name.clone(),
            added_at: c.added_at,
            last_seen: c.last_seen,
            reach: c.reach,
        }
    }
}

/// `contacts.sealed` as schemas 1 and 2 stored it, read only by the
/// migration to schema 3.
#[derive(Serialize, Deserialize)]
pub(crate) struct ContactRecordV2 {
    pub(crate) address: [u8; 32],
    pub(crate) alias: String,
    pub(crate) state: ContactState,
    pub(crate) origin: ContactOriginV2,
    pub(crate) tcp_hint: Option<String>,
    pub(crate) their_name: Option<String>,
    pub(crate) added_at: Timestamp,
    pub(crate) last_seen: Option<Timestamp>,
}

impl ContactRecordV2 {
    /// The same contact in schema 3: origin as [`ContactOriginV2::migrate`]
    /// says, not verified.
    pub(crate) fn migrate(self) -> ContactRecord {
        ContactRecord {
            address: self.address,
            alias: self.alias,
            state: self.state,
            origin: self.origin.migrate(),
            verified: false,
            tcp_hint: self.tcp_hint,
            their_name: self.their_name,
            added_at: self.added_at,
            last_seen: self.last_seen,
            reach: None,
        }
    }
}

/// `messages.meta` (schema 4): everything about a message but its text,
/// which changes as it is sent, delivered and read.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct MessageMeta {
    pub(crate) msg_id: MessageId,
    pub(crate) direction: Direction,
    pub(crate) state: MessageState,
    pub(crate) sent_at: Timestamp,
    pub(crate) stored_at: Timestamp,
    pub(crate) delivered_at: Option<Timestamp>,
    pub(crate) read: bool,
    pub(crate) kind: MessageKind,
    pub(crate) reply_to: Option<MessageId>,
    pub(crate) disappear: DisappearTimer,
    pub(crate) expires_at: Option<Timestamp>,
}

impl MessageMeta {
    pub(crate) fn into_message(self, contact: ContactId, body: String) -> Message {
        Message {
            contact,
            msg_id: self.msg_id,
            direction: self.direction,
            body,
            state: self.state,
            sent_at: self.sent_at,
            stored_at: self.stored_at,
            delivered_at: self.delivered_at,
            read: self.read,
            kind: self.kind,
            reply_to: self.reply_to,
            disappear: self.disappear,
            expires_at: self.expires_at,
            reactions: vec![],
            edited: None,
        }
    }

    pub(crate) fn is_deleted(&self) -> bool {
        matches!(self.kind, MessageKind::Deleted(_))
    }

    /// The tombstone of this message: its id and direction, nothing else.
    pub(crate) fn tombstone(&self, how: Deletion) -> MessageMeta {
        MessageMeta {
            msg_id: self.msg_id,
            direction: self.direction,
            state: match self.direction {
                Direction::In => MessageState::Received,
                Direction::Out => MessageState::Delivered,
            },
            sent_at: Timestamp(0),
            stored_at: Timestamp(0),
            delivered_at: None,
            read: true,
            kind: MessageKind::Deleted(how),
            reply_to: None,
            disappear: DisappearTimer::Off,
            expires_at: None,
        }
    }
}

/// `messages.meta` as schemas 1 to 3 stored it, read only by the migration
/// to schema 4.
#[derive(Serialize, Deserialize)]
pub(crate) struct MessageMetaV3 {
    pub(crate) msg_id: MessageId,
    pub(crate) direction: Direction,
    pub(crate) state: MessageState,
    pub(crate) sent_at: Timestamp,
    pub(crate) stored_at: Timestamp,
    pub(crate) delivered_at: Option<Timestamp>,
    pub(crate) read: bool,
}

impl MessageMetaV3 {
    /// The same message in schema 4: text, no reply, no timer.
    pub(crate) fn migrate(self) -> MessageMeta {
        MessageMeta {
            msg_id: self.msg_id,
            direction: self.direction,
            state: self.state,
            sent_at: self.sent_at,
            stored_at: self.stored_at,
            delivered_at: self.delivered_at,
            read: self.read,
            kind: MessageKind::Text,
            reply_to: None,
            disappear: DisappearTimer::Off,
            expires_at: None,
        }
    }
}

/// `reactions.sealed` (schema 4).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct ReactionRecord {
    pub(crate) id: MessageId,
    pub(crate) target: MessageId,
    pub(crate) by: Direction,
    /// Empty: taken back (kept, ours, until delivered).
    pub(crate) emoji: String,
    pub(crate) delivered: bool,
}

/// `edits.sealed` (schema 5): the edit in force of a message.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct EditRecord {
    pub(crate) id: MessageId,
    pub(crate) edited_at: Timestamp,
    pub(crate) by: Direction,
    pub(crate) delivered: bool,
}

impl EditRecord {
    pub(crate) fn view(&self) -> Edited {
        Edited {
            at: self.edited_at,
            delivered: self.delivered,
        }
    }
}

/// `files.sealed` (schema 4).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct FileRecord {
    pub(crate) name: String,
    pub(crate) size: u64,
    pub(crate) sha256: [u8; 32],
    pub(crate) chunk_size: u32,
    pub(crate) next: u32,
    pub(crate) state: FileState,
}

/// `file_chunks.data` (schema 4): the index is sealed too, and checked
/// against the clear one.
#[derive(Serialize, Deserialize)]
pub(crate) struct ChunkRecord {
    pub(crate) index: u32,
    #[serde(with = "serde_bytes")]
    pub(crate) data: Vec<u8>,
}

/// `settings.sealed`: the key is sealed too, to check the lookup hash.
#[derive(Serialize, Deserialize)]
pub(crate) struct SettingRecord {
    pub(crate) key: String,
    pub(crate) value: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_no_secrets() {
        let p = Profile {
            display_name: "Secret Name".into(),
            identity_seed: Zeroizing::new([0xAB; 32]),
            created_at: Timestamp(5),
        };
        let c = Contact {
            id: ContactId(1),
            address: [0xCD; 32],
            alias: "secret alias".into(),
            state: ContactState::Accepted,
            origin: ContactOrigin::Introduced { by: [0xEF; 32] },
            verified: true,
            tcp_hint: Some("10.0.0.1:1".into()),
            their_name: Some("their secret".into()),
            added_at: Timestamp(1),
            last_seen: None,
            reach: Some(Reach {
                contacts_service: [0xCD; 32],
                discovery_key: kith_core::reach::DiscoveryKey([0xCD; 32]),
            }),
        };
        let m = Message {
            contact: ContactId(1),
            msg_id: MessageId([1; 16]),
            direction: Direction::In,
            body: "secret body".into(),
            state: MessageState::Received,
            sent_at: Timestamp(1),
            stored_at: Timestamp(1),
            delivered_at: None,
            read: false,
            kind: MessageKind::Text,
            reply_to: None,
            disappear: DisappearTimer::Off,
            expires_at: None,
            reactions: vec![ReactionView {
                by: Direction::In,
                emoji: "secret".into(),
            }],
            edited: None,
        };
        let all = format!("{p:?} {c:?} {m:?}");
        for bad in [
            "Secret", "secret", "171", "ab, ab", "cd", "205", "ef", "239", "10.0.0.1",
        ] {
            assert!(!all.contains(bad), "{bad} in {all}");
        }
    }
}
