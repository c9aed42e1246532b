//! `bot.toml`: the model, its defaults, validation with messages that name the key, and secrets
//! read from the environment variables the file names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::core::command::MAX_BRIEF_SIZE;
use crate::core::schedule::{Schedule, parse_timezone};

/// A configuration problem, naming the key and what is allowed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys or wrong types.
    #[error("config file {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// toml's message (with line and key).
        message: String,
    },
    /// A value is out of its allowed range.
    #[error("config file {path}: {key}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The dotted key, e.g. `brief.size`.
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// Neither the given file nor the fallbacks exist.
    #[error(
        "no config file: {0} does not exist (copy bot.example.toml to bot.toml, or pass --config PATH)"
    )]
    Missing(PathBuf),
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where data is kept.
    pub database: DatabaseConfig,
    /// What to read and how.
    pub ingest: IngestConfig,
    /// Insight extraction.
    pub extract: ExtractConfig,
    /// The daily brief.
    pub brief: BriefConfig,
    /// Sending briefs.
    pub delivery: DeliveryConfig,
    /// Lookups.
    pub search: SearchConfig,
    /// Optional semantic ranking of lookups.
    pub embeddings: EmbeddingsConfig,
    /// The console chat.
    pub console: ConsoleConfig,
    /// Telegram.
    pub telegram: TelegramConfig,
    /// Discord.
    pub discord: DiscordConfig,
    /// The optional LLM engine.
    pub llm: LlmConfig,
    /// Optional speech-to-text for episodes without a transcript.
    pub stt: SttConfig,
    /// The HTTP server.
    pub http: HttpConfig,
    /// Logging.
    pub log: LogConfig,
    /// The directory relative paths in this file are resolved from (the file's own directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Secrets given directly (by tests or an embedding program) instead of through the
    /// environment, keyed by variable name.
    #[serde(skip)]
    pub secret_overrides: std::collections::HashMap<String, String>,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (a relative path is relative to the config file's folder), or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` for several instances sharing one database.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://podbrief.db".into(),
            max_connections: 5,
        }
    }
}

/// `[ingest]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Feed URLs (http/https) or file paths (relative to this file).
    pub feeds: Vec<String>,
    /// How often `run` polls the feeds again.
    pub poll_every: String,
    /// Timeout of one HTTP request.
    pub timeout: String,
    /// Largest feed or transcript accepted, in megabytes.
    pub max_body_mb: u64,
    /// After this many failures in a row a feed is disabled (`podbrief feeds enable URL`).
    pub max_failures: u32,
    /// Only the newest this-many episodes of a feed are read.
    pub backfill: usize,
    /// Feeds fetched at once.
    pub concurrency: usize,
    /// Feeds fetched at once from one host.
    pub per_host: usize,
    /// Whether feeds added from chat may point at loopback, private or link-local addresses.
    pub allow_private: bool,
    /// Who may manage feeds from chat: `console`, `telegram:USER_ID`, `discord:USER_ID`.
    pub operators: Vec<String>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            feeds: Vec::new(),
            poll_every: "30m".into(),
            timeout: "20s".into(),
            max_body_mb: 20,
            max_failures: 5,
            backfill: 50,
            concurrency: 16,
            per_host: 2,
            allow_private: false,
            operators: vec!["console".into()],
        }
    }
}

/// `[extract]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExtractConfig {
    /// `extractive` (no network, the default) or `llm` (the `[llm]` endpoint, falling back to
    /// the extractive engine).
    pub engine: String,
    /// Minutes of talk per insight: an episode yields about its talk's length divided by this.
    pub minutes_per_insight: f64,
    /// Insights kept per episode at most.
    pub max_per_episode: usize,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        ExtractConfig {
            engine: "extractive".into(),
            minutes_per_insight: crate::extract::extractive::DEFAULT_MINUTES_PER_INSIGHT,
            max_per_episode: crate::extract::extractive::DEFAULT_MAX_PER_EPISODE,
        }
    }
}

/// What a brief with nothing new does.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum EmptyBrief {
    /// Send nothing.
    #[default]
    Skip,
    /// Send a short "nothing new today" notice.
    Notice,
}

/// `[brief]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BriefConfig {
    /// Insights per brief (1..=10); chats may change theirs.
    pub size: u8,
    /// Time of day for a new subscription that names none.
    pub default_time: String,
    /// Timezone for a new subscription that names none.
    pub default_timezone: String,
    /// How far back an episode may have been published to enter a brief.
    pub lookback: String,
    /// Freshness halves every this long.
    pub half_life: String,
    /// At most this many insights from one episode per brief.
    pub max_per_episode: usize,
    /// At most this many insights from one podcast per brief.
    pub max_per_podcast: usize,
    /// A brief with nothing new: `skip` or `notice`.
    pub empty: EmptyBrief,
    /// An occurrence missed by less than this (downtime) is still sent.
    pub catch_up: String,
}

