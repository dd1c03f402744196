//! How the store's reads grow with the history (issue 12 § 2, the plot of
//! `docs/performance.md` "Store: scaling with history").
//!
//! One profile of 100 contacts grows through the store's API (one
//! transaction per message; every tenth message with contact 0, the rest
//! round-robin over the others; bodies of 20–300 bytes, half ours, half
//! theirs) to 1k, 3k, 10k, 30k and 100k messages. At each size the file is
//! copied to disk (it is built on `/dev/shm` when there is one) and measured
//! there, page cache warm:
//!
//! - unlock with the fast test KDF (`Store::open`, median of 5);
//! - `contact_summaries` (mean of 5);
//! - `messages` of contact 0 (a tenth of the history; mean of 5), against
//!   the baseline: plain rusqlite reading the same rows' stored bytes (the
//!   sealed metadata and body, by the same index) with no decryption.
//!
//! ```sh
//! cargo bench -p kith-store --bench store_scaling
//! ```
//!
//! `KITH_BENCH_CSV=FILE` also writes the figures as CSV (for the plot).

#![allow(clippy::print_stdout, missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

use kith_core::chat::{Chat, DisappearTimer};
use kith_store::{
    ContactId, ContactOrigin, ContactState, KdfParams, MessageId, NewContact, NewProfile, Store,
    Timestamp,
};
use rusqlite::Connection;
use zeroize::Zeroizing;

const PASSWORD: &[u8] = b"correct horse battery staple";
const CONTACTS: u32 = 100;
const SIZES: [u32; 5] = [1_000, 3_000, 10_000, 30_000, 100_000];
const RUNS: u32 = 5;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

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

/// Message `n`: ours when even, theirs when odd; 20 to 300 bytes.
fn insert(store: &mut Store, c: ContactId, n: u32) -> kith_store::Result<()> {
    let t = Timestamp(1_700_000_000_000 + u64::from(n));
    let len = 20 + (n as usize * 37) % 281;
    let line = format!("message {n}: the quick brown fox jumps over the lazy dog. ");
    let text: String = line.chars().cycle().take(len).collect();
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

fn mean(mut f: impl FnMut() -> Res<()>) -> Res<Duration> {
    let start = Instant::now();
    for _ in 0..RUNS {
        f()?;
    }
    Ok(start.elapsed() / RUNS)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The baseline: the same rows' stored bytes, by the same index, no
/// decryption. Returns how many rows and bytes it read.
fn plain_read(conn: &Connection, contact: i64) -> Res<(usize, usize)> {
    let mut stmt =
        conn.prepare_cached("SELECT meta, body FROM messages WHERE contact_id = ?1 ORDER BY id")?;
    let mut rows = stmt.query([contact])?;
    let (mut n, mut bytes) = (0, 0);
    while let Some(r) = rows.next()? {
        let meta: Vec<u8> = r.get(0)?;
        let body: Vec<u8> = r.get(1)?;
        n += 1;
        bytes += meta.len() + body.len();
    }
    Ok((n, bytes))
}

fn main() -> Res<()> {
    let disk = tempfile::tempdir()?;
    let shm = Path::new("/dev/shm");
    let build_dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)?
    } else {
        tempfile::tempdir()?
    };
    let built = build_dir.path().join("fixture.db");
    let profile = NewProfile {
        display_name: "bench".into(),
        identity_seed: Zeroizing::new([7; 32]),
        created_at: Timestamp(0),
    };
    let mut store = Store::create(
        &built,
        PASSWORD,
        KdfParams::dangerously_fast_for_testing_only(),
        &profile,
    )?;
    let ids: Vec<ContactId> = (0..CONTACTS)
        .map(|n| store.add_contact(&new_contact(n)))
        .collect::<kith_store::Result<_>>()?;
    let mut csv = String::from(
        "messages,file_mb,unlock_ms,summaries_ms,conversation_messages,conversation_ms,plain_read_ms\n",
    );
    println!(
        "| messages | file | unlock (fast KDF) | `contact_summaries` ({CONTACTS} contacts) | conversation | `messages` | plain read of its rows | `messages` / plain |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut n = 0;
    for size in SIZES {
        while n < size {
            let c = if n.is_multiple_of(10) {
                ids[0]
            } else {
                ids[1 + (n as usize % (CONTACTS as usize - 1))]
            };
            insert(&mut store, c, n)?;
            n += 1;
        }
        store.close()?;
        let path = disk.path().join("profile.db");
        std::fs::copy(&built, &path)?;
        let file_mb = std::fs::metadata(&path)?.len() as f64 / 1e6;

        let mut opens = vec![];
        for _ in 0..RUNS {
            let t = Instant::now();
            let s = Store::open(&path, PASSWORD)?;
            opens.push(t.elapsed());
            s.close()?;
        }
        opens.sort_unstable();
        let unlock = opens[opens.len() / 2];
        let s = Store::open(&path, PASSWORD)?;
        let summaries = mean(|| {
            assert_eq!(s.contact_summaries()?.len(), CONTACTS as usize);
            Ok(())
        })?;
        let convo_len = s.messages(ids[0])?.len();
        let convo = mean(|| {
            s.messages(ids[0])?;
            Ok(())
        })?;
        s.close()?;
        let conn = Connection::open(&path)?;
        // The contact's row id: contact 0 was the first added.
        let first: i64 = conn.query_row("SELECT min(id) FROM contacts", [], |r| r.get(0))?;
        assert_eq!(plain_read(&conn, first)?.0, convo_len);
        let plain = mean(|| plain_read(&conn, first).map(drop))?;
        drop(conn);
        println!(
            "| {size} | {file_mb:.1} MB | {:.2} ms | {:.2} ms | {convo_len} | {:.2} ms | {:.2} ms | {:.1}× |",
            ms(unlock),
            ms(summaries),
            ms(convo),
            ms(plain),
            ms(convo) / ms(plain)
        );
        csv.push_str(&format!(
            "{size},{file_mb:.2},{:.3},{:.3},{convo_len},{:.3},{:.3}\n",
            ms(unlock),
            ms(summaries),
            ms(convo),
            ms(plain)
        ));
        store = Store::open(&built, PASSWORD)?;
    }
    store.close()?;
    if let Ok(path) = std::env::var("KITH_BENCH_CSV") {
        std::fs::write(&path, csv)?;
        println!("wrote {path}");
    }
    Ok(())
}
