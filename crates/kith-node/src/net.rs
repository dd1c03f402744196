//! Being online: the listener, one dialer per contact, and the connection
//! loop that delivers the outbox and acknowledges what arrives.
//!
//! Delivery guarantees (see docs/protocol.md, "Delivery"):
//! - a message is stored (queued) before `send` returns;
//! - the receiver stores a message (deduplicated by id, in one transaction)
//!   before acknowledging it;
//! - the sender marks it delivered only on that acknowledgement, and resends
//!   everything unacknowledged on every new session.
//!
//! So a crash of either side at any moment loses nothing and shows nothing twice.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use kith_core::wire::{Hello, PeerMessage, Text, Welcome};
use kith_core::{IdentityKey, MessageId, Timestamp};
use kith_store::{
    Contact, ContactId, ContactOrigin, ContactState, Inserted, MessageState, NewContact,
};
use kith_transport::{
    BoxStream, DialTarget, ServiceSpec, TcpTransport, Transport, TransportStatus,
};
use rand::Rng;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, trace};

use crate::conn::Conn;
use crate::error::{Error, Result};
use crate::model::{Event, MessageView, Network, NetworkStatus};
use crate::profile::{LockExt, ProfileInner};

/// Outbound messages buffered per session.
const OUT_QUEUE: usize = 64;
/// How long to wait for the other side's Hello or Welcome.
const GREETING_TIMEOUT: Duration = Duration::from_secs(60);
/// First retry delay after a failed dial.
const BACKOFF_MIN: Duration = Duration::from_secs(2);
/// Longest retry delay for a contact that is offline.
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Retry delay after a peer said our request is pending.
const PENDING_RETRY: Duration = Duration::from_secs(15 * 60);

/// What the connection loop is asked to do.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// New messages are in the outbox: send what this session has not sent.
    Flush,
}

/// A profile's online state.
pub(crate) struct Online {
    transport: Arc<dyn Transport>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    dialers: std::collections::HashMap<ContactId, JoinHandle<()>>,
}

