//! "Meet in person" driven as two people would, through AccessKit labels:
//! two apps with in-process nodes on TCP 127.0.0.1 show their codes, scan
//! each other's (one from a picture of the QR code, one pasted), and both end
//! with a verified contact met in person. A damaged code and a contact link
//! are refused in words, and nothing is added.

use std::path::Path;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kith_app::{AppConfig, KithApp};
use kith_node::{ContactOrigin, ContactState, KdfChoice, Network, NetworkStatus};

type H = Harness<'static, KithApp>;

const PASSWORD: &str = "correct horse battery";

fn app(dir: &Path) -> H {
    let cfg = AppConfig {
        data_dir: dir.to_path_buf(),
        kdf: KdfChoice::DangerouslyFastForTestingOnly,
        network_override: Some(Network::Tcp {
            listen: "127.0.0.1:0".parse().expect("loopback address"),
        }),
        go_online_on_unlock: true,
        desktop_notifications: false,
    };
    Harness::builder()
        .with_size(egui::vec2(1000.0, 680.0))
        .wgpu()
        .build_eframe(move |cc| KithApp::new(cc, cfg).expect("app starts"))
}

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

fn wait2(a: &mut H, b: &mut H, what: &str, cond: impl Fn(&H, &H) -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
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

fn has_label(h: &H, label: &str) -> bool {
    h.query_all_by_label_contains(label).next().is_some()
}

fn show(h: &mut H, label: &str) {
    h.get_by_label(label).scroll_to_me();
    h.step();
    h.step();
}

/// Replace the text of the field with this label.
fn fill(h: &mut H, label: &str, text: &str) {
    show(h, label);
    h.get_by_label(label).focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
}

fn click(h: &mut H, label: &str) {
    show(h, label);
    h.get_by_label(label).hover();
    h.step();
    h.get_by_label(label).click();
    h.step();
    h.step();
}

fn unfocus(h: &mut H) {
    h.ctx.memory_mut(|m| {
        if let Some(id) = m.focused() {
            m.surrender_focus(id);
        }
    });
    h.step();
    h.step();
}

fn create_profile(h: &mut H, name: &str) {
    wait(h, "create screen", |h| h.state().screen_name() == "create");
    fill(h, "Your name (contacts see it)", name);
    fill(h, "Password", PASSWORD);
    fill(h, "Password again", PASSWORD);
    click(h, "Create profile");
    wait(h, "main screen", |h| h.state().screen_name() == "main");
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

fn open_meeting(h: &mut H) -> String {
    click(h, "Meet in person");
    wait(h, "my meet code", |h| {
        h.state().active_meet_code().is_some()
    });
    h.state().active_meet_code().expect("code")
}

#[test]
fn meet_in_person_dialog() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut a, mut b) = (app(da.path()), app(db.path()));
    create_profile(&mut a, "Ana");
    create_profile(&mut b, "Ben");
    let code_a = open_meeting(&mut a);
    assert!(code_a.starts_with("kith-meet:"), "{code_a}");
    assert!(a.query_by_label("Your meet QR code").is_some());
    unfocus(&mut a);
    let qr = a.get_by_label("Your meet QR code").rect();
    let text = a.get_by_label("Your meet code").rect();
    a.mask(qr);
    a.mask(text.expand(2.0));
    a.snapshot("meet_in_person");

    // Nothing typed; a damaged code; a contact link: refused in words.
    click(&mut a, "Meet");
    assert!(has_label(&a, "Scan or paste the other device's code"));
    let mut damaged = code_a.clone().into_bytes();
    let i = damaged.len() - 4;
    damaged[i] = if damaged[i] == b'a' { b'b' } else { b'a' };
    fill(
        &mut a,
        "Paste their code",
        std::str::from_utf8(&damaged).unwrap(),
    );
    fill(&mut a, "Name for this contact", "Ben");
    click(&mut a, "Meet");
    assert!(has_label(&a, "damaged or was altered"), "damaged code");
    let link = b.state().active_link().unwrap();
    fill(&mut a, "Paste their code", &link);
    click(&mut a, "Meet");
    assert!(has_label(&a, "not a meet code"), "a link is not a code");
    assert!(a.state().active_contacts().is_empty());

    // Ben shows his code; Ana scans a picture of it, Ben pastes Ana's.
    let code_b = open_meeting(&mut b);
    let qr_payload = kith_core::MeetCode::parse(&code_b).unwrap().qr_payload();
    let png = kith_app::qr::render_payload_png(&qr_payload, 8).unwrap();
    let qr_file = da.path().join("ben.png");
    std::fs::write(&qr_file, png).unwrap();
    fill(&mut a, "Picture of their code", qr_file.to_str().unwrap());
    click(&mut a, "Scan picture");
    wait(&mut a, "scanned", |h| has_label(h, "Read their code"));
    assert_eq!(
        a.get_by_label("Paste their code").value().as_deref(),
        Some(code_b.as_str())
    );
    click(&mut a, "Meet");
    fill(&mut b, "Paste their code", &code_a);
    fill(&mut b, "Name for this contact", "Ana");
    click(&mut b, "Meet");
    wait2(&mut a, &mut b, "both met", |a, b| {
        has_label(a, "You met Ben in person") && has_label(b, "You met Ana in person")
    });
    wait2(&mut a, &mut b, "contact lists", |a, b| {
        a.state().active_contacts().len() == 1 && b.state().active_contacts().len() == 1
    });
    for (h, alias) in [(&a, "Ben"), (&b, "Ana")] {
        let c = &h.state().active_contacts()[0];
        assert_eq!(c.alias, alias);
        assert_eq!(c.state, ContactState::Accepted);
        assert_eq!(c.origin, ContactOrigin::MetInPerson);
        assert!(c.verified);
    }
    click(&mut a, "Close");
    assert!(!has_label(&a, "You met Ben in person"), "the dialog closed");
    a.state_mut().shutdown();
    b.state_mut().shutdown();
}
