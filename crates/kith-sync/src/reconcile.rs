//! Range-based set reconciliation (Aljoscha Meyer's RBSR, in the style of
//! negentropy) over a replica's `(timestamp, id)` items
//! (`docs/protocol.md` § 14.3).
//!
//! Both sides hold their items sorted. A message is a list of consecutive
//! ranges `[lower, upper)` covering the key space from the start (the lower
//! bound of each range is the upper bound of the one before; what follows
//! the last range is matched). Each range is:
//! - `Skip`: nothing to do here;
//! - `Fingerprint(f)`: the sender's fingerprint of its items in the range.
//!   The receiver answers `Skip` if its own matches, or splits its items of
//!   the range into [`BRANCHING`] parts with a fingerprint each, or, when it
//!   has at most [`ID_LIST_THRESHOLD`] items there, sends them as `Ids`;
//! - `Ids(list)`: all the sender's ids in the range. The receiver learns
//!   what it lacks, and answers `Missing(ids)`: its ids in the range the
//!   list lacks. That range is then settled for both.
//!
//! A side whose answer would only hold `Skip` and `Missing` is done after
//! sending it (the peer has nothing to answer); an empty answer means
//! "everything matched". Each side ends knowing [`Reconciler::need`]: the
//! ids the peer has and it lacks (and, where it saw the peer's list,
//! [`Reconciler::have`]: ids the peer lacks).
//!
//! Every message is at most [`MAX_RECONCILE_MESSAGE`] bytes: an answer that
//! would be larger stops early and covers the rest with one fingerprint, to
//! be continued next round. Decoding is bounded (size, ranges, ids, bounds in
//! increasing order) and a reconciliation is at most [`MAX_ROUNDS`] rounds.

use std::collections::{BTreeSet, HashSet};

use kith_core::group::{GroupMessageId, MAX_GROUP_TIMESTAMP};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Error;

/// Reconciliation message versions this build speaks, newest last.
///
/// REMOVING ELEMENTS FROM THIS LIST BREAKS OLDER PEERS.
pub const SUPPORTED_VERSIONS: &[u8] = &[1];
/// The version we send.
pub const CURRENT_VERSION: u8 = 1;

/// Largest reconciliation message, in bytes.
pub const MAX_RECONCILE_MESSAGE: usize = 32 * 1024;
/// Most ranges in one message.
pub const MAX_RANGES: usize = 4096;
/// Most ids (`Ids` and `Missing` together) in one message.
pub const MAX_IDS: usize = 1000;
/// Most messages one side receives in one reconciliation.
pub const MAX_ROUNDS: u32 = 256;
/// Into how many parts a mismatching range is split.
pub const BRANCHING: usize = 8;
/// At most this many items in a mismatching range are sent as a list.
pub const ID_LIST_THRESHOLD: usize = 8;
/// Bytes of a range fingerprint.
pub const FINGERPRINT_LEN: usize = 16;
const FINGERPRINT_CONTEXT: &[u8] = b"kith range fingerprint v1\0";

/// One item of a replica: a message's timestamp and id, ordered by both.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Item {
    /// The message's timestamp (ms).
    pub timestamp: u64,
    /// The message's id.
    pub id: GroupMessageId,
}

/// An upper bound of a range: everything strictly below it is in.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Bound {
    /// `(timestamp, id)`; an id prefix on the wire is padded with zeros.
    Key(u64, [u8; 32]),
    /// The end of the key space.
    Infinity,
}

const START: Bound = Bound::Key(0, [0; 32]);

/// A range as it travels: `ts` is 0 for infinity, else the bound's
/// timestamp minus the previous bound's (0 before the first), plus 1;
/// `prefix` is the bound's id without its trailing zero bytes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireRange {
    ts: u64,
    prefix: Vec<u8>,
    mode: WireMode,
}

/// What a range says. Tags by position: never reorder.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) enum WireMode {
    Skip,
    Fingerprint([u8; FINGERPRINT_LEN]),
    Ids(Vec<GroupMessageId>),
    Missing(Vec<GroupMessageId>),
}

/// A decoded message: ranges with absolute, increasing bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Range {
    upper: Bound,
    mode: WireMode,
}

