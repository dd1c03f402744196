//! Message times in the local time zone, for people.
//!
//! A message's time is its author's claim: the node keeps it at most a few
//! minutes ahead of our clock, but anything from the epoch on can arrive.
//! Every step here is checked, so no value from 0 to `u64::MAX` ms can make
//! formatting panic. jiff reads the zone as the C library would (`TZ`, an
//! IANA name, a POSIX rule or a TZif path, else `/etc/localtime`), per
//! timestamp (summer and winter time), and works in a process with many
//! threads; an unknown zone falls back to UTC.

use jiff::tz::TimeZone;

/// How a time is shown: `2026-12-01 14:05`.
const FORMAT: &str = "%Y-%m-%d %H:%M";

/// The zone to show times in (`TZ`, else the system's, else UTC).
pub(crate) fn local_zone() -> TimeZone {
    TimeZone::system()
}

/// `ms` (milliseconds since the epoch) as a date and time in `tz`; a time no
/// calendar date shows (past 9999-12-30) as a count of milliseconds.
pub(crate) fn format_millis(ms: u64, tz: &TimeZone) -> String {
    let far = || format!("far future ({ms} ms since 1970)");
    // jiff's range ends at 9999-12-30T22:00Z, chosen so that the date in any
    // zone stays within year 9999: the zone change below cannot overflow.
    let Some(ts) = i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
    else {
        return far();
    };
    let zoned = ts.to_zoned(tz.clone());
    jiff::fmt::strtime::format(FORMAT, &zoned).unwrap_or_else(|_| far())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::Offset;

    /// Tokyo: UTC+9 all year.
    fn east() -> TimeZone {
        TimeZone::posix("JST-9").expect("POSIX rule")
    }

    /// Los Angeles: UTC-8, UTC-7 in summer.
    fn west() -> TimeZone {
        TimeZone::posix("PST8PDT,M3.2.0,M11.1.0").expect("POSIX rule")
    }

    fn zones() -> Vec<TimeZone> {
        let mut v = vec![TimeZone::UTC, east(), west()];
        for hours in [-25_i32, -12, 14, 25] {
            let off = Offset::from_seconds(hours * 3600 + hours.signum() * 3599).expect("offset");
            v.push(TimeZone::fixed(off));
        }
        // From the system's database when it has one (tzdata).
        for name in ["Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati"] {
            if let Ok(tz) = TimeZone::get(name) {
                v.push(tz);
            }
        }
        v
    }

    #[test]
    fn the_epoch_east_and_west_of_utc() {
        assert_eq!(format_millis(0, &TimeZone::UTC), "1970-01-01 00:00");
        assert_eq!(format_millis(0, &east()), "1970-01-01 09:00");
        assert_eq!(format_millis(0, &west()), "1969-12-31 16:00");
    }

    #[test]
    fn summer_and_winter_time_per_timestamp() {
        // 2026-01-15T12:00Z and 2026-07-15T12:00Z.
        let (jan, jul) = (1_768_478_400_000, 1_784_116_800_000);
        assert_eq!(format_millis(jan, &west()), "2026-01-15 04:00");
        assert_eq!(format_millis(jul, &west()), "2026-07-15 05:00");
        assert_eq!(format_millis(jul, &east()), "2026-07-15 21:00");
        if let Ok(tokyo) = TimeZone::get("Asia/Tokyo") {
            assert_eq!(format_millis(jul, &tokyo), "2026-07-15 21:00");
        }
        if let Ok(la) = TimeZone::get("America/Los_Angeles") {
            assert_eq!(format_millis(jan, &la), "2026-01-15 04:00");
            assert_eq!(format_millis(jul, &la), "2026-07-15 05:00");
        }
    }

    #[test]
    fn year_9999_and_beyond() {
        // 9999-12-30T21:59:59Z: the last full minute jiff represents.
        let last = 253_402_207_199_000;
        assert_eq!(format_millis(last, &TimeZone::UTC), "9999-12-30 21:59");
        assert_eq!(format_millis(last, &west()), "9999-12-30 13:59");
        // East of UTC the same instant is already the 31st.
        assert_eq!(format_millis(last, &east()), "9999-12-31 06:59");
        // 9999-12-31T23:59:59Z and everything after: not a date, but shown.
        for ms in [
            253_402_300_799_000,
            i64::MAX as u64,
            i64::MAX as u64 + 1,
            u64::MAX,
        ] {
            assert_eq!(
                format_millis(ms, &east()),
                format!("far future ({ms} ms since 1970)")
            );
        }
    }

    #[test]
    fn no_value_panics_in_any_zone() {
        let mut values = vec![0, 1, 999, 1000, 59_999, u64::MAX, u64::MAX - 1];
        for shift in 0..64 {
            values.push(1_u64 << shift);
            values.push((1_u64 << shift).wrapping_sub(1));
        }
        for s in [-1_i64, 0, 1] {
            values.push((253_402_207_199_000_i64 + s * 3_600_000) as u64);
            values.push((253_402_300_799_999_i64 + s) as u64);
        }
        for tz in zones() {
            for &ms in &values {
                let s = format_millis(ms, &tz);
                assert!(!s.is_empty(), "{ms}");
            }
        }
    }
}
