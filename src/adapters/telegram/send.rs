//! Sending to Telegram within its limits, with errors classified for the scheduler and the
//! token redacted from everything that could be logged.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::Deserialize;
use teloxide::prelude::*;
use teloxide::types::{LinkPreviewOptions, MessageId, ParseMode, Seconds};
use teloxide::{ApiError, RequestError};

use super::render::{Rendered, render_with};
use crate::config::TelegramConfig;
use crate::core::Core;
use crate::core::model::{ChatRef, Reply};
use crate::deliver::limit::{Limit, RateLimiter};
use crate::deliver::{PreparedBrief, PreparedForm, SendError, Sender};

/// Removes the bot token from a text (Telegram puts it in every request URL).
pub fn redact(text: &str, token: &str) -> String {
    if token.is_empty() {
        text.to_string()
    } else {
        text.replace(token, "***")
    }
}

/// Classifies a Bot API error for the scheduler: retry after, transient, or gone.
pub fn classify(e: &RequestError, token: &str) -> SendError {
    match e {
        RequestError::RetryAfter(s) => SendError::RetryAfter(s.duration()),
        RequestError::Api(api) => match api {
            ApiError::BotBlocked => SendError::Gone("the bot was blocked by the user".into()),
            ApiError::ChatNotFound => SendError::Gone("the chat was not found".into()),
            ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::BotKickedFromChannel => {
                SendError::Gone("the bot was removed from the chat".into())
            }
            ApiError::UserDeactivated => {
                SendError::Gone("the user's account is deactivated".into())
            }
            ApiError::CantInitiateConversation => {
                SendError::Gone("the user has not started the bot".into())
            }
            ApiError::NotEnoughRightsToPostMessages => {
                SendError::Gone("the bot may not post messages in this chat".into())
            }
            other => {
                let text = redact(&other.to_string(), token);
                if text.contains("Forbidden") {
                    SendError::Gone(text)
                } else {
                    SendError::Transient(text)
                }
            }
        },
        other => SendError::Transient(redact(&other.to_string(), token)),
    }
}

/// One message of a brief prepared for Telegram: the `sendMessage` parameters after the chat's
/// own, serialized once for every chat that gets it (`"text":…,"parse_mode":"HTML",…}`).
#[derive(Debug)]
struct Part(Vec<u8>);

impl Part {
    fn new(message: &Rendered) -> Part {
        let mut json = serde_json::json!({
            "text": message.html,
            "parse_mode": ParseMode::Html,
            "link_preview_options": LinkPreviewOptions {
                is_disabled: true,
                url: None,
                prefer_small_media: false,
                prefer_large_media: false,
                show_above_text: false,
            },
        });
        if let Some(keyboard) = &message.keyboard {
            json["reply_markup"] = serde_json::json!(keyboard);
        }
        // A JSON object always serializes; its opening brace is written per chat.
        let json = serde_json::to_vec(&json).unwrap_or_else(|_| b"{}".to_vec());
        Part(json[1..].to_vec())
    }

    /// The request body for one chat (and forum topic).
    fn body(&self, chat_id: i64, thread: Option<i32>) -> Vec<u8> {
        use std::io::Write;
        let mut body = Vec::with_capacity(self.0.len() + 48);
        let _ = write!(body, "{{\"chat_id\":{chat_id},");
        if let Some(thread) = thread {
            let _ = write!(body, "\"message_thread_id\":{thread},");
        }
        body.extend_from_slice(&self.0);
        body
    }
}

/// A brief prepared for Telegram: its messages, rendered and serialized.
#[derive(Debug)]
pub struct TelegramBrief(Vec<Part>);

/// Telegram's answer to `sendMessage`, read for the message id alone (parsing the whole
/// `Message`, or teloxide's buffered answer type, costs more than the rest of a send).
#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    error_code: Option<u16>,
    result: Option<Sent>,
    description: Option<String>,
    parameters: Option<Parameters>,
}

#[derive(Debug, Deserialize)]
struct Sent {
    message_id: i32,
}

#[derive(Debug, Deserialize)]
struct Parameters {
    retry_after: Option<u32>,
    migrate_to_chat_id: Option<i64>,
}

