//! Blogs (issue 11 § 2, `docs/protocol.md` § 17): the user's commands.
//!
//! Every profile has a blog: the group `GroupId::blog_of(owner)`, whose
//! first message is its owner's `CreateBlog` (written here on first use).
//! The same signed messages, replica, store tables and sync exchanges as a
//! private group (`super`), under another policy, chosen in `super` by
//! [`GroupKind`]:
//!
//! - its owner writes top-level posts, comments and reblogs; its owner's
//!   accepted contacts write comments only (a `Post` with a parent);
//!   anything else is refused when written and when received
//!   ([`admits`], the replica's rule for the group);
//! - the owner syncs its blog with each accepted contact; a contact syncs
//!   the owner's blog with the owner only, so comments reach the other
//!   readers through the owner, whose node took only its contacts'. A
//!   reader's copy starts from the owner's `CreateBlog`, brought by the
//!   first exchange (no invitation), and takes any comment the owner
//!   relays (bounded per session, `super::sync`);
//! - the user may turn its blog off ([`BLOG_KEY`], sealed like every
//!   setting): it is synced with nobody and nothing is written to it; the
//!   contacts' blogs are still read.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use kith_core::Timestamp;
use kith_core::group::{
    GroupBody, GroupContent, GroupId, GroupKind, GroupMessage, GroupMessageId, MAX_GROUP_TEXT,
};
use kith_store::{ContactState, GroupMessageContent};
use kith_sync::{Inserted, Source};

use super::{Author, GroupMessageView, Live, author_of, check_group_text, contact_aliases, views};
use crate::error::{Error, Result};
use crate::model::Event;
use crate::profile::{LockExt, Profile};

/// The setting that says our blog is off (one byte: 0 off, 1 on; absent:
/// on).
pub(crate) const BLOG_KEY: &str = "kith-node/blog";

/// Whether our blog is on, as the store says.
pub(crate) fn read_enabled(s: &kith_store::Store) -> kith_store::Result<bool> {
    match s.setting(BLOG_KEY)?.as_deref() {
        None | Some([1]) => Ok(true),
        Some([0]) => Ok(false),
        Some(_) => Err(kith_store::Error::corrupt("blog setting")),
    }
}

/// What the blog of `owner` takes from `author` (`docs/protocol.md`
/// § 17): from its owner its `CreateBlog`, posts (top-level, or answers to
/// comments) and reblogs; from anyone else comments only. `Err` says why
/// not.
pub(crate) fn admits(
    owner: [u8; 32],
    author: [u8; 32],
    body: &GroupBody,
    parent: Option<GroupMessageId>,
) -> std::result::Result<(), &'static str> {
    if author == owner {
        return match body {
            GroupBody::CreateBlog | GroupBody::Post { .. } | GroupBody::Reblog { .. } => Ok(()),
            _ => Err("a blog's owner posts, comments and reblogs only"),
        };
    }
    match (body, parent) {
        (GroupBody::Post { .. }, Some(_)) => Ok(()),
        (GroupBody::Post { .. }, None) => Err("only its owner posts; a reader comments"),
        _ => Err("a reader of a blog only comments"),
    }
}

/// [`admits`] as the replica's rule for the blog of `owner`.
pub(crate) fn rule(owner: [u8; 32]) -> kith_sync::Admit {
    Arc::new(move |m: &GroupMessage| {
        let c = m.content();
        admits(owner, c.author, &c.body, c.parent)
    })
}

/// A post a reblog carries, as front ends show it: verified as its
/// author's (the reblog's signature check verified it).
#[derive(Clone)]
pub struct RebloggedView {
    /// Its id.
    pub id: GroupMessageId,
    /// The blog it was posted to (its author's).
    pub blog: GroupId,
    /// Who wrote it.
    pub author: Author,
    /// Its author's identity key.
    pub author_key: [u8; 32],
    /// What it says.
    pub text: String,
    /// When its author wrote it.
    pub time: Timestamp,
}

impl std::fmt::Debug for RebloggedView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RebloggedView")
            .field("id", &self.id)
            .field("text", &format_args!("{} bytes", self.text.len()))
            .finish_non_exhaustive()
    }
}

/// A top-level post of a blog (ours or a contact's) with its comments.
#[derive(Clone, Debug)]
pub struct BlogPostView {
    /// The blog.
    pub blog: GroupId,
    /// Whose blog it is.
    pub owner: Author,
    /// The owner's identity key.
    pub owner_key: [u8; 32],
    /// The post (for a reblog, its body is the reblogger's own text).
    pub post: GroupMessageView,
    /// What it reblogs, if it is a reblog.
    pub reblog_of: Option<RebloggedView>,
    /// Its comments, and the answers to them, oldest first (each with its
    /// `parent`).
    pub comments: Vec<GroupMessageView>,
}

impl Profile {
    /// Our blog's id (the group `GroupId::blog_of` our key), whether or
    /// not we wrote in it yet.
    pub fn blog_id(&self) -> GroupId {
        GroupId::blog_of(&self.inner.identity.public().to_bytes())
    }

