//! Text that came from a peer, shown as data.
//!
//! egui draws text left to right with no bidi algorithm, and draws most
//! control and format characters as nothing at all. A message could then
//! hide characters (zero-width, bidi overrides) or carry terminal escapes
//! that show up later when the text is copied. So message bodies show every
//! such character as a visible code (`U+202E`), except line breaks and tabs;
//! names (which the node already cleans) lose them.

use std::borrow::Cow;

/// Whether `c` is shown as a code in a message body rather than drawn
/// (one definition for every front end: [`kith_core::text::is_hidden_in_text`]).
pub(crate) fn is_escaped(c: char) -> bool {
    kith_core::text::is_hidden_in_text(c)
}

/// One run of a message body: shown text, or a code for a hidden character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Run<'a> {
    /// Drawn as it is.
    Text(&'a str),
    /// A character drawn as its code point, e.g. `U+202E`.
    Code(char),
}

/// Split a message body into runs. A carriage return right before a newline
/// is part of the line break (text from Windows) and is dropped.
pub(crate) fn runs(body: &str) -> Vec<Run<'_>> {
    let mut out = vec![];
    let mut start = 0;
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !is_escaped(c) {
            continue;
        }
        if start < i {
            out.push(Run::Text(&body[start..i]));
        }
        start = i + c.len_utf8();
        let crlf = c == '\r' && chars.peek().is_some_and(|&(_, n)| n == '\n');
        if !crlf {
            out.push(Run::Code(c));
        }
    }
    if start < body.len() {
        out.push(Run::Text(&body[start..]));
    }
    out
}

/// A character's code, as shown: `U+001B`.
pub(crate) fn code(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// A message body as one plain string, codes inline (previews,
/// notifications, screen readers).
pub(crate) fn plain(body: &str) -> Cow<'_, str> {
    if !body.chars().any(is_escaped) {
        return Cow::Borrowed(body);
    }
    let mut s = String::with_capacity(body.len() + 16);
    for r in runs(body) {
        match r {
            Run::Text(t) => s.push_str(t),
            Run::Code(c) => {
                s.push('[');
                s.push_str(&code(c));
                s.push(']');
            }
        }
    }
    Cow::Owned(s)
}

/// A message body laid out for a label: codes in small monospace on a
/// highlighted background, so they cannot pass for text the peer typed.
pub(crate) fn layout(body: &str, ui: &egui::Ui) -> egui::text::LayoutJob {
    let style = ui.style();
    let text_font = egui::TextStyle::Body.resolve(style);
    let code_font = egui::FontId::monospace(text_font.size * 0.8);
    let color = ui.visuals().text_color();
    let mut job = egui::text::LayoutJob::default();
    for r in runs(body) {
        match r {
            Run::Text(t) => job.append(t, 0.0, egui::TextFormat::simple(text_font.clone(), color)),
            Run::Code(c) => job.append(
                &format!("[{}]", code(c)),
                1.0,
                egui::TextFormat {
                    font_id: code_font.clone(),
                    color: ui.visuals().warn_fg_color,
                    background: ui.visuals().code_bg_color,
                    valign: egui::Align::Center,
                    ..Default::default()
                },
            ),
        }
    }
    job
}

/// A name as shown: without the characters a peer's name may not contain
/// (the node removes them when it stores a name; names stored by older
/// versions may still have them).
pub(crate) fn name(s: &str) -> Cow<'_, str> {
    let bad = |c: char| is_escaped(c) || c == '\n' || c == '\t';
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().filter(|&c| !bad(c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_one_run() {
        for t in [
            "hello",
            "Zoë 🦊",
            "محمد",
            "a\nb\tc",
            "👨\u{200D}👩\u{200D}👧",
            "",
        ] {
            assert_eq!(plain(t), t);
            assert!(matches!(plain(t), Cow::Borrowed(_)));
        }
        assert_eq!(runs("hi"), [Run::Text("hi")]);
        assert!(runs("").is_empty());
    }

    #[test]
    fn controls_and_bidi_become_codes() {
        assert_eq!(
            runs("a\u{1b}[31mb"),
            [Run::Text("a"), Run::Code('\u{1b}'), Run::Text("[31mb")]
        );
        assert_eq!(plain("evil\u{202E}txt.exe"), "evil[U+202E]txt.exe");
        assert_eq!(plain("\u{0}"), "[U+0000]");
        assert_eq!(plain("x\u{7f}\u{85}\u{9b}"), "x[U+007F][U+0085][U+009B]");
        assert_eq!(plain("b\u{200B}ob"), "b[U+200B]ob");
        assert_eq!(plain("\u{2066}a\u{2069}"), "[U+2066]a[U+2069]");
        assert_eq!(plain("\u{E0041}"), "[U+E0041]");
        assert_eq!(plain("\u{FEFF}"), "[U+FEFF]");
        assert_eq!(plain("line\u{2028}sep"), "line[U+2028]sep");
    }

    #[test]
    fn line_breaks() {
        assert_eq!(plain("a\r\nb"), "a\nb");
        assert_eq!(plain("a\rb"), "a[U+000D]b");
        assert_eq!(plain("a\r"), "a[U+000D]");
        assert_eq!(plain("a\r\r\n"), "a[U+000D]\n");
    }

    #[test]
    fn names_lose_hidden_characters() {
        assert_eq!(name("Alice"), "Alice");
        assert_eq!(name("Mal\u{202E}lory\u{200B}\n\t\u{1b}"), "Mallory");
        assert_eq!(name("🦊 fox"), "🦊 fox");
    }

    #[test]
    fn every_character_round_trips_or_becomes_a_code() {
        // Every scalar value, alone and between letters: no panic, and
        // nothing hidden survives.
        for u in (0..=0x10FFFF_u32).step_by(7).chain(0..0x3000) {
            let Some(c) = char::from_u32(u) else { continue };
            let s = format!("a{c}b");
            let p = plain(&s);
            assert!(!p.chars().any(is_escaped), "{u:#x}");
            assert!(!name(&s).chars().any(is_escaped), "{u:#x}");
            let text: String = runs(&s)
                .into_iter()
                .map(|r| match r {
                    Run::Text(t) => t.to_owned(),
                    Run::Code(c) => c.to_string(),
                })
                .collect();
            assert_eq!(text, s);
        }
    }

    #[test]
    fn layout_never_panics() {
        let ctx = egui::Context::default();
        let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
            for t in ["", "\u{1b}", "a\u{202E}b\r\n\u{0}", "🦊\u{200D}x"] {
                let job = layout(t, ui);
                ui.label(job);
            }
        });
        out.textures_delta.clear();
    }
}
