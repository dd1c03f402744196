#![doc = include_str!("../README.md")]

mod error;
pub mod frame;
pub mod reconcile;
pub mod replica;
pub mod session;

#[doc(hidden)]
pub mod fuzzing;

pub use error::Error;
pub use reconcile::{Key, Outcome, Reconciler, Step};
pub use replica::{Admit, Inserted, Item, Limits, Replica, Source};
pub use session::{GroupSync, Output};