impl Default for BriefConfig {
    fn default() -> Self {
        BriefConfig {
            size: 5,
            default_time: "08:00".into(),
            default_timezone: "UTC".into(),
            lookback: "7d".into(),
            half_life: "3d".into(),
            max_per_episode: 1,
            max_per_podcast: 2,
            empty: EmptyBrief::Skip,
            catch_up: "6h".into(),
        }
    }
}

/// `[delivery]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Briefs being sent at once (each platform's rate limits still apply).
    pub concurrency: usize,
    /// How long a claimed delivery stays claimed; a crashed sender's deliveries are claimable
    /// again after this.
    pub lease: String,
    /// Attempts before a delivery is recorded as failed.
    pub max_attempts: u32,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            concurrency: 64,
            lease: "10m".into(),
            max_attempts: 5,
        }
    }
}

/// `[search]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Results per lookup.
    pub results: usize,
    /// "More like this" may return insights of the same episode.
    pub related_same_episode: bool,
    /// The search index's directory (relative to this file); empty keeps it in memory and
    /// rebuilds it from the database at each start.
    pub index_dir: String,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            results: 5,
            related_same_episode: false,
            index_dir: "podbrief-index".into(),
        }
    }
}

/// `[embeddings]`: optional semantic ranking through an OpenAI-compatible `/v1/embeddings`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingsConfig {
    /// The endpoint's base URL (e.g. `http://127.0.0.1:11434/v1`); empty turns it off.
    pub base_url: String,
    /// The embedding model name.
    pub model: String,
    /// The environment variable holding the API key (unset: no key is sent).
    pub api_key_env: String,
    /// Timeout of one request.
    pub timeout: String,
}

impl Default for EmbeddingsConfig {
    fn default() -> Self {
        EmbeddingsConfig {
            base_url: String::new(),
            model: String::new(),
            api_key_env: "PODBRIEF_EMBEDDINGS_API_KEY".into(),
            timeout: "10s".into(),
        }
    }
}

/// When the console chat opens.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleMode {
    /// When no chat platform is enabled and stdin is a terminal.
    #[default]
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

/// `[console]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// `auto`, `on` or `off`.
    pub enabled: ConsoleMode,
}

/// How the Telegram adapter receives updates.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TelegramMode {
    /// Long polling: no public URL needed.
    #[default]
    Polling,
    /// Telegram POSTs updates to podbrief's HTTP server.
    Webhook,
}

/// `[telegram]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramConfig {
    /// Whether to connect to Telegram.
    pub enabled: bool,
    /// The environment variable that holds the bot token.
    pub token_env: String,
    /// `polling` or `webhook`.
    pub mode: TelegramMode,
    /// The Bot API server (a self-hosted one, or the official one).
    pub api_url: String,
    /// The environment variable that holds the webhook secret token (webhook mode).
    pub webhook_secret_env: String,
    /// Messages per second overall.
    pub per_second: u32,
    /// Messages per second to one chat.
    pub per_chat_per_second: u32,
    /// Messages per minute to one group.
    pub per_group_per_minute: u32,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            enabled: false,
            token_env: "TELEGRAM_BOT_TOKEN".into(),
            mode: TelegramMode::Polling,
            api_url: "https://api.telegram.org".into(),
            webhook_secret_env: "TELEGRAM_WEBHOOK_SECRET".into(),
            per_second: 30,
            per_chat_per_second: 1,
            per_group_per_minute: 20,
        }
    }
}

/// How the Discord adapter receives interactions.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum DiscordMode {
    /// The gateway websocket: no public URL needed.
    #[default]
    Gateway,
    /// Discord POSTs interactions to podbrief's HTTP server.
    Interactions,
}

/// `[discord]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// Whether to connect to Discord.
    pub enabled: bool,
    /// The environment variable that holds the bot token.
    pub token_env: String,
    /// `gateway` or `interactions`.
    pub mode: DiscordMode,
    /// The application's public key (hex), to verify interaction signatures.
    pub public_key: String,
    /// Guild ids to register slash commands in (fast); empty registers them globally.
    pub guilds: Vec<String>,
    /// An HTTP proxy for Discord's REST API (such as twilight-http-proxy); empty for none.
    pub proxy: String,
    /// Requests per second overall.
    pub per_second: u32,
    /// Gateway shards this instance runs: `"FIRST-LAST/TOTAL"` or `"N/TOTAL"` (instances sharing
    /// one bot split the shards); empty runs every shard, as many as Discord recommends.
    pub shards: String,
    /// Interactions signed longer ago than this (by `X-Signature-Timestamp`) are refused as
    /// replays.
    pub interaction_max_age: String,
}

/// A range of gateway shards: `first..=last` of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardRange {
    /// The first shard this instance runs.
    pub first: u32,
    /// The last shard this instance runs (inclusive).
    pub last: u32,
    /// Shards of the whole bot.
    pub total: u32,
}

