use std::path::Path;

use kith_core::ErrorKind;
use kith_core::group::{GroupContent, GroupMessageId};
use kith_core::identity::IdentityKeypair;

use super::*;
use crate::conversation::tests::{PW, friend, on_disk, setup};

const G: GroupId = GroupId([7; 32]);

fn kp(n: u8) -> IdentityKeypair {
    IdentityKeypair::from_seed(&[n; 32])
}

/// One author's chain of messages in one group.
struct Chain {
    kp: IdentityKeypair,
    group: GroupId,
    seq: u64,
    last: Option<GroupMessageId>,
}

impl Chain {
    fn new(n: u8, group: GroupId) -> Chain {
        Chain {
            kp: kp(n),
            group,
            seq: 0,
            last: None,
        }
    }

    fn key(&self) -> [u8; 32] {
        self.kp.public().to_bytes()
    }

    fn next_with(&mut self, body: GroupBody, parent: Option<GroupMessageId>) -> GroupMessage {
        let m = GroupMessage::sign(
            &self.kp,
            GroupContent {
                group: self.group,
                author: self.key(),
                seq: self.seq,
                previous: self.last.into_iter().collect(),
                parent,
                timestamp: Timestamp(1_000 + self.seq),
                body,
            },
        )
        .unwrap();
        self.seq += 1;
        self.last = Some(m.id());
        m
    }

    fn create(&mut self, name: &str) -> GroupMessage {
        self.next_with(
            GroupBody::Create {
                name: name.into(),
                description: format!("about {name}"),
            },
            None,
        )
    }

    fn post(&mut self, text: &str) -> GroupMessage {
        self.next_with(GroupBody::Post { text: text.into() }, None)
    }
}

fn kind<T: std::fmt::Debug>(r: Result<T>) -> ErrorKind {
    r.unwrap_err().kind()
}

fn new(i: GroupInserted) -> StoredGroupMessage {
    match i {
        GroupInserted::New(m) => *m,
        other => panic!("not stored: {other:?}"),
    }
}

fn text(m: &StoredGroupMessage) -> &str {
    match &m.content {
        GroupMessageContent::Body(GroupBody::Post { text }) => text,
        _ => "",
    }
}

fn texts(s: &Store, g: GroupId) -> Vec<String> {
    s.group_messages(g)
        .unwrap()
        .iter()
        .map(|m| text(m).to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Alice's store with contact bob, and a group G created by alice.
fn with_group() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    Store,
    ContactId,
    Chain,
) {
    let (d, path, mut s, bob) = setup();
    let mut alice = Chain::new(1, G);
    s.create_group(&alice.create("book club"), Timestamp(50))
        .unwrap();
    (d, path, s, bob, alice)
}

fn member(key: [u8; 32], added_by: [u8; 32], contact: Option<ContactId>) -> GroupMember {
    GroupMember {
        key,
        added_by,
        contact,
        revealed: false,
        state: MemberState::Member,
        added_at: Timestamp(60),
    }
}

#[test]
fn create_list_and_look_up_groups() {
    let (_d, path, mut s, _bob, mut alice) = with_group();
    let g = s.group(G).unwrap();
    assert_eq!(g.name, "book club");
    assert_eq!(g.description, "about book club");
    assert_eq!(g.creator, alice.key());
    assert_eq!(g.state, GroupState::Member);
    assert_eq!(g.joined_at, Timestamp(50));
    assert_eq!(g.disappear, DisappearTimer::Off);
    assert_eq!(g.history, HistoryPolicy::Keep);
    // We are its first member; its Create is its first message, ours.
    assert_eq!(
        s.group_members(G).unwrap(),
        [member(alice.key(), alice.key(), None)]
            .map(|mut m| {
                m.added_at = Timestamp(50);
                m
            })
            .to_vec()
    );
    let ms = s.group_messages(G).unwrap();
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].direction, Direction::Out);
    assert!(matches!(
        ms[0].content,
        GroupMessageContent::Body(GroupBody::Create { .. })
    ));
    // Twice: refused. Not a Create: refused.
    let mut again = Chain::new(1, G);
    assert_eq!(
        kind(s.create_group(&again.create("other"), Timestamp(51))),
        ErrorKind::AlreadyExists
    );
    let mut other = Chain::new(1, GroupId([8; 32]));
    assert_eq!(
        kind(s.create_group(&other.post("x"), Timestamp(51))),
        ErrorKind::BadLocalInput
    );
    // A blog's first message makes our blog (no name, no description).
    let blog_id = GroupId::blog_of(&kp(1).public().to_bytes());
    let mut blog = Chain::new(1, blog_id);
    let create_blog = blog.next_with(GroupBody::CreateBlog, None);
    let b = s.create_group(&create_blog, Timestamp(51)).unwrap();
    assert_eq!(
        (b.id, b.name.as_str(), b.creator),
        (blog_id, "", blog.key())
    );
    assert_eq!(
        kind(s.create_group(&create_blog, Timestamp(51))),
        ErrorKind::AlreadyExists
    );
    s.delete_group(blog_id).unwrap();
    // A second group of the same name, a third of another.
    let g2 = GroupId([8; 32]);
    s.create_group(&Chain::new(1, g2).create("book club"), Timestamp(52))
        .unwrap();
    let g3 = GroupId([9; 32]);
    s.create_group(&Chain::new(1, g3).create("chess"), Timestamp(53))
        .unwrap();
    let ids = |v: Vec<Group>| v.into_iter().map(|g| g.id).collect::<Vec<_>>();
    assert_eq!(ids(s.groups_by_name("book club").unwrap()), [G, g2]);
    assert_eq!(ids(s.groups_by_name("chess").unwrap()), [g3]);
    assert!(s.groups_by_name("Chess").unwrap().is_empty());
    assert_eq!(ids(s.groups().unwrap()), [G, g2, g3]);
    assert_eq!(kind(s.group(GroupId([1; 32]))), ErrorKind::NotFound);
    // Settings persist.
    s.set_group_disappear(G, DisappearTimer::OneDay).unwrap();
    s.set_group_history(G, HistoryPolicy::Session).unwrap();
    s.set_group_state(g3, GroupState::Removed).unwrap();
    assert_eq!(
        kind(s.set_group_state(GroupId([1; 32]), GroupState::Left)),
        ErrorKind::NotFound
    );
    s.close().unwrap();
    let s = Store::open(&path, PW).unwrap();
    let g = s.group(G).unwrap();
    assert_eq!(g.disappear, DisappearTimer::OneDay);
    assert_eq!(g.history, HistoryPolicy::Session);
    assert_eq!(s.group(g3).unwrap().state, GroupState::Removed);
    assert_eq!(ids(s.groups().unwrap()), [G, g2, g3]);
    let _ = alice.post("unused");
}

