//! The app driven as a person would, through AccessKit labels, with
//! in-process nodes talking TCP on 127.0.0.1 and the fast password hashing.

use std::path::Path;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kith_app::{AppConfig, KithApp};
use kith_node::{
    ContactState, KdfChoice, Kith, KithConfig, LeaveReply, MessageState, Network, NetworkKind,
    NetworkStatus, Password, Profile, ReplyAddress,
};

type H = Harness<'static, KithApp>;

const PASSWORD: &str = "correct horse battery";

fn config(dir: &Path) -> AppConfig {
    AppConfig {
        data_dir: dir.to_path_buf(),
        kdf: KdfChoice::DangerouslyFastForTestingOnly,
        network_override: Some(Network::Tcp {
            listen: "127.0.0.1:0".parse().expect("loopback address"),
        }),
        go_online_on_unlock: true,
        desktop_notifications: false,
    }
}

fn app(dir: &Path) -> H {
    let cfg = config(dir);
    Harness::builder()
        .with_size(egui::vec2(1000.0, 680.0))
        .wgpu()
        .build_eframe(move |cc| {
            // The app applies its theme preference (follow the system); the
            // harness's "system" is dark, so snapshots are dark on every machine.
            KithApp::new(cc, cfg).expect("app starts")
        })
}

/// Step the UI (and let the node work) until `cond` holds.
fn wait(h: &mut H, what: &str, cond: impl Fn(&H) -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        h.step();
        if cond(h) {
            h.step();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {what}");
}

/// Step two apps until `cond` holds.
fn wait2(a: &mut H, b: &mut H, what: &str, cond: impl Fn(&H, &H) -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        a.step();
        b.step();
        if cond(a, b) {
            a.step();
            b.step();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {what}");
}

/// Some node shows this text (several may: a preview and its bubble).
fn has_label(h: &H, label: &str) -> bool {
    h.query_all_by_label_contains(label).next().is_some()
}

/// Scroll the control with this label into view, as a person would before using it.
fn show(h: &mut H, label: &str) {
    h.get_by_label(label).scroll_to_me();
    h.step();
    h.step();
}

/// Type into the field with this label (replacing nothing: fields start empty).
fn fill(h: &mut H, label: &str, text: &str) {
    show(h, label);
    h.get_by_label(label).focus();
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
}

fn click(h: &mut H, label: &str) {
    show(h, label);
    // The pointer rests on the control for a frame before pressing, as a hand's would.
    h.get_by_label(label).hover();
    h.step();
    h.get_by_label(label).click();
    h.step();
    h.step();
}

/// Let go of keyboard focus so no blinking cursor lands in a snapshot.
fn unfocus(h: &mut H) {
    h.ctx.memory_mut(|m| {
        if let Some(id) = m.focused() {
            m.surrender_focus(id);
        }
    });
    h.step();
    h.step();
}

/// Hide what changes from run to run (times, addresses, QR codes).
fn mask_labels(h: &mut H, parts: &[&str]) {
    let mut rects = vec![];
    for p in parts {
        for n in h.query_all_by_label_contains(p) {
            rects.push(n.rect());
        }
    }
    for r in rects {
        h.mask(r.expand(2.0));
    }
}

/// Whether `s` shows a clock time ("09:41").
fn has_clock_time(s: &str) -> bool {
    s.as_bytes()
        .windows(3)
        .any(|w| w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit())
}

/// Hide message times: they change from run to run.
fn mask_times(h: &mut H) {
    let rects: Vec<egui::Rect> = h
        .query_all_by(|n| {
            // AccessKit keeps a label's text in its value.
            let text = if n.role() == egui::accesskit::Role::Label {
                n.value()
            } else {
                n.label()
            };
            text.is_some_and(|t| has_clock_time(&t))
        })
        .map(|n| n.rect())
        .collect();
    for r in rects {
        h.mask(r.expand(2.0));
    }
}

fn create_profile(h: &mut H, name: &str) {
    wait(h, "create screen", |h| h.state().screen_name() == "create");
    fill(h, "Your name (contacts see it)", name);
    fill(h, "Password", PASSWORD);
    fill(h, "Password again", PASSWORD);
    click(h, "Create profile");
    wait(h, "main screen", |h| h.state().screen_name() == "main");
}

fn wait_online(h: &mut H) {
    wait(h, "online", |h| {
        matches!(
            h.state().active_status(),
            Some(NetworkStatus::Online { published: true })
        ) && h
            .state()
            .active_link()
            .is_some_and(|l| l.contains("?tcp=127.0.0.1:"))
    });
}

#[test]
fn onboarding_then_unlock() {
    let dir = tempfile::tempdir().unwrap();
    // One result set for both harnesses (first start, then a later start).
    let mut snapshots = egui_kittest::SnapshotResults::new();
    {
        let mut h = app(dir.path());
        wait(&mut h, "create screen", |h| {
            h.state().screen_name() == "create"
        });
        assert!(has_label(&h, "no phone number"), "the introduction shows");
        assert!(has_label(&h, "There is no password reset"));
        h.snapshot("onboarding");

        // Bad input: the passwords differ.
        fill(&mut h, "Your name (contacts see it)", "Sam");
        fill(&mut h, "Password", PASSWORD);
        fill(&mut h, "Password again", "something else entirely");
        click(&mut h, "Create profile");
        assert!(has_label(&h, "The two passwords are not the same."));
        assert_eq!(h.state().screen_name(), "create");
        h.get_by_label("Password again").focus();
        h.step();
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        h.step();
        h.get_by_label("Password again").type_text(PASSWORD);
        h.step();
        click(&mut h, "Create profile");
        wait(&mut h, "main screen", |h| h.state().screen_name() == "main");
        assert_eq!(h.state().unlocked_names(), ["sam"]);
        h.state_mut().shutdown();
        snapshots.extend_harness(&mut h);
    }
    let mut h = app(dir.path());
    wait(&mut h, "unlock screen", |h| {
        h.state().screen_name() == "unlock"
    });
    assert!(has_label(&h, "sam"));
    h.snapshot("unlock");

    // Bad input: the wrong password.
    fill(&mut h, "Password", "not the password");
    click(&mut h, "Unlock");
    wait(&mut h, "wrong password message", |h| {
        has_label(h, "Wrong password.")
    });
    assert_eq!(h.state().screen_name(), "unlock");

    fill(&mut h, "Password", PASSWORD);
    click(&mut h, "Unlock");
    wait(&mut h, "main screen", |h| h.state().screen_name() == "main");
    wait_online(&mut h);
    h.state_mut().shutdown();
    snapshots.extend_harness(&mut h);
    snapshots.unwrap();
}

#[test]
fn chat_between_two_nodes() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = app(da.path());
    let mut b = app(db.path());
    create_profile(&mut a, "Alice");
    create_profile(&mut b, "Bob");
    wait_online(&mut a);
    wait_online(&mut b);

    // Alice adds Bob by his pasted link.
    let bob_link = b.state().active_link().unwrap();
    click(&mut a, "Add contact");
    fill(&mut a, "Paste their link", &bob_link);
    fill(&mut a, "Name for this contact", "Bob");
    click(&mut a, "Add this contact");
    wait(&mut a, "contact added", |h| {
        h.state().active_contacts().len() == 1
    });

    // Bob sees the request and accepts.
    wait2(&mut a, &mut b, "request at Bob", |_, b| {
        has_label(b, "Calls themselves “Alice” — not verified")
    });
    click(&mut b, "Accept");
    wait2(&mut a, &mut b, "accepted at Alice", |a, _| {
        a.state()
            .active_contacts()
            .first()
            .is_some_and(|c| c.state == ContactState::Accepted && c.online)
    });

    // Alice writes; Enter sends.
    a.get_by_label_contains("Bob, online").click();
    a.step();
    fill(&mut a, "Message", "Hello Bob, it works");
    a.key_press(egui::Key::Enter);
    a.step();
    wait2(&mut a, &mut b, "delivered", |a, _| {
        a.state()
            .open_chat()
            .first()
            .is_some_and(|m| m.state == MessageState::Delivered)
    });
    wait(&mut a, "delivered shown", |h| has_label(h, "delivered"));

    // Bob has one unread message from Alice, opens it, answers over two lines.
    wait(&mut b, "unread at Bob", |h| has_label(h, "1 unread"));
    b.get_by_label_contains("Alice, online").click();
    b.step();
    wait(&mut b, "message at Bob", |h| {
        has_label(h, "Hello Bob, it works")
    });
    fill(&mut b, "Message", "Hi Alice");
    b.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::Enter);
    b.step();
    b.get_by_label("Message").type_text("second line");
    b.step();
    b.key_press(egui::Key::Enter);
    b.step();
    wait2(&mut a, &mut b, "reply at Alice", |a, _| {
        a.state()
            .open_chat()
            .iter()
            .any(|m| m.body == "Hi Alice\nsecond line")
    });
    assert!(
        b.state()
            .open_chat()
            .iter()
            .any(|m| m.body == "Hi Alice\nsecond line")
    );

    // Alice's view: contacts and chat.
    unfocus(&mut a);
    wait(&mut a, "chat settled", |h| {
        has_label(h, "second line") && !has_label(h, "queued")
    });
    mask_times(&mut a);
    mask_labels(&mut a, &["…"]);
    // Times and random addresses change the width of the masked labels (and
    // so of the bubbles around them) from run to run: allow that much.
    a.snapshot_options(
        "contacts_chat",
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(4000),
    );

    // Bob goes offline; Alice's message waits queued and is delivered when he is back.
    b.state_mut().shutdown();
    drop(b);
    wait(&mut a, "Bob offline", |h| {
        h.state()
            .active_contacts()
            .first()
            .is_some_and(|c| !c.online)
    });
    fill(&mut a, "Message", "Are you there?");
    a.key_press(egui::Key::Enter);
    wait(&mut a, "queued", |h| {
        h.state()
            .open_chat()
            .last()
            .is_some_and(|m| m.body == "Are you there?" && m.state == MessageState::Queued)
    });
    assert!(has_label(&a, "queued"));

    // Remove Bob from his row's context menu, after confirming.
    a.get_by_label_contains("Bob, offline").hover();
    a.step();
    a.get_by_label_contains("Bob, offline").click_secondary();
    wait(&mut a, "context menu", |h| has_label(h, "Remove contact…"));
    click(&mut a, "Remove contact…");
    wait(&mut a, "confirmation", |h| has_label(h, "Remove “Bob”?"));
    click(&mut a, "Remove");
    wait(&mut a, "removed", |h| {
        h.state().active_contacts().is_empty()
    });
    assert!(h_has_no_chat(&a));
    a.state_mut().shutdown();
}

/// No conversation is open.
fn h_has_no_chat(h: &H) -> bool {
    h.query_by_label("Message").is_none() && has_label(h, "Choose a contact")
}

