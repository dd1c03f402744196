//! Story (issue 7): the `kith` command holds against hostile contacts and
//! careless local setups. Blocking is real, requests say what is verified
//! and what is not, what peers send prints inert, and the local surfaces
//! (control socket, profile directory, password) are the user's only.
//!
//! Real processes over TCP on 127.0.0.1.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use kith_tests::cli::{Kith, PASSWORD, free_port, json_lines, wait_until};

const LONG: Duration = Duration::from_secs(60);

fn link(k: &Kith, profile: &str) -> String {
    k.ok(profile, &["link"]).trim().to_owned()
}

/// The 56-character address in a `kith://` link.
fn address_of(link: &str) -> String {
    link.trim_start_matches("kith://")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The contacts of `profile` whose address is `address`.
fn entries(k: &Kith, profile: &str, address: &str) -> Vec<serde_json::Value> {
    k.contacts(profile)
        .into_iter()
        .filter(|c| c["address"] == address)
        .collect()
}

/// The one contact of `profile` with `address`, once it has `state`.
fn wait_state(k: &Kith, profile: &str, address: &str, state: &str) -> serde_json::Value {
    wait_until(LONG, &format!("{address} {state} at {profile}"), || {
        entries(k, profile, address)
            .into_iter()
            .find(|c| c["state"] == state)
    })
}

fn received(k: &Kith, profile: &str, alias: &str, body: &str) -> bool {
    k.messages(profile, alias)
        .iter()
        .any(|m| m["direction"] == "in" && m["body"] == body)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777
}

/// Block a contact: its messages stop, it never comes back as a request;
/// unblock and accept again: what it wrote meanwhile arrives. Decline and
/// restore a request. Requests show the full address and the name marked as
/// theirs; what `contact list` prints for people is inert, `--json` exact.
#[test]
fn block_unblock_restore_and_listing() {
    let k = Kith::new();
    k.create("alice");
    k.create("bob");
    k.ok(
        "carol",
        &[
            "profile",
            "create",
            "carol",
            "--display-name",
            "Carol\u{202e}lliw",
        ],
    );
    let (_alice, _bob, _carol) = (
        k.start("alice", free_port()),
        k.start("bob", free_port()),
        k.start("carol", free_port()),
    );
    let (bob_link, alice_addr) = (link(&k, "bob"), address_of(&link(&k, "alice")));
    let carol_addr = address_of(&link(&k, "carol"));

    // An alias with a bidi override: shown inert to people, exact in JSON.
    let tricky = "bob\u{202e}gpj.exe";
    k.ok("alice", &["contact", "add", &bob_link, "--alias", tricky]);
    let human = k.ok("alice", &["contact", "list"]);
    assert!(
        human.contains("bob\\u{202e}gpj.exe") && !human.contains('\u{202e}'),
        "{human}"
    );
    assert!(k.contacts("alice").iter().any(|c| c["alias"] == tricky));

    // Bob accepts Alice; a message arrives.
    let req = wait_state(&k, "bob", &alice_addr, "request");
    let alice_alias = req["alias"].as_str().expect("alias").to_owned();
    k.ok("bob", &["contact", "accept", &alice_alias]);
    k.ok("alice", &["send", tricky, "before the block"]);
    wait_until(LONG, "first message", || {
        received(&k, "bob", &alice_alias, "before the block").then_some(())
    });

    // Message times in the local zone, east and west of UTC.
    let m = k
        .messages("bob", &alice_alias)
        .into_iter()
        .find(|m| m["body"] == "before the block")
        .expect("the message");
    let utc_hour = (m["time"].as_u64().expect("time") / 3_600_000 % 24) as i64;
    for (tz, offsets) in [
        ("Asia/Tokyo", &[9][..]),
        ("America/Los_Angeles", &[-8, -7][..]),
        ("JST-9", &[9][..]),
        ("UTC", &[0][..]),
    ] {
        let out = k
            .cmd("bob")
            .env("TZ", tz)
            .args(["messages", &alice_alias])
            .output()
            .expect("run");
        assert!(out.status.success(), "TZ={tz}: {out:?}");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let line = text
            .lines()
            .find(|l| l.contains("before the block"))
            .expect("shown");
        // "< 2026-12-01 19:41  before the block [received]"
        let hour: i64 = line.get(13..15).and_then(|h| h.parse().ok()).expect(line);
        assert!(
            offsets
                .iter()
                .any(|o| (utc_hour + o).rem_euclid(24) == hour),
            "TZ={tz}: {line} (UTC hour {utc_hour})"
        );
    }

    // Bob blocks Alice: listed as blocked; what she writes does not arrive.
    k.ok("bob", &["contact", "block", &alice_alias]);
    wait_state(&k, "bob", &alice_addr, "blocked");
    k.ok("alice", &["send", tricky, "while blocked"]);
    std::thread::sleep(Duration::from_secs(3));
    assert!(!received(&k, "bob", &alice_alias, "while blocked"));
    let at_bob = entries(&k, "bob", &alice_addr);
    assert_eq!(at_bob.len(), 1, "one entry, not a new request: {at_bob:?}");
    assert_eq!(at_bob[0]["state"], "blocked");
    let human = k.ok("bob", &["contact", "list"]);
    let line = human
        .lines()
        .find(|l| l.contains(&alice_addr))
        .expect("listed");
    assert!(line.contains("blocked"), "{line}");
    assert!(
        !k.messages("alice", tricky)
            .iter()
            .any(|m| m["body"] == "while blocked" && m["state"] == "delivered"),
        "not delivered to a blocker"
    );

    // Unblocked, she is a request again; accepted, her message arrives.
    k.ok("bob", &["contact", "unblock", &alice_alias]);
    wait_state(&k, "bob", &alice_addr, "request");
    k.ok("bob", &["contact", "accept", &alice_alias]);
    wait_until(LONG, "the message written while blocked", || {
        received(&k, "bob", &alice_alias, "while blocked").then_some(())
    });

    // Carol asks: the request shows her full address and her name as hers
    // (bidi override removed by the node).
    k.ok("carol", &["contact", "add", &bob_link, "--alias", "bob"]);
    let req = wait_state(&k, "bob", &carol_addr, "request");
    let carol_alias = req["alias"].as_str().expect("alias").to_owned();
    let human = k.ok("bob", &["contact", "list"]);
    let line = human
        .lines()
        .find(|l| l.contains(&carol_addr))
        .expect("request listed with its full address");
    assert!(line.contains("request"), "{line}");
    assert!(
        line.contains("name: Carollliw (their choice, unverified)"),
        "{line}"
    );
    assert!(!human.contains("requests dropped"), "{human}");

    // Declined, restored, then blocked: she stays blocked while she dials.
    k.ok("bob", &["contact", "decline", &carol_alias]);
    wait_state(&k, "bob", &carol_addr, "declined");
    k.ok("bob", &["contact", "restore", &carol_alias]);
    wait_state(&k, "bob", &carol_addr, "request");
    k.ok("bob", &["contact", "block", &carol_alias]);
    k.ok("carol", &["send", "bob", "let me in"]);
    std::thread::sleep(Duration::from_secs(3));
    let at_bob = entries(&k, "bob", &carol_addr);
    assert_eq!(at_bob.len(), 1, "{at_bob:?}");
    assert_eq!(at_bob[0]["state"], "blocked");
    let restore = k.run("bob", &["contact", "restore", &carol_alias]);
    assert!(
        !restore.status.success(),
        "a blocked contact is not restored"
    );

    // Status names the network.
    let st = k.status("bob");
    assert_eq!(st["network"], "tcp", "{st}");
    assert_eq!(st["state"], "online", "{st}");
    assert_eq!(st["dropped_requests"], 0, "{st}");
    let human = k.ok("bob", &["status"]);
    assert!(human.contains("plain TCP (not anonymous)"), "{human}");
}

/// The same commands without a daemon: straight on the store.
#[test]
fn block_and_status_offline() {
    let k = Kith::new();
    k.create("alice");
    k.create("bob");
    let bob_link = link(&k, "bob");
    k.ok("alice", &["contact", "add", &bob_link, "--alias", "bob"]);
    k.ok("alice", &["contact", "block", "bob"]);
    assert_eq!(k.contacts("alice")[0]["state"], "blocked");
    k.ok("alice", &["contact", "unblock", "bob"]);
    // A contact we added waits for their answer again.
    assert_eq!(k.contacts("alice")[0]["state"], "waiting");
    assert!(
        !k.run("alice", &["contact", "block", "nobody"])
            .status
            .success()
    );
    let st = k.status("alice");
    assert_eq!(st["running"], false, "{st}");
    assert_eq!(st["state"], "offline", "{st}");
    // Offline: the network its settings name (none: the public Tor network).
    assert_eq!(st["network"], "tor", "{st}");
}

/// A `kith run` started by hand, so the test knows its pid; killed on drop.
struct Run(Child);

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The control socket is 0600, a too-open profile directory is made 0700,
/// another user's directory is refused, and KITH_PASSWORD is not in the
/// running daemon's environment.
#[test]
fn local_surfaces_are_private() {
    let k = Kith::new();
    k.create("alice");
    let dir = k.dir.path().join("profiles").join("alice");
    assert_eq!(mode(&dir), 0o700);

    // Too open: fixed, with a warning, and the command works.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = k.run("alice", &["contact", "list"]);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("it is now 0700"), "{err}");
    assert_eq!(mode(&dir), 0o700);

    // The daemon, with its password in KITH_PASSWORD (as `cmd` sets it).
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(k.dir.path().join("alice-run.log")).expect("log");
    let child = k
        .cmd("alice")
        .args(["run", "--transport", "tcp", "--listen", &listen])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("kith run");
    let mut run = Run(child);
    let pid = run.0.id();
    let sock = dir.join("control.sock");
    wait_until(LONG, "control socket", || {
        if let Ok(Some(status)) = run.0.try_wait() {
            panic!("kith run exited: {status}");
        }
        sock.exists().then_some(())
    });
    wait_until(LONG, "online", || {
        (k.status("alice")["state"] == "online").then_some(())
    });
    let meta = std::fs::metadata(&sock).expect("stat socket");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);

    // Neither the variable nor the password is in its environment or
    // command line, for the process that runs now under the same pid.
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    for (what, bytes) in [("environ", &environ), ("cmdline", &cmdline)] {
        for needle in ["KITH_PASSWORD", PASSWORD] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle:?} in /proc/{pid}/{what}"
            );
        }
    }
    assert!(
        environ.windows(4).any(|w| w == b"PATH"),
        "the rest of the environment is kept"
    );
    // It unlocked with the password it was handed, and answers.
    assert!(
        String::from_utf8_lossy(&cmdline).contains("--password-fd"),
        "re-executed"
    );
    let v = json_lines(&k.ok("alice", &["contact", "list", "--json"]));
    assert!(v.is_empty(), "{v:?}");

    // Another user is refused before anything is read (root only can test it).
    if is_root() {
        use std::os::unix::process::CommandExt;
        for d in [k.dir.path().to_owned(), k.dir.path().join("profiles")] {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o711)).expect("chmod");
        }
        let out = k
            .cmd("alice")
            .args(["contact", "list"])
            .uid(65534)
            .gid(65534)
            .output()
            .expect("run as nobody");
        assert!(!out.status.success(), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("belongs to uid 0"), "{err}");
    }
    drop(run);
}

fn is_root() -> bool {
    // Our own files say who we are.
    let probe = tempfile::tempfile().expect("tempfile");
    std::os::unix::fs::MetadataExt::uid(&probe.metadata().expect("stat")) == 0
}

/// TCP on an address the internet can reach needs --public; nothing is bound.
#[test]
fn public_tcp_addresses_need_the_flag() {
    let k = Kith::new();
    k.create("alice");
    for addr in ["0.0.0.0:9", "8.8.8.8:9", "[::]:9", "[2001:db8::1]:9"] {
        let out = k.run("alice", &["run", "--transport", "tcp", "--listen", addr]);
        assert!(!out.status.success(), "{addr}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--public") && err.contains("refusing to listen"),
            "{addr}: {err}"
        );
    }
    let out = k.run("alice", &["run", "--public"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public is for"));
}
