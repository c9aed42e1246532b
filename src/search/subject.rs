//! What an episode is about, read from all its words.
//!
//! An insight is a few sentences; the episode it comes from is an hour of talk about a handful of
//! subjects. An episode's **subject** is the bag of its most frequent distinctive words (the
//! index's stems; stop words, generic words of speech and numbers left out) with their counts,
//! at most [`SUBJECT_TERMS`], computed once when the episode is read and stored with it
//! (`episodes.subject`, written as `stem:count` pairs). The index keeps every episode's subject
//! in memory ([`Subjects`]) and compares two episodes by the cosine of their TF-IDF vectors
//! (`1 + ln count` times the IDF over the episodes it knows). "More like this" uses it to tell an
//! insight of an episode about the same thing from one that shares a few words by chance: on the
//! judged related episodes, of each seed episode's three most similar episodes this way 0.72 are
//! judged related, against 0.31 when episodes are compared by their insights' words.

use std::collections::HashMap;
use std::sync::RwLock;

use super::related::is_generic;
use crate::extract::EpisodeText;

/// Words of an episode's subject at most (the most frequent).
pub const SUBJECT_TERMS: usize = 200;
/// Words counted in a subject (the sum of its counts) below which it is **thin**: too little talk
/// (a quarter-hour episode, show notes) for its counts to tell its subject from chance. On the
/// shared transcripts hour-long episodes count 1,100–2,600, ten-minute ones 390–955, and the
/// bundled samples' quarter-hour ones 520–610.
pub const FULL_TALK: u32 = 1_000;

/// An episode's subject as stored: its most frequent distinctive words with their counts,
/// `stem:count` separated by spaces, most frequent first (ties by stem). Empty when the episode
/// has no words.
pub fn of_episode(episode: &EpisodeText) -> String {
    let mut analyzer = super::analyzer();
    let mut counts: HashMap<String, u32> = HashMap::new();
    let texts = std::iter::once(episode.title.as_str())
        .chain(episode.segments.iter().map(|s| s.text.as_str()))
        .chain(
            episode
                .notes
                .as_deref()
                .filter(|_| episode.segments.is_empty()),
        );
    for text in texts {
        let mut stream = analyzer.token_stream(text);
        while let Some(t) = stream.next() {
            if t.text.len() > 2 && !is_generic(&t.text) {
                *counts.entry(t.text.clone()).or_default() += 1;
            }
        }
    }
    let mut terms: Vec<(String, u32)> = counts.into_iter().collect();
    terms.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    terms.truncate(SUBJECT_TERMS);
    let mut out = String::new();
    for (t, n) in terms {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&t);
        out.push(':');
        out.push_str(&n.to_string());
    }
    out
}

/// Every known episode's subject, for comparing episodes.
#[derive(Debug, Default)]
pub struct Subjects {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Term ids.
    ids: HashMap<Box<str>, u32>,
    /// By term id: the episodes whose subject holds it.
    df: Vec<u32>,
    /// By episode: its subject.
    episodes: HashMap<i64, Entry>,
}

/// One episode's subject.
#[derive(Debug)]
struct Entry {
    /// (term id, count), sorted by term id.
    terms: Box<[(u32, u32)]>,
    /// Whether it is not thin (see [`FULL_TALK`]).
    full: bool,
}

impl Inner {
    fn forget(&mut self, episode: i64) {
        if let Some(old) = self.episodes.remove(&episode) {
            for (t, _) in old.terms.iter() {
                self.df[*t as usize] -= 1;
            }
        }
    }

    /// A vector's TF-IDF weights (same order) and their norm.
    fn weighted(&self, v: &[(u32, u32)]) -> (Vec<f32>, f32) {
        let n = self.episodes.len() as f32;
        let w: Vec<f32> = v
            .iter()
            .map(|(t, count)| {
                let tf = 1.0 + (*count as f32).ln();
                tf * (n / self.df[*t as usize].max(1) as f32).ln().max(0.0)
            })
            .collect();
        let norm = w.iter().map(|x| x * x).sum::<f32>().sqrt();
        (w, norm)
    }
}

