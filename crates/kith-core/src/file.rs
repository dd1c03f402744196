//! File transfer messages (`docs/protocol.md` § 13): an offer, the chunks,
//! the receiver's request to (re)start from a chunk, and its final answer.
//!
//! A file is a message of the conversation: its offer's id is a
//! [`MessageId`], acknowledged by `Ack` once the offer is stored, deleted
//! by `Delete` and subject to the disappearing timer like any message.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::chat::DisappearTimer;
use crate::clock::Timestamp;
use crate::limits::{MAX_CHUNK, MAX_CHUNKS, MAX_FILE_NAME, MAX_FILE_SIZE, MIN_CHUNK};
use crate::wire::MessageId;

/// A file's name as it travels and is stored: one path component, no
/// controls or invisible characters, no characters Windows refuses, not
/// hidden, at most [`MAX_FILE_NAME`] bytes (see [`FileName::sanitize`]).
///
/// A received name decodes only if it is already in this form, so a peer
/// cannot send `../x`, `C:\x`, a name with a terminal escape or a
/// right-to-left override.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileName(String);

/// Device names Windows reserves whatever the extension.
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Longest extension kept when a long name is shortened.
const KEPT_EXTENSION: usize = 16;

fn trim_end_dots_and_spaces(s: &mut String) {
    while s.ends_with(['.', ' ']) {
        s.pop();
    }
}

impl FileName {
    /// Make a safe name from any name or path (the sender's local file
    /// name): the last path component (after `/` or `\`), without controls
    /// and invisible or reordering characters, `<>:"|?*` replaced by `_`,
    /// white space as single spaces, no leading or trailing space, no
    /// trailing dot, a leading dot made `_` (no hidden files), a Windows
    /// device name (`CON`, `NUL.txt`…) prefixed with `_`, shortened to
    /// [`MAX_FILE_NAME`] bytes keeping a short extension.
    /// [`Error::BadFileName`] if nothing is left (`..`, `/`, ``).
    pub fn sanitize(raw: &str) -> Result<FileName, Error> {
        let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
        let mut s = String::with_capacity(last.len().min(MAX_FILE_NAME + 4));
        let mut space = false;
        for c in last.chars() {
            if crate::text::is_disallowed_in_name(c) {
                continue;
            }
            if c.is_whitespace() {
                space = !s.is_empty();
                continue;
            }
            if space {
                s.push(' ');
                space = false;
            }
            s.push(if matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') {
                '_'
            } else {
                c
            });
        }
        trim_end_dots_and_spaces(&mut s);
        if s.starts_with('.') {
            s.replace_range(..1, "_");
        }
        let stem = s.split('.').next().unwrap_or("");
        if RESERVED
            .iter()
            .any(|r| r.eq_ignore_ascii_case(stem.trim_end()))
        {
            s.insert(0, '_');
        }
        if s.len() > MAX_FILE_NAME {
            s = shorten(&s);
            trim_end_dots_and_spaces(&mut s);
        }
        if s.is_empty() {
            return Err(Error::BadFileName("empty"));
        }
        Ok(FileName(s))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `s` (longer than [`MAX_FILE_NAME`]) cut to fit, keeping its extension
/// when that is short.
fn shorten(s: &str) -> String {
    let ext = match s.rfind('.') {
        Some(i) if i > 0 && s.len() - i <= KEPT_EXTENSION => &s[i..],
        _ => "",
    };
    let mut cut = MAX_FILE_NAME - ext.len();
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = s[..cut].to_owned();
    trim_end_dots_and_spaces(&mut out);
    out.push_str(ext);
    out
}

impl TryFrom<String> for FileName {
    type Error = Error;

    /// Accept `s` only if it is already safe: equal to its sanitized form.
    fn try_from(s: String) -> Result<FileName, Error> {
        if s.len() > MAX_FILE_NAME {
            return Err(Error::BadFileName("too long"));
        }
        let clean = FileName::sanitize(&s)?;
        if clean.0 != s {
            return Err(Error::BadFileName("not a safe file name"));
        }
        Ok(clean)
    }
}

impl From<FileName> for String {
    fn from(n: FileName) -> String {
        n.0
    }
}

impl std::fmt::Debug for FileName {
    // A file name is content: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileName(..)")
    }
}

