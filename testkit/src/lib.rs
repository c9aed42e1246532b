//! The outside parties of podbrief's tests and benchmarks, as fake servers on 127.0.0.1 that
//! podbrief's real clients talk to: Telegram's Bot API ([`telegram`]), Discord's REST API,
//! gateway and signed interactions ([`discord`]), an OpenAI-compatible chat endpoint ([`llm`]), and a fresh PostgreSQL database per test or
//! benchmark run ([`pg`]). Only the test binary and the benchmarks depend on it.

pub mod discord;
pub mod llm;
pub mod pg;
pub mod telegram;

use std::time::Duration;

/// Waits until `check` holds; fails (naming `what`) if it never does within a minute.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..6000 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never: {what}");
}
