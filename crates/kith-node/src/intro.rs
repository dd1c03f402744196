//! Introductions (`docs/protocol.md` § 8): we put two of our contacts in
//! touch, or a contact puts us in touch with someone.
//!
//! Every step travels in a session between accepted contacts. The
//! introducer sends each side an offer naming the other, without its
//! address; each side answers; only when both accepted does the introducer
//! send each side the other's link, which the side adds as an accepted
//! contact ("introduced by …"). If either declines, the introduction
//! expires ([`DEADLINE`]) or the introducer removes one of them, the other
//! is told only that it did not happen.
//!
//! What a contact can make us do with introductions is bounded: we show at
//! most [`MAX_OFFERS_PER_INTRODUCER`] open offers from one introducer and
//! [`MAX_OFFERS`] in all (more are ignored until room frees), names and
//! notes are limited by the wire and sanitized, and a link is honoured only
//! for an offer our user accepted: an introducer can make us *see* offers,
//! never add anyone.
//!
//! Every pending step is stored (`kith_store::Introduction`) before it is
//! sent, and sent again on each new session until the other end confirms
//! it, so an introduction survives restarts and lost sessions. Each step is
//! idempotent at the receiver.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use kith_core::intro::{IntroductionId, IntroductionLink, IntroductionMessage, Offer};
use kith_core::limits::{MAX_DISPLAY_NAME, MAX_INTRODUCTION_NOTE};
use kith_core::wire::PeerMessage;
use kith_core::{IdentityKey, Timestamp};
use kith_store::{
    Contact, ContactId, ContactOrigin, ContactState, IntroducedSide, Introduction,
    MadeIntroduction, MadeStage, NewContact, OfferedIntroduction, Store,
};
use tracing::{debug, trace};

use crate::conn::Conn;
use crate::error::{Error, Result};
use crate::model::Event;
use crate::profile::{LockExt, Profile, ProfileInner};

/// Open offers (not answered, or accepted and waiting) from one introducer
/// that we keep; more are ignored until one is settled.
pub(crate) const MAX_OFFERS_PER_INTRODUCER: usize = 4;
/// Open offers we keep from all introducers together.
pub(crate) const MAX_OFFERS: usize = 32;
/// Offers that did not happen, kept to be shown; the oldest go first.
pub(crate) const MAX_OFF_SHOWN: usize = 16;
/// Introductions we made that are not settled yet.
pub(crate) const MAX_MADE: usize = 32;
/// An introduction not answered by both sides within this long did not
/// happen (7 days, in ms).
pub(crate) const DEADLINE: u64 = 7 * 24 * 3600 * 1000;
/// Whatever is still stored this long after it began is forgotten: a side
/// that never came back to confirm, an offer whose introducer went silent
/// (14 days, in ms).
pub(crate) const FORGET_AFTER: u64 = 2 * DEADLINE;

/// The live (not stored) part of introductions, per profile.
#[derive(Default)]
pub(crate) struct IntroState {
    /// Identities we are adding from an introduction link right now: their
    /// hello is not a contact request (the introduction adds them).
    expected: Mutex<HashSet<[u8; 32]>>,
}

impl IntroState {
    /// Whether `address` is being added from an introduction link.
    pub(crate) fn is_expected(&self, address: &[u8; 32]) -> bool {
        self.expected.locked().contains(address)
    }
}

/// Steps sent in one session, so that a flush does not send them again.
#[derive(Default)]
pub(crate) struct Sent(HashSet<(IntroductionId, &'static str)>);

/// Something about introductions changed, for front ends.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntroductionEvent {
    /// A contact offers to introduce us to someone: show it, ask the user.
    Offered {
        /// The introduction.
        id: IntroductionId,
        /// The introducer.
        by: ContactId,
    },
    /// An introduction offered to us did not happen (the other side
    /// declined, it expired, or the introducer withdrew it).
    DidNotHappen {
        /// The introduction.
        id: IntroductionId,
        /// The introducer.
        by: ContactId,
    },
    /// An introduction offered to us happened: `contact` is the new contact.
    Introduced {
        /// The introduction.
        id: IntroductionId,
        /// The contact added.
        contact: ContactId,
    },
    /// Something else changed (an answer, a step confirmed): re-read the list.
    Changed,
}

/// An introduction as front ends show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntroductionView {
    /// A contact introduces someone to us.
    Offered {
        /// Its id, for [`Profile::answer_introduction`].
        id: IntroductionId,
        /// The introducer.
        by: ContactId,
        /// The alias we gave the introducer.
        by_alias: String,
        /// The other side's name, as the introducer gave it (peer text,
        /// sanitized; not verified).
        name: String,
        /// The introducer's note (peer text, sanitized).
        note: String,
        /// Where it stands.
        state: OfferState,
        /// When it arrived.
        received_at: Timestamp,
    },
    /// We introduce two of our contacts.
    Made {
        /// Its id.
        id: IntroductionId,
        /// The two contacts and their answers so far.
        sides: [(ContactId, String, Option<bool>); 2],
        /// Our note.
        note: String,
        /// Where it stands.
        stage: MadeStage,
        /// When we made it.
        created_at: Timestamp,
    },
}

impl IntroductionView {
    /// Its id.
    pub fn id(&self) -> IntroductionId {
        match self {
            IntroductionView::Offered { id, .. } | IntroductionView::Made { id, .. } => *id,
        }
    }
}

