use super::*;

fn view(id: i64, episode: i64, text: &str, published: &str) -> InsightView {
    InsightView {
        id,
        text: text.into(),
        quote: text.into(),
        start_ms: None,
        end_ms: None,
        speaker: None,
        score: 0.5,
        topics: vec![],
        content_hash: crate::core::text::content_hash(text),
        episode_id: episode,
        episode_title: "Episode".into(),
        episode_link: None,
        published_at: published.parse().unwrap(),
        podcast_id: 1,
        podcast_title: "Show".into(),
        chapter: None,
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-27T00:00:00Z".parse().unwrap()
}

fn ids(hits: &[Hit]) -> Vec<i64> {
    hits.iter().map(|h| h.id).collect()
}

#[test]
fn finds_stems_typos_and_ignores_syntax() {
    let idx = SearchIndex::in_memory().unwrap();
    idx.add(&[
        view(
            1,
            1,
            "Export controls on chips reshaped data center plans.",
            "2026-11-01T00:00:00Z",
        ),
        view(
            2,
            2,
            "Sourdough acidity slows staling of bread.",
            "2026-11-01T00:00:00Z",
        ),
        view(
            3,
            3,
            "C++ compilers and emoji 🍞 handling in title fields.",
            "2026-11-01T00:00:00Z",
        ),
    ])
    .unwrap();
    assert_eq!(idx.search("chip exports", 5, now()).unwrap()[0].id, 1);
    assert_eq!(idx.search("exporting", 5, now()).unwrap()[0].id, 1);
    assert_eq!(idx.search("sourdouhg", 5, now()).unwrap()[0].id, 2);
    assert_eq!(idx.search("reshapped", 5, now()).unwrap()[0].id, 1);
    // Query syntax is plain text: each of these finds what its words say.
    for (odd, want) in [
        ("\"bread", 2),
        ("(sourdough", 2),
        ("bread AND acidity", 2),
        ("c++ compilers", 3),
        ("title:x fields", 3),
        ("🍞 bread", 2),
        ("chips*", 1),
        ("-chips", 1),
    ] {
        let hits = idx.search(odd, 5, now()).unwrap();
        assert_eq!(hits.first().map(|h| h.id), Some(want), "{odd}: {hits:?}");
    }
    for odd in ["\"", "(", "AND", "*", "-", "🍞", "a\u{0}b", ""] {
        idx.search(odd, 5, now()).unwrap();
    }
    assert!(idx.search("quasicrystalline", 5, now()).unwrap().is_empty());
    // Short words are not fuzzed: "brad" is not "bread".
    assert!(idx.search("brad", 5, now()).unwrap().is_empty());
}

#[test]
fn fresher_wins_ties_and_related_excludes_itself() {
    let idx = SearchIndex::in_memory().unwrap();
    let a = view(
        1,
        1,
        "Heat pumps work well in cold climates.",
        "2026-01-01T00:00:00Z",
    );
    let b = view(
        2,
        2,
        "Heat pumps work well in cold climates!",
        "2026-11-20T00:00:00Z",
    );
    let c = view(
        3,
        3,
        "Cold climates suit modern heat pumps with vapour injection.",
        "2026-11-20T00:00:00Z",
    );
    idx.add(&[a.clone(), b, c]).unwrap();
    let hits = idx.search("heat pumps", 5, now()).unwrap();
    assert_eq!(hits[0].id, 2, "{hits:?}");
    assert_eq!(ids(&idx.related(&a, 5, false, now()).unwrap()), [3]);
}

#[test]
fn a_fresh_insight_outranks_an_equally_relevant_old_one() {
    let idx = SearchIndex::in_memory().unwrap();
    idx.add(&[
        view(
            2,
            2,
            "Tidal lagoons store surplus energy.",
            "2025-01-01T00:00:00Z",
        ),
        view(
            1,
            1,
            "Tidal lagoons power coastal towns.",
            "2026-11-26T00:00:00Z",
        ),
    ])
    .unwrap();
    assert_eq!(ids(&idx.search("tidal lagoons", 5, now()).unwrap()), [1, 2]);
}

#[test]
fn words_close_together_rank_first() {
    let idx = SearchIndex::in_memory().unwrap();
    idx.add(&[
        view(
            1,
            1,
            "The grid needs storage; the ocean is big and the battery sits idle.",
            "2026-11-01T00:00:00Z",
        ),
        view(
            2,
            2,
            "Ocean battery designs pump water under the seabed, then release it.",
            "2026-11-01T00:00:00Z",
        ),
    ])
    .unwrap();
    assert_eq!(ids(&idx.search("ocean battery", 5, now()).unwrap())[0], 2);
}

#[test]
fn closeness_is_read_from_the_index_across_segments() {
    let idx = SearchIndex::in_memory().unwrap();
    // Three commits: three segments. Stop words count as words between the two.
    idx.add(&[view(
        1,
        1,
        "Ocean waves, and then a battery.",
        "2026-11-01T00:00:00Z",
    )])
    .unwrap();
    idx.add(&[view(
        2,
        2,
        "Pilots of the ocean battery idea store power for coastal grids.",
        "2026-11-01T00:00:00Z",
    )])
    .unwrap();
    idx.add(&[view(
        3,
        3,
        "Engineers say that the ocean is a battery for the coastal grid.",
        "2026-11-01T00:00:00Z",
    )])
    .unwrap();
    assert!(idx.reader.searcher().segment_readers().len() >= 2);
    let got = ids(&idx.search("ocean battery", 5, now()).unwrap());
    assert_eq!(got.len(), 3);
    assert_eq!(got[2], 1, "the words far apart rank last: {got:?}");
}

#[test]
fn more_like_this_skips_itself_duplicates_and_its_episode() {
    let idx = SearchIndex::in_memory().unwrap();
    let me = view(
        1,
        1,
        "Sodium-ion cells cost about 20 percent less than lithium iron phosphate.",
        "2026-11-01T00:00:00Z",
    );
    idx.add(&[
        me.clone(),
        // Its near-duplicate from another episode.
        view(
            2,
            2,
            "Sodium-ion cells cost about 20 percent less than lithium iron phosphate cells.",
            "2026-11-02T00:00:00Z",
        ),
        // Same episode.
        view(
            3,
            1,
            "Sodium-ion cells suit cold climates better than lithium.",
            "2026-11-01T00:00:00Z",
        ),
        view(
            4,
            4,
            "Lithium iron phosphate cells dominate home storage.",
            "2026-11-03T00:00:00Z",
        ),
    ])
    .unwrap();
    assert_eq!(ids(&idx.related(&me, 5, false, now()).unwrap()), [4]);
    let same = ids(&idx.related(&me, 5, true, now()).unwrap());
    assert!(
        same.contains(&3) && !same.contains(&1) && !same.contains(&2),
        "{same:?}"
    );
}

#[test]
fn filters_by_podcast_and_date() {
    let idx = SearchIndex::in_memory().unwrap();
    let mut a = view(1, 1, "Chip exports face new rules.", "2026-11-25T00:00:00Z");
    a.podcast_title = "Hard Fork".into();
    a.podcast_id = 10;
    let mut b = view(2, 2, "Chip exports boom in Asia.", "2026-10-01T00:00:00Z");
    b.podcast_title = "Hard Fork".into();
    b.podcast_id = 10;
    let mut c = view(3, 3, "Chip exports and tariffs.", "2026-11-26T00:00:00Z");
    c.podcast_title = "Odd Lots".into();
    c.podcast_id = 20;
    idx.add(&[a, b, c]).unwrap();
    let mut got = ids(&idx.search("chips in:hard-fork", 5, now()).unwrap());
    got.sort();
    assert_eq!(got, [1, 2]);
    assert_eq!(
        ids(&idx.search("chips in:hard-fork since:7d", 5, now()).unwrap()),
        [1]
    );
    assert_eq!(
        ids(&idx.search("chips in:hard since:7d", 5, now()).unwrap()),
        [1]
    );
    assert_eq!(
        ids(&idx.search("chips since:2026-11-26", 5, now()).unwrap()),
        [3]
    );
    assert!(idx.search("chips in:nowhere", 5, now()).unwrap().is_empty());
    // Unknown "filters" are words: "title:chips" is the lookup "title chips" (which nothing
    // here covers enough: "title" is said nowhere).
    assert_eq!(
        idx.search("title:chips", 5, now()).unwrap(),
        idx.search("title chips", 5, now()).unwrap()
    );
}

#[test]
fn removed_episodes_and_podcasts_leave_the_index() {
    let idx = SearchIndex::in_memory().unwrap();
    let mut a = view(1, 1, "Whales sing in winter.", "2026-11-01T00:00:00Z");
    a.podcast_id = 7;
    let mut b = view(2, 2, "Whales migrate south.", "2026-11-01T00:00:00Z");
    b.podcast_id = 7;
    let mut c = view(3, 3, "Whales feed on krill.", "2026-11-01T00:00:00Z");
    c.podcast_id = 8;
    idx.add(&[a, b, c]).unwrap();
    assert_eq!(idx.search("whales", 5, now()).unwrap().len(), 3);
    idx.remove_episode(1).unwrap();
    let mut got = ids(&idx.search("whales", 5, now()).unwrap());
    got.sort();
    assert_eq!(got, [2, 3]);
    idx.remove_podcast(8).unwrap();
    assert_eq!(ids(&idx.search("whales", 5, now()).unwrap()), [2]);
    assert_eq!(idx.len(), 1);
}

#[test]
fn topics_are_counted_from_the_index() {
    let idx = SearchIndex::in_memory().unwrap();
    let mut a = view(1, 1, "One.", "2026-11-01T00:00:00Z");
    a.topics = vec!["chips".into(), "ai".into()];
    let mut b = view(2, 2, "Two.", "2026-11-01T00:00:00Z");
    b.topics = vec!["chip".into()];
    idx.add(&[a, b]).unwrap();
    assert_eq!(idx.top_topics(5), ["chip", "ai"]);
}

#[test]
fn the_index_persists_and_a_schema_change_resets_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let idx = SearchIndex::open(dir.path()).unwrap();
        assert_eq!(idx.status().docs_at_open, 0);
        idx.add(&[view(
            5,
            1,
            "Kelp forests store carbon.",
            "2026-11-01T00:00:00Z",
        )])
        .unwrap();
        assert_eq!(idx.last_indexed_id(), 5);
    }
    let idx = SearchIndex::open(dir.path()).unwrap();
    let s = idx.status();
    assert_eq!((s.docs_at_open, s.added_since_open, s.last_id), (1, 0, 5));
    assert_eq!(s.reset_reason, None);
    assert_eq!(ids(&idx.search("kelp", 5, now()).unwrap()), [5]);
    // Two writers on one directory: the second is refused with a clear error.
    let other = SearchIndex::open(dir.path()).unwrap();
    idx.add(&[view(6, 1, "Kelp grows fast.", "2026-11-01T00:00:00Z")])
        .unwrap();
    let e = other
        .add(&[view(7, 1, "x y z", "2026-11-01T00:00:00Z")])
        .unwrap_err();
    assert!(matches!(e, SearchError::Busy(_)), "{e}");
    drop((idx, other));
    // Pretend an older version wrote it.
    {
        let index = Index::open_in_dir(dir.path()).unwrap();
        let mut w: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let mut p = w.prepare_commit().unwrap();
        p.set_payload("{\"schema\":1,\"last_id\":6}");
        p.commit().unwrap();
    }
    std::fs::write(dir.path().join("keep.txt"), "not ours").unwrap();
    let idx = SearchIndex::open(dir.path()).unwrap();
    let s = idx.status();
    assert!(
        s.reset_reason
            .as_deref()
            .unwrap_or("")
            .contains("schema version 1"),
        "{s:?}"
    );
    assert_eq!((s.docs, s.last_id), (0, 0));
    assert!(dir.path().join("keep.txt").exists());
}

