//! The LLM engine against a fake OpenAI-compatible endpoint (the real reqwest client): written
//! takeaways with the verbatim quotes they rest on, stored and shown on every platform; quotes
//! not in the transcript or inside a sponsor read dropped; malformed answers retried once; the
//! token budget; two stages for long episodes; `podbrief doctor`'s LLM checks; endpoints that
//! hang, fail, answer HTML or 20 MB, each ending in extractive insights.

use std::sync::Arc;
use std::time::Duration;

use podbrief::core::clock::ManualClock;
use podbrief::core::model::Origin;
use podbrief::extract::llm::{LlmEngine, LlmSettings, Mode};
use podbrief::extract::{EpisodeText, ExtractiveEngine, Extractor};
use podbrief::ingest::transcript::Transcript;
use podbrief::metrics::{LlmFallback, Metrics};

use crate::support::llm::{Behaviour, FakeLlm};
use crate::support::{Options, START, TestApp, captured_logs, fixtures};

fn episode(file: &str) -> EpisodeText {
    let bytes = std::fs::read(fixtures().join("extract").join(file)).unwrap();
    EpisodeText {
        podcast: "Harbour Notes".into(),
        title: file.into(),
        segments: Transcript::parse(&bytes).unwrap().segments,
        marks: Default::default(),
        notes: None,
    }
}

fn settings(fake: &FakeLlm) -> LlmSettings {
    LlmSettings {
        base_url: fake.url.clone(),
        model: "test-model".into(),
        api_key: None,
        timeout: Duration::from_secs(5),
        max_retries: 1,
        daily_token_budget: 0,
        chunk_chars: 24_000,
        per_episode: 5,
        backoff: Duration::from_millis(10),
        mode: Mode::Auto,
        candidates: 8,
    }
}

fn engine(s: LlmSettings, metrics: &Arc<Metrics>) -> LlmEngine {
    // Starts capturing logs, which the stories read.
    captured_logs();
    let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
    LlmEngine::new(s, ExtractiveEngine::default(), clock)
        .unwrap()
        .with_metrics(metrics.clone())
}

/// One grounded takeaway, one whose quote is invented, one whose quote is the sponsor read.
const HARBOUR_ANSWER: &str = r#"{"insights": [
  {"takeaway": "Tomas Berg says concrete pontoons last about 50 years in salt water, twice as long as timber ones.",
   "quote": "Concrete pontoons last about   50 years in SALT water",
   "topics": ["Concrete Pontoons", "marinas"], "score": 0.9},
  {"takeaway": "Marinas on the Moon use helium pontoons.",
   "quote": "marinas on the moon use helium pontoons that float on dust",
   "topics": ["moon"], "score": 0.95},
  {"takeaway": "Keelwise sensors find corrosion three times earlier than divers.",
   "quote": "Keelwise hull sensors report corrosion 3 times earlier than a diver inspection",
   "topics": ["sensor"], "score": 0.8}
]}"#;

#[tokio::test]
async fn a_takeaway_keeps_its_quote_and_invented_or_sponsored_quotes_are_dropped() {
    let fake = FakeLlm::start().await;
    fake.reply(HARBOUR_ANSWER);
    let metrics = Arc::new(Metrics::default());
    let llm = engine(settings(&fake), &metrics);
    let got = llm.extract(&episode("ad-intro-outro.vtt")).await.unwrap();
    assert_eq!(got.len(), 1, "{got:#?}");
    let i = &got[0];
    assert!(
        i.text.starts_with("Tomas Berg says concrete pontoons"),
        "{i:?}"
    );
    // The quote is the model's copy; its time and speaker come from where it is found.
    assert_eq!(
        i.quote,
        "Concrete pontoons last about   50 years in SALT water"
    );
    assert_eq!(i.speaker.as_deref(), Some("Tomas"));
    assert!((i.start_ms.unwrap() - 62_000).abs() <= 5_000, "{i:?}");
    assert!(i.end_ms.unwrap() > i.start_ms.unwrap());
    assert_eq!(i.topics, ["concrete pontoon", "marina"]);
    assert_eq!(i.origin, Origin::llm("insights-v2"));
    let logs = captured_logs();
    assert!(logs.contains("LLM insight dropped: its quote is not in the transcript"));
    assert!(logs.contains("LLM insight dropped: its quote is in an ad, intro or outro"));
    // One request: the short transcript whole, with the schema asked for.
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0]["model"], "test-model");
    assert_eq!(reqs[0]["response_format"]["type"], "json_schema");
    let schema = &reqs[0]["response_format"]["json_schema"]["schema"];
    assert_eq!(
        schema["properties"]["insights"]["items"]["required"],
        serde_json::json!(["takeaway", "quote", "topics", "score"])
    );
    assert!(
        fake.user_message(0)
            .contains("[01:02] Tomas: Concrete pontoons")
    );
    let system = reqs[0]["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("verbatim") && system.contains("at most 5 insights"));
    // The budget counts what the endpoint reported: prompt and answer.
    let answer_tokens = (HARBOUR_ANSWER.len() / 4) as u64;
    assert_eq!(llm.tokens_used_today(), fake.tokens_sent() + answer_tokens);
    assert_eq!(metrics.llm_fallbacks(LlmFallback::Ungrounded), 0);
}

