//! [`Dialect`]: what a database backend gives the store logic written once in `shared.rs`.
//!
//! A backend runs the shared SQL text (`sql.rs`, `$1` placeholders, which SQLite takes too) with
//! [`Arg`]s it binds its own way (a time as text or as `TIMESTAMPTZ`, a set of ids as a JSON array
//! or an array), has the few fragments of SQL that differ as constants, and implements the
//! operations whose statements really differ (delivery planning, claiming and recording,
//! migrations, locks, notifications).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::types::{Delivery, DeliveryDone, Plan};
use super::{InstanceLock, StoreResult};

/// A value bound to a statement's `$n`, in the order of the `$n`s.
#[derive(Debug, Clone)]
pub enum Arg<'a> {
    /// An integer.
    Int(i64),
    /// An integer or NULL.
    MaybeInt(Option<i64>),
    /// A real number.
    Real(f64),
    /// Text.
    Text(std::borrow::Cow<'a, str>),
    /// Text or NULL.
    MaybeText(Option<&'a str>),
    /// A time (stored as the dialect stores times).
    Time(DateTime<Utc>),
    /// A time or NULL.
    MaybeTime(Option<DateTime<Utc>>),
    /// A set of ids, for [`Dialect::IN_IDS`].
    Ids(&'a [i64]),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::MaybeInt(v)
    }
}

impl From<f64> for Arg<'_> {
    fn from(v: f64) -> Self {
        Arg::Real(v)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v.into())
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v.as_str().into())
    }
}

impl From<String> for Arg<'_> {
    fn from(v: String) -> Self {
        Arg::Text(v.into())
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::MaybeText(v)
    }
}

impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::MaybeText(v.as_deref())
    }
}

impl From<DateTime<Utc>> for Arg<'_> {
    fn from(v: DateTime<Utc>) -> Self {
        Arg::Time(v)
    }
}

impl From<Option<DateTime<Utc>>> for Arg<'_> {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Arg::MaybeTime(v)
    }
}

impl<'a> From<&'a [i64]> for Arg<'a> {
    fn from(v: &'a [i64]) -> Self {
        Arg::Ids(v)
    }
}

/// The [`Arg`]s of a statement, each converted with `Arg::from`: `args![url, now]`.
macro_rules! args {
    ($($arg:expr),* $(,)?) => {
        &[$($crate::store::dialect::Arg::from($arg)),*][..]
    };
}
pub(crate) use args;

/// A row type both dialects decode (its columns by name, or a tuple by position).
pub trait Fetched:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin + 'static
{
}

impl<T> Fetched for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow>
        + for<'r> sqlx::FromRow<'r, PgRow>
        + Send
        + Unpin
        + 'static
{
}

/// A statement of shared SQL text with its arguments.
pub type Query<'q, DB> = sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>;

/// A database driver the shared SQL runs on: the one place it turns an [`Arg`] into its own value
/// (a time as text or `TIMESTAMPTZ`, a set of ids as a JSON array or an array).
pub trait Driver: sqlx::Database {
    /// Binds the next `$n`.
    fn bind<'q>(q: Query<'q, Self>, arg: &'q Arg<'_>) -> Query<'q, Self>;
    /// Decodes a row.
    fn decode<T: Fetched>(row: &Self::Row) -> Result<T, sqlx::Error>;
    /// The rows a statement changed.
    fn changed(done: Self::QueryResult) -> u64;
}

/// The rows `sql` returns on `conn`.
pub async fn fetch<'c, DB: Driver, T: Fetched>(
    conn: impl sqlx::Executor<'c, Database = DB>,
    sql: &str,
    args: &[Arg<'_>],
) -> StoreResult<Vec<T>>
where
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let q = args.iter().fold(sqlx::query(sql), DB::bind);
    let rows = q.try_map(|r: DB::Row| DB::decode::<T>(&r)).fetch_all(conn);
    rows.await.map_err(super::rows::decoded)
}

