//! Group sync over contacts' sessions (`docs/protocol.md` § 15): each side
//! may open one exchange (`kith_sync::GroupSync`) per group with each
//! contact it syncs that group with; a frame says whose exchange it
//! belongs to. An exchange is opened at every session and again whenever
//! the group got a message since the last one opened, so what one member
//! writes spreads member to member. What arrives is checked by the replica
//! (signature, chain, author's membership, caps per author and per
//! relayer, and for a blog the rule on what each author may write) before
//! it is stored or relayed.
//!
//! Blogs (`docs/protocol.md` § 17) need no invitation: a frame from a
//! contact for its own blog opens our copy of it (in memory, then stored
//! once its `CreateBlog` is accepted).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kith_core::Timestamp;
use kith_core::group::{GroupBody, GroupId, GroupKind, GroupMessage};
use kith_core::wire::PeerMessage;
use kith_store::ContactState;
use kith_store::{ContactId, Direction, GroupMessageState, GroupState};
use kith_sync::GroupSync;
use tracing::debug;

use crate::conn::Conn;
use crate::error::{Error, Result};
use crate::model::Event;
use crate::profile::{LockExt, ProfileInner};

/// Exchanges of one session that may fail (a frame that does not decode,
/// or breaks its exchange) before the session is closed.
const MAX_FAILED_EXCHANGES: u32 = 8;
/// Group messages one session may relay that are refused (forged, altered,
/// out of chain, of a non-member, over a cap) before it is closed.
const MAX_REFUSED: usize = 64;
/// Forum messages one session may relay whose author we do not know as a
/// member yet, before it is closed. A forum's members are added by each
/// other, so a joiner learns them a round at a time (an author's posts
/// are refused until the `Add` of it is accepted, and come again at the
/// next round): not a sign of a hostile relayer the way a forged message
/// is. The relayer's caps per minute still bound the work. The same cap
/// bounds the commenters a contact's blog brings that are not our
/// contacts: its owner took their comments, we trust its filter, but not
/// without end.
const MAX_UNKNOWN_AUTHORS: usize = 4096;

/// Shortest time between two exchanges we open for one group in one
/// session: changes that come faster are taken together.
const OPEN_EVERY: Duration = Duration::from_secs(1);
/// Most exchanges a peer may open for one group in a minute (each costs us
/// a pass over the group's ids): an honest peer opens at most one a
/// second ([`OPEN_EVERY`]).
const MAX_OPENS_PER_MINUTE: u32 = 120;

/// What one session knows of its group syncs.
#[derive(Default)]
pub(crate) struct SessionSync {
    /// Open exchanges: (group, whether we opened it).
    exchanges: HashMap<(GroupId, bool), GroupSync>,
    /// The group's version and the time when we last opened an exchange
    /// for it.
    opened_at: HashMap<GroupId, (u64, Instant)>,
    /// Exchanges the peer opened, per group: (window start, count).
    their_opens: HashMap<GroupId, (Instant, u32)>,
    failed: u32,
    refused: usize,
    /// Forum messages refused for an author not (yet) known as a member.
    unknown_authors: usize,
    /// Commenters, not our contacts, of the contact's blog seen in this
    /// session (at most [`MAX_UNKNOWN_AUTHORS`] + 1 kept).
    unknown_commenters: HashSet<[u8; 32]>,
}

/// `group` got a message: every contact we sync it with gets a new
/// exchange (at its session's next flush).
pub(crate) fn changed(p: &Arc<ProfileInner>, group: GroupId) {
    let me = p.identity.public().to_bytes();
    let Some((keys, ours_blog)) = p.groups.with(group, |l| {
        (
            l.members.current.iter().copied().collect::<Vec<_>>(),
            l.kind() == GroupKind::Blog && l.members.creator == me,
        )
    }) else {
        return;
    };
    let p = p.clone();
    tokio::spawn(async move {
        let Ok(contacts) = p.store.call(|s| s.contacts()).await else {
            return;
        };
        // Our blog goes to every contact (`flush` asks `syncs_with`).
        for c in contacts
            .into_iter()
            .filter(|c| ours_blog || keys.contains(&c.address))
        {
            crate::net::outbox_changed(&p, c.id);
        }
    });
}

