//! Introductions in the app: a card for each introduction offered to us
//! (beside contact requests: "Carol wants to introduce you to Bo — note",
//! Accept / Decline), and the "Introduce…" dialog opened from a contact's
//! menu. The node does the protocol (`kith_node::Profile::introduce`); this
//! only shows and asks.

use kith_node::{ContactId, ContactState, IntroductionId, IntroductionView, OfferState};

use crate::app::{KithApp, Session};
use crate::backend::Reply;
use crate::peer_text;

/// Longest note, in bytes (the node refuses longer).
const MAX_NOTE: usize = 512;

/// A profile's introductions, as the app holds them.
#[derive(Default)]
pub(crate) struct IntroUi {
    /// Introductions offered to us and made by us, as last read.
    pub(crate) list: Vec<IntroductionView>,
    /// The "Introduce…" dialog, when open.
    pub(crate) dialog: Option<IntroduceDialog>,
    /// What the person asked for this frame, done after drawing.
    asked: Vec<Ask>,
}

/// The "Introduce…" dialog.
pub(crate) struct IntroduceDialog {
    /// The contact whose menu opened it.
    pub(crate) first: ContactId,
    /// The contact to introduce them to.
    pub(crate) second: Option<ContactId>,
    /// The note for both.
    pub(crate) note: String,
}

/// Something asked on a card or in the dialog.
enum Ask {
    Answer(IntroductionId, bool),
    Introduce(ContactId, ContactId, String),
}

impl IntroUi {
    /// Open the "Introduce…" dialog for `first`.
    pub(crate) fn open(&mut self, first: ContactId) {
        self.dialog = Some(IntroduceDialog {
            first,
            second: None,
            note: String::new(),
        });
    }
}

/// "Carol wants to introduce you to Bo".
pub(crate) fn offer_text(by: &str, name: &str) -> String {
    format!(
        "{} wants to introduce you to {}",
        peer_text::name(by),
        peer_text::name(name)
    )
}

/// A card per introduction offered to us that waits for an answer or did
/// not happen, in the contacts panel beside the contact requests.
pub(crate) fn cards(ui: &mut egui::Ui, intro: &mut IntroUi) {
    let shown: Vec<&IntroductionView> = intro
        .list
        .iter()
        .filter(|v| {
            matches!(v, IntroductionView::Offered { state, .. }
                if matches!(state, OfferState::Waiting | OfferState::Accepted | OfferState::DidNotHappen))
        })
        .collect();
    if shown.is_empty() {
        return;
    }
    ui.label(egui::RichText::new("Introductions").strong());
    let mut asked = vec![];
    for v in shown {
        let IntroductionView::Offered {
            id,
            by_alias,
            name,
            note,
            state,
            ..
        } = v
        else {
            continue;
        };
        ui.group(|ui| {
            ui.set_width(ui.available_width());
            ui.add(egui::Label::new(offer_text(by_alias, name)).wrap())
                .on_hover_text(
                    "The name is the one your contact knows them by. You become \
                     contacts only if you both accept; until then neither of you \
                     learns the other's address.",
                );
            if !note.is_empty() {
                ui.add(
                    egui::Label::new(
                        egui::RichText::new(format!("“{}”", peer_text::plain(note))).italics(),
                    )
                    .wrap(),
                );
            }
            match state {
                OfferState::Waiting => {
                    ui.horizontal_wrapped(|ui| {
                        if ui.button("Accept").clicked() {
                            asked.push(Ask::Answer(*id, true));
                        }
                        if ui
                            .button("Decline")
                            .on_hover_text("The other person learns only that it did not happen")
                            .clicked()
                        {
                            asked.push(Ask::Answer(*id, false));
                        }
                    });
                }
                OfferState::Accepted => {
                    ui.label(egui::RichText::new("You accepted; waiting for them").weak());
                }
                OfferState::DidNotHappen | OfferState::Declined => {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(egui::RichText::new("It did not happen").weak());
                        // Answering an introduction that did not happen dismisses it.
                        if ui.small_button("Dismiss").clicked() {
                            asked.push(Ask::Answer(*id, true));
                        }
                    });
                }
            }
        });
    }
    ui.separator();
    intro.asked.extend(asked);
}

/// The "Introduce…" dialog: whom to introduce the contact to, and a note.
pub(crate) fn dialog(s: &mut Session, ctx: &egui::Context) {
    let Some(d) = s.intro.dialog.as_mut() else {
        return;
    };
    let Some(first) = s.contacts.iter().find(|c| c.id == d.first).cloned() else {
        s.intro.dialog = None;
        return;
    };
    let others: Vec<(ContactId, String)> = s
        .contacts
        .iter()
        .filter(|c| c.state == ContactState::Accepted && c.id != first.id)
        .map(|c| (c.id, peer_text::name(&c.alias).into_owned()))
        .collect();
    let who = peer_text::name(&first.alias).into_owned();
    let mut close = false;
    let mut ask = None;
    let modal =
        egui::Modal::new(egui::Id::unique(("introduce", s.profile.name()))).show(ctx, |ui| {
            ui.set_max_width(420.0);
            ui.heading(format!("Introduce “{who}” to…"));
            ui.add(
                egui::Label::new(
                    "Each of them is asked. If both accept, they become contacts, \
                     marked as introduced by you; if one declines, the other learns \
                     only that it did not happen.",
                )
                .wrap(),
            );
            ui.add_space(6.0);
            if others.is_empty() {
                ui.label("You have no other contact to introduce them to.");
            }
            for (id, name) in &others {
                ui.radio_value(&mut d.second, Some(*id), name.as_str());
            }
            ui.add_space(6.0);
            ui.label("A note for both (optional):");
            ui.add(
                egui::TextEdit::multiline(&mut d.note)
                    .desired_rows(2)
                    .char_limit(MAX_NOTE)
                    .hint_text("Why you think they should meet"),
            );
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                let ready = d.second.is_some() && d.note.len() <= MAX_NOTE;
                if ui
                    .add_enabled(ready, egui::Button::new("Introduce"))
                    .clicked()
                    && let Some(second) = d.second
                {
                    ask = Some(Ask::Introduce(d.first, second, d.note.clone()));
                    close = true;
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
    if let Some(a) = ask {
        s.intro.asked.push(a);
    }
    if close || modal.should_close() {
        s.intro.dialog = None;
    }
}

/// Carry out what was asked this frame.
pub(crate) fn perform(app: &mut KithApp, active: &str) {
    let Some(s) = app.session_mut(active) else {
        return;
    };
    let asked = std::mem::take(&mut s.intro.asked);
    let p = s.profile.clone();
    for a in asked {
        let p = p.clone();
        let name = active.to_owned();
        app.backend.spawn(async move {
            let (what, r) = match a {
                Ask::Answer(id, accept) => (
                    "Answering the introduction",
                    p.answer_introduction(id, accept).await,
                ),
                Ask::Introduce(x, y, note) => {
                    ("Introducing", p.introduce(x, y, &note).await.map(|_| ()))
                }
            };
            match r {
                Ok(()) => Reply::Event {
                    profile: name,
                    event: kith_node::Event::ContactsChanged,
                },
                Err(error) => Reply::Failed {
                    profile: name,
                    what,
                    error,
                },
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_in_words_show_peer_text_inert() {
        assert_eq!(
            offer_text("carol", "Bo"),
            "carol wants to introduce you to Bo"
        );
        assert!(!offer_text("carol", "B\u{202E}o").contains('\u{202E}'));
    }
}
