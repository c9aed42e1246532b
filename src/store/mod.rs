//! The store: the single source of truth, behind four role traits and their union [`Store`].
//!
//! * Roles: [`FeedStore`] (feeds and their polling), [`InsightStore`] (episodes and their
//!   insights, and what a brief is made of), [`SubscriptionStore`] (who gets a brief, when) and
//!   [`DeliveryStore`] (the delivery queue). A caller that needs one part takes that role; one
//!   that needs several holds an `Arc<dyn Store>`.
//! * One logic for two dialects: the roles are implemented once (`shared.rs`) for any backend
//!   that is a [`Dialect`](dialect::Dialect), running the SQL text both dialects share (`sql.rs`)
//!   and mapping rows in one place (`rows.rs`). A backend file (`sqlite.rs`, `postgres.rs`) holds
//!   only what really differs: how times are stored, how a set of ids is bound, the statements of
//!   delivery planning, claiming and recording, locks and notifications.
//! * [`connect`] opens the backend a database URL names.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::core::model::{
    ChatRef, Episode, EpisodeId, EpisodeMarks, InsightId, InsightView, NewEpisode, NewInsight,
    Platform, PodcastId, PodcastMeta, Subscription, SubscriptionId,
};

mod connect;
pub mod copy;
pub mod dialect;
mod lock;
pub mod postgres;
mod rows;
mod shared;
mod sql;
pub mod sqlite;
mod types;

pub use connect::connect;
pub use lock::{InstanceLock, LockHolder};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use types::{
    Delivery, DeliveryDone, DeliveryOutcome, DeliveryResult, DeliveryRow, FeedRow, NewSubscription,
    Plan, PollRecord, Reextraction, Stats, StoredInsight,
};

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a query.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// The database was migrated by a newer podbrief: this binary does not know its schema.
    #[error(
        "the database schema is newer than this podbrief (it has migration {0}, which this \
         version does not know): upgrade podbrief, or point database.url at another database"
    )]
    SchemaNewer(i64),
    /// The database server cannot be reached or refused the connection.
    #[error("cannot connect to the database at {address}: {reason}")]
    Unreachable {
        /// `host:port` (never the password).
        address: String,
        /// Why.
        reason: String,
    },
    /// A stored value could not be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// The database URL names a backend this build does not have.
    #[error(
        "unsupported database URL scheme {0:?}: use sqlite://PATH or postgres://USER@HOST/DATABASE"
    )]
    Unsupported(String),
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::VersionMissing(v) => StoreError::SchemaNewer(v),
            e => StoreError::Migrate(e),
        }
    }
}

