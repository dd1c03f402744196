//! Encrypted, padded records after the handshake.
//!
//! A record's frame body is the Noise transport ciphertext of
//! `type:u8 ‖ len:u16 BE ‖ data[len] ‖ zero padding`, padded so that the
//! body is exactly one of [`PADDING_BUCKETS`].

use ed25519_dalek::VerifyingKey;

use crate::error::{Error, Result};
use crate::frame::{self, FRAME_HEADER_LEN, MAX_FRAME};
use crate::handshake::{HASH_LEN, TAG_LEN};

/// Record type: application data.
const TYPE_DATA: u8 = 0x01;
/// Record type: authenticated end of the sender's stream (no data).
const TYPE_CLOSE: u8 = 0x02;
/// `type:u8 ‖ len:u16`.
const RECORD_HEADER_LEN: usize = 3;

/// The sizes a record's frame body (ciphertext, tag included) may have.
/// An observer of the stream learns only which bucket a record fills.
pub const PADDING_BUCKETS: [usize; 5] = [256, 1024, 4096, 16384, MAX_FRAME];

/// The most application bytes one record carries:
/// `MAX_FRAME − 16 (tag) − 3 (type and length)`.
pub const MAX_RECORD_PLAINTEXT: usize = MAX_FRAME - TAG_LEN - RECORD_HEADER_LEN;

// The largest wire message (kith-core's one limits module) fits one record.
const _: () = assert!(kith_core::limits::MAX_MESSAGE <= MAX_RECORD_PLAINTEXT);

/// A record received from the peer.
#[derive(Clone, PartialEq, Eq)]
pub enum Record {
    /// Application data (one peer message).
    Data(Vec<u8>),
    /// The peer ended its side cleanly. A stream that ends without this
    /// record was cut, possibly by an attacker.
    Close,
}

/// Prints the size of data only, never its content.
impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Record::Data(d) => write!(f, "Data({} bytes)", d.len()),
            Record::Close => f.write_str("Close"),
        }
    }
}

/// An established session: seals records to and opens records from one
/// authenticated peer. Made only by a finished handshake.
pub struct Session {
    transport: snow::TransportState,
    version: u8,
    handshake_hash: [u8; HASH_LEN],
    peer: VerifyingKey,
    /// We sent our close record: nothing more may be sealed.
    sent_close: bool,
    /// The peer sent its close record: nothing more may arrive.
    received_close: bool,
    /// A received record failed: the stream can no longer be trusted.
    failed: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

/// The smallest bucket that holds `len` application bytes.
fn bucket_for(len: usize) -> Option<usize> {
    let needed = RECORD_HEADER_LEN + len + TAG_LEN;
    PADDING_BUCKETS.iter().copied().find(|&b| b >= needed)
}

impl Session {
    pub(crate) fn new(
        transport: snow::TransportState,
        version: u8,
        handshake_hash: [u8; HASH_LEN],
        peer: VerifyingKey,
    ) -> Session {
        Session {
            transport,
            version,
            handshake_hash,
            peer,
            sent_close: false,
            received_close: false,
            failed: false,
        }
    }

    /// The negotiated session protocol version.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The peer's authenticated identity.
    pub fn peer(&self) -> &VerifyingKey {
        &self.peer
    }

    /// The final Noise handshake hash: equal on both sides, unique to this
    /// session. Public, for channel binding or a future verification UI.
    pub fn handshake_hash(&self) -> &[u8; HASH_LEN] {
        &self.handshake_hash
    }

    /// Encrypt `plaintext` into one record frame (header included).
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        self.seal_typed(TYPE_DATA, plaintext)
    }

    /// The close record frame: send it last, then shut the stream. Nothing
    /// can be sealed afterwards; records can still be opened.
    pub fn close(&mut self) -> Result<Vec<u8>> {
        let frame = self.seal_typed(TYPE_CLOSE, &[])?;
        self.sent_close = true;
        Ok(frame)
    }

    fn seal_typed(&mut self, kind: u8, data: &[u8]) -> Result<Vec<u8>> {
        if self.sent_close {
            return Err(Error::SessionEnded {
                reason: "our close record was sent",
            });
        }
        if self.failed {
            return Err(Error::SessionEnded {
                reason: "a received record failed",
            });
        }
        let (Some(bucket), Ok(len)) = (bucket_for(data.len()), u16::try_from(data.len())) else {
            return Err(Error::PlaintextTooLarge {
                len: data.len(),
                max: MAX_RECORD_PLAINTEXT,
            });
        };
        let mut inner = vec![0_u8; bucket - TAG_LEN];
        inner[0] = kind;
        inner[1..RECORD_HEADER_LEN].copy_from_slice(&len.to_be_bytes());
        inner[RECORD_HEADER_LEN..RECORD_HEADER_LEN + data.len()].copy_from_slice(data);
        let mut buf = frame::alloc(bucket)?;
        let n = self
            .transport
            .write_message(&inner, &mut buf[FRAME_HEADER_LEN..])
            .map_err(|_| Error::Internal("sealing a record"))?;
        if n != bucket {
            return Err(Error::Internal("sealed record is not its bucket size"));
        }
        frame::finish(buf, n)
    }

