//! Private groups (issue 10, `docs/protocol.md` §§ 14–15), forums
//! (issue 11, § 16) and blogs (§ 17): the user's commands (create, invite,
//! answer, post, react, leave, remove, dissolve, reveal; forums' own in
//! `forum`, blogs' in `blog`), the invitations and answers a session
//! carries, and each group's replica in memory. A forum is a group whose
//! first message is a `CreateForum`, a blog one whose first message is a
//! `CreateBlog`: one code path, with the membership and sync policy chosen
//! by its [`GroupKind`] ([`Membership`], [`syncs_with`], and for blogs a
//! rule on each message's body, `blog::admits`).
//!
//! Membership is read from the group's signed messages, in order: the
//! creator's `Create` makes it the first member; its `Add` adds a member
//! and its `Remove` removes one; a member's `Leave` takes it out, and the
//! creator's `Leave` dissolves the group. A member syncs a group (`sync`)
//! with the creator, and with the members who are its contacts and with
//! whom it revealed that (both ways); never with anyone else, and never
//! with a member removed or gone.
//!
//! What must reach a contact and be acknowledged (invitations, answers,
//! reveals) waits in one sealed setting ([`OUTBOX_KEY`]) until its `Ack`.

pub(crate) mod blog;
pub(crate) mod forum;
pub(crate) mod sync;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use kith_core::group::{
    GroupBody, GroupContent, GroupId, GroupInvite, GroupKind, GroupMessage, GroupMessageId,
    MAX_GROUP_DESCRIPTION, MAX_GROUP_NAME, MAX_GROUP_TEXT,
};
use kith_core::wire::PeerMessage;
use kith_core::{IdentityKey, MessageId, OnionAddress, Timestamp};
use kith_store::{
    ContactId, Direction, GroupInserted, GroupMessageContent, GroupMessageState, GroupState,
    MemberState, StoredGroupMessage,
};
use kith_sync::{Inserted, Limits, Replica, Source};
use serde::{Deserialize, Serialize};
use tracing::debug;

use self::forum::HiddenBy;
use crate::error::{Error, Result};
use crate::model::{DisappearTimer, Event, HistoryPolicy};
use crate::profile::{LockExt, Profile, ProfileInner};

/// The setting that holds what waits to be acknowledged.
pub(crate) const OUTBOX_KEY: &str = "kith-node/groups";
/// Most invitations, answers and reveals waiting at once (our own
/// actions: a bound on a runaway script, not on a peer).
const MAX_PENDING: usize = 1024;

/// A group as front ends show it.
#[derive(Clone, Debug)]
pub struct GroupView {
    /// Its id.
    pub id: GroupId,
    /// Its name (the creator's choice: a peer's text).
    pub name: String,
    /// Its description (a peer's text).
    pub description: String,
    /// A private group or a forum.
    pub kind: GroupKind,
    /// Whether we created it (only a private group's creator invites and
    /// removes; only a forum's publishes its hidden list).
    pub ours: bool,
    /// Where we stand in it.
    pub state: GroupState,
    /// Members as far as we are told (us included).
    pub members: usize,
    /// Unread posts.
    pub unread: u64,
    /// Messages known to exist and not received yet.
    pub missing: u64,
}

/// Who wrote a group message, as front ends show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Author {
    /// Us.
    You,
    /// One of our contacts, by the alias we gave it.
    Contact(String),
    /// A member we do not know: its address, shortened.
    Member(String),
}

/// A group message as front ends show it.
#[derive(Clone)]
pub struct GroupMessageView {
    /// Its id.
    pub id: GroupMessageId,
    /// Who wrote it.
    pub author: Author,
    /// Its author's identity key.
    pub author_key: [u8; 32],
    /// What it says.
    pub body: GroupLine,
    /// The message it answers (its thread), if any.
    pub parent: Option<GroupMessageId>,
    /// When its author wrote it.
    pub time: Timestamp,
    /// Whether its author's earlier messages are all here.
    pub accepted: bool,
    /// Whether we read it.
    pub read: bool,
    /// When it disappears here, if it does.
    pub expires_at: Option<Timestamp>,
    /// The reactions to it, one per member at most: (who, emoji).
    pub reactions: Vec<(Author, String)>,
}

impl std::fmt::Debug for GroupMessageView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupMessageView")
            .field("id", &self.id)
            .field("accepted", &self.accepted)
            .finish_non_exhaustive()
    }
}

/// What a group message shows: a post, or a line about the group.
#[derive(Clone, PartialEq, Eq)]
pub enum GroupLine {
    /// A post's text (for a blog's reblog, the reblogger's own text: its
    /// original is in `blog::BlogPostView`).
    Post(String),
    /// The group was made.
    Created,
    /// A member was added (its key).
    Added([u8; 32]),
    /// A member was removed (its key).
    Removed([u8; 32]),
    /// The author left (the creator: the group is dissolved).
    Left,
}

impl std::fmt::Debug for GroupLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupLine::Post(t) => write!(f, "Post({} bytes)", t.len()),
            GroupLine::Created => f.write_str("Created"),
            GroupLine::Added(_) => f.write_str("Added(..)"),
            GroupLine::Removed(_) => f.write_str("Removed(..)"),
            GroupLine::Left => f.write_str("Left"),
        }
    }
}

/// A member as front ends show it.
#[derive(Clone, Debug)]
pub struct MemberView {
    /// Its identity key.
    pub key: [u8; 32],
    /// Its address.
    pub address: OnionAddress,
    /// Who it is to us.
    pub who: Author,
    /// Whether it created the group.
    pub creator: bool,
    /// Member, left or removed.
    pub state: MemberState,
    /// Whether we sync with it directly: the creator, or a contact with
    /// whom we revealed it both ways.
    pub direct: bool,
    /// Whether we told it (a contact) that we may sync directly.
    pub we_revealed: bool,
    /// Whether it told us.
    pub they_revealed: bool,
}

/// An invitation waiting for our answer.
#[derive(Clone, Debug)]
pub struct InvitationView {
    /// The contact who invites us (the group's creator).
    pub from: ContactId,
    /// Its alias.
    pub from_alias: String,
    /// The group.
    pub group: GroupId,
    /// Its name (a peer's text).
    pub name: String,
    /// Its description (a peer's text).
    pub description: String,
    /// When it came.
    pub received_at: Timestamp,
}

/// What waits for a contact's `Ack`, sealed in [`OUTBOX_KEY`].
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Outbox {
    /// Our invitations (as creator): sent until acknowledged, kept until
    /// answered.
    invites: Vec<PendingInvite>,
    /// Our answers to invitations: sent until acknowledged.
    answers: Vec<PendingAnswer>,
    /// Our reveals: sent until acknowledged, then kept (so that a reveal of
    /// theirs makes it mutual).
    reveals: Vec<PendingReveal>,
    /// Reveals members who are our contacts sent us.
    theirs: Vec<(GroupId, [u8; 32])>,
}

#[derive(Clone, Serialize, Deserialize)]
struct PendingInvite {
    group: GroupId,
    contact: ContactId,
    id: MessageId,
    acked: bool,
}

#[derive(Clone, Serialize, Deserialize)]
struct PendingAnswer {
    group: GroupId,
    contact: ContactId,
    id: MessageId,
    accept: bool,
}

#[derive(Clone, Serialize, Deserialize)]
struct PendingReveal {
    group: GroupId,
    contact: ContactId,
    id: MessageId,
    acked: bool,
}

impl Outbox {
    fn read(s: &kith_store::Store) -> kith_store::Result<Outbox> {
        match s.setting(OUTBOX_KEY)? {
            None => Ok(Outbox::default()),
            Some(b) => kith_core::wire::decode_exact("group outbox", &b)
                .map_err(|_| kith_store::Error::corrupt("group outbox")),
        }
    }

