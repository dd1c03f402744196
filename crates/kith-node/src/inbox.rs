//! The inbox: a public address for anonymous messages (`docs/protocol.md`
//! § 11).
//!
//! - The inbox address is the onion service of a random ed25519 key of its
//!   own, made when the inbox is first switched on, stored sealed under a
//!   reserved settings key. It is never derived from the identity, so it
//!   does not reveal (or let anyone compute) the profile's address.
//!   Rotating makes a fresh key: the old address stops working at once.
//!   Off by default; while off, nothing listens.
//! - Whatever arrives on the inbox listener is routed here by the listener
//!   that accepted it, never to the contact code: no contact, no request,
//!   no conversation. One exchange per connection: the dropper (a one-time
//!   identity made for that one message) sends one
//!   [`InboxMessage::Drop`], we store it and answer, the connection ends.
//! - Caps: [`MAX_DROP_BODY`] per drop, [`MAX_INBOX_DROPS`] kept (when full,
//!   new drops are refused and the dropper is told; nothing the user has is
//!   pushed out), [`DROP_BURST`] drops accepted at once and then one per
//!   [`DROP_REFILL`]. The unauthenticated pool and the handshake deadlines
//!   of `admission` apply as to every other listener.
//! - Blocking works on reply addresses only: a dropper who left none is
//!   anonymous, and a blocked one can drop again without one (or with
//!   another); blocking is a filter, not a guarantee.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kith_core::inbox::{DropAnswer, InboxMessage, ReplyKind, ReplyTo};
use kith_core::limits::{MAX_DROP_BODY, MAX_INBOX_DROPS};
use kith_core::{ContactLink, IdentityKeypair, InboxLink, MessageId, OnionAddress, Timestamp};
use kith_transport::{BoxStream, DialTarget, ServiceSpec, Transport};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{debug, trace};
use zeroize::Zeroize;

use crate::admission::{HANDSHAKE_DEADLINE, Slot, TokenBucket};
use crate::error::{Error, Result};
use crate::model::{ContactView, Event};
use crate::profile::{LockExt, Profile, ProfileInner};
use crate::reach::{self, Plan};

/// Settings key of the inbox's [`Config`] (its key, whether it is on).
const CONFIG_KEY: &str = "inbox";
/// Settings key of the stored drops.
const DROPS_KEY: &str = "inbox-drops";
/// Settings key of the ids of the drops the user has seen (only ids of
/// drops still kept: at most [`MAX_INBOX_DROPS`]).
const SEEN_KEY: &str = "inbox-seen";
/// Drops accepted in a burst.
pub(crate) const DROP_BURST: u32 = 20;
/// One more drop is accepted this often after a burst.
pub(crate) const DROP_REFILL: Duration = Duration::from_secs(30);
/// How long a dropper waits for the inbox's answer after sending.
const ANSWER_DEADLINE: Duration = Duration::from_secs(60);

/// Why a drop did not land: what the dropper is told.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropRefused {
    /// Nothing answered at the inbox address, or something else did.
    #[error(
        "the inbox did not answer: it is switched off, or its address was rotated (then this link no longer works)"
    )]
    Unreachable,
    /// The inbox keeps as many messages as it may.
    #[error("the inbox is full: it takes no more messages until its owner clears some")]
    Full,
    /// Too many drops lately.
    #[error("the inbox takes no more messages right now (too many lately): try again later")]
    Busy,
}

/// What the inbox keeps about itself, sealed under [`CONFIG_KEY`].
#[derive(Default, Serialize, Deserialize)]
struct Config {
    /// Whether the inbox listens.
    on: bool,
    /// The seed of the inbox key (random, never derived from the identity).
    seed: Option<[u8; 32]>,
    /// Bumped at each rotation: the arti nickname of the service carries
    /// it (one nickname, one key).
    generation: u32,
    /// Blocked reply addresses.
    blocked: Vec<[u8; 32]>,
}

impl Drop for Config {
    fn drop(&mut self) {
        self.seed.zeroize();
    }
}

impl Config {
    fn keypair(&self) -> Option<IdentityKeypair> {
        self.seed.as_ref().map(IdentityKeypair::from_seed)
    }

