//! Files and pictures in a conversation (issue 9 § 4): the "📎" dialog that
//! sends one (a typed or pasted path, or a file dropped on the chat), a
//! file message's bubble (name, size, state, progress, Accept, Save…), the
//! "Save…" dialog, and picture previews.
//!
//! Everything the engine does runs on the backend: a call ends in a
//! [`FileReply`], and `Event::FileChanged` re-reads that one file. A
//! picture's preview is decoded by the engine once per file and kept here
//! as a texture for the open conversation, so frames only draw it.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use kith_node::{ContactId, Direction, FileState, FileView, MessageId, MessageView, Preview};

use crate::app::{KithApp, Session};
use crate::backend::{Backend, Reply};
use crate::peer_text;

/// The composer's button that sends a file (in the bundled fonts: see the
/// glyph test in `main_view`).
pub(crate) const CLIP_SIGN: &str = "📎";

/// The largest preview drawn in a bubble, in points a side.
const PREVIEW_MAX: f32 = 240.0;

/// What the file controls know and were asked.
#[derive(Default)]
pub(crate) struct FilesUi {
    /// The "Send a file" dialog, when open.
    pub(crate) send: Option<SendDialog>,
    /// The "Save…" dialog, when open.
    pub(crate) save: Option<SaveDialog>,
    /// Previews of the open conversation's pictures, by (contact, file).
    previews: HashMap<(ContactId, MessageId), Shown>,
    /// Files of theirs being accepted (their button waits for the answer).
    accepting: HashSet<(ContactId, MessageId)>,
    /// Engine calls to make after drawing.
    todo: Vec<Do>,
}

/// A picture's preview, as far as it got.
enum Shown {
    /// Asked for.
    Loading,
    /// Decoded and uploaded.
    Ready(egui::TextureHandle),
    /// Not a picture within the limits, or it could not be read.
    Failed(String),
}

/// The "Send a file" dialog.
pub(crate) struct SendDialog {
    contact: ContactId,
    /// The path as typed, pasted or dropped.
    pub(crate) path: String,
    busy: bool,
    error: Option<String>,
}

/// The "Save…" dialog.
pub(crate) struct SaveDialog {
    contact: ContactId,
    id: MessageId,
    /// The file's (safe) name, for the title.
    name: String,
    /// Where to save it: a new file, or a folder.
    pub(crate) path: String,
    busy: bool,
    error: Option<String>,
}

/// An engine call asked for.
enum Do {
    Send {
        contact: ContactId,
        path: PathBuf,
    },
    /// Accept (`true`) or refuse a file of theirs.
    Answer {
        contact: ContactId,
        id: MessageId,
        accept: bool,
    },
    Save {
        contact: ContactId,
        id: MessageId,
        dest: PathBuf,
    },
    Preview {
        contact: ContactId,
        id: MessageId,
    },
}

/// What came back from the engine.
#[derive(Debug)]
pub(crate) enum FileReply {
    /// A file was sent (sealed into the store and queued), or why not.
    Sent {
        contact: ContactId,
        result: Result<MessageView, kith_node::Error>,
    },
    /// One file was read again (after `Event::FileChanged`).
    File {
        contact: ContactId,
        id: MessageId,
        result: Result<FileView, kith_node::Error>,
    },
    /// Accepting a file ended.
    /// A file of theirs was accepted or refused, or why not.
    Answered {
        contact: ContactId,
        id: MessageId,
        accept: bool,
        result: Result<(), kith_node::Error>,
    },
    /// Saving a file ended: where it went, or why not.
    Saved {
        contact: ContactId,
        id: MessageId,
        result: Result<PathBuf, kith_node::Error>,
    },
    /// A preview was decoded (`None`: not a picture, or not arrived).
    Preview {
        contact: ContactId,
        id: MessageId,
        result: Result<Option<Preview>, kith_node::Error>,
    },
}

impl FilesUi {
    /// Another conversation was opened (or none is): its previews go.
    pub(crate) fn reset(&mut self) {
        self.send = None;
        self.save = None;
        self.previews.clear();
        self.accepting.clear();
    }

    /// Open the "Send a file" dialog for `contact`, with `path` filled in.
    pub(crate) fn open_send(&mut self, contact: ContactId, path: String) {
        self.send = Some(SendDialog {
            contact,
            path,
            busy: false,
            error: None,
        });
    }
}