    /// Post to our blog (made on first use); our contacts get it at their
    /// next sync. [`Error::BadInput`] if our blog is off or the text is
    /// empty or too long.
    pub async fn post_to_blog(&self, text: &str) -> Result<GroupMessageView> {
        self.check_unlocked()?;
        self.check_blog_on()?;
        check_group_text("post", text, MAX_GROUP_TEXT, false)?;
        let blog = self.ensure_blog().await?;
        self.post(GroupKind::Blog, blog, text, None).await
    }

    /// Comment on a post (or answer a comment) of our blog or of a
    /// contact's; the comment goes to the blog's owner, who passes it on to
    /// its other readers. [`Error::NotFound`] for a message of no blog we
    /// hold; [`Error::BadInput`] if the blog's owner is no longer our
    /// accepted contact, or our blog is off.
    pub async fn comment_on_blog(
        &self,
        post: GroupMessageId,
        text: &str,
    ) -> Result<GroupMessageView> {
        self.check_unlocked()?;
        let (blog, owner) = self
            .blog_holding(&post)
            .ok_or_else(|| Error::NotFound("blog post".into()))?;
        if owner != self.inner.identity.public().to_bytes() {
            let contact = self
                .inner
                .store
                .call(move |s| {
                    Ok(s.contacts()?
                        .into_iter()
                        .any(|c| c.address == owner && c.state == ContactState::Accepted))
                })
                .await?;
            if !contact {
                return Err(Error::BadInput(
                    "the blog's owner is not your contact any more".into(),
                ));
            }
        }
        self.post(GroupKind::Blog, blog, text, Some(post)).await
    }

