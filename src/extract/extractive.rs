//! The default engine: picks the passages of an episode worth repeating, as said, scores them,
//! and cleans them into readable text.
//!
//! 1. Turns and sentences (with times) from the transcript; the language is detected.
//! 2. The episode's structure (`structure`): sponsor reads, intros and outros are excluded, the
//!    questioners (hosts) found; subject segments (`segment`: chapters, else lexical shifts).
//! 3. Candidates are one to three consecutive sentences of one speaker, cleaned (`clean`): a
//!    candidate whose text still ends mid-thought, or shows any flaw a reader would notice
//!    (`flaws`), is not an insight.
//! 4. Each is scored on centrality (TF-IDF weight of its words in the episode), key-term coverage
//!    and claim cues (numbers, comparisons, causes, named things), and penalised for questions,
//!    set-ups, filler and openings that point at something unsaid ("That's why…", "He…"). A
//!    passage on a topic line of the show notes gains up to 15%; with chapters and soundbites, a
//!    passage gains for starting near its chapter's start and sharing its title, and for lying
//!    inside a soundbite.
//! 5. The episode yields about one insight per `minutes_per_insight` of talk (at most
//!    `max_per_episode`): the best passage of each segment first, then the second best of each,
//!    and so on, never overlapping or near-duplicate; the insights come out best first.
//!
//! Scores are absolute (claim cues weigh most), so a dull episode's best does not outrank a
//! strong episode's. Cue lists are English: another language is scored on centrality, numbers
//! and names alone, with its own stop words and stemmer.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;

use super::clean::{clean_checked, close_sentence, ends_mid_thought, strip_notes};
use super::flaws::flaws;
use super::language::Language;
use super::marks;
use super::segment;
use super::sentences::{Sentence, Turn, sentences, turns};
use super::structure::{self, Label, contains_any};
use super::{EpisodeText, ExtractError, Extractor};
use crate::core::model::NewInsight;
use crate::core::text::{NEAR_DUPLICATE, normalize_topic, similarity, words};

pub use super::structure::non_talk_sentences;

/// The extractive engine and its settings.
#[derive(Debug, Clone)]
pub struct ExtractiveEngine {
    /// Minutes of talk per insight: an episode yields about its talk's length divided by this.
    pub minutes_per_insight: f64,
    /// Insights kept per episode at most.
    pub max_per_episode: usize,
    /// Candidates scoring below this are never kept.
    pub min_score: f64,
}

impl Default for ExtractiveEngine {
    fn default() -> Self {
        ExtractiveEngine {
            minutes_per_insight: DEFAULT_MINUTES_PER_INSIGHT,
            max_per_episode: DEFAULT_MAX_PER_EPISODE,
            min_score: 0.12,
        }
    }
}

/// One insight per this many minutes of talk, by default.
pub const DEFAULT_MINUTES_PER_INSIGHT: f64 = 3.5;
/// At most this many insights per episode, by default.
pub const DEFAULT_MAX_PER_EPISODE: usize = 40;
/// A short episode still yields its best few (when they score well enough).
const MIN_PER_EPISODE: usize = 5;
/// Words a minute of speech, for transcripts without times.
const WORDS_PER_MINUTE: f64 = 150.0;

