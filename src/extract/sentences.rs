//! Sentences of a transcript turn, with the time each one starts.
//!
//! Splitting copes with transcript quirks: abbreviations, decimals, missing punctuation in
//! machine transcripts (long runs are cut at clause words), and segments whose times must be
//! carried over to the sentences inside them.

use std::collections::HashSet;

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
///
/// Segments without a speaker are merged too (word-level and cue-level transcripts split
/// sentences across segments). A speaker label inside a segment ("…right. Dan: So…") starts a
/// new turn when the name is a speaker of the episode. A short interjection ("Yeah.", "Right")
/// inside a sentence another speaker has not finished does not cut that speaker's turn.
pub fn turns(segments: &[Segment]) -> Vec<Turn> {
    let known: HashSet<&str> = segments
        .iter()
        .filter_map(|s| s.speaker.as_deref())
        .collect();
    let mut out: Vec<Turn> = Vec::new();
    for s in segments {
        for (speaker, text, start_ms) in split_inline_labels(s, &known) {
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            match out.last_mut() {
                Some(t) if t.speaker == speaker => {
                    t.text.push(' ');
                    t.marks.push((t.text.len(), start_ms, s.end_ms));
                    t.text.push_str(text);
                }
                _ => out.push(Turn {
                    speaker,
                    text: text.to_string(),
                    marks: vec![(0, start_ms, s.end_ms)],
                }),
            }
        }
    }
    merge_interjections(out)
}

/// Splits a segment at speaker labels of known speakers placed after a sentence's end.
fn split_inline_labels<'a>(
    s: &'a Segment,
    known: &HashSet<&str>,
) -> Vec<(Option<String>, &'a str, Option<i64>)> {
    let text = s.text.as_str();
    let mut out = Vec::new();
    let mut speaker = s.speaker.clone();
    let mut from = 0;
    if s.speaker.is_some() && text.contains(": ") {
        let mut search = 0;
        while let Some(rel) = text[search..].find(": ") {
            let colon = search + rel;
            search = colon + 2;
            // The label: up to four capitalised words right before the colon, after a sentence
            // end (or the segment's start).
            let before = &text[from..colon];
            let label_start = before
                .rfind(['.', '!', '?'])
                .map(|p| from + p + 1)
                .unwrap_or(from);
            let label = text[label_start..colon].trim();
            let n = label.split_whitespace().count();
            if (1..=4).contains(&n)
                && label
                    .split_whitespace()
                    .all(|w| w.chars().next().is_some_and(char::is_uppercase))
                && known.contains(label)
                && Some(label) != speaker.as_deref()
            {
                if label_start > from {
                    out.push((speaker.clone(), &text[from..label_start], s.start_ms));
                }
                speaker = Some(label.to_string());
                from = colon + 2;
            }
        }
    }
    let time = if out.is_empty() { s.start_ms } else { None };
    let time = time.or_else(|| {
        // A later piece starts partway through the segment.
        match (s.start_ms, s.end_ms) {
            (Some(a), Some(b)) if b > a && !text.is_empty() => {
                Some(a + ((b - a) as f64 * from as f64 / text.len() as f64) as i64)
            }
            (a, _) => a,
        }
    });
    out.push((speaker, &text[from..], time));
    out
}

