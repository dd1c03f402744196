//! In-process tests of the engine: two profiles over TCP on 127.0.0.1.

use std::time::Duration;

use crate::{
    ContactState, Event, KdfChoice, Kith, KithConfig, MessageState, Network, NetworkStatus,
    Password, Profile,
};

pub(crate) fn kith(dir: &std::path::Path) -> Kith {
    Kith::new(KithConfig {
        data_dir: dir.to_path_buf(),
        kdf: KdfChoice::DangerouslyFastForTestingOnly,
    })
}

fn pw() -> Password {
    Password::new("pw".into())
}

pub(crate) fn tcp() -> Network {
    Network::Tcp {
        listen: "127.0.0.1:0".parse().expect("addr"),
    }
}

pub(crate) async fn until<F, Fut>(what: &str, f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    until_within(Duration::from_secs(10), what, f).await;
}

/// [`until`] with room for a loaded machine (a minute): several profiles
/// relaying through each other.
pub(crate) async fn until_long<F, Fut>(what: &str, f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    until_within(Duration::from_secs(60), what, f).await;
}

/// Poll `f` every 50 ms until it is true, or panic after `limit`.
async fn until_within<F, Fut>(limit: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..limit.as_millis() / 50 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out: {what}");
}

/// A profile "alice" in `k`, offline.
async fn alice(k: &Kith) -> Profile {
    k.create_profile("alice", "Alice", pw())
        .await
        .expect("alice")
}

pub(crate) async fn pair(k: &Kith) -> (Profile, Profile) {
    let a = alice(k).await;
    let b = k.create_profile("bob", "Bob", pw()).await.expect("bob");
    a.go_online(tcp()).await.expect("online");
    b.go_online(tcp()).await.expect("online");
    let st = a.network_status();
    assert!(
        matches!(st, NetworkStatus::Online { published: true }),
        "{st:?}"
    );
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_accept_chat() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b) = pair(&k).await;
    let mut b_events = b.subscribe();
    let bob = a.add_contact(&b.link(), "bob").await.expect("add");
    assert_eq!(bob.state, ContactState::Outgoing);
    a.send(bob.id, "queued before acceptance")
        .await
        .expect("send");

    // Bob gets a request, and nothing as chat.
    let req = loop {
        match tokio::time::timeout(Duration::from_secs(10), b_events.recv()).await {
            Ok(Ok(Event::ContactRequest(id))) => break id,
            Ok(Ok(_)) => {}
            other => panic!("no request: {other:?}"),
        }
    };
    let c = b.contact(req).await.expect("request");
    assert_eq!(c.state, ContactState::IncomingRequest);
    assert_eq!(c.alias, "Alice");
    assert_eq!(c.address, a.address());
    assert!(b.messages(req).await.expect("msgs").is_empty());
    assert!(b.send(req, "no").await.is_err());

    b.accept_contact(req).await.expect("accept");
    until("alice accepted", || async {
        a.contact(bob.id).await.expect("c").state == ContactState::Accepted
    })
    .await;
    until("first message delivered", || async {
        a.messages(bob.id).await.expect("m")[0].state == MessageState::Delivered
    })
    .await;
    let got = b.messages(req).await.expect("m");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "queued before acceptance");

    let m = b.send(req, "hi alice").await.expect("send");
    until("reply delivered", || async {
        b.messages(req)
            .await
            .expect("m")
            .iter()
            .any(|x| x.id == m.id && x.state == MessageState::Delivered)
    })
    .await;
    let a_msgs = a.messages(bob.id).await.expect("m");
    assert_eq!(a_msgs.len(), 2);
    assert_eq!(a.contacts().await.expect("c")[0].unread, 1);
    a.mark_read(bob.id).await.expect("read");
    assert_eq!(a.contacts().await.expect("c")[0].unread, 0);
    k.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_add_and_offline_queue() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b) = pair(&k).await;
    // Both add each other: no request step.
    b.go_offline().await;
    let bob = a.add_contact(&b.link(), "bob").await.expect("add");
    assert!(b.link().tcp.is_none(), "offline: no hint");
    b.go_online(tcp()).await.expect("online");
    let alice = b.add_contact(&a.link(), "alice").await.expect("add");
    until("both accepted", || async {
        a.contact(bob.id).await.expect("c").state == ContactState::Accepted
            && b.contact(alice.id).await.expect("c").state == ContactState::Accepted
    })
    .await;
    // Bob offline: the message waits queued, then flows when he is back.
    let b_link_port = b.link().tcp.expect("hint").port();
    b.go_offline().await;
    until("alice sees bob offline", || async {
        !a.contact(bob.id).await.expect("c").online
    })
    .await;
    let m = a.send(bob.id, "later").await.expect("send");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        a.messages(bob.id).await.expect("m")[0].state,
        MessageState::Queued
    );
    b.go_online(Network::Tcp {
        listen: format!("127.0.0.1:{b_link_port}").parse().expect("addr"),
    })
    .await
    .expect("online");
    until("delivered after return", || async {
        a.messages(bob.id)
            .await
            .expect("m")
            .iter()
            .any(|x| x.id == m.id && x.state == MessageState::Delivered)
    })
    .await;
    assert_eq!(b.messages(alice.id).await.expect("m").len(), 1);
    k.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_lock_unlock_and_passwords() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let a = alice(&k).await;
    let addr = a.address();
    assert!(k.create_profile("alice", "Alice", pw()).await.is_err());
    assert!(k.create_profile("../evil", "x", pw()).await.is_err());
    k.lock("alice").await;
    assert!(a.contacts().await.is_err(), "locked handle refuses");
    let e = k
        .unlock("alice", Password::new("nope".into()))
        .await
        .expect_err("wrong");
    assert_eq!(e.kind(), kith_core::ErrorKind::WrongPassword);
    let a = k.unlock("alice", pw()).await.expect("unlock");
    assert_eq!(a.address(), addr);
    a.change_password(pw(), Password::new("new".into()))
        .await
        .expect("change");
    k.lock("alice").await;
    assert!(k.unlock("alice", pw()).await.is_err());
    k.unlock("alice", Password::new("new".into()))
        .await
        .expect("new pw");
    assert_eq!(k.list_profiles().expect("list"), ["alice"]);
    assert!(
        k.delete_profile("alice", pw()).await.is_err(),
        "wrong password keeps it"
    );
    k.delete_profile("alice", Password::new("new".into()))
        .await
        .expect("delete");
    assert!(k.list_profiles().expect("list").is_empty());
}

