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
fn a_policy_rule_refuses_by_body_and_is_remembered() {
    let c = chain(1, 2);
    let mut r = Replica::new(GROUP, Limits::default());
    // A rule that takes a first message only.
    r.set_admit(Some(Arc::new(|m: &GroupMessage| {
        if m.content().seq == 0 {
            Ok(())
        } else {
            Err("only first messages")
        }
    })));
    assert_eq!(
        r.insert_encoded(c[0].encoded(), relayer(9), NOW).unwrap(),
        Inserted::Accepted(vec![c[0].id()])
    );
    assert_eq!(
        r.insert_encoded(c[1].encoded(), relayer(9), NOW),
        Err(Error::NotAllowed("only first messages"))
    );
    assert!(!r.contains(&c[1].id()));
    assert!(r.was_refused(&c[1].id()));
    assert_eq!(
        Error::NotAllowed("x").kind(),
        kith_core::ErrorKind::PeerProtocolViolation
    );
    // Without the rule, it is taken.
    r.set_admit(None);
    assert_eq!(
        r.insert(c[1].clone(), relayer(9), NOW).unwrap(),
        Inserted::Accepted(vec![c[1].id()])
    );
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

/// The tombstone of `m`, as the store gives it: id, author, seq.
fn tombstone(m: &GroupMessage) -> (GroupMessageId, [u8; 32], u64) {
    (m.id(), m.content().author, m.content().seq)
}

fn insert_tombstone(r: &mut Replica, m: &GroupMessage) -> Result<Inserted, Error> {
    let (id, author, seq) = tombstone(m);
    r.insert_tombstone(id, author, seq)
}

#[test]
fn rebuilt_from_messages_and_tombstones_either_order() {
    let c = chain(1, 6);
    let gone = [&c[1], &c[3]];
    for tombstones_first in [true, false] {
        let mut r = Replica::new(GROUP, Limits::default());
        if tombstones_first {
            for m in gone {
                assert_eq!(
                    insert_tombstone(&mut r, m).unwrap(),
                    Inserted::Accepted(vec![m.id()])
                );
            }
        }
        for i in [0, 2, 4, 5] {
            let out = r.insert(c[i].clone(), Source::Local, NOW).unwrap();
            if tombstones_first {
                assert_eq!(out, Inserted::Accepted(vec![c[i].id()]));
            }
        }
        if !tombstones_first {
            // 2 waited for the tombstone of 1, 4 and 5 for that of 3.
            assert_eq!(r.waiting(), 3);
            assert_eq!(r.wanted_predecessors().len(), 2);
            assert_eq!(
                insert_tombstone(&mut r, &c[1]).unwrap(),
                Inserted::Accepted(vec![c[1].id(), c[2].id()])
            );
            assert_eq!(
                insert_tombstone(&mut r, &c[3]).unwrap(),
                Inserted::Accepted(vec![c[3].id(), c[4].id(), c[5].id()])
            );
        }
        assert_eq!(r.waiting(), 0);
        assert_eq!(r.missing(), 0);
        assert!(r.wanted_predecessors().is_empty());
        assert_eq!(r.len(), 6);
        let ids: BTreeSet<GroupMessageId> = r.ids().collect();
        assert_eq!(ids, c.iter().map(GroupMessage::id).collect());
        assert_eq!(r.items().len(), 4);
        let accepted: Vec<GroupMessageId> = r.accepted().map(GroupMessage::id).collect();
        assert_eq!(accepted, [0, 2, 4, 5].map(|i| c[i].id()));
        for m in gone {
            let id = m.id();
            assert!(r.contains(&id) && r.is_accepted(&id) && r.is_tombstone(&id));
            assert!(r.get(&id).is_none());
            assert_eq!(insert_tombstone(&mut r, m).unwrap(), Inserted::Known);
            assert_eq!(
                r.insert(m.clone(), Source::Local, NOW).unwrap(),
                Inserted::Known
            );
        }
        assert!(!r.is_tombstone(&c[0].id()));
        assert!(!r.is_tombstone(&GroupMessageId([9; 32])));
    }
}

#[test]
fn successors_of_a_tombstone_are_checked_against_its_author_and_seq() {
    let c = chain(1, 3);
    let k = key(2);
    let other = |seq, previous| {
        GroupMessage::sign(
            &k,
            GroupContent {
                group: GROUP,
                author: k.public().to_bytes(),
                seq,
                previous,
                parent: None,
                timestamp: NOW,
                body: GroupBody::Leave,
            },
        )
        .unwrap()
    };
    let mut r = Replica::new(GROUP, Limits::default());
    r.insert(c[0].clone(), Source::Local, NOW).unwrap();
    insert_tombstone(&mut r, &c[1]).unwrap();
    // Another author naming the tombstone as its predecessor.
    assert!(matches!(
        r.insert(other(2, vec![c[1].id()]), relayer(9), NOW),
        Err(Error::BadChain(_))
    ));
    // Author 1 right after the tombstone of its seq 1, but claiming seq 3.
    let k1 = key(1);
    let gap = GroupMessage::sign(
        &k1,
        GroupContent {
            group: GROUP,
            author: k1.public().to_bytes(),
            seq: 3,
            previous: vec![c[1].id()],
            parent: None,
            timestamp: NOW,
            body: GroupBody::Leave,
        },
    )
    .unwrap();
    assert!(matches!(
        r.insert(gap, relayer(9), NOW),
        Err(Error::BadChain(_))
    ));
    // The real successor is accepted.
    assert_eq!(
        r.insert_encoded(c[2].encoded(), relayer(9), NOW).unwrap(),
        Inserted::Accepted(vec![c[2].id()])
    );
    // A waiting message found out of chain by a tombstone arriving late.
    let mut r = Replica::new(GROUP, Limits::default());
    let late = other(2, vec![c[1].id()]);
    assert_eq!(
        r.insert(late.clone(), relayer(9), NOW).unwrap(),
        Inserted::Waiting { predecessors: 1 }
    );
    r.insert(c[0].clone(), Source::Local, NOW).unwrap();
    assert_eq!(
        insert_tombstone(&mut r, &c[1]).unwrap(),
        Inserted::Accepted(vec![c[1].id()])
    );
    assert!(!r.contains(&late.id()) && r.was_refused(&late.id()));
    assert_eq!(r.waiting(), 0);
    assert!(r.is_tombstone(&c[1].id()));
}

#[test]
fn content_forgotten_while_running() {
    let c = chain(1, 5);
    let mut r = Replica::new(GROUP, Limits::default());
    r.insert(c[0].clone(), Source::Local, NOW).unwrap();
    // Accepted: it becomes a tombstone, nothing else changes.
    assert_eq!(r.forget_content(&c[0].id()), Some(vec![]));
    assert_eq!(r.forget_content(&c[0].id()), None);
    assert_eq!(r.forget_content(&GroupMessageId([9; 32])), None);
    assert!(r.is_tombstone(&c[0].id()) && r.get(&c[0].id()).is_none());
    assert_eq!(r.accepted().count(), 0);
    assert!(r.items().is_empty());
    assert_eq!(r.len(), 1);
    assert_eq!(
        r.insert_encoded(c[0].encoded(), relayer(9), NOW).unwrap(),
        Inserted::Known
    );
    // Waiting: 2 and 3 wait for 1; 2 is deleted, so 3 only needs it.
    r.insert(c[2].clone(), relayer(9), NOW).unwrap();
    r.insert(c[3].clone(), relayer(9), NOW).unwrap();
    assert_eq!(r.waiting(), 2);
    assert_eq!(r.forget_content(&c[2].id()), Some(vec![c[3].id()]));
    assert!(r.is_accepted(&c[2].id()) && r.is_accepted(&c[3].id()));
    assert_eq!(r.waiting(), 0);
    assert_eq!(r.missing(), 1);
    // What waited for 1 was forgotten: nothing asks for it; it still comes
    // by reconciliation, and completes nothing.
    assert!(r.wanted_predecessors().is_empty());
    assert_eq!(
        r.insert(c[1].clone(), relayer(9), NOW).unwrap(),
        Inserted::Accepted(vec![c[1].id()])
    );
    assert_eq!(r.missing(), 0);
    let accepted: Vec<GroupMessageId> = r.accepted().map(GroupMessage::id).collect();
    assert_eq!(accepted, vec![c[1].id(), c[3].id()]);
    // Out of the relayer's waiting count too: it may make two wait again.
    let limits = Limits {
        waiting_per_relayer: 1,
        ..Limits::default()
    };
    let mut r = Replica::new(GROUP, limits);
    r.insert(c[2].clone(), relayer(9), NOW).unwrap();
    assert!(r.insert(c[4].clone(), relayer(9), NOW).is_err());
    assert_eq!(r.forget_content(&c[2].id()), Some(vec![]));
    assert_eq!(
        r.insert(c[4].clone(), relayer(9), NOW).unwrap(),
        Inserted::Waiting { predecessors: 1 }
    );
}

#[test]
fn tombstones_count_against_the_message_cap_not_the_byte_cap() {
    let c = chain(1, 5);
    let size = c[1].encoded().len();
    assert_eq!(c[2].encoded().len(), size);
    let limits = Limits {
        messages_per_author: 4,
        bytes_per_author: 2 * size,
        ..Limits::default()
    };
    let mut r = Replica::new(GROUP, limits);
    r.insert(c[0].clone(), Source::Local, NOW).unwrap();
    r.insert(c[1].clone(), Source::Local, NOW).unwrap();
    assert!(matches!(
        r.insert(c[2].clone(), Source::Local, NOW),
        Err(Error::OverCap {
            what: "bytes of one author",
            ..
        })
    ));
    // Forgetting frees the bytes, not the message slot.
    r.forget_content(&c[0].id()).unwrap();
    r.insert(c[2].clone(), Source::Local, NOW).unwrap();
    insert_tombstone(&mut r, &c[3]).unwrap();
    let over = Err(Error::OverCap {
        what: "messages of one author",
        max: 4,
    });
    assert_eq!(r.insert(c[4].clone(), Source::Local, NOW), over);
    assert_eq!(insert_tombstone(&mut r, &c[4]), over);
    assert!(!r.contains(&c[4].id()));
    assert_eq!(r.len(), 4);
}

#[test]
fn a_relayed_copy_of_a_tombstone_costs_nothing_and_is_not_kept() {
    let c = chain(1, 2);
    let limits = Limits {
        messages_per_relayer_window: 1,
        ..Limits::default()
    };
    let mut r = Replica::new(GROUP, limits);
    insert_tombstone(&mut r, &c[0]).unwrap();
    for _ in 0..3 {
        assert_eq!(
            r.insert_encoded(c[0].encoded(), relayer(9), NOW).unwrap(),
            Inserted::Known
        );
    }
    assert!(r.get(&c[0].id()).is_none() && r.items().is_empty());
    // The relayer's window was not charged.
    assert_eq!(
        r.insert_encoded(c[1].encoded(), relayer(9), NOW).unwrap(),
        Inserted::Accepted(vec![c[1].id()])
    );
}
