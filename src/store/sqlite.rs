//! The SQLite backend of [`Store`](super::Store).
//!
//! Times are stored as fixed-width RFC 3339 text in UTC (`2026-11-27T08:00:00.000000Z`), so text
//! order is time order.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqlitePool};

use super::{DeliveryOutcome, FeedRow, NewSubscription, Stats, Store, StoreError, StoreResult};
use crate::core::model::{
    ChatRef, Episode, EpisodeId, InsightId, InsightView, NewEpisode, NewInsight, Platform,
    PodcastId, PodcastMeta, Subscription, SubscriptionId,
};

/// A SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

fn parse_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

const INSIGHT_VIEW: &str = "SELECT i.id, i.text, i.quote, i.start_ms, i.speaker, i.score, i.topics, i.content_hash, \
     e.id AS episode_id, e.title AS episode_title, COALESCE(e.link, e.audio_url) AS episode_link, \
     COALESCE(e.published_at, e.created_at) AS published_at, p.id AS podcast_id, p.title AS podcast_title \
     FROM insights i JOIN episodes e ON e.id = i.episode_id JOIN podcasts p ON p.id = e.podcast_id";

fn insight_view(r: &SqliteRow) -> StoreResult<InsightView> {
    Ok(InsightView {
        id: r.try_get("id")?,
        text: r.try_get("text")?,
        quote: r.try_get("quote")?,
        start_ms: r.try_get("start_ms")?,
        speaker: r.try_get("speaker")?,
        score: r.try_get("score")?,
        topics: parse_list(r.try_get("topics")?),
        content_hash: r.try_get("content_hash")?,
        episode_id: r.try_get("episode_id")?,
        episode_title: r.try_get("episode_title")?,
        episode_link: r.try_get("episode_link")?,
        published_at: parse_ts(r.try_get("published_at")?)?,
        podcast_id: r.try_get("podcast_id")?,
        podcast_title: r.try_get("podcast_title")?,
    })
}

const SUBSCRIPTION: &str = "SELECT id, platform, chat_id, thread_id, schedule, timezone, size, topics, next_run_at, \
     paused_reason FROM subscriptions";

