//! The episode's structure: what is talk and what is not, and who asks the questions.
//!
//! - Sponsor reads: ad cues ("brought to you by", promo codes, URLs read aloud next to an
//!   offer), everything between the first and last cue of a turn, the sponsor's name wherever it
//!   recurs, turns of a `Break`/`Ad`/`Jingle` pseudo-speaker, and sentences in a sponsor chapter.
//! - Intros: the opening up to the last greeting, guest introduction or get-to-know-you cue in the
//!   first fifth; the first subject segment too when it is short and holds such a cue (the small
//!   talk that follows introductions).
//! - Outros: from the first sign-off in the last fifth to the end; the last segment likewise.
//! - Questioners: the speakers who ask most of the questions (hosts), whose set-ups are not
//!   insights.
//! - Show notes: their topic lines (short lines, list items) mark passages worth covering.
//!
//! Cue lists are English; other languages get only the cues that need no words (break
//! speakers, sponsor chapters).

use std::collections::{HashMap, HashSet};

use super::language::Language;
use super::marks;
use super::sentences::{Sentence, Turn, sentences, turns};
use crate::core::model::Chapter;
use crate::core::text::words;

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
    // Podcasting 2.0 shows read out listeners' "boosts" (payments in sats) like sponsor messages.
    " sats",
    " sats ",
    "boosts",
    "boosted",
    "boosting",
    "satoshis",
    "boostagram",
    "thanks for the boost",
    "thank you for the boost",
];
/// Words of a listener boost read out, next to an amount.
const BOOST_CUES: &[&str] = &[
    " sas",
    " sats",
    " sat ",
    "satoshi",
    " cents",
    "fountain",
    "through found",
    "pod verse",
    "podverse",
    "through breez",
    "castamatic",
    "boost",
    "zap",
];
/// A segment with at least this share of ad sentences (percent) is a read as a whole.
const AD_SEGMENT_PERCENT: usize = 25;
/// The most sentences between two ad cues of one turn that are part of one read.
const AD_GAP: usize = 12;
/// The most sentences between two ad cues of different turns that are part of one read (hosts
/// taking turns reading listener messages).
const AD_GAP_ACROSS_TURNS: usize = 8;
/// The longest pause between two boost readings of one session, in milliseconds.
const BOOST_SESSION_GAP_MS: i64 = 240_000;
/// The most sentences between two boost readings of one session in an untimed transcript.
const BOOST_SESSION_GAP: usize = 40;
/// Spoken URLs: "dot com", "dot io" followed by more words of an address.
const URL_CUES: &[&str] = &[
    " dot com", " dot io", " dot org", " dot net", " dot fm", " dot co ", ".com", ".io/", ".fm",
];
/// Greetings, guest introductions and get-to-know-you talk.
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
    "welcome to the show",
    "thank you for having me",
    "thanks for being with us",
    "thank you for being with us",
    "thanks for being here",
    "thank you for being here",
    "origin story",
    "welcome to the podcast",
    "good to have you",
    "glad to have you",
    "great to have you",
    "pleasure to have you",
    "thanks for joining us",
    "how are you doing",
    "how are you today",
    "how's it going",
    "get to know",
    "introduce yourself",
    "introduce yourselves",
    "a little bit about yourself",
    "a bit about yourself",
    "tell us who you are",
    "who you are and what you do",
    "check-in question",
    "icebreaker",
    "fun fact",
    "hobbies",
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
    "we touched on a lot",
    "this was super fun",
    "this was super-fun",
    "this was so fun",
    "this has been great",
    "this has been fun",
    "this was a great conversation",
    "thanks for your time",
    "enough of your time",
    "before we let you go",
    "where can people find you",
    "where can folks find you",
    "anything we didn't cover",
    "any last words",
    "any final thoughts",
    "great way to end",
];
/// What a sentence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// The episode's talk.
    Talk,
    /// A sponsor read or break.
    Ad,
    /// Greetings, introductions, small talk before the subject.
    Intro,
    /// Sign-offs and calls to subscribe.
    Outro,
}

pub(crate) fn contains_any(hay: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| hay.contains(n))
}

/// Sponsor reads, intros and outros, by cues (English only) and break speakers.
pub fn label(turns: &[Turn], sents: &[Sentence], lang: &Language) -> Vec<Label> {
    // Commas dropped so "Today, we're" matches "today we're".
    let lower: Vec<String> = sents
        .iter()
        .map(|s| s.text.to_lowercase().replace(',', "").replace('’', "'"))
        .collect();
    let mut labels = vec![Label::Talk; sents.len()];
    let english = lang.is_english();
    label_sponsors(&mut labels, turns, sents, &lower, english);
    if english {
        label_intro(&mut labels, sents, &lower);
        label_outro(&mut labels, sents, &lower);
    }
    labels
}

