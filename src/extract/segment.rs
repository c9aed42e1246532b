//! An episode cut into its subjects, so its insights can cover each of them.
//!
//! Chapters, where the feed gives at least two, are the segments. Otherwise segments come from
//! lexical shifts (TextTiling, Hearst 1997): at each gap between sentences the content words of
//! a window before and a window after are compared (cosine of their counts); where similarity
//! dips deepest relative to the peaks on either side, the subject changed. Boundaries are taken
//! deepest first, no closer than a minimum length to each other, and a break (a `Break`
//! pseudo-speaker's turn) always ends a segment.

use std::collections::HashMap;

use super::marks;
use super::sentences::Sentence;
use crate::core::model::Chapter;

/// Words on each side of a gap that are compared.
const WINDOW_WORDS: usize = 180;
/// The shortest segment, in words (about four minutes of talk); a short episode's segments may
/// be shorter, down to [`MIN_SHORT_SEGMENT_WORDS`] (an eighth of the episode).
const MIN_SEGMENT_WORDS: usize = 600;
/// The shortest segment of a short episode, in words.
const MIN_SHORT_SEGMENT_WORDS: usize = 150;

/// Segments as half-open sentence ranges covering every sentence, in order.
pub fn segments(
    sents: &[Sentence],
    sent_words: &[Vec<String>],
    breaks: &[usize],
    chapters: &[Chapter],
) -> Vec<(usize, usize)> {
    let n = sents.len();
    if n == 0 {
        return Vec::new();
    }
    let chaptered = by_chapters(sents, chapters);
    if chaptered.len() >= 2 {
        return chaptered;
    }
    let lens: Vec<usize> = sents
        .iter()
        .map(|s| s.text.split_whitespace().count())
        .collect();
    let total: usize = lens.iter().sum();
    let min_words = (total / 8).clamp(MIN_SHORT_SEGMENT_WORDS, MIN_SEGMENT_WORDS);
    if total < 2 * min_words {
        return vec![(0, n)];
    }
    let scores = gap_scores(sent_words, &lens);
    let depth = depths(&scores);
    // Word offset of each sentence start, to keep boundaries apart.
    let mut offset = vec![0usize; n + 1];
    for i in 0..n {
        offset[i + 1] = offset[i] + lens[i];
    }
    let mut cuts: Vec<usize> = breaks
        .iter()
        .copied()
        .filter(|b| *b > 0 && *b < n)
        .collect();
    let mean = depth.iter().sum::<f64>() / depth.len().max(1) as f64;
    let sd =
        (depth.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / depth.len().max(1) as f64).sqrt();
    let mut order: Vec<usize> = (1..n).collect();
    order.sort_by(|a, b| depth[*b].total_cmp(&depth[*a]).then(a.cmp(b)));
    let max_cuts = total / min_words;
    for gap in order {
        if depth[gap] <= mean - sd / 2.0 || depth[gap] <= 0.0 || cuts.len() >= max_cuts {
            break;
        }
        let far = |c: &usize| offset[gap].abs_diff(offset[*c]) >= min_words;
        if far(&0) && offset[n] - offset[gap] >= min_words && cuts.iter().all(far) {
            cuts.push(gap);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for c in cuts {
        if c > start {
            out.push((start, c));
            start = c;
        }
    }
    out.push((start, n));
    out
}

/// Segments by chapter starts (sponsor chapters included; their sentences are labelled ads).
fn by_chapters(sents: &[Sentence], chapters: &[Chapter]) -> Vec<(usize, usize)> {
    if chapters.len() < 2 || sents.iter().all(|s| s.start_ms.is_none()) {
        return Vec::new();
    }
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut current: Option<i64> = None;
    for (i, s) in sents.iter().enumerate() {
        let ch = s
            .start_ms
            .and_then(|t| marks::chapter_at(chapters, t))
            .map(|c| c.start_ms);
        if ch.is_some() && ch != current {
            if let Some(last) = out.last_mut() {
                last.1 = i;
            }
            out.push((i, sents.len()));
            current = ch;
        }
    }
    match out.first_mut() {
        Some(first) => first.0 = 0,
        None => return Vec::new(),
    }
    out
}

/// Cosine similarity of the word counts before and after each gap (gap `g` sits before sentence
/// `g`; index 0 is unused).
fn gap_scores(sent_words: &[Vec<String>], lens: &[usize]) -> Vec<f64> {
    let n = sent_words.len();
    let mut scores = vec![0.0; n];
    for (g, score) in scores.iter_mut().enumerate().skip(1) {
        let mut left: HashMap<&str, f64> = HashMap::new();
        let mut words = 0;
        for i in (0..g).rev() {
            for w in &sent_words[i] {
                *left.entry(w).or_default() += 1.0;
            }
            words += lens[i];
            if words >= WINDOW_WORDS {
                break;
            }
        }
        let mut right: HashMap<&str, f64> = HashMap::new();
        words = 0;
        for i in g..n {
            for w in &sent_words[i] {
                *right.entry(w).or_default() += 1.0;
            }
            words += lens[i];
            if words >= WINDOW_WORDS {
                break;
            }
        }
        let dot: f64 = left
            .iter()
            .filter_map(|(w, a)| right.get(w).map(|b| a * b))
            .sum();
        let norm = |m: &HashMap<&str, f64>| m.values().map(|v| v * v).sum::<f64>().sqrt();
        let d = norm(&left) * norm(&right);
        *score = if d > 0.0 { dot / d } else { 0.0 };
    }
    // Smoothed over three gaps.
    let raw = scores.clone();
    for g in 1..n {
        let lo = g.saturating_sub(1).max(1);
        let hi = (g + 1).min(n - 1);
        scores[g] = raw[lo..=hi].iter().sum::<f64>() / (hi - lo + 1) as f64;
    }
    scores
}

/// TextTiling depth: how far each gap's similarity lies below the highest point reached by
/// climbing from it to either side.
fn depths(scores: &[f64]) -> Vec<f64> {
    let n = scores.len();
    let mut out = vec![0.0; n];
    for g in 1..n {
        let mut l = g;
        while l > 1 && scores[l - 1] >= scores[l] {
            l -= 1;
        }
        let mut r = g;
        while r + 1 < n && scores[r + 1] >= scores[r] {
            r += 1;
        }
        out[g] = (scores[l] - scores[g]) + (scores[r] - scores[g]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(text: &str) -> Sentence {
        Sentence {
            turn: 0,
            text: text.into(),
            start_ms: None,
            end_ms: None,
        }
    }

    #[test]
    fn a_change_of_subject_is_a_boundary() {
        let drones = "Drones deliver blood to hospitals and the drones fly fast over hills with blood packs for hospitals today.";
        let coffee = "Coffee extraction depends on grind size and water temperature so coffee brewing needs a fine grind and hot water.";
        let mut sents = Vec::new();
        for _ in 0..60 {
            sents.push(sentence(drones));
        }
        for _ in 0..60 {
            sents.push(sentence(coffee));
        }
        let words: Vec<Vec<String>> = sents
            .iter()
            .map(|s| crate::core::text::content_words(&s.text))
            .collect();
        let segs = segments(&sents, &words, &[], &[]);
        assert_eq!(segs.first().unwrap().0, 0);
        assert_eq!(segs.last().unwrap().1, 120);
        assert!(segs.iter().any(|s| s.0 == 60), "{segs:?}");
        // A break always ends a segment.
        let segs = segments(&sents, &words, &[30], &[]);
        assert!(segs.iter().any(|s| s.0 == 30), "{segs:?}");
    }
}
