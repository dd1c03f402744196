//! Full-window screens: first start (create a profile) and unlock.

use kith_node::{ErrorKind, Password};

use crate::app::{KithApp, Screen};
use crate::backend::Reply;
use crate::strength;

/// What Kith is, in two sentences, for the first start.
pub(crate) const INTRO: &str = "Kith is a messenger that needs no phone number, no e-mail and no server: \
your profile is a key made on this computer, and your address is a Tor onion service. \
Every message goes end-to-end encrypted over Tor, straight to the people you add.";

/// The plain warning about lost passwords.
pub(crate) const LOST_PASSWORD: &str = "There is no password reset. If you forget this password, \
the profile, its contacts and its messages are lost for good.";

/// The create-profile form.
#[derive(Default)]
pub(crate) struct CreateForm {
    pub(crate) display_name: String,
    pub(crate) password: String,
    pub(crate) password2: String,
    pub(crate) busy: bool,
    pub(crate) error: Option<String>,
}

/// The unlock form.
#[derive(Default)]
pub(crate) struct UnlockForm {
    pub(crate) selected: Option<String>,
    pub(crate) password: String,
    pub(crate) busy: bool,
    pub(crate) error: Option<String>,
}

/// A node error in words for the person at the keyboard.
pub(crate) fn explain(e: &kith_node::Error) -> String {
    match e.kind() {
        ErrorKind::WrongPassword => "Wrong password.".to_owned(),
        ErrorKind::AlreadyExists => format!("Already there: {e}."),
        ErrorKind::NotFound => format!("Not found: {e}."),
        _ => {
            let s = e.to_string();
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => "Something went wrong.".to_owned(),
            }
        }
    }
}

/// A directory-safe profile name from a display name, not yet on disk.
pub(crate) fn profile_name_for(display: &str, taken: &[String]) -> String {
    let mut base: String = display
        .trim()
        .chars()
        .filter_map(|c| {
            if c.is_ascii_alphanumeric() {
                Some(c.to_ascii_lowercase())
            } else if c == ' ' || c == '-' || c == '_' {
                Some('-')
            } else {
                None
            }
        })
        .collect();
    base = base.trim_matches('-').to_owned();
    base.truncate(24);
    if base.is_empty() {
        base = "profile".to_owned();
    }
    let mut name = base.clone();
    let mut n = 2;
    while taken.iter().any(|t| t == &name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// Check the create form; the error to show, if any.
pub(crate) fn validate_create(f: &CreateForm) -> Result<(), String> {
    let name = f.display_name.trim();
    if name.is_empty() {
        return Err("Choose a name that your contacts will see.".into());
    }
    if name.len() > 64 || name.chars().any(char::is_control) {
        return Err("That name is too long or has control characters.".into());
    }
    if f.password.is_empty() {
        return Err("Choose a password.".into());
    }
    if f.password != f.password2 {
        return Err("The two passwords are not the same.".into());
    }
    if f.password.chars().count() < 8 {
        return Err("Use at least 8 characters (a few words are easiest).".into());
    }
    Ok(())
}

/// A labelled single-line text field; returns its response.
pub(crate) fn field(
    ui: &mut egui::Ui,
    label: &str,
    text: &mut String,
    password: bool,
    hint: &str,
) -> egui::Response {
    let l = ui.label(label);
    ui.add(
        egui::TextEdit::singleline(text)
            .password(password)
            .hint_text(hint)
            .desired_width(f32::INFINITY),
    )
    .labelled_by(l.id)
}

/// The strength bar and hint under a new password.
pub(crate) fn strength_hint(ui: &mut egui::Ui, pw: &str) {
    let s = strength::estimate(pw);
    let color = match s {
        strength::Strength::Empty | strength::Strength::Weak => ui.visuals().error_fg_color,
        strength::Strength::Fair => ui.visuals().warn_fg_color,
        strength::Strength::Strong => egui::Color32::from_rgb(0x2e, 0xa0, 0x43),
    };
    ui.add(
        egui::ProgressBar::new(s.fraction())
            .desired_height(6.0)
            .fill(color),
    )
    .on_hover_text("Password strength");
    ui.label(egui::RichText::new(s.hint()).small());
}

fn centered_column(ui: &mut egui::Ui, add: impl FnOnce(&mut egui::Ui)) {
    egui::CentralPanel::default().show(ui, |ui| {
        egui::ScrollArea::vertical().show(ui, |ui| {
            let w = ui.available_width().min(460.0);
            let margin = ((ui.available_width() - w) / 2.0).max(0.0);
            ui.horizontal(|ui| {
                ui.add_space(margin);
                ui.vertical(|ui| {
                    ui.set_width(w);
                    ui.add_space(24.0);
                    add(ui);
                });
            });
        });
    });
}

/// First start, or "new profile".
pub(crate) fn create(app: &mut KithApp, ui: &mut egui::Ui) {
    let first = app.first_start;
    let can_go_back =
        !app.sessions.is_empty() || app.disk_profiles.as_ref().is_some_and(|d| !d.is_empty());
    let taken = app.disk_profiles.clone().unwrap_or_default();
    let mut submit = false;
    let mut back = false;
    centered_column(ui, |ui| {
        if first {
            ui.heading("Welcome to Kith");
            ui.add_space(8.0);
            ui.label(INTRO);
            ui.add_space(16.0);
        }
        ui.heading("Create your profile");
        ui.add_space(8.0);
        let f = &mut app.create;
        ui.add_enabled_ui(!f.busy, |ui| {
            let r = field(
                ui,
                "Your name (contacts see it)",
                &mut f.display_name,
                false,
                "e.g. Sam",
            );
            if first && f.display_name.is_empty() && f.password.is_empty() {
                r.request_focus();
            }
            ui.add_space(6.0);
            field(ui, "Password", &mut f.password, true, "a long phrase");
            strength_hint(ui, &f.password);
            ui.add_space(6.0);
            let r2 = field(ui, "Password again", &mut f.password2, true, "");
            if r2.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                submit = true;
            }
            if !f.password2.is_empty() && f.password != f.password2 {
                ui.colored_label(ui.visuals().warn_fg_color, "The passwords differ.");
            }
            ui.add_space(8.0);
            ui.colored_label(ui.visuals().warn_fg_color, LOST_PASSWORD);
            ui.add_space(8.0);
            if !f.display_name.trim().is_empty() {
                ui.label(
                    egui::RichText::new(format!(
                        "Listed on this computer as “{}”.",
                        profile_name_for(&f.display_name, &taken)
                    ))
                    .small()
                    .weak(),
                );
            }
            ui.horizontal(|ui| {
                if ui.button("Create profile").clicked() {
                    submit = true;
                }
                if can_go_back && ui.button("Back").clicked() {
                    back = true;
                }
            });
        });
        if f.busy {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Creating your keys…");
            });
        }
        if let Some(e) = &f.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    });
    if back {
        app.screen = if app.sessions.is_empty() {
            Screen::Unlock
        } else {
            Screen::Main
        };
    }
    if submit && !app.create.busy {
        match validate_create(&app.create) {
            Err(e) => app.create.error = Some(e),
            Ok(()) => {
                let f = &mut app.create;
                f.error = None;
                f.busy = true;
                let name = profile_name_for(&f.display_name, &taken);
                let display = f.display_name.trim().to_owned();
                let pw = Password::new(std::mem::take(&mut f.password));
                f.password2.clear();
                let kith = app.backend.kith().clone();
                app.backend.spawn(async move {
                    Reply::Created(kith.create_profile(&name, &display, pw).await)
                });
            }
        }
    }
}

