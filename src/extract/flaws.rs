//! What a reader notices at once in an insight's text: the flaws `eval insights` counts and
//! the extractive engine refuses to send.
//!
//! The checks read only the finished text, whatever wrote it (either engine, an import), so the
//! report measures what a subscriber would see. They are deliberately simple patterns: a dash
//! left where a speaker broke off, a word said twice, a sentence that stops on "to", a lowercase
//! letter after a full stop, a filler, a plug, an acknowledgement from the other speaker, talk
//! about the show itself, a question.

use std::fmt;

/// One kind of flaw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flaw {
    /// A speaker's restart left in: a dash break (" -- ", " - "), a double space, a cut word.
    FalseStart,
    /// A word or phrase said twice in a row ("I think I think").
    Repeat,
    /// The text stops before its thought does ("…and logic to...").
    MidThought,
    /// A sentence starting in lowercase (or the pronoun "i").
    Case,
    /// A spoken filler ("you know,", "I mean,", hedging "kind of", "um").
    Filler,
    /// A plug: a web address, "check out", "go to our homepage", a discount code.
    Plug,
    /// The other speaker's acknowledgement inside the text ("Yep.").
    Backchannel,
    /// Talk about the show or the conversation itself ("on this episode", "we talked about").
    ShowTalk,
    /// A question rather than a statement.
    Question,
    /// A sentence that is no clause: the tail of a sentence cut before it ("Link.").
    Fragment,
}

impl Flaw {
    /// Every kind, in report order.
    pub const ALL: [Flaw; 10] = [
        Flaw::FalseStart,
        Flaw::Repeat,
        Flaw::MidThought,
        Flaw::Case,
        Flaw::Filler,
        Flaw::Plug,
        Flaw::Backchannel,
        Flaw::ShowTalk,
        Flaw::Question,
        Flaw::Fragment,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Flaw::FalseStart => "false-start",
            Flaw::Repeat => "repeat",
            Flaw::MidThought => "mid-thought",
            Flaw::Case => "case",
            Flaw::Filler => "filler",
            Flaw::Plug => "plug",
            Flaw::Backchannel => "backchannel",
            Flaw::ShowTalk => "show-talk",
            Flaw::Question => "question",
            Flaw::Fragment => "fragment",
        }
    }
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const FILLER_PHRASES: &[&str] = &[
    "you know,",
    ", you know",
    "i mean,",
    ", i mean",
    " um ",
    " uh ",
    " um,",
    " uh,",
    ", like,",
    "kind of like",
    "sort of like",
    " basically",
    " literally",
    " kinda ",
    " sorta ",
];

const PLUG_PHRASES: &[&str] = &[
    "check out",
    "check it out",
    "go to our",
    "our homepage",
    "our website",
    "my website",
    "sign up",
    "promo code",
    "discount code",
    "use code",
    "link in the",
    "in the show notes",
    "follow me on",
    "follow us on",
    "find me on",
    "find us on",
    "subscribe",
    "dot com slash",
    "http://",
    "https://",
    "www.",
    "patreon",
    "newsletter",
    "sponsored by",
    "brought to you by",
    "wherever you get your podcasts",
    "wherever you listen",
    "made easy with",
    "available now",
    "get started today",
    "try it free",
    "start your free",
];

const SHOW_PHRASES: &[&str] = &[
    "this episode",
    "this show",
    "the show",
    "this podcast",
    "the podcast",
    "this conversation",
    "our conversation",
    "we talked about",
    "we've talked about",
    "we were talking about",
    "talk about today",
    "talking about today",
    "last episode",
    "next episode",
    "previous episode",
    "our listeners",
    "the listeners",
    "videos i did",
    "video i did",
    "my channel",
    "episode series",
    "on the pod",
    "on air",
    "this interview",
    "before we started",
    "before we hit record",
    "quick break",
    "take a break",
    "after the break",
    "right back after",
    "we'll be right back",
    "my name is",
];

/// Top-level domains a spoken plug names ("Kilo.ai", "zipline.com/careers").
const DOMAINS: &[&str] = &[
    "com", "ai", "io", "org", "net", "dev", "fm", "co", "app", "sh", "gg", "tv", "me", "xyz",
];

