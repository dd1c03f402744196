//! Private groups and forums in the app, one code over the kind (a
//! [`GroupsUi`] each): a "Groups" and a "Forums" section in the left list
//! (each with its unread count and state, invitations as cards with Join /
//! Decline, "New group" / "New forum"), the chat (posts with threads,
//! reactions, lines about members, a composer), the menu (invite, members,
//! reveal, remove, leave, dissolve, timer, history, clear, delete) and
//! their dialogs. A forum differs in small ways: any member invites, nobody
//! removes, the creator leaves without ending it, and posts whose author is
//! hidden (by us, or by the creator's published list) show collapsed, with
//! a way to show them. Every engine call runs on the backend; the node's
//! `GroupsChanged` and `GroupMessages` events re-read what is shown.

use std::collections::HashSet;

use kith_core::Timestamp;
use kith_node::{
    Author, ContactId, ContactState, DisappearTimer, Error, GroupId, GroupKind, GroupLine,
    GroupMessageId, GroupMessageView, GroupState, GroupView, HiddenBy, HiddenLists, HistoryPolicy,
    InvitationView, MemberState, MemberView, Profile,
};

use crate::app::{KithApp, Session};
use crate::backend::{Backend, Reply};
use crate::conv::{CANCEL_MARK, REACTIONS, timer_name};
use crate::peer_text;

/// The group header's menu button (named "Group menu" for screen readers).
const MENU_BUTTON: &str = "…";

/// A profile's groups, or its forums, as the app holds them.
pub(crate) struct GroupsUi {
    /// Private groups or forums.
    pub(crate) kind: GroupKind,
    /// Our groups, as last read.
    pub(crate) list: Vec<GroupView>,
    /// Invitations waiting for our answer.
    pub(crate) invitations: Vec<InvitationView>,
    /// The list is stale.
    pub(crate) dirty: bool,
    loading: bool,
    /// The group shown in the chat pane.
    pub(crate) open: Option<GroupId>,
    /// The open group's messages and members, once read.
    pub(crate) messages: Vec<GroupMessageView>,
    pub(crate) members: Vec<MemberView>,
    /// Of a forum: why each message (by index) is hidden, if it is.
    hidden: Vec<Option<HiddenBy>>,
    /// Of a forum: who is hidden, by us and by the creator.
    hidden_lists: HiddenLists,
    /// Hidden posts the person chose to see anyway.
    unhidden: HashSet<GroupMessageId>,
    shown_for: Option<GroupId>,
    messages_dirty: bool,
    messages_loading: bool,
    composer: String,
    /// The text being posted, put back if posting fails.
    unsent: Option<String>,
    sending: bool,
    /// The post the composer answers (of the open group).
    reply_to: Option<GroupMessageView>,
    /// The "New group" dialog.
    new_group: Option<NewGroup>,
    /// The "Invite…" dialog is open (for the open group).
    inviting: bool,
    /// The members dialog is open (for the open group).
    members_open: bool,
    confirm: Option<Ask>,
    error: Option<String>,
    todo: Vec<Do>,
}

/// The "New group" dialog.
#[derive(Default)]
struct NewGroup {
    name: String,
    description: String,
    busy: bool,
}

/// A question before a destructive action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ask {
    Leave(GroupId),
    Dissolve(GroupId),
    Clear(GroupId),
    Delete(GroupId),
}

/// One group's messages, members and (of a forum) who is hidden.
#[derive(Debug, Default)]
pub(crate) struct Shown {
    messages: Vec<GroupMessageView>,
    members: Vec<MemberView>,
    hidden: Vec<Option<HiddenBy>>,
    lists: HiddenLists,
}

/// An engine call asked for.
#[derive(Debug)]
enum Do {
    Create {
        name: String,
        description: String,
    },
    Invite(GroupId, ContactId),
    Answer {
        from: ContactId,
        group: GroupId,
        accept: bool,
    },
    Post {
        group: GroupId,
        text: String,
        parent: Option<GroupMessageId>,
    },
    React {
        group: GroupId,
        id: GroupMessageId,
        emoji: Option<String>,
    },
    DeleteForMe(GroupId, GroupMessageId),
    Leave(GroupId),
    Dissolve(GroupId),
    Remove(GroupId, [u8; 32]),
    Reveal(GroupId, ContactId),
    Disappear(GroupId, DisappearTimer),
    History(GroupId, HistoryPolicy),
    Clear(GroupId),
    Delete(GroupId),
    /// Hide (or show again) an author's posts in a forum, for us.
    Hide(GroupId, [u8; 32], bool),
    /// Publish a forum's hidden list (its creator).
    Publish(GroupId, Vec<[u8; 32]>),
}

impl Do {
    /// What failed, for the error line (of a group or of a forum).
    fn doing(&self, kind: GroupKind) -> &'static str {
        let forum = kind == GroupKind::Forum;
        match self {
            Do::Create { .. } if forum => "Creating the forum",
            Do::Answer { accept: true, .. } if forum => "Joining the forum",
            Do::Leave(..) if forum => "Leaving the forum",
            Do::Delete(..) if forum => "Deleting the forum",
            Do::Create { .. } => "Creating the group",
            Do::Invite(..) => "Inviting",
            Do::Answer { accept: true, .. } => "Joining the group",
            Do::Answer { accept: false, .. } => "Declining the invitation",
            Do::Post { .. } => "Posting",
            Do::React { .. } => "Reacting",
            Do::DeleteForMe(..) => "Deleting the message",
            Do::Leave(..) => "Leaving the group",
            Do::Dissolve(..) => "Dissolving the group",
            Do::Remove(..) => "Removing the member",
            Do::Reveal(..) => "Revealing the contact",
            Do::Disappear(..) => "Setting disappearing messages",
            Do::History(..) => "Setting the history",
            Do::Clear(..) => "Clearing the history",
            Do::Delete(..) => "Deleting the group",
            Do::Hide(_, _, true) => "Hiding the author",
            Do::Hide(_, _, false) => "Showing the author again",
            Do::Publish(..) => "Publishing the hidden list",
        }
    }
}

/// What came back from a group call.
#[derive(Debug)]
pub(crate) enum GroupReply {
    /// The groups and the invitations.
    List(Result<(Vec<GroupView>, Vec<InvitationView>), Error>),
    /// One group's messages and members.
    Shown {
        group: GroupId,
        result: Result<Shown, Error>,
    },
    /// A call ended: a group to open (a new one), or why not.
    Done {
        what: &'static str,
        posted: bool,
        result: Result<Option<GroupId>, Error>,
    },
}

