//! `podbrief copy-db`: moves everything from a SQLite database to an empty PostgreSQL one, for
//! an operator going from one instance to several.
//!
//! Both databases are first migrated by this binary, so they have the same tables and columns.
//! The column list and the table order (parents before children) are read from PostgreSQL's
//! catalogue, so a table or column added by a later migration is copied without changes here.
//! Every row keeps its id; the id sequences are then moved past the largest id. Everything is
//! written in one transaction, committed only when each table's row count matches the source.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{PgPool, Postgres, QueryBuilder, Row, SqlitePool, Transaction};

use super::{PgStore, SqliteStore, Store, StoreError};
use crate::app::redact_url;

/// Why a copy did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The source is not a SQLite database.
    #[error("--from must be a sqlite: URL (e.g. sqlite://podbrief.db), not {0}")]
    Source(String),
    /// The source database file does not exist.
    #[error("the source database {0} does not exist")]
    Missing(String),
    /// The target is not a PostgreSQL database.
    #[error(
        "--to must be a postgres:// URL (e.g. postgres://podbrief@db.example/podbrief), not {0}"
    )]
    Target(String),
    /// The target already holds data.
    #[error(
        "the target database is not empty ({table} has {rows} rows): copy-db only fills an empty database"
    )]
    NotEmpty {
        /// The first non-empty table.
        table: String,
        /// Its rows.
        rows: i64,
    },
    /// After copying, a table's row count differs (nothing was committed).
    #[error(
        "{table}: {source_rows} rows in the source but {target_rows} copied; nothing was committed"
    )]
    CountMismatch {
        /// The table.
        table: String,
        /// Rows in the source.
        source_rows: i64,
        /// Rows in the target.
        target_rows: i64,
    },
    /// Opening or migrating one of the databases failed.
    #[error("{what}: {error}")]
    Open {
        /// Which database (its redacted URL).
        what: String,
        /// Why.
        error: StoreError,
    },
    /// A query failed while copying.
    #[error("copying {table}: {error}")]
    Copy {
        /// The table.
        table: String,
        /// Why.
        error: sqlx::Error,
    },
    /// A stored time in the source is unreadable.
    #[error("{table}.{column}: unreadable time {value:?}")]
    BadTime {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The stored text.
        value: String,
    },
}

/// What a copy did: rows per table, in the order copied.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// `(table, rows)`.
    pub tables: Vec<(String, i64)>,
}

impl std::fmt::Display for CopyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (table, rows) in &self.tables {
            writeln!(f, "{table:<20} {rows:>10} rows")?;
        }
        Ok(())
    }
}

/// How a column's values are carried across.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Bool,
    Time,
    Text,
}

impl Kind {
    fn of(pg_type: &str) -> Kind {
        match pg_type {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "double precision" | "real" | "numeric" => Kind::Float,
            "boolean" => Kind::Bool,
            "timestamp with time zone" | "timestamp without time zone" => Kind::Time,
            _ => Kind::Text,
        }
    }
}

#[derive(Debug, Clone)]
enum Value {
    Int(Option<i64>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Time(Option<DateTime<Utc>>),
    Text(Option<String>),
}

#[derive(Debug, Clone)]
struct Table {
    name: String,
    columns: Vec<(String, Kind)>,
}

/// Copies every table of the SQLite database `from` into the empty PostgreSQL database `to`.
pub async fn copy_db(from: &str, to: &str) -> Result<CopyReport, CopyError> {
    if !from.starts_with("sqlite:") {
        return Err(CopyError::Source(redact_url(from)));
    }
    if !super::postgres::is_postgres_url(to) {
        return Err(CopyError::Target(redact_url(to)));
    }
    let open_err = |what: &str, url: &str| {
        let what = format!("{what} {}", redact_url(url));
        move |error: StoreError| CopyError::Open { what, error }
    };
    let path = from
        .parse::<SqliteConnectOptions>()
        .map(|o| o.get_filename().to_path_buf())
        .map_err(|e| CopyError::Open {
            what: format!("reading {}", redact_url(from)),
            error: e.into(),
        })?;
    if !path.exists() {
        return Err(CopyError::Missing(path.display().to_string()));
    }
    // Bring both to this binary's schema.
    let source = SqliteStore::connect(from, 1)
        .await
        .map_err(open_err("opening", from))?;
    source
        .migrate()
        .await
        .map_err(open_err("migrating", from))?;
    source.close().await;
    let target = PgStore::connect(to, 2)
        .await
        .map_err(open_err("opening", to))?;
    target.migrate().await.map_err(open_err("migrating", to))?;
    let src = sqlite_pool(from).await.map_err(open_err("opening", from))?;
    let result = copy_tables(&src, target.pool()).await;
    src.close().await;
    target.close().await;
    result
}

async fn sqlite_pool(url: &str) -> Result<SqlitePool, StoreError> {
    let opts = url.parse::<SqliteConnectOptions>()?.read_only(true);
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await?)
}

