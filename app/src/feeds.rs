//! Feeds (issue 11 § 3): the "Feeds" entry in the contacts panel and its
//! view: subscribe by URL, the subscriptions with their unread count and
//! last error, a feed's items (unread marked), fetch now, mark read, repost
//! an item to one's blog, unsubscribe. Feeds are fetched by the node, only over Tor: on another
//! network "Fetch now" shows the node's refusal. Titles, links and
//! summaries are the feed server's text, shown through `peer_text`.

use kith_node::{Error, FeedId, FeedItemView, FeedView, Profile};

use crate::app::{KithApp, Session};
use crate::backend::{Backend, Reply};

/// The sign before "Feeds" in the contacts panel.
const ENTRY_SIGN: &str = "📰";

/// What the person asked for this frame.
#[derive(Debug, Clone)]
pub(crate) enum Ask {
    Subscribe(String, Option<String>),
    Fetch(Option<FeedId>),
    Read(FeedId, u32),
    ReadAll(FeedId),
    Unsubscribe(FeedId),
    /// Repost an item to our blog.
    Repost(FeedId, u32),
}

impl Ask {
    fn failed_text(&self) -> &'static str {
        match self {
            Ask::Subscribe(..) => "Subscribing failed",
            Ask::Fetch(_) => "Fetching failed",
            Ask::Read(..) | Ask::ReadAll(_) => "Marking read failed",
            Ask::Unsubscribe(_) => "Unsubscribing failed",
            Ask::Repost(..) => "Reposting failed",
        }
    }
}

/// The feeds of one profile, as the app shows them.
#[derive(Default)]
pub(crate) struct FeedsUi {
    /// The view is shown.
    pub(crate) open: bool,
    /// The subscriptions.
    pub(crate) feeds: Vec<FeedView>,
    /// The feed whose items are shown.
    pub(crate) selected: Option<FeedId>,
    /// Its items, newest first.
    pub(crate) items: Vec<FeedItemView>,
    /// The URL being typed.
    pub(crate) url: String,
    /// The name being typed (optional).
    pub(crate) name: String,
    /// Read again soon.
    pub(crate) dirty: bool,
    pub(crate) loading: bool,
    /// A call is running (fetches take seconds over Tor).
    pub(crate) busy: usize,
    /// The last call's outcome, in words.
    pub(crate) note: Option<Result<String, String>>,
    asked: Vec<Ask>,
}

impl FeedsUi {
    /// Read at the first frame (the entry shows the unread count).
    pub(crate) fn new() -> Self {
        FeedsUi {
            dirty: true,
            ..Default::default()
        }
    }

    /// Start showing the feeds.
    pub(crate) fn show(&mut self) {
        self.open = true;
        self.dirty = true;
    }

    /// Stop showing them.
    pub(crate) fn hide(&mut self) {
        self.open = false;
        self.note = None;
    }

    /// Unread items in all feeds.
    pub(crate) fn unread(&self) -> usize {
        self.feeds.iter().map(|f| f.unread as usize).sum()
    }

    /// The subscriptions and the selected feed's items were read.
    pub(crate) fn loaded(&mut self, result: Result<(Vec<FeedView>, Vec<FeedItemView>), Error>) {
        self.loading = false;
        match result {
            Ok((feeds, items)) => {
                if self
                    .selected
                    .is_some_and(|s| !feeds.iter().any(|f| f.id == s))
                {
                    self.selected = None;
                }
                self.feeds = feeds;
                self.items = items;
            }
            Err(e) => self.note = Some(Err(format!("Reading feeds: {e}"))),
        }
    }

    /// A call ended.
    pub(crate) fn done(&mut self, ask: &Ask, result: Result<String, Error>) {
        self.busy = self.busy.saturating_sub(1);
        self.dirty = true;
        match result {
            Ok(text) if text.is_empty() => {}
            Ok(text) => self.note = Some(Ok(text)),
            Err(e) => self.note = Some(Err(format!("{}: {e}", ask.failed_text()))),
        }
        if let (Ask::Subscribe(..), Some(Ok(_))) = (ask, &self.note) {
            self.url.clear();
            self.name.clear();
        }
    }
}

/// Read the feeds (and the selected one's items).
pub(crate) fn load(backend: &Backend, profile: &Profile, selected: Option<FeedId>) {
    let p = profile.clone();
    backend.spawn(async move {
        let result = async {
            let feeds = p.feeds().await?;
            let items = match selected {
                Some(f) if feeds.iter().any(|v| v.id == f) => p.feed_items(f).await?,
                _ => vec![],
            };
            Ok((feeds, items))
        }
        .await;
        Reply::Feeds {
            profile: p.name().to_owned(),
            result,
        }
    });
}

