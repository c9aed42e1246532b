//! The store: the single source of truth. A [`Store`] trait the rest of podbrief talks to, and one
//! backend per database (`sqlite` now; PostgreSQL mirrors the same schema in
//! `migrations/postgres/`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::core::model::{
    ChatRef, Episode, EpisodeId, InsightId, InsightView, NewEpisode, NewInsight, Platform,
    PodcastId, PodcastMeta, Subscription, SubscriptionId,
};

pub mod copy;
pub mod postgres;
pub mod sqlite;

pub use postgres::PgStore;

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
pub use sqlite::SqliteStore;

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

/// Something only one podbrief instance on a database may do at a time (Telegram long polling),
/// held until dropped. With PostgreSQL it is an advisory lock on a connection of its own, so it
/// is released when its holder dies; SQLite (one instance per database file) always grants it.
pub struct InstanceLock {
    holder: Option<Box<dyn LockHolder>>,
}

/// What keeps an [`InstanceLock`] held (a backend's connection).
#[async_trait]
pub trait LockHolder: Send {
    /// Whether the lock is still held (its connection still answers).
    async fn still_held(&mut self) -> bool;
}

impl InstanceLock {
    /// A lock that cannot be lost (a single-instance backend).
    pub fn granted() -> InstanceLock {
        InstanceLock { holder: None }
    }

    /// A lock kept by `holder`.
    pub fn held_by(holder: Box<dyn LockHolder>) -> InstanceLock {
        InstanceLock {
            holder: Some(holder),
        }
    }

    /// Resolves when the lock is lost (checked every `every`); never for a lock that cannot be.
    pub async fn lost(&mut self, every: std::time::Duration) {
        let Some(holder) = self.holder.as_mut() else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep(every).await;
            if !holder.still_held().await {
                return;
            }
        }
    }
}

impl std::fmt::Debug for InstanceLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceLock")
            .field("losable", &self.holder.is_some())
            .finish()
    }
}

/// Result type of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

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

/// How one claimed delivery ended, for [`Store::record_deliveries`].
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
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

