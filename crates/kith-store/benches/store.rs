//! What the store costs, against plain SQLite in the same run:
//!
//! - messages inserted per second, sealed, one transaction each, as the
//!   node stores them (`insert_outgoing`, `insert_incoming_chat`), against
//!   plain rusqlite inserts of rows of the same sizes (read back from the
//!   store's file) into the same tables and indexes, same pragmas
//!   (`synchronous = FULL`, WAL, `secure_delete`), one transaction each;
//! - a profile of 1 000 contacts and 100 000 messages (one conversation of
//!   10 000): unlock (the fast test KDF; the real Argon2id cost measured
//!   apart), `contact_summaries`, and `messages` of the long conversation.
//!
//! The fixture is built once per run through the store's API, on
//! `/dev/shm` when there is one (a transaction's fsync costs nothing
//! there), then copied to a temporary directory on disk, where everything
//! is measured. Prints Markdown tables (`docs/performance.md`, "Store"):
//!
//! ```sh
//! cargo bench -p kith-store --bench store
//! ```

#![allow(clippy::print_stdout, missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

use kith_core::chat::{Chat, DisappearTimer};
use kith_store::{
    ContactId, ContactOrigin, ContactState, KdfParams, MessageId, NewContact, NewProfile, Store,
    Timestamp,
};
use rusqlite::{Connection, TransactionBehavior, params};
use zeroize::Zeroizing;

const PASSWORD: &[u8] = b"correct horse battery staple";
/// Messages per measurement of inserts.
const INSERTS: u32 = 400;
const CONTACTS: u32 = 1_000;
const MESSAGES: u32 = 100_000;
const LONG: u32 = 10_000;
const RUNS: u32 = 5;
/// Rounds of inserts, Kith and plain alternating.
const ROUNDS_INSERT: u32 = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn profile() -> NewProfile {
    NewProfile {
        display_name: "bench".into(),
        identity_seed: Zeroizing::new([7; 32]),
        created_at: Timestamp(0),
    }
}

fn new_contact(n: u32) -> NewContact {
    let mut address = [0_u8; 32];
    address[..4].copy_from_slice(&n.to_be_bytes());
    NewContact {
        address,
        alias: format!("contact {n}"),
        state: ContactState::Accepted,
        origin: ContactOrigin::Link,
        verified: false,
        tcp_hint: None,
        their_name: None,
        added_at: Timestamp(0),
    }
}

fn msg_id(n: u32) -> MessageId {
    let mut id = [0_u8; 16];
    id[..4].copy_from_slice(&n.to_be_bytes());
    MessageId(id)
}

/// A body of `len` bytes (ASCII text).
fn body(len: usize, n: u32) -> String {
    let line = format!("message {n}: the quick brown fox jumps over the lazy dog. ");
    line.chars().cycle().take(len).collect()
}

/// Message `n` of the fixture: ours when even, theirs when odd.
fn insert(store: &mut Store, c: ContactId, n: u32, len: usize) -> kith_store::Result<()> {
    let t = Timestamp(1_700_000_000_000 + u64::from(n));
    let text = body(len, n);
    if n.is_multiple_of(2) {
        store.insert_outgoing(c, msg_id(n), &text, t)?;
    } else {
        let chat = Chat {
            id: msg_id(n),
            sent_at: t,
            body: text,
            reply_to: None,
            disappear: DisappearTimer::Off,
        };
        store.insert_incoming_chat(c, &chat, t, t)?;
    }
    Ok(())
}

/// The pragmas of `Store` (its `configure`).
fn configure(conn: &Connection) -> Res<()> {
    conn.execute_batch(
        "PRAGMA secure_delete = ON;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA synchronous = FULL;
         PRAGMA journal_size_limit = 0;",
    )?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    assert_eq!(mode, "wal");
    Ok(())
}

