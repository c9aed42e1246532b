//! Hostile input from outside: a feed and a transcript full of control characters, bidi
//! overrides and a 100 KB title; date paths at the edge of chrono's range; slow clients; a
//! transcript server that fails once; files that are not text. Nothing panics, nothing unsafe is
//! stored or shown, and the server keeps answering.

use std::net::SocketAddr;
use std::time::Duration;

use podbrief::core::model::NewInsight;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::podbrief;
use crate::support::{Options, TestApp, captured_logs, fixtures};

const HTTP: &str = "[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://pb.example.com/\"\n";

/// A character no output may carry: a control other than tab and newline, or a bidi override.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn assert_clean(what: &str, s: &str) {
    if let Some(c) = s.chars().find(|c| unsafe_char(*c)) {
        panic!("{what} carries {c:?}: {:?}", &s[..s.len().min(400)]);
    }
}

/// The 100 KB episode title.
fn huge_title() -> String {
    "Lagoons\u{202e} and turbines ".repeat(4_000)
}

/// A feed whose show, episode and notes carry NUL, ESC and U+202E, and a 100 KB title.
fn hostile_feed(transcript: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <rss version=\"2.0\" xmlns:podcast=\"https://podcastindex.org/namespace/1.0\"><channel>\
         <title>Tidal\u{1b}[2J Talk\u{202e}lanruoj\u{0}</title><link>https://example.com/t</link>\
         <description>d</description>\
         <item><title>{}</title><link>https://example.com/t/1</link>\
         <guid>hostile-1</guid><pubDate>Tue, 24 Nov 2026 07:00:00 +0000</pubDate>\
         <description><![CDATA[<p>Notes with \u{1b}]0;owned\u{7} a title escape and \u{202e}reversed text.</p>]]></description>\
         <podcast:transcript url=\"{transcript}\" type=\"text/vtt\"/></item>\
         </channel></rss>",
        huge_title()
    )
}

/// A real transcript with NUL, ESC sequences and U+202E in its words and a speaker's name (few
/// enough to stay text).
fn hostile_transcript() -> String {
    let vtt =
        std::fs::read_to_string(fixtures().join("feeds/transcripts/tides-01-lagoons.vtt")).unwrap();
    vtt.replace("<v Pete Lowe>", "<v Pete\u{1b}[31m Lowe\u{202e}>")
        .replacen("tidal", "ti\u{0}dal", 2)
        .replacen("barrage", "bar\u{1b}[2Jrage", 2)
        .replacen("turbines", "tur\u{202e}bines\u{2066}", 3)
}

async fn hostile_app(extra: &str) -> TestApp {
    let t = TestApp::spawn_with(Options {
        feeds: vec!["hostile.xml"],
        extra: extra.into(),
        ..Default::default()
    })
    .await;
    t.feeds.set("hostile.xml", hostile_feed("hostile.vtt"));
    t.feeds.set("hostile.vtt", hostile_transcript());
    t
}

