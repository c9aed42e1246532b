//! A fake Telegram Bot API on 127.0.0.1 that teloxide talks to (via `telegram.api_url`). Its
//! updates and answers follow the real Bot API's shapes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// A realistic-looking token (the shape of real ones), to check it never leaks.
pub const TOKEN: &str = "7012345678:AAH4kQ9zT3xVw8yUb2nR5mLp0JdFsGcXeIo";
/// The fake bot's username.
pub const BOT_USERNAME: &str = "podbrief_bot";
/// The fake bot's user id.
pub const BOT_ID: i64 = 7012345678;

#[derive(Default)]
struct Inner {
    updates: Vec<Value>,
    next_update_id: i64,
    calls: Vec<(String, Value, std::time::Instant)>,
    /// Status of a user in a chat: "creator", "administrator", "member".
    members: HashMap<(i64, i64), Value>,
    /// Scripted answers for sendMessage, used before normal answers.
    send_failures: VecDeque<(u16, Value)>,
    next_message_id: i64,
}

/// The fake's shared state.
#[derive(Clone, Default)]
pub struct FakeTelegram {
    inner: Arc<Mutex<Inner>>,
    arrived: Arc<Notify>,
    pub base: String,
}

fn ok(result: Value) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"ok": true, "result": result})),
    )
        .into_response()
}

