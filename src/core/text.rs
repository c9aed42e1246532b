//! Small text tools shared by extraction, ranking and search: words, stop words, topics,
//! near-duplicate checks and content hashes.

use std::collections::HashSet;
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

/// Common English words that carry no topic.
pub const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "actually",
    "after",
    "again",
    "against",
    "all",
    "almost",
    "also",
    "always",
    "am",
    "an",
    "and",
    "any",
    "anything",
    "are",
    "around",
    "as",
    "at",
    "back",
    "basically",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "big",
    "bit",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "done",
    "down",
    "during",
    "each",
    "either",
    "else",
    "even",
    "ever",
    "every",
    "few",
    "first",
    "for",
    "from",
    "further",
    "get",
    "gets",
    "getting",
    "go",
    "goes",
    "going",
    "gonna",
    "good",
    "got",
    "great",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "kind",
    "know",
    "last",
    "let",
    "like",
    "little",
    "lot",
    "lots",
    "make",
    "makes",
    "many",
    "may",
    "maybe",
    "me",
    "mean",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "need",
    "never",
    "new",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "oh",
    "ok",
    "okay",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "people",
    "pretty",
    "put",
    "quite",
    "really",
    "right",
    "said",
    "same",
    "say",
    "says",
    "see",
    "she",
    "should",
    "so",
    "some",
    "something",
    "sort",
    "still",
    "such",
    "sure",
    "take",
    "than",
    "that",
    "thats",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "thing",
    "things",
    "think",
    "this",
    "those",
    "though",
    "through",
    "to",
    "too",
    "totally",
    "two",
    "uh",
    "um",
    "under",
    "until",
    "up",
    "us",
    "use",
    "used",
    "very",
    "want",
    "was",
    "way",
    "we",
    "well",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "yeah",
    "yes",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "dont",
    "didnt",
    "doesnt",
    "isnt",
    "wasnt",
    "cant",
    "wont",
    "youre",
    "were",
    "theyre",
    "ive",
    "im",
    "id",
    "ill",
    "hes",
    "shes",
    "weve",
    "youve",
    "theres",
    "whats",
    "lets",
    "gotta",
    "wanna",
    "stuff",
    "year",
    "years",
    "time",
    "times",
    "day",
    "days",
    "today",
    "week",
    "episode",
    "show",
    "podcast",
    "talk",
    "talking",
    "look",
    "looking",
    "come",
    "coming",
    "came",
    "went",
    "give",
    "gave",
    "call",
    "called",
    "work",
    "works",
    "part",
];

/// Whether `w` (lowercase) is a stop word.
pub fn is_stop_word(w: &str) -> bool {
    static SET: LazyLock<HashSet<&'static str>> =
        LazyLock::new(|| STOP_WORDS.iter().copied().collect());
    SET.contains(w)
}

/// Lowercase words of `text` (letters, digits, inner apostrophes and `+`/`#` as in c++ or c#),
/// with apostrophes dropped ("don't" → "dont").
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’' || c == '+' || c == '#'))
        .map(|w| {
            let w = w
                .strip_suffix("'s")
                .or_else(|| w.strip_suffix("’s"))
                .unwrap_or(w);
            w.trim_start_matches(|c: char| !c.is_alphanumeric())
                .trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '+' || c == '#'))
                .chars()
                .filter(|c| *c != '\'' && *c != '’')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
}

/// A light English singular form for topics ("chips" → "chip", "batteries" → "battery").
pub fn singular(w: &str) -> String {
    let n = w.chars().count();
    if n <= 3 || w.ends_with("ss") || w.ends_with("us") || w.ends_with("is") {
        return w.to_string();
    }
    if let Some(stem) = w.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for suffix in ["ches", "shes", "xes", "sses"] {
        if w.ends_with(suffix) {
            return w[..w.len() - 2].to_string();
        }
    }
    match w.strip_suffix('s') {
        Some(stem) => stem.to_string(),
        None => w.to_string(),
    }
}

