//! Text for a terminal: what peers send is shown, never obeyed.
//!
//! Names, aliases and message text reach the terminal through [`escape`].
//! A control character written raw could move the cursor or erase a line
//! (ESC and CSI sequences, CR, backspace), retitle the window or plant a
//! hyperlink (OSC), and a bidi override or isolate could reorder what is
//! printed after it. Each such character is printed as its code point in
//! Rust's escape syntax (`\u{1b}`), so it is visible and inert. `--json`
//! output does not come here: serde_json escapes what JSON requires and
//! keeps the rest exact.

use std::borrow::Cow;
use std::fmt::Write as _;

/// What is being printed: decides the fate of line breaks and tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    /// One line: a name, an alias, an error. Line breaks and tabs are escaped
    /// too, so nothing can start a line that looks like another entry.
    Line,
    /// A message body: its line breaks and tabs are the author's and are kept.
    Body,
}

/// Whether `c` is escaped when printed as part of `field`.
pub(crate) fn must_escape(c: char, field: Field) -> bool {
    match c {
        '\n' | '\t' => field == Field::Line,
        // C0 controls (ESC, CR, BS, BEL...), DEL, and C1 controls (U+0080 to
        // U+009F: CSI is U+009B, OSC U+009D, which some terminals obey).
        c if c.is_control() => true,
        // Bidi marks, embeddings, overrides and isolates.
        '\u{061C}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => true,
        // Line and paragraph separators: line breaks that are not '\n'.
        '\u{2028}' | '\u{2029}' => true,
        _ => false,
    }
}

/// `s` with every character [`must_escape`] names written as `\u{..}`.
pub(crate) fn escape(s: &str, field: Field) -> Cow<'_, str> {
    if !s.chars().any(|c| must_escape(c, field)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if must_escape(c, field) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A message body for a listing: escaped, and each line after the first
/// indented by `indent`, so no line of a body can pass for an entry of the
/// listing.
pub(crate) fn body(s: &str, indent: &str) -> String {
    let escaped = escape(s, Field::Body);
    let mut out = String::with_capacity(escaped.len());
    for (i, line) in escaped.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(indent);
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `s` holds anything a terminal would act on rather than show.
    fn has_active(s: &str, field: Field) -> bool {
        s.chars().any(|c| must_escape(c, field))
    }

    #[test]
    fn plain_text_is_untouched() {
        for s in [
            "alice",
            "hello, bob ✊",
            "Zoë – ünïcødé 日本語",
            "👨‍👩‍👧 ❤️",
            "",
        ] {
            assert!(matches!(escape(s, Field::Line), Cow::Borrowed(_)), "{s}");
            assert_eq!(escape(s, Field::Body), s);
        }
    }

    #[test]
    fn hostile_strings_are_made_visible() {
        let cases = [
            // Clear the screen, move home, recolour.
            ("\x1b[2J\x1b[Hgotcha", "\\u{1b}[2J\\u{1b}[Hgotcha"),
            // Retitle the terminal (OSC 0, BEL-terminated), and an OSC 8 link.
            ("\x1b]0;pwned\x07x", "\\u{1b}]0;pwned\\u{7}x"),
            (
                "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",
                "\\u{1b}]8;;http://evil\\u{1b}\\click\\u{1b}]8;;\\u{1b}\\",
            ),
            // Overwrite what was printed before on the line.
            ("safe\rEVIL", "safe\\u{d}EVIL"),
            ("abc\x08\x08\x08xyz", "abc\\u{8}\\u{8}\\u{8}xyz"),
            // C1 controls: CSI (U+009B) and OSC (U+009D) as single characters.
            ("\u{9b}2J\u{9d}0;t\u{9c}", "\\u{9b}2J\\u{9d}0;t\\u{9c}"),
            ("nul\0del\x7f", "nul\\u{0}del\\u{7f}"),
            // Bidi: "alice\u{202e}gpj.exe" would show as "aliceexe.jpg".
            ("alice\u{202e}gpj.exe", "alice\\u{202e}gpj.exe"),
            (
                "\u{2066}x\u{2069}\u{2067}\u{2068}",
                "\\u{2066}x\\u{2069}\\u{2067}\\u{2068}",
            ),
            (
                "\u{202a}\u{202b}\u{202c}\u{202d}",
                "\\u{202a}\\u{202b}\\u{202c}\\u{202d}",
            ),
            ("\u{200e}\u{200f}\u{61c}", "\\u{200e}\\u{200f}\\u{61c}"),
            ("a\u{2028}b\u{2029}c", "a\\u{2028}b\\u{2029}c"),
        ];
        for (input, want) in cases {
            for field in [Field::Line, Field::Body] {
                let got = escape(input, field);
                assert_eq!(got, want, "{input:?} as {field:?}");
                assert!(!has_active(&got, field), "{got:?}");
            }
        }
    }

    #[test]
    fn newlines_and_tabs_depend_on_the_field() {
        assert_eq!(escape("a\nb\tc", Field::Line), "a\\u{a}b\\u{9}c");
        assert_eq!(escape("a\nb\tc", Field::Body), "a\nb\tc");
        assert_eq!(escape("a\r\nb", Field::Body), "a\\u{d}\nb");
    }

    #[test]
    fn body_lines_cannot_pose_as_entries() {
        assert_eq!(
            body("one\n> two [delivered]", "  "),
            "one\n  > two [delivered]"
        );
        assert_eq!(body("x\x1b[1Ay", "  "), "x\\u{1b}[1Ay");
        assert_eq!(body("", "  "), "");
    }

    #[test]
    fn every_control_and_bidi_character_is_escaped() {
        for cp in (0_u32..0x30000).chain(0xE0000..0xE0080) {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let s = format!("a{c}b");
            let out = escape(&s, Field::Line);
            let active = c.is_control()
                || matches!(cp, 0x61C | 0x200E | 0x200F | 0x2028..=0x202E | 0x2066..=0x2069);
            if active {
                assert_eq!(out, format!("a\\u{{{cp:x}}}b"), "U+{cp:04X}");
            } else {
                assert_eq!(out, s, "U+{cp:04X}");
            }
        }
    }
}
