//! The store's key hierarchy, sealing and lookup hashes.
//!
//! ```text
//! password ──Argon2id(salt, KdfParams)──▶ password key (32 B)
//!   password key ──BLAKE2b-256 keyed, "kith-store/v1/wrap"──▶ wrap key
//! data key (32 random bytes, made once at create)
//!   stored as XChaCha20-Poly1305(wrap key, nonce, data key, AD = wrap_ad)
//!   data key ──BLAKE2b-256 keyed, "kith-store/v1/seal"──▶ seal key
//!   data key ──BLAKE2b-256 keyed, "kith-store/v1/lookup"──▶ lookup key
//! ```
//!
//! A sealed value is `SEAL_VERSION ‖ nonce (24) ‖ ciphertext ‖ tag (16)`; the
//! plaintext is `len (u32 LE) ‖ postcard ‖ zero padding` to a multiple of
//! [`PAD`] bytes, so stored sizes reveal lengths only to within [`PAD`].

use blake2::Blake2bMac;
use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Length of every key in the hierarchy.
pub(crate) const KEY_LEN: usize = 32;
/// Length of the Argon2id salt.
pub(crate) const SALT_LEN: usize = 16;
/// Version byte leading every sealed value.
const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Plaintexts are padded to a multiple of this many bytes.
pub(crate) const PAD: usize = 64;
/// Largest sealed value we will try to open (bodies are limited far below).
pub(crate) const MAX_SEALED: usize = 1024 * 1024;

/// Argon2id cost parameters, stored (in clear) in the database with its salt.
///
/// `Default` is the production cost: about half a second to unlock on the
/// reference 2-core machine in a release build (128 MiB, 5 passes, 1 lane;
/// measured 0.53 s, where 64 MiB × 3 took only 0.15 s). Measure with
/// `cargo test -p kith-store --release -- --ignored --nocapture kdf_timing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub(crate) m_kib: u32,
    pub(crate) t_cost: u32,
    pub(crate) p_cost: u32,
}

impl KdfParams {
    /// Most memory we agree to spend (also when a database asks for more): 1 GiB.
    pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
    /// Most passes we agree to run.
    pub const MAX_ITERATIONS: u32 = 64;
    /// Most lanes we agree to use.
    pub const MAX_PARALLELISM: u32 = 16;

    /// Custom parameters: `memory_kib` KiB of memory, `iterations` passes over
    /// it, `parallelism` lanes. Rejects values Argon2 refuses or that exceed
    /// the `MAX_*` bounds.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<KdfParams> {
        let p = KdfParams {
            m_kib: memory_kib,
            t_cost: iterations,
            p_cost: parallelism,
        };
        p.argon2()?;
        Ok(p)
    }

    /// Almost free hashing (8 KiB, one pass), for tests only: a database
    /// stored with these parameters falls to password guessing.
    pub fn dangerously_fast_for_testing_only() -> KdfParams {
        KdfParams {
            m_kib: 8,
            t_cost: 1,
            p_cost: 1,
        }
    }

    /// Memory cost, in KiB.
    pub fn memory_kib(&self) -> u32 {
        self.m_kib
    }

    /// Number of passes.
    pub fn iterations(&self) -> u32 {
        self.t_cost
    }

    /// Number of lanes.
    pub fn parallelism(&self) -> u32 {
        self.p_cost
    }

    fn argon2(&self) -> Result<argon2::Argon2<'static>> {
        if self.m_kib > Self::MAX_MEMORY_KIB
            || self.t_cost > Self::MAX_ITERATIONS
            || self.p_cost > Self::MAX_PARALLELISM
        {
            return Err(Error::BadInput {
                what: "KDF parameters",
            });
        }
        let params = argon2::Params::new(self.m_kib, self.t_cost, self.p_cost, Some(KEY_LEN))
            .map_err(|_| Error::BadInput {
                what: "KDF parameters",
            })?;
        Ok(argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }

    /// Encoding bound into the key wrap's associated data.
    fn to_bytes(self) -> [u8; 12] {
        let mut b = [0_u8; 12];
        b[..4].copy_from_slice(&self.m_kib.to_be_bytes());
        b[4..8].copy_from_slice(&self.t_cost.to_be_bytes());
        b[8..].copy_from_slice(&self.p_cost.to_be_bytes());
        b
    }
}

