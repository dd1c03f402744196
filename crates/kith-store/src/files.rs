//! Files (schema 4): each is a message of its conversation (kind
//! [`MessageKind::File`]) with a `files` row for the transfer state and its
//! data in `file_chunks`, one sealed chunk per row, so that no file is ever
//! one value in memory. Resume state (the next chunk) is in the sealed
//! record: it survives a restart.

use std::io::{Read, Write};

use kith_core::file::{FileChunk, FileName, FileOffer, FileStatus};
use kith_core::limits::{DEFAULT_CHUNK, MAX_FILE_SIZE};
use kith_core::{MessageId, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::conversation::{begin, offer_of};
use crate::crypto::{Keys, Slot};
use crate::error::{Error, Result, db};
use crate::model::{
    ChunkRecord, ChunkRefusal, ChunkStored, ContactId, Direction, FileInfo, FileRecord, FileState,
    Inserted, MessageKind, MessageMeta, MessageState,
};
use crate::store::{Store, find_message};

fn file_slot(row: i64, contact: ContactId) -> Slot {
    Slot {
        table: "files",
        column: "sealed",
        row,
        owner: contact.0,
    }
}

fn chunk_slot(row: i64, file_row: i64) -> Slot {
    Slot {
        table: "file_chunks",
        column: "data",
        row,
        owner: file_row,
    }
}

fn chunk_count(rec: &FileRecord) -> u32 {
    u32::try_from(rec.size.div_ceil(u64::from(rec.chunk_size.max(1)))).unwrap_or(u32::MAX)
}

/// Bytes chunk `index` of `rec` holds (`None` past the end).
fn chunk_len(rec: &FileRecord, index: u32) -> Option<usize> {
    if index >= chunk_count(rec) {
        return None;
    }
    let start = u64::from(index) * u64::from(rec.chunk_size);
    usize::try_from((rec.size - start).min(u64::from(rec.chunk_size))).ok()
}

fn read_record(keys: &Keys, conn: &Connection, contact: ContactId, row: i64) -> Result<FileRecord> {
    let sealed: Vec<u8> = conn
        .query_row("SELECT sealed FROM files WHERE id = ?1", [row], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db("reading a file"))?
        .ok_or(Error::Corrupt {
            what: "file message without its file",
        })?;
    keys.open(file_slot(row, contact), &sealed, "file")
}

/// The record of the file in message row `row`.
pub(crate) fn file_record(store: &Store, contact: ContactId, row: i64) -> Result<FileRecord> {
    read_record(&store.keys, &store.conn, contact, row)
}

fn write_record(
    keys: &Keys,
    tx: &Connection,
    contact: ContactId,
    row: i64,
    rec: &FileRecord,
) -> Result<()> {
    let sealed = keys.seal(file_slot(row, contact), rec)?;
    tx.execute(
        "INSERT INTO files (id, sealed) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed",
        params![row, sealed],
    )
    .map_err(db("storing a file"))?;
    Ok(())
}

fn put_chunk(keys: &Keys, tx: &Connection, file_row: i64, index: u32, data: &[u8]) -> Result<()> {
    let row = crate::schema::next_id(tx, "file_chunks")?;
    let sealed = keys.seal(
        chunk_slot(row, file_row),
        &ChunkRecord {
            index,
            data: data.to_vec(),
        },
    )?;
    tx.execute(
        "INSERT INTO file_chunks (id, file_id, idx, data) VALUES (?1, ?2, ?3, ?4)",
        params![row, file_row, index, sealed],
    )
    .map_err(db("storing a file chunk"))?;
    Ok(())
}

/// Open chunk `index` of the file in `file_row`.
fn get_chunk(keys: &Keys, conn: &Connection, file_row: i64, index: u32) -> Result<Vec<u8>> {
    let (row, sealed): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT id, data FROM file_chunks WHERE file_id = ?1 AND idx = ?2",
            params![file_row, index],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db("reading a file chunk"))?
        .ok_or(Error::NotFound { what: "file chunk" })?;
    let rec: ChunkRecord = keys.open(chunk_slot(row, file_row), &sealed, "file chunk")?;
    if rec.index != index {
        return Err(Error::Corrupt {
            what: "file chunk index",
        });
    }
    Ok(rec.data)
}

/// Feed chunks `0..count` of the file to `each`, one at a time, in order,
/// and return their SHA-256.
fn each_chunk(
    keys: &Keys,
    conn: &Connection,
    file_row: i64,
    rec: &FileRecord,
    mut each: impl FnMut(&[u8]) -> Result<()>,
) -> Result<[u8; 32]> {
    let mut h = Sha256::new();
    for index in 0..chunk_count(rec) {
        let data = get_chunk(keys, conn, file_row, index)?;
        if Some(data.len()) != chunk_len(rec, index) {
            return Err(Error::Corrupt {
                what: "file chunk length",
            });
        }
        h.update(&data);
        each(&data)?;
    }
    Ok(h.finalize().into())
}

