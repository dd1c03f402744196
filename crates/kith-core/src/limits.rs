//! Every size limit of Kith's data, in one place.
//!
//! The wire ([`crate::wire`]) and the store (`kith-store`) both check these,
//! so that what a peer may send can always be stored, and the store never
//! holds what the wire could not carry. Lengths of text are in bytes of
//! UTF-8, not characters.
//!
//! Two kinds of name have different limits on purpose: a *display name* is
//! chosen by its owner and travels to peers in every `Hello`
//! ([`MAX_DISPLAY_NAME`]); an *alias* is chosen locally for a contact and
//! never leaves the device ([`MAX_ALIAS`]).

/// Largest encoded wire message (`version ‖ postcard(PeerMessage)`), in bytes.
///
/// One message travels in one session record. kith-session's record carries
/// up to 65 516 bytes (`MAX_RECORD_PLAINTEXT`); 48 KiB leaves a margin for
/// variants added later, and is checked against every current variant's
/// largest encoding below.
pub const MAX_MESSAGE: usize = 48 * 1024;

/// Longest chat message text, in bytes of UTF-8; checked by the wire (both
/// ways) and by the store (for messages written here and received).
///
/// 32 KiB is several pages of text, more than a chat message needs, and it
/// bounds what one message can make a contact store. With its id, time and
/// framing it fits [`MAX_MESSAGE`] with room to spare.
pub const MAX_BODY: usize = 32 * 1024;

/// Longest display name: the name a profile shows its contacts, sent in each
/// `Hello` and stored as a contact's "their name". In bytes of UTF-8.
///
/// 64 bytes is 64 Latin letters or 16 four-byte characters (emoji): a
/// name, not a message. It is short because a stranger's request shows it
/// before the user has agreed to anything.
pub const MAX_DISPLAY_NAME: usize = 64;

/// Longest alias: the name the user gives a contact, unique in the profile,
/// used in commands (`kith send <alias>`). In bytes of UTF-8. Never sent.
///
/// Also bounds aliases Kith makes itself from a request's display name (at
/// most [`MAX_DISPLAY_NAME`] bytes) plus a `-N` suffix for uniqueness, so it
/// leaves 16 bytes more than a display name.
pub const MAX_ALIAS: usize = MAX_DISPLAY_NAME + 16;

/// Longest TCP hint, as text (`IP:PORT`), in a contact's stored record.
///
/// On the wire and in links a hint is a parsed `SocketAddr`; the longest one
/// written out (`[` 39-character IPv6 `%` scope id `]:65535`) is 58 bytes.
pub const MAX_TCP_HINT: usize = 64;

/// Most message ids in one acknowledgement.
///
/// Matches a batch of delivered messages after a reconnection; 256 ids of 16
/// bytes are 4 KiB, well within [`MAX_MESSAGE`].
pub const MAX_ACK_IDS: usize = 256;

/// Longest note an introducer adds to an introduction ("you both climb"),
/// in bytes of UTF-8; checked by the wire and by the store.
///
/// 512 bytes is a few sentences: enough to say why, short because the
/// other side's user reads it before agreeing to anything.
pub const MAX_INTRODUCTION_NOTE: usize = 512;

/// Longest text dropped into an inbox (`docs/protocol.md` § 11), in bytes
/// of UTF-8; checked by the dropper before dialing, and by the inbox.
///
/// 4 KiB is a long note from a stranger, and small enough that a full
/// inbox ([`MAX_INBOX_DROPS`]) stays one sealed setting value.
pub const MAX_DROP_BODY: usize = 4 * 1024;

/// Largest encoded message of the inbox exchange (`version ‖
/// postcard(InboxMessage)`), in bytes. One travels in one session record.
pub const MAX_INBOX_MESSAGE: usize = 8 * 1024;

/// Most drops an inbox keeps. When it is full, new drops are refused (the
/// dropper is told the inbox is full); what the user has is never pushed
/// out by strangers.
pub const MAX_INBOX_DROPS: usize = 50;

