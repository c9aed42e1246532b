//! Insight extraction: an [`Extractor`] turns an episode's transcript into a few short,
//! self-contained insights. The extractive engine needs no network and is the default.

use async_trait::async_trait;

use crate::core::model::NewInsight;
use crate::ingest::transcript::Segment;

pub mod clean;
pub mod dedup;
pub mod eval;
pub mod extractive;
pub mod flaws;
pub mod language;
pub mod llm;
pub mod marks;
pub mod segment;
pub mod sentences;
pub mod structure;

pub use dedup::DedupAcrossEpisodes;
pub use extractive::ExtractiveEngine;
pub use llm::LlmEngine;

/// What an extractor reads: an episode's words and where they came from.
#[derive(Debug, Clone, Default)]
pub struct EpisodeText {
    /// The podcast's title (for context; never copied into insights).
    pub podcast: String,
    /// The episode's title.
    pub title: String,
    /// Transcript segments (or show notes as untimed segments), in order.
    pub segments: Vec<Segment>,
    /// The episode's chapters and soundbites (empty when the feed gives none).
    pub marks: crate::core::model::EpisodeMarks,
    /// The episode's show notes as text, when the feed gives them: their topic lines mark
    /// passages worth covering.
    pub notes: Option<String>,
}

/// Why extraction failed.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The input was unusable.
    #[error("cannot extract insights: {0}")]
    Input(String),
}

/// Turns an episode into insights.
#[async_trait]
pub trait Extractor: Send + Sync {
    /// A short name for logs.
    fn name(&self) -> &'static str;
    /// The best insights of the episode, best first.
    async fn extract(&self, episode: &EpisodeText) -> Result<Vec<NewInsight>, ExtractError>;
}
