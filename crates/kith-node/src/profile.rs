//! One unlocked profile: its identity, its store, its contacts and chats.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use kith_core::{ContactLink, IdentityKeypair, MessageId, OnionAddress, SafetyNumber, Timestamp};
use kith_store::{Contact, ContactId, ContactOrigin, ContactState, NewContact, StoreHandle};
use tokio::sync::{broadcast, watch};

use crate::admission::Admission;
use crate::contact::{ContactRules, NotAllowed};
use crate::error::{Error, Result};
use crate::kith::KithInner;
use crate::model::{
    ContactView, Event, Introducer, MessageView, Network, NetworkKind, NetworkStatus, Password,
    Settings,
};
use crate::net::Online;
use crate::peers::Peers;

/// Events buffered per subscriber before it lags.
const EVENT_QUEUE: usize = 256;
/// Longest contact alias, in bytes.
pub use kith_core::limits::MAX_ALIAS;
const SETTINGS_KEY: &str = "settings";
const NICKNAME_KEY: &str = "onion-nickname";

pub(crate) struct ProfileInner {
    pub(crate) name: String,
    pub(crate) identity: IdentityKeypair,
    pub(crate) address: OnionAddress,
    pub(crate) store: StoreHandle,
    pub(crate) kith: Weak<KithInner>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) status: watch::Sender<NetworkStatus>,
    pub(crate) online: tokio::sync::Mutex<Option<Online>>,
    /// Each contact's dialer, wake signal and live sessions.
    pub(crate) peers: Peers,
    /// Bounds on what strangers may cost.
    pub(crate) admission: Admission,
    /// Addresses of blocked contacts, checked right after the handshake,
    /// before any other work.
    pub(crate) blocked: Mutex<HashSet<[u8; 32]>>,
    /// Where we listen on TCP, when we do: goes into our link and Hello.
    pub(crate) tcp_hint: Mutex<Option<SocketAddr>>,
    /// Counts inbound connections that completed the handshake: proof that
    /// our service is reachable, whatever arti reports about publication.
    pub(crate) reached: watch::Sender<u64>,
    /// Bumped whenever what our listeners should run may have changed (the
    /// requests setting, a contact's discovery key, a meeting): see `reach`.
    pub(crate) reach_changes: watch::Sender<u64>,
    /// The network we are online on: its kind, and how many bridges it
    /// goes through.
    pub(crate) network_kind: Mutex<Option<(NetworkKind, usize)>>,
    pub(crate) locked: AtomicBool,
    /// The meeting in person in progress, if any.
    pub(crate) meet: crate::meet::MeetSlot,
    /// Introductions: identities being added from an introduction link.
    pub(crate) intro: crate::intro::IntroState,
    /// The inbox's listener address and rate limit.
    pub(crate) inbox: crate::inbox::InboxState,
    /// Wakes the disappearing-messages task: a deadline may be sooner.
    pub(crate) expiry: Arc<tokio::sync::Notify>,
    /// File transfers running now: progress and speed.
    pub(crate) transfers: crate::file::Transfers,
    /// Private groups: each one's replica and members.
    pub(crate) groups: crate::group::Groups,
    /// Feeds: the schedule's wake-up, fetches in progress.
    pub(crate) feeds: crate::feed::FeedState,
}

/// A handle to an unlocked profile. Cheap to clone.
#[derive(Clone)]
pub struct Profile {
    pub(crate) inner: Arc<ProfileInner>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Profile({})", self.inner.name)
    }
}

pub(crate) fn validate_display_name(name: &str) -> Result<()> {
    let trimmed = name.trim();
    if trimmed.is_empty()
        || name.len() > kith_core::limits::MAX_DISPLAY_NAME
        || name.chars().any(char::is_control)
    {
        return Err(Error::BadInput(format!(
            "a name has 1 to {} bytes and no control characters",
            kith_core::limits::MAX_DISPLAY_NAME
        )));
    }
    Ok(())
}

