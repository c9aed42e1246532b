//! Lookup latency over generated insights, beside two baselines on the same data and queries in
//! the same run: raw tantivy term/boolean queries on the same index and field (the floor: no
//! typo handling, no proximity, no recency, no near-duplicate collapse) and SQLite FTS5 bm25.
//!
//! Fairness between podbrief and the floor: every query is first run once through both (a
//! warm-up pass over all queries), then measured with the two in alternating order (podbrief
//! first on even queries, the floor first on odd ones), so neither runs on caches the other
//! just warmed more often than the other does.
//!
//! It also times the first load of the offline word lists (synonyms) and the memory they hold.
//!
//! `cargo bench --bench search` (100,000 insights); `PODBRIEF_BENCH_N=1000000 cargo bench --bench
//! search` for a million. Words follow a Zipf-like distribution (a few very common words, a long
//! tail), so one-word lookups of the most common words match a large share of the archive.
//!
//! FTS5 ranks every match of a common word (tens of milliseconds a query at 100,000 insights,
//! ten times more at a million): `PODBRIEF_BENCH_FTS_QUERIES=K` measures it on the first K
//! queries of each row only (default: all 200), which keeps a million-insight run short.
//! podbrief and the floor always run every query.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use podbrief::core::model::InsightView;
use podbrief::search::SearchIndex;
use sqlx::Row;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, Searcher, Term};

/// Deterministic xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const COMMON: &[&str] = &[
    "energy", "market", "people", "data", "time", "model", "power", "price", "growth", "water",
    "company", "policy", "chips", "climate", "battery", "research", "network", "music", "health",
    "design",
];
const STOP: &[&str] = &[
    "the", "and", "of", "to", "in", "is", "that", "for", "it", "with",
];

fn vocabulary(n: usize, rng: &mut Rng) -> Vec<String> {
    let syl = [
        "ka", "lo", "mi", "ren", "tu", "sa", "vor", "el", "qui", "dan", "po", "ris", "ta", "bel",
        "nu", "gor", "fi", "ze", "lam", "tro",
    ];
    let mut v: Vec<String> = COMMON.iter().map(|s| s.to_string()).collect();
    let mut seen: std::collections::HashSet<String> = v.iter().cloned().collect();
    while v.len() < n {
        let k = 2 + rng.below(3);
        let w: String = (0..k).map(|_| syl[rng.below(syl.len())]).collect();
        if seen.insert(w.clone()) {
            v.push(w);
        }
    }
    v
}

/// Zipf sampler over ranks 0..n (exponent 1.0) by inverse CDF on a precomputed table.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut acc = 0.0;
        let cdf = (1..=n)
            .map(|r| {
                acc += 1.0 / r as f64;
                acc
            })
            .collect::<Vec<_>>();
        let total = acc;
        Zipf(cdf.into_iter().map(|c| c / total).collect())
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.0.partition_point(|c| *c < u).min(self.0.len() - 1)
    }
}

fn insight(
    i: usize,
    vocab: &[String],
    zipf: &Zipf,
    rng: &mut Rng,
    now: DateTime<Utc>,
) -> InsightView {
    let len = 15 + rng.below(26);
    let mut words = Vec::with_capacity(len);
    for _ in 0..len {
        if rng.below(4) == 0 {
            words.push(STOP[rng.below(STOP.len())].to_string());
        } else {
            words.push(vocab[zipf.sample(rng)].clone());
        }
    }
    let text = words.join(" ") + ".";
    let topics = vec![vocab[zipf.sample(rng) % 200].clone()];
    InsightView {
        id: i as i64 + 1,
        text: text.clone(),
        quote: text.clone(),
        start_ms: None,
        end_ms: None,
        speaker: None,
        score: 0.5,
        topics,
        content_hash: format!("{i:x}"),
        episode_id: (i / 8) as i64 + 1,
        episode_title: format!("Episode {}", i / 8),
        episode_link: None,
        published_at: now - chrono::Duration::hours(rng.below(24 * 730) as i64),
        podcast_id: (i % 300) as i64 + 1,
        podcast_title: format!("Show {}", i % 300),
        chapter: None,
    }
}

