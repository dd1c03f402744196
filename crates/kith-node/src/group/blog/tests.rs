//! Blogs between four profiles over TCP on 127.0.0.1, and the blog rule
//! on what each author may write.

use std::time::Duration;

use kith_core::group::{GroupContent, GroupMessage};
use kith_core::wire::PeerMessage;
use kith_core::{IdentityKeypair, Timestamp};

use super::*;
use crate::group::sync;
use crate::group::tests::{befriend, four_online};
use crate::group::{Author, GroupLine};
use crate::tests::{kith, tcp, until_long as until};
use crate::{ContactId, Password};

fn text(v: &GroupMessageView) -> &str {
    match &v.body {
        GroupLine::Post(t) => t,
        _ => "",
    }
}

/// The post of `p`'s feed whose text is `t`.
async fn post(p: &Profile, t: &str) -> Option<BlogPostView> {
    p.blog_feed()
        .await
        .expect("feed")
        .into_iter()
        .find(|e| text(&e.post) == t)
}

/// Whether `p`'s feed shows the comment `t` under the post `on`.
async fn has_comment(p: &Profile, on: &str, t: &str) -> bool {
    post(p, on)
        .await
        .is_some_and(|e| e.comments.iter().any(|c| text(c) == t))
}

/// Whether `p` holds a message with text `t` in `blog` at all (the feed
/// shows only what the rule allows; this looks under it).
async fn holds(p: &Profile, blog: GroupId, t: &str) -> bool {
    p.group_messages(blog)
        .await
        .expect("messages")
        .iter()
        .any(|m| text(m) == t)
}

fn key(p: &Profile) -> [u8; 32] {
    p.inner.identity.public().to_bytes()
}

/// A message signed by `k` in `group`, as a hostile peer would make it.
fn forge(
    k: &IdentityKeypair,
    group: GroupId,
    seq: u64,
    previous: Vec<GroupMessageId>,
    parent: Option<GroupMessageId>,
    text: &str,
) -> GroupMessage {
    GroupMessage::sign(
        k,
        GroupContent {
            group,
            author: k.public().to_bytes(),
            seq,
            previous,
            parent,
            timestamp: Timestamp::now(),
            body: GroupBody::Post { text: text.into() },
        },
    )
    .expect("sign")
}

/// Feed `msgs` to `to` as relayed by its contact `from` in an exchange
/// `from` opens: the entry point of every sync frame.
async fn relay(to: &Profile, from: ContactId, group: GroupId, msgs: &[&GroupMessage]) {
    let frame = PeerMessage::GroupSync {
        opener: true,
        frame: kith_sync::frame::encode(&kith_sync::frame::SyncFrame::Messages {
            group,
            messages: msgs.iter().map(|m| m.encoded().to_vec()).collect(),
            end: false,
        })
        .expect("frame"),
    };
    let mut files = crate::file::SessionFiles::default();
    let mut ss = sync::SessionSync::default();
    crate::net::on_message(&to.inner, from, frame, &mut files, &mut ss)
        .await
        .expect("refused, the session goes on");
}

