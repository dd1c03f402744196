//! Feeds (RSS, Atom) made into Kith's bounded types.
//!
//! [`parse_feed`] takes the bytes of a fetched feed (fetching is
//! `kith-transport`'s) and returns a [`Feed`] whose every part is bounded:
//! at most [`MAX_FEED_ITEMS`] items, titles of at most [`MAX_FEED_TITLE`]
//! bytes, plain-text summaries of at most [`MAX_FEED_SUMMARY`] bytes, links
//! that are `http`/`https` URLs of at most [`MAX_FEED_LINK`] bytes, and ids
//! of at most [`MAX_FEED_ITEM_ID`] bytes. Text is stripped of control,
//! bidi and invisible format characters (as peers' names are, see
//! [`crate::text`]), so a feed cannot rearrange or hide what is shown
//! around it, nor drive a terminal.
//!
//! Parsing is done by `feed-rs` (on `quick-xml`). Before it sees the bytes,
//! they are checked here, whatever that parser would do with them:
//! - at most [`MAX_FEED_BYTES`];
//! - decoded here to valid UTF-8 (invalid sequences replaced, the byte
//!   order mark and XML declaration removed), so that these checks and the
//!   parser read the same text and the parser never decodes anything;
//! - no document type declaration and no other `<!…>` declaration outside
//!   comments and CDATA sections: a feed never needs a DTD, and without one
//!   there are no entities to expand (billion laughs) and no external
//!   entities to fetch;
//! - element nesting at most [`MAX_FEED_DEPTH`] deep, and at most
//!   [`MAX_FEED_ELEMENTS`] elements;
//! - a document with more than [`MAX_FEED_ITEMS`] items is cut before the
//!   first item too many (and its open elements closed), so the parser
//!   never builds the rest: a 2 MiB run of `<item/>` would otherwise take
//!   a couple of hundred MiB;
//! - no JSON Feed (`feed-rs` would build all of a JSON array's items);
//! - no XML declaration after the start that names another encoding than
//!   UTF-8, anywhere (quick-xml panics when one asks it to switch late);
//! - an encoding in which every ASCII character is its own byte (UTF-8,
//!   and the single-byte ISO 8859, Windows and KOI8 encodings, declared at
//!   the start): UTF-16 and UTF-32 (by byte order mark, NUL bytes or
//!   declaration) and multi-byte legacy encodings (Shift_JIS, GB 18030,
//!   Big5, EUC) are refused.
//!
//! Should the parser still panic on some document, that is the feed's
//! [`Error::BadFeed`] ([`PARSER_PANICKED`]), not the caller's crash.
//!
//! Every failure is an [`Error::BadFeed`] (or [`Error::TooLarge`]), of kind
//! [`crate::ErrorKind::PeerProtocolViolation`]: the feed's server sent it.
//! The error never quotes the feed.

use sha2::{Digest as _, Sha256};

use crate::clock::Timestamp;
use crate::error::Error;
use crate::limits::{
    MAX_FEED_BYTES, MAX_FEED_DEPTH, MAX_FEED_ELEMENTS, MAX_FEED_ITEM_ID, MAX_FEED_ITEMS,
    MAX_FEED_LINK, MAX_FEED_SUMMARY, MAX_FEED_TITLE,
};
use crate::text::is_disallowed_in_name;

/// A parsed feed, every part within Kith's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// The feed's title: plain text, at most [`MAX_FEED_TITLE`] bytes;
    /// empty if it has none.
    pub title: String,
    /// The site the feed belongs to: an `http`/`https` URL of at most
    /// [`MAX_FEED_LINK`] bytes, if the feed gives one.
    pub link: Option<String>,
    /// Its items, in the feed's order, at most [`MAX_FEED_ITEMS`].
    pub items: Vec<FeedItem>,
}

/// One item (RSS) or entry (Atom) of a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    /// What identifies the item within its feed, to tell new items from
    /// seen ones: the RSS `guid` or Atom `id`, at most [`MAX_FEED_ITEM_ID`]
    /// bytes (a longer one becomes `sha256:<hex of it>`); for an item
    /// without one, `derived:<hex>`, a hash of its link, title, summary and
    /// time (the same at every fetch). Never empty.
    pub id: String,
    /// The item's title: plain text, at most [`MAX_FEED_TITLE`] bytes;
    /// may be empty.
    pub title: String,
    /// The item's page: an `http`/`https` URL of at most [`MAX_FEED_LINK`]
    /// bytes, if it has one.
    pub link: Option<String>,
    /// The summary (or, without one, the content) as plain text: markup
    /// removed, white space collapsed, at most [`MAX_FEED_SUMMARY`] bytes.
    pub summary: String,
    /// When the item was published (or else last updated), if the feed
    /// says and the time is not before 1970. As the feed claims it: clamp
    /// it ([`Timestamp::clamp_peer`]) before sorting by it, or a feed
    /// dated in the future stays on top.
    pub published: Option<Timestamp>,
}

/// The reason of the [`Error::BadFeed`] for a document the parser
/// panicked on (a bug to report upstream; the fuzzing entry point treats
/// it as a failure).
pub const PARSER_PANICKED: &str = "the parser failed on this document";

/// Parse a feed document (RSS 0.9x, 1.0 or 2.0, or Atom).
///
/// The bytes are checked before they are parsed (see the module
/// documentation); the result keeps every limit of [`Feed`]. Takes time
/// linear in the input: a 2 MiB feed is some hundred milliseconds of CPU
/// in a debug build, so async callers run it with `spawn_blocking`.
pub fn parse_feed(bytes: &[u8]) -> Result<Feed, Error> {
    let doc = prepare(bytes)?;
    // feed-rs fills in missing ids, with a random UUID as a last resort:
    // an item would then look new at every fetch. Ids are derived here
    // instead, from what the item shows (see `item_id`).
    let parser = feed_rs::parser::Builder::new()
        .id_generator(|_, _, _| String::new())
        .build();
    // Last line of defence: a panic inside the parser on some input the
    // checks above did not foresee is this feed's error, not the caller's
    // crash (`cargo fuzz` still sees it: its panic hook aborts first).
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(&*doc)))
        .map_err(|_| Error::BadFeed(PARSER_PANICKED))?
        .map_err(|e| Error::BadFeed(describe(&e)))?;
    let title = parsed
        .title
        .as_ref()
        .map(|t| text_of(t, MAX_FEED_TITLE))
        .unwrap_or_default();
    let link = pick_link(&parsed.links);
    let items = parsed
        .entries
        .iter()
        .take(MAX_FEED_ITEMS)
        .map(item)
        .collect();
    Ok(Feed { title, link, items })
}

