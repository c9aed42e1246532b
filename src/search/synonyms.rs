//! Offline synonyms for lookups, so a query worded differently from the talk still finds it
//! without an embeddings endpoint.
//!
//! Two word lists ship compiled into the binary (gzip, through the `thesaurus-wordnet` and
//! `thesaurus-moby` crates): WordNet's synsets (tight: the words of a sense, about three per
//! word) and Moby's thesaurus (broad: about eighty per word, many of other senses). A WordNet
//! synonym weighs [`WORDNET_WEIGHT`]; a Moby synonym counts only when the two words list each
//! other (which drops most of Moby's loose associations) and weighs [`MOBY_WEIGHT`]. Both weigh
//! less than the words typed. Only one-word synonyms are used (the index matches words, not
//! phrases).
//!
//! The lists are read once, on the first lookup that asks (or earlier through [`warm`]), and
//! kept as their uncompressed text with an index of headwords, so each expansion is a few hash
//! lookups and the stemming of its synonyms.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The weight of a WordNet synonym against 1 for a typed word.
pub const WORDNET_WEIGHT: f32 = 0.5;
/// The weight of a Moby synonym (listed both ways) against 1 for a typed word.
pub const MOBY_WEIGHT: f32 = 0.3;

/// One word list: its text (`head|synonym|synonym…` lines) and where each head's lines are.
struct List {
    text: String,
    heads: HashMap<Box<str>, Vec<(u32, u32)>>,
}

impl List {
    fn new(text: String) -> List {
        let mut heads: HashMap<Box<str>, Vec<(u32, u32)>> = HashMap::new();
        let mut start = 0usize;
        for line in text.split_inclusive('\n') {
            let end = start + line.trim_end().len();
            if let Some((head, _)) = text[start..end].split_once('|') {
                heads
                    .entry(head.into())
                    .or_default()
                    .push((start as u32, end as u32));
            }
            start += line.len();
        }
        List { text, heads }
    }

    /// The one-word synonyms listed for `head`.
    fn synonyms<'a>(&'a self, head: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.heads
            .get(head)
            .into_iter()
            .flatten()
            .flat_map(move |&(s, e)| self.text[s as usize..e as usize].split('|').skip(1))
            .filter(|w| is_word(w))
    }

    /// Whether `head` lists `word`.
    fn lists(&self, head: &str, word: &str) -> bool {
        self.synonyms(head).any(|w| w == word)
    }
}

/// A single word of letters (an inner hyphen or apostrophe allowed).
fn is_word(w: &str) -> bool {
    !w.is_empty()
        && w.chars()
            .all(|c| c.is_alphabetic() || c == '-' || c == '\'')
        && w.chars().next().is_some_and(char::is_alphabetic)
}

/// Both word lists.
pub struct Thesaurus {
    wordnet: List,
    moby: List,
}

static THESAURUS: OnceLock<Thesaurus> = OnceLock::new();

/// The thesaurus, read on first use.
pub fn thesaurus() -> &'static Thesaurus {
    THESAURUS.get_or_init(|| Thesaurus {
        wordnet: List::new(thesaurus_wordnet::uncompress()),
        moby: List::new(thesaurus_moby::uncompress()),
    })
}

/// Reads the word lists now (a process that will answer lookups calls this at start, off the
/// request path).
pub fn warm() {
    let _ = thesaurus();
}

impl Thesaurus {
    /// The synonyms of `word` (lowercase, as typed) with their weights, best first, without
    /// `word` itself: WordNet's, then Moby's that list `word` back.
    pub fn synonyms(&self, word: &str) -> Vec<(&str, f32)> {
        let mut out: Vec<(&str, f32)> = Vec::new();
        let wordnet = self.wordnet.synonyms(word).map(|w| (w, WORDNET_WEIGHT));
        let moby = self
            .moby
            .synonyms(word)
            .filter(|w| self.moby.lists(w, word))
            .map(|w| (w, MOBY_WEIGHT));
        for (w, weight) in wordnet.chain(moby) {
            if w != word && !out.iter().any(|(o, _)| *o == w) {
                out.push((w, weight));
            }
        }
        out
    }
}

/// The forms under which a typed word may be a headword: itself and, for a plural, its
/// singular ("quarrels" → "quarrel", "stories" → "story").
pub fn head_forms(word: &str) -> Vec<String> {
    let mut out = vec![word.to_string()];
    if let Some(stem) = word.strip_suffix("ies").filter(|s| s.len() >= 2) {
        out.push(format!("{stem}y"));
    } else if let Some(stem) = word
        .strip_suffix("es")
        .filter(|s| s.ends_with(['s', 'x', 'h']))
    {
        out.push(stem.to_string());
    } else if let Some(stem) = word
        .strip_suffix('s')
        .filter(|s| s.len() >= 3 && !s.ends_with('s'))
    {
        out.push(stem.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_with_a_tight_synonym_find_it() {
        let t = thesaurus();
        let s = t.synonyms("solitude");
        assert!(s.iter().any(|(w, _)| *w == "loneliness"), "{s:?}");
        let s = t.synonyms("drowsiness");
        assert!(s.iter().any(|(w, _)| *w == "sleepiness"), "{s:?}");
        // WordNet's weigh more than Moby's, and both less than a typed word.
        assert!(s.iter().all(|(_, weight)| *weight < 1.0));
        assert!(s.windows(2).all(|p| p[0].1 >= p[1].1), "{s:?}");
    }

    #[test]
    fn loose_associations_are_left_out() {
        let t = thesaurus();
        // Moby lists "arrow" for "quarrel" (a crossbow bolt), but "arrow" does not list it back.
        let s = t.synonyms("quarrel");
        assert!(!s.iter().any(|(w, _)| *w == "arrowhead"), "{s:?}");
        assert!(s.iter().any(|(w, _)| *w == "conflict"), "{s:?}");
        assert!(t.synonyms("zzzzqx").is_empty());
        assert!(s.iter().all(|(w, _)| is_word(w)));
    }

    #[test]
    fn plurals_are_looked_up_as_singulars() {
        assert_eq!(head_forms("quarrels"), ["quarrels", "quarrel"]);
        assert_eq!(head_forms("stories"), ["stories", "story"]);
        assert_eq!(head_forms("boxes"), ["boxes", "box"]);
        assert_eq!(head_forms("glass"), ["glass"]);
    }
}