/// A size in words: "512 B", "1.5 KiB", "12.3 MiB".
pub(crate) fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    // Tenths of the unit, in integers: no float rounding surprises.
    let mut unit = 0;
    let mut div: u64 = 1024;
    while unit + 1 < UNITS.len() && bytes / div >= 1024 {
        div *= 1024;
        unit += 1;
    }
    let tenths = (u128::from(bytes) * 10 + u128::from(div) / 2) / u128::from(div);
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

/// A speed in words: "1.2 MiB/s".
pub(crate) fn speed_text(bytes_per_second: u64) -> String {
    format!("{}/s", size_text(bytes_per_second))
}

/// Time left in words: "5 s left", "3 min left", "2 h 5 min left".
pub(crate) fn time_left_text(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s left")
    } else if s < 3600 {
        format!("{} min left", s.div_ceil(60))
    } else {
        format!("{} h {} min left", s / 3600, (s % 3600) / 60)
    }
}

/// The progress line under a running transfer: "42 % · 1.2 MiB/s · 3 s left".
pub(crate) fn progress_text(f: &FileView) -> String {
    let pct = f
        .done
        .min(f.size)
        .saturating_mul(100)
        .checked_div(f.size)
        .unwrap_or(0);
    let mut t = format!("{pct} %");
    if let Some(s) = f.speed {
        t.push_str(" · ");
        t.push_str(&speed_text(s));
    }
    if let Some(left) = f.time_left() {
        t.push_str(" · ");
        t.push_str(&time_left_text(left));
    }
    t
}

/// "Accept" (`accept`) or "Refuse" for a file of theirs; disabled while
/// the answer is on its way.
fn answer_button(ui: &mut egui::Ui, files: &mut FilesUi, f: &FileView, accept: bool, hover: &str) {
    let key = (f.contact, f.id);
    let verb = if accept { "Accept" } else { "Refuse" };
    let busy = files.accepting.contains(&key);
    let r = ui
        .add_enabled(!busy, egui::Button::new(verb))
        .on_hover_text(hover);
    r.widget_info(|| {
        egui::WidgetInfo::labeled(egui::Role::Button, true, format!("{verb} {}", f.name))
    });
    if r.clicked() {
        files.accepting.insert(key);
        files.todo.push(Do::Answer {
            contact: f.contact,
            id: f.id,
            accept,
        });
    }
}

/// Where a transfer stands, in words.
pub(crate) fn state_text(f: &FileView) -> &'static str {
    match (f.direction, f.state) {
        (Direction::In, FileState::Offered) => {
            "Waiting for you: accept it to receive it, or refuse it"
        }
        (Direction::In, FileState::Transferring) => "Receiving",
        (Direction::In, FileState::Complete) => "Received and checked",
        (Direction::In, FileState::Refused) => "Refused",
        (Direction::In, FileState::Corrupt) => "Arrived damaged: not kept",
        (Direction::In, FileState::Unavailable) => "They deleted it before it came",
        // Only theirs become unavailable.
        (Direction::Out, FileState::Unavailable) => "Deleted",
        (Direction::Out, FileState::Offered) => "Offered: waiting for them to take it",
        (Direction::Out, FileState::Transferring) => "Sending",
        (Direction::Out, FileState::Complete) => "Sent: they have it",
        (Direction::Out, FileState::Refused) => "They refused it",
        (Direction::Out, FileState::Corrupt) => "It arrived damaged at theirs",
    }
}

