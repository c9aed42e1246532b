//! `podbrief eval insights DIR [--labels DIR] [--engine llm|extractive]`: a quality report of an
//! insight engine (the extractive engine, or the configured LLM endpoint) over a folder of
//! transcripts.
//!
//! Per episode and in total it prints insights per hour, the share of insights opening with an
//! unresolved reference, their length distribution, the near-duplicate share, how the insights
//! spread over the episode's timeline (fifths holding one, and the share of the episode between
//! the first and the last), and the rate of each flaw a reader notices (`flaws`: false starts,
//! repeats, endings mid-thought, case, fillers, plugs, backchannel, show talk, questions). Where a labels file exists (`NAME.labels.toml`, NAME being
//! the transcript's file stem) it adds the share of insights inside labelled sponsor/intro/outro
//! spans and the recall of the reference takeaways (ROUGE-1 recall over content words), beside two
//! baselines computed in the same run: the first N passages, and N passages spread evenly (a
//! passage being up to three sentences of one turn, like an insight; N = the engine's count).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use super::extractive::{ExtractiveEngine, opens_unresolved};
use super::flaws::{Flaw, flaws};
use super::sentences::{sentences, turns};
use super::{EpisodeText, Extractor};
use crate::core::model::NewInsight;
use crate::core::text::{NEAR_DUPLICATE, content_words, similarity, words};
use crate::ingest::transcript::{Segment, Transcript};

/// The gate's ceiling on the share of insights with any one flaw.
pub const MAX_FLAW_RATE: f64 = 0.01;
/// The gate's ceiling on the share of insights with any flaw at all.
pub const MAX_ANY_FLAW_RATE: f64 = 0.05;
/// The gate's floor on recall, as a multiple of each baseline's.
pub const MIN_RECALL_RATIO: f64 = 1.5;

/// A labels file: spans that must never yield insights, and reference takeaways.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    /// A handful of takeaways a person would repeat from the episode.
    #[serde(default)]
    pub takeaways: Vec<String>,
    /// Sponsor reads, intros and outros.
    #[serde(default)]
    pub span: Vec<LabelSpan>,
}

/// A labelled span, given by short quotes that start and end it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSpan {
    /// `sponsor`, `intro` or `outro`.
    pub kind: String,
    /// A short quote where the span starts.
    pub from: String,
    /// A short quote where the span ends (its last words).
    pub to: String,
}

/// Figures of one episode (or of all of them, for the total).
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Insights found.
    pub insights: usize,
    /// Hours of audio (from the last timestamp, else 150 words a minute).
    pub hours: f64,
    /// Insights opening with an unresolved reference.
    pub unresolved: usize,
    /// Insight lengths in words.
    pub lengths: Vec<usize>,
    /// Insights that are near-duplicates of an earlier one of the same episode.
    pub near_dups: usize,
    /// Fifths of the timeline holding at least one insight, summed over episodes.
    pub fifths_covered: usize,
    /// Fifths that could have been covered (min(insights, 5) per episode).
    pub fifths_possible: usize,
    /// Share of the episode between its first and last insight, summed over episodes.
    pub span: f64,
    /// Episodes with at least two insights (the span's denominator).
    pub spanned: usize,
    /// Insights with each flaw.
    pub flaws: std::collections::BTreeMap<Flaw, usize>,
    /// Insights with any flaw.
    pub flawed: usize,
    /// Labelled episodes.
    pub labelled: usize,
    /// Insights of labelled episodes.
    pub labelled_insights: usize,
    /// Insights at least half inside a labelled span.
    pub in_spans: usize,
    /// Sum of per-episode recall of the engine, first-N and spread-N baselines.
    pub recall: [f64; 3],
    /// The insights (start time, text, flaws), for `--show`.
    pub shown: Vec<(Option<i64>, String, Vec<Flaw>)>,
}

/// The report over a folder.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One line per episode, in path order.
    pub episodes: Vec<(String, Figures)>,
    /// Labels files that matched no transcript or could not be used.
    pub problems: Vec<String>,
    /// Offending insights: (episode, span kind, insight text).
    pub offending: Vec<(String, String, String)>,
    /// The totals.
    pub total: Figures,
}