    fn write(&self, s: &mut kith_store::Store) -> kith_store::Result<()> {
        let bytes =
            postcard::to_allocvec(self).map_err(|_| kith_store::Error::Bug("group outbox"))?;
        s.set_setting(OUTBOX_KEY, &bytes)
    }

    fn len(&self) -> usize {
        self.invites.len() + self.answers.len() + self.reveals.len()
    }

    /// The messages to send `contact` at a session: everything of theirs
    /// not acknowledged.
    pub(crate) fn for_contact(
        &self,
        s: &kith_store::Store,
        contact: ContactId,
    ) -> kith_store::Result<Vec<PeerMessage>> {
        let mut out = vec![];
        for i in self
            .invites
            .iter()
            .filter(|i| i.contact == contact && !i.acked)
        {
            if let Some(create) = first_message(s, i.group)? {
                out.push(PeerMessage::GroupInvite(GroupInvite { id: i.id, create }));
            }
        }
        for a in self.answers.iter().filter(|a| a.contact == contact) {
            out.push(PeerMessage::GroupAnswer {
                id: a.id,
                group: a.group,
                accept: a.accept,
            });
        }
        for r in self
            .reveals
            .iter()
            .filter(|r| r.contact == contact && !r.acked)
        {
            out.push(PeerMessage::GroupReveal {
                id: r.id,
                group: r.group,
            });
        }
        Ok(out)
    }

    /// The contact acknowledged `id`: `true` if it was one of ours.
    fn acked(&mut self, contact: ContactId, id: MessageId) -> bool {
        if let Some(i) = self
            .invites
            .iter_mut()
            .find(|i| i.contact == contact && i.id == id)
        {
            i.acked = true;
            return true;
        }
        if let Some(r) = self
            .reveals
            .iter_mut()
            .find(|r| r.contact == contact && r.id == id)
        {
            r.acked = true;
            return true;
        }
        let before = self.answers.len();
        self.answers
            .retain(|a| !(a.contact == contact && a.id == id));
        before != self.answers.len()
    }

    fn we_revealed(&self, group: GroupId, contact: ContactId) -> bool {
        self.reveals
            .iter()
            .any(|r| r.group == group && r.contact == contact)
    }

    fn they_revealed(&self, group: GroupId, key: &[u8; 32]) -> bool {
        self.theirs.iter().any(|(g, k)| *g == group && k == key)
    }

    /// Forget everything of a group (left, dissolved, deleted).
    fn forget(&mut self, group: GroupId) {
        self.invites.retain(|i| i.group != group);
        self.answers.retain(|a| a.group != group || !a.accept);
        self.reveals.retain(|r| r.group != group);
        self.theirs.retain(|(g, _)| *g != group);
    }
}

/// The setting that holds what a member keeps of its forums for itself
/// (sealed like every setting; never sent): the authors it hides, and the
/// contact it joins a forum through.
pub(crate) const FORUMS_KEY: &str = "kith-node/forums";
/// Most authors one member hides for itself in one forum.
const MAX_HIDDEN_HERE: usize = 1024;

/// What [`FORUMS_KEY`] holds.
#[derive(Default, Serialize, Deserialize)]
struct ForumLocal {
    /// (forum, author) we hide.
    hidden: Vec<(GroupId, [u8; 32])>,
    /// (forum, the contact who invited us) while we join it.
    via: Vec<(GroupId, ContactId)>,
}

impl ForumLocal {
    fn read(s: &kith_store::Store) -> kith_store::Result<ForumLocal> {
        match s.setting(FORUMS_KEY)? {
            None => Ok(ForumLocal::default()),
            Some(b) => kith_core::wire::decode_exact("forum settings", &b)
                .map_err(|_| kith_store::Error::corrupt("forum settings")),
        }
    }

    fn write(&self, s: &mut kith_store::Store) -> kith_store::Result<()> {
        let bytes =
            postcard::to_allocvec(self).map_err(|_| kith_store::Error::Bug("forum settings"))?;
        s.set_setting(FORUMS_KEY, &bytes)
    }

    /// Read, change with `f`, write (inside one store call).
    fn update<T>(
        s: &mut kith_store::Store,
        f: impl FnOnce(&mut ForumLocal) -> kith_store::Result<T>,
    ) -> kith_store::Result<T> {
        let mut l = ForumLocal::read(s)?;
        let out = f(&mut l)?;
        l.write(s)?;
        Ok(out)
    }

    fn forget(&mut self, group: GroupId) {
        self.hidden.retain(|(g, _)| *g != group);
        self.via.retain(|(g, _)| *g != group);
    }
}

/// The signed first message (`Create` or `CreateForum`) of a group we
/// hold.
fn first_message(s: &kith_store::Store, group: GroupId) -> kith_store::Result<Option<Vec<u8>>> {
    Ok(s.load_group_messages(group)?
        .into_iter()
        .map(|(m, _)| m)
        .find(|m| m.content().seq == 0 && m.content().body.opens().is_some())
        .map(|m| m.encoded().to_vec()))
}

/// Most members a forum's membership takes (the store's cap on a group's
/// members): past it, further `Add`s have no effect.
const MAX_FORUM_MEMBERS: usize = 1024;

/// Who is in a group, read from its accepted messages in any order (so a
/// replica rebuilt from the store, or filled by several members, ends the
/// same).
///
/// A private group: the creator's latest `Add` or `Remove` of a member (by
/// the creator's sequence numbers) says whether it was added; a `Leave` of
/// its own at or after the time of that `Add` takes it out; the creator's
/// `Leave` dissolves the group.
///
/// A forum (`docs/protocol.md` § 16): an `Add` by anyone ever added adds
/// a member (its latest such `Add`, by time, is when); a member's own
/// `Leave` at or after that time takes it out; the creator's `Leave` does
/// not dissolve it; `Remove` has no effect; the creator's `Hidden` with
/// the greatest `seq` is its hidden list.
#[derive(Clone, Debug)]
pub(crate) struct Membership {
    pub(crate) creator: [u8; 32],
    pub(crate) kind: GroupKind,
    /// The creator's latest word on each member: (its seq, added, the
    /// time of that message). Private groups only.
    events: HashMap<[u8; 32], (u64, bool, u64)>,
    /// Forums: each member's `Add`s, by adder: the latest time of each.
    adds: BTreeMap<[u8; 32], BTreeMap<[u8; 32], u64>>,
    /// Each author's latest `Leave`, by its time.
    leaves: HashMap<[u8; 32], u64>,
    /// Forums: the creator's latest hidden list (its seq, the authors).
    pub(crate) hidden: Option<(u64, Vec<[u8; 32]>)>,
    /// Members now (the creator included, until it dissolves the group).
    pub(crate) current: BTreeSet<[u8; 32]>,
    /// Everyone ever added: their messages are taken (also those written
    /// before they left or were removed).
    pub(crate) ever: HashSet<[u8; 32]>,
    /// Removed by the creator.
    pub(crate) removed: HashSet<[u8; 32]>,
    /// Left by themselves.
    pub(crate) left: HashSet<[u8; 32]>,
    /// The creator left a private group: it is dissolved.
    pub(crate) dissolved: bool,
}

impl Membership {
    fn new(creator: [u8; 32], kind: GroupKind) -> Self {
        let mut m = Membership {
            creator,
            kind,
            events: HashMap::new(),
            adds: BTreeMap::new(),
            leaves: HashMap::new(),
            hidden: None,
            current: BTreeSet::new(),
            ever: HashSet::new(),
            removed: HashSet::new(),
            left: HashSet::new(),
            dissolved: false,
        };
        m.refresh();
        m
    }

