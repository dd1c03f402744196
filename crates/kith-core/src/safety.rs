//! Safety numbers: what two people compare to verify each other's identity
//! key when they did not meet in person (`docs/protocol.md`, § Safety numbers).
//!
//! A safety number is computed from both identity keys, so it is the same
//! on both devices, whichever side computes it: 60 decimal digits in 12
//! groups of 5, read aloud or compared on screen. If the numbers match, each
//! side holds the other's real identity key (no one in the middle swapped a
//! link); if they differ, one of the two links was not the other's.
//!
//! ```text
//! lo, hi = the two 32-byte ed25519 public keys, lo ≤ hi bytewise
//! d      = SHA-512("kith/v1/safety-number" ‖ lo ‖ hi)
//! group i (0 ≤ i < 12) = BE-uint(d[5i .. 5i+5]) mod 100000, 5 digits
//! ```

use sha2::{Digest, Sha512};

use crate::identity::IdentityKey;

/// Domain separation for the safety-number hash.
const DOMAIN: &[u8] = b"kith/v1/safety-number";

/// How many groups a safety number has.
pub const GROUPS: usize = 12;

/// Decimal digits per group.
pub const GROUP_DIGITS: usize = 5;

/// Bytes of the digest behind each group: 40 bits reduced mod 10⁵, so the
/// bias toward small groups is below 10⁻⁷.
const GROUP_BYTES: usize = 5;

/// The safety number of two identities. Equal on both sides; printed with
/// [`std::fmt::Display`] as 12 space-separated groups of 5 digits (about
/// 199 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SafetyNumber {
    groups: [u32; GROUPS],
}

impl SafetyNumber {
    /// The safety number of `ours` and `theirs` (the order does not matter).
    pub fn new(ours: &IdentityKey, theirs: &IdentityKey) -> SafetyNumber {
        Self::from_key_bytes(&ours.to_bytes(), &theirs.to_bytes())
    }

    /// The same from the keys' 32-byte encodings.
    pub fn from_key_bytes(a: &[u8; 32], b: &[u8; 32]) -> SafetyNumber {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let d = Sha512::new()
            .chain_update(DOMAIN)
            .chain_update(lo)
            .chain_update(hi)
            .finalize();
        let mut groups = [0_u32; GROUPS];
        for (g, chunk) in groups.iter_mut().zip(d.chunks_exact(GROUP_BYTES)) {
            let v = chunk
                .iter()
                .fold(0_u64, |acc, &x| (acc << 8) | u64::from(x));
            // < 100000: fits a u32.
            *g = u32::try_from(v % 100_000).unwrap_or(0);
        }
        SafetyNumber { groups }
    }

    /// The 12 groups, each below 100000 (show each with 5 digits).
    pub fn groups(&self) -> [u32; GROUPS] {
        self.groups
    }

    /// The number as rows of `per_row` groups, for screens: `rows(4)` gives
    /// three lines of "12345 67890 12345 67890".
    pub fn rows(&self, per_row: usize) -> Vec<String> {
        self.groups
            .chunks(per_row.max(1))
            .map(|row| {
                row.iter()
                    .map(|g| format!("{g:05}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// The 60 digits, without spaces.
    pub fn digits(&self) -> String {
        self.groups.iter().map(|g| format!("{g:05}")).collect()
    }

    /// Whether `typed` is this number, ignoring spaces and other separators
    /// a person may type between the digits.
    pub fn matches(&self, typed: &str) -> bool {
        let digits: String = typed.chars().filter(char::is_ascii_digit).collect();
        let other_chars = typed
            .chars()
            .any(|c| !c.is_ascii_digit() && !c.is_whitespace() && c != '-');
        !other_chars && digits == self.digits()
    }
}

impl std::fmt::Display for SafetyNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rows(GROUPS)[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IdentityKeypair;

    fn key(hex_str: &str) -> IdentityKey {
        let b: [u8; 32] = hex::decode(hex_str).unwrap().try_into().unwrap();
        IdentityKey::from_bytes(&b).unwrap()
    }

    #[test]
    fn vectors_from_docs() {
        #[derive(serde::Deserialize)]
        struct V {
            key_a_hex: String,
            key_b_hex: String,
            safety_number: String,
        }
        let vs: Vec<V> =
            serde_json::from_str(include_str!("../../../docs/vectors/safety-number.json")).unwrap();
        assert!(!vs.is_empty());
        for v in vs {
            let (a, b) = (key(&v.key_a_hex), key(&v.key_b_hex));
            assert_eq!(SafetyNumber::new(&a, &b).to_string(), v.safety_number);
            assert_eq!(SafetyNumber::new(&b, &a).to_string(), v.safety_number);
        }
    }

    #[test]
    fn same_on_both_sides_different_for_other_pairs() {
        let a = IdentityKeypair::from_seed(&[1; 32]).public();
        let b = IdentityKeypair::from_seed(&[2; 32]).public();
        let c = IdentityKeypair::from_seed(&[3; 32]).public();
        let ab = SafetyNumber::new(&a, &b);
        assert_eq!(ab, SafetyNumber::new(&b, &a));
        assert_ne!(ab, SafetyNumber::new(&a, &c));
        assert_ne!(ab, SafetyNumber::new(&c, &b));
        // One changed bit of one key changes the number.
        let mut flipped = b.to_bytes();
        flipped[31] ^= 1;
        assert_ne!(ab, SafetyNumber::from_key_bytes(&a.to_bytes(), &flipped));
    }

    #[test]
    fn shape() {
        let a = IdentityKeypair::from_seed(&[7; 32]).public();
        let b = IdentityKeypair::from_seed(&[8; 32]).public();
        let n = SafetyNumber::new(&a, &b);
        let s = n.to_string();
        assert_eq!(s.len(), GROUPS * GROUP_DIGITS + GROUPS - 1);
        let groups: Vec<&str> = s.split(' ').collect();
        assert_eq!(groups.len(), GROUPS);
        assert!(
            groups
                .iter()
                .all(|g| g.len() == GROUP_DIGITS && g.bytes().all(|c| c.is_ascii_digit()))
        );
        assert!(n.groups().iter().all(|&g| g < 100_000));
        assert_eq!(n.digits(), s.replace(' ', ""));
        assert_eq!(n.rows(4).len(), 3);
        assert_eq!(n.rows(4).join(" "), s);
        assert!(n.matches(&s));
        assert!(n.matches(&n.rows(4).join("\n")));
        assert!(n.matches(&n.digits()));
        let mut wrong = n.digits();
        wrong.replace_range(0..1, if wrong.starts_with('0') { "1" } else { "0" });
        assert!(!n.matches(&wrong));
        assert!(!n.matches(&format!("{s}0")));
        assert!(!n.matches(&format!("x{s}")));
        assert!(!n.matches(""));
    }
}
