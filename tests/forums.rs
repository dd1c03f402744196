//! Story (issue 11 § 1): a forum over onion services, through the `kith`
//! command, three real nodes on the private Tor network. Alice and Bob are
//! contacts, Bob and Carol are contacts; Alice and Carol are not. Alice
//! makes "Commons" and invites Bob; Bob, a member, invites Carol (any
//! member may). Carol's post reaches Alice through Bob, who relays, and
//! Alice's answer in its thread reaches Carol the same way. Alice, the
//! creator, hides Carol for everyone: Bob's app shows Carol's posts as
//! hidden, text withheld. Bob hides Alice for himself only. Alice leaves:
//! the forum lives on between Bob and Carol.

use std::time::{Duration, Instant};

use kith_tests::cli::{Kith, befriend_online, json_lines, wait_until};
use kith_tests::tornet::TorNet;
use serde_json::Value;

const LONG: Duration = Duration::from_secs(240);

fn forum(k: &Kith, profile: &str) -> Option<Value> {
    json_lines(&k.ok(profile, &["forum", "list", "--json"]))
        .into_iter()
        .find(|g| g["name"] == "Commons")
}

/// The forum's posts at `profile`, as its `messages --json` shows them
/// (hidden posts without their text).
fn posts(k: &Kith, profile: &str) -> Vec<Value> {
    json_lines(&k.ok(profile, &["forum", "messages", "Commons", "--json"]))
        .into_iter()
        .filter(|m| m["kind"] == "post")
        .collect()
}

fn post_with<'a>(posts: &'a [Value], text: &str) -> Option<&'a Value> {
    posts.iter().find(|m| m["body"] == text)
}

fn has_post(k: &Kith, profile: &str, text: &str) -> bool {
    post_with(&posts(k, profile), text).is_some()
}

