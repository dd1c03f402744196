//! Entry points for `cargo fuzz` (see `fuzz/`). Not an API: hidden from the
//! docs, compiled on stable so the harness never rots.
//!
//! [`Inbound`] drives the whole inbound path after the handshake, as a
//! contact would: bytes → `kith_core::wire::decode` → the session's message
//! handler → the encrypted store → the views front ends display.

use std::path::PathBuf;

use kith_core::wire::PeerMessage;
use kith_core::{ContactLink, IdentityKeypair, Timestamp};
use kith_store::ContactId;

use crate::{KdfChoice, Kith, KithConfig, Password, Profile};

/// A profile with one accepted contact, in a private temporary directory.
pub struct Inbound {
    rt: tokio::runtime::Runtime,
    kith: Kith,
    profile: Profile,
    contact: ContactId,
    dir: PathBuf,
}

impl std::fmt::Debug for Inbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inbound(..)")
    }
}

impl Inbound {
    /// A fresh profile and contact.
    ///
    /// # Panics
    /// When the temporary directory, runtime or profile cannot be made (the
    /// harness cannot run at all then).
    #[allow(clippy::expect_used)]
    pub fn new() -> Inbound {
        let mut rnd = [0_u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut rnd);
        let tag: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("kith-fuzz-{tag}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let kith = Kith::new(KithConfig {
            data_dir: dir.clone(),
            kdf: KdfChoice::DangerouslyFastForTestingOnly,
        });
        let (profile, contact) = rt.block_on(async {
            let p = kith
                .create_profile("fuzz", "Fuzz", Password::new("pw".into()))
                .await
                .expect("profile");
            let peer = IdentityKeypair::from_seed(&[7; 32]);
            let link = ContactLink {
                address: peer.address(),
                tcp: None,
            };
            let c = p.add_contact(&link, "peer").await.expect("contact");
            // A contact we added (Outgoing) may hold a session, as an
            // accepted one does.
            (p, c.id)
        });
        Inbound {
            rt,
            kith,
            profile,
            contact,
            dir,
        }
    }

    /// Feed `data` as a contact's session would: `u16 BE length ‖ frame`,
    /// repeated. A first frame that is a `Hello` refreshes the contact's name
    /// as a new session's hello does. Checks what front ends would be shown.
    ///
    /// # Panics
    /// When an invariant of what is displayed does not hold (that is a bug
    /// the fuzzer found).
    pub fn run(&self, mut data: &[u8]) {
        let p = &self.profile.inner;
        self.rt.block_on(async {
            let mut first = true;
            let mut files = crate::file::SessionFiles::default();
            let mut groups = crate::group::sync::SessionSync::default();
            while data.len() >= 2 {
                let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
                let end = (2 + len).min(data.len());
                let frame = &data[2..end];
                data = &data[end..];
                let Ok(msg) = kith_core::wire::decode(frame) else {
                    continue;
                };
                if let PeerMessage::Hello(h) = &msg {
                    if first {
                        let c = p.store.call({
                            let id = self.contact;
                            move |s| s.contact(id)
                        });
                        if let Ok(c) = c.await {
                            let _ = crate::net::refresh_contact(p, &c, h).await;
                        }
                    }
                    first = false;
                    continue;
                }
                first = false;
                // A typed error ends a real session; here we go on.
                let _ = crate::net::on_message(p, self.contact, msg, &mut files, &mut groups).await;
            }
            self.check_views().await;
        });
    }

    async fn check_views(&self) {
        let latest = Timestamp::now()
            .as_millis()
            .saturating_add(kith_core::clock::MAX_PEER_CLOCK_AHEAD.as_millis());
        let contacts = self.profile.contacts().await;
        let Ok(contacts) = contacts else {
            panic!("listing contacts failed");
        };
        for c in contacts {
            if let Some(n) = &c.their_name {
                assert!(
                    !n.chars().any(kith_core::text::is_disallowed_in_name),
                    "a peer's name reached the views unsanitized"
                );
            }
            if let Some(m) = &c.last_message {
                assert!(m.time.as_millis() <= latest, "a peer's date in the future");
            }
        }
        let Ok(msgs) = self.profile.messages(self.contact).await else {
            panic!("reading the conversation failed");
        };
        for m in msgs {
            assert!(m.time.as_millis() <= latest, "a peer's date in the future");
            assert!(m.body.len() <= kith_core::wire::MAX_BODY);
        }
    }
}

impl Default for Inbound {
    fn default() -> Self {
        Inbound::new()
    }
}