impl DiscordConfig {
    /// The shards of `discord.shards`: `None` for all of them (Discord's recommended count).
    pub fn shard_range(&self) -> Result<Option<ShardRange>, String> {
        let s = self.shards.trim();
        if s.is_empty() {
            return Ok(None);
        }
        let wrong = || {
            format!("{s:?} is not a shard range such as \"0-1/4\" (shards 0 and 1 of 4) or \"2/4\"")
        };
        let (range, total) = s.split_once('/').ok_or_else(wrong)?;
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let num = |x: &str| x.trim().parse::<u32>().map_err(|_| wrong());
        let r = ShardRange {
            first: num(first)?,
            last: num(last)?,
            total: num(total)?,
        };
        if r.total == 0 || r.first > r.last || r.last >= r.total {
            return Err(format!(
                "{s:?}: shards are numbered 0 to TOTAL-1 and FIRST may not exceed LAST"
            ));
        }
        Ok(Some(r))
    }
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            enabled: false,
            token_env: "DISCORD_TOKEN".into(),
            mode: DiscordMode::Gateway,
            public_key: String::new(),
            guilds: Vec::new(),
            proxy: String::new(),
            per_second: 50,
            shards: String::new(),
            interaction_max_age: "5m".into(),
        }
    }
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080`; empty means no HTTP server.
    pub listen: String,
    /// The public URL the server is reached at (for webhooks and links).
    pub public_url: String,
    /// A connection that has not sent a whole request head this long after it opened (or after
    /// its last answer) is closed, e.g. `10s`.
    pub header_timeout: String,
    /// Connections served at once; 0 = half the process's open-files limit (at most 10,000).
    pub max_connections: u32,
    /// Largest request body of the webhook and interactions endpoints, in KB.
    pub max_body_kb: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: String::new(),
            public_url: String::new(),
            header_timeout: "10s".into(),
            max_connections: 0,
            max_body_kb: 1024,
        }
    }
}

/// `[llm]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// An OpenAI-compatible endpoint; empty means no LLM.
    pub base_url: String,
    /// The model name.
    pub model: String,
    /// The environment variable holding the API key.
    pub api_key_env: String,
    /// Timeout of one request, e.g. `60s`.
    pub timeout: String,
    /// Retries after a failed request (timeouts, 429, 5xx).
    pub max_retries: u32,
    /// Tokens one UTC day may use, counted in memory (0 = no limit).
    pub daily_token_budget: u64,
    /// Largest chunk of transcript sent in one request, in characters.
    pub chunk_chars: usize,
    /// `auto` (whole when the transcript fits in one chunk, else two stages), `whole` or
    /// `two-stage`.
    pub mode: String,
    /// Passages the extractive engine proposes in the two-stage mode.
    pub candidates: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            base_url: String::new(),
            model: String::new(),
            api_key_env: "PODBRIEF_LLM_API_KEY".into(),
            timeout: "60s".into(),
            max_retries: 2,
            daily_token_budget: 2_000_000,
            chunk_chars: 24_000,
            mode: "auto".into(),
            candidates: 24,
        }
    }
}

/// `[stt]`: optional speech-to-text through an OpenAI-compatible `/v1/audio/transcriptions`
/// endpoint (whisper.cpp server, faster-whisper servers, OpenAI) for episodes with no transcript.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SttConfig {
    /// The server, e.g. `http://127.0.0.1:8080` (`/v1/audio/transcriptions` is added; a URL that
    /// already ends in `/v1` gets `/audio/transcriptions`); empty turns speech-to-text off.
    pub base_url: String,
    /// The model name sent with each request (e.g. `whisper-1`).
    pub model: String,
    /// The environment variable holding the API key (unset: no key is sent).
    pub api_key_env: String,
    /// `verbose_json` (timed segments), `vtt`, `srt`, `json` or `text`.
    pub response_format: String,
    /// Largest audio file downloaded and sent, in megabytes.
    pub max_audio_mb: u64,
    /// Megabytes of audio one UTC day may send (0 = no limit), counted in `dir` so a restart
    /// does not reset it.
    pub daily_budget_mb: u64,
    /// Timeout of the download and of the transcription request, each.
    pub timeout: String,
    /// Whether audio may be downloaded from loopback, private or link-local addresses.
    pub allow_private: bool,
    /// Where transcriptions and the day's budget are kept (relative to this file); empty keeps
    /// them in memory only.
    pub dir: String,
}

impl Default for SttConfig {
    fn default() -> Self {
        SttConfig {
            base_url: String::new(),
            model: "whisper-1".into(),
            api_key_env: "PODBRIEF_STT_API_KEY".into(),
            response_format: "verbose_json".into(),
            max_audio_mb: 25,
            daily_budget_mb: 500,
            timeout: "10m".into(),
            allow_private: false,
            dir: "podbrief-transcripts".into(),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `podbrief=debug`; `RUST_LOG` overrides it.
    pub level: String,
    /// `text` (readable lines) or `json` (one JSON object per line, for log collectors).
    pub format: LogFormat,
}

/// `log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// A secret read from the environment; its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Reads the secret in environment variable `var`, if set and non-empty.
pub fn secret_from_env(var: &str) -> Option<Secret> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| Secret(v.trim().to_string()))
}

