//! Conversation controls: a message's menu (reply, react, edit, delete), the
//! contact menu's disappearing timer, history policy and "Clear history…",
//! their confirm dialogs, and the engine calls behind them (on the backend).

use kith_node::{
    ContactId, ConversationSettings, Direction, DisappearTimer, HistoryPolicy, MessageId,
    MessageKind, MessageView,
};

use crate::app::{KithApp, Session};
use crate::backend::Reply;
use crate::peer_text;

/// The reactions a message's menu offers (in the bundled fonts: see the
/// glyph test in `main_view`).
pub(crate) const REACTIONS: &[&str] = &["👍", "❤", "😂", "😮", "😢", "🙏"];

/// The cancel mark of the "Replying to …" line.
pub(crate) const CANCEL_MARK: &str = "×";

/// What the conversation controls know and were asked.
#[derive(Default)]
pub(crate) struct ConvUi {
    /// The message the composer answers (of the open conversation).
    pub(crate) reply_to: Option<MessageView>,
    /// Our message the composer edits (of the open conversation), with
    /// what the composer held before, given back when the edit is sent or
    /// cancelled.
    pub(crate) editing: Option<Editing>,
    /// The open conversation's settings, once read.
    pub(crate) settings: Option<(ContactId, ConversationSettings)>,
    /// A short note under the conversation ("They removed a message").
    pub(crate) note: Option<String>,
    /// A destructive action waiting for the person to confirm it.
    pub(crate) confirm: Option<Ask>,
    /// Engine calls to make after drawing.
    pub(crate) todo: Vec<Do>,
}

/// An edit being written in the composer.
pub(crate) struct Editing {
    /// The message edited.
    pub(crate) message: MessageView,
    /// The composer's text before the edit began; `None` until the
    /// composer took the message's text (the frame after "Edit").
    pub(crate) draft: Option<String>,
}

impl ConvUi {
    /// Another conversation was opened (or none is).
    pub(crate) fn reset(&mut self) {
        self.reply_to = None;
        self.editing = None;
        self.settings = None;
        self.note = None;
        self.confirm = None;
    }
}

/// A question before a destructive action.
#[derive(Debug, Clone)]
pub(crate) enum Ask {
    /// Delete one of our messages for both sides.
    DeleteForEveryone {
        contact: ContactId,
        id: MessageId,
        /// The contact's name, for the question.
        who: String,
    },
    /// Clear the conversation's history here.
    ClearHistory { contact: ContactId, who: String },
}

/// An engine call asked for.
#[derive(Debug, Clone)]
pub(crate) enum Do {
    /// React with an emoji, or (`None`) withdraw our reaction.
    React {
        contact: ContactId,
        id: MessageId,
        emoji: Option<String>,
    },
    /// Replace the text of one of our messages.
    Edit {
        contact: ContactId,
        id: MessageId,
        text: String,
    },
    DeleteForMe {
        contact: ContactId,
        id: MessageId,
    },
    DeleteForEveryone {
        contact: ContactId,
        id: MessageId,
    },
    ClearHistory {
        contact: ContactId,
    },
    Disappear {
        contact: ContactId,
        timer: DisappearTimer,
    },
    History {
        contact: ContactId,
        history: HistoryPolicy,
    },
}

impl Do {
    fn contact(&self) -> ContactId {
        match self {
            Do::React { contact, .. }
            | Do::Edit { contact, .. }
            | Do::DeleteForMe { contact, .. }
            | Do::DeleteForEveryone { contact, .. }
            | Do::ClearHistory { contact }
            | Do::Disappear { contact, .. }
            | Do::History { contact, .. } => *contact,
        }
    }

    /// What failed, for the error line.
    fn doing(&self) -> &'static str {
        match self {
            Do::React { emoji: Some(_), .. } => "Reacting",
            Do::React { emoji: None, .. } => "Taking back the reaction",
            Do::Edit { .. } => "Editing the message",
            Do::DeleteForMe { .. } => "Deleting the message",
            Do::DeleteForEveryone { .. } => "Deleting the message for everyone",
            Do::ClearHistory { .. } => "Clearing the history",
            Do::Disappear { .. } => "Setting disappearing messages",
            Do::History { .. } => "Setting the history",
        }
    }
}

/// A timer's name in the menu: "Off", "5 minutes", ….
pub(crate) fn timer_name(t: DisappearTimer) -> &'static str {
    match t {
        DisappearTimer::Off => "Off",
        DisappearTimer::FiveMinutes => "5 minutes",
        DisappearTimer::OneHour => "1 hour",
        DisappearTimer::OneDay => "1 day",
        DisappearTimer::SevenDays => "7 days",
        DisappearTimer::ThirtyDays => "30 days",
    }
}