/// Sponsors: sentences with ad cues, everything between the first and last cue of a turn, and
/// any sentence naming a sponsor. The cues are English; break turns count in any language.
fn label_sponsors(
    labels: &mut [Label],
    turns: &[Turn],
    sents: &[Sentence],
    lower: &[String],
    english: bool,
) {
    let n = sents.len();
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
        // Listener "boosts" read out on Podcasting 2.0 shows: an amount in sats through an app.
        let boost = l.chars().any(|c| c.is_ascii_digit()) && contains_any(l, BOOST_CUES);
        if english && (url_ad || boost || contains_any(l, AD_CUES))
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
    // A read runs between its cues: the sentences between two ad sentences of one turn that are
    // at most `AD_GAP` apart are part of it.
    let mut last_ad: Option<usize> = None;
    for i in 0..n {
        if labels[i] != Label::Ad {
            continue;
        }
        if let Some(p) = last_ad
            && (i - p <= AD_GAP_ACROSS_TURNS || sents[p].turn == sents[i].turn && i - p <= AD_GAP)
        {
            labels[p..i].iter_mut().for_each(|l| *l = Label::Ad);
        }
        last_ad = Some(i);
    }
    mark_boost_sessions(labels, sents, lower);
    for (i, _) in lower.iter().enumerate() {
        if words(&lower[i]).any(|w| brands.contains(&w)) {
            labels[i] = Label::Ad;
        }
    }
}

/// Intro: the opening up to the last turn in the first fifth that greets or introduces.
fn label_intro(labels: &mut [Label], sents: &[Sentence], lower: &[String]) {
    let n = sents.len();

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
}

/// Outro: from the first sign-off in the last fifth to the end.
fn label_outro(labels: &mut [Label], sents: &[Sentence], lower: &[String]) {
    let n = sents.len();
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
}

/// Whether a sentence reads out a listener boost: an amount of three digits or more next to a
/// boost word ("25,000 sats", "5555 through Fountain", "155,555 sets").
fn is_boost_read(lower: &str) -> bool {
    let amounts = amounts(lower);
    amounts.iter().any(|a| a.len() >= 3)
        && (contains_any(lower, BOOST_CUES) || contains_any(lower, &[" sets", " sas "]))
}

/// Whether a sentence counts toward a boost session: a boost read, a boost announced ("a couple
/// of quick boosts"), or a listener's amount read on its own ("Dred Scott, 33,333"): four digits
/// or more that are not a year.
fn is_boost_mention(lower: &str) -> bool {
    is_boost_read(lower)
        || names_boosts(lower)
        || amounts(lower).iter().any(|a| {
            a.len() >= 4 && !(a.len() == 4 && (a.starts_with("19") || a.starts_with("20")))
        })
}

/// Whether a sentence names boosts or sats.
fn names_boosts(lower: &str) -> bool {
    contains_any(lower, &["boost", " sats", "satoshi"])
}

/// The digit runs of a sentence, thousands separators dropped.
fn amounts(lower: &str) -> Vec<String> {
    lower
        .replace(',', "")
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .map(str::to_string)
        .collect()
}

/// A boost session: shows that read listeners' boosts out do it for many minutes, with banter
/// between the messages. Three or more boost mentions, one of them naming boosts or sats, each within
/// [`BOOST_SESSION_GAP_MS`] of the last (or [`BOOST_SESSION_GAP`] sentences when untimed), make
/// everything from the first to the last a read.
fn mark_boost_sessions(labels: &mut [Label], sents: &[Sentence], lower: &[String]) {
    let reads: Vec<usize> = (0..lower.len())
        .filter(|i| is_boost_mention(&lower[*i]))
        .collect();
    let close = |a: usize, b: usize| match (sents[a].start_ms, sents[b].start_ms) {
        (Some(x), Some(y)) => y - x <= BOOST_SESSION_GAP_MS,
        _ => b - a <= BOOST_SESSION_GAP,
    };
    let mut start = 0;
    for k in 1..=reads.len() {
        if k < reads.len() && close(reads[k - 1], reads[k]) {
            continue;
        }
        let chain = &reads[start..k];
        if chain.len() >= 3 && chain.iter().any(|i| names_boosts(&lower[*i])) {
            labels[reads[start]..=reads[k - 1]]
                .iter_mut()
                .for_each(|l| *l = Label::Ad);
        }
        start = k;
    }
}

/// Sentences said in a sponsor chapter are an ad read, whatever their words.
pub fn label_sponsor_chapters(labels: &mut [Label], sents: &[Sentence], chapters: &[Chapter]) {
    for (l, s) in labels.iter_mut().zip(sents) {
        if let Some(ch) = s.start_ms.and_then(|t| marks::chapter_at(chapters, t))
            && marks::is_sponsor_title(&ch.title)
        {
            *l = Label::Ad;
        }
    }
}

