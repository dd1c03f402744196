//! Feeds (issue 11 § 3): RSS and Atom subscriptions, fetched only over Tor.
//!
//! One home for feeds in the node: subscriptions, the schedule, fetching
//! on demand, new-item detection, read/unread and each feed's last error.
//!
//! - **Only over Tor.** A fetch goes through the profile's
//!   [`kith_transport::TorTransport::fetch_feed`] (an arti data stream per
//!   hop, its own circuit isolation per fetch, no local DNS): a profile
//!   offline or on the TCP test/LAN network fetches nothing and says so.
//!   The unit tests replace the fetch by a function of theirs (cfg(test)
//!   only; for front ends' UI tests, the `dangerous-test-feeds` feature),
//!   never by a direct connection.
//! - **Stored sealed.** The subscription list is one sealed setting
//!   ([`LIST_KEY`]), each feed's kept items another (`feed-items/<id>`).
//!   Bounded: at most [`MAX_FEEDS`] subscriptions, [`MAX_KEPT_ITEMS`] items
//!   kept per feed within [`MAX_ITEMS_BYTES`] (oldest dropped first), every
//!   item within `kith_core::feed`'s limits (title, link, summary), and
//!   [`MAX_SEEN`] remembered item ids per feed.
//! - **Schedule.** While the profile is online over Tor, one task fetches
//!   each feed every [`FETCH_EVERY`] plus a random jitter of up to
//!   [`FETCH_JITTER`] (so fetches do not fall on the hour, nor all feeds at
//!   once); a new subscription is first fetched within [`FIRST_FETCH`],
//!   and so are, at random, the feeds that fell due while offline.
//!   With no subscription the task waits and fetches nothing.
//! - **New items** are those whose id (RSS `guid`, Atom `id`, or a hash of
//!   what the item shows: see [`kith_core::feed::FeedItem::id`]) was not
//!   seen in this feed before. They are numbered per feed (1, 2, …) in the
//!   order they were first seen, start unread, and their times are
//!   clamped ([`Timestamp::clamp_peer`]).
//! - **Errors stay with their feed.** A fetch or parse failure (too large,
//!   timeout, bad XML, a refused redirect, an HTTP status…) becomes that
//!   feed's [`FeedError`], kept and shown until a fetch succeeds; no other
//!   feed, and nothing else in the node, is affected. Parsing runs in
//!   `spawn_blocking`.
//! - A permanent redirect (301/308 throughout) moves the subscription to
//!   the new URL.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::StreamExt as _;
use kith_core::Timestamp;
use kith_core::feed::{Feed, FeedItem};
use kith_core::limits::MAX_FEED_SUMMARY;
use kith_transport::{FeedUrl, FetchLimits, FetchedBody, TorTransport};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::sync::Notify;
use tracing::{debug, trace};

use crate::error::{Error, Result};
use crate::model::Event;
use crate::profile::{LockExt as _, Profile, ProfileInner};

/// Most subscriptions per profile.
pub const MAX_FEEDS: usize = 50;
/// Most items kept per feed (the oldest first seen go first).
pub const MAX_KEPT_ITEMS: usize = 100;
/// Most bytes of kept items per feed, encoded (the oldest go first).
pub const MAX_ITEMS_BYTES: usize = 200 * 1024;
/// Most item ids remembered per feed to tell new items from seen ones
/// (more than a feed shows: `kith_core::limits::MAX_FEED_ITEMS`).
pub const MAX_SEEN: usize = 1024;
/// Longest feed name, in bytes.
pub const MAX_FEED_NAME: usize = 64;
/// Longest error message kept for a feed, in bytes.
const MAX_ERROR_MESSAGE: usize = 200;
/// A feed is fetched this often, plus up to [`FETCH_JITTER`].
pub const FETCH_EVERY: Duration = Duration::from_secs(3 * 3600);
/// The random part of the period between fetches.
pub const FETCH_JITTER: Duration = Duration::from_secs(3600);
/// A new subscription's first scheduled fetch comes within this (at
/// random), unless fetched on demand first.
pub const FIRST_FETCH: Duration = Duration::from_secs(5 * 60);
/// After a failure because Tor itself was not usable, the next try comes
/// this much sooner than [`FETCH_EVERY`] (plus jitter).
const RETRY_UNREACHABLE: Duration = Duration::from_secs(20 * 60);
/// The scheduler looks at the list at least this often (a wall-clock jump,
/// a suspended machine).
const SCHEDULER_RECHECK: Duration = Duration::from_secs(10 * 60);
/// Feeds fetched at once by "fetch all".
const FETCH_CONCURRENCY: usize = 4;

/// The setting holding the subscription list.
const LIST_KEY: &str = "feeds";
/// The setting holding one feed's items.
fn items_key(id: FeedId) -> String {
    format!("feed-items/{}", id.0)
}

/// A subscription's number within its profile (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FeedId(pub u32);

