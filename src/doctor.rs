//! `podbrief doctor`: checks the config, the database, each enabled platform's token and a
//! sample of feeds, and says for each what is wrong and how to fix it.
//!
//! Every check runs even when an earlier one failed, so one run shows everything to fix. Tokens
//! never appear in the report.

use std::fmt::Write as _;
use std::time::Duration;

use teloxide::prelude::Requester;

use crate::app::redact_url;
use crate::config::Config;
use crate::ingest::Location;
use crate::ingest::feed::parse_feed;
use crate::ingest::fetch::{Fetched, Validators, fetch};

/// Feeds fetched and parsed, at most.
pub const FEED_SAMPLE: usize = 5;
/// How long one network check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(15);
/// Discord's REST API.
pub const DISCORD_API: &str = "https://discord.com/api/v10";

/// One check's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What was checked, e.g. `database` or `telegram`.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// How to fix it, when it failed.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Every check's result, in the order run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    /// A report of a config that does not load (nothing else can be checked).
    pub fn config_failed(error: &dyn std::fmt::Display) -> Report {
        Report {
            checks: vec![Check::fail(
                "config",
                error.to_string(),
                "correct the setting named above (bot.example.toml lists every setting with a comment)",
            )],
        }
    }

    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// How many checks failed.
    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| !c.ok).count()
    }

    /// The check named `name`.
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The report as printed: one line per check, `ok` or `FAIL`, and the fix under a failure.
    pub fn render(&self) -> String {
        let width = self
            .checks
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for c in &self.checks {
            let status = if c.ok { "ok  " } else { "FAIL" };
            let pad = format!("\n      {:width$}  ", "");
            let detail = c.detail.trim_end().replace('\n', &pad);
            let _ = writeln!(out, "{status}  {:width$}  {detail}", c.name);
            if let Some(fix) = &c.fix {
                let _ = writeln!(out, "      {:width$}  fix: {fix}", "");
            }
        }
        let n = self.checks.len();
        match self.failed() {
            0 => {
                let _ = writeln!(out, "all {n} checks passed");
            }
            f => {
                let _ = writeln!(out, "{f} of {n} checks failed");
            }
        }
        out
    }
}

/// Runs every check for a loaded (and so validated) config.
pub async fn run(config: &Config) -> Report {
    let mut checks = vec![config_check(config)];
    checks.push(database(config).await);
    if config.telegram.enabled {
        checks.extend(telegram(config).await);
    }
    if config.discord.enabled {
        checks.push(discord(config).await);
    }
    if !config.llm.base_url.is_empty() {
        checks.extend(llm(config).await);
    }
    checks.extend(feeds(config).await);
    Report { checks }
}

fn config_check(config: &Config) -> Check {
    let mut notes = Vec::new();
    if config.http.listen.is_empty() && !config.http.public_url.is_empty() {
        notes.push("http.public_url is set but http.listen is empty, so no pages are served");
    }
    if !config.telegram.enabled && !config.discord.enabled {
        notes.push("no chat platform enabled: `podbrief run` opens the console chat");
    }
    let detail = if notes.is_empty() {
        "valid".to_string()
    } else {
        format!("valid; {}", notes.join("; "))
    };
    Check::ok("config", detail)
}

async fn database(config: &Config) -> Check {
    let url = redact_url(&config.database.url);
    let store = match tokio::time::timeout(
        CHECK_TIMEOUT,
        crate::store::connect(&config.database.url, 1),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return Check::fail(
                "database",
                format!("cannot open {url}: {e}"),
                "check database.url (sqlite://PATH: the folder exists and is writable; postgres://…: the server is reachable and the database exists)",
            );
        }
        Err(_) => {
            return Check::fail(
                "database",
                format!("{url} did not answer within {CHECK_TIMEOUT:?}"),
                "check that the database file is not on a hung network drive",
            );
        }
    };
    let check = match store.stats().await {
        Ok(s) => Check::ok(
            "database",
            format!(
                "{url}: {} podcasts, {} episodes, {} insights, {} subscriptions",
                s.podcasts, s.episodes, s.insights, s.subscriptions
            ),
        ),
        Err(e) if e.to_string().contains("no such table") => Check::fail(
            "database",
            format!("{url} has no podbrief tables yet"),
            "run `podbrief migrate` (`podbrief run` migrates too)",
        ),
        Err(e) => Check::fail(
            "database",
            format!("{url}: {e}"),
            "check database.url; if the file is damaged, restore a backup",
        ),
    };
    store.close().await;
    check
}

