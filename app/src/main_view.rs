//! The main screen: profiles side bar, contacts, requests, Tor status, chat.

use std::collections::{HashMap, HashSet};

use kith_core::{SafetyNumber, Timestamp};
use kith_node::{
    ContactId, ContactOrigin, ContactState, ContactView, Direction, GroupKind, MessageId,
    MessageState, MessageView, NetworkKind, NetworkStatus,
};

use crate::app::{KithApp, Screen, Session};
use crate::backend::Reply;
use crate::dialogs::{AddContactDialog, SettingsUi};
use crate::peer_text;

/// The emoji picker's button.
const EMOJI_BUTTON: &str = "😊";

/// The chat header's menu button (named "Contact menu" for screen readers).
const MENU_BUTTON: &str = "…";

/// The sign in front of the network warning.
const WARNING_SIGN: &str = "⚠";

/// A few emoji for the picker (all in egui's built-in emoji font).
pub(crate) const EMOJI: &[&str] = &[
    "😀", "😂", "😊", "😉", "😍", "😢", "😮", "😡", "👍", "👎", "👏", "🙏", "💪", "❤", "🔥", "🎉",
    "✅", "❌", "⚠", "🔒", "☕", "🌱", "✌", "👋",
];

fn green() -> egui::Color32 {
    egui::Color32::from_rgb(0x2e, 0xa0, 0x43)
}

/// A small coloured dot with a name for screen readers.
fn dot(ui: &mut egui::Ui, color: egui::Color32, label: &str) {
    let (rect, resp) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
    ui.painter().circle_filled(rect.center(), 4.5, color);
    let label = label.to_owned();
    resp.widget_info(move || egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
}

/// The mark after "verified" (in the bundled fonts: see the glyph test).
pub(crate) const VERIFIED_MARK: &str = "✔";

/// How we know a contact, in words: "by link", "met in person",
/// "introduced by Carol", "asked to connect".
pub(crate) fn origin_text(c: &ContactView) -> String {
    match c.origin {
        ContactOrigin::Link => "by link".to_owned(),
        ContactOrigin::MetInPerson => "met in person".to_owned(),
        ContactOrigin::Introduced { .. } => {
            match c.introducer.as_ref().and_then(|i| i.alias.as_deref()) {
                Some(a) => format!("introduced by {}", peer_text::name(a)),
                None => "introduced by someone no longer a contact".to_owned(),
            }
        }
        ContactOrigin::Request => "asked to connect".to_owned(),
    }
}

/// "verified ✔" or "not verified".
pub(crate) fn verified_text(verified: bool) -> String {
    if verified {
        format!("verified {VERIFIED_MARK}")
    } else {
        "not verified".to_owned()
    }
}

/// A contact's provenance in one line, for the contact list and the chat
/// header: "met in person · verified ✔", "by link · not verified".
pub(crate) fn provenance_text(c: &ContactView) -> String {
    format!("{} · {}", origin_text(c), verified_text(c.verified))
}

/// A message's delivery state, in words (with a symbol for the eye).
pub(crate) fn state_text(m: &MessageView) -> &'static str {
    state_words(m.state)
}

fn state_words(state: MessageState) -> &'static str {
    match state {
        MessageState::Queued => "🕓 queued",
        MessageState::Sent => "✔ sent",
        MessageState::Delivered => "✔✔ delivered",
        MessageState::Received => "",
    }
}

/// The network state, in one line, and whether it is reachable.
pub(crate) fn status_words(s: &NetworkStatus) -> (String, bool) {
    match s {
        NetworkStatus::Offline => ("Offline".into(), false),
        NetworkStatus::Starting { percent, phase } => {
            (format!("Connecting: {phase} ({percent}%)"), false)
        }
        NetworkStatus::Online { published: true } => ("Online".into(), true),
        NetworkStatus::Online { published: false } => {
            ("Connected; publishing your address…".into(), false)
        }
        NetworkStatus::Failed { error } => (format!("Offline: {error}"), false),
    }
}

/// What the banner says of a network that is not the public Tor network;
/// `None` for the public Tor network.
pub(crate) fn network_warning(kind: NetworkKind) -> Option<&'static str> {
    match kind {
        NetworkKind::Tor => None,
        NetworkKind::TorCustom => Some("Test/custom Tor network (your own arti configuration)"),
        NetworkKind::Tcp => Some("TCP — not anonymous: LAN/loopback"),
    }
}

/// The banner for a profile that is not on the public Tor network.
fn network_banner(ui: &mut egui::Ui, kind: NetworkKind, compact: bool) {
    let Some(which) = network_warning(kind) else {
        return;
    };
    let warn = ui.visuals().warn_fg_color;
    egui::Frame::new()
        .fill(warn.gamma_multiply(0.12))
        .stroke(egui::Stroke::new(1.0, warn))
        .corner_radius(4.0)
        .inner_margin(egui::Margin::symmetric(6, 3))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            let text = if compact {
                format!("{WARNING_SIGN} Not the public Tor network: {which}")
            } else {
                format!("{WARNING_SIGN} This profile is not on the public Tor network: {which}")
            };
            let mut rt = egui::RichText::new(text).color(warn);
            if compact {
                rt = rt.small();
            }
            ui.add(egui::Label::new(rt).wrap());
        });
}

/// "1 request dropped", "12 requests dropped".
pub(crate) fn dropped_text(n: u64) -> Option<String> {
    match n {
        0 => None,
        1 => Some("1 request dropped".to_owned()),
        n => Some(format!("{n} requests dropped")),
    }
}

/// The main screen.
pub(crate) fn show(app: &mut KithApp, ui: &mut egui::Ui) {
    profiles_bar(app, ui);
    let Some(active) = app.active.clone() else {
        app.screen = Screen::Unlock;
        return;
    };
    let mut actions = Actions::default();
    let kind = app
        .sessions
        .iter()
        .find(|s| s.name() == active)
        .map(|s| app.network_kind(s));
    let ctx = ui.ctx().clone();
    if let (Some(s), Some(kind)) = (app.sessions.iter_mut().find(|s| s.name() == active), kind) {
        contacts_panel(s, ui, &mut actions);
        egui::CentralPanel::default().show(ui, |ui| {
            network_banner(ui, kind, false);
            if s.inbox.open {
                crate::inbox::view(s, ui);
            } else if s.blog.open {
                crate::blog::view(s, ui);
            } else if s.feeds.open {
                crate::feeds::view(s, ui);
            } else if s.groups.open.is_some() {
                crate::groups::view(s, GroupKind::Group, ui);
            } else if s.forums.open.is_some() {
                crate::groups::view(s, GroupKind::Forum, ui);
            } else {
                chat(s, ui, &mut actions);
            }
        });
        confirm_dialog(s, &ctx, &mut actions);
        crate::conv::confirm_dialog(s, &ctx);
        crate::files::dialogs(s, &ctx);
        crate::intro::dialog(s, &ctx);
        crate::groups::dialogs(s, &ctx);
        verify_dialog(s, &ctx, &mut actions);
    }
    crate::dialogs::add_contact(app, &ctx, &active);
    crate::meet::dialog(app, &ctx, &active);
    crate::dialogs::settings(app, &ctx, &active);
    perform(app, &active, actions);
    crate::intro::perform(app, &active);
    crate::conv::perform(app, &active);
    crate::files::perform(app, &active);
    crate::inbox::perform(app, &active);
    crate::blog::perform(app, &active);
    crate::feeds::perform(app, &active);
    crate::groups::perform(app, &active);
}

