//! Entry points for `cargo fuzz` targets (in `fuzz/`), compiled on stable so
//! they cannot rot. Fixed keys, fixed ephemerals: every run is repeatable.

use ed25519_dalek::SigningKey;
use kith_core::ErrorKind;

use crate::error::Error;
use crate::frame::{FRAME_HEADER_LEN, next_frame};
use crate::handshake::{Initiator, Responder, SUPPORTED_VERSIONS, x25519_public};
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
    handshake_with_fixed_responder(&i_key, &INITIATOR_EPHEMERAL)
}

fn fixed_responder() -> (SigningKey, Responder) {
    let key = SigningKey::from_bytes(&RESPONDER_SEED);
    // Fixed, valid key: cannot fail.
    let responder = Responder::start(&key, SUPPORTED_VERSIONS, Some(&RESPONDER_EPHEMERAL))
        .expect("fixed responder starts");
    (key, responder)
}

/// A genuine handshake from `i_key` (ephemeral secret `i_ephemeral`) to the
/// fixed responder. Every initiator key completes it: an ed25519 key made
/// from a seed is never weak, and any 32 bytes are an X25519 secret.
fn handshake_with_fixed_responder(i_key: &SigningKey, i_ephemeral: &[u8; 32]) -> Transcript {
    let (r_key, responder) = fixed_responder();
    let (initiator, hello) = Initiator::start(
        i_key,
        &r_key.verifying_key(),
        SUPPORTED_VERSIONS,
        Some(i_ephemeral),
    )
    .expect("initiator starts");
    let (responder, reply) = responder
        .read_hello(&hello[FRAME_HEADER_LEN..])
        .expect("genuine hello is read");
    let (initiator, finish) = initiator
        .read_reply(&reply[FRAME_HEADER_LEN..])
        .expect("genuine reply is read");
    let (responder, peer) = responder
        .read_finish(&finish[FRAME_HEADER_LEN..])
        .expect("genuine finish is read");
    // Each side authenticated the other as who it is.
    assert_eq!(peer, i_key.verifying_key());
    assert_eq!(responder.peer(), &peer);
    assert_eq!(initiator.peer(), &r_key.verifying_key());
    assert_eq!(initiator.handshake_hash(), responder.handshake_hash());
    assert_eq!(initiator.version(), responder.version());
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

/// Feed arbitrary bytes to a responder with fixed keys. The first byte,
/// modulo 5, picks what the rest is:
///
/// 0. A stream of frames (`u16 BE length ‖ body`) fed to `read_hello`,
///    `read_finish`, then `open` until one fails; every failure must be a
///    typed peer error, never [`ErrorKind::Bug`].
/// 1. After the fixed genuine handshake: cut into frames, each sealed
///    alternately by each side, which must open to the same bytes in a
///    bucket-sized frame; then a close record and a tampered record.
/// 2. `seed:32 ‖ ephemeral:32 ‖ rest`: any initiator identity completes the
///    handshake and is reported as itself; `rest` then as in 1.
/// 3. A finish payload the fixed initiator sends over its genuine Noise
///    state: accepted only as the 32-byte form of an identity whose X25519
///    key is the initiator's (its own, or its negation), and then reported
///    as exactly those bytes; otherwise refused as malformed (wrong length)
///    or unauthenticated.
/// 4. `position:u16 ‖ mask:u8`: one byte of the genuine hello, reply or
///    finish flipped; the side reading it refuses it as unauthenticated.
pub fn session_responder(data: &[u8]) {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    match mode % 5 {
        0 => responder_reads(data),
        1 => round_trip(transcript_for_testing_only(), data),
        2 => any_initiator(data),
        3 => claimed_identity(data),
        _ => tampered_handshake(data),
    }
}

fn responder_reads(data: &[u8]) {
    let (_, responder) = fixed_responder();
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
    let (mut session, peer) = match responder.read_finish(finish) {
        Ok(r) => r,
        Err(e) => return not_a_bug(&e),
    };
    assert_eq!(session.peer(), &peer);
    while let Some((body, more)) = next_frame(rest) {
        rest = more;
        if let Err(e) = session.open(body) {
            return not_a_bug(&e);
        }
    }
}

fn round_trip(mut t: Transcript, data: &[u8]) {
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

fn any_initiator(data: &[u8]) {
    let Some((seed, rest)) = data.split_first_chunk::<32>() else {
        return;
    };
    let Some((ephemeral, rest)) = rest.split_first_chunk::<32>() else {
        return;
    };
    let t = handshake_with_fixed_responder(&SigningKey::from_bytes(seed), ephemeral);
    round_trip(t, rest);
}

fn claimed_identity(payload: &[u8]) {
    let i_key = SigningKey::from_bytes(&INITIATOR_SEED);
    let (r_key, responder) = fixed_responder();
    let (initiator, hello) = Initiator::start(
        &i_key,
        &r_key.verifying_key(),
        SUPPORTED_VERSIONS,
        Some(&INITIATOR_EPHEMERAL),
    )
    .expect("fixed initiator starts");
    let (responder, reply) = responder
        .read_hello(&hello[FRAME_HEADER_LEN..])
        .expect("fixed hello is read");
    // Longer payloads would only test the same length check.
    let payload = &payload[..payload.len().min(1024)];
    let (_, finish) = initiator
        .read_reply_claiming_for_testing_only(&reply[FRAME_HEADER_LEN..], payload)
        .expect("a payload of at most 1 KiB fits a frame");
    let genuine = payload == i_key.verifying_key().as_bytes();
    match responder.read_finish(&finish[FRAME_HEADER_LEN..]) {
        Ok((session, peer)) => {
            assert_eq!(peer.as_bytes(), payload);
            assert_eq!(session.peer(), &peer);
            assert_eq!(x25519_public(&peer), x25519_public(&i_key.verifying_key()));
        }
        Err(e) if payload.len() != 32 => assert!(
            matches!(
                e,
                Error::Malformed {
                    object: "finish",
                    ..
                }
            ),
            "{e}"
        ),
        Err(e) => {
            assert!(!genuine, "the initiator's own identity was refused: {e}");
            assert_eq!(e.kind(), ErrorKind::PeerAuthenticationFailed, "{e}");
        }
    }
}

fn tampered_handshake(data: &[u8]) {
    let Some((&[hi, lo, mask], _)) = data.split_first_chunk::<3>() else {
        return;
    };
    let t = transcript_for_testing_only();
    let lens = [t.hello.len(), t.reply.len(), t.finish.len()].map(|l| l - FRAME_HEADER_LEN);
    let mut at = usize::from(u16::from_be_bytes([hi, lo])) % lens.iter().sum::<usize>();
    let mask = mask.max(1);
    let flip = |frame: &[u8], at: usize| {
        let mut body = frame[FRAME_HEADER_LEN..].to_vec();
        body[at] ^= mask;
        body
    };
    let refused = |r: Result<(), Error>| {
        let e = r.expect_err("a tampered handshake message was accepted");
        assert_eq!(e.kind(), ErrorKind::PeerAuthenticationFailed, "{e}");
    };

    let i_key = SigningKey::from_bytes(&INITIATOR_SEED);
    let (r_key, responder) = fixed_responder();
    if at < lens[0] {
        return refused(responder.read_hello(&flip(&t.hello, at)).map(drop));
    }
    at -= lens[0];
    if at < lens[1] {
        let (initiator, _) = Initiator::start(
            &i_key,
            &r_key.verifying_key(),
            SUPPORTED_VERSIONS,
            Some(&INITIATOR_EPHEMERAL),
        )
        .expect("fixed initiator starts");
        return refused(initiator.read_reply(&flip(&t.reply, at)).map(drop));
    }
    at -= lens[1];
    let (responder, _) = responder
        .read_hello(&t.hello[FRAME_HEADER_LEN..])
        .expect("fixed hello is read");
    refused(responder.read_finish(&flip(&t.finish, at)).map(drop));
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
    fn any_initiator_mode() {
        let mut data = vec![2_u8];
        data.extend_from_slice(&[0x77; 32]);
        data.extend_from_slice(&[0x88; 32]);
        data.extend_from_slice(&[0, 2, b'h', b'i']);
        super::session_responder(&data);
    }

    #[test]
    fn claimed_identity_mode() {
        let a = ed25519_dalek::SigningKey::from_bytes(&super::INITIATOR_SEED).verifying_key();
        let minus_a = ed25519_dalek::VerifyingKey::from(-a.to_edwards());
        let other = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
        // Accepted (the harness asserts it for alice's own bytes), accepted,
        // refused, malformed.
        for payload in [a.as_bytes(), minus_a.as_bytes(), other.as_bytes()] {
            super::session_responder(&[&[3_u8][..], payload].concat());
        }
        super::session_responder(&[3, 1, 2, 3]);
    }

    #[test]
    fn tampered_mode_refuses_every_byte() {
        let t = super::transcript_for_testing_only();
        let total = t.hello.len() + t.reply.len() + t.finish.len() - 3 * super::FRAME_HEADER_LEN;
        for at in 0..u16::try_from(total).unwrap() {
            let [hi, lo] = at.to_be_bytes();
            for mask in [0x01, 0x80, 0xff] {
                super::session_responder(&[4, hi, lo, mask]);
            }
        }
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
