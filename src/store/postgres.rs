//! The PostgreSQL backend: a [`Dialect`] for several podbrief instances sharing one database.
//!
//! * Times are `TIMESTAMPTZ` (UTC); topic and message-id lists are JSON text, as in SQLite; a set
//!   of ids is bound as an array (`= ANY($1)`).
//! * Deliveries are claimed with `FOR UPDATE SKIP LOCKED`, so instances claiming at the same
//!   moment take disjoint rows; a claim is a lease that expires if its holder dies.
//! * Delivery rows are created with `ON CONFLICT DO NOTHING` on `(subscription_id, occurrence)`,
//!   so every instance may run the scheduler and each occurrence still gets one row. A plan
//!   without a lease is announced with `NOTIFY podbrief_planned`.
//! * Work only one instance may do (Telegram long polling) takes an advisory lock on a
//!   connection of its own ([`Store::try_lock`](super::Store::try_lock)), released by PostgreSQL
//!   when that connection closes, however its holder ended.
//! * Text is ordered with `COLLATE "C"` (byte order), as SQLite orders it.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow, PgTypeInfo, PgValueRef};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, Postgres, Row};

use super::dialect::{Arg, Dialect, Driver, Fetched, Query, args, execute, fetch};
use super::rows::{Stamp, list};
use super::shared::{ClaimedRow, claimed};
use super::types::{Delivery, DeliveryDone, DeliveryResult, Plan};
use super::{InstanceLock, LockHolder, StoreError, StoreResult};
use crate::core::model::SubscriptionId;

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

impl sqlx::Type<Postgres> for Stamp {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for Stamp {
    fn decode(value: PgValueRef<'r>) -> Result<Stamp, sqlx::error::BoxDynError> {
        Ok(Stamp(<DateTime<Utc> as sqlx::Decode<Postgres>>::decode(
            value,
        )?))
    }
}

impl Driver for Postgres {
    /// Binds a time as `TIMESTAMPTZ`, a set of ids as an array.
    fn bind<'q>(q: Query<'q, Postgres>, arg: &'q Arg<'_>) -> Query<'q, Postgres> {
        match arg {
            Arg::Int(v) => q.bind(*v),
            Arg::MaybeInt(v) => q.bind(*v),
            Arg::Real(v) => q.bind(*v),
            Arg::Text(v) => q.bind(v.as_ref()),
            Arg::MaybeText(v) => q.bind(*v),
            Arg::Time(t) => q.bind(*t),
            Arg::MaybeTime(t) => q.bind(*t),
            Arg::Ids(ids) => q.bind(*ids),
        }
    }

    fn decode<T: Fetched>(row: &PgRow) -> Result<T, sqlx::Error> {
        T::from_row(row)
    }

    fn changed(done: sqlx::postgres::PgQueryResult) -> u64 {
        done.rows_affected()
    }
}

#[async_trait]
impl Dialect for PgStore {
    type Tx = sqlx::Transaction<'static, Postgres>;

    const BYTE_ORDER: &'static str = " COLLATE \"C\"";
    const IN_IDS: &'static str = "= ANY($1)";
    const HAS_TOPIC: &'static str = "$1 IN (SELECT json_array_elements_text(i.topics::json))";
    // GREATEST ignores NULLs: a row without a lease is due at its next attempt.
    const NEXT_DELIVERY_AT: &'static str = "SELECT MIN(GREATEST(next_attempt_at, lease_until)) \
         FROM deliveries WHERE status = 'pending'";
    // Another instance reading the same feed may insert it first: then this is an update of its
    // row, and not new here.
    const EPISODE_INSERTED: &'static str = "ON CONFLICT (podcast_id, guid) DO UPDATE SET \
         title = excluded.title, link = excluded.link, audio_url = excluded.audio_url, \
         published_at = excluded.published_at, duration_s = excluded.duration_s, \
         transcript_url = excluded.transcript_url, transcript_kind = excluded.transcript_kind, \
         show_notes = excluded.show_notes RETURNING id, (xmax = 0) AS inserted";

    async fn read<T: Fetched>(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<T>> {
        fetch(&self.pool, sql, args).await
    }

    async fn write<T: Fetched>(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<T>> {
        fetch(&self.pool, sql, args).await
    }

    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        execute(&self.pool, sql, args).await
    }

    async fn begin(&self) -> StoreResult<Self::Tx> {
        Ok(self.pool.begin().await?)
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
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
        let rows: Vec<ClaimedRow> = self
            .write(
                "WITH c AS (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $2 \
                  AND (lease_until IS NULL OR lease_until <= $2) ORDER BY next_attempt_at, id LIMIT $3 \
                  FOR UPDATE SKIP LOCKED) \
                 UPDATE deliveries d SET lease_until = $1, attempts = d.attempts + 1 FROM c WHERE d.id = c.id \
                 RETURNING d.id, d.subscription_id, d.occurrence, d.attempts",
                args![lease_until, now, limit],
            )
            .await?;
        claimed(self, rows).await
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
}
