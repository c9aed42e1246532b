//! Keeping the index in step with the store: at start (and every so often while running) the
//! insights newer than the last one indexed are added, together with any insight of the last
//! [`RECHECK_IDS`] ids the index lacks; a rebuild empties the index and adds everything again.
//!
//! Why the re-read: on PostgreSQL an insight's id comes from a sequence when it is inserted, not
//! when its transaction commits, so a lower id can become visible after a higher one (two
//! instances storing insights at the same time). Following strictly after the last indexed id
//! would skip it for ever; re-reading a window of recent ids picks it up on the next follow.
//!
//! Episodes' subjects (what "more like this" compares episodes by) live in the store and in the
//! index's memory: all of them are read when the index first follows, and those of the episodes
//! of newly indexed insights as they come.

use super::{SearchError, SearchIndex};
use crate::store::{Store, StoreError};

/// A failure while filling the index from the store.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Reading the store failed.
    #[error("reading insights from the store: {0}")]
    Store(#[from] StoreError),
    /// Writing the index failed.
    #[error(transparent)]
    Index(#[from] SearchError),
}

/// Insights read from the store per batch.
const BATCH: i64 = 5_000;

/// How many ids below the last indexed one each follow reads again, adding those the index lacks
/// (ids committed out of order). Far more than the insights concurrent transactions hold at once.
pub const RECHECK_IDS: i64 = 1_000;

/// Adds every stored insight newer than the index's last indexed id, and any of the last
/// [`RECHECK_IDS`] ids below it that the index lacks. Insights already indexed are not written
/// again. Returns how many were added.
pub async fn follow(store: &dyn Store, index: &SearchIndex) -> Result<u64, SyncError> {
    if index.subjects_known() == 0 {
        for (episode, subject) in store.episode_subjects(None).await? {
            index.set_episode_subject(episode, &subject);
        }
    }
    let mut after = (index.last_indexed_id() - RECHECK_IDS).max(0);
    let mut added = 0u64;
    loop {
        let batch = store.insights_after(after, BATCH).await?;
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            break;
        };
        let present = index.ids_between(first.id, last.id)?;
        after = last.id;
        let missing: Vec<_> = batch
            .into_iter()
            .filter(|v| !present.contains(&v.id))
            .collect();
        let mut unknown: Vec<i64> = missing
            .iter()
            .map(|v| v.episode_id)
            .filter(|e| !index.knows_subject(*e))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        for (episode, subject) in store.episode_subjects(Some(&unknown)).await? {
            index.set_episode_subject(episode, &subject);
        }
        index.add(&missing)?;
        added += missing.len() as u64;
    }
    Ok(added)
}

/// Empties the index and indexes every stored insight again. Returns how many.
pub async fn rebuild(store: &dyn Store, index: &SearchIndex) -> Result<u64, SyncError> {
    index.clear()?;
    follow(store, index).await
}

/// Opens the index a config names (its directory, or memory), turns on semantic ranking when
/// `[embeddings]` is set, and adds what the store has that the index lacks. When another
/// podbrief process holds the index (a running bot while `podbrief related` asks), this one
/// reads it as it is.
pub async fn open_for(
    config: &crate::config::Config,
    store: &dyn Store,
) -> anyhow::Result<SearchIndex> {
    use anyhow::Context;
    let index = match config.index_dir() {
        Some(dir) => SearchIndex::open(&dir)
            .with_context(|| format!("opening the search index in {}", dir.display()))?,
        None => SearchIndex::in_memory().context("creating the search index")?,
    };
    if let Some(why) = &index.status().reset_reason {
        tracing::info!(reason = %why, "the search index is rebuilt from the database");
    }
    let e = &config.embeddings;
    if !e.base_url.is_empty() {
        let client = super::embed::EmbeddingClient::new(
            &e.base_url,
            &e.model,
            config.secret(&e.api_key_env),
            e.timeout.get(),
        )
        .context("embeddings.base_url")?;
        index
            .set_embeddings(client)
            .context("loading insight vectors")?;
    }
    match follow(store, &index).await {
        Ok(n) => {
            let s = index.status();
            tracing::info!(
                docs = s.docs,
                loaded = s.docs_at_open,
                indexed = n,
                "search index ready"
            );
        }
        Err(SyncError::Index(SearchError::Busy(dir))) => {
            tracing::warn!(dir = %dir.display(), "the search index is in use by another podbrief process; reading it as it is");
        }
        Err(e) => return Err(e).context("bringing the search index up to date"),
    }
    if index.semantic_enabled()
        && let Err(e) = index.embed_pending().await
    {
        tracing::warn!(error = %e, "embeddings endpoint failed; lookups use BM25 until it answers");
    }
    Ok(index)
}
