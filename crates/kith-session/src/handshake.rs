//! The Noise XK handshake, bound to ed25519 identities.
//!
//! ```text
//! XK:  <- s
//!      ...
//!      -> e, es         hello:  payload = n:u8 ‖ versions[n]
//!      <- e, ee         reply:  payload = version:u8
//!      -> s, se         finish: payload = identity:32 ‖ signature:64
//! ```
//!
//! See `docs/protocol-session.md` for the byte-exact layout.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::frame;
use crate::record::Session;

/// The Noise protocol name.
pub const NOISE_PATTERN: &str = "Noise_XK_25519_ChaChaPoly_BLAKE2s";

/// The Noise prologue: a constant label for this handshake layout.
///
/// It is constant (not the version list) because both sides must know it
/// before the first message is read; the version lists travel in the
/// encrypted payloads, which the handshake hash covers just the same.
pub const PROLOGUE: &[u8] = b"kith/session";

/// Session protocol versions we speak, in the hello payload. Only 1 exists.
///
/// REMOVING A VERSION FROM THIS LIST CUTS OFF PEERS THAT SPEAK ONLY IT.
pub const SUPPORTED_VERSIONS: &[u8] = &[1];

/// Domain separation for the initiator's signature over the handshake hash.
pub const INITIATOR_BINDING_CONTEXT: &[u8] = b"kith-session-v1 initiator binding";

/// X25519 public key and ephemeral length.
const DH_LEN: usize = 32;
/// Poly1305 tag length.
pub(crate) const TAG_LEN: usize = 16;
/// BLAKE2s output length: the handshake hash.
pub(crate) const HASH_LEN: usize = 32;
/// ed25519 public key and signature lengths.
const IDENTITY_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;

/// Shortest hello body: `e ‖ AEAD(payload)` with an empty payload (which
/// then fails as malformed; this bound only keeps Noise from misreporting).
const HELLO_MIN_LEN: usize = DH_LEN + TAG_LEN;
/// The reply body: `e ‖ AEAD(version)`.
const REPLY_LEN: usize = DH_LEN + 1 + TAG_LEN;
/// The finish body: `AEAD(s) ‖ AEAD(identity ‖ signature)`.
const FINISH_PAYLOAD_LEN: usize = IDENTITY_LEN + SIGNATURE_LEN;
const FINISH_LEN: usize = DH_LEN + TAG_LEN + FINISH_PAYLOAD_LEN + TAG_LEN;

/// The X25519 static secret of an identity: the first half of
/// SHA-512(seed), from which ed25519 derives its secret scalar. X25519
/// clamps it on use exactly as ed25519 does, so its public key is the
/// Montgomery form of the ed25519 public key.
pub(crate) fn x25519_secret(identity: &SigningKey) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(identity.to_scalar_bytes())
}

/// The X25519 static public key of an identity.
pub fn x25519_public(identity: &VerifyingKey) -> [u8; 32] {
    identity.to_montgomery().to_bytes()
}

/// The bytes the initiator signs: context ‖ handshake hash before `finish`.
fn binding_input(handshake_hash: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(INITIATOR_BINDING_CONTEXT.len() + handshake_hash.len());
    m.extend_from_slice(INITIATOR_BINDING_CONTEXT);
    m.extend_from_slice(handshake_hash);
    m
}

/// A fixed ephemeral key: only the fuzzing harness and tests set one.
type FixedEphemeral<'a> = Option<&'a [u8; 32]>;

fn build(
    local_secret: &[u8],
    remote: Option<&[u8]>,
    fixed_ephemeral: FixedEphemeral<'_>,
    initiator: bool,
) -> Result<snow::HandshakeState> {
    let params: snow::params::NoiseParams = NOISE_PATTERN
        .parse()
        .map_err(|_| Error::Internal("Noise pattern does not parse"))?;
    let bug = |_| Error::Internal("building the Noise handshake");
    let mut b = snow::Builder::new(params)
        .prologue(PROLOGUE)
        .map_err(bug)?
        .local_private_key(local_secret)
        .map_err(bug)?;
    if let Some(remote) = remote {
        b = b.remote_public_key(remote).map_err(bug)?;
    }
    if let Some(e) = fixed_ephemeral {
        b = b.fixed_ephemeral_key_for_testing_only(e);
    }
    if initiator {
        b.build_initiator().map_err(bug)
    } else {
        b.build_responder().map_err(bug)
    }
}