/// Where an introduction offered to us stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferState {
    /// Waiting for our user's answer.
    Waiting,
    /// We accepted; waiting for the other side.
    Accepted,
    /// We declined.
    Declined,
    /// It did not happen.
    DidNotHappen,
}

impl OfferState {
    fn of(o: &OfferedIntroduction) -> OfferState {
        match (o.off, o.answer) {
            // We declined it ourselves: that is what we remember.
            (_, Some(false)) => OfferState::Declined,
            (true, _) => OfferState::DidNotHappen,
            (false, None) => OfferState::Waiting,
            (false, Some(true)) => OfferState::Accepted,
        }
    }

    /// `"waiting"`, `"accepted"`, `"declined"` or `"did_not_happen"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            OfferState::Waiting => "waiting",
            OfferState::Accepted => "accepted",
            OfferState::Declined => "declined",
            OfferState::DidNotHappen => "did_not_happen",
        }
    }
}

/// An offer still open: counted against the caps.
fn is_open(o: &OfferedIntroduction) -> bool {
    !o.off
}

/// The name an introducer gives a contact: the name it chose itself, else
/// our alias for it.
fn known_name(c: &Contact) -> String {
    let name = c.their_name.clone().unwrap_or_else(|| c.alias.clone());
    truncate(&kith_core::text::sanitize_name(&name), MAX_DISPLAY_NAME)
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// A peer's note as we store and show it: characters that hide or reorder
/// text removed (line breaks kept), trimmed.
fn sanitize_note(note: &str) -> String {
    note.chars()
        .filter(|c| !kith_core::text::is_hidden_in_text(*c))
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Apply the deadlines to `all` at `now`: an introduction we made that
/// both sides have not answered in time did not happen; anything older than
/// [`FORGET_AFTER`] goes; only the newest [`MAX_OFF_SHOWN`] offers that did
/// not happen are kept. Returns whether anything changed and the contacts
/// now owed an "off".
fn sweep(all: &mut Vec<Introduction>, now: Timestamp) -> (bool, Vec<ContactId>) {
    let before = all.clone();
    let mut owed = vec![];
    all.retain(|i| match i {
        Introduction::Made(m) => now.0.saturating_sub(m.created_at.0) < FORGET_AFTER,
        Introduction::Offered(o) => now.0.saturating_sub(o.received_at.0) < FORGET_AFTER,
    });
    for i in all.iter_mut() {
        if let Introduction::Made(m) = i
            && m.stage == MadeStage::Asking
            && now.0.saturating_sub(m.created_at.0) >= DEADLINE
        {
            m.stage = MadeStage::Off;
            owed.extend(m.sides.iter().filter(|s| !s.done).map(|s| s.contact));
        }
    }
    let off: Vec<Timestamp> = all
        .iter()
        .filter_map(|i| match i {
            Introduction::Offered(o) if o.off => Some(o.received_at),
            _ => None,
        })
        .collect();
    if off.len() > MAX_OFF_SHOWN {
        let mut sorted = off;
        sorted.sort();
        let cut = sorted[sorted.len() - MAX_OFF_SHOWN];
        let mut extra = sorted.iter().filter(|t| **t >= cut).count() - MAX_OFF_SHOWN;
        all.retain(|i| match i {
            Introduction::Offered(o) if o.off && o.received_at < cut => false,
            Introduction::Offered(o) if o.off && o.received_at == cut && extra > 0 => {
                extra -= 1;
                false
            }
            _ => true,
        });
    }
    (*all != before, owed)
}

/// Read, sweep, change and write the stored introductions in one turn of
/// the store's thread. `f` returns its result and whether it changed `all`.
fn with_all<T>(
    s: &mut Store,
    now: Timestamp,
    f: impl FnOnce(&mut Store, &mut Vec<Introduction>) -> kith_store::Result<(T, bool)>,
) -> kith_store::Result<(T, Vec<ContactId>)> {
    let mut all = s.introductions()?;
    let (swept, owed) = sweep(&mut all, now);
    let (out, changed) = f(s, &mut all)?;
    if swept || changed {
        s.set_introductions(&all)?;
    }
    Ok((out, owed))
}

fn made_mut<'a>(
    all: &'a mut [Introduction],
    id: &IntroductionId,
) -> Option<&'a mut MadeIntroduction> {
    all.iter_mut().find_map(|i| match i {
        Introduction::Made(m) if m.id == *id => Some(m),
        _ => None,
    })
}

fn offered_mut<'a>(
    all: &'a mut [Introduction],
    by: ContactId,
    id: &IntroductionId,
) -> Option<&'a mut OfferedIntroduction> {
    all.iter_mut().find_map(|i| match i {
        Introduction::Offered(o) if o.by == by && o.id == *id => Some(o),
        _ => None,
    })
}

/// Ask the sessions with `ids` to send what they are owed (or wake their dialers).
fn poke(p: &Arc<ProfileInner>, ids: impl IntoIterator<Item = ContactId>) {
    for id in ids {
        crate::net::outbox_changed(p, id);
    }
}

