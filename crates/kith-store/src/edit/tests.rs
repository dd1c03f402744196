use kith_core::chat::{Chat, DisappearTimer, Edit, Emoji};
use kith_core::wire::PeerMessage;

use crate::conversation::tests::{PW, id, on_disk, setup};
use crate::model::{Direction, Edited, MessageKind};
use crate::store::find_message;
use crate::{Error, Quote, Store, Timestamp};

fn theirs(s: &mut Store, c: crate::ContactId, n: u8, body: &str, disappear: DisappearTimer) {
    let chat = Chat {
        id: id(n),
        sent_at: Timestamp(10),
        body: body.into(),
        reply_to: None,
        disappear,
    };
    s.insert_incoming_chat(c, &chat, Timestamp(10), Timestamp(10))
        .unwrap();
}

fn edit(n: u8, target: u8, at: u64, body: &str) -> Edit {
    Edit {
        id: id(n),
        target: id(target),
        edited_at: Timestamp(at),
        body: body.into(),
    }
}

fn edits_in_outbox(s: &Store, c: crate::ContactId) -> Vec<Edit> {
    s.outbox(c)
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            PeerMessage::Edit(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn our_edit_replaces_the_text_and_is_sent_until_acknowledged() {
    let (_d, path, mut s, bob) = setup();
    s.insert_outgoing(bob, id(1), "helo", Timestamp(10))
        .unwrap();
    s.set_message_state(bob, id(1), crate::MessageState::Delivered, Timestamp(11))
        .unwrap();
    let e = s.edit(bob, id(2), id(1), "hello", Timestamp(20)).unwrap();
    assert_eq!(e, edit(2, 1, 20, "hello"));
    let m = s.message(bob, id(1)).unwrap().unwrap();
    assert_eq!(m.body, "hello");
    assert_eq!(
        m.edited,
        Some(Edited {
            at: Timestamp(20),
            delivered: false
        })
    );
    // Delivery state and place are the message's own.
    assert_eq!(m.state, crate::MessageState::Delivered);
    assert_eq!(s.messages(bob).unwrap().len(), 1);
    assert_eq!(edits_in_outbox(&s, bob), std::slice::from_ref(&e));

    // Edited again before the first was delivered: one edit in force, which
    // wins over the first on the other side whatever our clock says.
    let e2 = s.edit(bob, id(3), id(1), "hello!", Timestamp(5)).unwrap();
    assert_eq!(e2.edited_at, Timestamp(21));
    assert!(e2.wins_over(e.edited_at, e.id));
    assert_eq!(edits_in_outbox(&s, bob), std::slice::from_ref(&e2));
    // The first edit's ack does not deliver the second.
    assert_eq!(s.set_edit_delivered(bob, id(2)).unwrap(), None);
    assert_eq!(edits_in_outbox(&s, bob).len(), 1);
    assert_eq!(s.set_edit_delivered(bob, id(3)).unwrap(), Some(id(1)));
    assert_eq!(s.set_edit_delivered(bob, id(3)).unwrap(), None);
    assert!(edits_in_outbox(&s, bob).is_empty());
    s.close().unwrap();

    let s = Store::open(&path, PW).unwrap();
    let m = s.message(bob, id(1)).unwrap().unwrap();
    assert_eq!(m.body, "hello!");
    assert_eq!(
        m.edited,
        Some(Edited {
            at: Timestamp(21),
            delivered: true
        })
    );
    assert_eq!(s.last_message(bob).unwrap().unwrap().edited, m.edited);
    assert_eq!(
        s.contact_summary(bob).unwrap().last.unwrap().edited,
        m.edited
    );
}

#[test]
fn an_edit_of_a_message_not_yet_sent_goes_after_it() {
    let (_d, _p, mut s, bob) = setup();
    s.insert_outgoing(bob, id(1), "draft", Timestamp(10))
        .unwrap();
    s.edit(bob, id(2), id(1), "final", Timestamp(20)).unwrap();
    let out = s.outbox(bob).unwrap();
    assert!(
        matches!(&out[..], [PeerMessage::Text(t), PeerMessage::Edit(e)]
            if t.body == "final" && e.body == "final" && e.target == id(1)),
        "{out:?}"
    );
}

#[test]
fn the_edit_in_force_wins_and_others_change_nothing() {
    let (_d, _p, mut s, bob) = setup();
    theirs(&mut s, bob, 1, "first", DisappearTimer::Off);
    let m = s
        .receive_edit(bob, &edit(2, 1, 20, "second"))
        .unwrap()
        .unwrap();
    assert_eq!(m.body, "second");
    assert_eq!(
        m.edited,
        Some(Edited {
            at: Timestamp(20),
            delivered: true
        })
    );
    // Older, or the same again: nothing changes.
    assert_eq!(s.receive_edit(bob, &edit(3, 1, 19, "older")).unwrap(), None);
    assert_eq!(
        s.receive_edit(bob, &edit(2, 1, 20, "second")).unwrap(),
        None
    );
    // A tie on time: the greater id wins, so both sides agree.
    assert_eq!(
        s.receive_edit(bob, &edit(1, 1, 20, "lower id")).unwrap(),
        None
    );
    let m = s.receive_edit(bob, &edit(4, 1, 20, "higher id")).unwrap();
    assert_eq!(m.unwrap().body, "higher id");
    assert_eq!(s.message(bob, id(1)).unwrap().unwrap().body, "higher id");
    // Their edits are never sent back.
    assert!(edits_in_outbox(&s, bob).is_empty());
    assert_eq!(s.set_edit_delivered(bob, id(4)).unwrap(), None);
}

#[test]
fn an_edit_of_what_the_sender_did_not_write_is_dropped() {
    let (_d, _p, mut s, bob) = setup();
    let carol = crate::conversation::tests::friend(&mut s, 3, "carol");
    s.insert_outgoing(bob, id(1), "mine", Timestamp(10))
        .unwrap();
    theirs(&mut s, carol, 2, "carol's", DisappearTimer::Off);
    theirs(&mut s, bob, 3, "bob's, deleted", DisappearTimer::Off);
    assert!(s.delete_message(bob, id(3)).unwrap());
    let timer = s
        .set_disappear(bob, id(4), DisappearTimer::OneDay, Timestamp(11))
        .unwrap();
    for target in [1, 2, 3, 4, 99] {
        assert_eq!(
            s.receive_edit(bob, &edit(10 + target, target, 50, "forged"))
                .unwrap(),
            None,
            "target {target}"
        );
    }
    assert_eq!(s.message(bob, id(1)).unwrap().unwrap().body, "mine");
    assert_eq!(s.message(carol, id(2)).unwrap().unwrap().body, "carol's");
    assert_eq!(s.quote(bob, id(3)).unwrap(), Quote::Deleted);
    assert_eq!(
        s.message(bob, timer.id).unwrap().unwrap().kind,
        MessageKind::Timer(DisappearTimer::OneDay)
    );
    assert!(s.messages(bob).unwrap().iter().all(|m| m.edited.is_none()));
}

#[test]
fn bad_edits_of_ours_are_typed_errors() {
    let (_d, _p, mut s, bob) = setup();
    s.insert_outgoing(bob, id(1), "mine", Timestamp(10))
        .unwrap();
    theirs(&mut s, bob, 2, "theirs", DisappearTimer::Off);
    let long = "x".repeat(kith_core::limits::MAX_BODY + 1);
    for (target, body) in [(1, ""), (1, long.as_str()), (2, "mine now")] {
        assert!(
            matches!(
                s.edit(bob, id(9), id(target), body, Timestamp(20)),
                Err(Error::BadInput { .. })
            ),
            "{target} {}",
            body.len()
        );
    }
    assert!(matches!(
        s.edit(bob, id(9), id(77), "nothing", Timestamp(20)),
        Err(Error::NotFound { .. })
    ));
    s.insert_outgoing_file(
        bob,
        id(5),
        &kith_core::file::FileName::sanitize("a.txt").unwrap(),
        1,
        &mut &b"a"[..],
        Timestamp(12),
    )
    .unwrap();
    assert!(matches!(
        s.edit(bob, id(9), id(5), "a file", Timestamp(20)),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        s.receive_edit(bob, &edit(9, 2, 20, "")),
        Err(Error::BadInput { .. })
    ));
    assert_eq!(s.message(bob, id(1)).unwrap().unwrap().body, "mine");
    assert_eq!(s.message(bob, id(2)).unwrap().unwrap().body, "theirs");
}

#[test]
fn an_edited_message_keeps_its_reactions_deadline_and_replies() {
    let (_d, _p, mut s, bob) = setup();
    theirs(&mut s, bob, 1, "soon gone", DisappearTimer::FiveMinutes);
    s.react(bob, id(2), id(1), Some(&Emoji::new("🦊").unwrap()))
        .unwrap();
    s.insert_outgoing_chat(bob, id(3), "a reply", Some(id(1)), Timestamp(11))
        .unwrap();
    let before = s.message(bob, id(1)).unwrap().unwrap();
    s.receive_edit(bob, &edit(4, 1, 20, "soon gone, edited"))
        .unwrap()
        .unwrap();
    let after = s.message(bob, id(1)).unwrap().unwrap();
    assert_eq!(after.expires_at, before.expires_at);
    assert!(after.expires_at.is_some());
    assert_eq!(after.reactions, before.reactions);
    assert_eq!(after.reactions.len(), 1);
    let Quote::Message(q) = s.quote(bob, id(1)).unwrap() else {
        panic!("quote");
    };
    assert_eq!(q.body, "soon gone, edited");
    // It disappears on time, its edit with it.
    let gone = s.delete_expired(Timestamp(10 + 300_000)).unwrap();
    assert_eq!(gone, [(bob, id(1))]);
    let edits: i64 = s
        .conn
        .query_row("SELECT COUNT(*) FROM edits", [], |r| r.get(0))
        .unwrap();
    assert_eq!(edits, 0);
    assert_eq!(s.quote(bob, id(1)).unwrap(), Quote::Unknown);
    // And a late copy of the edit brings nothing back.
    assert_eq!(s.receive_edit(bob, &edit(5, 1, 30, "back?")).unwrap(), None);
}

#[test]
fn deleting_or_clearing_takes_the_edit_too() {
    let (_d, _p, mut s, bob) = setup();
    s.insert_outgoing(bob, id(1), "one", Timestamp(10)).unwrap();
    s.insert_outgoing(bob, id(2), "two", Timestamp(10)).unwrap();
    s.edit(bob, id(3), id(1), "one!", Timestamp(20)).unwrap();
    s.edit(bob, id(4), id(2), "two!", Timestamp(20)).unwrap();
    assert_eq!(s.delete_for_everyone(bob, &[id(1)]).unwrap(), [id(1)]);
    // Not sent once the message is deleted: the Delete is.
    assert_eq!(edits_in_outbox(&s, bob).len(), 1);
    assert_eq!(s.clear_history(bob).unwrap(), 2);
    let edits: i64 = s
        .conn
        .query_row("SELECT COUNT(*) FROM edits", [], |r| r.get(0))
        .unwrap();
    assert_eq!(edits, 0);
    assert!(s.outbox(bob).unwrap().is_empty());
}

/// The text an edit replaced leaves none of its sealed bytes in the file
/// or the WAL (it is found there before the edit, so the search works).
#[test]
fn the_old_text_is_gone_from_the_file() {
    let (_d, path, mut s, bob) = setup();
    let old = format!("ZZ-old-text-{}", "y".repeat(300));
    s.insert_outgoing(bob, id(1), &old, Timestamp(10)).unwrap();
    theirs(&mut s, bob, 2, &old, DisappearTimer::Off);
    s.checkpoint().unwrap();
    let cells: Vec<Vec<u8>> = [1, 2]
        .into_iter()
        .map(|n| {
            let (row, _) = find_message(&s.keys, &s.conn, bob, id(n)).unwrap().unwrap();
            let body: Vec<u8> = s
                .conn
                .query_row("SELECT body FROM messages WHERE id = ?1", [row], |r| {
                    r.get(0)
                })
                .unwrap();
            let mid = body.len() / 2;
            body[mid..mid + 32].to_vec()
        })
        .collect();
    for c in &cells {
        assert_eq!(on_disk(&path, c), ["db"], "control, before the edit");
    }
    s.edit(bob, id(3), id(1), "new", Timestamp(20)).unwrap();
    s.receive_edit(bob, &edit(4, 2, 20, "new too"))
        .unwrap()
        .unwrap();
    for c in &cells {
        assert_eq!(on_disk(&path, c), Vec::<&str>::new(), "after the edit");
    }
    assert_eq!(
        s.messages(bob)
            .unwrap()
            .iter()
            .map(|m| (m.direction, m.body.as_str()))
            .collect::<Vec<_>>(),
        [(Direction::Out, "new"), (Direction::In, "new too")]
    );
}