/// Write one handshake message with `payload` as a whole frame.
fn write_frame(noise: &mut snow::HandshakeState, payload: &[u8]) -> Result<Vec<u8>> {
    // Upper bound: two public keys with tags plus the payload and its tag.
    let max = 2 * (DH_LEN + TAG_LEN) + payload.len() + TAG_LEN;
    let mut buf = frame::alloc(max)?;
    let n = noise
        .write_message(payload, &mut buf[frame::FRAME_HEADER_LEN..])
        .map_err(|_| Error::Internal("writing a handshake message"))?;
    frame::finish(buf, n)
}

/// Read one handshake message body, mapping failures to typed errors.
/// A failed decryption is an authentication failure: in XK every payload
/// is encrypted under a key that involves a static key.
fn read_body(
    noise: &mut snow::HandshakeState,
    body: &[u8],
    stage: &'static str,
    auth_reason: &'static str,
) -> Result<Vec<u8>> {
    let mut payload = vec![0_u8; body.len()];
    let n = noise
        .read_message(body, &mut payload)
        .map_err(|e| match e {
            snow::Error::Decrypt => Error::PeerAuthentication {
                stage,
                reason: auth_reason,
            },
            snow::Error::Input => Error::Malformed {
                object: stage,
                reason: "wrong length",
            },
            _ => Error::Internal("reading a handshake message"),
        })?;
    payload.truncate(n);
    Ok(payload)
}

fn handshake_hash(noise: &snow::HandshakeState) -> Result<[u8; HASH_LEN]> {
    noise
        .get_handshake_hash()
        .try_into()
        .map_err(|_| Error::Internal("handshake hash length"))
}

/// The dialing side, waiting for the responder's reply.
///
/// Made by [`Initiator::new`], which also returns the hello frame to send.
pub struct Initiator {
    noise: snow::HandshakeState,
    /// Kept to sign the binding; ed25519-dalek zeroizes it on drop.
    local: SigningKey,
    expected: VerifyingKey,
    versions: Vec<u8>,
}

impl std::fmt::Debug for Initiator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Initiator").finish_non_exhaustive()
    }
}

impl Initiator {
    /// Start a handshake with the peer whose identity is `expected` (the
    /// contact's address). Returns the state and the hello frame to send.
    ///
    /// Fails with a [`BadLocalInput`](kith_core::ErrorKind::BadLocalInput)
    /// error if `expected` is a small-order ("weak") key, which would let
    /// anyone impersonate it.
    pub fn new(local: &SigningKey, expected: &VerifyingKey) -> Result<(Initiator, Vec<u8>)> {
        Self::start(local, expected, SUPPORTED_VERSIONS, None)
    }

    pub(crate) fn start(
        local: &SigningKey,
        expected: &VerifyingKey,
        versions: &[u8],
        fixed_ephemeral: FixedEphemeral<'_>,
    ) -> Result<(Initiator, Vec<u8>)> {
        if expected.is_weak() {
            return Err(Error::WeakExpectedKey);
        }
        let secret = x25519_secret(local);
        let remote = x25519_public(expected);
        let mut noise = build(&secret[..], Some(&remote), fixed_ephemeral, true)?;
        let count =
            u8::try_from(versions.len()).map_err(|_| Error::Internal("too many versions"))?;
        let mut payload = Vec::with_capacity(1 + versions.len());
        payload.push(count);
        payload.extend_from_slice(versions);
        let hello = write_frame(&mut noise, &payload)?;
        Ok((
            Initiator {
                noise,
                local: local.clone(),
                expected: *expected,
                versions: versions.to_vec(),
            },
            hello,
        ))
    }

