//! What the engine shows front ends: views, events, settings.

use std::net::SocketAddr;

pub use kith_core::chat::DisappearTimer;
use kith_core::{MessageId, OnionAddress, Timestamp};
pub use kith_store::{
    ContactId, ContactOrigin, ContactState, ConversationSettings, Deletion, Direction, Edited,
    FileState, HistoryPolicy, MessageKind, MessageState, ReactionView,
};
pub use kith_transport::BridgeLine;
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
#[serde(from = "NetworkRepr", into = "NetworkRepr")]
pub enum Network {
    /// Through Tor onion services (the default). `extra_toml` is arti's own
    /// configuration merged over Kith's defaults (e.g. a test network).
    Tor {
        /// arti TOML, or `None` for the public Tor network.
        extra_toml: Option<String>,
        /// Bridges: when not empty, Tor is reached only through them (for
        /// networks that block Tor's relays). Each gets arti's pluggable
        /// transport if it names one (obfs4).
        bridges: Vec<BridgeLine>,
    },
    /// Plain TCP, for tests on loopback and for LAN use. Not anonymous.
    Tcp {
        /// Where to listen.
        listen: SocketAddr,
    },
}

impl Default for Network {
    fn default() -> Self {
        Network::Tor {
            extra_toml: None,
            bridges: vec![],
        }
    }
}

impl Network {
    /// Which kind of network this is, for front ends and `status`. Bridges
    /// do not change it: they are another way into the same network.
    pub fn kind(&self) -> NetworkKind {
        match self {
            Network::Tor {
                extra_toml: None, ..
            } => NetworkKind::Tor,
            Network::Tor {
                extra_toml: Some(_),
                ..
            } => NetworkKind::TorCustom,
            Network::Tcp { .. } => NetworkKind::Tcp,
        }
    }

    /// The bridges this network is reached through (none for TCP).
    pub fn bridges(&self) -> &[BridgeLine] {
        match self {
            Network::Tor { bridges, .. } => bridges,
            Network::Tcp { .. } => &[],
        }
    }
}

/// How [`Network`] is stored (postcard, in the sealed settings): variants
/// are numbered by position and never reordered. Settings written before
/// bridges existed hold variant 0 or 1 and still read; a Tor network with
/// bridges is variant 2, and one without is still written as variant 0.
#[derive(Serialize, Deserialize)]
enum NetworkRepr {
    Tor {
        extra_toml: Option<String>,
    },
    Tcp {
        listen: SocketAddr,
    },
    TorBridges {
        extra_toml: Option<String>,
        bridges: Vec<BridgeLine>,
    },
}

impl From<NetworkRepr> for Network {
    fn from(r: NetworkRepr) -> Self {
        match r {
            NetworkRepr::Tor { extra_toml } => Network::Tor {
                extra_toml,
                bridges: vec![],
            },
            NetworkRepr::Tcp { listen } => Network::Tcp { listen },
            NetworkRepr::TorBridges {
                extra_toml,
                bridges,
            } => Network::Tor {
                extra_toml,
                bridges,
            },
        }
    }
}

impl From<Network> for NetworkRepr {
    fn from(n: Network) -> Self {
        match n {
            Network::Tor {
                extra_toml,
                bridges,
            } if bridges.is_empty() => NetworkRepr::Tor { extra_toml },
            Network::Tor {
                extra_toml,
                bridges,
            } => NetworkRepr::TorBridges {
                extra_toml,
                bridges,
            },
            Network::Tcp { listen } => NetworkRepr::Tcp { listen },
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
/// "introduced by `<alias>`".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Introducer {
    /// The introducer's address (its identity key).
    pub address: OnionAddress,
    /// The alias we gave the introducer, while it is still our contact.
    pub alias: Option<String>,
}

/// A message as front ends show it: a text, a timer line
/// ([`MessageKind::Timer`], empty body) or a file.
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
    /// What it is.
    pub kind: MessageKind,
    /// The message it answers, with what its quote shows now.
    pub reply_to: Option<Reply>,
    /// Its reactions, at most one per side.
    pub reactions: Vec<ReactionView>,
    /// When its author last edited it (`body` is the edited text), and for
    /// ours whether the contact has the edit yet.
    pub edited: Option<Edited>,
    /// The disappearing timer it was written under.
    pub disappear: DisappearTimer,
    /// When it disappears from both sides, if it does.
    pub expires_at: Option<Timestamp>,
    /// The file, for [`MessageKind::File`] (its transfer as stored; a
    /// running one's speed comes from `Profile::file`).
    pub file: Option<Box<crate::file::FileView>>,
}

impl std::fmt::Debug for MessageView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageView")
            .field("id", &self.id)
            .field("direction", &self.direction)
            .field("state", &self.state)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The message a reply answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Its id.
    pub id: MessageId,
    /// What the quote shows.
    pub quote: QuoteView,
}

