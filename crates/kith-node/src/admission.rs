//! What a stranger may cost us: bounds on unauthenticated connections and on
//! contact requests, checked before any work is spent.
//!
//! Anyone who holds a profile's link (it is meant to be shared) can dial it.
//! Before the Noise handshake completes we do not know who is dialing, so:
//! - at most [`MAX_UNAUTHENTICATED`] connections may be in the handshake at
//!   once. When a new one arrives and the pool is full, the *oldest* one is
//!   evicted (closed). A real handshake takes one and a half round trips, so
//!   it completes long before that many newer connections arrive; a
//!   stranger who opens connections and stalls only pushes out their own.
//!   (Refusing the newest instead would let a stranger hold every slot by
//!   opening a few connections a second, and no contact could get in.)
//! - each handshake message must arrive within [`HANDSHAKE_DEADLINE`], and
//!   nothing beyond the handshake message is read or buffered until the peer
//!   is authenticated ([`crate::conn`]);
//! - an authenticated contact leaves this pool at once, so contacts' sessions
//!   never count against strangers' limits (their reserved share), and our
//!   own dialers to contacts are not limited by it at all.
//!
//! After the handshake, a stranger (someone not in our contacts) can only
//! ask to become a contact. Requests are capped in number
//! ([`MAX_PENDING_REQUESTS`]) and rate ([`REQUEST_BURST`],
//! [`REQUEST_REFILL`]); what is over the caps is answered exactly like a
//! pending request, not stored, and counted once per identity.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::profile::LockExt;

/// Connections that may be in the handshake at once.
pub(crate) const MAX_UNAUTHENTICATED: usize = 128;
/// How long each step of a responder's handshake (and the dialer's hello)
/// may take. The stream is already open when it starts, so over Tor this is a
/// few round trips on an established circuit: seconds, not minutes.
pub(crate) const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// Requests that may wait for the user at once.
pub(crate) const MAX_PENDING_REQUESTS: usize = 50;
/// Requests accepted in a burst.
pub(crate) const REQUEST_BURST: u32 = 10;
/// One more request is allowed this often after a burst.
pub(crate) const REQUEST_REFILL: Duration = Duration::from_secs(60);
/// Distinct dropped identities remembered, so that one stranger who keeps
/// dialing is counted once. Past this, every drop counts.
const DROPPED_REMEMBERED: usize = 4096;

/// The unauthenticated pool: oldest first.
#[derive(Default)]
struct Pool {
    next: u64,
    live: VecDeque<(u64, oneshot::Sender<()>)>,
}

/// One unauthenticated connection's place in the pool. Dropping it (the
/// peer authenticated, or the connection ended) frees the place.
pub(crate) struct Slot {
    id: u64,
    pool: Arc<Mutex<Pool>>,
    /// Resolves when a newer connection evicted this one.
    pub(crate) evicted: oneshot::Receiver<()>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.pool.locked().live.retain(|(id, _)| *id != self.id);
    }
}

/// The admission state of one online profile.
pub(crate) struct Admission {
    pool: Arc<Mutex<Pool>>,
    requests: Mutex<TokenBucket>,
    dropped: AtomicU64,
    dropped_ids: Mutex<HashSet<[u8; 32]>>,
}

impl Admission {
    pub(crate) fn new() -> Admission {
        Admission {
            pool: Arc::default(),
            requests: Mutex::new(TokenBucket::new(
                REQUEST_BURST,
                REQUEST_REFILL,
                Instant::now(),
            )),
            dropped: AtomicU64::new(0),
            dropped_ids: Mutex::new(HashSet::new()),
        }
    }

    /// A place for one new unauthenticated connection; when the pool is
    /// full, the oldest connection in it is evicted to make room.
    pub(crate) fn admit(&self) -> Slot {
        let (tx, rx) = oneshot::channel();
        let mut pool = self.pool.locked();
        while pool.live.len() >= MAX_UNAUTHENTICATED {
            if let Some((_, evict)) = pool.live.pop_front() {
                let _ = evict.send(());
            }
        }
        pool.next += 1;
        let id = pool.next;
        pool.live.push_back((id, tx));
        Slot {
            id,
            pool: Arc::clone(&self.pool),
            evicted: rx,
        }
    }