/// Sizes of the sealed cells of the store's messages, averaged.
fn cell_sizes(path: &Path) -> Res<(usize, usize, usize)> {
    let conn = Connection::open(path)?;
    let (h, m, b): (f64, f64, f64) = conn.query_row(
        "SELECT avg(length(dedup_hash)), avg(length(meta)), avg(length(body)) FROM messages",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok((h.round() as usize, m.round() as usize, b.round() as usize))
}

/// Messages per second through the store, one transaction each.
fn kith_inserts(dir: &Path, len: usize, round: u32) -> Res<(f64, (usize, usize, usize))> {
    let path = dir.join(format!("kith-{len}-{round}.db"));
    let mut store = Store::create(
        &path,
        PASSWORD,
        KdfParams::dangerously_fast_for_testing_only(),
        &profile(),
    )?;
    let c = store.add_contact(&new_contact(0))?;
    let start = Instant::now();
    for n in 0..INSERTS {
        insert(&mut store, c, n, len)?;
    }
    let rate = f64::from(INSERTS) / start.elapsed().as_secs_f64();
    store.close()?;
    Ok((rate, cell_sizes(&path)?))
}

/// Rows of the same sizes into the same tables, one transaction each.
fn plain_inserts(dir: &Path, len: usize, round: u32, (h, m, b): (usize, usize, usize)) -> Res<f64> {
    let path = dir.join(format!("plain-{len}-{round}.db"));
    let mut conn = Connection::open(&path)?;
    configure(&conn)?;
    conn.execute_batch(
        "CREATE TABLE contacts (
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
        INSERT INTO contacts VALUES (1, x'01', x'02', x'03', x'04');",
    )?;
    let fill = |len: usize, n: u32| -> Vec<u8> {
        (0..len)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).wrapping_add(n) as u8)
            .collect()
    };
    let start = Instant::now();
    for n in 0..INSERTS {
        let mut hash = fill(h, n);
        hash[..4].copy_from_slice(&n.to_be_bytes());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO messages (contact_id, dedup_hash, meta, body) VALUES (1, ?1, ?2, ?3)",
            params![hash, fill(m, n), fill(b, n)],
        )?;
        tx.commit()?;
    }
    Ok(f64::from(INSERTS) / start.elapsed().as_secs_f64())
}

