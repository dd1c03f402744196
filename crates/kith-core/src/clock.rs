//! The one place Kith reads the wall clock.
//!
//! Everything else takes a [`Timestamp`] from here, so tests can reason about
//! time and the `SystemTime::now` lint stays meaningful.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current wall-clock time.
    #[allow(clippy::disallowed_methods)] // The single sanctioned clock read.
    pub fn now() -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// Milliseconds since the epoch.
    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// A time a peer claims (a message's "sent at"), kept within what can be
    /// true: never after our `now` plus [`MAX_PEER_CLOCK_AHEAD`] (a claim
    /// beyond that becomes `now`). Anything from the epoch on is representable
    /// and kept: front ends format every `Timestamp` with checked arithmetic.
    pub fn clamp_peer(self, now: Timestamp) -> Timestamp {
        let latest = now.0.saturating_add(MAX_PEER_CLOCK_AHEAD.0);
        if self.0 > latest { now } else { self }
    }
}

/// How far ahead of ours a peer's clock may be before we stop believing it.
pub const MAX_PEER_CLOCK_AHEAD: Timestamp = Timestamp(10 * 60 * 1000);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_times_in_the_future_become_now() {
        let now = Timestamp(1_800_000_000_000);
        assert_eq!(Timestamp(u64::MAX).clamp_peer(now), now);
        // 9999-12-31 in ms.
        assert_eq!(Timestamp(253_402_300_799_000).clamp_peer(now), now);
        let soon = Timestamp(now.0 + 60_000);
        assert_eq!(soon.clamp_peer(now), soon);
        assert_eq!(Timestamp(0).clamp_peer(now), Timestamp(0));
        assert_eq!(Timestamp(5).clamp_peer(Timestamp(u64::MAX)), Timestamp(5));
    }
}