/// At each flush: open an exchange for every group we sync with this
/// contact that changed since we last opened one (and has none open).
pub(crate) async fn flush(
    p: &Arc<ProfileInner>,
    id: ContactId,
    conn: &mut Conn,
    ss: &mut SessionSync,
) -> Result<()> {
    let (contact, outbox) = p
        .store
        .call(move |s| Ok((s.contact(id)?, super::read_outbox(s)?)))
        .await?;
    let groups: Vec<GroupId> = p.groups.live.locked().keys().copied().collect();
    for g in groups {
        if !super::syncs_with(p, &outbox, g, &contact) {
            // No longer ours to sync with them (our blog turned off, say):
            // exchanges left open would stop the next ones.
            ss.exchanges.remove(&(g, true));
            ss.exchanges.remove(&(g, false));
            continue;
        }
        if ss.exchanges.contains_key(&(g, true)) {
            continue;
        }
        let last = ss.opened_at.get(&g).copied();
        if let Some((_, at)) = last
            && at.elapsed() < OPEN_EVERY
        {
            // Too soon after the last one: come back when it is time.
            let (p, wait) = (p.clone(), OPEN_EVERY - at.elapsed());
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                crate::net::outbox_changed(&p, id);
            });
            continue;
        }
        let salt: [u8; 16] = rand::random();
        let opened = p.groups.with(g, |l| {
            if last.map(|(v, _)| v) == Some(l.version) {
                return None;
            }
            Some((
                GroupSync::initiate(&l.replica, contact.address, salt),
                l.version,
            ))
        });
        let Some(Some((started, version))) = opened else {
            continue;
        };
        let (exchange, frame) = started.map_err(|e| {
            debug!("a group sync could not start: {e}");
            Error::Protocol("group sync")
        })?;
        ss.exchanges.insert((g, true), exchange);
        ss.opened_at.insert(g, (version, Instant::now()));
        conn.send(&PeerMessage::GroupSync {
            opener: true,
            frame,
        })
        .await?;
    }
    Ok(())
}

/// A sync frame from the contact: handled by its exchange (a new one if
/// the contact opens it); the frames to answer, and what it brought stored
/// and spread. Frames for a group we do not sync with this contact are
/// dropped.
pub(crate) async fn receive(
    p: &Arc<ProfileInner>,
    id: ContactId,
    ss: &mut SessionSync,
    opener: bool,
    frame: Vec<u8>,
) -> Result<Vec<PeerMessage>> {
    let Ok(decoded) = kith_sync::frame::decode(&frame) else {
        return fail(ss, "a sync frame that does not decode");
    };
    let group = decoded.group();
    let me = p.identity.public().to_bytes();
    let our_blog = group == GroupId::blog_of(&me);
    let (contact, outbox, contacts) = p
        .store
        .call(move |s| {
            let contact = s.contact(id)?;
            // Who may comment in our blog, or who is not a stranger in a
            // contact's: our accepted contacts (read for blogs only).
            let contacts: HashSet<[u8; 32]> =
                if our_blog || group == GroupId::blog_of(&contact.address) {
                    s.contacts()?
                        .into_iter()
                        .filter(|c| c.state == ContactState::Accepted)
                        .map(|c| c.address)
                        .collect()
                } else {
                    HashSet::new()
                };
            Ok((contact, super::read_outbox(s)?, contacts))
        })
        .await?;
    if group == GroupId::blog_of(&contact.address) && contact.state == ContactState::Accepted {
        // The contact's blog: ours to read without an invitation. One per
        // contact, empty until its owner's `CreateBlog` comes.
        p.groups
            .live
            .locked()
            .entry(group)
            .or_insert_with(|| super::Live::new(group, contact.address, GroupKind::Blog));
    }
    if our_blog {
        p.groups.with(group, |l| {
            let mut writers = contacts.clone();
            writers.insert(me);
            l.blog_writers = Some(writers);
            l.gate();
        });
    }
    if !super::syncs_with(p, &outbox, group, &contact) {
        // Not ours to sync with them (removed, left, never revealed, our
        // blog off): nor the exchanges left open.
        ss.exchanges.remove(&(group, true));
        ss.exchanges.remove(&(group, false));
        return Ok(vec![]);
    }
    // Their exchange if they opened it; else an answer in ours.
    let key = (group, !opener);
    if let std::collections::hash_map::Entry::Vacant(v) = ss.exchanges.entry(key) {
        if !opener {
            // An answer to an exchange we do not have (closed already).
            return Ok(vec![]);
        }
        let w = ss.their_opens.entry(group).or_insert((Instant::now(), 0));
        if w.0.elapsed() > Duration::from_secs(60) {
            *w = (Instant::now(), 0);
        }
        w.1 += 1;
        if w.1 > MAX_OPENS_PER_MINUTE {
            return Err(Error::Protocol("opens group syncs too often"));
        }
        v.insert(GroupSync::respond_to(group, contact.address));
    }
    let now = Timestamp::now();
    let handled = p.groups.with(group, |l| {
        let Some(x) = ss.exchanges.get_mut(&key) else {
            return Err(kith_sync::Error::WrongGroup);
        };
        let out = x.handle(&mut l.replica, &frame, now)?;
        let msgs: Vec<GroupMessage> = out
            .accepted
            .iter()
            .filter_map(|m| l.replica.get(m).cloned())
            .collect();
        l.accepted(&out.accepted);
        Ok((out, msgs, x.is_done(), l.version))
    });
    let Some(handled) = handled else {
        return Ok(vec![]);
    };
    let (out, msgs, done, version) = match handled {
        Ok(h) => h,
        Err(e) => {
            debug!("a group sync failed: {e}");
            ss.exchanges.remove(&key);
            return fail(ss, "group sync frames that break their exchange");
        }
    };
    let kind = p.groups.with(group, |l| l.kind());
    // A forum's members, and a contact's blog's commenters before its
    // `CreateBlog`, are learnt a round at a time.
    let learning = kind == Some(GroupKind::Forum) || (kind == Some(GroupKind::Blog) && !our_blog);
    for e in &out.refused {
        if learning && matches!(e, kith_sync::Error::NotAMember) {
            ss.unknown_authors += 1;
        } else {
            ss.refused += 1;
        }
    }
    if kind == Some(GroupKind::Blog) && !our_blog {
        for m in &msgs {
            let a = m.content().author;
            if a != contact.address && a != me && !contacts.contains(&a) {
                ss.unknown_commenters.insert(a);
            }
            if ss.unknown_commenters.len() > MAX_UNKNOWN_AUTHORS {
                break;
            }
        }
    }
    if ss.unknown_authors > MAX_UNKNOWN_AUTHORS || ss.unknown_commenters.len() > MAX_UNKNOWN_AUTHORS
    {
        return Err(Error::Protocol("relays group messages of non-members"));
    }
    if ss.refused > MAX_REFUSED {
        return Err(Error::Protocol(
            "relays forged, altered or out-of-chain group messages",
        ));
    }
    let ours = key.1;
    let replies = out
        .send
        .into_iter()
        .map(|frame| PeerMessage::GroupSync {
            opener: ours,
            frame,
        })
        .collect();
    if done {
        ss.exchanges.remove(&key);
        if ours && ss.opened_at.get(&group).map(|(v, _)| *v) != Some(version) {
            // Something came meanwhile: another round.
            crate::net::outbox_changed(p, id);
        }
    }
    if !msgs.is_empty() {
        store_received(p, group, msgs).await?;
        changed(p, group);
    }
    Ok(replies)
}

