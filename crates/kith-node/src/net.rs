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
use std::time::Duration;

use kith_core::wire::{Hello, PeerMessage, Text, Welcome};
use kith_core::{IdentityKey, MessageId, Timestamp};
use kith_store::{Contact, ContactId, ContactOrigin, ContactState, MessageState, NewContact};
use kith_transport::{
    BoxStream, ServiceSpec, TcpTransport, TorTransport, Transport, TransportKind, TransportStatus,
};
use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, trace};

use crate::admission::{HANDSHAKE_DEADLINE, Slot};
use crate::conn::Conn;
use crate::contact::ContactRules;
use crate::conversation;
use crate::error::{Error, Result};
use crate::model::{Event, Network, NetworkStatus};
use crate::profile::{LockExt, ProfileInner};
use crate::reach::{self, Address};

/// First retry delay after a failed dial.
const BACKOFF_MIN: Duration = Duration::from_secs(2);
/// First retry delay after a failed dial while something waits to be
/// delivered, until the contact is reached once: 0.25, 0.5 and 1 s, then
/// the usual backoff. A first dial over Tor fails now and then at start (a
/// circuit or an introduction that did not hold); a message then goes a
/// fraction of a second later instead of two (`docs/performance.md`,
/// "Message round trip"). Three attempts more at most, only with a message
/// waiting.
const QUICK_RETRY: Duration = Duration::from_millis(250);
/// Longest retry delay for a contact that is offline (and for a listener).
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Longest retry delay for a contact unreachable for [`BACKOFF_LONG_AFTER`]
/// or more. Each attempt over Tor looks up a descriptor that is not there
/// (about 40 KB on the wire, `docs/performance.md` "Idle cost"), and a
/// contact who comes back dials us itself, so polling it every minute
/// forever is what made an idle node's traffic grow with its offline
/// contacts. A new message for the contact still dials at once.
const BACKOFF_MAX_LONG: Duration = Duration::from_secs(15 * 60);
/// How long a contact is retried at most every [`BACKOFF_MAX`] before
/// [`BACKOFF_MAX_LONG`] applies: a contact that went away briefly (a
/// restart, a lost network) is found again within a minute.
const BACKOFF_LONG_AFTER: Duration = Duration::from_secs(10 * 60);
/// Longest retry delay for a contact unreachable for
/// [`BACKOFF_LONGEST_AFTER`] or more: one gone for the day (its device off,
/// or away) is looked up once an hour, a quarter of the cost of
/// [`BACKOFF_MAX_LONG`]; it dials us itself when it is back.
const BACKOFF_MAX_LONGEST: Duration = Duration::from_secs(60 * 60);
/// How long a contact is retried every [`BACKOFF_MAX_LONG`] at most.
const BACKOFF_LONGEST_AFTER: Duration = Duration::from_secs(6 * 60 * 60);
/// Retry delay after a peer said our request is pending. Over Tor, the
/// peer dials our onion address once they accept, so this is only a
/// fallback.
const PENDING_RETRY: Duration = Duration::from_secs(15 * 60);
/// The same over TCP (loopback, LAN): the peer cannot dial us after
/// accepting, since TCP hints are never taken from a stranger's request, so
/// we ask again soon. A repeated request costs them one handshake and stores
/// nothing: one identity is one request.
const PENDING_RETRY_TCP: Duration = Duration::from_secs(5);
/// How long the network may be up with our service unpublished before the
/// listener is relaunched; doubles up to [`PUBLISH_PATIENCE_MAX`].
const PUBLISH_PATIENCE: Duration = Duration::from_secs(120);
/// Longest wait between relaunches of an unpublished service.
const PUBLISH_PATIENCE_MAX: Duration = Duration::from_secs(15 * 60);
/// How long going offline waits at most for the sessions to say `Goodbye`
/// and close.
const GOODBYE_PATIENCE: Duration = Duration::from_secs(2);
/// How long a listener waits after a change before relaunching, so that a
/// burst of changes costs one relaunch.
const RECONFIGURE_DEBOUNCE: Duration = Duration::from_secs(2);
/// A session that has sent nothing for this long sends a keepalive. Both
/// sides do, so a live link is never silent for longer.
pub(crate) const KEEPALIVE: Duration = Duration::from_secs(kith_core::wire::KEEPALIVE_AFTER_SECS);
/// A session that has received nothing for this long is dead: the link went
/// silent (a stalled circuit, a peer that lost its network). It is closed and
/// the dialer redials.
pub(crate) const SILENT_LIMIT: Duration = Duration::from_secs(kith_core::wire::SILENT_LIMIT_SECS);

