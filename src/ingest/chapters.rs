//! Episode chapters and soundbites: the Podcasting 2.0 JSON chapters file (`podcast:chapters`),
//! Podlove Simple Chapters start times (`<psc:chapter start="00:01:02.500"/>`) and the numbers of
//! `podcast:soundbite`.
//!
//! Real files are lenient about types (`"startTime": "62.5"`, `"1:02"`), so each chapter is read
//! field by field: one without a usable start or title is skipped, never the whole file.

use crate::core::model::{Chapter, Soundbite};

/// Most chapters kept for one episode.
pub const MAX_CHAPTERS: usize = 500;
/// Most soundbites kept for one episode.
pub const MAX_SOUNDBITES: usize = 50;
/// Longest soundbite kept (ten minutes); longer marks are not soundbites.
const MAX_SOUNDBITE_MS: i64 = 600_000;
/// Times beyond this (about 11.5 days) are nonsense.
const MAX_MS: i64 = 1_000_000_000;

/// Why a chapters file could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ChaptersError {
    /// The bytes are not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but without a `chapters` list.
    #[error("no \"chapters\" list in the JSON")]
    NoList,
}

/// Reads a Podcasting 2.0 JSON chapters file (`{"version":"1.2.0","chapters":[…]}`, or a bare
/// list of chapters) into chapters in time order. Chapters marked `"toc": false`, or without a
/// start time or a title, are left out.
pub fn parse_json_chapters(bytes: &[u8]) -> Result<Vec<Chapter>, ChaptersError> {
    let text = String::from_utf8_lossy(bytes);
    let value: serde_json::Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| ChaptersError::NotJson(e.to_string()))?;
    let list = match &value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(o) => match o.get("chapters") {
            Some(serde_json::Value::Array(a)) => a,
            _ => return Err(ChaptersError::NoList),
        },
        _ => return Err(ChaptersError::NoList),
    };
    let chapters = list
        .iter()
        .filter_map(|c| {
            let c = c.as_object()?;
            if c.get("toc").and_then(serde_json::Value::as_bool) == Some(false) {
                return None;
            }
            let start_ms = c.get("startTime").and_then(seconds_value)?;
            let title = clean_title(c.get("title")?.as_str()?)?;
            Some(Chapter { start_ms, title })
        })
        .collect();
    Ok(tidy(chapters))
}

/// A JSON number of seconds, or a string holding seconds or a clock time.
fn seconds_value(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => seconds_to_ms(n.as_f64()?),
        serde_json::Value::String(s) => parse_npt(s),
        _ => None,
    }
}

/// Seconds (finite, not negative, not absurd) to milliseconds.
pub fn seconds_to_ms(s: f64) -> Option<i64> {
    (s.is_finite() && s >= 0.0 && s * 1000.0 < MAX_MS as f64).then(|| (s * 1000.0).round() as i64)
}