/// Parses durations such as `90s`, `30m`, `6h`, `7d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" | "min" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// How `load` found its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// The path given or `./bot.toml`.
    File(PathBuf),
    /// `bot.toml` was missing, so `bot.example.toml` was used.
    Example(PathBuf),
}

impl Config {
    /// Loads the config: `path` if given; else `./bot.toml`; else `./bot.example.toml`.
    pub fn load(path: Option<&Path>) -> Result<(Config, ConfigSource), ConfigError> {
        if let Some(p) = path {
            return Ok((Config::from_file(p)?, ConfigSource::File(p.to_path_buf())));
        }
        let main = PathBuf::from("bot.toml");
        if main.exists() {
            return Ok((Config::from_file(&main)?, ConfigSource::File(main)));
        }
        let example = PathBuf::from("bot.example.toml");
        if example.exists() {
            return Ok((Config::from_file(&example)?, ConfigSource::Example(example)));
        }
        Err(ConfigError::Missing(main))
    }

    /// Reads and validates one file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::from_toml(&text, path, base)
    }

    /// Parses and validates TOML text; `path` is only used in messages.
    pub fn from_toml(text: &str, path: &Path, base_dir: PathBuf) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim().to_string(),
        })?;
        config.base_dir = absolute_dir(&base_dir);
        config.validate(path)?;
        config.database.url = sqlite_url_in(&config.database.url, &config.base_dir);
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.into(),
            message,
        };
        let b = &self.brief;
        if !(1..=MAX_BRIEF_SIZE).contains(&b.size) {
            return Err(bad(
                "brief.size",
                format!("{} is out of range 1..={MAX_BRIEF_SIZE}", b.size),
            ));
        }
        Schedule::parse(&b.default_time).map_err(|e| bad("brief.default_time", e.to_string()))?;
        parse_timezone(&b.default_timezone)
            .map_err(|e| bad("brief.default_timezone", e.to_string()))?;
        for (key, value) in [
            ("brief.lookback", &b.lookback),
            ("brief.half_life", &b.half_life),
            ("brief.catch_up", &b.catch_up),
            ("ingest.poll_every", &self.ingest.poll_every),
            ("delivery.lease", &self.delivery.lease),
            ("ingest.timeout", &self.ingest.timeout),
            (
                "discord.interaction_max_age",
                &self.discord.interaction_max_age,
            ),
        ] {
            match parse_duration(value) {
                Some(d) if !d.is_zero() => {}
                _ => {
                    return Err(bad(
                        key,
                        format!(
                            "{value:?} is not a duration (e.g. \"90s\", \"30m\", \"6h\", \"7d\")"
                        ),
                    ));
                }
            }
        }
        if b.max_per_episode == 0 || b.max_per_podcast == 0 {
            return Err(bad(
                "brief.max_per_episode",
                "max_per_episode and max_per_podcast must be at least 1".into(),
            ));
        }
        if !(1..=10_000).contains(&self.delivery.concurrency) {
            return Err(bad(
                "delivery.concurrency",
                format!("{} is out of range 1..=10000", self.delivery.concurrency),
            ));
        }
        if !(1..=20).contains(&self.delivery.max_attempts) {
            return Err(bad(
                "delivery.max_attempts",
                format!("{} is out of range 1..=20", self.delivery.max_attempts),
            ));
        }
        for (key, n, max) in [
            (
                "ingest.max_failures",
                self.ingest.max_failures as usize,
                1000,
            ),
            ("ingest.backfill", self.ingest.backfill, 100_000),
            ("ingest.concurrency", self.ingest.concurrency, 1000),
            ("ingest.per_host", self.ingest.per_host, 100),
        ] {
            if !(1..=max).contains(&n) {
                return Err(bad(key, format!("{n} is out of range 1..={max}")));
            }
        }
        for (i, op) in self.ingest.operators.iter().enumerate() {
            let ok = op == "console"
                || op.split_once(':').is_some_and(|(p, id)| {
                    matches!(p, "telegram" | "discord")
                        && !id.is_empty()
                        && id.chars().all(|c| c.is_ascii_digit())
                });
            if !ok {
                return Err(bad(
                    &format!("ingest.operators[{i}]"),
                    format!(
                        "{op:?} is not \"console\", \"telegram:USER_ID\" or \"discord:USER_ID\""
                    ),
                ));
            }
        }
        if !(1..=1024).contains(&self.ingest.max_body_mb) {
            return Err(bad(
                "ingest.max_body_mb",
                format!("{} is out of range 1..=1024", self.ingest.max_body_mb),
            ));
        }
        if self.extract.engine != "extractive" && self.extract.engine != "llm" {
            return Err(bad(
                "extract.engine",
                format!(
                    "{:?} is not an engine (allowed: \"extractive\", \"llm\")",
                    self.extract.engine
                ),
            ));
        }
        if !(0.5..=60.0).contains(&self.extract.minutes_per_insight) {
            return Err(bad(
                "extract.minutes_per_insight",
                format!(
                    "{} is out of range 0.5..=60",
                    self.extract.minutes_per_insight
                ),
            ));
        }
        if !(1..=200).contains(&self.extract.max_per_episode) {
            return Err(bad(
                "extract.max_per_episode",
                format!("{} is out of range 1..=200", self.extract.max_per_episode),
            ));
        }
        if !(1..=25).contains(&self.search.results) {
            return Err(bad(
                "search.results",
                format!("{} is out of range 1..=25", self.search.results),
            ));
        }
        let e = &self.embeddings;
        if !e.base_url.is_empty() {
            match url::Url::parse(&e.base_url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return Err(bad(
                        "embeddings.base_url",
                        format!("{:?} is not an http(s) URL", e.base_url),
                    ));
                }
            }
            if e.model.trim().is_empty() {
                return Err(bad(
                    "embeddings.model",
                    "is empty; name the embedding model (e.g. \"nomic-embed-text\")".into(),
                ));
            }
        }
        if !e
            .api_key_env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || e.api_key_env.is_empty()
        {
            return Err(bad(
                "embeddings.api_key_env",
                format!(
                    "{:?} is not an environment variable name (letters, digits, _)",
                    e.api_key_env
                ),
            ));
        }
        match parse_duration(&e.timeout) {
            Some(d) if !d.is_zero() => {}
            _ => {
                return Err(bad(
                    "embeddings.timeout",
                    format!("{:?} is not a duration (e.g. \"10s\")", e.timeout),
                ));
            }
        }
        check_log_level(&self.log.level).map_err(|m| bad("log.level", m))?;
        check_http(&self.http).map_err(|(key, m)| bad(key, m))?;
        if !self.database.url.starts_with("sqlite:")
            && !crate::store::postgres::is_postgres_url(&self.database.url)
        {
            return Err(bad(
                "database.url",
                "must be a sqlite:// URL (e.g. \"sqlite://podbrief.db\") or a postgres:// URL \
                 (e.g. \"postgres://podbrief@localhost/podbrief\")"
                    .into(),
            ));
        }
        if !(1..=100).contains(&self.database.max_connections) {
            return Err(bad(
                "database.max_connections",
                format!("{} is out of range 1..=100", self.database.max_connections),
            ));
        }
        for (i, feed) in self.ingest.feeds.iter().enumerate() {
            if feed.trim().is_empty() {
                return Err(bad(&format!("ingest.feeds[{i}]"), "is empty".into()));
            }
        }
        if self.telegram.enabled {
            if self.telegram.mode == TelegramMode::Webhook
                && (self.http.listen.is_empty() || self.http.public_url.is_empty())
            {
                return Err(bad(
                    "telegram.mode",
                    "\"webhook\" needs http.listen and http.public_url".into(),
                ));
            }
            if url::Url::parse(&self.telegram.api_url).is_err() {
                return Err(bad(
                    "telegram.api_url",
                    format!("{:?} is not a URL", self.telegram.api_url),
                ));
            }
        }
        for (key, n) in [
            ("telegram.per_second", self.telegram.per_second),
            (
                "telegram.per_chat_per_second",
                self.telegram.per_chat_per_second,
            ),
            (
                "telegram.per_group_per_minute",
                self.telegram.per_group_per_minute,
            ),
            ("discord.per_second", self.discord.per_second),
        ] {
            if !(1..=1_000_000).contains(&n) {
                return Err(bad(key, format!("{n} is out of range 1..=1000000")));
            }
        }
        if !self.http.listen.is_empty() && self.http.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(bad(
                "http.listen",
                format!(
                    "{:?} is not an address such as \"127.0.0.1:8080\"",
                    self.http.listen
                ),
            ));
        }
        if !self.http.public_url.is_empty() && url::Url::parse(&self.http.public_url).is_err() {
            return Err(bad(
                "http.public_url",
                format!("{:?} is not a URL", self.http.public_url),
            ));
        }
        self.validate_discord(path)?;
        self.validate_llm(path)?;
        self.validate_stt(path)?;
        for (key, var) in [
            ("telegram.token_env", &self.telegram.token_env),
            ("discord.token_env", &self.discord.token_env),
            ("llm.api_key_env", &self.llm.api_key_env),
        ] {
            if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(bad(
                    key,
                    format!("{var:?} is not an environment variable name (letters, digits, _)"),
                ));
            }
        }
        Ok(())
    }

    fn validate_discord(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.into(),
            message,
        };
        let d = &self.discord;
        let key = d.public_key.trim();
        if !key.is_empty() && (key.len() != 64 || !key.chars().all(|c| c.is_ascii_hexdigit())) {
            return Err(bad(
                "discord.public_key",
                "must be the application's public key: 64 hex digits (Developer Portal, General Information)".into(),
            ));
        }
        for (i, g) in d.guilds.iter().enumerate() {
            if !matches!(g.trim().parse::<u64>(), Ok(n) if n > 0) {
                return Err(bad(
                    &format!("discord.guilds[{i}]"),
                    format!("{g:?} is not a guild id (a number such as \"290926798626357999\")"),
                ));
            }
        }
        let proxy = d.proxy.trim();
        if !proxy.is_empty()
            && !url::Url::parse(proxy).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        {
            return Err(bad(
                "discord.proxy",
                format!("{proxy:?} is not an http(s) URL such as \"http://127.0.0.1:3000\""),
            ));
        }
        d.shard_range().map_err(|e| bad("discord.shards", e))?;
        if d.enabled && d.mode == DiscordMode::Interactions {
            if key.is_empty() {
                return Err(bad(
                    "discord.public_key",
                    "\"interactions\" mode needs the application's public key (64 hex digits)"
                        .into(),
                ));
            }
            if self.http.listen.is_empty() {
                return Err(bad(
                    "discord.mode",
                    "\"interactions\" needs http.listen (Discord POSTs to /discord/interactions)"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// The `[stt]` section.
    fn validate_stt(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.into(),
            message,
        };
        let s = &self.stt;
        if !s.base_url.is_empty() {
            if !url::Url::parse(&s.base_url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                return Err(bad(
                    "stt.base_url",
                    format!(
                        "{:?} is not an http(s) URL such as \"http://127.0.0.1:8080\"",
                        s.base_url
                    ),
                ));
            }
            if s.model.trim().is_empty() {
                return Err(bad(
                    "stt.model",
                    "is empty; name the speech-to-text model (e.g. \"whisper-1\")".into(),
                ));
            }
        }
        if !matches!(
            s.response_format.as_str(),
            "verbose_json" | "vtt" | "srt" | "json" | "text"
        ) {
            return Err(bad(
                "stt.response_format",
                format!(
                    "{:?} is not a format (allowed: \"verbose_json\", \"vtt\", \"srt\", \"json\", \"text\")",
                    s.response_format
                ),
            ));
        }
        if s.api_key_env.is_empty()
            || !s
                .api_key_env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(bad(
                "stt.api_key_env",
                format!(
                    "{:?} is not an environment variable name (letters, digits, _)",
                    s.api_key_env
                ),
            ));
        }
        if !(1..=4096).contains(&s.max_audio_mb) {
            return Err(bad(
                "stt.max_audio_mb",
                format!("{} is out of range 1..=4096", s.max_audio_mb),
            ));
        }
        if s.daily_budget_mb > 10_000_000 {
            return Err(bad(
                "stt.daily_budget_mb",
                format!(
                    "{} is out of range 0..=10000000 (0 = no limit)",
                    s.daily_budget_mb
                ),
            ));
        }
        if parse_duration(&s.timeout).is_none_or(|d| d.is_zero()) {
            return Err(bad(
                "stt.timeout",
                format!("{:?} is not a duration such as \"10m\"", s.timeout),
            ));
        }
        Ok(())
    }

    /// The `[llm]` section, and `extract.engine = "llm"` needing it.
    fn validate_llm(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.into(),
            message,
        };
        let l = &self.llm;
        if !l.base_url.is_empty() {
            match url::Url::parse(&l.base_url) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                _ => {
                    return Err(bad(
                        "llm.base_url",
                        format!(
                            "{:?} is not an http(s) URL such as \"http://127.0.0.1:11434/v1\"",
                            l.base_url
                        ),
                    ));
                }
            }
            if l.model.trim().is_empty() {
                return Err(bad("llm.model", "is empty; name the model to use".into()));
            }
        }
        if self.extract.engine == "llm" && l.base_url.is_empty() {
            return Err(bad(
                "extract.engine",
                "\"llm\" needs llm.base_url and llm.model".into(),
            ));
        }
        if parse_duration(&l.timeout).is_none_or(|d| d.is_zero()) {
            return Err(bad(
                "llm.timeout",
                format!("{:?} is not a duration such as \"60s\"", l.timeout),
            ));
        }
        if l.max_retries > 10 {
            return Err(bad(
                "llm.max_retries",
                format!("{} is out of range 0..=10", l.max_retries),
            ));
        }
        if !(1_000..=1_000_000).contains(&l.chunk_chars) {
            return Err(bad(
                "llm.chunk_chars",
                format!("{} is out of range 1000..=1000000", l.chunk_chars),
            ));
        }
        if crate::extract::llm::Mode::parse(&l.mode).is_none() {
            return Err(bad(
                "llm.mode",
                format!(
                    "{:?} is not a mode (allowed: \"auto\", \"whole\", \"two-stage\")",
                    l.mode
                ),
            ));
        }
        if !(4..=100).contains(&l.candidates) {
            return Err(bad(
                "llm.candidates",
                format!("{} is out of range 4..=100", l.candidates),
            ));
        }
        Ok(())
    }

    /// The secret named by environment variable `var`: an override if one is set, else the
    /// environment.
    pub fn secret(&self, var: &str) -> Option<Secret> {
        match self.secret_overrides.get(var) {
            Some(v) if !v.trim().is_empty() => Some(Secret(v.trim().to_string())),
            Some(_) => None,
            None => secret_from_env(var),
        }
    }

    /// A duration setting that `validate` has checked.
    pub fn duration(value: &str) -> Duration {
        parse_duration(value).unwrap_or(Duration::from_secs(60))
    }

    /// The search index's directory, resolved against the config's directory; `None` keeps the
    /// index in memory.
    pub fn index_dir(&self) -> Option<PathBuf> {
        let d = self.search.index_dir.trim();
        if d.is_empty() {
            None
        } else if Path::new(d).is_absolute() {
            Some(PathBuf::from(d))
        } else {
            Some(self.base_dir.join(d))
        }
    }

    /// The feeds to read, with relative file paths resolved against the config's directory.
    pub fn feed_sources(&self) -> Vec<String> {
        self.ingest
            .feeds
            .iter()
            .map(|f| resolve_feed(f, &self.base_dir))
            .collect()
    }
}

