//! The SQLite backend of [`Store`](super::Store).
//!
//! Times are stored as fixed-width RFC 3339 text in UTC (`2026-11-27T08:00:00.000000Z`), so text
//! order is time order.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};

use super::{
    Delivery, DeliveryDone, DeliveryResult, DeliveryRow, FeedRow, NewSubscription, Plan,
    PollRecord, Reextraction, Stats, Store, StoreError, StoreResult, StoredInsight,
};
use crate::core::model::{
    ChatRef, Episode, EpisodeId, InsightId, InsightView, NewEpisode, NewInsight, Platform,
    PodcastId, PodcastMeta, Subscription, SubscriptionId,
};
use crate::core::schedule::{Schedule, Zone};

/// A SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Readers (WAL: they never wait for the writer).
    pool: SqlitePool,
    /// The one writing connection.
    writer: SqlitePool,
    /// The database file (`None` in memory).
    file: Option<std::path::PathBuf>,
}

/// Less free space than this beside the database makes it not ready (`/readyz`).
const MIN_FREE_BYTES: u64 = 4 * 1024 * 1024;

/// Bytes available to this process on the filesystem holding `folder`, if it can be read.
fn free_bytes(folder: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let folder = if folder.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        folder
    };
    let path = std::ffi::CString::new(folder.as_os_str().as_bytes()).ok()?;
    // SAFETY: an all-zero statvfs is a valid value for statvfs to overwrite.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a NUL-terminated string and `st` a valid statvfs to write.
    let ok = unsafe { libc::statvfs(path.as_ptr(), &mut st) } == 0;
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    ok.then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

/// A write transaction to fill with statements and run with [`SqliteStore::write_script`].
fn script() -> sqlx::QueryBuilder<'static, sqlx::Sqlite> {
    sqlx::QueryBuilder::new("BEGIN IMMEDIATE; ")
}