/// A store in a temporary SQLite file with three imported insights (ids 1, 2, 3), and a pool on
/// the same file for changing rows behind the store's back.
async fn store_with_three(
    dir: &std::path::Path,
) -> (std::sync::Arc<dyn crate::store::Store>, sqlx::SqlitePool) {
    let url = format!("sqlite://{}", dir.join("db.sqlite").display());
    let store = crate::store::connect(&url, 2).await.unwrap();
    store.migrate().await.unwrap();
    let lines = [
        "Kelp forests store carbon in deep water.",
        "Seagrass meadows trap sediment along the coast.",
        "Mangroves shelter juvenile fish from predators.",
    ]
    .iter()
    .map(|t| {
        serde_json::json!({"text": t, "podcast": "Blue Carbon", "episode": t, "date": "2026-11-01"})
            .to_string()
    })
    .collect::<Vec<_>>()
    .join("\n");
    let scratch = SearchIndex::in_memory().unwrap();
    let r = super::import::import_jsonl(&*store, &scratch, &lines, now())
        .await
        .unwrap();
    assert_eq!(r.imported, 3, "{r:?}");
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    (store, pool)
}

#[tokio::test]
async fn an_insight_committed_after_a_higher_id_is_still_followed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, pool) = store_with_three(dir.path()).await;
    // Id 2 is not visible yet (its transaction has not committed) when 3 is followed.
    sqlx::query("CREATE TABLE held AS SELECT * FROM insights WHERE id = 2")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM insights WHERE id = 2")
        .execute(&pool)
        .await
        .unwrap();
    let idx = SearchIndex::in_memory().unwrap();
    assert_eq!(super::sync::follow(&*store, &idx).await.unwrap(), 2);
    assert_eq!(idx.last_indexed_id(), 3);
    assert!(idx.search("seagrass", 5, now()).unwrap().is_empty());
    // Now it commits, with its lower id.
    sqlx::query("INSERT INTO insights SELECT * FROM held")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(super::sync::follow(&*store, &idx).await.unwrap(), 1);
    assert_eq!(ids(&idx.search("seagrass", 5, now()).unwrap()), [2]);
    assert_eq!(idx.len(), 3);
    // Following again adds nothing and writes nothing twice.
    assert_eq!(super::sync::follow(&*store, &idx).await.unwrap(), 0);
    assert_eq!(idx.len(), 3);
    assert_eq!(idx.status().added_since_open, 3);
}

