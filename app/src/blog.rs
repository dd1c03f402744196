//! The blog in the app: a "Blog" entry in the left list, and its view in
//! the chat pane: our blog on or off, a composer to post to it, and the
//! feed (our posts and our contacts', newest first, each with its
//! comments; a reblog with the post it carries, named by its author), with
//! "Comment" and "Reblog" on each post. Every engine call runs on the
//! backend; the node's `GroupsChanged` and `GroupMessages` events re-read
//! the feed while it is shown.

use kith_core::Timestamp;
use kith_node::{BlogPostView, Error, GroupMessageId, GroupMessageView, Profile};

use crate::app::{KithApp, Session};
use crate::backend::Reply;
use crate::groups::author_name;
use crate::peer_text;

/// The sign before "Blog" in the left list.
pub(crate) const ENTRY_SIGN: &str = "📝";

/// The blog as the app holds it.
#[derive(Default)]
pub(crate) struct BlogUi {
    /// Shown in the chat pane.
    pub(crate) open: bool,
    /// The feed, as last read.
    pub(crate) feed: Vec<BlogPostView>,
    /// Whether our blog is on (once read).
    pub(crate) on: Option<bool>,
    /// The feed is stale.
    pub(crate) dirty: bool,
    loading: bool,
    composer: String,
    /// A post or reblog being written.
    busy: bool,
    /// The post (or comment) being commented, and the comment.
    commenting: Option<(GroupMessageId, String)>,
    /// The post being reblogged, and our words.
    reblogging: Option<(GroupMessageId, String)>,
    error: Option<String>,
    todo: Vec<Do>,
}

/// An engine call the view asked for.
enum Do {
    Load,
    Post(String),
    Comment(GroupMessageId, String),
    Reblog(GroupMessageId, String),
    Enable(bool),
}

impl Do {
    fn doing(&self) -> &'static str {
        match self {
            Do::Load => "Reading the blogs",
            Do::Post(_) => "Posting",
            Do::Comment(..) => "Commenting",
            Do::Reblog(..) => "Reblogging",
            Do::Enable(_) => "Turning the blog on or off",
        }
    }
}

/// What came back from the backend.
#[derive(Debug)]
pub(crate) enum BlogReply {
    /// The feed, and whether our blog is on.
    Feed(Result<(Vec<BlogPostView>, bool), Error>),
    /// A post, comment, reblog or switch ended.
    Done {
        /// What it was, for the error line.
        what: &'static str,
        /// How it ended.
        result: Result<(), Error>,
    },
}

impl BlogUi {
    /// Show the blog in the chat pane.
    pub(crate) fn show(&mut self) {
        if !self.open {
            self.open = true;
            self.dirty = true;
        }
    }

    /// Stop showing it.
    pub(crate) fn hide(&mut self) {
        self.open = false;
        self.commenting = None;
        self.reblogging = None;
        self.error = None;
    }

    /// A reply from the backend.
    pub(crate) fn apply(&mut self, reply: BlogReply) {
        match reply {
            BlogReply::Feed(r) => {
                self.loading = false;
                match r {
                    Ok((feed, on)) => {
                        self.feed = feed;
                        self.on = Some(on);
                    }
                    Err(e) => self.error = Some(format!("Reading the blogs failed: {e}")),
                }
            }
            BlogReply::Done { what, result } => {
                self.busy = false;
                if let Err(e) = result {
                    self.error = Some(format!("{what} failed: {e}"));
                }
                self.dirty = true;
            }
        }
    }
}

/// The "Blog" entry in the contacts panel. Clicked: shows the blog.
pub(crate) fn entry(ui: &mut egui::Ui, blog: &BlogUi) -> bool {
    let selected = blog.open;
    let r = crate::main_view::list_row(ui, selected, |ui| {
        ui.horizontal(|ui| {
            ui.add(
                egui::Label::new(egui::RichText::new(format!("{ENTRY_SIGN} Blog")).strong())
                    .selectable(false),
            );
            let sub = match blog.on {
                Some(false) => "yours is off",
                _ => "yours and your contacts'",
            };
            let mut sub = egui::RichText::new(sub).small();
            sub = if selected {
                sub.color(ui.visuals().selection.stroke.color)
            } else {
                sub.weak()
            };
            ui.add(egui::Label::new(sub).selectable(false));
        });
    })
    .on_hover_text("Your blog, read by your contacts, and theirs");
    r.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, "Blog"));
    r.clicked()
}

