//! What listing contacts costs: `Store::contact_summaries` (one query, a few
//! decryptions per contact) against what the contact list did before it
//! (per contact: the unread count and the newest message, found by opening
//! the whole conversation). Prints figures; run it in release:
//!
//! ```sh
//! cargo bench -p kith-store --bench contacts
//! ```

#![allow(clippy::print_stdout, missing_docs)]

use std::time::{Duration, Instant};

use kith_store::{
    ContactId, ContactOrigin, ContactState, KdfParams, MessageId, NewContact, NewProfile, Store,
    Timestamp,
};
use zeroize::Zeroizing;

const CONTACTS: u8 = 20;
const MESSAGES: u16 = 250;
const RUNS: u32 = 20;

fn mean(runs: u32, mut f: impl FnMut() -> kith_store::Result<()>) -> kith_store::Result<Duration> {
    let start = Instant::now();
    for _ in 0..runs {
        f()?;
    }
    Ok(start.elapsed() / runs)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("profile.db");
    let profile = NewProfile {
        display_name: "bench".into(),
        identity_seed: Zeroizing::new([7; 32]),
        created_at: Timestamp(0),
    };
    let mut store = Store::create(
        &path,
        b"pw",
        KdfParams::dangerously_fast_for_testing_only(),
        &profile,
    )?;
    let mut ids: Vec<ContactId> = vec![];
    for n in 0..CONTACTS {
        ids.push(store.add_contact(&NewContact {
            address: [n; 32],
            alias: format!("contact {n}"),
            state: ContactState::Accepted,
            origin: ContactOrigin::Link,
            verified: false,
            tcp_hint: None,
            their_name: None,
            added_at: Timestamp(0),
        })?);
    }
    let body = "a chat message of ordinary length, about one line of text";
    let setup = Instant::now();
    for &c in &ids {
        for i in 0..MESSAGES {
            let mut id = [0; 16];
            id[..2].copy_from_slice(&i.to_be_bytes());
            let t = Timestamp(u64::from(i));
            if i % 2 == 0 {
                store.insert_outgoing(c, MessageId(id), body, t)?;
            } else {
                store.insert_incoming(c, MessageId(id), body, t, t)?;
            }
        }
    }
    println!(
        "{CONTACTS} contacts x {MESSAGES} messages stored in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let summaries = mean(RUNS, || store.contact_summaries().map(drop))?;
    let per_contact = mean(RUNS, || {
        for c in store.contacts()? {
            let _unread = store.unread_count(c.id)?;
            let _last = store.last_message(c.id)?;
        }
        Ok(())
    })?;
    // Before: `unread_count` opened every message's metadata and
    // `messages().pop()` every message; this counts the latter only, so
    // the old cost was higher still.
    let whole = mean(RUNS, || {
        for c in store.contacts()? {
            let mut ms = store.messages(c.id)?;
            let _unread = ms.iter().filter(|m| !m.read).count();
            let _last = ms.pop();
        }
        Ok(())
    })?;
    println!("list contacts, mean of {RUNS}:");
    for (name, d) in [
        ("contact_summaries", summaries),
        ("unread_count + last_message per contact", per_contact),
        ("whole conversation per contact (before, at least)", whole),
    ] {
        println!("  {name:<54} {:>9.3} ms", d.as_secs_f64() * 1e3);
    }
    Ok(())
}