    fn fresh_key(&mut self) {
        let mut seed = [0_u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        self.seed = Some(seed);
        seed.zeroize();
        self.generation = self.generation.wrapping_add(1);
    }
}

/// One stored drop.
#[derive(Clone, Serialize, Deserialize)]
struct StoredDrop {
    id: MessageId,
    received_at: Timestamp,
    body: String,
    reply: Option<ReplyTo>,
}

/// A message dropped into the inbox, as front ends show it.
#[derive(Clone, PartialEq, Eq)]
pub struct InboxDrop {
    /// Its id (local: chosen on receipt).
    pub id: MessageId,
    /// When it arrived (our clock).
    pub received_at: Timestamp,
    /// The text, as sent (front ends escape what they cannot show).
    pub body: String,
    /// Where the dropper may be answered, if they left an address.
    pub reply: Option<ReplyAddress>,
    /// Whether the user has seen it ([`Profile::inbox_mark_seen`]).
    pub seen: bool,
}

impl std::fmt::Debug for InboxDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InboxDrop({:?}, {} bytes)", self.id, self.body.len())
    }
}

/// An address a dropper left.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ReplyAddress {
    /// Their inbox: [`Profile::inbox_reply`] drops an answer there.
    Inbox(InboxLink),
    /// Their contact link: [`Profile::inbox_to_request`] asks them to
    /// become a contact (which shows them who we are).
    Contact(ContactLink),
}

impl ReplyAddress {
    fn of(r: &ReplyTo) -> Option<Self> {
        let address = OnionAddress::from_key(kith_core::IdentityKey::from_bytes(&r.key).ok()?);
        Some(match r.kind {
            ReplyKind::Inbox => ReplyAddress::Inbox(InboxLink {
                address,
                tcp: r.tcp,
            }),
            ReplyKind::Contact => ReplyAddress::Contact(ContactLink {
                address,
                tcp: r.tcp,
            }),
        })
    }
}

/// Which of our own addresses to leave with a drop, for an answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum LeaveReply {
    /// None: the drop is anonymous and cannot be answered.
    #[default]
    Nothing,
    /// Our inbox's link (the inbox must be on).
    Inbox,
    /// Our contact link: the owner may send us a contact request. This
    /// tells them who we are.
    Contact,
}

/// The runtime side of a profile's inbox.
pub(crate) struct InboxState {
    /// Where the inbox listens on TCP, when it does: goes into its link.
    tcp: Mutex<Option<SocketAddr>>,
    /// Drops accepted lately.
    rate: Mutex<TokenBucket>,
}

impl Default for InboxState {
    fn default() -> Self {
        InboxState {
            tcp: Mutex::new(None),
            rate: Mutex::new(TokenBucket::new(DROP_BURST, DROP_REFILL, Instant::now())),
        }
    }
}

async fn config(p: &Arc<ProfileInner>) -> Result<Config> {
    let v = p.store.call(|s| s.setting(CONFIG_KEY)).await?;
    match v {
        None => Ok(Config::default()),
        Some(mut b) => {
            let c = kith_core::wire::decode_exact("inbox setting", &b)
                .map_err(|_| Error::Store(kith_store::Error::corrupt("inbox setting")));
            b.zeroize();
            c
        }
    }
}

async fn set_config(p: &Arc<ProfileInner>, c: &Config) -> Result<()> {
    let mut bytes = postcard::to_stdvec(c).map_err(|_| Error::Bug("inbox encode"))?;
    let r = p
        .store
        .call({
            let bytes = bytes.clone();
            move |s| {
                let mut bytes = bytes;
                let r = s.set_setting(CONFIG_KEY, &bytes);
                bytes.zeroize();
                r
            }
        })
        .await;
    bytes.zeroize();
    r?;
    reach::changed(p);
    Ok(())
}

/// A list kept under a settings key (empty when there is none yet).
fn read_list<T: serde::de::DeserializeOwned>(
    s: &kith_store::Store,
    key: &str,
    what: &'static str,
) -> kith_store::Result<Vec<T>> {
    match s.setting(key)? {
        None => Ok(vec![]),
        Some(b) => {
            kith_core::wire::decode_exact(what, &b).map_err(|_| kith_store::Error::corrupt(what))
        }
    }
}

