//! The optional LLM engine: any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama,
//! llama.cpp, vLLM) writes each insight's takeaway, with the verbatim quote it rests on.
//!
//! - Two modes. A transcript that fits in one request (`chunk_chars`) is sent whole
//!   (`prompts/insights.md`); a longer one goes through two stages: the extractive engine
//!   proposes its best `candidates` passages (local, no tokens) and one request asks the model to
//!   write takeaways for the best of them and rank them (`prompts/candidates.md`), so a long
//!   episode costs a bounded number of tokens. `mode` forces either.
//! - The prompts are compiled in, each with a version on its first line, stored with every
//!   insight it wrote.
//! - JSON is asked for with a schema (`response_format` `json_schema`); an endpoint that refuses
//!   it (400, 422) is asked for a JSON object, then for nothing, and remembered. Fenced or chatty
//!   answers are read; an answer that still does not parse is sent back once with the error.
//! - Every quote must be found in the transcript after folding case, whitespace and typographic
//!   quotes; one that is not found is dropped, and so is one whose quote lies in a sponsor read,
//!   intro or outro as the extractive engine labels them. The quote's position gives the
//!   insight's start and end time and speaker.
//! - Requests time out, are retried with backoff on timeouts, connection errors, 429 and 5xx,
//!   answers over 4 MB are refused, and tokens count against a daily budget kept in memory (it
//!   starts again at 0 after a restart and at each UTC midnight).
//! - On any failure, or when nothing grounded is left, the extractive engine answers instead,
//!   with a log line and `podbrief_llm_fallbacks_total{reason}`.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use super::extractive::{ExtractiveEngine, non_talk_sentences};
use super::sentences::turns;
use super::{EpisodeText, ExtractError, Extractor};
use crate::config::{Config, Secret};
use crate::core::clock::Clock;
use crate::core::model::{NewInsight, Origin, format_timestamp};
use crate::core::text::{NEAR_DUPLICATE, normalize_topic, similarity};
use crate::ingest::transcript::Segment;
use crate::metrics::{LlmFallback, Metrics};

/// A prompt as compiled in: its version (the file's first line, `<!-- version: NAME -->`) and
/// the text sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prompt {
    /// The version stored with every insight the prompt wrote, e.g. `insights-v2`.
    pub version: &'static str,
    /// What is sent as the system message (`{max}` is replaced).
    pub text: &'static str,
}

impl Prompt {
    /// Reads a prompt file's version line; a file without one has version `unversioned`.
    pub fn parse(file: &'static str) -> Prompt {
        let (first, rest) = file.split_once('\n').unwrap_or((file, ""));
        match first
            .trim()
            .strip_prefix("<!-- version:")
            .and_then(|v| v.strip_suffix("-->"))
        {
            Some(v) => Prompt {
                version: v.trim(),
                text: rest,
            },
            None => Prompt {
                version: "unversioned",
                text: file,
            },
        }
    }

    fn system(&self, max: usize) -> String {
        self.text.replace("{max}", &max.to_string())
    }
}

/// The whole-transcript prompt, as operators read it in `prompts/insights.md`.
pub fn whole_prompt() -> Prompt {
    Prompt::parse(include_str!("../../prompts/insights.md"))
}

/// The second stage's prompt, as operators read it in `prompts/candidates.md`.
pub fn candidates_prompt() -> Prompt {
    Prompt::parse(include_str!("../../prompts/candidates.md"))
}

/// Largest answer read from the endpoint.
pub const MAX_ANSWER_BYTES: usize = 4 << 20;

/// Which way an episode reaches the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Whole when the transcript fits in one request, else two stages.
    Auto,
    /// The whole transcript, in chunks of `chunk_chars`.
    Whole,
    /// The extractive engine's best passages, in one request.
    TwoStage,
}

