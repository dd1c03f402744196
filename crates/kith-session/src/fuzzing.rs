//! Entry points for `cargo fuzz` targets (in `fuzz/`), compiled on stable so
//! they cannot rot. Fixed keys, fixed ephemerals: every run is repeatable.

use ed25519_dalek::SigningKey;
use kith_core::ErrorKind;

use crate::error::Error;
use crate::frame::{FRAME_HEADER_LEN, next_frame};
use crate::handshake::{Initiator, Responder, SUPPORTED_VERSIONS};
use crate::record::{MAX_RECORD_PLAINTEXT, PADDING_BUCKETS, Record, Session};

/// ed25519 seed of the fixed initiator (the test vector's).
pub const INITIATOR_SEED: [u8; 32] = [0x01; 32];
/// ed25519 seed of the fixed responder (the test vector's).
pub const RESPONDER_SEED: [u8; 32] = [0x02; 32];
/// X25519 ephemeral secret of the fixed initiator.
pub const INITIATOR_EPHEMERAL: [u8; 32] = [0x03; 32];
/// X25519 ephemeral secret of the fixed responder.
pub const RESPONDER_EPHEMERAL: [u8; 32] = [0x04; 32];

/// A deterministic handshake between the fixed identities.
pub struct Transcript {
    /// The hello frame (header included).
    pub hello: Vec<u8>,
    /// The reply frame.
    pub reply: Vec<u8>,
    /// The finish frame.
    pub finish: Vec<u8>,
    /// The initiator's session.
    pub initiator: Session,
    /// The responder's session.
    pub responder: Session,
}

/// Run the handshake between the fixed (public!) identities with fixed
/// ephemerals: every session it makes is readable by anyone. Tests only.
pub fn transcript_for_testing_only() -> Transcript {
    let i_key = SigningKey::from_bytes(&INITIATOR_SEED);
    let r_key = SigningKey::from_bytes(&RESPONDER_SEED);
    // Fixed, valid keys: each step below cannot fail.
    let (initiator, hello) = Initiator::start(
        &i_key,
        &r_key.verifying_key(),
        SUPPORTED_VERSIONS,
        Some(&INITIATOR_EPHEMERAL),
    )
    .expect("fixed initiator starts");
    let responder = Responder::start(&r_key, SUPPORTED_VERSIONS, Some(&RESPONDER_EPHEMERAL))
        .expect("fixed responder starts");
    let (responder, reply) = responder
        .read_hello(&hello[FRAME_HEADER_LEN..])
        .expect("fixed hello is read");
    let (initiator, finish) = initiator
        .read_reply(&reply[FRAME_HEADER_LEN..])
        .expect("fixed reply is read");
    let (responder, peer) = responder
        .read_finish(&finish[FRAME_HEADER_LEN..])
        .expect("fixed finish is read");
    assert_eq!(peer, i_key.verifying_key());
    assert_eq!(initiator.handshake_hash(), responder.handshake_hash());
    Transcript {
        hello,
        reply,
        finish,
        initiator,
        responder,
    }
}

/// Peer input may fail in any way except as a bug of ours.
fn not_a_bug(e: &Error) {
    assert_ne!(e.kind(), ErrorKind::Bug, "peer input caused: {e}");
}

/// Feed arbitrary bytes to a responder with fixed keys.
///
/// First byte even: the rest is a stream of frames (`u16 BE length ‖ body`)
/// fed to `read_hello`, `read_finish`, then `open` until one fails; every
/// failure must be a typed peer error, never [`ErrorKind::Bug`].
///
/// First byte odd: a genuine handshake, then the rest, cut into frames, is
/// sealed alternately by each side and must open to the same bytes, in a
/// bucket-sized frame; the close record and a tampered record finish.
pub fn session_responder(data: &[u8]) {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        responder_reads(data);
    } else {
        round_trip(data);
    }
}

fn responder_reads(data: &[u8]) {
    let key = SigningKey::from_bytes(&RESPONDER_SEED);
    let responder = Responder::start(&key, SUPPORTED_VERSIONS, Some(&RESPONDER_EPHEMERAL))
        .expect("fixed responder starts");
    let Some((hello, rest)) = next_frame(data) else {
        return;
    };
    let (responder, _reply) = match responder.read_hello(hello) {
        Ok(r) => r,
        Err(e) => return not_a_bug(&e),
    };
    let Some((finish, mut rest)) = next_frame(rest) else {
        return;
    };
    let (mut session, _peer) = match responder.read_finish(finish) {
        Ok(r) => r,
        Err(e) => return not_a_bug(&e),
    };
    while let Some((body, more)) = next_frame(rest) {
        rest = more;
        if let Err(e) = session.open(body) {
            return not_a_bug(&e);
        }
    }
}

fn round_trip(data: &[u8]) {
    let mut t = transcript_for_testing_only();
    let mut rest = data;
    let mut turn = 0_usize;
    while !rest.is_empty() {
        // A truncated last frame is used as it is.
        let (chunk, more) = next_frame(rest).unwrap_or((rest, &[]));
        rest = more;
        let chunk = &chunk[..chunk.len().min(MAX_RECORD_PLAINTEXT)];
        let (from, to) = if turn.is_multiple_of(2) {
            (&mut t.initiator, &mut t.responder)
        } else {
            (&mut t.responder, &mut t.initiator)
        };
        turn += 1;
        let frame = from.seal(chunk).expect("a frame-sized chunk fits a record");
        assert!(PADDING_BUCKETS.contains(&(frame.len() - FRAME_HEADER_LEN)));
        let opened = to
            .open(&frame[FRAME_HEADER_LEN..])
            .expect("a sealed record opens");
        assert_eq!(opened, Record::Data(chunk.to_vec()));
    }

    // The initiator ends its side; the responder may still send.
    let close = t.initiator.close().expect("close seals");
    assert_eq!(
        t.responder.open(&close[FRAME_HEADER_LEN..]),
        Ok(Record::Close)
    );

    // Tampering anywhere (position from the input) is detected.
    let mut frame = t.responder.seal(data).unwrap_or_else(|e| {
        assert_eq!(e.kind(), ErrorKind::BadLocalInput);
        t.responder.seal(&[]).expect("an empty record seals")
    });
    let body = &mut frame[FRAME_HEADER_LEN..];
    let at = data.len() % body.len();
    body[at] ^= 0x80;
    assert_eq!(t.initiator.open(body), Err(Error::RecordAuthentication));
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn responder_never_fails_as_a_bug(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            super::session_responder(&data);
        }
    }

    #[test]
    fn genuine_transcript_passes_the_responder_harness() {
        let t = super::transcript_for_testing_only();
        let mut data = vec![0_u8];
        data.extend_from_slice(&t.hello);
        data.extend_from_slice(&t.finish);
        super::session_responder(&data);
    }

    #[test]
    fn round_trip_mode() {
        super::session_responder(&[1]);
        super::session_responder(&[1, 0, 3, b'a', b'b', b'c', 0, 0, 7, 7]);
        let mut big = vec![1_u8, 0xff, 0xff];
        big.extend(std::iter::repeat_n(0x55, 70_000));
        super::session_responder(&big);
    }
}
