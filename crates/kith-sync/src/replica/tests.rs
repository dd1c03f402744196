use kith_core::IdentityKeypair;
use kith_core::group::{GroupBody, GroupContent};

use super::*;

const GROUP: GroupId = GroupId([7; 32]);
const NOW: Timestamp = Timestamp(1_700_000_000_000);

fn key(n: u8) -> IdentityKeypair {
    IdentityKeypair::from_seed(&[n; 32])
}

/// Author `n`'s chain of `len` posts.
fn chain(n: u8, len: u64) -> Vec<GroupMessage> {
    let k = key(n);
    let mut out: Vec<GroupMessage> = Vec::new();
    for seq in 0..len {
        let c = GroupContent {
            group: GROUP,
            author: k.public().to_bytes(),
            seq,
            previous: out.last().map(|m| vec![m.id()]).unwrap_or_default(),
            parent: None,
            timestamp: Timestamp(NOW.0 + seq * 1000 + u64::from(n)),
            body: GroupBody::Post {
                text: format!("post {seq} by {n}"),
            },
        };
        out.push(GroupMessage::sign(&k, c).unwrap());
    }
    out
}

fn relayer(n: u8) -> Source {
    Source::Peer([n; 32])
}

#[test]
fn in_order_is_accepted() {
    let mut r = Replica::new(GROUP, Limits::default());
    for m in chain(1, 5) {
        let out = r.insert_encoded(m.encoded(), relayer(9), NOW).unwrap();
        assert_eq!(out, Inserted::Accepted(vec![m.id()]));
    }
    assert_eq!(r.len(), 5);
    assert_eq!(r.missing(), 0);
    assert_eq!(r.accepted().count(), 5);
    let m = chain(1, 1).remove(0);
    assert_eq!(r.insert(m, Source::Local, NOW).unwrap(), Inserted::Known);
}

#[test]
fn out_of_chain_waits_and_is_counted_then_completes() {
    let c = chain(1, 5);
    let mut r = Replica::new(GROUP, Limits::default());
    r.insert(c[0].clone(), relayer(9), NOW).unwrap();
    // 3 and 4 arrive first: 1 and 2 are not yet received.
    assert_eq!(
        r.insert(c[4].clone(), relayer(9), NOW).unwrap(),
        Inserted::Waiting { predecessors: 1 }
    );
    assert_eq!(
        r.insert(c[3].clone(), relayer(9), NOW).unwrap(),
        Inserted::Waiting { predecessors: 1 }
    );
    assert_eq!(r.missing(), 2);
    assert_eq!(r.waiting(), 2);
    assert_eq!(r.wanted_predecessors(), vec![c[2].id()]);
    assert!(!r.is_accepted(&c[4].id()));
    // Waiting messages take part in reconciliation.
    assert_eq!(r.items().len(), 3);
    r.insert(c[1].clone(), relayer(9), NOW).unwrap();
    assert_eq!(r.missing(), 1);
    let out = r.insert(c[2].clone(), relayer(9), NOW).unwrap();
    assert_eq!(
        out,
        Inserted::Accepted(vec![c[2].id(), c[3].id(), c[4].id()])
    );
    assert_eq!(r.missing(), 0);
    assert_eq!(r.waiting(), 0);
    assert!(r.is_accepted(&c[4].id()));
}

#[test]
fn forged_and_altered_are_refused() {
    let mut r = Replica::new(GROUP, Limits::default());
    let m = chain(1, 1).remove(0);
    let mut b = m.encoded().to_vec();
    let n = b.len();
    b[n - 70] ^= 1;
    assert!(matches!(
        r.insert_encoded(&b, relayer(9), NOW),
        Err(Error::Message(_))
    ));
    b[n - 70] ^= 1;
    b[n - 1] ^= 1;
    assert_eq!(
        r.insert_encoded(&b, relayer(9), NOW),
        Err(Error::Message(kith_core::Error::BadSignature))
    );
    assert!(r.is_empty());
    // Remembered, so not asked for again.
    assert!(r.was_refused(&GroupMessageId::of(&b)));
    assert!(!r.was_refused(&m.id()));
    assert_eq!(
        r.insert_encoded(&b, relayer(9), NOW).unwrap_err().kind(),
        kith_core::ErrorKind::PeerAuthenticationFailed
    );
}

