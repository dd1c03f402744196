//! Story (issue 8 §2): Carol introduces two of her contacts, Ana and Bo,
//! through the `kith` command, three real nodes over TCP on 127.0.0.1.
//! When both accept they become contacts ("introduced by carol") and chat;
//! when one declines, the other learns only that it did not happen; and a
//! contact who is not the introducer cannot make Ana add anyone.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use kith_core::intro::{IntroductionId, IntroductionLink, IntroductionMessage};
use kith_core::wire::{Hello, PeerMessage, Welcome, decode, encode};
use kith_core::{ContactLink, IdentityKeypair};
use kith_session::Record;
use kith_tests::cli::{Daemon, Kith, free_port, json_lines, read_frame, wait_until};

const LONG: Duration = Duration::from_secs(60);

fn link(k: &Kith, profile: &str) -> String {
    k.ok(profile, &["link"]).trim().to_owned()
}

fn address_of(link: &str) -> String {
    ContactLink::parse(link).expect("link").address.to_string()
}

fn contact(k: &Kith, profile: &str, alias: &str) -> Option<serde_json::Value> {
    k.contacts(profile)
        .into_iter()
        .find(|c| c["alias"] == alias)
}

fn introductions(k: &Kith, profile: &str) -> Vec<serde_json::Value> {
    json_lines(&k.ok(profile, &["introduction", "list", "--json"]))
}

/// `x` adds `y` by link; `y` accepts the request (named after `x`).
fn befriend(k: &Kith, x: &str, y: &str) {
    k.ok(x, &["contact", "add", &link(k, y), "--alias", y]);
    wait_until(LONG, &format!("{y} sees {x}'s request"), || {
        contact(k, y, x).filter(|c| c["state"] == "request")
    });
    k.ok(y, &["contact", "accept", x]);
    wait_until(LONG, &format!("{x} sees {y} accepted"), || {
        contact(k, x, y).filter(|c| c["state"] == "accepted" && c["online"] == true)
    });
}

/// Carol, Ana and Bo running; Carol is a contact of each.
fn three(k: &Kith) -> Vec<Daemon> {
    let mut daemons = vec![];
    for p in ["carol", "ana", "bo"] {
        k.create(p);
        daemons.push(k.start(p, free_port()));
    }
    befriend(k, "carol", "ana");
    befriend(k, "carol", "bo");
    daemons
}

/// The introduction offered to `profile`, once it arrived.
fn offer(k: &Kith, profile: &str, state: &str) -> serde_json::Value {
    wait_until(
        LONG,
        &format!("an introduction {state} at {profile}"),
        || {
            introductions(k, profile)
                .into_iter()
                .find(|i| i["kind"] == "offered" && i["state"] == state)
        },
    )
}

fn knows(k: &Kith, profile: &str, address: &str) -> bool {
    k.contacts(profile).iter().any(|c| c["address"] == address)
}

