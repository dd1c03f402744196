//! How contacts reach us and how we reach them: one home for a profile's two
//! onion addresses (`docs/protocol.md` § 9, `docs/architecture.md` "Two
//! addresses").
//!
//! - The **request address** is the identity's own onion address, the one in
//!   our link. Strangers send contact requests there. Over Tor it is
//!   published only while it is needed: while the user takes requests
//!   ([`Requests`]), during a meeting in person, and while some contact we
//!   asked or accepted has not yet told us its contacts address (until then
//!   it is the only way they know to reach us).
//! - The **contacts address** is the onion service of a key derived from the
//!   identity ([`kith_core::reach::contacts_service_key`]), in restricted
//!   discovery mode: its descriptor is encrypted for the discovery keys of
//!   our contacts alone, so nobody else can even look it up. Contacts learn
//!   it in a [`Reach`] message at the start of every session.
//!
//! Over TCP (tests, LAN) there is one listener and no discovery: a closed
//! request address means strangers are answered as pending and not stored.

use std::sync::Arc;
use std::time::Duration;

use kith_core::reach::{contacts_service_key, discovery_secret};
use kith_core::wire::Reach;
use kith_core::{IdentityKey, Timestamp};
use kith_store::{Contact, ContactState};
use kith_transport::{DialTarget, MAX_DISCOVERY_CLIENTS, ServiceSpec};
use serde::{Deserialize, Serialize};

use crate::contact::ContactRules as _;
use crate::profile::ProfileInner;
use crate::{ContactId, Error, Result};

/// Settings key of [`Requests`] (its own key: [`crate::Settings`] keeps its
/// layout).
const REQUESTS_KEY: &str = "requests";

/// Whether our request address takes contact requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Requests {
    /// Open (the default): anyone with our link can ask.
    #[default]
    Open,
    /// Closed: over Tor the request address is not published at all (but
    /// see the module notes for when it still must be); over TCP strangers
    /// are answered as pending and not stored.
    Closed,
    /// Open until then, closed after.
    OpenUntil(Timestamp),
}

impl Requests {
    /// Whether requests are taken at `now`.
    pub fn is_open(self, now: Timestamp) -> bool {
        match self {
            Requests::Open => true,
            Requests::Closed => false,
            Requests::OpenUntil(t) => now < t,
        }
    }

    /// The longest window `kith requests window` accepts.
    pub const MAX_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);
}

/// Which of our two addresses a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Address {
    /// The identity's address (in our link).
    Request,
    /// The contacts-only address.
    Contacts,
    /// The inbox's address (its own key: `crate::inbox`), while it is on.
    Inbox,
}

impl Address {
    /// The arti nickname of this address's service.
    pub(crate) fn nickname(self, base: &str) -> String {
        match self {
            Address::Request => base.to_owned(),
            Address::Contacts => format!("{base}-c"),
            // Per key: see `crate::inbox::plan`.
            Address::Inbox => format!("{base}-i"),
        }
    }
}

/// What a listener should run now.
pub(crate) struct Plan {
    /// The service to run, or `None` for none.
    pub(crate) spec: Option<ServiceSpec>,
    /// When to look again even if nothing changes (a window closing).
    pub(crate) recheck_in: Option<Duration>,
}

/// The stored [`Requests`] setting.
pub(crate) async fn requests(p: &Arc<ProfileInner>) -> Result<Requests> {
    let v = p.store.call(|s| s.setting(REQUESTS_KEY)).await?;
    match v {
        None => Ok(Requests::default()),
        Some(b) => kith_core::wire::decode_exact("requests setting", &b)
            .map_err(|_| Error::Store(kith_store::Error::corrupt("requests setting"))),
    }
}

/// Store a new [`Requests`] setting; listeners follow at once.
pub(crate) async fn set_requests(p: &Arc<ProfileInner>, r: Requests) -> Result<()> {
    if let Requests::OpenUntil(t) = r {
        let now = Timestamp::now();
        let max = now
            .0
            .saturating_add(u64::try_from(Requests::MAX_WINDOW.as_millis()).unwrap_or(u64::MAX));
        if t.0 <= now.0 || t.0 > max {
            return Err(Error::BadInput(
                "a request window must end in the future, within 30 days".into(),
            ));
        }
    }
    let bytes = postcard::to_stdvec(&r).map_err(|_| Error::Bug("requests encode"))?;
    p.store
        .call(move |s| s.set_setting(REQUESTS_KEY, &bytes))
        .await?;
    changed(p);
    Ok(())
}

/// Something that decides what our listeners run changed: they look again.
pub(crate) fn changed(p: &ProfileInner) {
    p.reach_changes.send_modify(|n| *n = n.wrapping_add(1));
}

/// Whether a contact in this state may hold our contacts address's key.
fn authorized(c: &Contact) -> bool {
    c.state.may_have_session()
}

