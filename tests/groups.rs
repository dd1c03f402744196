//! Story (issue 10 § 3): a private group over onion services, through the
//! `kith` command, three real nodes on the private Tor network. Alice
//! creates "Garden" and invites her contacts Bob and Carol; they join, and
//! since they are contacts of each other they reveal that and sync
//! directly. With Alice's node stopped, Bob's post reaches Carol through
//! their own sync; Alice catches up when she is back. Alice removes Carol:
//! nothing written after that reaches her, and what she writes reaches no
//! one.

use std::time::{Duration, Instant};

use kith_tests::cli::{Daemon, Kith, befriend_online, json_lines, wait_until};
use kith_tests::tornet::TorNet;
use serde_json::Value;

const LONG: Duration = Duration::from_secs(240);

/// Start a Kith node over the private Tor network, and wait until online.
fn start(k: &Kith, profile: &str, net: &TorNet) -> Daemon {
    k.start_tor(profile, net.arti_config(), LONG)
}

fn group(k: &Kith, profile: &str) -> Option<Value> {
    json_lines(&k.ok(profile, &["group", "list", "--json"]))
        .into_iter()
        .find(|g| g["name"] == "Garden")
}

fn posts(k: &Kith, profile: &str) -> Vec<String> {
    json_lines(&k.ok(profile, &["group", "messages", "Garden", "--json"]))
        .into_iter()
        .filter(|m| m["kind"] == "post")
        .filter_map(|m| m["body"].as_str().map(str::to_owned))
        .collect()
}

fn has_post(k: &Kith, profile: &str, text: &str) -> bool {
    posts(k, profile).iter().any(|p| p == text)
}

fn members(k: &Kith, profile: &str) -> Vec<Value> {
    json_lines(&k.ok(profile, &["group", "members", "Garden", "--json"]))
}

