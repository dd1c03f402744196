//! A replica of one group's messages: what a member holds, checked on the
//! way in.
//!
//! Every message is verified (signature, bounds, chain shape: see
//! `kith_core::group`) before it is kept. A message whose predecessors
//! (`previous`) are not all here is kept as *waiting*: it is counted, it
//! takes part in reconciliation (we do hold it), and it is accepted as soon
//! as its predecessors are, after the chain check (same author, sequence
//! numbers that follow). [`Replica::missing`] gives the honest count of the
//! messages known to exist and not received.
//!
//! A message deleted here (for us, or at its disappearing deadline) stays
//! as a *tombstone*: its id, author and sequence number, without its bytes
//! ([`Replica::insert_tombstone`] when rebuilding from the store,
//! [`Replica::forget_content`] while running). A tombstone is known and
//! accepted: it takes part in reconciliation (so that nobody sends it again
//! and we never ask for it), a relayed copy is [`Inserted::Known`], its
//! author's later messages are checked against its author and sequence
//! number, and it is not counted missing. It is never given out:
//! [`Replica::get`] and [`Replica::accepted`] skip it, so a peer's `Want` of
//! it is answered as for an id we do not hold.
//!
//! Caps (see [`Limits`]) bound what one author and one relayer can make a
//! replica hold: over a cap, the message is refused with
//! [`Error::OverCap`].
//!
//! Who may write what is decided above this crate and handed down: the
//! authors taken ([`Replica::set_members`]) and, for a policy that looks
//! at a message's body (a blog's readers comment, only its owner posts),
//! a rule checked before a message is kept ([`Replica::set_admit`]).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use kith_core::Timestamp;
use kith_core::group::{GroupId, GroupMessage, GroupMessageId};

use crate::Error;

/// One item of a replica: a held message's timestamp and id, ordered by
/// both (the order of [`Replica::accepted`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Item {
    /// The message's timestamp (ms).
    pub timestamp: u64,
    /// The message's id.
    pub id: GroupMessageId,
}

/// Where a message came from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Source {
    /// Written here: no relayer caps.
    Local,
    /// Relayed by the peer with this identity key.
    Peer([u8; 32]),
}

/// The caps of a replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most messages kept from one author.
    pub messages_per_author: usize,
    /// Most bytes (encoded messages) kept from one author.
    pub bytes_per_author: usize,
    /// Most waiting messages in the replica.
    pub waiting: usize,
    /// Most waiting messages relayed by one peer.
    pub waiting_per_relayer: usize,
    /// Length of a relayer's window, in ms.
    pub relayer_window_ms: u64,
    /// Most new messages taken from one relayer in a window.
    pub messages_per_relayer_window: usize,
    /// Most new bytes taken from one relayer in a window.
    pub bytes_per_relayer_window: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            messages_per_author: 100_000,
            bytes_per_author: 64 * 1024 * 1024,
            waiting: 10_000,
            waiting_per_relayer: 2_000,
            relayer_window_ms: 60_000,
            messages_per_relayer_window: 20_000,
            bytes_per_relayer_window: 32 * 1024 * 1024,
        }
    }
}

/// What became of an inserted message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Accepted: this message and the waiting ones it completed, in order.
    Accepted(Vec<GroupMessageId>),
    /// Kept, waiting for this many of its predecessors.
    Waiting {
        /// Predecessors not yet accepted.
        predecessors: usize,
    },
    /// Already here.
    Known,
}

struct Entry {
    held: Held,
    source: Source,
    /// Predecessors not yet accepted; 0 once accepted (always for a
    /// tombstone).
    unmet: usize,
}

/// What is kept of a known message.
enum Held {
    /// The signed message (boxed, so that a tombstone is small).
    Message(Box<GroupMessage>),
    /// A tombstone: the message was deleted here; what its author's chain
    /// needs of it remains.
    Tombstone { author: [u8; 32], seq: u64 },
}

impl Entry {
    fn message(&self) -> Option<&GroupMessage> {
        match &self.held {
            Held::Message(m) => Some(m.as_ref()),
            Held::Tombstone { .. } => None,
        }
    }

    fn author(&self) -> [u8; 32] {
        match &self.held {
            Held::Message(m) => m.content().author,
            Held::Tombstone { author, .. } => *author,
        }
    }

