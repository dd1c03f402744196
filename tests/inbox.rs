//! Story: a public inbox for anonymous messages, through the `kith`
//! command, over TCP on 127.0.0.1 (issue 8, section 5).
//!
//! Alice switches her inbox on and shares its link; Bob drops from his
//! own running node, and someone with no profile at all drops with `kith
//! drop --transport tcp`. The drops are in Alice's inbox and in no
//! conversation; a rotated link and a switched-off inbox fail with a clear
//! error; a flood is capped; an oversized drop fails with its limit.

use std::process::{Command, Stdio};
use std::time::Duration;

use kith_tests::cli::{Kith, free_port, kith_bin, wait_until};

const LONG: Duration = Duration::from_secs(60);

/// `kith inbox link`, once its listener runs (it has a TCP hint).
fn inbox_link(k: &Kith, profile: &str) -> String {
    wait_until(LONG, "an inbox link with a TCP hint", || {
        let out = k.run(profile, &["inbox", "link"]);
        let l = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (out.status.success() && l.contains("?inbox&tcp=127.0.0.1:")).then_some(l)
    })
}

fn inbox(k: &Kith, profile: &str) -> serde_json::Value {
    serde_json::from_str(&k.ok(profile, &["inbox", "list", "--json"])).expect("json")
}

