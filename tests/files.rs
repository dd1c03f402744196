//! Story: two people send each other files through the `kith` command
//! (issue 9 § 4, `docs/protocol.md` § 13), over TCP on 127.0.0.1 and over
//! the private Tor network; on Tor, also deleting a message for everyone
//! and disappearing messages with the shortest timer.
//!
//! The file part: a 20 MiB random file goes from alice to bob; bob's `files
//! --json` shows it coming; half way alice's node is killed (SIGKILL, as a
//! crash would) and started again, and the transfer goes on from where it
//! stopped (bob's count of bytes received never goes back); what bob saves
//! has the SHA-256 of what alice sent.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kith_tests::cli::{Daemon, Kith, befriend, free_port, wait_until};
use kith_tests::tornet::TorNet;
use rand::RngCore as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The file sent: 20 MiB.
const SIZE: u64 = 20 * 1024 * 1024;
/// One MiB, for throughput figures.
const MIB: f64 = 1024.0 * 1024.0;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, read as it is on disk.
fn sha256_of(path: &Path) -> String {
    let mut f = std::fs::File::open(path).expect("open");
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).expect("read");
    hex(&h.finalize())
}

/// A file of `size` random bytes at `path`; its SHA-256.
fn random_file(path: &Path, size: u64) -> String {
    let mut rng = rand::rngs::OsRng;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut h = Sha256::new();
    let mut buf = vec![0_u8; 1024 * 1024];
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left.min(buf.len() as u64)).expect("small");
        rng.fill_bytes(&mut buf[..n]);
        out.write_all(&buf[..n]).expect("write");
        h.update(&buf[..n]);
        left -= n as u64;
    }
    out.flush().expect("flush");
    hex(&h.finalize())
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `kith files ALIAS --json`: one JSON array.
fn files(k: &Kith, profile: &str, alias: &str) -> Vec<Value> {
    let v: Value =
        serde_json::from_str(k.ok(profile, &["files", alias, "--json"]).trim()).expect("json");
    v.as_array().expect("an array").clone()
}

/// The file `id` in `profile`'s conversation with `alias`.
fn file(k: &Kith, profile: &str, alias: &str, id: &str) -> Option<Value> {
    files(k, profile, alias).into_iter().find(|f| f["id"] == id)
}

fn done(f: &Value) -> u64 {
    f["done"].as_u64().expect("done")
}

/// What [`send_kill_resume`] measured.
struct Transfer {
    /// Alice's node, started again.
    alice: Daemon,
    /// The file's id.
    id: String,
    /// Bytes bob had when alice's node was killed.
    at_kill: u64,
    /// From bob's first byte to the kill.
    before: Duration,
    /// From alice's node answering again to bob's last byte.
    after: Duration,
    /// How long alice's node took to start again (up to online).
    restart: Duration,
}