impl GroupsUi {
    /// A new profile's groups or forums: read at the first frame.
    pub(crate) fn new(kind: GroupKind) -> Self {
        GroupsUi {
            kind,
            list: vec![],
            invitations: vec![],
            dirty: true,
            loading: false,
            open: None,
            messages: vec![],
            members: vec![],
            hidden: vec![],
            hidden_lists: HiddenLists::default(),
            unhidden: HashSet::new(),
            shown_for: None,
            messages_dirty: false,
            messages_loading: false,
            composer: String::new(),
            unsent: None,
            sending: false,
            reply_to: None,
            new_group: None,
            inviting: false,
            members_open: false,
            confirm: None,
            error: None,
            todo: vec![],
        }
    }

    /// Whether the open forum's message `m`, `i`th of its messages, shows
    /// folded: a post whose author is hidden, not shown on request.
    fn folded(&self, i: usize, m: &GroupMessageView) -> bool {
        self.hidden.get(i).copied().flatten().is_some()
            && matches!(m.body, GroupLine::Post(_))
            && !self.unhidden.contains(&m.id)
    }

    /// Whether these are forums.
    fn forum(&self) -> bool {
        self.kind == GroupKind::Forum
    }

    /// "group" or "forum".
    fn noun(&self) -> &'static str {
        noun(self.kind)
    }

    /// "Group" or "Forum".
    fn title(&self) -> &'static str {
        g_title(self.kind)
    }

    /// Show `group` in the chat pane.
    pub(crate) fn show(&mut self, group: GroupId) {
        if self.open != Some(group) {
            self.close();
            self.open = Some(group);
        }
        self.messages_dirty = true;
    }

    /// Stop showing a group.
    pub(crate) fn close(&mut self) {
        self.open = None;
        self.messages.clear();
        self.members.clear();
        self.hidden.clear();
        self.hidden_lists = HiddenLists::default();
        self.unhidden.clear();
        self.shown_for = None;
        self.reply_to = None;
        self.inviting = false;
        self.members_open = false;
        self.confirm = None;
        self.error = None;
    }

    /// Open the "New group" dialog.
    pub(crate) fn open_new(&mut self) {
        self.new_group = Some(NewGroup::default());
    }

    /// A node event about groups.
    pub(crate) fn changed(&mut self, group: Option<GroupId>) {
        self.dirty = true;
        if self.open.is_some() && (group.is_none() || group == self.open) {
            self.messages_dirty = true;
        }
    }

    /// The open group's view, if in the list.
    fn open_view(&self) -> Option<&GroupView> {
        self.open.and_then(|g| self.list.iter().find(|v| v.id == g))
    }
}

/// "group" or "forum". (The app holds groups and forums only: blogs have
/// no view yet, issue 11 § 2, and the node lists none; where a kind is
/// matched, a blog goes with the groups.)
pub(crate) fn noun(kind: GroupKind) -> &'static str {
    match kind {
        GroupKind::Group | GroupKind::Blog => "group",
        GroupKind::Forum => "forum",
    }
}

/// Re-read what is stale (once per frame, one read of each at a time), of
/// groups and of forums.
pub(crate) fn tick(backend: &Backend, s: &mut Session, focused: bool) {
    for g in [&mut s.groups, &mut s.forums] {
        tick_one(backend, &s.profile, g, focused);
    }
}

fn tick_one(backend: &Backend, p: &Profile, g: &mut GroupsUi, focused: bool) {
    let kind = g.kind;
    if g.dirty && !g.loading {
        g.dirty = false;
        g.loading = true;
        let p = p.clone();
        backend.spawn(async move {
            Reply::Groups {
                profile: p.name().to_owned(),
                kind,
                reply: GroupReply::List(read_list(&p, kind).await),
            }
        });
    }
    if let Some(group) = g.open
        && g.messages_dirty
        && !g.messages_loading
    {
        g.messages_dirty = false;
        g.messages_loading = true;
        let p = p.clone();
        backend.spawn(async move {
            Reply::Groups {
                profile: p.name().to_owned(),
                kind,
                reply: GroupReply::Shown {
                    group,
                    result: read_shown(&p, kind, group, focused).await,
                },
            }
        });
    }
}

/// Our groups (or forums) and the invitations to them.
async fn read_list(
    p: &Profile,
    kind: GroupKind,
) -> Result<(Vec<GroupView>, Vec<InvitationView>), Error> {
    Ok(match kind {
        GroupKind::Group | GroupKind::Blog => (p.groups().await?, p.group_invitations().await?),
        GroupKind::Forum => (p.forums().await?, p.forum_invitations().await?),
    })
}

/// The open group's messages and members (and of a forum, who is hidden);
/// marks it read when shown to a person (only when something is unread:
/// marking tells `GroupsChanged`, which reads it again).
async fn read_shown(
    p: &Profile,
    kind: GroupKind,
    group: GroupId,
    mark: bool,
) -> Result<Shown, Error> {
    let view = match kind {
        GroupKind::Group | GroupKind::Blog => p.group(group).await?,
        GroupKind::Forum => p.forum(group).await?,
    };
    if mark && view.unread > 0 {
        p.mark_group_read(group).await?;
    }
    Ok(match kind {
        GroupKind::Group | GroupKind::Blog => Shown {
            messages: p.group_messages(group).await?,
            members: p.group_members(group).await?,
            ..Shown::default()
        },
        GroupKind::Forum => {
            let (messages, hidden) = p
                .forum_messages(group)
                .await?
                .into_iter()
                .map(|m| (m.message, m.hidden))
                .unzip();
            Shown {
                messages,
                hidden,
                members: p.forum_members(group).await?,
                lists: p.forum_hidden(group).await?,
            }
        }
    })
}

/// Posts that became unread between two readings of the list, in groups
/// that were in both (a group just joined, or the first reading after
/// unlock, tells nothing new): how many, and the name of a group that has
/// them (a peer's text).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct News {
    pub(crate) posts: u64,
    pub(crate) group: String,
}

fn news_between(old: &[GroupView], new: &[GroupView]) -> Option<News> {
    let mut news: Option<News> = None;
    for v in new {
        let Some(o) = old.iter().find(|o| o.id == v.id) else {
            continue;
        };
        if v.unread > o.unread {
            let n = news.get_or_insert_with(|| News {
                posts: 0,
                group: v.name.clone(),
            });
            n.posts += v.unread - o.unread;
        }
    }
    news
}

