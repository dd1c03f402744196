//! Text that came from a peer, made safe to show.
//!
//! A name a peer chose is shown next to names the user chose. It must not be
//! able to reorder what is around it (bidi overrides), hide characters
//! (zero-width and other format characters), or move a terminal's cursor
//! (control characters). [`sanitize_name`] removes all of these from names;
//! message text keeps its line breaks and is shown through front ends that
//! escape controls themselves.

/// Whether `c` is a character a peer's name may not contain: controls (C0, C1,
/// DEL), bidi embeddings, overrides, isolates and marks, zero-width and other
/// invisible format characters, and line or paragraph separators.
pub fn is_disallowed_in_name(c: char) -> bool {
    c.is_control() || is_format(c)
}

/// Unicode "format" characters (general category Cf) and the few other
/// invisible characters that change how text around them is shown.
pub fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                  // soft hyphen
        | '\u{034F}'                // combining grapheme joiner
        | '\u{061C}'                // Arabic letter mark
        | '\u{115F}' | '\u{1160}'   // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'   // Khmer inherent vowels
        | '\u{180B}'..='\u{180F}'   // Mongolian variation selectors and vowel separator
        | '\u{200B}'..='\u{200F}'   // zero-width space/non-joiner/joiner, LRM, RLM
        | '\u{2028}'..='\u{202E}'   // line/paragraph separators, bidi embeddings and overrides
        | '\u{2060}'..='\u{206F}'   // word joiner, invisible operators, bidi isolates, deprecated formats
        | '\u{3164}'                // Hangul filler
        | '\u{FE00}'..='\u{FE0F}'   // variation selectors
        | '\u{FEFF}'                // zero-width no-break space (BOM)
        | '\u{FFA0}'                // halfwidth Hangul filler
        | '\u{FFF9}'..='\u{FFFB}'   // interlinear annotations
        | '\u{110BD}' | '\u{110CD}' // Kaithi number signs
        | '\u{13430}'..='\u{1343F}' // Egyptian hieroglyph format controls
        | '\u{1BCA0}'..='\u{1BCA3}' // shorthand format controls
        | '\u{1D173}'..='\u{1D17A}' // musical symbol format controls
        | '\u{E0000}'..='\u{E007F}' // tags
        | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
    )
}

/// Whether `c`, in a peer's message text, must be shown as a visible code
/// rather than drawn: controls other than newline and tab, and the format
/// characters of [`is_format`] except those running text needs (zero-width
/// joiner and non-joiner, variation selectors: emoji and some scripts use
/// them, and they cannot reorder or hide text).
pub fn is_hidden_in_text(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || (is_format(c)
            && !matches!(c,
                '\u{200C}' | '\u{200D}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{E0100}'..='\u{E01EF}'
                | '\u{180B}'..='\u{180D}'
            ))
}

/// A peer's name as we store and show it: disallowed characters removed,
/// runs of white space collapsed to one space, trimmed.
pub fn sanitize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut space = false;
    for c in name.chars() {
        if is_disallowed_in_name(c) {
            continue;
        }
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bidi_and_zero_width_are_removed() {
        assert_eq!(sanitize_name("ali\u{202E}ec"), "aliec");
        assert_eq!(sanitize_name("b\u{200B}ob"), "bob");
        assert_eq!(sanitize_name("\u{2066}eve\u{2069}"), "eve");
        assert_eq!(sanitize_name("\u{FEFF}x\u{E0041}"), "x");
    }

    #[test]
    fn controls_and_spaces() {
        assert_eq!(sanitize_name("a\x1b[31mb"), "a[31mb");
        assert_eq!(sanitize_name("  a \t\r\n b  "), "a b");
        assert_eq!(sanitize_name("\u{85}x\u{9b}"), "x");
        assert_eq!(sanitize_name(""), "");
    }

    #[test]
    fn ordinary_names_are_kept() {
        for n in [
            "Alice",
            "Zoë",
            "محمد",
            "小明",
            "Anne-Marie O'Neil",
            "🦊 fox",
        ] {
            assert_eq!(sanitize_name(n), n);
        }
    }

    proptest! {
        #[test]
        fn never_contains_disallowed_and_is_idempotent(s in any::<String>()) {
            let once = sanitize_name(&s);
            prop_assert!(!once.chars().any(is_disallowed_in_name));
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' '));
            prop_assert_eq!(sanitize_name(&once), once.clone());
        }
    }
}