async fn handle(
    State(fake): State<FakeTelegram>,
    Path((bot, method)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if bot != format!("bot{TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        )
            .into_response();
    }
    let params: Value = serde_json::from_slice(&body).unwrap_or_else(|_| multipart_fields(&body));
    let method = method.to_ascii_lowercase();
    fake.inner.lock().unwrap().calls.push((
        method.clone(),
        params.clone(),
        std::time::Instant::now(),
    ));
    fake.arrived.notify_waiters();
    match method.as_str() {
        "getme" => ok(json!({"id": BOT_ID, "is_bot": true, "first_name": "podbrief", "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false})),
        "setmycommands" | "answercallbackquery" | "setwebhook" | "deletewebhook" => ok(json!(true)),
        "getupdates" => {
            let offset = params["offset"].as_i64().unwrap_or(0);
            for _ in 0..2 {
                let pending: Vec<Value> = {
                    let mut inner = fake.inner.lock().unwrap();
                    inner.updates.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
                    inner.updates.clone()
                };
                if !pending.is_empty() {
                    return ok(Value::Array(pending));
                }
                // Long polling: hold the request briefly until an update arrives.
                let _ = tokio::time::timeout(Duration::from_millis(200), fake.arrived.notified()).await;
            }
            ok(json!([]))
        }
        "getchatmember" => {
            let chat = params["chat_id"].as_i64().unwrap_or(0);
            let user = params["user_id"].as_i64().unwrap_or(0);
            let member = fake.inner.lock().unwrap().members.get(&(chat, user)).cloned();
            let user_obj = json!({"id": user, "is_bot": user == BOT_ID, "first_name": "Someone"});
            ok(member.map(|mut m| {
                m["user"] = user_obj.clone();
                m
            })
            .unwrap_or(json!({"status": "member", "user": user_obj})))
        }
        "sendmessage" => {
            let mut inner = fake.inner.lock().unwrap();
            if let Some((status, body)) = inner.send_failures.pop_front() {
                return (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
            }
            inner.next_message_id += 1;
            let chat_id = params["chat_id"].as_i64().unwrap_or(0);
            let chat = if chat_id < 0 {
                json!({"id": chat_id, "type": "supergroup", "title": "A group"})
            } else {
                json!({"id": chat_id, "type": "private", "first_name": "Someone"})
            };
            ok(json!({"message_id": inner.next_message_id, "date": 1_700_000_000, "chat": chat,
                "from": {"id": BOT_ID, "is_bot": true, "first_name": "podbrief", "username": BOT_USERNAME},
                "text": params["text"].clone()}))
        }
        _ => (StatusCode::NOT_FOUND, axum::Json(json!({"ok": false, "error_code": 404, "description": "Not Found: method not found"}))).into_response(),
    }
}

/// The text fields of a multipart/form-data body (teloxide sends setWebhook that way).
fn multipart_fields(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut out = serde_json::Map::new();
    for part in text
        .split("Content-Disposition: form-data; name=\"")
        .skip(1)
    {
        let Some((name, rest)) = part.split_once('"') else {
            continue;
        };
        let Some((_, value)) = rest.split_once("\r\n\r\n") else {
            continue;
        };
        let value = value.split("\r\n--").next().unwrap_or("").to_string();
        out.insert(
            name.to_string(),
            Value::String(value.trim_matches('"').to_string()),
        );
    }
    Value::Object(out)
}

impl FakeTelegram {
    /// Starts the fake on 127.0.0.1.
    pub async fn start() -> FakeTelegram {
        let mut fake = FakeTelegram::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        fake.base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/{bot}/{method}", axum::routing::post(handle))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// The `[telegram]` config section for this fake.
    pub fn config(&self) -> String {
        format!(
            "[telegram]\nenabled = true\napi_url = \"{}\"\nper_second = 1000\nper_chat_per_second = 100\nper_group_per_minute = 1000\n",
            self.base
        )
    }

    /// Queues an update (its `update_id` is assigned here).
    pub fn push_update(&self, mut update: Value) {
        let mut inner = self.inner.lock().unwrap();
        inner.next_update_id += 1;
        update["update_id"] = json!(1000 + inner.next_update_id);
        inner.updates.push(update);
        drop(inner);
        self.arrived.notify_waiters();
    }

    /// Sets what `getChatMember` answers for a user in a chat.
    pub fn set_member(&self, chat: i64, user: i64, member: Value) {
        self.inner
            .lock()
            .unwrap()
            .members
            .insert((chat, user), member);
    }

    /// The next sendMessage answers with this status and body.
    pub fn fail_next_send(&self, status: u16, body: Value) {
        self.inner
            .lock()
            .unwrap()
            .send_failures
            .push_back((status, body));
    }

    /// Every call of `method` (lowercase), with its parameters.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        self.inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(m, _, _)| m == method)
            .map(|(_, p, _)| p.clone())
            .collect()
    }

    /// When each call of `method` arrived.
    pub fn call_times(&self, method: &str) -> Vec<std::time::Instant> {
        self.inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(m, _, _)| m == method)
            .map(|(_, _, t)| *t)
            .collect()
    }

    /// Waits until `method` has been called `n` times; fails with what was called if it never is.
    pub async fn wait_calls(&self, method: &str, n: usize) -> Vec<Value> {
        for _ in 0..1500 {
            let c = self.calls(method);
            if c.len() >= n {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let all: Vec<String> = self
            .inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .map(|(m, p, _)| format!("{m} {p}"))
            .collect();
        panic!(
            "{method} was never called {n} times; calls:\n{}",
            all.join("\n")
        );
    }
}

/// A user.
pub fn user(id: i64) -> Value {
    json!({"id": id, "is_bot": false, "first_name": "Ada", "username": format!("user{id}"), "language_code": "en"})
}

/// A private chat.
pub fn private_chat(id: i64) -> Value {
    json!({"id": id, "type": "private", "first_name": "Ada", "username": format!("user{id}")})
}

/// A supergroup.
pub fn group_chat(id: i64) -> Value {
    json!({"id": id, "type": "supergroup", "title": "Energy nerds"})
}

/// A channel.
pub fn channel_chat(id: i64) -> Value {
    json!({"id": id, "type": "channel", "title": "Daily insights"})
}

/// A text message update from `from` in `chat`, with a `bot_command` entity when it is a command.
pub fn message(chat: Value, from: Option<i64>, text: &str) -> Value {
    let mut m = json!({"message_id": 10, "date": 1_700_000_000, "chat": chat, "text": text});
    if let Some(f) = from {
        m["from"] = user(f);
    }
    if text.starts_with('/') {
        let len = text
            .split_whitespace()
            .next()
            .unwrap()
            .encode_utf16()
            .count();
        m["entities"] = json!([{"type": "bot_command", "offset": 0, "length": len}]);
    }
    json!({"message": m})
}