#[test]
fn invitations_are_stored_bounded_accepted_and_declined() {
    let (_d, path, mut s, bob) = setup();
    let carol = friend(&mut s, 3, "carol");
    let mut creator = Chain::new(2, G);
    let create = creator.create("bob's group");
    let inv = match s.receive_invitation(bob, &create, Timestamp(10)).unwrap() {
        InvitationStored::New(i) => i,
        other => panic!("{other:?}"),
    };
    assert_eq!(inv.from, bob);
    assert_eq!(inv.group, G);
    assert_eq!(inv.name, "bob's group");
    assert_eq!(inv.creator, creator.key());
    assert_eq!(inv.create, create.encoded());
    assert_eq!(
        s.receive_invitation(bob, &create, Timestamp(11)).unwrap(),
        InvitationStored::Duplicate
    );
    // The same group from carol too (a second pending invitation to it).
    assert!(matches!(
        s.receive_invitation(carol, &create, Timestamp(12)).unwrap(),
        InvitationStored::New(_)
    ));
    // Not a Create; an unknown contact.
    assert_eq!(
        kind(s.receive_invitation(bob, &creator.post("x"), Timestamp(13))),
        ErrorKind::BadLocalInput
    );
    assert_eq!(
        kind(s.receive_invitation(ContactId(99), &create, Timestamp(13))),
        ErrorKind::NotFound
    );
    // Bob fills his share: 16 in all, the 17th is refused, carol's still
    // fit.
    for n in 1..MAX_INVITATIONS_PER_CONTACT {
        let c = Chain::new(2, GroupId([100 + n as u8; 32])).create("spam");
        assert!(matches!(
            s.receive_invitation(bob, &c, Timestamp(20)).unwrap(),
            InvitationStored::New(_)
        ));
    }
    let over = Chain::new(2, GroupId([200; 32])).create("spam");
    assert_eq!(
        s.receive_invitation(bob, &over, Timestamp(21)).unwrap(),
        InvitationStored::Refused(GroupRefusal::TooManyInvitations {
            max: MAX_INVITATIONS_PER_CONTACT
        })
    );
    assert!(matches!(
        s.receive_invitation(carol, &over, Timestamp(21)).unwrap(),
        InvitationStored::New(_)
    ));
    assert_eq!(s.invitations().unwrap().len(), 18);
    // Declining one makes room again.
    assert!(s.decline_invitation(bob, GroupId([101; 32])).unwrap());
    assert!(!s.decline_invitation(bob, GroupId([101; 32])).unwrap());
    assert!(matches!(
        s.receive_invitation(bob, &over, Timestamp(22)).unwrap(),
        InvitationStored::New(_)
    ));
    // Accepting: the group as Joining, its Create, the creator as member
    // (bob, revealed); both invitations to it gone.
    assert_eq!(
        kind(s.accept_invitation(bob, GroupId([1; 32]), Timestamp(30))),
        ErrorKind::NotFound
    );
    let g = s.accept_invitation(bob, G, Timestamp(30)).unwrap();
    assert_eq!(g.state, GroupState::Joining);
    assert_eq!(g.creator, creator.key());
    assert_eq!(g.joined_at, Timestamp(30));
    let ms = s.load_group_messages(G).unwrap();
    assert_eq!(ms, [(create.clone(), GroupMessageState::Accepted)]);
    let m = s.group_member(G, &creator.key()).unwrap().unwrap();
    assert_eq!(m.contact, Some(bob));
    assert!(m.revealed);
    assert!(s.invitations().unwrap().iter().all(|i| i.group != G));
    assert_eq!(s.invitations().unwrap().len(), 16);
    assert_eq!(
        s.receive_invitation(carol, &create, Timestamp(31)).unwrap(),
        InvitationStored::AlreadyJoined
    );
    assert_eq!(
        kind(s.accept_invitation(carol, G, Timestamp(31))),
        ErrorKind::NotFound
    );
    s.set_group_state(G, GroupState::Member).unwrap();
    s.close().unwrap();
    let mut s = Store::open(&path, PW).unwrap();
    assert_eq!(s.group(G).unwrap().state, GroupState::Member);
    assert_eq!(s.invitations().unwrap().len(), 16);
    // Deleting a contact takes its invitations.
    s.delete_contact(bob).unwrap();
    assert!(s.invitations().unwrap().iter().all(|i| i.from == carol));
    assert_eq!(s.invitations().unwrap().len(), 1);
}

