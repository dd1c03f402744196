//! The app's worker side: a tokio runtime that runs every node call, and the
//! bounded channel that brings results and node events back to the UI.
//!
//! The UI thread never awaits: it calls [`Backend::spawn`] with a future that
//! ends in a [`Reply`], and drains replies with `try_recv` once per frame.
//! Each task calls `request_repaint` after sending, so the UI wakes up.

use std::future::Future;
use std::path::PathBuf;

use kith_node::{
    ContactId, ContactView, ConversationSettings, Error, Event, InboxDrop, InboxStatus,
    IntroductionView, Kith, MessageView, Network, Profile, Settings,
};
use tokio::sync::mpsc;

use crate::qr::ScanError;

/// Replies and events waiting for the UI before senders wait.
const REPLY_QUEUE: usize = 512;

/// Something finished, or happened, off the UI thread.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Profiles found in the data directory.
    Profiles(Result<Vec<String>, Error>),
    /// A profile was created (and unlocked).
    Created(Result<Profile, Error>),
    /// An unlock attempt ended.
    Unlocked {
        /// Which profile.
        name: String,
        /// The handle, or why not.
        result: Result<Profile, Error>,
    },
    /// Things read from a profile after unlocking.
    Loaded {
        /// Which profile.
        profile: String,
        /// Its display name.
        display_name: Result<String, Error>,
        /// Its settings.
        settings: Result<Settings, Error>,
    },
    /// The contact list.
    Contacts {
        /// Which profile.
        profile: String,
        /// The contacts.
        result: Result<Vec<ContactView>, Error>,
    },
    /// Introductions offered to and made by a profile (read with its contacts).
    Introductions {
        /// Which profile.
        profile: String,
        /// The introductions.
        result: Result<Vec<IntroductionView>, Error>,
    },
    /// One conversation.
    Messages {
        /// Which profile.
        profile: String,
        /// Which contact.
        contact: ContactId,
        /// The messages, oldest first.
        result: Result<Vec<MessageView>, Error>,
    },
    /// A message was written.
    Sent {
        /// Which profile.
        profile: String,
        /// Which contact.
        contact: ContactId,
        /// The message, or why not.
        result: Result<MessageView, Error>,
    },
    /// A conversation's settings were read.
    Conversation {
        /// Which profile.
        profile: String,
        /// Which contact.
        contact: ContactId,
        /// Its settings, or why not.
        result: Result<ConversationSettings, Error>,
    },
    /// A conversation control (react, delete, timer, history) ended.
    ConvDone {
        /// Which profile.
        profile: String,
        /// Which contact.
        contact: ContactId,
        /// What was being done.
        what: &'static str,
        /// Done, or why not.
        result: Result<(), Error>,
    },
    /// A contact was added from a link.
    ContactAdded {
        /// Which profile.
        profile: String,
        /// The new contact's id (its view comes with the contact list), or why not.
        result: Result<ContactId, Error>,
    },
    /// Settings were saved.
    SettingsSaved {
        /// Which profile.
        profile: String,
        /// The new settings, or why not.
        result: Result<Settings, Error>,
    },
    /// A password change ended.
    PasswordChanged {
        /// Which profile.
        profile: String,
        /// Done, or why not.
        result: Result<(), Error>,
    },
    /// A profile was deleted (or not).
    Deleted {
        /// Which profile.
        profile: String,
        /// Done, or why not.
        result: Result<(), Error>,
    },
    /// A profile was locked.
    Locked {
        /// Which profile.
        profile: String,
    },
    /// Going online ended (status events tell the details).
    WentOnline {
        /// Which profile.
        profile: String,
        /// Done, or why not.
        result: Result<(), Error>,
    },
    /// Some other action failed; show it.
    Failed {
        /// Which profile.
        profile: String,
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        error: Error,
    },
    /// A node event.
    Event {
        /// Which profile.
        profile: String,
        /// What happened.
        event: Event,
    },
    /// Events were lost (we fell behind): re-read everything.
    Resync {
        /// Which profile.
        profile: String,
    },
    /// A QR scan (file, clipboard or camera) ended.
    Scanned {
        /// Which profile's dialog asked.
        profile: String,
        /// The link text, or why not.
        result: Result<String, ScanError>,
    },
    /// A Tor network file was read.
    TorConfigRead {
        /// Which profile.
        profile: String,
        /// The TOML, or why not.
        result: Result<String, String>,
    },
    /// The inbox was read.
    Inbox {
        /// Which profile.
        profile: String,
        /// Whether it is on, its link, and its drops (oldest first), or why not.
        result: Result<(InboxStatus, Vec<InboxDrop>), Error>,
    },
    /// The feeds were read (and the selected feed's items).
    Feeds {
        /// Which profile.
        profile: String,
        /// The feeds and items, or why not.
        result: Result<(Vec<kith_node::FeedView>, Vec<kith_node::FeedItemView>), Error>,
    },
    /// Something asked in the feeds view ended.
    FeedsDone {
        /// Which profile.
        profile: String,
        /// What was asked.
        ask: crate::feeds::Ask,
        /// What to say (empty: nothing), or why not.
        result: Result<String, Error>,
    },
    /// Something asked in the inbox ended.
    InboxDone {
        /// Which profile.
        profile: String,
        /// What was asked.
        ask: crate::inbox::Ask,
        /// Done, or why not.
        result: Result<(), Error>,
    },
    /// A file call (send, read, accept, save, preview) ended.
    Files {
        /// Which profile.
        profile: String,
        /// What came back.
        reply: crate::files::FileReply,
    },
    /// A group call (list, read, create, post, …) ended.
    Groups {
        /// Which profile.
        profile: String,
        /// Of groups or of forums.
        kind: kith_node::GroupKind,
        /// What came back.
        reply: crate::groups::GroupReply,
    },
    /// A blog call (feed, post, comment, reblog, on/off) ended.
    Blog {
        /// Which profile.
        profile: String,
        /// What came back.
        reply: crate::blog::BlogReply,
    },
    /// A desktop notification could not be shown: show it in the window.
    NotifyFallback {
        /// The notification text.
        text: String,
    },
}

