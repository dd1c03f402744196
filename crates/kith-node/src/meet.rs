//! Meeting in person: run the exchange of `kith_core::meet` over a session.
//!
//! One meeting at a time per profile ([`MeetSlot`]): [`Profile::meet_start`]
//! makes a fresh ephemeral key and the code to show; [`Profile::meet_finish`]
//! takes the code scanned from the other device. Then the device with the
//! smaller identity key dials the other's normal service (retrying while the
//! other has not scanned yet), the other answers from its accept path
//! ([`incoming`], called by `net::greet` when the first message after the
//! handshake is a meet message). Both end with the other as an accepted,
//! verified contact met in person, or with a [`MeetFailure`] and nothing
//! added.
//!
//! What a peer can make us do:
//! - nothing unless a meeting is in progress, our user has scanned a code,
//!   and the peer authenticated (Noise) as the identity in that code: every
//!   other dialer hears one abort and is closed, before any store work, and
//!   is never recorded as a contact request;
//! - one exchange at a time; each of its messages within [`MEET_STEP`] (the
//!   connection also stays in the strangers' pool of `admission` until it
//!   ends, so it can be evicted like any unauthenticated one); the whole
//!   meeting within [`MEET_DEADLINE`];
//! - a failed check (commitment or confirmation) ends the meeting on both
//!   sides: a second try needs new codes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kith_core::meet::{
    AbortReason, Exchange, MEET_DEADLINE_SECS, MeetCode, MeetFailure, MeetMessage, MeetSecret, Role,
};
use kith_core::wire::PeerMessage;
use kith_core::{IdentityKey, Timestamp};
use kith_store::{ContactId, ContactOrigin, ContactState, NewContact};
use kith_transport::DialTarget;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, trace};

use crate::conn::Conn;
use crate::error::{Error, Result};
use crate::model::{ContactView, Event};
use crate::profile::{LockExt, Profile, ProfileInner, validate_alias};

/// How long one meeting may take, from showing the code to the end.
pub(crate) const MEET_DEADLINE: Duration = Duration::from_secs(MEET_DEADLINE_SECS);
/// How long each message of the exchange may take to arrive.
pub(crate) const MEET_STEP: Duration = crate::admission::HANDSHAKE_DEADLINE;
/// Pause between the dialer's attempts while the other device is not ready.
const RETRY: Duration = Duration::from_secs(2);

/// What a finished meeting came to, as the listener side reports it.
type Outcome = Option<std::result::Result<ContactId, MeetFailure>>;

/// The code we scanned and what to call its owner.
#[derive(Clone)]
struct Scanned {
    code: MeetCode,
    alias: String,
}

/// The meeting in progress.
struct Pending {
    id: u64,
    secret: Arc<MeetSecret>,
    code: MeetCode,
    deadline: Instant,
    scanned: Option<Scanned>,
    /// An exchange is running on some connection.
    busy: bool,
    /// The listener side's outcome, for the waiting [`Profile::meet_finish`].
    outcome: watch::Sender<Outcome>,
}

/// A profile's meeting in progress, if any.
#[derive(Default)]
pub(crate) struct MeetSlot {
    pending: Mutex<Option<Pending>>,
    next: std::sync::atomic::AtomicU64,
}

impl MeetSlot {
    /// Whether `address` is the identity we scanned for the meeting in
    /// progress (its hello is then not a contact request).
    pub(crate) fn is_meeting(&self, address: &[u8; 32]) -> bool {
        self.pending.locked().as_ref().is_some_and(|p| {
            p.deadline > Instant::now()
                && p.scanned
                    .as_ref()
                    .is_some_and(|s| s.code.identity.to_bytes() == *address)
        })
    }

    /// Whether a meeting is in progress (our request address must then be
    /// reachable: see `reach`).
    pub(crate) fn in_progress(&self) -> bool {
        self.pending
            .locked()
            .as_ref()
            .is_some_and(|p| p.deadline > Instant::now())
    }

    /// End meeting `id` (if it is still the one in progress).
    fn end(&self, id: u64) {
        let mut g = self.pending.locked();
        if g.as_ref().is_some_and(|p| p.id == id) {
            *g = None;
        }
    }