/// Run `fut` until the profile goes offline.
async fn until_stopped<F: std::future::Future<Output = ()>>(
    mut stop: watch::Receiver<bool>,
    fut: F,
) {
    tokio::select! {
        () = fut => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

pub(crate) async fn go_online(p: &Arc<ProfileInner>, net: Network, nickname: String) -> Result<()> {
    go_offline(p).await;
    let mut guard = p.online.lock().await;
    p.status.send_replace(NetworkStatus::Starting {
        percent: 0,
        phase: "starting".into(),
    });
    p.emit(Event::Network(p.status.borrow().clone()));
    let started = async {
        let transport: Arc<dyn Transport> = match &net {
            Network::Tcp { listen } => Arc::new(TcpTransport::new(Some(*listen))),
            Network::Tor { extra_toml } => {
                let kith = p.kith.upgrade().ok_or(Error::Locked)?;
                Arc::new(kith.tor(extra_toml.clone()).await?.transport())
            }
        };
        let listener = transport
            .listen(ServiceSpec {
                identity: p.identity.clone(),
                nickname,
            })
            .await?;
        Ok::<_, Error>((transport, listener))
    }
    .await;
    let (transport, mut listener) = match started {
        Ok(x) => x,
        Err(e) => {
            p.status.send_replace(NetworkStatus::Failed {
                error: e.to_string(),
            });
            p.emit(Event::Network(p.status.borrow().clone()));
            return Err(e);
        }
    };
    *p.tcp_hint.locked() = listener.local_tcp_addr();
    let (stop, _) = watch::channel(false);
    let mut tasks = vec![];

    // Network status: transport progress → profile status + events.
    let mut ts = transport.status();
    let now = map_status(&ts.borrow_and_update());
    p.status.send_replace(now.clone());
    p.emit(Event::Network(now));
    let weak = Arc::downgrade(p);
    tasks.push(tokio::spawn(until_stopped(stop.subscribe(), async move {
        loop {
            let st = map_status(&ts.borrow_and_update());
            let Some(p) = weak.upgrade() else { return };
            if *p.status.borrow() != st {
                p.status.send_replace(st.clone());
                p.emit(Event::Network(st));
            }
            drop(p);
            if ts.changed().await.is_err() {
                return;
            }
        }
    })));

    // Accept loop.
    let weak = Arc::downgrade(p);
    let stop_rx = stop.subscribe();
    tasks.push(tokio::spawn(until_stopped(stop.subscribe(), async move {
        while let Some(stream) = listener.accept().await {
            let Some(p) = weak.upgrade() else { return };
            tokio::spawn(until_stopped(stop_rx.clone(), async move {
                if let Err(e) = incoming(&p, stream).await {
                    debug!("incoming session ended: {e}");
                }
            }));
        }
    })));

    let mut online = Online {
        transport,
        stop,
        tasks,
        dialers: Default::default(),
    };
    // One dialer per contact we may talk to.
    let contacts = p.store.call(|s| s.contacts()).await?;
    for c in contacts {
        ensure_dialer(p, &mut online, c.id);
    }
    *guard = Some(online);
    info!("profile online");
    Ok(())
}

fn map_status(t: &TransportStatus) -> NetworkStatus {
    if let Some(e) = &t.last_error
        && !t.ready
    {
        return NetworkStatus::Failed { error: e.clone() };
    }
    if t.ready {
        NetworkStatus::Online {
            published: !t.services.is_empty() && t.services.iter().all(|s| s.published),
        }
    } else {
        NetworkStatus::Starting {
            percent: t.bootstrap_percent,
            phase: t.phase.clone(),
        }
    }
}

pub(crate) async fn go_offline(p: &Arc<ProfileInner>) {
    let mut guard = p.online.lock().await;
    if let Some(online) = guard.take() {
        let _ = online.stop.send(true);
        for t in online.tasks.into_iter().chain(online.dialers.into_values()) {
            t.abort();
        }
        drop(online.transport);
        p.conns.locked().clear();
        *p.tcp_hint.locked() = None;
        p.status.send_replace(NetworkStatus::Offline);
        p.emit(Event::Network(NetworkStatus::Offline));
        info!("profile offline");
    }
}

fn waker(p: &ProfileInner, id: ContactId) -> Arc<Notify> {
    p.wakers.locked().entry(id).or_default().clone()
}

fn ensure_dialer(p: &Arc<ProfileInner>, online: &mut Online, id: ContactId) {
    if online.dialers.get(&id).is_some_and(|h| !h.is_finished()) {
        return;
    }
    let weak = Arc::downgrade(p);
    let transport = online.transport.clone();
    let h = tokio::spawn(until_stopped(
        online.stop.subscribe(),
        dialer(weak, transport, id),
    ));
    online.dialers.insert(id, h);
}

/// A contact was added, accepted, declined or removed.
pub(crate) async fn contact_changed(p: &Arc<ProfileInner>, id: ContactId) {
    let mut guard = p.online.lock().await;
    if let Some(online) = guard.as_mut() {
        ensure_dialer(p, online, id);
    }
    drop(guard);
    waker(p, id).notify_one();
}

/// New messages wait for `id`: push them to a live session, or wake the dialer.
pub(crate) async fn outbox_changed(p: &Arc<ProfileInner>, id: ContactId) {
    let senders: Vec<_> = p
        .conns
        .locked()
        .get(&id)
        .map(|v| v.iter().map(|(_, tx)| tx.clone()).collect())
        .unwrap_or_default();
    if let Some(tx) = senders.first() {
        // A full queue already holds a Flush, which covers this message.
        let _ = tx.try_send(Outbound::Flush);
    } else {
        waker(p, id).notify_one();
    }
}

/// What one dial attempt came to.
enum Outcome {
    /// A session ran and ended.
    Ended,
    /// They have not accepted us yet.
    Pending,
    /// Nothing to do for this contact now.
    Idle,
}

/// Keep a session with one contact while there is reason to.
async fn dialer(weak: std::sync::Weak<ProfileInner>, transport: Arc<dyn Transport>, id: ContactId) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let Some(p) = weak.upgrade() else { return };
        let wake = waker(&p, id);
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let delay = match dial_once(&p, transport.as_ref(), id).await {
            Ok(Outcome::Ended) => {
                backoff = BACKOFF_MIN;
                BACKOFF_MIN
            }
            Ok(Outcome::Pending) => PENDING_RETRY,
            Ok(Outcome::Idle) => Duration::from_secs(3600),
            Err(Error::Store(e)) if e.kind() == kith_core::ErrorKind::NotFound => return,
            Err(e) => {
                trace!("dial failed: {e}");
                let d = backoff;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                d
            }
        };
        drop(p);
        // Jitter ±25 % so that contacts don't retry in lockstep.
        let jitter = rand::thread_rng().gen_range(0.75..1.25);
        tokio::select! {
            () = tokio::time::sleep(delay.mul_f64(jitter)) => {}
            () = &mut notified => {}
        }
    }
}

