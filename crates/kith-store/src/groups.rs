//! Private groups and forums (schema 6): the groups we belong to, the
//! invitations we received, each group's members and its signed messages.
//! A forum is a group whose first message is a `CreateForum`: the same
//! tables and rules; the kind is read from that signed message (kept for
//! good: control messages are never deleted), so it needs no column of its
//! own.
//!
//! The store keeps what the node needs to rebuild a group at start and to
//! show it; it does not judge messages. A [`GroupMessage`] value is already
//! verified (`kith_core::group`); whether its author's chain is complete is
//! `kith_sync::Replica`'s business, and the node tells the store
//! ([`GroupMessageState`]). When the store reads a message back it decodes
//! and verifies it again ([`GroupMessage::decode`]): a failure is
//! [`Error::Corrupt`].
//!
//! The same patterns as conversations: every sensitive value is sealed and
//! bound to its table, column, row and group; rows are found by keyed hash
//! (the group id, the message id, a member's key are never in clear); each
//! operation is one write transaction; whatever removes content empties the
//! WAL afterwards, and `secure_delete` zeroes the freed cells.
//!
//! Content that members relay comes back: a message deleted here (for us,
//! by its deadline or by clearing the history) stays as a *tombstone*, its
//! id, author and sequence number without its content, so that a relayed
//! copy is a [`GroupInserted::Duplicate`] and not shown again. Only posts
//! (user text) are deleted by deadline or by clearing; the control messages
//! (create, add, remove, leave) hold no user text beyond the group's name
//! and stay, so that the group's membership can be rebuilt.
//!
//! Caps ([`GroupCaps`]) bound what a hostile member can make the store hold
//! even if the node forgot to check: messages and bytes per group and per
//! author, members per group, pending invitations per contact. Over a cap
//! nothing is written and the call returns a [`GroupRefusal`].

use std::collections::HashMap;

use kith_core::Timestamp;
use kith_core::chat::DisappearTimer;
use kith_core::group::{GroupBody, GroupId, GroupMessage, GroupMessageId};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_bytes::{ByteBuf, Bytes};

use crate::conversation::begin;
use crate::crypto::{Keys, Slot};
use crate::error::{Error, Result, db};
use crate::model::{ContactId, Direction, HistoryPolicy};
use crate::store::Store;

#[cfg(test)]
mod tests;

/// Most invitations one contact can have waiting for our answer.
pub const MAX_INVITATIONS_PER_CONTACT: usize = 16;

/// The store's caps on one group. [`GroupCaps::DEFAULT`] is what
/// [`Store::insert_group_message`] and [`Store::put_group_member`] enforce;
/// the per-author ones equal `kith_sync::Limits::default()`'s, so a replica
/// with default limits refuses first and the store is the backstop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupCaps {
    /// Most message rows of one group (tombstones included).
    pub messages_per_group: u64,
    /// Most bytes of encoded messages held for one group.
    pub bytes_per_group: u64,
    /// Most message rows of one author in one group (tombstones included).
    pub messages_per_author: u64,
    /// Most bytes of encoded messages held for one author in one group.
    pub bytes_per_author: u64,
    /// Most members (any state) of one group.
    pub members_per_group: u64,
}

impl GroupCaps {
    /// The caps the store enforces.
    pub const DEFAULT: GroupCaps = GroupCaps {
        messages_per_group: 250_000,
        bytes_per_group: 256 * 1024 * 1024,
        messages_per_author: 100_000,
        bytes_per_author: 64 * 1024 * 1024,
        members_per_group: 1024,
    };
}

/// Why the store refused to keep something (nothing was written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupRefusal {
    /// The contact has this many invitations waiting already.
    TooManyInvitations {
        /// The cap ([`MAX_INVITATIONS_PER_CONTACT`]).
        max: usize,
    },
    /// The group has as many members as it may.
    TooManyMembers {
        /// The cap.
        max: u64,
    },
    /// The group holds as many messages as it may.
    GroupMessages {
        /// The cap.
        max: u64,
    },
    /// The group holds as many bytes of messages as it may.
    GroupBytes {
        /// The cap.
        max: u64,
    },
    /// The author has as many messages in the group as it may.
    AuthorMessages {
        /// The cap.
        max: u64,
    },
    /// The author has as many bytes of messages in the group as it may.
    AuthorBytes {
        /// The cap.
        max: u64,
    },
}

/// Where we stand in a group.
///
/// Not `#[non_exhaustive]`: front ends match it, and a new state is a
/// schema change anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupState {
    /// We accepted an invitation; the creator has not added us yet (its
    /// `Add` naming us has not arrived). Invitations we have not answered
    /// are [`GroupInvitation`]s, not groups.
    Joining,
    /// We are a member (we created it, or the creator added us).
    Member,
    /// We left.
    Left,
    /// The creator removed us.
    Removed,
    /// The creator dissolved it.
    Dissolved,
}

/// A group, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Group {
    /// Its id, chosen by its creator.
    pub id: GroupId,
    /// Its name (from the creator's `Create`; names of groups can clash).
    pub name: String,
    /// Its description (may be empty).
    pub description: String,
    /// The creator's identity key.
    pub creator: [u8; 32],
    /// Where we stand.
    pub state: GroupState,
    /// When we created, or accepted the invitation to, it.
    pub joined_at: Timestamp,
    /// The disappearing timer of its posts, from when they are stored here.
    pub disappear: DisappearTimer,
    /// Keep its history, or clear it when the app closes.
    pub history: HistoryPolicy,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("disappear", &self.disappear)
            .field("history", &self.history)
            .finish_non_exhaustive()
    }
}

/// A group as a list shows it: the group, its newest message and how many
/// posts are unread. Made without reading the rest of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSummary {
    /// The group.
    pub group: Group,
    /// The newest message stored (any kind, possibly a tombstone), if any.
    pub last: Option<StoredGroupMessage>,
    /// How many posts of others are unread.
    pub unread: u64,
}

/// An invitation we received and have not answered.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupInvitation {
    /// The contact who sent it.
    pub from: ContactId,
    /// The group.
    pub group: GroupId,
    /// The group's name (from the `Create`).
    pub name: String,
    /// The group's description (from the `Create`).
    pub description: String,
    /// The creator's identity key (the `Create`'s author).
    pub creator: [u8; 32],
    /// The creator's signed `Create`, encoded.
    pub create: Vec<u8>,
    /// When it arrived.
    pub received_at: Timestamp,
}

impl std::fmt::Debug for GroupInvitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupInvitation")
            .field("from", &self.from)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

/// What became of a received invitation ([`Store::receive_invitation`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvitationStored {
    /// Stored: ask the user.
    New(GroupInvitation),
    /// This contact's invitation to this group is stored already.
    Duplicate,
    /// We hold the group already (nothing stored).
    AlreadyJoined,
    /// Over a cap: not stored.
    Refused(GroupRefusal),
}

/// Where a member stands, as far as we were told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MemberState {
    /// A member.
    Member,
    /// They left.
    Left,
    /// The creator removed them.
    Removed,
}

/// A member of a group (ourselves included).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    /// Their identity key.
    pub key: [u8; 32],
    /// Who added them (the creator; the creator itself for the creator).
    pub added_by: [u8; 32],
    /// Who they are among our contacts, if they are one. Contact ids are
    /// never reused: one of a deleted contact is [`Error::NotFound`] there.
    pub contact: Option<ContactId>,
    /// Whether we revealed to each other that we are contacts: direct sync
    /// with them is allowed.
    pub revealed: bool,
    /// Member, left or removed.
    pub state: MemberState,
    /// When we learnt of them.
    pub added_at: Timestamp,
}

