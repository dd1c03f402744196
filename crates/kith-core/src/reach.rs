//! How contacts reach a profile: the contacts-only address and the keys that
//! open it (`docs/protocol.md` § 8).
//!
//! A profile has two onion addresses. Its **request address** is its identity
//! (the address in its link); it takes contact requests and is published only
//! while the user accepts requests. Its **contacts address** is the onion
//! service of a second key derived from the identity; it is never in a link,
//! and its descriptor is encrypted for the profile's contacts alone (Tor's
//! restricted discovery, "client authorization"), so someone who holds the
//! link but is not a contact cannot even look it up. Each contact holds a
//! **discovery key** (X25519) that we authorize on that service; we derive a
//! separate one for every contact whose contacts address we dial.
//!
//! Both derivations are HMAC-SHA256 keyed by the identity seed, with a label
//! (and, for discovery keys, the peer's identity) as the message: nothing
//! extra to store, and the same keys after a restore.

use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::identity::{IdentityKey, IdentityKeypair};

/// Label of the contacts-service key derivation.
const CONTACTS_SERVICE_LABEL: &[u8] = b"kith contacts service v1";
/// Label of the discovery-key derivation.
const DISCOVERY_LABEL: &[u8] = b"kith discovery key v1";

/// HMAC-SHA256 keyed by the identity seed.
fn prf(identity: &IdentityKeypair, parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let seed = identity.seed();
    // HMAC takes keys of any length: 32 bytes cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&seed[..]) else {
        unreachable!("HMAC accepts a 32-byte key")
    };
    for p in parts {
        mac.update(p);
    }
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// The key of `identity`'s contacts-only onion service: an ed25519 identity
/// of its own, whose onion address is the contacts address.
pub fn contacts_service_key(identity: &IdentityKeypair) -> IdentityKeypair {
    IdentityKeypair::from_seed(&prf(identity, &[CONTACTS_SERVICE_LABEL]))
}

/// The public half of a discovery key: what a service authorizes.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct DiscoveryKey(pub [u8; 32]);

impl std::fmt::Debug for DiscoveryKey {
    // Public, but a stable per-pair identifier: not worth printing.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiscoveryKey(..)")
    }
}

/// The secret half of a discovery key: what a client holds to decrypt the
/// descriptor of a service that authorized it. Zeroized on drop.
#[derive(Clone)]
pub struct DiscoverySecret(Zeroizing<[u8; 32]>);

impl DiscoverySecret {
    /// The X25519 secret scalar bytes (clamped when used).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.0.clone()
    }

    /// Its public half.
    pub fn public(&self) -> DiscoveryKey {
        let secret = x25519_dalek::StaticSecret::from(*self.0);
        DiscoveryKey(x25519_dalek::PublicKey::from(&secret).to_bytes())
    }
}

impl PartialEq for DiscoverySecret {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq as _;
        self.0.ct_eq(&*other.0).into()
    }
}

impl Eq for DiscoverySecret {}

impl std::fmt::Debug for DiscoverySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiscoverySecret(..)")
    }
}

/// `identity`'s discovery key for `peer`'s contacts address: a different key
/// for each peer, so no two services ever see the same client key.
pub fn discovery_secret(identity: &IdentityKeypair, peer: &IdentityKey) -> DiscoverySecret {
    DiscoverySecret(prf(identity, &[DISCOVERY_LABEL, &peer.to_bytes()]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn id(b: u8) -> IdentityKeypair {
        IdentityKeypair::from_seed(&[b; 32])
    }

    /// docs/protocol.md § 8; computed independently (Python's `hmac` and
    /// `cryptography`), not by this code.
    #[test]
    fn vectors() {
        let alice = id(1);
        let bob = id(2);
        assert_eq!(
            hex::encode(contacts_service_key(&alice).public().to_bytes()),
            VECTOR_CONTACTS_SERVICE
        );
        let s = discovery_secret(&alice, &bob.public());
        assert_eq!(hex::encode(*s.to_bytes()), VECTOR_DISCOVERY_SECRET);
        assert_eq!(hex::encode(s.public().0), VECTOR_DISCOVERY_PUBLIC);
    }

    const VECTOR_CONTACTS_SERVICE: &str =
        "571f1036ba8107a3d4835bcda14755c5582a75d4fdde357900d18a5dd0d295c1";
    const VECTOR_DISCOVERY_SECRET: &str =
        "9eee686adafc4c684ff81ca838d7a24171246c9d03718155b24656640ee8eb99";
    const VECTOR_DISCOVERY_PUBLIC: &str =
        "0684c1e46ea364b6d54db360730c6c5e2f242b98fe945a1ea54534a3e0f96562";

    #[test]
    fn keys_are_distinct_per_purpose_and_peer() {
        let alice = id(1);
        let contacts = contacts_service_key(&alice);
        assert_ne!(contacts.public(), alice.public());
        assert_ne!(contacts.address(), alice.address());
        let to_bob = discovery_secret(&alice, &id(2).public());
        let to_carol = discovery_secret(&alice, &id(3).public());
        assert_ne!(to_bob.public(), to_carol.public());
        // Deterministic: the same after a restore.
        assert_eq!(contacts_service_key(&id(1)).public(), contacts.public());
        assert_eq!(
            discovery_secret(&id(1), &id(2).public()).public(),
            to_bob.public()
        );
        // Another identity derives other keys.
        assert_ne!(contacts_service_key(&id(2)).public(), contacts.public());
    }
}