/// The story: Alice posts; her contacts Bob and Carol (not each
/// other's) read it, Bob comments and Carol answers him through Alice;
/// Bob reblogs Alice's post and his contact Dave (not Alice's) reads it as
/// Alice's; a stranger's comment and a reader's top-level post are
/// refused on the way in; Alice's blog off stops its sync and her posting
/// (she still reads); a restart keeps everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blog_reaches_contacts_and_comments_pass_through_its_owner() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let pw = || Password::new("pw".into());
    let [a, b, c, d] = four_online(&k).await;
    let (a_bob, _b_alice) = befriend(&a, &b, "bob", "alice").await;
    let (_a_carol, c_alice) = befriend(&a, &c, "carol", "alice").await;
    let (_b_dave, _d_bob) = befriend(&b, &d, "dave", "bob").await;
    let ablog = a.blog_id();
    assert_eq!(ablog, GroupId::blog_of(&key(&a)));
    assert!(a.blog_feed().await.expect("feed").is_empty());
    assert!(a.blog_enabled().expect("on"), "on by default");

    // A post reaches Alice's contacts, not Bob's contact Dave.
    let hello = a.post_to_blog("hello world").await.expect("post");
    assert!(a.post_to_blog("  ").await.is_err(), "empty");
    for p in [&b, &c] {
        until("the post", || async {
            post(p, "hello world").await.is_some()
        })
        .await;
        let e = post(p, "hello world").await.expect("post");
        assert_eq!(e.blog, ablog);
        assert_eq!(e.owner, Author::Contact("alice".into()));
        assert_eq!(e.post.id, hello.id);
        assert!(e.reblog_of.is_none());
    }
    let blogs = a.all(GroupKind::Blog).await.expect("blogs");
    assert!(blogs.iter().any(|g| g.id == ablog && g.ours));
    assert!(
        b.post_to_group(ablog, "not a group", None).await.is_err(),
        "a blog is not a group"
    );

    // Hostile: Bob relays to Alice a stranger's comment, and a top-level
    // post of his own in her blog; Alice relays to Carol a top-level post
    // of a stranger. All refused on the way in; the session goes on.
    let stranger = IdentityKeypair::from_seed(&[9; 32]);
    let strangers = forge(&stranger, ablog, 0, vec![], Some(hello.id), "spam");
    let bobs_post = forge(&b.inner.identity, ablog, 0, vec![], None, "my post");
    relay(&a, a_bob, ablog, &[&strangers, &bobs_post]).await;
    let top = forge(&stranger, ablog, 0, vec![], None, "takeover");
    relay(&c, c_alice, ablog, &[&top]).await;
    assert!(!holds(&a, ablog, "spam").await);
    assert!(!holds(&a, ablog, "my post").await);
    assert!(!holds(&c, ablog, "takeover").await);
    assert!(
        b.comment_on_blog(GroupMessageId([7; 32]), "lost")
            .await
            .is_err(),
        "no such post"
    );
    // Bob may not write a top-level post in Alice's blog himself either.
    assert!(b.post(GroupKind::Blog, ablog, "mine", None).await.is_err());

    // Bob's comment reaches Alice, and Carol through her; Carol's answer
    // reaches Bob.
    let bobs = b
        .comment_on_blog(hello.id, "nice one")
        .await
        .expect("comment");
    for p in [&a, &c] {
        until("bob's comment", || async {
            has_comment(p, "hello world", "nice one").await
        })
        .await;
    }
    c.comment_on_blog(bobs.id, "agreed, bob")
        .await
        .expect("answer");
    until("carol's answer at bob's", || async {
        has_comment(&b, "hello world", "agreed, bob").await
    })
    .await;
    let e = post(&b, "hello world").await.expect("post");
    let answer = e
        .comments
        .iter()
        .find(|c| text(c) == "agreed, bob")
        .expect("answer");
    assert_eq!(answer.parent, Some(bobs.id));
    assert_eq!(answer.author_key, key(&c));
    // The owner relays comments of anyone it took: a reader trusts it.
    let by_stranger = forge(&stranger, ablog, 0, vec![], Some(hello.id), "hi all");
    relay(&c, c_alice, ablog, &[&by_stranger]).await;
    assert!(has_comment(&c, "hello world", "hi all").await);

    // Bob reblogs Alice's post; Dave, who does not know Alice, reads it as
    // hers (her signature, inside Bob's).
    assert!(
        b.reblog(bobs.id, "").await.is_err(),
        "a comment is not reblogged"
    );
    let rb = b.reblog(hello.id, "look at this").await.expect("reblog");
    assert!(a.reblog(hello.id, "").await.is_err(), "not one's own post");
    until("the reblog at dave's", || async {
        post(&d, "look at this").await.is_some()
    })
    .await;
    let e = post(&d, "look at this").await.expect("reblog");
    assert_eq!(e.post.id, rb.id);
    assert_eq!(e.owner, Author::Contact("bob".into()));
    let o = e.reblog_of.expect("original");
    assert_eq!((o.id, o.text.as_str()), (hello.id, "hello world"));
    assert_eq!(o.author_key, key(&a));
    assert_eq!(o.blog, ablog);
    assert!(matches!(o.author, Author::Member(_)), "not dave's contact");
    // Reblogging the reblog reblogs its original.
    let again = d.reblog(rb.id, "").await.expect("reblog the reblog");
    let e = d
        .blog_feed()
        .await
        .expect("feed")
        .into_iter()
        .find(|e| e.post.id == again.id)
        .expect("dave's reblog");
    assert_eq!(e.reblog_of.expect("original").id, hello.id);
    // Dave is not Alice's contact: her blog is not his to comment on.
    assert!(d.comment_on_blog(hello.id, "hi alice").await.is_err());

    // Alice turns her blog off: no posting, no sync (Bob's new comment
    // stays with him); she still reads Bob's blog.
    a.set_blog_enabled(false).await.expect("off");
    assert!(!a.blog_enabled().expect("off"));
    assert!(a.post_to_blog("while off").await.is_err());
    assert!(a.comment_on_blog(hello.id, "me too").await.is_err());
    b.comment_on_blog(hello.id, "are you there?")
        .await
        .expect("written at bob's");
    b.post_to_blog("bob's own news").await.expect("bob posts");
    until("bob's post at alice's", || async {
        post(&a, "bob's own news").await.is_some()
    })
    .await;
    // Bob's post came on the same sessions: had her blog synced, his
    // comment (written before) would have come too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!has_comment(&a, "hello world", "are you there?").await);
    // On again: it comes.
    a.set_blog_enabled(true).await.expect("on");
    until("the comment after the blog is on", || async {
        has_comment(&a, "hello world", "are you there?").await
    })
    .await;
    // And what Bob writes later comes as before.
    b.comment_on_blog(hello.id, "welcome back")
        .await
        .expect("comment");
    until("a comment written after the blog is on", || async {
        has_comment(&a, "hello world", "welcome back").await
    })
    .await;
    a.set_blog_enabled(false).await.expect("off again");

    // A restart keeps posts, comments, reblogs and the setting.
    k.lock("dave").await;
    let d = k.unlock("dave", pw()).await.expect("unlock");
    let e = post(&d, "look at this").await.expect("kept");
    assert_eq!(e.reblog_of.expect("original").author_key, key(&a));
    k.lock("alice").await;
    let a = k.unlock("alice", pw()).await.expect("unlock");
    assert!(!a.blog_enabled().expect("still off"));
    assert!(has_comment(&a, "hello world", "agreed, bob").await);
    assert!(a.post_to_blog("still off").await.is_err());
    a.set_blog_enabled(true).await.expect("on");
    a.go_online(tcp()).await.expect("online");
    a.post_to_blog("back").await.expect("post");
    until("a post after the restart", || async {
        post(&c, "back").await.is_some()
    })
    .await;
    k.shutdown().await;
}