    /// Take one accepted message into account.
    #[cfg(test)]
    fn apply(&mut self, msg: &GroupMessage) {
        if self.record(msg) {
            self.refresh();
        }
    }

    /// Note what one accepted message says about membership, without
    /// working out who is in yet ([`Self::refresh`]): `true` if it says
    /// something.
    fn record(&mut self, msg: &GroupMessage) -> bool {
        let c = msg.content();
        let by_creator = c.author == self.creator;
        let at = c.timestamp.0;
        let forum = self.kind == GroupKind::Forum;
        let mut creator_says = |member: [u8; 32], added: bool| {
            let e = self.events.entry(member).or_insert((c.seq, added, at));
            if c.seq >= e.0 {
                *e = (c.seq, added, at);
            }
        };
        match &c.body {
            GroupBody::Add { member } if forum && *member != self.creator => {
                let t = self
                    .adds
                    .entry(*member)
                    .or_default()
                    .entry(c.author)
                    .or_insert(at);
                *t = (*t).max(at);
            }
            GroupBody::Add { member } if by_creator && *member != self.creator => {
                creator_says(*member, true);
            }
            GroupBody::Remove { member } if !forum && by_creator && *member != self.creator => {
                creator_says(*member, false);
            }
            GroupBody::Leave => {
                let l = self.leaves.entry(c.author).or_insert(at);
                *l = (*l).max(at);
            }
            GroupBody::Hidden { authors } if forum && by_creator => {
                if self.hidden.as_ref().is_none_or(|(seq, _)| c.seq > *seq) {
                    self.hidden = Some((c.seq, authors.clone()));
                }
                return false;
            }
            _ => return false,
        }
        true
    }

    fn refresh(&mut self) {
        self.current.clear();
        self.ever.clear();
        self.removed.clear();
        self.left.clear();
        self.ever.insert(self.creator);
        match self.kind {
            GroupKind::Group => self.refresh_group(),
            GroupKind::Forum => self.refresh_forum(),
            // A blog's only member is its owner; who else may write in it
            // (comments) is `Live::gate`'s and `blog::admits`' to say.
            GroupKind::Blog => {
                self.current.insert(self.creator);
            }
        }
    }

    fn refresh_group(&mut self) {
        self.dissolved = self.leaves.contains_key(&self.creator);
        if self.dissolved {
            self.left.insert(self.creator);
        } else {
            self.current.insert(self.creator);
        }
        for (key, &(_, added, at)) in &self.events {
            if !added {
                self.removed.insert(*key);
                self.ever.insert(*key);
            } else {
                self.ever.insert(*key);
                if self.leaves.get(key).is_some_and(|&l| l >= at) {
                    self.left.insert(*key);
                } else if !self.dissolved {
                    self.current.insert(*key);
                }
            }
        }
    }

