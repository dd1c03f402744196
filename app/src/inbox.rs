//! The inbox in the app: an "Inbox" entry beside the contact requests (with
//! a count of drops that arrived since it was last looked at), and the inbox
//! itself in the central panel: switch it on or off, its link (text, copy,
//! QR code; clearly not the contact link), a new address, and the drops in
//! the order they arrived (oldest first, as `kith inbox list`), each with
//! Reply, Ask to connect, Block and Delete where they apply.
//!
//! The node does everything (`kith_node::Profile::set_inbox` and its
//! siblings); this only shows and asks, through the backend. A drop's body
//! is hostile text: it is shown through [`peer_text`].

use std::collections::HashSet;

use kith_core::limits::{MAX_DROP_BODY, MAX_INBOX_DROPS};
use kith_node::{
    Error, InboxDrop, InboxStatus, LeaveReply, MessageId, Profile, ReplyAddress, Timestamp,
};

use crate::app::{KithApp, Session};
use crate::backend::{Backend, Reply};
use crate::peer_text;

/// The sign in front of "Inbox" (in the bundled fonts: see the glyph test).
pub(crate) const ENTRY_SIGN: &str = "📥";
/// Side of the inbox's QR code, in points.
const QR_SIDE: f32 = 150.0;

/// A profile's inbox, as the app holds it.
#[derive(Default)]
pub(crate) struct InboxUi {
    /// On or off, and its link, as last read.
    pub(crate) status: Option<InboxStatus>,
    /// The drops, oldest first, as last read.
    pub(crate) drops: Vec<InboxDrop>,
    /// A read is under way.
    pub(crate) loading: bool,
    /// What was read is stale: read again.
    pub(crate) dirty: bool,
    /// The central panel shows the inbox (instead of a conversation).
    pub(crate) open: bool,
    /// Drops not seen yet (arrived while the inbox was not shown, or while
    /// the app was closed): the entry's badge.
    unseen: HashSet<MessageId>,
    /// Drops marked "new" while the inbox is shown (those that arrived since
    /// it was last shown).
    fresh: HashSet<MessageId>,
    /// Switching on or off, or a new address, under way.
    busy: bool,
    /// Drops with an action under way.
    pending: HashSet<MessageId>,
    /// The outcome of the last action, in words: under its drop, or at the
    /// top (`None`).
    note: Option<(Option<MessageId>, Result<String, String>)>,
    /// The reply being written, when open.
    reply: Option<ReplyForm>,
    /// The "Ask to connect" form, when open.
    request: Option<RequestForm>,
    /// A question waiting for the person's answer.
    confirm: Option<Confirm>,
    /// The QR code of the link it shows.
    qr: Option<(String, egui::TextureHandle)>,
    /// What the person asked for this frame, done after drawing.
    asked: Vec<Ask>,
}

/// The reply being written to one drop.
struct ReplyForm {
    id: MessageId,
    text: String,
    leave: LeaveReply,
}

/// "Ask to connect": the name to give them.
struct RequestForm {
    id: MessageId,
    alias: String,
}

/// What is asked before it is done.
#[derive(Clone, Copy)]
enum Confirm {
    /// A new address (the old link stops working).
    Rotate,
    /// Block the reply address this drop left.
    Block(MessageId),
}

/// Something asked in the inbox.
#[derive(Debug, Clone)]
pub(crate) enum Ask {
    /// Switch the inbox on or off.
    Switch(bool),
    /// A new address.
    Rotate,
    /// Drop an answer into the inbox this drop left.
    Reply(MessageId, String, LeaveReply),
    /// Send a contact request to the contact link this drop left, under this name.
    Request(MessageId, String),
    /// Block the reply address this drop left.
    Block(MessageId),
    /// Delete this drop.
    Delete(MessageId),
}

impl Ask {
    /// The drop it is about, if one.
    fn drop_id(&self) -> Option<MessageId> {
        match self {
            Ask::Switch(_) | Ask::Rotate => None,
            Ask::Reply(id, ..) | Ask::Request(id, _) | Ask::Block(id) | Ask::Delete(id) => {
                Some(*id)
            }
        }
    }

