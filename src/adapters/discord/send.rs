//! Sending briefs to Discord channels: `POST /channels/{id}/messages` with a nonce Discord
//! enforces, within podbrief's own limits (the global requests per second, and the route buckets
//! Discord announces in `X-RateLimit-*` headers), with errors classified for the scheduler and the
//! token kept out of every message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serenity::all::{ChannelId, Http, LightMethod, Request, Route};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::render::{MessageBody, render_with};
use crate::config::DiscordConfig;
use crate::core::model::{ChatRef, Reply};
use crate::deliver::limit::{Limit, RateLimiter};
use crate::deliver::{PreparedBrief, PreparedForm, SendError, Sender};

/// Removes the bot token from a text.
pub fn redact(text: &str, token: &str) -> String {
    if token.is_empty() {
        text.to_string()
    } else {
        text.replace(token, "***")
    }
}

/// Longest wait for a request: Discord answers much faster or not at all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The `X-RateLimit-*` headers of a response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateHeaders {
    /// `X-RateLimit-Bucket`: the hash of the bucket the route belongs to (routes with the same
    /// hash share it, per major parameter).
    pub bucket: Option<String>,
    /// Requests left in the bucket.
    pub remaining: Option<u32>,
    /// Seconds until the bucket refills.
    pub reset_after: Option<f64>,
    /// Whether a 429 is the global limit.
    pub global: bool,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<f64>,
}

impl RateHeaders {
    /// Reads the headers of a response.
    pub fn read(h: &reqwest::header::HeaderMap) -> RateHeaders {
        let num = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
        };
        RateHeaders {
            bucket: h
                .get("x-ratelimit-bucket")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().chars().take(64).collect())
                .filter(|v: &String| !v.is_empty()),
            remaining: num("x-ratelimit-remaining").map(|v| v.min(f64::from(u32::MAX)) as u32),
            reset_after: num("x-ratelimit-reset-after"),
            global: h
                .get("x-ratelimit-global")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            retry_after: num("retry-after"),
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.clamp(0.0, 3600.0)).unwrap_or(Duration::from_secs(1))
}

