//! The extractive engine: picks the best passages of an episode as said, scores them, and cleans
//! them up.
//!
//! 1. Turns and sentences (with times) from the transcript.
//! 2. Sponsor reads, intros and outros are found and excluded: ad cues ("brought to you by",
//!    promo codes, URLs read aloud) and the sponsor's name wherever it recurs; greetings at the
//!    start; sign-offs at the end.
//! 3. Candidates are one to three consecutive sentences of one speaker.
//! 4. Each is scored on centrality (TF-IDF weight of its words in the episode), key-term coverage
//!    and claim cues (numbers, comparisons, causes, named things), and penalised for questions,
//!    filler and openings that point at something unsaid ("That's why…", "He…").
//! 5. The best non-overlapping, non-duplicate candidates become insights, with disfluencies
//!    removed from the text while the quote keeps the words as said.
//!
//! With chapters and soundbites (timed transcripts only): sentences in a sponsor chapter count as
//! ad read; a passage gains up to 15% for starting near its chapter's start and sharing words
//! with its title, and up to 50% for lying inside a soundbite; each insight is titled with its
//! chapter.
//!
//! Scores are absolute (claim cues weigh most), so a dull episode's best does not outrank a strong
//! episode's.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;

use super::marks;
use super::sentences::{Sentence, Turn, sentences, turns};
use super::{EpisodeText, ExtractError, Extractor};
use crate::core::model::NewInsight;
use crate::core::text::{NEAR_DUPLICATE, content_words, normalize_topic, similarity, words};

/// The extractive engine and its settings.
#[derive(Debug, Clone)]
pub struct ExtractiveEngine {
    /// Insights kept per episode at most.
    pub per_episode: usize,
    /// Candidates scoring below this are never kept.
    pub min_score: f64,
}

impl Default for ExtractiveEngine {
    fn default() -> Self {
        ExtractiveEngine {
            per_episode: 5,
            min_score: 0.12,
        }
    }
}

const AD_CUES: &[&str] = &[
    "brought to you by",
    "sponsored by",
    "our sponsor",
    "today's sponsor",
    "this week's sponsor",
    "promo code",
    "use code",
    "use the code",
    "discount code",
    "offer code",
    "coupon code",
    "percent off",
    "% off",
    "dot com slash",
    ".com/",
    "free trial",
    "support for this episode",
    "this episode is supported",
    "this show is supported",
    "supported by",
    "thanks to our sponsors",
    "word from our sponsor",
    "special offer",
    "exclusive offer",
    "first month free",
    "dot com forward slash",
    "dot com/",
    "at checkout",
    "use my code",
    "my code",
    "free shipping",
    "sign up at",
    "sign up today at",
    "go to www",
    "head over to",
    "head to www",
    "slash podcast",
    "our partners at",
    "today's sponsor",
    "sponsor of this",
    "advertisement",
    "ad-free",
    "thirty-day trial",
    "30-day trial",
    "day free trial",
    "money-back guarantee",
    "limited time",
];
/// Spoken URLs: "dot com", "dot io" followed by more words of an address.
const URL_CUES: &[&str] = &[
    " dot com", " dot io", " dot org", " dot net", " dot fm", " dot co ", ".com", ".io/", ".fm",
];
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
const INTRO_CUES: &[&str] = &[
    "welcome to",
    "welcome back",
    "i'm your host",
    "your host",
    "with me today",
    "with me as always",
    "joining me",
    "i'm joined by",
    "today we're",
    "today we are",
    "on today's episode",
    "in today's episode",
    "in this episode",
    "on this episode",
    "this is episode",
    "today on",
    "let's get started",
    "let's dive in",
    "let's jump in",
    "great to be here",
    "thanks for having me",
    "glad to be here",
    "we're talking with",
    "we're talking to",
    "we talked with",
    "we hope you enjoy",
    "hope you enjoy this",
    "here with me",
    "my cohost",
    "my co-host",
    "we're joined by",
    "joined today by",
    "without further ado",
];
const OUTRO_CUES: &[&str] = &[
    "thanks for listening",
    "thank you for listening",
    "thanks so much for listening",
    "that's all for",
    "that's it for",
    "that's our show",
    "see you next",
    "until next time",
    "rate and review",
    "leave a review",
    "leave us a review",
    "subscribe",
    "wherever you get your podcasts",
    "follow us",
    "catch you next",
    "thanks for joining",
    "thanks for coming on",
    "thank you for coming on",
    "we'll see you",
    "see you then",
    "take care, everyone",
    "bye everyone",
    "signing off",
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
const DISFLUENCIES: &[&str] = &["um", "uh", "erm", "uhm", "hmm", "mm"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Talk,
    Ad,
    Intro,
    Outro,
}

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
    /// What chapters and soundbites add, as a fraction of the score (also breaks ties).
    bonus: f64,
}