/// The runtime and the reply channel. Owned by the app.
pub(crate) struct Backend {
    rt: tokio::runtime::Runtime,
    kith: Kith,
    tx: mpsc::Sender<Reply>,
    rx: mpsc::Receiver<Reply>,
    ctx: egui::Context,
}

impl Backend {
    /// Start a backend for `kith`, running on `rt`.
    pub(crate) fn new(rt: tokio::runtime::Runtime, kith: Kith, ctx: egui::Context) -> Self {
        let (tx, rx) = mpsc::channel(REPLY_QUEUE);
        Backend {
            rt,
            kith,
            tx,
            rx,
            ctx,
        }
    }

    /// The engine (clone it into tasks).
    pub(crate) fn kith(&self) -> &Kith {
        &self.kith
    }

    /// The next reply, if one is waiting. Never blocks.
    pub(crate) fn try_recv(&mut self) -> Option<Reply> {
        self.rx.try_recv().ok()
    }

    /// Run `fut` on the runtime; its reply comes back through the channel.
    pub(crate) fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = Reply> + Send + 'static,
    {
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        self.rt.spawn(async move {
            let reply = fut.await;
            // The UI went away: nobody to tell.
            if tx.send(reply).await.is_ok() {
                ctx.request_repaint();
            }
        });
    }

