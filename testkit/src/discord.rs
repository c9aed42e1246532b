//! A fake Discord on 127.0.0.1: the REST API under `/api/v10/` (reached through serenity's
//! `proxy`), a websocket gateway, and builders for interaction payloads shaped like the real ones.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ed25519_dalek::{Signer, SigningKey};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub const APP_ID: &str = "775799577604522054";
pub const BOT_USER_ID: &str = "775799577604522054";
pub const GUILD_ID: &str = "290926798626357999";
pub const CHANNEL_ID: &str = "645027906669510667";
pub const USER_ID: &str = "53908232506183680";
pub const TOKEN: &str = "MTA-fake.discord-token_x";

/// VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS.
pub const BOT_CAN_POST: &str = "19456";
/// VIEW_CHANNEL | SEND_MESSAGES | MANAGE_CHANNELS.
pub const MEMBER_MANAGES: &str = "3088";
/// VIEW_CHANNEL | SEND_MESSAGES.
pub const MEMBER_PLAIN: &str = "3072";

/// The application's signing key (fixed, so tests are reproducible).
pub fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

/// Some other key.
pub fn wrong_key() -> SigningKey {
    SigningKey::from_bytes(&[9u8; 32])
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The public key as `discord.public_key` takes it.
pub fn public_key_hex() -> String {
    hex(signing_key().verifying_key().as_bytes())
}

/// `X-Signature-Ed25519` for a body sent at `timestamp`.
pub fn sign(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
    let mut msg = timestamp.as_bytes().to_vec();
    msg.extend_from_slice(body);
    hex(&key.sign(&msg).to_bytes())
}

/// One request the fake REST API received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub auth: String,
    pub body: Value,
    pub at: Instant,
}

/// A scripted answer to `POST /channels/{id}/messages`.
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Recorded>>,
    scripted: Mutex<VecDeque<Scripted>>,
    ws_url: Mutex<String>,
    next_id: Mutex<u64>,
    /// Messages created, by nonce, for `enforce_nonce` (Discord returns the first message
    /// instead of posting a second).
    by_nonce: Mutex<HashMap<String, Value>>,
    /// Messages actually created (not deduplicated), by channel.
    created: Mutex<Vec<String>>,
    /// The `shard` of every gateway IDENTIFY: `[id, total]`.
    identified_shards: Mutex<Vec<(u64, u64)>>,
    /// Keep no requests (a benchmark's memory is podbrief's, not the fake's).
    lean: std::sync::atomic::AtomicBool,
    /// Discord's limits on message posts, when enforced.
    limits: Mutex<Option<Limits>>,
    /// Statuses the next interaction follow-up posts are answered with (then they succeed).
    followup_failures: Mutex<VecDeque<u16>>,
}

/// Discord's limit shape: requests per second overall, and a bucket per channel route.
struct Limits {
    per_second: usize,
    per_channel: (usize, Duration),
    global: VecDeque<Instant>,
    channels: HashMap<String, VecDeque<Instant>>,
    /// Posts refused with a 429: (global, per channel).
    violations: (usize, usize),
}

impl Limits {
    /// Admits a post to `channel` now, or says why not: `Err((global, retry after))`. An
    /// admitted post's answer carries the route bucket's remaining count and reset.
    fn admit(&mut self, channel: &str) -> Result<(usize, f64), (bool, f64)> {
        let now = Instant::now();
        let second = Duration::from_secs(1);
        while self.global.front().is_some_and(|t| now - *t >= second) {
            self.global.pop_front();
        }
        let (count, per) = self.per_channel;
        let w = self.channels.entry(channel.to_string()).or_default();
        while w.front().is_some_and(|t| now - *t >= per) {
            w.pop_front();
        }
        if self.global.len() >= self.per_second {
            self.violations.0 += 1;
            let after = second - (now - self.global[0]);
            return Err((true, after.as_secs_f64()));
        }
        if w.len() >= count {
            self.violations.1 += 1;
            return Err((false, (per - (now - w[0])).as_secs_f64()));
        }
        w.push_back(now);
        self.global.push_back(now);
        let reset = per - (now - w[0]);
        Ok((count - w.len(), reset.as_secs_f64()))
    }
}