    fn seq(&self) -> u64 {
        match &self.held {
            Held::Message(m) => m.content().seq,
            Held::Tombstone { seq, .. } => *seq,
        }
    }

    /// Make it a tombstone: the message, if it held one.
    fn forget(&mut self) -> Option<Box<GroupMessage>> {
        let tombstone = Held::Tombstone {
            author: self.author(),
            seq: self.seq(),
        };
        match std::mem::replace(&mut self.held, tombstone) {
            Held::Message(m) => Some(m),
            Held::Tombstone { .. } => None,
        }
    }
}

#[derive(Default)]
struct AuthorStats {
    messages: usize,
    bytes: usize,
    seqs: BTreeSet<u64>,
}

struct RelayerWindow {
    start: Timestamp,
    messages: usize,
    bytes: usize,
    waiting: usize,
}

/// A group policy's rule on a verified message: `Err` with the reason
/// (a static text, never the message's content) if the group does not take
/// it.
pub type Admit = Arc<dyn Fn(&GroupMessage) -> Result<(), &'static str> + Send + Sync>;

/// One group's messages, as this member holds them.
pub struct Replica {
    group: GroupId,
    limits: Limits,
    members: Option<HashSet<[u8; 32]>>,
    admit: Option<Admit>,
    /// The messages held (not the tombstones), in order.
    items: BTreeSet<Item>,
    /// Every known id: messages held and tombstones.
    entries: HashMap<GroupMessageId, Entry>,
    /// Missing or waiting predecessor → the waiting messages naming it.
    blocked: HashMap<GroupMessageId, Vec<GroupMessageId>>,
    authors: HashMap<[u8; 32], AuthorStats>,
    relayers: HashMap<[u8; 32], RelayerWindow>,
    waiting: usize,
    /// Ids of messages refused for what they are (forged, malformed, out of
    /// chain), most recent last: not asked for again.
    refused: HashSet<GroupMessageId>,
    refused_order: VecDeque<GroupMessageId>,
}

/// Most refused ids remembered.
const MAX_REFUSED: usize = 10_000;

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("group", &self.group)
            .field("messages", &self.entries.len())
            .field("waiting", &self.waiting)
            .finish_non_exhaustive()
    }
}

impl Replica {
    /// An empty replica of `group`.
    pub fn new(group: GroupId, limits: Limits) -> Self {
        Replica {
            group,
            limits,
            members: None,
            admit: None,
            items: BTreeSet::new(),
            entries: HashMap::new(),
            blocked: HashMap::new(),
            authors: HashMap::new(),
            relayers: HashMap::new(),
            waiting: 0,
            refused: HashSet::new(),
            refused_order: VecDeque::new(),
        }
    }

    /// The group.
    pub fn group(&self) -> GroupId {
        self.group
    }

    /// Only messages by these authors are taken from now on (`None`: any
    /// author). Membership itself is decided above this crate.
    pub fn set_members(&mut self, members: Option<HashSet<[u8; 32]>>) {
        self.members = members;
    }

    /// Only messages `admit` takes are kept from now on (`None`: any
    /// message of a member): refused with [`Error::NotAllowed`], and not
    /// asked for again ([`Self::was_refused`]). Checked after the author's
    /// membership, before the caps and the chain.
    pub fn set_admit(&mut self, admit: Option<Admit>) {
        self.admit = admit;
    }

    /// Take a message as received from `source` at `now`: the id is checked
    /// first (a known message costs no signature check), then the relayer's
    /// caps, then the message itself.
    pub fn insert_encoded(
        &mut self,
        bytes: &[u8],
        source: Source,
        now: Timestamp,
    ) -> Result<Inserted, Error> {
        let id = GroupMessageId::of(bytes);
        if self.entries.contains_key(&id) {
            return Ok(Inserted::Known);
        }
        self.charge_relayer(source, bytes.len(), now)?;
        let result = GroupMessage::decode(bytes)
            .map_err(Error::Message)
            .and_then(|msg| self.insert_checked(msg, source));
        if let Err(
            Error::Message(_) | Error::BadChain(_) | Error::WrongGroup | Error::NotAllowed(_),
        ) = &result
        {
            self.remember_refused(id);
        }
        result
    }

    fn remember_refused(&mut self, id: GroupMessageId) {
        if self.refused.insert(id) {
            self.refused_order.push_back(id);
            if self.refused_order.len() > MAX_REFUSED
                && let Some(old) = self.refused_order.pop_front()
            {
                self.refused.remove(&old);
            }
        }
    }

