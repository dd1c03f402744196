//! Dialogs: add a contact, and a profile's settings.

use std::net::SocketAddr;
use std::path::PathBuf;

use kith_core::ContactLink;
use kith_node::{BridgeLine, Network, Password, Profile, Requests, Settings, Timestamp};

use crate::app::KithApp;
use crate::backend::{Reply, read_small_file};
use crate::qr::{self, ScanError};
use crate::screens::{field, strength_hint};

/// The add-contact dialog of one profile.
#[derive(Default)]
pub(crate) struct AddContactDialog {
    pub(crate) link_text: String,
    pub(crate) alias: String,
    pub(crate) image_path: String,
    pub(crate) error: Option<String>,
    pub(crate) info: Option<String>,
    pub(crate) busy: bool,
    pub(crate) scanning: bool,
    qr: Option<(String, egui::TextureHandle)>,
}

impl AddContactDialog {
    /// A scan ended: fill the link field or say why not.
    pub(crate) fn scanned(&mut self, r: Result<String, ScanError>) {
        self.scanning = false;
        match r {
            Ok(link) => {
                self.link_text = link;
                self.error = None;
                self.info = Some(
                    "Read a Kith link from the QR code. Give the contact a name and add it.".into(),
                );
            }
            Err(e) => {
                self.info = None;
                self.error = Some(e.to_string());
            }
        }
    }
}

/// Check the paste-a-link form: the parsed link, or what is wrong.
pub(crate) fn validate_link(link: &str, alias: &str) -> Result<ContactLink, String> {
    if link.trim().is_empty() {
        return Err("Paste the link your contact gave you (it starts with kith://).".into());
    }
    let l = ContactLink::parse(link).map_err(|e| format!("This is not a valid Kith link: {e}."))?;
    validate_alias(alias)?;
    Ok(l)
}

/// Check a name given to a contact (as the node takes it): what is wrong, if anything.
pub(crate) fn validate_alias(alias: &str) -> Result<(), String> {
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

/// Read a QR code from an image file, off the UI thread.
fn scan_file(path: PathBuf) -> Result<String, ScanError> {
    let bytes = read_small_file(&path, qr::MAX_IMAGE_FILE).map_err(ScanError::NotAnImage)?;
    qr::decode_image_bytes(&bytes).map(|l| l.to_string())
}

/// Read a QR code from the clipboard's image, off the UI thread.
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
    qr::decode_rgba(w, h, img.bytes.into_owned()).map(|l| l.to_string())
}