    /// Run `fut` on the runtime for a caller that takes its result through
    /// a channel of its own (polled with `try_recv`); the UI repaints after.
    pub(crate) fn run<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let ctx = self.ctx.clone();
        self.rt.spawn(async move {
            fut.await;
            ctx.request_repaint();
        });
    }

    /// Run blocking work (file and image decoding, clipboard) on the
    /// runtime's blocking pool.
    pub(crate) fn spawn_blocking<F>(&self, f: F)
    where
        F: FnOnce() -> Reply + Send + 'static,
    {
        self.spawn(async move {
            match tokio::task::spawn_blocking(f).await {
                Ok(r) => r,
                Err(_) => Reply::NotifyFallback {
                    text: "A background task failed.".into(),
                },
            }
        });
    }

    /// List the profiles on disk.
    pub(crate) fn list_profiles(&self) {
        let kith = self.kith.clone();
        self.spawn_blocking(move || Reply::Profiles(kith.list_profiles()));
    }

    /// Forward a profile's events to the UI until it is locked.
    /// Returns the task so the caller can stop it.
    pub(crate) fn forward_events(&self, profile: &Profile) -> tokio::task::JoinHandle<()> {
        let mut events = profile.subscribe();
        let name = profile.name().to_owned();
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        self.rt.spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let reply = match events.recv().await {
                    Ok(event) => Reply::Event {
                        profile: name.clone(),
                        event,
                    },
                    Err(RecvError::Lagged(_)) => Reply::Resync {
                        profile: name.clone(),
                    },
                    Err(RecvError::Closed) => break,
                };
                if tx.send(reply).await.is_err() {
                    break;
                }
                ctx.request_repaint();
            }
        })
    }

    /// Take a profile online.
    pub(crate) fn go_online(&self, profile: &Profile, net: Network) {
        let p = profile.clone();
        self.spawn(async move {
            let result = p.go_online(net).await;
            Reply::WentOnline {
                profile: p.name().to_owned(),
                result,
            }
        });
    }

    /// Re-read a profile's contacts.
    pub(crate) fn load_contacts(&self, profile: &Profile) {
        let q = profile.clone();
        self.spawn(async move {
            Reply::Introductions {
                profile: q.name().to_owned(),
                result: q.introductions().await,
            }
        });
        let p = profile.clone();
        self.spawn(async move {
            Reply::Contacts {
                profile: p.name().to_owned(),
                result: p.contacts().await,
            }
        });
    }

    /// Re-read one conversation.
    pub(crate) fn load_messages(&self, profile: &Profile, contact: ContactId, mark_read: bool) {
        let p = profile.clone();
        self.spawn(async move {
            if mark_read {
                let _ = p.mark_read(contact).await;
            }
            Reply::Messages {
                profile: p.name().to_owned(),
                contact,
                result: p.messages(contact).await,
            }
        });
    }

    /// Re-read one conversation's settings.
    pub(crate) fn load_conversation(&self, profile: &Profile, contact: ContactId) {
        let p = profile.clone();
        self.spawn(async move {
            Reply::Conversation {
                profile: p.name().to_owned(),
                contact,
                result: p.conversation(contact).await,
            }
        });
    }

    /// Read a file (an arti TOML) off the UI thread.
    pub(crate) fn read_tor_config(&self, profile: &str, path: PathBuf) {
        let profile = profile.to_owned();
        self.spawn_blocking(move || {
            let result = read_small_file(&path, 1024 * 1024).and_then(|b| {
                String::from_utf8(b).map_err(|_| "the file is not UTF-8 text".to_owned())
            });
            Reply::TorConfigRead { profile, result }
        });
    }

    /// Stop everything: lock profiles, stop Tor. Waits up to a few seconds.
    pub(crate) fn shutdown(&self) {
        let kith = self.kith.clone();
        let _ = self.rt.block_on(async move {
            tokio::time::timeout(std::time::Duration::from_secs(5), kith.shutdown()).await
        });
    }
}

/// Read a file of at most `max` bytes.
pub(crate) fn read_small_file(path: &std::path::Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| format!("cannot open the file: {e}"))?;
    let mut buf = vec![];
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if buf.len() as u64 > max {
        return Err(format!(
            "the file is larger than {} MiB",
            max / (1024 * 1024)
        ));
    }
    Ok(buf)
}