    /// Reblog a post of a contact's blog into ours, with our own `text`
    /// (may be empty). Reblogging a reblog reblogs its original.
    /// [`Error::NotFound`] for a message of no blog we hold;
    /// [`Error::BadInput`] for a comment, a post of our own blog, a text
    /// too long, or our blog off.
    pub async fn reblog(&self, post: GroupMessageId, text: &str) -> Result<GroupMessageView> {
        self.check_unlocked()?;
        self.check_blog_on()?;
        check_group_text("reblog text", text, MAX_GROUP_TEXT, true)?;
        let msg = self
            .inner
            .groups
            .live
            .locked()
            .values()
            .filter(|l| l.kind() == GroupKind::Blog)
            .find_map(|l| l.replica.get(&post).cloned())
            .ok_or_else(|| Error::NotFound("blog post".into()))?;
        let original = match msg.reblog_original() {
            Some(o) => o,
            None => msg,
        };
        let c = original.content();
        if !matches!(c.body, GroupBody::Post { .. }) || c.parent.is_some() {
            return Err(Error::BadInput("only a blog's posts are reblogged".into()));
        }
        if c.author == self.inner.identity.public().to_bytes() {
            return Err(Error::BadInput("that is a post of your own blog".into()));
        }
        let blog = self.ensure_blog().await?;
        let id = self
            .write(
                blog,
                None,
                GroupBody::Reblog {
                    original: original.encoded().to_vec(),
                    text: text.to_owned(),
                },
            )
            .await?;
        self.group_messages(blog)
            .await?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| Error::NotFound("reblog".into()))
    }

    /// Our blog's posts and our contacts' (those their sync brought), newest
    /// first, each with its comments; a reblog with the post it carries.
    pub async fn blog_feed(&self) -> Result<Vec<BlogPostView>> {
        self.check_unlocked()?;
        let blogs: Vec<(GroupId, [u8; 32])> = self
            .inner
            .groups
            .live
            .locked()
            .iter()
            .filter(|(_, l)| l.kind() == GroupKind::Blog && l.opened)
            .map(|(id, l)| (*id, l.members.creator))
            .collect();
        let me = self.inner.identity.public().to_bytes();
        let (stored, aliases) = self
            .inner
            .store
            .call(move |s| {
                let mut out = vec![];
                for (id, owner) in blogs {
                    out.push((id, owner, s.group_messages(id)?));
                }
                Ok((out, contact_aliases(s)?))
            })
            .await?;
        let mut feed = vec![];
        for (blog, owner, msgs) in stored {
            let mut originals: HashMap<GroupMessageId, RebloggedView> = HashMap::new();
            for m in &msgs {
                if let GroupMessageContent::Body(GroupBody::Reblog { original, .. }) = &m.content
                    && let Ok(o) = GroupMessage::decode(original)
                    && let GroupBody::Post { text } = &o.content().body
                {
                    let c = o.content();
                    originals.insert(
                        m.id,
                        RebloggedView {
                            id: o.id(),
                            blog: c.group,
                            author: author_of(&me, &aliases, &c.author),
                            author_key: c.author,
                            text: text.clone(),
                            time: c.timestamp,
                        },
                    );
                }
            }
            let owner_name = author_of(&me, &aliases, &owner);
            let lines = views(&me, &aliases, msgs);
            let is_post = |v: &GroupMessageView| matches!(v.body, super::GroupLine::Post(_));
            // Each comment's top-level post, through its parents.
            let mut root: HashMap<GroupMessageId, GroupMessageId> = HashMap::new();
            let mut posts: Vec<BlogPostView> = vec![];
            for v in lines.iter().filter(|v| is_post(v)) {
                if v.parent.is_none() && v.author_key == owner {
                    root.insert(v.id, v.id);
                    posts.push(BlogPostView {
                        blog,
                        owner: owner_name.clone(),
                        owner_key: owner,
                        reblog_of: originals.remove(&v.id),
                        post: v.clone(),
                        comments: vec![],
                    });
                }
            }
            let comments: Vec<&GroupMessageView> = lines
                .iter()
                .filter(|v| is_post(v) && v.parent.is_some())
                .collect();
            // Passes until no more comments find their post: each pass
            // places at least one, so at most one per comment.
            let mut pending = comments.clone();
            loop {
                let before = pending.len();
                pending.retain(|c| {
                    let Some(r) = c.parent.and_then(|p| root.get(&p).copied()) else {
                        return true;
                    };
                    root.insert(c.id, r);
                    false
                });
                if pending.len() == before {
                    break;
                }
            }
            let index: HashMap<GroupMessageId, usize> = posts
                .iter()
                .enumerate()
                .map(|(i, p)| (p.post.id, i))
                .collect();
            for c in comments {
                if let Some(&i) = root.get(&c.id).and_then(|r| index.get(r)) {
                    posts[i].comments.push(c.clone());
                }
            }
            feed.extend(posts);
        }
        feed.sort_by(|a, b| {
            b.post
                .time
                .cmp(&a.post.time)
                .then(b.post.id.0.cmp(&a.post.id.0))
        });
        Ok(feed)
    }

    /// Mark every blog's posts and comments read.
    pub async fn mark_blogs_read(&self) -> Result<()> {
        self.check_unlocked()?;
        let blogs: Vec<GroupId> = self
            .inner
            .groups
            .live
            .locked()
            .iter()
            .filter(|(_, l)| l.kind() == GroupKind::Blog && l.opened)
            .map(|(id, _)| *id)
            .collect();
        self.inner
            .store
            .call(move |s| {
                for b in blogs {
                    s.mark_group_read(b)?;
                }
                Ok(())
            })
            .await?;
        self.emit(Event::GroupsChanged);
        Ok(())
    }

    /// Turn our blog on or off. Off: it is synced with nobody and nothing
    /// is written to it (what it holds stays); contacts' blogs are still
    /// read. On again: it is synced with every contact from the next
    /// session flush.
    pub async fn set_blog_enabled(&self, on: bool) -> Result<()> {
        self.check_unlocked()?;
        let contacts = self
            .inner
            .store
            .call(move |s| {
                s.set_setting(BLOG_KEY, &[u8::from(on)])?;
                s.contacts()
            })
            .await?;
        self.inner.groups.blog_off.store(!on, Ordering::Relaxed);
        if on {
            for c in contacts {
                crate::net::outbox_changed(&self.inner, c.id);
            }
        }
        self.emit(Event::GroupsChanged);
        Ok(())
    }

    /// Whether our blog is on.
    pub fn blog_enabled(&self) -> Result<bool> {
        self.check_unlocked()?;
        Ok(!self.inner.groups.blog_off())
    }

    fn check_blog_on(&self) -> Result<()> {
        if self.inner.groups.blog_off() {
            return Err(Error::BadInput("your blog is off (kith blog on)".into()));
        }
        Ok(())
    }

    /// The blog (id, owner) that holds the message `id`, if we hold it.
    fn blog_holding(&self, id: &GroupMessageId) -> Option<(GroupId, [u8; 32])> {
        self.inner
            .groups
            .live
            .locked()
            .iter()
            .find(|(_, l)| l.kind() == GroupKind::Blog && l.replica.contains(id))
            .map(|(g, l)| (*g, l.members.creator))
    }

    /// Our blog, made now (its `CreateBlog`, `seq` 0) if it is not yet.
    async fn ensure_blog(&self) -> Result<GroupId> {
        let blog = self.blog_id();
        if self.inner.groups.with(blog, |_| ()).is_some() {
            return Ok(blog);
        }
        let me = self.inner.identity.public().to_bytes();
        let create = GroupMessage::sign(
            &self.inner.identity,
            GroupContent {
                group: blog,
                author: me,
                seq: 0,
                previous: vec![],
                parent: None,
                timestamp: Timestamp::now(),
                body: GroupBody::CreateBlog,
            },
        )?;
        let c2 = create.clone();
        match self
            .inner
            .store
            .call(move |s| s.create_group(&c2, Timestamp::now()))
            .await
        {
            Ok(_) => {}
            // Made meanwhile by another call: its replica is being set up.
            Err(e) if e.kind() == kith_core::ErrorKind::AlreadyExists => return Ok(blog),
            Err(e) => return Err(e.into()),
        }
        let mut live = Live::new(blog, me, GroupKind::Blog);
        if let Ok(Inserted::Accepted(ids)) =
            live.replica.insert(create, Source::Local, Timestamp::now())
        {
            live.accepted(&ids);
        }
        self.inner.groups.live.locked().entry(blog).or_insert(live);
        self.emit(Event::GroupsChanged);
        Ok(blog)
    }
}

#[cfg(test)]
mod tests;
