//! One group's sync with one peer, from reconciliation to the last message
//! (`docs/protocol.md` § 14.4): the state machine the node runs over a
//! session. It takes each [`SyncFrame`] the peer sent and gives the frames
//! to send back; it never does I/O.

use std::collections::BTreeSet;

use kith_core::Timestamp;
use kith_core::group::{GroupId, GroupMessageId};

use crate::Error;
use crate::frame::{self, MAX_WANT, SyncFrame};
use crate::reconcile::{Key, Outcome, Reconciler};
use crate::replica::{Inserted, Replica, Source};

/// What handling one frame gave.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Output {
    /// Encoded frames to send to the peer, in order.
    pub send: Vec<Vec<u8>>,
    /// Messages accepted into the replica (new, with their whole chain).
    pub accepted: Vec<GroupMessageId>,
    /// Messages kept waiting for predecessors.
    pub waiting: usize,
    /// Messages the peer sent that were refused (forged, altered, out of
    /// chain, over a cap), with why. The node decides what to do with a
    /// peer that relays such things; nothing of them was kept.
    pub refused: Vec<Error>,
}

/// One group's sync with one peer.
pub struct GroupSync {
    group: GroupId,
    peer: Source,
    reconciler: Option<Reconciler>,
    /// Asked for by id and not yet received.
    wanted: BTreeSet<GroupMessageId>,
    /// Asked for by key (the responder's view of what it lacks) and not
    /// yet received.
    wanted_keys: BTreeSet<Key>,
    /// Asks (`Want` frames, the reconciliation's lists) not yet answered
    /// to their `end`.
    open_wants: usize,
    /// Asked for, and the peer answered it does not have them.
    unavailable: BTreeSet<GroupMessageId>,
    /// Ids answered so far: at most what we hold, plus one `Want`.
    answered: usize,
    bytes_in: usize,
    bytes_out: usize,
}

impl std::fmt::Debug for GroupSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupSync")
            .field("group", &self.group)
            .field("wanted", &(self.wanted.len() + self.wanted_keys.len()))
            .finish_non_exhaustive()
    }
}

impl GroupSync {
    /// Start a sync with `peer`: the sync and its first frame. `salt`: 16
    /// random bytes, fresh for each sync (the caller draws them; they key
    /// the reconciliation so that no member can grind ids against it).
    pub fn initiate(
        replica: &Replica,
        peer: [u8; 32],
        salt: [u8; 16],
    ) -> Result<(Self, Vec<u8>), Error> {
        let (r, first) = Reconciler::initiate(replica.ids(), salt)?;
        let mut s = GroupSync::respond_to(replica.group(), peer);
        s.reconciler = Some(r);
        let frame = s.encode(&SyncFrame::Reconcile {
            group: s.group,
            message: first,
        })?;
        Ok((s, frame))
    }