/// The introducer's identity key of a contact introduced to us.
fn introducer_key(c: &Contact) -> Option<[u8; 32]> {
    match c.origin {
        ContactOrigin::Introduced { by } => Some(by),
        ContactOrigin::Link | ContactOrigin::MetInPerson | ContactOrigin::Request => None,
    }
}

pub(crate) fn validate_alias(alias: &str) -> Result<()> {
    if alias.trim().is_empty() || alias.len() > MAX_ALIAS || alias.chars().any(char::is_control) {
        return Err(Error::BadInput(format!(
            "an alias has 1 to {MAX_ALIAS} bytes and no control characters"
        )));
    }
    Ok(())
}

impl<T> LockExt<T> for Mutex<T> {
    fn locked(&self) -> std::sync::MutexGuard<'_, T> {
        // Poisoning means a panic elsewhere; the data is still consistent
        // because every critical section is a single map operation.
        self.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `Mutex::lock` that survives poisoning.
pub(crate) trait LockExt<T> {
    fn locked(&self) -> std::sync::MutexGuard<'_, T>;
}

impl Profile {
    pub(crate) async fn open(
        kith: Weak<KithInner>,
        name: &str,
        store: StoreHandle,
    ) -> Result<Profile> {
        let profile = store.call(|s| s.profile()).await?;
        let identity = IdentityKeypair::from_seed(&profile.identity_seed);
        let address = identity.address();
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        let (status, _) = watch::channel(NetworkStatus::Offline);
        let blocked = store
            .call(|s| {
                Ok(s.contacts()?
                    .into_iter()
                    .filter(|c| c.state == ContactState::Blocked)
                    .map(|c| c.address)
                    .collect::<HashSet<_>>())
            })
            .await?;
        let profile = Profile {
            inner: Arc::new(ProfileInner {
                name: name.to_owned(),
                identity,
                address,
                store,
                kith,
                events,
                status,
                online: tokio::sync::Mutex::new(None),
                peers: Peers::default(),
                admission: Admission::new(),
                blocked: Mutex::new(blocked),
                tcp_hint: Mutex::new(None),
                reached: watch::channel(0).0,
                reach_changes: watch::channel(0).0,
                network_kind: Mutex::new(None),
                locked: AtomicBool::new(false),
                meet: crate::meet::MeetSlot::default(),
                intro: crate::intro::IntroState::default(),
                inbox: crate::inbox::InboxState::default(),
                expiry: Arc::new(tokio::sync::Notify::new()),
                transfers: crate::file::Transfers::default(),
                groups: crate::group::Groups::default(),
                feeds: crate::feed::FeedState::default(),
            }),
        };
        // Before anyone reads the conversations: what a stop missed, and
        // what ran out while the profile was locked.
        crate::conversation::clear_session_histories(&profile.inner).await;
        crate::conversation::expire(&profile.inner, Timestamp::now()).await?;
        let p = profile.inner.clone();
        profile.inner.store.call(move |s| p.groups.load(s)).await?;
        tokio::spawn(crate::conversation::run_expiry(Arc::downgrade(
            &profile.inner,
        )));
        Ok(profile)
    }

    pub(crate) fn check_unlocked(&self) -> Result<()> {
        if self.inner.locked.load(Ordering::Acquire) {
            Err(Error::Locked)
        } else {
            Ok(())
        }
    }

    /// The profile's name (its directory).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Our address (the onion address of our identity key).
    pub fn address(&self) -> OnionAddress {
        self.inner.address
    }

    /// Our contact link; includes the TCP hint while online over TCP.
    pub fn link(&self) -> ContactLink {
        ContactLink {
            address: self.inner.address,
            tcp: *self.inner.tcp_hint.locked(),
        }
    }

    /// The name we show to people we contact.
    pub async fn display_name(&self) -> Result<String> {
        self.check_unlocked()?;
        Ok(self.inner.store.call(|s| s.profile()).await?.display_name)
    }

    /// Change the name we show.
    pub async fn set_display_name(&self, name: &str) -> Result<()> {
        self.check_unlocked()?;
        validate_display_name(name)?;
        let name = name.to_owned();
        Ok(self
            .inner
            .store
            .call(move |s| s.set_display_name(&name))
            .await?)
    }