impl std::fmt::Display for FeedId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What went wrong with a feed's last fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FeedErrorKind {
    /// The response (header or body) or the document was over its limit.
    TooLarge,
    /// The server (or the way to it) did not answer in time.
    Timeout,
    /// The document is not a feed Kith reads (malformed XML, a DTD or
    /// entity declaration, too deep, another encoding…).
    BadFeed,
    /// A redirect Kith does not follow (to another scheme than http/https,
    /// https to http, an onion service to the open web, too many).
    BadRedirect,
    /// The server answered with an HTTP status other than 200.
    HttpStatus,
    /// The server's answer was not HTTP as Kith reads it.
    BadHttp,
    /// TLS with the server failed (an untrusted or wrong certificate).
    Tls,
    /// The server could not be reached over Tor.
    Unreachable,
    /// Anything else (a bug, the store).
    Other,
}

impl FeedErrorKind {
    /// A short name, as in JSON (`too_large`, `timeout`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            FeedErrorKind::TooLarge => "too_large",
            FeedErrorKind::Timeout => "timeout",
            FeedErrorKind::BadFeed => "bad_feed",
            FeedErrorKind::BadRedirect => "bad_redirect",
            FeedErrorKind::HttpStatus => "http_status",
            FeedErrorKind::BadHttp => "bad_http",
            FeedErrorKind::Tls => "tls",
            FeedErrorKind::Unreachable => "unreachable",
            FeedErrorKind::Other => "other",
        }
    }
}

/// A feed's last failure, kept until a fetch succeeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedError {
    /// What kind of failure.
    pub kind: FeedErrorKind,
    /// Said for people (never quotes the feed; at most 200 bytes).
    pub message: String,
    /// When.
    pub at: Timestamp,
}

/// A subscription, as front ends show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedView {
    /// Its number.
    pub id: FeedId,
    /// The name the user gave it (or one made from the URL's host).
    pub name: String,
    /// The URL fetched (after a permanent redirect, the new one).
    pub url: String,
    /// The feed's own title, once fetched (peer text: plain, bounded).
    pub title: String,
    /// When it was subscribed to.
    pub added: Timestamp,
    /// The last fetch, successful or not.
    pub last_fetch: Option<Timestamp>,
    /// The last successful fetch.
    pub last_ok: Option<Timestamp>,
    /// The last fetch's failure, if it failed.
    pub error: Option<FeedError>,
    /// When the schedule fetches it next (while online over Tor).
    pub next_fetch: Timestamp,
    /// Items kept.
    pub items: u32,
    /// Of those, unread.
    pub unread: u32,
}

/// A feed's item, as front ends show it. Peer text: plain, bounded (see
/// `kith_core::feed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItemView {
    /// Its feed.
    pub feed: FeedId,
    /// Its number in the feed: 1, 2, … in the order first seen.
    pub number: u32,
    /// Its title (may be empty).
    pub title: String,
    /// Its page, an http/https URL, if any.
    pub link: Option<String>,
    /// Its summary, plain text.
    pub summary: String,
    /// When the feed says it was published, clamped to no later than
    /// when it was fetched (plus a few minutes).
    pub published: Option<Timestamp>,
    /// When this profile first saw it.
    pub seen_at: Timestamp,
    /// Whether it was marked read.
    pub read: bool,
}

/// What one fetch came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutcome {
    /// The feed after the fetch (its [`FeedView::error`] says whether it
    /// failed).
    pub feed: FeedView,
    /// New items this fetch found.
    pub new_items: u32,
}

// ---- Stored form ----