/// Later starts: pick a profile, type its password.
pub(crate) fn unlock(app: &mut KithApp, ui: &mut egui::Ui) {
    let profiles = app.disk_profiles.clone().unwrap_or_default();
    let unlocked: Vec<String> = app.sessions.iter().map(|s| s.name().to_owned()).collect();
    let mut submit = false;
    let mut new_profile = false;
    let mut back = false;
    centered_column(ui, |ui| {
        ui.heading("Unlock a profile");
        ui.add_space(4.0);
        ui.label("Several profiles can be open at once; each has its own address and contacts.");
        ui.add_space(8.0);
        let f = &mut app.unlock;
        if profiles.is_empty() {
            ui.label("There is no profile in this data folder yet.");
        }
        ui.add_enabled_ui(!f.busy, |ui| {
            for p in &profiles {
                let open = unlocked.contains(p);
                let text = if open {
                    format!("{p} (unlocked)")
                } else {
                    p.clone()
                };
                ui.add_enabled_ui(!open, |ui| {
                    if ui
                        .radio(f.selected.as_deref() == Some(p.as_str()), text)
                        .clicked()
                    {
                        f.selected = Some(p.clone());
                        f.error = None;
                    }
                });
            }
            if f.selected.is_some() {
                ui.add_space(6.0);
                let r = field(ui, "Password", &mut f.password, true, "");
                if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    submit = true;
                }
                ui.add_space(6.0);
                if ui.button("Unlock").clicked() {
                    submit = true;
                }
            }
        });
        if f.busy {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Checking the password…");
            });
        }
        if let Some(e) = &f.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        ui.add_space(16.0);
        ui.separator();
        ui.horizontal(|ui| {
            if ui.button("Create a new profile").clicked() {
                new_profile = true;
            }
            if !unlocked.is_empty() && ui.button("Back to chats").clicked() {
                back = true;
            }
        });
    });
    if new_profile {
        app.create = Default::default();
        app.screen = Screen::Create;
    }
    if back {
        app.screen = Screen::Main;
    }
    if submit && !app.unlock.busy {
        let f = &mut app.unlock;
        if let Some(name) = f.selected.clone() {
            if f.password.is_empty() {
                f.error = Some("Type the profile's password.".into());
                return;
            }
            f.error = None;
            f.busy = true;
            let pw = Password::new(std::mem::take(&mut f.password));
            let kith = app.backend.kith().clone();
            app.backend.spawn(async move {
                let result = kith.unlock(&name, pw).await;
                Reply::Unlocked { name, result }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names() {
        assert_eq!(profile_name_for("Sam Doe", &[]), "sam-doe");
        assert_eq!(profile_name_for("  ", &[]), "profile");
        assert_eq!(profile_name_for("Ærø", &[]), "r");
        assert_eq!(profile_name_for("sam", &["sam".into()]), "sam-2");
        assert!(kith_node::validate_profile_name(&profile_name_for(&"x".repeat(100), &[])).is_ok());
    }

    #[test]
    fn create_validation() {
        let mut f = CreateForm {
            display_name: "Sam".into(),
            password: "correct horse".into(),
            password2: "correct horsf".into(),
            ..Default::default()
        };
        assert!(validate_create(&f).unwrap_err().contains("not the same"));
        f.password2 = f.password.clone();
        assert!(validate_create(&f).is_ok());
        f.display_name = " ".into();
        assert!(validate_create(&f).is_err());
    }
}
