//! Forums (issue 11 § 1, `docs/protocol.md` § 16): the user's commands.
//!
//! A forum is a group whose first message is a `CreateForum`: the same
//! signed messages, replica, store tables, invitations and sync exchanges
//! as a private group (`super`), under another policy, chosen in `super`
//! by [`GroupKind`]: any member invites its contacts and adds them; nobody
//! removes; the creator's leaving does not end it; a member syncs it with
//! every member who is its contact. These are thin entry points over
//! `super`'s kind-aware code, plus moderation: authors a member hides for
//! itself (a sealed setting, never sent) and the creator's signed hidden
//! list (`Hidden`), both shown on the posts as [`HiddenBy`].

use std::collections::BTreeSet;

use kith_core::group::{GroupBody, GroupId, GroupKind, GroupMessageId, MAX_HIDDEN};
use kith_store::ContactId;

use super::{ForumLocal, GroupMessageView, GroupView, InvitationView, MAX_HIDDEN_HERE, MemberView};
use crate::error::{Error, Result};
use crate::model::Event;
use crate::profile::Profile;

/// Why a forum post is shown hidden.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HiddenBy {
    /// We hide its author, for ourselves.
    You,
    /// The forum's creator's hidden list names its author.
    Creator,
}

/// A forum message as front ends show it: a group message, and whether
/// its author is hidden here. The text is kept (the reader may choose to
/// look); front ends show a hidden post as hidden, not its text.
#[derive(Clone, Debug)]
pub struct ForumMessageView {
    /// The message.
    pub message: GroupMessageView,
    /// Set when its author is hidden here.
    pub hidden: Option<HiddenBy>,
}

/// Who is hidden in a forum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HiddenLists {
    /// The authors we hide for ourselves, ascending.
    pub yours: Vec<[u8; 32]>,
    /// The authors the creator's latest hidden list names, ascending.
    pub creator: Vec<[u8; 32]>,
}

impl Profile {
    /// Make a forum: we are its creator and first member; any member may
    /// invite its contacts.
    pub async fn create_forum(&self, name: &str, description: &str) -> Result<GroupView> {
        self.create(GroupKind::Forum, name, description).await
    }

    /// Our forums, with unread counts.
    pub async fn forums(&self) -> Result<Vec<GroupView>> {
        self.all(GroupKind::Forum).await
    }

    /// One forum. [`Error::NotFound`] for a forum we do not hold.
    pub async fn forum(&self, id: GroupId) -> Result<GroupView> {
        self.one(GroupKind::Forum, id).await
    }

    /// The forum named `name` or with that id (hex): [`Error::BadInput`]
    /// when several forums have that name.
    pub async fn find_forum(&self, name_or_id: &str) -> Result<GroupView> {
        self.find(GroupKind::Forum, name_or_id).await
    }

    /// Invite a contact to a forum we are a member of (any member
    /// invites): once it accepts, we add it.
    pub async fn invite_to_forum(&self, forum: GroupId, contact: ContactId) -> Result<()> {
        self.invite(GroupKind::Forum, forum, contact).await
    }

    /// The invitations to forums waiting for our answer (`from` is the
    /// member who invites us, not necessarily the forum's creator).
    pub async fn forum_invitations(&self) -> Result<Vec<InvitationView>> {
        self.invitations(GroupKind::Forum).await
    }

    /// Join (`accept`) or decline a forum we are invited to; the member
    /// who invited us is told, and adds us.
    pub async fn answer_forum_invitation(
        &self,
        from: ContactId,
        forum: GroupId,
        accept: bool,
    ) -> Result<()> {
        self.answer(GroupKind::Forum, from, forum, accept).await
    }

    /// Post to a forum (a reply to `parent`, if given: a thread).
    pub async fn post_to_forum(
        &self,
        forum: GroupId,
        text: &str,
        parent: Option<GroupMessageId>,
    ) -> Result<GroupMessageView> {
        self.post(GroupKind::Forum, forum, text, parent).await
    }

