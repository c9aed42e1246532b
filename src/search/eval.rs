//! `podbrief eval search DIR`: retrieval quality on the Cranfield collection (`cran.all.1400`,
//! `cran.qry`, `cranqrel`), imported as insights through the importer into a temporary database,
//! beside SQLite FTS5's bm25 ranking of the same documents and queries in the same run.
//!
//! Measures: nDCG@10 with graded gains (Cranfield grade 1 → 4, 2 → 3, 3 → 2, 4 → 1; the `-1`
//! rows are dropped) and recall@100. Judgments name queries by their position in `cran.qry`
//! (1..=225), not by the `.I` number.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sqlx::Row;

use super::SearchIndex;

/// podbrief's nDCG@10 must reach this many times the better FTS5 ranking's.
pub const MIN_RATIO: f64 = 1.05;

/// One ranking's scores.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Scores {
    /// Mean nDCG@10.
    pub ndcg10: f64,
    /// Mean recall@100.
    pub recall100: f64,
}

/// The report of one evaluation run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EvalReport {
    /// Documents imported.
    pub docs: usize,
    /// Queries with at least one relevant document.
    pub queries: usize,
    /// podbrief's lookup.
    pub podbrief: Scores,
    /// FTS5 bm25, default tokenizer (`unicode61`).
    pub fts5: Scores,
    /// FTS5 bm25 with the Porter stemmer (`porter unicode61`).
    pub fts5_porter: Scores,
    /// The same three over the odd-numbered and the even-numbered queries apart (podbrief, FTS5,
    /// FTS5 porter): a margin that holds on one half only is fitted to the other.
    pub halves: [[Scores; 3]; 2],
}

impl EvalReport {
    /// The best FTS5 variant's scores.
    pub fn best_fts5(&self) -> Scores {
        if self.fts5_porter.ndcg10 > self.fts5.ndcg10 {
            self.fts5_porter
        } else {
            self.fts5
        }
    }
}

/// Parses SMART-format records (`.I id` then `.X` sections) into (id, sections).
fn smart(text: &str) -> Vec<(String, HashMap<char, String>)> {
    let mut out: Vec<(String, HashMap<char, String>)> = Vec::new();
    let mut section = ' ';
    for line in text.lines() {
        if let Some(id) = line.strip_prefix(".I") {
            out.push((id.trim().to_string(), HashMap::new()));
            section = ' ';
        } else if line.len() == 2 && line.starts_with('.') {
            section = line.chars().nth(1).unwrap_or(' ');
        } else if let Some((_, sections)) = out.last_mut() {
            let s = sections.entry(section).or_default();
            s.push(' ');
            s.push_str(line.trim());
        }
    }
    out
}

/// The collection: documents by id, queries in file order, judgments (query position → doc →
/// gain).
struct Collection {
    docs: Vec<(i64, String)>,
    queries: Vec<String>,
    qrels: HashMap<usize, HashMap<i64, u32>>,
}

fn read(dir: &Path) -> anyhow::Result<Collection> {
    let file = |name: &str| -> anyhow::Result<String> {
        let p = dir.join(name);
        std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
    };
    let docs = smart(&file("cran.all.1400")?)
        .into_iter()
        .filter_map(|(id, s)| {
            let id: i64 = id.parse().ok()?;
            let text = s.get(&'W').map(|w| w.trim().to_string())?;
            Some((id, text))
        })
        .collect::<Vec<_>>();
    let queries = smart(&file("cran.qry")?)
        .into_iter()
        .map(|(_, s)| s.get(&'W').cloned().unwrap_or_default().trim().to_string())
        .collect::<Vec<_>>();
    let mut qrels: HashMap<usize, HashMap<i64, u32>> = HashMap::new();
    for line in file("cranqrel")?.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        let (Ok(q), Ok(d), Ok(g)) = (
            f[0].parse::<usize>(),
            f[1].parse::<i64>(),
            f[2].parse::<i32>(),
        ) else {
            continue;
        };
        if (1..=4).contains(&g) {
            qrels.entry(q).or_default().insert(d, (5 - g) as u32);
        }
    }
    anyhow::ensure!(
        docs.len() > 1000 && queries.len() > 200,
        "{} does not look like the Cranfield collection ({} documents, {} queries)",
        dir.display(),
        docs.len(),
        queries.len()
    );
    Ok(Collection {
        docs,
        queries,
        qrels,
    })
}

fn ndcg10(ranked: &[i64], rel: &HashMap<i64, u32>) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, d)| f64::from(*rel.get(d).unwrap_or(&0)) / ((i + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<u32> = rel.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, g)| f64::from(*g) / ((i + 2) as f64).log2())
        .sum();
    if idcg > 0.0 { dcg / idcg } else { 0.0 }
}