/// Classifies an unsuccessful answer of Discord for the scheduler. `body` is the JSON error
/// Discord sent (`{"code": …, "message": …}` or, for 429, `{"retry_after": …, "global": …}`).
pub fn classify(status: u16, headers: &RateHeaders, body: &serde_json::Value) -> SendError {
    let code = body.get("code").and_then(serde_json::Value::as_i64);
    let message = body
        .get("message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .chars()
        .take(200)
        .collect::<String>();
    match status {
        429 => {
            let after = body
                .get("retry_after")
                .and_then(serde_json::Value::as_f64)
                .or(headers.retry_after)
                .unwrap_or(1.0);
            SendError::RetryAfter(secs(after))
        }
        403 => SendError::Gone(match code {
            Some(50013) => "the bot lacks permission to post here (it needs View Channel, Send Messages and Embed Links; Discord error 50013)".into(),
            Some(50001) => "the bot can no longer see this channel (Discord error 50001: Missing Access)".into(),
            Some(50083) => "the thread is archived (Discord error 50083)".into(),
            Some(c) => format!("Discord refused to post here (error {c}: {message})"),
            None => "Discord refused to post here (403 Forbidden)".into(),
        }),
        404 => SendError::Gone(match code {
            Some(10003) => "the channel was deleted (Discord error 10003: Unknown Channel)".into(),
            _ => "the channel was not found (it was deleted, or the bot can no longer see it)".into(),
        }),
        401 => SendError::Transient("Discord rejected the bot token (401 Unauthorized)".into()),
        s if s >= 500 => SendError::Transient(format!("Discord answered {s}")),
        s => SendError::Transient(match code {
            Some(c) => format!("Discord answered {s} (error {c}: {message})"),
            None => format!("Discord answered {s}"),
        }),
    }
}

/// A nonce for one message of a reply to a chat: the same reply to the same chat gets the same
/// nonce, so Discord drops a resend (after a crash between send and record) instead of posting
/// it twice. At most 25 characters, as Discord requires.
pub fn nonce(chat: &ChatRef, reply: &Reply, part: usize) -> String {
    let mut h = Sha256::new();
    h.update(chat.chat_id.as_bytes());
    h.update([0]);
    h.update(chat.thread_id.as_deref().unwrap_or("").as_bytes());
    h.update([0]);
    h.update(reply.text.as_bytes());
    for c in &reply.cards {
        h.update(c.insight_id.to_le_bytes());
    }
    h.update((part as u64).to_le_bytes());
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("pb{}", &hex[..23])
}

/// The route of a channel's messages, as bucket hashes are learnt for it.
const CHANNEL_MESSAGES: &str = "POST channels/{}/messages";

/// Discord's rate-limit buckets as its responses announce them: each route's
/// `X-RateLimit-Bucket` hash (routes sharing a hash share the bucket), per major parameter (the
/// channel), and when each exhausted bucket refills. Only exhausted buckets are kept (the only
/// ones that make a send wait), so the map stays as small as the buckets being waited on, not as
/// large as every channel ever posted to.
#[derive(Debug, Default)]
struct Buckets {
    /// Route → the bucket hash Discord named for it.
    hashes: HashMap<&'static str, String>,
    /// Exhausted buckets (`hash:major`, or `route:major` before a hash is known) → refill time.
    exhausted: HashMap<String, Instant>,
}

impl Buckets {
    fn key(&self, route: &'static str, major: u64) -> String {
        match self.hashes.get(route) {
            Some(hash) => format!("{hash}:{major}"),
            None => format!("{route}:{major}"),
        }
    }

    /// How long the bucket of `route` for `major` says to wait before the next request.
    fn wait(&self, route: &'static str, major: u64) -> Duration {
        self.exhausted
            .get(&self.key(route, major))
            .map_or(Duration::ZERO, |reset_at| {
                reset_at.saturating_duration_since(Instant::now())
            })
    }

    /// Records what a response of `route` for `major` said of its bucket.
    fn update(
        &mut self,
        route: &'static str,
        major: u64,
        h: &RateHeaders,
        retry_after: Option<Duration>,
    ) {
        if let Some(hash) = &h.bucket
            && self.hashes.get(route) != Some(hash)
        {
            self.hashes.insert(route, hash.clone());
        }
        let key = self.key(route, major);
        let now = Instant::now();
        let exhausted = match (retry_after, h.remaining, h.reset_after) {
            (Some(d), _, _) => Some(now + d),
            (None, Some(0), Some(after)) => Some(now + secs(after)),
            _ => None,
        };
        match exhausted {
            Some(reset_at) => {
                if self.exhausted.len() >= 10_000 {
                    self.exhausted.retain(|_, b| *b > now);
                }
                self.exhausted.insert(key, reset_at);
            }
            None if h.remaining.is_some() => {
                self.exhausted.remove(&key);
            }
            None => {}
        }
    }
}

/// Sends replies to Discord channels through one shared rate limiter.
pub struct DiscordSender {
    http: Arc<Http>,
    client: reqwest::Client,
    token: String,
    limiter: RateLimiter,
    /// Discord's buckets, as announced.
    buckets: Mutex<Buckets>,
    public_url: String,
}

impl DiscordSender {
    /// A sender with the configured global limit, using `http`'s token and proxy.
    pub fn new(
        http: Arc<Http>,
        token: String,
        config: &DiscordConfig,
    ) -> anyhow::Result<DiscordSender> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| anyhow::anyhow!("building the Discord HTTP client: {e}"))?;
        Ok(DiscordSender {
            http,
            client,
            token,
            limiter: RateLimiter::new(Limit::per_second(config.per_second)),
            buckets: Mutex::default(),
            public_url: String::new(),
        })
    }

    /// Links card titles to insight pages under `public_url` (`http.public_url`).
    pub fn with_pages(mut self, public_url: &str) -> DiscordSender {
        self.public_url = public_url.to_string();
        self
    }

    fn buckets(&self) -> std::sync::MutexGuard<'_, Buckets> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Posts one message; returns its id.
    async fn post(
        &self,
        channel: ChannelId,
        message: &MessageBody,
        nonce: &str,
    ) -> Result<String, SendError> {
        let major = channel.get();
        let wait = self.buckets().wait(CHANNEL_MESSAGES, major);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let taken = self.limiter.acquire(&[]).await;
        let body = message.with_nonce(nonce);
        let request = Request::new(
            Route::ChannelMessages {
                channel_id: channel,
            },
            LightMethod::Post,
        )
        .body(Some(body))
        .build(&self.client, self.http.token(), self.http.proxy.as_deref())
        .map_err(|e| SendError::Transient(redact(&e.to_string(), &self.token)))?;
        let response = request.send().await;
        // Discord counts the request when it arrives: it keeps its place in the global window
        // until its answer is here.
        self.limiter.settle(&[], taken);
        let response = response
            .map_err(|e| SendError::Transient(redact(&e.without_url().to_string(), &self.token)))?;
        let status = response.status().as_u16();
        let headers = RateHeaders::read(response.headers());
        let body = response.bytes().await.unwrap_or_default();
        if (200..300).contains(&status) {
            self.buckets()
                .update(CHANNEL_MESSAGES, major, &headers, None);
            // Only the new message's id is read (the rest of the message is skipped unparsed).
            #[derive(serde::Deserialize)]
            struct Created {
                id: String,
            }
            return Ok(serde_json::from_slice::<Created>(&body)
                .map(|c| c.id)
                .unwrap_or_default());
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let error = classify(status, &headers, &json);
        if let SendError::RetryAfter(d) = error {
            let global = headers.global
                || json
                    .get("global")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false);
            if global {
                // The global limit holds every send, not only this route.
                self.limiter.block_for(d);
            }
            self.buckets()
                .update(CHANNEL_MESSAGES, major, &headers, Some(d));
        } else {
            self.buckets()
                .update(CHANNEL_MESSAGES, major, &headers, None);
        }
        Err(error)
    }
}

