//! Files and pictures (issue 9 § 4, `docs/protocol.md` § 13): the user's
//! commands (send, accept, save, preview), what a session does with a
//! contact's offers, chunks, resumes and answers, and the progress of the
//! transfers running now.
//!
//! A file is a message of its conversation. The sender seals it into its
//! store chunk by chunk before offering it; the receiver stores each chunk
//! sealed as it arrives and shows nothing before the whole has the offer's
//! SHA-256. At every session the receiver asks for each file it is
//! receiving from the next chunk it needs, so a transfer cut by a
//! disconnection or a restart of either side goes on where it stopped.
//!
//! What a contact can make us store is bounded: a file is accepted without
//! asking only up to [`AUTO_ACCEPT_MAX`] bytes, while that contact's files
//! received or being received stay within [`AUTO_ACCEPT_BUDGET`] and fewer
//! than [`MAX_RECEIVING`] are under way; anything else waits for the user.
//! Strangers never reach this code: only a contact has a session.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kith_core::file::{FileChunk, FileName, FileOffer, FileStatus};
use kith_core::wire::PeerMessage;
use kith_core::{MessageId, Timestamp};
use kith_store::{ChunkRefusal, ChunkStored, ContactId, Direction, FileInfo, FileState, Inserted};
use tracing::debug;

use crate::conn::Conn;
use crate::contact::ContactRules;
use crate::error::{Error, Result};
use crate::model::{Event, MessageView};
use crate::profile::{LockExt, Profile, ProfileInner};

/// Largest file of a contact's accepted without asking the user.
pub const AUTO_ACCEPT_MAX: u64 = 32 * 1024 * 1024;
/// Most bytes of one contact's files (received and being received, not
/// deleted) beyond which its new files wait for the user.
pub const AUTO_ACCEPT_BUDGET: u64 = 256 * 1024 * 1024;
/// Most files of one contact received at once without asking.
pub const MAX_RECEIVING: usize = 4;
/// Largest picture decoded for a preview.
pub const MAX_PREVIEW_SOURCE: u64 = 16 * 1024 * 1024;
/// Longest side of a preview, in pixels.
pub const PREVIEW_SIDE: u32 = 320;
/// Largest width or height of a picture decoded for a preview: a header
/// claiming more is refused before anything is allocated.
const MAX_PICTURE_SIDE: u32 = 10_000;
/// Most bytes the picture decoder may allocate.
const MAX_PICTURE_ALLOC: u64 = 192 * 1024 * 1024;
/// Chunks read from the store at once for sending.
const SEND_BATCH: u32 = 8;
/// Chunks a session may send us that we refuse (out of order, for a file
/// not asked for) before it is closed as a flood.
const MAX_REFUSED_CHUNKS: u32 = 64;
/// Progress of one transfer is reported at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// A file as front ends show it.
#[derive(Clone)]
pub struct FileView {
    /// Its id (its message's).
    pub id: MessageId,
    /// The conversation.
    pub contact: ContactId,
    /// Ours or theirs.
    pub direction: Direction,
    /// Its name, safe to show and to save under (`FileName`'s rules).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of the whole file.
    pub sha256: [u8; 32],
    /// Where the transfer stands.
    pub state: FileState,
    /// Bytes across so far: received and stored (theirs), or sent (ours,
    /// while a session sends it; else from where the contact last asked).
    pub done: u64,
    /// Bytes per second, while a session carries it.
    pub speed: Option<u64>,
}

impl FileView {
    pub(crate) fn from_info(f: FileInfo) -> FileView {
        FileView {
            done: f.bytes_done(),
            id: f.id,
            contact: f.contact,
            direction: f.direction,
            name: f.name,
            size: f.size,
            sha256: f.sha256,
            state: f.state,
            speed: None,
        }
    }

    /// Whether its name says it is a picture Kith previews (PNG, JPEG).
    pub fn is_picture(&self) -> bool {
        let lower = self.name.to_ascii_lowercase();
        [".png", ".jpg", ".jpeg"].iter().any(|e| lower.ends_with(e))
    }

    /// How long the rest should take at the current speed.
    pub fn time_left(&self) -> Option<Duration> {
        let speed = self.speed.filter(|s| *s > 0)?;
        Some(Duration::from_secs(
            self.size.saturating_sub(self.done).div_ceil(speed),
        ))
    }
}

