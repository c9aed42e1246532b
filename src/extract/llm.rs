//! The optional LLM engine: any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama,
//! llama.cpp, vLLM) writes the insights, each with a verbatim quote.
//!
//! - The prompt is `prompts/insights.md`, compiled in so operators can read exactly what is sent.
//! - Long transcripts are cut into chunks of at most `chunk_chars` at turn boundaries; each chunk
//!   is one request.
//! - Every insight must carry a quote found in the transcript after folding case, whitespace
//!   and typographic quotes; one that is not found is dropped, and so is one whose quote lies in a
//!   sponsor read, intro or outro as the extractive engine labels them. The quote's position gives
//!   the insight's start time and speaker.
//! - Requests time out, are retried with backoff on timeouts, connection errors, 429 and 5xx, and
//!   count against a daily token budget kept in memory (it starts again at 0 after a restart and
//!   at each UTC midnight).
//! - On any failure, or when nothing grounded is left, the extractive engine answers instead.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::Deserialize;
use tracing::{debug, info, warn};

use super::clean::clean;
use super::extractive::{ExtractiveEngine, non_talk_sentences};
use super::sentences::turns;
use super::{EpisodeText, ExtractError, Extractor};
use crate::config::Secret;
use crate::core::clock::Clock;
use crate::core::model::NewInsight;
use crate::core::text::{NEAR_DUPLICATE, normalize_topic, similarity};
use crate::ingest::transcript::Segment;

/// The prompt, as operators read it in `prompts/insights.md`.
pub const PROMPT: &str = include_str!("../../prompts/insights.md");

/// How the LLM engine reaches its endpoint.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// The endpoint's base URL, e.g. `http://127.0.0.1:11434/v1` (`/chat/completions` is added).
    pub base_url: String,
    /// The model name.
    pub model: String,
    /// The API key, sent as a bearer token when present.
    pub api_key: Option<Secret>,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Retries after a failed request (timeouts, connection errors, 429, 5xx).
    pub max_retries: u32,
    /// Tokens a UTC day may use (prompt + answer); 0 = no limit.
    pub daily_token_budget: u64,
    /// Largest chunk of transcript sent in one request, in characters.
    pub chunk_chars: usize,
    /// Insights kept per episode.
    pub per_episode: usize,
    /// First retry delay (doubling after each retry).
    pub backoff: Duration,
}

/// Why the LLM could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The request failed (connection, timeout).
    #[error("request failed: {0}")]
    Http(String),
    /// The endpoint answered with an error status.
    #[error("the endpoint answered HTTP {0}")]
    Status(u16),
    /// Today's token budget is spent.
    #[error("the daily token budget ({0} tokens) is spent")]
    Budget(u64),
    /// The answer was not the JSON asked for.
    #[error("unusable answer: {0}")]
    Parse(String),
}

/// The LLM engine, with the extractive engine as its fallback.
pub struct LlmEngine {
    settings: LlmSettings,
    client: reqwest::Client,
    fallback: ExtractiveEngine,
    clock: Arc<dyn Clock>,
    used: Mutex<(Option<NaiveDate>, u64)>,
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    total_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    insights: Vec<Proposed>,
}

#[derive(Deserialize)]
struct Proposed {
    #[serde(default)]
    text: String,
    #[serde(default)]
    quote: String,
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default)]
    score: Option<f64>,
}