/// Decode and check one reconciliation message.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<Range>, Error> {
    const OBJECT: &str = "reconciliation message";
    if bytes.len() > MAX_RECONCILE_MESSAGE {
        return Err(Error::TooLarge {
            object: OBJECT,
            len: bytes.len(),
            max: MAX_RECONCILE_MESSAGE,
        });
    }
    let (&version, rest) = bytes.split_first().ok_or(Error::Decode {
        object: OBJECT,
        reason: "empty",
    })?;
    if !SUPPORTED_VERSIONS.contains(&version) {
        return Err(Error::UnsupportedVersion {
            object: OBJECT,
            version,
        });
    }
    let wire: Vec<WireRange> =
        kith_core::wire::decode_exact(OBJECT, rest).map_err(Error::from_decode)?;
    if wire.len() > MAX_RANGES {
        return Err(Error::TooLarge {
            object: "ranges in a reconciliation message",
            len: wire.len(),
            max: MAX_RANGES,
        });
    }
    let ids: usize = wire
        .iter()
        .map(|r| match &r.mode {
            WireMode::Ids(v) | WireMode::Missing(v) => v.len(),
            _ => 0,
        })
        .sum();
    if ids > MAX_IDS {
        return Err(Error::TooLarge {
            object: "ids in a reconciliation message",
            len: ids,
            max: MAX_IDS,
        });
    }
    let bad = |reason| Error::Decode {
        object: OBJECT,
        reason,
    };
    let mut out = Vec::with_capacity(wire.len());
    let mut prev_ts = 0_u64;
    let mut prev = START;
    for r in wire {
        if prev == Bound::Infinity {
            return Err(bad("range after the end"));
        }
        let upper = if r.ts == 0 {
            Bound::Infinity
        } else {
            let ts = prev_ts
                .checked_add(r.ts - 1)
                .filter(|&t| t <= MAX_GROUP_TIMESTAMP)
                .ok_or(bad("bound out of range"))?;
            if r.prefix.len() > 32 {
                return Err(bad("bound prefix longer than an id"));
            }
            let mut id = [0_u8; 32];
            id[..r.prefix.len()].copy_from_slice(&r.prefix);
            prev_ts = ts;
            Bound::Key(ts, id)
        };
        if upper <= prev {
            return Err(bad("ranges out of order"));
        }
        prev = upper;
        out.push(Range {
            upper,
            mode: r.mode,
        });
    }
    Ok(out)
}

/// Encode ranges (absolute bounds, increasing) as a message.
pub(crate) fn encode(ranges: &[Range]) -> Result<Vec<u8>, Error> {
    let mut prev_ts = 0_u64;
    let mut wire = Vec::with_capacity(ranges.len());
    for r in ranges {
        let (ts, prefix) = match r.upper {
            Bound::Infinity => (0, Vec::new()),
            Bound::Key(ts, id) => {
                let delta = ts
                    .checked_sub(prev_ts)
                    .and_then(|d| d.checked_add(1))
                    .ok_or(Error::Bug("bounds out of order"))?;
                prev_ts = ts;
                let len = id.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                (delta, id[..len].to_vec())
            }
        };
        wire.push(WireRange {
            ts,
            prefix,
            mode: r.mode.clone(),
        });
    }
    postcard::to_extend(&wire, vec![CURRENT_VERSION])
        .map_err(|_| Error::Bug("cannot encode a reconciliation message"))
}

/// 256-bit sums of ids, little-endian limbs, mod 2^256.
type Sum = [u64; 4];

fn add(a: Sum, b: &[u8; 32]) -> Sum {
    let mut out = [0_u64; 4];
    let mut carry = false;
    for i in 0..4 {
        let mut limb = [0_u8; 8];
        limb.copy_from_slice(&b[i * 8..i * 8 + 8]);
        let (s1, c1) = a[i].overflowing_add(u64::from_le_bytes(limb));
        let (s2, c2) = s1.overflowing_add(u64::from(carry));
        out[i] = s2;
        carry = c1 || c2;
    }
    out
}

fn sub(a: Sum, b: Sum) -> Sum {
    let mut out = [0_u64; 4];
    let mut borrow = false;
    for i in 0..4 {
        let (d1, b1) = a[i].overflowing_sub(b[i]);
        let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
        out[i] = d2;
        borrow = b1 || b2;
    }
    out
}

/// The fingerprint of a range: SHA-256 of the context, the sum of its ids
/// mod 2^256 (32 bytes little-endian) and its count (u64 little-endian),
/// truncated to [`FINGERPRINT_LEN`] bytes.
pub fn fingerprint<'a>(ids: impl IntoIterator<Item = &'a GroupMessageId>) -> [u8; 16] {
    let mut sum = [0_u64; 4];
    let mut count = 0_u64;
    for id in ids {
        sum = add(sum, &id.0);
        count += 1;
    }
    finish_fingerprint(sum, count)
}