fn first_line(text: &str) -> String {
    let plain = peer_text::plain(text);
    let line = plain.lines().next().unwrap_or_default();
    line.chars().take(80).collect()
}

/// A post's or comment's text, for its label and its body.
fn text_of(m: &GroupMessageView) -> &str {
    match &m.body {
        kith_node::GroupLine::Post(t) => t,
        _ => "",
    }
}

/// The blog's view in the chat pane.
pub(crate) fn view(s: &mut Session, ui: &mut egui::Ui) {
    let b = &mut s.blog;
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        ui.heading("Blogs");
        ui.with_layout(
            egui::Layout::right_to_left(egui::Align::Center),
            |ui| match b.on {
                Some(true) => {
                    if ui
                        .button("Turn my blog off")
                        .on_hover_text(
                            "Your contacts stop getting your blog; you still read theirs",
                        )
                        .clicked()
                    {
                        b.todo.push(Do::Enable(false));
                    }
                }
                Some(false) => {
                    if ui.button("Turn my blog on").clicked() {
                        b.todo.push(Do::Enable(true));
                    }
                }
                None => {
                    ui.spinner();
                }
            },
        );
    });
    if let Some(e) = b.error.clone() {
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(ui.visuals().error_fg_color, e);
            if ui.small_button("Dismiss").clicked() {
                b.error = None;
            }
        });
    }
    if b.on == Some(false) {
        ui.label("Your blog is off: your contacts do not get it, and you cannot post to it.");
    } else {
        ui.horizontal(|ui| {
            let w = ui.available_width() - 70.0;
            ui.add(
                egui::TextEdit::multiline(&mut b.composer)
                    .desired_rows(2)
                    .desired_width(w.max(80.0))
                    .hint_text("Write to your blog: your contacts read it"),
            )
            .widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::MultilineTextInput, true, "Blog post")
            });
            if ui
                .add_enabled(
                    !b.busy && !b.composer.trim().is_empty(),
                    egui::Button::new("Post"),
                )
                .clicked()
            {
                b.busy = true;
                b.todo
                    .push(Do::Post(std::mem::take(&mut b.composer).trim().to_owned()));
            }
        });
    }
    ui.separator();
    let now = Timestamp::now();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if b.on.is_none() {
                ui.spinner();
            } else if b.feed.is_empty() {
                ui.label("No posts yet. What your contacts post to their blogs shows here.");
            }
            let feed = std::mem::take(&mut b.feed);
            for e in &feed {
                post(ui, b, e, now);
            }
            b.feed = feed;
        });
}