    /// Whether a message with this id was refused for what it is (forged,
    /// malformed, out of chain, of another group): not worth asking for
    /// again. The last 10 000 such ids are remembered.
    pub fn was_refused(&self, id: &GroupMessageId) -> bool {
        self.refused.contains(id)
    }

    /// Take a message already decoded (or written here).
    pub fn insert(
        &mut self,
        msg: GroupMessage,
        source: Source,
        now: Timestamp,
    ) -> Result<Inserted, Error> {
        if self.entries.contains_key(&msg.id()) {
            return Ok(Inserted::Known);
        }
        self.charge_relayer(source, msg.encoded().len(), now)?;
        self.insert_checked(msg, source)
    }

    /// Know a message deleted here, as a tombstone (from the store, when
    /// rebuilding the replica at start): its id, author and sequence
    /// number, without its content. It counts against its author's message
    /// cap (not the byte cap), is accepted, and accepts what waited only
    /// for it: `Accepted` with it first, as for [`Self::insert`]; `Known`
    /// if the id is known already (a message held is made a tombstone by
    /// [`Self::forget_content`]).
    pub fn insert_tombstone(
        &mut self,
        id: GroupMessageId,
        author: [u8; 32],
        seq: u64,
    ) -> Result<Inserted, Error> {
        if self.entries.contains_key(&id) {
            return Ok(Inserted::Known);
        }
        self.author_room(&author, 0)?;
        let s = self.authors.entry(author).or_default();
        s.messages += 1;
        s.seqs.insert(seq);
        self.entries.insert(
            id,
            Entry {
                held: Held::Tombstone { author, seq },
                source: Source::Local,
                unmet: 0,
            },
        );
        Ok(Inserted::Accepted(self.cascade(id)))
    }

    /// The node deleted this message here (for us, or at its deadline):
    /// keep it as a tombstone and drop its bytes. `None` if it is not held
    /// (unknown, or a tombstone already). A waiting message becomes an
    /// accepted tombstone (as it is rebuilt from the store), so the
    /// messages that waited only for it are accepted: `Some` of those, in
    /// order (empty if it was accepted already).
    pub fn forget_content(&mut self, id: &GroupMessageId) -> Option<Vec<GroupMessageId>> {
        let e = self.entries.get_mut(id)?;
        let msg = e.forget()?;
        let was_waiting = std::mem::take(&mut e.unmet) > 0;
        let source = e.source;
        self.items.remove(&item(&msg));
        let c = msg.content();
        if let Some(s) = self.authors.get_mut(&c.author) {
            s.bytes = s.bytes.saturating_sub(msg.encoded().len());
        }
        if !was_waiting {
            return Some(Vec::new());
        }
        self.release_waiting(source);
        // It no longer waits for its predecessors.
        for p in &c.previous {
            if let Some(w) = self.blocked.get_mut(p) {
                w.retain(|w| w != id);
                if w.is_empty() {
                    self.blocked.remove(p);
                }
            }
        }
        let mut accepted = self.cascade(*id);
        accepted.remove(0);
        Some(accepted)
    }

    /// Whether `author` may have one more message of `bytes` bytes.
    fn author_room(&self, author: &[u8; 32], bytes: usize) -> Result<(), Error> {
        let stats = self.authors.get(author);
        let (count, held) = stats.map_or((0, 0), |s| (s.messages, s.bytes));
        if count >= self.limits.messages_per_author {
            return Err(Error::OverCap {
                what: "messages of one author",
                max: self.limits.messages_per_author,
            });
        }
        if held + bytes > self.limits.bytes_per_author {
            return Err(Error::OverCap {
                what: "bytes of one author",
                max: self.limits.bytes_per_author,
            });
        }
        Ok(())
    }