/// feed-rs's error, as a reason that quotes nothing of the feed.
fn describe(e: &feed_rs::parser::ParseFeedError) -> &'static str {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError as E};
    match e {
        E::ParseError(ParseErrorKind::NoFeedRoot) => "not an RSS or Atom feed",
        E::ParseError(_) => "malformed feed",
        E::XmlReader(_) => "malformed XML",
        E::JsonSerde(_) => "malformed JSON",
        E::JsonUnsupportedVersion(_) => "unsupported JSON Feed version",
        E::IoError(_) => "cannot be decoded",
    }
}

fn item(e: &feed_rs::model::Entry) -> FeedItem {
    let title = e
        .title
        .as_ref()
        .map(|t| text_of(t, MAX_FEED_TITLE))
        .unwrap_or_default();
    let link = pick_link(&e.links);
    // The summary, or the content when the summary has no text (only an
    // image, say).
    let summary = e
        .summary
        .as_ref()
        .map(|s| html_to_text(&s.content, MAX_FEED_SUMMARY))
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let body = e.content.as_ref()?.body.as_deref()?;
            Some(html_to_text(body, MAX_FEED_SUMMARY))
        })
        .unwrap_or_default();
    let published = e.published.or(e.updated).and_then(|t| {
        let ms = t.timestamp_millis();
        u64::try_from(ms).ok().map(Timestamp)
    });
    let mut item = FeedItem {
        id: String::new(),
        title,
        link,
        summary,
        published,
    };
    item.id = item_id(&e.id, &item);
    item
}

/// The item's id, bounded and never empty: the feed's own (cleaned; a
/// longer one hashed), or else one derived from what the item shows.
fn item_id(raw: &str, item: &FeedItem) -> String {
    let id = clean_line(raw, usize::MAX);
    if id.is_empty() {
        // No id (or only invisible characters): the same item gets the
        // same id at every fetch; an edited one looks new.
        let mut h = Sha256::new();
        for part in [
            item.link.as_deref().unwrap_or(""),
            &item.title,
            &item.summary,
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.update(item.published.map_or(u64::MAX, |t| t.0).to_be_bytes());
        let digest = h.finalize();
        return format!("derived:{}", data_encoding::HEXLOWER.encode(&digest[..16]));
    }
    if id.len() <= MAX_FEED_ITEM_ID {
        return id;
    }
    let digest = Sha256::digest(id.as_bytes());
    format!("sha256:{}", data_encoding::HEXLOWER.encode(&digest))
}

/// A title: markup removed if it is HTML, then cleaned and cut.
fn text_of(t: &feed_rs::model::Text, max: usize) -> String {
    let sub = t.content_type.subty().as_str();
    if sub.eq_ignore_ascii_case("html") || sub.eq_ignore_ascii_case("xhtml+xml") {
        html_to_text(&t.content, max)
    } else {
        clean_line(&t.content, max)
    }
}

/// The first acceptable link: an alternate (or unqualified) one first,
/// then any other but the feed's own (`self`).
fn pick_link(links: &[feed_rs::model::Link]) -> Option<String> {
    let rel_is = |l: &feed_rs::model::Link, rel: &str| {
        l.rel
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case(rel))
    };
    let alternate = links
        .iter()
        .filter(|l| l.rel.is_none() || rel_is(l, "alternate"));
    let others = links.iter().filter(|l| !rel_is(l, "self"));
    alternate.chain(others).find_map(|l| web_link(&l.href))
}

