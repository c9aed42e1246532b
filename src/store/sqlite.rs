//! The SQLite backend: a [`Dialect`] for one podbrief process on one database file.
//!
//! * Times are fixed-width RFC 3339 text in UTC (`2026-11-27T08:00:00.000000Z`), so text order
//!   is time order ([`ts`], and [`Stamp`]'s decoding).
//! * One writer. SQLite takes one writer at a time, so every write goes to one writing
//!   connection, where writers queue in order instead of polling the file lock; readers have a
//!   pool of their own and never wait for it (WAL). Each connection runs on a thread of its own
//!   that hands rows over in buffers of 1,024. A batch's writes (a page of plans, a batch of
//!   outcomes) go to that thread as one script ([`SqliteStore::write_script`]): one round trip,
//!   one transaction, statements of fixed shape whatever the batch size. A writing connection
//!   left inside a transaction by a failed commit is replaced at the next `BEGIN`.
//! * A set of ids is bound as one JSON array and read with `json_each`.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    SqliteTypeInfo, SqliteValueRef,
};
use sqlx::{Row, Sqlite, SqlitePool};

use super::dialect::{Arg, Dialect, Driver, Fetched, Query, execute, fetch};
use super::rows::{Stamp, list};
use super::shared::{ClaimedRow, claimed};
use super::types::{Delivery, DeliveryDone, DeliveryResult, Plan};
use super::{StoreError, StoreResult};
use crate::core::model::SubscriptionId;

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

impl sqlx::Type<Sqlite> for Stamp {
    fn type_info() -> SqliteTypeInfo {
        <String as sqlx::Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as sqlx::Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Sqlite> for Stamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Stamp, sqlx::error::BoxDynError> {
        Ok(Stamp(parse_ts(<&str as sqlx::Decode<Sqlite>>::decode(
            value,
        )?)?))
    }
}

impl Driver for Sqlite {
    /// Binds a time as its text, a set of ids as a JSON array.
    fn bind<'q>(q: Query<'q, Sqlite>, arg: &'q Arg<'_>) -> Query<'q, Sqlite> {
        match arg {
            Arg::Int(v) => q.bind(*v),
            Arg::MaybeInt(v) => q.bind(*v),
            Arg::Real(v) => q.bind(*v),
            Arg::Text(v) => q.bind(v.as_ref()),
            Arg::MaybeText(v) => q.bind(*v),
            Arg::Time(t) => q.bind(ts(*t)),
            Arg::MaybeTime(t) => q.bind(t.map(ts)),
            Arg::Ids(ids) => q.bind(list(ids)),
        }
    }

    fn decode<T: Fetched>(row: &SqliteRow) -> Result<T, sqlx::Error> {
        T::from_row(row)
    }

    fn changed(done: sqlx::sqlite::SqliteQueryResult) -> u64 {
        done.rows_affected()
    }
}

#[async_trait]
impl Dialect for SqliteStore {
    type Tx = sqlx::Transaction<'static, Sqlite>;

    const BYTE_ORDER: &'static str = "";
    const IN_IDS: &'static str = "IN (SELECT value FROM json_each($1))";
    const HAS_TOPIC: &'static str =
        "EXISTS (SELECT 1 FROM json_each(i.topics) t WHERE t.value = $1)";
    const NEXT_DELIVERY_AT: &'static str = "SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, ''))) \
         FROM deliveries WHERE status = 'pending'";
    const EPISODE_INSERTED: &'static str = "RETURNING id, true AS inserted";

    async fn read<T: Fetched>(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<T>> {
        fetch(&self.pool, sql, args).await
    }

    async fn write<T: Fetched>(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<T>> {
        fetch(&self.writer, sql, args).await
    }

    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        execute(&self.writer, sql, args).await
    }

    async fn begin(&self) -> StoreResult<Self::Tx> {
        self.write_tx().await
    }

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

    async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
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
        let rows: Vec<ClaimedRow> = self
            .write(
                "UPDATE deliveries SET lease_until = $1, attempts = attempts + 1 WHERE id IN \
                 (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $2 \
                  AND (lease_until IS NULL OR lease_until <= $2) ORDER BY next_attempt_at, id LIMIT $3) \
                 RETURNING id, subscription_id, occurrence, attempts",
                super::dialect::args![lease_until, now, limit],
            )
            .await?;
        claimed(self, rows).await
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
}

#[cfg(test)]
mod tests {
    use super::{SqliteStore, script};
    use crate::store::{DeliveryStore, Store, SubscriptionStore};

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
