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
    /// Calls by method, counted as they arrive (so counting costs nothing while a fan-out runs).
    counts: HashMap<String, usize>,
    /// Status of a user in a chat: "creator", "administrator", "member".
    members: HashMap<(i64, i64), Value>,
    /// Scripted answers for sendMessage, used before normal answers.
    send_failures: VecDeque<(u16, Value)>,
    /// Chats whose every send fails with 400.
    broken_chats: Vec<i64>,
    next_message_id: i64,
    /// Limits the fake enforces (overall per second, per chat per second), like Telegram.
    limits: Option<(usize, usize)>,
    recent: VecDeque<std::time::Instant>,
    recent_by_chat: HashMap<i64, VecDeque<std::time::Instant>>,
    /// Sends a group (negative chat id) may receive per minute, like Telegram's 20.
    group_per_minute: Option<usize>,
    recent_by_group: HashMap<i64, VecDeque<std::time::Instant>>,
    /// Sends refused with 429 because they broke the limits.
    pub violations: usize,
    /// The same, by the limit broken: overall, per chat, per group.
    violations_by_limit: [usize; 3],
    /// When a sendMessage was answered 429.
    limited_at: Vec<std::time::Instant>,
    /// How long each sendMessage takes to answer.
    send_delay: Duration,
    /// How long getChatMember takes to answer, by chat.
    member_delay: HashMap<i64, Duration>,
    /// Keep only counts and times, not parameters (for benchmarks).
    lean: bool,
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
    {
        let mut inner = fake.inner.lock().unwrap();
        let kept = if inner.lean {
            Value::Null
        } else {
            params.clone()
        };
        inner
            .calls
            .push((method.clone(), kept, std::time::Instant::now()));
        *inner.counts.entry(method.clone()).or_default() += 1;
    }
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
            let delay = fake.inner.lock().unwrap().member_delay.get(&chat).copied();
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let member = fake.inner.lock().unwrap().members.get(&(chat, user)).cloned();
            let user_obj = json!({"id": user, "is_bot": user == BOT_ID, "first_name": "Someone"});
            ok(member.map(|mut m| {
                m["user"] = user_obj.clone();
                m
            })
            .unwrap_or(json!({"status": "member", "user": user_obj})))
        }
        "sendmessage" => {
            let delay = fake.inner.lock().unwrap().send_delay;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut inner = fake.inner.lock().unwrap();
            let chat_id = params["chat_id"].as_i64().unwrap_or(0);
            if let Some((overall, per_chat)) = inner.limits {
                let now = std::time::Instant::now();
                let second = Duration::from_secs(1);
                inner.recent.retain(|t| now.duration_since(*t) < second);
                let chat_recent = inner.recent_by_chat.entry(chat_id).or_default();
                chat_recent.retain(|t| now.duration_since(*t) < second);
                let chat_count = chat_recent.len();
                // The per-chat window keeps a minute for groups, for the per-group limit.
                let group_full = chat_id < 0
                    && inner.group_per_minute.is_some_and(|g| {
                        let w = inner.recent_by_group.entry(chat_id).or_default();
                        w.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
                        w.len() >= g
                    });
                let broken = [inner.recent.len() >= overall, chat_count >= per_chat, group_full];
                if broken.iter().any(|b| *b) {
                    inner.violations += 1;
                    for (n, b) in inner.violations_by_limit.iter_mut().zip(broken) {
                        *n += usize::from(b);
                    }
                    let body = json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}});
                    return (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
                }
                inner.recent.push_back(now);
                inner.recent_by_chat.entry(chat_id).or_default().push_back(now);
                if chat_id < 0 {
                    inner.recent_by_group.entry(chat_id).or_default().push_back(now);
                }
            }
            if inner.broken_chats.contains(&chat_id) {
                let body = json!({"ok": false, "error_code": 400, "description": "Bad Request: can't parse entities"});
                return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
            }
            if let Some((status, body)) = inner.send_failures.pop_front() {
                if status == 429 {
                    inner.limited_at.push(std::time::Instant::now());
                }
                return (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
            }
            inner.next_message_id += 1;
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

    /// Waits until every update pushed so far is handled: the bot confirms an update (a
    /// `getUpdates` offset past it) only once it has answered it.
    pub async fn wait_handled(&self) {
        let last = 1000 + self.inner.lock().unwrap().next_update_id;
        crate::wait_until("every pushed update handled and confirmed", || async move {
            self.confirmed_offset() > last
        })
        .await;
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

    /// Makes the fake enforce Telegram-shaped limits (per second overall and per chat),
    /// answering 429 to any send beyond them and counting it.
    pub fn enforce_limits(&self, overall: usize, per_chat: usize) {
        self.inner.lock().unwrap().limits = Some((overall, per_chat));
    }

    /// Also enforces a per-group limit: sends to one group (negative chat id) per minute.
    pub fn enforce_group_limit(&self, per_minute: usize) {
        self.inner.lock().unwrap().group_per_minute = Some(per_minute);
    }

    /// Sends refused, by the limit they broke: (overall, per chat, per group).
    #[allow(dead_code)] // used by benches/fanout.rs
    pub fn violations_by_limit(&self) -> (usize, usize, usize) {
        let [a, b, c] = self.inner.lock().unwrap().violations_by_limit;
        (a, b, c)
    }

    /// Sends refused for breaking the limits.
    pub fn violations(&self) -> usize {
        self.inner.lock().unwrap().violations
    }

    /// Stops keeping call parameters (only counts and times), so a long benchmark run does not
    /// measure the fake's memory.
    #[allow(dead_code)] // used by benches/fanout.rs
    pub fn lean(&self) {
        self.inner.lock().unwrap().lean = true;
    }

    /// Every sendMessage takes this long to answer (a slow network).
    pub fn slow_sends(&self, delay: Duration) {
        self.inner.lock().unwrap().send_delay = delay;
    }

    /// getChatMember in `chat` takes this long to answer (a slow admin check).
    pub fn slow_member_lookups(&self, chat: i64, delay: Duration) {
        self.inner.lock().unwrap().member_delay.insert(chat, delay);
    }

    /// The `offset` of the last getUpdates call: every update below it is confirmed.
    pub fn confirmed_offset(&self) -> i64 {
        self.calls("getupdates")
            .last()
            .and_then(|p| p["offset"].as_i64())
            .unwrap_or(0)
    }

    /// When sends were answered with a scripted 429.
    pub fn limited_at(&self) -> Vec<std::time::Instant> {
        self.inner.lock().unwrap().limited_at.clone()
    }

    /// Every send to `chat` fails with a 400 from now on.
    pub fn break_chat(&self, chat: i64) {
        self.inner.lock().unwrap().broken_chats.push(chat);
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

    /// How many times `method` was called (cheap; for waiting).
    pub fn count(&self, method: &str) -> usize {
        self.inner
            .lock()
            .unwrap()
            .counts
            .get(method)
            .copied()
            .unwrap_or(0)
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
            if self.count(method) >= n {
                return self.calls(method);
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