impl Default for KdfParams {
    /// 128 MiB, 5 passes, 1 lane: about 0.5 s on the reference 2-core machine.
    fn default() -> Self {
        KdfParams {
            m_kib: 128 * 1024,
            t_cost: 5,
            p_cost: 1,
        }
    }
}

/// A 32-byte secret key, zeroized on drop, printed by name only.
#[derive(Clone)]
pub(crate) struct Key(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A fresh random key.
    pub(crate) fn random() -> Key {
        let mut k = Zeroizing::new([0_u8; KEY_LEN]);
        OsRng.fill_bytes(&mut *k);
        Key(k)
    }

    fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// BLAKE2b-256 keyed with this key over `label`: an independent subkey.
    fn derive(&self, label: &[u8]) -> Result<Key> {
        let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(self.bytes())
            .map_err(|_| Error::Bug("BLAKE2b key length"))?;
        mac.update(label);
        let out = mac.finalize().into_bytes();
        let mut k = Zeroizing::new([0_u8; KEY_LEN]);
        k.copy_from_slice(&out);
        Ok(Key(k))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.bytes().into())
    }

    /// Constant-time equality.
    pub(crate) fn ct_eq(&self, other: &Key) -> bool {
        use subtle::ConstantTimeEq;
        self.bytes().ct_eq(other.bytes()).into()
    }
}

/// A fresh random salt.
pub(crate) fn random_salt() -> [u8; SALT_LEN] {
    let mut s = [0_u8; SALT_LEN];
    OsRng.fill_bytes(&mut s);
    s
}

/// Argon2id(password, salt), then the wrap key derived from it.
pub(crate) fn wrap_key(password: &[u8], salt: &[u8], kdf: KdfParams) -> Result<Key> {
    let mut pk = Zeroizing::new([0_u8; KEY_LEN]);
    kdf.argon2()?
        .hash_password_into(password, salt, &mut *pk)
        .map_err(|_| Error::BadInput { what: "KDF input" })?;
    Key(pk).derive(b"kith-store/v1/wrap")
}

/// What the key wrap binds: the schema version, the KDF parameters and the salt.
fn wrap_ad(schema: i64, kdf: KdfParams, salt: &[u8]) -> Vec<u8> {
    let mut ad = b"kith-store/v1/key-wrap".to_vec();
    ad.extend_from_slice(&schema.to_be_bytes());
    ad.extend_from_slice(&kdf.to_bytes());
    ad.extend_from_slice(salt);
    ad
}

/// Seal the data key under the wrap key.
pub(crate) fn wrap(
    wrap_key: &Key,
    data_key: &Key,
    schema: i64,
    kdf: KdfParams,
    salt: &[u8],
) -> Result<Vec<u8>> {
    seal_raw(wrap_key, data_key.bytes(), &wrap_ad(schema, kdf, salt))
}

/// Open the wrapped data key. A failing tag means the wrong password (or a
/// wrap entry tampered with, which cannot be told apart).
pub(crate) fn unwrap(
    wrap_key: &Key,
    wrapped: &[u8],
    schema: i64,
    kdf: KdfParams,
    salt: &[u8],
) -> Result<Key> {
    let pt =
        open_raw(wrap_key, wrapped, &wrap_ad(schema, kdf, salt)).ok_or(Error::WrongPassword)?;
    if pt.len() != KEY_LEN {
        return Err(Error::Corrupt {
            what: "wrapped key length",
        });
    }
    let mut k = Zeroizing::new([0_u8; KEY_LEN]);
    k.copy_from_slice(&pt);
    Ok(Key(k))
}

/// Unkeyed BLAKE2b-256 checksum of the key-wrap entries, so that a damaged
/// wrap reads as corruption rather than as a wrong password. It protects
/// against accidents only (anyone can recompute it).
pub(crate) fn wrap_checksum(schema: i64, kdf: KdfParams, salt: &[u8], wrapped: &[u8]) -> Vec<u8> {
    use blake2::Digest;
    let mut h = blake2::Blake2b::<U32>::new();
    h.update(wrap_ad(schema, kdf, salt));
    h.update(wrapped);
    h.finalize().to_vec()
}

