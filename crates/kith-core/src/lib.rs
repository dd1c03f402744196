#![doc = include_str!("../README.md")]

pub mod address;
pub mod chat;
pub mod clock;
mod error;
pub mod error_kind;
pub mod feed;
pub mod file;
pub mod group;
pub mod identity;
pub mod inbox;
pub mod intro;
pub mod limits;
pub mod link;
pub mod meet;
pub mod reach;
pub mod safety;
pub mod text;
pub mod wire;

#[doc(hidden)]
pub mod fuzzing;

pub use address::OnionAddress;
pub use clock::Timestamp;
pub use error::Error;
pub use error_kind::ErrorKind;
pub use identity::{IdentityKey, IdentityKeypair};
pub use link::{ContactLink, InboxLink, Link};
pub use meet::{MeetCode, MeetFailure};
pub use safety::SafetyNumber;
pub use wire::{MessageId, PeerMessage};
