//! "Meet in person": show my code as a QR code, scan (or paste) theirs, and
//! the node confirms that both devices scanned each other's codes
//! (`kith_node::Profile::meet_start` / `meet_finish`). The contact is then
//! accepted on both sides at once, met in person, verified.
//!
//! Results come back on channels the dialog owns, polled once per frame
//! with `try_recv`: the UI never waits.

use std::path::PathBuf;

use kith_node::{ContactView, Error, MeetCode};
use tokio::sync::oneshot;

use crate::app::KithApp;
use crate::backend::read_small_file;
use crate::qr::{self, ScanError};
use crate::screens::field;

/// The "Meet in person" dialog of one profile.
#[derive(Default)]
pub(crate) struct MeetDialog {
    /// My code for this meeting, once the node made it.
    code: Option<MeetCode>,
    qr: Option<egui::TextureHandle>,
    pub(crate) their_code: String,
    pub(crate) alias: String,
    pub(crate) image_path: String,
    pub(crate) error: Option<String>,
    pub(crate) info: Option<String>,
    /// The meeting ended well: whom we met.
    pub(crate) met: Option<String>,
    starting: Option<oneshot::Receiver<Result<MeetCode, Error>>>,
    meeting: Option<oneshot::Receiver<Result<ContactView, Error>>>,
    scanning: Option<oneshot::Receiver<Result<String, ScanError>>>,
    /// The meeting could not start (offline): nothing to show.
    start_failed: bool,
}

impl MeetDialog {
    /// My code's text, once shown.
    pub(crate) fn code_text(&self) -> Option<String> {
        self.code.as_ref().map(ToString::to_string)
    }

    fn busy(&self) -> bool {
        self.meeting.is_some()
    }

    /// Take what finished off the UI thread.
    fn poll(&mut self) {
        if let Some(rx) = self.starting.as_mut()
            && let Ok(r) = rx.try_recv()
        {
            self.starting = None;
            match r {
                Ok(c) => self.code = Some(c),
                Err(e) => {
                    self.start_failed = true;
                    self.error = Some(format!("Cannot start a meeting: {e}."));
                }
            }
        }
        if let Some(rx) = self.scanning.as_mut()
            && let Ok(r) = rx.try_recv()
        {
            self.scanning = None;
            match r {
                Ok(text) => {
                    self.their_code = text;
                    self.error = None;
                    self.info = Some("Read their code. Give them a name, then Meet.".into());
                }
                Err(e) => {
                    self.info = None;
                    self.error = Some(e.to_string());
                }
            }
        }
        if let Some(rx) = self.meeting.as_mut()
            && let Ok(r) = rx.try_recv()
        {
            self.meeting = None;
            match r {
                Ok(c) => {
                    self.error = None;
                    self.info = None;
                    self.met = Some(c.alias);
                }
                Err(e) => {
                    self.info = None;
                    self.error = Some(format!(
                        "The meeting failed, nothing was added: {e}. Show and scan new codes to try again."
                    ));
                    // The node ended this meeting; the next try needs a new code.
                    self.code = None;
                    self.qr = None;
                }
            }
        }
    }
}

/// A QR code's text as a meet code.
fn parse_meet(text: &str) -> Result<String, ScanError> {
    MeetCode::parse(text)
        .map(|c| c.to_string())
        .map_err(|e| ScanError::NotAMeetCode(e.to_string()))
}

/// Check the form: the code text, or what is wrong (before asking the node,
/// which checks everything again).
pub(crate) fn validate(code: &str, alias: &str) -> Result<(), String> {
    if code.trim().is_empty() {
        return Err("Scan or paste the other device's code (it starts with kith-meet:).".into());
    }
    MeetCode::parse(code).map_err(|e| format!("This is not a usable meet code: {e}."))?;
    if alias.trim().is_empty() {
        return Err("Give this contact a name, as you want to see it.".into());
    }
    if alias.len() > kith_node::MAX_ALIAS || alias.chars().any(char::is_control) {
        return Err(format!(
            "A name has at most {} bytes and no control characters.",
            kith_node::MAX_ALIAS
        ));
    }
    Ok(())
}

/// What the person asked for in this frame.
#[derive(Default)]
struct Asked {
    close: bool,
    meet: bool,
    scan_file: Option<PathBuf>,
    scan_clipboard: bool,
    scan_camera: bool,
}