/// What a session does with an introduction step from the accepted contact
/// `from`; returns what to answer. Steps that do not fit what we stored
/// (an unknown id, a step from someone who is not that introduction's
/// introducer or side, a link for an offer we did not accept) change
/// nothing.
pub(crate) async fn on_message(
    p: &Arc<ProfileInner>,
    from: ContactId,
    m: IntroductionMessage,
) -> Result<Option<PeerMessage>> {
    trace!(step = m.step(), "introduction step");
    let sender = p.store.call(move |s| s.contact(from)).await?;
    if sender.state != ContactState::Accepted {
        // Only accepted contacts introduce or are introduced.
        return Ok(None);
    }
    let reply = match m {
        IntroductionMessage::Offer(o) => on_offer(p, from, o).await?,
        IntroductionMessage::Accept { id } => on_answer(p, from, id, true).await?,
        IntroductionMessage::Decline { id } => on_answer(p, from, id, false).await?,
        IntroductionMessage::Link(l) => on_link(p, &sender, l).await?,
        IntroductionMessage::Off { id } => on_off(p, from, id).await?,
        IntroductionMessage::Done { id } => on_done(p, from, id).await?,
    };
    Ok(reply.map(PeerMessage::Introduction))
}

async fn on_offer(
    p: &Arc<ProfileInner>,
    by: ContactId,
    o: Offer,
) -> Result<Option<IntroductionMessage>> {
    let name = kith_core::text::sanitize_name(&o.name);
    let name = if name.is_empty() {
        "someone".to_owned()
    } else {
        name
    };
    let note = sanitize_note(&o.note);
    let id = o.id;
    let now = Timestamp::now();
    let (outcome, owed) = p
        .store
        .call(move |s| {
            with_all(s, now, |_, all| {
                if let Some(known) = offered_mut(all, by, &id) {
                    // A repeat (our answer may have been lost): answer again.
                    let again = match (known.off, known.answer) {
                        (false, Some(true)) => Some(IntroductionMessage::Accept { id }),
                        (false, Some(false)) => Some(IntroductionMessage::Decline { id }),
                        _ => None,
                    };
                    return Ok(((again, false), false));
                }
                let offered: Vec<&OfferedIntroduction> = all
                    .iter()
                    .filter_map(|i| match i {
                        Introduction::Offered(o) => Some(o),
                        Introduction::Made(_) => None,
                    })
                    .collect();
                let from_them = offered.iter().filter(|o| is_open(o) && o.by == by).count();
                let total = offered.iter().filter(|o| is_open(o)).count();
                if from_them >= MAX_OFFERS_PER_INTRODUCER
                    || total >= MAX_OFFERS
                    || all.len() >= kith_store::MAX_STORED_INTRODUCTIONS
                {
                    return Ok(((None, false), false));
                }
                all.push(Introduction::Offered(OfferedIntroduction {
                    id,
                    by,
                    name,
                    note,
                    answer: None,
                    off: false,
                    received_at: now,
                }));
                Ok(((None, true), true))
            })
        })
        .await?;
    poke(p, owed);
    let (reply, new) = outcome;
    if new {
        p.emit(Event::Introduction(IntroductionEvent::Offered { id, by }));
    } else if reply.is_none() {
        trace!("introduction offer ignored (a repeat, or over the caps)");
    }
    Ok(reply)
}

/// What the introducer owes side `i` of `m` now.
fn owed_to(m: &MadeIntroduction, i: usize) -> Option<&'static str> {
    let side = &m.sides[i];
    match m.stage {
        _ if side.done => None,
        MadeStage::Asking if side.answer.is_none() => Some("offer"),
        MadeStage::Asking => None,
        MadeStage::Linking => Some("link"),
        MadeStage::Off => Some("off"),
    }
}

async fn on_answer(
    p: &Arc<ProfileInner>,
    from: ContactId,
    id: IntroductionId,
    accept: bool,
) -> Result<Option<IntroductionMessage>> {
    let now = Timestamp::now();
    let (found, owed) = p
        .store
        .call(move |s| {
            with_all(s, now, |_, all| {
                let Some(m) = made_mut(all, &id) else {
                    return Ok((None, false));
                };
                let Some(i) = m.sides.iter().position(|s| s.contact == from) else {
                    return Ok((None, false));
                };
                let mut changed = false;
                if m.stage == MadeStage::Asking && m.sides[i].answer.is_none() {
                    m.sides[i].answer = Some(accept);
                    changed = true;
                    if !accept {
                        m.stage = MadeStage::Off;
                    } else if m.sides.iter().all(|s| s.answer == Some(true)) {
                        m.stage = MadeStage::Linking;
                    }
                }
                let other = m.sides[1 - i].contact;
                Ok((Some((other, changed)), changed))
            })
        })
        .await?;
    poke(p, owed);
    let Some((other, changed)) = found else {
        trace!("introduction answer for nothing we made: ignored");
        return Ok(None);
    };
    if changed {
        p.emit(Event::Introduction(IntroductionEvent::Changed));
    }
    // Both sides may be owed something now (a link, or "off"): their
    // sessions' flushes send it, this one's included.
    poke(p, [from, other]);
    Ok(None)
}

