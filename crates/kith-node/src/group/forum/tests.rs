//! Forums between four profiles over TCP on 127.0.0.1, and forum
//! membership read from messages.

use std::time::Duration;

use kith_core::group::{GroupContent, GroupMessage};
use kith_core::wire::PeerMessage;
use kith_core::{IdentityKeypair, Timestamp};

use super::*;
use crate::group::sync;
use crate::group::tests::{befriend, four_online};
use crate::group::{Author, GroupLine, Membership};
use crate::tests::{kith, tcp, until_long as until};
use crate::{GroupState, MemberState, Password};

/// The forum's posts as `p` sees them: (text, hidden).
async fn posts(p: &Profile, f: GroupId) -> Vec<(String, Option<HiddenBy>)> {
    p.forum_messages(f)
        .await
        .expect("messages")
        .into_iter()
        .filter_map(|m| match m.message.body {
            GroupLine::Post(t) => Some((t, m.hidden)),
            _ => None,
        })
        .collect()
}

async fn has(p: &Profile, f: GroupId, text: &str) -> bool {
    posts(p, f).await.iter().any(|(t, _)| t == text)
}

async fn hidden(p: &Profile, f: GroupId, text: &str) -> Option<HiddenBy> {
    posts(p, f)
        .await
        .into_iter()
        .find(|(t, _)| t == text)
        .and_then(|(_, h)| h)
}

/// `p` accepts the forum invitation from `from` once it comes, and is
/// added.
async fn join(p: &Profile, from: ContactId, f: GroupId) {
    until("the invitation", || async {
        p.forum_invitations()
            .await
            .expect("inv")
            .iter()
            .any(|i| i.group == f && i.from == from && i.name == "Commons")
    })
    .await;
    assert!(p.group_invitations().await.expect("inv").is_empty());
    p.answer_forum_invitation(from, f, true)
        .await
        .expect("join");
    until("added", || async {
        p.forum(f).await.expect("forum").state == GroupState::Member
    })
    .await;
}