impl std::fmt::Debug for GroupMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupMember")
            .field("contact", &self.contact)
            .field("revealed", &self.revealed)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// What became of a member stored with [`Store::put_group_member`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberStored {
    /// A new member.
    New,
    /// The member was known: its record is replaced.
    Updated,
    /// Over the group's member cap: not stored.
    Refused(GroupRefusal),
}

/// Whether a message's author chain is complete here (as the node's
/// `kith_sync::Replica` says).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupMessageState {
    /// Accepted: its predecessors are all here.
    Accepted,
    /// Waiting for some of its author's earlier messages.
    Waiting,
}

/// How a group message's content went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupDeletion {
    /// We deleted it, here only.
    ForMe,
    /// Its disappearing deadline passed.
    Expired,
    /// The group's history was cleared.
    Cleared,
}

/// What a stored group message holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupMessageContent {
    /// The message (decoded and verified again when read).
    Body(GroupBody),
    /// A tombstone: the content is gone, the id stays.
    Deleted(GroupDeletion),
}

/// A group message, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredGroupMessage {
    /// The group.
    pub group: GroupId,
    /// Its id (the hash of its signed encoding).
    pub id: GroupMessageId,
    /// Its author's identity key.
    pub author: [u8; 32],
    /// The author's sequence number.
    pub seq: u64,
    /// When the author wrote it, by the author's clock (0 for a tombstone).
    pub timestamp: Timestamp,
    /// The message it replies to (its thread), if any.
    pub parent: Option<GroupMessageId>,
    /// `Out`: written here; `In`: received.
    pub direction: Direction,
    /// When it was stored here.
    pub received_at: Timestamp,
    /// Whether we have read it (always true for ours, for control
    /// messages and for tombstones).
    pub read: bool,
    /// Accepted, or waiting for its author's earlier messages.
    pub state: GroupMessageState,
    /// When it disappears (becomes a tombstone), if it does.
    pub expires_at: Option<Timestamp>,
    /// What it says, or that it was deleted.
    pub content: GroupMessageContent,
}

impl std::fmt::Debug for StoredGroupMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredGroupMessage")
            .field("id", &self.id)
            .field("seq", &self.seq)
            .field("direction", &self.direction)
            .field("state", &self.state)
            .field("read", &self.read)
            .field("content", &self.content)
            .finish_non_exhaustive()
    }
}

/// What became of a group message given to [`Store::insert_group_message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupInserted {
    /// Stored now (boxed: it is large beside the other variants).
    New(Box<StoredGroupMessage>),
    /// Stored before, or deleted here (a tombstone): not stored again.
    Duplicate,
    /// Over a cap: not stored.
    Refused(GroupRefusal),
}

// ---- Sealed records ----

/// `groups.sealed`.
#[derive(Serialize, Deserialize)]
struct GroupRecord {
    id: GroupId,
    name: String,
    description: String,
    creator: [u8; 32],
    state: GroupState,
    joined_at: Timestamp,
    disappear: DisappearTimer,
    history: HistoryPolicy,
}

impl GroupRecord {
    fn group(&self) -> Group {
        Group {
            id: self.id,
            name: self.name.clone(),
            description: self.description.clone(),
            creator: self.creator,
            state: self.state,
            joined_at: self.joined_at,
            disappear: self.disappear,
            history: self.history,
        }
    }
}

/// `groups.counts`: kept up to date by every change, so that caps and
/// unread counts cost one cell, not a pass over the history.
#[derive(Clone, Copy, Default, Serialize, Deserialize)]
struct GroupCounts {
    /// Posts of others not read.
    unread: u64,
    /// Message rows (tombstones included).
    messages: u64,
    /// Bytes of encoded messages held.
    bytes: u64,
}

/// `group_authors.sealed`: one author's share of a group.
#[derive(Serialize, Deserialize)]
struct AuthorRecord {
    author: [u8; 32],
    messages: u64,
    bytes: u64,
}

/// `group_invitations.sealed`.
#[derive(Serialize, Deserialize)]
struct InvitationRecord {
    group: GroupId,
    name: String,
    description: String,
    creator: [u8; 32],
    create: ByteBuf,
    received_at: Timestamp,
}

/// `group_messages.meta`: everything about a message but its encoding.
#[derive(Clone, Serialize, Deserialize)]
struct MessageMeta {
    id: GroupMessageId,
    author: [u8; 32],
    seq: u64,
    timestamp: Timestamp,
    parent: Option<GroupMessageId>,
    /// A post (user text): counted unread, deleted by deadline or clearing.
    post: bool,
    direction: Direction,
    received_at: Timestamp,
    read: bool,
    state: GroupMessageState,
    expires_at: Option<Timestamp>,
    deleted: Option<GroupDeletion>,
    /// Bytes of the encoding held (0 for a tombstone).
    size: u64,
}

impl MessageMeta {
    fn counts_unread(&self) -> bool {
        self.post && self.direction == Direction::In && !self.read && self.deleted.is_none()
    }

    /// The tombstone: id, author, seq; nothing else.
    fn tombstone(&self, how: GroupDeletion) -> MessageMeta {
        MessageMeta {
            id: self.id,
            author: self.author,
            seq: self.seq,
            timestamp: Timestamp(0),
            parent: None,
            post: self.post,
            direction: self.direction,
            received_at: Timestamp(0),
            read: true,
            state: self.state,
            expires_at: None,
            deleted: Some(how),
            size: 0,
        }
    }
}

// ---- Slots and hashes ----

fn slot(table: &'static str, column: &'static str, row: i64, owner: i64) -> Slot {
    Slot {
        table,
        column,
        row,
        owner,
    }
}

fn group_slot(row: i64) -> Slot {
    slot("groups", "sealed", row, 0)
}

fn counts_slot(row: i64) -> Slot {
    slot("groups", "counts", row, 0)
}

fn meta_slot(row: i64, group_row: i64) -> Slot {
    slot("group_messages", "meta", row, group_row)
}

fn encoded_slot(row: i64, group_row: i64) -> Slot {
    slot("group_messages", "encoded", row, group_row)
}

fn member_slot(row: i64, group_row: i64) -> Slot {
    slot("group_members", "sealed", row, group_row)
}

fn author_slot(row: i64, group_row: i64) -> Slot {
    slot("group_authors", "sealed", row, group_row)
}

fn invitation_slot(row: i64, contact: ContactId) -> Slot {
    slot("group_invitations", "sealed", row, contact.0)
}

fn expiry_slot(row: i64, group_row: i64) -> Slot {
    slot("group_expiries", "sealed", row, group_row)
}

fn id_hash(keys: &Keys, id: GroupId) -> Result<Vec<u8>> {
    keys.lookup("group-id", &[&id.0])
}

fn name_hash(keys: &Keys, name: &str) -> Result<Vec<u8>> {
    keys.lookup("group-name", &[name.as_bytes()])
}

fn message_hash(keys: &Keys, group_row: i64, id: GroupMessageId) -> Result<Vec<u8>> {
    keys.lookup("group-message", &[&group_row.to_be_bytes(), &id.0])
}

fn member_hash(keys: &Keys, group_row: i64, key: &[u8; 32]) -> Result<Vec<u8>> {
    keys.lookup("group-member", &[&group_row.to_be_bytes(), key])
}

fn author_hash(keys: &Keys, group_row: i64, key: &[u8; 32]) -> Result<Vec<u8>> {
    keys.lookup("group-author", &[&group_row.to_be_bytes(), key])
}

fn invitation_hash(keys: &Keys, contact: ContactId, id: GroupId) -> Result<Vec<u8>> {
    keys.lookup("group-invitation", &[&contact.0.to_be_bytes(), &id.0])
}

