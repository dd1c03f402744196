#![doc = include_str!("../README.md")]

mod error;
mod frame;
mod handshake;
mod record;

#[doc(hidden)]
pub mod fuzzing;

pub use error::{Error, Result};
pub use frame::{FRAME_HEADER_LEN, MAX_FRAME, body_len, next_frame};
pub use handshake::{
    Initiator, NOISE_PATTERN, PROLOGUE, Responder, ResponderAwaitingFinish, SUPPORTED_VERSIONS,
    x25519_public,
};
pub use record::{MAX_RECORD_PLAINTEXT, PADDING_BUCKETS, Record, Session};

#[cfg(test)]
mod tests {
    /// kith-node holds these across `.await` in spawned tasks.
    #[test]
    fn states_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<crate::Initiator>();
        send_sync::<crate::Responder>();
        send_sync::<crate::ResponderAwaitingFinish>();
        send_sync::<crate::Session>();
        send_sync::<crate::Error>();
    }
}
