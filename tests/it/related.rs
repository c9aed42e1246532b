//! "More like this" and the related list: insights on the same subject, or fewer.

use crate::cli::podbrief;
use crate::support::{TestApp, samples_dir};
use podbrief::core::model::{Card, InsightView};

/// The first card a lookup finds in `episode` whose text holds `words`.
async fn find(t: &TestApp, lookup: &str, episode: &str, words: &str) -> Card {
    let reply = t.say(&format!("/related {lookup}")).await;
    reply
        .cards
        .iter()
        .find(|c| c.episode == episode && c.text.contains(words))
        .cloned()
        .unwrap_or_else(|| panic!("no {words:?} insight of {episode:?} in {reply:?}"))
}

#[tokio::test]
async fn the_coffee_insight_is_related_only_to_food_and_cooking() {
    let t = TestApp::samples().await;
    let coffee = find(
        &t,
        "extraction yield",
        "Extraction Yield: Dialing In Your Coffee",
        "percent",
    )
    .await;
    let more = t.say(&format!("/more {}", coffee.insight_id)).await;
    // Kitchen Lab is the samples' one food show; the others are energy and chips.
    for c in &more.cards {
        assert_eq!(c.podcast, "Kitchen Lab", "off subject: {c:?}\nin {more:?}");
    }
    assert!(
        more.cards.iter().all(|c| c.insight_id != coffee.insight_id),
        "{more:?}"
    );
}

#[tokio::test]
async fn the_sodium_ion_cost_insight_is_never_related_to_coffee() {
    let t = TestApp::samples().await;
    let sodium = find(
        &t,
        "sodium-ion cost",
        "Sodium-Ion and the Grid-Scale Battery Boom",
        "odium",
    )
    .await;
    let more = t.say(&format!("/more {}", sodium.insight_id)).await;
    for c in &more.cards {
        assert_ne!(c.podcast, "Kitchen Lab", "{c:?}");
        assert!(!c.text.to_lowercase().contains("coffee"), "{c:?}");
    }
}

#[tokio::test]
async fn an_insight_on_a_subject_nothing_else_discusses_gets_nothing_else_on_this_yet() {
    let t = TestApp::samples().await;
    let line = r#"{"text": "Falconers hood a hawk so that darkness calms it before the hunt.", "podcast": "Mews Notes", "episode": "Hooding Hawks", "topics": ["falconry"]}"#;
    let r = podbrief::search::import::import_jsonl(
        &*t.app.store,
        &t.app.index,
        line,
        crate::support::at("2026-11-20T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(r.imported, 1, "{r:?}");
    let hawk = find(&t, "falconry hawk", "Hooding Hawks", "hawk").await;
    let more = t.say(&format!("/more {}", hawk.insight_id)).await;
    assert!(more.cards.is_empty(), "{more:?}");
    assert_eq!(more.text, "Nothing else on this yet.");
}

/// A folder with a config reading the bundled samples, ingested with the binary.
fn ingested_samples() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let feeds: Vec<String> = ["green-ledger", "kitchen-lab", "silicon-signals"]
        .iter()
        .map(|s| format!("{:?}", samples_dir().join(s).join("feed.xml")))
        .collect();
    std::fs::write(
        dir.path().join("bot.toml"),
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[ingest]\nfeeds = [{}]\n",
            dir.path().join("related.db").display(),
            feeds.join(", ")
        ),
    )
    .unwrap();
    let out = podbrief(dir.path(), &["ingest"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn podbrief_related_takes_a_limit_from_1_to_100_and_prints_a_json_array() {
    let dir = ingested_samples();
    for bad in ["0", "101", "ten"] {
        let out = podbrief(dir.path(), &["related", "coffee", "--limit", bad]);
        assert!(!out.status.success(), "--limit {bad} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--limit"), "--limit {bad}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = podbrief(
        dir.path(),
        &["related", "heat pumps", "--limit", "3", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cards: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("--json prints one JSON array");
    assert!(!cards.is_empty() && cards.len() <= 3, "{cards:?}");
    let first = cards[0]["insight_id"]
        .as_i64()
        .expect("cards carry their id");

    // One number is an insight: its related list, as `/more`.
    let out = podbrief(
        dir.path(),
        &["related", &format!("#{first}"), "--limit", "3", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let more: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON array");
    assert!(more.len() <= 3, "{more:?}");
    assert!(more.iter().all(|c| c["insight_id"] != first), "{more:?}");
    let out = podbrief(dir.path(), &["related", &first.to_string()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!("More like #{first}"))
            || text.starts_with("Nothing else on this yet."),
        "{text}"
    );
}

#[tokio::test]
async fn what_each_episode_is_about_is_stored_so_an_index_rebuilt_from_the_store_relates_alike() {
    let t = TestApp::samples().await;
    let subjects = t.app.store.episode_subjects(None).await.unwrap();
    assert_eq!(
        subjects.len(),
        9,
        "one subject per sample episode: {subjects:?}"
    );
    let coffee = subjects
        .iter()
        .find(|(_, s)| s.split(' ').any(|p| p.starts_with("coffe")))
        .map(|(_, s)| s)
        .expect("the coffee episode's subject names coffee");
    assert!(coffee.split(' ').all(|p| p.contains(':')), "{coffee}");

    let fresh = podbrief::search::SearchIndex::in_memory().unwrap();
    podbrief::search::sync::follow(&*t.app.store, &fresh)
        .await
        .unwrap();
    assert_eq!(fresh.subjects_known(), subjects.len());
    let now = crate::support::at("2026-11-20T00:00:00Z");
    let ids = |index: &podbrief::search::SearchIndex, v: &InsightView| -> Vec<i64> {
        index
            .related(v, 10, false, now)
            .unwrap()
            .iter()
            .map(|h| h.id)
            .collect()
    };
    let mut answered = 0;
    for v in t.app.store.insights_after(0, 1000).await.unwrap() {
        let before = ids(&t.app.index, &v);
        answered += usize::from(!before.is_empty());
        assert_eq!(ids(&fresh, &v), before, "insight {}", v.id);
    }
    assert!(answered > 0, "some insight has related insights");
}

#[tokio::test]
async fn an_episode_processed_before_subjects_were_kept_gets_one_from_reextract() {
    let t = TestApp::samples().await;
    let subjects = t.app.store.episode_subjects(None).await.unwrap();
    for (episode, _) in &subjects {
        t.app.store.set_episode_subject(*episode, "").await.unwrap();
    }
    assert!(t.app.store.episode_subjects(None).await.unwrap().is_empty());
    let report = t.app.ingestor.reextract_all(false).await.unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    let mut again = t.app.store.episode_subjects(None).await.unwrap();
    again.sort();
    let mut subjects = subjects;
    subjects.sort();
    assert_eq!(again, subjects);
}
