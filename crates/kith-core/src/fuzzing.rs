//! Entry points for `cargo fuzz` targets (in `fuzz/`), compiled on stable so
//! they cannot rot. Each asserts a round trip, not only "no panic".

use crate::identity::IdentityKeypair;
use crate::intro::IntroductionMessage;
use crate::link::{ContactLink, Link};
use crate::meet::{Exchange, MeetCode, MeetMessage, MeetSecret, Role};
use crate::wire::{self, PeerMessage};

/// Feed arbitrary text to the link parser; whatever parses must re-parse to itself.
pub fn contact_link(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(link) = ContactLink::parse(s) {
        let again = ContactLink::parse(&link.to_string()).expect("a printed link parses");
        assert_eq!(again, link);
    }
    // Either kind: a printed link parses to itself, of the same kind.
    if let Ok(link) = Link::parse(s) {
        let again = Link::parse(&link.to_string()).expect("a printed link parses");
        assert_eq!(again, link);
    }
}

/// Feed arbitrary bytes to the inbox-exchange decoder (`docs/protocol.md`
/// § 11); whatever decodes must re-encode and decode to itself.
pub fn inbox_message(data: &[u8]) {
    if let Ok(msg) = crate::inbox::decode(data) {
        let bytes = crate::inbox::encode(&msg).expect("a decoded message encodes");
        assert_eq!(crate::inbox::decode(&bytes).expect("re-decodes"), msg);
    }
}

/// Feed arbitrary bytes to the peer-message decoder; whatever decodes must
/// re-encode to the same bytes (the encoding is canonical).
pub fn wire_frame(data: &[u8]) {
    if let Ok(msg) = wire::decode(data) {
        let bytes = wire::encode(&msg).expect("a decoded message encodes");
        assert_eq!(wire::decode(&bytes).expect("re-decodes"), msg);
    }
}

/// Feed arbitrary text to the meet-code parser; whatever parses must print
/// (as text and as a QR payload) to a code that parses to itself.
pub fn meet_code(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = MeetCode::parse(s) {
        let again = MeetCode::parse(&code.to_string()).expect("a printed code parses");
        assert_eq!(again, code);
        let qr = MeetCode::parse(&code.qr_payload()).expect("a QR payload parses");
        assert_eq!(qr, code);
    }
}

/// Feed arbitrary bytes as a meet message from a peer (after the
/// `version ‖ Meet` prefix): whatever decodes re-encodes to bytes that
/// decode to the same message (postcard also reads overlong varints, so the
/// bytes themselves may differ), and any ephemeral key it carries goes
/// through the checks of a fixed exchange without panicking (and fails
/// them, not knowing the secret).
pub fn meet_message(data: &[u8]) {
    let mut bytes = vec![wire::CURRENT_VERSION, 5];
    bytes.extend_from_slice(data);
    let Ok(msg) = wire::decode(&bytes) else {
        return;
    };
    let again = wire::encode(&msg).expect("a decoded message encodes");
    assert_eq!(wire::decode(&again).expect("re-decodes"), msg);
    let PeerMessage::Meet(m) = msg else {
        panic!("the Meet tag decoded as another message");
    };
    let their_ephemeral = match m {
        MeetMessage::Offer { ephemeral } | MeetMessage::Answer { ephemeral, .. } => ephemeral,
        _ => return,
    };
    let mine = MeetSecret::dangerously_from_bytes_for_testing_only([4; 32]);
    let me = IdentityKeypair::from_seed(&[1; 32]).public();
    let them = IdentityKeypair::from_seed(&[2; 32]).public();
    let expected = MeetSecret::dangerously_from_bytes_for_testing_only([3; 32]);
    let my_code = mine.code(me, None);
    let their_code = expected.code(them, None);
    let result = Exchange {
        secret: &mine,
        role: Role::Listener,
        my_code: &my_code,
        their_code: &their_code,
        their_ephemeral: &their_ephemeral,
        session_hash: &[0; 32],
    }
    .confirm();
    if their_ephemeral != expected.public() {
        assert!(result.is_err(), "an uncommitted key was accepted");
    }
}