impl Drop for Inbound {
    fn drop(&mut self) {
        let kith = self.kith.clone();
        self.rt.block_on(kith.shutdown());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A contact's picture, as the preview decoder takes it (`Profile::preview`):
/// bounded, never a panic; a preview is at most `PREVIEW_SIDE` a side.
///
/// # Panics
/// When a preview breaks its bounds (a bug the fuzzer found).
pub fn preview(data: &[u8]) {
    if let Ok(p) = crate::file::make_preview(data) {
        let side = crate::file::PREVIEW_SIDE;
        assert!(p.width <= side && p.height <= side);
        assert_eq!(
            p.rgba.len() as u64,
            u64::from(p.width) * u64::from(p.height) * 4
        );
    }
}

/// A fetched feed body (RSS, Atom) as the node takes it: `parse_feed`
/// exactly as `Profile::fetch_feed` calls it, then the items merged into
/// what a subscription keeps and encoded for the store; asserts the bounds
/// kept (items, remembered ids, bytes), numbering, clamped times, a typed
/// error otherwise (never a caught parser panic), and that the same
/// document fetched again brings nothing new.
pub fn feed_body(data: &[u8]) {
    crate::feed::check_body(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_core::wire::{Hello, Text, encode};

    fn framed(msgs: &[PeerMessage]) -> Vec<u8> {
        let mut out = vec![];
        for m in msgs {
            let b = encode(m).expect("encode");
            out.extend_from_slice(&u16::try_from(b.len()).expect("len").to_be_bytes());
            out.extend_from_slice(&b);
        }
        out
    }

    #[test]
    fn hostile_names_dates_and_garbage_are_data() {
        let h = Inbound::new();
        let input = framed(&[
            PeerMessage::Hello(Hello {
                name: "\u{202E}evil\u{200B}\x1b]0;title\x07".into(),
                tcp_hint: None,
            }),
            PeerMessage::Text(Text {
                id: kith_core::MessageId([1; 16]),
                sent_at: Timestamp(u64::MAX),
                body: "\x1b[2J\rhello".into(),
            }),
            PeerMessage::Text(Text {
                id: kith_core::MessageId([2; 16]),
                sent_at: Timestamp(0),
                body: "old".into(),
            }),
            PeerMessage::Ack(vec![kith_core::MessageId([9; 16])]),
        ]);
        h.run(&input);
        h.run(&[0xff, 0xff, 1, 2, 3]);
        h.run(&input[..input.len() / 2]);
        let c =
            h.rt.block_on(h.profile.contact(h.contact))
                .expect("contact");
        assert_eq!(c.their_name.as_deref(), Some("evil]0;title"));
        let msgs = h.rt.block_on(h.profile.messages(h.contact)).expect("msgs");
        assert_eq!(msgs.len(), 2, "a duplicate is stored once");
        assert!(
            msgs.iter()
                .all(|m| m.time.as_millis() <= Timestamp::now().as_millis() + 600_000)
        );
    }

    #[test]
    fn feed_bodies_through_the_node() {
        let rss = |n: usize| {
            let mut s = String::from("<rss version=\"2.0\"><channel><title>T</title>");
            for i in 0..n {
                s.push_str(&format!(
                    "<item><guid>{i}</guid><title>i{i}</title><description>{}</description>\
                     <pubDate>Sun, 06 Dec 9999 10:00:00 GMT</pubDate></item>",
                    "w ".repeat(1500)
                ));
            }
            s.push_str("</channel></rss>");
            s.into_bytes()
        };
        feed_body(&rss(0));
        feed_body(&rss(3));
        feed_body(&rss(250));
        feed_body(b"<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>x</id></entry><entry><id>x</id></entry></feed>");
        feed_body(b"<!DOCTYPE x [<!ENTITY a \"b\">]><rss/>");
        feed_body(b"");
        feed_body(&[0xff; 64]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn any_feed_body_is_data(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1024),
            cut in 0_usize..400,
        ) {
            feed_body(&data);
            // And mutations of a real feed.
            let mut doc = b"<rss version=\"2.0\"><channel><title>T</title><item><guid>a</guid><title>A</title><link>http://a.example/</link></item><item><title>B</title></item></channel></rss>".to_vec();
            doc.truncate(cut.min(doc.len()));
            doc.extend_from_slice(&data[..data.len().min(64)]);
            feed_body(&doc);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn any_bytes_are_data(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            thread_local! {
                static H: Inbound = Inbound::new();
            }
            H.with(|h| h.run(&data));
        }
    }
}