/// Take a reply from the backend; what became unread since the last
/// reading of the list, for a notification.
pub(crate) fn apply(s: &mut Session, kind: GroupKind, reply: GroupReply) -> Option<News> {
    let g = s.space(kind);
    match reply {
        GroupReply::List(r) => {
            g.loading = false;
            match r {
                Ok((list, inv)) => {
                    let news = news_between(&g.list, &list);
                    g.list = list;
                    g.invitations = inv;
                    return news;
                }
                Err(e) => s.error = Some(format!("Reading {}s: {e}", noun(kind))),
            }
        }
        GroupReply::Shown { group, result } => {
            g.messages_loading = false;
            if g.open != Some(group) {
                return None;
            }
            match result {
                Ok(shown) => {
                    g.messages = shown.messages;
                    g.members = shown.members;
                    g.hidden = shown.hidden;
                    g.hidden_lists = shown.lists;
                    g.shown_for = Some(group);
                }
                Err(Error::NotFound(_)) => g.close(),
                Err(e) => g.error = Some(format!("Reading the {}: {e}", noun(kind))),
            }
        }
        GroupReply::Done {
            what,
            posted,
            result,
        } => {
            if posted {
                g.sending = false;
            }
            match result {
                Ok(open) => {
                    if posted {
                        g.unsent = None;
                    }
                    if let Some(id) = open {
                        g.new_group = None;
                        s.show_space(kind, id);
                    }
                }
                Err(e) => {
                    if posted && let Some(t) = g.unsent.take() {
                        g.composer = t;
                    }
                    if let Some(d) = &mut g.new_group {
                        d.busy = false;
                    }
                    g.error = Some(format!("{what}: {e}"));
                }
            }
            s.space(kind).changed(None);
        }
    }
    None
}

/// A group's state in words, when it is not plainly ours to use.
pub(crate) fn state_words(kind: GroupKind, state: GroupState) -> Option<&'static str> {
    match state {
        GroupState::Member => None,
        GroupState::Joining if kind == GroupKind::Forum => {
            Some("joining: waiting for the member who invited you to add you")
        }
        GroupState::Joining => Some("joining: waiting for the creator to add you"),
        GroupState::Left => Some("you left"),
        GroupState::Removed => Some("you were removed"),
        GroupState::Dissolved => Some("dissolved"),
    }
}

/// "1 member", "3 members".
fn members_words(n: usize) -> String {
    if n == 1 {
        "1 member".to_owned()
    } else {
        format!("{n} members")
    }
}

/// Who wrote something, in words: "You", the alias, the short address.
pub(crate) fn author_name(a: &Author) -> String {
    match a {
        Author::You => "You".to_owned(),
        Author::Contact(alias) => peer_text::name(alias).into_owned(),
        Author::Member(short) => peer_text::name(short).into_owned(),
    }
}

/// "Alice invites you to Garden".
pub(crate) fn invite_text(by: &str, group: &str) -> String {
    format!(
        "{} invites you to {}",
        peer_text::name(by),
        peer_text::name(group)
    )
}

/// The first line of a text, inert, at most 80 characters.
fn first_line(body: &str) -> String {
    peer_text::plain(body)
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(80)
        .collect()
}

/// A member's name by key, from the members list.
fn member_name(members: &[MemberView], key: &[u8; 32]) -> String {
    members
        .iter()
        .find(|m| &m.key == key)
        .map_or_else(|| "a member".to_owned(), |m| author_name(&m.who))
}

/// The line a group message that is not a post shows.
pub(crate) fn line_text(kind: GroupKind, m: &GroupMessageView, members: &[MemberView]) -> String {
    let who = author_name(&m.author);
    match &m.body {
        GroupLine::Created => format!("{who} created the {}", noun(kind)),
        GroupLine::Added(k) => format!("{who} added {}", member_name(members, k)),
        GroupLine::Removed(k) => format!("{who} removed {}", member_name(members, k)),
        GroupLine::Left => format!("{who} left"),
        GroupLine::Post(t) => format!("{who}: {}", first_line(t)),
    }
}

/// A reply's quote: who wrote the parent and the start of its text.
/// A folded post (of a hidden author, not shown on request) keeps its text
/// out of quotes too.
fn quote_text(messages: &[GroupMessageView], parent: GroupMessageId, g: &GroupsUi) -> String {
    match messages.iter().position(|m| m.id == parent) {
        Some(i) if g.folded(i, &messages[i]) => {
            format!("{}: a hidden post", author_name(&messages[i].author))
        }
        Some(i) => match &messages[i].body {
            GroupLine::Post(t) => {
                format!("{}: {}", author_name(&messages[i].author), first_line(t))
            }
            _ => "message not available".to_owned(),
        },
        None => "message not available".to_owned(),
    }
}

/// "N messages not yet received".
pub(crate) fn missing_text(n: u64) -> Option<String> {
    match n {
        0 => None,
        1 => Some("1 message not yet received".to_owned()),
        n => Some(format!("{n} messages not yet received")),
    }
}

