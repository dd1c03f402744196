//! Entry points for `cargo fuzz` targets (in `fuzz/`), compiled on stable so
//! they cannot rot. Each asserts a round trip, not only "no panic".

use kith_core::group::{GroupId, GroupMessage, GroupMessageId};

use crate::reconcile::{self, MAX_RECONCILE_MESSAGE, Reconciler};

/// The fixed replica the reconciliation targets answer from: 200 ids.
fn fixed_ids() -> Vec<GroupMessageId> {
    (0..200_u64)
        .map(|i| {
            let mut id = [0_u8; 32];
            id[..8].copy_from_slice(&(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes());
            GroupMessageId(id)
        })
        .collect()
}

/// Every message a side sends is within bounds and decodes.
fn check_sent(send: &[Vec<u8>]) {
    for m in send {
        assert!(m.len() <= MAX_RECONCILE_MESSAGE);
        reconcile::decode(m).expect("our message decodes");
    }
}

/// Feed arbitrary bytes as a reconciliation message: whatever decodes
/// re-encodes to a message that decodes to itself; a responder over a fixed replica (as the
/// first message) and an initiator (as the answer to its start) take it
/// or refuse it with an error, without panicking, and what they send back
/// decodes.
pub fn reconcile_message(data: &[u8]) {
    if let Ok(m) = reconcile::decode(data) {
        let again = reconcile::encode(&m).expect("a decoded message encodes");
        assert_eq!(reconcile::decode(&again).expect("re-decodes"), m);
    }
    let mut r = Reconciler::respond_to(fixed_ids()).expect("fixed ids are valid");
    if let Ok(step) = r.handle(data) {
        check_sent(&step.send);
    }
    let (mut i, first) = Reconciler::initiate(fixed_ids(), [3; 16]).expect("fixed ids are valid");
    check_sent(&[first]);
    if let Ok(step) = i.handle(data) {
        check_sent(&step.send);
    }
}

/// Feed arbitrary bytes to the reconciliation state machines. First, two
/// honest sides over sets drawn from the bytes (byte *k*: id *k* is on the
/// initiator's side if bit 0 is set, on the responder's if bit 1 is; the
/// salt from the first 16 bytes) end knowing exactly their difference.
/// Then the bytes, split at each `0xfe`, as a hostile peer's messages to a
/// responder and to an initiator: the state machines stay bounded (the
/// initiator never sends more symbols than its cap), never panic, and
/// after an error or the end refuse everything.
pub fn reconcile_session(data: &[u8]) {
    honest_pair(data);
    let mut r = Reconciler::respond_to(fixed_ids()).expect("fixed ids are valid");
    let (mut i, _) = Reconciler::initiate(fixed_ids(), [3; 16]).expect("fixed ids are valid");
    let mut sent = 0_usize;
    for side in [&mut r, &mut i] {
        let mut over = false;
        for msg in data.split(|&b| b == 0xfe) {
            match side.handle(msg) {
                Ok(step) => {
                    assert!(!over, "a message taken after the end");
                    check_sent(&step.send);
                    sent += step.send.iter().map(Vec::len).sum::<usize>();
                    over = step.done.is_some();
                }
                Err(_) => over = true,
            }
        }
    }
    let cap = reconcile::symbol_cap(200, reconcile::MAX_ITEMS) as usize;
    assert!(sent <= cap * (reconcile::SYMBOL_LEN + 1) + 64 * 1024);
}

fn honest_pair(data: &[u8]) {
    let id = |k: usize| {
        let mut id = [0_u8; 32];
        id[..8].copy_from_slice(&(k as u64).to_le_bytes());
        GroupMessageId(id)
    };
    let mut salt = [0_u8; 16];
    for (s, b) in salt.iter_mut().zip(data) {
        *s = *b;
    }
    let pick = |bit: u8| -> Vec<GroupMessageId> {
        data.iter()
            .enumerate()
            .filter(|(_, b)| *b & bit != 0)
            .map(|(k, _)| id(k))
            .collect()
    };
    let (a, b) = (pick(1), pick(2));
    let (mut ra, first) = Reconciler::initiate(a.iter().copied(), salt).expect("valid ids");
    let mut rb = Reconciler::respond_to(b.iter().copied()).expect("valid ids");
    let (mut oa, mut ob) = (None, None);
    let mut in_flight = vec![first];
    let mut turn = 0;
    while !in_flight.is_empty() {
        let (side, out) = if turn % 2 == 0 {
            (&mut rb, &mut ob)
        } else {
            (&mut ra, &mut oa)
        };
        turn += 1;
        for m in std::mem::take(&mut in_flight) {
            let step = side.handle(&m).expect("an honest peer");
            check_sent(&step.send);
            in_flight.extend(step.send);
            if step.done.is_some() {
                *out = step.done;
            }
        }
    }
    let (oa, ob) = (oa.expect("initiator done"), ob.expect("responder done"));
    let only = |x: &[GroupMessageId], y: &[GroupMessageId]| -> Vec<GroupMessageId> {
        let mut v: Vec<GroupMessageId> = x.iter().filter(|i| !y.contains(i)).copied().collect();
        v.sort_unstable();
        v
    };
    assert_eq!(oa.need, only(&b, &a));
    assert_eq!(ob.give, only(&b, &a));
    assert_eq!(oa.give, only(&a, &b));
    assert_eq!(ob.need_keys.len(), oa.give.len());
}

/// Feed arbitrary bytes as a relayed group message: whatever verifies
/// has the id of its bytes, re-decodes to itself, and keeps the rules of
/// its kind (a blog's `CreateBlog` and `Reblog`,
/// `kith_core::fuzzing::group_message_rules`).
pub fn group_message(data: &[u8]) {
    if let Ok(m) = GroupMessage::decode(data) {
        kith_core::fuzzing::group_message_rules(&m);
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

    /// Found by the fuzz smoke (`reconcile_session`): an honest pair that
    /// did not finish.
    #[test]
    fn an_honest_pair_found_by_fuzzing_finishes() {
        let data = [
            0x21, 0x21, 0x21, 0x21, 0x21, 0x0, 0xdf, 0x0, 0xb7, 0xe3, 0x0, 0x0, 0x1, 0x0, 0x1, 0x0,
            0xde, 0x21, 0xdb, 0xe9, 0xe9, 0xe9, 0xe9, 0xe9, 0xe9, 0xff, 0xff, 0xe3, 0x78, 0xe9,
            0xe9, 0xe9, 0xe5, 0x21, 0xe9, 0xe9, 0xe9,
        ];
        super::reconcile_session(&data);
    }

    /// Found by the fuzz smoke (`reconcile_session`): a message that did
    /// not decode did not end the exchange, and the next one was taken.
    #[test]
    fn a_bad_message_ends_the_exchange() {
        super::reconcile_session(&[254, 2, 1, 161, 73, 251, 73]);
    }

    proptest! {
        #[test]
        fn reconcile_message_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut data = data;
            if let Some(b) = data.first_mut() { *b = crate::reconcile::CURRENT_VERSION; }
            super::reconcile_message(&data);
            super::reconcile_session(&data);
        }

        #[test]
        fn honest_pairs_always_finish(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            super::honest_pair(&data);
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
