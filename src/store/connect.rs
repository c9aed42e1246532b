//! [`connect`]: the backend a database URL names.

use std::sync::Arc;

use super::{PgStore, SqliteStore, Store, StoreError, StoreResult, postgres};

/// Opens the store a database URL names (`sqlite:` creating the database file if needed;
/// `postgres://` or `postgresql://` a PostgreSQL server).
pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, max_connections).await?))
    } else if postgres::is_postgres_url(url) {
        Ok(Arc::new(PgStore::connect(url, max_connections).await?))
    } else {
        Err(StoreError::Unsupported(
            url.split(':').next().unwrap_or_default().to_string(),
        ))
    }
}
