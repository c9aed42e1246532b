//! The PostgreSQL backend of [`Store`](super::Store), for several podbrief instances sharing one
//! database.
//!
//! * Times are `TIMESTAMPTZ` (UTC); topic and message-id lists are JSON text, as in SQLite.
//! * Deliveries are claimed with `FOR UPDATE SKIP LOCKED`, so instances claiming at the same
//!   moment take disjoint rows; a claim is a lease that expires if its holder dies.
//! * Delivery rows are created with `ON CONFLICT DO NOTHING` on `(subscription_id, occurrence)`,
//!   so every instance may run the scheduler and each occurrence still gets one row.
//! * Work only one instance may do (Telegram long polling) takes an advisory lock on a
//!   connection of its own ([`Store::try_lock`]), released by PostgreSQL when that connection
//!   closes, however its holder ended.
//! * Text is ordered with `COLLATE "C"` (byte order), as SQLite orders it.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, Row};

use super::{
    Delivery, DeliveryDone, DeliveryResult, DeliveryRow, FeedRow, InstanceLock, LockHolder,
    NewSubscription, Plan, PollRecord, Reextraction, Stats, Store, StoreError, StoreResult,
    StoredInsight,
};
use crate::core::model::{
    ChatRef, Episode, EpisodeId, InsightId, InsightView, NewEpisode, NewInsight, Platform,
    PodcastId, PodcastMeta, Subscription, SubscriptionId,
};
use crate::core::schedule::{Schedule, Zone};

/// How long opening a connection may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a database URL names PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    options: PgConnectOptions,
}

fn parse_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Where the server is, for messages: `host:port/database`, never the password.
fn address(opts: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or_default()
    )
}

