//! What the core needs from the rest of podbrief, as traits it owns: lookups over the insights
//! ([`Lookup`]) and the feed list ([`FeedAdmin`]). `app.rs` wires them to the search index and
//! the ingest side; the store is reached through its own trait.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::core::model::{InsightId, InsightView};
use crate::store::StoreError;

/// A lookup failed inside the index; the user gets a generic apology, the log the reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LookupError(pub String);

/// Finds insights: "related to X" and "more like this".
#[async_trait]
pub trait Lookup: Send + Sync {
    /// Insights on `text` (a user's words, with its own `in:` / `since:` filters), best first.
    async fn related_to(
        &self,
        text: &str,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<InsightId>, LookupError>;

    /// Insights like `insight` (never itself; its episode only when `same_episode`), best first.
    fn more_like(
        &self,
        insight: &InsightView,
        limit: usize,
        same_episode: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<InsightId>, LookupError>;

    /// The most common topics of the insights, most frequent first.
    fn top_topics(&self, n: usize) -> Vec<String>;
}

/// Why a change to the feed list from chat was not made.
#[derive(Debug, thiserror::Error)]
pub enum FeedAdminError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The change was refused (a private address, an unknown feed…), said for the user.
    #[error("{0}")]
    Refused(String),
}

/// The feed list, as operators manage it from chat (`/feeds`).
#[async_trait]
pub trait FeedAdmin: Send + Sync {
    /// The feeds and their state, described for a chat.
    async fn describe(&self) -> Result<String, FeedAdminError>;

    /// Adds a feed given in chat (public addresses only, unless configured otherwise); false
    /// when it already is a feed.
    async fn add(&self, url: &str, now: DateTime<Utc>) -> Result<bool, FeedAdminError>;

    /// Removes a feed with its episodes and insights.
    async fn remove(&self, url: &str) -> Result<(), FeedAdminError>;
}