impl ExtractiveEngine {
    /// Extraction without the async wrapper (it does no I/O).
    pub fn extract_sync(&self, episode: &EpisodeText) -> Vec<NewInsight> {
        let turns = turns(&episode.segments);
        let sents = sentences(&turns);
        if sents.is_empty() {
            return Vec::new();
        }
        let mut labels = label(&turns, &sents);
        let chapters = &episode.marks.chapters;
        let soundbites = &episode.marks.soundbites;
        // A sentence said in a sponsor chapter is an ad read, whatever its words.
        for (l, s) in labels.iter_mut().zip(&sents) {
            if let Some(ch) = s.start_ms.and_then(|t| marks::chapter_at(chapters, t))
                && marks::is_sponsor_title(&ch.title)
            {
                *l = Label::Ad;
            }
        }
        let lower: Vec<String> = sents.iter().map(|s| s.text.to_lowercase()).collect();
        let sent_words: Vec<Vec<String>> = sents.iter().map(|s| content_words(&s.text)).collect();

        // Term weights over the episode's talk: TF-IDF with sentences as documents.
        let mut tf: HashMap<&str, f64> = HashMap::new();
        let mut df: HashMap<&str, f64> = HashMap::new();
        let talk: Vec<usize> = (0..sents.len())
            .filter(|i| labels[*i] == Label::Talk)
            .collect();
        for &i in &talk {
            let mut seen = HashSet::new();
            for w in &sent_words[i] {
                *tf.entry(w).or_default() += 1.0;
                if seen.insert(w.as_str()) {
                    *df.entry(w).or_default() += 1.0;
                }
            }
        }
        let n = talk.len().max(1) as f64;
        let weight = |w: &str| -> f64 {
            let t = tf.get(w).copied().unwrap_or(0.0);
            let d = df.get(w).copied().unwrap_or(1.0);
            if t < 2.0 {
                0.0
            } else {
                (1.0 + t).ln() * (1.0 + n / d).ln()
            }
        };
        let mut key_terms: Vec<(&str, f64)> = tf
            .keys()
            .map(|w| (*w, weight(w)))
            .filter(|(_, s)| *s > 0.0)
            .collect();
        key_terms.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let top_terms: HashSet<&str> = key_terms.iter().take(12).map(|(w, _)| *w).collect();
        let phrases = key_phrases(&sents, &talk);

        // Candidates: 1-3 consecutive talk sentences of one turn.
        let mut cands: Vec<Candidate> = Vec::new();
        let mut max_central: f64 = 0.0;
        let mut central_raw = Vec::new();
        for first in 0..sents.len() {
            for len in 1..=3 {
                let last = first + len - 1;
                if last >= sents.len()
                    || sents[last].turn != sents[first].turn
                    || (first..=last).any(|i| labels[i] != Label::Talk)
                {
                    break;
                }
                let text: String = (first..=last)
                    .map(|i| sents[i].text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                let nwords = text.split_whitespace().count();
                if !(10..=90).contains(&nwords) {
                    continue;
                }
                let terms: HashSet<&str> = (first..=last)
                    .flat_map(|i| sent_words[i].iter().map(String::as_str))
                    .collect();
                let central: f64 =
                    terms.iter().map(|w| weight(w)).sum::<f64>() / (nwords as f64).sqrt();
                max_central = max_central.max(central);
                central_raw.push(central);
                let coverage =
                    (terms.iter().filter(|w| top_terms.contains(*w)).count() as f64 / 3.0).min(1.0);
                let lower_text = (first..=last)
                    .map(|i| lower[i].as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                let raw = 0.2 * coverage + 0.5 * claims(&text, &lower_text);
                let penalty = penalties(&sents[first].text, &text, &lower_text, nwords, len);
                let bonus = match sents[first].start_ms {
                    Some(start) if !chapters.is_empty() || !soundbites.is_empty() => {
                        marks::boost(chapters, soundbites, start, sents[last].end_ms, &text)
                    }
                    _ => 0.0,
                };
                cands.push(Candidate {
                    first,
                    last,
                    score: raw * penalty,
                    bonus,
                });
            }
        }
        for (c, central) in cands.iter_mut().zip(central_raw) {
            let rel = if max_central > 0.0 {
                central / max_central
            } else {
                0.0
            };
            // Centrality is relative to the episode, so it weighs less than the absolute cues.
            c.score += 0.3 * rel * (c.score / 0.7).clamp(0.25, 1.0);
            c.score = (c.score * (1.0 + c.bonus)).clamp(0.0, 1.0);
        }
        cands.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.bonus.total_cmp(&a.bonus))
                .then(a.first.cmp(&b.first))
        });