/// Host chatter: the conversation about itself, compliments and hand-overs.
const CHATTER: &[&str] = &[
    "great question",
    "good question",
    "that's a great point",
    "that's so cool",
    "that's awesome",
    "that's amazing",
    "that's fascinating",
    "i love that",
    "i love it",
    "tell us about",
    "tell us a little",
    "tell me about",
    "let's talk about",
    "let's move on",
    "before we get",
    "before we move",
    "we'll link",
    "show notes",
    "link to that",
    "in the chat",
    "thanks for sharing",
    "thank you for sharing",
    "i appreciate",
    "we appreciate",
    "as we were saying",
    "like i said",
    "as i said",
    "i was going to say",
    "i want to ask",
    "i wanted to ask",
    "can you talk",
    "could you talk",
    "walk us through",
    "take us through",
    "our guest",
    "my co-host",
    "you guys",
];
const UNRESOLVED_OPENERS: &[&str] = &[
    "that",
    "that's",
    "thats",
    "this",
    "these",
    "those",
    "it",
    "it's",
    "its",
    "he",
    "she",
    "they",
    "them",
    "his",
    "her",
    "their",
    "which",
    "so",
    "and",
    "but",
    "or",
    "because",
    "also",
    "yeah",
    "yes",
    "right",
    "exactly",
    "well",
    "oh",
    "no",
    "totally",
    "absolutely",
    "sure",
    "there",
    "theres",
    "then",
    "same",
    "both",
    "here",
    "heres",
    "two",
    "first",
    "second",
    "another",
    "other",
    "such",
    "plus",
    "firstly",
    "secondly",
    "thirdly",
    "finally",
    "lastly",
    "thus",
    "hence",
    "whereas",
    "meanwhile",
    "likewise",
    "otherwise",
    "anyway",
    "especially",
    "again",
    "even",
];
/// Openings that lean on what was said before ("For comparison, orange juice is…").
const UNRESOLVED_PHRASES: &[&str] = &[
    "for comparison",
    "by comparison",
    "in comparison",
    "in contrast",
    "on the other hand",
    "for example",
    "for instance",
    "in that case",
    "at that point",
    "after that",
    "on top of that",
    "that said",
    "in other words",
    "the other one",
    "the second one",
    "the first one",
    "on that note",
    "to your point",
    "like you said",
    "going back to",
    "part of it",
];
const FILLERS: &[&str] = &[
    "um",
    "uh",
    "erm",
    "uhm",
    "hmm",
    "mm",
    "ah",
    "like",
    "basically",
    "literally",
    "anyway",
];
const FILLER_PHRASES: &[&str] = &[
    "you know",
    "i mean",
    "kind of",
    "sort of",
    "i guess",
    "i don't know",
];
const NUMBER_WORDS: &[&str] = &[
    "percent", "million", "billion", "trillion", "thousand", "hundred", "dozen", "twice", "half",
    "double", "triple", "tenfold", "third", "quarter", "two", "three", "four", "five", "six",
    "seven", "eight", "nine", "ten", "twenty", "thirty", "forty", "fifty", "sixty", "seventy",
    "eighty", "ninety",
];
const COMPARISONS: &[&str] = &[
    "than", "more", "less", "fewer", "faster", "slower", "cheaper", "bigger", "smaller", "better",
    "worse", "most", "least", "higher", "lower", "largest", "biggest", "cheapest", "fastest",
    "compared",
];
const CAUSAL: &[&str] = &[
    "because",
    "so that",
    "which means",
    "that means",
    "due to",
    "leads to",
    "lead to",
    "results in",
    "causes",
    "therefore",
    "thanks to",
    "drives",
    "driven by",
    "the reason",
    "means that",
    "if you",
    "unless",
    "when you",
];
#[async_trait]
impl Extractor for ExtractiveEngine {
    fn name(&self) -> &'static str {
        "extractive"
    }

    async fn extract(&self, episode: &EpisodeText) -> Result<Vec<NewInsight>, ExtractError> {
        Ok(self.extract_sync(episode))
    }
}

struct Candidate {
    first: usize,
    last: usize,
    score: f64,
    /// What chapters, soundbites and show notes add, as a fraction of the score (also breaks
    /// ties).
    bonus: f64,
    /// The cleaned text.
    text: String,
}

/// What one episode's extraction works from.
struct Episode<'a> {
    turns: Vec<Turn>,
    sents: Vec<Sentence>,
    labels: Vec<Label>,
    lang: Language,
    sent_words: &'a [Vec<String>],
    weights: Weights<'a>,
}

/// Term weights over the episode's talk: TF-IDF with sentences as documents.
struct Weights<'a> {
    tf: HashMap<&'a str, f64>,
    df: HashMap<&'a str, f64>,
    n: f64,
}