/// Bytes a stored or sent drop adds around its body, at most: version (1),
/// tag (1), body length (2), an id (16), a time (10), the optional reply
/// address (1 + kind 1 + key 32 + optional `SocketAddr` 1 + 1 + 16 + 3).
pub(crate) const DROP_OVERHEAD: usize = 1 + 1 + 2 + 16 + 10 + 1 + 1 + 32 + 1 + 1 + 16 + 3;

/// Longest setting key. Keys are names chosen by Kith's code (`"settings"`),
/// never by a user or a peer; the limit only catches mistakes.
pub const MAX_SETTING_KEY: usize = 128;

/// Largest setting value, in bytes. Settings are local (serialized
/// preferences), never sent; 256 KiB is far above any of them and keeps one
/// sealed value small enough to read in one go.
pub const MAX_SETTING: usize = 256 * 1024;

/// Bytes a `Text` message adds around its body, at most: version (1),
/// variant tag (1), message id (16), time (postcard varint u64: 10), body
/// length (varint: 3 for up to 2^21 bytes).
pub(crate) const TEXT_OVERHEAD: usize = 1 + 1 + 16 + 10 + 3;

/// Bytes a `Hello` adds around its name, at most: version (1), tag (1), name
/// length (varint: 1 for names up to 127 bytes), optional `SocketAddr` (1 for
/// the option, 1 for the variant, 16 for IPv6, 3 for the port varint).
pub(crate) const HELLO_OVERHEAD: usize = 1 + 1 + 1 + 1 + 1 + 16 + 3;

/// Bytes an `Ack` adds around its ids: version (1), tag (1), count (varint:
/// 2 for up to 16 383 ids).
pub(crate) const ACK_OVERHEAD: usize = 1 + 1 + 2;

/// Bytes an introduction `Offer` adds around its name and note, at most:
/// version (1), tag (1), step (1), id (16), name length (1), note length
/// (varint: 2 for up to 16 383 bytes).
pub(crate) const INTRODUCTION_OFFER_OVERHEAD: usize = 1 + 1 + 1 + 16 + 1 + 2;

/// Bytes an introduction `Link` adds around its name, at most: version,
/// tag, step (3), id (16), key (32), name length (1), optional `SocketAddr`
/// (1 + 1 + 16 + 3), as for `Hello`.
pub(crate) const INTRODUCTION_LINK_OVERHEAD: usize = 3 + 16 + 32 + 1 + 1 + 1 + 16 + 3;

/// Longest reaction, in bytes of UTF-8: one emoji, possibly a sequence of
/// several code points joined (a family, a flag, a skin tone). The longest
/// common ones (a couple with two skin tones) are 35 bytes.
pub const MAX_REACTION: usize = 48;

/// Most characters (Unicode scalar values) in one reaction.
pub const MAX_REACTION_CHARS: usize = 12;

/// Most message ids in one `Delete` or `DeleteAck` (`docs/protocol.md`
/// § 12): a user deletes a handful at a time; larger batches are split.
pub const MAX_DELETE_IDS: usize = 64;

/// Largest file that can be sent, in bytes: 100 MiB.
///
/// Enough for pictures, documents and short videos; a file is stored
/// (sealed, in chunks) on both sides, so the limit also bounds what a
/// contact can make us store with one offer.
pub const MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;

/// Longest file name, in bytes of UTF-8 (what most file systems allow).
pub const MAX_FILE_NAME: usize = 255;

/// Smallest chunk size a file offer may announce.
pub const MIN_CHUNK: u32 = 1024;

/// Largest chunk size a file offer may announce, and the most bytes one
/// `FileChunk` carries.
pub const MAX_CHUNK: u32 = 32 * 1024;

