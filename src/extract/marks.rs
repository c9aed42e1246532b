//! What an episode's chapters and soundbites say about its passages: which chapter a moment
//! belongs to, whether that chapter is a sponsor slot, and how much a passage's place (near a
//! chapter's start, sharing words with its title, inside a soundbite) adds to its score.

use crate::core::model::{Chapter, NewInsight, Soundbite};
use crate::core::text::content_words;

/// Most a passage gains from its chapter (start and title words together), as a fraction.
pub const CHAPTER_BOOST_MAX: f64 = 0.15;
/// What a passage wholly inside a soundbite gains, as a fraction.
pub const SOUNDBITE_BOOST: f64 = 0.5;
/// A passage starting this close after a chapter's start (ms) gets the full start bonus.
const NEAR_START_MS: i64 = 30_000;
/// ... fading to nothing this far after it.
const FAR_FROM_START_MS: i64 = 120_000;

/// The chapter a moment falls in: the last one starting at or before it.
pub fn chapter_at(chapters: &[Chapter], ms: i64) -> Option<&Chapter> {
    let i = chapters.partition_point(|c| c.start_ms <= ms);
    i.checked_sub(1).map(|i| &chapters[i])
}

/// Whether a chapter title names an ad slot: "Sponsor", "Ad break", "Sponsored by Acme",
/// "Mid-roll", "Break", "Ad: Acme"…
pub fn is_sponsor_title(title: &str) -> bool {
    let lower = title.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    const WORDS: &[&str] = &[
        "sponsor",
        "sponsors",
        "sponsored",
        "sponsorship",
        "advert",
        "adverts",
        "advertisement",
        "advertisements",
        "advertising",
        "ads",
        "commercials",
        "midroll",
        "preroll",
        "postroll",
        "promo",
    ];
    if words.iter().any(|w| WORDS.contains(w)) {
        return true;
    }
    let compact = lower.replace(['-', ' '], "");
    if ["midroll", "preroll", "postroll", "commercialbreak"]
        .iter()
        .any(|r| compact.contains(r))
    {
        return true;
    }
    match words.as_slice() {
        ["break"] | ["ad"] | ["intermission"] => true,
        // "Ad break", "Ad read", "Ad: Acme" — but not "Ad hoc networks".
        ["ad", second, ..] => {
            matches!(*second, "break" | "read" | "spot" | "slot" | "segment")
                || lower.trim_start().starts_with("ad:")
        }
        _ => false,
    }
}

/// How much a passage from `start_ms` to `end_ms` gains from the episode's marks, as a fraction
/// of its score, and the chapter it is in. Chapters: up to [`CHAPTER_BOOST_MAX`] for starting
/// right after a chapter begins and for sharing words with its title. Soundbites: up to
/// [`SOUNDBITE_BOOST`], in proportion to how much of the passage (or of the soundbite, if
/// shorter) they cover.
pub fn boost(
    chapters: &[Chapter],
    soundbites: &[Soundbite],
    start_ms: i64,
    end_ms: Option<i64>,
    text: &str,
) -> f64 {
    let mut b = 0.0;
    if let Some(ch) = chapter_at(chapters, start_ms) {
        let since = start_ms - ch.start_ms;
        let near = if since <= NEAR_START_MS {
            1.0
        } else {
            (1.0 - (since - NEAR_START_MS) as f64 / (FAR_FROM_START_MS - NEAR_START_MS) as f64)
                .max(0.0)
        };
        let title = content_words(&ch.title);
        let overlap = if title.is_empty() {
            0.0
        } else {
            let words = content_words(text);
            title.iter().filter(|w| words.contains(w)).count() as f64 / title.len() as f64
        };
        b += (0.06 * near + 0.09 * overlap).min(CHAPTER_BOOST_MAX);
    }
    let end = end_ms.filter(|e| *e > start_ms).unwrap_or(start_ms + 1);
    let covered = soundbites
        .iter()
        .map(|s| {
            let (a, z) = (s.start_ms, s.start_ms + s.duration_ms);
            let inside = (end.min(z) - start_ms.max(a)).max(0);
            inside as f64 / (end - start_ms).min(s.duration_ms).max(1) as f64
        })
        .fold(0.0, f64::max)
        .min(1.0);
    b + SOUNDBITE_BOOST * covered
}

