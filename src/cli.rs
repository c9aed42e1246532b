//! The command line: `run`, `ingest`, `brief`, `related`, `migrate`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
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
    /// Print insights related to some words, or on the same subject as insight ID
    /// (`podbrief related 12`, as `/more 12`).
    Related {
        /// An insight id (`12` or `#12`), or the words to look for.
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// How many at most (1-100; default search.results).
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=100))]
        limit: Option<u8>,
        /// One JSON array of cards, for scripts.
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
        /// Fail when a kind's hit@5 is below its floor: plain 0.9, misspelled 0.7, reworded
        /// 0.3, and no-match lookups finding nothing less often than 0.75.
        #[arg(long)]
        strict: bool,
    },
    /// Ask every insight of the seed episodes in FILE for its related list over the insights
    /// of every transcript in DIR: the share of items from episodes judged to discuss the same
    /// subjects, at the engine's floor and at others.
    Related {
        /// The folder of transcripts.
        dir: PathBuf,
        /// The judged subjects (TOML: `[episodes]` and `[related]`).
        #[arg(long, default_value = "tests/quality/subjects.toml")]
        judged: PathBuf,
        /// Print each seed's related list (+ on subject, - not).
        #[arg(long)]
        show: bool,
        /// Fail when fewer than 0.8 of the items are on subject, or fewer than a quarter of
        /// the seeds get any.
        #[arg(long)]
        strict: bool,
    },
    /// Import the Cranfield collection (cran.all.1400, cran.qry, cranqrel in DIR) as insights
    /// into a temporary database and report nDCG@10 and recall@100 of podbrief's lookup beside
    /// SQLite FTS5's bm25; fails if podbrief's nDCG@10 is below 1.05 times the better FTS5
    /// ranking's (Porter stemming or not).
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
    let Cli {
        config,
        verbose,
        command,
    } = Cli::parse();
    let config = config.as_deref();
    match command {
        CliCommand::CheckTranscripts { paths } => crate::ingest::check::check_transcripts(&paths),
        CliCommand::CheckFeeds { paths } => crate::ingest::check::check_feeds(&paths),
        CliCommand::CopyDb { from, to } => copy_db(&from, &to).await,
        CliCommand::Eval(e) => eval(e, config, verbose).await,
        CliCommand::Doctor => doctor(config, verbose).await,
        CliCommand::Migrate => {
            load_app(config, verbose).await?;
            println!("database is up to date");
            Ok(())
        }
        CliCommand::Import { file } => import(&load_app(config, verbose).await?, &file).await,
        CliCommand::Index(c) => index(&load_app(config, verbose).await?, c).await,
        CliCommand::Feeds { action } => {
            let app = load_app(config, verbose).await?;
            feeds(&app, action.unwrap_or(FeedsAction::List)).await
        }
        CliCommand::Subscriptions { json } => {
            let app = load_app(config, verbose).await?;
            let subs = app
                .store
                .subscriptions_overview()
                .await
                .context("reading subscriptions")?;
            crate::deliver::report::print_subscriptions(&subs, json)
        }
        CliCommand::Deliveries {
            failed,
            limit,
            json,
        } => {
            let app = load_app(config, verbose).await?;
            let rows = app
                .store
                .deliveries(failed, limit.clamp(1, 10_000))
                .await
                .context("reading deliveries")?;
            crate::deliver::report::print_deliveries(&rows, json)
        }
        CliCommand::Reextract => reextract(&load_app(config, verbose).await?).await,
        CliCommand::Ingest => ingest(&load_app(config, verbose).await?).await,
        CliCommand::Brief { json, size } => brief(load_config(config, verbose)?, size, json).await,
        CliCommand::Related { query, limit, json } => {
            related(&load_app(config, verbose).await?, &query, limit, json).await
        }
        CliCommand::Run => run(load_app(config, true).await?).await,
    }
}