/// Something the person can do to a contact or a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContactAction {
    Accept,
    Decline,
    /// Put a declined request back among the pending ones.
    Restore,
    Block,
    Unblock,
    Remove,
    /// Mark verified (the safety numbers matched), or not.
    MarkVerified(bool),
}

impl ContactAction {
    /// What failed, for the error line.
    fn doing(self) -> &'static str {
        match self {
            ContactAction::Accept => "Accepting",
            ContactAction::Decline => "Declining",
            ContactAction::Restore => "Restoring the request",
            ContactAction::Block => "Blocking",
            ContactAction::Unblock => "Unblocking",
            ContactAction::Remove => "Removing the contact",
            ContactAction::MarkVerified(_) => "Marking the contact",
        }
    }
}

/// A destructive action the person is asked to confirm.
#[derive(Debug, Clone)]
pub(crate) struct Confirm {
    pub(crate) action: ContactAction,
    pub(crate) id: ContactId,
    /// The name shown in the question.
    pub(crate) who: String,
}

impl Confirm {
    fn new(action: ContactAction, c: &ContactView) -> Self {
        Confirm {
            action,
            id: c.id,
            who: peer_text::name(&c.alias).into_owned(),
        }
    }
}

/// What the panels asked for; done after drawing, with the whole app at hand.
#[derive(Default)]
struct Actions {
    select: Option<ContactId>,
    send: Option<String>,
    contact: Vec<(ContactId, ContactAction)>,
    confirm: Option<Confirm>,
    /// Open the "Introduce…" dialog for this contact.
    introduce: Option<ContactId>,
    /// Open the safety-number dialog for this contact.
    verify: Option<ContactId>,
    /// Show the inbox.
    inbox: bool,
    /// Show the blog.
    blog: bool,
    /// Show the feeds.
    feeds: bool,
    /// Show this group or forum.
    group: Option<(GroupKind, kith_node::GroupId)>,
    /// Open the "New group" or "New forum" dialog.
    new_group: Option<GroupKind>,
    online: bool,
    offline: bool,
}

fn perform(app: &mut KithApp, active: &str, a: Actions) {
    if a.online {
        app.go_online(active);
    }
    let Some(s) = app.session_mut(active) else {
        return;
    };
    if let Some(c) = a.confirm {
        s.confirm = Some(c);
    }
    if let Some(c) = a.introduce {
        s.intro.open(c);
    }
    if let Some(c) = a.verify {
        s.verify = Some(c);
    }
    if a.inbox {
        if let Some(c) = s.selected {
            s.deselect(c);
        }
        s.close_spaces();
        s.inbox.show();
    }
    if a.blog {
        if let Some(c) = s.selected {
            s.deselect(c);
        }
        s.close_spaces();
        s.inbox.hide();
        s.blog.show();
    }
    if a.feeds {
        if let Some(c) = s.selected {
            s.deselect(c);
        }
        s.close_spaces();
        s.inbox.hide();
        s.feeds.show();
    }
    if let Some(kind) = a.new_group {
        s.space(kind).open_new();
    }
    if let Some((kind, g)) = a.group {
        s.show_space(kind, g);
    }
    for &(id, what) in &a.contact {
        if matches!(what, ContactAction::Block | ContactAction::Remove) {
            s.deselect(id);
        }
    }
    let p = s.profile.clone();
    let name = active.to_owned();
    if a.offline {
        s.online_busy = true;
        let (p, name) = (p.clone(), name.clone());
        app.backend.spawn(async move {
            p.go_offline().await;
            Reply::WentOnline {
                profile: name,
                result: Ok(()),
            }
        });
    } else {
        let mut load = None;
        if let Some(c) = a.select {
            s.inbox.hide();
            s.close_spaces();
            s.selected = Some(c);
            s.chat_error = None;
            if s.chat_for != Some(c) {
                s.chat.clear();
                s.chat_for = Some(c);
                s.conv.reset();
                s.files.reset();
            }
            load = Some(c);
        }
        let send = match (a.send, s.selected) {
            (Some(text), Some(c)) if s.conv.editing.is_some() => {
                // The composer held an edit: it goes as one, and the draft
                // comes back.
                if let Some((id, draft)) = crate::conv::take_edit(&mut s.conv, c) {
                    s.composer = draft;
                    s.conv.todo.push(crate::conv::Do::Edit {
                        contact: c,
                        id,
                        text,
                    });
                }
                None
            }
            (Some(text), Some(c)) => {
                s.sending = true;
                s.chat_error = None;
                s.unsent = Some(text.clone());
                let reply_to = s.conv.reply_to.take().filter(|m| m.contact == c);
                Some((text, c, reply_to.map(|m| m.id)))
            }
            _ => None,
        };
        if let Some(c) = load {
            app.backend.load_messages(&p, c, true);
            app.backend.load_conversation(&p, c);
        }
        if let Some((text, c, reply_to)) = send {
            let (p, name) = (p.clone(), name.clone());
            app.backend.spawn(async move {
                let result = p.send_reply(c, &text, reply_to).await;
                Reply::Sent {
                    profile: name,
                    contact: c,
                    result,
                }
            });
        }
    }
    for (id, what) in a.contact {
        let p = p.clone();
        let name = name.clone();
        app.backend.spawn(async move {
            let r = match what {
                ContactAction::Accept => p.accept_contact(id).await,
                ContactAction::Decline => p.decline_contact(id).await,
                ContactAction::Restore => p.restore_request(id).await,
                ContactAction::Block => p.block_contact(id).await,
                ContactAction::Unblock => p.unblock_contact(id).await,
                ContactAction::Remove => p.remove_contact(id).await,
                ContactAction::MarkVerified(v) => p.mark_verified(id, v).await,
            };
            match r {
                Ok(()) => Reply::Event {
                    profile: name,
                    event: kith_node::Event::ContactsChanged,
                },
                Err(error) => Reply::Failed {
                    profile: name,
                    what: what.doing(),
                    error,
                },
            }
        });
    }
}

