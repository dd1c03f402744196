//! The Noise XK handshake, bound to ed25519 identities.
//!
//! ```text
//! XK:  <- s
//!      ...
//!      -> e, es         hello:  payload = n:u8 ‖ versions[n]
//!      <- e, ee         reply:  payload = version:u8
//!      -> s, se         finish: payload = identity:32
//! ```
//!
//! Nothing is signed: the initiator is authenticated by `se` (only the
//! holder of its static secret can complete it) together with the check
//! that its claimed ed25519 identity maps to that static, so the transcript
//! is no proof to anyone else that it took part (see `docs/threat-model.md`
//! § Deniability). See `docs/protocol.md` § 4 for the byte-exact layout.

use ed25519_dalek::{SigningKey, VerifyingKey};
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

/// X25519 public key and ephemeral length.
const DH_LEN: usize = 32;
/// Poly1305 tag length.
pub(crate) const TAG_LEN: usize = 16;
/// BLAKE2s output length: the handshake hash.
pub(crate) const HASH_LEN: usize = 32;
/// ed25519 public key length.
const IDENTITY_LEN: usize = 32;

/// Shortest hello body: `e ‖ AEAD(payload)` with an empty payload (which
/// then fails as malformed; this bound only keeps Noise from misreporting).
const HELLO_MIN_LEN: usize = DH_LEN + TAG_LEN;
/// The reply body: `e ‖ AEAD(version)`.
const REPLY_LEN: usize = DH_LEN + 1 + TAG_LEN;
/// The finish body: `AEAD(s) ‖ AEAD(identity)`.
const FINISH_LEN: usize = DH_LEN + TAG_LEN + IDENTITY_LEN + TAG_LEN;

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
    /// Our identity, sent in the finish (public; the secret is not kept).
    identity: VerifyingKey,
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
                identity: local.verifying_key(),
                expected: *expected,
                versions: versions.to_vec(),
            },
            hello,
        ))
    }

    /// Read the responder's reply (a frame body). On success the peer has
    /// proved it holds the expected identity; returns the session and the
    /// finish frame to send before any record.
    pub fn read_reply(self, body: &[u8]) -> Result<(Session, Vec<u8>)> {
        let identity = self.identity.to_bytes();
        self.reply_then_finish(body, &identity)
    }

    /// Like [`read_reply`](Self::read_reply), but the finish carries
    /// `payload` in place of our identity: written by our genuine Noise
    /// state, so it is encrypted and authenticated under our own static.
    /// Lets the fuzzing harness and tests claim any identity (or send any
    /// payload) over a genuine handshake.
    pub(crate) fn read_reply_claiming_for_testing_only(
        self,
        body: &[u8],
        payload: &[u8],
    ) -> Result<(Session, Vec<u8>)> {
        self.reply_then_finish(body, payload)
    }

    fn reply_then_finish(
        mut self,
        body: &[u8],
        finish_payload: &[u8],
    ) -> Result<(Session, Vec<u8>)> {
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

        let finish = write_frame(&mut self.noise, finish_payload)?;

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
    /// against its contacts: anyone who holds some identity's secret
    /// completes a handshake as that identity.
    ///
    /// The identity is authenticated to us only: nothing in the handshake
    /// is signed, so we cannot prove to anyone else that it dialled us.
    /// One secret scalar `a` completes handshakes as exactly two identities,
    /// `A` and `−A` (the X25519 form drops the sign); both are its own.
    pub fn read_finish(mut self, body: &[u8]) -> Result<(Session, VerifyingKey)> {
        const STAGE: &str = "finish";
        frame::check_body(body)?;
        if body.len() != FINISH_LEN {
            return Err(Error::Malformed {
                object: STAGE,
                reason: "wrong length",
            });
        }
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
        let peer = verify_binding(&payload, remote_static)?;

        let hash = handshake_hash(&self.noise)?;
        let transport = self
            .noise
            .into_transport_mode()
            .map_err(|_| Error::Internal("handshake not finished after finish"))?;
        Ok((Session::new(transport, self.version, hash, peer), peer))
    }
}

