//! What a lookup asks for: plain words plus two optional filters read from the text,
//! `in:<podcast>` (a podcast title slug, e.g. `in:hard-fork`) and `since:<duration or date>`
//! (`since:7d`, `since:12h`, `since:2026-11-01`).
//!
//! Nothing else in the text is syntax: quotes, brackets, `AND`, `title:x`, `*` and `-` stay plain
//! characters and reach the analyser as words. A filter whose value does not parse (`since:soon`)
//! is kept as words too, so a lookup never fails on its text.

use chrono::{DateTime, NaiveDate, Utc};

/// A parsed lookup: the words to search for and the filters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LookupQuery {
    /// The words, exactly as typed minus the recognised filters.
    pub words: String,
    /// Podcast slugs (`in:`): results come from a podcast whose title slug is one of these, or
    /// starts with one of them.
    pub podcasts: Vec<String>,
    /// `since:`: only insights of episodes published at or after this instant.
    pub since: Option<DateTime<Utc>>,
}

impl LookupQuery {
    /// Reads `in:` and `since:` filters out of `text`; `now` anchors relative durations.
    pub fn parse(text: &str, now: DateTime<Utc>) -> LookupQuery {
        let mut words: Vec<&str> = Vec::new();
        let mut q = LookupQuery::default();
        for token in text.split_whitespace() {
            let lower = token.to_lowercase();
            if let Some(v) = lower.strip_prefix("in:") {
                let s = slug(v);
                if !s.is_empty() {
                    q.podcasts.push(s);
                    continue;
                }
            } else if let Some(v) = lower.strip_prefix("since:")
                && let Some(t) = parse_since(v, now)
            {
                q.since = Some(q.since.map_or(t, |old: DateTime<Utc>| old.max(t)));
                continue;
            }
            words.push(token);
        }
        q.words = words.join(" ");
        q
    }

    /// Whether the lookup has a filter.
    pub fn has_filters(&self) -> bool {
        !self.podcasts.is_empty() || self.since.is_some()
    }
}

/// A podcast title as a slug: lowercase letters and digits, words joined by `-`
/// ("Hard Fork" → `hard-fork`, "The AI Show!" → `the-ai-show`).
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else if c != '\'' && c != '’' {
            dash = true;
        }
    }
    out
}

/// `7d`, `12h`, `30m`, `2w` (ago) or a date `YYYY-MM-DD` (midnight UTC).
fn parse_since(v: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    let d = match v.strip_suffix('w') {
        Some(n) => n
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(7 * 86_400))
            .map(std::time::Duration::from_secs)?,
        None => crate::config::parse_duration(v)?,
    };
    if d.is_zero() {
        return None;
    }
    let d = chrono::Duration::from_std(d).ok()?;
    now.checked_sub_signed(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-27T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn filters_are_read_and_the_rest_stays_words() {
        let q = LookupQuery::parse("chips in:Hard-Fork since:7d export", now());
        assert_eq!(q.words, "chips export");
        assert_eq!(q.podcasts, ["hard-fork"]);
        assert_eq!(q.since, Some("2026-11-20T00:00:00Z".parse().unwrap()));
        let q = LookupQuery::parse("since:2026-11-01 tides", now());
        assert_eq!(q.since, Some("2026-11-01T00:00:00Z".parse().unwrap()));
        assert_eq!(q.words, "tides");
    }

    #[test]
    fn anything_else_is_plain_text() {
        for text in [
            "title:x AND (",
            "since:soon",
            "in:",
            "since:0d",
            "c++ \"foo",
            "🌊",
        ] {
            let q = LookupQuery::parse(text, now());
            assert!(!q.has_filters(), "{text}: {q:?}");
            assert_eq!(q.words, text);
        }
        assert_eq!(
            LookupQuery::parse("since:99999999999999d x", now()).words,
            "since:99999999999999d x"
        );
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Hard Fork"), "hard-fork");
        assert_eq!(slug("  The AI Show! "), "the-ai-show");
        assert_eq!(slug("Tom's Tides"), "toms-tides");
        assert_eq!(slug("🌊"), "");
    }
}