impl<'a> Weights<'a> {
    fn new(sent_words: &'a [Vec<String>], labels: &[Label]) -> Weights<'a> {
        let mut tf: HashMap<&str, f64> = HashMap::new();
        let mut df: HashMap<&str, f64> = HashMap::new();
        let mut n = 0.0;
        for (ws, _) in sent_words
            .iter()
            .zip(labels)
            .filter(|(_, l)| **l == Label::Talk)
        {
            n += 1.0;
            let mut seen = HashSet::new();
            for w in ws {
                let w: &str = w;
                *tf.entry(w).or_default() += 1.0;
                if seen.insert(w) {
                    *df.entry(w).or_default() += 1.0;
                }
            }
        }
        Weights {
            tf,
            df,
            n: f64::max(n, 1.0),
        }
    }

    fn weight(&self, w: &str) -> f64 {
        let t = self.tf.get(w).copied().unwrap_or(0.0);
        let d = self.df.get(w).copied().unwrap_or(1.0);
        if t < 2.0 {
            0.0
        } else {
            (1.0 + t).ln() * (1.0 + self.n / d).ln()
        }
    }

    /// The dozen heaviest words of the episode.
    fn top_terms(&self) -> HashSet<&'a str> {
        let mut key: Vec<(&str, f64)> = self
            .tf
            .keys()
            .map(|w| (*w, self.weight(w)))
            .filter(|(_, s)| *s > 0.0)
            .collect();
        key.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        key.into_iter().take(12).map(|(w, _)| w).collect()
    }
}

impl ExtractiveEngine {
    /// The `k` best passages as this engine picks them (the best of each subject segment first,
    /// nothing from sponsor reads, intros or outros), whatever the episode's length: the first
    /// stage of the LLM engine's two-stage mode.
    pub fn top_passages(&self, episode: &EpisodeText, k: usize) -> Vec<NewInsight> {
        ExtractiveEngine {
            minutes_per_insight: 0.1,
            max_per_episode: k.max(1),
            ..self.clone()
        }
        .extract_sync(episode)
    }

    /// Extraction without the async wrapper (it does no I/O).
    pub fn extract_sync(&self, episode: &EpisodeText) -> Vec<NewInsight> {
        let turns = turns(&episode.segments);
        let sents = sentences(&turns);
        if sents.is_empty() {
            return Vec::new();
        }
        let lang = Language::detect(&episode_sample(&sents));
        let mut labels = structure::label(&turns, &sents, &lang);
        structure::label_sponsor_chapters(&mut labels, &sents, &episode.marks.chapters);
        let sent_words = lang.content_words_each(sents.iter().map(|s| s.text.as_str()));
        let breaks: Vec<usize> = (1..sents.len())
            .filter(|i| {
                turns[sents[*i].turn]
                    .speaker
                    .as_deref()
                    .is_some_and(structure::is_break_label)
            })
            .collect();
        let segs = segment::segments(&sents, &sent_words, &breaks, &episode.marks.chapters);
        structure::label_edge_segments(&mut labels, &sents, &segs, &lang);
        let weights = Weights::new(&sent_words, &labels);
        let ep = Episode {
            turns,
            sents,
            labels,
            lang,
            sent_words: &sent_words,
            weights,
        };
        let target = self.target(&ep);
        let cands = self.candidates(&ep, episode);
        let picked = pick(cands, &segs, target, self.min_score);
        let phrases = key_phrases(&ep.sents, &ep.labels, &ep.lang);
        picked
            .into_iter()
            .map(|c| {
                let quote = quote_of(&ep.sents, c.first, c.last);
                let turn = &ep.turns[ep.sents[c.first].turn];
                NewInsight {
                    topics: topics(&quote, &ep.lang, &|w| ep.weights.weight(w), &phrases),
                    text: c.text,
                    quote,
                    start_ms: ep.sents[c.first].start_ms,
                    end_ms: ep.sents[c.last].end_ms,
                    speaker: turn.speaker.clone(),
                    score: (c.score * 1000.0).round() / 1000.0,
                    chapter: ep.sents[c.first]
                        .start_ms
                        .and_then(|t| marks::chapter_at(&episode.marks.chapters, t))
                        .map(|ch| ch.title.clone()),
                    origin: crate::core::model::Origin::extractive(),
                }
            })
            .collect()
    }