/// Runs `sql` on `conn`; the rows it changed.
pub async fn execute<'c, DB: Driver>(
    conn: impl sqlx::Executor<'c, Database = DB>,
    sql: &str,
    args: &[Arg<'_>],
) -> StoreResult<u64>
where
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let q = args.iter().fold(sqlx::query(sql), DB::bind);
    Ok(DB::changed(q.execute(conn).await?))
}

/// One transaction of a backend: statements run in it, then [`Conn::commit`]. Dropped without a
/// commit, it rolls back.
#[async_trait]
pub trait Conn: Send {
    /// The rows `sql` returns.
    async fn fetch<T: Fetched>(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<T>>;
    /// Runs `sql`; the rows it changed.
    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64>;
    /// Commits.
    async fn commit(self) -> StoreResult<()>;
}

#[async_trait]
impl<DB: Driver> Conn for sqlx::Transaction<'static, DB>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    async fn fetch<T: Fetched>(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<T>> {
        fetch(&mut **self, sql, args).await
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        execute(&mut **self, sql, args).await
    }

    async fn commit(self) -> StoreResult<()> {
        Ok(sqlx::Transaction::commit(self).await?)
    }
}

/// A database backend as the shared store logic sees it.
#[async_trait]
pub trait Dialect: Send + Sync + 'static {
    /// A transaction.
    type Tx: Conn;

    /// Text order by bytes, after an `ORDER BY` text column (SQLite's own order).
    const BYTE_ORDER: &'static str;
    /// `<column> IN` the ids bound as `$1` ([`Arg::Ids`]).
    const IN_IDS: &'static str;
    /// Whether the insight `i`'s topics (a JSON array) hold `$1`.
    const HAS_TOPIC: &'static str;
    /// When the next pending delivery becomes claimable: its next attempt, or its lease's end
    /// if later.
    const NEXT_DELIVERY_AT: &'static str;
    /// What follows `sql::INSERT_EPISODE`: `RETURNING id, inserted` (whether the row is new).
    const EPISODE_INSERTED: &'static str;

    /// Rows of a query, read on the readers.
    async fn read<T: Fetched>(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<T>>;
    /// Rows a write returns (`RETURNING`), written as one statement.
    async fn write<T: Fetched>(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<T>>;
    /// Runs a write as one statement; the rows it changed.
    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64>;
    /// Starts a write transaction.
    async fn begin(&self) -> StoreResult<Self::Tx>;

    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Checks that the database takes writes; `Ok` for a backend that cannot tell.
    async fn check_writable(&self) -> StoreResult<()> {
        Ok(())
    }
    /// Closes the connections.
    async fn close(&self);
    /// Tries to take the instance-wide lock `name` (granted at once by a single-instance
    /// backend).
    async fn try_lock(&self, _name: &str) -> StoreResult<Option<InstanceLock>> {
        Ok(Some(InstanceLock::granted()))
    }

    /// Plans occurrences in one transaction (see
    /// [`DeliveryStore::plan_deliveries`](super::DeliveryStore::plan_deliveries)).
    async fn plan_deliveries(
        &self,
        plans: &[Plan],
        now: DateTime<Utc>,
        lease_until: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<Option<i64>>>;
    /// Wakes `wake` whenever deliveries are planned by any instance; `None` for a backend that
    /// serves one process.
    async fn watch_plans(
        &self,
        _wake: std::sync::Arc<tokio::sync::Notify>,
    ) -> StoreResult<Option<tokio::task::JoinHandle<()>>> {
        Ok(None)
    }
    /// Claims due deliveries with a lease (see
    /// [`DeliveryStore::claim_deliveries`](super::DeliveryStore::claim_deliveries)).
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Delivery>>;
    /// Records how claimed deliveries ended, in one transaction.
    async fn record_deliveries(&self, done: &[DeliveryDone]) -> StoreResult<()>;
}
