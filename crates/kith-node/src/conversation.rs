//! Conversations in depth (issue 9): replies, reactions, edits, deletion for both,
//! clearing history, disappearing timers and the history policy: the
//! user's commands, what a session does with the contact's, and the task
//! that removes messages whose timer ran out.
//!
//! Disappearing messages are enforced by the node while the profile is
//! unlocked, online or not: at each unlock (before anything reads the
//! conversations) and by one task per unlocked profile that sleeps until
//! the store's next deadline (or until a new message may bring one sooner).
//! A locked profile's store is sealed and closed: what runs out meanwhile is
//! removed at the next unlock. Both sides remove a message by its own
//! deadline (the timer counted from when each side stored it), so neither
//! waits for the other.

use std::sync::{Arc, Weak};
use std::time::Duration;

use kith_core::chat::{DisappearSetting, DisappearTimer, Edit, Emoji, Reaction};
use kith_core::limits::MAX_DELETE_IDS;
use kith_core::wire::PeerMessage;
use kith_core::{MessageId, Timestamp};
use kith_store::{ContactId, ConversationSettings, HistoryPolicy, Inserted, Quote};
use tracing::debug;

use crate::contact::ContactRules;
use crate::error::{Error, Result};
use crate::model::{Event, MessageView, Removal};
use crate::profile::{Profile, ProfileInner};

/// A message's text as the user wrote it: not empty, not over the limit.
fn check_text(text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::BadInput("the message is empty".into()));
    }
    if text.len() > kith_core::limits::MAX_BODY {
        return Err(Error::BadInput(format!(
            "the message is too long ({} bytes, at most {})",
            text.len(),
            kith_core::limits::MAX_BODY
        )));
    }
    Ok(())
}

/// Longest sleep of the expiry task: it re-reads the next deadline at least
/// this often (a wall clock that jumped is caught up with).
const EXPIRY_RECHECK: Duration = Duration::from_secs(60);

impl Profile {
    /// Write a message answering `reply_to` (any message of the
    /// conversation, either side's; `None`: a plain message). Stored
    /// (queued) before this returns, delivered when a session is up.
    pub async fn send_reply(
        &self,
        contact: ContactId,
        text: &str,
        reply_to: Option<MessageId>,
    ) -> Result<MessageView> {
        self.check_unlocked()?;
        check_text(text)?;
        let id = MessageId::random(&mut rand::rngs::OsRng);
        let body = text.to_owned();
        let m = self
            .inner
            .store
            .call(move |s| {
                let c = s.contact(contact)?;
                if !c.state.may_send() {
                    return Ok(Err("accept this contact before writing to them"));
                }
                if let Some(r) = reply_to
                    && s.quote(contact, r)? == Quote::Unknown
                {
                    return Ok(Err("no such message to reply to"));
                }
                let m = s.insert_outgoing_chat(contact, id, &body, reply_to, Timestamp::now())?;
                MessageView::read(s, m).map(Ok)
            })
            .await?
            .map_err(|e| Error::BadInput(e.into()))?;
        if m.expires_at.is_some() {
            self.inner.expiry.notify_one();
        }
        crate::net::outbox_changed(&self.inner, contact);
        Ok(m)
    }

    /// React to a message of the conversation (ours or theirs) with
    /// `emoji`, replacing our previous reaction to it; `None` takes it
    /// back. Sent to the contact like a message.
    pub async fn react(
        &self,
        contact: ContactId,
        target: MessageId,
        emoji: Option<&str>,
    ) -> Result<()> {
        self.check_unlocked()?;
        let emoji = match emoji {
            Some(e) => Some(Emoji::new(e).map_err(|_| {
                Error::BadInput("a reaction is one emoji (a few symbols at most)".into())
            })?),
            None => None,
        };
        let id = MessageId::random(&mut rand::rngs::OsRng);
        self.inner
            .store
            .call(
                move |s| match s.react(contact, id, target, emoji.as_ref()) {
                    Err(kith_store::Error::NotFound { .. }) => Ok(false),
                    other => other.map(|_| true),
                },
            )
            .await?
            .then_some(())
            .ok_or_else(|| Error::NotFound("message to react to".into()))?;
        self.emit(Event::ReactionChanged { contact, target });
        crate::net::outbox_changed(&self.inner, contact);
        Ok(())
    }