    /// How many insights the episode's talk calls for.
    fn target(&self, ep: &Episode) -> usize {
        let talk_words: usize = ep
            .sents
            .iter()
            .zip(&ep.labels)
            .filter(|(_, l)| **l == Label::Talk)
            .map(|(s, _)| s.text.split_whitespace().count())
            .sum();
        let minutes = talk_words as f64 / WORDS_PER_MINUTE;
        let n = (minutes / self.minutes_per_insight.max(0.1)).round() as usize;
        n.max(MIN_PER_EPISODE).min(self.max_per_episode.max(1))
    }

    /// Every passage that could be an insight, scored.
    fn candidates(&self, ep: &Episode, episode: &EpisodeText) -> Vec<Candidate> {
        let cx = Context::new(ep, episode);
        let mut cands: Vec<Candidate> = Vec::new();
        let mut central_raw = Vec::new();
        let sents = &ep.sents;
        for first in 0..sents.len() {
            for len in 1..=3 {
                let last = first + len - 1;
                if last >= sents.len()
                    || sents[last].turn != sents[first].turn
                    || (first..=last).any(|i| ep.labels[i] != Label::Talk)
                {
                    break;
                }
                if let Some((cand, central)) = passage(ep, &cx, first, last) {
                    cands.push(cand);
                    central_raw.push(central);
                }
            }
        }
        let max_central = central_raw.iter().copied().fold(0.0, f64::max);
        for (c, central) in cands.iter_mut().zip(central_raw) {
            let rel = if max_central > 0.0 {
                central / max_central
            } else {
                0.0
            };
            // Centrality is relative to the episode, so it weighs less than the absolute cues.
            c.score += 0.5 * rel * (c.score / 0.7).clamp(0.6, 1.0);
            c.score = (c.score * (1.0 + c.bonus)).clamp(0.0, 1.0);
        }
        cands
    }
}

/// What scoring a passage needs from the whole episode, worked out once.
struct Context<'a> {
    chapters: &'a [crate::core::model::Chapter],
    soundbites: &'a [crate::core::model::Soundbite],
    /// The show notes' topic lines, as sets of content words.
    notes: Vec<HashSet<String>>,
    /// Speakers who mostly ask.
    askers: HashSet<String>,
    /// First names of the speakers.
    names: HashSet<String>,
    top_terms: HashSet<&'a str>,
}

impl<'a> Context<'a> {
    fn new(ep: &'a Episode, episode: &'a EpisodeText) -> Context<'a> {
        Context {
            chapters: &episode.marks.chapters,
            soundbites: &episode.marks.soundbites,
            notes: episode
                .notes
                .as_deref()
                .map(|n| structure::notes_topics(n, &ep.lang))
                .unwrap_or_default(),
            askers: structure::questioners(&ep.turns, &ep.sents),
            names: ep
                .turns
                .iter()
                .filter_map(|t| t.speaker.as_deref())
                .filter_map(|s| s.split_whitespace().next())
                .filter(|n| n.chars().count() > 2)
                .map(str::to_string)
                .collect(),
            top_terms: ep.weights.top_terms(),
        }
    }
}

