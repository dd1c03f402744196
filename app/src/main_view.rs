//! The main screen: profiles side bar, contacts, requests, Tor status, chat.

use kith_core::Timestamp;
use kith_node::{
    ContactId, ContactOrigin, ContactState, ContactView, Direction, MessageState, MessageView,
    NetworkStatus,
};

use crate::app::{KithApp, Screen, Session};
use crate::backend::Reply;
use crate::dialogs::{AddContactDialog, SettingsUi};

/// The emoji picker's button.
const EMOJI_BUTTON: &str = "😊";

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

/// How we know a contact, in words.
pub(crate) fn origin_text(c: &ContactView) -> &'static str {
    match c.origin {
        ContactOrigin::Link => "added by link",
        ContactOrigin::InPerson => "met in person",
        ContactOrigin::Introduced => "introduced",
        ContactOrigin::Request => "asked to connect",
    }
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

/// The main screen.
pub(crate) fn show(app: &mut KithApp, ui: &mut egui::Ui) {
    profiles_bar(app, ui);
    let Some(active) = app.active.clone() else {
        app.screen = Screen::Unlock;
        return;
    };
    let mut actions = Actions::default();
    if let Some(s) = app.sessions.iter_mut().find(|s| s.name() == active) {
        contacts_panel(s, ui, &mut actions);
        egui::CentralPanel::default().show(ui, |ui| chat(s, ui, &mut actions));
    }
    let ctx = ui.ctx().clone();
    crate::dialogs::add_contact(app, &ctx, &active);
    crate::dialogs::settings(app, &ctx, &active);
    perform(app, &active, actions);
}

/// What the panels asked for; done after drawing, with the whole app at hand.
#[derive(Default)]
struct Actions {
    select: Option<ContactId>,
    send: Option<String>,
    accept: Option<ContactId>,
    decline: Option<ContactId>,
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
    let p = s.profile.clone();
    let name = active.to_owned();
    if a.offline {
        s.online_busy = true;
        app.backend.spawn(async move {
            p.go_offline().await;
            Reply::WentOnline {
                profile: name,
                result: Ok(()),
            }
        });
        return;
    }
    let mut load = None;
    if let Some(c) = a.select {
        s.selected = Some(c);
        s.chat_error = None;
        if s.chat_for != Some(c) {
            s.chat.clear();
            s.chat_for = Some(c);
        }
        load = Some(c);
    }
    let send = match (a.send, s.selected) {
        (Some(text), Some(c)) => {
            s.sending = true;
            s.chat_error = None;
            s.unsent = Some(text.clone());
            Some((text, c))
        }
        _ => None,
    };
    if let Some(c) = load {
        app.backend.load_messages(&p, c, true);
    }
    if let Some((text, c)) = send {
        app.backend.spawn(async move {
            let result = p.send(c, &text).await;
            Reply::Sent {
                profile: name,
                contact: c,
                result,
            }
        });
        return;
    }
    for (id, accept) in [(a.accept, true), (a.decline, false)] {
        let Some(id) = id else { continue };
        let p = p.clone();
        let name = name.clone();
        app.backend.spawn(async move {
            let r = if accept {
                p.accept_contact(id).await
            } else {
                p.decline_contact(id).await
            };
            match r {
                Ok(()) => Reply::Event {
                    profile: name,
                    event: kith_node::Event::ContactsChanged,
                },
                Err(error) => Reply::Failed {
                    profile: name,
                    what: if accept { "Accepting" } else { "Declining" },
                    error,
                },
            }
        });
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
                let (words, up) = status_words(&s.status);
                let is_active = app.active.as_deref() == Some(s.name());
                let unread: u64 = s.contacts.iter().map(|c| c.unread).sum();
                let requests = s
                    .contacts
                    .iter()
                    .filter(|c| c.state == ContactState::IncomingRequest)
                    .count();
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
        NetworkStatus::Online { published: false } => {
            ui.horizontal(|ui| {
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
            ui.horizontal(|ui| {
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
                if ui.button("Settings").clicked() {
                    s.settings_ui = Some(SettingsUi::new(s.settings.as_ref()));
                }
            });
            if let Some(e) = s.error.clone() {
                ui.horizontal(|ui| {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                    if ui.small_button("Dismiss").clicked() {
                        s.error = None;
                    }
                });
            }
            ui.separator();
            egui::ScrollArea::vertical().show(ui, |ui| {
                let requests: Vec<&ContactView> = s
                    .contacts
                    .iter()
                    .filter(|c| c.state == ContactState::IncomingRequest)
                    .collect();
                if !requests.is_empty() {
                    ui.label(egui::RichText::new("Contact requests").strong());
                    for c in requests {
                        ui.group(|ui| {
                            let who = c.their_name.as_deref().unwrap_or(&c.alias);
                            ui.label(format!("{who} wants to connect"));
                            ui.label(egui::RichText::new(c.address.redacted()).small().weak())
                                .on_hover_text(c.address.to_string());
                            ui.horizontal(|ui| {
                                if ui.button("Accept").clicked() {
                                    actions.accept = Some(c.id);
                                }
                                if ui.button("Decline").clicked() {
                                    actions.decline = Some(c.id);
                                }
                            });
                        });
                    }
                    ui.separator();
                }
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
                    if contact_row(ui, c, s.selected == Some(c.id), now).clicked() {
                        actions.select = Some(c.id);
                    }
                }
            });
        });
}

fn contact_row(
    ui: &mut egui::Ui,
    c: &ContactView,
    selected: bool,
    now: Timestamp,
) -> egui::Response {
    let r = ui
        .scope_builder(egui::UiBuilder::new().sense(egui::Sense::click()), |ui| {
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
                    ui.horizontal(|ui| {
                        let (online_words, color) = if c.online {
                            ("online", green())
                        } else {
                            ("offline", egui::Color32::GRAY)
                        };
                        dot(ui, color, online_words);
                        ui.label(egui::RichText::new(&c.alias).strong());
                        if let Some(n) = &c.their_name
                            && n != &c.alias
                        {
                            ui.label(egui::RichText::new(format!("({n})")).weak());
                        }
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            if c.unread > 0 {
                                egui::Frame::new()
                                    .fill(ui.visuals().selection.bg_fill)
                                    .corner_radius(8.0)
                                    .inner_margin(egui::Margin::symmetric(6, 1))
                                    .show(ui, |ui| {
                                        ui.label(
                                            egui::RichText::new(c.unread.to_string())
                                                .color(ui.visuals().selection.stroke.color)
                                                .small(),
                                        );
                                    });
                            }
                        });
                    });
                    let mut sub = origin_text(c).to_owned();
                    if c.state == ContactState::Outgoing {
                        sub.push_str(" · waiting for them to accept");
                    }
                    ui.label(egui::RichText::new(sub).small().weak());
                    if let Some(m) = &c.last_message {
                        let mut preview: String = m
                            .body
                            .lines()
                            .next()
                            .unwrap_or("")
                            .chars()
                            .take(60)
                            .collect();
                        if m.direction == Direction::Out {
                            preview = format!("You: {preview}");
                        }
                        ui.horizontal(|ui| {
                            ui.add(
                                egui::Label::new(egui::RichText::new(preview).small()).truncate(),
                            );
                            ui.with_layout(
                                egui::Layout::right_to_left(egui::Align::Center),
                                |ui| {
                                    ui.label(
                                        egui::RichText::new(crate::timefmt::short(m.time, now))
                                            .small()
                                            .weak(),
                                    );
                                },
                            );
                        });
                    }
                });
        })
        .response;
    let label = format!(
        "{}, {}, {}{}",
        c.alias,
        if c.online { "online" } else { "offline" },
        origin_text(c),
        if c.unread > 0 {
            format!(", {} unread", c.unread)
        } else {
            String::new()
        }
    );
    r.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &label));
    r
}

