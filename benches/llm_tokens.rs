//! Tokens the LLM engine sends per hour of audio, whole-transcript mode beside the two-stage mode,
//! over a folder of real transcripts, with the fake OpenAI-compatible endpoint of the tests
//! counting them (a token per 4 characters of the messages, OpenAI's rule of thumb for English).
//! The baseline of the same run is the transcripts' own size in tokens.
//!
//! `cargo bench --bench llm_tokens` reads `../shared/data/transcripts`;
//! `PODBRIEF_BENCH_TRANSCRIPTS=DIR` reads another folder. Settings are the defaults of `[llm]`
//! (`chunk_chars` 24,000, `candidates` 24) and `extract.max_per_episode` (40).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use podbrief::core::clock::SystemClock;
use podbrief::extract::eval::{hours, transcripts};
use podbrief::extract::llm::{LlmEngine, LlmSettings, Mode};
use podbrief::extract::{ExtractiveEngine, Extractor};

#[path = "../tests/it/support/llm.rs"]
mod fake;

fn settings(url: &str, mode: Mode) -> LlmSettings {
    LlmSettings {
        base_url: url.into(),
        model: "test-model".into(),
        api_key: None,
        timeout: Duration::from_secs(30),
        max_retries: 0,
        daily_token_budget: 0,
        chunk_chars: 24_000,
        per_episode: podbrief::extract::extractive::DEFAULT_MAX_PER_EPISODE,
        backoff: Duration::from_millis(10),
        mode,
        candidates: 24,
    }
}

/// Tokens sent for one episode in `mode`, and the requests it took.
async fn tokens(
    fake: &fake::FakeLlm,
    mode: Mode,
    ep: &podbrief::extract::EpisodeText,
) -> (u64, usize) {
    let engine = LlmEngine::new(
        settings(&fake.url, mode),
        ExtractiveEngine::default(),
        Arc::new(SystemClock),
    )
    .expect("engine");
    let (before, reqs) = (fake.tokens_sent(), fake.requests().len());
    let _ = engine.extract(ep).await;
    (fake.tokens_sent() - before, fake.requests().len() - reqs)
}

#[tokio::main]
async fn main() {
    let dir = std::env::var_os("PODBRIEF_BENCH_TRANSCRIPTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/transcripts")
        });
    let episodes = transcripts(&dir).expect("the transcripts folder");
    let fake = fake::FakeLlm::start().await;
    println!("{} transcripts under {}", episodes.len(), dir.display());
    println!(
        "| episode | minutes | transcript tokens | whole: tokens (requests) | two-stage: tokens |"
    );
    println!("|---|---|---|---|---|");
    let (mut total_h, mut total_t, mut total_w, mut total_s, mut max_s) =
        (0.0, 0u64, 0u64, 0u64, 0u64);
    let started = Instant::now();
    for (_, name, ep) in &episodes {
        let h = hours(&ep.segments);
        if h < 0.05 {
            continue;
        }
        let chars: usize = ep.segments.iter().map(|s| s.text.len() + 1).sum();
        let t = (chars / 4) as u64;
        let (w, wn) = tokens(&fake, Mode::Whole, ep).await;
        let (s, _) = tokens(&fake, Mode::TwoStage, ep).await;
        println!("| {name} | {:.0} | {t} | {w} ({wn}) | {s} |", h * 60.0);
        total_h += h;
        total_t += t;
        total_w += w;
        total_s += s;
        max_s = max_s.max(s);
    }
    let per = |n: u64| (n as f64 / total_h).round();
    println!();
    println!(
        "{total_h:.1} hours of audio in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "baseline: the transcripts themselves: {} tokens per hour",
        per(total_t)
    );
    println!(
        "whole-transcript mode: {} tokens sent per hour",
        per(total_w)
    );
    println!(
        "two-stage mode: {} tokens sent per hour ({:.2}× whole), at most {max_s} for any episode",
        per(total_s),
        total_s as f64 / total_w.max(1) as f64
    );
}