#[test]
fn members_are_stored_updated_and_bounded() {
    let (_d, path, mut s, bob, alice) = with_group();
    let b = Chain::new(2, G).key();
    assert_eq!(
        s.put_group_member(G, &member(b, alice.key(), Some(bob)))
            .unwrap(),
        MemberStored::New
    );
    let mut m = member(b, alice.key(), Some(bob));
    m.revealed = true;
    m.state = MemberState::Left;
    assert_eq!(s.put_group_member(G, &m).unwrap(), MemberStored::Updated);
    assert_eq!(s.group_member(G, &b).unwrap().unwrap(), m);
    assert_eq!(s.group_member(G, &[9; 32]).unwrap(), None);
    assert_eq!(
        kind(s.put_group_member(G, &member([5; 32], alice.key(), Some(ContactId(99))))),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(s.put_group_member(GroupId([1; 32]), &m)),
        ErrorKind::NotFound
    );
    // The cap: 3 members at most (alice, bob, one more).
    let caps = GroupCaps {
        members_per_group: 3,
        ..GroupCaps::DEFAULT
    };
    assert_eq!(
        s.put_group_member_capped(G, &member([5; 32], alice.key(), None), &caps)
            .unwrap(),
        MemberStored::New
    );
    assert_eq!(
        s.put_group_member_capped(G, &member([6; 32], alice.key(), None), &caps)
            .unwrap(),
        MemberStored::Refused(GroupRefusal::TooManyMembers { max: 3 })
    );
    // A known one is still updated.
    assert_eq!(
        s.put_group_member_capped(G, &m, &caps).unwrap(),
        MemberStored::Updated
    );
    s.close().unwrap();
    let s = Store::open(&path, PW).unwrap();
    let keys: Vec<_> = s.group_members(G).unwrap().iter().map(|m| m.key).collect();
    assert_eq!(keys, [alice.key(), b, [5; 32]]);
}

#[test]
fn messages_dedup_order_unread_and_states() {
    let (_d, path, mut s, bob, mut alice) = with_group();
    let mut b = Chain::new(2, G);
    let p1 = b.post("hello all");
    let p2 = b.post("second");
    // Arrived out of order: p2 waiting first, then p1.
    let v2 = new(s
        .insert_group_message(
            &p2,
            Direction::In,
            GroupMessageState::Waiting,
            Timestamp(70),
        )
        .unwrap());
    assert_eq!(v2.state, GroupMessageState::Waiting);
    assert!(!v2.read);
    let v1 = new(s
        .insert_group_message(
            &p1,
            Direction::In,
            GroupMessageState::Accepted,
            Timestamp(71),
        )
        .unwrap());
    assert_eq!(v1.author, b.key());
    assert_eq!(v1.seq, 0);
    assert_eq!(v1.timestamp, Timestamp(1_000));
    assert_eq!(v1.received_at, Timestamp(71));
    assert_eq!(
        s.insert_group_message(
            &p1,
            Direction::In,
            GroupMessageState::Accepted,
            Timestamp(72)
        )
        .unwrap(),
        GroupInserted::Duplicate
    );
    assert_eq!(
        s.set_group_messages_accepted(G, &[p2.id(), GroupMessageId([0; 32])])
            .unwrap(),
        1
    );
    assert_eq!(s.set_group_messages_accepted(G, &[p2.id()]).unwrap(), 0);
    // A reply of ours: read, not counted.
    let reply = alice.next_with(
        GroupBody::Post {
            text: "welcome".into(),
        },
        Some(p1.id()),
    );
    let r = new(s
        .insert_group_message(
            &reply,
            Direction::Out,
            GroupMessageState::Accepted,
            Timestamp(73),
        )
        .unwrap());
    assert!(r.read);
    assert_eq!(r.parent, Some(p1.id()));
    // A control message of bob's: read, not counted.
    let add = b.next_with(GroupBody::Add { member: [0; 32] }, None);
    assert!(
        new(s
            .insert_group_message(
                &add,
                Direction::In,
                GroupMessageState::Accepted,
                Timestamp(74)
            )
            .unwrap())
        .read
    );
    assert_eq!(s.group_unread_count(G).unwrap(), 2);
    // Of another group: not stored.
    let mut stray = Chain::new(2, GroupId([3; 32]));
    assert_eq!(
        kind(s.insert_group_message(
            &stray.post("x"),
            Direction::In,
            GroupMessageState::Accepted,
            Timestamp(75)
        )),
        ErrorKind::NotFound
    );
    let summary = &s.group_summaries().unwrap()[0];
    assert_eq!(summary.unread, 2);
    assert_eq!(summary.last.as_ref().unwrap().id, add.id());
    // In the order stored, every one verified again.
    let all: Vec<_> = s
        .load_group_messages(G)
        .unwrap()
        .into_iter()
        .map(|(m, st)| (m.id(), st))
        .collect();
    let first = s.group_messages(G).unwrap()[0].id;
    assert_eq!(
        all,
        [
            (first, GroupMessageState::Accepted),
            (p2.id(), GroupMessageState::Accepted),
            (p1.id(), GroupMessageState::Accepted),
            (reply.id(), GroupMessageState::Accepted),
            (add.id(), GroupMessageState::Accepted),
        ]
    );
    assert_eq!(texts(&s, G), ["second", "hello all", "welcome"]);
    assert_eq!(
        text(&s.group_message(G, p1.id()).unwrap().unwrap()),
        "hello all"
    );
    assert_eq!(s.group_message(G, GroupMessageId([0; 32])).unwrap(), None);
    s.close().unwrap();
    let mut s = Store::open(&path, PW).unwrap();
    assert_eq!(s.group_unread_count(G).unwrap(), 2);
    assert_eq!(
        s.insert_group_message(
            &p2,
            Direction::In,
            GroupMessageState::Accepted,
            Timestamp(80)
        )
        .unwrap(),
        GroupInserted::Duplicate
    );
    s.mark_group_read(G).unwrap();
    assert_eq!(s.group_unread_count(G).unwrap(), 0);
    assert!(s.group_messages(G).unwrap().iter().all(|m| m.read));
    assert_eq!(s.group_summaries().unwrap()[0].unread, 0);
    let _ = bob;
}