/// The keys derived from the data key, held while the store is open.
#[derive(Clone)]
pub(crate) struct Keys {
    data: Key,
    seal: Key,
    lookup: Key,
    /// How many sealed values [`Keys::open`] has opened: tests use it to
    /// show what an operation costs.
    #[cfg(test)]
    pub(crate) opened: std::cell::Cell<u64>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// Where a sealed value lives: bound into its associated data so that a
/// value moved to another table, column, row or owner fails to open.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    /// Table name.
    pub(crate) table: &'static str,
    /// Column name.
    pub(crate) column: &'static str,
    /// The row's id.
    pub(crate) row: i64,
    /// The owning row (the contact of a message), 0 when none.
    pub(crate) owner: i64,
}

impl Slot {
    fn ad(&self) -> Vec<u8> {
        let mut ad = Vec::with_capacity(64);
        ad.extend_from_slice(b"kith-store/v1/seal");
        for s in [self.table, self.column] {
            // Names are short constants; the length prefix keeps the encoding injective.
            ad.push(u8::try_from(s.len()).unwrap_or(u8::MAX));
            ad.extend_from_slice(s.as_bytes());
        }
        ad.extend_from_slice(&self.row.to_be_bytes());
        ad.extend_from_slice(&self.owner.to_be_bytes());
        ad
    }
}

impl Keys {
    /// Derive the seal and lookup keys from the data key.
    pub(crate) fn from_data_key(data: Key) -> Result<Keys> {
        Ok(Keys {
            seal: data.derive(b"kith-store/v1/seal")?,
            lookup: data.derive(b"kith-store/v1/lookup")?,
            data,
            #[cfg(test)]
            opened: std::cell::Cell::new(0),
        })
    }

    pub(crate) fn data_key(&self) -> &Key {
        &self.data
    }

    /// Keyed BLAKE2b-256 of `parts` under the lookup key, separated by `domain`.
    pub(crate) fn lookup(&self, domain: &'static str, parts: &[&[u8]]) -> Result<Vec<u8>> {
        let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(self.lookup.bytes())
            .map_err(|_| Error::Bug("BLAKE2b key length"))?;
        mac.update(
            &u64::try_from(domain.len())
                .unwrap_or(u64::MAX)
                .to_be_bytes(),
        );
        mac.update(domain.as_bytes());
        for p in parts {
            mac.update(&u64::try_from(p.len()).unwrap_or(u64::MAX).to_be_bytes());
            mac.update(p);
        }
        Ok(mac.finalize().into_bytes().to_vec())
    }

    /// Serialize, pad and seal `value` for `slot`.
    pub(crate) fn seal<T: Serialize>(&self, slot: Slot, value: &T) -> Result<Vec<u8>> {
        let encoded = Zeroizing::new(
            postcard::to_stdvec(value).map_err(|_| Error::Bug("postcard encoding"))?,
        );
        let len =
            u32::try_from(encoded.len()).map_err(|_| Error::BadInput { what: "value size" })?;
        let total = (4 + encoded.len()).div_ceil(PAD) * PAD;
        let mut padded = Zeroizing::new(Vec::with_capacity(total));
        padded.extend_from_slice(&len.to_le_bytes());
        padded.extend_from_slice(&encoded);
        padded.resize(total, 0);
        seal_raw(&self.seal, &padded, &slot.ad())
    }

    /// Open a value sealed for `slot`: authentication, padding and exact
    /// decoding failures are all [`Error::Corrupt`] about `what`.
    pub(crate) fn open<T: DeserializeOwned>(
        &self,
        slot: Slot,
        sealed: &[u8],
        what: &'static str,
    ) -> Result<T> {
        #[cfg(test)]
        self.opened.set(self.opened.get() + 1);
        let corrupt = Error::Corrupt { what };
        let padded = open_raw(&self.seal, sealed, &slot.ad()).ok_or(Error::Corrupt { what })?;
        let (len, rest) = padded.split_at_checked(4).ok_or(Error::Corrupt { what })?;
        let len = u32::from_le_bytes(len.try_into().map_err(|_| Error::Corrupt { what })?);
        let len = usize::try_from(len).map_err(|_| Error::Corrupt { what })?;
        let (body, padding) = rest.split_at_checked(len).ok_or(Error::Corrupt { what })?;
        if padding.iter().any(|&b| b != 0) || padded.len() % PAD != 0 {
            return Err(corrupt);
        }
        kith_core::wire::decode_exact(what, body).map_err(|_| corrupt)
    }
}