/// The passage of sentences `first..=last` as a candidate with its absolute score, and its raw
/// centrality (made relative to the episode's best by the caller); `None` when its cleaned text
/// is no insight (too short or long, ending mid-thought, any flaw).
fn passage(ep: &Episode, cx: &Context, first: usize, last: usize) -> Option<(Candidate, f64)> {
    let sents = &ep.sents;
    let quote = quote_of(sents, first, last);
    let (cleaned, doubtful) = clean_checked(&quote);
    if ends_mid_thought(&cleaned) {
        return None;
    }
    let text = close_sentence(&cleaned);
    let nwords = text.split_whitespace().count();
    if !(12..=90).contains(&nwords) || !flaws(&text).is_empty() {
        return None;
    }
    let terms: HashSet<&str> = (first..=last)
        .flat_map(|i| ep.sent_words[i].iter().map(String::as_str))
        .collect();
    let central = terms.iter().map(|w| ep.weights.weight(w)).sum::<f64>() / (nwords as f64).sqrt();
    let coverage =
        (terms.iter().filter(|w| cx.top_terms.contains(*w)).count() as f64 / 3.0).min(1.0);
    let claim = if ep.lang.is_english() {
        claims(&text, &text.to_lowercase())
    } else {
        claims_without_words(&text)
    };
    let len = last - first + 1;
    let mut penalty = if ep.lang.is_english() {
        penalties(&text, &quote, nwords, len)
    } else {
        1.0 - 0.06 * (len - 1) as f64
    };
    if doubtful {
        penalty *= 0.3;
    }
    if addresses(&text, &cx.names) {
        // Talk to the other speaker ("Adam, I'm so excited…"), not about the subject.
        penalty *= 0.4;
    }
    let turn = &ep.turns[sents[first].turn];
    if turn.speaker.as_ref().is_some_and(|s| cx.askers.contains(s)) {
        // A questioner's passage; one in a turn that ends by asking is a set-up.
        let asks = turn.text.trim_end().ends_with('?');
        penalty *= if asks { 0.35 } else { 0.75 };
    }
    let mut bonus = match sents[first].start_ms {
        Some(start) if !cx.chapters.is_empty() || !cx.soundbites.is_empty() => {
            marks::boost(cx.chapters, cx.soundbites, start, sents[last].end_ms, &text)
        }
        _ => 0.0,
    };
    if cx.notes.iter().any(|topic| {
        let shared = terms.iter().filter(|w| topic.contains(**w)).count();
        shared >= 2 && shared * 2 >= topic.len()
    }) {
        bonus += 0.15;
    }
    let score = (0.2 * coverage + 0.5 * claim) * penalty;
    Some((
        Candidate {
            first,
            last,
            score,
            bonus,
            text,
        },
        central,
    ))
}

/// Whether the text addresses one of the episode's speakers by name ("Adam, …", "…, Dan.").
fn addresses(text: &str, names: &HashSet<String>) -> bool {
    let toks: Vec<&str> = text.split_whitespace().collect();
    toks.iter().enumerate().any(|(i, t)| {
        let Some(name) = t.strip_suffix([',', '.', '!']) else {
            return false;
        };
        names.contains(name)
            && (i == 0 || toks[i - 1].ends_with([',', '.', '!', '?']) || t.ends_with(['.', '!']))
    })
}

/// The words of sentences `first..=last`, as said.
fn quote_of(sents: &[Sentence], first: usize, last: usize) -> String {
    sents[first..=last]
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A sample of the episode's words for language detection.
fn episode_sample(sents: &[Sentence]) -> String {
    let mut out = String::new();
    for s in sents.iter().skip(sents.len() / 4) {
        out.push_str(&s.text);
        out.push(' ');
        if out.len() > 8_000 {
            break;
        }
    }
    out
}

/// Picks up to `target` candidates: the best of each segment first, then the second best of
/// each, and so on (segments whose best is strongest go first in each round), skipping any that
/// overlap or nearly repeat one already picked. Best first.
fn pick(
    mut cands: Vec<Candidate>,
    segs: &[(usize, usize)],
    target: usize,
    min_score: f64,
) -> Vec<Candidate> {
    cands.retain(|c| c.score >= min_score);
    cands.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.bonus.total_cmp(&a.bonus))
            .then(a.first.cmp(&b.first))
    });
    let seg_of = |c: &Candidate| segs.iter().position(|s| c.first < s.1).unwrap_or(0);
    let mut queues: Vec<Vec<Candidate>> = (0..segs.len().max(1)).map(|_| Vec::new()).collect();
    for c in cands {
        let s = seg_of(&c);
        queues[s].push(c);
    }
    // Each queue is best first; reversed so the best pops first.
    for q in &mut queues {
        q.reverse();
    }
    let mut picked: Vec<Candidate> = Vec::new();
    loop {
        let mut order: Vec<usize> = (0..queues.len())
            .filter(|i| !queues[*i].is_empty())
            .collect();
        if order.is_empty() || picked.len() >= target {
            break;
        }
        order.sort_by(|a, b| {
            let best = |i: &usize| queues[*i].last().map_or(0.0, |c| c.score);
            best(b).total_cmp(&best(a)).then(a.cmp(b))
        });
        for s in order {
            while let Some(c) = queues[s].pop() {
                let clashes = picked.iter().any(|p| {
                    (c.first <= p.last && p.first <= c.last)
                        || similarity(&p.text, &c.text) >= NEAR_DUPLICATE
                });
                if !clashes {
                    picked.push(c);
                    break;
                }
            }
            if picked.len() >= target {
                break;
            }
        }
    }
    picked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.bonus.total_cmp(&a.bonus))
            .then(a.first.cmp(&b.first))
    });
    picked
}