impl Report {
    /// Mean recall over labelled episodes: engine, first-N, spread-N.
    pub fn mean_recall(&self) -> [f64; 3] {
        let n = self.total.labelled.max(1) as f64;
        self.total.recall.map(|r| r / n)
    }

    /// Why this report fails the quality gate, if it does: any insight inside a labelled span, a
    /// labels file that could not be used, a flaw in more than [`MAX_FLAW_RATE`] of the insights
    /// (any flaw in more than [`MAX_ANY_FLAW_RATE`]), or recall below [`MIN_RECALL_RATIO`] times
    /// either baseline.
    pub fn gate(&self) -> Result<(), String> {
        let mut why = Vec::new();
        if !self.offending.is_empty() {
            why.push(format!(
                "{} insight(s) inside labelled sponsor/intro/outro spans (none allowed)",
                self.offending.len()
            ));
        }
        if !self.problems.is_empty() {
            why.push(format!("{} labels problem(s)", self.problems.len()));
        }
        let n = self.total.insights.max(1) as f64;
        for (flaw, count) in &self.total.flaws {
            if *count as f64 / n > MAX_FLAW_RATE {
                why.push(format!(
                    "{flaw} in {:.1}% of insights (at most {:.0}%)",
                    100.0 * *count as f64 / n,
                    100.0 * MAX_FLAW_RATE
                ));
            }
        }
        if self.total.flawed as f64 / n > MAX_ANY_FLAW_RATE {
            why.push(format!(
                "a flaw in {:.1}% of insights (at most {:.0}%)",
                100.0 * self.total.flawed as f64 / n,
                100.0 * MAX_ANY_FLAW_RATE
            ));
        }
        if self.total.labelled > 0 {
            let [e, f, s] = self.mean_recall();
            if e < MIN_RECALL_RATIO * f || e < MIN_RECALL_RATIO * s {
                why.push(format!(
                    "recall {e:.3} is not {MIN_RECALL_RATIO}x both baselines (first-N {f:.3}, spread-N {s:.3})"
                ));
            }
        } else {
            why.push("no labelled episode was evaluated".into());
        }
        if why.is_empty() {
            Ok(())
        } else {
            Err(why.join("; "))
        }
    }

    /// The flaw rates over all insights, as a line of the report.
    pub fn render_flaws(&self) -> String {
        let n = self.total.insights.max(1) as f64;
        let mut parts: Vec<String> = Flaw::ALL
            .iter()
            .map(|f| {
                let c = self.total.flaws.get(f).copied().unwrap_or(0);
                format!("{f} {:.1}%", 100.0 * c as f64 / n)
            })
            .collect();
        parts.push(format!("any {:.1}%", 100.0 * self.total.flawed as f64 / n));
        let span = if self.total.spanned > 0 {
            100.0 * self.total.span / self.total.spanned as f64
        } else {
            0.0
        };
        format!(
            "flaws over {} insights: {}\ninsights span {span:.0}% of their episode on average\n",
            self.total.insights,
            parts.join(", ")
        )
    }

    /// The insights of every episode, with their times.
    pub fn render_insights(&self) -> String {
        let mut out = String::new();
        for (name, f) in &self.episodes {
            let _ = writeln!(out, "== {name}");
            for (t, text, flaws) in &f.shown {
                let t = t
                    .map(|ms| format!("{:02}:{:02}", ms / 60_000, (ms / 1000) % 60))
                    .unwrap_or_else(|| "--:--".into());
                let marks: Vec<&str> = flaws.iter().map(|f| f.name()).collect();
                if marks.is_empty() {
                    let _ = writeln!(out, "  [{t}] {text}");
                } else {
                    let _ = writeln!(out, "  [{t}] ({}) {text}", marks.join(", "));
                }
            }
        }
        out
    }

