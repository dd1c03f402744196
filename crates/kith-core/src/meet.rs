//! Meeting in person: the codes two devices show each other, and the
//! confirmation that both scanned the other's (in the spirit of Briar's BQP).
//!
//! Each device makes a fresh ephemeral X25519 key for one meeting and shows
//! a **meet code**: its identity key (which is its onion address) and a
//! commitment to that ephemeral key. After both have scanned, the devices
//! open a normal authenticated session (the peer must be the identity in the
//! scanned code), reveal their ephemeral keys, check them against the
//! commitments, and each sends a confirmation derived from the ephemeral
//! Diffie-Hellman value and a transcript of both codes and the session.
//! A swapped, replayed (old), shoulder-surfed or altered code fails with a
//! typed [`MeetFailure`]. The byte layout is `docs/protocol.md` § 8.
//!
//! Sans-IO: this module only computes; `kith-node` runs the exchange.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::identity::IdentityKey;

/// The prefix of a meet code (matched case-insensitively).
pub const SCHEME: &str = "kith-meet:";
/// The meet code versions this build reads.
///
/// REMOVING ELEMENTS FROM THIS LIST BREAKS OLDER PEERS.
pub const SUPPORTED_VERSIONS: &[u8] = &[1];
/// The version of the codes we show.
pub const CURRENT_VERSION: u8 = 1;
/// Bytes of the commitment to the ephemeral key.
pub const COMMITMENT_LEN: usize = 16;
/// Bytes of the checksum that ends every code.
pub const CHECKSUM_LEN: usize = 4;
/// The longest meet code text we read, in bytes (the longest real one, with
/// an IPv6 hint, is 103).
pub const MAX_CODE_LEN: usize = 160;
/// How long one meeting may take, from showing the code to the confirmation.
pub const MEET_DEADLINE_SECS: u64 = 10 * 60;

const COMMIT_LABEL: &[u8] = b"kith/meet/v1 commit";
const CHECKSUM_LABEL: &[u8] = b"kith/meet/v1 checksum";
const TRANSCRIPT_LABEL: &[u8] = b"kith/meet/v1 transcript";
const CONFIRM_DIALER: &[u8] = b"kith/meet/v1 confirm dialer";
const CONFIRM_LISTENER: &[u8] = b"kith/meet/v1 confirm listener";

/// Why a meeting failed. Every failure ends the meeting; nothing is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum MeetFailure {
    /// The text is not a meet code at all.
    #[error("this is not a meet code (a meet code starts with kith-meet:)")]
    NotACode,
    /// The code does not decode or its checksum fails: mistyped, cut, altered.
    #[error("the code is damaged or was altered (its checksum fails): scan or copy it again")]
    Damaged,
    /// A code of a version we do not read.
    #[error("the code is of version {0}, which this Kith does not read: update Kith")]
    UnsupportedVersion(u8),
    /// The identity in the code is not a usable key.
    #[error("the code names an invalid identity key")]
    BadIdentity,
    /// The code scanned is this device's own.
    #[error("this is your own code: scan the other device's code")]
    OwnCode,
    /// The ephemeral key the peer revealed does not match the code's
    /// commitment: an old code (its key is gone) or an altered one.
    #[error(
        "the other device's key does not match the code you scanned: the code is old (replayed) or was altered; show and scan new codes"
    )]
    CommitmentMismatch,
    /// The confirmations differ: the two devices did not scan each other's
    /// codes as shown.
    #[error(
        "the confirmation failed: the two devices did not scan each other's codes exactly as shown (a swapped or altered code)"
    )]
    ConfirmationMismatch,
    /// The peer revealed a key whose Diffie-Hellman value is not secret.
    #[error("the other device sent an invalid key")]
    WeakKey,
    /// The peer found that the code it scanned for us is not ours (our
    /// commitment or confirmation did not match on its side).
    #[error(
        "the other device rejected the exchange: the code it scanned is not this device's current code (old, altered or someone else's)"
    )]
    TheyRejected,
    /// The peer is not meeting us: it scanned someone else's code, has not
    /// started a meeting, or its meeting ended.
    #[error(
        "the other device is not expecting you: it scanned someone else's code, or it is not meeting anyone now"
    )]
    NotExpected,
    /// The peer's meeting was cancelled, or it failed locally.
    #[error("the other device cancelled the meeting")]
    TheyCancelled,
    /// No meeting finished in time.
    #[error(
        "no meeting completed in time: were both devices online, and did the other device scan your code?"
    )]
    Expired,
    /// No meeting is in progress on this profile.
    #[error("no meeting in progress: start one (show your code) first")]
    NoMeeting,
    /// Another meeting was started on this profile, replacing this one.
    #[error("another meeting was started on this profile")]
    Replaced,
}