    /// What it did, in words.
    fn done_text(&self) -> String {
        match self {
            Ask::Switch(true) => "Your inbox is on: anyone with its link can write to you.".into(),
            Ask::Switch(false) => {
                "Your inbox is off: nothing answers at its address. Messages you have stay.".into()
            }
            Ask::Rotate => "Your inbox has a new address. The old link no longer works.".into(),
            Ask::Reply(..) => "Your reply was dropped into their inbox.".into(),
            Ask::Request(_, alias) => format!(
                "Contact request sent to “{}”. They see who you are, and join your contacts \
                 when they accept.",
                peer_text::name(alias)
            ),
            Ask::Block(_) => {
                "Blocked. Messages that leave that reply address are discarded.".into()
            }
            Ask::Delete(_) => "Deleted.".into(),
        }
    }

    /// What failed, in words.
    fn failed_text(&self) -> &'static str {
        match self {
            Ask::Switch(true) => "The inbox was not switched on",
            Ask::Switch(false) => "The inbox was not switched off",
            Ask::Rotate => "No new address was made",
            Ask::Reply(..) => "Your reply was not sent",
            Ask::Request(..) => "The contact request was not sent",
            Ask::Block(_) => "The sender was not blocked",
            Ask::Delete(_) => "The message was not deleted",
        }
    }
}

impl InboxUi {
    /// Not read yet: read it.
    pub(crate) fn new() -> Self {
        InboxUi {
            dirty: true,
            ..Default::default()
        }
    }

    /// New drops not seen yet (the entry's badge).
    pub(crate) fn unseen(&self) -> usize {
        self.unseen.len()
    }

    /// The node stored a drop.
    pub(crate) fn arrived(&mut self, id: MessageId) {
        if self.open {
            self.fresh.insert(id);
        } else {
            self.unseen.insert(id);
        }
        self.dirty = true;
    }

    /// Show the inbox: what was new is marked so, and no longer counted.
    pub(crate) fn show(&mut self) {
        if !self.open {
            self.open = true;
            self.fresh = std::mem::take(&mut self.unseen);
            self.dirty = true;
        }
    }

    /// Stop showing the inbox.
    pub(crate) fn hide(&mut self) {
        self.open = false;
        self.fresh.clear();
        self.note = None;
        self.reply = None;
        self.request = None;
        self.confirm = None;
    }

    /// The link shown, if any (for tests).
    pub(crate) fn link_text(&self) -> Option<String> {
        self.status
            .as_ref()
            .and_then(|s| s.link.as_ref())
            .map(ToString::to_string)
    }

    /// A read ended.
    pub(crate) fn loaded(&mut self, result: Result<(InboxStatus, Vec<InboxDrop>), Error>) {
        self.loading = false;
        match result {
            Ok((status, drops)) => {
                self.status = Some(status);
                self.drops = drops;
                // What the node has not seen marked (arrived while the app
                // was closed, or before this unlock) is new too.
                for d in self.drops.iter().filter(|d| !d.seen) {
                    if self.open {
                        self.fresh.insert(d.id);
                    } else {
                        self.unseen.insert(d.id);
                    }
                }
                // A drop that arrived during the read is not in it yet: keep
                // its mark until the next read (`dirty` says there is one).
                if !self.dirty {
                    let ids: HashSet<MessageId> = self.drops.iter().map(|d| d.id).collect();
                    self.unseen.retain(|id| ids.contains(id));
                    self.fresh.retain(|id| ids.contains(id));
                }
            }
            Err(e) => {
                self.note = Some((
                    None,
                    Err(format!(
                        "The inbox could not be read. {}",
                        crate::screens::explain(&e)
                    )),
                ));
            }
        }
    }