/// The chunk size Kith sends with: 16 320 bytes, so that one chunk message
/// (at most [`CHUNK_OVERHEAD`] more) fills a 16 384-byte session record
/// (`docs/protocol.md` § 4.5: 3 bytes of record header and a 16-byte tag)
/// with almost no padding.
pub const DEFAULT_CHUNK: u32 = 16_320;

/// Most chunks a file can have: [`MAX_FILE_SIZE`] in [`MIN_CHUNK`]s.
pub const MAX_CHUNKS: u32 = (MAX_FILE_SIZE / MIN_CHUNK as u64) as u32;

/// Bytes a `Chat` message adds around its body, at most: version (1), tag
/// (1), id (16), time (10), body length (3), `reply_to` (1 + 16), timer
/// (varint u32: 5).
pub(crate) const CHAT_OVERHEAD: usize = 1 + 1 + 16 + 10 + 3 + 1 + 16 + 5;

/// Bytes a `Reaction` takes around its emoji, at most: version, tag, id
/// (16), target (16), option (1), length (1).
pub(crate) const REACTION_OVERHEAD: usize = 1 + 1 + 16 + 16 + 1 + 1;

/// Bytes an `Edit` adds around its body, at most: version, tag, id (16),
/// target (16), time (10), body length (3).
pub(crate) const EDIT_OVERHEAD: usize = 1 + 1 + 16 + 16 + 10 + 3;

/// Bytes a `Delete` or `DeleteAck` adds around its ids: version, tag, count
/// (1 for up to 127).
pub(crate) const DELETE_OVERHEAD: usize = 1 + 1 + 1;

/// Bytes a `FileOffer` adds around its name, at most: version, tag, id
/// (16), time (10), name length (2), size (10), SHA-256 (32), chunk size
/// (5), timer (5).
pub(crate) const FILE_OFFER_OVERHEAD: usize = 1 + 1 + 16 + 10 + 2 + 10 + 32 + 5 + 5;

/// Bytes a `FileChunk` adds around its data, at most: version, tag, file id
/// (16), index (varint: 3 for up to 2^21), data length (varint: 3).
pub const CHUNK_OVERHEAD: usize = 1 + 1 + 16 + 3 + 3;

/// Largest feed document (RSS, Atom) Kith parses, in bytes: 2 MiB.
///
/// Real feeds are tens to a few hundred KiB; the fetcher (`kith-transport`)
/// stops reading a response body at this size, and [`crate::feed`] refuses
/// larger input before parsing.
pub const MAX_FEED_BYTES: usize = 2 * 1024 * 1024;

/// Most items kept from one feed: the first ones in document order (feeds
/// list their newest items first); the rest are ignored.
pub const MAX_FEED_ITEMS: usize = 200;

/// Deepest element nesting a feed may have. RSS and Atom need five or six
/// levels; XHTML content a few dozen more. Deeper documents are refused
/// before parsing, so no parser recursion depends on the feed.
pub const MAX_FEED_DEPTH: usize = 128;

/// Most elements a feed may have before its item after the first
/// [`MAX_FEED_ITEMS`] (the rest is never parsed). The parser builds a
/// structure for many elements (a link, a category, an author): this
/// bounds the memory a small hostile document can make it take (tens of
/// MiB at worst). 200 items of a real feed have a few thousand; Atom
/// entries with XHTML content more.
pub const MAX_FEED_ELEMENTS: usize = 50_000;

/// Longest feed or item title, in bytes of UTF-8 (longer ones are cut at a
/// character boundary).
pub const MAX_FEED_TITLE: usize = 512;

/// Longest item summary, in bytes of UTF-8: plain text, markup removed, cut
/// at a character boundary. A preview, not the article.
pub const MAX_FEED_SUMMARY: usize = 2 * 1024;

/// Longest link (feed or item) kept, in bytes. Longer links are dropped, not
/// cut: a cut link leads somewhere else.
pub const MAX_FEED_LINK: usize = 2 * 1024;