impl MeetFailure {
    /// Where this failure comes from.
    pub fn kind(self) -> crate::ErrorKind {
        use crate::ErrorKind as K;
        match self {
            MeetFailure::NotACode | MeetFailure::Damaged | MeetFailure::OwnCode => K::BadLocalInput,
            MeetFailure::BadIdentity => K::BadLocalInput,
            MeetFailure::UnsupportedVersion(_) => K::PeerIncompatible,
            MeetFailure::CommitmentMismatch
            | MeetFailure::ConfirmationMismatch
            | MeetFailure::TheyRejected => K::PeerAuthenticationFailed,
            MeetFailure::WeakKey => K::PeerProtocolViolation,
            MeetFailure::NotExpected | MeetFailure::TheyCancelled | MeetFailure::Expired => {
                K::PeerUnreachable
            }
            MeetFailure::NoMeeting => K::NotFound,
            MeetFailure::Replaced => K::Shutdown,
        }
    }
}

/// The 16-byte commitment to an ephemeral key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Commitment(pub [u8; COMMITMENT_LEN]);

impl std::fmt::Debug for Commitment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Commitment(..)")
    }
}

/// `SHA-256("kith/meet/v1 commit" ‖ ephemeral)[0..16]`.
pub fn commit(ephemeral: &[u8; 32]) -> Commitment {
    let h = Sha256::new()
        .chain_update(COMMIT_LABEL)
        .chain_update(ephemeral)
        .finalize();
    let mut c = [0_u8; COMMITMENT_LEN];
    c.copy_from_slice(&h[..COMMITMENT_LEN]);
    Commitment(c)
}

fn checksum(payload: &[u8]) -> [u8; CHECKSUM_LEN] {
    let h = Sha256::new()
        .chain_update(CHECKSUM_LABEL)
        .chain_update(payload)
        .finalize();
    let mut c = [0_u8; CHECKSUM_LEN];
    c.copy_from_slice(&h[..CHECKSUM_LEN]);
    c
}

/// What one device shows: who it is, and its commitment for this meeting.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MeetCode {
    /// The device's identity (its onion address).
    pub identity: IdentityKey,
    /// The commitment to its ephemeral key for this meeting.
    pub commitment: Commitment,
    /// Where it listens on the TCP transport (tests and LAN), if it does.
    pub tcp: Option<SocketAddr>,
}