/// A profile's online state.
pub(crate) struct Online {
    transport: Arc<dyn Transport>,
    /// The same transport when it is Tor's: feeds are fetched through it
    /// (and only through it).
    tor: Option<Arc<TorTransport>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
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
        let (transport, tor_transport): (Arc<dyn Transport>, _) = match &net {
            Network::Tcp { listen } => (Arc::new(TcpTransport::new(Some(*listen))), None),
            Network::Tor {
                extra_toml,
                bridges,
            } => {
                let kith = p.kith.upgrade().ok_or(Error::Locked)?;
                let t = Arc::new(kith.tor(extra_toml.clone(), bridges).await?.transport());
                (Arc::clone(&t) as Arc<dyn Transport>, Some(t))
            }
        };
        // The request listener starts here when it runs at all, so that
        // its errors (a TCP port taken) fail going online; the contacts
        // listener starts in its own loop.
        let tor = transport.kind() == TransportKind::Tor;
        let listener = match reach::plan(p, Address::Request, &nickname, tor).await?.spec {
            Some(spec) => Some(transport.listen(spec).await?),
            None => None,
        };
        Ok::<_, Error>((transport, tor_transport, listener))
    }
    .await;
    let (transport, tor, listener) = match started {
        Ok(x) => x,
        Err(e) => {
            p.status.send_replace(NetworkStatus::Failed {
                error: e.to_string(),
            });
            p.emit(Event::Network(p.status.borrow().clone()));
            return Err(e);
        }
    };
    *p.tcp_hint.locked() = listener.as_ref().and_then(|l| l.local_tcp_addr());
    let bridges = match &net {
        Network::Tor { bridges, .. } => bridges.len(),
        Network::Tcp { .. } => 0,
    };
    *p.network_kind.locked() = Some((net.kind(), bridges));
    let (stop, _) = watch::channel(false);
    let mut tasks = vec![];

    // Network status: transport progress → profile status + events. When
    // the network becomes usable (again), every dialer retries at once
    // instead of waiting out its backoff. Our service counts as published
    // when Tor says so, or once someone completed a handshake through it
    // (arti can report no "good" introduction points on small networks
    // while clients reach us fine).
    let mut ts = transport.status();
    let mut reached = p.reached.subscribe();
    let reached_at_start = *reached.borrow_and_update();
    let status_of = move |t: &TransportStatus, reached: u64| {
        let st = map_status(t);
        if st == (NetworkStatus::Online { published: false }) && reached != reached_at_start {
            NetworkStatus::Online { published: true }
        } else {
            st
        }
    };
    let now = status_of(&ts.borrow_and_update(), reached_at_start);
    p.status.send_replace(now.clone());
    p.emit(Event::Network(now));
    let weak = Arc::downgrade(p);
    tasks.push(tokio::spawn(until_stopped(stop.subscribe(), async move {
        let mut reached_open = true;
        loop {
            let st = status_of(&ts.borrow_and_update(), *reached.borrow_and_update());
            let Some(p) = weak.upgrade() else { return };
            let before = p.status.borrow().clone();
            if before != st {
                let usable = |s: &NetworkStatus| matches!(s, NetworkStatus::Online { .. });
                let better = matches!(st, NetworkStatus::Online { published: true })
                    || (usable(&st) && !usable(&before));
                p.status.send_replace(st.clone());
                p.emit(Event::Network(st));
                if better {
                    p.peers.wake_all();
                }
            }
            drop(p);
            tokio::select! {
                changed = ts.changed() => if changed.is_err() { return },
                changed = reached.changed(), if reached_open => {
                    reached_open = changed.is_ok();
                }
            }
        }
    })));

    // Accept loops, one per address we may run (see `reach`). Every
    // connection takes a place in the unauthenticated pool; a full pool
    // evicts its oldest (see `admission`). Each loop also keeps its service
    // as it should be: it launches, relaunches or stops it as what it
    // should run changes, and relaunches a listener that ended or that the
    // network never published.
    let mut addresses = vec![(Address::Request, listener, Arc::clone(&transport))];
    if transport.kind() == TransportKind::Tor {
        addresses.push((Address::Contacts, None, Arc::clone(&transport)));
    }
    addresses.push((Address::Inbox, None, inbox_transport(&net, &transport)));
    for (address, listener, transport) in addresses {
        tasks.push(tokio::spawn(until_stopped(
            stop.subscribe(),
            serve(
                Arc::downgrade(p),
                transport,
                address,
                nickname.clone(),
                listener,
                stop.subscribe(),
            ),
        )));
    }

    // Feeds: fetched on a schedule, only over Tor (see `feed`).
    if tor.is_some() {
        tasks.push(tokio::spawn(until_stopped(
            stop.subscribe(),
            crate::feed::run_scheduler(Arc::downgrade(p)),
        )));
    }

    let online = Online {
        transport,
        tor,
        stop,
        tasks,
    };
    // One dialer per contact we may talk to.
    let contacts = p.store.call(|s| s.contacts()).await?;
    for c in contacts {
        if c.state.should_dial() {
            ensure_dialer(p, &online, c.id);
        }
    }
    *guard = Some(online);
    info!("profile online");
    Ok(())
}

/// The transport the inbox listens on: over TCP its own, on another port
/// of the same IP (one TCP transport listens at one address), so that its
/// link never points at the request listener; over Tor the same client.
fn inbox_transport(net: &Network, transport: &Arc<dyn Transport>) -> Arc<dyn Transport> {
    match net {
        Network::Tcp { listen } => Arc::new(TcpTransport::new(Some(std::net::SocketAddr::new(
            listen.ip(),
            0,
        )))),
        Network::Tor { .. } => Arc::clone(transport),
    }
}

