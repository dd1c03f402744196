//! Tor v3 onion addresses (rend-spec-v3 §6).
//!
//! `onion_address = base32(PUBKEY | CHECKSUM | VERSION)`, where
//! `CHECKSUM = SHA3-256(".onion checksum" | PUBKEY | VERSION)[..2]` and
//! `VERSION = 0x03`; 56 lowercase characters, shown with `.onion` appended.

use sha3::{Digest, Sha3_256};

use crate::Error;
use crate::identity::IdentityKey;

/// Length of an address without the `.onion` suffix.
pub const ADDRESS_LEN: usize = 56;
const VERSION: u8 = 3;
const CHECKSUM_PREFIX: &[u8] = b".onion checksum";

/// A validated Tor v3 onion address: the public identity key it encodes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OnionAddress(IdentityKey);

impl OnionAddress {
    /// The address of a key.
    pub fn from_key(key: IdentityKey) -> Self {
        OnionAddress(key)
    }

    /// The identity key this address encodes.
    pub fn key(&self) -> IdentityKey {
        self.0
    }

    /// The raw 32-byte public key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The 56-character address without `.onion`.
    pub fn to_base32(&self) -> String {
        let pubkey = self.0.to_bytes();
        let mut raw = [0_u8; 35];
        raw[..32].copy_from_slice(&pubkey);
        raw[32..34].copy_from_slice(&checksum(&pubkey));
        raw[34] = VERSION;
        data_encoding::BASE32_NOPAD
            .encode(&raw)
            .to_ascii_lowercase()
    }

    /// The hostname, `<56 chars>.onion`.
    pub fn hostname(&self) -> String {
        format!("{}.onion", self.to_base32())
    }

    /// A short form safe for logs and debugging: the first 6 characters only.
    pub fn redacted(&self) -> String {
        let full = self.to_base32();
        format!("{}…", &full[..6])
    }

    /// Parse an address, with or without `.onion`, in either letter case.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = match s.len().checked_sub(6) {
            Some(n) if s.is_char_boundary(n) && s[n..].eq_ignore_ascii_case(".onion") => &s[..n],
            _ => s,
        };
        if s.len() != ADDRESS_LEN || !s.is_ascii() {
            return Err(Error::BadAddress("an address has 56 characters"));
        }
        let upper = s.to_ascii_uppercase();
        let raw = data_encoding::BASE32_NOPAD
            .decode(upper.as_bytes())
            .map_err(|_| Error::BadAddress("not base32"))?;
        let raw: [u8; 35] = raw
            .try_into()
            .map_err(|_| Error::BadAddress("wrong decoded length"))?;
        if raw[34] != VERSION {
            return Err(Error::BadAddress("not a version 3 onion address"));
        }
        let mut pubkey = [0_u8; 32];
        pubkey.copy_from_slice(&raw[..32]);
        if raw[32..34] != checksum(&pubkey) {
            return Err(Error::BadAddress("checksum mismatch (mistyped address?)"));
        }
        let key =
            IdentityKey::from_bytes(&pubkey).map_err(|_| Error::BadAddress("not a valid key"))?;
        Ok(OnionAddress(key))
    }
}

fn checksum(pubkey: &[u8; 32]) -> [u8; 2] {
    let mut h = Sha3_256::new();
    h.update(CHECKSUM_PREFIX);
    h.update(pubkey);
    h.update([VERSION]);
    let d = h.finalize();
    [d[0], d[1]]
}

impl std::str::FromStr for OnionAddress {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

/// The full address. Use [`OnionAddress::redacted`] in logs.
impl std::fmt::Display for OnionAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_base32())
    }
}

impl std::fmt::Debug for OnionAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OnionAddress({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vectors {
        spec_examples: Vec<String>,
        key_to_address: Vec<KeyVector>,
        invalid: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct KeyVector {
        pubkey_hex: String,
        address: String,
    }

    fn vectors() -> Vectors {
        serde_json::from_str(include_str!("../../../docs/vectors/onion-address.json")).unwrap()
    }

    #[test]
    fn rend_spec_examples_parse_and_round_trip() {
        for a in vectors().spec_examples {
            let parsed = OnionAddress::parse(&a).unwrap();
            assert_eq!(parsed.hostname(), a);
            assert_eq!(OnionAddress::parse(&a.to_uppercase()).unwrap(), parsed);
        }
    }

    #[test]
    fn key_vectors() {
        for v in vectors().key_to_address {
            let key: [u8; 32] = hex::decode(&v.pubkey_hex).unwrap().try_into().unwrap();
            let addr = IdentityKey::from_bytes(&key).unwrap().address();
            assert_eq!(addr.to_base32(), v.address);
            assert_eq!(OnionAddress::parse(&v.address).unwrap().to_bytes(), key);
        }
    }

    #[test]
    fn invalid_addresses_rejected() {
        for a in vectors().invalid {
            assert!(OnionAddress::parse(&a).is_err(), "{a} accepted");
        }
    }

    #[test]
    fn redacted_is_short() {
        let a = OnionAddress::parse(&vectors().spec_examples[0]).unwrap();
        assert_eq!(a.redacted().chars().count(), 7);
        assert!(!format!("{a:?}").contains(&a.to_base32()));
    }
}