async fn on_link(
    p: &Arc<ProfileInner>,
    introducer: &Contact,
    l: IntroductionLink,
) -> Result<Option<IntroductionMessage>> {
    let by = introducer.id;
    let by_key = introducer.address;
    let id = l.id;
    let done = Some(IntroductionMessage::Done { id });
    let Ok(key) = IdentityKey::from_bytes(&l.address) else {
        debug!("introduction link with an invalid key: ignored");
        return Ok(None);
    };
    let address = key.to_bytes();
    if address == p.identity.public().to_bytes() || address == by_key {
        debug!("introduction link to ourselves or to the introducer: ignored");
        return Ok(None);
    }
    // Is this an offer our user accepted?
    let now = Timestamp::now();
    let accepted = p
        .store
        .call(move |s| {
            Ok(s.introductions()?.iter().any(|i| {
                matches!(i, Introduction::Offered(o)
                    if o.by == by && o.id == id && o.answer == Some(true) && !o.off)
            }))
        })
        .await?;
    if !accepted {
        let known = p
            .store
            .call(move |s| {
                Ok(s.introductions()?
                    .iter()
                    .any(|i| matches!(i, Introduction::Offered(o) if o.by == by && o.id == id)))
            })
            .await?;
        // Not accepted (yet): nothing is added. Already settled (or never
        // ours): confirm, so that an honest introducer stops resending.
        return Ok(if known { None } else { done });
    }
    p.intro.expected.locked().insert(address);
    let name = kith_core::text::sanitize_name(&l.name);
    let tcp_hint = l.tcp_hint.map(|h| h.to_string());
    let added = p
        .store
        .call(move |s| {
            let c = add_introduced(s, address, by_key, &name, tcp_hint, now)?;
            with_all(s, now, |_, all| {
                let before = all.len();
                all.retain(|i| !matches!(i, Introduction::Offered(o) if o.by == by && o.id == id));
                Ok(((), all.len() != before))
            })?;
            Ok(c)
        })
        .await;
    p.intro.expected.locked().remove(&address);
    let added = added?;
    if let Some((contact, state)) = added {
        p.emit(Event::ContactsChanged);
        p.emit(Event::Introduction(IntroductionEvent::Introduced {
            id,
            contact,
        }));
        crate::net::contact_changed(p, contact, Some(state)).await;
    }
    Ok(done)
}

/// Add (or accept) the contact an introduction link names. A contact we
/// already have keeps its state and provenance, except a pending or
/// declined request, which our user has now accepted through the
/// introduction; a blocked one stays blocked. Returns the contact and its
/// state when it changed.
fn add_introduced(
    s: &mut Store,
    address: [u8; 32],
    by: [u8; 32],
    name: &str,
    tcp_hint: Option<String>,
    now: Timestamp,
) -> kith_store::Result<Option<(ContactId, ContactState)>> {
    let their_name = (!name.is_empty()).then(|| name.to_owned());
    if let Some(existing) = s.contact_by_address(&address)? {
        let id = existing.id;
        let changed = s
            .update_contact_with(id, |c| {
                let to = match c.state {
                    ContactState::IncomingRequest | ContactState::Declined => {
                        c.origin = ContactOrigin::Introduced { by };
                        ContactState::Accepted
                    }
                    ContactState::Outgoing => ContactState::Accepted,
                    ContactState::Accepted | ContactState::Blocked => return Ok(None),
                };
                c.state = to;
                if c.tcp_hint.is_none() {
                    c.tcp_hint.clone_from(&tcp_hint);
                }
                Ok::<_, std::convert::Infallible>(Some(to))
            })?
            .unwrap_or_else(|never| match never {});
        return Ok(changed.map(|to| (id, to)));
    }
    let base: String = if name.trim().is_empty() {
        "introduced".to_owned()
    } else {
        name.chars().take(32).collect::<String>().trim().to_owned()
    };
    let mut alias = base.clone();
    let mut n = 2;
    while s.contact_by_alias(&alias)?.is_some() {
        alias = format!("{base}-{n}");
        n += 1;
    }
    let id = s.add_contact(&NewContact {
        address,
        alias,
        state: ContactState::Accepted,
        origin: ContactOrigin::Introduced { by },
        verified: false,
        tcp_hint,
        their_name,
        added_at: now,
    })?;
    Ok(Some((id, ContactState::Accepted)))
}

async fn on_off(
    p: &Arc<ProfileInner>,
    by: ContactId,
    id: IntroductionId,
) -> Result<Option<IntroductionMessage>> {
    let now = Timestamp::now();
    let (was_open, owed) = p
        .store
        .call(move |s| {
            with_all(s, now, |_, all| {
                let Some(o) = offered_mut(all, by, &id) else {
                    return Ok((false, false));
                };
                let was_open = !o.off;
                o.off = true;
                Ok((was_open, was_open))
            })
        })
        .await?;
    poke(p, owed);
    if was_open {
        p.emit(Event::Introduction(IntroductionEvent::DidNotHappen {
            id,
            by,
        }));
    }
    // Confirm even an unknown id: an honest introducer stops resending.
    Ok(Some(IntroductionMessage::Done { id }))
}

async fn on_done(
    p: &Arc<ProfileInner>,
    from: ContactId,
    id: IntroductionId,
) -> Result<Option<IntroductionMessage>> {
    let now = Timestamp::now();
    let (changed, owed) = p
        .store
        .call(move |s| {
            with_all(s, now, |_, all| {
                let Some(m) = made_mut(all, &id) else {
                    return Ok((false, false));
                };
                if m.stage == MadeStage::Asking {
                    return Ok((false, false));
                }
                let Some(side) = m.sides.iter_mut().find(|s| s.contact == from) else {
                    return Ok((false, false));
                };
                if side.done {
                    return Ok((false, false));
                }
                side.done = true;
                if m.sides.iter().all(|s| s.done) {
                    all.retain(|i| !matches!(i, Introduction::Made(m) if m.id == id));
                }
                Ok((true, true))
            })
        })
        .await?;
    poke(p, owed);
    if changed {
        p.emit(Event::Introduction(IntroductionEvent::Changed));
    }
    Ok(None)
}

