//! `podbrief eval lookups DIR --judged FILE`: lookups judged by a person, over the insights the
//! default engine extracts from a folder of transcripts.
//!
//! The judged file (`tests/quality/lookups.toml`) lists queries, each of a kind (`plain`: words
//! the episodes use; `reworded`: a synonym or paraphrase they do not use; `misspelled`: a typo
//! in a longer word; `nomatch`: a subject no transcript discusses) with the episodes that
//! discuss it, written from the transcripts before any lookup ran. Every insight of every
//! transcript is indexed in memory; a query's episodes are its hits' episodes in the order they
//! first appear. Per kind: episode-level P@5 (relevant episodes among the first five, over
//! min(5, relevant)) and hit@5 (a relevant episode among the first five); for `nomatch`, hit@5
//! means the lookup found nothing.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use super::SearchIndex;
use crate::core::model::InsightView;

/// The judged queries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Judged {
    /// The queries.
    pub query: Vec<JudgedQuery>,
}

/// One judged query.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgedQuery {
    /// What a user types.
    pub text: String,
    /// `plain`, `reworded`, `misspelled` or `nomatch`.
    pub kind: String,
    /// The episodes (paths relative to the transcripts folder) that discuss it, most relevant
    /// first.
    pub relevant: Vec<String>,
}

/// Scores of one kind of query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KindScores {
    /// Queries of this kind.
    pub queries: usize,
    /// Mean episode-level P@5 (over min(5, relevant)); 0 for `nomatch`.
    pub p5: f64,
    /// Share of queries with a relevant episode in the first five (`nomatch`: no result).
    pub hit5: f64,
}

/// The report: scores by kind, and each query's first five episodes.
#[derive(Debug, Clone, Default)]
pub struct LookupReport {
    /// Insights indexed.
    pub insights: usize,
    /// Scores by kind.
    pub kinds: BTreeMap<String, KindScores>,
    /// Each query's run.
    pub runs: Vec<Run>,
}

/// One query's run: (query, kind, first five episodes with whether each is relevant).
pub type Run = (String, String, Vec<(String, bool)>);

/// The episodes of a ranked list of insights, in the order they first appear.
fn episodes_in_order(hits: &[i64], episode_of: &HashMap<i64, String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in hits {
        if let Some(e) = episode_of.get(id)
            && !out.contains(e)
        {
            out.push(e.clone());
        }
    }
    out
}