/// The fake: REST plus gateway.
#[derive(Clone)]
pub struct FakeDiscord {
    /// `discord.proxy`.
    pub base: String,
    state: Arc<State>,
    events: mpsc::UnboundedSender<(String, Value)>,
    identified: watch::Receiver<bool>,
}

fn message_json(id: u64, channel: &str, body: &Value) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel,
        "author": {"id": BOT_USER_ID, "username": "podbrief", "discriminator": "0000",
                   "avatar": null, "bot": true, "public_flags": 0},
        "content": body.get("content").cloned().unwrap_or(json!("")),
        "timestamp": "2026-11-27T06:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": 0,
        "flags": 0
    })
}

async fn rest(
    axum::extract::State(st): axum::extract::State<Arc<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_start_matches("/api/v10").to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let lean = st.lean.load(std::sync::atomic::Ordering::Relaxed);
    st.requests.lock().unwrap().extend((!lean).then(|| {
        Recorded {
            method: method.to_string(),
            path: path.clone(),
            auth: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
            body: body.clone(),
            at: Instant::now(),
        }
    }));
    let id = {
        let mut n = st.next_id.lock().unwrap();
        *n += 1;
        900_000_000_000_000_000 + *n
    };
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bot {TOKEN}")) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "401: Unauthorized", "code": 0})),
        )
            .into_response();
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["oauth2", "applications", "@me"]) => axum::Json(json!({
            "id": APP_ID, "name": "podbrief", "icon": null, "description": "",
            "bot_public": true, "bot_require_code_grant": false,
            "verify_key": public_key_hex(), "team": null, "flags": 0,
            "owner": {"id": USER_ID, "username": "owner", "discriminator": "0000", "avatar": null}
        }))
        .into_response(),
        ("GET", ["gateway"]) | ("GET", ["gateway", "bot"]) => {
            let url = st.ws_url.lock().unwrap().clone();
            axum::Json(json!({"url": url, "shards": 1, "session_start_limit":
                {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}}))
            .into_response()
        }
        ("PUT", ["applications", _, "commands"])
        | ("PUT", ["applications", _, "guilds", _, "commands"]) => {
            axum::Json(json!([])).into_response()
        }
        ("POST", ["interactions", _, _, "callback"]) => StatusCode::NO_CONTENT.into_response(),
        ("POST", ["webhooks", _, _]) if st.followup_failures.lock().unwrap().front().is_some() => {
            let status = st.followup_failures.lock().unwrap().pop_front().unwrap();
            let body = json!({"message": "scripted failure", "code": 0});
            (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
        }
        ("PATCH", ["webhooks", _, _, "messages", "@original"])
        | ("GET", ["webhooks", _, _, "messages", "@original"])
        | ("POST", ["webhooks", _, _]) => {
            axum::Json(message_json(id, CHANNEL_ID, &body)).into_response()
        }
        ("POST", ["channels", channel, "messages"]) => {
            let scripted = st.scripted.lock().unwrap().pop_front();
            match scripted {
                Some(s) => {
                    let mut r = (StatusCode::from_u16(s.status).unwrap(), axum::Json(s.body))
                        .into_response();
                    for (k, v) in s.headers {
                        r.headers_mut().insert(k, v.parse().unwrap());
                    }
                    r
                }
                None => {
                    let admitted = st.limits.lock().unwrap().as_mut().map(|l| l.admit(channel));
                    let (remaining, reset_after) = match admitted {
                        None => (4, 1.0),
                        Some(Ok(bucket)) => bucket,
                        Some(Err((global, after))) => {
                            let mut r = (
                                StatusCode::TOO_MANY_REQUESTS,
                                axum::Json(json!({
                                    "message": "You are being rate limited.",
                                    "retry_after": after,
                                    "global": global
                                })),
                            )
                                .into_response();
                            let h = r.headers_mut();
                            h.insert("retry-after", format!("{}", after.ceil()).parse().unwrap());
                            if global {
                                h.insert("x-ratelimit-global", "true".parse().unwrap());
                            } else {
                                h.insert("x-ratelimit-remaining", "0".parse().unwrap());
                                h.insert(
                                    "x-ratelimit-reset-after",
                                    format!("{after:.3}").parse().unwrap(),
                                );
                            }
                            return r;
                        }
                    };
                    let nonce = body["nonce"]
                        .as_str()
                        .filter(|_| body["enforce_nonce"] == true);
                    let message = match nonce {
                        Some(n) => {
                            let mut seen = st.by_nonce.lock().unwrap();
                            if let Some(first) = seen.get(n) {
                                first.clone()
                            } else {
                                let m = message_json(id, channel, &body);
                                seen.insert(n.to_string(), m.clone());
                                st.created.lock().unwrap().push(channel.to_string());
                                m
                            }
                        }
                        None => {
                            st.created.lock().unwrap().push(channel.to_string());
                            message_json(id, channel, &body)
                        }
                    };
                    let mut r = axum::Json(message).into_response();
                    r.headers_mut().insert(
                        "x-ratelimit-remaining",
                        remaining.to_string().parse().unwrap(),
                    );
                    r.headers_mut().insert(
                        "x-ratelimit-reset-after",
                        format!("{reset_after:.3}").parse().unwrap(),
                    );
                    r
                }
            }
        }
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": 0, "message": "404: Not Found"})),
        )
            .into_response(),
    }
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        let state = Arc::new(State::default());
        let app = Router::new().fallback(rest).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws_addr = ws.local_addr().unwrap();
        *state.ws_url.lock().unwrap() = format!("ws://{ws_addr}");
        let (tx, rx) = mpsc::unbounded_channel();
        let (identified_tx, identified) = watch::channel(false);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let identified_tx = Arc::new(identified_tx);
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = ws.accept().await {
                let rx = rx.clone();
                let identified_tx = identified_tx.clone();
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = gateway_session(stream, rx, identified_tx, ws_addr, st).await;
                });
            }
        });
        FakeDiscord {
            base: format!("http://{addr}"),
            state,
            events: tx,
            identified,
        }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Requests whose method and path match.
    pub fn matching(&self, method: &str, path_contains: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.contains(path_contains))
            .collect()
    }

    /// Waits (bounded) until at least `n` requests match.
    pub async fn wait_for(&self, method: &str, path_contains: &str, n: usize) -> Vec<Recorded> {
        for _ in 0..1000 {
            let got = self.matching(method, path_contains);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "the fake Discord never got {n} × {method} {path_contains}; it got: {:#?}",
            self.requests()
                .iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect::<Vec<_>>()
        );
    }

    /// The channels of the messages actually created, in order: a resend with a known nonce
    /// (`enforce_nonce`) creates none, as on Discord.
    pub fn created(&self) -> Vec<String> {
        self.state.created.lock().unwrap().clone()
    }

    /// How many messages were actually created (cheap: no copy of the requests).
    #[allow(dead_code)] // used by benches/fanout.rs
    pub fn created_count(&self) -> usize {
        self.state.created.lock().unwrap().len()
    }

    /// Stops keeping requests (only created messages are counted), so a long benchmark run does
    /// not measure the fake's memory.
    #[allow(dead_code)] // used by benches/fanout.rs
    pub fn lean(&self) {
        self.state
            .lean
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Forgets the nonces seen, as if the messages were old: a new database numbers its
    /// deliveries (and so its nonces) from 1 again.
    #[allow(dead_code)] // used by benches/fanout.rs
    pub fn forget_nonces(&self) {
        self.state.by_nonce.lock().unwrap().clear();
    }

    /// Enforces Discord's limit shape on message posts: `per_second` overall, and `count` per
    /// `per` for each channel's route (answered in `X-RateLimit-*` headers); a post over either
    /// gets a 429 and counts as a violation.
    #[allow(dead_code)] // used by the delivery tests
    pub fn enforce_limits(&self, per_second: usize, count: usize, per: Duration) {
        *self.state.limits.lock().unwrap() = Some(Limits {
            per_second,
            per_channel: (count, per),
            global: VecDeque::new(),
            channels: HashMap::new(),
            violations: (0, 0),
        });
    }

    /// Posts refused for breaking the limits: (global, per channel).
    #[allow(dead_code)] // used by the delivery tests
    pub fn violations(&self) -> (usize, usize) {
        self.state
            .limits
            .lock()
            .unwrap()
            .as_ref()
            .map_or((0, 0), |l| l.violations)
    }

    /// Answers the next `POST /channels/{id}/messages` with this.
    /// The next interaction follow-up posts are answered with these statuses, in turn.
    pub fn fail_next_followups(&self, statuses: &[u16]) {
        self.state
            .followup_failures
            .lock()
            .unwrap()
            .extend(statuses.iter().copied());
    }

    pub fn script(&self, s: Scripted) {
        self.state.scripted.lock().unwrap().push_back(s);
    }

    /// Waits (bounded) until a bot has identified on the gateway.
    pub async fn wait_identified(&self) {
        let mut rx = self.identified.clone();
        tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|v| *v))
            .await
            .expect("the bot never identified on the fake gateway")
            .unwrap();
    }

    /// The shards identified so far, as `(id, total)`.
    pub fn identified_shards(&self) -> Vec<(u64, u64)> {
        self.state.identified_shards.lock().unwrap().clone()
    }

    /// Dispatches a gateway event to the connected bot.
    pub fn dispatch(&self, event: &str, data: Value) {
        self.events.send((event.to_string(), data)).unwrap();
    }
}