    /// Edit one of our text messages: its text becomes `text` here at once
    /// (the old text is not kept), and the edit is sent to the contact like
    /// a message ([`MessageView::edited`] says whether it has it yet).
    /// Returns the message as it is now. [`Error::NotFound`] if there is no
    /// such text; [`Error::BadInput`] for the contact's message, a file, or
    /// a text that is empty or too long.
    pub async fn edit_message(
        &self,
        contact: ContactId,
        target: MessageId,
        text: &str,
    ) -> Result<MessageView> {
        self.check_unlocked()?;
        check_text(text)?;
        let id = MessageId::random(&mut rand::rngs::OsRng);
        let body = text.to_owned();
        let m = self
            .inner
            .store
            .call(move |s| {
                match s.edit(contact, id, target, &body, Timestamp::now()) {
                    Ok(_) => {}
                    Err(kith_store::Error::BadInput { what }) => return Ok(Err(what)),
                    Err(e) => return Err(e),
                }
                let m = s
                    .message(contact, target)?
                    .ok_or(kith_store::Error::NotFound { what: "message" })?;
                MessageView::read(s, m).map(Ok)
            })
            .await
            .map_err(|e| match e {
                kith_store::Error::NotFound { what: "message" } => {
                    Error::NotFound("text message of ours to edit".into())
                }
                e => e.into(),
            })?
            .map_err(|what| match what {
                "message to edit (the contact wrote it)" => {
                    Error::BadInput("only its author edits a message".into())
                }
                what => Error::BadInput(what.into()),
            })?;
        self.emit(Event::MessageEdited {
            contact,
            id: target,
        });
        crate::net::outbox_changed(&self.inner, contact);
        Ok(m)
    }

    /// Delete one of our messages for both sides: gone here at once, and
    /// the contact's node is asked to remove it (again at every session
    /// until it confirms: [`Event::DeletedForEveryone`]). `false` if there
    /// was no such message. Only its author deletes a message for both.
    pub async fn delete_for_everyone(&self, contact: ContactId, id: MessageId) -> Result<bool> {
        self.check_unlocked()?;
        let done = self
            .inner
            .store
            .call(move |s| match s.delete_for_everyone(contact, &[id]) {
                Err(kith_store::Error::BadInput { .. }) => Ok(Err(())),
                other => other.map(Ok),
            })
            .await?
            .map_err(|()| {
                Error::BadInput("only its author deletes a message for everyone".into())
            })?;
        if !done.is_empty() {
            crate::net::outbox_changed(&self.inner, contact);
        }
        Ok(!done.is_empty())
    }

    /// Our messages deleted for both that the contact has not yet
    /// confirmed removing (their `Delete` is sent at every session).
    pub async fn unconfirmed_deletes(&self, contact: ContactId) -> Result<Vec<MessageId>> {
        self.check_unlocked()?;
        let out = self.inner.store.call(move |s| s.outbox(contact)).await?;
        Ok(out
            .into_iter()
            .filter_map(|m| match m {
                PeerMessage::Delete { targets } => Some(targets),
                _ => None,
            })
            .flatten()
            .collect())
    }

    /// Delete a conversation's whole history here (the contact stays, and
    /// so do the conversation's settings). Returns how many messages went.
    pub async fn clear_history(&self, contact: ContactId) -> Result<usize> {
        self.check_unlocked()?;
        let n = self
            .inner
            .store
            .call(move |s| s.clear_history(contact))
            .await?;
        self.emit(Event::ConversationChanged(contact));
        Ok(n)
    }

    /// A conversation's settings: its disappearing timer and history policy.
    pub async fn conversation(&self, contact: ContactId) -> Result<ConversationSettings> {
        self.check_unlocked()?;
        Ok(self
            .inner
            .store
            .call(move |s| s.conversation(contact))
            .await?)
    }