/// A path as pasted: without surrounding quotes, and without the
/// `file://` a file manager puts in front (with its `%20`s decoded).
pub(crate) fn clean_path(typed: &str) -> String {
    let t = typed.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .or_else(|| t.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')))
        .unwrap_or(t);
    let Some(rest) = t.strip_prefix("file://") else {
        return t.to_owned();
    };
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            // Two hex digits: always below 256.
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where "Save…" offers to put a file: `~/Downloads` if there is one, else
/// the home folder, else the current folder; with the file's name.
fn default_save_path(name: &str) -> String {
    let base = std::env::home_dir()
        .map(|h| {
            let d = h.join("Downloads");
            if d.is_dir() { d } else { h }
        })
        .unwrap_or_else(|| PathBuf::from("."));
    base.join(name).display().to_string()
}

/// Whether a preview is worth asking for: a picture, arrived (or ours).
fn previewable(f: &FileView) -> bool {
    f.is_picture()
        && f.size <= kith_node::MAX_PREVIEW_SOURCE
        && (f.direction == Direction::Out || f.state == FileState::Complete)
}

/// A file message's contents inside its bubble.
/// `menu` draws the message's menu button at the end of its row of buttons.
pub(crate) fn bubble(
    ui: &mut egui::Ui,
    files: &mut FilesUi,
    m: &MessageView,
    menu: impl FnOnce(&mut egui::Ui),
) {
    let Some(f) = &m.file else {
        ui.label(egui::RichText::new("File not available").weak());
        menu(ui);
        return;
    };
    // The name is the peer's text: shown inert, as message bodies are.
    let mut name = peer_text::layout(&format!("{CLIP_SIGN} {}", f.name), ui);
    if let Some(s) = name.sections.first_mut() {
        s.format.font_id.size *= 1.1;
    }
    ui.add(egui::Label::new(name).wrap().selectable(true));
    ui.label(
        egui::RichText::new(format!("{} · {}", size_text(f.size), state_text(f)))
            .small()
            .weak(),
    );
    if f.state == FileState::Transferring {
        #[allow(clippy::cast_precision_loss)] // A fraction to draw.
        let frac = if f.size == 0 {
            1.0
        } else {
            (f.done.min(f.size) as f64 / f.size as f64) as f32
        };
        let text = progress_text(f);
        ui.add(
            egui::ProgressBar::new(frac)
                .desired_width(220.0)
                .text(egui::RichText::new(&text).small()),
        )
        .widget_info(|| {
            egui::WidgetInfo::labeled(
                egui::Role::ProgressIndicator,
                true,
                format!("Progress {text}"),
            )
        });
    }
    let key = (f.contact, f.id);
    if previewable(f) {
        match files.previews.get(&key) {
            None => {
                files.previews.insert(key, Shown::Loading);
                files.todo.push(Do::Preview {
                    contact: f.contact,
                    id: f.id,
                });
                ui.spinner();
            }
            Some(Shown::Loading) => {
                ui.spinner();
            }
            Some(Shown::Ready(tex)) => {
                let size = tex.size_vec2();
                let scale = (PREVIEW_MAX / size.x.max(size.y)).min(1.0);
                ui.add(
                    egui::Image::from_texture((tex.id(), size * scale))
                        .corner_radius(4.0)
                        .alt_text(format!("Picture: {}", peer_text::plain(&f.name))),
                );
            }
            Some(Shown::Failed(e)) => {
                ui.label(egui::RichText::new(e).small().weak());
            }
        }
    }
    ui.horizontal(|ui| {
        if f.direction == Direction::In && f.state == FileState::Offered {
            let hover = format!(
                "Receive this file ({}): it is over what Kith takes without asking",
                size_text(f.size)
            );
            answer_button(ui, files, f, true, &hover);
        }
        if f.direction == Direction::In
            && matches!(f.state, FileState::Offered | FileState::Transferring)
        {
            let hover = "Refuse this file: what came of it is dropped, and their app is told";
            answer_button(ui, files, f, false, hover);
        }
        let saveable = match f.direction {
            Direction::In => f.state == FileState::Complete,
            Direction::Out => true,
        };
        if saveable {
            let r = ui.button("Save…").on_hover_text("Save a copy of this file");
            r.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::Button, true, format!("Save {}", f.name))
            });
            if r.clicked() {
                files.save = Some(SaveDialog {
                    contact: f.contact,
                    id: f.id,
                    name: f.name.clone(),
                    path: default_save_path(&f.name),
                    busy: false,
                    error: None,
                });
            }
        }
        menu(ui);
    });
}

/// The "Send a file" and "Save…" dialogs.
pub(crate) fn dialogs(s: &mut Session, ctx: &egui::Context) {
    let who = s
        .files
        .send
        .as_ref()
        .and_then(|d| s.contacts.iter().find(|c| c.id == d.contact))
        .map(|c| peer_text::name(&c.alias).into_owned())
        .unwrap_or_default();
    send_dialog(&mut s.files, ctx, &who, s.profile.name());
    save_dialog(&mut s.files, ctx, s.profile.name());
}