/// Intros and outros reach to the edge of their subject segment: the intro runs to the end of
/// the segment holding the last greeting or introduction of the first quarter, when that is
/// within the first 30% (the small talk that follows introductions: "what's your favourite
/// matcha?"); the outro starts at the start of the segment holding the first sign-off of the last
/// fifth, when that is within the last quarter. English only.
pub fn label_edge_segments(
    labels: &mut [Label],
    sents: &[Sentence],
    segments: &[(usize, usize)],
    lang: &Language,
) {
    let n = sents.len();
    // A subject segment that is largely ad reads, several of them (listener messages read out
    // one after another, with banter between them), is a read as a whole.
    for &(a, b) in segments {
        let ads = labels[a..b].iter().filter(|l| **l == Label::Ad).count();
        let reads = (a..b)
            .filter(|i| labels[*i] == Label::Ad && (*i == a || labels[*i - 1] != Label::Ad))
            .count();
        if reads >= 3 && ads * 100 >= (b - a) * AD_SEGMENT_PERCENT {
            mark(&mut labels[a..b], Label::Ad);
        }
    }
    if !lang.is_english() || segments.len() < 2 {
        return;
    }
    let lower = |i: usize| {
        sents[i]
            .text
            .to_lowercase()
            .replace(',', "")
            .replace('’', "'")
    };
    let segment_of = |i: usize| segments.iter().find(|s| i < s.1).copied().unwrap_or((0, n));
    let head = (n / 4).max(3).min(n);
    if let Some(cue) = (0..head)
        .rev()
        .find(|i| contains_any(&lower(*i), INTRO_CUES))
    {
        // A cue that opens a round of introductions ("our check-in question is…") late in its
        // segment is answered in the next one.
        let (start, end) = segment_of(cue);
        let extended = if (cue - start) * 2 > end - start && end < n {
            segment_of(end).1
        } else {
            end
        };
        if let Some(end) = [extended, end].into_iter().find(|e| e * 10 <= n * 3) {
            mark(&mut labels[..end], Label::Intro);
        }
    }
    let tail = n - (n / 5).max(3).min(n);
    if let Some(cue) = (tail..n).find(|i| contains_any(&lower(*i), OUTRO_CUES)) {
        let start = segment_of(cue).0;
        if start * 4 >= 3 * n {
            mark(&mut labels[start..], Label::Outro);
        }
    }
}

/// Labels the talk among `labels` as `kind`.
fn mark(labels: &mut [Label], kind: Label) {
    for l in labels {
        if *l == Label::Talk {
            *l = kind;
        }
    }
}

/// The speakers who ask the questions: at least five questions, and a question rate at least
/// half the highest. Their set-ups are not insights.
pub fn questioners(turns: &[Turn], sents: &[Sentence]) -> HashSet<String> {
    let mut asked: HashMap<&str, (usize, usize)> = HashMap::new();
    for s in sents {
        if let Some(who) = turns[s.turn].speaker.as_deref() {
            let e = asked.entry(who).or_default();
            e.1 += 1;
            if s.text.trim_end().ends_with('?') {
                e.0 += 1;
            }
        }
    }
    if asked.len() < 2 {
        return HashSet::new();
    }
    let rate = |(q, n): (usize, usize)| q as f64 / n.max(1) as f64;
    let top = asked.values().map(|v| rate(*v)).fold(0.0, f64::max);
    asked
        .into_iter()
        .filter(|(_, v)| v.0 >= 5 && rate(*v) >= top / 2.0)
        .map(|(who, _)| who.to_string())
        .collect()
}

/// The topic lines of show notes: short lines and list items, as sets of content words. Links,
/// credits and sponsor lines are left out.
pub fn notes_topics(notes: &str, lang: &Language) -> Vec<HashSet<String>> {
    let lines = notes
        .lines()
        .map(|l| {
            l.trim()
                .trim_start_matches(['-', '*', '•', '–', '#', ' '])
                .trim_start_matches(|c: char| {
                    c.is_ascii_digit() || c == '.' || c == ')' || c == ':'
                })
                .trim()
        })
        .filter(|l| {
            let n = l.split_whitespace().count();
            let lower = l.to_lowercase();
            (2..=14).contains(&n)
                && !lower.contains("http")
                && !contains_any(&lower, AD_CUES)
                && !contains_any(
                    &lower,
                    &[
                        "sponsor",
                        "subscribe",
                        "follow",
                        "patreon",
                        "music by",
                        "produced by",
                        "edited by",
                        "transcript",
                    ],
                )
        })
        .collect::<Vec<&str>>();
    lang.content_words_each(lines)
        .into_iter()
        .map(|words| words.into_iter().collect::<HashSet<String>>())
        .filter(|set| set.len() >= 2)
        .collect()
}

