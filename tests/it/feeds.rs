//! An operator's feeds, polled politely: conditional requests, failures, redirects, limits,
//! OPML, chat-added feeds and episodes whose identity changes.

use podbrief::core::UserContext;
use podbrief::core::command::Command;
use podbrief::core::model::{ChatRef, Platform};
use podbrief::ingest::manage;

use crate::support::{Options, TestApp};

#[tokio::test]
async fn an_unchanged_feed_costs_a_304_and_no_parse() {
    let t = TestApp::spawn_with(Options {
        feeds: vec!["tides.xml"],
        ..Default::default()
    })
    .await;
    t.feeds.set_etag("tides.xml", "\"v1\"");
    let first = t.ingest().await;
    assert_eq!(first.new_episodes, 2);
    let stats = t.app.store.stats().await.unwrap();
    // Same ETag, but the body would now be broken: a 304 must mean nothing is read.
    t.feeds.set("tides.xml", "<rss><channel><title>broken");
    let second = t.ingest().await;
    assert_eq!(second.feeds_ok, 1, "{second:?}");
    assert_eq!(t.feeds.not_modified("tides.xml"), 1);
    assert_eq!(t.app.store.stats().await.unwrap(), stats);
    let feed = t
        .app
        .store
        .feed(&t.feeds.url("tides.xml"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(feed.etag.as_deref(), Some("\"v1\""));
    assert_eq!(feed.failures, 0);
}

#[tokio::test]
async fn a_feed_failing_again_and_again_is_disabled_and_the_others_go_on() {
    let t = TestApp::spawn_with(Options {
        feeds: vec!["tides.xml", "gone.xml"],
        ..Default::default()
    })
    .await;
    // max_failures defaults to 5.
    for _ in 0..5 {
        let r = t.ingest().await;
        assert_eq!(r.feeds_ok, 1);
    }
    let gone = t.feeds.url("gone.xml");
    let row = t.app.store.feed(&gone).await.unwrap().unwrap();
    let reason = row.disabled_reason.clone().expect("disabled");
    assert!(
        reason.contains("5 failures") && reason.contains("404"),
        "{reason}"
    );
    let r = t.ingest().await;
    assert_eq!(
        (r.feeds_ok, r.feeds_disabled, r.feed_errors.len()),
        (1, 1, 0),
        "a disabled feed is not fetched"
    );
    assert_eq!(t.feeds.hits("gone.xml"), 5);
    let listing = manage::describe(&t.app.store.feeds().await.unwrap());
    assert!(
        listing.contains("DISABLED") && listing.contains("gone.xml"),
        "{listing}"
    );
    manage::enable(t.app.store.as_ref(), &gone).await.unwrap();
    t.ingest().await;
    assert_eq!(t.feeds.hits("gone.xml"), 6, "enabled again");
}

#[tokio::test]
async fn a_permanent_redirect_becomes_the_feeds_url() {
    let t = TestApp::spawn_with(Options {
        feeds: vec![],
        ..Default::default()
    })
    .await;
    let moved = t.feeds.url("moved.xml");
    manage::add(t.app.store.as_ref(), &moved, false, true, t.app.clock.now())
        .await
        .unwrap();
    let r = t.ingest().await;
    assert_eq!(r.feeds_ok, 1, "{r:?}");
    let urls: Vec<String> = t
        .app
        .store
        .feeds()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.feed_url)
        .collect();
    assert_eq!(urls, [t.feeds.url("tides.xml")]);
}

#[tokio::test]
async fn a_huge_body_is_refused_at_the_cap() {
    let t = TestApp::spawn_with(Options {
        feeds: vec!["huge.xml", "tides.xml"],
        extra: String::new(),
        ..Default::default()
    })
    .await;
    let r = t.ingest().await;
    assert_eq!(r.feeds_ok, 1);
    let (_, err) = &r.feed_errors[0];
    assert!(err.contains("larger than the 20 MB limit"), "{err}");
}

#[tokio::test]
async fn an_opml_round_trip_keeps_every_feed() {
    let t = TestApp::spawn_with(Options {
        feeds: vec![],
        ..Default::default()
    })
    .await;
    let store = t.app.store.as_ref();
    for f in ["tides.xml", "orchard.xml", "moved.xml"] {
        manage::add(store, &t.feeds.url(f), false, true, t.app.clock.now())
            .await
            .unwrap();
    }
    let opml = manage::export(store).await.unwrap();
    let other = TestApp::spawn_with(Options {
        feeds: vec![],
        ..Default::default()
    })
    .await;
    let (added, known) = manage::import(
        other.app.store.as_ref(),
        opml.as_bytes(),
        other.app.clock.now(),
    )
    .await
    .unwrap();
    assert_eq!((added, known), (3, 0));
    let mut a: Vec<String> = store
        .feeds()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.feed_url)
        .collect();
    let mut b: Vec<String> = other
        .app
        .store
        .feeds()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.feed_url)
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[tokio::test]
async fn feeds_added_from_chat_are_for_operators_and_must_be_public() {
    let t = TestApp::ingested().await;
    let refused = t.say("/feeds add http://127.0.0.1/feed.xml").await.text;
    assert!(
        refused.starts_with("Refused:") && refused.contains("private"),
        "{refused}"
    );
    assert!(
        t.app
            .store
            .feed("http://127.0.0.1/feed.xml")
            .await
            .unwrap()
            .is_none()
    );
    let listing = t.say("/feeds").await.text;
    assert!(listing.contains("Tidal Talk"), "{listing}");
    // A Telegram user who is not an operator.
    let stranger = UserContext {
        chat: ChatRef {
            platform: Platform::Telegram,
            chat_id: "5".into(),
            thread_id: None,
        },
        user_id: Some("5".into()),
        can_manage: true,
        scope_id: None,
    };
    let r = t
        .app
        .core
        .handle(
            &stranger,
            Command::Feeds(podbrief::core::command::FeedsArg::List),
        )
        .await;
    assert!(
        r.text.starts_with("Only podbrief's operators"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn an_episode_whose_guid_changes_is_not_duplicated() {
    let t = TestApp::spawn_with(Options {
        feeds: vec!["tides.xml"],
        ..Default::default()
    })
    .await;
    t.ingest().await;
    let before = t.app.store.stats().await.unwrap();
    let original =
        std::fs::read_to_string(crate::support::fixtures().join("feeds/tides.xml")).unwrap();
    t.feeds.set(
        "tides.xml",
        original.replace("tidal-talk-002", "tidal-talk-002-v2"),
    );
    let r = t.ingest().await;
    assert_eq!(r.new_episodes, 0, "{r:?}");
    assert_eq!(t.app.store.stats().await.unwrap().episodes, before.episodes);
}

#[tokio::test]
async fn two_instances_poll_a_due_feed_once() {
    let t = TestApp::spawn_with(Options {
        feeds: vec!["tides.xml"],
        ..Default::default()
    })
    .await;
    let other = podbrief::app::App::build(t.app.config.clone(), t.clock.clone())
        .await
        .unwrap();
    let sources = t.app.config.feed_sources();
    let (a, b) = tokio::join!(
        t.app.ingestor.ingest_due(&sources),
        other.ingestor.ingest_due(&sources)
    );
    assert_eq!(a.feeds_ok + b.feeds_ok, 1, "{a:?} {b:?}");
    assert_eq!(t.feeds.hits("tides.xml"), 1);
    // Not due again until its next poll time.
    t.app.ingestor.ingest_due(&sources).await;
    assert_eq!(t.feeds.hits("tides.xml"), 1);
}