/// Ask before blocking or removing a contact.
fn confirm_dialog(s: &mut Session, ctx: &egui::Context, actions: &mut Actions) {
    let Some(c) = s.confirm.clone() else {
        return;
    };
    let (title, body, verb) = match c.action {
        ContactAction::Block => (
            format!("Block “{}”?", c.who),
            "Their connections are refused and they cannot send you messages or requests. \
             They are not told. You can unblock them later under “Blocked”.",
            "Block",
        ),
        ContactAction::Remove => (
            format!("Remove “{}”?", c.who),
            "This deletes the contact and your whole conversation with them on this computer. \
             They are not told, and they can ask to connect again.",
            "Remove",
        ),
        // Only blocking and removing are asked about.
        _ => {
            s.confirm = None;
            return;
        }
    };
    let mut done = false;
    let modal = egui::Modal::new(egui::Id::unique(("confirm-contact", s.name()))).show(ctx, |ui| {
        ui.set_max_width(380.0);
        ui.heading(title);
        ui.add(egui::Label::new(body).wrap());
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let red = ui.visuals().error_fg_color;
            if ui.button(egui::RichText::new(verb).color(red)).clicked() {
                actions.contact.push((c.id, c.action));
                done = true;
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
    });
    if done || modal.should_close() {
        s.confirm = None;
    }
}

/// "Verify safety number": the number both devices show for this contact,
/// what to do with it, and "Mark as verified" (or not).
fn verify_dialog(s: &mut Session, ctx: &egui::Context, actions: &mut Actions) {
    let Some(id) = s.verify else {
        return;
    };
    let Some(c) = s.contact(id).cloned() else {
        // Removed meanwhile.
        s.verify = None;
        return;
    };
    // Two public keys and one hash: cheap enough for a frame.
    let number = SafetyNumber::new(&s.profile.address().key(), &c.address.key());
    let who = peer_text::name(&c.alias).into_owned();
    let mut done = false;
    let modal = egui::Modal::new(egui::Id::unique(("verify-contact", s.name()))).show(ctx, |ui| {
        ui.set_max_width(420.0);
        ui.heading(format!("Safety number with “{who}”"));
        ui.add(
            egui::Label::new(format!(
                "{who}’s device shows the same number for you. Compare all of it, \
                 in person or on a call you trust. If every digit matches, no one \
                 swapped the link between you."
            ))
            .wrap(),
        );
        ui.add_space(8.0);
        egui::Frame::new()
            .fill(ui.visuals().faint_bg_color)
            .corner_radius(6.0)
            .inner_margin(egui::Margin::symmetric(12, 8))
            .show(ui, |ui| {
                ui.vertical_centered(|ui| {
                    for row in number.rows(4) {
                        ui.add(
                            egui::Label::new(egui::RichText::new(row).monospace().size(18.0))
                                .selectable(true),
                        );
                    }
                });
            });
        ui.add_space(6.0);
        ui.label(format!(
            "{} · {}",
            origin_text(&c),
            verified_text(c.verified)
        ));
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let (label, hover) = if c.verified {
                (
                    "Mark as not verified",
                    "If you are no longer sure it is them",
                )
            } else {
                ("Mark as verified", "Only if every digit matched")
            };
            if ui.button(label).on_hover_text(hover).clicked() {
                actions
                    .contact
                    .push((c.id, ContactAction::MarkVerified(!c.verified)));
                done = true;
            }
            if ui.button("Close").clicked() {
                done = true;
            }
        });
    });
    if done || modal.should_close() {
        s.verify = None;
    }
}

/// The far-left bar: unlocked profiles (compartments).
fn profiles_bar(app: &mut KithApp, ui: &mut egui::Ui) {
    egui::Panel::left("profiles")
        .resizable(false)
        .exact_size(150.0)
        .show(ui, |ui| {
            ui.add_space(6.0);
            ui.label(egui::RichText::new("Profiles").strong());
            ui.add_space(4.0);
            let mut switch = None;
            for s in &app.sessions {
                let kind = app.network_kind(s);
                let (words, up) = status_words(&s.status);
                let is_active = app.active.as_deref() == Some(s.name());
                let unread: u64 = s.contacts.iter().map(|c| c.unread).sum();
                let requests = s
                    .contacts
                    .iter()
                    .filter(|c| c.state == ContactState::IncomingRequest)
                    .count()
                    + s.inbox.unseen();
                ui.horizontal(|ui| {
                    dot(ui, if up { green() } else { egui::Color32::GRAY }, &words);
                    let mut text = s.display_name.clone();
                    if unread + requests as u64 > 0 {
                        text.push_str(&format!(" ({})", unread + requests as u64));
                    }
                    if ui
                        .add(egui::Button::selectable(is_active, text))
                        .on_hover_text(format!("{} — {words}", s.name()))
                        .clicked()
                    {
                        switch = Some(s.name().to_owned());
                    }
                });
                network_banner(ui, kind, true);
            }
            if let Some(n) = switch {
                app.active = Some(n);
            }
            ui.add_space(8.0);
            if ui
                .button("+ Profile")
                .on_hover_text("Unlock or create another profile")
                .clicked()
            {
                app.unlock = Default::default();
                app.backend.list_profiles();
                app.screen = Screen::Unlock;
            }
        });
}