impl MeetCode {
    /// The canonical payload bytes (without the checksum): what the
    /// transcript covers.
    ///
    /// `version ‖ identity[32] ‖ commitment[16] ‖ hint`, hint = `00` |
    /// `04 ‖ ipv4[4] ‖ port:u16be` | `06 ‖ ipv6[16] ‖ port:u16be`.
    pub fn payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 32 + COMMITMENT_LEN + 19);
        out.push(CURRENT_VERSION);
        out.extend_from_slice(&self.identity.to_bytes());
        out.extend_from_slice(&self.commitment.0);
        match self.tcp {
            None => out.push(0),
            Some(SocketAddr::V4(a)) => {
                out.push(4);
                out.extend_from_slice(&a.ip().octets());
                out.extend_from_slice(&a.port().to_be_bytes());
            }
            Some(SocketAddr::V6(a)) => {
                out.push(6);
                out.extend_from_slice(&a.ip().octets());
                out.extend_from_slice(&a.port().to_be_bytes());
            }
        }
        out
    }

    /// Parse the payload bytes (checksum already checked and removed).
    fn from_payload(p: &[u8]) -> Result<MeetCode, MeetFailure> {
        let (&version, rest) = p.split_first().ok_or(MeetFailure::Damaged)?;
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(MeetFailure::UnsupportedVersion(version));
        }
        if rest.len() < 32 + COMMITMENT_LEN + 1 {
            return Err(MeetFailure::Damaged);
        }
        let (id, rest) = rest.split_at(32);
        let (commitment, rest) = rest.split_at(COMMITMENT_LEN);
        let id: [u8; 32] = id.try_into().map_err(|_| MeetFailure::Damaged)?;
        let identity = IdentityKey::from_bytes(&id).map_err(|_| MeetFailure::BadIdentity)?;
        if identity.verifying_key().is_weak() {
            return Err(MeetFailure::BadIdentity);
        }
        let commitment = Commitment(commitment.try_into().map_err(|_| MeetFailure::Damaged)?);
        let tcp = match rest {
            [0] => None,
            [4, ip @ .., p1, p2] if ip.len() == 4 => {
                let ip: [u8; 4] = ip.try_into().map_err(|_| MeetFailure::Damaged)?;
                Some(SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::from(ip)),
                    u16::from_be_bytes([*p1, *p2]),
                ))
            }
            [6, ip @ .., p1, p2] if ip.len() == 16 => {
                let ip: [u8; 16] = ip.try_into().map_err(|_| MeetFailure::Damaged)?;
                Some(SocketAddr::new(
                    IpAddr::V6(Ipv6Addr::from(ip)),
                    u16::from_be_bytes([*p1, *p2]),
                ))
            }
            _ => return Err(MeetFailure::Damaged),
        };
        if tcp.is_some_and(|t| t.port() == 0) {
            return Err(MeetFailure::Damaged);
        }
        Ok(MeetCode {
            identity,
            commitment,
            tcp,
        })
    }

    /// Parse a code as shown or scanned. Surrounding white space is ignored;
    /// the scheme and the base32 text may be in either case.
    pub fn parse(s: &str) -> Result<MeetCode, MeetFailure> {
        let s = s.trim();
        if s.len() > MAX_CODE_LEN {
            return Err(MeetFailure::Damaged);
        }
        let n = SCHEME.len();
        if !s.get(..n).is_some_and(|p| p.eq_ignore_ascii_case(SCHEME)) {
            return Err(MeetFailure::NotACode);
        }
        let body = s[n..].to_ascii_uppercase();
        let bytes = data_encoding::BASE32_NOPAD
            .decode(body.as_bytes())
            .map_err(|_| MeetFailure::Damaged)?;
        // The version first: a future version may lay out the rest otherwise.
        let version = *bytes.first().ok_or(MeetFailure::Damaged)?;
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(MeetFailure::UnsupportedVersion(version));
        }
        if bytes.len() < 1 + CHECKSUM_LEN {
            return Err(MeetFailure::Damaged);
        }
        let (payload, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if !bool::from(checksum(payload).ct_eq(sum)) {
            return Err(MeetFailure::Damaged);
        }
        let code = MeetCode::from_payload(payload)?;
        // Canonical: what we print is what we read (no second spelling).
        if code.payload() != payload {
            return Err(MeetFailure::Damaged);
        }
        Ok(code)
    }

    fn encoded(&self) -> String {
        let mut bytes = self.payload();
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum);
        data_encoding::BASE32_NOPAD.encode(&bytes)
    }

    /// The payload of this code's QR code: upper case, so that the whole
    /// text fits QR's compact alphanumeric mode.
    pub fn qr_payload(&self) -> String {
        format!("{}{}", SCHEME.to_ascii_uppercase(), self.encoded())
    }
}

impl std::fmt::Display for MeetCode {
    /// `kith-meet:` and the lowercase base32 of `payload ‖ checksum`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SCHEME}{}", self.encoded().to_ascii_lowercase())
    }
}