    /// Read the responder's reply (a frame body). On success the peer has
    /// proved it holds the expected identity; returns the session and the
    /// finish frame to send before any record.
    pub fn read_reply(mut self, body: &[u8]) -> Result<(Session, Vec<u8>)> {
        const STAGE: &str = "reply";
        frame::check_body(body)?;
        if body.len() != REPLY_LEN {
            return Err(Error::Malformed {
                object: STAGE,
                reason: "wrong length",
            });
        }
        let payload = read_body(
            &mut self.noise,
            body,
            STAGE,
            "the responder does not hold the expected identity key",
        )?;
        let &[version] = payload.as_slice() else {
            return Err(Error::Internal("reply payload length"));
        };
        if !self.versions.contains(&version) {
            return Err(Error::PeerIncompatible {
                ours: self.versions,
                theirs: vec![version],
            });
        }

        let signature = self
            .local
            .sign(&binding_input(self.noise.get_handshake_hash()));
        let mut payload = Vec::with_capacity(FINISH_PAYLOAD_LEN);
        payload.extend_from_slice(self.local.verifying_key().as_bytes());
        payload.extend_from_slice(&signature.to_bytes());
        let finish = write_frame(&mut self.noise, &payload)?;

        let hash = handshake_hash(&self.noise)?;
        let transport = self
            .noise
            .into_transport_mode()
            .map_err(|_| Error::Internal("handshake not finished after finish"))?;
        Ok((
            Session::new(transport, version, hash, self.expected),
            finish,
        ))
    }
}

/// The listening side, waiting for an initiator's hello.
pub struct Responder {
    noise: snow::HandshakeState,
    versions: Vec<u8>,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder").finish_non_exhaustive()
    }
}

impl Responder {
    /// Prepare to answer one incoming handshake as identity `local`.
    pub fn new(local: &SigningKey) -> Result<Responder> {
        Self::start(local, SUPPORTED_VERSIONS, None)
    }

    pub(crate) fn start(
        local: &SigningKey,
        versions: &[u8],
        fixed_ephemeral: FixedEphemeral<'_>,
    ) -> Result<Responder> {
        let secret = x25519_secret(local);
        let noise = build(&secret[..], None, fixed_ephemeral, false)?;
        Ok(Responder {
            noise,
            versions: versions.to_vec(),
        })
    }

    /// Read the initiator's hello (a frame body); returns the next state and
    /// the reply frame to send. Picks the highest version both sides speak.
    ///
    /// The initiator is not authenticated yet: that happens in
    /// [`ResponderAwaitingFinish::read_finish`]. On an error, close the
    /// stream without replying (there is no reply to send).
    pub fn read_hello(mut self, body: &[u8]) -> Result<(ResponderAwaitingFinish, Vec<u8>)> {
        const STAGE: &str = "hello";
        frame::check_body(body)?;
        if body.len() < HELLO_MIN_LEN {
            return Err(Error::Malformed {
                object: STAGE,
                reason: "too short",
            });
        }
        let payload = read_body(
            &mut self.noise,
            body,
            STAGE,
            "the initiator does not know our identity key",
        )?;
        let Some((&count, theirs)) = payload.split_first() else {
            return Err(Error::Malformed {
                object: STAGE,
                reason: "empty payload",
            });
        };
        if count == 0 || usize::from(count) != theirs.len() {
            return Err(Error::Malformed {
                object: STAGE,
                reason: "bad version list",
            });
        }
        let Some(version) = theirs
            .iter()
            .copied()
            .filter(|v| self.versions.contains(v))
            .max()
        else {
            return Err(Error::PeerIncompatible {
                ours: self.versions,
                theirs: theirs.to_vec(),
            });
        };
        let reply = write_frame(&mut self.noise, &[version])?;
        Ok((
            ResponderAwaitingFinish {
                noise: self.noise,
                version,
            },
            reply,
        ))
    }
}

/// The listening side, waiting for the initiator's finish.
pub struct ResponderAwaitingFinish {
    noise: snow::HandshakeState,
    version: u8,
}

impl std::fmt::Debug for ResponderAwaitingFinish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponderAwaitingFinish")
            .finish_non_exhaustive()
    }
}