/// Check the finish payload `identity`: a valid ed25519 point of prime
/// order whose X25519 form is the Noise static the initiator has just
/// proved it holds (`se`, checked by the payload's decryption).
///
/// The prime-order check pins the claim to `±A` for the initiator's secret
/// `a`: a point `A + T` with a small-order component `T` has its own
/// X25519 form, and X25519's cofactor clearing would let the holder of `a`
/// complete `se` for it too. Honestly made ed25519 keys have prime order.
fn verify_binding(payload: &[u8], remote_static: &[u8]) -> Result<VerifyingKey> {
    let fail = |reason| Error::PeerAuthentication {
        stage: "finish",
        reason,
    };
    let Ok(identity) = <&[u8; IDENTITY_LEN]>::try_from(payload) else {
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
    if !identity.to_edwards().is_torsion_free() {
        return Err(fail("identity key has a small-order component"));
    }
    // Public values: no need for a constant-time comparison.
    if x25519_public(&identity).as_slice() != remote_static {
        return Err(fail("identity key does not match the Noise static key"));
    }
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

    fn finish_failure(reason: &'static str) -> Error {
        Error::PeerAuthentication {
            stage: "finish",
            reason,
        }
    }

    /// Alice's finish claiming `payload` (written by her genuine Noise
    /// state, so the Noise static is alice's), as bob's responder reads it.
    fn finish_claiming(payload: &[u8]) -> Result<(Session, VerifyingKey)> {
        let (alice, bob) = (key(1), key(2));
        let (i, r, reply) = to_finish(&alice, &bob, &[1], &[1]);
        let (_, finish) = i
            .read_reply_claiming_for_testing_only(body(&reply), payload)
            .unwrap();
        r.read_finish(body(&finish))
    }

    #[test]
    fn responder_refuses_an_identity_that_is_not_the_noise_static() {
        // Mallory's (valid) identity over alice's Noise static.
        let err = finish_claiming(key(9).verifying_key().as_bytes()).unwrap_err();
        assert_eq!(
            err,
            finish_failure("identity key does not match the Noise static key")
        );
        assert_eq!(err.kind(), kith_core::ErrorKind::PeerAuthenticationFailed);
        // Bytes that are no ed25519 point (y = 2 has no x).
        let mut not_a_point = [0_u8; 32];
        not_a_point[0] = 2;
        assert!(VerifyingKey::from_bytes(&not_a_point).is_err());
        assert_eq!(
            finish_claiming(&not_a_point).unwrap_err(),
            finish_failure("identity key is not a valid ed25519 point")
        );
        // The same path with alice's own identity passes.
        let (session, peer) = finish_claiming(key(1).verifying_key().as_bytes()).unwrap();
        assert_eq!(peer, key(1).verifying_key());
        assert_eq!(session.peer(), &peer);
    }

    #[test]
    fn finish_of_the_old_signed_layout_or_any_other_length_is_malformed() {
        let alice = key(1).verifying_key();
        // Version 1 once sent identity ‖ Ed25519 signature (96 bytes).
        let mut signed = alice.as_bytes().to_vec();
        signed.extend_from_slice(&[0x5a; 64]);
        for payload in [&signed[..], &signed[..31], &signed[..33], &[]] {
            let err = finish_claiming(payload).unwrap_err();
            assert_eq!(
                err,
                Error::Malformed {
                    object: "finish",
                    reason: "wrong length"
                }
            );
            assert_eq!(err.kind(), kith_core::ErrorKind::PeerProtocolViolation);
        }
    }

    #[test]
    fn finish_from_another_handshake_does_not_authenticate() {
        let (alice, bob) = (key(1), key(2));
        let (i, _, reply) = to_finish(&alice, &bob, &[1], &[1]);
        let (_, finish) = i.read_reply(body(&reply)).unwrap();
        // Same keys, fresh ephemerals: the old finish is bound to the old
        // handshake (its keys come from that handshake's ephemerals).
        let (_, r, _) = to_finish(&alice, &bob, &[1], &[1]);
        assert_eq!(
            r.read_finish(body(&finish)).unwrap_err(),
            finish_failure("the initiator's static key or payload does not decrypt")
        );
    }

    /// Plays the initiator with a Noise static that is not a key pair: it
    /// shows `public` and answers its one Diffie-Hellman (`se`, against the
    /// responder's ephemeral) with `se`, however that was computed.
    struct StandIn {
        public: [u8; 32],
        se: [u8; 32],
    }

    /// The "private key" handed to snow for the stand-in static.
    const STAND_IN_MARKER: [u8; 32] = [0xa5; 32];

    struct StandInDh {
        genuine: Box<dyn snow::types::Dh>,
        stand_in: StandIn,
        active: bool,
    }

    impl snow::types::Dh for StandInDh {
        fn name(&self) -> &'static str {
            self.genuine.name()
        }
        fn pub_len(&self) -> usize {
            self.genuine.pub_len()
        }
        fn priv_len(&self) -> usize {
            self.genuine.priv_len()
        }
        fn set(&mut self, privkey: &[u8]) {
            self.active = privkey == STAND_IN_MARKER;
            self.genuine.set(privkey);
        }
        fn generate(&mut self, rng: &mut dyn snow::types::Random) -> Result<(), snow::Error> {
            self.active = false;
            self.genuine.generate(rng)
        }
        fn pubkey(&self) -> &[u8] {
            if self.active {
                &self.stand_in.public
            } else {
                self.genuine.pubkey()
            }
        }
        fn privkey(&self) -> &[u8] {
            self.genuine.privkey()
        }
        fn dh(&self, pubkey: &[u8], out: &mut [u8]) -> Result<(), snow::Error> {
            if self.active {
                out[..32].copy_from_slice(&self.stand_in.se);
                Ok(())
            } else {
                self.genuine.dh(pubkey, out)
            }
        }
    }

    struct StandInResolver([u8; 32], [u8; 32]);

    impl snow::resolvers::CryptoResolver for StandInResolver {
        fn resolve_rng(&self) -> Option<Box<dyn snow::types::Random>> {
            snow::resolvers::DefaultResolver.resolve_rng()
        }
        fn resolve_dh(&self, choice: &snow::params::DHChoice) -> Option<Box<dyn snow::types::Dh>> {
            Some(Box::new(StandInDh {
                genuine: snow::resolvers::DefaultResolver.resolve_dh(choice)?,
                stand_in: StandIn {
                    public: self.0,
                    se: self.1,
                },
                active: false,
            }))
        }
        fn resolve_hash(
            &self,
            choice: &snow::params::HashChoice,
        ) -> Option<Box<dyn snow::types::Hash>> {
            snow::resolvers::DefaultResolver.resolve_hash(choice)
        }
        fn resolve_cipher(
            &self,
            choice: &snow::params::CipherChoice,
        ) -> Option<Box<dyn snow::types::Cipher>> {
            snow::resolvers::DefaultResolver.resolve_cipher(choice)
        }
    }

    /// X25519(secret, public) with snow's own primitive.
    fn x25519(secret: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
        use snow::resolvers::CryptoResolver;
        let mut dh = snow::resolvers::DefaultResolver
            .resolve_dh(&snow::params::DHChoice::Curve25519)
            .unwrap();
        dh.set(secret);
        let mut out = [0_u8; 32];
        dh.dh(public, &mut out).unwrap();
        out
    }

    /// A handshake with bob's genuine responder (fixed ephemeral
    /// [`RESPONDER_EPHEMERAL`](crate::fuzzing::RESPONDER_EPHEMERAL)) by an
    /// initiator whose Noise static is `stand_in` and whose finish carries
    /// `claimed`. Returns the stand-in initiator's session too.
    fn stand_in_handshake(
        stand_in: StandIn,
        claimed: &VerifyingKey,
    ) -> Result<(Session, Session, VerifyingKey)> {
        let bob = key(2);
        let params: snow::params::NoiseParams = NOISE_PATTERN.parse().unwrap();
        let mut i = snow::Builder::with_resolver(
            params,
            Box::new(StandInResolver(stand_in.public, stand_in.se)),
        )
        .prologue(PROLOGUE)
        .unwrap()
        .local_private_key(&STAND_IN_MARKER)
        .unwrap()
        .remote_public_key(&x25519_public(&bob.verifying_key()))
        .unwrap()
        .build_initiator()
        .unwrap();
        let hello = write_frame(&mut i, &[1, 1]).unwrap();
        let r = Responder::start(&bob, &[1], Some(&crate::fuzzing::RESPONDER_EPHEMERAL)).unwrap();
        let (r, reply) = r.read_hello(body(&hello))?;
        let mut version = [0_u8; REPLY_LEN];
        assert_eq!(i.read_message(body(&reply), &mut version).unwrap(), 1);
        let finish = write_frame(&mut i, claimed.as_bytes()).unwrap();
        let (responder, peer) = r.read_finish(body(&finish))?;
        let hash = handshake_hash(&i).unwrap();
        let initiator = Session::new(
            i.into_transport_mode().unwrap(),
            1,
            hash,
            bob.verifying_key(),
        );
        Ok((initiator, responder, peer))
    }

    /// The responder's ephemeral public key in [`stand_in_handshake`].
    fn responder_ephemeral_public() -> [u8; 32] {
        let mut basepoint = [0_u8; 32];
        basepoint[0] = 9;
        x25519(&crate::fuzzing::RESPONDER_EPHEMERAL, &basepoint)
    }

    /// Deniability: bob, with his own ephemeral secret and alice's *public*
    /// key only, makes a transcript (handshake and records) that his own
    /// responder accepts as alice's. So a transcript shows a third party
    /// nothing that bob could not have made without her. A signature by
    /// alice anywhere in the handshake would make this test fail.
    #[test]
    fn responder_alone_can_make_a_transcript_from_the_initiator() {
        let alice = key(1).verifying_key();
        let alice_static = x25519_public(&alice);
        let se = x25519(&crate::fuzzing::RESPONDER_EPHEMERAL, &alice_static);
        let stand_in = StandIn {
            public: alice_static,
            se,
        };
        let (mut forged, mut bobs, peer) = stand_in_handshake(stand_in, &alice).unwrap();
        assert_eq!(peer, alice);
        assert_eq!(forged.handshake_hash(), bobs.handshake_hash());
        let f = forged.seal(b"alice never wrote this").unwrap();
        assert_eq!(
            bobs.open(body(&f)).unwrap(),
            Record::Data(b"alice never wrote this".to_vec())
        );
    }

    #[test]
    fn one_secret_claims_only_its_own_two_identities() {
        let alice = key(1);
        let a = alice.verifying_key();
        // −A has the same X25519 form: alice may complete as −A (another
        // address, the same secret, negated). It is reported as claimed.
        let minus_a = VerifyingKey::from(-a.to_edwards());
        assert_ne!(minus_a, a);
        assert_eq!(x25519_public(&minus_a), x25519_public(&a));
        let (_, peer) = finish_claiming(minus_a.as_bytes()).unwrap();
        assert_eq!(peer, minus_a);

        // A + T, T of order 2: its X25519 form differs from A's, but X25519
        // clears the cofactor, so alice's secret completes `se` for it.
        let mut order_two = [0xff_u8; 32];
        order_two[0] = 0xec;
        order_two[31] = 0x7f;
        let t = VerifyingKey::from_bytes(&order_two).unwrap();
        assert!(t.is_weak());
        let a_plus_t = VerifyingKey::from(a.to_edwards() + t.to_edwards());
        let se = x25519(&x25519_secret(&alice), &responder_ephemeral_public());
        let stand_in = |public| StandIn { public, se };
        // The stand-in path completes as alice herself...
        let (_, _, peer) = stand_in_handshake(stand_in(x25519_public(&a)), &a).unwrap();
        assert_eq!(peer, a);
        // ...and a static of u(A + T) completes `se` with alice's secret,
        // so only the prime-order check refuses the claim A + T.
        let public = x25519_public(&a_plus_t);
        assert_ne!(public, x25519_public(&a));
        assert_eq!(
            stand_in_handshake(stand_in(public), &a_plus_t).unwrap_err(),
            finish_failure("identity key has a small-order component")
        );
        // Over alice's genuine static too.
        assert_eq!(
            finish_claiming(a_plus_t.as_bytes()).unwrap_err(),
            finish_failure("identity key has a small-order component")
        );
    }

    /// Encodings that RFC 8032 § 5.1.3 rejects and ed25519-dalek accepts
    /// (`y ≥ p`, or `x = 0` with the sign bit set) all decode to small-order
    /// or mixed-order points, so the responder refuses each, even over a
    /// Noise static equal to its X25519 form.
    #[test]
    fn non_canonical_identity_encodings_are_refused() {
        let mut refused = 0;
        for y in 0..19_u8 {
            for sign in [0, 0x80] {
                // y + p, little-endian: p = 2^255 − 19 = ed ff … ff 7f.
                let mut e = [0xff_u8; 32];
                e[0] = 0xed + y;
                e[31] = 0x7f | sign;
                let Ok(point) = VerifyingKey::from_bytes(&e) else {
                    continue;
                };
                let err = verify_binding(&e, &x25519_public(&point)).unwrap_err();
                assert!(
                    matches!(
                        err,
                        Error::PeerAuthentication {
                            stage: "finish",
                            ..
                        }
                    ),
                    "{err}"
                );
                refused += 1;
            }
        }
        // x = 0 with the sign bit: y = 1 and y = p − 1.
        let mut one = [0_u8; 32];
        one[0] = 1;
        let mut minus_one = [0xff_u8; 32];
        minus_one[0] = 0xec;
        for mut e in [one, minus_one] {
            e[31] |= 0x80;
            let point = VerifyingKey::from_bytes(&e).unwrap();
            assert_eq!(
                verify_binding(&e, &x25519_public(&point)).unwrap_err(),
                finish_failure("identity key is a small-order point")
            );
            refused += 1;
        }
        // Every y below 19 with a point (12 of them), both signs, and the two x = 0 cases.
        assert_eq!(refused, 26);
    }

    #[test]
    fn weak_keys_are_refused() {
        // The identity point: small order, and its X25519 form makes every
        // Diffie-Hellman output public.
        let mut identity = [0_u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        assert!(weak.is_weak());
        assert_eq!(
            Initiator::new(&key(1), &weak).unwrap_err(),
            Error::WeakExpectedKey
        );
        assert_eq!(
            verify_binding(&identity, &x25519_public(&weak)).unwrap_err(),
            finish_failure("identity key is a small-order point")
        );
        // The same over a genuine handshake.
        assert_eq!(
            finish_claiming(&identity).unwrap_err(),
            finish_failure("identity key is a small-order point")
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

    const VECTORS_DESCRIPTION: &str = "kith-session v1 vectors: identity-derived X25519 \
        static keys, and a full handshake with fixed ephemeral keys (the ephemeral secrets \
        are fixed for testing only; real handshakes use random ones). Frames include the \
        2-byte big-endian length header. x25519_secret_hex is SHA-512(seed)[0..32] as handed \
        to X25519, which clamps it (RFC 7748). The finish payload is the initiator's 32-byte \
        ed25519 public key; nothing is signed. Written by the kith-session unit test \
        `handshake::tests::vectors` with KITH_WRITE_VECTORS=1; see docs/protocol.md section 4.";

    /// `docs/vectors/session.json` as this code makes it.
    fn vectors_from_code() -> serde_json::Value {
        use crate::fuzzing::{
            INITIATOR_EPHEMERAL, INITIATOR_SEED, RESPONDER_EPHEMERAL, RESPONDER_SEED,
        };
        let mut basepoint = [0_u8; 32];
        basepoint[0] = 9;
        let party = |seed: &[u8; 32], ephemeral: &[u8; 32]| {
            let sk = SigningKey::from_bytes(seed);
            serde_json::json!({
                "ed25519_seed_hex": hex::encode(seed),
                "ed25519_public_hex": hex::encode(sk.verifying_key().as_bytes()),
                "x25519_secret_hex": hex::encode(*x25519_secret(&sk)),
                "x25519_public_hex": hex::encode(x25519_public(&sk.verifying_key())),
                "ephemeral_secret_hex": hex::encode(ephemeral),
                "ephemeral_public_hex": hex::encode(x25519(ephemeral, &basepoint)),
            })
        };
        let mut t = crate::fuzzing::transcript_for_testing_only();
        let plaintext = b"hello";
        let data_frame = t.initiator.seal(plaintext).unwrap();
        let close_frame = t.responder.close().unwrap();
        serde_json::json!({
            "description": VECTORS_DESCRIPTION,
            "noise_pattern": NOISE_PATTERN,
            "prologue_hex": hex::encode(PROLOGUE),
            "initiator": party(&INITIATOR_SEED, &INITIATOR_EPHEMERAL),
            "responder": party(&RESPONDER_SEED, &RESPONDER_EPHEMERAL),
            "handshake": {
                "hello_frame_hex": hex::encode(&t.hello),
                "reply_frame_hex": hex::encode(&t.reply),
                "finish_frame_hex": hex::encode(&t.finish),
                "version": t.initiator.version(),
                "handshake_hash_hex": hex::encode(t.initiator.handshake_hash()),
            },
            "records": [
                {
                    "name": "initiator_first_data",
                    "from": "initiator",
                    "plaintext_hex": hex::encode(plaintext),
                    "frame_hex": hex::encode(&data_frame),
                },
                {
                    "name": "responder_first_close",
                    "from": "responder",
                    "close": true,
                    "frame_hex": hex::encode(&close_frame),
                },
            ],
        })
    }

    /// The vector file matches what this code makes, and fresh fixed-key
    /// states read the file's frames. `KITH_WRITE_VECTORS=1` first rewrites
    /// the file (deterministic: fixed identities and ephemerals).
    #[test]
    fn vectors() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/vectors/session.json"
        );
        let ours = vectors_from_code();
        if std::env::var_os("KITH_WRITE_VECTORS").is_some() {
            let json = serde_json::to_string_pretty(&ours).unwrap();
            std::fs::write(path, json + "\n").unwrap();
        }
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(file, ours);

        // Read the file's frames with fresh states, each side on its own.
        use crate::fuzzing::{
            INITIATOR_EPHEMERAL, INITIATOR_SEED, RESPONDER_EPHEMERAL, RESPONDER_SEED,
        };
        let hex = |pointer: &str| -> Vec<u8> {
            let s = file.pointer(pointer).and_then(|x| x.as_str());
            hex::decode(s.unwrap_or_else(|| panic!("{pointer}"))).unwrap()
        };
        let (i_key, r_key) = (
            SigningKey::from_bytes(&INITIATOR_SEED),
            SigningKey::from_bytes(&RESPONDER_SEED),
        );
        let r = Responder::start(&r_key, SUPPORTED_VERSIONS, Some(&RESPONDER_EPHEMERAL)).unwrap();
        let (r, reply) = r
            .read_hello(body(&hex("/handshake/hello_frame_hex")))
            .unwrap();
        assert_eq!(reply, hex("/handshake/reply_frame_hex"));
        let (mut responder, peer) = r
            .read_finish(body(&hex("/handshake/finish_frame_hex")))
            .unwrap();
        assert_eq!(peer, i_key.verifying_key());
        assert_eq!(
            responder.handshake_hash(),
            &hex("/handshake/handshake_hash_hex")[..]
        );
        assert_eq!(
            responder.open(body(&hex("/records/0/frame_hex"))).unwrap(),
            Record::Data(b"hello".to_vec())
        );
        let (i, hello) = Initiator::start(
            &i_key,
            &r_key.verifying_key(),
            SUPPORTED_VERSIONS,
            Some(&INITIATOR_EPHEMERAL),
        )
        .unwrap();
        assert_eq!(hello, hex("/handshake/hello_frame_hex"));
        let (mut initiator, finish) = i
            .read_reply(body(&hex("/handshake/reply_frame_hex")))
            .unwrap();
        assert_eq!(finish, hex("/handshake/finish_frame_hex"));
        assert_eq!(
            initiator.open(body(&hex("/records/1/frame_hex"))).unwrap(),
            Record::Close
        );
    }
}