fn bodies(k: &Kith, profile: &str) -> Vec<String> {
    inbox(k, profile)["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `kith drop --transport tcp LINK TEXT` with no profile at all.
fn anonymous_drop(k: &Kith, link: &str, text: &str) -> std::process::Output {
    Command::new(kith_bin())
        .arg("--data-dir")
        .arg(k.dir.path())
        .args(["drop", "--transport", "tcp", link, text])
        .env_remove("KITH_PROFILE")
        .env_remove("KITH_DATA_DIR")
        .env_remove("KITH_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .expect("running kith")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn inbox_end_to_end_over_tcp() {
    let k = Kith::new();
    k.create("alice");
    k.create("bob");
    let alice = k.start("alice", free_port());
    let bob = k.start("bob", free_port());

    // Off by default.
    let out = k.run("alice", &["inbox", "link"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the inbox is off"),
        "{}",
        stderr(&out)
    );
    k.ok("alice", &["inbox", "on"]);
    let link = inbox_link(&k, "alice");
    // Not the profile's link, and never taken for a contact link.
    let contact_link = k.ok("alice", &["link"]);
    let addr = |l: &str| l.trim().trim_start_matches("kith://")[..56].to_owned();
    assert_ne!(addr(&link), addr(&contact_link));
    let out = k.run("bob", &["contact", "add", &link, "--alias", "alice"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("inbox link"), "{}", stderr(&out));
    let out = anonymous_drop(&k, contact_link.trim(), "hi");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("contact link"), "{}", stderr(&out));

    // From Bob's running node, and from nobody at all.
    k.ok("bob", &["drop", &link, "from bob's node"]);
    let out = anonymous_drop(&k, &link, "from nobody");
    assert!(out.status.success(), "{}", stderr(&out));
    let v = inbox(&k, "alice");
    assert_eq!(v["on"], true);
    let ms = v["messages"].as_array().expect("messages");
    assert_eq!(ms.len(), 2, "{v}");
    assert!(ms.iter().all(|m| m["seen"] == false), "{v}");
    // That listing marked them seen.
    let st = k.status("alice");
    assert_eq!(
        st["inbox"],
        serde_json::json!({ "on": true, "count": 2, "unseen": 0 }),
        "{st}"
    );
    assert_eq!(inbox(&k, "alice")["messages"][1]["seen"], true);
    assert_eq!(ms[0]["body"], "from bob's node");
    assert_eq!(ms[0]["reply"], serde_json::Value::Null);
    assert_eq!(ms[1]["body"], "from nobody");
    assert_eq!(ms[0]["id"].as_str().map(str::len), Some(32));
    // In no conversation: Alice has no contact, Bob none either.
    assert!(k.contacts("alice").is_empty());
    assert!(k.contacts("bob").is_empty());

    // An oversized drop fails with its limit, before dialing.
    let long = "a".repeat(4097);
    let out = anonymous_drop(&k, &link, &long);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("at most 4096"), "{}", stderr(&out));
    let out = k.run("bob", &["drop", &link, &long]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("at most 4096"), "{}", stderr(&out));

    // Rotated: the old link fails, clearly; the new one works.
    k.ok("alice", &["inbox", "rotate"]);
    let new_link = wait_until(LONG, "a new inbox link", || {
        let l = inbox_link(&k, "alice");
        (l != link).then_some(l)
    });
    let out = anonymous_drop(&k, &link, "to the old address");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the inbox did not answer"),
        "{}",
        stderr(&out)
    );
    let out = anonymous_drop(&k, &new_link, "to the new address");
    assert!(out.status.success(), "{}", stderr(&out));

    // A flood is capped: a burst is taken, then "try again later".
    let mut busy = 0;
    for i in 0..25 {
        let out = anonymous_drop(&k, &new_link, &format!("flood {i}"));
        if !out.status.success() {
            assert!(stderr(&out).contains("try again later"), "{}", stderr(&out));
            busy += 1;
        }
    }
    assert!(busy >= 5, "only {busy} refused");
    let kept = bodies(&k, "alice");
    assert!(kept.len() <= 50, "{}", kept.len());
    assert!(kept.iter().any(|b| b == "from bob's node"));

    // Off: nothing answers.
    k.ok("alice", &["inbox", "off"]);
    wait_until(LONG, "the inbox listener gone", || {
        let out = anonymous_drop(&k, &new_link, "while off");
        (!out.status.success() && stderr(&out).contains("the inbox did not answer")).then_some(())
    });
    assert!(!bodies(&k, "alice").iter().any(|b| b == "while off"));
    let v = inbox(&k, "alice");
    assert_eq!(v["on"], false);
    assert_eq!(v["link"], serde_json::Value::Null);
    assert_eq!(k.status("alice")["inbox"]["on"], false);

    bob.stop();
    alice.stop();
}

/// The same over real onion services, on a private Tor network: the inbox
/// is its own onion service; a drop from a process with no profile (its
/// own arti client) lands; after a rotation the old address fails.
#[test]
fn inbox_over_private_tor_network() {
    use kith_tests::tornet::TorNet;
    const TOR: Duration = Duration::from_secs(240);
    let t0 = std::time::Instant::now();
    let net = TorNet::shared().expect("private Tor network");
    let cfg = net.arti_config().to_string_lossy().into_owned();
    // Separate data directories: each process has its own Tor state.
    let (ka, kd) = (Kith::new(), Kith::new());
    ka.create("alice");
    let alice = ka.spawn(
        "alice",
        &["run", "--transport", "tor", "--tor-config", &cfg],
        &[("KITH_LOG", "warn,kith_node=debug,kith_transport=debug")],
        TOR,
    );
    ka.ok("alice", &["inbox", "on"]);
    let link = ka.ok("alice", &["inbox", "link"]).trim().to_owned();
    assert!(link.ends_with("?inbox"), "{link}");
    let contact_link = ka.ok("alice", &["link"]);
    assert!(!contact_link.contains(&link["kith://".len()..][..56]));
    let drop = |link: &str, text: &str| {
        Command::new(kith_bin())
            .arg("--data-dir")
            .arg(kd.dir.path())
            .args(["drop", "--tor-config", &cfg, link, text])
            .env_remove("KITH_PROFILE")
            .env_remove("KITH_DATA_DIR")
            .env_remove("KITH_PASSWORD")
            .stdin(Stdio::null())
            .output()
            .expect("running kith")
    };
    let report = || format!("--- alice's log\n{}", ka.log_tail("alice", 60));
    // The service takes a while to publish: try until it lands. Only "did
    // not answer" (nothing reached the inbox) is worth another try; any
    // other failure is one.
    let until_it_lands = |link: &str, text: &str, what: &str| {
        let start = std::time::Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            let out = drop(link, text);
            if out.status.success() {
                println!(
                    "timing: {what} landed {:.1} s after the first try ({tries} tries)",
                    start.elapsed().as_secs_f64()
                );
                return;
            }
            let e = stderr(&out);
            assert!(
                e.contains("the inbox did not answer") && start.elapsed() < TOR,
                "{what}: try {tries} after {:.1} s: {e}\n{}",
                start.elapsed().as_secs_f64(),
                report()
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    };
    until_it_lands(&link, "over tor", "a drop over Tor");
    let v = inbox(&ka, "alice");
    assert_eq!(v["messages"][0]["body"], "over tor", "{v}");
    assert!(ka.contacts("alice").is_empty());

    // Rotated: a new onion service; the old address no longer answers.
    ka.ok("alice", &["inbox", "rotate"]);
    let new_link = ka.ok("alice", &["inbox", "link"]).trim().to_owned();
    assert_ne!(new_link, link);
    until_it_lands(&new_link, "new address", "a drop at the new address");
    let out = drop(&link, "old address");
    assert!(
        !out.status.success() && stderr(&out).contains("the inbox did not answer"),
        "a drop at the rotated address: {}\n{}",
        stderr(&out),
        report()
    );
    assert_eq!(
        bodies(&ka, "alice"),
        ["over tor", "new address"],
        "{}",
        report()
    );
    alice.stop();
    println!(
        "timing: whole Tor inbox suite {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
