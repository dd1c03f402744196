//! The database layout and its version.

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result, db};

/// The schema this build writes, stored in `meta.schema_version`.
///
/// Bound into the key wrap, so it cannot be changed without the password.
///
/// | version | change |
/// | --- | --- |
/// | 1 | first release |
/// | 2 | `contacts.unread`: each contact's unread count, sealed |
/// | 3 | `contacts.sealed` holds the provenance: origin (with the introducer's key) and `verified` |
/// | 4 | conversations: `messages.meta` gains kind (text, timer line, file, tombstone), `reply_to`, timer and deadline; tables `conversations`, `reactions`, `expiries`, `files`, `file_chunks` |
/// | 5 | table `edits`: the edit in force of an edited message |
/// | 6 | private groups: tables `groups`, `group_invitations`, `group_members`, `group_authors`, `group_messages`, `group_expiries` |
pub(crate) const SCHEMA_VERSION: i64 = 6;

/// The oldest schema [`crate::Store::open`] still opens; it migrates such a
/// store to [`SCHEMA_VERSION`] once unlocked.
pub(crate) const OLDEST_READABLE: i64 = 1;

/// Tables a store of any readable version must have (besides SQLite's own
/// `sqlite_sequence`).
pub(crate) const TABLES: &[&str] = &["meta", "profile", "settings", "contacts", "messages"];

/// Tables added by schema 4 (made by [`MIGRATE_3_TO_4`] in older stores).
pub(crate) const TABLES_V4: &[&str] = &[
    "conversations",
    "reactions",
    "expiries",
    "files",
    "file_chunks",
];

/// Created once, in the same transaction as the meta entries and the profile.
///
/// Every table with rows that others reference by id uses AUTOINCREMENT so
/// ids are never reused: a sealed value bound to a deleted row's id cannot be
/// planted into a later row.
pub(crate) const CREATE: &str = "
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value NOT NULL
);
CREATE TABLE profile (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BLOB NOT NULL
);
CREATE TABLE settings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash BLOB NOT NULL UNIQUE,
    sealed BLOB NOT NULL
);
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    address_hash BLOB NOT NULL UNIQUE,
    alias_hash BLOB NOT NULL UNIQUE,
    sealed BLOB NOT NULL,
    unread BLOB NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    dedup_hash BLOB NOT NULL UNIQUE,
    meta BLOB NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX messages_by_contact ON messages(contact_id, id);
";

/// Schema 4's tables, made at create and by the migration from 3.
///
/// - `conversations`: one row per contact with settings (its id is the
///   contact's), sealed [`crate::ConversationSettings`]; none means the
///   defaults.
/// - `reactions`: at most one per message and side; `message_id` (the
///   target's row) in clear so that deleting a message deletes its
///   reactions; `slot_hash` (keyed, of the target row and side) keeps it
///   one per side, `id_hash` (keyed, of contact, side, reaction id) finds
///   ours when it is acknowledged.
/// - `expiries`: one row per message with a disappearing deadline (its id
///   is the message's row id), the deadline sealed: the expiry query opens
///   these rows only, not the whole history.
/// - `files`: one row per file message (its id is the message's row id),
///   the transfer state sealed.
/// - `file_chunks`: the data, one sealed chunk per row, never one blob per
///   file; the index is in clear (and sealed, and checked).
pub(crate) const CREATE_V4: &str = "
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY REFERENCES contacts(id),
    sealed BLOB NOT NULL
);
CREATE TABLE reactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL REFERENCES messages(id),
    slot_hash BLOB NOT NULL UNIQUE,
    id_hash BLOB NOT NULL UNIQUE,
    sealed BLOB NOT NULL
);
CREATE INDEX reactions_by_message ON reactions(message_id);
CREATE TABLE expiries (
    id INTEGER PRIMARY KEY REFERENCES messages(id),
    sealed BLOB NOT NULL
);
CREATE TABLE files (
    id INTEGER PRIMARY KEY REFERENCES messages(id),
    sealed BLOB NOT NULL
);
CREATE TABLE file_chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL REFERENCES files(id),
    idx INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (file_id, idx)
);
";

/// Schema 5's table, made at create and by the migration from 4.
///
/// - `edits`: one row per edited message (its id is the message's row id):
///   the edit in force, sealed (its id, time, author's side, whether the
///   contact acknowledged ours); the edited text is the message's body.
///   `id_hash` (keyed, of contact, side and edit id) finds ours when it is
///   acknowledged.
pub(crate) const CREATE_V5: &str = "
CREATE TABLE edits (
    id INTEGER PRIMARY KEY REFERENCES messages(id),
    id_hash BLOB NOT NULL UNIQUE,
    sealed BLOB NOT NULL
);
";

/// Tables added by schema 6 (made by [`CREATE_V6`] in older stores).
pub(crate) const TABLES_V6: &[&str] = &[
    "groups",
    "group_invitations",
    "group_members",
    "group_authors",
    "group_messages",
    "group_expiries",
];

