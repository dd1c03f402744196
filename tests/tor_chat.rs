//! Story: two people chat over real onion services, on a private Tor
//! network that the test starts on 127.0.0.1 (Debian's C tor for the
//! authorities and relays, Kith's embedded arti for the peers), and a Tor
//! client that is not ours reaches a Kith onion service.

use std::io::Write;
use std::time::{Duration, Instant};

use kith_tests::cli::{Kith, read_frame, wait_until};
use kith_tests::tornet::{TorNet, socks5_connect};

const LONG: Duration = Duration::from_secs(240);

#[test]
fn chat_over_private_tor_network() {
    let t0 = Instant::now();
    let net = TorNet::shared().expect("private Tor network");
    println!(
        "timing: private Tor network ready after {:.1} s (or shared)",
        t0.elapsed().as_secs_f64()
    );
    let config = net.arti_config();

    // Separate data directories: each process has its own Tor state.
    let (ka, kb) = (Kith::new(), Kith::new());
    ka.create("alice");
    kb.create("bob");
    let t_nodes = Instant::now();
    let alice = ka.start_tor("alice", config, LONG);
    let mut bob = kb.start_tor("bob", config, LONG);
    println!(
        "timing: both kith nodes bootstrapped after {:.1} s",
        t_nodes.elapsed().as_secs_f64()
    );
    for (k, p) in [(&ka, "alice"), (&kb, "bob")] {
        let st = k.status(p);
        assert_eq!(st["bootstrap_percent"], 100, "{st}");
    }

    // The link is the onion address, no hints.
    let bob_link = kb.ok("bob", &["link"]).trim().to_owned();
    assert!(
        bob_link.starts_with("kith://") && !bob_link.contains('?'),
        "{bob_link}"
    );
    let alice_link = ka.ok("alice", &["link"]).trim().to_owned();

    // Interop: Debian's C tor client reaches alice's onion service, and a
    // Kith handshake completes over that stream.
    let alice_addr = kith_core::ContactLink::parse(&alice_link)
        .expect("link")
        .address;
    let t_interop = Instant::now();
    let mut stream = wait_until(LONG, "C tor reaches alice's onion service", || {
        socks5_connect(
            net.socks_addr(),
            &alice_addr.hostname(),
            kith_transport::ONION_PORT,
        )
        .ok()
    });
    let me = kith_core::IdentityKeypair::generate(&mut rand::rngs::OsRng);
    let (hs, msg1) =
        kith_session::Initiator::new(me.signing_key(), alice_addr.key().verifying_key())
            .expect("initiator");
    stream.write_all(&msg1).expect("msg1");
    let reply = read_frame(&mut stream).expect("alice answers through C tor");
    hs.read_reply(&reply)
        .expect("alice authenticated through C tor");
    println!(
        "timing: C tor client completed a Kith handshake with alice's onion service after {:.1} s",
        t_interop.elapsed().as_secs_f64()
    );
    drop(stream);

    // Contact exchange by link, over onion services.
    let t_first = Instant::now();
    ka.ok("alice", &["contact", "add", &bob_link, "--alias", "bob"]);
    wait_until(LONG, "bob sees alice's request", || {
        kb.contacts("bob")
            .into_iter()
            .find(|c| c["state"] == "request")
    });
    kb.ok("bob", &["contact", "accept", "alice"]);
    ka.ok("alice", &["send", "bob", "hello over tor"]);
    wait_until(LONG, "first message delivered", || {
        ka.has_message("alice", "bob", "out", "hello over tor", Some("delivered"))
            .then_some(())
    });
    assert!(kb.has_message("bob", "alice", "in", "hello over tor", None));
    println!(
        "timing: first message delivered {:.1} s after adding the contact",
        t_first.elapsed().as_secs_f64()
    );
    kb.ok("bob", &["send", "alice", "hello back"]);
    wait_until(LONG, "reply delivered", || {
        kb.has_message("bob", "alice", "out", "hello back", Some("delivered"))
            .then_some(())
    });

    // Bob goes down; alice's message waits, and arrives after bob restarts.
    bob.stop();
    ka.ok("alice", &["send", "bob", "while you were away"]);
    let t_restart = Instant::now();
    bob = kb.start_tor("bob", config, LONG);
    wait_until(LONG, "queued message delivered after restart", || {
        ka.has_message(
            "alice",
            "bob",
            "out",
            "while you were away",
            Some("delivered"),
        )
        .then_some(())
    });
    assert!(kb.has_message("bob", "alice", "in", "while you were away", None));
    println!(
        "timing: queued message delivered {:.1} s after bob restarted",
        t_restart.elapsed().as_secs_f64()
    );

    // Presence only for contacts (issue 8, section 4). Both close their
    // request addresses; they have told each other their contacts-only
    // addresses in the sessions above.
    for (k, p) in [(&ka, "alice"), (&kb, "bob")] {
        let out = k.ok(p, &["requests", "off"]);
        assert!(out.contains("off"), "{out}");
        assert_eq!(k.status(p)["requests"], "off");
    }
    let t_closed = Instant::now();
    let contacts_address = |k: &Kith, p: &str| {
        k.status(p)["contacts_address"]
            .as_str()
            .expect("contacts address in status")
            .to_owned()
    };
    let (alice_contacts, bob_contacts) =
        (contacts_address(&ka, "alice"), contacts_address(&kb, "bob"));
    let bob_addr = kith_core::ContactLink::parse(&bob_link)
        .expect("link")
        .address;
    assert_ne!(alice_contacts, alice_addr.hostname());
    // A Tor client that is not a contact (it held both links) reaches
    // neither address: the contacts addresses' descriptors are encrypted
    // for contacts alone (C tor: "missing client authorization"), and the
    // request addresses are no longer served.
    for host in [&alice_contacts, &bob_contacts] {
        // Until its descriptor is out (it is launched once a contact's key
        // is known), C tor finds none (0xf0); then it finds one it cannot
        // read (0xf4). It must never connect.
        wait_until(
            LONG,
            "C tor finds a contacts address it may not read",
            || match socks5_connect(net.socks_addr(), host, kith_transport::ONION_PORT) {
                Ok(_) => panic!("a stranger reached a contacts address"),
                Err(e) => e.to_string().contains("0xf4").then_some(()),
            },
        );
    }
    for host in [alice_addr.hostname(), bob_addr.hostname()] {
        wait_until(LONG, "a request address stops answering", || {
            socks5_connect(net.socks_addr(), &host, kith_transport::ONION_PORT).err()
        });
    }
    println!(
        "timing: both request addresses closed to a stranger {:.1} s after requests off",
        t_closed.elapsed().as_secs_f64()
    );
    // The contacts still reach each other, both ways, also after bob
    // restarts (a new session, through alice's contacts address alone).
    bob.stop();
    ka.ok("alice", &["send", "bob", "contacts only"]);
    let t_contacts = Instant::now();
    bob = kb.start_tor("bob", config, LONG);
    assert_eq!(kb.status("bob")["requests"], "off");
    wait_until(LONG, "delivered through the contacts address", || {
        ka.has_message("alice", "bob", "out", "contacts only", Some("delivered"))
            .then_some(())
    });
    kb.ok("bob", &["send", "alice", "and back"]);
    wait_until(LONG, "reply through the contacts address", || {
        kb.has_message("bob", "alice", "out", "and back", Some("delivered"))
            .then_some(())
    });
    println!(
        "timing: with requests off, messages both ways {:.1} s after bob restarted",
        t_contacts.elapsed().as_secs_f64()
    );
    // Still nothing for the stranger at bob's request address.
    assert!(
        socks5_connect(
            net.socks_addr(),
            &bob_addr.hostname(),
            kith_transport::ONION_PORT
        )
        .is_err(),
        "bob's request address answers while requests are off"
    );
    bob.stop();
    alice.stop();
    println!(
        "timing: whole Tor suite {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