/// Our file `id` or theirs: its row, metadata and record, or `None` when
/// `id` is not a file of the conversation.
fn find_file(
    keys: &Keys,
    conn: &Connection,
    contact: ContactId,
    id: MessageId,
) -> Result<Option<(i64, MessageMeta, FileRecord)>> {
    match find_message(keys, conn, contact, id)? {
        Some((row, meta)) if meta.kind == MessageKind::File => {
            let rec = read_record(keys, conn, contact, row)?;
            Ok(Some((row, meta, rec)))
        }
        _ => Ok(None),
    }
}

fn info(contact: ContactId, meta: &MessageMeta, rec: &FileRecord) -> FileInfo {
    FileInfo {
        contact,
        id: meta.msg_id,
        direction: meta.direction,
        name: rec.name.clone(),
        size: rec.size,
        sha256: rec.sha256,
        chunk_size: rec.chunk_size,
        chunks: chunk_count(rec),
        next: rec.next,
        state: rec.state,
    }
}

impl Store {
    /// Store a file of ours to send: `size` bytes read from `data`, in
    /// chunks of [`DEFAULT_CHUNK`] sealed one by one (one chunk in memory
    /// at a time), hashed with SHA-256, as a message (queued, with the
    /// conversation's timer) in one transaction. Returns the offer to send
    /// ([`Store::outbox`] sends it again until it is acknowledged).
    ///
    /// [`Error::BadInput`] if `size` is over [`MAX_FILE_SIZE`] or `data`
    /// holds fewer or more bytes than `size`; [`Error::AlreadyExists`] if
    /// `id` is taken; [`Error::Io`] if reading fails. Nothing is stored
    /// then.
    pub fn insert_outgoing_file(
        &mut self,
        contact: ContactId,
        id: MessageId,
        name: &FileName,
        size: u64,
        data: &mut dyn Read,
        at: Timestamp,
    ) -> Result<FileOffer> {
        if size > MAX_FILE_SIZE {
            return Err(Error::BadInput {
                what: "file (too large: at most 100 MiB)",
            });
        }
        let disappear = self.conversation(contact)?.disappear;
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let meta = MessageMeta {
            msg_id: id,
            direction: Direction::Out,
            state: MessageState::Queued,
            sent_at: at,
            stored_at: at,
            delivered_at: None,
            read: true,
            kind: MessageKind::File,
            reply_to: None,
            disappear,
            expires_at: disappear.deadline(at),
        };
        if Store::insert_message_in(keys, &tx, contact, meta.clone(), "")? == Inserted::Duplicate {
            return Err(Error::AlreadyExists { what: "message id" });
        }
        let (row, _) = find_message(keys, &tx, contact, id)?.ok_or(Error::Bug("file row"))?;
        let mut rec = FileRecord {
            name: name.as_str().to_owned(),
            size,
            sha256: [0; 32],
            chunk_size: DEFAULT_CHUNK,
            next: 0,
            state: FileState::Offered,
        };
        // The row first: chunks reference it. Its hash is set below.
        write_record(keys, &tx, contact, row, &rec)?;
        let mut h = Sha256::new();
        let mut buf = vec![0_u8; DEFAULT_CHUNK as usize];
        for index in 0..chunk_count(&rec) {
            let len = chunk_len(&rec, index).ok_or(Error::Bug("chunk length"))?;
            let chunk = buf.get_mut(..len).ok_or(Error::Bug("chunk buffer"))?;
            data.read_exact(chunk).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => Error::BadInput {
                    what: "file (shorter than its size)",
                },
                _ => Error::Io {
                    action: "reading the file to send",
                    source: e,
                },
            })?;
            h.update(&*chunk);
            put_chunk(keys, &tx, row, index, chunk)?;
        }
        let mut more = [0_u8; 1];
        let extra = data.read(&mut more).map_err(|source| Error::Io {
            action: "reading the file to send",
            source,
        })?;
        if extra != 0 {
            return Err(Error::BadInput {
                what: "file (longer than its size)",
            });
        }
        rec.sha256 = h.finalize().into();
        write_record(keys, &tx, contact, row, &rec)?;
        tx.commit().map_err(db("storing a file"))?;
        offer_of(&meta, &rec)
    }

    /// Store the contact's offer as a file message, not accepted yet
    /// (deduplicated on its id like a message: `Duplicate` means
    /// acknowledge it again). `sent_at` is the offer's time as the caller
    /// accepts it (clamped). The offer is checked by the wire already
    /// (size, chunk size, name). It disappears after its own timer.
    pub fn insert_incoming_file(
        &mut self,
        contact: ContactId,
        offer: &FileOffer,
        sent_at: Timestamp,
        received_at: Timestamp,
    ) -> Result<Inserted> {
        if offer.size > MAX_FILE_SIZE {
            return Err(Error::BadInput {
                what: "file (too large)",
            });
        }
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let meta = MessageMeta {
            msg_id: offer.id,
            direction: Direction::In,
            state: MessageState::Received,
            sent_at,
            stored_at: received_at,
            delivered_at: None,
            read: false,
            kind: MessageKind::File,
            reply_to: None,
            disappear: offer.disappear,
            expires_at: offer.disappear.deadline(received_at),
        };
        let inserted = Store::insert_message_in(keys, &tx, contact, meta, "")?;
        if inserted == Inserted::Duplicate {
            return Ok(inserted);
        }
        let (row, _) = find_message(keys, &tx, contact, offer.id)?.ok_or(Error::Bug("file row"))?;
        let rec = FileRecord {
            name: offer.name.as_str().to_owned(),
            size: offer.size,
            sha256: offer.sha256,
            chunk_size: offer.chunk_size,
            next: 0,
            state: FileState::Offered,
        };
        write_record(keys, &tx, contact, row, &rec)?;
        tx.commit().map_err(db("storing a file"))?;
        Ok(inserted)
    }

    /// A file of the conversation, if `id` is one.
    pub fn file(&self, contact: ContactId, id: MessageId) -> Result<Option<FileInfo>> {
        self.contact_exists(contact)?;
        Ok(find_file(&self.keys, &self.conn, contact, id)?
            .map(|(_, meta, rec)| info(contact, &meta, &rec)))
    }

    /// Every file of the conversation, oldest first.
    pub fn files(&self, contact: ContactId) -> Result<Vec<FileInfo>> {
        self.contact_exists(contact)?;
        let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = self
            .conn
            .prepare_cached(
                "SELECT f.id, f.sealed, m.meta FROM files AS f
                 JOIN messages AS m ON m.id = f.id
                 WHERE m.contact_id = ?1 ORDER BY f.id",
            )
            .and_then(|mut st| {
                st.query_map([contact.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(db("reading files"))?;
        rows.into_iter()
            .map(|(row, sealed, meta)| {
                let rec: FileRecord = self.keys.open(file_slot(row, contact), &sealed, "file")?;
                let meta: MessageMeta =
                    self.keys
                        .open(crate::store::meta_slot(row, contact), &meta, "message")?;
                Ok(info(contact, &meta, &rec))
            })
            .collect()
    }

    /// Accept the contact's file `id` (offered, not refused): from now on
    /// its chunks are stored. Returns `Stored { next: 0 }` (send
    /// `FileResume` from 0), or, for an empty file, `Complete` or `Corrupt`
    /// at once; `None` if `id` is not an offered file of theirs.
    pub fn accept_file(
        &mut self,
        contact: ContactId,
        id: MessageId,
    ) -> Result<Option<ChunkStored>> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let Some((row, meta, mut rec)) = find_file(keys, &tx, contact, id)? else {
            return Ok(None);
        };
        if meta.direction != Direction::In || rec.state != FileState::Offered {
            return Ok(None);
        }
        let outcome = if chunk_count(&rec) == 0 {
            let empty: [u8; 32] = Sha256::digest([]).into();
            if empty == rec.sha256 {
                rec.state = FileState::Complete;
                ChunkStored::Complete
            } else {
                rec.state = FileState::Corrupt;
                ChunkStored::Corrupt
            }
        } else {
            rec.state = FileState::Transferring;
            ChunkStored::Stored { next: rec.next }
        };
        write_record(keys, &tx, contact, row, &rec)?;
        tx.commit().map_err(db("storing a file"))?;
        Ok(Some(outcome))
    }

    /// Refuse the contact's file `id` (answer `FileDone(Refused)`): any
    /// chunk already stored is deleted. `false` if it is not a file of
    /// theirs still to come.
    pub fn refuse_file(&mut self, contact: ContactId, id: MessageId) -> Result<bool> {
        self.drop_incoming(contact, id, FileState::Refused)
    }

    /// The contact no longer has its file `id` (its
    /// `FileDone(Unavailable)`): any chunk stored is deleted, the state is
    /// `Unavailable`. `false` if it is not a file of theirs still to come.
    pub fn file_withdrawn(&mut self, contact: ContactId, id: MessageId) -> Result<bool> {
        self.drop_incoming(contact, id, FileState::Unavailable)
    }

    /// Store a chunk the contact sent, if it is the next one of a file of
    /// theirs we accepted and has exactly the length the offer gives its
    /// index; after the last one, check the whole file's SHA-256
    /// (`Complete`), or drop every chunk (`Corrupt`). Anything else is
    /// `Refused` and changes nothing: a chunk flood stores nothing.
    ///
    /// A chunk is committed without waiting for the disk (SQLite's
    /// `synchronous = NORMAL`: one fsync per chunk made a transfer as slow
    /// as the disk); the WAL keeps transactions in order, so after a power
    /// loss the file's record and its chunks still agree and the transfer
    /// resumes from the last chunk kept. The last chunk's outcome is made
    /// durable (a checkpoint) before it is returned, so `Complete` is
    /// never answered for a file a crash could lose.
    pub fn store_chunk(&mut self, contact: ContactId, chunk: &FileChunk) -> Result<ChunkStored> {
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL;")
            .map_err(db("storing a file chunk"))?;
        let outcome = self.store_chunk_in(contact, chunk);
        let restored = self
            .conn
            .execute_batch("PRAGMA synchronous = FULL;")
            .map_err(db("storing a file chunk"));
        let outcome = outcome?;
        restored?;
        if matches!(outcome, ChunkStored::Complete | ChunkStored::Corrupt) {
            self.checkpoint()?;
        }
        Ok(outcome)
    }

    fn store_chunk_in(&mut self, contact: ContactId, chunk: &FileChunk) -> Result<ChunkStored> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let Some((row, meta, mut rec)) = find_file(keys, &tx, contact, chunk.file)? else {
            return Ok(ChunkStored::Refused(ChunkRefusal::UnknownFile));
        };
        if meta.direction != Direction::In {
            return Ok(ChunkStored::Refused(ChunkRefusal::UnknownFile));
        }
        if rec.state != FileState::Transferring {
            return Ok(ChunkStored::Refused(ChunkRefusal::NotReceiving));
        }
        if chunk.index != rec.next {
            return Ok(ChunkStored::Refused(ChunkRefusal::OutOfOrder {
                expected: rec.next,
            }));
        }
        if chunk_len(&rec, chunk.index) != Some(chunk.data.len()) {
            return Ok(ChunkStored::Refused(ChunkRefusal::WrongLength));
        }
        put_chunk(keys, &tx, row, chunk.index, &chunk.data)?;
        rec.next += 1;
        let outcome = if rec.next < chunk_count(&rec) {
            ChunkStored::Stored { next: rec.next }
        } else if each_chunk(keys, &tx, row, &rec, |_| Ok(()))? == rec.sha256 {
            rec.state = FileState::Complete;
            ChunkStored::Complete
        } else {
            tx.execute("DELETE FROM file_chunks WHERE file_id = ?1", [row])
                .map_err(db("deleting file chunks"))?;
            rec.state = FileState::Corrupt;
            rec.next = 0;
            ChunkStored::Corrupt
        };
        write_record(keys, &tx, contact, row, &rec)?;
        tx.commit().map_err(db("storing a file chunk"))?;
        Ok(outcome)
    }

    /// Give up the contact's file `id` as corrupt (it sent a chunk that lies
    /// about its length, or otherwise broke the transfer): every chunk
    /// stored is dropped and the state is `Corrupt` (answer
    /// `FileDone(Corrupt)`). `false` if it is not a file of theirs still to
    /// come.
    pub fn fail_file(&mut self, contact: ContactId, id: MessageId) -> Result<bool> {
        self.drop_incoming(contact, id, FileState::Corrupt)
    }

    /// Drop every chunk of the contact's file `id`, still to come, and set
    /// its state to `state`; `false` if it is no such file.
    fn drop_incoming(
        &mut self,
        contact: ContactId,
        id: MessageId,
        state: FileState,
    ) -> Result<bool> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let Some((row, meta, mut rec)) = find_file(keys, &tx, contact, id)? else {
            return Ok(false);
        };
        if meta.direction != Direction::In
            || !matches!(rec.state, FileState::Offered | FileState::Transferring)
        {
            return Ok(false);
        }
        tx.execute("DELETE FROM file_chunks WHERE file_id = ?1", [row])
            .map_err(db("deleting file chunks"))?;
        rec.state = state;
        rec.next = 0;
        write_record(keys, &tx, contact, row, &rec)?;
        tx.commit().map_err(db("storing a file"))?;
        self.scrub_wal();
        Ok(true)
    }

    /// The contact's files we are receiving, with the next chunk each
    /// needs: send `FileResume` for each at the start of a session.
    pub fn receiving_files(&self, contact: ContactId) -> Result<Vec<(MessageId, u32)>> {
        Ok(self
            .files(contact)?
            .into_iter()
            .filter(|f| f.direction == Direction::In && f.state == FileState::Transferring)
            .map(|f| (f.id, f.next))
            .collect())
    }

    /// The contact asks for our file `id` from chunk `from` (its
    /// `FileResume`): recorded (it has every chunk before `from`). Returns
    /// the number of chunks, to send `from..count` with
    /// [`Store::outgoing_chunk`]; `None` if `id` is not a file of ours it
    /// may still ask for (unknown, deleted, refused, complete), or `from`
    /// is past the end.
    pub fn file_resume_requested(
        &mut self,
        contact: ContactId,
        id: MessageId,
        from: u32,
    ) -> Result<Option<u32>> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let Some((row, meta, mut rec)) = find_file(keys, &tx, contact, id)? else {
            return Ok(None);
        };
        let count = chunk_count(&rec);
        if meta.direction != Direction::Out
            || !matches!(rec.state, FileState::Offered | FileState::Transferring)
            || from > count
        {
            return Ok(None);
        }
        rec.state = FileState::Transferring;
        rec.next = from;
        write_record(keys, &tx, contact, row, &rec)?;
        tx.commit().map_err(db("storing a file"))?;
        Ok(Some(count))
    }

    /// Chunk `index` of our file `id`, ready to send.
    /// [`Error::NotFound`] if there is no such file of ours or chunk.
    pub fn outgoing_chunk(
        &self,
        contact: ContactId,
        id: MessageId,
        index: u32,
    ) -> Result<FileChunk> {
        let Some((row, meta, _)) = find_file(&self.keys, &self.conn, contact, id)? else {
            return Err(Error::NotFound { what: "file" });
        };
        if meta.direction != Direction::Out {
            return Err(Error::NotFound { what: "file" });
        }
        Ok(FileChunk {
            file: id,
            index,
            data: get_chunk(&self.keys, &self.conn, row, index)?,
        })
    }

    /// The contact's last word on our file `id` (its `FileDone`): state
    /// `Complete`, `Refused` or `Corrupt` (`Unavailable` is a sender's
    /// word: ignored). `true` if that changed it.
    pub fn file_done(
        &mut self,
        contact: ContactId,
        id: MessageId,
        status: FileStatus,
    ) -> Result<bool> {
        let keys = &self.keys;
        let tx = begin(&mut self.conn)?;
        let Some((row, meta, mut rec)) = find_file(keys, &tx, contact, id)? else {
            return Ok(false);
        };
        if meta.direction != Direction::Out
            || !matches!(rec.state, FileState::Offered | FileState::Transferring)
        {
            return Ok(false);
        }
        rec.state = match status {
            FileStatus::Received => FileState::Complete,
            FileStatus::Refused => FileState::Refused,
            FileStatus::Corrupt => FileState::Corrupt,
            // The sender's word, about a file of ours: not the receiver's.
            FileStatus::Unavailable => return Ok(false),
        };
        if status == FileStatus::Received {
            rec.next = chunk_count(&rec);
        }
        write_record(keys, &tx, contact, row, &rec)?;
        tx.commit().map_err(db("storing a file"))?;
        Ok(true)
    }

    /// Write file `id` to `out`, one chunk at a time, and check its
    /// SHA-256 again: a file of theirs only once `Complete`, any file of
    /// ours. Returns the bytes written. [`Error::NotFound`] if it is not
    /// (yet) readable; [`Error::Corrupt`] if the data stored does not hash
    /// to the offer's SHA-256 (then `out` holds bad data: write to a
    /// temporary file and rename it on success).
    pub fn write_file(
        &self,
        contact: ContactId,
        id: MessageId,
        out: &mut dyn Write,
    ) -> Result<u64> {
        let Some((row, meta, rec)) = find_file(&self.keys, &self.conn, contact, id)? else {
            return Err(Error::NotFound { what: "file" });
        };
        if meta.direction == Direction::In && rec.state != FileState::Complete {
            return Err(Error::NotFound {
                what: "file (not received yet)",
            });
        }
        let mut n = 0_u64;
        let hash = each_chunk(&self.keys, &self.conn, row, &rec, |data| {
            out.write_all(data).map_err(|source| Error::Io {
                action: "writing the file",
                source,
            })?;
            n += data.len() as u64;
            Ok(())
        })?;
        if hash != rec.sha256 {
            return Err(Error::Corrupt {
                what: "file (SHA-256 differs)",
            });
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::tests::{PW, id, on_disk, setup};
    use kith_core::ErrorKind;
    use kith_core::limits::MAX_CHUNK;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn name(s: &str) -> FileName {
        FileName::sanitize(s).unwrap()
    }

    fn kind<T: std::fmt::Debug>(r: Result<T>) -> ErrorKind {
        r.unwrap_err().kind()
    }

    /// A file sent from one store to another, chunk by chunk, with both
    /// sides closed and reopened half way: it resumes where it stopped and
    /// arrives with the same SHA-256.
    #[test]
    fn a_file_goes_across_and_resumes_after_restarts() {
        let (_da, pa, mut a, bob) = setup();
        let (_db, pb, mut b, alice) = setup();
        let bytes = data(1_000_000);
        let offer = a
            .insert_outgoing_file(
                bob,
                id(1),
                &name("photo.jpg"),
                bytes.len() as u64,
                &mut bytes.as_slice(),
                Timestamp(5),
            )
            .unwrap();
        let want: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(offer.sha256, want);
        assert_eq!(offer.chunk_size, DEFAULT_CHUNK);
        assert_eq!(offer.chunk_count(), 62);
        assert!(
            a.outbox(bob)
                .unwrap()
                .contains(&kith_core::PeerMessage::FileOffer(offer.clone()))
        );
        // The offer arrives; a repeat is a duplicate.
        assert!(matches!(
            b.insert_incoming_file(alice, &offer, Timestamp(5), Timestamp(6))
                .unwrap(),
            Inserted::New(_)
        ));
        assert_eq!(
            b.insert_incoming_file(alice, &offer, Timestamp(5), Timestamp(7))
                .unwrap(),
            Inserted::Duplicate
        );
        // Not accepted yet: chunks are refused.
        let c0 = a.outgoing_chunk(bob, id(1), 0).unwrap();
        assert_eq!(
            b.store_chunk(alice, &c0).unwrap(),
            ChunkStored::Refused(ChunkRefusal::NotReceiving)
        );
        assert_eq!(
            b.accept_file(alice, id(1)).unwrap(),
            Some(ChunkStored::Stored { next: 0 })
        );
        assert_eq!(b.accept_file(alice, id(1)).unwrap(), None);
        assert_eq!(a.file_resume_requested(bob, id(1), 0).unwrap(), Some(62));
        for i in 0..30 {
            let c = a.outgoing_chunk(bob, id(1), i).unwrap();
            assert_eq!(
                b.store_chunk(alice, &c).unwrap(),
                ChunkStored::Stored { next: i + 1 }
            );
        }
        // Both restart.
        a.close().unwrap();
        b.close().unwrap();
        let mut a = Store::open(&pa, PW).unwrap();
        let mut b = Store::open(&pb, PW).unwrap();
        assert_eq!(b.receiving_files(alice).unwrap(), [(id(1), 30)]);
        let f = b.file(alice, id(1)).unwrap().unwrap();
        assert_eq!(
            (f.state, f.next, f.chunks),
            (FileState::Transferring, 30, 62)
        );
        assert_eq!(f.bytes_done(), 30 * u64::from(DEFAULT_CHUNK));
        assert_eq!(
            kind(b.write_file(alice, id(1), &mut Vec::new())),
            ErrorKind::NotFound
        );
        // A repeat of an old chunk and one past a gap: refused.
        let old = a.outgoing_chunk(bob, id(1), 29).unwrap();
        assert_eq!(
            b.store_chunk(alice, &old).unwrap(),
            ChunkStored::Refused(ChunkRefusal::OutOfOrder { expected: 30 })
        );
        assert_eq!(a.file_resume_requested(bob, id(1), 30).unwrap(), Some(62));
        for i in 30..62 {
            let c = a.outgoing_chunk(bob, id(1), i).unwrap();
            let r = b.store_chunk(alice, &c).unwrap();
            if i < 61 {
                assert_eq!(r, ChunkStored::Stored { next: i + 1 });
            } else {
                assert_eq!(r, ChunkStored::Complete);
            }
        }
        assert_eq!(b.receiving_files(alice).unwrap(), []);
        assert!(a.file_done(bob, id(1), FileStatus::Received).unwrap());
        assert!(!a.file_done(bob, id(1), FileStatus::Corrupt).unwrap());
        assert_eq!(
            a.file(bob, id(1)).unwrap().unwrap().state,
            FileState::Complete
        );
        b.close().unwrap();
        let b = Store::open(&pb, PW).unwrap();
        let mut out = vec![];
        assert_eq!(b.write_file(alice, id(1), &mut out).unwrap(), 1_000_000);
        assert_eq!(out, bytes);
        let files = b.files(alice).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(
            (files[0].name.as_str(), files[0].state),
            ("photo.jpg", FileState::Complete)
        );
        assert_eq!(b.messages(alice).unwrap()[0].kind, MessageKind::File);
        let mut again = vec![];
        a.write_file(bob, id(1), &mut again).unwrap();
        assert_eq!(again, bytes);
    }

    #[test]
    fn hostile_chunks_and_lying_files() {
        let (_d, path, mut b, alice) = setup();
        let bytes = data(2 * DEFAULT_CHUNK as usize + 10);
        let good: [u8; 32] = Sha256::digest(&bytes).into();
        let offer = |n: u8, sha256: [u8; 32]| FileOffer {
            id: id(n),
            sent_at: Timestamp(1),
            name: name("f.bin"),
            size: bytes.len() as u64,
            sha256,
            chunk_size: DEFAULT_CHUNK,
            disappear: kith_core::chat::DisappearTimer::Off,
        };
        let chunk = |n: u8, index: u32, data: &[u8]| FileChunk {
            file: id(n),
            index,
            data: data.to_vec(),
        };
        let part = |i: usize| {
            let s = i * DEFAULT_CHUNK as usize;
            &bytes[s..(s + DEFAULT_CHUNK as usize).min(bytes.len())]
        };
        // Chunks for files nobody offered, or for one of our messages.
        assert_eq!(
            b.store_chunk(alice, &chunk(9, 0, b"x")).unwrap(),
            ChunkStored::Refused(ChunkRefusal::UnknownFile)
        );
        b.insert_outgoing(alice, id(8), "text", Timestamp(1))
            .unwrap();
        assert_eq!(
            b.store_chunk(alice, &chunk(8, 0, b"x")).unwrap(),
            ChunkStored::Refused(ChunkRefusal::UnknownFile)
        );
        // Lying sizes: a short chunk, a long one, the last one too long.
        b.insert_incoming_file(alice, &offer(1, good), Timestamp(1), Timestamp(2))
            .unwrap();
        b.accept_file(alice, id(1)).unwrap();
        let flood = vec![7_u8; MAX_CHUNK as usize];
        for bad in [&part(0)[1..], &flood[..]] {
            assert_eq!(
                b.store_chunk(alice, &chunk(1, 0, bad)).unwrap(),
                ChunkStored::Refused(ChunkRefusal::WrongLength)
            );
        }
        // A flood of chunks past the one wanted stores nothing.
        for i in 1..50 {
            assert_eq!(
                b.store_chunk(alice, &chunk(1, i, part(0))).unwrap(),
                ChunkStored::Refused(ChunkRefusal::OutOfOrder { expected: 0 })
            );
        }
        let n: i64 = b
            .conn
            .query_row("SELECT COUNT(*) FROM file_chunks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        b.store_chunk(alice, &chunk(1, 0, part(0))).unwrap();
        b.store_chunk(alice, &chunk(1, 1, part(1))).unwrap();
        let mut last = part(2).to_vec();
        last.push(0);
        assert_eq!(
            b.store_chunk(alice, &chunk(1, 2, &last)).unwrap(),
            ChunkStored::Refused(ChunkRefusal::WrongLength)
        );
        assert_eq!(
            b.store_chunk(alice, &chunk(1, 2, part(2))).unwrap(),
            ChunkStored::Complete
        );
        // A hash that lies: every chunk dropped, from the file too.
        b.insert_incoming_file(alice, &offer(2, [0xAB; 32]), Timestamp(1), Timestamp(2))
            .unwrap();
        b.accept_file(alice, id(2)).unwrap();
        b.store_chunk(alice, &chunk(2, 0, part(0))).unwrap();
        b.store_chunk(alice, &chunk(2, 1, part(1))).unwrap();
        b.checkpoint().unwrap();
        let sealed: Vec<u8> = b
            .conn
            .query_row(
                "SELECT data FROM file_chunks WHERE idx = 1 AND file_id = (SELECT MAX(file_id) FROM file_chunks)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(on_disk(&path, &sealed[1..41]), ["db"]);
        assert_eq!(
            b.store_chunk(alice, &chunk(2, 2, part(2))).unwrap(),
            ChunkStored::Corrupt
        );
        assert_eq!(on_disk(&path, &sealed[1..41]), Vec::<&str>::new());
        let f = b.file(alice, id(2)).unwrap().unwrap();
        assert_eq!((f.state, f.next), (FileState::Corrupt, 0));
        assert_eq!(
            kind(b.write_file(alice, id(2), &mut Vec::new())),
            ErrorKind::NotFound
        );
        assert_eq!(
            b.store_chunk(alice, &chunk(2, 0, part(0))).unwrap(),
            ChunkStored::Refused(ChunkRefusal::NotReceiving)
        );
        // Refused: nothing kept, nothing more taken.
        b.insert_incoming_file(alice, &offer(3, good), Timestamp(1), Timestamp(2))
            .unwrap();
        b.accept_file(alice, id(3)).unwrap();
        b.store_chunk(alice, &chunk(3, 0, part(0))).unwrap();
        assert!(b.refuse_file(alice, id(3)).unwrap());
        assert!(!b.refuse_file(alice, id(3)).unwrap());
        assert_eq!(
            b.store_chunk(alice, &chunk(3, 1, part(1))).unwrap(),
            ChunkStored::Refused(ChunkRefusal::NotReceiving)
        );
        // Withdrawn by its sender half way: nothing kept, nothing taken, and
        // only a file of theirs still to come can be.
        b.insert_incoming_file(alice, &offer(6, good), Timestamp(1), Timestamp(2))
            .unwrap();
        b.accept_file(alice, id(6)).unwrap();
        b.store_chunk(alice, &chunk(6, 0, part(0))).unwrap();
        assert!(b.file_withdrawn(alice, id(6)).unwrap());
        assert!(!b.file_withdrawn(alice, id(6)).unwrap());
        let f = b.file(alice, id(6)).unwrap().unwrap();
        assert_eq!((f.state, f.next), (FileState::Unavailable, 0));
        assert_eq!(
            b.store_chunk(alice, &chunk(6, 1, part(1))).unwrap(),
            ChunkStored::Refused(ChunkRefusal::NotReceiving)
        );
        assert!(!b.file_withdrawn(alice, id(1)).unwrap(), "complete stays");
        assert_eq!(
            b.file(alice, id(1)).unwrap().unwrap().state,
            FileState::Complete
        );
        // Deleting a complete file deletes its data.
        assert!(b.delete_message(alice, id(1)).unwrap());
        assert_eq!(b.file(alice, id(1)).unwrap(), None);
        let n: i64 = b
            .conn
            .query_row("SELECT COUNT(*) FROM file_chunks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        // Ours: not theirs to resume, and a lying reader is refused.
        assert_eq!(b.file_resume_requested(alice, id(3), 0).unwrap(), None);
        let mut short = &bytes[..100];
        assert_eq!(
            kind(b.insert_outgoing_file(alice, id(4), &name("s"), 101, &mut short, Timestamp(1))),
            ErrorKind::BadLocalInput
        );
        let mut long = &bytes[..100];
        assert_eq!(
            kind(b.insert_outgoing_file(alice, id(4), &name("s"), 99, &mut long, Timestamp(1))),
            ErrorKind::BadLocalInput
        );
        assert_eq!(
            kind(b.insert_outgoing_file(
                alice,
                id(4),
                &name("s"),
                MAX_FILE_SIZE + 1,
                &mut std::io::empty(),
                Timestamp(1)
            )),
            ErrorKind::BadLocalInput
        );
        assert_eq!(b.file(alice, id(4)).unwrap(), None);
        // An empty file is complete once accepted.
        let empty = FileOffer {
            size: 0,
            sha256: Sha256::digest([]).into(),
            ..offer(5, good)
        };
        b.insert_incoming_file(alice, &empty, Timestamp(1), Timestamp(2))
            .unwrap();
        assert_eq!(
            b.accept_file(alice, id(5)).unwrap(),
            Some(ChunkStored::Complete)
        );
        assert_eq!(b.write_file(alice, id(5), &mut Vec::new()).unwrap(), 0);
    }

    #[test]
    fn a_tampered_chunk_is_corrupt() {
        let (_d, path, mut a, bob) = setup();
        let bytes = data(3 * DEFAULT_CHUNK as usize);
        a.insert_outgoing_file(
            bob,
            id(1),
            &name("x"),
            bytes.len() as u64,
            &mut bytes.as_slice(),
            Timestamp(1),
        )
        .unwrap();
        a.close().unwrap();
        // Two chunks swapped (their clear index too): the sealed index
        // and the AD catch it.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "UPDATE file_chunks SET idx = 99 WHERE idx = 0;
             UPDATE file_chunks SET idx = 0 WHERE idx = 1;
             UPDATE file_chunks SET idx = 1 WHERE idx = 99;",
        )
        .unwrap();
        conn.close().unwrap();
        let a = Store::open(&path, PW).unwrap();
        assert_eq!(
            kind(a.write_file(bob, id(1), &mut Vec::new())),
            ErrorKind::StoreCorrupt
        );
    }
}