/// The cues that need no word lists (for languages without them): numbers and names.
fn claims_without_words(text: &str) -> f64 {
    let has_digit = text.chars().any(|c| c.is_ascii_digit());
    let named = text
        .split_whitespace()
        .skip(1)
        .filter(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric());
            w.len() > 1 && w.chars().next().is_some_and(char::is_uppercase)
        })
        .count();
    (if has_digit { 0.4 } else { 0.0 } + 0.07 * named.min(3) as f64 + 0.2).min(1.0)
}

/// Claim and evidence cues, in 0..1.
fn claims(text: &str, lower: &str) -> f64 {
    let ws: Vec<String> = words(lower).collect();
    let has_digit = text.chars().any(|c| c.is_ascii_digit());
    let number = has_digit || ws.iter().any(|w| NUMBER_WORDS.contains(&w.as_str()));
    let comparison = ws.iter().any(|w| COMPARISONS.contains(&w.as_str()));
    let causal = contains_any(lower, CAUSAL);
    let named = text
        .split_whitespace()
        .skip(1)
        .filter(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric());
            w.len() > 1
                && w.chars().next().is_some_and(char::is_uppercase)
                && w != "I"
                && !w.starts_with("I'")
        })
        .count();
    let mut s = 0.0;
    if number {
        s += if has_digit { 0.4 } else { 0.25 };
    }
    if comparison {
        s += 0.2;
    }
    if causal {
        s += 0.2;
    }
    s += 0.07 * named.min(3) as f64;
    let s: f64 = s;
    s.min(1.0)
}

/// Whether `text` opens with a word that points at something said before it ("That's why…",
/// "He…", "And…"), after any disfluency.
pub fn opens_unresolved(text: &str) -> bool {
    let text = strip_notes(text);
    let lower = text.to_lowercase();
    if UNRESOLVED_PHRASES.iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    let Some(first) = text.split_whitespace().find(|t| {
        let b = t
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        !b.is_empty() && !super::clean::DISFLUENCIES.contains(&b.as_str())
    }) else {
        return false;
    };
    let opener = words(first).next().unwrap_or_default();
    let raw = first.to_lowercase();
    let raw = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’');
    UNRESOLVED_OPENERS.contains(&opener.as_str()) || UNRESOLVED_OPENERS.contains(&raw)
}

/// Multiplicative penalties for what makes a passage a poor insight: `text` is the cleaned
/// passage, `quote` the words as said.
fn penalties(text: &str, quote: &str, nwords: usize, nsent: usize) -> f64 {
    let mut p = 1.0;
    if text.contains('?') {
        p *= 0.4;
    }
    if opens_unresolved(text) {
        p *= 0.3;
    }
    // A rambling passage: fillers as said, even though the text drops them.
    let raw = quote.to_lowercase();
    let fillers = words(&raw)
        .filter(|w| FILLERS.contains(&w.as_str()))
        .count()
        + FILLER_PHRASES
            .iter()
            .map(|f| raw.matches(f).count())
            .sum::<usize>();
    let density = fillers as f64 / nwords.max(1) as f64;
    p *= 1.0 - (density * 3.0).min(0.6);
    if nwords < 15 {
        p *= 0.5;
    } else if nwords > 80 {
        p *= 0.85;
    }
    p *= 1.0 - 0.06 * (nsent.saturating_sub(1)) as f64;
    // Host chatter: compliments, hand-overs, questions to the guest.
    let lower = text.to_lowercase();
    let chatter = CHATTER.iter().filter(|c| lower.contains(*c)).count();
    if chatter > 0 {
        p *= if chatter > 1 { 0.25 } else { 0.45 };
    }
    // A passage starting mid-sentence (lowercase as said: the speaker was interrupted).
    let first_char = strip_notes(quote).chars().find(|c| c.is_alphanumeric());
    if quote.contains(['.', '!', '?', ',']) && first_char.is_some_and(char::is_lowercase) {
        p *= 0.5;
    }
    p
}

