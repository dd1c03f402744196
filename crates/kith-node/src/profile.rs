//! One unlocked profile: its identity, its store, its contacts and chats.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use kith_core::{ContactLink, IdentityKeypair, MessageId, OnionAddress, Timestamp};
use kith_store::{Contact, ContactId, ContactOrigin, ContactState, NewContact, StoreHandle};
use tokio::sync::{Notify, broadcast, mpsc, watch};

use crate::error::{Error, Result};
use crate::kith::KithInner;
use crate::model::{ContactView, Event, MessageView, Network, NetworkStatus, Password, Settings};
use crate::net::{Online, Outbound};

/// Events buffered per subscriber before it lags.
const EVENT_QUEUE: usize = 256;
/// Longest contact alias, in bytes.
pub const MAX_ALIAS: usize = 64;
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
    /// Live sessions per contact: (connection id, its outbound queue).
    pub(crate) conns: Mutex<HashMap<ContactId, Vec<LiveSession>>>,
    pub(crate) next_conn: AtomicU64,
    /// Wakes a contact's dialer early (new message, accepted request, session ended).
    pub(crate) wakers: Mutex<HashMap<ContactId, Arc<Notify>>>,
    /// Where we listen on TCP, when we do: goes into our link and Hello.
    pub(crate) tcp_hint: Mutex<Option<SocketAddr>>,
    pub(crate) locked: AtomicBool,
}

/// A live session: its id and its outbound queue.
pub(crate) type LiveSession = (u64, mpsc::Sender<Outbound>);

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
        || name.len() > kith_core::wire::MAX_NAME
        || name.chars().any(char::is_control)
    {
        return Err(Error::BadInput(format!(
            "a name has 1 to {} bytes and no control characters",
            kith_core::wire::MAX_NAME
        )));
    }
    Ok(())
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
        Ok(Profile {
            inner: Arc::new(ProfileInner {
                name: name.to_owned(),
                identity,
                address,
                store,
                kith,
                events,
                status,
                online: tokio::sync::Mutex::new(None),
                conns: Mutex::new(HashMap::new()),
                next_conn: AtomicU64::new(1),
                wakers: Mutex::new(HashMap::new()),
                tcp_hint: Mutex::new(None),
                locked: AtomicBool::new(false),
            }),
        })
    }

    fn check_unlocked(&self) -> Result<()> {
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
        let rows = self
            .inner
            .store
            .call(|s| {
                let mut out = vec![];
                for c in s.contacts()? {
                    let unread = s.unread_count(c.id)?;
                    let last = s.messages(c.id)?.pop();
                    out.push((c, unread, last));
                }
                Ok(out)
            })
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(c, unread, last)| self.view(c, unread, last.map(Into::into)))
            .collect())
    }

    fn view(&self, c: Contact, unread: u64, last: Option<MessageView>) -> Option<ContactView> {
        let address = kith_core::IdentityKey::from_bytes(&c.address)
            .ok()?
            .address();
        let online = self
            .inner
            .conns
            .locked()
            .get(&c.id)
            .is_some_and(|v| !v.is_empty());
        Some(ContactView {
            id: c.id,
            alias: c.alias,
            address,
            state: c.state,
            origin: c.origin,
            their_name: c.their_name,
            online,
            unread,
            last_message: last,
        })
    }

    /// One contact.
    pub async fn contact(&self, id: ContactId) -> Result<ContactView> {
        self.check_unlocked()?;
        let (c, unread, last) = self
            .inner
            .store
            .call(move |s| {
                let c = s.contact(id)?;
                Ok((c, s.unread_count(id)?, s.messages(id)?.pop()))
            })
            .await?;
        self.view(c, unread, last.map(Into::into))
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
                    tcp_hint,
                    their_name: None,
                    added_at: Timestamp::now(),
                })
                .map(Ok)
            })
            .await?
            .map_err(|()| Error::AlreadyExists("a contact with this address".into()))?;
        self.emit(Event::ContactsChanged);
        crate::net::contact_changed(&self.inner, id).await;
        self.contact(id).await
    }

    /// Accept a contact request.
    pub async fn accept_contact(&self, id: ContactId) -> Result<()> {
        self.set_state(
            id,
            ContactState::Accepted,
            &[
                ContactState::IncomingRequest,
                ContactState::Declined,
                ContactState::Accepted,
            ],
        )
        .await
    }

    /// Decline a contact request: they are not told, and cannot message us.
    pub async fn decline_contact(&self, id: ContactId) -> Result<()> {
        self.set_state(
            id,
            ContactState::Declined,
            &[ContactState::IncomingRequest, ContactState::Declined],
        )
        .await
    }

    async fn set_state(
        &self,
        id: ContactId,
        to: ContactState,
        from: &'static [ContactState],
    ) -> Result<()> {
        self.check_unlocked()?;
        let ok = self
            .inner
            .store
            .call(move |s| {
                let mut c = s.contact(id)?;
                if !from.contains(&c.state) {
                    return Ok(false);
                }
                c.state = to;
                s.update_contact(&c)?;
                Ok(true)
            })
            .await?;
        if !ok {
            return Err(Error::BadInput(
                "that contact is not a pending request".into(),
            ));
        }
        self.emit(Event::ContactsChanged);
        crate::net::contact_changed(&self.inner, id).await;
        Ok(())
    }

    /// Remove a contact and its conversation.
    pub async fn remove_contact(&self, id: ContactId) -> Result<()> {
        self.check_unlocked()?;
        self.inner.store.call(move |s| s.delete_contact(id)).await?;
        crate::net::contact_changed(&self.inner, id).await;
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

    /// Write a message. It is stored (queued) before this returns, and
    /// delivered when a session with the contact is up.
    pub async fn send(&self, contact: ContactId, text: &str) -> Result<MessageView> {
        self.check_unlocked()?;
        if text.trim().is_empty() {
            return Err(Error::BadInput("the message is empty".into()));
        }
        if text.len() > kith_core::wire::MAX_BODY {
            return Err(Error::BadInput(format!(
                "the message is too long ({} bytes, at most {})",
                text.len(),
                kith_core::wire::MAX_BODY
            )));
        }
        let id = MessageId::random(&mut rand::rngs::OsRng);
        let body = text.to_owned();
        let m = self
            .inner
            .store
            .call(move |s| {
                let c = s.contact(contact)?;
                if !matches!(c.state, ContactState::Accepted | ContactState::Outgoing) {
                    return Ok(None);
                }
                s.insert_outgoing(contact, id, &body, Timestamp::now())
                    .map(Some)
            })
            .await?
            .ok_or_else(|| Error::BadInput("accept this contact before writing to them".into()))?;
        crate::net::outbox_changed(&self.inner, contact).await;
        Ok(m.into())
    }

    /// A conversation, oldest first.
    pub async fn messages(&self, contact: ContactId) -> Result<Vec<MessageView>> {
        self.check_unlocked()?;
        let ms = self.inner.store.call(move |s| s.messages(contact)).await?;
        Ok(ms.into_iter().map(Into::into).collect())
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