    /// An action ended.
    pub(crate) fn done(&mut self, ask: &Ask, result: Result<(), Error>) {
        let id = ask.drop_id();
        if let Some(id) = id {
            self.pending.remove(&id);
        } else {
            self.busy = false;
        }
        self.dirty = true;
        match result {
            Ok(()) => {
                if matches!(ask, Ask::Reply(..)) && self.reply.as_ref().map(|r| r.id) == id {
                    self.reply = None;
                }
                if matches!(ask, Ask::Request(..)) && self.request.as_ref().map(|r| r.id) == id {
                    self.request = None;
                }
                // Blocked and deleted drops are gone: say it at the top.
                let at = match ask {
                    Ask::Reply(..) | Ask::Request(..) => id,
                    _ => None,
                };
                self.note = Some((at, Ok(ask.done_text())));
            }
            Err(e) => {
                self.note = Some((
                    id,
                    Err(format!(
                        "{}. {}",
                        ask.failed_text(),
                        crate::screens::explain(&e)
                    )),
                ));
            }
        }
    }
}

/// Read the inbox: its status and drops; `shown`: the user sees them now,
/// so the node marks them seen (what was new keeps its mark in the app
/// until the inbox is closed).
pub(crate) fn load(backend: &Backend, profile: &Profile, shown: bool) {
    let p = profile.clone();
    backend.spawn(async move {
        let mut result = read(&p).await;
        if shown
            && let Ok((_, drops)) = &result
            && drops.iter().any(|d| !d.seen)
            && let Err(e) = p.inbox_mark_seen().await
        {
            result = Err(e);
        }
        Reply::Inbox {
            profile: p.name().to_owned(),
            result,
        }
    });
}

/// Over TCP the link carries the port of the inbox's listener, known once it
/// runs, a moment after switching on, a new address or going online: the
/// node says so (`Event::InboxChanged`) and the inbox is read again then.
async fn read(p: &Profile) -> Result<(InboxStatus, Vec<InboxDrop>), Error> {
    Ok((p.inbox_status().await?, p.inbox().await?))
}

/// "Inbox, 3 new", "Inbox (off)": the entry's words for screen readers.
pub(crate) fn entry_label(on: Option<bool>, new: usize) -> String {
    match (on, new) {
        (_, n) if n > 0 => format!("Inbox, {n} new"),
        (Some(false), _) => "Inbox (off)".to_owned(),
        _ => "Inbox".to_owned(),
    }
}

/// What the entry says under its name: on or off, and how many messages it
/// keeps (the badge counts those not seen yet).
pub(crate) fn entry_sub(on: Option<bool>, kept: usize) -> String {
    let kept = match kept {
        0 => None,
        1 => Some("1 message".to_owned()),
        n => Some(format!("{n} messages")),
    };
    match (on, kept) {
        (Some(false), None) => "off".to_owned(),
        (Some(false), Some(k)) => format!("off · {k}"),
        (_, Some(k)) => k,
        (Some(true), None) => "anonymous messages".to_owned(),
        (None, None) => String::new(),
    }
}

/// The "Inbox" entry in the contacts panel, with its badge. Clicked: shows it.
pub(crate) fn entry(ui: &mut egui::Ui, inbox: &InboxUi) -> bool {
    let new = inbox.unseen();
    let on = inbox.status.as_ref().map(|s| s.on);
    let selected = inbox.open;
    let r = crate::main_view::list_row(ui, selected, |ui| {
        ui.horizontal(|ui| {
            // Not selectable: a click anywhere on the row opens the inbox.
            ui.add(
                egui::Label::new(egui::RichText::new(format!("{ENTRY_SIGN} Inbox")).strong())
                    .selectable(false),
            );
            let mut sub = egui::RichText::new(entry_sub(on, inbox.drops.len())).small();
            sub = if selected {
                sub.color(ui.visuals().selection.stroke.color)
            } else {
                sub.weak()
            };
            ui.add(egui::Label::new(sub).selectable(false));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if new > 0 {
                    crate::main_view::badge(ui, new);
                }
            });
        });
    })
    .on_hover_text("Messages left at your inbox link by people who need not say who they are");
    let label = entry_label(on, new);
    r.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &label));
    r.clicked()
}

