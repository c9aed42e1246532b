//! Domain types shared by every part of podbrief: what the store keeps and what replies carry.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Row id of a podcast in the store.
pub type PodcastId = i64;
/// Row id of an episode in the store.
pub type EpisodeId = i64;
/// Row id of an insight in the store.
pub type InsightId = i64;
/// Row id of a subscription in the store.
pub type SubscriptionId = i64;

/// The chat platforms podbrief talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// The local console chat (stdin/stdout).
    Console,
    /// Telegram, through the Bot API.
    Telegram,
    /// Discord, through the gateway or the interactions endpoint.
    Discord,
}

impl Platform {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Console => "console",
            Platform::Telegram => "telegram",
            Platform::Discord => "discord",
        }
    }

    /// Parses a stored platform name.
    pub fn parse(s: &str) -> Option<Platform> {
        match s {
            "console" => Some(Platform::Console),
            "telegram" => Some(Platform::Telegram),
            "discord" => Some(Platform::Discord),
            _ => None,
        }
    }
}

/// Where a message comes from or goes to: a chat, and optionally a thread (forum topic) in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChatRef {
    /// The platform of the chat.
    pub platform: Platform,
    /// The platform's id of the chat or channel.
    pub chat_id: String,
    /// A thread or forum topic inside the chat, if any ("" means none in the store).
    pub thread_id: Option<String>,
}

/// Podcast metadata read from a feed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodcastMeta {
    /// The show's title.
    pub title: String,
    /// The show's website.
    pub link: Option<String>,
    /// The show's artwork.
    pub image: Option<String>,
}

/// An episode as read from a feed, before it is stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewEpisode {
    /// Stable identity inside its podcast: the guid, else enclosure URL, else link, else title.
    pub guid: String,
    /// The episode title.
    pub title: String,
    /// The episode's web page.
    pub link: Option<String>,
    /// The audio enclosure.
    pub audio_url: Option<String>,
    /// Publication time, if the feed gives one.
    pub published_at: Option<DateTime<Utc>>,
    /// Duration in seconds, if known.
    pub duration_s: Option<i64>,
    /// The transcript chosen for the episode, if any.
    pub transcript_url: Option<String>,
    /// The transcript's declared type, as the feed gave it.
    pub transcript_kind: Option<String>,
    /// Show notes as plain text.
    pub show_notes: Option<String>,
}

/// A stored episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// Row id.
    pub id: EpisodeId,
    /// The podcast it belongs to.
    pub podcast_id: PodcastId,
    /// Everything read from the feed.
    pub meta: NewEpisode,
    /// Processing status: `new`, `done` or `failed`.
    pub status: String,
}

/// Which engine wrote an insight, and with which prompt: stored with it, so a re-extraction by
/// another engine or prompt leaves a delivered insight as it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// `extractive`, `llm` or `import`.
    pub engine: String,
    /// The prompt's version (`insights-v2`), for an insight an LLM wrote.
    pub prompt_version: Option<String>,
}

impl Origin {
    /// Written by the extractive engine.
    pub fn extractive() -> Origin {
        Origin {
            engine: "extractive".into(),
            prompt_version: None,
        }
    }

    /// Written by the LLM engine with prompt `version`.
    pub fn llm(version: &str) -> Origin {
        Origin {
            engine: "llm".into(),
            prompt_version: Some(version.into()),
        }
    }

    /// Produced elsewhere and imported.
    pub fn import() -> Origin {
        Origin {
            engine: "import".into(),
            prompt_version: None,
        }
    }
}

impl Default for Origin {
    fn default() -> Self {
        Origin::extractive()
    }
}