/// The "Groups" (or "Forums") section of the left list: invitations, the
/// groups, "New group". Shown once there is one or an invitation (the
/// contact row's menu has "New group…" and "New forum…" too). Returns the
/// one clicked.
pub(crate) fn section(ui: &mut egui::Ui, g: &mut GroupsUi) -> Option<GroupId> {
    if g.list.is_empty() && g.invitations.is_empty() {
        return None;
    }
    let mut clicked = None;
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(format!("{}s", g.title())).strong());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.small_button(format!("New {}", g.noun())).clicked() {
                g.open_new();
            }
        });
    });
    let decline_hover = if g.forum() {
        "The member who invited you is told you declined"
    } else {
        "The creator is told you declined"
    };
    for i in &g.invitations {
        ui.group(|ui| {
            ui.set_width(ui.available_width());
            ui.add(egui::Label::new(invite_text(&i.from_alias, &i.name)).wrap());
            if !i.description.is_empty() {
                ui.add(
                    egui::Label::new(
                        egui::RichText::new(format!("“{}”", peer_text::plain(&i.description)))
                            .italics(),
                    )
                    .wrap(),
                );
            }
            ui.horizontal_wrapped(|ui| {
                if ui.button("Join").clicked() {
                    g.todo.push(Do::Answer {
                        from: i.from,
                        group: i.group,
                        accept: true,
                    });
                }
                if ui.button("Decline").on_hover_text(decline_hover).clicked() {
                    g.todo.push(Do::Answer {
                        from: i.from,
                        group: i.group,
                        accept: false,
                    });
                }
            });
        });
    }
    for v in &g.list {
        let selected = g.open == Some(v.id);
        let state = state_words(g.kind, v.state);
        let r = crate::main_view::list_row(ui, selected, |ui| {
            ui.horizontal(|ui| {
                let mut name = egui::RichText::new(peer_text::name(&v.name).as_ref()).strong();
                if state.is_some() {
                    name = name.weak();
                }
                ui.add(egui::Label::new(name).selectable(false));
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if v.unread > 0 {
                        crate::main_view::badge(ui, v.unread);
                    }
                });
            });
            let sub = state.map_or_else(|| members_words(v.members), str::to_owned);
            ui.add(egui::Label::new(egui::RichText::new(sub).small().weak()).selectable(false));
        });
        let label = format!(
            "{} {}{}{}",
            g.title(),
            peer_text::name(&v.name),
            state.map(|s| format!(", {s}")).unwrap_or_default(),
            if v.unread > 0 {
                format!(", {} unread", v.unread)
            } else {
                String::new()
            }
        );
        r.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &label));
        if r.clicked() {
            clicked = Some(v.id);
        }
    }
    clicked
}

/// The open group's (or forum's) chat pane.
pub(crate) fn view(s: &mut Session, kind: GroupKind, ui: &mut egui::Ui) {
    let g = s.space(kind);
    let Some(v) = g.open_view().cloned() else {
        ui.label(format!("This {} is gone.", g.noun()));
        return;
    };
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        ui.heading(peer_text::name(&v.name).as_ref());
        let sub =
            state_words(g.kind, v.state).map_or_else(|| members_words(v.members), str::to_owned);
        ui.label(egui::RichText::new(sub).weak());
        let menu = format!("{} menu", g.title());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.menu_button(MENU_BUTTON, |ui| group_menu(ui, g, &v))
                .response
                .on_hover_text("Invite, members, leave, history")
                .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &menu));
        });
    });
    if !v.description.is_empty() {
        ui.add(
            egui::Label::new(
                egui::RichText::new(peer_text::plain(&v.description).as_ref())
                    .small()
                    .weak(),
            )
            .wrap(),
        );
    }
    ui.separator();
    let writable = v.state == GroupState::Member;
    let composer_h = if writable { 84.0 } else { 30.0 };
    let now = Timestamp::now();
    egui::ScrollArea::vertical()
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .max_height((ui.available_height() - composer_h).max(60.0))
        .show(ui, |ui| {
            if g.shown_for != Some(v.id) {
                ui.spinner();
            }
            let messages = std::mem::take(&mut g.messages);
            let members = std::mem::take(&mut g.members);
            for (i, m) in messages.iter().enumerate() {
                let by = g.hidden.get(i).copied().flatten();
                match by {
                    Some(by) if g.folded(i, m) => collapsed(ui, m, by, g),
                    _ => message(ui, m, by, &messages, &members, now, g),
                }
            }
            g.messages = messages;
            g.members = members;
        });
    ui.separator();
    if let Some(t) = missing_text(v.missing) {
        ui.label(egui::RichText::new(t).small().weak())
            .on_hover_text(
                "Members wrote them; they come when you sync with a member who has them",
            );
    }
    if let Some(t) = creator_hides_text(g.hidden_lists.creator.len()) {
        ui.label(egui::RichText::new(t).small().weak());
    }
    if let Some(e) = g.error.clone() {
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(ui.visuals().error_fg_color, e);
            if ui.small_button("Dismiss").clicked() {
                g.error = None;
            }
        });
    }
    if !writable {
        if let Some(w) = state_words(g.kind, v.state) {
            ui.label(egui::RichText::new(format!("You cannot post here: {w}.")).weak());
        }
        return;
    }
    replying_line(ui, g);
    composer(ui, g, v.id);
}

/// One message: a post's bubble (with its menu), or a line about the group.
fn message(
    ui: &mut egui::Ui,
    m: &GroupMessageView,
    hidden: Option<HiddenBy>,
    all: &[GroupMessageView],
    members: &[MemberView],
    now: Timestamp,
    g: &mut GroupsUi,
) {
    let GroupLine::Post(text) = &m.body else {
        // The time on a line of its own (a snapshot masks only it).
        ui.vertical_centered(|ui| {
            ui.label(
                egui::RichText::new(line_text(g.kind, m, members))
                    .small()
                    .weak(),
            );
            ui.label(
                egui::RichText::new(crate::timefmt::short(m.time, now))
                    .small()
                    .weak(),
            );
        });
        ui.add_space(4.0);
        return;
    };
    let out = m.author == Author::You;
    let layout = if out {
        egui::Layout::right_to_left(egui::Align::Min)
    } else {
        egui::Layout::left_to_right(egui::Align::Min)
    };
    let max = (ui.available_width() * 0.72).max(120.0);
    let who = author_name(&m.author);
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
                    if !out {
                        ui.label(egui::RichText::new(&who).small().strong());
                    }
                    if let Some(p) = m.parent {
                        egui::Frame::new()
                            .stroke(ui.visuals().widgets.noninteractive.bg_stroke)
                            .corner_radius(4.0)
                            .inner_margin(egui::Margin::symmetric(6, 2))
                            .show(ui, |ui| {
                                ui.add(
                                    egui::Label::new(
                                        egui::RichText::new(format!("↩ {}", quote_text(all, p, g)))
                                            .small()
                                            .italics(),
                                    )
                                    .truncate(),
                                );
                            });
                    }
                    let body = peer_text::layout(text, ui);
                    ui.add(egui::Label::new(body).wrap().selectable(true));
                    let mut meta = crate::timefmt::short(m.time, now);
                    if !m.accepted {
                        meta.push_str(" · earlier messages of theirs not here yet");
                    }
                    if let Some(t) = m.expires_at {
                        meta = format!("{meta} · disappears {}", crate::timefmt::short(t, now));
                    }
                    ui.label(egui::RichText::new(meta).small().weak());
                    if !m.reactions.is_empty() {
                        let r: Vec<String> = m
                            .reactions
                            .iter()
                            .map(|(a, e)| format!("{} {}", peer_text::plain(e), author_name(a)))
                            .collect();
                        ui.label(egui::RichText::new(r.join("  ")).small());
                    }
                });
            })
            .response
    });
    let label = format!("{} message from {who}: {}", g.title(), first_line(text));
    let r = ui.interact(
        frame.inner.rect,
        ui.make_persistent_id(("group-message", m.id)),
        egui::Sense::click(),
    );
    r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
    r.context_menu(|ui| message_menu(ui, g, m));
    if let Some(by) = hidden {
        // Below the bubble: the bubble's own click area covers what is in it.
        ui.with_layout(layout, |ui| {
            ui.label(egui::RichText::new(hidden_words(by)).small().weak());
            if ui.small_button("Hide it again").clicked() {
                g.unhidden.remove(&m.id);
            }
        });
    }
    ui.add_space(4.0);
}