    /// Set the conversation's disappearing timer, for both sides: a line in
    /// the conversation (returned), sent to the contact, whose node applies
    /// it too. Applies to messages written from now on.
    pub async fn set_disappear(
        &self,
        contact: ContactId,
        timer: DisappearTimer,
    ) -> Result<MessageView> {
        self.check_unlocked()?;
        let id = MessageId::random(&mut rand::rngs::OsRng);
        let line = self
            .inner
            .store
            .call(move |s| {
                s.set_disappear(contact, id, timer, Timestamp::now())?;
                let m = s
                    .messages(contact)?
                    .into_iter()
                    .rev()
                    .find(|m| m.msg_id == id)
                    .ok_or(kith_store::Error::Bug("a timer line just stored"))?;
                MessageView::read(s, m)
            })
            .await?;
        self.emit(Event::ConversationChanged(contact));
        crate::net::outbox_changed(&self.inner, contact);
        Ok(line)
    }

    /// Keep the conversation's history, or delete it whenever the profile
    /// is locked or the engine stops (and at the next unlock, for a stop
    /// that was missed). Ours only: the contact is not told.
    pub async fn set_history(&self, contact: ContactId, history: HistoryPolicy) -> Result<()> {
        self.check_unlocked()?;
        self.inner
            .store
            .call(move |s| s.set_history(contact, history))
            .await?;
        self.emit(Event::ConversationChanged(contact));
        Ok(())
    }
}

/// Clear the histories kept for the session only (at unlock and lock).
/// A failure is logged: it must not keep the profile from locking.
pub(crate) async fn clear_session_histories(p: &Arc<ProfileInner>) {
    let cleared = p
        .store
        .call(|s| {
            Ok((
                s.clear_session_histories()?,
                s.clear_group_session_histories()?,
            ))
        })
        .await;
    match cleared {
        Ok((contacts, groups)) => {
            for c in contacts {
                p.emit(Event::ConversationChanged(c));
            }
            for group in groups {
                p.emit(Event::GroupMessages { group });
            }
        }
        Err(e) => debug!("clearing session histories failed: {e}"),
    }
}

/// Remove every message whose deadline is at or before `now`, and tell
/// front ends.
pub(crate) async fn expire(p: &Arc<ProfileInner>, now: Timestamp) -> Result<()> {
    let (gone, posts) = p
        .store
        .call(move |s| {
            Ok((
                s.delete_expired(now)?,
                s.delete_expired_group_messages(now)?,
            ))
        })
        .await?;
    let mut by_group = std::collections::BTreeMap::<_, Vec<_>>::new();
    for (g, id) in posts {
        by_group.entry(g).or_default().push(id);
    }
    for (g, ids) in by_group {
        crate::group::forget(p, g, &ids).await?;
    }
    let mut by_contact = std::collections::BTreeMap::<i64, Vec<MessageId>>::new();
    for (c, id) in gone {
        by_contact.entry(c.0).or_default().push(id);
    }
    for (c, ids) in by_contact {
        p.emit(Event::MessagesRemoved {
            contact: ContactId(c),
            ids,
            why: Removal::Expired,
        });
    }
    Ok(())
}

/// The disappearing-messages task of one unlocked profile: ends when the
/// profile is dropped or its store closed (locked).
pub(crate) async fn run_expiry(weak: Weak<ProfileInner>) {
    loop {
        let Some(p) = weak.upgrade() else { return };
        let now = Timestamp::now();
        if let Err(e) = expire(&p, now).await {
            debug!("the expiry task stops: {e}");
            return;
        }
        let next = p
            .store
            .call(|s| {
                let a = s.next_expiry()?;
                let b = s.next_group_expiry()?;
                Ok(a.into_iter().chain(b).min())
            })
            .await;
        let next = match next {
            Ok(next) => next,
            Err(e) => {
                debug!("the expiry task stops: {e}");
                return;
            }
        };
        let wake = Arc::clone(&p.expiry);
        drop(p);
        let wait = match next {
            Some(at) => Duration::from_millis(at.0.saturating_sub(now.0)).min(EXPIRY_RECHECK),
            None => EXPIRY_RECHECK,
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => {}
        }
    }
}

/// A contact's `Chat`: store it (once), show it, acknowledge it.
pub(crate) async fn receive_chat(
    p: &Arc<ProfileInner>,
    id: ContactId,
    chat: kith_core::chat::Chat,
) -> Result<PeerMessage> {
    let now = Timestamp::now();
    let (mid, sent_at) = (chat.id, chat.sent_at.clamp_peer(now));
    store_incoming(p, id, mid, move |s| {
        s.insert_incoming_chat(id, &chat, sent_at, now)
    })
    .await
}

