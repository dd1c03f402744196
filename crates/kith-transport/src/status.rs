//! What a transport reports about itself.

/// A transport's state, published through [`crate::Transport::status`].
///
/// Contains no addresses: services are named by the node's nicknames.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TransportStatus {
    /// How far the Tor client has bootstrapped, 0–100 (always 100 for TCP).
    pub bootstrap_percent: u8,
    /// A human-readable phase ("starting", "ready", arti's progress text…).
    pub phase: String,
    /// Whether the transport can carry traffic now.
    pub ready: bool,
    /// One entry per live listener of this transport.
    pub services: Vec<ServiceState>,
    /// The most recent failure, if the transport is (still) troubled.
    pub last_error: Option<String>,
}

/// The state of one listener, as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServiceState {
    /// The node's name for the listener.
    pub nickname: String,
    /// Whether peers can be expected to reach it. For Tor: arti reports the
    /// service as fully reachable (`Running` or `DegradedReachable`). arti
    /// may never say so on a small test network although the service
    /// answers; treat `false` as "not confirmed", not as "unreachable".
    pub published: bool,
    /// arti's state name for the service (`Bootstrapping`, `Running`,
    /// `DegradedReachable`, `DegradedUnreachable`, `Recovering`, `Broken`,
    /// `Shutdown`), or `Listening` for TCP.
    pub state: String,
    /// arti's latest problem with the service, if any.
    pub problem: Option<String>,
}

impl TransportStatus {
    /// Insert or replace the entry for `state.nickname`.
    pub(crate) fn upsert_service(&mut self, state: ServiceState) {
        match self
            .services
            .iter_mut()
            .find(|s| s.nickname == state.nickname)
        {
            Some(s) => *s = state,
            None => self.services.push(state),
        }
    }

    /// Remove the entry for `nickname`.
    pub(crate) fn remove_service(&mut self, nickname: &str) {
        self.services.retain(|s| s.nickname != nickname);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_say_nothing_is_ready() {
        let s = TransportStatus::default();
        assert_eq!(s.bootstrap_percent, 0);
        assert!(!s.ready);
        assert!(s.services.is_empty());
        assert!(s.last_error.is_none());
    }

    #[test]
    fn services_by_nickname() {
        let mut s = TransportStatus::default();
        let svc = |n: &str, p| ServiceState {
            nickname: n.into(),
            published: p,
            ..Default::default()
        };
        s.upsert_service(svc("a", false));
        s.upsert_service(svc("b", false));
        s.upsert_service(svc("a", true));
        assert_eq!(s.services, vec![svc("a", true), svc("b", false)]);
        s.remove_service("a");
        assert_eq!(s.services, vec![svc("b", false)]);
    }
}
