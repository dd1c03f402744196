//! Message times in the local time zone.

use std::sync::OnceLock;

use kith_core::Timestamp;

static LOCAL_OFFSET: OnceLock<time::UtcOffset> = OnceLock::new();

/// Read the local UTC offset. Call at the very start of `main`, while the
/// process has one thread: `time` refuses to read it later on Unix.
pub fn init_local_offset() {
    let off = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    let _ = LOCAL_OFFSET.set(off);
}

fn offset() -> time::UtcOffset {
    LOCAL_OFFSET.get().copied().unwrap_or(time::UtcOffset::UTC)
}

fn local(t: Timestamp) -> Option<time::OffsetDateTime> {
    let ns = i128::from(t.as_millis()) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(ns)
        .ok()
        .map(|d| d.to_offset(offset()))
}

/// "14:05" today, "3 Mar 14:05" otherwise.
pub(crate) fn short(t: Timestamp, now: Timestamp) -> String {
    let (Some(d), Some(n)) = (local(t), local(now)) else {
        return String::new();
    };
    if d.date() == n.date() {
        format!("{:02}:{:02}", d.hour(), d.minute())
    } else {
        let month = format!("{}", d.month());
        format!(
            "{} {} {:02}:{:02}",
            d.day(),
            &month[..3.min(month.len())],
            d.hour(),
            d.minute()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = Timestamp(1_700_000_000_000);
        assert_eq!(short(t, t).len(), 5);
        assert!(short(t, Timestamp(t.0 + 5 * 86_400_000)).contains(' '));
    }
}