/// One post with its comments and its actions.
fn post(ui: &mut egui::Ui, b: &mut BlogUi, e: &BlogPostView, now: Timestamp) {
    let who = author_name(&e.owner);
    let text = text_of(&e.post);
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        let (title, label) = match &e.reblog_of {
            Some(o) => (
                match o.author {
                    kith_node::Author::You => format!("{who} reblogged your post"),
                    _ => format!("{who} reblogged {}", author_name(&o.author)),
                },
                format!(
                    "Reblog by {who} of {}: {}",
                    author_name(&o.author),
                    first_line(&o.text)
                ),
            ),
            None => (
                who.clone(),
                format!("Blog post from {who}: {}", first_line(text)),
            ),
        };
        let r = ui.add(egui::Label::new(egui::RichText::new(title).strong()).selectable(false));
        r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
        if !text.is_empty() {
            ui.add(egui::Label::new(peer_text::layout(text, ui)).wrap());
        }
        if let Some(o) = &e.reblog_of {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.label(
                    egui::RichText::new(format!(
                        "{} · {}",
                        author_name(&o.author),
                        crate::timefmt::short(o.time, now)
                    ))
                    .small()
                    .weak(),
                );
                ui.add(egui::Label::new(peer_text::layout(&o.text, ui)).wrap());
            });
        }
        ui.label(
            egui::RichText::new(crate::timefmt::short(e.post.time, now))
                .small()
                .weak(),
        );
        for c in &e.comments {
            ui.horizontal_wrapped(|ui| {
                ui.add_space(16.0);
                let cw = author_name(&c.author);
                let r = ui.add(
                    egui::Label::new(
                        egui::RichText::new(format!("{cw}: {}", peer_text::plain(text_of(c))))
                            .small(),
                    )
                    .wrap(),
                );
                let label = format!("Comment from {cw}: {}", first_line(text_of(c)));
                r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
            });
        }
        let short = first_line(text);
        ui.horizontal(|ui| {
            let r = ui.small_button("Comment");
            let label = format!("Comment on {who}: {short}");
            r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
            if r.clicked() {
                b.commenting = Some((e.post.id, String::new()));
                b.reblogging = None;
            }
            // Our own posts are not reblogged; a reblog reblogs its
            // original (not ours either).
            let ours = e.owner == kith_node::Author::You
                || e.reblog_of
                    .as_ref()
                    .is_some_and(|o| o.author == kith_node::Author::You);
            if !ours {
                let r = ui.small_button("Reblog");
                let label = format!("Reblog {who}: {short}");
                r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
                if r.clicked() {
                    b.reblogging = Some((e.post.id, String::new()));
                    b.commenting = None;
                }
            }
        });
        let mut done = None;
        if let Some((id, t)) = b.commenting.as_mut().filter(|(id, _)| *id == e.post.id) {
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(t).hint_text("Your comment"))
                    .widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Your comment")
                    });
                if ui
                    .add_enabled(!t.trim().is_empty(), egui::Button::new("Send comment"))
                    .clicked()
                {
                    done = Some(Do::Comment(*id, t.trim().to_owned()));
                }
                if ui.button("Cancel").clicked() {
                    done = Some(Do::Load);
                }
            });
        }
        if let Some((id, t)) = b.reblogging.as_mut().filter(|(id, _)| *id == e.post.id) {
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(t).hint_text("Your words (optional)"))
                    .widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Your words")
                    });
                if ui.button("Reblog it").clicked() {
                    done = Some(Do::Reblog(*id, t.trim().to_owned()));
                }
                if ui.button("Cancel").clicked() {
                    done = Some(Do::Load);
                }
            });
        }
        if let Some(d) = done {
            b.commenting = None;
            b.reblogging = None;
            if !matches!(d, Do::Load) {
                b.busy = true;
                b.todo.push(d);
            }
        }
    });
    ui.add_space(4.0);
}

/// Run what the view asked for, and read the feed again when it is stale.
pub(crate) fn perform(app: &mut KithApp, active: &str) {
    let Some(s) = app.session_mut(active) else {
        return;
    };
    let b = &mut s.blog;
    let mut todo = std::mem::take(&mut b.todo);
    if b.open && b.dirty && !b.loading {
        b.dirty = false;
        b.loading = true;
        todo.push(Do::Load);
    }
    let p: Profile = s.profile.clone();
    for d in todo {
        let p = p.clone();
        let profile = active.to_owned();
        app.backend.spawn(async move {
            let what = d.doing();
            let reply = match d {
                Do::Load => BlogReply::Feed(load(&p).await),
                Do::Post(t) => done(what, p.post_to_blog(&t).await.map(|_| ())),
                Do::Comment(id, t) => done(what, p.comment_on_blog(id, &t).await.map(|_| ())),
                Do::Reblog(id, t) => done(what, p.reblog(id, &t).await.map(|_| ())),
                Do::Enable(on) => done(what, p.set_blog_enabled(on).await),
            };
            Reply::Blog { profile, reply }
        });
    }
}

fn done(what: &'static str, result: Result<(), Error>) -> BlogReply {
    BlogReply::Done { what, result }
}

async fn load(p: &Profile) -> Result<(Vec<BlogPostView>, bool), Error> {
    let feed = p.blog_feed().await?;
    p.mark_blogs_read().await?;
    Ok((feed, p.blog_enabled()?))
}