    /// Report the listener side's outcome of meeting `id`.
    fn report(&self, id: u64, outcome: std::result::Result<ContactId, MeetFailure>) {
        if let Some(p) = self.pending.locked().as_ref().filter(|p| p.id == id) {
            p.outcome.send_replace(Some(outcome));
        }
    }

    /// An exchange on meeting `id` ended without an outcome: another may start.
    fn release(&self, id: u64) {
        if let Some(p) = self.pending.locked().as_mut().filter(|p| p.id == id) {
            p.busy = false;
        }
    }
}

/// What the listener side needs for one exchange, taken under the lock.
struct Claim {
    id: u64,
    secret: Arc<MeetSecret>,
    code: MeetCode,
    scanned: Scanned,
}

/// Whether `peer`, who dialed us with a meet offer, may run an exchange now.
fn claim(p: &ProfileInner, peer: &IdentityKey) -> std::result::Result<Claim, AbortReason> {
    let mut g = p.meet.pending.locked();
    let Some(pending) = g.as_mut().filter(|x| x.deadline > Instant::now()) else {
        return Err(AbortReason::NotExpected);
    };
    let Some(scanned) = pending.scanned.clone() else {
        return Err(AbortReason::NotReady);
    };
    if scanned.code.identity != *peer
        || kith_core::meet::role(&p.identity.public(), peer) != Ok(Role::Listener)
    {
        return Err(AbortReason::NotExpected);
    }
    if pending.busy {
        return Err(AbortReason::NotReady);
    }
    pending.busy = true;
    Ok(Claim {
        id: pending.id,
        secret: Arc::clone(&pending.secret),
        code: pending.code.clone(),
        scanned,
    })
}

fn meet_err(f: MeetFailure) -> Error {
    Error::Data(kith_core::Error::Meet(f))
}

/// Send an abort and close, best effort.
async fn abort(mut conn: Conn, reason: AbortReason) {
    let _ = conn
        .send(&PeerMessage::Meet(MeetMessage::Abort(reason)))
        .await;
    conn.close().await;
}

async fn next_meet(conn: &mut Conn, what: &'static str) -> Result<MeetMessage> {
    match conn.recv_timeout(MEET_STEP, what).await? {
        Some(PeerMessage::Meet(m)) => Ok(m),
        Some(_) => Err(Error::Protocol("expected a meet message")),
        None => Err(Error::Protocol("the peer closed the meeting")),
    }
}

/// The listener side: someone opened a session and sent a meet message first.
/// Called from the accept path after the handshake; answers and closes.
pub(crate) async fn incoming(
    p: &Arc<ProfileInner>,
    mut conn: Conn,
    first: MeetMessage,
) -> Result<()> {
    let MeetMessage::Offer { ephemeral } = first else {
        return Err(Error::Protocol("a meeting starts with an offer"));
    };
    let peer = conn.peer();
    let c = match claim(p, &peer) {
        Ok(c) => c,
        Err(reason) => {
            trace!("meet offer refused: {reason:?}");
            abort(conn, reason).await;
            return Ok(());
        }
    };
    let id = c.id;
    let confirmations = match (Exchange {
        secret: &c.secret,
        role: Role::Listener,
        my_code: &c.code,
        their_code: &c.scanned.code,
        their_ephemeral: &ephemeral,
        session_hash: &conn.handshake_hash(),
    })
    .confirm()
    {
        Ok(x) => x,
        Err(f) => {
            p.meet.report(id, Err(f));
            abort(conn, AbortReason::for_failure(f)).await;
            return Ok(());
        }
    };
    let run = async {
        conn.send(&PeerMessage::Meet(MeetMessage::Answer {
            ephemeral: c.secret.public(),
            confirm: confirmations.mine(),
        }))
        .await?;
        next_meet(&mut conn, "meet confirmation").await
    };
    match run.await {
        Ok(MeetMessage::Confirm { confirm }) => {
            if let Err(f) = confirmations.check(&confirm) {
                p.meet.report(id, Err(f));
                abort(conn, AbortReason::for_failure(f)).await;
                return Ok(());
            }
        }
        Ok(MeetMessage::Abort(r)) => {
            p.meet.report(id, Err(r.failure()));
            conn.close().await;
            return Ok(());
        }
        Ok(_) => {
            p.meet.release(id);
            abort(conn, AbortReason::Cancelled).await;
            return Err(Error::Protocol("unexpected meet message"));
        }
        Err(e) => {
            // Cut or slow: the dialer may try again within the deadline.
            p.meet.release(id);
            return Err(e);
        }
    }
    match store_contact(p, &c.scanned).await {
        Ok(cid) => {
            let _ = conn.send(&PeerMessage::Meet(MeetMessage::Done)).await;
            conn.close().await;
            p.meet.report(id, Ok(cid));
            Ok(())
        }
        Err(e) => {
            p.meet.report(id, Err(MeetFailure::TheyCancelled));
            abort(conn, AbortReason::Cancelled).await;
            Err(e)
        }
    }
}