#[test]
fn add_contact_dialog_qr_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    create_profile(&mut h, "Alice");
    wait_online(&mut h);
    click(&mut h, "Add contact");
    assert!(h.query_by_label("Your QR code").is_some());
    assert!(h.query_by_label("Copy link").is_some());
    unfocus(&mut h);
    let qr = h.get_by_label("Your QR code").rect();
    let link = h.get_by_label("Your link").rect();
    h.mask(qr);
    h.mask(link);
    // The masked link's width follows its port's digits: a pixel column
    // at its edge can differ from run to run.
    h.snapshot_options(
        "add_contact",
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(100),
    );

    // Nothing typed.
    click(&mut h, "Add this contact");
    assert!(has_label(&h, "Paste the link your contact gave you"));
    // A bad link.
    fill(&mut h, "Paste their link", "kith://not-a-real-address");
    fill(&mut h, "Name for this contact", "Eve");
    click(&mut h, "Add this contact");
    assert!(has_label(&h, "This is not a valid Kith link"));

    // A file that is no picture.
    let junk = dir.path().join("junk.png");
    std::fs::write(&junk, b"hello").unwrap();
    fill(
        &mut h,
        "Picture file (or drop it on the window)",
        junk.to_str().unwrap(),
    );
    click(&mut h, "Scan file");
    wait(&mut h, "not a picture", |h| {
        has_label(h, "not a picture Kith can read")
    });

    // A picture without a QR code.
    let blank = dir.path().join("blank.png");
    image::GrayImage::from_pixel(300, 200, image::Luma([255]))
        .save(&blank)
        .unwrap();
    h.get_by_label("Picture file (or drop it on the window)")
        .focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Picture file (or drop it on the window)")
        .type_text(blank.to_str().unwrap());
    h.step();
    click(&mut h, "Scan file");
    wait(&mut h, "no QR code", |h| {
        has_label(h, "No QR code was found")
    });

    // QR round trip: my code, rendered to a picture, scanned back.
    let mine = h.state().active_link().unwrap();
    let png = kith_app::qr::render_png(&kith_core::ContactLink::parse(&mine).unwrap(), 8).unwrap();
    let qr_file = dir.path().join("qr.png");
    std::fs::write(&qr_file, png).unwrap();
    h.get_by_label("Picture file (or drop it on the window)")
        .focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Picture file (or drop it on the window)")
        .type_text(qr_file.to_str().unwrap());
    h.step();
    click(&mut h, "Scan file");
    wait(&mut h, "scanned", |h| {
        has_label(h, "Read a Kith link from the QR code")
    });
    assert_eq!(
        h.get_by_label("Paste their link").value().as_deref(),
        Some(mine.as_str())
    );
    // Adding myself is refused, in words.
    click(&mut h, "Add this contact");
    wait(&mut h, "own link refused", |h| has_label(h, "own link"));
    assert!(h.state().active_contacts().is_empty());
    h.state_mut().shutdown();
}

const REQUESTS_ON: &str = "Take requests from anyone who has my link";
const REQUESTS_OFF: &str =
    "Take none: my link's address goes offline; only contacts see when I am online";

/// Whether the radio button or checkbox `label` is on.
fn toggled(h: &H, label: &str) -> bool {
    use egui_kittest::kittest::NodeT as _;
    h.query_by_label(label)
        .is_some_and(|n| n.accesskit_node().toggled() == Some(egui::accesskit::Toggled::True))
}

/// Toggled, and enabled: the choice shown is the one read from the node
/// (the radios show a default, disabled, until then).
fn chosen(h: &H, label: &str) -> bool {
    use egui_kittest::kittest::NodeT as _;
    toggled(h, label)
        && h.query_by_label(label)
            .is_some_and(|n| !n.accesskit_node().is_disabled())
}

#[test]
fn settings_dialog() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    create_profile(&mut h, "Alice");
    wait_online(&mut h);
    click(&mut h, "Settings");
    assert!(h.query_by_label("Lock profile").is_some());
    // Contact requests: as the node says (on, by default).
    wait(&mut h, "requests read from the node", |h| {
        chosen(h, REQUESTS_ON)
    });
    assert!(!toggled(&h, REQUESTS_OFF));
    unfocus(&mut h);
    h.snapshot("settings");

    // Requests off: stored by the node, read back when the window opens again.
    click(&mut h, REQUESTS_OFF);
    wait(&mut h, "requests off", |h| chosen(h, REQUESTS_OFF));
    for _ in 0..20 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    click(&mut h, "Close");
    click(&mut h, "Settings");
    wait(&mut h, "requests off, read back from the node", |h| {
        chosen(h, REQUESTS_OFF)
    });
    assert!(!toggled(&h, REQUESTS_ON));

    // Password change: mismatch, then a wrong current password.
    fill(&mut h, "Current password", "wrong current password");
    fill(&mut h, "New password", "a brand new passphrase");
    fill(&mut h, "New password again", "a different passphrase");
    click(&mut h, "Change password");
    assert!(has_label(&h, "The two new passwords are not the same."));
    h.get_by_label("New password again").focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("New password again")
        .type_text("a brand new passphrase");
    h.step();
    click(&mut h, "Change password");
    wait(&mut h, "wrong password", |h| {
        has_label(h, "Wrong password.")
    });

    // Block strangers: saved in the profile.
    click(&mut h, "Block messages and requests from unknown senders");
    wait(&mut h, "saved", |h| has_label(h, "Saved."));

    // Lock: back to the unlock screen.
    click(&mut h, "Lock profile");
    wait(&mut h, "unlock screen", |h| {
        h.state().screen_name() == "unlock"
    });
    assert!(h.state().unlocked_names().is_empty());
    h.state_mut().shutdown();
}

fn loopback() -> Network {
    Network::Tcp {
        listen: "127.0.0.1:0".parse().expect("loopback address"),
    }
}

/// People who are not contacts yet: profiles on an engine of their own in
/// this process, over TCP on 127.0.0.1.
struct Strangers {
    rt: tokio::runtime::Runtime,
    kith: Kith,
    _dir: tempfile::TempDir,
}

impl Strangers {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the strangers");
        let kith = Kith::new(KithConfig {
            data_dir: dir.path().to_path_buf(),
            kdf: KdfChoice::DangerouslyFastForTestingOnly,
        });
        Strangers {
            rt,
            kith,
            _dir: dir,
        }
    }

    /// A new profile named `display` (as they choose), online.
    fn online(&self, profile: &str, display: &str) -> Profile {
        self.rt.block_on(async {
            let p = self
                .kith
                .create_profile(profile, display, Password::new(PASSWORD.into()))
                .await
                .expect("stranger's profile");
            p.go_online(loopback()).await.expect("stranger online");
            p
        })
    }

    /// A new profile named `display` (as they choose) asks `link` to connect.
    fn ask(&self, profile: &str, display: &str, link: &str) -> Profile {
        let link = kith_core::ContactLink::parse(link).expect("the app's link parses");
        let p = self.online(profile, display);
        self.rt
            .block_on(p.add_contact(&link, "them"))
            .expect("stranger adds the app");
        p
    }

    fn shutdown(&self) {
        self.rt.block_on(self.kith.shutdown());
    }
}

fn state_of(h: &H, address: &str) -> Option<ContactState> {
    h.state()
        .active_contacts()
        .iter()
        .find(|c| c.address.to_string() == address)
        .map(|c| c.state)
}

/// A TCP profile says it is not on the public Tor network; a stranger's
/// request shows their full address and their name as theirs, not verified;
/// blocking from the chat and unblocking; declining and restoring; requests
/// over the caps are a count.
#[test]
fn requests_blocking_and_the_network_banner() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    create_profile(&mut h, "Alice");
    wait_online(&mut h);
    assert_eq!(h.state().active_network_kind(), Some(NetworkKind::Tcp));
    // Once in the profile bar, once in the chat header.
    assert_eq!(
        h.query_all_by_label_contains("TCP — not anonymous: LAN/loopback")
            .count(),
        2
    );
    unfocus(&mut h);
    h.snapshot("network_banner");

    // A stranger asks, under a name with a bidi override (the node drops it).
    let strangers = Strangers::new();
    let link = h.state().active_link().unwrap();
    let mallory = strangers.ask("mallory", "Mal\u{202E}lory", &link);
    let address = mallory.address().to_string();
    wait(&mut h, "request card", |h| {
        has_label(h, "Calls themselves “Mallory” — not verified")
    });
    assert!(has_label(&h, &address), "the full address shows");
    unfocus(&mut h);
    mask_labels(&mut h, &[&address]);
    h.snapshot("request_card");

    // Accepted, they write text with control and bidi characters: shown as codes.
    click(&mut h, "Accept");
    wait(&mut h, "accepted and online", |h| {
        h.state()
            .active_contacts()
            .iter()
            .any(|c| c.state == ContactState::Accepted && c.online)
    });
    let them = strangers
        .rt
        .block_on(async { mallory.contacts().await.unwrap()[0].id });
    strangers
        .rt
        .block_on(mallory.send(them, "red \u{1b}[31malert\u{202E}gnp.exe"))
        .unwrap();
    h.get_by_label_contains("Mallory, online").click();
    h.step();
    wait(&mut h, "message with codes", |h| {
        has_label(h, "red [U+001B][31malert[U+202E]gnp.exe")
    });

    // Block from the chat's menu, after confirming.
    click(&mut h, "Contact menu");
    click(&mut h, "Block…");
    // A new window is laid out unseen for a frame, then shows.
    wait(&mut h, "confirmation", |h| has_label(h, "Block “Mallory”?"));
    unfocus(&mut h);
    mask_times(&mut h);
    // Mallory's key is new every run: whatever shows it, in full or cut.
    mask_labels(&mut h, &["…", &address, &address[..16]]);
    h.snapshot_options(
        "confirm_block",
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(1000),
    );
    click(&mut h, "Block");
    wait(&mut h, "blocked", |h| {
        state_of(h, &address) == Some(ContactState::Blocked)
    });
    wait(&mut h, "blocked section", |h| has_label(h, "Blocked (1)"));
    assert!(h_has_no_chat(&h), "the chat closed");
    click(&mut h, "Blocked (1)");
    click(&mut h, "Unblock");
    // They came as a request: unblocking brings the request back.
    wait(&mut h, "request again", |h| {
        state_of(h, &address) == Some(ContactState::IncomingRequest)
            && has_label(h, "Calls themselves “Mallory”")
    });

    // Declined, then restored.
    click(&mut h, "Decline");
    wait(&mut h, "declined section", |h| has_label(h, "Declined (1)"));
    assert_eq!(state_of(&h, &address), Some(ContactState::Declined));
    assert!(!has_label(&h, "Calls themselves"));
    click(&mut h, "Declined (1)");
    click(&mut h, "Restore");
    wait(&mut h, "restored", |h| {
        state_of(h, &address) == Some(ContactState::IncomingRequest)
            && has_label(h, "Calls themselves “Mallory”")
    });

    // More strangers than the request caps let through: a count, not a list.
    let more = 11;
    let _flood: Vec<Profile> = (0..more)
        .map(|i| strangers.ask(&format!("s{i}"), &format!("Stranger {i}"), &link))
        .collect();
    wait(&mut h, "requests dropped", |h| {
        let shown = h
            .state()
            .active_contacts()
            .iter()
            .filter(|c| c.state == ContactState::IncomingRequest)
            .count() as u64;
        let dropped = h.state().active_dropped_requests();
        // Mallory's request and every newcomer's: kept, or counted as
        // dropped (a dropped one asks again, and counts again).
        dropped > 0
            && shown + dropped > more
            && has_label(
                h,
                &if dropped == 1 {
                    "1 request dropped".to_owned()
                } else {
                    format!("{dropped} requests dropped")
                },
            )
    });
    let kept = h
        .state()
        .active_contacts()
        .iter()
        .filter(|c| c.state == ContactState::IncomingRequest)
        .count();
    assert!(
        kept <= 1 + 10,
        "no more requests kept than the burst allows: {kept}"
    );
    assert_eq!(
        h.query_all_by_label_contains("Calls themselves").count(),
        kept,
        "one card per kept request"
    );

    strangers.shutdown();
    h.state_mut().shutdown();
}