/// Result type of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Feeds: the list, and each feed's polling state.
#[async_trait]
pub trait FeedStore: Send + Sync {
    /// Creates or updates a podcast by feed URL, clearing its failure count.
    async fn upsert_podcast(
        &self,
        feed_url: &str,
        meta: &PodcastMeta,
        now: DateTime<Utc>,
    ) -> StoreResult<PodcastId>;
    /// Every known feed, by title.
    async fn feeds(&self) -> StoreResult<Vec<FeedRow>>;
    /// One feed by URL.
    async fn feed(&self, feed_url: &str) -> StoreResult<Option<FeedRow>>;
    /// Adds a feed to poll (its title is the URL until it is read); false if it was known.
    async fn add_feed(&self, feed_url: &str, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Removes a feed with its episodes and insights; returns its id if it existed.
    async fn remove_feed(&self, feed_url: &str) -> StoreResult<Option<PodcastId>>;
    /// Records a poll's outcome and when the feed is next due. Unknown feeds are added.
    async fn record_poll(
        &self,
        feed_url: &str,
        record: &PollRecord,
        next_poll_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Re-enables a disabled feed and makes it due now; false if unknown.
    async fn enable_feed(&self, feed_url: &str) -> StoreResult<bool>;
    /// Claims a due feed for polling (one instance per interval): moves its `next_poll_at` to
    /// `lease_until` if it is due at `now`. Returns whether this caller got it.
    async fn claim_feed(
        &self,
        feed_url: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records a permanent redirect: the feed's URL becomes `new_url` (unless that URL is
    /// already a feed of its own).
    async fn move_feed(&self, old_url: &str, new_url: &str) -> StoreResult<bool>;
    /// The show's artwork URL as its feed gave it, if any.
    async fn podcast_image(&self, id: PodcastId) -> StoreResult<Option<String>>;
}

/// Episodes and their insights: ingest, re-extraction, lookups, and brief candidates.
#[async_trait]
pub trait InsightStore: Send + Sync {
    /// Inserts an episode, or updates its metadata if `(podcast, guid)` exists. Returns its id and
    /// whether it is new.
    async fn upsert_episode(
        &self,
        podcast: PodcastId,
        ep: &NewEpisode,
        now: DateTime<Utc>,
    ) -> StoreResult<(EpisodeId, bool)>;
    /// Episodes waiting for transcript and extraction.
    async fn pending_episodes(&self) -> StoreResult<Vec<Episode>>;
    /// Marks an episode processed (`done`) or `failed` with the error.
    async fn finish_episode(&self, id: EpisodeId, error: Option<&str>) -> StoreResult<()>;
    /// Replaces an episode's chapters, chapters link and soundbites.
    async fn set_episode_marks(&self, id: EpisodeId, marks: &EpisodeMarks) -> StoreResult<()>;
    /// An episode's chapters, chapters link and soundbites (empty for an unknown episode).
    async fn episode_marks(&self, id: EpisodeId) -> StoreResult<EpisodeMarks>;
    /// Replaces an episode's subject (its words with their counts, as
    /// [`crate::search::subject::of_episode`] writes them).
    async fn set_episode_subject(&self, id: EpisodeId, subject: &str) -> StoreResult<()>;
    /// The subjects of the episodes `ids` names (every episode's when `None`), those not empty.
    async fn episode_subjects(
        &self,
        ids: Option<&[EpisodeId]>,
    ) -> StoreResult<Vec<(EpisodeId, String)>>;
    /// Episodes already processed, newest first: what `podbrief reextract` reads again.
    async fn done_episodes(&self) -> StoreResult<Vec<Episode>>;
    /// An episode's stored insights, in id order, each with whether any subscription got it.
    async fn episode_insights(&self, episode: EpisodeId) -> StoreResult<Vec<StoredInsight>>;
    /// Applies a re-extraction of an episode in one transaction: matched insights are updated in
    /// place (their ids kept, so a delivered one is never sent again as new; one whose new text
    /// another insight already has stays as it was), the rest inserted (skipped when their
    /// content hash exists), and the listed ones deleted. Returns the ids inserted.
    async fn apply_reextraction(
        &self,
        episode: EpisodeId,
        plan: &Reextraction,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<InsightId>>;
    /// Stores insights of an episode; one whose content hash exists already is skipped. Returns
    /// the ids of the new ones.
    async fn insert_insights(
        &self,
        episode: EpisodeId,
        insights: &[NewInsight],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<InsightId>>;
    /// Insights by id, in the order asked (unknown ids are left out).
    async fn insights(&self, ids: &[InsightId]) -> StoreResult<Vec<InsightView>>;
    /// Insights with id greater than `after`, in id order, at most `limit`.
    async fn insights_after(&self, after: InsightId, limit: i64) -> StoreResult<Vec<InsightView>>;
    /// The newest insight's id (0 when there is none): changes whenever insights are added.
    async fn latest_insight_id(&self) -> StoreResult<InsightId>;
    /// The insights with id `from_id` or above already delivered to these subscriptions, as
    /// (subscription, insight) pairs: one query for a whole batch of briefs.
    async fn delivered_among(
        &self,
        subs: &[SubscriptionId],
        from_id: InsightId,
    ) -> StoreResult<Vec<(SubscriptionId, InsightId)>>;
    /// Brief candidates: insights from episodes published since `since`, not yet delivered to
    /// `subscription` (when given).
    async fn brief_candidates(
        &self,
        since: DateTime<Utc>,
        subscription: Option<SubscriptionId>,
    ) -> StoreResult<Vec<InsightView>>;
    /// Insights tagged with `topic` (normalised), newest episode first, skipping `offset`.
    async fn insights_on_topic(
        &self,
        topic: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<InsightView>>;
}

/// Subscriptions: who gets a brief, where and when.
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Creates or replaces the subscription of a chat (resuming it if paused).
    async fn upsert_subscription(&self, sub: &NewSubscription) -> StoreResult<Subscription>;
    /// The subscription of a chat.
    async fn subscription(&self, chat: &ChatRef) -> StoreResult<Option<Subscription>>;
    /// Saves changed settings of a subscription (schedule, timezone, size, topics, next run).
    async fn update_subscription(&self, sub: &Subscription) -> StoreResult<()>;
    /// Removes the subscription of a chat; false if there was none.
    async fn delete_subscription(&self, chat: &ChatRef) -> StoreResult<bool>;
    /// Pauses a subscription with a reason the chat's admins can see in `/settings`.
    async fn pause_subscription(&self, id: SubscriptionId, reason: &str) -> StoreResult<()>;
    /// Pauses the subscription of a chat (of every thread in it when `chat.thread_id` is None).
    /// Returns whether one was paused.
    async fn pause_chat(&self, chat: &ChatRef, reason: &str) -> StoreResult<bool>;
    /// Pauses every subscription of a server (scope); returns how many.
    async fn pause_scope(
        &self,
        platform: Platform,
        scope_id: &str,
        reason: &str,
    ) -> StoreResult<u64>;
    /// Moves a chat's subscription to a new chat id (a Telegram group that became a supergroup).
    async fn move_chat(&self, from: &ChatRef, to_chat_id: &str) -> StoreResult<bool>;
    /// Active subscriptions due at `now`, earliest first, at most `limit`.
    async fn due_subscriptions(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Subscription>>;
    /// The earliest `next_run_at` of the active subscriptions.
    async fn next_run_at(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Every subscription with its last delivery, for operators.
    async fn subscriptions_overview(&self)
    -> StoreResult<Vec<(Subscription, Option<DeliveryRow>)>>;
}

/// The delivery queue: one row per (subscription, occurrence), planned, claimed with a lease,
/// recorded.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Plans occurrences in one transaction: for each, creates its delivery row (`pending`, or
    /// `missed`) unless it exists, and moves the subscription's `next_run_at` from the occurrence
    /// to the next one (only if it still is that occurrence, so two schedulers agree). With
    /// `lease_until`, pending rows are created claimed by the caller until then (their first
    /// attempt), for it to send without a claim. Returns, for each plan, the id of the row this
    /// call created (`None`: it existed).
    async fn plan_deliveries(
        &self,
        plans: &[Plan],
        now: DateTime<Utc>,
        lease_until: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<Option<i64>>>;
    /// Wakes `wake` whenever any instance sharing this store plans deliveries (PostgreSQL
    /// `LISTEN`/`NOTIFY`), so every instance's outbox starts on a fan-out at once. Returns the
    /// listening task, if the backend has one (a SQLite store serves one process: none).
    async fn watch_plans(
        &self,
        wake: std::sync::Arc<tokio::sync::Notify>,
    ) -> StoreResult<Option<tokio::task::JoinHandle<()>>>;
    /// Claims up to `limit` pending deliveries due at `now` whose lease is free or expired,
    /// leasing them until `lease_until` and counting the attempt.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Delivery>>;
    /// Records how claimed deliveries ended, all in one transaction: a sent one together with the
    /// insights it delivered, an ended one with its outcome and error. Leases are released.
    async fn record_deliveries(&self, done: &[DeliveryDone]) -> StoreResult<()>;
    /// Puts a claimed delivery back: due again at `next_attempt_at`, lease released.
    async fn retry_delivery(
        &self,
        id: i64,
        next_attempt_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> StoreResult<()>;
    /// The earliest time a pending delivery becomes claimable.
    async fn next_delivery_at(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Recent deliveries, newest first; only failed ones when `failed_only`.
    async fn deliveries(&self, failed_only: bool, limit: i64) -> StoreResult<Vec<DeliveryRow>>;
    /// The due time of the oldest pending delivery (its next attempt), for the scheduler-lag
    /// metric.
    async fn oldest_pending_delivery(&self) -> StoreResult<Option<DateTime<Utc>>>;
}

/// Everything podbrief keeps: every role, and the database itself. Implementations must be safe
/// to share between tasks.
#[async_trait]
pub trait Store: FeedStore + InsightStore + SubscriptionStore + DeliveryStore {
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Counts of stored things.
    async fn stats(&self) -> StoreResult<Stats>;
    /// Checks that the database takes writes (`/readyz`): a read-only file or a full disk is an
    /// error. Backends that cannot tell answer `Ok`.
    async fn check_writable(&self) -> StoreResult<()>;
    /// Closes the connections; every later call fails.
    async fn close(&self);
    /// Tries to take the instance-wide lock `name`; `None` while another instance holds it.
    /// Released when the returned lock is dropped or its holder dies.
    async fn try_lock(&self, name: &str) -> StoreResult<Option<InstanceLock>>;
}