async fn telegram(config: &Config) -> Vec<Check> {
    let tg = &config.telegram;
    let mut checks = Vec::new();
    let Some(token) = config.secret(&tg.token_env) else {
        checks.push(Check::fail(
            "telegram",
            format!(
                "telegram.enabled is true but {} (telegram.token_env) is not set",
                tg.token_env
            ),
            format!(
                "export {}=<the token @BotFather gave you>, or set telegram.enabled = false",
                tg.token_env
            ),
        ));
        return checks;
    };
    let token = token.expose().to_string();
    let redact = |s: String| crate::adapters::telegram::send::redact(&s, &token);
    let api = match url::Url::parse(&tg.api_url) {
        Ok(u) => u,
        Err(e) => {
            checks.push(Check::fail(
                "telegram",
                format!("telegram.api_url {:?}: {e}", tg.api_url),
                "set telegram.api_url to https://api.telegram.org or your Bot API server",
            ));
            return checks;
        }
    };
    let bot = teloxide::Bot::new(token.clone()).set_api_url(api);
    checks.push(
        match tokio::time::timeout(CHECK_TIMEOUT, bot.get_me()).await {
            Ok(Ok(me)) => Check::ok("telegram", format!("token accepted: @{}", me.username())),
            Ok(Err(teloxide::RequestError::Api(teloxide::ApiError::InvalidToken))) => Check::fail(
                "telegram",
                "Telegram rejected the bot token (Unauthorized)",
                format!(
                    "copy the token again from @BotFather (/mybots → API Token) into {}",
                    tg.token_env
                ),
            ),
            Ok(Err(e)) => Check::fail(
                "telegram",
                format!("getMe failed: {}", redact(e.to_string())),
                format!("check network access to {} (telegram.api_url)", tg.api_url),
            ),
            Err(_) => Check::fail(
                "telegram",
                format!("{} did not answer within {CHECK_TIMEOUT:?}", tg.api_url),
                "check network access and telegram.api_url",
            ),
        },
    );
    if tg.mode == crate::config::TelegramMode::Webhook
        && config.secret(&tg.webhook_secret_env).is_none()
    {
        checks.push(Check::fail(
            "telegram webhook",
            format!(
                "{} (telegram.webhook_secret_env) is not set",
                tg.webhook_secret_env
            ),
            format!(
                "export {}=<1-256 of A-Z a-z 0-9 _ ->, or use mode = \"polling\"",
                tg.webhook_secret_env
            ),
        ));
    }
    checks
}

/// The LLM endpoint: reachable (`GET /models`), the model listed there, a one-line completion
/// answered.
async fn llm(config: &Config) -> Vec<Check> {
    use crate::extract::llm::{LlmEngine, LlmError, LlmSettings};
    let mut settings = LlmSettings::from_config(config);
    settings.timeout = settings.timeout.min(CHECK_TIMEOUT);
    settings.max_retries = 0;
    settings.daily_token_budget = 0;
    let base = settings.base_url.clone();
    let model = settings.model.clone();
    let clock = std::sync::Arc::new(crate::core::clock::SystemClock);
    let engine = match LlmEngine::new(settings, Default::default(), clock) {
        Ok(e) => e,
        Err(e) => {
            return vec![Check::fail(
                "llm endpoint",
                e.to_string(),
                "check llm.base_url",
            )];
        }
    };
    let mut checks = Vec::new();
    let models = engine.models().await;
    checks.push(match &models {
        Ok(list) => Check::ok(
            "llm endpoint",
            format!("{base} answers ({} models)", list.len()),
        ),
        Err(e @ (LlmError::Http(_) | LlmError::Timeout(_))) => Check::fail(
            "llm endpoint",
            format!("{base}: {e}"),
            "start the server (Ollama: `ollama serve`; llama.cpp: `llama-server`), or correct \
             llm.base_url (Ollama's is http://127.0.0.1:11434/v1)",
        ),
        Err(e) => Check::fail(
            "llm endpoint",
            format!("{base}/models: {e}"),
            "llm.base_url must be the OpenAI-compatible API's address, ending in /v1 \
             (Ollama: http://127.0.0.1:11434/v1); a key goes in llm.api_key_env's variable",
        ),
    });
    checks.push(match &models {
        Ok(list) if list.contains(&model) => Check::ok("llm model", format!("{model} is served")),
        Ok(list) => Check::fail(
            "llm model",
            format!(
                "{model} is not among the endpoint's models ({})",
                if list.is_empty() {
                    "none".into()
                } else {
                    list.join(", ")
                }
            ),
            format!("fetch it (Ollama: `ollama pull {model}`), or set llm.model to a listed one"),
        ),
        Err(_) => Check::fail(
            "llm model",
            "the endpoint's models could not be listed",
            "fix the llm endpoint check above first",
        ),
    });
    checks.push(match engine.say_ok().await {
        Ok(answer) => Check::ok(
            "llm completion",
            format!(
                "{model} answered {:?}",
                answer.trim().chars().take(40).collect::<String>()
            ),
        ),
        Err(e) => Check::fail(
            "llm completion",
            format!("a one-line completion failed: {e}"),
            "check that the model is a chat/instruct model the server can load (enough memory; \
             `ollama run MODEL` shows why not), and raise llm.timeout for a slow machine",
        ),
    });
    checks
}