/// The folder relative paths are resolved from, absolute (symbolic links resolved when it
/// exists), so a config given as `bot.toml` or `/srv/podbrief/bot.toml` names the same files.
fn absolute_dir(dir: &Path) -> PathBuf {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::canonicalize(dir).unwrap_or_else(|_| {
        let cwd = std::env::current_dir().unwrap_or_default();
        normalized(&cwd.join(dir))
    })
}

/// A feed as podbrief identifies it: a URL as given, a file path made absolute against `base`
/// (the config's folder for configured feeds, the working directory for `podbrief feeds add`).
pub fn resolve_feed(feed: &str, base: &Path) -> String {
    let f = feed.trim();
    if f.contains("://") {
        f.to_string()
    } else {
        normalized(&base.join(f)).to_string_lossy().into_owned()
    }
}

/// `path` with `.` dropped and `..` applied to the part before it, without touching the disk.
fn normalized(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// A `sqlite:` URL whose relative path is resolved against `base` (in-memory databases and other
/// URLs unchanged).
fn sqlite_url_in(url: &str, base: &Path) -> String {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return url.to_string();
    };
    let (file, query) = match rest.split_once('?') {
        Some((f, q)) => (f, Some(q)),
        None => (rest, None),
    };
    if file.is_empty() || file.starts_with(':') || Path::new(file).is_absolute() {
        return url.to_string();
    }
    let path = normalized(&base.join(file));
    match query {
        Some(q) => format!("sqlite://{}?{q}", path.display()),
        None => format!("sqlite://{}", path.display()),
    }
}