/// The fixture app serving HTTP with `[http]` settings `extra`, started.
async fn serving(extra: &str) -> (TestApp, podbrief::app::Running, SocketAddr) {
    let t = TestApp::spawn_with(Options {
        extra: format!("{HTTP}{extra}"),
        ..Default::default()
    })
    .await;
    let running = t.start().await;
    let addr = running.http_addr.unwrap();
    (t, running, addr)
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let r = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_hostile_feed_is_stored_as_clean_bounded_text() {
    let t = hostile_app("").await;
    let r = t.ingest().await;
    assert!(r.feed_errors.is_empty() && r.new_insights > 0, "{r:?}");
    let stored = t.app.store.insights_after(0, 1000).await.unwrap();
    assert!(!stored.is_empty());
    for i in &stored {
        for (what, s) in [
            ("podcast title", i.podcast_title.as_str()),
            ("episode title", i.episode_title.as_str()),
            ("text", i.text.as_str()),
            ("quote", i.quote.as_str()),
            ("speaker", i.speaker.as_deref().unwrap_or("")),
        ] {
            assert_clean(what, s);
        }
        assert_eq!(i.podcast_title, "Tidal[2J Talklanruoj");
        let n = i.episode_title.chars().count();
        assert!(n <= 300, "a title of {n} characters");
        assert!(i.episode_title.starts_with("Lagoons and turbines Lagoons"));
        assert!(i.episode_title.ends_with('…'), "{}", i.episode_title);
        assert!(i.text.chars().count() <= 1_000 && i.quote.chars().count() <= 2_000);
    }
    assert!(
        stored
            .iter()
            .any(|i| i.speaker.as_deref() == Some("Pete[31m Lowe")),
        "{:?}",
        stored.iter().map(|i| &i.speaker).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn pages_and_the_rss_feed_stay_well_formed_and_clean() {
    let t = hostile_app(HTTP).await;
    assert!(t.ingest().await.new_insights > 0);
    // Control characters that reached the store some other way (an older podbrief, a bug; not
    // NUL, which PostgreSQL refuses to store at all).
    let first = t.app.store.insights_after(0, 1).await.unwrap().remove(0);
    let now = podbrief::core::clock::Clock::now(&*t.app.clock);
    let slipped = NewInsight {
        text: "Slipped \u{1b}[31mthrough\u{8} \u{202e}the sanitizer into a brief.".into(),
        quote: "Slipped through.".into(),
        start_ms: None,
        end_ms: None,
        speaker: Some("Eve\u{7}".into()),
        score: 1.0,
        topics: vec!["lagoons".into()],
        chapter: None,
        origin: podbrief::core::model::Origin::extractive(),
    };
    t.app
        .store
        .insert_insights(first.episode_id, &[slipped], now)
        .await
        .unwrap();
    let running = t.start().await;
    let addr = running.http_addr.unwrap();

    let (status, xml) = get(addr, "/brief/feed.xml").await;
    assert_eq!(status, 200);
    assert!(xml.contains("Slipped [31mthrough the sanitizer"), "{xml}");
    assert_clean("the RSS feed", &xml);
    let mut reader = quick_xml::Reader::from_str(&xml);
    reader.config_mut().check_end_names = true;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("the feed is not well-formed XML: {e}\n{xml}"),
        }
    }
    let feed = feed_rs::parser::parse(xml.as_bytes()).expect("a feed reader reads it");
    assert!(!feed.entries.is_empty());

    for i in t.app.store.insights_after(0, 1000).await.unwrap() {
        let (status, page) = get(addr, &format!("/i/{}", i.id)).await;
        assert_eq!(status, 200);
        assert_clean("an insight page", &page);
        let description = page
            .split("property=\"og:description\" content=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap();
        assert!(description.chars().count() <= 300, "{description}");
        assert!(page.len() < 60_000, "a page of {} bytes", page.len());
    }
    let (_, brief) = get(addr, "/brief/today").await;
    assert_clean("the brief page", &brief);
    running.stop();
}

#[tokio::test]
async fn every_date_path_at_and_beyond_chronos_range_is_not_found() {
    let (_t, running, addr) = serving("").await;
    for path in [
        "/brief/-262143-01-01",
        "/brief/-262144-12-31",
        "/brief/+262142-12-31",
        "/brief/262142-12-31",
        "/brief/262143-01-01",
        "/brief/0000-01-01",
        "/brief/1969-12-31",
        "/brief/9999-12-31",
        "/brief/2026-11-28",
        "/brief/2026-02-30",
        "/brief/%00",
        "/i/-1",
        "/i/99999999999999999999",
    ] {
        let (status, _) = get(addr, path).await;
        assert_eq!(status, 404, "{path}");
    }
    assert_eq!(get(addr, "/brief/1970-01-01").await.0, 200);
    assert_eq!(
        get(addr, "/topics/x?page=-9223372036854775808").await.0,
        200
    );
    assert_eq!(get(addr, "/healthz").await.0, 200);
    running.stop();
}

/// Opens a connection and sends a request head without its end.
async fn half_sent(addr: SocketAddr) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    s
}

/// Whether the server closed `s` within `within`.
async fn closed_within(s: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    matches!(
        tokio::time::timeout(within, s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn more_half_sent_requests_than_the_bound_never_starve_healthz() {
    // A header timeout far longer than the test: only the bound can make room.
    let (_t, running, addr) = serving("header_timeout = \"10m\"\nmax_connections = 8\n").await;
    let mut slow = Vec::new();
    for _ in 0..20 {
        slow.push(half_sent(addr).await);
    }
    let healthz = tokio::time::timeout(Duration::from_secs(10), get(addr, "/healthz"))
        .await
        .expect("/healthz answers while slow clients hold connections");
    assert_eq!(healthz, (200, "ok".to_string()));
    // The oldest half-sent connections made room; at most the bound are still open.
    let mut closed = 0;
    for s in &mut slow {
        closed += usize::from(closed_within(s, Duration::from_millis(200)).await);
    }
    assert!(
        closed >= 20 - 8,
        "only {closed} of 20 slow connections were closed"
    );
    running.stop();
}

#[tokio::test]
async fn a_half_sent_request_is_closed_after_the_header_timeout() {
    let (_t, running, addr) = serving("header_timeout = \"1s\"\n").await;
    let mut s = half_sent(addr).await;
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(
        !closed_within(&mut s, Duration::from_millis(300)).await,
        "closed before the timeout"
    );
    assert!(closed_within(&mut s, Duration::from_secs(5)).await);
    assert!(closed_within(&mut idle, Duration::from_secs(5)).await);
    // A request sent whole is answered.
    assert_eq!(get(addr, "/healthz").await.0, 200);
    // So is a page asked with a body it does not read, unless the body is large.
    let big = reqwest::Client::new()
        .get(format!("http://{addr}/brief/today"))
        .body(vec![b'x'; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status().as_u16(), 413);
    running.stop();
}

#[tokio::test]
async fn a_transcript_that_fails_once_is_read_at_the_next_try() {
    let t = hostile_app("").await;
    t.feeds.fail_once("hostile.vtt", 503);
    let first = t.ingest().await;
    assert_eq!(first.episode_errors.len(), 1, "{first:?}");
    assert_eq!(
        first.new_insights, 0,
        "the show notes did not stand in at once"
    );
    // Not failed for good: it is tried again once its backoff has passed.
    let again = t.ingest().await;
    assert_eq!(again.new_insights, 0, "tried before its backoff: {again:?}");
    t.clock.advance(chrono::Duration::minutes(2));
    let later = t.ingest().await;
    assert!(later.episode_errors.is_empty(), "{later:?}");
    assert!(later.new_insights > 0);
    assert_eq!(t.feeds.hits("hostile.vtt"), 2);
    let stored = t.app.store.insights_after(0, 1000).await.unwrap();
    assert!(
        stored.iter().any(|i| i.start_ms.is_some()),
        "read from the transcript"
    );
}

#[tokio::test]
async fn audio_or_utf16_linked_as_a_transcript_is_refused_naming_the_episode() {
    let mut mp3 = b"ID3\x03\x00\x00\x00\x00\x0f\x76".to_vec();
    let mut x = 0x2545_f491u32;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        mp3.push(x as u8);
    }
    let utf16: Vec<u8> = hostile_transcript()
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    for (name, body) in [("mp3", mp3), ("utf-16", utf16)] {
        let t = TestApp::spawn_with(Options {
            feeds: vec!["junk.xml"],
            ..Default::default()
        })
        .await;
        let feed = hostile_feed("junk.bin").replace("<guid>hostile-1", &format!("<guid>{name}"));
        let feed = feed.replace(&huge_title(), &format!("Junk transcript {name}"));
        t.feeds.set("junk.xml", feed);
        t.feeds.set("junk.bin", body);
        t.ingest().await;
        let stored = t.app.store.insights_after(0, 1000).await.unwrap();
        assert!(
            stored.iter().all(|i| i.start_ms.is_none()),
            "{name}: insights from a transcript that is not text: {:?}",
            stored.iter().map(|i| &i.text).collect::<Vec<_>>()
        );
        let logs = captured_logs();
        let warned = logs
            .lines()
            .any(|l| l.contains(&format!("Junk transcript {name}")) && l.contains("not text"));
        assert!(warned, "{name}: no warning naming the episode");
    }
}

/// A folder holding `bot.toml` (relative database and feed paths) and the hostile feed.
fn hostile_folder(feeds: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("hostile.xml"), hostile_feed("hostile.vtt")).unwrap();
    std::fs::write(d.join("hostile.vtt"), hostile_transcript()).unwrap();
    std::fs::write(
        d.join("bot.toml"),
        format!(
            "[database]\nurl = \"sqlite://pb.db\"\n[ingest]\nfeeds = [{feeds}]\n\
             [brief]\nlookback = \"36500d\"\n[search]\nindex_dir = \"\"\n"
        ),
    )
    .unwrap();
    dir
}

#[test]
fn the_command_line_prints_no_control_characters_and_paths_follow_the_config() {
    let dir = hostile_folder("\"hostile.xml\"");
    let elsewhere = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot.toml");
    let out = podbrief(
        elsewhere.path(),
        &["--config", config.to_str().unwrap(), "ingest"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("1 feeds read, 0 failed; 1 new episodes"),
        "{stdout}"
    );
    assert!(
        dir.path().join("pb.db").exists(),
        "the database is beside the config"
    );
    assert!(!elsewhere.path().join("pb.db").exists());

    // The same config named relative to another working directory: the same database and feed.
    let parent = dir.path().parent().unwrap();
    let name = dir.path().file_name().unwrap().to_str().unwrap();
    let relative = format!("./{name}/../{name}/bot.toml");
    let out = podbrief(parent, &["--config", &relative, "ingest"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("1 feeds read, 0 failed; 0 new episodes"),
        "{stdout}"
    );
    for args in [&["brief"][..], &["related", "tidal", "lagoons"]] {
        let mut all = vec!["--config", relative.as_str()];
        all.extend_from_slice(args);
        let out = podbrief(parent, &all);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8(out.stdout).unwrap();
        assert!(printed.contains("Lagoons and turbines"), "{printed}");
        assert_clean(&format!("podbrief {}", args[0]), &printed);
    }
}

#[test]
fn ingest_exits_non_zero_when_anything_failed() {
    let dir = hostile_folder("\"hostile.xml\", \"missing.xml\"");
    let out = podbrief(dir.path(), &["--config", "bot.toml", "ingest"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing.xml"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 feeds read, 1 failed"));
}

#[tokio::test]
async fn a_feed_an_older_podbrief_stored_as_a_relative_path_is_not_read_twice() {
    let dir = hostile_folder("\"hostile.xml\"");
    let db = format!("sqlite://{}", dir.path().join("pb.db").display());
    let store = podbrief::store::connect(&db, 1).await.unwrap();
    store.migrate().await.unwrap();
    store
        .add_feed("./hostile.xml", chrono::Utc::now())
        .await
        .unwrap();
    drop(store);

    let out = podbrief(dir.path(), &["--config", "bot.toml", "ingest"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("1 feeds read, 0 failed; 1 new episodes"),
        "{stdout}"
    );
    let out = podbrief(
        dir.path(),
        &["--config", "bot.toml", "feeds", "add", "hostile.xml"],
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("was already a feed"), "{said}");
    let listed =
        String::from_utf8_lossy(&podbrief(dir.path(), &["--config", "bot.toml", "feeds"]).stdout)
            .into_owned();
    assert_eq!(listed.matches("hostile.xml").count(), 1, "{listed}");
}