impl std::fmt::Debug for FileView {
    // The name is content: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileView")
            .field("id", &self.id)
            .field("direction", &self.direction)
            .field("size", &self.size)
            .field("state", &self.state)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// A picture's preview: at most [`PREVIEW_SIDE`] pixels a side, RGBA.
#[derive(Clone)]
pub struct Preview {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height` RGBA pixels, row by row.
    pub rgba: Vec<u8>,
}

impl std::fmt::Debug for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Preview({}×{})", self.width, self.height)
    }
}

/// The transfers running now, for their speed and (ours) how far they got.
#[derive(Default)]
pub(crate) struct Transfers {
    map: Mutex<HashMap<(ContactId, MessageId), Rate>>,
}

struct Rate {
    since: Instant,
    from: u64,
    done: u64,
    reported: Instant,
    /// When it last moved: a transfer whose session ended has no speed.
    moved: Instant,
}

/// A transfer that did not move for this long shows no speed.
const STALLED: Duration = Duration::from_secs(5);

impl Transfers {
    /// A transfer starts (again) at `done` bytes.
    fn start(&self, key: (ContactId, MessageId), done: u64) {
        let now = Instant::now();
        self.map.locked().insert(
            key,
            Rate {
                since: now,
                from: done,
                done,
                reported: now,
                moved: now,
            },
        );
    }

    /// It got to `done` bytes; whether to report that now.
    fn advance(&self, key: (ContactId, MessageId), done: u64) -> bool {
        let mut map = self.map.locked();
        let Some(r) = map.get_mut(&key) else {
            return false;
        };
        r.done = done;
        r.moved = Instant::now();
        if r.reported.elapsed() >= PROGRESS_EVERY {
            r.reported = Instant::now();
            return true;
        }
        false
    }

    fn end(&self, key: (ContactId, MessageId)) {
        self.map.locked().remove(&key);
    }

    /// `v` with what the running transfer knows.
    pub(crate) fn overlay(&self, v: &mut FileView) {
        let map = self.map.locked();
        let Some(r) = map.get(&(v.contact, v.id)) else {
            return;
        };
        if v.state != FileState::Transferring {
            return;
        }
        v.done = r.done.min(v.size);
        let secs = r.since.elapsed().as_secs_f64();
        if secs >= 0.5 && r.moved.elapsed() < STALLED {
            // Precision loss is fine for a rate.
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            let speed = (r.done.saturating_sub(r.from) as f64 / secs) as u64;
            v.speed = Some(speed);
        }
    }
}

/// One of our files a session is sending.
struct Upload {
    file: MessageId,
    next: u32,
    count: u32,
    chunk_size: u32,
}

/// What one session knows of its file transfers.
#[derive(Default)]
pub(crate) struct SessionFiles {
    /// Ours the contact asked for, sent a batch at a time in turn.
    uploads: VecDeque<Upload>,
    /// Theirs we asked for in this session.
    resumed: HashSet<MessageId>,
    /// Theirs we told the contact we do not take, in this session.
    told: HashSet<MessageId>,
    /// Chunks refused in this session.
    refused: u32,
}

impl SessionFiles {
    /// Whether there are chunks to send.
    pub(crate) fn sending(&self) -> bool {
        !self.uploads.is_empty()
    }
}

fn invalid(what: &str) -> Error {
    Error::BadInput(what.to_owned())
}

impl Profile {
    /// Send the file at `path` to the contact: sealed into the store, one
    /// chunk at a time, before this returns (its SHA-256 computed on the
    /// way), then offered at the next session and sent when the contact
    /// asks. At most 100 MiB (`kith_core::limits::MAX_FILE_SIZE`): a
    /// larger file is refused before it is read.
    pub async fn send_file(&self, contact: ContactId, path: &Path) -> Result<MessageView> {
        self.check_unlocked()?;
        let raw = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| invalid("that path names no file"))?;
        let name = FileName::sanitize(&raw)?;
        let path = path.to_owned();
        // File system calls block: not on the async threads.
        let (file, len) = blocking(move || {
            let file = std::fs::File::open(&path).map_err(|source| Error::Io {
                action: "opening the file to send",
                source,
            })?;
            let meta = file.metadata().map_err(|source| Error::Io {
                action: "reading the file to send",
                source,
            })?;
            if !meta.is_file() {
                return Err(invalid("only a regular file can be sent"));
            }
            kith_core::file::check_file_size(meta.len())?;
            Ok((file, meta.len()))
        })
        .await?;
        self.send_reader(contact, name, len, Box::new(file)).await
    }

    /// Send `data` as a file named `name` (made safe by `FileName`'s rules).
    pub async fn send_file_bytes(
        &self,
        contact: ContactId,
        name: &str,
        data: Vec<u8>,
    ) -> Result<MessageView> {
        self.check_unlocked()?;
        let name = FileName::sanitize(name)?;
        kith_core::file::check_file_size(data.len() as u64)?;
        let size = data.len() as u64;
        self.send_reader(contact, name, size, Box::new(std::io::Cursor::new(data)))
            .await
    }

    async fn send_reader(
        &self,
        contact: ContactId,
        name: FileName,
        size: u64,
        mut data: Box<dyn std::io::Read + Send>,
    ) -> Result<MessageView> {
        let id = MessageId::random(&mut rand::rngs::OsRng);
        let m = self
            .inner
            .store
            .call(move |s| {
                if !s.contact(contact)?.state.may_send() {
                    return Ok(None);
                }
                s.insert_outgoing_file(contact, id, &name, size, &mut data, Timestamp::now())?;
                let m = s
                    .message(contact, id)?
                    .ok_or(kith_store::Error::Bug("file message"))?;
                MessageView::read(s, m).map(Some)
            })
            .await?
            .ok_or_else(|| invalid("accept this contact before sending them files"))?;
        if m.expires_at.is_some() {
            self.inner.expiry.notify_one();
        }
        crate::net::outbox_changed(&self.inner, contact);
        Ok(m)
    }

    /// The conversation's files, oldest first.
    pub async fn files(&self, contact: ContactId) -> Result<Vec<FileView>> {
        self.check_unlocked()?;
        let mut files: Vec<FileView> = self
            .inner
            .store
            .call(move |s| s.files(contact))
            .await?
            .into_iter()
            .map(FileView::from_info)
            .collect();
        for f in &mut files {
            self.inner.transfers.overlay(f);
        }
        Ok(files)
    }

    /// One file of the conversation.
    pub async fn file(&self, contact: ContactId, id: MessageId) -> Result<FileView> {
        self.check_unlocked()?;
        let f = self.inner.store.call(move |s| s.file(contact, id)).await?;
        let mut f = FileView::from_info(f.ok_or_else(|| Error::NotFound("file".into()))?);
        self.inner.transfers.overlay(&mut f);
        Ok(f)
    }

    /// Accept a file of the contact's that waits for the user (over the
    /// automatic limits): its chunks are asked for at once if a session is
    /// up, else at the next one.
    pub async fn accept_file(&self, contact: ContactId, id: MessageId) -> Result<()> {
        self.check_unlocked()?;
        let outcome = self
            .inner
            .store
            .call(move |s| s.accept_file(contact, id))
            .await?
            .ok_or_else(|| Error::NotFound("file of theirs waiting to be accepted".into()))?;
        if outcome != (ChunkStored::Stored { next: 0 }) {
            // An empty file: complete (or corrupt) at once. The contact
            // is told by its next offer's answer.
            debug!("an empty file was accepted");
        }
        self.emit(Event::FileChanged { contact, id });
        crate::net::outbox_changed(&self.inner, contact);
        Ok(())
    }

    /// Refuse a file of the contact's, waiting or being received: what was
    /// stored of it is dropped and the contact is told (at once if a
    /// session is up, else at the next one), so its app stops offering it.
    pub async fn refuse_file(&self, contact: ContactId, id: MessageId) -> Result<()> {
        self.check_unlocked()?;
        let refused = self
            .inner
            .store
            .call(move |s| s.refuse_file(contact, id))
            .await?;
        if !refused {
            return Err(Error::NotFound(
                "file of theirs waiting or being received".into(),
            ));
        }
        self.inner.transfers.end((contact, id));
        self.emit(Event::FileChanged { contact, id });
        // A place among those received at once may be free now.
        accept_waiting(&self.inner, contact).await?;
        crate::net::outbox_changed(&self.inner, contact);
        Ok(())
    }

    /// Save the file (theirs once received and checked, or ours) to `dest`:
    /// a new file, or a directory to save it in under its own name. Written
    /// to a temporary file beside it, checked against its SHA-256 again,
    /// then renamed; an existing file is never overwritten. Returns where it
    /// was saved.
    pub async fn save_file(
        &self,
        contact: ContactId,
        id: MessageId,
        dest: &Path,
    ) -> Result<PathBuf> {
        let f = self.file(contact, id).await?;
        if f.direction == Direction::In && f.state != FileState::Complete {
            return Err(invalid("that file has not arrived yet"));
        }
        let (dest, name) = (dest.to_owned(), f.name.clone());
        // File system calls block: not on the async threads.
        let (target, part, out) = blocking(move || {
            let target = if dest.is_dir() {
                dest.join(&name)
            } else {
                dest
            };
            if target.symlink_metadata().is_ok() {
                return Err(Error::AlreadyExists(format!(
                    "a file at {}",
                    target.display()
                )));
            }
            let dir = target
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_owned();
            let part = dir.join(format!(
                ".kith-{}.part",
                MessageId::random(&mut rand::rngs::OsRng).to_hex()
            ));
            let out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&part)
                .map_err(|source| Error::Io {
                    action: "creating the file to save",
                    source,
                })?;
            Ok((target, part, out))
        })
        .await?;
        let part2 = part.clone();
        let written = self
            .inner
            .store
            .call(move |s| {
                let mut out = std::io::BufWriter::new(out);
                let n = s.write_file(contact, id, &mut out)?;
                let file = out.into_inner().map_err(|e| kith_store::Error::Io {
                    action: "writing the file",
                    source: e.into_error(),
                })?;
                file.sync_all().map_err(|source| kith_store::Error::Io {
                    action: "writing the file",
                    source,
                })?;
                Ok(n)
            })
            .await;
        blocking(move || {
            let renamed = written.map_err(Error::from).and_then(|_| {
                // No overwrite: link fails if the target appeared meanwhile.
                std::fs::hard_link(&part2, &target).map_err(|source| Error::Io {
                    action: "saving the file",
                    source,
                })
            });
            let _ = std::fs::remove_file(&part);
            renamed.map(|()| target)
        })
        .await
    }

    /// A preview of a picture (PNG or JPEG) of the conversation: theirs once
    /// received and checked, or ours. `None` if it is not a picture, not
    /// arrived yet, or over [`MAX_PREVIEW_SOURCE`]. A picture whose header
    /// claims more than 10 000 pixels a side or that would take more than
    /// 192 MiB to decode is refused before it is decoded (a decompression
    /// bomb), with a clear error, like one that does not decode.
    pub async fn preview(&self, contact: ContactId, id: MessageId) -> Result<Option<Preview>> {
        let f = self.file(contact, id).await?;
        let ready = f.direction == Direction::Out || f.state == FileState::Complete;
        if !f.is_picture() || !ready || f.size > MAX_PREVIEW_SOURCE {
            return Ok(None);
        }
        let bytes = self
            .inner
            .store
            .call(move |s| {
                let mut out = Vec::with_capacity(usize::try_from(f.size).unwrap_or(0));
                s.write_file(contact, id, &mut out)?;
                Ok(out)
            })
            .await?;
        blocking(move || make_preview(&bytes)).await.map(Some)
    }
}

/// Run blocking `f` (file system calls) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| Error::Bug("a blocking task failed"))?
}

/// Decode `bytes` within the limits and scale it to a preview.
pub(crate) fn make_preview(bytes: &[u8]) -> Result<Preview> {
    let bad = |e: &dyn std::fmt::Display| {
        debug!("picture not previewed: {e}");
        Error::Data(kith_core::Error::Decode {
            object: "picture",
            reason: "not a PNG or JPEG within the preview limits",
        })
    };
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| bad(&e))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_PICTURE_SIDE);
    limits.max_image_height = Some(MAX_PICTURE_SIDE);
    limits.max_alloc = Some(MAX_PICTURE_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| bad(&e))?;
    let small = img.thumbnail(PREVIEW_SIDE, PREVIEW_SIDE).to_rgba8();
    Ok(Preview {
        width: small.width(),
        height: small.height(),
        rgba: small.into_raw(),
    })
}

/// Whether the contact's new file is accepted without asking: from a
/// contact we chose, small enough, within its budget and count.
fn auto_accept(s: &kith_store::Store, contact: ContactId, size: u64) -> kith_store::Result<bool> {
    if !s.contact(contact)?.state.may_send() {
        return Ok(false);
    }
    if size == 0 {
        return Ok(true);
    }
    if size > AUTO_ACCEPT_MAX {
        return Ok(false);
    }
    let theirs: Vec<FileInfo> = s
        .files(contact)?
        .into_iter()
        .filter(|f| f.direction == Direction::In)
        .collect();
    let receiving = theirs
        .iter()
        .filter(|f| f.state == FileState::Transferring)
        .count();
    let kept: u64 = theirs
        .iter()
        .filter(|f| matches!(f.state, FileState::Transferring | FileState::Complete))
        .map(|f| f.size)
        .sum();
    Ok(receiving < MAX_RECEIVING && kept.saturating_add(size) <= AUTO_ACCEPT_BUDGET)
}

/// After one of the contact's files finished (or failed): accept those
/// that waited only for a place (within the limits now), oldest first.
/// Returns whether any was, so the session asks for them.
async fn accept_waiting(p: &Arc<ProfileInner>, id: ContactId) -> Result<bool> {
    let accepted = p
        .store
        .call(move |s| {
            let waiting: Vec<FileInfo> = s
                .files(id)?
                .into_iter()
                .filter(|f| {
                    f.direction == Direction::In
                        && f.state == FileState::Offered
                        && f.size <= AUTO_ACCEPT_MAX
                })
                .collect();
            let mut accepted = vec![];
            for f in waiting {
                if !auto_accept(s, id, f.size)? {
                    break;
                }
                if s.accept_file(id, f.id)?.is_some() {
                    accepted.push(f.id);
                }
            }
            Ok(accepted)
        })
        .await?;
    for fid in &accepted {
        p.emit(Event::FileChanged {
            contact: id,
            id: *fid,
        });
    }
    Ok(!accepted.is_empty())
}

/// A contact offers a file: store it (a message of the conversation),
/// accept it when the limits allow, acknowledge it. Its chunks are asked
/// for by the session's next flush.
pub(crate) async fn receive_offer(
    p: &Arc<ProfileInner>,
    id: ContactId,
    offer: FileOffer,
) -> Result<Vec<PeerMessage>> {
    let now = Timestamp::now();
    let sent_at = offer.sent_at.clamp_peer(now);
    let fid = offer.id;
    let (view, accepted) = p
        .store
        .call(move |s| {
            let m = match s.insert_incoming_file(id, &offer, sent_at, now)? {
                Inserted::New(m) => m,
                Inserted::Duplicate => return Ok((None, None)),
            };
            let accepted = if auto_accept(s, id, offer.size)? {
                s.accept_file(id, fid)?
            } else {
                None
            };
            Ok((Some(MessageView::read(s, m)?), accepted))
        })
        .await?;
    let mut replies = vec![PeerMessage::Ack(vec![fid])];
    if let Some(m) = view {
        if m.expires_at.is_some() {
            p.expiry.notify_one();
        }
        p.emit(Event::MessageReceived {
            contact: id,
            message: m,
        });
    }
    match accepted {
        Some(ChunkStored::Stored { .. }) => crate::net::outbox_changed(p, id),
        Some(ChunkStored::Complete) => replies.push(done(fid, FileStatus::Received)),
        Some(ChunkStored::Corrupt) => replies.push(done(fid, FileStatus::Corrupt)),
        Some(ChunkStored::Refused(_)) | None => {}
    }
    Ok(replies)
}

fn done(file: MessageId, status: FileStatus) -> PeerMessage {
    PeerMessage::FileDone { file, status }
}

/// A chunk of a contact's file: stored if it is the next one of a file we
/// asked for and has the length the offer gives it; after the last one the
/// file is checked and the contact told. A chunk that lies about its length
/// fails the file; others refused count towards closing the session.
pub(crate) async fn receive_chunk(
    p: &Arc<ProfileInner>,
    id: ContactId,
    chunk: FileChunk,
    files: &mut SessionFiles,
) -> Result<Vec<PeerMessage>> {
    let (fid, index, len) = (chunk.file, chunk.index, chunk.data.len() as u64);
    let key = (id, fid);
    let stored = p.store.call(move |s| s.store_chunk(id, &chunk)).await?;
    match stored {
        ChunkStored::Stored { next } => {
            // Every chunk but the last is as long as the offer's chunk size.
            if p.transfers.advance(key, u64::from(next) * len) {
                p.emit(Event::FileChanged {
                    contact: id,
                    id: fid,
                });
            }
            Ok(vec![])
        }
        ChunkStored::Complete | ChunkStored::Corrupt => {
            p.transfers.end(key);
            p.emit(Event::FileChanged {
                contact: id,
                id: fid,
            });
            if accept_waiting(p, id).await? {
                crate::net::outbox_changed(p, id);
            }
            let status = if stored == ChunkStored::Complete {
                FileStatus::Received
            } else {
                FileStatus::Corrupt
            };
            Ok(vec![done(fid, status)])
        }
        ChunkStored::Refused(why) => {
            files.refused += 1;
            if files.refused > MAX_REFUSED_CHUNKS {
                return Err(Error::Protocol("a flood of file chunks not asked for"));
            }
            match why {
                ChunkRefusal::WrongLength => {
                    debug!("a file chunk lied about its length (index {index})");
                    p.transfers.end(key);
                    if p.store.call(move |s| s.fail_file(id, fid)).await? {
                        p.emit(Event::FileChanged {
                            contact: id,
                            id: fid,
                        });
                        if accept_waiting(p, id).await? {
                            crate::net::outbox_changed(p, id);
                        }
                    }
                    Ok(vec![done(fid, FileStatus::Corrupt)])
                }
                ChunkRefusal::UnknownFile | ChunkRefusal::NotReceiving => {
                    // Deleted here, or never asked for: say so once.
                    if files.told.insert(fid) {
                        Ok(vec![done(fid, FileStatus::Refused)])
                    } else {
                        Ok(vec![])
                    }
                }
                ChunkRefusal::OutOfOrder { .. } => Ok(vec![]),
            }
        }
    }
}

/// The contact asks for our file from chunk `from`: queue it for sending.
/// A file we no longer have (deleted here) is answered
/// `FileDone(Unavailable)`.
pub(crate) async fn receive_resume(
    p: &Arc<ProfileInner>,
    id: ContactId,
    fid: MessageId,
    from: u32,
    files: &mut SessionFiles,
) -> Result<Vec<PeerMessage>> {
    let found = p
        .store
        .call(move |s| {
            let Some(count) = s.file_resume_requested(id, fid, from)? else {
                // Not one it may ask for: deleted here (no file at all), or
                // answered, refused, asked past its end (nothing to say).
                return Ok(Err(s.file(id, fid)?.is_none()));
            };
            Ok(s.file(id, fid)?.map(|f| (count, f.chunk_size)).ok_or(false))
        })
        .await?;
    let (count, chunk_size) = match found {
        Ok(found) => found,
        Err(gone) => {
            return Ok(if gone && files.told.insert(fid) {
                vec![done(fid, FileStatus::Unavailable)]
            } else {
                vec![]
            });
        }
    };
    p.transfers
        .start((id, fid), u64::from(from) * u64::from(chunk_size));
    files.uploads.retain(|u| u.file != fid);
    files.uploads.push_back(Upload {
        file: fid,
        next: from,
        count,
        chunk_size,
    });
    p.emit(Event::FileChanged {
        contact: id,
        id: fid,
    });
    Ok(vec![])
}

/// The contact's last word on our file, or (`Unavailable`) on its own.
pub(crate) async fn receive_done(
    p: &Arc<ProfileInner>,
    id: ContactId,
    fid: MessageId,
    status: FileStatus,
    files: &mut SessionFiles,
) -> Result<()> {
    files.uploads.retain(|u| u.file != fid);
    p.transfers.end((id, fid));
    let changed = p
        .store
        .call(move |s| match status {
            // Theirs, which they no longer have.
            FileStatus::Unavailable => s.file_withdrawn(id, fid),
            _ => s.file_done(id, fid, status),
        })
        .await?;
    if changed {
        p.emit(Event::FileChanged {
            contact: id,
            id: fid,
        });
        if status == FileStatus::Unavailable && accept_waiting(p, id).await? {
            crate::net::outbox_changed(p, id);
        }
    }
    Ok(())
}

/// Send the next batch of chunks of the first file in line, then put it at
/// the back (files asked for at once share the session in turn).
pub(crate) async fn send_some(
    p: &Arc<ProfileInner>,
    id: ContactId,
    conn: &mut Conn,
    files: &mut SessionFiles,
) -> Result<()> {
    let Some(mut up) = files.uploads.pop_front() else {
        return Ok(());
    };
    let (fid, from) = (up.file, up.next);
    let to = up.count.min(from.saturating_add(SEND_BATCH));
    let chunks = p
        .store
        .call(move |s| {
            (from..to)
                .map(|i| s.outgoing_chunk(id, fid, i))
                .collect::<kith_store::Result<Vec<_>>>()
        })
        .await;
    let chunks = match chunks {
        Ok(c) => c,
        Err(e) if e.kind() == kith_core::ErrorKind::NotFound => {
            // Deleted meanwhile: stop sending it, and say so.
            p.transfers.end((id, fid));
            if files.told.insert(fid) {
                conn.send(&done(fid, FileStatus::Unavailable)).await?;
            }
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    for c in &chunks {
        conn.send(&PeerMessage::FileChunk(c.clone())).await?;
        up.next += 1;
        let sent = u64::from(up.next) * u64::from(up.chunk_size);
        if p.transfers.advance((id, fid), sent) {
            p.emit(Event::FileChanged {
                contact: id,
                id: fid,
            });
        }
    }
    if up.next < up.count {
        files.uploads.push_back(up);
    }
    Ok(())
}

/// At each flush: ask for every file of theirs we are receiving and did
/// not ask for in this session yet, from the next chunk we need; tell the
/// contact of every file of theirs our user refused, once per session.
pub(crate) async fn flush(
    p: &Arc<ProfileInner>,
    id: ContactId,
    conn: &mut Conn,
    files: &mut SessionFiles,
) -> Result<()> {
    let theirs: Vec<FileInfo> = p
        .store
        .call(move |s| {
            Ok(s.files(id)?
                .into_iter()
                .filter(|f| {
                    f.direction == Direction::In
                        && matches!(f.state, FileState::Transferring | FileState::Refused)
                })
                .collect::<Vec<_>>())
        })
        .await?;
    let (receiving, refused): (Vec<FileInfo>, Vec<FileInfo>) = theirs
        .into_iter()
        .partition(|f| f.state == FileState::Transferring);
    for f in refused {
        // No answer comes: sent again at the next session (a sender that
        // has it already changes nothing).
        if files.told.insert(f.id) {
            conn.send(&done(f.id, FileStatus::Refused)).await?;
        }
    }
    for f in receiving {
        if !files.resumed.insert(f.id) {
            continue;
        }
        p.transfers.start((id, f.id), f.bytes_done());
        conn.send(&PeerMessage::FileResume {
            file: f.id,
            from: f.next,
        })
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{friends, kith, pair, tcp};
    use kith_core::chat::DisappearTimer;
    use sha2::{Digest, Sha256};

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 + i / 997) as u8).collect()
    }

    async fn wait_for(what: &str, secs: u64, mut f: impl AsyncFnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if f().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out: {what}");
    }

    async fn state(p: &Profile, c: ContactId, id: MessageId) -> FileState {
        p.file(c, id).await.expect("file").state
    }

    /// A file goes across in chunks, is cut half way by the sender going
    /// offline, resumes from where it stopped when it is back, is cut again
    /// by the receiver going offline and resumes again, arrives with the
    /// same SHA-256 and is saved; the sender learns it arrived.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_goes_across_resumes_and_is_saved() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let (a, b) = pair(&k).await;
        let (bob, alice) = friends(&a, &b).await;
        let bytes = data(12 * 1024 * 1024 + 17);
        let mut events = b.subscribe();
        let sent = a
            .send_file_bytes(bob, "../notes.bin", bytes.clone())
            .await
            .expect("send");
        let fid = sent.id;
        let f = sent.file.expect("a file message");
        assert_eq!((f.name.as_str(), f.size), ("notes.bin", bytes.len() as u64));
        assert_eq!(f.sha256, <[u8; 32]>::from(Sha256::digest(&bytes)));
        // The offer arrives as a message, accepted at once (under the limit).
        let m = loop {
            match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
                Ok(Ok(Event::MessageReceived { message, .. })) => break message,
                Ok(Ok(_)) => {}
                other => panic!("no offer: {other:?}"),
            }
        };
        assert_eq!(m.kind, kith_store::MessageKind::File);
        // Cut it once some of it is across.
        wait_for("some chunks", 30, async || {
            b.file(alice, fid).await.expect("f").done > 0
        })
        .await;
        a.go_offline().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let half = b.file(alice, fid).await.expect("f");
        assert_eq!(half.state, FileState::Transferring);
        assert!(half.done > 0 && half.done < half.size, "{half:?}");
        // Nothing of it can be saved or previewed yet.
        assert!(b.save_file(alice, fid, dir.path()).await.is_err());
        a.go_online(tcp()).await.expect("online");
        // Then the receiver goes away half way, and comes back.
        wait_for("more chunks", 60, async || {
            b.file(alice, fid).await.expect("f").done > half.done
        })
        .await;
        b.go_offline().await;
        let later = b.file(alice, fid).await.expect("f");
        assert!(
            later.done > half.done && later.done < later.size,
            "{later:?}"
        );
        b.go_online(tcp()).await.expect("online");
        let half = later;
        wait_for("complete", 60, async || {
            let f = b.file(alice, fid).await.expect("f");
            assert!(f.done >= half.done, "went back: {f:?} after {half:?}");
            f.state == FileState::Complete
        })
        .await;
        wait_for("sender told", 10, async || {
            state(&a, bob, fid).await == FileState::Complete
        })
        .await;
        let out = b.save_file(alice, fid, dir.path()).await.expect("save");
        assert_eq!(out, dir.path().join("notes.bin"));
        assert_eq!(std::fs::read(&out).expect("read"), bytes);
        // Never over an existing file.
        assert!(matches!(
            b.save_file(alice, fid, &out).await,
            Err(Error::AlreadyExists(_))
        ));
        assert!(b.preview(alice, fid).await.expect("preview").is_none());
        k.shutdown().await;
    }

    /// A PNG is previewed on both sides from the stored data; one over the
    /// automatic limit waits for the user; a file of a contact under the
    /// disappearing timer carries it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pictures_are_previewed_and_large_files_wait() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let (a, b) = pair(&k).await;
        let (bob, alice) = friends(&a, &b).await;
        let mut png = vec![];
        image::RgbImage::from_fn(640, 480, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
        })
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
        a.set_disappear(bob, DisappearTimer::OneDay)
            .await
            .expect("timer");
        let pic = a
            .send_file_bytes(bob, "cat.PNG", png)
            .await
            .expect("send")
            .id;
        let ours = a
            .preview(bob, pic)
            .await
            .expect("preview")
            .expect("a picture");
        assert_eq!((ours.width, ours.height), (PREVIEW_SIDE, 240));
        assert_eq!(ours.rgba.len(), 320 * 240 * 4);
        wait_for("picture", 30, async || {
            state(&b, alice, pic).await == FileState::Complete
        })
        .await;
        let theirs = b
            .preview(alice, pic)
            .await
            .expect("preview")
            .expect("a picture");
        assert_eq!(theirs.rgba, ours.rgba);
        let m = b.messages(alice).await.expect("m");
        let m = m.iter().find(|m| m.id == pic).expect("file message");
        assert_eq!(m.disappear, DisappearTimer::OneDay);
        assert!(m.expires_at.is_some());

        // Over the limit: offered, not accepted until the user says so.
        let big = vec![0_u8; usize::try_from(AUTO_ACCEPT_MAX).expect("usize") + 1];
        let id = a
            .send_file_bytes(bob, "big.iso", big)
            .await
            .expect("send")
            .id;
        wait_for("offer", 30, async || b.file(alice, id).await.is_ok()).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(state(&b, alice, id).await, FileState::Offered);
        assert_eq!(b.file(alice, id).await.expect("f").done, 0);
        b.accept_file(alice, id).await.expect("accept");
        assert!(b.accept_file(alice, id).await.is_err(), "accepted twice");
        wait_for("big file", 120, async || {
            state(&b, alice, id).await == FileState::Complete
        })
        .await;
        // Deleted with its message: no file left.
        assert!(b.delete_message(alice, id).await.expect("delete"));
        assert!(b.file(alice, id).await.is_err());
        k.shutdown().await;
    }

    /// A file waiting for the user can be refused (its sender is told, also
    /// after a restart of the session), and one its sender deleted before
    /// sending it is dropped when the receiver asks for it, instead of
    /// waiting forever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refused_and_withdrawn_files_end_on_both_sides() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let (a, b) = pair(&k).await;
        let (bob, alice) = friends(&a, &b).await;
        let big = || vec![7_u8; usize::try_from(AUTO_ACCEPT_MAX).expect("usize") + 1];

        // Refused while the sender is offline: it learns at the next session.
        let refused = a
            .send_file_bytes(bob, "a.iso", big())
            .await
            .expect("send")
            .id;
        wait_for("offer", 30, async || b.file(alice, refused).await.is_ok()).await;
        assert_eq!(state(&b, alice, refused).await, FileState::Offered);
        let port = a.link().tcp.expect("hint").port();
        a.go_offline().await;
        b.refuse_file(alice, refused).await.expect("refuse");
        assert!(b.refuse_file(alice, refused).await.is_err(), "twice");
        assert!(b.accept_file(alice, refused).await.is_err(), "refused");
        assert_eq!(state(&b, alice, refused).await, FileState::Refused);
        assert_eq!(state(&a, bob, refused).await, FileState::Offered);
        a.go_online(crate::Network::Tcp {
            listen: format!("127.0.0.1:{port}").parse().expect("addr"),
        })
        .await
        .expect("online");
        wait_for("sender told of the refusal", 30, async || {
            state(&a, bob, refused).await == FileState::Refused
        })
        .await;
        // Ours cannot be refused.
        assert!(a.refuse_file(bob, refused).await.is_err());

        // Deleted by its sender before the receiver took it: accepting it
        // asks, the sender says it is gone, and it ends there.
        let gone = a
            .send_file_bytes(bob, "b.iso", big())
            .await
            .expect("send")
            .id;
        wait_for("offer", 30, async || b.file(alice, gone).await.is_ok()).await;
        assert!(a.delete_message(bob, gone).await.expect("delete"));
        b.accept_file(alice, gone).await.expect("accept");
        wait_for("the file ends as unavailable", 30, async || {
            state(&b, alice, gone).await == FileState::Unavailable
        })
        .await;
        assert_eq!(b.file(alice, gone).await.expect("f").done, 0);
        assert!(b.save_file(alice, gone, dir.path()).await.is_err());
        // The conversation goes on.
        let m = a.send(bob, "still here").await.expect("send");
        wait_for("a text after it", 30, async || {
            b.messages(alice)
                .await
                .expect("m")
                .iter()
                .any(|x| x.id == m.id)
        })
        .await;
        k.shutdown().await;
    }

    /// More files than are received at once: those over the count wait,
    /// offered, and are taken as the first ones finish.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn files_over_the_count_wait_for_a_place() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let (a, b) = pair(&k).await;
        let (bob, alice) = friends(&a, &b).await;
        a.go_offline().await;
        let mut ids = vec![];
        for i in 0..MAX_RECEIVING + 2 {
            let m = a
                .send_file_bytes(bob, &format!("part{i}.bin"), data(300_000 + i))
                .await
                .expect("send");
            ids.push(m.id);
        }
        a.go_online(tcp()).await.expect("online");
        wait_for("all offers", 30, async || {
            b.files(alice).await.expect("files").len() == ids.len()
        })
        .await;
        wait_for("every file", 60, async || {
            let fs = b.files(alice).await.expect("files");
            let running = fs
                .iter()
                .filter(|f| f.state == FileState::Transferring)
                .count();
            assert!(running <= MAX_RECEIVING, "{running} at once");
            fs.iter().all(|f| f.state == FileState::Complete)
        })
        .await;
        for id in ids {
            wait_for("sender told", 10, async || {
                state(&a, bob, id).await == FileState::Complete
            })
            .await;
        }
        k.shutdown().await;
    }

    /// What a hostile contact can send about files: a chunk lying about its
    /// length fails that file, a whole whose hash differs is dropped, chunks
    /// not asked for are refused and a flood of them ends the session; the
    /// conversation keeps everything else.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hostile_file_messages_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = kith(dir.path());
        let (a, b) = pair(&k).await;
        let (bob, alice) = friends(&a, &b).await;
        let hello = a.send(bob, "kept").await.expect("send");
        wait_for("text", 10, async || {
            b.messages(alice)
                .await
                .expect("m")
                .iter()
                .any(|m| m.id == hello.id)
        })
        .await;
        a.go_offline().await;
        let p = &b.inner;
        let mut files = SessionFiles::default();
        let offer = |n: u8, size: u64, sha256: [u8; 32]| FileOffer {
            id: MessageId([n; 16]),
            sent_at: Timestamp::now(),
            name: FileName::sanitize("x.bin").expect("name"),
            size,
            sha256,
            chunk_size: 1024,
            disappear: DisappearTimer::Off,
        };
        let chunk = |n: u8, index: u32, data: Vec<u8>| FileChunk {
            file: MessageId([n; 16]),
            index,
            data,
        };
        let on = async |files: &mut SessionFiles, m: PeerMessage| {
            crate::net::on_message(p, alice, m, files, &mut Default::default()).await
        };
        let body = data(3000);
        let sha: [u8; 32] = Sha256::digest(&body).into();

        // 1. A chunk that lies about its length.
        let r = on(&mut files, PeerMessage::FileOffer(offer(1, 3000, sha))).await;
        assert_eq!(
            r.expect("offer"),
            [PeerMessage::Ack(vec![MessageId([1; 16])])]
        );
        assert_eq!(
            state(&b, alice, MessageId([1; 16])).await,
            FileState::Transferring
        );
        let r = on(
            &mut files,
            PeerMessage::FileChunk(chunk(1, 0, vec![1; 999])),
        )
        .await;
        assert_eq!(
            r.expect("chunk"),
            [done(MessageId([1; 16]), FileStatus::Corrupt)]
        );
        assert_eq!(
            state(&b, alice, MessageId([1; 16])).await,
            FileState::Corrupt
        );

        // 2. Chunks of the right lengths whose whole has another hash.
        on(&mut files, PeerMessage::FileOffer(offer(2, 3000, [9; 32])))
            .await
            .expect("offer");
        for (i, part) in body.chunks(1024).enumerate() {
            let r = on(
                &mut files,
                PeerMessage::FileChunk(chunk(2, i as u32, part.to_vec())),
            )
            .await
            .expect("chunk");
            if i < 2 {
                assert!(r.is_empty());
            } else {
                assert_eq!(r, [done(MessageId([2; 16]), FileStatus::Corrupt)]);
            }
        }
        assert_eq!(
            state(&b, alice, MessageId([2; 16])).await,
            FileState::Corrupt
        );
        assert!(
            b.save_file(alice, MessageId([2; 16]), dir.path())
                .await
                .is_err()
        );

        // 3. The same, honest: received, and the bytes are the offer's.
        on(&mut files, PeerMessage::FileOffer(offer(3, 3000, sha)))
            .await
            .expect("offer");
        let mut last = vec![];
        for (i, part) in body.chunks(1024).enumerate() {
            last = on(
                &mut files,
                PeerMessage::FileChunk(chunk(3, i as u32, part.to_vec())),
            )
            .await
            .expect("chunk");
        }
        assert_eq!(last, [done(MessageId([3; 16]), FileStatus::Received)]);
        let saved = b
            .save_file(alice, MessageId([3; 16]), dir.path())
            .await
            .expect("save");
        assert_eq!(std::fs::read(saved).expect("read"), body);

        // 4. Chunks nobody asked for: told once, then a flood ends the session.
        let r = on(
            &mut files,
            PeerMessage::FileChunk(chunk(7, 0, vec![0; 1024])),
        )
        .await;
        assert_eq!(
            r.expect("refused"),
            [done(MessageId([7; 16]), FileStatus::Refused)]
        );
        let mut ended = None;
        for i in 1..=MAX_REFUSED_CHUNKS {
            match on(
                &mut files,
                PeerMessage::FileChunk(chunk(7, i, vec![0; 1024])),
            )
            .await
            {
                Ok(r) => assert!(r.is_empty()),
                Err(e) => {
                    ended = Some(e);
                    break;
                }
            }
        }
        assert!(matches!(ended, Some(Error::Protocol(_))), "{ended:?}");
        // Nothing else was lost.
        let ms = b.messages(alice).await.expect("m");
        assert!(ms.iter().any(|m| m.id == hello.id && m.body == "kept"));
        assert_eq!(b.files(alice).await.expect("files").len(), 3);
        k.shutdown().await;
    }

    /// A CRC-32 (PNG's) for hand-made chunks.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = !0_u32;
        for b in bytes {
            c ^= u32::from(*b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    fn png_claiming(width: u32, height: u32) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], body: &[u8]| {
            out.extend((body.len() as u32).to_be_bytes());
            let mut crc_in = kind.to_vec();
            crc_in.extend(body);
            out.extend(&crc_in);
            out.extend(crc32(&crc_in).to_be_bytes());
        };
        let mut ihdr = vec![];
        ihdr.extend(width.to_be_bytes());
        ihdr.extend(height.to_be_bytes());
        ihdr.extend([8, 6, 0, 0, 0]);
        chunk(b"IHDR", &ihdr);
        // A deflate stream of zeros would follow; the header is refused first.
        chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        chunk(b"IEND", &[]);
        out
    }

    /// Pictures that would decode huge are refused from their header, and
    /// what is not a picture is a clear error, never a panic.
    #[test]
    fn picture_bombs_and_garbage_are_refused() {
        for (w, h) in [(50_000, 50_000), (10_001, 1), (1, 10_001), (9_000, 9_000)] {
            let e = make_preview(&png_claiming(w, h)).expect_err("bomb");
            assert_eq!(
                e.kind(),
                kith_core::ErrorKind::PeerProtocolViolation,
                "{w}×{h}: {e}"
            );
        }
        for junk in [
            &b""[..],
            b"\x89PNG\r\n\x1a\n",
            b"GIF89a",
            &[0xff, 0xd8, 0xff, 0xe0],
        ] {
            assert!(make_preview(junk).is_err());
        }
        let mut jpg = vec![];
        image::RgbImage::from_pixel(100, 400, image::Rgb([200, 10, 10]))
            .write_to(
                &mut std::io::Cursor::new(&mut jpg),
                image::ImageFormat::Jpeg,
            )
            .expect("jpeg");
        let p = make_preview(&jpg).expect("preview");
        assert_eq!((p.width, p.height), (80, PREVIEW_SIDE));
    }

    fn small(format: image::ImageFormat) -> Vec<u8> {
        let mut out = vec![];
        image::RgbImage::from_fn(33, 17, |x, y| image::Rgb([x as u8, y as u8, 99]))
            .write_to(&mut std::io::Cursor::new(&mut out), format)
            .expect("encode");
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Damaged pictures (the fuzz target `preview`, a few cases on every
        /// test run): a clear error or a bounded preview, never a panic.
        #[test]
        fn damaged_pictures_never_panic(
            jpeg: bool,
            flips in proptest::collection::vec((0_usize..4096, proptest::prelude::any::<u8>()), 1..8),
            cut in 0_usize..4096,
        ) {
            let mut bytes = small(if jpeg { image::ImageFormat::Jpeg } else { image::ImageFormat::Png });
            for (at, v) in flips {
                let n = bytes.len();
                bytes[at % n] ^= v;
            }
            bytes.truncate(bytes.len().max(1) - cut % bytes.len().max(1));
            crate::fuzzing::preview(&bytes);
        }
    }
}