#[derive(Debug, Default, Serialize, Deserialize)]
struct FeedList {
    next_id: u32,
    feeds: Vec<Sub>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sub {
    id: FeedId,
    url: String,
    name: String,
    title: String,
    added: Timestamp,
    last_fetch: Option<Timestamp>,
    last_ok: Option<Timestamp>,
    error: Option<FeedError>,
    next_fetch: Timestamp,
    items: u32,
    unread: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Items {
    next_number: u32,
    /// Oldest first.
    kept: Vec<StoredItem>,
    /// Truncated SHA-256 of the ids seen, the current feed's first.
    seen: Vec<[u8; 16]>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredItem {
    number: u32,
    title: String,
    link: Option<String>,
    summary: String,
    published: Option<Timestamp>,
    seen_at: Timestamp,
    read: bool,
}

impl FeedList {
    fn read(s: &kith_store::Store) -> kith_store::Result<FeedList> {
        match s.setting(LIST_KEY)? {
            None => Ok(FeedList::default()),
            Some(b) => kith_core::wire::decode_exact("feed list", &b)
                .map_err(|_| kith_store::Error::corrupt("feed list")),
        }
    }

    fn write(&self, s: &mut kith_store::Store) -> kith_store::Result<()> {
        let bytes = postcard::to_allocvec(self).map_err(|_| kith_store::Error::Bug("feed list"))?;
        s.set_setting(LIST_KEY, &bytes)
    }

    fn get_mut(&mut self, id: FeedId) -> Option<&mut Sub> {
        self.feeds.iter_mut().find(|f| f.id == id)
    }
}

impl Items {
    fn read(s: &kith_store::Store, id: FeedId) -> kith_store::Result<Items> {
        match s.setting(&items_key(id))? {
            None => Ok(Items::default()),
            Some(b) => kith_core::wire::decode_exact("feed items", &b)
                .map_err(|_| kith_store::Error::corrupt("feed items")),
        }
    }

    fn write(&self, s: &mut kith_store::Store, id: FeedId) -> kith_store::Result<()> {
        let bytes = self
            .encode()
            .map_err(|_| kith_store::Error::Bug("feed items"))?;
        s.set_setting(&items_key(id), &bytes)
    }

    fn encode(&self) -> std::result::Result<Vec<u8>, postcard::Error> {
        postcard::to_allocvec(self)
    }

    fn unread(&self) -> u32 {
        count(self.kept.iter().filter(|i| !i.read).count())
    }

    /// Take in a fetched feed: returns how many items were new.
    fn merge(&mut self, feed: &Feed, now: Timestamp) -> u32 {
        let seen: HashSet<[u8; 16]> = self.seen.iter().copied().collect();
        let mut current = Vec::with_capacity(feed.items.len());
        let mut new: Vec<&FeedItem> = vec![];
        for item in &feed.items {
            let h = id_hash(&item.id);
            if !current.contains(&h) {
                current.push(h);
                if !seen.contains(&h) {
                    new.push(item);
                }
            }
        }
        // Numbered oldest first: by the time the feed claims, then (feeds
        // list the newest first) the reverse of the feed's order.
        new.reverse();
        new.sort_by_key(|i| i.published.map(|t| t.clamp_peer(now)));
        let added = count(new.len());
        for item in new {
            self.next_number = self.next_number.saturating_add(1);
            self.kept.push(StoredItem {
                number: self.next_number,
                title: item.title.clone(),
                link: item.link.clone(),
                summary: item.summary.clone(),
                published: item.published.map(|t| t.clamp_peer(now)),
                seen_at: now,
                read: false,
            });
        }
        // The current feed's ids first, so that none of them is forgotten
        // (and shown again as new) while the feed still lists it.
        let current_set: HashSet<[u8; 16]> = current.iter().copied().collect();
        let old = std::mem::take(&mut self.seen);
        self.seen = current;
        self.seen
            .extend(old.into_iter().filter(|h| !current_set.contains(h)));
        self.seen.truncate(MAX_SEEN);
        self.trim();
        added
    }

    /// Keep at most [`MAX_KEPT_ITEMS`] within [`MAX_ITEMS_BYTES`].
    fn trim(&mut self) {
        if self.kept.len() > MAX_KEPT_ITEMS {
            let extra = self.kept.len() - MAX_KEPT_ITEMS;
            self.kept.drain(..extra);
        }
        while !self.kept.is_empty() && self.encode().map_or(true, |b| b.len() > MAX_ITEMS_BYTES) {
            self.kept.remove(0);
        }
    }
}

/// `n` as a `u32` (counts here are far below).
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn id_hash(id: &str) -> [u8; 16] {
    let d = Sha256::digest(id.as_bytes());
    let mut h = [0; 16];
    h.copy_from_slice(&d[..16]);
    h
}

impl Sub {
    fn view(&self) -> FeedView {
        FeedView {
            id: self.id,
            name: self.name.clone(),
            url: self.url.clone(),
            title: self.title.clone(),
            added: self.added,
            last_fetch: self.last_fetch,
            last_ok: self.last_ok,
            error: self.error.clone(),
            next_fetch: self.next_fetch,
            items: self.items,
            unread: self.unread,
        }
    }
}

impl StoredItem {
    fn view(&self, feed: FeedId) -> FeedItemView {
        FeedItemView {
            feed,
            number: self.number,
            title: self.title.clone(),
            link: self.link.clone(),
            summary: self.summary.clone(),
            published: self.published,
            seen_at: self.seen_at,
            read: self.read,
        }
    }
}

// ---- Errors of one feed ----

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn feed_error(kind: FeedErrorKind, message: String, at: Timestamp) -> FeedError {
    FeedError {
        kind,
        message: cut(&message, MAX_ERROR_MESSAGE),
        at,
    }
}

/// A failed fetch as the feed's error.
fn fetch_error(e: &kith_transport::Error, at: Timestamp) -> FeedError {
    use kith_transport::Error as T;
    let kind = match e {
        // Tor itself was not usable (not bootstrapped, no circuit): not
        // the feed's fault, and tried again sooner.
        _ if e.kind() == kith_core::ErrorKind::TorUnreachable => FeedErrorKind::Unreachable,
        T::ResponseTooLarge { .. } => FeedErrorKind::TooLarge,
        T::Timeout { .. } => FeedErrorKind::Timeout,
        T::RedirectRefused { .. } | T::TooManyRedirects { .. } => FeedErrorKind::BadRedirect,
        T::HttpStatus { .. } => FeedErrorKind::HttpStatus,
        T::HttpMalformed { .. } => FeedErrorKind::BadHttp,
        T::Tls { .. } => FeedErrorKind::Tls,
        T::Tor { .. } | T::FeedIo { .. } | T::Shutdown | T::Connect { .. } => {
            FeedErrorKind::Unreachable
        }
        _ => FeedErrorKind::Other,
    };
    feed_error(kind, e.to_string(), at)
}

/// A fetched body as the node takes it: parsed by `parse_feed`, a failure
/// made the feed's error. Blocking: linear in the body (run it in
/// `spawn_blocking`).
fn parse_body(bytes: &[u8], now: Timestamp) -> std::result::Result<Feed, FeedError> {
    kith_core::feed::parse_feed(bytes).map_err(|e| parse_error(&e, now))
}

/// The fuzzing entry point (`crate::fuzzing::feed_body`): `data` as a
/// fetched body, through what [`fetch_one`] does with it (parse, merge into
/// the items kept, encode for the store), twice.
pub(crate) fn check_body(data: &[u8]) {
    let now = Timestamp(1_800_000_000_000);
    let mut items = Items::default();
    let feed = match parse_body(data, now) {
        Ok(feed) => feed,
        Err(e) => {
            assert!(
                matches!(e.kind, FeedErrorKind::BadFeed | FeedErrorKind::TooLarge),
                "{e:?}"
            );
            assert!(e.message.len() <= MAX_ERROR_MESSAGE);
            assert_ne!(
                e.message,
                kith_core::Error::BadFeed(kith_core::feed::PARSER_PANICKED).to_string(),
                "the parser panicked"
            );
            return;
        }
    };
    let new = items.merge(&feed, now);
    assert!(new as usize <= feed.items.len());
    assert!(items.kept.len() <= MAX_KEPT_ITEMS && items.kept.len() <= new as usize);
    assert!(items.seen.len() <= MAX_SEEN);
    let bytes = items.encode().expect("items encode");
    assert!(bytes.len() <= MAX_ITEMS_BYTES);
    let back: Items = kith_core::wire::decode_exact("feed items", &bytes).expect("items decode");
    assert_eq!(
        back.encode().expect("items encode"),
        bytes,
        "stored as kept"
    );
    for (i, it) in items.kept.iter().enumerate() {
        assert_eq!(it.number as usize, new as usize - items.kept.len() + i + 1);
        assert!(it.published.is_none_or(|t| t <= Timestamp(now.0 + 600_000)));
        assert!(!it.read);
    }
    // The same document again: nothing new, nothing lost.
    let kept = items.kept.len();
    assert_eq!(items.merge(&feed, now), 0, "an item seen is not new again");
    assert_eq!(items.kept.len(), kept);
}

/// A document that did not parse as the feed's error.
fn parse_error(e: &kith_core::Error, at: Timestamp) -> FeedError {
    let kind = match e {
        kith_core::Error::TooLarge { .. } => FeedErrorKind::TooLarge,
        kith_core::Error::BadFeed(_) => FeedErrorKind::BadFeed,
        _ => FeedErrorKind::Other,
    };
    feed_error(kind, e.to_string(), at)
}

// ---- Names ----

fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty()
        || name.len() > MAX_FEED_NAME
        || name.chars().any(|c| c.is_control())
        || name.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Error::BadInput(format!(
            "a feed's name has 1 to {MAX_FEED_NAME} bytes, no control characters, \
             and is not only digits (numbers name feeds by their id)"
        )));
    }
    Ok(name.to_owned())
}

