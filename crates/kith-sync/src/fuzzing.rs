//! Entry points for `cargo fuzz` targets (in `fuzz/`), compiled on stable so
//! they cannot rot. Each asserts a round trip, not only "no panic".

use kith_core::group::{GroupId, GroupMessage, GroupMessageId};

use crate::reconcile::{self, Item, Reconciler};

/// The fixed replica the reconciliation target answers from: 200 items.
fn fixed_items() -> Vec<Item> {
    (0..200_u64)
        .map(|i| {
            let mut id = [0_u8; 32];
            id[..8].copy_from_slice(&(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes());
            Item {
                timestamp: 1_000 + i / 3,
                id: GroupMessageId(id),
            }
        })
        .collect()
}

/// Feed arbitrary bytes as a reconciliation message: whatever decodes
/// re-encodes to a message that decodes to the same ranges; a responder
/// over a fixed replica answers it (or refuses it with an error) without
/// panicking, and its answer decodes.
pub fn reconcile_message(data: &[u8]) {
    if let Ok(ranges) = reconcile::decode(data) {
        let again = reconcile::encode(&ranges).expect("decoded ranges encode");
        assert_eq!(reconcile::decode(&again).expect("re-decodes"), ranges);
    }
    let mut r = Reconciler::new(fixed_items()).expect("fixed items are valid");
    if let Ok(step) = r.respond(data)
        && let Some(reply) = step.send
    {
        assert!(reply.len() <= reconcile::MAX_RECONCILE_MESSAGE);
        reconcile::decode(&reply).expect("our answer decodes");
    }
}

/// Feed arbitrary bytes as a run of messages (split at each `0xfe`) to one
/// responder: the state machine stays bounded and never panics.
pub fn reconcile_session(data: &[u8]) {
    let mut r = Reconciler::new(fixed_items()).expect("fixed items are valid");
    for msg in data.split(|&b| b == 0xfe) {
        match r.respond(msg) {
            Ok(step) if step.done => break,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert!(r.rounds() <= reconcile::MAX_ROUNDS);
}

/// Feed arbitrary bytes as a relayed group message: whatever verifies
/// has the id of its bytes and re-decodes to itself.
pub fn group_message(data: &[u8]) {
    if let Ok(m) = GroupMessage::decode(data) {
        assert_eq!(m.id(), GroupMessageId::of(data));
        assert_eq!(m.encoded(), data);
        assert_eq!(GroupMessage::decode(m.encoded()).expect("re-decodes"), m);
    }
}

/// Feed arbitrary bytes as a sync frame: whatever decodes re-encodes to a
/// frame that decodes to itself.
pub fn sync_frame(data: &[u8]) {
    if let Ok(f) = crate::frame::decode(data) {
        let again = crate::frame::encode(&f).expect("a decoded frame encodes");
        assert_eq!(crate::frame::decode(&again).expect("re-decodes"), f);
        let _: GroupId = f.group();
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn reconcile_message_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut data = data;
            if let Some(b) = data.first_mut() { *b = 1; }
            super::reconcile_message(&data);
            super::reconcile_session(&data);
        }

        #[test]
        fn group_message_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            super::group_message(&data);
        }

        #[test]
        fn sync_frame_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut data = data;
            if let Some(b) = data.first_mut() { *b = 1; }
            super::sync_frame(&data);
        }
    }
}