        let mut picked: Vec<(Candidate, String)> = Vec::new();
        for c in cands {
            if picked.len() >= self.per_episode || c.score < self.min_score {
                break;
            }
            if picked
                .iter()
                .any(|(p, _)| c.first <= p.last && p.first <= c.last)
            {
                continue;
            }
            let quote: String = (c.first..=c.last)
                .map(|i| sents[i].text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            if picked
                .iter()
                .any(|(_, q)| similarity(q, &quote) >= NEAR_DUPLICATE)
            {
                continue;
            }
            picked.push((c, quote));
        }
        picked
            .into_iter()
            .map(|(c, quote)| {
                let turn = &turns[sents[c.first].turn];
                NewInsight {
                    text: tidy(&quote),
                    topics: topics(&quote, &weight, &phrases),
                    quote,
                    start_ms: sents[c.first].start_ms,
                    end_ms: sents[c.last].end_ms,
                    speaker: turn.speaker.clone(),
                    score: (c.score * 1000.0).round() / 1000.0,
                    chapter: sents[c.first]
                        .start_ms
                        .and_then(|t| marks::chapter_at(chapters, t))
                        .map(|ch| ch.title.clone()),
                }
            })
            .collect()
    }
}

fn contains_any(hay: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| hay.contains(n))
}

