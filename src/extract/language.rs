//! The language an episode is spoken in, and its content words.
//!
//! The language is detected from the transcript (whatlang's trigram model), never assumed.
//! English uses podbrief's own stop words for speech (`core::text`) and light singulars; any
//! other language with a Snowball stop-word list and stemmer (tantivy's: Danish, Dutch, Finnish,
//! French, German, Hungarian, Italian, Norwegian, Portuguese, Russian, Spanish, Swedish) uses
//! those, and the English cue lists (sponsor phrases, fillers, claim words) are not applied to it.
//! A language without either gets words without stop-word removal and no cues.

use tantivy::tokenizer::{
    Language as Snowball, LowerCaser, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};

use crate::core::text::content_words;

/// An episode's language, as far as extraction cares.
#[derive(Clone)]
pub enum Language {
    /// English: podbrief's own word lists and cues.
    English,
    /// Another language: its Snowball stop words and stemmer where tantivy has them.
    Other {
        /// The ISO 639-3 code whatlang reports ("spa").
        code: &'static str,
        /// Stop words removed and words stemmed (`None`: no list for this language).
        analyzer: Option<TextAnalyzer>,
    },
}

impl std::fmt::Debug for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl Language {
    /// Detects the language of a transcript's text (English when too short to tell).
    pub fn detect(text: &str) -> Language {
        // A few thousand characters from the middle are plenty and keep detection fast.
        let sample = middle(text, 6_000);
        let Some(info) = whatlang::detect(sample) else {
            return Language::English;
        };
        if info.lang() == whatlang::Lang::Eng || !info.is_reliable() && info.confidence() < 0.5 {
            return Language::English;
        }
        Language::Other {
            code: info.lang().code(),
            analyzer: snowball(info.lang()).map(|lang| {
                let mut b = TextAnalyzer::builder(SimpleTokenizer::default())
                    .filter(LowerCaser)
                    .dynamic();
                if let Some(stop) = StopWordFilter::new(lang) {
                    b = b.filter_dynamic(stop);
                }
                b.filter_dynamic(Stemmer::new(lang)).build()
            }),
        }
    }

    /// Whether the English cue lists apply.
    pub fn is_english(&self) -> bool {
        matches!(self, Language::English)
    }

    /// The ISO 639-3 code ("eng", "spa").
    pub fn code(&self) -> &'static str {
        match self {
            Language::English => "eng",
            Language::Other { code, .. } => code,
        }
    }

    /// The content words of `text` in this language: stop words out, stemmed (singular for
    /// English), no bare numbers.
    pub fn content_words(&self, text: &str) -> Vec<String> {
        self.content_words_each([text]).pop().unwrap_or_default()
    }

    /// [`Language::content_words`] of each text in turn, with one analyser for all of them.
    pub fn content_words_each<'a>(
        &self,
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Vec<Vec<String>> {
        let texts = texts.into_iter();
        match self {
            Language::English => texts.map(content_words).collect(),
            Language::Other {
                analyzer: Some(a), ..
            } => {
                let mut a = a.clone();
                texts
                    .map(|text| {
                        let mut out = Vec::new();
                        let mut stream = a.token_stream(text);
                        while let Some(t) = stream.next() {
                            if t.text.chars().count() > 2 && t.text.chars().any(char::is_alphabetic)
                            {
                                out.push(t.text.clone());
                            }
                        }
                        out
                    })
                    .collect()
            }
            Language::Other { analyzer: None, .. } => texts
                .map(|text| {
                    crate::core::text::words(text)
                        .filter(|w| w.chars().count() > 3 && w.chars().any(char::is_alphabetic))
                        .collect()
                })
                .collect(),
        }
    }
}

/// At most `max` bytes from the middle of `text`, cut at character boundaries.
fn middle(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut a = (text.len() - max) / 2;
    while !text.is_char_boundary(a) {
        a += 1;
    }
    let mut b = (a + max).min(text.len());
    while !text.is_char_boundary(b) {
        b -= 1;
    }
    &text[a..b]
}

/// The Snowball language of a detected language, where tantivy has one.
fn snowball(lang: whatlang::Lang) -> Option<Snowball> {
    use whatlang::Lang::*;
    Some(match lang {
        Dan => Snowball::Danish,
        Nld => Snowball::Dutch,
        Fin => Snowball::Finnish,
        Fra => Snowball::French,
        Deu => Snowball::German,
        Hun => Snowball::Hungarian,
        Ita => Snowball::Italian,
        Nob => Snowball::Norwegian,
        Por => Snowball::Portuguese,
        Rus => Snowball::Russian,
        Spa => Snowball::Spanish,
        Swe => Snowball::Swedish,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_is_detected_and_uses_spanish_words() {
        let es = "Hoy quería haceros un especial sobre Telegram. Alrededor de Telegram hay un \
                  montón de recursos que a lo mejor no conocéis, entonces voy a hacer un resumen \
                  de todos los canales y grupos que tenéis para poder relacionaros.";
        let lang = Language::detect(es);
        assert_eq!(lang.code(), "spa");
        assert!(!lang.is_english());
        let words = lang.content_words("Los canales oficiales y los grupos");
        assert_eq!(words, ["canal", "oficial", "grup"]);
        let en = Language::detect(
            "Heat pumps move heat instead of making it, which is why they use a third of the \
             energy of a gas boiler in most homes.",
        );
        assert!(en.is_english());
    }
}