/// Groups `items` by `key`, groups in order of first appearance and items in order within each.
///
/// A fan-out's rows mostly share their values (one occurrence, one next run, one ranking): each
/// group becomes one statement whose rows are a JSON array of ids, so a batch is a few statements
/// of fixed shape whatever its size.
fn grouped<T, K: std::hash::Hash + Eq + Clone>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Vec<(K, Vec<T>)> {
    let mut index = std::collections::HashMap::new();
    let mut groups: Vec<(K, Vec<T>)> = Vec::new();
    for item in items {
        let i = *index.entry(key(&item)).or_insert_with_key(|k| {
            groups.push((k.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(item);
    }
    groups
}

/// A multi-statement query with this many groups is kept prepared (the shapes of ordinary
/// batches); one with more is prepared for its single use.
const KEPT_GROUPS: usize = 4;

/// A timestamp as stored: RFC 3339 in UTC with microseconds (`2026-11-27T08:00:00.000000Z`), so
/// that text order is time order.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

fn parse_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// A JSON array: a stored list, or ids for `json_each(?)`.
fn list<T: serde::Serialize>(v: &[T]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

const INSIGHT_VIEW: &str = "SELECT i.id, i.text, i.quote, i.start_ms, i.end_ms, i.speaker, i.score, i.topics, i.content_hash, i.chapter, \
     e.id AS episode_id, e.title AS episode_title, COALESCE(e.link, e.audio_url) AS episode_link, \
     COALESCE(e.published_at, e.created_at) AS published_at, p.id AS podcast_id, p.title AS podcast_title \
     FROM insights i JOIN episodes e ON e.id = i.episode_id JOIN podcasts p ON p.id = e.podcast_id";

fn insight_view(r: &SqliteRow) -> StoreResult<InsightView> {
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
        published_at: parse_ts(r.try_get("published_at")?)?,
        podcast_id: r.try_get("podcast_id")?,
        podcast_title: r.try_get("podcast_title")?,
        chapter: r.try_get("chapter")?,
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
        schedule: Schedule::parse(&r.try_get::<String, _>("schedule")?)?,
        timezone: Zone::parse(&r.try_get::<String, _>("timezone")?)?,
        size: u8::try_from(size).unwrap_or(u8::MAX),
        topics: parse_list(r.try_get("topics")?),
        next_run_at: parse_ts(r.try_get("next_run_at")?)?,
        paused_reason: r.try_get("paused_reason")?,
    })
}

/// Whether a `BEGIN` failed because the connection is (or believes it is) already inside a
/// transaction.
fn stuck_in_transaction(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::InvalidSavePointStatement => true,
        sqlx::Error::Database(d) => d.message().contains("within a transaction"),
        _ => false,
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite:` URL.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<SqliteStore> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode, NORMAL survives an application crash (only a power loss can lose the
            // last commits) and makes each commit far cheaper.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10))
            // Each connection runs on a thread of its own that hands rows over through a
            // channel; with sqlx's 50 a fan-out batch's few hundred rows ping-pong between the
            // threads (a context switch every few dozen rows).
            .row_buffer_size(1024);
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(opts.clone())
            .await?;
        // SQLite takes one writer at a time: writers queue for this one connection in order
        // instead of polling the file lock (the busy handler sleeps between tries). An
        // in-memory database exists only on its own connection, so it shares the pool.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let file = (!in_memory).then(|| opts.get_filename().to_path_buf());
        let writer = if in_memory {
            pool.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await?
        };
        Ok(SqliteStore { pool, writer, file })
    }
}

impl SqliteStore {
    /// A transaction that takes the write lock at once (`BEGIN IMMEDIATE`), so concurrent
    /// writers wait (busy timeout) instead of failing with "database is locked" when a read
    /// would later need upgrading.
    ///
    /// A commit that fails (a full disk) can leave the writing connection counting a transaction
    /// SQLite already ended, and refusing every later `BEGIN` ("non-zero transaction depth"), or
    /// inside one SQLite still holds: that connection is closed and a fresh one takes over.
    async fn write_tx(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        match self.writer.begin_with("BEGIN IMMEDIATE").await {
            Err(e) if stuck_in_transaction(&e) => {
                tracing::warn!(error = %e, "the writing connection is stuck in a transaction; reopening it");
                let conn = self.writer.acquire().await?;
                let _ = conn.close().await;
                Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
            }
            r => Ok(r?),
        }
    }

    /// Runs `script` (from [`script`], each statement ending in `;`) as one transaction, in a
    /// single command to the writer's thread, and returns the rows its statements return.
    ///
    /// Each round trip to that thread waits for a busy runtime to poll the caller again: a batch
    /// written this way takes one instead of one per statement plus two. An error rolls the
    /// transaction back; a caller that goes away mid-way closes the connection instead of
    /// returning it to the pool (closing rolls back what the script left open).
    async fn write_script(
        &self,
        mut script: sqlx::QueryBuilder<'_, sqlx::Sqlite>,
        keep_prepared: bool,
    ) -> StoreResult<Vec<SqliteRow>> {
        /// Closes the connection unless disarmed (taken back out).
        struct Guard(Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>);
        impl Drop for Guard {
            fn drop(&mut self) {
                if let Some(conn) = self.0.as_mut() {
                    conn.close_on_drop();
                }
            }
        }
        script.push("COMMIT");
        let mut guard = Guard(Some(self.writer.acquire().await?));
        let conn = guard.0.as_mut().expect("armed");
        let result = script
            .build()
            .persistent(keep_prepared)
            .fetch_all(&mut **conn)
            .await;
        if result.is_err() {
            // Whatever ran before the error; fails harmlessly if the transaction never began.
            let _ = sqlx::query("ROLLBACK").execute(&mut **conn).await;
        }
        // Finished: the connection goes back to the pool.
        drop(guard.0.take());
        Ok(result?)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.writer)
            .await?;
        Ok(())
    }

    async fn check_writable(&self) -> StoreResult<()> {
        // A committed write that changes nothing: refused on a read-only file, and by a full disk
        // when the log must grow.
        let mut q = script();
        q.push(
            "UPDATE _sqlx_migrations SET success = success \
             WHERE version = (SELECT MAX(version) FROM _sqlx_migrations); ",
        );
        self.write_script(q, true).await?;
        let folder = self.file.as_deref().and_then(std::path::Path::parent);
        match folder.and_then(free_bytes) {
            Some(free) if free < MIN_FREE_BYTES => {
                Err(StoreError::Database(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    format!("the disk is full ({free} bytes free beside the database)"),
                ))))
            }
            _ => Ok(()),
        }
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
        .fetch_one(&self.writer)
        .await?;
        Ok(id)
    }

    async fn feeds(&self) -> StoreResult<Vec<FeedRow>> {
        let sql = format!("{FEED_ROW} ORDER BY p.title, p.id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(feed_row).collect()
    }

    async fn feed(&self, feed_url: &str) -> StoreResult<Option<FeedRow>> {
        let sql = format!("{FEED_ROW} WHERE p.feed_url = ?");
        let row = sqlx::query(&sql)
            .bind(feed_url)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(feed_row).transpose()
    }

    async fn add_feed(&self, feed_url: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let r = sqlx::query(
            "INSERT INTO podcasts (feed_url, title, created_at) VALUES (?, ?, ?) ON CONFLICT (feed_url) DO NOTHING",
        )
        .bind(feed_url)
        .bind(feed_url)
        .bind(ts(now))
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn remove_feed(&self, feed_url: &str) -> StoreResult<Option<PodcastId>> {
        let id: Option<i64> =
            sqlx::query_scalar("DELETE FROM podcasts WHERE feed_url = ? RETURNING id")
                .bind(feed_url)
                .fetch_optional(&self.writer)
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
            PollRecord::Fetched { etag, last_modified } => sqlx::query(
                "UPDATE podcasts SET etag = ?, last_modified = ?, failures = 0, last_error = NULL, next_poll_at = ? \
                 WHERE feed_url = ?",
            )
            .bind(etag.clone())
            .bind(last_modified.clone()),
            PollRecord::NotModified => {
                sqlx::query("UPDATE podcasts SET failures = 0, last_error = NULL, next_poll_at = ? WHERE feed_url = ?")
            }
            PollRecord::Failed { error, disable } => sqlx::query(
                "UPDATE podcasts SET failures = failures + 1, last_error = ?, \
                 disabled_reason = COALESCE(?, disabled_reason), next_poll_at = ? WHERE feed_url = ?",
            )
            .bind(error.clone())
            .bind(disable.clone()),
        };
        q.bind(ts(next_poll_at))
            .bind(feed_url)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn enable_feed(&self, feed_url: &str) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE podcasts SET disabled_reason = NULL, failures = 0, last_error = NULL, next_poll_at = NULL \
             WHERE feed_url = ?",
        )
        .bind(feed_url)
        .execute(&self.writer)
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
            "UPDATE podcasts SET next_poll_at = ? WHERE feed_url = ? AND disabled_reason IS NULL \
             AND (next_poll_at IS NULL OR next_poll_at <= ?)",
        )
        .bind(ts(lease_until))
        .bind(feed_url)
        .bind(ts(now))
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn move_feed(&self, old_url: &str, new_url: &str) -> StoreResult<bool> {
        let r = sqlx::query("UPDATE OR IGNORE podcasts SET feed_url = ? WHERE feed_url = ?")
            .bind(new_url)
            .bind(old_url)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn upsert_episode(
        &self,
        podcast: PodcastId,
        ep: &NewEpisode,
        now: DateTime<Utc>,
    ) -> StoreResult<(EpisodeId, bool)> {
        let mut tx = self.write_tx().await?;
        let mut existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM episodes WHERE podcast_id = ? AND guid = ?")
                .bind(podcast)
                .bind(&ep.guid)
                .fetch_optional(&mut *tx)
                .await?;
        if existing.is_none()
            && let Some(audio) = &ep.audio_url
        {
            // A feed that changed an episode's guid: the same enclosure is the same episode.
            existing = sqlx::query_scalar(
                "SELECT id FROM episodes WHERE podcast_id = ? AND audio_url = ? LIMIT 1",
            )
            .bind(podcast)
            .bind(audio)
            .fetch_optional(&mut *tx)
            .await?;
        }
        let result = match existing {
            Some(id) => {
                sqlx::query(
                    "UPDATE episodes SET guid = ?, title = ?, link = ?, audio_url = ?, published_at = ?, \
                     duration_s = ?, transcript_url = ?, transcript_kind = ?, show_notes = ? WHERE id = ?",
                )
                .bind(&ep.guid)
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
        self.episodes_with_status("new").await
    }

    async fn done_episodes(&self) -> StoreResult<Vec<Episode>> {
        self.episodes_with_status("done").await
    }

    async fn episode_insights(&self, episode: EpisodeId) -> StoreResult<Vec<StoredInsight>> {
        let rows = sqlx::query(
            "SELECT i.id, i.quote, i.start_ms, i.end_ms, i.engine, i.prompt_version, \
             EXISTS (SELECT 1 FROM delivered_insights d WHERE d.insight_id = i.id) AS delivered \
             FROM insights i WHERE i.episode_id = ? ORDER BY i.id",
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
        let mut tx = self.write_tx().await?;
        for (id, i) in &plan.update {
            let hash = crate::core::text::content_hash(&i.text);
            sqlx::query(
                "UPDATE insights SET text = ?, quote = ?, start_ms = ?, end_ms = ?, speaker = ?, \
                 score = ?, topics = ?, content_hash = ?, chapter = ?, engine = ?, prompt_version = ? \
                 WHERE id = ? AND episode_id = ? \
                 AND NOT EXISTS (SELECT 1 FROM insights o WHERE o.content_hash = ? AND o.id <> ?)",
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
            sqlx::query("DELETE FROM insights WHERE id = ? AND episode_id = ?")
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
            "UPDATE episodes SET chapters_url = ?, chapters = ?, soundbites = ? WHERE id = ?",
        )
        .bind(&marks.chapters_url)
        .bind(chapters)
        .bind(soundbites)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn episode_marks(&self, id: EpisodeId) -> StoreResult<crate::core::model::EpisodeMarks> {
        let row: Option<(Option<String>, String, String)> =
            sqlx::query_as("SELECT chapters_url, chapters, soundbites FROM episodes WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let Some((chapters_url, chapters, soundbites)) = row else {
            return Ok(Default::default());
        };
        super::marks_from_columns(id, chapters_url, &chapters, &soundbites)
    }

    async fn finish_episode(&self, id: EpisodeId, error: Option<&str>) -> StoreResult<()> {
        sqlx::query("UPDATE episodes SET status = ?, error = ? WHERE id = ?")
            .bind(if error.is_some() { "failed" } else { "done" })
            .bind(error)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn insert_insights(
        &self,
        episode: EpisodeId,
        insights: &[NewInsight],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<InsightId>> {
        let mut tx = self.write_tx().await?;
        let ids = insert_insights_in(&mut tx, episode, insights, now).await?;
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
        let ids = list(subs);
        let rows = sqlx::query(
            "SELECT subscription_id, insight_id FROM delivered_insights \
             WHERE subscription_id IN (SELECT value FROM json_each(?)) AND insight_id >= ?",
        )
        .bind(ids)
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
        .execute(&self.writer)
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
        .bind(s.schedule.as_str())
        .bind(s.timezone.as_str())
        .bind(i64::from(s.size))
        .bind(list(&s.topics))
        .bind(ts(s.next_run_at))
        .bind(s.id)
        .execute(&self.writer)
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
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn pause_subscription(&self, id: SubscriptionId, reason: &str) -> StoreResult<()> {
        sqlx::query("UPDATE subscriptions SET paused_reason = ? WHERE id = ?")
            .bind(reason)
            .bind(id)
            .execute(&self.writer)
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
        .execute(&self.writer)
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
        .execute(&self.writer)
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
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn due_subscriptions(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Subscription>> {
        let sql = format!(
            "{SUBSCRIPTION} WHERE paused_reason IS NULL AND next_run_at <= ? ORDER BY next_run_at, id \
             LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(ts(now))
            .bind(limit)
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

    async fn plan_deliveries(
        &self,
        plans: &[Plan],
        now: DateTime<Utc>,
        lease_until: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<Option<i64>>> {
        // One command to the writer's thread for the whole page: per group of plans sharing
        // occurrence, next run and fate, one insert and one advance, their subscriptions as a
        // JSON array.
        let groups = grouped(plans, |p| (p.occurrence, p.next_run_at, p.missed));
        let lease = lease_until.map(ts);
        let now = ts(now);
        let mut q = script();
        for ((occurrence, next_run_at, missed), plans) in &groups {
            let ids = list(&plans.iter().map(|p| p.subscription).collect::<Vec<_>>());
            let occurrence = ts(*occurrence);
            let leased = lease.clone().filter(|_| !missed);
            q.push(
                "INSERT INTO deliveries (subscription_id, occurrence, status, next_attempt_at, \
                 created_at, attempts, lease_until) SELECT value, ",
            );
            let mut row = q.separated(", ");
            row.push_bind(occurrence.clone())
                .push_bind(if *missed { "missed" } else { "pending" })
                .push_bind(occurrence.clone())
                .push_bind(now.clone())
                .push_bind(i64::from(leased.is_some()))
                .push_bind(leased);
            q.push(" FROM json_each(")
                .push_bind(ids.clone())
                .push(
                    ") WHERE true ON CONFLICT (subscription_id, occurrence) DO NOTHING \
                     RETURNING subscription_id, occurrence, id; UPDATE subscriptions SET next_run_at = ",
                )
                .push_bind(ts(*next_run_at))
                .push(" WHERE id IN (SELECT value FROM json_each(")
                .push_bind(ids)
                .push(")) AND next_run_at = ")
                .push_bind(occurrence)
                .push("; ");
        }
        let rows = self.write_script(q, groups.len() <= KEPT_GROUPS).await?;
        let created = rows
            .iter()
            .map(|r| {
                Ok((
                    (r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?),
                    r.try_get(2)?,
                ))
            })
            .collect::<StoreResult<std::collections::HashMap<_, i64>>>()?;
        Ok(plans
            .iter()
            .map(|p| created.get(&(p.subscription, ts(p.occurrence))).copied())
            .collect())
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Delivery>> {
        let rows = sqlx::query(
            "UPDATE deliveries SET lease_until = ?, attempts = attempts + 1 WHERE id IN \
             (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ? \
              AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at, id LIMIT ?) \
             RETURNING id, subscription_id, occurrence, attempts",
        )
        .bind(ts(lease_until))
        .bind(ts(now))
        .bind(ts(now))
        .bind(limit)
        .fetch_all(&self.writer)
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
                    parse_ts(r.try_get("occurrence")?)?,
                    r.try_get("attempts")?,
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
        // One statement whatever the batch size (the ids as a JSON array), so it stays prepared.
        let sql = format!("{SUBSCRIPTION} WHERE id IN (SELECT value FROM json_each(?))");
        let subs = sqlx::query(&sql)
            .bind(list(&ids))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(subscription)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(super::join_claimed(rows, subs))
    }

    async fn record_deliveries(&self, done: &[DeliveryDone]) -> StoreResult<()> {
        // One command to the writer's thread for the whole batch, as in `plan_deliveries`: the
        // sent rows (JSON rows: id, message ids, time), the delivered insights per distinct
        // ranking (its subscriptions × its insights), the rows that ended otherwise.
        if done.is_empty() {
            return Ok(());
        }
        let mut sent = Vec::new();
        let mut ended = Vec::new();
        let mut delivered = Vec::new();
        for d in done {
            match &d.result {
                DeliveryResult::Sent {
                    message_ids,
                    insights,
                    at,
                } => {
                    sent.push(serde_json::json!([d.id, message_ids, ts(*at)]));
                    delivered.push((insights, d.subscription));
                }
                DeliveryResult::Ended { outcome, error } => {
                    ended.push(serde_json::json!([d.id, outcome.as_str(), error]));
                }
            }
        }
        let delivered = grouped(delivered, |(insights, _)| *insights);
        let mut q = script();
        if !sent.is_empty() {
            q.push(
                "UPDATE deliveries SET status = 'sent', message_ids = r.value -> 1, error = NULL, \
                 sent_at = r.value ->> 2, lease_until = NULL FROM json_each(",
            )
            .push_bind(list(&sent))
            .push(") AS r WHERE deliveries.id = r.value ->> 0; ");
        }
        for (insights, subs) in &delivered {
            let subs: Vec<SubscriptionId> = subs.iter().map(|(_, s)| *s).collect();
            q.push(
                "INSERT OR IGNORE INTO delivered_insights (subscription_id, insight_id) \
                 SELECT s.value, i.value FROM json_each(",
            )
            .push_bind(list(&subs))
            .push(") AS s CROSS JOIN json_each(")
            .push_bind(list(insights))
            .push(") AS i; ");
        }
        if !ended.is_empty() {
            q.push(
                "UPDATE deliveries SET status = r.value ->> 1, error = r.value ->> 2, \
                 lease_until = NULL FROM json_each(",
            )
            .push_bind(list(&ended))
            .push(") AS r WHERE deliveries.id = r.value ->> 0; ");
        }
        self.write_script(q, delivered.len() <= KEPT_GROUPS).await?;
        Ok(())
    }

    async fn retry_delivery(
        &self,
        id: i64,
        next_attempt_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE deliveries SET next_attempt_at = ?, error = COALESCE(?, error), lease_until = NULL WHERE id = ?")
            .bind(ts(next_attempt_at))
            .bind(error)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn next_delivery_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let t: Option<String> = sqlx::query_scalar(
            "SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, ''))) FROM deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        t.as_deref().map(parse_ts).transpose()
    }

    async fn deliveries(&self, failed_only: bool, limit: i64) -> StoreResult<Vec<DeliveryRow>> {
        let sql = format!(
            "{DELIVERY_ROW} {} ORDER BY d.occurrence DESC, d.id DESC LIMIT ?",
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
        let mut out = Vec::with_capacity(subs.len());
        for s in subs {
            let sql = format!(
                "{DELIVERY_ROW} WHERE d.subscription_id = ? ORDER BY d.occurrence DESC, d.id DESC LIMIT 1"
            );
            let last = sqlx::query(&sql)
                .bind(s.id)
                .fetch_optional(&self.pool)
                .await?;
            out.push((s, last.as_ref().map(delivery_row).transpose()?));
        }
        Ok(out)
    }

    async fn oldest_pending_delivery(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let t: Option<String> = sqlx::query_scalar(
            "SELECT MIN(COALESCE(next_attempt_at, occurrence)) FROM deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        t.as_deref().map(parse_ts).transpose()
    }

    async fn podcast_image(&self, id: PodcastId) -> StoreResult<Option<String>> {
        let image: Option<Option<String>> =
            sqlx::query_scalar("SELECT image FROM podcasts WHERE id = ?")
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
            "{INSIGHT_VIEW} WHERE EXISTS (SELECT 1 FROM json_each(i.topics) t WHERE t.value = ?) \
             ORDER BY COALESCE(e.published_at, e.created_at) DESC, i.id DESC LIMIT ? OFFSET ?"
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
        self.writer.close().await;
        self.pool.close().await;
    }
}

const FEED_ROW: &str = "SELECT p.id, p.feed_url, p.title, p.failures, p.last_error, p.disabled_reason, p.etag, \
     p.last_modified, p.next_poll_at, (SELECT COUNT(*) FROM episodes e WHERE e.podcast_id = p.id) AS episodes \
     FROM podcasts p";

fn feed_row(r: &SqliteRow) -> StoreResult<FeedRow> {
    let next: Option<String> = r.try_get("next_poll_at")?;
    Ok(FeedRow {
        id: r.try_get("id")?,
        feed_url: r.try_get("feed_url")?,
        title: r.try_get("title")?,
        failures: r.try_get("failures")?,
        last_error: r.try_get("last_error")?,
        disabled_reason: r.try_get("disabled_reason")?,
        etag: r.try_get("etag")?,
        last_modified: r.try_get("last_modified")?,
        next_poll_at: next.as_deref().map(parse_ts).transpose()?,
        episodes: r.try_get("episodes")?,
    })
}

const DELIVERY_ROW: &str = "SELECT d.id, d.subscription_id, s.platform, s.chat_id, s.thread_id, d.occurrence, d.status, \
     d.attempts, d.error, d.sent_at FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id";

fn delivery_row(r: &SqliteRow) -> StoreResult<DeliveryRow> {
    let platform: String = r.try_get("platform")?;
    let chat: String = r.try_get("chat_id")?;
    let thread: String = r.try_get("thread_id")?;
    let sent: Option<String> = r.try_get("sent_at")?;
    Ok(DeliveryRow {
        id: r.try_get("id")?,
        subscription_id: r.try_get("subscription_id")?,
        chat: if thread.is_empty() {
            format!("{platform}:{chat}")
        } else {
            format!("{platform}:{chat}:{thread}")
        },
        occurrence: parse_ts(r.try_get("occurrence")?)?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        error: r.try_get("error")?,
        sent_at: sent.as_deref().map(parse_ts).transpose()?,
    })
}

impl SqliteStore {
    /// Episodes in one processing status (`new`, `done`), newest first.
    async fn episodes_with_status(&self, status: &str) -> StoreResult<Vec<Episode>> {
        let rows = sqlx::query("SELECT id, podcast_id, guid, title, link, audio_url, published_at, duration_s, transcript_url, \
             transcript_kind, show_notes, status FROM episodes WHERE status = ? \
             ORDER BY COALESCE(published_at, created_at) DESC, id",)
        .bind(status)
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
}

/// Inserts insights of an episode inside a transaction, skipping any whose content hash exists;
/// the ids of the new ones.
async fn insert_insights_in(
    tx: &mut sqlx::SqliteConnection,
    episode: EpisodeId,
    insights: &[NewInsight],
    now: DateTime<Utc>,
) -> StoreResult<Vec<InsightId>> {
    let mut ids = Vec::new();
    for i in insights {
        let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO insights (episode_id, text, quote, start_ms, end_ms, speaker, score, topics, \
                 content_hash, created_at, chapter, engine, prompt_version) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
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
            .bind(&i.chapter)
            .bind(&i.origin.engine)
            .bind(&i.origin.prompt_version)
            .fetch_optional(&mut *tx)
            .await?;
        ids.extend(id);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::{SqliteStore, script};
    use crate::store::Store;

    /// A migrated store in a temporary directory (kept while the directory lives).
    async fn temp_store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::connect(&url, 2).await.unwrap();
        store.migrate().await.unwrap();
        (dir, store)
    }

    /// Each of `subs` runs next a day after the occurrence it had.
    async fn advanced_one_day(store: &SqliteStore, subs: &[crate::core::model::Subscription]) {
        for s in subs {
            let stored = store.subscription(&s.chat).await.unwrap().unwrap();
            assert_eq!(
                stored.next_run_at,
                s.next_run_at + chrono::Duration::days(1)
            );
        }
    }

    async fn podcasts(store: &SqliteStore) -> Vec<String> {
        sqlx::query_scalar("SELECT feed_url FROM podcasts ORDER BY feed_url")
            .fetch_all(&store.pool)
            .await
            .unwrap()
    }

    fn insert(q: &mut sqlx::QueryBuilder<'static, sqlx::Sqlite>, url: &str) {
        q.push("INSERT INTO podcasts (feed_url, title, created_at) VALUES (")
            .push_bind(url.to_owned())
            .push(", 't', 'x'); ");
    }

    #[tokio::test]
    async fn plans_and_outcomes_in_several_groups_are_each_written_once() {
        use crate::core::model::{ChatRef, Platform};
        use crate::store::{DeliveryDone, DeliveryOutcome, DeliveryResult, NewSubscription, Plan};
        let (_dir, store) = temp_store().await;
        let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let mut subs = Vec::new();
        for (i, first) in [
            "2026-11-27T08:00:00Z",
            "2026-11-27T09:00:00Z",
            "2026-11-26T08:00:00Z",
        ]
        .into_iter()
        .enumerate()
        {
            let sub = NewSubscription {
                chat: ChatRef {
                    platform: Platform::Telegram,
                    chat_id: format!("{i}"),
                    thread_id: None,
                },
                schedule: "08:00".into(),
                timezone: "UTC".into(),
                size: 3,
                topics: vec![],
                next_run_at: at(first),
                created_by: None,
                scope_id: None,
            };
            subs.push(store.upsert_subscription(&sub).await.unwrap());
        }
        let now = at("2026-11-27T09:30:00Z");
        // Three groups: two due occurrences and one missed.
        let plans: Vec<Plan> = subs
            .iter()
            .map(|s| Plan {
                subscription: s.id,
                occurrence: s.next_run_at,
                next_run_at: s.next_run_at + chrono::Duration::days(1),
                missed: s.next_run_at < at("2026-11-27T00:00:00Z"),
            })
            .collect();
        let lease = Some(now + chrono::Duration::minutes(10));
        let created = store.plan_deliveries(&plans, now, lease).await.unwrap();
        assert!(created.iter().all(Option::is_some), "{created:?}");
        let mut ids: Vec<i64> = created.iter().flatten().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 3);
        let rows: Vec<(i64, String, i64, Option<String>)> = sqlx::query_as(
            "SELECT subscription_id, status, attempts, lease_until FROM deliveries ORDER BY id",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        let leased = rows.iter().filter(|r| r.3.is_some() && r.2 == 1).count();
        let missed = rows
            .iter()
            .filter(|r| r.1 == "missed" && r.3.is_none())
            .count();
        assert_eq!((rows.len(), leased, missed), (3, 2, 1), "{rows:?}");
        advanced_one_day(&store, &subs).await;
        // Outcomes: two briefs with different rankings sent, the missed one closed as failed.
        sqlx::raw_sql(
            "INSERT INTO podcasts (id, feed_url, title, created_at) VALUES (1, 'u', 't', 'x'); \
             INSERT INTO episodes (id, podcast_id, guid, title, created_at) \
             VALUES (1, 1, 'g', 't', 'x'); \
             INSERT INTO insights (id, episode_id, text, quote, score, content_hash, created_at) \
             VALUES (1, 1, 't', 'q', 1, 'h1', 'x'), (2, 1, 't', 'q', 1, 'h2', 'x'), \
             (3, 1, 't', 'q', 1, 'h3', 'x');",
        )
        .execute(&store.writer)
        .await
        .unwrap();
        let sent = |k: usize, insights: Vec<i64>| DeliveryDone {
            id: created[k].unwrap(),
            subscription: subs[k].id,
            result: DeliveryResult::Sent {
                message_ids: vec![format!("m{k}")],
                insights,
                at: now,
            },
        };
        let done = [
            sent(0, vec![1, 2]),
            sent(1, vec![2, 3]),
            DeliveryDone {
                id: created[2].unwrap(),
                subscription: subs[2].id,
                result: DeliveryResult::Ended {
                    outcome: DeliveryOutcome::Failed,
                    error: Some("gone".into()),
                },
            },
        ];
        store.record_deliveries(&done).await.unwrap();
        let delivered: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT subscription_id, insight_id FROM delivered_insights ORDER BY 1, 2",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        let (a, b) = (subs[0].id, subs[1].id);
        assert_eq!(delivered, [(a, 1), (a, 2), (b, 2), (b, 3)]);
        let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT status, message_ids, error, lease_until FROM deliveries ORDER BY id",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        assert_eq!(
            rows,
            [
                ("sent".into(), r#"["m0"]"#.into(), None, None),
                ("sent".into(), r#"["m1"]"#.into(), None, None),
                ("failed".into(), "[]".into(), Some("gone".into()), None),
            ]
        );

        // The same page again (another scheduler, a restart): nothing new, nothing moved twice.
        let again = store.plan_deliveries(&plans, now, lease).await.unwrap();
        assert!(again.iter().all(Option::is_none), "{again:?}");
        advanced_one_day(&store, &subs).await;
    }

    #[tokio::test]
    async fn a_database_refusing_writes_is_not_writable() {
        let (_dir, store) = temp_store().await;
        store.check_writable().await.unwrap();
        // What a read-only file gives every write: SQLITE_READONLY.
        sqlx::query("PRAGMA query_only = ON")
            .execute(&store.writer)
            .await
            .unwrap();
        let e = store.check_writable().await.unwrap_err().to_string();
        assert!(e.contains("readonly"), "{e}");
        sqlx::query("PRAGMA query_only = OFF")
            .execute(&store.writer)
            .await
            .unwrap();
        store.check_writable().await.unwrap();
        assert!(super::free_bytes(std::path::Path::new("/")).is_some_and(|n| n > 0));
    }

    #[tokio::test]
    async fn the_writer_recovers_from_a_transaction_sqlite_ended_behind_sqlx() {
        let (_dir, store) = temp_store().await;
        // What a commit failing on a full disk leaves: SQLite has rolled back, sqlx still
        // counts the transaction, and its own rollback on drop fails.
        {
            let mut tx = store.write_tx().await.unwrap();
            sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
        }
        let stuck = store.writer.begin_with("BEGIN IMMEDIATE").await;
        assert!(
            matches!(stuck, Err(sqlx::Error::InvalidSavePointStatement)),
            "{stuck:?}"
        );
        // Writes go on: the stuck connection is replaced.
        let mut tx = store.write_tx().await.unwrap();
        sqlx::query("INSERT INTO podcasts (feed_url, title, created_at) VALUES ('x', 'x', '2026-01-01T00:00:00Z')")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(podcasts(&store).await.contains(&"x".to_owned()));
    }

    #[tokio::test]
    async fn a_script_commits_whole_or_not_at_all_and_the_writer_stays_usable() {
        let (_dir, store) = temp_store().await;

        // The second insert breaks the unique feed URL: the first is rolled back with it.
        let mut q = script();
        insert(&mut q, "a");
        insert(&mut q, "a");
        assert!(store.write_script(q, false).await.is_err());
        assert!(podcasts(&store).await.is_empty());

        // A caller that goes away before its script ends leaves nothing half-written either.
        let mut q = script();
        for i in 0..2_000 {
            insert(&mut q, &format!("c{i:04}"));
        }
        let _ = tokio::time::timeout(std::time::Duration::ZERO, store.write_script(q, false)).await;
        let left = podcasts(&store).await.len();
        assert!(left == 0 || left == 2_000, "{left} of 2,000 rows written");

        // The writer takes the next script as usual.
        let mut q = script();
        insert(&mut q, "b");
        store.write_script(q, false).await.unwrap();
        assert!(podcasts(&store).await.contains(&"b".to_owned()));
    }
}