fn recall100(ranked: &[i64], rel: &HashMap<i64, u32>) -> f64 {
    if rel.is_empty() {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(100)
        .filter(|d| rel.contains_key(d))
        .count();
    found as f64 / rel.len() as f64
}

fn mean(c: &Collection, runs: &[Vec<i64>]) -> Scores {
    mean_of(c, runs, |_| true)
}

/// [`mean`] over the queries whose number (from 1) `keep` accepts.
fn mean_of(c: &Collection, runs: &[Vec<i64>], keep: impl Fn(usize) -> bool) -> Scores {
    let (mut n, mut r, mut k) = (0.0, 0.0, 0usize);
    for (pos, ranked) in runs.iter().enumerate() {
        if !keep(pos + 1) {
            continue;
        }
        let Some(rel) = c.qrels.get(&(pos + 1)) else {
            continue;
        };
        n += ndcg10(ranked, rel);
        r += recall100(ranked, rel);
        k += 1;
    }
    let k = k.max(1) as f64;
    Scores {
        ndcg10: n / k,
        recall100: r / k,
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the evaluation over the collection in `dir`.
pub async fn cranfield(dir: &Path) -> anyhow::Result<EvalReport> {
    let c = read(dir)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tmp =
        TempDir(std::env::temp_dir().join(format!("podbrief-eval-{}-{nanos}", std::process::id())));
    std::fs::create_dir_all(&tmp.0).with_context(|| format!("creating {}", tmp.0.display()))?;
    let url = format!("sqlite://{}", tmp.0.join("eval.db").display());
    let store = crate::store::connect(&url, 2)
        .await
        .context("opening the evaluation database")?;
    store
        .migrate()
        .await
        .context("migrating the evaluation database")?;
    let index = SearchIndex::in_memory().context("creating the index")?;
    let now: chrono::DateTime<chrono::Utc> =
        "2026-01-02T00:00:00Z".parse().context("evaluation date")?;
    let (imported, doc_of) = import(&c, &*store, &index, now).await?;
    let mut ours = Vec::new();
    for q in &c.queries {
        let hits = index.search(q, 100, now).context("podbrief lookup")?;
        ours.push(
            hits.iter()
                .filter_map(|h| doc_of.get(&h.id).copied())
                .collect(),
        );
    }
    let fts5 = fts5_runs(&c, "unicode61").await?;
    let fts5_porter = fts5_runs(&c, "porter unicode61").await?;
    let half = |parity: usize| {
        [&ours, &fts5, &fts5_porter].map(|runs| mean_of(&c, runs, |q| q % 2 == parity))
    };
    Ok(EvalReport {
        halves: [half(1), half(0)],
        docs: imported,
        queries: (1..=c.queries.len())
            .filter(|p| c.qrels.contains_key(p))
            .count(),
        podbrief: mean(&c, &ours),
        fts5: mean(&c, &fts5),
        fts5_porter: mean(&c, &fts5_porter),
    })
}

/// Imports the collection's documents as insights (one episode each); returns how many were
/// imported and the Cranfield document of each insight id.
async fn import(
    c: &Collection,
    store: &dyn crate::store::Store,
    index: &SearchIndex,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<(usize, HashMap<i64, i64>)> {
    let mut jsonl = String::new();
    for (id, text) in &c.docs {
        if text.is_empty() {
            continue;
        }
        let line = serde_json::json!({
            "text": text,
            "podcast": "Cranfield",
            "episode": format!("cran {id}"),
            "date": "2026-01-01",
        });
        jsonl.push_str(&line.to_string());
        jsonl.push('\n');
    }
    let report = super::import::import_jsonl(store, index, &jsonl, now)
        .await
        .context("importing the collection")?;
    anyhow::ensure!(
        report.errors.is_empty(),
        "importing the collection: {}",
        report.errors[0]
    );
    let mut doc_of: HashMap<i64, i64> = HashMap::new();
    let mut after = 0;
    loop {
        let batch = store
            .insights_after(after, 5_000)
            .await
            .context("reading imported insights")?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for v in batch {
            if let Some(d) = v
                .episode_title
                .strip_prefix("cran ")
                .and_then(|d| d.parse().ok())
            {
                doc_of.insert(v.id, d);
            }
        }
    }
    Ok((report.imported, doc_of))
}

/// The FTS5 query for free text: every word quoted, joined by OR.
pub fn fts5_query(text: &str) -> String {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"", w.to_lowercase()))
        .collect();
    words.join(" OR ")
}

async fn fts5_runs(c: &Collection, tokenizer: &str) -> anyhow::Result<Vec<Vec<i64>>> {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .context("opening an in-memory SQLite for FTS5")?;
    sqlx::query(&format!(
        "CREATE VIRTUAL TABLE docs USING fts5(body, tokenize = '{tokenizer}')"
    ))
    .execute(&pool)
    .await
    .context("creating the FTS5 table")?;
    let mut tx = pool.begin().await.context("FTS5 insert")?;
    for (id, text) in &c.docs {
        sqlx::query("INSERT INTO docs (rowid, body) VALUES (?, ?)")
            .bind(id)
            .bind(text)
            .execute(&mut *tx)
            .await
            .context("FTS5 insert")?;
    }
    tx.commit().await.context("FTS5 insert")?;
    let mut runs = Vec::new();
    for q in &c.queries {
        let expr = fts5_query(q);
        if expr.is_empty() {
            runs.push(Vec::new());
            continue;
        }
        let rows = sqlx::query("SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT 100")
            .bind(&expr)
            .fetch_all(&pool)
            .await
            .with_context(|| format!("FTS5 query {expr:?}"))?;
        runs.push(rows.iter().map(|r| r.get::<i64, _>(0)).collect());
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics() {
        let rel: HashMap<i64, u32> = [(1, 4), (2, 1)].into_iter().collect();
        assert!((ndcg10(&[1, 2], &rel) - 1.0).abs() < 1e-9);
        assert!(ndcg10(&[2, 1], &rel) < 1.0);
        assert_eq!(ndcg10(&[7, 8], &rel), 0.0);
        assert_eq!(recall100(&[1, 9], &rel), 0.5);
        assert_eq!(
            fts5_query("what \"similarity\" laws?"),
            "\"what\" OR \"similarity\" OR \"laws\""
        );
        let recs = smart(".I 1\n.T\ntitle here\n.W\nbody one\nbody two\n.I 2\n.W\nx\n");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].1[&'W'].trim(), "body one body two");
    }
}