/// `s` if it is an absolute `http`/`https` URL within [`MAX_FEED_LINK`]
/// bytes with a host and no white space or control characters; else
/// `None`. Relative links are dropped (there is no base to resolve them
/// against here), as are `javascript:`, `data:`, `file:` and the rest.
pub fn web_link(s: &str) -> Option<String> {
    let s = s.trim();
    if s.len() > MAX_FEED_LINK
        || s.chars()
            .any(|c| c.is_whitespace() || is_disallowed_in_name(c))
    {
        return None;
    }
    let rest = strip_prefix_ignore_case(s, "https://")
        .or_else(|| strip_prefix_ignore_case(s, "http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return None;
    }
    Some(s.to_owned())
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Text on one line: disallowed characters removed, white space runs made
/// one space, trimmed, cut at a character boundary to at most `max` bytes.
fn clean_line(s: &str, max: usize) -> String {
    let mut out = LineWriter::new(max);
    for c in s.chars() {
        if !out.push(c) {
            break;
        }
    }
    out.finish()
}

/// Builds a bounded, cleaned line one character at a time.
struct LineWriter {
    out: String,
    max: usize,
    space: bool,
    full: bool,
}

impl LineWriter {
    fn new(max: usize) -> Self {
        LineWriter {
            out: String::new(),
            max,
            space: false,
            full: false,
        }
    }

    /// Add `c` (cleaned); `false` once the line is full.
    fn push(&mut self, c: char) -> bool {
        if self.full {
            return false;
        }
        if c.is_whitespace() {
            self.space = !self.out.is_empty();
            return true;
        }
        if is_disallowed_in_name(c) {
            return true;
        }
        let need = c.len_utf8() + usize::from(self.space);
        if self.out.len() + need > self.max {
            self.full = true;
            return false;
        }
        if self.space {
            self.out.push(' ');
            self.space = false;
        }
        self.out.push(c);
        true
    }

    fn finish(self) -> String {
        self.out
    }
}

/// Elements inside a line of text: their tags separate no words.
const INLINE_ELEMENTS: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd",
    "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u",
    "var",
];

/// HTML (or text that may contain some) as plain text on one line: tags
/// and comments removed, `script` and `style` contents dropped, the common
/// character references decoded, then cleaned as [`clean_line`] does.
///
/// Linear in `html`: each byte is looked at a bounded number of times.
fn html_to_text(html: &str, max: usize) -> String {
    let mut out = LineWriter::new(max);
    let mut rest = html;
    // Once a search for a closing `>` fails, every later one would too.
    let mut no_more_gt = false;
    while let Some(c) = rest.chars().next() {
        if c == '<' && !no_more_gt {
            let after = &rest[1..];
            let starts_markup = after
                .chars()
                .next()
                .is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?'));
            if starts_markup {
                let Some(end) = after.find('>') else {
                    no_more_gt = true;
                    continue;
                };
                let tag = &after[..end];
                rest = &after[end + 1..];
                // Elements whose text is not text: skip to their end.
                let name: String = tag
                    .strip_prefix('/')
                    .unwrap_or(tag)
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                if matches!(name.as_str(), "script" | "style") {
                    let close = format!("</{name}");
                    rest = match find_ignore_ascii_case(rest, &close) {
                        Some(i) => rest[i..].find('>').map_or("", |j| &rest[i + j + 1..]),
                        None => "",
                    };
                }
                // Tags separate words (`<p>a</p><p>b</p>` is "a b"),
                // except inline ones (`<b>bean</b>s.` is "beans.").
                if !INLINE_ELEMENTS.contains(&name.as_str()) {
                    out.push(' ');
                }
                continue;
            }
        }
        if c == '&'
            && let Some((decoded, used)) = char_reference(rest)
        {
            rest = &rest[used..];
            if !out.push(decoded) {
                break;
            }
            continue;
        }
        rest = &rest[c.len_utf8()..];
        if !out.push(c) {
            break;
        }
    }
    out.finish()
}

/// Where `needle` (ASCII) first occurs in `hay`, ignoring ASCII case.
fn find_ignore_ascii_case(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// A character reference at the start of `s` (`&amp;`, `&#8217;`,
/// `&#x2019;`, a few common names): the character and the bytes it took.
fn char_reference(s: &str) -> Option<(char, usize)> {
    // The longest reference decoded here (`&#x10FFFF;`, `&hellip;`) is
    // 10 bytes; look no further so the scan stays linear.
    let end = s.char_indices().take(12).find(|&(_, c)| c == ';')?.0;
    let body = &s[1..end];
    let c = if let Some(num) = body.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        char::from_u32(n)?
    } else {
        match body {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => ' ',
            "hellip" => '…',
            "mdash" => '—',
            "ndash" => '–',
            "lsquo" => '‘',
            "rsquo" => '’',
            "ldquo" => '“',
            "rdquo" => '”',
            _ => return None,
        }
    };
    Some((c, end + 1))
}

/// Checks on the raw bytes, before any parser sees them; the document
/// to parse: the bytes as they are, or, when they hold more than
/// [`MAX_FEED_ITEMS`] items, cut before the first item too many and
/// closed (so the parser never builds the rest).
fn prepare(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, Error> {
    use std::borrow::Cow;
    if bytes.len() > MAX_FEED_BYTES {
        return Err(Error::TooLarge {
            object: "feed",
            len: bytes.len(),
            max: MAX_FEED_BYTES,
        });
    }
    let (encoding, raw) = check_encoding(bytes)?;
    // What the parser reads, and all the checks below: UTF-8 without a
    // byte order mark or declaration, invalid sequences replaced, so the
    // parser never decodes or switches encodings itself (quick-xml panics
    // when a declaration asks it to after its first 64 bytes, and took
    // `<?x\x92ml` for one: both found by `cargo fuzz`).
    let text: Cow<'_, str> = if encoding == encoding_rs::UTF_8 {
        String::from_utf8_lossy(raw)
    } else {
        encoding.decode_without_bom_handling(raw).0
    };
    let body = text.as_bytes();
    // feed-rs reads JSON Feed when a `{` comes before any `<`. It builds
    // every item of a JSON array before Kith could keep 200 of them (a
    // 2 MiB array of `{}` is hundreds of megabytes), so JSON is refused.
    if body.iter().find(|b| matches!(b, b'<' | b'{')) == Some(&b'{') {
        return Err(Error::BadFeed(
            "JSON Feed is not supported (RSS and Atom are)",
        ));
    }
    if !later_declarations_keep_utf8(body) {
        return Err(Error::BadFeed("an XML declaration after the start"));
    }
    let cut = scan_markup(body)?.map(|Cut { at, open }| {
        let mut doc = body[..at].to_vec();
        for name in open.iter().rev() {
            doc.extend_from_slice(b"</");
            doc.extend_from_slice(name);
            doc.push(b'>');
        }
        doc
    });
    Ok(match (cut, text) {
        (Some(doc), _) => Cow::Owned(doc),
        (None, Cow::Borrowed(s)) => Cow::Borrowed(s.as_bytes()),
        (None, Cow::Owned(s)) => Cow::Owned(s.into_bytes()),
    })
}

/// Refuse encodings in which the byte scan would not see what the parser
/// sees. Return the document's encoding and its bytes after the byte order
/// mark (UTF-8 only) and the XML declaration, if any.
fn check_encoding(bytes: &[u8]) -> Result<(&'static encoding_rs::Encoding, &[u8]), Error> {
    if bytes.starts_with(&[0xFE, 0xFF]) || bytes.starts_with(&[0xFF, 0xFE]) {
        return Err(Error::BadFeed("UTF-16 or UTF-32 is not supported"));
    }
    if bytes.contains(&0) {
        // ASCII text in UTF-16 or UTF-32 has NUL bytes; XML never does.
        return Err(Error::BadFeed(
            "contains NUL bytes (UTF-16, UTF-32 or binary)",
        ));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Some(decl) = xml_declaration(body) else {
        return Ok((encoding_rs::UTF_8, body));
    };
    let end = decl
        .windows(2)
        .take(1024)
        .position(|w| w == b"?>")
        .ok_or(Error::BadFeed("malformed XML declaration"))?;
    let rest = &decl[end + 2..];
    let encoding = match declared_encoding(&decl[..end]) {
        None => encoding_rs::UTF_8,
        Some(label) if ascii_transparent(label) => {
            encoding_rs::Encoding::for_label(label.trim_ascii())
                .ok_or(Error::BadFeed("unsupported character encoding"))?
        }
        Some(_) => return Err(Error::BadFeed("unsupported character encoding")),
    };
    Ok((encoding, rest))
}

/// Whether no `<?xml` after the start could make quick-xml switch
/// encodings (it panics when asked to after its first 64 bytes).
///
/// Independent of `scan_markup`'s view of the document, and conservative:
/// every `<?xml` anywhere (in CDATA too, where it is only text), with
/// every `encoding =` after it to the end, must name UTF-8 or be refused;
/// more than 16 of them are refused outright (bounding the work).
fn later_declarations_keep_utf8(body: &[u8]) -> bool {
    const MAX_LATER: usize = 16;
    let starts = body
        .iter()
        .enumerate()
        .filter(|&(i, &c)| c == b'<' && xml_declaration(&body[i..]).is_some())
        .map(|(i, _)| i);
    let mut count = 0;
    for start in starts {
        count += 1;
        if count > MAX_LATER {
            return false;
        }
        let mut rest = &body[start + 5..];
        while let Some(at) = rest
            .windows(8)
            .position(|w| w.eq_ignore_ascii_case(b"encoding"))
        {
            rest = &rest[at + 8..];
            let Some(value) = rest.trim_ascii_start().strip_prefix(b"=") else {
                continue;
            };
            let value = value.trim_ascii_start();
            let Some((&quote, label)) = value.split_first() else {
                return false;
            };
            if quote != b'"' && quote != b'\'' {
                return false;
            }
            let Some(end) = label.iter().position(|&b| b == quote) else {
                return false;
            };
            if encoding_rs::Encoding::for_label(label[..end].trim_ascii())
                != Some(encoding_rs::UTF_8)
            {
                return false;
            }
        }
    }
    true
}

/// What follows `<?xml` if `b` starts with an XML declaration (not a
/// processing instruction such as `<?xml-stylesheet`).
fn xml_declaration(b: &[u8]) -> Option<&[u8]> {
    let head = b.get(..5)?;
    let rest = &b[5..];
    (head.eq_ignore_ascii_case(b"<?xml")
        && rest
            .first()
            .is_none_or(|c| c.is_ascii_whitespace() || *c == b'?'))
    .then_some(rest)
}

/// The value of `encoding="…"` in an XML declaration's body, if present.
fn declared_encoding(decl: &[u8]) -> Option<&[u8]> {
    let at = decl.windows(8).position(|w| w == b"encoding")?;
    let rest = &decl[at + 8..];
    let rest = rest
        .trim_ascii_start()
        .strip_prefix(b"=")?
        .trim_ascii_start();
    let (&quote, value) = rest.split_first()?;
    if quote != b'"' && quote != b'\'' {
        // Malformed: let the parser refuse it, but with no encoding named,
        // quick-xml reads UTF-8, which the scan reads right.
        return None;
    }
    let end = value.iter().position(|&b| b == quote)?;
    Some(&value[..end])
}

/// Encodings (by the labels people write) in which each ASCII character
/// is one byte of the same value and no other byte sequence decodes to one.
fn ascii_transparent(label: &[u8]) -> bool {
    let label = String::from_utf8_lossy(label.trim_ascii()).to_ascii_lowercase();
    let label = label.as_str();
    matches!(
        label,
        "utf-8" | "utf8" | "us-ascii" | "ascii" | "latin1" | "koi8-r" | "koi8-u" | "macintosh"
    ) || label
        .strip_prefix("iso-8859-")
        .or_else(|| label.strip_prefix("iso8859-"))
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| (1..=16).contains(&n))
        || label
            .strip_prefix("windows-")
            .or_else(|| label.strip_prefix("cp"))
            .and_then(|n| n.parse::<u16>().ok())
            .is_some_and(|n| (1250..=1258).contains(&n))
}

/// Where to cut a document with too many items, and the elements open there.
struct Cut<'a> {
    at: usize,
    open: Vec<&'a [u8]>,
}