/// Backchannel words that stand alone as a sentence, or capitalised mid-sentence.
const ACKS: &[&str] = &[
    "yep", "yeah", "yup", "mm-hmm", "mhm", "uh-huh", "right", "okay", "exactly", "totally",
];

/// Words a finished sentence does not end on.
const DANGLING: &[&str] = &[
    "to", "the", "a", "an", "of", "and", "or", "but", "because", "with", "for", "from", "than",
    "my", "your", "our", "their", "its", "very", "if", "whether", "which", "into", "i", "we",
    "they",
];

fn lower_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|t| {
            t.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .collect()
}

/// An insight's text, split once for the checks.
struct Text<'a> {
    text: &'a str,
    /// Lowercase, padded with a space at each end so phrases match at the edges.
    lower: String,
    toks: Vec<&'a str>,
    words: Vec<String>,
}

/// The flaws of an insight's text, each kind once, in report order.
pub fn flaws(text: &str) -> Vec<Flaw> {
    let t = Text {
        text,
        lower: format!(" {} ", text.to_lowercase()),
        toks: text.split_whitespace().collect(),
        words: lower_words(text),
    };
    type Check = fn(&Text) -> bool;
    let checks: [(Flaw, Check); 10] = [
        (Flaw::FalseStart, false_start),
        (Flaw::Repeat, repeat),
        (Flaw::MidThought, mid_thought),
        (Flaw::Case, bad_case),
        (Flaw::Filler, filler),
        (Flaw::Plug, plug),
        (Flaw::Backchannel, backchannel),
        (Flaw::ShowTalk, show_talk),
        (Flaw::Question, question),
        (Flaw::Fragment, fragment),
    ];
    let mut out: Vec<Flaw> = checks
        .iter()
        .filter(|(_, check)| check(&t))
        .map(|(flaw, _)| *flaw)
        .collect();
    out.sort();
    out
}

fn false_start(t: &Text) -> bool {
    // A written pause inside the text ("you're... Helping so much"): where the speaker broke off.
    // An ellipsis closing a quotation ("I want to use...") is the quoted words', not a pause.
    let paused = t
        .toks
        .iter()
        .rev()
        .skip(1)
        .any(|w| w.ends_with("...") || w.ends_with('…'));
    paused
        || t.text.contains("  ")
        || t.toks.iter().any(|w| {
            *w == "-"
                || *w == "--"
                || w.contains("--")
                || (w.ends_with('-') && w.len() > 1)
                || (w.starts_with('-') && w[1..].starts_with(char::is_alphabetic))
        })
}

fn repeat(t: &Text) -> bool {
    let ws = &t.words;
    // A restart around a little word: "Realize it realize that…" (not "face to face").
    let restarted = ws.windows(3).any(|w| {
        w[0] == w[2]
            && w[0].chars().count() >= 3
            && matches!(w[1].as_str(), "it" | "the" | "a" | "an" | "that" | "this")
    });
    restarted
        || ws
            .windows(2)
            .any(|w| !w[0].is_empty() && w[0] == w[1] && w[0] != "had")
        || (2..=4).any(|n| {
            ws.windows(2 * n)
                .any(|w| w[..n] == w[n..] && w[..n].iter().all(|x| !x.is_empty()))
        })
}

fn mid_thought(t: &Text) -> bool {
    let last = t.toks.last().copied().unwrap_or("");
    let last_word = t.words.last().map(String::as_str).unwrap_or("");
    let trailed_inside = t.toks.windows(2).any(|w| {
        let bare = w[0]
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        (w[0].ends_with("...") || w[0].ends_with('…')) && DANGLING.contains(&bare.as_str())
    });
    trailed_inside
        || last.ends_with(['-', ',', ';', ':'])
        || last.ends_with("--")
        || DANGLING.contains(&last_word)
        || !last
            .trim_end_matches(['"', '”', '’', ')'])
            .ends_with(['.', '!', '?', '…'])
}

fn bad_case(t: &Text) -> bool {
    let mut after_stop = true;
    for w in &t.toks {
        let first = w.chars().find(|c| c.is_alphanumeric());
        if after_stop && first.is_some_and(char::is_lowercase) || *w == "i" || w.starts_with("i'") {
            return true;
        }
        if first.is_some() {
            after_stop = w
                .trim_end_matches(['"', '”', '’', ')'])
                .ends_with(['.', '!', '?']);
        }
    }
    false
}