/// Teloxide's error for an answer of the Bot API, as its own requests would report it.
fn read_answer(body: &[u8]) -> Result<MessageId, RequestError> {
    let answer: Answer = serde_json::from_slice(body).map_err(|e| RequestError::InvalidJson {
        source: Arc::new(e),
        raw: String::from_utf8_lossy(&body[..body.len().min(500)]).into(),
    })?;
    match answer {
        Answer {
            ok: true,
            result: Some(sent),
            ..
        } => Ok(MessageId(sent.message_id)),
        Answer {
            parameters:
                Some(Parameters {
                    retry_after: Some(after),
                    ..
                }),
            ..
        } => Err(RequestError::RetryAfter(Seconds::from_seconds(after))),
        Answer {
            parameters:
                Some(Parameters {
                    migrate_to_chat_id: Some(to),
                    ..
                }),
            ..
        } => Err(RequestError::MigrateToChatId(ChatId(to))),
        Answer {
            error_code,
            description,
            ..
        } if error_code == Some(429)
            || description
                .as_deref()
                .is_some_and(|d| d.starts_with("Too Many Requests")) =>
        {
            // The wait only in the description, or none at all: still a retry-after.
            let after = description.as_deref().and_then(retry_after_in);
            Err(RequestError::RetryAfter(Seconds::from_seconds(
                after.unwrap_or(UNSTATED_RETRY_AFTER),
            )))
        }
        Answer { description, .. } => {
            let description = description.unwrap_or_else(|| "no description".into());
            Err(RequestError::Api(
                serde_json::from_value(serde_json::Value::String(description.clone()))
                    .unwrap_or(ApiError::Unknown(description)),
            ))
        }
    }
}

/// The wait assumed for a 429 that names none.
const UNSTATED_RETRY_AFTER: u32 = 2;

/// The seconds a description names ("Too Many Requests: retry after 3").
fn retry_after_in(description: &str) -> Option<u32> {
    let lower = description.to_ascii_lowercase();
    let (_, after) = lower.split_once("retry after")?;
    let digits: String = after
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// How many times an interactive answer's message is tried.
const ANSWER_ATTEMPTS: u32 = 5;
/// The longest retry-after an interactive answer waits out (a longer one is reported).
const ANSWER_MAX_WAIT: Duration = Duration::from_secs(30);

/// How long an interactive answer waits before its `attempt`+1-th try after `e`, if it retries:
/// a retry-after as Telegram asks, a dropped connection or server error after a backoff
/// (0.25 s, doubling).
fn answer_retry_wait(e: &RequestError, attempt: u32) -> Option<Duration> {
    match e {
        RequestError::RetryAfter(s) if s.duration() <= ANSWER_MAX_WAIT => Some(s.duration()),
        RequestError::Network(_) | RequestError::Io(_) | RequestError::InvalidJson { .. } => {
            Some(Duration::from_millis(250) * 2u32.pow(attempt.saturating_sub(1).min(6)))
        }
        _ => None,
    }
}

/// Whether a send retries by itself (interactive answers) or reports every failure at once
/// (briefs, which the outbox retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retries {
    Own,
    Outbox,
}

/// How long a send waits after a server error before reporting it (as teloxide's own requests
/// do): a Telegram outage slows every sending slot down instead of spending attempts.
const SERVER_ERROR_PAUSE: Duration = Duration::from_secs(10);

/// Sends replies to Telegram chats through one shared rate limiter.
pub struct TelegramSender {
    bot: Bot,
    /// `{api_url}/bot{token}/sendMessage`, built once.
    send_url: reqwest::Url,
    token: String,
    limiter: RateLimiter,
    /// Chats Telegram asked to wait (429), until when: only that chat's sends wait.
    held: std::sync::Mutex<std::collections::HashMap<i64, std::time::Instant>>,
    per_chat: Limit,
    per_group: Limit,
    core: Arc<Core>,
    public_url: String,
}

impl TelegramSender {
    /// A sender with the configured limits.
    pub fn new(
        bot: Bot,
        token: String,
        config: &TelegramConfig,
        core: Arc<Core>,
    ) -> TelegramSender {
        // As teloxide builds a method's URL.
        let mut send_url = bot.api_url();
        if let Ok(mut path) = send_url.path_segments_mut() {
            path.push(&format!("bot{token}")).push("sendMessage");
        }
        TelegramSender {
            bot,
            send_url,
            token,
            limiter: RateLimiter::new(Limit::per_second(config.per_second)),
            held: Default::default(),
            per_chat: Limit::per_second(config.per_chat_per_second),
            per_group: Limit::per_minute(config.per_group_per_minute),
            core,
            public_url: String::new(),
        }
    }