/// A name from the URL's host (an onion address shortened), made unique.
fn default_name(url: &FeedUrl, taken: &[Sub]) -> String {
    let host = url.host();
    // Hosts are ASCII (`FeedUrl::parse`), so `cut` keeps whole characters.
    let base = match host.strip_suffix(".onion") {
        Some(s) => format!("onion-{}", cut(s.rsplit('.').next().unwrap_or(s), 8)),
        None => cut(host, MAX_FEED_NAME - 8),
    };
    let free = |n: &str| !taken.iter().any(|f| f.name == n);
    if free(&base) {
        return base;
    }
    (2..)
        .map(|i| format!("{base}-{i}"))
        .find(|n| free(n))
        .unwrap_or(base)
}

// ---- Schedule ----

fn after(now: Timestamp, base: Duration, jitter: Duration) -> Timestamp {
    let j = rand::thread_rng().gen_range(0..=jitter.as_millis());
    let ms = u64::try_from(base.as_millis() + j).unwrap_or(u64::MAX);
    Timestamp(now.0.saturating_add(ms))
}

/// When a feed is fetched next after a fetch that ended with `error`.
fn next_after_fetch(now: Timestamp, error: Option<&FeedError>) -> Timestamp {
    match error {
        Some(e) if e.kind == FeedErrorKind::Unreachable => {
            after(now, RETRY_UNREACHABLE, RETRY_UNREACHABLE)
        }
        _ => after(now, FETCH_EVERY, FETCH_JITTER),
    }
}

