//! Errors of `kith-sync`.

use kith_core::ErrorKind;

/// An error from a replica or from reconciling with a peer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A frame from the peer that cannot be decoded.
    #[error("cannot decode {object}: {reason}")]
    Decode {
        /// What was being decoded.
        object: &'static str,
        /// Why it failed.
        reason: &'static str,
    },
    /// A frame of a protocol version we do not speak.
    #[error("unsupported {object} version {version}")]
    UnsupportedVersion {
        /// What was being decoded.
        object: &'static str,
        /// The version found.
        version: u8,
    },
    /// A frame or a list over its bound.
    #[error("{object} too large: {len}, at most {max}")]
    TooLarge {
        /// What was too large.
        object: &'static str,
        /// Its size (bytes or entries, as the object says).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The peer kept the reconciliation going past its bound.
    #[error("reconciliation took more than {max} rounds")]
    TooManyRounds {
        /// The bound.
        max: u32,
    },
    /// A reconciliation message after the reconciliation was over.
    #[error("reconciliation message after the end")]
    Finished,
    /// A group message that does not decode or verify (forged, altered,
    /// malformed).
    #[error("invalid group message: {0}")]
    Message(#[from] kith_core::Error),
    /// A group message of another group.
    #[error("message of another group")]
    WrongGroup,
    /// A group message whose author is not a member.
    #[error("author is not a member of the group")]
    NotAMember,
    /// A group message its group's policy does not take from its author
    /// (a blog's: a reader's top-level post, the owner's `Add`).
    #[error("not allowed in this group: {0}")]
    NotAllowed(&'static str),
    /// A message whose chain contradicts the author's earlier messages
    /// (names another author's message, or a sequence number that does not
    /// follow its predecessors).
    #[error("message out of its author's chain: {0}")]
    BadChain(&'static str),
    /// A cap of the replica was reached: nothing more is taken from this
    /// author or relayer for now.
    #[error("{what} over its cap of {max}")]
    OverCap {
        /// Which cap: "messages of one author", "bytes relayed by one peer", ...
        what: &'static str,
        /// The cap.
        max: usize,
    },
    /// An internal invariant was violated: a bug.
    #[error("internal error: {0}")]
    Bug(&'static str),
}

impl Error {
    /// A postcard decoding failure of kith-core's helper, as ours.
    pub(crate) fn from_decode(e: kith_core::Error) -> Self {
        match e {
            kith_core::Error::Decode { object, reason } => Error::Decode { object, reason },
            other => Error::Message(other),
        }
    }

    /// Where this failure comes from.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Decode { .. }
            | Error::TooLarge { .. }
            | Error::TooManyRounds { .. }
            | Error::Finished
            | Error::WrongGroup
            | Error::NotAMember
            | Error::NotAllowed(_)
            | Error::BadChain(_)
            | Error::OverCap { .. } => ErrorKind::PeerProtocolViolation,
            Error::UnsupportedVersion { .. } => ErrorKind::PeerIncompatible,
            Error::Message(e) => e.kind(),
            Error::Bug(_) => ErrorKind::Bug,
        }
    }
}