async fn dial_once(
    p: &Arc<ProfileInner>,
    transport: &dyn Transport,
    id: ContactId,
) -> Result<Outcome> {
    let c = p.store.call(move |s| s.contact(id)).await?;
    if !matches!(c.state, ContactState::Accepted | ContactState::Outgoing) {
        return Ok(Outcome::Idle);
    }
    if p.conns.locked().get(&id).is_some_and(|v| !v.is_empty()) {
        // A session (perhaps one they opened) is up; wait for it to end.
        return Ok(Outcome::Idle);
    }
    let peer = IdentityKey::from_bytes(&c.address)?;
    let target = DialTarget {
        address: peer.address(),
        tcp: c.tcp_hint.as_deref().and_then(|h| h.parse().ok()),
    };
    let stream = transport.dial(&target).await?;
    let mut conn = crate::conn::initiate(stream, &p.identity, peer).await?;
    let name = p.store.call(|s| s.profile()).await?.display_name;
    let tcp_hint = *p.tcp_hint.locked();
    conn.send(&PeerMessage::Hello(Hello { name, tcp_hint }))
        .await?;
    match conn.recv_timeout(GREETING_TIMEOUT, "welcome").await? {
        Some(PeerMessage::Welcome(Welcome::Accepted)) => {
            if c.state == ContactState::Outgoing {
                set_contact_state(p, id, ContactState::Accepted).await?;
            }
            run_session(p, id, conn).await;
            Ok(Outcome::Ended)
        }
        Some(PeerMessage::Welcome(Welcome::Pending)) => {
            conn.close().await;
            Ok(Outcome::Pending)
        }
        _ => Err(Error::Protocol("expected a welcome")),
    }
}

async fn set_contact_state(
    p: &Arc<ProfileInner>,
    id: ContactId,
    state: ContactState,
) -> Result<()> {
    p.store
        .call(move |s| {
            let mut c = s.contact(id)?;
            c.state = state;
            s.update_contact(&c)
        })
        .await?;
    p.emit(Event::ContactsChanged);
    Ok(())
}

/// Someone dialed us.
async fn incoming(p: &Arc<ProfileInner>, stream: BoxStream) -> Result<()> {
    let mut conn = crate::conn::respond(stream, &p.identity).await?;
    let peer = conn.peer();
    let hello = match conn.recv_timeout(GREETING_TIMEOUT, "hello").await? {
        Some(PeerMessage::Hello(h)) => h,
        _ => return Err(Error::Protocol("expected a hello")),
    };
    let address = peer.to_bytes();
    let existing = p
        .store
        .call(move |s| s.contact_by_address(&address))
        .await?;
    let answer = match existing {
        Some(c) => match c.state {
            ContactState::Accepted => Welcome::Accepted,
            ContactState::Outgoing => {
                // We added them and they dialed us: both sides agree.
                set_contact_state(p, c.id, ContactState::Accepted).await?;
                Welcome::Accepted
            }
            ContactState::IncomingRequest | ContactState::Declined | ContactState::Blocked => {
                // Declined or blocked people are not told so.
                Welcome::Pending
            }
        },
        None => {
            if p.settings().await?.block_unknown {
                conn.close().await;
                return Ok(());
            }
            let id = record_request(p, &address, &hello).await?;
            p.emit(Event::ContactRequest(id));
            p.emit(Event::ContactsChanged);
            Welcome::Pending
        }
    };
    let id = match p
        .store
        .call(move |s| s.contact_by_address(&address))
        .await?
    {
        Some(c) => {
            refresh_hint(p, &c, &hello).await?;
            c.id
        }
        None => return Err(Error::Bug("contact vanished")),
    };
    conn.send(&PeerMessage::Welcome(answer)).await?;
    if answer == Welcome::Accepted {
        run_session(p, id, conn).await;
    } else {
        conn.close().await;
    }
    Ok(())
}

/// Store a stranger's request under a free alias taken from their name.
async fn record_request(
    p: &Arc<ProfileInner>,
    address: &[u8; 32],
    hello: &Hello,
) -> Result<ContactId> {
    let address = *address;
    let name: String = hello
        .name
        .chars()
        .filter(|c| !c.is_control())
        .take(32)
        .collect();
    let base = if name.trim().is_empty() {
        "request".to_owned()
    } else {
        name.trim().to_owned()
    };
    let their_name = (!name.is_empty()).then_some(name);
    let hint = hello.tcp_hint.map(|h| h.to_string());
    Ok(p.store
        .call(move |s| {
            let mut alias = base.clone();
            let mut n = 2;
            while s.contact_by_alias(&alias)?.is_some() {
                alias = format!("{base}-{n}");
                n += 1;
            }
            s.add_contact(&NewContact {
                address,
                alias,
                state: ContactState::IncomingRequest,
                origin: ContactOrigin::Request,
                tcp_hint: hint,
                their_name,
                added_at: Timestamp::now(),
            })
        })
        .await?)
}

