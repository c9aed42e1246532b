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
pub mod server;
pub mod site;

pub use health::Health;
pub use site::{Site, metrics_text, routes};

/// The address of an insight's page, `{public_url}/i/{id}`; `None` when `http.public_url` is not
/// set (then there are no pages to link to). Chat renderers link card titles to it.
pub fn insight_url(public_url: &str, id: crate::core::model::InsightId) -> Option<String> {
    let base = public_url.trim().trim_end_matches('/');
    (!base.is_empty()).then(|| format!("{base}/i/{id}"))
}

/// Largest request body of a page, the feed or an operator endpoint (they read none).
pub const MAX_PAGE_BODY: u64 = 16 * 1024;

/// The server's routes: `/healthz` and whatever adapters contribute.
pub fn router(extra: Router) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(extra)
}

/// Binds `http.listen` and serves `router` in the background within `http`'s limits (header
/// timeout, connections, body size). Returns the bound address (useful when the port is 0) and
/// the server task.
pub async fn serve(
    http: &crate::config::HttpConfig,
    router: Router,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listen = &http.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (http.listen)"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let limits = server::Limits::from_config(http);
    let app = router
        .layer(DefaultBodyLimit::max(http.max_body_kb as usize * 1024))
        .layer(axum::middleware::from_fn(timeout_mw));
    let task = tokio::spawn(server::accept_loop(listener, app, limits));
    tracing::info!(
        %addr,
        max_connections = limits.max_connections,
        header_timeout_s = limits.header_timeout.as_secs_f64(),
        "HTTP server listening"
    );
    Ok((addr, task))
}

/// Refuses a request whose declared body is over `max` bytes (413), for routes that read none.
pub(crate) async fn small_body(max: u64, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    next.run(req).await
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
