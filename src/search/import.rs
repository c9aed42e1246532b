//! `podbrief import FILE.jsonl`: insights produced elsewhere, one JSON object per line:
//!
//! ```json
//! {"text": "…", "quote": "…", "podcast": "Hard Fork", "episode": "Chips", "link": "https://…",
//!  "start": "12:34", "topics": ["chips"], "date": "2026-11-20", "speaker": "Kevin"}
//! ```
//!
//! `text`, `podcast` and `episode` are required. `start` is seconds or `MM:SS` / `HH:MM:SS`;
//! `date` (the episode's) is RFC 3339 or `YYYY-MM-DD`. Every line is validated on its own: a bad
//! line is reported with its number and skipped, the others are stored. Podcasts get the feed
//! URL `import:<slug>`, episodes the guid `import:<title>`, so importing a file again adds
//! nothing twice (an insight is stored once by its content hash).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::SearchIndex;
use super::lookup::slug;
use crate::core::model::{EpisodeId, InsightId, NewEpisode, NewInsight, PodcastId, PodcastMeta};
use crate::store::{Store, StoreError};

/// Longest accepted insight text, in characters.
pub const MAX_TEXT: usize = 10_000;
/// Valid lines stored per batch.
const BATCH: usize = 5_000;

/// A line that cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A failure that stops the import (the store or the index), not a bad line.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The store failed.
    #[error("storing imported insights: {0}")]
    Store(#[from] StoreError),
    /// The index failed.
    #[error("indexing imported insights: {0}")]
    Index(#[from] super::SearchError),
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Non-blank lines read.
    pub lines: usize,
    /// Insights stored (new).
    pub imported: usize,
    /// Valid lines whose insight was stored already.
    pub duplicates: usize,
    /// Bad lines, in order.
    pub errors: Vec<LineError>,
    /// The ids of the new insights, in file order.
    pub ids: Vec<InsightId>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    text: String,
    #[serde(default)]
    quote: Option<String>,
    podcast: String,
    episode: String,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    start: Option<serde_json::Value>,
    #[serde(default)]
    topics: Option<Vec<String>>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    speaker: Option<String>,
}

/// A validated line.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportLine {
    /// 1-based line number.
    pub line: usize,
    /// The podcast's title.
    pub podcast: String,
    /// The episode's title.
    pub episode: String,
    /// The episode's link.
    pub link: Option<String>,
    /// The episode's date.
    pub date: Option<DateTime<Utc>>,
    /// The insight.
    pub insight: NewInsight,
}

fn parse_start(v: &serde_json::Value) -> Result<i64, String> {
    let secs = match v {
        serde_json::Value::Number(n) => n.as_f64().ok_or("start is not a number")?,
        serde_json::Value::String(s) => {
            let parts: Vec<&str> = s.trim().split(':').collect();
            if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
                return Err(format!("start {s:?} is not seconds, MM:SS or HH:MM:SS"));
            }
            let mut total = 0f64;
            for (i, p) in parts.iter().enumerate() {
                let n: f64 = p
                    .parse()
                    .map_err(|_| format!("start {s:?} is not seconds, MM:SS or HH:MM:SS"))?;
                if i + 1 < parts.len() && (n.fract() != 0.0 || n < 0.0) {
                    return Err(format!("start {s:?} is not seconds, MM:SS or HH:MM:SS"));
                }
                total = total * 60.0 + n;
            }
            total
        }
        _ => return Err("start must be seconds (a number) or \"MM:SS\"".into()),
    };
    if !secs.is_finite() || !(0.0..=1.0e7).contains(&secs) {
        return Err(format!(
            "start {secs} is out of range (0 to 10,000,000 seconds)"
        ));
    }
    Ok((secs * 1000.0).round() as i64)
}

fn parse_date(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("date {s:?} is not RFC 3339 or YYYY-MM-DD"))
}

fn required(name: &str, v: &str, max: usize) -> Result<String, String> {
    let v = crate::core::sanitize::line(v);
    if v.is_empty() {
        return Err(format!("{name} is empty"));
    }
    if v.chars().count() > max {
        return Err(format!("{name} is longer than {max} characters"));
    }
    Ok(v)
}

/// Validates one line (1-based `line`). A blank line is `Ok(None)`.
pub fn parse_line(line: usize, text: &str) -> Result<Option<ImportLine>, LineError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let err = |message: String| LineError { line, message };
    let raw: Raw = serde_json::from_str(text).map_err(|e| {
        // serde_json's "at line 1 column N" is about the line itself; keep the column.
        let msg = e.to_string();
        err(msg.replace(" at line 1 column", " at column"))
    })?;
    let body = required("text", &raw.text, MAX_TEXT).map_err(err)?;
    let podcast = required("podcast", &raw.podcast, 300).map_err(err)?;
    let episode = required("episode", &raw.episode, 300).map_err(err)?;
    let quote = match raw.quote.as_deref().map(str::trim) {
        Some(q) if !q.is_empty() => required("quote", q, MAX_TEXT).map_err(err)?,
        _ => body.clone(),
    };
    let link = match raw.link.as_deref().map(str::trim) {
        Some(l) if !l.is_empty() => match url::Url::parse(l) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(l.to_string()),
            _ => return Err(err(format!("link {l:?} is not an http(s) URL"))),
        },
        _ => None,
    };
    let start_ms = raw
        .start
        .as_ref()
        .map(parse_start)
        .transpose()
        .map_err(err)?;
    let date = raw
        .date
        .as_deref()
        .map(parse_date)
        .transpose()
        .map_err(err)?;
    let mut topics = Vec::new();
    for t in raw.topics.unwrap_or_default() {
        let t = crate::core::text::normalize_topic(&t);
        if !t.is_empty() && !topics.contains(&t) {
            topics.push(t);
        }
    }
    if topics.len() > 20 {
        return Err(err("more than 20 topics".into()));
    }
    let speaker = raw
        .speaker
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    Ok(Some(ImportLine {
        line,
        podcast,
        episode,
        link,
        date,
        insight: NewInsight {
            text: body,
            quote,
            start_ms,
            end_ms: None,
            speaker,
            score: 0.5,
            topics,
            chapter: None,
            origin: crate::core::model::Origin::import(),
        },
    }))
}