fn invited(k: &Kith, profile: &str) -> Value {
    wait_until(LONG, &format!("the invitation at {profile}"), || {
        json_lines(&k.ok(profile, &["forum", "invitations", "--json"]))
            .into_iter()
            .find(|i| i["name"] == "Commons")
    })
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

#[test]
fn a_forum_over_tor_relays_between_members_who_are_not_contacts() {
    let t0 = Instant::now();
    let net = TorNet::shared().expect("private Tor network");
    println!(
        "timing: forums: private Tor network ready after {:.1} s (or shared)",
        secs(t0)
    );
    let (ka, kb, kc) = (Kith::new(), Kith::new(), Kith::new());
    ka.create("alice");
    kb.create("bob");
    kc.create("carol");
    let t = Instant::now();
    let alice = ka.start_tor("alice", net.arti_config(), LONG);
    let _bob = kb.start_tor("bob", net.arti_config(), LONG);
    let _carol = kc.start_tor("carol", net.arti_config(), LONG);
    println!("timing: forums: three nodes online after {:.1} s", secs(t));
    let t = Instant::now();
    befriend_online(&ka, "alice", &kb, "bob", LONG);
    befriend_online(&kb, "bob", &kc, "carol", LONG);
    println!("timing: forums: two contacts made in {:.1} s", secs(t));

    // Alice makes the forum and invites Bob; Bob invites Carol.
    let created: Value = serde_json::from_str(
        ka.ok(
            "alice",
            &["forum", "create", "Commons", "--description", "open talk"],
        )
        .trim(),
    )
    .expect("the forum as JSON");
    assert_eq!(created["ours"], true, "{created}");
    let t = Instant::now();
    ka.ok("alice", &["forum", "invite", "Commons", "bob"]);
    let i = invited(&kb, "bob");
    assert_eq!(i["from"], "alice", "{i}");
    assert_eq!(i["group"], created["id"], "{i}");
    kb.ok("bob", &["forum", "accept", "Commons"]);
    wait_until(LONG, "bob a member", || {
        forum(&kb, "bob").filter(|f| f["state"] == "member")
    });
    kb.ok("bob", &["forum", "invite", "Commons", "carol"]);
    let i = invited(&kc, "carol");
    assert_eq!(
        i["from"], "bob",
        "invited by the member, not the creator: {i}"
    );
    assert_eq!(i["description"], "open talk", "{i}");
    kc.ok("carol", &["forum", "accept", "Commons"]);
    wait_until(LONG, "three members everywhere", || {
        [(&ka, "alice"), (&kb, "bob"), (&kc, "carol")]
            .iter()
            .all(|(k, p)| forum(k, p).is_some_and(|f| f["state"] == "member" && f["members"] == 3))
            .then_some(())
    });
    println!(
        "timing: forums: invited through a member, three members everywhere, in {:.1} s",
        secs(t)
    );

    // Carol's post reaches Alice, whom she does not know, through Bob.
    let t = Instant::now();
    let hello: Value = serde_json::from_str(
        kc.ok("carol", &["forum", "post", "Commons", "hello"])
            .trim(),
    )
    .expect("the post as JSON");
    let hello_id = hello["id"].as_str().expect("an id").to_owned();
    let at_alice = wait_until(LONG, "carol's post at alice", || {
        post_with(&posts(&ka, "alice"), "hello").cloned()
    });
    assert!(
        at_alice["author"]["member"].is_string(),
        "carol is no contact of alice's: {at_alice}"
    );
    println!(
        "timing: forums: a post at a member who is not a contact (relayed) after {:.1} s",
        secs(t)
    );
    let t = Instant::now();
    ka.ok(
        "alice",
        &[
            "forum",
            "post",
            "Commons",
            "welcome",
            "--reply-to",
            &hello_id,
        ],
    );
    wait_until(LONG, "alice's answer at carol, in its thread", || {
        posts(&kc, "carol")
            .into_iter()
            .find(|m| m["body"] == "welcome" && m["reply_to"] == hello_id.as_str())
    });
    println!(
        "timing: forums: the answer back in its thread after {:.1} s",
        secs(t)
    );

    // Alice hides Carol for everyone: Bob's node honours the signed list.
    let carol_address = json_lines(&ka.ok("alice", &["forum", "members", "Commons", "--json"]))
        .into_iter()
        .find(|m| m["who"]["member"].is_string() && m["creator"] == false)
        .and_then(|m| m["address"].as_str().map(str::to_owned))
        .expect("carol among alice's members");
    let t = Instant::now();
    ka.ok(
        "alice",
        &["forum", "hide", "Commons", &carol_address, "--for-everyone"],
    );
    let hidden = wait_until(LONG, "carol's post hidden at bob", || {
        posts(&kb, "bob")
            .into_iter()
            .find(|m| m["id"] == hello_id.as_str() && m["hidden"] == "creator")
    });
    assert!(
        hidden["body"].is_null(),
        "a hidden post's text shown: {hidden}"
    );
    let shown = json_lines(&kb.ok(
        "bob",
        &["forum", "messages", "Commons", "--json", "--show-hidden"],
    ));
    assert!(
        shown
            .iter()
            .any(|m| m["body"] == "hello" && m["hidden"] == "creator"),
        "--show-hidden does not show the text, marked"
    );
    let lists: Value = serde_json::from_str(
        kb.ok("bob", &["forum", "hidden", "Commons", "--json"])
            .trim(),
    )
    .expect("the hidden lists as JSON");
    assert_eq!(
        lists["creator"].as_array().map(Vec::len),
        Some(1),
        "{lists}"
    );
    println!(
        "timing: forums: the creator's hidden list honoured at a member after {:.1} s",
        secs(t)
    );

    // Bob hides Alice for himself: nobody else is told.
    kb.ok("bob", &["forum", "hide", "Commons", "alice"]);
    let welcome = post_with(&posts(&kb, "bob"), "welcome").cloned();
    assert!(welcome.is_none(), "alice's post shown with its text at bob");
    assert!(
        posts(&kb, "bob")
            .iter()
            .any(|m| m["reply_to"] == hello_id.as_str() && m["hidden"] == "you"),
        "alice's answer not marked hidden by bob"
    );
    assert!(has_post(&kc, "carol", "welcome"), "bob's own hiding spread");

    // Alice leaves; the forum lives on between Bob and Carol.
    let t = Instant::now();
    ka.ok("alice", &["forum", "leave", "Commons"]);
    wait_until(LONG, "bob sees alice gone", || {
        json_lines(&kb.ok("bob", &["forum", "members", "Commons", "--json"]))
            .into_iter()
            .find(|m| m["who"]["contact"] == "alice" && m["state"] == "left")
    });
    kb.ok("bob", &["forum", "post", "Commons", "still on"]);
    wait_until(LONG, "bob's post at carol after the creator left", || {
        has_post(&kc, "carol", "still on").then_some(())
    });
    assert_eq!(
        forum(&kc, "carol").expect("the forum")["state"],
        "member",
        "the creator's leaving ended the forum"
    );
    println!(
        "timing: forums: after the creator left, a post between the others in {:.1} s",
        secs(t)
    );
    alice.stop();
    println!("timing: forums: whole Tor story {:.1} s", secs(t0));
}