    /// The report as text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<34} {:>4} {:>6} {:>6} {:>10} {:>5} {:>6} {:>6} {:>22}",
            "episode",
            "ins",
            "ins/h",
            "unres",
            "len(min/med/max)",
            "dup",
            "spread",
            "inspan",
            "recall(eng/first/even)"
        );
        for (name, f) in self
            .episodes
            .iter()
            .chain([&("TOTAL".to_string(), self.total.clone())])
        {
            out.push_str(&f.row(name));
        }
        for (ep, kind, text) in &self.offending {
            let _ = writeln!(out, "INSIDE {kind} span of {ep}: {text}");
        }
        for p in &self.problems {
            let _ = writeln!(out, "LABELS: {p}");
        }
        out
    }
}

/// `a` as a whole percentage of `b`, or "-" when `b` is 0.
fn share(a: usize, b: usize) -> String {
    if b == 0 {
        "-".to_string()
    } else {
        format!("{:.0}%", 100.0 * a as f64 / b as f64)
    }
}

impl Figures {
    /// One line of the report's table.
    fn row(&self, name: &str) -> String {
        let f = self;
        let mut lens = f.lengths.clone();
        lens.sort_unstable();
        let len = match (lens.first(), lens.last()) {
            (Some(lo), Some(hi)) => format!("{lo}/{}/{hi}", lens[lens.len() / 2]),
            _ => "-".to_string(),
        };
        let (inspan, recall) = if f.labelled > 0 {
            let n = f.labelled as f64;
            (
                share(f.in_spans, f.labelled_insights),
                format!(
                    "{:.3}/{:.3}/{:.3}",
                    f.recall[0] / n,
                    f.recall[1] / n,
                    f.recall[2] / n
                ),
            )
        } else {
            ("-".into(), "-".into())
        };
        let count = name.chars().count();
        let short: String = name.chars().skip(count.saturating_sub(34)).collect();
        let per_hour = if f.hours > 0.0 {
            f.insights as f64 / f.hours
        } else {
            0.0
        };
        format!(
            "{:<34} {:>4} {:>6.1} {:>6} {:>16} {:>5} {:>6} {:>6} {:>22}\n",
            short,
            f.insights,
            per_hour,
            share(f.unresolved, f.insights),
            len,
            share(f.near_dups, f.insights),
            share(f.fifths_covered, f.fifths_possible),
            inspan,
            recall
        )
    }

    fn add(&mut self, o: &Figures) {
        self.insights += o.insights;
        self.hours += o.hours;
        self.unresolved += o.unresolved;
        self.lengths.extend(&o.lengths);
        self.near_dups += o.near_dups;
        self.fifths_covered += o.fifths_covered;
        self.fifths_possible += o.fifths_possible;
        self.span += o.span;
        self.spanned += o.spanned;
        self.flawed += o.flawed;
        for (k, v) in &o.flaws {
            *self.flaws.entry(*k).or_default() += v;
        }
        self.labelled += o.labelled;
        self.labelled_insights += o.labelled_insights;
        self.in_spans += o.in_spans;
        for i in 0..3 {
            self.recall[i] += o.recall[i];
        }
    }
}

/// The transcript's words as one lowercase sequence, for locating quotes.
struct Doc {
    words: Vec<String>,
    first: HashMap<String, Vec<usize>>,
}

impl Doc {
    fn new(segments: &[Segment]) -> Doc {
        let words: Vec<String> = segments.iter().flat_map(|s| words(&s.text)).collect();
        let mut first: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, w) in words.iter().enumerate() {
            first.entry(w.clone()).or_default().push(i);
        }
        Doc { words, first }
    }

    /// Where the word sequence of `text` first occurs at or after `from`: (start, end) word
    /// indices, end exclusive.
    fn find(&self, text: &str, from: usize) -> Option<(usize, usize)> {
        let q: Vec<String> = words(text).collect();
        let head = q.first()?;
        self.first.get(head)?.iter().copied().find_map(|i| {
            (i >= from && i + q.len() <= self.words.len() && self.words[i..i + q.len()] == q[..])
                .then_some((i, i + q.len()))
        })
    }
}

