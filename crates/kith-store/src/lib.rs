#![doc = include_str!("../README.md")]

mod crypto;
mod error;
mod handle;
mod model;
mod schema;
mod store;

pub use crypto::KdfParams;
pub use error::{Error, Result};
pub use handle::{COMMAND_QUEUE, StoreHandle};
pub use kith_core::{MessageId, Timestamp};
pub use model::{
    Contact, ContactId, ContactOrigin, ContactState, ContactSummary, Direction, Inserted, Message,
    MessageState, NewContact, NewProfile, Profile,
};
pub use store::Store;