#[test]
fn adding_an_indexed_insight_again_replaces_it() {
    let idx = SearchIndex::in_memory().unwrap();
    idx.add(&[view(
        1,
        1,
        "Kelp forests store carbon.",
        "2026-11-01T00:00:00Z",
    )])
    .unwrap();
    idx.add(&[view(
        1,
        1,
        "Kelp forests grow fast.",
        "2026-11-01T00:00:00Z",
    )])
    .unwrap();
    assert_eq!(idx.len(), 1);
    assert!(idx.search("carbon", 5, now()).unwrap().is_empty());
    assert_eq!(ids(&idx.search("kelp grow", 5, now()).unwrap()), [1]);
    assert_eq!(idx.ids_between(0, 10).unwrap(), HashSet::from([1]));
    assert!(idx.ids_between(2, 10).unwrap().is_empty());
}

#[test]
fn signatures_measure_what_text_similarity_measures() {
    for (a, b) in [
        (
            "Sodium-ion cells cost about 20 percent less than lithium iron phosphate.",
            "Sodium-ion cells cost about 20 percent less than lithium iron phosphate cells.",
        ),
        (
            "Sodium-ion cells cost about 20 percent less than lithium iron phosphate.",
            "Lithium iron phosphate cells dominate home storage.",
        ),
        (
            "Heat pumps work well in cold climates.",
            "Heat pumps work well in cold climates!",
        ),
        ("", "Anything at all."),
        ("the and of", "the and of"),
    ] {
        let want = crate::core::text::similarity(a, b);
        let got = jaccard(&signature(a), &signature(b));
        assert!((want - got).abs() < 1e-9, "{a} / {b}: {want} vs {got}");
    }
    assert!(signature(&"word ".repeat(500)).len() == 1);
    let long: String = (0..500).map(|i| format!("w{i}x ")).collect();
    assert_eq!(signature(&long).len(), SIGNATURE_WORDS);
}

