//! Conversation messages beyond plain text (`docs/protocol.md` § 12):
//! replies, reactions, edits, deletion for both sides and disappearing
//! messages.
//!
//! The types here guarantee their own limits: an [`Emoji`] or a
//! [`DisappearTimer`] that decodes is valid, so the wire cannot carry a
//! reaction that is not a short emoji, or a timer that is not one of the
//! allowed values.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::clock::Timestamp;
use crate::limits::{MAX_REACTION, MAX_REACTION_CHARS};
use crate::wire::MessageId;

/// A chat message that may answer another one and carries the sender's
/// disappearing timer (tag 8; the plain `Text` of tag 2 stays for peers
/// that send it: a `Text` is a `Chat` without reply, timer off).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chat {
    /// Its id, for deduplication and acknowledgement.
    pub id: MessageId,
    /// When the author wrote it (author's clock).
    pub sent_at: Timestamp,
    /// The text.
    pub body: String,
    /// The message it answers (quotes), if any: any message of the
    /// conversation, either side's.
    pub reply_to: Option<MessageId>,
    /// The conversation's disappearing timer when it was sent: the
    /// receiver removes it that long after storing it.
    pub disappear: DisappearTimer,
}

impl std::fmt::Debug for Chat {
    // Never prints the text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chat")
            .field("id", &self.id)
            .field("reply_to", &self.reply_to)
            .field("disappear", &self.disappear)
            .finish_non_exhaustive()
    }
}

/// A new text for one of the sender's own text messages (tag 17),
/// replacing its body on the receiver's side. Of two edits of one message,
/// the one with the greater `(edited_at, id)` is in force, so edits that
/// cross or arrive again end the same on both sides.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    /// The edit's own id: acknowledged by `Ack`, like a message.
    pub id: MessageId,
    /// The message edited: one the sender wrote.
    pub target: MessageId,
    /// When the author edited it (author's clock).
    pub edited_at: Timestamp,
    /// The new text: 1 to [`crate::limits::MAX_BODY`] bytes.
    pub body: String,
}

impl Edit {
    /// Whether this edit is in force over one made at `at` with id `id`.
    pub fn wins_over(&self, at: Timestamp, id: MessageId) -> bool {
        (self.edited_at, self.id.0) > (at, id.0)
    }
}

impl std::fmt::Debug for Edit {
    // Never prints the text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edit")
            .field("id", &self.id)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// A reaction to a message of the conversation, replacing the sender's
/// previous reaction to it, if any. (`Debug` does not print the emoji.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// The reaction's own id: acknowledged by `Ack`, like a message.
    pub id: MessageId,
    /// The message reacted to.
    pub target: MessageId,
    /// The emoji, or `None` to take the sender's reaction back.
    pub emoji: Option<Emoji>,
}

/// A reaction's emoji: 1 to [`MAX_REACTION`] bytes, at most
/// [`MAX_REACTION_CHARS`] characters, of the characters emoji are made of.
///
/// Not a full emoji check (that needs Unicode's emoji tables): it refuses
/// anything that is not a short run of symbols from the emoji ranges, with
/// the joiners, variation selectors, keycap and tag characters that emoji
/// sequences use, so a reaction cannot be text, white space, a control or
/// an invisible character.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Emoji(String);

impl Emoji {
    /// Check `s` and make it an emoji.
    pub fn new(s: &str) -> Result<Emoji, Error> {
        Emoji::try_from(s.to_owned())
    }

    /// The emoji.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Emoji {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Emoji(..)")
    }
}

impl std::fmt::Display for Emoji {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Emoji> for String {
    fn from(e: Emoji) -> String {
        e.0
    }
}

/// Characters that only join or modify the symbols of an emoji sequence.
fn is_emoji_modifier(c: char) -> bool {
    matches!(
        c,
        '\u{200D}'                  // zero-width joiner
        | '\u{FE0E}' | '\u{FE0F}'   // text / emoji presentation selectors
        | '\u{20E3}'                // combining enclosing keycap
        | '\u{E0020}'..='\u{E007F}' // tags (subdivision flags)
    )
}

/// Symbols emoji are made of (the ranges Unicode's emoji use), and the
/// ASCII that keycap sequences start with.
fn is_emoji_base(c: char) -> bool {
    matches!(c,
        '0'..='9' | '#' | '*'
        | '\u{00A9}' | '\u{00AE}'
        | '\u{203C}' | '\u{2049}'
        | '\u{2122}'..='\u{2BFF}'   // letterlike symbols .. misc symbols and arrows
        | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}'
        | '\u{1F000}'..='\u{1FAFF}' // mahjong .. symbols and pictographs extended-A
    )
}

impl TryFrom<String> for Emoji {
    type Error = Error;