/// Feed arbitrary bytes as an introduction step from a peer (after the
/// `version ‖ Introduction` prefix): whatever decodes re-encodes to a
/// message that decodes to itself, keeps the name and note limits, and
/// names its introduction right after the step. (postcard also reads
/// overlong varints, `81 00` for 1, so the re-encoding is the canonical
/// form of what arrived, not always the same bytes.)
pub fn introduction_message(data: &[u8]) {
    let mut bytes = vec![wire::CURRENT_VERSION, 6];
    bytes.extend_from_slice(data);
    let Ok(msg) = wire::decode(&bytes) else {
        return;
    };
    let again = wire::encode(&msg).expect("a decoded message encodes");
    assert_eq!(wire::decode(&again).expect("re-decodes"), msg);
    assert_eq!(
        wire::encode(&wire::decode(&again).expect("re-decodes")).expect("encodes"),
        again,
        "the re-encoding is canonical"
    );
    let PeerMessage::Introduction(m) = msg else {
        panic!("the Introduction tag decoded as another message");
    };
    assert_eq!(&again[3..19], &m.id().0, "the id follows the step");
    match m {
        IntroductionMessage::Offer(o) => {
            assert!(o.name.len() <= crate::limits::MAX_DISPLAY_NAME);
            assert!(o.note.len() <= crate::limits::MAX_INTRODUCTION_NOTE);
        }
        IntroductionMessage::Link(l) => {
            assert!(l.name.len() <= crate::limits::MAX_DISPLAY_NAME);
        }
        _ => {}
    }
}

/// Feed arbitrary bytes as one of the conversation and file messages
/// (`docs/protocol.md` §§ 12–13, tags 8 to 17; the first byte picks the
/// tag): whatever decodes re-encodes to a message that decodes to itself,
/// and keeps every limit its types promise (a valid emoji, a safe file
/// name, sizes and counts within bounds, chunk lengths the offer can
/// check without overflow).
pub fn conversation_message(data: &[u8]) {
    use crate::limits::{MAX_BODY, MAX_CHUNK, MAX_CHUNKS, MAX_DELETE_IDS, MAX_FILE_SIZE};
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = vec![wire::CURRENT_VERSION, 8 + pick % 10];
    bytes.extend_from_slice(rest);
    let Ok(msg) = wire::decode(&bytes) else {
        return;
    };
    let again = wire::encode(&msg).expect("a decoded message encodes");
    assert_eq!(wire::decode(&again).expect("re-decodes"), msg);
    match msg {
        PeerMessage::Chat(c) => assert!(c.body.len() <= MAX_BODY),
        PeerMessage::Reaction(r) => {
            if let Some(e) = r.emoji {
                assert!(crate::chat::Emoji::new(e.as_str()).is_ok());
            }
        }
        PeerMessage::Delete { targets } | PeerMessage::DeleteAck { targets } => {
            assert!((1..=MAX_DELETE_IDS).contains(&targets.len()));
        }
        PeerMessage::Disappear(d) => {
            assert!(crate::chat::DisappearTimer::from_secs(u64::from(d.timer.secs())).is_ok());
        }
        PeerMessage::FileOffer(o) => {
            assert!(o.size <= MAX_FILE_SIZE);
            let name = crate::file::FileName::sanitize(o.name.as_str()).expect("a safe name");
            assert_eq!(name, o.name, "a received name is already safe");
            let n = o.chunk_count();
            assert!(n <= MAX_CHUNKS);
            if n > 0 {
                let last = o.chunk_len(n - 1).expect("the last chunk");
                assert!(last >= 1 && last <= o.chunk_size as usize);
                let total = u64::from(n - 1) * u64::from(o.chunk_size) + last as u64;
                assert_eq!(total, o.size);
            }
            assert_eq!(o.chunk_len(n), None);
        }
        PeerMessage::FileChunk(c) => {
            assert!(!c.data.is_empty() && c.data.len() <= MAX_CHUNK as usize);
            assert!(c.index < MAX_CHUNKS);
        }
        PeerMessage::FileResume { from, .. } => assert!(from <= MAX_CHUNKS),
        PeerMessage::FileDone { .. } => {}
        PeerMessage::Edit(e) => assert!(!e.body.is_empty() && e.body.len() <= MAX_BODY),
        other => panic!("tag {} decoded as {other:?}", bytes[1]),
    }
}