/// What a reply's quote shows now.
#[derive(Clone, PartialEq, Eq)]
pub enum QuoteView {
    /// The quoted message, as it is.
    Message {
        /// Who wrote it.
        direction: Direction,
        /// Its text (empty for a file).
        body: String,
    },
    /// It was deleted: "deleted message".
    Deleted,
    /// We never had it, or it disappeared or was cleared: "message not
    /// available".
    Unavailable,
}

impl std::fmt::Debug for QuoteView {
    // Never prints the text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuoteView::Message { direction, .. } => write!(f, "Message({direction:?})"),
            QuoteView::Deleted => f.write_str("Deleted"),
            QuoteView::Unavailable => f.write_str("Unavailable"),
        }
    }
}

impl MessageView {
    /// The view of a stored message, its quote read from `store`.
    pub(crate) fn read(
        store: &kith_store::Store,
        m: kith_store::Message,
    ) -> kith_store::Result<MessageView> {
        let reply_to = match m.reply_to {
            Some(id) => Some(Reply {
                id,
                quote: match store.quote(m.contact, id)? {
                    kith_store::Quote::Message(q) => QuoteView::Message {
                        direction: q.direction,
                        body: q.body,
                    },
                    kith_store::Quote::Deleted => QuoteView::Deleted,
                    kith_store::Quote::Unknown => QuoteView::Unavailable,
                },
            }),
            None => None,
        };
        Ok(MessageView {
            id: m.msg_id,
            contact: m.contact,
            direction: m.direction,
            body: m.body,
            state: m.state,
            time: m.sent_at,
            delivered_at: m.delivered_at,
            kind: m.kind,
            reply_to,
            reactions: m.reactions,
            edited: m.edited,
            disappear: m.disappear,
            file: match m.kind {
                MessageKind::File => store
                    .file(m.contact, m.msg_id)?
                    .map(|f| Box::new(crate::file::FileView::from_info(f))),
                _ => None,
            },
            expires_at: m.expires_at,
        })
    }
}

