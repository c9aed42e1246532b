//! The insight engines on fixtures written for these tests: sponsor reads, intros and outros
//! never become insights; self-contained passages win; times point at the quote; the same
//! insight is stored once (the LLM engine's stories are in `llm_takeaways`).

use podbrief::core::model::NewInsight;
use podbrief::extract::sentences::{sentences, turns};
use podbrief::extract::{EpisodeText, ExtractiveEngine};
use podbrief::ingest::transcript::{Segment, Transcript};

use podbrief::store::{DeliveryDone, DeliveryResult};

use crate::support::{Options, START, TestApp, at, daily, fixtures, telegram_chat};

fn episode(file: &str) -> EpisodeText {
    let bytes = std::fs::read(fixtures().join("extract").join(file)).unwrap();
    EpisodeText {
        podcast: "Test".into(),
        title: file.into(),
        segments: Transcript::parse(&bytes).unwrap().segments,
        marks: Default::default(),
        notes: None,
    }
}

fn extract(file: &str) -> Vec<NewInsight> {
    ExtractiveEngine::default().extract_sync(&episode(file))
}

#[test]
fn ads_intros_and_outros_never_yield_insights() {
    let got = extract("ad-intro-outro.vtt");
    assert!(got.len() >= 3, "{got:#?}");
    for i in &got {
        for banned in [
            "Keelwise",
            "promo",
            "Welcome",
            "Thanks for",
            "listening",
            "subscribe",
            "bye",
        ] {
            assert!(!i.quote.contains(banned), "{banned}: {i:#?}");
        }
    }
    // The talk around the ad read is still found.
    assert!(got.iter().any(|i| i.quote.contains("Concrete pontoons")));
    assert!(got.iter().any(|i| i.quote.contains("anchor chains")));
}

#[test]
fn a_self_contained_passage_beats_one_opening_with_thats_why() {
    let got = extract("thats-why.md");
    let self_contained = got
        .iter()
        .position(|i| i.quote.starts_with("Cereal rye planted"))
        .expect("the self-contained passage is an insight");
    if let Some(p) = got.iter().position(|i| i.quote.starts_with("That's why")) {
        assert!(p > self_contained, "{got:#?}");
    }
    assert_eq!(self_contained, 0, "{got:#?}");
}

/// Where `quote` starts in the transcript, from its word-level segments.
fn word_time(segments: &[Segment], quote: &str) -> i64 {
    let first: Vec<&str> = quote.split_whitespace().take(4).collect();
    let words: Vec<&str> = segments.iter().map(|s| s.text.as_str()).collect();
    let at = words
        .windows(first.len())
        .position(|w| w == first.as_slice())
        .expect("the quote is in the transcript");
    segments[at].start_ms.unwrap()
}

/// The word-level fixture as one segment per word, as a word-level transcript gives them.
fn word_segments() -> EpisodeText {
    let bytes = std::fs::read(fixtures().join("extract/words.json")).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let segments = v["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Segment {
            speaker: s["speaker"].as_str().map(String::from),
            start_ms: s["startTime"].as_f64().map(|t| (t * 1000.0) as i64),
            end_ms: s["endTime"].as_f64().map(|t| (t * 1000.0) as i64),
            text: s["body"].as_str().unwrap().to_string(),
        })
        .collect();
    EpisodeText {
        podcast: "Test".into(),
        title: "words".into(),
        segments,
        marks: Default::default(),
        notes: None,
    }
}

#[test]
fn unpunctuated_word_level_transcripts_yield_timed_sentences() {
    let ep = word_segments();
    // Sentences are cut at the pauses between the spoken sentences.
    let sents = sentences(&turns(&ep.segments));
    let starts: Vec<&str> = sents
        .iter()
        .map(|s| s.text.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "hi",
            "thanks",
            "geostationary",
            "low",
            "reusable",
            "space",
            "thanks"
        ]
    );
    let got = ExtractiveEngine::default().extract_sync(&ep);
    assert!(got.len() >= 2, "{got:#?}");
    for i in &got {
        assert!(!i.quote.contains("welcome") && !i.quote.contains("listening"));
        let said = word_time(&ep.segments, &i.quote);
        let start = i.start_ms.expect("timed");
        assert!((start - said).abs() <= 5_000, "{start} vs {said}: {i:#?}");
    }
}

#[test]
fn insight_times_point_at_their_quote() {
    let ep = episode("ad-intro-outro.vtt");
    for i in ExtractiveEngine::default().extract_sync(&ep) {
        let seg = ep
            .segments
            .iter()
            .find(|s| s.text.contains(i.quote.split('.').next().unwrap()))
            .expect("quote found");
        let start = i.start_ms.unwrap();
        assert!((start - seg.start_ms.unwrap()).abs() <= 5_000, "{i:#?}");
    }
}

