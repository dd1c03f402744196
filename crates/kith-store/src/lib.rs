#![doc = include_str!("../README.md")]

mod crypto;
mod error;
mod handle;
mod intro;
mod model;
mod schema;
mod store;

pub use crypto::KdfParams;
pub use error::{Error, Result};
pub use handle::{COMMAND_QUEUE, StoreHandle};
pub use intro::{
    INTRODUCTIONS_KEY, IntroducedSide, Introduction, MAX_STORED_INTRODUCTIONS, MadeIntroduction,
    MadeStage, OfferedIntroduction,
};
pub use kith_core::{MessageId, Timestamp};
pub use model::{
    Contact, ContactId, ContactOrigin, ContactState, ContactSummary, Direction, Inserted, Message,
    MessageState, NewContact, NewProfile, Profile, Reach,
};
pub use store::Store;