/// Why messages left a conversation without our user deleting them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// The contact, who wrote them, deleted them for both.
    ByThem,
    /// Their disappearing timer ran out.
    Expired,
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
    /// Contacts changed (added, accepted, removed, renamed, marked verified).
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
    /// A message was dropped into the inbox (see `Profile::inbox`).
    InboxDrop(MessageId),
    /// The inbox changed otherwise: switched on or off, a new address, its
    /// listener started or stopped (a TCP link's port is known only then),
    /// drops marked seen. Read `Profile::inbox_status` again.
    InboxChanged,
    /// Messages left a conversation: the contact deleted them, or they
    /// disappeared. Re-read the conversation.
    MessagesRemoved {
        /// Which conversation.
        contact: ContactId,
        /// Which messages.
        ids: Vec<MessageId>,
        /// Why.
        why: Removal,
    },
    /// The contact confirmed it removed our messages deleted for both.
    DeletedForEveryone {
        /// Which conversation.
        contact: ContactId,
        /// Which messages.
        ids: Vec<MessageId>,
    },
    /// A reaction to a message changed (theirs arrived, or ours was set).
    ReactionChanged {
        /// Which conversation.
        contact: ContactId,
        /// The message reacted to.
        target: MessageId,
    },
    /// Groups changed: one made, joined, left, dissolved; an invitation
    /// came; members changed. Read `Profile::groups` again.
    GroupsChanged,
    /// A group got messages (ours or relayed). Read its messages again.
    GroupMessages {
        /// Which group.
        group: kith_core::group::GroupId,
    },
    /// A message's text was edited (theirs arrived, or ours was written or
    /// acknowledged). Read the conversation again.
    MessageEdited {
        /// Which conversation.
        contact: ContactId,
        /// The message edited.
        id: MessageId,
    },
    /// A conversation's settings (disappearing timer, history policy)
    /// changed, or its history was cleared.
    ConversationChanged(ContactId),
    /// A file's transfer moved on (progress, at most a few times a second)
    /// or changed state (accepted, received, checked, refused, corrupt).
    /// Read `Profile::file` again.
    FileChanged {
        /// Which conversation.
        contact: ContactId,
        /// Which file (its message id).
        id: MessageId,
    },
    /// Feeds changed: subscribed, unsubscribed, renamed, fetched (or
    /// failed: see `FeedView::error`), items marked read. Read
    /// `Profile::feeds` again.
    FeedsChanged,
    /// A fetch found new items in a feed.
    FeedItems {
        /// Which feed.
        feed: crate::feed::FeedId,
        /// How many new items.
        new: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Settings {
        kith_core::wire::decode_exact("settings", bytes).unwrap()
    }

    /// Settings stored before bridges existed still read, and a network
    /// without bridges is still written the old way.
    #[test]
    fn settings_from_before_bridges_still_read() {
        // block_unknown = false, notify_with_text = true,
        // network = Some(Tor { extra_toml: Some("x") }), as postcard wrote it.
        let old = [0x00, 0x01, 0x01, 0x00, 0x01, 0x01, b'x'];
        let s = decode(&old);
        assert!(s.notify_with_text && !s.block_unknown);
        let tor = Network::Tor {
            extra_toml: Some("x".into()),
            bridges: vec![],
        };
        assert_eq!(s.network, Some(tor));
        assert_eq!(postcard::to_stdvec(&s).unwrap(), old);
        // network = Some(Tor { extra_toml: None })
        let s = decode(&[0x00, 0x00, 0x01, 0x00, 0x00]);
        assert_eq!(s.network, Some(Network::default()));
        assert_eq!(s.network.map(|n| n.kind()), Some(NetworkKind::Tor));
    }

    #[test]
    fn bridges_round_trip_and_keep_the_kind() {
        let line: BridgeLine = "127.0.0.1:5000 0123456789ABCDEF0123456789ABCDEF01234567"
            .parse()
            .unwrap();
        for extra_toml in [None, Some("[path_rules]\n".to_owned())] {
            let custom = extra_toml.is_some();
            let s = Settings {
                network: Some(Network::Tor {
                    extra_toml,
                    bridges: vec![line.clone()],
                }),
                ..Settings::default()
            };
            let bytes = postcard::to_stdvec(&s).unwrap();
            let back = decode(&bytes);
            assert_eq!(back, s);
            let net = back.network.unwrap();
            assert_eq!(net.bridges(), std::slice::from_ref(&line));
            let want = if custom {
                NetworkKind::TorCustom
            } else {
                NetworkKind::Tor
            };
            assert_eq!(net.kind(), want);
        }
        // A stored line that no longer parses is refused, not ignored.
        let mut bad = postcard::to_stdvec(&Settings {
            network: Some(Network::Tor {
                extra_toml: None,
                bridges: vec![line],
            }),
            ..Settings::default()
        })
        .unwrap();
        let at = bad.iter().position(|b| *b == b'5').unwrap();
        bad[at] = b'x';
        assert!(kith_core::wire::decode_exact::<Settings>("settings", &bad).is_err());
    }
}