/// The story: Alice makes a forum and invites Bob; Bob (not the
/// creator) invites Carol, who is not Alice's contact, and Carol invites
/// Dave. Posts and replies cross the forum member to member; the creator's
/// hidden list is honoured everywhere; a member's own hide is its own and
/// survives a restart; nobody injects a message of a non-member; Alice
/// leaves and the forum lives on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forum_relays_through_members_and_honours_hidden_lists() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let pw = || Password::new("pw".into());
    let [a, b, c, d] = four_online(&k).await;
    let (a_bob, b_alice) = befriend(&a, &b, "bob", "alice").await;
    let (b_carol, c_bob) = befriend(&b, &c, "carol", "bob").await;
    let (c_dave, d_carol) = befriend(&c, &d, "dave", "carol").await;
    let key = |p: &Profile| p.inner.identity.public().to_bytes();

    let f = a
        .create_forum("Commons", "talk of the town")
        .await
        .expect("create");
    assert_eq!(
        (f.kind, f.ours, f.state),
        (GroupKind::Forum, true, GroupState::Member)
    );
    let f = f.id;
    assert!(a.groups().await.expect("groups").is_empty(), "not a group");
    assert!(a.group(f).await.is_err());
    assert_eq!(a.find_forum("Commons").await.expect("find").id, f);
    assert!(
        b.invite_to_forum(f, b_carol).await.is_err(),
        "bob is not a member yet"
    );
    a.invite_to_forum(f, a_bob).await.expect("invite bob");
    join(&b, b_alice, f).await;
    // Bob, a member but not the creator, invites Carol; Carol invites Dave.
    b.invite_to_forum(f, b_carol).await.expect("invite carol");
    join(&c, c_bob, f).await;
    // A history Dave learns a round at a time: Bob's posts are refused
    // (author not a member yet) until Alice's Add of Bob is accepted, and
    // come at a later round.
    for i in 0..70 {
        b.post_to_forum(f, &format!("history {i}"), None)
            .await
            .expect("post");
    }
    until("the history at carol", || async {
        has(&c, f, "history 69").await
    })
    .await;
    c.invite_to_forum(f, c_dave).await.expect("invite dave");
    join(&d, d_carol, f).await;
    until("the whole history at dave", || async {
        posts(&d, f).await.len() >= 70
    })
    .await;
    until("four members everywhere", || async {
        let mut ok = true;
        for p in [&a, &b, &c, &d] {
            ok &= p.forum(f).await.expect("f").members == 4;
        }
        ok
    })
    .await;
    let at_a = a.forum_members(f).await.expect("members");
    let carol_at_a = at_a.iter().find(|m| m.key == key(&c)).expect("carol");
    assert!(!carol_at_a.direct, "alice and carol are not contacts");
    assert!(matches!(carol_at_a.who, Author::Member(_)));

    // Carol's post reaches Alice through Bob; Alice's reply in its thread
    // reaches Carol and Dave.
    let hello = c
        .post_to_forum(f, "hello from carol", None)
        .await
        .expect("post");
    until("carol's post at alice", || async {
        has(&a, f, "hello from carol").await
    })
    .await;
    let re = a
        .post_to_forum(f, "welcome carol", Some(hello.id))
        .await
        .expect("reply");
    for p in [&c, &d] {
        until("alice's reply in the thread", || async {
            p.forum_messages(f)
                .await
                .expect("m")
                .iter()
                .any(|m| m.message.id == re.id && m.message.parent == Some(hello.id))
        })
        .await;
    }

    // Dave spams; Alice (the creator) hides him for everyone.
    d.post_to_forum(f, "buy now", None).await.expect("post");
    until("dave's post at alice", || async {
        has(&a, f, "buy now").await
    })
    .await;
    assert!(
        b.publish_hidden(f, &[key(&d)]).await.is_err(),
        "only the creator publishes"
    );
    assert!(
        a.publish_hidden(f, &[key(&a)]).await.is_err(),
        "not herself"
    );
    a.publish_hidden(f, &[key(&d)]).await.expect("publish");
    for p in [&a, &b, &c, &d] {
        until("the hidden list honoured", || async {
            hidden(p, f, "buy now").await == Some(HiddenBy::Creator)
        })
        .await;
    }
    assert_eq!(hidden(&b, f, "hello from carol").await, None);
    assert_eq!(b.forum_hidden(f).await.expect("h").creator, vec![key(&d)]);
    // Still relayed and stored: the text is there for whoever looks.
    assert!(has(&c, f, "buy now").await);

    // Bob hides Carol for himself only; it survives a restart.
    b.hide_in_forum(f, key(&c), true).await.expect("hide");
    assert_eq!(hidden(&b, f, "hello from carol").await, Some(HiddenBy::You));
    assert!(
        b.hide_in_forum(f, key(&b), true).await.is_err(),
        "not himself"
    );
    k.lock("bob").await;
    let b = k.unlock("bob", pw()).await.expect("unlock");
    b.go_online(tcp()).await.expect("online");
    assert_eq!(hidden(&b, f, "hello from carol").await, Some(HiddenBy::You));
    assert_eq!(hidden(&b, f, "buy now").await, Some(HiddenBy::Creator));
    for p in [&a, &c, &d] {
        assert_eq!(hidden(p, f, "hello from carol").await, None, "bob's own");
    }
    b.hide_in_forum(f, key(&c), false).await.expect("unhide");
    assert_eq!(hidden(&b, f, "hello from carol").await, None);

    // Nobody removes from a forum; a stranger's message relayed by Bob,
    // and Bob's altered one, are refused.
    assert!(a.remove_from_group(f, key(&d)).await.is_err());
    assert!(b.reveal_in_group(f, b_carol).await.is_err());
    let stranger = IdentityKeypair::from_seed(&[0x55; 32]);
    let content = |author: &IdentityKeypair, text: &str| GroupContent {
        group: f,
        author: author.public().to_bytes(),
        seq: 0,
        previous: vec![],
        parent: None,
        timestamp: Timestamp::now(),
        body: GroupBody::Post { text: text.into() },
    };
    let forged = GroupMessage::sign(&stranger, content(&stranger, "injected")).expect("sign");
    let self_added = GroupMessage::sign(
        &stranger,
        GroupContent {
            body: GroupBody::Add {
                member: stranger.public().to_bytes(),
            },
            ..content(&stranger, "")
        },
    )
    .expect("sign");
    let mut altered = GroupMessage::sign(&b.inner.identity, content(&b.inner.identity, "real"))
        .expect("sign")
        .encoded()
        .to_vec();
    let at = altered.len() - 70;
    altered[at] ^= 1;
    let frame = PeerMessage::GroupSync {
        opener: true,
        frame: kith_sync::frame::encode(&kith_sync::frame::SyncFrame::Messages {
            group: f,
            messages: vec![
                self_added.encoded().to_vec(),
                forged.encoded().to_vec(),
                altered,
            ],
            end: false,
        })
        .expect("frame"),
    };
    let mut files = crate::file::SessionFiles::default();
    let mut ss = sync::SessionSync::default();
    crate::net::on_message(&a.inner, a_bob, frame, &mut files, &mut ss)
        .await
        .expect("refused, the session goes on");
    assert!(!has(&a, f, "injected").await);
    assert!(!has(&a, f, "real").await);
    assert_eq!(
        a.forum(f).await.expect("f").members,
        4,
        "no self-added member"
    );

    // Alice leaves; the forum lives on between the others.
    a.leave_forum(f).await.expect("leave");
    assert_eq!(a.forum(f).await.expect("f").state, GroupState::Left);
    assert!(a.post_to_forum(f, "still here?", None).await.is_err());
    for p in [&b, &c, &d] {
        until("alice seen gone", || async {
            p.forum_members(f)
                .await
                .expect("m")
                .iter()
                .any(|m| m.key == key(&a) && m.state == MemberState::Left)
        })
        .await;
    }
    c.post_to_forum(f, "after alice", None).await.expect("post");
    for p in [&b, &d] {
        until("the post without alice", || async {
            has(p, f, "after alice").await
        })
        .await;
    }
    assert_eq!(b.forum(f).await.expect("f").state, GroupState::Member);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!has(&a, f, "after alice").await, "alice left");
    k.shutdown().await;
}