/// Speaker labels that mark a break or an ad slot rather than a person.
pub fn is_break_label(s: &str) -> bool {
    matches!(
        s.trim().to_lowercase().as_str(),
        "break" | "ad" | "ads" | "advertisement" | "sponsor" | "promo" | "music" | "jingle"
    )
}

/// The sentences the extractive engine labels as sponsor read, intro or outro: no insight may
/// come from them, whichever engine writes it.
pub fn non_talk_sentences(segments: &[crate::ingest::transcript::Segment]) -> Vec<String> {
    let turns = turns(segments);
    let sents = sentences(&turns);
    let lang = Language::detect(
        &sents
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    );
    let labels = label(&turns, &sents, &lang);
    sents
        .into_iter()
        .zip(labels)
        .filter(|(_, l)| *l != Label::Talk)
        .map(|(s, _)| s.text)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::transcript::Segment;

    fn labels_of(lines: &[(i64, &str)]) -> Vec<(String, Label)> {
        let segments: Vec<Segment> = lines
            .iter()
            .map(|(s, t)| Segment {
                speaker: Some(if s % 20 == 0 { "Adam" } else { "Dave" }.into()),
                start_ms: Some(s * 1000),
                end_ms: Some(s * 1000 + 9_000),
                text: (*t).into(),
            })
            .collect();
        let turns = turns(&segments);
        let sents = sentences(&turns);
        let labels = label(&turns, &sents, &Language::English);
        sents.into_iter().map(|s| s.text).zip(labels).collect()
    }

    #[test]
    fn banter_between_boosts_read_out_is_part_of_the_read() {
        let got = labels_of(&[
            (
                600,
                "Lightning payments settle in seconds and the fees stay tiny for everyone.",
            ),
            (
                700,
                "Blueberry sent 17,776 sats through Fountain, thank you for the boost.",
            ),
            (
                760,
                "Dred Scott boosting with 55,555 sats says the show was great.",
            ),
            (
                800,
                "Thailand is wonderful and the food there is fantastic and cheap.",
            ),
            (810, "The people are very giving and very open to visitors."),
            (820, "Chiang Mai is calmer than Bangkok and costs far less."),
            (
                830,
                "A big meal with five friends costs what dinner for two costs here.",
            ),
            (840, "The royal family is loved all over the country."),
            (850, "Street food stalls stay open late in every town."),
            (
                860,
                "Night markets sell everything from noodles to phone cases.",
            ),
            (
                870,
                "The trains between the big cities are slow but comfortable.",
            ),
            (880, "Monsoon season changes the plans of most travellers."),
            (
                900,
                "My friend taught in Thailand for seven years and loved every day.",
            ),
            (
                1000,
                "Another 6969 sats through Podverse from a citizen, thank you.",
            ),
            (
                1500,
                "Dynamic ad insertion breaks the timing of chapters and transcripts.",
            ),
        ]);
        let label_of = |needle: &str| got.iter().find(|(t, _)| t.contains(needle)).unwrap().1;
        assert_eq!(label_of("Thailand is wonderful"), Label::Ad, "{got:?}");
        assert_eq!(label_of("My friend taught"), Label::Ad, "{got:?}");
        assert_eq!(label_of("Lightning payments"), Label::Talk, "{got:?}");
        assert_eq!(label_of("Dynamic ad insertion"), Label::Talk, "{got:?}");
    }

    #[test]
    fn two_amounts_in_passing_are_not_a_boost_session() {
        let got = labels_of(&[
            (
                0,
                "Podcasting 2.0 lets listeners pay the shows they love directly.",
            ),
            (
                100,
                "Someone sent 25,000 sats and wanted a song played right away.",
            ),
            (
                110,
                "Then the requests kept coming and the chat was wild all night.",
            ),
            (
                120,
                "Value for value means the listener decides what a show is worth.",
            ),
            (
                130,
                "Shows that ask for support directly depend less on advertisers.",
            ),
            (
                140,
                "Some listeners prefer to pay monthly instead of per episode.",
            ),
            (
                150,
                "Apps show who paid and how much while the episode plays.",
            ),
            (
                160,
                "Hosts can split the payments with guests and producers.",
            ),
            (
                170,
                "The splits are written into the feed for every episode.",
            ),
            (
                180,
                "Payments move over the lightning network with small fees.",
            ),
            (190, "Nobody in the middle takes a cut of the money sent."),
            (
                220,
                "And up to 70,000 sats for requests, so we had to say stop.",
            ),
            (
                300,
                "Live items in apps let listeners chat and pay during the show.",
            ),
        ]);
        let label_of = |needle: &str| got.iter().find(|(t, _)| t.contains(needle)).unwrap().1;
        assert_eq!(label_of("Then the requests"), Label::Talk, "{got:?}");
    }
}