/// Wait for the next `ContactRequest` event, or `None` after `secs`.
async fn next_request(
    ev: &mut tokio::sync::broadcast::Receiver<Event>,
    secs: u64,
) -> Option<crate::ContactId> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, ev.recv()).await {
            Ok(Ok(Event::ContactRequest(id))) => return Some(id),
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            _ => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_closes_the_session_and_the_request_never_comes_back() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b) = pair(&k).await;
    let mut b_events = b.subscribe();
    let bob = a.add_contact(&b.link(), "bob").await.expect("add");
    let req = next_request(&mut b_events, 10).await.expect("request");
    b.accept_contact(req).await.expect("accept");
    let before = a.send(bob.id, "before").await.expect("send");
    until("session up both ways", || async {
        b.contact(req).await.expect("c").online && a.contact(bob.id).await.expect("c").online
    })
    .await;
    until("the first message delivered", || async {
        a.messages(bob.id)
            .await
            .expect("m")
            .iter()
            .any(|x| x.id == before.id && x.state == MessageState::Delivered)
    })
    .await;

    // Bob blocks Alice: the live session closes at once.
    b.block_contact(req).await.expect("block");
    assert_eq!(
        b.contact(req).await.expect("c").state,
        ContactState::Blocked
    );
    until("session closed", || async {
        !a.contact(bob.id).await.expect("c").online
    })
    .await;
    assert!(
        b.send(req, "no").await.is_err(),
        "cannot write to a blocked contact"
    );
    // Alice keeps writing and redialling: nothing arrives, no new request.
    let m = a.send(bob.id, "after the block").await.expect("send");
    assert!(next_request(&mut b_events, 3).await.is_none());
    assert_eq!(b.messages(req).await.expect("m").len(), 1);
    assert!(
        a.messages(bob.id)
            .await
            .expect("m")
            .iter()
            .any(|x| x.id == m.id && x.state != MessageState::Delivered)
    );
    // Accepting needs unblocking first; unblocked, the request is pending again.
    assert!(b.accept_contact(req).await.is_err());
    b.unblock_contact(req).await.expect("unblock");
    assert_eq!(
        b.contact(req).await.expect("c").state,
        ContactState::IncomingRequest
    );
    b.accept_contact(req).await.expect("accept");
    until("delivered after unblock", || async {
        a.messages(bob.id)
            .await
            .expect("m")
            .iter()
            .any(|x| x.id == m.id && x.state == MessageState::Delivered)
    })
    .await;
    k.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decline_restore_and_remove() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b) = pair(&k).await;
    let mut b_events = b.subscribe();
    let bob = a.add_contact(&b.link(), "bob").await.expect("add");
    let req = next_request(&mut b_events, 10).await.expect("request");
    b.decline_contact(req).await.expect("decline");
    assert_eq!(
        b.contact(req).await.expect("c").state,
        ContactState::Declined
    );
    // Declined people redial (as anyone pending does) and stay declined.
    assert!(next_request(&mut b_events, 2).await.is_none());
    b.restore_request(req).await.expect("restore");
    assert_eq!(
        b.contact(req).await.expect("c").state,
        ContactState::IncomingRequest
    );
    b.accept_contact(req).await.expect("accept");
    until("accepted", || async {
        a.contact(bob.id).await.expect("c").state == ContactState::Accepted
    })
    .await;
    until("online", || async {
        a.contact(bob.id).await.expect("c").online
    })
    .await;
    // Removing closes the session at once.
    b.remove_contact(req).await.expect("remove");
    until("session closed", || async {
        !a.contact(bob.id).await.expect("c").online
    })
    .await;
    k.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provenance_and_safety_numbers() {
    use crate::{ContactOrigin, SafetyNumber};
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b) = pair(&k).await;
    let mut b_events = b.subscribe();
    // Alice adds Bob's link; Bob accepts her request.
    let bob = a.add_contact(&b.link(), "bob").await.expect("add");
    assert_eq!((bob.origin, bob.verified), (ContactOrigin::Link, false));
    assert!(bob.introducer.is_none());
    let req = next_request(&mut b_events, 10).await.expect("request");
    let alice = b.contact(req).await.expect("request");
    assert_eq!(
        (alice.origin, alice.verified),
        (ContactOrigin::Request, false)
    );
    b.accept_contact(req).await.expect("accept");
    let alice = b.contact(req).await.expect("accepted");
    assert_eq!(alice.origin, ContactOrigin::Request, "accepting keeps it");
    until("accepted", || async {
        a.contact(bob.id).await.expect("c").state == ContactState::Accepted
    })
    .await;
    assert_eq!(
        a.contact(bob.id).await.expect("c").origin,
        ContactOrigin::Link
    );

    // The same safety number on both sides, from both identity keys.
    let on_a = a.safety_number(bob.id).await.expect("number");
    let on_b = b.safety_number(req).await.expect("number");
    assert_eq!(on_a, on_b);
    assert_eq!(
        on_a,
        SafetyNumber::new(&a.address().key(), &b.address().key())
    );

    // Marking verified: an event, stored, and kept across lock and unlock.
    let mut a_events = a.subscribe();
    a.mark_verified(bob.id, true).await.expect("mark");
    let changed = loop {
        match tokio::time::timeout(Duration::from_secs(5), a_events.recv()).await {
            Ok(Ok(Event::ContactsChanged)) => break true,
            Ok(Ok(_)) => {}
            _ => break false,
        }
    };
    assert!(changed, "ContactsChanged after marking");
    assert!(a.contact(bob.id).await.expect("c").verified);
    assert!(
        !b.contact(req).await.expect("c").verified,
        "the other side marks for itself"
    );
    k.lock("alice").await;
    assert!(a.mark_verified(bob.id, false).await.is_err(), "locked");
    let a = k.unlock("alice", pw()).await.expect("unlock");
    let c = a.contact(bob.id).await.expect("c");
    assert!(c.verified);
    assert_eq!(c.origin, ContactOrigin::Link);
    assert!(a.contacts().await.expect("list")[0].verified);
    assert_eq!(a.safety_number(bob.id).await.expect("number"), on_b);
    // And back.
    a.mark_verified(bob.id, false).await.expect("unmark");
    assert!(!a.contact(bob.id).await.expect("c").verified);
    assert!(
        a.safety_number(crate::ContactId(999)).await.is_err(),
        "unknown contact"
    );
    k.shutdown().await;
}