fn finish_fingerprint(sum: Sum, count: u64) -> [u8; FINGERPRINT_LEN] {
    let mut h = Sha256::new();
    h.update(FINGERPRINT_CONTEXT);
    for limb in sum {
        h.update(limb.to_le_bytes());
    }
    h.update(count.to_le_bytes());
    let d = h.finalize();
    let mut f = [0_u8; FINGERPRINT_LEN];
    f.copy_from_slice(&d[..FINGERPRINT_LEN]);
    f
}

/// What a [`Reconciler`] says after a message from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The message to send to the peer, if any.
    pub send: Option<Vec<u8>>,
    /// The reconciliation is over (after sending `send`): [`Reconciler::need`]
    /// is complete.
    pub done: bool,
}

/// One side of a reconciliation, over a snapshot of a replica's items.
///
/// Sans-IO: [`Reconciler::initiate`] gives the first message,
/// [`Reconciler::respond`] takes each message from the peer and gives what
/// to send back.
pub struct Reconciler {
    items: Vec<Item>,
    /// `sums[i]`: the sum of the ids of `items[..i]`.
    sums: Vec<Sum>,
    need: BTreeSet<GroupMessageId>,
    have: BTreeSet<GroupMessageId>,
    rounds: u32,
    done: bool,
    max_message: usize,
    branching: usize,
    threshold: usize,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("items", &self.items.len())
            .field("rounds", &self.rounds)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Reconciler {
    /// A reconciler over `items` (sorted and deduplicated here).
    pub fn new(mut items: Vec<Item>) -> Result<Self, Error> {
        items.sort_unstable();
        items.dedup();
        if items.iter().any(|i| i.timestamp > MAX_GROUP_TIMESTAMP) {
            return Err(Error::Bug("item timestamp out of range"));
        }
        let mut sums = Vec::with_capacity(items.len() + 1);
        let mut s = [0_u64; 4];
        sums.push(s);
        for it in &items {
            s = add(s, &it.id.0);
            sums.push(s);
        }
        Ok(Reconciler {
            items,
            sums,
            need: BTreeSet::new(),
            have: BTreeSet::new(),
            rounds: 0,
            done: false,
            max_message: MAX_RECONCILE_MESSAGE,
            branching: BRANCHING,
            threshold: ID_LIST_THRESHOLD,
        })
    }

    /// Smaller messages than [`MAX_RECONCILE_MESSAGE`] (at least 1024
    /// bytes, room for a full id list), for tests of the continuation.
    pub fn with_max_message(mut self, max: usize) -> Self {
        self.max_message = max.clamp(1024, MAX_RECONCILE_MESSAGE);
        self
    }

    /// Split mismatching ranges into `branching` parts (2–64) and send
    /// ranges of at most `threshold` items (1–64) as lists. Each side
    /// chooses its own: the peer only sees ranges. Fewer parts cost fewer
    /// bytes and more rounds.
    pub fn with_shape(mut self, branching: usize, threshold: usize) -> Self {
        self.branching = branching.clamp(2, 64);
        self.threshold = threshold.clamp(1, 64);
        self
    }

    /// The first message, from the side that starts.
    pub fn initiate(&mut self) -> Result<Vec<u8>, Error> {
        let mut out = Out::new(self.max_message);
        self.split(&mut out, 0, self.items.len(), Bound::Infinity);
        encode(&out.finish(self)?)
    }

    /// Take a message from the peer: what to send back, and whether this
    /// side is done.
    pub fn respond(&mut self, msg: &[u8]) -> Result<Step, Error> {
        if self.done {
            return Err(Error::Finished);
        }
        self.rounds += 1;
        if self.rounds > MAX_ROUNDS {
            return Err(Error::TooManyRounds { max: MAX_ROUNDS });
        }
        let ranges = decode(msg)?;
        let expects_answer = ranges
            .iter()
            .any(|r| matches!(r.mode, WireMode::Fingerprint(_) | WireMode::Ids(_)));
        let mut out = Out::new(self.max_message);
        let mut lower = 0_usize;
        for r in ranges {
            let upper = self.index_of(r.upper);
            // Bounds increase, so this holds; a bug otherwise.
            if upper < lower {
                return Err(Error::Bug("range bounds decrease"));
            }
            match r.mode {
                WireMode::Skip => out.skip(r.upper, upper),
                WireMode::Fingerprint(f) => {
                    if f == self.fingerprint_of(lower, upper) {
                        out.skip(r.upper, upper);
                    } else {
                        self.split(&mut out, lower, upper, r.upper);
                    }
                }
                WireMode::Ids(theirs) => {
                    let theirs: HashSet<GroupMessageId> = theirs.into_iter().collect();
                    let mine = &self.items[lower..upper];
                    let mine_ids: HashSet<GroupMessageId> = mine.iter().map(|i| i.id).collect();
                    self.need
                        .extend(theirs.iter().filter(|id| !mine_ids.contains(id)).copied());
                    let missing: Vec<Item> = mine
                        .iter()
                        .filter(|i| !theirs.contains(&i.id))
                        .copied()
                        .collect();
                    self.have.extend(missing.iter().map(|i| i.id));
                    out.missing(self, &missing, lower, upper, r.upper);
                }
                WireMode::Missing(ids) => {
                    self.need.extend(ids);
                    out.skip(r.upper, upper);
                }
            }
            lower = upper;
            if out.full {
                break;
            }
        }
        let ranges = out.finish(self)?;
        let asks = ranges
            .iter()
            .any(|r| matches!(r.mode, WireMode::Fingerprint(_) | WireMode::Ids(_)));
        self.done = !asks;
        let send = if asks || expects_answer || !ranges.is_empty() {
            Some(encode(&ranges)?)
        } else {
            None
        };
        Ok(Step {
            send,
            done: self.done,
        })
    }

    /// Ids the peer has and this side lacks (complete once done).
    pub fn need(&self) -> &BTreeSet<GroupMessageId> {
        &self.need
    }

    /// Ids this side has and the peer lacks, as far as this side saw the
    /// peer's lists (the peer learns the rest as its own `need`).
    pub fn have(&self) -> &BTreeSet<GroupMessageId> {
        &self.have
    }

    /// Messages received so far.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// Whether the reconciliation is over.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn index_of(&self, b: Bound) -> usize {
        match b {
            Bound::Infinity => self.items.len(),
            Bound::Key(ts, id) => self
                .items
                .partition_point(|i| (i.timestamp, i.id.0) < (ts, id)),
        }
    }