/// Everything podbrief keeps. Implementations must be safe to share between tasks.
#[async_trait]
pub trait Store: Send + Sync {
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Counts of stored things.
    async fn stats(&self) -> StoreResult<Stats>;
    /// Checks that the database takes writes (`/readyz`): a read-only file or a full disk is an
    /// error. Backends that cannot tell answer `Ok`.
    async fn check_writable(&self) -> StoreResult<()> {
        Ok(())
    }

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
    async fn set_episode_marks(
        &self,
        id: EpisodeId,
        marks: &crate::core::model::EpisodeMarks,
    ) -> StoreResult<()>;
    /// An episode's chapters, chapters link and soundbites (empty for an unknown episode).
    async fn episode_marks(&self, id: EpisodeId) -> StoreResult<crate::core::model::EpisodeMarks>;

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
        _wake: std::sync::Arc<tokio::sync::Notify>,
    ) -> StoreResult<Option<tokio::task::JoinHandle<()>>> {
        Ok(None)
    }
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
    /// Every subscription with its last delivery, for operators.
    async fn subscriptions_overview(&self)
    -> StoreResult<Vec<(Subscription, Option<DeliveryRow>)>>;
    /// The due time of the oldest pending delivery (its next attempt), for the scheduler-lag
    /// metric.
    async fn oldest_pending_delivery(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Insights tagged with `topic` (normalised), newest episode first, skipping `offset`.
    async fn insights_on_topic(
        &self,
        topic: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<InsightView>>;
    /// The show's artwork URL as its feed gave it, if any.
    async fn podcast_image(&self, id: PodcastId) -> StoreResult<Option<String>>;
    /// Closes the connections; every later call fails.
    async fn close(&self);

    /// Tries to take the instance-wide lock `name`; `None` while another instance holds it.
    /// Released when the returned lock is dropped or its holder dies.
    async fn try_lock(&self, _name: &str) -> StoreResult<Option<InstanceLock>> {
        Ok(Some(InstanceLock::granted()))
    }
}

/// An episode's chapters and soundbites as their stored JSON columns (the same in both backends).
fn marks_columns(marks: &crate::core::model::EpisodeMarks) -> (String, String) {
    let json = |v: serde_json::Result<String>| v.unwrap_or_else(|_| "[]".into());
    (
        json(serde_json::to_string(&marks.chapters)),
        json(serde_json::to_string(&marks.soundbites)),
    )
}

/// An episode's marks from its stored columns; unreadable JSON is `Corrupt`, naming the episode.
fn marks_from_columns(
    id: EpisodeId,
    chapters_url: Option<String>,
    chapters: &str,
    soundbites: &str,
) -> StoreResult<crate::core::model::EpisodeMarks> {
    let corrupt = |what: &str, e: serde_json::Error| {
        StoreError::Corrupt(format!("episode {id}: {what}: {e}"))
    };
    Ok(crate::core::model::EpisodeMarks {
        chapters_url,
        chapters: serde_json::from_str(chapters).map_err(|e| corrupt("chapters", e))?,
        soundbites: serde_json::from_str(soundbites).map_err(|e| corrupt("soundbites", e))?,
    })
}

/// A claimed delivery row before its subscription is joined: id, subscription id, occurrence,
/// attempts.
type ClaimedRow = (i64, SubscriptionId, DateTime<Utc>, i64);

/// Joins claimed rows with their subscriptions (read in one query), in due order: occurrence,
/// then id. A row whose subscription is gone is left out. (The subscriptions are searched
/// sorted: a hash map of a batch's subscriptions cost more to build than the rest of the join.)
fn join_claimed(rows: Vec<ClaimedRow>, mut subs: Vec<Subscription>) -> Vec<Delivery> {
    subs.sort_unstable_by_key(|s| s.id);
    let ids: Vec<SubscriptionId> = subs.iter().map(|s| s.id).collect();
    // Each subscription moves into its first delivery; a second delivery of the same one (a
    // retry beside a new occurrence) gets a copy.
    let mut subs: Vec<Option<Subscription>> = subs.into_iter().map(Some).collect();
    let mut first: Vec<usize> = vec![usize::MAX; ids.len()];
    let mut out: Vec<Delivery> = Vec::with_capacity(rows.len());
    for (id, sub, occurrence, attempts) in rows {
        let Ok(i) = ids.binary_search(&sub) else {
            continue;
        };
        let subscription = match subs[i].take() {
            Some(s) => {
                first[i] = out.len();
                s
            }
            None => out[first[i]].subscription.clone(),
        };
        out.push(Delivery {
            id,
            occurrence,
            attempts,
            subscription,
        });
    }
    out.sort_by_key(|d| (d.occurrence, d.id));
    out
}

/// Opens the store a database URL names (`sqlite:` creating the database file if needed;
/// `postgres://` or `postgresql://` a PostgreSQL server).
pub async fn connect(url: &str, max_connections: u32) -> StoreResult<std::sync::Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(
            SqliteStore::connect(url, max_connections).await?,
        ))
    } else if postgres::is_postgres_url(url) {
        Ok(std::sync::Arc::new(
            PgStore::connect(url, max_connections).await?,
        ))
    } else {
        Err(StoreError::Unsupported(
            url.split(':').next().unwrap_or_default().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{ChatRef, Platform};

    fn sub(id: SubscriptionId) -> Subscription {
        Subscription {
            id,
            chat: ChatRef {
                platform: Platform::Telegram,
                chat_id: id.to_string(),
                thread_id: None,
            },
            schedule: crate::core::schedule::Schedule::daily(8, 0),
            timezone: crate::core::schedule::Zone::UTC,
            size: 3,
            topics: vec![],
            next_run_at: DateTime::UNIX_EPOCH,
            paused_reason: None,
        }
    }

    #[test]
    fn claimed_rows_join_their_subscriptions_in_due_order() {
        let t = |h: i64| DateTime::UNIX_EPOCH + chrono::Duration::hours(h);
        // Subscription 7 has two deliveries (a retry and a new occurrence); 9 was deleted.
        let rows = vec![
            (30, 7, t(2), 1),
            (10, 5, t(1), 1),
            (20, 7, t(1), 3),
            (40, 9, t(1), 1),
        ];
        let joined = join_claimed(rows, vec![sub(7), sub(5)]);
        let got: Vec<(i64, SubscriptionId, i64)> = joined
            .iter()
            .map(|d| (d.id, d.subscription.id, d.attempts))
            .collect();
        assert_eq!(got, vec![(10, 5, 1), (20, 7, 3), (30, 7, 1)]);
        assert_eq!(joined[1].subscription, joined[2].subscription);
        assert_eq!(joined[0].subscription.chat.chat_id, "5");
    }
}