/// What one attempt of the dialer came to.
enum Attempt {
    Done(ContactId),
    Retry,
    Fail(Error),
}

/// The dialer side: one connection, one exchange.
async fn dial_once(p: &Arc<ProfileInner>, c: &Claim) -> Attempt {
    let Some(transport) = crate::net::transport(p).await else {
        return Attempt::Fail(Error::BadInput(
            "the profile went offline during the meeting".into(),
        ));
    };
    let target = DialTarget {
        address: c.scanned.code.identity.address(),
        tcp: c.scanned.code.tcp,
        // The identity (link) address: the code names no other.
        discovery: None,
    };
    let connected = async {
        let stream = transport.dial(&target).await?;
        crate::conn::initiate(stream, &p.identity, c.scanned.code.identity).await
    };
    let mut conn = match connected.await {
        Ok(conn) => conn,
        Err(e) => {
            trace!("meet dial failed: {e}");
            return Attempt::Retry;
        }
    };
    let offer = PeerMessage::Meet(MeetMessage::Offer {
        ephemeral: c.secret.public(),
    });
    let answer = async {
        conn.send(&offer).await?;
        next_meet(&mut conn, "meet answer").await
    };
    let (ephemeral, confirm) = match answer.await {
        Ok(MeetMessage::Answer { ephemeral, confirm }) => (ephemeral, confirm),
        Ok(MeetMessage::Abort(AbortReason::NotReady)) => {
            conn.close().await;
            return Attempt::Retry;
        }
        Ok(MeetMessage::Abort(r)) => {
            conn.close().await;
            return Attempt::Fail(meet_err(r.failure()));
        }
        Ok(_) => return Attempt::Fail(Error::Protocol("unexpected meet message")),
        Err(e) => {
            trace!("meet answer failed: {e}");
            return Attempt::Retry;
        }
    };
    let checked = (Exchange {
        secret: &c.secret,
        role: Role::Dialer,
        my_code: &c.code,
        their_code: &c.scanned.code,
        their_ephemeral: &ephemeral,
        session_hash: &conn.handshake_hash(),
    })
    .confirm()
    .and_then(|x| x.check(&confirm).map(|()| x));
    let confirmations = match checked {
        Ok(x) => x,
        Err(f) => {
            abort(conn, AbortReason::for_failure(f)).await;
            return Attempt::Fail(meet_err(f));
        }
    };
    let done = async {
        conn.send(&PeerMessage::Meet(MeetMessage::Confirm {
            confirm: confirmations.mine(),
        }))
        .await?;
        next_meet(&mut conn, "meet done").await
    };
    match done.await {
        Ok(MeetMessage::Done) => {
            conn.close().await;
            match store_contact(p, &c.scanned).await {
                Ok(id) => Attempt::Done(id),
                Err(e) => Attempt::Fail(e),
            }
        }
        Ok(MeetMessage::Abort(r)) => {
            conn.close().await;
            Attempt::Fail(meet_err(r.failure()))
        }
        Ok(_) => Attempt::Fail(Error::Protocol("unexpected meet message")),
        Err(e) => {
            debug!("meeting cut after our confirmation: {e}");
            Attempt::Retry
        }
    }
}

