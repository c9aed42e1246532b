//! The HTTP interactions endpoint (`discord.mode = "interactions"`): Discord POSTs each
//! interaction to `POST /discord/interactions`. Every request's `X-Signature-Ed25519` over
//! `X-Signature-Timestamp` + body is verified with the application's public key before anything
//! else; a bad or missing signature gets 401 and nothing happens, and so does a signed request
//! whose timestamp is further than `discord.interaction_max_age` from now (a replay). PING gets PONG; everything else
//! is answered in the response body, and follow-ups go through the REST API.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serenity::all::Interaction;
use serenity::interactions_endpoint::Verifier;
use tracing::{debug, warn};

use super::interact::Handler;

/// The endpoint's path on podbrief's HTTP server.
pub const PATH: &str = "/discord/interactions";

#[derive(Clone)]
struct Endpoint {
    handler: Arc<Handler>,
    verifier: Arc<Verifier>,
    /// How far a signature's timestamp may be from now (the system clock, as Discord's).
    max_age: std::time::Duration,
}

/// Parses the application's public key (64 hex digits) into a verifier.
pub fn verifier(public_key: &str) -> anyhow::Result<Verifier> {
    let hex = public_key.trim();
    let bytes: Option<Vec<u8>> = (hex.len() == 64 && hex.is_ascii())
        .then(|| {
            (0..32)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                .collect()
        })
        .flatten();
    let key: [u8; 32] = bytes
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("discord.public_key must be 64 hex digits"))?;
    Verifier::try_new(key).map_err(|e| anyhow::anyhow!("discord.public_key: {e}"))
}

/// The endpoint's route, to mount on the HTTP server: requests signed more than `max_age`
/// from now are refused.
pub fn routes(handler: Arc<Handler>, verifier: Verifier, max_age: std::time::Duration) -> Router {
    Router::new()
        .route(PATH, post(receive))
        .with_state(Endpoint {
            handler,
            verifier: Arc::new(verifier),
            max_age,
        })
}

/// Whether a signature's `X-Signature-Timestamp` (Unix seconds) is within `max_age` of `now`.
fn fresh(
    headers: &HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
    max_age: std::time::Duration,
) -> bool {
    let Some(signed) = headers
        .get("x-signature-timestamp")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.trim().parse::<i64>().ok())
    else {
        return false;
    };
    let age = now.timestamp().saturating_sub(signed).unsigned_abs();
    age <= max_age.as_secs()
}

/// Whether the request is signed by the application's key.
fn verified(verifier: &Verifier, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match (
        header("x-signature-ed25519"),
        header("x-signature-timestamp"),
    ) {
        (Some(sig), Some(ts)) => verifier.verify(sig.trim(), ts, body).is_ok(),
        _ => false,
    }
}

async fn receive(State(ep): State<Endpoint>, headers: HeaderMap, body: Bytes) -> Response {
    if !verified(&ep.verifier, &headers, &body) {
        debug!("Discord interaction with a bad or missing signature refused");
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    if !fresh(&headers, chrono::Utc::now(), ep.max_age) {
        debug!("a Discord interaction signed too long ago refused as a replay");
        return (StatusCode::UNAUTHORIZED, "request signed too long ago").into_response();
    }
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return (StatusCode::BAD_REQUEST, "body is not JSON").into_response(),
    };
    // A PING is answered whatever else it carries (some omit fields the full model wants).
    if value.get("type").and_then(serde_json::Value::as_u64) == Some(1) {
        return axum::Json(serde_json::json!({ "type": 1 })).into_response();
    }
    let interaction: Interaction = match serde_json::from_value(value) {
        Ok(i) => i,
        Err(e) => {
            warn!(error = %e, "a Discord interaction could not be read");
            return (StatusCode::BAD_REQUEST, "unsupported interaction").into_response();
        }
    };
    let answer = ep.handler.answer(interaction).await;
    if let Some(then) = answer.then {
        let handler = ep.handler.clone();
        let token = answer.token.clone();
        let ephemeral = answer.ephemeral;
        tokio::spawn(async move { handler.follow_up(&token, then, ephemeral, false).await });
    }
    axum::Json(answer.first).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_are_checked_without_panics() {
        assert!(verifier("").is_err());
        assert!(verifier(&"zz".repeat(32)).is_err());
        assert!(verifier(&"é".repeat(32)).is_err());
        // A valid point (the Ed25519 base point's encoding).
        let key = "5866666666666666666666666666666666666666666666666666666666666666";
        let v = verifier(key).unwrap();
        let h = HeaderMap::new();
        assert!(!verified(&v, &h, b"{}"));
    }

    #[test]
    fn a_signature_is_fresh_only_within_the_max_age_either_way() {
        let now: chrono::DateTime<chrono::Utc> = "2026-11-27T06:00:00Z".parse().unwrap();
        let at = |ts: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-signature-timestamp", ts.parse().unwrap());
            h
        };
        let five = std::time::Duration::from_secs(300);
        let t = now.timestamp();
        assert!(fresh(&at(&t.to_string()), now, five));
        assert!(fresh(&at(&(t - 300).to_string()), now, five));
        assert!(!fresh(&at(&(t - 301).to_string()), now, five));
        assert!(!fresh(&at(&(t + 301).to_string()), now, five));
        assert!(!fresh(&at("yesterday"), now, five));
        assert!(!fresh(&HeaderMap::new(), now, five));
    }
}