/// Forum membership read from messages in any order ends the same: any
/// member adds, an Add by a non-member adds nobody, `Remove` does nothing,
/// the creator's leaving does not end the forum, the creator's latest
/// hidden list is in force and nobody else's counts.
#[test]
fn forum_membership_does_not_depend_on_order() {
    let f = GroupId([9; 32]);
    let kp = |n: u8| IdentityKeypair::from_seed(&[n; 32]);
    let (alice, bob, carol, mallory) = (kp(1), kp(2), kp(3), kp(4));
    let k = |p: &IdentityKeypair| p.public().to_bytes();
    let msg = |who: &IdentityKeypair, seq: u64, at: u64, body: GroupBody| {
        crate::group::tests::signed_at(who, f, seq, at, body)
    };
    let add_bob = msg(&alice, 1, 10, GroupBody::Add { member: k(&bob) });
    let add_carol = msg(&bob, 1, 20, GroupBody::Add { member: k(&carol) });
    let stranger_adds = msg(
        &mallory,
        0,
        5,
        GroupBody::Add {
            member: k(&mallory),
        },
    );
    let remove_carol = msg(&alice, 2, 30, GroupBody::Remove { member: k(&carol) });
    let alice_leaves = msg(&alice, 3, 40, GroupBody::Leave);
    let mut sorted = [k(&bob), k(&carol)];
    sorted.sort();
    let hide_old = msg(
        &alice,
        2,
        25,
        GroupBody::Hidden {
            authors: sorted.to_vec(),
        },
    );
    let hide_new = msg(
        &alice,
        4,
        26,
        GroupBody::Hidden {
            authors: vec![k(&bob)],
        },
    );
    let bob_hides = msg(
        &bob,
        2,
        27,
        GroupBody::Hidden {
            authors: vec![k(&alice)],
        },
    );
    let all = [
        &add_bob,
        &add_carol,
        &stranger_adds,
        &remove_carol,
        &alice_leaves,
        &hide_old,
        &hide_new,
        &bob_hides,
    ];
    let orders: [Vec<usize>; 3] = [
        (0..all.len()).collect(),
        (0..all.len()).rev().collect(),
        vec![3, 1, 7, 4, 6, 0, 2, 5],
    ];
    for order in orders {
        let mut m = Membership::new(k(&alice), GroupKind::Forum);
        for i in order {
            m.apply(all[i]);
        }
        let current: Vec<[u8; 32]> = m.current.iter().copied().collect();
        let mut want = vec![k(&bob), k(&carol)];
        want.sort();
        assert_eq!(current, want, "alice left; bob and carol stay");
        assert!(!m.dissolved && m.left.contains(&k(&alice)));
        assert!(!m.ever.contains(&k(&mallory)), "added by a non-member");
        assert!(m.removed.is_empty());
        assert_eq!(m.creator_hides(), [k(&bob)], "the creator's latest list");
    }
    // Carol leaves after being added; a later Add by Bob takes her back.
    let mut m = Membership::new(k(&alice), GroupKind::Forum);
    m.apply(&add_bob);
    m.apply(&add_carol);
    m.apply(&msg(&carol, 0, 50, GroupBody::Leave));
    assert!(m.left.contains(&k(&carol)) && !m.current.contains(&k(&carol)));
    m.apply(&msg(&bob, 2, 60, GroupBody::Add { member: k(&carol) }));
    assert!(m.current.contains(&k(&carol)));
    // In a private group the same Hidden and Add by a member do nothing.
    let mut g = Membership::new(k(&alice), GroupKind::Group);
    g.apply(&add_carol);
    g.apply(&hide_new);
    assert!(!g.ever.contains(&k(&carol)) && g.creator_hides().is_empty());
}

