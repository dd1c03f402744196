//! The frames of group sync between two members (`docs/protocol.md` § 14.4).
//!
//! Layout: `version: u8 ‖ postcard(SyncFrame)`, at most [`MAX_SYNC_FRAME`]
//! bytes (it fits one peer message). Every frame names its group, so one
//! session carries the syncs of several groups.

use kith_core::group::{GroupId, GroupMessageId, MAX_GROUP_MESSAGE};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::reconcile::MAX_RECONCILE_MESSAGE;
use crate::replica::Replica;

/// Sync frame versions this build speaks, newest last.
///
/// REMOVING ELEMENTS FROM THIS LIST BREAKS OLDER PEERS.
pub const SUPPORTED_VERSIONS: &[u8] = &[1];
/// The version we send.
pub const CURRENT_VERSION: u8 = 1;
/// Largest sync frame, in bytes.
pub const MAX_SYNC_FRAME: usize = kith_core::group::MAX_SYNC_FRAME;
/// Most ids in one `Want`.
pub const MAX_WANT: usize = 1000;
/// Most messages in one `Messages`.
pub const MAX_MESSAGES: usize = 64;

/// One frame of group sync. Tags by position: never reorder.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SyncFrame {
    /// A reconciliation message (`crate::reconcile`).
    Reconcile {
        /// The group.
        group: GroupId,
        /// `version ‖ ranges`, at most `MAX_RECONCILE_MESSAGE` bytes.
        message: Vec<u8>,
    },
    /// Send me these messages.
    Want {
        /// The group.
        group: GroupId,
        /// At most [`MAX_WANT`] ids.
        ids: Vec<GroupMessageId>,
    },
    /// Messages (encoded and signed by their authors), asked for or not.
    Messages {
        /// The group.
        group: GroupId,
        /// At most [`MAX_MESSAGES`], each at most `MAX_GROUP_MESSAGE` bytes.
        messages: Vec<Vec<u8>>,
        /// The last frame answering a `Want`: what it asked for and this
        /// side did not send, it does not have.
        end: bool,
    },
}

