//! The store's vocabulary: what callers hand the store and what it hands back.

use chrono::{DateTime, Utc};

use crate::core::model::{ChatRef, InsightId, NewInsight, PodcastId, Subscription, SubscriptionId};

/// A stored insight as re-extraction sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredInsight {
    /// Its id.
    pub id: InsightId,
    /// The words as said.
    pub quote: String,
    /// Where the quote starts, in milliseconds.
    pub start_ms: Option<i64>,
    /// Where it ends.
    pub end_ms: Option<i64>,
    /// The engine (and prompt) that wrote it.
    pub origin: crate::core::model::Origin,
    /// Whether any subscription was sent it.
    pub delivered: bool,
}

/// What a re-extraction changes in an episode's insights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reextraction {
    /// Stored insights replaced by a new extraction of the same passage, ids kept.
    pub update: Vec<(InsightId, NewInsight)>,
    /// New insights.
    pub insert: Vec<NewInsight>,
    /// Stored insights no longer extracted and never delivered.
    pub delete: Vec<InsightId>,
}

/// A subscription to create or replace.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    /// Where the brief goes.
    pub chat: ChatRef,
    /// `HH:MM` or a cron expression.
    pub schedule: String,
    /// IANA timezone.
    pub timezone: String,
    /// Insights per brief.
    pub size: u8,
    /// Topic filter.
    pub topics: Vec<String>,
    /// First occurrence.
    pub next_run_at: DateTime<Utc>,
    /// Who subscribed (a platform user id), for the record.
    pub created_by: Option<String>,
    /// The server the chat belongs to (a Discord guild id), if any.
    pub scope_id: Option<String>,
}

/// A feed as the store knows it, with its polling state.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeedRow {
    /// Row id.
    pub id: PodcastId,
    /// Where the feed is read from.
    pub feed_url: String,
    /// The show's title (the URL until the feed is first read).
    pub title: String,
    /// Consecutive failures.
    pub failures: i64,
    /// The last error, if the last poll failed.
    pub last_error: Option<String>,
    /// Why the feed is disabled, if it is.
    pub disabled_reason: Option<String>,
    /// The validator of the last response (`ETag`).
    pub etag: Option<String>,
    /// The `Last-Modified` of the last response.
    pub last_modified: Option<String>,
    /// When the feed is next due.
    pub next_poll_at: Option<DateTime<Utc>>,
    /// Episodes stored for it.
    pub episodes: i64,
}

/// The result of one poll, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum PollRecord {
    /// Read (200): validators for the next conditional request.
    Fetched {
        /// `ETag`.
        etag: Option<String>,
        /// `Last-Modified`.
        last_modified: Option<String>,
    },
    /// Unchanged (304).
    NotModified,
    /// Failed; `disable` disables the feed with that reason.
    Failed {
        /// What went wrong.
        error: String,
        /// Set when the feed has failed too often.
        disable: Option<String>,
    },
}

/// What happened to one delivery occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The brief was sent.
    Sent,
    /// Nothing new to send, so nothing was sent.
    Empty,
    /// The occurrence was too old to send when podbrief came back.
    Missed,
    /// Sending failed.
    Failed,
}

impl DeliveryOutcome {
    /// The status stored in `deliveries.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Sent => "sent",
            DeliveryOutcome::Empty => "empty",
            DeliveryOutcome::Missed => "missed",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

/// One occurrence to plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// The subscription.
    pub subscription: SubscriptionId,
    /// The occurrence (the subscription's current `next_run_at`).
    pub occurrence: DateTime<Utc>,
    /// The occurrence after it.
    pub next_run_at: DateTime<Utc>,
    /// Recorded as missed rather than to be sent.
    pub missed: bool,
}

/// A claimed delivery and its subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Row id.
    pub id: i64,
    /// The occurrence it delivers.
    pub occurrence: DateTime<Utc>,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// The subscription.
    pub subscription: Subscription,
}

/// How one claimed delivery ended, for [`record_deliveries`](super::DeliveryStore::record_deliveries).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryDone {
    /// The delivery row.
    pub id: i64,
    /// Its subscription.
    pub subscription: SubscriptionId,
    /// What happened.
    pub result: DeliveryResult,
}

/// The end of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryResult {
    /// Sent at `at` as these platform messages, delivering these insights.
    Sent {
        /// Platform message ids.
        message_ids: Vec<String>,
        /// The insights the brief carried.
        insights: Vec<InsightId>,
        /// When it was sent.
        at: DateTime<Utc>,
    },
    /// Ended without sending: `empty`, `failed` (with the error) or `missed`.
    Ended {
        /// The outcome.
        outcome: DeliveryOutcome,
        /// The error, for a failure.
        error: Option<String>,
    },
}

/// A delivery as operators see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeliveryRow {
    /// Row id.
    pub id: i64,
    /// The subscription.
    pub subscription_id: SubscriptionId,
    /// `platform:chat[:thread]`.
    pub chat: String,
    /// The occurrence.
    pub occurrence: DateTime<Utc>,
    /// `pending`, `sent`, `empty`, `missed` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// The last error, if any.
    pub error: Option<String>,
    /// When it was sent.
    pub sent_at: Option<DateTime<Utc>>,
}

/// Counts of what is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Stats {
    /// Podcasts.
    pub podcasts: i64,
    /// Episodes.
    pub episodes: i64,
    /// Insights.
    pub insights: i64,
    /// Subscriptions.
    pub subscriptions: i64,
}