impl Mode {
    /// Parses `llm.mode` (`auto`, `whole`, `two-stage`).
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "auto" => Some(Mode::Auto),
            "whole" => Some(Mode::Whole),
            "two-stage" => Some(Mode::TwoStage),
            _ => None,
        }
    }
}

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
    /// Whole transcript or two stages.
    pub mode: Mode,
    /// Passages the first stage proposes.
    pub candidates: usize,
}

impl LlmSettings {
    /// The settings of `[llm]` and `[extract]` in `config`.
    pub fn from_config(config: &Config) -> LlmSettings {
        let l = &config.llm;
        LlmSettings {
            base_url: l.base_url.clone(),
            model: l.model.clone(),
            api_key: config.secret(&l.api_key_env),
            timeout: Config::duration(&l.timeout),
            max_retries: l.max_retries,
            daily_token_budget: l.daily_token_budget,
            chunk_chars: l.chunk_chars,
            per_episode: config.extract.max_per_episode,
            backoff: Duration::from_millis(500),
            mode: Mode::parse(&l.mode).unwrap_or(Mode::Auto),
            candidates: l.candidates,
        }
    }
}

/// Why the LLM could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The request failed (connection refused, reset).
    #[error("request failed: {0}")]
    Http(String),
    /// No answer in time.
    #[error("no answer within {0} s (llm.timeout)")]
    Timeout(u64),
    /// The endpoint answered with an error status.
    #[error("the endpoint answered HTTP {0}")]
    Status(u16),
    /// Today's token budget is spent.
    #[error("the daily token budget ({0} tokens) is spent")]
    Budget(u64),
    /// The answer was larger than [`MAX_ANSWER_BYTES`].
    #[error("the answer is over {} MB", MAX_ANSWER_BYTES >> 20)]
    TooLarge,
    /// The endpoint answered a web page.
    #[error("the endpoint answered HTML, not JSON: is llm.base_url the API's /v1 address?")]
    Html,
    /// The answer was not the JSON asked for.
    #[error("unusable answer: {0}")]
    Parse(String),
}

impl LlmError {
    fn fallback(&self) -> LlmFallback {
        match self {
            LlmError::Budget(_) => LlmFallback::Budget,
            LlmError::Parse(_) | LlmError::Html | LlmError::TooLarge => LlmFallback::Unreadable,
            _ => LlmFallback::Failed,
        }
    }
}

/// What is asked of the answer's form: a schema, a JSON object, or nothing.
const FORMATS: [&str; 3] = ["json_schema", "json_object", "none"];

/// The LLM engine, with the extractive engine as its fallback.
pub struct LlmEngine {
    settings: LlmSettings,
    client: reqwest::Client,
    fallback: ExtractiveEngine,
    clock: Arc<dyn Clock>,
    used: Mutex<(Option<NaiveDate>, u64)>,
    /// The first of [`FORMATS`] the endpoint has not refused.
    format: AtomicU8,
    metrics: Option<Arc<Metrics>>,
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
struct Models {
    #[serde(default)]
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
}

#[derive(Deserialize)]
struct Answer {
    insights: Vec<Proposed>,
}

#[derive(Deserialize)]
struct Proposed {
    #[serde(default, alias = "text")]
    takeaway: String,
    #[serde(default)]
    quote: String,
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default)]
    score: Option<f64>,
}

/// The JSON schema of an answer (`passage` only in the second stage).
fn answer_schema(passage: bool) -> Value {
    let mut props = json!({
        "takeaway": {"type": "string"},
        "quote": {"type": "string"},
        "topics": {"type": "array", "items": {"type": "string"}},
        "score": {"type": "number"},
    });
    let mut required = vec!["takeaway", "quote", "topics", "score"];
    if passage {
        props["passage"] = json!({"type": "integer"});
        required.insert(0, "passage");
    }
    json!({
        "type": "object",
        "properties": {"insights": {"type": "array", "items": {
            "type": "object", "properties": props, "required": required,
            "additionalProperties": false,
        }}},
        "required": ["insights"],
        "additionalProperties": false,
    })
}

/// One request's failure, and whether it is worth another try.
struct Failure {
    retry: bool,
    error: LlmError,
}

