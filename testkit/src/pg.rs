//! A fresh PostgreSQL database per test (or benchmark run), on the server named by
//! `PODBRIEF_TEST_DATABASE_URL`.

/// The PostgreSQL server the suite runs on instead of SQLite, if `PODBRIEF_TEST_DATABASE_URL`
/// names one (`postgres://user@127.0.0.1:port/postgres`).
pub fn postgres_server() -> Option<String> {
    std::env::var("PODBRIEF_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
}

/// A fresh database on the test PostgreSQL server, dropped when this is dropped.
pub struct PgDatabase {
    /// Its URL.
    pub url: String,
    server: String,
    name: String,
}

impl PgDatabase {
    /// Creates `podbrief_test_<unique>` through a one-off connection to the server.
    pub async fn create(server: &str) -> PgDatabase {
        use sqlx::Connection;
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "podbrief_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut conn = sqlx::PgConnection::connect(server)
            .await
            .expect("PODBRIEF_TEST_DATABASE_URL names a reachable PostgreSQL server");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("the test database is created");
        let _ = conn.close().await;
        let mut url = url::Url::parse(server).expect("PODBRIEF_TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        PgDatabase {
            url: url.to_string(),
            server: server.to_string(),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Dropped from inside the test's runtime: do it on a thread with a runtime of its own.
        let (server, name) = (self.server.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            use sqlx::Connection;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&server).await.ok()?;
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
                conn.close().await.ok()
            })
        })
        .join();
    }
}
