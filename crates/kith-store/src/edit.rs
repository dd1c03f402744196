//! Edits (schema 5, `docs/protocol.md` § 12): a new text for one of the
//! author's own text messages.
//!
//! The edited text replaces the message's body (the old one is gone from
//! the file: `secure_delete`, then the WAL emptied); the `edits` table
//! keeps the edit in force, one per message: its id, time, author's side,
//! and for ours whether the contact acknowledged it ([`Store::outbox`]
//! sends it again until then). Deleting the message deletes its edit.

use std::collections::HashMap;

use kith_core::chat::Edit;
use kith_core::limits::MAX_BODY;
use kith_core::{MessageId, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

use crate::conversation::begin;
use crate::crypto::{Keys, Slot};
use crate::error::{Error, Result, db};
use crate::model::{ContactId, Direction, EditRecord, Message, MessageKind, MessageMeta};
use crate::store::{Store, body_slot, find_message};

fn edit_slot(row: i64) -> Slot {
    Slot {
        table: "edits",
        column: "sealed",
        row,
        owner: 0,
    }
}

fn id_hash(keys: &Keys, contact: ContactId, by: Direction, edit: MessageId) -> Result<Vec<u8>> {
    let side = [u8::from(by == Direction::In)];
    keys.lookup("edit-id", &[&contact.0.to_be_bytes(), &side, &edit.0])
}

/// The edit in force of the message in row `row`, if it was edited.
pub(crate) fn edit_of(keys: &Keys, conn: &Connection, row: i64) -> Result<Option<EditRecord>> {
    let sealed: Option<Vec<u8>> = conn
        .prepare_cached("SELECT sealed FROM edits WHERE id = ?1")
        .and_then(|mut st| st.query_row([row], |r| r.get(0)))
        .optional()
        .map_err(db("reading an edit"))?;
    sealed
        .map(|s| keys.open(edit_slot(row), &s, "edit"))
        .transpose()
}

/// The edits of a conversation, by message row.
pub(crate) fn edits_of(store: &Store, contact: ContactId) -> Result<HashMap<i64, EditRecord>> {
    let rows: Vec<(i64, Vec<u8>)> = store
        .conn
        .prepare_cached(
            "SELECT e.id, e.sealed FROM edits AS e
             JOIN messages AS m ON m.id = e.id
             WHERE m.contact_id = ?1 ORDER BY e.id",
        )
        .and_then(|mut st| {
            st.query_map([contact.0], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(db("reading edits"))?;
    rows.into_iter()
        .map(|(row, sealed)| Ok((row, store.keys.open(edit_slot(row), &sealed, "edit")?)))
        .collect()
}

/// Replace the body of the message in row `row` with `body` and its edit
/// with `rec` (inside the caller's transaction).
fn write_edit(
    keys: &Keys,
    tx: &Connection,
    contact: ContactId,
    row: i64,
    rec: &EditRecord,
    body: &str,
) -> Result<()> {
    let hash = id_hash(keys, contact, rec.by, rec.id)?;
    // The same edit id on another message (a confused or hostile peer):
    // that one loses its mark, not its text.
    tx.execute(
        "DELETE FROM edits WHERE id_hash = ?1 AND id != ?2",
        params![hash, row],
    )
    .map_err(db("storing an edit"))?;
    let sealed = keys.seal(edit_slot(row), rec)?;
    tx.execute(
        "INSERT INTO edits (id, id_hash, sealed) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET id_hash = excluded.id_hash, sealed = excluded.sealed",
        params![row, hash, sealed],
    )
    .map_err(db("storing an edit"))?;
    let sealed_body = keys.seal(body_slot(row, contact), &body)?;
    tx.execute(
        "UPDATE messages SET body = ?1 WHERE id = ?2",
        params![sealed_body, row],
    )
    .map_err(db("storing an edit"))?;
    Ok(())
}

/// Whether `meta` is a text of `by` that can be edited.
fn editable(meta: &MessageMeta, by: Direction) -> bool {
    meta.direction == by && meta.kind == MessageKind::Text
}

impl Store {
    /// Edit our text message `target`: its body becomes `body` here at
    /// once, and the returned [`Edit`] is what to send ([`Store::outbox`]
    /// sends it again until [`Store::set_edit_delivered`]). Its time is
    /// `max(now, time of the edit in force + 1)`, so it wins over the one in
    /// force on both sides. A newer edit replaces one not yet delivered.
    ///
    /// [`Error::NotFound`] if `target` is not a text of the conversation
    /// (or is deleted); [`Error::BadInput`] if it is the contact's, or
    /// `body` is empty or over [`MAX_BODY`].
    pub fn edit(
        &mut self,
        contact: ContactId,
        edit_id: MessageId,
        target: MessageId,
        body: &str,
        now: Timestamp,
    ) -> Result<Edit> {
        if body.is_empty() || body.len() > MAX_BODY {
            return Err(Error::BadInput {
                what: "edited text (empty or too long)",
            });
        }
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let row = match find_message(keys, &tx, contact, target)? {
            Some((row, meta)) if editable(&meta, Direction::Out) => row,
            Some((_, meta)) if meta.direction == Direction::In && !meta.is_deleted() => {
                return Err(Error::BadInput {
                    what: "message to edit (the contact wrote it)",
                });
            }
            _ => return Err(Error::NotFound { what: "message" }),
        };
        let before = edit_of(keys, &tx, row)?;
        let edited_at = match &before {
            Some(b) => Timestamp(now.0.max(b.edited_at.0.saturating_add(1))),
            None => now,
        };
        let rec = EditRecord {
            id: edit_id,
            edited_at,
            by: Direction::Out,
            delivered: false,
        };
        write_edit(keys, &tx, contact, row, &rec, body)?;
        tx.commit().map_err(db("storing an edit"))?;
        self.scrub_wal();
        Ok(Edit {
            id: edit_id,
            target,
            edited_at,
            body: body.to_owned(),
        })
    }

    /// Apply the contact's edit of one of its messages, if it is in force
    /// ([`Edit::wins_over`] the one stored). Returns the message as it is
    /// now, or `None` when nothing changed (the target is not a text the
    /// contact wrote that we hold, or a newer edit is in force):
    /// acknowledge it either way.
    pub fn receive_edit(&mut self, contact: ContactId, e: &Edit) -> Result<Option<Message>> {
        if e.body.is_empty() || e.body.len() > MAX_BODY {
            return Err(Error::BadInput {
                what: "edited text (empty or too long)",
            });
        }
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let Some((row, meta)) = find_message(keys, &tx, contact, e.target)? else {
            return Ok(None);
        };
        if !editable(&meta, Direction::In) {
            return Ok(None);
        }
        if let Some(b) = edit_of(keys, &tx, row)?
            && !e.wins_over(b.edited_at, b.id)
        {
            return Ok(None);
        }
        let rec = EditRecord {
            id: e.id,
            edited_at: e.edited_at,
            by: Direction::In,
            delivered: true,
        };
        write_edit(keys, &tx, contact, row, &rec, &e.body)?;
        tx.commit().map_err(db("storing an edit"))?;
        self.scrub_wal();
        let mut m = meta.into_message(contact, e.body.clone());
        m.edited = Some(rec.view());
        m.reactions = crate::conversation::reactions_of_message(self, row)?;
        Ok(Some(m))
    }

    /// Our edit `edit_id` was acknowledged: stop sending it. Returns the
    /// edited message's id, or `None` if `edit_id` is not an edit of ours
    /// waiting (see [`Store::set_message_state`] for message ids).
    pub fn set_edit_delivered(
        &mut self,
        contact: ContactId,
        edit_id: MessageId,
    ) -> Result<Option<MessageId>> {
        let keys = &self.keys;
        let hash = id_hash(keys, contact, Direction::Out, edit_id)?;
        let tx = begin(&mut self.conn)?;
        let row: Option<(i64, i64, Vec<u8>, Vec<u8>)> = tx
            .query_row(
                "SELECT e.id, m.contact_id, e.sealed, m.meta FROM edits AS e
                 JOIN messages AS m ON m.id = e.id WHERE e.id_hash = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(db("reading an edit"))?;
        let Some((row, owner, sealed, meta)) = row else {
            return Ok(None);
        };
        let mut rec: EditRecord = keys.open(edit_slot(row), &sealed, "edit")?;
        if owner != contact.0 || rec.id != edit_id || rec.by != Direction::Out {
            return Err(Error::Corrupt {
                what: "edit lookup hash",
            });
        }
        if rec.delivered {
            return Ok(None);
        }
        let meta: MessageMeta =
            keys.open(crate::store::meta_slot(row, contact), &meta, "message")?;
        rec.delivered = true;
        let sealed = keys.seal(edit_slot(row), &rec)?;
        tx.execute(
            "UPDATE edits SET sealed = ?1 WHERE id = ?2",
            params![sealed, row],
        )
        .map_err(db("storing an edit"))?;
        tx.commit().map_err(db("storing an edit"))?;
        Ok(Some(meta.msg_id))
    }

    /// Our edits the contact has not acknowledged, in the order of their
    /// messages, as sent (the text in force is the message's body).
    pub(crate) fn pending_edits(&self, contact: ContactId) -> Result<Vec<Edit>> {
        let mut out = vec![];
        let edits = edits_of(self, contact)?;
        let mut rows: Vec<_> = edits
            .into_iter()
            .filter(|(_, r)| r.by == Direction::Out && !r.delivered)
            .collect();
        rows.sort_by_key(|(row, _)| *row);
        for (row, rec) in rows {
            let (meta, body): (Vec<u8>, Vec<u8>) = self
                .conn
                .query_row(
                    "SELECT meta, body FROM messages WHERE id = ?1",
                    [row],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(db("reading a message"))?;
            let m = crate::store::open_message(&self.keys, row, contact, &meta, &body)?;
            out.push(Edit {
                id: rec.id,
                target: m.msg_id,
                edited_at: rec.edited_at,
                body: m.body,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