/// The add-contact dialog, when open.
pub(crate) fn add_contact(app: &mut KithApp, ctx: &egui::Context, active: &str) {
    let Some(s) = app.sessions.iter_mut().find(|s| s.name() == active) else {
        return;
    };
    let Some(d) = s.add.as_mut() else {
        return;
    };
    let my_link = s.profile.link();
    let my_link_text = my_link.to_string();
    if d.qr.as_ref().is_none_or(|(l, _)| l != &my_link_text) {
        let tex = ctx.load_texture(
            "my-qr",
            qr::render_egui(&my_link),
            egui::TextureOptions::NEAREST,
        );
        d.qr = Some((my_link_text.clone(), tex));
    }
    // Files dropped on the window are scanned as QR pictures.
    let dropped: Option<PathBuf> = ctx.input(|i| {
        i.raw
            .dropped_files
            .first()
            .map(|f| f.path().to_path_buf())
            .filter(|p| !p.as_os_str().is_empty())
    });
    let mut close = false;
    let mut submit = false;
    let mut scan: Option<PathBuf> = dropped;
    let mut scan_clip = false;
    let mut scan_camera = false;
    let modal = egui::Modal::new(egui::Id::unique(("add-contact", active))).show(ctx, |ui| {
        ui.set_max_width(640.0);
        ui.heading("Add a contact");
        ui.add_space(6.0);
        ui.columns(2, |cols| {
            let ui = &mut cols[0];
            ui.label(egui::RichText::new("My link and QR code").strong());
            ui.label("Let them scan this code, or send them the link over a channel you trust.");
            if let Some((_, tex)) = &d.qr {
                ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(200.0, 200.0)))
                    .widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Image, true, "Your QR code")
                    });
            }
            ui.add(egui::Label::new(egui::RichText::new(&my_link_text).monospace().small()).wrap())
                .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, "Your link"));
            if ui.button("Copy link").clicked() {
                ui.ctx().copy_text(my_link_text.clone());
                d.info = Some("Your link is on the clipboard.".into());
                d.error = None;
            }
            if my_link.tcp.is_none() && matches!(s.status, kith_node::NetworkStatus::Offline) {
                ui.label(
                    egui::RichText::new(
                        "You are offline; your link still works once you are online.",
                    )
                    .small()
                    .weak(),
                );
            }

            let ui = &mut cols[1];
            ui.label(egui::RichText::new("Their link").strong());
            ui.add_enabled_ui(!d.busy, |ui| {
                let l = ui.label("Paste their link");
                ui.add(
                    egui::TextEdit::multiline(&mut d.link_text)
                        .hint_text("kith://…")
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
                if ui.button("Add this contact").clicked() {
                    submit = true;
                }
                ui.add_space(10.0);
                ui.label(egui::RichText::new("Scan a QR code").strong());
                ui.add_enabled_ui(!d.scanning, |ui| {
                    if cfg!(feature = "camera") {
                        if ui.button("Scan with camera").clicked() {
                            scan_camera = true;
                        }
                    } else {
                        ui.label(
                            egui::RichText::new("This build has no camera support; use a picture.")
                                .small()
                                .weak(),
                        );
                    }
                    if ui.button("Scan clipboard picture").clicked() {
                        scan_clip = true;
                    }
                    let l = ui.label("Picture file (or drop it on the window)");
                    ui.horizontal(|ui| {
                        let r = ui
                            .add(
                                egui::TextEdit::singleline(&mut d.image_path)
                                    .hint_text("/path/to/qr.png")
                                    .desired_width(ui.available_width() - 60.0),
                            )
                            .labelled_by(l.id);
                        let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                        if (ui.button("Scan file").clicked() || enter)
                            && !d.image_path.trim().is_empty()
                        {
                            scan = Some(PathBuf::from(d.image_path.trim()));
                        }
                    });
                });
                if d.scanning {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Looking for a QR code…");
                    });
                }
            });
        });
        ui.add_space(6.0);
        if let Some(e) = &d.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Some(i) = &d.info {
            ui.label(i);
        }
        if d.busy {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Adding…");
            });
        }
        ui.separator();
        if ui.button("Close").clicked() {
            close = true;
        }
    });
    if modal.should_close() {
        close = true;
    }
    let profile = active.to_owned();
    if let Some(path) = scan {
        d.scanning = true;
        d.error = None;
        d.info = None;
        app.backend.spawn_blocking(move || Reply::Scanned {
            profile,
            result: scan_file(path),
        });
    } else if scan_clip {
        d.scanning = true;
        d.error = None;
        app.backend.spawn_blocking(move || Reply::Scanned {
            profile,
            result: scan_clipboard(),
        });
    } else if scan_camera {
        d.scanning = true;
        d.error = None;
        app.backend.spawn_blocking(move || Reply::Scanned {
            profile,
            result: crate::camera::scan(),
        });
    } else if submit {
        match validate_link(&d.link_text, &d.alias) {
            Err(e) => {
                d.error = Some(e);
                d.info = None;
            }
            Ok(link) => {
                d.error = None;
                d.busy = true;
                let alias = d.alias.trim().to_owned();
                let p = s.profile.clone();
                app.backend.spawn(async move {
                    Reply::ContactAdded {
                        profile,
                        result: p.add_contact(&link, &alias).await.map(|c| c.id),
                    }
                });
            }
        }
    }
    if close {
        s.add = None;
    }
}

/// Which network the settings choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NetChoice {
    /// The public Tor network.
    Tor,
    /// A Tor test network described by an arti TOML file.
    TorTest,
    /// Plain TCP (tests, LAN).
    Tcp,
}

