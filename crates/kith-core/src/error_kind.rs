//! The one classification of failures shared by every Kith crate.

/// Where an error came from and what the caller can do about it.
///
/// Every crate's error type has a `kind()` returning one of these, so a front
/// end can decide what to show without matching on each crate's variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A peer sent something that violates the protocol (malformed, oversized, wrong key).
    PeerProtocolViolation,
    /// A peer speaks a protocol version we do not support.
    PeerIncompatible,
    /// A peer presented a key other than the one we expected.
    PeerAuthenticationFailed,
    /// The peer could not be reached (offline, refused, timed out).
    PeerUnreachable,
    /// Input given locally (a link, a file, an argument) is malformed.
    BadLocalInput,
    /// The password did not unlock the store.
    WrongPassword,
    /// The local store is damaged or has been tampered with.
    StoreCorrupt,
    /// The local store or file system failed (disk full, permissions).
    LocalIo,
    /// Tor could not be started or reached.
    TorUnreachable,
    /// The thing asked for does not exist.
    NotFound,
    /// The thing being created exists already.
    AlreadyExists,
    /// The component was shut down.
    Shutdown,
    /// An internal invariant was violated: a bug in Kith.
    Bug,
}

impl ErrorKind {
    /// A short human description, for front ends.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorKind::PeerProtocolViolation => "the peer sent invalid data",
            ErrorKind::PeerIncompatible => "the peer runs an incompatible version",
            ErrorKind::PeerAuthenticationFailed => "the peer's key did not match",
            ErrorKind::PeerUnreachable => "the peer could not be reached",
            ErrorKind::BadLocalInput => "invalid input",
            ErrorKind::WrongPassword => "wrong password",
            ErrorKind::StoreCorrupt => "the profile's database is damaged",
            ErrorKind::LocalIo => "a local file operation failed",
            ErrorKind::TorUnreachable => "Tor could not be reached",
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::Shutdown => "shut down",
            ErrorKind::Bug => "internal error (a bug in Kith)",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}