fn write_list<T: Serialize>(
    s: &mut kith_store::Store,
    key: &str,
    what: &'static str,
    list: &[T],
) -> kith_store::Result<()> {
    let bytes = postcard::to_stdvec(list).map_err(|_| kith_store::Error::corrupt(what))?;
    s.set_setting(key, &bytes)
}

fn read_drops(s: &kith_store::Store) -> kith_store::Result<Vec<StoredDrop>> {
    read_list(s, DROPS_KEY, "inbox drops")
}

fn write_drops(s: &mut kith_store::Store, drops: &[StoredDrop]) -> kith_store::Result<()> {
    write_list(s, DROPS_KEY, "inbox drops", drops)?;
    // Seen marks of drops no longer kept go with them.
    let seen = read_seen(s)?;
    if seen.iter().any(|id| !drops.iter().any(|d| d.id == *id)) {
        let kept: Vec<MessageId> = seen
            .into_iter()
            .filter(|id| drops.iter().any(|d| d.id == *id))
            .collect();
        write_seen(s, &kept)?;
    }
    Ok(())
}

fn read_seen(s: &kith_store::Store) -> kith_store::Result<Vec<MessageId>> {
    read_list(s, SEEN_KEY, "inbox seen marks")
}

fn write_seen(s: &mut kith_store::Store, seen: &[MessageId]) -> kith_store::Result<()> {
    write_list(s, SEEN_KEY, "inbox seen marks", seen)
}

/// The inbox service's arti nickname: its own per key (arti keeps one key
/// per nickname), never derived from the address.
fn nickname(base: &str, generation: u32) -> String {
    format!("{}{generation}", reach::Address::Inbox.nickname(base))
}

/// What the inbox listener should run now (the same over TCP and Tor).
pub(crate) async fn plan(p: &Arc<ProfileInner>, base: &str) -> Result<Plan> {
    let c = config(p).await?;
    let spec = match c.keypair() {
        Some(identity) if c.on => Some(ServiceSpec {
            identity,
            nickname: nickname(base, c.generation),
            discovery: None,
        }),
        _ => None,
    };
    Ok(Plan {
        spec,
        recheck_in: None,
    })
}

/// The inbox listener runs at `tcp` (or stopped: `None`).
pub(crate) fn listening(p: &ProfileInner, tcp: Option<SocketAddr>) {
    *p.inbox.tcp.locked() = tcp;
    p.emit(Event::InboxChanged);
}

/// Someone dialed our inbox address. They authenticate as whatever one-time
/// identity they made; we learn nothing else, store their drop (within the
/// caps) and answer.
pub(crate) async fn incoming(
    p: &Arc<ProfileInner>,
    stream: BoxStream,
    mut slot: Slot,
) -> Result<()> {
    let Some(key) = config(p).await?.keypair() else {
        return Ok(());
    };
    let exchange = async {
        let mut conn = crate::conn::respond(stream, &key, HANDSHAKE_DEADLINE).await?;
        drop(key);
        let bytes = tokio::time::timeout(HANDSHAKE_DEADLINE, conn.recv_bytes())
            .await
            .map_err(|_| Error::Timeout("the drop"))??;
        let Some(bytes) = bytes else { return Ok(()) };
        let InboxMessage::Drop { body, reply } = kith_core::inbox::decode(&bytes)? else {
            return Err(Error::Protocol("expected a drop"));
        };
        let answer = receive(p, body, reply).await?;
        conn.send_bytes(&kith_core::inbox::encode(&InboxMessage::Answer(answer))?)
            .await?;
        conn.close().await;
        Ok(())
    };
    tokio::select! {
        r = exchange => r,
        _ = &mut slot.evicted => {
            trace!("unauthenticated inbox connection evicted by a newer one");
            Ok(())
        }
    }
}