/// An insight produced by an extractor, before it is stored. It has two parts: the takeaway
/// (`text`, shown first) and the quote it rests on (`quote`, the speaker's exact words, with
/// their time and speaker).
#[derive(Debug, Clone, PartialEq)]
pub struct NewInsight {
    /// The takeaway shown to readers: the cleaned passage (extractive engine) or a statement an
    /// LLM wrote from the quote.
    pub text: String,
    /// The words as said, verbatim from the transcript.
    pub quote: String,
    /// Where the quote starts in the episode, if the transcript is timed.
    pub start_ms: Option<i64>,
    /// Where the quote ends, if known.
    pub end_ms: Option<i64>,
    /// Who said it, if known.
    pub speaker: Option<String>,
    /// Quality score in 0..1, comparable across episodes.
    pub score: f64,
    /// Normalised key phrases.
    pub topics: Vec<String>,
    /// The title of the episode chapter it was said in, if the episode has chapters.
    pub chapter: Option<String>,
    /// The engine (and prompt) that wrote it.
    pub origin: Origin,
}

/// A stored insight with what a reader needs to place it: podcast, episode, link and time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InsightView {
    /// Row id.
    pub id: InsightId,
    /// The takeaway.
    pub text: String,
    /// The verbatim quote.
    pub quote: String,
    /// Start of the quote in the episode, in milliseconds.
    pub start_ms: Option<i64>,
    /// End of the quote, in milliseconds.
    pub end_ms: Option<i64>,
    /// Who said it.
    pub speaker: Option<String>,
    /// Quality score in 0..1.
    pub score: f64,
    /// Key phrases.
    pub topics: Vec<String>,
    /// Hash of the normalised text; equal hashes are the same insight.
    pub content_hash: String,
    /// The episode's id.
    pub episode_id: EpisodeId,
    /// The episode's title.
    pub episode_title: String,
    /// The episode's page, or its audio when it has no page.
    pub episode_link: Option<String>,
    /// The episode's publication time (or when podbrief first saw it).
    pub published_at: DateTime<Utc>,
    /// The podcast's id.
    pub podcast_id: PodcastId,
    /// The podcast's title.
    pub podcast_title: String,
    /// The episode chapter it was said in, if the episode has chapters.
    pub chapter: Option<String>,
}

/// A chat that receives the daily brief.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Row id.
    pub id: SubscriptionId,
    /// Where the brief goes.
    pub chat: ChatRef,
    /// `HH:MM` or a cron expression, in `timezone`.
    pub schedule: String,
    /// IANA timezone name.
    pub timezone: String,
    /// Insights per brief.
    pub size: u8,
    /// Topic filter: plain topics are preferred, `-topic` excluded.
    pub topics: Vec<String>,
    /// The next occurrence, in UTC.
    pub next_run_at: DateTime<Utc>,
    /// Why the subscription is paused, if it is.
    pub paused_reason: Option<String>,
}

/// One insight as presented in a reply: everything an adapter needs to render it. Adapters show
/// the takeaway first, then the quote when [`Card::shown_quote`] gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Card {
    /// The insight's id (for "more like this").
    pub insight_id: InsightId,
    /// The takeaway.
    pub text: String,
    /// The speaker's exact words the takeaway rests on.
    pub quote: String,
    /// The podcast's title.
    pub podcast: String,
    /// The episode's title.
    pub episode: String,
    /// The chapter it was said in, when the episode has chapters.
    pub chapter: Option<String>,
    /// A link to the episode.
    pub link: Option<String>,
    /// Where in the episode it was said, in milliseconds.
    pub start_ms: Option<i64>,
    /// Who said it.
    pub speaker: Option<String>,
    /// Key phrases.
    pub topics: Vec<String>,
}

impl From<&InsightView> for Card {
    fn from(v: &InsightView) -> Self {
        Card {
            insight_id: v.id,
            text: v.text.clone(),
            quote: v.quote.clone(),
            podcast: v.podcast_title.clone(),
            episode: v.episode_title.clone(),
            chapter: v.chapter.clone(),
            link: v.episode_link.clone(),
            start_ms: v.start_ms,
            speaker: v.speaker.clone(),
            topics: v.topics.clone(),
        }
    }
}

