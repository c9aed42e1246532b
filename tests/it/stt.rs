//! Speech-to-text for episodes with no transcript, against a fake OpenAI-compatible
//! `/v1/audio/transcriptions` on 127.0.0.1: a transcribed episode yields timed insights; audio
//! over the cap is never sent; the daily budget stops requests (and survives a restart); a
//! failing or unreachable endpoint falls back to the show notes; the API key never shows.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use podbrief::core::model::InsightView;
use podbrief::ingest::stt::{SpeechToText, SttSettings};

use crate::support::{Options, TestApp, captured_logs, fixtures};

const KEY: &str = "sk-stt-test-7c1d9e";

/// What the fake saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    auth: Option<String>,
    content_type: String,
    body: Vec<u8>,
}

/// A fake transcription endpoint: answers `answer` (or `status`, with an error body that echoes
/// the Authorization header, as some servers do), recording each request.
#[derive(Clone)]
struct FakeStt {
    status: StatusCode,
    answer: Vec<u8>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn transcriptions(
    State(s): State<FakeStt>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let auth = header("authorization");
    s.seen.lock().unwrap().push(Seen {
        auth: auth.clone(),
        content_type: header("content-type").unwrap_or_default(),
        body: body.to_vec(),
    });
    if !s.status.is_success() {
        let msg = format!(
            "{{\"error\": {{\"message\": \"Incorrect API key provided: {}\"}}}}",
            auth.unwrap_or_default()
        );
        return (s.status, msg).into_response();
    }
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        s.answer.clone(),
    )
        .into_response()
}

async fn fake_stt(status: StatusCode) -> (String, FakeStt) {
    let state = FakeStt {
        status,
        answer: std::fs::read(fixtures().join("stt/verbose.json")).unwrap(),
        seen: Arc::default(),
    };
    let app = Router::new()
        .route("/v1/audio/transcriptions", post(transcriptions))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), state)
}

/// A feed whose episodes have no transcript: (title, audio path on the feed server).
fn feed(episodes: &[(&str, &str)]) -> String {
    let items: String = episodes
        .iter()
        .enumerate()
        .map(|(i, (title, audio))| {
            format!(
                r#"<item><title>{title}</title><guid>stt-{i}</guid>
<pubDate>{day} Nov 2026 07:00:00 +0000</pubDate>
<enclosure url="{audio}" length="1000" type="audio/mpeg"/>
<description><![CDATA[<p>Morag and Pete compare estuaries.</p>
<p>The Severn estuary has a tidal range of about fifteen metres, the second largest in the world, because the channel narrows and funnels the incoming tide.</p>
<p>Engineers have proposed a barrage across the Severn for over a century, and every plan so far was judged too expensive at more than 30 billion pounds.</p>
<p>A smaller lagoon in Swansea Bay would have produced 320 megawatts, enough for about 150,000 homes.</p>
<p>Listener questions next time.</p>]]></description>
</item>"#,
                day = 20 + i
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Spoken Only</title><link>https://example.com/spoken</link>
<description>No transcripts here.</description>{items}</channel></rss>"#
    )
}

async fn app_with(stt: &str) -> TestApp {
    TestApp::spawn_with(Options {
        feeds: vec!["spoken.xml"],
        extra: format!("[stt]\nallow_private = true\nmodel = \"whisper-test\"\n{stt}"),
        secrets: vec![("PODBRIEF_STT_API_KEY", KEY.into())],
    })
    .await
}

async fn insights(t: &TestApp) -> Vec<InsightView> {
    t.app.store.insights_after(0, 1000).await.unwrap()
}

#[tokio::test]
async fn a_transcribed_episode_yields_insights_with_times() {
    let (url, fake) = fake_stt(StatusCode::OK).await;
    let t = app_with(&format!("base_url = \"{url}\"\n")).await;
    t.feeds.set(
        "spoken.xml",
        feed(&[("Lagoons Spoken", "audio/lagoons.mp3")]),
    );
    t.feeds.set("audio/lagoons.mp3", vec![7u8; 4096]);
    let r = t.ingest().await;
    assert!(
        r.feed_errors.is_empty() && r.episode_errors.is_empty(),
        "{r:?}"
    );
    assert_eq!(r.episodes_processed, 1);
    {
        let seen = fake.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let s = &seen[0];
        assert_eq!(s.auth.as_deref(), Some(&*format!("Bearer {KEY}")));
        assert!(s.content_type.starts_with("multipart/form-data; boundary="));
        let body = String::from_utf8_lossy(&s.body);
        for part in [
            "name=\"file\"; filename=\"lagoons.mp3\"",
            "name=\"model\"\r\n\r\nwhisper-test",
            "name=\"response_format\"\r\n\r\nverbose_json",
        ] {
            assert!(body.contains(part), "{part} in {body:.400}");
        }
        // The audio itself was sent.
        assert!(s.body.windows(4096).any(|w| w.iter().all(|b| *b == 7)));
    }
    let all = insights(&t).await;
    assert!(!all.is_empty());
    assert!(all.iter().all(|i| i.start_ms.is_some()), "{all:#?}");
    // The words are the transcription's, not the show notes'.
    assert!(all.iter().all(|i| !i.text.contains("Severn")), "{all:#?}");
    // Each insight's time is where the transcription has its quote.
    let answer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("stt/verbose.json")).unwrap())
            .unwrap();
    let segments = answer["segments"].as_array().unwrap();
    for i in &all {
        let opening: String = i
            .quote
            .split_whitespace()
            .take(4)
            .collect::<Vec<_>>()
            .join(" ");
        let said = segments
            .iter()
            .find(|s| s["text"].as_str().unwrap().contains(&opening))
            .unwrap_or_else(|| panic!("{opening:?} is in the transcription"));
        let said_ms = (said["start"].as_f64().unwrap() * 1000.0) as i64;
        let start = i.start_ms.unwrap();
        assert!(
            (start - said_ms).abs() <= 5_000,
            "{start} vs {said_ms}: {i:#?}"
        );
    }
    // The transcription is kept as the episode's transcript.
    let dir = t.app.config.base_dir.join("podbrief-transcripts");
    let saved: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        saved
            .iter()
            .any(|f| f.starts_with("episode-") && f.ends_with(".json")),
        "{saved:?}"
    );
    assert!(!captured_logs().contains(KEY));
}