impl Failure {
    fn of(e: reqwest::Error, timeout: Duration) -> Failure {
        let error = if e.is_timeout() {
            LlmError::Timeout(timeout.as_secs().max(1))
        } else {
            LlmError::Http(error_chain(&e.without_url()))
        };
        Failure { retry: true, error }
    }
}

/// An error with its sources ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Reads a response body, refusing one over [`MAX_ANSWER_BYTES`] without reading it all.
async fn read_capped(mut resp: reqwest::Response, timeout: Duration) -> Result<Vec<u8>, Failure> {
    let too_large = || Failure {
        retry: false,
        error: LlmError::TooLarge,
    };
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| Failure::of(e, timeout))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The message of a chat completion's JSON.
fn completion_content(bytes: &[u8]) -> Result<(String, Option<u64>), LlmError> {
    let head = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if head == Some(&b'<') {
        return Err(LlmError::Html);
    }
    let c: Completion = serde_json::from_slice(bytes)
        .map_err(|e| LlmError::Parse(format!("not a chat completion: {e}")))?;
    let tokens = c.usage.and_then(|u| u.total_tokens);
    let content = c
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .ok_or_else(|| LlmError::Parse("no message in the answer".into()))?;
    Ok((content, tokens))
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
            format: AtomicU8::new(0),
            metrics: None,
        })
    }

    /// Counts tokens and fallbacks in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
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
        if let Some(m) = &self.metrics {
            m.llm_tokens(actual);
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.settings.base_url.trim_end_matches('/'))
    }

    /// The request body for `messages`, asking for the answer's form `FORMATS[format]`.
    fn body(&self, messages: &[Value], schema: &Value, format: u8, max_tokens: u32) -> Vec<u8> {
        let mut body = json!({
            "model": self.settings.model,
            "temperature": 0,
            "max_tokens": max_tokens,
            "messages": messages,
        });
        match FORMATS.get(format as usize) {
            Some(&"json_schema") => {
                body["response_format"] = json!({"type": "json_schema", "json_schema": {
                    "name": "insights", "strict": true, "schema": schema,
                }});
            }
            Some(&"json_object") => body["response_format"] = json!({"type": "json_object"}),
            _ => {}
        }
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// One POST of `body`.
    async fn send_once(&self, body: Vec<u8>) -> Result<Vec<u8>, Failure> {
        let mut req = self
            .client
            .post(self.url("chat/completions"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = &self.settings.api_key {
            req = req.bearer_auth(key.expose());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::of(e, self.settings.timeout))?;
        let s = resp.status();
        if !s.is_success() {
            return Err(Failure {
                retry: s.as_u16() == 429 || s.is_server_error(),
                error: LlmError::Status(s.as_u16()),
            });
        }
        read_capped(resp, self.settings.timeout).await
    }

    /// One chat completion, with retries; returns the message content.
    async fn complete(
        &self,
        messages: &[Value],
        schema: &Value,
        max_tokens: u32,
    ) -> Result<String, LlmError> {
        let chars: usize = messages
            .iter()
            .map(|m| m["content"].as_str().map_or(0, str::len))
            .sum();
        let estimate = (chars / 4) as u64 + u64::from(max_tokens);
        self.reserve(estimate)?;
        let mut attempt = 0;
        loop {
            let format = self.format.load(Ordering::Relaxed);
            let body = self.body(messages, schema, format, max_tokens);
            let failure = match self.send_once(body).await {
                Ok(bytes) => {
                    let (content, tokens) = completion_content(&bytes).inspect_err(|_| {
                        self.settle(estimate, estimate);
                    })?;
                    self.settle(estimate, tokens.unwrap_or(estimate));
                    return Ok(content);
                }
                Err(f) => f,
            };
            match failure.error {
                LlmError::Status(400 | 422) if (format as usize) < FORMATS.len() - 1 => {
                    info!(
                        refused = FORMATS[format as usize],
                        "the LLM endpoint refused the answer format; asking for {}",
                        FORMATS[format as usize + 1]
                    );
                    self.format.store(format + 1, Ordering::Relaxed);
                }
                e if failure.retry && attempt < self.settings.max_retries => {
                    let wait = self.settings.backoff * 2u32.saturating_pow(attempt);
                    debug!(attempt, error = %e, "LLM request failed; retrying");
                    tokio::time::sleep(wait.min(Duration::from_secs(30))).await;
                    attempt += 1;
                }
                e => {
                    self.settle(estimate, 0);
                    return Err(e);
                }
            }
        }
    }

    /// Asks `prompt` about `user`; an answer that does not parse is sent back once with the
    /// error.
    async fn ask(&self, prompt: Prompt, user: &str, passage: bool) -> Result<Answer, LlmError> {
        let per = self.settings.per_episode.max(1);
        let max_tokens = (per * 160 + 200).min(8_000) as u32;
        let schema = answer_schema(passage);
        let mut messages = vec![
            json!({"role": "system", "content": prompt.system(per)}),
            json!({"role": "user", "content": user}),
        ];
        let content = self.complete(&messages, &schema, max_tokens).await?;
        let error = match parse_answer(&content) {
            Ok(a) => return Ok(a),
            Err(e) => e,
        };
        warn!(error = %error, "the LLM's answer is not the JSON asked for; asking once more");
        messages.push(json!({"role": "assistant", "content": content}));
        messages.push(json!({"role": "user", "content": format!(
            "That answer could not be read ({error}). Answer again with the JSON object only, \
             in exactly the shape asked for."
        )}));
        let content = self.complete(&messages, &schema, max_tokens).await?;
        parse_answer(&content)
    }

    /// The LLM's grounded insights, best first (may be empty).
    pub async fn extract_llm(&self, episode: &EpisodeText) -> Result<Vec<NewInsight>, LlmError> {
        let grounds = Grounds::new(&episode.segments);
        let chunks = chunks(&episode.segments, self.settings.chunk_chars);
        let whole = match self.settings.mode {
            Mode::Whole => true,
            Mode::TwoStage => false,
            Mode::Auto => chunks.len() <= 1,
        };
        let mut out: Vec<NewInsight> = Vec::new();
        if whole {
            let prompt = whole_prompt();
            for chunk in chunks {
                let answer = self.ask(prompt, &chunk, false).await?;
                grounds.keep(answer, Origin::llm(prompt.version), &mut out);
            }
        } else {
            let passages = self.candidates(episode);
            if passages.is_empty() {
                return Ok(Vec::new());
            }
            let prompt = candidates_prompt();
            let answer = self.ask(prompt, &passages, true).await?;
            grounds.keep(answer, Origin::llm(prompt.version), &mut out);
        }
        // A stable sort: equal scores keep the model's ranking.
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        out.truncate(self.settings.per_episode);
        Ok(out)
    }

    /// The first stage: the extractive engine's best passages, in the order they were said, as
    /// "[n] [mm:ss] Speaker: words" lines.
    fn candidates(&self, episode: &EpisodeText) -> String {
        let mut passages = self
            .fallback
            .top_passages(episode, self.settings.candidates);
        passages.sort_by_key(|p| p.start_ms.unwrap_or(i64::MAX));
        let mut out = String::new();
        for (n, p) in passages.iter().enumerate() {
            let stamp = p
                .start_ms
                .map(|ms| format!("[{}] ", format_timestamp(ms)))
                .unwrap_or_default();
            let who = p
                .speaker
                .as_deref()
                .map(|s| format!("{s}: "))
                .unwrap_or_default();
            out.push_str(&format!("[{}] {stamp}{who}{}\n", n + 1, p.quote.trim()));
        }
        out
    }

    /// The endpoint's model ids (`GET /models`), for `podbrief doctor`.
    pub async fn models(&self) -> Result<Vec<String>, LlmError> {
        let mut req = self.client.get(self.url("models"));
        if let Some(key) = &self.settings.api_key {
            req = req.bearer_auth(key.expose());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::of(e, self.settings.timeout).error)?;
        if !resp.status().is_success() {
            return Err(LlmError::Status(resp.status().as_u16()));
        }
        let bytes = read_capped(resp, self.settings.timeout)
            .await
            .map_err(|f| f.error)?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') {
            return Err(LlmError::Html);
        }
        let m: Models = serde_json::from_slice(&bytes)
            .map_err(|e| LlmError::Parse(format!("not a model list: {e}")))?;
        Ok(m.data.into_iter().map(|m| m.id).collect())
    }

    /// A one-line completion ("Answer with the word ok."), for `podbrief doctor`: what the
    /// model answered.
    pub async fn say_ok(&self) -> Result<String, LlmError> {
        let messages = [json!({"role": "user", "content": "Answer with the word ok."})];
        let schema = json!({"type": "object"});
        let format = self.format.swap(FORMATS.len() as u8 - 1, Ordering::Relaxed);
        let answer = self.complete(&messages, &schema, 5).await;
        self.format.store(format, Ordering::Relaxed);
        answer
    }

    fn count_fallback(&self, why: LlmFallback) {
        if let Some(m) = &self.metrics {
            m.llm_fallback(why);
        }
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
                self.count_fallback(LlmFallback::Ungrounded);
                Ok(self.fallback.extract_sync(episode))
            }
            Err(e) => {
                warn!(episode = %episode.title, error = %e, "the LLM engine failed; using the extractive engine");
                self.count_fallback(e.fallback());
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
    /// Sponsor, intro and outro sentences, folded.
    excluded: Vec<String>,
}

impl<'a> Grounds<'a> {
    /// Keeps the answer's insights whose quote is in the transcript and outside sponsor reads,
    /// intros and outros, adding them to `out` (near-duplicates of one there dropped).
    fn keep(&self, answer: Answer, origin: Origin, out: &mut Vec<NewInsight>) {
        for p in answer.insights {
            let text = p.takeaway.trim();
            let quote = p.quote.trim();
            if text.split_whitespace().count() < 3 || quote.split_whitespace().count() < 3 {
                continue;
            }
            let folded = fold(quote);
            let Some((start_ms, end_ms, speaker)) = self.locate(&folded) else {
                info!(
                    quote,
                    "LLM insight dropped: its quote is not in the transcript"
                );
                continue;
            };
            if self
                .excluded
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
                text: text.to_string(),
                quote: quote.to_string(),
                start_ms,
                end_ms,
                speaker,
                score: p.score.unwrap_or(0.5).clamp(0.05, 1.0),
                topics,
                chapter: None,
                origin: origin.clone(),
            });
        }
    }

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
        let excluded = non_talk_sentences(segments)
            .iter()
            .map(|s| fold(s))
            .filter(|s| s.len() >= 20)
            .collect();
        Grounds {
            text,
            starts,
            segments,
            excluded,
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
        assert_eq!(a.insights[0].takeaway, "t");
        let a = parse_answer("Sure! Here you go: {\"insights\": []} Hope it helps.").unwrap();
        assert!(a.insights.is_empty());
        assert!(parse_answer("sorry").is_err());
        // Another shape is not an answer with no insights: it is sent back with the error.
        assert!(parse_answer("{\"result\": []}").is_err());
    }

    #[test]
    fn prompts_carry_their_version() {
        assert_eq!(whole_prompt().version, "insights-v2");
        assert_eq!(candidates_prompt().version, "candidates-v1");
        assert!(!whole_prompt().text.contains("version:"));
        assert!(whole_prompt().system(7).contains("at most 7 insights"));
        assert_eq!(Prompt::parse("no header\nx").version, "unversioned");
    }

    #[test]
    fn html_and_empty_answers_are_named() {
        assert!(matches!(
            completion_content(b"  <!doctype html><html>"),
            Err(LlmError::Html)
        ));
        assert!(matches!(
            completion_content(b"{\"choices\": []}"),
            Err(LlmError::Parse(_))
        ));
    }
}