/// Send `to` every introduction step it is owed and this session has not
/// sent yet. Called by each flush of a session with an accepted contact
/// (the first one when the session comes up).
pub(crate) async fn flush(
    p: &Arc<ProfileInner>,
    to: ContactId,
    conn: &mut Conn,
    sent: &mut Sent,
) -> Result<()> {
    let now = Timestamp::now();
    let (steps, owed) = p
        .store
        .call(move |s| {
            let c = s.contact(to)?;
            if c.state != ContactState::Accepted {
                return Ok((vec![], false));
            }
            let (all, owed) = with_all(s, now, |_, all| Ok((all.clone(), false)))?;
            let mut steps = vec![];
            for i in &all {
                match i {
                    Introduction::Made(m) => {
                        let Some(k) = m.sides.iter().position(|s| s.contact == to) else {
                            continue;
                        };
                        let Some(step) = owed_to(m, k) else { continue };
                        let other = s.contact(m.sides[1 - k].contact);
                        let msg = match (step, other) {
                            ("offer", Ok(o)) => IntroductionMessage::Offer(Offer {
                                id: m.id,
                                name: known_name(&o),
                                note: truncate(&m.note, MAX_INTRODUCTION_NOTE),
                            }),
                            ("link", Ok(o)) => IntroductionMessage::Link(IntroductionLink {
                                id: m.id,
                                address: o.address,
                                name: known_name(&o),
                                tcp_hint: o.tcp_hint.as_deref().and_then(|h| h.parse().ok()),
                            }),
                            // The other side is gone: the removal turned it off.
                            (_, Err(_)) | ("off", _) => IntroductionMessage::Off { id: m.id },
                            _ => continue,
                        };
                        steps.push(msg);
                    }
                    Introduction::Offered(o) if o.by == to && !o.off => match o.answer {
                        Some(true) => steps.push(IntroductionMessage::Accept { id: o.id }),
                        Some(false) => steps.push(IntroductionMessage::Decline { id: o.id }),
                        None => {}
                    },
                    Introduction::Offered(_) => {}
                }
            }
            Ok((steps, !owed.is_empty()))
        })
        .await?;
    if owed {
        p.emit(Event::Introduction(IntroductionEvent::Changed));
    }
    for m in steps {
        if sent.0.insert((m.id(), m.step())) {
            conn.send(&PeerMessage::Introduction(m)).await?;
        }
    }
    Ok(())
}

/// A contact was removed: introductions it was a side of and that are
/// still open do not happen (the other side is told), and offers it made
/// to us are forgotten.
pub(crate) async fn contact_removed(p: &Arc<ProfileInner>, id: ContactId) -> Result<()> {
    let now = Timestamp::now();
    let (others, owed) = p
        .store
        .call(move |s| {
            with_all(s, now, |_, all| {
                let before = all.clone();
                let mut others = vec![];
                all.retain(|i| !matches!(i, Introduction::Offered(o) if o.by == id));
                for i in all.iter_mut() {
                    if let Introduction::Made(m) = i
                        && let Some(k) = m.sides.iter().position(|s| s.contact == id)
                    {
                        m.sides[k].done = true;
                        if m.stage == MadeStage::Asking {
                            m.stage = MadeStage::Off;
                        }
                        others.push(m.sides[1 - k].contact);
                    }
                }
                all.retain(
                    |i| !matches!(i, Introduction::Made(m) if m.sides.iter().all(|s| s.done)),
                );
                let changed = *all != before;
                Ok((others, changed))
            })
        })
        .await?;
    poke(p, owed.into_iter().chain(others));
    p.emit(Event::Introduction(IntroductionEvent::Changed));
    Ok(())
}

