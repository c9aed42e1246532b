//! The core's ports ([`crate::core::ports`]) on podbrief's parts: lookups on the search index,
//! the chat's feed administration on the ingest side's feed list.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::core::model::{InsightId, InsightView};
use crate::core::ports::{FeedAdmin, FeedAdminError, Lookup, LookupError};
use crate::ingest::manage::{self, ManageError};
use crate::search::{Hit, SearchIndex};
use crate::store::Store;

fn ids(hits: Vec<Hit>) -> Vec<InsightId> {
    hits.into_iter().map(|h| h.id).collect()
}

#[async_trait]
impl Lookup for SearchIndex {
    async fn related_to(
        &self,
        text: &str,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<InsightId>, LookupError> {
        self.search_hybrid(text, limit, now)
            .await
            .map(ids)
            .map_err(|e| LookupError(e.to_string()))
    }

    fn more_like(
        &self,
        insight: &InsightView,
        limit: usize,
        same_episode: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<InsightId>, LookupError> {
        self.related(insight, limit, same_episode, now)
            .map(ids)
            .map_err(|e| LookupError(e.to_string()))
    }

    fn top_topics(&self, n: usize) -> Vec<String> {
        SearchIndex::top_topics(self, n)
    }
}

/// The feed list in the store, managed from chat.
pub struct ChatFeeds {
    /// The store holding the feeds.
    pub store: Arc<dyn Store>,
    /// Whether chat-added feeds may point at private addresses (`ingest.allow_private`).
    pub allow_private: bool,
}

impl From<ManageError> for FeedAdminError {
    fn from(e: ManageError) -> FeedAdminError {
        match e {
            ManageError::Store(e) => FeedAdminError::Store(e),
            other => FeedAdminError::Refused(other.to_string()),
        }
    }
}

#[async_trait]
impl FeedAdmin for ChatFeeds {
    async fn describe(&self) -> Result<String, FeedAdminError> {
        Ok(manage::describe(&self.store.feeds().await?))
    }

    async fn add(&self, url: &str, now: DateTime<Utc>) -> Result<bool, FeedAdminError> {
        Ok(manage::add(self.store.as_ref(), url, true, self.allow_private, now).await?)
    }

    async fn remove(&self, url: &str) -> Result<(), FeedAdminError> {
        manage::remove(self.store.as_ref(), url).await?;
        Ok(())
    }
}