impl Subjects {
    /// Sets an episode's subject from its stored form (replacing any it had; an empty one
    /// forgets it). Malformed pairs are skipped.
    pub fn set(&self, episode: i64, stored: &str) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.forget(episode);
        let mut v: Vec<(u32, u32)> = Vec::new();
        for pair in stored.split_whitespace() {
            let Some((term, count)) = pair.rsplit_once(':') else {
                continue;
            };
            let Ok(count) = count.parse::<u32>() else {
                continue;
            };
            if term.is_empty() || count == 0 {
                continue;
            }
            let id = match inner.ids.get(term) {
                Some(id) => *id,
                None => {
                    let id = inner.ids.len() as u32;
                    inner.ids.insert(term.into(), id);
                    inner.df.push(0);
                    id
                }
            };
            v.push((id, count));
        }
        v.sort_by_key(|(t, _)| *t);
        v.dedup_by_key(|(t, _)| *t);
        if v.is_empty() {
            return;
        }
        for (t, _) in &v {
            inner.df[*t as usize] += 1;
        }
        let talk = v.iter().fold(0u32, |sum, (_, c)| sum.saturating_add(*c));
        let entry = Entry {
            terms: v.into_boxed_slice(),
            full: talk >= FULL_TALK,
        };
        inner.episodes.insert(episode, entry);
    }

    /// Episodes with a subject.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .episodes
            .len()
    }

    /// Whether no episode has a subject.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `episode` has a subject.
    pub fn has(&self, episode: i64) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .episodes
            .contains_key(&episode)
    }

    /// The cosine similarity (0..=1) of `episode`'s subject with each of `others` that has one,
    /// and whether neither of the two is thin; empty when `episode` has none.
    pub fn similarity(&self, episode: i64, others: &[i64]) -> HashMap<i64, (f32, bool)> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let Some(ea) = inner.episodes.get(&episode) else {
            return HashMap::new();
        };
        let a = &ea.terms;
        let (wa, na) = inner.weighted(a);
        let mut out = HashMap::with_capacity(others.len());
        for o in others {
            let Some(eb) = inner.episodes.get(o) else {
                continue;
            };
            let b = &eb.terms;
            let (wb, nb) = inner.weighted(b);
            let (mut i, mut j, mut dot) = (0, 0, 0.0f32);
            while i < a.len() && j < b.len() {
                match a[i].0.cmp(&b[j].0) {
                    std::cmp::Ordering::Less => i += 1,
                    std::cmp::Ordering::Greater => j += 1,
                    std::cmp::Ordering::Equal => {
                        dot += wa[i] * wb[j];
                        i += 1;
                        j += 1;
                    }
                }
            }
            let cos = if na > 0.0 && nb > 0.0 {
                (dot / (na * nb)).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let full = ea.full && eb.full;
            out.insert(*o, (cos, full));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::transcript::Segment;

    fn episode(words: &str) -> EpisodeText {
        EpisodeText {
            podcast: String::new(),
            title: String::new(),
            segments: vec![Segment {
                speaker: None,
                start_ms: None,
                end_ms: None,
                text: words.into(),
            }],
            marks: Default::default(),
            notes: None,
        }
    }

    #[test]
    fn an_episode_subject_counts_its_distinctive_words_most_frequent_first() {
        let s = of_episode(&episode(
            "Espresso extraction: the espresso grind matters. Really, the grind, you know, 20 percent.",
        ));
        assert_eq!(s, "espresso:2 grind:2 extract:1 matter:1");
    }

    #[test]
    fn episodes_on_one_subject_are_more_similar_than_episodes_on_others() {
        let subjects = Subjects::default();
        subjects.set(1, "espresso:9 grind:5 roast:3 bean:4");
        subjects.set(2, "espresso:4 bean:6 roast:2 milk:3");
        subjects.set(3, "kafka:7 stream:5 broker:3 bean:1");
        subjects.set(4, "broken pair:x :3 solo:0");
        subjects.set(6, "huge:4294967295 huger:4294967295");
        assert!(subjects.has(6));
        subjects.set(6, "");
        let sim = subjects.similarity(1, &[2, 3, 4, 5]);
        assert!(sim[&2].0 > 0.2, "{sim:?}");
        assert!(sim[&3].0 < 0.05, "{sim:?}");
        assert!(!sim[&2].1, "a few dozen words are thin: {sim:?}");
        subjects.set(2, "espresso:800 bean:600 roast:200 milk:300");
        subjects.set(1, "espresso:900 grind:500 roast:300 bean:400");
        assert!(subjects.similarity(1, &[2])[&2].1);
        assert!(!sim.contains_key(&4) && !sim.contains_key(&5), "{sim:?}");
        assert!(subjects.similarity(5, &[1]).is_empty());
        subjects.set(2, "");
        assert_eq!(subjects.len(), 2);
        assert!(!subjects.has(2));
    }
}
