//! Sending to Telegram within its limits, with errors classified for the scheduler and the
//! token redacted from everything that could be logged.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use teloxide::prelude::*;
use teloxide::requests::{JsonRequest, Payload};
use teloxide::types::{LinkPreviewOptions, MessageId, ParseMode, ThreadId};
use teloxide::{ApiError, RequestError};

use super::render::render_with;
use crate::config::TelegramConfig;
use crate::core::Core;
use crate::core::model::{ChatRef, Reply};
use crate::deliver::limit::{Limit, RateLimiter};
use crate::deliver::{Prepared, SendError, Sender, prepared};

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

/// `sendMessage` as podbrief sends it: text and buttons come serialized already (a brief is
/// rendered once for all its chats), and the answer is read for the message id alone (the full
/// `Message` teloxide's own payload parses costs more than the rest of a send).
#[derive(Debug, Clone, Serialize)]
struct SendBrief {
    chat_id: ChatId,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_thread_id: Option<ThreadId>,
    text: Json,
    parse_mode: ParseMode,
    link_preview_options: LinkPreviewOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_markup: Option<Json>,
}

/// A value serialized to JSON once, written as it is into every request that carries it.
#[derive(Debug, Clone)]
struct Json(Arc<RawValue>);

impl Json {
    fn of<T: Serialize + ?Sized>(value: &T) -> Json {
        // Strings and keyboards always serialize; `null` stands in for the impossible failure.
        Json(Arc::from(
            serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned()),
        ))
    }
}

impl Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// One message of a brief prepared for Telegram.
#[derive(Debug)]
struct Part {
    text: Json,
    reply_markup: Option<Json>,
}

/// A brief prepared for Telegram: its messages, rendered and serialized.
#[derive(Debug)]
struct TelegramBrief(Vec<Part>);

/// What podbrief reads of a sent message.
#[derive(Debug, Deserialize)]
struct Sent {
    message_id: i32,
}

impl Payload for SendBrief {
    type Output = Sent;
    const NAME: &'static str = "sendMessage";
}

/// Sends replies to Telegram chats through one shared rate limiter.
pub struct TelegramSender {
    bot: Bot,
    token: String,
    limiter: RateLimiter,
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
        TelegramSender {
            bot,
            token,
            limiter: RateLimiter::new(Limit::per_second(config.per_second)),
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
    ) -> Result<MessageId, RequestError> {
        let mut keys = vec![(chat.chat_id.as_str(), self.per_chat)];
        let group_key = (chat_id < 0).then(|| format!("group:{}", chat.chat_id));
        if let Some(group) = &group_key {
            keys.push((group.as_str(), self.per_group));
        }
        let taken = self.limiter.acquire(&keys).await;
        let payload = SendBrief {
            chat_id: ChatId(chat_id),
            message_thread_id: chat
                .thread_id
                .as_deref()
                .and_then(|t| t.parse::<i32>().ok())
                .map(|t| ThreadId(MessageId(t))),
            text: part.text.clone(),
            parse_mode: ParseMode::Html,
            link_preview_options: LinkPreviewOptions {
                is_disabled: true,
                url: None,
                prefer_small_media: false,
                prefer_large_media: false,
                show_above_text: false,
            },
            reply_markup: part.reply_markup.clone(),
        };
        let result = JsonRequest::new(self.bot.clone(), payload)
            .await
            .map(|sent| MessageId(sent.message_id));
        self.limiter.settle(&keys, taken);
        if let Err(RequestError::RetryAfter(s)) = &result {
            // Flood control applies to the whole bot: hold every send, not only this one.
            self.limiter.block_for(s.duration());
        }
        result
    }
}

impl TelegramSender {
    /// Renders a reply into its messages, serialized.
    fn parts(&self, reply: &Reply) -> Vec<Part> {
        render_with(reply, &self.public_url)
            .iter()
            .map(|m| Part {
                text: Json::of(&m.html),
                reply_markup: m.keyboard.as_ref().map(Json::of),
            })
            .collect()
    }

    /// Sends a reply's messages in order; returns their ids.
    async fn send_parts(&self, chat: &ChatRef, parts: &[Part]) -> Result<Vec<String>, SendError> {
        let mut chat_id: i64 = chat.chat_id.parse().map_err(|_| {
            SendError::Gone(format!("{:?} is not a Telegram chat id", chat.chat_id))
        })?;
        let mut ids = Vec::with_capacity(parts.len());
        for part in parts {
            let sent = match self.send_one(chat, chat_id, part).await {
                Err(RequestError::MigrateToChatId(new)) => {
                    // A group became a supergroup: follow it, and move the subscription.
                    let _ = self.core.store().move_chat(chat, &new.0.to_string()).await;
                    chat_id = new.0;
                    self.send_one(chat, chat_id, part).await
                }
                other => other,
            };
            ids.push(sent.map_err(|e| classify(&e, &self.token))?.0.to_string());
        }
        Ok(ids)
    }
}

#[async_trait]
impl Sender for TelegramSender {
    async fn send(&self, chat: &ChatRef, reply: &Reply) -> Result<Vec<String>, SendError> {
        self.send_parts(chat, &self.parts(reply)).await
    }

    fn prepare(&self, reply: &Reply) -> Prepared {
        Arc::new(TelegramBrief(self.parts(reply)))
    }

    async fn send_prepared(
        &self,
        chat: &ChatRef,
        brief: &Prepared,
        _delivery: i64,
    ) -> Result<Vec<String>, SendError> {
        self.send_parts(chat, &prepared::<TelegramBrief>(brief)?.0)
            .await
    }
}

/// Sends an interactive answer, waiting out one retry-after if Telegram asks for it.
pub async fn answer(
    sender: &TelegramSender,
    chat: &ChatRef,
    reply: &Reply,
) -> Result<(), SendError> {
    match sender.send(chat, reply).await {
        Err(SendError::RetryAfter(d)) if d <= Duration::from_secs(30) => {
            tokio::time::sleep(d).await;
            sender.send(chat, reply).await.map(|_| ())
        }
        other => other.map(|_| ()),
    }
}
