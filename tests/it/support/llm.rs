//! A fake OpenAI-compatible endpoint on 127.0.0.1: `POST /v1/chat/completions` and
//! `GET /v1/models`. It records every request body, answers from a queue of scripted answers
//! (then the default one), and counts the tokens it was sent (a token per 4 characters of the
//! messages' content, the estimate OpenAI documents for English), reporting them in `usage`.
//! Besides well-formed answers it can answer 500, a web page, 20 MB, hang, or refuse a
//! `json_schema` response format with 400, as real endpoints do.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// One answer of the fake.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// A chat completion whose message is this text.
    Reply(String),
    /// This status, with an OpenAI-style error body.
    Status(u16),
    /// A 200 web page (a proxy's login page, a wrong base URL).
    Html,
    /// 200 with 20 MB of a never-ending JSON string.
    Huge,
    /// Never answers.
    Hang,
}

#[derive(Default)]
struct Inner {
    script: Mutex<VecDeque<Behaviour>>,
    default: Mutex<Option<Behaviour>>,
    requests: Mutex<Vec<serde_json::Value>>,
    models: Mutex<Vec<String>>,
    refuse_schema: std::sync::atomic::AtomicBool,
    tokens_sent: AtomicU64,
}

/// The fake endpoint.
#[derive(Clone)]
pub struct FakeLlm {
    /// Its base URL (`…/v1`), for `llm.base_url`.
    pub url: String,
    inner: Arc<Inner>,
}

fn error(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, "{\"error\": {\"message\": \"scripted failure\"}}").into_response()
}

async fn completions(State(s): State<Arc<Inner>>, body: String) -> Response {
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let chars: usize = v["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| m["content"].as_str().map_or(0, str::len))
                .sum()
        })
        .unwrap_or(0);
    let prompt_tokens = (chars / 4) as u64;
    s.tokens_sent.fetch_add(prompt_tokens, Ordering::SeqCst);
    let schema = v["response_format"]["type"] == "json_schema";
    s.requests.lock().unwrap().push(v);
    if schema && s.refuse_schema.load(Ordering::SeqCst) {
        return error(400);
    }
    let next = s.script.lock().unwrap().pop_front();
    let behaviour = next
        .or_else(|| s.default.lock().unwrap().clone())
        .unwrap_or(Behaviour::Reply("{\"insights\": []}".into()));
    match behaviour {
        Behaviour::Reply(content) => {
            let completion_tokens = (content.len() / 4) as u64;
            let answer = serde_json::json!({
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}
            });
            (StatusCode::OK, answer.to_string()).into_response()
        }
        Behaviour::Status(code) => error(code),
        Behaviour::Html => (
            StatusCode::OK,
            [("content-type", "text/html")],
            "<!doctype html><html><body><h1>Sign in</h1></body></html>",
        )
            .into_response(),
        Behaviour::Huge => {
            let chunk = axum::body::Bytes::from(vec![b'a'; 1 << 20]);
            let head = futures::stream::once(async {
                Ok::<_, std::io::Error>(axum::body::Bytes::from_static(
                    b"{\"choices\": [{\"message\": {\"content\": \"",
                ))
            });
            let rest =
                futures::stream::iter((0..20).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
            use futures::StreamExt;
            axum::body::Body::from_stream(head.chain(rest)).into_response()
        }
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            error(504)
        }
    }
}

async fn models(State(s): State<Arc<Inner>>) -> Response {
    let data: Vec<serde_json::Value> = s
        .models
        .lock()
        .unwrap()
        .iter()
        .map(|id| serde_json::json!({"id": id, "object": "model", "owned_by": "fake"}))
        .collect();
    (
        StatusCode::OK,
        serde_json::json!({"object": "list", "data": data}).to_string(),
    )
        .into_response()
}

impl FakeLlm {
    /// Starts the fake; it lists the model `test-model`.
    pub async fn start() -> FakeLlm {
        let inner = Arc::new(Inner::default());
        inner.models.lock().unwrap().push("test-model".into());
        let app = axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(completions))
            .route("/v1/models", axum::routing::get(models))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeLlm {
            url: format!("http://{addr}/v1"),
            inner,
        }
    }

    /// Answers every request without a scripted answer this way.
    pub fn always(&self, b: Behaviour) {
        *self.inner.default.lock().unwrap() = Some(b);
    }

    /// Answers every request with a chat completion of `content`.
    pub fn reply(&self, content: &str) {
        self.always(Behaviour::Reply(content.into()));
    }

    /// Answers the next request this way (before the default).
    pub fn then(&self, b: Behaviour) {
        self.inner.script.lock().unwrap().push_back(b);
    }

    /// Answers 400 to any request asking for a `json_schema` response format.
    pub fn refuse_schema(&self) {
        self.inner.refuse_schema.store(true, Ordering::SeqCst);
    }

    /// The models `GET /v1/models` lists from now on.
    pub fn set_models(&self, ids: &[&str]) {
        *self.inner.models.lock().unwrap() = ids.iter().map(|s| s.to_string()).collect();
    }

    /// Every request body received, in order.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// The user message (the transcript or passages) of request `n`.
    pub fn user_message(&self, n: usize) -> String {
        self.requests()[n]["messages"][1]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Tokens sent in every request so far (a token per 4 characters of content).
    pub fn tokens_sent(&self) -> u64 {
        self.inner.tokens_sent.load(Ordering::SeqCst)
    }

    /// The `[extract]` and `[llm]` config of a test app using this endpoint (`more` is added
    /// to `[llm]`).
    pub fn config(&self, more: &str) -> String {
        format!(
            "[extract]\nengine = \"llm\"\n[llm]\nbase_url = \"{}\"\nmodel = \"test-model\"\n{more}",
            self.url
        )
    }
}