    /// Receive events. A receiver that falls behind gets `Lagged` and should re-read state.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// The network state now.
    pub fn network_status(&self) -> NetworkStatus {
        self.inner.status.borrow().clone()
    }

    /// Watch the network state.
    pub fn watch_network(&self) -> watch::Receiver<NetworkStatus> {
        self.inner.status.subscribe()
    }

    /// The kind of network the profile is online on; `None` while offline.
    pub fn network_kind(&self) -> Option<NetworkKind> {
        self.inner.network_kind.locked().map(|(k, _)| k)
    }

    /// How many bridges the network we are online on goes through (0: Tor
    /// is reached directly, or TCP); `None` while offline.
    pub fn bridges_in_use(&self) -> Option<usize> {
        self.inner.network_kind.locked().map(|(_, n)| n)
    }

    /// Contact requests dropped over the caps (too many pending, or arriving
    /// too fast) since the profile was unlocked.
    pub fn dropped_requests(&self) -> u64 {
        self.inner.admission.dropped()
    }

    /// Go online: listen for contacts and deliver queued messages.
    ///
    /// If already online, goes offline first.
    pub async fn go_online(&self, net: Network) -> Result<()> {
        self.check_unlocked()?;
        let nickname = self.onion_nickname().await?;
        crate::net::go_online(&self.inner, net, nickname).await
    }

    /// Go offline: close every session and stop listening.
    pub async fn go_offline(&self) {
        crate::net::go_offline(&self.inner).await;
    }

    /// The nickname of our onion service: random per profile, so nothing on
    /// disk outside the sealed store names our address.
    async fn onion_nickname(&self) -> Result<String> {
        self.inner
            .store
            .call(|s| {
                if let Some(v) = s.setting(NICKNAME_KEY)?
                    && let Ok(n) = String::from_utf8(v)
                {
                    return Ok(n);
                }
                let mut b = [0_u8; 8];
                rand_core::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
                let n = format!(
                    "kith{}",
                    b.iter().map(|x| format!("{x:02x}")).collect::<String>()
                );
                s.set_setting(NICKNAME_KEY, n.as_bytes())?;
                Ok(n)
            })
            .await
            .map_err(Error::from)
    }

    /// Every contact, requests included.
    pub async fn contacts(&self) -> Result<Vec<ContactView>> {
        self.check_unlocked()?;
        // One pass: each contact's newest message and unread count, without
        // opening whole conversations (front ends call this on every event).
        let rows = self
            .inner
            .store
            .call(|s| {
                s.contact_summaries()?
                    .into_iter()
                    .map(|mut cs| {
                        let last = cs
                            .last
                            .take()
                            .map(|m| MessageView::read(s, m))
                            .transpose()?;
                        Ok((cs, last))
                    })
                    .collect::<kith_store::Result<Vec<_>>>()
            })
            .await?;
        let aliases: std::collections::HashMap<[u8; 32], String> = rows
            .iter()
            .map(|(cs, _)| (cs.contact.address, cs.contact.alias.clone()))
            .collect();
        Ok(rows
            .into_iter()
            .filter_map(|(cs, last)| {
                let by = introducer_key(&cs.contact).and_then(|k| aliases.get(&k).cloned());
                self.view(cs.contact, cs.unread, last, by)
            })
            .collect())
    }

    fn view(
        &self,
        c: Contact,
        unread: u64,
        last: Option<MessageView>,
        introducer_alias: Option<String>,
    ) -> Option<ContactView> {
        let address = kith_core::IdentityKey::from_bytes(&c.address)
            .ok()?
            .address();
        let online = self.inner.peers.is_online(c.id);
        let introducer = match introducer_key(&c) {
            Some(k) => Some(Introducer {
                address: kith_core::IdentityKey::from_bytes(&k).ok()?.address(),
                alias: introducer_alias,
            }),
            None => None,
        };
        Some(ContactView {
            id: c.id,
            alias: c.alias,
            address,
            state: c.state,
            origin: c.origin,
            verified: c.verified,
            introducer,
            their_name: c.their_name,
            online,
            unread,
            last_message: last,
        })
    }

