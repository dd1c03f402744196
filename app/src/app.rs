//! The app's state and its frame loop.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kith_node::{
    ContactId, ContactState, ContactView, Event, KdfChoice, Kith, KithConfig, MessageView, Network,
    NetworkKind, NetworkStatus, Profile, Settings,
};
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, Reply};
use crate::dialogs::{AddContactDialog, SettingsUi};
use crate::main_view::Confirm;
use crate::screens::{CreateForm, UnlockForm};

/// How long an in-window notice stays.
const TOAST_TIME: Duration = Duration::from_secs(6);

/// How the app is started.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// Where profiles live.
    pub data_dir: PathBuf,
    /// Password hashing cost.
    pub kdf: KdfChoice,
    /// A network to use instead of each profile's own setting (tests, demo).
    pub network_override: Option<Network>,
    /// Go online right after unlocking.
    pub go_online_on_unlock: bool,
    /// Try desktop notifications (otherwise in-window only).
    pub desktop_notifications: bool,
}

impl AppConfig {
    /// The normal configuration: the platform's data directory, Tor.
    pub fn new(data_dir: PathBuf) -> Self {
        AppConfig {
            data_dir,
            kdf: KdfChoice::Default,
            network_override: None,
            go_online_on_unlock: true,
            desktop_notifications: true,
        }
    }
}

/// The only things eframe stores (in plaintext): look and feel.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(default)]
pub(crate) struct Prefs {
    /// Light, dark, or the system's.
    pub(crate) theme: egui::ThemePreference,
    /// UI scale.
    pub(crate) zoom: f32,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            theme: egui::ThemePreference::System,
            zoom: 1.0,
        }
    }
}

/// Which full-window screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Screen {
    /// Reading the data directory.
    Loading,
    /// Create a profile (first start shows the introduction).
    Create,
    /// Unlock a profile.
    Unlock,
    /// Chats.
    Main,
}

/// One unlocked profile and what the UI knows of it.
pub(crate) struct Session {
    pub(crate) profile: Profile,
    pub(crate) display_name: String,
    pub(crate) status: NetworkStatus,
    pub(crate) settings: Option<Settings>,
    pub(crate) contacts: Vec<ContactView>,
    pub(crate) contacts_loaded: bool,
    pub(crate) contacts_loading: bool,
    pub(crate) contacts_dirty: bool,
    pub(crate) selected: Option<ContactId>,
    /// The open conversation (for `selected`).
    pub(crate) chat: Vec<MessageView>,
    pub(crate) chat_for: Option<ContactId>,
    /// The open conversation's row heights (it lays out only the rows in view).
    pub(crate) chat_rows: crate::main_view::ChatRows,
    pub(crate) composer: String,
    /// The text being sent, put back in the composer if sending fails.
    pub(crate) unsent: Option<String>,
    pub(crate) sending: bool,
    pub(crate) chat_error: Option<String>,
    pub(crate) add: Option<AddContactDialog>,
    /// The "Meet in person" dialog, when open.
    pub(crate) meet: Option<crate::meet::MeetDialog>,
    pub(crate) settings_ui: Option<SettingsUi>,
    pub(crate) events_task: tokio::task::JoinHandle<()>,
    pub(crate) online_busy: bool,
    pub(crate) error: Option<String>,
    /// Contact requests the node dropped over its caps since unlocking.
    pub(crate) dropped_requests: u64,
    /// A destructive action waiting for the person to confirm it.
    pub(crate) confirm: Option<Confirm>,
    /// Introductions offered to us and made by us; the "Introduce…" dialog.
    pub(crate) intro: crate::intro::IntroUi,
    /// The contact whose safety number the "Verify safety number" dialog shows.
    pub(crate) verify: Option<ContactId>,
    /// The inbox: its status, drops, and what the inbox view shows.
    pub(crate) inbox: crate::inbox::InboxUi,
    /// The conversation controls: the reply being written, the open
    /// conversation's settings, what to ask and do.
    pub(crate) conv: crate::conv::ConvUi,
    /// Files: the send and save dialogs, the open conversation's previews.
    pub(crate) files: crate::files::FilesUi,
    /// Groups: the list, invitations, the open group and its dialogs.
    pub(crate) groups: crate::groups::GroupsUi,
    /// Forums: the same, of the other kind.
    pub(crate) forums: crate::groups::GroupsUi,
    /// The blog (ours and our contacts').
    pub(crate) blog: crate::blog::BlogUi,
    /// Feeds: the subscriptions, the open feed's items.
    pub(crate) feeds: crate::feeds::FeedsUi,
}

impl Session {
    pub(crate) fn name(&self) -> &str {
        self.profile.name()
    }

    pub(crate) fn contact(&self, id: ContactId) -> Option<&ContactView> {
        self.contacts.iter().find(|c| c.id == id)
    }

