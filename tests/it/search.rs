//! "Related to X" over a persisted index: imports, restarts, filters, odd text, and the optional
//! semantic ranking against a fake embeddings endpoint on 127.0.0.1.

use std::sync::Arc;

use podbrief::app::App;
use podbrief::config::Config;
use podbrief::core::clock::ManualClock;
use podbrief::search::import::import_jsonl;

use crate::support::embeddings::FakeEmbeddings;
use crate::support::{Options, START, TestApp, fixtures};

fn import_fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join("import").join(name)).unwrap()
}

async fn import(t: &TestApp, name: &str) -> podbrief::search::import::ImportReport {
    import_jsonl(
        &*t.app.store,
        &t.app.index,
        &import_fixture(name),
        START.parse().unwrap(),
    )
    .await
    .unwrap()
}

async fn imported(extra: &str) -> TestApp {
    let t = TestApp::spawn_with(Options {
        feeds: vec![],
        extra: extra.into(),
        secrets: vec![],
    })
    .await;
    let r = import(&t, "insights.jsonl").await;
    assert_eq!((r.imported, r.errors.len()), (6, 0), "{r:?}");
    t
}

fn episodes(reply: &podbrief::core::model::Reply) -> Vec<String> {
    reply.cards.iter().map(|c| c.episode.clone()).collect()
}

#[tokio::test]
async fn query_syntax_is_plain_text_and_finds_the_words() {
    let t = imported("").await;
    for (ask, want) in [
        ("/related \"tidal lagoons", "Towns"),
        ("/related (heat pumps", "Cold Climates"),
        ("/related heat AND pumps", "Cold Climates"),
        ("/related c++ compilers", "Warnings"),
        ("/related title:x compilers", "Warnings"),
        ("/related 🍞 sourdough", "Starters"),
        ("/related orkney*", "Buoys"),
    ] {
        let reply = t.say(ask).await;
        assert_eq!(
            episodes(&reply).first().map(String::as_str),
            Some(want),
            "{ask}: {reply:?}"
        );
    }
}

#[tokio::test]
async fn stems_typos_freshness_and_filters() {
    let t = imported("").await;
    // A stem and a one-letter typo.
    assert_eq!(
        episodes(&t.say("/related compiler warning").await)[0],
        "Warnings"
    );
    assert_eq!(episodes(&t.say("/related sourdoguh").await)[0], "Starters");
    // Equally relevant: the fresh one first.
    assert_eq!(
        episodes(&t.say("/related tidal lagoons").await),
        ["Towns", "Evening Peak"]
    );
    // Filters read from the text.
    assert_eq!(
        episodes(&t.say("/related energy in:sea-power since:3d").await),
        ["Towns"]
    );
    assert!(t.say("/related energy in:crumb").await.cards.is_empty());
    // "More like this" never returns the insight itself.
    let first = t.say("/related tidal lagoons").await.cards[0].clone();
    let more = t.say(&format!("/more {}", first.insight_id)).await;
    assert!(
        more.cards.iter().all(|c| c.insight_id != first.insight_id),
        "{more:?}"
    );
}

#[tokio::test]
async fn bad_import_lines_are_named_and_the_rest_is_stored() {
    let t = TestApp::spawn_with(Options {
        feeds: vec![],
        ..Options::default()
    })
    .await;
    let r = import(&t, "bad.jsonl").await;
    let lines: Vec<usize> = r.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 4, 5], "{r:?}");
    assert!(r.errors[0].to_string().starts_with("line 2: text is empty"));
    assert!(r.errors[1].to_string().contains("\"ten minutes\""));
    assert_eq!((r.lines, r.imported), (5, 2));
    assert_eq!(episodes(&t.say("/related seagrass").await), ["Seagrass"]);
    // Importing again stores nothing twice.
    let again = import(&t, "bad.jsonl").await;
    assert_eq!((again.imported, again.duplicates), (0, 2));
}