    /// Links card titles to insight pages under `public_url` (`http.public_url`; empty for none).
    pub fn with_pages(mut self, public_url: &str) -> TelegramSender {
        self.public_url = public_url.to_string();
        self
    }

    async fn send_one(
        &self,
        chat: &ChatRef,
        chat_id: i64,
        part: &Part,
        retries: Retries,
    ) -> Result<MessageId, RequestError> {
        self.wait_if_held(chat_id).await;
        let mut keys = vec![(chat.chat_id.as_str(), self.per_chat)];
        let group_key = (chat_id < 0).then(|| format!("group:{}", chat.chat_id));
        if let Some(group) = &group_key {
            keys.push((group.as_str(), self.per_group));
        }
        let taken = self.limiter.acquire(&keys).await;
        let thread = chat
            .thread_id
            .as_deref()
            .and_then(|t| t.parse::<i32>().ok());
        let result = self.post(part.body(chat_id, thread), retries).await;
        self.limiter.settle(&keys, taken);
        if let Err(RequestError::RetryAfter(s)) = &result {
            // Hold this chat's sends, not every chat's.
            self.hold(chat_id, s.duration());
        }
        result
    }

    /// Holds sends to `chat_id` for `d`.
    fn hold(&self, chat_id: i64, d: Duration) {
        let now = std::time::Instant::now();
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.retain(|_, until| *until > now);
        let until = now + d;
        let entry = held.entry(chat_id).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Waits while Telegram's retry-after for `chat_id` runs.
    async fn wait_if_held(&self, chat_id: i64) {
        let until = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&chat_id)
            .copied();
        if let Some(until) = until {
            tokio::time::sleep_until(until.into()).await;
        }
    }

