//! The daily brief: the top insights, diverse, and never the same one twice to a chat.

use crate::support::TestApp;

#[tokio::test]
async fn top_returns_n_cards_from_different_episodes() {
    let t = TestApp::ingested().await;
    let reply = t.say("/top").await;
    assert_eq!(reply.cards.len(), 3, "brief.size is 3 in tests: {reply:?}");
    let mut episodes: Vec<&str> = reply.cards.iter().map(|c| c.episode.as_str()).collect();
    episodes.sort();
    episodes.dedup();
    assert_eq!(episodes.len(), 3, "one card per episode");
}

#[tokio::test]
async fn subscription_settings_are_kept_and_explained() {
    let t = TestApp::ingested().await;
    assert!(t.say("/settings").await.text.contains("no subscription"));
    let r = t.say("/subscribe 07:30 Asia/Tokyo").await;
    assert!(
        r.text.starts_with(
            "Subscribed: the top 3 insights will arrive here every day at 07:30 (Asia/Tokyo)"
        ),
        "{}",
        r.text
    );
    t.say("/size 2").await;
    t.say("/topics tidal, -cider").await;
    let s = t.say("/settings").await.text;
    assert!(
        s.contains("every day at 07:30 (Asia/Tokyo)")
            && s.contains("Insights per brief: 2")
            && s.contains("Topics: tidal, -cider"),
        "{s}"
    );
    // Bad values are explained, and change nothing.
    assert!(t.say("/size 11").await.text.contains("from 1 to 10"));
    assert!(
        t.say("/time 08:00 Mars/Olympus")
            .await
            .text
            .contains("IANA timezone")
    );
    assert!(
        t.say("/settings")
            .await
            .text
            .contains("Insights per brief: 2")
    );
    assert!(t.say("/unsubscribe").await.text.starts_with("Unsubscribed"));
    assert!(t.say("/settings").await.text.contains("no subscription"));
}

#[tokio::test]
async fn excluded_topics_never_appear_in_a_brief() {
    let t = TestApp::ingested().await;
    t.say("/subscribe").await;
    t.say("/topics -cider, -apple").await;
    let reply = t.console_brief().await;
    assert!(
        reply
            .cards
            .iter()
            .all(|c| c.podcast != "Orchard Hour" || !c.text.to_lowercase().contains("cider")),
        "{reply:?}"
    );
}
