//! The one HTTP server: the insight pages, the brief feed, health checks and metrics
//! ([`site`]), plus the routes adapters mount on it (the Telegram webhook, the Discord
//! interactions endpoint). Off unless `http.listen` is set.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::task::JoinHandle;

pub mod health;
pub mod pages;
pub mod params;
pub mod rss;
pub mod site;

pub use health::Health;
pub use site::{Site, metrics_text, routes};

/// The address of an insight's page, `{public_url}/i/{id}`; `None` when `http.public_url` is not
/// set (then there are no pages to link to). Chat renderers link card titles to it.
pub fn insight_url(public_url: &str, id: crate::core::model::InsightId) -> Option<String> {
    let base = public_url.trim().trim_end_matches('/');
    (!base.is_empty()).then(|| format!("{base}/i/{id}"))
}

/// Largest request body accepted (Telegram and Discord payloads are far smaller).
pub const MAX_BODY: usize = 1024 * 1024;

/// The server's routes: `/healthz` and whatever adapters contribute.
pub fn router(extra: Router) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(extra)
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// Binds `listen` and serves `router` in the background. Returns the bound address (useful when
/// the port is 0) and the server task.
pub async fn serve(listen: &str, router: Router) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (http.listen)"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let task = tokio::spawn(async move {
        let app = router.layer(axum::middleware::from_fn(timeout_mw));
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    tracing::info!(%addr, "HTTP server listening");
    Ok((addr, task))
}

/// Requests that take longer than this are answered 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

async fn timeout_mw(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn insight_urls_need_a_public_url() {
        assert_eq!(
            super::insight_url("https://pb.example.com/", 42).as_deref(),
            Some("https://pb.example.com/i/42")
        );
        assert_eq!(
            super::insight_url("https://pb.example.com/bot", 7).as_deref(),
            Some("https://pb.example.com/bot/i/7")
        );
        assert_eq!(super::insight_url("  ", 7), None);
    }
}