/// Store a drop, within the caps; say what became of it.
async fn receive(
    p: &Arc<ProfileInner>,
    body: String,
    reply: Option<ReplyTo>,
) -> Result<DropAnswer> {
    let c = config(p).await?;
    if let Some(r) = &reply
        && c.blocked.contains(&r.key)
    {
        // A blocked sender is told what everyone is told.
        trace!("drop from a blocked reply address discarded");
        return Ok(DropAnswer::Stored);
    }
    drop(c);
    if !p.inbox.rate.locked().take(Instant::now()) {
        trace!("drop refused over the rate limit");
        return Ok(DropAnswer::Busy);
    }
    let id = MessageId::random(&mut rand::rngs::OsRng);
    let d = StoredDrop {
        id,
        received_at: Timestamp::now(),
        body,
        reply,
    };
    let stored = p
        .store
        .call(move |s| {
            let mut drops = read_drops(s)?;
            if drops.len() >= MAX_INBOX_DROPS {
                return Ok(false);
            }
            drops.push(d);
            write_drops(s, &drops)?;
            Ok(true)
        })
        .await?;
    if !stored {
        trace!("drop refused: the inbox is full");
        return Ok(DropAnswer::Full);
    }
    p.emit(Event::InboxDrop(id));
    Ok(DropAnswer::Stored)
}

/// Dial `link` as a one-time identity and drop `body` there.
pub(crate) async fn send_drop(
    transport: &dyn Transport,
    link: &InboxLink,
    body: &str,
    reply: Option<ReplyTo>,
) -> Result<()> {
    // Size and content are checked before anything goes out.
    let bytes = kith_core::inbox::encode(&InboxMessage::Drop {
        body: body.to_owned(),
        reply,
    })?;
    let once = IdentityKeypair::generate(&mut rand::rngs::OsRng);
    let target = DialTarget {
        address: link.address,
        tcp: link.tcp,
        discovery: None,
    };
    let stream = transport.dial(&target).await.map_err(|e| {
        debug!("dialing an inbox failed: {e}");
        DropRefused::Unreachable
    })?;
    let mut conn = crate::conn::initiate(stream, &once, link.address.key())
        .await
        .map_err(|e| {
            debug!("inbox handshake failed: {e}");
            DropRefused::Unreachable
        })?;
    conn.send_bytes(&bytes).await?;
    let answer = tokio::time::timeout(ANSWER_DEADLINE, conn.recv_bytes())
        .await
        .map_err(|_| Error::Timeout("the inbox's answer"))??
        .ok_or(DropRefused::Unreachable)?;
    conn.close().await;
    match kith_core::inbox::decode(&answer)? {
        InboxMessage::Answer(DropAnswer::Stored) => Ok(()),
        InboxMessage::Answer(DropAnswer::Full) => Err(DropRefused::Full.into()),
        InboxMessage::Answer(DropAnswer::Busy) => Err(DropRefused::Busy.into()),
        InboxMessage::Drop { .. } => Err(Error::Protocol("expected the inbox's answer")),
    }
}

/// Whether the inbox is on, and its link while it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxStatus {
    /// Whether the inbox takes drops.
    pub on: bool,
    /// Its link, while on (with a TCP hint while listening over TCP).
    pub link: Option<InboxLink>,
    /// Drops kept now.
    pub count: usize,
    /// Of those, the ones the user has not seen.
    pub unseen: usize,
}

impl Profile {
    /// Switch the inbox on (making its key the first time) or off.
    pub async fn set_inbox(&self, on: bool) -> Result<()> {
        self.check_unlocked()?;
        let mut c = config(&self.inner).await?;
        if on && c.seed.is_none() {
            c.fresh_key();
        }
        c.on = on;
        set_config(&self.inner, &c).await?;
        self.inner.emit(Event::InboxChanged);
        Ok(())
    }

    /// A fresh inbox key: the old address stops working at once (a dropper
    /// holding it gets [`DropRefused::Unreachable`]). Kept drops stay.
    pub async fn rotate_inbox(&self) -> Result<()> {
        self.check_unlocked()?;
        let mut c = config(&self.inner).await?;
        c.fresh_key();
        // The old listener's TCP address is the old link's.
        *self.inner.inbox.tcp.locked() = None;
        set_config(&self.inner, &c).await?;
        self.inner.emit(Event::InboxChanged);
        Ok(())
    }

