//! Story (issue 8 § 1): people meet in person. Each runs `kith meet --alias`,
//! which prints a code (QR and text); each types (here: pipes) the other's
//! code into it; both end with a verified contact met in person and can
//! chat. A tampered code, an old (replayed) code, a third person's code and
//! a shoulder-surfed code fail with their own messages and add nothing. Real processes over TCP on
//! 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kith_tests::cli::{Daemon, Kith, free_port, wait_until};

const LONG: Duration = Duration::from_secs(60);

/// One running `kith meet`.
struct Meeting {
    child: Child,
    stdin: Option<ChildStdin>,
    code: String,
    profile: String,
    /// All of its standard output, once it ends.
    rest: std::thread::JoinHandle<String>,
}

/// How a `kith meet` ended.
struct Ended {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Meeting {
    /// Start `kith meet` and read the code it prints.
    fn start(k: &Kith, profile: &str, alias: &str, timeout: u64) -> Meeting {
        let mut child = k
            .cmd(profile)
            .args(["meet", "--alias", alias, "--timeout", &timeout.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting kith meet");
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("stdout");
        // One reader: each line to the channel (for the code), all of it
        // returned at the end (for the result).
        let (tx, rx) = mpsc::channel();
        let rest = std::thread::Builder::new()
            .name(format!("{profile}-meet-stdout"))
            .spawn(move || {
                let mut all = vec![];
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    let _ = tx.send(line.clone());
                    all.push(line);
                }
                all.join("\n")
            })
            .expect("stdout reader");
        let deadline = Instant::now() + LONG;
        let mut seen = vec![];
        let code = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.starts_with("kith-meet:") => break l,
                Ok(l) => seen.push(l),
                Err(_) => panic!("{profile}: no code printed; stdout so far: {seen:?}"),
            }
        };
        // The QR code came first: block characters, then the code.
        assert!(
            seen.iter().any(|l| l.contains('█') || l.contains('▀')),
            "{profile}: no QR code before the code: {seen:?}"
        );
        Meeting {
            child,
            stdin,
            code,
            profile: profile.to_owned(),
            rest,
        }
    }

    /// Type their code and press Enter.
    fn give(&mut self, code: &str) {
        let mut stdin = self.stdin.take().expect("stdin not used yet");
        writeln!(stdin, "{code}").expect("writing their code");
    }

    /// Close standard input without a code.
    fn close_input(&mut self) {
        self.stdin = None;
    }