    /// The forum's messages, in order, each marked if its author is hidden
    /// here (by us, or by the creator's list).
    pub async fn forum_messages(&self, forum: GroupId) -> Result<Vec<ForumMessageView>> {
        self.check_unlocked()?;
        self.expect_kind(forum, GroupKind::Forum)?;
        let msgs = self.group_messages(forum).await?;
        let hidden = |author: &[u8; 32]| {
            self.inner
                .groups
                .with(forum, |l| l.hidden_by(author))
                .flatten()
        };
        Ok(msgs
            .into_iter()
            .map(|m| ForumMessageView {
                hidden: hidden(&m.author_key),
                message: m,
            })
            .collect())
    }

    /// Who is in the forum, as far as we are told.
    pub async fn forum_members(&self, forum: GroupId) -> Result<Vec<MemberView>> {
        self.check_unlocked()?;
        self.expect_kind(forum, GroupKind::Forum)?;
        self.group_members(forum).await
    }

    /// Leave a forum (it lives on among the other members, also if we
    /// created it). Its history stays here until deleted.
    pub async fn leave_forum(&self, forum: GroupId) -> Result<()> {
        self.leave(GroupKind::Forum, forum).await
    }

    /// Who is hidden in the forum: by us, and by the creator's list.
    pub async fn forum_hidden(&self, forum: GroupId) -> Result<HiddenLists> {
        self.check_unlocked()?;
        self.expect_kind(forum, GroupKind::Forum)?;
        Ok(self
            .inner
            .groups
            .with(forum, |l| HiddenLists {
                yours: l.hidden_here.iter().copied().collect(),
                creator: l.members.creator_hides().to_vec(),
            })
            .unwrap_or_default())
    }

    /// Hide (`hide`) or show again an author's posts in a forum, for us
    /// only: kept sealed here, never sent. [`Error::BadInput`] for
    /// ourselves, or past `MAX_HIDDEN_HERE` (1024) authors.
    pub async fn hide_in_forum(&self, forum: GroupId, author: [u8; 32], hide: bool) -> Result<()> {
        self.check_unlocked()?;
        self.expect_kind(forum, GroupKind::Forum)?;
        if author == self.inner.identity.public().to_bytes() {
            return Err(Error::BadInput("you cannot hide yourself".into()));
        }
        kith_core::IdentityKey::from_bytes(&author)?;
        self.inner
            .store
            .call(move |s| {
                ForumLocal::update(s, |l| {
                    l.hidden.retain(|(f, a)| !(*f == forum && *a == author));
                    if hide {
                        if l.hidden.iter().filter(|(f, _)| *f == forum).count() >= MAX_HIDDEN_HERE {
                            return Err(kith_store::Error::BadInput {
                                what: "hidden authors (too many in this forum)",
                            });
                        }
                        l.hidden.push((forum, author));
                    }
                    Ok(())
                })
            })
            .await?;
        self.inner.groups.with(forum, |l| {
            if hide {
                l.hidden_here.insert(author);
            } else {
                l.hidden_here.remove(&author);
            }
        });
        self.emit(Event::GroupMessages { group: forum });
        Ok(())
    }

    /// As the forum's creator, publish its hidden list: a signed message
    /// that replaces the previous list whole (empty: nobody hidden), which
    /// members' apps honour. [`Error::BadInput`] if we did not create the
    /// forum, or for more than [`MAX_HIDDEN`] authors.
    pub async fn publish_hidden(&self, forum: GroupId, authors: &[[u8; 32]]) -> Result<()> {
        self.check_unlocked()?;
        self.expect_kind(forum, GroupKind::Forum)?;
        let authors: BTreeSet<[u8; 32]> = authors.iter().copied().collect();
        if authors.len() > MAX_HIDDEN {
            return Err(Error::BadInput(format!(
                "a hidden list names at most {MAX_HIDDEN} authors"
            )));
        }
        if authors.contains(&self.inner.identity.public().to_bytes()) {
            return Err(Error::BadInput("you cannot hide yourself".into()));
        }
        self.write(
            forum,
            None,
            GroupBody::Hidden {
                authors: authors.into_iter().collect(),
            },
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests;
