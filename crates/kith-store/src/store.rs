//! [`Store`]: one profile's open, unlocked database.

use std::path::{Path, PathBuf};

use kith_core::limits::{
    MAX_ALIAS, MAX_BODY, MAX_DISPLAY_NAME, MAX_SETTING, MAX_SETTING_KEY, MAX_TCP_HINT,
};
use kith_core::{MessageId, Timestamp};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use crate::crypto::{self, KdfParams, Keys, SALT_LEN, Slot};
use crate::error::{Error, Result, db};
use crate::model::{
    Contact, ContactId, ContactRecord, ContactRecordV2, ContactSummary, Deletion, Direction,
    Inserted, Message, MessageKind, MessageMeta, MessageMetaV3, MessageState, NewContact,
    NewProfile, Profile, ProfileRecord, SettingRecord,
};
use crate::schema::{self, OLDEST_READABLE, SCHEMA_VERSION, key};

/// How long a statement waits for a lock held by another connection to the
/// same file (there should be none) before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How many compiled statements the connection keeps (rusqlite's
/// `prepare_cached`, least recently used out; its default is 16).
///
/// The statements run per message (storing one: the conversation's
/// settings, the unread counter, the dedup lookup, the next row id, the
/// insert; listing: a conversation's rows, reactions and edits, the
/// contact list) are compiled once per connection instead of for every
/// call: compiling SQL was 9 % of a profile of the store's benchmark
/// (`docs/performance.md`, "Store"). Large enough for every cached
/// statement of the crate (about 40, the group, file and contact ones
/// included); a few kilobytes each.
const STATEMENT_CACHE: usize = 64;

/// One profile's encrypted database, open and unlocked.
///
/// Owns its SQLite connection; every method is synchronous and may block on
/// disk (and, for [`Store::create`], [`Store::open`] and
/// [`Store::change_password`], on Argon2id). In async code use
/// [`crate::StoreHandle`].
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) keys: Keys,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store { .. }")
    }
}

fn contacts_slot(id: i64) -> Slot {
    Slot {
        table: "contacts",
        column: "sealed",
        row: id,
        owner: 0,
    }
}

/// A contact's unread count (a sealed `u64`), kept up to date by every call
/// that adds, reads or deletes an incoming message.
fn unread_slot(id: i64) -> Slot {
    Slot {
        table: "contacts",
        column: "unread",
        row: id,
        owner: 0,
    }
}

fn profile_slot() -> Slot {
    Slot {
        table: "profile",
        column: "sealed",
        row: 1,
        owner: 0,
    }
}

fn settings_slot(id: i64) -> Slot {
    Slot {
        table: "settings",
        column: "sealed",
        row: id,
        owner: 0,
    }
}

pub(crate) fn meta_slot(id: i64, contact: ContactId) -> Slot {
    Slot {
        table: "messages",
        column: "meta",
        row: id,
        owner: contact.0,
    }
}

pub(crate) fn body_slot(id: i64, contact: ContactId) -> Slot {
    Slot {
        table: "messages",
        column: "body",
        row: id,
        owner: contact.0,
    }
}

pub(crate) fn check_len(s: &str, max: usize, what: &'static str) -> Result<()> {
    if s.len() > max {
        return Err(Error::BadInput { what });
    }
    Ok(())
}

fn check_contact_fields(
    alias: &str,
    tcp_hint: Option<&str>,
    their_name: Option<&str>,
) -> Result<()> {
    check_len(alias, MAX_ALIAS, "alias (too long)")?;
    check_len(tcp_hint.unwrap_or(""), MAX_TCP_HINT, "TCP hint (too long)")?;
    check_len(
        their_name.unwrap_or(""),
        MAX_DISPLAY_NAME,
        "contact name (too long)",
    )
}

/// Connection settings, applied to every connection after it is unlocked.
///
/// `secure_delete` zeroes deleted content in the pages it frees or rewrites;
/// explicit `wal_checkpoint(TRUNCATE)` after deleting or replacing text then
/// empties the WAL, which would otherwise keep old page images.
fn configure(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "PRAGMA secure_delete = ON;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA synchronous = FULL;
         PRAGMA journal_size_limit = 0;",
    )
    .map_err(db("configuring the connection"))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(db("enabling WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Corrupt {
            what: "journal mode",
        });
    }
    Ok(())
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db("opening the database"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(db("setting the busy timeout"))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Per connection and writes nothing: on before anything can be deleted.
    conn.execute_batch("PRAGMA secure_delete = ON;")
        .map_err(db("configuring the connection"))?;
    Ok(conn)
}

/// The KDF entries of the meta table.
struct WrapEntries {
    kdf: KdfParams,
    salt: [u8; SALT_LEN],
    wrapped: Vec<u8>,
}

impl WrapEntries {
    /// Read and check the entries of a store of schema `version`.
    fn read(conn: &Connection, version: i64) -> Result<WrapEntries> {
        let u32_of = |k: &'static str| -> Result<u32> {
            let v: i64 = schema::meta(conn, k)?;
            u32::try_from(v).map_err(|_| Error::Corrupt {
                what: "KDF parameters",
            })
        };
        let kdf = KdfParams::new(
            u32_of(key::KDF_MEMORY_KIB)?,
            u32_of(key::KDF_ITERATIONS)?,
            u32_of(key::KDF_PARALLELISM)?,
        )
        .map_err(|_| Error::Corrupt {
            what: "KDF parameters",
        })?;
        let salt: Vec<u8> = schema::meta(conn, key::SALT)?;
        let salt: [u8; SALT_LEN] = salt
            .try_into()
            .map_err(|_| Error::Corrupt { what: "KDF salt" })?;
        let wrapped: Vec<u8> = schema::meta(conn, key::WRAPPED_KEY)?;
        let checksum: Vec<u8> = schema::meta(conn, key::WRAP_CHECKSUM)?;
        if checksum != crypto::wrap_checksum(version, kdf, &salt, &wrapped) {
            return Err(Error::Corrupt {
                what: "key wrap checksum",
            });
        }
        Ok(WrapEntries { kdf, salt, wrapped })
    }

    fn write(&self, conn: &Connection) -> Result<()> {
        schema::set_meta(conn, key::KDF_MEMORY_KIB, self.kdf.memory_kib())?;
        schema::set_meta(conn, key::KDF_ITERATIONS, self.kdf.iterations())?;
        schema::set_meta(conn, key::KDF_PARALLELISM, self.kdf.parallelism())?;
        schema::set_meta(conn, key::SALT, self.salt.as_slice())?;
        schema::set_meta(conn, key::WRAPPED_KEY, self.wrapped.as_slice())?;
        let sum = crypto::wrap_checksum(SCHEMA_VERSION, self.kdf, &self.salt, &self.wrapped);
        schema::set_meta(conn, key::WRAP_CHECKSUM, sum)
    }

    /// Derive the password key (slow) and wrap `keys`' data key with it.
    fn new(password: &[u8], kdf: KdfParams, keys: &Keys) -> Result<WrapEntries> {
        let salt = crypto::random_salt();
        let wk = crypto::wrap_key(password, &salt, kdf)?;
        let wrapped = crypto::wrap(&wk, keys.data_key(), SCHEMA_VERSION, kdf, &salt)?;
        Ok(WrapEntries { kdf, salt, wrapped })
    }

    /// Derive the password key (slow) and unwrap the data key of a store of
    /// schema `version` with it. Returns the wrap key too, for a migration.
    fn unlock(&self, password: &[u8], version: i64) -> Result<(Keys, crypto::Key)> {
        let wk = crypto::wrap_key(password, &self.salt, self.kdf)?;
        let data = crypto::unwrap(&wk, &self.wrapped, version, self.kdf, &self.salt)?;
        Ok((Keys::from_data_key(data)?, wk))
    }

    /// The same data key, salt and cost, wrapped for [`SCHEMA_VERSION`]
    /// (whose number the wrap binds). No Argon2id run: `wk` is at hand.
    fn rewrap(&self, wk: &crypto::Key, keys: &Keys) -> Result<WrapEntries> {
        let wrapped = crypto::wrap(wk, keys.data_key(), SCHEMA_VERSION, self.kdf, &self.salt)?;
        Ok(WrapEntries {
            kdf: self.kdf,
            salt: self.salt,
            wrapped,
        })
    }
}

/// Remove a half-made store and its SQLite side files.
fn remove_store_files(path: &Path) {
    let mut side = path.as_os_str().to_owned();
    side.push("-wal");
    let wal = PathBuf::from(side);
    let mut side = path.as_os_str().to_owned();
    side.push("-shm");
    let shm = PathBuf::from(side);
    for p in [path, &wal, &shm] {
        // Best effort: the caller reports the error that got us here.
        let _ = std::fs::remove_file(p);
    }
}

fn create_private_file(path: &Path) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // SQLite gives the -wal and -shm files the database's mode.
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::AlreadyExists { what: "store file" })
        }
        Err(source) => Err(Error::Io {
            action: "creating the store file",
            source,
        }),
    }
}

/// A message row as stored: row id, sealed metadata, sealed body.
pub(crate) type SealedRow = (i64, Vec<u8>, Vec<u8>);

pub(crate) fn dedup_hash(keys: &Keys, contact: ContactId, msg_id: MessageId) -> Result<Vec<u8>> {
    keys.lookup("message", &[&contact.0.to_be_bytes(), &msg_id.0])
}

/// The row id and metadata of a message, found by keyed hash and checked.
pub(crate) fn find_message(
    keys: &Keys,
    conn: &Connection,
    contact: ContactId,
    msg_id: MessageId,
) -> Result<Option<(i64, MessageMeta)>> {
    let h = dedup_hash(keys, contact, msg_id)?;
    find_message_by_hash(keys, conn, contact, msg_id, &h)
}