/// "Hidden by you", "Hidden by the forum's creator".
fn hidden_words(by: HiddenBy) -> &'static str {
    match by {
        HiddenBy::You => "Hidden by you",
        HiddenBy::Creator => "Hidden by the forum's creator",
    }
}

/// "The creator hides 2 authors" (a forum's published list), if any.
fn creator_hides_text(n: usize) -> Option<String> {
    match n {
        0 => None,
        1 => Some("The forum's creator hides 1 author for everyone".to_owned()),
        n => Some(format!(
            "The forum's creator hides {n} authors for everyone"
        )),
    }
}

/// A hidden forum post, collapsed: who hides it, and a way to see it.
fn collapsed(ui: &mut egui::Ui, m: &GroupMessageView, by: HiddenBy, g: &mut GroupsUi) {
    let who = author_name(&m.author);
    let label = format!("Post from {who}, {}", hidden_words(by).to_lowercase());
    let r = ui
        .horizontal(|ui| {
            egui::Frame::new()
                .stroke(ui.visuals().widgets.noninteractive.bg_stroke)
                .corner_radius(10.0)
                .inner_margin(egui::Margin::symmetric(10, 4))
                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.add(
                            egui::Label::new(
                                egui::RichText::new(format!("{who} · {}", hidden_words(by)))
                                    .small()
                                    .italics()
                                    .weak(),
                            )
                            .selectable(false),
                        );
                        ui.small_button("Show")
                    })
                    .inner
                })
                .inner
        })
        .inner;
    r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, format!("Show {label}")));
    if r.clicked() {
        g.unhidden.insert(m.id);
    }
    ui.add_space(4.0);
}

/// A post's menu: Reply, a reaction, Delete for me.
fn message_menu(ui: &mut egui::Ui, g: &mut GroupsUi, m: &GroupMessageView) {
    let Some(group) = g.open else {
        return;
    };
    let writable = g.open_view().is_some_and(|v| v.state == GroupState::Member);
    if writable && ui.button("Reply").clicked() {
        g.reply_to = Some(m.clone());
        ui.close();
    }
    if writable {
        let mine = m
            .reactions
            .iter()
            .find(|(a, _)| *a == Author::You)
            .map(|(_, e)| e.clone());
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
                    g.todo.push(Do::React {
                        group,
                        id: m.id,
                        emoji: (!current).then(|| (*e).to_owned()),
                    });
                    ui.close();
                }
            }
        });
        ui.separator();
    }
    if ui
        .button("Delete for me")
        .on_hover_text("Members keep their copies")
        .clicked()
    {
        g.todo.push(Do::DeleteForMe(group, m.id));
        ui.close();
    }
    if g.forum() && m.author != Author::You {
        ui.separator();
        let ours = g
            .open_view()
            .is_some_and(|v| v.ours && v.state == GroupState::Member);
        if hide_buttons(ui, g, group, m.author_key, &author_name(&m.author), ours) {
            ui.close();
        }
    }
}

/// A forum's hide buttons for one author: for ourselves, and (its creator)
/// for everyone. Whether one was clicked.
fn hide_buttons(
    ui: &mut egui::Ui,
    g: &mut GroupsUi,
    forum: GroupId,
    key: [u8; 32],
    who: &str,
    creator: bool,
) -> bool {
    let mut clicked = false;
    let yours = g.hidden_lists.yours.contains(&key);
    let (words, hover) = if yours {
        (format!("Unhide {who}"), "Show their posts again, here only")
    } else {
        (
            format!("Hide {who}"),
            "Their posts show collapsed, here only; nobody is told",
        )
    };
    if ui.button(&words).on_hover_text(hover).clicked() {
        g.todo.push(Do::Hide(forum, key, !yours));
        clicked = true;
    }
    if creator {
        let listed = g.hidden_lists.creator.contains(&key);
        let mut list = g.hidden_lists.creator.clone();
        let words = if listed {
            list.retain(|k| *k != key);
            format!("Unhide {who} for everyone")
        } else {
            list.push(key);
            format!("Hide {who} for everyone")
        };
        if ui
            .button(&words)
            .on_hover_text("Publishes the forum's hidden list: every member's app honours it")
            .clicked()
        {
            g.todo.push(Do::Publish(forum, list));
            clicked = true;
        }
    }
    clicked
}

/// The group header's menu.
fn group_menu(ui: &mut egui::Ui, g: &mut GroupsUi, v: &GroupView) {
    let member = v.state == GroupState::Member;
    // Any member of a forum invites; only a private group's creator does.
    if (v.ours || g.forum()) && member && ui.button("Invite…").clicked() {
        g.inviting = true;
        ui.close();
    }
    if ui.button("Members…").clicked() {
        g.members_open = true;
        ui.close();
    }
    ui.separator();
    ui.label(egui::RichText::new("Disappearing messages").strong());
    ui.label(
        egui::RichText::new("Here only (each member chooses): posts that arrive from now on.")
            .small()
            .weak(),
    );
    ui.horizontal_wrapped(|ui| {
        for t in DisappearTimer::ALL {
            if ui.small_button(timer_name(t)).clicked() {
                g.todo.push(Do::Disappear(v.id, t));
                ui.close();
            }
        }
    });
    ui.separator();
    for (h, words) in [
        (HistoryPolicy::Keep, "Keep history"),
        (
            HistoryPolicy::Session,
            "Delete history when I close the app",
        ),
    ] {
        if ui.button(words).clicked() {
            g.todo.push(Do::History(v.id, h));
            ui.close();
        }
    }
    if ui.button("Clear history…").clicked() {
        g.confirm = Some(Ask::Clear(v.id));
        ui.close();
    }
    ui.separator();
    let noun = g.noun();
    if matches!(v.state, GroupState::Member | GroupState::Joining) {
        // A forum's creator leaves it like anyone: it lives on.
        if v.ours && !g.forum() {
            if ui.button("Dissolve group…").clicked() {
                g.confirm = Some(Ask::Dissolve(v.id));
                ui.close();
            }
        } else if ui.button(format!("Leave {noun}…")).clicked() {
            g.confirm = Some(Ask::Leave(v.id));
            ui.close();
        }
    } else if ui.button(format!("Delete {noun}…")).clicked() {
        g.confirm = Some(Ask::Delete(v.id));
        ui.close();
    }
}