impl LlmEngine {
    /// An engine for `settings`, falling back to `fallback`.
    pub fn new(
        settings: LlmSettings,
        fallback: ExtractiveEngine,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LlmError> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| LlmError::Http(e.to_string()))?;
        Ok(LlmEngine {
            settings,
            client,
            fallback,
            clock,
            used: Mutex::new((None, 0)),
        })
    }

    /// Tokens counted against today's budget so far.
    pub fn tokens_used_today(&self) -> u64 {
        let today = self.clock.now().date_naive();
        match self.used.lock() {
            Ok(u) if u.0 == Some(today) => u.1,
            _ => 0,
        }
    }

    /// Reserves `estimate` tokens of today's budget, or says it is spent.
    fn reserve(&self, estimate: u64) -> Result<(), LlmError> {
        let today = self.clock.now().date_naive();
        let mut u = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if u.0 != Some(today) {
            *u = (Some(today), 0);
        }
        let budget = self.settings.daily_token_budget;
        if budget > 0 && u.1 + estimate > budget {
            return Err(LlmError::Budget(budget));
        }
        u.1 += estimate;
        Ok(())
    }

    /// Replaces an estimate with the tokens the endpoint reported.
    fn settle(&self, estimate: u64, actual: u64) {
        let mut u = self.used.lock().unwrap_or_else(|p| p.into_inner());
        u.1 = u.1.saturating_sub(estimate) + actual;
    }

    /// One chat completion, with retries; returns the message content.
    async fn complete(&self, system: &str, user: &str) -> Result<String, LlmError> {
        let url = format!(
            "{}/chat/completions",
            self.settings.base_url.trim_end_matches('/')
        );
        let body = serde_json::json!({
            "model": self.settings.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
        });
        let body = serde_json::to_vec(&body).map_err(|e| LlmError::Parse(e.to_string()))?;
        let estimate = ((system.len() + user.len()) / 4 + 1_000) as u64;
        self.reserve(estimate)?;
        let mut attempt = 0;
        loop {
            let mut req = self
                .client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(key) = &self.settings.api_key {
                req = req.bearer_auth(key.expose());
            }
            let result = match req.send().await {
                Ok(resp) if resp.status().is_success() => match resp.bytes().await {
                    Ok(b) => Ok(b),
                    Err(e) => Err((true, LlmError::Http(e.without_url().to_string()))),
                },
                Ok(resp) => {
                    let s = resp.status();
                    Err((
                        s.as_u16() == 429 || s.is_server_error(),
                        LlmError::Status(s.as_u16()),
                    ))
                }
                Err(e) => Err((true, LlmError::Http(e.without_url().to_string()))),
            };
            match result {
                Ok(bytes) => {
                    let c: Completion = serde_json::from_slice(&bytes)
                        .map_err(|e| LlmError::Parse(format!("not a chat completion: {e}")))?;
                    let actual = c.usage.and_then(|u| u.total_tokens).unwrap_or(estimate);
                    self.settle(estimate, actual);
                    return c
                        .choices
                        .into_iter()
                        .next()
                        .and_then(|c| c.message.content)
                        .ok_or_else(|| LlmError::Parse("no message in the answer".into()));
                }
                Err((retry, e)) if retry && attempt < self.settings.max_retries => {
                    let wait = self.settings.backoff * 2u32.saturating_pow(attempt);
                    debug!(attempt, error = %e, "LLM request failed; retrying");
                    tokio::time::sleep(wait.min(Duration::from_secs(30))).await;
                    attempt += 1;
                }
                Err((_, e)) => return Err(e),
            }
        }
    }

    /// The LLM's grounded insights, best first (may be empty).
    pub async fn extract_llm(&self, episode: &EpisodeText) -> Result<Vec<NewInsight>, LlmError> {
        let system = PROMPT.replace("{max}", &self.settings.per_episode.to_string());
        let grounds = Grounds::new(&episode.segments);
        let excluded: Vec<String> = non_talk_sentences(&episode.segments)
            .iter()
            .map(|s| fold(s))
            .filter(|s| s.len() >= 20)
            .collect();
        let mut out: Vec<NewInsight> = Vec::new();
        for chunk in chunks(&episode.segments, self.settings.chunk_chars) {
            let content = self.complete(&system, &chunk).await?;
            let answer = parse_answer(&content)?;
            for p in answer.insights {
                let text = p.text.trim();
                let quote = p.quote.trim();
                if text.is_empty() || quote.split_whitespace().count() < 3 {
                    continue;
                }
                let folded = fold(quote);
                let Some((start_ms, end_ms, speaker)) = grounds.locate(&folded) else {
                    info!(
                        quote,
                        "LLM insight dropped: its quote is not in the transcript"
                    );
                    continue;
                };
                if excluded
                    .iter()
                    .any(|x| folded.contains(x.as_str()) || x.contains(folded.as_str()))
                {
                    info!(
                        quote,
                        "LLM insight dropped: its quote is in an ad, intro or outro"
                    );
                    continue;
                }
                if out
                    .iter()
                    .any(|o| similarity(&o.text, text) >= NEAR_DUPLICATE)
                {
                    continue;
                }
                let mut topics: Vec<String> = Vec::new();
                for t in p.topics.iter().map(|t| normalize_topic(t)) {
                    if !t.is_empty() && !topics.contains(&t) && topics.len() < 3 {
                        topics.push(t);
                    }
                }
                out.push(NewInsight {
                    text: clean(text),
                    quote: quote.to_string(),
                    start_ms,
                    end_ms,
                    speaker,
                    score: p.score.unwrap_or(0.5).clamp(0.05, 1.0),
                    topics,
                    chapter: None,
                    origin: Origin::llm(PROMPT_VERSION),
                });
            }
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        out.truncate(self.settings.per_episode);
        Ok(out)
    }
}

#[async_trait]
impl Extractor for LlmEngine {
    fn name(&self) -> &'static str {
        "llm"
    }

    async fn extract(&self, episode: &EpisodeText) -> Result<Vec<NewInsight>, ExtractError> {
        match self.extract_llm(episode).await {
            Ok(found) if !found.is_empty() => Ok(found),
            Ok(_) => {
                info!(episode = %episode.title, "the LLM gave no grounded insight; using the extractive engine");
                Ok(self.fallback.extract_sync(episode))
            }
            Err(e) => {
                warn!(episode = %episode.title, error = %e, "the LLM engine failed; using the extractive engine");
                Ok(self.fallback.extract_sync(episode))
            }
        }
    }
}

/// The answer's JSON, tolerating code fences and text around it.
fn parse_answer(content: &str) -> Result<Answer, LlmError> {
    let start = content.find('{');
    let end = content.rfind('}');
    let json = match (start, end) {
        (Some(a), Some(b)) if b > a => &content[a..=b],
        _ => return Err(LlmError::Parse("no JSON object in the answer".into())),
    };
    serde_json::from_str(json).map_err(|e| LlmError::Parse(e.to_string()))
}