fn send_dialog(files: &mut FilesUi, ctx: &egui::Context, who: &str, profile: &str) {
    let Some(d) = &mut files.send else {
        return;
    };
    let mut close = false;
    let mut go = None;
    let modal = egui::Modal::new(egui::Id::unique(("send-file", profile))).show(ctx, |ui| {
        ui.set_width(460.0);
        ui.heading(format!("Send a file to {who}"));
        ui.label(
            "Type or paste the path of the file, or drop a file on the chat. Up to 100 MiB; \
             pictures (PNG, JPEG) show a preview.",
        );
        ui.add_space(4.0);
        let r = ui.add(
            egui::TextEdit::singleline(&mut d.path)
                .desired_width(f32::INFINITY)
                .hint_text("/home/me/Pictures/photo.jpg"),
        );
        r.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Path of the file")
        });
        let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if let Some(e) = &d.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let path = clean_path(&d.path);
            let ready = !d.busy && !path.is_empty();
            if ui
                .add_enabled(ready, egui::Button::new("Send file"))
                .clicked()
                || (enter && ready)
            {
                go = Some(PathBuf::from(path));
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
            if d.busy {
                ui.spinner();
                ui.label("Sealing it into your profile…");
            }
        });
    });
    if let Some(path) = go {
        d.busy = true;
        d.error = None;
        files.todo.push(Do::Send {
            contact: d.contact,
            path,
        });
    } else if close || (modal.should_close() && !d.busy) {
        files.send = None;
    }
}

fn save_dialog(files: &mut FilesUi, ctx: &egui::Context, profile: &str) {
    let Some(d) = &mut files.save else {
        return;
    };
    let mut close = false;
    let mut go = None;
    let modal = egui::Modal::new(egui::Id::unique(("save-file", profile))).show(ctx, |ui| {
        ui.set_width(460.0);
        ui.heading("Save a copy");
        ui.add(egui::Label::new(peer_text::layout(&d.name, ui)).wrap());
        ui.label("Save to this path (a new file, or a folder to save it in under its name):");
        let r = ui.add(egui::TextEdit::singleline(&mut d.path).desired_width(f32::INFINITY));
        r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Save to"));
        let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        ui.label(
            egui::RichText::new("An existing file is never overwritten.")
                .small()
                .weak(),
        );
        if let Some(e) = &d.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let path = clean_path(&d.path);
            let ready = !d.busy && !path.is_empty();
            if ui.add_enabled(ready, egui::Button::new("Save")).clicked() || (enter && ready) {
                go = Some(PathBuf::from(path));
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
            if d.busy {
                ui.spinner();
            }
        });
    });
    if let Some(dest) = go {
        d.busy = true;
        d.error = None;
        files.todo.push(Do::Save {
            contact: d.contact,
            id: d.id,
            dest,
        });
    } else if close || (modal.should_close() && !d.busy) {
        files.save = None;
    }
}

/// A file dropped on the window while a chat is open: the "Send a file"
/// dialog opens with its path, to confirm.
pub(crate) fn take_dropped(ui: &mut egui::Ui, files: &mut FilesUi, contact: ContactId) {
    let (hovered, dropped) = ui.input(|i| {
        (
            !i.raw.hovered_files.is_empty(),
            i.raw.dropped_files.first().map(|f| f.path().to_owned()),
        )
    });
    if hovered {
        ui.label(egui::RichText::new(format!("{CLIP_SIGN} Drop the file to send it")).strong());
    }
    if let Some(path) = dropped
        && files.send.as_ref().is_none_or(|d| !d.busy)
    {
        files.open_send(contact, path.display().to_string());
    }
}

/// Re-read one file (after `Event::FileChanged`).
pub(crate) fn read_file(
    backend: &Backend,
    p: &kith_node::Profile,
    contact: ContactId,
    id: MessageId,
) {
    let p = p.clone();
    backend.spawn(async move {
        Reply::Files {
            profile: p.name().to_owned(),
            reply: FileReply::File {
                contact,
                id,
                result: p.file(contact, id).await,
            },
        }
    });
}

