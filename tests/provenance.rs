//! Story: every contact says how it was added and whether it is verified,
//! and two people verify each other by comparing a safety number, through
//! the `kith` command over TCP on 127.0.0.1 (issue 8, § 3 and § 1).

use std::time::Duration;

use kith_tests::cli::{Kith, free_port, json_lines, wait_until};

const LONG: Duration = Duration::from_secs(60);

fn contact(k: &Kith, profile: &str, alias: &str) -> Option<serde_json::Value> {
    k.contacts(profile)
        .into_iter()
        .find(|c| c["alias"] == alias)
}

/// `kith contact verify ALIAS --json [extra]`, parsed.
fn verify(k: &Kith, profile: &str, alias: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["contact", "verify", alias, "--json"];
    args.extend_from_slice(extra);
    let v = json_lines(&k.ok(profile, &args));
    assert_eq!(v.len(), 1, "{v:?}");
    v[0].clone()
}

/// Alice adds Bob by link, Bob accepts her request: each side shows how the
/// other came, neither is verified; both print the same safety number;
/// marking verifies one side only, and survives a restart of the daemon;
/// unmarking (and the offline path, with no daemon) works too.
#[test]
fn provenance_and_safety_number_over_tcp() {
    let k = Kith::new();
    k.create("alice");
    k.create("bob");
    let (pa, pb) = (free_port(), free_port());
    let mut alice = k.start("alice", pa);
    let bob = k.start("bob", pb);
    let bob_link = k.ok("bob", &["link"]).trim().to_owned();
    k.ok("alice", &["contact", "add", &bob_link, "--alias", "bob"]);
    wait_until(LONG, "contact request at bob", || {
        contact(&k, "bob", "alice").filter(|c| c["state"] == "request")
    });

    // Provenance before anything is verified, also for a pending request.
    let c = contact(&k, "bob", "alice").expect("request");
    assert_eq!(
        (&c["origin"], &c["verified"]),
        (&"request".into(), &false.into()),
        "{c}"
    );
    assert!(c["introduced_by"].is_null(), "{c}");
    k.ok("bob", &["contact", "accept", "alice"]);
    wait_until(LONG, "alice sees bob accepted", || {
        contact(&k, "alice", "bob").filter(|c| c["state"] == "accepted")
    });
    let on_alice = contact(&k, "alice", "bob").expect("bob");
    assert_eq!(on_alice["origin"], "link", "{on_alice}");
    assert_eq!(on_alice["verified"], false, "{on_alice}");
    let on_bob = contact(&k, "bob", "alice").expect("alice");
    assert_eq!(on_bob["origin"], "request", "accepting keeps it: {on_bob}");
    assert_eq!(on_bob["verified"], false, "{on_bob}");
    // People see it too.
    let human = k.ok("alice", &["contact", "list"]);
    assert!(human.contains("(by link, not verified)"), "{human}");
    let human = k.ok("bob", &["contact", "list"]);
    assert!(
        human.contains("(asked to connect, not verified)"),
        "{human}"
    );

    // The same safety number on both sides: 12 groups of 5 digits.
    let va = verify(&k, "alice", "bob", &[]);
    let vb = verify(&k, "bob", "alice", &[]);
    let number = va["safety_number"].as_str().expect("number").to_owned();
    assert_eq!(vb["safety_number"], number.as_str());
    let groups: Vec<&str> = number.split(' ').collect();
    assert_eq!(groups.len(), 12, "{number}");
    assert!(
        groups
            .iter()
            .all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit())),
        "{number}"
    );
    assert_eq!(
        (&va["alias"], &va["verified"]),
        (&"bob".into(), &false.into())
    );
    // For people: the number in rows, and how to mark.
    let text = k.ok("alice", &["contact", "verify", "bob"]);
    assert!(text.contains(&groups[..4].join(" ")), "{text}");
    assert!(text.contains(&groups[8..].join(" ")), "{text}");
    assert!(text.contains("kith contact verify bob --mark"), "{text}");

    // Alice marks Bob verified: her side only.
    let marked = verify(&k, "alice", "bob", &["--mark"]);
    assert_eq!(marked["verified"], true, "{marked}");
    assert_eq!(marked["safety_number"], number.as_str());
    assert_eq!(contact(&k, "alice", "bob").expect("bob")["verified"], true);
    assert_eq!(contact(&k, "alice", "bob").expect("bob")["origin"], "link");
    assert_eq!(
        contact(&k, "bob", "alice").expect("alice")["verified"],
        false
    );
    assert!(
        k.ok("alice", &["contact", "list"])
            .contains("(by link, verified)"),
        "human list shows it"
    );
    // Bob confirms with --confirm (the same as --mark).
    let confirmed = verify(&k, "bob", "alice", &["--confirm"]);
    assert_eq!(confirmed["verified"], true, "{confirmed}");
    let c = contact(&k, "bob", "alice").expect("alice");
    assert_eq!(
        (&c["origin"], &c["verified"]),
        (&"request".into(), &true.into())
    );

    // Stored: it survives the daemon's restart, and works with no daemon.
    alice.stop();
    assert_eq!(contact(&k, "alice", "bob").expect("bob")["verified"], true);
    assert_eq!(
        verify(&k, "alice", "bob", &[])["safety_number"],
        number.as_str()
    );
    let unmarked = verify(&k, "alice", "bob", &["--unmark"]);
    assert_eq!(unmarked["verified"], false, "{unmarked}");
    alice = k.start("alice", pa);
    assert_eq!(contact(&k, "alice", "bob").expect("bob")["verified"], false);
    assert_eq!(
        contact(&k, "bob", "alice").expect("alice")["verified"],
        true
    );

    // Errors: an unknown alias, and --mark with --unmark.
    assert!(
        !k.run("alice", &["contact", "verify", "nobody"])
            .status
            .success()
    );
    assert!(
        !k.run("alice", &["contact", "verify", "bob", "--mark", "--unmark"])
            .status
            .success()
    );
    alice.stop();
    bob.stop();
}
