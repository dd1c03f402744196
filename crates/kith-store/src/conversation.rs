//! Conversations beyond plain text (schema 4): replies, reactions,
//! deletion (for us and for both, with tombstones), disappearing timers
//! and their deadlines, history policy, and what waits to be sent.
//!
//! Everything that removes content removes it in one transaction with its
//! dependents (reactions, file chunks, deadlines), then empties the WAL:
//! with `secure_delete` on, the freed cells are zeroed in the file.

use std::collections::HashMap;

use kith_core::chat::{Chat, DisappearSetting, DisappearTimer, Emoji, Reaction};
use kith_core::file::FileName;
use kith_core::file::FileOffer;
use kith_core::limits::MAX_DELETE_IDS;
use kith_core::wire::{PeerMessage, Text};
use kith_core::{MessageId, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

use crate::crypto::{Keys, Slot};
use crate::error::{Error, Result, db};
use crate::model::{
    ContactId, ConversationSettings, Deletion, Direction, FileRecord, FileState, HistoryPolicy,
    Inserted, Message, MessageKind, MessageMeta, MessageState, Quote, ReactionRecord, ReactionView,
};
use crate::store::{
    Store, body_slot, find_message, meta_slot, open_message, read_unread, write_unread,
};

/// A write transaction on `conn` (a free function, so that the caller can
/// hold the store's keys at the same time).
pub(crate) fn begin(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("starting a transaction"))
}

fn conversation_slot(contact: ContactId) -> Slot {
    Slot {
        table: "conversations",
        column: "sealed",
        row: contact.0,
        owner: 0,
    }
}

fn expiry_slot(row: i64) -> Slot {
    Slot {
        table: "expiries",
        column: "sealed",
        row,
        owner: 0,
    }
}

fn reaction_slot(row: i64, target_row: i64) -> Slot {
    Slot {
        table: "reactions",
        column: "sealed",
        row,
        owner: target_row,
    }
}

fn side(d: Direction) -> u8 {
    match d {
        Direction::Out => 0,
        Direction::In => 1,
    }
}

/// Store a message row's deadline (inside the caller's transaction).
pub(crate) fn write_expiry(keys: &Keys, tx: &Connection, row: i64, at: Timestamp) -> Result<()> {
    let sealed = keys.seal(expiry_slot(row), &at)?;
    tx.execute(
        "INSERT INTO expiries (id, sealed) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed",
        params![row, sealed],
    )
    .map_err(db("storing a deadline"))?;
    Ok(())
}

/// Delete what hangs off a message row: its reactions, file and chunks,
/// deadline.
fn delete_dependents(tx: &Connection, row: i64) -> Result<()> {
    for sql in [
        "DELETE FROM reactions WHERE message_id = ?1",
        "DELETE FROM expiries WHERE id = ?1",
        "DELETE FROM file_chunks WHERE file_id = ?1",
        "DELETE FROM files WHERE id = ?1",
    ] {
        tx.execute(sql, [row]).map_err(db("deleting a message"))?;
    }
    Ok(())
}

/// Take an unread incoming message off the count (re-sealed either way).
fn uncount(keys: &Keys, tx: &Connection, contact: ContactId, meta: &MessageMeta) -> Result<()> {
    let n = read_unread(keys, tx, contact)?;
    let unread = meta.direction == Direction::In && !meta.read;
    write_unread(keys, tx, contact, n.saturating_sub(u64::from(unread)))
}

/// Turn a message into a tombstone (inside the caller's transaction):
/// `false` if there is no such message or it is one already.
pub(crate) fn tombstone(
    keys: &Keys,
    tx: &Connection,
    contact: ContactId,
    msg_id: MessageId,
    how: Deletion,
) -> Result<bool> {
    let Some((row, meta)) = find_message(keys, tx, contact, msg_id)? else {
        return Ok(false);
    };
    if meta.is_deleted() {
        return Ok(false);
    }
    write_tombstone(keys, tx, contact, row, &meta, how)?;
    Ok(true)
}

