//! A fake `/v1/embeddings` on 127.0.0.1: each text becomes [sea words, bread words, 0.1], so
//! "marine" text lands near the sea insights even when no word is shared. It can be taken down
//! (503s) or slowed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

#[derive(Default)]
struct Switches {
    down: AtomicBool,
    delay_ms: AtomicU64,
}

/// The fake embeddings endpoint.
pub struct FakeEmbeddings {
    /// Its base URL (`…/v1`), for `embeddings.base_url`.
    pub url: String,
    switches: Arc<Switches>,
}

impl FakeEmbeddings {
    pub async fn start() -> FakeEmbeddings {
        async fn embed(
            State(switches): State<Arc<Switches>>,
            Json(body): Json<serde_json::Value>,
        ) -> (StatusCode, Json<serde_json::Value>) {
            let delay = switches.delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            if switches.down.load(Ordering::SeqCst) {
                return (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({})));
            }
            let sea = [
                "tidal", "lagoons", "wave", "buoys", "orkney", "marine", "sea", "swell",
            ];
            let bread = ["sourdough", "flour", "bread", "starters"];
            let inputs = body["input"].as_array().cloned().unwrap_or_default();
            let data: Vec<serde_json::Value> = inputs
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let t = t.as_str().unwrap_or("").to_lowercase();
                    let count = |ws: &[&str]| ws.iter().filter(|w| t.contains(*w)).count() as f32;
                    serde_json::json!({"index": i, "embedding": [count(&sea), count(&bread), 0.1]})
                })
                .collect();
            (StatusCode::OK, Json(serde_json::json!({ "data": data })))
        }
        let switches = Arc::new(Switches::default());
        let app = axum::Router::new()
            .route("/v1/embeddings", axum::routing::post(embed))
            .with_state(switches.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeEmbeddings {
            url: format!("http://{addr}/v1"),
            switches,
        }
    }

    /// Answers 503 from now on (or again normally).
    pub fn down(&self, down: bool) {
        self.switches.down.store(down, Ordering::SeqCst);
    }

    /// Waits this long before each answer from now on.
    pub fn slow(&self, delay: Duration) {
        self.switches
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// The `[embeddings]` config of a test app using this endpoint.
    pub fn config(&self) -> String {
        format!(
            "[embeddings]\nbase_url = \"{}\"\nmodel = \"fake\"\n",
            self.url
        )
    }
}