/// What a blog takes from whom, by the message's body.
#[test]
fn the_blog_rule() {
    let (owner, reader) = ([1; 32], [2; 32]);
    let post = GroupBody::Post { text: "x".into() };
    let parent = Some(GroupMessageId([3; 32]));
    assert!(admits(owner, owner, &GroupBody::CreateBlog, None).is_ok());
    assert!(admits(owner, owner, &post, None).is_ok());
    assert!(admits(owner, owner, &post, parent).is_ok());
    assert!(admits(owner, reader, &post, parent).is_ok());
    assert!(admits(owner, reader, &post, None).is_err());
    assert!(admits(owner, owner, &GroupBody::Leave, None).is_err());
    assert!(admits(owner, owner, &GroupBody::Add { member: reader }, None).is_err());
    assert!(admits(owner, reader, &GroupBody::Leave, None).is_err());
    let react = GroupBody::React {
        target: GroupMessageId([3; 32]),
        emoji: None,
    };
    assert!(admits(owner, reader, &react, None).is_err());
}

/// A reader trusts its contact's filter, not without end: past 4 096
/// commenters it does not know in one session, the session is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_strangers_comments_ends_the_session() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = kith(dir.path());
    let pw = || Password::new("pw".into());
    let a = k.create_profile("alice", "Alice", pw()).await.expect("a");
    let c = k.create_profile("carol", "Carol", pw()).await.expect("c");
    for p in [&a, &c] {
        p.go_online(tcp()).await.expect("online");
    }
    let (_a_carol, c_alice) = befriend(&a, &c, "carol", "alice").await;
    let hello = a.post_to_blog("hello").await.expect("post");
    until("the post", || async { post(&c, "hello").await.is_some() }).await;
    let ablog = a.blog_id();
    let mut files = crate::file::SessionFiles::default();
    let mut ss = sync::SessionSync::default();
    let mut n: u32 = 0;
    let mut ended = None;
    for _ in 0..70 {
        let batch: Vec<Vec<u8>> = (0..64)
            .map(|_| {
                n += 1;
                let mut seed = [0; 32];
                seed[..4].copy_from_slice(&n.to_le_bytes());
                seed[31] = 0xb1;
                let k = IdentityKeypair::from_seed(&seed);
                forge(&k, ablog, 0, vec![], Some(hello.id), "me too")
                    .encoded()
                    .to_vec()
            })
            .collect();
        let frame = PeerMessage::GroupSync {
            opener: true,
            frame: kith_sync::frame::encode(&kith_sync::frame::SyncFrame::Messages {
                group: ablog,
                messages: batch,
                end: false,
            })
            .expect("frame"),
        };
        if let Err(e) = crate::net::on_message(&c.inner, c_alice, frame, &mut files, &mut ss).await
        {
            ended = Some(e);
            break;
        }
    }
    assert!(
        matches!(
            ended,
            Some(Error::Protocol("relays group messages of non-members"))
        ),
        "a flood of strangers' comments must end the session: {ended:?}"
    );
    assert!(n > 4096, "ended after {n}");
    k.shutdown().await;
}
