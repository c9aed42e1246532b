//! The command line: `run`, `ingest`, `brief`, `related`, `migrate`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing::info;

use crate::adapters::console::render;
use crate::app::App;
use crate::config::{Config, ConfigSource};
use crate::core::UserContext;
use crate::core::clock::SystemClock;
use crate::core::command::Command;
use crate::core::model::{Card, Reply};

/// podbrief: daily podcast insights for Discord, Telegram and the console.
#[derive(Debug, Parser)]
#[command(name = "podbrief", version, about)]
pub struct Cli {
    /// Config file (default ./bot.toml, falling back to ./bot.example.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Log at `log.level` also for one-shot commands (they log warnings only, so their output
    /// is what a script reads); `RUST_LOG` overrides both.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: CliCommand,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run the bot: migrate, ingest the feeds, open the console chat and deliver briefs on time.
    Run,
    /// Fetch the feeds and extract insights now.
    Ingest,
    /// Read every processed episode again with the current insight engine (after an upgrade):
    /// insights of the same passage keep their ids, so nothing delivered is sent twice.
    Reextract,
    /// Print today's top insights.
    Brief {
        /// How many (1-10; default brief.size).
        #[arg(long)]
        size: Option<u8>,
        /// JSON output for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Print insights related to some words.
    Related {
        /// The words to look for.
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// JSON output for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Check the config, the database, each enabled platform's token and up to five feeds;
    /// print what is wrong and how to fix it. Exits with 1 if any check fails.
    Doctor,
    /// List feeds with their state, or change the list.
    Feeds {
        /// What to do (default: list).
        #[command(subcommand)]
        action: Option<FeedsAction>,
    },
    /// List subscriptions with their next run, last delivery and pause reason.
    Subscriptions {
        /// JSON output for scripts.
        #[arg(long)]
        json: bool,
    },
    /// List recent deliveries (newest first).
    Deliveries {
        /// Only the failed ones, with their errors.
        #[arg(long)]
        failed: bool,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// JSON output for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Read transcript files (or folders of them) and report what podbrief finds in each; fails
    /// if any file yields no text. Needs no config or database.
    CheckTranscripts {
        /// Files or folders.
        #[arg(required = true, num_args = 1..)]
        paths: Vec<PathBuf>,
    },
    /// Parse feed files (or folders of them) and report what podbrief reads; a feed with a
    /// podcastparser `NAME.json` beside it must match it. Needs no config or database.
    CheckFeeds {
        /// Files or folders.
        #[arg(required = true, num_args = 1..)]
        paths: Vec<PathBuf>,
    },
    /// Quality reports. Need no config or database.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Store and index insights produced elsewhere: one JSON object per line with text,
    /// podcast, episode and optionally quote, link, start ("MM:SS" or seconds), topics, date.
    /// Bad lines are reported by number and skipped; the command then fails.
    Import {
        /// The JSON-lines file.
        file: PathBuf,
    },
    /// The search index.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Copy everything from a SQLite database into an empty PostgreSQL database (to run several
    /// instances), keeping ids; verifies each table's row count. Needs no config.
    CopyDb {
        /// The SQLite database, e.g. sqlite://podbrief.db.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The empty PostgreSQL database, e.g. postgres://podbrief@localhost/podbrief.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// `podbrief index …`.
#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Empty the search index and index every stored insight again.
    Rebuild,
    /// What the search index holds.
    Status,
}

/// `podbrief eval …`.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Run the extractive engine over a folder of transcripts and report insight quality, with
    /// sponsor/intro/outro spans and reference takeaways from `NAME.labels.toml` files.
    Insights {
        /// A transcript file or a folder of them.
        dir: PathBuf,
        /// A folder of `NAME.labels.toml` files (NAME is the transcript's file stem).
        #[arg(long, value_name = "DIR")]
        labels: Option<PathBuf>,
        /// Only the transcripts that have a labels file.
        #[arg(long)]
        only_labelled: bool,
        /// Fail if an insight falls inside a labelled span, if any flaw's rate is over 1% (any
        /// flaw over 5%), or if recall is not 1.5 times both baselines.
        #[arg(long)]
        strict: bool,
        /// Print every insight found, with its time and any flaws.
        #[arg(long)]
        show: bool,
        /// Minutes of talk per insight (the engine's depth; default 3.5).
        #[arg(long, default_value_t = crate::extract::extractive::DEFAULT_MINUTES_PER_INSIGHT)]
        minutes_per_insight: f64,
        /// `extractive`, or `llm`: the `[llm]` endpoint of the config writes the insights
        /// (falling back to the extractive engine as it does when ingesting).
        #[arg(long, default_value = "extractive", value_parser = ["extractive", "llm"])]
        engine: String,
    },
    /// Run judged lookups (FILE: queries with the episodes that discuss them) over the insights
    /// of every transcript in DIR: episode-level P@5 and hit@5 per kind of query.
    Lookups {
        /// The folder of transcripts.
        dir: PathBuf,
        /// The judged queries (TOML).
        #[arg(long, default_value = "tests/quality/lookups.toml")]
        judged: PathBuf,
        /// Print each query's first five episodes (+ relevant, - not).
        #[arg(long)]
        show: bool,
        /// Fail when plain lookups find a relevant episode in their first five less often
        /// than 0.8, or misspelled ones less often than 0.75.
        #[arg(long)]
        strict: bool,
    },
    /// Import the Cranfield collection (cran.all.1400, cran.qry, cranqrel in DIR) as insights
    /// into a temporary database and report nDCG@10 and recall@100 of podbrief's lookup beside
    /// SQLite FTS5's bm25; fails if podbrief's nDCG@10 is below FTS5's.
    Search {
        /// The folder of the collection.
        dir: PathBuf,
        /// JSON output for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// `podbrief feeds …`.
#[derive(Debug, Subcommand)]
pub enum FeedsAction {
    /// Every feed, with its state (next poll, failures, why it is disabled).
    List,
    /// Add a feed (a URL or a file path); it is read at the next poll or `podbrief ingest`.
    Add {
        /// The feed.
        url: String,
    },
    /// Remove a feed with its episodes and insights.
    Remove {
        /// The feed.
        url: String,
    },
    /// Re-enable a feed disabled after repeated failures.
    Enable {
        /// The feed.
        url: String,
    },
    /// Add every feed of an OPML file (as podcast apps export them).
    Import {
        /// The OPML file.
        file: PathBuf,
    },
    /// Print every feed as OPML.
    Export,
}

/// Parses the command line and runs it.
pub async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let CliCommand::CheckTranscripts { paths } = &cli.command {
        return crate::ingest::check::check_transcripts(paths);
    }
    if let CliCommand::CopyDb { from, to } = &cli.command {
        let report = crate::store::copy::copy_db(from, to).await?;
        print!("{report}");
        println!(
            "copied {} to {}; row counts verified",
            crate::app::redact_url(from),
            crate::app::redact_url(to)
        );
        return Ok(());
    }
    if let CliCommand::CheckFeeds { paths } = &cli.command {
        return crate::ingest::check::check_feeds(paths);
    }
    if let CliCommand::Eval(EvalCommand::Insights { .. }) = &cli.command {
        return eval_insights(&cli).await;
    }
    if let CliCommand::Eval(EvalCommand::Lookups {
        dir,
        judged,
        show,
        strict,
    }) = &cli.command
    {
        let r = crate::search::judged::run(dir, judged).await?;
        print!("{}", r.render(*show));
        if *strict {
            r.gate()
                .map_err(|e| anyhow::anyhow!("lookup gate failed: {e}"))?;
            println!("lookup gate passed");
        }
        return Ok(());
    }
    if let CliCommand::Eval(EvalCommand::Search { dir, json }) = &cli.command {
        return eval_search(dir, *json).await;
    }
    if let CliCommand::Doctor = &cli.command {
        let report = match Config::load(cli.config.as_deref()) {
            Ok((config, _)) => {
                init_logging(&config.log, cli.verbose);
                crate::doctor::run(&config).await
            }
            Err(e) => crate::doctor::Report::config_failed(&e),
        };
        print!("{}", report.render());
        if !report.ok() {
            anyhow::bail!(
                "{} of {} checks failed",
                report.failed(),
                report.checks.len()
            );
        }
        return Ok(());
    }
    let (mut config, source) = Config::load(cli.config.as_deref())?;
    init_logging(
        &config.log,
        cli.verbose || matches!(cli.command, CliCommand::Run),
    );
    crate::web::server::raise_open_files_limit();
    if let ConfigSource::Example(p) = &source {
        info!(
            "bot.toml not found; using {} (copy it to bot.toml to make it yours)",
            p.display()
        );
    }
    if let CliCommand::Brief { size: Some(n), .. } = &cli.command {
        if !(1..=crate::core::command::MAX_BRIEF_SIZE).contains(n) {
            anyhow::bail!("--size: {n} is out of range 1..=10");
        }
        config.brief.size = *n;
    }
    let app = App::build(config, Arc::new(SystemClock)).await?;
    let terminal = std::io::stderr().is_terminal();
    match cli.command {
        CliCommand::CheckTranscripts { .. }
        | CliCommand::CheckFeeds { .. }
        | CliCommand::Eval(_)
        | CliCommand::Doctor
        | CliCommand::CopyDb { .. } => {
            unreachable!("handled before loading the config")
        }
        CliCommand::Migrate => {
            println!("database is up to date");
        }
        CliCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let r = crate::search::import::import_jsonl(
                &*app.store,
                &app.index,
                &text,
                crate::core::clock::Clock::now(&*app.clock),
            )
            .await?;
            for e in &r.errors {
                eprintln!("{}: {e}", file.display());
            }
            println!(
                "{} lines read: {} insights imported, {} already stored, {} bad lines",
                r.lines,
                r.imported,
                r.duplicates,
                r.errors.len()
            );
            if !r.errors.is_empty() {
                anyhow::bail!(
                    "{} of {} lines could not be imported",
                    r.errors.len(),
                    r.lines
                );
            }
        }
        CliCommand::Index(IndexCommand::Rebuild) => {
            let n = crate::search::sync::rebuild(&*app.store, &app.index)
                .await
                .context("rebuilding the search index")?;
            println!("search index rebuilt: {n} insights");
        }
        CliCommand::Index(IndexCommand::Status) => {
            let s = app.index.status();
            let place = s
                .dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| "memory".into());
            println!(
                "search index in {place}: {} insights (last id {}), {} found at start, {} added since",
                s.docs, s.last_id, s.docs_at_open, s.added_since_open
            );
        }
        CliCommand::Feeds { action } => {
            use crate::ingest::manage;
            let store = app.store.as_ref();
            let now = chrono::Utc::now();
            // A file path typed here is relative to where the command runs.
            let cwd = std::env::current_dir().context("reading the working directory")?;
            let feed = |url: String| crate::config::resolve_feed(&url, &cwd);
            match action.unwrap_or(FeedsAction::List) {
                FeedsAction::List => println!("{}", manage::describe(&store.feeds().await?)),
                FeedsAction::Add { url } => {
                    let url = feed(url);
                    let added = manage::add(store, &url, false, true, now).await?;
                    println!(
                        "{}",
                        if added {
                            format!("added {url}")
                        } else {
                            format!("{url} was already a feed")
                        }
                    );
                }
                FeedsAction::Remove { url } => {
                    let url = feed(url);
                    manage::remove(store, &url).await?;
                    if app.config.feed_sources().contains(&url) {
                        eprintln!(
                            "note: {url} is listed in the config file; remove it there too or it comes back"
                        );
                    }
                    println!("removed {url} with its episodes and insights");
                }
                FeedsAction::Enable { url } => {
                    let url = feed(url);
                    manage::enable(store, &url).await?;
                    println!("enabled {url}; it is read at the next poll");
                }
                FeedsAction::Import { file } => {
                    let bytes = std::fs::read(&file)
                        .with_context(|| format!("reading {}", file.display()))?;
                    let (added, known) = manage::import(store, &bytes, now)
                        .await
                        .with_context(|| format!("importing {}", file.display()))?;
                    println!("{added} feeds added, {known} already known");
                }
                FeedsAction::Export => print!("{}", manage::export(store).await?),
            }
        }
        CliCommand::Subscriptions { json } => {
            let subs = app
                .store
                .subscriptions_overview()
                .await
                .context("reading subscriptions")?;
            crate::deliver::report::print_subscriptions(&subs, json)?;
        }
        CliCommand::Deliveries {
            failed,
            limit,
            json,
        } => {
            let rows = app
                .store
                .deliveries(failed, limit.clamp(1, 10_000))
                .await
                .context("reading deliveries")?;
            crate::deliver::report::print_deliveries(&rows, json)?;
        }
        CliCommand::Reextract => {
            let r = app
                .ingestor
                .reextract_all(terminal)
                .await
                .context("re-extracting")?;
            println!(
                "{} episodes re-extracted: {} insights updated in place, {} added, {} removed",
                r.episodes, r.updated, r.added, r.removed
            );
            for (ep, e) in &r.errors {
                eprintln!("episode {ep:?}: {e}");
            }
            if !r.errors.is_empty() {
                anyhow::bail!("{} episode(s) could not be re-extracted", r.errors.len());
            }
        }
        CliCommand::Ingest => {
            let r = app.ingest(terminal).await;
            println!(
                "{} feeds read, {} failed; {} new episodes; {} insights",
                r.feeds_ok,
                r.feed_errors.len(),
                r.new_episodes,
                r.new_insights
            );
            for (feed, e) in &r.feed_errors {
                eprintln!("feed {feed}: {e}");
            }
            for (ep, e) in &r.episode_errors {
                eprintln!("episode {ep:?}: {e}");
            }
            if !r.feed_errors.is_empty() || !r.episode_errors.is_empty() {
                anyhow::bail!(
                    "{} feeds and {} episodes failed (episodes that failed for a passing reason are tried again)",
                    r.feed_errors.len(),
                    r.episode_errors.len()
                );
            }
        }
        CliCommand::Brief { json, .. } => {
            let reply = answer(&app, Command::Top).await;
            print_reply(&reply, json)?;
        }
        CliCommand::Related { query, json } => {
            let reply = answer(&app, Command::Related(query.join(" "))).await;
            print_reply(&reply, json)?;
        }
        CliCommand::Run => {
            let r = app.ingest(terminal).await;
            for (feed, e) in &r.feed_errors {
                eprintln!("feed {feed}: {e}");
            }
            let stats = app.store.stats().await.context("reading stats")?;
            info!(
                podcasts = stats.podcasts,
                episodes = stats.episodes,
                insights = stats.insights,
                "ready"
            );
            if app.console_enabled() {
                let stdin = tokio::io::BufReader::new(tokio::io::stdin());
                tokio::select! {
                    r = app.run_console(stdin, tokio::io::stdout()) => r?,
                    r = stop_signal() => {
                        r?;
                        info!("interrupted; shutting down");
                    }
                }
            } else {
                let running = app.start(None).await?;
                stop_signal().await?;
                info!("stopping: finishing briefs being sent");
                running.shutdown().await;
            }
        }
    }
    Ok(())
}

async fn eval_search(dir: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let r = crate::search::eval::cranfield(dir).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "Cranfield: {} documents, {} judged queries\n{:<26} {:>8} {:>10}",
            r.docs, r.queries, "ranking", "nDCG@10", "recall@100"
        );
        for (name, s) in [
            ("podbrief lookup", r.podbrief),
            ("FTS5 bm25 (unicode61)", r.fts5),
            ("FTS5 bm25 (porter)", r.fts5_porter),
        ] {
            println!("{name:<26} {:>8.4} {:>10.4}", s.ndcg10, s.recall100);
        }
    }
    if r.podbrief.ndcg10 < r.fts5.ndcg10 {
        anyhow::bail!(
            "podbrief's nDCG@10 {:.4} is below FTS5's {:.4}",
            r.podbrief.ndcg10,
            r.fts5.ndcg10
        );
    }
    Ok(())
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM (as systemd and container runtimes stop services).
async fn stop_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("listening for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}

async fn answer(app: &App, cmd: Command) -> Reply {
    let ctx = UserContext {
        chat: crate::adapters::console::console_chat(),
        user_id: None,
        can_manage: false,
        scope_id: None,
    };
    app.core.handle(&ctx, cmd).await
}

/// `podbrief eval insights`: the quality report of the extractive engine, or of the configured
/// LLM endpoint with `--engine llm`.
async fn eval_insights(cli: &Cli) -> anyhow::Result<()> {
    let CliCommand::Eval(EvalCommand::Insights {
        dir,
        labels,
        only_labelled,
        strict,
        show,
        minutes_per_insight,
        engine,
    }) = &cli.command
    else {
        anyhow::bail!("not eval insights");
    };
    let extractive = crate::extract::eval::extractive_engine(*minutes_per_insight)?;
    let llm = if engine == "llm" {
        let (config, _) = Config::load(cli.config.as_deref())?;
        init_logging(&config.log, cli.verbose);
        Some(eval_llm_engine(&config, extractive.clone())?)
    } else {
        None
    };
    let engine: &dyn crate::extract::Extractor = match &llm {
        Some((e, _)) => e,
        None => &extractive,
    };
    let result = crate::extract::eval::main(
        dir,
        labels.as_deref(),
        *only_labelled,
        *strict,
        *show,
        engine,
    )
    .await;
    if let Some(llm) = &llm {
        eprintln!("{}", llm_summary(llm));
    }
    result
}

/// The configured LLM engine for `eval insights --engine llm`, counting its fallbacks.
fn eval_llm_engine(
    config: &Config,
    extractive: crate::extract::ExtractiveEngine,
) -> anyhow::Result<(
    crate::extract::LlmEngine,
    std::sync::Arc<crate::metrics::Metrics>,
)> {
    if config.llm.base_url.is_empty() {
        anyhow::bail!(
            "--engine llm needs llm.base_url and llm.model in the config (see \"Better insights \
             with a local model\" in README.md); `podbrief doctor` checks them"
        );
    }
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
    let settings = crate::extract::llm::LlmSettings::from_config(config);
    let clock = std::sync::Arc::new(crate::core::clock::SystemClock);
    let engine = crate::extract::LlmEngine::new(settings, extractive, clock)
        .context("building the LLM engine")?
        .with_metrics(metrics.clone());
    Ok((engine, metrics))
}

/// What the LLM engine did over an evaluation: tokens used and episodes that fell back.
fn llm_summary(
    (engine, metrics): &(
        crate::extract::LlmEngine,
        std::sync::Arc<crate::metrics::Metrics>,
    ),
) -> String {
    let fell: Vec<String> = crate::metrics::LlmFallback::ALL
        .into_iter()
        .map(|w| format!("{} {}", metrics.llm_fallbacks(w), w.as_str()))
        .collect();
    format!(
        "llm engine: {} tokens used; episodes given to the extractive engine: {}",
        engine.tokens_used_today(),
        fell.join(", ")
    )
}

fn print_reply(reply: &Reply, json: bool) -> anyhow::Result<()> {
    if json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            message: &'a str,
            insights: &'a [Card],
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&Out {
                message: &reply.text,
                insights: &reply.cards
            })?
        );
    } else {
        // Terminal-safe whatever the store holds: no escape sequences reach the operator.
        print!("{}", crate::core::sanitize::text(&render(reply)));
    }
    Ok(())
}

/// Logs to stderr: at `log.level` when `full` (else warnings only), `RUST_LOG` overriding;
/// colours only on a terminal and without `NO_COLOR`.
fn init_logging(log: &crate::config::LogConfig, full: bool) {
    let level = if full { log.level.as_str() } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ))
        .with_writer(std::io::stderr);
    let _ = match log.format {
        crate::config::LogFormat::Text => fmt.try_init(),
        // One JSON object per line: timestamp, level, target, fields, and the spans around it.
        crate::config::LogFormat::Json => fmt.json().with_current_span(false).try_init(),
    };
}

/// Whether logs are coloured: on a terminal, unless `NO_COLOR` is set to anything non-empty
/// (no-color.org).
fn colours(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_coloured_only_on_a_terminal_without_no_color() {
        assert!(colours(true, None));
        assert!(colours(true, Some("".into())));
        assert!(!colours(true, Some("1".into())));
        assert!(!colours(false, None));
    }
}