    /// One contact.
    pub async fn contact(&self, id: ContactId) -> Result<ContactView> {
        self.check_unlocked()?;
        let (cs, by, last) = self
            .inner
            .store
            .call(move |s| {
                let mut cs = s.contact_summary(id)?;
                let by = match introducer_key(&cs.contact) {
                    Some(k) => s.contact_by_address(&k)?.map(|c| c.alias),
                    None => None,
                };
                let last = cs
                    .last
                    .take()
                    .map(|m| MessageView::read(s, m))
                    .transpose()?;
                Ok((cs, by, last))
            })
            .await?;
        self.view(cs.contact, cs.unread, last, by)
            .ok_or(Error::Bug("stored contact has an invalid key"))
    }

    /// Find a contact by the alias we gave it.
    pub async fn contact_by_alias(&self, alias: &str) -> Result<ContactView> {
        self.check_unlocked()?;
        let a = alias.to_owned();
        let c = self
            .inner
            .store
            .call(move |s| s.contact_by_alias(&a))
            .await?;
        match c {
            Some(c) => self.contact(c.id).await,
            None => Err(Error::NotFound(format!("contact {alias:?}"))),
        }
    }

    /// Add a contact from their link. They must accept (or have added us
    /// too) before messages flow; ours wait queued until then.
    pub async fn add_contact(&self, link: &ContactLink, alias: &str) -> Result<ContactView> {
        self.check_unlocked()?;
        validate_alias(alias)?;
        if link.address == self.inner.address {
            return Err(Error::BadInput("that is this profile's own link".into()));
        }
        let address = link.address.to_bytes();
        let alias_owned = alias.to_owned();
        let tcp_hint = link.tcp.map(|t| t.to_string());
        let id = self
            .inner
            .store
            .call(move |s| {
                if let Some(existing) = s.contact_by_address(&address)? {
                    // They asked us first: adding their link is accepting them.
                    if existing.state == ContactState::IncomingRequest {
                        let mut c = existing;
                        c.state = ContactState::Accepted;
                        c.alias = alias_owned;
                        if tcp_hint.is_some() {
                            c.tcp_hint = tcp_hint;
                        }
                        s.update_contact(&c)?;
                        return Ok(Ok(c.id));
                    }
                    return Ok(Err(()));
                }
                s.add_contact(&NewContact {
                    address,
                    alias: alias_owned,
                    state: ContactState::Outgoing,
                    origin: ContactOrigin::Link,
                    verified: false,
                    tcp_hint,
                    their_name: None,
                    added_at: Timestamp::now(),
                })
                .map(Ok)
            })
            .await?
            .map_err(|()| Error::AlreadyExists("a contact with this address".into()))?;
        self.emit(Event::ContactsChanged);
        let view = self.contact(id).await?;
        crate::net::contact_changed(&self.inner, id, Some(view.state)).await;
        Ok(view)
    }

    /// Accept a contact request (also a declined one).
    pub async fn accept_contact(&self, id: ContactId) -> Result<()> {
        self.transition(id, |c| c.state.accept()).await
    }

    /// Decline a contact request: they are not told, and cannot message us.
    pub async fn decline_contact(&self, id: ContactId) -> Result<()> {
        self.transition(id, |c| c.state.decline()).await
    }

    /// Put a declined request back among the pending ones ("un-decline").
    pub async fn restore_request(&self, id: ContactId) -> Result<()> {
        self.transition(id, |c| c.state.restore()).await
    }

    /// Block a contact or a request: its live session closes now, its
    /// connections are refused right after the handshake, and it never comes
    /// back as a new request. It is answered as a pending request is.
    pub async fn block_contact(&self, id: ContactId) -> Result<()> {
        self.transition(id, |c| c.state.block()).await
    }