/// [`Error::FileTooLarge`] for a file over [`MAX_FILE_SIZE`]: the check a
/// sender makes before reading a file.
pub fn check_file_size(size: u64) -> Result<(), Error> {
    if size > MAX_FILE_SIZE {
        return Err(Error::FileTooLarge {
            size,
            max: MAX_FILE_SIZE,
        });
    }
    Ok(())
}

/// Sender → receiver: a file is on offer (tag 13). Stored by the receiver
/// as a message of the conversation and acknowledged by `Ack(id)`; the
/// chunks follow only once the receiver asks with [`PeerMessage::FileResume`].
///
/// [`PeerMessage::FileResume`]: crate::PeerMessage::FileResume
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOffer {
    /// The file's id, a message id of the conversation.
    pub id: MessageId,
    /// When the sender offered it (sender's clock).
    pub sent_at: Timestamp,
    /// Its name.
    pub name: FileName,
    /// Its size in bytes, at most [`MAX_FILE_SIZE`].
    pub size: u64,
    /// SHA-256 of the whole file: the receiver shows nothing before the
    /// data it assembled has this hash.
    pub sha256: [u8; 32],
    /// Bytes in every chunk but the last: [`MIN_CHUNK`] to [`MAX_CHUNK`].
    pub chunk_size: u32,
    /// The conversation's disappearing timer when it was sent.
    pub disappear: DisappearTimer,
}

impl std::fmt::Debug for FileOffer {
    // Never prints the name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileOffer")
            .field("id", &self.id)
            .field("size", &self.size)
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for FileChunk {
    // Never prints the data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileChunk")
            .field("file", &self.file)
            .field("index", &self.index)
            .field("len", &self.data.len())
            .finish_non_exhaustive()
    }
}

impl FileOffer {
    /// How many chunks the file has: `ceil(size / chunk_size)` (0 for an
    /// empty file).
    pub fn chunk_count(&self) -> u32 {
        let n = self.size.div_ceil(u64::from(self.chunk_size.max(1)));
        // validate() keeps this within MAX_CHUNKS.
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// How many bytes chunk `index` must hold: `chunk_size`, less for the
    /// last one; `None` past the end.
    pub fn chunk_len(&self, index: u32) -> Option<usize> {
        let count = self.chunk_count();
        if index >= count {
            return None;
        }
        let start = u64::from(index) * u64::from(self.chunk_size);
        let len = (self.size - start).min(u64::from(self.chunk_size));
        usize::try_from(len).ok()
    }

    /// Check that `chunk` belongs to this file and has exactly the length
    /// its index calls for (a chunk lying about its size is refused before
    /// anything is stored).
    pub fn check_chunk(&self, chunk: &FileChunk) -> Result<(), Error> {
        let bad = |reason| Error::Decode {
            object: "file chunk",
            reason,
        };
        if chunk.file != self.id {
            return Err(bad("another file"));
        }
        match self.chunk_len(chunk.index) {
            None => Err(bad("index past the end")),
            Some(n) if n != chunk.data.len() => Err(bad("wrong length")),
            Some(_) => Ok(()),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.size > MAX_FILE_SIZE {
            return Err(Error::TooLarge {
                object: "file",
                len: usize::try_from(self.size).unwrap_or(usize::MAX),
                max: usize::try_from(MAX_FILE_SIZE).unwrap_or(usize::MAX),
            });
        }
        if !(MIN_CHUNK..=MAX_CHUNK).contains(&self.chunk_size) {
            return Err(Error::Decode {
                object: "file offer",
                reason: "chunk size out of range",
            });
        }
        Ok(())
    }
}

/// Sender → receiver: one chunk of a file (tag 14), sent only after the
/// receiver's [`crate::PeerMessage::FileResume`], in order from the index
/// it asked for.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChunk {
    /// The file.
    pub file: MessageId,
    /// Which chunk, from 0.
    pub index: u32,
    /// Its bytes: 1 to [`MAX_CHUNK`], exactly what the offer says for this
    /// index ([`FileOffer::check_chunk`]).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

impl FileChunk {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.data.len() > MAX_CHUNK as usize {
            return Err(Error::TooLarge {
                object: "file chunk",
                len: self.data.len(),
                max: MAX_CHUNK as usize,
            });
        }
        if self.data.is_empty() {
            return Err(Error::Decode {
                object: "file chunk",
                reason: "empty",
            });
        }
        if self.index >= MAX_CHUNKS {
            return Err(Error::Decode {
                object: "file chunk",
                reason: "index past the largest file",
            });
        }
        Ok(())
    }
}

/// The last word on a file (tag 16): the receiver's (`Received`,
/// `Refused`, `Corrupt`), or the sender's (`Unavailable`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum FileStatus {
    /// Every chunk is stored and the whole has the offer's SHA-256.
    Received,
    /// The receiver does not take it (too large for its limit, or not
    /// wanted); it stored no chunk and wants none.
    Refused,
    /// The chunks put together do not have the offer's SHA-256: the
    /// receiver dropped them.
    Corrupt,
    /// Sender → receiver: the sender no longer has the file (its user
    /// deleted it before it was sent whole); the receiver stops waiting
    /// for it and drops what it has of it.
    Unavailable,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name(s: &str) -> Result<String, Error> {
        FileName::sanitize(s).map(String::from)
    }