impl Card {
    /// The quote, when it says something the takeaway does not (see [`quote_adds`]).
    pub fn shown_quote(&self) -> Option<&str> {
        quote_adds(&self.text, &self.quote).then_some(self.quote.trim())
    }
}

impl InsightView {
    /// The quote, when it says something the takeaway does not (see [`quote_adds`]).
    pub fn shown_quote(&self) -> Option<&str> {
        quote_adds(&self.text, &self.quote).then_some(self.quote.trim())
    }
}

/// Whether a quote is worth showing under its takeaway. It is not when the takeaway is the
/// quote's own words with some left out (fillers, false starts, repeats: what cleaning drops)
/// and at least 40% of them kept: every word of the takeaway, compared without case or
/// punctuation, is a word of the quote in the quote's order. A takeaway written in other words
/// (an LLM's "Ann Lee says…") always shows its quote.
pub fn quote_adds(takeaway: &str, quote: &str) -> bool {
    fn words(s: &str) -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    }
    let (t, q) = (words(takeaway), words(quote));
    if q.is_empty() {
        return false;
    }
    let mut rest = q.iter();
    let subsequence = t.iter().all(|w| rest.any(|x| x == w));
    !(subsequence && t.len() * 10 >= q.len() * 4)
}

/// A platform-neutral answer: some text, then insight cards (each offering "more like this").
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reply {
    /// The message text (plain; adapters escape it for their markup).
    pub text: String,
    /// Insight cards, in order.
    pub cards: Vec<Card>,
}

impl Reply {
    /// A reply of text only.
    pub fn text(text: impl Into<String>) -> Self {
        Reply {
            text: text.into(),
            cards: Vec::new(),
        }
    }
}

/// A chapter of an episode: where it starts and what it is called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chapter {
    /// Start in milliseconds from the beginning of the episode.
    pub start_ms: i64,
    /// The chapter's title.
    pub title: String,
}

/// A moment the publisher marked as worth sharing (`podcast:soundbite`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Soundbite {
    /// Start in milliseconds.
    pub start_ms: i64,
    /// Length in milliseconds.
    pub duration_ms: i64,
    /// The publisher's title for it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// An episode's chapters and soundbites, as the feed and its chapters file give them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeMarks {
    /// The `podcast:chapters` JSON file, resolved against the feed.
    pub chapters_url: Option<String>,
    /// Chapters in time order (from the JSON file once read, else Podlove Simple Chapters).
    pub chapters: Vec<Chapter>,
    /// Soundbites in time order.
    pub soundbites: Vec<Soundbite>,
}

impl EpisodeMarks {
    /// Whether the feed declared nothing.
    pub fn is_empty(&self) -> bool {
        self.chapters_url.is_none() && self.chapters.is_empty() && self.soundbites.is_empty()
    }
}

/// Formats a millisecond offset as `M:SS` or `H:MM:SS`.
pub fn format_timestamp(ms: i64) -> String {
    let total = ms.max(0) / 1000;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_is_shown_only_when_it_says_more_than_its_takeaway() {
        // Cleaning dropped a false start and a filler: the same words, not shown twice.
        assert!(!quote_adds(
            "With Kilo, you can use over 500 models.",
            "With Kilo, we pride ourselves on -- you know, you can use over 500 models."
        ));
        assert!(!quote_adds(
            "Tides turn twice a day.",
            "tides turn twice a day"
        ));
        // A written takeaway: shown.
        assert!(quote_adds(
            "Ann Lee says tidal turbines in Orkney run twice a day.",
            "Our turbines run twice a day, every day."
        ));
        // Most of the quote left out: shown.
        assert!(quote_adds(
            "Tides turn.",
            "Tides turn twice a day and the lagoon fills up every time."
        ));
        assert!(!quote_adds("Anything.", ""));
    }

    #[test]
    fn timestamps_format_like_players_show_them() {
        assert_eq!(format_timestamp(0), "0:00");
        assert_eq!(format_timestamp(754_000), "12:34");
        assert_eq!(format_timestamp(3_723_000), "1:02:03");
    }
}
