//! Groups between three profiles over TCP on 127.0.0.1.

use std::time::Duration;

use super::*;
use crate::tests::{kith, tcp, until, until_long};
use crate::{ContactState, Password};

/// Alice, Bob, Carol and Dave (password "pw"), each online over TCP.
pub(super) async fn four_online(k: &crate::Kith) -> [Profile; 4] {
    let mut out = vec![];
    for (name, display) in [
        ("alice", "Alice"),
        ("bob", "Bob"),
        ("carol", "Carol"),
        ("dave", "Dave"),
    ] {
        let p = k
            .create_profile(name, display, Password::new("pw".into()))
            .await
            .expect("profile");
        p.go_online(tcp()).await.expect("online");
        out.push(p);
    }
    out.try_into()
        .unwrap_or_else(|_| unreachable!("four profiles"))
}

/// `a` and `b` add each other (`b_at_a` is b's alias at a); waits until
/// both see the other accepted. Their ids, at a and at b.
pub(super) async fn befriend(
    a: &Profile,
    b: &Profile,
    b_at_a: &str,
    a_at_b: &str,
) -> (ContactId, ContactId) {
    let x = a.add_contact(&b.link(), b_at_a).await.expect("add");
    let y = b.add_contact(&a.link(), a_at_b).await.expect("add");
    until_long("both accepted", || async {
        a.contact(x.id).await.expect("c").state == ContactState::Accepted
            && b.contact(y.id).await.expect("c").state == ContactState::Accepted
    })
    .await;
    (x.id, y.id)
}

async fn posts(p: &Profile, g: GroupId) -> Vec<String> {
    p.group_messages(g)
        .await
        .expect("messages")
        .into_iter()
        .filter_map(|m| match m.body {
            GroupLine::Post(t) => Some(t),
            _ => None,
        })
        .collect()
}

async fn state(p: &Profile, g: GroupId) -> GroupState {
    p.group(g).await.expect("group").state
}