    /// Wait for the process to end (at most `limit`).
    fn finish(mut self, limit: Duration) -> Ended {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("waiting") {
                break s;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("{}: kith meet did not end within {limit:?}", self.profile);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = self.rest.join().expect("stdout reader");
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        Ended {
            success: status.success(),
            stdout,
            stderr,
        }
    }
}

/// The 32 bytes of a profile's identity key, from its link.
fn key_of(k: &Kith, profile: &str) -> [u8; 32] {
    let link = k.ok(profile, &["link"]);
    kith_core::ContactLink::parse(link.trim())
        .expect("a link")
        .address
        .to_bytes()
}

fn assert_failed(e: &Ended, profile: &str, needle: &str) {
    assert!(
        !e.success,
        "{profile}: kith meet succeeded: {} {}",
        e.stdout, e.stderr
    );
    assert!(
        e.stderr.contains(needle),
        "{profile}: expected {needle:?} in: {}",
        e.stderr
    );
}

fn assert_no_contacts(k: &Kith, profiles: &[&str]) {
    for p in profiles {
        let c = k.contacts(p);
        assert!(
            c.is_empty(),
            "{p} has contacts after a failed meeting: {c:?}"
        );
    }
}

/// One character of a code's base32 text changed.
fn tampered(code: &str) -> String {
    let mut b = code.as_bytes().to_vec();
    let i = b.len() - 6;
    b[i] = if b[i] == b'a' { b'b' } else { b'a' };
    String::from_utf8(b).expect("ascii")
}

fn start_all(k: &Kith, names: &[&str]) -> Vec<Daemon> {
    names
        .iter()
        .map(|n| {
            k.create(n);
            k.start(n, free_port())
        })
        .collect()
}

#[test]
fn meeting_in_person_over_tcp() {
    let k = Kith::new();
    let names = ["p1", "p2", "p3"];
    let _daemons = start_all(&k, &names);
    // Sort by identity key: the smaller key of a pair dials the other.
    let mut by_key: Vec<(&str, [u8; 32])> = names.iter().map(|n| (*n, key_of(&k, n))).collect();
    by_key.sort_by_key(|(_, key)| *key);
    let (s, m, l) = (by_key[0].0, by_key[1].0, by_key[2].0);
    let short = 8;

    // Without a running node there is no meeting.
    k.create("offline");
    let out = k.run("offline", &["meet", "--alias", "x"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs the running node"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A tampered code: refused at once by the one who scanned it.
    let mut a = Meeting::start(&k, s, "them", short);
    let mut b = Meeting::start(&k, l, "them", short);
    let (ca, cb) = (a.code.clone(), b.code.clone());
    b.give(&tampered(&ca));
    a.give(&cb);
    let eb = b.finish(LONG);
    assert_failed(&eb, l, "the code is damaged or was altered");
    // The other side finds no one expecting it (the meeting ended there).
    let ea = a.finish(LONG);
    assert_failed(&ea, s, "not expecting you");
    assert_no_contacts(&k, &names);

    // An old code: its key is gone, the commitment does not match.
    let mut old = Meeting::start(&k, s, "them", short);
    let old_code = old.code.clone();
    old.close_input();
    assert_failed(&old.finish(LONG), s, "no code was given");
    let mut a = Meeting::start(&k, s, "them", short);
    let mut b = Meeting::start(&k, l, "them", short);
    let cb = b.code.clone();
    assert_ne!(a.code, old_code);
    a.give(&cb);
    b.give(&old_code);
    assert_failed(&b.finish(LONG), l, "old (replayed) or was altered");
    assert_failed(&a.finish(LONG), s, "rejected the exchange");
    assert_no_contacts(&k, &names);

    // A third person's code: s meant to meet l but scanned m's code, while m
    // meets l. s dials m, which is not expecting s.
    let mut a = Meeting::start(&k, s, "l", short);
    let mut third = Meeting::start(&k, m, "l", short);
    let mut b = Meeting::start(&k, l, "s", short);
    let (ca, cm, cb) = (a.code.clone(), third.code.clone(), b.code.clone());
    a.give(&cm);
    third.give(&cb);
    b.give(&ca);
    assert_failed(&a.finish(LONG), s, "not expecting you");
    // l waits for s, who never comes: it gives up at its timeout.
    assert_failed(&b.finish(LONG), l, "no meeting completed in time");
    // m dialed l, which expects s.
    assert_failed(&third.finish(LONG), m, "not expecting you");
    assert_no_contacts(&k, &names);

    // The real thing: both scan (the listener a little later), both end
    // with a verified contact met in person. Meanwhile m, who looked over
    // l's shoulder, enters l's code: l is not expecting m, and its meeting
    // with s goes on undisturbed.
    let mut a = Meeting::start(&k, s, "big", 60);
    let mut b = Meeting::start(&k, l, "small", 60);
    let mut eve = Meeting::start(&k, m, "l", 30);
    let (ca, cb) = (a.code.clone(), b.code.clone());
    eve.give(&cb);
    a.give(&cb);
    std::thread::sleep(Duration::from_millis(500));
    b.give(&ca);
    assert_failed(&eve.finish(LONG), m, "not expecting you");
    for (e, who) in [(a.finish(LONG), s), (b.finish(LONG), l)] {
        assert!(e.success, "{who}: {} {}", e.stdout, e.stderr);
        assert!(
            e.stdout.contains("contact added, accepted and verified"),
            "{}",
            e.stdout
        );
    }
    for (who, alias) in [(s, "big"), (l, "small")] {
        let c = k.contacts(who);
        assert_eq!(c.len(), 1, "{who}: {c:?}");
        assert_eq!(c[0]["alias"], alias);
        assert_eq!(c[0]["state"], "accepted");
        assert_eq!(c[0]["origin"], "met_in_person");
        assert_eq!(c[0]["verified"], true);
    }
    assert_no_contacts(&k, &[m]);

    // And they chat, both ways.
    k.ok(s, &["send", "big", "nice to meet you"]);
    k.ok(l, &["send", "small", "likewise"]);
    wait_until(LONG, "both messages delivered", || {
        (k.has_message(s, "big", "out", "nice to meet you", Some("delivered"))
            && k.has_message(l, "small", "out", "likewise", Some("delivered")))
        .then_some(())
    });
    assert!(k.has_message(l, "small", "in", "nice to meet you", None));
    assert!(k.has_message(s, "big", "in", "likewise", None));
}

/// The same over real onion services on a private Tor network, with
/// requests off on both sides: a meeting publishes the request address for
/// its duration, and the contacts then talk through their contacts
/// addresses.
#[test]
fn meeting_in_person_over_private_tor() {
    let net = kith_tests::tornet::TorNet::shared().expect("private Tor network");
    let cfg = net.arti_config().to_string_lossy().into_owned();
    let tor_long = Duration::from_secs(240);
    // Separate data directories: each process has its own Tor state.
    let (ka, kb) = (Kith::new(), Kith::new());
    ka.create("ana");
    kb.create("ben");
    let args = ["run", "--transport", "tor", "--tor-config", cfg.as_str()];
    let _a = ka.start_with("ana", &args, tor_long);
    let _b = kb.start_with("ben", &args, tor_long);
    for (k, p) in [(&ka, "ana"), (&kb, "ben")] {
        k.ok(p, &["requests", "off"]);
    }
    // Both request addresses are really gone (a Tor client that is not ours
    // no longer reaches them) before the meeting brings them back.
    for (k, p) in [(&ka, "ana"), (&kb, "ben")] {
        let host = kith_core::ContactLink::parse(k.ok(p, &["link"]).trim())
            .expect("link")
            .address
            .hostname();
        wait_until(tor_long, "a request address stops answering", || {
            kith_tests::tornet::socks5_connect(net.socks_addr(), &host, kith_transport::ONION_PORT)
                .err()
        });
    }
    let start = Instant::now();
    let mut a = Meeting::start(&ka, "ana", "ben", 240);
    let mut b = Meeting::start(&kb, "ben", "ana", 240);
    // Codes over Tor carry no TCP hint.
    let (ca, cb) = (a.code.clone(), b.code.clone());
    for c in [&ca, &cb] {
        assert!(
            kith_core::MeetCode::parse(c).expect("code").tcp.is_none(),
            "{c}"
        );
    }
    a.give(&cb);
    b.give(&ca);
    for (e, who) in [(a.finish(tor_long), "ana"), (b.finish(tor_long), "ben")] {
        assert!(e.success, "{who}: {} {}", e.stdout, e.stderr);
    }
    println!(
        "timing: met in person over Tor in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    for (k, who, alias) in [(&ka, "ana", "ben"), (&kb, "ben", "ana")] {
        let c = k.contacts(who);
        assert_eq!(c.len(), 1, "{who}: {c:?}");
        assert_eq!(c[0]["alias"], alias);
        assert_eq!(c[0]["origin"], "met_in_person");
        assert_eq!(c[0]["verified"], true);
        assert_eq!(k.status(who)["requests"], "off");
    }
    ka.ok("ana", &["send", "ben", "over onion services"]);
    wait_until(tor_long, "delivered over Tor", || {
        ka.has_message(
            "ana",
            "ben",
            "out",
            "over onion services",
            Some("delivered"),
        )
        .then_some(())
    });
    assert!(kb.has_message("ben", "ana", "in", "over onion services", None));
}