/// Schema 6's tables (private groups, `crate::groups`), made at create and
/// by the migration from 5. Group ids, message ids, members' and authors'
/// keys and names are never in clear: `*_hash` columns are keyed hashes
/// (domains `group-id`, `group-name`, `group-invitation`,
/// `group-invitation-group`, `group-member`, `group-author`,
/// `group-message`); the group's row id is in clear in the rows hanging off
/// it, as a contact's is in its messages.
///
/// - `groups`: one row per group we hold; `sealed` the group (id, name,
///   description, creator, our state, timer, history policy), `counts`
///   its unread posts, message rows and bytes (kept up to date).
/// - `group_invitations`: invitations waiting for our answer, by contact
///   (the contact id in clear, to bound them per contact); `slot_hash` of
///   (contact, group) keeps one per pair, `group_hash` finds them all when
///   we join.
/// - `group_members`: one row per member; `key_hash` of (group row, key).
/// - `group_authors`: each author's messages and bytes in the group, for
///   the caps; `key_hash` of (group row, key).
/// - `group_messages`: `meta` (id, author, seq, time, parent, state, read,
///   deadline, deletion), `encoded` (the signed message as received, empty
///   for a tombstone); `dedup_hash` of (group row, message id).
/// - `group_expiries`: a post's deadline (its id is the message's row id).
pub(crate) const CREATE_V6: &str = "
CREATE TABLE groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    id_hash BLOB NOT NULL UNIQUE,
    name_hash BLOB NOT NULL,
    sealed BLOB NOT NULL,
    counts BLOB NOT NULL
);
CREATE INDEX groups_by_name ON groups(name_hash);
CREATE TABLE group_invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    slot_hash BLOB NOT NULL UNIQUE,
    group_hash BLOB NOT NULL,
    sealed BLOB NOT NULL
);
CREATE INDEX group_invitations_by_contact ON group_invitations(contact_id);
CREATE INDEX group_invitations_by_group ON group_invitations(group_hash);
CREATE TABLE group_members (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL REFERENCES groups(id),
    key_hash BLOB NOT NULL UNIQUE,
    sealed BLOB NOT NULL
);
CREATE INDEX group_members_by_group ON group_members(group_id, id);
CREATE TABLE group_authors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL REFERENCES groups(id),
    key_hash BLOB NOT NULL UNIQUE,
    sealed BLOB NOT NULL
);
CREATE INDEX group_authors_by_group ON group_authors(group_id);
CREATE TABLE group_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL REFERENCES groups(id),
    dedup_hash BLOB NOT NULL UNIQUE,
    meta BLOB NOT NULL,
    encoded BLOB NOT NULL
);
CREATE INDEX group_messages_by_group ON group_messages(group_id, id);
CREATE TABLE group_expiries (
    id INTEGER PRIMARY KEY REFERENCES group_messages(id),
    sealed BLOB NOT NULL
);
";

/// From schema 1 to 2, in the migration's transaction: the column, which the
/// migration then fills with each contact's sealed count. (An empty blob
/// left behind would fail to open: `StoreCorrupt`, never a wrong count.)
pub(crate) const MIGRATE_1_TO_2: &str = "
ALTER TABLE contacts ADD COLUMN unread BLOB NOT NULL DEFAULT x'';
";

/// Meta keys.
pub(crate) mod key {
    pub(crate) const SCHEMA_VERSION: &str = "schema_version";
    pub(crate) const KDF_MEMORY_KIB: &str = "kdf_argon2id_m_kib";
    pub(crate) const KDF_ITERATIONS: &str = "kdf_argon2id_t";
    pub(crate) const KDF_PARALLELISM: &str = "kdf_argon2id_p";
    pub(crate) const SALT: &str = "kdf_salt";
    pub(crate) const WRAPPED_KEY: &str = "wrapped_data_key";
    pub(crate) const WRAP_CHECKSUM: &str = "wrap_checksum";
}

/// Check that the file is an SQLite database holding every table we need.
///
/// This is the first read of a file being opened: "not a database" and
/// friends come out here as [`Error::Corrupt`].
pub(crate) fn check_tables(conn: &Connection) -> Result<()> {
    let not_db = |_| Error::Corrupt {
        what: "not a Kith store (unreadable database file)",
    };
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .map_err(not_db)?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(not_db)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(not_db)?;
    for t in TABLES.iter().chain(&["sqlite_sequence"]) {
        if !names.iter().any(|n| n == t) {
            return Err(Error::Corrupt {
                what: "missing table",
            });
        }
    }
    Ok(())
}

/// One meta value, which must be present.
pub(crate) fn meta<T: rusqlite::types::FromSql>(conn: &Connection, k: &'static str) -> Result<T> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
        .optional()
        .map_err(|_| Error::Corrupt { what: "meta entry" })?
        .ok_or(Error::Corrupt {
            what: "missing meta entry",
        })
}

/// Insert or replace one meta value.
pub(crate) fn set_meta<T: rusqlite::ToSql>(conn: &Connection, k: &str, v: T) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        rusqlite::params![k, v],
    )
    .map_err(db("writing meta"))?;
    Ok(())
}

/// The id the next row of `table` (an AUTOINCREMENT table) gets.
///
/// Sealed values bind their row id, so it must be known before the insert.
/// The store's single connection is the only writer, and callers hold a
/// write transaction.
pub(crate) fn next_id(conn: &Connection, table: &'static str) -> Result<i64> {
    debug_assert!(
        TABLES.contains(&table) || TABLES_V4.contains(&table) || TABLES_V6.contains(&table)
    );
    let sql = format!(
        "SELECT MAX(
            COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0),
            COALESCE((SELECT MAX(id) FROM {table}), 0)
         ) + 1"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_row([table], |r| r.get(0)))
        .map_err(db("allocating a row id"))
}