/// What the listener for `address` should run now. `tor`: over Tor (else
/// TCP, where only the request listener runs, always).
pub(crate) async fn plan(
    p: &Arc<ProfileInner>,
    address: Address,
    nickname: &str,
    tor: bool,
) -> Result<Plan> {
    if address == Address::Inbox {
        return crate::inbox::plan(p, nickname).await;
    }
    let nickname = address.nickname(nickname);
    match (address, tor) {
        (Address::Request, false) => Ok(Plan {
            spec: Some(ServiceSpec {
                identity: p.identity.clone(),
                nickname,
                discovery: None,
            }),
            recheck_in: None,
        }),
        (Address::Contacts, false) => Ok(Plan {
            spec: None,
            recheck_in: None,
        }),
        (Address::Request, true) => {
            let now = Timestamp::now();
            let setting = requests(p).await?;
            let contacts = p.store.call(|s| s.contacts()).await?;
            // People who can only know our request address yet.
            let waiting = contacts.iter().any(|c| {
                matches!(c.state, ContactState::Outgoing | ContactState::Accepted)
                    && c.reach.is_none()
            });
            let open = setting.is_open(now) || p.meet.in_progress() || waiting;
            let recheck_in = match setting {
                Requests::OpenUntil(t) if t.0 > now.0 => Some(Duration::from_millis(t.0 - now.0)),
                _ => None,
            };
            Ok(Plan {
                spec: open.then(|| ServiceSpec {
                    identity: p.identity.clone(),
                    nickname,
                    discovery: None,
                }),
                recheck_in,
            })
        }
        (Address::Inbox, _) => Err(Error::Bug("the inbox plans itself")),
        (Address::Contacts, true) => {
            let contacts = p.store.call(|s| s.contacts()).await?;
            let mut keys: Vec<_> = contacts
                .iter()
                .filter(|c| authorized(c))
                .filter_map(|c| c.reach.map(|r| r.discovery_key))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            if keys.len() > MAX_DISCOVERY_CLIENTS {
                tracing::warn!(
                    "more contacts than one contacts address serves; the newest reach us only at the request address"
                );
                keys.truncate(MAX_DISCOVERY_CLIENTS);
            }
            Ok(Plan {
                spec: (!keys.is_empty()).then(|| ServiceSpec {
                    identity: contacts_service_key(&p.identity),
                    nickname,
                    discovery: Some(keys),
                }),
                recheck_in: None,
            })
        }
    }
}

/// What we tell a contact at the start of a session.
pub(crate) fn ours(p: &ProfileInner, peer: &IdentityKey) -> Reach {
    Reach {
        contacts_service: contacts_service_key(&p.identity).public().to_bytes(),
        discovery_key: discovery_secret(&p.identity, peer).public(),
    }
}

/// Where to dial `c`. `contacts_first`: its contacts address when we know
/// it (else its request address, where a contact that has not told us
/// another can be reached).
pub(crate) fn target(p: &ProfileInner, c: &Contact, contacts_first: bool) -> Result<DialTarget> {
    let peer = IdentityKey::from_bytes(&c.address)?;
    let tcp = c.tcp_hint.as_deref().and_then(|h| h.parse().ok());
    Ok(match c.reach {
        Some(r) if contacts_first => DialTarget {
            address: IdentityKey::from_bytes(&r.contacts_service)?.address(),
            tcp,
            discovery: Some(discovery_secret(&p.identity, &peer)),
        },
        _ => DialTarget {
            address: peer.address(),
            tcp,
            discovery: None,
        },
    })
}

/// A contact told us how to reach it: keep it, and authorize its key on our
/// contacts address.
///
/// Both values are derived from the two identities (protocol § 9), so an
/// honest contact sends the same `Reach` every session. The first one is
/// kept; a later, different one is refused without any work: otherwise a
/// hostile contact could make us relaunch our contacts address (and so
/// cut every other contact off for a while) as often as it likes. A repeat
/// costs one read, no write.
pub(crate) async fn receive(p: &Arc<ProfileInner>, id: ContactId, r: Reach) -> Result<()> {
    // A bad key is refused before anything is stored.
    IdentityKey::from_bytes(&r.contacts_service)?;
    // `Some(true)`: new; `Some(false)`: as known; `None`: a change, refused.
    let outcome = p
        .store
        .call(move |s| {
            match s.contact(id)?.reach {
                Some(known) if known == r => return Ok(Some(false)),
                Some(_) => return Ok(None),
                None => {}
            }
            s.update_contact_with(id, |c| {
                c.reach = Some(r);
                Ok::<(), std::convert::Infallible>(())
            })?
            .unwrap_or_else(|never| match never {});
            Ok(Some(true))
        })
        .await?;
    match outcome {
        Some(true) => changed(p),
        Some(false) => {}
        None => return Err(Error::Protocol("a contact changed how it is reached")),
    }
    Ok(())
}