fn fail(ss: &mut SessionSync, what: &'static str) -> Result<Vec<PeerMessage>> {
    ss.failed += 1;
    if ss.failed > MAX_FAILED_EXCHANGES {
        return Err(Error::Protocol(what));
    }
    Ok(vec![])
}

/// Keep messages a sync brought (accepted: their chains are complete), and
/// follow what they say about us: added (we are a member now), removed,
/// or the group dissolved.
pub(crate) async fn store_received(
    p: &Arc<ProfileInner>,
    group: GroupId,
    msgs: Vec<GroupMessage>,
) -> Result<()> {
    let me = p.identity.public().to_bytes();
    let creator = p.groups.with(group, |l| l.members.creator);
    // In a forum any member adds (an `Add` of us is accepted only if its
    // author is a member), nobody removes and the creator's `Leave` does
    // not dissolve it.
    let forum = p.groups.with(group, |l| l.kind()) == Some(GroupKind::Forum);
    let blog = p.groups.with(group, |l| l.kind()) == Some(GroupKind::Blog);
    let changed_state = p
        .store
        .call(move |s| {
            let now = Timestamp::now();
            let mut state = None;
            let mut timed = false;
            let mut kept_blog = false;
            if blog && matches!(s.group(group), Err(kith_store::Error::NotFound { .. })) {
                // A contact's blog, first brought: kept from its owner's
                // `CreateBlog`, which its other messages waited for.
                let Some(create) = msgs
                    .iter()
                    .find(|m| matches!(m.content().body, GroupBody::CreateBlog))
                else {
                    return Err(kith_store::Error::Bug(
                        "a blog's messages before its CreateBlog",
                    ));
                };
                s.receive_blog(create, now)?;
                kept_blog = true;
            }
            for m in &msgs {
                let by_creator = Some(m.content().author) == creator;
                let dir = if m.content().author == me {
                    Direction::Out
                } else {
                    Direction::In
                };
                if let kith_store::GroupInserted::New(stored) =
                    s.insert_group_message(m, dir, GroupMessageState::Accepted, now)?
                {
                    timed |= stored.expires_at.is_some();
                }
                match &m.content().body {
                    GroupBody::Add { member } if (by_creator || forum) && *member == me => {
                        state = Some(GroupState::Member);
                    }
                    GroupBody::Remove { member } if by_creator && !forum && *member == me => {
                        state = Some(GroupState::Removed);
                    }
                    GroupBody::Leave if by_creator && !forum => {
                        state = Some(GroupState::Dissolved);
                    }
                    _ => {}
                }
            }
            if let Some(st) = state {
                let g = s.group(group)?;
                let fits = match st {
                    GroupState::Member => g.state == GroupState::Joining,
                    _ => g.state != st,
                };
                if fits {
                    s.set_group_state(group, st)?;
                    return Ok((true, timed));
                }
            }
            Ok((kept_blog, timed))
        })
        .await?;
    let (changed_state, timed) = changed_state;
    if timed {
        // A deadline, perhaps sooner than the expiry task's next one.
        p.expiry.notify_one();
    }
    if changed_state {
        p.emit(Event::GroupsChanged);
    }
    p.emit(Event::GroupMessages { group });
    Ok(())
}