/// The screen-reader name of a message's bubble (its menu opens on a
/// right click): "Message from you: hello".
pub(crate) fn bubble_label(m: &MessageView) -> String {
    let who = if m.direction == Direction::Out {
        "you"
    } else {
        "them"
    };
    if let Some(f) = &m.file {
        let name: String = peer_text::plain(&f.name).chars().take(40).collect();
        return format!("File from {who}: {name}");
    }
    let first: String = peer_text::plain(&m.body)
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(40)
        .collect();
    format!("Message from {who}: {first}")
}

/// Our reaction to `m`, if any.
fn my_reaction(m: &MessageView) -> Option<&str> {
    m.reactions
        .iter()
        .find(|r| r.by == Direction::Out)
        .map(|r| r.emoji.as_str())
}

/// A message's menu (the bubble's context menu).
pub(crate) fn message_menu(ui: &mut egui::Ui, conv: &mut ConvUi, m: &MessageView, who: &str) {
    if !matches!(m.kind, MessageKind::Text) {
        return;
    }
    if ui.button("Reply").clicked() {
        conv.reply_to = Some(m.clone());
        ui.close();
    }
    if m.direction == Direction::Out && ui.button("Edit").clicked() {
        conv.reply_to = None;
        conv.editing = Some(Editing {
            message: m.clone(),
            draft: None,
        });
        ui.close();
    }
    let mine = my_reaction(m).map(str::to_owned);
    ui.horizontal(|ui| {
        for e in REACTIONS {
            let current = mine.as_deref() == Some(*e);
            let hover = if current {
                format!("Take back {e}")
            } else {
                format!("React with {e}")
            };
            let r = ui
                .selectable_label(current, egui::RichText::new(*e).size(18.0))
                .on_hover_text(&hover);
            r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &hover));
            if r.clicked() {
                conv.todo.push(Do::React {
                    contact: m.contact,
                    id: m.id,
                    emoji: (!current).then(|| (*e).to_owned()),
                });
                ui.close();
            }
        }
    });
    ui.separator();
    if ui.button("Delete for me").clicked() {
        conv.todo.push(Do::DeleteForMe {
            contact: m.contact,
            id: m.id,
        });
        ui.close();
    }
    if m.direction == Direction::Out && ui.button("Delete for everyone…").clicked() {
        conv.confirm = Some(Ask::DeleteForEveryone {
            contact: m.contact,
            id: m.id,
            who: who.to_owned(),
        });
        ui.close();
    }
}

/// The contact menu's conversation entries (in the chat header's menu).
pub(crate) fn menu_section(ui: &mut egui::Ui, conv: &mut ConvUi, contact: ContactId, who: &str) {
    ui.separator();
    let settings = conv.settings.filter(|(c, _)| *c == contact).map(|(_, s)| s);
    ui.label(egui::RichText::new("Disappearing messages").strong());
    ui.label(
        egui::RichText::new("Applies to both sides: new messages disappear from both after that.")
            .small()
            .weak(),
    );
    for t in DisappearTimer::ALL {
        let current = settings.map(|s| s.disappear) == Some(t);
        if ui
            .add_enabled(
                settings.is_some(),
                egui::RadioButton::new(current, timer_name(t)),
            )
            .clicked()
            && !current
        {
            conv.todo.push(Do::Disappear { contact, timer: t });
            ui.close();
        }
    }
    ui.separator();
    for (h, words) in [
        (HistoryPolicy::Keep, "Keep history"),
        (
            HistoryPolicy::Session,
            "Delete history when I close the app",
        ),
    ] {
        let current = settings.map(|s| s.history) == Some(h);
        if ui
            .add_enabled(settings.is_some(), egui::RadioButton::new(current, words))
            .clicked()
            && !current
        {
            conv.todo.push(Do::History {
                contact,
                history: h,
            });
            ui.close();
        }
    }
    if ui.button("Clear history…").clicked() {
        conv.confirm = Some(Ask::ClearHistory {
            contact,
            who: who.to_owned(),
        });
        ui.close();
    }
}

/// The "Editing your message" line above the composer, with its cancel
/// mark; puts the message's text in the composer when the edit begins, and
/// the draft back when it is cancelled.
pub(crate) fn editing_line(
    ui: &mut egui::Ui,
    conv: &mut ConvUi,
    composer: &mut String,
    open: ContactId,
) {
    if conv
        .editing
        .as_ref()
        .is_some_and(|e| e.message.contact != open)
    {
        conv.editing = None;
    }
    let Some(e) = &mut conv.editing else {
        return;
    };
    if e.draft.is_none() {
        e.draft = Some(std::mem::replace(composer, e.message.body.clone()));
    }
    let mut cancel = false;
    ui.horizontal(|ui| {
        ui.add(
            egui::Label::new(
                egui::RichText::new(format!(
                    "✏ Editing your message: {}",
                    first_line(&e.message.body)
                ))
                .small()
                .italics(),
            )
            .truncate(),
        );
        let r = ui
            .small_button(CANCEL_MARK)
            .on_hover_text("Cancel the edit");
        r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, "Cancel edit"));
        if r.clicked() {
            cancel = true;
        }
    });
    if cancel && let Some(draft) = conv.editing.take().and_then(|e| e.draft) {
        *composer = draft;
    }
}