/// Tor / network state with progress and retry.
fn network_status(s: &Session, ui: &mut egui::Ui, actions: &mut Actions) {
    match &s.status {
        NetworkStatus::Starting { percent, phase } => {
            ui.add(
                egui::ProgressBar::new(f32::from(*percent) / 100.0)
                    .text(format!("{phase} ({percent}%)"))
                    .animate(true),
            )
            .on_hover_text("Tor is starting");
        }
        // Rows that can be long wrap at the panel's width: a panel grows to
        // fit what does not, and keeps that width after it is gone.
        NetworkStatus::Online { published: false } => {
            ui.horizontal_wrapped(|ui| {
                ui.spinner();
                ui.label("Connected to Tor; publishing your address…");
            });
        }
        NetworkStatus::Online { published: true } => {
            ui.horizontal(|ui| {
                dot(ui, green(), "Online");
                ui.label("Online");
                if ui
                    .small_button("Go offline")
                    .on_hover_text("Stop listening and sending")
                    .clicked()
                {
                    actions.offline = true;
                }
            });
        }
        NetworkStatus::Offline | NetworkStatus::Failed { .. } => {
            let err = match &s.status {
                NetworkStatus::Failed { error } => Some(error.clone()),
                _ => None,
            };
            ui.horizontal_wrapped(|ui| {
                dot(ui, egui::Color32::GRAY, "Offline");
                ui.label(if err.is_some() {
                    "Could not connect"
                } else {
                    "Offline"
                });
                if s.online_busy {
                    ui.spinner();
                } else if ui
                    .button(if err.is_some() { "Retry" } else { "Go online" })
                    .clicked()
                {
                    actions.online = true;
                }
            });
            if let Some(e) = err {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            ui.label(
                egui::RichText::new("Messages you write now wait, queued, until you are online.")
                    .small()
                    .weak(),
            );
        }
    }
}

fn contacts_panel(s: &mut Session, ui: &mut egui::Ui, actions: &mut Actions) {
    egui::Panel::left("contacts")
        .resizable(true)
        .default_size(290.0)
        .min_size(220.0)
        .show(ui, |ui| {
            ui.add_space(6.0);
            ui.heading(&s.display_name);
            network_status(s, ui, actions);
            ui.horizontal(|ui| {
                if ui.button("Add contact").clicked() {
                    s.add = Some(AddContactDialog::default());
                }
                if ui.button("Meet in person").clicked() {
                    s.meet = Some(crate::meet::MeetDialog::default());
                }
                if ui.button("Settings").clicked() {
                    s.settings_ui = Some(SettingsUi::new(s.settings.as_ref()));
                }
            });
            if let Some(e) = s.error.clone() {
                ui.horizontal_wrapped(|ui| {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                    if ui.small_button("Dismiss").clicked() {
                        s.error = None;
                    }
                });
            }
            ui.separator();
            egui::ScrollArea::vertical().show(ui, |ui| {
                if crate::inbox::entry(ui, &s.inbox) {
                    actions.inbox = true;
                }
                if crate::blog::entry(ui, &s.blog) {
                    actions.blog = true;
                }
                if crate::feeds::entry(ui, &s.feeds) {
                    actions.feeds = true;
                }
                ui.add_space(4.0);
                if let Some(t) = dropped_text(s.dropped_requests) {
                    ui.label(egui::RichText::new(t).weak()).on_hover_text(
                        "More people asked to connect than Kith keeps waiting at once, \
                         or they asked too fast. Those requests were not kept; \
                         people you expect can ask again later, or you can add their link.",
                    );
                }
                let requests: Vec<&ContactView> = s
                    .contacts
                    .iter()
                    .filter(|c| c.state == ContactState::IncomingRequest)
                    .collect();
                if !requests.is_empty() {
                    ui.label(egui::RichText::new("Contact requests").strong());
                    for c in requests {
                        request_card(ui, c, actions);
                    }
                    ui.separator();
                }
                crate::intro::cards(ui, &mut s.intro);
                if !s.contacts_loaded {
                    ui.spinner();
                }
                let now = Timestamp::now();
                let shown: Vec<&ContactView> = s
                    .contacts
                    .iter()
                    .filter(|c| matches!(c.state, ContactState::Accepted | ContactState::Outgoing))
                    .collect();
                if s.contacts_loaded && shown.is_empty() {
                    ui.label("No contacts yet. Use “Add contact” to share your link or QR code.");
                }
                for c in shown {
                    let r = contact_row(ui, c, s.selected == Some(c.id), now);
                    if r.clicked() {
                        actions.select = Some(c.id);
                    }
                    r.context_menu(|ui| contact_menu(ui, c, actions));
                }
                for g in [&mut s.groups, &mut s.forums] {
                    if let Some(id) = crate::groups::section(ui, g) {
                        actions.group = Some((g.kind, id));
                    }
                }
                put_aside(ui, &s.contacts, actions);
            });
        });
}

/// A stranger's request: who they say they are (not verified), their full
/// address to check, and what can be done.
fn request_card(ui: &mut egui::Ui, c: &ContactView, actions: &mut Actions) {
    ui.group(|ui| {
        ui.set_width(ui.available_width());
        let said = match c.their_name.as_deref().map(peer_text::name) {
            Some(n) if !n.is_empty() => format!("Calls themselves “{n}” — not verified"),
            _ => "Gave no name".to_owned(),
        };
        ui.add(egui::Label::new(said).wrap()).on_hover_text(
            "Anyone can choose any name. Check the address below with them \
             another way (in person, or a channel you trust) before you accept.",
        );
        ui.label(egui::RichText::new("Their address:").small().weak());
        ui.add(
            egui::Label::new(egui::RichText::new(c.address.to_string()).monospace())
                .wrap()
                .selectable(true),
        );
        ui.horizontal_wrapped(|ui| {
            if ui.button("Accept").clicked() {
                actions.contact.push((c.id, ContactAction::Accept));
            }
            if ui
                .button("Decline")
                .on_hover_text("They are not told; you find it later under “Declined”")
                .clicked()
            {
                actions.contact.push((c.id, ContactAction::Decline));
            }
            if ui
                .button("Block…")
                .on_hover_text("Refuse them for good (you can unblock later)")
                .clicked()
            {
                actions.confirm = Some(Confirm::new(ContactAction::Block, c));
            }
        });
    });
}

/// Verify, block and remove, for a contact (its row's context menu, the
/// chat's menu).
fn contact_menu(ui: &mut egui::Ui, c: &ContactView, actions: &mut Actions) {
    if c.state == ContactState::Accepted && ui.button("Introduce…").clicked() {
        actions.introduce = Some(c.id);
        ui.close();
    }
    if c.state == ContactState::Accepted && ui.button("New group…").clicked() {
        actions.new_group = Some(GroupKind::Group);
        ui.close();
    }
    if c.state == ContactState::Accepted && ui.button("New forum…").clicked() {
        actions.new_group = Some(GroupKind::Forum);
        ui.close();
    }
    if ui.button("Verify safety number…").clicked() {
        actions.verify = Some(c.id);
        ui.close();
    }
    if ui.button("Block…").clicked() {
        actions.confirm = Some(Confirm::new(ContactAction::Block, c));
        ui.close();
    }
    if ui.button("Remove contact…").clicked() {
        actions.confirm = Some(Confirm::new(ContactAction::Remove, c));
        ui.close();
    }
}

/// Declined requests and blocked people, each in a section that starts
/// closed.
fn put_aside(ui: &mut egui::Ui, contacts: &[ContactView], actions: &mut Actions) {
    for state in [ContactState::Declined, ContactState::Blocked] {
        let list: Vec<&ContactView> = contacts.iter().filter(|c| c.state == state).collect();
        if list.is_empty() {
            continue;
        }
        let title = match state {
            ContactState::Declined => "Declined",
            _ => "Blocked",
        };
        ui.add_space(6.0);
        egui::CollapsingHeader::new(format!("{title} ({})", list.len()))
            .id_salt(title)
            .default_open(false)
            .show(ui, |ui| {
                for c in list {
                    ui.group(|ui| {
                        ui.set_width(ui.available_width());
                        let mut who = peer_text::name(&c.alias).into_owned();
                        if let Some(n) = c.their_name.as_deref().map(peer_text::name)
                            && !n.is_empty()
                            && n != who.as_str()
                        {
                            who.push_str(&format!(" (calls themselves “{n}”)"));
                        }
                        ui.add(egui::Label::new(who).wrap());
                        ui.label(egui::RichText::new(c.address.redacted()).small().weak())
                            .on_hover_text(c.address.to_string());
                        ui.horizontal_wrapped(|ui| {
                            if state == ContactState::Declined {
                                if ui.button("Accept").clicked() {
                                    actions.contact.push((c.id, ContactAction::Accept));
                                }
                                if ui
                                    .button("Restore")
                                    .on_hover_text("Put it back among the pending requests")
                                    .clicked()
                                {
                                    actions.contact.push((c.id, ContactAction::Restore));
                                }
                                if ui.button("Block…").clicked() {
                                    actions.confirm = Some(Confirm::new(ContactAction::Block, c));
                                }
                            } else if ui
                                .button("Unblock")
                                .on_hover_text(if c.origin == ContactOrigin::Request {
                                    "Their request comes back; you can accept it or not"
                                } else {
                                    "They become a contact waiting for them to accept again"
                                })
                                .clicked()
                            {
                                actions.contact.push((c.id, ContactAction::Unblock));
                            }
                        });
                    });
                }
            });
    }
}

/// A row of the contacts panel (a contact, the inbox): a rounded frame,
/// filled when selected, that takes clicks as a whole.
pub(crate) fn list_row(
    ui: &mut egui::Ui,
    selected: bool,
    add: impl FnOnce(&mut egui::Ui),
) -> egui::Response {
    ui.scope_builder(egui::UiBuilder::new().sense(egui::Sense::click()), |ui| {
        let visuals = ui.style().interact_selectable(&ui.response(), selected);
        let fill = if selected {
            ui.visuals().selection.bg_fill
        } else {
            visuals.weak_bg_fill
        };
        egui::Frame::new()
            .fill(fill)
            .corner_radius(6.0)
            .inner_margin(6.0)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                add(ui);
            });
    })
    .response
}