impl ResponderAwaitingFinish {
    /// Read the initiator's finish (a frame body). Returns the session and
    /// the initiator's authenticated identity, which the caller must check
    /// against its contacts: any key that can sign completes a handshake.
    pub fn read_finish(mut self, body: &[u8]) -> Result<(Session, VerifyingKey)> {
        const STAGE: &str = "finish";
        frame::check_body(body)?;
        if body.len() != FINISH_LEN {
            return Err(Error::Malformed {
                object: STAGE,
                reason: "wrong length",
            });
        }
        // The initiator signed the hash as it was before this message.
        let signed_hash = handshake_hash(&self.noise)?;
        let payload = read_body(
            &mut self.noise,
            body,
            STAGE,
            "the initiator's static key or payload does not decrypt",
        )?;
        let remote_static = self
            .noise
            .get_remote_static()
            .ok_or(Error::Internal("no remote static after finish"))?;
        let peer = verify_binding(&payload, remote_static, &signed_hash)?;

        let hash = handshake_hash(&self.noise)?;
        let transport = self
            .noise
            .into_transport_mode()
            .map_err(|_| Error::Internal("handshake not finished after finish"))?;
        Ok((Session::new(transport, self.version, hash, peer), peer))
    }
}

/// Check the finish payload `identity ‖ signature`: the identity's X25519
/// form is the Noise static the initiator proved it holds, and the identity
/// signed the handshake hash.
fn verify_binding(
    payload: &[u8],
    remote_static: &[u8],
    signed_hash: &[u8],
) -> Result<VerifyingKey> {
    let fail = |reason| Error::PeerAuthentication {
        stage: "finish",
        reason,
    };
    let Some((identity, signature)) = payload
        .split_first_chunk::<IDENTITY_LEN>()
        .and_then(|(id, rest)| Some((id, <&[u8; SIGNATURE_LEN]>::try_from(rest).ok()?)))
    else {
        return Err(Error::Malformed {
            object: "finish",
            reason: "wrong payload length",
        });
    };
    let identity = VerifyingKey::from_bytes(identity)
        .map_err(|_| fail("identity key is not a valid ed25519 point"))?;
    if identity.is_weak() {
        return Err(fail("identity key is a small-order point"));
    }
    // Public values: no need for a constant-time comparison.
    if x25519_public(&identity).as_slice() != remote_static {
        return Err(fail("identity key does not match the Noise static key"));
    }
    identity
        .verify_strict(
            &binding_input(signed_hash),
            &Signature::from_bytes(signature),
        )
        .map_err(|_| fail("identity binding signature does not verify"))?;
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Record;
    use crate::frame::FRAME_HEADER_LEN;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn body(frame: &[u8]) -> &[u8] {
        let (body, rest) = crate::next_frame(frame).unwrap();
        assert!(rest.is_empty());
        body
    }

    /// Hello and reply between `alice` and `bob` with version lists.
    fn to_finish(
        alice: &SigningKey,
        bob: &SigningKey,
        i_versions: &[u8],
        r_versions: &[u8],
    ) -> (Initiator, ResponderAwaitingFinish, Vec<u8>) {
        let (i, hello) = Initiator::start(alice, &bob.verifying_key(), i_versions, None).unwrap();
        let r = Responder::start(bob, r_versions, None).unwrap();
        let (r, reply) = r.read_hello(body(&hello)).unwrap();
        (i, r, reply)
    }

    #[test]
    fn full_handshake_authenticates_both() {
        let (alice, bob) = (key(1), key(2));
        let (i, hello) = Initiator::new(&alice, &bob.verifying_key()).unwrap();
        let (r, reply) = Responder::new(&bob)
            .unwrap()
            .read_hello(body(&hello))
            .unwrap();
        let (mut si, finish) = i.read_reply(body(&reply)).unwrap();
        let (mut sr, peer) = r.read_finish(body(&finish)).unwrap();
        assert_eq!(peer, alice.verifying_key());
        assert_eq!(si.peer(), &bob.verifying_key());
        assert_eq!(sr.peer(), &alice.verifying_key());
        assert_eq!(si.handshake_hash(), sr.handshake_hash());
        assert_eq!((si.version(), sr.version()), (1, 1));

        let f = si.seal(b"hi bob").unwrap();
        assert_eq!(sr.open(body(&f)).unwrap(), Record::Data(b"hi bob".to_vec()));
        let f = sr.seal(b"hi alice").unwrap();
        assert_eq!(
            si.open(body(&f)).unwrap(),
            Record::Data(b"hi alice".to_vec())
        );
    }

    #[test]
    fn handshake_frame_sizes() {
        let (alice, bob) = (key(1), key(2));
        let (i, hello) = Initiator::new(&alice, &bob.verifying_key()).unwrap();
        assert_eq!(hello.len(), FRAME_HEADER_LEN + DH_LEN + 2 + TAG_LEN);
        let (r, reply) = Responder::new(&bob)
            .unwrap()
            .read_hello(body(&hello))
            .unwrap();
        assert_eq!(reply.len(), FRAME_HEADER_LEN + REPLY_LEN);
        let (_, finish) = i.read_reply(body(&reply)).unwrap();
        assert_eq!(finish.len(), FRAME_HEADER_LEN + FINISH_LEN);
        r.read_finish(body(&finish)).unwrap();
    }

    #[test]
    fn responder_refuses_hello_for_another_key() {
        let (alice, bob, carol) = (key(1), key(2), key(3));
        // Alice dials carol's address but reaches bob.
        let (_, hello) = Initiator::new(&alice, &carol.verifying_key()).unwrap();
        let err = Responder::new(&bob)
            .unwrap()
            .read_hello(body(&hello))
            .unwrap_err();
        assert!(
            matches!(err, Error::PeerAuthentication { stage: "hello", .. }),
            "{err}"
        );
        assert_eq!(err.kind(), kith_core::ErrorKind::PeerAuthenticationFailed);
    }

    #[test]
    fn initiator_refuses_reply_from_wrong_responder() {
        let (alice, bob, carol) = (key(1), key(2), key(3));
        let (to_bob, _) = Initiator::new(&alice, &bob.verifying_key()).unwrap();
        // Carol answers a hello addressed to her; the reply cannot pass for bob's.
        let (_, hello) = Initiator::new(&alice, &carol.verifying_key()).unwrap();
        let (_, reply) = Responder::new(&carol)
            .unwrap()
            .read_hello(body(&hello))
            .unwrap();
        let err = to_bob.read_reply(body(&reply)).unwrap_err();
        assert!(
            matches!(err, Error::PeerAuthentication { stage: "reply", .. }),
            "{err}"
        );
    }

    /// A finish whose payload is chosen by the test, written by alice's
    /// genuine Noise state (so the Noise static is alice's).
    fn forged_finish(mut i: Initiator, payload: &[u8]) -> Vec<u8> {
        write_frame(&mut i.noise, payload).unwrap()
    }

    fn binding(signer: &SigningKey, claimed: &VerifyingKey, i: &Initiator, ctx: &[u8]) -> Vec<u8> {
        let mut m = ctx.to_vec();
        m.extend_from_slice(i.noise.get_handshake_hash());
        let mut p = claimed.as_bytes().to_vec();
        p.extend_from_slice(&signer.sign(&m).to_bytes());
        p
    }

    fn finish_reason(payload: impl FnOnce(&Initiator) -> Vec<u8>) -> Error {
        let (alice, bob) = (key(1), key(2));
        let (mut i, r, reply) = to_finish(&alice, &bob, &[1], &[1]);
        i.noise
            .read_message(body(&reply), &mut [0_u8; REPLY_LEN])
            .unwrap();
        let p = payload(&i);
        let finish = forged_finish(i, &p);
        r.read_finish(body(&finish)).unwrap_err()
    }

    #[test]
    fn responder_refuses_mismatched_identity_binding() {
        let mallory = key(9);
        // Mallory's identity, properly signed by mallory, over alice's Noise static.
        let err = finish_reason(|i| {
            binding(
                &mallory,
                &mallory.verifying_key(),
                i,
                INITIATOR_BINDING_CONTEXT,
            )
        });
        assert_eq!(
            err,
            Error::PeerAuthentication {
                stage: "finish",
                reason: "identity key does not match the Noise static key"
            }
        );
        // Alice's identity, signed by mallory.
        let alice = key(1).verifying_key();
        let err = finish_reason(|i| binding(&mallory, &alice, i, INITIATOR_BINDING_CONTEXT));
        assert_eq!(
            err,
            Error::PeerAuthentication {
                stage: "finish",
                reason: "identity binding signature does not verify"
            }
        );
        // Alice's own signature under another context.
        let err = finish_reason(|i| binding(&key(1), &alice, i, b"some other protocol"));
        assert!(matches!(err, Error::PeerAuthentication { .. }), "{err}");
        // The genuine binding passes the same path.
        let (alice_sk, bob) = (key(1), key(2));
        let (mut i, r, reply) = to_finish(&alice_sk, &bob, &[1], &[1]);
        i.noise
            .read_message(body(&reply), &mut [0_u8; REPLY_LEN])
            .unwrap();
        let p = binding(&alice_sk, &alice, &i, INITIATOR_BINDING_CONTEXT);
        let (_, peer) = r.read_finish(body(&forged_finish(i, &p))).unwrap();
        assert_eq!(peer, alice);
    }

    #[test]
    fn weak_keys_are_refused() {
        // The identity point: small order, and (R = identity, s = 0) is a
        // "signature" that non-strict verification accepts for any message.
        let mut identity = [0_u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        assert!(weak.is_weak());
        assert_eq!(
            Initiator::new(&key(1), &weak).unwrap_err(),
            Error::WeakExpectedKey
        );
        let mut payload = identity.to_vec();
        payload.extend_from_slice(&identity);
        payload.extend_from_slice(&[0_u8; 32]);
        let err = verify_binding(&payload, &x25519_public(&weak), &[7; 32]).unwrap_err();
        assert_eq!(
            err,
            Error::PeerAuthentication {
                stage: "finish",
                reason: "identity key is a small-order point"
            }
        );
    }

    #[test]
    fn versions_are_negotiated() {
        let (alice, bob) = (key(1), key(2));
        let (i, _, reply) = to_finish(&alice, &bob, &[1, 2], &[2, 1]);
        assert_eq!(i.read_reply(body(&reply)).unwrap().0.version(), 2);
        let (i, _, reply) = to_finish(&alice, &bob, &[1, 2], &[1]);
        assert_eq!(i.read_reply(body(&reply)).unwrap().0.version(), 1);
    }

    #[test]
    fn version_mismatch_is_incompatible() {
        let (alice, bob) = (key(1), key(2));
        // Responder side: nothing in common.
        let (_, hello) = Initiator::start(&alice, &bob.verifying_key(), &[2, 3], None).unwrap();
        let err = Responder::new(&bob)
            .unwrap()
            .read_hello(body(&hello))
            .unwrap_err();
        assert_eq!(
            err,
            Error::PeerIncompatible {
                ours: vec![1],
                theirs: vec![2, 3]
            }
        );
        assert_eq!(err.kind(), kith_core::ErrorKind::PeerIncompatible);
        // Initiator side: a responder that (wrongly) answers a version we
        // did not offer.
        let (i, hello) = Initiator::new(&alice, &bob.verifying_key()).unwrap();
        let mut r = Responder::start(&bob, &[2], None).unwrap();
        r.noise.read_message(body(&hello), &mut [0_u8; 64]).unwrap();
        let reply = write_frame(&mut r.noise, &[2]).unwrap();
        assert_eq!(
            i.read_reply(body(&reply)).unwrap_err(),
            Error::PeerIncompatible {
                ours: vec![1],
                theirs: vec![2]
            }
        );
    }

    #[test]
    fn malformed_handshake_messages_are_typed_errors() {
        let (alice, bob) = (key(1), key(2));
        let malformed = |e: Error| assert!(matches!(e, Error::Malformed { .. }), "{e}");
        let responder = || Responder::new(&bob).unwrap();
        malformed(responder().read_hello(&[]).unwrap_err());
        malformed(responder().read_hello(&[0; HELLO_MIN_LEN - 1]).unwrap_err());
        assert_eq!(
            responder()
                .read_hello(&vec![0; MAX_FRAME_PLUS_ONE])
                .unwrap_err(),
            Error::FrameTooLarge {
                len: MAX_FRAME_PLUS_ONE,
                max: crate::MAX_FRAME
            }
        );
        // An empty version list.
        let (_, hello) = Initiator::start(&alice, &bob.verifying_key(), &[], None).unwrap();
        malformed(responder().read_hello(body(&hello)).unwrap_err());

        let (i, r, reply) = to_finish(&alice, &bob, &[1], &[1]);
        malformed(
            Initiator::new(&alice, &bob.verifying_key())
                .unwrap()
                .0
                .read_reply(&reply[FRAME_HEADER_LEN..reply.len() - 1])
                .unwrap_err(),
        );
        let (_, finish) = i.read_reply(body(&reply)).unwrap();
        let mut long = body(&finish).to_vec();
        long.push(0);
        malformed(r.read_finish(&long).unwrap_err());
    }

    const MAX_FRAME_PLUS_ONE: usize = crate::MAX_FRAME + 1;

    #[test]
    fn debug_prints_names_only() {
        let (alice, bob) = (key(1), key(2));
        let (i, r, _) = to_finish(&alice, &bob, &[1], &[1]);
        assert_eq!(format!("{i:?}"), "Initiator { .. }");
        assert_eq!(format!("{r:?}"), "ResponderAwaitingFinish { .. }");
        assert_eq!(
            format!("{:?}", Responder::new(&bob).unwrap()),
            "Responder { .. }"
        );
    }

    #[test]
    fn vectors() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/vectors/session.json")).unwrap();
        let hex_of = |path: &str| -> Vec<u8> {
            let s = v
                .pointer(path)
                .and_then(|x| x.as_str())
                .unwrap_or_else(|| panic!("{path}"));
            hex::decode(s).unwrap()
        };
        assert_eq!(v["noise_pattern"], NOISE_PATTERN);
        assert_eq!(hex_of("/prologue_hex"), PROLOGUE);
        for side in ["initiator", "responder"] {
            let seed: [u8; 32] = hex_of(&format!("/{side}/ed25519_seed_hex"))
                .try_into()
                .unwrap();
            let sk = SigningKey::from_bytes(&seed);
            let vk = sk.verifying_key();
            assert_eq!(
                hex_of(&format!("/{side}/ed25519_public_hex")),
                vk.as_bytes()
            );
            assert_eq!(
                hex_of(&format!("/{side}/x25519_secret_hex")),
                *x25519_secret(&sk)
            );
            assert_eq!(
                hex_of(&format!("/{side}/x25519_public_hex")),
                x25519_public(&vk)
            );
        }
        assert_eq!(
            hex_of("/initiator/ephemeral_secret_hex"),
            crate::fuzzing::INITIATOR_EPHEMERAL
        );
        assert_eq!(
            hex_of("/responder/ephemeral_secret_hex"),
            crate::fuzzing::RESPONDER_EPHEMERAL
        );

        let mut t = crate::fuzzing::transcript_for_testing_only();
        assert_eq!(hex_of("/handshake/hello_frame_hex"), t.hello);
        assert_eq!(hex_of("/handshake/reply_frame_hex"), t.reply);
        assert_eq!(hex_of("/handshake/finish_frame_hex"), t.finish);
        assert_eq!(
            hex_of("/handshake/handshake_hash_hex"),
            t.initiator.handshake_hash()
        );
        assert_eq!(v["handshake"]["version"], t.initiator.version());

        let data = hex_of("/records/0/plaintext_hex");
        let frame = hex_of("/records/0/frame_hex");
        assert_eq!(t.initiator.seal(&data).unwrap(), frame);
        assert_eq!(t.responder.open(body(&frame)).unwrap(), Record::Data(data));
        let close = hex_of("/records/1/frame_hex");
        assert_eq!(t.responder.close().unwrap(), close);
        assert_eq!(t.initiator.open(body(&close)).unwrap(), Record::Close);
    }
}