#[test]
fn caps_per_group_and_per_author() {
    let (_d, _path, mut s, _bob, _alice) = with_group();
    let mut b = Chain::new(2, G);
    let mut c = Chain::new(3, G);
    let ins = |s: &mut Store, m: &GroupMessage, caps: &GroupCaps| {
        s.insert_group_message_capped(
            m,
            Direction::In,
            GroupMessageState::Accepted,
            Timestamp(70),
            caps,
        )
        .unwrap()
    };
    // Per author: 2 messages.
    let caps = GroupCaps {
        messages_per_author: 2,
        ..GroupCaps::DEFAULT
    };
    let (b1, b2) = (b.post("1"), b.post("2"));
    new(ins(&mut s, &b1, &caps));
    new(ins(&mut s, &b2, &caps));
    let b3 = b.post("3");
    assert_eq!(
        ins(&mut s, &b3, &caps),
        GroupInserted::Refused(GroupRefusal::AuthorMessages { max: 2 })
    );
    // Nothing was written: carol still fits, and b3 is not a duplicate
    // under wider caps.
    new(ins(&mut s, &c.post("c1"), &caps));
    assert_eq!(texts(&s, G), ["1", "2", "c1"]);
    // Per author bytes: what is held, with the next one.
    let held = (b1.encoded().len() + b2.encoded().len()) as u64;
    let caps = GroupCaps {
        bytes_per_author: held + b3.encoded().len() as u64 - 1,
        ..GroupCaps::DEFAULT
    };
    assert_eq!(
        ins(&mut s, &b3, &caps),
        GroupInserted::Refused(GroupRefusal::AuthorBytes {
            max: caps.bytes_per_author
        })
    );
    // Per group: 4 rows (the Create, 2 of bob's, carol's).
    let caps = GroupCaps {
        messages_per_group: 4,
        ..GroupCaps::DEFAULT
    };
    assert_eq!(
        ins(&mut s, &b3, &caps),
        GroupInserted::Refused(GroupRefusal::GroupMessages { max: 4 })
    );
    let caps = GroupCaps {
        bytes_per_group: 100,
        ..GroupCaps::DEFAULT
    };
    assert_eq!(
        ins(&mut s, &b3, &caps),
        GroupInserted::Refused(GroupRefusal::GroupBytes { max: 100 })
    );
    // Deleted content still counts as a row, but its bytes are freed.
    assert!(s.delete_group_message(G, b2.id()).unwrap());
    let caps = GroupCaps {
        messages_per_author: 3,
        bytes_per_author: held,
        ..GroupCaps::DEFAULT
    };
    new(ins(&mut s, &b3, &caps));
    let b4 = b.post("4");
    assert_eq!(
        ins(&mut s, &b4, &caps),
        GroupInserted::Refused(GroupRefusal::AuthorMessages { max: 3 })
    );
    // The defaults: the store's and a replica's per-author caps agree.
    assert_eq!(GroupCaps::DEFAULT.messages_per_author, 100_000);
    assert_eq!(GroupCaps::DEFAULT.bytes_per_author, 64 * 1024 * 1024);
}

#[test]
fn tombstones_survive_and_block_reinsertion() {
    let (_d, path, mut s, _bob, _alice) = with_group();
    let mut b = Chain::new(2, G);
    let p1 = b.post("to delete");
    let p2 = b.post("to keep");
    for m in [&p1, &p2] {
        new(s
            .insert_group_message(m, Direction::In, GroupMessageState::Accepted, Timestamp(70))
            .unwrap());
    }
    assert_eq!(s.group_unread_count(G).unwrap(), 2);
    assert!(s.delete_group_message(G, p1.id()).unwrap());
    assert!(!s.delete_group_message(G, p1.id()).unwrap());
    assert!(!s.delete_group_message(G, GroupMessageId([0; 32])).unwrap());
    assert_eq!(s.group_unread_count(G).unwrap(), 1);
    let t = s.group_message(G, p1.id()).unwrap().unwrap();
    assert_eq!(
        t.content,
        GroupMessageContent::Deleted(GroupDeletion::ForMe)
    );
    assert_eq!(t.timestamp, Timestamp(0));
    assert_eq!(texts(&s, G), ["to keep"]);
    assert_eq!(s.group_tombstones(G).unwrap(), [(p1.id(), b.key(), 0)]);
    s.close().unwrap();
    let mut s = Store::open(&path, PW).unwrap();
    // A relayed copy is not taken again.
    assert_eq!(
        s.insert_group_message(
            &p1,
            Direction::In,
            GroupMessageState::Accepted,
            Timestamp(90)
        )
        .unwrap(),
        GroupInserted::Duplicate
    );
    assert_eq!(texts(&s, G), ["to keep"]);
    assert!(
        s.load_group_messages(G)
            .unwrap()
            .iter()
            .all(|(m, _)| m.id() != p1.id())
    );
}

#[test]
fn disappearing_group_posts_are_gone_after_their_deadline() {
    let (_d, path, mut s, _bob, mut alice) = with_group();
    s.set_group_disappear(G, DisappearTimer::FiveMinutes)
        .unwrap();
    let mut b = Chain::new(2, G);
    let timed = b.post("timed");
    let at = Timestamp(1_000_000);
    let v = new(s
        .insert_group_message(&timed, Direction::In, GroupMessageState::Accepted, at)
        .unwrap());
    let deadline = Timestamp(at.0 + 300_000);
    assert_eq!(v.expires_at, Some(deadline));
    // Control messages do not disappear.
    let add = alice.next_with(GroupBody::Add { member: b.key() }, None);
    assert_eq!(
        new(s
            .insert_group_message(&add, Direction::Out, GroupMessageState::Accepted, at)
            .unwrap())
        .expires_at,
        None
    );
    assert_eq!(s.next_group_expiry().unwrap(), Some(deadline));
    assert!(
        s.delete_expired_group_messages(Timestamp(deadline.0 - 1))
            .unwrap()
            .is_empty()
    );
    assert_eq!(texts(&s, G), ["timed"]);
    s.close().unwrap();
    let mut s = Store::open(&path, PW).unwrap();
    assert_eq!(
        s.delete_expired_group_messages(deadline).unwrap(),
        [(G, timed.id())]
    );
    assert!(texts(&s, G).is_empty());
    assert_eq!(s.group_unread_count(G).unwrap(), 0);
    assert_eq!(s.next_group_expiry().unwrap(), None);
    assert_eq!(
        s.group_message(G, timed.id()).unwrap().unwrap().content,
        GroupMessageContent::Deleted(GroupDeletion::Expired)
    );
    // Relayed again later: not back.
    assert_eq!(
        s.insert_group_message(&timed, Direction::In, GroupMessageState::Accepted, deadline)
            .unwrap(),
        GroupInserted::Duplicate
    );
    assert_eq!(s.load_group_messages(G).unwrap().len(), 2);
}