/// The settings window of one profile.
pub(crate) struct SettingsUi {
    net: NetChoice,
    tor_file: String,
    tor_toml: Option<String>,
    /// Reach Tor only through the bridges below (Tor networks only).
    use_bridges: bool,
    /// Bridge lines, one per line, as the user pasted them.
    bridges: String,
    tcp_listen: String,
    block_unknown: bool,
    notify_with_text: bool,
    old_pw: String,
    new_pw: String,
    new_pw2: String,
    pw_busy: bool,
    pw_message: Option<Result<String, String>>,
    delete_pw: String,
    delete_confirm: bool,
    pub(crate) delete_busy: bool,
    pub(crate) delete_message: Option<String>,
    pub(crate) message: Option<Result<String, String>>,
    /// Why the network chosen cannot be saved, shown under its button.
    net_error: Option<String>,
    reading_file: bool,
    /// Whether the address in the link takes contact requests.
    requests: RequestsUi,
}

/// The three ways the settings window offers for contact requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestsChoice {
    On,
    Off,
    /// On for [`REQUESTS_WINDOW`], then off.
    Window,
}

/// How long "for two days" keeps requests on.
const REQUESTS_WINDOW: std::time::Duration = std::time::Duration::from_secs(48 * 3600);

/// Contact requests in the settings window: the node's answer arrives on
/// the window's own channel.
#[derive(Default)]
struct RequestsUi {
    /// As the node last said; `None` until read.
    current: Option<Requests>,
    /// What the radio buttons show.
    choice: Option<RequestsChoice>,
    /// The read or change in flight.
    rx: Option<std::sync::mpsc::Receiver<Result<Requests, String>>>,
    error: Option<String>,
}

impl RequestsUi {
    fn choice_of(r: Requests) -> RequestsChoice {
        match r {
            Requests::Open => RequestsChoice::On,
            Requests::OpenUntil(_) if r.is_open(Timestamp::now()) => RequestsChoice::Window,
            Requests::Closed | Requests::OpenUntil(_) => RequestsChoice::Off,
        }
    }