    /// Connections in the handshake now.
    #[cfg(test)]
    pub(crate) fn in_handshake(&self) -> usize {
        self.pool.locked().live.len()
    }

    /// May one more stranger's request be stored, with `pending` waiting now?
    /// Takes a token when it may.
    pub(crate) fn allow_request(&self, pending: usize) -> bool {
        if pending >= MAX_PENDING_REQUESTS {
            return false;
        }
        self.requests.locked().take(Instant::now())
    }

    /// Count a dropped request from `who`; returns the new total (distinct
    /// identities, as far as remembered).
    pub(crate) fn drop_request(&self, who: &[u8; 32]) -> u64 {
        let mut ids = self.dropped_ids.locked();
        if ids.contains(who) {
            return self.dropped();
        }
        if ids.len() < DROPPED_REMEMBERED {
            ids.insert(*who);
        }
        self.dropped.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Requests dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// A token bucket on the monotonic clock.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    capacity: u32,
    tokens: u32,
    refill: Duration,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(capacity: u32, refill: Duration, now: Instant) -> TokenBucket {
        TokenBucket {
            capacity,
            tokens: capacity,
            refill,
            last: now,
        }
    }

    /// Take one token if there is one.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        if !self.refill.is_zero() {
            let gained = elapsed.as_nanos() / self.refill.as_nanos();
            if gained > 0 {
                let gained = u32::try_from(gained).unwrap_or(u32::MAX);
                self.tokens = self.tokens.saturating_add(gained).min(self.capacity);
                // Keep the remainder so that refills are not lost to rounding.
                self.last = if self.tokens == self.capacity {
                    now
                } else {
                    self.last + self.refill * gained
                };
            }
        }
        if self.tokens > 0 {
            self.tokens -= 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_one_per_refill() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3, Duration::from_secs(10), t0);
        assert!(b.take(t0));
        assert!(b.take(t0));
        assert!(b.take(t0));
        assert!(!b.take(t0));
        assert!(!b.take(t0 + Duration::from_secs(9)));
        assert!(b.take(t0 + Duration::from_secs(10)));
        assert!(!b.take(t0 + Duration::from_secs(11)));
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(3600);
        assert!(b.take(later));
        assert!(b.take(later));
        assert!(b.take(later));
        assert!(!b.take(later));
    }

    #[test]
    fn clock_going_backwards_is_harmless() {
        let t0 = Instant::now() + Duration::from_secs(100);
        let mut b = TokenBucket::new(1, Duration::from_secs(10), t0);
        assert!(b.take(t0));
        assert!(!b.take(t0 - Duration::from_secs(50)));
    }

    #[test]
    fn a_full_pool_evicts_its_oldest() {
        let a = Admission::new();
        let mut slots: Vec<_> = (0..MAX_UNAUTHENTICATED).map(|_| a.admit()).collect();
        assert_eq!(a.in_handshake(), MAX_UNAUTHENTICATED);
        let newest = a.admit();
        assert_eq!(a.in_handshake(), MAX_UNAUTHENTICATED);
        // The oldest was told to go; the others were not.
        assert!(slots[0].evicted.try_recv().is_ok());
        assert!(slots[1].evicted.try_recv().is_err());
        drop(slots);
        assert_eq!(a.in_handshake(), 1);
        drop(newest);
        assert_eq!(a.in_handshake(), 0);
    }

    #[test]
    fn requests_capped_by_pending_count_and_rate() {
        let a = Admission::new();
        assert!(!a.allow_request(MAX_PENDING_REQUESTS));
        let allowed = (0..100).filter(|_| a.allow_request(0)).count();
        assert_eq!(allowed, REQUEST_BURST as usize);
        assert_eq!(a.drop_request(&[1; 32]), 1);
        // The same stranger dialing again is the same dropped request.
        assert_eq!(a.drop_request(&[1; 32]), 1);
        assert_eq!(a.drop_request(&[2; 32]), 2);
        assert_eq!(a.dropped(), 2);
    }
}
