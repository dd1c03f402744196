//! Errors of `kith-node`.

use kith_core::ErrorKind;

/// An error from the Kith engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The encrypted store failed (wrong password, corruption, disk).
    #[error("store: {0}")]
    Store(#[from] kith_store::Error),
    /// A transport failed.
    #[error("network: {0}")]
    Transport(#[from] kith_transport::Error),
    /// The encrypted session failed.
    #[error("session: {0}")]
    Session(#[from] kith_session::Error),
    /// Bad data (from a peer or from the user).
    #[error("{0}")]
    Data(#[from] kith_core::Error),
    /// A user-given value is not acceptable.
    #[error("{0}")]
    BadInput(String),
    /// No such profile, contact or message.
    #[error("{0} not found")]
    NotFound(String),
    /// The thing exists already.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The peer broke the protocol.
    #[error("peer protocol violation: {0}")]
    Protocol(&'static str),
    /// The peer did not answer in time.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The profile is locked or the engine shut down.
    #[error("the profile is locked")]
    Locked,
    /// A local file operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A drop into an inbox did not land.
    #[error("{0}")]
    Drop(#[from] crate::inbox::DropRefused),
    /// An internal invariant was violated.
    #[error("internal error: {0}")]
    Bug(&'static str),
}

impl Error {
    /// Where the failure comes from and what the caller can do.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Store(e) => e.kind(),
            Error::Transport(e) => e.kind(),
            Error::Session(e) => e.kind(),
            Error::Data(e) => e.kind(),
            Error::BadInput(_) => ErrorKind::BadLocalInput,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::AlreadyExists(_) => ErrorKind::AlreadyExists,
            Error::Protocol(_) => ErrorKind::PeerProtocolViolation,
            Error::Timeout(_) => ErrorKind::PeerUnreachable,
            Error::Locked => ErrorKind::Shutdown,
            Error::Io { .. } => ErrorKind::LocalIo,
            // Off, rotated, full or busy: that inbox cannot take it now.
            Error::Drop(_) => ErrorKind::PeerUnreachable,
            Error::Bug(_) => ErrorKind::Bug,
        }
    }
}

/// Result with the node's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