/// Runs the judged lookups over the insights of every transcript under `dir`.
pub async fn run(dir: &Path, judged_file: &Path) -> anyhow::Result<LookupReport> {
    let text = std::fs::read_to_string(judged_file)
        .with_context(|| format!("reading {}", judged_file.display()))?;
    let judged: Judged =
        toml::from_str(&text).with_context(|| format!("parsing {}", judged_file.display()))?;
    for q in &judged.query {
        anyhow::ensure!(
            matches!(
                q.kind.as_str(),
                "plain" | "reworded" | "misspelled" | "nomatch"
            ),
            "{}: query {:?} has kind {:?} (allowed: plain, reworded, misspelled, nomatch)",
            judged_file.display(),
            q.text,
            q.kind
        );
    }
    let engine = crate::extract::ExtractiveEngine::default();
    let index = SearchIndex::in_memory().context("creating the index")?;
    let now: chrono::DateTime<chrono::Utc> = "2026-01-02T00:00:00Z".parse()?;
    let mut views = Vec::new();
    let mut episode_of: HashMap<i64, String> = HashMap::new();
    for (k, (_, name, episode)) in crate::extract::eval::transcripts(dir)?
        .into_iter()
        .enumerate()
    {
        for (j, i) in engine.extract_sync(&episode).into_iter().enumerate() {
            let id = (views.len() + 1) as i64;
            episode_of.insert(id, name.clone());
            views.push(InsightView {
                id,
                content_hash: crate::core::text::content_hash(&i.text),
                episode_id: k as i64 + 1,
                podcast_id: 1,
                podcast_title: "shared".into(),
                episode_title: name.clone(),
                episode_link: None,
                published_at: now - chrono::Duration::days(j as i64 % 30),
                text: i.text,
                quote: i.quote,
                start_ms: i.start_ms,
                end_ms: i.end_ms,
                speaker: i.speaker,
                score: i.score,
                topics: i.topics,
                chapter: i.chapter,
            });
        }
    }
    index.add(&views).context("indexing")?;
    let mut report = LookupReport {
        insights: views.len(),
        ..Default::default()
    };
    let mut sums: BTreeMap<String, (usize, f64, f64)> = BTreeMap::new();
    for q in &judged.query {
        let hits: Vec<i64> = index
            .search(&q.text, 50, now)
            .context("lookup")?
            .into_iter()
            .map(|h| h.id)
            .collect();
        let top: Vec<String> = episodes_in_order(&hits, &episode_of)
            .into_iter()
            .take(5)
            .collect();
        let relevant = |e: &String| q.relevant.contains(e);
        let found = top.iter().filter(|e| relevant(e)).count();
        let (p5, hit) = if q.kind == "nomatch" {
            (0.0, if top.is_empty() { 1.0 } else { 0.0 })
        } else {
            let want = q.relevant.len().clamp(1, 5);
            (
                found as f64 / want as f64,
                if found > 0 { 1.0 } else { 0.0 },
            )
        };
        let e = sums.entry(q.kind.clone()).or_default();
        e.0 += 1;
        e.1 += p5;
        e.2 += hit;
        report.runs.push((
            q.text.clone(),
            q.kind.clone(),
            top.iter().map(|e| (e.clone(), relevant(e))).collect(),
        ));
    }
    for (kind, (n, p, h)) in sums {
        report.kinds.insert(
            kind,
            KindScores {
                queries: n,
                p5: p / n as f64,
                hit5: h / n as f64,
            },
        );
    }
    Ok(report)
}

/// The gate's floor on plain lookups' hit@5.
pub const MIN_PLAIN_HIT5: f64 = 0.8;
/// The gate's floor on misspelled lookups' hit@5.
pub const MIN_MISSPELLED_HIT5: f64 = 0.75;

impl LookupReport {
    /// Why the report fails the gate, if it does: plain lookups' hit@5 below
    /// [`MIN_PLAIN_HIT5`] or misspelled ones' below [`MIN_MISSPELLED_HIT5`]. Reworded and
    /// no-match lookups are reported, not gated: without synonyms or a relatedness floor they
    /// cannot pass yet.
    pub fn gate(&self) -> Result<(), String> {
        let mut why = Vec::new();
        for (kind, floor) in [
            ("plain", MIN_PLAIN_HIT5),
            ("misspelled", MIN_MISSPELLED_HIT5),
        ] {
            match self.kinds.get(kind) {
                Some(s) if s.hit5 >= floor => {}
                Some(s) => why.push(format!("{kind} hit@5 {:.3} < {floor}", s.hit5)),
                None => why.push(format!("no {kind} query")),
            }
        }
        if why.is_empty() {
            Ok(())
        } else {
            Err(why.join("; "))
        }
    }

    /// The report as text.
    pub fn render(&self, show: bool) -> String {
        let mut out = format!(
            "{} insights indexed\n{:<12} {:>7} {:>6} {:>6}\n",
            self.insights, "kind", "queries", "P@5", "hit@5"
        );
        for (kind, s) in &self.kinds {
            out.push_str(&format!(
                "{kind:<12} {:>7} {:>6.3} {:>6.3}\n",
                s.queries, s.p5, s.hit5
            ));
        }
        if show {
            for (q, kind, top) in &self.runs {
                out.push_str(&format!("== {q:?} ({kind})\n"));
                for (e, rel) in top {
                    out.push_str(&format!("  {} {e}\n", if *rel { "+" } else { "-" }));
                }
            }
        }
        out
    }
}