async fn gateway_session(
    stream: tokio::net::TcpStream,
    rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value)>>>,
    identified: Arc<watch::Sender<bool>>,
    addr: std::net::SocketAddr,
    state: Arc<State>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    let send = |v: Value| WsMessage::Text(v.to_string());
    ws.send(send(
        json!({"op": 10, "s": null, "t": null, "d": {"heartbeat_interval": 45000}}),
    ))
    .await?;
    // Dispatched events go to the first session that takes them (one bot process at a time);
    // other sessions (more shards) get none.
    let mut events = rx.try_lock_owned().ok();
    let mut seq = 0u64;
    loop {
        tokio::select! {
            msg = ws.next() => {
                let Some(Ok(msg)) = msg else { break };
                let WsMessage::Text(text) = msg else { continue };
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match v["op"].as_u64() {
                    Some(2) => {
                        let shard = &v["d"]["shard"];
                        state.identified_shards.lock().unwrap().push((
                            shard[0].as_u64().unwrap_or(0),
                            shard[1].as_u64().unwrap_or(1),
                        ));
                        seq += 1;
                        ws.send(send(json!({"op": 0, "s": seq, "t": "READY", "d": {
                            "v": 10,
                            "user": {"id": BOT_USER_ID, "username": "podbrief", "discriminator": "0000",
                                     "avatar": null, "bot": true, "flags": 0},
                            "guilds": [{"id": GUILD_ID, "unavailable": true}],
                            "session_id": "fake-session",
                            "resume_gateway_url": format!("ws://{addr}"),
                            "application": {"id": APP_ID, "flags": 0}
                        }}))).await?;
                        identified.send_replace(true);
                    }
                    Some(1) => ws.send(send(json!({"op": 11, "s": null, "t": null, "d": null}))).await?,
                    _ => {}
                }
            }
            ev = async {
                match events.as_mut() {
                    Some(e) => e.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                let Some((t, d)) = ev else { break };
                seq += 1;
                ws.send(send(json!({"op": 0, "s": seq, "t": t, "d": d}))).await?;
            }
        }
    }
    Ok(())
}