/// Reschedule the feeds due at `now` to random times within
/// [`FIRST_FETCH`].
fn spread_overdue(list: &mut FeedList, now: Timestamp) {
    for f in &mut list.feeds {
        if f.next_fetch <= now {
            f.next_fetch = after(now, Duration::ZERO, FIRST_FETCH);
        }
    }
}

/// The feeds due at `now`, and when the next one is due otherwise.
fn due(list: &FeedList, now: Timestamp) -> (Vec<FeedId>, Option<Timestamp>) {
    let ids = list
        .feeds
        .iter()
        .filter(|f| f.next_fetch <= now)
        .map(|f| f.id)
        .collect();
    let next = list
        .feeds
        .iter()
        .map(|f| f.next_fetch)
        .filter(|t| *t > now)
        .min();
    (ids, next)
}

// ---- The node's state ----

/// Fetches a URL for tests (cfg(test), or the `dangerous-test-feeds`
/// feature): never a connection.
#[cfg(any(test, feature = "dangerous-test-feeds"))]
pub(crate) type TestFetch =
    Arc<dyn Fn(&FeedUrl) -> std::result::Result<FetchedBody, kith_transport::Error> + Send + Sync>;

/// A profile's feed state that is not stored.
#[derive(Default)]
pub(crate) struct FeedState {
    /// Wakes the scheduler: the list changed.
    wake: Arc<Notify>,
    /// Feeds being fetched now (a second fetch of one waits its turn).
    busy: Mutex<HashSet<FeedId>>,
    busy_done: Notify,
    /// The tests' fetch (instead of Tor).
    #[cfg(any(test, feature = "dangerous-test-feeds"))]
    pub(crate) test_fetch: Mutex<Option<TestFetch>>,
}

/// Holds a feed's place in [`FeedState::busy`].
struct Busy<'a> {
    state: &'a FeedState,
    id: FeedId,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.state.busy.locked().remove(&self.id);
        self.state.busy_done.notify_waiters();
    }
}

impl FeedState {
    async fn take(&self, id: FeedId) -> Busy<'_> {
        loop {
            let notified = self.busy_done.notified();
            if self.busy.locked().insert(id) {
                return Busy { state: self, id };
            }
            notified.await;
        }
    }
}

/// How a fetch reaches the feed's server.
enum Fetcher {
    Tor(Arc<TorTransport>),
    #[cfg(any(test, feature = "dangerous-test-feeds"))]
    Test(TestFetch),
}

impl Fetcher {
    async fn fetch(
        &self,
        url: &FeedUrl,
    ) -> std::result::Result<FetchedBody, kith_transport::Error> {
        match self {
            Fetcher::Tor(t) => t.fetch_feed(url, &FetchLimits::default()).await,
            #[cfg(any(test, feature = "dangerous-test-feeds"))]
            Fetcher::Test(f) => f(url),
        }
    }
}

async fn fetcher(p: &Arc<ProfileInner>) -> Option<Fetcher> {
    #[cfg(any(test, feature = "dangerous-test-feeds"))]
    if let Some(f) = p.feeds.test_fetch.locked().clone() {
        return Some(Fetcher::Test(f));
    }
    crate::net::tor_transport(p).await.map(Fetcher::Tor)
}

fn not_on_tor() -> Error {
    Error::BadInput(
        "feeds are fetched only over Tor: the profile is offline or on a TCP network".into(),
    )
}

/// Fetch one feed now and store what came of it.
async fn fetch_one(p: &Arc<ProfileInner>, fetcher: &Fetcher, id: FeedId) -> Result<FetchOutcome> {
    let _busy = p.feeds.take(id).await;
    let list = p.store.call(|s| FeedList::read(s)).await?;
    let sub = list
        .feeds
        .iter()
        .find(|f| f.id == id)
        .ok_or_else(|| Error::NotFound("feed".into()))?;
    let url = FeedUrl::parse(&sub.url).map_err(|_| Error::Bug("a stored feed URL"))?;
    trace!(feed = %id, "fetching a feed");
    let fetched = fetcher.fetch(&url).await;
    let now = Timestamp::now();
    let result = match fetched {
        Err(e) => Err(fetch_error(&e, now)),
        Ok(body) => {
            let moved = body.moved_permanently.then(|| body.url.to_string());
            let bytes = body.body;
            match tokio::task::spawn_blocking(move || parse_body(&bytes, now)).await {
                Ok(Ok(feed)) => Ok((feed, moved)),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(feed_error(
                    FeedErrorKind::Other,
                    "the parser task failed".into(),
                    now,
                )),
            }
        }
    };
    if let Err(e) = &result {
        debug!(feed = %id, kind = e.kind.as_str(), "a feed fetch failed");
    }
    let (view, new_items) = p
        .store
        .call(move |s| {
            let mut list = FeedList::read(s)?;
            // Unsubscribed meanwhile: nothing to keep.
            if list.get_mut(id).is_none() {
                return Ok(None);
            }
            let mut new_items = 0;
            let (error, counts, title, moved) = match result {
                Ok((feed, moved)) => {
                    let mut items = Items::read(s, id)?;
                    new_items = items.merge(&feed, now);
                    items.write(s, id)?;
                    (
                        None,
                        Some((count(items.kept.len()), items.unread())),
                        Some(feed.title),
                        moved,
                    )
                }
                Err(e) => (Some(e), None, None, None),
            };
            let Some(sub) = list.get_mut(id) else {
                return Ok(None);
            };
            sub.last_fetch = Some(now);
            sub.next_fetch = next_after_fetch(now, error.as_ref());
            if error.is_none() {
                sub.last_ok = Some(now);
            }
            sub.error = error;
            if let Some((n, unread)) = counts {
                sub.items = n;
                sub.unread = unread;
            }
            if let Some(t) = title {
                sub.title = t;
            }
            if let Some(url) = moved {
                sub.url = url;
            }
            let view = sub.view();
            list.write(s)?;
            Ok(Some((view, new_items)))
        })
        .await?
        .ok_or_else(|| Error::NotFound("feed".into()))?;
    p.emit(Event::FeedsChanged);
    if new_items > 0 {
        p.emit(Event::FeedItems {
            feed: id,
            new: new_items,
        });
    }
    Ok(FetchOutcome {
        feed: view,
        new_items,
    })
}