fn seal_raw(key: &Key, plaintext: &[u8], ad: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0_u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let ct = key
        .cipher()
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: ad,
            },
        )
        .map_err(|_| Error::Bug("XChaCha20-Poly1305 encryption"))?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(SEAL_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// `None` when the value does not authenticate (or is malformed).
fn open_raw(key: &Key, sealed: &[u8], ad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed.len() > MAX_SEALED {
        return None;
    }
    let (version, rest) = sealed.split_first()?;
    if *version != SEAL_VERSION {
        return None;
    }
    let (nonce, ct) = rest.split_at_checked(NONCE_LEN)?;
    key.cipher()
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: ad })
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::from_data_key(Key::random()).unwrap()
    }

    const SLOT: Slot = Slot {
        table: "t",
        column: "c",
        row: 7,
        owner: 3,
    };

    #[test]
    fn seal_round_trip_and_padding() {
        let k = keys();
        for s in ["", "a", &"x".repeat(59), &"x".repeat(60), &"y".repeat(1000)] {
            let sealed = k.seal(SLOT, &s.to_owned()).unwrap();
            assert_eq!((sealed.len() - 1 - NONCE_LEN - TAG_LEN) % PAD, 0);
            let back: String = k.open(SLOT, &sealed, "test").unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn seal_binds_slot() {
        let k = keys();
        let sealed = k.seal(SLOT, &"hello".to_owned()).unwrap();
        for other in [
            Slot { table: "u", ..SLOT },
            Slot {
                column: "d",
                ..SLOT
            },
            Slot { row: 8, ..SLOT },
            Slot { owner: 4, ..SLOT },
        ] {
            let e = k.open::<String>(other, &sealed, "test").unwrap_err();
            assert!(matches!(e, Error::Corrupt { .. }));
        }
        // Another store's keys do not open it either.
        assert!(keys().open::<String>(SLOT, &sealed, "test").is_err());
    }

    #[test]
    fn open_rejects_every_flipped_byte_and_truncation() {
        let k = keys();
        let sealed = k.seal(SLOT, &"hello".to_owned()).unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(k.open::<String>(SLOT, &bad, "test").is_err(), "byte {i}");
        }
        for n in 0..sealed.len() {
            assert!(k.open::<String>(SLOT, &sealed[..n], "test").is_err());
        }
    }

    #[test]
    fn lookup_is_keyed_and_domain_separated() {
        let k = keys();
        let a = k.lookup("alias", &[b"bob"]).unwrap();
        assert_eq!(a, k.lookup("alias", &[b"bob"]).unwrap());
        assert_ne!(a, k.lookup("address", &[b"bob"]).unwrap());
        assert_ne!(a, keys().lookup("alias", &[b"bob"]).unwrap());
        // Part boundaries matter.
        assert_ne!(
            k.lookup("m", &[b"ab", b"c"]).unwrap(),
            k.lookup("m", &[b"a", b"bc"]).unwrap()
        );
    }

    #[test]
    fn wrap_round_trip_and_wrong_password() {
        let kdf = KdfParams::dangerously_fast_for_testing_only();
        let salt = random_salt();
        let dk = Key::random();
        let wk = wrap_key(b"pw", &salt, kdf).unwrap();
        let w = wrap(&wk, &dk, 1, kdf, &salt).unwrap();
        assert!(unwrap(&wk, &w, 1, kdf, &salt).unwrap().ct_eq(&dk));
        let bad = wrap_key(b"pW", &salt, kdf).unwrap();
        assert!(matches!(
            unwrap(&bad, &w, 1, kdf, &salt),
            Err(Error::WrongPassword)
        ));
        // The parameters and version are bound.
        let kdf2 = KdfParams::new(16, 1, 1).unwrap();
        assert!(unwrap(&wk, &w, 1, kdf2, &salt).is_err());
        assert!(unwrap(&wk, &w, 2, kdf, &salt).is_err());
    }

    #[test]
    fn kdf_params_bounds() {
        assert!(KdfParams::new(8, 1, 1).is_ok());
        assert!(KdfParams::new(4, 1, 1).is_err());
        assert!(KdfParams::new(8, 0, 1).is_err());
        assert!(KdfParams::new(KdfParams::MAX_MEMORY_KIB + 1, 1, 1).is_err());
        assert!(KdfParams::new(64, 1, KdfParams::MAX_PARALLELISM + 1).is_err());
        assert!(KdfParams::default().argon2().is_ok());
    }
}