    fn refresh_forum(&mut self) {
        self.dissolved = false;
        // Everyone reachable from the creator through `Add`s: passes until
        // none adds anyone (each pass is in key order, so the result
        // depends on the messages only, not on their order).
        let mut added_at: BTreeMap<[u8; 32], u64> = BTreeMap::new();
        added_at.insert(self.creator, 0);
        loop {
            let mut grew = false;
            for (member, by) in &self.adds {
                if added_at.contains_key(member) || added_at.len() >= MAX_FORUM_MEMBERS {
                    continue;
                }
                if by.keys().any(|a| added_at.contains_key(a)) {
                    added_at.insert(*member, 0);
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
        let reached: BTreeSet<[u8; 32]> = added_at.keys().copied().collect();
        for (member, at) in added_at.iter_mut() {
            if let Some(by) = self.adds.get(member) {
                *at = by
                    .iter()
                    .filter(|(a, _)| reached.contains(*a))
                    .map(|(_, t)| *t)
                    .max()
                    .unwrap_or(0);
            }
        }
        for (member, at) in added_at {
            self.ever.insert(member);
            if self.leaves.get(&member).is_some_and(|&l| l >= at) {
                self.left.insert(member);
            } else {
                self.current.insert(member);
            }
        }
    }

    fn state_of(&self, key: &[u8; 32]) -> MemberState {
        if self.removed.contains(key) {
            MemberState::Removed
        } else if self.left.contains(key) {
            MemberState::Left
        } else {
            MemberState::Member
        }
    }

    /// The authors the creator's hidden list names (a forum's; empty
    /// otherwise).
    pub(crate) fn creator_hides(&self) -> &[[u8; 32]] {
        self.hidden.as_ref().map_or(&[], |(_, a)| a.as_slice())
    }
}

/// One group as held in memory: its replica and who is in it.
pub(crate) struct Live {
    pub(crate) replica: Replica,
    pub(crate) members: Membership,
    /// Bumped at every message accepted: a sync opened before it may have
    /// missed something.
    pub(crate) version: u64,
    /// A forum we are joining: the contact who invited us (the only one we
    /// sync it with until an `Add` of us arrives).
    pub(crate) via: Option<ContactId>,
    /// A forum's authors we hide for ourselves.
    pub(crate) hidden_here: BTreeSet<[u8; 32]>,
    /// Our blog: who may write in it now (us and our accepted contacts),
    /// set before each sync frame is handled; `None` until then.
    pub(crate) blog_writers: Option<HashSet<[u8; 32]>>,
    /// A blog: its owner's `CreateBlog` is here. A reader's copy takes
    /// the owner's messages only until then, then anyone's comment the
    /// owner relays (`docs/protocol.md` § 17).
    pub(crate) opened: bool,
}

impl Live {
    fn new(group: GroupId, creator: [u8; 32], kind: GroupKind) -> Live {
        let mut replica = Replica::new(group, Limits::default());
        if kind == GroupKind::Blog {
            replica.set_admit(Some(blog::rule(creator)));
        }
        let members = Membership::new(creator, kind);
        let mut live = Live {
            replica,
            members,
            version: 0,
            via: None,
            hidden_here: BTreeSet::new(),
            blog_writers: None,
            opened: false,
        };
        live.gate();
        live
    }

    /// Tell the replica whose messages it takes: a group's or forum's
    /// members; for a blog, until its `CreateBlog` is here its owner only,
    /// then in our blog the writers we set (us and our contacts), in a
    /// contact's blog anyone (its owner relays only what it took).
    pub(crate) fn gate(&mut self) {
        let members = match self.kind() {
            GroupKind::Blog if !self.opened => Some(HashSet::from([self.members.creator])),
            GroupKind::Blog => self.blog_writers.clone(),
            _ => Some(self.members.ever.clone()),
        };
        self.replica.set_members(members);
    }

    /// A group held from these messages (its first message among them
    /// says its kind; a private group if it is not there).
    fn from_messages(group: GroupId, creator: [u8; 32], msgs: &[GroupMessage]) -> Live {
        let kind = msgs
            .iter()
            .filter(|m| m.content().author == creator && m.content().seq == 0)
            .find_map(|m| m.content().body.opens())
            .unwrap_or(GroupKind::Group);
        Live::new(group, creator, kind)
    }

    pub(crate) fn kind(&self) -> GroupKind {
        self.members.kind
    }

    /// The messages `ids` were accepted: update who is in the group.
    pub(crate) fn accepted(&mut self, ids: &[GroupMessageId]) {
        let mut says = false;
        for id in ids {
            if let Some(m) = self.replica.get(id) {
                let m = m.clone();
                self.opened |= matches!(m.content().body, GroupBody::CreateBlog);
                says |= self.members.record(&m);
            }
        }
        if says {
            self.members.refresh();
        }
        self.gate();
        self.version += 1;
    }

    /// Why a forum post is hidden here, if it is: we hide its author, or
    /// the creator's hidden list names it.
    fn hidden_by(&self, author: &[u8; 32]) -> Option<HiddenBy> {
        if self.hidden_here.contains(author) {
            Some(HiddenBy::You)
        } else if self.members.creator_hides().contains(author) {
            Some(HiddenBy::Creator)
        } else {
            None
        }
    }
}

/// Every unlocked group of a profile.
#[derive(Default)]
pub(crate) struct Groups {
    pub(crate) live: Mutex<HashMap<GroupId, Live>>,
    /// The user turned our blog off ([`blog::BLOG_KEY`]): it is synced
    /// with nobody and nothing is written to it.
    pub(crate) blog_off: AtomicBool,
}

impl Groups {
    /// Load every group from the store (at unlock): each replica rebuilt
    /// from the messages held, membership read from them.
    pub(crate) fn load(&self, s: &kith_store::Store) -> kith_store::Result<()> {
        let mut live = HashMap::new();
        let local = ForumLocal::read(s)?;
        self.blog_off
            .store(!blog::read_enabled(s)?, Ordering::Relaxed);
        for g in s.groups()? {
            let mut msgs: Vec<(GroupMessage, _)> = s.load_group_messages(g.id)?;
            let firsts: Vec<GroupMessage> = msgs
                .iter()
                .filter(|(m, _)| m.content().seq == 0)
                .map(|(m, _)| m.clone())
                .collect();
            let mut l = Live::from_messages(g.id, g.creator, &firsts);
            l.via = local.via.iter().find(|(f, _)| *f == g.id).map(|(_, c)| *c);
            l.hidden_here = local
                .hidden
                .iter()
                .filter(|(f, _)| *f == g.id)
                .map(|(_, k)| *k)
                .collect();
            // Each author's chain in order: predecessors first.
            msgs.sort_by_key(|(m, _)| (m.content().author, m.content().seq));
            // Stored messages were checked on the way in: any author they
            // name was a member then (the Adds may come later in this
            // order).
            l.replica.set_members(None);
            let mut accepted = vec![];
            // What was deleted here first: known, without content, so that
            // its successors are not left waiting and nobody sends it again.
            for (id, author, seq) in s.group_tombstones(g.id)? {
                if let Ok(Inserted::Accepted(ids)) = l.replica.insert_tombstone(id, author, seq) {
                    accepted.extend(ids);
                }
            }
            for (m, _) in msgs {
                if let Ok(Inserted::Accepted(ids)) =
                    l.replica.insert(m, Source::Local, Timestamp::now())
                {
                    accepted.extend(ids);
                }
            }
            l.accepted(&accepted);
            live.insert(g.id, l);
        }
        *self.live.locked() = live;
        Ok(())
    }

    pub(crate) fn with<T>(&self, group: GroupId, f: impl FnOnce(&mut Live) -> T) -> Option<T> {
        self.live.locked().get_mut(&group).map(f)
    }

    /// Whether our blog is off.
    pub(crate) fn blog_off(&self) -> bool {
        self.blog_off.load(Ordering::Relaxed)
    }
}

fn short_key(key: &[u8; 32]) -> String {
    IdentityKey::from_bytes(key)
        .map(|k| k.address().redacted())
        .unwrap_or_else(|_| "unknown member".into())
}

/// Who `key` is to us.
fn author_of(me: &[u8; 32], contacts: &HashMap<[u8; 32], String>, key: &[u8; 32]) -> Author {
    if key == me {
        Author::You
    } else if let Some(alias) = contacts.get(key) {
        Author::Contact(alias.clone())
    } else {
        Author::Member(short_key(key))
    }
}

fn contact_aliases(s: &kith_store::Store) -> kith_store::Result<HashMap<[u8; 32], String>> {
    Ok(s.contacts()?
        .into_iter()
        .map(|c| (c.address, c.alias))
        .collect())
}

/// What a group of this kind is called in messages to the user.
pub(crate) fn noun(kind: GroupKind) -> &'static str {
    match kind {
        GroupKind::Group => "group",
        GroupKind::Forum => "forum",
        GroupKind::Blog => "blog",
    }
}

/// The kind of group an invitation's first message opens (`None` if it
/// does not verify: the store checked it on the way in).
fn invitation_kind(create: &[u8]) -> Option<GroupKind> {
    GroupMessage::decode(create)
        .ok()
        .and_then(|m| m.content().body.opens())
}

fn check_group_text(what: &str, text: &str, max: usize, may_be_empty: bool) -> Result<()> {
    if !may_be_empty && text.trim().is_empty() {
        return Err(Error::BadInput(format!("the {what} is empty")));
    }
    if text.len() > max {
        return Err(Error::BadInput(format!(
            "the {what} is too long ({} bytes, at most {max})",
            text.len()
        )));
    }
    Ok(())
}

impl Profile {
    /// Make a private group: we are its creator and only member until we
    /// invite contacts.
    pub async fn create_group(&self, name: &str, description: &str) -> Result<GroupView> {
        self.create(GroupKind::Group, name, description).await
    }

    /// Make a group of this kind: we are its creator and only member.
    pub(crate) async fn create(
        &self,
        kind: GroupKind,
        name: &str,
        description: &str,
    ) -> Result<GroupView> {
        self.check_unlocked()?;
        check_group_text(&format!("{} name", noun(kind)), name, MAX_GROUP_NAME, false)?;
        check_group_text("description", description, MAX_GROUP_DESCRIPTION, true)?;
        let group = GroupId::random(&mut rand::rngs::OsRng);
        let me = self.inner.identity.public().to_bytes();
        let (name, description) = (name.to_owned(), description.to_owned());
        let body = match kind {
            GroupKind::Group => GroupBody::Create { name, description },
            GroupKind::Forum => GroupBody::CreateForum { name, description },
            GroupKind::Blog => {
                return Err(Error::BadInput(
                    "a blog is not made with a name and description".into(),
                ));
            }
        };
        let create = GroupMessage::sign(
            &self.inner.identity,
            GroupContent {
                group,
                author: me,
                seq: 0,
                previous: vec![],
                parent: None,
                timestamp: Timestamp::now(),
                body,
            },
        )?;
        let c2 = create.clone();
        self.inner
            .store
            .call(move |s| s.create_group(&c2, Timestamp::now()))
            .await?;
        let mut live = Live::new(group, me, kind);
        if let Ok(Inserted::Accepted(ids)) =
            live.replica.insert(create, Source::Local, Timestamp::now())
        {
            live.accepted(&ids);
        }
        self.inner.groups.live.locked().insert(group, live);
        self.emit(Event::GroupsChanged);
        self.one(kind, group).await
    }

    /// Our private groups, with unread counts.
    pub async fn groups(&self) -> Result<Vec<GroupView>> {
        self.all(GroupKind::Group).await
    }

    /// Our groups of this kind, with unread counts.
    pub(crate) async fn all(&self, kind: GroupKind) -> Result<Vec<GroupView>> {
        self.check_unlocked()?;
        let summaries = self.inner.store.call(|s| s.group_summaries()).await?;
        let me = self.inner.identity.public().to_bytes();
        let live = self.inner.groups.live.locked();
        Ok(summaries
            .into_iter()
            .filter_map(|sum| {
                let l = live.get(&sum.group.id);
                let k = l.map_or(GroupKind::Group, Live::kind);
                (k == kind).then(|| GroupView {
                    id: sum.group.id,
                    name: sum.group.name,
                    description: sum.group.description,
                    kind,
                    ours: sum.group.creator == me,
                    state: sum.group.state,
                    members: l.map_or(1, |l| l.members.current.len()),
                    unread: sum.unread,
                    missing: l.map_or(0, |l| l.replica.missing()),
                })
            })
            .collect())
    }

    /// One private group. [`Error::NotFound`] for a group we do not hold.
    pub async fn group(&self, id: GroupId) -> Result<GroupView> {
        self.one(GroupKind::Group, id).await
    }

    /// One group of this kind. [`Error::NotFound`] if we hold none with
    /// that id.
    pub(crate) async fn one(&self, kind: GroupKind, id: GroupId) -> Result<GroupView> {
        self.all(kind)
            .await?
            .into_iter()
            .find(|g| g.id == id)
            .ok_or_else(|| Error::NotFound(noun(kind).into()))
    }

    /// The group named `name` (as the user typed it) or with that id (hex):
    /// [`Error::BadInput`] when several groups have that name.
    pub async fn find_group(&self, name_or_id: &str) -> Result<GroupView> {
        self.find(GroupKind::Group, name_or_id).await
    }

    /// [`Self::find_group`] among the groups of this kind.
    pub(crate) async fn find(&self, kind: GroupKind, name_or_id: &str) -> Result<GroupView> {
        let all = self.all(kind).await?;
        if let Some(g) = all.iter().find(|g| g.id.to_hex() == name_or_id) {
            return Ok(g.clone());
        }
        let named: Vec<_> = all.into_iter().filter(|g| g.name == name_or_id).collect();
        let what = noun(kind);
        match named.len() {
            0 => Err(Error::NotFound(format!("{what} {name_or_id:?}"))),
            // One element: `next` is `Some`.
            1 => Ok(named.into_iter().next().unwrap_or_else(|| unreachable!())),
            n => Err(Error::BadInput(format!(
                "{n} {what}s are named {name_or_id:?}: use the {what}'s id ({what} list --json)"
            ))),
        }
    }

    /// Invite a contact to a group we created: it sees "X invites you to
    /// …" and answers. [`Error::BadInput`] if we did not create it, or the
    /// contact is not accepted or is a member already.
    pub async fn invite_to_group(&self, group: GroupId, contact: ContactId) -> Result<()> {
        self.invite(GroupKind::Group, group, contact).await
    }

    /// Invite a contact: to a private group only as its creator, to a
    /// forum as any member.
    pub(crate) async fn invite(
        &self,
        kind: GroupKind,
        group: GroupId,
        contact: ContactId,
    ) -> Result<()> {
        self.check_unlocked()?;
        let g = self.one(kind, group).await?;
        match kind {
            GroupKind::Group if !g.ours => {
                return Err(Error::BadInput("only the group's creator invites".into()));
            }
            GroupKind::Group if g.state != GroupState::Member => {
                return Err(Error::BadInput("the group is dissolved".into()));
            }
            GroupKind::Forum if g.state != GroupState::Member => {
                return Err(Error::BadInput("not a member of that forum".into()));
            }
            _ => {}
        }
        let key = self.inner.store.call(move |s| s.contact(contact)).await?;
        if key.state != kith_store::ContactState::Accepted {
            return Err(Error::BadInput("invite an accepted contact".into()));
        }
        let is_member = self
            .inner
            .groups
            .with(group, |l| l.members.current.contains(&key.address))
            .unwrap_or(false);
        if is_member {
            return Err(Error::AlreadyExists("that member".into()));
        }
        let id = MessageId::random(&mut rand::rngs::OsRng);
        self.inner
            .store
            .call(move |s| {
                let mut o = Outbox::read(s)?;
                o.invites
                    .retain(|i| !(i.group == group && i.contact == contact));
                if o.len() >= MAX_PENDING {
                    return Err(kith_store::Error::BadInput {
                        what: "group invitations (too many waiting)",
                    });
                }
                o.invites.push(PendingInvite {
                    group,
                    contact,
                    id,
                    acked: false,
                });
                o.write(s)
            })
            .await?;
        crate::net::outbox_changed(&self.inner, contact);
        Ok(())
    }

    /// The invitations to private groups waiting for our answer.
    pub async fn group_invitations(&self) -> Result<Vec<InvitationView>> {
        self.invitations(GroupKind::Group).await
    }

    /// The invitations to groups of this kind waiting for our answer.
    pub(crate) async fn invitations(&self, kind: GroupKind) -> Result<Vec<InvitationView>> {
        self.check_unlocked()?;
        Ok(self
            .inner
            .store
            .call(move |s| {
                let aliases: HashMap<ContactId, String> =
                    s.contacts()?.into_iter().map(|c| (c.id, c.alias)).collect();
                Ok(s.invitations()?
                    .into_iter()
                    .filter(|i| invitation_kind(&i.create) == Some(kind))
                    .map(|i| InvitationView {
                        from_alias: aliases.get(&i.from).cloned().unwrap_or_default(),
                        from: i.from,
                        group: i.group,
                        name: i.name,
                        description: i.description,
                        received_at: i.received_at,
                    })
                    .collect())
            })
            .await?)
    }

    /// Join (`accept`) or decline a group we are invited to; the creator is
    /// told. Joining: the group's messages come once the creator adds us.
    pub async fn answer_group_invitation(
        &self,
        from: ContactId,
        group: GroupId,
        accept: bool,
    ) -> Result<()> {
        self.answer(GroupKind::Group, from, group, accept).await
    }

    /// Answer `from`'s invitation to a group of this kind; `from` is told.
    /// Joining a forum, we sync it with `from` only until an `Add` of us
    /// arrives.
    pub(crate) async fn answer(
        &self,
        kind: GroupKind,
        from: ContactId,
        group: GroupId,
        accept: bool,
    ) -> Result<()> {
        self.check_unlocked()?;
        let id = MessageId::random(&mut rand::rngs::OsRng);
        let joined = self
            .inner
            .store
            .call(move |s| {
                let of_kind = s.invitations()?.iter().any(|i| {
                    i.from == from && i.group == group && invitation_kind(&i.create) == Some(kind)
                });
                if !of_kind {
                    return Err(kith_store::Error::NotFound { what: "invitation" });
                }
                let joined = if accept {
                    let g = s.accept_invitation(from, group, Timestamp::now())?;
                    let msgs = s.load_group_messages(group)?;
                    if kind == GroupKind::Forum {
                        ForumLocal::update(s, |l| {
                            l.via.retain(|(f, _)| *f != group);
                            l.via.push((group, from));
                            Ok(())
                        })?;
                    }
                    Some((g.creator, msgs))
                } else {
                    if !s.decline_invitation(from, group)? {
                        return Err(kith_store::Error::NotFound {
                            what: "group invitation",
                        });
                    }
                    None
                };
                let mut o = Outbox::read(s)?;
                if o.len() < MAX_PENDING {
                    o.answers.push(PendingAnswer {
                        group,
                        contact: from,
                        id,
                        accept,
                    });
                    o.write(s)?;
                }
                Ok(joined)
            })
            .await?;
        if let Some((creator, msgs)) = joined {
            let msgs: Vec<GroupMessage> = msgs.into_iter().map(|(m, _)| m).collect();
            let mut live = Live::from_messages(group, creator, &msgs);
            if kind == GroupKind::Forum {
                live.via = Some(from);
            }
            for m in msgs {
                if let Ok(Inserted::Accepted(ids)) =
                    live.replica.insert(m, Source::Local, Timestamp::now())
                {
                    live.accepted(&ids);
                }
            }
            self.inner.groups.live.locked().insert(group, live);
        }
        self.emit(Event::GroupsChanged);
        crate::net::outbox_changed(&self.inner, from);
        Ok(())
    }

    /// Write a post (an answer to `parent`, if given: a thread).
    pub async fn post_to_group(
        &self,
        group: GroupId,
        text: &str,
        parent: Option<GroupMessageId>,
    ) -> Result<GroupMessageView> {
        self.post(GroupKind::Group, group, text, parent).await
    }

    /// Write a post in a group of this kind.
    pub(crate) async fn post(
        &self,
        kind: GroupKind,
        group: GroupId,
        text: &str,
        parent: Option<GroupMessageId>,
    ) -> Result<GroupMessageView> {
        self.check_unlocked()?;
        self.expect_kind(group, kind)?;
        check_group_text("post", text, MAX_GROUP_TEXT, false)?;
        if let Some(p) = parent {
            let known = self
                .inner
                .groups
                .with(group, |l| l.replica.contains(&p))
                .unwrap_or(false);
            if !known {
                return Err(Error::NotFound("message to answer".into()));
            }
        }
        let id = self
            .write(
                group,
                parent,
                GroupBody::Post {
                    text: text.to_owned(),
                },
            )
            .await?;
        self.group_messages(group)
            .await?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| Error::NotFound("post".into()))
    }

    /// [`Error::NotFound`] unless we hold `group` and it is of this kind.
    pub(crate) fn expect_kind(&self, group: GroupId, kind: GroupKind) -> Result<()> {
        match self.inner.groups.with(group, |l| l.kind()) {
            Some(k) if k == kind => Ok(()),
            _ => Err(Error::NotFound(noun(kind).into())),
        }
    }

    /// React to a message of the group (`None`: take our reaction back).
    pub async fn react_in_group(
        &self,
        group: GroupId,
        target: GroupMessageId,
        emoji: Option<&str>,
    ) -> Result<()> {
        self.check_unlocked()?;
        let emoji = emoji
            .map(kith_core::chat::Emoji::new)
            .transpose()
            .map_err(|_| Error::BadInput("a reaction is one emoji".into()))?;
        let known = self
            .inner
            .groups
            .with(group, |l| l.replica.contains(&target))
            .unwrap_or(false);
        if !known {
            return Err(Error::NotFound("message to react to".into()));
        }
        self.write(group, None, GroupBody::React { target, emoji })
            .await
            .map(|_| ())
    }

    /// Leave a group (the creator's leaving dissolves it). Its history
    /// stays here until deleted.
    pub async fn leave_group(&self, group: GroupId) -> Result<()> {
        self.leave(GroupKind::Group, group).await
    }

    /// Leave a group of this kind (a forum lives on without us, also if we
    /// created it).
    pub(crate) async fn leave(&self, kind: GroupKind, group: GroupId) -> Result<()> {
        self.check_unlocked()?;
        let g = self.one(kind, group).await?;
        if !matches!(g.state, GroupState::Member | GroupState::Joining) {
            return Err(Error::BadInput(format!(
                "not a member of that {}",
                noun(kind)
            )));
        }
        self.write(group, None, GroupBody::Leave).await?;
        let state = if g.ours && kind == GroupKind::Group {
            GroupState::Dissolved
        } else {
            GroupState::Left
        };
        self.inner
            .store
            .call(move |s| {
                s.set_group_state(group, state)?;
                let mut o = Outbox::read(s)?;
                o.forget(group);
                o.write(s)?;
                ForumLocal::update(s, |l| {
                    l.via.retain(|(f, _)| *f != group);
                    Ok(())
                })
            })
            .await?;
        self.inner.groups.with(group, |l| l.via = None);
        self.emit(Event::GroupsChanged);
        Ok(())
    }

    /// The creator removes a member: later messages are not sent to it.
    pub async fn remove_from_group(&self, group: GroupId, member: [u8; 32]) -> Result<()> {
        self.check_unlocked()?;
        let g = self.group(group).await?;
        if !g.ours {
            return Err(Error::BadInput("only the group's creator removes".into()));
        }
        if member == self.inner.identity.public().to_bytes() {
            return Err(Error::BadInput("leave instead (that dissolves it)".into()));
        }
        let is_member = self
            .inner
            .groups
            .with(group, |l| l.members.current.contains(&member))
            .unwrap_or(false);
        if !is_member {
            return Err(Error::NotFound("member".into()));
        }
        self.write(group, None, GroupBody::Remove { member })
            .await
            .map(|_| ())
    }

    /// Tell a member who is also our contact that we may sync the group
    /// directly (once it tells us too).
    pub async fn reveal_in_group(&self, group: GroupId, contact: ContactId) -> Result<()> {
        self.check_unlocked()?;
        // Forum members sync with their member contacts without reveals.
        self.expect_kind(group, GroupKind::Group)?;
        let c = self.inner.store.call(move |s| s.contact(contact)).await?;
        let is_member = self
            .inner
            .groups
            .with(group, |l| l.members.current.contains(&c.address))
            .ok_or_else(|| Error::NotFound("group".into()))?;
        if !is_member {
            return Err(Error::BadInput("that contact is not a member".into()));
        }
        let id = MessageId::random(&mut rand::rngs::OsRng);
        self.inner
            .store
            .call(move |s| {
                let mut o = Outbox::read(s)?;
                if o.we_revealed(group, contact) {
                    return Ok(());
                }
                if o.len() >= MAX_PENDING {
                    return Err(kith_store::Error::BadInput {
                        what: "reveals (too many waiting)",
                    });
                }
                o.reveals.push(PendingReveal {
                    group,
                    contact,
                    id,
                    acked: false,
                });
                o.write(s)
            })
            .await?;
        self.emit(Event::GroupsChanged);
        crate::net::outbox_changed(&self.inner, contact);
        Ok(())
    }

    /// The group's messages, in order, with reactions folded into the
    /// messages they answer.
    pub async fn group_messages(&self, group: GroupId) -> Result<Vec<GroupMessageView>> {
        self.check_unlocked()?;
        let me = self.inner.identity.public().to_bytes();
        let (stored, aliases) = self
            .inner
            .store
            .call(move |s| Ok((s.group_messages(group)?, contact_aliases(s)?)))
            .await?;
        Ok(views(&me, &aliases, stored))
    }

    /// Who is in the group, as far as we are told.
    pub async fn group_members(&self, group: GroupId) -> Result<Vec<MemberView>> {
        self.check_unlocked()?;
        let members = self
            .inner
            .groups
            .with(group, |l| l.members.clone())
            .ok_or_else(|| Error::NotFound("group".into()))?;
        let me = self.inner.identity.public().to_bytes();
        let (aliases, contacts, outbox) = self
            .inner
            .store
            .call(|s| {
                let contacts: HashMap<[u8; 32], ContactId> = s
                    .contacts()?
                    .into_iter()
                    .map(|c| (c.address, c.id))
                    .collect();
                Ok((contact_aliases(s)?, contacts, Outbox::read(s)?))
            })
            .await?;
        let mut out = vec![];
        for key in &members.ever {
            let contact = contacts.get(key).copied();
            let we = contact.is_some_and(|c| outbox.we_revealed(group, c));
            let they = outbox.they_revealed(group, key);
            let creator = *key == members.creator;
            out.push(MemberView {
                key: *key,
                address: IdentityKey::from_bytes(key)?.address(),
                who: author_of(&me, &aliases, key),
                creator,
                state: members.state_of(key),
                direct: *key != me
                    && match members.kind {
                        GroupKind::Group => creator || me == members.creator || (we && they),
                        GroupKind::Forum => contact.is_some() && members.current.contains(key),
                        GroupKind::Blog => contact.is_some() && members.creator == *key,
                    },
                we_revealed: we,
                they_revealed: they,
            });
        }
        out.sort_by_key(|m| (!m.creator, m.who != Author::You, m.key));
        Ok(out)
    }

    /// Mark the group's posts read.
    pub async fn mark_group_read(&self, group: GroupId) -> Result<()> {
        self.check_unlocked()?;
        self.inner
            .store
            .call(move |s| s.mark_group_read(group))
            .await?;
        self.emit(Event::GroupsChanged);
        Ok(())
    }

    /// Delete a message of the group here only (a tombstone stays, so a
    /// member relaying it again does not bring it back). `false` if there
    /// was no such message.
    pub async fn delete_group_message(&self, group: GroupId, id: GroupMessageId) -> Result<bool> {
        self.check_unlocked()?;
        let done = self
            .inner
            .store
            .call(move |s| s.delete_group_message(group, id))
            .await?;
        if done {
            forget(&self.inner, group, &[id]).await?;
        }
        Ok(done)
    }

    /// The group's disappearing timer, here (each member chooses its own):
    /// posts that arrive from now on disappear that long after.
    pub async fn set_group_disappear(&self, group: GroupId, timer: DisappearTimer) -> Result<()> {
        self.check_unlocked()?;
        self.inner
            .store
            .call(move |s| s.set_group_disappear(group, timer))
            .await?;
        self.emit(Event::GroupsChanged);
        Ok(())
    }

    /// Keep the group's history, or delete it when the app closes.
    pub async fn set_group_history(&self, group: GroupId, history: HistoryPolicy) -> Result<()> {
        self.check_unlocked()?;
        self.inner
            .store
            .call(move |s| s.set_group_history(group, history))
            .await?;
        self.emit(Event::GroupsChanged);
        Ok(())
    }

    /// Delete the group's posts here (the group and its members stay).
    /// Returns how many were removed.
    pub async fn clear_group_history(&self, group: GroupId) -> Result<usize> {
        self.check_unlocked()?;
        let (n, gone) = self
            .inner
            .store
            .call(move |s| {
                let n = s.clear_group_history(group)?;
                let gone: Vec<GroupMessageId> = s
                    .group_tombstones(group)?
                    .into_iter()
                    .map(|(id, _, _)| id)
                    .collect();
                Ok((n, gone))
            })
            .await?;
        forget(&self.inner, group, &gone).await?;
        Ok(n)
    }

    /// Delete a group here, with its history (after leaving it, or a
    /// dissolved one).
    pub async fn delete_group(&self, group: GroupId) -> Result<()> {
        self.check_unlocked()?;
        self.inner
            .store
            .call(move |s| {
                s.delete_group(group)?;
                let mut o = Outbox::read(s)?;
                o.forget(group);
                o.write(s)?;
                ForumLocal::update(s, |l| {
                    l.forget(group);
                    Ok(())
                })
            })
            .await?;
        self.inner.groups.live.locked().remove(&group);
        self.emit(Event::GroupsChanged);
        Ok(())
    }

    /// Sign and keep a message of ours: stored, in the replica, then synced
    /// to the group's peers.
    async fn write(
        &self,
        group: GroupId,
        parent: Option<GroupMessageId>,
        body: GroupBody,
    ) -> Result<GroupMessageId> {
        let me = self.inner.identity.public().to_bytes();
        // Our messages deleted here still hold their place in our chain.
        let deleted: Vec<(u64, GroupMessageId)> = self
            .inner
            .store
            .call(move |s| {
                Ok(s.group_tombstones(group)?
                    .into_iter()
                    .filter(|(_, author, _)| *author == me)
                    .map(|(id, _, seq)| (seq, id))
                    .collect())
            })
            .await?;
        let msg = {
            let mut live = self.inner.groups.live.locked();
            let l = live
                .get_mut(&group)
                .ok_or_else(|| Error::NotFound("group".into()))?;
            if l.kind() == GroupKind::Blog {
                let owner = l.members.creator;
                if owner == me && self.inner.groups.blog_off() {
                    return Err(Error::BadInput("your blog is off (kith blog on)".into()));
                }
                blog::admits(owner, me, &body, parent)
                    .map_err(|why| Error::BadInput(format!("not allowed in a blog: {why}")))?;
            } else if !l.members.current.contains(&me) {
                return Err(Error::BadInput(format!(
                    "not a member of that {}",
                    noun(l.kind())
                )));
            }
            match (&body, l.kind()) {
                (GroupBody::Remove { .. }, GroupKind::Forum) => {
                    return Err(Error::BadInput("nobody removes from a forum".into()));
                }
                (GroupBody::Hidden { .. }, kind)
                    if kind != GroupKind::Forum || l.members.creator != me =>
                {
                    return Err(Error::BadInput(
                        "only the forum's creator publishes its hidden list".into(),
                    ));
                }
                (
                    GroupBody::Create { .. }
                    | GroupBody::CreateForum { .. }
                    | GroupBody::CreateBlog,
                    _,
                ) => {
                    return Err(Error::BadInput("a group has one first message".into()));
                }
                _ => {}
            }
            let last = l
                .replica
                .accepted()
                .filter(|m| m.content().author == me)
                .map(|m| (m.content().seq, m.id()))
                .chain(deleted)
                .max_by_key(|(seq, _)| *seq);
            let (seq, previous) = match last {
                Some((seq, id)) => (seq + 1, vec![id]),
                None => (0, vec![]),
            };
            let msg = GroupMessage::sign(
                &self.inner.identity,
                GroupContent {
                    group,
                    author: me,
                    seq,
                    previous,
                    parent,
                    timestamp: Timestamp::now(),
                    body,
                },
            )?;
            match l
                .replica
                .insert(msg.clone(), Source::Local, Timestamp::now())
            {
                Ok(Inserted::Accepted(ids)) => l.accepted(&ids),
                Ok(other) => {
                    debug!("our own group message was not accepted: {other:?}");
                    return Err(Error::BadInput("the group message was not accepted".into()));
                }
                Err(e) => return Err(Error::BadInput(format!("the group refuses it: {e}"))),
            }
            msg
        };
        let id = msg.id();
        let stored = self
            .inner
            .store
            .call(move |s| {
                s.insert_group_message(
                    &msg,
                    Direction::Out,
                    GroupMessageState::Accepted,
                    Timestamp::now(),
                )
            })
            .await?;
        if let GroupInserted::Refused(why) = stored {
            return Err(Error::BadInput(format!("the group is full: {why:?}")));
        }
        self.emit(Event::GroupMessages { group });
        sync::changed(&self.inner, group);
        Ok(id)
    }
}

/// The store deleted these messages' content (for us, expired, cleared):
/// the replica keeps their ids only. Waiting messages they complete are
/// accepted and stored.
pub(crate) async fn forget(
    p: &Arc<ProfileInner>,
    group: GroupId,
    ids: &[GroupMessageId],
) -> Result<()> {
    let completed = p
        .groups
        .with(group, |l| {
            let mut done = vec![];
            for id in ids {
                done.extend(l.replica.forget_content(id).unwrap_or_default());
            }
            let msgs: Vec<GroupMessage> = done
                .iter()
                .filter_map(|m| l.replica.get(m).cloned())
                .collect();
            l.accepted(&done);
            msgs
        })
        .unwrap_or_default();
    if completed.is_empty() {
        p.emit(Event::GroupMessages { group });
    } else {
        sync::store_received(p, group, completed).await?;
    }
    Ok(())
}

/// Views of stored messages: reactions folded into their targets, lines
/// for the rest.
fn views(
    me: &[u8; 32],
    aliases: &HashMap<[u8; 32], String>,
    stored: Vec<StoredGroupMessage>,
) -> Vec<GroupMessageView> {
    // Each member's latest reaction to each message: (its seq, emoji).
    type Latest = HashMap<[u8; 32], (u64, Option<String>)>;
    let mut reactions: HashMap<GroupMessageId, Latest> = HashMap::new();
    let mut out = vec![];
    for m in stored {
        let GroupMessageContent::Body(body) = m.content else {
            continue;
        };
        let line = match body {
            GroupBody::Post { text } | GroupBody::Reblog { text, .. } => GroupLine::Post(text),
            GroupBody::Create { .. } | GroupBody::CreateForum { .. } | GroupBody::CreateBlog => {
                GroupLine::Created
            }
            GroupBody::Add { member } => GroupLine::Added(member),
            GroupBody::Remove { member } => GroupLine::Removed(member),
            GroupBody::Leave => GroupLine::Left,
            GroupBody::React { target, emoji } => {
                let slot = reactions.entry(target).or_default();
                let newer = slot.get(&m.author).is_none_or(|(seq, _)| *seq < m.seq);
                if newer {
                    slot.insert(m.author, (m.seq, emoji.map(|e| e.as_str().to_owned())));
                }
                continue;
            }
            _ => continue,
        };
        out.push(GroupMessageView {
            id: m.id,
            author: author_of(me, aliases, &m.author),
            author_key: m.author,
            body: line,
            parent: m.parent,
            time: m.timestamp,
            accepted: m.state == GroupMessageState::Accepted,
            read: m.read,
            expires_at: m.expires_at,
            reactions: vec![],
        });
    }
    for v in &mut out {
        if let Some(r) = reactions.remove(&v.id) {
            let mut r: Vec<(Author, String)> = r
                .into_iter()
                .filter_map(|(k, (_, e))| e.map(|e| (author_of(me, aliases, &k), e)))
                .collect();
            r.sort_by_key(|(a, _)| *a != Author::You);
            v.reactions = r;
        }
    }
    out
}

/// A contact invites us: kept (bounded per contact by the store), shown,
/// acknowledged. An invitation that is not the sender's own group's first
/// message is a protocol error.
pub(crate) async fn receive_invite(
    p: &Arc<ProfileInner>,
    contact: ContactId,
    invite: GroupInvite,
) -> Result<PeerMessage> {
    let c = p.store.call(move |s| s.contact(contact)).await?;
    let from = IdentityKey::from_bytes(&c.address)?;
    let create = invite
        .open(&from)
        .map_err(|_| Error::Protocol("an invitation that is not its sender's group"))?;
    let stored = p
        .store
        .call(move |s| s.receive_invitation(contact, &create, Timestamp::now()))
        .await?;
    if matches!(stored, kith_store::InvitationStored::New(_)) {
        p.emit(Event::GroupsChanged);
    }
    Ok(PeerMessage::Ack(vec![invite.id]))
}

/// An invitee answers our invitation: if it joins, we (the creator of a
/// private group, any member of a forum) add it, and the group's sync
/// brings it the messages. An answer to nothing
/// we invited it to is acknowledged and dropped.
pub(crate) async fn receive_answer(
    p: &Arc<ProfileInner>,
    contact: ContactId,
    id: MessageId,
    group: GroupId,
    accept: bool,
) -> Result<PeerMessage> {
    let c = p.store.call(move |s| s.contact(contact)).await?;
    let invited = p
        .store
        .call(move |s| {
            let mut o = Outbox::read(s)?;
            let was = o
                .invites
                .iter()
                .any(|i| i.group == group && i.contact == contact);
            o.invites
                .retain(|i| !(i.group == group && i.contact == contact));
            if was {
                o.write(s)?;
            }
            Ok(was)
        })
        .await?;
    if invited && accept {
        let profile = Profile { inner: p.clone() };
        let member = c.address;
        let me = p.identity.public().to_bytes();
        // Added already, or we left (a forum's inviter may leave before the
        // answer comes): nothing to write.
        let known = p
            .groups
            .with(group, |l| {
                l.members.current.contains(&member) || !l.members.current.contains(&me)
            })
            .unwrap_or(true);
        if !known {
            profile
                .write(group, None, GroupBody::Add { member })
                .await?;
        }
        p.emit(Event::GroupsChanged);
    }
    Ok(PeerMessage::Ack(vec![id]))
}

/// A member who is our contact reveals it: kept, so that ours makes the
/// sync direct. From anyone else (not a member, a group we do not hold),
/// acknowledged and dropped.
pub(crate) async fn receive_reveal(
    p: &Arc<ProfileInner>,
    contact: ContactId,
    id: MessageId,
    group: GroupId,
) -> Result<PeerMessage> {
    let c = p.store.call(move |s| s.contact(contact)).await?;
    let key = c.address;
    let member = p
        .groups
        .with(group, |l| {
            l.kind() == GroupKind::Group && l.members.current.contains(&key)
        })
        .unwrap_or(false);
    if member {
        p.store
            .call(move |s| {
                let mut o = Outbox::read(s)?;
                if !o.they_revealed(group, &key) {
                    o.theirs.push((group, key));
                    o.write(s)?;
                }
                Ok(())
            })
            .await?;
        p.emit(Event::GroupsChanged);
        // Mutual now, perhaps: sync.
        crate::net::outbox_changed(p, contact);
    }
    Ok(PeerMessage::Ack(vec![id]))
}

/// The contact acknowledged `id`: `true` if it was an invitation, answer
/// or reveal of ours.
pub(crate) fn acked(
    s: &mut kith_store::Store,
    contact: ContactId,
    id: MessageId,
) -> kith_store::Result<bool> {
    let mut o = Outbox::read(s)?;
    if o.acked(contact, id) {
        o.write(s)?;
        return Ok(true);
    }
    Ok(false)
}

/// What waits for the contact (invitations, answers, reveals).
pub(crate) fn outbox(
    s: &kith_store::Store,
    contact: ContactId,
) -> kith_store::Result<Vec<PeerMessage>> {
    Outbox::read(s)?.for_contact(s, contact)
}

/// Whether we sync `group` with the member `key` (our contact `contact`).
///
/// A private group: it is the creator, or we are, or we revealed it to
/// each other; and it is a member now (or the creator of a dissolved
/// group: its `Leave` must spread).
///
/// A forum: it is a member now, and we are one (or left: our `Leave` must
/// spread); or we are joining and it is the contact who invited us.
///
/// A blog (`docs/protocol.md` § 17): ours with every accepted contact
/// unless we turned it off; a contact's with that contact only (its
/// owner), so comments reach the other readers through the owner.
pub(crate) fn syncs_with(
    p: &ProfileInner,
    outbox: &Outbox,
    group: GroupId,
    contact: &kith_store::Contact,
) -> bool {
    let me = p.identity.public().to_bytes();
    let (key, accepted) = (
        &contact.address,
        contact.state == kith_store::ContactState::Accepted,
    );
    let contact = contact.id;
    p.groups
        .with(group, |l| {
            let m = &l.members;
            if l.kind() == GroupKind::Blog {
                return accepted
                    && if m.creator == me {
                        !p.groups.blog_off()
                    } else {
                        *key == m.creator
                    };
            }
            if l.kind() == GroupKind::Forum {
                let joining = !m.ever.contains(&me) && l.via == Some(contact);
                let we = m.current.contains(&me) || m.left.contains(&me);
                return joining || (we && m.current.contains(key));
            }
            let member = m.current.contains(key) || (m.dissolved && *key == m.creator);
            // Joining (not added yet), we sync with the creator only.
            let we_member = m.current.contains(&me) || m.creator == me || *key == m.creator;
            member
                && we_member
                && (*key == m.creator
                    || me == m.creator
                    || (outbox.we_revealed(group, contact) && outbox.they_revealed(group, key)))
        })
        .unwrap_or(false)
}

pub(crate) fn read_outbox(s: &kith_store::Store) -> kith_store::Result<Outbox> {
    Outbox::read(s)
}

#[cfg(test)]
mod tests;