/// What a drop's sender left, in words.
pub(crate) fn left_text(reply: Option<&ReplyAddress>) -> &'static str {
    match reply {
        None => "Anonymous: it left no reply address, so it cannot be answered or blocked.",
        Some(ReplyAddress::Inbox(_)) => "Left their inbox: you can reply there.",
        Some(ReplyAddress::Contact(_)) => {
            "Left their contact link: you can ask them to connect (that shows them who you are)."
        }
    }
}

/// Why a reply cannot be sent as it is, if it cannot.
pub(crate) fn reply_problem(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        Some("Write something first.".to_owned())
    } else if text.len() > MAX_DROP_BODY {
        Some(format!(
            "Too long: {} bytes, an inbox takes at most {MAX_DROP_BODY}.",
            text.len()
        ))
    } else {
        None
    }
}

/// The inbox, in the central panel.
pub(crate) fn view(s: &mut Session, ui: &mut egui::Ui) {
    let profile = s.profile.name().to_owned();
    let offline = s.profile.network_kind().is_none();
    let i = &mut s.inbox;
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        ui.heading("Inbox");
        ui.label(egui::RichText::new("anonymous messages").weak());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .button("Close inbox")
                .on_hover_text("Back to your conversations")
                .clicked()
            {
                i.hide();
            }
        });
    });
    ui.add(
        egui::Label::new(
            egui::RichText::new(
                "Anyone with your inbox link can leave you a message here without showing \
                 who they are. The inbox has an address of its own: it is not your contact \
                 link and does not reveal it. Nothing here becomes a contact or a \
                 conversation unless you choose so.",
            )
            .small()
            .weak(),
        )
        .wrap(),
    );
    if !i.open {
        return;
    }
    ui.add_space(4.0);
    let Some(status) = i.status.clone() else {
        // Not read yet, or reading failed (said in the note).
        if let Some((_, note)) = &i.note {
            note_line(ui, note);
        }
        ui.spinner();
        return;
    };
    ui.horizontal(|ui| {
        let mut on = status.on;
        let r = ui
            .add_enabled(
                !i.busy,
                egui::Checkbox::new(&mut on, "Inbox on: take anonymous messages"),
            )
            .on_hover_text("Off: nothing answers at the inbox's address; messages you have stay");
        if r.clicked() && on != status.on {
            i.asked.push(Ask::Switch(on));
        }
        if i.busy {
            ui.spinner();
        }
    });
    if let Some(link) = &status.link {
        link_box(ui, i, &link.to_string(), offline);
    } else if status.on {
        ui.spinner();
    }
    if let Some((None, note)) = &i.note {
        note_line(ui, note);
    }
    ui.separator();
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(format!("Messages ({})", i.drops.len())).strong());
        ui.label(egui::RichText::new("in the order they arrived, oldest first").weak());
    });
    if i.drops.len() >= MAX_INBOX_DROPS {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "The inbox is full ({MAX_INBOX_DROPS} messages): new ones are refused until \
                 you delete some."
            ),
        );
    }
    if i.drops.is_empty() {
        ui.label(egui::RichText::new("No messages in the inbox.").weak());
    }
    let now = Timestamp::now();
    let drops = i.drops.clone();
    egui::ScrollArea::vertical()
        .id_salt(("inbox-drops", &profile))
        .auto_shrink([false, false])
        .stick_to_bottom(true)
        .show(ui, |ui| {
            for d in &drops {
                drop_card(ui, i, d, now);
            }
        });
    confirm_dialog(i, ui.ctx(), &profile);
}