#[test]
fn both_accept_become_contacts_introduced_by_carol_and_chat() {
    let k = Kith::new();
    let daemons = three(&k);
    let (ana_addr, bo_addr) = (address_of(&link(&k, "ana")), address_of(&link(&k, "bo")));
    let id = k.ok(
        "carol",
        &["introduce", "ana", "bo", "--note", "you both climb"],
    );
    let id = id.trim();
    assert_eq!(id.len(), 32, "{id}");

    // Ana sees who introduces whom, and the note; not Bo's address.
    let o = offer(&k, "ana", "waiting");
    assert_eq!(o["id"], id);
    assert_eq!(o["introduced_by"], "carol");
    assert_eq!(o["name"], "bo");
    assert_eq!(o["note"], "you both climb");
    let list = k.ok("ana", &["contact", "list"]);
    assert!(
        list.contains("carol wants to introduce you to bo"),
        "{list}"
    );
    assert!(
        !list.contains(&bo_addr),
        "bo's address before both accepted"
    );
    k.ok("ana", &["introduction", "accept", id]);
    // Carol hears it; Ana still knows nothing of Bo.
    wait_until(LONG, "carol sees ana's answer", || {
        introductions(&k, "carol")
            .into_iter()
            .find(|i| i["kind"] == "made" && i["sides"][0]["answer"] == "accepted")
    });
    assert!(!knows(&k, "ana", &bo_addr));
    offer(&k, "bo", "waiting");
    k.ok("bo", &["introduction", "accept", id]);

    // Contacts now, marked introduced by carol, on both sides.
    for (me, other, addr) in [("ana", "bo", &bo_addr), ("bo", "ana", &ana_addr)] {
        let c = wait_until(LONG, &format!("{me} has {other}"), || {
            contact(&k, me, other).filter(|c| c["state"] == "accepted")
        });
        assert_eq!(&c["address"], addr.as_str());
        assert_eq!(c["origin"], "introduced", "{c}");
        assert_eq!(c["introduced_by"]["alias"], "carol", "{c}");
        assert_eq!(c["verified"], false);
        let human = k.ok(me, &["contact", "list"]);
        assert!(human.contains("introduced by carol"), "{human}");
    }
    k.ok("ana", &["send", "bo", "hello bo, carol says you climb"]);
    wait_until(LONG, "bo reads ana", || {
        k.has_message("bo", "ana", "in", "hello bo, carol says you climb", None)
            .then_some(())
    });
    k.ok("bo", &["send", "ana", "I do"]);
    wait_until(LONG, "ana reads bo", || {
        k.has_message("ana", "bo", "in", "I do", None).then_some(())
    });
    // Settled everywhere: nothing left pending.
    wait_until(LONG, "settled", || {
        ["carol", "ana", "bo"]
            .iter()
            .all(|p| introductions(&k, p).is_empty())
            .then_some(())
    });
    drop(daemons);
}

#[test]
fn one_declines_and_the_other_learns_only_that_it_did_not_happen() {
    let k = Kith::new();
    let daemons = three(&k);
    let (ana_addr, bo_addr) = (address_of(&link(&k, "ana")), address_of(&link(&k, "bo")));
    let id = k.ok("carol", &["introduce", "ana", "bo"]);
    let id = id.trim();
    offer(&k, "ana", "waiting");
    k.ok("ana", &["introduction", "accept", id]);
    offer(&k, "bo", "waiting");
    k.ok("bo", &["introduction", "decline", id]);

    let o = offer(&k, "ana", "did_not_happen");
    assert_eq!(o["id"], id);
    let human = k.ok("ana", &["introduction", "list"]);
    assert!(
        human.contains("carol's introduction to bo did not happen"),
        "{human}"
    );
    wait_until(LONG, "carol settles", || {
        introductions(&k, "carol").is_empty().then_some(())
    });
    // Neither has the other, and nothing lingers as a request.
    std::thread::sleep(Duration::from_secs(1));
    assert!(!knows(&k, "ana", &bo_addr));
    assert!(!knows(&k, "bo", &ana_addr));
    // Dismissing it forgets it; a made-up id is refused.
    k.ok("ana", &["introduction", "accept", id]);
    assert!(introductions(&k, "ana").is_empty());
    assert!(
        !k.run("ana", &["introduction", "accept", &"ab".repeat(16)])
            .status
            .success()
    );
    drop(daemons);
}