    fn fingerprint_of(&self, lower: usize, upper: usize) -> [u8; FINGERPRINT_LEN] {
        finish_fingerprint(
            sub(self.sums[upper], self.sums[lower]),
            (upper - lower) as u64,
        )
    }

    /// The smallest bound above `items[i - 1]` and at most `items[i]`.
    fn bound_before(&self, i: usize) -> Bound {
        let next = self.items[i];
        match i.checked_sub(1).map(|p| self.items[p]) {
            Some(prev) if prev.timestamp == next.timestamp => {
                let shared = prev
                    .id
                    .0
                    .iter()
                    .zip(next.id.0.iter())
                    .take_while(|(a, b)| a == b)
                    .count();
                let mut id = [0_u8; 32];
                let n = (shared + 1).min(32);
                id[..n].copy_from_slice(&next.id.0[..n]);
                Bound::Key(next.timestamp, id)
            }
            _ => Bound::Key(next.timestamp, [0; 32]),
        }
    }

    /// This side's view of a mismatching range: a list, or fingerprints.
    fn split(&self, out: &mut Out, lower: usize, upper: usize, bound: Bound) {
        let n = upper - lower;
        if n <= self.threshold {
            let ids = self.items[lower..upper].iter().map(|i| i.id).collect();
            out.push(bound, upper, WireMode::Ids(ids), n);
            return;
        }
        let mut start = lower;
        // Never an empty part (its bound would repeat the one before).
        let parts = self.branching.min(n);
        for part in 1..=parts {
            let end = lower + n * part / parts;
            let b = if part == parts {
                bound
            } else {
                self.bound_before(end)
            };
            let f = self.fingerprint_of(start, end);
            out.push(b, end, WireMode::Fingerprint(f), 0);
            if out.full {
                return;
            }
            start = end;
        }
    }
}

/// An answer being built, within a byte budget.
struct Out {
    ranges: Vec<Range>,
    /// A `Skip` up to here not yet written (merged with the next skips).
    pending_skip: Option<Bound>,
    /// Items of this side below the last written bound.
    covered: usize,
    /// The timestamp of the last written bound (for the deltas).
    prev_ts: u64,
    size: usize,
    ids: usize,
    budget: usize,
    full: bool,
}

/// Bytes of a postcard varint.
fn varint_len(v: u64) -> usize {
    (64 - v.leading_zeros() as usize).max(1).div_ceil(7)
}

