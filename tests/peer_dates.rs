//! Story (issue 7 §3): what a contact sends is data. A contact (spoken by
//! hand here, as a hostile peer would) sends messages dated in the year 9999,
//! at the epoch, and at the end of time, with a name full of bidi and
//! control characters. `kith` stores them, shows them in time zones east
//! and west of UTC, and keeps running. (Before 1970 cannot be sent: the
//! wire carries unsigned milliseconds since the epoch; the epoch shown west
//! of UTC is 1969.)

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use kith_core::wire::{Hello, PeerMessage, Text, Welcome, decode, encode};
use kith_core::{IdentityKeypair, MessageId, Timestamp};
use kith_session::Record;
use kith_tests::cli::{Kith, free_port, read_frame, wait_until};

const LONG: Duration = Duration::from_secs(60);
const YEAR_9999: u64 = 253_402_300_799_000;

#[test]
fn a_contact_sends_impossible_dates_and_hostile_text() {
    let k = Kith::new();
    k.create("alice");
    let port = free_port();
    let mut alice = k.start("alice", port);
    let link = k.ok("alice", &["link"]).trim().to_owned();
    let alice_key = kith_core::ContactLink::parse(&link).expect("link").address;

    // Alice adds the peer (as from their link): a contact, not a request.
    let peer = IdentityKeypair::generate(&mut rand::rngs::OsRng);
    // Its TCP hint points nowhere: alice's dialer fails, the peer dials in.
    let peer_link = kith_core::ContactLink {
        address: peer.address(),
        tcp: Some("127.0.0.1:9".parse().expect("addr")),
    }
    .to_string();
    k.ok("alice", &["contact", "add", &peer_link, "--alias", "peer"]);

    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(LONG)).expect("timeout");
    let (hs, msg1) =
        kith_session::Initiator::new(peer.signing_key(), alice_key.key().verifying_key())
            .expect("initiator");
    s.write_all(&msg1).expect("msg1");
    let reply = read_frame(&mut s).expect("msg2");
    let (mut session, msg3) = hs.read_reply(&reply).expect("alice authenticated");
    s.write_all(&msg3).expect("msg3");
    let send = |s: &mut TcpStream, session: &mut kith_session::Session, m: &PeerMessage| {
        let rec = session.seal(&encode(m).expect("encode")).expect("seal");
        s.write_all(&rec).expect("write");
    };
    let recv = |s: &mut TcpStream, session: &mut kith_session::Session| -> PeerMessage {
        let body = read_frame(s).expect("frame");
        match session.open(&body).expect("open") {
            Record::Data(d) => decode(&d).expect("decode"),
            Record::Close => panic!("alice closed"),
        }
    };
    send(
        &mut s,
        &mut session,
        &PeerMessage::Hello(Hello {
            name: "M\u{202E}allory\u{200B}\x1b]0;pwned\x07".into(),
            tcp_hint: None,
        }),
    );
    assert_eq!(
        recv(&mut s, &mut session),
        PeerMessage::Welcome(Welcome::Accepted)
    );
    let dates = [
        ("from the year 9999", YEAR_9999),
        ("from the epoch", 0),
        ("from the end of time", u64::MAX),
    ];
    for (i, (body, at)) in dates.iter().enumerate() {
        let body = format!("{body}\x1b[2J\r\u{202E}!");
        send(
            &mut s,
            &mut session,
            &PeerMessage::Text(Text {
                id: MessageId([u8::try_from(i).expect("small") + 1; 16]),
                sent_at: Timestamp(*at),
                body,
            }),
        );
        // Acknowledged: stored (keepalives, and alice's Reach at the start
        // of the session, may come in between).
        loop {
            match recv(&mut s, &mut session) {
                PeerMessage::Keepalive | PeerMessage::Reach(_) => {}
                PeerMessage::Ack(ids) => {
                    assert_eq!(
                        ids,
                        vec![MessageId([u8::try_from(i).expect("small") + 1; 16])]
                    );
                    break;
                }
                other => panic!("expected an ack, got {other:?}"),
            }
        }
    }

    // Stored exactly, dates kept within what can be true.
    let now = Timestamp::now().as_millis();
    let msgs = wait_until(LONG, "three messages", || {
        let m = k.messages("alice", "peer");
        (m.len() == 3).then_some(m)
    });
    let times: Vec<u64> = msgs
        .iter()
        .map(|m| m["time"].as_u64().expect("time"))
        .collect();
    assert!(
        times.iter().all(|t| *t <= now + 11 * 60 * 1000),
        "{times:?}"
    );
    assert!(times.contains(&0), "the epoch is a real date: {times:?}");
    assert!(
        msgs.iter()
            .any(|m| m["body"].as_str().expect("body").contains('\x1b')),
        "--json is exact"
    );

    // Human output in zones east and west of UTC: printed, inert, no crash.
    for tz in [
        "Asia/Tokyo",
        "America/Los_Angeles",
        "UTC",
        "Pacific/Kiritimati",
    ] {
        let out = k
            .cmd("alice")
            .args(["messages", "peer"])
            .env("TZ", tz)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "TZ={tz}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("utf-8");
        assert!(
            !text.contains('\x1b') && !text.contains('\r') && !text.contains('\u{202E}'),
            "TZ={tz}: {text:?}"
        );
        assert!(text.contains("from the epoch"), "TZ={tz}: {text}");
        if tz == "America/Los_Angeles" {
            assert!(
                text.contains("1969"),
                "the epoch west of UTC is 1969: {text}"
            );
        }
        let list = k
            .cmd("alice")
            .args(["contact", "list"])
            .env("TZ", tz)
            .output()
            .expect("run");
        let list = String::from_utf8(list.stdout).expect("utf-8");
        assert!(
            !list.contains('\x1b') && !list.contains('\u{202E}'),
            "{list:?}"
        );
    }
    let c = k
        .contacts("alice")
        .into_iter()
        .find(|c| c["alias"] == "peer")
        .expect("peer");
    assert_eq!(c["their_name"], "Mallory]0;pwned", "{c}");
    assert!(alice.is_running(), "alice keeps running");
    drop(s);
    alice.stop();
}