/// Checks the server's limits; the error names the key.
fn check_http(h: &HttpConfig) -> Result<(), (&'static str, String)> {
    if parse_duration(&h.header_timeout).is_none_or(|d| d.is_zero()) {
        let m = format!("{:?} is not a duration (e.g. \"10s\")", h.header_timeout);
        return Err(("http.header_timeout", m));
    }
    if h.max_connections > 100_000 {
        let m = format!("{} is out of range 0..=100000", h.max_connections);
        return Err(("http.max_connections", m));
    }
    if !(1..=65_536).contains(&h.max_body_kb) {
        let m = format!("{} is out of range 1..=65536", h.max_body_kb);
        return Err(("http.max_body_kb", m));
    }
    Ok(())
}

/// Checks a `log.level` filter: each comma-separated directive is a level (`trace`, `debug`,
/// `info`, `warn`, `error`, `off`) or `TARGET=LEVEL`. A bare word that is not a level would be
/// read as a target shown at every level, silencing the rest.
fn check_log_level(filter: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let is_level = |s: &str| LEVELS.contains(&s.trim().to_ascii_lowercase().as_str());
    let directives: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    if directives.is_empty() {
        return Err("is empty: use a level such as \"info\"".into());
    }
    for d in directives {
        let level = d.rsplit_once('=').map_or(d, |(_, l)| l);
        if !is_level(level) {
            return Err(format!(
                "{d:?} is not a level: use trace, debug, info, warn, error or off, or TARGET=LEVEL (e.g. \"podbrief=debug\")"
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(|_| ())
        .map_err(|e| format!("{filter:?} is not a log filter: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_are_checked() {
        let e = load("[log]\nlevel = \"loud\"\n").unwrap_err().to_string();
        assert!(
            e.contains("log.level") && e.contains("\"loud\" is not a level"),
            "{e}"
        );
        for ok in ["info", "WARN", "podbrief=debug,sqlx=warn", "off"] {
            load(&format!("[log]\nlevel = {ok:?}\n")).unwrap();
        }
        assert!(load("[log]\nlevel = \"info,podbrief=noisy\"\n").is_err());
        let e = load("[http]\nheader_timeout = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("http.header_timeout"), "{e}");
    }

    #[test]
    fn relative_paths_resolve_against_the_config_folder_however_it_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[database]\nurl = \"sqlite://data/pb.db?mode=rwc\"\n[ingest]\nfeeds = [\"./feeds/a.xml\", \"https://x.example/f\"]\n";
        let abs = Config::from_toml(text, Path::new("bot.toml"), dir.path().to_path_buf()).unwrap();
        let canonical = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(
            abs.database.url,
            format!(
                "sqlite://{}?mode=rwc",
                canonical.join("data/pb.db").display()
            )
        );
        let sources = abs.feed_sources();
        assert_eq!(
            sources[0],
            canonical.join("feeds/a.xml").display().to_string()
        );
        assert_eq!(sources[1], "https://x.example/f");
        // The same folder named relative to the working directory, with a detour.
        let cwd = std::env::current_dir().unwrap();
        let rel = pathdiff(&canonical, &cwd);
        let other = Config::from_toml(text, Path::new("bot.toml"), rel.join("x/..")).unwrap();
        assert_eq!(other.database.url, abs.database.url);
        assert_eq!(other.feed_sources(), sources);
        for keep in ["sqlite::memory:", "sqlite://:memory:", "postgres://u@h/db"] {
            assert_eq!(sqlite_url_in(keep, &canonical), keep);
        }
    }

    /// `to` relative to `from` (both absolute).
    fn pathdiff(to: &Path, from: &Path) -> PathBuf {
        let from: Vec<_> = from.components().collect();
        let to: Vec<_> = to.components().collect();
        let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
        let mut out = PathBuf::new();
        for _ in common..from.len() {
            out.push("..");
        }
        for c in &to[common..] {
            out.push(c);
        }
        out
    }

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("bot.toml"), PathBuf::from("."))
    }

    #[test]
    fn defaults_are_valid() {
        let c = load("").unwrap();
        assert_eq!(c.brief.size, 5);
        let cwd = std::fs::canonicalize(".").unwrap();
        assert_eq!(
            c.database.url,
            format!("sqlite://{}", cwd.join("podbrief.db").display())
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = load("[brief]\nsize = 0\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "config file bot.toml: brief.size: 0 is out of range 1..=10"
        );
        let e = load("[brief]\ndefault_timezone = \"Europe/Berln\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("brief.default_timezone")
                && e.contains("\"Europe/Berln\" is not an IANA zone"),
            "{e}"
        );
        let e = load("[brief]\nsise = 3\n").unwrap_err().to_string();
        assert!(e.contains("sise"), "{e}");
        let e = load("[brief]\nlookback = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("brief.lookback"), "{e}");
    }

    #[test]
    fn discord_settings_are_checked() {
        let e = load("[discord]\nenabled = true\nmode = \"interactions\"\npublic_key = \"abc\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("discord.public_key") && e.contains("64 hex"),
            "{e}"
        );
        let key = "a".repeat(64);
        let e = load(&format!(
            "[discord]\nenabled = true\nmode = \"interactions\"\npublic_key = \"{key}\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("discord.mode") && e.contains("http.listen"),
            "{e}"
        );
        let e = load("[discord]\nguilds = [\"123\", \"my-server\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("discord.guilds[1]"), "{e}");
        let e = load("[discord]\nproxy = \"localhost:3000\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("discord.proxy"), "{e}");
        for wrong in ["4/4", "2-1/4", "0-1", "a/4", "0/0"] {
            let e = load(&format!("[discord]\nshards = \"{wrong}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("discord.shards"), "{wrong}: {e}");
        }
        let shards = |s: &str| {
            load(&format!("[discord]\nshards = \"{s}\"\n"))
                .unwrap()
                .discord
                .shard_range()
                .unwrap()
        };
        assert_eq!(
            shards("0-1/4"),
            Some(ShardRange {
                first: 0,
                last: 1,
                total: 4
            })
        );
        assert_eq!(
            shards("2/4"),
            Some(ShardRange {
                first: 2,
                last: 2,
                total: 4
            })
        );
        assert_eq!(shards(""), None);
        let ok = load(&format!(
            "[discord]\nenabled = true\nmode = \"interactions\"\npublic_key = \"{key}\"\nguilds = [\"123\"]\n[http]\nlisten = \"127.0.0.1:0\"\n"
        ));
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn stt_settings_are_checked() {
        let c = load("").unwrap();
        assert!(
            c.stt.base_url.is_empty(),
            "speech-to-text is off by default"
        );
        for (toml, key) in [
            ("[stt]\nbase_url = \"localhost:8080\"\n", "stt.base_url"),
            (
                "[stt]\nbase_url = \"http://127.0.0.1:8080\"\nmodel = \" \"\n",
                "stt.model",
            ),
            ("[stt]\nresponse_format = \"mp3\"\n", "stt.response_format"),
            ("[stt]\nmax_audio_mb = 0\n", "stt.max_audio_mb"),
            ("[stt]\ndaily_budget_mb = 99999999\n", "stt.daily_budget_mb"),
            ("[stt]\ntimeout = \"soon\"\n", "stt.timeout"),
            ("[stt]\napi_key_env = \"MY KEY\"\n", "stt.api_key_env"),
        ] {
            let e = load(toml).unwrap_err().to_string();
            assert!(e.contains(key), "{toml}: {e}");
        }
        let ok = load("[stt]\nbase_url = \"http://127.0.0.1:8080\"\nresponse_format = \"vtt\"\n");
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret("123:abc".into());
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("x"), None);
    }
}
