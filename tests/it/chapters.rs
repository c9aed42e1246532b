//! Chapters and soundbites: a feed's `podcast:chapters` file and Podlove Simple Chapters title
//! and place insights, a sponsor chapter yields none, a soundbite wins a tie, and a broken
//! chapters file costs only its chapters.

use podbrief::core::model::InsightView;

use crate::support::{Options, TestApp, captured_logs};

async fn all_insights(t: &TestApp) -> Vec<InsightView> {
    t.app.store.insights_after(0, 1000).await.unwrap()
}

#[tokio::test]
async fn json_chapters_from_the_feed_server_title_insights_and_a_sponsor_chapter_yields_none() {
    let t = TestApp::spawn_with(Options {
        feeds: vec!["chapters.xml"],
        ..Default::default()
    })
    .await;
    let r = t.ingest().await;
    assert!(
        r.feed_errors.is_empty() && r.episode_errors.is_empty(),
        "{r:?}"
    );
    assert_eq!(r.episodes_processed, 2, "{r:?}");
    assert_eq!(t.feeds.hits("chapters/harbour-batteries.json"), 1);

    let all = all_insights(&t).await;
    let harbour: Vec<&InsightView> = all
        .iter()
        .filter(|i| i.episode_title == "Harbour Batteries")
        .collect();
    assert!(harbour.len() >= 3, "{harbour:?}");
    for i in &harbour {
        assert!(
            !i.quote.contains("Fjordline"),
            "the read in the \"Sponsor\" chapter became an insight: {i:?}"
        );
        let at = i.start_ms.expect("a timed transcript gives times");
        let expected = if at < 60_000 {
            "Harbour batteries"
        } else {
            "Grid costs"
        };
        assert_eq!(i.chapter.as_deref(), Some(expected), "{i:?}");
    }
    // Chats see the chapter beside the episode.
    let top = t.say("/top").await;
    let card = top
        .cards
        .iter()
        .find(|c| c.episode == "Harbour Batteries")
        .expect("a Harbour Batteries insight in /top");
    assert!(card.chapter.is_some(), "{card:?}");

    // The chapters are kept with the episode, and survive the next poll of the feed (which
    // lists only the chapters file).
    let episode = harbour[0].episode_id;
    let marks = t.app.store.episode_marks(episode).await.unwrap();
    assert!(
        marks
            .chapters_url
            .as_deref()
            .is_some_and(|u| u.ends_with("/chapters/harbour-batteries.json")),
        "{marks:?}"
    );
    let titles: Vec<&str> = marks.chapters.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Welcome",
            "Harbour batteries",
            "Sponsor",
            "Grid costs",
            "Wrap-up"
        ]
    );
    let again = t.ingest().await;
    assert_eq!(again.new_episodes, 0);
    assert_eq!(t.app.store.episode_marks(episode).await.unwrap(), marks);
}

#[tokio::test]
async fn a_broken_chapters_file_is_a_warning_and_the_episode_is_still_ingested() {
    let t = TestApp::spawn_with(Options {
        feeds: vec!["chapters.xml"],
        ..Default::default()
    })
    .await;
    let r = t.ingest().await;
    assert!(r.episode_errors.is_empty(), "{r:?}");
    let kelp: Vec<InsightView> = all_insights(&t)
        .await
        .into_iter()
        .filter(|i| i.episode_title == "Kelp Farms")
        .collect();
    assert!(!kelp.is_empty(), "the episode still gives insights");
    assert!(kelp.iter().all(|i| i.chapter.is_none()));
    let url = t.feeds.url("chapters/broken.json");
    let logs = captured_logs();
    let line = logs
        .lines()
        .find(|l| l.contains("chapters file unusable") && l.contains(&url))
        .unwrap_or_else(|| panic!("no warning naming {url}"));
    assert!(
        line.contains("WARN") && line.contains("Kelp Farms"),
        "{line}"
    );
    assert!(
        t.app
            .store
            .episode_marks(kelp[0].episode_id)
            .await
            .unwrap()
            .chapters
            .is_empty()
    );
}

#[tokio::test]
async fn podlove_chapters_title_insights() {
    let t = TestApp::spawn_with(Options {
        feeds: vec!["podlove.xml"],
        ..Default::default()
    })
    .await;
    let r = t.ingest().await;
    assert!(
        r.feed_errors.is_empty() && r.episode_errors.is_empty(),
        "{r:?}"
    );
    let all = all_insights(&t).await;
    assert!(!all.is_empty());
    for i in &all {
        let at = i.start_ms.unwrap();
        let expected = match at {
            t if t < 15_500 => "Welcome",
            t if t < 90_000 => "Barrages",
            t if t < 180_000 => "Lagoons",
            _ => "Turbines",
        };
        assert_eq!(i.chapter.as_deref(), Some(expected), "{i:?}");
    }
    let marks = t.app.store.episode_marks(all[0].episode_id).await.unwrap();
    let got: Vec<(i64, &str)> = marks
        .chapters
        .iter()
        .map(|c| (c.start_ms, c.title.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (0, "Welcome"),
            (15_500, "Barrages"),
            (90_000, "Lagoons"),
            (180_000, "Turbines")
        ]
    );
    assert_eq!(marks.chapters_url, None);
}