/// Alice sends a 20 MiB random file to bob; half way her node is killed
/// and started again (`restart`); bob's progress never goes back, alice
/// resumes from where bob stopped, and the file arrives whole (bob's saved
/// copy has its SHA-256).
fn send_kill_resume(
    ka: &Kith,
    kb: &Kith,
    alice: Daemon,
    restart: impl Fn() -> Daemon,
    limit: Duration,
) -> Transfer {
    let outbox = ka.dir.path().join("outbox");
    std::fs::create_dir(&outbox).expect("mkdir");
    let path = outbox.join("holiday film.bin");
    let sha = random_file(&path, SIZE);
    // A relative path works: the client makes it absolute for the daemon.
    let mut cmd = ka.cmd("alice");
    cmd.current_dir(&outbox)
        .args(["send-file", "bob", "holiday film.bin"]);
    let out = cmd.output().expect("kith send-file");
    assert!(out.status.success(), "send-file: {}", stderr(&out));
    let id = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert_eq!(id.len(), 32, "a message id: {id:?}");
    let ours = file(ka, "alice", "bob", &id).expect("alice lists her file");
    assert_eq!(ours["direction"], "out");
    assert_eq!(ours["name"], "holiday film.bin");
    assert_eq!(ours["size"], SIZE);
    assert_eq!(ours["sha256"], sha.as_str());

    // Bob's node takes it (under the automatic limit) and asks for it.
    let first = wait_until(limit, "bob receives the first bytes", || {
        file(kb, "bob", "alice", &id).filter(|f| done(f) > 0)
    });
    let t_first = Instant::now();
    assert_eq!(first["direction"], "in");
    assert_eq!(first["name"], "holiday film.bin");
    assert_eq!(first["sha256"], sha.as_str());
    // Half way: the first look at or past a third, while under 90 %.
    let mut seen_speed = false;
    let half = wait_until(limit, "bob's progress passes a third", || {
        let f = file(kb, "bob", "alice", &id).expect("bob's file");
        assert_eq!(
            f["state"], "transferring",
            "the transfer ended before it could be interrupted: {f}"
        );
        let p = f["progress"].as_f64().expect("progress");
        assert!((0.0..1.0).contains(&p), "{f}");
        // The fraction is of what was received.
        let want = done(&f) as f64 / SIZE as f64;
        assert!((p - want).abs() < 1e-9, "{f}");
        if let Some(s) = f["speed"].as_u64() {
            seen_speed |= s > 0;
            assert!(f["eta_secs"].is_u64() || s == 0, "{f}");
        }
        (p >= 1.0 / 3.0).then_some(f)
    });
    let before = t_first.elapsed();
    alice.kill9();
    assert!(
        done(&half) < SIZE * 9 / 10,
        "too late to call it half way: {half}"
    );
    // What bob holds once alice is gone (a few chunks may have been on the way).
    std::thread::sleep(Duration::from_millis(500));
    let stopped = file(kb, "bob", "alice", &id).expect("bob's file");
    assert_eq!(stopped["state"], "transferring", "{stopped}");
    let at_kill = done(&stopped);
    assert!(at_kill >= done(&half), "{stopped} after {half}");
    assert!(at_kill < SIZE, "{stopped}");

    let t_restart = Instant::now();
    let alice = restart();
    let restart_took = t_restart.elapsed();
    let t_back = Instant::now();
    // Bob's count never goes back; alice sends from where bob stopped.
    let mut checked_sender = false;
    let last = wait_until(limit, "the transfer completes after the restart", || {
        let f = file(kb, "bob", "alice", &id).expect("bob's file");
        assert!(
            done(&f) >= at_kill,
            "bob's progress went back from {at_kill}: {f}"
        );
        if let Some(s) = f["speed"].as_u64() {
            seen_speed |= s > 0;
        }
        if !checked_sender && done(&f) > at_kill && f["state"] == "transferring" {
            let theirs = file(ka, "alice", "bob", &id).expect("alice's file");
            if theirs["state"] == "transferring" {
                assert!(
                    done(&theirs) >= at_kill,
                    "alice started again below where bob stopped ({at_kill}): {theirs}"
                );
                checked_sender = true;
            }
        }
        (f["state"] == "complete").then_some(f)
    });
    let after = t_back.elapsed();
    assert!(seen_speed, "bob's files never showed a speed");
    assert_eq!(done(&last), SIZE, "{last}");
    assert_eq!(last["progress"], 1.0, "{last}");
    assert_eq!(last["sha256"], sha.as_str());
    assert!(
        last["speed"].is_null() && last["eta_secs"].is_null(),
        "{last}"
    );
    // Alice is told it arrived.
    wait_until(limit, "alice learns the file arrived", || {
        (file(ka, "alice", "bob", &id)?["state"] == "complete").then_some(())
    });

    // The file message in both conversations.
    let m = kb
        .messages("bob", "alice")
        .into_iter()
        .find(|m| m["id"] == id.as_str())
        .expect("bob's file message");
    assert_eq!(m["kind"], "file", "{m}");
    assert_eq!(m["file"]["state"], "complete", "{m}");
    assert_eq!(m["file"]["size"], SIZE, "{m}");
    assert_eq!(m["file"]["sha256"], sha.as_str(), "{m}");
    let human = kb.ok("bob", &["messages", "alice"]);
    assert!(
        human.contains("(file: holiday film.bin, 20.0 MiB, complete)"),
        "{human}"
    );

    // Saved, it is what alice sent; saving over it is refused.
    let saved_dir = kb.dir.path().join("downloads");
    std::fs::create_dir(&saved_dir).expect("mkdir");
    let saved = PathBuf::from(
        kb.ok(
            "bob",
            &[
                "save-file",
                "alice",
                &id,
                saved_dir.to_str().expect("utf-8"),
            ],
        )
        .trim(),
    );
    assert_eq!(saved, saved_dir.join("holiday film.bin"));
    assert_eq!(sha256_of(&saved), sha);
    let again = kb.run(
        "bob",
        &["save-file", "alice", &id, saved.to_str().expect("utf-8")],
    );
    assert!(!again.status.success(), "save-file overwrote a file");
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(sha256_of(&saved), sha, "the saved file was touched");
    // Into the directory again: its name is taken there too.
    let again = kb.run(
        "bob",
        &[
            "save-file",
            "alice",
            &id,
            saved_dir.to_str().expect("utf-8"),
        ],
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    Transfer {
        alice,
        id,
        at_kill,
        before,
        after,
        restart: restart_took,
    }
}

/// A timing line (test output, like the other suites' `timing:` lines).
#[allow(clippy::print_stdout)]
fn print_transfer(net: &str, t: &Transfer) {
    let mib = |b: u64| b as f64 / MIB;
    println!(
        "timing: 20 MiB file over {net}: {:.1} MiB in {:.1} s before the kill ({:.2} MiB/s), \
         sender restarted in {:.1} s, the other {:.1} MiB in {:.1} s after it ({:.2} MiB/s)",
        mib(t.at_kill),
        t.before.as_secs_f64(),
        mib(t.at_kill) / t.before.as_secs_f64().max(1e-3),
        t.restart.as_secs_f64(),
        mib(SIZE - t.at_kill),
        t.after.as_secs_f64(),
        mib(SIZE - t.at_kill) / t.after.as_secs_f64().max(1e-3),
    );
}

#[test]
fn file_over_tcp_resumes_after_the_sender_is_killed() {
    const LONG: Duration = Duration::from_secs(120);
    let k = Kith::new();
    k.create("alice");
    k.create("bob");
    let pa = free_port();
    let alice = k.start("alice", pa);
    let _bob = k.start("bob", free_port());
    befriend(&k, "alice", &k, "bob", LONG);

    // Over 100 MiB: refused, before anything is sent (a sparse file: no
    // 100 MiB is written).
    let big = k.dir.path().join("too big.iso");
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(100 * 1024 * 1024 + 1))
        .expect("sparse file");
    let out = k.run("alice", &["send-file", "bob", big.to_str().expect("utf-8")]);
    assert!(!out.status.success(), "a file over 100 MiB was taken");
    assert!(
        stderr(&out).contains("file too large: 104857601 bytes, at most 104857600 (100 MiB)"),
        "{}",
        stderr(&out)
    );
    assert!(files(&k, "alice", "bob").is_empty());
    let out = k.run("alice", &["send-file", "bob", "/no/such/file"]);
    assert!(!out.status.success());
    assert!(k.messages("alice", "bob").is_empty());

    let t = send_kill_resume(&k, &k, alice, || k.start("alice", pa), LONG);
    print_transfer("TCP", &t);
    assert_eq!(files(&k, "bob", "alice").len(), 1);
    let human = k.ok("bob", &["files", "alice"]);
    assert!(
        human.starts_with("< holiday film.bin  20.0 MiB  complete  id "),
        "{human}"
    );
    assert!(human.trim_end().ends_with(&t.id), "{human}");
    // Accepting what is not waiting is refused.
    assert!(
        !k.run("bob", &["accept-file", "alice", &t.id])
            .status
            .success()
    );

    // Over the 32 MiB taken without asking: offered, nothing flows until
    // bob accepts it, then it comes (not waited for to the end: the rest
    // is the same transfer as above).
    let large = k.dir.path().join("disk image.img");
    std::fs::File::create(&large)
        .and_then(|f| f.set_len(32 * 1024 * 1024 + 1))
        .expect("sparse file");
    let id = k
        .ok(
            "alice",
            &["send-file", "bob", large.to_str().expect("utf-8")],
        )
        .trim()
        .to_owned();
    let offered = wait_until(LONG, "the large file offered at bob", || {
        file(&k, "bob", "alice", &id)
    });
    assert_eq!(offered["state"], "offered", "{offered}");
    let human = k.ok("bob", &["files", "alice"]);
    assert!(
        human.contains(
            "disk image.img  32.0 MiB  offered, waiting for you to accept (or refuse) it"
        ),
        "{human}"
    );
    std::thread::sleep(Duration::from_secs(2));
    let still = file(&k, "bob", "alice", &id).expect("bob's file");
    assert!(still["state"] == "offered" && done(&still) == 0, "{still}");
    k.ok("bob", &["accept-file", "alice", &id]);
    wait_until(LONG, "the accepted file comes", || {
        file(&k, "bob", "alice", &id).filter(|f| f["state"] == "transferring" && done(f) > 0)
    });
    let early = k.dir.path().join("too early");
    let out = k.run(
        "bob",
        &["save-file", "alice", &id, early.to_str().expect("utf-8")],
    );
    assert!(!out.status.success(), "saved before it arrived");
    assert!(
        stderr(&out).contains("has not arrived yet"),
        "{}",
        stderr(&out)
    );
    assert!(!early.exists());
    // Bob changes his mind half way: refused, what came is dropped, and
    // alice's node stops sending it.
    k.ok("bob", &["refuse-file", "alice", &id]);
    let refused = file(&k, "bob", "alice", &id).expect("bob's file");
    assert!(
        refused["state"] == "refused" && done(&refused) == 0,
        "{refused}"
    );
    wait_until(LONG, "alice told of the refusal", || {
        file(&k, "alice", "bob", &id).filter(|f| f["state"] == "refused")
    });
    assert!(
        !k.run("bob", &["refuse-file", "alice", &id])
            .status
            .success(),
        "refused twice"
    );
    drop(t.alice);
}