/// The schedule of one profile online over Tor: fetches each feed when it
/// is due, never before the first subscription. Ends when the profile goes
/// offline (the caller's `until_stopped`) or is dropped.
pub(crate) async fn run_scheduler(weak: Weak<ProfileInner>) {
    // Feeds that fell due while the profile was offline are spread over
    // the next few minutes, not fetched back to back at start (the
    // servers could otherwise see them together).
    if let Some(p) = weak.upgrade() {
        let spread = p
            .store
            .call(|s| {
                let mut list = FeedList::read(s)?;
                let now = Timestamp::now();
                if list.feeds.iter().any(|f| f.next_fetch <= now) {
                    spread_overdue(&mut list, now);
                    list.write(s)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = spread {
            debug!("the feed schedule stops: {e}");
            return;
        }
    }
    loop {
        let Some(p) = weak.upgrade() else { return };
        let wake = Arc::clone(&p.feeds.wake);
        let notified = wake.notified();
        let now = Timestamp::now();
        let list = match p.store.call(|s| FeedList::read(s)).await {
            Ok(l) => l,
            Err(e) => {
                debug!("the feed schedule stops: {e}");
                return;
            }
        };
        let (ids, mut next) = due(&list, now);
        if !ids.is_empty() {
            let mut all_stored = false;
            if let Some(f) = fetcher(&p).await {
                all_stored = true;
                for id in ids {
                    // A failed fetch is the feed's error, kept in the list
                    // with its next time; an Err here is the node's (the
                    // store): then wait before trying again.
                    match fetch_one(&p, &f, id).await {
                        Ok(_) | Err(Error::NotFound(_)) => {}
                        Err(e) => {
                            debug!(feed = %id, "scheduled fetch: {e}");
                            all_stored = false;
                        }
                    }
                }
            }
            if all_stored {
                continue;
            }
            next = None;
        }
        drop(p);
        let wait = match next {
            Some(at) => Duration::from_millis(at.0.saturating_sub(now.0)).min(SCHEDULER_RECHECK),
            // No subscription: wait for one.
            None if list.feeds.is_empty() => Duration::MAX,
            None => SCHEDULER_RECHECK,
        };
        tokio::select! {
            () = notified => {}
            () = sleep(wait) => {}
        }
    }
}

async fn sleep(d: Duration) {
    if d == Duration::MAX {
        std::future::pending::<()>().await;
    } else {
        tokio::time::sleep(d).await;
    }
}

impl Profile {
    /// Subscribe to a feed: `url` is `http://` or `https://` (an onion
    /// address, a DNS name or an IP literal, all reached through Tor).
    /// Without a `name`, one is made from the host. Nothing is fetched now:
    /// the schedule fetches it within [`FIRST_FETCH`] while the profile is
    /// online over Tor, or [`Profile::fetch_feed`] at once.
    pub async fn subscribe_feed(&self, url: &str, name: Option<&str>) -> Result<FeedView> {
        self.check_unlocked()?;
        let url = FeedUrl::parse(url)?;
        let name = name.map(validate_name).transpose()?;
        let now = Timestamp::now();
        let next = after(now, Duration::ZERO, FIRST_FETCH);
        let view = self
            .inner
            .store
            .call(move |s| {
                let mut list = FeedList::read(s)?;
                let text = url.to_string();
                if list.feeds.len() >= MAX_FEEDS {
                    return Ok(Err(Error::BadInput(format!(
                        "at most {MAX_FEEDS} feeds: unsubscribe from one first"
                    ))));
                }
                if list.feeds.iter().any(|f| f.url == text) {
                    return Ok(Err(Error::AlreadyExists(
                        "a subscription to this URL".into(),
                    )));
                }
                let name = match name {
                    Some(n) if list.feeds.iter().any(|f| f.name == n) => {
                        return Ok(Err(Error::AlreadyExists(format!("a feed named {n:?}"))));
                    }
                    Some(n) => n,
                    None => default_name(&url, &list.feeds),
                };
                list.next_id = list.next_id.saturating_add(1);
                let sub = Sub {
                    id: FeedId(list.next_id),
                    url: text,
                    name,
                    title: String::new(),
                    added: now,
                    last_fetch: None,
                    last_ok: None,
                    error: None,
                    next_fetch: next,
                    items: 0,
                    unread: 0,
                };
                let view = sub.view();
                list.feeds.push(sub);
                list.write(s)?;
                Ok(Ok(view))
            })
            .await??;
        self.inner.feeds.wake.notify_waiters();
        self.emit(Event::FeedsChanged);
        Ok(view)
    }

    /// The subscriptions, in the order subscribed.
    pub async fn feeds(&self) -> Result<Vec<FeedView>> {
        self.check_unlocked()?;
        let list = self.inner.store.call(|s| FeedList::read(s)).await?;
        Ok(list.feeds.iter().map(Sub::view).collect())
    }

    /// A subscription by its name, or by its id (digits).
    pub async fn find_feed(&self, name_or_id: &str) -> Result<FeedView> {
        let feeds = self.feeds().await?;
        let by_id = name_or_id.parse::<u32>().ok().map(FeedId);
        feeds
            .into_iter()
            .find(|f| f.name == name_or_id || Some(f.id) == by_id)
            .ok_or_else(|| Error::NotFound(format!("feed {name_or_id:?}")))
    }

    /// Rename a subscription.
    pub async fn rename_feed(&self, feed: FeedId, name: &str) -> Result<()> {
        self.check_unlocked()?;
        let name = validate_name(name)?;
        self.inner
            .store
            .call(move |s| {
                let mut list = FeedList::read(s)?;
                if list.feeds.iter().any(|f| f.name == name && f.id != feed) {
                    return Ok(Err(Error::AlreadyExists(format!("a feed named {name:?}"))));
                }
                let Some(sub) = list.get_mut(feed) else {
                    return Ok(Err(Error::NotFound("feed".into())));
                };
                sub.name = name;
                list.write(s)?;
                Ok(Ok(()))
            })
            .await??;
        self.emit(Event::FeedsChanged);
        Ok(())
    }

    /// Unsubscribe: the feed and its items are removed.
    pub async fn unsubscribe_feed(&self, feed: FeedId) -> Result<()> {
        self.check_unlocked()?;
        let found = self
            .inner
            .store
            .call(move |s| {
                let mut list = FeedList::read(s)?;
                let before = list.feeds.len();
                list.feeds.retain(|f| f.id != feed);
                if list.feeds.len() == before {
                    return Ok(false);
                }
                list.write(s)?;
                s.delete_setting(&items_key(feed))?;
                Ok(true)
            })
            .await?;
        if !found {
            return Err(Error::NotFound("feed".into()));
        }
        self.inner.feeds.wake.notify_waiters();
        self.emit(Event::FeedsChanged);
        Ok(())
    }

    /// Fetch a feed now, through this profile's Tor client. A failure of
    /// the fetch or of the document is the feed's [`FeedView::error`] in
    /// the outcome, not an `Err`; `Err` means the feed is unknown or the
    /// profile is not online over Tor.
    pub async fn fetch_feed(&self, feed: FeedId) -> Result<FetchOutcome> {
        self.check_unlocked()?;
        let f = fetcher(&self.inner).await.ok_or_else(not_on_tor)?;
        fetch_one(&self.inner, &f, feed).await
    }

    /// Fetch every feed now (a few at a time, each on its own circuit).
    pub async fn fetch_all_feeds(&self) -> Result<Vec<FetchOutcome>> {
        self.check_unlocked()?;
        let f = fetcher(&self.inner).await.ok_or_else(not_on_tor)?;
        let ids: Vec<FeedId> = self.feeds().await?.iter().map(|v| v.id).collect();
        let f = &f;
        let results: Vec<Result<FetchOutcome>> = futures::stream::iter(ids)
            .map(|id| fetch_one(&self.inner, f, id))
            .buffered(FETCH_CONCURRENCY)
            .collect()
            .await;
        // A feed unsubscribed meanwhile is left out; other errors are the
        // node's (the store), not a feed's.
        results
            .into_iter()
            .filter(|r| !matches!(r, Err(Error::NotFound(_))))
            .collect()
    }

    /// A feed's kept items, newest first (by number).
    pub async fn feed_items(&self, feed: FeedId) -> Result<Vec<FeedItemView>> {
        self.check_unlocked()?;
        let items = self
            .inner
            .store
            .call(move |s| {
                let list = FeedList::read(s)?;
                if !list.feeds.iter().any(|f| f.id == feed) {
                    return Ok(None);
                }
                Items::read(s, feed).map(Some)
            })
            .await?
            .ok_or_else(|| Error::NotFound("feed".into()))?;
        Ok(items.kept.iter().rev().map(|i| i.view(feed)).collect())
    }

    /// Mark an item read (or unread again).
    pub async fn mark_feed_item(&self, feed: FeedId, number: u32, read: bool) -> Result<()> {
        self.mark_feed(feed, Some(number), read).await
    }

    /// Mark every item of a feed read.
    pub async fn mark_feed_read(&self, feed: FeedId) -> Result<()> {
        self.mark_feed(feed, None, true).await
    }

    /// Mark one item (`Some(number)`) or every item of a feed read or
    /// unread, and its unread count with it.
    async fn mark_feed(&self, feed: FeedId, number: Option<u32>, read: bool) -> Result<()> {
        self.check_unlocked()?;
        self.inner
            .store
            .call(move |s| {
                let mut list = FeedList::read(s)?;
                if list.get_mut(feed).is_none() {
                    return Ok(Err(Error::NotFound("feed".into())));
                }
                let mut items = Items::read(s, feed)?;
                let mut changed = false;
                let mut found = number.is_none();
                for i in &mut items.kept {
                    if number.is_none_or(|n| n == i.number) {
                        found = true;
                        changed |= i.read != read;
                        i.read = read;
                    }
                }
                if !found {
                    let n = number.unwrap_or_default();
                    return Ok(Err(Error::NotFound(format!("item {n}"))));
                }
                if !changed {
                    return Ok(Ok(()));
                }
                items.write(s, feed)?;
                if let Some(sub) = list.get_mut(feed) {
                    sub.unread = items.unread();
                }
                list.write(s)?;
                Ok(Ok(()))
            })
            .await??;
        self.emit(Event::FeedsChanged);
        Ok(())
    }

    /// Repost a feed's item to our blog: a post of the item's title, link
    /// and summary (cut to fit), after the user's `comment` if any, as
    /// [`FeedItemView::repost_text`] writes it. Our contacts get it as any
    /// post of ours: of the feed, only the item's text and link travel, and
    /// only when the user reposts. [`Error::NotFound`] for an unknown feed or
    /// item; the errors of [`Profile::post_to_blog`] (our blog off).
    pub async fn repost_feed_item(
        &self,
        feed: FeedId,
        number: u32,
        comment: Option<&str>,
    ) -> Result<crate::GroupMessageView> {
        let item = self
            .feed_items(feed)
            .await?
            .into_iter()
            .find(|i| i.number == number)
            .ok_or_else(|| Error::NotFound(format!("item {number}")))?;
        let text = item.repost_text(comment, kith_core::group::MAX_GROUP_TEXT);
        self.post_to_blog(&text).await
    }
}

#[cfg(feature = "dangerous-test-feeds")]
impl Profile {
    /// DANGER, tests only (feature `dangerous-test-feeds`): fetch this
    /// profile's feeds by calling `serve` with the URL (`Some(body)`, or
    /// `None` for an HTTP 404) instead of through Tor, on any network. For
    /// a front end's UI tests, which run over TCP where nothing is fetched.
    pub fn dangerously_serve_feeds_for_testing_only(
        &self,
        serve: impl Fn(&str) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) {
        let f: TestFetch = Arc::new(move |url: &FeedUrl| match serve(&url.to_string()) {
            Some(body) => Ok(FetchedBody {
                url: url.clone(),
                moved_permanently: false,
                content_type: None,
                body,
            }),
            None => Err(kith_transport::Error::HttpStatus { status: 404 }),
        });
        *self.inner.feeds.test_fetch.locked() = Some(f);
    }
}

impl FeedItemView {
    /// The text of a post reposting this item (to one's blog): the user's
    /// `comment` first if any, then the title, the link, and the summary
    /// cut at a word (with "…") so that the whole stays within `max`
    /// bytes. The item's text is already plain and bounded
    /// (`kith_core::feed`).
    pub fn repost_text(&self, comment: Option<&str>, max: usize) -> String {
        repost_text(self, comment, max)
    }
}

fn repost_text(item: &FeedItemView, comment: Option<&str>, max: usize) -> String {
    let mut head = String::new();
    if let Some(c) = comment.map(str::trim).filter(|c| !c.is_empty()) {
        head.push_str(c);
        head.push_str("\n\n");
    }
    if !item.title.is_empty() {
        head.push_str(&item.title);
        head.push('\n');
    }
    if let Some(l) = &item.link {
        head.push_str(l);
        head.push('\n');
    }
    if head.len() >= max {
        return cut(&head, max).trim_end().to_owned();
    }
    let room = (max - head.len()).min(MAX_FEED_SUMMARY);
    let summary = if item.summary.len() <= room {
        item.summary.clone()
    } else {
        let ellipsis = "…";
        let cutted = cut(&item.summary, room.saturating_sub(ellipsis.len()));
        let at_word = match cutted.rfind(' ') {
            Some(i) if i > 0 => &cutted[..i],
            _ => &cutted[..],
        };
        format!("{at_word}{ellipsis}")
    };
    if !summary.is_empty() {
        head.push('\n');
        head.push_str(&summary);
    }
    let mut text = head.trim_end().to_owned();
    if text.len() > max {
        text = cut(&text, max);
    }
    text
}

#[cfg(test)]
mod tests;
