//! The site: what the pages, the feed and the operator endpoints read (the core, the index, the
//! metrics, the health), and the routes that serve them.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use tracing::warn;

use super::health::Health;
use crate::core::Core;
use crate::core::model::InsightView;
use crate::metrics::Metrics;
use crate::search::SearchIndex;
use crate::store::{Store, StoreError};

/// How long `/readyz` waits for the database.
const DB_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything the pages and endpoints read. Cheap to clone.
#[derive(Clone)]
pub struct Site {
    /// The core (clock, brief settings, the brief ranking).
    pub core: Arc<Core>,
    /// The store the pages read.
    pub store: Arc<dyn Store>,
    /// The search index, for related insights.
    pub index: Arc<SearchIndex>,
    /// The counters `/metrics` shows.
    pub metrics: Arc<Metrics>,
    /// What `/readyz` reports.
    pub health: Arc<Health>,
    /// `http.public_url`, for absolute links (Open Graph, RSS); empty for relative ones.
    pub public_url: String,
}

impl Site {
    /// The site of a built app.
    pub fn from_app(app: &crate::app::App) -> Site {
        Site {
            core: app.core.clone(),
            store: app.store.clone(),
            index: app.index.clone(),
            metrics: app.metrics.clone(),
            health: app.health.clone(),
            public_url: app.config.http.public_url.clone(),
        }
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.core.now()
    }

    /// `path` (starting with `/`) as an absolute URL when `public_url` is set, else as is.
    pub(crate) fn absolute(&self, path: &str) -> String {
        let base = self.public_url.trim().trim_end_matches('/');
        format!("{base}{path}")
    }

    /// The day's top insights: the brief as it stood at the end of `day` (UTC), or now for
    /// today. `None` for a day in the future (or one beyond the dates the site can reckon with).
    pub(crate) async fn brief_of(
        &self,
        day: NaiveDate,
    ) -> Result<Option<Vec<InsightView>>, StoreError> {
        let lookback = self.core.settings().lookback;
        let Some((from, at)) = super::params::brief_window(day, self.now(), lookback) else {
            return Ok(None);
        };
        let candidates = self.store().brief_candidates(from, None).await?;
        Ok(Some(self.rank_at(&candidates, at)))
    }

    /// When `day`'s brief is taken: the end of the day, or now for today; `None` in the future.
    pub(crate) fn end_of(&self, day: NaiveDate) -> Option<DateTime<Utc>> {
        super::params::brief_window(day, self.now(), chrono::Duration::zero()).map(|(_, at)| at)
    }

    /// Ranks `candidates` published by `at` as a brief taken at `at`.
    pub(crate) fn rank_at(
        &self,
        candidates: &[InsightView],
        at: DateTime<Utc>,
    ) -> Vec<InsightView> {
        self.core.brief_at(candidates, at)
    }
}

/// The routes of the site: pages (search included), the brief feed, `/readyz` and `/metrics`.
pub fn routes(site: Site) -> Router {
    Router::new()
        .route("/", get(super::pages::home))
        .route("/i/{id}", get(super::pages::insight))
        .route("/brief/feed.xml", get(super::rss::feed))
        .route("/brief/{date}", get(super::pages::brief))
        .route("/topics/{topic}", get(super::pages::topic))
        .route("/search", get(super::pages::search))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn(|req, next| {
            super::small_body(super::MAX_PAGE_BODY, req, next)
        }))
        .with_state(site)
}

/// `/readyz`: 200 when the database answers and every part runs; else 503 listing what is
/// wrong. Never shows configuration: only which part is down.
async fn readyz(State(site): State<Site>) -> Response {
    let mut problems: Vec<String> = database_problem(site.store().as_ref())
        .await
        .into_iter()
        .collect();
    problems.extend(site.health.problems());
    let ready = problems.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({ "ready": ready, "problems": problems })),
    )
        .into_response()
}

/// What is wrong with the database, if anything: it does not answer, or (answering) it takes no
/// writes (a read-only file, a full disk).
async fn database_problem(store: &dyn Store) -> Option<String> {
    match tokio::time::timeout(DB_CHECK_TIMEOUT, store.stats()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            warn!(error = %e, "readiness: database check failed");
            return Some("database: unreachable".into());
        }
        Err(_) => return Some("database: no answer within 5 s".into()),
    }
    match tokio::time::timeout(DB_CHECK_TIMEOUT, store.check_writable()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            warn!(error = %e, "readiness: the database takes no writes");
            Some("database: cannot be written (read-only or disk full)".into())
        }
        Err(_) => Some("database: no write within 5 s".into()),
    }
}

/// `/metrics`: the counters in the Prometheus text format, with the scheduler lag read now.
async fn metrics(State(site): State<Site>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics_text(&site).await,
    )
        .into_response()
}

/// The `/metrics` text of a site.
pub async fn metrics_text(site: &Site) -> String {
    let lag = match site.store().oldest_pending_delivery().await {
        Ok(Some(due)) => (site.now() - due).num_milliseconds().max(0) as f64 / 1000.0,
        Ok(None) => 0.0,
        Err(e) => {
            warn!(error = %e, "metrics: cannot read the oldest pending delivery");
            0.0
        }
    };
    site.metrics.render(lag)
}