/// "Feeds, 3 unread": the entry's words for screen readers.
pub(crate) fn entry_label(unread: usize) -> String {
    match unread {
        0 => "Feeds".to_owned(),
        n => format!("Feeds, {n} unread"),
    }
}

/// The "Feeds" entry in the contacts panel. Clicked: shows them.
pub(crate) fn entry(ui: &mut egui::Ui, feeds: &FeedsUi) -> bool {
    let unread = feeds.unread();
    let selected = feeds.open;
    let r = crate::main_view::list_row(ui, selected, |ui| {
        ui.horizontal(|ui| {
            ui.add(
                egui::Label::new(egui::RichText::new(format!("{ENTRY_SIGN} Feeds")).strong())
                    .selectable(false),
            );
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if unread > 0 {
                    crate::main_view::badge(ui, unread);
                }
            });
        });
    })
    .on_hover_text("RSS and Atom feeds, fetched only through Tor");
    let label = entry_label(unread);
    r.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &label));
    r.clicked()
}

/// A feed's line in the list: name, counts, and its last error if any.
pub(crate) fn feed_text(f: &FeedView) -> String {
    let mut t = crate::peer_text::name(&f.name).to_string();
    if f.last_fetch.is_none() {
        t.push_str(" · not fetched yet");
    } else {
        t.push_str(&format!(" · {} unread of {}", f.unread, f.items));
    }
    t
}

/// A feed's last error, in words.
pub(crate) fn error_text(f: &FeedView) -> Option<String> {
    f.error
        .as_ref()
        .map(|e| format!("Last fetch failed: {}", crate::peer_text::name(&e.message)))
}

/// The feeds view.
pub(crate) fn view(s: &mut Session, ui: &mut egui::Ui) {
    let f = &mut s.feeds;
    ui.heading("Feeds");
    ui.label(
        egui::RichText::new(
            "Fetched only through Tor, every few hours and when you ask. \
             Feed servers see a Tor user, never your address.",
        )
        .weak(),
    );
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        let l = ui.label("Feed URL");
        ui.add(
            egui::TextEdit::singleline(&mut f.url)
                .hint_text("https://… or http://….onion/…")
                .desired_width(320.0),
        )
        .labelled_by(l.id);
    });
    ui.horizontal(|ui| {
        let l = ui.label("Name (optional)");
        ui.add(egui::TextEdit::singleline(&mut f.name).desired_width(140.0))
            .labelled_by(l.id);
        let ready = !f.url.trim().is_empty();
        if ui
            .add_enabled(ready, egui::Button::new("Subscribe"))
            .clicked()
        {
            let name = Some(f.name.trim().to_owned()).filter(|n| !n.is_empty());
            f.asked.push(Ask::Subscribe(f.url.trim().to_owned(), name));
        }
    });
    ui.horizontal(|ui| {
        if ui
            .add_enabled(!f.feeds.is_empty(), egui::Button::new("Fetch all now"))
            .clicked()
        {
            f.asked.push(Ask::Fetch(None));
        }
        if f.busy > 0 {
            ui.spinner();
        }
    });
    match &f.note {
        Some(Ok(t)) => {
            ui.label(t.as_str());
        }
        Some(Err(t)) => {
            ui.colored_label(ui.visuals().error_fg_color, t.as_str());
        }
        None => {}
    }
    ui.separator();
    if f.feeds.is_empty() {
        ui.label("No feeds yet: subscribe to one by its URL.");
        return;
    }
    egui::ScrollArea::vertical().show(ui, |ui| {
        for feed in &f.feeds {
            let chosen = f.selected == Some(feed.id);
            ui.horizontal(|ui| {
                if ui.selectable_label(chosen, feed_text(feed)).clicked() {
                    f.selected = if chosen { None } else { Some(feed.id) };
                    f.items.clear();
                    f.dirty = true;
                }
                if ui.small_button("Fetch now").clicked() {
                    f.asked.push(Ask::Fetch(Some(feed.id)));
                }
                if feed.unread > 0 && ui.small_button("Mark all read").clicked() {
                    f.asked.push(Ask::ReadAll(feed.id));
                }
                if ui.small_button("Unsubscribe").clicked() {
                    f.asked.push(Ask::Unsubscribe(feed.id));
                }
            });
            if let Some(e) = error_text(feed) {
                ui.colored_label(ui.visuals().warn_fg_color, e);
            }
            if chosen {
                items(ui, f.selected, &f.items, &mut f.asked);
            }
        }
    });
}