/// Feed arbitrary bytes as one of the group messages of a session
/// (`docs/protocol.md` § 15, tags 18 to 21; the first byte picks the tag):
/// whatever decodes re-encodes to itself and keeps its bounds; an
/// invitation opens only as a `Create` signed by the key it is opened
/// with, or as a forum's `CreateForum` whoever opens it (a blog's
/// `CreateBlog` never); whatever message an invitation carries keeps the
/// blog rules ([`group_message_rules`]).
pub fn group_wire(data: &[u8]) {
    use crate::group::{GroupBody, GroupKind, MAX_GROUP_MESSAGE, MAX_SYNC_FRAME};
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = vec![wire::CURRENT_VERSION, 18 + pick % 4];
    bytes.extend_from_slice(rest);
    let Ok(msg) = wire::decode(&bytes) else {
        return;
    };
    let again = wire::encode(&msg).expect("a decoded message encodes");
    assert_eq!(wire::decode(&again).expect("re-decodes"), msg);
    match msg {
        PeerMessage::GroupInvite(i) => {
            assert!(i.create.len() <= MAX_GROUP_MESSAGE);
            if let Ok(m) = crate::group::GroupMessage::decode(&i.create) {
                let author = m.author();
                let opened = i.open(&author);
                group_message_rules(&m);
                let first = m.content().body.opens();
                assert_eq!(
                    opened.is_ok(),
                    first.is_some() && first != Some(GroupKind::Blog)
                );
                // Only a forum's first message opens from another member.
                let other = crate::IdentityKeypair::from_seed(&[0xee; 32]).public();
                if other != author {
                    assert_eq!(
                        i.open(&other).is_ok(),
                        matches!(m.content().body, GroupBody::CreateForum { .. })
                    );
                }
            }
        }
        PeerMessage::GroupSync { frame, .. } => assert!(frame.len() <= MAX_SYNC_FRAME),
        PeerMessage::GroupAnswer { .. } | PeerMessage::GroupReveal { .. } => {}
        other => panic!("tag {} decoded as {other:?}", bytes[1]),
    }
}

/// What every verified group message keeps (`docs/protocol.md` §§ 14.1,
/// 17), asserted by the group entry points here and in `kith-sync`: a
/// `CreateBlog` is a first message in its author's blog; a `Reblog` is in
/// its author's blog, top level, and carries a verified top-level post of
/// another blog, in the blog of that post's author.
pub fn group_message_rules(m: &crate::group::GroupMessage) {
    use crate::group::{GroupBody, GroupId, MAX_GROUP_TEXT};
    let c = m.content();
    match &c.body {
        GroupBody::CreateBlog => {
            assert_eq!(c.seq, 0);
            assert_eq!(c.group, GroupId::blog_of(&c.author));
        }
        GroupBody::Reblog { text, .. } => {
            assert!(text.len() <= MAX_GROUP_TEXT);
            assert_eq!(c.group, GroupId::blog_of(&c.author));
            assert!(c.parent.is_none());
            let o = m.reblog_original().expect("a verified reblog's original");
            let oc = o.content();
            assert!(matches!(oc.body, GroupBody::Post { .. }));
            assert!(oc.parent.is_none());
            assert_eq!(oc.group, GroupId::blog_of(&oc.author));
            assert_ne!(oc.group, c.group);
        }
        GroupBody::Create { .. } | GroupBody::CreateForum { .. } => {
            assert_ne!(c.group, GroupId::blog_of(&c.author));
            assert!(m.reblog_original().is_none());
        }
        _ => assert!(m.reblog_original().is_none()),
    }
}

/// Feed arbitrary text to the file-name sanitizer: what comes out is safe,
/// sanitizes to itself, and is accepted as a received name.
pub fn file_name(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    if let Ok(n) = crate::file::FileName::sanitize(&s) {
        let n = n.as_str();
        assert!(!n.is_empty() && n.len() <= crate::limits::MAX_FILE_NAME);
        assert!(!n.contains(['/', '\\']) && !n.starts_with('.'));
        assert!(!n.chars().any(crate::text::is_disallowed_in_name));
        let again = crate::file::FileName::sanitize(n).expect("a safe name sanitizes");
        assert_eq!(again.as_str(), n);
        assert!(crate::file::FileName::try_from(n.to_owned()).is_ok());
    }
}