/// Parses a Normal Play Time as Podlove Simple Chapters writes it: `HH:MM:SS.mmm`, `MM:SS`,
/// `H:MM:SS` or plain seconds (`62.5`), into milliseconds.
pub fn parse_npt(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.contains(':') {
        return super::transcript::parse_clock(s).filter(|ms| *ms < MAX_MS);
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    seconds_to_ms(s.parse().ok()?)
}

/// A title as one line of safe text, bounded; `None` when empty.
fn clean_title(s: &str) -> Option<String> {
    let t = crate::core::sanitize::bounded_line(s, crate::core::sanitize::TITLE_CHARS);
    (!t.is_empty()).then_some(t)
}

/// Chapters in time order, one per start time, at most [`MAX_CHAPTERS`].
pub fn tidy(mut chapters: Vec<Chapter>) -> Vec<Chapter> {
    chapters.sort_by_key(|c| c.start_ms);
    chapters.dedup_by_key(|c| c.start_ms);
    chapters.truncate(MAX_CHAPTERS);
    chapters
}

/// A Podlove chapter from its `start` and `title` attributes.
pub fn podlove_chapter(start: Option<&str>, title: Option<&str>) -> Option<Chapter> {
    Some(Chapter {
        start_ms: parse_npt(start?)?,
        title: clean_title(title?)?,
    })
}

/// A soundbite from `startTime` and `duration` (seconds) and its text; `None` when the numbers are
/// unusable (missing, negative, zero or longer than ten minutes).
pub fn soundbite(start: Option<&str>, duration: Option<&str>, text: &str) -> Option<Soundbite> {
    let start_ms = seconds_to_ms(start?.trim().parse().ok()?)?;
    let duration_ms = seconds_to_ms(duration?.trim().parse().ok()?)?;
    if duration_ms == 0 || duration_ms > MAX_SOUNDBITE_MS {
        return None;
    }
    Some(Soundbite {
        start_ms,
        duration_ms,
        text: clean_title(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_chapters_tolerate_odd_fields() {
        let j = br#"{"version":"1.2.0","chapters":[
            {"startTime":0,"title":"Intro"},
            {"startTime":"62.5","title":"  Tidal   lagoons "},
            {"startTime":"2:05","title":"Costs","img":"x.jpg","endTime":200},
            {"startTime":300,"title":"Artwork only","toc":false},
            {"startTime":-4,"title":"Negative"},
            {"title":"No start"},
            {"startTime":400},
            {"startTime":500,"title":17},
            "not an object",
            {"startTime":62.5,"title":"Same start, dropped"}
        ]}"#;
        let c = parse_json_chapters(j).unwrap();
        let got: Vec<(i64, &str)> = c.iter().map(|c| (c.start_ms, c.title.as_str())).collect();
        assert_eq!(
            got,
            [(0, "Intro"), (62_500, "Tidal lagoons"), (125_000, "Costs")]
        );
    }

    #[test]
    fn broken_json_chapters_are_errors_not_panics() {
        assert!(matches!(
            parse_json_chapters(b"{\"chapters\": [ {"),
            Err(ChaptersError::NotJson(_))
        ));
        assert_eq!(
            parse_json_chapters(b"{\"version\":\"1.2.0\"}"),
            Err(ChaptersError::NoList)
        );
        assert_eq!(
            parse_json_chapters(b"{\"chapters\":{}}"),
            Err(ChaptersError::NoList)
        );
        assert_eq!(parse_json_chapters(b"42"), Err(ChaptersError::NoList));
        assert!(parse_json_chapters(b"\xff\xfe\x00garbage").is_err());
        assert_eq!(
            parse_json_chapters(br#"[{"startTime":1e300,"title":"far"}]"#),
            Ok(vec![])
        );
    }

    #[test]
    fn podlove_normal_play_time() {
        assert_eq!(parse_npt("00:01:02.500"), Some(62_500));
        assert_eq!(parse_npt("01:02"), Some(62_000));
        assert_eq!(parse_npt("1:02:03"), Some(3_723_000));
        assert_eq!(parse_npt("62.5"), Some(62_500));
        assert_eq!(parse_npt("62"), Some(62_000));
        assert_eq!(parse_npt(""), None);
        assert_eq!(parse_npt("-3"), None);
        assert_eq!(parse_npt("soon"), None);
        assert_eq!(parse_npt("1:99"), None);
        let c = podlove_chapter(Some("00:00:30"), Some("Waves")).unwrap();
        assert_eq!((c.start_ms, c.title.as_str()), (30_000, "Waves"));
        assert!(podlove_chapter(Some("x"), Some("Waves")).is_none());
        assert!(podlove_chapter(Some("1"), Some("  ")).is_none());
    }

    #[test]
    fn soundbites_need_usable_numbers() {
        let s = soundbite(Some("73.0"), Some("60"), " Why it matters ").unwrap();
        assert_eq!(
            (s.start_ms, s.duration_ms, s.text.as_deref()),
            (73_000, 60_000, Some("Why it matters"))
        );
        assert_eq!(soundbite(Some("5"), Some("10"), "").unwrap().text, None);
        assert!(soundbite(Some("5"), Some("0"), "").is_none());
        assert!(soundbite(Some("5"), Some("9000"), "").is_none());
        assert!(soundbite(None, Some("10"), "").is_none());
        assert!(soundbite(Some("NaN"), Some("10"), "").is_none());
        assert!(soundbite(Some("-1"), Some("10"), "").is_none());
    }
}