/// Lowercase, typographic quotes made plain, whitespace collapsed to single spaces.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        let c = match c {
            '’' | '‘' | '`' => '\'',
            '“' | '”' => '"',
            c => c,
        };
        out.extend(c.to_lowercase());
    }
    out
}

/// The transcript folded into one string, with where each segment starts in it.
struct Grounds<'a> {
    text: String,
    starts: Vec<usize>,
    segments: &'a [Segment],
}

impl<'a> Grounds<'a> {
    fn new(segments: &'a [Segment]) -> Self {
        let mut text = String::new();
        let mut starts = Vec::with_capacity(segments.len());
        for s in segments {
            if !text.is_empty() {
                text.push(' ');
            }
            starts.push(text.len());
            text.push_str(&fold(&s.text));
        }
        Grounds {
            text,
            starts,
            segments,
        }
    }

    /// Start and end time and speaker of a folded quote, if the transcript holds it.
    fn locate(&self, folded: &str) -> Option<(Option<i64>, Option<i64>, Option<String>)> {
        if folded.is_empty() {
            return None;
        }
        let at = self.text.find(folded)?;
        let end = at + folded.len();
        let time = |pos: usize| -> Option<i64> {
            let i = self.starts.partition_point(|s| *s <= pos).checked_sub(1)?;
            let seg = &self.segments[i];
            let start = seg.start_ms?;
            let seg_len = self
                .starts
                .get(i + 1)
                .map(|n| n.saturating_sub(1))
                .unwrap_or(self.text.len())
                .saturating_sub(self.starts[i])
                .max(1);
            let frac = (pos.saturating_sub(self.starts[i])) as f64 / seg_len as f64;
            Some(match seg.end_ms {
                Some(e) if e > start => start + ((e - start) as f64 * frac.clamp(0.0, 1.0)) as i64,
                _ => start,
            })
        };
        let i = self.starts.partition_point(|s| *s <= at).checked_sub(1)?;
        Some((
            time(at),
            time(end.saturating_sub(1)),
            self.segments[i].speaker.clone(),
        ))
    }
}

/// The transcript as "[mm:ss] Speaker: words" lines, cut into chunks of at most `max` chars at
/// turn boundaries (a longer turn is cut between words).
pub fn chunks(segments: &[Segment], max: usize) -> Vec<String> {
    let max = max.max(200);
    let mut lines = Vec::new();
    for seg in turns_as_segments(segments) {
        let stamp = seg
            .start_ms
            .map(|ms| format!("[{:02}:{:02}] ", ms / 60_000, (ms / 1000) % 60))
            .unwrap_or_default();
        let who = seg
            .speaker
            .as_deref()
            .map(|s| format!("{s}: "))
            .unwrap_or_default();
        let mut line = format!("{stamp}{who}");
        for w in seg.text.split_whitespace() {
            if line.len() + w.len() + 1 > max && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() && !line.ends_with(' ') {
                line.push(' ');
            }
            line.push_str(w);
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for l in lines {
        if !cur.is_empty() && cur.len() + l.len() + 1 > max {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push('\n');
        }
        cur.push_str(&l);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn turns_as_segments(segments: &[Segment]) -> Vec<Segment> {
    turns(segments)
        .into_iter()
        .map(|t| Segment {
            start_ms: t.start_ms(),
            end_ms: None,
            speaker: t.speaker,
            text: t.text,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str, start: i64) -> Segment {
        Segment {
            speaker: Some("Ann".into()),
            start_ms: Some(start),
            end_ms: Some(start + 10_000),
            text: text.into(),
        }
    }

    #[test]
    fn quotes_are_found_after_folding_and_timed() {
        let segs = vec![
            seg("Hello there.", 0),
            seg("Tidal   turbines in ORKNEY  run twice a day.", 60_000),
        ];
        let g = Grounds::new(&segs);
        let (start, _, who) = g
            .locate(&fold("tidal turbines in Orkney run twice a day"))
            .unwrap();
        assert!(start.unwrap() >= 60_000 && start.unwrap() < 61_000);
        assert_eq!(who.as_deref(), Some("Ann"));
        assert!(g.locate(&fold("tidal turbines on Mars")).is_none());
    }

    #[test]
    fn long_transcripts_are_chunked_at_turns() {
        let segs: Vec<Segment> = (0..50)
            .map(|i| Segment {
                speaker: Some(if i % 2 == 0 { "A" } else { "B" }.into()),
                start_ms: Some(i * 1000),
                end_ms: None,
                text: "word ".repeat(40),
            })
            .collect();
        let c = chunks(&segs, 1000);
        assert!(c.len() > 5);
        assert!(c.iter().all(|c| c.len() <= 1000));
        assert!(c[0].starts_with("[00:00] A: word"));
    }

    #[test]
    fn answers_in_fences_parse() {
        let a = parse_answer("```json\n{\"insights\": [{\"text\": \"t\", \"quote\": \"q\"}]}\n```")
            .unwrap();
        assert_eq!(a.insights.len(), 1);
        assert!(parse_answer("sorry").is_err());
    }
}
