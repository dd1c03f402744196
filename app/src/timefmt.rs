//! Message times in the local time zone.
//!
//! Times come from peers (a message's "sent at"): the node keeps them at most
//! a few minutes ahead of our clock, but anything from the epoch on can
//! arrive, and our own clock can be wrong too. Every step here is checked,
//! so no value of a [`Timestamp`] (0 to `u64::MAX` ms) or of the UTC offset
//! can make formatting panic; what cannot be shown becomes [`UNKNOWN`].

use std::sync::OnceLock;

use kith_core::Timestamp;
use time::{Month, OffsetDateTime, UtcOffset};

static LOCAL_OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// What a time that no calendar date can show (beyond year 9999) becomes.
pub const UNKNOWN: &str = "unknown time";

/// Read the local UTC offset. Call at the very start of `main`, while the
/// process has one thread: `time` refuses to read it later on Unix.
pub fn init_local_offset() {
    let off = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let _ = LOCAL_OFFSET.set(off);
}

/// The offset read by [`init_local_offset`], UTC if it was not read.
fn offset() -> UtcOffset {
    LOCAL_OFFSET.get().copied().unwrap_or(UtcOffset::UTC)
}

/// `t` as a date and time at `offset`, if the calendar reaches it.
fn at_offset(t: Timestamp, offset: UtcOffset) -> Option<OffsetDateTime> {
    // u64 ms times 10^6 always fits an i128; the conversion refuses what is
    // past year 9999, and the offset change refuses to step past it.
    let ns = i128::from(t.as_millis()).checked_mul(1_000_000)?;
    OffsetDateTime::from_unix_timestamp_nanos(ns)
        .ok()?
        .checked_to_offset(offset)
}

fn month_abbr(m: Month) -> &'static str {
    match m {
        Month::January => "Jan",
        Month::February => "Feb",
        Month::March => "Mar",
        Month::April => "Apr",
        Month::May => "May",
        Month::June => "Jun",
        Month::July => "Jul",
        Month::August => "Aug",
        Month::September => "Sep",
        Month::October => "Oct",
        Month::November => "Nov",
        Month::December => "Dec",
    }
}

/// "14:05" on `now`'s day, "3 Mar 14:05" in its year, "3 Mar 2024 14:05"
/// otherwise; all at `offset`. A `now` that cannot be shown counts as another
/// year; a `t` that cannot be shown is [`UNKNOWN`].
pub fn short_at(t: Timestamp, now: Timestamp, offset: UtcOffset) -> String {
    let Some(d) = at_offset(t, offset) else {
        return UNKNOWN.to_owned();
    };
    let n = at_offset(now, offset);
    let hm = format!("{:02}:{:02}", d.hour(), d.minute());
    match n {
        Some(n) if n.date() == d.date() => hm,
        Some(n) if n.year() == d.year() => {
            format!("{} {} {hm}", d.day(), month_abbr(d.month()))
        }
        _ => format!("{} {} {} {hm}", d.day(), month_abbr(d.month()), d.year()),
    }
}

/// [`short_at`] in the local time zone.
pub(crate) fn short(t: Timestamp, now: Timestamp) -> String {
    short_at(t, now, offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn off(h: i8) -> UtcOffset {
        UtcOffset::from_hms(h, 0, 0).unwrap()
    }

    /// 9999-12-31T23:59:59.999 UTC, the last millisecond `time` can show.
    const LAST_MS: u64 = 253_402_300_799_999;
    /// 2023-11-14T22:13:20 UTC.
    const T: u64 = 1_700_000_000_000;

    #[test]
    fn today_this_year_other_years() {
        let t = Timestamp(T);
        assert_eq!(short_at(t, t, UtcOffset::UTC), "22:13");
        assert_eq!(
            short_at(t, Timestamp(T + 5 * 86_400_000), off(0)),
            "14 Nov 22:13"
        );
        assert_eq!(
            short_at(t, Timestamp(T + 400 * 86_400_000), off(0)),
            "14 Nov 2023 22:13"
        );
    }

    #[test]
    fn offsets_east_and_west_move_the_day() {
        let t = Timestamp(T);
        // 07:13 the next morning in Tokyo; 14:13 the same day in California.
        assert_eq!(short_at(t, t, off(9)), "07:13");
        assert_eq!(
            short_at(t, Timestamp(T - 86_400_000), off(9)),
            "15 Nov 07:13"
        );
        assert_eq!(short_at(t, t, off(-8)), "14:13");
        assert_eq!(
            short_at(t, Timestamp(T + 86_400_000), off(-8)),
            "14 Nov 14:13"
        );
    }

    #[test]
    fn the_epoch() {
        let now = Timestamp(T);
        assert_eq!(short_at(Timestamp(0), now, off(0)), "1 Jan 1970 00:00");
        assert_eq!(short_at(Timestamp(0), now, off(9)), "1 Jan 1970 09:00");
        assert_eq!(short_at(Timestamp(0), now, off(-8)), "31 Dec 1969 16:00");
        assert_eq!(short_at(Timestamp(0), Timestamp(0), off(-8)), "16:00");
    }

    #[test]
    fn year_9999_and_beyond() {
        let now = Timestamp(T);
        let last = Timestamp(LAST_MS);
        assert_eq!(short_at(last, now, off(0)), "31 Dec 9999 23:59");
        assert_eq!(short_at(last, now, off(-8)), "31 Dec 9999 15:59");
        // East of UTC it is already year 10000 there: not shown, no panic.
        assert_eq!(short_at(last, now, off(9)), UNKNOWN);
        assert_eq!(short_at(Timestamp(LAST_MS + 1), now, off(0)), UNKNOWN);
        assert_eq!(short_at(Timestamp(u64::MAX), now, off(0)), UNKNOWN);
        assert_eq!(short_at(Timestamp(u64::MAX), now, off(9)), UNKNOWN);
        assert_eq!(short_at(Timestamp(u64::MAX), now, off(-8)), UNKNOWN);
        // A clock of ours that is off the calendar still shows peers' times.
        assert_eq!(
            short_at(Timestamp(T), Timestamp(u64::MAX), off(9)),
            "15 Nov 2023 07:13"
        );
        assert_eq!(short_at(last, last, off(-8)), "15:59");
    }

    #[test]
    fn extreme_offsets_never_panic() {
        let extremes = [
            UtcOffset::from_hms(25, 59, 59).unwrap(),
            UtcOffset::from_hms(-25, -59, -59).unwrap(),
            off(14),
            off(-12),
        ];
        let times = [
            0,
            1,
            T,
            LAST_MS - 86_400_000,
            LAST_MS,
            LAST_MS + 1,
            u64::MAX / 2,
            u64::MAX,
        ];
        for o in extremes {
            for t in times {
                for n in times {
                    let s = short_at(Timestamp(t), Timestamp(n), o);
                    assert!(!s.is_empty());
                }
            }
        }
    }

    #[test]
    fn local_wrapper_uses_some_offset() {
        // Without `init_local_offset` (tests), the offset is UTC.
        assert_eq!(short(Timestamp(T), Timestamp(T)), "22:13");
    }
}
