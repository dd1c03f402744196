//! Story: two people answer, react to, edit, delete and clear messages, and set a
//! disappearing timer, through the `kith` command over TCP on 127.0.0.1
//! (issue 9 §§ 1–3).
//!
//! Deleted content being gone from the database file is the store's own
//! guarantee, tested where the bodies can be found on disk (kith-store's
//! secure-deletion tests: a sealed body cannot be grepped for here).

use std::time::Duration;

use kith_tests::cli::{Kith, free_port, wait_until};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(60);

fn link(k: &Kith, profile: &str) -> String {
    k.ok(profile, &["link"]).trim().to_owned()
}

fn find(k: &Kith, profile: &str, alias: &str, body: &str) -> Option<Value> {
    k.messages(profile, alias)
        .into_iter()
        .find(|m| m["body"] == body)
}

fn wait_for(k: &Kith, profile: &str, alias: &str, what: &str, f: impl Fn(&Value) -> bool) {
    wait_until(LONG, what, || {
        k.messages(profile, alias).iter().any(&f).then_some(())
    });
}

fn unconfirmed(k: &Kith, profile: &str, alias: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(k.ok(profile, &["history", "unconfirmed", alias]).trim())
        .expect("json");
    v["unconfirmed"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|i| i.as_str().expect("an id").to_owned())
        .collect()
}

#[test]
fn reply_react_delete_for_everyone_and_clear() {
    let k = Kith::new();
    k.create("alice");
    k.create("bob");
    let pb = free_port();
    let _alice = k.start("alice", free_port());
    let bob = k.start("bob", pb);
    let bob_link = link(&k, "bob");
    k.ok("alice", &["contact", "add", &bob_link, "--alias", "bob"]);
    wait_until(LONG, "request at bob", || {
        k.contacts("bob")
            .into_iter()
            .find(|c| c["alias"] == "alice" && c["state"] == "request")
    });
    k.ok("bob", &["contact", "accept", "alice"]);

    // A message, and bob's answer to it, quoting it.
    k.ok("alice", &["send", "bob", "where do we meet?"]);
    wait_for(&k, "bob", "alice", "question received", |m| {
        m["body"] == "where do we meet?"
    });
    let question = find(&k, "bob", "alice", "where do we meet?").expect("question");
    let qid = question["id"].as_str().expect("id").to_owned();
    assert_eq!(question["kind"], "text");
    assert!(question["reply_to"].is_null());
    assert_eq!(question["reactions"], serde_json::json!([]));
    k.ok(
        "bob",
        &["send", "alice", "at the station", "--reply-to", &qid],
    );
    wait_for(&k, "alice", "bob", "answer received", |m| {
        m["body"] == "at the station"
            && m["reply_to"]["id"] == qid.as_str()
            && m["reply_to"]["quote"] == "message"
            && m["reply_to"]["body"] == "where do we meet?"
            && m["reply_to"]["direction"] == "out"
    });
    assert!(
        !k.run("bob", &["send", "alice", "x", "--reply-to", "zz"])
            .status
            .success(),
        "a reply to an id that is not one"
    );

    // Alice reacts to the answer, then takes it back.
    let answer = find(&k, "alice", "bob", "at the station").expect("answer");
    let aid = answer["id"].as_str().expect("id").to_owned();
    k.ok("alice", &["react", "bob", &aid, "👍"]);
    wait_for(&k, "bob", "alice", "reaction at bob", |m| {
        m["id"] == aid.as_str()
            && m["reactions"] == serde_json::json!([{"by": "them", "emoji": "👍"}])
    });
    assert!(
        !k.run("alice", &["react", "bob", &aid, "hello"])
            .status
            .success(),
        "text is not a reaction"
    );
    k.ok("alice", &["react", "bob", &aid, "--remove"]);
    wait_for(&k, "bob", "alice", "reaction withdrawn at bob", |m| {
        m["id"] == aid.as_str() && m["reactions"] == serde_json::json!([])
    });

    // Alice deletes her question for everyone while bob is away: it waits
    // unconfirmed, then bob's node removes it when he is back and
    // confirms; bob's answer now quotes a deleted message. Bob cannot
    // delete it for both: it is not his.
    assert!(
        !k.run("bob", &["delete", "alice", &qid, "--for-everyone"])
            .status
            .success()
    );
    bob.stop();
    k.ok("alice", &["delete", "bob", &qid, "--for-everyone"]);
    assert!(find(&k, "alice", "bob", "where do we meet?").is_none());
    assert_eq!(unconfirmed(&k, "alice", "bob"), vec![qid.clone()]);
    assert!(find(&k, "bob", "alice", "where do we meet?").is_some());
    let _bob = k.start("bob", pb);
    wait_until(LONG, "alice's delete confirmed", || {
        unconfirmed(&k, "alice", "bob").is_empty().then_some(())
    });
    assert!(find(&k, "bob", "alice", "where do we meet?").is_none());
    let answer = find(&k, "bob", "alice", "at the station").expect("answer");
    assert_eq!(answer["reply_to"]["quote"], "deleted");

    // Delete for me only: bob's copy stays.
    k.ok("alice", &["delete", "bob", &aid]);
    assert!(find(&k, "alice", "bob", "at the station").is_none());
    assert!(find(&k, "bob", "alice", "at the station").is_some());
    assert!(!k.run("alice", &["delete", "bob", &aid]).status.success());

    // Clearing history is ours only.
    k.ok("alice", &["send", "bob", "one more"]);
    wait_for(&k, "bob", "alice", "one more received", |m| {
        m["body"] == "one more"
    });
    // Alice edits "one more": bob's copy changes, both show it edited, and
    // her edit is acknowledged. Bob cannot edit it: it is hers.
    let more = find(&k, "alice", "bob", "one more").expect("one more");
    let mid = more["id"].as_str().expect("id").to_owned();
    assert!(more["edited"].is_null());
    assert!(
        !k.run("bob", &["edit", "alice", &mid, "mine now"])
            .status
            .success(),
        "only its author edits a message"
    );
    let edited: Value = serde_json::from_str(
        k.ok("alice", &["edit", "bob", &mid, "one more thing"])
            .trim(),
    )
    .expect("json");
    assert_eq!(edited["body"], "one more thing");
    assert!(edited["edited"]["at"].as_u64().is_some());
    wait_for(&k, "bob", "alice", "the edit at bob", |m| {
        m["id"] == mid.as_str() && m["body"] == "one more thing" && m["edited"]["delivered"] == true
    });
    wait_for(&k, "alice", "bob", "the edit acknowledged", |m| {
        m["id"] == mid.as_str() && m["edited"]["delivered"] == true
    });
    assert!(
        find(&k, "bob", "alice", "one more").is_none(),
        "old text kept"
    );
    let shown = k.ok("bob", &["messages", "alice"]);
    assert!(
        shown.contains("one more thing [received]  (edited "),
        "{shown}"
    );

    let out = k.ok("bob", &["history", "clear", "alice"]);
    // Two messages, and what is left of the deleted question (its id).
    assert!(out.contains("deleted 3 messages"), "{out}");
    assert!(k.messages("bob", "alice").is_empty());
    assert!(find(&k, "alice", "bob", "one more thing").is_some());
}