fn write_tombstone(
    keys: &Keys,
    tx: &Connection,
    contact: ContactId,
    row: i64,
    meta: &MessageMeta,
    how: Deletion,
) -> Result<()> {
    delete_dependents(tx, row)?;
    uncount(keys, tx, contact, meta)?;
    let sealed_meta = keys.seal(meta_slot(row, contact), &meta.tombstone(how))?;
    let sealed_body = keys.seal(body_slot(row, contact), &"")?;
    tx.execute(
        "UPDATE messages SET meta = ?1, body = ?2 WHERE id = ?3",
        params![sealed_meta, sealed_body, row],
    )
    .map_err(db("deleting a message"))?;
    Ok(())
}

/// Remove a message row and everything of it, leaving no tombstone.
fn remove_row(keys: &Keys, tx: &Connection, contact: ContactId, row: i64) -> Result<()> {
    let sealed: Vec<u8> = tx
        .query_row("SELECT meta FROM messages WHERE id = ?1", [row], |r| {
            r.get(0)
        })
        .map_err(db("reading a message"))?;
    let meta: MessageMeta = keys.open(meta_slot(row, contact), &sealed, "message")?;
    delete_dependents(tx, row)?;
    uncount(keys, tx, contact, &meta)?;
    tx.execute("DELETE FROM messages WHERE id = ?1", [row])
        .map_err(db("deleting a message"))?;
    Ok(())
}

/// Delete every message of a conversation and what hangs off them
/// (inside the caller's transaction). The unread count is left to the
/// caller.
pub(crate) fn purge_conversation(tx: &Connection, contact: ContactId) -> Result<usize> {
    const OF: &str = "(SELECT id FROM messages WHERE contact_id = ?1)";
    for sql in [
        format!("DELETE FROM reactions WHERE message_id IN {OF}"),
        format!("DELETE FROM expiries WHERE id IN {OF}"),
        format!("DELETE FROM file_chunks WHERE file_id IN {OF}"),
        format!("DELETE FROM files WHERE id IN {OF}"),
    ] {
        tx.execute(&sql, [contact.0])
            .map_err(db("deleting messages"))?;
    }
    tx.execute("DELETE FROM messages WHERE contact_id = ?1", [contact.0])
        .map_err(db("deleting messages"))
}

/// The reactions of a conversation, by target message row.
pub(crate) fn reactions_of(
    store: &Store,
    contact: ContactId,
) -> Result<HashMap<i64, Vec<ReactionView>>> {
    let mut out: HashMap<i64, Vec<ReactionView>> = HashMap::new();
    for (row, target_row, r) in reaction_rows(store, contact)? {
        let _ = row;
        if !r.emoji.is_empty() {
            out.entry(target_row).or_default().push(ReactionView {
                by: r.by,
                emoji: r.emoji,
            });
        }
    }
    for v in out.values_mut() {
        // Ours first, as a stable order.
        v.sort_by_key(|r| side(r.by));
    }
    Ok(out)
}