/// Words that make poor topics on their own: numbers, units and vague quantities.
const NOT_TOPICS: &[&str] = &[
    "percent",
    "per",
    "roughly",
    "around",
    "about",
    "degree",
    "gram",
    "hour",
    "minute",
    "second",
    "dollar",
    "pound",
    "euro",
    "meter",
    "kilogram",
    "kilometer",
    "celsius",
    "fahrenheit",
    "cent",
    "number",
    "lot",
    "keep",
    "add",
    "point",
    "case",
    "example",
    "idea",
    "question",
    "answer",
    "reason",
    "fact",
    "end",
];

fn topical(w: &str) -> bool {
    !NOT_TOPICS.contains(&w)
        && !NUMBER_WORDS.contains(&w)
        && w.chars().any(char::is_alphabetic)
        && w.chars().count() > 2
}

/// Two-word phrases of content words that recur in the episode's talk ("heat pump").
fn key_phrases(sents: &[Sentence], labels: &[Label], lang: &Language) -> HashMap<String, usize> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    if !lang.is_english() {
        return counts;
    }
    let talk = (0..sents.len()).filter(|i| labels[*i] == Label::Talk);
    for i in talk {
        let ws: Vec<String> = words(&sents[i].text).collect();
        for pair in ws.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let content = |w: &str| {
                !crate::core::text::is_stop_word(w) && topical(&crate::core::text::singular(w))
            };
            if content(a) && content(b) {
                *counts
                    .entry(normalize_topic(&format!("{a} {b}")))
                    .or_default() += 1;
            }
        }
    }
    counts.retain(|_, c| *c >= 2);
    counts
}

/// Up to three topics: recurring phrases first, then the passage's heaviest words.
fn topics(
    quote: &str,
    lang: &Language,
    weight: &dyn Fn(&str) -> f64,
    phrases: &HashMap<String, usize>,
) -> Vec<String> {
    let ws: Vec<String> = words(quote).collect();
    let mut out: Vec<String> = Vec::new();
    let mut found: Vec<(&String, usize)> = ws
        .windows(2)
        .filter_map(|p| {
            let key = normalize_topic(&format!("{} {}", p[0], p[1]));
            phrases.get_key_value(&key).map(|(k, c)| (k, *c))
        })
        .collect();
    found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (p, _) in found {
        if out.len() < 2 && !out.contains(p) {
            out.push(p.clone());
        }
    }
    let mut singles: Vec<(String, f64)> = lang
        .content_words(quote)
        .into_iter()
        .map(|w| {
            let s = weight(&w);
            (w, s)
        })
        .filter(|(w, s)| *s > 0.0 && topical(w))
        .collect();
    singles.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    singles.dedup_by(|a, b| a.0 == b.0);
    for (w, _) in singles {
        if out.len() >= 3 {
            break;
        }
        if !out.iter().any(|t| t.split(' ').any(|x| x == w)) {
            out.push(w);
        }
    }
    out
}