/// Refuse `<!…>` declarations (a DTD, entities) outside comments and CDATA
/// sections, nesting deeper than [`MAX_FEED_DEPTH`] and more than
/// [`MAX_FEED_ELEMENTS`] elements; find where the item after the first
/// [`MAX_FEED_ITEMS`] starts, if there is one. Linear: every byte is
/// passed once.
fn scan_markup(b: &[u8]) -> Result<Option<Cut<'_>>, Error> {
    let mut i = 0;
    // Names of the open elements (at most MAX_FEED_DEPTH + 1).
    let mut open: Vec<&[u8]> = Vec::new();
    let mut elements = 0_usize;
    let mut items = 0_usize;
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        let start = i + off;
        let rest = &b[start..];
        // Where the construct ends, or None when it runs to the end of the
        // input (the parser will refuse that; nothing more to check).
        let skip_to = |from: usize, end: &[u8]| -> Option<usize> {
            b[from..]
                .windows(end.len())
                .position(|w| w == end)
                .map(|p| from + p + end.len())
        };
        let next = if rest.starts_with(b"<![CDATA[") {
            skip_to(start + 9, b"]]>")
        } else if rest.starts_with(b"<!--") {
            skip_to(start + 4, b"-->")
        } else if rest.starts_with(b"<!") {
            return Err(Error::BadFeed(
                "declares a document type or entities (a feed needs neither)",
            ));
        } else if xml_declaration(rest).is_some() {
            // Only at the start, where `check_encoding` took it.
            return Err(Error::BadFeed("an XML declaration after the start"));
        } else if rest.starts_with(b"<?") {
            // A processing instruction ends at `?>`; the first `>` is
            // taken instead, so that what the parser may read as markup is
            // never skipped here (only scanned needlessly).
            skip_to(start + 2, b">")
        } else if rest.starts_with(b"</") {
            open.pop();
            skip_to(start + 2, b">")
        } else {
            // A start tag: to its `>`, outside quoted attribute values.
            let mut quote = None;
            let Some(e) = b[start + 1..].iter().position(|&c| match quote {
                Some(q) => {
                    if c == q {
                        quote = None;
                    }
                    false
                }
                None if c == b'"' || c == b'\'' => {
                    quote = Some(c);
                    false
                }
                None => c == b'>',
            }) else {
                break;
            };
            let gt = start + 1 + e;
            let tag = &b[start + 1..gt];
            let name_len = tag
                .iter()
                .position(|&c| c.is_ascii_whitespace() || c == b'/')
                .unwrap_or(tag.len());
            let name = &tag[..name_len];
            elements += 1;
            if elements > MAX_FEED_ELEMENTS {
                return Err(Error::BadFeed("too many elements"));
            }
            // An item of RSS (rss/channel/item, rdf:RDF/item) or an Atom
            // entry (feed/entry), by local name.
            let local = name.rsplit(|&c| c == b':').next().unwrap_or(name);
            if open.len() <= 2 && (local == b"item" || local == b"entry") {
                items += 1;
                if items > MAX_FEED_ITEMS {
                    return Ok(Some(Cut { at: start, open }));
                }
            }
            if !tag.ends_with(b"/") {
                open.push(name);
                if open.len() > MAX_FEED_DEPTH {
                    return Err(Error::BadFeed("elements nested too deeply"));
                }
            }
            Some(gt + 1)
        };
        match next {
            Some(n) => i = n,
            None => break,
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>Neighbourhood news</title>
    <link>https://news.example/</link>
    <description>What happens here</description>
    <item>
      <title>Assembly on Friday</title>
      <link>https://news.example/assembly</link>
      <guid isPermaLink="false">item-1</guid>
      <pubDate>Tue, 03 Nov 2026 18:00:00 GMT</pubDate>
      <description>&lt;p&gt;Bring &lt;b&gt;chairs&lt;/b&gt; &amp;amp; food.&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;p&gt;See you&lt;/p&gt;</description>
    </item>
    <item>
      <title>No link, no date</title>
      <guid>item-2</guid>
      <description><![CDATA[Plain <em>CDATA</em> text &mdash; with a&nbsp;reference]]></description>
    </item>
  </channel>
</rss>"#;

    const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">A &lt;i&gt;collective&lt;/i&gt; blog</title>
  <link rel="self" href="https://blog.example/feed.atom"/>
  <link href="https://blog.example/"/>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2026-11-01T10:00:00Z</updated>
  <entry>
    <title>First</title>
    <link rel="alternate" href="javascript:alert(1)"/>
    <link rel="related" href="http://blog.example/first"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <updated>2026-11-01T10:00:00Z</updated>
    <published>2026-10-31T09:30:00Z</published>
    <content type="html">&lt;h1&gt;Title&lt;/h1&gt;&lt;p&gt;Body&lt;/p&gt;</content>
  </entry>
</feed>"#;

    fn bad(bytes: &[u8]) -> Error {
        let e = parse_feed(bytes).expect_err("must be refused");
        assert_eq!(e.kind(), ErrorKind::PeerProtocolViolation, "{e}");
        e
    }

    #[test]
    fn rss_2_0() {
        let f = parse_feed(RSS.as_bytes()).unwrap();
        assert_eq!(f.title, "Neighbourhood news");
        assert_eq!(f.link.as_deref(), Some("https://news.example/"));
        assert_eq!(f.items.len(), 2);
        let a = &f.items[0];
        assert_eq!(a.id, "item-1");
        assert_eq!(a.title, "Assembly on Friday");
        assert_eq!(a.link.as_deref(), Some("https://news.example/assembly"));
        assert_eq!(a.summary, "Bring chairs & food. See you");
        // 2026-11-03T18:00:00Z
        assert_eq!(a.published, Some(Timestamp(1_793_728_800_000)));
        let b = &f.items[1];
        assert_eq!(b.id, "item-2");
        assert_eq!(b.link, None);
        assert_eq!(b.published, None);
        assert_eq!(b.summary, "Plain CDATA text — with a reference");
    }

    #[test]
    fn atom() {
        let f = parse_feed(ATOM.as_bytes()).unwrap();
        assert_eq!(f.title, "A collective blog");
        // The alternate link, not `self`.
        assert_eq!(f.link.as_deref(), Some("https://blog.example/"));
        let e = &f.items[0];
        assert_eq!(e.id, "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a");
        assert_eq!(e.title, "First");
        // javascript: is dropped; the next http link is taken.
        assert_eq!(e.link.as_deref(), Some("http://blog.example/first"));
        assert_eq!(e.summary, "Title Body");
        // `published` before `updated`: 2026-10-31T09:30:00Z.
        assert_eq!(e.published, Some(Timestamp(1_793_439_000_000)));
    }

    #[test]
    fn items_without_ids_get_stable_ones() {
        let doc = b"<rss version=\"2.0\"><channel>\
            <item><title>one</title></item><item><title>two</title></item>\
            <item><title>one</title><link>https://x.example/1</link></item>\
            </channel></rss>";
        let a = parse_feed(doc).unwrap();
        let b = parse_feed(doc).unwrap();
        assert_eq!(a, b, "the same at every fetch");
        let ids: std::collections::HashSet<_> = a.items.iter().map(|i| &i.id).collect();
        assert_eq!(ids.len(), 3);
        assert!(a.items.iter().all(|i| i.id.starts_with("derived:")));
    }

    #[test]
    fn fallbacks() {
        let doc = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
            <link rel="self" href="https://x.example/feed.atom"/>
            <entry><id>1</id><summary type="html">&lt;img src="x.png"&gt;</summary>
            <content type="html">the &lt;b&gt;text&lt;/b&gt;</content>
            <link rel="enclosure" href="https://x.example/a.mp3"/></entry></feed>"#;
        let f = parse_feed(doc).unwrap();
        assert_eq!(f.link, None, "the feed's own URL is not its site");
        assert_eq!(f.items[0].summary, "the text");
        assert_eq!(f.items[0].link.as_deref(), Some("https://x.example/a.mp3"));
    }

    #[test]
    fn json_feed_is_refused() {
        let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"J",
            "items":[{"id":"1","url":"https://j.example/1","content_html":"<p>hi</p>"}]}"#;
        assert!(matches!(bad(json), Error::BadFeed(r) if r.contains("JSON")));
    }

    /// 2 MiB of `<item/>` (300 000 items): cut after 200, so the parser
    /// builds 200 entries, not 300 000 (about 220 MiB before the cut).
    #[test]
    fn items_past_the_cap_are_never_parsed() {
        let mut doc = String::from("<rss version=\"2.0\"><channel><title>t</title>");
        while doc.len() < MAX_FEED_BYTES - 40 {
            doc.push_str("<item/>");
        }
        doc.push_str("</channel></rss>");
        let started = std::time::Instant::now();
        let f = parse_feed(doc.as_bytes()).unwrap();
        assert_eq!(f.items.len(), MAX_FEED_ITEMS);
        assert!(started.elapsed() < std::time::Duration::from_millis(500));

        // What comes after the cut is not read at all, even if malformed;
        // items of RSS 1.0 and Atom are counted too.
        let mut rss1 = String::from(
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" \
             xmlns=\"http://purl.org/rss/1.0/\"><channel><title>r</title></channel>",
        );
        let mut atom = String::from("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>a</title>");
        for i in 0..MAX_FEED_ITEMS + 5 {
            rss1.push_str(&format!(
                "<item><title>{i}</title><link>https://r.example/{i}</link></item>"
            ));
            atom.push_str(&format!("<entry><id>{i}</id><title>{i}</title></entry>"));
        }
        for doc in [rss1, atom] {
            let doc = format!("{doc}<broken attr=></never-closed>");
            let f = parse_feed(doc.as_bytes()).unwrap();
            assert_eq!(f.items.len(), MAX_FEED_ITEMS);
            assert_eq!(
                f.items[MAX_FEED_ITEMS - 1].title,
                format!("{}", MAX_FEED_ITEMS - 1)
            );
        }
    }

    #[test]
    fn too_many_elements_are_refused() {
        let doc = format!(
            "<rss version=\"2.0\"><channel><item>{}</item></channel></rss>",
            "<category/>".repeat(MAX_FEED_ELEMENTS)
        );
        assert!(matches!(bad(doc.as_bytes()), Error::BadFeed(r) if r.contains("elements")));
        let doc = format!(
            "<rss version=\"2.0\"><channel><item>{}</item></channel></rss>",
            "<category/>".repeat(MAX_FEED_ELEMENTS - 3)
        );
        assert!(parse_feed(doc.as_bytes()).is_ok());
    }

    #[test]
    fn malformed_xml_is_an_error() {
        assert!(matches!(
            bad(b"<rss version=\"2.0\"><channel><title>x</channel></rss>"),
            Error::BadFeed(_)
        ));
        assert!(matches!(
            bad(b"<html><body>hi</body></html>"),
            Error::BadFeed(_)
        ));
        assert!(matches!(bad(b""), Error::BadFeed(_)));
        assert!(matches!(bad(b"not a feed at all"), Error::BadFeed(_)));
        assert!(matches!(bad(b"<?xml version='1.0'"), Error::BadFeed(_)));
    }

    #[test]
    fn oversized_is_refused_before_parsing() {
        let mut big = RSS.as_bytes().to_vec();
        big.resize(MAX_FEED_BYTES + 1, b' ');
        assert_eq!(
            bad(&big),
            Error::TooLarge {
                object: "feed",
                len: MAX_FEED_BYTES + 1,
                max: MAX_FEED_BYTES
            }
        );
        // Exactly at the limit is fine.
        big.truncate(MAX_FEED_BYTES);
        assert_eq!(parse_feed(&big).unwrap().items.len(), 2);
    }

    #[test]
    fn entity_bomb_is_refused_quickly() {
        let mut doc =
            String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n<!ENTITY lol \"lol\">\n");
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", i - 1)
            };
            doc.push_str(&format!(
                "<!ENTITY lol{i} \"{}\">\n",
                format!("&{prev};").repeat(10)
            ));
        }
        doc.push_str("]>\n<rss version=\"2.0\"><channel><title>&lol9;</title></channel></rss>");
        let started = std::time::Instant::now();
        let e = bad(doc.as_bytes());
        assert!(
            matches!(e, Error::BadFeed(r) if r.contains("document type")),
            "{e}"
        );
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        // An external entity, and a DOCTYPE alone, lower case, after a comment.
        bad(b"<!DOCTYPE rss SYSTEM \"file:///etc/passwd\"><rss version=\"2.0\"/>");
        bad(b"<!-- x --><!doctype rss><rss version=\"2.0\"><channel/></rss>");
        bad(b"<rss version=\"2.0\"><channel><!ENTITY x \"y\"></channel></rss>");
        // In a comment or a CDATA section it is text: accepted.
        let ok = "<rss version=\"2.0\"><channel><title>t</title><!-- <!DOCTYPE x> --><item><description><![CDATA[<!DOCTYPE html><p>x</p>]]></description></item></channel></rss>";
        let f = parse_feed(ok.as_bytes()).unwrap();
        assert_eq!(f.items[0].summary, "x");
    }

    #[test]
    fn undeclared_entities_do_not_expand() {
        let doc = b"<rss version=\"2.0\"><channel><title>a &lol9; b</title></channel></rss>";
        // quick-xml leaves or refuses an unknown entity; either way nothing expands.
        if let Ok(f) = parse_feed(doc) {
            assert!(f.title.len() < 20, "{}", f.title);
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = |n: usize| {
            format!(
                "<rss version=\"2.0\"><channel><item><description>{}x{}</description></item></channel></rss>",
                "<d a='>'>".repeat(n),
                "</d>".repeat(n)
            )
        };
        // rss, channel, item, description: 4 levels.
        assert!(parse_feed(deep(MAX_FEED_DEPTH - 4).as_bytes()).is_ok());
        assert!(matches!(
            bad(deep(MAX_FEED_DEPTH - 3).as_bytes()),
            Error::BadFeed(r) if r.contains("deep")
        ));
        // Self-closing tags and closing tags do not count up.
        let flat = format!(
            "<rss version=\"2.0\"><channel>{}</channel></rss>",
            "<x/><y></y>".repeat(10_000)
        );
        assert!(parse_feed(flat.as_bytes()).is_ok());
        // Millions of levels are refused, not a stack overflow.
        bad("<a>".repeat(500_000).as_bytes());
    }

    #[test]
    fn encodings() {
        // UTF-16 with and without a byte order mark.
        let utf16: Vec<u8> = RSS.encode_utf16().flat_map(u16::to_le_bytes).collect();
        bad(&utf16);
        let mut bom = vec![0xFF, 0xFE];
        bom.extend_from_slice(&utf16);
        bad(&bom);
        // A declared multi-byte legacy encoding.
        bad(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><rss version=\"2.0\"><channel/></rss>");
        bad(b"<?xml version=\"1.0\" encoding='UTF-16'?><rss version=\"2.0\"><channel/></rss>");
        // ISO 8859-1 is read as declared: 0xE9 is "é".
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>caf\xE9</title></channel></rss>";
        assert_eq!(parse_feed(latin1).unwrap().title, "café");
        // A UTF-8 byte order mark is fine.
        let mut bom8 = b"\xEF\xBB\xBF".to_vec();
        bom8.extend_from_slice(RSS.as_bytes());
        assert_eq!(parse_feed(&bom8).unwrap().items.len(), 2);
        // Invalid UTF-8 in a UTF-8 document: an error or replacement
        // characters, never a panic; output is valid text by type.
        let _ = parse_feed(
            b"<rss version=\"2.0\"><channel><title>\xFF\xFE\xC3</title></channel></rss>",
        );
    }

    /// Found by `cargo fuzz`: a second declaration with another encoding
    /// made quick-xml panic ("set_encoding() called after prefix buffer
    /// was drained"); so did a first one longer than 64 bytes.
    #[test]
    fn declarations_cannot_switch_the_encoding() {
        let late = br#"<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><link href="https://blog.example/"/><?xml version="1.0" encoding="latin1"?><entry><id>1</id></entry></feed>"#;
        assert!(matches!(bad(late), Error::BadFeed(r) if r.contains("declaration")));
        let long = format!(
            "<?xml version=\"1.0\"{}encoding=\"windows-1252\"?><rss version=\"2.0\"><channel><title>caf\u{e9}</title></channel></rss>",
            " ".repeat(100)
        );
        // Written as UTF-8 but declared windows-1252: read as declared.
        assert_eq!(parse_feed(long.as_bytes()).unwrap().title, "cafÃ©");
        // A stylesheet instruction is not a declaration.
        let styled = format!("<?xml version=\"1.0\"?><?xml-stylesheet href=\"s.xsl\"?>{RSS}");
        let styled = styled.replacen("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "", 1);
        assert_eq!(parse_feed(styled.as_bytes()).unwrap().items.len(), 2);
    }

    /// Found by `cargo fuzz` after the fix above: a declaration that the
    /// markup scan took for part of an earlier processing instruction.
    /// Any later declaration that names another encoding is refused, in
    /// CDATA too; UTF-8 ones are harmless text.
    #[test]
    fn later_declarations_anywhere() {
        let hidden = b"<?x\x92ml veArsion=\"pdated>x<?xml veent><1.0\" encoding=\"latin1\"?>";
        assert!(!later_declarations_keep_utf8(hidden));
        bad(hidden);
        let cdata = |enc: &str| {
            format!(
                "<rss version=\"2.0\"><channel><item><description><![CDATA[\
                 <?xml version=\"1.0\" encoding=\"{enc}\"?><doc/>]]></description>\
                 </item></channel></rss>"
            )
        };
        assert_eq!(
            parse_feed(cdata("UTF-8").as_bytes()).unwrap().items.len(),
            1
        );
        assert!(matches!(
            bad(cdata("ISO-8859-1").as_bytes()),
            Error::BadFeed(_)
        ));
        assert!(!later_declarations_keep_utf8(b"<?xml x encoding = latin1"));
        assert!(!later_declarations_keep_utf8(
            b"<?xml ?> much later: encoding='utf-16'"
        ));
        assert!(later_declarations_keep_utf8(
            b"<?xml ?> the encoding of it is fine"
        ));
        assert!(!later_declarations_keep_utf8(
            "<?xml?>".repeat(17).as_bytes()
        ));
    }

    /// Found by `cargo fuzz`: quick-xml read `<?x\x92ml … encoding=…?>`
    /// (an invalid byte inside) as a declaration, and panicked.
    #[test]
    fn invalid_bytes_do_not_make_a_declaration() {
        let data = b"<?x\x92ml veArsion=\"1.0\" encoding=\"latin3\"<?xml version=\"1.0\" \
            encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title></feed>";
        let r = parse_feed(data);
        assert_ne!(r, Err(Error::BadFeed(PARSER_PANICKED)));
        let ok = b"<rss version=\"2.0\"><channel><title>a\x92b</title></channel></rss>";
        assert_eq!(parse_feed(ok).unwrap().title, "a\u{FFFD}b");
    }

    #[test]
    fn items_over_the_cap_are_dropped() {
        let mut doc = String::from("<rss version=\"2.0\"><channel><title>many</title>");
        for i in 0..MAX_FEED_ITEMS + 50 {
            doc.push_str(&format!(
                "<item><guid>g{i}</guid><title>t{i}</title></item>"
            ));
        }
        doc.push_str("</channel></rss>");
        let f = parse_feed(doc.as_bytes()).unwrap();
        assert_eq!(f.items.len(), MAX_FEED_ITEMS);
        assert_eq!(f.items[0].id, "g0");
        assert_eq!(
            f.items[MAX_FEED_ITEMS - 1].id,
            format!("g{}", MAX_FEED_ITEMS - 1)
        );
    }

    #[test]
    fn hostile_strings_are_bounded_and_clean() {
        let long_title = "é".repeat(MAX_FEED_TITLE); // 2 bytes each
        let long_summary = "<p>word</p> ".repeat(MAX_FEED_SUMMARY);
        let long_id = "i".repeat(MAX_FEED_ITEM_ID + 1);
        let long_link = format!("https://x.example/{}", "a".repeat(MAX_FEED_LINK));
        let doc = format!(
            "<rss version=\"2.0\"><channel><title>{long_title}</title>\
             <link>file:///etc/passwd</link>\
             <item><title>evil\u{202E}txt.exe\u{1b}[31m\u{200B}red&#x7;</title>\
             <guid>{long_id}</guid><link>{long_link}</link>\
             <description><![CDATA[{long_summary}]]></description></item>\
             <item><guid>&#x202E;&#x200B;</guid><link> data:text/html,x </link>\
             <title>  many\t\n  spaces  </title></item>\
             <item><guid>rel</guid><link>/relative/path</link></item>\
             <item><guid>ua</guid><link>http://user@/x</link></item>\
             </channel></rss>"
        );
        let f = parse_feed(doc.as_bytes()).unwrap();
        assert!(f.title.len() <= MAX_FEED_TITLE);
        assert_eq!(f.title.chars().count(), MAX_FEED_TITLE / 2);
        assert_eq!(f.link, None);
        let a = &f.items[0];
        assert_eq!(a.title, "eviltxt.exe[31mred");
        assert!(a.id.starts_with("sha256:") && a.id.len() == 71, "{}", a.id);
        assert_eq!(a.link, None, "an over-long link is dropped, not cut");
        assert!(a.summary.len() <= MAX_FEED_SUMMARY);
        assert!(a.summary.starts_with("word word"));
        // The same long id hashes the same way.
        assert_eq!(a.id, item_id(&long_id, a));
        let b = &f.items[1];
        assert_eq!(b.title, "many spaces");
        assert_eq!(b.link, None);
        assert!(b.id.starts_with("derived:"), "{}", b.id);
        assert_eq!(f.items[2].link, None);
        assert_eq!(f.items[3].link, None);
        for item in &f.items {
            for s in [&item.id, &item.title, &item.summary] {
                assert!(!s.chars().any(is_disallowed_in_name), "{s:?}");
            }
        }
    }

    #[test]
    fn text_helpers() {
        assert_eq!(html_to_text("a < b and c > d", 100), "a < b and c > d");
        assert_eq!(html_to_text("x <b", 100), "x <b");
        assert_eq!(html_to_text("<<<<<", 100), "<<<<<");
        assert_eq!(html_to_text("<STYLE>p{}</style>ok", 100), "ok");
        assert_eq!(html_to_text("<script>never closed", 100), "");
        // Inline tags separate no words; block tags do.
        assert_eq!(
            html_to_text(
                "Cover the <b>bean</b>s.<p>Then <A HREF='x'>rest</a>!</p>",
                100
            ),
            "Cover the beans. Then rest!"
        );
        assert_eq!(
            html_to_text("one<br/>two</li><li>three", 100),
            "one two three"
        );
        // NUL decodes, and is removed as a control character; what is not
        // a character stays as written.
        assert_eq!(
            html_to_text("&#0; &#xD800; &bogus; &#1114112;", 100),
            "&#xD800; &bogus; &#1114112;"
        );
        assert_eq!(html_to_text("&#x41;&#66;&amp;", 100), "AB&");
        assert_eq!(clean_line("ééé", 5), "éé");
        assert_eq!(clean_line("ab cd", 4), "ab c");
        assert_eq!(clean_line("ab  cd", 3), "ab");
        assert_eq!(
            web_link("HTTPS://Example.org/a").as_deref(),
            Some("HTTPS://Example.org/a")
        );
        assert_eq!(web_link("https://"), None);
        assert_eq!(web_link("https://:80/"), None);
        assert_eq!(web_link("ftp://x/"), None);
        assert_eq!(web_link("https://a b/"), None);
        assert!(ascii_transparent(b" Windows-1252 "));
        assert!(ascii_transparent(b"iso-8859-15"));
        assert!(!ascii_transparent(b"iso-8859-17"));
        assert!(!ascii_transparent(b"gb18030"));
    }

    /// A big but ordinary feed: 200 items of 8 KiB of HTML each, near the
    /// size limit, parses well within a fetch's time.
    #[test]
    fn a_large_feed_parses() {
        let mut doc = String::from("<rss version=\"2.0\"><channel><title>big</title>");
        let para = "&lt;p&gt;Lorem ipsum dolor sit amet, &amp;amp; consectetur.&lt;/p&gt;\n";
        for i in 0..MAX_FEED_ITEMS {
            doc.push_str(&format!(
                "<item><guid>{i}</guid><title>Item {i}</title><link>https://x.example/{i}</link>\
                 <description>{}</description></item>",
                para.repeat(8 * 1024 / para.len())
            ));
        }
        doc.push_str("</channel></rss>");
        assert!(doc.len() > MAX_FEED_BYTES / 2 && doc.len() <= MAX_FEED_BYTES);
        let started = std::time::Instant::now();
        let f = parse_feed(doc.as_bytes()).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(f.items.len(), MAX_FEED_ITEMS);
        let last = &f.items[MAX_FEED_ITEMS - 1];
        assert!(
            last.summary
                .starts_with("Lorem ipsum dolor sit amet, & consectetur. Lorem")
        );
        assert!((MAX_FEED_SUMMARY - 2..=MAX_FEED_SUMMARY).contains(&last.summary.len()));
    }

    #[test]
    fn quadratic_inputs_stay_fast() {
        let started = std::time::Instant::now();
        let n = MAX_FEED_BYTES / 4;
        let _ = html_to_text(&"<a".repeat(n), MAX_FEED_SUMMARY);
        let _ = html_to_text(&"&amp".repeat(n), MAX_FEED_SUMMARY);
        let _ = html_to_text(&"<script>".repeat(n / 4), MAX_FEED_SUMMARY);
        let _ = parse_feed("<a b='".repeat(n / 3).as_bytes());
        let _ = parse_feed("<!--".repeat(n / 2).as_bytes());
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
}