/// Sponsor reads, intros and outros.
fn label(turns: &[Turn], sents: &[Sentence]) -> Vec<Label> {
    let n = sents.len();
    // Commas dropped so "Today, we're" matches "today we're".
    let lower: Vec<String> = sents
        .iter()
        .map(|s| s.text.to_lowercase().replace(',', "").replace('’', "'"))
        .collect();
    let mut labels = vec![Label::Talk; n];

    // Sponsors: sentences with ad cues, everything between the first and last cue of a turn, and
    // any sentence naming a sponsor.
    let mut brands: HashSet<String> = HashSet::new();
    for (i, l) in lower.iter().enumerate() {
        // A URL read aloud counts as an ad cue next to an offer or a brand call to action.
        let url_ad = contains_any(l, URL_CUES)
            && contains_any(
                l,
                &[
                    "go to",
                    "visit",
                    "sign up",
                    "check out",
                    "head to",
                    "free",
                    "off",
                    "trial",
                    "offer",
                ],
            );
        if url_ad
            || contains_any(l, AD_CUES)
            || turns[sents[i].turn]
                .speaker
                .as_deref()
                .is_some_and(is_break_label)
        {
            labels[i] = Label::Ad;
            for cue in [
                "brought to you by",
                "sponsored by",
                "supported by",
                "our sponsor",
                "today's sponsor",
            ] {
                if let Some(pos) = l.find(cue) {
                    let after = &l[pos + cue.len()..];
                    if let Some(brand) =
                        words(after).find(|w| w.len() > 2 && !crate::core::text::is_stop_word(w))
                    {
                        brands.insert(brand);
                    }
                }
            }
        }
    }
    for t in 0..turns.len() {
        let idx: Vec<usize> = (0..n).filter(|i| sents[*i].turn == t).collect();
        let ads: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|i| labels[*i] == Label::Ad)
            .collect();
        if let (Some(first), Some(last)) = (ads.first(), ads.last()) {
            for l in labels.iter_mut().take(*last + 1).skip(*first) {
                *l = Label::Ad;
            }
        }
    }
    for (i, _) in lower.iter().enumerate() {
        if words(&lower[i]).any(|w| brands.contains(&w)) {
            labels[i] = Label::Ad;
        }
    }

    // Intro: the opening up to the last turn in the first fifth that greets or introduces.
    let head = (n / 5).max(3).min(n);
    if let Some(last) = (0..head)
        .rev()
        .find(|i| contains_any(&lower[*i], INTRO_CUES))
    {
        let turn = sents[last].turn;
        for i in 0..n {
            if (i <= last || sents[i].turn == turn && i < head) && labels[i] == Label::Talk {
                labels[i] = Label::Intro;
            }
        }
    }
    // Outro: from the first sign-off in the last fifth to the end.
    let tail = n - (n / 5).max(3).min(n);
    if let Some(first) = (tail..n).find(|i| contains_any(&lower[*i], OUTRO_CUES)) {
        let turn = sents[first].turn;
        let start = (0..=first)
            .find(|i| sents[*i].turn == turn && *i >= tail)
            .unwrap_or(first);
        for l in labels.iter_mut().skip(start) {
            if *l == Label::Talk {
                *l = Label::Outro;
            }
        }
    }
    labels
}

/// Speaker labels that mark a break or an ad slot rather than a person.
fn is_break_label(s: &str) -> bool {
    matches!(
        s.trim().to_lowercase().as_str(),
        "break" | "ad" | "ads" | "advertisement" | "sponsor" | "promo" | "music"
    )
}

/// The sentences the extractive engine labels as sponsor read, intro or outro: no insight may
/// come from them, whichever engine writes it.
pub fn non_talk_sentences(segments: &[crate::ingest::transcript::Segment]) -> Vec<String> {
    let turns = turns(segments);
    let sents = sentences(&turns);
    let labels = label(&turns, &sents);
    sents
        .into_iter()
        .zip(labels)
        .filter(|(_, l)| *l != Label::Talk)
        .map(|(s, _)| s.text)
        .collect()
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
    let Some(first) = text.split_whitespace().find(|t| {
        let b = t
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        !b.is_empty() && !DISFLUENCIES.contains(&b.as_str())
    }) else {
        return false;
    };
    let opener = words(first).next().unwrap_or_default();
    let raw = first.to_lowercase();
    let raw = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’');
    UNRESOLVED_OPENERS.contains(&opener.as_str()) || UNRESOLVED_OPENERS.contains(&raw)
}