/// Best ROUGE-1 recall (content words) of each takeaway against any one passage, averaged.
pub fn recall(takeaways: &[String], passages: &[String]) -> f64 {
    if takeaways.is_empty() {
        return 0.0;
    }
    let sets: Vec<HashSet<String>> = passages
        .iter()
        .map(|p| content_words(p).into_iter().collect())
        .collect();
    let mut sum = 0.0;
    for t in takeaways {
        let want: HashSet<String> = content_words(t).into_iter().collect();
        if want.is_empty() {
            continue;
        }
        let best = sets
            .iter()
            .map(|s| want.intersection(s).count() as f64 / want.len() as f64)
            .fold(0.0, f64::max);
        sum += best;
    }
    sum / takeaways.len() as f64
}

/// The two baselines: the first `n` passages and `n` passages spread evenly, each passage up to
/// three sentences of one turn.
pub fn baselines(segments: &[Segment], n: usize) -> (Vec<String>, Vec<String>) {
    let ts = turns(segments);
    let ss = sentences(&ts);
    let passage = |i: usize| -> String {
        let turn = ss[i].turn;
        ss[i..]
            .iter()
            .take(3)
            .take_while(|s| s.turn == turn)
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let first: Vec<String> = (0..n)
        .map(|k| k * 3)
        .filter(|i| *i < ss.len())
        .map(passage)
        .collect();
    let spread: Vec<String> = if ss.is_empty() {
        Vec::new()
    } else {
        (0..n)
            .map(|k| ((2 * k + 1) * ss.len()) / (2 * n.max(1)))
            .filter(|i| *i < ss.len())
            .map(passage)
            .collect()
    };
    (first, spread)
}

/// An episode's length in hours: its last time, or its words at 150 a minute when untimed.
pub fn hours(segments: &[Segment]) -> f64 {
    let last = segments
        .iter()
        .filter_map(|s| s.end_ms.or(s.start_ms))
        .max()
        .unwrap_or(0);
    if last > 60_000 {
        last as f64 / 3_600_000.0
    } else {
        let n: usize = segments
            .iter()
            .map(|s| s.text.split_whitespace().count())
            .sum();
        n as f64 / 150.0 / 60.0
    }
}

/// Evaluates one episode's insights.
pub fn evaluate(
    name: &str,
    segments: &[Segment],
    insights: &[NewInsight],
    labels: Option<&Labels>,
    report: &mut Report,
) -> Figures {
    let doc = Doc::new(segments);
    let mut f = Figures {
        insights: insights.len(),
        hours: hours(segments),
        ..Default::default()
    };
    let total_words = doc.words.len().max(1);
    let mut fifths = HashSet::new();
    f.shown = insights
        .iter()
        .map(|i| (i.start_ms, i.text.clone(), flaws(&i.text)))
        .collect();
    for (_, _, found) in &f.shown {
        for flaw in found {
            *f.flaws.entry(*flaw).or_default() += 1;
        }
        f.flawed += usize::from(!found.is_empty());
    }
    let mut positions = Vec::new();
    for (i, ins) in insights.iter().enumerate() {
        if opens_unresolved(&ins.text) {
            f.unresolved += 1;
        }
        f.lengths.push(ins.text.split_whitespace().count());
        if insights[..i]
            .iter()
            .any(|p| similarity(&p.text, &ins.text) >= NEAR_DUPLICATE)
        {
            f.near_dups += 1;
        }
        if let Some((a, _)) = doc.find(&ins.quote, 0) {
            fifths.insert((a * 5 / total_words).min(4));
            positions.push(a);
        }
    }
    if let (Some(lo), Some(hi)) = (positions.iter().min(), positions.iter().max())
        && positions.len() >= 2
    {
        f.span = (hi - lo) as f64 / total_words as f64;
        f.spanned = 1;
    }
    f.fifths_covered = fifths.len();
    f.fifths_possible = insights.len().min(5);
    if let Some(l) = labels {
        against_labels(name, &doc, segments, insights, l, &mut f, report);
    }
    f
}

/// The labelled figures of one episode: insights inside its spans (each also listed in the
/// report), and recall of its takeaways beside the two baselines'.
fn against_labels(
    name: &str,
    doc: &Doc,
    segments: &[Segment],
    insights: &[NewInsight],
    l: &Labels,
    f: &mut Figures,
    report: &mut Report,
) {
    f.labelled = 1;
    f.labelled_insights = insights.len();
    let mut spans = Vec::new();
    for s in &l.span {
        let Some((a, _)) = doc.find(&s.from, 0) else {
            report.problems.push(format!(
                "{name}: {} span start {:?} not found",
                s.kind, s.from
            ));
            continue;
        };
        let Some((_, b)) = doc.find(&s.to, a) else {
            report
                .problems
                .push(format!("{name}: {} span end {:?} not found", s.kind, s.to));
            continue;
        };
        spans.push((s.kind.clone(), a, b));
    }
    for ins in insights {
        let Some((a, b)) = doc.find(&ins.quote, 0) else {
            continue;
        };
        if let Some((kind, _, _)) = spans.iter().find(|(_, sa, sb)| {
            let inside = b.min(*sb).saturating_sub(a.max(*sa));
            inside * 2 >= (b - a).max(1)
        }) {
            f.in_spans += 1;
            report
                .offending
                .push((name.to_string(), kind.clone(), ins.text.clone()));
        }
    }
    let (first, spread) = baselines(segments, insights.len().max(1));
    let texts: Vec<String> = insights.iter().map(|i| i.text.clone()).collect();
    f.recall = [
        recall(&l.takeaways, &texts),
        recall(&l.takeaways, &first),
        recall(&l.takeaways, &spread),
    ];
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            collect(&e, out)?;
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Every readable transcript under `dir`, in path order, as (file stem, path relative to `dir`,
/// episode). Notes such as README.md or SOURCES.md and labels files are left out, as are files
/// that are not transcripts.
pub fn transcripts(dir: &Path) -> anyhow::Result<Vec<(String, String, EpisodeText)>> {
    let mut files = Vec::new();
    collect(dir, &mut files).with_context(|| format!("listing {}", dir.display()))?;
    let mut out = Vec::new();
    for path in files {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if file_name.ends_with(".toml")
            || (stem.chars().any(char::is_alphabetic) && !stem.chars().any(char::is_lowercase))
        {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(t) = Transcript::parse(&bytes) else {
            continue;
        };
        let name = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        let episode = EpisodeText {
            podcast: String::new(),
            title: name.clone(),
            segments: t.segments,
            marks: Default::default(),
            notes: None,
        };
        out.push((stem, name, episode));
    }
    Ok(out)
}

/// Reads the labels files of a folder, by transcript stem.
pub fn load_labels(dir: &Path) -> anyhow::Result<HashMap<String, Labels>> {
    let mut out = HashMap::new();
    let mut files = Vec::new();
    collect(dir, &mut files).with_context(|| format!("listing {}", dir.display()))?;
    for f in files {
        let Some(name) = f
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".labels.toml"))
        else {
            continue;
        };
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        let labels: Labels =
            toml::from_str(&text).with_context(|| format!("parsing {}", f.display()))?;
        out.insert(name.to_string(), labels);
    }
    Ok(out)
}

/// Runs the engine over every transcript under `dir` (only the labelled ones if
/// `only_labelled`) and builds the report.
pub async fn run(
    dir: &Path,
    labels_dir: Option<&Path>,
    only_labelled: bool,
    engine: &dyn Extractor,
) -> anyhow::Result<Report> {
    let labels = match labels_dir {
        Some(d) => load_labels(d)?,
        None => HashMap::new(),
    };
    let mut report = Report::default();
    let mut used: HashSet<String> = HashSet::new();
    for (stem, name, episode) in transcripts(dir)? {
        let l = labels.get(&stem);
        if only_labelled && l.is_none() {
            continue;
        }
        let insights = engine
            .extract(&episode)
            .await
            .with_context(|| format!("extracting {name}"))?;
        if l.is_some() {
            used.insert(stem.clone());
        }
        let f = evaluate(&name, &episode.segments, &insights, l, &mut report);
        report.total.add(&f);
        report.episodes.push((name, f));
    }
    let mut unused: Vec<&String> = labels.keys().filter(|k| !used.contains(*k)).collect();
    unused.sort();
    for k in unused {
        report
            .problems
            .push(format!("{k}.labels.toml matches no transcript"));
    }
    Ok(report)
}

/// The extractive engine at `minutes_per_insight` (`--minutes-per-insight`), checked.
pub fn extractive_engine(minutes_per_insight: f64) -> anyhow::Result<ExtractiveEngine> {
    if !(0.5..=60.0).contains(&minutes_per_insight) {
        anyhow::bail!("--minutes-per-insight: {minutes_per_insight} is out of range 0.5..=60");
    }
    Ok(ExtractiveEngine {
        minutes_per_insight,
        ..Default::default()
    })
}

/// The command: prints the report of `engine`; with `strict`, fails when the quality gate does.
pub async fn main(
    dir: &Path,
    labels: Option<&Path>,
    only_labelled: bool,
    strict: bool,
    show: bool,
    engine: &dyn Extractor,
) -> anyhow::Result<()> {
    let report = run(dir, labels, only_labelled, engine).await?;
    if show {
        print!("{}", report.render_insights());
    }
    print!("{}", report.render());
    print!("{}", report.render_flaws());
    if report.total.labelled > 0 {
        let [e, f, s] = report.mean_recall();
        println!(
            "recall of reference takeaways over {} labelled episodes: engine {e:.3}, first-N {f:.3}, spread-N {s:.3}",
            report.total.labelled
        );
    }
    if strict {
        report
            .gate()
            .map_err(|e| anyhow::anyhow!("quality gate failed: {e}"))?;
        println!("quality gate passed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_is_best_overlap_per_takeaway() {
        let t = vec!["Heat pumps work in cold climates".to_string()];
        let p = vec![
            "Sourdough needs time".to_string(),
            "Modern heat pumps work well even in cold climates".to_string(),
        ];
        assert!((recall(&t, &p) - 1.0).abs() < 1e-9);
        assert_eq!(recall(&t, &p[..1]), 0.0);
    }

    #[test]
    fn spans_catch_insights_inside_them() {
        let seg = |t: &str| Segment {
            speaker: Some("A".into()),
            start_ms: None,
            end_ms: None,
            text: t.into(),
        };
        let segments = vec![
            seg(
                "This show is brought to you by Zorblax. Zorblax socks are warm and cost 20 percent less with code TIDE.",
            ),
            seg(
                "Tidal turbines in Orkney produce power twice a day because the tides are predictable.",
            ),
        ];
        let labels = Labels {
            takeaways: vec!["Orkney tidal turbines give predictable power".into()],
            span: vec![LabelSpan {
                kind: "sponsor".into(),
                from: "This show is brought".into(),
                to: "with code TIDE".into(),
            }],
        };
        let ins = |q: &str| NewInsight {
            text: q.into(),
            quote: q.into(),
            start_ms: None,
            end_ms: None,
            speaker: None,
            score: 0.5,
            topics: vec![],
            chapter: None,
            origin: crate::core::model::Origin::extractive(),
        };
        let mut r = Report::default();
        let f = evaluate(
            "ep",
            &segments,
            &[
                ins("Zorblax socks are warm and cost 20 percent less with code TIDE."),
                ins(
                    "Tidal turbines in Orkney produce power twice a day because the tides are predictable.",
                ),
            ],
            Some(&labels),
            &mut r,
        );
        assert_eq!(f.in_spans, 1);
        assert_eq!(r.offending.len(), 1);
        assert!(f.recall[0] > 0.7);
        let why = r.gate().unwrap_err();
        assert!(why.contains("1 insight(s) inside labelled"), "{why}");
    }
}