impl Profile {
    /// Introduce two accepted contacts to each other, with an optional note
    /// (at most [`MAX_INTRODUCTION_NOTE`] bytes). Each is asked; when both
    /// accept, each gets the other's link and they become contacts
    /// ("introduced by" us). Neither learns the other's address before.
    pub async fn introduce(
        &self,
        a: ContactId,
        b: ContactId,
        note: &str,
    ) -> Result<IntroductionId> {
        self.check_unlocked()?;
        if a == b {
            return Err(Error::BadInput("introduce two different contacts".into()));
        }
        let note = note.trim().to_owned();
        if note.len() > MAX_INTRODUCTION_NOTE {
            return Err(Error::BadInput(format!(
                "the note is too long ({} bytes, at most {MAX_INTRODUCTION_NOTE})",
                note.len()
            )));
        }
        if note
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(Error::BadInput("the note has control characters".into()));
        }
        let id = IntroductionId::random(&mut rand::rngs::OsRng);
        let now = Timestamp::now();
        let p = &self.inner;
        let (made, owed) = p
            .store
            .call(move |s| {
                let (ca, cb) = (s.contact(a)?, s.contact(b)?);
                with_all(s, now, |_, all| {
                    if ca.state != ContactState::Accepted || cb.state != ContactState::Accepted {
                        return Ok((Err("both must be accepted contacts"), false));
                    }
                    let open: Vec<&MadeIntroduction> = all
                        .iter()
                        .filter_map(|i| match i {
                            Introduction::Made(m) if m.stage != MadeStage::Off => Some(m),
                            _ => None,
                        })
                        .collect();
                    if open.len() >= MAX_MADE || all.len() >= kith_store::MAX_STORED_INTRODUCTIONS {
                        return Ok((Err("too many introductions under way"), false));
                    }
                    let pair = |m: &&MadeIntroduction| {
                        let ids = [m.sides[0].contact, m.sides[1].contact];
                        ids.contains(&a) && ids.contains(&b) && m.stage == MadeStage::Asking
                    };
                    if open.iter().any(pair) {
                        return Ok((Err("they are already being introduced"), false));
                    }
                    let side = |contact| IntroducedSide {
                        contact,
                        answer: None,
                        done: false,
                    };
                    all.push(Introduction::Made(MadeIntroduction {
                        id,
                        sides: [side(a), side(b)],
                        note,
                        stage: MadeStage::Asking,
                        created_at: now,
                    }));
                    Ok((Ok(()), true))
                })
            })
            .await?;
        poke(p, owed);
        made.map_err(|e| Error::BadInput(e.into()))?;
        p.emit(Event::Introduction(IntroductionEvent::Changed));
        poke(p, [a, b]);
        Ok(id)
    }

    /// Every pending introduction: offered to us (with its state) and made
    /// by us. Applies the deadlines first.
    pub async fn introductions(&self) -> Result<Vec<IntroductionView>> {
        self.check_unlocked()?;
        let now = Timestamp::now();
        let (views, owed) = self
            .inner
            .store
            .call(move |s| {
                with_all(s, now, |s, all| {
                    let alias = |id: ContactId| {
                        s.contact(id)
                            .map(|c| c.alias)
                            .unwrap_or_else(|_| "(removed)".into())
                    };
                    let views = all
                        .iter()
                        .map(|i| match i {
                            Introduction::Offered(o) => IntroductionView::Offered {
                                id: o.id,
                                by: o.by,
                                by_alias: alias(o.by),
                                name: o.name.clone(),
                                note: o.note.clone(),
                                state: OfferState::of(o),
                                received_at: o.received_at,
                            },
                            Introduction::Made(m) => IntroductionView::Made {
                                id: m.id,
                                sides: m.sides.map(|s| (s.contact, alias(s.contact), s.answer)),
                                note: m.note.clone(),
                                stage: m.stage,
                                created_at: m.created_at,
                            },
                        })
                        .collect();
                    Ok((views, false))
                })
            })
            .await?;
        poke(&self.inner, owed);
        Ok(views)
    }

    /// Answer an introduction offered to us. Accepting lets the introducer
    /// send us the other's link once they accept too; declining tells the
    /// introducer, and the other side learns only that it did not happen.
    /// Answering an offer that did not happen only forgets it.
    pub async fn answer_introduction(&self, id: IntroductionId, accept: bool) -> Result<()> {
        self.check_unlocked()?;
        let now = Timestamp::now();
        let p = &self.inner;
        let (found, owed) = p
            .store
            .call(move |s| {
                with_all(s, now, |_, all| {
                    let matching: Vec<usize> = all
                        .iter()
                        .enumerate()
                        .filter_map(|(k, i)| match i {
                            Introduction::Offered(o) if o.id == id => Some(k),
                            _ => None,
                        })
                        .collect();
                    let [k] = matching[..] else {
                        return Ok((Err(matching.len()), false));
                    };
                    let Introduction::Offered(o) = &mut all[k] else {
                        return Ok((Err(0), false));
                    };
                    let by = o.by;
                    if o.off {
                        all.remove(k);
                        return Ok((Ok(None), true));
                    }
                    if o.answer.is_some() && o.answer != Some(accept) {
                        return Ok((Err(usize::MAX), false));
                    }
                    o.answer = Some(accept);
                    Ok((Ok(Some(by)), true))
                })
            })
            .await?;
        poke(p, owed);
        let by = match found {
            Ok(by) => by,
            Err(0) => return Err(Error::NotFound(format!("introduction {}", id.to_hex()))),
            Err(usize::MAX) => {
                return Err(Error::BadInput(
                    "this introduction was already answered otherwise".into(),
                ));
            }
            Err(_) => {
                return Err(Error::BadInput(
                    "two introducers used this id: remove the one you do not trust".into(),
                ));
            }
        };
        p.emit(Event::Introduction(IntroductionEvent::Changed));
        poke(p, by);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::{KdfChoice, Kith, KithConfig, Network};

    fn kith(dir: &std::path::Path) -> Kith {
        Kith::new(KithConfig {
            data_dir: dir.to_path_buf(),
            kdf: KdfChoice::DangerouslyFastForTestingOnly,
        })
    }

    fn tcp() -> Network {
        Network::Tcp {
            listen: "127.0.0.1:0".parse().expect("addr"),
        }
    }

    async fn until<F, Fut>(what: &str, mut f: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..300 {
            if f().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out: {what}");
    }

    async fn profile(k: &Kith, name: &str) -> Profile {
        let p = k
            .create_profile(name, name, crate::Password::new("pw".into()))
            .await
            .expect("profile");
        p.go_online(tcp()).await.expect("online");
        p
    }

    /// `x` and `y` add each other; returns each one's id at the other.
    async fn befriend(
        x: &Profile,
        y: &Profile,
        y_alias: &str,
        x_alias: &str,
    ) -> (ContactId, ContactId) {
        let yx = x.add_contact(&y.link(), y_alias).await.expect("add");
        let xy = y.add_contact(&x.link(), x_alias).await.expect("add");
        until("accepted both ways", || async {
            x.contact(yx.id).await.expect("c").state == ContactState::Accepted
                && y.contact(xy.id).await.expect("c").state == ContactState::Accepted
                && x.contact(yx.id).await.expect("c").online
        })
        .await;
        (yx.id, xy.id)
    }

    async fn offer_at(p: &Profile) -> IntroductionView {
        for _ in 0..300 {
            let found = p
                .introductions()
                .await
                .expect("list")
                .into_iter()
                .find(|v| matches!(v, IntroductionView::Offered { .. }));
            if let Some(v) = found {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out: an offer");
    }

    async fn three(k: &Kith) -> (Profile, Profile, Profile, [ContactId; 4]) {
        let carol = profile(k, "carol").await;
        let ana = profile(k, "ana").await;
        let bo = profile(k, "bo").await;
        let (ana_at_carol, carol_at_ana) = befriend(&carol, &ana, "ana", "carol").await;
        let (bo_at_carol, carol_at_bo) = befriend(&carol, &bo, "bo", "carol").await;
        (
            carol,
            ana,
            bo,
            [ana_at_carol, carol_at_ana, bo_at_carol, carol_at_bo],
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_accept_and_become_contacts_introduced_by_the_introducer() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let (carol, ana, bo, [ana_c, carol_a, bo_c, carol_b]) = three(&k).await;
        let id = carol
            .introduce(ana_c, bo_c, "you both climb")
            .await
            .expect("introduce");
        let offer = offer_at(&ana).await;
        let IntroductionView::Offered {
            name,
            note,
            by,
            state,
            ..
        } = &offer
        else {
            unreachable!()
        };
        assert_eq!((name.as_str(), note.as_str()), ("bo", "you both climb"));
        assert_eq!((*by, *state), (carol_a, OfferState::Waiting));
        assert_eq!(offer.id(), id);
        // Ana accepts first: nothing is learned yet.
        ana.answer_introduction(id, true).await.expect("accept");
        until("carol sees ana's answer", || async {
            carol.introductions().await.expect("l").iter().any(
                |v| matches!(v, IntroductionView::Made { sides, .. } if sides[0].2 == Some(true)),
            )
        })
        .await;
        assert_eq!(ana.contacts().await.expect("c").len(), 1);
        assert!(
            matches!(offer_at(&bo).await, IntroductionView::Offered { by, .. } if by == carol_b)
        );
        bo.answer_introduction(id, true).await.expect("accept");
        until("both have each other", || async {
            ana.contacts().await.expect("c").len() == 2
                && bo.contacts().await.expect("c").len() == 2
        })
        .await;
        let bo_at_ana = ana
            .contacts()
            .await
            .expect("c")
            .into_iter()
            .find(|c| c.address == bo.address())
            .expect("bo");
        assert_eq!(bo_at_ana.state, ContactState::Accepted);
        assert_eq!(
            bo_at_ana.origin,
            ContactOrigin::Introduced {
                by: carol.address().to_bytes()
            }
        );
        assert_eq!(
            bo_at_ana
                .introducer
                .as_ref()
                .and_then(|i| i.alias.as_deref()),
            Some("carol")
        );
        ana.send(bo_at_ana.id, "hi bo").await.expect("send");
        until("bo reads ana", || async {
            let Some(a) = bo
                .contacts()
                .await
                .expect("c")
                .into_iter()
                .find(|c| c.address == ana.address())
            else {
                return false;
            };
            bo.messages(a.id)
                .await
                .expect("m")
                .iter()
                .any(|m| m.body == "hi bo")
        })
        .await;
        // Everything settles: no introduction left anywhere.
        until("settled", || async {
            carol.introductions().await.expect("l").is_empty()
                && ana.introductions().await.expect("l").is_empty()
                && bo.introductions().await.expect("l").is_empty()
        })
        .await;
        k.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_declines_and_the_other_learns_only_that_it_did_not_happen() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let (carol, ana, bo, [ana_c, _, bo_c, _]) = three(&k).await;
        let id = carol.introduce(ana_c, bo_c, "").await.expect("introduce");
        offer_at(&ana).await;
        offer_at(&bo).await;
        ana.answer_introduction(id, true).await.expect("accept");
        bo.answer_introduction(id, false).await.expect("decline");
        until("ana is told", || async {
            ana.introductions().await.expect("l").iter().any(|v| {
                matches!(
                    v,
                    IntroductionView::Offered {
                        state: OfferState::DidNotHappen,
                        ..
                    }
                )
            })
        })
        .await;
        until("carol settles", || async {
            carol.introductions().await.expect("l").is_empty()
        })
        .await;
        assert!(
            ana.contacts()
                .await
                .expect("c")
                .iter()
                .all(|c| c.address != bo.address())
        );
        assert!(
            bo.contacts()
                .await
                .expect("c")
                .iter()
                .all(|c| c.address != ana.address())
        );
        // Bo remembers declining (carol settled, so bo confirmed her "off");
        // ana's is only shown, and answering it forgets it.
        until("bo settles", || async {
            bo.introductions().await.expect("l").iter().all(|v| {
                matches!(
                    v,
                    IntroductionView::Offered {
                        state: OfferState::Declined,
                        ..
                    }
                )
            })
        })
        .await;
        ana.answer_introduction(id, true).await.expect("dismiss");
        assert!(ana.introductions().await.expect("l").is_empty());
        k.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn removing_a_side_calls_it_off_and_a_hostile_introducer_adds_no_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let (carol, ana, bo, [ana_c, carol_a, bo_c, _]) = three(&k).await;
        let id = carol.introduce(ana_c, bo_c, "").await.expect("introduce");
        assert!(carol.introduce(ana_c, bo_c, "").await.is_err(), "twice");
        assert!(carol.introduce(ana_c, ana_c, "").await.is_err(), "self");
        assert!(
            carol
                .introduce(ana_c, bo_c, &"x".repeat(MAX_INTRODUCTION_NOTE + 1))
                .await
                .is_err(),
            "long note"
        );
        offer_at(&ana).await;
        carol.remove_contact(bo_c).await.expect("remove");
        until("ana is told", || async {
            ana.introductions().await.expect("l").iter().any(|v| {
                matches!(
                    v,
                    IntroductionView::Offered {
                        state: OfferState::DidNotHappen,
                        ..
                    }
                )
            })
        })
        .await;
        // Carol as a hostile introducer, spoken for by hand: a link for an
        // offer ana did not accept, and one for an unknown id, add no one.
        let p = &ana.inner;
        let link = |n: u8| {
            IntroductionMessage::Link(IntroductionLink {
                id: IntroductionId([n; 16]),
                address: bo.address().to_bytes(),
                name: "bo".into(),
                tcp_hint: None,
            })
        };
        on_message(
            p,
            carol_a,
            IntroductionMessage::Offer(Offer {
                id: IntroductionId([1; 16]),
                name: "x".into(),
                note: String::new(),
            }),
        )
        .await
        .expect("offer");
        assert_eq!(on_message(p, carol_a, link(1)).await.expect("link"), None);
        assert!(
            on_message(p, carol_a, link(2))
                .await
                .expect("link")
                .is_some()
        );
        assert!(
            ana.contacts()
                .await
                .expect("c")
                .iter()
                .all(|c| c.address != bo.address())
        );
        // Offers over the per-introducer cap are not kept.
        for n in 10..30 {
            let o = IntroductionMessage::Offer(Offer {
                id: IntroductionId([n; 16]),
                name: "x".into(),
                note: String::new(),
            });
            on_message(p, carol_a, o).await.expect("offer");
        }
        let open = ana
            .introductions()
            .await
            .expect("l")
            .into_iter()
            .filter(|v| {
                matches!(
                    v,
                    IntroductionView::Offered {
                        state: OfferState::Waiting,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(open, MAX_OFFERS_PER_INTRODUCER);
        // A step from someone who is not a side (bo is not ana's contact at
        // all; ana is no side of this id) changes nothing.
        assert_eq!(
            on_message(&carol.inner, ana_c, IntroductionMessage::Done { id })
                .await
                .expect("d"),
            None
        );
        k.shutdown().await;
    }

    fn made(n: u8, created: u64, stage: MadeStage) -> Introduction {
        let side = |c| IntroducedSide {
            contact: ContactId(c),
            answer: None,
            done: false,
        };
        Introduction::Made(MadeIntroduction {
            id: IntroductionId([n; 16]),
            sides: [side(1), side(2)],
            note: String::new(),
            stage,
            created_at: Timestamp(created),
        })
    }

    fn offered(n: u8, received: u64, off: bool) -> Introduction {
        Introduction::Offered(OfferedIntroduction {
            id: IntroductionId([n; 16]),
            by: ContactId(9),
            name: "Bo".into(),
            note: String::new(),
            answer: None,
            off,
            received_at: Timestamp(received),
        })
    }

    #[test]
    fn deadlines_turn_off_and_forget() {
        let now = Timestamp(FORGET_AFTER * 3);
        let fresh = now.0 - 1000;
        let mut all = vec![
            made(1, fresh, MadeStage::Asking),
            made(2, now.0 - DEADLINE, MadeStage::Asking),
            made(3, now.0 - FORGET_AFTER, MadeStage::Linking),
            offered(4, now.0 - FORGET_AFTER, false),
            offered(5, fresh, false),
        ];
        let (changed, owed) = sweep(&mut all, now);
        assert!(changed);
        assert_eq!(owed, vec![ContactId(1), ContactId(2)]);
        assert_eq!(all.len(), 3);
        assert!(matches!(&all[1], Introduction::Made(m) if m.stage == MadeStage::Off));
        assert!(matches!(&all[0], Introduction::Made(m) if m.stage == MadeStage::Asking));
        // Nothing more to do a second time.
        assert_eq!(sweep(&mut all, now), (false, vec![]));
    }

    #[test]
    fn only_the_newest_offers_that_did_not_happen_are_kept() {
        let now = Timestamp(FORGET_AFTER);
        let mut all: Vec<_> = (0..40_u8)
            .map(|n| offered(n, now.0 - 100 + u64::from(n % 20), true))
            .collect();
        all.push(offered(99, 1 + now.0 - FORGET_AFTER, false));
        sweep(&mut all, now);
        assert_eq!(all.len(), MAX_OFF_SHOWN + 1);
        assert!(
            all.iter()
                .any(|i| matches!(i, Introduction::Offered(o) if !o.off))
        );
    }

    #[test]
    fn what_each_side_is_owed() {
        let Introduction::Made(mut m) = made(1, 0, MadeStage::Asking) else {
            unreachable!()
        };
        assert_eq!(owed_to(&m, 0), Some("offer"));
        m.sides[0].answer = Some(true);
        assert_eq!(owed_to(&m, 0), None);
        m.stage = MadeStage::Linking;
        assert_eq!(owed_to(&m, 0), Some("link"));
        m.sides[0].done = true;
        assert_eq!(owed_to(&m, 0), None);
        m.stage = MadeStage::Off;
        assert_eq!(owed_to(&m, 1), Some("off"));
    }

    #[test]
    fn notes_and_names_are_cleaned() {
        assert_eq!(sanitize_note(" a\u{202E}b\nc\u{200B} "), "ab\nc");
        assert_eq!(truncate("éé", 3), "é");
    }
}