/// Multiplicative penalties for what makes a passage a poor insight.
fn penalties(first_sentence: &str, text: &str, lower: &str, nwords: usize, nsent: usize) -> f64 {
    let mut p = 1.0;
    let questions = text.matches('?').count();
    if questions > 0 {
        p *= if text.trim_end().ends_with('?') {
            0.1
        } else {
            0.4
        };
    }
    if opens_unresolved(first_sentence) {
        p *= 0.3;
    }
    let ws: Vec<String> = words(lower).collect();
    let fillers = ws.iter().filter(|w| FILLERS.contains(&w.as_str())).count()
        + FILLER_PHRASES
            .iter()
            .map(|f| lower.matches(f).count())
            .sum::<usize>();
    let density = fillers as f64 / nwords.max(1) as f64;
    p *= 1.0 - (density * 4.0).min(0.7);
    if nwords < 15 {
        p *= 0.5;
    } else if nwords > 70 {
        p *= 0.75;
    }
    p *= 1.0 - 0.06 * (nsent.saturating_sub(1)) as f64;
    // Host chatter: compliments, hand-overs, questions to the guest.
    let chatter = CHATTER.iter().filter(|c| lower.contains(*c)).count();
    if chatter > 0 {
        p *= if chatter > 1 { 0.25 } else { 0.45 };
    }
    // A passage starting mid-sentence (lowercase: the speaker was interrupted) or stopping
    // mid-sentence in a punctuated transcript.
    let first_char = first_sentence.trim_start().chars().next();
    let punctuated = text.contains(['.', '!', '?', ',']);
    if punctuated {
        if first_char.is_some_and(char::is_lowercase) {
            p *= 0.5;
        }
        if !text
            .trim_end()
            .ends_with(['.', '!', '?', '"', '”', '…', '\'', ')'])
        {
            p *= 0.6;
        }
    }
    // Talk about the show or the conversation itself.
    if contains_any(
        lower,
        &[
            "this episode",
            "this show",
            "this podcast",
            "our listeners",
            "last week we",
            "next week",
            "patreon",
            "newsletter",
        ],
    ) {
        p *= 0.3;
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
fn key_phrases(sents: &[Sentence], talk: &[usize]) -> HashMap<String, usize> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for &i in talk {
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
    let mut singles: Vec<(String, f64)> = content_words(quote)
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
pub fn strip_notes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(['[', '*']) {
        let close_char = if rest[open..].starts_with('[') {
            ']'
        } else {
            '*'
        };
        let after = &rest[open + 1..];
        match after.find(close_char) {
            Some(close) if close <= 60 && !after[..close].contains(['[', '\n']) => {
                out.push_str(&rest[..open]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The quote made readable: transcript notes, disfluencies and stutters removed, first letter
/// capitalised.
pub fn tidy(quote: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let stripped = strip_notes(quote);
    let tokens: Vec<&str> = stripped.split_whitespace().collect();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        let bare = t
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        if DISFLUENCIES.contains(&bare.as_str()) {
            // Keep sentence-ending punctuation that was attached to the filler.
            if let (Some(last), Some(p)) = (
                out.last_mut(),
                t.chars().last().filter(|c| matches!(c, '.' | '!' | '?')),
            ) && !last.ends_with(['.', '!', '?'])
            {
                last.push(p);
            }
            i += 1;
            continue;
        }
        // "you know," as a filler between commas.
        if bare == "you"
            && tokens
                .get(i + 1)
                .is_some_and(|n| n.to_lowercase() == "know,")
            && out.last().is_some_and(|l| l.ends_with(','))
        {
            i += 2;
            continue;
        }
        // Stutters: "the the", "I- I".
        if let Some(prev) = out.last() {
            let pb = prev
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase();
            if !pb.is_empty()
                && pb == bare
                && (prev.ends_with('-') || !prev.ends_with(|c: char| c.is_ascii_punctuation()))
            {
                out.pop();
            }
        }
        out.push(t.trim_end_matches('-').to_string());
        i += 1;
    }
    let mut s = out.join(" ").replace(" ,", ",").replace(",,", ",");
    while s.starts_with([',', ' ']) {
        s.remove(0);
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_lowercase() => c.to_uppercase().chain(chars).collect(),
        _ => s,
    }
}

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
            per_episode: 1,
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
    fn tidy_removes_disfluencies() {
        assert_eq!(
            tidy("um, the the grid needs, uh, storage."),
            "The grid needs, storage."
        );
        assert_eq!(
            tidy("so I- I think it's, you know, cheaper."),
            "So I think it's, cheaper."
        );
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