    /// The groups or the forums.
    pub(crate) fn space(&mut self, kind: kith_node::GroupKind) -> &mut crate::groups::GroupsUi {
        self.space_with_contacts(kind).0
    }

    /// The groups or the forums, and the contacts (to invite, to name).
    pub(crate) fn space_with_contacts(
        &mut self,
        kind: kith_node::GroupKind,
    ) -> (&mut crate::groups::GroupsUi, &[ContactView]) {
        let g = match kind {
            kith_node::GroupKind::Group | kith_node::GroupKind::Blog => &mut self.groups,
            kith_node::GroupKind::Forum => &mut self.forums,
        };
        (g, &self.contacts)
    }

    /// Show a group or a forum in the chat pane, in place of what was.
    pub(crate) fn show_space(&mut self, kind: kith_node::GroupKind, id: kith_node::GroupId) {
        if let Some(c) = self.selected {
            self.deselect(c);
        }
        self.inbox.hide();
        self.blog.hide();
        self.feeds.hide();
        for g in [&mut self.groups, &mut self.forums] {
            if g.kind == kind {
                g.show(id);
            } else {
                g.close();
            }
        }
    }

    /// Close any open group or forum, the blog and the feeds.
    pub(crate) fn close_spaces(&mut self) {
        self.groups.close();
        self.forums.close();
        self.blog.hide();
        self.feeds.hide();
    }

    /// A node event about groups or forums (the engine tells both alike).
    pub(crate) fn spaces_changed(&mut self, group: Option<kith_node::GroupId>) {
        self.groups.changed(group);
        self.forums.changed(group);
    }

    /// Forget the open conversation if it is `id`'s.
    pub(crate) fn deselect(&mut self, id: ContactId) {
        if self.selected == Some(id) {
            self.selected = None;
            self.chat.clear();
            self.chat_for = None;
            self.chat_rows = crate::main_view::ChatRows::default();
            self.chat_error = None;
            self.conv.reset();
            self.files.reset();
        }
    }
}

/// An in-window notice.
pub(crate) struct Toast {
    pub(crate) text: String,
    pub(crate) until: Instant,
}

/// The Kith desktop app.
pub struct KithApp {
    pub(crate) prefs: Prefs,
    pub(crate) config: AppConfig,
    pub(crate) backend: Backend,
    pub(crate) disk_profiles: Option<Vec<String>>,
    pub(crate) screen: Screen,
    pub(crate) first_start: bool,
    pub(crate) create: CreateForm,
    pub(crate) unlock: UnlockForm,
    pub(crate) sessions: Vec<Session>,
    pub(crate) active: Option<String>,
    pub(crate) toasts: Vec<Toast>,
    pub(crate) focused: bool,
    pub(crate) unseen: u32,
    pub(crate) banner: Option<String>,
    pub(crate) select_first_contact: bool,
    applied_prefs: Option<Prefs>,
    /// The window title last sent: a viewport command asks for another
    /// frame, so it goes only when the title changes.
    title: String,
}

impl KithApp {
    /// Build the app inside eframe: restores look and feel, starts the runtime.
    pub fn new(cc: &eframe::CreationContext<'_>, config: AppConfig) -> anyhow::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kith-app-rt")
            .enable_all()
            .build()?;
        let kith = Kith::new(KithConfig {
            data_dir: config.data_dir.clone(),
            kdf: config.kdf,
        });
        Ok(Self::with_engine(cc, config, rt, kith))
    }

    /// Build the app over an engine that may already have unlocked profiles
    /// (the screenshot demo).
    pub fn with_engine(
        cc: &eframe::CreationContext<'_>,
        config: AppConfig,
        rt: tokio::runtime::Runtime,
        kith: Kith,
    ) -> Self {
        let prefs: Prefs = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let ctx = cc.egui_ctx.clone();
        let backend = Backend::new(rt, kith, ctx);
        backend.list_profiles();
        let mut app = KithApp {
            prefs,
            config,
            backend,
            disk_profiles: None,
            screen: Screen::Loading,
            first_start: false,
            create: CreateForm::default(),
            unlock: UnlockForm::default(),
            sessions: vec![],
            active: None,
            toasts: vec![],
            focused: true,
            unseen: 0,
            banner: None,
            select_first_contact: false,
            applied_prefs: None,
            title: String::new(),
        };
        for p in app.backend.kith().unlocked() {
            app.adopt(p);
        }
        app
    }

    /// Lock every profile and stop the network (tests; the window calls it on exit).
    pub fn shutdown(&mut self) {
        for s in self.sessions.drain(..) {
            s.events_task.abort();
        }
        self.backend.shutdown();
    }

    /// Show this profile, if unlocked.
    pub fn set_active(&mut self, name: &str) {
        if self.sessions.iter().any(|s| s.name() == name) {
            self.active = Some(name.to_owned());
        }
    }