/// The "Replying to …" line above the composer, with its cancel mark.
fn replying_line(ui: &mut egui::Ui, g: &mut GroupsUi) {
    let Some(m) = &g.reply_to else {
        return;
    };
    let text = match &m.body {
        GroupLine::Post(t) => first_line(t),
        _ => String::new(),
    };
    let quote = format!("{}: {text}", author_name(&m.author));
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
        g.reply_to = None;
    }
}

/// A press of Enter with no modifier.
fn is_plain_enter(e: &egui::Event) -> bool {
    matches!(
        e,
        egui::Event::Key {
            key: egui::Key::Enter,
            pressed: true,
            modifiers,
            ..
        } if modifiers.is_none()
    )
}

fn composer(ui: &mut egui::Ui, g: &mut GroupsUi, group: GroupId) {
    let id = ui.make_persistent_id(("group-composer", g.kind));
    let label = format!("{} message", g.title());
    let hint = format!(
        "Write to the {} (Enter sends, Shift+Enter: new line)",
        g.noun()
    );
    let has_focus = ui.memory(|m| m.has_focus(id));
    let mut send = has_focus
        && !g.sending
        && ui.input_mut(|i| {
            let before = i.events.len();
            i.events.retain(|e| !is_plain_enter(e));
            i.events.len() != before
        });
    ui.horizontal(|ui| {
        let w = ui.available_width() - 70.0;
        ui.add(
            egui::TextEdit::multiline(&mut g.composer)
                .id(id)
                .desired_rows(2)
                .desired_width(w.max(80.0))
                .return_key(egui::KeyboardShortcut::new(
                    egui::Modifiers::SHIFT,
                    egui::Key::Enter,
                ))
                .hint_text(hint),
        )
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::MultilineTextInput, true, &label));
        if ui
            .add_enabled(!g.sending, egui::Button::new("Post"))
            .clicked()
        {
            send = true;
        }
    });
    if send && !g.composer.trim().is_empty() {
        let text = std::mem::take(&mut g.composer);
        g.sending = true;
        g.unsent = Some(text.clone());
        let parent = g.reply_to.take().map(|m| m.id);
        g.todo.push(Do::Post {
            group,
            text,
            parent,
        });
        ui.memory_mut(|m| m.request_focus(id));
    }
}

/// The groups' and the forums' dialogs: new, invite, members, confirms.
pub(crate) fn dialogs(s: &mut Session, ctx: &egui::Context) {
    for kind in [GroupKind::Group, GroupKind::Forum] {
        new_group_dialog(s, kind, ctx);
        invite_dialog(s, kind, ctx);
        members_dialog(s, kind, ctx);
        confirm_dialog(s, kind, ctx);
    }
}

fn new_group_dialog(s: &mut Session, kind: GroupKind, ctx: &egui::Context) {
    let name = s.profile.name().to_owned();
    let g = s.space(kind);
    let (title, about, verb) = if g.forum() {
        (
            "New forum",
            "A forum: any member may invite their contacts, and only members see its \
             posts. You may hide authors for everyone; each member may hide authors for \
             themselves. Members who are not your contacts see your address, shortened.",
            "Create forum",
        )
    } else {
        (
            "New group",
            "A private group: you invite contacts, and only members see its messages. \
             Members who are not your contacts see your address, shortened.",
            "Create group",
        )
    };
    let Some(d) = g.new_group.as_mut() else {
        return;
    };
    let mut close = false;
    let mut create = false;
    let modal = egui::Modal::new(egui::Id::unique(("new-group", kind, name))).show(ctx, |ui| {
        ui.set_max_width(400.0);
        ui.heading(title);
        ui.add(egui::Label::new(about).wrap());
        ui.add_space(6.0);
        let l = ui.label(format!("{} name", g_title(kind)));
        ui.add(egui::TextEdit::singleline(&mut d.name).hint_text("Garden club"))
            .labelled_by(l.id);
        let l = ui.label("Description (optional)");
        ui.add(egui::TextEdit::multiline(&mut d.description).desired_rows(2))
            .labelled_by(l.id);
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            let ready = !d.busy && !d.name.trim().is_empty();
            if ui.add_enabled(ready, egui::Button::new(verb)).clicked() {
                create = true;
            }
            if d.busy {
                ui.spinner();
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
    });
    if create {
        d.busy = true;
        let todo = Do::Create {
            name: d.name.trim().to_owned(),
            description: d.description.trim().to_owned(),
        };
        g.todo.push(todo);
    }
    if close || modal.should_close() {
        g.new_group = None;
    }
}

/// "Group" or "Forum".
fn g_title(kind: GroupKind) -> &'static str {
    match kind {
        GroupKind::Group | GroupKind::Blog => "Group",
        GroupKind::Forum => "Forum",
    }
}