/// The edit being written in `open`'s composer is sent: what to edit, and
/// the composer's draft to give back.
pub(crate) fn take_edit(conv: &mut ConvUi, open: ContactId) -> Option<(MessageId, String)> {
    let e = conv.editing.take()?;
    (e.message.contact == open).then(|| (e.message.id, e.draft.unwrap_or_default()))
}

/// The "Replying to …" line above the composer, with its cancel mark.
pub(crate) fn replying_line(ui: &mut egui::Ui, conv: &mut ConvUi, open: ContactId) {
    if conv.reply_to.as_ref().is_some_and(|m| m.contact != open) {
        conv.reply_to = None;
    }
    let Some(m) = &conv.reply_to else {
        return;
    };
    let quote = match m.direction {
        Direction::Out => format!("You: {}", first_line(&m.body)),
        Direction::In => format!("They: {}", first_line(&m.body)),
    };
    let mut cancel = false;
    ui.horizontal(|ui| {
        ui.add(
            egui::Label::new(
                egui::RichText::new(format!("↩ Replying to {quote}"))
                    .small()
                    .italics(),
            )
            .truncate(),
        );
        let r = ui
            .small_button(CANCEL_MARK)
            .on_hover_text("Cancel the reply");
        r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, "Cancel reply"));
        if r.clicked() {
            cancel = true;
        }
    });
    if cancel {
        conv.reply_to = None;
    }
}

fn first_line(body: &str) -> String {
    peer_text::plain(body)
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(80)
        .collect()
}

/// Ask before deleting a message for everyone or clearing the history.
pub(crate) fn confirm_dialog(s: &mut Session, ctx: &egui::Context) {
    let Some(ask) = s.conv.confirm.clone() else {
        return;
    };
    let (title, body, verb, then) = match &ask {
        Ask::DeleteForEveryone { contact, id, who } => (
            "Delete for everyone?".to_owned(),
            format!(
                "The message goes from here now. {who}’s app removes it when it receives \
                 the request (the next time you are both online), and you are told when it did."
            ),
            "Delete for everyone",
            Do::DeleteForEveryone {
                contact: *contact,
                id: *id,
            },
        ),
        Ask::ClearHistory { contact, who } => (
            format!("Clear the history with “{who}”?"),
            "Every message of this conversation is deleted on this computer. The contact \
             stays, and their copy is not touched."
                .to_owned(),
            "Clear history",
            Do::ClearHistory { contact: *contact },
        ),
    };
    let mut done = false;
    let modal = egui::Modal::new(egui::Id::unique(("confirm-conv", s.name()))).show(ctx, |ui| {
        ui.set_max_width(380.0);
        ui.heading(title);
        ui.add(egui::Label::new(body).wrap());
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let red = ui.visuals().error_fg_color;
            if ui.button(egui::RichText::new(verb).color(red)).clicked() {
                s.conv.todo.push(then.clone());
                done = true;
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
    });
    if done || modal.should_close() {
        s.conv.confirm = None;
    }
}

/// Make the engine calls asked for this frame.
pub(crate) fn perform(app: &mut KithApp, active: &str) {
    let Some(s) = app.session_mut(active) else {
        return;
    };
    let todo = std::mem::take(&mut s.conv.todo);
    let p = s.profile.clone();
    for d in todo {
        let p = p.clone();
        let profile = active.to_owned();
        app.backend.spawn(async move {
            let contact = d.contact();
            let what = d.doing();
            let result = match d {
                Do::React { id, emoji, .. } => p.react(contact, id, emoji.as_deref()).await,
                Do::Edit { id, text, .. } => p.edit_message(contact, id, &text).await.map(|_| ()),
                Do::DeleteForMe { id, .. } => p.delete_message(contact, id).await.map(|_| ()),
                Do::DeleteForEveryone { id, .. } => {
                    p.delete_for_everyone(contact, id).await.map(|_| ())
                }
                Do::ClearHistory { .. } => p.clear_history(contact).await.map(|_| ()),
                Do::Disappear { timer, .. } => p.set_disappear(contact, timer).await.map(|_| ()),
                Do::History { history, .. } => p.set_history(contact, history).await,
            };
            Reply::ConvDone {
                profile,
                contact,
                what,
                result,
            }
        });
    }
}