/// The inbox's link, its QR code, copy, and a new address.
fn link_box(ui: &mut egui::Ui, i: &mut InboxUi, link: &str, offline: bool) {
    if i.qr.as_ref().is_none_or(|(l, _)| l != link) {
        let tex = ui.ctx().load_texture(
            "inbox-qr",
            crate::qr::render_egui_payload(link),
            egui::TextureOptions::NEAREST,
        );
        i.qr = Some((link.to_owned(), tex));
    }
    ui.group(|ui| {
        ui.set_width(ui.available_width());
        ui.label(
            egui::RichText::new("Your inbox link — for anonymous messages, not your contact link")
                .strong(),
        );
        ui.horizontal(|ui| {
            if let Some((_, tex)) = &i.qr {
                ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(QR_SIDE, QR_SIDE)))
                    .widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Image, true, "Your inbox QR code")
                    });
            }
            ui.vertical(|ui| {
                ui.add(
                    egui::Label::new(egui::RichText::new(link).monospace().small())
                        .wrap()
                        .selectable(true),
                );
                ui.add(
                    egui::Label::new(
                        egui::RichText::new(
                            "Share it where you want to hear from people who do not know you. \
                             Who writes here learns nothing about your contact link.",
                        )
                        .small()
                        .weak(),
                    )
                    .wrap(),
                );
                if offline {
                    ui.label(
                        egui::RichText::new("You are offline; the link works once you are online.")
                            .small()
                            .weak(),
                    );
                }
                ui.horizontal_wrapped(|ui| {
                    if ui.button("Copy inbox link").clicked() {
                        ui.ctx().copy_text(link.to_owned());
                        i.note = Some((None, Ok("Your inbox link is on the clipboard.".into())));
                    }
                    if ui
                        .add_enabled(!i.busy, egui::Button::new("New address…"))
                        .on_hover_text("The old link stops working at once")
                        .clicked()
                    {
                        i.confirm = Some(Confirm::Rotate);
                    }
                });
            });
        });
    });
}

/// A note in colour: an error in red, else plain.
fn note_line(ui: &mut egui::Ui, note: &Result<String, String>) {
    match note {
        Ok(t) => {
            ui.add(egui::Label::new(t.as_str()).wrap());
        }
        Err(e) => {
            ui.add(
                egui::Label::new(egui::RichText::new(e).color(ui.visuals().error_fg_color)).wrap(),
            );
        }
    }
}

/// One drop: when, the text (as data), what its sender left, and what can be done.
fn drop_card(ui: &mut egui::Ui, i: &mut InboxUi, d: &InboxDrop, now: Timestamp) {
    let busy = i.pending.contains(&d.id);
    ui.group(|ui| {
        ui.set_width(ui.available_width());
        ui.horizontal(|ui| {
            if i.fresh.contains(&d.id) || i.unseen.contains(&d.id) {
                ui.label(
                    egui::RichText::new("new")
                        .small()
                        .strong()
                        .color(ui.visuals().selection.stroke.color)
                        .background_color(ui.visuals().selection.bg_fill),
                );
            }
            ui.label(
                egui::RichText::new(format!(
                    "Received {}",
                    crate::timefmt::short(d.received_at, now)
                ))
                .small()
                .weak(),
            );
        });
        let body = peer_text::layout(&d.body, ui);
        ui.add(egui::Label::new(body).wrap().selectable(true));
        ui.label(
            egui::RichText::new(left_text(d.reply.as_ref()))
                .small()
                .weak(),
        );
        ui.add_enabled_ui(!busy, |ui| {
            ui.horizontal_wrapped(|ui| {
                if matches!(d.reply, Some(ReplyAddress::Inbox(_)))
                    && ui
                        .button("Reply")
                        .on_hover_text("Drop an answer into their inbox")
                        .clicked()
                {
                    i.request = None;
                    i.reply = Some(ReplyForm {
                        id: d.id,
                        text: String::new(),
                        leave: LeaveReply::Nothing,
                    });
                }
                if matches!(d.reply, Some(ReplyAddress::Contact(_)))
                    && ui
                        .button("Ask to connect…")
                        .on_hover_text(
                            "Send them a contact request: it shows them who you are \
                             (your name and your contact address)",
                        )
                        .clicked()
                {
                    i.reply = None;
                    i.request = Some(RequestForm {
                        id: d.id,
                        alias: String::new(),
                    });
                }
                if d.reply.is_some()
                    && ui
                        .button("Block sender…")
                        .on_hover_text(
                            "Discard later messages that leave this reply address. \
                             A filter, not a guarantee: they can still write without one.",
                        )
                        .clicked()
                {
                    i.confirm = Some(Confirm::Block(d.id));
                }
                if ui.button("Delete").clicked() {
                    i.pending.insert(d.id);
                    i.asked.push(Ask::Delete(d.id));
                }
                if busy {
                    ui.spinner();
                }
            });
        });
        if i.reply.as_ref().is_some_and(|r| r.id == d.id) {
            reply_form(ui, i);
        }
        if i.request.as_ref().is_some_and(|r| r.id == d.id) {
            request_form(ui, i);
        }
        if let Some((Some(at), note)) = &i.note
            && *at == d.id
        {
            note_line(ui, note);
        }
    });
    ui.add_space(4.0);
}