/// Keep the contact's TCP hint and name as they last told us.
async fn refresh_hint(p: &Arc<ProfileInner>, c: &Contact, hello: &Hello) -> Result<()> {
    let hint = hello.tcp_hint.map(|h| h.to_string());
    let name = Some(hello.name.clone()).filter(|n| !n.is_empty());
    if (hint.is_some() && hint != c.tcp_hint) || name != c.their_name {
        let mut c = c.clone();
        if hint.is_some() {
            c.tcp_hint = hint;
        }
        c.their_name = name;
        p.store.call(move |s| s.update_contact(&c)).await?;
    }
    Ok(())
}

/// An accepted session with a contact: deliver, receive, acknowledge.
async fn run_session(p: &Arc<ProfileInner>, id: ContactId, conn: Conn) {
    let conn_id = p.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(OUT_QUEUE);
    let first = {
        let mut conns = p.conns.locked();
        let v = conns.entry(id).or_default();
        v.push((conn_id, tx.clone()));
        v.len() == 1
    };
    if first {
        p.emit(Event::ContactOnline(id));
    }
    let _ = tx.try_send(Outbound::Flush);
    drop(tx);
    let result = session_loop(p, id, conn, rx).await;
    if let Err(e) = result {
        debug!("session ended: {e}");
    }
    let last = {
        let mut conns = p.conns.locked();
        let v = conns.entry(id).or_default();
        v.retain(|(c, _)| *c != conn_id);
        let empty = v.is_empty();
        if empty {
            conns.remove(&id);
        }
        empty
    };
    if last {
        p.emit(Event::ContactOffline(id));
    }
    waker(p, id).notify_one();
}

async fn session_loop(
    p: &Arc<ProfileInner>,
    id: ContactId,
    mut conn: Conn,
    mut rx: mpsc::Receiver<Outbound>,
) -> Result<()> {
    // Ids sent in this session, so a flush does not resend them.
    let mut sent = std::collections::HashSet::<MessageId>::new();
    loop {
        tokio::select! {
            msg = conn.recv() => {
                match msg? {
                    None => return Ok(()),
                    Some(PeerMessage::Text(t)) => receive_text(p, id, &mut conn, t).await?,
                    Some(PeerMessage::Ack(ids)) => receive_ack(p, id, ids).await?,
                    Some(_) => return Err(Error::Protocol("unexpected message in session")),
                }
            }
            cmd = rx.recv() => {
                match cmd {
                    Some(Outbound::Flush) => flush(p, id, &mut conn, &mut sent).await?,
                    None => return Ok(()),
                }
            }
        }
    }
}

async fn flush(
    p: &Arc<ProfileInner>,
    id: ContactId,
    conn: &mut Conn,
    sent: &mut std::collections::HashSet<MessageId>,
) -> Result<()> {
    let pending = p.store.call(move |s| s.undelivered(id)).await?;
    for m in pending {
        let mid = m.msg_id;
        if !sent.insert(mid) {
            continue;
        }
        conn.send(&PeerMessage::Text(Text {
            id: mid,
            sent_at: m.sent_at,
            body: m.body,
        }))
        .await?;
        if m.state == MessageState::Queued {
            let now = Timestamp::now();
            let updated = p
                .store
                .call(move |s| s.set_message_state(id, m.msg_id, MessageState::Sent, now))
                .await?;
            if let Some(u) = updated {
                p.emit(Event::MessageState {
                    contact: id,
                    id: mid,
                    state: u.state,
                });
            }
        }
    }
    Ok(())
}

async fn receive_text(
    p: &Arc<ProfileInner>,
    id: ContactId,
    conn: &mut Conn,
    t: Text,
) -> Result<()> {
    let now = Timestamp::now();
    let mid = t.id;
    let inserted = p
        .store
        .call(move |s| s.insert_incoming(id, t.id, &t.body, t.sent_at, now))
        .await?;
    // Stored durably: now acknowledge, also for a duplicate (our first ack may have been lost).
    conn.send(&PeerMessage::Ack(vec![mid])).await?;
    if let Inserted::New(m) = inserted {
        p.emit(Event::MessageReceived {
            contact: id,
            message: MessageView::from(m),
        });
    }
    Ok(())
}

async fn receive_ack(p: &Arc<ProfileInner>, id: ContactId, ids: Vec<MessageId>) -> Result<()> {
    let now = Timestamp::now();
    let changed = p
        .store
        .call(move |s| {
            let mut changed = vec![];
            for mid in ids {
                // Idempotent: a repeated ack finds it delivered already.
                if s.set_message_state(id, mid, MessageState::Delivered, now)?
                    .is_some()
                {
                    changed.push(mid);
                }
            }
            Ok(changed)
        })
        .await?;
    for mid in changed {
        p.emit(Event::MessageState {
            contact: id,
            id: mid,
            state: MessageState::Delivered,
        });
    }
    Ok(())
}