/// Normalises a topic: lowercase words, single spaces, the last word singular.
pub fn normalize_topic(t: &str) -> String {
    let mut ws: Vec<String> = words(t).collect();
    if let Some(last) = ws.last_mut() {
        *last = singular(last);
    }
    ws.join(" ")
}

/// The content words of `text`: lowercase, singular, no stop words, no bare numbers.
pub fn content_words(text: &str) -> Vec<String> {
    words(text)
        .filter(|w| !is_stop_word(w) && w.chars().any(char::is_alphabetic) && w.chars().count() > 1)
        .map(|w| singular(&w))
        .collect()
}

/// A word's stem for topic matching: singular, and without a verb ending (`-ing`, `-ed`) when
/// a stem of three letters or more is left, so "roasting", "roasted" and "roasts" all read
/// "roast".
pub fn stem(word: &str) -> String {
    let w = singular(word);
    for suffix in ["ing", "ed"] {
        if let Some(base) = w.strip_suffix(suffix)
            && base.chars().count() >= 3
        {
            // "dialling" → "dial", "stopped" → "stop".
            let mut base: Vec<char> = base.chars().collect();
            if base.len() >= 4 && base[base.len() - 1] == base[base.len() - 2] {
                base.pop();
            }
            return base.into_iter().collect();
        }
    }
    w
}

/// The stems of `text`'s content words (see [`stem`]).
pub fn stems(text: &str) -> Vec<String> {
    content_words(text).iter().map(|w| stem(w)).collect()
}

/// Jaccard similarity of the content-word sets of two texts (0 = nothing shared, 1 = same).
pub fn similarity(a: &str, b: &str) -> f64 {
    let a: HashSet<String> = content_words(a).into_iter().collect();
    let b: HashSet<String> = content_words(b).into_iter().collect();
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let inter = a.intersection(&b).count() as f64;
    let union = a.union(&b).count() as f64;
    inter / union
}

/// Two insights at least this similar are the same insight said twice.
pub const NEAR_DUPLICATE: f64 = 0.6;

/// The identity of an insight's content: a hash of its words, so the same takeaway stored from
/// two episodes (or twice from one) is kept once.
pub fn content_hash(text: &str) -> String {
    let normalized: Vec<String> = words(text).collect();
    let digest = Sha256::digest(normalized.join(" ").as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_normalised() {
        assert_eq!(normalize_topic("  Chip  Exports "), "chip export");
        assert_eq!(normalize_topic("Batteries"), "battery");
        assert_eq!(normalize_topic("-"), "");
    }

    #[test]
    fn stems_join_a_words_forms() {
        for w in ["roasting", "roasted", "roasts", "roast"] {
            assert_eq!(stem(w), "roast", "{w}");
        }
        assert_eq!(stem("dialling"), "dial");
        assert_eq!(stem("dialing"), "dial");
        assert_eq!(stem("coffees"), "coffee");
        assert_eq!(stem("red"), "red");
        assert_eq!(stem("sing"), "sing");
        assert_eq!(stems("Dialing In Your Coffee"), ["dial", "coffee"]);
    }

    #[test]
    fn words_keep_programming_names() {
        let w: Vec<String> = words("C++ and C# aren't the country's \"foo\"").collect();
        assert_eq!(w, ["c++", "and", "c#", "arent", "the", "country", "foo"]);
    }

    #[test]
    fn near_duplicates_are_similar() {
        let a = "Sodium-ion cells cost about 20 percent less than lithium iron phosphate.";
        let b = "Sodium-ion cells cost about 20 percent less than lithium iron phosphate cells.";
        assert!(similarity(a, b) > NEAR_DUPLICATE);
        assert!(similarity(a, "Sourdough starters need flour and water.") < 0.1);
        assert_eq!(content_hash("Hello, world!"), content_hash("hello world"));
    }
}
