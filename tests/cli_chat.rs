//! Story: two people chat through the `kith` command, over TCP on 127.0.0.1.
//!
//! Real processes, real sockets, real crashes (SIGKILL).

use std::collections::HashMap;
use std::time::Duration;

use kith_tests::cli::{Kith, free_port, wait_until};

const LONG: Duration = Duration::from_secs(60);

fn link(k: &Kith, profile: &str) -> String {
    let l = k.ok(profile, &["link"]);
    let l = l.trim().to_owned();
    assert!(
        l.starts_with("kith://") && l.contains("?tcp=127.0.0.1:"),
        "{l}"
    );
    l
}

fn state_of(k: &Kith, profile: &str, alias: &str) -> Option<String> {
    k.contacts(profile)
        .into_iter()
        .find(|c| c["alias"] == alias)
        .and_then(|c| c["state"].as_str().map(str::to_owned))
}

/// Messages of a conversation keyed by body, with their states.
fn bodies(k: &Kith, profile: &str, alias: &str) -> Vec<(String, String, String)> {
    k.messages(profile, alias)
        .into_iter()
        .map(|m| {
            (
                m["direction"].as_str().unwrap_or_default().to_owned(),
                m["body"].as_str().unwrap_or_default().to_owned(),
                m["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn wait_delivered(k: &Kith, profile: &str, alias: &str, body: &str) {
    wait_until(LONG, &format!("{body:?} delivered"), || {
        bodies(k, profile, alias)
            .iter()
            .any(|(d, b, s)| d == "out" && b == body && s == "delivered")
            .then_some(())
    });
}

fn wait_received(k: &Kith, profile: &str, alias: &str, body: &str) {
    wait_until(LONG, &format!("{body:?} received"), || {
        bodies(k, profile, alias)
            .iter()
            .any(|(d, b, _)| d == "in" && b == body)
            .then_some(())
    });
}

/// Link exchange, contact request, acceptance, messages both ways, delivery
/// after a restart, and nothing lost or duplicated across SIGKILLs.
#[test]
fn chat_end_to_end_over_tcp() {
    let k = Kith::new();
    k.create("alice");
    k.create("bob");
    let profiles = k.ok("alice", &["profile", "list"]);
    assert_eq!(profiles.lines().collect::<Vec<_>>(), ["alice", "bob"]);
    let (pa, pb) = (free_port(), free_port());
    let alice = k.start("alice", pa);
    let mut bob = k.start("bob", pb);

    // Alice adds Bob by his link; Bob sees a request, nothing as a chat.
    let bob_link = link(&k, "bob");
    k.ok("alice", &["contact", "add", &bob_link, "--alias", "bob"]);
    assert_eq!(state_of(&k, "alice", "bob").as_deref(), Some("waiting"));
    // Strangers cannot message: before Bob accepts, Alice's message stays queued.
    k.ok("alice", &["send", "bob", "before you accepted"]);
    wait_until(LONG, "contact request at bob", || {
        state_of(&k, "bob", "alice").filter(|s| s == "request")
    });
    assert!(
        k.messages("bob", "alice").is_empty(),
        "a request shows no chat"
    );
    assert!(
        !k.run("bob", &["send", "alice", "hi"]).status.success(),
        "writing to an unaccepted request is refused"
    );
    k.ok("bob", &["contact", "accept", "alice"]);
    wait_until(LONG, "alice sees bob accepted", || {
        state_of(&k, "alice", "bob").filter(|s| s == "accepted")
    });
    wait_received(&k, "bob", "alice", "before you accepted");

    // Both ways.
    k.ok("alice", &["send", "bob", "hello bob ✊"]);
    wait_received(&k, "bob", "alice", "hello bob ✊");
    wait_delivered(&k, "alice", "bob", "hello bob ✊");
    k.ok("bob", &["send", "alice", "hello alice"]);
    wait_received(&k, "alice", "bob", "hello alice");
    wait_delivered(&k, "bob", "alice", "hello alice");
    let m = &k.messages("alice", "bob")[0];
    for field in ["id", "direction", "body", "state", "time"] {
        assert!(!m[field].is_null(), "messages --json has {field}");
    }

    // Bob goes away; Alice writes; it waits queued and arrives after Bob restarts.
    bob.stop();
    wait_until(LONG, "alice sees bob offline", || {
        k.contacts("alice")
            .into_iter()
            .find(|c| c["alias"] == "bob" && c["online"] == false)
    });
    k.ok("alice", &["send", "bob", "while you were away"]);
    std::thread::sleep(Duration::from_millis(500));
    let st = bodies(&k, "alice", "bob");
    assert!(
        st.iter()
            .any(|(_, b, s)| b == "while you were away" && s == "queued"),
        "{st:?}"
    );
    // Bob, offline, can still read and write (queued) without a daemon.
    k.ok("bob", &["send", "alice", "written offline"]);
    bob = k.start("bob", pb);
    wait_received(&k, "bob", "alice", "while you were away");
    wait_delivered(&k, "alice", "bob", "while you were away");
    wait_received(&k, "alice", "bob", "written offline");
    wait_delivered(&k, "bob", "alice", "written offline");

    // Crashes mid-delivery: a burst of messages, and SIGKILL on both sides
    // while it is in flight. After restarts each arrives exactly once.
    let burst: Vec<String> = (0..30).map(|i| format!("burst message {i}")).collect();
    let mut alice = Some(alice);
    for (i, body) in burst.iter().enumerate() {
        k.ok("alice", &["send", "bob", body]);
        if i == 10 {
            bob.kill9();
            bob = k.start("bob", pb);
        }
        if i == 20 {
            if let Some(a) = alice.take() {
                a.kill9();
            }
            // Written while Alice's daemon is dead: goes to her store directly.
            alice = Some(k.start("alice", pa));
        }
    }
    if let Some(a) = alice.take() {
        a.kill9();
    }
    bob.kill9();
    let alice = k.start("alice", pa);
    let bob = k.start("bob", pb);
    for body in &burst {
        wait_delivered(&k, "alice", "bob", body);
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (d, b, _) in bodies(&k, "bob", "alice") {
        if d == "in" {
            *seen.entry(b).or_default() += 1;
        }
    }
    for body in &burst {
        assert_eq!(seen.get(body), Some(&1), "{body} shown once");
    }
    assert!(seen.values().all(|&n| n == 1), "no duplicates: {seen:?}");
    alice.stop();
    bob.stop();
}

/// After a chat, nothing readable is left in the data directory: not the
/// text, not the alias, not the peer's address, in the database or its WAL.
#[test]
fn nothing_readable_on_disk() {
    let k = Kith::new();
    k.create("alice");
    k.create("bob");
    let (pa, pb) = (free_port(), free_port());
    let alice = k.start("alice", pa);
    let bob = k.start("bob", pb);
    let bob_link = link(&k, "bob");
    let bob_addr = bob_link
        .trim_start_matches("kith://")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    k.ok(
        "alice",
        &["contact", "add", &bob_link, "--alias", "Zebulon-the-secret"],
    );
    wait_until(LONG, "request", || {
        state_of(&k, "bob", "alice").filter(|s| s == "request")
    });
    k.ok("bob", &["contact", "accept", "alice"]);
    let secret = "meet at the old bakery at noon";
    k.ok("alice", &["send", "Zebulon-the-secret", secret]);
    wait_received(&k, "bob", "alice", secret);
    wait_delivered(&k, "alice", "Zebulon-the-secret", secret);
    // Check while the daemons still run (WAL live) and after they stop.
    let check = |when: &str| {
        let raw_addr = data_encoding_decode(&bob_addr);
        for f in k.files() {
            let bytes = std::fs::read(&f).unwrap_or_default();
            let lower = String::from_utf8_lossy(&bytes).to_lowercase();
            for needle in [secret, "zebulon-the-secret", &bob_addr, "old bakery"] {
                assert!(
                    !lower.contains(&needle.to_lowercase()),
                    "{when}: {needle:?} readable in {}",
                    f.display()
                );
            }
            assert!(
                !bytes.windows(32).any(|w| w == raw_addr.as_slice()),
                "{when}: raw address bytes in {}",
                f.display()
            );
        }
    };
    check("running");
    alice.stop();
    bob.stop();
    check("stopped");
}

/// Decode a 56-character onion address to its 32-byte key (base32, RFC 4648).
fn data_encoding_decode(addr: &str) -> Vec<u8> {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bits = 0_u64;
    let mut n = 0;
    let mut out = vec![];
    for c in addr.bytes() {
        let v = alphabet.iter().position(|&a| a == c).expect("base32") as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out.truncate(32);
    out
}

/// Wrong passwords and bad links get clear errors; nothing changes.
#[test]
fn bad_input_is_refused_cleanly() {
    let k = Kith::new();
    k.create("alice");
    let out = k
        .cmd("alice")
        .env("KITH_PASSWORD", "wrong")
        .args(["contact", "list"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrong password"),
        "{out:?}"
    );
    let bad = k.run(
        "alice",
        &["contact", "add", "kith://nonsense", "--alias", "x"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid"));
    assert!(k.contacts("alice").is_empty());
    let dup = k.run("alice", &["profile", "create", "alice"]);
    assert!(!dup.status.success());
}