#[tokio::test]
async fn a_soundbite_makes_its_passage_chosen_over_an_otherwise_equal_one() {
    // Two passages alike but for the city; with one insight per episode the earlier would win
    // the tie, but the feed marks the later one as a soundbite.
    let t = TestApp::spawn_with(Options {
        feeds: vec!["soundbite.xml"],
        extra: "[extract]\nmax_per_episode = 1\n".into(),
        ..Default::default()
    })
    .await;
    let r = t.ingest().await;
    assert!(r.episode_errors.is_empty(), "{r:?}");
    let all = all_insights(&t).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(all[0].quote.contains("Kiel"), "{:?}", all[0]);
    assert_eq!(all[0].start_ms, Some(40_000));
    let marks = t.app.store.episode_marks(all[0].episode_id).await.unwrap();
    assert_eq!(marks.soundbites.len(), 1);
    assert_eq!(
        marks.soundbites[0].text.as_deref(),
        Some("The Kiel crossing")
    );
}

/// An app on `url` reading the chaptered fixture feeds from files.
async fn app_on(url: &str, dir: &std::path::Path) -> podbrief::app::App {
    let feeds = crate::support::fixtures().join("feeds");
    let toml = format!(
        "[database]\nurl = \"{url}\"\n[ingest]\nfeeds = [{:?}, {:?}]\n[brief]\nlookback = \"30d\"\n",
        feeds.join("podlove.xml").display().to_string(),
        feeds.join("soundbite.xml").display().to_string(),
    );
    let config =
        podbrief::config::Config::from_toml(&toml, std::path::Path::new("bot.toml"), dir.into())
            .unwrap();
    let clock = std::sync::Arc::new(podbrief::core::clock::ManualClock::new(
        crate::support::START.parse().unwrap(),
    ));
    podbrief::app::App::build(config, clock).await.unwrap()
}

#[tokio::test]
async fn copy_db_carries_chapters_soundbites_and_insight_chapters() {
    let Some(server) = crate::support::postgres_server() else {
        eprintln!("copy_db_carries_chapters: skipped; set PODBRIEF_TEST_DATABASE_URL to run it");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("podbrief.db").display());
    let lite = app_on(&sqlite_url, dir.path()).await;
    let r = lite.ingest(false).await;
    assert!(r.new_insights > 0 && r.episode_errors.is_empty(), "{r:?}");
    let insights = lite.store.insights_after(0, 1000).await.unwrap();
    assert!(insights.iter().any(|i| i.chapter.is_some()));
    let mut marks = Vec::new();
    for i in &insights {
        marks.push(lite.store.episode_marks(i.episode_id).await.unwrap());
    }
    assert!(marks.iter().any(|m| !m.chapters.is_empty()));
    assert!(marks.iter().any(|m| !m.soundbites.is_empty()));
    lite.store.close().await;

    let target = crate::support::PgDatabase::create(&server).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podbrief"))
        .args(["copy-db", "--from", &sqlite_url, "--to", &target.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let pg = podbrief::store::connect(&target.url, 2).await.unwrap();
    assert_eq!(pg.insights_after(0, 1000).await.unwrap(), insights);
    for (i, m) in insights.iter().zip(&marks) {
        assert_eq!(&pg.episode_marks(i.episode_id).await.unwrap(), m);
    }
    pg.close().await;
}

#[tokio::test]
async fn a_remote_feed_cannot_point_its_chapters_at_local_files() {
    let t = TestApp::spawn_with(Options {
        feeds: vec!["local-chapters.xml"],
        ..Default::default()
    })
    .await;
    let feed = std::fs::read_to_string(crate::support::fixtures().join("feeds/chapters.xml"))
        .unwrap()
        .replace("chapters/harbour-batteries.json", "file:///etc/passwd");
    t.feeds.set("local-chapters.xml", feed);
    let r = t.ingest().await;
    assert!(
        r.feed_errors.is_empty() && r.episode_errors.is_empty(),
        "{r:?}"
    );
    let all = all_insights(&t).await;
    let harbour = all
        .iter()
        .find(|i| i.episode_title == "Harbour Batteries")
        .expect("the episode is ingested");
    let marks = t.app.store.episode_marks(harbour.episode_id).await.unwrap();
    assert_eq!(marks.chapters_url, None, "{marks:?}");
    assert!(marks.chapters.is_empty());
    assert!(
        captured_logs()
            .lines()
            .any(|l| l.contains("chapters link ignored") && l.contains("file:///etc/passwd"))
    );
}
