//! Sentences of a transcript turn, with the time each one starts.
//!
//! Splitting copes with transcript quirks: abbreviations, decimals, missing punctuation in
//! machine transcripts (long runs are cut at clause words), and segments whose times must be
//! carried over to the sentences inside them.

use crate::ingest::transcript::Segment;

/// A speaker's uninterrupted turn, made of consecutive segments.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// Who speaks.
    pub speaker: Option<String>,
    /// The turn's text.
    pub text: String,
    /// Where each segment starts in `text` (byte offset), with its times.
    marks: Vec<(usize, Option<i64>, Option<i64>)>,
}

/// A sentence inside a turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Sentence {
    /// Index of the turn it belongs to.
    pub turn: usize,
    /// The sentence text, as said.
    pub text: String,
    /// Estimated start time.
    pub start_ms: Option<i64>,
    /// Estimated end time.
    pub end_ms: Option<i64>,
}

/// Merges consecutive segments of one speaker into turns.
pub fn turns(segments: &[Segment]) -> Vec<Turn> {
    let mut out: Vec<Turn> = Vec::new();
    for s in segments {
        let text = s.text.trim();
        if text.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(t) if t.speaker == s.speaker && s.speaker.is_some() => {
                t.text.push(' ');
                t.marks.push((t.text.len(), s.start_ms, s.end_ms));
                t.text.push_str(text);
            }
            _ => out.push(Turn {
                speaker: s.speaker.clone(),
                text: text.to_string(),
                marks: vec![(0, s.start_ms, s.end_ms)],
            }),
        }
    }
    out
}

impl Turn {
    /// The time at byte offset `pos`, interpolated inside its segment.
    fn time_at(&self, pos: usize) -> Option<i64> {
        let i = self.marks.iter().rposition(|m| m.0 <= pos)?;
        let (off, start, end) = self.marks[i];
        let start = start?;
        let seg_end_off = self
            .marks
            .get(i + 1)
            .map(|m| m.0)
            .unwrap_or(self.text.len());
        let end = end.or_else(|| self.marks.get(i + 1).and_then(|m| m.1));
        match end {
            Some(end) if end > start && seg_end_off > off => {
                let frac = (pos - off) as f64 / (seg_end_off - off) as f64;
                Some(start + ((end - start) as f64 * frac.clamp(0.0, 1.0)) as i64)
            }
            _ => Some(start),
        }
    }
}

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "u.s", "u.k", "inc", "jr",
    "sr", "no", "approx", "fig", "mt", "ft", "co", "ltd", "jan", "feb", "aug", "sept", "oct",
    "nov", "dec",
];

/// Longest run of words kept as one sentence when a transcript has no punctuation.
const MAX_WORDS: usize = 45;

/// Splits every turn into sentences.
pub fn sentences(turns: &[Turn]) -> Vec<Sentence> {
    let mut out = Vec::new();
    for (ti, turn) in turns.iter().enumerate() {
        for (a, b) in split_spans(&turn.text) {
            for (a, b) in cut_long(&turn.text, a, b) {
                let text = turn.text[a..b].trim();
                if text.is_empty() {
                    continue;
                }
                out.push(Sentence {
                    turn: ti,
                    text: text.to_string(),
                    start_ms: turn.time_at(a),
                    end_ms: turn.time_at(b.saturating_sub(1).max(a)),
                });
            }
        }
    }
    out
}

