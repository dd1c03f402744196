//! The crate's one error type.

use std::net::SocketAddr;
use std::time::Duration;

use kith_core::ErrorKind;

/// An error from a transport.
///
/// Messages never contain onion addresses, keys or peer IP addresses (except
/// a local listen address the caller chose).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TCP transport has no usable address for the peer.
    #[error("no TCP route to the peer: {reason}")]
    NoRoute {
        /// Why the hint was missing or unusable.
        reason: &'static str,
    },

    /// A TCP connection could not be made.
    #[error("could not connect to the peer over TCP")]
    Connect {
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// An operation took longer than its limit.
    #[error("timed out after {}s while {action}", timeout.as_secs())]
    Timeout {
        /// What was being done.
        action: &'static str,
        /// The limit.
        timeout: Duration,
        /// Whether the Tor client was ready for traffic at the time (always
        /// `true` for TCP); decides between peer and Tor trouble.
        tor_ready: bool,
    },

    /// The TCP transport was asked to listen but has no listen address.
    #[error("no TCP listen address configured")]
    NoListenAddress,

    /// A TCP listen address could not be bound.
    #[error("could not listen on {addr}")]
    Bind {
        /// The address the caller gave.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// Kith's or the caller's Tor configuration was rejected.
    #[error("invalid Tor configuration: {reason}")]
    TorConfig {
        /// What was wrong (names the key, never a secret).
        reason: String,
    },

    /// A bridge line was refused (arti's parser says why).
    #[error("invalid bridge line: {reason}")]
    BadBridge {
        /// What was wrong with it.
        reason: String,
    },

    /// A bridge needs a pluggable transport that is not installed, or that
    /// Kith does not start by itself.
    #[error("the {transport} bridges need a pluggable transport program: {hint}")]
    MissingTransport {
        /// The transport's name (`obfs4`).
        transport: String,
        /// What to do.
        hint: String,
    },

    /// A service nickname is not acceptable to arti.
    #[error("invalid onion service nickname")]
    BadNickname {
        /// arti's reason.
        #[source]
        source: tor_hsservice::InvalidNickname,
    },

    /// A restricted-discovery client list that Tor cannot serve.
    #[error("cannot restrict the onion service: {reason}")]
    BadDiscovery {
        /// What was wrong.
        reason: &'static str,
    },

    /// A listener with this nickname is already running on this Tor runtime.
    #[error("an onion service with this nickname is already running")]
    AlreadyListening,

    /// This nickname carried another key earlier in this process; arti keeps
    /// keys derived from the first one under it. Choose a fresh nickname.
    #[error("this onion service nickname was used with another key")]
    NicknameReused,

    /// arti failed.
    #[error("Tor failed while {action}")]
    Tor {
        /// What was being done.
        action: &'static str,
        /// Our classification of arti's error.
        kind: ErrorKind,
        /// arti's error (it redacts addresses in its messages by default).
        #[source]
        source: arti_client::Error,
    },

    /// A feed URL that Kith does not fetch (see `FeedUrl::parse`).
    #[error("cannot fetch this URL: {reason}")]
    BadFeedUrl {
        /// What was wrong with it.
        reason: &'static str,
    },

    /// The feed's server answered with something that is not HTTP/1.x as
    /// Kith reads it (a malformed status line or header, a bad chunk, a
    /// body cut short, a compression not asked for).
    #[error("invalid HTTP response from the feed's server: {reason}")]
    HttpMalformed {
        /// What was wrong.
        reason: &'static str,
    },

    /// The feed's server answered with a status other than 200 (after any
    /// redirects).
    #[error("the feed's server answered HTTP {status}")]
    HttpStatus {
        /// The status code.
        status: u16,
    },

    /// The feed's server redirected somewhere Kith does not follow (another
    /// scheme than http/https, from https to plain http, from an onion
    /// service to the open web, a malformed Location).
    #[error("refused to follow a redirect: {reason}")]
    RedirectRefused {
        /// Why.
        reason: &'static str,
    },

    /// The feed's server redirected more times than allowed.
    #[error("more than {max} redirects")]
    TooManyRedirects {
        /// The limit.
        max: u8,
    },

    /// A response header or body over its limit.
    #[error("the response {part} is larger than {max} bytes")]
    ResponseTooLarge {
        /// `"header"` or `"body"`.
        part: &'static str,
        /// The limit.
        max: usize,
    },

    /// The TLS handshake with the feed's server failed (an invalid or
    /// untrusted certificate, a name mismatch, a protocol error).
    #[error("TLS with the feed's server failed")]
    Tls {
        /// What rustls said (its error is inside).
        #[source]
        source: std::io::Error,
    },

    /// A stream to the feed's server failed while in use.
    #[error("the connection to the feed's server failed while {action}")]
    FeedIo {
        /// What was being done.
        action: &'static str,
        /// What the stream said.
        #[source]
        source: std::io::Error,
    },

    /// The transport, or the Tor runtime behind it, was shut down.
    #[error("the transport was shut down")]
    Shutdown,

    /// An internal invariant failed: a bug in Kith.
    #[error("internal error in kith-transport: {0}")]
    Bug(String),
}

impl Error {
    /// Where it failed and what the caller can do.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoRoute { .. } | Error::Connect { .. } => ErrorKind::PeerUnreachable,
            Error::Timeout { tor_ready, .. } => {
                if *tor_ready {
                    ErrorKind::PeerUnreachable
                } else {
                    ErrorKind::TorUnreachable
                }
            }
            Error::NoListenAddress
            | Error::TorConfig { .. }
            | Error::BadBridge { .. }
            | Error::MissingTransport { .. }
            | Error::BadNickname { .. }
            | Error::BadDiscovery { .. }
            | Error::NicknameReused => ErrorKind::BadLocalInput,
            Error::Bind { .. } => ErrorKind::LocalIo,
            Error::AlreadyListening => ErrorKind::AlreadyExists,
            Error::BadFeedUrl { .. } => ErrorKind::BadLocalInput,
            Error::HttpMalformed { .. }
            | Error::RedirectRefused { .. }
            | Error::TooManyRedirects { .. }
            | Error::ResponseTooLarge { .. } => ErrorKind::PeerProtocolViolation,
            Error::HttpStatus { status } => match status {
                404 | 410 => ErrorKind::NotFound,
                _ => ErrorKind::PeerUnreachable,
            },
            Error::Tls { source } => {
                let cert = source
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<rustls::Error>())
                    .is_some_and(|e| {
                        matches!(
                            e,
                            rustls::Error::InvalidCertificate(_)
                                | rustls::Error::NoCertificatesPresented
                        )
                    });
                if cert {
                    ErrorKind::PeerAuthenticationFailed
                } else {
                    ErrorKind::PeerUnreachable
                }
            }
            Error::FeedIo { .. } => ErrorKind::PeerUnreachable,
            Error::Tor { kind, .. } => *kind,
            Error::Shutdown => ErrorKind::Shutdown,
            Error::Bug(_) => ErrorKind::Bug,
        }
    }

    /// Wrap an arti error, classifying it.
    pub(crate) fn tor(action: &'static str, source: arti_client::Error) -> Self {
        let kind = classify(arti_client::HasKind::kind(&source));
        Error::Tor {
            action,
            kind,
            source,
        }
    }
}