/// The story over TCP: the creator invites two contacts, they join
/// and reveal to each other; with the creator offline a post reaches the
/// other member through their own sync; the creator catches up when back;
/// a removed member gets nothing written after its removal; leaving and
/// dissolving end it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_relays_member_to_member() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let pw = || Password::new("pw".into());
    let a = k.create_profile("alice", "Alice", pw()).await.expect("a");
    let b = k.create_profile("bob", "Bob", pw()).await.expect("b");
    let c = k.create_profile("carol", "Carol", pw()).await.expect("c");
    for p in [&a, &b, &c] {
        p.go_online(tcp()).await.expect("online");
    }
    let (a_bob, b_alice) = befriend(&a, &b, "bob", "alice").await;
    let (a_carol, c_alice) = befriend(&a, &c, "carol", "alice").await;
    let (b_carol, c_bob) = befriend(&b, &c, "carol", "bob").await;

    let g = a
        .create_group("Garden", "plots and seeds")
        .await
        .expect("create");
    assert!(g.ours);
    assert_eq!(g.state, GroupState::Member);
    assert!(
        b.invite_to_group(g.id, b_carol).await.is_err(),
        "not bob's group"
    );
    a.invite_to_group(g.id, a_bob).await.expect("invite bob");
    a.invite_to_group(g.id, a_carol)
        .await
        .expect("invite carol");
    for (p, from) in [(&b, b_alice), (&c, c_alice)] {
        until("the invitation", || async {
            p.group_invitations()
                .await
                .expect("inv")
                .iter()
                .any(|i| i.group == g.id && i.from == from && i.name == "Garden")
        })
        .await;
        p.answer_group_invitation(from, g.id, true)
            .await
            .expect("join");
    }
    for p in [&b, &c] {
        until("added by the creator", || async {
            state(p, g.id).await == GroupState::Member
        })
        .await;
    }
    until("three members everywhere", || async {
        let mut ok = true;
        for p in [&a, &b, &c] {
            ok &= p.group(g.id).await.expect("g").members == 3;
        }
        ok
    })
    .await;

    // A post goes to everyone (through the creator).
    let hello = b
        .post_to_group(g.id, "hello all", None)
        .await
        .expect("post");
    until("bob's post at carol", || async {
        posts(&c, g.id).await.contains(&"hello all".to_owned())
    })
    .await;
    // A reply in its thread, and a reaction.
    let re = c
        .post_to_group(g.id, "hi bob", Some(hello.id))
        .await
        .expect("reply");
    c.react_in_group(g.id, hello.id, Some("👍"))
        .await
        .expect("react");
    until("the reply and the reaction at bob", || async {
        let ms = b.group_messages(g.id).await.expect("m");
        ms.iter()
            .any(|m| m.id == re.id && m.parent == Some(hello.id))
            && ms.iter().any(|m| {
                m.id == hello.id && m.reactions == [(Author::Contact("carol".into()), "👍".into())]
            })
    })
    .await;
    assert!(b.group(g.id).await.expect("g").unread >= 1);

    // Bob and Carol reveal to each other; then with Alice offline, Bob's
    // post reaches Carol directly.
    b.reveal_in_group(g.id, b_carol).await.expect("reveal");
    c.reveal_in_group(g.id, c_bob).await.expect("reveal");
    until("direct both ways", || async {
        let at_b = b.group_members(g.id).await.expect("m");
        let at_c = c.group_members(g.id).await.expect("m");
        at_b.iter()
            .any(|m| m.who == Author::Contact("carol".into()) && m.direct)
            && at_c
                .iter()
                .any(|m| m.who == Author::Contact("bob".into()) && m.direct)
    })
    .await;
    a.go_offline().await;
    b.post_to_group(g.id, "while alice is away", None)
        .await
        .expect("post");
    until("the post at carol without alice", || async {
        posts(&c, g.id)
            .await
            .contains(&"while alice is away".to_owned())
    })
    .await;
    assert!(
        !posts(&a, g.id)
            .await
            .contains(&"while alice is away".to_owned())
    );
    a.go_online(tcp()).await.expect("online");
    until("alice catches up", || async {
        posts(&a, g.id)
            .await
            .contains(&"while alice is away".to_owned())
    })
    .await;

    // Alice removes Carol: what is written after does not reach her.
    let carol_key = c.inner.identity.public().to_bytes();
    assert!(
        b.remove_from_group(g.id, carol_key).await.is_err(),
        "bob is not the creator"
    );
    a.remove_from_group(g.id, carol_key).await.expect("remove");
    until("bob sees her removed", || async {
        b.group_members(g.id)
            .await
            .expect("m")
            .iter()
            .any(|m| m.key == carol_key && m.state == MemberState::Removed)
    })
    .await;
    b.post_to_group(g.id, "after carol left", None)
        .await
        .expect("post");
    until("alice has it", || async {
        posts(&a, g.id)
            .await
            .contains(&"after carol left".to_owned())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !posts(&c, g.id)
            .await
            .contains(&"after carol left".to_owned()),
        "a removed member got a later post"
    );
    // What she writes now reaches no one: nobody syncs with her.
    c.post_to_group(g.id, "still here?", None)
        .await
        .expect("her own");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!posts(&b, g.id).await.contains(&"still here?".to_owned()));
    assert!(!posts(&a, g.id).await.contains(&"still here?".to_owned()));

    // Bob leaves; Alice dissolves the group.
    b.leave_group(g.id).await.expect("leave");
    assert_eq!(state(&b, g.id).await, GroupState::Left);
    until("alice sees bob gone", || async {
        a.group_members(g.id)
            .await
            .expect("m")
            .iter()
            .any(|m| m.who == Author::Contact("bob".into()) && m.state == MemberState::Left)
    })
    .await;
    a.leave_group(g.id).await.expect("dissolve");
    assert_eq!(state(&a, g.id).await, GroupState::Dissolved);
    a.delete_group(g.id).await.expect("delete");
    assert!(a.groups().await.expect("g").is_empty());
    k.shutdown().await;
}