#[test]
fn a_signature_reads_back_as_it_was_stored() {
    let long: String = (0..500).map(|i| format!("w{i}x ")).collect();
    for text in [
        "",
        "heat",
        "heat pumps",
        "heat pumps work",
        "heat pumps work well",
        &long,
    ] {
        let sig = signature(text);
        let mut stored = pack_signature(&sig);
        assert_eq!(stored.len(), sig.len().div_ceil(HASHES_PER_VALUE), "{text}");
        assert_eq!(unpack_signature(&stored), sig, "{text}");
        // Whatever order the index keeps a document's values in.
        stored.reverse();
        assert_eq!(unpack_signature(&stored), sig, "{text}");
    }
}

#[test]
fn the_near_duplicate_test_agrees_with_jaccard_on_every_pair() {
    // Up to 60 draws from 32 values, so pairs overlap at every level.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let sets: Vec<Vec<u64>> = (0..300)
        .map(|_| {
            let len = next() % 60;
            let mut v: Vec<u64> = (0..len).map(|_| next() % 32).collect();
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();
    let mut near = 0;
    for a in &sets {
        for b in &sets {
            let want = jaccard(a, b) >= NEAR_DUPLICATE;
            assert_eq!(near_duplicate(a, b), want, "{a:?} / {b:?}");
            near += usize::from(want);
        }
    }
    assert!(
        near > 300,
        "the sets must hold near-duplicates besides themselves: {near}"
    );
    // The prefix-filtered walk keeps exactly what comparing with every kept one keeps.
    let mut kept: Vec<&Vec<u64>> = Vec::new();
    let mut want = Vec::new();
    for s in &sets {
        let fresh = kept.iter().all(|k| jaccard(k, s) < NEAR_DUPLICATE);
        want.push(fresh);
        if fresh {
            kept.push(s);
        }
    }
    assert!(want.iter().filter(|k| !**k).count() > 10);
    assert_eq!(first_of_each(sets.iter().map(Vec::as_slice)), want);
}

#[test]
fn columns_kept_per_segment_follow_merges_and_replacements() {
    let idx = SearchIndex::in_memory().unwrap();
    let texts = [
        "Lithium cathodes age slowly in warm garages.",
        "Sodium cells cost less than lithium ones.",
        "Solid state lithium separators crack under pressure.",
        "Lithium recycling recovers cobalt and nickel.",
    ];
    // One segment per add.
    for (i, text) in texts.iter().enumerate() {
        let id = i as i64 + 1;
        idx.add(&[view(id, id, text, "2026-11-01T00:00:00Z")])
            .unwrap();
    }
    let wanted = [
        ("cathodes", 1),
        ("sodium", 2),
        ("separators", 3),
        ("cobalt", 4),
    ];
    let check = |idx: &SearchIndex| {
        for (word, id) in wanted {
            assert_eq!(ids(&idx.search(word, 5, now()).unwrap()), [id], "{word}");
        }
        assert_eq!(idx.search("lithium", 10, now()).unwrap().len(), 4);
    };
    check(&idx);
    assert_eq!(idx.columns.lock().unwrap().len(), 4);
    // Merged into one segment: its documents sit at other places, the old columns are dropped.
    {
        let mut guard = idx.writer().unwrap();
        let writer = guard.as_mut().unwrap();
        let segments = idx.index.searchable_segment_ids().unwrap();
        assert_eq!(segments.len(), 4);
        writer.merge(&segments).wait().unwrap();
    }
    idx.reader.reload().unwrap();
    assert_eq!(idx.reader.searcher().segment_readers().len(), 1);
    check(&idx);
    assert_eq!(idx.columns.lock().unwrap().len(), 1);
    // A replaced insight: deleted in the merged segment, added in a new one.
    idx.add(&[view(
        2,
        2,
        "Sodium cells now cost far less than lithium ones.",
        "2026-11-20T00:00:00Z",
    )])
    .unwrap();
    check(&idx);
    assert_eq!(ids(&idx.search("sodium far", 5, now()).unwrap()), [2]);
}

#[test]
fn words_shared_between_episodes_on_unlike_subjects_relate_nothing() {
    let idx = SearchIndex::in_memory().unwrap();
    let at = "2026-11-01T00:00:00Z";
    let espresso = view(
        1,
        1,
        "Espresso extraction rises with a finer grind and hotter water in the basket.",
        at,
    );
    idx.add(&[
        espresso.clone(),
        view(
            2,
            2,
            "Lithium extraction needs water from brine ponds in the desert.",
            at,
        ),
        view(
            3,
            3,
            "Offshore wind farms need deep ports for turbines.",
            at,
        ),
        view(
            4,
            4,
            "Sourdough starters need flour, water and patience.",
            at,
        ),
        view(
            5,
            5,
            "A finer grind slows the espresso shot, and bitterness rises with the extraction.",
            at,
        ),
    ])
    .unwrap();
    // Subjects of hour-long episodes (counts of some thousand words; thin ones are not compared).
    let coffee =
        "espresso:400 grind:300 coffe:300 extract:200 bean:200 roast:150 basket:100 water:100";
    idx.set_episode_subject(1, coffee);
    idx.set_episode_subject(
        2,
        "lithium:400 ore:300 mine:300 extract:200 batteri:200 brine:150 water:100",
    );
    idx.set_episode_subject(3, "wind:500 turbin:300 port:200 offshor:200 cost:100");
    idx.set_episode_subject(4, "sourdough:500 starter:300 flour:200 water:100 bread:200");
    idx.set_episode_subject(
        5,
        "espresso:400 shot:300 grind:200 bitter:200 coffe:200 extract:100",
    );
    let related = ids(&idx.related(&espresso, 5, false, now()).unwrap());
    assert_eq!(related, vec![5], "mining is not coffee");
    // The same words from an episode about coffee are related.
    idx.set_episode_subject(2, coffee);
    let related = ids(&idx.related(&espresso, 5, false, now()).unwrap());
    assert!(related.contains(&5) && related.contains(&2), "{related:?}");
}