fn items(ui: &mut egui::Ui, feed: Option<FeedId>, items: &[FeedItemView], asked: &mut Vec<Ask>) {
    let Some(feed) = feed else { return };
    ui.indent("items", |ui| {
        if items.is_empty() {
            ui.label(egui::RichText::new("No items yet.").weak());
        }
        for i in items {
            ui.group(|ui| {
                ui.set_width(ui.available_width());
                let title = if i.title.is_empty() {
                    "(no title)".to_owned()
                } else {
                    crate::peer_text::name(&i.title).to_string()
                };
                let mut t = egui::RichText::new(title);
                if !i.read {
                    t = t.strong();
                }
                ui.horizontal(|ui| {
                    ui.label(t);
                    if !i.read {
                        ui.label(egui::RichText::new("new").small().weak());
                        if ui.small_button("Mark read").clicked() {
                            asked.push(Ask::Read(feed, i.number));
                        }
                    }
                });
                if let Some(l) = &i.link {
                    // Shown, not opened: opening is the person's choice, in
                    // a browser Kith does not control.
                    ui.label(
                        egui::RichText::new(crate::peer_text::name(l))
                            .small()
                            .weak(),
                    );
                }
                if !i.summary.is_empty() {
                    ui.label(crate::peer_text::name(&i.summary));
                }
                if ui
                    .small_button("Repost to my blog")
                    .on_hover_text(
                        "Post its title, link and summary to your blog, for your contacts to read",
                    )
                    .clicked()
                {
                    asked.push(Ask::Repost(feed, i.number));
                }
            });
        }
    });
}

/// Carry out what was asked this frame.
pub(crate) fn perform(app: &mut KithApp, active: &str) {
    let Some(s) = app.session_mut(active) else {
        return;
    };
    let asked = std::mem::take(&mut s.feeds.asked);
    s.feeds.busy += asked.len();
    let p = s.profile.clone();
    for ask in asked {
        let p = p.clone();
        let profile = active.to_owned();
        app.backend.spawn(async move {
            let result = match &ask {
                Ask::Subscribe(url, name) => p
                    .subscribe_feed(url, name.as_deref())
                    .await
                    .map(|f| format!("Subscribed to {}.", crate::peer_text::name(&f.name))),
                Ask::Fetch(None) => p.fetch_all_feeds().await.map(|o| {
                    let new: u32 = o.iter().map(|x| x.new_items).sum();
                    let failed = o.iter().filter(|x| x.feed.error.is_some()).count();
                    fetched_text(new, failed)
                }),
                Ask::Fetch(Some(f)) => p
                    .fetch_feed(*f)
                    .await
                    .map(|o| fetched_text(o.new_items, usize::from(o.feed.error.is_some()))),
                Ask::Read(f, n) => p.mark_feed_item(*f, *n, true).await.map(|()| String::new()),
                Ask::ReadAll(f) => p.mark_feed_read(*f).await.map(|()| String::new()),
                Ask::Unsubscribe(f) => p.unsubscribe_feed(*f).await.map(|()| String::new()),
                Ask::Repost(f, n) => p
                    .repost_feed_item(*f, *n, None)
                    .await
                    .map(|_| "Reposted to your blog.".to_owned()),
            };
            Reply::FeedsDone {
                profile,
                ask,
                result,
            }
        });
    }
}

/// "2 new items", "Nothing new; 1 feed failed".
pub(crate) fn fetched_text(new: u32, failed: usize) -> String {
    let new = match new {
        0 => "Nothing new".to_owned(),
        1 => "1 new item".to_owned(),
        n => format!("{n} new items"),
    };
    match failed {
        0 => format!("{new}."),
        1 => format!("{new}; 1 feed failed (see below)."),
        n => format!("{new}; {n} feeds failed (see below)."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(entry_label(0), "Feeds");
        assert_eq!(entry_label(3), "Feeds, 3 unread");
        assert_eq!(fetched_text(0, 0), "Nothing new.");
        assert_eq!(fetched_text(1, 0), "1 new item.");
        assert_eq!(
            fetched_text(5, 2),
            "5 new items; 2 feeds failed (see below)."
        );
    }
}
