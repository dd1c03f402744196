#![doc = include_str!("../README.md")]

mod error;
mod fetch;
mod listener;
mod status;
mod tcp;
mod tor;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

use std::net::SocketAddr;

use futures::future::BoxFuture;
use kith_core::reach::{DiscoveryKey, DiscoverySecret};
use kith_core::{IdentityKeypair, OnionAddress};
use tokio::sync::watch;

pub use error::Error;
pub use fetch::{FeedUrl, FetchLimits, FetchedBody, MAX_FEED_URL, Scheme, USER_AGENT};
pub use listener::Listener;
pub use status::{ServiceState, TransportStatus};
pub use tcp::{TCP_DIAL_TIMEOUT, TcpTransport};
pub use tor::{
    BridgeLine, INTRO_RATE, MAX_BRIDGE_LINE, MAX_STREAMS_PER_CIRCUIT, TOR_DIAL_TIMEOUT, TorRuntime,
    TorSettings, TorTransport, quiet_arti_shutdown_panic,
};

/// The virtual port of every Kith onion service.
///
/// Dialers connect to `<address>.onion:ONION_PORT`; a Kith service answers
/// stream requests for this port only and refuses every other port with the
/// same `END` (reason `DONE`) that arti sends for an unknown port. Part of the
/// wire protocol: changing it is a breaking change (see `docs/transport.md`).
pub const ONION_PORT: u16 = 7867;

/// A byte stream to or from a peer: what every transport yields.
///
/// Implemented for every type with the bounds, so `tokio::net::TcpStream`
/// and arti's `DataStream` are both `AsyncStream`s.
pub trait AsyncStream:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static
{
}

impl<T> AsyncStream for T where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static
{
}

/// A boxed [`AsyncStream`].
pub type BoxStream = Box<dyn AsyncStream>;

/// Which transport this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// Onion services through the embedded arti client.
    Tor,
    /// Plain TCP to IP literals (loopback tests, LAN).
    Tcp,
}

/// Whom to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialTarget {
    /// The peer's Kith address, which is its onion address. The Tor transport dials it.
    pub address: OnionAddress,
    /// A TCP address for the peer. The TCP transport dials this and nothing
    /// else; without it, TCP dialing fails with [`Error::NoRoute`]. The Tor
    /// transport ignores it.
    pub tcp: Option<SocketAddr>,
    /// For a service in restricted discovery mode (a contacts address):
    /// our key for decrypting its descriptor. Tor only; TCP ignores it.
    pub discovery: Option<DiscoverySecret>,
}

/// What to listen as.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// The key the service runs under. For Tor, the onion service's identity
    /// key is derived from it, so the service's `.onion` address is exactly
    /// `identity.address()`.
    pub identity: IdentityKeypair,
    /// A name for the service, chosen by the node. arti names the service's
    /// state directory after it, so it must not be derived from the address.
    /// Must be unique among the live listeners of one Tor runtime; arti allows
    /// ASCII letters, digits, `-` and `_`.
    pub nickname: String,
    /// `Some`: the service is in restricted discovery mode, its descriptor
    /// readable only by the holders of these keys (at most
    /// [`MAX_DISCOVERY_CLIENTS`]; the list must not be empty). `None`:
    /// anyone who knows the address can reach it. Tor only; TCP ignores it.
    pub discovery: Option<Vec<DiscoveryKey>>,
}

/// Most clients one restricted service authorizes: each adds to a
/// descriptor whose size Tor bounds (arti recommends at most 160).
pub const MAX_DISCOVERY_CLIENTS: usize = 150;

/// A way to reach peers and be reached by them.
///
/// Object safe: the node holds an `Arc<dyn Transport>`. All futures are `Send`.
pub trait Transport: Send + Sync + 'static {
    /// Which transport this is.
    fn kind(&self) -> TransportKind;

    /// Open a stream to a peer, within the transport's dial timeout.
    ///
    /// Cancel safe: dropping the future abandons the attempt.
    fn dial<'a>(&'a self, target: &'a DialTarget) -> BoxFuture<'a, Result<BoxStream, Error>>;

    /// Start accepting streams as `spec`. Dropping the returned [`Listener`]
    /// stops the listener (and, for Tor, the onion service).
    ///
    /// One transport may listen several times with different keys and nicknames.
    fn listen(&self, spec: ServiceSpec) -> BoxFuture<'_, Result<Listener, Error>>;

    /// The transport's current status, updated as it changes.
    fn status(&self) -> watch::Receiver<TransportStatus>;
}
