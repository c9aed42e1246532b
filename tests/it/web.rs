//! The HTTP server: insight pages, the brief feed, `/metrics`, `/readyz`, and `podbrief doctor`.

use std::net::SocketAddr;

use chrono::Duration;
use podbrief::core::model::{InsightView, NewInsight};
use podbrief::web::Site;

use crate::support::telegram::{FakeTelegram, TOKEN};
use crate::support::{Options, TestApp};

const HTTP: &str = "[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://pb.example.com/\"\n";

async fn web_app() -> TestApp {
    let t = TestApp::spawn_with(Options {
        extra: HTTP.into(),
        ..Default::default()
    })
    .await;
    let r = t.ingest().await;
    assert!(r.feed_errors.is_empty() && r.new_insights > 0, "{r:?}");
    t
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let r = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Text as maud escapes it in HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A stored insight that has related insights, and those.
fn with_related(t: &TestApp, all: &[InsightView]) -> (InsightView, Vec<i64>) {
    let now = podbrief::core::clock::Clock::now(&*t.app.clock);
    let same = t.app.core.settings().related_same_episode;
    for v in all {
        let hits = t.app.index.related(v, 5, same, now).unwrap();
        if !hits.is_empty() {
            return (v.clone(), hits.iter().map(|h| h.id).collect());
        }
    }
    panic!("no insight has related insights");
}

#[tokio::test]
async fn an_insight_page_shows_the_insight_its_episode_and_its_related_insights() {
    let t = web_app().await;
    let running = t.start().await;
    let addr = running.http_addr.expect("the server runs");
    let all = t.app.store.insights_after(0, 1000).await.unwrap();
    let (insight, related) = with_related(&t, &all);

    let (status, page) = get(addr, &format!("/i/{}", insight.id)).await;
    assert_eq!(status, 200);
    assert!(page.contains(&esc(&insight.text)), "{page}");
    assert!(page.contains(&esc(&insight.podcast_title)));
    assert!(page.contains(&esc(&insight.episode_title)));
    assert!(page.contains("Related insights"));
    for id in &related {
        assert!(
            page.contains(&format!("href=\"/i/{id}\"")),
            "related #{id} missing: {page}"
        );
    }
    // Open Graph, for link previews.
    assert!(page.contains(&format!(
        "<meta property=\"og:url\" content=\"https://pb.example.com/i/{}\">",
        insight.id
    )));
    assert!(page.contains("<meta property=\"og:title\""));
    assert!(page.contains("name=\"viewport\""));
    assert!(!page.contains("<script"), "no JavaScript");
    // Where it was said: the listen link carries the time.
    if let (Some(ms), Some(_)) = (insight.start_ms, &insight.episode_link) {
        assert!(page.contains(&format!("#t={}", ms / 1000)), "{page}");
        assert!(page.contains(&format!(
            "Listen at {}",
            podbrief::core::model::format_timestamp(ms)
        )));
    }
    // Its topics link to topic pages, which list it.
    if let Some(topic) = insight.topics.first() {
        let path = podbrief::web::pages::topic_path(topic);
        assert!(page.contains(&format!("href=\"{path}\"")), "{page}");
        let (status, listing) = get(addr, &path).await;
        assert_eq!(status, 200);
        assert!(
            listing.contains(&format!("href=\"/i/{}\"", insight.id)),
            "{listing}"
        );
    }
    // Nothing about chats or configuration.
    assert!(!page.contains("sqlite") && !page.contains("test.db") && !page.contains("console"));

    assert_eq!(get(addr, "/i/999999").await.0, 404);
    assert_eq!(get(addr, "/i/abc").await.0, 404);
    let (status, today) = get(addr, "/brief/today").await;
    assert_eq!(status, 200);
    let top = t.app.core.rank_for(None).await.unwrap();
    assert!(!top.is_empty());
    for i in &top {
        assert!(today.contains(&format!("href=\"/i/{}\"", i.id)), "{today}");
    }
    assert_eq!(get(addr, "/brief/2999-01-01").await.0, 404);
    running.stop();
}

#[tokio::test]
async fn transcript_text_with_markup_renders_as_text() {
    let t = web_app().await;
    let running = t.start().await;
    let addr = running.http_addr.unwrap();
    let any = t.app.store.insights_after(0, 1).await.unwrap().remove(0);
    let evil = NewInsight {
        text: "Buoys <script>alert(1)</script> measure waves \"><img src=x onerror=alert(2)>"
            .into(),
        quote: "we said <script>alert(3)</script> and \"><img src=x onerror=alert(4)>".into(),
        start_ms: Some(61_000),
        end_ms: None,
        speaker: Some("\"><img src=x onerror=alert(5)>".into()),
        score: 0.9,
        topics: vec!["<b>waves</b>".into()],
        chapter: None,
        origin: podbrief::core::model::Origin::extractive(),
    };
    let now = podbrief::core::clock::Clock::now(&*t.app.clock);
    let ids = t
        .app
        .store
        .insert_insights(any.episode_id, &[evil], now)
        .await
        .unwrap();
    let views = t.app.store.insights(&ids).await.unwrap();
    t.app.index.add(&views).unwrap();

    let (status, page) = get(addr, &format!("/i/{}", ids[0])).await;
    assert_eq!(status, 200);
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(!page.contains("<b>waves"), "{page}");
    assert!(page.contains("Buoys &lt;script&gt;alert(1)&lt;/script&gt; measure waves &quot;&gt;&lt;img src=x onerror=alert(2)&gt;"), "{page}");
    assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(5)&gt;"));
    // The same text is escaped where other pages list it.
    let (_, brief) = get(addr, "/brief/today").await;
    assert!(!brief.contains("<script") && !brief.contains("<img"));
    let (_, xml) = get(addr, "/brief/feed.xml").await;
    assert!(!xml.contains("<script") && !xml.contains("<img"));
    running.stop();
}

#[tokio::test]
async fn the_brief_feed_is_rss_2_with_the_days_insights() {
    let t = web_app().await;
    let running = t.start().await;
    let addr = running.http_addr.unwrap();
    let r = reqwest::get(format!("http://{addr}/brief/feed.xml"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/rss+xml")
    );
    let body = r.bytes().await.unwrap();
    let feed = feed_rs::parser::parse(&body[..]).expect("the feed parses");
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::RSS2);
    let today = feed
        .entries
        .iter()
        .find(|e| {
            e.title
                .as_ref()
                .is_some_and(|t| t.content == "podbrief for Friday 27 November 2026")
        })
        .expect("an item for today");
    assert_eq!(
        today.links[0].href,
        "https://pb.example.com/brief/2026-11-27"
    );
    let summary = &today.summary.as_ref().expect("a description").content;
    let top = t.app.core.rank_for(None).await.unwrap();
    assert_eq!(top.len(), 3);
    for i in &top {
        assert!(
            summary.contains(&format!("https://pb.example.com/i/{}", i.id)),
            "{summary}"
        );
        assert!(summary.contains(&esc(&i.text)) || summary.contains(&i.text));
    }
    running.stop();
}

#[tokio::test]
async fn metrics_count_a_brief_delivered_in_the_test() {
    let t = web_app().await;
    t.say("/subscribe 08:00 UTC").await;
    let c = t.open_console();
    // The console's own server is not reachable from here: serve the same app's site again.
    let router = podbrief::web::router(podbrief::web::routes(Site::from_app(&t.app)));
    let (addr, server) = podbrief::web::serve(&t.app.config.http, router)
        .await
        .unwrap();
    let (_, before) = get(addr, "/metrics").await;
    assert!(
        before.contains("podbrief_deliveries_sent_total{platform=\"console\"} 0\n"),
        "{before}"
    );
    assert!(
        before.contains("podbrief_feeds_polled_total 2\n"),
        "{before}"
    );
    assert!(before.contains("podbrief_insights_ingested_total "));

    t.clock.advance(Duration::hours(2));
    c.wait_for("the brief", |o| {
        o.contains("podbrief for Friday 27 November")
    })
    .await;
    let mut text = String::new();
    for _ in 0..500 {
        text = get(addr, "/metrics").await.1;
        if text.contains("podbrief_deliveries_sent_total{platform=\"console\"} 1\n") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        text.contains("podbrief_deliveries_sent_total{platform=\"console\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("podbrief_deliveries_failed_total{platform=\"console\"} 0\n"));
    assert!(
        text.contains("podbrief_send_latency_seconds_count{platform=\"console\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("podbrief_scheduler_lag_seconds 0\n"),
        "{text}"
    );
    assert!(text.contains("# TYPE podbrief_lookup_latency_seconds histogram"));
    server.abort();
}

#[tokio::test]
async fn readyz_reports_not_ready_when_the_database_is_gone() {
    let t = web_app().await;
    let running = t.start().await;
    let addr = running.http_addr.unwrap();
    let (status, body) = get(addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ready"], true);

    t.app.store.close().await;
    let (status, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ready"], false);
    let problems: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(problems, vec!["database: unreachable"]);
    // Alive, though.
    assert_eq!(get(addr, "/healthz").await.0, 200);
    running.stop();
}

#[tokio::test]
async fn doctor_reports_a_bad_telegram_token() {
    let fake = FakeTelegram::start().await;
    let t = TestApp::spawn_with(Options {
        extra: fake.config(),
        secrets: vec![(
            "TELEGRAM_BOT_TOKEN",
            "7012345678:not-the-right-token".into(),
        )],
        ..Default::default()
    })
    .await;
    let report = podbrief::doctor::run(&t.app.config).await;
    let tg = report.get("telegram").expect("a telegram check");
    assert!(!tg.ok);
    assert!(tg.detail.contains("rejected the bot token"), "{tg:?}");
    assert!(tg.fix.as_deref().unwrap().contains("TELEGRAM_BOT_TOKEN"));
    assert!(!report.ok());
    let text = report.render();
    assert!(text.contains("FAIL  telegram"), "{text}");
    assert!(text.contains("1 of "), "{text}");
    assert!(
        !text.contains("not-the-right-token"),
        "the token never shows"
    );
}

#[tokio::test]
async fn doctor_reports_all_green_on_a_good_setup() {
    let fake = FakeTelegram::start().await;
    let t = TestApp::spawn_with(Options {
        extra: fake.config(),
        secrets: vec![("TELEGRAM_BOT_TOKEN", TOKEN.into())],
        ..Default::default()
    })
    .await;
    let report = podbrief::doctor::run(&t.app.config).await;
    assert!(report.ok(), "{}", report.render());
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["config", "database", "telegram", "feed 1", "feed 2"]
    );
    assert!(
        report
            .get("telegram")
            .unwrap()
            .detail
            .contains("token accepted")
    );
    assert!(report.render().ends_with("all 5 checks passed\n"));
    assert!(!report.render().contains(TOKEN));
}

#[tokio::test]
async fn doctor_reports_a_broken_feed_and_a_missing_token() {
    let t = TestApp::spawn_with(Options {
        feeds: vec!["tides.xml", "broken.xml", "missing.xml"],
        extra: "[telegram]\nenabled = true\ntoken_env = \"PODBRIEF_TEST_NO_SUCH_TOKEN\"\n".into(),
        ..Default::default()
    })
    .await;
    let report = podbrief::doctor::run(&t.app.config).await;
    assert!(report.get("feed 1").unwrap().ok);
    assert!(!report.get("feed 2").unwrap().ok);
    assert!(!report.get("feed 3").unwrap().ok);
    let tg = report.get("telegram").unwrap();
    assert!(
        !tg.ok && tg.detail.contains("PODBRIEF_TEST_NO_SUCH_TOKEN"),
        "{tg:?}"
    );
    assert_eq!(report.failed(), 3, "{}", report.render());
}

/// Serves the insight pages of the fixture podcasts on a fixed port for the browser check in
/// `.ci/run`: `PODBRIEF_WEB_PORT` (default 18080), for `PODBRIEF_WEB_SECONDS` (default 60). It
/// writes the address of an insight page with related insights to `PODBRIEF_WEB_READY_FILE`
/// (default `target/insight-url.txt`) once the server is up.
#[tokio::test]
#[ignore = "serves pages for the browser check in .ci/run"]
async fn serve_pages_for_the_browser_check() {
    let port: u16 = std::env::var("PODBRIEF_WEB_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(18080);
    let seconds: u64 = std::env::var("PODBRIEF_WEB_SECONDS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(60);
    let ready = std::env::var("PODBRIEF_WEB_READY_FILE")
        .unwrap_or_else(|_| "target/insight-url.txt".into());
    let t = TestApp::spawn_with(Options {
        extra: format!(
            "[http]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}/\"\n"
        ),
        ..Default::default()
    })
    .await;
    t.ingest().await;
    let running = t.start().await;
    let all = t.app.store.insights_after(0, 1000).await.unwrap();
    let (insight, related) = with_related(&t, &all);
    let addr = running.http_addr.unwrap();
    let line = format!(
        "http://{addr}/i/{}\n{}\n{}\n",
        insight.id, insight.text, related[0]
    );
    std::fs::write(&ready, line).unwrap();
    println!("serving http://{addr}/i/{} for {seconds} s", insight.id);
    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
    running.stop();
}