/// Imports JSON lines: stores the valid ones and indexes them; reports the bad ones.
pub async fn import_jsonl(
    store: &dyn Store,
    index: &SearchIndex,
    text: &str,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    let mut podcasts: HashMap<String, PodcastId> = HashMap::new();
    let mut batch: Vec<ImportLine> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_line(i + 1, line) {
            Ok(None) => continue,
            Ok(Some(l)) => {
                report.lines += 1;
                batch.push(l);
            }
            Err(e) => {
                report.lines += 1;
                report.errors.push(e);
            }
        }
        if batch.len() >= BATCH {
            store_batch(store, index, &mut podcasts, &batch, now, &mut report).await?;
            batch.clear();
        }
    }
    store_batch(store, index, &mut podcasts, &batch, now, &mut report).await?;
    Ok(report)
}

async fn store_batch(
    store: &dyn Store,
    index: &SearchIndex,
    podcasts: &mut HashMap<String, PodcastId>,
    batch: &[ImportLine],
    now: DateTime<Utc>,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    // Episodes in order of first appearance, each with its insights.
    let mut order: Vec<(String, String)> = Vec::new();
    let mut groups: HashMap<(String, String), Vec<&ImportLine>> = HashMap::new();
    for l in batch {
        let key = (l.podcast.clone(), l.episode.clone());
        groups
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push(l);
    }
    let mut new_ids = Vec::new();
    for key in order {
        let lines = &groups[&key];
        let podcast = match podcasts.get(&key.0) {
            Some(id) => *id,
            None => {
                let meta = PodcastMeta {
                    title: key.0.clone(),
                    link: None,
                    image: None,
                };
                let id = store
                    .upsert_podcast(&format!("import:{}", slug(&key.0)), &meta, now)
                    .await?;
                podcasts.insert(key.0.clone(), id);
                id
            }
        };
        let first = lines[0];
        let ep = NewEpisode {
            guid: format!("import:{}", key.1),
            title: key.1.clone(),
            link: lines.iter().find_map(|l| l.link.clone()),
            audio_url: None,
            published_at: lines.iter().find_map(|l| l.date).or(first.date),
            duration_s: None,
            transcript_url: None,
            transcript_kind: None,
            show_notes: None,
        };
        let (episode, _): (EpisodeId, bool) = store.upsert_episode(podcast, &ep, now).await?;
        let mut insights: Vec<NewInsight> = lines.iter().map(|l| l.insight.clone()).collect();
        insights.iter_mut().for_each(crate::core::sanitize::insight);
        let ids = store.insert_insights(episode, &insights, now).await?;
        store.finish_episode(episode, None).await?;
        report.imported += ids.len();
        report.duplicates += insights.len() - ids.len().min(insights.len());
        new_ids.extend(ids);
    }
    for chunk in new_ids.chunks(1_000) {
        let views = store.insights(chunk).await?;
        index.add(&views)?;
    }
    report.ids.extend(new_ids);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_validated_and_errors_name_the_line() {
        let ok = parse_line(
            1,
            r#"{"text":"Chips matter.","podcast":"Hard Fork","episode":"E1","start":"01:02:03","topics":["Chips"],"date":"2026-11-01"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.insight.start_ms, Some(3_723_000));
        assert_eq!(ok.insight.topics, ["chip"]);
        assert_eq!(ok.insight.quote, "Chips matter.");
        assert_eq!(parse_line(2, "   ").unwrap(), None);
        for (text, want) in [
            ("{", "line 7: EOF while parsing"),
            (
                r#"{"podcast":"P","episode":"E"}"#,
                "line 7: missing field `text`",
            ),
            (
                r#"{"text":" ","podcast":"P","episode":"E"}"#,
                "line 7: text is empty",
            ),
            (
                r#"{"text":"t","podcast":"P","episode":"E","start":"1:xx"}"#,
                "line 7: start \"1:xx\" is not seconds",
            ),
            (
                r#"{"text":"t","podcast":"P","episode":"E","start":-4}"#,
                "line 7: start -4 is out of range",
            ),
            (
                r#"{"text":"t","podcast":"P","episode":"E","date":"yesterday"}"#,
                "line 7: date \"yesterday\" is not",
            ),
            (
                r#"{"text":"t","podcast":"P","episode":"E","link":"ftp://x"}"#,
                "line 7: link \"ftp://x\" is not an http(s) URL",
            ),
            (
                r#"{"text":"t","podcast":"P","episode":"E","colour":1}"#,
                "line 7: unknown field `colour`",
            ),
            ("[1,2]", "line 7: invalid type"),
        ] {
            let e = parse_line(7, text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{text}: {e}");
        }
        assert_eq!(
            parse_line(
                1,
                r#"{"text":"t","podcast":"P","episode":"E","start":75.5}"#
            )
            .unwrap()
            .unwrap()
            .insight
            .start_ms,
            Some(75_500)
        );
    }
}