    #[test]
    fn sanitized_names() {
        for (raw, want) in [
            ("photo.jpg", "photo.jpg"),
            ("../x", "x"),
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\a\\report.pdf", "report.pdf"),
            ("a\x1b[31mb.txt", "a[31mb.txt"),
            ("evil\u{202E}gpj.exe", "evilgpj.exe"),
            ("  spaced   out  .txt ", "spaced out .txt"),
            (".bashrc", "_bashrc"),
            ("name.", "name"),
            ("what?.txt", "what_.txt"),
            ("a:b|c*d\"e<f>g", "a_b_c_d_e_f_g"),
            ("CON", "_CON"),
            ("nul.txt", "_nul.txt"),
            ("COM1 .txt", "_COM1 .txt"),
            ("console.txt", "console.txt"),
            ("Zoë 小明 🦊.png", "Zoë 小明 🦊.png"),
            ("x\u{0}y", "xy"),
        ] {
            assert_eq!(name(raw).as_deref(), Ok(want), "{raw:?}");
        }
        for raw in [
            "", "..", ".", "/", "a/", "\\", " ", "\u{202E}", "...", ". .",
        ] {
            assert_eq!(name(raw), Err(Error::BadFileName("empty")), "{raw:?}");
        }
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let long = format!("{}.tar.gz", "é".repeat(300));
        let n = name(&long).unwrap();
        assert!(n.len() <= MAX_FILE_NAME);
        assert!(n.ends_with(".gz"), "{n}");
        let no_ext = "x".repeat(1000);
        assert_eq!(name(&no_ext).unwrap().len(), MAX_FILE_NAME);
        let long_ext = format!("a.{}", "y".repeat(400));
        assert_eq!(name(&long_ext).unwrap().len(), MAX_FILE_NAME);
    }

    #[test]
    fn only_safe_names_decode() {
        for ok in ["photo.jpg", "_bashrc", "Zoë.txt"] {
            assert!(FileName::try_from(ok.to_owned()).is_ok(), "{ok}");
        }
        for bad in [
            "../x",
            "a/b",
            ".hidden",
            "x\n",
            "CON",
            "trail.",
            " lead",
            "a\u{200B}b",
        ] {
            assert_eq!(
                FileName::try_from(bad.to_owned()),
                Err(Error::BadFileName("not a safe file name")),
                "{bad:?}"
            );
        }
        assert_eq!(
            FileName::try_from("x".repeat(MAX_FILE_NAME + 1)),
            Err(Error::BadFileName("too long"))
        );
        assert_eq!(
            FileName::try_from(String::new()),
            Err(Error::BadFileName("empty"))
        );
        assert_eq!(
            format!("{:?}", FileName::sanitize("secret.txt").unwrap()),
            "FileName(..)"
        );
    }

