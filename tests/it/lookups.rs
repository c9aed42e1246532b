//! Anyone asks for insights "related to X", and "more like this".

use crate::support::TestApp;

#[tokio::test]
async fn related_to_x_finds_the_insight_that_mentions_x() {
    let t = TestApp::ingested().await;
    for ask in ["related to Orkney", "/related orkney", "Orkney?"] {
        let reply = t.say(ask).await;
        assert!(!reply.cards.is_empty(), "{ask}: {reply:?}");
        let top = &reply.cards[0];
        assert_eq!(top.episode, "Wave Energy Buoys", "{ask}: {top:?}");
        assert!(top.text.contains("Orkney"), "{top:?}");
    }
}

#[tokio::test]
async fn a_word_that_appears_nowhere_finds_nothing_and_says_what_exists() {
    let t = TestApp::ingested().await;
    let reply = t.say("related to quasicrystalline").await;
    assert!(reply.cards.is_empty());
    assert!(
        reply
            .text
            .starts_with("Nothing related to \"quasicrystalline\" yet."),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("Try: "),
        "suggests topics that exist: {}",
        reply.text
    );
}

#[tokio::test]
async fn punctuation_and_query_syntax_never_error() {
    let t = TestApp::ingested().await;
    for q in [
        "c++ \"foo",
        "title:x AND (",
        "*",
        "-",
        "\"",
        "🌊 tidal",
        "'; DROP TABLE insights; --",
        "a\u{0}b",
    ] {
        let reply = t.say(&format!("/related {q}")).await;
        assert!(!reply.text.contains("went wrong"), "{q}: {}", reply.text);
    }
    // A stem and a small typo still find the talk about turbines.
    assert!(!t.say("/related turbine").await.cards.is_empty());
    assert!(!t.say("/related turbnies").await.cards.is_empty());
}

#[tokio::test]
async fn more_like_this_never_returns_the_insight_itself() {
    let t = TestApp::ingested().await;
    let first = t.say("/related tidal lagoon").await.cards[0].clone();
    let more = t.say(&format!("/more {}", first.insight_id)).await;
    // Either insights on its subject, or none related enough.
    assert!(
        more.text
            .starts_with(&format!("More like #{}", first.insight_id))
            || (more.text == "Nothing else on this yet." && more.cards.is_empty()),
        "{}",
        more.text
    );
    assert!(
        more.cards
            .iter()
            .all(|c| c.insight_id != first.insight_id && c.episode != first.episode),
        "{more:?}"
    );
    assert_eq!(
        t.say("/more 999999").await.text,
        "There is no insight #999999."
    );
}