    /// The side that did not start: made when the first frame of `peer`
    /// for `group` arrives, then given that frame through [`Self::handle`].
    pub fn respond_to(group: GroupId, peer: [u8; 32]) -> Self {
        GroupSync {
            group,
            peer: Source::Peer(peer),
            reconciler: None,
            wanted: BTreeSet::new(),
            wanted_keys: BTreeSet::new(),
            open_wants: 0,
            unavailable: BTreeSet::new(),
            answered: 0,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// Handle one frame from the peer (as received, encoded). A frame that
    /// does not decode, or breaks the exchange, is an error: close the
    /// sync. Refused messages inside a `Messages` frame are reported in
    /// [`Output::refused`] and do not stop the rest.
    pub fn handle(
        &mut self,
        replica: &mut Replica,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<Output, Error> {
        self.bytes_in += bytes.len();
        let frame = frame::decode(bytes)?;
        if frame.group() != self.group || replica.group() != self.group {
            return Err(Error::WrongGroup);
        }
        let mut out = Output::default();
        match frame {
            SyncFrame::Reconcile { message, .. } => {
                if self.reconciler.is_none() {
                    self.reconciler = Some(Reconciler::respond_to(replica.ids())?);
                }
                let r = self
                    .reconciler
                    .as_mut()
                    .ok_or(Error::Bug("reconciler just made"))?;
                let step = r.handle(&message)?;
                for m in step.send {
                    out.send.push(self.encode(&SyncFrame::Reconcile {
                        group: self.group,
                        message: m,
                    })?);
                }
                if let Some(o) = step.done {
                    self.reconciled(replica, o, &mut out)?;
                }
            }
            SyncFrame::Want { ids, .. } => {
                self.answered += ids.len();
                let max = replica.len() + MAX_WANT;
                if self.answered > max {
                    return Err(Error::OverCap {
                        what: "ids asked for in one sync",
                        max,
                    });
                }
                for f in frame::answer_want(replica, &ids) {
                    out.send.push(self.encode(&f)?);
                }
            }
            SyncFrame::Messages { messages, end, .. } => {
                for m in messages {
                    let id = GroupMessageId::of(&m);
                    self.wanted.remove(&id);
                    if let Some(k) = self.reconciler.as_ref().and_then(|r| r.key_of(&id)) {
                        self.wanted_keys.remove(&k);
                    }
                    match replica.insert_encoded(&m, self.peer, now) {
                        Ok(Inserted::Accepted(ids)) => out.accepted.extend(ids),
                        Ok(Inserted::Waiting { .. }) => out.waiting += 1,
                        Ok(Inserted::Known) => {}
                        Err(e) => out.refused.push(e),
                    }
                }
                if end {
                    self.open_wants = self.open_wants.checked_sub(1).ok_or(Error::Decode {
                        object: "sync frame",
                        reason: "an answer to no want",
                    })?;
                    if self.open_wants == 0 {
                        // Every ask is answered: the rest the peer lacks
                        // (those asked by key it held when the sync began,
                        // and has dropped since).
                        self.unavailable.append(&mut self.wanted);
                        self.wanted_keys.clear();
                    }
                }
                // Predecessors named by what waits: ask for them too (once).
                let more: Vec<GroupMessageId> = replica
                    .wanted_predecessors()
                    .into_iter()
                    .filter(|id| !self.wanted.contains(id) && !self.unavailable.contains(id))
                    .collect();
                self.want(&more, &mut out)?;
            }
        }
        Ok(out)
    }

    /// The reconciliation is over: send what the peer lacks (the asked for
    /// end their answer with `end`), wait for what we lack.
    fn reconciled(&mut self, replica: &Replica, o: Outcome, out: &mut Output) -> Result<(), Error> {
        // The peer sends what we lack without being asked: by id on the
        // initiator, by key on the responder; one answer either way.
        if !o.need.is_empty() || !o.need_keys.is_empty() {
            self.open_wants += 1;
        }
        self.wanted.extend(
            o.need
                .into_iter()
                .filter(|id| !replica.contains(id) && !replica.was_refused(id)),
        );
        self.wanted_keys.extend(o.need_keys);
        if !o.give.is_empty() {
            for f in frame::answer_want(replica, &o.give) {
                out.send.push(self.encode(&f)?);
            }
        }
        Ok(())
    }

    fn want(&mut self, ids: &[GroupMessageId], out: &mut Output) -> Result<(), Error> {
        self.wanted.extend(ids.iter().copied());
        for f in frame::want_frames(self.group, ids) {
            self.open_wants += 1;
            out.send.push(self.encode(&f)?);
        }
        Ok(())
    }

    fn encode(&mut self, f: &SyncFrame) -> Result<Vec<u8>, Error> {
        let b = frame::encode(f)?;
        self.bytes_out += b.len();
        Ok(b)
    }

    /// Whether this side is done: the reconciliation is over and every
    /// `Want` is answered.
    pub fn is_done(&self) -> bool {
        self.reconciler.as_ref().is_some_and(Reconciler::is_done) && self.open_wants == 0
    }

    /// Ids asked for and not yet received (those the responder asked for
    /// by key are counted in [`Self::wanted_by_key`]).
    pub fn wanted(&self) -> &BTreeSet<GroupMessageId> {
        &self.wanted
    }

    /// Messages the responder asked for by key and not yet received.
    pub fn wanted_by_key(&self) -> usize {
        self.wanted_keys.len()
    }

    /// Ids asked for that the peer answered it does not have (a
    /// predecessor it never received either): ask another member.
    pub fn unavailable(&self) -> &BTreeSet<GroupMessageId> {
        &self.unavailable
    }

    /// Bytes of frames received and sent so far.
    pub fn bytes(&self) -> (usize, usize) {
        (self.bytes_in, self.bytes_out)
    }

    /// The group.
    pub fn group(&self) -> GroupId {
        self.group
    }
}

#[cfg(test)]
mod tests {
    use kith_core::IdentityKeypair;
    use kith_core::group::{GroupBody, GroupContent, GroupMessage};

    use super::*;
    use crate::replica::Limits;

    const GROUP: GroupId = GroupId([7; 32]);
    const NOW: Timestamp = Timestamp(1_700_000_000_000);

    fn chain(n: u8, len: u64) -> Vec<GroupMessage> {
        let k = IdentityKeypair::from_seed(&[n; 32]);
        let mut out: Vec<GroupMessage> = Vec::new();
        for seq in 0..len {
            let c = GroupContent {
                group: GROUP,
                author: k.public().to_bytes(),
                seq,
                previous: out.last().map(|m| vec![m.id()]).unwrap_or_default(),
                parent: None,
                timestamp: Timestamp(NOW.0 + seq * 1000 + u64::from(n)),
                body: GroupBody::Post {
                    text: format!("post {seq} by {n}"),
                },
            };
            out.push(GroupMessage::sign(&k, c).unwrap());
        }
        out
    }

    /// A finished sync between `a` (the initiator) and `b`.
    struct Run {
        sa: GroupSync,
        sb: GroupSync,
        rounds: usize,
        /// Every frame sent, either way.
        frames: Vec<SyncFrame>,
    }

    /// Run two syncs against each other until neither has anything to send.
    fn exchange(a: &mut Replica, b: &mut Replica) -> Run {
        let (mut sa, first) = GroupSync::initiate(a, [2; 32], [5; 16]).unwrap();
        let mut sb = GroupSync::respond_to(GROUP, [1; 32]);
        let mut frames = Vec::new();
        let mut to_b = vec![first];
        let mut to_a: Vec<Vec<u8>> = Vec::new();
        let mut rounds = 0;
        while !to_a.is_empty() || !to_b.is_empty() {
            rounds += 1;
            assert!(rounds < 100);
            for f in std::mem::take(&mut to_b) {
                frames.push(frame::decode(&f).unwrap());
                let o = sb.handle(b, &f, NOW).unwrap();
                assert!(o.refused.is_empty(), "{:?}", o.refused);
                to_a.extend(o.send);
            }
            for f in std::mem::take(&mut to_a) {
                frames.push(frame::decode(&f).unwrap());
                let o = sa.handle(a, &f, NOW).unwrap();
                assert!(o.refused.is_empty(), "{:?}", o.refused);
                to_b.extend(o.send);
            }
        }
        assert!(sa.is_done() && sb.is_done());
        let (ain, aout) = sa.bytes();
        let (bin, bout) = sb.bytes();
        assert_eq!((ain, aout), (bout, bin));
        Run {
            sa,
            sb,
            rounds,
            frames,
        }
    }

    /// [`exchange`]: bytes and rounds.
    fn run(a: &mut Replica, b: &mut Replica) -> (usize, usize) {
        let r = exchange(a, b);
        let (bytes_in, bytes_out) = r.sa.bytes();
        (bytes_in + bytes_out, r.rounds)
    }

    /// Whether a frame asks for `id` or carries it.
    fn names(f: &SyncFrame, m: &GroupMessage) -> bool {
        match f {
            SyncFrame::Want { ids, .. } => ids.contains(&m.id()),
            SyncFrame::Messages { messages, .. } => {
                messages.iter().any(|b| b.as_slice() == m.encoded())
            }
            _ => false,
        }
    }

    /// `c`, rebuilt with `c[gone]` deleted here: a tombstone.
    fn with_tombstone(c: &[GroupMessage], gone: usize) -> Replica {
        let mut r = Replica::new(GROUP, Limits::default());
        for (i, m) in c.iter().enumerate() {
            if i == gone {
                let cm = m.content();
                r.insert_tombstone(m.id(), cm.author, cm.seq).unwrap();
            } else {
                r.insert(m.clone(), Source::Local, NOW).unwrap();
            }
        }
        r
    }

    #[test]
    fn two_members_converge_with_their_chains() {
        let authors: Vec<Vec<GroupMessage>> = (1..=3).map(|n| chain(n, 200)).collect();
        let mut a = Replica::new(GROUP, Limits::default());
        let mut b = Replica::new(GROUP, Limits::default());
        for (i, m) in authors.iter().flatten().enumerate() {
            // Each lacks one message in 50, not the same: gaps in the chains.
            if i % 50 != 7 {
                a.insert(m.clone(), Source::Local, NOW).unwrap();
            }
            if i % 50 != 20 {
                b.insert(m.clone(), Source::Local, NOW).unwrap();
            }
        }
        assert!(a.missing() > 0 && b.missing() > 0);
        let (bytes, _) = run(&mut a, &mut b);
        for r in [&a, &b] {
            assert_eq!(r.len(), 600);
            assert_eq!(r.waiting(), 0);
            assert_eq!(r.missing(), 0);
        }
        assert_eq!(a.items(), b.items());
        // In sync now: one small round trip.
        let (again, rounds) = run(&mut a, &mut b);
        assert!(again < 300, "{again}");
        assert_eq!(rounds, 1);
        assert!(bytes > again);
    }

    #[test]
    fn a_few_missing_cost_a_few_hundred_bytes_either_way() {
        let msgs = chain(4, 1000);
        for lacks_first in [true, false] {
            let mut a = Replica::new(GROUP, Limits::default());
            let mut b = Replica::new(GROUP, Limits::default());
            for (i, m) in msgs.iter().enumerate() {
                // One side lacks 3 messages in the middle of the chain.
                let skip = (i == 100 || i == 500 || i == 900) && lacks_first;
                let skip_b = (i == 100 || i == 500 || i == 900) && !lacks_first;
                if !skip {
                    a.insert(m.clone(), Source::Local, NOW).unwrap();
                }
                if !skip_b {
                    b.insert(m.clone(), Source::Local, NOW).unwrap();
                }
            }
            let (mut sa, first) = GroupSync::initiate(&a, [2; 32], [8; 16]).unwrap();
            let mut sb = GroupSync::respond_to(GROUP, [1; 32]);
            let mut to_b = vec![first];
            let mut frames = 0;
            while !to_b.is_empty() {
                let mut to_a = Vec::new();
                for f in std::mem::take(&mut to_b) {
                    frames += 1;
                    to_a.extend(sb.handle(&mut b, &f, NOW).unwrap().send);
                }
                for f in to_a {
                    frames += 1;
                    to_b.extend(sa.handle(&mut a, &f, NOW).unwrap().send);
                }
            }
            assert!(sa.is_done() && sb.is_done());
            assert_eq!(a.items(), b.items());
            assert_eq!(a.len(), 1000);
            assert!(sa.wanted().is_empty() && sb.wanted_by_key() == 0);
            // Reconciliation and asks, without the messages themselves.
            let (bytes_in, bytes_out) = sa.bytes();
            let messages: usize = [100, 500, 900]
                .iter()
                .map(|&i| msgs[i].encoded().len())
                .sum();
            let overhead = bytes_in + bytes_out - messages;
            assert!(
                overhead < 900,
                "{lacks_first}: {overhead} bytes, {frames} frames"
            );
        }
    }

    #[test]
    fn a_predecessor_nobody_has_is_reported_unavailable() {
        let c = chain(1, 3);
        let mut a = Replica::new(GROUP, Limits::default());
        let mut b = Replica::new(GROUP, Limits::default());
        // b has 0 and 2, never 1; a has nothing.
        b.insert(c[0].clone(), Source::Local, NOW).unwrap();
        b.insert(c[2].clone(), Source::Local, NOW).unwrap();
        assert_eq!(b.missing(), 1);
        run(&mut a, &mut b);
        assert_eq!(a.len(), 2);
        assert_eq!(a.waiting(), 1);
        assert_eq!(a.missing(), 1);
    }

    #[test]
    fn new_member_gets_everything() {
        let mut a = Replica::new(GROUP, Limits::default());
        let mut b = Replica::new(GROUP, Limits::default());
        for m in chain(1, 300) {
            b.insert(m, Source::Local, NOW).unwrap();
        }
        run(&mut a, &mut b);
        assert_eq!(a.len(), 300);
        assert_eq!(a.accepted().count(), 300);
    }

    #[test]
    fn forged_messages_are_refused_and_reported() {
        let mut a = Replica::new(GROUP, Limits::default());
        let mut sa = GroupSync::respond_to(GROUP, [2; 32]);
        let m = chain(1, 1).remove(0);
        let mut forged = m.encoded().to_vec();
        let n = forged.len();
        forged[n - 1] ^= 1;
        let f = frame::encode(&SyncFrame::Messages {
            group: GROUP,
            messages: vec![forged, m.encoded().to_vec()],
            end: false,
        })
        .unwrap();
        let o = sa.handle(&mut a, &f, NOW).unwrap();
        assert_eq!(o.refused.len(), 1);
        assert_eq!(o.accepted, vec![m.id()]);
        // A frame of another group, or garbage, ends the sync.
        let other = frame::encode(&SyncFrame::Want {
            group: GroupId([8; 32]),
            ids: vec![],
        })
        .unwrap();
        assert_eq!(
            sa.handle(&mut a, &other, NOW).unwrap_err(),
            Error::WrongGroup
        );
        assert!(sa.handle(&mut a, &[1, 9, 9], NOW).is_err());
    }

    #[test]
    fn a_tombstone_is_neither_sent_nor_asked_for() {
        let c = chain(1, 10);
        let more = chain(2, 5);
        for tombstone_starts in [true, false] {
            // a deleted c[4]; b holds it, and 5 messages a lacks.
            let mut a = with_tombstone(&c, 4);
            let mut b = Replica::new(GROUP, Limits::default());
            for m in c.iter().chain(&more) {
                b.insert(m.clone(), Source::Local, NOW).unwrap();
            }
            let r = if tombstone_starts {
                exchange(&mut a, &mut b)
            } else {
                exchange(&mut b, &mut a)
            };
            assert!(!r.frames.iter().any(|f| names(f, &c[4])));
            assert!(r.frames.iter().any(|f| names(f, &more[0])));
            assert!(a.is_tombstone(&c[4].id()) && a.get(&c[4].id()).is_none());
            assert_eq!(a.accepted().count(), 14);
            assert_eq!((a.missing(), a.waiting()), (0, 0));
            assert_eq!(a.len(), b.len());
            assert!(r.sa.unavailable().is_empty() && r.sb.unavailable().is_empty());
            // In sync now, the tombstone included: one round trip, nothing
            // asked, nothing sent.
            let again = if tombstone_starts {
                exchange(&mut a, &mut b)
            } else {
                exchange(&mut b, &mut a)
            };
            assert_eq!(again.rounds, 1);
            assert!(
                again
                    .frames
                    .iter()
                    .all(|f| matches!(f, SyncFrame::Reconcile { .. }))
            );
        }
    }

    #[test]
    fn a_want_of_a_tombstone_is_answered_unavailable() {
        let c = chain(1, 10);
        let mut a = with_tombstone(&c, 4);
        // Asked directly: one empty end frame.
        let mut sa = GroupSync::respond_to(GROUP, [2; 32]);
        let want = frame::encode(&SyncFrame::Want {
            group: GROUP,
            ids: vec![c[4].id(), c[3].id()],
        })
        .unwrap();
        let o = sa.handle(&mut a, &want, NOW).unwrap();
        let answer: Vec<SyncFrame> = o.send.iter().map(|f| frame::decode(f).unwrap()).collect();
        assert_eq!(
            answer,
            vec![SyncFrame::Messages {
                group: GROUP,
                messages: vec![c[3].encoded().to_vec()],
                end: true,
            }]
        );
        // A new member, either side: everything but the tombstone, which it
        // is told a does not have.
        for new_starts in [true, false] {
            let mut n = Replica::new(GROUP, Limits::default());
            let r = if new_starts {
                exchange(&mut n, &mut a)
            } else {
                exchange(&mut a, &mut n)
            };
            let told = if new_starts { &r.sa } else { &r.sb };
            assert!(told.unavailable().contains(&c[4].id()));
            assert!(!r.frames.iter().any(|f| matches!(
                f,
                SyncFrame::Messages { messages, .. } if messages.iter().any(|b| b.as_slice() == c[4].encoded())
            )));
            assert_eq!(n.len(), 9);
            assert_eq!(n.accepted().count(), 4);
            assert_eq!((n.waiting(), n.missing()), (5, 1));
            assert!(!n.contains(&c[4].id()));
        }
    }

    #[test]
    fn a_relayed_tombstone_is_known_and_not_kept() {
        let c = chain(1, 3);
        let mut a = with_tombstone(&c, 1);
        let mut sa = GroupSync::respond_to(GROUP, [2; 32]);
        let f = frame::encode(&SyncFrame::Messages {
            group: GROUP,
            messages: vec![c[1].encoded().to_vec()],
            end: false,
        })
        .unwrap();
        let o = sa.handle(&mut a, &f, NOW).unwrap();
        assert!(o.accepted.is_empty() && o.refused.is_empty() && o.send.is_empty());
        assert_eq!(o.waiting, 0);
        assert!(a.is_tombstone(&c[1].id()) && a.get(&c[1].id()).is_none());
        assert_eq!(a.items().len(), 2);
    }

    #[test]
    fn endless_wants_hit_a_cap() {
        let mut a = Replica::new(GROUP, Limits::default());
        let mut sa = GroupSync::respond_to(GROUP, [2; 32]);
        let f = frame::encode(&SyncFrame::Want {
            group: GROUP,
            ids: vec![GroupMessageId([1; 32]); MAX_WANT],
        })
        .unwrap();
        // Answered with an empty end frame: none of them is here.
        assert_eq!(sa.handle(&mut a, &f, NOW).unwrap().send.len(), 1);
        assert!(matches!(
            sa.handle(&mut a, &f, NOW),
            Err(Error::OverCap { .. })
        ));
    }
}