#[test]
fn disappearing_timer_and_history_settings() {
    let k = Kith::new();
    k.create("alice");
    k.create("bob");
    let _alice = k.start("alice", free_port());
    let _bob = k.start("bob", free_port());
    let bob_link = link(&k, "bob");
    k.ok("alice", &["contact", "add", &bob_link, "--alias", "bob"]);
    wait_until(LONG, "request at bob", || {
        k.contacts("bob")
            .into_iter()
            .find(|c| c["alias"] == "alice" && c["state"] == "request")
    });
    k.ok("bob", &["contact", "accept", "alice"]);

    let set = k.ok("alice", &["contact", "set", "bob", "--disappear", "1h"]);
    let set: Value = serde_json::from_str(set.trim()).expect("json");
    assert_eq!(set["disappear"], "1h");
    assert_eq!(set["history"], "keep");
    // The line shows on both sides, and bob's node applies the timer.
    wait_for(&k, "bob", "alice", "timer line at bob", |m| {
        m["kind"] == "timer" && m["timer"] == "1h" && m["direction"] == "in"
    });
    k.ok("bob", &["send", "alice", "this goes in an hour"]);
    let sent = find(&k, "bob", "alice", "this goes in an hour").expect("sent");
    assert_eq!(sent["disappear"], "1h");
    let at = sent["expires_at"].as_u64().expect("a deadline");
    let time = sent["time"].as_u64().expect("time");
    assert_eq!(at - time, 3_600_000);
    wait_for(&k, "alice", "bob", "it arrives with its deadline", |m| {
        m["body"] == "this goes in an hour" && m["expires_at"].as_u64().is_some()
    });

    assert!(
        !k.run("alice", &["contact", "set", "bob", "--disappear", "2m"])
            .status
            .success()
    );
    assert!(
        !k.run("alice", &["contact", "set", "bob", "--history", "never"])
            .status
            .success()
    );
    let set = k.ok("bob", &["contact", "set", "alice", "--history", "session"]);
    assert!(set.contains("\"session\""), "{set}");
    k.ok("bob", &["contact", "set", "alice", "--disappear", "off"]);
    wait_for(&k, "alice", "bob", "timer off at alice", |m| {
        m["kind"] == "timer" && m["timer"] == "off" && m["direction"] == "in"
    });
}