async fn discord(config: &Config) -> Check {
    let d = &config.discord;
    let Some(token) = config.secret(&d.token_env) else {
        return Check::fail(
            "discord",
            format!(
                "discord.enabled is true but {} (discord.token_env) is not set",
                d.token_env
            ),
            format!(
                "export {}=<the bot token from the Developer Portal's Bot page>, or set discord.enabled = false",
                d.token_env
            ),
        );
    };
    let proxy = d.proxy.trim().trim_end_matches('/');
    let base = if proxy.is_empty() {
        DISCORD_API.to_string()
    } else {
        format!("{proxy}/api/v10")
    };
    let client = match reqwest::Client::builder().timeout(CHECK_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => return Check::fail("discord", format!("no HTTP client: {e}"), "report this"),
    };
    let resp = client
        .get(format!("{base}/users/@me"))
        .header("Authorization", format!("Bot {}", token.expose()))
        .header(
            "User-Agent",
            concat!("DiscordBot (podbrief, ", env!("CARGO_PKG_VERSION"), ")"),
        )
        .send()
        .await;
    match resp {
        Ok(r) if r.status().is_success() => {
            let name = r
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v["username"].as_str().map(str::to_string))
                .unwrap_or_else(|| "?".into());
            Check::ok("discord", format!("token accepted: {name}"))
        }
        Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED => Check::fail(
            "discord",
            "Discord rejected the bot token (401 Unauthorized)",
            format!(
                "reset the token on the Developer Portal's Bot page and put it in {}",
                d.token_env
            ),
        ),
        Ok(r) => Check::fail(
            "discord",
            format!("GET /users/@me answered HTTP {}", r.status()),
            "try again later; if it persists, check discord.proxy",
        ),
        Err(e) => Check::fail(
            "discord",
            format!("cannot reach {base}: {}", e.without_url()),
            "check network access (and discord.proxy, if set)",
        ),
    }
}

async fn feeds(config: &Config) -> Vec<Check> {
    let sources = config.feed_sources();
    if sources.is_empty() {
        return vec![Check::ok(
            "feeds",
            "none in ingest.feeds (feeds added with `podbrief feeds add` are not checked)",
        )];
    }
    let timeout = Config::duration(&config.ingest.timeout);
    let client = reqwest::Client::builder()
        .user_agent(concat!("podbrief/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();
    let max_body = config.ingest.max_body_mb * 1024 * 1024;
    let mut checks = Vec::new();
    for (i, src) in sources.iter().take(FEED_SAMPLE).enumerate() {
        let name = format!("feed {}", i + 1);
        let loc = Location::parse(src);
        let shown = loc.display();
        let fetched = fetch(&client, &loc, "feed", max_body, &Validators::default()).await;
        checks.push(match fetched {
            Ok(Fetched::Body { bytes, .. }) => match parse_feed(&bytes, &shown) {
                Ok(f) => Check::ok(
                    name,
                    format!(
                        "{shown}: \"{}\", {} episodes",
                        f.podcast.title,
                        f.episodes.len()
                    ),
                ),
                Err(e) => Check::fail(
                    name,
                    format!("{shown}: {e}"),
                    "check that the address is the feed itself (RSS or Atom), not the show's web page",
                ),
            },
            Ok(Fetched::NotModified) => Check::ok(name, format!("{shown}: not modified")),
            Err(e) => Check::fail(
                name,
                format!("{shown}: {e}"),
                "check the URL or path in ingest.feeds (relative paths are from the config's folder)",
            ),
        });
    }
    if sources.len() > FEED_SAMPLE {
        checks.push(Check::ok(
            "feeds",
            format!(
                "checked {FEED_SAMPLE} of {} (all are read by `podbrief ingest`)",
                sources.len()
            ),
        ));
    }
    checks
}