fn copy_err(table: &str) -> impl Fn(sqlx::Error) -> CopyError + '_ {
    move |error| CopyError::Copy {
        table: table.to_string(),
        error,
    }
}

/// The target's tables with their columns, parents before children.
async fn tables(pg: &PgPool) -> Result<Vec<Table>, CopyError> {
    let err = copy_err("the catalogue");
    let cols = sqlx::query(
        "SELECT table_name::TEXT AS t, column_name::TEXT AS c, data_type::TEXT AS k \
         FROM information_schema.columns WHERE table_schema = current_schema() \
         AND table_name NOT LIKE '\\_sqlx%' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pg)
    .await
    .map_err(&err)?;
    let mut tables: Vec<Table> = Vec::new();
    for r in &cols {
        let (t, c, k): (String, String, String) = (
            r.try_get("t").map_err(&err)?,
            r.try_get("c").map_err(&err)?,
            r.try_get("k").map_err(&err)?,
        );
        match tables.last_mut() {
            Some(last) if last.name == t => last.columns.push((c, Kind::of(&k))),
            _ => tables.push(Table {
                name: t,
                columns: vec![(c, Kind::of(&k))],
            }),
        }
    }
    let edges: Vec<(String, String)> = sqlx::query_as(
        "SELECT child.relname::TEXT, parent.relname::TEXT FROM pg_constraint k \
         JOIN pg_class child ON child.oid = k.conrelid JOIN pg_class parent ON parent.oid = k.confrelid \
         WHERE k.contype = 'f' AND k.connamespace = current_schema()::TEXT::regnamespace",
    )
    .fetch_all(pg)
    .await
    .map_err(&err)?;
    Ok(parents_first(tables, &edges))
}

/// Orders tables so every table comes after the tables it references (alphabetically among
/// equals; a cycle keeps the remaining tables in name order).
fn parents_first(mut rest: Vec<Table>, edges: &[(String, String)]) -> Vec<Table> {
    rest.sort_by(|a, b| a.name.cmp(&b.name));
    let mut done: Vec<Table> = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        let ready = rest.iter().position(|t| {
            edges.iter().all(|(child, parent)| {
                child != &t.name || parent == child || done.iter().any(|d| &d.name == parent)
            })
        });
        done.push(rest.remove(ready.unwrap_or(0)));
    }
    done
}

fn read_value(r: &SqliteRow, table: &str, column: &str, kind: Kind) -> Result<Value, CopyError> {
    let err = copy_err(table);
    Ok(match kind {
        Kind::Int => Value::Int(r.try_get(column).map_err(&err)?),
        Kind::Float => Value::Float(r.try_get(column).map_err(&err)?),
        Kind::Bool => Value::Bool(r.try_get(column).map_err(&err)?),
        Kind::Text => Value::Text(r.try_get(column).map_err(&err)?),
        Kind::Time => {
            let text: Option<String> = r.try_get(column).map_err(&err)?;
            Value::Time(
                text.map(|s| {
                    DateTime::parse_from_rfc3339(&s)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| CopyError::BadTime {
                            table: table.to_string(),
                            column: column.to_string(),
                            value: s.clone(),
                        })
                })
                .transpose()?,
            )
        }
    })
}

async fn insert(
    tx: &mut Transaction<'static, Postgres>,
    table: &Table,
    rows: &[Vec<Value>],
) -> Result<(), CopyError> {
    if rows.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = table
        .columns
        .iter()
        .map(|(c, _)| format!("\"{c}\""))
        .collect();
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "INSERT INTO \"{}\" ({}) ",
        table.name,
        names.join(", ")
    ));
    q.push_values(rows, |mut b, row| {
        for v in row {
            match v {
                Value::Int(x) => b.push_bind(*x),
                Value::Float(x) => b.push_bind(*x),
                Value::Bool(x) => b.push_bind(*x),
                Value::Time(x) => b.push_bind(*x),
                Value::Text(x) => b.push_bind(x.clone()),
            };
        }
    });
    q.build()
        .execute(&mut **tx)
        .await
        .map_err(copy_err(&table.name))?;
    Ok(())
}