/// The La Rance sentence of the tides fixture, and a takeaway written from it.
const RANCE: &str = r#"{"insights": [{"takeaway": "Pete Lowe says the La Rance tidal barrage in Brittany has run since 1966 on 240 megawatts.",
  "quote": "The La Rance barrage in Brittany opened in 1966 with 240 megawatts, and it is still running today.",
  "topics": ["tidal barrage"], "score": 0.97}]}"#;

const TAKEAWAY: &str =
    "Pete Lowe says the La Rance tidal barrage in Brittany has run since 1966 on 240 megawatts.";
const QUOTE: &str = "The La Rance barrage in Brittany opened in 1966 with 240 megawatts, and it is still running today.";

#[tokio::test]
async fn both_parts_are_stored_and_shown_on_every_platform() {
    let fake = FakeLlm::start().await;
    fake.reply(RANCE);
    let t = TestApp::spawn_with(Options {
        feeds: vec!["tides.xml"],
        extra: format!(
            "{}[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://pb.example.com/\"\n",
            fake.config("max_retries = 0\n")
        ),
        ..Options::default()
    })
    .await;
    let r = t.ingest().await;
    assert!(r.episode_errors.is_empty(), "{r:?}");
    let all = t.app.store.insights_after(0, 100).await.unwrap();
    let rance = all
        .iter()
        .find(|i| i.text == TAKEAWAY)
        .expect("the takeaway is stored");
    assert_eq!(rance.quote, QUOTE);
    assert_eq!(rance.speaker.as_deref(), Some("Pete Lowe"));
    assert!(rance.start_ms.unwrap() >= 32_000 && rance.end_ms.unwrap() <= 40_300);
    let stored = t
        .app
        .store
        .episode_insights(rance.episode_id)
        .await
        .unwrap();
    assert!(
        stored
            .iter()
            .all(|s| s.origin == Origin::llm("insights-v2"))
    );
    // The other episode does not hold the quote: it got the extractive engine's insights.
    assert!(all.iter().any(|i| i.episode_id != rance.episode_id));

    let reply = t.say("related to La Rance barrage").await;
    let card = reply.cards.iter().find(|c| c.text == TAKEAWAY).unwrap();
    assert_eq!(card.shown_quote(), Some(QUOTE));
    let console = podbrief::adapters::console::render(&reply);
    let at = |s: &str, what: &str| s.find(what).unwrap_or_else(|| panic!("{what} in {s}"));
    assert!(at(&console, TAKEAWAY) < at(&console, &format!("“{QUOTE}”")));
    let telegram = podbrief::adapters::telegram::render::render(&reply);
    assert!(telegram[0].html.contains(TAKEAWAY), "{}", telegram[0].html);
    assert!(telegram[0].html.contains(&format!("<i>“{QUOTE}”</i>")));
    let discord = podbrief::adapters::discord::render::card_embed(card);
    assert!(discord.description.starts_with(TAKEAWAY), "{discord:?}");
    assert!(discord.description.contains(&format!("*“{QUOTE}”*")));
    assert!(discord.footer.contains("Pete Lowe") && discord.footer.contains("at 0:3"));
    let json = serde_json::to_value(&reply).unwrap();
    let j = json["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["text"] == TAKEAWAY);
    assert_eq!(j.unwrap()["quote"], QUOTE);

    let running = t.start().await;
    let addr = running.http_addr.unwrap();
    let get = |path: String| async move {
        reqwest::get(format!("http://{addr}{path}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let page = get(format!("/i/{}", rance.id)).await;
    assert!(page.contains(&format!("<h1>{TAKEAWAY}</h1>")), "{page}");
    assert!(
        page.contains(&format!("“{QUOTE}”<cite>— Pete Lowe, at 0:3")),
        "{page}"
    );
    let brief = get("/brief/today".into()).await;
    assert!(
        brief.contains(TAKEAWAY) && brief.contains(&format!("“{QUOTE}”")),
        "{brief}"
    );
    let rss = get("/brief/feed.xml".into()).await;
    assert!(rss.contains(TAKEAWAY) && rss.contains(QUOTE), "{rss}");
    running.stop();
}

#[tokio::test]
async fn an_extractive_insight_does_not_print_its_words_twice() {
    let t = TestApp::ingested().await;
    let reply = t.say("/top").await;
    assert!(!reply.cards.is_empty());
    // The extractive takeaway is its quote cleaned: the quote is not shown again.
    for c in &reply.cards {
        assert_eq!(c.shown_quote(), None, "{c:?}");
    }
    let console = podbrief::adapters::console::render(&reply);
    assert!(!console.contains('“'), "{console}");
}

#[tokio::test]
async fn a_malformed_answer_is_retried_once_with_its_error_then_falls_back() {
    let fake = FakeLlm::start().await;
    fake.then(Behaviour::Reply(
        "Sure! The insights are: pontoons, sensors.".into(),
    ));
    fake.then(Behaviour::Reply(format!("```json\n{HARBOUR_ANSWER}\n```")));
    let metrics = Arc::new(Metrics::default());
    let llm = engine(settings(&fake), &metrics);
    let ep = episode("ad-intro-outro.vtt");
    let got = llm.extract(&ep).await.unwrap();
    assert_eq!(got.len(), 1, "the fenced second answer is read: {got:#?}");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    // The second request carries the first answer and what was wrong with it.
    let msgs = reqs[1]["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4);
    assert_eq!(msgs[2]["role"], "assistant");
    assert!(msgs[2]["content"].as_str().unwrap().starts_with("Sure!"));
    let fix = msgs[3]["content"].as_str().unwrap();
    assert!(
        fix.contains("could not be read (unusable answer: no JSON object"),
        "{fix}"
    );

    // Two unreadable answers: the extractive engine answers, and the metrics say why.
    fake.always(Behaviour::Reply("no JSON here".into()));
    let got = llm.extract(&ep).await.unwrap();
    assert_eq!(fake.requests().len(), 4);
    assert_eq!(got, ExtractiveEngine::default().extract_sync(&ep));
    assert!(!got.is_empty());
    assert_eq!(metrics.llm_fallbacks(LlmFallback::Unreadable), 1);
    assert!(
        metrics
            .render(0.0)
            .contains("podbrief_llm_fallbacks_total{reason=\"unreadable\"} 1")
    );
}

#[tokio::test]
async fn the_token_budget_stops_calls_and_falls_back() {
    let fake = FakeLlm::start().await;
    fake.reply(HARBOUR_ANSWER);
    let metrics = Arc::new(Metrics::default());
    let ep = episode("ad-intro-outro.vtt");
    // Enough for one request, not two.
    let llm = engine(
        LlmSettings {
            daily_token_budget: 2_500,
            ..settings(&fake)
        },
        &metrics,
    );
    assert_eq!(llm.extract(&ep).await.unwrap().len(), 1);
    let used = llm.tokens_used_today();
    assert!(used > 0 && used < 2_500, "{used}");
    let got = llm.extract(&ep).await.unwrap();
    assert_eq!(fake.requests().len(), 1, "no request past the budget");
    assert_eq!(got, ExtractiveEngine::default().extract_sync(&ep));
    assert_eq!(metrics.llm_fallbacks(LlmFallback::Budget), 1);
    assert!(captured_logs().contains("the daily token budget (2500 tokens) is spent"));
}

#[tokio::test]
async fn a_long_episode_sends_only_the_extractive_candidates() {
    let fake = FakeLlm::start().await;
    let ep = episode("three-subjects.md");
    let whole: usize = ep.segments.iter().map(|s| s.text.len()).sum();
    let candidates = ExtractiveEngine::default().top_passages(&ep, 6);
    assert!(candidates.len() >= 3, "{candidates:#?}");
    let first = &candidates[0];
    fake.reply(
        &serde_json::json!({"insights": [{
            "passage": 1,
            "takeaway": format!("{} explains it: {}", first.speaker.clone().unwrap_or_default(), first.text),
            "quote": first.quote, "topics": ["t"], "score": 0.9,
        }]})
        .to_string(),
    );
    let metrics = Arc::new(Metrics::default());
    let llm = engine(
        LlmSettings {
            chunk_chars: 1_000,
            candidates: 6,
            ..settings(&fake)
        },
        &metrics,
    );
    assert!(whole > 1_000, "the transcript does not fit in one chunk");
    let got = llm.extract(&ep).await.unwrap();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].origin, Origin::llm("candidates-v1"));
    assert_eq!(got[0].quote, first.quote);
    // One request, holding the candidates (numbered, in time order) and nothing else.
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let user = fake.user_message(0);
    let lines: Vec<&str> = user.lines().collect();
    assert_eq!(lines.len(), candidates.len(), "{user}");
    let mut by_time = candidates.clone();
    by_time.sort_by_key(|c| c.start_ms.unwrap_or(i64::MAX));
    for (n, (line, c)) in lines.iter().zip(&by_time).enumerate() {
        assert!(line.starts_with(&format!("[{}] ", n + 1)), "{line}");
        assert!(line.ends_with(c.quote.trim()), "{line} / {}", c.quote);
    }
    assert!(user.len() < whole, "{} of {whole}", user.len());
    for sponsor_words in ["promo code", "sponsor", "subscribe"] {
        assert!(!user.to_lowercase().contains(sponsor_words), "{user}");
    }
    let system = reqs[0]["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("The passages are numbered"), "{system}");
    let items =
        &reqs[0]["response_format"]["json_schema"]["schema"]["properties"]["insights"]["items"];
    assert_eq!(items["required"][0], "passage");
}

#[tokio::test]
async fn an_endpoint_without_json_schema_is_asked_for_a_json_object() {
    let fake = FakeLlm::start().await;
    fake.refuse_schema();
    fake.reply(HARBOUR_ANSWER);
    let metrics = Arc::new(Metrics::default());
    let llm = engine(settings(&fake), &metrics);
    let ep = episode("ad-intro-outro.vtt");
    assert_eq!(llm.extract(&ep).await.unwrap().len(), 1);
    assert_eq!(llm.extract(&ep).await.unwrap().len(), 1);
    let formats: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| {
            r["response_format"]["type"]
                .as_str()
                .unwrap_or("none")
                .to_string()
        })
        .collect();
    // Refused once, then remembered.
    assert_eq!(formats, ["json_schema", "json_object", "json_object"]);
}

/// The endpoint answers `b` to every request: the episode still gets the extractive engine's
/// insights, and the log says why.
async fn falls_back_on(b: Behaviour, log: &str, timeout: Duration) {
    let fake = FakeLlm::start().await;
    fake.always(b);
    let metrics = Arc::new(Metrics::default());
    let llm = engine(
        LlmSettings {
            timeout,
            max_retries: 0,
            ..settings(&fake)
        },
        &metrics,
    );
    let ep = episode("ad-intro-outro.vtt");
    let got = tokio::time::timeout(Duration::from_secs(20), llm.extract(&ep))
        .await
        .expect("the engine gives up in time")
        .unwrap();
    assert_eq!(got, ExtractiveEngine::default().extract_sync(&ep));
    assert!(!got.is_empty());
    let logs = captured_logs();
    assert!(
        logs.lines().any(
            |l| l.contains("the LLM engine failed; using the extractive engine") && l.contains(log)
        ),
        "no log line with {log:?}"
    );
}

#[tokio::test]
async fn an_endpoint_that_answers_500_gives_extractive_insights() {
    falls_back_on(
        Behaviour::Status(500),
        "the endpoint answered HTTP 500",
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test]
async fn an_endpoint_that_answers_html_gives_extractive_insights() {
    falls_back_on(
        Behaviour::Html,
        "the endpoint answered HTML, not JSON: is llm.base_url the API's /v1 address?",
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test]
async fn an_endpoint_that_answers_20_mb_gives_extractive_insights() {
    falls_back_on(
        Behaviour::Huge,
        "the answer is over 4 MB",
        Duration::from_secs(10),
    )
    .await;
}

#[tokio::test]
async fn an_endpoint_that_hangs_times_out_and_nothing_else_waits() {
    falls_back_on(
        Behaviour::Hang,
        "no answer within 1 s (llm.timeout)",
        Duration::from_secs(1),
    )
    .await;

    // Through the app: while ingest waits on the hanging endpoint, chats are answered.
    let fake = FakeLlm::start().await;
    fake.always(Behaviour::Hang);
    let t = Arc::new(
        TestApp::spawn_with(Options {
            feeds: vec!["tides.xml"],
            extra: fake.config("timeout = \"2s\"\nmax_retries = 0\n"),
            ..Options::default()
        })
        .await,
    );
    let ingesting = tokio::spawn({
        let t = t.clone();
        async move { t.ingest().await }
    });
    crate::support::wait_until("the endpoint is asked", || {
        let n = fake.requests().len();
        async move { n > 0 }
    })
    .await;
    let answered = tokio::time::timeout(Duration::from_millis(1500), t.say("/help")).await;
    assert!(answered.is_ok(), "the console waited for the LLM");
    let r = ingesting.await.unwrap();
    assert!(r.episode_errors.is_empty(), "{r:?}");
    assert!(
        r.new_insights > 0,
        "extractive insights for every episode: {r:?}"
    );
}

/// A doctor's config for an app whose LLM endpoint is `base_url`.
fn doctor_config(dir: &tempfile::TempDir, base_url: &str) -> podbrief::config::Config {
    let toml = format!(
        "[database]\nurl = \"sqlite://{}\"\n[ingest]\nfeeds = []\n[extract]\nengine = \"llm\"\n\
         [llm]\nbase_url = \"{base_url}\"\nmodel = \"qwen2.5:3b-instruct\"\ntimeout = \"2s\"\n",
        dir.path().join("d.db").display()
    );
    podbrief::config::Config::from_toml(&toml, std::path::Path::new("t.toml"), dir.path().into())
        .unwrap()
}

#[tokio::test]
async fn doctor_checks_the_endpoint_the_model_and_a_completion_each_with_its_fix() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let report = podbrief::doctor::run(&doctor_config(&dir, &format!("http://{closed}/v1"))).await;
    let endpoint = report.get("llm endpoint").unwrap();
    assert!(!endpoint.ok, "{endpoint:?}");
    assert!(endpoint.fix.as_deref().unwrap().contains("ollama serve"));

    let fake = FakeLlm::start().await;
    fake.set_models(&["llama3.2:3b"]);
    fake.always(Behaviour::Status(500));
    let report = podbrief::doctor::run(&doctor_config(&dir, &fake.url)).await;
    assert!(report.get("llm endpoint").unwrap().ok);
    let model = report.get("llm model").unwrap();
    assert!(
        !model.ok && model.detail.contains("llama3.2:3b"),
        "{model:?}"
    );
    assert!(
        model
            .fix
            .as_deref()
            .unwrap()
            .contains("ollama pull qwen2.5:3b-instruct")
    );
    let completion = report.get("llm completion").unwrap();
    assert!(
        !completion.ok && completion.detail.contains("HTTP 500"),
        "{completion:?}"
    );
    assert!(completion.fix.as_deref().unwrap().contains("llm.timeout"));
    assert!(report.render().contains("FAIL  llm model"));

    fake.set_models(&["qwen2.5:3b-instruct"]);
    fake.reply("ok");
    let report = podbrief::doctor::run(&doctor_config(&dir, &fake.url)).await;
    for name in ["llm endpoint", "llm model", "llm completion"] {
        assert!(report.get(name).unwrap().ok, "{:?}", report.get(name));
    }
    let last = fake.requests().pop().unwrap();
    assert_eq!(last["messages"][0]["content"], "Answer with the word ok.");

    // An address that is not the API (a web page): named, with its fix.
    let html = FakeLlm::start().await;
    let report = podbrief::doctor::run(&doctor_config(&dir, &format!("{}/nope", html.url))).await;
    let endpoint = report.get("llm endpoint").unwrap();
    assert!(!endpoint.ok && endpoint.fix.as_deref().unwrap().contains("ending in /v1"));
}

#[tokio::test]
async fn another_engine_or_prompt_leaves_delivered_insights_as_they_were_sent() {
    use crate::support::{at, daily, telegram_chat};
    use podbrief::store::{DeliveryDone, DeliveryResult, Plan};
    let in_memory = "[search]\nindex_dir = \"\"\n";
    let t = TestApp::spawn_with(Options {
        feeds: vec!["tides.xml"],
        extra: in_memory.into(),
        ..Options::default()
    })
    .await;
    t.ingest().await;
    let since = at("2020-01-01T00:00:00Z");
    let sent = t.app.store.brief_candidates(since, None).await.unwrap()[0].clone();
    let sub = t
        .app
        .store
        .upsert_subscription(&daily(telegram_chat(1), at("2026-11-27T08:00:00Z")))
        .await
        .unwrap();
    let plan = Plan {
        subscription: sub.id,
        occurrence: at("2026-11-27T08:00:00Z"),
        next_run_at: at("2026-11-28T08:00:00Z"),
        missed: false,
    };
    let store = &t.app.store;
    store
        .plan_deliveries(&[plan], at("2026-11-27T08:00:00Z"), None)
        .await
        .unwrap();
    let claimed = store
        .claim_deliveries(at("2026-11-27T08:00:01Z"), at("2026-11-27T08:10:00Z"), 1)
        .await
        .unwrap();
    let done = DeliveryDone {
        id: claimed[0].id,
        subscription: sub.id,
        result: DeliveryResult::Sent {
            message_ids: vec!["1".into()],
            insights: vec![sent.id],
            at: at("2026-11-27T08:00:02Z"),
        },
    };
    store.record_deliveries(&[done]).await.unwrap();

    // The operator turns the LLM on and re-extracts: its takeaway of the delivered passage
    // neither rewrites what was sent nor comes back beside it as new.
    let fake = FakeLlm::start().await;
    let rewritten = format!("Someone on Tidal Talk says: {}", sent.text);
    fake.reply(
        &serde_json::json!({"insights": [{"takeaway": rewritten, "quote": sent.quote,
            "topics": ["tide"], "score": 0.99}]})
        .to_string(),
    );
    let llm = t
        .reconfigured(&format!("{in_memory}{}", fake.config("max_retries = 0\n")))
        .await;
    let report = llm.ingestor.reextract_all(false).await.unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(!fake.requests().is_empty());
    let now = llm.store.insights(&[sent.id]).await.unwrap();
    assert_eq!(
        now[0].text, sent.text,
        "the delivered insight is as it was sent"
    );
    let all = llm.store.insights_after(0, 1000).await.unwrap();
    assert!(!all.iter().any(|i| i.text == rewritten), "{all:#?}");
}

const BEAVERS: &str = r#"{"insights": [{"takeaway": "Rosa says beavers in Scotland raised the River Tay's water table by 40 centimetres.",
        "quote": "Beavers in Scotland raised the water table by 40 centimetres along the River Tay",
        "topics": ["beaver"], "score": 0.9}]}"#;

#[tokio::test]
async fn eval_insights_runs_the_report_through_the_configured_endpoint() {
    let fake = FakeLlm::start().await;
    fake.reply(BEAVERS);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bot.toml"),
        format!(
            "[database]\nurl = \"sqlite://{}\"\n{}",
            dir.path().join("e.db").display(),
            fake.config("max_retries = 0\n")
        ),
    )
    .unwrap();
    let transcripts = fixtures().join("extract").join("transcripts");
    let run = |engine: &'static str| {
        let (dir, transcripts) = (dir.path().to_path_buf(), transcripts.clone());
        tokio::task::spawn_blocking(move || {
            let args = [
                "eval",
                "insights",
                transcripts.to_str().unwrap(),
                "--show",
                "--engine",
                engine,
            ];
            crate::cli::podbrief(&dir, &args)
        })
    };
    let out = run("llm").await.unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Rosa says beavers in Scotland"), "{stdout}");
    // Both transcripts were sent (both hold the quote), and the summary says what it cost.
    assert_eq!(fake.requests().len(), 2);
    let summary = format!(
        "llm engine: {} tokens used",
        fake.tokens_sent() + 2 * (BEAVERS.len() / 4) as u64
    );
    assert!(stderr.contains(&summary), "{stderr}");
    assert!(
        stderr.contains("0 failed, 0 unreadable, 0 budget, 0 ungrounded"),
        "{stderr}"
    );
    let out = run("extractive").await.unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Rosa says"));
    assert_eq!(
        fake.requests().len(),
        2,
        "the extractive report sends nothing"
    );
}