    fn try_from(s: String) -> Result<Emoji, Error> {
        if s.is_empty() {
            return Err(Error::BadEmoji("empty"));
        }
        if s.len() > MAX_REACTION || s.chars().count() > MAX_REACTION_CHARS {
            return Err(Error::BadEmoji("too long"));
        }
        if !s.chars().all(|c| is_emoji_base(c) || is_emoji_modifier(c)) {
            return Err(Error::BadEmoji("not an emoji"));
        }
        // A digit, `#` or `*` alone is text, not a keycap.
        if !s
            .chars()
            .any(|c| (!c.is_ascii() && is_emoji_base(c)) || c == '\u{20E3}')
        {
            return Err(Error::BadEmoji("not an emoji"));
        }
        if is_emoji_modifier(s.chars().next().unwrap_or('\u{200D}')) {
            return Err(Error::BadEmoji("starts with a modifier"));
        }
        Ok(Emoji(s))
    }
}

/// How long messages of a conversation live once stored: off, or one of
/// five fixed durations (Briar's default is [`DisappearTimer::SevenDays`]).
///
/// On the wire: the duration in seconds (a varint), one of 0, 300, 3 600,
/// 86 400, 604 800, 2 592 000; any other value does not decode. Ordered by
/// duration (`Off` first).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(try_from = "u32", into = "u32")]
pub enum DisappearTimer {
    /// Messages stay.
    #[default]
    Off,
    /// 5 minutes.
    FiveMinutes,
    /// 1 hour.
    OneHour,
    /// 1 day.
    OneDay,
    /// 7 days.
    SevenDays,
    /// 30 days.
    ThirtyDays,
}

impl DisappearTimer {
    /// Every value, shortest first.
    pub const ALL: [DisappearTimer; 6] = [
        DisappearTimer::Off,
        DisappearTimer::FiveMinutes,
        DisappearTimer::OneHour,
        DisappearTimer::OneDay,
        DisappearTimer::SevenDays,
        DisappearTimer::ThirtyDays,
    ];

    /// The duration in seconds (0 for off): the wire value.
    pub fn secs(self) -> u32 {
        match self {
            DisappearTimer::Off => 0,
            DisappearTimer::FiveMinutes => 5 * 60,
            DisappearTimer::OneHour => 3_600,
            DisappearTimer::OneDay => 86_400,
            DisappearTimer::SevenDays => 7 * 86_400,
            DisappearTimer::ThirtyDays => 30 * 86_400,
        }
    }

    /// The timer of `secs` seconds; [`Error::BadTimer`] for any other value
    /// than the six allowed.
    pub fn from_secs(secs: u64) -> Result<DisappearTimer, Error> {
        DisappearTimer::ALL
            .into_iter()
            .find(|t| u64::from(t.secs()) == secs)
            .ok_or(Error::BadTimer { secs })
    }

    /// The short name commands use: `off`, `5m`, `1h`, `1d`, `7d`, `30d`.
    pub fn label(self) -> &'static str {
        match self {
            DisappearTimer::Off => "off",
            DisappearTimer::FiveMinutes => "5m",
            DisappearTimer::OneHour => "1h",
            DisappearTimer::OneDay => "1d",
            DisappearTimer::SevenDays => "7d",
            DisappearTimer::ThirtyDays => "30d",
        }
    }

    /// Parse [`DisappearTimer::label`]'s form (`--disappear 7d`), case
    /// ignored. Errors name what is allowed.
    pub fn parse(s: &str) -> Result<DisappearTimer, Error> {
        let s = s.trim();
        DisappearTimer::ALL
            .into_iter()
            .find(|t| t.label().eq_ignore_ascii_case(s))
            .ok_or(Error::BadTimerName)
    }

    /// When a message stored at `stored_at` disappears; `None` when off.
    pub fn deadline(self, stored_at: Timestamp) -> Option<Timestamp> {
        match self {
            DisappearTimer::Off => None,
            t => Some(Timestamp(
                stored_at.0.saturating_add(u64::from(t.secs()) * 1000),
            )),
        }
    }
}

impl From<DisappearTimer> for u32 {
    fn from(t: DisappearTimer) -> u32 {
        t.secs()
    }
}

impl TryFrom<u32> for DisappearTimer {
    type Error = Error;

    fn try_from(secs: u32) -> Result<DisappearTimer, Error> {
        DisappearTimer::from_secs(u64::from(secs))
    }
}

/// A change of the conversation's disappearing timer, made by the sender
/// (tag 12). Shown to both as a line in the conversation; acknowledged by
/// `Ack(id)`.
///
/// Both sides keep the setting with the greatest `(set_at, timer)`, so two
/// changes made at once end the same on both sides. A side setting the
/// timer uses `set_at = max(now, current set_at + 1)`, so its change always
/// wins over the one in force, whatever the two clocks say.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DisappearSetting {
    /// Its id (for the line in the conversation and its acknowledgement).
    pub id: MessageId,
    /// When it was set (a logical clock, see above).
    pub set_at: Timestamp,
    /// The new timer.
    pub timer: DisappearTimer,
}