    fn charge_relayer(&mut self, source: Source, len: usize, now: Timestamp) -> Result<(), Error> {
        let Source::Peer(key) = source else {
            return Ok(());
        };
        let limits = self.limits;
        let w = self.relayers.entry(key).or_insert(RelayerWindow {
            start: now,
            messages: 0,
            bytes: 0,
            waiting: 0,
        });
        if now.0 >= w.start.0.saturating_add(limits.relayer_window_ms) || now < w.start {
            w.start = now;
            w.messages = 0;
            w.bytes = 0;
        }
        if w.messages >= limits.messages_per_relayer_window {
            return Err(Error::OverCap {
                what: "messages relayed by one peer in a window",
                max: limits.messages_per_relayer_window,
            });
        }
        if w.bytes + len > limits.bytes_per_relayer_window {
            return Err(Error::OverCap {
                what: "bytes relayed by one peer in a window",
                max: limits.bytes_per_relayer_window,
            });
        }
        w.messages += 1;
        w.bytes += len;
        Ok(())
    }

    fn insert_checked(&mut self, msg: GroupMessage, source: Source) -> Result<Inserted, Error> {
        let c = msg.content();
        if c.group != self.group {
            return Err(Error::WrongGroup);
        }
        if let Some(m) = &self.members
            && !m.contains(&c.author)
        {
            return Err(Error::NotAMember);
        }
        if let Some(admit) = &self.admit {
            admit(&msg).map_err(Error::NotAllowed)?;
        }
        self.author_room(&c.author, msg.encoded().len())?;
        // Check what can be checked of the chain now.
        let mut unmet = 0;
        for p in &c.previous {
            match self.entries.get(p) {
                Some(e) if e.unmet == 0 => check_link(e, &msg)?,
                _ => unmet += 1,
            }
        }
        if unmet == 0 {
            check_top(self, &msg)?;
        } else {
            if self.waiting >= self.limits.waiting {
                return Err(Error::OverCap {
                    what: "waiting messages",
                    max: self.limits.waiting,
                });
            }
            if let Source::Peer(k) = source
                && let Some(w) = self.relayers.get(&k)
                && w.waiting >= self.limits.waiting_per_relayer
            {
                return Err(Error::OverCap {
                    what: "waiting messages relayed by one peer",
                    max: self.limits.waiting_per_relayer,
                });
            }
        }
        // Keep it.
        let id = msg.id();
        let s = self.authors.entry(c.author).or_default();
        s.messages += 1;
        s.bytes += msg.encoded().len();
        s.seqs.insert(c.seq);
        self.items.insert(item(&msg));
        if unmet > 0 {
            for p in &c.previous {
                if self.entries.get(p).is_none_or(|e| e.unmet > 0) {
                    self.blocked.entry(*p).or_default().push(id);
                }
            }
            self.waiting += 1;
            if let Source::Peer(k) = source
                && let Some(w) = self.relayers.get_mut(&k)
            {
                w.waiting += 1;
            }
        }
        self.entries.insert(
            id,
            Entry {
                held: Held::Message(Box::new(msg)),
                source,
                unmet,
            },
        );
        if unmet > 0 {
            return Ok(Inserted::Waiting {
                predecessors: unmet,
            });
        }
        Ok(Inserted::Accepted(self.cascade(id)))
    }

    /// `id` was accepted: accept what waited only for it, depth first.
    fn cascade(&mut self, id: GroupMessageId) -> Vec<GroupMessageId> {
        let mut accepted = vec![id];
        let mut stack = vec![id];
        while let Some(done) = stack.pop() {
            for w in self.blocked.remove(&done).unwrap_or_default() {
                // Only messages wait (a tombstone is accepted).
                let Some(e) = self.entries.get_mut(&w).filter(|e| e.unmet > 0) else {
                    continue;
                };
                e.unmet -= 1;
                if e.unmet > 0 {
                    continue;
                }
                let source = e.source;
                let Some(msg) = e.message().cloned() else {
                    continue;
                };
                self.release_waiting(source);
                let ok = msg.content().previous.iter().all(|p| {
                    self.entries
                        .get(p)
                        .is_some_and(|pe| check_link(pe, &msg).is_ok())
                }) && check_top(self, &msg).is_ok();
                if ok {
                    accepted.push(w);
                    stack.push(w);
                } else {
                    self.drop_rejected(w);
                }
            }
        }
        accepted
    }

    fn release_waiting(&mut self, source: Source) {
        self.waiting = self.waiting.saturating_sub(1);
        if let Source::Peer(k) = source
            && let Some(r) = self.relayers.get_mut(&k)
        {
            r.waiting = r.waiting.saturating_sub(1);
        }
    }