/// Membership read from messages in any order ends the same.
#[test]
fn membership_does_not_depend_on_order() {
    let creator = IdentityKeypairForTests::new(1);
    let bob = IdentityKeypairForTests::new(2);
    let g = GroupId([9; 32]);
    let msg = |who: &IdentityKeypairForTests, seq: u64, at: u64, body: GroupBody| {
        signed_at(&who.0, g, seq, at, body)
    };
    let b = bob.0.public().to_bytes();
    let add = msg(&creator, 1, 10, GroupBody::Add { member: b });
    let leave = msg(&bob, 0, 20, GroupBody::Leave);
    let again = msg(&creator, 2, 30, GroupBody::Add { member: b });
    let orders = [
        vec![&add, &leave, &again],
        vec![&again, &leave, &add],
        vec![&leave, &again, &add],
    ];
    for order in orders {
        let mut m = Membership::new(creator.0.public().to_bytes(), GroupKind::Group);
        for x in order {
            m.apply(x);
        }
        assert!(m.current.contains(&b), "added again after leaving");
    }
    let mut m = Membership::new(creator.0.public().to_bytes(), GroupKind::Group);
    m.apply(&leave);
    m.apply(&add);
    assert!(
        !m.current.contains(&b) && m.left.contains(&b),
        "left after the add"
    );
    m.apply(&msg(&creator, 3, 40, GroupBody::Remove { member: b }));
    assert!(m.removed.contains(&b) && !m.current.contains(&b));
    m.apply(&msg(&creator, 4, 50, GroupBody::Leave));
    assert!(m.dissolved && m.current.is_empty());
}

/// `who`'s message `seq` in `group`, written at `at` (ms), its previous
/// id made up from `seq` (for membership read without chains).
pub(crate) fn signed_at(
    who: &kith_core::IdentityKeypair,
    group: GroupId,
    seq: u64,
    at: u64,
    body: GroupBody,
) -> GroupMessage {
    GroupMessage::sign(
        who,
        GroupContent {
            group,
            author: who.public().to_bytes(),
            seq,
            previous: if seq == 0 {
                vec![]
            } else {
                vec![GroupMessageId([seq as u8; 32])]
            },
            parent: None,
            timestamp: Timestamp(at),
            body,
        },
    )
    .expect("sign")
}

struct IdentityKeypairForTests(kith_core::IdentityKeypair);

impl IdentityKeypairForTests {
    fn new(n: u8) -> Self {
        IdentityKeypairForTests(kith_core::IdentityKeypair::from_seed(&[n; 32]))
    }
}

/// Alice and Bob in a group Alice made (Bob joined).
async fn joined(k: &crate::Kith) -> (Profile, Profile, ContactId, ContactId, GroupId) {
    let pw = || Password::new("pw".into());
    let a = k.create_profile("alice", "Alice", pw()).await.expect("a");
    let b = k.create_profile("bob", "Bob", pw()).await.expect("b");
    for p in [&a, &b] {
        p.go_online(tcp()).await.expect("online");
    }
    let (a_bob, b_alice) = befriend(&a, &b, "bob", "alice").await;
    let g = a.create_group("Den", "").await.expect("create").id;
    a.invite_to_group(g, a_bob).await.expect("invite");
    until("the invitation", || async {
        !b.group_invitations().await.expect("inv").is_empty()
    })
    .await;
    b.answer_group_invitation(b_alice, g, true)
        .await
        .expect("join");
    until("bob a member", || async {
        state(&b, g).await == GroupState::Member
    })
    .await;
    (a, b, a_bob, b_alice, g)
}

