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
}

impl Flaw {
    /// Every kind, in report order.
    pub const ALL: [Flaw; 9] = [
        Flaw::FalseStart,
        Flaw::Repeat,
        Flaw::MidThought,
        Flaw::Case,
        Flaw::Filler,
        Flaw::Plug,
        Flaw::Backchannel,
        Flaw::ShowTalk,
        Flaw::Question,
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

/// The flaws of an insight's text, each kind once, in report order.
pub fn flaws(text: &str) -> Vec<Flaw> {
    let mut out = Vec::new();
    let lower = format!(" {} ", text.to_lowercase());
    let toks: Vec<&str> = text.split_whitespace().collect();
    let ws = lower_words(text);

    if text.contains("  ")
        || toks.iter().any(|t| {
            *t == "-" || *t == "--" || t.contains("--") || (t.ends_with('-') && t.len() > 1)
        })
    {
        out.push(Flaw::FalseStart);
    }
    if ws
        .windows(2)
        .any(|w| !w[0].is_empty() && w[0] == w[1] && w[0] != "had")
        || (2..=4).any(|n| {
            ws.windows(2 * n)
                .any(|w| w[..n] == w[n..] && w[..n].iter().all(|x| !x.is_empty()))
        })
    {
        out.push(Flaw::Repeat);
    }
    let last = toks.last().copied().unwrap_or("");
    let last_word = ws.last().map(String::as_str).unwrap_or("");
    let trailed_inside = toks.windows(2).any(|w| {
        let bare = w[0]
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        (w[0].ends_with("...") || w[0].ends_with('…')) && DANGLING.contains(&bare.as_str())
    });
    if trailed_inside
        || last.ends_with(['-', ',', ';', ':'])
        || last.ends_with("--")
        || DANGLING.contains(&last_word)
        || !last
            .trim_end_matches(['"', '”', '’', ')'])
            .ends_with(['.', '!', '?', '…'])
    {
        out.push(Flaw::MidThought);
    }
    let mut after_stop = true;
    let mut bad_case = false;
    for t in &toks {
        let first = t.chars().find(|c| c.is_alphanumeric());
        if after_stop && first.is_some_and(char::is_lowercase) {
            bad_case = true;
        }
        if *t == "i" || t.starts_with("i'") {
            bad_case = true;
        }
        if first.is_some() {
            after_stop = t
                .trim_end_matches(['"', '”', '’', ')'])
                .ends_with(['.', '!', '?']);
        }
    }
    if bad_case {
        out.push(Flaw::Case);
    }
    let hedge = ws.windows(3).any(|w| {
        (w[1] == "kind" || w[1] == "sort")
            && w[2] == "of"
            && !matches!(
                w[0].as_str(),
                "a" | "the"
                    | "this"
                    | "that"
                    | "what"
                    | "some"
                    | "any"
                    | "every"
                    | "one"
                    | "which"
                    | "no"
                    | "same"
                    | "different"
                    | "another"
                    | "these"
                    | "those"
                    | "whatever"
                    | "all"
                    | "certain"
                    | "particular"
                    | "new"
                    | "right"
                    | "wrong"
            )
    });
    if hedge || FILLER_PHRASES.iter().any(|f| lower.contains(f)) {
        out.push(Flaw::Filler);
    }
    let url = toks.iter().any(|t| {
        let t = t
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '/' && c != '.')
            .trim_end_matches('.');
        t.split_once('.').is_some_and(|(name, rest)| {
            let tld = rest.split('/').next().unwrap_or("").to_lowercase();
            name.chars().any(char::is_alphabetic)
                && DOMAINS.contains(&tld.as_str())
                && !rest.contains('.')
        })
    });
    if url || PLUG_PHRASES.iter().any(|p| lower.contains(p)) {
        out.push(Flaw::Plug);
    }
    let ack_sentence = text.split_inclusive(['.', '!', '?']).any(|s| {
        let w = lower_words(s);
        !w.is_empty() && w.iter().all(|x| ACKS.contains(&x.as_str()))
    });
    let ack_inside = toks.windows(2).any(|w| {
        let prev_open = !w[0].ends_with([',', '.', '!', '?', ';', ':', '—']);
        let cap = w[1].chars().next().is_some_and(char::is_uppercase);
        let word = w[1]
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '-')
            .to_lowercase();
        prev_open && cap && ["yep", "yeah", "mm-hmm", "uh-huh"].contains(&word.as_str())
    });
    if ack_sentence || ack_inside {
        out.push(Flaw::Backchannel);
    }
    if SHOW_PHRASES.iter().any(|p| lower.contains(p)) {
        out.push(Flaw::ShowTalk);
    }
    let asks = text.split_inclusive(['.', '!', '?']).any(|sentence| {
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
    if asks || text.trim_end().ends_with('?') || text.matches('?').count() >= 2 {
        out.push(Flaw::Question);
    }
    out
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
        ] {
            assert!(flaws(text).is_empty(), "{text:?}: {:?}", flaws(text));
        }
    }
}
