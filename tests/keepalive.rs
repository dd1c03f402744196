//! Story: two contacts stay connected while nobody writes, and when one of
//! them goes silent without closing the link (a frozen process, a stalled
//! circuit), the other notices, and delivery resumes by itself once the
//! silent one is back (issue 7, section 5: stalled peers).
//!
//! Over TCP on 127.0.0.1. The nodes' debug log says when a session ends.

use std::process::Command;
use std::time::{Duration, Instant};

use kith_tests::cli::{Daemon, Kith, free_port, is_online, wait_until};

const LONG: Duration = Duration::from_secs(60);
/// Longer than `kith-node`'s keepalive interval (30 s): an idle session has
/// sent keepalives by then.
const IDLE: Duration = Duration::from_secs(45);
/// `kith-node`'s silence limit (100 s) plus a keepalive interval (30 s) and
/// slack: a frozen contact is seen offline within this.
const SILENCE_DETECTED: Duration = Duration::from_secs(160);
/// What the nodes log: sessions starting and ending.
const NODE_LOG: &str = "kith_node=debug,warn";

fn start(k: &Kith, profile: &str, port: u16) -> Daemon {
    let listen = format!("127.0.0.1:{port}");
    let d = k.spawn(
        profile,
        &["run", "--transport", "tcp", "--listen", &listen],
        &[("KITH_LOG", NODE_LOG)],
        LONG,
    );
    wait_until(LONG, &format!("{profile} online"), || {
        is_online(&k.status(profile)).then_some(())
    });
    d
}

fn contact(k: &Kith, profile: &str, alias: &str) -> Option<serde_json::Value> {
    k.contacts(profile)
        .into_iter()
        .find(|c| c["alias"] == alias)
}

/// Sessions that ended, as the node logged them.
fn sessions_ended(k: &Kith, profile: &str) -> Vec<String> {
    std::fs::read_to_string(k.log_path(profile))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("session ended"))
        .map(str::to_owned)
        .collect()
}

fn signal(d: &Daemon, sig: &str) {
    let pid = d.pid().expect("a running daemon").to_string();
    let st = Command::new("kill")
        .args([sig, &pid])
        .status()
        .expect("kill(1)");
    assert!(st.success(), "kill {sig} {pid}");
}

/// An idle session survives its keepalives; a frozen contact is detected
/// as offline, and what was written meanwhile arrives once it thaws.
#[test]
fn idle_sessions_stay_up_and_silent_contacts_are_detected() {
    let k = Kith::new();
    k.create("alice");
    k.create("bob");
    let (pa, pb) = (free_port(), free_port());
    let alice = start(&k, "alice", pa);
    let bob = start(&k, "bob", pb);
    let bob_link = k.ok("bob", &["link"]).trim().to_owned();
    k.ok("alice", &["contact", "add", &bob_link, "--alias", "bob"]);
    wait_until(LONG, "bob sees alice's request", || {
        contact(&k, "bob", "alice").filter(|c| c["state"] == "request")
    });
    k.ok("bob", &["contact", "accept", "alice"]);
    k.ok("alice", &["send", "bob", "hello"]);
    wait_until(LONG, "first message delivered", || {
        k.has_message("alice", "bob", "out", "hello", Some("delivered"))
            .then_some(())
    });
    wait_until(LONG, "both see each other online", || {
        (contact(&k, "alice", "bob")?["online"] == true
            && contact(&k, "bob", "alice")?["online"] == true)
            .then_some(())
    });

    // Nobody writes for longer than the keepalive interval: the session
    // stays up (keepalives flow both ways) and a new message goes at once.
    let before = (
        sessions_ended(&k, "alice").len(),
        sessions_ended(&k, "bob").len(),
    );
    std::thread::sleep(IDLE);
    let (ended_a, ended_b) = (sessions_ended(&k, "alice"), sessions_ended(&k, "bob"));
    assert!(
        ended_a.len() == before.0 && ended_b.len() == before.1,
        "an idle session ended within {} s:\nalice: {:?}\nbob: {:?}",
        IDLE.as_secs(),
        &ended_a[before.0..],
        &ended_b[before.1..]
    );
    assert_eq!(contact(&k, "alice", "bob").expect("bob")["online"], true);
    let t = Instant::now();
    k.ok("alice", &["send", "bob", "after a quiet while"]);
    wait_until(
        Duration::from_secs(10),
        "message after the idle period",
        || {
            k.has_message(
                "alice",
                "bob",
                "out",
                "after a quiet while",
                Some("delivered"),
            )
            .then_some(())
        },
    );
    println!(
        "timing: message on a session idle for {} s delivered in {:.2} s",
        IDLE.as_secs(),
        t.elapsed().as_secs_f64()
    );

    // Bob's process freezes: his end stays open (the kernel still accepts
    // and acknowledges), but he says nothing. Alice sees him offline.
    signal(&bob, "-STOP");
    let t_frozen = Instant::now();
    k.ok("alice", &["send", "bob", "while you were frozen"]);
    wait_until(
        SILENCE_DETECTED,
        "alice sees the frozen bob offline",
        || (contact(&k, "alice", "bob")?["online"] == false).then_some(()),
    );
    println!(
        "timing: a silent contact seen offline after {:.1} s",
        t_frozen.elapsed().as_secs_f64()
    );
    assert!(!k.has_message(
        "alice",
        "bob",
        "out",
        "while you were frozen",
        Some("delivered")
    ));

    // He thaws: delivery resumes by itself.
    signal(&bob, "-CONT");
    let t_thaw = Instant::now();
    wait_until(
        LONG,
        "message written while bob was frozen delivered",
        || {
            k.has_message(
                "alice",
                "bob",
                "out",
                "while you were frozen",
                Some("delivered"),
            )
            .then_some(())
        },
    );
    println!(
        "timing: message written to a frozen contact delivered {:.1} s after it thawed",
        t_thaw.elapsed().as_secs_f64()
    );
    assert!(k.has_message("bob", "alice", "in", "while you were frozen", None));
    bob.stop();
    alice.stop();
}