/// A member relaying forged, altered or out-of-chain messages: none is
/// kept or shown, the relayer gains nothing, and past a cap its session is
/// closed with a typed error; the group goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_altered_and_out_of_chain_messages_are_refused() {
    use kith_sync::frame::SyncFrame;
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b, a_bob, _, g) = joined(&k).await;
    let bob = &b.inner.identity;
    let stranger = kith_core::IdentityKeypair::from_seed(&[0x55; 32]);
    let content = |author: &kith_core::IdentityKeypair, seq: u64, text: &str| GroupContent {
        group: g,
        author: author.public().to_bytes(),
        seq,
        previous: if seq == 0 {
            vec![]
        } else {
            vec![GroupMessageId([seq as u8; 32])]
        },
        parent: None,
        timestamp: Timestamp::now(),
        body: GroupBody::Post { text: text.into() },
    };
    // Not a member's; an altered one of Bob's; Bob's, out of chain (its
    // predecessor never comes).
    let forged = GroupMessage::sign(&stranger, content(&stranger, 0, "forged")).expect("sign");
    let mut altered = GroupMessage::sign(bob, content(bob, 0, "real"))
        .expect("sign")
        .encoded()
        .to_vec();
    let at = altered.len() - 70;
    altered[at] ^= 1;
    let orphan = GroupMessage::sign(bob, content(bob, 7, "orphan")).expect("sign");
    let frame = |messages: Vec<Vec<u8>>| PeerMessage::GroupSync {
        opener: true,
        frame: kith_sync::frame::encode(&SyncFrame::Messages {
            group: g,
            messages,
            end: false,
        })
        .expect("frame"),
    };
    let mut files = crate::file::SessionFiles::default();
    let mut ss = sync::SessionSync::default();
    let mut on = async |m: PeerMessage| {
        crate::net::on_message(&a.inner, a_bob, m, &mut files, &mut ss).await
    };
    on(frame(vec![
        forged.encoded().to_vec(),
        altered.clone(),
        orphan.encoded().to_vec(),
    ]))
    .await
    .expect("refused, the session goes on");
    assert!(posts(&a, g).await.is_empty(), "nothing shown");
    assert!(
        a.group_messages(g)
            .await
            .expect("m")
            .iter()
            .all(|m| m.accepted)
    );
    // A frame that does not decode, a few times: dropped.
    for _ in 0..3 {
        let junk = PeerMessage::GroupSync {
            opener: true,
            frame: vec![1, 0xff, 3],
        };
        on(junk).await.expect("dropped");
    }
    // A flood of forged messages ends the session.
    let mut ended = None;
    for i in 0..40u64 {
        let batch: Vec<Vec<u8>> = (0..2)
            .map(|j| {
                GroupMessage::sign(&stranger, content(&stranger, 0, &format!("f{i}-{j}")))
                    .expect("sign")
                    .encoded()
                    .to_vec()
            })
            .collect();
        if let Err(e) = on(frame(batch)).await {
            ended = Some(e);
            break;
        }
    }
    assert!(
        matches!(ended, Some(Error::Protocol(_))),
        "a flood of forged messages must end the session: {ended:?}"
    );
    // The real group still works.
    b.post_to_group(g, "still fine", None).await.expect("post");
    until("bob's post", || async {
        posts(&a, g).await == ["still fine".to_owned()]
    })
    .await;
    k.shutdown().await;
}