/// Parses a stored Discord channel id.
pub fn channel_id(chat: &ChatRef) -> Result<ChannelId, SendError> {
    let id = chat
        .thread_id
        .as_deref()
        .filter(|t| !t.is_empty())
        .unwrap_or(&chat.chat_id);
    match id.parse::<u64>() {
        Ok(n) if n > 0 => Ok(ChannelId::new(n)),
        _ => Err(SendError::Gone(format!(
            "{id:?} is not a Discord channel id"
        ))),
    }
}

/// The nonce of message `part` of delivery `delivery`: a resend of the same delivery (after a
/// crash between send and record) carries the same nonces, so Discord drops it.
pub fn delivery_nonce(delivery: i64, part: usize) -> String {
    let n = format!("pbd{delivery}-{part}");
    if n.len() <= 25 {
        n
    } else {
        n.chars()
            .rev()
            .take(25)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    }
}

/// A brief prepared for Discord: its messages, rendered and serialized (or why they could not
/// be).
#[derive(Debug)]
pub struct DiscordBrief(Result<Vec<MessageBody>, String>);

impl DiscordSender {
    /// Renders a reply into its messages, serialized.
    fn parts(&self, reply: &Reply) -> Result<Vec<MessageBody>, String> {
        render_with(reply, &self.public_url)
            .iter()
            .map(|m| MessageBody::new(m).map_err(|e| format!("cannot encode the message: {e}")))
            .collect()
    }

    /// Posts a reply's messages in order, message `i` with nonce `nonce_of(i)`; returns their
    /// ids.
    async fn send_parts(
        &self,
        chat: &ChatRef,
        parts: &Result<Vec<MessageBody>, String>,
        nonce_of: impl Fn(usize) -> String,
    ) -> Result<Vec<String>, SendError> {
        let channel = channel_id(chat)?;
        let parts = parts
            .as_ref()
            .map_err(|e| SendError::Transient(e.clone()))?;
        let mut ids = Vec::with_capacity(parts.len());
        for (i, m) in parts.iter().enumerate() {
            ids.push(self.post(channel, m, &nonce_of(i)).await?);
        }
        Ok(ids)
    }
}

#[async_trait]
impl Sender for DiscordSender {
    async fn send(&self, chat: &ChatRef, reply: &Reply) -> Result<Vec<String>, SendError> {
        self.send_parts(chat, &self.parts(reply), |i| nonce(chat, reply, i))
            .await
    }

    fn prepare(&self, reply: Arc<Reply>) -> PreparedBrief {
        let form = PreparedForm::Discord(DiscordBrief(self.parts(&reply)));
        PreparedBrief { reply, form }
    }