#[test]
fn clearing_keeps_control_messages_and_session_groups_clear() {
    let (_d, _path, mut s, _bob, mut alice) = with_group();
    let g2 = GroupId([8; 32]);
    let mut other = Chain::new(1, g2);
    s.create_group(&other.create("session"), Timestamp(50))
        .unwrap();
    s.set_group_history(g2, HistoryPolicy::Session).unwrap();
    let mut b = Chain::new(2, G);
    for m in [b.post("one"), b.post("two"), alice.post("three")] {
        new(s
            .insert_group_message(
                &m,
                Direction::In,
                GroupMessageState::Accepted,
                Timestamp(70),
            )
            .unwrap());
    }
    new(s
        .insert_group_message(
            &other.post("gone at close"),
            Direction::Out,
            GroupMessageState::Accepted,
            Timestamp(70),
        )
        .unwrap());
    assert_eq!(s.group_unread_count(G).unwrap(), 3);
    assert_eq!(s.clear_group_history(G).unwrap(), 3);
    assert_eq!(s.clear_group_history(G).unwrap(), 0);
    assert!(texts(&s, G).is_empty());
    assert_eq!(s.group_unread_count(G).unwrap(), 0);
    // The Create stays; the posts are tombstones.
    assert_eq!(s.load_group_messages(G).unwrap().len(), 1);
    assert_eq!(s.group_tombstones(G).unwrap().len(), 3);
    assert_eq!(texts(&s, g2), ["gone at close"]);
    assert_eq!(s.clear_group_session_histories().unwrap(), [g2]);
    assert!(texts(&s, g2).is_empty());
    assert_eq!(
        kind(s.clear_group_history(GroupId([1; 32]))),
        ErrorKind::NotFound
    );
}