/// The safety number of a contact, in the chat's menu: the same number the
/// other side computes, "Mark as verified", then the header says so, and
/// un-marking.
#[test]
fn verify_safety_number_dialog() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    create_profile(&mut h, "Alice");
    wait_online(&mut h);
    let strangers = Strangers::new();
    let link = h.state().active_link().unwrap();
    let carol = strangers.ask("carol", "Carol", &link);
    wait(&mut h, "request card", |h| {
        has_label(h, "Calls themselves “Carol” — not verified")
    });
    click(&mut h, "Accept");
    wait(&mut h, "accepted", |h| {
        h.state()
            .active_contacts()
            .iter()
            .any(|c| c.state == ContactState::Accepted)
    });
    // Provenance in the list: she asked; nothing verified yet.
    wait(&mut h, "online", |h| {
        h.state().active_contacts().iter().any(|c| c.online)
    });
    assert!(has_label(&h, "asked to connect · not verified"));
    h.get_by_label_contains("Carol, ").click();
    h.step();
    wait(&mut h, "chat header", |h| {
        h.query_by_label("Message").is_some()
    });

    click(&mut h, "Contact menu");
    click(&mut h, "Verify safety number…");
    wait(&mut h, "dialog", |h| {
        has_label(h, "Safety number with “Carol”")
    });
    // The number Carol's side computes, in three rows of four groups.
    let theirs = strangers.rt.block_on(async {
        let me = carol.contacts().await.unwrap()[0].id;
        carol.safety_number(me).await.unwrap()
    });
    let rows = theirs.rows(4);
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert!(has_label(&h, row), "row {row} shown");
    }
    assert!(has_label(&h, "Mark as verified"));
    unfocus(&mut h);
    mask_times(&mut h);
    let mut masked: Vec<&str> = rows.iter().map(String::as_str).collect();
    masked.push("…");
    mask_labels(&mut h, &masked);
    h.snapshot_options(
        "verify_safety_number",
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(1000),
    );

    click(&mut h, "Mark as verified");
    wait(&mut h, "verified", |h| {
        h.state().active_contacts().iter().any(|c| c.verified)
    });
    wait(&mut h, "header says so", |h| {
        has_label(h, "asked to connect · verified ✔")
    });
    assert!(!has_label(&h, "Safety number with"), "the dialog closed");
    // Only this side is marked.
    let on_carol = strangers
        .rt
        .block_on(async { carol.contacts().await.unwrap()[0].verified });
    assert!(!on_carol);

    // Un-marking.
    click(&mut h, "Contact menu");
    click(&mut h, "Verify safety number…");
    wait(&mut h, "dialog again", |h| {
        has_label(h, "Mark as not verified")
    });
    click(&mut h, "Mark as not verified");
    wait(&mut h, "not verified", |h| {
        h.state().active_contacts().iter().all(|c| !c.verified)
    });
    // Close leaves it as it is.
    click(&mut h, "Contact menu");
    click(&mut h, "Verify safety number…");
    wait(&mut h, "dialog a third time", |h| {
        has_label(h, "Mark as verified")
    });
    click(&mut h, "Close");
    wait(&mut h, "closed", |h| !has_label(h, "Safety number with"));
    assert!(h.state().active_contacts().iter().all(|c| !c.verified));

    strangers.shutdown();
    h.state_mut().shutdown();
}

/// Bridges in the network settings: turned on, a box for bridge lines; a
/// bad line is named by its number and nothing is saved or restarted.
#[test]
fn settings_bridges() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    create_profile(&mut h, "Alice");
    wait_online(&mut h);
    click(&mut h, "Settings");
    assert!(h.query_by_label("Bridge lines, one per line").is_none());
    click(&mut h, "Reach Tor through bridges (where Tor is blocked)");
    fill(
        &mut h,
        "Bridge lines, one per line",
        "127.0.0.1:9001 0123456789ABCDEF0123456789ABCDEF01234567\nobfs4 127.0.0.1:9002 not-a-fingerprint",
    );
    click(&mut h, "Save network and reconnect");
    wait(&mut h, "the bad line named", |h| {
        has_label(h, "Bridge line 2: invalid bridge line")
    });
    // Nothing restarted: still online over TCP, no Tor client started.
    assert!(matches!(
        h.state().active_status(),
        Some(NetworkStatus::Online { published: true })
    ));
    assert_eq!(h.state().active_network_kind(), Some(NetworkKind::Tcp));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("tor")), "{names:?}");
    unfocus(&mut h);
    show(&mut h, "Bridge lines, one per line");
    h.snapshot("settings_bridges");
    h.state_mut().shutdown();
}