/// arti's error kinds → ours: the peer's side, Tor's side, or ours.
fn classify(kind: arti_client::ErrorKind) -> ErrorKind {
    use arti_client::ErrorKind as K;
    match kind {
        // The service is not there, or refused us: it is the peer.
        K::OnionServiceNotFound
        | K::OnionServiceNotRunning
        | K::OnionServiceConnectionFailed
        | K::OnionServiceProtocolViolation
        | K::OnionServiceMissingClientAuth
        | K::OnionServiceWrongClientAuth
        | K::RemoteStreamClosed
        | K::RemoteStreamReset
        | K::RemoteStreamError
        | K::RemoteConnectionRefused
        | K::RemoteNetworkTimeout
        | K::RemoteNetworkFailed
        | K::RemoteProtocolViolation => ErrorKind::PeerUnreachable,
        // Our configuration or input.
        K::InvalidConfig
        | K::InvalidConfigTransition
        | K::OnionServiceAddressInvalid
        | K::InvalidStreamTarget
        | K::ForbiddenStreamTarget
        | K::FeatureDisabled => ErrorKind::BadLocalInput,
        K::PersistentStateAccessFailed
        | K::PersistentStateCorrupted
        | K::CacheAccessFailed
        | K::CacheCorrupted
        | K::KeystoreAccessFailed
        | K::KeystoreCorrupted
        | K::FsPermissions
        | K::LocalResourceAlreadyInUse
        | K::LocalResourceExhausted
        | K::NoHomeDirectory => ErrorKind::LocalIo,
        K::ArtiShuttingDown | K::ReactorShuttingDown => ErrorKind::Shutdown,
        K::Internal | K::BadApiUsage => ErrorKind::Bug,
        // Everything else is about reaching or using the Tor network.
        _ => ErrorKind::TorUnreachable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            Error::NoRoute { reason: "x" }.kind(),
            ErrorKind::PeerUnreachable
        );
        let t = |tor_ready| Error::Timeout {
            action: "dialing",
            timeout: Duration::from_secs(1),
            tor_ready,
        };
        assert_eq!(t(true).kind(), ErrorKind::PeerUnreachable);
        assert_eq!(t(false).kind(), ErrorKind::TorUnreachable);
        assert_eq!(Error::Shutdown.kind(), ErrorKind::Shutdown);
        assert_eq!(Error::Bug("x".into()).kind(), ErrorKind::Bug);
        assert_eq!(
            classify(arti_client::ErrorKind::OnionServiceNotFound),
            ErrorKind::PeerUnreachable
        );
        assert_eq!(
            classify(arti_client::ErrorKind::TorNetworkTimeout),
            ErrorKind::TorUnreachable
        );
        assert_eq!(classify(arti_client::ErrorKind::Internal), ErrorKind::Bug);
    }
}