#[test]
fn import_from_the_command_line_names_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bot.toml"),
        format!(
            "[database]\nurl = \"sqlite://{}\"\n",
            dir.path().join("cli.db").display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_podbrief"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let bad = fixtures().join("import/bad.jsonl");
    let out = run(&["import", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("bad.jsonl: line 2: text is empty") && err.contains("bad.jsonl: line 5:"),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 insights imported"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(&["index", "rebuild"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "search index rebuilt: 2 insights"
    );
    let out = run(&["related", "--json", "kelp"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["episode"], "Kelp");
}

async fn app_on(dir: &std::path::Path) -> App {
    let toml = format!(
        "[database]\nurl = \"sqlite://{}\"\n",
        dir.join("restart.db").display()
    );
    let config =
        Config::from_toml(&toml, std::path::Path::new("test.toml"), dir.to_path_buf()).unwrap();
    let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
    App::build(config, clock).await.unwrap()
}

#[tokio::test]
async fn a_restart_answers_from_the_persisted_index_without_rebuilding() {
    let dir = tempfile::tempdir().unwrap();
    {
        let app = app_on(dir.path()).await;
        let r = import_jsonl(
            &*app.store,
            &app.index,
            &import_fixture("insights.jsonl"),
            START.parse().unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(r.imported, 6);
    }
    assert!(dir.path().join("podbrief-index/meta.json").exists());
    let app = app_on(dir.path()).await;
    let s = app.index.status();
    assert_eq!(
        (s.docs_at_open, s.added_since_open, s.docs),
        (6, 0, 6),
        "{s:?}"
    );
    let hits = app
        .index
        .search("orkney", 5, START.parse().unwrap())
        .unwrap();
    assert_eq!(hits.len(), 1);
    // An insight stored while the index was not looking is picked up at the next start, alone.
    {
        let r = import_jsonl(
            &*app.store,
            &podbrief::search::SearchIndex::in_memory().unwrap(),
            &import_fixture("bad.jsonl"),
            START.parse().unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(r.imported, 2);
    }
    drop(app);
    let app = app_on(dir.path()).await;
    let s = app.index.status();
    assert_eq!(
        (s.docs_at_open, s.added_since_open, s.docs),
        (6, 2, 8),
        "{s:?}"
    );
}

#[tokio::test]
async fn embeddings_change_the_ranking_and_a_down_endpoint_falls_back_to_bm25() {
    let embeddings = FakeEmbeddings::start().await;
    let t = imported(&embeddings.config()).await;
    assert!(t.app.index.semantic_enabled());
    // BM25 alone knows at most the buoys talk "electricity" ("marine" is said nowhere, and a
    // lookup shows no episode covering too little of what was asked); the vectors add the
    // tidal lagoons.
    let bm25: Vec<i64> = t
        .app
        .index
        .search("marine electricity", 5, START.parse().unwrap())
        .unwrap()
        .iter()
        .map(|h| h.id)
        .collect();
    assert!(bm25.len() <= 1, "{bm25:?}");
    let fused = t.say("/related marine electricity").await;
    let eps = episodes(&fused);
    assert!(
        eps.contains(&"Buoys".to_string())
            && eps.contains(&"Towns".to_string())
            && eps.contains(&"Evening Peak".to_string()),
        "{eps:?}"
    );
    assert_eq!(t.app.index.vectors(), 6);
    // Down: the same lookup is the BM25 answer, not an error.
    embeddings.down(true);
    let fallback = t.say("/related marine electricity").await;
    let ids: Vec<i64> = fallback.cards.iter().map(|c| c.insight_id).collect();
    assert_eq!(ids, bm25, "{fallback:?}");
}

#[tokio::test]
async fn an_unreachable_endpoint_at_start_still_answers_with_bm25() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let t = imported(&format!(
        "[embeddings]\nbase_url = \"http://127.0.0.1:{port}/v1\"\nmodel = \"fake\"\ntimeout = \"2s\"\n"
    ))
    .await;
    assert_eq!(episodes(&t.say("/related orkney").await), ["Buoys"]);
    assert_eq!(t.app.index.vectors(), 0);
}