/// A post deleted here, or disappeared, does not come back when a member
/// syncs again, also after a restart; its successors are not left waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_and_disappeared_posts_stay_gone() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b, _, _, g) = joined(&k).await;
    let first = b.post_to_group(g, "first", None).await.expect("post");
    until("at alice", || async { posts(&a, g).await.len() == 1 }).await;
    assert!(a.delete_group_message(g, first.id).await.expect("delete"));
    assert!(posts(&a, g).await.is_empty());
    assert_eq!(
        a.inner
            .groups
            .with(g, |l| l.replica.get(&first.id).is_some()),
        Some(false),
        "its content gone from memory too"
    );
    b.post_to_group(g, "second", None).await.expect("post");
    until("the next one accepted at alice", || async {
        let ms = a.group_messages(g).await.expect("m");
        ms.iter()
            .any(|m| m.body == GroupLine::Post("second".into()) && m.accepted)
    })
    .await;
    assert_eq!(posts(&a, g).await, ["second".to_owned()]);

    // A timer here: the next post disappears at its deadline.
    a.set_group_disappear(g, DisappearTimer::FiveMinutes)
        .await
        .expect("timer");
    b.post_to_group(g, "brief", None).await.expect("post");
    until("brief at alice", || async {
        posts(&a, g).await.contains(&"brief".to_owned())
    })
    .await;
    let brief = a
        .group_messages(g)
        .await
        .expect("m")
        .into_iter()
        .find(|m| m.body == GroupLine::Post("brief".into()))
        .expect("brief");
    let at = brief.expires_at.expect("a deadline");
    crate::conversation::expire(&a.inner, Timestamp(at.0 + 1))
        .await
        .expect("expire");
    assert_eq!(posts(&a, g).await, ["second".to_owned()]);

    // Alice locks and unlocks: the replica is rebuilt; Bob syncs again.
    k.lock("alice").await;
    let a = k
        .unlock("alice", Password::new("pw".into()))
        .await
        .expect("unlock");
    a.go_online(tcp()).await.expect("online");
    b.post_to_group(g, "third", None).await.expect("post");
    until("third at alice", || async {
        posts(&a, g).await.contains(&"third".to_owned())
    })
    .await;
    assert_eq!(
        posts(&a, g).await,
        ["second".to_owned(), "third".to_owned()]
    );
    assert!(
        a.group_messages(g)
            .await
            .expect("m")
            .iter()
            .all(|m| m.accepted)
    );
    // Not in memory either: nothing to give a member who asks for it.
    let held = |id| {
        a.inner.groups.with(g, |l| {
            (l.replica.contains(&id), l.replica.get(&id).is_some())
        })
    };
    assert_eq!(held(first.id), Some((true, false)), "a tombstone");
    assert_eq!(held(brief.id), Some((true, false)), "a tombstone");
    assert_eq!(a.group(g).await.expect("g").missing, 0);
    // Our own post deleted here: the next one still follows it in our
    // chain, and Bob takes it.
    let mine = a.post_to_group(g, "mine", None).await.expect("post");
    until("bob has it", || async {
        b.group_messages(g)
            .await
            .expect("m")
            .iter()
            .any(|m| m.id == mine.id)
    })
    .await;
    assert!(a.delete_group_message(g, mine.id).await.expect("delete"));
    a.post_to_group(g, "after mine", None).await.expect("post");
    until("bob takes it", || async {
        b.group_messages(g)
            .await
            .expect("m")
            .iter()
            .any(|m| m.body == GroupLine::Post("after mine".into()) && m.accepted)
    })
    .await;
    k.shutdown().await;
}

/// A member opening exchanges far faster than an honest node does (one a
/// second per group) has its session closed; each exchange costs a pass
/// over the group's ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_opening_syncs_too_often_is_cut_off() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b, a_bob, _, g) = joined(&k).await;
    let alice_key = a.inner.identity.public().to_bytes();
    let mut files = crate::file::SessionFiles::default();
    let mut ss = sync::SessionSync::default();
    let mut ended = None;
    for round in 0..200 {
        // One whole exchange, Bob's side from his own replica.
        let (mut x, first) = b
            .inner
            .groups
            .with(g, |l| {
                kith_sync::GroupSync::initiate(&l.replica, alice_key, [round as u8; 16])
            })
            .expect("group")
            .expect("start");
        let mut to_alice = vec![first];
        let mut steps = 0;
        while let Some(f) = to_alice.pop() {
            steps += 1;
            assert!(steps < 50, "the exchange does not end");
            let m = PeerMessage::GroupSync {
                opener: true,
                frame: f,
            };
            match crate::net::on_message(&a.inner, a_bob, m, &mut files, &mut ss).await {
                Ok(replies) => {
                    for r in replies {
                        let PeerMessage::GroupSync { frame, .. } = r else {
                            continue;
                        };
                        let out = b
                            .inner
                            .groups
                            .with(g, |l| x.handle(&mut l.replica, &frame, Timestamp::now()))
                            .expect("group")
                            .expect("bob handles alice's answer");
                        to_alice.extend(out.send);
                    }
                }
                Err(e) => {
                    ended = Some((round, e));
                    break;
                }
            }
        }
        if ended.is_some() {
            break;
        }
    }
    let (round, e) = ended.expect("never cut off");
    assert!(matches!(e, Error::Protocol(_)), "{e:?}");
    assert!(round >= 100, "an honest rate is allowed: cut at {round}");
    k.shutdown().await;
}
