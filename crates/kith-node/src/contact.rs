//! The contact state machine: one home for what each state allows.
//!
//! ```text
//!                 add link                    they dial, we know nothing
//!                    │                                   │
//!                    ▼      they answer Accepted         ▼
//!               Outgoing ───────────────┐          IncomingRequest ◄──── restore ──┐
//!                    │                  ▼                │      │                    │
//!                    │              Accepted ◄── accept ─┘      └── decline ──► Declined
//!                    │                  ▲                                           │
//!                    └── they dial us ──┘◄─────────────────── accept ───────────────┘
//!
//!        any state ── block ──► Blocked ── unblock ──► IncomingRequest (came as a request)
//!                                                   └► Outgoing        (we added them)
//! ```
//!
//! The rules are methods on [`ContactState`] (through [`ContactRules`]), so
//! that the network code, the profile API and the tests ask one place.

use kith_core::wire::Welcome;
use kith_store::{ContactOrigin, ContactState};

/// A transition the current state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotAllowed {
    /// What was asked.
    pub(crate) action: &'static str,
    /// The state it was asked in.
    pub(crate) from: ContactState,
}

impl NotAllowed {
    /// A sentence for the user.
    pub(crate) fn explain(&self) -> String {
        let from = match self.from {
            ContactState::Outgoing => "a contact waiting for them to accept",
            ContactState::IncomingRequest => "a pending request",
            ContactState::Accepted => "an accepted contact",
            ContactState::Declined => "a declined request",
            ContactState::Blocked => "a blocked contact",
        };
        format!("cannot {} {from}", self.action)
    }
}

/// What we answer a peer's `Hello`, and the state it leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HelloAnswer {
    /// The answer on the wire.
    pub(crate) welcome: Welcome,
    /// The new state, if the hello changes it.
    pub(crate) becomes: Option<ContactState>,
}

/// The contact state machine, as methods on the stored state.
pub(crate) trait ContactRules: Sized {
    /// Whether we may queue messages for them.
    fn may_send(self) -> bool;
    /// Whether our dialer should try to reach them.
    fn should_dial(self) -> bool;
    /// Whether a live session with them may continue.
    fn may_have_session(self) -> bool;
    /// How to answer their hello. Declined and blocked people are answered
    /// exactly as a pending request is, so they learn nothing.
    fn answer_hello(self) -> HelloAnswer;
    /// They answered our hello with `Accepted`.
    fn on_welcome_accepted(self) -> Option<ContactState>;
    /// The user accepts them.
    fn accept(self) -> Result<ContactState, NotAllowed>;
    /// The user declines their request.
    fn decline(self) -> Result<ContactState, NotAllowed>;
    /// The user puts a declined request back among the pending ones.
    fn restore(self) -> Result<ContactState, NotAllowed>;
    /// The user blocks them (from any state).
    fn block(self) -> Result<ContactState, NotAllowed>;
    /// The user unblocks them: a request goes back to being a request (it
    /// must be accepted again); a contact we added waits for their answer.
    fn unblock(self, origin: ContactOrigin) -> Result<ContactState, NotAllowed>;
}

impl ContactRules for ContactState {
    fn may_send(self) -> bool {
        matches!(self, ContactState::Accepted | ContactState::Outgoing)
    }

    fn should_dial(self) -> bool {
        self.may_send()
    }

    fn may_have_session(self) -> bool {
        matches!(self, ContactState::Accepted | ContactState::Outgoing)
    }

    fn answer_hello(self) -> HelloAnswer {
        match self {
            ContactState::Accepted => HelloAnswer {
                welcome: Welcome::Accepted,
                becomes: None,
            },
            // We added them and they dialed us: both sides agree.
            ContactState::Outgoing => HelloAnswer {
                welcome: Welcome::Accepted,
                becomes: Some(ContactState::Accepted),
            },
            ContactState::IncomingRequest | ContactState::Declined | ContactState::Blocked => {
                HelloAnswer {
                    welcome: Welcome::Pending,
                    becomes: None,
                }
            }
        }
    }

    fn on_welcome_accepted(self) -> Option<ContactState> {
        (self == ContactState::Outgoing).then_some(ContactState::Accepted)
    }

    fn accept(self) -> Result<ContactState, NotAllowed> {
        match self {
            ContactState::IncomingRequest | ContactState::Declined | ContactState::Accepted => {
                Ok(ContactState::Accepted)
            }
            from => Err(NotAllowed {
                action: "accept",
                from,
            }),
        }
    }

    fn decline(self) -> Result<ContactState, NotAllowed> {
        match self {
            ContactState::IncomingRequest | ContactState::Declined => Ok(ContactState::Declined),
            from => Err(NotAllowed {
                action: "decline",
                from,
            }),
        }
    }

    fn restore(self) -> Result<ContactState, NotAllowed> {
        match self {
            ContactState::Declined | ContactState::IncomingRequest => {
                Ok(ContactState::IncomingRequest)
            }
            from => Err(NotAllowed {
                action: "restore",
                from,
            }),
        }
    }

    fn block(self) -> Result<ContactState, NotAllowed> {
        Ok(ContactState::Blocked)
    }

    fn unblock(self, origin: ContactOrigin) -> Result<ContactState, NotAllowed> {
        match self {
            ContactState::Blocked => Ok(match origin {
                ContactOrigin::Request => ContactState::IncomingRequest,
                ContactOrigin::Link
                | ContactOrigin::MetInPerson
                | ContactOrigin::Introduced { .. } => ContactState::Outgoing,
            }),
            from => Err(NotAllowed {
                action: "unblock",
                from,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ContactState; 5] = [
        ContactState::Outgoing,
        ContactState::IncomingRequest,
        ContactState::Accepted,
        ContactState::Declined,
        ContactState::Blocked,
    ];

    #[test]
    fn only_contacts_get_accepted_or_messages() {
        for s in ALL {
            let a = s.answer_hello();
            let contact = matches!(s, ContactState::Accepted | ContactState::Outgoing);
            assert_eq!(a.welcome == Welcome::Accepted, contact, "{s:?}");
            assert_eq!(s.may_send(), contact, "{s:?}");
            assert_eq!(s.may_have_session(), contact, "{s:?}");
        }
    }

    #[test]
    fn declined_blocked_and_pending_look_the_same_to_them() {
        let pending = ContactState::IncomingRequest.answer_hello();
        assert_eq!(ContactState::Declined.answer_hello(), pending);
        assert_eq!(ContactState::Blocked.answer_hello(), pending);
    }

    #[test]
    fn block_from_anywhere_and_unblock_by_origin() {
        for s in ALL {
            assert_eq!(s.block(), Ok(ContactState::Blocked));
        }
        let b = ContactState::Blocked;
        assert_eq!(
            b.unblock(ContactOrigin::Request),
            Ok(ContactState::IncomingRequest)
        );
        assert_eq!(b.unblock(ContactOrigin::Link), Ok(ContactState::Outgoing));
        assert!(ContactState::Accepted.unblock(ContactOrigin::Link).is_err());
    }

    #[test]
    fn a_blocked_contact_cannot_be_accepted_without_unblocking() {
        assert!(ContactState::Blocked.accept().is_err());
        assert!(ContactState::Blocked.restore().is_err());
        assert!(ContactState::Outgoing.accept().is_err());
    }

    #[test]
    fn declined_can_be_restored_or_accepted() {
        assert_eq!(
            ContactState::Declined.restore(),
            Ok(ContactState::IncomingRequest)
        );
        assert_eq!(ContactState::Declined.accept(), Ok(ContactState::Accepted));
        assert!(ContactState::Accepted.decline().is_err());
    }
}