/// Requests closed: a stranger's request is answered as pending and not
/// stored; a window opens the address again for a while (issue 8 §4; over
/// TCP the listener stays, so this is what "closed" means there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_closed_then_a_window() {
    use crate::Requests;
    use kith_core::Timestamp;

    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b) = pair(&k).await;
    assert_eq!(b.requests().await.expect("read"), Requests::Open);
    b.set_requests(Requests::Closed).await.expect("close");
    assert_eq!(b.requests().await.expect("read"), Requests::Closed);

    let bob = a.add_contact(&b.link(), "bob").await.expect("add");
    // Alice's dialer asks (answered pending) and asks again every few seconds.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(
        b.contacts().await.expect("contacts").is_empty(),
        "a request was stored while requests were closed"
    );
    assert_eq!(
        a.contact(bob.id).await.expect("bob").state,
        ContactState::Outgoing
    );

    // Windows must end in the future, within 30 days.
    let now = Timestamp::now().as_millis();
    for bad in [now - 1, now + 31 * 24 * 3600 * 1000] {
        assert!(
            b.set_requests(Requests::OpenUntil(Timestamp(bad)))
                .await
                .is_err(),
            "{bad}"
        );
    }
    b.set_requests(Requests::OpenUntil(Timestamp(now + 60_000)))
        .await
        .expect("window");
    until("the request arrives within the window", || async {
        b.contacts()
            .await
            .expect("contacts")
            .iter()
            .any(|c| c.state == ContactState::IncomingRequest)
    })
    .await;
    k.shutdown().await;
}