impl DisappearSetting {
    /// Whether this setting replaces `current` (set at `current_at`).
    pub fn wins_over(&self, current: DisappearTimer, current_at: Timestamp) -> bool {
        (self.set_at, self.timer) > (current_at, current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emoji_accepts_emoji() {
        for e in [
            "👍",
            "❤️",
            "😂",
            "🏳️‍🌈",
            "👩🏻‍❤️‍💋‍👨🏼",
            "👨‍👩‍👧‍👦",
            "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
            "🇫🇷",
            "1️⃣",
            "#️⃣",
            "©",
            "✊",
        ] {
            assert_eq!(Emoji::new(e).unwrap().as_str(), e, "{e}");
        }
    }

    #[test]
    fn emoji_refuses_the_rest() {
        for (e, why) in [
            ("", "empty"),
            ("a", "not an emoji"),
            ("ok", "not an emoji"),
            ("1", "not an emoji"),
            ("👍 ", "not an emoji"),
            (" 👍", "not an emoji"),
            ("👍\n", "not an emoji"),
            ("\u{202E}👍", "not an emoji"),
            ("\u{200B}", "not an emoji"),
            ("\u{200D}👍", "starts with a modifier"),
            ("\u{FE0F}", "not an emoji"),
            ("é", "not an emoji"),
            ("漢", "not an emoji"),
            ("\u{1b}[31m", "not an emoji"),
        ] {
            assert_eq!(Emoji::new(e), Err(Error::BadEmoji(why)), "{e:?}");
        }
        assert_eq!(
            Emoji::new(&"👍".repeat(13)),
            Err(Error::BadEmoji("too long"))
        );
        // 12 four-byte characters = 48 bytes: the most.
        assert!(Emoji::new(&"👍".repeat(12)).is_ok());
        assert_eq!(
            Emoji::new(&"©".repeat(12)).map(|e| e.as_str().len()),
            Ok(24)
        );
        assert_eq!(format!("{:?}", Emoji::new("👍").unwrap()), "Emoji(..)");
        assert_eq!(Error::BadEmoji("x").kind(), crate::ErrorKind::BadLocalInput);
    }

    #[test]
    fn timers() {
        let secs: Vec<u32> = DisappearTimer::ALL.iter().map(|t| t.secs()).collect();
        assert_eq!(secs, [0, 300, 3_600, 86_400, 604_800, 2_592_000]);
        for t in DisappearTimer::ALL {
            assert_eq!(DisappearTimer::from_secs(u64::from(t.secs())), Ok(t));
            assert_eq!(DisappearTimer::parse(t.label()), Ok(t));
            assert_eq!(DisappearTimer::parse(&t.label().to_uppercase()), Ok(t));
        }
        for bad in [
            1,
            60,
            299,
            301,
            7_200,
            86_401,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            assert_eq!(
                DisappearTimer::from_secs(bad),
                Err(Error::BadTimer { secs: bad })
            );
        }
        for bad in ["", "2d", "7", "7days", "on"] {
            assert_eq!(DisappearTimer::parse(bad), Err(Error::BadTimerName));
        }
        assert_eq!(DisappearTimer::default(), DisappearTimer::Off);
        assert_eq!(DisappearTimer::Off.deadline(Timestamp(5)), None);
        assert_eq!(
            DisappearTimer::FiveMinutes.deadline(Timestamp(5)),
            Some(Timestamp(300_005))
        );
        assert_eq!(
            DisappearTimer::ThirtyDays.deadline(Timestamp(u64::MAX - 1)),
            Some(Timestamp(u64::MAX))
        );
        assert!(DisappearTimer::Off < DisappearTimer::FiveMinutes);
        assert!(DisappearTimer::SevenDays < DisappearTimer::ThirtyDays);
    }

    #[test]
    fn the_later_setting_wins_on_both_sides() {
        let a = DisappearSetting {
            id: MessageId([1; 16]),
            set_at: Timestamp(10),
            timer: DisappearTimer::OneHour,
        };
        let b = DisappearSetting {
            id: MessageId([2; 16]),
            set_at: Timestamp(10),
            timer: DisappearTimer::OneDay,
        };
        // Same time: the longer timer, on both sides.
        assert!(b.wins_over(a.timer, a.set_at));
        assert!(!a.wins_over(b.timer, b.set_at));
        // A repeat does not win over itself.
        assert!(!a.wins_over(a.timer, a.set_at));
        let later = DisappearSetting {
            set_at: Timestamp(11),
            timer: DisappearTimer::Off,
            ..a
        };
        assert!(later.wins_over(b.timer, b.set_at));
    }

    proptest! {
        #[test]
        fn emoji_never_panics_and_keeps_its_limits(s in "\\PC{0,16}") {
            if let Ok(e) = Emoji::new(&s) {
                prop_assert!(e.as_str().len() <= MAX_REACTION);
                prop_assert!(!e.as_str().chars().any(char::is_whitespace));
                prop_assert!(!e.as_str().chars().any(char::is_control));
            }
        }
    }
}
