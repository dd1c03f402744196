#![doc = include_str!("../README.md")]

mod conversation;
mod crypto;
mod edit;
mod error;
mod files;
mod groups;
mod handle;
mod intro;
mod model;
mod schema;
mod store;

pub use crypto::KdfParams;
pub use error::{Error, Result};
pub use groups::{
    Group, GroupCaps, GroupDeletion, GroupInserted, GroupInvitation, GroupMember,
    GroupMessageContent, GroupMessageState, GroupRefusal, GroupState, GroupSummary,
    InvitationStored, MAX_INVITATIONS_PER_CONTACT, MemberState, MemberStored, StoredGroupMessage,
};
pub use handle::{COMMAND_QUEUE, StoreHandle};
pub use intro::{
    INTRODUCTIONS_KEY, IntroducedSide, Introduction, MAX_STORED_INTRODUCTIONS, MadeIntroduction,
    MadeStage, OfferedIntroduction,
};
pub use kith_core::{MessageId, Timestamp};
pub use model::{
    ChunkRefusal, ChunkStored, Contact, ContactId, ContactOrigin, ContactState, ContactSummary,
    ConversationSettings, Deletion, Direction, Edited, FileInfo, FileState, HistoryPolicy,
    Inserted, Message, MessageKind, MessageState, NewContact, NewProfile, Profile, Quote, Reach,
    ReactionView,
};
pub use store::Store;