/// A contact's `Reach` is fixed for the pair: once known, a different one
/// is refused without re-planning our listeners (a hostile contact cannot
/// make us relaunch our contacts address at will); the same one again is
/// accepted and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_cannot_change_its_reach() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b) = pair(&k).await;
    let bob = a.add_contact(&b.link(), "bob").await.expect("add");
    let mut b_events = b.subscribe();
    let req = next_request(&mut b_events, 10).await.expect("request");
    b.accept_contact(req).await.expect("accept");
    let id = bob.id;
    let known = loop {
        let c = a
            .inner
            .store
            .call(move |s| s.contact(id))
            .await
            .expect("contact");
        if let Some(r) = c.reach {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let plans = *a.inner.reach_changes.borrow();
    crate::reach::receive(&a.inner, id, known)
        .await
        .expect("the same Reach again");
    let mut other = known;
    other.discovery_key = kith_core::reach::DiscoveryKey([7; 32]);
    assert!(crate::reach::receive(&a.inner, id, other).await.is_err());
    let c = a
        .inner
        .store
        .call(move |s| s.contact(id))
        .await
        .expect("contact");
    assert_eq!(c.reach, Some(known));
    assert_eq!(
        *a.inner.reach_changes.borrow(),
        plans,
        "listeners re-planned"
    );
    k.shutdown().await;
}

/// Two accepted contacts, both online: (alice's view of bob, bob's of alice).
pub(crate) async fn friends(a: &Profile, b: &Profile) -> (crate::ContactId, crate::ContactId) {
    let bob = a.add_contact(&b.link(), "bob").await.expect("add");
    let alice = b.add_contact(&a.link(), "alice").await.expect("add");
    until("both accepted", || async {
        a.contact(bob.id).await.expect("c").state == ContactState::Accepted
            && b.contact(alice.id).await.expect("c").state == ContactState::Accepted
    })
    .await;
    (bob.id, alice.id)
}

async fn delivered(p: &Profile, c: crate::ContactId, id: crate::MessageId) -> bool {
    p.messages(c)
        .await
        .expect("m")
        .iter()
        .any(|m| m.id == id && m.state == MessageState::Delivered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reactions_and_delete_for_everyone() {
    use crate::{Direction, MessageKind, QuoteView, Removal};
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b) = pair(&k).await;
    let (bob, alice) = friends(&a, &b).await;
    let mut a_events = a.subscribe();
    let mut b_events = b.subscribe();

    let first = a.send(bob, "first").await.expect("send");
    until("first delivered", || delivered(&a, bob, first.id)).await;
    // Bob answers it.
    let reply = b
        .send_reply(alice, "answer", Some(first.id))
        .await
        .expect("reply");
    assert_eq!(reply.reply_to.as_ref().map(|r| r.id), Some(first.id));
    until("reply delivered", || delivered(&b, alice, reply.id)).await;
    let got = a.messages(bob).await.expect("m");
    let r = got.iter().find(|m| m.id == reply.id).expect("reply here");
    assert_eq!(
        r.reply_to.as_ref().expect("a reply").quote,
        QuoteView::Message {
            direction: Direction::Out,
            body: "first".into()
        }
    );
    assert!(
        b.send_reply(alice, "x", Some(crate::MessageId([9; 16])))
            .await
            .is_err(),
        "a reply to nothing"
    );

    // Alice reacts to the answer; bob sees it; then she takes it back.
    a.react(bob, reply.id, Some("👍")).await.expect("react");
    assert!(a.react(bob, reply.id, Some("not an emoji")).await.is_err());
    until("bob sees the reaction", || async {
        b.messages(alice).await.expect("m").iter().any(|m| {
            m.id == reply.id
                && m.reactions.len() == 1
                && m.reactions[0].emoji == "👍"
                && m.reactions[0].by == Direction::In
        })
    })
    .await;
    a.react(bob, reply.id, None).await.expect("withdraw");
    until("the reaction withdrawn", || async {
        b.messages(alice)
            .await
            .expect("m")
            .iter()
            .any(|m| m.id == reply.id && m.reactions.is_empty())
    })
    .await;

    // Alice deletes her first message for both: gone on both sides, bob's
    // quote reads "deleted", and alice is told bob removed it.
    assert!(
        a.delete_for_everyone(bob, reply.id).await.is_err(),
        "bob's to delete"
    );
    assert!(a.delete_for_everyone(bob, first.id).await.expect("delete"));
    assert!(
        !a.delete_for_everyone(bob, first.id).await.expect("again"),
        "deleted already"
    );
    let confirmed = loop {
        match tokio::time::timeout(Duration::from_secs(10), a_events.recv()).await {
            Ok(Ok(Event::DeletedForEveryone { contact, ids })) => break (contact, ids),
            Ok(Ok(_)) => {}
            other => panic!("no confirmation: {other:?}"),
        }
    };
    assert_eq!(confirmed, (bob, vec![first.id]));
    assert!(a.unconfirmed_deletes(bob).await.expect("u").is_empty());
    let removed = loop {
        match tokio::time::timeout(Duration::from_secs(10), b_events.recv()).await {
            Ok(Ok(Event::MessagesRemoved { contact, ids, why })) => break (contact, ids, why),
            Ok(Ok(_)) => {}
            other => panic!("bob not told: {other:?}"),
        }
    };
    assert_eq!(removed, (alice, vec![first.id], Removal::ByThem));
    for (p, c) in [(&a, bob), (&b, alice)] {
        let ms = p.messages(c).await.expect("m");
        assert!(ms.iter().all(|m| m.id != first.id), "still there");
        assert!(ms.iter().all(|m| m.kind == MessageKind::Text));
    }
    let r = b.messages(alice).await.expect("m");
    assert_eq!(
        r[0].reply_to.as_ref().expect("reply").quote,
        QuoteView::Deleted
    );

    // Clearing history is ours only.
    assert_eq!(b.clear_history(alice).await.expect("clear"), 2);
    assert!(b.messages(alice).await.expect("m").is_empty());
    assert_eq!(a.messages(bob).await.expect("m").len(), 1);
    k.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disappearing_timer_and_history_policy() {
    use crate::{DisappearTimer, HistoryPolicy, MessageKind, Removal};
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b) = pair(&k).await;
    let (bob, alice) = friends(&a, &b).await;
    let kept = a.send(bob, "kept").await.expect("send");
    until("kept delivered", || delivered(&a, bob, kept.id)).await;

    // Alice sets five minutes: a line on both sides, the timer on both.
    let line = a
        .set_disappear(bob, DisappearTimer::FiveMinutes)
        .await
        .expect("timer");
    assert_eq!(line.kind, MessageKind::Timer(DisappearTimer::FiveMinutes));
    until("timer line delivered", || delivered(&a, bob, line.id)).await;
    until("bob's timer", || async {
        b.conversation(alice).await.expect("c").disappear == DisappearTimer::FiveMinutes
    })
    .await;
    assert!(
        b.messages(alice)
            .await
            .expect("m")
            .iter()
            .any(|m| m.kind == MessageKind::Timer(DisappearTimer::FiveMinutes))
    );
    // Bob's answer carries the timer; both sides hold a deadline for it.
    let gone = b.send(alice, "gone soon").await.expect("send");
    assert!(gone.expires_at.is_some());
    until("gone delivered", || delivered(&b, alice, gone.id)).await;
    let theirs = a.messages(bob).await.expect("m");
    let at_alice = theirs.iter().find(|m| m.id == gone.id).expect("here");
    let deadline = at_alice.expires_at.expect("a deadline");

    // The deadline passes (the expiry pass is given a later clock, as its
    // task would call it then): removed on both sides, nothing else.
    let mut a_events = a.subscribe();
    let later = crate::Timestamp(deadline.0 + 600_000);
    for p in [&a, &b] {
        crate::conversation::expire(&p.inner, later)
            .await
            .expect("expire");
    }
    match tokio::time::timeout(Duration::from_secs(5), a_events.recv()).await {
        Ok(Ok(Event::MessagesRemoved { contact, ids, why })) => {
            assert_eq!((contact, ids, why), (bob, vec![gone.id], Removal::Expired));
        }
        other => panic!("no removal event: {other:?}"),
    }
    for (p, c) in [(&a, bob), (&b, alice)] {
        let ms = p.messages(c).await.expect("m");
        assert!(ms.iter().all(|m| m.id != gone.id), "still there");
        assert!(ms.iter().any(|m| m.id == kept.id), "sent before the timer");
    }

    // Bob keeps this conversation for the session only: locking clears it.
    b.set_history(alice, HistoryPolicy::Session)
        .await
        .expect("history");
    k.lock("bob").await;
    let b = k.unlock("bob", pw()).await.expect("unlock");
    assert!(b.messages(alice).await.expect("m").is_empty());
    assert_eq!(
        b.conversation(alice).await.expect("c").history,
        HistoryPolicy::Session
    );
    k.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_reach_the_contact_also_after_being_offline() {
    use crate::{Direction, QuoteView};
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b) = pair(&k).await;
    let (bob, alice) = friends(&a, &b).await;
    let mut b_events = b.subscribe();

    let first = a.send(bob, "helo").await.expect("send");
    until("first delivered", || delivered(&a, bob, first.id)).await;
    let reply = b
        .send_reply(alice, "what?", Some(first.id))
        .await
        .expect("reply");
    until("reply delivered", || delivered(&b, alice, reply.id)).await;

    let edited = a.edit_message(bob, first.id, "hello").await.expect("edit");
    assert_eq!(edited.body, "hello");
    assert_eq!(edited.state, MessageState::Delivered, "the message's own");
    assert!(edited.edited.is_some());
    let told = loop {
        match tokio::time::timeout(Duration::from_secs(10), b_events.recv()).await {
            Ok(Ok(Event::MessageEdited { contact, id })) => break (contact, id),
            Ok(Ok(_)) => {}
            other => panic!("bob not told: {other:?}"),
        }
    };
    assert_eq!(told, (alice, first.id));
    let on_b = b.messages(alice).await.expect("m");
    assert_eq!(on_b[0].body, "hello");
    assert_eq!(on_b[0].edited.map(|e| e.at), edited.edited.map(|e| e.at));
    assert_eq!(
        on_b[1].reply_to.as_ref().expect("reply").quote,
        QuoteView::Message {
            direction: Direction::In,
            body: "hello".into()
        },
        "the quote shows the text in force"
    );
    until("alice's edit acknowledged", || async {
        a.messages(bob).await.expect("m")[0]
            .edited
            .is_some_and(|e| e.delivered)
    })
    .await;

    // Only its author edits a message, and only a text.
    assert!(matches!(
        a.edit_message(bob, reply.id, "mine now").await,
        Err(crate::Error::BadInput(_))
    ));
    assert!(matches!(
        a.edit_message(bob, crate::MessageId([7; 16]), "x").await,
        Err(crate::Error::NotFound(_))
    ));
    assert!(matches!(
        a.edit_message(bob, first.id, "  ").await,
        Err(crate::Error::BadInput(_))
    ));

    // Bob offline: two edits in a row; the one in force reaches him when he
    // is back, and the messages stay where they were.
    let port = b.link().tcp.expect("hint").port();
    b.go_offline().await;
    until("alice sees bob offline", || async {
        !a.contact(bob).await.expect("c").online
    })
    .await;
    a.edit_message(bob, first.id, "hello, bob")
        .await
        .expect("edit");
    a.edit_message(bob, first.id, "hello, Bob!")
        .await
        .expect("edit");
    b.go_online(Network::Tcp {
        listen: format!("127.0.0.1:{port}").parse().expect("addr"),
    })
    .await
    .expect("online");
    until("bob has the last edit", || async {
        b.messages(alice).await.expect("m")[0].body == "hello, Bob!"
    })
    .await;
    until("acknowledged", || async {
        a.messages(bob).await.expect("m")[0]
            .edited
            .is_some_and(|e| e.delivered)
    })
    .await;
    let on_b = b.messages(alice).await.expect("m");
    assert_eq!(on_b.len(), 2);
    assert_eq!(on_b[1].id, reply.id);
    k.shutdown().await;
}

/// Accepted contacts of `p`, written into its store, with random identities
/// (nodes that never run) and the TCP hints given: (alias, hint) each.
async fn strangers_as_contacts(
    p: &Profile,
    contacts: Vec<(String, std::net::SocketAddr)>,
) -> Vec<crate::ContactId> {
    p.inner
        .store
        .call(move |s| {
            let mut ids = vec![];
            for (alias, at) in contacts {
                let id = kith_core::IdentityKeypair::generate(&mut rand::rngs::OsRng);
                ids.push(s.add_contact(&kith_store::NewContact {
                    address: id.public().to_bytes(),
                    alias,
                    state: ContactState::Accepted,
                    origin: kith_store::ContactOrigin::Link,
                    verified: false,
                    tcp_hint: Some(at.to_string()),
                    their_name: None,
                    added_at: kith_core::Timestamp::now(),
                })?);
            }
            Ok::<_, kith_store::Error>(ids)
        })
        .await
        .expect("contacts")
}

/// Dials with nothing to deliver run at most `BACKGROUND_DIALS` at once
/// (a node with many unreachable contacts does not look them all up
/// together), and a message never waits behind them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_dials_are_bounded_and_never_hold_up_a_message() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::peers::BACKGROUND_DIALS;
    use crate::profile::LockExt;
    use tokio::io::AsyncReadExt;

    // Contacts that take the connection and never answer: each dial to
    // them holds its place until the handshake times out (a minute).
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hang_addr = hang.local_addr().expect("addr");
    let open = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (o, m) = (Arc::clone(&open), Arc::clone(&most));
    let hanging = tokio::spawn(async move {
        while let Ok((mut s, _)) = hang.accept().await {
            let now = o.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            let o = Arc::clone(&o);
            tokio::spawn(async move {
                let mut buf = [0u8; 256];
                while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
                o.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });

    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let a = alice(&k).await;
    let unreachable = (0..3 * BACKGROUND_DIALS)
        .map(|i| (format!("away{i}"), hang_addr))
        .collect();
    strangers_as_contacts(&a, unreachable).await;
    a.go_online(tcp()).await.expect("online");
    until("the background places are taken", || async {
        open.load(Ordering::SeqCst) >= BACKGROUND_DIALS
    })
    .await;

    // Becoming contacts works meanwhile.
    let b = k.create_profile("bob", "Bob", pw()).await.expect("bob");
    b.go_online(tcp()).await.expect("online");
    let (ab, ba) = friends(&a, &b).await;

    // Bob goes away and comes back at the same address, but can no longer
    // reach Alice himself: only Alice's dial can bring them together, and
    // her dialer, with nothing to deliver, queues behind the unreachable.
    let bob_at = (*b.inner.tcp_hint.locked()).expect("bob listens");
    b.go_offline().await;
    b.inner
        .store
        .call(move |s| {
            s.update_contact_with(ba, |c| {
                c.tcp_hint = Some("127.0.0.1:1".into());
                Ok::<(), std::convert::Infallible>(())
            })
        })
        .await
        .expect("store")
        .expect("update");
    b.go_online(Network::Tcp { listen: bob_at })
        .await
        .expect("online again");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !a.inner.peers.is_online(ab),
        "Alice's background dial got a place: the test shows nothing"
    );

    // A message dials at once.
    let m = a.send(ab, "not behind the queue").await.expect("send");
    until("delivered", || delivered(&a, ab, m.id)).await;

    let most = most.load(Ordering::SeqCst);
    assert!(
        most <= BACKGROUND_DIALS,
        "{most} background dials ran at once"
    );
    k.shutdown().await;
    hanging.abort();
}

/// A dial that fails while a message waits is retried within a second, a
/// few times, before the usual backoff (2 s, doubling); without a message
/// the usual backoff applies from the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_message_retries_a_failed_dial_sooner() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // A "contact" that takes each connection and closes it at once: every
    // dial fails in the handshake. Counts the attempts.
    async fn closer() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let at = l.local_addr().expect("addr");
        let n = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&n);
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                drop(s);
            }
        });
        (at, n)
    }
    let (with_at, with_message) = closer().await;
    let (without_at, without_message) = closer().await;

    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let a = alice(&k).await;
    let ids = strangers_as_contacts(
        &a,
        vec![("with".into(), with_at), ("without".into(), without_at)],
    )
    .await;
    a.send(ids[0], "waiting").await.expect("queue");
    a.go_online(tcp()).await.expect("online");
    // With the message: attempts at 0, ~0.25, ~0.75 and ~1.75 s (± 25 %
    // each); without: at 0 and ~2 s.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let with = with_message.load(Ordering::SeqCst);
    let without = without_message.load(Ordering::SeqCst);
    assert!(with >= 4, "{with} attempts with a message waiting");
    assert!(without <= 2, "{without} attempts with nothing to deliver");
    k.shutdown().await;
}