#[tokio::test]
async fn the_same_insight_in_two_episodes_is_stored_once() {
    let t = TestApp::spawn_with(Options {
        feeds: vec![],
        ..Options::default()
    })
    .await;
    let feed = fixtures()
        .join("extract/echo-feed.xml")
        .display()
        .to_string();
    let r = t.app.ingestor.ingest_all(&[feed], false).await;
    assert!(
        r.feed_errors.is_empty() && r.episode_errors.is_empty(),
        "{r:?}"
    );
    let all = t.app.store.insights_after(0, 100).await.unwrap();
    let beavers = all.iter().filter(|i| i.text.contains("Beavers")).count();
    assert_eq!(beavers, 1, "{all:#?}");
    assert!(all.iter().any(|i| i.text.contains("Willow")), "{all:#?}");
    assert!(all.iter().any(|i| i.text.contains("Salmon")), "{all:#?}");
}

#[test]
fn an_episode_yields_insights_on_each_of_its_subjects_and_none_from_the_rest() {
    // An intro with small talk (matcha, knitting), a sponsor read, a plug for the guest's
    // homepage, three subjects (tidal power, full of figures; sourdough; cycling) and an outro.
    let got = extract("three-subjects.md");
    let on = |words: &[&str]| {
        got.iter()
            .filter(|i| words.iter().any(|w| i.text.to_lowercase().contains(w)))
            .count()
    };
    assert!(on(&["tidal", "tide"]) >= 1, "{got:#?}");
    assert!(
        on(&["sourdough", "dough", "loaf", "bread"]) >= 1,
        "{got:#?}"
    );
    assert!(on(&["bicycle", "cycling", "bike"]) >= 1, "{got:#?}");
    for i in &got {
        for banned in [
            "matcha",
            "knit",
            "Lumaroo",
            "promo",
            "homepage",
            "check out",
            "Welcome",
            "listening",
            "Subscribe",
            "Bye",
        ] {
            assert!(!i.quote.contains(banned), "{banned}: {i:#?}");
        }
        assert!(i.text.ends_with('.'), "{i:#?}");
    }
}

#[tokio::test]
async fn after_an_upgrade_reextraction_goes_deeper_and_sends_nothing_twice() {
    // A database made by a shallow engine (one insight an episode), one insight delivered.
    let in_memory = "[search]\nindex_dir = \"\"\n";
    let t = TestApp::spawn_with(Options {
        extra: format!("{in_memory}[extract]\nmax_per_episode = 1\n"),
        ..Default::default()
    })
    .await;
    let r = t.ingest().await;
    assert!(r.episode_errors.is_empty(), "{r:?}");
    let since = at("2020-01-01T00:00:00Z");
    let before = t.app.store.brief_candidates(since, None).await.unwrap();
    let sub = t
        .app
        .store
        .upsert_subscription(&daily(telegram_chat(1), at("2026-11-27T08:00:00Z")))
        .await
        .unwrap();
    let plan = podbrief::store::Plan {
        subscription: sub.id,
        occurrence: at("2026-11-27T08:00:00Z"),
        next_run_at: at("2026-11-28T08:00:00Z"),
        missed: false,
    };
    t.app
        .store
        .plan_deliveries(&[plan], at("2026-11-27T08:00:00Z"), None)
        .await
        .unwrap();
    let claimed = t
        .app
        .store
        .claim_deliveries(at("2026-11-27T08:00:01Z"), at("2026-11-27T08:10:00Z"), 1)
        .await
        .unwrap();
    let sent = before[0].id;
    t.app
        .store
        .record_deliveries(&[DeliveryDone {
            id: claimed[0].id,
            subscription: sub.id,
            result: DeliveryResult::Sent {
                message_ids: vec!["1".into()],
                insights: vec![sent],
                at: at("2026-11-27T08:00:02Z"),
            },
        }])
        .await
        .unwrap();

    // The upgrade: today's engine reads every episode again.
    let deep = t.reconfigured(in_memory).await;
    let report = deep.ingestor.reextract_all(false).await.unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(report.added > 0, "{report:?}");
    let after = deep.store.brief_candidates(since, None).await.unwrap();
    assert!(
        after.len() > before.len(),
        "{} → {}",
        before.len(),
        after.len()
    );
    assert!(
        after.iter().any(|i| i.id == sent),
        "the delivered insight keeps its id"
    );
    // Nothing the subscription got comes back as new, under its old id or a new one.
    let fresh = deep
        .store
        .brief_candidates(since, Some(sub.id))
        .await
        .unwrap();
    let sent_quote = &after.iter().find(|i| i.id == sent).unwrap().quote;
    assert!(
        fresh.iter().all(|i| i.id != sent && &i.quote != sent_quote),
        "{fresh:#?}"
    );
    // The index follows the store: the new insights are found.
    let found = deep.index.search("tide", 50, at(START)).unwrap();
    assert!(
        found.iter().any(|h| !before.iter().any(|b| b.id == h.id)),
        "{found:?}"
    );
    // A second run finds nothing to change.
    let again = deep.ingestor.reextract_all(false).await.unwrap();
    assert_eq!((again.added, again.removed), (0, 0), "{again:?}");
}