/// The reply being written, under its drop.
fn reply_form(ui: &mut egui::Ui, i: &mut InboxUi) {
    let Some(f) = i.reply.as_mut() else {
        return;
    };
    let busy = i.pending.contains(&f.id);
    ui.add_space(4.0);
    let l = ui.label("Your reply");
    ui.add(
        egui::TextEdit::multiline(&mut f.text)
            .desired_rows(3)
            .desired_width(f32::INFINITY)
            .hint_text("It goes to their inbox from a one-time address"),
    )
    .labelled_by(l.id);
    ui.label(egui::RichText::new("Leave them a way to answer:").small());
    ui.radio_value(
        &mut f.leave,
        LeaveReply::Nothing,
        "Nothing (they cannot answer)",
    );
    ui.radio_value(
        &mut f.leave,
        LeaveReply::Inbox,
        "My inbox link (they can answer here)",
    );
    ui.radio_value(
        &mut f.leave,
        LeaveReply::Contact,
        "My contact link (this shows them who you are)",
    );
    let problem = reply_problem(&f.text);
    if let Some(p) = problem.as_ref().filter(|_| !f.text.is_empty()) {
        ui.colored_label(ui.visuals().warn_fg_color, p);
    }
    let mut send = false;
    let mut cancel = false;
    ui.horizontal(|ui| {
        if ui
            .add_enabled(!busy && problem.is_none(), egui::Button::new("Send reply"))
            .clicked()
        {
            send = true;
        }
        if ui.button("Cancel").clicked() {
            cancel = true;
        }
        if busy {
            ui.spinner();
            ui.label("Sending…");
        }
    });
    if send {
        i.pending.insert(f.id);
        i.asked.push(Ask::Reply(f.id, f.text.clone(), f.leave));
    }
    if cancel {
        i.reply = None;
    }
}

/// "Ask to connect": a name for them, and what it shows them.
fn request_form(ui: &mut egui::Ui, i: &mut InboxUi) {
    let Some(f) = i.request.as_mut() else {
        return;
    };
    let busy = i.pending.contains(&f.id);
    ui.add_space(4.0);
    ui.add(
        egui::Label::new(
            "This sends them a contact request from your profile: it shows them who you \
             are (your name and your contact address). They become a contact if they accept.",
        )
        .wrap(),
    );
    crate::screens::field(ui, "Name for them", &mut f.alias, false, "e.g. Sam");
    let problem = crate::dialogs::validate_alias(&f.alias).err();
    let mut send = false;
    let mut cancel = false;
    ui.horizontal(|ui| {
        if ui
            .add_enabled(!busy, egui::Button::new("Send contact request"))
            .clicked()
        {
            send = true;
        }
        if ui.button("Cancel").clicked() {
            cancel = true;
        }
        if busy {
            ui.spinner();
        }
    });
    if send {
        match problem {
            Some(p) => i.note = Some((Some(f.id), Err(p))),
            None => {
                i.pending.insert(f.id);
                i.asked.push(Ask::Request(f.id, f.alias.trim().to_owned()));
            }
        }
    }
    if cancel {
        i.request = None;
    }
}