    /// Decrypt and check one record (a frame body).
    ///
    /// Any error ends the session: later calls fail too. A record after the
    /// peer's [`Record::Close`] is an error.
    pub fn open(&mut self, body: &[u8]) -> Result<Record> {
        if self.failed {
            return Err(Error::SessionEnded {
                reason: "a received record failed",
            });
        }
        if self.received_close {
            self.failed = true;
            return Err(Error::RecordAfterClose);
        }
        let result = self.open_inner(body);
        match &result {
            Ok(Record::Close) => self.received_close = true,
            Ok(Record::Data(_)) => {}
            Err(_) => self.failed = true,
        }
        result
    }

    fn open_inner(&mut self, body: &[u8]) -> Result<Record> {
        const OBJECT: &str = "record";
        frame::check_body(body)?;
        if !PADDING_BUCKETS.contains(&body.len()) {
            return Err(Error::Malformed {
                object: OBJECT,
                reason: "length is not a padding bucket",
            });
        }
        let mut inner = vec![0_u8; body.len()];
        let n = self
            .transport
            .read_message(body, &mut inner)
            .map_err(|e| match e {
                snow::Error::Decrypt => Error::RecordAuthentication,
                _ => Error::Internal("opening a record"),
            })?;
        inner.truncate(n);
        let Some((&[kind, l0, l1], rest)) = inner.split_first_chunk::<RECORD_HEADER_LEN>() else {
            return Err(Error::Internal("record shorter than its header"));
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let Some((data, padding)) = rest.split_at_checked(len) else {
            return Err(Error::Malformed {
                object: OBJECT,
                reason: "length exceeds the record",
            });
        };
        if padding.iter().any(|&b| b != 0) {
            return Err(Error::Malformed {
                object: OBJECT,
                reason: "non-zero padding",
            });
        }
        match kind {
            TYPE_DATA => Ok(Record::Data(data.to_vec())),
            TYPE_CLOSE if data.is_empty() => Ok(Record::Close),
            TYPE_CLOSE => Err(Error::Malformed {
                object: OBJECT,
                reason: "close record with data",
            }),
            _ => Err(Error::Malformed {
                object: OBJECT,
                reason: "unknown record type",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::transcript_for_testing_only;

    fn body(frame: &[u8]) -> &[u8] {
        let (body, rest) = crate::next_frame(frame).unwrap();
        assert!(rest.is_empty());
        body
    }

    fn pair() -> (Session, Session) {
        let t = transcript_for_testing_only();
        (t.initiator, t.responder)
    }

    /// Seal a record with a raw inner plaintext of the test's choosing.
    fn seal_raw(s: &mut Session, inner: &[u8]) -> Vec<u8> {
        let mut out = vec![0_u8; inner.len() + TAG_LEN];
        s.transport.write_message(inner, &mut out).unwrap();
        out
    }

    #[test]
    fn records_both_ways() {
        let (mut a, mut b) = pair();
        for i in 0..5_u8 {
            let msg = vec![i; usize::from(i) * 100];
            assert_eq!(
                b.open(body(&a.seal(&msg).unwrap())).unwrap(),
                Record::Data(msg.clone())
            );
            assert_eq!(
                a.open(body(&b.seal(&msg).unwrap())).unwrap(),
                Record::Data(msg)
            );
        }
        let max = vec![0xa5; MAX_RECORD_PLAINTEXT];
        assert_eq!(
            b.open(body(&a.seal(&max).unwrap())).unwrap(),
            Record::Data(max)
        );
    }

    #[test]
    fn ciphertext_lengths_are_buckets() {
        let (mut a, mut b) = pair();
        let cases = [
            (0, 256),
            (256 - 19, 256),
            (256 - 18, 1024),
            (1024 - 19, 1024),
            (1024 - 18, 4096),
            (4096 - 18, 16384),
            (16384 - 18, 65535),
            (MAX_RECORD_PLAINTEXT, 65535),
        ];
        for (len, bucket) in cases {
            let frame = a.seal(&vec![1; len]).unwrap();
            assert_eq!(frame.len(), FRAME_HEADER_LEN + bucket, "plaintext {len}");
            assert_eq!(frame[..2], u16::try_from(bucket).unwrap().to_be_bytes());
            assert_eq!(b.open(body(&frame)).unwrap(), Record::Data(vec![1; len]));
        }
        assert_eq!(MAX_RECORD_PLAINTEXT, 65516);
    }

    #[test]
    fn oversized_plaintext_is_refused() {
        let (mut a, mut b) = pair();
        let err = a.seal(&vec![0; MAX_RECORD_PLAINTEXT + 1]).unwrap_err();
        assert_eq!(
            err,
            Error::PlaintextTooLarge {
                len: MAX_RECORD_PLAINTEXT + 1,
                max: MAX_RECORD_PLAINTEXT
            }
        );
        assert_eq!(err.kind(), kith_core::ErrorKind::BadLocalInput);
        // Refusing consumed no nonce: the session goes on.
        assert_eq!(
            b.open(body(&a.seal(b"ok").unwrap())).unwrap(),
            Record::Data(b"ok".to_vec())
        );
    }

    #[test]
    fn tampered_record_fails_and_ends_the_session() {
        let (mut a, mut b) = pair();
        let mut frame = a.seal(b"pay 10").unwrap();
        frame[10] ^= 1;
        assert_eq!(b.open(body(&frame)), Err(Error::RecordAuthentication));
        let next = a.seal(b"next").unwrap();
        assert!(matches!(
            b.open(body(&next)),
            Err(Error::SessionEnded { .. })
        ));
        assert!(matches!(b.seal(b"x"), Err(Error::SessionEnded { .. })));
    }

    #[test]
    fn replayed_and_reordered_records_fail() {
        let (mut a, mut b) = pair();
        let first = a.seal(b"one").unwrap();
        b.open(body(&first)).unwrap();
        assert_eq!(b.open(body(&first)), Err(Error::RecordAuthentication));

        let (mut a, mut b) = pair();
        let _first = a.seal(b"one").unwrap();
        let second = a.seal(b"two").unwrap();
        assert_eq!(b.open(body(&second)), Err(Error::RecordAuthentication));

        // A record from one direction does not open in the other.
        let (mut a, _) = pair();
        let mine = a.seal(b"mine").unwrap();
        assert_eq!(a.open(body(&mine)), Err(Error::RecordAuthentication));
    }

    #[test]
    fn truncated_records_fail() {
        let (mut a, mut b) = pair();
        let frame = a.seal(b"hello").unwrap();
        let err = b
            .open(&frame[FRAME_HEADER_LEN..frame.len() - 1])
            .unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
        assert_eq!(err.kind(), kith_core::ErrorKind::PeerProtocolViolation);
        let (_, mut b) = pair();
        assert!(matches!(b.open(&[]), Err(Error::Malformed { .. })));
        let (_, mut b) = pair();
        assert!(matches!(
            b.open(&vec![0; MAX_FRAME + 1]),
            Err(Error::FrameTooLarge { .. })
        ));
    }

    #[test]
    fn close_record() {
        let (mut a, mut b) = pair();
        let close = a.close().unwrap();
        assert_eq!(close.len(), FRAME_HEADER_LEN + 256);
        assert!(matches!(a.seal(b"late"), Err(Error::SessionEnded { .. })));
        assert!(matches!(a.close(), Err(Error::SessionEnded { .. })));
        assert_eq!(b.open(body(&close)).unwrap(), Record::Close);
        // Half-close: b may still send, a still receives.
        assert_eq!(
            a.open(body(&b.seal(b"bye").unwrap())).unwrap(),
            Record::Data(b"bye".to_vec())
        );
        // Nothing may follow a close record.
        let (mut a, mut b) = pair();
        let close = a.close().unwrap();
        b.open(body(&close)).unwrap();
        assert_eq!(b.open(body(&close)), Err(Error::RecordAfterClose));
    }

    #[test]
    fn malformed_inner_records_fail() {
        let cases: [(Vec<u8>, &str); 4] = [
            (
                [&[TYPE_DATA, 0, 2, 7, 7, 1][..], &[0; 234]].concat(),
                "non-zero padding",
            ),
            (
                [&[TYPE_DATA, 0, 241][..], &[0; 237]].concat(),
                "length exceeds the record",
            ),
            (
                [&[0x7f, 0, 0][..], &[0; 237]].concat(),
                "unknown record type",
            ),
            (
                [&[TYPE_CLOSE, 0, 1, 5][..], &[0; 236]].concat(),
                "close record with data",
            ),
        ];
        for (inner, reason) in cases {
            assert_eq!(inner.len() + TAG_LEN, 256);
            let (mut a, mut b) = pair();
            let sealed = seal_raw(&mut a, &inner);
            assert_eq!(
                b.open(&sealed),
                Err(Error::Malformed {
                    object: "record",
                    reason
                })
            );
        }
        // A well-formed raw record in a larger bucket than needed is fine.
        let (mut a, mut b) = pair();
        let sealed = seal_raw(&mut a, &[&[TYPE_DATA, 0, 1, 9][..], &[0; 1004]].concat());
        assert_eq!(b.open(&sealed).unwrap(), Record::Data(vec![9]));
    }

    #[test]
    fn debug_hides_contents() {
        let (a, _) = pair();
        assert_eq!(format!("{a:?}"), "Session { .. }");
        assert_eq!(
            format!("{:?}", Record::Data(b"secret".to_vec())),
            "Data(6 bytes)"
        );
    }
}