fn invitation_group_hash(keys: &Keys, id: GroupId) -> Result<Vec<u8>> {
    keys.lookup("group-invitation-group", &[&id.0])
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

// ---- Rows ----

/// A group's row and record, found by keyed hash and checked.
fn find_group(keys: &Keys, conn: &Connection, id: GroupId) -> Result<Option<(i64, GroupRecord)>> {
    let h = id_hash(keys, id)?;
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT id, sealed FROM groups WHERE id_hash = ?1",
            [h],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db("looking up a group"))?;
    let Some((row, sealed)) = row else {
        return Ok(None);
    };
    let rec: GroupRecord = keys.open(group_slot(row), &sealed, "group")?;
    if rec.id != id {
        return Err(Error::Corrupt {
            what: "group lookup hash",
        });
    }
    Ok(Some((row, rec)))
}

fn require_group(keys: &Keys, conn: &Connection, id: GroupId) -> Result<(i64, GroupRecord)> {
    find_group(keys, conn, id)?.ok_or(Error::NotFound { what: "group" })
}

fn group_at(keys: &Keys, conn: &Connection, row: i64) -> Result<GroupRecord> {
    let sealed: Vec<u8> = conn
        .query_row("SELECT sealed FROM groups WHERE id = ?1", [row], |r| {
            r.get(0)
        })
        .map_err(db("reading a group"))?;
    keys.open(group_slot(row), &sealed, "group")
}

fn write_group(keys: &Keys, tx: &Connection, row: i64, rec: &GroupRecord) -> Result<()> {
    let sealed = keys.seal(group_slot(row), rec)?;
    tx.execute(
        "UPDATE groups SET sealed = ?1, name_hash = ?2 WHERE id = ?3",
        params![sealed, name_hash(keys, &rec.name)?, row],
    )
    .map_err(db("storing a group"))?;
    Ok(())
}

/// A new group row with zero counts (inside the caller's transaction).
fn insert_group(keys: &Keys, tx: &Connection, rec: &GroupRecord) -> Result<i64> {
    let row = crate::schema::next_id(tx, "groups")?;
    tx.execute(
        "INSERT INTO groups (id, id_hash, name_hash, sealed, counts)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            row,
            id_hash(keys, rec.id)?,
            name_hash(keys, &rec.name)?,
            keys.seal(group_slot(row), rec)?,
            keys.seal(counts_slot(row), &GroupCounts::default())?,
        ],
    )
    .map_err(db("storing a group"))?;
    Ok(row)
}

fn read_counts(keys: &Keys, conn: &Connection, row: i64) -> Result<GroupCounts> {
    let sealed: Vec<u8> = conn
        .query_row("SELECT counts FROM groups WHERE id = ?1", [row], |r| {
            r.get(0)
        })
        .map_err(db("reading a group"))?;
    keys.open(counts_slot(row), &sealed, "group counts")
}

fn write_counts(keys: &Keys, tx: &Connection, row: i64, c: &GroupCounts) -> Result<()> {
    tx.execute(
        "UPDATE groups SET counts = ?1 WHERE id = ?2",
        params![keys.seal(counts_slot(row), c)?, row],
    )
    .map_err(db("storing a group"))?;
    Ok(())
}

/// An author's share of a group: its row (if any) and record.
fn read_author(
    keys: &Keys,
    conn: &Connection,
    group_row: i64,
    author: &[u8; 32],
) -> Result<(Option<i64>, AuthorRecord)> {
    let h = author_hash(keys, group_row, author)?;
    let found: Option<(i64, i64, Vec<u8>)> = conn
        .query_row(
            "SELECT id, group_id, sealed FROM group_authors WHERE key_hash = ?1",
            [h],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(db("reading a group author"))?;
    match found {
        None => Ok((
            None,
            AuthorRecord {
                author: *author,
                messages: 0,
                bytes: 0,
            },
        )),
        Some((row, owner, sealed)) => {
            let rec: AuthorRecord =
                keys.open(author_slot(row, group_row), &sealed, "group author")?;
            if owner != group_row || rec.author != *author {
                return Err(Error::Corrupt {
                    what: "group author lookup hash",
                });
            }
            Ok((Some(row), rec))
        }
    }
}

fn write_author(
    keys: &Keys,
    tx: &Connection,
    group_row: i64,
    row: Option<i64>,
    rec: &AuthorRecord,
) -> Result<()> {
    match row {
        Some(row) => {
            tx.execute(
                "UPDATE group_authors SET sealed = ?1 WHERE id = ?2",
                params![keys.seal(author_slot(row, group_row), rec)?, row],
            )
            .map_err(db("storing a group author"))?;
        }
        None => {
            let row = crate::schema::next_id(tx, "group_authors")?;
            tx.execute(
                "INSERT INTO group_authors (id, group_id, key_hash, sealed)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    row,
                    group_row,
                    author_hash(keys, group_row, &rec.author)?,
                    keys.seal(author_slot(row, group_row), rec)?,
                ],
            )
            .map_err(db("storing a group author"))?;
        }
    }
    Ok(())
}