    async fn send_prepared(
        &self,
        chat: &ChatRef,
        brief: &PreparedBrief,
        delivery: i64,
    ) -> Result<Vec<String>, SendError> {
        let nonce_of = |i| delivery_nonce(delivery, i);
        match &brief.form {
            PreparedForm::Discord(d) => self.send_parts(chat, &d.0, nonce_of).await,
            _ => {
                let parts = self.parts(&brief.reply);
                self.send_parts(chat, &parts, nonce_of).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Platform;
    use serde_json::json;

    #[test]
    fn errors_are_classified_for_the_scheduler() {
        let h = RateHeaders::default();
        assert_eq!(
            classify(429, &h, &json!({"retry_after": 0.25, "global": false})),
            SendError::RetryAfter(Duration::from_millis(250))
        );
        let h2 = RateHeaders {
            retry_after: Some(3.0),
            ..h.clone()
        };
        assert_eq!(
            classify(429, &h2, &json!({})),
            SendError::RetryAfter(Duration::from_secs(3))
        );
        assert!(matches!(
            classify(503, &h, &json!({})),
            SendError::Transient(_)
        ));
        match classify(
            403,
            &h,
            &json!({"code": 50013, "message": "Missing Permissions"}),
        ) {
            SendError::Gone(r) => assert!(r.contains("permission"), "{r}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(404, &h, &json!({"code": 10003})),
            SendError::Gone(_)
        ));
        assert!(matches!(
            classify(401, &h, &json!({})),
            SendError::Transient(_)
        ));
        // Odd values never panic.
        let h3 = RateHeaders {
            retry_after: Some(f64::MAX),
            ..h
        };
        assert!(matches!(
            classify(429, &h3, &json!({"retry_after": -5})),
            SendError::RetryAfter(_)
        ));
    }

    #[test]
    fn routes_sharing_a_bucket_hash_wait_together_per_channel() {
        const OTHER: &str = "PATCH channels/{}/messages/{}";
        let mut b = Buckets::default();
        let shared = RateHeaders {
            bucket: Some("abcd1234".into()),
            remaining: Some(5),
            reset_after: Some(1.0),
            ..RateHeaders::default()
        };
        b.update(OTHER, 1, &shared, None);
        b.update(CHANNEL_MESSAGES, 1, &shared, None);
        assert!(b.wait(CHANNEL_MESSAGES, 1).is_zero());
        // The bucket runs out answering one route: the other route waits too, in that channel.
        let spent = RateHeaders {
            remaining: Some(0),
            reset_after: Some(2.0),
            ..shared.clone()
        };
        b.update(OTHER, 1, &spent, None);
        assert!(b.wait(CHANNEL_MESSAGES, 1) > Duration::from_millis(1500));
        assert!(
            b.wait(CHANNEL_MESSAGES, 2).is_zero(),
            "another channel is another bucket"
        );
        // A route with its own hash is not held.
        let own = RateHeaders {
            bucket: Some("ffff".into()),
            ..shared
        };
        b.update("DELETE channels/{}", 1, &own, None);
        assert!(b.wait("DELETE channels/{}", 1).is_zero());
        // Discord moves the route to a bucket of its own: the old one no longer holds it.
        b.update(CHANNEL_MESSAGES, 1, &own, None);
        assert!(b.wait(CHANNEL_MESSAGES, 1).is_zero());
    }

    #[test]
    fn nonces_are_stable_and_short() {
        let chat = ChatRef {
            platform: Platform::Discord,
            chat_id: "123".into(),
            thread_id: None,
        };
        let r = Reply::text("brief");
        assert_eq!(nonce(&chat, &r, 0), nonce(&chat, &r, 0));
        assert_ne!(nonce(&chat, &r, 0), nonce(&chat, &r, 1));
        assert_eq!(nonce(&chat, &r, 0).len(), 25);
        assert_eq!(delivery_nonce(42, 1), "pbd42-1");
        assert!(delivery_nonce(i64::MIN, 99).len() <= 25);
        assert!(channel_id(&chat).is_ok());
        let bad = ChatRef {
            chat_id: "general".into(),
            ..chat
        };
        assert!(matches!(channel_id(&bad), Err(SendError::Gone(_))));
    }
}