fn subscription(r: &SqliteRow) -> StoreResult<Subscription> {
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
        schedule: r.try_get("schedule")?,
        timezone: r.try_get("timezone")?,
        size: u8::try_from(size).unwrap_or(u8::MAX),
        topics: parse_list(r.try_get("topics")?),
        next_run_at: parse_ts(r.try_get("next_run_at")?)?,
        paused_reason: r.try_get("paused_reason")?,
    })
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite:` URL.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<SqliteStore> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(opts)
            .await?;
        Ok(SqliteStore { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/sqlite")
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
            "INSERT INTO podcasts (feed_url, title, link, image, created_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (feed_url) DO UPDATE SET title = excluded.title, link = excluded.link, \
             image = excluded.image, failures = 0, last_error = NULL RETURNING id",
        )
        .bind(feed_url)
        .bind(&meta.title)
        .bind(&meta.link)
        .bind(&meta.image)
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn record_feed_error(&self, feed_url: &str, error: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE podcasts SET failures = failures + 1, last_error = ? WHERE feed_url = ?",
        )
        .bind(error)
        .bind(feed_url)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn feeds(&self) -> StoreResult<Vec<FeedRow>> {
        let rows = sqlx::query(
            "SELECT p.id, p.feed_url, p.title, p.failures, p.last_error, \
             (SELECT COUNT(*) FROM episodes e WHERE e.podcast_id = p.id) AS episodes \
             FROM podcasts p ORDER BY p.title",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FeedRow {
                    id: r.try_get("id")?,
                    feed_url: r.try_get("feed_url")?,
                    title: r.try_get("title")?,
                    failures: r.try_get("failures")?,
                    last_error: r.try_get("last_error")?,
                    episodes: r.try_get("episodes")?,
                })
            })
            .collect()
    }

    async fn upsert_episode(
        &self,
        podcast: PodcastId,
        ep: &NewEpisode,
        now: DateTime<Utc>,
    ) -> StoreResult<(EpisodeId, bool)> {
        let mut tx = self.pool.begin().await?;
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM episodes WHERE podcast_id = ? AND guid = ?")
                .bind(podcast)
                .bind(&ep.guid)
                .fetch_optional(&mut *tx)
                .await?;
        let result = match existing {
            Some(id) => {
                sqlx::query(
                    "UPDATE episodes SET title = ?, link = ?, audio_url = ?, published_at = ?, duration_s = ?, \
                     transcript_url = ?, transcript_kind = ?, show_notes = ? WHERE id = ?",
                )
                .bind(&ep.title)
                .bind(&ep.link)
                .bind(&ep.audio_url)
                .bind(ep.published_at.map(ts))
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
                let id = sqlx::query_scalar(
                    "INSERT INTO episodes (podcast_id, guid, title, link, audio_url, published_at, duration_s, \
                     transcript_url, transcript_kind, show_notes, status, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?) RETURNING id",
                )
                .bind(podcast)
                .bind(&ep.guid)
                .bind(&ep.title)
                .bind(&ep.link)
                .bind(&ep.audio_url)
                .bind(ep.published_at.map(ts))
                .bind(ep.duration_s)
                .bind(&ep.transcript_url)
                .bind(&ep.transcript_kind)
                .bind(&ep.show_notes)
                .bind(ts(now))
                .fetch_one(&mut *tx)
                .await?;
                (id, true)
            }
        };
        tx.commit().await?;
        Ok(result)
    }

    async fn pending_episodes(&self) -> StoreResult<Vec<Episode>> {
        let rows = sqlx::query(
            "SELECT id, podcast_id, guid, title, link, audio_url, published_at, duration_s, transcript_url, \
             transcript_kind, show_notes, status FROM episodes WHERE status = 'new' \
             ORDER BY COALESCE(published_at, created_at) DESC, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let published: Option<String> = r.try_get("published_at")?;
                Ok(Episode {
                    id: r.try_get("id")?,
                    podcast_id: r.try_get("podcast_id")?,
                    status: r.try_get("status")?,
                    meta: NewEpisode {
                        guid: r.try_get("guid")?,
                        title: r.try_get("title")?,
                        link: r.try_get("link")?,
                        audio_url: r.try_get("audio_url")?,
                        published_at: published.as_deref().map(parse_ts).transpose()?,
                        duration_s: r.try_get("duration_s")?,
                        transcript_url: r.try_get("transcript_url")?,
                        transcript_kind: r.try_get("transcript_kind")?,
                        show_notes: r.try_get("show_notes")?,
                    },
                })
            })
            .collect()
    }

    async fn finish_episode(&self, id: EpisodeId, error: Option<&str>) -> StoreResult<()> {
        sqlx::query("UPDATE episodes SET status = ?, error = ? WHERE id = ?")
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
        let mut ids = Vec::new();
        for i in insights {
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO insights (episode_id, text, quote, start_ms, end_ms, speaker, score, topics, \
                 content_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
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
            .bind(ts(now))
            .fetch_optional(&mut *tx)
            .await?;
            ids.extend(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn insights(&self, ids: &[InsightId]) -> StoreResult<Vec<InsightView>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; ids.len()].join(",");
        let sql = format!("{INSIGHT_VIEW} WHERE i.id IN ({placeholders})");
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut found: Vec<InsightView> =
            rows.iter().map(insight_view).collect::<StoreResult<_>>()?;
        found.sort_by_key(|v| ids.iter().position(|id| *id == v.id));
        Ok(found)
    }

    async fn insights_after(&self, after: InsightId, limit: i64) -> StoreResult<Vec<InsightView>> {
        let sql = format!("{INSIGHT_VIEW} WHERE i.id > ? ORDER BY i.id LIMIT ?");
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(insight_view).collect()
    }

    async fn brief_candidates(
        &self,
        since: DateTime<Utc>,
        sub: Option<SubscriptionId>,
    ) -> StoreResult<Vec<InsightView>> {
        let sql = format!(
            "{INSIGHT_VIEW} WHERE COALESCE(e.published_at, e.created_at) >= ? AND NOT EXISTS \
             (SELECT 1 FROM delivered_insights d WHERE d.subscription_id = ? AND d.insight_id = i.id)"
        );
        let rows = sqlx::query(&sql)
            .bind(ts(since))
            .bind(sub.unwrap_or(-1))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(insight_view).collect()
    }

    async fn upsert_subscription(&self, s: &NewSubscription) -> StoreResult<Subscription> {
        sqlx::query(
            "INSERT INTO subscriptions (platform, chat_id, thread_id, schedule, timezone, size, topics, next_run_at, \
             created_by, created_at, scope_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
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
        .bind(ts(s.next_run_at))
        .bind(&s.created_by)
        .bind(ts(Utc::now()))
        .bind(&s.scope_id)
        .execute(&self.pool)
        .await?;
        self.subscription(&s.chat)
            .await?
            .ok_or_else(|| StoreError::Corrupt("subscription vanished after insert".into()))
    }

    async fn subscription(&self, chat: &ChatRef) -> StoreResult<Option<Subscription>> {
        let sql = format!("{SUBSCRIPTION} WHERE platform = ? AND chat_id = ? AND thread_id = ?");
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
            "UPDATE subscriptions SET schedule = ?, timezone = ?, size = ?, topics = ?, next_run_at = ? WHERE id = ?",
        )
        .bind(&s.schedule)
        .bind(&s.timezone)
        .bind(i64::from(s.size))
        .bind(list(&s.topics))
        .bind(ts(s.next_run_at))
        .bind(s.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_subscription(&self, chat: &ChatRef) -> StoreResult<bool> {
        let r = sqlx::query(
            "DELETE FROM subscriptions WHERE platform = ? AND chat_id = ? AND thread_id = ?",
        )
        .bind(chat.platform.as_str())
        .bind(&chat.chat_id)
        .bind(chat.thread_id.as_deref().unwrap_or(""))
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn pause_subscription(&self, id: SubscriptionId, reason: &str) -> StoreResult<()> {
        sqlx::query("UPDATE subscriptions SET paused_reason = ? WHERE id = ?")
            .bind(reason)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn pause_chat(&self, chat: &ChatRef, reason: &str) -> StoreResult<bool> {
        // Without a thread, every thread of the chat is paused (the bot left the whole chat).
        let r = sqlx::query(
            "UPDATE subscriptions SET paused_reason = ? WHERE platform = ? AND chat_id = ? AND (? IS NULL OR thread_id = ?)",
        )
        .bind(reason)
        .bind(chat.platform.as_str())
        .bind(&chat.chat_id)
        .bind(chat.thread_id.as_deref())
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
            "UPDATE subscriptions SET paused_reason = ? WHERE platform = ? AND scope_id = ?",
        )
        .bind(reason)
        .bind(platform.as_str())
        .bind(scope_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    async fn move_chat(&self, from: &ChatRef, to_chat_id: &str) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE OR IGNORE subscriptions SET chat_id = ? WHERE platform = ? AND chat_id = ?",
        )
        .bind(to_chat_id)
        .bind(from.platform.as_str())
        .bind(&from.chat_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn due_subscriptions(&self, now: DateTime<Utc>) -> StoreResult<Vec<Subscription>> {
        let sql = format!(
            "{SUBSCRIPTION} WHERE paused_reason IS NULL AND next_run_at <= ? ORDER BY next_run_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(ts(now))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(subscription).collect()
    }

    async fn next_run_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let t: Option<String> = sqlx::query_scalar(
            "SELECT MIN(next_run_at) FROM subscriptions WHERE paused_reason IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        t.as_deref().map(parse_ts).transpose()
    }

    async fn open_delivery(
        &self,
        sub: SubscriptionId,
        occurrence: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<(i64, bool)> {
        sqlx::query(
            "INSERT INTO deliveries (subscription_id, occurrence, status, created_at) VALUES (?, ?, 'pending', ?) \
             ON CONFLICT (subscription_id, occurrence) DO NOTHING",
        )
        .bind(sub)
        .bind(ts(occurrence))
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        let r = sqlx::query(
            "SELECT id, status FROM deliveries WHERE subscription_id = ? AND occurrence = ?",
        )
        .bind(sub)
        .bind(ts(occurrence))
        .fetch_one(&self.pool)
        .await?;
        let status: String = r.try_get("status")?;
        Ok((r.try_get("id")?, status != "pending"))
    }

    async fn close_delivery(
        &self,
        delivery: i64,
        sub: SubscriptionId,
        outcome: DeliveryOutcome,
        message_ids: &[String],
        insights: &[InsightId],
        error: Option<&str>,
        next_run_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1, message_ids = ?, error = ?, \
             sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE id = ?",
        )
        .bind(outcome.as_str())
        .bind(list(message_ids))
        .bind(error)
        .bind(outcome.as_str())
        .bind(ts(now))
        .bind(delivery)
        .execute(&mut *tx)
        .await?;
        for id in insights {
            sqlx::query("INSERT OR IGNORE INTO delivered_insights (subscription_id, insight_id) VALUES (?, ?)")
                .bind(sub)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE subscriptions SET next_run_at = ? WHERE id = ?")
            .bind(ts(next_run_at))
            .bind(sub)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