/// Mallory, a contact of Ana's (spoken by hand), is not the introducer:
/// her link for Carol's introduction, her "did not happen" for it, and a
/// link for an id she made up change nothing at Ana's.
#[test]
fn a_contact_who_is_not_the_introducer_adds_no_one() {
    let k = Kith::new();
    let daemons = three(&k);
    let bo_addr = address_of(&link(&k, "bo"));
    let id = k.ok("carol", &["introduce", "ana", "bo"]);
    let id = IntroductionId::parse_hex(id.trim()).expect("id");
    offer(&k, "ana", "waiting");
    k.ok("ana", &["introduction", "accept", &id.to_hex()]);

    // Ana adds Mallory by link; Mallory dials in by hand.
    let port = ContactLink::parse(&link(&k, "ana"))
        .expect("link")
        .tcp
        .expect("hint")
        .port();
    let ana_key = ContactLink::parse(&link(&k, "ana")).expect("link").address;
    let mallory = IdentityKeypair::generate(&mut rand::rngs::OsRng);
    let mallory_link = ContactLink {
        address: mallory.address(),
        tcp: Some("127.0.0.1:9".parse().expect("addr")),
    }
    .to_string();
    k.ok(
        "ana",
        &["contact", "add", &mallory_link, "--alias", "mallory"],
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(LONG)).expect("timeout");
    let (hs, msg1) =
        kith_session::Initiator::new(mallory.signing_key(), ana_key.key().verifying_key())
            .expect("initiator");
    s.write_all(&msg1).expect("msg1");
    let reply = read_frame(&mut s).expect("msg2");
    let (mut session, msg3) = hs.read_reply(&reply).expect("ana authenticated");
    s.write_all(&msg3).expect("msg3");
    let send = |s: &mut TcpStream, session: &mut kith_session::Session, m: IntroductionMessage| {
        let m = PeerMessage::Introduction(m);
        let rec = session.seal(&encode(&m).expect("encode")).expect("seal");
        s.write_all(&rec).expect("write");
    };
    let recv = |s: &mut TcpStream, session: &mut kith_session::Session| -> PeerMessage {
        loop {
            let body = read_frame(s).expect("frame");
            match session.open(&body).expect("open") {
                // Keepalives, and the contacts address every session starts with.
                Record::Data(d) => match decode(&d).expect("decode") {
                    PeerMessage::Keepalive | PeerMessage::Reach(_) => {}
                    m => return m,
                },
                Record::Close => panic!("ana closed"),
            }
        }
    };
    let hello = PeerMessage::Hello(Hello {
        name: "Mallory".into(),
        tcp_hint: None,
    });
    let rec = session
        .seal(&encode(&hello).expect("encode"))
        .expect("seal");
    s.write_all(&rec).expect("hello");
    assert_eq!(
        recv(&mut s, &mut session),
        PeerMessage::Welcome(Welcome::Accepted)
    );
    let bo_key = ContactLink::parse(&link(&k, "bo"))
        .expect("link")
        .address
        .to_bytes();
    let link_for = |id| {
        IntroductionMessage::Link(IntroductionLink {
            id,
            address: bo_key,
            name: "bo".into(),
            tcp_hint: None,
        })
    };
    // Carol's id, from Mallory: confirmed as unknown (she is no introducer
    // of it), nothing added.
    send(&mut s, &mut session, link_for(id));
    assert_eq!(
        recv(&mut s, &mut session),
        PeerMessage::Introduction(IntroductionMessage::Done { id })
    );
    send(&mut s, &mut session, IntroductionMessage::Off { id });
    assert_eq!(
        recv(&mut s, &mut session),
        PeerMessage::Introduction(IntroductionMessage::Done { id })
    );
    let made_up = IntroductionId([0x5a; 16]);
    send(&mut s, &mut session, link_for(made_up));
    assert_eq!(
        recv(&mut s, &mut session),
        PeerMessage::Introduction(IntroductionMessage::Done { id: made_up })
    );
    // An answer for an introduction Ana never made is ignored; the session
    // stays up (a keepalive or nothing, never a close).
    send(
        &mut s,
        &mut session,
        IntroductionMessage::Accept { id: made_up },
    );
    assert!(!knows(&k, "ana", &bo_addr), "mallory made ana add bo");
    let o = offer(&k, "ana", "accepted");
    assert_eq!(o["id"], id.to_hex(), "carol's offer is untouched");
    assert_eq!(o["introduced_by"], "carol");
    drop(s);
    drop(daemons);
}

