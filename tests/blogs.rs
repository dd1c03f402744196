//! Story (issue 11 § 2): blogs over onion services, through the `kith`
//! command, three real nodes on the private Tor network. Alice's contacts
//! are Bob and Carol, who are not each other's. Alice posts; both read it.
//! Bob comments and Carol gets the comment through Alice; Carol answers
//! and Bob gets it. Carol reblogs Alice's post and Alice reads it as her
//! own post, inside Carol's. Alice turns her blog off: she cannot post,
//! Bob's comment stays with him, and she still reads Carol's blog; on
//! again, the comment comes. Alice removes Carol: her next post reaches
//! Bob only.

use std::time::{Duration, Instant};

use kith_tests::cli::{Daemon, Kith, befriend_online, json_lines, wait_until};
use kith_tests::tornet::TorNet;
use serde_json::Value;

const LONG: Duration = Duration::from_secs(240);

fn start(k: &Kith, profile: &str, net: &TorNet) -> Daemon {
    k.start_tor(profile, net.arti_config(), LONG)
}

fn feed(k: &Kith, profile: &str) -> Vec<Value> {
    json_lines(&k.ok(profile, &["blog", "feed", "--json"]))
}

/// The feed entry whose own text is `text`.
fn entry(k: &Kith, profile: &str, text: &str) -> Option<Value> {
    feed(k, profile).into_iter().find(|e| e["body"] == text)
}

fn has_comment(k: &Kith, profile: &str, on: &str, text: &str) -> bool {
    entry(k, profile, on).is_some_and(|e| {
        e["comments"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["body"] == text))
    })
}

fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).expect("JSON")
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

#[test]
fn blogs_over_tor_comment_through_the_owner_and_reblog_verifiably() {
    let t0 = Instant::now();
    let net = TorNet::shared().expect("private Tor network");
    let (ka, kb, kc) = (Kith::new(), Kith::new(), Kith::new());
    ka.create("alice");
    kb.create("bob");
    kc.create("carol");
    let alice = start(&ka, "alice", net);
    let _bob = start(&kb, "bob", net);
    let _carol = start(&kc, "carol", net);
    befriend_online(&ka, "alice", &kb, "bob", LONG);
    befriend_online(&ka, "alice", &kc, "carol", LONG);
    println!(
        "timing: blogs: nodes and contacts ready after {:.1} s",
        secs(t0)
    );
    let status = json(&ka.ok("alice", &["blog", "status", "--json"]));
    assert_eq!(status["on"], true, "{status}");

    // A post reaches both contacts.
    let t = Instant::now();
    let hello = json(&ka.ok("alice", &["blog", "post", "hello from alice"]));
    let hello_id = hello["id"].as_str().expect("an id").to_owned();
    for (k, p) in [(&kb, "bob"), (&kc, "carol")] {
        let e = wait_until(LONG, &format!("alice's post at {p}"), || {
            entry(k, p, "hello from alice")
        });
        assert_eq!(e["owner"]["contact"], "alice", "{e}");
        assert_eq!(e["id"], hello_id.as_str(), "{e}");
        assert_eq!(e["blog"], status["blog"], "{e}");
        assert!(e["reblog_of"].is_null(), "{e}");
    }
    println!(
        "timing: blogs: a post at both readers after {:.1} s",
        secs(t)
    );

    // Bob's comment reaches Carol through Alice; Carol's answer reaches Bob.
    let t = Instant::now();
    let bobs = json(&kb.ok("bob", &["blog", "comment", &hello_id, "nice post"]));
    let bobs_id = bobs["id"].as_str().expect("an id").to_owned();
    wait_until(LONG, "bob's comment at carol", || {
        has_comment(&kc, "carol", "hello from alice", "nice post").then_some(())
    });
    println!(
        "timing: blogs: a comment at the other reader (through the owner) after {:.1} s",
        secs(t)
    );
    kc.ok("carol", &["blog", "comment", &bobs_id, "agreed"]);
    wait_until(LONG, "carol's answer at bob", || {
        entry(&kb, "bob", "hello from alice").and_then(|e| {
            e["comments"]
                .as_array()?
                .iter()
                .find(|c| c["body"] == "agreed" && c["reply_to"] == bobs_id.as_str())
                .cloned()
        })
    });
    let human = kb.ok("bob", &["blog", "feed"]);
    assert!(
        human.contains("hello from alice") && human.contains("agreed"),
        "{human}"
    );
    // Nobody comments on what is not there, nor reblogs a comment.
    assert!(
        !kb.run("bob", &["blog", "comment", &"ab".repeat(32), "x"])
            .status
            .success()
    );
    assert!(
        !kb.run("bob", &["blog", "reblog", &bobs_id])
            .status
            .success(),
        "a comment reblogged"
    );

    // Carol reblogs Alice's post: Alice reads it as her own, signed by her,
    // inside Carol's reblog.
    let t = Instant::now();
    let rb = json(&kc.ok("carol", &["blog", "reblog", &hello_id, "worth reading"]));
    let e = wait_until(LONG, "carol's reblog at alice", || {
        entry(&ka, "alice", "worth reading")
    });
    assert_eq!(e["id"], rb["id"], "{e}");
    assert_eq!(e["kind"], "reblog", "{e}");
    assert_eq!(e["owner"]["contact"], "carol", "{e}");
    assert_eq!(e["reblog_of"]["id"], hello_id.as_str(), "{e}");
    assert_eq!(e["reblog_of"]["author"]["you"], true, "{e}");
    assert_eq!(e["reblog_of"]["body"], "hello from alice", "{e}");
    println!(
        "timing: blogs: a reblog at its reader after {:.1} s",
        secs(t)
    );

    // Alice turns her blog off: no posting; Bob's comment stays with him;
    // she still reads Carol's blog.
    ka.ok("alice", &["blog", "off"]);
    assert_eq!(
        json(&ka.ok("alice", &["blog", "status", "--json"]))["on"],
        false
    );
    assert!(
        !ka.run("alice", &["blog", "post", "while off"])
            .status
            .success(),
        "posted to a blog that is off"
    );
    kb.ok("bob", &["blog", "comment", &hello_id, "are you there?"]);
    kc.ok("carol", &["blog", "post", "carol's news"]);
    wait_until(LONG, "carol's post at alice, her blog off", || {
        entry(&ka, "alice", "carol's news")
    });
    std::thread::sleep(Duration::from_secs(10));
    assert!(
        !has_comment(&ka, "alice", "hello from alice", "are you there?"),
        "a comment synced to a blog that is off"
    );
    let t = Instant::now();
    ka.ok("alice", &["blog", "on"]);
    wait_until(LONG, "bob's comment once alice's blog is on", || {
        has_comment(&ka, "alice", "hello from alice", "are you there?").then_some(())
    });
    println!(
        "timing: blogs: the blog on again, the waiting comment in after {:.1} s",
        secs(t)
    );

    // Alice removes Carol: her next post reaches Bob, not Carol.
    ka.ok("alice", &["contact", "remove", "carol"]);
    ka.ok("alice", &["blog", "post", "after carol"]);
    wait_until(LONG, "alice's post at bob", || {
        entry(&kb, "bob", "after carol")
    });
    std::thread::sleep(Duration::from_secs(10));
    assert!(
        entry(&kc, "carol", "after carol").is_none(),
        "a removed contact still reads the blog"
    );
    alice.stop();
    println!("timing: blogs: whole Tor story {:.1} s", secs(t0));
}