impl SyncFrame {
    /// The group the frame is about.
    pub fn group(&self) -> GroupId {
        match self {
            SyncFrame::Reconcile { group, .. }
            | SyncFrame::Want { group, .. }
            | SyncFrame::Messages { group, .. } => *group,
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let over = |object, len, max| {
            if len > max {
                Err(Error::TooLarge { object, len, max })
            } else {
                Ok(())
            }
        };
        match self {
            SyncFrame::Reconcile { message, .. } => over(
                "reconciliation message",
                message.len(),
                MAX_RECONCILE_MESSAGE,
            ),
            SyncFrame::Want { ids, .. } => over("ids in a want", ids.len(), MAX_WANT),
            SyncFrame::Messages { messages, .. } => {
                over("messages in a frame", messages.len(), MAX_MESSAGES)?;
                for m in messages {
                    over("group message", m.len(), MAX_GROUP_MESSAGE)?;
                }
                Ok(())
            }
        }
    }
}

/// Encode a frame.
pub fn encode(frame: &SyncFrame) -> Result<Vec<u8>, Error> {
    frame.validate()?;
    let out = postcard::to_extend(frame, vec![CURRENT_VERSION])
        .map_err(|_| Error::Bug("cannot encode a sync frame"))?;
    if out.len() > MAX_SYNC_FRAME {
        return Err(Error::TooLarge {
            object: "sync frame",
            len: out.len(),
            max: MAX_SYNC_FRAME,
        });
    }
    Ok(out)
}

/// Decode a frame from a peer.
pub fn decode(bytes: &[u8]) -> Result<SyncFrame, Error> {
    if bytes.len() > MAX_SYNC_FRAME {
        return Err(Error::TooLarge {
            object: "sync frame",
            len: bytes.len(),
            max: MAX_SYNC_FRAME,
        });
    }
    let (&version, rest) = bytes.split_first().ok_or(Error::Decode {
        object: "sync frame",
        reason: "empty",
    })?;
    if !SUPPORTED_VERSIONS.contains(&version) {
        return Err(Error::UnsupportedVersion {
            object: "sync frame",
            version,
        });
    }
    let frame: SyncFrame =
        kith_core::wire::decode_exact("sync frame", rest).map_err(Error::from_decode)?;
    frame.validate()?;
    Ok(frame)
}

/// `Want` frames asking for `ids`, [`MAX_WANT`] at a time.
pub fn want_frames(group: GroupId, ids: &[GroupMessageId]) -> Vec<SyncFrame> {
    ids.chunks(MAX_WANT)
        .map(|c| SyncFrame::Want {
            group,
            ids: c.to_vec(),
        })
        .collect()
}

/// `Messages` frames answering a `Want` (or a reconciliation's list): the
/// asked messages this replica holds (unknown ids are skipped; the caller
/// bounds `ids`), in frames that fit [`MAX_SYNC_FRAME`],
/// the last one (perhaps empty) marked `end`.
pub fn answer_want(replica: &Replica, ids: &[GroupMessageId]) -> Vec<SyncFrame> {
    let group = replica.group();
    // Version, tag, group, counts: well under this.
    const FRAME_OVERHEAD: usize = 64;
    let mut frames = Vec::new();
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut size = FRAME_OVERHEAD;
    for id in ids {
        let Some(m) = replica.get(id) else {
            continue;
        };
        let len = m.encoded().len() + 3;
        if !batch.is_empty() && (size + len > MAX_SYNC_FRAME || batch.len() == MAX_MESSAGES) {
            frames.push(SyncFrame::Messages {
                group,
                messages: std::mem::take(&mut batch),
                end: false,
            });
            size = FRAME_OVERHEAD;
        }
        size += len;
        batch.push(m.encoded().to_vec());
    }
    frames.push(SyncFrame::Messages {
        group,
        messages: batch,
        end: true,
    });
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: GroupId = GroupId([7; 32]);

    #[test]
    fn round_trip_and_typed_refusals() {
        let f = SyncFrame::Messages {
            group: G,
            messages: vec![vec![1, 2, 3]],
            end: true,
        };
        let b = encode(&f).unwrap();
        assert_eq!(decode(&b).unwrap(), f);
        let mut trailing = b.clone();
        trailing.push(0);
        assert!(matches!(
            decode(&trailing),
            Err(Error::Decode {
                reason: "trailing bytes",
                ..
            })
        ));
        let mut v2 = b.clone();
        v2[0] = 2;
        assert!(matches!(
            decode(&v2),
            Err(Error::UnsupportedVersion { version: 2, .. })
        ));
        let mut tag = b;
        tag[1] = 9;
        assert!(matches!(decode(&tag), Err(Error::Decode { .. })));
        assert!(matches!(decode(&[]), Err(Error::Decode { .. })));
        assert!(matches!(
            decode(&vec![1; MAX_SYNC_FRAME + 1]),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn over_the_bounds_is_refused_both_ways() {
        let want = SyncFrame::Want {
            group: G,
            ids: vec![GroupMessageId([1; 32]); MAX_WANT + 1],
        };
        assert!(matches!(encode(&want), Err(Error::TooLarge { .. })));
        let bytes = postcard::to_extend(&want, vec![CURRENT_VERSION]).unwrap();
        assert!(matches!(decode(&bytes), Err(Error::TooLarge { .. })));
        let many = SyncFrame::Messages {
            group: G,
            messages: vec![vec![]; MAX_MESSAGES + 1],
            end: false,
        };
        let bytes = postcard::to_extend(&many, vec![CURRENT_VERSION]).unwrap();
        assert!(matches!(decode(&bytes), Err(Error::TooLarge { .. })));
        let big = SyncFrame::Messages {
            group: G,
            messages: vec![vec![0; MAX_GROUP_MESSAGE + 1]],
            end: false,
        };
        let bytes = postcard::to_extend(&big, vec![CURRENT_VERSION]).unwrap();
        assert!(matches!(decode(&bytes), Err(Error::TooLarge { .. })));
        // A length prefix that claims more than there is.
        assert!(matches!(
            decode(&[1, 1, 7, 0xff, 0xff, 0xff, 0x0f]),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn answers_fit_the_frame() {
        use kith_core::group::{GroupBody, GroupContent, GroupMessage};
        use kith_core::{IdentityKeypair, Timestamp};
        let k = IdentityKeypair::from_seed(&[1; 32]);
        let mut r = Replica::new(G, crate::Limits::default());
        let mut ids = Vec::new();
        let mut prev: Option<GroupMessageId> = None;
        for seq in 0..12 {
            let m = GroupMessage::sign(
                &k,
                GroupContent {
                    group: G,
                    author: k.public().to_bytes(),
                    seq,
                    previous: prev.into_iter().collect(),
                    parent: None,
                    timestamp: Timestamp(seq),
                    body: GroupBody::Post {
                        text: "x".repeat(kith_core::group::MAX_GROUP_TEXT),
                    },
                },
            )
            .unwrap();
            prev = Some(m.id());
            ids.push(m.id());
            r.insert(m, crate::Source::Local, Timestamp(0)).unwrap();
        }
        ids.push(GroupMessageId([9; 32]));
        let frames = answer_want(&r, &ids);
        assert!(frames.len() >= 3);
        let mut n = 0;
        for (i, f) in frames.iter().enumerate() {
            let b = encode(f).unwrap();
            assert!(b.len() <= MAX_SYNC_FRAME);
            let SyncFrame::Messages { messages, end, .. } = f else {
                panic!("not messages");
            };
            assert_eq!(*end, i + 1 == frames.len());
            n += messages.len();
        }
        assert_eq!(n, 12);
    }
}