/// A count on a coloured pill (unread messages, new inbox drops).
pub(crate) fn badge(ui: &mut egui::Ui, n: impl std::fmt::Display) {
    egui::Frame::new()
        .fill(ui.visuals().selection.bg_fill)
        .corner_radius(8.0)
        .inner_margin(egui::Margin::symmetric(6, 1))
        .show(ui, |ui| {
            ui.add(
                egui::Label::new(
                    egui::RichText::new(n.to_string())
                        .color(ui.visuals().selection.stroke.color)
                        .small(),
                )
                .selectable(false),
            );
        });
}

fn contact_row(
    ui: &mut egui::Ui,
    c: &ContactView,
    selected: bool,
    now: Timestamp,
) -> egui::Response {
    let r = list_row(ui, selected, |ui| {
        ui.horizontal(|ui| {
            let (online_words, color) = if c.online {
                ("online", green())
            } else {
                ("offline", egui::Color32::GRAY)
            };
            dot(ui, color, online_words);
            let alias = peer_text::name(&c.alias);
            ui.label(egui::RichText::new(alias.as_ref()).strong());
            if let Some(n) = c.their_name.as_deref().map(peer_text::name)
                && !n.is_empty()
                && n != alias
            {
                ui.label(egui::RichText::new(format!("({n})")).weak());
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if c.unread > 0 {
                    badge(ui, c.unread);
                }
            });
        });
        let mut sub = provenance_text(c);
        if c.state == ContactState::Outgoing {
            sub.push_str(" · waiting for them to accept");
        }
        ui.label(egui::RichText::new(sub).small().weak());
        if let Some(m) = &c.last_message {
            let preview = preview_text(m);
            ui.horizontal(|ui| {
                ui.add(egui::Label::new(egui::RichText::new(preview).small()).truncate());
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    ui.label(
                        egui::RichText::new(crate::timefmt::short(m.time, now))
                            .small()
                            .weak(),
                    );
                });
            });
        }
    });
    let label = format!(
        "{}, {}, {}{}",
        peer_text::name(&c.alias),
        if c.online { "online" } else { "offline" },
        provenance_text(c),
        if c.unread > 0 {
            format!(", {} unread", c.unread)
        } else {
            String::new()
        }
    );
    r.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &label));
    r
}

/// "You set disappearing messages to 1 hour", for a timer line.
pub(crate) fn timer_line(out: bool, t: kith_node::DisappearTimer) -> String {
    use kith_node::DisappearTimer as T;
    let who = if out { "You" } else { "They" };
    let what = match t {
        T::Off => return format!("{who} turned disappearing messages off"),
        T::FiveMinutes => "5 minutes",
        T::OneHour => "1 hour",
        T::OneDay => "1 day",
        T::SevenDays => "7 days",
        T::ThirtyDays => "30 days",
    };
    format!(
        "{who} set disappearing messages to {what}: new messages disappear from both sides after that"
    )
}

/// What a reply's quote shows, on one line: who, and the start of the text.
pub(crate) fn quote_line(q: &kith_node::QuoteView) -> String {
    match q {
        kith_node::QuoteView::Message { direction, body } => {
            let who = if *direction == Direction::Out {
                "You"
            } else {
                "They"
            };
            let first: String = peer_text::plain(body)
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(80)
                .collect();
            format!("{who}: {first}")
        }
        kith_node::QuoteView::Deleted => "deleted message".to_owned(),
        _ => "message not available".to_owned(),
    }
}

/// What a contact-list preview says of a message.
pub(crate) fn preview_text(m: &MessageView) -> String {
    if let kith_node::MessageKind::Timer(t) = m.kind {
        // Short: the contact list would widen to fit the whole line.
        let line = timer_line(m.direction == Direction::Out, t);
        return line.split(':').next().unwrap_or_default().to_owned();
    }
    let body = match &m.file {
        Some(f) => format!("{} {}", crate::files::CLIP_SIGN, f.name),
        None => m.body.clone(),
    };
    let preview: String = peer_text::plain(&body)
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(60)
        .collect();
    if m.direction == Direction::Out {
        format!("You: {preview}")
    } else {
        preview
    }
}