/// Issue 8 §2: an introduction offered to us is a card beside the requests
/// ("Carol wants to introduce you to Bo", the note), answered in the app;
/// once Bo accepts too, Bo is a contact introduced by Carol. "Introduce…"
/// in a contact's menu asks whom to introduce them to.
#[test]
fn introduction_card_and_introduce_dialog() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    create_profile(&mut h, "Alice");
    wait_online(&mut h);
    let strangers = Strangers::new();
    let link = h.state().active_link().unwrap();
    // Carol asks Alice to connect; Alice accepts.
    let carol = strangers.ask("carol", "Carol", &link);
    wait(&mut h, "carol's request", |h| {
        has_label(h, "Calls themselves “Carol” — not verified")
    });
    click(&mut h, "Accept");
    wait(&mut h, "carol accepted and online", |h| {
        h.state()
            .active_contacts()
            .iter()
            .any(|c| c.state == ContactState::Accepted && c.online)
    });
    // Bo asks Carol; Carol accepts, then introduces Alice and Bo.
    let bo = strangers.ask("bo", "Bo", &carol.link().to_string());
    let (alice_at_carol, bo_at_carol) = strangers.rt.block_on(async {
        let bo_at_carol = loop {
            let cs = carol.contacts().await.unwrap();
            if let Some(c) = cs.iter().find(|c| c.address == bo.address()) {
                break c.id;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        carol.accept_contact(bo_at_carol).await.unwrap();
        let alice_at_carol = carol.contact_by_alias("them").await.unwrap().id;
        (alice_at_carol, bo_at_carol)
    });
    let id = strangers
        .rt
        .block_on(carol.introduce(alice_at_carol, bo_at_carol, "you both draw maps"))
        .unwrap();
    wait(&mut h, "introduction card", |h| {
        has_label(h, "Carol wants to introduce you to Bo")
    });
    assert!(has_label(&h, "“you both draw maps”"), "the note shows");
    unfocus(&mut h);
    let carol_redacted = carol.address().redacted();
    mask_labels(&mut h, &[&carol_redacted]);
    mask_times(&mut h);
    h.snapshot("introduction_card");
    click(&mut h, "Accept");
    wait(&mut h, "accepted, waiting for Bo", |h| {
        has_label(h, "You accepted; waiting for them")
    });
    // Bo accepts: Alice and Bo are contacts, introduced by Carol.
    strangers.rt.block_on(async {
        loop {
            if bo
                .introductions()
                .await
                .unwrap()
                .iter()
                .any(|v| v.id() == id)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bo.answer_introduction(id, true).await.unwrap();
    });
    let carol_key = carol.address().to_bytes();
    wait(&mut h, "bo, introduced by carol", |h| {
        h.state().active_contacts().iter().any(|c| {
            c.address == bo.address()
                && c.state == ContactState::Accepted
                && c.origin == kith_node::ContactOrigin::Introduced { by: carol_key }
        })
    });
    wait(&mut h, "the card is gone", |h| {
        !has_label(h, "Carol wants to introduce you to Bo")
    });

    // They connect (Alice's node and Bo's dial each other).
    wait(&mut h, "bo online", |h| has_label(h, "Bo, online"));

    // "Introduce…" from Carol's menu: whom to, and a note.
    h.get_by_label_contains("Carol, online").click();
    h.step();
    wait(&mut h, "carol's chat", |h| has_label(h, "Contact menu"));
    click(&mut h, "Contact menu");
    click(&mut h, "Introduce…");
    wait(&mut h, "introduce dialog", |h| {
        has_label(h, "Introduce “Carol” to…")
    });
    // The radio button (its text is a node of the same name).
    h.get_by_role_and_label(egui::accesskit::Role::RadioButton, "Bo")
        .click();
    h.step();
    h.step();
    unfocus(&mut h);
    mask_times(&mut h);
    mask_labels(&mut h, &[&carol_redacted]);
    h.snapshot_options(
        "introduce_dialog",
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(1000),
    );
    click(&mut h, "Introduce");
    strangers.rt.block_on(async {
        for _ in 0..400 {
            let offered = carol.introductions().await.unwrap().into_iter().any(
                |v| matches!(v, kith_node::IntroductionView::Offered { name, .. } if name == "Bo"),
            );
            if offered {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("carol got no introduction from alice");
    });
    strangers.shutdown();
}

const INBOX_ON: &str = "Inbox on: take anonymous messages";

/// The `n`th control (top to bottom) with this label.
fn nth<'a>(h: &'a H, label: &'a str, n: usize) -> egui_kittest::Node<'a> {
    let mut all: Vec<_> = h.query_all_by_label(label).collect();
    all.sort_by(|a, b| a.rect().min.y.total_cmp(&b.rect().min.y));
    assert!(n < all.len(), "no control number {n} labelled {label}");
    all.swap_remove(n)
}

/// Click the `n`th control (top to bottom) with this label.
fn click_nth(h: &mut H, label: &str, n: usize) {
    nth(h, label, n).scroll_to_me();
    h.step();
    h.step();
    nth(h, label, n).hover();
    h.step();
    nth(h, label, n).click();
    h.step();
    h.step();
}

/// The inbox link a profile of the strangers' shows, once its TCP listener runs.
fn inbox_link_of(strangers: &Strangers, p: &Profile) -> kith_node::InboxLink {
    strangers.rt.block_on(async {
        for _ in 0..200 {
            if let Some(l) = p.inbox_status().await.expect("inbox status").link
                && l.tcp.is_some()
            {
                return l;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the stranger's inbox never listened");
    })
}

/// Issue 8 §5: the inbox beside the requests. Off by default; switched on,
/// its link (not the contact link) and QR code show. Drops from a profile
/// that leaves its inbox, one that leaves its contact link and one from no
/// profile at all land in it, counted on the entry, oldest first, the
/// hostile text shown as codes. Reply, Ask to connect, Block and Delete do
/// what they say, and a reply that cannot go is refused in words; a new address changes the link and the old one stops
/// working; switched off, the link goes.
#[test]
fn inbox_on_drops_reply_block_delete_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    create_profile(&mut h, "Alice");
    wait_online(&mut h);
    // Off by default.
    wait(&mut h, "inbox entry", |h| has_label(h, "Inbox (off)"));
    click(&mut h, "Inbox (off)");
    wait(&mut h, "inbox shown", |h| {
        h.query_by_label(INBOX_ON).is_some()
    });
    assert!(!toggled(&h, INBOX_ON));
    assert!(!has_label(&h, "Your inbox link"));
    assert!(has_label(&h, "No messages in the inbox."));

    // On: its link and QR code, which are not the contact link.
    click(&mut h, INBOX_ON);
    wait(&mut h, "inbox link shown", |h| {
        toggled(h, INBOX_ON)
            && h.state()
                .active_inbox_link()
                .is_some_and(|l| l.contains("?inbox&tcp=127.0.0.1:"))
    });
    let link_text = h.state().active_inbox_link().unwrap();
    wait(&mut h, "the link as text", |h| has_label(h, &link_text));
    assert!(h.query_by_label("Your inbox QR code").is_some());
    assert!(h.query_by_label("Copy inbox link").is_some());
    assert!(has_label(
        &h,
        "Your inbox link — for anonymous messages, not your contact link"
    ));
    let link = kith_node::InboxLink::parse(&link_text).expect("an inbox link");
    let contact = kith_core::ContactLink::parse(&h.state().active_link().unwrap()).unwrap();
    assert_ne!(link.address, contact.address);
    assert_ne!(link.tcp, contact.tcp);

    // Closed, drops arrive: the entry counts them.
    click(&mut h, "Close inbox");
    assert!(h.query_by_label(INBOX_ON).is_none());
    let strangers = Strangers::new();
    let bob = strangers.online("bob", "Bob");
    strangers.rt.block_on(bob.set_inbox(true)).unwrap();
    let bob_inbox = inbox_link_of(&strangers, &bob);
    let carol = strangers.online("carol", "Carol");
    strangers.rt.block_on(async {
        bob.drop_message(&link, "Hello from Bob, answer me here", LeaveReply::Inbox)
            .await
            .expect("bob's drop");
        carol
            .drop_message(&link, "Carol here: add me", LeaveReply::Contact)
            .await
            .expect("carol's drop");
        strangers
            .kith
            .drop_message(&loopback(), &link, "nobody \u{1b}[31mhere\u{202E}gnp.exe")
            .await
            .expect("anonymous drop");
    });
    wait(&mut h, "badge", |h| has_label(h, "Inbox, 3 new"));
    // The profile bar counts them too.
    assert!(has_label(&h, "Alice (3)"));
    assert!(
        h.state().active_contacts().is_empty(),
        "no contact, no request"
    );

    // Shown: oldest first, what each left, the hostile text as codes.
    click(&mut h, "Inbox, 3 new");
    wait(&mut h, "drops shown", |h| {
        has_label(h, "Hello from Bob, answer me here")
            && has_label(h, "Carol here: add me")
            && has_label(h, "nobody [U+001B][31mhere[U+202E]gnp.exe")
    });
    wait(&mut h, "badge gone", |h| {
        h.query_by_role_and_label(egui::accesskit::Role::Button, "Inbox")
            .is_some()
            && !has_label(h, "3 new")
    });
    let bodies: Vec<String> = h
        .state()
        .active_inbox()
        .into_iter()
        .map(|d| d.body)
        .collect();
    assert_eq!(
        bodies,
        [
            "Hello from Bob, answer me here",
            "Carol here: add me",
            "nobody \u{1b}[31mhere\u{202E}gnp.exe"
        ]
    );
    // What each left, as the node read it.
    let left: Vec<Option<ReplyAddress>> = h
        .state()
        .active_inbox()
        .into_iter()
        .map(|d| d.reply)
        .collect();
    assert_eq!(
        left,
        [
            Some(ReplyAddress::Inbox(bob_inbox)),
            Some(ReplyAddress::Contact(carol.link())),
            None
        ]
    );
    let y = |h: &H, t: &str| h.get_by_label_contains(t).rect().min.y;
    assert!(y(&h, "Hello from Bob") < y(&h, "Carol here"));
    assert!(y(&h, "Carol here") < y(&h, "nobody"));
    assert_eq!(h.query_all_by_label("new").count(), 3, "marked new");
    // Reply only where an inbox was left, Ask to connect only where a
    // contact link was, Block where either was, Delete everywhere.
    assert_eq!(h.query_all_by_label("Reply").count(), 1);
    assert_eq!(h.query_all_by_label("Ask to connect…").count(), 1);
    assert_eq!(h.query_all_by_label("Block sender…").count(), 2);
    assert_eq!(h.query_all_by_label("Delete").count(), 3);
    assert!(has_label(&h, "Anonymous: it left no reply address"));
    unfocus(&mut h);
    mask_labels(&mut h, &[&link_text, "Your inbox QR code", "Received "]);
    h.snapshot_options(
        "inbox",
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(1000),
    );

    // Reply to Bob, leaving Alice's inbox: it lands in Bob's.
    click(&mut h, "Reply");
    fill(&mut h, "Your reply", "Hi Bob, got it");
    click(&mut h, "My inbox link (they can answer here)");
    click(&mut h, "Send reply");
    wait(&mut h, "reply sent", |h| {
        has_label(h, "Your reply was dropped into their inbox.")
    });
    assert!(h.query_by_label("Your reply").is_none(), "the form closed");
    let at_bob = strangers.rt.block_on(bob.inbox()).unwrap();
    assert_eq!(at_bob.len(), 1);
    assert_eq!(at_bob[0].body, "Hi Bob, got it");
    assert_eq!(at_bob[0].reply, Some(ReplyAddress::Inbox(link.clone())));

    // Bob's inbox has a new address since: a reply fails, in words, and
    // stays in its box.
    strangers.rt.block_on(bob.rotate_inbox()).unwrap();
    click(&mut h, "Reply");
    fill(&mut h, "Your reply", "Still there?");
    click(&mut h, "Send reply");
    wait(&mut h, "reply refused", |h| {
        has_label(h, "Your reply was not sent. The inbox did not answer")
    });
    assert_eq!(
        h.get_by_label("Your reply").value().as_deref(),
        Some("Still there?")
    );
    click(&mut h, "Cancel");
    assert!(h.query_by_label("Your reply").is_none());
    assert_eq!(strangers.rt.block_on(bob.inbox()).unwrap().len(), 1);

    // Ask Carol to connect: a contact request from Alice's profile.
    click(&mut h, "Ask to connect…");
    assert!(has_label(&h, "it shows them who you are"));
    fill(&mut h, "Name for them", "Carol");
    click(&mut h, "Send contact request");
    wait(&mut h, "carol asked", |h| {
        h.state()
            .active_contacts()
            .iter()
            .any(|c| c.address == carol.address() && c.state == ContactState::Outgoing)
    });
    assert!(has_label(&h, "Contact request sent to “Carol”"));
    strangers.rt.block_on(async {
        for _ in 0..200 {
            let cs = carol.contacts().await.unwrap();
            if cs.iter().any(|c| {
                c.address.to_string() == contact.address.to_string()
                    && c.state == ContactState::IncomingRequest
            }) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("carol got no request from alice");
    });

    // Carol left her contact link: blocking it (after a plain warning)
    // deletes her drop, and a later one leaving it is discarded, though she
    // is told it was stored.
    click_nth(&mut h, "Block sender…", 1);
    wait(&mut h, "confirmation", |h| {
        has_label(h, "Block this sender?")
    });
    assert!(has_label(&h, "Blocking is a filter, not a guarantee"));
    click(&mut h, "Block");
    wait(&mut h, "carol's drop gone", |h| {
        h.state().active_inbox().len() == 2 && !has_label(h, "Carol here")
    });
    strangers.rt.block_on(async {
        carol
            .drop_message(&link, "Carol again", LeaveReply::Contact)
            .await
            .expect("told it was stored");
        strangers
            .kith
            .drop_message(&loopback(), &link, "after the block")
            .await
            .expect("anonymous drop");
    });
    wait(&mut h, "the next drop", |h| has_label(h, "after the block"));
    assert!(!has_label(&h, "Carol again"));
    assert_eq!(h.state().active_inbox().len(), 3);

    // Delete the first anonymous drop: the others stay.
    click_nth(&mut h, "Delete", 1);
    wait(&mut h, "deleted", |h| {
        h.state().active_inbox().len() == 2 && !has_label(h, "nobody")
    });
    assert!(has_label(&h, "Hello from Bob, answer me here"));
    assert!(has_label(&h, "after the block"));

    // A new address, after a plain warning: the link changes, the old one
    // stops working, the new one takes drops.
    click(&mut h, "New address…");
    wait(&mut h, "rotate warning", |h| {
        has_label(h, "Give your inbox a new address?")
    });
    assert!(has_label(&h, "The old link stops working at once"));
    click(&mut h, "Make a new address");
    wait(&mut h, "new link", |h| {
        h.state()
            .active_inbox_link()
            .is_some_and(|l| l != link_text && l.contains("&tcp=127.0.0.1:"))
            && has_label(h, "Your inbox has a new address.")
    });
    let new_text = h.state().active_inbox_link().unwrap();
    assert!(has_label(&h, &new_text));
    assert!(!has_label(&h, &link_text));
    let new_link = kith_node::InboxLink::parse(&new_text).unwrap();
    assert_ne!(new_link.address, link.address);
    let old = strangers.rt.block_on(strangers.kith.drop_message(
        &loopback(),
        &link,
        "sent to the old address",
    ));
    assert!(
        matches!(
            old,
            Err(kith_node::Error::Drop(kith_node::DropRefused::Unreachable))
        ),
        "{old:?}"
    );
    strangers
        .rt
        .block_on(
            strangers
                .kith
                .drop_message(&loopback(), &new_link, "sent to the new address"),
        )
        .expect("the new link works");
    wait(&mut h, "drop at the new link", |h| {
        has_label(h, "sent to the new address")
    });
    assert!(!has_label(&h, "sent to the old address"));

    // Off: the link goes; kept drops stay.
    click(&mut h, INBOX_ON);
    wait(&mut h, "off", |h| {
        !toggled(h, INBOX_ON)
            && h.state().active_inbox_link().is_none()
            && !has_label(h, "Your inbox link")
    });
    assert_eq!(
        h.state()
            .active_inbox()
            .into_iter()
            .map(|d| d.body)
            .collect::<Vec<_>>(),
        [
            "Hello from Bob, answer me here",
            "after the block",
            "sent to the new address"
        ]
    );
    strangers.shutdown();
    h.state_mut().shutdown();
}

/// Alice (`a`) adds Bob (`b`) by his link, he accepts, both open the chat.
fn befriend(a: &mut H, b: &mut H) {
    create_profile(a, "Alice");
    create_profile(b, "Bob");
    wait_online(a);
    wait_online(b);
    link(a, b, "Alice", "Bob");
}

/// `a` (called `a_name`) adds `b` (called `b_name`) by link, `b` accepts,
/// and each opens the other's chat: both online, both with profiles.
fn link(a: &mut H, b: &mut H, a_name: &str, b_name: &str) {
    let b_link = b.state().active_link().expect("a link");
    click(a, "Add contact");
    fill(a, "Paste their link", &b_link);
    fill(a, "Name for this contact", b_name);
    click(a, "Add this contact");
    let request = format!("Calls themselves “{a_name}” — not verified");
    wait2(a, b, "the request", |_, b| has_label(b, &request));
    click(b, "Accept");
    wait2(a, b, "accepted", |a, _| {
        a.state()
            .active_contacts()
            .iter()
            .any(|c| c.alias == b_name && c.state == ContactState::Accepted && c.online)
    });
    a.get_by_label_contains(&format!("{b_name}, online"))
        .click();
    a.step();
    let online = format!("{a_name}, online");
    wait(b, "online at the other", |h| has_label(h, &online));
    b.get_by_label_contains(&online).click();
    b.step();
}

/// Open a message's menu (a right click on its bubble).
fn message_menu(h: &mut H, bubble: &str) {
    show(h, bubble);
    h.get_by_label(bubble).hover();
    h.step();
    h.get_by_label(bubble).click_secondary();
    wait(h, "message menu", |h| has_label(h, "Delete for me"));
}

/// Write a message and wait until it is delivered.
fn write(a: &mut H, b: &mut H, text: &str) {
    fill(a, "Message", text);
    a.key_press(egui::Key::Enter);
    a.step();
    wait2(a, b, "delivered", |a, _| {
        a.state()
            .open_chat()
            .iter()
            .any(|m| m.body == text && m.state == MessageState::Delivered)
    });
}

/// Edit a message: the composer takes its text (the draft waits), the edit
/// reaches the contact, both show it edited; a cancelled edit gives the
/// draft back and changes nothing; the contact's messages have no "Edit".
#[test]
fn edit_a_message() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = app(da.path());
    let mut b = app(db.path());
    befriend(&mut a, &mut b);
    write(&mut a, &mut b, "Meet at the statoin");
    wait(&mut b, "message at Bob", |h| {
        has_label(h, "Meet at the statoin")
    });

    // A draft in the composer, then "Edit": the composer holds the
    // message's text; the draft comes back once the edit is sent.
    fill(&mut a, "Message", "half a thought");
    message_menu(&mut a, "Message from you: Meet at the statoin");
    click(&mut a, "Edit");
    wait(&mut a, "editing line", |h| {
        has_label(h, "✏ Editing your message: Meet at the statoin")
    });
    assert_eq!(
        a.get_by_label("Message").value().as_deref(),
        Some("Meet at the statoin")
    );
    // Alice's chat while she edits: the editing line, the message's text in
    // the composer.
    unfocus(&mut a);
    mask_times(&mut a);
    mask_labels(&mut a, &["…"]);
    a.snapshot_options(
        "edit_message",
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(4000),
    );
    a.get_by_label("Message").focus();
    a.step();
    a.key_press(egui::Key::End);
    for _ in 0.."statoin".len() {
        a.key_press(egui::Key::Backspace);
    }
    a.get_by_label("Message").type_text("station");
    a.step();
    assert_eq!(
        a.get_by_label("Message").value().as_deref(),
        Some("Meet at the station")
    );
    a.key_press(egui::Key::Enter);
    a.step();
    wait2(&mut a, &mut b, "edited on both sides", |a, b| {
        has_label(b, "Meet at the station")
            && !has_label(b, "Meet at the statoin")
            && a.state()
                .open_chat()
                .iter()
                .any(|m| m.body == "Meet at the station" && m.edited.is_some_and(|e| e.delivered))
    });
    assert!(
        !has_label(&a, "✏ Editing your message"),
        "the edit line went"
    );
    assert_eq!(
        a.get_by_label("Message").value().as_deref(),
        Some("half a thought"),
        "the draft is back"
    );
    assert_eq!(a.state().open_chat().len(), 1, "edited in place");
    wait(&mut b, "marked edited at Bob", |h| {
        h.state()
            .open_chat()
            .iter()
            .any(|m| m.body == "Meet at the station" && m.edited.is_some())
    });

    assert!(has_label(&a, "· edited"));
    wait(&mut b, "Bob's shows it edited", |h| {
        has_label(h, "· edited")
    });

    // A cancelled edit changes nothing and gives the draft back.
    message_menu(&mut a, "Message from you: Meet at the station");
    click(&mut a, "Edit");
    wait(&mut a, "editing line", |h| {
        has_label(h, "✏ Editing your message")
    });
    click(&mut a, "Cancel edit");
    assert!(!has_label(&a, "✏ Editing your message"));
    assert_eq!(
        a.get_by_label("Message").value().as_deref(),
        Some("half a thought")
    );
    assert!(has_label(&a, "Meet at the station"));

    // Bob cannot edit Alice's message.
    message_menu(&mut b, "Message from them: Meet at the station");
    assert!(!has_label(&b, "Edit"), "only its author edits a message");
    b.key_press(egui::Key::Escape);
    b.step();
}

/// Reply, react, disappearing timer, delete for everyone and clear history,
/// each seen on both sides.
#[test]
fn conversation_controls() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = app(da.path());
    let mut b = app(db.path());
    befriend(&mut a, &mut b);

    // Bob answers Alice's message quoting it; both show the quote.
    write(&mut a, &mut b, "Lunch at noon?");
    wait(&mut b, "message at Bob", |h| has_label(h, "Lunch at noon?"));
    message_menu(&mut b, "Message from them: Lunch at noon?");
    click(&mut b, "Reply");
    wait(&mut b, "replying line", |h| {
        has_label(h, "Replying to They: Lunch at noon?")
    });
    write(&mut b, &mut a, "Yes, see you there");
    assert!(!has_label(&b, "Replying to"), "the reply line went");
    wait(&mut b, "quote at Bob", |h| {
        has_label(h, "↩ They: Lunch at noon?")
    });
    wait(&mut a, "quote at Alice", |h| {
        has_label(h, "↩ You: Lunch at noon?")
            && h.state()
                .open_chat()
                .iter()
                .any(|m| m.body == "Yes, see you there" && m.reply_to.is_some())
    });

    // Alice reacts to the answer; Bob sees it. A second click takes it back,
    // then she reacts again.
    message_menu(&mut a, "Message from them: Yes, see you there");
    click(&mut a, "React with 👍");
    wait(&mut a, "reaction at Alice", |h| has_label(h, "👍 you"));
    wait2(&mut a, &mut b, "reaction at Bob", |_, b| {
        has_label(b, "👍 them")
    });
    message_menu(&mut a, "Message from them: Yes, see you there");
    click(&mut a, "Take back 👍");
    wait2(&mut a, &mut b, "reaction gone at Bob", |a, b| {
        !has_label(a, "👍 you") && !has_label(b, "👍 them")
    });
    message_menu(&mut a, "Message from them: Yes, see you there");
    click(&mut a, "React with ❤");
    wait2(&mut a, &mut b, "heart at Bob", |_, b| {
        has_label(b, "❤ them")
    });

    // Alice deletes a message for everyone: gone on both sides, and both
    // are told.
    write(&mut a, &mut b, "Wrong chat, sorry");
    wait(&mut b, "it arrived", |h| has_label(h, "Wrong chat, sorry"));
    message_menu(&mut a, "Message from you: Wrong chat, sorry");
    click(&mut a, "Delete for everyone…");
    wait(&mut a, "confirmation", |h| {
        has_label(h, "removes it when it receives the request")
    });
    click(&mut a, "Delete for everyone");
    wait2(&mut a, &mut b, "deleted on both sides", |a, b| {
        !has_label(a, "Wrong chat, sorry") && !has_label(b, "Wrong chat, sorry")
    });
    wait2(&mut a, &mut b, "told", |a, b| {
        has_label(a, "Their app removed the message you deleted for everyone.")
            && has_label(b, "They removed a message.")
    });

    // Deleted while offline: gone here at once, at Bob when both are online.
    write(&mut a, &mut b, "Also wrong");
    wait(&mut b, "it arrived", |h| has_label(h, "Also wrong"));
    click(&mut a, "Go offline");
    wait2(&mut a, &mut b, "Alice offline", |a, b| {
        matches!(a.state().active_status(), Some(NetworkStatus::Offline))
            && has_label(b, "Alice, offline")
    });
    message_menu(&mut a, "Message from you: Also wrong");
    click(&mut a, "Delete for everyone…");
    wait(&mut a, "confirmation", |h| {
        has_label(h, "removes it when it receives the request")
    });
    click(&mut a, "Delete for everyone");
    wait(&mut a, "deleted at Alice", |a| !has_label(a, "Also wrong"));
    assert!(has_label(&b, "Also wrong"), "Bob's waits for Alice");
    click(&mut a, "Go online");
    wait_online(&mut a);
    wait2(&mut a, &mut b, "deleted at Bob", |_, b| {
        !has_label(b, "Also wrong")
    });

    // Alice sets disappearing messages to 1 hour: the line on both sides,
    // and the menu shows the timer in force.
    click(&mut a, "Contact menu");
    wait(&mut a, "timer read", |h| chosen(h, "Off"));
    click(&mut a, "1 hour");
    wait2(&mut a, &mut b, "timer line on both sides", |a, b| {
        has_label(a, "You set disappearing messages to 1 hour")
            && has_label(b, "They set disappearing messages to 1 hour")
    });
    click(&mut a, "Contact menu");
    wait(&mut a, "timer shown", |h| chosen(h, "1 hour"));
    a.key_press(egui::Key::Escape);
    a.step();
    wait(&mut a, "menu closed", |h| !has_label(h, "Clear history…"));

    // Alice's chat: a quote, a reaction and a timer line.
    unfocus(&mut a);
    mask_times(&mut a);
    mask_labels(&mut a, &["…"]);
    a.snapshot_options(
        "conversation_controls",
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(4000),
    );

    // Bob starts a reply and cancels it; deletes Alice's question for
    // himself only; sets his history to go when the app closes.
    message_menu(&mut b, "Message from them: Lunch at noon?");
    click(&mut b, "Reply");
    wait(&mut b, "replying line", |h| has_label(h, "Replying to"));
    click(&mut b, "Cancel reply");
    assert!(!has_label(&b, "Replying to"), "the reply was cancelled");
    message_menu(&mut b, "Message from them: Lunch at noon?");
    assert!(
        !has_label(&b, "Delete for everyone…"),
        "only its author deletes a message for both"
    );
    click(&mut b, "Delete for me");
    wait(&mut b, "deleted for Bob", |h| {
        !h.state()
            .open_chat()
            .iter()
            .any(|m| m.body == "Lunch at noon?")
    });
    click(&mut b, "Contact menu");
    wait(&mut b, "history read", |h| chosen(h, "Keep history"));
    click(&mut b, "Delete history when I close the app");
    click(&mut b, "Contact menu");
    wait(&mut b, "history shown", |h| {
        chosen(h, "Delete history when I close the app")
    });
    b.key_press(egui::Key::Escape);
    b.step();

    // Bob clears his history: his chat is empty, Alice's is not, Alice stays.
    click(&mut b, "Contact menu");
    click(&mut b, "Clear history…");
    wait(&mut b, "confirmation", |h| {
        has_label(h, "Clear the history with “Alice”?")
    });
    click(&mut b, "Clear history");
    wait(&mut b, "cleared", |h| h.state().open_chat().is_empty());
    assert_eq!(b.state().active_contacts().len(), 1, "the contact stays");
    for _ in 0..10 {
        a.step();
        b.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(has_label(&a, "Yes, see you there"), "Alice keeps hers");
    assert!(
        a.state()
            .open_chat()
            .iter()
            .any(|m| m.body == "Lunch at noon?"),
        "deleted for Bob only"
    );
    a.state_mut().shutdown();
    b.state_mut().shutdown();
}

/// A file dropped on the window (what winit hands egui on a native drop).
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Replace the text of the field with this label (select all, type).
fn replace(h: &mut H, label: &str, text: &str) {
    show(h, label);
    h.get_by_label(label).focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
}

/// The open chat's file called `name`, once its state is `state`.
fn file_is(h: &H, name: &str, state: kith_node::FileState) -> bool {
    h.state()
        .open_chat()
        .iter()
        .filter_map(|m| m.file.as_ref())
        .any(|f| f.name == name && f.state == state)
}

/// A picture through the "📎" dialog and a text file dropped on the chat:
/// the dialog's errors, both files complete on both sides, the picture's
/// preview at both, and "Save…" writing the same bytes (never over a file).
#[test]
fn files_and_pictures() {
    use kith_node::FileState;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let work = tempfile::tempdir().unwrap();
    let mut a = app(da.path());
    let mut b = app(db.path());
    befriend(&mut a, &mut b);

    let png_path = work.path().join("sunset.png");
    image::RgbaImage::from_fn(96, 64, |x, y| {
        let (x, y) = (u8::try_from(x).unwrap(), u8::try_from(y).unwrap());
        image::Rgba([200 + x / 2, 60 + y * 2, 120 - x, 255])
    })
    .save(&png_path)
    .unwrap();
    let png = std::fs::read(&png_path).unwrap();
    let txt_path = work.path().join("notes.txt");
    let txt = b"Meet at the old bridge at noon.\n".to_vec();
    std::fs::write(&txt_path, &txt).unwrap();
    // Over 100 MiB, and sparse: refused before a byte is read.
    let big_path = work.path().join("huge.bin");
    std::fs::File::create(&big_path)
        .unwrap()
        .set_len(100 * 1024 * 1024 + 1)
        .unwrap();

    // The dialog says why a file cannot go.
    click(&mut a, "Send a file");
    wait(&mut a, "send dialog", |h| {
        has_label(h, "Send a file to Bob")
    });
    fill(
        &mut a,
        "Path of the file",
        &work.path().join("missing.txt").display().to_string(),
    );
    click(&mut a, "Send file");
    wait(&mut a, "missing file refused", |h| {
        has_label(h, "Not sent: Opening the file to send")
    });
    replace(&mut a, "Path of the file", &big_path.display().to_string());
    click(&mut a, "Send file");
    wait(&mut a, "large file refused", |h| {
        has_label(h, "Not sent:") && has_label(h, "too large")
    });
    assert!(a.state().open_chat().is_empty(), "nothing refused was sent");

    // The picture, its path pasted as a file manager copies it.
    replace(
        &mut a,
        "Path of the file",
        &format!("file://{}", png_path.display()),
    );
    click(&mut a, "Send file");
    wait(&mut a, "dialog closed", |h| {
        !has_label(h, "Send a file to Bob")
    });

    // The text file, dropped on the chat: the dialog opens with its path.
    a.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(txt_path.clone())));
    a.step();
    wait(&mut a, "dropped file in the dialog", |h| {
        h.query_all_by_value(&txt_path.display().to_string())
            .next()
            .is_some()
    });
    click(&mut a, "Send file");
    wait(&mut a, "dialog closed", |h| {
        !has_label(h, "Send a file to Bob")
    });

    wait2(&mut a, &mut b, "both files at Bob", |_, b| {
        file_is(b, "sunset.png", FileState::Complete)
            && file_is(b, "notes.txt", FileState::Complete)
    });
    wait2(&mut a, &mut b, "both confirmed at Alice", |a, _| {
        file_is(a, "sunset.png", FileState::Complete)
            && file_is(a, "notes.txt", FileState::Complete)
    });
    wait(&mut b, "preview at Bob", |h| {
        has_label(h, "Picture: sunset.png")
    });
    wait(&mut a, "preview at Alice", |h| {
        has_label(h, "Picture: sunset.png")
    });
    assert!(has_label(&b, "Received and checked"));
    assert!(has_label(&a, "Sent: they have it"));
    assert!(!has_label(&b, "Picture: notes.txt"), "no preview for text");

    // Bob's chat: the picture's preview and the text file, received.
    unfocus(&mut b);
    mask_times(&mut b);
    mask_labels(&mut b, &["…"]);
    b.snapshot_options(
        "files",
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(4000),
    );

    // Bob saves the picture under a new name, the text file into a folder
    // under its own; a second save there is refused, the first kept.
    let saved_png = work.path().join("saved.png");
    click(&mut b, "Save sunset.png");
    wait(&mut b, "save dialog", |h| has_label(h, "Save a copy"));
    replace(&mut b, "Save to", &saved_png.display().to_string());
    click(&mut b, "Save");
    wait(&mut b, "picture saved", |h| has_label(h, "Saved to"));
    assert_eq!(std::fs::read(&saved_png).unwrap(), png);
    let folder = work.path().join("downloads");
    std::fs::create_dir(&folder).unwrap();
    for second in [false, true] {
        click(&mut b, "Save notes.txt");
        wait(&mut b, "save dialog", |h| has_label(h, "Save a copy"));
        replace(&mut b, "Save to", &folder.display().to_string());
        click(&mut b, "Save");
        if second {
            wait(&mut b, "second save refused", |h| {
                has_label(h, "Not saved:")
            });
            click(&mut b, "Cancel");
        } else {
            wait(&mut b, "text saved", |h| !has_label(h, "Save a copy"));
        }
    }
    assert_eq!(std::fs::read(folder.join("notes.txt")).unwrap(), txt);
    assert_eq!(
        std::fs::read_dir(&folder).unwrap().count(),
        1,
        "no leftovers"
    );
    a.state_mut().shutdown();
    b.state_mut().shutdown();
}

/// A file over what Kith takes without asking waits for Bob's "Accept";
/// then it comes with a progress bar (percent, speed, time left) and
/// arrives whole.
#[test]
fn large_file_waits_for_accept() {
    use kith_node::FileState;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let work = tempfile::tempdir().unwrap();
    let mut a = app(da.path());
    let mut b = app(db.path());
    befriend(&mut a, &mut b);

    let size = usize::try_from(kith_node::AUTO_ACCEPT_MAX).unwrap() + 1;
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let path = work.path().join("archive.bin");
    std::fs::write(&path, &data).unwrap();
    click(&mut a, "Send a file");
    fill(&mut a, "Path of the file", &path.display().to_string());
    click(&mut a, "Send file");
    let long = |a: &mut H, b: &mut H, what: &str, cond: &dyn Fn(&H, &H) -> bool| {
        let start = Instant::now();
        while !cond(a, b) {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "timed out: {what}"
            );
            a.step();
            b.step();
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    long(&mut a, &mut b, "offered at Bob", &|_, b| {
        file_is(b, "archive.bin", FileState::Offered) && has_label(b, "Accept archive.bin")
    });
    assert!(has_label(
        &b,
        "Waiting for you: accept it to receive it, or refuse it"
    ));
    assert!(has_label(&b, "Refuse archive.bin"));
    // Nothing comes before Bob accepts.
    for _ in 0..10 {
        a.step();
        b.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(file_is(&b, "archive.bin", FileState::Offered));
    click(&mut b, "Accept archive.bin");
    let mut seen: Vec<String> = vec![];
    let start = Instant::now();
    while !file_is(&b, "archive.bin", FileState::Complete) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out: received"
        );
        a.step();
        b.step();
        let found = std::cell::RefCell::new(vec![]);
        let _ = b
            .query_all_by(|n| {
                if let Some(l) = n.label().filter(|l| l.starts_with("Progress ")) {
                    found.borrow_mut().push(l.to_string());
                }
                false
            })
            .count();
        for l in found.into_inner() {
            if !seen.contains(&l) {
                seen.push(l);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!seen.is_empty(), "a progress bar while it came");
    assert!(seen.iter().all(|l| l.contains(" %")), "{seen:?}");
    // Over many seconds in a debug build: the speed and time left show.
    assert!(
        seen.iter()
            .any(|l| l.contains("/s · ") && l.ends_with(" left")),
        "{seen:?}"
    );
    wait2(&mut a, &mut b, "confirmed at Alice", |a, _| {
        file_is(a, "archive.bin", FileState::Complete)
    });
    let saved = work.path().join("copy.bin");
    click(&mut b, "Save archive.bin");
    replace(&mut b, "Save to", &saved.display().to_string());
    click(&mut b, "Save");
    wait(&mut b, "saved", |h| has_label(h, "Saved to"));
    assert!(std::fs::read(&saved).unwrap() == data, "the same bytes");

    // A second one Bob refuses: nothing of it kept, and Alice is told.
    let second = work.path().join("second.bin");
    std::fs::write(&second, &data).unwrap();
    click(&mut a, "Send a file");
    fill(&mut a, "Path of the file", &second.display().to_string());
    click(&mut a, "Send file");
    long(&mut a, &mut b, "second offered at Bob", &|_, b| {
        file_is(b, "second.bin", FileState::Offered) && has_label(b, "Refuse second.bin")
    });
    click(&mut b, "Refuse second.bin");
    long(&mut a, &mut b, "refused on both sides", &|a, b| {
        file_is(b, "second.bin", FileState::Refused) && file_is(a, "second.bin", FileState::Refused)
    });
    assert!(has_label(&a, "They refused it"));
    assert!(!has_label(&b, "Accept second.bin"));
    a.state_mut().shutdown();
    b.state_mut().shutdown();
}

/// A private group between two apps: Alice creates it and invites Bob; Bob
/// sees the invitation card and joins; his post reaches Alice, who replies
/// in its thread and reacts; Bob sees both; Bob leaves (after confirming)
/// and Alice's members list shows him left.
#[test]
fn a_private_group() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = app(da.path());
    let mut b = app(db.path());
    befriend(&mut a, &mut b);

    // Alice makes the group from Bob's menu, and invites him.
    click(&mut a, "Contact menu");
    click(&mut a, "New group…");
    wait(&mut a, "the dialog", |h| has_label(h, "Create group"));
    fill(&mut a, "Group name", "Garden");
    fill(&mut a, "Description (optional)", "plots and seeds");
    click(&mut a, "Create group");
    wait(&mut a, "the group", |h| {
        has_label(h, "Group Garden") && has_label(h, "You created the group")
    });
    click(&mut a, "Group menu");
    click(&mut a, "Invite…");
    click(&mut a, "Invite Bob");

    // Bob sees the card and joins.
    wait2(&mut a, &mut b, "the invitation at Bob", |_, b| {
        has_label(b, "Alice invites you to Garden")
    });
    click(&mut b, "Join");
    wait2(&mut a, &mut b, "Bob added", |_, b| {
        has_label(b, "Group Garden") && has_label(b, "2 members") && !has_label(b, "joining")
    });
    assert!(!has_label(&b, "Alice invites you to Garden"));
    fill(&mut b, "Group message", "hello all");
    b.key_press(egui::Key::Enter);
    b.step();

    // Alice has it, replies in its thread and reacts.
    wait2(&mut a, &mut b, "Bob's post at Alice", |a, _| {
        has_label(a, "Group message from Bob: hello all")
    });
    message_menu(&mut a, "Group message from Bob: hello all");
    click(&mut a, "Reply");
    assert!(has_label(&a, "↩ Replying to Bob: hello all"));
    fill(&mut a, "Group message", "hi bob");
    a.key_press(egui::Key::Enter);
    a.step();
    wait(&mut a, "the reply", |h| {
        has_label(h, "Group message from You: hi bob") && !has_label(h, "↩ Replying to")
    });
    message_menu(&mut a, "Group message from Bob: hello all");
    click(&mut a, "React with 👍");
    wait(&mut a, "the reaction", |h| has_label(h, "👍 You"));

    // Bob sees the reply under its quote, and the reaction.
    wait2(&mut a, &mut b, "reply and reaction at Bob", |_, b| {
        has_label(b, "Group message from Alice: hi bob")
            && has_label(b, "↩ You: hello all")
            && has_label(b, "👍 Alice")
    });

    // Alice's group chat.
    unfocus(&mut a);
    mask_times(&mut a);
    a.snapshot_options(
        "groups",
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(4000),
    );

    // Bob leaves; Alice's members list says so.
    click(&mut b, "Group menu");
    click(&mut b, "Leave group…");
    wait(&mut b, "the question", |h| has_label(h, "Leave the group?"));
    click(&mut b, "Leave group");
    wait(&mut b, "left", |h| {
        has_label(h, "You cannot post here: you left.")
    });
    wait2(&mut a, &mut b, "Bob left at Alice", |a, _| {
        has_label(a, "Bob left")
    });
    click(&mut a, "Group menu");
    click(&mut a, "Members…");
    wait(&mut a, "members", |h| has_label(h, "Bob · left"));
    assert!(has_label(&a, "You · member · creator"));
    a.state_mut().shutdown();
    b.state_mut().shutdown();
}

/// Step three apps until `cond` holds.
fn wait3(h: [&mut H; 3], what: &str, cond: impl Fn([&H; 3]) -> bool) {
    let [a, b, c] = h;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        a.step();
        b.step();
        c.step();
        if cond([&*a, &*b, &*c]) {
            a.step();
            b.step();
            c.step();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {what}");
}

/// The full label of the control whose label starts with `start` and
/// ends with `end` (a name the test cannot know in between).
fn label_of(h: &H, start: &str, end: &str) -> String {
    use egui_kittest::kittest::NodeT;
    h.query_all_by_label_contains(end)
        .filter_map(|n| n.accesskit_node().label())
        .find(|l| l.starts_with(start) && l.ends_with(end))
        .expect("a labelled control")
}

/// Post in the open forum.
fn forum_post(h: &mut H, text: &str) {
    fill(h, "Forum message", text);
    h.key_press(egui::Key::Enter);
    h.step();
    let mine = format!("Forum message from You: {text}");
    wait(h, "the post", |h| has_label(h, &mine));
}

/// A forum among three apps: Alice creates it and invites Bob; Bob, not
/// the creator, invites Carol (Alice's stranger); Carol's post and Bob's
/// threaded reply reach the others; Bob hides Alice for himself (collapsed
/// at Bob only, and shown again on request); Alice hides Carol for
/// everyone (collapsed at Bob too); Carol leaves and Bob sees it.
#[test]
fn a_forum() {
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let mut a = app(dirs[0].path());
    let mut b = app(dirs[1].path());
    let mut c = app(dirs[2].path());
    befriend(&mut a, &mut b);
    create_profile(&mut c, "Carol");
    wait_online(&mut c);
    link(&mut b, &mut c, "Bob", "Carol");

    // Alice makes the forum from Bob's menu, and invites him.
    click(&mut a, "Contact menu");
    click(&mut a, "New forum…");
    wait(&mut a, "the dialog", |h| has_label(h, "Create forum"));
    fill(&mut a, "Forum name", "Commons");
    fill(&mut a, "Description (optional)", "tenants' union");
    click(&mut a, "Create forum");
    wait(&mut a, "the forum", |h| {
        has_label(h, "Forum Commons") && has_label(h, "You created the forum")
    });
    click(&mut a, "Forum menu");
    click(&mut a, "Invite…");
    click(&mut a, "Invite Bob");
    wait3(
        [&mut a, &mut b, &mut c],
        "the invitation at Bob",
        |[_, b, _]| has_label(b, "Alice invites you to Commons"),
    );
    click(&mut b, "Join");
    wait3([&mut a, &mut b, &mut c], "Bob added", |[_, b, _]| {
        has_label(b, "Forum Commons") && has_label(b, "2 members") && !has_label(b, "joining")
    });

    // Bob, a member, invites Carol, whom Alice does not know.
    click(&mut b, "Forum menu");
    click(&mut b, "Invite…");
    assert!(!has_label(&b, "Invite Alice"));
    click(&mut b, "Invite Carol");
    wait3(
        [&mut a, &mut b, &mut c],
        "the invitation at Carol",
        |[_, _, c]| has_label(c, "Bob invites you to Commons"),
    );
    click(&mut c, "Join");
    wait3([&mut a, &mut b, &mut c], "Carol added", |[a, b, c]| {
        has_label(c, "Forum Commons")
            && has_label(c, "3 members")
            && !has_label(c, "joining")
            && has_label(a, "3 members")
            && has_label(b, "3 members")
    });

    // Alice and Carol post; Bob answers Carol in her thread.
    forum_post(&mut a, "welcome");
    forum_post(&mut c, "hello forum");
    wait3([&mut a, &mut b, &mut c], "the posts", |[a, b, c]| {
        has_label(b, "Forum message from Alice: welcome")
            && has_label(b, "Forum message from Carol: hello forum")
            && has_label(a, ": hello forum")
            && has_label(c, ": welcome")
    });
    message_menu(&mut b, "Forum message from Carol: hello forum");
    click(&mut b, "Reply");
    forum_post(&mut b, "hi carol");
    wait3([&mut a, &mut b, &mut c], "the reply", |[a, _, c]| {
        has_label(c, "Forum message from Bob: hi carol")
            && has_label(c, "↩ You: hello forum")
            && has_label(a, "Forum message from Bob: hi carol")
    });

    // Bob hides Alice for himself: collapsed at Bob, not at Carol.
    message_menu(&mut b, "Forum message from Alice: welcome");
    click(&mut b, "Hide Alice");
    wait(&mut b, "Alice hidden at Bob", |h| {
        has_label(h, "Show Post from Alice, hidden by you")
            && !has_label(h, "Forum message from Alice: welcome")
    });
    c.step();
    assert!(has_label(&c, ": welcome") && !has_label(&c, "hidden by"));
    // He may look anyway, and fold it again.
    click(&mut b, "Show Post from Alice, hidden by you");
    assert!(has_label(&b, "Forum message from Alice: welcome"));
    click(&mut b, "Hide it again");
    assert!(has_label(&b, "Show Post from Alice, hidden by you"));

    // Alice, the creator, hides Carol for everyone.
    let carol_post = label_of(&a, "Forum message from ", ": hello forum");
    message_menu(&mut a, &carol_post);
    let everyone = label_of(&a, "Hide ", " for everyone");
    click(&mut a, &everyone);
    wait3(
        [&mut a, &mut b, &mut c],
        "Carol hidden for all",
        |[a, b, c]| {
            has_label(a, "hidden by the forum's creator")
                && has_label(b, "Show Post from Carol, hidden by the forum's creator")
                && has_label(c, "The forum's creator hides 1 author for everyone")
        },
    );
    assert!(has_label(&b, "Show Post from Alice, hidden by you"));
    // The quote of a folded post keeps its text folded too.
    assert!(has_label(&b, "↩ Carol: a hidden post"));
    assert!(!has_label(&b, "↩ Carol: hello forum"));

    // Bob's forum: one author hidden by him, one by the creator.
    unfocus(&mut b);
    mask_times(&mut b);
    b.snapshot_options(
        "forums",
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(4000),
    );

    // Bob shows Alice again from the members list.
    click(&mut b, "Forum menu");
    click(&mut b, "Members…");
    wait(&mut b, "members", |h| {
        has_label(h, "Alice · member · creator · direct · hidden by you")
            && has_label(h, "Carol · member · direct · hidden by the creator")
    });
    assert!(!has_label(&b, "Hide Carol for everyone"));
    click(&mut b, "Unhide Alice");
    wait(&mut b, "Alice shown at Bob", |h| {
        has_label(h, "Forum message from Alice: welcome")
    });
    click(&mut b, "Close");

    // Carol leaves; the forum lives on, and Bob sees her go.
    click(&mut c, "Forum menu");
    click(&mut c, "Leave forum…");
    wait(&mut c, "the question", |h| has_label(h, "Leave the forum?"));
    click(&mut c, "Leave forum");
    wait(&mut c, "left", |h| {
        has_label(h, "You cannot post here: you left.")
    });
    wait3(
        [&mut a, &mut b, &mut c],
        "Carol left at Bob",
        |[_, b, _]| has_label(b, "Carol left"),
    );
    for h in [&mut a, &mut b, &mut c] {
        h.state_mut().shutdown();
    }
}

/// Blogs between two apps: Alice posts, Bob reads it and comments, then
/// reblogs it with his words; Alice sees both, the reblog naming her as
/// the original's author; Alice turns her blog off and cannot post.
#[test]
fn a_blog() {
    let dirs = [(); 2].map(|()| tempfile::tempdir().unwrap());
    let mut a = app(dirs[0].path());
    let mut b = app(dirs[1].path());
    befriend(&mut a, &mut b);

    click(&mut a, "Blog");
    wait(&mut a, "the empty feed", |h| has_label(h, "No posts yet"));
    fill(&mut a, "Blog post", "hello blog");
    click(&mut a, "Post");
    wait(&mut a, "the post", |h| {
        has_label(h, "Blog post from You: hello blog")
    });
    assert!(!has_label(&a, "Reblog You: hello blog"), "not one's own");

    click(&mut b, "Blog");
    wait2(&mut a, &mut b, "the post at Bob", |_, b| {
        has_label(b, "Blog post from Alice: hello blog")
    });
    click(&mut b, "Comment on Alice: hello blog");
    fill(&mut b, "Your comment", "nice one");
    click(&mut b, "Send comment");
    wait2(&mut a, &mut b, "the comment at Alice", |a, b| {
        has_label(a, "Comment from Bob: nice one") && has_label(b, "Comment from You: nice one")
    });
    click(&mut b, "Reblog Alice: hello blog");
    fill(&mut b, "Your words", "worth a read");
    click(&mut b, "Reblog it");
    wait2(&mut a, &mut b, "the reblog at Alice", |a, b| {
        has_label(a, "Reblog by Bob of You: hello blog")
            && has_label(b, "Reblog by You of Alice: hello blog")
    });
    assert!(has_label(&a, "worth a read"));
    assert!(
        !has_label(&a, "Reblog Bob: worth a read"),
        "her own post, reblogged"
    );

    unfocus(&mut a);
    mask_times(&mut a);
    a.snapshot_options(
        "blog",
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(4000),
    );

    click(&mut a, "Turn my blog off");
    wait(&mut a, "the blog off", |h| {
        has_label(h, "Your blog is off") && has_label(h, "Turn my blog on")
    });
    assert!(
        a.query_by_label("Blog post").is_none(),
        "no composer while off"
    );
    click(&mut a, "Turn my blog on");
    wait(&mut a, "the blog on", |h| has_label(h, "Turn my blog off"));
    for h in [&mut a, &mut b] {
        h.state_mut().shutdown();
    }
}

/// Feeds (issue 11 § 3) from the app: subscribe, the list, a fetch that the
/// node refuses off Tor (these apps run over TCP, where nothing is
/// fetched), then (the node serving bodies from the test instead of Tor:
/// `dangerously_serve_feeds_for_testing_only`) items with unread, mark
/// read, a feed's error, unsubscribe. Fetching over Tor is tested end to
/// end in `tests/feeds.rs`.
#[test]
fn feeds_subscribe_and_fetch_only_over_tor() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(dir.path());
    create_profile(&mut h, "Alice");
    wait_online(&mut h);
    click(&mut h, "Feeds");
    wait(&mut h, "the feeds view", |h| has_label(h, "No feeds yet"));
    // 127.0.0.1:9 is never dialled: nothing is fetched off Tor.
    fill(&mut h, "Feed URL", "http://127.0.0.1:9/feed.xml");
    fill(&mut h, "Name (optional)", "garden");
    click(&mut h, "Subscribe");
    wait(&mut h, "subscribed", |h| {
        has_label(h, "garden · not fetched yet") && has_label(h, "Subscribed to garden.")
    });
    fill(&mut h, "Feed URL", "ftp://127.0.0.1/feed.xml");
    click(&mut h, "Subscribe");
    wait(&mut h, "a URL refused", |h| {
        has_label(h, "Subscribing failed") && has_label(h, "only http:// and https://")
    });
    click(&mut h, "Fetch now");
    wait(&mut h, "the fetch refused", |h| {
        has_label(h, "Fetching failed") && has_label(h, "only over Tor")
    });
    click(&mut h, "garden · not fetched yet");
    wait(&mut h, "no items", |h| has_label(h, "No items yet."));

    // The node now serves bodies from here.
    let p = h.state().active_profile().expect("a profile");
    p.dangerously_serve_feeds_for_testing_only(|url| {
        url.ends_with("/feed.xml").then(|| {
            b"<rss version=\"2.0\"><channel><title>Garden</title>\
              <item><guid>2</guid><title>Frost tonight</title><link>http://garden.example/2</link>\
              <description>Cover the &lt;b&gt;beans&lt;/b&gt;.</description></item>\
              <item><guid>1</guid><title>Compost</title><description>Turn it.</description></item>\
              </channel></rss>"
                .to_vec()
        })
    });
    replace(&mut h, "Feed URL", "http://127.0.0.1:9/missing.xml");
    fill(&mut h, "Name (optional)", "missing");
    click(&mut h, "Subscribe");
    wait(&mut h, "two feeds", |h| {
        has_label(h, "missing · not fetched yet")
    });
    click(&mut h, "Fetch all now");
    wait(&mut h, "fetched", |h| {
        has_label(h, "garden · 2 unread of 2")
            && has_label(h, "Feeds, 2 unread")
            && has_label(h, "Last fetch failed: the feed's server answered HTTP 404")
            && has_label(h, "2 new items; 1 feed failed")
    });
    wait(&mut h, "the items", |h| {
        has_label(h, "Frost tonight") && has_label(h, "Cover the beans") && has_label(h, "Compost")
    });
    click_nth(&mut h, "Mark read", 1);
    wait(&mut h, "one read", |h| {
        has_label(h, "garden · 1 unread of 2") && has_label(h, "Feeds, 1 unread")
    });
    unfocus(&mut h);
    h.snapshot("feeds");
    // An item reposted to the blog, where the contacts read it.
    click_nth(&mut h, "Repost to my blog", 0);
    wait(&mut h, "reposted", |h| {
        has_label(h, "Reposted to your blog.")
    });
    click(&mut h, "Blog");
    wait(&mut h, "the repost in the blog", |h| {
        h.query_all_by_label_contains("Frost tonight")
            .next()
            .is_some()
    });
    click(&mut h, "Feeds, 1 unread");
    click_nth(&mut h, "Unsubscribe", 1);
    wait(&mut h, "one feed left", |h| {
        !has_label(h, "missing ·") && has_label(h, "garden · 1 unread of 2")
    });
    click(&mut h, "Unsubscribe");
    wait(&mut h, "unsubscribed", |h| has_label(h, "No feeds yet"));
}

/// A bubble's name for screen readers, for one of our messages.
fn ours(text: &str) -> String {
    format!("Message from you: {text}")
}

/// A long conversation lays out only the messages in view (issue 12 § 3):
/// it opens at the newest, the first is not laid out until scrolled to,
/// every frame lays out a screenful whatever the length, the window stops
/// drawing when nothing changes, and a message written at the bottom
/// scrolls into view.
#[test]
fn long_conversation_lays_out_only_the_rows_in_view() {
    const N: usize = 2000;
    /// Far more rows than fit in the window's chat.
    const SCREENFUL: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    // Alice wrote N messages to Bob, who never came online (they wait
    // queued), through the engine, before the app opens her profile.
    {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let kith = Kith::new(KithConfig {
            data_dir: dir.path().to_path_buf(),
            kdf: KdfChoice::DangerouslyFastForTestingOnly,
        });
        rt.block_on(async {
            let alice = kith
                .create_profile("alice", "Alice", Password::new(PASSWORD.into()))
                .await
                .expect("Alice's profile");
            let bob = kith_core::IdentityKeypair::from_seed(&[7; 32]).address();
            let bob = alice
                .add_contact(&kith_core::ContactLink::new(bob), "Bob")
                .await
                .expect("Bob added");
            for i in 1..=N {
                alice
                    .send(bob.id, &format!("message {i:04}"))
                    .await
                    .expect("a message written");
            }
            kith.shutdown().await;
        });
    }
    let mut h = app(dir.path());
    wait(&mut h, "unlock screen", |h| {
        h.state().screen_name() == "unlock"
    });
    fill(&mut h, "Password", PASSWORD);
    click(&mut h, "Unlock");
    wait(&mut h, "main screen", |h| h.state().screen_name() == "main");
    wait_online(&mut h);
    wait(&mut h, "Bob in the contacts", |h| {
        has_label(h, "Bob, offline")
    });
    h.get_by_label_contains("Bob, offline").click_accesskit();
    h.step();
    let newest = ours(&format!("message {N:04}"));
    let first = ours("message 0001");
    wait(&mut h, "the newest message", |h| {
        h.state().open_chat().len() == N && h.query_by_label(&newest).is_some()
    });
    let laid_out = |h: &H| {
        let n = h.state().chat_rows_laid_out();
        assert!(
            (1..=SCREENFUL).contains(&n),
            "{n} rows laid out in one frame"
        );
    };
    laid_out(&h);
    assert!(
        h.query_by_label(&first).is_none(),
        "the first is not laid out"
    );
    // Nothing changes, so no frame follows frame (the chat's heights
    // settled; the window title is not sent again).
    h.try_run().expect("the window settles");

    // Scrolled to the top: the first message shows, the newest is not laid out.
    h.get_by_label(&newest).hover();
    h.step();
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, 1.0e7),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::NONE,
    });
    wait(&mut h, "the first message", |h| {
        laid_out(h);
        h.query_by_label(&first).is_some()
    });
    assert!(h.query_by_label(&newest).is_none());

    // And back to the bottom, where a message written shows.
    h.get_by_label(&first).hover();
    h.step();
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, -1.0e7),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::NONE,
    });
    wait(&mut h, "the newest message again", |h| {
        laid_out(h);
        h.query_by_label(&newest).is_some()
    });
    fill(&mut h, "Message", "one more");
    h.key_press(egui::Key::Enter);
    wait(&mut h, "the message written", |h| {
        laid_out(h);
        h.query_by_label(&ours("one more")).is_some()
    });
    assert_eq!(h.state().open_chat().len(), N + 1);
    h.state_mut().shutdown();
}
