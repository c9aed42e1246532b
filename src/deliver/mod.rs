//! Outbound: the daily brief goes out through each platform's [`Sender`].
//!
//! The [`scheduler`](scheduler::Scheduler) turns due subscriptions into delivery rows (one per
//! occurrence, a unique key); the [`outbox`](outbox::Outbox) claims due rows with a lease,
//! composes and sends each brief, and records the outcome. Rate limits live in each platform's
//! sender ([`limit`]).

use std::any::Any;
use std::sync::Arc;
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

/// A brief rendered for one platform by [`Sender::prepare`], sent as it is to every chat that
/// gets the same brief (a fan-out sends one brief to many chats; it is rendered once).
pub type Prepared = Arc<dyn Any + Send + Sync>;

/// Sends replies to chats of one platform.
#[async_trait]
pub trait Sender: Send + Sync {
    /// Sends a reply; returns the platform's message ids.
    async fn send(&self, chat: &ChatRef, reply: &Reply) -> Result<Vec<String>, SendError>;

    /// Renders a brief once for all the chats that get it. By default, the reply itself.
    fn prepare(&self, reply: &Reply) -> Prepared {
        Arc::new(reply.clone())
    }

    /// Sends a brief this sender [`prepare`](Sender::prepare)d, as delivery `delivery`.
    /// Platforms that can drop a resent duplicate (Discord's `nonce` + `enforce_nonce`) derive
    /// their idempotency key from the delivery id.
    async fn send_prepared(
        &self,
        chat: &ChatRef,
        brief: &Prepared,
        delivery: i64,
    ) -> Result<Vec<String>, SendError> {
        let _ = delivery;
        self.send(chat, prepared::<Reply>(brief)?).await
    }
}

/// The platform's own form of a prepared brief; an error when another sender prepared it.
pub fn prepared<T: 'static>(brief: &Prepared) -> Result<&T, SendError> {
    brief
        .downcast_ref::<T>()
        .ok_or_else(|| SendError::Transient("the brief was prepared for another platform".into()))
}