/// Run `address`'s listener as [`reach::plan`] says, for as long as the
/// profile is online: launch it, stop it, or relaunch it with new settings
/// when what it should run changes (debounced: changes come in bursts);
/// relaunch it when it ends, or when the network is up but the service has
/// not been published for a while (a node started before Tor was usable:
/// arti's own upload retries can wait far longer than a user will).
/// Patience doubles after each such relaunch.
async fn serve(
    weak: std::sync::Weak<ProfileInner>,
    transport: Arc<dyn Transport>,
    address: Address,
    nickname: String,
    mut listener: Option<kith_transport::Listener>,
    stop: watch::Receiver<bool>,
) {
    let tor = transport.kind() == TransportKind::Tor;
    let mut changes = match weak.upgrade() {
        Some(p) => p.reach_changes.subscribe(),
        None => return,
    };
    let mut patience = PUBLISH_PATIENCE;
    // What `listener` runs, to tell whether a new plan differs.
    let mut running: Option<ServiceSpec> = None;
    if let Some(p) = weak.upgrade()
        && listener.is_some()
    {
        running = reach::plan(&p, address, &nickname, tor)
            .await
            .ok()
            .and_then(|x| x.spec);
    }
    let mut delay = BACKOFF_MIN;
    loop {
        changes.borrow_and_update();
        let Some(p) = weak.upgrade() else { return };
        let plan = reach::plan(&p, address, &nickname, tor).await;
        drop(p);
        let plan = match plan {
            Ok(plan) => plan,
            Err(e) => {
                debug!("cannot tell what to listen on: {e}");
                tokio::time::sleep(BACKOFF_MAX).await;
                continue;
            }
        };
        let same = match (&running, &plan.spec) {
            (Some(a), Some(b)) => {
                a.nickname == b.nickname
                    && a.discovery == b.discovery
                    && a.identity.public() == b.identity.public()
            }
            (None, None) => true,
            _ => false,
        };
        if !same || (plan.spec.is_some() && listener.is_none()) {
            if listener.take().is_some() {
                debug!(?address, "stopping a listener");
            }
            if address == Address::Inbox
                && let Some(p) = weak.upgrade()
            {
                crate::inbox::listening(&p, None);
            }
            running = None;
            if let Some(spec) = plan.spec.clone() {
                match transport.listen(spec.clone()).await {
                    Ok(l) => {
                        debug!(?address, "listening");
                        if address == Address::Inbox
                            && let Some(p) = weak.upgrade()
                        {
                            crate::inbox::listening(&p, l.local_tcp_addr());
                        }
                        listener = Some(l);
                        running = Some(spec);
                        delay = BACKOFF_MIN;
                    }
                    Err(e) => {
                        debug!(?address, "launching a listener failed: {e}");
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            _ = changes.changed() => {}
                        }
                        delay = (delay * 2).min(BACKOFF_MAX);
                        continue;
                    }
                }
            }
        }
        let recheck = async {
            match plan.recheck_in {
                Some(d) => tokio::time::sleep(d + Duration::from_millis(100)).await,
                None => std::future::pending().await,
            }
        };
        let accepting = async {
            match listener.as_mut() {
                Some(l) => accept_all(&weak, l, &stop, address).await,
                None => std::future::pending().await,
            }
        };
        let unpublished = async {
            match &running {
                Some(spec) => {
                    unpublished_for(transport.status(), reached(&weak), patience, &spec.nickname)
                        .await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = accepting => {
                info!(?address, "relaunching the listener: it ended");
                running = None;
            }
            () = unpublished => {
                info!(?address, "relaunching the onion service: it is still not published");
                running = None;
                patience = (patience * 2).min(PUBLISH_PATIENCE_MAX);
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                // Let a burst of changes (several contacts' keys) settle.
                tokio::time::sleep(RECONFIGURE_DEBOUNCE).await;
            }
            () = recheck => {}
        }
        if running.is_none() {
            listener = None;
            tokio::time::sleep(BACKOFF_MIN).await;
        }
    }
}

async fn accept_all(
    weak: &std::sync::Weak<ProfileInner>,
    listener: &mut kith_transport::Listener,
    stop: &watch::Receiver<bool>,
    address: Address,
) {
    while let Some(stream) = listener.accept().await {
        let Some(p) = weak.upgrade() else { return };
        let slot = p.admission.admit();
        tokio::spawn(until_stopped(stop.clone(), async move {
            // Routed by the listener that accepted it: what arrives at the
            // inbox is never a contact, a request or a meeting.
            let r = match address {
                Address::Inbox => crate::inbox::incoming(&p, stream, slot).await,
                Address::Request | Address::Contacts => incoming(&p, stream, slot).await,
            };
            if let Err(e) = r {
                debug!("incoming connection ended: {e}");
            }
        }));
    }
}

/// Inbound handshakes completed, as a watch (closed if the profile is gone).
fn reached(weak: &std::sync::Weak<ProfileInner>) -> watch::Receiver<u64> {
    match weak.upgrade() {
        Some(p) => p.reached.subscribe(),
        None => watch::channel(0).1,
    }
}

/// Resolves once the transport has been ready, with a service of ours not
/// published, for `patience` without a break — and without anyone reaching
/// us meanwhile: an inbound handshake proves the service works, whatever
/// arti reports (on small networks arti can find no "good" introduction
/// points to report while clients reach us fine).
async fn unpublished_for(
    mut status: watch::Receiver<TransportStatus>,
    mut reached: watch::Receiver<u64>,
    patience: Duration,
    nickname: &str,
) {
    let mut reached_open = true;
    let stuck = |t: &TransportStatus| {
        t.ready
            && t.services
                .iter()
                .any(|s| s.nickname == nickname && !s.published)
    };
    loop {
        if status.wait_for(|t| stuck(t)).await.is_err() {
            return std::future::pending().await;
        }
        let deadline = tokio::time::sleep(patience);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => return,
                r = reached.changed(), if reached_open => {
                    if r.is_ok() {
                        // Someone reached us: start the wait again.
                        break;
                    }
                    // The profile is gone; only the status can end the wait.
                    reached_open = false;
                }
                changed = status.changed() => {
                    if changed.is_err() {
                        return std::future::pending().await;
                    }
                    if !stuck(&status.borrow_and_update()) {
                        break;
                    }
                }
            }
        }
    }
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
        // Tell every contact with a session that we are going, so that it
        // does not dial us until we are back (protocol § 6).
        p.peers.leave();
        let patience = tokio::time::sleep(GOODBYE_PATIENCE);
        tokio::pin!(patience);
        while p.peers.any_session() {
            tokio::select! {
                () = &mut patience => break,
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
        let _ = online.stop.send(true);
        for t in &online.tasks {
            t.abort();
        }
        // Their listeners are dropped once they have stopped.
        for t in online.tasks {
            let _ = t.await;
        }
        drop(online.transport);
        drop(online.tor);
        p.peers.clear();
        *p.tcp_hint.locked() = None;
        *p.network_kind.locked() = None;
        p.status.send_replace(NetworkStatus::Offline);
        p.emit(Event::Network(NetworkStatus::Offline));
        info!("profile offline");
    }
}

