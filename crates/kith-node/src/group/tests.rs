//! Groups between three profiles over TCP on 127.0.0.1.

use std::time::Duration;

use super::*;
use crate::tests::{kith, tcp, until};
use crate::{ContactState, Password};

async fn befriend(a: &Profile, b: &Profile, b_at_a: &str, a_at_b: &str) -> (ContactId, ContactId) {
    let x = a.add_contact(&b.link(), b_at_a).await.expect("add");
    let y = b.add_contact(&a.link(), a_at_b).await.expect("add");
    until("both accepted", || async {
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
        GroupMessage::sign(
            &who.0,
            GroupContent {
                group: g,
                author: who.0.public().to_bytes(),
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
        let mut m = Membership::new(creator.0.public().to_bytes());
        for x in order {
            m.apply(x);
        }
        assert!(m.current.contains(&b), "added again after leaving");
    }
    let mut m = Membership::new(creator.0.public().to_bytes());
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

struct IdentityKeypairForTests(kith_core::IdentityKeypair);

impl IdentityKeypairForTests {
    fn new(n: u8) -> Self {
        IdentityKeypairForTests(kith_core::IdentityKeypair::from_seed(&[n; 32]))
    }
}
