//! `podbrief check-transcripts`: reads transcript files the way ingest does and reports, per
//! file, the format found, the segments, the words and the insights extracted. A file that
//! yields no text, or that makes the parser or the extractor panic, fails the check.

use std::path::{Path, PathBuf};

use crate::extract::{EpisodeText, ExtractiveEngine};
use crate::ingest::transcript::Transcript;

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

/// One file's result.
fn check_one(path: &Path, engine: &ExtractiveEngine) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let parsed = std::panic::catch_unwind(|| Transcript::parse(&bytes))
        .map_err(|_| "the parser panicked".to_string())?;
    let t = parsed.map_err(|e| e.to_string())?;
    let words: usize = t
        .segments
        .iter()
        .map(|s| s.text.split_whitespace().count())
        .sum();
    let timed = t.segments.iter().filter(|s| s.start_ms.is_some()).count();
    let episode = EpisodeText {
        podcast: String::new(),
        title: path.display().to_string(),
        segments: t.segments.clone(),
        marks: Default::default(),
        notes: None,
    };
    let insights = std::panic::catch_unwind(|| engine.extract_sync(&episode))
        .map_err(|_| "the extractor panicked".to_string())?;
    Ok(format!(
        "{:<8} {:>6} segments ({timed} timed) {:>7} words {:>3} insights",
        t.format.name(),
        t.segments.len(),
        words,
        insights.len()
    ))
}

/// Checks every file under `paths`; an error lists the files that failed.
pub fn check_transcripts(paths: &[PathBuf]) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files).map_err(|e| anyhow::anyhow!("cannot list {}: {e}", p.display()))?;
    }
    // Keep panic messages out of the report; the failure is reported per file below.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let engine = ExtractiveEngine::default();
    let mut failed = Vec::new();
    for f in &files {
        match check_one(f, &engine) {
            Ok(line) => println!("ok    {line}  {}", f.display()),
            Err(e) => {
                println!("FAIL  {}: {e}", f.display());
                failed.push(f.display().to_string());
            }
        }
    }
    std::panic::set_hook(hook);
    println!("{} files, {} failed", files.len(), failed.len());
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} transcript(s) failed: {}",
            failed.len(),
            failed.join(", ")
        )
    }
}

/// What podcastparser expects of an edge-case feed (its `NAME.json` beside `NAME.rss`).
/// Edge cases where podbrief reads a feed differently from podcastparser on purpose.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "no_title_multi_enclosure",
        "an untitled item with audio is still an episode",
    ),
    (
        "redirect_new_location",
        "an RSS 0.9x <redirect> with no channel is rejected as not a feed",
    ),
    (
        "max_episodes",
        "podcastparser's test caps this feed with a parser option; podbrief caps with ingest.backfill",
    ),
];

#[derive(serde::Deserialize)]
struct Expected {
    title: Option<String>,
    max_episodes: Option<usize>,
    #[serde(default)]
    episodes: Vec<ExpectedEpisode>,
}

#[derive(serde::Deserialize)]
struct ExpectedEpisode {
    #[serde(default)]
    enclosures: Vec<ExpectedEnclosure>,
}

#[derive(serde::Deserialize)]
struct ExpectedEnclosure {
    url: String,
}

/// How a parsed feed differs from podcastparser's expected output.
fn differences(parsed: &crate::ingest::feed::ParsedFeed, expected: Expected) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(t) = expected.title.filter(|t| !t.is_empty())
        && t.trim() != parsed.podcast.title
    {
        problems.push(format!("title {:?}, expected {t:?}", parsed.podcast.title));
    }
    let mut ours: Vec<&crate::core::model::NewEpisode> =
        parsed.episodes.iter().map(|(e, _)| e).collect();
    if let Some(max) = expected.max_episodes {
        ours.truncate(max);
    }
    if ours.len() != expected.episodes.len() {
        problems.push(format!(
            "{} episodes, expected {}",
            ours.len(),
            expected.episodes.len()
        ));
    }
    // Each of our audio URLs is one of that episode's expected enclosures (relative ones may
    // be resolved against a different base, so a suffix match counts).
    for e in &ours {
        let Some(audio) = &e.audio_url else { continue };
        let found = expected.episodes.iter().any(|x| {
            x.enclosures
                .iter()
                .any(|enc| enc.url == *audio || enc.url.ends_with(&format!("/{audio}")))
        });
        if !found {
            problems.push(format!("enclosure {audio} is not expected"));
        }
    }
    problems
}

/// One feed file's result: a summary, or why it does not match its expected output.
fn check_feed(path: &Path) -> Result<String, String> {
    use crate::ingest::feed::parse_feed;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let expected_path = path.with_extension("json");
    let parsed = match std::panic::catch_unwind(|| parse_feed(&bytes, &name)) {
        Err(_) => return Err("the feed parser panicked".into()),
        Ok(Err(e)) if expected_path.exists() => {
            return match KNOWN_DIFFERENCES.iter().find(|(n, _)| *n == name) {
                Some((_, reason)) => Ok(format!(
                    "rejected: {e} (differs from podcastparser by design: {reason})"
                )),
                None => Err(format!(
                    "rejected, but {} expects it read: {e}",
                    expected_path.display()
                )),
            };
        }
        Ok(Err(e)) => return Ok(format!("rejected: {e}")),
        Ok(Ok(p)) => p,
    };
    let summary = format!(
        "{:>4} episodes  {:?}",
        parsed.episodes.len(),
        parsed.podcast.title
    );
    let Ok(expected) = std::fs::read(&expected_path) else {
        return Ok(summary);
    };
    let expected: Expected = serde_json::from_slice(&expected)
        .map_err(|e| format!("{}: {e}", expected_path.display()))?;
    let problems = differences(&parsed, expected);
    if let Some(reason) = KNOWN_DIFFERENCES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| r)
        && !problems.is_empty()
    {
        return Ok(format!(
            "{summary}  differs from podcastparser by design: {reason}"
        ));
    }
    if problems.is_empty() {
        Ok(format!("{summary}  matches {}", expected_path.display()))
    } else {
        Err(problems.join("; "))
    }
}

/// Parses every feed file under `paths` (`.rss`, `.xml`, `.atom`); a feed with a podcastparser
/// `NAME.json` beside it must match its title, episode count and enclosure URLs. A feed may be
/// rejected with a clear error; a panic or a mismatch fails the check.
pub fn check_feeds(paths: &[PathBuf]) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files).map_err(|e| anyhow::anyhow!("cannot list {}: {e}", p.display()))?;
    }
    files.retain(|f| {
        matches!(
            f.extension().and_then(|e| e.to_str()),
            Some("rss" | "xml" | "atom")
        )
    });
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = Vec::new();
    for f in &files {
        match check_feed(f) {
            Ok(line) => println!("ok    {line}  {}", f.display()),
            Err(e) => {
                println!("FAIL  {}: {e}", f.display());
                failed.push(f.display().to_string());
            }
        }
    }
    std::panic::set_hook(hook);
    println!("{} feeds, {} failed", files.len(), failed.len());
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} feed(s) failed: {}", failed.len(), failed.join(", "))
    }
}
