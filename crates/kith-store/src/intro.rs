//! Pending introductions (`docs/protocol.md` § 8), kept across restarts.
//!
//! They are few and short-lived: a profile holds at most
//! [`MAX_STORED_INTRODUCTIONS`] (the node caps them lower, per introducer and
//! in all), each for days, and every change rewrites them together. So they
//! are one sealed value in the `settings` table, under a key the node never
//! uses ([`INTRODUCTIONS_KEY`]), rather than a table of their own: no schema
//! change, and a read-modify-write of the whole set is one call on the
//! store's thread.

use kith_core::Timestamp;
use kith_core::intro::IntroductionId;
use kith_core::limits::{MAX_DISPLAY_NAME, MAX_INTRODUCTION_NOTE};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::ContactId;
use crate::store::Store;

/// The settings key the introductions are sealed under.
pub const INTRODUCTIONS_KEY: &str = "kith-store/introductions";

/// Most introductions one profile stores (made and offered together).
pub const MAX_STORED_INTRODUCTIONS: usize = 128;

/// One introduction this profile takes part in.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Introduction {
    /// We introduce two of our contacts to each other.
    Made(MadeIntroduction),
    /// A contact introduces someone to us.
    Offered(OfferedIntroduction),
}

impl std::fmt::Debug for Introduction {
    // Never prints names or notes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Introduction::Made(m) => write!(f, "Made({:?}, {:?})", m.id, m.stage),
            Introduction::Offered(o) => {
                write!(f, "Offered({:?}, {:?}, off: {})", o.id, o.answer, o.off)
            }
        }
    }
}

/// Where an introduction we made stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MadeStage {
    /// Offers out; waiting for both answers.
    Asking,
    /// Both accepted: each side is sent the other's link until it says done.
    Linking,
    /// It did not happen: each side is told so until it says done.
    Off,
}

/// One side of an introduction we made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntroducedSide {
    /// The contact.
    pub contact: ContactId,
    /// Its answer, once given: accepted or not.
    pub answer: Option<bool>,
    /// It confirmed the last step (the link, or "off"): nothing more to send it.
    pub done: bool,
}

/// An introduction we made.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MadeIntroduction {
    /// Its id.
    pub id: IntroductionId,
    /// The two contacts introduced.
    pub sides: [IntroducedSide; 2],
    /// Our note to both.
    pub note: String,
    /// Where it stands.
    pub stage: MadeStage,
    /// When we made it.
    pub created_at: Timestamp,
}

/// An introduction offered to us.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedIntroduction {
    /// Its id (chosen by the introducer; unique only with `by`).
    pub id: IntroductionId,
    /// The contact who introduces.
    pub by: ContactId,
    /// The other side's name as the introducer gave it (sanitized).
    pub name: String,
    /// The introducer's note (sanitized).
    pub note: String,
    /// Our user's answer, once given.
    pub answer: Option<bool>,
    /// The introducer said it did not happen: kept only to be shown.
    pub off: bool,
    /// When it arrived.
    pub received_at: Timestamp,
}

impl Introduction {
    fn check(&self) -> Result<()> {
        let (names, note) = match self {
            Introduction::Made(m) => (None, &m.note),
            Introduction::Offered(o) => (Some(&o.name), &o.note),
        };
        if names.is_some_and(|n| n.len() > MAX_DISPLAY_NAME) {
            return Err(Error::BadInput {
                what: "introduced name (too long)",
            });
        }
        if note.len() > MAX_INTRODUCTION_NOTE {
            return Err(Error::BadInput {
                what: "introduction note (too long)",
            });
        }
        Ok(())
    }
}

impl Store {
    /// Every pending introduction, made and offered, in the order stored.
    pub fn introductions(&self) -> Result<Vec<Introduction>> {
        match self.setting(INTRODUCTIONS_KEY)? {
            None => Ok(vec![]),
            Some(bytes) => kith_core::wire::decode_exact("introductions", &bytes)
                .map_err(|_| Error::corrupt("introductions")),
        }
    }

    /// Replace every pending introduction with `all` (at most
    /// [`MAX_STORED_INTRODUCTIONS`], each within the name and note limits).
    pub fn set_introductions(&mut self, all: &[Introduction]) -> Result<()> {
        if all.len() > MAX_STORED_INTRODUCTIONS {
            return Err(Error::BadInput {
                what: "introductions (too many)",
            });
        }
        for i in all {
            i.check()?;
        }
        let bytes = postcard::to_stdvec(all).map_err(|_| Error::Bug("introductions encode"))?;
        self.set_setting(INTRODUCTIONS_KEY, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KdfParams, NewProfile};

    fn store(dir: &tempfile::TempDir) -> Store {
        Store::create(
            &dir.path().join("p.db"),
            b"pw",
            KdfParams::dangerously_fast_for_testing_only(),
            &NewProfile {
                display_name: "Ana".into(),
                identity_seed: zeroize::Zeroizing::new([1; 32]),
                created_at: Timestamp(1),
            },
        )
        .unwrap()
    }

    fn offered(n: u8) -> Introduction {
        Introduction::Offered(OfferedIntroduction {
            id: IntroductionId([n; 16]),
            by: ContactId(3),
            name: "Bo".into(),
            note: "you both climb".into(),
            answer: None,
            off: false,
            received_at: Timestamp(5),
        })
    }

    #[test]
    fn introductions_survive_reopening_and_are_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(&dir);
        assert!(s.introductions().unwrap().is_empty());
        let made = Introduction::Made(MadeIntroduction {
            id: IntroductionId([9; 16]),
            sides: [
                IntroducedSide {
                    contact: ContactId(1),
                    answer: Some(true),
                    done: false,
                },
                IntroducedSide {
                    contact: ContactId(2),
                    answer: None,
                    done: false,
                },
            ],
            note: String::new(),
            stage: MadeStage::Asking,
            created_at: Timestamp(7),
        });
        s.set_introductions(&[made.clone(), offered(1)]).unwrap();
        s.close().unwrap();
        let raw = std::fs::read(dir.path().join("p.db")).unwrap();
        assert!(!raw.windows(8).any(|w| w == b"you both"));
        let s = Store::open(&dir.path().join("p.db"), b"pw").unwrap();
        assert_eq!(s.introductions().unwrap(), vec![made, offered(1)]);
    }

    #[test]
    fn limits_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(&dir);
        let too_many: Vec<_> = (0..=MAX_STORED_INTRODUCTIONS)
            .map(|n| offered(u8::try_from(n % 256).unwrap()))
            .collect();
        assert!(s.set_introductions(&too_many).is_err());
        let Introduction::Offered(mut o) = offered(1) else {
            unreachable!()
        };
        o.note = "x".repeat(MAX_INTRODUCTION_NOTE + 1);
        assert!(s.set_introductions(&[Introduction::Offered(o)]).is_err());
        assert!(s.introductions().unwrap().is_empty());
    }
}