    fn offer(size: u64, chunk_size: u32) -> FileOffer {
        FileOffer {
            id: MessageId([1; 16]),
            sent_at: Timestamp(0),
            name: FileName::sanitize("f").unwrap(),
            size,
            sha256: [0; 32],
            chunk_size,
            disappear: DisappearTimer::Off,
        }
    }

    #[test]
    fn chunks_of_an_offer() {
        let o = offer(2500, 1024);
        assert_eq!(o.chunk_count(), 3);
        assert_eq!(o.chunk_len(0), Some(1024));
        assert_eq!(o.chunk_len(2), Some(452));
        assert_eq!(o.chunk_len(3), None);
        assert_eq!(offer(0, 1024).chunk_count(), 0);
        assert_eq!(offer(2048, 1024).chunk_len(1), Some(1024));
        let full = offer(MAX_FILE_SIZE, MIN_CHUNK);
        assert_eq!(full.chunk_count(), MAX_CHUNKS);
        assert!(full.validate().is_ok());
        let chunk = |index, len| FileChunk {
            file: MessageId([1; 16]),
            index,
            data: vec![7; len],
        };
        assert!(o.check_chunk(&chunk(2, 452)).is_ok());
        for (c, why) in [
            (chunk(2, 453), "wrong length"),
            (chunk(1, 452), "wrong length"),
            (chunk(3, 1), "index past the end"),
            (
                FileChunk {
                    file: MessageId([2; 16]),
                    ..chunk(0, 1024)
                },
                "another file",
            ),
        ] {
            assert_eq!(
                o.check_chunk(&c),
                Err(Error::Decode {
                    object: "file chunk",
                    reason: why
                })
            );
        }
    }

    #[test]
    fn offers_out_of_bounds() {
        assert!(matches!(
            offer(MAX_FILE_SIZE + 1, 1024).validate(),
            Err(Error::TooLarge { object: "file", .. })
        ));
        for cs in [0, 1, MIN_CHUNK - 1, MAX_CHUNK + 1, u32::MAX] {
            assert!(offer(10, cs).validate().is_err(), "{cs}");
        }
        assert_eq!(
            check_file_size(MAX_FILE_SIZE + 1),
            Err(Error::FileTooLarge {
                size: MAX_FILE_SIZE + 1,
                max: MAX_FILE_SIZE
            })
        );
        assert_eq!(
            check_file_size(MAX_FILE_SIZE + 1).unwrap_err().to_string(),
            "file too large: 104857601 bytes, at most 104857600 (100 MiB)"
        );
        assert!(check_file_size(MAX_FILE_SIZE).is_ok());
    }

    proptest! {
        #[test]
        fn sanitize_is_safe_and_idempotent(s in "\\PC{0,300}") {
            if let Ok(n) = FileName::sanitize(&s) {
                let n = n.as_str();
                prop_assert!(!n.is_empty() && n.len() <= MAX_FILE_NAME);
                prop_assert!(!n.contains(['/', '\\', ':']));
                prop_assert!(!n.starts_with('.') && n != "..");
                prop_assert!(!n.chars().any(crate::text::is_disallowed_in_name));
                prop_assert_eq!(FileName::sanitize(n).map(String::from), Ok(n.to_owned()));
                prop_assert!(FileName::try_from(n.to_owned()).is_ok());
            }
        }

        #[test]
        fn sanitize_handles_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let s = String::from_utf8_lossy(&data);
            if let Ok(n) = FileName::sanitize(&s) {
                prop_assert_eq!(FileName::sanitize(n.as_str()).map(String::from), Ok(n.as_str().to_owned()));
            }
        }
    }
}
