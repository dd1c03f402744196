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
    tx.prepare_cached(
        "INSERT INTO expiries (id, sealed) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed",
    )
    .and_then(|mut st| st.execute(params![row, sealed]))
    .map_err(db("storing a deadline"))?;
    Ok(())
}

/// Delete what hangs off a message row: its reactions, edit, file and
/// chunks, deadline.
fn delete_dependents(tx: &Connection, row: i64) -> Result<()> {
    for sql in [
        "DELETE FROM reactions WHERE message_id = ?1",
        "DELETE FROM edits WHERE id = ?1",
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
    purge_conversation_except(tx, contact, &[])
}

/// [`purge_conversation`], keeping the message rows `keep` (with their
/// reactions, deadlines and files).
fn purge_conversation_except(tx: &Connection, contact: ContactId, keep: &[i64]) -> Result<usize> {
    // Row ids come from this database, never from outside: inlined.
    let kept: Vec<String> = keep.iter().map(i64::to_string).collect();
    let of = format!(
        "(SELECT id FROM messages WHERE contact_id = ?1 AND id NOT IN ({}))",
        kept.join(",")
    );
    let of = of.as_str();
    for sql in [
        format!("DELETE FROM reactions WHERE message_id IN {of}"),
        format!("DELETE FROM edits WHERE id IN {of}"),
        format!("DELETE FROM expiries WHERE id IN {of}"),
        format!("DELETE FROM file_chunks WHERE file_id IN {of}"),
        format!("DELETE FROM files WHERE id IN {of}"),
        format!("DELETE FROM messages WHERE id IN {of}"),
    ] {
        tx.execute(&sql, [contact.0])
            .map_err(db("deleting messages"))?;
    }
    Ok(tx.changes().try_into().unwrap_or(usize::MAX))
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
        .prepare_cached("SELECT sealed FROM conversations WHERE id = ?1")
        .and_then(|mut st| st.query_row([contact.0], |r| r.get(0)))
        .optional()
        .map_err(db("reading a conversation"))?;
    match sealed {
        Some(s) => keys.open(conversation_slot(contact), &s, "conversation"),
        None => {
            let known = conn
                .prepare_cached("SELECT 1 FROM contacts WHERE id = ?1")
                .and_then(|mut st| st.query_row([contact.0], |_| Ok(())))
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
                // What we wrote and the contact does not have yet stays
                // until it is delivered: closing the app (or a one-shot
                // `kith send`, which locks when it is done) must not
                // unsend it. It goes with the first clear after that.
                let mut keep = vec![];
                for m in self.pending(c)? {
                    if let Some((row, _)) =
                        crate::store::find_message(&self.keys, &self.conn, c, m.msg_id)?
                    {
                        keep.push(row);
                    }
                }
                let keys = &self.keys;
                let tx = begin(&mut self.conn)?;
                read_unread(keys, &tx, c)?;
                purge_conversation_except(&tx, c, &keep)?;
                write_unread(keys, &tx, c, 0)?;
                tx.commit().map_err(db("deleting messages"))?;
                self.scrub_wal();
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
            .prepare_cached("SELECT meta, body FROM messages WHERE id = ?1")
            .and_then(|mut st| st.query_row([row], |r| Ok((r.get(0)?, r.get(1)?))))
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
        if rec.emoji.is_empty() {
            // Taken back: nothing of theirs left to keep.
            let slot_hash = keys.lookup(
                "reaction-slot",
                &[&row.to_be_bytes(), &[side(Direction::In)]],
            )?;
            tx.execute("DELETE FROM reactions WHERE slot_hash = ?1", [&slot_hash])
                .map_err(db("storing a reaction"))?;
        } else {
            put_reaction(keys, &tx, contact, row, &rec)?;
        }
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
    /// offers, then our edits not yet delivered, then our reactions not yet
    /// delivered, then `Delete`s (64 ids each) of our messages deleted for
    /// both and not yet confirmed.
    ///
    /// Costs one pass over the conversation's messages, like
    /// [`Store::undelivered`]. After sending a text, timer line or offer,
    /// mark it `Sent` with [`Store::set_message_state`]; its `Ack` makes it
    /// `Delivered`; a reaction's `Ack`, [`Store::set_reaction_delivered`];
    /// an edit's, [`Store::set_edit_delivered`].
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
        out.extend(
            self.pending_edits(contact)?
                .into_iter()
                .map(PeerMessage::Edit),
        );
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crypto::KdfParams;
    use crate::model::{ContactOrigin, ContactState, NewContact, NewProfile};
    use std::path::{Path, PathBuf};

    pub(crate) const PW: &[u8] = b"pw";

    pub(crate) fn setup() -> (tempfile::TempDir, PathBuf, Store, ContactId) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.db");
        let mut store = Store::create(
            &path,
            PW,
            KdfParams::dangerously_fast_for_testing_only(),
            &NewProfile {
                display_name: "Alice".into(),
                identity_seed: zeroize::Zeroizing::new([1; 32]),
                created_at: Timestamp(1),
            },
        )
        .unwrap();
        let bob = friend(&mut store, 2, "bob");
        (dir, path, store, bob)
    }

    /// An accepted contact added by link.
    pub(crate) fn friend(store: &mut Store, n: u8, alias: &str) -> ContactId {
        store
            .add_contact(&NewContact {
                address: [n; 32],
                alias: alias.into(),
                state: ContactState::Accepted,
                origin: ContactOrigin::Link,
                verified: false,
                tcp_hint: None,
                their_name: None,
                added_at: Timestamp(1),
            })
            .unwrap()
    }

    pub(crate) fn id(n: u8) -> MessageId {
        MessageId([n; 16])
    }

    fn incoming(store: &mut Store, c: ContactId, n: u8, body: &str, at: u64) {
        let chat = Chat {
            id: id(n),
            sent_at: Timestamp(at),
            body: body.into(),
            reply_to: None,
            disappear: DisappearTimer::Off,
        };
        let i = store
            .insert_incoming_chat(c, &chat, Timestamp(at), Timestamp(at))
            .unwrap();
        assert!(matches!(i, Inserted::New(_)));
    }

    fn bodies(store: &Store, c: ContactId) -> Vec<String> {
        store
            .messages(c)
            .unwrap()
            .into_iter()
            .map(|m| m.body)
            .collect()
    }

    fn emoji(s: &str) -> Emoji {
        Emoji::new(s).unwrap()
    }

    #[test]
    fn replies_and_quotes() {
        let (_d, path, mut s, bob) = setup();
        incoming(&mut s, bob, 1, "question?", 10);
        let r = s
            .insert_outgoing_chat(bob, id(2), "answer", Some(id(1)), Timestamp(11))
            .unwrap();
        assert_eq!(r.reply_to, Some(id(1)));
        let dangling = s
            .insert_outgoing_chat(bob, id(3), "to nothing", Some(id(99)), Timestamp(12))
            .unwrap();
        assert_eq!(dangling.reply_to, Some(id(99)));
        // Their reply to ours.
        let chat = Chat {
            id: id(4),
            sent_at: Timestamp(13),
            body: "re".into(),
            reply_to: Some(id(2)),
            disappear: DisappearTimer::Off,
        };
        s.insert_incoming_chat(bob, &chat, Timestamp(13), Timestamp(14))
            .unwrap();
        let Quote::Message(q) = s.quote(bob, id(1)).unwrap() else {
            panic!("quote")
        };
        assert_eq!(q.body, "question?");
        assert_eq!(s.quote(bob, id(99)).unwrap(), Quote::Unknown);
        // The original deleted: the reply keeps its reply_to, the quote
        // reads "deleted".
        assert!(s.delete_message(bob, id(1)).unwrap());
        assert_eq!(s.quote(bob, id(1)).unwrap(), Quote::Deleted);
        s.close().unwrap();
        let s = Store::open(&path, PW).unwrap();
        let ms = s.messages(bob).unwrap();
        assert_eq!(bodies(&s, bob), ["answer", "to nothing", "re"]);
        assert_eq!(ms[0].reply_to, Some(id(1)));
        assert_eq!(ms[2].reply_to, Some(id(2)));
        assert_eq!(s.quote(bob, id(1)).unwrap(), Quote::Deleted);
        assert_eq!(
            kind(s.quote(ContactId(99), id(1))),
            kith_core::ErrorKind::NotFound
        );
    }

    fn kind<T: std::fmt::Debug>(r: Result<T>) -> kith_core::ErrorKind {
        r.unwrap_err().kind()
    }

    #[test]
    fn reactions_replace_withdraw_and_deliver() {
        let (_d, path, mut s, bob) = setup();
        incoming(&mut s, bob, 1, "hi", 10);
        s.insert_outgoing(bob, id(2), "hello", Timestamp(11))
            .unwrap();
        let r = s.react(bob, id(10), id(1), Some(&emoji("👍"))).unwrap();
        assert_eq!(r.target, id(1));
        // Replaced by a second one.
        s.react(bob, id(11), id(1), Some(&emoji("❤️"))).unwrap();
        // Theirs on our message, twice (the second replaces).
        let theirs = |rid, e: Option<&str>| Reaction {
            id: id(rid),
            target: id(2),
            emoji: e.map(emoji),
        };
        assert!(s.receive_reaction(bob, &theirs(20, Some("😂"))).unwrap());
        assert!(s.receive_reaction(bob, &theirs(21, Some("🔥"))).unwrap());
        // To a message we do not hold: nothing stored.
        let stray = Reaction {
            id: id(22),
            target: id(77),
            emoji: Some(emoji("👍")),
        };
        assert!(!s.receive_reaction(bob, &stray).unwrap());
        let view = |s: &Store| -> Vec<Vec<(Direction, String)>> {
            s.messages(bob)
                .unwrap()
                .into_iter()
                .map(|m| m.reactions.into_iter().map(|r| (r.by, r.emoji)).collect())
                .collect()
        };
        assert_eq!(
            view(&s),
            [
                vec![(Direction::Out, "❤️".to_owned())],
                vec![(Direction::In, "🔥".to_owned())]
            ]
        );
        // Only our newest reaction waits to be sent.
        let pending: Vec<_> = s
            .outbox(bob)
            .unwrap()
            .into_iter()
            .filter_map(|m| match m {
                PeerMessage::Reaction(r) => Some(r.id),
                _ => None,
            })
            .collect();
        assert_eq!(pending, [id(11)]);
        assert!(!s.set_reaction_delivered(bob, id(10)).unwrap());
        assert!(s.set_reaction_delivered(bob, id(11)).unwrap());
        assert!(!s.set_reaction_delivered(bob, id(11)).unwrap());
        assert!(
            !s.outbox(bob)
                .unwrap()
                .iter()
                .any(|m| matches!(m, PeerMessage::Reaction(_)))
        );
        // Their withdrawal; our reaction to a timer line or a deleted
        // message is refused.
        assert!(s.receive_reaction(bob, &theirs(23, None)).unwrap());
        s.close().unwrap();
        let mut s = Store::open(&path, PW).unwrap();
        assert_eq!(view(&s), [vec![(Direction::Out, "❤️".to_owned())], vec![]]);
        s.set_disappear(bob, id(30), DisappearTimer::OneDay, Timestamp(50))
            .unwrap();
        assert_eq!(
            kind(s.react(bob, id(12), id(30), Some(&emoji("👍")))),
            kith_core::ErrorKind::NotFound
        );
        // Deleting the message deletes its reactions with it.
        assert!(s.delete_message(bob, id(1)).unwrap());
        assert_eq!(
            kind(s.react(bob, id(13), id(1), Some(&emoji("👍")))),
            kith_core::ErrorKind::NotFound
        );
        let n: i64 = s
            .conn
            .query_row("SELECT COUNT(*) FROM reactions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn delete_for_everyone_and_its_ack() {
        let (_d, path, mut s, bob) = setup();
        s.insert_outgoing(bob, id(1), "oops", Timestamp(1)).unwrap();
        s.insert_outgoing(bob, id(2), "fine", Timestamp(2)).unwrap();
        incoming(&mut s, bob, 3, "theirs", 3);
        assert_eq!(
            kind(s.delete_for_everyone(bob, &[id(3)])),
            kith_core::ErrorKind::BadLocalInput
        );
        assert_eq!(
            s.delete_for_everyone(bob, &[id(1), id(77)]).unwrap(),
            [id(1)]
        );
        assert_eq!(bodies(&s, bob), ["fine", "theirs"]);
        // The Delete waits in the outbox (not the deleted text), also
        // after a restart.
        s.close().unwrap();
        let mut s = Store::open(&path, PW).unwrap();
        let out = s.outbox(bob).unwrap();
        assert!(out.contains(&PeerMessage::Delete {
            targets: vec![id(1)]
        }));
        assert!(
            !out.iter()
                .any(|m| matches!(m, PeerMessage::Text(t) if t.id == id(1)))
        );
        assert_eq!(s.receive_delete_ack(bob, &[id(1), id(2)]).unwrap(), [id(1)]);
        assert_eq!(s.receive_delete_ack(bob, &[id(1)]).unwrap(), []);
        assert!(
            !s.outbox(bob)
                .unwrap()
                .iter()
                .any(|m| matches!(m, PeerMessage::Delete { .. }))
        );
        // Their Delete: only what they wrote goes.
        assert_eq!(
            s.receive_delete(bob, &[id(2), id(3), id(88)]).unwrap(),
            [id(3)]
        );
        assert_eq!(bodies(&s, bob), ["fine"]);
        assert_eq!(s.unread_count(bob).unwrap(), 0);
        assert_eq!(s.receive_delete(bob, &[id(3)]).unwrap(), []);
        // A redelivery of what they deleted is not shown again.
        let again = s
            .insert_incoming(bob, id(3), "theirs", Timestamp(3), Timestamp(9))
            .unwrap();
        assert_eq!(again, Inserted::Duplicate);
        // Many deletes are sent 64 at a time.
        for n in 100..=200_u8 {
            s.insert_outgoing(bob, id(n), "x", Timestamp(9)).unwrap();
        }
        let ids: Vec<MessageId> = (100..=200).map(id).collect();
        assert_eq!(s.delete_for_everyone(bob, &ids).unwrap().len(), 101);
        let sizes: Vec<usize> = s
            .outbox(bob)
            .unwrap()
            .into_iter()
            .filter_map(|m| match m {
                PeerMessage::Delete { targets } => Some(targets.len()),
                _ => None,
            })
            .collect();
        assert_eq!(sizes, [64, 37]);
    }

    #[test]
    fn disappearing_timer_settings_converge() {
        let (_d, path, mut s, bob) = setup();
        assert_eq!(
            s.conversation(bob).unwrap(),
            ConversationSettings::default()
        );
        let mine = s
            .set_disappear(bob, id(1), DisappearTimer::OneHour, Timestamp(1_000))
            .unwrap();
        assert_eq!(mine.set_at, Timestamp(1_000));
        // Set again at an earlier clock: still later than the one in force.
        let again = s
            .set_disappear(bob, id(2), DisappearTimer::OneDay, Timestamp(5))
            .unwrap();
        assert_eq!(again.set_at, Timestamp(1_001));
        // Theirs, older: a line, not in force.
        let old = DisappearSetting {
            id: id(3),
            set_at: Timestamp(900),
            timer: DisappearTimer::FiveMinutes,
        };
        let (line, now) = s.receive_disappear(bob, &old, Timestamp(2_000)).unwrap();
        assert!(matches!(line, Inserted::New(_)));
        assert_eq!(now, DisappearTimer::OneDay);
        // Theirs, same time, longer: wins (both sides decide the same).
        let tie = DisappearSetting {
            id: id(4),
            set_at: Timestamp(1_001),
            timer: DisappearTimer::SevenDays,
        };
        assert_eq!(
            s.receive_disappear(bob, &tie, Timestamp(2_000)).unwrap().1,
            DisappearTimer::SevenDays
        );
        assert_eq!(
            s.receive_disappear(bob, &tie, Timestamp(2_001)).unwrap().0,
            Inserted::Duplicate
        );
        assert_eq!(
            kind(s.set_disappear(bob, id(4), DisappearTimer::Off, Timestamp(1))),
            kith_core::ErrorKind::AlreadyExists
        );
        // Lines: ours are queued for sending, as Disappear.
        let kinds: Vec<MessageKind> = s.messages(bob).unwrap().iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds,
            [
                MessageKind::Timer(DisappearTimer::OneHour),
                MessageKind::Timer(DisappearTimer::OneDay),
                MessageKind::Timer(DisappearTimer::FiveMinutes),
                MessageKind::Timer(DisappearTimer::SevenDays),
            ]
        );
        assert_eq!(s.unread_count(bob).unwrap(), 0);
        let out = s.outbox(bob).unwrap();
        assert_eq!(
            out,
            [PeerMessage::Disappear(mine), PeerMessage::Disappear(again)]
        );
        s.set_message_state(bob, id(1), MessageState::Delivered, Timestamp(3))
            .unwrap();
        assert_eq!(s.outbox(bob).unwrap(), [PeerMessage::Disappear(again)]);
        s.set_history(bob, HistoryPolicy::Session).unwrap();
        s.close().unwrap();
        let s = Store::open(&path, PW).unwrap();
        let c = s.conversation(bob).unwrap();
        assert_eq!(
            (c.disappear, c.disappear_set_at, c.history),
            (
                DisappearTimer::SevenDays,
                Timestamp(1_001),
                HistoryPolicy::Session
            )
        );
        assert_eq!(
            kind(s.conversation(ContactId(9))),
            kith_core::ErrorKind::NotFound
        );
    }

    #[test]
    fn messages_expire_at_their_deadline() {
        let (_d, path, mut s, bob) = setup();
        let t0 = 1_000_000;
        s.insert_outgoing(bob, id(1), "kept", Timestamp(t0))
            .unwrap();
        s.set_disappear(bob, id(2), DisappearTimer::FiveMinutes, Timestamp(t0))
            .unwrap();
        let out = s
            .insert_outgoing(bob, id(3), "mine goes", Timestamp(t0 + 1))
            .unwrap();
        assert_eq!(out.expires_at, Some(Timestamp(t0 + 1 + 300_000)));
        assert_eq!(out.disappear, DisappearTimer::FiveMinutes);
        // A Text from an old peer takes the conversation's timer; a Chat
        // its own.
        s.insert_incoming(bob, id(4), "theirs goes", Timestamp(1), Timestamp(t0 + 2))
            .unwrap();
        let chat = Chat {
            id: id(5),
            sent_at: Timestamp(1),
            body: "theirs stays a day".into(),
            reply_to: None,
            disappear: DisappearTimer::OneDay,
        };
        s.insert_incoming_chat(bob, &chat, Timestamp(1), Timestamp(t0 + 3))
            .unwrap();
        // Outbox sends ours as Chat: it carries the timer.
        assert!(s.outbox(bob).unwrap().iter().any(
            |m| matches!(m, PeerMessage::Chat(c) if c.id == id(3) && c.disappear == DisappearTimer::FiveMinutes)
        ));
        assert!(
            s.outbox(bob)
                .unwrap()
                .iter()
                .any(|m| matches!(m, PeerMessage::Text(t) if t.id == id(1)))
        );
        assert_eq!(s.next_expiry().unwrap(), Some(Timestamp(t0 + 1 + 300_000)));
        assert_eq!(s.expired(Timestamp(t0 + 300_000)).unwrap(), []);
        let due = Timestamp(t0 + 2 + 300_000);
        assert_eq!(s.expired(due).unwrap(), [(bob, id(3)), (bob, id(4))]);
        assert_eq!(s.unread_count(bob).unwrap(), 2);
        s.close().unwrap();
        // Deadlines survive a restart.
        let mut s = Store::open(&path, PW).unwrap();
        assert_eq!(s.delete_expired(due).unwrap(), [(bob, id(3)), (bob, id(4))]);
        assert_eq!(s.delete_expired(due).unwrap(), []);
        assert_eq!(bodies(&s, bob), ["kept", "", "theirs stays a day"]);
        assert_eq!(s.unread_count(bob).unwrap(), 1);
        // No tombstone: gone entirely.
        assert_eq!(s.quote(bob, id(3)).unwrap(), Quote::Unknown);
        assert_eq!(
            s.next_expiry().unwrap(),
            Some(Timestamp(t0 + 3 + 86_400_000))
        );
        let n: i64 = s
            .conn
            .query_row("SELECT COUNT(*) FROM expiries", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn clearing_history_keeps_the_contact() {
        let (_d, _path, mut s, bob) = setup();
        let carol = friend(&mut s, 3, "carol");
        incoming(&mut s, bob, 1, "one", 1);
        incoming(&mut s, bob, 2, "two", 2);
        incoming(&mut s, carol, 3, "carol's", 3);
        s.react(bob, id(9), id(1), Some(&emoji("👍"))).unwrap();
        s.set_disappear(bob, id(4), DisappearTimer::OneDay, Timestamp(5))
            .unwrap();
        s.delete_message(bob, id(2)).unwrap();
        assert_eq!(s.clear_history(bob).unwrap(), 3);
        assert_eq!(s.messages(bob).unwrap(), []);
        assert_eq!(s.unread_count(bob).unwrap(), 0);
        assert_eq!(s.contact(bob).unwrap().alias, "bob");
        assert_eq!(
            s.conversation(bob).unwrap().disappear,
            DisappearTimer::OneDay
        );
        assert_eq!(bodies(&s, carol), ["carol's"]);
        // Session history: cleared by clear_session_histories only.
        s.set_history(carol, HistoryPolicy::Session).unwrap();
        incoming(&mut s, bob, 5, "kept", 6);
        assert_eq!(s.clear_session_histories().unwrap(), [carol]);
        assert_eq!(bodies(&s, carol), Vec::<String>::new());
        assert_eq!(bodies(&s, bob), ["kept"]);
        for t in ["reactions", "expiries", "files", "file_chunks"] {
            let n: i64 = s
                .conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0, "{t}");
        }
        // Deleting the contact takes its conversation settings.
        s.delete_contact(bob).unwrap();
        let n: i64 = s
            .conn
            .query_row("SELECT COUNT(*) FROM conversations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_session_history_keeps_what_is_not_delivered_yet() {
        let (_d, _path, mut s, bob) = setup();
        s.set_history(bob, HistoryPolicy::Session).unwrap();
        incoming(&mut s, bob, 1, "theirs", 1);
        s.insert_outgoing(bob, id(2), "delivered", Timestamp(2))
            .unwrap();
        s.set_message_state(bob, id(2), MessageState::Delivered, Timestamp(3))
            .unwrap();
        s.insert_outgoing(bob, id(3), "queued", Timestamp(4))
            .unwrap();
        s.insert_outgoing(bob, id(4), "sent", Timestamp(5)).unwrap();
        s.set_message_state(bob, id(4), MessageState::Sent, Timestamp(6))
            .unwrap();
        s.react(bob, id(9), id(3), Some(&emoji("👍"))).unwrap();
        assert_eq!(s.clear_session_histories().unwrap(), [bob]);
        // Not unsent by closing: still there, still to send.
        assert_eq!(bodies(&s, bob), ["queued", "sent"]);
        assert_eq!(s.undelivered(bob).unwrap().len(), 2);
        // Delivered, they go with the next clear.
        for n in [3, 4] {
            s.set_message_state(bob, id(n), MessageState::Delivered, Timestamp(7))
                .unwrap();
        }
        s.clear_session_histories().unwrap();
        assert_eq!(bodies(&s, bob), Vec::<String>::new());
        for t in ["reactions", "messages"] {
            let n: i64 = s
                .conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0, "{t}");
        }
    }

    // ---- Secure deletion: what is on disk ----

    fn side(path: &Path, suffix: &str) -> PathBuf {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    }

    /// Whether `needle` is in the database file or its WAL.
    pub(crate) fn on_disk(path: &Path, needle: &[u8]) -> Vec<&'static str> {
        let mut found = vec![];
        for (name, suffix) in [("db", ""), ("wal", "-wal"), ("shm", "-shm")] {
            if let Ok(bytes) = std::fs::read(side(path, suffix))
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                found.push(name);
            }
        }
        found
    }

    /// Pieces of the sealed cells of message row `row`: 32 bytes from the
    /// start (the nonce and the first ciphertext bytes, the version byte
    /// left out), the middle and the end (the tag) of each, so that a cell
    /// zeroed only in part is caught too.
    fn sealed_cells(s: &Store, row: i64) -> Vec<Vec<u8>> {
        let (m, b): (Vec<u8>, Vec<u8>) = s
            .conn
            .query_row(
                "SELECT meta, body FROM messages WHERE id = ?1",
                [row],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let mut out = vec![];
        for cell in [m, b] {
            let mid = cell.len() / 2;
            out.push(cell[1..33].to_vec());
            out.push(cell[mid..mid + 32].to_vec());
            out.push(cell[cell.len() - 32..].to_vec());
        }
        out
    }

    fn row_of(s: &Store, c: ContactId, m: MessageId) -> i64 {
        find_message(&s.keys, &s.conn, c, m).unwrap().unwrap().0
    }

    /// Every way a message's content is removed leaves none of its sealed
    /// bytes in the database file or its WAL. The plaintext is never on
    /// disk (it is sealed), so the test looks for the ciphertext: first
    /// found there (so the search works and the row really was written to
    /// the file), then, after the deletion, found nowhere. A control
    /// deletes the same way with `secure_delete` off and finds the bytes
    /// still there, which is what the pragma and the checkpoint prevent.
    #[test]
    fn deleted_content_is_gone_from_the_file_and_the_wal() {
        let (_d, path, mut s, bob) = setup();
        let marker = "ZZ-unique-marker-7f3a91-ZZ";
        let mut victims = vec![];
        for (n, how) in [
            (1, "for me"),
            (2, "for everyone"),
            (3, "by them"),
            (4, "expired"),
            (5, "cleared"),
        ] {
            let body = format!("{marker} {how} {}", "x".repeat(200));
            match how {
                "by them" | "cleared" => incoming(&mut s, bob, n, &body, 10),
                "expired" => {
                    let chat = Chat {
                        id: id(n),
                        sent_at: Timestamp(1),
                        body,
                        reply_to: None,
                        disappear: DisappearTimer::FiveMinutes,
                    };
                    s.insert_incoming_chat(bob, &chat, Timestamp(1), Timestamp(10))
                        .unwrap();
                }
                _ => {
                    s.insert_outgoing(bob, id(n), &body, Timestamp(10)).unwrap();
                }
            }
            victims.push((n, how));
        }
        s.react(bob, id(20), id(1), Some(&emoji("🦊"))).unwrap();
        s.checkpoint().unwrap();
        assert!(
            on_disk(&path, marker.as_bytes()).is_empty(),
            "plaintext on disk"
        );
        let cells: Vec<(u8, &str, Vec<Vec<u8>>)> = victims
            .iter()
            .map(|&(n, how)| (n, how, sealed_cells(&s, row_of(&s, bob, id(n)))))
            .collect();
        for (_, how, cs) in &cells {
            for c in cs {
                assert_eq!(on_disk(&path, c), ["db"], "{how}: control, before deletion");
            }
        }
        let reaction: Vec<u8> = s
            .conn
            .query_row("SELECT sealed FROM reactions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(on_disk(&path, &reaction[1..41]), ["db"]);

        assert!(s.delete_message(bob, id(1)).unwrap());
        assert_eq!(s.delete_for_everyone(bob, &[id(2)]).unwrap(), [id(2)]);
        assert_eq!(s.receive_delete(bob, &[id(3)]).unwrap(), [id(3)]);
        assert_eq!(
            s.delete_expired(Timestamp(10 + 300_000)).unwrap(),
            [(bob, id(4))]
        );
        // Clearing takes the rest (tombstones included), with id 5.
        let check = |s: &Store, when: &str| {
            for (_, how, cs) in &cells[..4] {
                for c in cs {
                    assert_eq!(on_disk(&path, c), Vec::<&str>::new(), "{how} {when}");
                }
            }
            assert_eq!(on_disk(&path, &reaction[1..41]), Vec::<&str>::new());
            let _ = s;
        };
        check(&s, "while open");
        assert_eq!(
            bodies(&s, bob),
            [format!("{marker} cleared {}", "x".repeat(200))]
        );
        assert_eq!(s.clear_history(bob).unwrap(), 4);
        for c in &cells[4].2 {
            assert_eq!(on_disk(&path, c), Vec::<&str>::new(), "cleared");
        }
        check(&s, "after clearing");
        s.close().unwrap();
        check(&Store::open(&path, PW).unwrap(), "after reopening");

        // The control: the same deletion without secure_delete leaves the
        // ciphertext in the file.
        let (_d2, path2, mut s2, bob2) = setup();
        s2.insert_outgoing(bob2, id(1), &format!("{marker} control"), Timestamp(1))
            .unwrap();
        s2.checkpoint().unwrap();
        let cs = sealed_cells(&s2, row_of(&s2, bob2, id(1)));
        s2.conn
            .execute_batch("PRAGMA secure_delete = OFF;")
            .unwrap();
        s2.conn
            .execute("DELETE FROM messages WHERE contact_id = ?1", [bob2.0])
            .unwrap();
        s2.checkpoint().unwrap();
        assert!(
            cs.iter().any(|c| on_disk(&path2, c).contains(&"db")),
            "without secure_delete the bytes stay: the test can see them"
        );
    }
}