/// Messages of authors not (yet) members are refused, and a forum session
/// relaying them is closed only past its own cap: a joiner learns the
/// members a round at a time, so an honest relayer of a history reaches
/// the cap of forged relays (64) in one exchange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_authors_have_their_own_cap_in_forums() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let pw = || Password::new("pw".into());
    let a = k.create_profile("alice", "Alice", pw()).await.expect("a");
    let b = k.create_profile("bob", "Bob", pw()).await.expect("b");
    for p in [&a, &b] {
        p.go_online(tcp()).await.expect("online");
    }
    let (a_bob, b_alice) = befriend(&a, &b, "bob", "alice").await;
    let f = a.create_forum("Commons", "").await.expect("create").id;
    a.invite_to_forum(f, a_bob).await.expect("invite");
    join(&b, b_alice, f).await;
    let stranger = IdentityKeypair::from_seed(&[0x66; 32]);
    let mut last = None;
    let mut chain = |n: u64| {
        (0..n)
            .map(|_| {
                let seq = last.map_or(0, |(s, _)| s + 1);
                let m = GroupMessage::sign(
                    &stranger,
                    GroupContent {
                        group: f,
                        author: stranger.public().to_bytes(),
                        seq,
                        previous: last.map(|(_, id)| id).into_iter().collect(),
                        parent: None,
                        timestamp: Timestamp::now(),
                        body: GroupBody::Post {
                            text: format!("unknown {seq}"),
                        },
                    },
                )
                .expect("sign");
                last = Some((seq, m.id()));
                m.encoded().to_vec()
            })
            .collect::<Vec<_>>()
    };
    let frame = |messages: Vec<Vec<u8>>| PeerMessage::GroupSync {
        opener: true,
        frame: kith_sync::frame::encode(&kith_sync::frame::SyncFrame::Messages {
            group: f,
            messages,
            end: false,
        })
        .expect("frame"),
    };
    let mut files = crate::file::SessionFiles::default();
    let mut ss = sync::SessionSync::default();
    // 128 of them (two frames): refused, the session goes on.
    for _ in 0..2 {
        crate::net::on_message(&a.inner, a_bob, frame(chain(64)), &mut files, &mut ss)
            .await
            .expect("not closed");
    }
    assert!(posts(&a, f).await.is_empty());
    // Past 4 096, it is closed.
    let mut ended = None;
    for _ in 0..70 {
        if let Err(e) =
            crate::net::on_message(&a.inner, a_bob, frame(chain(64)), &mut files, &mut ss).await
        {
            ended = Some(e);
            break;
        }
    }
    assert!(
        matches!(ended, Some(Error::Protocol(_))),
        "a flood of non-members' messages must end the session: {ended:?}"
    );
    assert!(posts(&a, f).await.is_empty());
    k.shutdown().await;
}