/// The transport while online (the meeting's dialer uses it).
pub(crate) async fn transport(p: &Arc<ProfileInner>) -> Option<Arc<dyn Transport>> {
    p.online
        .lock()
        .await
        .as_ref()
        .map(|o| Arc::clone(&o.transport))
}

/// The Tor transport while online over Tor: feeds are fetched through it.
pub(crate) async fn tor_transport(p: &Arc<ProfileInner>) -> Option<Arc<TorTransport>> {
    p.online.lock().await.as_ref().and_then(|o| o.tor.clone())
}

fn ensure_dialer(p: &Arc<ProfileInner>, online: &Online, id: ContactId) {
    let weak = Arc::downgrade(p);
    let transport = online.transport.clone();
    let stop = online.stop.subscribe();
    p.peers.ensure_dialer(id, move || {
        tokio::spawn(until_stopped(stop, dialer(weak, transport, id)))
    });
}

/// A contact was added, accepted, declined, blocked, unblocked or removed.
pub(crate) async fn contact_changed(
    p: &Arc<ProfileInner>,
    id: ContactId,
    state: Option<ContactState>,
) {
    // Who may hold our contacts address's key, and who can only know our
    // request address, may have changed.
    reach::changed(p);
    let may_talk = state.is_some_and(ContactRules::may_have_session);
    if !may_talk {
        // Removed, blocked or declined: whatever session is up ends now.
        p.peers.close(id);
    }
    if state.is_some_and(ContactRules::should_dial) {
        let guard = p.online.lock().await;
        if let Some(online) = guard.as_ref() {
            ensure_dialer(p, online, id);
        }
    }
    p.peers.wake(id);
}