/// Longest item id kept as it is, in bytes. A longer id (a guid is free
/// text) is replaced by `sha256:` and the hex SHA-256 of it (71 bytes), so
/// that ids stay distinct and stable.
pub const MAX_FEED_ITEM_ID: usize = 256;

// The largest encoding of every message must fit MAX_MESSAGE.
const _: () = assert!(MAX_BODY + TEXT_OVERHEAD <= MAX_MESSAGE);
const _: () = assert!(MAX_DISPLAY_NAME + HELLO_OVERHEAD <= MAX_MESSAGE);
const _: () = assert!(MAX_ACK_IDS * 16 + ACK_OVERHEAD <= MAX_MESSAGE);
const _: () =
    assert!(MAX_DISPLAY_NAME + MAX_INTRODUCTION_NOTE + INTRODUCTION_OFFER_OVERHEAD <= MAX_MESSAGE);
const _: () = assert!(MAX_DISPLAY_NAME + INTRODUCTION_LINK_OVERHEAD <= MAX_MESSAGE);
const _: () = assert!(MAX_DROP_BODY + DROP_OVERHEAD <= MAX_INBOX_MESSAGE);
const _: () = assert!(MAX_INBOX_MESSAGE <= MAX_MESSAGE);
// A full inbox is one setting value (with room for its length prefixes).
const _: () = assert!(MAX_INBOX_DROPS * (MAX_DROP_BODY + DROP_OVERHEAD) + 16 <= MAX_SETTING);
const _: () = assert!(MAX_BODY + CHAT_OVERHEAD <= MAX_MESSAGE);
const _: () = assert!(MAX_REACTION + REACTION_OVERHEAD <= MAX_MESSAGE);
const _: () = assert!(MAX_BODY + EDIT_OVERHEAD <= MAX_MESSAGE);
const _: () = assert!(MAX_DELETE_IDS * 16 + DELETE_OVERHEAD <= MAX_MESSAGE);
const _: () = assert!(MAX_FILE_NAME + FILE_OFFER_OVERHEAD <= MAX_MESSAGE);
const _: () = assert!(MAX_CHUNK as usize + CHUNK_OVERHEAD <= MAX_MESSAGE);
const _: () = assert!(MIN_CHUNK <= DEFAULT_CHUNK && DEFAULT_CHUNK <= MAX_CHUNK);
// A default chunk message, in a record (3-byte header, 16-byte tag), fits
// the 16 384-byte padding bucket.
const _: () = assert!(DEFAULT_CHUNK as usize + CHUNK_OVERHEAD + 3 + 16 <= 16_384);
// The overheads above assume these varint widths.
const _: () = assert!(MAX_BODY < 1 << 21);
const _: () = assert!(MAX_DISPLAY_NAME < 1 << 7);
const _: () = assert!(MAX_ACK_IDS < 1 << 14);
const _: () = assert!(MAX_INTRODUCTION_NOTE < 1 << 14);
const _: () = assert!(MAX_DROP_BODY < 1 << 14);
const _: () = assert!(MAX_DELETE_IDS < 1 << 7);
const _: () = assert!(MAX_REACTION < 1 << 7);
const _: () = assert!(MAX_FILE_NAME < 1 << 14);
const _: () = assert!(MAX_CHUNKS < 1 << 21);
const _: () = assert!((MAX_CHUNK as usize) < 1 << 21);
// A peer's display name, suffixed, must make a valid alias.
const _: () = assert!(MAX_ALIAS >= MAX_DISPLAY_NAME + "-".len() + 10);

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

    #[test]
    fn longest_socket_addr_fits_a_tcp_hint() {
        let ip = Ipv6Addr::new(
            0xffff, 0xfffe, 0xfffd, 0xfffc, 0xfffb, 0xfffa, 0xfff9, 0xfff8,
        );
        let sa = SocketAddr::V6(SocketAddrV6::new(ip, 65535, 0, u32::MAX));
        assert_eq!(sa.to_string().len(), 58);
        assert!(sa.to_string().len() <= MAX_TCP_HINT);
    }
}