/// Removes transcript notes: bracketed times and remarks ("[31:48]", "[laughter]",
/// "[unintelligible 00:25:22.13]") and starred stage directions ("*Intro Music*").
#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::transcript::Segment;

    fn ep(lines: &[(&str, &str)]) -> EpisodeText {
        EpisodeText {
            podcast: "P".into(),
            title: "E".into(),
            segments: lines
                .iter()
                .enumerate()
                .map(|(i, (s, t))| Segment {
                    speaker: Some((*s).into()),
                    start_ms: Some(i as i64 * 10_000),
                    end_ms: Some(i as i64 * 10_000 + 9_000),
                    text: (*t).into(),
                })
                .collect(),
            marks: Default::default(),
            notes: None,
        }
    }

    fn fixture(vtt: &str, marks: crate::core::model::EpisodeMarks) -> EpisodeText {
        EpisodeText {
            podcast: "P".into(),
            title: "E".into(),
            segments: crate::ingest::transcript::Transcript::parse(vtt.as_bytes())
                .unwrap()
                .segments,
            marks,
            notes: None,
        }
    }

    #[test]
    fn a_sponsor_chapter_yields_nothing_and_insights_carry_their_chapter() {
        use crate::core::model::EpisodeMarks;
        let vtt = include_str!("../../tests/fixtures/feeds/transcripts/harbour-batteries.vtt");
        let engine = ExtractiveEngine::default();
        let plain = engine.extract_sync(&fixture(vtt, EpisodeMarks::default()));
        assert!(
            plain.iter().any(|i| i.quote.contains("Fjordline")),
            "without chapters the unannounced read looks like a claim: {plain:?}"
        );
        assert!(plain.iter().all(|i| i.chapter.is_none()));
        let json = include_bytes!("../../tests/fixtures/feeds/chapters/harbour-batteries.json");
        let chapters = crate::ingest::chapters::parse_json_chapters(json).unwrap();
        let marks = EpisodeMarks {
            chapters,
            ..Default::default()
        };
        let got = engine.extract_sync(&fixture(vtt, marks));
        assert!(!got.is_empty());
        assert!(
            got.iter().all(|i| !i.quote.contains("Fjordline")),
            "{got:?}"
        );
        for i in &got {
            let expected = match i.start_ms.unwrap() {
                t if t < 60_000 => "Harbour batteries",
                t if (80_000..110_000).contains(&t) => "Grid costs",
                t => panic!("insight at {t} ms: {i:?}"),
            };
            assert_eq!(i.chapter.as_deref(), Some(expected), "{i:?}");
        }
    }

    #[test]
    fn a_soundbite_wins_over_an_otherwise_equal_passage() {
        use crate::core::model::{EpisodeMarks, Soundbite};
        let vtt = include_str!("../../tests/fixtures/feeds/transcripts/electric-ferries.vtt");
        let engine = ExtractiveEngine {
            max_per_episode: 1,
            ..Default::default()
        };
        let plain = engine.extract_sync(&fixture(vtt, EpisodeMarks::default()));
        assert!(
            plain[0].quote.contains("Oslo"),
            "the earlier one wins a tie: {plain:?}"
        );
        let marks = EpisodeMarks {
            soundbites: vec![Soundbite {
                start_ms: 40_000,
                duration_ms: 10_000,
                text: None,
            }],
            ..Default::default()
        };
        let got = engine.extract_sync(&fixture(vtt, marks));
        assert!(got[0].quote.contains("Kiel"), "{got:?}");
        assert!(got[0].score > plain[0].score);
    }

    #[test]
    fn openings_that_lean_on_what_came_before_are_unresolved() {
        assert!(opens_unresolved(
            "For comparison, orange juice is roughly 3.5."
        ));
        assert!(opens_unresolved("Secondly, it involves the body."));
        assert!(opens_unresolved("um, that's why prices fell."));
        assert!(!opens_unresolved("Orange juice has a pH of roughly 3.5."));
    }

    #[test]
    fn prefers_self_contained_claims_over_references() {
        let e = ep(&[
            ("A", "Welcome to Grid Talk, I'm Ann and with me is Bo."),
            ("B", "Thanks, great to be here."),
            (
                "A",
                "Battery storage on the grid grew fast this year in Texas and California.",
            ),
            (
                "B",
                "That's why battery storage prices fell 40 percent, because factories scaled up.",
            ),
            (
                "A",
                "Battery storage prices fell 40 percent in two years because cell factories in China tripled output.",
            ),
            (
                "B",
                "This episode is brought to you by Voltly. Voltly batteries last 3 times longer than the rest, use code GRID for 20 percent off.",
            ),
            (
                "A",
                "Grid operators now use battery storage instead of gas peaker plants during evening peaks.",
            ),
            (
                "B",
                "Thanks for listening, subscribe and see you next week.",
            ),
        ]);
        let got = ExtractiveEngine::default().extract_sync(&e);
        assert!(!got.is_empty());
        assert!(
            got[0].text.starts_with("Battery storage prices fell"),
            "{:?}",
            got[0]
        );
        assert!(
            got.iter().all(|i| !i.quote.contains("Voltly")
                && !i.quote.contains("Welcome")
                && !i.quote.contains("listening")),
            "{got:?}"
        );
        assert_eq!(got[0].start_ms, Some(40_000));
        assert!(
            got[0].topics.iter().any(|t| t.contains("battery")),
            "{:?}",
            got[0].topics
        );
    }
}