    /// Take the node's answer, if it came.
    fn poll(&mut self) {
        let Some(rx) = &self.rx else { return };
        match rx.try_recv() {
            Ok(Ok(r)) => {
                self.current = Some(r);
                self.choice = Some(Self::choice_of(r));
                self.error = None;
                self.rx = None;
            }
            Ok(Err(e)) => {
                self.error = Some(e);
                self.choice = self.current.map(Self::choice_of);
                self.rx = None;
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
            Err(std::sync::mpsc::TryRecvError::Disconnected) => self.rx = None,
        }
    }
}

/// Ask the node where requests stand, or change it (`to`).
fn requests_call(
    backend: &crate::backend::Backend,
    p: &Profile,
    to: Option<Requests>,
) -> std::sync::mpsc::Receiver<Result<Requests, String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let p = p.clone();
    backend.run(async move {
        let r = match to {
            Some(r) => p.set_requests(r).await.map(|()| r),
            None => p.requests().await,
        };
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    rx
}

impl SettingsUi {
    /// The window, filled from the stored settings.
    pub(crate) fn new(s: Option<&Settings>) -> Self {
        let s = s.cloned().unwrap_or_default();
        let (net, tor_toml, tcp_listen) = match &s.network {
            None
            | Some(Network::Tor {
                extra_toml: None, ..
            }) => (NetChoice::Tor, None, String::new()),
            Some(Network::Tor {
                extra_toml: Some(t),
                ..
            }) => (NetChoice::TorTest, Some(t.clone()), String::new()),
            Some(Network::Tcp { listen }) => (NetChoice::Tcp, None, listen.to_string()),
        };
        let bridges = s.network.as_ref().map(Network::bridges).unwrap_or_default();
        SettingsUi {
            net,
            tor_file: String::new(),
            tor_toml,
            use_bridges: !bridges.is_empty(),
            bridges: bridges
                .iter()
                .map(BridgeLine::as_str)
                .collect::<Vec<_>>()
                .join("\n"),
            tcp_listen: if tcp_listen.is_empty() {
                "127.0.0.1:0".into()
            } else {
                tcp_listen
            },
            block_unknown: s.block_unknown,
            notify_with_text: s.notify_with_text,
            old_pw: String::new(),
            new_pw: String::new(),
            new_pw2: String::new(),
            pw_busy: false,
            pw_message: None,
            delete_pw: String::new(),
            delete_confirm: false,
            delete_busy: false,
            delete_message: None,
            message: None,
            net_error: None,
            reading_file: false,
            requests: RequestsUi::default(),
        }
    }

    pub(crate) fn saved(&mut self) {
        self.message = Some(Ok("Saved.".into()));
    }

    pub(crate) fn password_changed(&mut self, r: Result<(), String>) {
        self.pw_busy = false;
        self.pw_message = Some(r.map(|()| "Password changed.".to_owned()));
    }

    pub(crate) fn tor_config_read(&mut self, r: Result<String, String>) {
        self.reading_file = false;
        match r {
            Ok(t) => {
                self.tor_toml = Some(t);
                self.message = None;
            }
            Err(e) => self.message = Some(Err(format!("Cannot use that file: {e}"))),
        }
    }

    /// The network these settings choose, or what is wrong.
    pub(crate) fn network(&self) -> Result<Option<Network>, String> {
        match self.net {
            NetChoice::Tor => {
                let bridges = self.bridge_lines()?;
                Ok((!bridges.is_empty()).then_some(Network::Tor {
                    extra_toml: None,
                    bridges,
                }))
            }
            NetChoice::TorTest => match &self.tor_toml {
                Some(t) => Ok(Some(Network::Tor {
                    extra_toml: Some(t.clone()),
                    bridges: self.bridge_lines()?,
                })),
                None => Err("Load the test network's arti TOML file first.".into()),
            },
            NetChoice::Tcp => self
                .tcp_listen
                .trim()
                .parse::<SocketAddr>()
                .map(|listen| Some(Network::Tcp { listen }))
                .map_err(|_| "The listen address is IP:PORT, e.g. 127.0.0.1:9101.".into()),
        }
    }
}

impl SettingsUi {
    /// The bridges typed, when they are on: one per non-empty line, each
    /// checked as arti would; the first bad one is named by its number.
    fn bridge_lines(&self) -> Result<Vec<BridgeLine>, String> {
        if !self.use_bridges {
            return Ok(vec![]);
        }
        let mut lines = vec![];
        for (i, l) in self.bridges.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            match l.parse::<BridgeLine>() {
                Ok(b) if !lines.contains(&b) => lines.push(b),
                Ok(_) => {}
                Err(e) => return Err(format!("Bridge line {}: {e}", i + 1)),
            }
        }
        if lines.is_empty() {
            return Err("Paste at least one bridge line, or turn bridges off.".into());
        }
        Ok(lines)
    }
}

/// Check a password change form.
pub(crate) fn validate_password_change(old: &str, new: &str, new2: &str) -> Result<(), String> {
    if old.is_empty() {
        return Err("Type the current password.".into());
    }
    if new != new2 {
        return Err("The two new passwords are not the same.".into());
    }
    if new.chars().count() < 8 {
        return Err("Use at least 8 characters for the new password.".into());
    }
    Ok(())
}

/// The settings window, when open.
pub(crate) fn settings(app: &mut KithApp, ctx: &egui::Context, active: &str) {
    let mut theme = app.prefs.theme;
    let Some(s) = app.sessions.iter_mut().find(|s| s.name() == active) else {
        return;
    };
    let Some(u) = s.settings_ui.as_mut() else {
        return;
    };
    let mut close = false;
    let mut save_prefs = false;
    let mut apply_network = false;
    let mut read_file = None;
    let mut change_pw = false;
    let mut lock = false;
    let mut delete = false;
    u.requests.poll();
    let mut set_requests = None;
    let modal = egui::Modal::new(egui::Id::unique(("settings", active))).show(ctx, |ui| {
        ui.set_max_width(520.0);
        egui::ScrollArea::vertical().max_height(ctx.content_rect().height() - 80.0).show(ui, |ui| {
            ui.heading(format!("Settings — {}", s.display_name));
            ui.separator();

            ui.label(egui::RichText::new("Network").strong());
            ui.radio_value(&mut u.net, NetChoice::Tor, "Tor (recommended)");
            ui.radio_value(&mut u.net, NetChoice::TorTest, "A Tor test network (arti TOML file)");
            if u.net == NetChoice::TorTest {
                let l = ui.label("arti TOML file");
                ui.horizontal(|ui| {
                    ui.add(egui::TextEdit::singleline(&mut u.tor_file).desired_width(300.0)).labelled_by(l.id);
                    if ui.add_enabled(!u.reading_file, egui::Button::new("Load file")).clicked() {
                        read_file = Some(PathBuf::from(u.tor_file.trim()));
                    }
                });
                if let Some(t) = &u.tor_toml {
                    ui.label(egui::RichText::new(format!("A network configuration of {} bytes is loaded.", t.len())).small());
                }
            }
            ui.radio_value(&mut u.net, NetChoice::Tcp, "Plain TCP (tests and LAN; not anonymous)");
            if u.net == NetChoice::Tcp {
                field(ui, "Listen address", &mut u.tcp_listen, false, "127.0.0.1:9101");
            } else {
                ui.checkbox(&mut u.use_bridges, "Reach Tor through bridges (where Tor is blocked)");
                if u.use_bridges {
                    let l = ui.label("Bridge lines, one per line");
                    ui.add(
                        egui::TextEdit::multiline(&mut u.bridges)
                            .hint_text("obfs4 192.0.2.10:443 FINGERPRINT cert=… iat-mode=0")
                            .desired_rows(3)
                            .desired_width(f32::INFINITY),
                    )
                    .labelled_by(l.id);
                    ui.label(
                        egui::RichText::new(
                            "Ask a friend, or bridges.torproject.org, for bridges. Tor is then reached only \
                             through them; obfs4 bridges need obfs4proxy installed.",
                        )
                        .small()
                        .weak(),
                    );
                }
            }
            if ui.button("Save network and reconnect").clicked() {
                apply_network = true;
            }
            if let Some(e) = &u.net_error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            ui.separator();

            ui.label(egui::RichText::new("Contact requests").strong());
            ui.label(
                "Contacts always reach you at an address only they can look up. The address in your \
                 link is where new people ask to connect:",
            );
            let busy = u.requests.rx.is_some();
            ui.add_enabled_ui(!busy && u.requests.current.is_some(), |ui| {
                let before = u.requests.choice;
                let mut choice = before.unwrap_or(RequestsChoice::On);
                ui.radio_value(&mut choice, RequestsChoice::On, "Take requests from anyone who has my link");
                ui.radio_value(&mut choice, RequestsChoice::Window, "Take requests for two days, then stop");
                ui.radio_value(
                    &mut choice,
                    RequestsChoice::Off,
                    "Take none: my link's address goes offline; only contacts see when I am online",
                );
                if before.is_some() && Some(choice) != before {
                    u.requests.choice = Some(choice);
                    set_requests = Some(match choice {
                        RequestsChoice::On => Requests::Open,
                        RequestsChoice::Off => Requests::Closed,
                        RequestsChoice::Window => Requests::OpenUntil(Timestamp(
                            Timestamp::now().as_millis()
                                + u64::try_from(REQUESTS_WINDOW.as_millis()).unwrap_or(u64::MAX),
                        )),
                    });
                }
            });
            if let Some(Requests::OpenUntil(t)) = u.requests.current
                && u.requests.choice == Some(RequestsChoice::Window)
            {
                ui.label(
                    egui::RichText::new(format!("Requests stop at {}.", crate::timefmt::short(t, Timestamp::now())))
                        .small()
                        .weak(),
                );
            }
            if let Some(e) = &u.requests.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            ui.separator();

            ui.label(egui::RichText::new("Privacy").strong());
            if ui.checkbox(&mut u.block_unknown, "Block messages and requests from unknown senders").changed() {
                save_prefs = true;
            }
            if ui.checkbox(&mut u.notify_with_text, "Show sender and message text in notifications").changed() {
                save_prefs = true;
            }
            if let Some(m) = &u.message {
                match m {
                    Ok(t) => ui.label(t),
                    Err(e) => ui.colored_label(ui.visuals().error_fg_color, e),
                };
            }
            ui.separator();

            ui.label(egui::RichText::new("Appearance").strong());
            ui.horizontal(|ui| {
                ui.radio_value(&mut theme, egui::ThemePreference::System, "Follow the system");
                ui.radio_value(&mut theme, egui::ThemePreference::Light, "Light");
                ui.radio_value(&mut theme, egui::ThemePreference::Dark, "Dark");
            });
            ui.label(egui::RichText::new("Zoom with Ctrl + and Ctrl −; Ctrl 0 resets.").small().weak());
            ui.separator();

            ui.label(egui::RichText::new("Password").strong());
            ui.add_enabled_ui(!u.pw_busy, |ui| {
                field(ui, "Current password", &mut u.old_pw, true, "");
                field(ui, "New password", &mut u.new_pw, true, "");
                strength_hint(ui, &u.new_pw);
                field(ui, "New password again", &mut u.new_pw2, true, "");
                if ui.button("Change password").clicked() {
                    change_pw = true;
                }
            });
            if u.pw_busy {
                ui.spinner();
            }
            if let Some(m) = &u.pw_message {
                match m {
                    Ok(t) => ui.label(t),
                    Err(e) => ui.colored_label(ui.visuals().error_fg_color, e),
                };
            }
            ui.separator();

            ui.label(egui::RichText::new("Lock").strong());
            ui.label("Locking closes this profile and forgets its keys until you unlock it again.");
            if ui.button("Lock profile").clicked() {
                lock = true;
            }
            ui.separator();

            ui.label(egui::RichText::new("Delete profile").strong().color(ui.visuals().error_fg_color));
            ui.label("This deletes the profile, its contacts and every message on this computer. It cannot be undone.");
            ui.add_enabled_ui(!u.delete_busy, |ui| {
                field(ui, "Password to confirm", &mut u.delete_pw, true, "");
                ui.checkbox(&mut u.delete_confirm, "I understand that this cannot be undone");
                if ui
                    .add_enabled(u.delete_confirm && !u.delete_pw.is_empty(), egui::Button::new("Delete profile forever"))
                    .clicked()
                {
                    delete = true;
                }
            });
            if let Some(m) = &u.delete_message {
                ui.colored_label(ui.visuals().error_fg_color, m);
            }
            ui.separator();
            if ui.button("Close").clicked() {
                close = true;
            }
        });
    });
    if modal.should_close() {
        close = true;
    }
    let profile = active.to_owned();
    let p = s.profile.clone();
    if u.requests.current.is_none() && u.requests.rx.is_none() && u.requests.error.is_none() {
        u.requests.rx = Some(requests_call(&app.backend, &p, None));
    } else if let Some(r) = set_requests {
        u.requests.rx = Some(requests_call(&app.backend, &p, Some(r)));
    }
    if let Some(path) = read_file {
        u.reading_file = true;
        app.backend.read_tor_config(&profile, path);
    }
    if save_prefs || apply_network {
        let network = match u.network() {
            Ok(n) => {
                if apply_network {
                    u.net_error = None;
                }
                Some(n)
            }
            Err(e) if apply_network => {
                u.net_error = Some(e);
                None
            }
            Err(e) => {
                u.message = Some(Err(e));
                None
            }
        };
        let current_net = s.settings.as_ref().and_then(|x| x.network.clone());
        let net_to_store = if apply_network {
            network.clone()
        } else {
            Some(current_net)
        };
        if let Some(net) = net_to_store {
            let new = Settings {
                block_unknown: u.block_unknown,
                notify_with_text: u.notify_with_text,
                network: net.clone(),
            };
            let reconnect = apply_network.then(|| net.unwrap_or_default());
            let p2 = p.clone();
            let name = profile.clone();
            app.backend.spawn(async move {
                if let Err(e) = p2.set_settings(new.clone()).await {
                    return Reply::SettingsSaved {
                        profile: name,
                        result: Err(e),
                    };
                }
                if let Some(n) = reconnect {
                    // Status events show progress; failures land in the status.
                    let _ = p2.go_online(n).await;
                }
                Reply::SettingsSaved {
                    profile: name,
                    result: Ok(new),
                }
            });
        }
    }
    if change_pw {
        match validate_password_change(&u.old_pw, &u.new_pw, &u.new_pw2) {
            Err(e) => u.pw_message = Some(Err(e)),
            Ok(()) => {
                u.pw_busy = true;
                u.pw_message = None;
                let old = Password::new(std::mem::take(&mut u.old_pw));
                let new = Password::new(std::mem::take(&mut u.new_pw));
                u.new_pw2.clear();
                let name = profile.clone();
                let p2 = p.clone();
                app.backend.spawn(async move {
                    Reply::PasswordChanged {
                        profile: name,
                        result: p2.change_password(old, new).await,
                    }
                });
            }
        }
    }
    if delete {
        u.delete_busy = true;
        u.delete_message = None;
        let pw = Password::new(std::mem::take(&mut u.delete_pw));
        let kith = app.backend.kith().clone();
        let name = profile.clone();
        app.backend.spawn(async move {
            let result = kith.delete_profile(&name, pw).await;
            Reply::Deleted {
                profile: name,
                result,
            }
        });
    }
    if close || lock {
        s.settings_ui = None;
    }
    if lock {
        let kith = app.backend.kith().clone();
        app.backend.spawn(async move {
            kith.lock(&profile).await;
            Reply::Locked { profile }
        });
    }
    if theme != app.prefs.theme {
        app.prefs.theme = theme;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_validation() {
        assert!(validate_link("", "a").unwrap_err().contains("Paste"));
        assert!(
            validate_link("kith://nope", "a")
                .unwrap_err()
                .contains("not a valid")
        );
        let good = "kith://pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd";
        assert!(validate_link(good, " ").unwrap_err().contains("name"));
        assert!(validate_link(good, "Alex").is_ok());
    }

    #[test]
    fn network_choice() {
        let mut u = SettingsUi::new(None);
        assert_eq!(u.network(), Ok(None));
        u.net = NetChoice::Tcp;
        u.tcp_listen = "localhost:1".into();
        assert!(u.network().is_err());
        u.tcp_listen = "127.0.0.1:9101".into();
        assert!(matches!(u.network(), Ok(Some(Network::Tcp { .. }))));
        u.net = NetChoice::TorTest;
        assert!(u.network().is_err());
    }

    #[test]
    fn bridges_in_the_network_choice() {
        const LINE: &str = "127.0.0.1:5000 0123456789ABCDEF0123456789ABCDEF01234567";
        let mut u = SettingsUi::new(None);
        // Lines typed but bridges off: not used.
        u.bridges = "garbage".into();
        assert_eq!(u.network(), Ok(None));
        u.use_bridges = true;
        let e = u.network().unwrap_err();
        assert!(e.starts_with("Bridge line 1: invalid bridge line"), "{e}");
        u.bridges = "\n  \n".into();
        assert!(u.network().unwrap_err().contains("at least one bridge"));
        u.bridges = format!("Bridge {LINE}\n\n{LINE}\nnot a bridge");
        assert!(u.network().unwrap_err().starts_with("Bridge line 4:"));
        u.bridges = format!("Bridge {LINE}\n\n{LINE}\n");
        let want: BridgeLine = LINE.parse().unwrap();
        let net = u.network().unwrap().unwrap();
        assert_eq!(
            net.bridges(),
            std::slice::from_ref(&want),
            "duplicates dropped"
        );
        assert_eq!(net.kind(), kith_node::NetworkKind::Tor);
        // A test network keeps its TOML and takes the bridges too.
        u.net = NetChoice::TorTest;
        u.tor_toml = Some("[path_rules]\n".into());
        let net = u.network().unwrap().unwrap();
        assert_eq!(net.bridges().len(), 1);
        assert_eq!(net.kind(), kith_node::NetworkKind::TorCustom);
        // Stored settings come back into the window as they were.
        let again = SettingsUi::new(Some(&Settings {
            network: Some(net.clone()),
            ..Settings::default()
        }));
        assert!(again.use_bridges && again.net == NetChoice::TorTest);
        assert_eq!(again.network(), Ok(Some(net)));
        // TCP has no bridges.
        u.net = NetChoice::Tcp;
        u.tcp_listen = "127.0.0.1:9101".into();
        assert!(u.network().unwrap().unwrap().bridges().is_empty());
    }

    #[test]
    fn password_change_validation() {
        assert!(validate_password_change("", "abcdefgh", "abcdefgh").is_err());
        assert!(validate_password_change("x", "abcdefgh", "abcdefgX").is_err());
        assert!(validate_password_change("x", "abcdefgh", "abcdefgh").is_ok());
    }
}