/// A synthetic episode's subject as ingest stores it: its most frequent words with counts, from
/// 4,000 words of talk drawn from the corpus's vocabulary by the episode's own generator.
fn subject(episode: i64, vocab: &[String], zipf: &Zipf) -> String {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (episode as u64).wrapping_mul(0x0100_0000_01B3));
    let mut counts: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for _ in 0..4000 {
        *counts.entry(&vocab[zipf.sample(&mut rng)]).or_default() += 1;
    }
    let mut terms: Vec<(&str, u32)> = counts.into_iter().collect();
    terms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    terms.truncate(podbrief::search::subject::SUBJECT_TERMS);
    let pairs: Vec<String> = terms.iter().map(|(w, c)| format!("{w}:{c}")).collect();
    pairs.join(" ")
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn pct(mut d: Vec<Duration>) -> (f64, f64) {
    d.sort();
    let at = |q: f64| {
        let i = ((d.len() as f64 - 1.0) * q).round() as usize;
        d[i].as_secs_f64() * 1e3
    };
    (at(0.5), at(0.99))
}

fn row(name: &str, ours: (f64, f64), floor: (f64, f64), fts: (f64, f64)) {
    println!(
        "{name:<30} {:>9.3} {:>9.3} | {:>9.3} {:>9.3} | {:>9.3} {:>9.3} | {:>6.1}x",
        ours.0,
        ours.1,
        floor.0,
        floor.1,
        fts.0,
        fts.1,
        ours.1 / floor.1.max(1e-9)
    );
}

/// The floor: the analysed words of `q` as a disjunction of term queries on `field`, top 5 by
/// BM25, as tantivy's document addresses (no id read at all, so the floor is the query alone).
fn floor_lookup(
    searcher: &Searcher,
    analyzer: &mut TextAnalyzer,
    field: Field,
    q: &str,
) -> Vec<DocAddress> {
    let mut terms = Vec::new();
    let mut stream = analyzer.token_stream(q);
    while let Some(tok) = stream.next() {
        terms.push(tok.text.clone());
    }
    let clauses: Vec<(Occur, Box<dyn Query>)> = terms
        .iter()
        .map(|w| {
            let tq = TermQuery::new(
                Term::from_field_text(field, w),
                IndexRecordOption::WithFreqs,
            );
            (Occur::Should, Box::new(tq) as Box<dyn Query>)
        })
        .collect();
    let top = searcher
        .search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(5).order_by_score(),
        )
        .expect("raw");
    top.into_iter().map(|(_, a)| a).collect()
}