/// Ask before a new address or blocking.
fn confirm_dialog(i: &mut InboxUi, ctx: &egui::Context, profile: &str) {
    let Some(c) = i.confirm else {
        return;
    };
    let (title, body, verb) = match c {
        Confirm::Rotate => (
            "Give your inbox a new address?",
            "The old link stops working at once: anyone who has it can no longer reach \
             you, and this cannot be undone. Messages you have stay. Share the new link \
             with the people you want to hear from.",
            "Make a new address",
        ),
        Confirm::Block(_) => (
            "Block this sender?",
            "Later messages that leave this reply address are discarded (the sender is \
             not told), and the messages you have from it are deleted. Blocking is a \
             filter, not a guarantee: they can still write to your inbox without a reply \
             address, or with another one. To stop everyone, make a new address or switch \
             the inbox off.",
            "Block",
        ),
    };
    let mut done = false;
    let modal = egui::Modal::new(egui::Id::unique(("confirm-inbox", profile))).show(ctx, |ui| {
        ui.set_max_width(400.0);
        ui.heading(title);
        ui.add(egui::Label::new(body).wrap());
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let red = ui.visuals().error_fg_color;
            if ui.button(egui::RichText::new(verb).color(red)).clicked() {
                match c {
                    Confirm::Rotate => {
                        i.busy = true;
                        i.asked.push(Ask::Rotate);
                    }
                    Confirm::Block(id) => {
                        i.pending.insert(id);
                        i.asked.push(Ask::Block(id));
                    }
                }
                done = true;
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
    });
    if done || modal.should_close() {
        i.confirm = None;
    }
}

/// Carry out what was asked this frame.
pub(crate) fn perform(app: &mut KithApp, active: &str) {
    let Some(s) = app.session_mut(active) else {
        return;
    };
    let mut asked = std::mem::take(&mut s.inbox.asked);
    for a in &asked {
        if matches!(a, Ask::Switch(_)) {
            s.inbox.busy = true;
        }
    }
    // A reply needs the network; say so rather than try.
    let offline = s.profile.network_kind().is_none();
    asked.retain(|a| match a {
        Ask::Reply(id, ..) if offline => {
            s.inbox.pending.remove(id);
            s.inbox.note = Some((
                Some(*id),
                Err(format!(
                    "{}. You are offline: go online first (your reply is still here).",
                    a.failed_text()
                )),
            ));
            false
        }
        _ => true,
    });
    let p = s.profile.clone();
    for ask in asked {
        let p = p.clone();
        let profile = active.to_owned();
        app.backend.spawn(async move {
            let result = match &ask {
                Ask::Switch(on) => p.set_inbox(*on).await,
                Ask::Rotate => p.rotate_inbox().await,
                Ask::Reply(id, text, leave) => p.inbox_reply(*id, text, *leave).await,
                Ask::Request(id, alias) => p.inbox_to_request(*id, alias).await.map(|_| ()),
                Ask::Block(id) => p.inbox_block(*id).await,
                Ask::Delete(id) => p.inbox_delete(*id).await,
            };
            Reply::InboxDone {
                profile,
                ask,
                result,
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_says_how_many_are_new() {
        assert_eq!(entry_label(None, 0), "Inbox");
        assert_eq!(entry_label(Some(true), 0), "Inbox");
        assert_eq!(entry_label(Some(false), 0), "Inbox (off)");
        assert_eq!(entry_label(Some(true), 3), "Inbox, 3 new");
        // Drops kept from before it was switched off still count.
        assert_eq!(entry_label(Some(false), 1), "Inbox, 1 new");
    }

    #[test]
    fn the_entry_says_what_it_keeps() {
        assert_eq!(entry_sub(None, 0), "");
        assert_eq!(entry_sub(Some(false), 0), "off");
        assert_eq!(entry_sub(Some(false), 2), "off · 2 messages");
        assert_eq!(entry_sub(Some(true), 0), "anonymous messages");
        assert_eq!(entry_sub(Some(true), 1), "1 message");
        assert_eq!(entry_sub(Some(true), 50), "50 messages");
    }

    #[test]
    fn replies_are_checked_before_sending() {
        assert!(reply_problem("").is_some());
        assert!(reply_problem("  \n").is_some());
        assert_eq!(reply_problem("hi"), None);
        assert_eq!(reply_problem(&"a".repeat(MAX_DROP_BODY)), None);
        let long = reply_problem(&"a".repeat(MAX_DROP_BODY + 1)).unwrap_or_default();
        assert!(long.contains("at most 4096"), "{long}");
        // Bytes, not characters: 2000 three-byte characters are too many.
        assert!(reply_problem(&"€".repeat(2000)).is_some());
    }

    #[test]
    fn marks_follow_what_is_shown() {
        let mut i = InboxUi::default();
        let (a, b) = (MessageId([1; 16]), MessageId([2; 16]));
        i.arrived(a);
        assert_eq!(i.unseen(), 1);
        assert!(i.dirty);
        i.show();
        // Shown: no longer counted, still marked new.
        assert_eq!(i.unseen(), 0);
        assert!(i.fresh.contains(&a));
        // Arriving while shown: marked, not counted.
        i.arrived(b);
        assert_eq!(i.unseen(), 0);
        assert!(i.fresh.contains(&b));
        i.hide();
        assert!(i.fresh.is_empty());
        // A read that began before a drop arrived keeps the drop's mark.
        i.arrived(a);
        i.loading = true;
        let status = InboxStatus {
            on: true,
            link: None,
            count: 0,
            unseen: 0,
        };
        i.loaded(Ok((status.clone(), vec![])));
        assert_eq!(i.unseen(), 1);
        // A later read without it (deleted elsewhere) drops the mark.
        i.dirty = false;
        i.loaded(Ok((status.clone(), vec![])));
        assert_eq!(i.unseen(), 0);
        // What the node has not seen (it came while the app was closed) is
        // counted while the inbox is closed, and marked new once shown.
        let kept = |seen| InboxDrop {
            id: a,
            received_at: Timestamp(0),
            body: "kept".into(),
            reply: None,
            seen,
        };
        i.loaded(Ok((status.clone(), vec![kept(false)])));
        assert_eq!(i.unseen(), 1);
        i.show();
        assert!(i.fresh.contains(&a));
        i.loaded(Ok((status.clone(), vec![kept(true)])));
        assert!(i.fresh.contains(&a), "marked new until closed");
        i.hide();
        i.loaded(Ok((status, vec![kept(true)])));
        assert_eq!(i.unseen(), 0);
        assert!(i.fresh.is_empty());
    }

    /// The QR code shown reads back as the inbox link, and never as a
    /// contact link (the add-contact scanner refuses it).
    #[test]
    fn the_qr_code_is_the_inbox_link() {
        let link = kith_node::InboxLink {
            address: kith_core::IdentityKeypair::from_seed(&[9; 32]).address(),
            tcp: Some("127.0.0.1:4242".parse().unwrap()),
        };
        let img = crate::qr::render_gray_payload(&link.to_string(), 6);
        let read = crate::qr::decode_luma_with(&img, |t| {
            kith_node::InboxLink::parse(t)
                .map_err(|e| crate::qr::ScanError::NotAKithLink(e.to_string()))
        });
        assert_eq!(read, Ok(link));
        let png = crate::qr::render_payload_png(
            &kith_node::InboxLink {
                address: kith_core::IdentityKeypair::from_seed(&[9; 32]).address(),
                tcp: None,
            }
            .to_string(),
            6,
        )
        .unwrap();
        assert!(matches!(
            crate::qr::decode_image_bytes(&png),
            Err(crate::qr::ScanError::NotAKithLink(_))
        ));
    }

    #[test]
    fn what_a_sender_left_in_words() {
        assert!(left_text(None).contains("cannot be answered or blocked"));
        let key = kith_core::IdentityKeypair::from_seed(&[7; 32]).address();
        let inbox = ReplyAddress::Inbox(kith_node::InboxLink {
            address: key,
            tcp: None,
        });
        assert!(left_text(Some(&inbox)).contains("reply"));
        let contact = ReplyAddress::Contact(kith_node::ContactLink {
            address: key,
            tcp: None,
        });
        assert!(left_text(Some(&contact)).contains("shows them who you are"));
    }
}
