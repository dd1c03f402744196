#![doc = include_str!("../README.md")]

mod admission;
mod conn;
mod contact;
mod conversation;
mod error;
mod feed;
mod file;
#[doc(hidden)]
pub mod fuzzing;
mod group;
mod inbox;
mod intro;
mod kith;
mod meet;
mod model;
mod net;
mod peers;
mod profile;
mod reach;

pub use error::{Error, Result};
pub use feed::{
    FETCH_EVERY, FETCH_JITTER, FIRST_FETCH, FeedError, FeedErrorKind, FeedId, FeedItemView,
    FeedView, FetchOutcome, MAX_FEED_NAME, MAX_FEEDS, MAX_ITEMS_BYTES, MAX_KEPT_ITEMS, MAX_SEEN,
};
pub use file::{
    AUTO_ACCEPT_BUDGET, AUTO_ACCEPT_MAX, FileView, MAX_PREVIEW_SOURCE, MAX_RECEIVING, PREVIEW_SIDE,
    Preview,
};
pub use group::blog::{BlogPostView, RebloggedView};
pub use group::forum::{ForumMessageView, HiddenBy, HiddenLists};
pub use group::{Author, GroupLine, GroupMessageView, GroupView, InvitationView, MemberView};
pub use inbox::{DropRefused, InboxDrop, InboxStatus, LeaveReply, ReplyAddress};
pub use intro::{IntroductionEvent, IntroductionView, OfferState};
pub use kith::{KdfChoice, Kith, KithConfig, MAX_PROFILE_NAME, validate_profile_name};
pub use kith_core::group::{GroupId, GroupKind, GroupMessageId};
pub use kith_core::intro::IntroductionId;
pub use kith_core::safety::SafetyNumber;
pub use kith_core::{
    ContactLink, ErrorKind, InboxLink, Link, MeetCode, MeetFailure, MessageId, OnionAddress,
    Timestamp,
};
pub use kith_store::MadeStage;
pub use kith_store::{GroupState, MemberState};
/// See [`kith_transport::quiet_arti_shutdown_panic`]: front ends call it once at start.
pub use kith_transport::quiet_arti_shutdown_panic;
pub use model::{
    BridgeLine, ContactId, ContactOrigin, ContactState, ContactView, ConversationSettings,
    Deletion, Direction, DisappearTimer, Edited, Event, FileState, HistoryPolicy, Introducer,
    MessageKind, MessageState, MessageView, Network, NetworkKind, NetworkStatus, Password,
    QuoteView, ReactionView, Removal, Reply, Settings,
};
pub use profile::{MAX_ALIAS, Profile};
pub use reach::Requests;

#[cfg(test)]
mod tests;