fn filler(t: &Text) -> bool {
    let hedge = t.words.windows(3).any(|w| {
        (w[1] == "kind" || w[1] == "sort")
            && w[2] == "of"
            && !super::clean::KIND_DETERMINERS.contains(&w[0].as_str())
    });
    hedge || FILLER_PHRASES.iter().any(|f| t.lower.contains(f))
}

fn plug(t: &Text) -> bool {
    let url = t.toks.iter().any(|w| {
        let w = w
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '/' && c != '.')
            .trim_end_matches('.');
        w.split_once('.').is_some_and(|(name, rest)| {
            let tld = rest.split('/').next().unwrap_or("").to_lowercase();
            name.chars().any(char::is_alphabetic)
                && DOMAINS.contains(&tld.as_str())
                && !rest.contains('.')
        })
    });
    url || PLUG_PHRASES.iter().any(|p| t.lower.contains(p))
}

fn backchannel(t: &Text) -> bool {
    let ack_sentence = sentences(t.text).any(|s| {
        let w = lower_words(s);
        !w.is_empty() && w.iter().all(|x| ACKS.contains(&x.as_str()))
    });
    let ack_inside = t.toks.windows(2).any(|w| {
        let prev_open = !w[0].ends_with([',', '.', '!', '?', ';', ':', '—']);
        let cap = w[1].chars().next().is_some_and(char::is_uppercase);
        let word = w[1]
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '-')
            .to_lowercase();
        prev_open && cap && ["yep", "yeah", "mm-hmm", "uh-huh"].contains(&word.as_str())
    });
    ack_sentence || ack_inside
}

fn show_talk(t: &Text) -> bool {
    // A speaker introducing themselves: "This is Nick Hilton, and I'll be on later…".
    let introduces = sentences(t.text).any(|s| {
        let s = s.trim_start();
        s.strip_prefix("This is ")
            .is_some_and(|rest| rest.starts_with(char::is_uppercase))
            && (s.contains(", and I") || s.contains("I'm") || s.contains("I’m"))
    });
    introduces || SHOW_PHRASES.iter().any(|p| t.lower.contains(p))
}

fn question(t: &Text) -> bool {
    let asks = sentences(t.text).any(|sentence| {
        let w = lower_words(sentence);
        let first_two = w.iter().take(2).map(String::as_str).collect::<Vec<_>>();
        matches!(
            first_two.as_slice(),
            [
                "how" | "what" | "why" | "where" | "which" | "who",
                "do" | "does"
                    | "did"
                    | "is"
                    | "are"
                    | "was"
                    | "were"
                    | "would"
                    | "should"
                    | "can"
                    | "could"
                    | "about"
            ] | [
                "do" | "does" | "did" | "can" | "could" | "would" | "will" | "should",
                "you" | "we" | "they" | "i"
            ] | ["are" | "were", "you" | "we" | "they"]
                | ["is" | "was", "it" | "that" | "there"]
        )
    });
    asks || t.text.trim_end().ends_with('?') || t.text.matches('?').count() >= 2
}

/// Words that make a short sentence a clause rather than a fragment.
const VERB_MARKERS: &[&str] = &[
    "is", "are", "was", "were", "be", "been", "am", "has", "have", "had", "do", "does", "did",
    "can", "could", "will", "would", "should", "may", "might", "must", "get", "gets", "got",
    "make", "makes", "made", "go", "goes", "went", "say", "says", "said", "think", "know", "see",
    "want", "need", "needs", "take", "takes", "took", "come", "came", "give", "gave", "use",
    "uses", "work", "works", "feel", "felt", "look", "looks", "seem", "seems", "keep", "let",
    "put", "run", "runs", "find", "found", "tell", "told", "call", "try", "help", "helps", "show",
    "mean", "means", "matter", "matters", "happen", "happens", "love", "like", "hate", "win",
    "wins", "fail", "fails", "grow", "grows", "fell", "rose", "cost", "costs", "pay", "pays",
];