/// The dialog, when open.
pub(crate) fn dialog(app: &mut KithApp, ctx: &egui::Context, active: &str) {
    let Some(s) = app.sessions.iter_mut().find(|s| s.name() == active) else {
        return;
    };
    let Some(d) = s.meet.as_mut() else {
        return;
    };
    d.poll();
    // Start a meeting (a fresh code) when none is shown or coming.
    if d.code.is_none() && d.starting.is_none() && d.met.is_none() && !d.start_failed {
        let (tx, rx) = oneshot::channel();
        d.starting = Some(rx);
        let p = s.profile.clone();
        app.backend.run(async move {
            let _ = tx.send(p.meet_start().await);
        });
    }
    if let Some(code) = &d.code
        && d.qr.is_none()
    {
        d.qr = Some(ctx.load_texture(
            "my-meet-qr",
            qr::render_egui_payload(&code.qr_payload()),
            egui::TextureOptions::NEAREST,
        ));
    }
    let mut asked = Asked::default();
    let modal = egui::Modal::new(egui::Id::unique(("meet", active))).show(ctx, |ui| {
        ui.set_max_width(660.0);
        ui.heading("Meet in person");
        ui.label(
            "Show your code to the person you are with and scan theirs. Kith then checks, \
             over Tor, that each of you scanned the other's code: the contact is added on \
             both sides at once, and marked met in person and verified.",
        );
        ui.add_space(6.0);
        if let Some(who) = &d.met {
            ui.label(
                egui::RichText::new(format!(
                    "You met {} in person: added and verified.",
                    crate::peer_text::name(who)
                ))
                .strong(),
            );
        } else {
            ui.columns(2, |cols| {
                my_code(d, &mut cols[0]);
                their_code(d, &mut cols[1], &mut asked);
            });
        }
        ui.add_space(6.0);
        if let Some(e) = &d.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Some(i) = &d.info {
            ui.label(i);
        }
        if d.busy() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Waiting for the other device (both must be online, up to 10 minutes)…");
            });
        }
        ui.separator();
        let close = if d.busy() { "Cancel" } else { "Close" };
        if ui.button(close).clicked() {
            asked.close = true;
        }
    });
    if modal.should_close() {
        asked.close = true;
    }
    if asked.close {
        if d.met.is_none() {
            // An open meeting ends with its dialog.
            s.profile.meet_cancel();
        }
        s.meet = None;
        return;
    }
    if let Some(path) = asked.scan_file {
        d.error = None;
        d.info = None;
        d.scanning = Some(scan(&app.backend, move || {
            let bytes =
                read_small_file(&path, qr::MAX_IMAGE_FILE).map_err(ScanError::NotAnImage)?;
            qr::decode_image_bytes_with(&bytes, parse_meet)
        }));
    } else if asked.scan_clipboard {
        d.error = None;
        d.scanning = Some(scan(&app.backend, scan_clipboard));
    } else if asked.scan_camera {
        d.error = None;
        d.scanning = Some(scan(&app.backend, || crate::camera::scan_with(parse_meet)));
    } else if asked.meet {
        match validate(&d.their_code, &d.alias) {
            Err(e) => {
                d.error = Some(e);
                d.info = None;
            }
            Ok(()) => {
                d.error = None;
                let (tx, rx) = oneshot::channel();
                d.meeting = Some(rx);
                let (code, alias) = (d.their_code.trim().to_owned(), d.alias.trim().to_owned());
                let p = s.profile.clone();
                app.backend.run(async move {
                    let _ = tx.send(p.meet_finish(&code, &alias, None).await);
                });
            }
        }
    }
}

/// Run a blocking scan; its result on the returned channel.
fn scan(
    backend: &crate::backend::Backend,
    f: impl FnOnce() -> Result<String, ScanError> + Send + 'static,
) -> oneshot::Receiver<Result<String, ScanError>> {
    let (tx, rx) = oneshot::channel();
    backend.run(async move {
        let r = tokio::task::spawn_blocking(f)
            .await
            .unwrap_or(Err(ScanError::NoQrCode));
        let _ = tx.send(r);
    });
    rx
}

/// Read a meet code from the clipboard's picture.
fn scan_clipboard() -> Result<String, ScanError> {
    let mut cb = arboard::Clipboard::new()
        .map_err(|e| ScanError::NotAnImage(format!("no clipboard: {e}")))?;
    let img = cb
        .get_image()
        .map_err(|_| ScanError::NotAnImage("the clipboard holds no picture".into()))?;
    let (w, h) = (
        u32::try_from(img.width).unwrap_or(0),
        u32::try_from(img.height).unwrap_or(0),
    );
    qr::decode_rgba_with(w, h, img.bytes.into_owned(), parse_meet)
}

