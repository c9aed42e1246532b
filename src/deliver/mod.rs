//! Outbound: the daily brief goes out through each platform's [`Sender`].
//!
//! The [`scheduler`](scheduler::Scheduler) turns due subscriptions into delivery rows (one per
//! occurrence, a unique key); the [`outbox`](outbox::Outbox) claims due rows with a lease,
//! composes and sends each brief, and records the outcome. Rate limits live in each platform's
//! sender ([`limit`]).

use std::time::Duration;

use async_trait::async_trait;

use crate::core::model::{ChatRef, Reply};

pub mod limit;
pub mod outbox;
pub mod report;
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

    /// Sends the brief of delivery `delivery`. Platforms that can drop a resent duplicate (Discord's
    /// `nonce` + `enforce_nonce`) derive their idempotency key from the delivery id.
    async fn send_delivery(
        &self,
        chat: &ChatRef,
        reply: &Reply,
        delivery: i64,
    ) -> Result<Vec<String>, SendError> {
        let _ = delivery;
        self.send(chat, reply).await
    }
}