    /// A waiting message that turned out out of chain, and what waited on it.
    fn drop_rejected(&mut self, id: GroupMessageId) {
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            // Only what waits is dropped: never an accepted message, never
            // a tombstone.
            let Some(e) = self.entries.remove(&id) else {
                continue;
            };
            self.remember_refused(id);
            if e.unmet > 0 {
                self.release_waiting(e.source);
            }
            let size = e.message().map_or(0, |m| {
                self.items.remove(&item(m));
                m.encoded().len()
            });
            if let Some(s) = self.authors.get_mut(&e.author()) {
                s.messages = s.messages.saturating_sub(1);
                s.bytes = s.bytes.saturating_sub(size);
                s.seqs.remove(&e.seq());
            }
            stack.extend(self.blocked.remove(&id).unwrap_or_default());
        }
    }

    /// Whether this id is known: a message here (accepted or waiting) or a
    /// tombstone.
    pub fn contains(&self, id: &GroupMessageId) -> bool {
        self.entries.contains_key(id)
    }

    /// A message held, accepted or waiting (not a tombstone: its content
    /// is gone).
    pub fn get(&self, id: &GroupMessageId) -> Option<&GroupMessage> {
        self.entries.get(id).and_then(Entry::message)
    }

    /// Whether the message is accepted (its whole chain is here). A
    /// tombstone is.
    pub fn is_accepted(&self, id: &GroupMessageId) -> bool {
        self.entries.get(id).is_some_and(|e| e.unmet == 0)
    }

    /// Whether this id is a tombstone: known, its content deleted here.
    pub fn is_tombstone(&self, id: &GroupMessageId) -> bool {
        self.entries.get(id).is_some_and(|e| e.message().is_none())
    }

    /// Ids known: messages held (accepted and waiting) and tombstones.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no id is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Messages held waiting for predecessors.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Messages known to exist and not here: per author, the sequence
    /// numbers below the highest one held that are not held ("N messages
    /// not yet received").
    pub fn missing(&self) -> u64 {
        self.authors
            .values()
            .filter_map(|s| {
                let top = *s.seqs.last()?;
                Some(top + 1 - s.seqs.len() as u64)
            })
            .sum()
    }

    /// Predecessors named by waiting messages and not here: what to ask for.
    pub fn wanted_predecessors(&self) -> Vec<GroupMessageId> {
        self.blocked
            .keys()
            .filter(|id| !self.entries.contains_key(id))
            .copied()
            .collect()
    }

    /// The messages held (accepted or waiting; not the tombstones), in
    /// order.
    pub fn items(&self) -> Vec<Item> {
        self.items.iter().copied().collect()
    }

    /// Every known id (messages accepted or waiting, and tombstones), in no
    /// particular order: what takes part in reconciliation.
    pub fn ids(&self) -> impl Iterator<Item = GroupMessageId> + '_ {
        self.entries.keys().copied()
    }

    /// Accepted messages in `(timestamp, id)` order (not the tombstones).
    pub fn accepted(&self) -> impl Iterator<Item = &GroupMessage> {
        self.items
            .iter()
            .filter_map(|i| self.entries.get(&i.id))
            .filter(|e| e.unmet == 0)
            .filter_map(Entry::message)
    }
}

/// A held message's item.
fn item(msg: &GroupMessage) -> Item {
    Item {
        timestamp: msg.content().timestamp.0,
        id: msg.id(),
    }
}

/// `prev` is a predecessor named by `msg`: same author, earlier in the
/// chain. A tombstone is checked by its author and sequence number.
fn check_link(prev: &Entry, msg: &GroupMessage) -> Result<(), Error> {
    if prev.author() != msg.content().author {
        return Err(Error::BadChain("names another author's message"));
    }
    if prev.seq() >= msg.content().seq {
        return Err(Error::BadChain("names a later message"));
    }
    Ok(())
}

/// With every predecessor here: the latest of them is right before `msg`.
fn check_top(r: &Replica, msg: &GroupMessage) -> Result<(), Error> {
    let c = msg.content();
    let top = c
        .previous
        .iter()
        .filter_map(|p| r.entries.get(p))
        .map(Entry::seq)
        .max();
    match top {
        None if c.seq == 0 => Ok(()),
        Some(t) if t + 1 == c.seq => Ok(()),
        _ => Err(Error::BadChain(
            "sequence number does not follow its predecessors",
        )),
    }
}

#[cfg(test)]
mod tests;