/// The config loaded, with logging set up (at `log.level` when `verbose`, else warnings only).
fn load_config(path: Option<&Path>, verbose: bool) -> anyhow::Result<Config> {
    let (config, source) = Config::load(path)?;
    init_logging(&config.log, verbose);
    crate::web::server::raise_open_files_limit();
    if let ConfigSource::Example(p) = &source {
        info!(
            "bot.toml not found; using {} (copy it to bot.toml to make it yours)",
            p.display()
        );
    }
    Ok(config)
}

/// The app built on the loaded config.
async fn load_app(path: Option<&Path>, verbose: bool) -> anyhow::Result<App> {
    App::build(load_config(path, verbose)?, Arc::new(SystemClock)).await
}

/// Whether progress is drawn as bars (stderr is a terminal).
fn terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// `podbrief copy-db FROM TO`.
async fn copy_db(from: &str, to: &str) -> anyhow::Result<()> {
    let report = crate::store::copy::copy_db(from, to).await?;
    print!("{report}");
    println!(
        "copied {} to {}; row counts verified",
        crate::app::redact_url(from),
        crate::app::redact_url(to)
    );
    Ok(())
}

/// `podbrief eval insights|lookups|search`.
async fn eval(command: EvalCommand, config: Option<&Path>, verbose: bool) -> anyhow::Result<()> {
    match command {
        insights @ EvalCommand::Insights { .. } => eval_insights(insights, config, verbose).await,
        EvalCommand::Lookups {
            dir,
            judged,
            show,
            strict,
        } => {
            let r = crate::search::judged::run(&dir, &judged).await?;
            print!("{}", r.render(show));
            if strict {
                r.gate()
                    .map_err(|e| anyhow::anyhow!("lookup gate failed: {e}"))?;
                println!("lookup gate passed");
            }
            Ok(())
        }
        EvalCommand::Related {
            dir,
            judged,
            show,
            strict,
        } => eval_related(&dir, &judged, show, strict).await,
        EvalCommand::Search { dir, json } => eval_search(&dir, json).await,
    }
}

/// `podbrief doctor`: a config that does not load is one failed check, not an error.
async fn doctor(path: Option<&Path>, verbose: bool) -> anyhow::Result<()> {
    let report = match Config::load(path) {
        Ok((config, _)) => {
            init_logging(&config.log, verbose);
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
    Ok(())
}

/// `podbrief import FILE`: JSON lines of insights.
async fn import(app: &App, file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
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
    Ok(())
}

/// `podbrief index rebuild|status`.
async fn index(app: &App, command: IndexCommand) -> anyhow::Result<()> {
    match command {
        IndexCommand::Rebuild => {
            let n = crate::search::sync::rebuild(&*app.store, &app.index)
                .await
                .context("rebuilding the search index")?;
            println!("search index rebuilt: {n} insights");
        }
        IndexCommand::Status => {
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
    }
    Ok(())
}

/// `podbrief feeds [list|add|remove|enable|import|export]`.
async fn feeds(app: &App, action: FeedsAction) -> anyhow::Result<()> {
    use crate::ingest::manage;
    let store = app.store.as_ref();
    let now = chrono::Utc::now();
    // A file path typed here is relative to where the command runs.
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let feed = |url: String| crate::config::resolve_feed(&url, &cwd);
    match action {
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
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let (added, known) = manage::import(store, &bytes, now)
                .await
                .with_context(|| format!("importing {}", file.display()))?;
            println!("{added} feeds added, {known} already known");
        }
        FeedsAction::Export => print!("{}", manage::export(store).await?),
    }
    Ok(())
}

/// `podbrief reextract`.
async fn reextract(app: &App) -> anyhow::Result<()> {
    let r = app
        .ingestor
        .reextract_all(terminal())
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
    Ok(())
}

/// `podbrief ingest`.
async fn ingest(app: &App) -> anyhow::Result<()> {
    let r = app.ingest(terminal()).await;
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
    Ok(())
}

/// `podbrief brief [--size N]`.
async fn brief(mut config: Config, size: Option<u8>, json: bool) -> anyhow::Result<()> {
    if let Some(n) = size {
        if !(1..=crate::core::command::MAX_BRIEF_SIZE).contains(&n) {
            anyhow::bail!("--size: {n} is out of range 1..=10");
        }
        config.brief.size = n;
    }
    let app = App::build(config, Arc::new(SystemClock)).await?;
    print_reply(&answer(&app, Command::Top).await, json)
}

/// `podbrief run`: ingest, then the console chat, or the platforms until a stop signal.
async fn run(app: App) -> anyhow::Result<()> {
    let r = app.ingest(terminal()).await;
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
    Ok(())
}

/// `podbrief related <id|words> [--limit N] [--json]`: one number (`12`, `#12`) is an insight,
/// whose related list is printed ("more like this"); anything else is a lookup. `--json` prints
/// one array of cards (the message, when there are none, goes to stderr).
async fn related(app: &App, query: &[String], limit: Option<u8>, json: bool) -> anyhow::Result<()> {
    let limit = limit.map_or(app.config.search.results, usize::from);
    let text = query.join(" ");
    let id = match query {
        [one] => one.trim().trim_start_matches('#').parse::<i64>().ok(),
        _ => None,
    };
    let reply = match id {
        Some(id) => app.core.more(id, limit).await,
        None => app.core.related(&text, limit).await,
    }
    .context("looking up related insights")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&reply.cards)?);
        if reply.cards.is_empty() {
            eprintln!("{}", crate::core::sanitize::text(&reply.text));
        }
        return Ok(());
    }
    print_reply(&reply, false)
}