fn bubble(ui: &mut egui::Ui, m: &MessageView, now: Timestamp) {
    let out = m.direction == Direction::Out;
    let layout = if out {
        egui::Layout::right_to_left(egui::Align::Min)
    } else {
        egui::Layout::left_to_right(egui::Align::Min)
    };
    let max = (ui.available_width() * 0.72).max(120.0);
    ui.with_layout(layout, |ui| {
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
                    ui.add(egui::Label::new(&m.body).wrap().selectable(true));
                    let meta = format!("{} {}", crate::timefmt::short(m.time, now), state_text(m));
                    ui.label(egui::RichText::new(meta.trim_end()).small().weak());
                });
            });
    });
    ui.add_space(4.0);
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
        ui.heading(&c.alias);
        ui.label(egui::RichText::new(if c.online { "online" } else { "offline" }).weak());
    });
    ui.label(
        egui::RichText::new(format!("{} · {}", origin_text(&c), c.address.redacted()))
            .small()
            .weak(),
    )
    .on_hover_text(c.address.to_string());
    ui.separator();
    let composer_h = 84.0;
    let now = Timestamp::now();
    egui::ScrollArea::vertical()
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .max_height((ui.available_height() - composer_h).max(60.0))
        .show(ui, |ui| {
            if s.chat_for != Some(cid) {
                ui.spinner();
            } else if s.chat.is_empty() {
                ui.label(egui::RichText::new("No messages yet. Say hello.").weak());
            }
            for m in &s.chat {
                bubble(ui, m, now);
            }
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
        let missing: Vec<String> = ctx.fonts_mut(|f| {
            offered
                .into_iter()
                .filter(|e| !f.has_glyphs(&font, e))
                .collect()
        });
        assert!(missing.is_empty(), "no glyph for {missing:?}");
    }
}