    /// Whether the inbox is on, its link, how many drops it keeps.
    pub async fn inbox_status(&self) -> Result<InboxStatus> {
        self.check_unlocked()?;
        let c = config(&self.inner).await?;
        let (count, unseen) = self
            .inner
            .store
            .call(|s| {
                let (drops, seen) = (read_drops(s)?, read_seen(s)?);
                let unseen = drops.iter().filter(|d| !seen.contains(&d.id)).count();
                Ok((drops.len(), unseen))
            })
            .await?;
        let link = match c.keypair() {
            Some(k) if c.on => Some(InboxLink {
                address: k.address(),
                // A listener of an earlier session is no hint.
                tcp: self
                    .inner
                    .network_kind
                    .locked()
                    .and(*self.inner.inbox.tcp.locked()),
            }),
            _ => None,
        };
        Ok(InboxStatus {
            on: c.on,
            link,
            count,
            unseen,
        })
    }

    /// Mark every drop kept now as seen (a front end showing the inbox; the
    /// CLI listing it).
    pub async fn inbox_mark_seen(&self) -> Result<()> {
        self.check_unlocked()?;
        let changed = self
            .inner
            .store
            .call(|s| {
                let (drops, seen) = (read_drops(s)?, read_seen(s)?);
                if drops.iter().all(|d| seen.contains(&d.id)) && seen.len() == drops.len() {
                    return Ok(false);
                }
                let all: Vec<MessageId> = drops.iter().map(|d| d.id).collect();
                write_seen(s, &all)?;
                Ok(true)
            })
            .await?;
        if changed {
            self.inner.emit(Event::InboxChanged);
        }
        Ok(())
    }

    /// The drops in the inbox, oldest first.
    pub async fn inbox(&self) -> Result<Vec<InboxDrop>> {
        self.check_unlocked()?;
        let (drops, seen) = self
            .inner
            .store
            .call(|s| Ok((read_drops(s)?, read_seen(s)?)))
            .await?;
        Ok(drops
            .iter()
            .map(|d| InboxDrop {
                id: d.id,
                received_at: d.received_at,
                body: d.body.clone(),
                reply: d.reply.as_ref().and_then(ReplyAddress::of),
                seen: seen.contains(&d.id),
            })
            .collect())
    }