fn invite_dialog(s: &mut Session, kind: GroupKind, ctx: &egui::Context) {
    let name = s.profile.name().to_owned();
    let (g, contacts) = s.space_with_contacts(kind);
    if !g.inviting {
        return;
    }
    let Some(group) = g.open else {
        g.inviting = false;
        return;
    };
    let members = &g.members;
    let candidates: Vec<(ContactId, String)> = contacts
        .iter()
        .filter(|c| c.state == ContactState::Accepted)
        .filter(|c| {
            !members
                .iter()
                .any(|m| m.address == c.address && m.state == MemberState::Member)
        })
        .map(|c| (c.id, peer_text::name(&c.alias).into_owned()))
        .collect();
    let mut close = false;
    let mut invite = None;
    let noun = g.noun();
    let modal = egui::Modal::new(egui::Id::unique(("invite-group", kind, name))).show(ctx, |ui| {
        ui.set_max_width(400.0);
        ui.heading(format!("Invite to the {noun}"));
        ui.add(
            egui::Label::new(format!(
                "They see the {noun}'s name and your invitation, and join or decline. \
                 Other members see them by their address, shortened, unless they know them."
            ))
            .wrap(),
        );
        ui.add_space(6.0);
        if candidates.is_empty() {
            ui.label("Every contact of yours is a member already.");
        }
        for (id, name) in &candidates {
            let label = format!("Invite {name}");
            if ui.button(&label).clicked() {
                invite = Some(*id);
            }
        }
        ui.add_space(6.0);
        if ui.button("Close").clicked() {
            close = true;
        }
    });
    if let Some(c) = invite {
        g.todo.push(Do::Invite(group, c));
        close = true;
    }
    if close || modal.should_close() {
        g.inviting = false;
    }
}

/// A member's state in words.
fn member_state_words(m: &MemberView) -> &'static str {
    match m.state {
        MemberState::Member => "member",
        MemberState::Left => "left",
        MemberState::Removed => "removed",
    }
}

fn members_dialog(s: &mut Session, kind: GroupKind, ctx: &egui::Context) {
    let name = s.profile.name().to_owned();
    let (g, contacts) = s.space_with_contacts(kind);
    if !g.members_open {
        return;
    }
    let Some(v) = g.open_view().cloned() else {
        g.members_open = false;
        return;
    };
    let mut close = false;
    let mut asked = vec![];
    let members = std::mem::take(&mut g.members);
    let about = if g.forum() {
        "Your app syncs the forum with every member who is your contact. Hiding an \
         author is for you only; nobody is told."
    } else {
        "Your app syncs the group with the creator, and with members who are your \
         contacts once you both reveal it."
    };
    let modal = egui::Modal::new(egui::Id::unique(("group-members", kind, name))).show(ctx, |ui| {
        ui.set_max_width(440.0);
        ui.heading(format!("Members of “{}”", peer_text::name(&v.name)));
        ui.add(egui::Label::new(about).wrap());
        ui.add_space(6.0);
        for m in &members {
            ui.group(|ui| {
                ui.set_width(ui.available_width());
                let mut words = vec![member_state_words(m)];
                if m.creator {
                    words.push("creator");
                }
                if m.direct {
                    words.push("direct");
                }
                if g.hidden_lists.yours.contains(&m.key) {
                    words.push("hidden by you");
                }
                if g.hidden_lists.creator.contains(&m.key) {
                    words.push("hidden by the creator");
                }
                let who = author_name(&m.who);
                let line = format!("{who} · {}", words.join(" · "));
                let mut text = egui::RichText::new(line);
                if m.state != MemberState::Member {
                    text = text.weak();
                }
                ui.label(text);
                ui.horizontal_wrapped(|ui| {
                    let contact = contacts.iter().find(|c| c.address == m.address);
                    if let Some(c) = contact
                        && !g.forum()
                        && m.state == MemberState::Member
                        && v.state == GroupState::Member
                    {
                        if m.we_revealed {
                            ui.label(egui::RichText::new("you revealed").small().weak());
                        } else if ui
                            .small_button("Reveal contact")
                            .on_hover_text(
                                "Tell them you know each other, so your apps may sync \
                                 the group directly once they do too",
                            )
                            .clicked()
                        {
                            asked.push(Do::Reveal(v.id, c.id));
                        }
                    }
                    if m.they_revealed {
                        ui.label(egui::RichText::new("they revealed").small().weak());
                    }
                    if g.forum() && m.who != Author::You {
                        let _shown_in_place = hide_buttons(
                            ui,
                            g,
                            v.id,
                            m.key,
                            &who,
                            v.ours && v.state == GroupState::Member,
                        );
                    }
                    if v.ours
                        && !g.forum()
                        && v.state == GroupState::Member
                        && !m.creator
                        && m.state == MemberState::Member
                    {
                        let label = format!("Remove {who}");
                        let r = ui.small_button("Remove");
                        r.widget_info(|| {
                            egui::WidgetInfo::labeled(egui::Role::Button, true, &label)
                        });
                        if r.clicked() {
                            asked.push(Do::Remove(v.id, m.key));
                        }
                    }
                });
            });
        }
        ui.add_space(6.0);
        if ui.button("Close").clicked() {
            close = true;
        }
    });
    g.members = members;
    g.todo.extend(asked);
    if close || modal.should_close() {
        g.members_open = false;
    }
}