/// A sentence that is no clause: a leftover of the sentence before it ("Link.", "Fountain,
/// questionable.", "Model for community building.") opening a passage of more sentences, or a
/// sentence of two words or fewer anywhere.
fn fragment(t: &Text) -> bool {
    let clause = |s: &str| {
        lower_words(s).iter().any(|w| {
            VERB_MARKERS.contains(&w.as_str())
                || w.ends_with("ed") && w.len() > 4
                || w.ends_with("n't")
                || ["'s", "'re", "'ve", "'d", "'ll", "'m", "’s", "’re"]
                    .iter()
                    .any(|c| w.ends_with(c))
        })
    };
    let words_in = |s: &str| lower_words(s).iter().filter(|w| !w.is_empty()).count();
    let sents: Vec<&str> = sentences(t.text).collect();
    let opener = sents.len() > 1 && words_in(sents[0]) <= 5 && !clause(sents[0]);
    opener
        || sents
            .iter()
            .any(|s| (1..=2).contains(&words_in(s)) && !clause(s) && !is_ack(s))
}

/// Whether a sentence is only acknowledgements ("Yeah. Right.").
fn is_ack(s: &str) -> bool {
    lower_words(s)
        .iter()
        .all(|w| w.is_empty() || ACKS.contains(&w.as_str()))
}

/// The sentences of a text, each with its closing mark.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive(['.', '!', '?'])
        .filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flaw_is_seen() {
        let cases = [
            (
                "If the average function in your code  if more than one 15th.",
                Flaw::FalseStart,
            ),
            (
                "We pride ourselves on -- you can use 500 models.",
                Flaw::FalseStart,
            ),
            ("It is a it is a real gray area.", Flaw::Repeat),
            ("I think I think you are right.", Flaw::Repeat),
            (
                "Realize it realize that it is not the right way.",
                Flaw::Repeat,
            ),
            (
                "Developing the control system and logic to...",
                Flaw::MidThought,
            ),
            ("The drones fly at 70 miles an hour", Flaw::MidThought),
            (
                "Strokes are brain. and then heart attacks follow.",
                Flaw::Case,
            ),
            ("It's, you know, cheaper than gas.", Flaw::Filler),
            ("It is kind of cheaper than gas.", Flaw::Filler),
            (
                "If you go to Kilo.ai and look at our homepage, you see ten models.",
                Flaw::Plug,
            ),
            (
                "Traders is our new podcast. You'll find it wherever you get your podcasts.",
                Flaw::Plug,
            ),
            (
                "Yep. Strokes are brain Yep. Heart attacks follow.",
                Flaw::Backchannel,
            ),
            (
                "The other thing we talked about was self-hosting of Next.js.",
                Flaw::ShowTalk,
            ),
            ("Why do drones fly backwards in wind?", Flaw::Question),
            (
                "How do you graduate releases from tests... You said 10,000 flights a week.",
                Flaw::Question,
            ),
            (
                "Drones fly backwards, developing the logic to... Because most winds are gusty.",
                Flaw::MidThought,
            ),
            (
                "We met in Moms Can Code. -As we all know, it is hard.",
                Flaw::FalseStart,
            ),
            (
                "You're learning, you're... Helping the community.",
                Flaw::FalseStart,
            ),
            (
                "This is Nick Hilton, and I'll be on later to talk about host-read ads.",
                Flaw::ShowTalk,
            ),
            (
                "Link. Topical system, along with AI voice technology, brings radio to life.",
                Flaw::Fragment,
            ),
            (
                "Model for community building. The goal is a lasting impact on your community.",
                Flaw::Fragment,
            ),
            (
                "Drones need wind data. Fountain, questionable. They fly anyway.",
                Flaw::Fragment,
            ),
        ];
        for (text, want) in cases {
            assert!(flaws(text).contains(&want), "{text:?}: {:?}", flaws(text));
        }
    }

    #[test]
    fn a_clean_insight_has_none() {
        for text in [
            "Flying on a wing gives about 10x more range for the same energy than hovering.",
            "A kind of battery made from sodium costs 20 percent less — and it had had no fires.",
            "Zipline released its flight software every six weeks, after tens of thousands of tests.",
            "Costs fell. Sodium cells now cost 20 percent less than lithium ones.",
            "Teams that meet face to face resolve conflict faster than teams that only chat.",
        ] {
            assert!(flaws(text).is_empty(), "{text:?}: {:?}", flaws(text));
        }
    }
}