/// "More like this" for every sample insight, 5 (a chat's list) and 10 (the page's) at most,
/// beside the floor: the insight's analysed words as one raw disjunction, top 5 (what a plain
/// more-like-this query costs). Warmed once, then measured alternating which runs first.
fn more_like_this(
    index: &SearchIndex,
    searcher: &Searcher,
    analyzer: &mut TextAnalyzer,
    field: Field,
    samples: &[InsightView],
    now: DateTime<Utc>,
) {
    for v in samples {
        std::hint::black_box(index.related(v, 10, false, now).expect("related"));
        std::hint::black_box(floor_lookup(searcher, analyzer, field, &v.text));
    }
    for limit in [5, 10] {
        let (mut ours, mut floor) = (Vec::new(), Vec::new());
        for (k, v) in samples.iter().enumerate() {
            for turn in 0..2 {
                if (k + turn) % 2 == 0 {
                    let t = Instant::now();
                    std::hint::black_box(index.related(v, limit, false, now).expect("related"));
                    ours.push(t.elapsed());
                } else {
                    let t = Instant::now();
                    std::hint::black_box(floor_lookup(searcher, analyzer, field, &v.text));
                    floor.push(t.elapsed());
                }
            }
        }
        let (o, f) = (pct(ours), pct(floor));
        println!(
            "{:<30} {:>9.3} {:>9.3} | {:>9.3} {:>9.3} | {:>19} | {:>6.1}x",
            format!("more like this ({limit})"),
            o.0,
            o.1,
            f.0,
            f.1,
            "",
            o.1 / f.1.max(1e-9)
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::var("PODBRIEF_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
        .clamp(1_000, 1_000_000);
    let now: DateTime<Utc> = "2026-11-27T00:00:00Z".parse().unwrap();
    let tmp = tempfile::tempdir().expect("temp dir");
    let index_dir = tmp.path().join("index");
    let rss_start = rss_kb();
    // The offline word lists, read once (the bot starts this load in the background).
    let t = Instant::now();
    podbrief::search::synonyms::warm();
    let words_load = t.elapsed();
    let rss_words = rss_kb();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let vocab = vocabulary(50_000, &mut rng);
    let zipf = Zipf::new(vocab.len());

    // Build both: podbrief's index on disk, FTS5 in a SQLite file.
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(tmp.path().join("fts.db"))
                .create_if_missing(true),
        )
        .await
        .expect("sqlite");
    sqlx::query("CREATE VIRTUAL TABLE docs USING fts5(body)")
        .execute(&pool)
        .await
        .expect("fts5");
    let mut samples = Vec::new();
    let mut build = Duration::ZERO;
    let mut fts_build = Duration::ZERO;
    {
        let index = SearchIndex::open(&index_dir).expect("index");
        let mut done = 0;
        while done < n {
            let batch: Vec<InsightView> = (done..(done + 20_000).min(n))
                .map(|i| insight(i, &vocab, &zipf, &mut rng, now))
                .collect();
            let t = Instant::now();
            index.add(&batch).expect("add");
            build += t.elapsed();
            let t = Instant::now();
            let mut tx = pool.begin().await.expect("tx");
            for v in &batch {
                sqlx::query("INSERT INTO docs (rowid, body) VALUES (?, ?)")
                    .bind(v.id)
                    .bind(&v.text)
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
            }
            tx.commit().await.expect("commit");
            fts_build += t.elapsed();
            samples.extend(batch.into_iter().step_by(997).take(40));
            done += 20_000;
        }
    }
    // Reopen, as the bot does at start.
    let rss_before_open = rss_kb();
    let t = Instant::now();
    let index = SearchIndex::open(&index_dir).expect("reopen");
    let open_time = t.elapsed();
    assert_eq!(index.status().docs_at_open as usize, n);
    // What the bot loads from the store on its first follow: every episode's subject.
    // (Only the loading is timed, not the making of the synthetic subjects.)
    let rss_before_subjects = rss_kb();
    let mut loading = Duration::ZERO;
    let episodes = n.div_ceil(8) as i64;
    for e in 1..=episodes {
        let stored = subject(e, &vocab, &zipf);
        let t = Instant::now();
        index.set_episode_subject(e, &stored);
        loading += t.elapsed();
    }
    println!(
        "episode subjects: {episodes} episodes loaded in {:.2} s, RSS +{} MB",
        loading.as_secs_f64(),
        rss_kb().saturating_sub(rss_before_subjects) / 1024
    );
    let (tindex, treader) = index.tantivy();
    // The one field podbrief's first stage searches.
    let text_field = tindex
        .schema()
        .get_field("all")
        .or_else(|_| tindex.schema().get_field("text"))
        .expect("searched field");
    let mut analyzer = tindex.tokenizers().get("podbrief_en").expect("analyser");
    let fts_queries: usize = std::env::var("PODBRIEF_BENCH_FTS_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX)
        .max(1);

    // Queries: 1, 2 and 3 words; the first word of each is one of the most common in a third of
    // them, a mid-frequency word in another third, a rare one in the rest.
    let pick = |rng: &mut Rng, class: usize| -> String {
        match class {
            0 => vocab[rng.below(3)].clone(),
            1 => vocab[100 + rng.below(900)].clone(),
            _ => vocab[5_000 + rng.below(40_000)].clone(),
        }
    };
    let mut sets: Vec<(String, Vec<String>)> = Vec::new();
    for words in 1..=3 {
        for (class, label) in [(0, "common"), (1, "mid"), (2, "rare")] {
            let qs: Vec<String> = (0..200)
                .map(|_| {
                    let mut q = vec![pick(&mut rng, class)];
                    for _ in 1..words {
                        let c = rng.below(3);
                        q.push(pick(&mut rng, c));
                    }
                    q.join(" ")
                })
                .collect();
            sets.push((format!("{words} word(s), first {label}"), qs));
        }
    }
    // Warm-up: every query once through podbrief and once through the floor.
    let searcher = treader.searcher();
    for (_, qs) in &sets {
        for q in qs {
            std::hint::black_box(index.search(q, 5, now).expect("search"));
            std::hint::black_box(floor_lookup(&searcher, &mut analyzer, text_field, q));
        }
    }

    println!(
        "search benchmark: {n} insights, vocabulary {}, Zipf words; latencies in ms (p50 p99)",
        vocab.len()
    );
    if fts_queries < 200 {
        println!("(SQLite FTS5 measured on the first {fts_queries} queries of each row)");
    }
    println!();
    println!(
        "{:<30} {:>19} | {:>19} | {:>19} | {:>7}",
        "lookup", "podbrief", "raw tantivy (floor)", "SQLite FTS5", "p99/floor"
    );
    for (name, qs) in &sets {
        let mut ours = Vec::new();
        let mut floor = Vec::new();
        let mut fts = Vec::new();
        for (k, q) in qs.iter().enumerate() {
            // Alternate which of the two runs first.
            for turn in 0..2 {
                if (k + turn) % 2 == 0 {
                    let t = Instant::now();
                    let hits = index.search(q, 5, now).expect("search");
                    ours.push(t.elapsed());
                    std::hint::black_box(hits);
                } else {
                    let t = Instant::now();
                    let ids = floor_lookup(&searcher, &mut analyzer, text_field, q);
                    floor.push(t.elapsed());
                    std::hint::black_box(ids);
                }
            }

            if k >= fts_queries {
                continue;
            }
            let expr = q
                .split_whitespace()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(" OR ");
            let t = Instant::now();
            let rows =
                sqlx::query("SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT 5")
                    .bind(&expr)
                    .fetch_all(&pool)
                    .await
                    .expect("fts5 query");
            fts.push(t.elapsed());
            std::hint::black_box(rows.iter().map(|r| r.get::<i64, _>(0)).sum::<i64>());
        }
        row(name, pct(ours), pct(floor), pct(fts));
    }
    // Filters and more-like-this (podbrief only; FTS5 has no equivalent here).
    let mut filtered = Vec::new();
    for i in 0..200 {
        let q = format!(
            "{} {} in:show-{} since:30d",
            vocab[i % 3],
            vocab[100 + i],
            i % 300
        );
        let t = Instant::now();
        std::hint::black_box(index.search(&q, 5, now).expect("filtered"));
        filtered.push(t.elapsed());
    }
    let (p50, p99) = pct(filtered);
    println!("{:<30} {p50:>9.3} {p99:>9.3}", "2 words + in: + since:");
    more_like_this(&index, &searcher, &mut analyzer, text_field, &samples, now);
    println!();
    println!(
        "index build {:.1} s ({:.0} insights/s); FTS5 build {:.1} s",
        build.as_secs_f64(),
        n as f64 / build.as_secs_f64(),
        fts_build.as_secs_f64()
    );
    println!(
        "index size on disk {:.1} MB; FTS5 database {:.1} MB; reopen {:.1} ms",
        dir_size(&index_dir) as f64 / 1e6,
        dir_size(tmp.path()) as f64 / 1e6,
        open_time.as_secs_f64() * 1e3
    );
    println!(
        "word lists (WordNet and Moby synonyms): loaded in {:.0} ms, {:.1} MB resident",
        words_load.as_secs_f64() * 1e3,
        rss_words.saturating_sub(rss_start) as f64 / 1024.0
    );
    println!(
        "resident memory: {:.1} MB at start, {:.1} MB before reopening, {:.1} MB with the index open after the lookups",
        rss_start as f64 / 1024.0,
        rss_before_open as f64 / 1024.0,
        rss_kb() as f64 / 1024.0
    );
}