fn bubble(
    ui: &mut egui::Ui,
    m: &MessageView,
    now: Timestamp,
    conv: &mut crate::conv::ConvUi,
    files: &mut crate::files::FilesUi,
    who: &str,
) {
    if let kith_node::MessageKind::Timer(t) = m.kind {
        // The time on a line of its own (a snapshot masks only it).
        ui.vertical_centered(|ui| {
            ui.label(
                egui::RichText::new(format!(
                    "⏱ {}",
                    timer_line(m.direction == Direction::Out, t)
                ))
                .small()
                .weak(),
            );
            ui.label(
                egui::RichText::new(crate::timefmt::short(m.time, now))
                    .small()
                    .weak(),
            );
        });
        return;
    }
    let out = m.direction == Direction::Out;
    let layout = if out {
        egui::Layout::right_to_left(egui::Align::Min)
    } else {
        egui::Layout::left_to_right(egui::Align::Min)
    };
    let max = (ui.available_width() * 0.72).max(120.0);
    let frame = ui.with_layout(layout, |ui| {
        let fill = if out {
            ui.visuals().selection.bg_fill.gamma_multiply(0.55)
        } else {
            ui.visuals().faint_bg_color
        };
        egui::Frame::new()
            .fill(fill)
            .stroke(ui.visuals().widgets.noninteractive.bg_stroke)
            .corner_radius(10.0)
            .inner_margin(egui::Margin::symmetric(10, 6))
            .show(ui, |ui| {
                ui.set_max_width(max);
                ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
                    if let Some(r) = &m.reply_to {
                        egui::Frame::new()
                            .stroke(ui.visuals().widgets.noninteractive.bg_stroke)
                            .corner_radius(4.0)
                            .inner_margin(egui::Margin::symmetric(6, 2))
                            .show(ui, |ui| {
                                ui.add(
                                    egui::Label::new(
                                        egui::RichText::new(format!("↩ {}", quote_line(&r.quote)))
                                            .small()
                                            .italics(),
                                    )
                                    .truncate(),
                                );
                            });
                    }
                    if m.kind == kith_node::MessageKind::File {
                        // Its menu from a button in its row: a right-click
                        // area over the bubble would take its buttons' clicks.
                        crate::files::bubble(ui, files, m, |ui| {
                            ui.menu_button(egui::RichText::new(MENU_BUTTON).small(), |ui| {
                                crate::conv::message_menu(ui, conv, m, who);
                            })
                            .response
                            .on_hover_text("Reply, react, edit, delete");
                        });
                    } else {
                        let body = peer_text::layout(&m.body, ui);
                        ui.add(egui::Label::new(body).wrap().selectable(true));
                    }
                    let mut meta =
                        format!("{} {}", crate::timefmt::short(m.time, now), state_text(m));

                    if let Some(t) = m.expires_at {
                        meta = format!(
                            "{} · disappears {}",
                            meta.trim_end(),
                            crate::timefmt::short(t, now)
                        );
                    }
                    let meta = egui::RichText::new(meta.trim_end()).small().weak();
                    if let Some(e) = m.edited {
                        ui.horizontal(|ui| {
                            ui.spacing_mut().item_spacing.x = 4.0;
                            ui.label(meta);
                            // Its own label: the time of the edit shows on
                            // hover.
                            let words = if e.delivered {
                                "· edited"
                            } else {
                                "· edited, sending"
                            };
                            ui.label(egui::RichText::new(words).small().weak())
                                .on_hover_text(format!(
                                    "Edited {}",
                                    crate::timefmt::short(e.at, now)
                                ));
                        });
                    } else {
                        ui.label(meta);
                    }
                    if !m.reactions.is_empty() {
                        let r: Vec<String> = m
                            .reactions
                            .iter()
                            .map(|r| {
                                let who = if r.by == Direction::Out {
                                    "you"
                                } else {
                                    "them"
                                };
                                format!("{} {who}", peer_text::plain(&r.emoji))
                            })
                            .collect();
                        ui.label(egui::RichText::new(r.join("  ")).small());
                    }
                });
            })
            .response
    });
    if m.kind == kith_node::MessageKind::File {
        // Its menu is the "⋯" button in the bubble: a right-click area here
        // would take the clicks of its Accept and Save buttons.
        return;
    }
    // The bubble's menu opens on a right click; the text inside stays
    // selectable (it takes drags, this area only clicks).
    let label = crate::conv::bubble_label(m);
    let r = ui.interact(
        frame.inner.rect,
        ui.make_persistent_id(("message", m.id)),
        egui::Sense::click(),
    );
    r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
    r.context_menu(|ui| crate::conv::message_menu(ui, conv, m, who));
}

/// How tall a message row is guessed to be (a one-line bubble and the
/// space after it) while no row of the conversation was laid out yet.
const ROW_GUESS: f32 = 56.0;

/// The open conversation's row heights, as last laid out. The chat lays out
/// only the rows in view, and stands in for the others by their heights:
/// measured for a row once laid out, guessed (the mean of the measured
/// ones) for a row never seen. A row in view is laid out, and so measured
/// again, on every frame: an edit, a reaction or a file's progress corrects
/// its height the frame it shows, and a row out of view keeps its last
/// height as the guess.
#[derive(Default)]
pub(crate) struct ChatRows {
    /// Whose conversation the heights are of.
    contact: Option<ContactId>,
    /// The width the rows were laid out at: another width wraps anew.
    width: f32,
    /// Each measured row's height, with the space after it. Never more
    /// entries than the conversation has messages, at a frame's start.
    heights: HashMap<MessageId, f32>,
    /// Rows laid out by the last frame that showed the conversation.
    pub(crate) laid_out: usize,
}

impl ChatRows {
    /// Start over for another conversation or width; forget the heights of
    /// messages gone from it (deleted, disappeared, history cleared).
    fn prepare(&mut self, contact: ContactId, width: f32, chat: &[MessageView]) {
        if self.contact != Some(contact) || (self.width - width).abs() > 0.5 {
            self.heights.clear();
            self.contact = Some(contact);
            self.width = width;
        }
        if self.heights.len() > chat.len() {
            let ids: HashSet<MessageId> = chat.iter().map(|m| m.id).collect();
            self.heights.retain(|id, _| ids.contains(id));
        }
    }

    /// The height of a row never laid out: the mean of those that were.
    fn guess(&self) -> f32 {
        if self.heights.is_empty() {
            return ROW_GUESS;
        }
        #[allow(clippy::cast_precision_loss)] // A count of rows, far below 2^24.
        let n = self.heights.len() as f32;
        self.heights.values().sum::<f32>() / n
    }

    fn height(&self, id: MessageId, guess: f32) -> f32 {
        self.heights.get(&id).copied().unwrap_or(guess)
    }
}