/// Opens one connection of its own (not from the pool), failing by name and within
/// [`CONNECT_TIMEOUT`].
async fn open(opts: &PgConnectOptions) -> StoreResult<PgConnection> {
    let unreachable = |reason: String| StoreError::Unreachable {
        address: address(opts),
        reason,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, opts.connect()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!(
            "no answer within {}s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

const INSIGHT_VIEW: &str = "SELECT i.id, i.text, i.quote, i.start_ms, i.end_ms, i.speaker, i.score, i.topics, i.content_hash, i.chapter, \
     e.id AS episode_id, e.title AS episode_title, COALESCE(e.link, e.audio_url) AS episode_link, \
     COALESCE(e.published_at, e.created_at) AS published_at, p.id AS podcast_id, p.title AS podcast_title \
     FROM insights i JOIN episodes e ON e.id = i.episode_id JOIN podcasts p ON p.id = e.podcast_id";

fn insight_view(r: &PgRow) -> StoreResult<InsightView> {
    Ok(InsightView {
        id: r.try_get("id")?,
        text: r.try_get("text")?,
        quote: r.try_get("quote")?,
        start_ms: r.try_get("start_ms")?,
        end_ms: r.try_get("end_ms")?,
        speaker: r.try_get("speaker")?,
        score: r.try_get("score")?,
        topics: parse_list(r.try_get("topics")?),
        content_hash: r.try_get("content_hash")?,
        episode_id: r.try_get("episode_id")?,
        episode_title: r.try_get("episode_title")?,
        episode_link: r.try_get("episode_link")?,
        published_at: r.try_get("published_at")?,
        podcast_id: r.try_get("podcast_id")?,
        podcast_title: r.try_get("podcast_title")?,
        chapter: r.try_get("chapter")?,
    })
}

const SUBSCRIPTION: &str = "SELECT id, platform, chat_id, thread_id, schedule, timezone, size, topics, next_run_at, \
     paused_reason FROM subscriptions";

fn subscription(r: &PgRow) -> StoreResult<Subscription> {
    let platform: String = r.try_get("platform")?;
    let thread: String = r.try_get("thread_id")?;
    let size: i64 = r.try_get("size")?;
    Ok(Subscription {
        id: r.try_get("id")?,
        chat: ChatRef {
            platform: Platform::parse(&platform)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown platform {platform:?}")))?,
            chat_id: r.try_get("chat_id")?,
            thread_id: (!thread.is_empty()).then_some(thread),
        },
        schedule: Schedule::parse(&r.try_get::<String, _>("schedule")?)?,
        timezone: Zone::parse(&r.try_get::<String, _>("timezone")?)?,
        size: u8::try_from(size).unwrap_or(u8::MAX),
        topics: parse_list(r.try_get("topics")?),
        next_run_at: r.try_get("next_run_at")?,
        paused_reason: r.try_get("paused_reason")?,
    })
}

const FEED_ROW: &str = "SELECT p.id, p.feed_url, p.title, p.failures, p.last_error, p.disabled_reason, p.etag, \
     p.last_modified, p.next_poll_at, (SELECT COUNT(*) FROM episodes e WHERE e.podcast_id = p.id) AS episodes \
     FROM podcasts p";

fn feed_row(r: &PgRow) -> StoreResult<FeedRow> {
    Ok(FeedRow {
        id: r.try_get("id")?,
        feed_url: r.try_get("feed_url")?,
        title: r.try_get("title")?,
        failures: r.try_get("failures")?,
        last_error: r.try_get("last_error")?,
        disabled_reason: r.try_get("disabled_reason")?,
        etag: r.try_get("etag")?,
        last_modified: r.try_get("last_modified")?,
        next_poll_at: r.try_get("next_poll_at")?,
        episodes: r.try_get("episodes")?,
    })
}

const DELIVERY_ROW: &str = "SELECT d.id, d.subscription_id, s.platform, s.chat_id, s.thread_id, d.occurrence, d.status, \
     d.attempts, d.error, d.sent_at FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id";

fn delivery_row(r: &PgRow) -> StoreResult<DeliveryRow> {
    let platform: String = r.try_get("platform")?;
    let chat: String = r.try_get("chat_id")?;
    let thread: String = r.try_get("thread_id")?;
    Ok(DeliveryRow {
        id: r.try_get("id")?,
        subscription_id: r.try_get("subscription_id")?,
        chat: if thread.is_empty() {
            format!("{platform}:{chat}")
        } else {
            format!("{platform}:{chat}:{thread}")
        },
        occurrence: r.try_get("occurrence")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        error: r.try_get("error")?,
        sent_at: r.try_get("sent_at")?,
    })
}

/// Whether an error is a unique-key violation (a concurrent writer got there first).
fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

impl PgStore {
    /// Connects to the server a `postgres://` URL names, with a pool of at most
    /// `max_connections`. An unreachable server (or a refused login) fails at once with its
    /// address and the reason, never the password.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<PgStore> {
        let options = PgConnectOptions::from_str(url)?.application_name("podbrief");
        // One connection first: a wrong host, port, user or database is reported now, by name,
        // not as a pool time-out later.
        open(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_lazy_with(options.clone());
        Ok(PgStore { pool, options })
    }

    /// The connection pool (for `copy-db`).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// An advisory lock held by a connection of its own.
struct PgLock {
    conn: PgConnection,
}

/// The `NOTIFY` channel that tells instances deliveries were planned.
const PLANNED_CHANNEL: &str = "podbrief_planned";
#[async_trait]
impl LockHolder for PgLock {
    async fn still_held(&mut self) -> bool {
        let check = sqlx::query("SELECT 1").execute(&mut self.conn);
        matches!(
            tokio::time::timeout(CONNECT_TIMEOUT, check).await,
            Ok(Ok(_))
        )
    }
}

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn stats(&self) -> StoreResult<Stats> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM podcasts) AS p, (SELECT COUNT(*) FROM episodes) AS e, \
             (SELECT COUNT(*) FROM insights) AS i, (SELECT COUNT(*) FROM subscriptions) AS s",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Stats {
            podcasts: r.try_get("p")?,
            episodes: r.try_get("e")?,
            insights: r.try_get("i")?,
            subscriptions: r.try_get("s")?,
        })
    }

    async fn upsert_podcast(
        &self,
        feed_url: &str,
        meta: &PodcastMeta,
        now: DateTime<Utc>,
    ) -> StoreResult<PodcastId> {
        let id = sqlx::query_scalar(
            "INSERT INTO podcasts (feed_url, title, link, image, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (feed_url) DO UPDATE SET title = excluded.title, link = excluded.link, \
             image = excluded.image, failures = 0, last_error = NULL RETURNING id",
        )
        .bind(feed_url)
        .bind(&meta.title)
        .bind(&meta.link)
        .bind(&meta.image)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn feeds(&self) -> StoreResult<Vec<FeedRow>> {
        let sql = format!("{FEED_ROW} ORDER BY p.title COLLATE \"C\", p.id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(feed_row).collect()
    }

    async fn feed(&self, feed_url: &str) -> StoreResult<Option<FeedRow>> {
        let sql = format!("{FEED_ROW} WHERE p.feed_url = $1");
        let row = sqlx::query(&sql)
            .bind(feed_url)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(feed_row).transpose()
    }

    async fn add_feed(&self, feed_url: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let r = sqlx::query(
            "INSERT INTO podcasts (feed_url, title, created_at) VALUES ($1, $1, $2) \
             ON CONFLICT (feed_url) DO NOTHING",
        )
        .bind(feed_url)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn remove_feed(&self, feed_url: &str) -> StoreResult<Option<PodcastId>> {
        let id: Option<i64> =
            sqlx::query_scalar("DELETE FROM podcasts WHERE feed_url = $1 RETURNING id")
                .bind(feed_url)
                .fetch_optional(&self.pool)
                .await?;
        Ok(id)
    }

    async fn record_poll(
        &self,
        feed_url: &str,
        record: &PollRecord,
        next_poll_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.add_feed(feed_url, now).await?;
        let q = match record {
            PollRecord::Fetched { .. } => sqlx::query(
                "UPDATE podcasts SET etag = $3, last_modified = $4, failures = 0, last_error = NULL, \
                 next_poll_at = $1 WHERE feed_url = $2",
            ),
            PollRecord::NotModified => sqlx::query(
                "UPDATE podcasts SET failures = 0, last_error = NULL, next_poll_at = $1 WHERE feed_url = $2",
            ),
            PollRecord::Failed { .. } => sqlx::query(
                "UPDATE podcasts SET failures = failures + 1, last_error = $3, \
                 disabled_reason = COALESCE($4, disabled_reason), next_poll_at = $1 WHERE feed_url = $2",
            ),
        }
        .bind(next_poll_at)
        .bind(feed_url);
        let q = match record {
            PollRecord::Fetched {
                etag,
                last_modified,
            } => q.bind(etag.clone()).bind(last_modified.clone()),
            PollRecord::NotModified => q,
            PollRecord::Failed { error, disable } => q.bind(error.clone()).bind(disable.clone()),
        };
        q.execute(&self.pool).await?;
        Ok(())
    }

    async fn enable_feed(&self, feed_url: &str) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE podcasts SET disabled_reason = NULL, failures = 0, last_error = NULL, next_poll_at = NULL \
             WHERE feed_url = $1",
        )
        .bind(feed_url)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn claim_feed(
        &self,
        feed_url: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE podcasts SET next_poll_at = $1 WHERE feed_url = $2 AND disabled_reason IS NULL \
             AND (next_poll_at IS NULL OR next_poll_at <= $3)",
        )
        .bind(lease_until)
        .bind(feed_url)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn move_feed(&self, old_url: &str, new_url: &str) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE podcasts SET feed_url = $1 WHERE feed_url = $2 \
             AND NOT EXISTS (SELECT 1 FROM podcasts WHERE feed_url = $1)",
        )
        .bind(new_url)
        .bind(old_url)
        .execute(&self.pool)
        .await;
        match r {
            Ok(r) => Ok(r.rows_affected() > 0),
            // Another instance recorded the same redirect at the same moment.
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn upsert_episode(
        &self,
        podcast: PodcastId,
        ep: &NewEpisode,
        now: DateTime<Utc>,
    ) -> StoreResult<(EpisodeId, bool)> {
        let mut tx = self.pool.begin().await?;
        let mut existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM episodes WHERE podcast_id = $1 AND guid = $2")
                .bind(podcast)
                .bind(&ep.guid)
                .fetch_optional(&mut *tx)
                .await?;
        if existing.is_none()
            && let Some(audio) = &ep.audio_url
        {
            // A feed that changed an episode's guid: the same enclosure is the same episode.
            existing = sqlx::query_scalar(
                "SELECT id FROM episodes WHERE podcast_id = $1 AND audio_url = $2 ORDER BY id LIMIT 1",
            )
            .bind(podcast)
            .bind(audio)
            .fetch_optional(&mut *tx)
            .await?;
        }
        let result = match existing {
            Some(id) => {
                sqlx::query(
                    "UPDATE episodes SET guid = $1, title = $2, link = $3, audio_url = $4, published_at = $5, \
                     duration_s = $6, transcript_url = $7, transcript_kind = $8, show_notes = $9 WHERE id = $10",
                )
                .bind(&ep.guid)
                .bind(&ep.title)
                .bind(&ep.link)
                .bind(&ep.audio_url)
                .bind(ep.published_at)
                .bind(ep.duration_s)
                .bind(&ep.transcript_url)
                .bind(&ep.transcript_kind)
                .bind(&ep.show_notes)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                (id, false)
            }
            None => {
                // Another instance reading the same feed may insert it first: then this is an
                // update of its row, and not new here.
                let r = sqlx::query(
                    "INSERT INTO episodes (podcast_id, guid, title, link, audio_url, published_at, duration_s, \
                     transcript_url, transcript_kind, show_notes, status, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'new', $11) \
                     ON CONFLICT (podcast_id, guid) DO UPDATE SET title = excluded.title, link = excluded.link, \
                     audio_url = excluded.audio_url, published_at = excluded.published_at, \
                     duration_s = excluded.duration_s, transcript_url = excluded.transcript_url, \
                     transcript_kind = excluded.transcript_kind, show_notes = excluded.show_notes \
                     RETURNING id, (xmax = 0) AS inserted",
                )
                .bind(podcast)
                .bind(&ep.guid)
                .bind(&ep.title)
                .bind(&ep.link)
                .bind(&ep.audio_url)
                .bind(ep.published_at)
                .bind(ep.duration_s)
                .bind(&ep.transcript_url)
                .bind(&ep.transcript_kind)
                .bind(&ep.show_notes)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                (r.try_get("id")?, r.try_get("inserted")?)
            }
        };
        tx.commit().await?;
        Ok(result)
    }

    async fn pending_episodes(&self) -> StoreResult<Vec<Episode>> {
        self.episodes_with_status("new").await
    }

    async fn done_episodes(&self) -> StoreResult<Vec<Episode>> {
        self.episodes_with_status("done").await
    }

    async fn episode_insights(&self, episode: EpisodeId) -> StoreResult<Vec<StoredInsight>> {
        let rows = sqlx::query(
            "SELECT i.id, i.quote, i.start_ms, i.end_ms, i.engine, i.prompt_version, \
             EXISTS (SELECT 1 FROM delivered_insights d WHERE d.insight_id = i.id) AS delivered \
             FROM insights i WHERE i.episode_id = $1 ORDER BY i.id",
        )
        .bind(episode)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredInsight {
                    id: r.try_get("id")?,
                    quote: r.try_get("quote")?,
                    start_ms: r.try_get("start_ms")?,
                    end_ms: r.try_get("end_ms")?,
                    origin: crate::core::model::Origin {
                        engine: r.try_get("engine")?,
                        prompt_version: r.try_get("prompt_version")?,
                    },
                    delivered: r.try_get("delivered")?,
                })
            })
            .collect()
    }

    async fn apply_reextraction(
        &self,
        episode: EpisodeId,
        plan: &Reextraction,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<InsightId>> {
        let mut tx = self.pool.begin().await?;
        for (id, i) in &plan.update {
            let hash = crate::core::text::content_hash(&i.text);
            sqlx::query(
                "UPDATE insights SET text = $1, quote = $2, start_ms = $3, end_ms = $4, speaker = $5, \
                 score = $6, topics = $7, content_hash = $8, chapter = $9, engine = $10, prompt_version = $11 \
                 WHERE id = $12 AND episode_id = $13 \
                 AND NOT EXISTS (SELECT 1 FROM insights o WHERE o.content_hash = $8 AND o.id <> $12)",
            )
            .bind(&i.text)
            .bind(&i.quote)
            .bind(i.start_ms)
            .bind(i.end_ms)
            .bind(&i.speaker)
            .bind(i.score)
            .bind(list(&i.topics))
            .bind(&hash)
            .bind(&i.chapter)
            .bind(&i.origin.engine)
            .bind(&i.origin.prompt_version)
            .bind(id)
            .bind(episode)
            .execute(&mut *tx)
            .await?;
        }
        for id in &plan.delete {
            sqlx::query("DELETE FROM insights WHERE id = $1 AND episode_id = $2")
                .bind(id)
                .bind(episode)
                .execute(&mut *tx)
                .await?;
        }
        let ids = insert_insights_in(&mut tx, episode, &plan.insert, now).await?;
        tx.commit().await?;
        Ok(ids)
    }

    async fn set_episode_marks(
        &self,
        id: EpisodeId,
        marks: &crate::core::model::EpisodeMarks,
    ) -> StoreResult<()> {
        let (chapters, soundbites) = super::marks_columns(marks);
        sqlx::query(
            "UPDATE episodes SET chapters_url = $1, chapters = $2, soundbites = $3 WHERE id = $4",
        )
        .bind(&marks.chapters_url)
        .bind(chapters)
        .bind(soundbites)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn episode_marks(&self, id: EpisodeId) -> StoreResult<crate::core::model::EpisodeMarks> {
        let row: Option<(Option<String>, String, String)> =
            sqlx::query_as("SELECT chapters_url, chapters, soundbites FROM episodes WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let Some((chapters_url, chapters, soundbites)) = row else {
            return Ok(Default::default());
        };
        super::marks_from_columns(id, chapters_url, &chapters, &soundbites)
    }

    async fn finish_episode(&self, id: EpisodeId, error: Option<&str>) -> StoreResult<()> {
        sqlx::query("UPDATE episodes SET status = $1, error = $2 WHERE id = $3")
            .bind(if error.is_some() { "failed" } else { "done" })
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_insights(
        &self,
        episode: EpisodeId,
        insights: &[NewInsight],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<InsightId>> {
        let mut tx = self.pool.begin().await?;
        let ids = insert_insights_in(&mut tx, episode, insights, now).await?;
        tx.commit().await?;
        Ok(ids)
    }

    async fn insights(&self, ids: &[InsightId]) -> StoreResult<Vec<InsightView>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("{INSIGHT_VIEW} WHERE i.id = ANY($1)");
        let rows = sqlx::query(&sql).bind(ids).fetch_all(&self.pool).await?;
        let mut found: Vec<InsightView> =
            rows.iter().map(insight_view).collect::<StoreResult<_>>()?;
        found.sort_by_key(|v| ids.iter().position(|id| *id == v.id));
        Ok(found)
    }

    async fn insights_after(&self, after: InsightId, limit: i64) -> StoreResult<Vec<InsightView>> {
        let sql = format!("{INSIGHT_VIEW} WHERE i.id > $1 ORDER BY i.id LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(insight_view).collect()
    }

    async fn latest_insight_id(&self) -> StoreResult<InsightId> {
        let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM insights")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }

    async fn delivered_among(
        &self,
        subs: &[SubscriptionId],
        from_id: InsightId,
    ) -> StoreResult<Vec<(SubscriptionId, InsightId)>> {
        let rows = sqlx::query(
            "SELECT subscription_id, insight_id FROM delivered_insights \
             WHERE subscription_id = ANY($1) AND insight_id >= $2",
        )
        .bind(subs)
        .bind(from_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    async fn brief_candidates(
        &self,
        since: DateTime<Utc>,
        sub: Option<SubscriptionId>,
    ) -> StoreResult<Vec<InsightView>> {
        let sql = format!(
            "{INSIGHT_VIEW} WHERE COALESCE(e.published_at, e.created_at) >= $1 AND NOT EXISTS \
             (SELECT 1 FROM delivered_insights d WHERE d.subscription_id = $2 AND d.insight_id = i.id) \
             ORDER BY i.id"
        );
        let rows = sqlx::query(&sql)
            .bind(since)
            .bind(sub.unwrap_or(-1))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(insight_view).collect()
    }

    async fn upsert_subscription(&self, s: &NewSubscription) -> StoreResult<Subscription> {
        sqlx::query(
            "INSERT INTO subscriptions (platform, chat_id, thread_id, schedule, timezone, size, topics, next_run_at, \
             created_by, created_at, scope_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (platform, chat_id, thread_id) DO UPDATE SET schedule = excluded.schedule, \
             timezone = excluded.timezone, next_run_at = excluded.next_run_at, paused_reason = NULL, \
             scope_id = COALESCE(excluded.scope_id, subscriptions.scope_id)",
        )
        .bind(s.chat.platform.as_str())
        .bind(&s.chat.chat_id)
        .bind(s.chat.thread_id.as_deref().unwrap_or(""))
        .bind(&s.schedule)
        .bind(&s.timezone)
        .bind(i64::from(s.size))
        .bind(list(&s.topics))
        .bind(s.next_run_at)
        .bind(&s.created_by)
        .bind(Utc::now())
        .bind(&s.scope_id)
        .execute(&self.pool)
        .await?;
        self.subscription(&s.chat)
            .await?
            .ok_or_else(|| StoreError::Corrupt("subscription vanished after insert".into()))
    }

    async fn subscription(&self, chat: &ChatRef) -> StoreResult<Option<Subscription>> {
        let sql = format!("{SUBSCRIPTION} WHERE platform = $1 AND chat_id = $2 AND thread_id = $3");
        let row = sqlx::query(&sql)
            .bind(chat.platform.as_str())
            .bind(&chat.chat_id)
            .bind(chat.thread_id.as_deref().unwrap_or(""))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(subscription).transpose()
    }

    async fn update_subscription(&self, s: &Subscription) -> StoreResult<()> {
        sqlx::query(
            "UPDATE subscriptions SET schedule = $1, timezone = $2, size = $3, topics = $4, next_run_at = $5 \
             WHERE id = $6",
        )
        .bind(s.schedule.as_str())
        .bind(s.timezone.as_str())
        .bind(i64::from(s.size))
        .bind(list(&s.topics))
        .bind(s.next_run_at)
        .bind(s.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_subscription(&self, chat: &ChatRef) -> StoreResult<bool> {
        let r = sqlx::query(
            "DELETE FROM subscriptions WHERE platform = $1 AND chat_id = $2 AND thread_id = $3",
        )
        .bind(chat.platform.as_str())
        .bind(&chat.chat_id)
        .bind(chat.thread_id.as_deref().unwrap_or(""))
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn pause_subscription(&self, id: SubscriptionId, reason: &str) -> StoreResult<()> {
        sqlx::query("UPDATE subscriptions SET paused_reason = $1 WHERE id = $2")
            .bind(reason)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn pause_chat(&self, chat: &ChatRef, reason: &str) -> StoreResult<bool> {
        // Without a thread, every thread of the chat is paused (the bot left the whole chat).
        let r = sqlx::query(
            "UPDATE subscriptions SET paused_reason = $1 WHERE platform = $2 AND chat_id = $3 \
             AND ($4::TEXT IS NULL OR thread_id = $4)",
        )
        .bind(reason)
        .bind(chat.platform.as_str())
        .bind(&chat.chat_id)
        .bind(chat.thread_id.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn pause_scope(
        &self,
        platform: Platform,
        scope_id: &str,
        reason: &str,
    ) -> StoreResult<u64> {
        let r = sqlx::query(
            "UPDATE subscriptions SET paused_reason = $1 WHERE platform = $2 AND scope_id = $3",
        )
        .bind(reason)
        .bind(platform.as_str())
        .bind(scope_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    async fn move_chat(&self, from: &ChatRef, to_chat_id: &str) -> StoreResult<bool> {
        // Rows whose new key is taken stay where they are (SQLite's UPDATE OR IGNORE).
        let r = sqlx::query(
            "UPDATE subscriptions s SET chat_id = $1 WHERE s.platform = $2 AND s.chat_id = $3 \
             AND NOT EXISTS (SELECT 1 FROM subscriptions o WHERE o.platform = s.platform \
             AND o.chat_id = $1 AND o.thread_id = s.thread_id)",
        )
        .bind(to_chat_id)
        .bind(from.platform.as_str())
        .bind(&from.chat_id)
        .execute(&self.pool)
        .await;
        match r {
            Ok(r) => Ok(r.rows_affected() > 0),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn due_subscriptions(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Subscription>> {
        let sql = format!(
            "{SUBSCRIPTION} WHERE paused_reason IS NULL AND next_run_at <= $1 ORDER BY next_run_at, id \
             LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(subscription).collect()
    }

    async fn next_run_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_run_at) FROM subscriptions WHERE paused_reason IS NULL",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    async fn plan_deliveries(
        &self,
        plans: &[Plan],
        now: DateTime<Utc>,
        lease_until: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<Option<i64>>> {
        // Column arrays: one statement whatever the batch size.
        let subs: Vec<SubscriptionId> = plans.iter().map(|p| p.subscription).collect();
        let occurrences: Vec<DateTime<Utc>> = plans.iter().map(|p| p.occurrence).collect();
        let next: Vec<DateTime<Utc>> = plans.iter().map(|p| p.next_run_at).collect();
        let statuses: Vec<&str> = plans
            .iter()
            .map(|p| if p.missed { "missed" } else { "pending" })
            .collect();
        // One statement, so one round trip and its own transaction: the rows (leased, `$5`, are
        // the caller's to send: a missed one never is) and the subscriptions' advance.
        let rows = sqlx::query(
            "WITH planned AS (\
               INSERT INTO deliveries (subscription_id, occurrence, status, next_attempt_at, \
               created_at, lease_until, attempts) \
               SELECT s, o, st, o, $4, CASE WHEN st = 'pending' THEN $5::TIMESTAMPTZ END, \
               CASE WHEN st = 'pending' AND $5::TIMESTAMPTZ IS NOT NULL THEN 1 ELSE 0 END \
               FROM unnest($1::BIGINT[], $2::TIMESTAMPTZ[], $3::TEXT[]) AS v(s, o, st) \
               ON CONFLICT (subscription_id, occurrence) DO NOTHING \
               RETURNING subscription_id, occurrence, id), \
             advanced AS (\
               UPDATE subscriptions s SET next_run_at = v.n \
               FROM unnest($1::BIGINT[], $6::TIMESTAMPTZ[], $2::TIMESTAMPTZ[]) AS v(id, n, o) \
               WHERE s.id = v.id AND s.next_run_at = v.o) \
             SELECT subscription_id, occurrence, id FROM planned",
        )
        .bind(&subs)
        .bind(&occurrences)
        .bind(&statuses)
        .bind(now)
        .bind(lease_until)
        .bind(&next)
        .fetch_all(&self.pool)
        .await?;
        let created: std::collections::HashMap<(i64, DateTime<Utc>), i64> = rows
            .iter()
            .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?), r.try_get(2)?)))
            .collect::<StoreResult<_>>()?;
        let claimable = lease_until.is_none() && plans.iter().any(|p| !p.missed);
        if claimable && !created.is_empty() {
            // Wakes every instance listening (`watch_plans`); leased rows are the planner's own
            // to send. Once committed: a lost notification only delays the claim until the
            // outbox's own timer.
            if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(PLANNED_CHANNEL)
                .execute(&self.pool)
                .await
            {
                tracing::warn!(error = %e, "cannot announce planned deliveries; claimed on the outbox's timer");
            }
        }
        Ok(plans
            .iter()
            .map(|p| created.get(&(p.subscription, p.occurrence)).copied())
            .collect())
    }

    async fn watch_plans(
        &self,
        wake: std::sync::Arc<tokio::sync::Notify>,
    ) -> StoreResult<Option<tokio::task::JoinHandle<()>>> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(PLANNED_CHANNEL).await?;
        Ok(Some(tokio::spawn(async move {
            loop {
                // `recv` reconnects by itself after a lost connection (notifications sent
                // meanwhile are lost; the outbox's own timer covers them).
                match listener.recv().await {
                    Ok(_) => wake.notify_one(),
                    Err(e) => {
                        tracing::warn!(error = %e, "listening for planned deliveries failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        })))
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Delivery>> {
        // SKIP LOCKED: rows another instance is claiming right now are passed over, not waited
        // for, so instances claiming at once take disjoint rows.
        let rows = sqlx::query(
            "WITH c AS (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $2 \
              AND (lease_until IS NULL OR lease_until <= $2) ORDER BY next_attempt_at, id LIMIT $3 \
              FOR UPDATE SKIP LOCKED) \
             UPDATE deliveries d SET lease_until = $1, attempts = d.attempts + 1 FROM c WHERE d.id = c.id \
             RETURNING d.id, d.subscription_id, d.occurrence, d.attempts",
        )
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<super::ClaimedRow> = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("subscription_id")?,
                    r.try_get("occurrence")?,
                    r.try_get("attempts")?,
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let sql = format!("{SUBSCRIPTION} WHERE id = ANY($1)");
        let subs = sqlx::query(&sql)
            .bind(&ids)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(subscription)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(super::join_claimed(rows, subs))
    }

    async fn record_deliveries(&self, done: &[DeliveryDone]) -> StoreResult<()> {
        // Column arrays: one statement whatever the batch size.
        let (mut ids, mut messages, mut times) = (Vec::new(), Vec::new(), Vec::new());
        let (mut subs, mut insights) = (Vec::new(), Vec::new());
        let (mut ended, mut statuses, mut errors) = (Vec::new(), Vec::new(), Vec::new());
        for d in done {
            match &d.result {
                DeliveryResult::Sent {
                    message_ids,
                    insights: delivered,
                    at,
                } => {
                    ids.push(d.id);
                    messages.push(list(message_ids));
                    times.push(*at);
                    for i in delivered {
                        subs.push(d.subscription);
                        insights.push(*i);
                    }
                }
                DeliveryResult::Ended { outcome, error } => {
                    ended.push(d.id);
                    statuses.push(outcome.as_str());
                    errors.push(error.clone());
                }
            }
        }
        // One statement, so one round trip and its own transaction (a part with no rows does
        // nothing).
        sqlx::query(
            "WITH sent AS (\
               UPDATE deliveries d SET status = 'sent', message_ids = v.m, error = NULL, \
               sent_at = v.at, lease_until = NULL \
               FROM unnest($1::BIGINT[], $2::TEXT[], $3::TIMESTAMPTZ[]) AS v(id, m, at) \
               WHERE d.id = v.id), \
             delivered AS (\
               INSERT INTO delivered_insights (subscription_id, insight_id) \
               SELECT * FROM unnest($4::BIGINT[], $5::BIGINT[]) ON CONFLICT DO NOTHING), \
             ended AS (\
               UPDATE deliveries d SET status = v.s, error = v.e, lease_until = NULL \
               FROM unnest($6::BIGINT[], $7::TEXT[], $8::TEXT[]) AS v(id, s, e) \
               WHERE d.id = v.id) \
             SELECT 1",
        )
        .bind(&ids)
        .bind(&messages)
        .bind(&times)
        .bind(&subs)
        .bind(&insights)
        .bind(&ended)
        .bind(&statuses)
        .bind(&errors)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn retry_delivery(
        &self,
        id: i64,
        next_attempt_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE deliveries SET next_attempt_at = $1, error = COALESCE($2, error), lease_until = NULL \
             WHERE id = $3",
        )
        .bind(next_attempt_at)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn next_delivery_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        // GREATEST ignores NULLs: a row without a lease is due at its next attempt.
        Ok(sqlx::query_scalar(
            "SELECT MIN(GREATEST(next_attempt_at, lease_until)) FROM deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    async fn deliveries(&self, failed_only: bool, limit: i64) -> StoreResult<Vec<DeliveryRow>> {
        let sql = format!(
            "{DELIVERY_ROW} {} ORDER BY d.occurrence DESC, d.id DESC LIMIT $1",
            if failed_only {
                "WHERE d.status = 'failed'"
            } else {
                ""
            }
        );
        let rows = sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(delivery_row).collect()
    }

    async fn subscriptions_overview(
        &self,
    ) -> StoreResult<Vec<(Subscription, Option<DeliveryRow>)>> {
        let sql = format!("{SUBSCRIPTION} ORDER BY next_run_at, id");
        let subs: Vec<Subscription> = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(subscription)
            .collect::<StoreResult<_>>()?;
        let sql = DELIVERY_ROW.replacen("SELECT", "SELECT DISTINCT ON (d.subscription_id)", 1)
            + " ORDER BY d.subscription_id, d.occurrence DESC, d.id DESC";
        let mut last: HashMap<i64, DeliveryRow> = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| delivery_row(r).map(|d| (d.subscription_id, d)))
            .collect::<StoreResult<_>>()?;
        Ok(subs
            .into_iter()
            .map(|s| {
                let d = last.remove(&s.id);
                (s, d)
            })
            .collect())
    }

    async fn oldest_pending_delivery(&self) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(COALESCE(next_attempt_at, occurrence)) FROM deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    async fn podcast_image(&self, id: PodcastId) -> StoreResult<Option<String>> {
        let image: Option<Option<String>> =
            sqlx::query_scalar("SELECT image FROM podcasts WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(image.flatten())
    }

    async fn insights_on_topic(
        &self,
        topic: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<InsightView>> {
        let sql = format!(
            "{INSIGHT_VIEW} WHERE $1 IN (SELECT json_array_elements_text(i.topics::json)) \
             ORDER BY COALESCE(e.published_at, e.created_at) DESC, i.id DESC LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(&sql)
            .bind(topic)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(insight_view).collect()
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn try_lock(&self, name: &str) -> StoreResult<Option<InstanceLock>> {
        // A connection of its own: the lock lives exactly as long as it does.
        let mut conn = open(&self.options).await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(format!("podbrief:{name}"))
            .fetch_one(&mut conn)
            .await?;
        if got {
            Ok(Some(InstanceLock::held_by(Box::new(PgLock { conn }))))
        } else {
            let _ = conn.close().await;
            Ok(None)
        }
    }
}

impl PgStore {
    /// Episodes in one processing status (`new`, `done`), newest first.
    async fn episodes_with_status(&self, status: &str) -> StoreResult<Vec<Episode>> {
        let rows = sqlx::query("SELECT id, podcast_id, guid, title, link, audio_url, published_at, duration_s, transcript_url, \
             transcript_kind, show_notes, status FROM episodes WHERE status = $1 \
             ORDER BY COALESCE(published_at, created_at) DESC, id",)
        .bind(status)
        .fetch_all(&self.pool)
        .await?;

        rows.iter()
            .map(|r| {
                Ok(Episode {
                    id: r.try_get("id")?,
                    podcast_id: r.try_get("podcast_id")?,
                    status: r.try_get("status")?,
                    meta: NewEpisode {
                        guid: r.try_get("guid")?,
                        title: r.try_get("title")?,
                        link: r.try_get("link")?,
                        audio_url: r.try_get("audio_url")?,
                        published_at: r.try_get("published_at")?,
                        duration_s: r.try_get("duration_s")?,
                        transcript_url: r.try_get("transcript_url")?,
                        transcript_kind: r.try_get("transcript_kind")?,
                        show_notes: r.try_get("show_notes")?,
                    },
                })
            })
            .collect()
    }
}

/// Inserts insights of an episode inside a transaction, skipping any whose content hash exists;
/// the ids of the new ones.
async fn insert_insights_in(
    tx: &mut sqlx::PgConnection,
    episode: EpisodeId,
    insights: &[NewInsight],
    now: DateTime<Utc>,
) -> StoreResult<Vec<InsightId>> {
    let mut ids = Vec::new();
    for i in insights {
        let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO insights (episode_id, text, quote, start_ms, end_ms, speaker, score, topics, \
                 content_hash, created_at, chapter, engine, prompt_version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (content_hash) DO NOTHING RETURNING id",
            )
            .bind(episode)
            .bind(&i.text)
            .bind(&i.quote)
            .bind(i.start_ms)
            .bind(i.end_ms)
            .bind(&i.speaker)
            .bind(i.score)
            .bind(list(&i.topics))
            .bind(crate::core::text::content_hash(&i.text))
            .bind(now)
            .bind(&i.chapter)
            .bind(&i.origin.engine)
            .bind(&i.origin.prompt_version)
            .fetch_optional(&mut *tx)
            .await?;
        ids.extend(id);
    }
    Ok(ids)
}