/// [`find_message`], with the message's [`dedup_hash`] already computed.
fn find_message_by_hash(
    keys: &Keys,
    conn: &Connection,
    contact: ContactId,
    msg_id: MessageId,
    h: &[u8],
) -> Result<Option<(i64, MessageMeta)>> {
    let row: Option<(i64, i64, Vec<u8>)> = conn
        .prepare_cached("SELECT id, contact_id, meta FROM messages WHERE dedup_hash = ?1")
        .and_then(|mut st| st.query_row([h], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
        .optional()
        .map_err(db("looking up a message"))?;
    let Some((id, owner, sealed)) = row else {
        return Ok(None);
    };
    let meta: MessageMeta = keys.open(meta_slot(id, contact), &sealed, "message")?;
    if owner != contact.0 || meta.msg_id != msg_id {
        return Err(Error::Corrupt {
            what: "message lookup hash",
        });
    }
    Ok(Some((id, meta)))
}

/// A contact's unread count. [`Error::NotFound`] if there is no such contact.
pub(crate) fn read_unread(keys: &Keys, conn: &Connection, contact: ContactId) -> Result<u64> {
    let sealed = unread_cell(conn, contact)?;
    keys.open(unread_slot(contact.0), &sealed, "unread count")
}

/// A contact's unread count, still sealed. [`Error::NotFound`] if there is
/// no such contact.
fn unread_cell(conn: &Connection, contact: ContactId) -> Result<Vec<u8>> {
    conn.prepare_cached("SELECT unread FROM contacts WHERE id = ?1")
        .and_then(|mut st| st.query_row([contact.0], |r| r.get(0)))
        .optional()
        .map_err(db("reading an unread count"))?
        .ok_or(Error::NotFound { what: "contact" })
}

/// Replace a contact's unread count (inside the caller's transaction).
pub(crate) fn write_unread(
    keys: &Keys,
    conn: &Connection,
    contact: ContactId,
    n: u64,
) -> Result<()> {
    let sealed = keys.seal(unread_slot(contact.0), &n)?;
    let changed = conn
        .prepare_cached("UPDATE contacts SET unread = ?1 WHERE id = ?2")
        .and_then(|mut st| st.execute(params![sealed, contact.0]))
        .map_err(db("storing an unread count"))?;
    if changed == 0 {
        return Err(Error::NotFound { what: "contact" });
    }
    Ok(())
}

/// Row ids and metadata of a conversation's unread incoming messages, found
/// by opening every message's metadata: O(messages), for `mark_read` and the
/// migration only.
fn unread_rows(
    keys: &Keys,
    conn: &Connection,
    contact: ContactId,
) -> Result<Vec<(i64, MessageMeta)>> {
    let mut stmt = conn
        .prepare_cached("SELECT id, meta FROM messages WHERE contact_id = ?1 ORDER BY id")
        .map_err(db("reading messages"))?;
    let rows = stmt
        .query_map([contact.0], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .map_err(db("reading messages"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db("reading messages"))?;
    let mut out = vec![];
    for (id, sealed) in rows {
        let meta: MessageMeta = keys.open(meta_slot(id, contact), &sealed, "message")?;
        if meta.direction == Direction::In && !meta.read {
            out.push((id, meta));
        }
    }
    Ok(out)
}

/// How many of a conversation's incoming messages are unread, counted the
/// slow way (see [`unread_rows`]).
fn count_unread(keys: &Keys, conn: &Connection, contact: ContactId) -> Result<u64> {
    let n = unread_rows(keys, conn, contact)?.len();
    u64::try_from(n).map_err(|_| Error::Bug("count overflow"))
}

/// Open a message row's metadata and body.
pub(crate) fn open_message(
    keys: &Keys,
    id: i64,
    contact: ContactId,
    meta: &[u8],
    body: &[u8],
) -> Result<Message> {
    let meta: MessageMeta = keys.open(meta_slot(id, contact), meta, "message")?;
    let body: String = keys.open(body_slot(id, contact), body, "message body")?;
    Ok(meta.into_message(contact, body))
}

fn address_hash(keys: &Keys, addr: &[u8; 32]) -> Result<Vec<u8>> {
    keys.lookup("contact-address", &[addr])
}

fn alias_hash(keys: &Keys, alias: &str) -> Result<Vec<u8>> {
    keys.lookup("contact-alias", &[alias.as_bytes()])
}

/// Check a contact's fields and store them (sealed anew) over its row, inside
/// the caller's transaction. Address and alias stay unique.
fn write_contact(keys: &Keys, conn: &Connection, c: &Contact) -> Result<()> {
    check_contact_fields(&c.alias, c.tcp_hint.as_deref(), c.their_name.as_deref())?;
    let address_hash = address_hash(keys, &c.address)?;
    let alias_hash = alias_hash(keys, &c.alias)?;
    let sealed = keys.seal(contacts_slot(c.id.0), &ContactRecord::from_contact(c))?;
    for (column, hash, what) in [
        ("address_hash", &address_hash, "contact with this address"),
        ("alias_hash", &alias_hash, "contact with this alias"),
    ] {
        let sql = format!("SELECT 1 FROM contacts WHERE {column} = ?1 AND id != ?2");
        let taken = conn
            .query_row(&sql, params![hash, c.id.0], |_| Ok(()))
            .optional()
            .map_err(db("looking up a contact"))?;
        if taken.is_some() {
            return Err(Error::AlreadyExists { what });
        }
    }
    let n = conn
        .execute(
            "UPDATE contacts SET address_hash = ?1, alias_hash = ?2, sealed = ?3 WHERE id = ?4",
            params![address_hash, alias_hash, sealed, c.id.0],
        )
        .map_err(db("storing a contact"))?;
    if n == 0 {
        return Err(Error::NotFound { what: "contact" });
    }
    Ok(())
}

/// Every contact with its newest message, in one query: the newest row id
/// of each conversation is one step down the `messages_by_contact` index
/// (contact id, row id), so the cost grows with the number of contacts, not
/// of messages.
const SUMMARIES: &str = "
SELECT c.id, c.sealed, c.unread, m.id, m.meta, m.body
FROM contacts AS c
LEFT JOIN messages AS m
  ON m.id = (SELECT id FROM messages WHERE contact_id = c.id ORDER BY id DESC LIMIT 1)";

/// A row of [`SUMMARIES`], still sealed.
type SummaryRow = (i64, Vec<u8>, Vec<u8>, Option<SealedRow>);

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SummaryRow> {
    let last = match r.get::<_, Option<i64>>(3)? {
        Some(id) => Some((id, r.get(4)?, r.get(5)?)),
        None => None,
    };
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, last))
}

pub(crate) fn open_body(
    keys: &Keys,
    conn: &Connection,
    id: i64,
    contact: ContactId,
) -> Result<String> {
    let sealed: Vec<u8> = conn
        .prepare_cached("SELECT body FROM messages WHERE id = ?1")
        .and_then(|mut st| st.query_row([id], |r| r.get(0)))
        .map_err(db("reading a message"))?;
    keys.open(body_slot(id, contact), &sealed, "message body")
}

impl Store {
    /// Create a new store at `path` (which must not exist) holding `profile`,
    /// locked with `password` under `kdf`.
    ///
    /// Runs Argon2id once (slow by design). The file is made with mode 0600
    /// on Unix. On failure nothing is left behind.
    pub fn create(
        path: &Path,
        password: &[u8],
        kdf: KdfParams,
        profile: &NewProfile,
    ) -> Result<Store> {
        check_len(
            &profile.display_name,
            MAX_DISPLAY_NAME,
            "display name (too long)",
        )?;
        if path.exists() {
            return Err(Error::AlreadyExists { what: "store file" });
        }
        let keys = Keys::from_data_key(crypto::Key::random())?;
        let wrap = WrapEntries::new(password, kdf, &keys)?;
        create_private_file(path)?;
        let made = Self::init(path, keys, &wrap, profile);
        if made.is_err() {
            remove_store_files(path);
        }
        made
    }

    fn init(path: &Path, keys: Keys, wrap: &WrapEntries, profile: &NewProfile) -> Result<Store> {
        let mut conn = open_connection(path)?;
        configure(&conn)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("creating the store"))?;
        tx.execute_batch(schema::CREATE)
            .map_err(db("creating the schema"))?;
        tx.execute_batch(schema::CREATE_V4)
            .map_err(db("creating the schema"))?;
        tx.execute_batch(schema::CREATE_V5)
            .map_err(db("creating the schema"))?;
        tx.execute_batch(schema::CREATE_V6)
            .map_err(db("creating the schema"))?;
        schema::set_meta(&tx, key::SCHEMA_VERSION, SCHEMA_VERSION)?;
        wrap.write(&tx)?;
        let record = ProfileRecord {
            display_name: profile.display_name.clone(),
            identity_seed: *profile.identity_seed,
            created_at: profile.created_at,
        };
        let sealed = keys.seal(profile_slot(), &record)?;
        tx.execute("INSERT INTO profile (id, sealed) VALUES (1, ?1)", [sealed])
            .map_err(db("storing the profile"))?;
        tx.commit().map_err(db("creating the store"))?;
        let store = Store { conn, keys };
        store.checkpoint()?;
        Ok(store)
    }

    /// Open and unlock the store at `path`.
    ///
    /// Errors: [`Error::NotFound`] if there is no file, [`Error::Corrupt`] if
    /// it is not an intact Kith store, [`Error::UnsupportedVersion`],
    /// [`Error::WrongPassword`]. The password is checked (Argon2id, then the
    /// key wrap's tag) before anything is written. (The one exception is
    /// SQLite's own recovery: a WAL left behind by a crash holds committed
    /// transactions, and SQLite folds it into the file when the connection
    /// closes.)
    ///
    /// A store of an older schema version is migrated to the current one once
    /// unlocked, in one transaction (version 1 → 2 opens every message's
    /// metadata once, to count unread messages; 2 → 3 re-seals every
    /// contact with its provenance). It then no longer opens with older
    /// builds of Kith.
    pub fn open(path: &Path, password: &[u8]) -> Result<Store> {
        match path.try_exists() {
            Ok(true) => {}
            Ok(false) => return Err(Error::NotFound { what: "store file" }),
            Err(source) => {
                return Err(Error::Io {
                    action: "looking for the store file",
                    source,
                });
            }
        }
        let conn = open_connection(path)?;
        schema::check_tables(&conn)?;
        let version: i64 = schema::meta(&conn, key::SCHEMA_VERSION)?;
        if !(OLDEST_READABLE..=SCHEMA_VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let wrap = WrapEntries::read(&conn, version)?;
        let (keys, wk) = wrap.unlock(password, version)?;
        let mut store = Store { conn, keys };
        // The profile opens only with the right data key: this also catches a
        // key wrap copied in from another store.
        store.profile()?;
        configure(&store.conn)?;
        if version < SCHEMA_VERSION {
            store.migrate(version, &wrap, &wk)?;
        }
        Ok(store)
    }

    /// Bring an unlocked store of schema `from` up to [`SCHEMA_VERSION`], in
    /// one transaction: a crash leaves the old version intact, to be migrated
    /// at the next open.
    fn migrate(&mut self, from: i64, wrap: &WrapEntries, wk: &crypto::Key) -> Result<()> {
        if !(OLDEST_READABLE..SCHEMA_VERSION).contains(&from) {
            return Err(Error::Bug("no migration from this schema version"));
        }
        let new_wrap = wrap.rewrap(wk, &self.keys)?;
        let keys = &self.keys;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("migrating the store"))?;
        let ids: Vec<i64> = tx
            .prepare("SELECT id FROM contacts")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(db("migrating the store"))?;
        // 3 → 4, first (the steps below read messages in schema 4's
        // layout): the new tables, and every message's metadata re-sealed
        // as text without reply or timer. Schemas 1 to 3 share the old
        // layout.
        if from < 4 {
            tx.execute_batch(schema::CREATE_V4)
                .map_err(db("migrating the store"))?;
            let rows: Vec<(i64, i64, Vec<u8>)> = tx
                .prepare("SELECT id, contact_id, meta FROM messages")
                .and_then(|mut st| {
                    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect()
                })
                .map_err(db("migrating the store"))?;
            for (id, contact, sealed) in rows {
                let slot = meta_slot(id, ContactId(contact));
                let old: MessageMetaV3 = keys.open(slot, &sealed, "message")?;
                let sealed = keys.seal(slot, &old.migrate())?;
                tx.execute(
                    "UPDATE messages SET meta = ?1 WHERE id = ?2",
                    params![sealed, id],
                )
                .map_err(db("migrating the store"))?;
            }
        }
        // 4 → 5: the table of edits (no message was edited before).
        if from < 5 {
            tx.execute_batch(schema::CREATE_V5)
                .map_err(db("migrating the store"))?;
        }
        // 5 → 6: the tables of groups (there were none before).
        tx.execute_batch(schema::CREATE_V6)
            .map_err(db("migrating the store"))?;
        if from < 2 {
            // 1 → 2: every contact's unread count, counted once here by
            // opening each message's metadata, then kept up to date.
            tx.execute_batch(schema::MIGRATE_1_TO_2)
                .map_err(db("migrating the store"))?;
            for &id in &ids {
                let unread = count_unread(keys, &tx, ContactId(id))?;
                write_unread(keys, &tx, ContactId(id), unread)?;
            }
        }
        // 2 → 3: each contact's record re-sealed with its provenance (the
        // old origin, mapped) and not verified.
        for &id in ids.iter().filter(|_| from < 3) {
            let sealed: Vec<u8> = tx
                .query_row("SELECT sealed FROM contacts WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .map_err(db("migrating the store"))?;
            let old: ContactRecordV2 = keys.open(contacts_slot(id), &sealed, "contact")?;
            let sealed = keys.seal(contacts_slot(id), &old.migrate())?;
            tx.execute(
                "UPDATE contacts SET sealed = ?1 WHERE id = ?2",
                params![sealed, id],
            )
            .map_err(db("migrating the store"))?;
        }
        schema::set_meta(&tx, key::SCHEMA_VERSION, SCHEMA_VERSION)?;
        new_wrap.write(&tx)?;
        tx.commit().map_err(db("migrating the store"))?;
        tracing::debug!("kith-store: migrated schema {from} to {SCHEMA_VERSION}");
        self.scrub_wal();
        Ok(())
    }

    /// Re-wrap the data key under `new` (with `kdf`), after checking `old`.
    ///
    /// Nothing else is re-encrypted. The old wrap is overwritten in one
    /// transaction and the WAL emptied, so the old password stops working.
    pub fn change_password(&mut self, old: &[u8], new: &[u8], kdf: KdfParams) -> Result<()> {
        let current = WrapEntries::read(&self.conn, SCHEMA_VERSION)?;
        let (unwrapped, _) = current.unlock(old, SCHEMA_VERSION)?;
        if !unwrapped.data_key().ct_eq(self.keys.data_key()) {
            return Err(Error::Corrupt {
                what: "key wrap (another store's key)",
            });
        }
        let wrap = WrapEntries::new(new, kdf, &self.keys)?;
        let tx = self.write_tx()?;
        wrap.write(&tx)?;
        tx.commit().map_err(db("changing the password"))?;
        self.scrub_wal();
        Ok(())
    }

    /// Checkpoint the WAL into the database and truncate it, then close.
    pub fn close(self) -> Result<()> {
        self.checkpoint()?;
        self.conn
            .close()
            .map_err(|(_, e)| db("closing the database")(e))
    }

    /// Move every WAL frame into the database file and truncate the WAL to
    /// zero bytes, so replaced or deleted (sealed) text does not linger there.
    pub fn checkpoint(&self) -> Result<()> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(db("checkpointing"))?;
        if busy != 0 {
            return Err(Error::Db {
                action: "checkpointing",
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                    Some("checkpoint blocked by another connection".into()),
                ),
            });
        }
        Ok(())
    }

    /// After a committed write that deleted or replaced sealed text: empty
    /// the WAL. The change is durable either way, so a failure (another
    /// connection reading the same file, which Kith does not do) is not an
    /// error of the write; the next checkpoint or the close retries.
    pub(crate) fn scrub_wal(&self) {
        if let Err(e) = self.checkpoint() {
            tracing::debug!("kith-store: checkpoint after a write failed: {e}");
        }
    }

    pub(crate) fn write_tx(&mut self) -> Result<rusqlite::Transaction<'_>> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting a transaction"))
    }

    // ---- Profile and settings ----

    fn profile_record(&self) -> Result<ProfileRecord> {
        let sealed: Vec<u8> = self
            .conn
            .query_row("SELECT sealed FROM profile WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(db("reading the profile"))?
            .ok_or(Error::Corrupt {
                what: "missing profile",
            })?;
        self.keys.open(profile_slot(), &sealed, "profile")
    }

    /// The profile: display name, identity seed, creation time.
    pub fn profile(&self) -> Result<Profile> {
        let r = self.profile_record()?;
        Ok(Profile {
            display_name: r.display_name.clone(),
            identity_seed: zeroize::Zeroizing::new(r.identity_seed),
            created_at: r.created_at,
        })
    }

    /// Change the name we show contacts.
    pub fn set_display_name(&mut self, name: &str) -> Result<()> {
        check_len(name, MAX_DISPLAY_NAME, "display name (too long)")?;
        let mut r = self.profile_record()?;
        r.display_name = name.to_owned();
        let sealed = self.keys.seal(profile_slot(), &r)?;
        let tx = self.write_tx()?;
        tx.execute("UPDATE profile SET sealed = ?1 WHERE id = 1", [sealed])
            .map_err(db("storing the profile"))?;
        tx.commit().map_err(db("storing the profile"))?;
        self.scrub_wal();
        Ok(())
    }

    fn find_setting(&self, k: &str) -> Result<Option<(i64, SettingRecord)>> {
        let h = self.keys.lookup("setting", &[k.as_bytes()])?;
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT id, sealed FROM settings WHERE key_hash = ?1",
                [h],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db("reading a setting"))?;
        let Some((id, sealed)) = row else {
            return Ok(None);
        };
        let rec: SettingRecord = self.keys.open(settings_slot(id), &sealed, "setting")?;
        if rec.key != k {
            return Err(Error::Corrupt {
                what: "setting lookup hash",
            });
        }
        Ok(Some((id, rec)))
    }

    /// A setting's value, if set.
    pub fn setting(&self, k: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.find_setting(k)?.map(|(_, r)| r.value))
    }

    /// Set a setting (sealed, together with its key; found by keyed hash).
    pub fn set_setting(&mut self, k: &str, value: &[u8]) -> Result<()> {
        check_len(k, MAX_SETTING_KEY, "setting key (too long)")?;
        if value.len() > MAX_SETTING {
            return Err(Error::BadInput {
                what: "setting value (too long)",
            });
        }
        let existing = self.find_setting(k)?.map(|(id, _)| id);
        let rec = SettingRecord {
            key: k.to_owned(),
            value: value.to_vec(),
        };
        let h = self.keys.lookup("setting", &[k.as_bytes()])?;
        let keys = &self.keys;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting a transaction"))?;
        match existing {
            Some(id) => {
                let sealed = keys.seal(settings_slot(id), &rec)?;
                tx.execute(
                    "UPDATE settings SET sealed = ?1 WHERE id = ?2",
                    params![sealed, id],
                )
                .map_err(db("storing a setting"))?;
            }
            None => {
                let id = schema::next_id(&tx, "settings")?;
                let sealed = keys.seal(settings_slot(id), &rec)?;
                tx.execute(
                    "INSERT INTO settings (id, key_hash, sealed) VALUES (?1, ?2, ?3)",
                    params![id, h, sealed],
                )
                .map_err(db("storing a setting"))?;
            }
        }
        tx.commit().map_err(db("storing a setting"))?;
        if existing.is_some() {
            self.scrub_wal();
        }
        Ok(())
    }

    /// Remove a setting; `false` if it was not set.
    pub fn delete_setting(&mut self, k: &str) -> Result<bool> {
        let Some((id, _)) = self.find_setting(k)? else {
            return Ok(false);
        };
        self.conn
            .execute("DELETE FROM settings WHERE id = ?1", params![id])
            .map_err(db("removing a setting"))?;
        self.scrub_wal();
        Ok(true)
    }

    // ---- Contacts ----

    fn address_hash(&self, addr: &[u8; 32]) -> Result<Vec<u8>> {
        address_hash(&self.keys, addr)
    }

    fn alias_hash(&self, alias: &str) -> Result<Vec<u8>> {
        alias_hash(&self.keys, alias)
    }

    fn open_contact(&self, id: i64, sealed: &[u8]) -> Result<Contact> {
        let r: ContactRecord = self.keys.open(contacts_slot(id), sealed, "contact")?;
        Ok(r.into_contact(ContactId(id)))
    }

    /// The contact whose `column` equals `hash`, checked with `matches`.
    fn contact_by_hash(
        &self,
        column: &'static str,
        hash: Vec<u8>,
        matches: impl FnOnce(&Contact) -> bool,
    ) -> Result<Option<Contact>> {
        let sql = format!("SELECT id, sealed FROM contacts WHERE {column} = ?1");
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(&sql, [hash], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db("looking up a contact"))?;
        let Some((id, sealed)) = row else {
            return Ok(None);
        };
        let c = self.open_contact(id, &sealed)?;
        if !matches(&c) {
            // The hash column was edited or swapped between rows.
            return Err(Error::Corrupt {
                what: "contact lookup hash",
            });
        }
        Ok(Some(c))
    }

    pub(crate) fn contact_exists(&self, id: ContactId) -> Result<()> {
        let found = self
            .conn
            .prepare_cached("SELECT 1 FROM contacts WHERE id = ?1")
            .and_then(|mut st| st.query_row([id.0], |_| Ok(())))
            .optional()
            .map_err(db("looking up a contact"))?;
        found.ok_or(Error::NotFound { what: "contact" })
    }

    /// Add a contact. [`Error::AlreadyExists`] if a contact has the same
    /// address or the same alias.
    pub fn add_contact(&mut self, c: &NewContact) -> Result<ContactId> {
        check_contact_fields(&c.alias, c.tcp_hint.as_deref(), c.their_name.as_deref())?;
        let address_hash = self.address_hash(&c.address)?;
        let alias_hash = self.alias_hash(&c.alias)?;
        let keys = &self.keys;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting a transaction"))?;
        for (column, hash, what) in [
            ("address_hash", &address_hash, "contact with this address"),
            ("alias_hash", &alias_hash, "contact with this alias"),
        ] {
            let sql = format!("SELECT 1 FROM contacts WHERE {column} = ?1");
            let taken = tx
                .query_row(&sql, [hash], |_| Ok(()))
                .optional()
                .map_err(db("looking up a contact"))?;
            if taken.is_some() {
                return Err(Error::AlreadyExists { what });
            }
        }
        let id = schema::next_id(&tx, "contacts")?;
        let record = ContactRecord {
            address: c.address,
            alias: c.alias.clone(),
            state: c.state,
            origin: c.origin,
            verified: c.verified,
            tcp_hint: c.tcp_hint.clone(),
            their_name: c.their_name.clone(),
            added_at: c.added_at,
            last_seen: None,
            reach: None,
        };
        let sealed = keys.seal(contacts_slot(id), &record)?;
        let unread = keys.seal(unread_slot(id), &0_u64)?;
        tx.execute(
            "INSERT INTO contacts (id, address_hash, alias_hash, sealed, unread)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, address_hash, alias_hash, sealed, unread],
        )
        .map_err(db("storing a contact"))?;
        tx.commit().map_err(db("storing a contact"))?;
        Ok(ContactId(id))
    }

    /// One contact. [`Error::NotFound`] if there is none with that id.
    pub fn contact(&self, id: ContactId) -> Result<Contact> {
        let sealed: Vec<u8> = self
            .conn
            .query_row("SELECT sealed FROM contacts WHERE id = ?1", [id.0], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db("reading a contact"))?
            .ok_or(Error::NotFound { what: "contact" })?;
        self.open_contact(id.0, &sealed)
    }

    /// The contact with this address (ed25519 public key), if any.
    pub fn contact_by_address(&self, addr: &[u8; 32]) -> Result<Option<Contact>> {
        let h = self.address_hash(addr)?;
        self.contact_by_hash("address_hash", h, |c| c.address == *addr)
    }

    /// The contact with this alias (exact, case-sensitive), if any.
    pub fn contact_by_alias(&self, alias: &str) -> Result<Option<Contact>> {
        let h = self.alias_hash(alias)?;
        self.contact_by_hash("alias_hash", h, |c| c.alias == alias)
    }

    /// Every contact, oldest first.
    pub fn contacts(&self) -> Result<Vec<Contact>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, sealed FROM contacts ORDER BY id")
            .map_err(db("listing contacts"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
            .map_err(db("listing contacts"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db("listing contacts"))?;
        rows.into_iter()
            .map(|(id, sealed)| self.open_contact(id, &sealed))
            .collect()
    }

    /// Replace a contact's fields (all of them, sealed anew). Address and alias
    /// stay unique: [`Error::AlreadyExists`] if another contact has them.
    ///
    /// This writes whatever `c` holds, even if the stored contact changed
    /// since `c` was read; to decide from the stored state, use
    /// [`Store::update_contact_with`].
    pub fn update_contact(&mut self, c: &Contact) -> Result<()> {
        let keys = &self.keys;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting a transaction"))?;
        write_contact(keys, &tx, c)?;
        tx.commit().map_err(db("storing a contact"))?;
        self.scrub_wal();
        Ok(())
    }

    /// Read a contact, let `f` check and change it, and store the result, in
    /// one transaction: read-check-modify-write with nothing in between.
    ///
    /// `f` may refuse by returning `Err(e)`: then nothing is written and the
    /// call returns `Ok(Err(e))`. When `f` returns `Ok(t)`, the contact as `f`
    /// left it is stored (only if it changed) and the call returns
    /// `Ok(Ok(t))`. The outer error is the store's own: [`Error::NotFound`]
    /// for an unknown id, [`Error::AlreadyExists`] if `f` gave it another
    /// contact's alias or address, [`Error::BadInput`] for a field too long
    /// or a changed `id`; then nothing is written either.
    ///
    /// ```no_run
    /// # fn demo(store: &mut kith_store::Store, id: kith_store::ContactId) -> kith_store::Result<()> {
    /// use kith_store::ContactState;
    /// let accepted = store.update_contact_with(id, |c| match c.state {
    ///     ContactState::IncomingRequest => {
    ///         c.state = ContactState::Accepted;
    ///         Ok(())
    ///     }
    ///     other => Err(other),
    /// })?;
    /// # let _ = accepted; Ok(()) }
    /// ```
    pub fn update_contact_with<T, E>(
        &mut self,
        id: ContactId,
        f: impl FnOnce(&mut Contact) -> std::result::Result<T, E>,
    ) -> Result<std::result::Result<T, E>> {
        let keys = &self.keys;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting a transaction"))?;
        let sealed: Vec<u8> = tx
            .query_row("SELECT sealed FROM contacts WHERE id = ?1", [id.0], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db("reading a contact"))?
            .ok_or(Error::NotFound { what: "contact" })?;
        let record: ContactRecord = keys.open(contacts_slot(id.0), &sealed, "contact")?;
        let before = record.into_contact(id);
        let mut c = before.clone();
        // On a refusal (or a panic in `f`) the transaction rolls back on drop.
        let t = match f(&mut c) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        if c.id != id {
            return Err(Error::BadInput {
                what: "contact id (changed by the update)",
            });
        }
        if c == before {
            return Ok(Ok(t));
        }
        write_contact(keys, &tx, &c)?;
        tx.commit().map_err(db("storing a contact"))?;
        self.scrub_wal();
        Ok(Ok(t))
    }

    /// Every contact, oldest first, each with its newest message and its
    /// unread count: what a contact list shows.
    ///
    /// Costs one query and, per contact, four small decryptions (the contact,
    /// its unread count, the newest message's metadata and body), however
    /// long the conversations are. Prefer it to calling
    /// [`Store::unread_count`] and [`Store::last_message`] per contact.
    pub fn contact_summaries(&self) -> Result<Vec<ContactSummary>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{SUMMARIES} ORDER BY c.id"))
            .map_err(db("listing contacts"))?;
        let rows = stmt
            .query_map([], summary_row)
            .map_err(db("listing contacts"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db("listing contacts"))?;
        rows.into_iter().map(|r| self.open_summary(r)).collect()
    }

    /// One contact with its newest message and unread count (see
    /// [`Store::contact_summaries`]). [`Error::NotFound`] for an unknown id.
    pub fn contact_summary(&self, id: ContactId) -> Result<ContactSummary> {
        let row = self
            .conn
            .prepare_cached(&format!("{SUMMARIES} WHERE c.id = ?1"))
            .and_then(|mut st| st.query_row([id.0], summary_row))
            .optional()
            .map_err(db("reading a contact"))?
            .ok_or(Error::NotFound { what: "contact" })?;
        self.open_summary(row)
    }

    fn open_summary(&self, (id, sealed, unread, last): SummaryRow) -> Result<ContactSummary> {
        let contact = self.open_contact(id, &sealed)?;
        let unread: u64 = self.keys.open(unread_slot(id), &unread, "unread count")?;
        let last = match last {
            Some((mid, meta, body)) => {
                let m = open_message(&self.keys, mid, contact.id, &meta, &body)?;
                if matches!(m.kind, MessageKind::Deleted(_)) {
                    // A tombstone has nothing to preview: the one before.
                    self.last_message(contact.id)?
                } else {
                    Some(self.with_extras(mid, m)?)
                }
            }
            None => None,
        };
        Ok(ContactSummary {
            contact,
            last,
            unread,
        })
    }

    /// Delete a contact and all its messages (with their reactions, files
    /// and deadlines), its conversation settings and the group invitations
    /// it sent. [`Error::NotFound`] if unknown.
    pub fn delete_contact(&mut self, id: ContactId) -> Result<()> {
        let tx = self.write_tx()?;
        crate::conversation::purge_conversation(&tx, id)?;
        tx.execute(
            "DELETE FROM group_invitations WHERE contact_id = ?1",
            [id.0],
        )
        .map_err(db("deleting invitations"))?;
        tx.execute("DELETE FROM conversations WHERE id = ?1", [id.0])
            .map_err(db("deleting a conversation"))?;
        let n = tx
            .execute("DELETE FROM contacts WHERE id = ?1", [id.0])
            .map_err(db("deleting a contact"))?;
        if n == 0 {
            return Err(Error::NotFound { what: "contact" });
        }
        tx.commit().map_err(db("deleting a contact"))?;
        self.scrub_wal();
        Ok(())
    }

    // ---- Messages ----

    /// Store a new message row (and its deadline), unless its id is taken
    /// in the conversation. Inside the caller's transaction.
    pub(crate) fn insert_message_in(
        keys: &Keys,
        tx: &Connection,
        contact: ContactId,
        meta: MessageMeta,
        body: &str,
    ) -> Result<Inserted> {
        if body.len() > MAX_BODY {
            return Err(Error::BadInput {
                what: "message body (too long)",
            });
        }
        let h = dedup_hash(keys, contact, meta.msg_id)?;
        // Read first, as the check that the contact exists (one query for
        // both); opened only once the message is known to be new.
        let sealed_unread = unread_cell(tx, contact)?;
        if find_message_by_hash(keys, tx, contact, meta.msg_id, &h)?.is_some() {
            return Ok(Inserted::Duplicate);
        }
        // Re-sealed for every new message, ours too, so that a changed
        // cell does not tell someone comparing two copies of the file
        // which way the message went.
        let n: u64 = keys.open(unread_slot(contact.0), &sealed_unread, "unread count")?;
        let unread = meta.direction == Direction::In && !meta.read;
        write_unread(keys, tx, contact, n.saturating_add(u64::from(unread)))?;
        let id = schema::next_id(tx, "messages")?;
        let sealed_meta = keys.seal(meta_slot(id, contact), &meta)?;
        let sealed_body = keys.seal(body_slot(id, contact), &body)?;
        tx.prepare_cached(
            "INSERT INTO messages (id, contact_id, dedup_hash, meta, body)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut st| st.execute(params![id, contact.0, h, sealed_meta, sealed_body]))
        .map_err(db("storing a message"))?;
        if let Some(at) = meta.expires_at {
            crate::conversation::write_expiry(keys, tx, id, at)?;
        }
        Ok(Inserted::New(meta.into_message(contact, body.to_owned())))
    }

    fn insert_message(
        &mut self,
        contact: ContactId,
        meta: MessageMeta,
        body: &str,
    ) -> Result<Inserted> {
        let keys = &self.keys;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting a transaction"))?;
        let inserted = Self::insert_message_in(keys, &tx, contact, meta, body)?;
        if inserted != Inserted::Duplicate {
            tx.commit().map_err(db("storing a message"))?;
        }
        Ok(inserted)
    }

    /// Store a message we wrote, in state [`MessageState::Queued`], with the
    /// conversation's disappearing timer.
    /// [`Error::AlreadyExists`] if `msg_id` is taken in this conversation.
    pub fn insert_outgoing(
        &mut self,
        contact: ContactId,
        msg_id: MessageId,
        body: &str,
        at: Timestamp,
    ) -> Result<Message> {
        self.insert_outgoing_chat(contact, msg_id, body, None, at)
    }

    /// [`Store::insert_outgoing`], answering `reply_to` (any message id of
    /// the conversation: it is not checked, a quote of an unknown one reads
    /// [`crate::Quote::Unknown`]).
    pub fn insert_outgoing_chat(
        &mut self,
        contact: ContactId,
        msg_id: MessageId,
        body: &str,
        reply_to: Option<MessageId>,
        at: Timestamp,
    ) -> Result<Message> {
        let disappear = self.conversation(contact)?.disappear;
        let meta = MessageMeta {
            msg_id,
            direction: Direction::Out,
            state: MessageState::Queued,
            sent_at: at,
            stored_at: at,
            delivered_at: None,
            read: true,
            kind: MessageKind::Text,
            reply_to,
            disappear,
            expires_at: disappear.deadline(at),
        };
        match self.insert_message(contact, meta, body)? {
            Inserted::New(m) => Ok(m),
            Inserted::Duplicate => Err(Error::AlreadyExists { what: "message id" }),
        }
    }

    /// Store a message the contact wrote, unless it is stored already.
    ///
    /// The duplicate check (keyed hash of contact and message id) and the
    /// insert happen in one transaction, so a redelivered message is stored,
    /// and shown, once. A `Text` carries no timer: it disappears after the
    /// conversation's timer, counted from `received_at`.
    pub fn insert_incoming(
        &mut self,
        contact: ContactId,
        msg_id: MessageId,
        body: &str,
        sent_at: Timestamp,
        received_at: Timestamp,
    ) -> Result<Inserted> {
        let disappear = self.conversation(contact)?.disappear;
        let chat = kith_core::chat::Chat {
            id: msg_id,
            sent_at,
            body: String::new(),
            reply_to: None,
            disappear,
        };
        self.insert_incoming_chat_body(contact, &chat, body, sent_at, received_at)
    }

    /// Store a `Chat` the contact wrote (see [`Store::insert_incoming`]):
    /// its reply, and its own timer, counted from `received_at`. `sent_at`
    /// is the chat's time as the caller accepts it (clamped).
    pub fn insert_incoming_chat(
        &mut self,
        contact: ContactId,
        chat: &kith_core::chat::Chat,
        sent_at: Timestamp,
        received_at: Timestamp,
    ) -> Result<Inserted> {
        self.insert_incoming_chat_body(contact, chat, &chat.body, sent_at, received_at)
    }

    fn insert_incoming_chat_body(
        &mut self,
        contact: ContactId,
        chat: &kith_core::chat::Chat,
        body: &str,
        sent_at: Timestamp,
        received_at: Timestamp,
    ) -> Result<Inserted> {
        let meta = MessageMeta {
            msg_id: chat.id,
            direction: Direction::In,
            state: MessageState::Received,
            sent_at,
            stored_at: received_at,
            delivered_at: None,
            read: false,
            kind: MessageKind::Text,
            reply_to: chat.reply_to,
            disappear: chat.disappear,
            expires_at: chat.disappear.deadline(received_at),
        };
        self.insert_message(contact, meta, body)
    }

    /// Move one of our messages forward: `Queued` → `Sent` → `Delivered`
    /// (`at` becomes `delivered_at`). Returns the message when its state
    /// changed; `None` when the message is unknown or the change would not
    /// move it forward (a repeated ack, a late `Sent` after `Delivered`, any
    /// change to an incoming message or a tombstone).
    pub fn set_message_state(
        &mut self,
        contact: ContactId,
        msg_id: MessageId,
        state: MessageState,
        at: Timestamp,
    ) -> Result<Option<Message>> {
        let keys = &self.keys;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting a transaction"))?;
        let Some((id, mut meta)) = find_message(keys, &tx, contact, msg_id)? else {
            return Ok(None);
        };
        let forward = meta.direction == Direction::Out
            && !meta.is_deleted()
            && matches!(
                (meta.state.outgoing_rank(), state.outgoing_rank()),
                (Some(old), Some(new)) if new > old
            );
        if !forward {
            return Ok(None);
        }
        meta.state = state;
        if state == MessageState::Delivered {
            meta.delivered_at = Some(at);
        }
        let sealed = keys.seal(meta_slot(id, contact), &meta)?;
        tx.prepare_cached("UPDATE messages SET meta = ?1 WHERE id = ?2")
            .and_then(|mut st| st.execute(params![sealed, id]))
            .map_err(db("storing a message state"))?;
        let body = open_body(keys, &tx, id, contact)?;
        tx.commit().map_err(db("storing a message state"))?;
        Ok(Some(meta.into_message(contact, body)))
    }

    /// `m` (in row `row`) with its reactions and edit.
    fn with_extras(&self, row: i64, m: Message) -> Result<Message> {
        Ok(Message {
            reactions: crate::conversation::reactions_of_message(self, row)?,
            edited: crate::edit::edit_of(&self.keys, &self.conn, row)?.map(|e| e.view()),
            ..m
        })
    }

    /// A conversation's messages, still sealed, in order.
    pub(crate) fn message_rows(&self, contact: ContactId) -> Result<Vec<SealedRow>> {
        self.contact_exists(contact)?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, meta, body FROM messages WHERE contact_id = ?1 ORDER BY id")
            .map_err(db("reading messages"))?;
        stmt.query_map([contact.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(db("reading messages"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db("reading messages"))
    }

    /// A conversation's messages (tombstones left out) whose metadata
    /// passes `keep`, in insertion order, each with its reactions.
    fn messages_where(
        &self,
        contact: ContactId,
        keep: impl Fn(&MessageMeta) -> bool,
    ) -> Result<Vec<Message>> {
        let mut reactions = crate::conversation::reactions_of(self, contact)?;
        let mut edits = crate::edit::edits_of(self, contact)?;
        let mut out = vec![];
        for (id, meta, body) in self.message_rows(contact)? {
            let meta: MessageMeta = self.keys.open(meta_slot(id, contact), &meta, "message")?;
            if !meta.is_deleted() && keep(&meta) {
                let body: String = self
                    .keys
                    .open(body_slot(id, contact), &body, "message body")?;
                let mut m = meta.into_message(contact, body);
                m.reactions = reactions.remove(&id).unwrap_or_default();
                m.edited = edits.remove(&id).map(|e| e.view());
                out.push(m);
            }
        }
        Ok(out)
    }

    /// A conversation, in insertion order: texts, timer lines and files,
    /// with their reactions; not the tombstones of deleted messages.
    /// [`Error::NotFound`] for an unknown contact.
    pub fn messages(&self, contact: ContactId) -> Result<Vec<Message>> {
        self.messages_where(contact, |_| true)
    }

    /// One message of a conversation, with its reactions; `None` if there is
    /// no such message (or only its tombstone).
    ///
    /// Found by its keyed hash: one row, whatever the conversation's length.
    pub fn message(&self, contact: ContactId, id: MessageId) -> Result<Option<Message>> {
        self.contact_exists(contact)?;
        let Some((row, meta)) = find_message(&self.keys, &self.conn, contact, id)? else {
            return Ok(None);
        };
        if meta.is_deleted() {
            return Ok(None);
        }
        let body = open_body(&self.keys, &self.conn, row, contact)?;
        self.with_extras(row, meta.into_message(contact, body))
            .map(Some)
    }

    /// The newest message of a conversation, if any (for previews; cheaper
    /// than `messages(contact).pop()`). Without its reactions; `None` when
    /// the newest is a tombstone.
    pub fn last_message(&self, contact: ContactId) -> Result<Option<Message>> {
        self.contact_exists(contact)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, meta, body FROM messages WHERE contact_id = ?1 ORDER BY id DESC",
            )
            .map_err(db("reading messages"))?;
        let mut rows = stmt
            .query_map([contact.0], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(db("reading messages"))?;
        // Newest first, past any tombstones (usually none: one step).
        for row in &mut rows {
            let (id, meta, body) = row.map_err(db("reading messages"))?;
            let m = open_message(&self.keys, id, contact, &meta, &body)?;
            if !matches!(m.kind, MessageKind::Deleted(_)) {
                return Ok(Some(self.with_extras(id, m)?));
            }
        }
        Ok(None)
    }

    /// Our text messages to `contact` not yet delivered, in insertion
    /// order. (Everything else waiting to be sent, of every kind, is in
    /// [`Store::outbox`].)
    pub fn undelivered(&self, contact: ContactId) -> Result<Vec<Message>> {
        self.messages_where(contact, |m| {
            m.direction == Direction::Out
                && m.state != MessageState::Delivered
                && m.kind == MessageKind::Text
        })
    }

    /// Mark every incoming message of a conversation read, and set its unread
    /// count to 0.
    ///
    /// Opens the metadata of every message of the conversation (the read
    /// flags are in it), so it costs O(messages), like [`Store::messages`]
    /// that a front end calls when it shows the conversation.
    pub fn mark_read(&mut self, contact: ContactId) -> Result<()> {
        let keys = &self.keys;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting a transaction"))?;
        let counted = read_unread(keys, &tx, contact)?;
        let unread = unread_rows(keys, &tx, contact)?;
        if unread.is_empty() && counted == 0 {
            return Ok(());
        }
        for (id, mut meta) in unread {
            meta.read = true;
            let sealed = keys.seal(meta_slot(id, contact), &meta)?;
            tx.execute(
                "UPDATE messages SET meta = ?1 WHERE id = ?2 AND contact_id = ?3",
                params![sealed, id, contact.0],
            )
            .map_err(db("marking messages read"))?;
        }
        write_unread(keys, &tx, contact, 0)?;
        tx.commit().map_err(db("marking messages read"))
    }

    /// How many incoming messages of a conversation are unread: one sealed
    /// counter, no message is opened. [`Error::NotFound`] for an unknown contact.
    pub fn unread_count(&self, contact: ContactId) -> Result<u64> {
        read_unread(&self.keys, &self.conn, contact)
    }

    /// Delete one message for us only: it becomes a tombstone (its id, no
    /// text, no times; its reactions, file data and deadline are deleted),
    /// the freed cells are zeroed and the WAL emptied. `false` if there was
    /// no such message (or it was deleted already).
    pub fn delete_message(&mut self, contact: ContactId, msg_id: MessageId) -> Result<bool> {
        let keys = &self.keys;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting a transaction"))?;
        let done = crate::conversation::tombstone(keys, &tx, contact, msg_id, Deletion::ForMe)?;
        if !done {
            return Ok(false);
        }
        tx.commit().map_err(db("deleting a message"))?;
        self.scrub_wal();
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContactOrigin, ContactState};
    use kith_core::ErrorKind;
    use zeroize::Zeroizing;

    const PW: &[u8] = b"correct horse";

    fn fast() -> KdfParams {
        KdfParams::dangerously_fast_for_testing_only()
    }

    fn new_profile() -> NewProfile {
        NewProfile {
            display_name: "Alice".into(),
            identity_seed: Zeroizing::new([42; 32]),
            created_at: Timestamp(1_000),
        }
    }

    fn new_contact(addr: u8, alias: &str) -> NewContact {
        NewContact {
            address: [addr; 32],
            alias: alias.into(),
            state: ContactState::Outgoing,
            origin: ContactOrigin::Link,
            verified: false,
            tcp_hint: Some("127.0.0.1:9999".into()),
            their_name: Some(format!("{alias} themselves")),
            added_at: Timestamp(2_000),
        }
    }

    fn setup() -> (tempfile::TempDir, PathBuf, Store) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.db");
        let store = Store::create(&path, PW, fast(), &new_profile()).unwrap();
        (dir, path, store)
    }

    fn kind<T: std::fmt::Debug>(r: Result<T>) -> ErrorKind {
        r.unwrap_err().kind()
    }

    fn side(path: &Path, suffix: &str) -> PathBuf {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    }

    /// The bytes of the database and its side files that exist.
    fn disk_bytes(path: &Path) -> Vec<(String, Vec<u8>)> {
        ["", "-wal", "-shm", "-journal"]
            .iter()
            .filter_map(|s| {
                std::fs::read(side(path, s))
                    .ok()
                    .map(|b| (format!("db{s}"), b))
            })
            .collect()
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
    }

    /// Run raw SQL on a closed store file, as an attacker with the disk would.
    fn tamper(path: &Path, f: impl FnOnce(&Connection)) {
        let conn = Connection::open(path).unwrap();
        f(&conn);
        conn.close().unwrap();
    }

    #[test]
    fn store_is_send() {
        fn is_send<T: Send>() {}
        is_send::<Store>();
        is_send::<crate::StoreHandle>();
    }

    #[test]
    fn create_open_round_trip() {
        let (_dir, path, store) = setup();
        let p = store.profile().unwrap();
        assert_eq!(p.display_name, "Alice");
        assert_eq!(*p.identity_seed, [42; 32]);
        assert_eq!(p.created_at, Timestamp(1_000));
        assert_eq!(format!("{store:?}"), "Store { .. }");
        store.close().unwrap();
        // Closing removes the WAL.
        assert!(!side(&path, "-wal").exists());

        let store = Store::open(&path, PW).unwrap();
        let p = store.profile().unwrap();
        assert_eq!(p.display_name, "Alice");
        assert_eq!(*p.identity_seed, [42; 32]);
        drop(store);
        Store::open(&path, PW).unwrap().close().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, path, mut store) = setup();
        store.add_contact(&new_contact(1, "bob")).unwrap();
        for s in ["", "-wal", "-shm"] {
            if let Ok(m) = std::fs::metadata(side(&path, s)) {
                assert_eq!(m.permissions().mode() & 0o777, 0o600, "db{s}");
            }
        }
    }

    #[test]
    fn create_refuses_existing_and_open_missing() {
        let (dir, path, store) = setup();
        drop(store);
        assert_eq!(
            kind(Store::create(&path, PW, fast(), &new_profile())),
            ErrorKind::AlreadyExists
        );
        // The existing store is untouched.
        Store::open(&path, PW).unwrap();
        assert_eq!(
            kind(Store::open(&dir.path().join("nope.db"), PW)),
            ErrorKind::NotFound
        );
        // Bad KDF parameters are refused before a file is made.
        let other = dir.path().join("other.db");
        let bad = KdfParams {
            m_kib: 1,
            t_cost: 1,
            p_cost: 1,
        };
        assert_eq!(
            kind(Store::create(&other, PW, bad, &new_profile())),
            ErrorKind::BadLocalInput
        );
        assert!(!other.exists());
    }

    #[test]
    fn wrong_password_changes_nothing() {
        let (_dir, path, mut store) = setup();
        store.add_contact(&new_contact(1, "bob")).unwrap();
        store.close().unwrap();
        let before = std::fs::read(&path).unwrap();
        for pw in [&b"correct horsE"[..], b"", b"correct horse "] {
            let e = Store::open(&path, pw).unwrap_err();
            assert!(matches!(e, Error::WrongPassword), "{e:?}");
            assert_eq!(e.kind(), ErrorKind::WrongPassword);
        }
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(!side(&path, "-wal").exists());
        Store::open(&path, PW).unwrap();
    }

    #[test]
    fn change_password() {
        let (_dir, path, mut store) = setup();
        let bob = store.add_contact(&new_contact(1, "bob")).unwrap();
        assert!(matches!(
            store.change_password(b"wrong", b"new", fast()),
            Err(Error::WrongPassword)
        ));
        let kdf = KdfParams::new(16, 2, 1).unwrap();
        store.change_password(PW, b"new password", kdf).unwrap();
        // Still usable with the same keys.
        assert_eq!(store.contact(bob).unwrap().alias, "bob");
        store.close().unwrap();

        assert!(matches!(Store::open(&path, PW), Err(Error::WrongPassword)));
        let mut store = Store::open(&path, b"new password").unwrap();
        assert_eq!(store.contact(bob).unwrap().alias, "bob");
        assert_eq!(store.profile().unwrap().display_name, "Alice");
        // And back again, to the old one.
        store.change_password(b"new password", PW, fast()).unwrap();
        drop(store);
        assert!(matches!(
            Store::open(&path, b"new password"),
            Err(Error::WrongPassword)
        ));
        Store::open(&path, PW).unwrap();
    }

    #[test]
    fn display_name_and_settings() {
        let (_dir, path, mut store) = setup();
        store.set_display_name("Alice B.").unwrap();
        assert_eq!(store.profile().unwrap().display_name, "Alice B.");
        assert_eq!(*store.profile().unwrap().identity_seed, [42; 32]);

        assert_eq!(store.setting("a").unwrap(), None);
        store.set_setting("a", b"one").unwrap();
        store.set_setting("b", b"").unwrap();
        assert_eq!(store.setting("a").unwrap().as_deref(), Some(&b"one"[..]));
        store.set_setting("a", b"two").unwrap();
        assert_eq!(store.setting("a").unwrap().as_deref(), Some(&b"two"[..]));
        assert_eq!(store.setting("b").unwrap().as_deref(), Some(&b""[..]));
        assert_eq!(store.setting("A").unwrap(), None);
        assert!(store.delete_setting("b").unwrap());
        assert!(!store.delete_setting("b").unwrap());
        assert_eq!(store.setting("b").unwrap(), None);
        assert_eq!(store.setting("a").unwrap().as_deref(), Some(&b"two"[..]));
        assert_eq!(
            kind(store.set_setting("big", &vec![0; MAX_SETTING + 1])),
            ErrorKind::BadLocalInput
        );
        store.close().unwrap();

        let store = Store::open(&path, PW).unwrap();
        assert_eq!(store.profile().unwrap().display_name, "Alice B.");
        assert_eq!(store.setting("a").unwrap().as_deref(), Some(&b"two"[..]));
    }

    #[test]
    fn contacts_crud() {
        let (_dir, path, mut store) = setup();
        let bob = store.add_contact(&new_contact(1, "bob")).unwrap();
        let carol = store.add_contact(&new_contact(2, "carol")).unwrap();
        assert_ne!(bob, carol);
        assert_eq!(
            kind(store.add_contact(&new_contact(1, "bobby"))),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            kind(store.add_contact(&new_contact(3, "bob"))),
            ErrorKind::AlreadyExists
        );

        let c = store.contact(bob).unwrap();
        assert_eq!(c.address, [1; 32]);
        assert_eq!(c.alias, "bob");
        assert_eq!(c.state, ContactState::Outgoing);
        assert_eq!(c.origin, ContactOrigin::Link);
        assert!(!c.verified);
        assert_eq!(c.tcp_hint.as_deref(), Some("127.0.0.1:9999"));
        assert_eq!(c.their_name.as_deref(), Some("bob themselves"));
        assert_eq!(c.added_at, Timestamp(2_000));
        assert_eq!(c.last_seen, None);
        assert_eq!(kind(store.contact(ContactId(999))), ErrorKind::NotFound);

        assert_eq!(
            store.contact_by_address(&[2; 32]).unwrap().unwrap().id,
            carol
        );
        assert!(store.contact_by_address(&[9; 32]).unwrap().is_none());
        assert_eq!(store.contact_by_alias("bob").unwrap().unwrap().id, bob);
        assert!(store.contact_by_alias("Bob").unwrap().is_none());
        let all: Vec<ContactId> = store.contacts().unwrap().iter().map(|c| c.id).collect();
        assert_eq!(all, vec![bob, carol]);

        // Update: rename, accept, see.
        let mut c = store.contact(bob).unwrap();
        c.alias = "robert".into();
        c.state = ContactState::Accepted;
        c.last_seen = Some(Timestamp(3_000));
        c.tcp_hint = None;
        store.update_contact(&c).unwrap();
        assert_eq!(store.contact(bob).unwrap(), c);
        assert!(store.contact_by_alias("bob").unwrap().is_none());
        assert_eq!(store.contact_by_alias("robert").unwrap().unwrap(), c);
        // The alias "bob" is free again.
        let bob2 = store.add_contact(&new_contact(3, "bob")).unwrap();
        // Alias and address stay unique.
        c.alias = "carol".into();
        assert_eq!(kind(store.update_contact(&c)), ErrorKind::AlreadyExists);
        c.alias = "robert".into();
        c.address = [2; 32];
        assert_eq!(kind(store.update_contact(&c)), ErrorKind::AlreadyExists);
        let mut ghost = store.contact(carol).unwrap();
        ghost.id = ContactId(999);
        ghost.alias = "ghost".into();
        ghost.address = [8; 32];
        assert_eq!(kind(store.update_contact(&ghost)), ErrorKind::NotFound);

        // Delete takes the messages along.
        store
            .insert_outgoing(carol, MessageId([1; 16]), "hi carol", Timestamp(5))
            .unwrap();
        store.delete_contact(carol).unwrap();
        assert_eq!(kind(store.contact(carol)), ErrorKind::NotFound);
        assert_eq!(kind(store.delete_contact(carol)), ErrorKind::NotFound);
        assert_eq!(kind(store.messages(carol)), ErrorKind::NotFound);
        let n: i64 = store
            .conn
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        assert!(store.contact_by_address(&[2; 32]).unwrap().is_none());
        // Ids are never reused.
        let dave = store.add_contact(&new_contact(2, "dave")).unwrap();
        assert!(dave.0 > bob2.0 && dave.0 > carol.0);
        store.close().unwrap();

        let store = Store::open(&path, PW).unwrap();
        assert_eq!(store.contacts().unwrap().len(), 3);
        assert_eq!(
            store.contact_by_address(&[2; 32]).unwrap().unwrap().id,
            dave
        );
    }

    #[test]
    fn provenance_is_stored_and_survives_a_reopen() {
        let (_dir, path, mut store) = setup();
        let origins = [
            (ContactOrigin::Link, false),
            (ContactOrigin::MetInPerson, true),
            (ContactOrigin::Introduced { by: [7; 32] }, false),
            (ContactOrigin::Request, false),
        ];
        let mut ids = vec![];
        for (n, (origin, verified)) in (1_u8..).zip(origins) {
            let mut c = new_contact(n, &format!("c{n}"));
            c.origin = origin;
            c.verified = verified;
            ids.push(store.add_contact(&c).unwrap());
        }
        // Marking verified (and back) is a contact update like any other.
        let marked = store
            .update_contact_with(ids[0], |c| {
                c.verified = true;
                Ok::<_, ()>(())
            })
            .unwrap();
        assert_eq!(marked, Ok(()));
        store
            .update_contact_with(ids[1], |c| {
                c.verified = false;
                Ok::<_, ()>(())
            })
            .unwrap()
            .unwrap();
        store.close().unwrap();
        let store = Store::open(&path, PW).unwrap();
        let got: Vec<(ContactOrigin, bool)> = store
            .contact_summaries()
            .unwrap()
            .into_iter()
            .map(|s| (s.contact.origin, s.contact.verified))
            .collect();
        assert_eq!(
            got,
            [
                (ContactOrigin::Link, true),
                (ContactOrigin::MetInPerson, false),
                (ContactOrigin::Introduced { by: [7; 32] }, false),
                (ContactOrigin::Request, false),
            ]
        );
    }

    #[test]
    fn messages_and_states() {
        let (_dir, path, mut store) = setup();
        let bob = store.add_contact(&new_contact(1, "bob")).unwrap();
        let carol = store.add_contact(&new_contact(2, "carol")).unwrap();
        let (m1, m2, m3) = (MessageId([1; 16]), MessageId([2; 16]), MessageId([3; 16]));

        let out = store
            .insert_outgoing(bob, m1, "hello bob", Timestamp(10))
            .unwrap();
        assert_eq!(out.state, MessageState::Queued);
        assert_eq!(out.direction, Direction::Out);
        assert!(out.read);
        assert_eq!(
            kind(store.insert_outgoing(bob, m1, "again", Timestamp(11))),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            kind(store.insert_outgoing(ContactId(77), m2, "x", Timestamp(1))),
            ErrorKind::NotFound
        );

        // Incoming, then redelivered.
        let Inserted::New(inc) = store
            .insert_incoming(bob, m2, "hi alice", Timestamp(20), Timestamp(25))
            .unwrap()
        else {
            panic!("expected new");
        };
        assert_eq!(inc.state, MessageState::Received);
        assert_eq!(inc.sent_at, Timestamp(20));
        assert_eq!(inc.stored_at, Timestamp(25));
        assert!(!inc.read);
        assert_eq!(
            store
                .insert_incoming(bob, m2, "hi alice", Timestamp(20), Timestamp(26))
                .unwrap(),
            Inserted::Duplicate
        );
        // Even with a different body: the id decides.
        assert_eq!(
            store
                .insert_incoming(bob, m2, "forged", Timestamp(20), Timestamp(26))
                .unwrap(),
            Inserted::Duplicate
        );
        // The same id from another contact is another message.
        assert!(matches!(
            store
                .insert_incoming(carol, m2, "hi from carol", Timestamp(21), Timestamp(27))
                .unwrap(),
            Inserted::New(_)
        ));
        assert_eq!(
            kind(store.insert_incoming(ContactId(77), m3, "x", Timestamp(1), Timestamp(1))),
            ErrorKind::NotFound
        );
        // A chat reads no settings first: the insert's own contact check.
        let chat = kith_core::chat::Chat {
            id: m3,
            sent_at: Timestamp(1),
            body: "x".into(),
            reply_to: None,
            disappear: kith_core::chat::DisappearTimer::Off,
        };
        assert_eq!(
            kind(store.insert_incoming_chat(ContactId(77), &chat, Timestamp(1), Timestamp(1))),
            ErrorKind::NotFound
        );
        store
            .insert_outgoing(bob, m3, "second", Timestamp(30))
            .unwrap();

        assert_eq!(store.last_message(bob).unwrap().unwrap().body, "second");
        assert_eq!(kind(store.last_message(ContactId(77))), ErrorKind::NotFound);
        let bodies: Vec<String> = store
            .messages(bob)
            .unwrap()
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(bodies, ["hello bob", "hi alice", "second"]);
        let und: Vec<MessageId> = store
            .undelivered(bob)
            .unwrap()
            .iter()
            .map(|m| m.msg_id)
            .collect();
        assert_eq!(und, [m1, m3]);

        // Forward only.
        let s = store
            .set_message_state(bob, m1, MessageState::Sent, Timestamp(40))
            .unwrap()
            .unwrap();
        assert_eq!(s.state, MessageState::Sent);
        assert_eq!(s.body, "hello bob");
        assert_eq!(s.delivered_at, None);
        let d = store
            .set_message_state(bob, m1, MessageState::Delivered, Timestamp(50))
            .unwrap()
            .unwrap();
        assert_eq!(d.state, MessageState::Delivered);
        assert_eq!(d.delivered_at, Some(Timestamp(50)));
        for back in [
            MessageState::Sent,
            MessageState::Queued,
            MessageState::Delivered,
            MessageState::Received,
        ] {
            assert_eq!(
                store
                    .set_message_state(bob, m1, back, Timestamp(60))
                    .unwrap(),
                None
            );
        }
        let m = &store.messages(bob).unwrap()[0];
        assert_eq!(
            (m.state, m.delivered_at),
            (MessageState::Delivered, Some(Timestamp(50)))
        );
        // Queued straight to Delivered (the ack beat the "sent" mark).
        assert!(
            store
                .set_message_state(bob, m3, MessageState::Delivered, Timestamp(70))
                .unwrap()
                .is_some()
        );
        // Incoming messages and unknown ids do not change.
        assert_eq!(
            store
                .set_message_state(bob, m2, MessageState::Delivered, Timestamp(1))
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .set_message_state(bob, MessageId([9; 16]), MessageState::Sent, Timestamp(1))
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .set_message_state(ContactId(77), m1, MessageState::Sent, Timestamp(1))
                .unwrap(),
            None
        );
        assert!(store.undelivered(bob).unwrap().is_empty());

        // Read flags.
        assert_eq!(store.unread_count(bob).unwrap(), 1);
        assert_eq!(store.unread_count(carol).unwrap(), 1);
        store.mark_read(bob).unwrap();
        assert_eq!(store.unread_count(bob).unwrap(), 0);
        assert_eq!(store.unread_count(carol).unwrap(), 1);
        assert!(store.messages(bob).unwrap().iter().all(|m| m.read));
        assert_eq!(kind(store.unread_count(ContactId(77))), ErrorKind::NotFound);

        // Delete.
        assert!(store.delete_message(bob, m2).unwrap());
        assert!(!store.delete_message(bob, m2).unwrap());
        assert!(!store.delete_message(carol, m1).unwrap());
        assert_eq!(store.messages(bob).unwrap().len(), 2);
        // A deleted incoming id that arrives again stays deleted: its
        // tombstone answers the duplicate check.
        assert_eq!(
            store
                .insert_incoming(bob, m2, "hi alice", Timestamp(20), Timestamp(99))
                .unwrap(),
            Inserted::Duplicate
        );
        store.close().unwrap();

        let store = Store::open(&path, PW).unwrap();
        let ms = store.messages(bob).unwrap();
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[0].state, MessageState::Delivered);
        assert_eq!(ms[1].body, "second");
        assert_eq!(store.messages(carol).unwrap()[0].body, "hi from carol");
    }

    #[test]
    fn limits() {
        let (_dir, _path, mut store) = setup();
        let bob = store.add_contact(&new_contact(1, "bob")).unwrap();
        let long = "x".repeat(MAX_BODY + 1);
        let bad = ErrorKind::BadLocalInput;
        assert_eq!(
            kind(store.insert_outgoing(bob, MessageId([1; 16]), &long, Timestamp(1))),
            bad
        );
        assert_eq!(
            kind(store.insert_incoming(bob, MessageId([1; 16]), &long, Timestamp(1), Timestamp(1))),
            bad
        );
        let too_long = |n: usize| "a".repeat(n + 1);
        let mut c = new_contact(2, &too_long(MAX_ALIAS));
        assert_eq!(kind(store.add_contact(&c)), bad);
        c.alias = "a".repeat(MAX_ALIAS);
        c.their_name = Some(too_long(MAX_DISPLAY_NAME));
        assert_eq!(kind(store.add_contact(&c)), bad);
        c.their_name = Some("n".repeat(MAX_DISPLAY_NAME));
        c.tcp_hint = Some(too_long(MAX_TCP_HINT));
        assert_eq!(kind(store.add_contact(&c)), bad);
        c.tcp_hint = Some("h".repeat(MAX_TCP_HINT));
        let carol = store.add_contact(&c).unwrap();
        let mut stored = store.contact(carol).unwrap();
        stored.alias = too_long(MAX_ALIAS);
        assert_eq!(kind(store.update_contact(&stored)), bad);
        assert_eq!(
            kind(store.set_display_name(&too_long(MAX_DISPLAY_NAME))),
            bad
        );
        store
            .set_display_name(&"d".repeat(MAX_DISPLAY_NAME))
            .unwrap();
        assert_eq!(
            kind(store.set_setting(&too_long(MAX_SETTING_KEY), b"v")),
            bad
        );
        store
            .set_setting(&"k".repeat(MAX_SETTING_KEY), b"v")
            .unwrap();

        // The largest body the wire carries is storable, both ways.
        let max = "é".repeat(MAX_BODY / 2);
        let wire = kith_core::wire::encode(&kith_core::PeerMessage::Text(kith_core::wire::Text {
            id: MessageId([2; 16]),
            sent_at: Timestamp(1),
            body: max.clone(),
        }));
        assert!(wire.is_ok());
        let m = store
            .insert_outgoing(bob, MessageId([1; 16]), &max, Timestamp(1))
            .unwrap();
        assert_eq!(m.body.len(), MAX_BODY);
        assert!(matches!(
            store.insert_incoming(bob, MessageId([2; 16]), &max, Timestamp(1), Timestamp(1)),
            Ok(Inserted::New(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        let mut p = new_profile();
        p.display_name = too_long(MAX_DISPLAY_NAME);
        assert_eq!(
            kind(Store::create(&dir.path().join("p.db"), PW, fast(), &p)),
            bad
        );
        assert!(!dir.path().join("p.db").exists());
    }

    // ---- Read-check-modify-write ----

    #[test]
    fn update_contact_with_writes_only_when_f_agrees() {
        let (_dir, path, mut store) = setup();
        let bob = store.add_contact(&new_contact(1, "bob")).unwrap();
        let carol = store.add_contact(&new_contact(2, "carol")).unwrap();

        // A transition that depends on the stored state.
        let accept = |c: &mut Contact| match c.state {
            ContactState::Outgoing | ContactState::IncomingRequest => {
                c.state = ContactState::Accepted;
                Ok(c.alias.clone())
            }
            other => Err(other),
        };
        assert_eq!(
            store.update_contact_with(bob, accept).unwrap(),
            Ok("bob".to_owned())
        );
        assert_eq!(store.contact(bob).unwrap().state, ContactState::Accepted);
        // Again: now refused, by the state it finds.
        assert_eq!(
            store.update_contact_with(bob, accept).unwrap(),
            Err(ContactState::Accepted)
        );

        // A refusal writes nothing, whatever f changed before refusing.
        let before = store.contact(bob).unwrap();
        let changes = store.conn.total_changes();
        let r = store
            .update_contact_with(bob, |c| {
                c.alias = "changed".into();
                c.state = ContactState::Blocked;
                Err::<(), _>("no")
            })
            .unwrap();
        assert_eq!(r, Err("no"));
        assert_eq!(store.contact(bob).unwrap(), before);
        assert!(store.contact_by_alias("changed").unwrap().is_none());
        assert_eq!(store.conn.total_changes(), changes);

        // Agreeing without changing anything writes nothing either.
        let r = store.update_contact_with(bob, |_| Ok::<_, ()>(5)).unwrap();
        assert_eq!(r, Ok(5));
        assert_eq!(store.conn.total_changes(), changes);

        // Store errors come out, and leave the contact as it was.
        let mut called = false;
        let r = store.update_contact_with(ContactId(99), |_| {
            called = true;
            Ok::<_, ()>(())
        });
        assert_eq!(kind(r), ErrorKind::NotFound);
        assert!(!called);
        let r = store.update_contact_with(carol, |c| {
            c.alias = "bob".into();
            Ok::<_, ()>(())
        });
        assert_eq!(kind(r), ErrorKind::AlreadyExists);
        let r = store.update_contact_with(carol, |c| {
            c.address = [1; 32];
            Ok::<_, ()>(())
        });
        assert_eq!(kind(r), ErrorKind::AlreadyExists);
        let r = store.update_contact_with(carol, |c| {
            c.id = bob;
            c.state = ContactState::Blocked;
            Ok::<_, ()>(())
        });
        assert_eq!(kind(r), ErrorKind::BadLocalInput);
        let r = store.update_contact_with(carol, |c| {
            c.their_name = Some("n".repeat(MAX_DISPLAY_NAME + 1));
            Ok::<_, ()>(())
        });
        assert_eq!(kind(r), ErrorKind::BadLocalInput);
        assert_eq!(store.contact(carol).unwrap().alias, "carol");
        assert_eq!(store.contact(bob).unwrap(), before);

        // A rename is found under its new alias only, and survives a reopen.
        store
            .update_contact_with(carol, |c| {
                c.alias = "caro".into();
                c.last_seen = Some(Timestamp(77));
                Ok::<_, ()>(())
            })
            .unwrap()
            .unwrap();
        store.close().unwrap();
        let store = Store::open(&path, PW).unwrap();
        assert!(store.contact_by_alias("carol").unwrap().is_none());
        let c = store.contact_by_alias("caro").unwrap().unwrap();
        assert_eq!((c.id, c.last_seen), (carol, Some(Timestamp(77))));
        assert_eq!(store.unread_count(carol).unwrap(), 0);
    }

    // ---- Contact list: last message and unread count ----

    /// The unread count the slow way: open every message's metadata.
    fn unread_by_scan(store: &Store, c: ContactId) -> u64 {
        count_unread(&store.keys, &store.conn, c).unwrap()
    }

    /// Every contact's summary must agree with the full conversation.
    fn check_summaries(store: &Store) {
        let summaries = store.contact_summaries().unwrap();
        let contacts = store.contacts().unwrap();
        assert_eq!(summaries.len(), contacts.len());
        for (s, c) in summaries.iter().zip(contacts) {
            assert_eq!(s.contact, c);
            assert_eq!(s.last, store.messages(c.id).unwrap().pop());
            assert_eq!(s.last, store.last_message(c.id).unwrap());
            assert_eq!(s.unread, unread_by_scan(store, c.id), "{:?}", c.id);
            assert_eq!(s.unread, store.unread_count(c.id).unwrap());
            assert_eq!(&store.contact_summary(c.id).unwrap(), s);
        }
    }

    #[test]
    fn unread_counts_follow_every_change() {
        let (_dir, path, mut store) = setup();
        let bob = store.add_contact(&new_contact(1, "bob")).unwrap();
        let carol = store.add_contact(&new_contact(2, "carol")).unwrap();
        let dave = store.add_contact(&new_contact(3, "dave")).unwrap();
        let t = Timestamp;
        let unread = |s: &Store| -> Vec<u64> {
            s.contact_summaries()
                .unwrap()
                .iter()
                .map(|s| s.unread)
                .collect()
        };
        check_summaries(&store);
        assert_eq!(unread(&store), [0, 0, 0]);

        for i in 1..=3 {
            store
                .insert_incoming(bob, MessageId([i; 16]), "in", t(1), t(2))
                .unwrap();
        }
        // A redelivery is not counted twice.
        assert_eq!(
            store
                .insert_incoming(bob, MessageId([2; 16]), "in", t(1), t(3))
                .unwrap(),
            Inserted::Duplicate
        );
        // Ours are never unread, whatever happens to them.
        store
            .insert_outgoing(bob, MessageId([10; 16]), "out", t(4))
            .unwrap();
        store
            .set_message_state(bob, MessageId([10; 16]), MessageState::Delivered, t(5))
            .unwrap();
        store
            .insert_incoming(carol, MessageId([20; 16]), "in", t(1), t(2))
            .unwrap();
        check_summaries(&store);
        assert_eq!(unread(&store), [3, 1, 0]);

        // Deleting an unread message counts down; a read or outgoing one, or
        // an unknown id, does not.
        assert!(store.delete_message(bob, MessageId([2; 16])).unwrap());
        assert!(store.delete_message(bob, MessageId([10; 16])).unwrap());
        assert!(!store.delete_message(bob, MessageId([2; 16])).unwrap());
        assert!(!store.delete_message(dave, MessageId([1; 16])).unwrap());
        check_summaries(&store);
        assert_eq!(unread(&store), [2, 1, 0]);

        store.mark_read(bob).unwrap();
        store.mark_read(dave).unwrap();
        check_summaries(&store);
        assert_eq!(unread(&store), [0, 1, 0]);
        assert!(store.delete_message(bob, MessageId([1; 16])).unwrap());
        store
            .insert_incoming(bob, MessageId([4; 16]), "new", t(6), t(7))
            .unwrap();
        // The same message id in another conversation is another message.
        store
            .insert_incoming(carol, MessageId([4; 16]), "new", t(6), t(7))
            .unwrap();
        check_summaries(&store);
        assert_eq!(unread(&store), [1, 2, 0]);

        store.delete_contact(carol).unwrap();
        assert_eq!(kind(store.unread_count(carol)), ErrorKind::NotFound);
        assert_eq!(kind(store.contact_summary(carol)), ErrorKind::NotFound);
        assert_eq!(kind(store.mark_read(carol)), ErrorKind::NotFound);
        check_summaries(&store);
        assert_eq!(unread(&store), [1, 0]);
        // Deleting a conversation's newest message shows the one before.
        store
            .insert_outgoing(dave, MessageId([30; 16]), "first", t(8))
            .unwrap();
        store
            .insert_outgoing(dave, MessageId([31; 16]), "second", t(9))
            .unwrap();
        assert!(store.delete_message(dave, MessageId([31; 16])).unwrap());
        check_summaries(&store);
        assert_eq!(
            store.contact_summary(dave).unwrap().last.unwrap().body,
            "first"
        );

        store.close().unwrap();
        let store = Store::open(&path, PW).unwrap();
        check_summaries(&store);
        assert_eq!(unread(&store), [1, 0]);
    }

    #[test]
    fn unread_cell_changes_for_every_message_either_way() {
        let (_dir, _path, mut store) = setup();
        let bob = store.add_contact(&new_contact(1, "bob")).unwrap();
        let cell = |s: &Store| -> Vec<u8> {
            s.conn
                .query_row("SELECT unread FROM contacts WHERE id = ?1", [bob.0], |r| {
                    r.get(0)
                })
                .unwrap()
        };
        let t = Timestamp(1);
        let mut last = cell(&store);
        let mut changed = |s: &Store, what: &str| {
            let now = cell(s);
            assert_ne!(now, last, "{what}");
            last = now;
        };
        store
            .insert_outgoing(bob, MessageId([1; 16]), "out", t)
            .unwrap();
        changed(&store, "outgoing insert");
        store
            .insert_incoming(bob, MessageId([2; 16]), "in", t, t)
            .unwrap();
        changed(&store, "incoming insert");
        store.mark_read(bob).unwrap();
        changed(&store, "mark read");
        store.delete_message(bob, MessageId([2; 16])).unwrap();
        changed(&store, "read delete");
        store.delete_message(bob, MessageId([1; 16])).unwrap();
        changed(&store, "outgoing delete");
        let before = cell(&store);
        store
            .insert_incoming(bob, MessageId([3; 16]), "in", t, t)
            .unwrap();
        store
            .insert_incoming(bob, MessageId([3; 16]), "in", t, t)
            .unwrap();
        assert_ne!(cell(&store), before);
        assert_eq!(store.unread_count(bob).unwrap(), 1);
    }

    #[test]
    fn contact_list_cost_does_not_grow_with_messages() {
        let (_dir, _path, mut store) = setup();
        let bob = store.add_contact(&new_contact(1, "bob")).unwrap();
        let carol = store.add_contact(&new_contact(2, "carol")).unwrap();
        let _dave = store.add_contact(&new_contact(3, "dave")).unwrap();
        for i in 0..300_u16 {
            let mut id = [0; 16];
            id[..2].copy_from_slice(&i.to_be_bytes());
            if i % 3 == 0 {
                store
                    .insert_outgoing(bob, MessageId(id), "ours", Timestamp(u64::from(i)))
                    .unwrap();
            } else {
                let t = Timestamp(u64::from(i));
                store
                    .insert_incoming(bob, MessageId(id), "theirs", t, t)
                    .unwrap();
            }
            if i == 150 {
                store.mark_read(bob).unwrap();
            }
        }
        store
            .insert_incoming(carol, MessageId([1; 16]), "hi", Timestamp(1), Timestamp(1))
            .unwrap();

        let opened = |store: &Store, f: &dyn Fn(&Store)| {
            let before = store.keys.opened.get();
            f(store);
            store.keys.opened.get() - before
        };
        // Per contact: its record and its count; per non-empty conversation,
        // the newest message's metadata and body. 3 contacts, 2 with messages.
        let n = opened(&store, &|s| {
            let all = s.contact_summaries().unwrap();
            // 200 of theirs, of which the 100 before the mark_read are read.
            assert_eq!(all[0].unread, 100);
            assert_eq!(
                all[0].last.as_ref().unwrap().msg_id.0[..2],
                299_u16.to_be_bytes()
            );
            assert_eq!(all[1].unread, 1);
            assert!(all[2].last.is_none());
        });
        assert_eq!(n, 3 * 2 + 2 * 2);
        assert_eq!(
            opened(&store, &|s| drop(s.contact_summary(bob).unwrap())),
            4
        );
        assert_eq!(
            opened(&store, &|s| assert_eq!(s.unread_count(bob).unwrap(), 100)),
            1
        );
        // What the contact list did before: every message of the conversation.
        assert!(opened(&store, &|s| drop(s.messages(bob).unwrap())) >= 600);
        check_summaries(&store);

        // And SQLite finds each newest message through the index, without
        // scanning the messages table.
        let plan: Vec<String> = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {SUMMARIES} ORDER BY c.id"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("messages_by_contact"), "{plan}");
        assert!(
            !plan
                .lines()
                .any(|l| l.starts_with("SCAN m") || l.contains("SCAN messages")),
            "{plan}"
        );
    }

    // ---- Migration ----

    /// A store made by schema-1 code (Kith before unread counts), with:
    /// bob: ours delivered, theirs read, theirs unread, theirs unread then
    /// deleted, theirs unread (and redelivered); carol: theirs unread;
    /// dave: nothing. Password `v1-password`, fast KDF.
    const V1_STORE: &[u8] = include_bytes!("../tests/fixtures/v1.db");
    const V1_PW: &[u8] = b"v1-password";

    fn v1_store() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.db");
        std::fs::write(&path, V1_STORE).unwrap();
        (dir, path)
    }

    fn file_version(path: &Path) -> i64 {
        let conn = Connection::open(path).unwrap();
        schema::meta(&conn, key::SCHEMA_VERSION).unwrap()
    }

    #[test]
    fn opening_a_v1_store_migrates_it() {
        let (_dir, path) = v1_store();
        assert_eq!(file_version(&path), 1);
        // A wrong password migrates nothing.
        assert_eq!(kind(Store::open(&path, b"nope")), ErrorKind::WrongPassword);
        assert_eq!(std::fs::read(&path).unwrap(), V1_STORE);

        let mut store = Store::open(&path, V1_PW).unwrap();
        assert_eq!(store.profile().unwrap().display_name, "Alice v1");
        assert_eq!(store.setting("settings").unwrap().unwrap(), b"{\"v\":1}");
        check_summaries(&store);
        let all = store.contact_summaries().unwrap();
        let view: Vec<(&str, u64, Option<&str>)> = all
            .iter()
            .map(|s| {
                (
                    s.contact.alias.as_str(),
                    s.unread,
                    s.last.as_ref().map(|m| m.body.as_str()),
                )
            })
            .collect();
        assert_eq!(
            view,
            [
                ("bob", 2, Some("unread two")),
                ("carol", 1, Some("carol asks")),
                ("dave", 0, None)
            ]
        );
        let bob = all[0].contact.id;
        assert_eq!(store.messages(bob).unwrap().len(), 4);
        // Through schema 2 to 3: contacts we added, not verified.
        assert!(
            all.iter()
                .all(|s| s.contact.origin == ContactOrigin::Link && !s.contact.verified)
        );

        // It is a current store now: counts move, and it reopens without
        // migrating again.
        store
            .insert_incoming(bob, MessageId([9; 16]), "after", Timestamp(1), Timestamp(2))
            .unwrap();
        assert_eq!(store.unread_count(bob).unwrap(), 3);
        store.close().unwrap();
        assert_eq!(file_version(&path), SCHEMA_VERSION);
        let mut store = Store::open(&path, V1_PW).unwrap();
        assert_eq!(store.unread_count(bob).unwrap(), 3);
        store.mark_read(bob).unwrap();
        check_summaries(&store);
        store.change_password(V1_PW, b"new", fast()).unwrap();
        store.close().unwrap();
        assert_eq!(kind(Store::open(&path, V1_PW)), ErrorKind::WrongPassword);
        check_summaries(&Store::open(&path, b"new").unwrap());
    }

    #[test]
    fn a_failed_migration_leaves_the_v1_store() {
        // Damage that only the migration reads: a message's metadata.
        let (_dir, path) = v1_store();
        tamper(&path, |c| flip_byte(c, "messages", "meta", 1, 40));
        assert_eq!(kind(Store::open(&path, V1_PW)), ErrorKind::StoreCorrupt);
        assert_eq!(file_version(&path), 1);
        let conn = Connection::open(&path).unwrap();
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('contacts')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(!columns.iter().any(|c| c == "unread"), "{columns:?}");
    }

    /// A store made by schema-2 code (before provenance), with: bob (we
    /// added him by link, accepted, one message each way, his unread, last
    /// seen 20), carol (asked, pending, her message unread), dave (asked,
    /// accepted, his message read), erin (by link, blocked), frank and grace
    /// (stored "in person" and "introduced", which no schema-2 build made).
    /// Password `v2-password`, fast KDF.
    const V2_STORE: &[u8] = include_bytes!("../tests/fixtures/v2.db");
    const V2_PW: &[u8] = b"v2-password";

    fn v2_store() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.db");
        std::fs::write(&path, V2_STORE).unwrap();
        (dir, path)
    }

    #[test]
    fn opening_a_v2_store_migrates_it() {
        let (_dir, path) = v2_store();
        assert_eq!(file_version(&path), 2);
        assert_eq!(kind(Store::open(&path, b"nope")), ErrorKind::WrongPassword);
        assert_eq!(std::fs::read(&path).unwrap(), V2_STORE);

        let mut store = Store::open(&path, V2_PW).unwrap();
        assert_eq!(file_version(&path), SCHEMA_VERSION);
        assert_eq!(store.profile().unwrap().display_name, "Alice v2");
        assert_eq!(store.setting("settings").unwrap().unwrap(), b"{\"v\":2}");
        check_summaries(&store);
        let all = store.contact_summaries().unwrap();
        let view: Vec<_> = all
            .iter()
            .map(|s| {
                (
                    s.contact.alias.as_str(),
                    s.contact.state,
                    s.contact.origin,
                    s.contact.verified,
                    s.unread,
                    s.last.as_ref().map(|m| m.body.as_str()),
                )
            })
            .collect();
        use ContactOrigin::{Link, Request};
        use ContactState::{Accepted, Blocked, IncomingRequest, Outgoing};
        assert_eq!(
            view,
            [
                ("bob", Accepted, Link, false, 1, Some("bob unread")),
                (
                    "carol",
                    IncomingRequest,
                    Request,
                    false,
                    1,
                    Some("carol asks")
                ),
                ("dave", Accepted, Request, false, 0, Some("dave read")),
                ("erin", Blocked, Link, false, 0, None),
                ("frank", Outgoing, Link, false, 0, None),
                ("grace", Outgoing, Link, false, 0, None),
            ]
        );
        // Every other field came through.
        let bob = &all[0].contact;
        assert_eq!(bob.address, [1; 32]);
        assert_eq!(bob.tcp_hint.as_deref(), Some("127.0.0.1:9001"));
        assert_eq!(bob.their_name.as_deref(), Some("bob themselves"));
        assert_eq!(bob.added_at, Timestamp(1_700_000_000_001));
        assert_eq!(bob.last_seen, Some(Timestamp(20)));
        assert_eq!(
            store.contact_by_alias("dave").unwrap().unwrap().address,
            [3; 32]
        );
        assert_eq!(
            store.contact_by_address(&[2; 32]).unwrap().unwrap().alias,
            "carol"
        );
        let msgs = store.messages(bob.id).unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].state, MessageState::Delivered);

        // A current store: provenance changes persist, no second migration.
        let bob = bob.id;
        store
            .update_contact_with(bob, |c| {
                c.verified = true;
                Ok::<_, ()>(())
            })
            .unwrap()
            .unwrap();
        store.close().unwrap();
        let store = Store::open(&path, V2_PW).unwrap();
        assert!(store.contact(bob).unwrap().verified);
        check_summaries(&store);
    }

    #[test]
    fn a_failed_migration_leaves_the_v2_store() {
        // A damaged contact record: the migration stops, nothing is written.
        let (_dir, path) = v2_store();
        tamper(&path, |c| flip_byte(c, "contacts", "sealed", 3, 40));
        let before = std::fs::read(&path).unwrap();
        assert_eq!(kind(Store::open(&path, V2_PW)), ErrorKind::StoreCorrupt);
        assert_eq!(file_version(&path), 2);
        // Not a byte changed: the other contacts are still schema 2's.
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    /// A store made by schema-3 code (before conversations), with: bob
    /// (met in person, verified, accepted; ours delivered "to bob", his
    /// "bob read" read, his "bob unread", ours "to bob queued" not sent),
    /// carol (asked, her "carol asks" unread), dave (by link, no
    /// messages). Password `v3-password`, fast KDF.
    const V3_STORE: &[u8] = include_bytes!("../tests/fixtures/v3.db");
    const V3_PW: &[u8] = b"v3-password";

    #[test]
    fn opening_a_v3_store_migrates_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.db");
        std::fs::write(&path, V3_STORE).unwrap();
        assert_eq!(file_version(&path), 3);
        assert_eq!(kind(Store::open(&path, b"nope")), ErrorKind::WrongPassword);
        assert_eq!(std::fs::read(&path).unwrap(), V3_STORE);

        let mut store = Store::open(&path, V3_PW).unwrap();
        assert_eq!(file_version(&path), SCHEMA_VERSION);
        assert_eq!(store.profile().unwrap().display_name, "Alice v3");
        assert_eq!(store.setting("settings").unwrap().unwrap(), b"{\"v\":3}");
        check_summaries(&store);
        let all = store.contact_summaries().unwrap();
        let view: Vec<_> = all
            .iter()
            .map(|s| {
                (
                    s.contact.alias.as_str(),
                    s.contact.origin,
                    s.contact.verified,
                    s.unread,
                    s.last.as_ref().map(|m| m.body.as_str()),
                )
            })
            .collect();
        assert_eq!(
            view,
            [
                (
                    "bob",
                    ContactOrigin::MetInPerson,
                    true,
                    1,
                    Some("to bob queued")
                ),
                (
                    "carol",
                    ContactOrigin::Request,
                    false,
                    1,
                    Some("carol asks")
                ),
                ("dave", ContactOrigin::Link, false, 0, None),
            ]
        );
        let bob = all[0].contact.id;
        let msgs = store.messages(bob).unwrap();
        let got: Vec<_> = msgs
            .iter()
            .map(|m| (m.body.as_str(), m.direction, m.state, m.read))
            .collect();
        assert_eq!(
            got,
            [
                ("to bob", Direction::Out, MessageState::Delivered, true),
                ("bob read", Direction::In, MessageState::Received, true),
                ("bob unread", Direction::In, MessageState::Received, false),
                ("to bob queued", Direction::Out, MessageState::Queued, true),
            ]
        );
        // Every old message is text, without reply, timer or reactions.
        assert!(msgs.iter().all(|m| m.kind == MessageKind::Text
            && m.reply_to.is_none()
            && m.expires_at.is_none()
            && m.reactions.is_empty()));
        assert_eq!(msgs[1].sent_at, Timestamp(12));
        assert_eq!(msgs[0].delivered_at, Some(Timestamp(11)));
        assert_eq!(
            store.undelivered(bob).unwrap()[0].msg_id,
            MessageId([4; 16])
        );
        assert_eq!(
            store.conversation(bob).unwrap(),
            crate::ConversationSettings::default()
        );
        // A current store: the new features work and persist.
        store
            .set_disappear(
                bob,
                MessageId([9; 16]),
                kith_core::chat::DisappearTimer::OneDay,
                Timestamp(100),
            )
            .unwrap();
        store
            .react(
                bob,
                MessageId([8; 16]),
                MessageId([3; 16]),
                Some(&kith_core::chat::Emoji::new("👍").unwrap()),
            )
            .unwrap();
        assert!(store.delete_message(bob, MessageId([2; 16])).unwrap());
        store.close().unwrap();
        let store = Store::open(&path, V3_PW).unwrap();
        let msgs = store.messages(bob).unwrap();
        assert_eq!(msgs.len(), 4);
        assert_eq!(msgs[1].reactions.len(), 1);
        assert_eq!(
            store.quote(bob, MessageId([2; 16])).unwrap(),
            crate::Quote::Deleted
        );
        assert_eq!(
            store.conversation(bob).unwrap().disappear,
            kith_core::chat::DisappearTimer::OneDay
        );
        check_summaries(&store);
    }

    #[test]
    fn a_failed_migration_leaves_the_v3_store() {
        // A damaged message: the re-sealing stops, nothing is written.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.db");
        std::fs::write(&path, V3_STORE).unwrap();
        tamper(&path, |c| flip_byte(c, "messages", "meta", 2, 40));
        let before = std::fs::read(&path).unwrap();
        assert_eq!(kind(Store::open(&path, V3_PW)), ErrorKind::StoreCorrupt);
        assert_eq!(file_version(&path), 3);
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    /// A store made by schema-4 code (before edits), with bob (by link,
    /// accepted): ours "to bob" delivered, his "bob answers" (a reply to
    /// it) with our 👍, ours "to bob queued" not sent. Password
    /// `v4-password`, fast KDF.
    const V4_STORE: &[u8] = include_bytes!("../tests/fixtures/v4.db");
    const V4_PW: &[u8] = b"v4-password";

    #[test]
    fn opening_a_v4_store_migrates_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.db");
        std::fs::write(&path, V4_STORE).unwrap();
        assert_eq!(file_version(&path), 4);
        assert_eq!(kind(Store::open(&path, b"nope")), ErrorKind::WrongPassword);
        assert_eq!(std::fs::read(&path).unwrap(), V4_STORE);

        let mut store = Store::open(&path, V4_PW).unwrap();
        assert_eq!(file_version(&path), SCHEMA_VERSION);
        assert_eq!(store.profile().unwrap().display_name, "Alice v4");
        check_summaries(&store);
        let bob = store.contact_summaries().unwrap()[0].contact.id;
        let msgs = store.messages(bob).unwrap();
        let got: Vec<_> = msgs
            .iter()
            .map(|m| (m.body.as_str(), m.state, m.reply_to, m.reactions.len()))
            .collect();
        assert_eq!(
            got,
            [
                ("to bob", MessageState::Delivered, None, 0),
                (
                    "bob answers",
                    MessageState::Received,
                    Some(MessageId([1; 16])),
                    1
                ),
                ("to bob queued", MessageState::Queued, None, 0),
            ]
        );
        assert!(msgs.iter().all(|m| m.edited.is_none()));
        // Edits work and persist.
        store
            .edit(
                bob,
                MessageId([9; 16]),
                MessageId([1; 16]),
                "to bob, edited",
                Timestamp(100),
            )
            .unwrap();
        store.close().unwrap();
        let store = Store::open(&path, V4_PW).unwrap();
        let m = store.message(bob, MessageId([1; 16])).unwrap().unwrap();
        assert_eq!(m.body, "to bob, edited");
        assert_eq!(m.edited.map(|e| e.at), Some(Timestamp(100)));
        check_summaries(&store);
    }

    // ---- Tampering ----

    fn two_contacts_with_messages() -> (tempfile::TempDir, PathBuf, ContactId, ContactId) {
        let (dir, path, mut store) = setup();
        let bob = store.add_contact(&new_contact(1, "bob")).unwrap();
        let carol = store.add_contact(&new_contact(2, "carol")).unwrap();
        store
            .insert_outgoing(bob, MessageId([1; 16]), "to bob 1", Timestamp(1))
            .unwrap();
        store
            .insert_outgoing(bob, MessageId([2; 16]), "to bob 2", Timestamp(2))
            .unwrap();
        store
            .insert_outgoing(carol, MessageId([3; 16]), "to carol", Timestamp(3))
            .unwrap();
        store.set_setting("s", b"v").unwrap();
        store.close().unwrap();
        (dir, path, bob, carol)
    }

    fn flip_byte(conn: &Connection, table: &str, column: &str, id: i64, at: usize) {
        let sql = format!("SELECT {column} FROM {table} WHERE id = ?1");
        let mut b: Vec<u8> = conn.query_row(&sql, [id], |r| r.get(0)).unwrap();
        let at = at.min(b.len() - 1);
        b[at] ^= 0x20;
        let sql = format!("UPDATE {table} SET {column} = ?1 WHERE id = ?2");
        conn.execute(&sql, params![b, id]).unwrap();
    }

    fn swap(conn: &Connection, table: &str, column: &str, a: i64, b: i64) {
        let sql = format!("SELECT {column} FROM {table} WHERE id = ?1");
        let va: Vec<u8> = conn.query_row(&sql, [a], |r| r.get(0)).unwrap();
        let vb: Vec<u8> = conn.query_row(&sql, [b], |r| r.get(0)).unwrap();
        let sql = format!("UPDATE {table} SET {column} = ?1 WHERE id = ?2");
        // Through a placeholder, for UNIQUE columns.
        conn.execute(&sql, params![b"placeholder".to_vec(), a])
            .unwrap();
        conn.execute(&sql, params![va, b]).unwrap();
        conn.execute(&sql, params![vb, a]).unwrap();
    }

    #[test]
    fn flipped_byte_in_sealed_columns_is_corrupt() {
        for at in [0, 5, 30, 60, 10_000] {
            let (_dir, path, bob, _) = two_contacts_with_messages();
            tamper(&path, |c| flip_byte(c, "contacts", "sealed", bob.0, at));
            let store = Store::open(&path, PW).unwrap();
            assert_eq!(kind(store.contact(bob)), ErrorKind::StoreCorrupt);
            assert_eq!(kind(store.contacts()), ErrorKind::StoreCorrupt);
            assert_eq!(kind(store.contact_by_alias("bob")), ErrorKind::StoreCorrupt);

            let (_dir, path, bob, _) = two_contacts_with_messages();
            tamper(&path, |c| flip_byte(c, "messages", "body", 1, at));
            let store = Store::open(&path, PW).unwrap();
            assert!(matches!(store.messages(bob), Err(Error::Corrupt { .. })));

            let (_dir, path, bob, _) = two_contacts_with_messages();
            tamper(&path, |c| flip_byte(c, "messages", "meta", 2, at));
            let store = Store::open(&path, PW).unwrap();
            assert_eq!(kind(store.undelivered(bob)), ErrorKind::StoreCorrupt);
            // The newest message: the contact list reads it.
            assert_eq!(kind(store.contact_summaries()), ErrorKind::StoreCorrupt);
            assert_eq!(kind(store.last_message(bob)), ErrorKind::StoreCorrupt);

            let (_dir, path, bob, _) = two_contacts_with_messages();
            tamper(&path, |c| flip_byte(c, "contacts", "unread", bob.0, at));
            let mut store = Store::open(&path, PW).unwrap();
            assert_eq!(kind(store.unread_count(bob)), ErrorKind::StoreCorrupt);
            assert_eq!(kind(store.contact_summaries()), ErrorKind::StoreCorrupt);
            assert_eq!(kind(store.contact_summary(bob)), ErrorKind::StoreCorrupt);
            assert_eq!(kind(store.mark_read(bob)), ErrorKind::StoreCorrupt);
            assert_eq!(
                kind(store.insert_incoming(
                    bob,
                    MessageId([7; 16]),
                    "x",
                    Timestamp(1),
                    Timestamp(1)
                )),
                ErrorKind::StoreCorrupt
            );

            let (_dir, path, _, _) = two_contacts_with_messages();
            tamper(&path, |c| flip_byte(c, "settings", "sealed", 1, at));
            let store = Store::open(&path, PW).unwrap();
            assert_eq!(kind(store.setting("s")), ErrorKind::StoreCorrupt);

            let (_dir, path, _, _) = two_contacts_with_messages();
            tamper(&path, |c| flip_byte(c, "profile", "sealed", 1, at));
            assert!(matches!(Store::open(&path, PW), Err(Error::Corrupt { .. })));
        }
    }

    #[test]
    fn swapped_sealed_values_are_corrupt() {
        // Two contacts' records.
        let (_dir, path, bob, carol) = two_contacts_with_messages();
        tamper(&path, |c| swap(c, "contacts", "sealed", bob.0, carol.0));
        let store = Store::open(&path, PW).unwrap();
        assert_eq!(kind(store.contact(bob)), ErrorKind::StoreCorrupt);
        assert_eq!(kind(store.contact(carol)), ErrorKind::StoreCorrupt);

        // Two contacts' unread counts.
        let (_dir, path, bob, carol) = two_contacts_with_messages();
        tamper(&path, |c| swap(c, "contacts", "unread", bob.0, carol.0));
        let store = Store::open(&path, PW).unwrap();
        assert_eq!(kind(store.unread_count(bob)), ErrorKind::StoreCorrupt);
        assert_eq!(kind(store.unread_count(carol)), ErrorKind::StoreCorrupt);

        // A contact's record and its unread count.
        let (_dir, path, bob, _) = two_contacts_with_messages();
        tamper(&path, |c| {
            c.execute(
                "UPDATE contacts SET sealed = unread, unread = sealed WHERE id = ?1",
                [bob.0],
            )
            .unwrap();
        });
        let store = Store::open(&path, PW).unwrap();
        assert_eq!(kind(store.contact_summaries()), ErrorKind::StoreCorrupt);

        // Two messages of the same contact: bodies, then metadata.
        let (_dir, path, bob, _) = two_contacts_with_messages();
        tamper(&path, |c| swap(c, "messages", "body", 1, 2));
        let store = Store::open(&path, PW).unwrap();
        assert_eq!(kind(store.messages(bob)), ErrorKind::StoreCorrupt);
        let (_dir, path, bob, _) = two_contacts_with_messages();
        tamper(&path, |c| swap(c, "messages", "meta", 1, 2));
        let store = Store::open(&path, PW).unwrap();
        assert_eq!(kind(store.undelivered(bob)), ErrorKind::StoreCorrupt);

        // A message moved to another conversation.
        let (_dir, path, _, carol) = two_contacts_with_messages();
        tamper(&path, |c| {
            c.execute(
                "UPDATE messages SET contact_id = ?1 WHERE id = 1",
                [carol.0],
            )
            .unwrap();
        });
        let store = Store::open(&path, PW).unwrap();
        assert_eq!(kind(store.messages(carol)), ErrorKind::StoreCorrupt);

        // Body and metadata of one row swapped.
        let (_dir, path, bob, _) = two_contacts_with_messages();
        tamper(&path, |c| {
            c.execute(
                "UPDATE messages SET meta = body, body = meta WHERE id = 1",
                [],
            )
            .unwrap();
        });
        let store = Store::open(&path, PW).unwrap();
        assert_eq!(kind(store.messages(bob)), ErrorKind::StoreCorrupt);

        // Lookup hashes swapped: found rows are checked against the query.
        let (_dir, path, bob, carol) = two_contacts_with_messages();
        tamper(&path, |c| {
            swap(c, "contacts", "alias_hash", bob.0, carol.0);
            swap(c, "contacts", "address_hash", bob.0, carol.0);
            swap(c, "messages", "dedup_hash", 1, 2);
        });
        let mut store = Store::open(&path, PW).unwrap();
        assert_eq!(kind(store.contact_by_alias("bob")), ErrorKind::StoreCorrupt);
        assert_eq!(
            kind(store.contact_by_address(&[1; 32])),
            ErrorKind::StoreCorrupt
        );
        assert_eq!(
            kind(store.insert_incoming(bob, MessageId([1; 16]), "x", Timestamp(1), Timestamp(1))),
            ErrorKind::StoreCorrupt
        );
        assert_eq!(
            kind(store.set_message_state(
                bob,
                MessageId([2; 16]),
                MessageState::Sent,
                Timestamp(1)
            )),
            ErrorKind::StoreCorrupt
        );
    }

    #[test]
    fn damaged_files_are_corrupt_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let garbage: Vec<u8> = (0..8192_u32).map(|i| (i * 7 + 3) as u8).collect();
        let cases: [(&str, Vec<u8>); 3] = [
            ("garbage.db", garbage),
            ("empty.db", vec![]),
            ("text.db", b"SQLite format 3\0 but not really".to_vec()),
        ];
        for (name, bytes) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            let e = Store::open(&path, PW).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::StoreCorrupt, "{name}: {e:?}");
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name} changed");
        }

        // A real store, truncated.
        let (_d, path, _, _) = two_contacts_with_messages();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let r = Store::open(&path, PW).and_then(|s| s.contacts().map(|_| ()));
        // Truncation may spare the pages we read; it must never panic, and
        // when noticed it is corruption.
        if let Err(e) = r {
            assert_eq!(e.kind(), ErrorKind::StoreCorrupt, "{e:?}");
        }

        // A missing table.
        let (_d, path, _, _) = two_contacts_with_messages();
        tamper(&path, |c| c.execute_batch("DROP TABLE messages").unwrap());
        assert!(matches!(Store::open(&path, PW), Err(Error::Corrupt { .. })));

        // A missing meta entry.
        let (_d, path, _, _) = two_contacts_with_messages();
        tamper(&path, |c| {
            c.execute("DELETE FROM meta WHERE key = ?1", [key::SALT])
                .unwrap();
        });
        assert!(matches!(Store::open(&path, PW), Err(Error::Corrupt { .. })));

        // A damaged key wrap reads as damage, not as a wrong password.
        let (_d, path, _, _) = two_contacts_with_messages();
        tamper(&path, |c| {
            let mut w: Vec<u8> = c
                .query_row(
                    "SELECT value FROM meta WHERE key = ?1",
                    [key::WRAPPED_KEY],
                    |r| r.get(0),
                )
                .unwrap();
            w[10] ^= 1;
            c.execute(
                "UPDATE meta SET value = ?1 WHERE key = ?2",
                params![w, key::WRAPPED_KEY],
            )
            .unwrap();
        });
        assert!(matches!(Store::open(&path, PW), Err(Error::Corrupt { .. })));

        // Weakened KDF parameters are caught (checksum, and the wrap's AD).
        let (_d, path, _, _) = two_contacts_with_messages();
        tamper(&path, |c| {
            c.execute(
                "UPDATE meta SET value = 16 WHERE key = ?1",
                [key::KDF_MEMORY_KIB],
            )
            .unwrap();
        });
        assert!(Store::open(&path, PW).is_err());

        // Absurd KDF parameters are refused before running Argon2.
        let (_d, path, _, _) = two_contacts_with_messages();
        tamper(&path, |c| {
            c.execute(
                "UPDATE meta SET value = 4000000000 WHERE key = ?1",
                [key::KDF_MEMORY_KIB],
            )
            .unwrap();
        });
        assert!(matches!(Store::open(&path, PW), Err(Error::Corrupt { .. })));

        // A wrong type where a blob belongs.
        let (_d, path, bob, _) = two_contacts_with_messages();
        tamper(&path, |c| {
            c.execute("UPDATE contacts SET sealed = 5 WHERE id = ?1", [bob.0])
                .unwrap();
        });
        let store = Store::open(&path, PW).unwrap();
        assert_eq!(kind(store.contact(bob)), ErrorKind::StoreCorrupt);
    }

    #[test]
    fn unknown_schema_version_is_typed() {
        let (_d, path, _, _) = two_contacts_with_messages();
        tamper(&path, |c| {
            c.execute(
                "UPDATE meta SET value = ?1 WHERE key = ?2",
                params![SCHEMA_VERSION + 1, key::SCHEMA_VERSION],
            )
            .unwrap();
        });
        assert!(matches!(
            Store::open(&path, PW),
            Err(Error::UnsupportedVersion {
                found,
                supported: SCHEMA_VERSION
            }) if found == SCHEMA_VERSION + 1
        ));
        let (_d, path, _, _) = two_contacts_with_messages();
        tamper(&path, |c| {
            c.execute(
                "UPDATE meta SET value = 0 WHERE key = ?1",
                [key::SCHEMA_VERSION],
            )
            .unwrap();
        });
        assert!(matches!(
            Store::open(&path, PW),
            Err(Error::UnsupportedVersion { found: 0, .. })
        ));
        // A current store relabelled as an older version does not pass for
        // an old one: the version is bound into the key wrap.
        for old in 1..SCHEMA_VERSION {
            let (_d, path, _, _) = two_contacts_with_messages();
            tamper(&path, |c| {
                c.execute(
                    "UPDATE meta SET value = ?1 WHERE key = ?2",
                    params![old, key::SCHEMA_VERSION],
                )
                .unwrap();
            });
            assert_eq!(kind(Store::open(&path, PW)), ErrorKind::StoreCorrupt);
        }
    }

    // ---- What is on disk ----

    #[test]
    fn nothing_readable_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.db");
        let seed = [0x5A_u8; 32];
        let me = Store::create(
            &path,
            b"hunter2-password",
            fast(),
            &NewProfile {
                display_name: "ZebraDisplayName".into(),
                identity_seed: Zeroizing::new(seed),
                created_at: Timestamp(1_234_567_890_123),
            },
        );
        let mut store = me.unwrap();
        let peer = kith_core::IdentityKeypair::from_seed(&[9; 32]);
        let addr = peer.public().to_bytes();
        let onion = peer.address().to_base32();
        let bob = store
            .add_contact(&NewContact {
                address: addr,
                alias: "QuokkaAlias".into(),
                state: ContactState::Accepted,
                origin: ContactOrigin::MetInPerson,
                verified: true,
                tcp_hint: Some("192.168.77.66:4242".into()),
                their_name: Some("NarwhalTheirName".into()),
                added_at: Timestamp(1_234_567_890_124),
            })
            .unwrap();
        store
            .insert_outgoing(
                bob,
                MessageId(*b"MsgIdMsgIdMsgId!"),
                "AxolotlMessageBody meet at the library",
                Timestamp(1_234_567_890_125),
            )
            .unwrap();
        store
            .insert_incoming(
                bob,
                MessageId([0xEE; 16]),
                "PangolinDeletedBody burn after reading",
                Timestamp(1_234_567_890_126),
                Timestamp(1_234_567_890_127),
            )
            .unwrap();
        store
            .set_setting("OcelotSettingKey", b"OcelotSettingValue")
            .unwrap();

        let mut needles: Vec<(String, Vec<u8>)> = vec![];
        for s in [
            "ZebraDisplayName",
            "QuokkaAlias",
            "NarwhalTheirName",
            "AxolotlMessageBody",
            "meet at the library",
            "PangolinDeletedBody",
            "burn after reading",
            "OcelotSettingKey",
            "OcelotSettingValue",
            "192.168.77.66",
            "hunter2-password",
            "MsgIdMsgIdMsgId!",
        ] {
            needles.push((s.into(), s.as_bytes().to_vec()));
        }
        for (name, enc) in [
            ("address hex", hex::encode(addr)),
            ("address HEX", hex::encode_upper(addr)),
            ("address base32", data_encoding::BASE32_NOPAD.encode(&addr)),
            (
                "address base32 lower",
                data_encoding::BASE32_NOPAD.encode(&addr).to_lowercase(),
            ),
            ("onion", onion.clone()),
            ("onion upper", onion.to_uppercase()),
        ] {
            // A long prefix is enough to spot it.
            needles.push((name.into(), enc.as_bytes()[..24].to_vec()));
        }
        needles.push(("address raw".into(), addr[..12].to_vec()));
        needles.push(("seed raw".into(), seed[..12].to_vec()));
        needles.push(("msg id raw".into(), vec![0xEE; 12]));
        for t in [1_234_567_890_125_u64, 1_234_567_890_126, 1_234_567_890_127] {
            needles.push(("timestamp be".into(), t.to_be_bytes()[2..].to_vec()));
            needles.push(("timestamp le".into(), t.to_le_bytes()[..6].to_vec()));
        }

        let check = |when: &str| {
            for (file, bytes) in disk_bytes(&path) {
                for (name, needle) in &needles {
                    assert!(
                        !contains(&bytes, needle),
                        "{name} readable in {file} {when}"
                    );
                }
            }
        };
        check("while open");

        // The sealed blobs of the message about to be deleted.
        let (sealed_body, sealed_meta): (Vec<u8>, Vec<u8>) = store
            .conn
            .query_row("SELECT body, meta FROM messages WHERE id = 2", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        let old_profile: Vec<u8> = store
            .conn
            .query_row("SELECT sealed FROM profile", [], |r| r.get(0))
            .unwrap();
        assert!(store.delete_message(bob, MessageId([0xEE; 16])).unwrap());
        store.set_display_name("Renamed").unwrap();
        let gone = [
            ("deleted body ciphertext", &sealed_body),
            ("deleted meta ciphertext", &sealed_meta),
            ("replaced profile ciphertext", &old_profile),
        ];
        let check_gone = |when: &str| {
            for (file, bytes) in disk_bytes(&path) {
                for (name, blob) in gone {
                    assert!(
                        !contains(&bytes, &blob[1..33]),
                        "{name} still in {file} {when}"
                    );
                }
            }
        };
        check_gone("while open");
        store.close().unwrap();
        check("after close");
        check_gone("after close");
        assert!(!disk_bytes(&path).is_empty());

        // It all still reads back.
        let store = Store::open(&path, b"hunter2-password").unwrap();
        let ms = store.messages(bob).unwrap();
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].body, "AxolotlMessageBody meet at the library");
        assert_eq!(store.contact(bob).unwrap().address, addr);
    }

    #[test]
    fn sizes_are_padded() {
        let (_dir, _path, mut store) = setup();
        let bob = store.add_contact(&new_contact(1, "bob")).unwrap();
        store
            .insert_outgoing(bob, MessageId([1; 16]), "hi", Timestamp(1))
            .unwrap();
        store
            .insert_outgoing(bob, MessageId([2; 16]), &"a".repeat(50), Timestamp(1))
            .unwrap();
        let lens: Vec<i64> = store
            .conn
            .prepare("SELECT length(body) FROM messages")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(lens[0], lens[1]);
    }
}