/// The left column: my QR code and code text.
fn my_code(d: &mut MeetDialog, ui: &mut egui::Ui) {
    ui.label(egui::RichText::new("My code").strong());
    let Some(code) = &d.code else {
        if d.starting.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Making a new code…");
            });
        }
        return;
    };
    ui.label("Let them scan it. It is good for this meeting only.");
    if let Some(tex) = &d.qr {
        ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(200.0, 200.0)))
            .widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::Image, true, "Your meet QR code")
            });
    }
    let text = code.to_string();
    ui.add(egui::Label::new(egui::RichText::new(&text).monospace().small()).wrap())
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, "Your meet code"));
    if ui.button("Copy code").clicked() {
        ui.ctx().copy_text(text);
        d.info = Some("Your code is on the clipboard.".into());
        d.error = None;
    }
}

/// The right column: their code, by scan or paste, and a name.
fn their_code(d: &mut MeetDialog, ui: &mut egui::Ui, asked: &mut Asked) {
    ui.label(egui::RichText::new("Their code").strong());
    let idle = !d.busy() && d.code.is_some();
    ui.add_enabled_ui(idle, |ui| {
        let l = ui.label("Paste their code");
        ui.add(
            egui::TextEdit::multiline(&mut d.their_code)
                .hint_text("kith-meet:…")
                .desired_rows(2)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(l.id);
        field(
            ui,
            "Name for this contact",
            &mut d.alias,
            false,
            "e.g. Alex",
        );
        ui.add_space(4.0);
        if ui.button("Meet").clicked() {
            asked.meet = true;
        }
        ui.add_space(10.0);
        ui.label(egui::RichText::new("Scan their QR code").strong());
        ui.add_enabled_ui(d.scanning.is_none(), |ui| {
            if cfg!(feature = "camera") {
                if ui.button("Scan with camera").clicked() {
                    asked.scan_camera = true;
                }
            } else {
                ui.label(
                    egui::RichText::new("This build has no camera support; use a picture.")
                        .small()
                        .weak(),
                );
            }
            if ui.button("Scan clipboard picture").clicked() {
                asked.scan_clipboard = true;
            }
            let l = ui.label("Picture of their code");
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut d.image_path)
                        .hint_text("/path/to/qr.png")
                        .desired_width(ui.available_width() - 60.0),
                )
                .labelled_by(l.id);
                if ui.button("Scan picture").clicked() && !d.image_path.trim().is_empty() {
                    asked.scan_file = Some(PathBuf::from(d.image_path.trim()));
                }
            });
        });
        if d.scanning.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Looking for a QR code…");
            });
        }
    });
}

impl KithApp {
    /// The code the active profile's "Meet in person" dialog shows (for tests).
    pub fn active_meet_code(&self) -> Option<String> {
        self.active_session()
            .and_then(|s| s.meet.as_ref())
            .and_then(MeetDialog::code_text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_names_what_is_wrong() {
        assert!(
            validate("", "Alex")
                .unwrap_err()
                .contains("starts with kith-meet:")
        );
        assert!(
            validate("kith://abc", "Alex")
                .unwrap_err()
                .contains("not a meet code")
        );
        let code = "kith-meet:agats5yovb6rox2wunkgnq2mp3gmxdmksg2o4n5clx3a6w4pzgzzj5lblu5lazjwerobt3uufwvqqsaaq3clovq";
        assert!(
            validate(code, " ")
                .unwrap_err()
                .contains("Give this contact a name")
        );
        assert!(
            validate(&code.replace("agats", "agatt"), "Alex")
                .unwrap_err()
                .contains("damaged")
        );
        assert_eq!(validate(code, "Alex"), Ok(()));
    }

    #[test]
    fn a_meet_qr_code_reads_back_and_a_link_is_refused() {
        let code = "KITH-MEET:AGATS5YOVB6ROX2WUNKGNQ2MP3GMXDMKSG2O4N5CLX3A6W4PZGZZJ5LBLU5LAZJWEROBT3UUFWVQQSAAQ3CLOVQ";
        let (side, m) = qr::payload_modules(code);
        let img = image::GrayImage::from_fn(side as u32 * 4, side as u32 * 4, |x, y| {
            let dark = m[(y / 4) as usize * side + (x / 4) as usize];
            image::Luma([if dark { 0 } else { 255 }])
        });
        let text = qr::decode_luma_with(&img, parse_meet).expect("read");
        assert_eq!(text, code.to_ascii_lowercase());
        // A contact link's QR code is not a meet code.
        let link = "kith://pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd";
        let (side, m) = qr::payload_modules(link);
        let img = image::GrayImage::from_fn(side as u32 * 4, side as u32 * 4, |x, y| {
            let dark = m[(y / 4) as usize * side + (x / 4) as usize];
            image::Luma([if dark { 0 } else { 255 }])
        });
        assert!(matches!(
            qr::decode_luma_with(&img, parse_meet),
            Err(ScanError::NotAMeetCode(_))
        ));
    }
}
