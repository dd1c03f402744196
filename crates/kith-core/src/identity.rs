//! Long-term identity keys.
//!
//! A Kith identity is an ed25519 key pair made on the device. Its public half
//! *is* the identity: the profile's address is the Tor v3 onion address of it
//! (see [`crate::address`]), and sessions are bound to it (see `kith-session`).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::Error;
use crate::address::OnionAddress;

/// The secret half of an identity. Zeroized on drop; never printed.
pub struct IdentityKeypair {
    /// ed25519-dalek zeroizes its `SigningKey` on drop (feature `zeroize`).
    signing: SigningKey,
}

impl IdentityKeypair {
    /// Make a fresh identity from a cryptographic RNG.
    pub fn generate<R: CryptoRngCore + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0_u8; 32]);
        rng.fill_bytes(&mut seed[..]);
        Self::from_seed(&seed)
    }

    /// Rebuild an identity from its 32-byte secret seed (as stored).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        IdentityKeypair {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The 32-byte secret seed, for sealing into the store. Handle with care.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_bytes())
    }

    /// The public identity.
    pub fn public(&self) -> IdentityKey {
        IdentityKey(self.signing.verifying_key())
    }

    /// This identity's onion address.
    pub fn address(&self) -> OnionAddress {
        self.public().address()
    }

    /// The underlying signing key, lent to crates that need it (sessions, onion services).
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// Sign a message with the identity key.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }
}

impl Clone for IdentityKeypair {
    fn clone(&self) -> Self {
        Self::from_seed(&self.seed())
    }
}

impl std::fmt::Debug for IdentityKeypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityKeypair(..)")
    }
}

/// The public half of an identity: a valid ed25519 point.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdentityKey(VerifyingKey);

impl IdentityKey {
    /// Parse 32 bytes, rejecting encodings that are not a valid curve point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Error> {
        VerifyingKey::from_bytes(bytes)
            .map(IdentityKey)
            .map_err(|_| Error::InvalidKey)
    }

    /// The 32-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The dalek verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// The onion address of this key.
    pub fn address(&self) -> OnionAddress {
        OnionAddress::from_key(*self)
    }

    /// Verify a signature made by [`IdentityKeypair::sign`].
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> Result<(), Error> {
        self.0
            .verify(msg, &Signature::from_bytes(sig))
            .map_err(|_| Error::BadSignature)
    }
}

impl From<VerifyingKey> for IdentityKey {
    fn from(k: VerifyingKey) -> Self {
        IdentityKey(k)
    }
}

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Public, but it identifies a person: show only a prefix.
        write!(f, "IdentityKey({})", self.address().redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_round_trip_and_sign() {
        let id = IdentityKeypair::from_seed(&[7; 32]);
        let again = IdentityKeypair::from_seed(&id.seed());
        assert_eq!(id.public(), again.public());
        let sig = id.sign(b"hello");
        id.public().verify(b"hello", &sig).unwrap();
        assert!(id.public().verify(b"hellO", &sig).is_err());
        assert_eq!(format!("{id:?}"), "IdentityKeypair(..)");
    }

    #[test]
    fn invalid_point_rejected() {
        // y = 2 is not on the curve.
        let mut b = [0_u8; 32];
        b[0] = 2;
        assert!(matches!(
            IdentityKey::from_bytes(&b),
            Err(Error::InvalidKey)
        ));
    }
}