impl std::str::FromStr for MeetCode {
    type Err = MeetFailure;
    fn from_str(s: &str) -> Result<Self, MeetFailure> {
        MeetCode::parse(s)
    }
}

/// This device's ephemeral key for one meeting. Zeroized on drop, never printed.
pub struct MeetSecret {
    secret: x25519_dalek::StaticSecret,
    public: [u8; 32],
}

impl std::fmt::Debug for MeetSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MeetSecret(..)")
    }
}

impl MeetSecret {
    /// A fresh key.
    pub fn random<R: rand_core::CryptoRngCore + ?Sized>(rng: &mut R) -> MeetSecret {
        let mut b = zeroize::Zeroizing::new([0_u8; 32]);
        rng.fill_bytes(&mut *b);
        Self::from_bytes(*b)
    }

    /// A fixed key, for test vectors only: a meeting's key must be fresh.
    pub fn dangerously_from_bytes_for_testing_only(bytes: [u8; 32]) -> MeetSecret {
        Self::from_bytes(bytes)
    }

    fn from_bytes(bytes: [u8; 32]) -> MeetSecret {
        let secret = x25519_dalek::StaticSecret::from(bytes);
        let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        MeetSecret { secret, public }
    }

    /// The public key, revealed to the peer during the exchange.
    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// The commitment shown in our code.
    pub fn commitment(&self) -> Commitment {
        commit(&self.public)
    }

    /// Our code for this meeting.
    pub fn code(&self, identity: IdentityKey, tcp: Option<SocketAddr>) -> MeetCode {
        MeetCode {
            identity,
            commitment: self.commitment(),
            tcp,
        }
    }
}

/// Which side of the connection a device takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Opens the connection (the smaller identity key).
    Dialer,
    /// Waits on its normal onion service (the larger identity key).
    Listener,
}

/// Our role: the device whose identity key is smaller (as 32 bytes,
/// lexicographically) dials. Fails on our own code.
pub fn role(mine: &IdentityKey, theirs: &IdentityKey) -> Result<Role, MeetFailure> {
    let (m, t) = (mine.to_bytes(), theirs.to_bytes());
    match m.cmp(&t) {
        std::cmp::Ordering::Less => Ok(Role::Dialer),
        std::cmp::Ordering::Greater => Ok(Role::Listener),
        std::cmp::Ordering::Equal => Err(MeetFailure::OwnCode),
    }
}

/// The two confirmations of one exchange, as this device computed them.
pub struct Confirmations {
    mine: [u8; 32],
    theirs: [u8; 32],
}

impl std::fmt::Debug for Confirmations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Confirmations(..)")
    }
}

impl Confirmations {
    /// What we send.
    pub fn mine(&self) -> [u8; 32] {
        self.mine
    }

    /// Check what the peer sent, in constant time.
    pub fn check(&self, received: &[u8; 32]) -> Result<(), MeetFailure> {
        if bool::from(self.theirs.ct_eq(received)) {
            Ok(())
        } else {
            Err(MeetFailure::ConfirmationMismatch)
        }
    }
}

/// Everything one side needs to confirm an exchange.
#[derive(Debug)]
pub struct Exchange<'a> {
    /// Our ephemeral key.
    pub secret: &'a MeetSecret,
    /// Our side of the connection.
    pub role: Role,
    /// The code we showed.
    pub my_code: &'a MeetCode,
    /// The code we scanned.
    pub their_code: &'a MeetCode,
    /// The ephemeral public key the peer revealed.
    pub their_ephemeral: &'a [u8; 32],
    /// The Noise handshake hash of the session carrying the exchange.
    pub session_hash: &'a [u8; 32],
}