/// The open conversation's messages: the rows in `viewport` (the scroll
/// area's view, in its content's coordinates) laid out, the rows above and
/// below it only space of their height.
fn message_rows(
    s: &mut Session,
    contact: ContactId,
    ui: &mut egui::Ui,
    viewport: egui::Rect,
    now: Timestamp,
    who: &str,
) {
    let Session {
        chat,
        chat_rows: rows,
        conv,
        files,
        ..
    } = s;
    rows.prepare(contact, ui.available_width(), chat);
    let guess = rows.guess();
    // The view on screen: the viewport is counted from the content's top,
    // above the scroll area's content margin.
    let origin = ui.max_rect().top() - f32::from(ui.spacing().scroll.content_margin.top);
    let (view_top, view_bottom) = (origin + viewport.min.y, origin + viewport.max.y);
    // Rows wholly above the view: space.
    let start = ui.cursor().top();
    let mut y = start;
    let mut first = 0;
    for m in chat.iter() {
        let h = rows.height(m.id, guess);
        if y + h > view_top {
            break;
        }
        y += h;
        first += 1;
    }
    ui.add_space(y - start);
    // Rows in view, laid out and measured, until the view is full.
    let mut next = first;
    let mut moved = false;
    while let Some(m) = chat.get(next)
        && ui.cursor().top() < view_bottom
    {
        let top = ui.cursor().top();
        // Its own id scope: a row's widgets keep their ids (an open menu,
        // a text selection) whichever row is the first laid out.
        ui.push_id(m.id, |ui| bubble(ui, m, now, conv, files, who));
        ui.add_space(4.0);
        let h = ui.cursor().top() - top;
        moved |= (rows.height(m.id, guess) - h).abs() > 0.5;
        rows.heights.insert(m.id, h);
        next += 1;
    }
    rows.laid_out = next - first;
    // Rows below the view: space.
    let below: f32 = chat[next..].iter().map(|m| rows.height(m.id, guess)).sum();
    ui.add_space(below);
    if moved {
        // A guess was wrong: the content's height changed under this
        // frame's scroll offset (and a view stuck to the bottom moves).
        ui.ctx().request_repaint();
    }
}

fn chat(s: &mut Session, ui: &mut egui::Ui, actions: &mut Actions) {
    let Some(cid) = s.selected else {
        ui.centered_and_justified(|ui| {
            ui.label("Choose a contact on the left, or add one with “Add contact”.");
        });
        return;
    };
    let Some(c) = s.contact(cid).cloned() else {
        ui.label("This contact is gone.");
        return;
    };
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        ui.heading(peer_text::name(&c.alias).as_ref());
        ui.label(egui::RichText::new(if c.online { "online" } else { "offline" }).weak());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.menu_button(MENU_BUTTON, |ui| {
                contact_menu(ui, &c, actions);
                crate::conv::menu_section(ui, &mut s.conv, c.id, &peer_text::name(&c.alias));
            })
            .response
            .on_hover_text("Verify, block or remove this contact")
            .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, "Contact menu"));
        });
    });
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 4.0;
        ui.label(egui::RichText::new(provenance_text(&c)).small().weak());
        ui.label(egui::RichText::new("·").small().weak());
        ui.label(egui::RichText::new(c.address.redacted()).small().weak())
            .on_hover_text(c.address.to_string());
    });
    ui.separator();
    if !matches!(c.state, ContactState::Accepted | ContactState::Outgoing) {
        // Blocked or declined elsewhere (the `kith` command) while open here.
        ui.label("You cannot write to this contact now: see “Declined” or “Blocked” on the left.");
        return;
    }
    let composer_h = 84.0;
    let now = Timestamp::now();
    egui::ScrollArea::vertical()
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .max_height((ui.available_height() - composer_h).max(60.0))
        .show_viewport(ui, |ui, viewport| {
            if s.chat_for != Some(cid) {
                ui.spinner();
            } else if s.chat.is_empty() {
                ui.label(egui::RichText::new("No messages yet. Say hello.").weak());
            }
            let who = peer_text::name(&c.alias);
            message_rows(s, cid, ui, viewport, now, &who);
        });
    ui.separator();
    if c.state == ContactState::Outgoing {
        ui.label(
            egui::RichText::new(
                "They have not accepted yet; your messages wait queued until they do.",
            )
            .small()
            .weak(),
        );
    }
    if let Some(e) = &s.chat_error {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
    if let Some(n) = &s.conv.note {
        ui.label(egui::RichText::new(n).small().weak());
    }
    crate::conv::replying_line(ui, &mut s.conv, cid);
    crate::conv::editing_line(ui, &mut s.conv, &mut s.composer, cid);
    crate::files::take_dropped(ui, &mut s.files, cid);
    composer(s, ui, actions);
}

/// A press of Enter with no modifier.
fn is_plain_enter(e: &egui::Event) -> bool {
    match e {
        egui::Event::Key {
            key: egui::Key::Enter,
            pressed: true,
            modifiers,
            ..
        } => modifiers.is_none(),
        _ => false,
    }
}