fn table_rows(s: &Store, table: &str) -> i64 {
    s.conn
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn deleting_a_group_takes_everything_of_it() {
    let (_d, _path, mut s, bob, alice) = with_group();
    let g2 = GroupId([8; 32]);
    s.create_group(&Chain::new(1, g2).create("other"), Timestamp(50))
        .unwrap();
    s.set_group_disappear(G, DisappearTimer::OneHour).unwrap();
    let mut b = Chain::new(2, G);
    s.put_group_member(G, &member(b.key(), alice.key(), Some(bob)))
        .unwrap();
    new(s
        .insert_group_message(
            &b.post("x"),
            Direction::In,
            GroupMessageState::Waiting,
            Timestamp(70),
        )
        .unwrap());
    s.delete_group(G).unwrap();
    assert_eq!(kind(s.group(G)), ErrorKind::NotFound);
    assert_eq!(kind(s.delete_group(G)), ErrorKind::NotFound);
    assert_eq!(kind(s.group_messages(G)), ErrorKind::NotFound);
    for (t, n) in [
        ("groups", 1),
        ("group_messages", 1),
        ("group_members", 1),
        ("group_authors", 1),
        ("group_expiries", 0),
    ] {
        assert_eq!(table_rows(&s, t), n, "{t}");
    }
    assert_eq!(s.groups().unwrap()[0].id, g2);
    assert_eq!(s.next_group_expiry().unwrap(), None);
    // It can be joined again later (a fresh row).
    s.create_group(&Chain::new(1, G).create("again"), Timestamp(90))
        .unwrap();
    assert_eq!(s.group(G).unwrap().name, "again");
}

/// The sealed cells of a group message row: pieces from the start, the
/// middle and the end, as `conversation`'s test takes them.
fn sealed_cells(s: &Store, id: GroupMessageId) -> Vec<Vec<u8>> {
    let (group_row, _) = find_group(&s.keys, &s.conn, G).unwrap().unwrap();
    let (row, _) = find_message(&s.keys, &s.conn, group_row, id)
        .unwrap()
        .unwrap();
    let (m, e): (Vec<u8>, Vec<u8>) = s
        .conn
        .query_row(
            "SELECT meta, encoded FROM group_messages WHERE id = ?1",
            [row],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut out = vec![];
    for cell in [m, e] {
        let mid = cell.len() / 2;
        out.push(cell[1..33].to_vec());
        out.push(cell[mid..mid + 32].to_vec());
        out.push(cell[cell.len() - 32..].to_vec());
    }
    out
}

/// Every way a group post's content goes leaves none of its sealed bytes
/// in the database file or its WAL (and its text never was there).
#[test]
fn deleted_group_content_is_gone_from_the_file_and_the_wal() {
    let (_d, path, mut s, bob, _alice) = with_group();
    let marker = "ZZ-group-marker-51c2e8-ZZ";
    s.set_group_disappear(G, DisappearTimer::FiveMinutes)
        .unwrap();
    let mut b = Chain::new(2, G);
    let mut posts = vec![];
    for how in ["for me", "expired", "cleared"] {
        let p = b.post(&format!("{marker} {how} {}", "x".repeat(300)));
        new(s
            .insert_group_message(
                &p,
                Direction::In,
                GroupMessageState::Accepted,
                Timestamp(10),
            )
            .unwrap());
        posts.push((how, p));
    }
    // An invitation declined, from another group.
    let inv = Chain::new(2, GroupId([9; 32])).create(&format!("{marker} invite"));
    s.receive_invitation(bob, &inv, Timestamp(10)).unwrap();
    s.checkpoint().unwrap();
    assert!(
        on_disk(&path, marker.as_bytes()).is_empty(),
        "plaintext on disk"
    );
    let cells: Vec<(&str, Vec<Vec<u8>>)> = posts
        .iter()
        .map(|(how, p)| (*how, sealed_cells(&s, p.id())))
        .collect();
    let inv_cell: Vec<u8> = s
        .conn
        .query_row("SELECT sealed FROM group_invitations", [], |r| r.get(0))
        .unwrap();
    for (how, cs) in &cells {
        for c in cs {
            assert_eq!(on_disk(&path, c), ["db"], "{how}: before");
        }
    }
    assert_eq!(on_disk(&path, &inv_cell[1..41]), ["db"]);

    let gone = |n: std::ops::Range<usize>, when: &str| {
        for (how, cs) in &cells[n] {
            for c in cs {
                assert_eq!(on_disk(&path, c), Vec::<&str>::new(), "{how} {when}");
            }
        }
    };
    // Each removal is checked at once: its own scrub empties the WAL.
    assert!(s.delete_group_message(G, posts[0].1.id()).unwrap());
    gone(0..1, "after deletion");
    assert_eq!(on_disk(&path, &cells[1].1[0]), ["db"]);
    assert_eq!(
        s.delete_expired_group_messages(Timestamp(10 + 300_000))
            .unwrap()
            .len(),
        2
    );
    // The first was deleted before its deadline; the other two expired.
    gone(0..3, "after deletion and expiry");
    assert!(s.decline_invitation(bob, GroupId([9; 32])).unwrap());
    assert_eq!(on_disk(&path, &inv_cell[1..41]), Vec::<&str>::new());

    // Clearing and deleting the group: a fresh post each.
    let p = b.post(&format!("{marker} cleared later"));
    new(s
        .insert_group_message(
            &p,
            Direction::In,
            GroupMessageState::Accepted,
            Timestamp(20),
        )
        .unwrap());
    let p_cells = sealed_cells(&s, p.id());
    s.checkpoint().unwrap();
    assert_eq!(on_disk(&path, &p_cells[0]), ["db"]);
    assert_eq!(s.clear_group_history(G).unwrap(), 1);
    for c in &p_cells {
        assert_eq!(on_disk(&path, c), Vec::<&str>::new(), "cleared");
    }
    let q = b.post(&format!("{marker} group deleted"));
    new(s
        .insert_group_message(
            &q,
            Direction::In,
            GroupMessageState::Accepted,
            Timestamp(30),
        )
        .unwrap());
    let q_cells = sealed_cells(&s, q.id());
    s.checkpoint().unwrap();
    assert_eq!(on_disk(&path, &q_cells[3]), ["db"]);
    s.delete_group(G).unwrap();
    for c in &q_cells {
        assert_eq!(on_disk(&path, c), Vec::<&str>::new(), "group deleted");
    }
    s.close().unwrap();
    gone(0..3, "after closing");
}

fn tamper(path: &Path, f: impl FnOnce(&Connection)) {
    let c = Connection::open(path).unwrap();
    f(&c);
    c.close().unwrap();
}

fn flip(c: &Connection, table: &str, column: &str, id: i64) {
    let mut v: Vec<u8> = c
        .query_row(
            &format!("SELECT {column} FROM {table} WHERE id = ?1"),
            [id],
            |r| r.get(0),
        )
        .unwrap();
    v[30] ^= 1;
    c.execute(
        &format!("UPDATE {table} SET {column} = ?1 WHERE id = ?2"),
        params![v, id],
    )
    .unwrap();
}

#[test]
fn wrong_password_and_damaged_rows_are_typed_errors() {
    let (_d, path, mut s, bob, alice) = with_group();
    let mut b = Chain::new(2, G);
    let (p1, p2) = (b.post("one"), b.post("two"));
    for m in [&p1, &p2] {
        new(s
            .insert_group_message(m, Direction::In, GroupMessageState::Accepted, Timestamp(70))
            .unwrap());
    }
    s.put_group_member(G, &member(b.key(), alice.key(), Some(bob)))
        .unwrap();
    s.receive_invitation(
        bob,
        &Chain::new(2, GroupId([9; 32])).create("inv"),
        Timestamp(1),
    )
    .unwrap();
    s.close().unwrap();
    assert_eq!(kind(Store::open(&path, b"wrong")), ErrorKind::WrongPassword);
    let clean = std::fs::read(&path).unwrap();
    let reset = || std::fs::write(&path, &clean).unwrap();
    let corrupt = |what: &str, f: &dyn Fn(&mut Store) -> Result<()>| {
        let mut s = Store::open(&path, PW).unwrap();
        assert_eq!(kind(f(&mut s)), ErrorKind::StoreCorrupt, "{what}");
    };
    // Group row 1, message rows 1 (Create), 2 (p1), 3 (p2).
    for (table, column, id) in [
        ("groups", "sealed", 1),
        ("groups", "counts", 1),
        ("group_messages", "meta", 2),
        ("group_messages", "encoded", 3),
        ("group_members", "sealed", 2),
        ("group_authors", "sealed", 2),
        ("group_invitations", "sealed", 1),
    ] {
        reset();
        tamper(&path, |c| flip(c, table, column, id));
        let what = format!("{table}.{column}");
        corrupt(&what, &|s| {
            s.group_summaries()?;
            s.load_group_messages(G)?;
            s.group_members(G)?;
            s.invitations()?;
            s.group_unread_count(G)?;
            // The author row is read when inserting.
            s.insert_group_message(
                &Chain {
                    kp: kp(2),
                    group: G,
                    seq: 2,
                    last: Some(p2.id()),
                }
                .post("three"),
                Direction::In,
                GroupMessageState::Accepted,
                Timestamp(80),
            )?;
            Ok(())
        });
    }
    // Swapped encodings (each sealed for its own row): corrupt.
    reset();
    tamper(&path, |c| {
        let e = |id: i64| -> Vec<u8> {
            c.query_row(
                "SELECT encoded FROM group_messages WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
        };
        let (e2, e3) = (e(2), e(3));
        c.execute("UPDATE group_messages SET encoded = ?1 WHERE id = 2", [e3])
            .unwrap();
        c.execute("UPDATE group_messages SET encoded = ?1 WHERE id = 3", [e2])
            .unwrap();
    });
    corrupt("swapped", &|s| s.load_group_messages(G).map(|_| ()));
    reset();
    // Sealed correctly, but not a message that verifies: corrupt.
    let mut s = Store::open(&path, PW).unwrap();
    let mut bad = p2.encoded().to_vec();
    bad[5] ^= 1;
    let sealed = s.keys.seal(encoded_slot(3, 1), &Bytes::new(&bad)).unwrap();
    s.conn
        .execute(
            "UPDATE group_messages SET encoded = ?1 WHERE id = 3",
            [sealed],
        )
        .unwrap();
    assert_eq!(kind(s.load_group_messages(G)), ErrorKind::StoreCorrupt);
    assert_eq!(kind(s.group_messages(G)), ErrorKind::StoreCorrupt);
    // One that verifies but is another message (p1's bytes in p2's row).
    let sealed = s
        .keys
        .seal(encoded_slot(3, 1), &Bytes::new(p1.encoded()))
        .unwrap();
    s.conn
        .execute(
            "UPDATE group_messages SET encoded = ?1 WHERE id = 3",
            [sealed],
        )
        .unwrap();
    assert_eq!(kind(s.load_group_messages(G)), ErrorKind::StoreCorrupt);
    // A lookup hash moved to another group message row.
    reset_hash(&mut s, p1.id(), p2.id());
    assert_eq!(kind(s.group_message(G, p1.id())), ErrorKind::StoreCorrupt);
    let _ = s.delete_group_message(G, p2.id());
}

/// Swap the lookup hashes of two messages' rows.
fn reset_hash(s: &mut Store, a: GroupMessageId, b: GroupMessageId) {
    let ha = message_hash(&s.keys, 1, a).unwrap();
    let hb = message_hash(&s.keys, 1, b).unwrap();
    s.conn
        .execute(
            "UPDATE group_messages SET dedup_hash = x'01' WHERE dedup_hash = ?1",
            [&ha],
        )
        .unwrap();
    s.conn
        .execute(
            "UPDATE group_messages SET dedup_hash = ?1 WHERE dedup_hash = ?2",
            params![ha, hb],
        )
        .unwrap();
    s.conn
        .execute(
            "UPDATE group_messages SET dedup_hash = ?1 WHERE dedup_hash = x'01'",
            [hb],
        )
        .unwrap();
}

#[test]
fn debug_prints_no_names_keys_or_text() {
    let (_d, _path, mut s, bob, alice) = with_group();
    let mut b = Chain::new(2, G);
    let m = new(s
        .insert_group_message(
            &b.post("secret text"),
            Direction::In,
            GroupMessageState::Accepted,
            Timestamp(1),
        )
        .unwrap());
    let inv = match s
        .receive_invitation(
            bob,
            &Chain::new(2, GroupId([9; 32])).create("secret name"),
            Timestamp(1),
        )
        .unwrap()
    {
        InvitationStored::New(i) => i,
        other => panic!("{other:?}"),
    };
    let all = format!(
        "{:?} {:?} {:?} {:?} {:?}",
        s.group(G).unwrap(),
        s.group_summaries().unwrap(),
        m,
        inv,
        member(b.key(), alice.key(), Some(bob))
    );
    for bad in [
        "secret",
        "book club",
        &format!("{:?}", b.key()[0..4].to_vec()),
    ] {
        assert!(!all.contains(bad), "{bad} in {all}");
    }
}

// ---- Migration from schema 5 ----

/// A store made by schema-5 code (before groups), with: bob (ours
/// "to bob", delivered and edited to "to bob, edited"; his "bob unread",
/// replying to it), carol (ours "to carol queued"), a setting `settings`
/// = `{"v":5}`. Password `v5-password`, fast KDF.
const V5_STORE: &[u8] = include_bytes!("../../tests/fixtures/v5.db");
const V5_PW: &[u8] = b"v5-password";

fn file_version(path: &Path) -> i64 {
    let c = Connection::open(path).unwrap();
    c.query_row(
        "SELECT value FROM meta WHERE key = 'schema_version'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn opening_a_v5_store_migrates_it_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.db");
    std::fs::write(&path, V5_STORE).unwrap();
    assert_eq!(file_version(&path), 5);
    assert_eq!(kind(Store::open(&path, b"nope")), ErrorKind::WrongPassword);
    assert_eq!(std::fs::read(&path).unwrap(), V5_STORE);

    let mut s = Store::open(&path, V5_PW).unwrap();
    assert_eq!(file_version(&path), crate::schema::SCHEMA_VERSION);
    assert_eq!(crate::schema::SCHEMA_VERSION, 6);
    assert_eq!(s.profile().unwrap().display_name, "Alice v5");
    assert_eq!(s.setting("settings").unwrap().unwrap(), b"{\"v\":5}");
    let all = s.contact_summaries().unwrap();
    let view: Vec<_> = all
        .iter()
        .map(|c| {
            (
                c.contact.alias.as_str(),
                c.unread,
                c.last.as_ref().map(|m| m.body.as_str()),
            )
        })
        .collect();
    assert_eq!(
        view,
        [
            ("bob", 1, Some("bob unread")),
            ("carol", 0, Some("to carol queued"))
        ]
    );
    let bob = all[0].contact.id;
    let msgs = s.messages(bob).unwrap();
    assert_eq!(msgs[0].body, "to bob, edited");
    assert_eq!(msgs[0].edited.map(|e| e.at), Some(Timestamp(12)));
    assert_eq!(msgs[1].reply_to, Some(kith_core::MessageId([1; 16])));
    for t in crate::schema::TABLES_V6 {
        assert_eq!(table_rows(&s, t), 0, "{t}");
    }
    assert!(s.groups().unwrap().is_empty());
    // Groups work in the migrated store and persist.
    let mut alice = Chain::new(5, G);
    s.create_group(&alice.create("after migration"), Timestamp(100))
        .unwrap();
    new(s
        .insert_group_message(
            &alice.post("first post"),
            Direction::Out,
            GroupMessageState::Accepted,
            Timestamp(101),
        )
        .unwrap());
    let inv = Chain::new(2, GroupId([9; 32])).create("bob's");
    s.receive_invitation(bob, &inv, Timestamp(102)).unwrap();
    s.close().unwrap();
    let s = Store::open(&path, V5_PW).unwrap();
    assert_eq!(texts(&s, G), ["first post"]);
    assert_eq!(s.invitations().unwrap()[0].from, bob);
    assert_eq!(s.messages(bob).unwrap()[0].body, "to bob, edited");
}

#[test]
fn a_failed_migration_leaves_the_v5_store() {
    // A table in the way of schema 6's: the migration stops, nothing is
    // written.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.db");
    std::fs::write(&path, V5_STORE).unwrap();
    tamper(&path, |c| {
        c.execute_batch("CREATE TABLE group_members (x);").unwrap()
    });
    let before = std::fs::read(&path).unwrap();
    // (SQLite reports it as an input error of the batch, which the store
    // does not classify as damage.)
    assert!(Store::open(&path, V5_PW).is_err());
    assert_eq!(file_version(&path), 5);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// A forum is a group whose first message is a `CreateForum`: stored,
/// invited to by a member who is not its creator (the creator is then
/// stored without a contact), accepted; its first message cannot be
/// deleted (it says what the group is).
#[test]
fn forums_are_groups_whose_first_message_says_so() {
    let (_d, _path, mut s, bob) = setup();
    let mut creator = Chain::new(2, G);
    let forum = creator.next_with(
        GroupBody::CreateForum {
            name: "commons".into(),
            description: String::new(),
        },
        None,
    );
    // Bob invites us to a forum Carol (key 2) created.
    let inv = match s.receive_invitation(bob, &forum, Timestamp(10)).unwrap() {
        InvitationStored::New(i) => i,
        other => panic!("{other:?}"),
    };
    assert_eq!((inv.name.as_str(), inv.creator), ("commons", creator.key()));
    let g = s.accept_invitation(bob, G, Timestamp(11)).unwrap();
    assert_eq!(g.state, GroupState::Joining);
    assert_eq!(g.creator, creator.key());
    let m = s.group_member(G, &creator.key()).unwrap().unwrap();
    assert_eq!(
        (m.contact, m.revealed),
        (None, false),
        "not known to be bob"
    );
    let first = s.group_messages(G).unwrap()[0].clone();
    assert!(matches!(
        first.content,
        GroupMessageContent::Body(GroupBody::CreateForum { .. })
    ));
    assert_eq!(
        kind(s.delete_group_message(G, forum.id())),
        ErrorKind::BadLocalInput
    );
    let hidden = creator.next_with(GroupBody::Hidden { authors: vec![] }, None);
    new(s
        .insert_group_message(
            &hidden,
            Direction::In,
            GroupMessageState::Accepted,
            Timestamp(12),
        )
        .unwrap());
    // A hidden list is a control message: clearing keeps it, it is never
    // unread.
    assert_eq!(s.clear_group_history(G).unwrap(), 0);
    assert_eq!(s.group_summaries().unwrap()[0].unread, 0);
    // Our own forum.
    let mut alice = Chain::new(1, GroupId([8; 32]));
    let ours = alice.next_with(
        GroupBody::CreateForum {
            name: "ours".into(),
            description: "d".into(),
        },
        None,
    );
    let g = s.create_group(&ours, Timestamp(13)).unwrap();
    assert_eq!((g.name.as_str(), g.state), ("ours", GroupState::Member));
}

#[test]
fn a_contacts_blog_is_kept_from_its_create_blog_and_never_invited_to() {
    let (_d, _, mut s, c) = setup();
    let owner = GroupId::blog_of(&kp(2).public().to_bytes());
    let mut blog = Chain::new(2, owner);
    let create = blog.next_with(GroupBody::CreateBlog, None);
    // Nobody is invited to a blog.
    assert_eq!(
        kind(s.receive_invitation(c, &create, Timestamp(10))),
        ErrorKind::BadLocalInput
    );
    // Only a CreateBlog makes a contact's blog.
    let post = blog.post("news");
    assert_eq!(
        kind(s.receive_blog(&post, Timestamp(11))),
        ErrorKind::BadLocalInput
    );
    let g = s.receive_blog(&create, Timestamp(11)).unwrap();
    assert_eq!((g.creator, g.state), (blog.key(), GroupState::Member));
    assert_eq!(
        kind(s.receive_blog(&create, Timestamp(12))),
        ErrorKind::AlreadyExists
    );
    new(s
        .insert_group_message(
            &post,
            Direction::In,
            GroupMessageState::Accepted,
            Timestamp(13),
        )
        .unwrap());
    let ms = s.group_messages(owner).unwrap();
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[0].direction, Direction::In);
    assert_eq!(s.group_unread_count(owner).unwrap(), 1);
}
