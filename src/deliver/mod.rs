//! Outbound: the daily brief goes out through each platform's [`Sender`].

use std::time::Duration;

use async_trait::async_trait;

use crate::core::model::{ChatRef, Reply};

pub mod limit;
pub mod scheduler;

/// Why a send failed, by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// Rate limited: try again after this long.
    #[error("rate limited; retry after {0:?}")]
    RetryAfter(Duration),
    /// A temporary failure (5xx, timeout): retry with backoff.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// The chat is gone or the bot was removed or blocked: pause the subscription.
    #[error("chat unavailable: {0}")]
    Gone(String),
}

/// Sends replies to chats of one platform.
#[async_trait]
pub trait Sender: Send + Sync {
    /// Sends a reply; returns the platform's message ids.
    async fn send(&self, chat: &ChatRef, reply: &Reply) -> Result<Vec<String>, SendError>;
}