fn user() -> Value {
    json!({"id": USER_ID, "username": "mason", "discriminator": "0", "global_name": "Mason",
           "avatar": null, "public_flags": 0})
}

fn base(id: u64, kind: u8, member_perms: &str, app_perms: &str) -> Value {
    json!({
        "id": id.to_string(),
        "application_id": APP_ID,
        "type": kind,
        "token": format!("interaction-token-{id}"),
        "version": 1,
        "guild_id": GUILD_ID,
        "channel_id": CHANNEL_ID,
        "channel": {"id": CHANNEL_ID, "type": 0, "name": "general", "permissions": app_perms},
        "member": {
            "user": user(), "roles": [], "premium_since": null, "permissions": member_perms,
            "pending": false, "nick": null, "mute": false, "deaf": false, "flags": 0,
            "joined_at": "2017-03-13T19:19:14.040000+00:00"
        },
        "app_permissions": app_perms,
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": 10485760
    })
}

/// A slash command (type 2) with options such as `[{"type": 3, "name": "query", "value": "x"}]`.
pub fn slash(id: u64, name: &str, options: Value, member_perms: &str, app_perms: &str) -> Value {
    let mut v = base(id, 2, member_perms, app_perms);
    v["data"] = json!({"id": "771825006014889984", "name": name, "type": 1, "options": options});
    v
}