/// `profile` sees its contact `alias` as a member it syncs with directly.
fn direct_with(k: &Kith, profile: &str, alias: &str) -> bool {
    members(k, profile)
        .iter()
        .any(|m| m["who"]["contact"] == alias && m["direct"] == true)
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

#[test]
fn a_private_group_over_tor_relays_member_to_member() {
    let t0 = Instant::now();
    let net = TorNet::shared().expect("private Tor network");
    println!(
        "timing: groups: private Tor network ready after {:.1} s (or shared)",
        secs(t0)
    );
    let (ka, kb, kc) = (Kith::new(), Kith::new(), Kith::new());
    ka.create("alice");
    kb.create("bob");
    kc.create("carol");
    let t = Instant::now();
    let mut alice = start(&ka, "alice", net);
    let _bob = start(&kb, "bob", net);
    let _carol = start(&kc, "carol", net);
    println!("timing: groups: three nodes online after {:.1} s", secs(t));
    let t = Instant::now();
    befriend_online(&ka, "alice", &kb, "bob", LONG);
    befriend_online(&ka, "alice", &kc, "carol", LONG);
    befriend_online(&kb, "bob", &kc, "carol", LONG);
    println!("timing: groups: three contacts made in {:.1} s", secs(t));

    // Alice creates the group and invites both; only she may invite.
    let created: Value = serde_json::from_str(
        ka.ok(
            "alice",
            &[
                "group",
                "create",
                "Garden",
                "--description",
                "plots and seeds",
            ],
        )
        .trim(),
    )
    .expect("the group as JSON");
    assert_eq!(created["ours"], true, "{created}");
    assert_eq!(created["state"], "member", "{created}");
    let t = Instant::now();
    ka.ok("alice", &["group", "invite", "Garden", "bob"]);
    ka.ok("alice", &["group", "invite", "Garden", "carol"]);
    for (k, p) in [(&kb, "bob"), (&kc, "carol")] {
        let i = wait_until(LONG, &format!("the invitation at {p}"), || {
            json_lines(&k.ok(p, &["group", "invitations", "--json"]))
                .into_iter()
                .find(|i| i["name"] == "Garden")
        });
        assert_eq!(i["from"], "alice", "{i}");
        assert_eq!(i["description"], "plots and seeds", "{i}");
        assert_eq!(i["group"], created["id"], "{i}");
        let human = k.ok(p, &["group", "invitations"]);
        assert!(human.contains("alice"), "{human}");
        k.ok(p, &["group", "accept", "Garden"]);
    }
    let bob_invites = kb.run("bob", &["group", "invite", "Garden", "carol"]);
    assert!(
        !bob_invites.status.success(),
        "bob invited to alice's group"
    );
    wait_until(LONG, "three members everywhere", || {
        [(&ka, "alice"), (&kb, "bob"), (&kc, "carol")]
            .iter()
            .all(|(k, p)| group(k, p).is_some_and(|g| g["state"] == "member" && g["members"] == 3))
            .then_some(())
    });
    println!(
        "timing: groups: both invited and joined, three members everywhere, in {:.1} s",
        secs(t)
    );

    // A post reaches everyone (through the creator); a reply in its thread.
    let t = Instant::now();
    let hello: Value = serde_json::from_str(
        kb.ok("bob", &["group", "send", "Garden", "hello all"])
            .trim(),
    )
    .expect("the post as JSON");
    let hello_id = hello["id"].as_str().expect("an id").to_owned();
    wait_until(LONG, "bob's post at carol", || {
        has_post(&kc, "carol", "hello all").then_some(())
    });
    println!(
        "timing: groups: a post at the other member (via the creator) after {:.1} s",
        secs(t)
    );
    kc.ok(
        "carol",
        &["group", "send", "Garden", "hi bob", "--reply-to", &hello_id],
    );
    wait_until(LONG, "carol's reply at bob, in its thread", || {
        json_lines(&kb.ok("bob", &["group", "messages", "Garden", "--json"]))
            .into_iter()
            .find(|m| m["body"] == "hi bob" && m["reply_to"] == hello_id.as_str())
    });

    // Bob and Carol reveal to each other: they sync directly.
    let t = Instant::now();
    kb.ok("bob", &["group", "reveal", "Garden", "carol"]);
    kc.ok("carol", &["group", "reveal", "Garden", "bob"]);
    wait_until(LONG, "bob and carol direct both ways", || {
        (direct_with(&kb, "bob", "carol") && direct_with(&kc, "carol", "bob")).then_some(())
    });
    println!("timing: groups: revealed both ways in {:.1} s", secs(t));

    // Alice goes offline; Bob's post reaches Carol through their own sync.
    alice.stop();
    let t = Instant::now();
    kb.ok("bob", &["group", "send", "Garden", "while alice is away"]);
    wait_until(LONG, "bob's post at carol, alice offline", || {
        has_post(&kc, "carol", "while alice is away").then_some(())
    });
    println!(
        "timing: groups: with the creator offline, a post at the other member after {:.1} s",
        secs(t)
    );
    let missing = group(&kc, "carol").expect("the group")["missing"].clone();
    assert_eq!(missing, 0, "carol waits for messages she should have");

    // Alice comes back and catches up.
    // (Her profile read without a daemon: the post is not there yet.)
    assert!(
        !has_post(&ka, "alice", "while alice is away"),
        "alice had the post before she came back"
    );
    let t = Instant::now();
    alice = start(&ka, "alice", net);
    wait_until(LONG, "alice catches up", || {
        has_post(&ka, "alice", "while alice is away").then_some(())
    });
    println!(
        "timing: groups: the creator caught up {:.1} s after she started again",
        secs(t)
    );

    // Alice removes Carol: nothing written after reaches her.
    let t = Instant::now();
    ka.ok("alice", &["group", "remove", "Garden", "carol"]);
    wait_until(LONG, "bob sees carol removed", || {
        members(&kb, "bob")
            .into_iter()
            .find(|m| m["who"]["contact"] == "carol" && m["state"] == "removed")
    });
    // (Carol is not told: nobody syncs with a removed member, so the
    // creator's `Remove` does not reach her either; protocol § 15.)
    println!(
        "timing: groups: the removal known to the other member after {:.1} s",
        secs(t)
    );
    kb.ok(
        "bob",
        &["group", "send", "Garden", "after carol was removed"],
    );
    ka.ok("alice", &["group", "send", "Garden", "alice, after"]);
    wait_until(LONG, "alice has bob's post", || {
        has_post(&ka, "alice", "after carol was removed").then_some(())
    });
    wait_until(LONG, "bob has alice's post", || {
        has_post(&kb, "bob", "alice, after").then_some(())
    });
    // What carol writes now reaches no one: nobody syncs with her.
    kc.ok("carol", &["group", "send", "Garden", "still here?"]);
    // Give every sync time to run (each exchange is a second or two here).
    std::thread::sleep(Duration::from_secs(10));
    let at_carol = posts(&kc, "carol");
    assert!(
        !at_carol
            .iter()
            .any(|p| p == "after carol was removed" || p == "alice, after"),
        "a removed member got a later post: {at_carol:?}"
    );
    for (k, p) in [(&ka, "alice"), (&kb, "bob")] {
        assert!(
            !has_post(k, p, "still here?"),
            "{p} got a post from the removed member"
        );
    }
    alice.stop();
    println!("timing: groups: whole Tor story {:.1} s", secs(t0));
}