fn find(k: &Kith, profile: &str, alias: &str, body: &str) -> Option<Value> {
    k.messages(profile, alias)
        .into_iter()
        .find(|m| m["body"] == body)
}

fn unconfirmed(k: &Kith, profile: &str, alias: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(k.ok(profile, &["history", "unconfirmed", alias]).trim())
        .expect("json");
    v["unconfirmed"].as_array().expect("a list").clone()
}

fn now_ms() -> u64 {
    kith_core::Timestamp::now().as_millis()
}

/// Whether any of `bodies` is among `ms`.
fn holds_any(ms: &[Value], bodies: &[&str]) -> bool {
    ms.iter()
        .any(|m| bodies.contains(&m["body"].as_str().unwrap_or_default()))
}

/// Over onion services: disappearing messages with the 5-minute timer
/// (alice and carol: carol's node is stopped before the deadline and
/// started after it), delete for everyone (alice and bob), and the file
/// killed half way and resumed (alice to bob), the last two while the
/// timer runs (with an edit before the delete).
#[test]
fn files_delete_and_disappearing_messages_over_tor() {
    const LONG: Duration = Duration::from_secs(240);
    let t0 = Instant::now();
    let net = TorNet::shared().expect("private Tor network");
    println!(
        "timing: files: private Tor network ready after {:.1} s (or shared)",
        t0.elapsed().as_secs_f64()
    );
    let config = net.arti_config();
    let (ka, kb, kc) = (Kith::new(), Kith::new(), Kith::new());
    ka.create("alice");
    kb.create("bob");
    kc.create("carol");
    let t_nodes = Instant::now();
    let alice = ka.start_tor("alice", config, LONG);
    let bob = kb.start_tor("bob", config, LONG);
    let mut carol = kc.start_tor("carol", config, LONG);
    println!(
        "timing: files: three nodes online after {:.1} s",
        t_nodes.elapsed().as_secs_f64()
    );
    let t_contact = Instant::now();
    befriend(&ka, "alice", &kb, "bob", LONG);
    befriend(&ka, "alice", &kc, "carol", LONG);

    // Disappearing messages: 5 minutes, the shortest timer, one message
    // each way between alice and carol.
    ka.ok("alice", &["contact", "set", "carol", "--disappear", "5m"]);
    wait_until(LONG, "the timer line at carol", || {
        kc.messages("carol", "alice")
            .iter()
            .any(|m| m["kind"] == "timer" && m["timer"] == "5m")
            .then_some(())
    });
    println!(
        "timing: files: contacts added and the timer set at carol after {:.1} s",
        t_contact.elapsed().as_secs_f64()
    );
    let gone = ["gone in five (alice)", "gone in five (carol)"];
    ka.ok("alice", &["send", "carol", gone[0]]);
    kc.ok("carol", &["send", "alice", gone[1]]);
    // Each side's deadline for each message.
    let mut deadlines: Vec<(&str, &str, u64)> = vec![];
    for (k, p, alias) in [(&ka, "alice", "carol"), (&kc, "carol", "alice")] {
        for body in gone {
            let m = wait_until(LONG, "the timed messages on both sides", || {
                find(k, p, alias, body)
            });
            assert_eq!(m["disappear"], "5m", "{m}");
            let time = m["time"].as_u64().expect("time");
            let at = m["expires_at"].as_u64().expect("a deadline");
            // Counted from when each side stored it: the writer's from
            // its writing, the reader's from its arrival.
            if m["direction"] == "out" {
                assert_eq!(at - time, 300_000, "{m}");
            } else {
                assert!((300_000..300_000 + 240_000).contains(&(at - time)), "{m}");
            }
            deadlines.push((p, body, at));
        }
    }
    let deadline_of = |p: &str, body: &str| {
        deadlines
            .iter()
            .find(|d| d.0 == p && d.1 == body)
            .map(|d| d.2)
            .expect("a deadline")
    };
    let last_deadline = deadlines.iter().map(|d| d.2).max().expect("deadlines");
    // Carol stops before the deadline, and starts after it. Nobody opens
    // her profile in between (its unlock would remove them too).
    carol.stop();
    let t_timer = Instant::now();
    assert!(
        gone.iter().all(|b| now_ms() < deadline_of("carol", b)),
        "the setup took past the 5-minute deadline"
    );

    // Meanwhile, an edit, then delete for everyone, both acknowledged.
    let t_delete = Instant::now();
    ka.ok("alice", &["send", "bob", "take this bakc"]);
    wait_until(LONG, "the message to edit arrives", || {
        ka.has_message("alice", "bob", "out", "take this bakc", Some("delivered"))
            .then_some(())
    });
    let id = find(&ka, "alice", "bob", "take this bakc").expect("sent")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    ka.ok("alice", &["edit", "bob", &id, "take this back"]);
    wait_until(LONG, "the edit acknowledged", || {
        find(&ka, "alice", "bob", "take this back").filter(|m| m["edited"]["delivered"] == true)
    });
    let edited = find(&kb, "bob", "alice", "take this back").expect("edited at bob");
    assert!(edited["edited"]["at"].as_u64().is_some(), "{edited}");
    assert!(find(&kb, "bob", "alice", "take this bakc").is_none());
    println!(
        "timing: files: an edit acknowledged {:.1} s after the message was sent",
        t_delete.elapsed().as_secs_f64()
    );
    let t_delete = Instant::now();
    ka.ok("alice", &["delete", "bob", &id, "--for-everyone"]);
    assert!(find(&ka, "alice", "bob", "take this back").is_none());
    wait_until(LONG, "bob's node confirms the delete", || {
        unconfirmed(&ka, "alice", "bob").is_empty().then_some(())
    });
    assert!(find(&kb, "bob", "alice", "take this back").is_none());
    println!(
        "timing: files: delete for everyone confirmed {:.1} s after it was sent",
        t_delete.elapsed().as_secs_f64()
    );

    // And the file, killed half way and resumed, over onion services.
    let t_file = Instant::now();
    let t = send_kill_resume(
        &ka,
        &kb,
        alice,
        || ka.start_tor("alice", config, LONG),
        Duration::from_secs(600),
    );
    print_transfer("Tor", &t);
    println!(
        "timing: files: file part {:.1} s",
        t_file.elapsed().as_secs_f64()
    );
    let alice = t.alice;

    // Alice's node removes the timed messages at their time (give or take
    // a poll and a busy machine): not before, and not long after. If the
    // file took past the deadline, they are simply gone by now.
    let slack = 30_000;
    let limit = last_deadline.saturating_sub(now_ms()) + slack + 10_000;
    let mut late = [None::<u64>; 2];
    wait_until(
        Duration::from_millis(limit),
        "the timed messages gone at alice",
        || {
            let ms = ka.messages("alice", "carol");
            let now = now_ms();
            for (i, body) in gone.into_iter().enumerate() {
                let at = deadline_of("alice", body);
                let there = ms.iter().any(|m| m["body"] == body);
                assert!(
                    there || now + 1_000 >= at,
                    "{body:?} removed {} ms before its deadline",
                    at - now
                );
                assert!(
                    !there || now < at + slack,
                    "{body:?} still at alice {slack} ms after its deadline"
                );
                if !there && late[i].is_none() {
                    late[i] = Some(now.saturating_sub(at));
                }
            }
            (!holds_any(&ms, &gone)).then_some(())
        },
    );
    // Carol starts after the deadline: her node removes them at unlock.
    wait_until(
        Duration::from_secs(30),
        "the deadline passed at carol",
        || {
            gone.iter()
                .all(|b| now_ms() > deadline_of("carol", b))
                .then_some(())
        },
    );
    carol = kc.start_tor("carol", config, LONG);
    let ms = kc.messages("carol", "alice");
    assert!(
        !holds_any(&ms, &gone),
        "carol kept timed messages past their deadline: {ms:?}"
    );
    // What was not under the timer stays: the timer line.
    assert!(
        ms.iter()
            .any(|m| m["kind"] == "timer" && m["timer"] == "5m"),
        "{ms:?}"
    );
    println!(
        "timing: files: timed messages gone at alice {:.1} s after their deadline at most, at \
         carol on her start {:.1} s after the timer started",
        late.iter().flatten().max().copied().unwrap_or_default() as f64 / 1000.0,
        t_timer.elapsed().as_secs_f64()
    );
    carol.stop();
    bob.stop();
    alice.stop();
    println!(
        "timing: files: whole Tor suite {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