/// A contact that goes offline says goodbye: we stop dialing it until it
/// is back (it dials us), except to deliver a message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_that_said_goodbye_is_not_dialed_until_it_is_back() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::profile::LockExt;

    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let (a, b) = pair(&k).await;
    let (ab, _) = friends(&a, &b).await;
    until("a session", || async { a.inner.peers.is_online(ab) }).await;
    let bob_at = (*b.inner.tcp_hint.locked()).expect("bob listens");
    b.go_offline().await;
    until("goodbye heard", || async { a.inner.peers.is_away(ab) }).await;

    // Whoever dials Bob's address now is counted (and refused). Bob's
    // listener goes with his tasks, which may take a moment.
    let mut l = tokio::net::TcpListener::bind(bob_at).await;
    for _ in 0..100 {
        if l.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        l = tokio::net::TcpListener::bind(bob_at).await;
    }
    let l = l.expect("bind");
    let dials = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&dials);
    let counter = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    // Without the goodbye Alice would redial after 2 s, then 4 s.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        dials.load(Ordering::SeqCst),
        0,
        "Alice dialed a contact that said goodbye"
    );
    // A message still goes out.
    let m = a.send(ab, "when you are back").await.expect("send");
    until("a dial with the message", || async {
        dials.load(Ordering::SeqCst) > 0
    })
    .await;
    counter.abort();
    let _ = counter.await;

    // Bob comes back at the same address and dials Alice: the message
    // arrives, and Alice knows he is back.
    b.go_online(Network::Tcp { listen: bob_at })
        .await
        .expect("back");
    until_long("delivered", || delivered(&a, ab, m.id)).await;
    assert!(!a.inner.peers.is_away(ab));
    k.shutdown().await;
}