/// New messages wait for `id`: push them to a live session, or wake the dialer.
pub(crate) fn outbox_changed(p: &Arc<ProfileInner>, id: ContactId) {
    if !p.peers.flush(id) {
        p.peers.wake(id);
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
    /// Woken while waiting for a place to dial: look again at once.
    Woken,
}

/// Keep a session with one contact while there is reason to.
///
/// Retries with exponential backoff and jitter; woken early by a new
/// message, a change of the contact's state, the end of a session, or the
/// network becoming usable (so a node started before Tor works recovers as
/// soon as it does).
async fn dialer(weak: std::sync::Weak<ProfileInner>, transport: Arc<dyn Transport>, id: ContactId) {
    let mut backoff = BACKOFF_MIN;
    let mut quick = QUICK_RETRY;
    // Since when every dial has failed, if the last one did.
    let mut failing_since: Option<Instant> = None;
    // Try the contact's contacts address first; after a failure, its
    // request address (it may not have authorized us yet), and so on.
    let mut contacts_first = true;
    loop {
        let Some(p) = weak.upgrade() else { return };
        let wake = p.peers.waker(id);
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let delay = match dial_once(
            &p,
            transport.as_ref(),
            id,
            contacts_first,
            notified.as_mut(),
        )
        .await
        {
            Ok(Outcome::Woken) => continue,
            Ok(Outcome::Ended) => {
                backoff = BACKOFF_MIN;
                quick = QUICK_RETRY;
                failing_since = None;
                BACKOFF_MIN
            }
            Ok(Outcome::Pending) if transport.kind() == TransportKind::Tcp => PENDING_RETRY_TCP,
            Ok(Outcome::Pending) => PENDING_RETRY,
            Ok(Outcome::Idle) => Duration::from_secs(3600),
            Err(Error::Store(e)) if e.kind() == kith_core::ErrorKind::NotFound => return,
            Err(e) => {
                contacts_first = !contacts_first;
                let since = *failing_since.get_or_insert_with(Instant::now);
                // Whether a message waits is asked once a failure while the
                // quick retries last (a pass over the conversation): with
                // nothing waiting they end for this streak, and a message
                // written later wakes the dialer itself.
                let d = if quick < BACKOFF_MIN && has_outgoing(&p, id).await.unwrap_or(false) {
                    let d = quick;
                    quick *= 2;
                    d
                } else {
                    quick = BACKOFF_MIN;
                    let d = backoff;
                    backoff = next_backoff(backoff, since.elapsed());
                    d
                };
                trace!(retry_in = ?d, "dial failed: {e}");
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

/// The retry delay after `current`, for a contact every dial to which has
/// failed for `failing_for`: doubling, up to [`BACKOFF_MAX`]; once it has
/// failed for [`BACKOFF_LONG_AFTER`], [`BACKOFF_MAX_LONG`]; once for
/// [`BACKOFF_LONGEST_AFTER`], [`BACKOFF_MAX_LONGEST`].
fn next_backoff(current: Duration, failing_for: Duration) -> Duration {
    if failing_for >= BACKOFF_LONGEST_AFTER {
        BACKOFF_MAX_LONGEST
    } else if failing_for >= BACKOFF_LONG_AFTER {
        BACKOFF_MAX_LONG
    } else {
        (current * 2).min(BACKOFF_MAX)
    }
}

/// One attempt to reach a contact. `woken` is the dialer's wake signal: a
/// wait for a place to dial ends early on it.
async fn dial_once(
    p: &Arc<ProfileInner>,
    transport: &dyn Transport,
    id: ContactId,
    contacts_first: bool,
    woken: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
) -> Result<Outcome> {
    let c = p.store.call(move |s| s.contact(id)).await?;
    if !c.state.should_dial() {
        return Ok(Outcome::Idle);
    }
    if p.peers.is_online(id) {
        // A session (perhaps one they opened) is up; wait for it to end.
        return Ok(Outcome::Idle);
    }
    if p.peers.is_away(id) && !has_outgoing(p, id).await? {
        // They said goodbye: they dial us when they are back.
        return Ok(Outcome::Idle);
    }
    // A dial takes one of a few places (`peers::BACKGROUND_DIALS`), held
    // until the session is up or the attempt fails, unless it is urgent:
    // something waits to be delivered, or we are asking to be a contact.
    // Those never wait behind the rest (a thousand offline contacts must
    // not hold up a message); a background dial woken while it waits (a
    // new message, a change of state) looks again.
    let place = match p.peers.try_background_dial() {
        Some(place) => Some(place),
        None if c.state == ContactState::Outgoing || has_outgoing(p, id).await? => None,
        None => tokio::select! {
            place = p.peers.background_dial() => place,
            () = woken => return Ok(Outcome::Woken),
        },
    };
    let peer = IdentityKey::from_bytes(&c.address)?;
    let target = reach::target(p, &c, contacts_first)?;
    let started = Instant::now();
    trace!(contacts_first, background = place.is_some(), "dialing");
    let stream = transport.dial(&target).await?;
    trace!(after = ?started.elapsed(), "stream open");
    let mut conn = crate::conn::initiate(stream, &p.identity, peer).await?;
    trace!(after = ?started.elapsed(), "handshake done");
    let name = p.store.call(|s| s.profile()).await?.display_name;
    let tcp_hint = *p.tcp_hint.locked();
    conn.send(&PeerMessage::Hello(Hello { name, tcp_hint }))
        .await?;
    match conn
        .recv_timeout(crate::conn::INITIATOR_HANDSHAKE_TIMEOUT, "welcome")
        .await?
    {
        Some(PeerMessage::Welcome(Welcome::Accepted)) => {
            if let Some(to) = c.state.on_welcome_accepted() {
                set_contact_state(p, id, c.state, to).await?;
            }
            drop(place);
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

/// Whether anything waits to be sent to `id`: messages, reactions, edits,
/// deletes, file offers (its outbox) or group messages.
async fn has_outgoing(p: &Arc<ProfileInner>, id: ContactId) -> Result<bool> {
    Ok(p.store
        .call(move |s| {
            Ok::<_, kith_store::Error>(
                !s.outbox(id)?.is_empty() || !crate::group::outbox(s, id)?.is_empty(),
            )
        })
        .await?)
}

/// Move a contact from `from` to `to`, if it is still in `from` (read,
/// check and write in one store transaction).
async fn set_contact_state(
    p: &Arc<ProfileInner>,
    id: ContactId,
    from: ContactState,
    to: ContactState,
) -> Result<()> {
    p.store
        .call(move |s| {
            s.update_contact_with(id, |c| {
                if c.state == from {
                    c.state = to;
                }
                Ok::<(), std::convert::Infallible>(())
            })
        })
        .await?
        .unwrap_or_else(|never| match never {});
    p.emit(Event::ContactsChanged);
    Ok(())
}

/// Answer "pending" and close: what every non-contact hears, whatever the
/// reason (a new request, a request over the caps, a stranger while strangers
/// are blocked, a declined or blocked identity).
async fn answer_pending(mut conn: Conn) {
    let _ = conn.send(&PeerMessage::Welcome(Welcome::Pending)).await;
    conn.close().await;
}

/// Someone dialed us. `slot` is their place in the unauthenticated pool:
/// until they are known to be a contact, a newer connection may evict them.
async fn incoming(p: &Arc<ProfileInner>, stream: BoxStream, mut slot: Slot) -> Result<()> {
    let greeted = tokio::select! {
        g = greet(p, stream) => g?,
        _ = &mut slot.evicted => {
            trace!("unauthenticated connection evicted by a newer one");
            return Ok(());
        }
    };
    let Some((conn, c, hello)) = greeted else {
        return Ok(());
    };
    // A contact: it leaves the strangers' pool now.
    drop(slot);
    let answer = c.state.answer_hello();
    if let Some(to) = answer.becomes {
        set_contact_state(p, c.id, c.state, to).await?;
    }
    refresh_contact(p, &c, &hello).await?;
    let mut conn = conn;
    conn.send(&PeerMessage::Welcome(Welcome::Accepted)).await?;
    run_session(p, c.id, conn).await;
    Ok(())
}

/// The handshake and hello of an incoming connection. Everyone who is not a
/// contact is answered and closed here (`None`); a contact is returned with
/// its hello, not yet answered.
async fn greet(p: &Arc<ProfileInner>, stream: BoxStream) -> Result<Option<(Conn, Contact, Hello)>> {
    let mut conn = crate::conn::respond(stream, &p.identity, HANDSHAKE_DEADLINE).await?;
    p.reached.send_modify(|n| *n = n.wrapping_add(1));
    let address = conn.peer().to_bytes();
    if p.blocked.locked().contains(&address) {
        // Refused before any other work; told what a pending request is told.
        answer_pending(conn).await;
        return Ok(None);
    }
    let hello = match conn.recv_timeout(HANDSHAKE_DEADLINE, "hello").await? {
        Some(PeerMessage::Hello(h)) => h,
        // Meeting in person: admitted only as the identity our user scanned.
        Some(PeerMessage::Meet(m)) => {
            crate::meet::incoming(p, conn, m).await?;
            return Ok(None);
        }
        _ => return Err(Error::Protocol("expected a hello")),
    };
    let existing = p
        .store
        .call(move |s| s.contact_by_address(&address))
        .await?;
    let Some(c) = existing else {
        // Answer first, then do any work: every stranger sees the same.
        answer_pending(conn).await;
        stranger(p, &address, &hello).await?;
        return Ok(None);
    };
    if c.state.answer_hello().welcome != Welcome::Accepted {
        answer_pending(conn).await;
        return Ok(None);
    }
    Ok(Some((conn, c, hello)))
}

/// A stranger said hello: maybe record their request, within the caps.
async fn stranger(p: &Arc<ProfileInner>, address: &[u8; 32], hello: &Hello) -> Result<()> {
    // The person we are meeting, dialing before our side stored them: the
    // meeting adds them; no request.
    // Requests closed: our request address may still run (a meeting, a
    // contact that knows no other), but takes no requests.
    if p.settings().await?.block_unknown
        || p.meet.is_meeting(address)
        || p.intro.is_expected(address)
        || !reach::requests(p).await?.is_open(Timestamp::now())
    {
        return Ok(());
    }
    let pending = p
        .store
        .call(|s| {
            Ok(s.contacts()?
                .iter()
                .filter(|c| c.state == ContactState::IncomingRequest)
                .count())
        })
        .await?;
    if !p.admission.allow_request(pending) {
        let total = p.admission.drop_request(address);
        trace!("contact request dropped over the caps");
        p.emit(Event::RequestsDropped { total });
        return Ok(());
    }
    let Some(id) = record_request(p, address, hello).await? else {
        return Ok(());
    };
    p.emit(Event::ContactRequest(id));
    p.emit(Event::ContactsChanged);
    Ok(())
}

/// Store a stranger's request under a free alias taken from their name.
/// Their TCP hint is not stored: hints are taken from accepted contacts only.
/// `None` if they became known meanwhile.
async fn record_request(
    p: &Arc<ProfileInner>,
    address: &[u8; 32],
    hello: &Hello,
) -> Result<Option<ContactId>> {
    let address = *address;
    let name = kith_core::text::sanitize_name(&hello.name);
    let alias_base: String = name.chars().take(32).collect();
    let base = if alias_base.trim().is_empty() {
        "request".to_owned()
    } else {
        alias_base.trim().to_owned()
    };
    let their_name = (!name.is_empty()).then_some(name);
    Ok(p.store
        .call(move |s| {
            if s.contact_by_address(&address)?.is_some() {
                return Ok(None);
            }
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
                verified: false,
                tcp_hint: None,
                their_name,
                added_at: Timestamp::now(),
            })
            .map(Some)
        })
        .await?)
}

/// Keep an accepted contact's TCP hint and name as they last told us. Only
/// those two fields change (in one store transaction), so a state change
/// made meanwhile is never overwritten.
pub(crate) async fn refresh_contact(
    p: &Arc<ProfileInner>,
    c: &Contact,
    hello: &Hello,
) -> Result<()> {
    let hint = hello.tcp_hint.map(|h| h.to_string());
    let name = Some(kith_core::text::sanitize_name(&hello.name)).filter(|n| !n.is_empty());
    if (hint.is_some() && hint != c.tcp_hint) || name != c.their_name {
        let id = c.id;
        p.store
            .call(move |s| {
                s.update_contact_with(id, |c| {
                    if hint.is_some() {
                        c.tcp_hint = hint;
                    }
                    c.their_name = name;
                    Ok::<(), std::convert::Infallible>(())
                })
            })
            .await?
            .unwrap_or_else(|never| match never {});
    }
    Ok(())
}

/// An accepted session with a contact: deliver, receive, acknowledge.
async fn run_session(p: &Arc<ProfileInner>, id: ContactId, mut conn: Conn) {
    let mut signals = p.peers.session_up(id);
    if signals.first {
        p.emit(Event::ContactOnline(id));
    }
    // The contact may have been blocked or removed between their hello and
    // the registration above, when a close would have found no session.
    let still = p
        .store
        .call(move |s| s.contact(id))
        .await
        .is_ok_and(|c| c.state.may_have_session());
    let result = if still {
        // How to reach us from now on: first, every session.
        let ours = reach::ours(p, &conn.peer());
        match conn.send(&PeerMessage::Reach(ours)).await {
            Ok(()) => session_loop(p, id, &mut conn, &mut signals).await,
            Err(e) => Err(e),
        }
    } else {
        Ok(())
    };
    if let Err(e) = result {
        debug!("session ended: {e}");
    }
    conn.close().await;
    if p.peers.session_down(id, signals.id) {
        p.emit(Event::ContactOffline(id));
    }
    p.peers.wake(id);
}

async fn session_loop(
    p: &Arc<ProfileInner>,
    id: ContactId,
    conn: &mut Conn,
    signals: &mut crate::peers::SessionSignals,
) -> Result<()> {
    // What was sent in this session, so a flush does not resend it.
    let mut sent = Sent::new();
    let mut intro_sent = crate::intro::Sent::default();
    let mut files = crate::file::SessionFiles::default();
    let mut groups = crate::group::sync::SessionSync::default();
    let mut last_heard = Instant::now();
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    keepalive.reset();
    loop {
        // Once asked to close (blocked, removed, or we are going offline),
        // a session handles nothing more, however much is buffered.
        if *signals.close.borrow_and_update() {
            if p.peers.leaving() {
                conn.send(&PeerMessage::Goodbye).await?;
            }
            return Ok(());
        }
        tokio::select! {
            msg = conn.recv() => {
                last_heard = Instant::now();
                let Some(msg) = msg? else { return Ok(()) };
                for reply in on_message(p, id, msg, &mut files, &mut groups).await? {
                    conn.send(&reply).await?;
                }
            }
            cmd = signals.flush.recv() => {
                match cmd {
                    Some(()) => {
                        flush(p, id, conn, &mut sent).await?;
                        crate::intro::flush(p, id, conn, &mut intro_sent).await?;
                        crate::file::flush(p, id, conn, &mut files).await?;
                        crate::group::sync::flush(p, id, conn, &mut groups).await?;
                    }
                    None => return Ok(()),
                }
            }
            // Chunks go out a batch at a time between everything else, so a
            // file never holds up a message (select! picks ready branches
            // at random).
            () = std::future::ready(()), if files.sending() => {
                crate::file::send_some(p, id, conn, &mut files).await?;
            }
            // A close request is handled at the top of the loop.
            changed = signals.close.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            _ = keepalive.tick() => {
                if last_heard.elapsed() > SILENT_LIMIT {
                    return Err(Error::Timeout("the contact's link went silent"));
                }
                conn.send(&PeerMessage::Keepalive).await?;
            }
        }
    }
}

/// What a session's flushes sent: (what, id). A delete names the message
/// it deletes, so ids alone would take the delete for the message.
type Sent = std::collections::HashSet<(Outgoing, MessageId)>;

/// What an id in [`Sent`] was sent as.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Outgoing {
    /// A message of the conversation (text, reply, timer line).
    Message,
    /// A reaction (its own id).
    Reaction,
    /// An edit (its own id).
    Edit,
    /// A group invitation, answer or reveal (its own id).
    Group,
    /// A delete for both, of the message with that id.
    Delete,
}

/// Send what waits in the contact's outbox and was not sent in this
/// session yet: texts, replies, timer lines, edits, reactions, deletes for both
/// (see `Store::outbox`); then mark the messages among them `Sent`.
async fn flush(
    p: &Arc<ProfileInner>,
    id: ContactId,
    conn: &mut Conn,
    sent: &mut Sent,
) -> Result<()> {
    let pending = p
        .store
        .call(move |s| {
            let mut all = s.outbox(id)?;
            all.extend(crate::group::outbox(s, id)?);
            Ok(all)
        })
        .await?;
    let mut to_mark = vec![];
    for m in pending {
        let (what, keys) = match &m {
            PeerMessage::Text(t) => (Outgoing::Message, vec![t.id]),
            PeerMessage::Chat(c) => (Outgoing::Message, vec![c.id]),
            PeerMessage::Disappear(d) => (Outgoing::Message, vec![d.id]),
            PeerMessage::Reaction(r) => (Outgoing::Reaction, vec![r.id]),
            PeerMessage::Edit(e) => (Outgoing::Edit, vec![e.id]),
            PeerMessage::GroupInvite(i) => (Outgoing::Group, vec![i.id]),
            PeerMessage::GroupAnswer { id, .. } | PeerMessage::GroupReveal { id, .. } => {
                (Outgoing::Group, vec![*id])
            }
            PeerMessage::Delete { targets } => (Outgoing::Delete, targets.clone()),
            // The offer; its chunks follow the contact's FileResume.
            PeerMessage::FileOffer(o) => (Outgoing::Message, vec![o.id]),
            _ => continue,
        };
        let message = what == Outgoing::Message;
        // Every key is remembered, also after the first new one.
        let mut fresh = false;
        for k in &keys {
            fresh |= sent.insert((what, *k));
        }
        if !fresh {
            continue;
        }
        conn.send(&m).await?;
        if message {
            to_mark.extend(keys);
        }
    }
    if to_mark.is_empty() {
        return Ok(());
    }
    let now = Timestamp::now();
    let updated = p
        .store
        .call(move |s| {
            let mut updated = vec![];
            for mid in to_mark {
                // `None` when it is past `Queued` already (a resend).
                if let Some(u) = s.set_message_state(id, mid, MessageState::Sent, now)? {
                    updated.push((mid, u.state));
                }
            }
            Ok(updated)
        })
        .await?;
    for (mid, state) in updated {
        p.emit(Event::MessageState {
            contact: id,
            id: mid,
            state,
        });
    }
    Ok(())
}

/// What a session does with one message from an accepted contact; returns
/// what to answer. Everything a contact sends after the handshake goes
/// through here (and `kith_node::fuzzing` drives it with arbitrary input).
pub(crate) async fn on_message(
    p: &Arc<ProfileInner>,
    id: ContactId,
    msg: PeerMessage,
    files: &mut crate::file::SessionFiles,
    groups: &mut crate::group::sync::SessionSync,
) -> Result<Vec<PeerMessage>> {
    use crate::file;
    match msg {
        PeerMessage::GroupSync { opener, frame } => {
            return crate::group::sync::receive(p, id, groups, opener, frame).await;
        }
        PeerMessage::FileOffer(o) => return file::receive_offer(p, id, o).await,
        PeerMessage::FileChunk(c) => return file::receive_chunk(p, id, c, files).await,
        PeerMessage::FileResume { file, from } => {
            return file::receive_resume(p, id, file, from, files).await;
        }
        PeerMessage::FileDone { file, status } => {
            file::receive_done(p, id, file, status, files).await?;
            return Ok(vec![]);
        }
        _ => {}
    }
    let one = match msg {
        PeerMessage::Text(t) => receive_text(p, id, t).await.map(Some),
        PeerMessage::Keepalive => Ok(None),
        PeerMessage::Goodbye => {
            p.peers.set_away(id);
            Ok(None)
        }
        PeerMessage::Ack(ids) => receive_ack(p, id, ids).await.map(|()| None),
        PeerMessage::Reach(r) => reach::receive(p, id, r).await.map(|()| None),
        PeerMessage::Introduction(m) => crate::intro::on_message(p, id, m).await,
        PeerMessage::Chat(c) => conversation::receive_chat(p, id, c).await.map(Some),
        PeerMessage::Reaction(r) => conversation::receive_reaction(p, id, r).await.map(Some),
        PeerMessage::Edit(e) => conversation::receive_edit(p, id, e).await.map(Some),
        PeerMessage::GroupInvite(i) => crate::group::receive_invite(p, id, i).await.map(Some),
        PeerMessage::GroupAnswer {
            id: aid,
            group,
            accept,
        } => crate::group::receive_answer(p, id, aid, group, accept)
            .await
            .map(Some),
        PeerMessage::GroupReveal { id: rid, group } => {
            crate::group::receive_reveal(p, id, rid, group)
                .await
                .map(Some)
        }
        PeerMessage::Delete { targets } => {
            conversation::receive_delete(p, id, targets).await.map(Some)
        }
        PeerMessage::DeleteAck { targets } => conversation::receive_delete_ack(p, id, targets)
            .await
            .map(|()| None),
        PeerMessage::Disappear(d) => conversation::receive_disappear(p, id, d).await.map(Some),
        _ => Err(Error::Protocol("unexpected message in session")),
    };
    one.map(|r| r.into_iter().collect())
}

/// Store a contact's message, then return its acknowledgement.
async fn receive_text(p: &Arc<ProfileInner>, id: ContactId, t: Text) -> Result<PeerMessage> {
    let now = Timestamp::now();
    // Their clock is theirs: keep what they claim within sane bounds.
    let sent_at = t.sent_at.clamp_peer(now);
    conversation::store_incoming(p, id, t.id, move |s| {
        s.insert_incoming(id, t.id, &t.body, sent_at, now)
    })
    .await
}

async fn receive_ack(p: &Arc<ProfileInner>, id: ContactId, ids: Vec<MessageId>) -> Result<()> {
    let now = Timestamp::now();
    let changed = p
        .store
        .call(move |s| {
            let (mut changed, mut edited) = (vec![], vec![]);
            for mid in ids {
                // Idempotent: a repeated ack finds it delivered already.
                // Not a message of ours: maybe one of our reactions or
                // edits.
                if s.set_message_state(id, mid, MessageState::Delivered, now)?
                    .is_some()
                {
                    changed.push(mid);
                } else if s.set_reaction_delivered(id, mid)? {
                } else if let Some(target) = s.set_edit_delivered(id, mid)? {
                    edited.push(target);
                } else {
                    crate::group::acked(s, id, mid)?;
                }
            }
            Ok((changed, edited))
        })
        .await?;
    let (changed, edited) = changed;
    for mid in changed {
        p.emit(Event::MessageState {
            contact: id,
            id: mid,
            state: MessageState::Delivered,
        });
    }
    for target in edited {
        p.emit(Event::MessageEdited {
            contact: id,
            id: target,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_contacts_are_retried_every_minute_then_every_quarter_of_an_hour_then_hourly() {
        // Doubling from 2 s, capped at a minute for the first ten minutes.
        let mut d = BACKOFF_MIN;
        let mut seq = vec![];
        for _ in 0..7 {
            d = next_backoff(d, Duration::from_secs(30));
            seq.push(d.as_secs());
        }
        assert_eq!(seq, [4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(
            next_backoff(BACKOFF_MAX, BACKOFF_LONG_AFTER - Duration::from_secs(1)),
            BACKOFF_MAX
        );
        // Then a quarter of an hour.
        assert_eq!(
            next_backoff(BACKOFF_MAX, BACKOFF_LONG_AFTER),
            BACKOFF_MAX_LONG
        );
        assert_eq!(
            next_backoff(BACKOFF_MIN, BACKOFF_LONG_AFTER),
            BACKOFF_MAX_LONG
        );
        assert_eq!(
            next_backoff(
                BACKOFF_MAX_LONG,
                BACKOFF_LONGEST_AFTER - Duration::from_secs(1)
            ),
            BACKOFF_MAX_LONG
        );
        // Then an hour, for a contact gone for the day.
        assert_eq!(
            next_backoff(BACKOFF_MAX_LONG, BACKOFF_LONGEST_AFTER),
            BACKOFF_MAX_LONGEST
        );
        assert_eq!(
            next_backoff(BACKOFF_MAX_LONGEST, Duration::from_secs(7 * 86_400)),
            BACKOFF_MAX_LONGEST
        );
    }

    fn stuck_status() -> TransportStatus {
        let mut svc = kith_transport::ServiceState::default();
        svc.nickname = "x".into();
        svc.published = false;
        let mut t = TransportStatus::default();
        t.ready = true;
        t.services = vec![svc];
        t
    }

    #[tokio::test(start_paused = true)]
    async fn an_unpublished_service_is_relaunched_unless_someone_reaches_it() {
        let (status, status_rx) = watch::channel(stuck_status());
        let (reached, reached_rx) = watch::channel(0_u64);
        let (status_rx2, reached_rx2) = (status_rx.clone(), reached_rx.clone());
        let patience = Duration::from_secs(120);
        let start = Instant::now();
        let wait = tokio::spawn(async move {
            unpublished_for(status_rx2, reached_rx2, patience, "x").await;
        });
        // Someone reaches us at 100 s: the wait starts again from there.
        tokio::time::sleep(Duration::from_secs(100)).await;
        reached.send_modify(|n| *n += 1);
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert!(
            !wait.is_finished(),
            "relaunched a service that clients reach"
        );
        wait.await.expect("task");
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(220) && waited < Duration::from_secs(222),
            "{waited:?}"
        );

        // Published: no relaunch, however long.
        status.send_modify(|s| s.services[0].published = true);
        let wait = tokio::spawn(async move {
            unpublished_for(status_rx, reached_rx, patience, "x").await;
        });
        // Another service's state is not ours to act on.
        status.send_modify(|s| {
            let mut other = s.services[0].clone();
            other.nickname = "other".into();
            other.published = false;
            s.services.push(other);
        });
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(!wait.is_finished());
        wait.abort();
    }
}