/// Add (or update) the contact met: accepted on both sides at once, met in
/// person, verified. A contact we knew already (by link, or a request) keeps
/// its conversation and becomes verified.
async fn store_contact(p: &Arc<ProfileInner>, s: &Scanned) -> Result<ContactId> {
    let address = s.code.identity.to_bytes();
    let alias = s.alias.clone();
    let tcp_hint = s.code.tcp.map(|t| t.to_string());
    let id = p
        .store
        .call(move |st| {
            if let Some(mut c) = st.contact_by_address(&address)? {
                if c.state == ContactState::Blocked {
                    return Ok(Err("you blocked them: unblock them first"));
                }
                if st.contact_by_alias(&alias)?.is_some_and(|o| o.id != c.id) {
                    return Ok(Err("that alias is taken by another contact"));
                }
                c.state = ContactState::Accepted;
                c.origin = ContactOrigin::MetInPerson;
                c.verified = true;
                c.alias = alias;
                if tcp_hint.is_some() {
                    c.tcp_hint = tcp_hint;
                }
                st.update_contact(&c)?;
                return Ok(Ok(c.id));
            }
            if st.contact_by_alias(&alias)?.is_some() {
                return Ok(Err("that alias is taken by another contact"));
            }
            st.add_contact(&NewContact {
                address,
                alias,
                state: ContactState::Accepted,
                origin: ContactOrigin::MetInPerson,
                verified: true,
                tcp_hint,
                their_name: None,
                added_at: Timestamp::now(),
            })
            .map(Ok)
        })
        .await?
        .map_err(|e| Error::BadInput(e.into()))?;
    p.emit(Event::ContactsChanged);
    crate::net::contact_changed(p, id, Some(ContactState::Accepted)).await;
    Ok(id)
}

/// Local checks before a meeting with `code` under `alias`, so that a meeting
/// that could not be stored fails before the exchange, not after.
async fn check_local(p: &Arc<ProfileInner>, code: &MeetCode, alias: &str) -> Result<()> {
    validate_alias(alias)?;
    let address = code.identity.to_bytes();
    let alias = alias.to_owned();
    p.store
        .call(move |st| {
            let existing = st.contact_by_address(&address)?;
            if existing
                .as_ref()
                .is_some_and(|c| c.state == ContactState::Blocked)
            {
                return Ok(Err("you blocked them: unblock them first"));
            }
            let other = st.contact_by_alias(&alias)?;
            if other.is_some_and(|o| existing.as_ref().is_none_or(|c| c.id != o.id)) {
                return Ok(Err("that alias is taken by another contact"));
            }
            Ok(Ok(()))
        })
        .await?
        .map_err(|e| Error::BadInput(e.into()))
}

