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

/// Insights imported as JSON lines (podcast, episode, text), so a test holds exactly the talk
/// it needs.
async fn with_insights(lines: &[(&str, &str, &str)]) -> TestApp {
    let t = TestApp::spawn().await;
    let jsonl: String = lines
        .iter()
        .map(|(podcast, episode, text)| {
            let line = serde_json::json!({
                "text": text, "podcast": podcast, "episode": episode, "date": "2026-11-20",
            });
            format!("{line}\n")
        })
        .collect();
    let now = podbrief::core::clock::Clock::now(&*t.app.clock);
    let report = podbrief::search::import::import_jsonl(&*t.app.store, &t.app.index, &jsonl, now)
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    t
}

#[tokio::test]
async fn an_episode_about_a_subject_ranks_above_a_passing_mention() {
    let t = with_insights(&[
        ("Kitchen Talk", "Knife skills", "Sourdough, briefly."),
        ("Kitchen Talk", "Knife skills", "A sharp knife is safer than a dull one because it needs less force."),
        ("Bread Hour", "Starters", "A sourdough starter needs feeding twice a day while it is young and the kitchen is warm."),
        ("Bread Hour", "Starters", "Sourdough rises slowly because wild yeast works more gently than baker's yeast does."),
        ("Bread Hour", "Starters", "The sourdough's sour taste comes from lactic bacteria living beside the yeast in the starter."),
        ("Bread Hour", "Starters", "Keep a little sourdough starter in the fridge and it will wait a week between bakes."),
    ])
    .await;
    let reply = t.say("related to sourdough").await;
    assert!(!reply.cards.is_empty(), "{reply:?}");
    assert_eq!(reply.cards[0].episode, "Starters", "{reply:?}");
    let passing = reply.cards.iter().position(|c| c.episode == "Knife skills");
    let about = reply
        .cards
        .iter()
        .filter(|c| c.episode == "Starters")
        .count();
    assert!(about >= 1 && passing.is_none_or(|p| p >= 1), "{reply:?}");
}

#[tokio::test]
async fn a_reworded_query_finds_its_passage_without_any_endpoint() {
    let t = with_insights(&[
        (
            "Work Life",
            "Remote teams",
            "Loneliness creeps into remote teams when nobody checks in on each other.",
        ),
        (
            "Work Life",
            "Remote teams",
            "Standing meetings run shorter than seated ones.",
        ),
        (
            "Garden Show",
            "Tomatoes",
            "Tomatoes want six hours of sun and deep, even watering.",
        ),
    ])
    .await;
    // Nobody said "solitude": the thesaurus knows it for loneliness.
    let reply = t.say("related to solitude").await;
    assert_eq!(reply.cards.len(), 1, "{reply:?}");
    assert!(reply.cards[0].text.starts_with("Loneliness"), "{reply:?}");
    // The word typed still weighs more than its synonyms.
    let reply = t.say("related to tomatoes").await;
    assert!(reply.cards[0].text.starts_with("Tomatoes"), "{reply:?}");
}

#[tokio::test]
async fn a_subject_nobody_discussed_finds_nothing_even_when_a_common_word_matches() {
    let t = with_insights(&[
        (
            "Retail Weekly",
            "Malls",
            "New store openings slowed this quarter as rents rose.",
        ),
        (
            "Retail Weekly",
            "Malls",
            "Openings of smaller shops held up better than big boxes.",
        ),
    ])
    .await;
    let reply = t.say("related to chess openings").await;
    assert!(reply.cards.is_empty(), "{reply:?}");
    // The word that matches still finds its talk alone.
    assert!(!t.say("related to store openings").await.cards.is_empty());
}