impl Exchange<'_> {
    /// Check the peer's ephemeral key against the commitment we scanned, and
    /// derive both confirmations:
    ///
    /// ```text
    /// T   = "kith/meet/v1 transcript" ‖ len(P_D):u8 ‖ P_D ‖ len(P_L):u8 ‖ P_L ‖ e_D ‖ e_L ‖ h
    /// prk = HMAC-SHA256(key = SHA-256(T), X25519(e_own, e_peer))
    /// c_D = HMAC-SHA256(prk, "kith/meet/v1 confirm dialer" ‖ 01)
    /// c_L = HMAC-SHA256(prk, "kith/meet/v1 confirm listener" ‖ 01)
    /// ```
    pub fn confirm(&self) -> Result<Confirmations, MeetFailure> {
        if commit(self.their_ephemeral) != self.their_code.commitment {
            return Err(MeetFailure::CommitmentMismatch);
        }
        let shared = self
            .secret
            .secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(*self.their_ephemeral));
        if !shared.was_contributory() {
            return Err(MeetFailure::WeakKey);
        }
        let (mine, theirs) = (self.my_code.payload(), self.their_code.payload());
        let own_e = self.secret.public;
        let (pd, pl, ed, el) = match self.role {
            Role::Dialer => (&mine, &theirs, &own_e, self.their_ephemeral),
            Role::Listener => (&theirs, &mine, self.their_ephemeral, &own_e),
        };
        let th = transcript_hash(pd, pl, ed, el, self.session_hash)?;
        let mut extract = Hmac::<Sha256>::new_from_slice(&th).map_err(|_| MeetFailure::WeakKey)?;
        extract.update(shared.as_bytes());
        let prk = zeroize::Zeroizing::new(<[u8; 32]>::from(extract.finalize().into_bytes()));
        let expand = |label: &[u8]| -> Result<[u8; 32], MeetFailure> {
            let mut m = Hmac::<Sha256>::new_from_slice(&*prk).map_err(|_| MeetFailure::WeakKey)?;
            m.update(label);
            m.update(&[1]);
            Ok(m.finalize().into_bytes().into())
        };
        let (cd, cl) = (expand(CONFIRM_DIALER)?, expand(CONFIRM_LISTENER)?);
        Ok(match self.role {
            Role::Dialer => Confirmations {
                mine: cd,
                theirs: cl,
            },
            Role::Listener => Confirmations {
                mine: cl,
                theirs: cd,
            },
        })
    }
}

fn transcript_hash(
    pd: &[u8],
    pl: &[u8],
    ed: &[u8; 32],
    el: &[u8; 32],
    h: &[u8; 32],
) -> Result<[u8; 32], MeetFailure> {
    let len = |p: &[u8]| u8::try_from(p.len()).map_err(|_| MeetFailure::Damaged);
    Ok(Sha256::new()
        .chain_update(TRANSCRIPT_LABEL)
        .chain_update([len(pd)?])
        .chain_update(pd)
        .chain_update([len(pl)?])
        .chain_update(pl)
        .chain_update(ed)
        .chain_update(el)
        .chain_update(h)
        .finalize()
        .into())
}

/// The messages of the exchange, carried in [`crate::PeerMessage::Meet`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MeetMessage {
    /// Dialer → listener, first after the session handshake: its ephemeral key.
    Offer {
        /// The dialer's ephemeral X25519 public key.
        ephemeral: [u8; 32],
    },
    /// Listener → dialer: its ephemeral key and its confirmation.
    Answer {
        /// The listener's ephemeral X25519 public key.
        ephemeral: [u8; 32],
        /// `c_L`.
        confirm: [u8; 32],
    },
    /// Dialer → listener: its confirmation.
    Confirm {
        /// `c_D`.
        confirm: [u8; 32],
    },
    /// Listener → dialer: the contact is stored on the listener's side.
    Done,
    /// Either side: the exchange failed or cannot happen now.
    Abort(AbortReason),
}

impl std::fmt::Debug for MeetMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MeetMessage::Offer { .. } => f.write_str("Offer(..)"),
            MeetMessage::Answer { .. } => f.write_str("Answer(..)"),
            MeetMessage::Confirm { .. } => f.write_str("Confirm(..)"),
            MeetMessage::Done => f.write_str("Done"),
            MeetMessage::Abort(r) => write!(f, "Abort({r:?})"),
        }
    }
}

