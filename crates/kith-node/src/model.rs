//! What the engine shows front ends: views, events, settings.

use std::net::SocketAddr;

use kith_core::{MessageId, OnionAddress, Timestamp};
pub use kith_store::{ContactId, ContactOrigin, ContactState, Direction, MessageState};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A password, zeroized on drop, never printed.
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wrap a password typed by the user.
    pub fn new(s: String) -> Self {
        Password(Zeroizing::new(s))
    }

    pub(crate) fn bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.as_bytes().to_vec())
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// How a profile connects to its contacts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Network {
    /// Through Tor onion services (the default). `extra_toml` is arti's own
    /// configuration merged over Kith's defaults (e.g. a test network).
    Tor {
        /// arti TOML, or `None` for the public Tor network.
        extra_toml: Option<String>,
    },
    /// Plain TCP, for tests on loopback and for LAN use. Not anonymous.
    Tcp {
        /// Where to listen.
        listen: SocketAddr,
    },
}

impl Default for Network {
    fn default() -> Self {
        Network::Tor { extra_toml: None }
    }
}

impl Network {
    /// Which kind of network this is, for front ends and `status`.
    pub fn kind(&self) -> NetworkKind {
        match self {
            Network::Tor { extra_toml: None } => NetworkKind::Tor,
            Network::Tor {
                extra_toml: Some(_),
            } => NetworkKind::TorCustom,
            Network::Tcp { .. } => NetworkKind::Tcp,
        }
    }
}

/// Which network a profile is on: front ends warn on anything but [`NetworkKind::Tor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetworkKind {
    /// The public Tor network with Kith's defaults.
    Tor,
    /// Tor with the user's own arti configuration (a test network, bridges, other
    /// directory authorities): not necessarily the public Tor network.
    TorCustom,
    /// Plain TCP: not anonymous.
    Tcp,
}

impl NetworkKind {
    /// `"tor"`, `"tor-custom"` or `"tcp"`, as `kith status --json` prints it.
    pub fn as_str(&self) -> &'static str {
        match self {
            NetworkKind::Tor => "tor",
            NetworkKind::TorCustom => "tor-custom",
            NetworkKind::Tcp => "tcp",
        }
    }
}

/// The state of a profile's network, for front ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkStatus {
    /// Not connected, by choice.
    Offline,
    /// Starting: Tor bootstrapping or the onion service publishing.
    Starting {
        /// 0–100.
        percent: u8,
        /// What is happening now.
        phase: String,
    },
    /// Reachable by contacts.
    Online {
        /// Whether our onion service is known to be published (always true for TCP).
        published: bool,
    },
    /// Could not go online.
    Failed {
        /// Why.
        error: String,
    },
}

/// Per-profile preferences, stored sealed in the profile's database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Settings {
    /// Drop contact requests from strangers without showing them.
    pub block_unknown: bool,
    /// Show message text in desktop notifications.
    pub notify_with_text: bool,
    /// The network to use when going online (None: Tor).
    pub network: Option<Network>,
}

/// A contact as front ends show it.
#[derive(Clone, Debug)]
pub struct ContactView {
    /// Its id in this profile.
    pub id: ContactId,
    /// The name we gave it.
    pub alias: String,
    /// Its address.
    pub address: OnionAddress,
    /// Where it stands.
    pub state: ContactState,
    /// How we know it (its provenance).
    pub origin: ContactOrigin,
    /// Whether its identity key is verified: met in person, or its safety
    /// number compared ([`crate::Profile::mark_verified`]).
    pub verified: bool,
    /// Who introduced us, for [`ContactOrigin::Introduced`].
    pub introducer: Option<Introducer>,
    /// The name it gave itself.
    pub their_name: Option<String>,
    /// Whether a session with it is up now.
    pub online: bool,
    /// Unread incoming messages.
    pub unread: u64,
    /// The newest message, for previews.
    pub last_message: Option<MessageView>,
}

/// The contact who introduced us to another, as front ends show it:
/// "introduced by <alias>".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Introducer {
    /// The introducer's address (its identity key).
    pub address: OnionAddress,
    /// The alias we gave the introducer, while it is still our contact.
    pub alias: Option<String>,
}

/// A message as front ends show it.
#[derive(Clone)]
pub struct MessageView {
    /// Its id.
    pub id: MessageId,
    /// The conversation.
    pub contact: ContactId,
    /// Ours or theirs.
    pub direction: Direction,
    /// The text.
    pub body: String,
    /// Queued, sent, delivered (ours) or received (theirs).
    pub state: MessageState,
    /// When its author wrote it.
    pub time: Timestamp,
    /// When the peer acknowledged it (ours only).
    pub delivered_at: Option<Timestamp>,
}

impl std::fmt::Debug for MessageView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageView")
            .field("id", &self.id)
            .field("direction", &self.direction)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl From<kith_store::Message> for MessageView {
    fn from(m: kith_store::Message) -> Self {
        MessageView {
            id: m.msg_id,
            contact: m.contact,
            direction: m.direction,
            body: m.body,
            state: m.state,
            time: m.sent_at,
            delivered_at: m.delivered_at,
        }
    }
}

/// Something happened that a front end may want to show.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A new message arrived (shown once, even if redelivered).
    MessageReceived {
        /// From whom.
        contact: ContactId,
        /// The message.
        message: MessageView,
    },
    /// One of our messages changed state.
    MessageState {
        /// In which conversation.
        contact: ContactId,
        /// Which message.
        id: MessageId,
        /// Its new state.
        state: MessageState,
    },
    /// A session with a contact came up.
    ContactOnline(ContactId),
    /// The last session with a contact ended.
    ContactOffline(ContactId),
    /// A stranger asked to become a contact.
    ContactRequest(ContactId),
    /// Contacts changed (added, accepted, removed, renamed).
    ContactsChanged,
    /// The network state changed.
    Network(NetworkStatus),
    /// Contact requests from strangers were dropped over the caps (too many
    /// pending, or arriving too fast). Shown as a count, never as a list.
    RequestsDropped {
        /// Requests dropped since the profile was unlocked.
        total: u64,
    },
    /// Something about introductions (offered to us, or made by us) changed.
    Introduction(crate::intro::IntroductionEvent),
}