    async fn inbox_drop(&self, id: MessageId) -> Result<StoredDrop> {
        self.check_unlocked()?;
        self.inner
            .store
            .call(|s| read_drops(s))
            .await?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| Error::NotFound("inbox message".into()))
    }

    /// Delete one drop.
    pub async fn inbox_delete(&self, id: MessageId) -> Result<()> {
        self.inbox_drop(id).await?;
        self.inner
            .store
            .call(move |s| {
                let mut drops = read_drops(s)?;
                drops.retain(|d| d.id != id);
                write_drops(s, &drops)
            })
            .await?;
        Ok(())
    }

    /// Block the reply address a drop left: later drops leaving it are
    /// discarded (their sender is told they were stored), and the drops
    /// kept from it are deleted. A drop without a reply address cannot be
    /// blocked: its sender is anonymous.
    pub async fn inbox_block(&self, id: MessageId) -> Result<()> {
        let d = self.inbox_drop(id).await?;
        let Some(r) = d.reply else {
            return Err(Error::BadInput(
                "that message left no reply address: its sender is anonymous and cannot be blocked"
                    .into(),
            ));
        };
        let mut c = config(&self.inner).await?;
        if !c.blocked.contains(&r.key) {
            c.blocked.push(r.key);
        }
        set_config(&self.inner, &c).await?;
        self.inner
            .store
            .call(move |s| {
                let mut drops = read_drops(s)?;
                drops.retain(|d| d.reply.is_none_or(|x| x.key != r.key));
                write_drops(s, &drops)
            })
            .await?;
        Ok(())
    }

    /// Answer a drop whose sender left their inbox: a drop there, from a
    /// one-time identity, leaving `leave` of ours. Needs the node online.
    pub async fn inbox_reply(&self, id: MessageId, text: &str, leave: LeaveReply) -> Result<()> {
        let d = self.inbox_drop(id).await?;
        match d.reply.as_ref().and_then(ReplyAddress::of) {
            Some(ReplyAddress::Inbox(link)) => self.drop_message(&link, text, leave).await,
            Some(ReplyAddress::Contact(_)) => Err(Error::BadInput(
                "that sender left a contact link, not an inbox: send them a contact request instead"
                    .into(),
            )),
            None => Err(Error::BadInput(
                "that message left no reply address: it cannot be answered".into(),
            )),
        }
    }

    /// Send a contact request to a dropper who left their contact link
    /// (this shows them our identity, as any request does).
    pub async fn inbox_to_request(&self, id: MessageId, alias: &str) -> Result<ContactView> {
        let d = self.inbox_drop(id).await?;
        match d.reply.as_ref().and_then(ReplyAddress::of) {
            Some(ReplyAddress::Contact(link)) => self.add_contact(&link, alias).await,
            Some(ReplyAddress::Inbox(_)) => Err(Error::BadInput(
                "that sender left an inbox, not a contact link: answer with a drop instead".into(),
            )),
            None => Err(Error::BadInput(
                "that message left no reply address: its sender cannot be asked".into(),
            )),
        }
    }

    /// Drop `text` into someone's inbox, as a one-time identity, through
    /// this profile's network (it must be online); `leave` says which of
    /// our addresses, if any, goes with it for an answer.
    pub async fn drop_message(
        &self,
        link: &InboxLink,
        text: &str,
        leave: LeaveReply,
    ) -> Result<()> {
        self.check_unlocked()?;
        let reply = match leave {
            LeaveReply::Nothing => None,
            LeaveReply::Inbox => {
                let link = self.inbox_status().await?.link.ok_or_else(|| {
                    Error::BadInput(
                        "your inbox is off: switch it on to leave it for a reply".into(),
                    )
                })?;
                Some(ReplyTo {
                    kind: ReplyKind::Inbox,
                    key: link.address.to_bytes(),
                    tcp: link.tcp,
                })
            }
            LeaveReply::Contact => {
                let link = self.link();
                Some(ReplyTo {
                    kind: ReplyKind::Contact,
                    key: link.address.to_bytes(),
                    tcp: link.tcp,
                })
            }
        };
        let transport = crate::net::transport(&self.inner)
            .await
            .ok_or_else(|| Error::BadInput("the node is offline: run it first".into()))?;
        send_drop(transport.as_ref(), link, text, reply).await
    }
}

