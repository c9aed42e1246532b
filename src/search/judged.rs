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

use std::collections::{BTreeMap, HashMap, HashSet};
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

/// The insights the default engine extracts from every transcript under `dir` (but those
/// `skip` names), indexed in memory, with each insight's transcript (its path under `dir`).
/// `titled`: each episode is titled with its path and all share one podcast (the lookups'
/// setting); else episodes have no title and each folder is a podcast (as feeds would give).
struct Corpus {
    index: SearchIndex,
    views: Vec<InsightView>,
    episode_of: HashMap<i64, String>,
}

/// The fixed "now" of the judged reports (dates are spread over the month before it).
fn judged_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_767_312_000, 0).unwrap_or_default()
}

fn corpus(dir: &Path, skip: &HashSet<String>, titled: bool) -> anyhow::Result<Corpus> {
    let engine = crate::extract::ExtractiveEngine::default();
    let index = SearchIndex::in_memory().context("creating the index")?;
    let now = judged_now();
    let mut views = Vec::new();
    let mut episode_of: HashMap<i64, String> = HashMap::new();
    let mut folders: Vec<String> = Vec::new();
    for (k, (_, name, episode)) in crate::extract::eval::transcripts(dir)?
        .into_iter()
        .enumerate()
    {
        if skip.contains(&name) {
            continue;
        }
        let folder = Path::new(&name)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if !folders.contains(&folder) {
            folders.push(folder.clone());
        }
        let podcast_id = folders.iter().position(|f| *f == folder).unwrap_or(0) as i64 + 1;
        index.set_episode_subject(k as i64 + 1, &super::subject::of_episode(&episode));
        for (j, i) in engine.extract_sync(&episode).into_iter().enumerate() {
            let id = (views.len() + 1) as i64;
            episode_of.insert(id, name.clone());
            views.push(InsightView {
                id,
                content_hash: crate::core::text::content_hash(&i.text),
                episode_id: k as i64 + 1,
                podcast_id: if titled { 1 } else { podcast_id },
                podcast_title: if titled {
                    "shared".into()
                } else {
                    folder.clone()
                },
                episode_title: if titled { name.clone() } else { String::new() },
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
    Ok(Corpus {
        index,
        views,
        episode_of,
    })
}

/// Reads and checks the judged queries.
fn read_judged(judged_file: &Path) -> anyhow::Result<Judged> {
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
    Ok(judged)
}

/// Runs the judged lookups over the insights of every transcript under `dir`.
pub async fn run(dir: &Path, judged_file: &Path) -> anyhow::Result<LookupReport> {
    let judged = read_judged(judged_file)?;
    let c = corpus(dir, &HashSet::new(), true)?;
    let now = judged_now();
    let mut report = LookupReport {
        insights: c.views.len(),
        ..Default::default()
    };
    let mut sums: BTreeMap<String, (usize, f64, f64)> = BTreeMap::new();
    for q in &judged.query {
        let hits: Vec<i64> = c
            .index
            .search(&q.text, 50, now)
            .context("lookup")?
            .into_iter()
            .map(|h| h.id)
            .collect();
        let top: Vec<String> = episodes_in_order(&hits, &c.episode_of)
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

/// The gate's floors on hit@5, by kind (for `nomatch`, the share of lookups that found nothing).
pub const MIN_HIT5: [(&str, f64); 4] = [
    ("plain", 0.9),
    ("misspelled", 0.7),
    ("reworded", 0.3),
    ("nomatch", 0.75),
];

impl LookupReport {
    /// Why the report fails the gate, if it does: a kind's hit@5 below its floor in
    /// [`MIN_HIT5`], or a kind without queries.
    pub fn gate(&self) -> Result<(), String> {
        let mut why = Vec::new();
        for (kind, floor) in MIN_HIT5 {
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

/// The judged subjects (`tests/quality/subjects.toml`): what each shared episode discusses, and
/// for seed episodes, the other episodes that discuss the same subjects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subjects {
    /// Per episode (path relative to the transcripts folder), its subjects. Files with the same
    /// list are one episode in several formats: only the first (by path) is indexed.
    pub episodes: BTreeMap<String, Vec<String>>,
    /// Per seed episode, the other episodes that discuss its subjects (empty: none does).
    #[serde(default)]
    pub related: BTreeMap<String, Vec<String>>,
}

/// The related list's length the report asks for (the page's).
pub const RELATED_LIMIT: usize = 10;
/// The gate's floor on the share of related items on subject.
pub const MIN_ON_SUBJECT: f64 = 0.8;
/// The gate's floor on the share of seed insights with a judged related episode that get at
/// least one item (so "show nothing" cannot pass).
pub const MIN_SEEDS_ANSWERED: f64 = 0.25;
/// Floors the report sweeps (besides the engine's own).
const SWEEP: &[f32] = &[0.0, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3];

/// Counts at one floor.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RelatedCounts {
    /// The floor.
    pub floor: f32,
    /// Related items shown over all seeds.
    pub shown: usize,
    /// Of them, from an episode judged to discuss the seed's subjects.
    pub on_subject: usize,
    /// Seeds (with a judged related episode) that got at least one item.
    pub answered: usize,
}

impl RelatedCounts {
    /// Share of shown items on subject (1 when none is shown).
    pub fn share(&self) -> f64 {
        if self.shown == 0 {
            1.0
        } else {
            self.on_subject as f64 / self.shown as f64
        }
    }
}

/// One seed's related list: (seed episode, seed text, items as (episode, on subject, text)).
pub type RelatedRun = (String, String, Vec<(String, bool, String)>);

/// The related report.
#[derive(Debug, Clone, Default)]
pub struct RelatedReport {
    /// Insights indexed.
    pub insights: usize,
    /// Seed insights asked (every insight of every seed episode).
    pub seeds: usize,
    /// Seeds whose episode has a judged related episode.
    pub seeds_with_related: usize,
    /// The counts at the engine's floor.
    pub at_floor: RelatedCounts,
    /// The counts at other floors, for calibration.
    pub sweep: Vec<RelatedCounts>,
    /// Each seed's list at the engine's floor.
    pub runs: Vec<RelatedRun>,
}

/// Reads and checks the subjects file: every episode named under `related` is listed under
/// `episodes`. Returns it with each path's canonical episode (the first of its formats).
fn read_subjects(file: &Path) -> anyhow::Result<(Subjects, HashMap<String, String>)> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let s: Subjects =
        toml::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
    let mut canonical: HashMap<String, String> = HashMap::new();
    let mut first_of: HashMap<&Vec<String>, &String> = HashMap::new();
    for (path, subjects) in &s.episodes {
        let first = first_of.entry(subjects).or_insert(path);
        canonical.insert(path.clone(), (*first).clone());
    }
    for (seed, others) in &s.related {
        for p in std::iter::once(seed).chain(others) {
            anyhow::ensure!(
                canonical.contains_key(p),
                "{}: [related] names {p:?}, which is not under [episodes]",
                file.display()
            );
        }
    }
    Ok((s, canonical))
}

/// Asks every insight of every seed episode for its related list (up to [`RELATED_LIMIT`],
/// other episodes only) over the insights of every transcript under `dir`, and counts the
/// items from episodes judged to discuss the seed's subjects, at the engine's floor and at the
/// floors of [`SWEEP`].
pub async fn run_related(dir: &Path, subjects_file: &Path) -> anyhow::Result<RelatedReport> {
    let (subjects, canonical) = read_subjects(subjects_file)?;
    let skip: HashSet<String> = canonical
        .iter()
        .filter(|(p, c)| p != c)
        .map(|(p, _)| p.clone())
        .collect();
    let c = corpus(dir, &skip, false)?;
    let canon = |p: &String| canonical.get(p).cloned().unwrap_or_else(|| p.clone());
    let mut report = RelatedReport {
        insights: c.views.len(),
        ..Default::default()
    };
    let floors: Vec<f32> = std::iter::once(super::related::FLOOR)
        .chain(SWEEP.iter().copied())
        .collect();
    let mut counts: Vec<RelatedCounts> = floors
        .iter()
        .map(|f| RelatedCounts {
            floor: *f,
            ..Default::default()
        })
        .collect();
    for seed in &c.views {
        let Some(episode) = c.episode_of.get(&seed.id).map(&canon) else {
            continue;
        };
        let Some(wanted) = subjects.related.get(&episode) else {
            continue;
        };
        let wanted: HashSet<String> = wanted.iter().map(&canon).collect();
        report.seeds += 1;
        report.seeds_with_related += usize::from(!wanted.is_empty());
        for (k, floor) in floors.iter().enumerate() {
            let hits = c
                .index
                .related_above(seed, RELATED_LIMIT, false, *floor)
                .context("related")?;
            let items: Vec<(String, bool, String)> = hits
                .iter()
                .filter_map(|h| {
                    let e = canon(c.episode_of.get(&h.id)?);
                    let text = c.views.get(h.id as usize - 1)?.text.clone();
                    Some((e.clone(), wanted.contains(&e), text))
                })
                .collect();
            let n = &mut counts[k];
            n.shown += items.len();
            n.on_subject += items.iter().filter(|i| i.1).count();
            n.answered += usize::from(!items.is_empty() && !wanted.is_empty());
            if k == 0 {
                report
                    .runs
                    .push((episode.clone(), seed.text.clone(), items));
            }
        }
    }
    report.at_floor = counts[0];
    report.sweep = counts.split_off(1);
    Ok(report)
}

impl RelatedReport {
    /// Share of seeds with a judged related episode that got at least one item.
    pub fn answered_share(c: &RelatedCounts, seeds_with_related: usize) -> f64 {
        c.answered as f64 / seeds_with_related.max(1) as f64
    }

    /// Why the report fails the gate, if it does: fewer than [`MIN_ON_SUBJECT`] of the items
    /// shown on subject, or fewer than [`MIN_SEEDS_ANSWERED`] of the seeds with a judged
    /// related episode given any item.
    pub fn gate(&self) -> Result<(), String> {
        let c = &self.at_floor;
        let mut why = Vec::new();
        if c.share() < MIN_ON_SUBJECT {
            why.push(format!(
                "on-subject share {:.3} < {MIN_ON_SUBJECT}",
                c.share()
            ));
        }
        let answered = Self::answered_share(c, self.seeds_with_related);
        if answered < MIN_SEEDS_ANSWERED {
            why.push(format!(
                "seeds answered {answered:.3} < {MIN_SEEDS_ANSWERED}"
            ));
        }
        if why.is_empty() {
            Ok(())
        } else {
            Err(why.join("; "))
        }
    }

    /// The report as text: the counts at the engine's floor, the sweep, and with `show` each
    /// seed's list (+ on subject, - not).
    pub fn render(&self, show: bool) -> String {
        let mut out = format!(
            "{} insights indexed; {} seed insights ({} with a judged related episode)\n{:<14} {:>6} {:>10} {:>8} {:>9}\n",
            self.insights,
            self.seeds,
            self.seeds_with_related,
            "floor",
            "shown",
            "on subject",
            "share",
            "answered"
        );
        let line = |label: String, c: &RelatedCounts| {
            format!(
                "{label:<14} {:>6} {:>10} {:>8.3} {:>9.3}\n",
                c.shown,
                c.on_subject,
                c.share(),
                Self::answered_share(c, self.seeds_with_related)
            )
        };
        out.push_str(&line(
            format!("{:.2} (engine)", self.at_floor.floor),
            &self.at_floor,
        ));
        for c in &self.sweep {
            out.push_str(&line(format!("{:.2}", c.floor), c));
        }
        if show {
            for (episode, text, items) in &self.runs {
                let head: String = text.chars().take(100).collect();
                out.push_str(&format!("== {episode}: {head}\n"));
                for (e, on, t) in items {
                    let t: String = t.chars().take(90).collect();
                    out.push_str(&format!("  {} {e}: {t}\n", if *on { "+" } else { "-" }));
                }
            }
        }
        out
    }
}