/// Bytes of a range's bound, written after a bound at `prev_ts`.
fn bound_len(prev_ts: u64, b: Bound) -> usize {
    match b {
        Bound::Infinity => 1 + 1,
        Bound::Key(ts, id) => {
            let len = id.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            varint_len(ts.saturating_sub(prev_ts).saturating_add(1)) + 1 + len
        }
    }
}

fn mode_len(m: &WireMode) -> usize {
    1 + match m {
        WireMode::Skip => 0,
        WireMode::Fingerprint(_) => FINGERPRINT_LEN,
        WireMode::Ids(v) | WireMode::Missing(v) => varint_len(v.len() as u64) + 32 * v.len(),
    }
}

fn ts_of(b: Bound, prev: u64) -> u64 {
    match b {
        Bound::Key(ts, _) => ts,
        Bound::Infinity => prev,
    }
}

/// Room kept for a pending skip and the final fingerprint of what did not fit.
const RESERVE: usize = (10 + 1 + 32 + 1) + (2 + 1 + FINGERPRINT_LEN);

impl Out {
    fn new(budget: usize) -> Self {
        Out {
            ranges: Vec::new(),
            pending_skip: None,
            covered: 0,
            prev_ts: 0,
            // Version and the count of ranges.
            size: 1 + 3,
            ids: 0,
            budget,
            full: false,
        }
    }

    fn skip(&mut self, bound: Bound, index: usize) {
        if !self.full {
            self.pending_skip = Some(bound);
            self.covered = index;
        }
    }

    fn flush_skip(&mut self) {
        if let Some(s) = self.pending_skip.take() {
            self.size += bound_len(self.prev_ts, s) + 1;
            self.prev_ts = ts_of(s, self.prev_ts);
            self.ranges.push(Range {
                upper: s,
                mode: WireMode::Skip,
            });
        }
    }

    /// Bytes `mode` up to `bound` would add (with the pending skip).
    fn cost(&self, bound: Bound, mode: &WireMode) -> usize {
        let (skip, prev) = match self.pending_skip {
            Some(s) => (bound_len(self.prev_ts, s) + 1, ts_of(s, self.prev_ts)),
            None => (0, self.prev_ts),
        };
        skip + bound_len(prev, bound) + mode_len(mode)
    }

    /// Write a range, or mark the answer full if it does not fit.
    fn push(&mut self, bound: Bound, index: usize, mode: WireMode, ids: usize) {
        if self.full {
            return;
        }
        if self.size + self.cost(bound, &mode) + RESERVE > self.budget || self.ids + ids > MAX_IDS {
            self.full = true;
            return;
        }
        self.flush_skip();
        self.size += bound_len(self.prev_ts, bound) + mode_len(&mode);
        self.prev_ts = ts_of(bound, self.prev_ts);
        self.ids += ids;
        self.covered = index;
        self.ranges.push(Range { upper: bound, mode });
    }

    /// `Missing` for a settled range, in as many parts as fit.
    fn missing(
        &mut self,
        r: &Reconciler,
        missing: &[Item],
        lower: usize,
        upper: usize,
        bound: Bound,
    ) {
        if missing.is_empty() {
            self.skip(bound, upper);
            return;
        }
        let fixed = self.size + self.cost(bound, &WireMode::Missing(Vec::new())) + 2 + RESERVE;
        let fit = (self.budget.saturating_sub(fixed) / 32).min(MAX_IDS - self.ids);
        if fit >= missing.len() {
            let ids = missing.iter().map(|i| i.id).collect();
            self.push(bound, upper, WireMode::Missing(ids), missing.len());
            return;
        }
        if fit == 0 {
            self.full = true;
            return;
        }
        // The part up to the first item that does not fit; the rest of the
        // range is covered by the final fingerprint.
        let next = missing[fit];
        let at = lower + r.items[lower..upper].partition_point(|i| *i < next);
        let ids = missing[..fit].iter().map(|i| i.id).collect();
        self.push(r.bound_before(at), at, WireMode::Missing(ids), fit);
        self.full = true;
    }

    /// The ranges to send: when full, a fingerprint of everything from the
    /// last written bound on, to be continued.
    fn finish(mut self, r: &Reconciler) -> Result<Vec<Range>, Error> {
        if self.full {
            self.flush_skip();
            let f = r.fingerprint_of(self.covered, r.items.len());
            self.ranges.push(Range {
                upper: Bound::Infinity,
                mode: WireMode::Fingerprint(f),
            });
        }
        Ok(self.ranges)
    }
}

#[cfg(test)]
mod tests;