    /// Unblock: a request becomes a pending request again; a contact we
    /// added waits for them to answer, as after adding their link.
    pub async fn unblock_contact(&self, id: ContactId) -> Result<()> {
        self.transition(id, |c| c.state.unblock(c.origin)).await
    }

    /// Apply one step of the contact state machine, atomically in the store,
    /// then bring the network in line (close sessions, start or wake dialers).
    async fn transition(
        &self,
        id: ContactId,
        step: impl FnOnce(&Contact) -> std::result::Result<ContactState, NotAllowed> + Send + 'static,
    ) -> Result<()> {
        self.check_unlocked()?;
        let outcome = self
            .inner
            .store
            .call(move |s| {
                s.update_contact_with(id, |c| {
                    c.state = step(c)?;
                    Ok(c.clone())
                })
            })
            .await?;
        let c = outcome.map_err(|e: NotAllowed| Error::BadInput(e.explain()))?;
        {
            let mut blocked = self.inner.blocked.locked();
            if c.state == ContactState::Blocked {
                blocked.insert(c.address);
            } else {
                blocked.remove(&c.address);
            }
        }
        self.emit(Event::ContactsChanged);
        crate::net::contact_changed(&self.inner, id, Some(c.state)).await;
        Ok(())
    }

    /// Remove a contact and its conversation; a live session closes now.
    pub async fn remove_contact(&self, id: ContactId) -> Result<()> {
        self.check_unlocked()?;
        let c = self.inner.store.call(move |s| s.contact(id)).await?;
        self.inner.store.call(move |s| s.delete_contact(id)).await?;
        self.inner.blocked.locked().remove(&c.address);
        crate::intro::contact_removed(&self.inner, id).await?;
        crate::net::contact_changed(&self.inner, id, None).await;
        self.emit(Event::ContactsChanged);
        Ok(())
    }

    /// Rename a contact.
    pub async fn rename_contact(&self, id: ContactId, alias: &str) -> Result<()> {
        self.check_unlocked()?;
        validate_alias(alias)?;
        let a = alias.to_owned();
        self.inner
            .store
            .call(move |s| {
                let mut c = s.contact(id)?;
                c.alias = a;
                s.update_contact(&c)
            })
            .await?;
        self.emit(Event::ContactsChanged);
        Ok(())
    }

    /// The safety number of this profile and a contact: the same on both
    /// devices (see [`SafetyNumber`]). Comparing it, aloud or side by side,
    /// verifies a contact added by link; then [`Profile::mark_verified`].
    pub async fn safety_number(&self, id: ContactId) -> Result<SafetyNumber> {
        self.check_unlocked()?;
        let c = self.inner.store.call(move |s| s.contact(id)).await?;
        let theirs = kith_core::IdentityKey::from_bytes(&c.address)
            .map_err(|_| Error::Bug("stored contact has an invalid key"))?;
        Ok(SafetyNumber::new(&self.inner.identity.public(), &theirs))
    }

    /// Mark a contact verified (its safety number compared, see
    /// [`Profile::safety_number`]) or no longer verified. Stored at once;
    /// front ends hear [`Event::ContactsChanged`] when it changed.
    pub async fn mark_verified(&self, id: ContactId, verified: bool) -> Result<()> {
        self.check_unlocked()?;
        let changed = self
            .inner
            .store
            .call(move |s| {
                s.update_contact_with(id, |c| {
                    let changed = c.verified != verified;
                    c.verified = verified;
                    Ok::<_, std::convert::Infallible>(changed)
                })
            })
            .await?;
        // Infallible: `f` never refuses.
        let Ok(changed) = changed;
        if changed {
            self.emit(Event::ContactsChanged);
        }
        Ok(())
    }

    /// Write a message. It is stored (queued) before this returns, and
    /// delivered when a session with the contact is up.
    pub async fn send(&self, contact: ContactId, text: &str) -> Result<MessageView> {
        self.send_reply(contact, text, None).await
    }