/// An autocomplete request (type 4) with `option` focused and holding `typed`.
pub fn autocomplete(id: u64, command: &str, option: &str, typed: &str) -> Value {
    let mut v = base(id, 4, MEMBER_MANAGES, BOT_CAN_POST);
    v["data"] = json!({"id": "771825006014889984", "name": command, "type": 1, "options": [
        {"type": 3, "name": option, "value": typed, "focused": true}
    ]});
    v
}

/// A button click (type 3) on a message.
pub fn button(id: u64, custom_id: &str) -> Value {
    let mut v = base(id, 3, MEMBER_PLAIN, BOT_CAN_POST);
    v["data"] = json!({"custom_id": custom_id, "component_type": 2});
    v["message"] = message_json(1, CHANNEL_ID, &json!({"content": "Top insights"}));
    v
}

/// A PING, as Discord sends when the endpoint URL is saved.
pub fn ping() -> Value {
    json!({"id": "795459528803745843", "application_id": APP_ID, "token": "ping-token",
           "type": 1, "version": 1})
}

/// The `[discord]` (and `[http]`) config of a test app talking to `fake`.
pub fn config(fake: &FakeDiscord, mode: &str) -> String {
    let mut s = format!(
        "[discord]\nenabled = true\nmode = \"{mode}\"\nproxy = \"{}\"\nguilds = [\"{GUILD_ID}\"]\npublic_key = \"{}\"\n",
        fake.base,
        public_key_hex()
    );
    if mode == "interactions" {
        s.push_str("[http]\nlisten = \"127.0.0.1:0\"\n");
    }
    s
}

/// Posts an interaction to podbrief's endpoint, signed with `key` (or unsigned) now.
pub async fn post_interaction(
    addr: std::net::SocketAddr,
    body: &[u8],
    key: Option<&SigningKey>,
) -> (u16, Value) {
    let now = chrono::Utc::now().timestamp();
    post_interaction_signed_at(addr, body, key, now).await
}

/// Like [`post_interaction`], signed at `ts` (Unix seconds).
pub async fn post_interaction_signed_at(
    addr: std::net::SocketAddr,
    body: &[u8],
    key: Option<&SigningKey>,
    ts: i64,
) -> (u16, Value) {
    let ts = ts.to_string();
    let ts = ts.as_str();
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}/discord/interactions"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(k) = key {
        req = req
            .header("x-signature-ed25519", sign(k, ts, body))
            .header("x-signature-timestamp", ts);
    }
    let resp = req.send().await.expect("podbrief's endpoint answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
