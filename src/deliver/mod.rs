//! Outbound: the daily brief goes out through each platform's [`Sender`].
//!
//! One path, in five steps (the diagram is in ARCHITECTURE.md, "The delivery path"):
//!
//! 1. [`plan`]: the [`Scheduler`] wakes at the earliest `next_run_at` and writes one delivery row
//!    per (subscription, occurrence), leased, a page at a time as the outbox's queue has room.
//! 2. [`claim`]: the outbox's claiming stage takes those pages from the [`Handoff`] and claims
//!    the other due rows (retries, expired leases, rows planned elsewhere) with a lease.
//! 3. [`compose`]: each batch's briefs are ranked and written at once, and each distinct brief is
//!    prepared once per platform ([`PreparedBrief`]).
//! 4. [`dispatch`]: the [`Outbox`] starts a send for each queued delivery as a slot frees up,
//!    retrying in place where the error allows.
//! 5. [`record`]: one task writes the finished deliveries, whatever has arrived, in one
//!    transaction (group commit).
//!
//! Rate limits live in each platform's sender ([`limit`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::core::model::{ChatRef, Reply};

pub mod claim;
pub mod compose;
pub mod dispatch;
pub mod limit;
pub mod plan;
pub mod record;
pub mod report;

pub use claim::Handoff;
pub use dispatch::{Outbox, OutboxSettings};
pub use plan::{Scheduler, plan_due};

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

/// A brief as [`Sender::prepare`] left it for every chat of one platform that gets it: the reply
/// itself, and the platform's rendered, serialized form of it.
#[derive(Debug)]
pub struct PreparedBrief {
    /// The brief.
    pub reply: Arc<Reply>,
    /// Its form for one platform.
    pub form: PreparedForm,
}

/// A brief's form for one platform.
#[derive(Debug)]
pub enum PreparedForm {
    /// Rendered at each send (the console).
    AsIs,
    /// Telegram's `sendMessage` parameters of each message.
    Telegram(crate::adapters::telegram::send::TelegramBrief),
    /// Discord's message bodies.
    Discord(crate::adapters::discord::send::DiscordBrief),
}

impl PreparedBrief {
    /// A brief sent as it is: the sender renders it at each send.
    pub fn as_is(reply: Arc<Reply>) -> PreparedBrief {
        PreparedBrief {
            reply,
            form: PreparedForm::AsIs,
        }
    }
}

/// Sends replies to chats of one platform.
#[async_trait]
pub trait Sender: Send + Sync {
    /// Sends a reply; returns the platform's message ids.
    async fn send(&self, chat: &ChatRef, reply: &Reply) -> Result<Vec<String>, SendError>;

    /// Renders a brief once for all the chats that get it. By default, the reply as it is.
    fn prepare(&self, reply: Arc<Reply>) -> PreparedBrief {
        PreparedBrief::as_is(reply)
    }

    /// Sends a brief as delivery `delivery`. A brief in another platform's form is rendered from
    /// its reply. Platforms that can drop a resent duplicate (Discord's `nonce` +
    /// `enforce_nonce`) derive their idempotency key from the delivery id.
    async fn send_prepared(
        &self,
        chat: &ChatRef,
        brief: &PreparedBrief,
        delivery: i64,
    ) -> Result<Vec<String>, SendError> {
        let _ = delivery;
        self.send(chat, &brief.reply).await
    }
}
