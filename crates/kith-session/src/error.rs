//! Errors of `kith-session`.

use kith_core::ErrorKind;

/// A failed handshake or record operation.
///
/// Messages never contain key material or plaintext. Any error returned by a
/// handshake step ends that handshake (the state was consumed); any error
/// from [`Session::open`](crate::Session::open) ends the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A frame body longer than [`MAX_FRAME`](crate::MAX_FRAME).
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A handshake message or record that is not well formed: wrong length,
    /// unknown type, non-zero padding, trailing bytes.
    #[error("malformed {object}: {reason}")]
    Malformed {
        /// What was being read.
        object: &'static str,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// The peer did not prove the identity it had to prove: the responder
    /// does not hold the key the initiator expected, or the initiator's
    /// identity binding is invalid.
    #[error("peer authentication failed in {stage}: {reason}")]
    PeerAuthentication {
        /// The handshake message being read.
        stage: &'static str,
        /// What failed.
        reason: &'static str,
    },
    /// The peers share no session protocol version.
    #[error("no common session protocol version (ours: {ours:?}, theirs: {theirs:?})")]
    PeerIncompatible {
        /// The versions we support.
        ours: Vec<u8>,
        /// The versions the peer offered (initiator) or chose (responder).
        theirs: Vec<u8>,
    },
    /// A record failed authenticated decryption: it was tampered with,
    /// replayed, reordered, or belongs to another session.
    #[error("record failed authentication (tampered, replayed or reordered)")]
    RecordAuthentication,
    /// The peer sent a record after its close record.
    #[error("record received after the peer's close record")]
    RecordAfterClose,
    /// The caller asked to dial a small-order ("weak") ed25519 key, which
    /// anyone could impersonate.
    #[error("the expected peer key is a small-order (weak) ed25519 key")]
    WeakExpectedKey,
    /// The caller asked to seal more than one record carries.
    #[error("plaintext of {len} bytes exceeds the record maximum of {max}")]
    PlaintextTooLarge {
        /// Its size.
        len: usize,
        /// The limit, [`MAX_RECORD_PLAINTEXT`](crate::MAX_RECORD_PLAINTEXT).
        max: usize,
    },
    /// The session was used after it ended (we sent a close record, or a
    /// previous record failed). The caller should have dropped it.
    #[error("session used after it ended: {reason}")]
    SessionEnded {
        /// Why it had ended.
        reason: &'static str,
    },
    /// An internal invariant failed: a bug in Kith (or in the Noise library).
    #[error("internal error in kith-session: {0}")]
    Internal(&'static str),
}

impl Error {
    /// Where this failure comes from and what the caller can do.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::FrameTooLarge { .. }
            | Error::Malformed { .. }
            | Error::RecordAuthentication
            | Error::RecordAfterClose => ErrorKind::PeerProtocolViolation,
            Error::PeerAuthentication { .. } => ErrorKind::PeerAuthenticationFailed,
            Error::PeerIncompatible { .. } => ErrorKind::PeerIncompatible,
            Error::PlaintextTooLarge { .. } | Error::WeakExpectedKey => ErrorKind::BadLocalInput,
            Error::SessionEnded { .. } | Error::Internal(_) => ErrorKind::Bug,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_keep_peer_local_and_bug_apart() {
        assert_eq!(
            Error::RecordAuthentication.kind(),
            ErrorKind::PeerProtocolViolation
        );
        assert_eq!(
            Error::PeerAuthentication {
                stage: "reply",
                reason: "x"
            }
            .kind(),
            ErrorKind::PeerAuthenticationFailed
        );
        assert_eq!(
            Error::PeerIncompatible {
                ours: vec![1],
                theirs: vec![2]
            }
            .kind(),
            ErrorKind::PeerIncompatible
        );
        assert_eq!(
            Error::PlaintextTooLarge { len: 1, max: 0 }.kind(),
            ErrorKind::BadLocalInput
        );
        assert_eq!(Error::Internal("x").kind(), ErrorKind::Bug);
    }
}