    /// Open the first contact once contacts are known (screenshot demo).
    pub fn select_first_contact_when_loaded(&mut self) {
        self.select_first_contact = true;
    }

    /// The screen showing now (for tests).
    pub fn screen_name(&self) -> &'static str {
        match self.screen {
            Screen::Loading => "loading",
            Screen::Create => "create",
            Screen::Unlock => "unlock",
            Screen::Main => "main",
        }
    }

    /// The active profile's link, when one is unlocked (for tests).
    pub fn active_link(&self) -> Option<String> {
        self.active_session().map(|s| s.profile.link().to_string())
    }

    /// The active profile's network status (for tests).
    pub fn active_status(&self) -> Option<NetworkStatus> {
        self.active_session().map(|s| s.status.clone())
    }

    /// The active profile's contacts (for tests).
    pub fn active_contacts(&self) -> Vec<ContactView> {
        self.active_session()
            .map(|s| s.contacts.clone())
            .unwrap_or_default()
    }

    /// The open conversation (for tests).
    pub fn open_chat(&self) -> Vec<MessageView> {
        self.active_session()
            .map(|s| s.chat.clone())
            .unwrap_or_default()
    }

    /// How many message rows the open conversation laid out in the last
    /// frame: those in view, not the whole conversation (for tests).
    pub fn chat_rows_laid_out(&self) -> usize {
        self.active_session().map_or(0, |s| s.chat_rows.laid_out)
    }

    /// Contact requests dropped over the caps, as the active profile shows it (for tests).
    pub fn active_dropped_requests(&self) -> u64 {
        self.active_session().map_or(0, |s| s.dropped_requests)
    }

    /// The network the active profile is shown to be on (for tests).
    pub fn active_network_kind(&self) -> Option<NetworkKind> {
        self.active_session().map(|s| self.network_kind(s))
    }

    /// The drops in the active profile's inbox, as the app shows them (for tests).
    pub fn active_inbox(&self) -> Vec<kith_node::InboxDrop> {
        self.active_session()
            .map(|s| s.inbox.drops.clone())
            .unwrap_or_default()
    }

    /// The inbox link the active profile shows, while its inbox is on (for tests).
    pub fn active_inbox_link(&self) -> Option<String> {
        self.active_session().and_then(|s| s.inbox.link_text())
    }

    /// Names of unlocked profiles (for tests).
    pub fn unlocked_names(&self) -> Vec<String> {
        self.sessions.iter().map(|s| s.name().to_owned()).collect()
    }

    /// The active profile's handle (for tests).
    pub fn active_profile(&self) -> Option<kith_node::Profile> {
        self.active_session().map(|s| s.profile.clone())
    }

    pub(crate) fn active_session(&self) -> Option<&Session> {
        let a = self.active.as_deref()?;
        self.sessions.iter().find(|s| s.name() == a)
    }

    pub(crate) fn session_mut(&mut self, name: &str) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| s.name() == name)
    }

    /// Start showing an unlocked profile.
    pub(crate) fn adopt(&mut self, profile: Profile) {
        let name = profile.name().to_owned();
        if self.sessions.iter().any(|s| s.name() == name) {
            self.active = Some(name);
            self.screen = Screen::Main;
            return;
        }
        let events_task = self.backend.forward_events(&profile);
        let status = profile.network_status();
        let dropped_requests = profile.dropped_requests();
        let p = profile.clone();
        self.backend.spawn(async move {
            Reply::Loaded {
                profile: p.name().to_owned(),
                display_name: p.display_name().await,
                settings: p.settings().await,
            }
        });
        self.backend.load_contacts(&profile);
        self.sessions.push(Session {
            profile,
            display_name: name.clone(),
            status,
            settings: None,
            contacts: vec![],
            contacts_loaded: false,
            contacts_loading: true,
            contacts_dirty: false,
            selected: None,
            chat: vec![],
            chat_for: None,
            chat_rows: crate::main_view::ChatRows::default(),
            composer: String::new(),
            unsent: None,
            sending: false,
            chat_error: None,
            add: None,
            meet: None,
            settings_ui: None,
            events_task,
            online_busy: false,
            error: None,
            dropped_requests,
            confirm: None,
            intro: crate::intro::IntroUi::default(),
            verify: None,
            inbox: crate::inbox::InboxUi::new(),
            conv: crate::conv::ConvUi::default(),
            files: crate::files::FilesUi::default(),
            groups: crate::groups::GroupsUi::new(kith_node::GroupKind::Group),
            forums: crate::groups::GroupsUi::new(kith_node::GroupKind::Forum),
            blog: crate::blog::BlogUi::default(),
            feeds: crate::feeds::FeedsUi::new(),
        });
        self.sessions.sort_by(|a, b| a.name().cmp(b.name()));
        self.active = Some(name);
        self.screen = Screen::Main;
    }

    /// The network a profile should use.
    pub(crate) fn network_for(&self, settings: Option<&Settings>) -> Network {
        if let Some(n) = &self.config.network_override {
            return n.clone();
        }
        settings.and_then(|s| s.network.clone()).unwrap_or_default()
    }

    /// The network a profile is on: the one it is online on, or else the one
    /// it would go online on (its settings, or the app's override).
    pub(crate) fn network_kind(&self, s: &Session) -> NetworkKind {
        s.profile
            .network_kind()
            .unwrap_or_else(|| self.network_for(s.settings.as_ref()).kind())
    }

    pub(crate) fn go_online(&mut self, name: &str) {
        let net = {
            let Some(s) = self.sessions.iter().find(|s| s.name() == name) else {
                return;
            };
            self.network_for(s.settings.as_ref())
        };
        if let Some(s) = self.session_mut(name) {
            s.online_busy = true;
            if !matches!(net, Network::Tcp { .. }) {
                s.status = NetworkStatus::Starting {
                    percent: 0,
                    phase: "Starting Tor".into(),
                };
            }
            let p = s.profile.clone();
            self.backend.go_online(&p, net);
        }
    }

    pub(crate) fn remove_session(&mut self, name: &str) {
        if let Some(i) = self.sessions.iter().position(|s| s.name() == name) {
            let s = self.sessions.remove(i);
            s.events_task.abort();
        }
        if self.active.as_deref() == Some(name) {
            self.active = self.sessions.first().map(|s| s.name().to_owned());
        }
        if self.sessions.is_empty() {
            self.screen = Screen::Unlock;
            self.unlock = UnlockForm::default();
            self.backend.list_profiles();
        }
    }

    pub(crate) fn toast(&mut self, text: impl Into<String>) {
        self.toasts.push(Toast {
            text: text.into(),
            until: Instant::now() + TOAST_TIME,
        });
    }

    /// Tell the person about a new message while the window is not focused.
    fn notify(&mut self, ctx: &egui::Context, profile: &str, contact: ContactId, body: &str) {
        let (with_text, who) = match self.sessions.iter().find(|s| s.name() == profile) {
            Some(s) => (
                s.settings.as_ref().is_some_and(|x| x.notify_with_text),
                s.contact(contact).map(|c| c.alias.clone()),
            ),
            None => (false, None),
        };
        let text = if with_text {
            let preview: String = crate::peer_text::plain(body).chars().take(120).collect();
            let who = who.map(|w| crate::peer_text::name(&w).into_owned());
            format!("{}: {preview}", who.unwrap_or_else(|| "Someone".into()))
        } else {
            "You have a new message.".to_owned()
        };
        self.alert(ctx, 1, text);
    }

    /// Tell the person about new posts in a group or forum while the
    /// window is not focused (one notification for what one reading of the
    /// list found).
    fn notify_posts(
        &mut self,
        ctx: &egui::Context,
        profile: &str,
        kind: kith_node::GroupKind,
        news: &crate::groups::News,
    ) {
        let with_text = self
            .sessions
            .iter()
            .find(|s| s.name() == profile)
            .is_some_and(|s| s.settings.as_ref().is_some_and(|x| x.notify_with_text));
        let posts = if news.posts == 1 { "post" } else { "posts" };
        let text = if with_text {
            let place = match kind {
                kith_node::GroupKind::Forum => "the forum",
                _ => "the group",
            };
            format!(
                "{} new {posts} in {place} {}",
                news.posts,
                crate::peer_text::name(&news.group)
            )
        } else {
            format!("You have new {posts}.")
        };
        self.alert(ctx, u32::try_from(news.posts).unwrap_or(u32::MAX), text);
    }

    /// Count `n` unseen, ask for the person's attention, and show `text`
    /// (a desktop notification, or a toast in the window).
    fn alert(&mut self, ctx: &egui::Context, n: u32, text: String) {
        self.unseen = self.unseen.saturating_add(n);
        ctx.send_viewport_cmd(egui::ViewportCommand::RequestUserAttention(
            egui::UserAttentionType::Informational,
        ));
        if self.config.desktop_notifications {
            self.backend
                .spawn_blocking(move || match crate::notify::desktop(&text) {
                    Ok(()) => Reply::NotifyFallback {
                        text: String::new(),
                    },
                    Err(_) => Reply::NotifyFallback { text },
                });
        } else {
            self.toast(text);
        }
    }

    /// Apply everything that came back from the runtime. Never blocks.
    pub(crate) fn drain(&mut self, ctx: &egui::Context) {
        // Bounded work per frame keeps the UI responsive under a flood.
        for _ in 0..256 {
            let Some(reply) = self.backend.try_recv() else {
                break;
            };
            self.apply(ctx, reply);
        }
        let now = Instant::now();
        self.toasts.retain(|t| t.until > now);
        if let Some(first) = self.toasts.iter().map(|t| t.until).min() {
            ctx.request_repaint_after(first.saturating_duration_since(now));
        }
        // Re-read contact lists that events made stale, one read at a time.
        let mut to_load = vec![];
        for s in &mut self.sessions {
            if s.contacts_dirty && !s.contacts_loading {
                s.contacts_dirty = false;
                s.contacts_loading = true;
                to_load.push(s.profile.clone());
            }
        }
        for p in to_load {
            self.backend.load_contacts(&p);
        }
        // The same for groups, and the open group.
        for s in &mut self.sessions {
            crate::groups::tick(&self.backend, s, self.focused);
        }
        // The same for inboxes.
        for s in &mut self.sessions {
            if s.inbox.dirty && !s.inbox.loading {
                s.inbox.dirty = false;
                s.inbox.loading = true;
                crate::inbox::load(&self.backend, &s.profile, s.inbox.open);
            }
            if s.feeds.dirty && !s.feeds.loading {
                s.feeds.dirty = false;
                s.feeds.loading = true;
                crate::feeds::load(&self.backend, &s.profile, s.feeds.selected);
            }
        }
    }

    fn apply(&mut self, ctx: &egui::Context, reply: Reply) {
        match reply {
            Reply::Profiles(r) => {
                let list = match r {
                    Ok(l) => l,
                    Err(e) => {
                        self.banner = Some(format!("Cannot read the data folder: {e}"));
                        vec![]
                    }
                };
                if self.screen == Screen::Loading {
                    if !self.sessions.is_empty() {
                        self.screen = Screen::Main;
                    } else if list.is_empty() {
                        self.first_start = true;
                        self.screen = Screen::Create;
                    } else {
                        self.screen = Screen::Unlock;
                    }
                }
                if self
                    .unlock
                    .selected
                    .as_ref()
                    .is_none_or(|s| !list.contains(s))
                {
                    self.unlock.selected = list
                        .iter()
                        .find(|n| !self.sessions.iter().any(|s| s.name() == n.as_str()))
                        .cloned();
                }
                self.disk_profiles = Some(list);
            }
            Reply::Created(r) => {
                self.create.busy = false;
                match r {
                    Ok(p) => {
                        self.create = CreateForm::default();
                        self.first_start = false;
                        self.adopt(p);
                        self.backend.list_profiles();
                    }
                    Err(e) => self.create.error = Some(crate::screens::explain(&e)),
                }
            }
            Reply::Unlocked { name, result } => {
                if self.unlock.selected.as_deref() == Some(name.as_str()) {
                    self.unlock.busy = false;
                }
                match result {
                    Ok(p) => {
                        self.unlock = UnlockForm::default();
                        self.adopt(p);
                    }
                    Err(e) => {
                        self.unlock.busy = false;
                        self.unlock.error = Some(crate::screens::explain(&e));
                    }
                }
            }
            Reply::Loaded {
                profile,
                display_name,
                settings,
            } => {
                let auto = self.config.go_online_on_unlock;
                if let Some(s) = self.session_mut(&profile) {
                    if let Ok(n) = display_name {
                        s.display_name = n;
                    }
                    match settings {
                        Ok(x) => s.settings = Some(x),
                        Err(e) => s.error = Some(format!("Cannot read settings: {e}")),
                    }
                    let offline = matches!(
                        s.status,
                        NetworkStatus::Offline | NetworkStatus::Failed { .. }
                    );
                    if auto && offline && s.settings.is_some() {
                        self.go_online(&profile);
                    }
                }
            }
            Reply::Contacts { profile, result } => {
                let select_first =
                    self.select_first_contact && self.active.as_deref() == Some(profile.as_str());
                let mut load = None;
                if let Some(s) = self.session_mut(&profile) {
                    s.contacts_loading = false;
                    match result {
                        Ok(c) => {
                            s.contacts = c;
                            s.contacts_loaded = true;
                            if select_first
                                && s.selected.is_none()
                                && let Some(c) = s
                                    .contacts
                                    .iter()
                                    .find(|c| c.state == ContactState::Accepted)
                            {
                                s.selected = Some(c.id);
                                load = Some((s.profile.clone(), c.id));
                            }
                        }
                        Err(e) => s.error = Some(format!("Cannot read contacts: {e}")),
                    }
                }
                if let Some((p, id)) = load {
                    self.select_first_contact = false;
                    self.backend.load_messages(&p, id, true);
                }
            }
            Reply::Messages {
                profile,
                contact,
                result,
            } => {
                if let Some(s) = self.session_mut(&profile)
                    && s.selected == Some(contact)
                {
                    match result {
                        Ok(m) => {
                            s.chat = m;
                            s.chat_for = Some(contact);
                        }
                        Err(e) => s.chat_error = Some(e.to_string()),
                    }
                    s.contacts_dirty = true;
                }
            }
            Reply::Sent {
                profile,
                contact,
                result,
            } => {
                if let Some(s) = self.session_mut(&profile) {
                    s.sending = false;
                    let unsent = s.unsent.take();
                    match result {
                        Ok(m) => {
                            if s.chat_for == Some(contact) && !s.chat.iter().any(|x| x.id == m.id) {
                                s.chat.push(m);
                            }
                            s.contacts_dirty = true;
                        }
                        Err(e) => {
                            if s.composer.is_empty() {
                                s.composer = unsent.unwrap_or_default();
                            }
                            s.chat_error = Some(format!("Not sent: {e}"));
                        }
                    }
                }
            }
            Reply::Conversation {
                profile,
                contact,
                result,
            } => {
                if let Some(s) = self.session_mut(&profile)
                    && s.selected == Some(contact)
                {
                    match result {
                        Ok(c) => s.conv.settings = Some((contact, c)),
                        Err(e) => s.chat_error = Some(crate::screens::explain(&e)),
                    }
                }
            }
            Reply::ConvDone {
                profile,
                contact,
                what,
                result,
            } => {
                if let Some(s) = self.session_mut(&profile) {
                    if let Err(e) = result {
                        s.chat_error = Some(format!("{what}: {}", crate::screens::explain(&e)));
                    }
                    s.contacts_dirty = true;
                    if s.chat_for == Some(contact) {
                        let p = s.profile.clone();
                        self.backend.load_messages(&p, contact, false);
                        self.backend.load_conversation(&p, contact);
                    }
                }
            }
            Reply::ContactAdded { profile, result } => {
                if let Some(s) = self.session_mut(&profile) {
                    match result {
                        Ok(id) => {
                            s.add = None;
                            s.selected = Some(id);
                            s.chat.clear();
                            s.chat_for = Some(id);
                            s.contacts_dirty = true;
                        }
                        Err(e) => {
                            if let Some(d) = &mut s.add {
                                d.busy = false;
                                d.error = Some(crate::screens::explain(&e));
                            }
                        }
                    }
                }
            }
            Reply::SettingsSaved { profile, result } => {
                if let Some(s) = self.session_mut(&profile) {
                    match result {
                        Ok(x) => {
                            s.settings = Some(x);
                            if let Some(u) = &mut s.settings_ui {
                                u.saved();
                            }
                        }
                        Err(e) => {
                            if let Some(u) = &mut s.settings_ui {
                                u.message = Some(Err(format!("Not saved: {e}")));
                            }
                        }
                    }
                }
            }
            Reply::PasswordChanged { profile, result } => {
                if let Some(u) = self
                    .session_mut(&profile)
                    .and_then(|s| s.settings_ui.as_mut())
                {
                    u.password_changed(result.map_err(|e| crate::screens::explain(&e)));
                }
            }
            Reply::Deleted { profile, result } => match result {
                Ok(()) => {
                    self.remove_session(&profile);
                    self.backend.list_profiles();
                    self.toast(format!("Profile “{profile}” was deleted."));
                }
                Err(e) => {
                    if let Some(u) = self
                        .session_mut(&profile)
                        .and_then(|s| s.settings_ui.as_mut())
                    {
                        u.delete_busy = false;
                        u.delete_message = Some(crate::screens::explain(&e));
                    }
                }
            },
            Reply::Locked { profile } => {
                self.remove_session(&profile);
            }
            Reply::WentOnline { profile, result } => {
                if let Some(s) = self.session_mut(&profile) {
                    s.online_busy = false;
                    s.status = s.profile.network_status();
                    s.inbox.dirty = true;
                    if let Err(e) = result
                        && !matches!(s.status, NetworkStatus::Failed { .. })
                    {
                        s.status = NetworkStatus::Failed {
                            error: e.to_string(),
                        };
                    }
                    s.contacts_dirty = true;
                }
            }
            Reply::Failed {
                profile,
                what,
                error,
            } => {
                if let Some(s) = self.session_mut(&profile) {
                    s.error = Some(format!("{what}: {error}"));
                    s.contacts_dirty = true;
                }
            }
            Reply::Introductions { profile, result } => {
                if let Some(s) = self.session_mut(&profile) {
                    match result {
                        Ok(list) => s.intro.list = list,
                        Err(e) => s.error = Some(format!("Reading introductions: {e}")),
                    }
                }
            }
            Reply::Blog { profile, reply } => {
                if let Some(s) = self.session_mut(&profile) {
                    s.blog.apply(reply);
                }
            }
            Reply::Feeds { profile, result } => {
                if let Some(s) = self.session_mut(&profile) {
                    s.feeds.loaded(result);
                }
            }
            Reply::FeedsDone {
                profile,
                ask,
                result,
            } => {
                if let Some(s) = self.session_mut(&profile) {
                    s.feeds.done(&ask, result);
                }
            }
            Reply::Inbox { profile, result } => {
                if let Some(s) = self.session_mut(&profile) {
                    s.inbox.loaded(result);
                }
            }
            Reply::InboxDone {
                profile,
                ask,
                result,
            } => {
                if let Some(s) = self.session_mut(&profile) {
                    if matches!(ask, crate::inbox::Ask::Request(..)) && result.is_ok() {
                        // The request is a new contact, waiting for them.
                        s.contacts_dirty = true;
                    }
                    s.inbox.done(&ask, result);
                }
            }
            Reply::Event { profile, event } => self.apply_event(ctx, &profile, event),
            Reply::Resync { profile } => {
                if let Some(s) = self.session_mut(&profile) {
                    s.contacts_dirty = true;
                    s.dropped_requests = s.profile.dropped_requests();
                    s.status = s.profile.network_status();
                    s.inbox.dirty = true;
                    s.spaces_changed(None);
                    if let Some(c) = s.selected {
                        let p = s.profile.clone();
                        self.backend.load_messages(&p, c, false);
                    }
                }
            }
            Reply::Scanned { profile, result } => {
                if let Some(d) = self.session_mut(&profile).and_then(|s| s.add.as_mut()) {
                    d.scanned(result);
                }
            }
            Reply::TorConfigRead { profile, result } => {
                if let Some(u) = self
                    .session_mut(&profile)
                    .and_then(|s| s.settings_ui.as_mut())
                {
                    u.tor_config_read(result);
                }
            }
            Reply::Files { profile, reply } => {
                if let Some(s) = self.sessions.iter_mut().find(|s| s.name() == profile)
                    && let Some(c) = crate::files::apply(s, ctx, reply)
                {
                    let p = s.profile.clone();
                    self.backend.load_messages(&p, c, false);
                }
            }
            Reply::Groups {
                profile,
                kind,
                reply,
            } => {
                let news = self
                    .session_mut(&profile)
                    .and_then(|s| crate::groups::apply(s, kind, reply));
                if let Some(news) = news
                    && !self.focused
                {
                    self.notify_posts(ctx, &profile, kind, &news);
                }
            }
            Reply::NotifyFallback { text } => {
                if !text.is_empty() {
                    self.toast(text);
                }
            }
        }
    }

    fn apply_event(&mut self, ctx: &egui::Context, profile: &str, event: Event) {
        let focused = self.focused;
        let mut notify = None;
        let mut mark = None;
        let mut reload = None;
        let mut read_file = None;
        let Some(s) = self.session_mut(profile) else {
            return;
        };
        match event {
            Event::Network(st) => {
                // Online or offline: the inbox link's TCP hint comes or goes
                // (not at each step of Tor's progress).
                if std::mem::discriminant(&s.status) != std::mem::discriminant(&st) {
                    s.inbox.dirty = true;
                }
                s.status = st;
            }
            Event::InboxChanged => s.inbox.dirty = true,
            Event::FeedsChanged | Event::FeedItems { .. } => s.feeds.dirty = true,
            Event::InboxDrop(id) => {
                s.inbox.arrived(id);
                if !focused {
                    self.unseen += 1;
                }
            }
            Event::MessageReceived { contact, message } => {
                if s.chat_for == Some(contact) {
                    if !s.chat.iter().any(|m| m.id == message.id) {
                        s.chat.push(message.clone());
                    }
                    if focused {
                        mark = Some((s.profile.clone(), contact));
                    }
                }
                s.contacts_dirty = true;
                if !focused {
                    // A file says its name (the body of a file message is empty).
                    let body = match &message.file {
                        Some(f) => format!("{} {}", crate::files::CLIP_SIGN, f.name),
                        None => message.body,
                    };
                    notify = Some((contact, body));
                }
            }
            Event::MessageState { contact, id, state } => {
                if s.chat_for == Some(contact)
                    && let Some(m) = s.chat.iter_mut().find(|m| m.id == id)
                {
                    m.state = state;
                }
                s.contacts_dirty = true;
            }
            Event::ContactRequest(_) => {
                s.contacts_dirty = true;
                if !focused {
                    self.unseen += 1;
                }
            }
            Event::RequestsDropped { total } => {
                s.dropped_requests = s.dropped_requests.max(total);
            }
            Event::MessagesRemoved { contact, why, .. } => {
                if s.chat_for == Some(contact) {
                    if why == kith_node::Removal::ByThem {
                        s.conv.note = Some("They removed a message.".to_owned());
                    }
                    reload = Some((s.profile.clone(), contact, false));
                }
                s.contacts_dirty = true;
            }
            Event::DeletedForEveryone { contact, .. } => {
                if s.chat_for == Some(contact) {
                    s.conv.note =
                        Some("Their app removed the message you deleted for everyone.".to_owned());
                    reload = Some((s.profile.clone(), contact, false));
                }
            }
            Event::ReactionChanged { contact, .. } | Event::MessageEdited { contact, .. } => {
                if s.chat_for == Some(contact) {
                    reload = Some((s.profile.clone(), contact, false));
                }
            }
            Event::ConversationChanged(contact) => {
                if s.chat_for == Some(contact) {
                    reload = Some((s.profile.clone(), contact, true));
                }
                s.contacts_dirty = true;
            }
            Event::GroupsChanged => s.spaces_changed(None),
            Event::GroupMessages { group } => {
                // Re-read: new unread posts are counted and notified when
                // the list comes back (`Reply::Groups`), not per event
                // (one for every exchange, our own posts' too).
                s.spaces_changed(Some(group));
                // (Not at `GroupsChanged`: reading the feed marks it read,
                // which tells that.)
                s.blog.dirty = true;
            }
            Event::FileChanged { contact, id } => {
                if s.chat_for == Some(contact) {
                    read_file = Some((s.profile.clone(), contact, id));
                }
            }
            _ => s.contacts_dirty = true,
        }
        if let Some((p, c, id)) = read_file {
            crate::files::read_file(&self.backend, &p, c, id);
        }
        if let Some((p, c, settings)) = reload {
            self.backend.load_messages(&p, c, false);
            if settings {
                self.backend.load_conversation(&p, c);
            }
        }
        if let Some((p, c)) = mark {
            let name = p.name().to_owned();
            self.backend.spawn(async move {
                match p.mark_read(c).await {
                    Ok(()) => Reply::Event {
                        profile: name,
                        event: Event::ContactsChanged,
                    },
                    Err(error) => Reply::Failed {
                        profile: name,
                        what: "Marking read",
                        error,
                    },
                }
            });
        }
        if let Some((c, body)) = notify {
            self.notify(ctx, profile, c, &body);
        }
    }

    /// Apply theme and zoom when they change.
    fn apply_prefs(&mut self, ctx: &egui::Context) {
        let z = ctx.zoom_factor();
        if self.applied_prefs.is_some() && (z - self.prefs.zoom).abs() > f32::EPSILON {
            // Changed with Ctrl +/-: remember it.
            self.prefs.zoom = z;
        }
        if self.applied_prefs.as_ref() != Some(&self.prefs) {
            ctx.set_theme(self.prefs.theme);
            ctx.set_zoom_factor(self.prefs.zoom.clamp(0.5, 3.0));
            self.applied_prefs = Some(self.prefs.clone());
        }
    }

    fn track_focus(&mut self, ctx: &egui::Context) {
        let focused = ctx.input(|i| i.viewport().focused).unwrap_or(true);
        if focused && !self.focused {
            // Back in the window: the open chat is being read now.
            self.unseen = 0;
            for s in &mut self.sessions {
                s.spaces_changed(None);
            }
            if let Some(s) = self.active.clone().and_then(|a| {
                self.sessions
                    .iter()
                    .find(|s| s.name() == a)
                    .and_then(|s| s.selected.map(|c| (s.profile.clone(), c)))
            }) {
                self.backend.load_messages(&s.0, s.1, true);
            }
        }
        self.focused = focused;
        let title = if self.unseen > 0 {
            format!("Kith ({} new)", self.unseen)
        } else {
            "Kith".to_owned()
        };
        if title != self.title {
            self.title = title.clone();
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title));
        }
    }

    fn show_toasts(&mut self, ctx: &egui::Context) {
        if self.toasts.is_empty() {
            return;
        }
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -12.0))
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                for t in &self.toasts {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        ui.label(&t.text);
                    });
                }
            });
    }
}

impl eframe::App for KithApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.apply_prefs(ctx);
        self.track_focus(ctx);
        self.drain(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if let Some(b) = self.banner.clone() {
            egui::Panel::top("banner").show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.colored_label(ui.visuals().error_fg_color, b);
                    if ui.button("Dismiss").clicked() {
                        self.banner = None;
                    }
                });
            });
        }
        match self.screen {
            Screen::Loading => {
                egui::CentralPanel::default().show(ui, |ui| {
                    ui.centered_and_justified(|ui| {
                        ui.add(egui::Spinner::new().size(32.0))
                            .on_hover_text("Loading");
                    });
                });
            }
            Screen::Create => crate::screens::create(self, ui),
            Screen::Unlock => crate::screens::unlock(self, ui),
            Screen::Main => crate::main_view::show(self, ui),
        }
        self.show_toasts(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // Look and feel only: never names, addresses or messages.
        eframe::set_value(storage, eframe::APP_KEY, &self.prefs);
    }

    fn on_exit(&mut self) {
        self.shutdown();
    }
}