#[test]
fn chain_that_names_another_author_or_wrong_seq_is_refused() {
    let a = chain(1, 2);
    let k = key(2);
    let content = |seq, previous| GroupContent {
        group: GROUP,
        author: k.public().to_bytes(),
        seq,
        previous,
        parent: None,
        timestamp: NOW,
        body: GroupBody::Leave,
    };
    let mut r = Replica::new(GROUP, Limits::default());
    for m in &a {
        r.insert(m.clone(), relayer(9), NOW).unwrap();
    }
    // Author 2 names author 1's message as its own predecessor.
    let bad = GroupMessage::sign(&k, content(1, vec![a[0].id()])).unwrap();
    assert!(matches!(
        r.insert(bad, relayer(9), NOW),
        Err(Error::BadChain(_))
    ));
    // Author 2's seq 5 right after its seq 0: a gap the chain cannot have.
    let b0 = GroupMessage::sign(&k, content(0, vec![])).unwrap();
    r.insert(b0.clone(), relayer(9), NOW).unwrap();
    let gap = GroupMessage::sign(&k, content(5, vec![b0.id()])).unwrap();
    assert!(matches!(
        r.insert(gap, relayer(9), NOW),
        Err(Error::BadChain(_))
    ));
    // Found out late: it waited for a predecessor that turns out to be
    // another author's: it is dropped when the predecessor arrives.
    let mut r = Replica::new(GROUP, Limits::default());
    let late = GroupMessage::sign(&k, content(1, vec![a[0].id()])).unwrap();
    assert_eq!(
        r.insert(late.clone(), relayer(9), NOW).unwrap(),
        Inserted::Waiting { predecessors: 1 }
    );
    assert_eq!(
        r.insert(a[0].clone(), relayer(9), NOW).unwrap(),
        Inserted::Accepted(vec![a[0].id()])
    );
    assert!(!r.contains(&late.id()));
    assert!(r.was_refused(&late.id()));
    assert_eq!(r.waiting(), 0);
}

#[test]
fn wrong_group_and_non_members_are_refused() {
    let mut r = Replica::new(GroupId([8; 32]), Limits::default());
    let m = chain(1, 1).remove(0);
    assert_eq!(r.insert(m.clone(), relayer(9), NOW), Err(Error::WrongGroup));
    let mut r = Replica::new(GROUP, Limits::default());
    r.set_members(Some([key(2).public().to_bytes()].into_iter().collect()));
    assert_eq!(r.insert(m, relayer(9), NOW), Err(Error::NotAMember));
}

#[test]
fn caps_per_author_and_per_relayer() {
    let c = chain(1, 10);
    let limits = Limits {
        messages_per_author: 5,
        ..Limits::default()
    };
    let mut r = Replica::new(GROUP, limits);
    for m in &c[..5] {
        r.insert(m.clone(), Source::Local, NOW).unwrap();
    }
    assert_eq!(
        r.insert(c[5].clone(), Source::Local, NOW),
        Err(Error::OverCap {
            what: "messages of one author",
            max: 5
        })
    );

    let limits = Limits {
        messages_per_relayer_window: 3,
        ..Limits::default()
    };
    let mut r = Replica::new(GROUP, limits);
    for m in &c[..3] {
        r.insert_encoded(m.encoded(), relayer(9), NOW).unwrap();
    }
    let e = r
        .insert_encoded(c[3].encoded(), relayer(9), NOW)
        .unwrap_err();
    assert!(matches!(e, Error::OverCap { max: 3, .. }), "{e:?}");
    assert_eq!(e.kind(), kith_core::ErrorKind::PeerProtocolViolation);
    // Another relayer, or the same one a window later, is served.
    r.insert_encoded(c[3].encoded(), relayer(8), NOW).unwrap();
    let later = Timestamp(NOW.0 + 60_000);
    r.insert_encoded(c[4].encoded(), relayer(9), later).unwrap();
    // A known message costs nothing.
    assert_eq!(
        r.insert_encoded(c[0].encoded(), relayer(8), NOW).unwrap(),
        Inserted::Known
    );

    let limits = Limits {
        waiting_per_relayer: 2,
        ..Limits::default()
    };
    let mut r = Replica::new(GROUP, limits);
    for m in &c[5..7] {
        r.insert(m.clone(), relayer(9), NOW).unwrap();
    }
    assert!(matches!(
        r.insert(c[8].clone(), relayer(9), NOW),
        Err(Error::OverCap { max: 2, .. })
    ));
    assert_eq!(r.missing(), 5);

    let limits = Limits {
        bytes_per_relayer_window: 300,
        ..Limits::default()
    };
    let mut r = Replica::new(GROUP, limits);
    r.insert(c[0].clone(), relayer(9), NOW).unwrap();
    assert!(matches!(
        r.insert(c[1].clone(), relayer(9), NOW),
        Err(Error::OverCap { max: 300, .. })
    ));
}