fn confirm_dialog(s: &mut Session, kind: GroupKind, ctx: &egui::Context) {
    let name = s.profile.name().to_owned();
    let space = s.space(kind);
    let Some(ask) = space.confirm else {
        return;
    };
    let (title, body, verb, then) = match ask {
        Ask::Leave(g) if kind == GroupKind::Forum => (
            "Leave the forum?",
            "Members are told you left, and you get nothing written after; the forum \
             lives on. Its history stays here until you delete the forum.",
            "Leave forum",
            Do::Leave(g),
        ),
        Ask::Clear(g) if kind == GroupKind::Forum => (
            "Clear the forum's history?",
            "Every post of the forum is deleted on this computer. The forum stays, \
             and members keep their copies.",
            "Clear history",
            Do::Clear(g),
        ),
        Ask::Delete(g) if kind == GroupKind::Forum => (
            "Delete the forum?",
            "The forum and its whole history are deleted on this computer.",
            "Delete forum",
            Do::Delete(g),
        ),
        Ask::Leave(g) => (
            "Leave the group?",
            "Members are told you left, and you get nothing written after. \
             Its history stays here until you delete the group.",
            "Leave group",
            Do::Leave(g),
        ),
        Ask::Dissolve(g) => (
            "Dissolve the group?",
            "It ends for every member: nobody can post in it any more. \
             Its history stays here until you delete the group.",
            "Dissolve",
            Do::Dissolve(g),
        ),
        Ask::Clear(g) => (
            "Clear the group's history?",
            "Every message of the group is deleted on this computer. The group stays, \
             and members keep their copies.",
            "Clear history",
            Do::Clear(g),
        ),
        Ask::Delete(g) => (
            "Delete the group?",
            "The group and its whole history are deleted on this computer.",
            "Delete group",
            Do::Delete(g),
        ),
    };
    let mut done = false;
    let mut confirmed = false;
    let modal = egui::Modal::new(egui::Id::unique(("confirm-group", kind, name))).show(ctx, |ui| {
        ui.set_max_width(380.0);
        ui.heading(title);
        ui.add(egui::Label::new(body).wrap());
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let red = ui.visuals().error_fg_color;
            if ui.button(egui::RichText::new(verb).color(red)).clicked() {
                confirmed = true;
                done = true;
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
    });
    if confirmed {
        if matches!(then, Do::Delete(_)) {
            space.close();
        }
        space.todo.push(then);
    }
    if done || modal.should_close() {
        space.confirm = None;
    }
}

/// Make the engine calls asked for this frame.
pub(crate) fn perform(app: &mut KithApp, active: &str) {
    let Some(s) = app.session_mut(active) else {
        return;
    };
    let mut todo: Vec<(GroupKind, Do)> = vec![];
    for g in [&mut s.groups, &mut s.forums] {
        todo.extend(std::mem::take(&mut g.todo).into_iter().map(|d| (g.kind, d)));
    }
    let p = s.profile.clone();
    for (kind, d) in todo {
        let p = p.clone();
        let profile = active.to_owned();
        app.backend.spawn(async move {
            let what = d.doing(kind);
            let posted = matches!(d, Do::Post { .. });
            let forum = kind == GroupKind::Forum;
            let result = match d {
                Do::Create { name, description } if forum => p
                    .create_forum(&name, &description)
                    .await
                    .map(|g| Some(g.id)),
                Do::Create { name, description } => p
                    .create_group(&name, &description)
                    .await
                    .map(|g| Some(g.id)),
                Do::Invite(g, c) if forum => p.invite_to_forum(g, c).await.map(|()| None),
                Do::Invite(g, c) => p.invite_to_group(g, c).await.map(|()| None),
                Do::Answer {
                    from,
                    group,
                    accept,
                } if forum => p
                    .answer_forum_invitation(from, group, accept)
                    .await
                    .map(|()| accept.then_some(group)),
                Do::Answer {
                    from,
                    group,
                    accept,
                } => p
                    .answer_group_invitation(from, group, accept)
                    .await
                    .map(|()| accept.then_some(group)),
                Do::Post {
                    group,
                    text,
                    parent,
                } if forum => p.post_to_forum(group, &text, parent).await.map(|_| None),
                Do::Post {
                    group,
                    text,
                    parent,
                } => p.post_to_group(group, &text, parent).await.map(|_| None),
                Do::React { group, id, emoji } => p
                    .react_in_group(group, id, emoji.as_deref())
                    .await
                    .map(|()| None),
                Do::DeleteForMe(g, id) => p.delete_group_message(g, id).await.map(|_| None),
                Do::Leave(g) if forum => p.leave_forum(g).await.map(|()| None),
                Do::Leave(g) | Do::Dissolve(g) => p.leave_group(g).await.map(|()| None),
                Do::Remove(g, k) => p.remove_from_group(g, k).await.map(|()| None),
                Do::Reveal(g, c) => p.reveal_in_group(g, c).await.map(|()| None),
                Do::Disappear(g, t) => p.set_group_disappear(g, t).await.map(|()| None),
                Do::History(g, h) => p.set_group_history(g, h).await.map(|()| None),
                Do::Clear(g) => p.clear_group_history(g).await.map(|_| None),
                Do::Delete(g) => p.delete_group(g).await.map(|()| None),
                Do::Hide(g, author, hide) => p.hide_in_forum(g, author, hide).await.map(|()| None),
                Do::Publish(g, authors) => p.publish_hidden(g, &authors).await.map(|()| None),
            };
            Reply::Groups {
                profile,
                kind,
                reply: GroupReply::Done {
                    what,
                    posted,
                    result,
                },
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_in_words_show_peer_text_inert() {
        assert_eq!(
            invite_text("alice", "Garden"),
            "alice invites you to Garden"
        );
        assert!(!invite_text("al\u{202E}ice", "Gar\u{202E}den").contains('\u{202E}'));
        assert_eq!(author_name(&Author::You), "You");
        assert_eq!(author_name(&Author::Contact("b\u{202E}ob".into())), "bob");
        assert_eq!(missing_text(0), None);
        assert_eq!(
            missing_text(1).as_deref(),
            Some("1 message not yet received")
        );
        assert_eq!(
            missing_text(3).as_deref(),
            Some("3 messages not yet received")
        );
        assert_eq!(state_words(GroupKind::Group, GroupState::Member), None);
        assert_eq!(
            state_words(GroupKind::Forum, GroupState::Left),
            Some("you left")
        );
        assert!(
            state_words(GroupKind::Forum, GroupState::Joining)
                .is_some_and(|w| w.contains("the member who invited you"))
        );
        assert_eq!(creator_hides_text(0), None);
        assert_eq!(
            creator_hides_text(2).as_deref(),
            Some("The forum's creator hides 2 authors for everyone")
        );
        assert_eq!(hidden_words(HiddenBy::You), "Hidden by you");
        assert_eq!(
            Do::Leave(GroupId([0; 32])).doing(GroupKind::Forum),
            "Leaving the forum"
        );
        assert_eq!(
            Do::Leave(GroupId([0; 32])).doing(GroupKind::Group),
            "Leaving the group"
        );
        assert_eq!(members_words(1), "1 member");
        assert_eq!(members_words(2), "2 members");
    }

    fn view(id: u8, name: &str, unread: u64) -> GroupView {
        GroupView {
            id: GroupId([id; 32]),
            name: name.into(),
            description: String::new(),
            kind: GroupKind::Group,
            ours: false,
            state: GroupState::Member,
            members: 3,
            unread,
            missing: 0,
        }
    }

    #[test]
    fn news_are_posts_that_became_unread_in_groups_already_listed() {
        let before = [view(1, "Garden", 2), view(2, "Choir", 0)];
        // Nothing new: the same counts, fewer (read), or the first reading.
        assert_eq!(news_between(&before, &before), None);
        assert_eq!(news_between(&before, &[view(1, "Garden", 0)]), None);
        assert_eq!(news_between(&[], &before), None);
        // A group just joined with history tells nothing new either.
        assert_eq!(news_between(&before, &[view(3, "New", 40)]), None);
        let after = [view(1, "Garden", 3), view(2, "Choir", 2)];
        assert_eq!(
            news_between(&before, &after),
            Some(News {
                posts: 3,
                group: "Garden".into()
            })
        );
    }
}