    /// A conversation, oldest first: texts, timer lines and files, with
    /// their quotes and reactions (not what was deleted).
    pub async fn messages(&self, contact: ContactId) -> Result<Vec<MessageView>> {
        self.check_unlocked()?;
        let ms = self
            .inner
            .store
            .call(move |s| {
                s.messages(contact)?
                    .into_iter()
                    .map(|m| MessageView::read(s, m))
                    .collect::<kith_store::Result<Vec<_>>>()
            })
            .await?;
        let mut ms = ms;
        for f in ms.iter_mut().filter_map(|m| m.file.as_mut()) {
            self.inner.transfers.overlay(f);
        }
        Ok(ms)
    }

    /// Mark a conversation read.
    pub async fn mark_read(&self, contact: ContactId) -> Result<()> {
        self.check_unlocked()?;
        Ok(self.inner.store.call(move |s| s.mark_read(contact)).await?)
    }

    /// Delete one message (on this device).
    pub async fn delete_message(&self, contact: ContactId, id: MessageId) -> Result<bool> {
        self.check_unlocked()?;
        Ok(self
            .inner
            .store
            .call(move |s| s.delete_message(contact, id))
            .await?)
    }

    /// The profile's settings.
    pub async fn settings(&self) -> Result<Settings> {
        self.check_unlocked()?;
        self.inner.settings().await
    }

    /// Our contacts-only address: where contacts reach us, never in a
    /// link (its descriptor is readable by our contacts alone).
    pub fn contacts_address(&self) -> OnionAddress {
        kith_core::reach::contacts_service_key(&self.inner.identity).address()
    }

    /// Whether our request address (the one in our link) takes contact
    /// requests.
    pub async fn requests(&self) -> Result<crate::Requests> {
        self.check_unlocked()?;
        crate::reach::requests(&self.inner).await
    }

    /// Open or close our request address to contact requests, or open it
    /// for a while ([`crate::Requests::OpenUntil`], at most
    /// [`crate::Requests::MAX_WINDOW`] ahead). Over Tor, a closed request
    /// address is not published at all while no meeting or new contact
    /// needs it; contacts reach us at our contacts address.
    pub async fn set_requests(&self, requests: crate::Requests) -> Result<()> {
        self.check_unlocked()?;
        crate::reach::set_requests(&self.inner, requests).await
    }

    /// Replace the profile's settings.
    pub async fn set_settings(&self, settings: Settings) -> Result<()> {
        self.check_unlocked()?;
        let bytes = postcard::to_stdvec(&settings).map_err(|_| Error::Bug("settings encode"))?;
        Ok(self
            .inner
            .store
            .call(move |s| s.set_setting(SETTINGS_KEY, &bytes))
            .await?)
    }

    /// Change the password. The old one must be right.
    pub async fn change_password(&self, old: Password, new: Password) -> Result<()> {
        self.check_unlocked()?;
        if new.is_empty() {
            return Err(Error::BadInput("the new password is empty".into()));
        }
        let kdf = self
            .inner
            .kith
            .upgrade()
            .map(|k| k.config.kdf.params())
            .ok_or(Error::Locked)?;
        let (old, new) = (old.bytes(), new.bytes());
        Ok(self
            .inner
            .store
            .call(move |s| s.change_password(&old, &new, kdf))
            .await?)
    }

    pub(crate) fn emit(&self, e: Event) {
        self.inner.emit(e);
    }

    /// Go offline and close the store. The handle is unusable afterwards.
    pub(crate) async fn shutdown(&self) {
        self.go_offline().await;
        crate::conversation::clear_session_histories(&self.inner).await;
        self.inner.locked.store(true, Ordering::Release);
        let _ = self.inner.store.clone().close().await;
    }
}

impl ProfileInner {
    pub(crate) fn emit(&self, e: Event) {
        // No subscribers is fine.
        let _ = self.events.send(e);
    }

    pub(crate) async fn settings(&self) -> Result<Settings> {
        let v = self.store.call(|s| s.setting(SETTINGS_KEY)).await?;
        match v {
            None => Ok(Settings::default()),
            Some(b) => kith_core::wire::decode_exact("settings", &b)
                .map_err(|_| Error::Store(kith_store::Error::corrupt("settings"))),
        }
    }
}