/// The reactions to the message in row `row` (as [`reactions_of`]).
pub(crate) fn reactions_of_message(store: &Store, row: i64) -> Result<Vec<ReactionView>> {
    let rows: Vec<(i64, Vec<u8>)> = store
        .conn
        .prepare_cached("SELECT id, sealed FROM reactions WHERE message_id = ?1 ORDER BY id")
        .and_then(|mut st| {
            st.query_map([row], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(db("reading reactions"))?;
    let mut out = vec![];
    for (id, sealed) in rows {
        let r: ReactionRecord = store
            .keys
            .open(reaction_slot(id, row), &sealed, "reaction")?;
        if !r.emoji.is_empty() {
            out.push(ReactionView {
                by: r.by,
                emoji: r.emoji,
            });
        }
    }
    out.sort_by_key(|r| side(r.by));
    Ok(out)
}

/// Every reaction of a conversation: (its row, its target's row, record).
fn reaction_rows(store: &Store, contact: ContactId) -> Result<Vec<(i64, i64, ReactionRecord)>> {
    let mut stmt = store
        .conn
        .prepare_cached(
            "SELECT r.id, r.message_id, r.sealed FROM reactions AS r
             JOIN messages AS m ON m.id = r.message_id
             WHERE m.contact_id = ?1 ORDER BY r.id",
        )
        .map_err(db("reading reactions"))?;
    let rows = stmt
        .query_map([contact.0], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .map_err(db("reading reactions"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db("reading reactions"))?;
    rows.into_iter()
        .map(|(row, target, sealed)| {
            let rec: ReactionRecord =
                store
                    .keys
                    .open(reaction_slot(row, target), &sealed, "reaction")?;
            Ok((row, target, rec))
        })
        .collect()
}

/// Store `rec` as `by`'s reaction to the message in `target_row`,
/// replacing the one it had (inside the caller's transaction).
fn put_reaction(
    keys: &Keys,
    tx: &Connection,
    contact: ContactId,
    target_row: i64,
    rec: &ReactionRecord,
) -> Result<()> {
    let s = side(rec.by);
    let slot_hash = keys.lookup("reaction-slot", &[&target_row.to_be_bytes(), &[s]])?;
    let id_hash = keys.lookup("reaction-id", &[&contact.0.to_be_bytes(), &[s], &rec.id.0])?;
    tx.execute("DELETE FROM reactions WHERE slot_hash = ?1", [&slot_hash])
        .map_err(db("storing a reaction"))?;
    // The same id again (a hostile or confused peer): replaced too.
    tx.execute("DELETE FROM reactions WHERE id_hash = ?1", [&id_hash])
        .map_err(db("storing a reaction"))?;
    let row = crate::schema::next_id(tx, "reactions")?;
    let sealed = keys.seal(reaction_slot(row, target_row), rec)?;
    tx.execute(
        "INSERT INTO reactions (id, message_id, slot_hash, id_hash, sealed)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![row, target_row, slot_hash, id_hash, sealed],
    )
    .map_err(db("storing a reaction"))?;
    Ok(())
}

/// Read a conversation's settings (inside a transaction or not).
fn read_settings(
    keys: &Keys,
    conn: &Connection,
    contact: ContactId,
) -> Result<ConversationSettings> {
    let sealed: Option<Vec<u8>> = conn
        .query_row(
            "SELECT sealed FROM conversations WHERE id = ?1",
            [contact.0],
            |r| r.get(0),
        )
        .optional()
        .map_err(db("reading a conversation"))?;
    match sealed {
        Some(s) => keys.open(conversation_slot(contact), &s, "conversation"),
        None => {
            let known = conn
                .query_row("SELECT 1 FROM contacts WHERE id = ?1", [contact.0], |_| {
                    Ok(())
                })
                .optional()
                .map_err(db("looking up a contact"))?;
            known.ok_or(Error::NotFound { what: "contact" })?;
            Ok(ConversationSettings::default())
        }
    }
}

fn write_settings(
    keys: &Keys,
    tx: &Connection,
    contact: ContactId,
    s: &ConversationSettings,
) -> Result<()> {
    let sealed = keys.seal(conversation_slot(contact), s)?;
    tx.execute(
        "INSERT INTO conversations (id, sealed) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed",
        params![contact.0, sealed],
    )
    .map_err(db("storing a conversation"))?;
    Ok(())
}

impl Store {
    // ---- Settings: disappearing timer, history ----

    /// A conversation's settings (the defaults if never set).
    /// [`Error::NotFound`] for an unknown contact.
    pub fn conversation(&self, contact: ContactId) -> Result<ConversationSettings> {
        read_settings(&self.keys, &self.conn, contact)
    }

    /// Set the conversation's disappearing timer ourselves: stored with
    /// `set_at = max(now, set_at in force + 1)` (so it wins over the one in
    /// force on both sides), with an outgoing timer line `id` (queued, sent
    /// as [`PeerMessage::Disappear`] by [`Store::outbox`], delivered by its
    /// `Ack`). Returns the setting to send. Applies to messages written from
    /// now on. [`Error::AlreadyExists`] if `id` is taken.
    pub fn set_disappear(
        &mut self,
        contact: ContactId,
        id: MessageId,
        timer: DisappearTimer,
        now: Timestamp,
    ) -> Result<DisappearSetting> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let mut s = read_settings(keys, &tx, contact)?;
        let set_at = Timestamp(now.0.max(s.disappear_set_at.0.saturating_add(1)));
        let meta = MessageMeta {
            msg_id: id,
            direction: Direction::Out,
            state: MessageState::Queued,
            sent_at: set_at,
            stored_at: now,
            delivered_at: None,
            read: true,
            kind: MessageKind::Timer(timer),
            reply_to: None,
            disappear: DisappearTimer::Off,
            expires_at: None,
        };
        if Store::insert_message_in(keys, &tx, contact, meta, "")? == Inserted::Duplicate {
            return Err(Error::AlreadyExists { what: "message id" });
        }
        s.disappear = timer;
        s.disappear_set_at = set_at;
        write_settings(keys, &tx, contact, &s)?;
        tx.commit().map_err(db("storing a conversation"))?;
        Ok(DisappearSetting { id, set_at, timer })
    }

    /// Store the contact's change of the timer: a timer line (deduplicated
    /// on its id, like a message; not counted unread), and the timer itself
    /// if the setting wins over the one in force
    /// ([`DisappearSetting::wins_over`]). Returns the line (or `Duplicate`:
    /// acknowledge it again) and the timer now in force.
    pub fn receive_disappear(
        &mut self,
        contact: ContactId,
        setting: &DisappearSetting,
        received_at: Timestamp,
    ) -> Result<(Inserted, DisappearTimer)> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let mut s = read_settings(keys, &tx, contact)?;
        let meta = MessageMeta {
            msg_id: setting.id,
            direction: Direction::In,
            state: MessageState::Received,
            sent_at: setting.set_at.clamp_peer(received_at),
            stored_at: received_at,
            delivered_at: None,
            read: true,
            kind: MessageKind::Timer(setting.timer),
            reply_to: None,
            disappear: DisappearTimer::Off,
            expires_at: None,
        };
        let inserted = Store::insert_message_in(keys, &tx, contact, meta, "")?;
        if inserted == Inserted::Duplicate {
            return Ok((inserted, s.disappear));
        }
        if setting.wins_over(s.disappear, s.disappear_set_at) {
            s.disappear = setting.timer;
            s.disappear_set_at = setting.set_at;
            write_settings(keys, &tx, contact, &s)?;
        }
        tx.commit().map_err(db("storing a conversation"))?;
        Ok((inserted, s.disappear))
    }

    /// Keep the conversation's history, or delete it when the app closes.
    pub fn set_history(&mut self, contact: ContactId, history: HistoryPolicy) -> Result<()> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let mut s = read_settings(keys, &tx, contact)?;
        s.history = history;
        write_settings(keys, &tx, contact, &s)?;
        tx.commit().map_err(db("storing a conversation"))
    }

    /// Delete a conversation's whole history (every message, tombstones,
    /// reactions, files), keeping the contact and the conversation's
    /// settings. Returns how many messages were removed. Deleted content
    /// is zeroed in the file and the WAL emptied.
    pub fn clear_history(&mut self, contact: ContactId) -> Result<usize> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        read_unread(keys, &tx, contact)?;
        let n = purge_conversation(&tx, contact)?;
        write_unread(keys, &tx, contact, 0)?;
        tx.commit().map_err(db("deleting messages"))?;
        self.scrub_wal();
        Ok(n)
    }

    /// Clear the history of every conversation whose policy is
    /// [`HistoryPolicy::Session`]: the node calls it when it stops, and at
    /// start (for a stop it missed). Returns those conversations.
    pub fn clear_session_histories(&mut self) -> Result<Vec<ContactId>> {
        let rows: Vec<(i64, Vec<u8>)> = self
            .conn
            .prepare("SELECT id, sealed FROM conversations ORDER BY id")
            .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(db("reading conversations"))?;
        let mut cleared = vec![];
        for (id, sealed) in rows {
            let c = ContactId(id);
            let s: ConversationSettings =
                self.keys
                    .open(conversation_slot(c), &sealed, "conversation")?;
            if s.history == HistoryPolicy::Session {
                self.clear_history(c)?;
                cleared.push(c);
            }
        }
        Ok(cleared)
    }

    // ---- Disappearing messages ----

    /// Every deadline: (message row, contact, deadline). Opens the rows of
    /// `expiries` only: messages with a deadline, not the whole history.
    fn deadlines(&self) -> Result<Vec<(i64, ContactId, Timestamp)>> {
        let rows: Vec<(i64, i64, Vec<u8>)> = self
            .conn
            .prepare_cached(
                "SELECT e.id, m.contact_id, e.sealed FROM expiries AS e
                 JOIN messages AS m ON m.id = e.id ORDER BY e.id",
            )
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(db("reading deadlines"))?;
        rows.into_iter()
            .map(|(row, contact, sealed)| {
                let at: Timestamp = self.keys.open(expiry_slot(row), &sealed, "deadline")?;
                Ok((row, ContactId(contact), at))
            })
            .collect()
    }

    /// The earliest deadline of any message, if one has a deadline: when
    /// the node should next call [`Store::delete_expired`].
    pub fn next_expiry(&self) -> Result<Option<Timestamp>> {
        Ok(self.deadlines()?.into_iter().map(|(_, _, at)| at).min())
    }

    /// The messages whose deadline is at or before `now`.
    pub fn expired(&self, now: Timestamp) -> Result<Vec<(ContactId, MessageId)>> {
        let mut out = vec![];
        for (row, contact, at) in self.deadlines()? {
            if at <= now {
                let sealed: Vec<u8> = self
                    .conn
                    .query_row("SELECT meta FROM messages WHERE id = ?1", [row], |r| {
                        r.get(0)
                    })
                    .map_err(db("reading a message"))?;
                let meta: MessageMeta =
                    self.keys
                        .open(meta_slot(row, contact), &sealed, "message")?;
                out.push((contact, meta.msg_id));
            }
        }
        Ok(out)
    }

    /// Remove every message whose deadline is at or before `now`, with its
    /// reactions and file, leaving no tombstone; zero them in the file and
    /// empty the WAL. Returns what was removed.
    pub fn delete_expired(&mut self, now: Timestamp) -> Result<Vec<(ContactId, MessageId)>> {
        let gone = self.expired(now)?;
        if gone.is_empty() {
            return Ok(gone);
        }
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        for &(contact, id) in &gone {
            if let Some((row, _)) = find_message(keys, &tx, contact, id)? {
                remove_row(keys, &tx, contact, row)?;
            }
        }
        tx.commit().map_err(db("deleting expired messages"))?;
        self.scrub_wal();
        Ok(gone)
    }

    // ---- Replies ----

    /// What a reply's quote shows: the message, "deleted", or unknown.
    pub fn quote(&self, contact: ContactId, id: MessageId) -> Result<Quote> {
        self.contact_exists(contact)?;
        let Some((row, meta)) = find_message(&self.keys, &self.conn, contact, id)? else {
            return Ok(Quote::Unknown);
        };
        if meta.is_deleted() {
            return Ok(Quote::Deleted);
        }
        let (m, b): (Vec<u8>, Vec<u8>) = self
            .conn
            .query_row(
                "SELECT meta, body FROM messages WHERE id = ?1",
                [row],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(db("reading a message"))?;
        Ok(Quote::Message(open_message(
            &self.keys, row, contact, &m, &b,
        )?))
    }

    // ---- Reactions ----

    /// React to a message of the conversation (ours or theirs, text or
    /// file), replacing our previous reaction to it; `None` takes it back.
    /// Returns the [`Reaction`] to send ([`Store::outbox`] sends it again
    /// until [`Store::set_reaction_delivered`]). [`Error::NotFound`] if the
    /// target is not a message of the conversation (or is deleted, or a
    /// timer line).
    pub fn react(
        &mut self,
        contact: ContactId,
        reaction_id: MessageId,
        target: MessageId,
        emoji: Option<&Emoji>,
    ) -> Result<Reaction> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let row = match find_message(keys, &tx, contact, target)? {
            Some((row, meta)) if matches!(meta.kind, MessageKind::Text | MessageKind::File) => row,
            _ => return Err(Error::NotFound { what: "message" }),
        };
        let rec = ReactionRecord {
            id: reaction_id,
            target,
            by: Direction::Out,
            emoji: emoji.map(|e| e.as_str().to_owned()).unwrap_or_default(),
            delivered: false,
        };
        put_reaction(keys, &tx, contact, row, &rec)?;
        tx.commit().map_err(db("storing a reaction"))?;
        self.scrub_wal();
        Ok(Reaction {
            id: reaction_id,
            target,
            emoji: emoji.cloned(),
        })
    }

    /// Store the contact's reaction, replacing its previous one to that
    /// message. `false` (nothing stored) if the target is not a message of
    /// the conversation we hold: acknowledge it anyway.
    pub fn receive_reaction(&mut self, contact: ContactId, r: &Reaction) -> Result<bool> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let row = match find_message(keys, &tx, contact, r.target)? {
            Some((row, meta)) if matches!(meta.kind, MessageKind::Text | MessageKind::File) => row,
            _ => return Ok(false),
        };
        let rec = ReactionRecord {
            id: r.id,
            target: r.target,
            by: Direction::In,
            emoji: r
                .emoji
                .as_ref()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
            delivered: true,
        };
        put_reaction(keys, &tx, contact, row, &rec)?;
        tx.commit().map_err(db("storing a reaction"))?;
        self.scrub_wal();
        Ok(true)
    }

    /// Our reaction `reaction_id` was acknowledged: stop sending it.
    /// `false` if it is not one of ours waiting (a message id: see
    /// [`Store::set_message_state`]).
    pub fn set_reaction_delivered(
        &mut self,
        contact: ContactId,
        reaction_id: MessageId,
    ) -> Result<bool> {
        let keys = &self.keys;
        let id_hash = keys.lookup(
            "reaction-id",
            &[
                &contact.0.to_be_bytes(),
                &[side(Direction::Out)],
                &reaction_id.0,
            ],
        )?;
        let tx = begin(&mut self.conn)?;
        let row: Option<(i64, i64, Vec<u8>)> = tx
            .query_row(
                "SELECT id, message_id, sealed FROM reactions WHERE id_hash = ?1",
                [&id_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(db("reading a reaction"))?;
        let Some((row, target, sealed)) = row else {
            return Ok(false);
        };
        let mut rec: ReactionRecord = keys.open(reaction_slot(row, target), &sealed, "reaction")?;
        if rec.id != reaction_id || rec.by != Direction::Out {
            return Err(Error::Corrupt {
                what: "reaction lookup hash",
            });
        }
        if rec.delivered {
            return Ok(false);
        }
        rec.delivered = true;
        if rec.emoji.is_empty() {
            // A withdrawal, delivered: nothing left to keep.
            tx.execute("DELETE FROM reactions WHERE id = ?1", [row])
                .map_err(db("storing a reaction"))?;
        } else {
            let sealed = keys.seal(reaction_slot(row, target), &rec)?;
            tx.execute(
                "UPDATE reactions SET sealed = ?1 WHERE id = ?2",
                params![sealed, row],
            )
            .map_err(db("storing a reaction"))?;
        }
        tx.commit().map_err(db("storing a reaction"))?;
        Ok(true)
    }

    // ---- Deletion for both ----

    /// Delete our messages `ids` for both sides: each becomes a tombstone
    /// here at once, marked [`Deletion::ForEveryonePending`] until the
    /// contact's `DeleteAck` ([`Store::receive_delete_ack`]);
    /// [`Store::outbox`] sends the `Delete`. Returns the ids deleted
    /// (unknown ones are skipped; ours deleted for us only are upgraded).
    /// [`Error::BadInput`] if one of them is the contact's: only its author
    /// deletes a message for both.
    pub fn delete_for_everyone(
        &mut self,
        contact: ContactId,
        ids: &[MessageId],
    ) -> Result<Vec<MessageId>> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let mut done = vec![];
        for &id in ids {
            let Some((row, meta)) = find_message(keys, &tx, contact, id)? else {
                continue;
            };
            if meta.direction != Direction::Out {
                return Err(Error::BadInput {
                    what: "message to delete for everyone (the contact wrote it)",
                });
            }
            match meta.kind {
                MessageKind::Deleted(Deletion::ForMe) | MessageKind::Text | MessageKind::File => {
                    write_tombstone(keys, &tx, contact, row, &meta, Deletion::ForEveryonePending)?;
                    done.push(id);
                }
                _ => {}
            }
        }
        tx.commit().map_err(db("deleting messages"))?;
        self.scrub_wal();
        Ok(done)
    }

    /// The contact asks us to delete `targets` (a `Delete`): those it wrote
    /// become tombstones ([`Deletion::ByThem`]); the others (ours, unknown,
    /// deleted already) are left alone. Returns the ids deleted now.
    /// Answer `DeleteAck` with all of `targets` either way.
    pub fn receive_delete(
        &mut self,
        contact: ContactId,
        targets: &[MessageId],
    ) -> Result<Vec<MessageId>> {
        if targets.len() > MAX_DELETE_IDS {
            return Err(Error::BadInput {
                what: "delete (too many ids)",
            });
        }
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let mut done = vec![];
        for &id in targets {
            if let Some((row, meta)) = find_message(keys, &tx, contact, id)?
                && meta.direction == Direction::In
                && !meta.is_deleted()
            {
                write_tombstone(keys, &tx, contact, row, &meta, Deletion::ByThem)?;
                done.push(id);
            }
        }
        tx.commit().map_err(db("deleting messages"))?;
        if !done.is_empty() {
            self.scrub_wal();
        }
        Ok(done)
    }

    /// The contact confirmed it deleted `targets` (a `DeleteAck`): returns
    /// those that were waiting for it (now [`Deletion::ForEveryoneDone`]),
    /// to tell our user.
    pub fn receive_delete_ack(
        &mut self,
        contact: ContactId,
        targets: &[MessageId],
    ) -> Result<Vec<MessageId>> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let mut done = vec![];
        for &id in targets.iter().take(MAX_DELETE_IDS) {
            if let Some((row, mut meta)) = find_message(keys, &tx, contact, id)?
                && meta.kind == MessageKind::Deleted(Deletion::ForEveryonePending)
            {
                meta.kind = MessageKind::Deleted(Deletion::ForEveryoneDone);
                let sealed = keys.seal(meta_slot(row, contact), &meta)?;
                tx.execute(
                    "UPDATE messages SET meta = ?1 WHERE id = ?2",
                    params![sealed, row],
                )
                .map_err(db("deleting messages"))?;
                done.push(id);
            }
        }
        tx.commit().map_err(db("deleting messages"))?;
        Ok(done)
    }

    // ---- What waits to be sent ----

    /// Everything of ours in this conversation the contact has not
    /// acknowledged, as the messages to send at the start of a session, in
    /// order: texts (as `Text` when they have neither reply nor timer, so a
    /// peer of an older build reads them, else `Chat`), timer changes, file
    /// offers, then our reactions not yet delivered, then `Delete`s (64 ids
    /// each) of our messages deleted for both and not yet confirmed.
    ///
    /// Costs one pass over the conversation's messages, like
    /// [`Store::undelivered`]. After sending a text, timer line or offer,
    /// mark it `Sent` with [`Store::set_message_state`]; its `Ack` makes it
    /// `Delivered`; a reaction's `Ack`, [`Store::set_reaction_delivered`].
    pub fn outbox(&self, contact: ContactId) -> Result<Vec<PeerMessage>> {
        let mut out = vec![];
        let mut deletes = vec![];
        for (row, meta, body) in self.message_rows(contact)? {
            let meta: MessageMeta = self.keys.open(meta_slot(row, contact), &meta, "message")?;
            if meta.direction != Direction::Out {
                continue;
            }
            if meta.kind == MessageKind::Deleted(Deletion::ForEveryonePending) {
                deletes.push(meta.msg_id);
                continue;
            }
            if meta.state == MessageState::Delivered {
                continue;
            }
            match meta.kind {
                MessageKind::Text => {
                    let body: String =
                        self.keys
                            .open(body_slot(row, contact), &body, "message body")?;
                    out.push(
                        if meta.reply_to.is_none() && meta.disappear == DisappearTimer::Off {
                            PeerMessage::Text(Text {
                                id: meta.msg_id,
                                sent_at: meta.sent_at,
                                body,
                            })
                        } else {
                            PeerMessage::Chat(Chat {
                                id: meta.msg_id,
                                sent_at: meta.sent_at,
                                body,
                                reply_to: meta.reply_to,
                                disappear: meta.disappear,
                            })
                        },
                    );
                }
                MessageKind::Timer(timer) => out.push(PeerMessage::Disappear(DisappearSetting {
                    id: meta.msg_id,
                    set_at: meta.sent_at,
                    timer,
                })),
                MessageKind::File => {
                    let rec = crate::files::file_record(self, contact, row)?;
                    if rec.state == FileState::Offered {
                        out.push(PeerMessage::FileOffer(offer_of(&meta, &rec)?));
                    }
                }
                MessageKind::Deleted(_) => {}
            }
        }
        for (_, _, r) in reaction_rows(self, contact)? {
            if r.by == Direction::Out && !r.delivered {
                let emoji = if r.emoji.is_empty() {
                    None
                } else {
                    Some(Emoji::new(&r.emoji).map_err(|_| Error::Corrupt { what: "reaction" })?)
                };
                out.push(PeerMessage::Reaction(Reaction {
                    id: r.id,
                    target: r.target,
                    emoji,
                }));
            }
        }
        for chunk in deletes.chunks(MAX_DELETE_IDS) {
            out.push(PeerMessage::Delete {
                targets: chunk.to_vec(),
            });
        }
        Ok(out)
    }

    /// Every message of ours waiting, as [`Message`]s (for a front end's
    /// "sending" marks); [`Store::outbox`] gives what to send.
    pub fn pending(&self, contact: ContactId) -> Result<Vec<Message>> {
        Ok(self
            .messages(contact)?
            .into_iter()
            .filter(|m| m.direction == Direction::Out && m.state != MessageState::Delivered)
            .collect())
    }
}

/// The offer a stored file of ours is sent as.
pub(crate) fn offer_of(meta: &MessageMeta, rec: &FileRecord) -> Result<FileOffer> {
    Ok(FileOffer {
        id: meta.msg_id,
        sent_at: meta.sent_at,
        name: FileName::try_from(rec.name.clone())
            .map_err(|_| Error::Corrupt { what: "file name" })?,
        size: rec.size,
        sha256: rec.sha256,
        chunk_size: rec.chunk_size,
        disappear: meta.disappear,
    })
}