impl Profile {
    /// Start meeting someone in person: a fresh code to show them (as text
    /// or QR code). Replaces a meeting in progress. Needs the profile online.
    pub async fn meet_start(&self) -> Result<MeetCode> {
        if crate::net::transport(&self.inner).await.is_none() {
            return Err(Error::BadInput(
                "meeting in person needs the profile online (start `kith run`)".into(),
            ));
        }
        let secret = MeetSecret::random(&mut rand::rngs::OsRng);
        let code = secret.code(self.inner.identity.public(), *self.inner.tcp_hint.locked());
        let id = self
            .inner
            .meet
            .next
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self.inner.meet.pending.locked() = Some(Pending {
            id,
            secret: Arc::new(secret),
            code: code.clone(),
            deadline: Instant::now() + MEET_DEADLINE,
            scanned: None,
            busy: false,
            outcome: watch::channel(None).0,
        });
        // Our request address must be reachable while we meet, and no
        // longer once the meeting's deadline has passed.
        crate::reach::changed(&self.inner);
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            tokio::time::sleep(MEET_DEADLINE).await;
            if let Some(p) = weak.upgrade() {
                crate::reach::changed(&p);
            }
        });
        Ok(code)
    }

    /// Cancel the meeting in progress, if any.
    pub fn meet_cancel(&self) {
        *self.inner.meet.pending.locked() = None;
        crate::reach::changed(&self.inner);
    }

    /// Finish the meeting in progress with the code scanned from the other
    /// device (text as shown, or a QR payload): connect, confirm, and add
    /// them as an accepted, verified contact met in person, named `alias`.
    /// Waits at most `limit` (and never past the meeting's deadline).
    /// Any failure ends the meeting and adds nothing.
    pub async fn meet_finish(
        &self,
        code: &str,
        alias: &str,
        limit: Option<Duration>,
    ) -> Result<ContactView> {
        let p = &self.inner;
        let taken = {
            let g = p.meet.pending.locked();
            g.as_ref()
                .map(|x| (x.id, x.deadline, x.outcome.subscribe()))
        };
        let Some((id, deadline, outcome)) = taken else {
            return Err(meet_err(MeetFailure::NoMeeting));
        };
        let result = self
            .meet_run(id, deadline, outcome, code, alias, limit)
            .await;
        p.meet.end(id);
        // Our request address need not stay up for the meeting any more.
        crate::reach::changed(p);
        let cid = result?;
        self.contact(cid).await
    }

    async fn meet_run(
        &self,
        id: u64,
        deadline: Instant,
        mut outcome: watch::Receiver<Outcome>,
        code: &str,
        alias: &str,
        limit: Option<Duration>,
    ) -> Result<ContactId> {
        let p = &self.inner;
        if deadline <= Instant::now() {
            return Err(meet_err(MeetFailure::Expired));
        }
        let theirs = MeetCode::parse(code).map_err(meet_err)?;
        let role =
            kith_core::meet::role(&p.identity.public(), &theirs.identity).map_err(meet_err)?;
        check_local(p, &theirs, alias).await?;
        let deadline = match limit {
            Some(l) => deadline.min(Instant::now() + l),
            None => deadline,
        };
        let scanned = Scanned {
            code: theirs,
            alias: alias.to_owned(),
        };
        let claim = {
            let mut g = p.meet.pending.locked();
            let Some(pending) = g.as_mut().filter(|x| x.id == id) else {
                return Err(meet_err(MeetFailure::Replaced));
            };
            pending.deadline = deadline;
            pending.scanned = Some(scanned.clone());
            Claim {
                id,
                secret: Arc::clone(&pending.secret),
                code: pending.code.clone(),
                scanned,
            }
        };
        let run = async {
            match role {
                Role::Dialer => loop {
                    match dial_once(p, &claim).await {
                        Attempt::Done(cid) => return Ok(cid),
                        Attempt::Fail(e) => return Err(e),
                        Attempt::Retry => {}
                    }
                    if p.meet.pending.locked().as_ref().is_none_or(|x| x.id != id) {
                        return Err(meet_err(MeetFailure::Replaced));
                    }
                    tokio::time::sleep(RETRY).await;
                },
                Role::Listener => loop {
                    if let Some(r) = *outcome.borrow_and_update() {
                        return r.map_err(meet_err);
                    }
                    if outcome.changed().await.is_err() {
                        return Err(meet_err(MeetFailure::Replaced));
                    }
                },
            }
        };
        match tokio::time::timeout_at(deadline, run).await {
            Ok(r) => r,
            Err(_) => Err(meet_err(MeetFailure::Expired)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KdfChoice, Kith, KithConfig, MessageState, Network, Password};

    fn tcp() -> Network {
        Network::Tcp {
            listen: "127.0.0.1:0".parse().expect("addr"),
        }
    }

    async fn profiles(k: &Kith, names: &[&str]) -> Vec<Profile> {
        let mut out = vec![];
        for n in names {
            let p = k
                .create_profile(n, n, Password::new("pw".into()))
                .await
                .expect("profile");
            p.go_online(tcp()).await.expect("online");
            out.push(p);
        }
        out
    }

    fn kith(dir: &std::path::Path) -> Kith {
        Kith::new(KithConfig {
            data_dir: dir.to_path_buf(),
            kdf: KdfChoice::DangerouslyFastForTestingOnly,
        })
    }

    fn failure(r: Result<ContactView>) -> MeetFailure {
        match r {
            Err(Error::Data(kith_core::Error::Meet(f))) => f,
            other => panic!("expected a meet failure, got {other:?}"),
        }
    }

    async fn no_contacts(ps: &[&Profile]) {
        for p in ps {
            assert!(p.contacts().await.expect("contacts").is_empty(), "{p:?}");
        }
    }

    const LIMIT: Option<Duration> = Some(Duration::from_secs(6));

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_scan_and_become_verified_contacts() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let ps = profiles(&k, &["ana", "ben"]).await;
        let (a, b) = (&ps[0], &ps[1]);
        let ca = a.meet_start().await.expect("code");
        let cb = b.meet_start().await.expect("code");
        // Ben scans a little later than Ana: whoever dials retries meanwhile.
        let (ta, tb) = (cb.to_string(), ca.qr_payload());
        let (ra, rb) = tokio::join!(a.meet_finish(&ta, "ben", LIMIT), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            b.meet_finish(&tb, "ana", LIMIT).await
        });
        let (ben, ana) = (ra.expect("ana's side"), rb.expect("ben's side"));
        for (c, other) in [(&ben, b), (&ana, a)] {
            assert_eq!(c.state, ContactState::Accepted);
            assert_eq!(c.origin, ContactOrigin::MetInPerson);
            assert!(c.verified);
            assert_eq!(c.address, other.address());
        }
        assert_eq!(a.contacts().await.expect("list").len(), 1);
        assert_eq!(b.contacts().await.expect("list").len(), 1);
        // The meeting is over on both sides.
        assert_eq!(
            failure(a.meet_finish(&cb.to_string(), "ben", LIMIT).await),
            MeetFailure::NoMeeting
        );
        // And they can talk.
        let m = a.send(ben.id, "hello from the café").await.expect("send");
        for _ in 0..200 {
            let ms = a.messages(ben.id).await.expect("messages");
            if ms
                .iter()
                .any(|x| x.id == m.id && x.state == MessageState::Delivered)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("not delivered");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_old_code_fails_on_both_sides_and_adds_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let ps = profiles(&k, &["ana", "ben"]).await;
        let (a, b) = (&ps[0], &ps[1]);
        let old = a.meet_start().await.expect("code");
        let _fresh = a.meet_start().await.expect("code");
        let cb = b.meet_start().await.expect("code");
        let (ta, tb) = (cb.to_string(), old.to_string());
        let (ra, rb) = tokio::join!(
            a.meet_finish(&ta, "ben", LIMIT),
            b.meet_finish(&tb, "ana", LIMIT)
        );
        assert_eq!(failure(rb), MeetFailure::CommitmentMismatch);
        assert_eq!(failure(ra), MeetFailure::TheyRejected);
        no_contacts(&[a, b]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_third_persons_code_or_a_bad_code_adds_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let ps = profiles(&k, &["ana", "ben", "cat"]).await;
        let (a, b, c) = (&ps[0], &ps[1], &ps[2]);
        let ca = a.meet_start().await.expect("code");
        let _cb = b.meet_start().await.expect("code");
        let cc = c.meet_start().await.expect("code");
        // Ana scans Cat's code instead of Ben's; Cat scans nothing.
        let (ta, tb) = (cc.to_string(), ca.to_string());
        let (ra, rb) = tokio::join!(
            a.meet_finish(&ta, "ben", LIMIT),
            b.meet_finish(&tb, "ana", LIMIT)
        );
        let fa = failure(ra);
        assert!(
            matches!(fa, MeetFailure::NotExpected | MeetFailure::Expired),
            "{fa:?}"
        );
        let fb = failure(rb);
        assert!(
            matches!(fb, MeetFailure::NotExpected | MeetFailure::Expired),
            "{fb:?}"
        );
        c.meet_cancel();
        no_contacts(&[a, b, c]).await;

        // Codes that do not parse end the meeting at once.
        a.meet_start().await.expect("code");
        let mut damaged = cc.to_string().into_bytes();
        let i = damaged.len() - 3;
        damaged[i] = if damaged[i] == b'a' { b'b' } else { b'a' };
        let damaged = String::from_utf8(damaged).expect("ascii");
        assert_eq!(
            failure(a.meet_finish(&damaged, "cat", LIMIT).await),
            MeetFailure::Damaged
        );
        a.meet_start().await.expect("code");
        assert_eq!(
            failure(a.meet_finish(&ca.to_string(), "me", LIMIT).await),
            MeetFailure::OwnCode
        );
        assert_eq!(
            failure(a.meet_finish(&cc.to_string(), "cat", LIMIT).await),
            MeetFailure::NoMeeting
        );
        no_contacts(&[a, b, c]).await;
    }
}