/// Why a side aborts, on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum AbortReason {
    /// 0: not meeting this identity (no meeting, another code scanned, or the
    /// roles are the wrong way round). The dialer gives up.
    NotExpected,
    /// 1: meeting, but its user has not scanned a code yet. The dialer retries.
    NotReady,
    /// 2: the dialer's ephemeral key does not match the scanned commitment.
    CommitmentMismatch,
    /// 3: the confirmation received does not match.
    ConfirmationMismatch,
    /// 4: the meeting was cancelled or failed on this side.
    Cancelled,
}

impl AbortReason {
    /// What the side that receives this abort reports to its user.
    pub fn failure(self) -> MeetFailure {
        match self {
            AbortReason::NotExpected => MeetFailure::NotExpected,
            AbortReason::NotReady => MeetFailure::Expired,
            AbortReason::CommitmentMismatch | AbortReason::ConfirmationMismatch => {
                MeetFailure::TheyRejected
            }
            AbortReason::Cancelled => MeetFailure::TheyCancelled,
        }
    }

    /// What we tell the peer when our check failed with `f`.
    pub fn for_failure(f: MeetFailure) -> AbortReason {
        match f {
            MeetFailure::CommitmentMismatch | MeetFailure::WeakKey => {
                AbortReason::CommitmentMismatch
            }
            MeetFailure::ConfirmationMismatch => AbortReason::ConfirmationMismatch,
            _ => AbortReason::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IdentityKeypair;

    pub(crate) fn id(seed: u8) -> IdentityKey {
        IdentityKeypair::from_seed(&[seed; 32]).public()
    }

    fn secret(b: u8) -> MeetSecret {
        MeetSecret::dangerously_from_bytes_for_testing_only([b; 32])
    }

    #[test]
    fn codes_round_trip_in_either_case() {
        for tcp in [
            None,
            Some("127.0.0.1:9101".parse().unwrap()),
            Some("[2001:db8::1]:65535".parse().unwrap()),
        ] {
            let code = secret(3).code(id(1), tcp);
            let text = code.to_string();
            assert!(text.starts_with("kith-meet:"), "{text}");
            assert!(text.len() <= MAX_CODE_LEN);
            assert_eq!(MeetCode::parse(&text).unwrap(), code);
            assert_eq!(MeetCode::parse(&code.qr_payload()).unwrap(), code);
            assert_eq!(
                MeetCode::parse(&format!("  {}\n", text.to_uppercase())).unwrap(),
                code
            );
        }
    }

    #[test]
    fn bad_codes_are_named() {
        let code = secret(3).code(id(1), None).to_string();
        assert_eq!(MeetCode::parse("kith://abc"), Err(MeetFailure::NotACode));
        assert_eq!(MeetCode::parse(""), Err(MeetFailure::NotACode));
        // One character changed anywhere after the version: the checksum fails.
        for i in SCHEME.len() + 2..code.len() {
            let mut t = code.clone().into_bytes();
            t[i] = if t[i] == b'a' { b'b' } else { b'a' };
            let t = String::from_utf8(t).unwrap();
            if t == code {
                continue;
            }
            assert!(
                matches!(
                    MeetCode::parse(&t),
                    Err(MeetFailure::Damaged | MeetFailure::UnsupportedVersion(_))
                ),
                "{t}"
            );
        }
        assert_eq!(
            MeetCode::parse(&code[..code.len() - 1]),
            Err(MeetFailure::Damaged)
        );
        assert_eq!(
            MeetCode::parse(&format!("{code}!")),
            Err(MeetFailure::Damaged)
        );
        // A version-2 code is refused by its version, whatever follows.
        let v2 = format!("kith-meet:{}", data_encoding::BASE32_NOPAD.encode(&[2; 60]));
        assert_eq!(
            MeetCode::parse(&v2),
            Err(MeetFailure::UnsupportedVersion(2))
        );
        // A correct checksum over a weak (small-order) identity.
        let mut p = vec![1_u8];
        p.extend_from_slice(&[0; 32]);
        p[1] = 1; // the neutral element, y = 1
        p.extend_from_slice(&[7; COMMITMENT_LEN]);
        p.push(0);
        let mut with_sum = p.clone();
        with_sum.extend_from_slice(&checksum(&p));
        let weak = format!(
            "kith-meet:{}",
            data_encoding::BASE32_NOPAD.encode(&with_sum)
        );
        assert_eq!(MeetCode::parse(&weak), Err(MeetFailure::BadIdentity));
        assert_eq!(
            MeetCode::parse(&format!("kith-meet:{}", "a".repeat(200))),
            Err(MeetFailure::Damaged)
        );
    }

    struct Pair {
        sd: MeetSecret,
        sl: MeetSecret,
        cd: MeetCode,
        cl: MeetCode,
    }

    fn pair() -> Pair {
        let (d, l) = if role(&id(1), &id(2)).unwrap() == Role::Dialer {
            (id(1), id(2))
        } else {
            (id(2), id(1))
        };
        let (sd, sl) = (secret(3), secret(4));
        let cd = sd.code(d, None);
        let cl = sl.code(l, Some("127.0.0.1:9102".parse().unwrap()));
        Pair { sd, sl, cd, cl }
    }

    fn confirmations(
        p: &Pair,
        d_scanned: &MeetCode,
        l_scanned: &MeetCode,
        eph_d: [u8; 32],
        eph_l: [u8; 32],
    ) -> (
        Result<Confirmations, MeetFailure>,
        Result<Confirmations, MeetFailure>,
    ) {
        let h = [9_u8; 32];
        let d = Exchange {
            secret: &p.sd,
            role: Role::Dialer,
            my_code: &p.cd,
            their_code: d_scanned,
            their_ephemeral: &eph_l,
            session_hash: &h,
        }
        .confirm();
        let l = Exchange {
            secret: &p.sl,
            role: Role::Listener,
            my_code: &p.cl,
            their_code: l_scanned,
            their_ephemeral: &eph_d,
            session_hash: &h,
        }
        .confirm();
        (d, l)
    }

    #[test]
    fn honest_exchange_confirms_both_ways() {
        let p = pair();
        let (d, l) = confirmations(&p, &p.cl, &p.cd, p.sd.public(), p.sl.public());
        let (d, l) = (d.unwrap(), l.unwrap());
        d.check(&l.mine()).unwrap();
        l.check(&d.mine()).unwrap();
        // Distinct per role: a confirmation reflected back fails.
        assert_ne!(d.mine(), l.mine());
        assert_eq!(d.check(&d.mine()), Err(MeetFailure::ConfirmationMismatch));
    }

    #[test]
    fn replayed_tampered_and_swapped_codes_fail() {
        let p = pair();
        // Replayed: the dialer scanned an old code of the listener, whose key is gone.
        let old = secret(5).code(p.cl.identity, p.cl.tcp);
        let (d, _) = confirmations(&p, &old, &p.cd, p.sd.public(), p.sl.public());
        assert_eq!(d.unwrap_err(), MeetFailure::CommitmentMismatch);
        // Tampered hint (re-checksummed): commitments hold, confirmations differ.
        let mut tampered = p.cl.clone();
        tampered.tcp = Some("10.0.0.1:1".parse().unwrap());
        let again = MeetCode::parse(&tampered.to_string()).unwrap();
        let (d, l) = confirmations(&p, &again, &p.cd, p.sd.public(), p.sl.public());
        assert_eq!(
            l.unwrap().check(&d.unwrap().mine()),
            Err(MeetFailure::ConfirmationMismatch)
        );
        // A third party who saw the listener's code but not its key cannot
        // produce a matching ephemeral.
        let eve = secret(6);
        let (_, l) = confirmations(&p, &p.cl, &p.cd, eve.public(), p.sl.public());
        assert_eq!(l.unwrap_err(), MeetFailure::CommitmentMismatch);
        // A low-order ephemeral that somehow matched would still be refused.
        let zero = [0_u8; 32];
        let mut with_zero = p.cd.clone();
        with_zero.commitment = commit(&zero);
        let (_, l) = confirmations(&p, &p.cl, &with_zero, zero, p.sl.public());
        assert_eq!(l.unwrap_err(), MeetFailure::WeakKey);
    }

    #[test]
    fn roles_are_opposite_and_own_code_refused() {
        assert_eq!(role(&id(1), &id(1)), Err(MeetFailure::OwnCode));
        let a = role(&id(1), &id(2)).unwrap();
        let b = role(&id(2), &id(1)).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", secret(1)), "MeetSecret(..)");
        let p = pair();
        let (d, _) = confirmations(&p, &p.cl, &p.cd, p.sd.public(), p.sl.public());
        assert_eq!(format!("{:?}", d.unwrap()), "Confirmations(..)");
    }
    const VECTORS_DESCRIPTION: &str = "Meeting in person (docs/protocol.md section 8). \
        Identities from ed25519 seeds 01x32 and 02x32; the one with the smaller public key \
        is the dialer. Fixed ephemeral X25519 secrets 03x32 (dialer) and 04x32 (listener), \
        for testing only; the listener's code carries the TCP hint 127.0.0.1:9102. \
        session_hash_hex stands for the Noise handshake hash of the session. \
        Written by the kith-core unit test meet::tests::vectors with KITH_WRITE_VECTORS=1.";

    fn vectors_from_code() -> serde_json::Value {
        let p = pair();
        let h = [9_u8; 32];
        let d = Exchange {
            secret: &p.sd,
            role: Role::Dialer,
            my_code: &p.cd,
            their_code: &p.cl,
            their_ephemeral: &p.sl.public(),
            session_hash: &h,
        }
        .confirm()
        .unwrap();
        let th = transcript_hash(
            &p.cd.payload(),
            &p.cl.payload(),
            &p.sd.public(),
            &p.sl.public(),
            &h,
        )
        .unwrap();
        let side = |seed: u8, code: &MeetCode, s: &MeetSecret, eph: u8| {
            serde_json::json!({
                "ed25519_seed_hex": hex::encode([seed; 32]),
                "identity_hex": hex::encode(code.identity.to_bytes()),
                "ephemeral_secret_hex": hex::encode([eph; 32]),
                "ephemeral_public_hex": hex::encode(s.public()),
                "commitment_hex": hex::encode(code.commitment.0),
                "payload_hex": hex::encode(code.payload()),
                "code": code.to_string(),
                "qr_payload": code.qr_payload(),
            })
        };
        let seed_of = |c: &MeetCode| if c.identity == id(1) { 1 } else { 2 };
        serde_json::json!({
            "description": VECTORS_DESCRIPTION,
            "dialer": side(seed_of(&p.cd), &p.cd, &p.sd, 3),
            "listener": side(seed_of(&p.cl), &p.cl, &p.sl, 4),
            "session_hash_hex": hex::encode(h),
            "transcript_hash_hex": hex::encode(th),
            "confirm_dialer_hex": hex::encode(d.mine()),
            "confirm_listener_hex": hex::encode(d.theirs),
        })
    }

    /// `docs/vectors/meet.json` matches this code; `KITH_WRITE_VECTORS=1`
    /// rewrites it first (deterministic).
    #[test]
    fn vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/vectors/meet.json");
        let ours = vectors_from_code();
        if std::env::var_os("KITH_WRITE_VECTORS").is_some() {
            let json = serde_json::to_string_pretty(&ours).unwrap();
            std::fs::write(path, json + "\n").unwrap();
        }
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(file, ours);
        // The codes in the file parse to what they say.
        for side in ["dialer", "listener"] {
            let code = MeetCode::parse(file[side]["code"].as_str().unwrap()).unwrap();
            assert_eq!(
                hex::encode(code.payload()),
                file[side]["payload_hex"].as_str().unwrap()
            );
        }
    }
}
