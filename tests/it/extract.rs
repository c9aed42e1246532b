//! The insight engines on fixtures written for these tests: sponsor reads, intros and outros
//! never become insights; self-contained passages win; times point at the quote; the same
//! insight is stored once; the LLM engine keeps only grounded insights and falls back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use podbrief::core::clock::ManualClock;
use podbrief::core::model::NewInsight;
use podbrief::extract::llm::{LlmEngine, LlmSettings};
use podbrief::extract::sentences::{sentences, turns};
use podbrief::extract::{EpisodeText, ExtractiveEngine, Extractor};
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

/// A fake OpenAI-compatible endpoint: answers each chat completion with `reply` (or `status`),
/// recording the requests.
#[derive(Clone)]
struct FakeLlm {
    status: StatusCode,
    reply: String,
    requests: Arc<Mutex<Vec<serde_json::Value>>>,
}

async fn completions(State(s): State<FakeLlm>, body: String) -> impl IntoResponse {
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    s.requests.lock().unwrap().push(v);
    if !s.status.is_success() {
        return (s.status, "{\"error\": {\"message\": \"down\"}}".to_string());
    }
    let answer = serde_json::json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": s.reply}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 100, "total_tokens": 1000}
    });
    (StatusCode::OK, answer.to_string())
}

async fn fake_llm(status: StatusCode, reply: &str) -> (String, FakeLlm) {
    let state = FakeLlm {
        status,
        reply: reply.into(),
        requests: Arc::new(Mutex::new(Vec::new())),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v1"), state)
}

fn llm(base_url: String, budget: u64) -> LlmEngine {
    let settings = LlmSettings {
        base_url,
        model: "test-model".into(),
        api_key: None,
        timeout: Duration::from_secs(5),
        max_retries: 1,
        daily_token_budget: budget,
        chunk_chars: 24_000,
        per_episode: 5,
        backoff: Duration::from_millis(10),
    };
    let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
    LlmEngine::new(settings, ExtractiveEngine::default(), clock).unwrap()
}

const GROUNDED_AND_INVENTED: &str = r#"{"insights": [
  {"text": "Concrete pontoons last about 50 years in salt water, twice as long as timber ones.",
   "quote": "Concrete pontoons last about   50 years in SALT water",
   "topics": ["Concrete Pontoons", "marinas"], "score": 0.9},
  {"text": "Marinas on the Moon use helium pontoons.",
   "quote": "marinas on the moon use helium pontoons that float on dust",
   "topics": ["moon"], "score": 0.95},
  {"text": "Keelwise sensors find corrosion early.",
   "quote": "Keelwise hull sensors report corrosion 3 times earlier than a diver inspection",
   "topics": ["sensor"], "score": 0.8}
]}"#;

#[tokio::test]
async fn the_llm_engine_keeps_grounded_insights_and_drops_invented_quotes() {
    let (url, fake) = fake_llm(StatusCode::OK, GROUNDED_AND_INVENTED).await;
    let engine = llm(url, 0);
    let ep = episode("ad-intro-outro.vtt");
    let got = engine.extract(&ep).await.unwrap();
    assert_eq!(got.len(), 1, "{got:#?}");
    let i = &got[0];
    assert!(i.text.starts_with("Concrete pontoons"));
    assert_eq!(i.speaker.as_deref(), Some("Tomas"));
    let start = i.start_ms.unwrap();
    assert!((start - 62_000).abs() <= 5_000, "{start}");
    assert_eq!(i.topics, ["concrete pontoon", "marina"]);
    // The request carried the prompt and the transcript.
    let reqs = fake.requests.lock().unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0]["model"], "test-model");
    let user = reqs[0]["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("[01:02] Tomas: Concrete pontoons"), "{user}");
    assert!(
        reqs[0]["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("verbatim")
    );
    assert_eq!(engine.tokens_used_today(), 1000);
}

#[tokio::test]
async fn the_llm_engine_falls_back_to_extractive_when_the_server_fails() {
    let (url, fake) = fake_llm(StatusCode::INTERNAL_SERVER_ERROR, "").await;
    let engine = llm(url, 0);
    let ep = episode("ad-intro-outro.vtt");
    let got = engine.extract(&ep).await.unwrap();
    // One try and one retry, then the extractive engine's answer.
    assert_eq!(fake.requests.lock().unwrap().len(), 2);
    assert_eq!(got, ExtractiveEngine::default().extract_sync(&ep));
    assert!(!got.is_empty());
}

#[tokio::test]
async fn the_llm_engine_stops_at_the_daily_token_budget() {
    let (url, fake) = fake_llm(StatusCode::OK, GROUNDED_AND_INVENTED).await;
    // The budget is below one request's estimate: no request is sent.
    let engine = llm(url, 500);
    let ep = episode("ad-intro-outro.vtt");
    let got = engine.extract(&ep).await.unwrap();
    assert_eq!(fake.requests.lock().unwrap().len(), 0);
    assert_eq!(got, ExtractiveEngine::default().extract_sync(&ep));
}

#[tokio::test]
async fn an_app_configured_for_the_llm_engine_uses_it() {
    let (url, fake) = fake_llm(StatusCode::OK, GROUNDED_AND_INVENTED).await;
    let t = TestApp::spawn_with(Options {
        feeds: vec!["tides.xml"],
        extra: format!(
            "[extract]\nengine = \"llm\"\n[llm]\nbase_url = \"{url}\"\nmodel = \"m\"\nmax_retries = 0\n"
        ),
        secrets: vec![("PODBRIEF_LLM_API_KEY", "sk-test-secret".into())],
    })
    .await;
    let r = t.ingest().await;
    assert!(r.episode_errors.is_empty(), "{r:?}");
    // The fake's quotes are not in the tides transcripts: every episode fell back to the
    // extractive engine, so Orkney is still found.
    assert!(!fake.requests.lock().unwrap().is_empty());
    let all = t.app.store.insights_after(0, 100).await.unwrap();
    assert!(all.iter().any(|i| i.text.contains("Orkney")), "{all:#?}");
    assert!(!crate::support::captured_logs().contains("sk-test-secret"));
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