/// Make the engine calls asked for this frame.
pub(crate) fn perform(app: &mut KithApp, active: &str) {
    let Some(s) = app.session_mut(active) else {
        return;
    };
    let todo = std::mem::take(&mut s.files.todo);
    let p = s.profile.clone();
    for d in todo {
        let p = p.clone();
        let profile = active.to_owned();
        app.backend.spawn(async move {
            let reply = match d {
                Do::Send { contact, path } => FileReply::Sent {
                    contact,
                    result: p.send_file(contact, &path).await,
                },
                Do::Answer {
                    contact,
                    id,
                    accept,
                } => FileReply::Answered {
                    contact,
                    id,
                    accept,
                    result: if accept {
                        p.accept_file(contact, id).await
                    } else {
                        p.refuse_file(contact, id).await
                    },
                },
                Do::Save { contact, id, dest } => FileReply::Saved {
                    contact,
                    id,
                    result: p.save_file(contact, id, &dest).await,
                },
                Do::Preview { contact, id } => FileReply::Preview {
                    contact,
                    id,
                    result: p.preview(contact, id).await,
                },
            };
            Reply::Files { profile, reply }
        });
    }
}

/// How far a transfer's state got, to keep a late read from taking it
/// back (its bytes may go back: a resumed upload starts where the contact
/// last asked).
fn rank(f: &FileView) -> u8 {
    match f.state {
        FileState::Offered => 0,
        FileState::Transferring => 1,
        _ => 2,
    }
}

/// Apply what came back. Returns a conversation to re-read, if one is stale.
pub(crate) fn apply(s: &mut Session, ctx: &egui::Context, reply: FileReply) -> Option<ContactId> {
    match reply {
        FileReply::Sent { contact, result } => {
            let dialog = s.files.send.as_mut().filter(|d| d.contact == contact);
            match result {
                Ok(m) => {
                    if dialog.is_some() {
                        s.files.send = None;
                    }
                    if s.chat_for == Some(contact) && !s.chat.iter().any(|x| x.id == m.id) {
                        s.chat.push(m);
                    }
                    s.contacts_dirty = true;
                }
                Err(e) => {
                    let e = format!("Not sent: {}", crate::screens::explain(&e));
                    match dialog {
                        Some(d) => {
                            d.busy = false;
                            d.error = Some(e);
                        }
                        // The dialog was closed meanwhile.
                        None => s.chat_error = Some(e),
                    }
                }
            }
            None
        }
        FileReply::File {
            contact,
            id,
            result,
        } => {
            if s.chat_for != Some(contact) {
                return None;
            }
            let Ok(v) = result else {
                // Gone (deleted, history cleared): the conversation knows.
                return Some(contact);
            };
            let Some(m) = s.chat.iter_mut().find(|m| m.id == id) else {
                return Some(contact);
            };
            let newer = m.file.as_ref().is_none_or(|old| rank(&v) >= rank(old));
            if newer {
                m.file = Some(Box::new(v));
            }
            None
        }
        FileReply::Answered {
            contact,
            id,
            accept,
            result,
        } => {
            s.files.accepting.remove(&(contact, id));
            if let Err(e) = result {
                let doing = if accept {
                    "Accepting the file"
                } else {
                    "Refusing the file"
                };
                s.chat_error = Some(format!("{doing}: {}", crate::screens::explain(&e)));
            }
            (s.chat_for == Some(contact)).then_some(contact)
        }
        FileReply::Saved {
            contact,
            id,
            result,
        } => {
            let d = s
                .files
                .save
                .as_mut()
                .filter(|d| d.contact == contact && d.id == id)?;
            d.busy = false;
            match result {
                Ok(path) => {
                    s.conv.note = Some(format!("Saved to {}", path.display()));
                    s.files.save = None;
                }
                Err(e) => d.error = Some(format!("Not saved: {}", crate::screens::explain(&e))),
            }
            None
        }
        FileReply::Preview {
            contact,
            id,
            result,
        } => {
            if s.chat_for != Some(contact) {
                return None;
            }
            let shown = match result {
                Ok(Some(p)) => match texture(ctx, id, &p) {
                    Some(t) => Shown::Ready(t),
                    None => Shown::Failed("The preview has the wrong size.".to_owned()),
                },
                Ok(None) => Shown::Failed("No preview.".to_owned()),
                Err(e) => Shown::Failed(format!("No preview: {}", crate::screens::explain(&e))),
            };
            s.files.previews.insert((contact, id), shown);
            None
        }
    }
}

