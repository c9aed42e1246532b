//! An operator's feeds are read into podcasts, episodes and insights.

use crate::support::{Options, TestApp};

#[tokio::test]
async fn a_feed_polled_twice_is_stored_once() {
    let t = TestApp::spawn().await;
    let first = t.ingest().await;
    assert_eq!(first.feeds_ok, 2, "{first:?}");
    assert_eq!(first.new_episodes, 4);
    assert!(first.new_insights >= 4, "{first:?}");
    let stats = t.app.store.stats().await.unwrap();

    let second = t.ingest().await;
    assert_eq!(second.feeds_ok, 2);
    assert_eq!(second.new_episodes, 0, "nothing is new the second time");
    assert_eq!(second.new_insights, 0);
    assert_eq!(
        t.app.store.stats().await.unwrap(),
        stats,
        "nothing is duplicated"
    );
    assert_eq!(
        t.feeds.hits("tides.xml"),
        2,
        "the feed really was fetched twice"
    );
    assert_eq!(
        t.feeds.hits("transcripts/tides-01-lagoons.vtt"),
        1,
        "a transcript is read once"
    );
}

#[tokio::test]
async fn a_broken_feed_is_reported_by_name_and_the_others_are_still_ingested() {
    let t = TestApp::spawn_with(Options {
        feeds: vec!["broken.xml", "tides.xml", "missing.xml"],
        ..Default::default()
    })
    .await;
    let r = t.ingest().await;
    assert_eq!(r.feeds_ok, 1);
    assert_eq!(r.feed_errors.len(), 2, "{r:?}");
    let (name, err) = &r.feed_errors[0];
    assert!(name.ends_with("broken.xml"), "{name}");
    assert!(
        err.contains("broken.xml") && err.contains("not a valid RSS/Atom feed"),
        "{err}"
    );
    let (name, err) = &r.feed_errors[1];
    assert!(
        name.ends_with("missing.xml") && err.contains("404"),
        "{name}: {err}"
    );
    let stats = t.app.store.stats().await.unwrap();
    assert_eq!(stats.episodes, 2, "the good feed's episodes are stored");
    assert!(stats.insights > 0);
    // The broken feeds are known, with their errors, for `podbrief feeds`.
    let broken = t
        .app
        .store
        .feed(&t.feeds.url("broken.xml"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        broken
            .last_error
            .unwrap()
            .contains("not a valid RSS/Atom feed")
    );
}

#[tokio::test]
async fn a_sponsor_read_never_becomes_an_insight() {
    let t = TestApp::ingested().await;
    let all = t.app.store.insights_after(0, 1000).await.unwrap();
    assert!(!all.is_empty());
    for i in &all {
        let q = i.quote.to_lowercase();
        assert!(
            !q.contains("zorblax") && !q.contains("promo code"),
            "sponsor read became an insight: {i:?}"
        );
        assert!(
            !q.contains("welcome to") && !q.contains("thanks for listening"),
            "intro/outro became an insight: {i:?}"
        );
    }
    // The sponsor's name is in the transcript, yet a lookup finds nothing.
    let reply = t.say("related to Zorblax mattresses").await;
    assert!(reply.cards.is_empty(), "{reply:?}");
}

#[tokio::test]
async fn insights_carry_their_episode_speaker_and_time() {
    let t = TestApp::ingested().await;
    let all = t.app.store.insights_after(0, 1000).await.unwrap();
    let timed: Vec<_> = all
        .iter()
        .filter(|i| i.episode_title == "Tidal Lagoons and Turbines")
        .collect();
    assert!(!timed.is_empty());
    for i in timed {
        assert!(i.start_ms.is_some() && i.speaker.is_some(), "{i:?}");
        assert_eq!(i.podcast_title, "Tidal Talk");
        assert!(
            i.episode_link
                .as_deref()
                .unwrap()
                .starts_with("https://example.com/")
        );
        assert!(!i.topics.is_empty(), "{i:?}");
        let words = i.text.split_whitespace().count();
        assert!((8..=90).contains(&words), "{words} words: {}", i.text);
    }
}
