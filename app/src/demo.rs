//! Test-only: a populated app for screenshots (`kith-app --screenshot-demo`).
//!
//! Makes throwaway profiles in a temporary folder, with the dangerously fast
//! password hashing, talking over plain TCP on 127.0.0.1 only: Alice and Bob
//! exchange a few messages, Carol asks Alice to connect, and two anonymous
//! messages wait in Alice's inbox. Nothing here is used by a normal start.

use std::time::Duration;

use anyhow::Context as _;
use kith_node::{ContactId, KdfChoice, Kith, KithConfig, MessageState, Network, Password, Profile};

/// The demo's data: keep it alive while the app runs (dropping deletes it).
pub struct Demo {
    /// The temporary data folder.
    pub dir: tempfile::TempDir,
    /// The engine with the demo profiles unlocked.
    pub kith: Kith,
}

fn loopback() -> Network {
    Network::Tcp {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    }
}

async fn until_delivered(p: &Profile, c: ContactId) -> anyhow::Result<()> {
    for _ in 0..200 {
        let ms = p.messages(c).await?;
        if ms
            .iter()
            .all(|m| m.direction == kith_node::Direction::In || m.state == MessageState::Delivered)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("demo messages were not delivered in time")
}

/// The inbox link of `p` once its TCP listener runs (its port is in the link).
async fn inbox_link_when_listening(p: &Profile) -> anyhow::Result<kith_node::InboxLink> {
    for _ in 0..200 {
        if let Some(l) = p.inbox_status().await?.link
            && l.tcp.is_some()
        {
            return Ok(l);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the demo inbox did not start listening in time")
}

/// Build the demo on `rt`.
pub fn build(rt: &tokio::runtime::Runtime) -> anyhow::Result<Demo> {
    let dir = tempfile::Builder::new().prefix("kith-demo-").tempdir()?;
    let kith = Kith::new(KithConfig {
        data_dir: dir.path().to_path_buf(),
        kdf: KdfChoice::DangerouslyFastForTestingOnly,
    });
    let k = kith.clone();
    rt.block_on(async move {
        let pw = || Password::new("demo only".into());
        let alice = k.create_profile("alice", "Alice", pw()).await?;
        let bob = k.create_profile("bob", "Bob", pw()).await?;
        let carol = k.create_profile("carol", "Carol", pw()).await?;
        for p in [&alice, &bob, &carol] {
            p.go_online(loopback()).await?;
        }
        let bob_at_alice = alice.add_contact(&bob.link(), "Bob").await?;
        let alice_at_bob = bob.add_contact(&alice.link(), "Alice").await?;
        let lines: [(bool, &str); 5] = [
            (true, "Hi Bob! Did the flyers arrive?"),
            (false, "Yes, 300 of them. Meeting still at 7?"),
            (true, "At 7, back entrance. Bring the banner 😊"),
            (false, "Will do. I'll message when I leave."),
            (true, "Great, see you there 👍"),
        ];
        for (from_alice, text) in lines {
            if from_alice {
                alice.send(bob_at_alice.id, text).await?;
                until_delivered(&alice, bob_at_alice.id).await?;
            } else {
                bob.send(alice_at_bob.id, text).await?;
                until_delivered(&bob, alice_at_bob.id).await?;
            }
        }
        carol.add_contact(&alice.link(), "Alice").await?;
        // Let Carol's request reach Alice.
        for _ in 0..100 {
            if alice.contacts().await?.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Alice's inbox takes two anonymous messages: one from Carol, who
        // leaves her contact link, and one from no profile at all.
        alice.set_inbox(true).await?;
        let inbox = inbox_link_when_listening(&alice).await?;
        carol
            .drop_message(
                &inbox,
                "Saw your stall at the market. Could we talk about the garden project?",
                kith_node::LeaveReply::Contact,
            )
            .await?;
        k.drop_message(&loopback(), &inbox, "Thank you for the flyers.")
            .await?;
        // Carol's part is done: only her request and her drop stay, at Alice.
        k.lock("carol").await;
        anyhow::Ok(())
    })
    .context("building the screenshot demo")?;
    Ok(Demo { dir, kith })
}
