//! One home for each contact's online state: its dialer, what wakes the
//! dialer, and its live sessions.
//!
//! Every question "is this contact online?", "push this to their session",
//! "wake their dialer", "close their sessions" goes through [`Peers`].

use std::collections::HashMap;
use std::sync::Mutex;

use kith_store::ContactId;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::profile::LockExt;

/// Flush requests buffered per session (one is enough: a flush sends all).
const FLUSH_QUEUE: usize = 1;
/// Live sessions one contact may have at once: two when both sides dial at
/// the same moment. A contact that opens more closes its own oldest ones.
pub(crate) const MAX_SESSIONS_PER_CONTACT: usize = 2;
/// Dials with nothing to deliver that run at once, per profile. Over Tor
/// each is a descriptor lookup (circuits to hidden-service directories);
/// a node with 1,000 contacts started 1,000 of them together, and its
/// memory and traffic with them (`docs/performance.md`, "Idle cost"). A
/// dial with something to deliver, or for a request we made, never waits
/// for one of these (see `net::dial_once`).
pub(crate) const BACKGROUND_DIALS: usize = 16;

/// One live session with a contact, as the registry sees it.
#[derive(Debug)]
struct Session {
    id: u64,
    /// "New messages are in the outbox."
    flush: mpsc::Sender<()>,
    /// Set when the session must end now (contact removed or blocked).
    close: watch::Sender<bool>,
}

/// The session loop's side of a registered session.
#[derive(Debug)]
pub(crate) struct SessionSignals {
    /// The session's id in the registry.
    pub(crate) id: u64,
    /// Whether this is the contact's only live session.
    pub(crate) first: bool,
    /// Flush requests.
    pub(crate) flush: mpsc::Receiver<()>,
    /// Becomes true when the session must close.
    pub(crate) close: watch::Receiver<bool>,
}

/// A contact's online state.
#[derive(Default)]
struct Peer {
    /// The task that keeps a session up while there is reason to.
    dialer: Option<JoinHandle<()>>,
    /// Wakes the dialer early (new message, accepted, session ended, network back).
    wake: std::sync::Arc<Notify>,
    /// Live sessions (usually one; two briefly when both sides dial at once).
    sessions: Vec<Session>,
    /// They said `Goodbye` and have not dialed us since: no dial without
    /// something to deliver (see `net::dial_once`).
    away: bool,
}