/// `podbrief eval related DIR --judged FILE [--show] [--strict]`.
async fn eval_related(
    dir: &std::path::Path,
    judged: &std::path::Path,
    show: bool,
    strict: bool,
) -> anyhow::Result<()> {
    let r = crate::search::judged::run_related(dir, judged).await?;
    print!("{}", r.render(show));
    if strict {
        r.gate()
            .map_err(|e| anyhow::anyhow!("related gate failed: {e}"))?;
        println!("related gate passed");
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
        for (name, [ours, fts5, porter]) in [("odd", r.halves[0]), ("even", r.halves[1])] {
            println!(
                "{name} queries: podbrief {:.4}, FTS5 {:.4}, FTS5 porter {:.4} (nDCG@10; {:.3}x the better)",
                ours.ndcg10,
                fts5.ndcg10,
                porter.ndcg10,
                ours.ndcg10 / fts5.ndcg10.max(porter.ndcg10).max(f64::MIN_POSITIVE)
            );
        }
    }
    let floor = crate::search::eval::MIN_RATIO * r.best_fts5().ndcg10;
    if r.podbrief.ndcg10 < floor {
        anyhow::bail!(
            "podbrief's nDCG@10 {:.4} is below {}x the best FTS5 ranking's {:.4} ({floor:.4})",
            r.podbrief.ndcg10,
            crate::search::eval::MIN_RATIO,
            r.best_fts5().ndcg10
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
async fn eval_insights(
    command: EvalCommand,
    config: Option<&Path>,
    verbose: bool,
) -> anyhow::Result<()> {
    let EvalCommand::Insights {
        dir,
        labels,
        only_labelled,
        strict,
        show,
        minutes_per_insight,
        engine,
    } = command
    else {
        anyhow::bail!("not eval insights");
    };
    let extractive = crate::extract::eval::extractive_engine(minutes_per_insight)?;
    let llm = if engine == "llm" {
        let (config, _) = Config::load(config)?;
        init_logging(&config.log, verbose);
        Some(eval_llm_engine(&config, extractive.clone())?)
    } else {
        None
    };
    let engine: &dyn crate::extract::Extractor = match &llm {
        Some((e, _)) => e,
        None => &extractive,
    };
    let result =
        crate::extract::eval::main(&dir, labels.as_deref(), only_labelled, strict, show, engine)
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