/// Feed arbitrary bytes to the feed parser, as `kith-transport` hands it
/// a fetched body: whatever parses keeps every bound [`crate::feed::Feed`]
/// promises (counts, lengths, clean text, web links, non-empty ids), and
/// parsing is deterministic (the same bytes give the same feed, so an item
/// seen once is recognised at the next fetch).
pub fn feed(data: &[u8]) {
    use crate::feed::{parse_feed, web_link};
    use crate::limits::{
        MAX_FEED_ITEM_ID, MAX_FEED_ITEMS, MAX_FEED_LINK, MAX_FEED_SUMMARY, MAX_FEED_TITLE,
    };
    use crate::text::is_disallowed_in_name;
    let f = match parse_feed(data) {
        Ok(f) => f,
        Err(e) => {
            // A panic caught inside is a bug all the same.
            assert_ne!(
                e,
                crate::Error::BadFeed(crate::feed::PARSER_PANICKED),
                "the parser panicked"
            );
            return;
        }
    };
    let clean = |s: &str, max: usize| {
        assert!(s.len() <= max, "{} bytes over {max}", s.len());
        assert!(!s.chars().any(is_disallowed_in_name), "{s:?}");
        assert_eq!(s, s.trim(), "trimmed");
        assert!(!s.contains("  "), "white space collapsed");
    };
    let link = |l: &Option<String>| {
        if let Some(l) = l {
            assert!(l.len() <= MAX_FEED_LINK);
            assert_eq!(web_link(l).as_deref(), Some(l.as_str()), "a web link");
        }
    };
    clean(&f.title, MAX_FEED_TITLE);
    link(&f.link);
    assert!(f.items.len() <= MAX_FEED_ITEMS);
    for item in &f.items {
        assert!(!item.id.is_empty());
        clean(&item.id, MAX_FEED_ITEM_ID);
        clean(&item.title, MAX_FEED_TITLE);
        clean(&item.summary, MAX_FEED_SUMMARY);
        link(&item.link);
    }
    assert_eq!(parse_feed(data).expect("parses again"), f, "deterministic");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// Samples for the feed entry point: mutations of these reach deeper
    /// than random bytes do.
    const FEED_SAMPLES: [&str; 2] = [
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T &amp; co</title><link>https://t.example/</link><item><title>A</title><guid>a</guid><link>https://t.example/a</link><pubDate>Tue, 03 Nov 2026 18:00:00 GMT</pubDate><description>&lt;p&gt;x&lt;/p&gt;</description></item><item><title>B</title></item></channel></rss>"#,
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">&lt;b&gt;A&lt;/b&gt;</title><link href="http://a.example/"/><entry><id>e1</id><title>E</title><link href="https://a.example/e"/><updated>2026-11-01T10:00:00Z</updated><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>hi</p></div></content></entry></feed>"#,
    ];

    /// `m`'s invitation (tag 18) through the `group_wire` entry point, as
    /// its fuzz input lays it out (tag offset from 18, then the body).
    fn through_group_wire(m: &crate::group::GroupMessage) {
        let invite = crate::wire::PeerMessage::GroupInvite(crate::group::GroupInvite {
            id: crate::wire::MessageId([2; 16]),
            create: m.encoded().to_vec(),
        });
        let bytes = crate::wire::encode(&invite).unwrap();
        let mut data = vec![bytes[1] - 18];
        data.extend_from_slice(&bytes[2..]);
        super::group_wire(&data);
    }

    #[test]
    fn feed_entry_point_takes_the_samples() {
        for s in FEED_SAMPLES {
            assert!(crate::feed::parse_feed(s.as_bytes()).is_ok(), "{s}");
            super::feed(s.as_bytes());
        }
    }

    /// Real group messages go through the group entry point, and a
    /// post passed off as an invitation is caught by its assertion's rule.
    #[test]
    fn group_entry_point_takes_real_messages() {
        use crate::group::{GroupBody, GroupContent, GroupId, GroupMessage};
        let key = crate::IdentityKeypair::from_seed(&[3; 32]);
        let signed = |body| {
            GroupMessage::sign(
                &key,
                GroupContent {
                    group: GroupId([1; 32]),
                    author: key.public().to_bytes(),
                    seq: 0,
                    previous: vec![],
                    parent: None,
                    timestamp: crate::Timestamp(5),
                    body,
                },
            )
            .unwrap()
        };
        for m in [
            signed(GroupBody::Create {
                name: "g".into(),
                description: String::new(),
            }),
            signed(GroupBody::Post { text: "p".into() }),
            signed(GroupBody::CreateForum {
                name: "f".into(),
                description: String::new(),
            }),
        ] {
            through_group_wire(&m);
        }
    }

    /// A blog's first message and a reblog go through the entry point
    /// (the blog message rules hold for them), and a `CreateBlog` does not
    /// open as an invitation.
    #[test]
    fn group_entry_point_takes_blog_messages() {
        use crate::group::{GroupBody, GroupContent, GroupId, GroupMessage};
        let in_blog = |seed: u8, seq: u64, body| {
            let key = crate::IdentityKeypair::from_seed(&[seed; 32]);
            let me = key.public().to_bytes();
            let previous = if seq == 0 {
                vec![]
            } else {
                vec![crate::group::GroupMessageId([9; 32])]
            };
            GroupMessage::sign(
                &key,
                GroupContent {
                    group: GroupId::blog_of(&me),
                    author: me,
                    seq,
                    previous,
                    parent: None,
                    timestamp: crate::Timestamp(5),
                    body,
                },
            )
            .unwrap()
        };
        let post = in_blog(3, 1, GroupBody::Post { text: "p".into() });
        let reblog = in_blog(
            4,
            1,
            GroupBody::Reblog {
                original: post.encoded().to_vec(),
                text: String::new(),
            },
        );
        for m in [in_blog(3, 0, GroupBody::CreateBlog), post, reblog] {
            super::group_message_rules(&m);
            through_group_wire(&m);
        }
    }

    /// Every conversation vector goes through the entry point.
    #[test]
    fn conversation_entry_point_accepts_the_vectors() {
        #[derive(serde::Deserialize)]
        struct V {
            hex: String,
        }
        let vs: Vec<V> =
            serde_json::from_str(include_str!("../../../docs/vectors/wire.json")).unwrap();
        let mut n = 0;
        for v in vs {
            let b = data_encoding::HEXLOWER.decode(v.hex.as_bytes()).unwrap();
            if (8..=17).contains(&b[1]) {
                let mut data = vec![b[1] - 8];
                data.extend_from_slice(&b[2..]);
                super::conversation_message(&data);
                n += 1;
            }
        }
        assert_eq!(n, 13);
        super::file_name(b"../../x");
        super::file_name(b"");
    }

    /// Found by `cargo fuzz`: a multi-byte character across the end of
    /// where `kith://` would be panicked the slicing.
    #[test]
    fn link_with_a_character_across_the_scheme_boundary() {
        super::contact_link(&[11, 38, 9, 1, 0, 0, 0, 214, 160]);
        super::contact_link("kith:/é".as_bytes());
    }

    /// The real code and the real ephemeral go through; others fail.
    #[test]
    fn meet_entry_points_accept_the_real_thing() {
        let s = crate::meet::MeetSecret::dangerously_from_bytes_for_testing_only([3; 32]);
        let code = s.code(crate::IdentityKeypair::from_seed(&[2; 32]).public(), None);
        super::meet_code(code.to_string().as_bytes());
        let mut offer = vec![0];
        offer.extend_from_slice(&s.public());
        super::meet_message(&offer);
        super::meet_message(&[0; 33]);
        super::meet_message(&[4, 1]);
        // Found by `cargo fuzz`: an overlong varint (`80 00` for 0) decodes,
        // and re-encodes shorter.
        super::meet_message(&[4, 0x80, 0]);
    }

    /// Every step of the vectors goes through the entry point.
    #[test]
    fn introduction_entry_point_accepts_every_step() {
        let mut done = vec![5];
        done.extend_from_slice(&[7; 16]);
        super::introduction_message(&done);
        let mut offer = vec![0];
        offer.extend_from_slice(&[7; 16]);
        offer.extend_from_slice(&[1, b'B', 2, b'h', b'i']);
        super::introduction_message(&offer);
        super::introduction_message(&[9]);
    }

    /// Found by `cargo fuzz`: an overlong varint for the step (`81 00`
    /// for `Accept`) decodes; the re-encoding is the one-byte form.
    #[test]
    fn introduction_step_as_an_overlong_varint() {
        let data = data_encoding::BASE64
            .decode(b"gQBqagAi/2pqACL//7UiIiYi")
            .expect("base64");
        super::introduction_message(&data);
    }

    /// Found by `cargo fuzz`: a second XML declaration naming another
    /// encoding panicked inside quick-xml; now refused before parsing.
    #[test]
    fn feed_with_a_late_declaration() {
        let data = data_encoding::BASE64
            .decode(b"PD94bWwgdmVyc2lvbj0hIjEuMCIgZW5jb2Rpbmc9InV0Zi04Ij8+CjxmZWVkIHhtbG5zPSJodHRwOi8vd3d3LnczLm9yZy8yMDA1L0F0b20iPgogIDx0aXRsZSB0eXBlPSJodG1sIj5BICZsdDtpJmd0O2NvbGxpJmd0OyBibG9nPC90aXRsZT4KICA8bGluayByZWw9InNlbGYiIGhyZWY9Imh0dHAvYmxvZy5leGFtcGxlL2ZlZWR+LmF0b20iLz4KICA8bGluayBocmVmPSJodHRwczovL2Jsb2cuZXhhbXBsZS8iLz48P3htbCB2ZXJzaW9uPSIxLjAiIGVuY29kaW5nPSJsYXRpbjEiPz4KPGZlZWQgeG1sbnM9IiI/Pgo8ZmVlZCB4bWw+Cn5yc3MgdmVyc2lvbj0iMi4wIj4KICA8Y2guZXhhbXBsZS88L2xpbms+CiAgIHhtbA0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0gdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0ibGF0aW4xIj8+CjxmZWVkIHhtbG5zPSIiPz4KPGZlZWQgeG1sPgp+cnNzIHZlcnNpb249IjIuMCI+Cmg8IGMgLmV4YW1wbGUvPC9saW5rPgogICAgPGRlc2NyaXB0aW9uPldoYXQgdmUmbHQ7L2kmZ3Q7IGJsb2c8L3RpdGxlPgojIDxsaW5rIHJlbD0ic2VsZmh0dHBzOi8vYmxvZy4jZXhhbXBsZS8KICA8aWQ+dXJuOnV1aWQ6NjBhKzc2YzgwLWRmZWVkLmF0b20iLz4KICA8bGluayBocmUmZj0iaHR0cHM6Ly5leGFtLi4uLi4uLi4uLi4uLi4uLi4uLi4uLi4uLi4/Li4uLi4uLi4uLjM5LjktMTE=")
            .expect("base64");
        assert!(matches!(
            crate::feed::parse_feed(&data),
            Err(crate::Error::BadFeed(r)) if r != crate::feed::PARSER_PANICKED
        ));
        super::feed(&data);
    }

    proptest! {
        #[test]
        fn group_wire_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            super::group_wire(&data);
        }

        #[test]
        fn link_never_panics(s in "(kith://)?[a-z2-7]{0,60}(\\.onion)?(\\?tcp=[0-9.:\\[\\]]{0,25})?") {
            super::contact_link(s.as_bytes());
        }

        #[test]
        fn link_never_panics_on_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..120)) {
            super::contact_link(&data);
        }

        #[test]
        fn link_never_panics_on_any_text(s in "\\PC{0,80}") {
            super::contact_link(s.as_bytes());
        }

        #[test]
        fn inbox_link_never_panics(s in "kith://[a-z2-7]{56}\\?(inbox)?(&?tcp=[0-9.:]{0,20})?(&inbox)?") {
            super::contact_link(s.as_bytes());
        }

        #[test]
        fn inbox_message_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            super::inbox_message(&data);
        }

        #[test]
        fn meet_code_never_panics(s in "(kith-meet:|KITH-MEET:)?[a-zA-Z2-7]{0,110}") {
            super::meet_code(s.as_bytes());
        }

        #[test]
        fn meet_code_never_panics_on_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..170)) {
            super::meet_code(&data);
        }

        #[test]
        fn meet_message_never_panics(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            super::meet_message(&data);
        }

        #[test]
        fn introduction_message_never_panics(data in proptest::collection::vec(any::<u8>(), 0..120)) {
            super::introduction_message(&data);
        }

        #[test]
        fn conversation_message_never_panics(data in proptest::collection::vec(any::<u8>(), 0..120)) {
            super::conversation_message(&data);
        }

        #[test]
        fn feed_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            super::feed(&data);
        }

        /// Samples with bytes overwritten, inserted and cut: mostly still
        /// XML, often still a feed.
        #[test]
        fn feed_mutated_samples_keep_their_bounds(
            pick in 0..FEED_SAMPLES.len(),
            edits in proptest::collection::vec((any::<u16>(), any::<u8>(), 0..3_u8), 0..12),
        ) {
            let mut data = FEED_SAMPLES[pick].as_bytes().to_vec();
            for (at, byte, op) in edits {
                let at = usize::from(at) % (data.len() + 1);
                match op {
                    0 if at < data.len() => data[at] = byte,
                    1 => data.insert(at, byte),
                    _ => data.truncate(at.max(1)),
                }
            }
            super::feed(&data);
        }

        #[test]
        fn file_name_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            super::file_name(&data);
        }

        #[test]
        fn wire_never_panics(mut data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Some(b) = data.first_mut() { *b = 1; }
            super::wire_frame(&data);
        }
    }
}
