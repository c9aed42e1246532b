//! Managing the feed list: what `podbrief feeds …` and the operators' `/feeds` chat command do.

use chrono::{DateTime, Utc};

use super::guard::check_chat_url;
use super::opml::{export_opml, parse_opml};
use crate::store::{FeedRow, Store, StoreError};

/// Why a feed change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A chat-given URL is not allowed.
    #[error(transparent)]
    Guard(#[from] super::guard::GuardError),
    /// Bad OPML.
    #[error(transparent)]
    Opml(#[from] super::opml::OpmlError),
    /// Not a known feed.
    #[error("no feed {0}")]
    Unknown(String),
}

/// One line per feed: title, URL, episodes, and state (next poll, failures, disabled reason).
pub fn describe(feeds: &[FeedRow]) -> String {
    if feeds.is_empty() {
        return "No feeds yet. Add one with `podbrief feeds add URL`.".into();
    }
    feeds
        .iter()
        .map(|f| {
            let state = match (&f.disabled_reason, &f.last_error) {
                (Some(r), _) => format!("DISABLED: {r} (podbrief feeds enable {})", f.feed_url),
                (None, Some(e)) => format!("failing ({} in a row): {e}", f.failures),
                (None, None) => match f.next_poll_at {
                    Some(t) => format!("ok, next poll {}", t.format("%Y-%m-%d %H:%M UTC")),
                    None => "due now".into(),
                },
            };
            format!(
                "{} — {} · {} episodes · {state}",
                f.title, f.feed_url, f.episodes
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Adds a feed. From chat (`from_chat`), the URL must be public unless `allow_private`.
pub async fn add(
    store: &dyn Store,
    url: &str,
    from_chat: bool,
    allow_private: bool,
    now: DateTime<Utc>,
) -> Result<bool, ManageError> {
    let url = url.trim();
    if from_chat {
        check_chat_url(url, allow_private).await?;
    } else if url.is_empty() {
        return Err(ManageError::Unknown(url.into()));
    }
    Ok(store.add_feed(url, now).await?)
}

/// Removes a feed with its episodes and insights; returns its podcast id.
pub async fn remove(store: &dyn Store, url: &str) -> Result<i64, ManageError> {
    store
        .remove_feed(url.trim())
        .await?
        .ok_or_else(|| ManageError::Unknown(url.into()))
}

/// Re-enables a disabled feed.
pub async fn enable(store: &dyn Store, url: &str) -> Result<(), ManageError> {
    if store.enable_feed(url.trim()).await? {
        Ok(())
    } else {
        Err(ManageError::Unknown(url.into()))
    }
}

/// Adds every feed of an OPML document; returns (added, already known).
pub async fn import(
    store: &dyn Store,
    opml: &[u8],
    now: DateTime<Utc>,
) -> Result<(usize, usize), ManageError> {
    let mut added = 0;
    let urls = parse_opml(opml)?;
    for u in &urls {
        added += usize::from(store.add_feed(u, now).await?);
    }
    Ok((added, urls.len() - added))
}

/// Every feed as OPML.
pub async fn export(store: &dyn Store) -> Result<String, ManageError> {
    Ok(export_opml(&store.feeds().await?))
}