async fn copy_tables(src: &SqlitePool, pg: &PgPool) -> Result<CopyReport, CopyError> {
    let tables = tables(pg).await?;
    for t in &tables {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{}\"", t.name))
            .fetch_one(pg)
            .await
            .map_err(copy_err(&t.name))?;
        if rows > 0 {
            return Err(CopyError::NotEmpty {
                table: t.name.clone(),
                rows,
            });
        }
    }
    let mut tx = pg.begin().await.map_err(copy_err("the transaction"))?;
    let mut report = CopyReport::default();
    for t in &tables {
        let err = copy_err(&t.name);
        // PostgreSQL's limit is 65,535 parameters per statement.
        let batch = (30_000 / t.columns.len().max(1)).clamp(1, 1_000);
        let names: Vec<String> = t.columns.iter().map(|(c, _)| format!("\"{c}\"")).collect();
        let sql = format!("SELECT {} FROM \"{}\"", names.join(", "), t.name);
        let mut stream = sqlx::query(&sql).fetch(src);
        let mut buf: Vec<Vec<Value>> = Vec::with_capacity(batch);
        while let Some(r) = stream.try_next().await.map_err(&err)? {
            let row = t
                .columns
                .iter()
                .map(|(c, k)| read_value(&r, &t.name, c, *k))
                .collect::<Result<Vec<_>, _>>()?;
            buf.push(row);
            if buf.len() >= batch {
                insert(&mut tx, t, &buf).await?;
                buf.clear();
            }
        }
        insert(&mut tx, t, &buf).await?;
        drop(stream);
        let count = format!("SELECT COUNT(*) FROM \"{}\"", t.name);
        let source_rows: i64 = sqlx::query_scalar(&count)
            .fetch_one(src)
            .await
            .map_err(&err)?;
        let target_rows: i64 = sqlx::query_scalar(&count)
            .fetch_one(&mut *tx)
            .await
            .map_err(&err)?;
        if source_rows != target_rows {
            return Err(CopyError::CountMismatch {
                table: t.name.clone(),
                source_rows,
                target_rows,
            });
        }
        if t.columns.iter().any(|(c, k)| c == "id" && *k == Kind::Int) {
            // Ids were copied as they are: the next new row must come after the largest.
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence($1, 'id'), COALESCE((SELECT MAX(id) FROM \"{}\"), 0) + 1, false) \
                 WHERE pg_get_serial_sequence($1, 'id') IS NOT NULL",
                t.name
            ))
            .bind(&t.name)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        }
        report.tables.push((t.name.clone(), target_rows));
    }
    tx.commit().await.map_err(copy_err("the transaction"))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str) -> Table {
        Table {
            name: name.into(),
            columns: vec![],
        }
    }

    #[test]
    fn parents_come_before_children() {
        let edges: Vec<(String, String)> = [
            ("episodes", "podcasts"),
            ("insights", "episodes"),
            ("deliveries", "subscriptions"),
            ("delivered_insights", "subscriptions"),
            ("delivered_insights", "insights"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let tables = [
            "delivered_insights",
            "deliveries",
            "episodes",
            "insights",
            "podcasts",
            "subscriptions",
        ]
        .map(t)
        .to_vec();
        let order: Vec<String> = parents_first(tables, &edges)
            .into_iter()
            .map(|t| t.name)
            .collect();
        let pos = |n: &str| order.iter().position(|o| o == n).unwrap();
        for (child, parent) in &edges {
            assert!(
                pos(parent) < pos(child),
                "{parent} before {child}: {order:?}"
            );
        }
        assert_eq!(order.len(), 6);
    }

    #[test]
    fn column_types_map_to_kinds() {
        assert_eq!(Kind::of("bigint"), Kind::Int);
        assert_eq!(Kind::of("timestamp with time zone"), Kind::Time);
        assert_eq!(Kind::of("double precision"), Kind::Float);
        assert_eq!(Kind::of("text"), Kind::Text);
    }

    #[tokio::test]
    async fn refuses_urls_of_the_wrong_kind_without_showing_passwords() {
        let e = copy_db("postgres://u:hunter2@h/db", "postgres://u:hunter2@h/db2")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("--from"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = copy_db("sqlite://x.db", "mysql://u:hunter2@h/db")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("--to") && !e.contains("hunter2"), "{e}");
    }
}