    /// Sends one message, following a group's move to a supergroup (`chat_id` becomes the new
    /// id) and, for [`Retries::Own`], retrying what [`answer_retry_wait`] allows.
    async fn send_part(
        &self,
        chat: &ChatRef,
        chat_id: &mut i64,
        part: &Part,
        retries: Retries,
    ) -> Result<MessageId, RequestError> {
        let mut attempt = 1;
        loop {
            let sent = match self.send_one(chat, *chat_id, part, retries).await {
                Err(RequestError::MigrateToChatId(new)) => {
                    // A group became a supergroup: follow it, and move the subscription.
                    let _ = self.core.chat_migrated(chat, &new.0.to_string()).await;
                    *chat_id = new.0;
                    self.send_one(chat, *chat_id, part, retries).await
                }
                other => other,
            };
            let wait = match &sent {
                Err(e) if retries == Retries::Own && attempt < ANSWER_ATTEMPTS => {
                    answer_retry_wait(e, attempt)
                }
                _ => None,
            };
            let Some(wait) = wait else { return sent };
            if let Err(e) = &sent {
                tracing::info!(chat = %chat.chat_id, attempt, retry_in = ?wait, error = %redact(&e.to_string(), &self.token), "retrying a Telegram answer");
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

impl TelegramSender {
    /// Posts one `sendMessage` on the bot's HTTP client. A server error's answer becomes an I/O
    /// error naming the status; for briefs it is reported only after a pause.
    async fn post(&self, body: Vec<u8>, retries: Retries) -> Result<MessageId, RequestError> {
        let response = self
            .bot
            .client()
            .post(self.send_url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await?;
        let status = response.status();
        if status.is_server_error() && retries == Retries::Outbox {
            tokio::time::sleep(SERVER_ERROR_PAUSE).await;
        }
        let answer = read_answer(&response.bytes().await?);
        match answer {
            Err(e) if status.is_server_error() && !matches!(e, RequestError::RetryAfter(_)) => {
                Err(RequestError::Io(Arc::new(std::io::Error::other(format!(
                    "the Bot API answered {status}: {e}"
                )))))
            }
            other => other,
        }
    }

    /// Renders a reply into its messages, serialized.
    fn parts(&self, reply: &Reply) -> Vec<Part> {
        render_with(reply, &self.public_url)
            .iter()
            .map(Part::new)
            .collect()
    }

    /// Sends a reply's messages in order; returns their ids.
    async fn send_parts(
        &self,
        chat: &ChatRef,
        parts: &[Part],
        retries: Retries,
    ) -> Result<Vec<String>, SendError> {
        let mut chat_id: i64 = chat.chat_id.parse().map_err(|_| {
            SendError::Gone(format!("{:?} is not a Telegram chat id", chat.chat_id))
        })?;
        let mut ids = Vec::with_capacity(parts.len());
        for part in parts {
            let sent = self.send_part(chat, &mut chat_id, part, retries).await;
            ids.push(sent.map_err(|e| classify(&e, &self.token))?.0.to_string());
        }
        Ok(ids)
    }
}

#[async_trait]
impl Sender for TelegramSender {
    async fn send(&self, chat: &ChatRef, reply: &Reply) -> Result<Vec<String>, SendError> {
        self.send_parts(chat, &self.parts(reply), Retries::Outbox)
            .await
    }

    fn prepare(&self, reply: Arc<Reply>) -> PreparedBrief {
        let form = PreparedForm::Telegram(TelegramBrief(self.parts(&reply)));
        PreparedBrief { reply, form }
    }

    async fn send_prepared(
        &self,
        chat: &ChatRef,
        brief: &PreparedBrief,
        _delivery: i64,
    ) -> Result<Vec<String>, SendError> {
        match &brief.form {
            PreparedForm::Telegram(t) => self.send_parts(chat, &t.0, Retries::Outbox).await,
            _ => self.send(chat, &brief.reply).await,
        }
    }
}

/// Sends an interactive answer: each message retried (bounded) after a retry-after, a dropped
/// connection or a server error, the messages already sent never again.
pub async fn answer(
    sender: &TelegramSender,
    chat: &ChatRef,
    reply: &Reply,
) -> Result<(), SendError> {
    sender
        .send_parts(chat, &sender.parts(reply), Retries::Own)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_is_serialized_once_and_addressed_per_chat() {
        let part = Part::new(&Rendered {
            html: "<b>1.</b> \"Tides\"".into(),
            keyboard: None,
        });
        let body: serde_json::Value =
            serde_json::from_slice(&part.body(-1001234, Some(7))).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "chat_id": -1001234,
                "message_thread_id": 7,
                "text": "<b>1.</b> \"Tides\"",
                "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": true},
            })
        );
        let body: serde_json::Value = serde_json::from_slice(&part.body(42, None)).unwrap();
        assert_eq!(body["chat_id"], 42);
        assert!(body.get("message_thread_id").is_none());
    }

    #[test]
    fn answers_become_teloxide_errors_the_scheduler_classifies() {
        let sent = br#"{"ok":true,"result":{"message_id":17,"date":0,"chat":{"id":1,"type":"private"},"text":"a long echo"}}"#;
        assert_eq!(read_answer(sent).unwrap(), MessageId(17));
        let limited = br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#;
        assert!(matches!(
            classify(&read_answer(limited).unwrap_err(), "123:secret"),
            SendError::RetryAfter(d) if d == Duration::from_secs(3)
        ));
        let migrated = br#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-100123}}"#;
        assert!(matches!(
            read_answer(migrated),
            Err(RequestError::MigrateToChatId(ChatId(-100123)))
        ));
        let blocked =
            br#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#;
        assert_eq!(
            classify(&read_answer(blocked).unwrap_err(), "123:secret"),
            SendError::Gone("the bot was blocked by the user".into())
        );
        let odd = br#"{"ok":false,"error_code":400,"description":"Bad Request: something new"}"#;
        assert!(matches!(
            classify(&read_answer(odd).unwrap_err(), "123:secret"),
            SendError::Transient(e) if e.contains("something new")
        ));
        for described in [
            br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3"}"#
                .as_slice(),
            br#"{"ok":false,"description":"Too Many Requests: retry after 3"}"#,
        ] {
            assert!(matches!(
                read_answer(described),
                Err(RequestError::RetryAfter(s)) if s.duration() == Duration::from_secs(3)
            ));
        }
        let unstated = br#"{"ok":false,"error_code":429,"description":"Too Many Requests"}"#;
        assert!(matches!(
            read_answer(unstated),
            Err(RequestError::RetryAfter(s)) if s.seconds() == UNSTATED_RETRY_AFTER
        ));
        let broken = b"<html>502 Bad Gateway</html>";
        assert!(matches!(
            classify(&read_answer(broken).unwrap_err(), "123:secret"),
            SendError::Transient(_)
        ));
    }
}