/// Upload a preview as a texture, once.
fn texture(ctx: &egui::Context, id: MessageId, p: &Preview) -> Option<egui::TextureHandle> {
    let w = usize::try_from(p.width).ok()?;
    let h = usize::try_from(p.height).ok()?;
    if w == 0 || h == 0 || w.checked_mul(h)?.checked_mul(4)? != p.rgba.len() {
        return None;
    }
    let image = egui::ColorImage::from_rgba_unmultiplied([w, h], &p.rgba);
    Some(ctx.load_texture(
        format!("kith-preview-{}", id.to_hex()),
        image,
        egui::TextureOptions::LINEAR,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_speeds_and_times_in_words() {
        assert_eq!(size_text(0), "0 B");
        assert_eq!(size_text(1023), "1023 B");
        assert_eq!(size_text(1024), "1.0 KiB");
        assert_eq!(size_text(1536), "1.5 KiB");
        assert_eq!(size_text(1024 * 1024 * 100), "100.0 MiB");
        assert_eq!(size_text(1_258_291), "1.2 MiB");
        assert_eq!(size_text(u64::MAX), "16777216.0 TiB");
        assert_eq!(speed_text(1_258_291), "1.2 MiB/s");
        assert_eq!(time_left_text(Duration::from_secs(0)), "0 s left");
        assert_eq!(time_left_text(Duration::from_secs(59)), "59 s left");
        assert_eq!(time_left_text(Duration::from_secs(61)), "2 min left");
        assert_eq!(
            time_left_text(Duration::from_secs(3600 * 2 + 300)),
            "2 h 5 min left"
        );
        assert!(time_left_text(Duration::MAX).ends_with(" min left"));
    }

    fn view(direction: Direction, state: FileState, done: u64, speed: Option<u64>) -> FileView {
        FileView {
            id: MessageId([7; 16]),
            contact: ContactId(1),
            direction,
            name: "a.png".to_owned(),
            size: 10 * 1024 * 1024,
            sha256: [0; 32],
            state,
            done,
            speed,
        }
    }

    #[test]
    fn progress_and_states_in_words() {
        let mib = 1024 * 1024;
        let f = view(
            Direction::In,
            FileState::Transferring,
            4 * mib,
            Some(2 * mib),
        );
        assert_eq!(progress_text(&f), "40 % · 2.0 MiB/s · 3 s left");
        let f = view(Direction::Out, FileState::Transferring, 0, None);
        assert_eq!(progress_text(&f), "0 %");
        // More done than the size (a late count) stays at 100 %.
        let f = view(Direction::In, FileState::Transferring, 11 * mib, Some(0));
        assert_eq!(progress_text(&f), "100 % · 0 B/s");
        let mut empty = view(Direction::In, FileState::Transferring, 0, None);
        empty.size = 0;
        assert_eq!(progress_text(&empty), "0 %");
        let mut seen = HashSet::new();
        for d in [Direction::In, Direction::Out] {
            for st in [
                FileState::Offered,
                FileState::Transferring,
                FileState::Complete,
                FileState::Refused,
                FileState::Corrupt,
                FileState::Unavailable,
            ] {
                assert!(
                    seen.insert(state_text(&view(d, st, 0, None))),
                    "{d:?} {st:?}"
                );
            }
        }
        assert!(previewable(&view(
            Direction::Out,
            FileState::Offered,
            0,
            None
        )));
        assert!(!previewable(&view(
            Direction::In,
            FileState::Transferring,
            0,
            None
        )));
        assert!(previewable(&view(
            Direction::In,
            FileState::Complete,
            0,
            None
        )));
        let mut text = view(Direction::In, FileState::Complete, 0, None);
        text.name = "a.txt".to_owned();
        assert!(!previewable(&text));
    }

    #[test]
    fn pasted_paths_lose_quotes_and_file_urls() {
        assert_eq!(clean_path("  /tmp/a b.txt \n"), "/tmp/a b.txt");
        assert_eq!(clean_path("\"/tmp/a b.txt\""), "/tmp/a b.txt");
        assert_eq!(clean_path("'/tmp/x'"), "/tmp/x");
        assert_eq!(clean_path("file:///tmp/a%20b.txt"), "/tmp/a b.txt");
        assert_eq!(clean_path("file:///tmp/%zz%4"), "/tmp/%zz%4");
        assert_eq!(clean_path("file:///tmp/caf%C3%A9"), "/tmp/café");
        assert_eq!(clean_path("\""), "\"");
    }
}