/// Byte spans of the sentences of `text`.
fn split_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if matches!(c, '.' | '!' | '?' | '…') {
            // Take closing quotes/brackets and repeated marks with the sentence.
            let mut j = i + 1;
            while j < chars.len()
                && matches!(
                    chars[j].1,
                    '.' | '!' | '?' | '"' | '\'' | '”' | '’' | ')' | ']'
                )
            {
                j += 1;
            }
            let end = chars.get(j).map(|x| x.0).unwrap_or(text.len());
            let next_is_space = chars.get(j).is_none_or(|x| x.1.is_whitespace());
            let mut k = j;
            while k < chars.len() && chars[k].1.is_whitespace() {
                k += 1;
            }
            let next_starts = chars.get(k).is_none_or(|x| {
                x.1.is_uppercase()
                    || x.1.is_ascii_digit()
                    || matches!(x.1, '"' | '“' | '\'' | '(' | '[')
            });
            let word_before: String = text[start..pos]
                .rsplit(char::is_whitespace)
                .next()
                .unwrap_or("")
                .trim_start_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase();
            let abbreviation = c == '.' && ABBREVIATIONS.contains(&word_before.as_str());
            if next_is_space && next_starts && !abbreviation {
                spans.push((start, end));
                start = chars.get(k).map(|x| x.0).unwrap_or(text.len());
                i = k;
                continue;
            }
        }
        i += 1;
    }
    if start < text.len() {
        spans.push((start, text.len()));
    }
    spans
}

/// Cuts a span of more than [`MAX_WORDS`] words at clause boundaries (a comma, or a word such as
/// "and" or "so"), for transcripts without punctuation.
fn cut_long(text: &str, a: usize, b: usize) -> Vec<(usize, usize)> {
    let words: Vec<(usize, &str)> = text[a..b]
        .split_whitespace()
        .map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
        .collect();
    if words.len() <= MAX_WORDS {
        return vec![(a, b)];
    }
    let mut out = Vec::new();
    let mut from = 0usize; // word index where the current piece starts
    let mut piece_start = a;
    for (i, (off, w)) in words.iter().enumerate() {
        let len = i - from;
        let clause = w.ends_with(',')
            || matches!(
                w.to_lowercase().as_str(),
                "and" | "so" | "but" | "because" | "which"
            );
        if (len >= 25 && clause) || len >= MAX_WORDS {
            let cut = if w.ends_with(',') {
                off + w.len()
            } else {
                *off
            };
            if cut > piece_start {
                out.push((piece_start, cut));
                piece_start = if w.ends_with(',') {
                    words.get(i + 1).map(|x| x.0).unwrap_or(b)
                } else {
                    *off
                };
                from = if w.ends_with(',') { i + 1 } else { i };
            }
        }
    }
    if piece_start < b {
        out.push((piece_start, b));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(speaker: &str, start: i64, end: i64, text: &str) -> Segment {
        Segment {
            speaker: Some(speaker.into()),
            start_ms: Some(start),
            end_ms: Some(end),
            text: text.into(),
        }
    }

    #[test]
    fn splits_sentences_not_abbreviations_or_decimals() {
        let t = turns(&[seg(
            "A",
            0,
            10_000,
            "Dr. Smith measured 3.5 volts. It was U.S. made! Was it? Yes.",
        )]);
        let s: Vec<String> = sentences(&t).into_iter().map(|s| s.text).collect();
        assert_eq!(
            s,
            [
                "Dr. Smith measured 3.5 volts.",
                "It was U.S. made!",
                "Was it?",
                "Yes."
            ]
        );
    }

    #[test]
    fn sentence_times_come_from_their_segment() {
        let t = turns(&[
            seg("A", 0, 5_000, "First part."),
            seg("A", 60_000, 65_000, "Second part here."),
        ]);
        let s = sentences(&t);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].start_ms, Some(60_000));
    }

    #[test]
    fn unpunctuated_runs_are_cut() {
        let long = (0..120)
            .map(|i| if i % 10 == 9 { "and" } else { "word" })
            .collect::<Vec<_>>()
            .join(" ");
        let t = turns(&[seg("A", 0, 60_000, &long)]);
        let s = sentences(&t);
        assert!(s.len() >= 3, "{}", s.len());
        assert!(
            s.iter()
                .all(|x| x.text.split_whitespace().count() <= MAX_WORDS)
        );
    }
}