/// Drop without any profile: over the network `net` (a dial-only TCP
/// transport, or the Tor client for that network).
pub(crate) async fn drop_anonymously(
    kith: &crate::kith::KithInner,
    net: &crate::model::Network,
    link: &InboxLink,
    text: &str,
) -> Result<()> {
    // Refused before any network is started.
    if text.len() > MAX_DROP_BODY {
        return Err(Error::Data(kith_core::Error::TooLarge {
            object: "inbox message",
            len: text.len(),
            max: MAX_DROP_BODY,
        }));
    }
    match net {
        crate::model::Network::Tcp { .. } => {
            let t = kith_transport::TcpTransport::new(None);
            send_drop(&t, link, text, None).await
        }
        crate::model::Network::Tor {
            extra_toml,
            bridges,
        } => {
            let t = kith.tor(extra_toml.clone(), bridges).await?.transport();
            send_drop(&t, link, text, None).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KdfChoice, Kith, KithConfig, Network, Password};

    fn kith(dir: &std::path::Path) -> Kith {
        Kith::new(KithConfig {
            data_dir: dir.to_path_buf(),
            kdf: KdfChoice::DangerouslyFastForTestingOnly,
        })
    }

    fn tcp() -> Network {
        Network::Tcp {
            listen: "127.0.0.1:0".parse().expect("addr"),
        }
    }

    async fn online(k: &Kith, name: &str) -> Profile {
        let p = k
            .create_profile(name, name, Password::new("pw".into()))
            .await
            .expect("profile");
        p.go_online(tcp()).await.expect("online");
        p
    }

    /// The inbox's link once its listener runs.
    async fn link(p: &Profile) -> InboxLink {
        for _ in 0..200 {
            if let Some(l) = p.inbox_status().await.expect("status").link
                && l.tcp.is_some()
            {
                return l;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the inbox never listened");
    }

    fn refused(r: Result<()>) -> DropRefused {
        match r {
            Err(Error::Drop(d)) => d,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn seen_marks_survive_a_relock_and_go_with_their_drops() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let a = online(&k, "alice").await;
        a.set_inbox(true).await.expect("on");
        let l = link(&a).await;
        for text in ["one", "two"] {
            k.drop_message(&tcp(), &l, text).await.expect("drop");
        }
        let st = a.inbox_status().await.expect("status");
        assert_eq!((st.count, st.unseen), (2, 2));
        assert!(a.inbox().await.expect("inbox").iter().all(|d| !d.seen));
        let mut events = a.subscribe();
        a.inbox_mark_seen().await.expect("seen");
        assert!(matches!(
            tokio::time::timeout(Duration::from_secs(5), events.recv()).await,
            Ok(Ok(Event::InboxChanged))
        ));
        k.drop_message(&tcp(), &l, "three").await.expect("drop");
        let drops = a.inbox().await.expect("inbox");
        let seen: Vec<bool> = drops.iter().map(|d| d.seen).collect();
        assert_eq!(seen, [true, true, false]);
        // Kept in the store: the same after locking and unlocking.
        a.go_offline().await;
        k.lock("alice").await;
        let a = k
            .unlock("alice", Password::new("pw".into()))
            .await
            .expect("unlock");
        let st = a.inbox_status().await.expect("status");
        assert_eq!((st.count, st.unseen), (3, 1));
        // A deleted drop takes its mark with it; a repeat marks nothing.
        a.inbox_delete(drops[0].id).await.expect("delete");
        a.inbox_mark_seen().await.expect("seen");
        let st = a.inbox_status().await.expect("status");
        assert_eq!((st.count, st.unseen), (2, 0));
        let mut events = a.subscribe();
        a.inbox_mark_seen().await.expect("seen again");
        assert!(
            tokio::time::timeout(Duration::from_millis(300), events.recv())
                .await
                .is_err(),
            "nothing changed, nothing said"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn drops_land_in_the_inbox_only() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let a = online(&k, "alice").await;
        let b = online(&k, "bob").await;
        // Off by default: no link, nothing listens.
        assert_eq!(a.inbox_status().await.expect("status").link, None);
        a.set_inbox(true).await.expect("on");
        let l = link(&a).await;
        // Its own key: not the profile's address.
        assert_ne!(l.address, a.address());
        assert_ne!(l.tcp, a.link().tcp);

        let mut events = a.subscribe();
        // From bob's node, leaving bob's inbox for an answer.
        b.set_inbox(true).await.expect("bob on");
        let bl = link(&b).await;
        b.drop_message(&l, "hello from bob", LeaveReply::Inbox)
            .await
            .expect("drop");
        let id = loop {
            match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
                Ok(Ok(Event::InboxDrop(id))) => break id,
                Ok(Ok(_)) => {}
                other => panic!("no drop event: {other:?}"),
            }
        };
        // Without any profile.
        k.drop_message(&tcp(), &l, "anonymous").await.expect("drop");
        let drops = a.inbox().await.expect("inbox");
        assert_eq!(drops.len(), 2);
        assert_eq!(drops[0].id, id);
        assert_eq!(drops[0].body, "hello from bob");
        assert_eq!(drops[0].reply, Some(ReplyAddress::Inbox(bl.clone())));
        assert_eq!(drops[1].reply, None);
        // No contact, no request, no conversation.
        assert!(a.contacts().await.expect("contacts").is_empty());
        assert!(b.contacts().await.expect("contacts").is_empty());

        // An answer goes to bob's inbox.
        a.inbox_reply(id, "hi bob", LeaveReply::Nothing)
            .await
            .expect("reply");
        let bd = b.inbox().await.expect("bob's inbox");
        assert_eq!(bd.len(), 1);
        assert_eq!(bd[0].body, "hi bob");
        // An anonymous drop cannot be answered, blocked or asked.
        let anon = drops[1].id;
        assert!(a.inbox_reply(anon, "x", LeaveReply::Nothing).await.is_err());
        assert!(a.inbox_block(anon).await.is_err());
        assert!(a.inbox_to_request(anon, "x").await.is_err());
        // Nor can an inbox address become a contact request.
        assert!(a.inbox_to_request(id, "bob").await.is_err());

        // Blocking bob's reply address: his drop is gone, and later ones
        // that leave it are discarded (he is told they were stored).
        a.inbox_block(id).await.expect("block");
        b.drop_message(&l, "again", LeaveReply::Inbox)
            .await
            .expect("told stored");
        let left: Vec<_> = a
            .inbox()
            .await
            .expect("inbox")
            .into_iter()
            .map(|d| d.body)
            .collect();
        assert_eq!(left, ["anonymous"]);

        // A contact link left with a drop can become a request.
        b.drop_message(&l, "add me", LeaveReply::Contact)
            .await
            .expect("drop");
        let d = a.inbox().await.expect("inbox").pop().expect("drop");
        assert_eq!(d.reply, Some(ReplyAddress::Contact(b.link())));
        let c = a.inbox_to_request(d.id, "bob").await.expect("request");
        assert_eq!(c.address, b.address());

        // Too long: refused before dialing, with the limit.
        let long = "a".repeat(MAX_DROP_BODY + 1);
        let e = k.drop_message(&tcp(), &l, &long).await.unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
        let e = b
            .drop_message(&l, &long, LeaveReply::Nothing)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("at most 4096"), "{e}");

        // Rotated: the old link fails at once; the new one works.
        a.rotate_inbox().await.expect("rotate");
        let l2 = link(&a).await;
        assert_ne!(l2.address, l.address);
        assert_eq!(
            refused(k.drop_message(&tcp(), &l, "old").await),
            DropRefused::Unreachable
        );
        k.drop_message(&tcp(), &l2, "new").await.expect("new link");
        // The old key dialed at the new port fails too.
        let stale = InboxLink {
            address: l.address,
            tcp: l2.tcp,
        };
        assert_eq!(
            refused(k.drop_message(&tcp(), &stale, "old").await),
            DropRefused::Unreachable
        );

        // Off: nothing answers.
        a.set_inbox(false).await.expect("off");
        assert_eq!(a.inbox_status().await.expect("status").link, None);
        for _ in 0..100 {
            if a.inner.inbox.tcp.locked().is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            refused(k.drop_message(&tcp(), &l2, "off").await),
            DropRefused::Unreachable
        );
        k.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn floods_are_capped() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let a = online(&k, "alice").await;
        a.set_inbox(true).await.expect("on");
        let l = link(&a).await;
        // The rate limit: a burst, then "busy".
        let mut busy = 0;
        for i in 0..DROP_BURST + 5 {
            match k.drop_message(&tcp(), &l, &format!("flood {i}")).await {
                Ok(()) => {}
                Err(Error::Drop(DropRefused::Busy)) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(busy, 5);
        assert_eq!(a.inbox().await.expect("inbox").len(), DROP_BURST as usize);
        // The cap on what is kept: new drops are refused, old ones stay.
        *a.inner.inbox.rate.locked() = TokenBucket::new(1000, DROP_REFILL, Instant::now());
        let mut full = 0;
        for i in 0..MAX_INBOX_DROPS {
            match receive(&a.inner, format!("more {i}"), None)
                .await
                .expect("receive")
            {
                DropAnswer::Stored => {}
                DropAnswer::Full => full += 1,
                DropAnswer::Busy => panic!("busy"),
            }
        }
        assert_eq!(full, DROP_BURST as usize);
        assert_eq!(
            refused(k.drop_message(&tcp(), &l, "one more").await),
            DropRefused::Full
        );
        let kept = a.inbox().await.expect("inbox");
        assert_eq!(kept.len(), MAX_INBOX_DROPS);
        assert_eq!(kept[0].body, "flood 0");
        // Deleting makes room.
        a.inbox_delete(kept[0].id).await.expect("delete");
        k.drop_message(&tcp(), &l, "room").await.expect("drop");
        k.shutdown().await;
    }
}