/// A message's row and metadata, found by keyed hash and checked.
fn find_message(
    keys: &Keys,
    conn: &Connection,
    group_row: i64,
    id: GroupMessageId,
) -> Result<Option<(i64, MessageMeta)>> {
    let h = message_hash(keys, group_row, id)?;
    let found: Option<(i64, i64, Vec<u8>)> = conn
        .query_row(
            "SELECT id, group_id, meta FROM group_messages WHERE dedup_hash = ?1",
            [h],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(db("looking up a group message"))?;
    let Some((row, owner, sealed)) = found else {
        return Ok(None);
    };
    let meta: MessageMeta = keys.open(meta_slot(row, group_row), &sealed, "group message")?;
    if owner != group_row || meta.id != id {
        return Err(Error::Corrupt {
            what: "group message lookup hash",
        });
    }
    Ok(Some((row, meta)))
}

/// Every message row of a group in the order stored: (row, meta, sealed
/// encoding).
fn message_rows(
    keys: &Keys,
    conn: &Connection,
    group_row: i64,
) -> Result<Vec<(i64, MessageMeta, Vec<u8>)>> {
    let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT id, meta, encoded FROM group_messages WHERE group_id = ?1 ORDER BY id",
        )
        .and_then(|mut st| {
            st.query_map([group_row], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(db("reading group messages"))?;
    rows.into_iter()
        .map(|(row, meta, enc)| {
            let meta: MessageMeta = keys.open(meta_slot(row, group_row), &meta, "group message")?;
            Ok((row, meta, enc))
        })
        .collect()
}

/// Open a message's encoding and decode (verify) it again.
fn open_encoded(
    keys: &Keys,
    row: i64,
    group_row: i64,
    group: GroupId,
    meta: &MessageMeta,
    sealed: &[u8],
) -> Result<GroupMessage> {
    let bytes: ByteBuf = keys.open(encoded_slot(row, group_row), sealed, "group message")?;
    let msg = GroupMessage::decode(&bytes).map_err(|_| Error::Corrupt {
        what: "group message (does not verify)",
    })?;
    if msg.id() != meta.id || msg.content().group != group {
        return Err(Error::Corrupt {
            what: "group message (not the one stored)",
        });
    }
    Ok(msg)
}

/// The view of a row (decoding the message unless it is a tombstone).
fn view(
    keys: &Keys,
    row: i64,
    group_row: i64,
    group: GroupId,
    meta: MessageMeta,
    sealed: &[u8],
) -> Result<StoredGroupMessage> {
    let content = match meta.deleted {
        Some(how) => GroupMessageContent::Deleted(how),
        None => GroupMessageContent::Body(
            open_encoded(keys, row, group_row, group, &meta, sealed)?
                .content()
                .body
                .clone(),
        ),
    };
    Ok(StoredGroupMessage {
        group,
        id: meta.id,
        author: meta.author,
        seq: meta.seq,
        timestamp: meta.timestamp,
        parent: meta.parent,
        direction: meta.direction,
        received_at: meta.received_at,
        read: meta.read,
        state: meta.state,
        expires_at: meta.expires_at,
        content,
    })
}

/// Store a message of the group in `group_row` unless it is there (or its
/// tombstone is) or a cap is reached, inside the caller's transaction.
#[allow(clippy::too_many_arguments)]
fn insert_message_in(
    keys: &Keys,
    tx: &Connection,
    group_row: i64,
    group: &GroupRecord,
    msg: &GroupMessage,
    direction: Direction,
    state: GroupMessageState,
    received_at: Timestamp,
    caps: &GroupCaps,
) -> Result<GroupInserted> {
    let c = msg.content();
    if c.group != group.id {
        return Err(Error::BadInput {
            what: "group message (of another group)",
        });
    }
    if find_message(keys, tx, group_row, msg.id())?.is_some() {
        return Ok(GroupInserted::Duplicate);
    }
    let size = count(msg.encoded().len());
    let mut counts = read_counts(keys, tx, group_row)?;
    let (author_row, mut author) = read_author(keys, tx, group_row, &c.author)?;
    let refusal = if counts.messages >= caps.messages_per_group {
        Some(GroupRefusal::GroupMessages {
            max: caps.messages_per_group,
        })
    } else if counts.bytes.saturating_add(size) > caps.bytes_per_group {
        Some(GroupRefusal::GroupBytes {
            max: caps.bytes_per_group,
        })
    } else if author.messages >= caps.messages_per_author {
        Some(GroupRefusal::AuthorMessages {
            max: caps.messages_per_author,
        })
    } else if author.bytes.saturating_add(size) > caps.bytes_per_author {
        Some(GroupRefusal::AuthorBytes {
            max: caps.bytes_per_author,
        })
    } else {
        None
    };
    if let Some(r) = refusal {
        return Ok(GroupInserted::Refused(r));
    }
    let post = matches!(c.body, GroupBody::Post { .. });
    let meta = MessageMeta {
        id: msg.id(),
        author: c.author,
        seq: c.seq,
        timestamp: c.timestamp,
        parent: c.parent,
        post,
        direction,
        received_at,
        read: !(post && direction == Direction::In),
        state,
        expires_at: if post {
            group.disappear.deadline(received_at)
        } else {
            None
        },
        deleted: None,
        size,
    };
    let row = crate::schema::next_id(tx, "group_messages")?;
    tx.execute(
        "INSERT INTO group_messages (id, group_id, dedup_hash, meta, encoded)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            row,
            group_row,
            message_hash(keys, group_row, msg.id())?,
            keys.seal(meta_slot(row, group_row), &meta)?,
            keys.seal(encoded_slot(row, group_row), &Bytes::new(msg.encoded()))?,
        ],
    )
    .map_err(db("storing a group message"))?;
    if let Some(at) = meta.expires_at {
        tx.execute(
            "INSERT INTO group_expiries (id, sealed) VALUES (?1, ?2)",
            params![row, keys.seal(expiry_slot(row, group_row), &at)?],
        )
        .map_err(db("storing a deadline"))?;
    }
    counts.messages += 1;
    counts.bytes += size;
    counts.unread += u64::from(meta.counts_unread());
    write_counts(keys, tx, group_row, &counts)?;
    author.messages += 1;
    author.bytes += size;
    write_author(keys, tx, group_row, author_row, &author)?;
    Ok(GroupInserted::New(Box::new(StoredGroupMessage {
        group: group.id,
        id: meta.id,
        author: meta.author,
        seq: meta.seq,
        timestamp: meta.timestamp,
        parent: meta.parent,
        direction,
        received_at,
        read: meta.read,
        state,
        expires_at: meta.expires_at,
        content: GroupMessageContent::Body(c.body.clone()),
    })))
}

/// Turn the message in `row` into a tombstone (inside the caller's
/// transaction): its deadline goes, its bytes leave the counts (its row
/// stays counted).
fn tombstone_row(
    keys: &Keys,
    tx: &Connection,
    group_row: i64,
    row: i64,
    meta: &MessageMeta,
    how: GroupDeletion,
) -> Result<()> {
    tx.execute("DELETE FROM group_expiries WHERE id = ?1", [row])
        .map_err(db("deleting a group message"))?;
    let mut counts = read_counts(keys, tx, group_row)?;
    counts.unread = counts
        .unread
        .saturating_sub(u64::from(meta.counts_unread()));
    counts.bytes = counts.bytes.saturating_sub(meta.size);
    write_counts(keys, tx, group_row, &counts)?;
    let (author_row, mut author) = read_author(keys, tx, group_row, &meta.author)?;
    author.bytes = author.bytes.saturating_sub(meta.size);
    write_author(keys, tx, group_row, author_row, &author)?;
    tx.execute(
        "UPDATE group_messages SET meta = ?1, encoded = ?2 WHERE id = ?3",
        params![
            keys.seal(meta_slot(row, group_row), &meta.tombstone(how))?,
            keys.seal(encoded_slot(row, group_row), &Bytes::new(&[]))?,
            row
        ],
    )
    .map_err(db("deleting a group message"))?;
    Ok(())
}

/// Tombstone every post of a group still holding its content (inside the
/// caller's transaction). Returns how many.
fn clear_in(keys: &Keys, tx: &Connection, group_row: i64) -> Result<usize> {
    let mut n = 0;
    for (row, meta, _) in message_rows(keys, tx, group_row)? {
        if meta.post && meta.deleted.is_none() {
            tombstone_row(keys, tx, group_row, row, &meta, GroupDeletion::Cleared)?;
            n += 1;
        }
    }
    Ok(n)
}

fn find_invitation(
    keys: &Keys,
    conn: &Connection,
    from: ContactId,
    group: GroupId,
) -> Result<Option<(i64, InvitationRecord)>> {
    let h = invitation_hash(keys, from, group)?;
    let found: Option<(i64, i64, Vec<u8>)> = conn
        .query_row(
            "SELECT id, contact_id, sealed FROM group_invitations WHERE slot_hash = ?1",
            [h],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(db("looking up an invitation"))?;
    let Some((row, owner, sealed)) = found else {
        return Ok(None);
    };
    let rec: InvitationRecord =
        keys.open(invitation_slot(row, from), &sealed, "group invitation")?;
    if owner != from.0 || rec.group != group {
        return Err(Error::Corrupt {
            what: "group invitation lookup hash",
        });
    }
    Ok(Some((row, rec)))
}

fn invitation(from: ContactId, rec: InvitationRecord) -> GroupInvitation {
    GroupInvitation {
        from,
        group: rec.group,
        name: rec.name,
        description: rec.description,
        creator: rec.creator,
        create: rec.create.into_vec(),
        received_at: rec.received_at,
    }
}

fn contact_known(conn: &Connection, c: ContactId) -> Result<()> {
    conn.query_row("SELECT 1 FROM contacts WHERE id = ?1", [c.0], |_| Ok(()))
        .optional()
        .map_err(db("looking up a contact"))?
        .ok_or(Error::NotFound { what: "contact" })
}

/// The name and description of a group's first message (a private
/// group's `Create`, a forum's `CreateForum`, or a blog's `CreateBlog`,
/// which has neither: empty); [`Error::BadInput`] for any other message.
fn create_fields(create: &GroupMessage) -> Result<(&str, &str)> {
    match &create.content().body {
        GroupBody::Create { name, description } | GroupBody::CreateForum { name, description } => {
            Ok((name, description))
        }
        GroupBody::CreateBlog => Ok(("", "")),
        _ => Err(Error::BadInput {
            what: "group message (not a Create)",
        }),
    }
}

/// As [`create_fields`], for an invitation's first message: nobody is
/// invited to a blog (`docs/protocol.md` § 17).
fn invitation_fields(create: &GroupMessage) -> Result<(&str, &str)> {
    if matches!(create.content().body, GroupBody::CreateBlog) {
        return Err(Error::BadInput {
            what: "group invitation (to a blog)",
        });
    }
    create_fields(create)
}

/// Delete a group's rows and everything hanging off them (inside the
/// caller's transaction).
fn purge_group(tx: &Connection, group_row: i64) -> Result<()> {
    for sql in [
        "DELETE FROM group_expiries WHERE id IN (SELECT id FROM group_messages WHERE group_id = ?1)",
        "DELETE FROM group_messages WHERE group_id = ?1",
        "DELETE FROM group_authors WHERE group_id = ?1",
        "DELETE FROM group_members WHERE group_id = ?1",
        "DELETE FROM groups WHERE id = ?1",
    ] {
        tx.execute(sql, [group_row])
            .map_err(db("deleting a group"))?;
    }
    Ok(())
}

/// Store or replace a member (inside the caller's transaction).
fn put_member_in(
    keys: &Keys,
    tx: &Connection,
    group_row: i64,
    m: &GroupMember,
    caps: &GroupCaps,
) -> Result<MemberStored> {
    if let Some(c) = m.contact {
        contact_known(tx, c)?;
    }
    let h = member_hash(keys, group_row, &m.key)?;
    let found: Option<i64> = tx
        .query_row(
            "SELECT id FROM group_members WHERE key_hash = ?1",
            [&h],
            |r| r.get(0),
        )
        .optional()
        .map_err(db("looking up a group member"))?;
    if let Some(row) = found {
        tx.execute(
            "UPDATE group_members SET sealed = ?1 WHERE id = ?2 AND group_id = ?3",
            params![keys.seal(member_slot(row, group_row), m)?, row, group_row],
        )
        .map_err(db("storing a group member"))?;
        return Ok(MemberStored::Updated);
    }
    let n: i64 = tx
        .query_row(
            "SELECT COUNT(*) FROM group_members WHERE group_id = ?1",
            [group_row],
            |r| r.get(0),
        )
        .map_err(db("counting group members"))?;
    if u64::try_from(n).unwrap_or(u64::MAX) >= caps.members_per_group {
        return Ok(MemberStored::Refused(GroupRefusal::TooManyMembers {
            max: caps.members_per_group,
        }));
    }
    let row = crate::schema::next_id(tx, "group_members")?;
    tx.execute(
        "INSERT INTO group_members (id, group_id, key_hash, sealed) VALUES (?1, ?2, ?3, ?4)",
        params![
            row,
            group_row,
            h,
            keys.seal(member_slot(row, group_row), m)?
        ],
    )
    .map_err(db("storing a group member"))?;
    Ok(MemberStored::New)
}

/// Every group row and record, in the order stored.
fn group_rows(keys: &Keys, conn: &Connection) -> Result<Vec<(i64, GroupRecord)>> {
    let rows: Vec<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT id, sealed FROM groups ORDER BY id")
        .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(db("reading groups"))?;
    rows.into_iter()
        .map(|(row, sealed)| Ok((row, keys.open(group_slot(row), &sealed, "group")?)))
        .collect()
}

impl Store {
    // ---- Groups ----

    /// Store a group we create, from our signed `Create` (its first
    /// message, stored as ours and accepted): we are its creator and first
    /// member. Our blog is stored the same way from our `CreateBlog` (no
    /// name, no description). [`Error::BadInput`] if `create` is not a
    /// `Create`, `CreateForum` or `CreateBlog`, [`Error::AlreadyExists`]
    /// if we hold that group.
    pub fn create_group(&mut self, create: &GroupMessage, now: Timestamp) -> Result<Group> {
        let (name, description) = create_fields(create)?;
        let author = create.content().author;
        let rec = GroupRecord {
            id: create.content().group,
            name: name.to_owned(),
            description: description.to_owned(),
            creator: author,
            state: GroupState::Member,
            joined_at: now,
            disappear: DisappearTimer::Off,
            history: HistoryPolicy::Keep,
        };
        let me = GroupMember {
            key: author,
            added_by: author,
            contact: None,
            revealed: false,
            state: MemberState::Member,
            added_at: now,
        };
        self.make_group(&rec, create, Direction::Out, &me, None)
    }

    /// Store a contact's blog, from its owner's signed `CreateBlog` as a
    /// sync brought it (`docs/protocol.md` § 17: no invitation): the owner
    /// is its creator and first member, we read it ([`GroupState::Member`]).
    /// [`Error::BadInput`] if `create` is not a `CreateBlog` (which
    /// `kith-core` accepts only at `seq` 0 in its author's own blog),
    /// [`Error::AlreadyExists`] if we hold that blog.
    pub fn receive_blog(&mut self, create: &GroupMessage, now: Timestamp) -> Result<Group> {
        if !matches!(create.content().body, GroupBody::CreateBlog) {
            return Err(Error::BadInput {
                what: "group message (not a CreateBlog)",
            });
        }
        let owner = create.content().author;
        let rec = GroupRecord {
            id: create.content().group,
            name: String::new(),
            description: String::new(),
            creator: owner,
            state: GroupState::Member,
            joined_at: now,
            disappear: DisappearTimer::Off,
            history: HistoryPolicy::Keep,
        };
        let first = GroupMember {
            key: owner,
            added_by: owner,
            contact: None,
            revealed: false,
            state: MemberState::Member,
            added_at: now,
        };
        self.make_group(&rec, create, Direction::In, &first, Some(now))
    }

    /// The new group `rec` with its `Create` and first member, removing
    /// every invitation to it (one transaction).
    fn make_group(
        &mut self,
        rec: &GroupRecord,
        create: &GroupMessage,
        direction: Direction,
        member: &GroupMember,
        received_at: Option<Timestamp>,
    ) -> Result<Group> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        if find_group(keys, &tx, rec.id)?.is_some() {
            return Err(Error::AlreadyExists { what: "group" });
        }
        let row = insert_group(keys, &tx, rec)?;
        let at = received_at.unwrap_or(rec.joined_at);
        let caps = GroupCaps::DEFAULT;
        let stored = insert_message_in(
            keys,
            &tx,
            row,
            rec,
            create,
            direction,
            GroupMessageState::Accepted,
            at,
            &caps,
        )?;
        if !matches!(stored, GroupInserted::New(_)) {
            return Err(Error::Bug("a new group's first message was not stored"));
        }
        if !matches!(
            put_member_in(keys, &tx, row, member, &caps)?,
            MemberStored::New
        ) {
            return Err(Error::Bug("a new group's first member was not stored"));
        }
        tx.execute(
            "DELETE FROM group_invitations WHERE group_hash = ?1",
            [invitation_group_hash(keys, rec.id)?],
        )
        .map_err(db("deleting invitations"))?;
        tx.commit().map_err(db("storing a group"))?;
        self.scrub_wal();
        Ok(rec.group())
    }

    /// A group by id. [`Error::NotFound`] if we do not hold it.
    pub fn group(&self, id: GroupId) -> Result<Group> {
        Ok(require_group(&self.keys, &self.conn, id)?.1.group())
    }

    /// Every group we hold, in the order they were stored.
    pub fn groups(&self) -> Result<Vec<Group>> {
        Ok(group_rows(&self.keys, &self.conn)?
            .into_iter()
            .map(|(_, r)| r.group())
            .collect())
    }

    /// The groups named exactly `name` (case-sensitive; names of groups can
    /// clash: then the user picks one by id). Found by keyed hash.
    pub fn groups_by_name(&self, name: &str) -> Result<Vec<Group>> {
        let h = name_hash(&self.keys, name)?;
        let rows: Vec<(i64, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT id, sealed FROM groups WHERE name_hash = ?1 ORDER BY id")
            .and_then(|mut st| st.query_map([h], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(db("looking up groups"))?;
        let mut out = vec![];
        for (row, sealed) in rows {
            let rec: GroupRecord = self.keys.open(group_slot(row), &sealed, "group")?;
            if rec.name != name {
                return Err(Error::Corrupt {
                    what: "group name lookup hash",
                });
            }
            out.push(rec.group());
        }
        Ok(out)
    }

    /// Every group with its newest message and unread count, at a cost that
    /// does not grow with the histories (the newest row is one step down
    /// the `group_messages_by_group` index; the count is one sealed cell).
    pub fn group_summaries(&self) -> Result<Vec<GroupSummary>> {
        type Row = (i64, Vec<u8>, Vec<u8>, Option<(i64, Vec<u8>, Vec<u8>)>);
        let rows: Vec<Row> = self
            .conn
            .prepare_cached(
                "SELECT g.id, g.sealed, g.counts, m.id, m.meta, m.encoded FROM groups AS g
                 LEFT JOIN group_messages AS m ON m.id = (SELECT id FROM group_messages
                     WHERE group_id = g.id ORDER BY id DESC LIMIT 1)
                 ORDER BY g.id",
            )
            .and_then(|mut st| {
                st.query_map([], |r| {
                    let last = match r.get::<_, Option<i64>>(3)? {
                        Some(id) => Some((id, r.get(4)?, r.get(5)?)),
                        None => None,
                    };
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, last))
                })?
                .collect()
            })
            .map_err(db("reading groups"))?;
        let keys = &self.keys;
        rows.into_iter()
            .map(|(row, sealed, counts, last)| {
                let rec: GroupRecord = keys.open(group_slot(row), &sealed, "group")?;
                let counts: GroupCounts = keys.open(counts_slot(row), &counts, "group counts")?;
                let last = match last {
                    Some((m, meta, enc)) => {
                        let meta: MessageMeta =
                            keys.open(meta_slot(m, row), &meta, "group message")?;
                        Some(view(keys, m, row, rec.id, meta, &enc)?)
                    }
                    None => None,
                };
                Ok(GroupSummary {
                    group: rec.group(),
                    last,
                    unread: counts.unread,
                })
            })
            .collect()
    }

    /// Update the group's record with `f` (one transaction).
    fn update_group(&mut self, id: GroupId, f: impl FnOnce(&mut GroupRecord)) -> Result<()> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let (row, mut rec) = require_group(keys, &tx, id)?;
        f(&mut rec);
        write_group(keys, &tx, row, &rec)?;
        tx.commit().map_err(db("storing a group"))
    }

    /// Where we stand in the group now (e.g. `Member` once the creator's
    /// `Add` of us arrived, `Removed` when its `Remove` did).
    pub fn set_group_state(&mut self, id: GroupId, state: GroupState) -> Result<()> {
        self.update_group(id, |r| r.state = state)
    }

    /// The group's disappearing timer: posts stored from now on disappear
    /// that long after they are stored here.
    pub fn set_group_disappear(&mut self, id: GroupId, timer: DisappearTimer) -> Result<()> {
        self.update_group(id, |r| r.disappear = timer)
    }

    /// Keep the group's history, or clear it when the app closes
    /// ([`Store::clear_group_session_histories`]).
    pub fn set_group_history(&mut self, id: GroupId, history: HistoryPolicy) -> Result<()> {
        self.update_group(id, |r| r.history = history)
    }

    /// Delete a group and everything of it (messages, tombstones,
    /// deadlines, members, counts), e.g. when we leave it or it is
    /// dissolved; the freed cells are zeroed and the WAL emptied.
    /// [`Error::NotFound`] if we do not hold it.
    pub fn delete_group(&mut self, id: GroupId) -> Result<()> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let (row, _) = require_group(keys, &tx, id)?;
        purge_group(&tx, row)?;
        tx.commit().map_err(db("deleting a group"))?;
        self.scrub_wal();
        Ok(())
    }

    // ---- Invitations ----

    /// Store `from`'s invitation to the group `create` (the creator's
    /// signed `Create`) until we answer it. At most
    /// [`MAX_INVITATIONS_PER_CONTACT`] per contact wait:
    /// [`InvitationStored::Refused`] over that. [`Error::NotFound`] for an
    /// unknown contact, [`Error::BadInput`] if `create` is not a `Create`.
    pub fn receive_invitation(
        &mut self,
        from: ContactId,
        create: &GroupMessage,
        received_at: Timestamp,
    ) -> Result<InvitationStored> {
        let (name, description) = invitation_fields(create)?;
        let group = create.content().group;
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        contact_known(&tx, from)?;
        if find_group(keys, &tx, group)?.is_some() {
            return Ok(InvitationStored::AlreadyJoined);
        }
        if find_invitation(keys, &tx, from, group)?.is_some() {
            return Ok(InvitationStored::Duplicate);
        }
        let n: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM group_invitations WHERE contact_id = ?1",
                [from.0],
                |r| r.get(0),
            )
            .map_err(db("counting invitations"))?;
        if usize::try_from(n).unwrap_or(usize::MAX) >= MAX_INVITATIONS_PER_CONTACT {
            return Ok(InvitationStored::Refused(
                GroupRefusal::TooManyInvitations {
                    max: MAX_INVITATIONS_PER_CONTACT,
                },
            ));
        }
        let rec = InvitationRecord {
            group,
            name: name.to_owned(),
            description: description.to_owned(),
            creator: create.content().author,
            create: ByteBuf::from(create.encoded().to_vec()),
            received_at,
        };
        let row = crate::schema::next_id(&tx, "group_invitations")?;
        tx.execute(
            "INSERT INTO group_invitations (id, contact_id, slot_hash, group_hash, sealed)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                row,
                from.0,
                invitation_hash(keys, from, group)?,
                invitation_group_hash(keys, group)?,
                keys.seal(invitation_slot(row, from), &rec)?,
            ],
        )
        .map_err(db("storing an invitation"))?;
        tx.commit().map_err(db("storing an invitation"))?;
        Ok(InvitationStored::New(invitation(from, rec)))
    }

    /// Every invitation waiting for our answer, oldest first.
    pub fn invitations(&self) -> Result<Vec<GroupInvitation>> {
        let rows: Vec<(i64, i64, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT id, contact_id, sealed FROM group_invitations ORDER BY id")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(db("reading invitations"))?;
        rows.into_iter()
            .map(|(row, contact, sealed)| {
                let c = ContactId(contact);
                let rec: InvitationRecord =
                    self.keys
                        .open(invitation_slot(row, c), &sealed, "group invitation")?;
                Ok(invitation(c, rec))
            })
            .collect()
    }

    /// Accept `from`'s invitation to `group`: the group is stored
    /// ([`GroupState::Joining`] until the creator adds us), with the
    /// creator's `Create` or `CreateForum` (decoded and verified again:
    /// [`Error::Corrupt`] if it does not) and the creator as its first
    /// member (for a private group our contact `from`, revealed: we sync
    /// with them directly; a forum's invitation may come from any member,
    /// so its creator is stored without a contact). Every invitation to
    /// that group is removed. [`Error::NotFound`] if there is no such
    /// invitation, [`Error::AlreadyExists`] if we hold the group.
    pub fn accept_invitation(
        &mut self,
        from: ContactId,
        group: GroupId,
        now: Timestamp,
    ) -> Result<Group> {
        let (_, inv) =
            find_invitation(&self.keys, &self.conn, from, group)?.ok_or(Error::NotFound {
                what: "group invitation",
            })?;
        let create = GroupMessage::decode(&inv.create).map_err(|_| Error::Corrupt {
            what: "group invitation (does not verify)",
        })?;
        let (name, description) = invitation_fields(&create).map_err(|_| Error::Corrupt {
            what: "group invitation (not a Create)",
        })?;
        if create.content().group != group
            || create.content().author != inv.creator
            || name != inv.name
            || description != inv.description
        {
            return Err(Error::Corrupt {
                what: "group invitation (not its Create)",
            });
        }
        let rec = GroupRecord {
            id: group,
            name: inv.name,
            description: inv.description,
            creator: inv.creator,
            state: GroupState::Joining,
            joined_at: now,
            disappear: DisappearTimer::Off,
            history: HistoryPolicy::Keep,
        };
        // A private group's invitation comes from its creator; a forum's
        // from any member, so its creator is not known to be `from`.
        let by_creator = create.content().body.opens() == Some(kith_core::group::GroupKind::Group);
        let creator = GroupMember {
            key: inv.creator,
            added_by: inv.creator,
            contact: by_creator.then_some(from),
            revealed: by_creator,
            state: MemberState::Member,
            added_at: now,
        };
        self.make_group(
            &rec,
            &create,
            Direction::In,
            &creator,
            Some(inv.received_at),
        )
    }

    /// Decline (or forget) `from`'s invitation to `group`: `false` if
    /// there was none.
    pub fn decline_invitation(&mut self, from: ContactId, group: GroupId) -> Result<bool> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let Some((row, _)) = find_invitation(keys, &tx, from, group)? else {
            return Ok(false);
        };
        tx.execute("DELETE FROM group_invitations WHERE id = ?1", [row])
            .map_err(db("deleting an invitation"))?;
        tx.commit().map_err(db("deleting an invitation"))?;
        self.scrub_wal();
        Ok(true)
    }

    // ---- Members ----

    /// Store a member of the group, or replace the record of a known one
    /// (same key): its state, contact, revealed flag. At most
    /// `GroupCaps::DEFAULT.members_per_group` members (any state):
    /// [`MemberStored::Refused`] over that. [`Error::NotFound`] for an
    /// unknown group or contact.
    pub fn put_group_member(
        &mut self,
        group: GroupId,
        member: &GroupMember,
    ) -> Result<MemberStored> {
        self.put_group_member_capped(group, member, &GroupCaps::DEFAULT)
    }

    pub(crate) fn put_group_member_capped(
        &mut self,
        group: GroupId,
        member: &GroupMember,
        caps: &GroupCaps,
    ) -> Result<MemberStored> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let (row, _) = require_group(keys, &tx, group)?;
        let stored = put_member_in(keys, &tx, row, member, caps)?;
        if !matches!(stored, MemberStored::Refused(_)) {
            tx.commit().map_err(db("storing a group member"))?;
        }
        Ok(stored)
    }

    /// One member of the group, by identity key.
    pub fn group_member(&self, group: GroupId, key: &[u8; 32]) -> Result<Option<GroupMember>> {
        let (row, _) = require_group(&self.keys, &self.conn, group)?;
        let found: Option<(i64, i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT id, group_id, sealed FROM group_members WHERE key_hash = ?1",
                [member_hash(&self.keys, row, key)?],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(db("looking up a group member"))?;
        let Some((m, owner, sealed)) = found else {
            return Ok(None);
        };
        let rec: GroupMember = self
            .keys
            .open(member_slot(m, row), &sealed, "group member")?;
        if owner != row || rec.key != *key {
            return Err(Error::Corrupt {
                what: "group member lookup hash",
            });
        }
        Ok(Some(rec))
    }

    /// Every member of the group (any state), in the order we learnt of them.
    pub fn group_members(&self, group: GroupId) -> Result<Vec<GroupMember>> {
        let (row, _) = require_group(&self.keys, &self.conn, group)?;
        let rows: Vec<(i64, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT id, sealed FROM group_members WHERE group_id = ?1 ORDER BY id")
            .and_then(|mut st| {
                st.query_map([row], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(db("reading group members"))?;
        rows.into_iter()
            .map(|(m, sealed)| self.keys.open(member_slot(m, row), &sealed, "group member"))
            .collect()
    }

    // ---- Messages ----

    /// Store a group message (of a group we hold: [`Error::NotFound`]
    /// otherwise): `Out` if written here (never unread), `In` if received;
    /// `state` as the node's replica says. Deduplicated on its id: a
    /// message stored before, or deleted here (its tombstone), is a
    /// [`GroupInserted::Duplicate`]. Over a cap of [`GroupCaps::DEFAULT`]
    /// it is [`GroupInserted::Refused`]. A post of a group with a
    /// disappearing timer gets its deadline from `received_at`. A post of
    /// others (`In`) counts as unread whether accepted or waiting; control
    /// messages and ours never do.
    pub fn insert_group_message(
        &mut self,
        msg: &GroupMessage,
        direction: Direction,
        state: GroupMessageState,
        received_at: Timestamp,
    ) -> Result<GroupInserted> {
        self.insert_group_message_capped(msg, direction, state, received_at, &GroupCaps::DEFAULT)
    }

    pub(crate) fn insert_group_message_capped(
        &mut self,
        msg: &GroupMessage,
        direction: Direction,
        state: GroupMessageState,
        received_at: Timestamp,
        caps: &GroupCaps,
    ) -> Result<GroupInserted> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let (row, rec) = require_group(keys, &tx, msg.content().group)?;
        let stored = insert_message_in(
            keys,
            &tx,
            row,
            &rec,
            msg,
            direction,
            state,
            received_at,
            caps,
        )?;
        if matches!(stored, GroupInserted::New(_)) {
            tx.commit().map_err(db("storing a group message"))?;
        }
        Ok(stored)
    }

    /// Mark the messages `ids` of the group accepted (their chains are
    /// complete now). Returns how many were waiting; unknown ids are
    /// skipped.
    pub fn set_group_messages_accepted(
        &mut self,
        group: GroupId,
        ids: &[GroupMessageId],
    ) -> Result<usize> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let (row, _) = require_group(keys, &tx, group)?;
        let mut n = 0;
        for &id in ids {
            if let Some((m, mut meta)) = find_message(keys, &tx, row, id)?
                && meta.state == GroupMessageState::Waiting
            {
                meta.state = GroupMessageState::Accepted;
                tx.execute(
                    "UPDATE group_messages SET meta = ?1 WHERE id = ?2",
                    params![keys.seal(meta_slot(m, row), &meta)?, m],
                )
                .map_err(db("storing a group message"))?;
                n += 1;
            }
        }
        tx.commit().map_err(db("storing a group message"))?;
        Ok(n)
    }

    /// One message of the group (a tombstone too), if we hold it.
    pub fn group_message(
        &self,
        group: GroupId,
        id: GroupMessageId,
    ) -> Result<Option<StoredGroupMessage>> {
        let (row, _) = require_group(&self.keys, &self.conn, group)?;
        let Some((m, meta)) = find_message(&self.keys, &self.conn, row, id)? else {
            return Ok(None);
        };
        let enc: Vec<u8> = self
            .conn
            .query_row(
                "SELECT encoded FROM group_messages WHERE id = ?1",
                [m],
                |r| r.get(0),
            )
            .map_err(db("reading a group message"))?;
        Ok(Some(view(&self.keys, m, row, group, meta, &enc)?))
    }

    /// The group's messages holding content (not tombstones), in the order
    /// stored, each decoded and verified again. Threads: `parent`.
    pub fn group_messages(&self, group: GroupId) -> Result<Vec<StoredGroupMessage>> {
        let (row, _) = require_group(&self.keys, &self.conn, group)?;
        message_rows(&self.keys, &self.conn, row)?
            .into_iter()
            .filter(|(_, meta, _)| meta.deleted.is_none())
            .map(|(m, meta, enc)| view(&self.keys, m, row, group, meta, &enc))
            .collect()
    }

    /// The group's signed messages holding content (not tombstones), in the
    /// order stored, decoded and verified again ([`Error::Corrupt`] if one
    /// does not): what the node gives a fresh `kith_sync::Replica` at
    /// start, with their [`GroupMessageState`]s.
    pub fn load_group_messages(
        &self,
        group: GroupId,
    ) -> Result<Vec<(GroupMessage, GroupMessageState)>> {
        let (row, _) = require_group(&self.keys, &self.conn, group)?;
        message_rows(&self.keys, &self.conn, row)?
            .into_iter()
            .filter(|(_, meta, _)| meta.deleted.is_none())
            .map(|(m, meta, enc)| {
                Ok((
                    open_encoded(&self.keys, m, row, group, &meta, &enc)?,
                    meta.state,
                ))
            })
            .collect()
    }

    /// The group's tombstones: (id, author, seq) of each message deleted
    /// here. The node tells its replica these exist, so that they are not
    /// asked for again and the messages after them in their authors'
    /// chains are not counted as waiting for them.
    pub fn group_tombstones(&self, group: GroupId) -> Result<Vec<(GroupMessageId, [u8; 32], u64)>> {
        let (row, _) = require_group(&self.keys, &self.conn, group)?;
        Ok(message_rows(&self.keys, &self.conn, row)?
            .into_iter()
            .filter(|(_, meta, _)| meta.deleted.is_some())
            .map(|(_, meta, _)| (meta.id, meta.author, meta.seq))
            .collect())
    }

    /// How many posts of others in the group are unread: one sealed cell.
    pub fn group_unread_count(&self, group: GroupId) -> Result<u64> {
        let (row, _) = require_group(&self.keys, &self.conn, group)?;
        Ok(read_counts(&self.keys, &self.conn, row)?.unread)
    }

    /// Mark every post of the group read (O(messages), like showing it).
    pub fn mark_group_read(&mut self, group: GroupId) -> Result<()> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let (row, _) = require_group(keys, &tx, group)?;
        let mut counts = read_counts(keys, &tx, row)?;
        if counts.unread == 0 {
            return Ok(());
        }
        for (m, mut meta, _) in message_rows(keys, &tx, row)? {
            if meta.counts_unread() {
                meta.read = true;
                tx.execute(
                    "UPDATE group_messages SET meta = ?1 WHERE id = ?2",
                    params![keys.seal(meta_slot(m, row), &meta)?, m],
                )
                .map_err(db("marking group messages read"))?;
            }
        }
        counts.unread = 0;
        write_counts(keys, &tx, row, &counts)?;
        tx.commit().map_err(db("marking group messages read"))
    }

    /// Delete one message of the group for us: it becomes a tombstone (its
    /// id, author and seq; no content, no times), the freed cells are
    /// zeroed and the WAL emptied. `false` if there is no such message or
    /// it is a tombstone already.
    pub fn delete_group_message(&mut self, group: GroupId, id: GroupMessageId) -> Result<bool> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let (row, rec) = require_group(keys, &tx, group)?;
        let Some((m, meta)) = find_message(keys, &tx, row, id)? else {
            return Ok(false);
        };
        if meta.deleted.is_some() {
            return Ok(false);
        }
        if !meta.post && meta.seq == 0 && meta.author == rec.creator {
            // The creator's first message says what the group is (a
            // private group or a forum) and is needed to rebuild it.
            return Err(Error::BadInput {
                what: "a group's first message (it says what the group is)",
            });
        }
        tombstone_row(keys, &tx, row, m, &meta, GroupDeletion::ForMe)?;
        tx.commit().map_err(db("deleting a group message"))?;
        self.scrub_wal();
        Ok(true)
    }

    /// Clear the group's history: every post becomes a tombstone (so that
    /// members relaying it do not bring it back); the control messages
    /// stay. Returns how many posts were cleared. Deleted content is zeroed
    /// in the file and the WAL emptied.
    pub fn clear_group_history(&mut self, group: GroupId) -> Result<usize> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let (row, _) = require_group(keys, &tx, group)?;
        let n = clear_in(keys, &tx, row)?;
        tx.commit().map_err(db("clearing a group"))?;
        self.scrub_wal();
        Ok(n)
    }

    /// Clear the history of every group whose policy is
    /// [`HistoryPolicy::Session`] (the node calls it when it stops, and at
    /// start); returns those groups.
    pub fn clear_group_session_histories(&mut self) -> Result<Vec<GroupId>> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let mut cleared = vec![];
        for (row, rec) in group_rows(keys, &tx)? {
            if rec.history == HistoryPolicy::Session {
                clear_in(keys, &tx, row)?;
                cleared.push(rec.id);
            }
        }
        tx.commit().map_err(db("clearing groups"))?;
        self.scrub_wal();
        Ok(cleared)
    }

    /// Every group deadline: (message row, group row, deadline). Opens the
    /// rows of `group_expiries` only.
    fn group_deadlines(&self) -> Result<Vec<(i64, i64, Timestamp)>> {
        let rows: Vec<(i64, i64, Vec<u8>)> = self
            .conn
            .prepare_cached(
                "SELECT e.id, m.group_id, e.sealed FROM group_expiries AS e
                 JOIN group_messages AS m ON m.id = e.id ORDER BY e.id",
            )
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(db("reading deadlines"))?;
        rows.into_iter()
            .map(|(m, g, sealed)| {
                let at: Timestamp = self.keys.open(expiry_slot(m, g), &sealed, "deadline")?;
                Ok((m, g, at))
            })
            .collect()
    }

    /// The earliest deadline of any group post: when the node should next
    /// call [`Store::delete_expired_group_messages`].
    pub fn next_group_expiry(&self) -> Result<Option<Timestamp>> {
        Ok(self
            .group_deadlines()?
            .into_iter()
            .map(|(_, _, at)| at)
            .min())
    }

    /// Turn every group post whose deadline is at or before `now` into a
    /// tombstone ([`GroupDeletion::Expired`]), zero it in the file and
    /// empty the WAL. Returns what disappeared.
    pub fn delete_expired_group_messages(
        &mut self,
        now: Timestamp,
    ) -> Result<Vec<(GroupId, GroupMessageId)>> {
        let due: Vec<(i64, i64)> = self
            .group_deadlines()?
            .into_iter()
            .filter(|&(_, _, at)| at <= now)
            .map(|(m, g, _)| (m, g))
            .collect();
        if due.is_empty() {
            return Ok(vec![]);
        }
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let mut ids: HashMap<i64, GroupId> = HashMap::new();
        let mut gone = vec![];
        for (m, g) in due {
            let group = match ids.get(&g) {
                Some(&id) => id,
                None => {
                    let id = group_at(keys, &tx, g)?.id;
                    ids.insert(g, id);
                    id
                }
            };
            let sealed: Vec<u8> = tx
                .query_row("SELECT meta FROM group_messages WHERE id = ?1", [m], |r| {
                    r.get(0)
                })
                .map_err(db("reading a group message"))?;
            let meta: MessageMeta = keys.open(meta_slot(m, g), &sealed, "group message")?;
            tombstone_row(keys, &tx, g, m, &meta, GroupDeletion::Expired)?;
            gone.push((group, meta.id));
        }
        tx.commit().map_err(db("deleting expired group messages"))?;
        self.scrub_wal();
        Ok(gone)
    }
}