/// Store a contact's message with `insert` (once), show it, and return its
/// acknowledgement: also for a duplicate, as our first ack may have been
/// lost. Only once it is stored durably.
pub(crate) async fn store_incoming(
    p: &Arc<ProfileInner>,
    id: ContactId,
    mid: MessageId,
    insert: impl FnOnce(&mut kith_store::Store) -> kith_store::Result<Inserted> + Send + 'static,
) -> Result<PeerMessage> {
    let view = p
        .store
        .call(move |s| match insert(s)? {
            Inserted::New(m) => MessageView::read(s, m).map(Some),
            Inserted::Duplicate => Ok(None),
        })
        .await?;
    if let Some(m) = view {
        if m.expires_at.is_some() {
            p.expiry.notify_one();
        }
        p.emit(Event::MessageReceived {
            contact: id,
            message: m,
        });
    }
    Ok(PeerMessage::Ack(vec![mid]))
}

/// A contact's reaction: store it, acknowledge it (also when its target is
/// not one we hold).
pub(crate) async fn receive_reaction(
    p: &Arc<ProfileInner>,
    id: ContactId,
    r: Reaction,
) -> Result<PeerMessage> {
    let (rid, target) = (r.id, r.target);
    let stored = p.store.call(move |s| s.receive_reaction(id, &r)).await?;
    if stored {
        p.emit(Event::ReactionChanged {
            contact: id,
            target,
        });
    }
    Ok(PeerMessage::Ack(vec![rid]))
}

/// A contact's edit of one of its messages: apply it if it is in force,
/// acknowledge it either way (also when its target is not one of theirs we
/// hold).
pub(crate) async fn receive_edit(
    p: &Arc<ProfileInner>,
    id: ContactId,
    e: Edit,
) -> Result<PeerMessage> {
    let (eid, target) = (e.id, e.target);
    let applied = p.store.call(move |s| s.receive_edit(id, &e)).await?;
    if applied.is_some() {
        p.emit(Event::MessageEdited {
            contact: id,
            id: target,
        });
    }
    Ok(PeerMessage::Ack(vec![eid]))
}

/// The contact deleted its messages `targets` for both: remove ours of
/// them, confirm all of them.
pub(crate) async fn receive_delete(
    p: &Arc<ProfileInner>,
    id: ContactId,
    targets: Vec<MessageId>,
) -> Result<PeerMessage> {
    if targets.len() > MAX_DELETE_IDS {
        return Err(Error::Protocol("a delete names too many messages"));
    }
    let t = targets.clone();
    let done = p.store.call(move |s| s.receive_delete(id, &t)).await?;
    if !done.is_empty() {
        p.emit(Event::MessagesRemoved {
            contact: id,
            ids: done,
            why: Removal::ByThem,
        });
    }
    Ok(PeerMessage::DeleteAck { targets })
}

/// The contact confirmed it removed `targets`.
pub(crate) async fn receive_delete_ack(
    p: &Arc<ProfileInner>,
    id: ContactId,
    targets: Vec<MessageId>,
) -> Result<()> {
    if targets.len() > MAX_DELETE_IDS {
        return Err(Error::Protocol("a delete ack names too many messages"));
    }
    let done = p
        .store
        .call(move |s| s.receive_delete_ack(id, &targets))
        .await?;
    if !done.is_empty() {
        p.emit(Event::DeletedForEveryone {
            contact: id,
            ids: done,
        });
    }
    Ok(())
}

/// The contact changed the conversation's timer: a line, maybe the timer.
pub(crate) async fn receive_disappear(
    p: &Arc<ProfileInner>,
    id: ContactId,
    setting: DisappearSetting,
) -> Result<PeerMessage> {
    let now = Timestamp::now();
    let line = p
        .store
        .call(move |s| match s.receive_disappear(id, &setting, now)?.0 {
            Inserted::New(m) => MessageView::read(s, m).map(Some),
            Inserted::Duplicate => Ok(None),
        })
        .await?;
    if let Some(m) = line {
        p.emit(Event::MessageReceived {
            contact: id,
            message: m,
        });
        p.emit(Event::ConversationChanged(id));
    }
    Ok(PeerMessage::Ack(vec![setting.id]))
}