/// The same story over real onion services on the private Tor network, each
/// person a process with its own Tor state. Ana and Bo close their request
/// addresses once Carol is their contact: the introduction still completes,
/// because an introduced contact is reached on the request address only
/// until the two have exchanged contacts addresses.
#[test]
fn introduced_over_private_tor_with_requests_off() {
    use kith_tests::tornet::TorNet;
    const TOR: Duration = Duration::from_secs(240);
    let net = TorNet::shared().expect("private Tor network");
    let cfg = net.arti_config().to_string_lossy().into_owned();
    let people = ["carol", "ana", "bo"];
    let ks: Vec<Kith> = people.iter().map(|_| Kith::new()).collect();
    let k = |who: &str| &ks[people.iter().position(|p| *p == who).expect("person")];
    let mut daemons = vec![];
    for p in people {
        k(p).create(p);
        daemons.push(k(p).start_with(p, &["run", "--transport", "tor", "--tor-config", &cfg], TOR));
    }
    let t0 = std::time::Instant::now();
    for other in ["ana", "bo"] {
        k("carol").ok(
            "carol",
            &["contact", "add", &link(k(other), other), "--alias", other],
        );
        wait_until(TOR, &format!("{other} sees carol's request"), || {
            contact(k(other), other, "carol").filter(|c| c["state"] == "request")
        });
        k(other).ok(other, &["contact", "accept", "carol"]);
        wait_until(TOR, &format!("carol sees {other} accepted"), || {
            contact(k("carol"), "carol", other)
                .filter(|c| c["state"] == "accepted" && c["online"] == true)
        });
        k(other).ok(other, &["requests", "off"]);
    }
    println!(
        "timing: carol befriended ana and bo over Tor in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let (ana_addr, bo_addr) = (
        address_of(&link(k("ana"), "ana")),
        address_of(&link(k("bo"), "bo")),
    );
    let t1 = std::time::Instant::now();
    let id = k("carol").ok("carol", &["introduce", "ana", "bo", "--note", "over tor"]);
    let id = id.trim();
    for p in ["ana", "bo"] {
        let o = wait_until(TOR, &format!("the introduction at {p}"), || {
            introductions(k(p), p)
                .into_iter()
                .find(|i| i["kind"] == "offered" && i["state"] == "waiting")
        });
        assert_eq!(o["id"], id);
        assert_eq!(o["introduced_by"], "carol");
        assert_eq!(o["note"], "over tor");
    }
    assert!(!knows(k("ana"), "ana", &bo_addr));
    k("ana").ok("ana", &["introduction", "accept", id]);
    k("bo").ok("bo", &["introduction", "accept", id]);
    for (me, other, addr) in [("ana", "bo", &bo_addr), ("bo", "ana", &ana_addr)] {
        let c = wait_until(TOR, &format!("{me} has {other}"), || {
            contact(k(me), me, other).filter(|c| c["state"] == "accepted")
        });
        assert_eq!(&c["address"], addr.as_str());
        assert_eq!(c["origin"], "introduced", "{c}");
        assert_eq!(c["introduced_by"]["alias"], "carol", "{c}");
    }
    k("ana").ok("ana", &["send", "bo", "hello bo, over onion services"]);
    wait_until(TOR, "bo reads ana over Tor", || {
        k("bo")
            .has_message("bo", "ana", "in", "hello bo, over onion services", None)
            .then_some(())
    });
    k("bo").ok("bo", &["send", "ana", "hello ana"]);
    wait_until(TOR, "ana reads bo over Tor", || {
        k("ana")
            .has_message("ana", "bo", "in", "hello ana", None)
            .then_some(())
    });
    println!(
        "timing: introduced, accepted and chatting over Tor in {:.1} s",
        t1.elapsed().as_secs_f64()
    );
    // Once the two have each other's contacts address, their request
    // addresses are unpublished again: a Tor client that is not theirs
    // reaches neither.
    for p in ["ana", "bo"] {
        assert_eq!(k(p).status(p)["requests"], "off");
        let host = ContactLink::parse(&link(k(p), p))
            .expect("link")
            .address
            .hostname();
        wait_until(TOR, &format!("{p}'s request address goes dark"), || {
            kith_tests::tornet::socks5_connect(net.socks_addr(), &host, kith_transport::ONION_PORT)
                .err()
        });
    }
    drop(daemons);
}