/// Rejoins A's turn cut by B's short interjection while A's sentence was unfinished.
fn merge_interjections(turns: Vec<Turn>) -> Vec<Turn> {
    let mut out: Vec<Turn> = Vec::with_capacity(turns.len());
    let mut iter = turns.into_iter().peekable();
    let mut pending: Vec<Turn> = Vec::new();
    while let Some(t) = iter.next() {
        pending.clear();
        let unfinished = out
            .last()
            .is_some_and(|a| !a.text.trim_end().ends_with(['.', '!', '?', '"', '”', '…']));
        if unfinished
            && t.text.split_whitespace().count() <= 3
            && out
                .last()
                .is_some_and(|a| a.speaker != t.speaker && a.speaker.is_some())
            && iter
                .peek()
                .is_some_and(|n| Some(&n.speaker) == out.last().map(|a| &a.speaker))
        {
            // A … B: "Yeah." … A: continues. Keep B's words as their own turn after A's.
            if let (Some(next), Some(a)) = (iter.next(), out.last_mut()) {
                a.text.push(' ');
                let base = a.text.len();
                a.marks
                    .extend(next.marks.iter().map(|(o, s, e)| (o + base, *s, *e)));
                a.text.push_str(&next.text);
                pending.push(t);
            }
            out.append(&mut pending);
            // Keep the merged turn last so a further continuation can join it.
            let n = out.len();
            if n >= 2 {
                out.swap(n - 1, n - 2);
            }
            continue;
        }
        out.push(t);
    }
    out
}

impl Turn {
    /// When the turn starts, if timed.
    pub fn start_ms(&self) -> Option<i64> {
        self.marks.iter().find_map(|m| m.1)
    }

    /// Byte offsets of segments that start after a pause of at least [`PAUSE_MS`].
    fn pauses(&self) -> Vec<usize> {
        self.marks
            .windows(2)
            .filter_map(|w| match (w[0].2, w[1].1) {
                (Some(end), Some(start)) if start - end >= PAUSE_MS => Some(w[1].0),
                _ => None,
            })
            .collect()
    }

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
        // Pauses end sentences only where the speaker's words carry no punctuation (machine
        // transcripts); elsewhere a pause between cues is just breath.
        let marks = turn.text.matches(['.', '!', '?']).count();
        let nwords = turn.text.split_whitespace().count();
        let pauses = if marks * 60 < nwords {
            turn.pauses()
        } else {
            Vec::new()
        };
        for (a, b) in split_spans(&turn.text) {
            for (a, b) in cut_long(&turn.text, a, b, &pauses) {
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

/// A silence between two segments this long (ms) ends a sentence in unpunctuated text.
pub const PAUSE_MS: i64 = 600;

/// Cuts a span of more than [`MAX_WORDS`] words, for transcripts without punctuation: at a
/// pause between segments (word-level transcripts), else at clause boundaries (a comma, or a
/// word such as "and" or "so").
fn cut_long(text: &str, a: usize, b: usize, pauses: &[usize]) -> Vec<(usize, usize)> {
    let words: Vec<(usize, &str)> = text[a..b]
        .split_whitespace()
        .map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
        .collect();
    if words.len() <= MAX_WORDS && !pauses.iter().any(|p| *p > a && *p < b) {
        return vec![(a, b)];
    }
    let mut out = Vec::new();
    let mut from = 0usize; // word index where the current piece starts
    let mut piece_start = a;
    for (i, (off, w)) in words.iter().enumerate() {
        let len = i - from;
        if len >= 5 && pauses.binary_search(off).is_ok() && *off > piece_start {
            out.push((piece_start, *off));
            piece_start = *off;
            from = i;
            continue;
        }
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

#[cfg(test)]
mod pause_tests {
    use super::*;

    #[test]
    fn pauses_end_sentences_in_unpunctuated_word_level_text() {
        let mut segs = Vec::new();
        let mut t = 0;
        for (i, w) in "one two three four five six seven eight nine ten eleven twelve"
            .split(' ')
            .enumerate()
        {
            if i == 6 {
                t += 1_500;
            }
            segs.push(Segment {
                speaker: Some("A".into()),
                start_ms: Some(t),
                end_ms: Some(t + 300),
                text: w.into(),
            });
            t += 350;
        }
        let s = sentences(&turns(&segs));
        let texts: Vec<&str> = s.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "one two three four five six",
                "seven eight nine ten eleven twelve"
            ]
        );
        assert_eq!(s[1].start_ms, Some(6 * 350 + 1_500));
    }
}
