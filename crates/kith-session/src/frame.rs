//! Stream framing: `length:u16 big-endian ‖ body[length]`.
//!
//! Every handshake message and every record travels as one frame. Functions
//! of this crate that *produce* bytes return whole frames (header included),
//! ready to be written; functions that *consume* bytes take the body only.

use crate::error::{Error, Result};

/// The largest frame body: the length header is a `u16`. Equal to the
/// Noise maximum message length, so one frame carries one Noise message.
pub const MAX_FRAME: usize = 65535;

/// Size of the length header in front of every frame body.
pub const FRAME_HEADER_LEN: usize = 2;

/// The body length announced by a frame header.
///
/// Every value is acceptable (the header cannot announce more than
/// [`MAX_FRAME`]), so this cannot fail; a body of length 0 is rejected by
/// whichever function it is then given to.
pub fn body_len(header: [u8; FRAME_HEADER_LEN]) -> usize {
    usize::from(u16::from_be_bytes(header))
}

/// Split the first complete frame off a buffer: `Some((body, rest))`, or
/// `None` if `buf` does not yet hold a whole frame.
///
/// For callers that read into a buffer instead of reading exactly 2 bytes
/// and then exactly the body.
pub fn next_frame(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let (header, rest) = buf.split_first_chunk::<FRAME_HEADER_LEN>()?;
    let len = body_len(*header);
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

/// Reject a body that could not have come from a frame.
pub(crate) fn check_body(body: &[u8]) -> Result<()> {
    if body.len() > MAX_FRAME {
        return Err(Error::FrameTooLarge {
            len: body.len(),
            max: MAX_FRAME,
        });
    }
    Ok(())
}

/// A buffer of `FRAME_HEADER_LEN + body_len` zero bytes, for a body that is
/// then written in place after the header.
pub(crate) fn alloc(body_len: usize) -> Result<Vec<u8>> {
    if body_len > MAX_FRAME {
        return Err(Error::Internal("frame body exceeds MAX_FRAME"));
    }
    Ok(vec![0_u8; FRAME_HEADER_LEN + body_len])
}

/// Write the header for the first `body_len` bytes after it and cut the
/// buffer to the frame's length.
pub(crate) fn finish(mut buf: Vec<u8>, body_len: usize) -> Result<Vec<u8>> {
    let header = u16::try_from(body_len)
        .map_err(|_| Error::Internal("frame body exceeds MAX_FRAME"))?
        .to_be_bytes();
    if buf.len() < FRAME_HEADER_LEN + body_len {
        return Err(Error::Internal("frame buffer shorter than its body"));
    }
    buf[..FRAME_HEADER_LEN].copy_from_slice(&header);
    buf.truncate(FRAME_HEADER_LEN + body_len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_big_endian() {
        assert_eq!(body_len([0x01, 0x02]), 0x0102);
        assert_eq!(body_len([0xff, 0xff]), MAX_FRAME);
    }

    #[test]
    fn next_frame_splits_and_waits() {
        assert_eq!(next_frame(&[]), None);
        assert_eq!(next_frame(&[0]), None);
        assert_eq!(next_frame(&[0, 3, 1, 2]), None);
        assert_eq!(
            next_frame(&[0, 3, 1, 2, 3, 9]),
            Some((&[1_u8, 2, 3][..], &[9_u8][..]))
        );
        assert_eq!(next_frame(&[0, 0]), Some((&[][..], &[][..])));
    }

    #[test]
    fn finish_writes_header() {
        let buf = alloc(3).unwrap();
        let f = finish(buf, 2).unwrap();
        assert_eq!(f, vec![0, 2, 0, 0]);
        assert!(alloc(MAX_FRAME + 1).is_err());
        assert_eq!(
            check_body(&vec![0; MAX_FRAME + 1]),
            Err(Error::FrameTooLarge {
                len: MAX_FRAME + 1,
                max: MAX_FRAME
            })
        );
    }
}