fn composer(s: &mut Session, ui: &mut egui::Ui, actions: &mut Actions) {
    let id = ui.make_persistent_id("composer");
    // Enter sends, Shift+Enter makes a new line: take the plain Enter before
    // the text field sees it.
    let has_focus = ui.memory(|m| m.has_focus(id));
    let enter = has_focus
        && !s.sending
        && ui.input_mut(|i| {
            // Exactly Enter: `consume_key` would also take Shift+Enter.
            let before = i.events.len();
            i.events.retain(|e| !is_plain_enter(e));
            i.events.len() != before
        });
    let mut send = enter;
    ui.horizontal(|ui| {
        if let Some(c) = s.selected {
            let r = ui
                .button(crate::files::CLIP_SIGN)
                .on_hover_text("Send a file (or drop one on the chat)");
            r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, "Send a file"));
            if r.clicked() {
                s.files.open_send(c, String::new());
            }
        }
        ui.menu_button(EMOJI_BUTTON, |ui| {
            ui.set_max_width(220.0);
            ui.horizontal_wrapped(|ui| {
                for e in EMOJI {
                    if ui
                        .button(egui::RichText::new(*e).size(18.0))
                        .on_hover_text(*e)
                        .clicked()
                    {
                        s.composer.push_str(e);
                        ui.memory_mut(|m| m.request_focus(id));
                        ui.close();
                    }
                }
            });
        })
        .response
        .on_hover_text("Insert an emoji")
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, "Emoji"));
        let w = ui.available_width() - 70.0;
        ui.add(
            egui::TextEdit::multiline(&mut s.composer)
                .id(id)
                .desired_rows(2)
                .desired_width(w.max(80.0))
                .return_key(egui::KeyboardShortcut::new(
                    egui::Modifiers::SHIFT,
                    egui::Key::Enter,
                ))
                .hint_text("Write a message (Enter sends, Shift+Enter: new line)"),
        )
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::MultilineTextInput, true, "Message"));
        if ui
            .add_enabled(!s.sending, egui::Button::new("Send"))
            .clicked()
        {
            send = true;
        }
    });
    if send && !s.composer.trim().is_empty() {
        actions.send = Some(std::mem::take(&mut s.composer));
        ui.memory_mut(|m| m.request_focus(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_lines_quotes_and_previews_in_words() {
        use kith_node::{DisappearTimer, QuoteView};
        assert_eq!(
            timer_line(false, DisappearTimer::OneHour),
            "They set disappearing messages to 1 hour: new messages disappear from both sides after that"
        );
        assert_eq!(
            timer_line(true, DisappearTimer::Off),
            "You turned disappearing messages off"
        );
        let q = QuoteView::Message {
            direction: Direction::In,
            body: "first line\u{202e}\nsecond".into(),
        };
        // Hostile text stays inert in a quote too.
        assert_eq!(quote_line(&q), "They: first line[U+202E]");
        assert_eq!(quote_line(&QuoteView::Deleted), "deleted message");
        assert_eq!(quote_line(&QuoteView::Unavailable), "message not available");
    }

    fn text(n: u8) -> MessageView {
        MessageView {
            id: MessageId([n; 16]),
            contact: ContactId(1),
            direction: Direction::Out,
            body: format!("message {n}"),
            state: MessageState::Sent,
            time: Timestamp(1),
            delivered_at: None,
            kind: kith_node::MessageKind::Text,
            reply_to: None,
            reactions: vec![],
            edited: None,
            disappear: kith_node::DisappearTimer::Off,
            expires_at: None,
            file: None,
        }
    }

    /// The row heights hold no more than the open conversation's messages:
    /// another conversation or width starts over, messages gone are
    /// forgotten; a row never measured is guessed as the measured mean.
    #[test]
    fn chat_row_heights_stay_bounded() {
        let chat: Vec<MessageView> = (0..10).map(text).collect();
        let mut rows = ChatRows::default();
        rows.prepare(ContactId(1), 500.0, &chat);
        assert_eq!(rows.guess(), ROW_GUESS);
        for (i, m) in chat.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)] // Ten small numbers.
            rows.heights.insert(m.id, 40.0 + 2.0 * i as f32);
        }
        assert_eq!(rows.guess(), 49.0);
        assert_eq!(rows.height(chat[9].id, 1.0), 58.0);
        assert_eq!(rows.height(MessageId([99; 16]), 1.0), 1.0);
        // The same conversation and width: kept.
        rows.prepare(ContactId(1), 500.2, &chat);
        assert_eq!(rows.heights.len(), 10);
        // Messages deleted: their heights go.
        rows.prepare(ContactId(1), 500.0, &chat[3..]);
        assert_eq!(rows.heights.len(), 7);
        assert!(!rows.heights.contains_key(&chat[0].id));
        // Another width wraps anew; another conversation starts over.
        rows.prepare(ContactId(1), 420.0, &chat);
        assert!(rows.heights.is_empty());
        rows.heights.insert(chat[0].id, 40.0);
        rows.prepare(ContactId(2), 420.0, &chat);
        assert!(rows.heights.is_empty());
    }

    #[test]
    fn only_the_public_tor_network_has_no_warning() {
        assert_eq!(network_warning(NetworkKind::Tor), None);
        assert!(network_warning(NetworkKind::TorCustom).is_some_and(|w| w.contains("arti")));
        assert!(network_warning(NetworkKind::Tcp).is_some_and(|w| w.contains("not anonymous")));
    }

    #[test]
    fn dropped_requests_are_a_count() {
        assert_eq!(dropped_text(0), None);
        assert_eq!(dropped_text(1).as_deref(), Some("1 request dropped"));
        assert_eq!(dropped_text(12).as_deref(), Some("12 requests dropped"));
        assert_eq!(
            dropped_text(u64::MAX).as_deref(),
            Some("18446744073709551615 requests dropped")
        );
    }

    fn view(origin: ContactOrigin, verified: bool, introducer: Option<&str>) -> ContactView {
        let key = |n: u8| kith_core::IdentityKeypair::from_seed(&[n; 32]).address();
        ContactView {
            id: ContactId(1),
            alias: "bob".into(),
            address: key(1),
            state: ContactState::Accepted,
            origin,
            verified,
            introducer: introducer.map(|a| kith_node::Introducer {
                address: key(2),
                alias: Some(a.to_owned()).filter(|a| !a.is_empty()),
            }),
            their_name: None,
            online: false,
            unread: 0,
            last_message: None,
        }
    }

    #[test]
    fn provenance_in_words() {
        let by = ContactOrigin::Introduced { by: [2; 32] };
        for (c, want) in [
            (
                view(ContactOrigin::MetInPerson, true, None),
                "met in person · verified ✔",
            ),
            (
                view(ContactOrigin::Link, false, None),
                "by link · not verified",
            ),
            (
                view(ContactOrigin::Link, true, None),
                "by link · verified ✔",
            ),
            (
                view(ContactOrigin::Request, false, None),
                "asked to connect · not verified",
            ),
            (
                view(by, false, Some("carol")),
                "introduced by carol · not verified",
            ),
            (
                view(by, false, Some("")),
                "introduced by someone no longer a contact · not verified",
            ),
            // An introducer's alias with a bidi override shows without it.
            (
                view(by, true, Some("car\u{202E}ol")),
                "introduced by carol · verified ✔",
            ),
        ] {
            assert_eq!(provenance_text(&c), want);
        }
    }

    /// Every emoji offered, and every symbol the chat draws, comes from the
    /// fonts bundled with the app (no tofu on a machine without emoji fonts).
    #[test]
    fn bundled_fonts_draw_what_the_app_offers() {
        let ctx = egui::Context::default();
        let mut out = ctx.run_ui(egui::RawInput::default(), |_| {});
        out.textures_delta.clear();
        let font = egui::FontId::proportional(14.0);
        let mut offered: Vec<String> = EMOJI.iter().map(|e| (*e).to_owned()).collect();
        offered.extend(
            [
                MessageState::Queued,
                MessageState::Sent,
                MessageState::Delivered,
            ]
            .map(|s| state_words(s).to_owned()),
        );
        offered.push(EMOJI_BUTTON.to_owned());
        offered.push(MENU_BUTTON.to_owned());
        offered.push(WARNING_SIGN.to_owned());
        offered.extend(
            [NetworkKind::TorCustom, NetworkKind::Tcp]
                .map(|k| network_warning(k).unwrap_or("").to_owned()),
        );
        offered.push("“”…’·".to_owned());
        offered.push(verified_text(true));
        offered.push(crate::inbox::ENTRY_SIGN.to_owned());
        offered.push(crate::blog::ENTRY_SIGN.to_owned());
        offered.extend(crate::conv::REACTIONS.iter().map(|e| (*e).to_owned()));
        offered.push(crate::conv::CANCEL_MARK.to_owned());
        offered.push(crate::files::CLIP_SIGN.to_owned());
        offered.push("↩⏱".to_owned());
        let missing: Vec<String> = ctx.fonts_mut(|f| {
            offered
                .into_iter()
                .filter(|e| !f.has_glyphs(&font, e))
                .collect()
        });
        assert!(missing.is_empty(), "no glyph for {missing:?}");
    }
}