#[tokio::test]
async fn audio_over_the_cap_is_refused_before_it_is_sent() {
    let (url, fake) = fake_stt(StatusCode::OK).await;
    let t = app_with(&format!("base_url = \"{url}\"\nmax_audio_mb = 1\n")).await;
    t.feeds.set(
        "spoken.xml",
        feed(&[("Too Long To Send", "audio/long.mp3")]),
    );
    t.feeds.set("audio/long.mp3", vec![0u8; 2 * 1024 * 1024]);
    let r = t.ingest().await;
    assert!(r.episode_errors.is_empty(), "{r:?}");
    assert_eq!(r.episodes_processed, 1);
    assert_eq!(fake.seen.lock().unwrap().len(), 0);
    // The show notes stood in, and the log says why.
    let all = insights(&t).await;
    assert!(all.iter().all(|i| i.start_ms.is_none()), "{all:#?}");
    let audio = t.feeds.url("audio/long.mp3");
    let logs = captured_logs();
    let line = logs
        .lines()
        .find(|l| l.contains(&audio))
        .expect("the refusal is logged");
    assert!(
        line.contains("larger than the 1 MB limit (stt.max_audio_mb)"),
        "{line}"
    );
}

#[tokio::test]
async fn the_daily_budget_stops_requests_and_survives_a_restart() {
    let (url, fake) = fake_stt(StatusCode::OK).await;
    let t = app_with(&format!("base_url = \"{url}\"\ndaily_budget_mb = 1\n")).await;
    let episodes = [
        ("Budget One", "audio/b1.mp3"),
        ("Budget Two", "audio/b2.mp3"),
        ("Budget Three", "audio/b3.mp3"),
    ];
    t.feeds.set("spoken.xml", feed(&episodes));
    for (_, path) in &episodes {
        t.feeds.set(path, vec![1u8; 400 * 1024]);
    }
    let r = t.ingest().await;
    assert!(r.episode_errors.is_empty(), "{r:?}");
    assert_eq!(r.episodes_processed, 3);
    // 400 KB + 400 KB fit in 1 MB; the third would not, so it is not sent.
    assert_eq!(fake.seen.lock().unwrap().len(), 2);
    assert!(
        captured_logs()
            .lines()
            .any(|l| l.contains("Budget") && l.contains("stt.daily_budget_mb")),
        "the budget refusal is logged"
    );
    // A restart reads the day's count back.
    let settings = SttSettings::from_config(&t.app.config).expect("stt is on");
    let again = SpeechToText::new(settings, t.clock.clone()).unwrap();
    assert_eq!(again.bytes_used_today(), 800 * 1024);
    // The next UTC day starts a new budget.
    t.clock.advance(chrono::Duration::days(1));
    let mut more = episodes.to_vec();
    more.push(("Budget Four", "audio/b4.mp3"));
    t.feeds.set("spoken.xml", feed(&more));
    t.feeds.set("audio/b4.mp3", vec![1u8; 400 * 1024]);
    let r = t.ingest().await;
    assert_eq!((r.new_episodes, r.episodes_processed), (1, 1), "{r:?}");
    assert_eq!(fake.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_failing_endpoint_falls_back_to_show_notes_and_never_shows_the_key() {
    let (failing, fake) = fake_stt(StatusCode::UNAUTHORIZED).await;
    // An endpoint that is down: a port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    for (base, title) in [(&failing, "Refused Key"), (&closed, "Nobody Home")] {
        let t = app_with(&format!("base_url = \"{base}\"\n")).await;
        t.feeds
            .set("spoken.xml", feed(&[(title, "audio/notes.mp3")]));
        t.feeds.set("audio/notes.mp3", vec![2u8; 2048]);
        let r = t.ingest().await;
        assert!(
            r.feed_errors.is_empty() && r.episode_errors.is_empty(),
            "{r:?}"
        );
        assert_eq!(r.episodes_processed, 1);
        let all = insights(&t).await;
        assert!(!all.is_empty(), "the show notes give insights");
        assert!(all.iter().all(|i| i.start_ms.is_none()), "{all:#?}");
        assert!(all.iter().any(|i| i.text.contains("Severn")), "{all:#?}");
        assert!(!format!("{r:?}").contains(KEY));
    }
    // One request, no retries; the error is logged with the endpoint's words, minus the key.
    assert_eq!(fake.seen.lock().unwrap().len(), 1);
    let logs = captured_logs();
    let refused = logs
        .lines()
        .find(|l| l.contains("Refused Key") && l.contains("speech-to-text"))
        .expect("the failure is logged");
    assert!(
        refused.contains("HTTP 401") && refused.contains("Bearer ***"),
        "{refused}"
    );
    assert!(
        logs.lines()
            .any(|l| l.contains("Nobody Home") && l.contains("request failed")),
        "the unreachable endpoint is logged"
    );
    assert!(!logs.contains(KEY));
}