fn mean(runs: u32, mut f: impl FnMut() -> Res<()>) -> Res<Duration> {
    let start = Instant::now();
    for _ in 0..runs {
        f()?;
    }
    Ok(start.elapsed() / runs)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn copy_store(from: &Path, to: &Path) -> Res<()> {
    std::fs::copy(from, to)?;
    Ok(())
}

fn main() -> Res<()> {
    let disk = tempfile::tempdir()?;
    let shm = Path::new("/dev/shm");
    let memory = if shm.is_dir() {
        Some(tempfile::tempdir_in(shm)?)
    } else {
        None
    };
    println!(
        "## Inserts: one message per transaction, median of {ROUNDS_INSERT} alternating rounds of {INSERTS}"
    );
    println!();
    println!(
        "| file on | body | sealed cells (hash, meta, body) | Kith msgs/s | plain SQLite rows/s | Kith / plain time |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let places = [
        Some(("disk", disk.path())),
        memory
            .as_ref()
            .map(|d| ("/dev/shm (no fsync cost)", d.path())),
    ];
    for (place, dir) in places.into_iter().flatten() {
        for len in [100_usize, 1_000] {
            let (mut kith, mut plain) = (vec![], vec![]);
            let mut sizes = (0, 0, 0);
            for round in 0..ROUNDS_INSERT {
                let (k, s) = kith_inserts(dir, len, round)?;
                sizes = s;
                kith.push(k);
                plain.push(plain_inserts(dir, len, round, sizes)?);
            }
            let (kith, plain) = (median(kith), median(plain));
            println!(
                "| {place} | {len} B | {} + {} + {} B | {kith:.0} | {plain:.0} | {:.2}× |",
                sizes.0,
                sizes.1,
                sizes.2,
                plain / kith
            );
        }
    }
    println!();

    // The fixture: contact 0 holds the long conversation, the others share
    // the rest; messages interleaved across contacts as they would arrive.
    let build_dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)?
    } else {
        tempfile::tempdir()?
    };
    let built = build_dir.path().join("fixture.db");
    let start = Instant::now();
    let mut store = Store::create(
        &built,
        PASSWORD,
        KdfParams::dangerously_fast_for_testing_only(),
        &profile(),
    )?;
    let ids: Vec<ContactId> = (0..CONTACTS)
        .map(|n| store.add_contact(&new_contact(n)))
        .collect::<kith_store::Result<_>>()?;
    let rest = MESSAGES - LONG;
    for n in 0..MESSAGES {
        // Every tenth message goes to contact 0, the others round-robin.
        let c = if n.is_multiple_of(10) {
            ids[0]
        } else {
            ids[1 + (n as usize % (CONTACTS as usize - 1))]
        };
        // Bodies of 20 to 300 bytes.
        let len = 20 + (n as usize * 37) % 281;
        insert(&mut store, c, n, len)?;
    }
    store.close()?;
    let size = std::fs::metadata(&built)?.len();
    println!(
        "fixture: {CONTACTS} contacts, {MESSAGES} messages ({LONG} with contact 0, {rest} with the others), \
         built in {:.1} s on {}, {:.1} MB",
        start.elapsed().as_secs_f64(),
        build_dir
            .path()
            .parent()
            .map_or("?".into(), |p| p.display().to_string()),
        size as f64 / 1e6
    );
    let path = disk.path().join("profile.db");
    copy_store(&built, &path)?;
    drop(build_dir);

    let mut open_times = vec![];
    for _ in 0..RUNS {
        let start = Instant::now();
        let store = Store::open(&path, PASSWORD)?;
        open_times.push(start.elapsed());
        store.close()?;
    }
    open_times.sort_unstable();
    let store = Store::open(&path, PASSWORD)?;
    let first = Instant::now();
    let summaries = store.contact_summaries()?;
    let first = first.elapsed();
    assert_eq!(summaries.len(), CONTACTS as usize);
    assert!(summaries.iter().all(|s| s.last.is_some()));
    let list = mean(RUNS, || {
        store.contact_summaries().map(drop).map_err(Into::into)
    })?;
    let convo = mean(RUNS, || {
        let ms = store.messages(ids[0])?;
        assert_eq!(ms.len(), LONG as usize);
        Ok(())
    })?;
    let short = mean(RUNS, || {
        store.messages(ids[1]).map(drop).map_err(Into::into)
    })?;
    store.close()?;

    // The real KDF: the same profile re-wrapped under the default
    // parameters, unlocked once.
    let real = disk.path().join("real.db");
    copy_store(&path, &real)?;
    let mut store = Store::open(&real, PASSWORD)?;
    store.change_password(PASSWORD, PASSWORD, KdfParams::default())?;
    store.close()?;
    let start = Instant::now();
    let store = Store::open(&real, PASSWORD)?;
    let real_open = start.elapsed();
    drop(store);

    println!();
    println!(
        "## A profile of {CONTACTS} contacts and {MESSAGES} messages, on disk (page cache warm)"
    );
    println!();
    println!("| operation | time |");
    println!("|---|---:|");
    println!(
        "| unlock, fast test KDF (`Store::open`, median of {RUNS}) | {} |",
        ms(open_times[open_times.len() / 2])
    );
    println!(
        "| unlock, default Argon2id {:?} (once) | {} |",
        KdfParams::default(),
        ms(real_open)
    );
    println!(
        "| `contact_summaries`, first call after unlock | {} |",
        ms(first)
    );
    println!("| `contact_summaries` (mean of {RUNS}) | {} |", ms(list));
    println!(
        "| `messages` of the {LONG}-message conversation (mean of {RUNS}) | {} |",
        ms(convo)
    );
    println!(
        "| `messages` of a {}-message conversation (mean of {RUNS}) | {} |",
        rest / (CONTACTS - 1),
        ms(short)
    );
    Ok(())
}
