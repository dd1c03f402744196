//! Errors of `kith-core`.

use crate::ErrorKind;
use crate::meet::MeetFailure;

/// An error from decoding or validating Kith data.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that are not a valid ed25519 public key.
    #[error("not a valid ed25519 public key")]
    InvalidKey,
    /// A signature that does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// A malformed onion address.
    #[error("invalid onion address: {0}")]
    BadAddress(&'static str),
    /// A malformed contact link.
    #[error("invalid contact link: {0}")]
    BadLink(&'static str),
    /// A wire frame that cannot be decoded.
    #[error("cannot decode {object}: {reason}")]
    Decode {
        /// What was being decoded.
        object: &'static str,
        /// Why it failed.
        reason: &'static str,
    },
    /// A wire frame of a protocol version we do not speak.
    #[error("unsupported {object} version {version}")]
    UnsupportedVersion {
        /// What was being decoded.
        object: &'static str,
        /// The version found.
        version: u8,
    },
    /// A value too large to be sent or accepted.
    #[error("{object} too large: {len} bytes, at most {max}")]
    TooLarge {
        /// What was too large.
        object: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A reaction that is not a short emoji.
    #[error("invalid reaction: {0}")]
    BadEmoji(&'static str),
    /// A disappearing timer of a duration that is not allowed.
    #[error("invalid disappearing timer: {secs} s (allowed: off, 5m, 1h, 1d, 7d, 30d)")]
    BadTimer {
        /// The duration asked for, in seconds.
        secs: u64,
    },
    /// A disappearing timer's name that is not one of the allowed ones.
    #[error("invalid disappearing timer (allowed: off, 5m, 1h, 1d, 7d, 30d)")]
    BadTimerName,
    /// A file name that is not safe (or is empty once made safe).
    #[error("invalid file name: {0}")]
    BadFileName(&'static str),
    /// A file over the size limit.
    #[error("file too large: {size} bytes, at most {max} ({} MiB)", max / (1024 * 1024))]
    FileTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A feed (RSS, Atom) that Kith does not read: malformed, not a feed,
    /// in an unsupported encoding, or refused before parsing (a document
    /// type or entity declaration, nesting too deep). The reason never
    /// quotes the feed.
    #[error("unreadable feed: {0}")]
    BadFeed(&'static str),
    /// A meeting in person failed (see [`MeetFailure`] for each reason).
    #[error("{0}")]
    Meet(#[from] MeetFailure),
}

impl Error {
    /// Where this failure comes from.
    ///
    /// Decoding errors are classed as peer violations: links and addresses
    /// typed by a user come through [`Error::BadLink`]/[`Error::BadAddress`],
    /// emoji, timers and file names checked before sending through their
    /// own variants. (The same values arriving in a peer message fail its
    /// decoding: [`Error::Decode`].)
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidKey
            | Error::BadAddress(_)
            | Error::BadLink(_)
            | Error::BadEmoji(_)
            | Error::BadTimer { .. }
            | Error::BadTimerName
            | Error::BadFileName(_)
            | Error::FileTooLarge { .. } => ErrorKind::BadLocalInput,
            Error::BadSignature => ErrorKind::PeerAuthenticationFailed,
            Error::Decode { .. } | Error::TooLarge { .. } | Error::BadFeed(_) => {
                ErrorKind::PeerProtocolViolation
            }
            Error::UnsupportedVersion { .. } => ErrorKind::PeerIncompatible,
            Error::Meet(f) => f.kind(),
        }
    }
}