impl Peer {
    fn is_idle(&self) -> bool {
        self.sessions.is_empty() && self.dialer.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

/// Every contact's online state, for one profile.
pub(crate) struct Peers {
    map: Mutex<HashMap<ContactId, Peer>>,
    next_session: std::sync::atomic::AtomicU64,
    /// Places for dials with nothing to deliver ([`BACKGROUND_DIALS`]).
    background: std::sync::Arc<Semaphore>,
    /// We are going offline: every session says `Goodbye` as it closes.
    leaving: std::sync::atomic::AtomicBool,
}

impl Default for Peers {
    fn default() -> Self {
        Peers {
            map: Mutex::default(),
            next_session: std::sync::atomic::AtomicU64::default(),
            background: std::sync::Arc::new(Semaphore::new(BACKGROUND_DIALS)),
            leaving: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Peers {
    /// A place for a background dial now, if one is free.
    pub(crate) fn try_background_dial(&self) -> Option<OwnedSemaphorePermit> {
        std::sync::Arc::clone(&self.background)
            .try_acquire_owned()
            .ok()
    }

    /// Wait for a place for a background dial (first come, first served).
    pub(crate) async fn background_dial(&self) -> Option<OwnedSemaphorePermit> {
        // The semaphore is never closed: `None` does not happen.
        std::sync::Arc::clone(&self.background)
            .acquire_owned()
            .await
            .ok()
    }

    /// Whether a session with `id` is up.
    pub(crate) fn is_online(&self, id: ContactId) -> bool {
        self.map
            .locked()
            .get(&id)
            .is_some_and(|p| !p.sessions.is_empty())
    }

    /// The dialer's wake signal for `id`.
    pub(crate) fn waker(&self, id: ContactId) -> std::sync::Arc<Notify> {
        self.map.locked().entry(id).or_default().wake.clone()
    }

    /// `id` said `Goodbye`: it is not there until it dials us.
    pub(crate) fn set_away(&self, id: ContactId) {
        self.map.locked().entry(id).or_default().away = true;
    }

    /// Whether `id` said `Goodbye` and has not been back since.
    pub(crate) fn is_away(&self, id: ContactId) -> bool {
        self.map.locked().get(&id).is_some_and(|p| p.away)
    }

    /// We are going offline: close every session, each with a `Goodbye`.
    pub(crate) fn leave(&self) {
        self.leaving
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for p in self.map.locked().values() {
            for s in &p.sessions {
                s.close.send_replace(true);
            }
        }
    }

    /// Whether a closing session says `Goodbye` (we are going offline).
    pub(crate) fn leaving(&self) -> bool {
        self.leaving.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether any session is up.
    pub(crate) fn any_session(&self) -> bool {
        self.map.locked().values().any(|p| !p.sessions.is_empty())
    }

    /// Wake `id`'s dialer.
    pub(crate) fn wake(&self, id: ContactId) {
        self.waker(id).notify_one();
    }

    /// Wake every dialer (the network came back).
    pub(crate) fn wake_all(&self) {
        for p in self.map.locked().values() {
            p.wake.notify_one();
        }
    }

    /// Start a dialer for `id` with `spawn` unless one is running.
    pub(crate) fn ensure_dialer(&self, id: ContactId, spawn: impl FnOnce() -> JoinHandle<()>) {
        let mut map = self.map.locked();
        let p = map.entry(id).or_default();
        if p.dialer.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        p.dialer = Some(spawn());
    }

    /// A session with `id` came up: register it. Its loop listens on the
    /// returned signals; a first flush is already queued.
    pub(crate) fn session_up(&self, id: ContactId) -> SessionSignals {
        let sid = self
            .next_session
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (flush_tx, flush_rx) = mpsc::channel(FLUSH_QUEUE);
        let _ = flush_tx.try_send(());
        // A session that comes up while we are going offline closes at once
        // (with its goodbye): `leave` has already closed the others.
        let (close_tx, close_rx) = watch::channel(self.leaving());
        let mut map = self.map.locked();
        let p = map.entry(id).or_default();
        // Whoever dialed, they are back.
        p.away = false;
        while p.sessions.len() >= MAX_SESSIONS_PER_CONTACT {
            let old = p.sessions.remove(0);
            old.close.send_replace(true);
        }
        p.sessions.push(Session {
            id: sid,
            flush: flush_tx,
            close: close_tx,
        });
        SessionSignals {
            id: sid,
            first: p.sessions.len() == 1,
            flush: flush_rx,
            close: close_rx,
        }
    }

    /// A session ended. Returns whether it was the contact's last one.
    pub(crate) fn session_down(&self, id: ContactId, sid: u64) -> bool {
        let mut map = self.map.locked();
        let Some(p) = map.get_mut(&id) else {
            return false;
        };
        let before = p.sessions.len();
        p.sessions.retain(|s| s.id != sid);
        let last = before > 0 && p.sessions.is_empty();
        if p.is_idle() {
            map.remove(&id);
        }
        last
    }

    /// Ask a live session to send what waits in the outbox. Returns false
    /// when no session is up.
    pub(crate) fn flush(&self, id: ContactId) -> bool {
        let map = self.map.locked();
        let Some(s) = map.get(&id).and_then(|p| p.sessions.first()) else {
            return false;
        };
        // A full queue already holds a flush, which covers this one.
        let _ = s.flush.try_send(());
        true
    }

    /// Close every live session with `id` at once (removed or blocked).
    pub(crate) fn close(&self, id: ContactId) {
        if let Some(p) = self.map.locked().get(&id) {
            for s in &p.sessions {
                s.close.send_replace(true);
            }
        }
    }

    /// Stop every dialer and forget every session (going offline). The
    /// sessions' own tasks are stopped by the profile's stop signal.
    pub(crate) fn clear(&self) {
        let mut map = self.map.locked();
        for (_, p) in map.drain() {
            if let Some(h) = p.dialer {
                h.abort();
            }
        }
        self.leaving
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_count_flush_and_close() {
        let peers = Peers::default();
        let id = ContactId(7);
        assert!(!peers.is_online(id));
        let mut a = peers.session_up(id);
        assert!(a.first);
        let mut b = peers.session_up(id);
        assert!(!b.first);
        assert!(peers.is_online(id));
        // The first flush is queued on registration; more collapse into it.
        assert!(peers.flush(id));
        assert!(peers.flush(id));
        assert_eq!(a.flush.recv().await, Some(()));
        assert!(a.flush.try_recv().is_err());
        peers.close(id);
        assert!(*a.close.borrow_and_update());
        assert!(*b.close.borrow_and_update());
        assert!(!peers.session_down(id, a.id));
        assert!(peers.session_down(id, b.id));
        assert!(!peers.is_online(id));
        assert!(!peers.flush(id));
    }

    #[tokio::test]
    async fn a_contact_cannot_pile_up_sessions() {
        let peers = Peers::default();
        let id = ContactId(3);
        let mut first = peers.session_up(id);
        let _second = peers.session_up(id);
        assert!(!*first.close.borrow_and_update());
        let _third = peers.session_up(id);
        // The oldest was told to close, and no longer counts.
        assert!(*first.close.borrow_and_update());
        assert!(!peers.session_down(id, first.id));
        assert!(peers.is_online(id));
    }
}