/// Places insights of any engine in the episode's chapters: each timed insight gets its
/// chapter's title, and one said inside a sponsor chapter is dropped.
pub fn place_in_chapters(insights: &mut Vec<NewInsight>, chapters: &[Chapter]) {
    if chapters.is_empty() {
        return;
    }
    insights.retain_mut(|i| {
        let Some(ch) = i.start_ms.and_then(|t| chapter_at(chapters, t)) else {
            return true;
        };
        if is_sponsor_title(&ch.title) {
            return false;
        }
        i.chapter.get_or_insert_with(|| ch.title.clone());
        true
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(start_s: i64, title: &str) -> Chapter {
        Chapter {
            start_ms: start_s * 1000,
            title: title.into(),
        }
    }

    #[test]
    fn moments_fall_in_the_last_chapter_started() {
        let c = [ch(10, "A"), ch(60, "B"), ch(120, "C")];
        assert_eq!(chapter_at(&c, 5_000), None);
        assert_eq!(chapter_at(&c, 10_000).unwrap().title, "A");
        assert_eq!(chapter_at(&c, 119_999).unwrap().title, "B");
        assert_eq!(chapter_at(&c, 9_999_999).unwrap().title, "C");
        assert_eq!(chapter_at(&[], 1), None);
    }

    #[test]
    fn sponsor_titles() {
        for t in [
            "Sponsor",
            "Ad break",
            "Sponsored by Acme",
            "Thanks to our sponsors",
            "Mid-roll",
            "Pre roll",
            "Break",
            "Ad: Acme",
            "Advertisement",
            "ADS",
            "Commercial break",
        ] {
            assert!(is_sponsor_title(t), "{t}");
        }
        for t in [
            "Ad hoc networks",
            "Breaking the monolith",
            "Adam's story",
            "Commercial fishing quotas",
            "Intro",
            "",
        ] {
            assert!(!is_sponsor_title(t), "{t}");
        }
    }

    #[test]
    fn soundbites_boost_clearly_and_chapters_modestly() {
        let chapters = [ch(0, "Intro"), ch(100, "Tidal lagoons")];
        let bites = [Soundbite {
            start_ms: 300_000,
            duration_ms: 30_000,
            text: None,
        }];
        let plain = boost(
            &chapters,
            &bites,
            250_000,
            Some(260_000),
            "Costs fell fast.",
        );
        assert_eq!(plain, 0.0);
        let near_title = boost(
            &chapters,
            &bites,
            105_000,
            Some(115_000),
            "Tidal lagoons store water.",
        );
        assert!(
            near_title > 0.1 && near_title <= CHAPTER_BOOST_MAX,
            "{near_title}"
        );
        let inside = boost(
            &chapters,
            &bites,
            305_000,
            Some(315_000),
            "Costs fell fast.",
        );
        assert!((inside - SOUNDBITE_BOOST).abs() < 1e-9, "{inside}");
        let half = boost(
            &chapters,
            &bites,
            325_000,
            Some(335_000),
            "Costs fell fast.",
        );
        assert!((half - SOUNDBITE_BOOST / 2.0).abs() < 1e-9, "{half}");
    }

    #[test]
    fn insights_get_their_chapter_and_sponsor_chapters_drop_theirs() {
        let chapters = [ch(0, "Intro"), ch(60, "Sponsor"), ch(120, "Lagoons")];
        let ins = |t: Option<i64>| NewInsight {
            text: "x".into(),
            quote: "x".into(),
            start_ms: t,
            end_ms: None,
            speaker: None,
            score: 0.5,
            topics: vec![],
            chapter: None,
            origin: crate::core::model::Origin::extractive(),
        };
        let mut v = vec![
            ins(Some(10_000)),
            ins(Some(70_000)),
            ins(Some(130_000)),
            ins(None),
        ];
        place_in_chapters(&mut v, &chapters);
        let got: Vec<Option<&str>> = v.iter().map(|i| i.chapter.as_deref()).collect();
        assert_eq!(got, [Some("Intro"), Some("Lagoons"), None]);
    }
}
